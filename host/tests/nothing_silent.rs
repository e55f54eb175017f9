//! Nothing silent: every count, size and rate from the command line has an upper bound
//! (exit 2 naming the flag, the value and the maximum) instead of an aborting allocation;
//! inputs read whole are bounded (`/dev/zero` as a model is refused, not read until memory
//! runs out); outputs are checked writable before the work; a closed stdout ends the
//! command quietly; `vina listen` fails when no frame decodes; `vina export` leaves no file
//! behind when its calibration data is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn vina(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vina"))
        .args(args)
        .output()
        .expect("run vina")
}

fn repo(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel)
        .to_str()
        .unwrap()
        .to_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `args` is refused with exit code 2 and a message holding every one of `words`.
#[track_caller]
fn refused(args: &[&str], words: &[&str]) -> String {
    let out = vina(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    for w in words {
        assert!(err.contains(w), "{args:?}: `{w}` not in: {err}");
    }
    err
}

const SCENARIO: &str = "scenarios/gi-pekeris.toml";
const TRUTH: &str = "water_depth_m=218.2,water_sound_speed_mps=1561.3";
const MODEL: &str = "models/gi-pekeris-cinn.vina";

fn observation(dir: &Path) -> PathBuf {
    let obs = dir.join("obs.json");
    let out = vina(&[
        "observe",
        "--scenario",
        &repo(SCENARIO),
        "--truth",
        TRUTH,
        "--out",
        obs.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    obs
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn draw_counts_have_an_upper_bound() {
    let dir = tempfile::tempdir().unwrap();
    let obs = observation(dir.path());
    let (model, obs) = (repo(MODEL), s(&obs).to_owned());
    let huge = "1000000000";
    refused(
        &[
            "invert",
            "--model",
            &model,
            "--observation",
            &obs,
            "--draws",
            huge,
        ],
        &["--draws", huge, "10000000"],
    );
    refused(
        &[
            "invert",
            "--model",
            &model,
            "--observation",
            &obs,
            "--refine",
            "--refine-particles",
            huge,
        ],
        &["--refine-particles", huge, "10000000"],
    );
    let out = dir.path().join("ref.json");
    refused(
        &[
            "reference",
            "--scenario",
            &repo(SCENARIO),
            "--observation",
            &obs,
            "--draws",
            huge,
            "--out",
            s(&out),
        ],
        &["--draws", huge, "10000000"],
    );
    assert!(!out.exists());
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    refused(
        &[
            "eval",
            "--model",
            &model,
            "--data",
            s(&data),
            "--draws",
            huge,
            "--out",
            s(&dir.path().join("eval")),
        ],
        &["--draws", huge, "10000000"],
    );
}

#[test]
fn eval_bounds_observations_times_draws_and_simulate_its_set_and_shards() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let scn = repo(SCENARIO);
    for (n, words) in [
        (
            "10000000000000",
            &["--simulations", "10000000000000", "1000000000000"][..],
        ),
        (
            "100000000",
            &["--simulations", "100000000", "10000000", "--shard"][..],
        ),
    ] {
        refused(
            &[
                "simulate",
                "--scenario",
                &scn,
                "--simulations",
                n,
                "--out",
                s(&data),
            ],
            words,
        );
    }
    // 10^7 per shard is allowed by count, not by bytes (2 GiB per shard)
    refused(
        &[
            "simulate",
            "--scenario",
            &scn,
            "--simulations",
            "1000000000",
            "--shard",
            "0/100",
            "--out",
            s(&data),
        ],
        &["--simulations", "2147483648", "--shard"],
    );
    let out = vina(&[
        "simulate",
        "--scenario",
        &scn,
        "--simulations",
        "20",
        "--seed",
        "5",
        "--out",
        s(&data),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let eval = dir.path().join("eval");
    refused(
        &[
            "eval",
            "--model",
            &repo(MODEL),
            "--data",
            s(&data),
            "--observations",
            "20",
            "--draws",
            "5000000",
            "--out",
            s(&eval),
        ],
        &["--observations", "--draws", "5000000", "50000000"],
    );
    assert!(!eval.exists(), "nothing written");
}

#[test]
fn synth_refuses_every_setting_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rec.vrec");
    let scn = repo(SCENARIO);
    let synth = |extra: &[&str], words: &[&str]| {
        let mut args = vec![
            "synth",
            "--scenario",
            &scn,
            "--truth",
            TRUTH,
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        refused(&args, words);
        assert!(!out.exists(), "{extra:?}: a file was written");
    };
    synth(
        &["--seconds", "1e9"],
        &["--seconds", "1000000000", "268435456"],
    );
    synth(
        &["--sample-rate", "1e12"],
        &["--sample-rate", "1000000000000", "1000000"],
    );
    synth(&["--sample-rate", "NaN"], &["--sample-rate", "NaN"]);
    synth(&["--sample-rate=-1"], &["--sample-rate", "-1"]);
    synth(&["--frame-len", "0"], &["--frame-len", "found 0"]);
    synth(&["--snr", "NaN"], &["--snr", "NaN"]);
    synth(&["--snr", "inf"], &["--snr", "inf"]);
    synth(&["--seconds", "1e-6"], &["--seconds", "no sample"]);
    synth(&["--seconds", "inf"], &["--seconds", "inf"]);
    // a short recording still works
    let ok = vina(&[
        "synth",
        "--scenario",
        &scn,
        "--truth",
        TRUTH,
        "--seconds",
        "0.5",
        "--out",
        s(&out),
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(std::fs::metadata(&out).unwrap().len() > 1000);
}

#[test]
fn inputs_read_whole_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    // /dev/zero grows without end: refused after the maximum, not read until memory runs out
    refused(&["inspect", "/dev/zero"], &["/dev/zero", "64 MiB"]);
    let obs = observation(dir.path());
    refused(
        &["invert", "--model", "/dev/zero", "--observation", s(&obs)],
        &["model file", "/dev/zero", "64 MiB"],
    );
    refused(
        &[
            "invert",
            "--model",
            &repo(MODEL),
            "--observation",
            "/dev/zero",
        ],
        &["observation", "/dev/zero", "256 MiB"],
    );
    refused(
        &[
            "observe",
            "--scenario",
            "/dev/zero",
            "--truth",
            TRUTH,
            "--out",
            s(&obs),
        ],
        &["scenario", "/dev/zero", "256 MiB"],
    );
    // KRAKEN files too (a link named .env/.flp to a device that never ends)
    let env = dir.path().join("zero.env");
    std::os::unix::fs::symlink("/dev/zero", &env).unwrap();
    refused(&["forward", s(&env)], &["zero.env", "256 MiB"]);
    let flp = dir.path().join("zero.flp");
    std::os::unix::fs::symlink("/dev/zero", &flp).unwrap();
    refused(
        &[
            "forward",
            &repo("bench/cases/gi_lossy_49Hz.env"),
            "--flp",
            s(&flp),
        ],
        &["zero.flp", "256 MiB"],
    );
    // a regular file over the maximum is refused by its length, before reading it
    let big = dir.path().join("big.vina");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(65 << 20)
        .unwrap();
    refused(&["inspect", s(&big)], &["big.vina", "64 MiB"]);
    let out = dir.path().join("out.vina");
    refused(
        &["export", "--model", s(&big), "--out", s(&out)],
        &["big.vina", "64 MiB"],
    );
}

/// `--latent` fixes the network's draws; `--refine` draws its own widened proposal from
/// `--seed`: the two together would silently ignore the latents, so they are refused.
#[test]
fn explicit_latents_and_refinement_are_refused_together() {
    let dir = tempfile::tempdir().unwrap();
    let obs = observation(dir.path());
    let z = dir.path().join("z.json");
    std::fs::write(&z, "[[0.0, 0.0]]").unwrap();
    let out = vina(&[
        "invert",
        "--model",
        &repo(MODEL),
        "--observation",
        s(&obs),
        "--latent",
        s(&z),
        "--refine",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--latent") && err.contains("--refine"),
        "{err}"
    );
}

#[test]
fn outputs_are_checked_writable_before_the_work() {
    let dir = tempfile::tempdir().unwrap();
    let obs = observation(dir.path());
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let under_file = file.join("out.json");
    let t = std::time::Instant::now();
    refused(
        &[
            "reference",
            "--scenario",
            &repo(SCENARIO),
            "--observation",
            s(&obs),
            "--out",
            s(&under_file),
        ],
        &["--out", "a-file", "not a directory"],
    );
    assert!(t.elapsed().as_secs() < 20, "refused before computing");
    refused(
        &[
            "synth",
            "--scenario",
            &repo(SCENARIO),
            "--truth",
            TRUTH,
            "--out",
            s(&under_file),
        ],
        &["--out", "a-file"],
    );
    refused(
        &[
            "simulate",
            "--scenario",
            &repo(SCENARIO),
            "--simulations",
            "10",
            "--out",
            s(&file),
        ],
        &["--out", "a-file", "not a directory"],
    );
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    refused(
        &[
            "eval",
            "--model",
            &repo(MODEL),
            "--data",
            s(&data),
            "--out",
            s(&file),
        ],
        &["--out", "a-file", "not a directory"],
    );
    // a directory where a file is expected
    refused(
        &[
            "synth",
            "--scenario",
            &repo(SCENARIO),
            "--truth",
            TRUTH,
            "--out",
            s(dir.path()),
        ],
        &["--out", "a directory"],
    );
}

/// Run `args` with stdout a pipe whose reader has already gone.
fn closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_vina"))
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .expect("run vina")
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let obs = observation(dir.path());
    let forward = repo("bench/cases/gi_pekeris_fixed.toml");
    let model = repo(MODEL);
    for args in [
        &["forward", &forward][..],
        &["forward", &forward, "--json"][..],
        &["inspect", &model][..],
        &["inspect", "--json", &model][..],
        &[
            "invert",
            "--model",
            &model,
            "--observation",
            s(&obs),
            "--json",
        ][..],
        &["invert", "--model", &model, "--observation", s(&obs)][..],
    ] {
        let out = closed_stdout(args);
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("error"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

fn frame(seq: u32) -> Vec<u8> {
    use vina_core::report::{Report, Status};
    let mut s = vina_core::summary::Summary::new();
    for i in 0..100 {
        s.push(1560.0 + 0.01 * i as f32);
    }
    let mut parameters = heapless::Vec::new();
    parameters.push(s.values()).unwrap();
    let r = Report {
        sequence: seq,
        scenario_hash: 0xfeed,
        samples: 100,
        seed: 42,
        clipped_samples: 0,
        non_finite_values: 0,
        dropped_frames: 0,
        blanked_samples: 0,
        status: Status::Posterior,
        parameters,
        refined: None,
    };
    let mut buf = [0u8; vina_core::report::MAX_FRAME];
    let n = r.encode(&mut buf).unwrap();
    buf[..n].to_vec()
}

#[test]
fn listen_fails_when_no_frame_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("frames.bin");
    let mut bad = Vec::new();
    for seq in 0..3 {
        let mut f = frame(seq);
        f[3] ^= 0x40;
        bad.extend(f);
    }
    std::fs::write(&capture, &bad).unwrap();
    refused(
        &["listen", "--file", s(&capture)],
        &["frames.bin", "no valid frame in 3"],
    );
    // one good frame among corrupt ones: exit 0, the corrupt ones counted
    let mut mixed = bad.clone();
    mixed.extend(frame(7));
    std::fs::write(&capture, &mixed).unwrap();
    let out = vina(&["listen", "--file", s(&capture)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("3 corrupted"), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    // an empty capture is no failure
    std::fs::write(&capture, b"").unwrap();
    assert!(vina(&["listen", "--file", s(&capture)]).status.success());
}

#[test]
fn export_with_refused_calibration_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = dir.path().join("sub").join("m.vina");
    let onnx = dir.path().join("m.onnx");
    let o = vina(&[
        "export",
        "--model",
        &repo(MODEL),
        "--out",
        s(&out),
        "--onnx",
        s(&onnx),
        "--calibration",
        s(&empty),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!out.exists(), "{} left behind", out.display());
    assert!(!onnx.exists(), "{} left behind", onnx.display());
}

/// `vina reference --walkers/--steps`: the MCMC runs with what was asked (recorded in the
/// file), and an ensemble too small for the unknowns is refused by name before any work.
#[test]
fn reference_takes_walkers_and_steps_and_refuses_too_few_walkers() {
    let dir = tempfile::tempdir().unwrap();
    let obs = observation(dir.path());
    let out = dir.path().join("ref.json");
    let base = [
        "reference",
        "--scenario",
        &repo(SCENARIO),
        "--observation",
        s(&obs),
        "--out",
        s(&out),
        "--start",
        TRUTH,
        "--draws",
        "200",
    ];
    refused(
        &[&base[..], &["--walkers", "3"]].concat(),
        &["--walkers 3", "2 × 2 unknowns = 4"],
    );
    refused(&[&base[..], &["--steps", "0"]].concat(), &["--steps 0"]);
    let run = vina(&[&base[..], &["--walkers", "6", "--steps", "40"]].concat());
    assert!(run.status.success(), "{}", stderr(&run));
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(file["mcmc"]["walkers"], 6, "{file}");
    assert_eq!(file["mcmc"]["steps"], 40, "{file}");
}

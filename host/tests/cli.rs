//! The `vina` command line as a whole: help in workflow order with an example per
//! subcommand, one exit-code rule (2: refused input, missing files included; 1: internal
//! failure), and the count flags with their old spelling kept as a hidden alias.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vina(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vina"))
        .args(args)
        .output()
        .expect("run vina")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn repo(rel: &str) -> String {
    root().join(rel).to_str().unwrap().to_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The subcommands in workflow order.
const WORKFLOW: [&str; 14] = [
    "forward",
    "simulate",
    "train",
    "eval",
    "reference",
    "loss-study",
    "support-mismatch",
    "export",
    "inspect",
    "observe",
    "synth",
    "invert",
    "replay",
    "listen",
];

#[test]
fn help_lists_subcommands_in_workflow_order_with_the_exit_code_rule() {
    let out = vina(&["--help"]);
    assert!(out.status.success());
    let help = stdout(&out);
    assert!(
        !help.starts_with("vina workstation side"),
        "the about is not the Cargo description:\n{help}"
    );
    let commands = help
        .split("Commands:")
        .nth(1)
        .and_then(|s| s.split("Options:").next())
        .expect("a Commands section");
    let listed: Vec<&str> = commands
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| *w != "help")
        .collect();
    assert_eq!(listed, WORKFLOW, "{help}");
    assert!(help.contains("Exit codes:"), "{help}");
    assert!(help.contains("2 the input was refused"), "{help}");
    assert!(help.contains("1 an internal failure"), "{help}");
}

#[test]
fn every_subcommand_has_an_example() {
    for sub in WORKFLOW {
        let out = vina(&[sub, "--help"]);
        assert!(out.status.success(), "{sub}: {}", stderr(&out));
        let help = stdout(&out);
        let example = help
            .split("Example")
            .nth(1)
            .unwrap_or_else(|| panic!("{sub} --help has no example:\n{help}"));
        assert!(
            example.contains(&format!("vina {sub} ")),
            "{sub}: the example does not run `vina {sub}`:\n{help}"
        );
    }
}

#[test]
fn missing_model_exits_2_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-model.vina");
    let m = missing.to_str().unwrap();
    let obs = repo("models/eval/references/gi-pekeris/case-0.json");
    for args in [
        vec!["invert", "--model", m, "--observation", &obs],
        vec!["inspect", m],
    ] {
        let out = vina(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("cannot read model file") && err.contains(m),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn missing_or_wrong_kind_of_input_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let missing = dir.path().join("missing.json");
    let m = missing.to_str().unwrap();
    let model = repo("models/gi-pekeris-cinn.vina");
    let scenario = repo("scenarios/gi-pekeris.toml");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["invert", "--model", &model, "--observation", m],
            "cannot read observation",
        ),
        // A directory where a file is expected.
        (
            vec!["invert", "--model", &model, "--observation", d],
            "a directory, not a file",
        ),
        (
            vec![
                "observe",
                "--scenario",
                m,
                "--truth",
                "water_depth_m=210",
                "--out",
                m,
            ],
            "cannot read scenario",
        ),
        (
            vec![
                "reference",
                "--scenario",
                &scenario,
                "--observation",
                m,
                "--out",
                m,
            ],
            "cannot read observation",
        ),
        (
            vec!["eval", "--model", &model, "--data", m, "--out", d],
            "cannot read data set",
        ),
        (
            vec!["train", "--data", d, "--config", m, "--out", d],
            "cannot read training config",
        ),
        (vec!["listen", "--file", m], "cannot read capture file"),
    ];
    for (args, what) in cases {
        let out = vina(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(what), "{args:?}: {err}");
        assert!(err.contains(m) || err.contains(d), "{args:?}: {err}");
    }
}

#[test]
fn count_flags_say_what_they_count_and_keep_samples_as_a_hidden_alias() {
    let sim = stdout(&vina(&["simulate", "--help"]));
    assert!(sim.contains("--simulations <N>"), "{sim}");
    for sub in ["invert", "eval", "reference"] {
        let help = stdout(&vina(&[sub, "--help"]));
        assert!(help.contains("--draws <"), "{sub}: {help}");
        assert!(
            !help.contains("--samples"),
            "{sub}: alias not hidden:\n{help}"
        );
    }
    assert!(!sim.contains("--samples"), "{sim}");

    // The old spelling still parses (clap would refuse an unknown flag with a usage
    // error); the missing scenario is refused after parsing.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let out_dir = dir.path().join("data");
    for flag in ["--simulations", "--samples"] {
        let out = vina(&[
            "simulate",
            "--scenario",
            missing.to_str().unwrap(),
            flag,
            "10",
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{flag}: {err}");
        assert!(err.contains("cannot read scenario"), "{flag}: {err}");
    }

    // `vina invert --samples N` and `--draws N` give the same N draws.
    let obs = dir.path().join("obs.json");
    let out = vina(&[
        "observe",
        "--scenario",
        &repo("scenarios/gi-pekeris.toml"),
        "--truth",
        "water_depth_m=218.2,water_sound_speed_mps=1561.3",
        "--seed",
        "3",
        "--out",
        obs.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let model = repo("models/gi-pekeris-cinn.vina");
    let run = |flag: &str| {
        let out = vina(&[
            "invert",
            "--model",
            &model,
            "--observation",
            obs.to_str().unwrap(),
            flag,
            "7",
            "--seed",
            "1",
            "--json",
        ]);
        assert!(out.status.success(), "{flag}: {}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["samples"].clone()
    };
    let draws = run("--draws");
    assert_eq!(draws.as_array().unwrap().len(), 7);
    assert_eq!(draws, run("--samples"));
}

/// `vina eval --refine`: each reference case's observation refined with the exact
/// likelihood (the `invert --refine` path) and compared with the reference (grid +
/// ensemble MCMC, an independent sampler): the refined draws must be as close as the
/// issue's bar (C2ST ≤ 0.60) and closer than the network's; a particle count the
/// reference cannot match is refused naming the file.
#[test]
fn eval_refine_compares_the_refined_posterior_with_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let out = vina(&[
        "simulate",
        "--scenario",
        &repo("scenarios/gi-pekeris.toml"),
        "--simulations",
        "20",
        "--seed",
        "9",
        "--out",
        &p("data"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::create_dir(p("refs")).unwrap();
    std::fs::copy(
        repo("models/eval/references/gi-pekeris/case-0.json"),
        p("refs/case-0.json"),
    )
    .unwrap();
    let eval = |particles: &str| {
        vina(&[
            "eval",
            "--model",
            &repo("models/gi-pekeris-cinn.vina"),
            "--data",
            &p("data"),
            "--out",
            &p("eval"),
            "--draws",
            "100",
            "--observations",
            "20",
            "--reference",
            &p("refs"),
            "--refine",
            "--scenario",
            &repo("scenarios/gi-pekeris.toml"),
            "--refine-particles",
            particles,
        ])
    };
    let out = eval("500");
    assert!(out.status.success(), "{}", stderr(&out));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("eval/metrics.json")).unwrap()).unwrap();
    let case = &m["reference"][0];
    let refined = &case["refined"];
    println!("network C2ST {}, refined {refined}", case["c2st"]);
    assert_eq!(refined["path"], "network");
    assert_eq!(refined["particles"], 500);
    assert!(refined["evaluations"].as_u64().unwrap() >= 500);
    let c2st = refined["c2st"].as_f64().unwrap();
    assert!(c2st <= 0.60, "refined C2ST {c2st}");
    assert!(
        c2st < case["c2st"].as_f64().unwrap(),
        "not closer than the network"
    );
    for k in 0..2 {
        let err = refined["mean_error_in_sd"][k].as_f64().unwrap();
        let ratio = refined["sd_ratio"][k].as_f64().unwrap();
        assert!(err.abs() < 0.25, "mean error {err} sd");
        assert!((0.8..1.25).contains(&ratio), "sd ratio {ratio}");
    }
    let report = std::fs::read_to_string(p("eval/report.md")).unwrap();
    assert!(report.contains("Refined (exact likelihood)"), "{report}");
    assert!(dir.path().join("eval/corner_refined.png").exists());

    let out = eval("5000");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--refine-particles 5000") && err.contains("case-0.json"),
        "{err}"
    );
}

/// `vina reference`: each sampler's own size flag; the other's is refused by name before
/// any work, as are too few chains.
#[test]
fn reference_refuses_the_other_samplers_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ref.json");
    let obs = dir.path().join("obs.json");
    let o = vina(&[
        "observe",
        "--scenario",
        &repo("scenarios/gi-pekeris.toml"),
        "--truth",
        "water_depth_m=218.2,water_sound_speed_mps=1561.3",
        "--out",
        obs.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let base = [
        "reference",
        "--scenario",
        &repo("scenarios/gi-pekeris.toml"),
        "--observation",
        obs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    for (extra, words) in [
        (
            &["--sampler", "metropolis", "--walkers", "16"][..],
            "--walkers is the ensemble sampler's",
        ),
        (
            &["--chains", "8"][..],
            "--chains is the Metropolis sampler's",
        ),
        (
            &["--sampler", "metropolis", "--chains", "3"][..],
            "--chains 3: expected 4",
        ),
    ] {
        let args: Vec<&str> = base.iter().copied().chain(extra.iter().copied()).collect();
        let o = vina(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(words), "{extra:?}: {err}");
        assert!(!out.exists());
    }
}

//! `vina invert` and `vina observe` through the binary: the core and tract engines agree,
//! the core engine reproduces `vina-core`'s seeded draws, and bad input is refused with
//! exit code 2 and a message naming the file and the field.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use vina_core::model::Model;
use vina_core::spec::{Precision, RandomArch};
use vina_host::export::{fold, onnx};
use vina_host::scenario::Scenario;

fn vina(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vina"))
        .args(args)
        .output()
        .expect("run vina")
}

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/gi-pekeris.toml")
}

/// A random default-shaped cINN tagged with gi-pekeris's hash, its ONNX graph, and an
/// observation of gi-pekeris.
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let scn = Scenario::load(&scenario()).expect("scenario");
    let mut spec = RandomArch::default_cinn().build(21);
    spec.header.scenario_hash = scn.hash();
    spec.header.x_mean = vec![218.5, 1562.0];
    spec.header.x_std = vec![10.4, 17.3];
    spec.header.param_names = vec!["water_depth_m".into(), "water_sound_speed_mps".into()];
    fold::fold(&mut spec);
    let model = dir.join("m.vina");
    std::fs::write(&model, spec.encode(Precision::F32).expect("encode")).expect("write");
    std::fs::write(dir.join("m.onnx"), onnx::encode(&spec)).expect("write onnx");
    let obs = dir.join("obs.json");
    let out = vina(&[
        "observe",
        "--scenario",
        scenario().to_str().unwrap(),
        "--truth",
        "water_depth_m=215.3,water_sound_speed_mps=1550.2",
        "--seed",
        "4",
        "--out",
        obs.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (model, obs)
}

fn invert_json(args: &[&str]) -> Value {
    let out = vina(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// Samples as f32: JSON holds each f32's shortest decimal, which parses back exactly.
fn samples(v: &Value) -> Vec<Vec<f32>> {
    serde_json::from_value(v["samples"].clone()).expect("samples")
}

#[test]
fn core_engine_reproduces_seeded_draws_and_tract_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let (model, obs) = setup(dir.path());
    let (m, o) = (model.to_str().unwrap(), obs.to_str().unwrap());
    let core = invert_json(&[
        "invert",
        "--engine",
        "core",
        "--model",
        m,
        "--observation",
        o,
        "--samples",
        "300",
        "--seed",
        "9",
        "--json",
    ]);
    assert_eq!(
        core["parameters"],
        serde_json::json!(["water_depth_m", "water_sound_speed_mps"])
    );
    let xs = samples(&core);
    assert_eq!(xs.len(), 300);

    // Independent path: the library's draw loop on the same features and seed.
    let bytes = std::fs::read(&model).unwrap();
    let model_ = Model::from_bytes(&bytes).unwrap();
    let y: Vec<f32> = serde_json::from_value(core["y"].clone()).unwrap();
    let mut scratch = vina_core::layers::Scratch::new();
    let mut ctx = vec![0.0; model_.context_len()];
    model_.prepare(&y, &mut ctx, &mut scratch).unwrap();
    let mut direct = Vec::new();
    vina_core::sampling::draw(&model_, &ctx, &mut scratch, 9, 300, |x| {
        direct.push(x.to_vec())
    })
    .unwrap();
    let same = xs.iter().zip(&direct).filter(|(a, b)| a == b).count();
    assert_eq!(
        same, 300,
        "core engine = vina_core::sampling::draw, bit for bit"
    );

    // The summary is vina-core's streaming summary of those samples.
    let mean: f64 = xs.iter().map(|r| f64::from(r[0])).sum::<f64>() / 300.0;
    let reported = core["summary"]["water_depth_m"]["mean"].as_f64().unwrap();
    assert!(
        (mean - reported).abs() < 1e-3 * mean.abs(),
        "{mean} vs {reported}"
    );

    // tract on the same latents.
    let latents: Vec<Vec<f32>> = {
        let mut rng = vina_core::rng::Rng::new(9);
        (0..300)
            .map(|_| {
                let mut z = vec![0.0f32; 2];
                rng.fill_normal(&mut z);
                z
            })
            .collect()
    };
    let zfile = dir.path().join("z.json");
    std::fs::write(&zfile, serde_json::to_string(&latents).unwrap()).unwrap();
    let tract = invert_json(&[
        "invert",
        "--model",
        m,
        "--observation",
        o,
        "--engine",
        "tract",
        "--latent",
        zfile.to_str().unwrap(),
        "--json",
    ]);
    let xt = samples(&tract);
    assert_eq!(xt.len(), 300);
    for (a, b) in xt.iter().zip(&xs) {
        for (u, v) in a.iter().zip(b) {
            assert!(
                (u - v).abs() <= 1e-5 * u.abs().max(1.0),
                "tract {u} vs core {v}"
            );
        }
    }
}

/// Exit code 2 and a message containing every `needle`.
fn refused(args: &[&str], needles: &[&str]) {
    let out = vina(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err:?} lacks {n:?}");
    }
}

#[test]
fn bad_observations_and_models_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (model, obs) = setup(dir.path());
    let m = model.to_str().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let short = write("short.json", "{\"y\": [0.1, 0.2, 0.3]}");
    refused(
        &["invert", "--model", m, "--observation", &short],
        &["short.json", "3 values", "63"],
    );
    let nan = write("nan.json", "{\"y\": [NaN]}");
    refused(
        &["invert", "--model", m, "--observation", &nan],
        &["nan.json"],
    );
    let huge = write("huge.json", "{\"y\": [1e999]}");
    refused(
        &["invert", "--model", m, "--observation", &huge],
        &["huge.json"],
    );
    let tones = write("tones.json", "{\"pressure\": [[[1.0, 0.0]]]}");
    refused(
        &["invert", "--model", m, "--observation", &tones],
        &["tones.json", "1 tones", "7"],
    );
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&obs).unwrap()).unwrap();
    v["scenario_hash"] = Value::from("0x0123456789abcdef");
    let other = write("other.json", &v.to_string());
    refused(
        &["invert", "--model", m, "--observation", &other],
        &["other.json", "scenario_hash", "another scenario"],
    );

    // One flipped payload byte: the checksum refuses the file.
    let mut bytes = std::fs::read(&model).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    let bad = dir.path().join("bad.vina");
    std::fs::write(&bad, bytes).unwrap();
    refused(
        &[
            "invert",
            "--model",
            bad.to_str().unwrap(),
            "--observation",
            obs.to_str().unwrap(),
        ],
        &["bad.vina", "CRC"],
    );
    // Latents of the wrong width.
    let z = write("z.json", "[[0.1, 0.2, 0.3]]");
    refused(
        &[
            "invert",
            "--model",
            m,
            "--observation",
            obs.to_str().unwrap(),
            "--latent",
            &z,
        ],
        &["z.json", "3 values", "2"],
    );
}

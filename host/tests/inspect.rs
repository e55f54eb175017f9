//! `vina inspect` on good, corrupted and missing files; the format version and the
//! environment template.

use std::path::Path;
use std::process::Command;

use vina_core::model_file::{FORMAT_VERSION, MIN_FORMAT_VERSION};
use vina_core::spec::{Precision, RandomArch};

fn vina(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vina"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn prints_header_and_layers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.vina");
    let spec = RandomArch::default_cinn().build(3);
    std::fs::write(&path, spec.encode(Precision::Int8).unwrap()).unwrap();
    let out = vina(&["inspect", path.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("kind            Cinn"), "{text}");
    assert!(
        text.contains("RelativeTransferFunction: 7 tones × 5 receivers = 63 values"),
        "{text}"
    );
    assert!(text.contains("Coupling Glow, clamp 2"), "{text}");
    assert!(text.contains("subnet 2 dense 33→48 Relu int8"), "{text}");

    let out = vina(&["inspect", "--json", path.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["latent_dim"], 2);
    assert_eq!(v["macs_per_sample"], 4 * 2 * (48 + 48 * 48 + 48 * 2));
    assert_eq!(v["flow"].as_array().unwrap().len(), 12);
}

#[test]
fn corrupted_file_exits_2_naming_file_and_fault() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.vina");
    let mut bytes = RandomArch::default_cinn()
        .build(3)
        .encode(Precision::F32)
        .unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let out = vina(&["inspect", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.vina") && err.contains("checksum mismatch"),
        "{err}"
    );

    std::fs::write(&path, &bytes[..100]).unwrap();
    let out = vina(&["inspect", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("truncated"));

    // A missing file is refused like a corrupt one (exit code 2), naming the path.
    let missing = dir.path().join("missing.vina");
    let out = vina(&["inspect", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("cannot read model file") && err.contains(missing.to_str().unwrap()),
        "{err}"
    );
}

#[test]
fn shows_format_version_and_environment_template() {
    // The committed default model carries its scenario's template (vina export --scenario).
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/gi-pekeris-cinn.vina");
    let out = vina(&["inspect", model.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("format version  "), "{text}");
    for field in [
        "environment template",
        "waveguide         Pekeris",
        "unknowns          water_depth_m ~ Uniform",
        "water_sound_speed_mps ~ Uniform",
        "fixed             ",
        "source_range_m = ",
        "tones_hz          49",
        "receiver_depths_m ",
        "snr_db            20",
        "features          RelativeTransferFunction",
    ] {
        assert!(text.contains(field), "missing {field:?} in\n{text}");
    }

    let out = vina(&["inspect", "--json", model.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let version = v["format_version"].as_u64().unwrap();
    assert!(
        (u64::from(MIN_FORMAT_VERSION)..=u64::from(FORMAT_VERSION)).contains(&version),
        "{version}"
    );
    let t = &v["environment_template"];
    assert_eq!(t["waveguide"], "Pekeris");
    assert_eq!(t["unknowns"][0]["name"], "water_depth_m");
    assert_eq!(t["unknowns"][1]["name"], "water_sound_speed_mps");
    assert_eq!(t["tones_hz"].as_array().unwrap().len(), 7);
    assert_eq!(t["receiver_depths_m"].as_array().unwrap().len(), 5);

    // A file without a template says so; a file this build writes has its version.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.vina");
    let spec = RandomArch::default_cinn().build(3);
    std::fs::write(&path, spec.encode(Precision::F32).unwrap()).unwrap();
    let out = vina(&["inspect", path.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with(&format!("format version  {FORMAT_VERSION} ")),
        "{text}"
    );
    assert!(text.contains("environment template none"), "{text}");
    let out = vina(&["inspect", "--json", path.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format_version"], u64::from(FORMAT_VERSION));
    assert!(v["environment_template"].is_null());
}

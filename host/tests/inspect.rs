//! `vina inspect` on good, corrupted and missing files.

use std::process::Command;

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

    let out = vina(&["inspect", dir.path().join("missing.vina").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("cannot read model file")
    );
}

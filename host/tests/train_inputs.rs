//! What `vina train` refuses before training: a data set with a missing first, middle or
//! last shard (or stray files), and every training-config value out of range, each named
//! with its file, field and allowed range (exit 2).

use std::path::Path;
use std::process::Command;

use vina_host::dataset::{Dataset, Metadata};
use vina_host::error::is_refusal;
use vina_host::train::TrainConfig;

/// Shard `k` of `n` of a toy set of `total` samples, as `vina simulate --shard` writes it.
fn shard(k: u64, n: u64, total: u64) -> Dataset {
    let (a, b) = (k * total / n, (k + 1) * total / n);
    let len = (b - a) as usize;
    Dataset {
        meta: Metadata {
            scenario: "toy".into(),
            scenario_hash: "0x7".into(),
            seed: 1,
            first_index: a,
            total_samples: total,
            snr_db: 20.0,
            features: "relative_transfer_function".into(),
            parameters: vec!["a".into(), "b".into()],
            tones_hz: vec![100.0],
            receiver_depths_m: vec![10.0, 20.0],
        },
        len,
        x: (0..2 * len).map(|i| i as f64).collect(),
        y: (0..3 * len).map(|i| i as f32).collect(),
        y_clean: vec![0.0; 3 * len],
        pressure: vec![0.0; 4 * len],
        noise: Vec::new(),
    }
}

fn write_shards(dir: &Path, n: u64, total: u64) {
    for k in 0..n {
        shard(k, n, total)
            .write(&dir.join(Dataset::shard_name(k, n)))
            .unwrap();
    }
}

fn refused(dir: &Path, phrases: &[&str]) {
    let e = Dataset::read_dir(dir).expect_err("must be refused");
    let msg = format!("{e:#}");
    assert!(is_refusal(&e), "not a refusal: {msg}");
    for p in phrases {
        assert!(msg.contains(p), "`{p}` not in: {msg}");
    }
}

#[test]
fn a_missing_or_stray_shard_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    write_shards(&dir, 4, 100);
    assert_eq!(Dataset::read_dir(&dir).unwrap().len, 100);

    for k in [0, 1, 3] {
        let name = Dataset::shard_name(k, 4);
        let kept = std::fs::read(dir.join(&name)).unwrap();
        std::fs::remove_file(dir.join(&name)).unwrap();
        refused(&dir, &["do not fit", &name, "missing"]);
        std::fs::write(dir.join(&name), kept).unwrap();
    }
    assert_eq!(Dataset::read_dir(&dir).unwrap().len, 100);

    // An extra shard of another count, an index past the count, a stray file.
    for stray in [
        Dataset::shard_name(0, 5),
        "shard-00004-of-00004.safetensors".to_owned(),
        "extra.safetensors".to_owned(),
    ] {
        std::fs::copy(dir.join(Dataset::shard_name(0, 4)), dir.join(&stray)).unwrap();
        refused(&dir, &[&stray]);
        std::fs::remove_file(dir.join(&stray)).unwrap();
    }

    // Shards whose names fit but whose samples do not cover the set (the last one
    // rewritten one sample short) are refused by content.
    let mut short = shard(3, 4, 100);
    short.len -= 1;
    short.x.truncate(2 * short.len);
    short.y.truncate(3 * short.len);
    short.y_clean.truncate(3 * short.len);
    short.pressure.truncate(4 * short.len);
    short.write(&dir.join(Dataset::shard_name(3, 4))).unwrap();
    refused(&dir, &["do not fit", "0..99", "100"]);

    // Through `vina train`: exit 2, naming the missing shard.
    write_shards(&dir, 4, 100);
    std::fs::remove_file(dir.join(Dataset::shard_name(3, 4))).unwrap();
    let config = tmp.path().join("c.toml");
    std::fs::write(&config, "epochs = 1\nprogress = false\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_vina"))
        .args(["train", "--data"])
        .arg(&dir)
        .arg("--config")
        .arg(&config)
        .arg("--out")
        .arg(tmp.path().join("run"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("shard-00003-of-00004.safetensors"), "{err}");
    assert!(!tmp.path().join("run").exists(), "nothing written");
}

#[test]
fn each_bad_config_value_is_refused_naming_file_field_and_range() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("epochs = 0", "epochs", "[1, "),
        ("epochs = 100000000", "epochs", "[1, "),
        ("batch_size = 0", "batch_size", "[2, "),
        ("val_fraction = 1.0", "val_fraction", "[0, 1)"),
        ("val_fraction = nan", "val_fraction", "[0, 1)"),
        ("[model]\nblocks = 0", "model.blocks", "[1, "),
        ("[model]\nhidden = [0]", "model.hidden", "[1, 256]"),
        ("[model]\nhidden = []", "model.hidden", "at least 1"),
        ("[model]\nhidden = [300]", "model.hidden", "[1, 256]"),
        (
            "[model]\ncond_hidden = [0]",
            "model.cond_hidden",
            "[1, 256]",
        ),
        ("[model]\ncond_dim = 0", "model.cond_dim", "[1, 256]"),
        ("[model]\nclamp = -1.0", "model.clamp", "> 0"),
        ("[model]\npad_noise = -0.1", "model.pad_noise", ">= 0"),
        ("[model]\nflow_dim = 1000", "model.flow_dim", "128"),
        ("[loss]\nml = -1.0", "loss.ml", ">= 0"),
        ("[loss]\nml = 0.0", "loss weights", "at least one positive"),
        ("[loss]\ny_weight = inf", "loss.y_weight", ">= 0"),
        (
            "[loss]\ncritic_betas = [0.5, 1.0]",
            "loss.critic_betas",
            "[0, 1)",
        ),
        ("[loss]\ncritic_lr = 0.0", "loss.critic_lr", "> 0"),
        ("[loss]\ncritic_steps = 0", "loss.critic_steps", "[1, "),
        ("[loss]\ncritic_hidden = [0]", "loss.critic_hidden", "[1, "),
        ("[loss]\nmmd_widths = [-1.0]", "loss.mmd_widths", "> 0"),
        ("[loss]\nsinkhorn_eps = 0.0", "loss.sinkhorn_eps", "> 0"),
        ("[loss]\nsinkhorn_iters = 0", "loss.sinkhorn_iters", "[1, "),
        (
            "[loss]\nsinkhorn_scaling = 1.0",
            "loss.sinkhorn_scaling",
            "(0, 1)",
        ),
        ("[optim]\nlr = 0.0", "optim.lr", "> 0"),
        ("[optim]\nlr = nan", "optim.lr", "> 0"),
        ("[optim]\nbetas = [1.5, 0.9]", "optim.betas", "[0, 1)"),
        ("[optim]\nbetas = [0.9, -0.1]", "optim.betas", "[0, 1)"),
        ("[optim]\neps = 0.0", "optim.eps", "> 0"),
        (
            "[optim]\nweight_decay = -1e-5",
            "optim.weight_decay",
            ">= 0",
        ),
        ("[optim]\nlr_decay = 0.0", "optim.lr_decay", "(0, 1]"),
        ("[optim]\nlr_decay = 1.5", "optim.lr_decay", "(0, 1]"),
        (
            "[optim]\ngrad_clip = -1.0",
            "optim.grad_clip",
            "0 for no clipping",
        ),
        (
            "[optim]\ngrad_clip = inf",
            "optim.grad_clip",
            "0 for no clipping",
        ),
    ];
    for (i, (text, field, range)) in cases.iter().enumerate() {
        let path = tmp.path().join(format!("bad-{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let e = TrainConfig::read(&path).expect_err(text);
        let msg = format!("{e:#}");
        assert!(is_refusal(&e), "{text}: not a refusal: {msg}");
        for want in [&path.display().to_string(), *field, *range] {
            assert!(msg.contains(want), "{text}: `{want}` not in: {msg}");
        }
    }
    // The defaults pass, and grad_clip = 0 (no clipping) stays allowed.
    TrainConfig::default().validate().unwrap();
    let ok = tmp.path().join("ok.toml");
    std::fs::write(&ok, "[optim]\ngrad_clip = 0.0\n").unwrap();
    TrainConfig::read(&ok).expect("grad_clip = 0: no clipping");
}

/// `vina train --data A --data B` trains on two sets of one scenario together; a set of
/// another scenario is refused, naming it (exit 2).
#[test]
fn several_data_sets_of_one_scenario_train_together() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, other) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("other"),
    );
    for (dir, seed, hash) in [(&a, 1, "0x7"), (&b, 2, "0x7"), (&other, 3, "0x8")] {
        std::fs::create_dir_all(dir).unwrap();
        let mut s = shard(0, 1, 300);
        s.meta.seed = seed;
        s.meta.scenario_hash = hash.into();
        s.write(&dir.join(Dataset::shard_name(0, 1))).unwrap();
    }
    let config = tmp.path().join("c.toml");
    std::fs::write(&config, "epochs = 1\nprogress = false\n").unwrap();
    let train = |second: &Path, out: &str| {
        Command::new(env!("CARGO_BIN_EXE_vina"))
            .args(["train", "--data"])
            .arg(&a)
            .arg("--data")
            .arg(second)
            .arg("--config")
            .arg(&config)
            .arg("--out")
            .arg(tmp.path().join(out))
            .output()
            .unwrap()
    };
    let o = train(&b, "run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = train(&other, "run2");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("not the same scenario") && err.contains("other"),
        "{err}"
    );
}

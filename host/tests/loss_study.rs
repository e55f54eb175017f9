//! `vina loss-study` in small (CI's version of the study): every loss of both model kinds
//! trains on a small simulated set and evaluates to finite numbers, and the table and CSV
//! say so. The full study's numbers are in docs/loss-study.md.

use std::path::{Path, PathBuf};

use vina_host::loss_study::{StudyOptions, run, variants};
use vina_host::scenario::Scenario;
use vina_host::simulate::simulate;
use vina_host::train::TrainConfig;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn study(scenario: &str, config: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let scn = Scenario::load(&root().join("scenarios").join(scenario)).expect("scenario");
    let data = dir.path().join("data");
    let held_out = dir.path().join("held-out");
    for (path, seed, n) in [(&data, 1, 600), (&held_out, 2, 40)] {
        std::fs::create_dir_all(path).expect("dir");
        simulate(&scn, seed, scn.snr_db, 0..n, n, false)
            .expect("simulate")
            .write(&path.join("shard-00000-of-00001.safetensors"))
            .expect("write");
    }
    let config = root().join("configs").join(config);
    let out = dir.path().join("study");
    let o = StudyOptions {
        config: config.clone(),
        data,
        held_out,
        reference: None,
        seeds: 1,
        epochs: Some(1),
        max_samples: None,
        observations: 40,
        draws: 50,
        only: Vec::new(),
        out: out.clone(),
    };
    let results = run(&o).expect("the study runs");
    let base = TrainConfig::read(&config).expect("config");
    let names: Vec<&str> = variants(base.model.kind, &base.loss)
        .iter()
        .map(|v| v.name)
        .collect();
    assert_eq!(results.len(), names.len());
    for r in &results {
        let m = r
            .metrics
            .as_ref()
            .unwrap_or_else(|e| panic!("{scenario} {}: {e}", r.variant));
        for p in &m.parameters {
            assert!(
                p.rmse.is_finite() && p.mean_sd > 0.0 && p.coverage.iter().all(|c| c.is_finite()),
                "{} {}: {p:?}",
                r.variant,
                p.name
            );
        }
    }
    let md = std::fs::read_to_string(out.join("loss-study.md")).expect("table");
    for name in names {
        assert!(md.contains(&format!("| {name} |")), "{name} missing:\n{md}");
    }
    let csv = std::fs::read_to_string(out.join("results.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 1 + 2 * results.len());
}

#[test]
fn every_cinn_loss_trains_and_evaluates() {
    study("gi-pekeris.toml", "gi-pekeris-cinn.toml");
}

#[test]
fn every_paper_inn_loss_trains_and_evaluates() {
    study("gi-pekeris-raw.toml", "paper-inn.toml");
}

#[test]
fn unknown_losses_are_refused_by_name() {
    let o = StudyOptions {
        config: root().join("configs/gi-pekeris-cinn.toml"),
        data: PathBuf::from("/nonexistent"),
        held_out: PathBuf::from("/nonexistent"),
        reference: None,
        seeds: 1,
        epochs: None,
        max_samples: None,
        observations: 1,
        draws: 2,
        only: vec!["nll-mix".into()],
        out: PathBuf::from("/nonexistent"),
    };
    let e = run(&o).expect_err("a cINN has no nll-mix").to_string();
    assert!(
        e.contains("unknown loss `nll-mix`") && e.contains("fgan-kl"),
        "{e}"
    );
}

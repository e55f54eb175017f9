//! Resuming from a checkpoint continues the same loss curve: a run stopped after two
//! epochs and resumed to four matches an uninterrupted four-epoch run, including the
//! optimizer's and the f-GAN critic's state.

mod common;

use vina_core::rng::Rng;
use vina_core::spec::Architecture;
use vina_host::train::config::LossConfig;
use vina_host::train::{TrainConfig, TrainData, train};

fn data(n: usize) -> TrainData {
    let mut rng = Rng::new(3);
    let mut x = Vec::new();
    let mut y = Vec::new();
    for _ in 0..n {
        let (a, b) = (rng.normal_f32(), rng.normal_f32());
        x.extend([a, b]);
        y.extend([a + b, a - 0.5 * b, a * b].map(|v| v + 0.2 * rng.normal_f32()));
    }
    common::toy_data(x, y, 7)
}

fn config(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 128,
        progress: false,
        model: Architecture {
            blocks: 2,
            hidden: vec![16],
            cond_hidden: vec![8],
            cond_dim: 4,
            ..Architecture::default()
        },
        // ML plus a small f-GAN term, so the critic and its optimizer are checkpointed too.
        loss: LossConfig {
            fgan: 0.1,
            critic_hidden: vec![16, 16],
            ..LossConfig::default()
        },
        ..TrainConfig::default()
    }
}

/// metrics.csv without the timing columns.
fn curve(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("metrics.csv"))
        .expect("metrics")
        .lines()
        .map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            cols[..cols.len() - 2].join(",")
        })
        .collect()
}

#[test]
fn resume_continues_the_same_loss_curve() {
    let d = data(1500);
    let straight = tempfile::tempdir().expect("temp dir");
    let a = train(&d, &config(4), straight.path(), false).expect("uninterrupted run");

    let split = tempfile::tempdir().expect("temp dir");
    let b1 = train(&d, &config(2), split.path(), false).expect("first half");
    assert_eq!(b1.epochs, 2);
    let b = train(&d, &config(4), split.path(), true).expect("resumed run");
    assert_eq!(b.epochs, 4);

    println!(
        "uninterrupted: {:?}\nresumed:       {:?}",
        a.train_loss, b.train_loss
    );
    assert_eq!(a.train_loss, b.train_loss, "training loss curve");
    assert_eq!(a.val_nll, b.val_nll, "validation NLL curve");
    assert_eq!(curve(straight.path()), curve(split.path()), "metrics.csv");
    assert_eq!(
        std::fs::read(straight.path().join("model.vina")).expect("model"),
        std::fs::read(split.path().join("model.vina")).expect("model"),
        "exported best model"
    );

    // Resuming a finished run trains nothing more; other settings are refused.
    let c = train(&d, &config(4), split.path(), true).expect("resume of a finished run");
    assert_eq!(c.train_loss, a.train_loss);
    let mut other = config(4);
    other.optim.lr *= 2.0;
    assert!(train(&d, &other, split.path(), true).is_err());
}

//! The VINA reference code's support-mismatch toy, run with our losses at the reference's
//! full settings (20 epochs, batch 512, Adam 2e-4), against its published MMD
//! (docs/loss-study.md, "Support mismatch"). An external check on `train::losses`.

use vina_core::rng::Rng;
use vina_host::loss_study::support_mismatch::{ToyLoss, reference, train_one};

fn data() -> (Vec<f32>, Vec<f32>) {
    let mut rng = Rng::new(3432);
    let v: Vec<f32> = (0..60_000).map(|_| rng.uniform_f32()).collect();
    let (a, b) = v.split_at(48_000);
    (a.to_vec(), b.to_vec())
}

/// `tol(sd)`: the allowed distance of our mean from the reference mean, given the
/// reference's run-to-run sd.
fn check(loss: ToyLoss, d: f64, runs: u64, tol: impl Fn(f64) -> f64) {
    let (train, held_out) = data();
    let mmd: Vec<f64> = (0..runs)
        .map(|r| train_one(loss, d, 3432 + 100 * (r + 1), 20, &train, &held_out).mmd)
        .collect();
    let mean = mmd.iter().sum::<f64>() / runs as f64;
    let (want, sd) = reference(loss, d).expect("published value");
    let tol = tol(sd);
    assert!(
        (mean - want).abs() < tol,
        "{} d={d}: MMD {mean:.4e} (runs {mmd:?}) vs reference {want:.4e} ± {sd:.2e}",
        loss.name()
    );
}

#[test]
fn f_gan_kl_matches_the_reference_with_and_without_overlap() {
    // Both means scatter by sd/√runs (the reference: 10 runs): 3 of each.
    let tol = |sd: f64| 3.0 * sd / 5f64.sqrt() + 3.0 * sd / 10f64.sqrt();
    check(ToyLoss::FganKl, 0.0, 5, tol);
    check(ToyLoss::FganKl, 3.0, 5, tol);
}

#[test]
fn sinkhorn_matches_the_reference_where_the_supports_do_not_overlap() {
    // The reference's spread here (2 %) is that of one near-deterministic trajectory; our
    // runs land 2.5–9 % below its mean (docs/loss-study.md): 10 % is the measured
    // agreement, not a statistical bound (untrained, the MMD is ≈ 3).
    check(ToyLoss::Sinkhorn, 3.0, 1, |_| 0.1 * 0.2404);
}

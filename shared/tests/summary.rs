//! Streaming summaries against exact statistics of the stored samples.

use vina_core::rng::Rng;
use vina_core::summary::{P2Quantile, Summary};

fn exact_quantile(sorted: &[f64], p: f64) -> f64 {
    // linear interpolation between order statistics (type 7)
    let h = (sorted.len() - 1) as f64 * p;
    let (lo, frac) = (h.floor() as usize, h - h.floor());
    sorted[lo] + frac * (sorted[(lo + 1).min(sorted.len() - 1)] - sorted[lo])
}

#[test]
fn mean_std_and_quantiles_track_exact_values() {
    let mut worst = [0.0f64; 2];
    for (seed, n) in (0..20u64).flat_map(|s| [(s, 1000usize), (s + 100, 10_000)]) {
        let mut rng = Rng::new(seed);
        let (mu, sigma) = (1560.0f32, 0.02f32 * (1 + seed % 5) as f32);
        let xs: Vec<f32> = (0..n).map(|_| mu + sigma * rng.normal_f32()).collect();
        let mut s = Summary::new();
        xs.iter().for_each(|&x| s.push(x));
        let v = s.values();
        let xs64: Vec<f64> = xs.iter().map(|&x| f64::from(x)).collect();
        let mean = xs64.iter().sum::<f64>() / n as f64;
        let std = (xs64.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
        assert_eq!(v.count as usize, n);
        assert!(
            (f64::from(v.mean) - mean).abs() < 1e-4,
            "mean {} vs {mean}",
            v.mean
        );
        assert!(
            (f64::from(v.std) - std).abs() < 1e-4 * std,
            "std {} vs {std}",
            v.std
        );
        let mut sorted = xs64.clone();
        sorted.sort_by(f64::total_cmp);
        for (got, p) in [(v.q05, 0.05), (v.q50, 0.5), (v.q95, 0.95)] {
            let err = (f64::from(got) - exact_quantile(&sorted, p)).abs() / std;
            let k = usize::from(n == 10_000);
            worst[k] = worst[k].max(err);
        }
    }
    // P² against the exact sample quantile, in units of σ. For comparison, the sampling
    // error of the 5 % quantile itself is ≈ 0.067σ at n = 1,000 and ≈ 0.021σ at 10,000:
    // P² must stay within about 1.5× that, i.e. it adds less error than the sampling does.
    eprintln!(
        "worst P² error: {:.4}σ (n = 1000), {:.4}σ (n = 10000)",
        worst[0], worst[1]
    );
    assert!(worst[0] < 0.1, "n = 1000: worst P² error {:.4}σ", worst[0]);
    assert!(
        worst[1] < 0.02,
        "n = 10000: worst P² error {:.4}σ",
        worst[1]
    );
}

#[test]
fn small_counts_and_non_finite_samples() {
    let mut s = Summary::new();
    assert!(s.values().mean.is_nan());
    for x in [3.0, f32::NAN, 1.0, f32::INFINITY, 2.0] {
        s.push(x);
    }
    let v = s.values();
    assert_eq!((v.count, v.non_finite), (3, 2));
    assert_eq!((v.mean, v.std), (2.0, 1.0));
    assert_eq!((v.q05, v.q50, v.q95), (1.0, 2.0, 3.0));
    let mut q = P2Quantile::new(0.5);
    for x in [5.0, 1.0, 4.0, 2.0, 3.0] {
        q.push(x);
    }
    assert_eq!(q.value(), 3.0);
}

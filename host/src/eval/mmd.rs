//! Maximum mean discrepancy (Gretton et al. 2012): the unbiased estimate of MMD² with a
//! Gaussian kernel k(x, y) = exp(−‖x − y‖² / (2σ²)).
//!
//! Why alongside C2ST: MMD² has no training noise and a closed form for Gaussians, so it
//! is a cheap, exactly reproducible second opinion. σ defaults to the median heuristic
//! (median pairwise distance of the pooled sets), computed on a subsample when the sets
//! are large so it stays O(n) in memory.

use rayon::prelude::*;
use vina_core::rng::Rng;

use super::{EvalError, invalid, row_dim};

/// At most this many pooled points enter the median heuristic (≈ 2 × 10⁶ pairs).
pub const MEDIAN_POINTS: usize = 2000;

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn check<R: AsRef<[f64]>>(x: &[R], y: &[R]) -> Result<(), EvalError> {
    let d = row_dim(x, "mmd set X")?;
    if row_dim(y, "mmd set Y")? != d {
        return Err(invalid("mmd: sets have different dimensions"));
    }
    if x.len() < 2 || y.len() < 2 {
        return Err(invalid("mmd: need at least 2 samples per set"));
    }
    Ok(())
}

/// Median heuristic bandwidth: the median Euclidean distance between distinct points of
/// the pooled sets (a seeded subsample of [`MEDIAN_POINTS`] points if there are more).
pub fn median_bandwidth<R: AsRef<[f64]>>(x: &[R], y: &[R], seed: u64) -> Result<f64, EvalError> {
    check(x, y)?;
    let mut pooled: Vec<&[f64]> = x.iter().chain(y).map(AsRef::as_ref).collect();
    if pooled.len() > MEDIAN_POINTS {
        // Partial Fisher–Yates: the first MEDIAN_POINTS entries become a uniform subsample.
        let mut rng = Rng::new(seed);
        for i in 0..MEDIAN_POINTS {
            let j = i
                + ((rng.uniform_f64() * (pooled.len() - i) as f64) as usize)
                    .min(pooled.len() - i - 1);
            pooled.swap(i, j);
        }
        pooled.truncate(MEDIAN_POINTS);
    }
    let mut d2: Vec<f64> = (0..pooled.len())
        .flat_map(|i| (0..i).map(move |j| (i, j)))
        .map(|(i, j)| sq_dist(pooled[i], pooled[j]))
        .collect();
    let mid = d2.len() / 2;
    let (_, median, _) = d2.select_nth_unstable_by(mid, f64::total_cmp);
    let sigma = median.sqrt();
    if !(sigma > 0.0 && sigma.is_finite()) {
        return Err(invalid(format!("mmd: median pairwise distance is {sigma}")));
    }
    Ok(sigma)
}

/// Unbiased MMD² with a Gaussian kernel of bandwidth `sigma`:
/// mean k(xᵢ, xⱼ) over i ≠ j + mean k(yᵢ, yⱼ) over i ≠ j − 2 mean k(xᵢ, yⱼ).
/// Its expectation is 0 iff the distributions agree; the estimate itself can be slightly
/// negative.
pub fn mmd2_with_bandwidth<R: AsRef<[f64]> + Sync>(
    x: &[R],
    y: &[R],
    sigma: f64,
) -> Result<f64, EvalError> {
    check(x, y)?;
    if !(sigma > 0.0 && sigma.is_finite()) {
        return Err(invalid(format!("mmd: bandwidth {sigma}")));
    }
    let gamma = 1.0 / (2.0 * sigma * sigma);
    // Sum of k over pairs i < j within a set (the i ≠ j sum is twice that). Row sums are
    // collected in order and added serially, so the result is independent of threads.
    let within = |s: &[R]| -> f64 {
        (0..s.len())
            .into_par_iter()
            .map(|i| {
                let a = s[i].as_ref();
                s[..i]
                    .iter()
                    .map(|b| (-gamma * sq_dist(a, b.as_ref())).exp())
                    .sum::<f64>()
            })
            .collect::<Vec<f64>>()
            .iter()
            .sum()
    };
    let (m, n) = (x.len() as f64, y.len() as f64);
    let kxx = 2.0 * within(x) / (m * (m - 1.0));
    let kyy = 2.0 * within(y) / (n * (n - 1.0));
    let kxy = x
        .par_iter()
        .map(|a| {
            let a = a.as_ref();
            y.iter()
                .map(|b| (-gamma * sq_dist(a, b.as_ref())).exp())
                .sum::<f64>()
        })
        .collect::<Vec<f64>>()
        .iter()
        .sum::<f64>()
        / (m * n);
    Ok(kxx + kyy - 2.0 * kxy)
}

/// Unbiased MMD² with the median-heuristic bandwidth ([`median_bandwidth`], seed 0).
pub fn mmd2<R: AsRef<[f64]> + Sync>(x: &[R], y: &[R]) -> Result<f64, EvalError> {
    let sigma = median_bandwidth(x, y, 0)?;
    mmd2_with_bandwidth(x, y, sigma)
}

//! MCMC convergence diagnostics per parameter across chains: split-R̂ and effective sample
//! size (ESS), plain and rank-normalized (Vehtari, Gelman, Simpson, Carpenter & Bürkner
//! 2021), following Stan's `compute_split_rhat` / `compute_effective_sample_size`.
//!
//! Why both: R̂ says whether chains agree (mixing), ESS says how many independent draws
//! the chains are worth, which sets the Monte-Carlo error of every reference moment
//! (sd/√ESS for a mean).

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use statrs::distribution::{ContinuousCDF, Normal};

use super::{EvalError, invalid};

/// Checks that there is at least one chain, all of one length, with at least 8 draws (4
/// per half after splitting).
fn check_chains<C: AsRef<[f64]>>(chains: &[C]) -> Result<usize, EvalError> {
    let n = chains
        .first()
        .ok_or_else(|| invalid("diagnostics: no chains"))?
        .as_ref()
        .len();
    if chains.iter().any(|c| c.as_ref().len() != n) {
        return Err(invalid("diagnostics: chains have different lengths"));
    }
    if n < 8 {
        return Err(invalid(format!(
            "diagnostics: {n} draws per chain, need at least 8"
        )));
    }
    Ok(n)
}

/// Each chain cut into its first and second half (the middle draw of an odd-length chain
/// is dropped), so a trend within a chain shows up as disagreement between halves.
fn split<C: AsRef<[f64]>>(chains: &[C]) -> Vec<&[f64]> {
    let mut out = Vec::with_capacity(2 * chains.len());
    for c in chains {
        let c = c.as_ref();
        let half = c.len() / 2;
        out.push(&c[..half]);
        out.push(&c[c.len() - half..]);
    }
    out
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample variance with denominator n − 1.
fn variance(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() as f64 - 1.0)
}

/// Potential scale reduction R̂ of already-split chains (Gelman et al., BDA3 §11.4).
fn rhat_of(chains: &[&[f64]]) -> f64 {
    let n = chains[0].len() as f64;
    let means: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    let w = chains.iter().map(|c| variance(c)).sum::<f64>() / chains.len() as f64;
    let b_over_n = variance(&means);
    let var_plus = (n - 1.0) / n * w + b_over_n;
    (var_plus / w).sqrt()
}

/// Split-R̂ of one parameter (BDA3): ≈ 1 when the chains have mixed; > 1.01 means the
/// chains disagree and the draws are not yet a reference. NaN for constant chains.
pub fn split_rhat<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64, EvalError> {
    check_chains(chains)?;
    Ok(rhat_of(&split(chains)))
}

/// Rank-normalized split-R̂ (Vehtari et al. 2021): the larger of the bulk R̂ (on
/// normal scores of the pooled ranks) and the tail R̂ (same, on |x − median|). Robust to
/// heavy tails and also catches chains that agree in location but not in scale.
pub fn rank_normalized_rhat<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64, EvalError> {
    check_chains(chains)?;
    let bulk = rank_normalize(chains);
    let tail = rank_normalize(&fold(chains));
    Ok(rhat_of(&split(&bulk)).max(rhat_of(&split(&tail))))
}

/// Effective sample size of one parameter over split chains with Geyer's initial
/// monotone sequence estimator, exactly as Stan computes it (multi-chain autocorrelation
/// from the within-chain autocovariances and the between-chain variance).
pub fn ess<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64, EvalError> {
    check_chains(chains)?;
    Ok(ess_of(&split(chains)))
}

/// Bulk ESS (Vehtari et al. 2021): [`ess`] of the rank-normalized chains, the right
/// sample size for means and central intervals even when the variance is infinite.
pub fn ess_bulk<C: AsRef<[f64]>>(chains: &[C]) -> Result<f64, EvalError> {
    check_chains(chains)?;
    let z = rank_normalize(chains);
    Ok(ess_of(&split(&z)))
}

/// Diagnostics of one parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamDiagnostics {
    /// Rank-normalized split-R̂ ([`rank_normalized_rhat`]).
    pub rhat: f64,
    /// Plain split-chain ESS ([`ess`]), the one that sets the error of a posterior mean.
    pub ess: f64,
    /// Bulk ESS ([`ess_bulk`]).
    pub ess_bulk: f64,
}

/// Diagnostics per parameter of chains of vector draws: `chains[c][t][k]` is parameter `k`
/// at step `t` of chain `c`.
pub fn summarize(chains: &[Vec<Vec<f64>>]) -> Result<Vec<ParamDiagnostics>, EvalError> {
    let first = chains
        .first()
        .and_then(|c| c.first())
        .ok_or_else(|| invalid("diagnostics: no draws"))?;
    let dim = first.len();
    if chains.iter().flatten().any(|d| d.len() != dim) {
        return Err(invalid("diagnostics: draws have different dimensions"));
    }
    (0..dim)
        .map(|k| {
            let scalar: Vec<Vec<f64>> = chains
                .iter()
                .map(|c| c.iter().map(|d| d[k]).collect())
                .collect();
            Ok(ParamDiagnostics {
                rhat: rank_normalized_rhat(&scalar)?,
                ess: ess(&scalar)?,
                ess_bulk: ess_bulk(&scalar)?,
            })
        })
        .collect()
}

/// Stan's ESS on chains of equal length (already split).
fn ess_of(chains: &[&[f64]]) -> f64 {
    let m = chains.len();
    let n = chains[0].len();
    // One plan pair serves every chain (all have length n).
    let size = (2 * n).next_power_of_two();
    let mut planner = FftPlanner::new();
    let (forward, inverse) = (
        planner.plan_fft_forward(size),
        planner.plan_fft_inverse(size),
    );
    let acov: Vec<Vec<f64>> = chains
        .iter()
        .map(|c| autocovariance(c, forward.as_ref(), inverse.as_ref()))
        .collect();
    let chain_mean: Vec<f64> = chains.iter().map(|c| mean(c)).collect();
    let nf = n as f64;
    // Within-chain variance (denominator n − 1) and the pooled variance estimate var⁺.
    let mean_var = acov.iter().map(|a| a[0] * nf / (nf - 1.0)).sum::<f64>() / m as f64;
    let mut var_plus = mean_var * (nf - 1.0) / nf;
    if m > 1 {
        var_plus += variance(&chain_mean);
    }
    if var_plus.is_nan() || var_plus <= 0.0 {
        return f64::NAN;
    }
    let acov_at = |t: usize| acov.iter().map(|a| a[t]).sum::<f64>() / m as f64;
    let rho_at = |t: usize| 1.0 - (mean_var - acov_at(t)) / var_plus;

    let mut rho = vec![0.0; n];
    rho[0] = 1.0;
    let mut rho_even = 1.0;
    let mut rho_odd = rho_at(1);
    rho[1] = rho_odd;
    // Geyer's initial positive sequence: sum pairs while their sum stays positive.
    let mut t = 1;
    while t + 4 < n && rho_even + rho_odd > 0.0 {
        rho_even = rho_at(t + 1);
        rho_odd = rho_at(t + 2);
        if rho_even + rho_odd >= 0.0 {
            rho[t + 1] = rho_even;
            rho[t + 2] = rho_odd;
        }
        t += 2;
    }
    let max_t = t;
    // Stan's improved estimate for antithetic chains keeps a last positive even lag.
    if rho_even > 0.0 {
        rho[max_t + 1] = rho_even;
    }
    // Initial monotone sequence: pair sums may not increase.
    let mut t = 1;
    while t + 4 <= max_t {
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t] {
            rho[t + 1] = (rho[t - 1] + rho[t]) / 2.0;
            rho[t + 2] = rho[t + 1];
        }
        t += 2;
    }
    let total = (m * n) as f64;
    let tau = -1.0 + 2.0 * rho[..max_t].iter().sum::<f64>() + rho[max_t + 1];
    let tau = tau.max(1.0 / total.log10());
    total / tau
}

/// Biased autocovariance Σₜ (xₜ − x̄)(xₜ₊ₖ − x̄) / n for every lag k < n, by FFT
/// (`forward` and `inverse` of one size ≥ 2n, so the circular correlation of the
/// zero-padded chain equals the linear one).
fn autocovariance(x: &[f64], forward: &dyn Fft<f64>, inverse: &dyn Fft<f64>) -> Vec<f64> {
    let n = x.len();
    let m = mean(x);
    let size = forward.len();
    let mut buf: Vec<Complex<f64>> = x.iter().map(|v| Complex::new(v - m, 0.0)).collect();
    buf.resize(size, Complex::new(0.0, 0.0));
    forward.process(&mut buf);
    for v in buf.iter_mut() {
        *v = Complex::new(v.norm_sqr(), 0.0);
    }
    inverse.process(&mut buf);
    // rustfft's inverse is unnormalized: it carries a factor `size`.
    let scale = 1.0 / (size as f64 * n as f64);
    buf[..n].iter().map(|v| v.re * scale).collect()
}

/// |x − median| of the pooled draws, chain by chain (the "folded" draws of the tail R̂).
fn fold<C: AsRef<[f64]>>(chains: &[C]) -> Vec<Vec<f64>> {
    let mut pooled: Vec<f64> = chains
        .iter()
        .flat_map(|c| c.as_ref().iter().copied())
        .collect();
    pooled.sort_by(f64::total_cmp);
    let s = pooled.len();
    let median = if s % 2 == 1 {
        pooled[s / 2]
    } else {
        0.5 * (pooled[s / 2 - 1] + pooled[s / 2])
    };
    chains
        .iter()
        .map(|c| c.as_ref().iter().map(|v| (v - median).abs()).collect())
        .collect()
}

/// Normal scores Φ⁻¹((r − 3/8)/(S + 1/4)) of the pooled ranks r (ties get their average
/// rank), chain by chain (Vehtari et al. 2021, eq. 14).
fn rank_normalize<C: AsRef<[f64]>>(chains: &[C]) -> Vec<Vec<f64>> {
    let mut idx: Vec<(f64, usize, usize)> = chains
        .iter()
        .enumerate()
        .flat_map(|(c, ch)| ch.as_ref().iter().enumerate().map(move |(t, &v)| (v, c, t)))
        .collect();
    idx.sort_by(|a, b| a.0.total_cmp(&b.0));
    let s = idx.len() as f64;
    let mut out: Vec<Vec<f64>> = chains.iter().map(|c| vec![0.0; c.as_ref().len()]).collect();
    let mut i = 0;
    while i < idx.len() {
        let mut j = i + 1;
        while j < idx.len() && idx[j].0 == idx[i].0 {
            j += 1;
        }
        // 1-based average rank of the tie group i..j.
        let r = (i + 1 + j) as f64 / 2.0;
        let z = normal_quantile((r - 0.375) / (s + 0.25));
        for &(_, c, t) in &idx[i..j] {
            out[c][t] = z;
        }
        i = j;
    }
    out
}

/// Standard normal quantile Φ⁻¹(p) (statrs). Returns ∓∞ at p = 0, 1 and NaN outside
/// [0, 1].
pub fn normal_quantile(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    Normal::standard().inverse_cdf(p)
}

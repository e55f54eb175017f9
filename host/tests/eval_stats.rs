//! Statistics of `vina_host::eval` against independent references: analytic posteriors of
//! linear-Gaussian inverse problems, closed-form MMD² and classifier accuracies, the
//! analytic ESS of AR(1) chains and closed-form special-function values.

use std::time::Instant;

use statrs::function::gamma::ln_gamma;
use vina_core::rng::Rng;
use vina_host::eval::c2st::{C2stOptions, c2st};
use vina_host::eval::coverage::{Coverage, binomial_se, levels};
use vina_host::eval::diagnostics::{
    ess, ess_bulk, normal_quantile, rank_normalized_rhat, split_rhat,
};
use vina_host::eval::grid::GridPosterior;
use vina_host::eval::mcmc::{
    EnsembleOptions, Init, MetropolisOptions, adaptive_metropolis, ensemble_sample,
};
use vina_host::eval::mmd::{median_bandwidth, mmd2, mmd2_with_bandwidth};
use vina_host::eval::sbc::{Sbc, chi_square_sf};

// ---------------------------------------------------------------- small linear algebra

type Mat = Vec<Vec<f64>>;

/// Lower Cholesky factor of a symmetric positive-definite matrix.
fn cholesky(a: &Mat) -> Mat {
    let n = a.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (0..j).map(|k| l[i][k] * l[j][k]).sum();
            if i == j {
                l[i][i] = (a[i][i] - s).sqrt();
            } else {
                l[i][j] = (a[i][j] - s) / l[j][j];
            }
        }
    }
    l
}

/// Inverse of a symmetric positive-definite matrix via Cholesky.
fn spd_inverse(a: &Mat) -> Mat {
    let n = a.len();
    let l = cholesky(a);
    let mut inv = vec![vec![0.0; n]; n];
    for c in 0..n {
        // Solve L z = e_c, then Lᵀ x = z.
        let mut z = vec![0.0; n];
        for i in 0..n {
            let s: f64 = (0..i).map(|k| l[i][k] * z[k]).sum();
            z[i] = ((i == c) as u8 as f64 - s) / l[i][i];
        }
        let mut x = vec![0.0; n];
        for i in (0..n).rev() {
            let s: f64 = (i + 1..n).map(|k| l[k][i] * x[k]).sum();
            x[i] = (z[i] - s) / l[i][i];
        }
        for (row, xr) in inv.iter_mut().zip(&x) {
            row[c] = *xr;
        }
    }
    inv
}

fn mat_vec(a: &Mat, x: &[f64]) -> Vec<f64> {
    a.iter()
        .map(|r| r.iter().zip(x).map(|(a, b)| a * b).sum())
        .collect()
}

// ---------------------------------------------------------------- linear-Gaussian problem

/// y = A x + N(0, σ² I) with prior x ~ N(μ₀, diag(s₀²)): posterior N(μ(y), Σ) with
/// Σ = (Σ₀⁻¹ + AᵀA/σ²)⁻¹ and μ(y) = Σ (Σ₀⁻¹ μ₀ + Aᵀ y / σ²); Σ does not depend on y.
struct LinearGaussian {
    a: Mat,
    noise: f64,
    mu0: Vec<f64>,
    sd0: Vec<f64>,
    cov: Mat,
    chol: Mat,
}

impl LinearGaussian {
    fn new(a: Mat, noise: f64, mu0: Vec<f64>, sd0: Vec<f64>) -> Self {
        let d = mu0.len();
        let mut prec = vec![vec![0.0; d]; d];
        for i in 0..d {
            for j in 0..d {
                prec[i][j] = a.iter().map(|r| r[i] * r[j]).sum::<f64>() / (noise * noise);
            }
            prec[i][i] += 1.0 / (sd0[i] * sd0[i]);
        }
        let cov = spd_inverse(&prec);
        let chol = cholesky(&cov);
        Self {
            a,
            noise,
            mu0,
            sd0,
            cov,
            chol,
        }
    }

    fn dim(&self) -> usize {
        self.mu0.len()
    }

    fn simulate(&self, x: &[f64], rng: &mut Rng) -> Vec<f64> {
        mat_vec(&self.a, x)
            .iter()
            .map(|v| v + self.noise * rng.normal_f64())
            .collect()
    }

    fn prior_draw(&self, rng: &mut Rng) -> Vec<f64> {
        self.mu0
            .iter()
            .zip(&self.sd0)
            .map(|(m, s)| m + s * rng.normal_f64())
            .collect()
    }

    fn post_mean(&self, y: &[f64]) -> Vec<f64> {
        let d = self.dim();
        let rhs: Vec<f64> = (0..d)
            .map(|i| {
                self.mu0[i] / (self.sd0[i] * self.sd0[i])
                    + self.a.iter().zip(y).map(|(r, yv)| r[i] * yv).sum::<f64>()
                        / (self.noise * self.noise)
            })
            .collect();
        mat_vec(&self.cov, &rhs)
    }

    /// Posterior draw with its spread scaled by `width` (1 = exact).
    fn post_draw(&self, mean: &[f64], width: f64, rng: &mut Rng) -> Vec<f64> {
        let z: Vec<f64> = (0..self.dim()).map(|_| rng.normal_f64()).collect();
        mat_vec(&self.chol, &z)
            .iter()
            .zip(mean)
            .map(|(v, m)| m + width * v)
            .collect()
    }

    fn log_post(&self, x: &[f64], y: &[f64]) -> f64 {
        let prior: f64 = x
            .iter()
            .zip(&self.mu0)
            .zip(&self.sd0)
            .map(|((x, m), s)| ((x - m) / s).powi(2))
            .sum();
        let misfit: f64 = mat_vec(&self.a, x)
            .iter()
            .zip(y)
            .map(|(p, y)| (y - p).powi(2))
            .sum();
        -0.5 * prior - 0.5 * misfit / (self.noise * self.noise)
    }
}

fn problem3() -> LinearGaussian {
    LinearGaussian::new(
        vec![
            vec![1.0, 0.5, 0.0],
            vec![0.3, 1.0, -0.7],
            vec![0.0, 0.4, 1.0],
            vec![1.0, -1.0, 0.5],
        ],
        0.3,
        vec![1.0, -0.5, 2.0],
        vec![1.0, 2.0, 0.5],
    )
}

/// Two nearly collinear observations: a sharp, strongly correlated posterior.
fn problem2() -> LinearGaussian {
    LinearGaussian::new(
        vec![vec![1.0, 1.0], vec![1.0, 0.6], vec![0.2, -0.1]],
        0.1,
        vec![0.0, 0.0],
        vec![1.0, 1.0],
    )
}

// ---------------------------------------------------------------- MCMC and grid

#[test]
fn mcmc_matches_analytic_linear_gaussian_posterior() {
    let lg = problem3();
    let mut rng = Rng::new(11);
    let y = lg.simulate(&[0.8, -1.0, 2.3], &mut rng);
    let mu = lg.post_mean(&y);
    let t = Instant::now();
    let res = ensemble_sample(
        |x| lg.log_post(x, &y),
        &Init::Ball {
            center: lg.mu0.clone(),
            scale: vec![0.1; 3],
        },
        // 16 walkers × 10⁴ steps: with τ ≈ 40 steps each walker is worth ≈ 250 draws, which
        // R̂ < 1.01 needs (Vehtari et al. 2021 ask for ≥ 100 per chain).
        &EnsembleOptions {
            walkers: 16,
            burn_in: 1000,
            steps: 10_000,
            seed: 5,
            ..Default::default()
        },
    )
    .unwrap();
    let s = res.samples();
    let n = s.len() as f64;
    let mean: Vec<f64> = (0..3)
        .map(|k| s.iter().map(|d| d[k]).sum::<f64>() / n)
        .collect();
    let cov: Mat = (0..3)
        .map(|i| {
            (0..3)
                .map(|j| {
                    s.iter()
                        .map(|d| (d[i] - mean[i]) * (d[j] - mean[j]))
                        .sum::<f64>()
                        / (n - 1.0)
                })
                .collect()
        })
        .collect();
    println!(
        "mcmc: {:.2} s, acceptance {:.3}, diagnostics {:?}",
        t.elapsed().as_secs_f64(),
        res.acceptance_rate,
        res.diagnostics
    );
    assert!((0.2..0.8).contains(&res.acceptance_rate));
    assert!(res.max_rhat() < 1.01, "R̂ {}", res.max_rhat());
    assert!(res.min_ess() > 1000.0, "ESS {}", res.min_ess());
    let ess: Vec<f64> = res.diagnostics.iter().map(|d| d.ess).collect();
    for i in 0..3 {
        let sd = lg.cov[i][i].sqrt();
        // Monte-Carlo error of a mean is sd/√ESS; 4 of those is a 4-sigma bound.
        let err = (mean[i] - mu[i]).abs();
        println!(
            "mean {i}: err {err:.2e}, bound {:.2e}",
            4.0 * sd / ess[i].sqrt()
        );
        assert!(err <= 4.0 * sd / ess[i].sqrt());
        for j in 0..=i {
            // Var of a sample covariance ≈ (Σᵢᵢ Σⱼⱼ + Σᵢⱼ²)/ESS.
            let e = ess[i].min(ess[j]);
            let se = ((lg.cov[i][i] * lg.cov[j][j] + lg.cov[i][j].powi(2)) / e).sqrt();
            let err = (cov[i][j] - lg.cov[i][j]).abs();
            println!(
                "cov {i}{j}: {:.5} vs {:.5}, err/se {:.2}",
                cov[i][j],
                lg.cov[i][j],
                err / se
            );
            assert!(err <= 4.0 * se);
        }
    }
}

#[test]
fn mcmc_is_deterministic_and_rejects_bad_input() {
    let lg = problem2();
    let y = vec![0.5, 0.3, 0.0];
    let opts = EnsembleOptions {
        walkers: 8,
        burn_in: 20,
        steps: 40,
        seed: 3,
        ..Default::default()
    };
    let init = Init::Ball {
        center: vec![0.0, 0.0],
        scale: vec![0.1, 0.1],
    };
    let a = ensemble_sample(|x| lg.log_post(x, &y), &init, &opts).unwrap();
    let b = ensemble_sample(
        |x| lg.log_post(x, &y),
        &init,
        &EnsembleOptions {
            parallel: false,
            ..opts.clone()
        },
    )
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.chains.len(), 8);
    assert_eq!(a.chains[0].len(), 40);
    // Odd walker count, and a start point outside the support.
    assert!(
        ensemble_sample(
            |_| 0.0,
            &init,
            &EnsembleOptions {
                walkers: 7,
                ..opts.clone()
            }
        )
        .is_err()
    );
    let pts = vec![vec![-1.0, 0.0]; 8];
    let support = |x: &[f64]| if x[0] > 0.0 { 0.0 } else { f64::NEG_INFINITY };
    assert!(ensemble_sample(support, &Init::Points(pts), &opts).is_err());
}

/// An eight-dimensional Gaussian as sharp and as unevenly scaled as the eight-unknown
/// exact posteriors (sds 10⁻³ to 10³, neighbouring correlations 0.9): mean and covariance
/// known, so the adaptive Metropolis reference sampler is checked against them, started
/// the way `vina reference --start` starts it (a ball 10⁻⁴ of a width around a point
/// three sds off).
#[test]
fn adaptive_metropolis_matches_a_badly_scaled_correlated_gaussian() {
    let d = 8;
    let sd: Vec<f64> = (0..d)
        .map(|k| 10f64.powf(-3.0 + 6.0 * k as f64 / 7.0))
        .collect();
    let mu: Vec<f64> = (0..d).map(|k| 100.0 * sd[k] + k as f64).collect();
    // Precision D⁻¹R⁻¹D⁻¹ from the well-conditioned correlation matrix R.
    let corr: Mat = (0..d)
        .map(|i| {
            (0..d)
                .map(|j| 0.9f64.powi((i as i32 - j as i32).abs()))
                .collect()
        })
        .collect();
    let prec: Mat = spd_inverse(&corr)
        .iter()
        .enumerate()
        .map(|(i, row)| {
            row.iter()
                .enumerate()
                .map(|(j, p)| p / (sd[i] * sd[j]))
                .collect()
        })
        .collect();
    let log_density = |_: usize, x: &[f64]| {
        let r: Vec<f64> = x.iter().zip(&mu).map(|(x, m)| x - m).collect();
        -0.5 * (0..d)
            .map(|i| (0..d).map(|j| r[i] * prec[i][j] * r[j]).sum::<f64>())
            .sum::<f64>()
    };
    let t = Instant::now();
    let res = adaptive_metropolis(
        log_density,
        &Init::Ball {
            center: mu.iter().zip(&sd).map(|(m, s)| m + 3.0 * s).collect(),
            scale: sd.iter().map(|s| 1e-4 * s).collect(),
        },
        &MetropolisOptions {
            chains: 8,
            burn_in: 2000,
            steps: 5000,
            seed: 7,
            ..Default::default()
        },
    )
    .unwrap();
    let s = res.samples();
    let n = s.len() as f64;
    let mean: Vec<f64> = (0..d)
        .map(|k| s.iter().map(|x| x[k]).sum::<f64>() / n)
        .collect();
    let var = |i: usize, j: usize| {
        s.iter()
            .map(|x| (x[i] - mean[i]) * (x[j] - mean[j]))
            .sum::<f64>()
            / (n - 1.0)
    };
    println!(
        "adaptive Metropolis: {:.2} s, acceptance {:.3}, R̂ {:.4}, ESS {:.0}",
        t.elapsed().as_secs_f64(),
        res.acceptance_rate,
        res.max_rhat(),
        res.min_ess()
    );
    // Frozen at the fitted Gaussian: near the 0.234 the burn-in tuned for.
    assert!((0.15..0.35).contains(&res.acceptance_rate));
    assert!(res.max_rhat() < 1.01, "R̂ {}", res.max_rhat());
    // 40,000 draws at τ ≈ 3.3 d ≈ 26 steps: ~1,500; the ensemble manages ~250 per 10⁵.
    assert!(res.min_ess() > 800.0, "ESS {}", res.min_ess());
    for i in 0..d {
        let ess = res.diagnostics[i].ess;
        let err = (mean[i] - mu[i]).abs();
        assert!(err <= 4.0 * sd[i] / ess.sqrt(), "mean {i}: {err:e}");
        // sd of a sample sd ≈ sd/√(2 ESS).
        let sd_err = (var(i, i).sqrt() - sd[i]).abs();
        assert!(
            sd_err <= 4.0 * sd[i] / (2.0 * ess).sqrt(),
            "sd {i}: {} vs {}",
            var(i, i).sqrt(),
            sd[i]
        );
        if i > 0 {
            // sd of a sample correlation ≈ (1 − ρ²)/√ESS.
            let rho = var(i, i - 1) / (var(i, i) * var(i - 1, i - 1)).sqrt();
            let e = ess.min(res.diagnostics[i - 1].ess);
            assert!(
                (rho - 0.9).abs() <= 4.0 * (1.0 - 0.81) / e.sqrt(),
                "corr {i}: {rho}"
            );
        }
    }
}

/// A hard support edge, as the uniform priors give the exact posteriors: a standard
/// normal in x₀ cut at 0 (half-normal: mean √(2/π), sd √(1 − 2/π)) times a free normal
/// in x₁. Proposals outside the support are rejected, not redrawn, so the edge is exact.
#[test]
fn adaptive_metropolis_respects_a_support_edge() {
    let res = adaptive_metropolis(
        |_, x| {
            if x[0] < 0.0 {
                f64::NEG_INFINITY
            } else {
                -0.5 * (x[0] * x[0] + x[1] * x[1])
            }
        },
        &Init::Ball {
            center: vec![0.5, 0.0],
            scale: vec![0.1, 0.1],
        },
        &MetropolisOptions {
            chains: 4,
            burn_in: 1000,
            steps: 10_000,
            seed: 3,
            ..Default::default()
        },
    )
    .unwrap();
    let s = res.samples();
    let n = s.len() as f64;
    let m = s.iter().map(|x| x[0]).sum::<f64>() / n;
    let v = s.iter().map(|x| (x[0] - m).powi(2)).sum::<f64>() / (n - 1.0);
    let (m0, sd0) = (
        (2.0 / std::f64::consts::PI).sqrt(),
        (1.0 - 2.0 / std::f64::consts::PI).sqrt(),
    );
    let ess = res.diagnostics[0].ess;
    println!(
        "half-normal: mean {m:.4} vs {m0:.4}, sd {:.4} vs {sd0:.4}, ESS {ess:.0}",
        v.sqrt()
    );
    assert!(s.iter().all(|x| x[0] >= 0.0));
    assert!(res.max_rhat() < 1.01);
    assert!((m - m0).abs() <= 4.0 * sd0 / ess.sqrt());
    assert!((v.sqrt() - sd0).abs() <= 4.0 * sd0 / (2.0 * ess).sqrt());
}

#[test]
fn adaptive_metropolis_is_deterministic_and_rejects_bad_input() {
    let lg = problem2();
    let y = vec![0.5, 0.3, 0.0];
    let lp = |_: usize, x: &[f64]| lg.log_post(x, &y);
    let init = Init::Ball {
        center: vec![0.0, 0.0],
        scale: vec![0.1, 0.1],
    };
    let opts = MetropolisOptions {
        chains: 4,
        burn_in: 100,
        steps: 40,
        seed: 3,
        ..Default::default()
    };
    let a = adaptive_metropolis(lp, &init, &opts).unwrap();
    let b = adaptive_metropolis(
        lp,
        &init,
        &MetropolisOptions {
            parallel: false,
            ..opts.clone()
        },
    )
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.chains.len(), 4);
    assert_eq!(a.chains[0].len(), 40);
    let bad = |o: MetropolisOptions| adaptive_metropolis(lp, &init, &o).is_err();
    assert!(bad(MetropolisOptions {
        chains: 3,
        ..opts.clone()
    }));
    assert!(bad(MetropolisOptions {
        burn_in: 49,
        ..opts.clone()
    }));
    assert!(bad(MetropolisOptions {
        thin: 0,
        ..opts.clone()
    }));
    let nine = Init::Ball {
        center: vec![0.0; 9],
        scale: vec![0.1; 9],
    };
    assert!(adaptive_metropolis(|_, _| 0.0, &nine, &opts).is_err());
}

#[test]
fn grid_posterior_matches_analytic_moments() {
    let lg = problem2();
    let mut rng = Rng::new(21);
    let y = lg.simulate(&[0.4, -0.3], &mut rng);
    let mu = lg.post_mean(&y);
    let sd = [lg.cov[0][0].sqrt(), lg.cov[1][1].sqrt()];
    let corr = lg.cov[0][1] / (sd[0] * sd[1]);
    let n = 200;
    let lo = [mu[0] - 7.0 * sd[0], mu[1] - 7.0 * sd[1]];
    let hi = [mu[0] + 7.0 * sd[0], mu[1] + 7.0 * sd[1]];
    let grid = GridPosterior::evaluate(|x| lg.log_post(x, &y), lo, hi, n).unwrap();
    let h = grid.spacing();
    let m = grid.moments();
    println!("grid: analytic mean {mu:?} sd {sd:?} corr {corr:.4}; grid {m:?}; h {h:?}");
    assert!(
        corr < -0.8,
        "the test problem should be strongly correlated"
    );
    for k in 0..2 {
        // The midpoint rule on a Gaussian is far better than O(h²); a Sheppard-size error
        // (h²/12 in the variance) would already fail these bounds by orders of magnitude.
        assert!((m.mean[k] - mu[k]).abs() <= 1e-3 * h[k]);
        assert!((m.sd[k].powi(2) - sd[k].powi(2)).abs() <= 1e-3 * h[k] * h[k] / 12.0);
    }
    assert!((m.corr - corr).abs() <= 1e-6);
    let marg = grid.marginal(0);
    assert!((marg.iter().sum::<f64>() - 1.0).abs() < 1e-12);

    // Draws: mean within 4 sd/√N, sd within 4 sd/√(2N) (+ the h²/12 jitter).
    let draws = grid.sample(20_000, &mut Rng::new(2));
    let nd = draws.len() as f64;
    for k in 0..2 {
        let mean = draws.iter().map(|d| d[k]).sum::<f64>() / nd;
        let s = (draws.iter().map(|d| (d[k] - mean).powi(2)).sum::<f64>() / (nd - 1.0)).sqrt();
        assert!((mean - mu[k]).abs() <= 4.0 * sd[k] / nd.sqrt());
        let expect = (sd[k].powi(2) + h[k] * h[k] / 12.0).sqrt();
        assert!((s - expect).abs() <= 4.0 * sd[k] / (2.0 * nd).sqrt());
    }
}

// ---------------------------------------------------------------- diagnostics

/// AR(1) chains xₜ = ρ xₜ₋₁ + √(1 − ρ²) εₜ, started in the stationary N(0, 1).
fn ar1(rho: f64, chains: usize, len: usize, seed: u64) -> Vec<Vec<f64>> {
    (0..chains)
        .map(|c| {
            let mut rng = Rng::for_index(seed, c as u64);
            let mut x = rng.normal_f64();
            (0..len)
                .map(|_| {
                    x = rho * x + (1.0 - rho * rho).sqrt() * rng.normal_f64();
                    x
                })
                .collect()
        })
        .collect()
}

#[test]
fn ess_of_ar1_chains_matches_analytic_value() {
    for (rho, seed) in [(0.9, 1), (0.5, 2), (-0.3, 3)] {
        let chains = ar1(rho, 4, 25_000, seed);
        let n = 100_000.0;
        // Integrated autocorrelation time of AR(1): (1 + ρ)/(1 − ρ).
        let analytic = n * (1.0 - rho) / (1.0 + rho);
        let e = ess(&chains).unwrap();
        let eb = ess_bulk(&chains).unwrap();
        let r = split_rhat(&chains).unwrap();
        println!("AR(1) ρ = {rho}: ESS {e:.0} bulk {eb:.0} analytic {analytic:.0}, R̂ {r:.4}");
        assert!(
            (e / analytic - 1.0).abs() < 0.1,
            "ρ = {rho}: ESS {e} vs {analytic}"
        );
        assert!(
            (eb / analytic - 1.0).abs() < 0.15,
            "ρ = {rho}: bulk ESS {eb} vs {analytic}"
        );
        assert!(r < 1.01);
    }
}

#[test]
fn rhat_flags_chains_that_disagree() {
    let mut good = ar1(0.0, 4, 2000, 7);
    assert!(split_rhat(&good).unwrap() < 1.01);
    assert!(rank_normalized_rhat(&good).unwrap() < 1.01);
    // One chain shifted by one sd: both R̂ flag it.
    let mut shifted = good.clone();
    shifted[0].iter_mut().for_each(|v| *v += 1.0);
    assert!(split_rhat(&shifted).unwrap() > 1.05);
    assert!(rank_normalized_rhat(&shifted).unwrap() > 1.05);
    // One chain three times wider but centred: only the tail (folded) R̂ sees it.
    good[0].iter_mut().for_each(|v| *v *= 3.0);
    let plain = split_rhat(&good).unwrap();
    let rank = rank_normalized_rhat(&good).unwrap();
    println!("scale mismatch: split R̂ {plain:.4}, rank-normalized R̂ {rank:.4}");
    assert!(plain < 1.01 && rank > 1.05);
    // A trend within each chain: split-R̂ sees the halves disagree.
    let trend: Vec<Vec<f64>> = ar1(0.0, 4, 2000, 8)
        .into_iter()
        .map(|c| {
            c.iter()
                .enumerate()
                .map(|(t, v)| v + t as f64 / 1000.0)
                .collect()
        })
        .collect();
    assert!(split_rhat(&trend).unwrap() > 1.05);
    assert!(split_rhat(&[vec![1.0; 4]]).is_err());
}

#[test]
fn special_functions_match_closed_forms() {
    for (p, z) in [
        (0.5, 0.0),
        (0.975, 1.959_963_984_540_054),
        (0.001, -3.090_232_306_167_813_5),
        (0.841_344_746_068_542_9, 1.0),
        (1e-10, -6.361_340_902_404_056),
    ] {
        assert!(
            (normal_quantile(p) - z).abs() < 1e-9 * z.abs().max(1.0),
            "Φ⁻¹({p})"
        );
    }
    assert!((ln_gamma(0.5) - 0.572_364_942_924_700_1).abs() < 1e-13);
    assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-12);
    assert!((ln_gamma(0.1) - 2.252_712_651_734_206).abs() < 1e-12);
    // χ²₂ sf = e^(−x/2); χ²₄ sf = e^(−x/2)(1 + x/2); table values at 5 %.
    for x in [0.1, 2.0, 9.0, 40.0] {
        assert!((chi_square_sf(x, 2.0) - (-x / 2.0f64).exp()).abs() < 1e-13);
        let four = (-x / 2.0f64).exp() * (1.0 + x / 2.0);
        assert!((chi_square_sf(x, 4.0) / four - 1.0).abs() < 1e-10);
    }
    assert!((chi_square_sf(3.841_458_820_694_124, 1.0) - 0.05).abs() < 1e-10);
    assert!((chi_square_sf(30.143_527_205_646_16, 19.0) - 0.05).abs() < 1e-10);
}

// ---------------------------------------------------------------- two-sample tests

fn gaussian_set(n: usize, mean: [f64; 2], seed: u64) -> Vec<[f64; 2]> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| [mean[0] + rng.normal_f64(), mean[1] + rng.normal_f64()])
        .collect()
}

#[test]
fn c2st_separates_what_differs() {
    let opts = C2stOptions::default();
    let a = gaussian_set(2000, [0.0, 0.0], 1);
    let t = Instant::now();
    let same = c2st(&a, &gaussian_set(2000, [0.0, 0.0], 2), &opts).unwrap();
    let elapsed = t.elapsed().as_secs_f64();
    // Unit shift of a unit Gaussian: the Bayes classifier's accuracy is Φ(1/2) = 0.6915.
    let shifted = c2st(&a, &gaussian_set(2000, [1.0, 0.0], 3), &opts).unwrap();
    let mut rng = Rng::new(4);
    let far: Vec<[f64; 2]> = (0..2000)
        .map(|_| [2.0 + rng.uniform_f64(), 2.0 + rng.uniform_f64()])
        .collect();
    let near: Vec<[f64; 2]> = (0..2000)
        .map(|_| [rng.uniform_f64(), rng.uniform_f64()])
        .collect();
    let disjoint = c2st(&near, &far, &opts).unwrap();
    println!(
        "c2st: same {same:.4} ({elapsed:.2} s), unit shift {shifted:.4}, disjoint {disjoint:.4}"
    );
    assert!((same - 0.5).abs() <= 0.05);
    assert!((shifted - 0.6915).abs() <= 0.03);
    assert!(disjoint >= 0.98);
    assert_eq!(
        same,
        c2st(&a, &gaussian_set(2000, [0.0, 0.0], 2), &opts).unwrap()
    );
    assert!(c2st(&a, &a[..100], &opts).is_err());
}

/// Correlated against independent: the boundary is quadratic, so this checks that the
/// classifier trains to near the Bayes accuracy (computed by Monte Carlo from the exact
/// densities) rather than only finding mean shifts.
#[test]
fn c2st_reaches_bayes_accuracy_on_a_nonlinear_boundary() {
    let corr_set = |n: usize, rho: f64, seed: u64| -> Vec<[f64; 2]> {
        let mut rng = Rng::new(seed);
        (0..n)
            .map(|_| {
                let (a, b) = (rng.normal_f64(), rng.normal_f64());
                [a, rho * a + (1.0 - rho * rho).sqrt() * b]
            })
            .collect()
    };
    let logp = |x: &[f64; 2], rho: f64| {
        -0.5 * (x[0] * x[0] - 2.0 * rho * x[0] * x[1] + x[1] * x[1]) / (1.0 - rho * rho)
            - 0.5 * (1.0 - rho * rho).ln()
    };
    let (a, b) = (corr_set(200_000, 0.0, 1), corr_set(200_000, 0.9, 2));
    let right = a.iter().filter(|x| logp(x, 0.0) > logp(x, 0.9)).count()
        + b.iter().filter(|x| logp(x, 0.9) > logp(x, 0.0)).count();
    let bayes = right as f64 / 400_000.0;
    let acc = c2st(
        &corr_set(2000, 0.0, 3),
        &corr_set(2000, 0.9, 4),
        &C2stOptions::default(),
    )
    .unwrap();
    println!("c2st correlated: {acc:.4}, Bayes accuracy {bayes:.4}");
    // A classifier cannot beat Bayes beyond test-set noise (sd ≈ 0.007 on 4000 points).
    assert!(acc > bayes - 0.03 && acc < bayes + 0.02);
}

#[test]
fn mmd_matches_closed_form_for_gaussians() {
    let x = gaussian_set(2000, [0.0, 0.0], 5);
    let y = gaussian_set(2000, [0.0, 0.0], 6);
    let z = gaussian_set(2000, [1.0, 0.0], 7);
    // Median of ‖x − x'‖ with x − x' ~ N(0, 2I₂): ‖·‖²/2 ~ χ²₂, median 2 ln 2.
    let sigma = median_bandwidth(&x, &y, 0).unwrap();
    let expect = (4.0 * 2f64.ln()).sqrt();
    assert!(
        (sigma / expect - 1.0).abs() < 0.03,
        "median heuristic {sigma} vs {expect}"
    );
    let same = mmd2(&x, &y).unwrap();
    // Population MMD² between N(0, I₂) and N(δ, I₂) with bandwidth s:
    // 2 (s²/(s² + 2)) (1 − exp(−‖δ‖²/(2(s² + 2)))).
    let s: f64 = 1.0;
    let analytic = 2.0 * s * s / (s * s + 2.0) * (1.0 - (-1.0 / (2.0 * (s * s + 2.0))).exp());
    let shifted = mmd2_with_bandwidth(&x, &z, s).unwrap();
    let shifted_median = mmd2(&x, &z).unwrap();
    println!(
        "mmd²: same {same:.2e}, shifted {shifted:.4} vs analytic {analytic:.4}, median-σ {shifted_median:.4}"
    );
    assert!(same.abs() < 2e-3);
    // The estimator's spread over 20 seeds at n = 2000 was 0.008: a 3-sd bound.
    assert!((shifted - analytic).abs() < 0.025);
    assert!(shifted_median > 0.05);
}

// ---------------------------------------------------------------- SBC and coverage

/// SBC ranks and coverage of `width`-scaled posterior draws over `n` prior simulations.
fn calibrate(width: f64, n: usize, draws: usize) -> (LinearGaussian, Sbc, Coverage) {
    let lg = problem3();
    let mut rng = Rng::new(99);
    let mut sbc = Sbc::new(3, draws);
    let mut cov = Coverage::new(3);
    for _ in 0..n {
        let truth = lg.prior_draw(&mut rng);
        let y = lg.simulate(&truth, &mut rng);
        let mu = lg.post_mean(&y);
        let d: Vec<Vec<f64>> = (0..draws)
            .map(|_| lg.post_draw(&mu, width, &mut rng))
            .collect();
        sbc.push(&truth, &d).unwrap();
        cov.push(&truth, &d).unwrap();
    }
    (lg, sbc, cov)
}

#[test]
fn sbc_accepts_exact_and_rejects_miscalibrated_posteriors() {
    let (_, exact, _) = calibrate(1.0, 1000, 99);
    let (_, narrow, _) = calibrate(0.5, 1000, 99);
    let (_, wide, _) = calibrate(2.0, 1000, 99);
    for k in 0..3 {
        let e = exact.uniformity(k, 20).unwrap();
        let n = narrow.uniformity(k, 20).unwrap();
        let w = wide.uniformity(k, 20).unwrap();
        println!(
            "SBC param {k}: p exact {:.3}, narrow {:.1e}, wide {:.1e}",
            e.p_value, n.p_value, w.p_value
        );
        assert_eq!(e.dof, 19);
        assert!(e.p_value > 0.01);
        assert!(n.p_value < 1e-6 && w.p_value < 1e-6);
        // Too narrow: truths pile up in the outer bins (∪ shape).
        let h = narrow.histogram(k, 20);
        assert!(h[0] + h[19] > 4 * (h[9] + h[10]));
        assert_eq!(h.iter().sum::<usize>(), 1000);
    }
    let mut bad = Sbc::new(3, 99);
    assert!(bad.push(&[0.0; 3], &vec![vec![0.0; 3]; 98]).is_err());
}

#[test]
fn coverage_and_rmse_of_exact_and_narrow_posteriors() {
    let (n, l) = (1000, 99);
    let (lg, exact, cov) = calibrate(1.0, n, l);
    let (_, _, narrow) = calibrate(0.5, n, l);
    let _ = exact;
    for level in [0.5, 0.9, 0.95] {
        let c = cov.coverage(level);
        let nc = narrow.coverage(level);
        println!("coverage {level}: exact {c:.3?}, narrow {nc:.3?}");
        // Binomial noise plus the 1/(L + 1) discreteness of L draws.
        let tol = 4.0 * binomial_se(level, n) + 1.0 / (l as f64 + 1.0);
        for k in 0..3 {
            assert!((c[k] - level).abs() <= tol);
            // Central interval of half width: P(|Z| ≤ z_level / 2) — well below nominal.
            assert!(nc[k] < level - 0.1);
        }
    }
    let curve = cov.curve(&levels(20));
    assert_eq!(curve.len(), 3);
    assert!(
        curve
            .iter()
            .all(|c| c.len() == 20 && c.windows(2).all(|w| w[0] <= w[1]) && c[19] == 1.0)
    );
    // The exact posterior mean's error has variance Σₖₖ; the mean of L draws adds Σₖₖ/L.
    let rmse = cov.rmse();
    let sd = cov.mean_sd();
    let nsd = narrow.mean_sd();
    for k in 0..3 {
        let expect = (lg.cov[k][k] * (1.0 + 1.0 / l as f64)).sqrt();
        println!(
            "param {k}: RMSE {:.4} vs {expect:.4}, mean sd {:.4} (narrow {:.4})",
            rmse[k], sd[k], nsd[k]
        );
        // Relative sd of an RMSE from n squared errors: √(1/(2n)).
        assert!((rmse[k] / expect - 1.0).abs() <= 4.0 * (0.5 / n as f64).sqrt());
        assert!((sd[k] / lg.cov[k][k].sqrt() - 1.0).abs() < 0.02);
        assert!((nsd[k] / sd[k] - 0.5).abs() < 0.01);
    }
}

/// The use the grid exists for: an MCMC reference of a sharp, strongly correlated 2-D
/// posterior (ρ ≈ −0.94) agrees with the grid. The sampler's affine invariance makes the
/// correlation harmless.
#[test]
fn mcmc_agrees_with_grid_on_a_correlated_posterior() {
    let lg = problem2();
    let y = lg.simulate(&[0.4, -0.3], &mut Rng::new(21));
    let mu = lg.post_mean(&y);
    let sd = [lg.cov[0][0].sqrt(), lg.cov[1][1].sqrt()];
    let lo = [mu[0] - 7.0 * sd[0], mu[1] - 7.0 * sd[1]];
    let hi = [mu[0] + 7.0 * sd[0], mu[1] + 7.0 * sd[1]];
    let g = GridPosterior::evaluate(|x| lg.log_post(x, &y), lo, hi, 200)
        .unwrap()
        .moments();
    // Start far from the posterior (the prior mean, ~2 sd away, with a wide ball).
    let res = ensemble_sample(
        |x| lg.log_post(x, &y),
        &Init::Ball {
            center: vec![0.0, 0.0],
            scale: vec![0.5, 0.5],
        },
        &EnsembleOptions {
            walkers: 16,
            burn_in: 1000,
            steps: 8000,
            seed: 9,
            ..Default::default()
        },
    )
    .unwrap();
    let s = res.samples();
    let n = s.len() as f64;
    let m: Vec<f64> = (0..2)
        .map(|k| s.iter().map(|d| d[k]).sum::<f64>() / n)
        .collect();
    let v: Vec<f64> = (0..2)
        .map(|k| s.iter().map(|d| (d[k] - m[k]).powi(2)).sum::<f64>() / (n - 1.0))
        .collect();
    let c = s.iter().map(|d| (d[0] - m[0]) * (d[1] - m[1])).sum::<f64>()
        / (n - 1.0)
        / (v[0] * v[1]).sqrt();
    let ess = res.min_ess();
    println!(
        "mcmc vs grid: mean {m:?} vs {:?}, corr {c:.4} vs {:.4}, ESS {ess:.0}, R̂ {:.4}",
        g.mean,
        g.corr,
        res.max_rhat()
    );
    assert!(res.max_rhat() < 1.01);
    for k in 0..2 {
        assert!((m[k] - g.mean[k]).abs() <= 4.0 * g.sd[k] / ess.sqrt());
        // sd of a sample sd ≈ sd/√(2 ESS).
        assert!((v[k].sqrt() - g.sd[k]).abs() <= 4.0 * g.sd[k] / (2.0 * ess).sqrt());
    }
    // sd of a sample correlation ≈ (1 − ρ²)/√ESS.
    assert!((c - g.corr).abs() <= 4.0 * (1.0 - g.corr * g.corr) / ess.sqrt());
}

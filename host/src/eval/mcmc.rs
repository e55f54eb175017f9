//! Reference posterior samplers (docs/architecture.md, "Evaluation"), both gradient-free
//! and insensitive to the scale and correlation of the exact posteriors, which are sharp
//! (≈1/500 of the prior width) and strongly correlated:
//!
//! - [`ensemble_sample`]: the affine-invariant ensemble sampler of Goodman & Weare (2010)
//!   with the stretch move (emcee's default, scale a = 2), one tuning constant. Walkers
//!   are updated in two halves (each against the other, Foreman-Mackey et al. 2013), so
//!   one half's log densities are evaluated in parallel. In two dimensions it is cheap;
//!   in eight its autocorrelation time is ~160 steps (session 16's swellex-ssp case: ESS
//!   1,050–1,450 from 16 walkers × 12,000 steps).
//! - [`adaptive_metropolis`]: independent random-walk Metropolis chains whose Gaussian
//!   steps are fitted to the pooled chains during burn-in (Haario, Saksman & Tamminen
//!   2001; scale 2.38²/d, Roberts & Rosenthal 2001) and frozen after it, so the kept
//!   draws are an ordinary Metropolis chain. Its autocorrelation time is ~3.3 d steps on
//!   a near-Gaussian target, and R̂ needs ~4 chains rather than 2 d walkers: the
//!   eight-unknown references cost a fraction of the ensemble's.
//!
//! All random numbers are drawn serially from one seeded [`Rng`] before each parallel
//! evaluation, so results do not depend on the thread count.

use rayon::prelude::*;
use vina_core::rng::Rng;

use super::diagnostics::{self, ParamDiagnostics};
use super::{EvalError, invalid};

/// Where the walkers start.
#[derive(Debug, Clone, PartialEq)]
pub enum Init {
    /// Independent draws `center + scale ⊙ N(0, I)`; a draw outside the support is
    /// redrawn (up to 1000 times per walker). Make the ball small compared with the
    /// posterior around a good start point, or wide if `center` is only a guess; burn-in
    /// forgets it either way.
    Ball { center: Vec<f64>, scale: Vec<f64> },
    /// One start point per walker given by the caller (e.g. prior draws or draws of an
    /// amortized posterior); each must have a finite log density.
    Points(Vec<Vec<f64>>),
}

/// Options of [`ensemble_sample`].
#[derive(Debug, Clone, PartialEq)]
pub struct EnsembleOptions {
    /// Number of walkers: even and at least 2 × dimension (more walkers mix better in
    /// correlated posteriors and parallelize better).
    pub walkers: usize,
    /// Iterations discarded at the start.
    pub burn_in: usize,
    /// Iterations after burn-in.
    pub steps: usize,
    /// Keep every `thin`-th iteration after burn-in.
    pub thin: usize,
    /// Stretch scale a > 1 of the proposal density g(z) ∝ 1/√z on [1/a, a].
    pub stretch: f64,
    /// Seed of the sampler's random stream.
    pub seed: u64,
    /// Evaluate each half-ensemble's log densities with rayon (worth it when the log
    /// density is a forward-model solve; the result is the same either way).
    pub parallel: bool,
}

impl Default for EnsembleOptions {
    fn default() -> Self {
        Self {
            walkers: 32,
            burn_in: 1000,
            steps: 2000,
            thin: 1,
            stretch: 2.0,
            seed: 0,
            parallel: true,
        }
    }
}

/// Draws of [`ensemble_sample`] with their diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub struct McmcResult {
    /// `chains[w][t]` is walker `w`'s `t`-th kept draw (after burn-in and thinning).
    pub chains: Vec<Vec<Vec<f64>>>,
    /// Fraction of accepted proposals after burn-in (0.2–0.5 is healthy for the stretch
    /// move; much lower suggests a multimodal or badly scaled problem).
    pub acceptance_rate: f64,
    /// R̂ and ESS per parameter, treating walkers as chains (as emcee users commonly do;
    /// the walkers are weakly dependent through the moves).
    pub diagnostics: Vec<ParamDiagnostics>,
}

impl McmcResult {
    /// All kept draws as one set (step-major: step t of every walker, then step t + 1).
    pub fn samples(&self) -> Vec<Vec<f64>> {
        let len = self.chains.first().map_or(0, Vec::len);
        (0..len)
            .flat_map(|t| self.chains.iter().map(move |c| c[t].clone()))
            .collect()
    }

    /// The smallest ESS over parameters: the sample size that bounds every mean's error.
    pub fn min_ess(&self) -> f64 {
        self.diagnostics
            .iter()
            .map(|d| d.ess)
            .fold(f64::INFINITY, f64::min)
    }

    /// The largest R̂ over parameters.
    pub fn max_rhat(&self) -> f64 {
        self.diagnostics
            .iter()
            .map(|d| d.rhat)
            .fold(f64::NEG_INFINITY, f64::max)
    }
}

/// Uniform index in 0..n.
fn uniform_index(rng: &mut Rng, n: usize) -> usize {
    ((rng.uniform_f64() * n as f64) as usize).min(n - 1)
}

/// NaN log densities count as outside the support.
fn sanitize(lp: f64) -> f64 {
    if lp.is_nan() { f64::NEG_INFINITY } else { lp }
}

/// Samples the density `exp(log_density(x))` (unnormalized; `-inf` outside the support)
/// with the stretch-move ensemble sampler.
pub fn ensemble_sample<F>(
    log_density: F,
    init: &Init,
    opts: &EnsembleOptions,
) -> Result<McmcResult, EvalError>
where
    F: Fn(&[f64]) -> f64 + Sync,
{
    ensemble_sample_walkers(|_, x| log_density(x), init, opts)
}

/// [`ensemble_sample`] with the walker's index passed to `log_density(walker, x)`: each
/// walker's points are evaluated in order, one at a time, so per-walker state (the
/// forward model's warm start, `vina reference`) stays deterministic for a seed.
pub fn ensemble_sample_walkers<F>(
    log_density: F,
    init: &Init,
    opts: &EnsembleOptions,
) -> Result<McmcResult, EvalError>
where
    F: Fn(usize, &[f64]) -> f64 + Sync,
{
    let mut rng = Rng::new(opts.seed);
    let dim = init_dim(init)?;
    let nw = opts.walkers;
    if dim == 0 {
        return Err(invalid("mcmc: dimension 0"));
    }
    if !nw.is_multiple_of(2) || nw < 2 * dim {
        return Err(invalid(format!(
            "mcmc: {nw} walkers; need an even number ≥ 2 × dimension = {}",
            2 * dim
        )));
    }
    if opts.thin == 0 || opts.steps / opts.thin < 8 {
        return Err(invalid("mcmc: need thin ≥ 1 and at least 8 kept steps"));
    }
    if opts.stretch.is_nan() || opts.stretch <= 1.0 {
        return Err(invalid("mcmc: stretch scale must be > 1"));
    }

    let (mut pos, mut lp) = start_points(&log_density, init, nw, dim, &mut rng)?;

    let a = opts.stretch;
    let half = nw / 2;
    let kept = opts.steps / opts.thin;
    let mut chains: Vec<Vec<Vec<f64>>> = vec![Vec::with_capacity(kept); nw];
    let mut accepted = 0usize;
    let mut proposed = 0usize;
    for iter in 0..opts.burn_in + opts.steps {
        for (active, other) in [(0..half, half..nw), (half..nw, 0..half)] {
            // Draw every random number of this half-step first (serially, in walker order).
            let mut props: Vec<(Vec<f64>, f64, f64)> = Vec::with_capacity(half);
            for k in active.clone() {
                let j = other.start + uniform_index(&mut rng, other.len());
                let u = rng.uniform_f64();
                // z ~ g(z) ∝ 1/√z on [1/a, a] by inversion.
                let z = ((a - 1.0) * u + 1.0).powi(2) / a;
                let y: Vec<f64> = pos[j]
                    .iter()
                    .zip(&pos[k])
                    .map(|(xj, xk)| xj + z * (xk - xj))
                    .collect();
                let log_u = rng.uniform_f64().ln();
                props.push((y, z, log_u));
            }
            let first = active.start;
            let new_lp: Vec<f64> = if opts.parallel {
                props
                    .par_iter()
                    .enumerate()
                    .map(|(i, (y, _, _))| sanitize(log_density(first + i, y)))
                    .collect()
            } else {
                props
                    .iter()
                    .enumerate()
                    .map(|(i, (y, _, _))| sanitize(log_density(first + i, y)))
                    .collect()
            };
            for ((k, (y, z, log_u)), l) in active.zip(props).zip(new_lp) {
                let log_ratio = (dim as f64 - 1.0) * z.ln() + l - lp[k];
                let accept = l.is_finite() && log_u < log_ratio;
                if iter >= opts.burn_in {
                    proposed += 1;
                    accepted += usize::from(accept);
                }
                if accept {
                    pos[k] = y;
                    lp[k] = l;
                }
            }
        }
        if iter >= opts.burn_in && (iter - opts.burn_in + 1).is_multiple_of(opts.thin) {
            for (c, x) in chains.iter_mut().zip(&pos) {
                c.push(x.clone());
            }
        }
    }

    let diagnostics = diagnostics::summarize(&chains)?;
    Ok(McmcResult {
        chains,
        acceptance_rate: accepted as f64 / proposed.max(1) as f64,
        diagnostics,
    })
}

/// The dimension of the points `init` describes (0 when it describes none).
fn init_dim(init: &Init) -> Result<usize, EvalError> {
    match init {
        Init::Ball { center, scale } => {
            if center.len() != scale.len() {
                return Err(invalid("mcmc: center and scale have different lengths"));
            }
            Ok(center.len())
        }
        Init::Points(p) => Ok(p.first().map_or(0, Vec::len)),
    }
}

/// `n` start points of `init` and their log densities (walker or chain `w` evaluated
/// with index `w`).
fn start_points<F>(
    log_density: &F,
    init: &Init,
    n: usize,
    dim: usize,
    rng: &mut Rng,
) -> Result<(Vec<Vec<f64>>, Vec<f64>), EvalError>
where
    F: Fn(usize, &[f64]) -> f64 + Sync,
{
    let mut pos: Vec<Vec<f64>> = Vec::with_capacity(n);
    let mut lp: Vec<f64> = Vec::with_capacity(n);
    match init {
        Init::Ball { center, scale } => {
            for w in 0..n {
                let mut found = false;
                for _ in 0..1000 {
                    let x: Vec<f64> = center
                        .iter()
                        .zip(scale)
                        .map(|(c, s)| c + s * rng.normal_f64())
                        .collect();
                    let l = sanitize(log_density(w, &x));
                    if l.is_finite() {
                        pos.push(x);
                        lp.push(l);
                        found = true;
                        break;
                    }
                }
                if !found {
                    return Err(invalid(format!(
                        "mcmc: no start point with finite log density for walker {w} \
                         in 1000 draws from the ball"
                    )));
                }
            }
        }
        Init::Points(points) => {
            if points.len() != n {
                return Err(invalid(format!(
                    "mcmc: {} start points for {n} walkers",
                    points.len()
                )));
            }
            for (w, x) in points.iter().enumerate() {
                if x.len() != dim {
                    return Err(invalid(format!(
                        "mcmc: start point {w} has wrong dimension"
                    )));
                }
                let l = sanitize(log_density(w, x));
                if !l.is_finite() {
                    return Err(invalid(format!(
                        "mcmc: start point {w} has log density {l}"
                    )));
                }
                pos.push(x.clone());
                lp.push(l);
            }
        }
    }

    Ok((pos, lp))
}

/// Options of [`adaptive_metropolis`].
#[derive(Debug, Clone, PartialEq)]
pub struct MetropolisOptions {
    /// Independent chains (at least [`MIN_CHAINS`]; R̂ compares them).
    pub chains: usize,
    /// Steps per chain spent fitting the steps' Gaussian, then discarded (at least
    /// [`ADAPT_BATCH`]).
    pub burn_in: usize,
    /// Steps per chain after burn-in, with the fitted Gaussian frozen.
    pub steps: usize,
    /// Keep every `thin`-th step after burn-in.
    pub thin: usize,
    /// Seed of the sampler's random stream.
    pub seed: u64,
    /// Evaluate the chains' proposals of one step with rayon (the result is the same
    /// either way).
    pub parallel: bool,
}

impl Default for MetropolisOptions {
    fn default() -> Self {
        Self {
            chains: 8,
            burn_in: 2000,
            steps: 4000,
            thin: 1,
            seed: 0,
            parallel: true,
        }
    }
}

/// Fewest chains [`adaptive_metropolis`] runs: R̂ needs several to compare.
pub const MIN_CHAINS: usize = 4;
/// Burn-in steps between two refits of the steps' Gaussian.
pub const ADAPT_BATCH: usize = 50;
/// Acceptance rate the burn-in tunes the step scale towards (optimal for a random walk
/// in several dimensions, Roberts, Gelman & Gilks 1997).
const TARGET_ACCEPTANCE: f64 = 0.234;

/// Samples `exp(log_density(chain, x))` (unnormalized; `-inf` outside the support) with
/// `opts.chains` random-walk Metropolis chains, each evaluated in order with its own
/// index (per-chain state such as the forward model's warm start stays deterministic).
///
/// Proposals are `x + λ·(2.38/√d)·L·z`, z ~ N(0, I), L the Cholesky factor of the
/// covariance of the pooled chains' draws in the second half of the burn-in so far
/// (refitted every [`ADAPT_BATCH`] steps; the start spread before the first fit), and
/// log λ moved towards an acceptance rate of 0.234 after each batch (by 3·(rate −
/// 0.234)/√batch). Both freeze at the end of burn-in, so the kept draws are a Metropolis chain
/// with a fixed symmetric proposal: valid whatever the adaptation did; the adaptation
/// only decides how well it mixes, which R̂ and ESS then report. At most
/// [`vina_core::limits::MAX_PARAMS`] dimensions (the Gaussian fit is `vina-core`'s, the
/// refinement's).
pub fn adaptive_metropolis<F>(
    log_density: F,
    init: &Init,
    opts: &MetropolisOptions,
) -> Result<McmcResult, EvalError>
where
    F: Fn(usize, &[f64]) -> f64 + Sync,
{
    use vina_core::limits::MAX_PARAMS;
    use vina_core::refine::population_cholesky;

    let mut rng = Rng::new(opts.seed);
    let dim = init_dim(init)?;
    if dim == 0 || dim > MAX_PARAMS {
        return Err(invalid(format!(
            "mcmc: dimension {dim}; adaptive Metropolis handles 1 to {MAX_PARAMS}"
        )));
    }
    let nc = opts.chains;
    if nc < MIN_CHAINS {
        return Err(invalid(format!(
            "mcmc: {nc} chains; need at least {MIN_CHAINS} for R̂"
        )));
    }
    if opts.burn_in < ADAPT_BATCH {
        return Err(invalid(format!(
            "mcmc: burn-in {} steps; the adaptation needs at least {ADAPT_BATCH}",
            opts.burn_in
        )));
    }
    if opts.thin == 0 || opts.steps / opts.thin < 8 {
        return Err(invalid("mcmc: need thin ≥ 1 and at least 8 kept steps"));
    }
    let (mut pos, mut lp) = start_points(&log_density, init, nc, dim, &mut rng)?;

    let base = 2.38 / (dim as f64).sqrt();
    let flat = |rows: &[Vec<f64>]| -> Vec<f64> { rows.iter().flatten().copied().collect() };
    // Before the first fit: the start points' spread (a ball's scale when they coincide
    // to rounding, through the fit's ridge).
    let start_spread = match init {
        Init::Ball { center, scale } => {
            let mut corners = Vec::with_capacity(2 * dim);
            for k in 0..dim {
                for sign in [-1.0, 1.0] {
                    let mut x = center.clone();
                    x[k] += sign * scale[k];
                    corners.push(x);
                }
            }
            flat(&corners)
        }
        Init::Points(_) => flat(&pos),
    };
    let (_, mut chol) = population_cholesky(&start_spread, dim, 1.0);
    let mut log_lambda = 0.0f64;
    let mut history: Vec<Vec<f64>> = Vec::with_capacity(nc * opts.burn_in);

    let kept = opts.steps / opts.thin;
    let mut chains: Vec<Vec<Vec<f64>>> = vec![Vec::with_capacity(kept); nc];
    let (mut accepted, mut proposed) = (0usize, 0usize);
    let mut batch_accepted = 0usize;
    for iter in 0..opts.burn_in + opts.steps {
        let step = base * log_lambda.exp();
        // Every random number of this step first, serially in chain order.
        let props: Vec<(Vec<f64>, f64)> = pos
            .iter()
            .map(|x| {
                let z: Vec<f64> = (0..dim).map(|_| rng.normal_f64()).collect();
                let y: Vec<f64> = (0..dim)
                    .map(|r| x[r] + step * (0..=r).map(|c| chol[r][c] * z[c]).sum::<f64>())
                    .collect();
                (y, rng.uniform_f64().ln())
            })
            .collect();
        let eval = |(i, (y, _)): (usize, &(Vec<f64>, f64))| sanitize(log_density(i, y));
        let new_lp: Vec<f64> = if opts.parallel {
            props.par_iter().enumerate().map(eval).collect()
        } else {
            props.iter().enumerate().map(eval).collect()
        };
        for (k, ((y, log_u), l)) in props.into_iter().zip(new_lp).enumerate() {
            let accept = l.is_finite() && log_u < l - lp[k];
            if accept {
                pos[k] = y;
                lp[k] = l;
            }
            if iter >= opts.burn_in {
                proposed += 1;
                accepted += usize::from(accept);
            } else {
                batch_accepted += usize::from(accept);
            }
        }
        if iter < opts.burn_in {
            history.extend(pos.iter().cloned());
            let done = iter + 1;
            if done.is_multiple_of(ADAPT_BATCH) {
                let batch = done / ADAPT_BATCH;
                let rate = batch_accepted as f64 / (nc * ADAPT_BATCH) as f64;
                log_lambda += 3.0 * (rate - TARGET_ACCEPTANCE) / (batch as f64).sqrt();
                batch_accepted = 0;
                // The second half of the burn-in so far: the early, far-from-equilibrium
                // steps are forgotten as the chains settle.
                let window = &history[nc * (done / 2)..];
                (_, chol) = population_cholesky(&flat(window), dim, 1.0);
            }
        } else if (iter - opts.burn_in + 1).is_multiple_of(opts.thin) {
            for (c, x) in chains.iter_mut().zip(&pos) {
                c.push(x.clone());
            }
        }
    }

    let diagnostics = diagnostics::summarize(&chains)?;
    Ok(McmcResult {
        chains,
        acceptance_rate: accepted as f64 / proposed.max(1) as f64,
        diagnostics,
    })
}

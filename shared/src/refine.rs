//! Exact-likelihood refinement of an amortized posterior (design §6, issue 10).
//!
//! A network trained once over the prior box is calibrated but wider than the exact
//! posterior. This step uses it as a proposal and the exact log-posterior as the answer:
//!
//! 1. **Importance sampling.** `n` draws from a (widened) proposal q with their log
//!    densities, self-normalized weights `w ∝ π(x)/q(x)` (log-sum-exp), effective sample
//!    size `ESS = (Σw)²/Σw²`.
//! 2. **Systematic resampling** to `n` equally weighted particles (lowest variance of the
//!    standard schemes, one uniform draw).
//! 3. **Random-walk Metropolis**, `steps` sweeps over every particle, with a Gaussian
//!    proposal `N(0, λ·2.38²/d·Σ)`, Σ the current particle covariance (recomputed each
//!    sweep: an SMC move kernel may adapt to the population, each sweep still leaves π
//!    invariant). λ adapts to the sweep's acceptance, so a population that collapsed
//!    onto few distinct points (a missed proposal) spreads again.
//!
//! Why both: importance sampling alone is exact only as `n → ∞` and degenerates when the
//! proposal is much wider or offset; the MH sweeps rejuvenate duplicated particles and
//! correct what the weights could not, while the weights give the ESS that says how well
//! the network did. A low ESS or a dominant weight is reported as [`Report::missed`].
//!
//! Everything runs on caller buffers (no heap) and is generic over [`Real`]: f32 on the
//! buoy, f64 on the host. Random numbers come from one [`Rng`] in a fixed order that
//! does not depend on `T` (f32 normals and uniforms converted to `T`), and the log target
//! is evaluated in batches through a closure, so the host may evaluate a batch in
//! parallel and still get the device's result for the same seed, up to float rounding
//! (a rounding difference can flip an accept decision very close to its threshold).

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::acoustics::Real;
use crate::error::ModelError;
use crate::layers::{MAX_DIM, Scratch};
use crate::model::Model;
use crate::model_file::ModelKind;
use crate::rng::Rng;
use crate::sampling;

/// Most parameters a refinement handles (its covariance and Cholesky factor live on the
/// stack).
pub const MAX_PARAMS: usize = 8;

/// Settings of [`refine`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefineConfig {
    /// Random-walk Metropolis sweeps over all particles after resampling.
    pub steps: u32,
    /// The proposal missed when the ESS is below `min_ess_fraction` × particles.
    pub min_ess_fraction: f64,
    /// … or when the largest normalized weight exceeds this.
    pub max_weight: f64,
}

impl Default for RefineConfig {
    fn default() -> Self {
        Self {
            steps: 20,
            min_ess_fraction: 0.02,
            max_weight: 0.5,
        }
    }
}

/// What a refinement did: the numbers to report beside the refined posterior.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Report {
    /// Particles.
    pub particles: usize,
    /// Metropolis sweeps.
    pub steps: u32,
    /// Effective sample size of the importance weights (1 … particles).
    pub ess: f64,
    /// Largest normalized importance weight.
    pub max_weight: f64,
    /// Share of proposal draws with a finite log target (inside the prior's support).
    pub finite_fraction: f64,
    /// Metropolis acceptance rate over all sweeps.
    pub acceptance: f64,
    /// Acceptance rate of the last sweep.
    pub last_acceptance: f64,
    /// Step-size multiplier λ after adaptation (1 = the 2.38²/d rule).
    pub scale: f64,
    /// The proposal missed the posterior: ESS below the threshold or one weight dominant.
    /// The particles then rest mostly on the Metropolis sweeps; trust them less.
    pub missed: bool,
}

/// Why a refinement could not run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RefineError<E> {
    /// Buffers of the wrong length, zero particles or parameters, or more than
    /// [`MAX_PARAMS`] parameters.
    Shape {
        /// What is wrong.
        what: &'static str,
    },
    /// The proposal failed.
    Proposal(E),
    /// No proposal draw has a finite log target: nothing to weight.
    NoSupport,
}

impl<E: fmt::Display> fmt::Display for RefineError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shape { what } => write!(f, "refine: {what}"),
            Self::Proposal(e) => write!(f, "refine: proposal: {e}"),
            Self::NoSupport => f.write_str(
                "refine: no proposal draw has a finite log posterior (all outside the prior or the forward model failed)",
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> core::error::Error for RefineError<E> {}

/// Length of the `work` buffer [`refine`] needs for `particles` particles of `dim`
/// parameters.
pub const fn work_len(particles: usize, dim: usize) -> usize {
    particles * dim + 3 * particles
}

fn finite_or_neg_inf<T: Real>(v: T) -> T {
    if v.is_nan() || v == T::infinity() {
        T::neg_infinity()
    } else {
        v
    }
}

/// Refine `particles` (`n × dim`, row-major; written, not read) towards the target.
///
/// * `proposal(rng, x)` writes one draw into `x` (length `dim`) and returns its log
///   density (constants may be dropped: they cancel in self-normalized weights).
/// * `log_target(points, out)` writes the unnormalized log posterior of each row of
///   `points` (`out.len()` rows of `dim`) into `out`; NaN and −∞ mean "outside".
/// * `work`: at least [`work_len`]`(n, dim)` values.
///
/// On return `particles` holds `n` equally weighted draws. [`refine_within`] stops the
/// sweeps early when a budget runs out.
pub fn refine<T: Real, E>(
    config: &RefineConfig,
    dim: usize,
    rng: &mut Rng,
    proposal: impl FnMut(&mut Rng, &mut [T]) -> Result<T, E>,
    log_target: impl FnMut(&[T], &mut [T]),
    particles: &mut [T],
    work: &mut [T],
) -> Result<Report, RefineError<E>> {
    let always = |_| true;
    refine_within(
        config, dim, rng, proposal, log_target, always, particles, work,
    )
}

/// [`refine`] under a budget: before Metropolis sweep `k` (0-based) `keep_going(k)` is
/// asked, and the sweeps stop at the first `false` ([`Report::steps`] says how many ran).
/// The buoy passes a clock check; the host replays the buoy's sweep count for the same
/// seed. The random stream is consumed per sweep, so a run cut after k sweeps equals a
/// run configured with k.
#[allow(clippy::too_many_arguments)] // the loop's inputs, each a different role
pub fn refine_within<T: Real, E>(
    config: &RefineConfig,
    dim: usize,
    rng: &mut Rng,
    mut proposal: impl FnMut(&mut Rng, &mut [T]) -> Result<T, E>,
    mut log_target: impl FnMut(&[T], &mut [T]),
    mut keep_going: impl FnMut(u32) -> bool,
    particles: &mut [T],
    work: &mut [T],
) -> Result<Report, RefineError<E>> {
    if dim == 0 || dim > MAX_PARAMS {
        return Err(RefineError::Shape {
            what: "parameter count must be 1 … MAX_PARAMS",
        });
    }
    if particles.is_empty() || !particles.len().is_multiple_of(dim) {
        return Err(RefineError::Shape {
            what: "particle buffer must hold a positive whole number of rows",
        });
    }
    let n = particles.len() / dim;
    let work = work.get_mut(..work_len(n, dim)).ok_or(RefineError::Shape {
        what: "work buffer shorter than work_len(particles, dim)",
    })?;
    let (moved, rest) = work.split_at_mut(n * dim);
    let (lp, rest) = rest.split_at_mut(n);
    let (lw, lp_moved) = rest.split_at_mut(n);

    // 1. Importance sampling.
    for (x, w) in particles.chunks_exact_mut(dim).zip(lw.iter_mut()) {
        *w = proposal(rng, x).map_err(RefineError::Proposal)?;
    }
    log_target(particles, lp);
    let mut finite = 0usize;
    for (w, p) in lw.iter_mut().zip(lp.iter_mut()) {
        *p = finite_or_neg_inf(*p);
        let lq = *w;
        *w = if *p == T::neg_infinity() || !lq.is_finite() {
            T::neg_infinity()
        } else {
            finite += 1;
            *p - lq
        };
    }
    let top = lw.iter().copied().fold(T::neg_infinity(), T::max);
    if top == T::neg_infinity() {
        return Err(RefineError::NoSupport);
    }
    let (mut sum, mut sum2) = (T::zero(), T::zero());
    for w in lw.iter_mut() {
        *w = (*w - top).exp();
        sum = sum + *w;
        sum2 = sum2 + *w * *w;
    }
    let ess = (sum * sum / sum2).to_f64().unwrap_or(0.0);
    let max_weight = (T::one() / sum).to_f64().unwrap_or(1.0);

    // 2. Systematic resampling: row i of the new set is the first old row whose
    //    cumulative weight exceeds (i + u)/n.
    let nt = T::lit(n as f64);
    let u = T::lit(f64::from(rng.uniform_f32()));
    let (mut cum, mut j) = (lw[0] / sum, 0usize);
    for i in 0..n {
        let target = (T::lit(i as f64) + u) / nt;
        while cum < target && j + 1 < n {
            j += 1;
            cum = cum + lw[j] / sum;
        }
        moved[i * dim..(i + 1) * dim].copy_from_slice(&particles[j * dim..(j + 1) * dim]);
        lp_moved[i] = lp[j];
    }
    particles.copy_from_slice(moved);
    lp.copy_from_slice(lp_moved);

    // 3. Random-walk Metropolis sweeps.
    let mut lambda = T::one();
    let base = T::lit(2.38 * 2.38 / dim as f64);
    let (mut accepted_total, mut last_acceptance, mut steps) = (0usize, 0.0, 0u32);
    for k in 0..config.steps {
        if !keep_going(k) {
            break;
        }
        steps += 1;
        let chol = proposal_cholesky(particles, dim, base * lambda);
        for (x, y) in particles.chunks_exact(dim).zip(moved.chunks_exact_mut(dim)) {
            let mut e = [T::zero(); MAX_PARAMS];
            for v in &mut e[..dim] {
                *v = T::lit(f64::from(rng.normal_f32()));
            }
            for r in 0..dim {
                let step = (0..=r).fold(T::zero(), |s, c| s + chol[r][c] * e[c]);
                y[r] = x[r] + step;
            }
        }
        log_target(moved, lp_moved);
        let mut accepted = 0usize;
        for i in 0..n {
            let u = T::lit(f64::from(rng.uniform_f32()));
            let new = finite_or_neg_inf(lp_moved[i]);
            if new != T::neg_infinity() && u.ln() < new - lp[i] {
                particles[i * dim..(i + 1) * dim].copy_from_slice(&moved[i * dim..(i + 1) * dim]);
                lp[i] = new;
                accepted += 1;
            }
        }
        accepted_total += accepted;
        let rate = accepted as f64 / n as f64;
        last_acceptance = rate;
        // Aim at ~0.3 acceptance: ×e^0.8 per sweep when everything moves, ÷e^0.6 when
        // nothing does; bounded so one unlucky sweep cannot wreck the scale.
        lambda = (lambda * T::lit(libm::exp(2.0 * (rate - 0.3))))
            .max(T::lit(1e-4))
            .min(T::lit(1e4));
    }
    let acceptance = if steps == 0 {
        0.0
    } else {
        accepted_total as f64 / (n as f64 * f64::from(steps))
    };
    let min_ess = config.min_ess_fraction * n as f64;
    Ok(Report {
        particles: n,
        steps,
        ess,
        max_weight,
        finite_fraction: finite as f64 / n as f64,
        acceptance,
        last_acceptance,
        scale: lambda.to_f64().unwrap_or(0.0),
        missed: ess < min_ess || max_weight > config.max_weight,
    })
}

/// Lower Cholesky factor of `scale` × the particles' covariance, with a small ridge so a
/// population collapsed onto one point still moves (the ridge is relative to the
/// particles' magnitude, and λ's adaptation then grows the steps).
#[allow(clippy::needless_range_loop)] // triangular matrix indexing reads as the formulas
fn proposal_cholesky<T: Real>(
    particles: &[T],
    dim: usize,
    scale: T,
) -> [[T; MAX_PARAMS]; MAX_PARAMS] {
    let n = particles.len() / dim;
    let nt = T::lit(n as f64);
    let mut mean = [T::zero(); MAX_PARAMS];
    for x in particles.chunks_exact(dim) {
        for (m, v) in mean.iter_mut().zip(x) {
            *m = *m + *v;
        }
    }
    for m in &mut mean[..dim] {
        *m = *m / nt;
    }
    let mut cov = [[T::zero(); MAX_PARAMS]; MAX_PARAMS];
    for x in particles.chunks_exact(dim) {
        for r in 0..dim {
            for c in 0..=r {
                cov[r][c] = cov[r][c] + (x[r] - mean[r]) * (x[c] - mean[c]);
            }
        }
    }
    let denom = T::lit((n.max(2) - 1) as f64);
    for r in 0..dim {
        for c in 0..=r {
            cov[r][c] = scale * cov[r][c] / denom;
        }
        // Ridge: 1e-6 of the variance, or 1e-7 of the value's magnitude squared-ish
        // (a collapsed population has zero variance).
        let floor = T::lit(1e-7) * (mean[r].abs() + T::one());
        let ridge = T::lit(1e-6) * cov[r][r] + floor * floor;
        cov[r][r] = cov[r][r] + ridge;
    }
    // In-place Cholesky–Banachiewicz; a non-positive pivot (rounding) falls back to the
    // diagonal's square root with the row's off-diagonals dropped.
    let mut l = [[T::zero(); MAX_PARAMS]; MAX_PARAMS];
    for r in 0..dim {
        for c in 0..=r {
            let s = (0..c).fold(cov[r][c], |s, k| s - l[r][k] * l[c][k]);
            if r == c {
                if s > T::zero() {
                    l[r][r] = s.sqrt();
                } else {
                    for k in 0..r {
                        l[r][k] = T::zero();
                    }
                    l[r][r] = cov[r][r].abs().sqrt();
                }
            } else {
                l[r][c] = if l[c][c] > T::zero() {
                    s / l[c][c]
                } else {
                    T::zero()
                };
            }
        }
    }
    l
}

/// A cINN's posterior as a refinement proposal: latents `z ~ N(0, τ²·I)` (τ = `widen` > 1
/// fattens the tails so the proposal covers an exact posterior it is offset from), and the
/// exact density of each draw from [`Model::sample`]'s log-determinant.
///
/// Only for a cINN: a paper-style INN pads x, so the density of x alone is a marginal the
/// flow does not give (fit a [`GaussianProposal`] to its draws instead).
pub struct NetworkProposal<'m, 'a, 'c> {
    model: &'m Model<'a>,
    context: &'c [f32],
    scratch: Scratch,
    widen: f32,
    log_norm: f32,
}

impl<'m, 'a, 'c> NetworkProposal<'m, 'a, 'c> {
    /// A proposal from a context filled by [`Model::prepare`].
    pub fn new(model: &'m Model<'a>, context: &'c [f32], widen: f32) -> Result<Self, ModelError> {
        if model.header().kind != ModelKind::Cinn {
            return Err(ModelError::InvalidValue {
                what: "a refinement proposal needs a cINN (an INN's x density is not tractable)",
            });
        }
        if !(widen.is_finite() && widen > 0.0) {
            return Err(ModelError::InvalidValue {
                what: "widening factor must be finite and positive",
            });
        }
        if model.x_dim() > MAX_PARAMS {
            return Err(ModelError::CapacityExceeded {
                what: "refinement parameters",
                capacity: MAX_PARAMS,
                requested: model.x_dim(),
            });
        }
        let d = model.latent_dim() as f32;
        let log_sigma: f32 = model.header().x_norm.std.iter().map(libm::logf).sum();
        Ok(Self {
            model,
            context,
            scratch: Scratch::new(),
            widen,
            log_norm: d * (libm::logf(widen) + 0.5 * libm::logf(core::f32::consts::TAU))
                + log_sigma,
        })
    }

    /// One draw into `x` (length x_dim) and its log density.
    pub fn draw<T: Real>(&mut self, rng: &mut Rng, x: &mut [T]) -> Result<T, ModelError> {
        let ld = self.model.latent_dim();
        let xd = self.model.x_dim();
        if x.len() != xd {
            return Err(ModelError::InvalidValue {
                what: "refinement particle length differs from the model's x_dim",
            });
        }
        let mut z = [0.0f32; MAX_DIM];
        let z = &mut z[..ld];
        rng.fill_normal(z);
        let mut quad = 0.0f32;
        for v in z.iter_mut() {
            quad += *v * *v;
            *v *= self.widen;
        }
        let mut xs = [0.0f32; MAX_PARAMS];
        let log_det = self
            .model
            .sample(self.context, z, &mut xs[..xd], &mut self.scratch)?;
        for (o, v) in x.iter_mut().zip(&xs[..xd]) {
            *o = T::lit(f64::from(*v));
        }
        Ok(T::lit(f64::from(-0.5 * quad - self.log_norm - log_det)))
    }
}

/// A multivariate normal proposal `N(μ, τ²·Σ)` with Σ from weighted-free sample moments
/// of network draws (for an INN, whose density is not tractable, or as a cheap proposal).
#[derive(Clone, Copy, Debug)]
pub struct GaussianProposal<T> {
    dim: usize,
    mean: [T; MAX_PARAMS],
    chol: [[T; MAX_PARAMS]; MAX_PARAMS],
    log_norm: T,
}

impl<T: Real> GaussianProposal<T> {
    /// Fit to `draws` (`rows × dim`, at least 2 rows), widened by `widen`.
    pub fn fit(draws: &[T], dim: usize, widen: T) -> Option<Self> {
        if dim == 0 || dim > MAX_PARAMS || draws.len() < 2 * dim || !draws.len().is_multiple_of(dim)
        {
            return None;
        }
        let chol = proposal_cholesky(draws, dim, widen * widen);
        let n = T::lit((draws.len() / dim) as f64);
        let mut mean = [T::zero(); MAX_PARAMS];
        for x in draws.chunks_exact(dim) {
            for (m, v) in mean.iter_mut().zip(x) {
                *m = *m + *v / n;
            }
        }
        let mut log_norm = T::lit(0.5 * dim as f64) * T::TAU().ln();
        for (r, row) in chol.iter().enumerate().take(dim) {
            if row[r].is_nan() || row[r] <= T::zero() {
                return None;
            }
            log_norm = log_norm + row[r].ln();
        }
        Some(Self {
            dim,
            mean,
            chol,
            log_norm,
        })
    }

    /// One draw into `x` (length dim) and its log density.
    pub fn draw(&self, rng: &mut Rng, x: &mut [T]) -> Result<T, ModelError> {
        let d = self.dim;
        if x.len() != d {
            return Err(ModelError::InvalidValue {
                what: "refinement particle length differs from the proposal's dimension",
            });
        }
        let mut e = [T::zero(); MAX_PARAMS];
        let mut quad = T::zero();
        for v in &mut e[..d] {
            *v = T::lit(f64::from(rng.normal_f32()));
            quad = quad + *v * *v;
        }
        for (r, (o, row)) in x.iter_mut().zip(&self.chol).enumerate() {
            *o = (0..=r).fold(self.mean[r], |s, c| s + row[c] * e[c]);
        }
        Ok(-T::lit(0.5) * quad - self.log_norm)
    }
}

/// Which proposal [`refine_network`] used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProposalKind {
    /// The cINN's own density with widened latents ([`NetworkProposal`]).
    Network,
    /// A widened Gaussian fitted to network draws ([`GaussianProposal`]; an INN's x
    /// density is not tractable).
    GaussianFit,
}

/// Refine `model`'s posterior (context filled by [`Model::prepare`]) with the proposal
/// its kind allows: a cINN's widened network density, or for an INN a Gaussian fitted to
/// `particles.len() / x_dim` of its draws from `seed`'s latent stream, widened by `widen`.
/// The refinement's own stream is `Rng::new(seed)`. One entry point for the host (f64,
/// parallel `log_target`) and the buoy (f32, budgeted by `keep_going`), so both draw the
/// same random numbers for the same seed. Arguments as in [`refine_within`].
#[allow(clippy::too_many_arguments)] // refine_within's inputs plus the network's
pub fn refine_network<T: Real>(
    config: &RefineConfig,
    model: &Model<'_>,
    context: &[f32],
    widen: f32,
    seed: u64,
    log_target: impl FnMut(&[T], &mut [T]),
    keep_going: impl FnMut(u32) -> bool,
    particles: &mut [T],
    work: &mut [T],
) -> Result<(Report, ProposalKind), RefineError<ModelError>> {
    let d = model.x_dim();
    let mut rng = Rng::new(seed);
    if model.header().kind == ModelKind::Cinn {
        let mut q = NetworkProposal::new(model, context, widen).map_err(RefineError::Proposal)?;
        let draw = |rng: &mut Rng, x: &mut [T]| q.draw(rng, x);
        let report = refine_within(
            config, d, &mut rng, draw, log_target, keep_going, particles, work,
        )?;
        return Ok((report, ProposalKind::Network));
    }
    let rows = particles.len() / d.max(1);
    let mut scratch = Scratch::new();
    let mut filled = particles.chunks_exact_mut(d.max(1));
    sampling::draw(model, context, &mut scratch, seed, rows as u32, |x| {
        if let Some(row) = filled.next() {
            for (o, v) in row.iter_mut().zip(x) {
                *o = T::lit(f64::from(*v));
            }
        }
    })
    .map_err(RefineError::Proposal)?;
    let q = GaussianProposal::fit(particles, d, T::lit(f64::from(widen))).ok_or(
        RefineError::Proposal(ModelError::InvalidValue {
            what: "network draws have a degenerate covariance (no Gaussian proposal)",
        }),
    )?;
    let draw = |rng: &mut Rng, x: &mut [T]| q.draw(rng, x);
    let report = refine_within(
        config, d, &mut rng, draw, log_target, keep_going, particles, work,
    )?;
    Ok((report, ProposalKind::GaussianFit))
}

//! Exact-likelihood refinement of an amortized posterior (docs/architecture.md,
//! "Exact-likelihood refinement and its fallback").
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
//!    onto few distinct points (a missed proposal) spreads again. Each sweep is a
//!    delayed-acceptance step (Christen & Fox 2005): a move is first tested against the
//!    particles' own Gaussian, and only the moves that pass cost a forward-model run
//!    (on gi-pekeris about half of them; the target stays exact, [`RandomWalk`]).
//!
//! Why both: importance sampling alone is exact only as `n → ∞` and degenerates when the
//! proposal is much wider or offset; the MH sweeps rejuvenate duplicated particles and
//! correct what the weights could not, while the weights give the ESS that says how well
//! the network did. A low ESS or a dominant weight is reported as [`RefineStats::missed`].
//!
//! Everything runs on caller buffers (no heap) and is generic over [`Real`]: f32 on the
//! buoy, f64 on the host. Random numbers come from one [`Rng`] in a fixed order that
//! does not depend on `T` (f32 normals and uniforms converted to `T`), and the log target
//! is evaluated in batches through a closure, so the host may evaluate a batch in
//! parallel and still get the device's result for the same seed, up to float rounding
//! (a rounding difference can flip an accept decision very close to its threshold).
//!
//! # Fallback: tempered sequential Monte Carlo from the prior
//!
//! A proposal that misses leaves a few duplicated points, and the sweeps can only hope
//! they sit on the posterior. [`refine_with_fallback`] then starts again from a reference
//! q0 that surely covers it, the prior, and bridges to the exact posterior π through
//! `π_β ∝ q0^{1−β}·π^β`, β from 0 to 1 ([`temper`]). Each stage
//!
//! 1. picks the next β by bisection so the ESS of the incremental weights `(π/q0)^{Δβ}`
//!    is [`TemperConfig::ess_fraction`] of the particles that can carry weight (after
//!    resampling every weight is equal, so this is the conditional ESS of Zhou, Johansen
//!    & Aston 2016);
//! 2. resamples systematically, as above;
//! 3. runs [`TemperConfig::sweeps`] sweeps of the same Metropolis kernel on π_β (log q0 and
//!    log π are kept per particle: the acceptance ratio of π_β needs both).
//!
//! Small steps in β keep each stage's importance sampling well conditioned, so the
//! particles follow the posterior as it narrows from the prior box, whatever the network
//! said. The price is about stages × sweeps × particles moves (half of them evaluated, on
//! a near-Gaussian target) instead of steps × particles, so it is the fallback, not the
//! default.

use core::convert::Infallible;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::acoustics::Real;
use crate::error::ModelError;
use crate::layers::{MAX_DIM, Scratch};
use crate::model::{Condition, Model};
use crate::model_file::ModelKind;
use crate::prior::Prior;
use crate::rng::Rng;
use crate::sampling;
use crate::template::EnvironmentTemplate;

pub use crate::limits::MAX_PARAMS;

/// Settings of a refinement: the one configuration type. The host adds only its seed and
/// particle count (`vina_host::refine::RefineSettings`), the buoy its static particle
/// count and its instruction budget (`crate::pipeline::refinement::Budget`). The particle
/// count is the caller's buffer (`particles.len() / dim`), not a setting here.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefineConfig {
    /// Random-walk Metropolis sweeps over all particles after resampling.
    pub steps: u32,
    /// Latent widening τ of the network proposal (`vina invert --widen`): the cINN is
    /// calibrated but about 2× wider than the exact posterior, so τ = 1.5 keeps its tails
    /// heavier than the target's where it is offset. For an INN, the widening of the
    /// Gaussian fitted to its draws.
    pub widen: f32,
    /// The proposal missed when the ESS is below `min_ess_fraction` × particles.
    pub min_ess_fraction: f64,
    /// … or when the largest normalized weight exceeds this.
    pub max_weight: f64,
}

impl RefineConfig {
    /// The workstation's defaults (`vina invert --refine`): 20 sweeps.
    pub const WORKSTATION: Self = Self {
        steps: 20,
        widen: 1.5,
        min_ess_fraction: 0.02,
        max_weight: 0.5,
    };

    /// The buoy's defaults: 5 sweeps, ~235 forward solves per report (64 proposal draws,
    /// the moves that pass the surrogate; `bench/refine_cortex_m4.txt`).
    pub const BUOY: Self = Self {
        steps: 5,
        ..Self::WORKSTATION
    };

    /// Check the settings: a finite, positive widening and thresholds in range.
    pub fn check(&self) -> Result<(), &'static str> {
        if !(self.widen.is_finite() && self.widen > 0.0) {
            return Err("widening factor must be finite and positive");
        }
        if !(self.min_ess_fraction >= 0.0 && self.min_ess_fraction <= 1.0) {
            return Err("min_ess_fraction must be in [0, 1]");
        }
        if !(self.max_weight > 0.0 && self.max_weight <= 1.0) {
            return Err("max_weight must be in (0, 1]");
        }
        Ok(())
    }
}

impl Default for RefineConfig {
    /// [`RefineConfig::WORKSTATION`].
    fn default() -> Self {
        Self::WORKSTATION
    }
}

/// What a refinement did: the numbers to report beside the refined posterior.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefineStats {
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
    /// Metropolis acceptance rate over all sweeps (both tests of a delayed-acceptance
    /// step passed).
    pub acceptance: f64,
    /// Acceptance rate of the last sweep.
    pub last_acceptance: f64,
    /// Step-size multiplier λ after adaptation (1 = the 2.38²/d rule).
    pub scale: f64,
    /// Rows passed to the log target (forward-model runs, the cost): the proposal draws
    /// and the moves that passed the surrogate's test.
    pub evaluations: usize,
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
    /// A setting is out of its range.
    Settings {
        /// Which, and the rule it breaks.
        what: &'static str,
    },
}

impl RefineError<Infallible> {
    /// The same error for a caller whose proposal can fail with `E`.
    fn widen<E>(self) -> RefineError<E> {
        match self {
            Self::Shape { what } => RefineError::Shape { what },
            Self::NoSupport => RefineError::NoSupport,
            Self::Settings { what } => RefineError::Settings { what },
            Self::Proposal(never) => match never {},
        }
    }
}

impl<E: fmt::Display> fmt::Display for RefineError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shape { what } | Self::Settings { what } => write!(f, "refine: {what}"),
            Self::Proposal(e) => write!(f, "refine: proposal: {e}"),
            Self::NoSupport => f.write_str(
                "refine: no proposal or prior draw has a finite log posterior (all outside the prior or the forward model failed)",
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

/// Length of the `work` buffer [`temper`] and [`refine_with_fallback`] need for
/// `particles` particles of `dim` parameters (≥ [`work_len`]).
pub const fn tempered_work_len(particles: usize, dim: usize) -> usize {
    particles * dim + 5 * particles
}

fn finite_or_neg_inf<T: Real>(v: T) -> T {
    if v.is_nan() || v == T::infinity() {
        T::neg_infinity()
    } else {
        v
    }
}

/// Rows of `dim` values in `particles`, or why the shapes cannot be refined.
fn rows<T, E>(dim: usize, particles: &[T]) -> Result<usize, RefineError<E>> {
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
    Ok(particles.len() / dim)
}

/// Row `j` of `src` into row `i` of `dst`.
fn copy_row<T: Copy>(dst: &mut [T], src: &[T], dim: usize, i: usize, j: usize) {
    dst[i * dim..(i + 1) * dim].copy_from_slice(&src[j * dim..(j + 1) * dim]);
}

/// `ln u` for the next f32 uniform u, the Metropolis test's draw.
fn ln_uniform<T: Real>(rng: &mut Rng) -> T {
    T::lit(f64::from(rng.uniform_f32())).ln()
}

/// Systematic resampling: new row i is the first old row whose cumulative weight exceeds
/// (i + u)/n, one uniform u for all; `take(i, j)` copies old row j into new row i
/// (everything a row carries). `weights` are non-negative with sum `sum` > 0.
fn systematic<T: Real>(rng: &mut Rng, weights: &[T], sum: T, mut take: impl FnMut(usize, usize)) {
    let n = weights.len();
    let nt = T::lit(n as f64);
    let u = T::lit(f64::from(rng.uniform_f32()));
    let (mut cum, mut j) = (weights[0] / sum, 0usize);
    for i in 0..n {
        let target = (T::lit(i as f64) + u) / nt;
        while cum < target && j + 1 < n {
            j += 1;
            cum = cum + weights[j] / sum;
        }
        take(i, j);
    }
}

/// The Metropolis kernel both loops share: Gaussian steps `N(0, λ·2.38²/d·Σ)`, Σ the
/// current particles' covariance (recomputed each sweep: an SMC move kernel may adapt to
/// the population, each sweep still leaves its target invariant), λ adapted to each
/// sweep's acceptance so a population that collapsed onto few points spreads again.
///
/// Each sweep is a delayed-acceptance Metropolis step (Christen & Fox 2005): a move
/// first has to pass the test of a cheap surrogate, a widened Gaussian of the same
/// particles ([`Screen`]), and only the moves that pass are evaluated and tested again
/// with the exact ratio divided by the surrogate's. The product of the two tests keeps
/// detailed balance for the exact target whatever the surrogate, so it changes the cost,
/// not the answer: a move the surrogate already calls unlikely (most of the rejected
/// ones near a near-Gaussian posterior) costs no forward-model run.
struct RandomWalk<T> {
    dim: usize,
    base: T,
    lambda: T,
    sweeps: u32,
    accepted: usize,
    tried: usize,
    last: f64,
    /// Moves that passed the surrogate and were evaluated.
    evaluations: usize,
}

impl<T: Real> RandomWalk<T> {
    fn new(dim: usize) -> Self {
        Self {
            dim,
            base: T::lit(2.38 * 2.38 / dim as f64),
            lambda: T::one(),
            sweeps: 0,
            accepted: 0,
            tried: 0,
            last: 0.0,
            evaluations: 0,
        }
    }

    /// One proposed move from each row of `particles` into `moved` (`dim` normals per
    /// row, rows in order), and the sweep's surrogate. Never inlined: one copy keeps the
    /// refining buoy ~1 KB smaller.
    #[inline(never)]
    fn propose(&self, rng: &mut Rng, particles: &[T], moved: &mut [T]) -> Screen<T> {
        // dim ≤ MAX_PARAMS (checked by the callers); saying so drops the bounds checks.
        let dim = self.dim.min(MAX_PARAMS);
        let scale = self.base * self.lambda;
        let fit = PopulationFit::new(particles, dim, scale);
        for (x, y) in particles.chunks_exact(dim).zip(moved.chunks_exact_mut(dim)) {
            let mut e = [T::zero(); MAX_PARAMS];
            for v in &mut e[..dim] {
                *v = T::lit(f64::from(rng.normal_f32()));
            }
            for r in 0..dim {
                let step = (0..=r).fold(T::zero(), |s, c| s + fit.chol[r][c] * e[c]);
                y[r] = x[r] + step;
            }
        }
        Screen {
            dim,
            fit,
            precision: scale / T::lit(SURROGATE_WIDENING * SURROGATE_WIDENING),
        }
    }

    /// Counts a sweep of `n` proposals and adapts λ.
    fn record(&mut self, accepted: usize, n: usize) {
        self.sweeps += 1;
        self.accepted += accepted;
        self.tried += n;
        let rate = accepted as f64 / n as f64;
        self.last = rate;
        // Aim at ~0.3 acceptance: ×e^0.8 per sweep when everything moves, ÷e^0.6 when
        // nothing does; bounded so one unlucky sweep cannot wreck the scale.
        self.lambda = (self.lambda * T::lit(libm::exp(2.0 * (rate - 0.3))))
            .max(T::lit(1e-4))
            .min(T::lit(1e4));
    }

    fn acceptance(&self) -> f64 {
        if self.tried == 0 {
            0.0
        } else {
            self.accepted as f64 / self.tried as f64
        }
    }

    fn scale(&self) -> f64 {
        self.lambda.to_f64().unwrap_or(0.0)
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
) -> Result<RefineStats, RefineError<E>> {
    let always = |_| true;
    refine_within(
        config, dim, rng, proposal, log_target, always, particles, work,
    )
}

/// [`refine`] under a budget: before Metropolis sweep `k` (0-based) `keep_going(k)` is
/// asked, and the sweeps stop at the first `false` ([`RefineStats::steps`] says how many ran).
/// The buoy passes a clock check; the host replays the buoy's sweep count for the same
/// seed. The random stream is consumed per sweep, so a run cut after k sweeps equals a
/// run configured with k.
#[allow(clippy::too_many_arguments)] // the loop's inputs, each a different role
pub fn refine_within<T: Real, E>(
    config: &RefineConfig,
    dim: usize,
    rng: &mut Rng,
    proposal: impl FnMut(&mut Rng, &mut [T]) -> Result<T, E>,
    log_target: impl FnMut(&[T], &mut [T]),
    keep_going: impl FnMut(u32) -> bool,
    particles: &mut [T],
    work: &mut [T],
) -> Result<RefineStats, RefineError<E>> {
    refine_or_report_miss(
        config, dim, rng, proposal, log_target, keep_going, particles, work, false,
    )
}

/// [`refine_within`]; with `stop_if_missed`, a proposal that missed returns its report
/// before resampling (no sweeps: the fallback starts over), and anything else runs as
/// without it, the same random numbers included.
#[allow(clippy::too_many_arguments)] // refine_within's inputs and the switch
fn refine_or_report_miss<T: Real, E>(
    config: &RefineConfig,
    dim: usize,
    rng: &mut Rng,
    mut proposal: impl FnMut(&mut Rng, &mut [T]) -> Result<T, E>,
    mut log_target: impl FnMut(&[T], &mut [T]),
    mut keep_going: impl FnMut(u32) -> bool,
    particles: &mut [T],
    work: &mut [T],
    stop_if_missed: bool,
) -> Result<RefineStats, RefineError<E>> {
    let n = rows(dim, particles)?;
    let work = work.get_mut(..work_len(n, dim)).ok_or(RefineError::Shape {
        what: "work buffer shorter than work_len(particles, dim)",
    })?;
    // Layout (as `resample_and_sweep` reads it): moved rows, log targets, weights, moved
    // log targets.
    let (lp, rest) = work[n * dim..].split_at_mut(n);
    let lw = &mut rest[..n];

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
    let missed = ess < config.min_ess_fraction * n as f64 || max_weight > config.max_weight;
    let mut walk = RandomWalk::new(dim);
    let report = |walk: &RandomWalk<T>| RefineStats {
        particles: n,
        steps: walk.sweeps,
        ess,
        max_weight,
        finite_fraction: finite as f64 / n as f64,
        acceptance: walk.acceptance(),
        last_acceptance: walk.last,
        scale: walk.scale(),
        evaluations: n + walk.evaluations,
        missed,
    };
    if missed && stop_if_missed {
        return Ok(report(&walk));
    }
    resample_and_sweep(
        config,
        dim,
        rng,
        &mut log_target,
        &mut keep_going,
        &mut walk,
        particles,
        work,
        sum,
    );
    Ok(report(&walk))
}

/// Steps 2 and 3 of [`refine_within`] on the weighted particles (`work` as it left them:
/// log targets and weights summing to `sum`). Generic over the target and the budget
/// only, so refinements with different proposals (the buoy links two) share one copy.
#[allow(clippy::too_many_arguments)] // the loop's state, each a different role
fn resample_and_sweep<T: Real>(
    config: &RefineConfig,
    dim: usize,
    rng: &mut Rng,
    log_target: &mut impl FnMut(&[T], &mut [T]),
    keep_going: &mut impl FnMut(u32) -> bool,
    walk: &mut RandomWalk<T>,
    particles: &mut [T],
    work: &mut [T],
    sum: T,
) {
    let n = particles.len() / dim;
    let (moved, rest) = work.split_at_mut(n * dim);
    let (lp, rest) = rest.split_at_mut(n);
    let (lw, lp_moved) = rest.split_at_mut(n);

    // 2. Systematic resampling.
    systematic(rng, lw, sum, |i, j| {
        copy_row(moved, particles, dim, i, j);
        lp_moved[i] = lp[j];
    });
    particles.copy_from_slice(moved);
    lp.copy_from_slice(lp_moved);

    // 3. Random-walk Metropolis sweeps, delayed acceptance ([`RandomWalk`]).
    for k in 0..config.steps {
        if !keep_going(k) {
            break;
        }
        let screen = walk.propose(rng, particles, moved);
        let m = screen.screen(rng, particles, moved, &mut [&mut *lp]);
        log_target(&moved[..m * dim], &mut lp_moved[..m]);
        walk.evaluations += m;
        let mut accepted = 0usize;
        for i in 0..m {
            let ln_u = ln_uniform::<T>(rng);
            let new = finite_or_neg_inf(lp_moved[i]);
            let screened = screen.log_ratio(moved, particles, i);
            if new != T::neg_infinity() && ln_u < new - lp[i] - screened {
                copy_row(particles, moved, dim, i, i);
                lp[i] = new;
                accepted += 1;
            }
        }
        walk.record(accepted, n);
    }
}

/// The particles' mean and the lower Cholesky factor of `scale` × their covariance: the
/// random walk's steps, its surrogate ([`Screen`]) and [`GaussianProposal`].
#[derive(Clone, Copy, Debug)]
struct PopulationFit<T> {
    mean: [T; MAX_PARAMS],
    chol: [[T; MAX_PARAMS]; MAX_PARAMS],
}

impl<T: Real> PopulationFit<T> {
    /// The fit of `particles` (`n × dim`, n ≥ 1), with a small ridge on the covariance so a
    /// population collapsed onto one point still moves (the ridge is relative to the
    /// particles' magnitude, and λ's adaptation then grows the steps).
    fn new(particles: &[T], dim: usize, scale: T) -> Self {
        let (mean, chol) = population_cholesky(particles, dim, scale);
        Self { mean, chol }
    }
}

/// How much wider (in sd) than the particles' Gaussian the surrogate of a
/// delayed-acceptance sweep is. A resampled cloud of few particles (the buoy's 64, ESS
/// ~17) is narrower than the posterior, and a surrogate that narrow screens out moves
/// the exact target would take, which slows the sweeps' spreading: on 300 simulated
/// gi-pekeris cases (64 particles, 5 sweeps; `calibration_network_vs_refined`) the
/// refined sds were 4.4 % and 4.6 % below plain Metropolis's at widening 1, 0.7 % and
/// 2.1 % at √2, 0.0 % and 1.2 % at 2, for 181, 208 and 249 forward runs per case
/// against 379: 2 keeps the summaries and saves a third.
const SURROGATE_WIDENING: f64 = 2.0;

/// The surrogate of a delayed-acceptance sweep ([`RandomWalk`]): the Gaussian N(μ, w²·Σ)
/// of the particles the sweep starts from (w = [`SURROGATE_WIDENING`]), whose log density
/// is a triangular solve with the steps' Cholesky factor L of c·Σ. Fixed for the sweep,
/// as the second test's correction needs.
struct Screen<T> {
    dim: usize,
    fit: PopulationFit<T>,
    /// `c / w²`, so that (x−μ)ᵀ(w²Σ)⁻¹(x−μ) = precision·|L⁻¹(x−μ)|².
    precision: T,
}

impl<T: Real> Screen<T> {
    /// Log density of N(μ, w²·Σ) at `x`, constants dropped. Never inlined: its three
    /// call sites share one copy on the buoy.
    #[inline(never)]
    fn log_density(&self, x: &[T]) -> T {
        let l = &self.fit.chol;
        let mut u = [T::zero(); MAX_PARAMS];
        let mut quad = T::zero();
        for r in 0..self.dim.min(MAX_PARAMS) {
            let s = (0..r).fold(x[r] - self.fit.mean[r], |s, c| s - l[r][c] * u[c]);
            u[r] = s / l[r][r];
            quad = quad + u[r] * u[r];
        }
        -T::lit(0.5) * self.precision * quad
    }

    /// `log s(y) − log s(x)` for row `i` of `moved` and `particles`.
    fn log_ratio(&self, moved: &[T], particles: &[T], i: usize) -> T {
        let d = self.dim;
        self.log_density(&moved[i * d..(i + 1) * d])
            - self.log_density(&particles[i * d..(i + 1) * d])
    }

    /// The first test of a delayed-acceptance sweep: move `i` passes when
    /// `ln u < log s(y) − log s(x)` (one uniform per row, in row order). The rows that
    /// pass are swapped to the front of `particles` and `moved`, with their values in each
    /// of `carried` (per-particle values such as log targets; the population's order
    /// carries no meaning), and their count returned: only those are evaluated.
    fn screen(
        &self,
        rng: &mut Rng,
        particles: &mut [T],
        moved: &mut [T],
        carried: &mut [&mut [T]],
    ) -> usize {
        let d = self.dim;
        let n = particles.len() / d.max(1);
        let mut passed = 0;
        for i in 0..n {
            let ln_u = ln_uniform::<T>(rng);
            if ln_u < self.log_ratio(moved, particles, i) {
                if passed != i {
                    for k in 0..d {
                        particles.swap(passed * d + k, i * d + k);
                        moved.swap(passed * d + k, i * d + k);
                    }
                    for c in carried.iter_mut() {
                        c.swap(passed, i);
                    }
                }
                passed += 1;
            }
        }
        passed
    }
}

/// Mean and lower Cholesky factor of `scale` × the covariance of `particles` (`n × dim`
/// row-major, n ≥ 1, dim ≤ [`MAX_PARAMS`]), with the ridge [`PopulationFit::new`]
/// describes. Public because the host's reference sampler
/// (`vina_host::eval::mcmc::adaptive_metropolis`) tunes its steps with the same fit.
#[allow(clippy::needless_range_loop)] // triangular matrix indexing reads as the formulas
pub fn population_cholesky<T: Real>(
    particles: &[T],
    dim: usize,
    scale: T,
) -> ([T; MAX_PARAMS], [[T; MAX_PARAMS]; MAX_PARAMS]) {
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
    (mean, l)
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

    /// The log density [`NetworkProposal::draw`] gives its draws, at any `x` (length
    /// x_dim): the flow's forward pass from the normalized `x` to the latent, and its
    /// log-determinant. Not finite where the flow cannot reach (outside a bounded layer's
    /// box).
    pub fn log_density<T: Real>(&mut self, x: &[T]) -> Result<T, ModelError> {
        let xd = self.model.x_dim();
        if x.len() != xd {
            return Err(ModelError::InvalidValue {
                what: "refinement particle length differs from the model's x_dim",
            });
        }
        let norm = &self.model.header().x_norm;
        let mut v = [0.0f32; MAX_DIM];
        let v = &mut v[..xd];
        for ((o, xi), (m, s)) in v
            .iter_mut()
            .zip(x)
            .zip(norm.mean.iter().zip(norm.std.iter()))
        {
            *o = (xi.to_f32().unwrap_or(f32::NAN) - m) / s;
        }
        let log_det =
            self.model
                .forward(v, Condition::Prepared(self.context), &mut self.scratch)?;
        let quad: f32 = v.iter().map(|u| (u / self.widen) * (u / self.widen)).sum();
        Ok(T::lit(f64::from(-0.5 * quad - self.log_norm + log_det)))
    }
}

/// The tempering reference q0 of [`refine_with_fallback`] after a network miss: the
/// defensive mixture `share·prior + (1 − share)·network` (Hesterberg 1995) of the
/// prior and the widened cINN density. The network part puts particles where the
/// observation points (in eight unknowns the prior's volume can hold a secondary basin
/// the tempering settles in and never leaves: swellex-ssp case 2, docs/architecture.md,
/// "Exact-likelihood refinement and its fallback"); the prior part keeps a confidently
/// wrong network from starving the run. Interior mutability: the flow's scratch is
/// reused by [`Reference`]'s `&self` methods.
pub struct DefensiveReference<'p, 'm, 'a, 'c, R: ?Sized> {
    prior: &'p R,
    network: core::cell::RefCell<NetworkProposal<'m, 'a, 'c>>,
    share: f64,
}

impl<'p, 'm, 'a, 'c, R: ?Sized> DefensiveReference<'p, 'm, 'a, 'c, R> {
    /// The mixture with `share` ∈ (0, 1] of `prior`.
    pub fn new(prior: &'p R, network: NetworkProposal<'m, 'a, 'c>, share: f64) -> Self {
        Self {
            prior,
            network: core::cell::RefCell::new(network),
            share,
        }
    }
}

impl<T: Real, R: Reference<T> + ?Sized> Reference<T> for DefensiveReference<'_, '_, '_, '_, R> {
    fn dim(&self) -> usize {
        self.prior.dim()
    }

    fn draw(&self, rng: &mut Rng, x: &mut [T]) {
        if rng.uniform_f64() < self.share {
            self.prior.draw(rng, x);
        } else if self.network.borrow_mut().draw(rng, x).is_err() {
            // a flow that cannot run (shape) gives no particle; the prior's part stays
            x.fill(T::nan());
        }
    }

    fn log_density(&self, x: &[T]) -> T {
        let lp = self.prior.log_density(x);
        let ln = self
            .network
            .borrow_mut()
            .log_density(x)
            .ok()
            .filter(|v: &T| v.is_finite())
            .unwrap_or(T::neg_infinity());
        let a = lp + T::lit(self.share).ln();
        let b = ln + T::lit(1.0 - self.share).ln();
        let top = if a > b { a } else { b };
        if top == T::neg_infinity() {
            return top;
        }
        top + ((a - top).exp() + (b - top).exp()).ln()
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
    /// Fit to `draws` (`rows × dim`, at least 2 rows), widened by `config.widen`.
    pub fn fit(draws: &[T], dim: usize, widen: T) -> Option<Self> {
        if dim == 0 || dim > MAX_PARAMS || draws.len() < 2 * dim || !draws.len().is_multiple_of(dim)
        {
            return None;
        }
        let PopulationFit { mean, chol } = PopulationFit::new(draws, dim, widen * widen);
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
/// `particles.len() / x_dim` of its draws from `seed`'s latent stream, widened by `config.widen`.
/// The refinement's own stream is `Rng::new(seed)`. One entry point for the host (f64,
/// parallel `log_target`) and the buoy (f32, budgeted by `keep_going`), so both draw the
/// same random numbers for the same seed. Arguments as in [`refine_within`].
///
/// A proposal that misses is only flagged ([`RefineStats::missed`]); [`refine_with_fallback`]
/// starts over from the prior instead.
#[allow(clippy::too_many_arguments)] // refine_within's inputs plus the network's
pub fn refine_network<T: Real>(
    config: &RefineConfig,
    model: &Model<'_>,
    context: &[f32],
    seed: u64,
    log_target: impl FnMut(&[T], &mut [T]),
    keep_going: impl FnMut(u32) -> bool,
    particles: &mut [T],
    work: &mut [T],
) -> Result<(RefineStats, ProposalKind), RefineError<ModelError>> {
    network_or_report_miss(
        config, model, context, seed, log_target, keep_going, particles, work, false,
    )
}

/// [`refine_network`] through [`refine_or_report_miss`].
#[allow(clippy::too_many_arguments)] // refine_network's inputs and the switch
fn network_or_report_miss<T: Real>(
    config: &RefineConfig,
    model: &Model<'_>,
    context: &[f32],
    seed: u64,
    log_target: impl FnMut(&[T], &mut [T]),
    keep_going: impl FnMut(u32) -> bool,
    particles: &mut [T],
    work: &mut [T],
    stop_if_missed: bool,
) -> Result<(RefineStats, ProposalKind), RefineError<ModelError>> {
    let d = model.x_dim();
    let mut rng = Rng::new(seed);
    if model.header().kind == ModelKind::Cinn {
        let mut q =
            NetworkProposal::new(model, context, config.widen).map_err(RefineError::Proposal)?;
        let draw = |rng: &mut Rng, x: &mut [T]| q.draw(rng, x);
        let report = refine_or_report_miss(
            config,
            d,
            &mut rng,
            draw,
            log_target,
            keep_going,
            particles,
            work,
            stop_if_missed,
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
    let q = GaussianProposal::fit(particles, d, T::lit(f64::from(config.widen))).ok_or(
        RefineError::Proposal(ModelError::InvalidValue {
            what: "network draws have a degenerate covariance (no Gaussian proposal)",
        }),
    )?;
    let draw = |rng: &mut Rng, x: &mut [T]| q.draw(rng, x);
    let report = refine_or_report_miss(
        config,
        d,
        &mut rng,
        draw,
        log_target,
        keep_going,
        particles,
        work,
        stop_if_missed,
    )?;
    Ok((report, ProposalKind::GaussianFit))
}

/// A reference distribution q0 for [`temper`]: it can be sampled and its log density
/// evaluated. The prior is the one refinement uses ([`crate::template::EnvironmentTemplate`]
/// implements it): π/q0 is then the likelihood, and the bridge tempers it alone.
pub trait Reference<T> {
    /// Number of parameters.
    fn dim(&self) -> usize;
    /// One draw into `x` (length [`Reference::dim`]).
    fn draw(&self, rng: &mut Rng, x: &mut [T]);
    /// Log density at `x` (constants may be dropped: they cancel); −∞ outside the support.
    fn log_density(&self, x: &[T]) -> T;
}

/// Independent priors, one per parameter (a box of uniforms in the tests).
impl<T: Real> Reference<T> for [Prior<T>] {
    fn dim(&self) -> usize {
        self.len()
    }

    fn draw(&self, rng: &mut Rng, x: &mut [T]) {
        for (o, p) in x.iter_mut().zip(self) {
            *o = p.draw(rng);
        }
    }

    fn log_density(&self, x: &[T]) -> T {
        if x.len() != self.len() {
            return T::neg_infinity();
        }
        self.iter()
            .zip(x)
            .fold(T::zero(), |s, (p, &v)| s + p.log_density(v))
    }
}

/// Settings of [`temper`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TemperConfig {
    /// Each β step keeps the ESS of its incremental weights at this fraction of the
    /// particles that can carry weight, in (0, 1): higher is safer and takes more stages.
    pub ess_fraction: f64,
    /// Metropolis sweeps on π_β after each stage's resampling.
    pub sweeps: u32,
    /// Most stages (β steps); a run that needs more stops short of β = 1 and says so.
    pub max_stages: u32,
    /// In [`refine_with_fallback`], the prior's share of the tempering reference after a
    /// cINN's proposal missed ([`DefensiveReference`]); 1: temper from the prior alone.
    pub prior_share: f64,
}

impl TemperConfig {
    /// The workstation's fallback (`vina invert --refine`, `vina eval --refine`): the
    /// default stages and sweeps, tempering after a cINN's miss from 20 % prior + 80 %
    /// network. On swellex-ssp case 2 (eight unknowns, 500 particles) the prior alone
    /// settled every particle in a secondary basin (sediment 35 m, 1,646 m/s, 2.0 g/cm³;
    /// log-likelihood 175 nats below the posterior's; C2ST 1.000 against the MCMC
    /// reference) while this mixture answers with C2ST 0.512 in 20 % fewer evaluations
    /// (`models/README.md`).
    pub const WORKSTATION: Self = Self {
        ess_fraction: 0.5,
        sweeps: 5,
        max_stages: 100,
        prior_share: 0.2,
    };
}

impl Default for TemperConfig {
    /// Tempering from the reference alone (in [`refine_with_fallback`]: the prior).
    fn default() -> Self {
        Self {
            prior_share: 1.0,
            ..Self::WORKSTATION
        }
    }
}

/// What a tempered run did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TemperReport {
    /// Particles.
    pub particles: usize,
    /// Stages run (β steps, each with a resampling and its sweeps).
    pub stages: u32,
    /// Metropolis sweeps over all stages.
    pub sweeps: u32,
    /// β of the last stage: 1 unless the budget or the stage cap cut the run.
    pub beta: f64,
    /// β reached 1, so the particles target π. When `false` they are draws of π_β, between
    /// the prior and the posterior: not the posterior, whatever they look like.
    pub complete: bool,
    /// Rows passed to the log target (forward-model runs, the cost).
    pub evaluations: usize,
    /// Share of the reference draws with a finite log target.
    pub finite_fraction: f64,
    /// Metropolis acceptance rate over all sweeps.
    pub acceptance: f64,
    /// Acceptance rate of the last sweep.
    pub last_acceptance: f64,
    /// Step-size multiplier λ after adaptation (1 = the 2.38²/d rule).
    pub scale: f64,
    /// Estimate of `ln(∫π / ∫q0)` up to the last β (the sum over stages of the log mean
    /// incremental weight): the log marginal likelihood when q0 is the normalized prior
    /// and π the prior × likelihood.
    pub log_evidence: f64,
}

/// Tempered sequential Monte Carlo from `reference` (q0) to the target π (module docs):
/// `particles` (`n × dim`, dim = `reference.dim()`; written, not read) end as `n` equally
/// weighted draws of π. `log_target` as in [`refine`]; `work`: at least
/// [`tempered_work_len`]`(n, dim)` values. [`temper_within`] stops early when a budget
/// runs out.
pub fn temper<T: Real, R: Reference<T> + ?Sized>(
    config: &TemperConfig,
    rng: &mut Rng,
    reference: &R,
    log_target: impl FnMut(&[T], &mut [T]),
    particles: &mut [T],
    work: &mut [T],
) -> Result<TemperReport, RefineError<Infallible>> {
    let always = |_| true;
    temper_within(config, rng, reference, log_target, always, particles, work)
}

/// [`temper`] under a budget: before Metropolis sweep `k` (0-based, counted over all
/// stages) `keep_going(k)` is asked, and the run stops at the first `false`, wherever it
/// is ([`TemperReport::complete`] says whether β had reached 1). Random numbers are drawn
/// in a fixed order (reference draws, then per stage one resampling uniform and per sweep
/// `dim` normals and one uniform per particle, then one per move that passed the
/// surrogate), so a run cut after k sweeps equals the first k sweeps of an uncut one.
pub fn temper_within<T: Real, R: Reference<T> + ?Sized>(
    config: &TemperConfig,
    rng: &mut Rng,
    reference: &R,
    mut log_target: impl FnMut(&[T], &mut [T]),
    mut keep_going: impl FnMut(u32) -> bool,
    particles: &mut [T],
    work: &mut [T],
) -> Result<TemperReport, RefineError<Infallible>> {
    let dim = reference.dim();
    let n = rows(dim, particles)?;
    if !(config.ess_fraction > 0.0 && config.ess_fraction < 1.0) {
        return Err(RefineError::Settings {
            what: "tempering ESS fraction must be in (0, 1)",
        });
    }
    let work = work
        .get_mut(..tempered_work_len(n, dim))
        .ok_or(RefineError::Shape {
            what: "work buffer shorter than tempered_work_len(particles, dim)",
        })?;
    let (moved, rest) = work.split_at_mut(n * dim);
    let (lp, rest) = rest.split_at_mut(n);
    let (lq, rest) = rest.split_at_mut(n);
    let (lw, rest) = rest.split_at_mut(n);
    let (lp_moved, lq_moved) = rest.split_at_mut(n);

    // Reference draws. A particle without a finite log target (or reference density)
    // can never carry weight: its log target is −∞ from here on, the mark of a dead one.
    for (x, q) in particles.chunks_exact_mut(dim).zip(lq.iter_mut()) {
        reference.draw(rng, x);
        *q = finite_or_neg_inf(reference.log_density(x));
    }
    log_target(particles, lp);
    let mut finite = 0usize;
    for (p, q) in lp.iter_mut().zip(lq.iter()) {
        *p = finite_or_neg_inf(*p);
        if *p == T::neg_infinity() || *q == T::neg_infinity() {
            *p = T::neg_infinity();
        } else {
            finite += 1;
        }
    }
    if finite == 0 {
        return Err(RefineError::NoSupport);
    }

    let mut walk = RandomWalk::new(dim);
    let (mut beta, mut log_evidence, mut stages) = (T::zero(), 0.0f64, 0u32);
    'stages: while beta < T::one() && stages < config.max_stages {
        // 1. The next β and its incremental weights (π/q0)^Δβ, scaled by the largest.
        let room = T::one() - beta;
        let step = next_step(config.ess_fraction, room, lp, lq);
        let top = log_ratio_max(lp, lq);
        let mut sum = T::zero();
        for ((w, p), q) in lw.iter_mut().zip(lp.iter()).zip(lq.iter()) {
            *w = if *p == T::neg_infinity() {
                T::zero()
            } else {
                (step * (*p - *q - top)).exp()
            };
            sum = sum + *w;
        }
        log_evidence += ((sum / T::lit(n as f64)).ln() + step * top)
            .to_f64()
            .unwrap_or(f64::NAN);
        beta = if step >= room { T::one() } else { beta + step };
        stages += 1;

        // 2. Systematic resampling.
        systematic(rng, lw, sum, |i, j| {
            copy_row(moved, particles, dim, i, j);
            lp_moved[i] = lp[j];
            lq_moved[i] = lq[j];
        });
        particles.copy_from_slice(moved);
        lp.copy_from_slice(lp_moved);
        lq.copy_from_slice(lq_moved);

        // 3. Metropolis sweeps on π_β.
        for _ in 0..config.sweeps {
            if !keep_going(walk.sweeps) {
                break 'stages;
            }
            let screen = walk.propose(rng, particles, moved);
            let m = screen.screen(rng, particles, moved, &mut [&mut *lp, &mut *lq]);
            for (q, y) in lq_moved[..m].iter_mut().zip(moved.chunks_exact(dim)) {
                *q = finite_or_neg_inf(reference.log_density(y));
            }
            log_target(&moved[..m * dim], &mut lp_moved[..m]);
            walk.evaluations += m;
            let mut accepted = 0usize;
            for i in 0..m {
                let ln_u = ln_uniform::<T>(rng);
                let (p, q) = (finite_or_neg_inf(lp_moved[i]), lq_moved[i]);
                let new = tempered(beta, p, q);
                let old = tempered(beta, lp[i], lq[i]);
                let screened = screen.log_ratio(moved, particles, i);
                if new != T::neg_infinity() && ln_u < new - old - screened {
                    copy_row(particles, moved, dim, i, i);
                    lp[i] = p;
                    lq[i] = q;
                    accepted += 1;
                }
            }
            walk.record(accepted, n);
        }
    }
    let beta = beta.to_f64().unwrap_or(0.0);
    Ok(TemperReport {
        particles: n,
        stages,
        sweeps: walk.sweeps,
        beta,
        complete: beta == 1.0,
        evaluations: n + walk.evaluations,
        finite_fraction: finite as f64 / n as f64,
        acceptance: walk.acceptance(),
        last_acceptance: walk.last,
        scale: walk.scale(),
        log_evidence,
    })
}

/// `log π_β = (1 − β)·log q0 + β·log π`; −∞ when either is (a dead particle).
fn tempered<T: Real>(beta: T, lp: T, lq: T) -> T {
    if lp == T::neg_infinity() || lq == T::neg_infinity() {
        T::neg_infinity()
    } else {
        (T::one() - beta) * lq + beta * lp
    }
}

/// Largest `log π − log q0` of the live particles (at least one is live).
fn log_ratio_max<T: Real>(lp: &[T], lq: &[T]) -> T {
    lp.iter()
        .zip(lq)
        .filter(|(p, _)| **p != T::neg_infinity())
        .fold(T::neg_infinity(), |m, (p, q)| m.max(*p - *q))
}

/// Bisection steps for the next β (2⁻⁴⁰ of the room left: below f64's use here).
const BISECTIONS: u32 = 40;

/// The β step `Δ ≤ room` whose incremental weights `(π/q0)^Δ` keep an ESS of `fraction`
/// × the live particles, or `room` when the whole of it does. The ESS falls as Δ grows
/// (from the live count at Δ → 0), so bisection finds it; the step is never zero, so a
/// run always advances.
fn next_step<T: Real>(fraction: f64, room: T, lp: &[T], lq: &[T]) -> T {
    let top = log_ratio_max(lp, lq);
    let live = lp.iter().filter(|p| **p != T::neg_infinity()).count();
    let target = T::lit(fraction * live as f64);
    let ess = |delta: T| {
        let (mut s, mut s2) = (T::zero(), T::zero());
        for (p, q) in lp.iter().zip(lq) {
            if *p != T::neg_infinity() {
                let w = (delta * (*p - *q - top)).exp();
                s = s + w;
                s2 = s2 + w * w;
            }
        }
        s * s / s2
    };
    if ess(room) >= target {
        return room;
    }
    let (mut lo, mut hi) = (T::zero(), room);
    for _ in 0..BISECTIONS {
        let mid = T::lit(0.5) * (lo + hi);
        if ess(mid) >= target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    if lo > T::zero() { lo } else { hi }
}

/// Which way [`refine_with_fallback`] reached its particles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefinePath {
    /// Importance sampling from the cINN's widened density, then Metropolis sweeps.
    Network,
    /// Importance sampling from a Gaussian fitted to the INN's draws, then sweeps.
    GaussianFit,
    /// The network proposal missed: tempered SMC from the prior ([`temper`]).
    TemperedFromPrior,
    /// The network proposal missed: tempered SMC from the mixture of the prior and the
    /// widened network ([`DefensiveReference`], [`TemperConfig::prior_share`] < 1).
    TemperedFromMixture,
}

impl From<ProposalKind> for RefinePath {
    fn from(kind: ProposalKind) -> Self {
        match kind {
            ProposalKind::Network => Self::Network,
            ProposalKind::GaussianFit => Self::GaussianFit,
        }
    }
}

/// What [`refine_with_fallback`] did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    /// The path whose particles were returned.
    pub path: RefinePath,
    /// The proposal the network attempt used.
    pub proposal: ProposalKind,
    /// The network attempt's report; `None` when none of its draws had a finite log
    /// target. After a miss it ran no sweeps.
    pub network: Option<RefineStats>,
    /// The tempered run's report, when the fallback ran.
    pub tempered: Option<TemperReport>,
}

impl Outcome {
    /// Log-target rows of both paths together (forward-model runs, the cost): the network
    /// attempt's and, after a miss, the tempered run's.
    pub fn evaluations(&self) -> usize {
        self.network.as_ref().map_or(0, |r| r.evaluations)
            + self.tempered.as_ref().map_or(0, |t| t.evaluations)
    }
}

/// Stream index of the fallback's random numbers (`Rng::for_index(seed, ·)`), apart from
/// the network attempt's `Rng::new(seed)`.
const TEMPER_STREAM: u64 = 1;

/// [`refine_network`] first; when it finds no support or its proposal missed
/// ([`RefineStats::missed`]), [`temper_within`] from `prior` (the model file's or scenario's
/// [`crate::template::EnvironmentTemplate`]) to the same `log_target`, into the same
/// particles, with the stream `Rng::for_index(seed, 1)`. When the network succeeds the
/// result is [`refine_network`]'s exactly, random numbers included; a miss skips its
/// sweeps. `keep_going(k)` is asked before sweep `k` of the path that runs. `work`: at
/// least [`tempered_work_len`]`(n, x_dim)` values, checked before anything runs.
#[allow(clippy::too_many_arguments)] // refine_network's inputs plus the fallback's
pub fn refine_with_fallback<T: Real, R: Reference<T> + ?Sized>(
    config: &RefineConfig,
    temper_config: &TemperConfig,
    model: &Model<'_>,
    context: &[f32],
    seed: u64,
    prior: &R,
    mut log_target: impl FnMut(&[T], &mut [T]),
    mut keep_going: impl FnMut(u32) -> bool,
    particles: &mut [T],
    work: &mut [T],
) -> Result<Outcome, RefineError<ModelError>> {
    let d = model.x_dim();
    if prior.dim() != d {
        return Err(RefineError::Shape {
            what: "the prior's parameter count differs from the model's x_dim",
        });
    }
    let n = rows(d, particles)?;
    if work.len() < tempered_work_len(n, d) {
        return Err(RefineError::Shape {
            what: "work buffer shorter than tempered_work_len(particles, dim)",
        });
    }
    let proposal = match model.header().kind {
        ModelKind::Cinn => ProposalKind::Network,
        _ => ProposalKind::GaussianFit,
    };
    let network = match network_or_report_miss(
        config,
        model,
        context,
        seed,
        &mut log_target,
        &mut keep_going,
        particles,
        work,
        true,
    ) {
        Ok((report, kind)) if !report.missed => {
            return Ok(Outcome {
                path: kind.into(),
                proposal: kind,
                network: Some(report),
                tempered: None,
            });
        }
        Ok((report, _)) => Some(report),
        Err(RefineError::NoSupport) => None,
        Err(e) => return Err(e),
    };
    let mut rng = Rng::for_index(seed, TEMPER_STREAM);
    let share = temper_config.prior_share;
    if !(share > 0.0 && share <= 1.0) {
        return Err(RefineError::Settings {
            what: "the prior's share of the tempering reference must be in (0, 1]",
        });
    }
    // From the defensive mixture when a cINN's draws reached the support (its density
    // says where to look), else from the prior alone.
    let mixture = (share < 1.0 && network.is_some() && proposal == ProposalKind::Network)
        .then(|| NetworkProposal::new(model, context, config.widen))
        .transpose()
        .map_err(RefineError::Proposal)?;
    let (path, tempered) = match mixture {
        Some(net) => (
            RefinePath::TemperedFromMixture,
            temper_within(
                temper_config,
                &mut rng,
                &DefensiveReference::new(prior, net, share),
                log_target,
                keep_going,
                particles,
                work,
            ),
        ),
        None => (
            RefinePath::TemperedFromPrior,
            temper_within(
                temper_config,
                &mut rng,
                prior,
                log_target,
                keep_going,
                particles,
                work,
            ),
        ),
    };
    Ok(Outcome {
        path,
        proposal,
        network,
        tempered: Some(tempered.map_err(RefineError::widen)?),
    })
}

/// The priors of the unknowns as the tempering reference q0: refinement's fallback
/// ([`crate::refine::refine_with_fallback`]) tempers from the prior to the posterior.
impl<T: Real> Reference<T> for EnvironmentTemplate<T> {
    fn dim(&self) -> usize {
        EnvironmentTemplate::dim(self)
    }

    fn draw(&self, rng: &mut Rng, x: &mut [T]) {
        // A wrong length draws nothing; the refinement checks `dim` first.
        let _ = self.draw_prior(rng, x);
    }

    fn log_density(&self, x: &[T]) -> T {
        self.log_prior(x)
    }
}

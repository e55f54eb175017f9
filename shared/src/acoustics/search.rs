//! From lossless roots to the kept lossy modes: continuation in the attenuation, shared
//! by the Pekeris and layered solvers.
//!
//! Each lossless root γ₀ is followed as the attenuation is switched on (loss scale s from
//! 0 to 1) by predictor–corrector continuation: first-order perturbation theory predicts
//! the root at the next s, Newton's method in the complex γ plane corrects it. A step is
//! accepted only if the correction is small against the predicted move (otherwise Newton
//! may have jumped to a neighbouring mode) and is halved if not. Steps start at a size
//! that moves k² by at most a tenth of the distance to the neighbouring lossless roots,
//! which is one step for `gi-pekeris` and several for modes near a lossy sediment's
//! speed, where Im k is comparable to the mode spacing. The path is followed on the
//! continuous branch of γ (a root may pass through Re γ < 0 and even end there, as a
//! leaky mode that KRAKENC's rule then drops). Where two roots meet near the real loss
//! axis (a double root at some complex loss), the path through it is ill-defined and the
//! steps stall, or two modes arrive at one root: then the loss scale, on which F depends
//! analytically, is taken along a detour into the complex plane on one side or the other,
//! and the first path that reaches a root no earlier mode took is used.

use num_complex::Complex;

use super::error::AcousticsError;
use super::modes::{Mode, ModeSet};
use super::roots::{Slope, newton};
use super::scalar::Real;

/// What a solver provides to the continuation (γ is the unknown throughout).
pub(crate) trait Characteristic<T: Real> {
    /// The characteristic function F(γ) with the attenuation scaled by `loss`, as
    /// γ ↦ [`Slope`] (what does not depend on γ is computed once per Newton run).
    fn characteristic(&self, omega: T, loss: Complex<T>) -> impl Fn(Complex<T>) -> Slope<T>;
    /// First-order prediction of the root at loss `to` from the root `gamma` at loss
    /// `from`: (γ, δ(k²)).
    fn predict(
        &self,
        omega: T,
        from: Complex<T>,
        to: Complex<T>,
        gamma: Complex<T>,
    ) -> (Complex<T>, Complex<T>);
    /// The normalized mode at root γ (full attenuation).
    fn mode_at(&self, omega: T, gamma: Complex<T>) -> Mode<T>;
    /// The horizontal wavenumber k at root γ (full attenuation), without the rest of
    /// [`Characteristic::mode_at`]: all KRAKENC's rule needs.
    fn wavenumber(&self, omega: T, gamma: Complex<T>) -> Complex<T>;
    /// Typical |k²| (Newton's convergence scale).
    fn scale2(&self, omega: T) -> T;
    /// Lossless wavenumber of the half-space, ω/c_b (KRAKENC's phase-speed limit).
    fn k_cut(&self, omega: T) -> T;
    /// Whether any medium has attenuation.
    fn lossy(&self) -> bool;
}

/// The attenuation as given (loss scale 1).
pub(crate) fn full_loss<T: Real>() -> Complex<T> {
    Complex::new(T::one(), T::zero())
}

/// Loss-scale paths s(t) = t + i·b·t·(1 − t), t from 0 to 1, tried in this order: the
/// real path, then detours on either side of a point where two roots meet near it.
const BENDS: [f64; 3] = [0.0, 0.5, -0.5];

/// Most steps a mode's continuation starts with, and the smallest step allowed.
const MAX_STEPS: f64 = 64.0;
const MIN_STEP: f64 = 1.0 / 4096.0;

/// Solves `count` modes from their lossless roots (`lossless_root(m)`, called in order
/// m = 1, 2, …) and keeps those KRAKENC keeps.
pub(crate) fn collect_modes<T: Real, S: Characteristic<T>, const N: usize>(
    solver: &S,
    omega: T,
    count: usize,
    mut lossless_root: impl FnMut(usize) -> Result<T, AcousticsError>,
    out: &mut ModeSet<T, N>,
) -> Result<(), AcousticsError> {
    let lossy = solver.lossy();
    let k_cut = solver.k_cut(omega);
    let same = T::lit(0.01) * T::epsilon().root();
    let mut prev: Option<T> = None;
    let mut next = if count > 0 {
        Some(lossless_root(1)?)
    } else {
        None
    };
    for m in 1..=count {
        let gamma0 = next.ok_or(AcousticsError::NoConvergence { mode: m })?;
        next = if m < count {
            Some(lossless_root(m + 1)?)
        } else {
            None
        };
        let mut found = None;
        if lossy {
            // Distance in k² (= in γ²) to the neighbouring lossless roots.
            let g2 = gamma0 * gamma0;
            let spacing2 = [prev, next]
                .into_iter()
                .flatten()
                .map(|g| (g * g - g2).abs())
                .fold(T::infinity(), T::smaller);
            // Take the first path that arrives at a root no earlier mode has taken.
            for bend in BENDS {
                let start = Complex::new(gamma0, T::zero());
                let Some(gamma) = follow(solver, omega, start, spacing2, T::lit(bend)) else {
                    continue;
                };
                let mode = solver.mode_at(omega, gamma);
                if !already_taken(out, mode.k, same) {
                    found = Some((gamma, mode));
                    break;
                }
            }
        } else {
            let gamma = Complex::new(gamma0, T::zero());
            found = Some((gamma, solver.mode_at(omega, gamma)));
        }
        let (gamma, mode) = found.ok_or(AcousticsError::NoConvergence { mode: m })?;
        if !(mode.k.re.is_finite() && mode.coef.re.is_finite() && mode.coef.im.is_finite()) {
            return Err(AcousticsError::NoConvergence { mode: m });
        }
        // KRAKENC with c_high = c_b: keep proper modes with phase speed below c_b.
        if gamma.re > T::zero() && mode.k.re > k_cut {
            out.push(mode)?;
        }
        prev = Some(gamma0);
    }
    if lossy {
        leaky_turned_proper(solver, omega, prev, out)?;
        out.sort();
    }
    Ok(())
}

/// The modes of `count` lossless ones from `seeds`, the roots γ of a nearby environment's
/// complete mode set in order: Newton's method at full attenuation from each seed. The
/// result is kept (`Ok(true)`) only if it is the set the full search would find: as many
/// seeds as the lossless count (the count guards against a mode that appeared or
/// vanished), every one converged to a proper root (Re γ > 0) with phase speed below the
/// half-space's (KRAKENC's rule: a root that fails it sends the solve back to the full
/// search, which decides on it), and no two at the same root (a seed that jumped to its
/// neighbour's root). Then the leaky-turned-proper check runs as in the full search. On
/// `Ok(false)` `out` holds nothing and the caller solves from scratch.
pub(crate) fn warm_modes<T: Real, S: Characteristic<T>, const N: usize>(
    solver: &S,
    omega: T,
    count: usize,
    seeds: &[Complex<T>],
    out: &mut ModeSet<T, N>,
) -> Result<bool, AcousticsError> {
    if seeds.len() != count || count == 0 {
        return Ok(false);
    }
    let k_cut = solver.k_cut(omega);
    let scale2 = solver.scale2(omega);
    // the largest wavenumber of any medium: no trapped mode is slower than the slowest
    let k_max = scale2.root() * (T::one() + T::lit(1e-6).larger(T::lit(8.0) * T::epsilon()));
    let same = T::lit(0.01) * T::epsilon().root();
    let full = full_loss();
    let mut last = T::infinity();
    for &seed in seeds {
        let gamma = newton(solver.characteristic(omega, full), seed, scale2, 20);
        let Some(gamma) = gamma.filter(|g| g.re > T::zero()) else {
            out.truncate(0);
            return Ok(false);
        };
        let mode = solver.mode_at(omega, gamma);
        let finite = mode.k.re.is_finite() && mode.coef.re.is_finite() && mode.coef.im.is_finite();
        // inside the strip of the k plane where the trapped modes are the only roots of
        // F (shared/tests/acoustics.rs counts them there by the argument principle); a
        // seed can converge to a root of F outside it that is no mode
        let inside =
            mode.k.re > k_cut && mode.k.re <= k_max && mode.k.im.abs() <= T::lit(0.01) * mode.k.re;
        // in the seeds' order: a seed that reached a neighbour's root leaves one out
        let ordered = out.modes().last().is_none_or(|prev| mode.k.re < prev.k.re);
        let taken = already_taken(out, mode.k, same);
        if !finite || !inside || !ordered || taken {
            out.truncate(0);
            return Ok(false);
        }
        out.push(mode)?;
        last = last.smaller(gamma.re);
    }
    if solver.lossy() {
        // the last trapped mode's γ bounds where a leaky root can turn proper; its
        // lossy γ stands in for the lossless one the full search has
        leaky_turned_proper(solver, omega, Some(last), out)?;
    }
    out.sort();
    Ok(true)
}

/// Whether `out` already holds a mode at `k`, within `same` relative: two continuation
/// paths (or seeds) that reached one root. Compared in squared norms (no square root: it
/// runs for every pair of modes).
fn already_taken<T: Real, const N: usize>(out: &ModeSet<T, N>, k: Complex<T>, same: T) -> bool {
    let limit = same * same * k.norm_sqr();
    out.modes()
        .iter()
        .any(|kept| (kept.k - k).norm_sqr() <= limit)
}

/// Adds lossy modes that do not come from a trapped lossless mode.
///
/// A lossless leaky mode just beyond cut-off (a complex root with Re γ < 0, near γ = 0)
/// can become proper with phase speed just below c_b once the media are lossy; KRAKENC's
/// rule then keeps it. Such roots are sought near γ = 0 of the lossless F (from its
/// quadratic Taylor polynomial, polished by Newton) and followed like the others.
fn leaky_turned_proper<T: Real, S: Characteristic<T>, const N: usize>(
    solver: &S,
    omega: T,
    last_trapped: Option<T>,
    out: &mut ModeSet<T, N>,
) -> Result<(), AcousticsError> {
    let zero = Complex::new(T::zero(), T::zero());
    let scale2 = solver.scale2(omega);
    let same = T::lit(0.01) * T::epsilon().root();
    // Taylor coefficients of the lossless F at γ = 0 (F'' in closed form where the
    // solver has it, else by a difference of F').
    let lossless = solver.characteristic(omega, zero);
    let Slope { f: f0, df: f1, d2f } = lossless(zero);
    let f2 = d2f.unwrap_or_else(|| {
        let h = scale2.root() * T::lit(1e-4);
        (lossless(Complex::new(h, T::zero())).df - f1) / h
    });
    let disc = T::complex_root(f1 * f1 - f0 * f2 * T::lit(2.0));
    let spacing2 = last_trapped.map_or(T::infinity(), |g| g * g);
    let seeds = [(-f1 + disc) / f2, (-f1 - disc) / f2];
    // The lossless F has real coefficients (F(γ̄) is the conjugate of F(γ)): where the
    // seeds are a conjugate pair, so are the roots, and one Newton run gives both.
    let pair = seeds[0].im != T::zero() && seeds[0].conj() == seeds[1];
    let mut first: Option<Complex<T>> = None;
    for (i, seed) in seeds.into_iter().enumerate() {
        if !(seed.re.is_finite() && seed.im.is_finite()) {
            continue;
        }
        let root = if pair && i == 1 {
            first.map(|r| r.conj())
        } else {
            newton(&lossless, seed, scale2, 30)
        };
        first = root;
        let Some(root) = root else {
            continue;
        };
        // Leaky roots only (trapped ones, real γ > 0, are already followed), and near
        // cut-off: closer to γ = 0 than the last trapped mode. Both members of a
        // conjugate pair are followed: either can end proper.
        if root.re >= T::zero() || root.norm_sqr() >= spacing2 || ends_dropped(solver, omega, root)
        {
            continue;
        }
        for bend in BENDS {
            let Some(gamma) = follow(solver, omega, root, spacing2, T::lit(bend)) else {
                continue;
            };
            let mode = solver.mode_at(omega, gamma);
            let finite =
                mode.k.re.is_finite() && mode.coef.re.is_finite() && mode.coef.im.is_finite();
            let taken = already_taken(out, mode.k, same);
            if finite && !taken && gamma.re > T::zero() && mode.k.re > solver.k_cut(omega) {
                out.push(mode)?;
            }
            break;
        }
    }
    Ok(())
}

/// Follows the lossless root γ₀ to full attenuation along the loss path with the given
/// bend (see the module doc and [`BENDS`]).
fn follow<T: Real, S: Characteristic<T>>(
    solver: &S,
    omega: T,
    gamma0: Complex<T>,
    spacing2: T,
    bend: T,
) -> Option<Complex<T>> {
    let path = |t: T| Complex::new(t, bend * t * (T::one() - t));
    let mut gamma = gamma0;
    let (full, dk2) = solver.predict(omega, path(T::zero()), path(T::one()), gamma);
    let steps = (T::complex_abs(dk2) / (T::lit(0.1) * spacing2))
        .ceil()
        .larger(T::one())
        .smaller(T::lit(MAX_STEPS));
    let h0 = steps.recip();
    let mut h = h0;
    let mut s = T::zero();
    let mut first = (h0 >= T::one()).then_some((full, dk2));
    loop {
        let to = (s + h).smaller(T::one());
        match loss_step(solver, omega, path(s), path(to), gamma, first.take(), false) {
            Some(g) => {
                gamma = g;
                s = to;
                if s >= T::one() {
                    return Some(gamma);
                }
                h = (h + h).smaller(h0);
            }
            None => {
                h = h * T::lit(0.5);
                if h < T::lit(MIN_STEP) {
                    return None;
                }
            }
        }
    }
}

/// One predictor–corrector step of the continuation: from the root `gamma` at loss
/// `from` to the root at loss `to` (with the prediction, if already made), or `None` if
/// Newton's correction is not small against the predicted move (it may have jumped to a
/// neighbouring root).
fn loss_step<T: Real, S: Characteristic<T>>(
    solver: &S,
    omega: T,
    from: Complex<T>,
    to: Complex<T>,
    gamma: Complex<T>,
    predicted: Option<(Complex<T>, Complex<T>)>,
    whole: bool,
) -> Option<Complex<T>> {
    let scale2 = solver.scale2(omega);
    // Corrections below this are rounding noise, not jumps (f32 needs the eps term).
    let floor = T::lit(1e-7).larger(T::lit(256.0) * T::epsilon()) * scale2;
    let (guess, moved) = predicted.unwrap_or_else(|| solver.predict(omega, from, to, gamma));
    // The predictor's square root is the principal one; keep the branch continuous
    // (a near-cut-off root may cross Re γ = 0 on its way and become leaky).
    let guess = if (guess - gamma).norm_sqr() > (guess + gamma).norm_sqr() {
        -guess
    } else {
        guess
    };
    // Over the whole attenuation at once (`ends_dropped`), the move is measured in γ²
    // (the half-space's k² moves with the loss even where the mode's k² hardly does) and
    // the correction may be up to half of it, not a quarter: the step back confirms
    // which root was reached (near cut-off on gi-pekeris the one-step corrections are
    // 0.2–0.5 of the move).
    let (moved2, share2) = if whole {
        let m2 = moved
            .norm_sqr()
            .larger((guess * guess - gamma * gamma).norm_sqr());
        (m2, T::lit(0.25))
    } else {
        (moved.norm_sqr(), T::lit(0.0625))
    };
    newton(solver.characteristic(omega, to), guess, scale2, 20).filter(|g| {
        // |g² − guess²| ≤ max(share·|moved|, floor), squared
        let jump2 = (g * g - guess * guess).norm_sqr();
        jump2 <= share2 * moved2 || jump2 <= floor * floor
    })
}

/// Whether the leaky lossless root `root` certainly ends as a root KRAKENC's rule drops
/// (Re γ ≤ 0, or phase speed at or above the half-space's), found without the stepwise
/// continuation: one continuation step over the whole attenuation reaches such a root,
/// and one step back from it returns to `root`. Paths of roots do not cross (away from
/// double roots, where a step's jump test fails), so that root is where `root`'s path
/// ends. Measured on `gi-pekeris`: every leaky root near cut-off ends dropped, and the
/// stepwise continuation took 5–6 steps for each (a quarter of an environment on the
/// Cortex-M4); anything but a confirmed drop is left to it.
fn ends_dropped<T: Real, S: Characteristic<T>>(solver: &S, omega: T, root: Complex<T>) -> bool {
    let zero = Complex::new(T::zero(), T::zero());
    let Some(end) = loss_step(solver, omega, zero, full_loss(), root, None, true) else {
        return false;
    };
    if end.re > T::zero() && solver.wavenumber(omega, end).re > solver.k_cut(omega) {
        return false;
    }
    // Back at the lossless root: the next root of its lossless F (its conjugate) lies
    // 2·|Im γ| away, the rounding of a converged root is ~1e-4 relative in f32.
    loss_step(solver, omega, full_loss(), zero, end, None, true)
        .is_some_and(|back| (back - root).norm_sqr() <= T::lit(1e-4) * root.norm_sqr())
}

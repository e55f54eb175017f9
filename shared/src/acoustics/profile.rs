//! Depth-dependent sound speed in the water column: a piecewise-linear c(z) profile (the
//! Acoustics Toolbox's C-linear SSP), crossed by sixth-order Magnus steps
//! (docs/architecture.md, "Forward model").
//!
//! Method. In the water (ψ, ψ'/ρ) obeys y' = A(z)·y with A = [[0, ρ], [−kz²(z)/ρ, 0]] and
//! kz²(z) = ω²/c̃(z)² − k². The sixth-order Magnus step of Blanes, Casas & Ros (2000) of
//! length h uses A at the three Gauss points z + (½ − √15/10, ½, ½ + √15/10)·h, with
//! kz² = κ₁, κ₂, κ₃ there. Only the lower-left entry of A varies, so its nested
//! commutators close on three matrices and the step's exponent is, exactly,
//!
//! ```text
//! Ω = [[a, h·ρ·e], [−h·K/ρ, −a]],   δ₂ = κ₃ − κ₁,   δ₃ = κ₃ − 2κ₂ + κ₁,
//! a = (√15/36)·h²·δ₂·(1 + h²·κ₂/15),   e = 1 + h²·δ₃/54,
//! e·K = κ₂ + (5/18)·δ₃ + h²·δ₂²/72 + O(h⁶)
//! ```
//!
//! (δ₂ = O(h), δ₃ = O(h²); the dropped terms are O(h⁷) in Ω, below the method's local
//! error.) Ω is traceless with Ω² = −θ²·I, θ² = h²·e·K − a², so e^Ω = cos θ·I + (sin θ/θ)·Ω
//! exactly. Scaling v by e and shearing, that matrix is the exact isovelocity-layer
//! propagator of [`super::propagator::Prop`] with kz² = θ²/h²:
//! e^Ω = D⁻¹·E(−s)·P(θ²/h², h)·E(s)·D with D = diag(1, e), E(s) = [[1, 0], [s, 1]],
//! s = a/(h·ρ). So every property the isovelocity solver relies on carries over: the step
//! is an entire function of kz² (no branch of kz, evanescent sub-steps need no special
//! case), ψ is the layer path's (its zero count is the layer's count), det e^Ω = 1, and
//! the γ-derivative is the propagator's plus the shear's (κ₂ enters a, δ₂ and δ₃ do
//! not depend on γ; e·K is written so that d(e·K)/dκ₂ = 1). In an isovelocity segment
//! δ₂ = δ₃ = 0 and the step is the exact propagator whatever its length.
//!
//! Accuracy. The Magnus step's error does not grow with frequency the way a
//! finite-difference mesh's does (no points per wavelength): it is set by how fast kz²
//! changes across a step. The number of steps per segment follows [`MAX_SPEED_STEP`]
//! and [`MAX_PHASE_STEP`]; wavenumbers are tested against a Richardson-extrapolated
//! layer staircase and mode counts by the argument principle in `shared/tests/profile.rs`,
//! and against KRAKENC in `bench/forward_crosscheck.txt`. Why sixth order:
//! `bench/magnus_order_study.txt` (at the fourth-order step's error, 2.0–4.6× fewer
//! steps, each one exponential as before).

use super::error::{AcousticsError, Param};
use super::medium::finite;
use super::propagator::{Prop, Wave, step_counting};
use super::scalar::Real;

/// √15 (the Gauss points and the commutator weights of the Magnus step).
const SQRT_15: f64 = 3.872_983_346_207_417;

/// One point of a sound-speed profile: c(z) is linear between points and constant below
/// the last one.
#[derive(Clone, Copy, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct SspPoint<T> {
    /// Depth below the surface (m); the first point is at 0.
    pub depth: T,
    /// Compressional sound speed there (m/s).
    pub speed: T,
}

impl<T> SspPoint<T> {
    /// A profile point at `depth` (m) with sound speed `speed` (m/s).
    pub fn new(depth: T, speed: T) -> Self {
        SspPoint { depth, speed }
    }
}

/// Largest sound-speed change across one Magnus step (m/s); at low frequency it, not the
/// phase, sets the steps through a thermocline.
pub const MAX_SPEED_STEP: f64 = 2.0;

/// Largest phase (ω/c)·h of one Magnus step through a sound-speed gradient (rad). With
/// these two rules the summer profile's wavenumbers in `shared/tests/profile.rs` agree with
/// the Richardson-extrapolated staircase to ≤ 1.8e-10 relative at 49 and 148 Hz (test
/// bar 1e-9; at 1.5 rad a step 1.1e-9, measured in session 16).
pub const MAX_PHASE_STEP: f64 = 1.0;

/// Checks a profile: at least one point, the first at z = 0, depths strictly increasing,
/// speeds finite and positive.
pub fn validate<T: Real>(points: &[SspPoint<T>]) -> Result<(), AcousticsError> {
    let Some(first) = points.first() else {
        return Err(AcousticsError::EmptyProfile);
    };
    if first.depth != T::zero() {
        return Err(AcousticsError::ProfileStart);
    }
    let mut prev: Option<T> = None;
    for (i, p) in points.iter().enumerate() {
        finite(p.depth, Param::ProfileDepth(i))?;
        finite(p.speed, Param::ProfileSpeed(i))?;
        if p.speed <= T::zero() {
            return Err(AcousticsError::NotPositive(Param::ProfileSpeed(i)));
        }
        if prev.is_some_and(|d| p.depth <= d) {
            return Err(AcousticsError::ProfileNotIncreasing(i));
        }
        prev = Some(p.depth);
    }
    Ok(())
}

/// c(z) of a (validated) profile: linear between points, constant below the last.
pub fn speed_at<T: Real>(points: &[SspPoint<T>], z: T) -> T {
    let mut prev: Option<&SspPoint<T>> = None;
    for p in points {
        if z <= p.depth {
            return match prev {
                Some(a) if p.depth > a.depth => {
                    a.speed + (p.speed - a.speed) * ((z - a.depth) / (p.depth - a.depth))
                }
                _ => p.speed,
            };
        }
        prev = Some(p);
    }
    prev.map_or(T::zero(), |p| p.speed)
}

/// Slowest speed of the profile between the surface and depth `to`.
pub(crate) fn slowest<T: Real>(points: &[SspPoint<T>], to: T) -> T {
    points
        .iter()
        .take_while(|p| p.depth < to)
        .fold(speed_at(points, to), |m, p| m.min(p.speed))
}

/// One Magnus step: its length and the sound speed at its three Gauss points (upper,
/// middle, lower).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step<T> {
    pub h: T,
    pub c: [T; 3],
}

/// The Magnus steps of the water column from the surface down to `to` at angular
/// frequency `omega`: each profile segment (clipped to [0, `to`]) in equal steps, as many
/// as the larger of |Δc|/[`MAX_SPEED_STEP`] and (ω/c_min)·L/[`MAX_PHASE_STEP`] (at least
/// one: an isovelocity segment is crossed exactly in one step), and one step below the
/// last point.
pub(crate) fn steps<T: Real>(
    points: &[SspPoint<T>],
    to: T,
    omega: T,
) -> impl Iterator<Item = Step<T>> + '_ {
    // segment k runs from point k to point k + 1; the last from the last point to `to`
    let g = T::lit(0.5 - SQRT_15 / 10.0);
    (0..points.len())
        .map_while(move |k| {
            let a = points.get(k)?;
            if a.depth >= to {
                return None;
            }
            let (z1, c1) = match points.get(k + 1) {
                Some(b) if b.depth < to => (b.depth, b.speed),
                _ => (to, speed_at(points, to)),
            };
            let n = if c1 == a.speed {
                T::one()
            } else {
                let by_speed = (c1 - a.speed).abs() / T::lit(MAX_SPEED_STEP);
                let by_phase =
                    omega / c1.smaller(a.speed) * (z1 - a.depth) / T::lit(MAX_PHASE_STEP);
                by_speed.larger(by_phase).ceil().larger(T::one())
            };
            Some((a.depth, a.speed, z1, c1, n.to_usize().unwrap_or(1)))
        })
        .flat_map(move |(z0, c0, z1, c1, n)| {
            let h = (z1 - z0) / T::count(n);
            let dc = (c1 - c0) / T::count(n);
            (0..n).map(move |i| {
                let ca = c0 + dc * T::count(i);
                Step {
                    h,
                    c: [ca + dc * g, ca + dc * T::lit(0.5), ca + dc * (T::one() - g)],
                }
            })
        })
}

/// The similarity D = diag(1, e) and shear E(s) that turn a Magnus step into the
/// isovelocity-layer propagator (module docs).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shear<W> {
    /// s = a/(h·ρ).
    s: W,
    /// e = 1 + h²·δ₃/54, and 1/e.
    e: W,
    e_inv: W,
    /// ds/dκ₂ (a's κ₂ term; δ₂, δ₃ and so this do not depend on γ).
    ds: W,
}

/// One step of the water column in (ψ, ψ'/ρ): the exact layer propagator, scaled and
/// sheared for a Magnus step through a profile (`None` for isovelocity water).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WaterStep<W, T> {
    pub p: Prop<W, T>,
    pub shear: Option<Shear<W>>,
}

impl<T: Real, W: Wave<T>> WaterStep<W, T> {
    /// The exact step across isovelocity water of thickness `h` with vertical wavenumber²
    /// `kz2`.
    pub fn exact(kz2: W, h: T) -> Self {
        WaterStep {
            p: Prop::new(kz2, h),
            shear: None,
        }
    }

    /// The sixth-order Magnus step of length `h` with kz² = `kz2` at its three Gauss
    /// points (upper, middle, lower), in water of density `rho` (module docs).
    pub fn magnus(kz2: [W; 3], h: T, rho: T) -> Self {
        let [k1, k2, k3] = kz2;
        let h2 = h * h;
        let d2 = k3 - k1;
        let d3 = k3 - k2 * T::lit(2.0) + k1;
        let d2h2 = d2 * (h2 * T::lit(SQRT_15 / 36.0));
        let a = d2h2 + d2h2 * k2 * (h2 / T::lit(15.0));
        let ek = k2 + d3 * T::lit(5.0 / 18.0) + d2 * d2 * (h2 / T::lit(72.0));
        let hr = h * rho;
        let e = d3 * (h2 / T::lit(54.0)) + T::one();
        WaterStep {
            p: Prop::new(ek - a * a / h2, h),
            shear: Some(Shear {
                s: a / hr,
                e,
                e_inv: W::real(T::one()) / e,
                ds: d2h2 * (h2 / (T::lit(15.0) * hr)),
            }),
        }
    }

    /// (u, v) at the step's top → the state the layer propagator carries.
    fn shear_in(&self, u: W, v: W) -> W {
        match self.shear {
            Some(sh) => sh.e * v + sh.s * u,
            None => v,
        }
    }

    /// The layer propagator's end state → the step's.
    fn shear_out(&self, u: W, v: W) -> W {
        match self.shear {
            Some(sh) => (v - sh.s * u) * sh.e_inv,
            None => v,
        }
    }

    /// Carries (u, v) = (ψ, ψ'/ρ) across the step.
    pub fn apply(&self, rho: T, u: W, v: W) -> (W, W) {
        let (u1, v1) = self.p.apply(rho, u, self.shear_in(u, v));
        (u1, self.shear_out(u1, v1))
    }

    /// ∫ u²/ρ across the step for the state (u, v) at its top (along the step's
    /// constant-coefficient path, which meets the solution at both ends; its error is
    /// second order in h, ~1e-7 relative with the step rule, `bench/magnus_order_study.txt`).
    pub fn integral(&self, rho: T, u: W, v: W) -> W {
        self.p.integral(rho, u, self.shear_in(u, v))
    }

    /// A state and its γ-derivative across the step; `dkz2` = d(kz²)/dγ = −2γ, the same
    /// at every depth. The shear's s depends on γ through κ₂ (ds = `ds`·dkz2), and the
    /// propagator's kz² = e·K − a²/h² by dkz2·(1 − 2·a·ds·ρ/h).
    pub fn tangent(&self, rho: T, s: [W; 4], dkz2: W) -> [W; 4] {
        let [u, v, du, dv] = s;
        let Some(sh) = self.shear else {
            return self.p.tangent(rho, s, dkz2);
        };
        let ds = sh.ds * dkz2;
        let a = sh.s * (self.p.h * rho);
        let dkp = dkz2 - a * ds * (T::lit(2.0) * rho / self.p.h);
        let sheared = [u, self.shear_in(u, v), du, sh.e * dv + sh.s * du + ds * u];
        let [u1, v1, du1, dv1] = self.p.tangent(rho, sheared, dkp);
        [
            u1,
            self.shear_out(u1, v1),
            du1,
            (dv1 - sh.s * du1 - ds * u1) * sh.e_inv,
        ]
    }
}

impl<T: Real> WaterStep<T, T> {
    /// [`WaterStep::apply`] for a real state, counting the zeros of u crossed (those of
    /// the sheared state's layer path, whose u is the step's).
    ///
    /// A Magnus step whose phase θ = kz·h is below π (every step through a gradient, by
    /// [`MAX_PHASE_STEP`]) has at most one zero, found from the signs of u at its ends
    /// (cheaper than the Prüfer angles, which long isovelocity steps need).
    pub fn counting(&self, rho: T, u: T, v: T) -> (T, T, usize) {
        let v = self.shear_in(u, v);
        let short = self.shear.is_some() && self.p.kz2 * (self.p.h * self.p.h) < T::PI() * T::PI();
        let (u1, v1, n) = if short {
            let (u1, v1) = self.p.apply(rho, u, v);
            let crossed =
                u != T::zero() && (u1 == T::zero() || (u1 > T::zero()) != (u > T::zero()));
            (u1, v1, usize::from(crossed))
        } else {
            step_counting(&self.p, rho, u, v)
        };
        (u1, self.shear_out(u1, v1), n)
    }
}

#[cfg(test)]
mod tests {
    use num_complex::Complex;

    use super::*;

    type C = Complex<f64>;

    /// A kz²(z) for the horizontal wavenumber² `k2` (complex: a lossy continuation
    /// point) that curves and changes fast (as ω²/c(z)² does across a sharp
    /// thermocline at a few hundred Hz), so that every term of the step shows.
    fn kz2(z: f64, k2: C) -> C {
        C::new(0.6 + 0.08 * z - 0.01 * z * z, 0.0) - k2
    }

    fn step(z: f64, h: f64, k2: C) -> WaterStep<C, f64> {
        let r = SQRT_15 / 10.0;
        let at = |t: f64| kz2(z + t * h, k2);
        WaterStep::magnus([at(0.5 - r), at(0.5), at(0.5 + r)], h, 1.03)
    }

    /// (u, v) carried from z = 2 m over `len` metres in `n` Magnus steps.
    fn carry(len: f64, n: usize, k2: C) -> (C, C) {
        let h = len / n as f64;
        let (mut u, mut v) = (C::new(0.3, 0.0), C::new(1.0, 0.0));
        for i in 0..n {
            (u, v) = step(2.0 + i as f64 * h, h, k2).apply(1.03, u, v);
        }
        (u, v)
    }

    /// The step is of sixth order: its local error against the same interval in 256
    /// steps falls by 2⁷ = 128 when h halves (measured 124 and 128). A slip in any
    /// coefficient shows: 72 → 70 in e·K gives 302, 54 → 50 in e 26, 15 → 14 in a 22.
    #[test]
    fn magnus_step_has_local_error_of_seventh_order() {
        let k2 = C::new(0.38, 1e-4);
        let err = |h: f64| {
            let (u, v) = carry(h, 1, k2);
            let (ur, vr) = carry(h, 256, k2);
            ((u - ur).norm_sqr() + (v - vr).norm_sqr()).sqrt()
        };
        for h in [1.0, 0.5] {
            let ratio = err(h) / err(h / 2.0);
            assert!((90.0..180.0).contains(&ratio), "h {h}: ratio {ratio}");
        }
    }

    /// The tangent is the γ-derivative of the step: against a central difference of
    /// `apply` over a chain of steps at a complex γ (kz² = q(z) − γ²).
    #[test]
    fn magnus_tangent_is_the_gamma_derivative() {
        let gamma = C::new(0.35, 2e-3);
        let chain = |g: C| {
            let k2 = C::new(0.25, 0.0) + g * g;
            let mut s = [
                C::new(0.0, 0.0),
                C::new(1.0, 0.0),
                C::new(0.0, 0.0),
                C::new(0.0, 0.0),
            ];
            for i in 0..6 {
                s = step(1.0 + 3.0 * i as f64, 3.0, k2).tangent(1.03, s, -g * 2.0);
            }
            s
        };
        let [u, v, du, dv] = chain(gamma);
        let eps = 1e-6;
        let (p, m) = (chain(gamma + eps), chain(gamma - eps));
        let (fu, fv) = ((p[0] - m[0]) / (2.0 * eps), (p[1] - m[1]) / (2.0 * eps));
        assert!((du - fu).norm() < 1e-7 * fu.norm(), "du {du} vs {fu}");
        assert!((dv - fv).norm() < 1e-7 * fv.norm(), "dv {dv} vs {fv}");
        let (ua, va) = carry_from(gamma);
        assert!((u - ua).norm() < 1e-13 && (v - va).norm() < 1e-13);
    }

    /// `apply` over the tangent test's chain (the tangent's state must equal it).
    fn carry_from(g: C) -> (C, C) {
        let k2 = C::new(0.25, 0.0) + g * g;
        let (mut u, mut v) = (C::new(0.0, 0.0), C::new(1.0, 0.0));
        for i in 0..6 {
            (u, v) = step(1.0 + 3.0 * i as f64, 3.0, k2).apply(1.03, u, v);
        }
        (u, v)
    }
}

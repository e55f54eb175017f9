//! Depth-dependent sound speed in the water column: a piecewise-linear c(z) profile (the
//! Acoustics Toolbox's C-linear SSP), crossed by fourth-order Magnus steps
//! (docs/architecture.md, "Forward model").
//!
//! Method. In the water (ψ, ψ'/ρ) obeys y' = A(z)·y with A = [[0, ρ], [−kz²(z)/ρ, 0]] and
//! kz²(z) = ω²/c̃(z)² − k². A fourth-order Magnus step of length h uses A at the two
//! Gauss points z₁,₂ = z + (½ ∓ √3/6)·h:
//!
//! ```text
//! Ω = (h/2)·(A₁ + A₂) + (√3/12)·h²·[A₂, A₁] = [[a, h·ρ], [−h·κ̄/ρ, −a]],
//! κ̄ = (kz₁² + kz₂²)/2,   a = (√3/12)·h²·(kz₂² − kz₁²)
//! ```
//!
//! Ω is traceless with Ω² = −θ²·I, θ² = h²·κ̄ − a², so e^Ω = cos θ·I + (sin θ/θ)·Ω exactly.
//! That matrix equals a shear, the exact isovelocity-layer propagator of
//! [`super::propagator::Prop`] with kz² = θ²/h², and the opposite shear:
//! e^Ω = E(−s)·P(θ²/h², h)·E(s) with E(s) = [[1, 0], [s, 1]], s = a/(h·ρ). So every
//! property the isovelocity solver relies on carries over unchanged: the step is an
//! entire function of kz² (no branch of kz, evanescent sub-steps need no special case),
//! its γ-derivative is the propagator's (a does not depend on γ), its zero count is the
//! layer's count for the sheared state, and det e^Ω = 1. In an isovelocity segment a = 0
//! and the step is the exact propagator whatever its length.
//!
//! Accuracy. The Magnus step's error does not grow with frequency the way a
//! finite-difference mesh's does (no points per wavelength): it is set by how fast kz²
//! changes across a step. The number of steps per segment follows [`MAX_SPEED_STEP`]
//! (the sound-speed change per step) and the convergence of wavenumbers and pressures
//! with the step is tested in `shared/tests/profile.rs` (fourth order, measured).

use super::error::{AcousticsError, Param};
use super::medium::finite;
use super::propagator::{Prop, Wave, step_counting};
use super::scalar::Real;

/// √3 (the Gauss points and the commutator weight of the Magnus step).
const SQRT_3: f64 = 1.732_050_807_568_877_2;

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

/// Largest sound-speed change across one Magnus step (m/s). With it the wavenumbers of
/// the profiles in `shared/tests/profile.rs` agree with their 16-fold refined solution
/// to ≤ 1e-10 relative at 50–500 Hz (measured there).
pub const MAX_SPEED_STEP: f64 = 0.5;

/// Largest phase (ω/c)·h of one Magnus step through a sound-speed gradient (rad).
pub const MAX_PHASE_STEP: f64 = 0.5;

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

/// One Magnus step: its length and the sound speed at its two Gauss points (upper,
/// lower).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step<T> {
    pub h: T,
    pub c1: T,
    pub c2: T,
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
    let g = T::lit(0.5 - SQRT_3 / 6.0);
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
                let by_phase = omega / c1.min(a.speed) * (z1 - a.depth) / T::lit(MAX_PHASE_STEP);
                by_speed.max(by_phase).ceil().max(T::one())
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
                    c1: ca + dc * g,
                    c2: ca + dc * (T::one() - g),
                }
            })
        })
}

/// One step of the water column in (ψ, ψ'/ρ): the exact layer propagator, sheared for a
/// Magnus step through a profile (`shear` = a/(h·ρ); `None` for isovelocity water).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WaterStep<W, T> {
    pub p: Prop<W, T>,
    pub shear: Option<W>,
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

    /// The Magnus step of length `h` with kz² = `kz2_1`, `kz2_2` at its upper and lower
    /// Gauss points, in water of density `rho`.
    pub fn magnus(kz2_1: W, kz2_2: W, h: T, rho: T) -> Self {
        let a = (kz2_2 - kz2_1) * (h * h * T::lit(SQRT_3 / 12.0));
        let mean = (kz2_1 + kz2_2) * T::lit(0.5);
        WaterStep {
            p: Prop::new(mean - a * a / (h * h), h),
            shear: Some(a / (h * rho)),
        }
    }

    /// (u, v) at the step's top → the state the layer propagator carries.
    fn shear_in(&self, u: W, v: W) -> W {
        match self.shear {
            Some(s) => v + s * u,
            None => v,
        }
    }

    /// The layer propagator's end state → the step's.
    fn shear_out(&self, u: W, v: W) -> W {
        match self.shear {
            Some(s) => v - s * u,
            None => v,
        }
    }

    /// Carries (u, v) = (ψ, ψ'/ρ) across the step.
    pub fn apply(&self, rho: T, u: W, v: W) -> (W, W) {
        let (u1, v1) = self.p.apply(rho, u, self.shear_in(u, v));
        (u1, self.shear_out(u1, v1))
    }

    /// ∫ u²/ρ across the step for the state (u, v) at its top (along the step's
    /// constant-coefficient path, which meets the solution at both ends).
    pub fn integral(&self, rho: T, u: W, v: W) -> W {
        self.p.integral(rho, u, self.shear_in(u, v))
    }

    /// A state and its γ-derivative across the step; `dkz2` = d(kz²)/dγ = −2γ (the
    /// shear does not depend on γ).
    pub fn tangent(&self, rho: T, s: [W; 4], dkz2: W) -> [W; 4] {
        let [u, v, du, dv] = s;
        let sheared = [u, self.shear_in(u, v), du, self.shear_in(du, dv)];
        let [u1, v1, du1, dv1] = self.p.tangent(rho, sheared, dkz2);
        [u1, self.shear_out(u1, v1), du1, self.shear_out(du1, dv1)]
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

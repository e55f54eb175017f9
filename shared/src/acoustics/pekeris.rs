//! Pekeris waveguide: isovelocity water over a fluid half-space, solved exactly.
//!
//! Method. With kz = √(k_w² − k²) and γ = √(k² − k_b²) the eigenvalue equation is
//! ρ_b·kz·cos(kz·D) + ρ_w·γ·sin(kz·D) = 0.
//! 1. Lossless roots (attenuation set to 0): with x = kz·D and X = D·√(k_w² − k_b²) it
//!    reads g(x) = ρ_b·x·cos x + ρ_w·√(X² − x²)·sin x = 0; g changes sign on
//!    ((m−½)π, min(mπ, X)), one root per mode m, so the M = ⌊X/π + ½⌋ trapped modes are
//!    found to full precision by a safeguarded Newton's method in that bracket (g′ comes
//!    with the same sin and cos as g).
//! 2. Lossy roots: continuation in the attenuation ([`super::search`]) with Newton's
//!    method in the complex plane on f(γ) = ρ_b·cos(kz·D) + ρ_w·γ·sin(kz·D)/kz, where
//!    kz² = k_w² − k_b² − γ². f is entire in γ (no branch cut), so Newton can cross the
//!    cut-off region freely.
//! 3. KRAKENC's rule decides which modes are kept (see [`Waveguide::modes`]).
//! 4. Normalization in closed form: ψ = b·sin(kz·z)/kz in the water and
//!    b⁻² = J/ρ_w + S²/(2·γ·ρ_b), J = ∫₀ᴰ(sin(kz z)/kz)² dz, S = sin(kz·D)/kz.

use num_complex::Complex;

use super::error::{AcousticsError, Param};
use super::medium::{Medium, Role, angular_frequency, finite, horizontal_wavenumber, positive};
use super::modes::{Mode, ModeSet};
use super::propagator::{Prop, sin_over};
use super::roots::{Slope, newton_bracketed};
use super::scalar::Real;
use super::search::{Characteristic, collect_modes, warm_modes};
use super::waveguide::Waveguide;

/// Isovelocity water of depth `depth` over a fluid half-space.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pekeris<T> {
    /// Water depth D (m).
    pub depth: T,
    /// The water.
    pub water: Medium<T>,
    /// The bottom half-space (must be faster than the water).
    pub bottom: Medium<T>,
}

impl<T: Real> Pekeris<T> {
    /// A Pekeris waveguide.
    pub fn new(depth: T, water: Medium<T>, bottom: Medium<T>) -> Self {
        Pekeris {
            depth,
            water,
            bottom,
        }
    }

    /// X = D·√(k_w² − k_b²) of the lossless problem.
    fn x_max(&self, omega: T) -> T {
        let (sw, sb) = (self.water.speed.recip(), self.bottom.speed.recip());
        self.depth * omega * ((sw - sb) * (sw + sb)).root()
    }

    /// Number of lossless trapped modes: count of m ≥ 1 with (m − ½)π < X.
    fn count_from_x(x_max: T) -> usize {
        let guess = (x_max / T::PI() + T::lit(0.5)).floor();
        let mut m = guess.to_usize().unwrap_or(usize::MAX);
        if m > 0 && (T::count(m) - T::lit(0.5)) * T::PI() >= x_max {
            m -= 1;
        }
        m
    }

    /// Lossless root x = kz·D of mode m (1-based).
    fn lossless_root(&self, m: usize, x_max: T) -> Option<T> {
        let (rw, rb) = (self.water.density, self.bottom.density);
        let g = |x: T| {
            let (sin, cos) = x.sine_cosine();
            rb * x * cos + rw * ((x_max - x) * (x_max + x)).root() * sin
        };
        // g and g′ from one sin/cos: g′ = ρ_b·(cos x − x·sin x) + ρ_w·(w·cos x − x·sin x/w)
        let slope = |x: T| {
            let (sin, cos) = x.sine_cosine();
            let w = ((x_max - x) * (x_max + x)).root();
            let g = rb * x * cos + rw * w * sin;
            let dg = rb * (cos - x * sin) + rw * (w * cos - x * sin / w);
            (g, dg)
        };
        let lo = (T::count(m) - T::lit(0.5)) * T::PI();
        let m_pi = T::count(m) * T::PI();
        // The bracket's ends in closed form where they are the zeros of cos and sin
        // (two sin/cos evaluations of four to six a root): g((m−½)π) = ±ρ_w·√(X² − x²)
        // and g(mπ) = ±ρ_b·mπ, signs (−1)^(m+1) and (−1)^m. Near cut-off, where
        // √(X² − x²) at (m−½)π is so small that ρ_b·x·cos x with the rounding of (m−½)π
        // (cos ≈ ε·x) could outweigh it, and at hi = X, g is evaluated.
        let odd = m % 2 == 1;
        let w_lo = ((x_max - lo) * (x_max + lo)).root();
        let g_lo = if w_lo * rw > T::lit(64.0) * T::epsilon() * rb * lo * (lo + T::one()) {
            if odd { rw * w_lo } else { -(rw * w_lo) }
        } else {
            g(lo)
        };
        let (hi, g_hi) = if m_pi < x_max {
            (m_pi, if odd { -(rb * m_pi) } else { rb * m_pi })
        } else {
            (x_max, g(x_max))
        };
        newton_bracketed(slope, lo, hi, g_lo, g_hi)
    }

    /// f(γ), f′(γ) and f″(γ) of the lossy characteristic function (see the module doc)
    /// for q2 = k_w² − k_b²; f″ lets Newton accept a root after one evaluation from
    /// the continuation's predictor.
    fn char_fn(&self, q2: Complex<T>, gamma: Complex<T>) -> Slope<T> {
        let (rw, rb, d) = (self.water.density, self.bottom.density, self.depth);
        let p = Prop::new(q2 - gamma * gamma, d);
        let f = p.c * rb + gamma * p.s * rw;
        // d/dγ = −2γ·d/d(kz²), dC/d(kz²) = −D·S/2
        let g2 = gamma * gamma;
        let ds = p.ds();
        let along = p.s - g2 * ds * T::lit(2.0);
        let df = gamma * p.s * d * rb + along * rw;
        let d2f = p
            .d2s()
            .map(|d2s| along * d * rb + (g2 * d2s * T::lit(4.0) - ds * T::lit(6.0)) * gamma * rw);
        Slope { f, df, d2f }
    }

    /// Un-normalized ∫ψ²/ρ over the water and 2γ·∫ψ²/ρ over the half-space for
    /// ψ = sin(kz z)/kz at root γ with the attenuation scaled by `loss` (the factor 2γ
    /// keeps both finite at cut-off, γ = 0).
    fn integrals(&self, omega: T, loss: Complex<T>, gamma: Complex<T>) -> (Complex<T>, Complex<T>) {
        let zero = T::zero();
        if loss == Complex::new(zero, zero) && gamma.im == zero {
            // A lossless root (the continuation's first predictor): all real, one real
            // sin/cos instead of a complex square root and sin/cos.
            let kw = self.water.real_wavenumber(omega);
            let kb = self.bottom.real_wavenumber(omega);
            let p = Prop::<T, T>::new((kw - kb) * (kw + kb) - gamma.re * gamma.re, self.depth);
            return (
                Complex::new(p.int_ss() / self.water.density, zero),
                Complex::new(p.s * p.s / self.bottom.density, zero),
            );
        }
        let kw = self.water.wavenumber_with_loss(omega, loss);
        let kb = self.bottom.wavenumber_with_loss(omega, loss);
        let p = Prop::new((kw - kb) * (kw + kb) - gamma * gamma, self.depth);
        (
            p.int_ss() / self.water.density,
            p.s * p.s / self.bottom.density,
        )
    }

    /// First-order estimate of γ at loss scale `to` from the root γ at loss scale `from`
    /// (Jensen et al. §5.4: δ(k²) = Σ δ(k_medium²)·∫_medium ψ²/ρ / ∫ψ²/ρ), and δ(k²);
    /// the old γ if the estimate is not finite.
    fn first_order(
        &self,
        omega: T,
        from: Complex<T>,
        to: Complex<T>,
        gamma: Complex<T>,
    ) -> (Complex<T>, Complex<T>) {
        let (iw, ib2) = self.integrals(omega, from, gamma);
        let iw2 = iw * gamma * T::lit(2.0);
        // k² of a medium at a loss scale (a lossless medium's is real: no complex division)
        let k2 = |m: &Medium<T>, loss: Complex<T>| {
            if m.is_lossy() {
                let k = m.wavenumber_with_loss(omega, loss);
                k * k
            } else {
                let k = m.real_wavenumber(omega);
                Complex::new(k * k, T::zero())
            }
        };
        let dw = if self.water.is_lossy() {
            k2(&self.water, to) - k2(&self.water, from)
        } else {
            Complex::new(T::zero(), T::zero())
        };
        let (kb2_from, kb2_to) = (k2(&self.bottom, from), k2(&self.bottom, to));
        let db = kb2_to - kb2_from;
        let dk2 = (dw * iw2 + db * ib2) / (iw2 + ib2);
        // γ² = k² − k_b²: the old k² plus δ(k²), against the new k_b².
        let next = T::complex_root(gamma * gamma + kb2_from + dk2 - kb2_to);
        if next.re.is_finite() && next.im.is_finite() {
            (next, dk2)
        } else {
            (gamma, Complex::new(T::zero(), T::zero()))
        }
    }

    /// Builds the normalized mode at root γ.
    fn mode_at(&self, omega: T, gamma: Complex<T>) -> Mode<T> {
        let kw = self.water.wavenumber(omega);
        let kb = self.bottom.wavenumber(omega);
        let kz = T::complex_root((kw - kb) * (kw + kb) - gamma * gamma);
        let p = Prop::from_root(kz, self.depth);
        let iw = p.int_ss() / self.water.density;
        // ψ(D)²/(2γρ_b) with ψ(D) = S
        let ib = p.s * p.s / (gamma * (self.bottom.density * T::lit(2.0)));
        Mode {
            k: horizontal_wavenumber(kb, gamma),
            gamma,
            kz,
            coef: T::complex_root(iw + ib).inv(),
        }
    }
}

impl<T: Real> Characteristic<T> for Pekeris<T> {
    fn characteristic(&self, omega: T, loss: Complex<T>) -> impl Fn(Complex<T>) -> Slope<T> {
        let kw = self.water.wavenumber_with_loss(omega, loss);
        let kb = self.bottom.wavenumber_with_loss(omega, loss);
        let q2 = (kw - kb) * (kw + kb);
        move |gamma| self.char_fn(q2, gamma)
    }

    fn predict(
        &self,
        omega: T,
        from: Complex<T>,
        to: Complex<T>,
        gamma: Complex<T>,
    ) -> (Complex<T>, Complex<T>) {
        self.first_order(omega, from, to, gamma)
    }

    fn mode_at(&self, omega: T, gamma: Complex<T>) -> Mode<T> {
        Pekeris::mode_at(self, omega, gamma)
    }

    fn wavenumber(&self, omega: T, gamma: Complex<T>) -> Complex<T> {
        self.bottom.horizontal_wavenumber(omega, gamma)
    }

    fn scale2(&self, omega: T) -> T {
        let k = self.water.real_wavenumber(omega);
        k * k
    }

    fn k_cut(&self, omega: T) -> T {
        self.bottom.real_wavenumber(omega)
    }

    fn lossy(&self) -> bool {
        self.water.is_lossy() || self.bottom.is_lossy()
    }
}

impl<T: Real> Waveguide<T> for Pekeris<T> {
    fn water_depth(&self) -> T {
        self.depth
    }

    fn validate(&self) -> Result<(), AcousticsError> {
        positive(self.depth, Param::WaterDepth)?;
        self.water.validate(Role::Water)?;
        self.bottom.validate(Role::Bottom)?;
        if self.bottom.speed <= self.water.speed {
            return Err(AcousticsError::NoTrappedModes);
        }
        Ok(())
    }

    fn lossless_mode_count(&self, freq: T) -> Result<usize, AcousticsError> {
        self.validate()?;
        let omega = angular_frequency(freq)?;
        Ok(Self::count_from_x(self.x_max(omega)))
    }

    fn modes<const N: usize>(
        &self,
        freq: T,
        out: &mut ModeSet<T, N>,
    ) -> Result<(), AcousticsError> {
        self.validate()?;
        let omega = angular_frequency(freq)?;
        let x_max = self.x_max(omega);
        let count = Self::count_from_x(x_max);
        out.reset(freq, self.depth, count, true);
        let root = |m: usize| {
            let x = self
                .lossless_root(m, x_max)
                .ok_or(AcousticsError::NoConvergence { mode: m })?;
            Ok(((x_max - x) * (x_max + x)).root() / self.depth)
        };
        collect_modes(self, omega, count, root, out)
    }

    fn modes_from<const N: usize>(
        &self,
        freq: T,
        seeds: &[Complex<T>],
        out: &mut ModeSet<T, N>,
    ) -> Result<bool, AcousticsError> {
        self.validate()?;
        let omega = angular_frequency(freq)?;
        let count = Self::count_from_x(self.x_max(omega));
        out.reset(freq, self.depth, count, true);
        if warm_modes(self, omega, count, seeds, out)? {
            return Ok(true);
        }
        self.modes(freq, out)?;
        Ok(false)
    }

    fn mode_shape(&self, freq: T, mode: &Mode<T>, z: T) -> Result<Complex<T>, AcousticsError> {
        self.validate()?;
        angular_frequency(freq)?;
        finite(z, Param::Depth)?;
        if z < T::zero() {
            return Err(AcousticsError::OutsideWater(Param::Depth));
        }
        if z <= self.depth {
            return Ok(mode.shape_in_water(z));
        }
        let at_bottom = mode.coef * sin_over(mode.kz, self.depth);
        Ok(at_bottom * (-mode.gamma * (z - self.depth)).exp())
    }
}

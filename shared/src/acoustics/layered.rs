//! Layered seabed: isovelocity water over isovelocity fluid sediment layers over a fluid
//! half-space, solved exactly with layer propagator matrices (no depth mesh).
//!
//! Method.
//! * Shooting: in every layer (ψ, ψ'/ρ) is carried across exactly by the propagator of
//!   [`super::propagator`]. The water is integrated down from the pressure-release surface,
//!   (ψ, ψ'/ρ) = (0, 1); the sediment is integrated up from the half-space, where
//!   ψ ∝ e^{−γ(z−H)} gives (ψ, −ψ'/ρ) = (1, γ/ρ_b), so evanescent layers are always
//!   crossed in their stable direction. The two meet at the water–sediment interface and
//!   the characteristic function is their Wronskian F = u_t·w_b + v_t·u_b (zero when
//!   the two solutions are parallel). All layer quantities depend on k² = k_b² + γ² only,
//!   so F is an entire function of γ: the unknown everywhere is γ, with no branch cut.
//!   With no sediment F = −(ρ_b·v + γ·u)/ρ_b, Pekeris's function; a sediment equal to
//!   the water or to the basement changes nothing but rounding.
//! * Counting (lossless problem): the Prüfer angle of the top solution at the interface,
//!   minus that of the bottom solution, increases monotonically as k decreases and passes
//!   a multiple of π at each eigenvalue (Sturm oscillation theorem). Zeros of ψ are
//!   counted exactly per layer, which gives N(γ) = number of modes with γ_m > γ. Each
//!   mode is isolated by bisection on N (so close modes are separated however close they
//!   are), then refined by Brent's method on F, where F changes sign exactly once.
//! * Loss: continuation in the attenuation ([`super::search`]) with Newton's method in the
//!   complex γ plane on F (derivative carried through the propagators).
//! * Normalization: closed-form ∫ψ²/ρ per layer plus ψ(H)²/(2γρ_b), using the bottom
//!   solution (scaled to match the top one) in the sediment.
//!
//! Limits: sources and receivers must be in the water column (mode shapes are available
//! at any depth through [`Waveguide::mode_shape`]). For a mode confined to a buried duct
//! (a slow layer under a fast one) the water-column tail is far below the rounding level
//! of its eigenvalue and its tiny amplitude there is not accurate (no effect on the
//! field in the water above ~1e-9 of max|p|). State overflow in evanescent layers
//! thicker than ~700 decay lengths (f64; ~80 in f32) ends in `NoConvergence`.

use num_complex::Complex;

use super::error::{AcousticsError, Param};
use super::medium::{Medium, Role, angular_frequency, finite, horizontal_wavenumber, positive};
use super::modes::{Mode, ModeSet};
use super::profile::{self, SspPoint, WaterStep};
use super::propagator::{Prop, Wave, angle_mod_pi, step_counting};
use super::roots::{Slope, brent};
use super::scalar::Real;
use super::search::{Characteristic, collect_modes, full_loss, warm_modes};
use super::waveguide::Waveguide;

/// One isovelocity fluid sediment layer.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Layer<T> {
    /// Thickness (m).
    pub thickness: T,
    /// The fluid.
    pub medium: Medium<T>,
}

impl<T: Real> Layer<T> {
    /// A layer of the given thickness (m).
    pub fn new(thickness: T, medium: Medium<T>) -> Self {
        Layer { thickness, medium }
    }
}

/// Water of depth `depth` over sediment layers (first = shallowest) over a half-space.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Layered<'a, T> {
    /// Water depth D (m).
    pub depth: T,
    /// The water.
    pub water: Medium<T>,
    /// Sediment layers from the top down (may be empty: then this is a Pekeris waveguide).
    pub sediment: &'a [Layer<T>],
    /// The basement half-space.
    pub basement: Medium<T>,
    /// The water's sound-speed profile (`super::profile`); empty: isovelocity water at
    /// `water.speed`. With a profile `water.speed` is not used (density and attenuation
    /// are).
    pub ssp: &'a [SspPoint<T>],
}

impl<'a, T: Real> Layered<'a, T> {
    /// A layered waveguide.
    pub fn new(depth: T, water: Medium<T>, sediment: &'a [Layer<T>], basement: Medium<T>) -> Self {
        Layered {
            depth,
            water,
            sediment,
            basement,
            ssp: &[],
        }
    }

    /// The same waveguide with the water's sound speed following the profile `ssp`
    /// (C-linear, constant below its last point; empty: isovelocity).
    pub fn with_profile(self, ssp: &'a [SspPoint<T>]) -> Self {
        Layered { ssp, ..self }
    }

    /// Calls `visit` for each step of the water column from the surface down to `to`,
    /// in order, with kz² = `kz2(c)` at sound speed c, and the step's mean sound speed:
    /// one exact step for isovelocity water, Magnus steps through a profile.
    fn water_steps<W: Wave<T>>(
        &self,
        omega: T,
        to: T,
        kz2: impl Fn(T) -> W,
        mut visit: impl FnMut(&WaterStep<W, T>, T),
    ) {
        if self.ssp.is_empty() {
            visit(
                &WaterStep::exact(kz2(self.water.speed), to),
                self.water.speed,
            );
        } else {
            for s in profile::steps(self.ssp, to, omega) {
                let kz2 = [kz2(s.c[0]), kz2(s.c[1]), kz2(s.c[2])];
                visit(&WaterStep::magnus(kz2, s.h, self.water.density), s.c[1]);
            }
        }
    }

    /// The water at sound speed `c` (its density and attenuation).
    fn water_at(&self, c: T) -> Medium<T> {
        Medium {
            speed: c,
            ..self.water
        }
    }

    /// Slowest sound speed in the water column.
    fn slowest_water(&self) -> T {
        if self.ssp.is_empty() {
            self.water.speed
        } else {
            profile::slowest(self.ssp, self.depth)
        }
    }

    /// Normalized shape of `mode` at depth z in the water column (0 ≤ z ≤ D): the top
    /// solution carried down to z, as normalized by [`Layered::mode_at`].
    fn water_shape(&self, omega: T, mode: &Mode<T>, z: T) -> Complex<T> {
        if self.ssp.is_empty() {
            return mode.shape_in_water(z);
        }
        let kb = self.basement.wavenumber(omega);
        let g2 = mode.gamma * mode.gamma;
        let rw = self.water.density;
        let kz2 = |c: T| {
            let k = self.water_at(c).wavenumber(omega);
            (k - kb) * (k + kb) - g2
        };
        let (mut u, mut v) = (
            Complex::new(T::zero(), T::zero()),
            Complex::new(T::one(), T::zero()),
        );
        self.water_steps(omega, z, kz2, |w, _| (u, v) = w.apply(rw, u, v));
        mode.coef * u / rw
    }

    /// Pressure of `modes` (this waveguide's, from [`Waveguide::modes`]) at `range` and
    /// `receiver_depths` from a source at `source_depth`, as
    /// [`ModeSet::pressure_at`]; the mode shapes of a profile are evaluated here.
    pub fn pressure_at<const N: usize>(
        &self,
        modes: &ModeSet<T, N>,
        source_depth: T,
        range: T,
        receiver_depths: &[T],
        out: &mut [Complex<T>],
    ) -> Result<(), AcousticsError> {
        self.validate()?;
        let omega = angular_frequency(modes.frequency())?;
        modes.pressure_with(source_depth, range, receiver_depths, out, |m, z| {
            self.water_shape(omega, m, z)
        })
    }

    /// Lossless shooting at real γ: (F, N(γ)); the count (zeros of ψ through Prüfer
    /// angles, four atan2 per layer) only when `count` is set, else 0.
    fn shoot_real(&self, omega: T, gamma: T, count: bool) -> (T, usize) {
        let kb = self.basement.real_wavenumber(omega);
        let g2 = gamma * gamma;
        let q = |m: &Medium<T>| {
            let k = m.real_wavenumber(omega);
            (k - kb) * (k + kb)
        };
        let step = |p: &Prop<T, T>, rho: T, u: T, v: T| {
            if count {
                step_counting(p, rho, u, v)
            } else {
                let (u1, v1) = p.apply(rho, u, v);
                (u1, v1, 0)
            }
        };
        let rw = self.water.density;
        let (mut ut, mut vt, mut nt) = (T::zero(), T::one(), 0usize);
        let kz2 = |c: T| q(&self.water_at(c)) - g2;
        self.water_steps(omega, self.depth, kz2, |w, _| {
            let (u, v, n) = if count {
                w.counting(rw, ut, vt)
            } else {
                let (u, v) = w.apply(rw, ut, vt);
                (u, v, 0)
            };
            (ut, vt, nt) = (u, v, nt.saturating_add(n));
        });
        let (mut ub, mut wb, mut nb) = (T::one(), gamma / self.basement.density, 0usize);
        for layer in self.sediment.iter().rev() {
            let p = Prop::new(q(&layer.medium) - g2, layer.thickness);
            let (u, w, n) = step(&p, layer.medium.density, ub, wb);
            (ub, wb, nb) = (u, w, nb.saturating_add(n));
        }
        let f = ut * wb + vt * ub;
        if !count {
            return (f, 0);
        }
        let s = angle_mod_pi(ut, vt) + angle_mod_pi(ub, wb);
        let n = nt.saturating_add(nb);
        let count = if s > T::PI() {
            n.saturating_add(1)
        } else if s == T::zero() {
            n.saturating_sub(1)
        } else {
            n
        };
        (f, count)
    }

    /// Lossy shooting at complex γ with the attenuation scaled by `loss`: (F, dF/dγ).
    fn shoot_complex(
        &self,
        omega: T,
        loss: Complex<T>,
        gamma: Complex<T>,
    ) -> (Complex<T>, Complex<T>) {
        let kb = self.basement.wavenumber_with_loss(omega, loss);
        let g2 = gamma * gamma;
        let dkz2 = -gamma * T::lit(2.0);
        let q = |m: &Medium<T>| {
            let k = m.wavenumber_with_loss(omega, loss);
            (k - kb) * (k + kb)
        };
        let zero = Complex::new(T::zero(), T::zero());
        let one = Complex::new(T::one(), T::zero());
        let mut top = [zero, one, zero, zero];
        let kz2 = |c: T| q(&self.water_at(c)) - g2;
        self.water_steps(omega, self.depth, kz2, |w, _| {
            top = w.tangent(self.water.density, top, dkz2);
        });
        let [ut, vt, dut, dvt] = top;
        let rb = self.basement.density;
        let mut bottom = [one, gamma / rb, zero, Complex::new(rb.recip(), T::zero())];
        for layer in self.sediment.iter().rev() {
            let p = Prop::new(q(&layer.medium) - g2, layer.thickness);
            bottom = p.tangent(layer.medium.density, bottom, dkz2);
        }
        let [ub, wb, dub, dwb] = bottom;
        (ut * wb + vt * ub, dut * wb + ut * dwb + dvt * ub + vt * dub)
    }

    /// Largest γ of any trapped mode: √(max k_layer² − k_b²) over water and sediment.
    fn gamma_max(&self, omega: T) -> T {
        let kb = self.basement.real_wavenumber(omega);
        let mut kmax = omega / self.slowest_water();
        for layer in self.sediment {
            kmax = kmax.max(layer.medium.real_wavenumber(omega));
        }
        ((kmax - kb) * (kmax + kb)).max(T::zero()).root()
    }

    /// Lossless γ of mode m (called for m = 1, 2, … in order): bisection on the mode
    /// count N(γ) until (lo, hi] holds mode m alone, then Brent's method on F.
    fn isolate<const N: usize>(
        &self,
        omega: T,
        iso: &mut Isolation<T, N>,
        m: usize,
    ) -> Result<T, AcousticsError> {
        let fail = AcousticsError::NoConvergence { mode: m };
        let mut lo = iso.lower.get(m - 1).copied().unwrap_or(T::zero());
        let (mut f_lo, mut n_lo) = self.shoot_real(omega, lo, true);
        while n_lo > m {
            let mid = (lo + iso.hi) * T::lit(0.5);
            if !(mid > lo && mid < iso.hi) {
                return Err(fail);
            }
            let (f_mid, n_mid) = self.shoot_real(omega, mid, true);
            if n_mid >= m {
                (lo, f_lo, n_lo) = (mid, f_mid, n_mid);
                for slot in iso.lower.iter_mut().take(n_mid).skip(m) {
                    *slot = slot.max(mid);
                }
            } else {
                (iso.hi, iso.f_hi) = (mid, f_mid);
            }
        }
        if n_lo != m {
            return Err(fail);
        }
        let gamma = self.refine(omega, lo, iso.hi, f_lo, iso.f_hi);
        // N(lo) = m: the upper end of mode m + 1's bracket.
        (iso.hi, iso.f_hi) = (lo, f_lo);
        Ok(gamma)
    }

    /// Lossless root γ of mode m in (lo, hi], where N(lo) = m and N(hi) = m − 1.
    fn refine(&self, omega: T, lo: T, hi: T, f_lo: T, f_hi: T) -> T {
        if let Some(g) = brent(
            |g| self.shoot_real(omega, g, false).0,
            lo,
            hi,
            f_lo,
            f_hi,
            T::zero(),
        ) {
            return g;
        }
        // Signs disagree with the count (rounding at a near-degenerate pair): bisect on N.
        let m = self.shoot_real(omega, lo, true).1;
        let (mut lo, mut hi) = (lo, hi);
        for _ in 0..200 {
            let mid = (lo + hi) * T::lit(0.5);
            if !(mid > lo && mid < hi) {
                break;
            }
            if self.shoot_real(omega, mid, true).1 >= m {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        (lo + hi) * T::lit(0.5)
    }

    /// First-order estimate of γ at loss scale `to` from the root γ at loss scale `from`:
    /// δ(k²) = Σ_layers δ(k_layer²)·∫_layer ψ²/ρ / ∫ψ²/ρ, and δ(k²) (the old γ if not
    /// finite).
    fn first_order(
        &self,
        omega: T,
        from: Complex<T>,
        to: Complex<T>,
        gamma: Complex<T>,
    ) -> (Complex<T>, Complex<T>) {
        let m = self.matched(omega, from, gamma, Some(to));
        let s2 = m.sigma * m.sigma;
        // Numerator and denominator times 2γ, so that the half-space term stays finite
        // at cut-off.
        let g2 = gamma * T::lit(2.0);
        let rb = self.basement.density;
        let num = (m.water_weighted + s2 * m.below_weighted) * g2 + s2 * m.tail_weight / rb;
        let den = (m.water_integral + s2 * m.below) * g2 + s2 / rb;
        let kb_from = self.basement.wavenumber_with_loss(omega, from);
        let kb_to = self.basement.wavenumber_with_loss(omega, to);
        let dk2 = num / den;
        let next = T::complex_root(gamma * gamma + kb_from * kb_from + dk2 - kb_to * kb_to);
        if next.re.is_finite() && next.im.is_finite() {
            (next, dk2)
        } else {
            (gamma, Complex::new(T::zero(), T::zero()))
        }
    }

    /// Top solution at the interface and the factor σ that scales the bottom solution
    /// onto it, plus the un-normalized ∫ψ²/ρ of the water and of the sediment (before σ²;
    /// the half-space adds σ²/(2γρ_b)). With `weights_to`, also the same integrals
    /// weighted by each medium's δ(k²) = k²(loss = weights_to) − k²(loss).
    fn matched(
        &self,
        omega: T,
        loss: Complex<T>,
        gamma: Complex<T>,
        weights_to: Option<Complex<T>>,
    ) -> Matched<T> {
        let kb = self.basement.wavenumber_with_loss(omega, loss);
        let g2 = gamma * gamma;
        let q = |m: &Medium<T>| {
            let k = m.wavenumber_with_loss(omega, loss);
            (k - kb) * (k + kb)
        };
        let dk2 = |m: &Medium<T>| match weights_to {
            Some(to) => {
                let (k0, k1) = (
                    m.wavenumber_with_loss(omega, loss),
                    m.wavenumber_with_loss(omega, to),
                );
                k1 * k1 - k0 * k0
            }
            None => Complex::new(T::zero(), T::zero()),
        };
        let zero = Complex::new(T::zero(), T::zero());
        let one = Complex::new(T::one(), T::zero());
        let rw = self.water.density;
        let (mut ut, mut vt) = (zero, one);
        let (mut water_integral, mut water_weighted) = (zero, zero);
        let kz2 = |c: T| q(&self.water_at(c)) - g2;
        self.water_steps(omega, self.depth, kz2, |w, c| {
            let integral = w.integral(rw, ut, vt);
            water_integral = water_integral + integral;
            water_weighted = water_weighted + integral * dk2(&self.water_at(c));
            (ut, vt) = w.apply(rw, ut, vt);
        });
        let rb = self.basement.density;
        let (mut ub, mut wb) = (one, gamma / rb);
        let mut below = zero;
        let mut below_weighted = zero;
        for layer in self.sediment.iter().rev() {
            let p = Prop::new(q(&layer.medium) - g2, layer.thickness);
            let integral = p.integral(layer.medium.density, ub, wb);
            below = below + integral;
            below_weighted = below_weighted + integral * dk2(&layer.medium);
            (ub, wb) = p.apply(layer.medium.density, ub, wb);
        }
        // Least-squares σ with (ut, vt) ≈ σ·(ub, −wb), u weighted to v's units by |k|/ρ_w.
        let k2 = T::complex_abs(kb * kb + g2) / (rw * rw);
        let vb = -wb;
        let sigma = (ut * ub.conj() * k2 + vt * vb.conj()) / (ub.norm_sqr() * k2 + vb.norm_sqr());
        Matched {
            sigma,
            water_integral,
            below,
            water_weighted,
            below_weighted,
            tail_weight: dk2(&self.basement),
        }
    }

    /// Builds the normalized mode at root γ.
    fn mode_at(&self, omega: T, gamma: Complex<T>) -> Mode<T> {
        let kw = self.water.wavenumber(omega);
        let kb = self.basement.wavenumber(omega);
        let m = self.matched(omega, full_loss(), gamma, None);
        let tail = (gamma * self.basement.density * T::lit(2.0)).inv();
        let norm = m.water_integral + m.sigma * m.sigma * (m.below + tail);
        Mode {
            k: horizontal_wavenumber(kb, gamma),
            gamma,
            kz: T::complex_root((kw - kb) * (kw + kb) - gamma * gamma),
            coef: T::complex_root(norm).inv() * self.water.density,
        }
    }
}

/// Bisection state carried from mode to mode (see [`Layered::isolate`]).
struct Isolation<T, const N: usize> {
    /// lower[j − 1]: largest γ seen with N(γ) ≥ j (a lower bound on mode j's γ).
    lower: [T; N],
    /// A γ with N(γ) = m − 1 when mode m is sought, and F there.
    hi: T,
    f_hi: T,
}

/// See [`Layered::matched`].
struct Matched<T> {
    sigma: Complex<T>,
    water_integral: Complex<T>,
    below: Complex<T>,
    water_weighted: Complex<T>,
    below_weighted: Complex<T>,
    /// δ(k_b²) of the half-space.
    tail_weight: Complex<T>,
}

impl<T: Real> Characteristic<T> for Layered<'_, T> {
    fn characteristic(&self, omega: T, loss: Complex<T>) -> impl Fn(Complex<T>) -> Slope<T> {
        move |gamma| {
            let (f, df) = self.shoot_complex(omega, loss, gamma);
            Slope { f, df, d2f: None }
        }
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
        Layered::mode_at(self, omega, gamma)
    }

    fn wavenumber(&self, omega: T, gamma: Complex<T>) -> Complex<T> {
        self.basement.horizontal_wavenumber(omega, gamma)
    }

    fn scale2(&self, omega: T) -> T {
        let kb = self.basement.real_wavenumber(omega);
        let g = self.gamma_max(omega);
        kb * kb + g * g
    }

    fn k_cut(&self, omega: T) -> T {
        self.basement.real_wavenumber(omega)
    }

    fn lossy(&self) -> bool {
        self.water.is_lossy()
            || self.basement.is_lossy()
            || self.sediment.iter().any(|l| l.medium.is_lossy())
    }
}

impl<T: Real> Waveguide<T> for Layered<'_, T> {
    fn water_depth(&self) -> T {
        self.depth
    }

    fn validate(&self) -> Result<(), AcousticsError> {
        positive(self.depth, Param::WaterDepth)?;
        self.water.validate(Role::Water)?;
        if !self.ssp.is_empty() {
            profile::validate(self.ssp)?;
        }
        let mut slowest = self.slowest_water();
        for (i, layer) in self.sediment.iter().enumerate() {
            positive(layer.thickness, Param::LayerThickness(i))?;
            layer.medium.validate(Role::Layer(i))?;
            slowest = slowest.min(layer.medium.speed);
        }
        self.basement.validate(Role::Bottom)?;
        if self.basement.speed <= slowest {
            return Err(AcousticsError::NoTrappedModes);
        }
        Ok(())
    }

    fn lossless_mode_count(&self, freq: T) -> Result<usize, AcousticsError> {
        self.validate()?;
        let omega = angular_frequency(freq)?;
        Ok(self.shoot_real(omega, T::zero(), true).1)
    }

    fn modes<const N: usize>(
        &self,
        freq: T,
        out: &mut ModeSet<T, N>,
    ) -> Result<(), AcousticsError> {
        self.validate()?;
        let omega = angular_frequency(freq)?;
        let count = self.shoot_real(omega, T::zero(), true).1;
        out.reset(freq, self.depth, count, self.ssp.is_empty());
        let mut isolation = Isolation {
            lower: [T::zero(); N],
            hi: self.gamma_max(omega),
            f_hi: T::zero(),
        };
        isolation.f_hi = self.shoot_real(omega, isolation.hi, false).0;
        let root = |m: usize| self.isolate(omega, &mut isolation, m);
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
        let count = self.shoot_real(omega, T::zero(), true).1;
        out.reset(freq, self.depth, count, self.ssp.is_empty());
        if warm_modes(self, omega, count, seeds, out)? {
            return Ok(true);
        }
        self.modes(freq, out)?;
        Ok(false)
    }

    fn mode_shape(&self, freq: T, mode: &Mode<T>, z: T) -> Result<Complex<T>, AcousticsError> {
        self.validate()?;
        let omega = angular_frequency(freq)?;
        finite(z, Param::Depth)?;
        if z < T::zero() {
            return Err(AcousticsError::OutsideWater(Param::Depth));
        }
        if z <= self.depth {
            return Ok(self.water_shape(omega, mode, z));
        }
        // Below the water: the bottom solution, scaled by σ and the normalization.
        let m = self.matched(omega, full_loss(), mode.gamma, None);
        let scale = m.sigma * mode.coef / self.water.density;
        let total: T = self
            .sediment
            .iter()
            .fold(self.depth, |d, l| d + l.thickness);
        if z >= total {
            return Ok(scale * (-mode.gamma * (z - total)).exp());
        }
        let kb = self.basement.wavenumber(omega);
        let g2 = mode.gamma * mode.gamma;
        let (mut ub, mut wb) = (
            Complex::new(T::one(), T::zero()),
            mode.gamma / self.basement.density,
        );
        let mut bottom = total;
        for layer in self.sediment.iter().rev() {
            let top = bottom - layer.thickness;
            let k = layer.medium.wavenumber(omega);
            let kz2 = (k - kb) * (k + kb) - g2;
            let h = if z >= top {
                bottom - z
            } else {
                layer.thickness
            };
            let p = Prop::new(kz2, h);
            (ub, wb) = p.apply(layer.medium.density, ub, wb);
            if z >= top {
                return Ok(scale * ub);
            }
            bottom = top;
        }
        Ok(scale * ub)
    }
}

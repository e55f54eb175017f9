//! Pressure from modes, in KRAKEN FIELD's convention, transmission loss, and the time
//! convention that ties the complex pressure to what a hydrophone records.
//!
//! # Time convention (docs/architecture.md, "Time convention")
//! The field carries e^{−i·k·r} with Im k < 0: it decays with range only because of that
//! sign, and its phase fronts move outward only if the time factor is **e^{+iωt}** (the
//! phase ωt − Re(k)·r is constant on r = r₀ + ω·t/Re k). A tone whose model amplitude is P
//! is therefore the physical signal Re{P·e^{+iωt}} ([`tone_signal`]), and a DFT with the
//! usual kernel e^{−iωn} measures P itself, unconjugated ([`amplitude_from_dft`]). These
//! two functions are the only place the convention is written: the buoy, `vina synth`
//! and every host path that reads samples go through them.

use num_complex::Complex;

use super::error::{AcousticsError, Param};
use super::medium::{finite, positive};
use super::modes::{Mode, ModeSet};
use super::scalar::Real;

impl<T: Real, const N: usize> ModeSet<T, N> {
    /// Complex pressure at `range` (m) and `receiver_depth` (m) from a source at
    /// `source_depth` (m), both in the water column:
    ///
    /// p(r, z) = i·√(2π)·e^{iπ/4}·Σ_m ψm(zs)·ψm(z)·e^{−i·km·r}/√(km·r)
    ///
    /// (KRAKEN FIELD's point-source sum, scaled so that free-field pressure at 1 m has
    /// magnitude 1; see [`transmission_loss`]). An empty set gives 0.
    pub fn pressure(
        &self,
        source_depth: T,
        range: T,
        receiver_depth: T,
    ) -> Result<Complex<T>, AcousticsError> {
        let mut out = [Complex::new(T::zero(), T::zero())];
        self.pressure_at(source_depth, range, &[receiver_depth], &mut out)?;
        Ok(out[0])
    }

    /// Pressure at several receiver depths at once: the source term and range factor of
    /// each mode are computed once and reused for every receiver.
    /// `out` must have one slot per receiver depth.
    pub fn pressure_at(
        &self,
        source_depth: T,
        range: T,
        receiver_depths: &[T],
        out: &mut [Complex<T>],
    ) -> Result<(), AcousticsError> {
        if !self.analytic_shapes() {
            return Err(AcousticsError::ShapesNeedWaveguide);
        }
        self.pressure_rows(
            source_depth,
            range,
            receiver_depths,
            out,
            |m, z| m.shape_in_water(z),
            |m, a, depths, out| m.add_shapes_in_water(a, depths, out),
        )
    }

    /// [`ModeSet::pressure_at`] with the mode shapes in the water given by `shape`
    /// (mode, depth) → ψ: the waveguide's, for a water column with a sound-speed profile.
    pub(crate) fn pressure_with(
        &self,
        source_depth: T,
        range: T,
        receiver_depths: &[T],
        out: &mut [Complex<T>],
        shape: impl Fn(&Mode<T>, T) -> Complex<T>,
    ) -> Result<(), AcousticsError> {
        self.pressure_rows(
            source_depth,
            range,
            receiver_depths,
            out,
            &shape,
            |m, a, depths, out| {
                for (p, &z) in out.iter_mut().zip(depths) {
                    *p = *p + a * shape(m, z);
                }
            },
        )
    }

    /// The mode sum: for each mode, `add_row(mode, a, depths, out)` adds a·ψ(z) at the
    /// receivers, a being the source term ψ(z_s)·e^{−ikr}/√(kr).
    fn pressure_rows(
        &self,
        source_depth: T,
        range: T,
        receiver_depths: &[T],
        out: &mut [Complex<T>],
        shape: impl Fn(&Mode<T>, T) -> Complex<T>,
        add_row: impl Fn(&Mode<T>, Complex<T>, &[T], &mut [Complex<T>]),
    ) -> Result<(), AcousticsError> {
        if receiver_depths.len() != out.len() {
            return Err(AcousticsError::LengthMismatch {
                receivers: receiver_depths.len(),
                outputs: out.len(),
            });
        }
        positive(range, Param::Range)?;
        self.check_depth(source_depth, Param::SourceDepth)?;
        for (i, &z) in receiver_depths.iter().enumerate() {
            self.check_depth(z, Param::ReceiverDepth(i))?;
        }
        let zero = Complex::new(T::zero(), T::zero());
        out.iter_mut().for_each(|p| *p = zero);
        for mode in self.modes() {
            let a = shape(mode, source_depth) * range_factor(mode, range);
            add_row(mode, a, receiver_depths, out);
        }
        let scale = field_scale::<T>();
        out.iter_mut().for_each(|p| *p = *p * scale);
        Ok(())
    }

    /// `Ok` if 0 ≤ z ≤ D.
    fn check_depth(&self, z: T, p: Param) -> Result<(), AcousticsError> {
        finite(z, p)?;
        if z < T::zero() || z > self.water_depth() {
            return Err(AcousticsError::OutsideWater(p));
        }
        Ok(())
    }
}

/// e^{−i·k·r}/√(k·r) for one mode.
fn range_factor<T: Real>(mode: &Mode<T>, r: T) -> Complex<T> {
    let kr = mode.k * r;
    // e^{−i·k·r} = e^{Im(k)·r}·(cos(Re(k)·r) − i·sin(Re(k)·r))
    let (s, c) = kr.re.sine_cosine();
    let decay = kr.im.exp();
    Complex::new(decay * c, -decay * s) / T::complex_root(kr)
}

/// i·√(2π)·e^{iπ/4}.
fn field_scale<T: Real>() -> Complex<T> {
    let a = (T::lit(2.0) * T::PI()).root() * T::FRAC_1_SQRT_2();
    // i·(1 + i)/√2·√(2π) = (−1 + i)·√π
    Complex::new(-a, a)
}

/// The physical signal of a tone of model amplitude `p` at phase `omega_t` = ω·t (rad):
/// Re{p·e^{+iωt}} (see the module's time convention).
pub fn tone_signal<T: Real>(p: Complex<T>, omega_t: T) -> T {
    let (s, c) = omega_t.sine_cosine();
    p.re * c - p.im * s
}

/// The model amplitude P of a tone from its single-bin DFT `X = Σₙ wₙ·x[n]·e^{−iωn}`
/// under a window w whose weights sum to `window_sum` (N for a plain frame of N samples):
/// for x[n] = Re{P·e^{+iωn}} over many cycles X = P·Σw/2, so P = 2·X/Σw — unconjugated
/// (see the module's time convention).
pub fn amplitude_from_dft<T: Real>(dft: Complex<T>, window_sum: T) -> Complex<T> {
    let sum = if window_sum > T::zero() {
        window_sum
    } else {
        T::one()
    };
    dft * (T::lit(2.0) / sum)
}

/// Transmission loss TL = −20·log10|p| (dB re 1 m) of a FIELD-convention pressure;
/// +∞ for p = 0.
pub fn transmission_loss<T: Real>(p: Complex<T>) -> T {
    -T::lit(20.0) * T::complex_abs(p).log10()
}

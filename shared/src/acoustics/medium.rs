//! An isovelocity fluid: sound speed, density and attenuation, and its complex wavenumber.

use num_complex::Complex;

use super::error::{AcousticsError, Param};
use super::scalar::Real;

/// dB per neper: 20·log10(e).
const DB_PER_NEPER: f64 = 8.685_889_6;

/// An isovelocity fluid in KRAKEN's input units.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Medium<T> {
    /// Compressional sound speed c (m/s).
    pub speed: T,
    /// Density ρ (g/cm³, as in Acoustics Toolbox files; only ratios and the mode
    /// normalization ∫ψ²/ρ dz = 1 depend on the unit).
    pub density: T,
    /// Attenuation a (dB per wavelength); 0 for a lossless medium.
    pub attenuation: T,
}

/// Which input a medium is, so that validation errors name it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Role {
    Water,
    Bottom,
    Layer(usize),
}

impl<T: Real> Medium<T> {
    /// A medium with the given speed (m/s), density (g/cm³) and attenuation (dB/λ).
    pub fn new(speed: T, density: T, attenuation: T) -> Self {
        Medium {
            speed,
            density,
            attenuation,
        }
    }

    /// A lossless medium.
    pub fn lossless(speed: T, density: T) -> Self {
        Medium::new(speed, density, T::zero())
    }

    /// Lossless wavenumber ω/c (rad/m).
    pub fn real_wavenumber(&self, omega: T) -> T {
        omega / self.speed
    }

    /// Complex wavenumber k = ω/c̃ (rad/m), with KRAKEN's complex sound speed
    /// c̃ = c + i·α·c²/ω and α = a·f/(8.6858896·c) Np/m for a in dB/λ.
    ///
    /// Then c̃ = c·(1 + i·δ) with δ = a/(2π·8.6858896), independent of frequency, and
    /// Im k = −(ω/c)·δ/(1 + δ²) < 0: with FIELD's e^{−ikr} range dependence a lossy
    /// wave decays with range (the sign KRAKENC/`pelagic` produce).
    pub fn wavenumber(&self, omega: T) -> Complex<T> {
        let delta = self.attenuation / (T::lit(2.0 * DB_PER_NEPER) * T::PI());
        let k0 = omega / self.speed;
        let den = T::one() + delta * delta;
        Complex::new(k0 / den, -k0 * delta / den)
    }

    /// Horizontal wavenumber k = √(k_m² + γ²) of a mode that decays as e^{−γ·z} in this
    /// medium as a half-space (its complex k_m at full attenuation).
    pub(crate) fn horizontal_wavenumber(&self, omega: T, gamma: Complex<T>) -> Complex<T> {
        horizontal_wavenumber(self.wavenumber(omega), gamma)
    }

    /// Complex wavenumber with the attenuation scaled by `loss` (0 = lossless,
    /// 1 = as given): the parameter along which lossless roots are continued to lossy
    /// ones. It is analytic in `loss`, so paths may leave the real axis to pass around
    /// points where two roots meet.
    pub(crate) fn wavenumber_with_loss(&self, omega: T, loss: Complex<T>) -> Complex<T> {
        let delta = loss * (self.attenuation / (T::lit(2.0 * DB_PER_NEPER) * T::PI()));
        let k0 = omega / self.speed;
        if delta.im == T::zero() {
            // A real loss scale (every path but the detours): `detour_wavenumber`'s
            // complex division in real arithmetic, with the same roundings, at a third of
            // its cost.
            let den = T::one() + delta.re * delta.re;
            // (0 − x, not −x: the signed zero of a lossless Im k is the division's)
            return Complex::new(k0 / den, (T::zero() - k0 * delta.re) / den);
        }
        detour_wavenumber(k0, delta)
    }

    /// Whether the attenuation is non-zero.
    pub fn is_lossy(&self) -> bool {
        self.attenuation != T::zero()
    }

    /// Checks that speed and density are finite and positive, attenuation finite and ≥ 0.
    pub(crate) fn validate(&self, role: Role) -> Result<(), AcousticsError> {
        let (speed, density, attenuation) = match role {
            Role::Water => (
                Param::WaterSpeed,
                Param::WaterDensity,
                Param::WaterAttenuation,
            ),
            Role::Bottom => (
                Param::BottomSpeed,
                Param::BottomDensity,
                Param::BottomAttenuation,
            ),
            Role::Layer(i) => (
                Param::LayerSpeed(i),
                Param::LayerDensity(i),
                Param::LayerAttenuation(i),
            ),
        };
        positive(self.speed, speed)?;
        positive(self.density, density)?;
        finite(self.attenuation, attenuation)?;
        if self.attenuation < T::zero() {
            return Err(AcousticsError::NegativeAttenuation(attenuation));
        }
        Ok(())
    }
}

/// k₀/(1 + i·δ) for a complex loss scale (the continuation's detours around double
/// roots): rare, so kept out of line, one copy in flash instead of one per call site.
#[cold]
#[inline(never)]
fn detour_wavenumber<T: Real>(k0: T, delta: Complex<T>) -> Complex<T> {
    let i = Complex::new(T::zero(), T::one());
    Complex::new(k0, T::zero()) / (i * delta + T::one())
}

/// k = √(k_m² + γ²) from the half-space's wavenumber k_m, for callers that have it
/// already ([`Medium::horizontal_wavenumber`] computes it).
pub(crate) fn horizontal_wavenumber<T: Real>(km: Complex<T>, gamma: Complex<T>) -> Complex<T> {
    T::complex_root(km * km + gamma * gamma)
}

/// `Ok` if `x` is finite.
pub(crate) fn finite<T: Real>(x: T, p: Param) -> Result<(), AcousticsError> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(AcousticsError::NotFinite(p))
    }
}

/// `Ok` if `x` is finite and > 0.
pub(crate) fn positive<T: Real>(x: T, p: Param) -> Result<(), AcousticsError> {
    finite(x, p)?;
    if x > T::zero() {
        Ok(())
    } else {
        Err(AcousticsError::NotPositive(p))
    }
}

/// Angular frequency 2πf after checking f.
pub(crate) fn angular_frequency<T: Real>(freq: T) -> Result<T, AcousticsError> {
    positive(freq, Param::Frequency)?;
    Ok(T::lit(2.0) * T::PI() * freq)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real-loss path of `wavenumber_with_loss` gives the complex division's bits,
    /// and at loss 1 `wavenumber`'s.
    #[test]
    fn real_loss_path_equals_the_complex_division() {
        let m = Medium::new(1700.0f32, 1.5, 0.5);
        let omega = 2.0 * core::f32::consts::PI * 148.0;
        let i = Complex::new(0.0f32, 1.0);
        for s in [0.0f32, 0.125, 0.5, 0.7, 1.0] {
            let delta = Complex::new(s, 0.0)
                * (m.attenuation / (2.0 * DB_PER_NEPER as f32 * core::f32::consts::PI));
            let want = Complex::new(omega / m.speed, 0.0) / (i * delta + 1.0);
            let got = m.wavenumber_with_loss(omega, Complex::new(s, 0.0));
            assert_eq!(
                (got.re.to_bits(), got.im.to_bits()),
                (want.re.to_bits(), want.im.to_bits()),
                "loss {s}"
            );
        }
        assert_eq!(
            m.wavenumber_with_loss(omega, Complex::new(1.0, 0.0)),
            m.wavenumber(omega)
        );
    }
}

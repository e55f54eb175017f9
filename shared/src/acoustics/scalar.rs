//! The float type the forward model is written over: f64 on the host, f32 on the buoy.

use core::fmt::{Debug, Display};
use num_complex::Complex;
use num_traits::{Float, FloatConst};

/// A floating-point type the forward model runs in (implemented for `f32` and `f64`).
///
/// `num_traits::Float` supplies the elementary functions (through `libm` in `no_std`).
/// This trait adds literals without a fallible `T::from(..)`, and the few functions the
/// mode solver calls most, overridden for `f32` (`acoustics/single.rs`): `libm` evaluates
/// `sinf`, `cosf` and `hypotf` (behind `Complex::norm`) in f64 and `sqrtf` bit by bit,
/// all in software on a single-precision FPU such as the Cortex-M4F's. The f64 versions
/// are `Float`'s own, so the host's f64 results are unchanged by this trait.
pub trait Real: Float + FloatConst + Debug + Display + Default + 'static {
    /// Converts an `f64` literal to `Self` (rounds to nearest for `f32`).
    fn lit(x: f64) -> Self;

    /// A count as `Self`, converted directly (`lit(n as f64)` would go through software
    /// f64 on the Cortex-M4F); exact below 2²⁴ in f32.
    fn count(n: usize) -> Self;

    /// √x, correctly rounded.
    #[inline]
    fn root(self) -> Self {
        self.sqrt()
    }

    /// (sin x, cos x).
    #[inline]
    fn sine_cosine(self) -> (Self, Self) {
        self.sin_cos()
    }

    /// |z|.
    #[inline]
    fn complex_abs(z: Complex<Self>) -> Self {
        z.norm()
    }

    /// The principal square root of z (Re ≥ 0; on the negative real axis the sign of
    /// Im z, zero included, picks the side).
    #[inline]
    fn complex_root(z: Complex<Self>) -> Complex<Self> {
        z.sqrt()
    }
}

impl Real for f32 {
    #[inline]
    fn lit(x: f64) -> f32 {
        x as f32
    }

    #[inline]
    fn count(n: usize) -> f32 {
        n as f32
    }

    #[inline]
    fn root(self) -> f32 {
        super::single::sqrt(self)
    }

    #[inline]
    fn sine_cosine(self) -> (f32, f32) {
        super::single::sin_cos(self)
    }

    #[inline]
    fn complex_abs(z: Complex<f32>) -> f32 {
        super::single::hypot(z.re, z.im)
    }

    #[inline]
    fn complex_root(z: Complex<f32>) -> Complex<f32> {
        super::single::complex_sqrt(z)
    }
}

impl Real for f64 {
    #[inline]
    fn lit(x: f64) -> f64 {
        x
    }

    #[inline]
    fn count(n: usize) -> f64 {
        n as f64
    }
}

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

    /// The smaller of two numbers, the other one if one is NaN (as `Float::min`), by
    /// compare and select: `Float::min` is a libm call (`fminf`) on the Cortex-M4F, whose
    /// FPU has no `vminnm` (~1.3 % of an exact-posterior evaluation on the buoy, measured).
    #[inline]
    fn smaller(self, other: Self) -> Self {
        if other.is_nan() || self < other {
            self
        } else {
            other
        }
    }

    /// The larger of two numbers, the other one if one is NaN (as `Float::max`), by
    /// compare and select (see [`Real::smaller`]).
    #[inline]
    fn larger(self, other: Self) -> Self {
        if other.is_nan() || self > other {
            self
        } else {
            other
        }
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

#[cfg(test)]
mod tests {
    use super::Real;

    /// `smaller`/`larger` are `Float::min`/`max`, NaN handling included.
    #[test]
    fn smaller_and_larger_match_float_min_and_max() {
        let values = [
            -2.5f32,
            -0.0,
            0.0,
            1.0,
            3.5,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ];
        for &a in &values {
            for &b in &values {
                for (got, want) in [(a.smaller(b), a.min(b)), (a.larger(b), a.max(b))] {
                    assert!(
                        got.is_nan() && want.is_nan() || got == want,
                        "{a} {b}: {got} vs {want}"
                    );
                }
                let (a, b) = (f64::from(a), f64::from(b));
                assert!(a.smaller(b).is_nan() && a.min(b).is_nan() || a.smaller(b) == a.min(b));
                assert!(a.larger(b).is_nan() && a.max(b).is_nan() || a.larger(b) == a.max(b));
            }
        }
    }
}

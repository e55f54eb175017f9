//! The float type the forward model is written over: f64 on the host, f32 on the buoy.

use core::fmt::{Debug, Display};
use num_traits::{Float, FloatConst};

/// A floating-point type the forward model runs in (implemented for `f32` and `f64`).
///
/// `num_traits::Float` supplies the elementary functions (through `libm` in `no_std`);
/// this trait only adds a lossless-where-possible way to write literals, so no formula
/// needs a fallible `T::from(..)` conversion.
pub trait Real: Float + FloatConst + Debug + Display + Default + 'static {
    /// Converts an `f64` literal to `Self` (rounds to nearest for `f32`).
    fn lit(x: f64) -> Self;
}

impl Real for f32 {
    #[inline]
    fn lit(x: f64) -> f32 {
        x as f32
    }
}

impl Real for f64 {
    #[inline]
    fn lit(x: f64) -> f64 {
        x
    }
}

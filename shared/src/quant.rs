//! Symmetric int8 quantization, one scale per output channel (docs/architecture.md,
//! "Model file and export").
//!
//! A weight row `w` is stored as `q = round(w / s)` with `s = max|w| / 127`, so the
//! per-weight error is at most `s / 2`. Activations entering an int8 layer are quantized
//! the same way, per input vector, at run time (see [`crate::layers::dense`]): no
//! calibration set is needed and the scale always fits the data at hand.

/// Largest magnitude of a symmetric int8 code (−127..=127; −128 is never used).
pub const QMAX: f32 = 127.0;

/// Scale that maps the largest |value| of `values` to [`QMAX`] (0 for an all-zero row).
pub fn symmetric_scale(values: &[f32]) -> f32 {
    let max = values.iter().fold(0.0f32, |m, v| m.max(libm::fabsf(*v)));
    max / QMAX
}

/// Quantize one value with a scale's reciprocal; saturates at ±127.
#[inline]
pub fn quantize(value: f32, inv_scale: f32) -> i8 {
    libm::roundf(value * inv_scale).clamp(-QMAX, QMAX) as i8
}

/// Quantize `values` into `out` with a fresh symmetric scale, returned.
/// `out` must be at least as long as `values`; extra entries are left alone.
pub fn quantize_into(values: &[f32], out: &mut [i8]) -> f32 {
    let scale = symmetric_scale(values);
    let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
    for (q, v) in out.iter_mut().zip(values) {
        *q = quantize(*v, inv);
    }
    scale
}

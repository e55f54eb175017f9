//! The bounded output of a cINN: a fixed logistic map between the prior's box and the
//! whole line (docs/architecture.md, "Models and losses").
//!
//! A flow's smooth maps from a Gaussian cannot make a uniform prior's sharp edges: where
//! the data leave a parameter near its prior (a seabed the tones hardly see), the
//! posterior leaks past the bounds and thins inside them, and calibration (SBC) fails.
//! Trained instead on `w = logit((v − lo)/(hi − lo))` (v the normalized parameter, lo/hi
//! the prior's bounds in the same units), the flow models an unbounded variable whose
//! uniform case is the smooth logistic density, and every draw `v = lo + (hi − lo)·σ(w)`
//! lies inside the box. The layer has no weights; its log-determinant keeps the density
//! of a draw exact, as refinement's importance weights need.

use serde::{Deserialize, Serialize};

use crate::array::F32s;
use crate::error::{ModelError, expect_len};

/// Lower and upper bounds per dimension, in the flow's (normalized) units.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bounded<'a> {
    /// Lower bounds.
    #[serde(borrow)]
    pub lo: F32s<'a>,
    /// Upper bounds (each above its lower bound).
    #[serde(borrow)]
    pub hi: F32s<'a>,
}

/// How close to a bound (as a fraction of the box) the forward map clamps a value: a
/// draw exactly on a bound (f32 rounding of a uniform draw) gets a large finite logit,
/// not an infinite one.
pub const EDGE: f32 = 1e-6;

impl Bounded<'_> {
    /// Check finite bounds, `lo < hi`, one pair per flow dimension.
    pub fn validate(&self, dim: usize) -> Result<(), ModelError> {
        let ok = self.lo.is_whole()
            && self.hi.is_whole()
            && self.lo.iter().zip(self.hi.iter()).all(|(lo, hi)| {
                lo.is_finite() && hi.is_finite() && lo < hi && (hi - lo).is_finite()
            });
        if !ok {
            return Err(ModelError::InvalidValue {
                what: "bounded output: bounds must be finite with lo < hi",
            });
        }
        expect_len("bounded output lower bounds", dim, self.lo.len())?;
        expect_len("bounded output upper bounds", dim, self.hi.len())
    }

    /// Box → line in place, `w = logit((v − lo)/(hi − lo))` (v clamped to [`EDGE`] of
    /// the box from its bounds); returns log|det ∂w/∂v|.
    pub fn forward(&self, v: &mut [f32]) -> Result<f32, ModelError> {
        expect_len("bounded output input", self.lo.len(), v.len())?;
        let mut log_det = 0.0;
        for ((x, lo), hi) in v.iter_mut().zip(self.lo.iter()).zip(self.hi.iter()) {
            let width = hi - lo;
            let t = ((*x - lo) / width).clamp(EDGE, 1.0 - EDGE);
            let (ln_t, ln_1mt) = (libm::logf(t), libm::logf(1.0 - t));
            *x = ln_t - ln_1mt;
            log_det -= libm::logf(width) + ln_t + ln_1mt;
        }
        Ok(log_det)
    }

    /// Line → box in place, `v = lo + (hi − lo)·σ(w)`; returns log|det ∂v/∂w|.
    pub fn inverse(&self, w: &mut [f32]) -> Result<f32, ModelError> {
        expect_len("bounded output input", self.lo.len(), w.len())?;
        let mut log_det = 0.0;
        for ((x, lo), hi) in w.iter_mut().zip(self.lo.iter()).zip(self.hi.iter()) {
            let width = hi - lo;
            // e = e^(−|w|) ≤ 1: σ(w) = 1/(1 + e) or e/(1 + e), and
            // ln σ(w) + ln σ(−w) = −|w| − 2·ln(1 + e), with no overflow for any w
            // (libm's logf and expf only: the buoy links them already)
            let e = libm::expf(-x.abs());
            let s = if *x >= 0.0 {
                1.0 / (1.0 + e)
            } else {
                e / (1.0 + e)
            };
            log_det += libm::logf(width) - x.abs() - 2.0 * libm::logf(1.0 + e);
            *x = (lo + width * s).clamp(lo, hi);
        }
        Ok(log_det)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes<const N: usize>(v: &[f32]) -> [u8; N] {
        let mut out = [0u8; N];
        for (o, x) in out.chunks_exact_mut(4).zip(v) {
            o.copy_from_slice(&x.to_le_bytes());
        }
        out
    }

    /// Inverse then forward returns the input; each log-determinant matches a central
    /// difference of its map, and the two are each other's negatives.
    #[test]
    fn inverse_and_forward_agree_with_finite_differences() {
        let (lo, hi): ([u8; 8], [u8; 8]) = (bytes(&[-1.7, 0.5]), bytes(&[1.9, 0.75]));
        let b = Bounded {
            lo: F32s(&lo),
            hi: F32s(&hi),
        };
        for w0 in [-9.0f32, -2.0, -0.3, 0.0, 0.4, 3.0, 8.0] {
            let mut w = [w0, -w0 * 0.5];
            let ld_inv = b.inverse(&mut w).unwrap();
            assert!(
                w[0] > -1.7 && w[0] < 1.9 && w[1] > 0.5 && w[1] < 0.75,
                "{w:?}"
            );
            let ld_fwd = b.forward(&mut w).unwrap();
            assert!((w[0] - w0).abs() < 2e-3 * (1.0 + w0.abs()), "{w0}: {w:?}");
            assert!(
                (ld_inv + ld_fwd).abs() < 2e-3 * (1.0 + ld_inv.abs()),
                "{ld_inv} {ld_fwd}"
            );
            // d v / d w per dimension in f64
            let mut expect = 0.0f64;
            for (k, (l, h)) in [(-1.7f64, 1.9f64), (0.5, 0.75)].into_iter().enumerate() {
                let wk = if k == 0 {
                    f64::from(w0)
                } else {
                    -0.5 * f64::from(w0)
                };
                let f = |x: f64| l + (h - l) / (1.0 + libm::exp(-x));
                let e = 1e-5;
                expect += libm::log((f(wk + e) - f(wk - e)) / (2.0 * e));
            }
            assert!(
                (f64::from(ld_inv) - expect).abs() < 1e-3 * (1.0 + expect.abs()),
                "{w0}: {ld_inv} vs {expect}"
            );
        }
    }

    /// A value on a bound maps to a finite logit; extreme logits stay inside the box.
    #[test]
    fn edges_are_finite_and_inside() {
        let (lo, hi): ([u8; 4], [u8; 4]) = (bytes(&[0.0]), bytes(&[1.0]));
        let b = Bounded {
            lo: F32s(&lo),
            hi: F32s(&hi),
        };
        for v0 in [0.0f32, 1.0, -0.5, 1.5] {
            let mut v = [v0];
            let ld = b.forward(&mut v).unwrap();
            assert!(v[0].is_finite() && ld.is_finite(), "{v0}: {v:?} {ld}");
        }
        for w0 in [-200.0f32, 200.0, f32::MAX, -f32::MAX] {
            let mut w = [w0];
            let ld = b.inverse(&mut w).unwrap();
            assert!((0.0..=1.0).contains(&w[0]), "{w0}: {w:?}");
            assert!(!ld.is_nan(), "{w0}: {ld}");
        }
    }

    #[test]
    fn bad_bounds_are_refused() {
        for (l, h) in [
            (1.0f32, 1.0f32),
            (2.0, 1.0),
            (f32::NAN, 1.0),
            (0.0, f32::INFINITY),
        ] {
            let (lo, hi): ([u8; 4], [u8; 4]) = (bytes(&[l]), bytes(&[h]));
            let b = Bounded {
                lo: F32s(&lo),
                hi: F32s(&hi),
            };
            assert!(b.validate(1).is_err(), "{l} {h}");
        }
        let (lo, hi): ([u8; 4], [u8; 4]) = (bytes(&[0.0]), bytes(&[1.0]));
        let b = Bounded {
            lo: F32s(&lo),
            hi: F32s(&hi),
        };
        assert!(b.validate(2).is_err());
        assert!(b.validate(1).is_ok());
    }
}

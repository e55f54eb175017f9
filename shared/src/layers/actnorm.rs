//! ActNorm: a learned per-dimension affine map `y = x·exp(log_scale) + bias`
//! (foldable into the next layer at export).

use serde::{Deserialize, Serialize};

use crate::array::F32s;
use crate::error::{ModelError, expect_len};

/// Per-dimension scale (stored as its logarithm, so it is always positive) and shift.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActNorm<'a> {
    /// log of the scale, one per dimension.
    #[serde(borrow)]
    pub log_scale: F32s<'a>,
    /// Shift, one per dimension.
    #[serde(borrow)]
    pub bias: F32s<'a>,
}

impl ActNorm<'_> {
    /// Check sizes and values against the flow dimension.
    pub fn validate(&self, dim: usize) -> Result<(), ModelError> {
        for f in [self.log_scale, self.bias] {
            if !f.is_whole() || !f.all_finite() {
                return Err(ModelError::InvalidValue {
                    what: "ActNorm parameters must be finite f32 values",
                });
            }
        }
        expect_len("ActNorm log-scale", dim, self.log_scale.len())?;
        expect_len("ActNorm bias", dim, self.bias.len())
    }

    /// Apply in place; returns log|det J|.
    pub fn forward(&self, x: &mut [f32]) -> Result<f32, ModelError> {
        expect_len("ActNorm input", self.log_scale.len(), x.len())?;
        let mut log_det = 0.0;
        for ((v, ls), b) in x
            .iter_mut()
            .zip(self.log_scale.iter())
            .zip(self.bias.iter())
        {
            *v = *v * libm::expf(ls) + b;
            log_det += ls;
        }
        Ok(log_det)
    }

    /// Exact inverse in place; returns log|det J| of the inverse map.
    pub fn inverse(&self, y: &mut [f32]) -> Result<f32, ModelError> {
        expect_len("ActNorm input", self.log_scale.len(), y.len())?;
        let mut log_det = 0.0;
        for ((v, ls), b) in y
            .iter_mut()
            .zip(self.log_scale.iter())
            .zip(self.bias.iter())
        {
            *v = (*v - b) * libm::expf(-ls);
            log_det -= ls;
        }
        Ok(log_det)
    }
}

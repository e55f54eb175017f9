//! Dense (fully connected) layer with f32 or int8 weights.
//!
//! Weights are row-major `[out][in]`, so one output is one contiguous dot product and one
//! int8 scale per output channel applies to one row. The condition part of a subnet's first
//! layer can be accumulated separately ([`Dense::accumulate`] with a column offset): that is
//! how the per-observation product `W_c·c` is computed once and reused (docs/architecture.md,
//! "Models and losses").

use serde::{Deserialize, Serialize};

use super::{Activation, MAX_WIDTH, kernel};
use crate::array::F32s;
use crate::error::{ModelError, expect_len};

/// Weights of a dense layer, as stored in the model file.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Weights<'a> {
    /// f32 weights, row-major `[out][in]`.
    F32(#[serde(borrow)] F32s<'a>),
    /// int8 weights (two's complement bytes, row-major) with one f32 scale per output row.
    I8 {
        /// Scale of each output row: weight = code × scale.
        #[serde(borrow)]
        scales: F32s<'a>,
        /// Codes, `in·out` bytes, each in −127..=127.
        codes: &'a [u8],
    },
}

/// A dense layer `out = act(W·x + b)` borrowed from a model file.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dense<'a> {
    /// Input width.
    pub in_dim: u16,
    /// Output width.
    pub out_dim: u16,
    /// Activation after the affine map.
    pub activation: Activation,
    /// Weight matrix.
    #[serde(borrow)]
    pub weights: Weights<'a>,
    /// Bias, `out_dim` values.
    #[serde(borrow)]
    pub bias: F32s<'a>,
}

impl<'a> Dense<'a> {
    /// Input width.
    pub fn inputs(&self) -> usize {
        usize::from(self.in_dim)
    }

    /// Output width.
    pub fn outputs(&self) -> usize {
        usize::from(self.out_dim)
    }

    /// Check sizes and values once, when the model is decoded.
    pub fn validate(&self) -> Result<(), ModelError> {
        let (n_in, n_out) = (self.inputs(), self.outputs());
        if n_in == 0 || n_out == 0 {
            return Err(ModelError::InvalidValue {
                what: "dense layer with zero inputs or outputs",
            });
        }
        for n in [n_in, n_out] {
            if n > MAX_WIDTH {
                return Err(ModelError::CapacityExceeded {
                    what: "dense layer width",
                    capacity: MAX_WIDTH,
                    requested: n,
                });
            }
        }
        if !self.activation.is_valid() {
            return Err(ModelError::InvalidValue {
                what: "LeakyReLU slope must be finite and in [0, 1]",
            });
        }
        if !self.bias.is_whole() || !self.bias.all_finite() {
            return Err(ModelError::InvalidValue {
                what: "dense bias must hold finite f32 values",
            });
        }
        expect_len("dense bias", n_out, self.bias.len())?;
        match self.weights {
            Weights::F32(w) => {
                if !w.is_whole() || !w.all_finite() {
                    return Err(ModelError::InvalidValue {
                        what: "dense weights must be finite f32 values",
                    });
                }
                expect_len("dense f32 weights", n_in * n_out, w.len())
            }
            Weights::I8 { scales, codes } => {
                if !scales.is_whole() || !scales.iter().all(|s| s.is_finite() && s >= 0.0) {
                    return Err(ModelError::InvalidValue {
                        what: "int8 scales must be finite and non-negative",
                    });
                }
                expect_len("dense int8 scales", n_out, scales.len())?;
                if codes.contains(&0x80) {
                    return Err(ModelError::InvalidValue {
                        what: "int8 weight code -128 (codes are symmetric, -127..=127)",
                    });
                }
                expect_len("dense int8 weights", n_in * n_out, codes.len())
            }
        }
    }

    /// `out = b` (the start of an accumulation).
    pub fn init_bias(&self, out: &mut [f32]) -> Result<(), ModelError> {
        expect_len("dense output buffer", self.outputs(), out.len())?;
        for (o, b) in out.iter_mut().zip(self.bias.iter()) {
            *o = b;
        }
        Ok(())
    }

    /// `out += W[:, col..col + x.len()] · x`: the contribution of one input segment.
    ///
    /// On the int8 path the weights are int8 codes with one scale per row and the
    /// activations stay f32 (weight-only quantization, docs/model-format.md): the sum of
    /// code × input is scaled once per row. A non-finite input yields NaN outputs (never a
    /// silently wrong number).
    pub fn accumulate(&self, col: usize, x: &[f32], out: &mut [f32]) -> Result<(), ModelError> {
        let n_in = self.inputs();
        expect_len("dense output buffer", self.outputs(), out.len())?;
        if col + x.len() > n_in {
            return Err(ModelError::DimensionMismatch {
                what: "dense input segment",
                expected: n_in,
                found: col + x.len(),
            });
        }
        // whole rows present (checked at decode; re-checked here so a hand-built layer
        // cannot read past its arrays — the kernels would only see short rows)
        let rows = out.len();
        match self.weights {
            Weights::F32(w) => {
                if w.len() < rows * n_in {
                    return Err(ModelError::Malformed {
                        what: "dense weight row",
                    });
                }
                match w.as_slice() {
                    Some(w) => kernel::rows_f32(w, n_in, col, x, out),
                    None => kernel::rows_bytes(w.0, n_in, col, x, out),
                }
            }
            Weights::I8 { scales, codes } => {
                if codes.len() < rows * n_in || scales.len() < rows {
                    return Err(ModelError::Malformed {
                        what: "dense weight row",
                    });
                }
                kernel::rows_i8(codes, scales.iter(), n_in, col, x, out);
            }
        }
        Ok(())
    }

    /// `out = act(W·x + b)`.
    pub fn forward(&self, x: &[f32], out: &mut [f32]) -> Result<(), ModelError> {
        expect_len("dense input", self.inputs(), x.len())?;
        self.init_bias(out)?;
        self.accumulate(0, x, out)?;
        self.activation.apply(out);
        Ok(())
    }

    /// Weight `(row, col)` as f32 (dequantized on the int8 path).
    pub fn weight(&self, row: usize, col: usize) -> Option<f32> {
        let i = row.checked_mul(self.inputs())?.checked_add(col)?;
        if col >= self.inputs() {
            return None;
        }
        match self.weights {
            Weights::F32(w) => w.get(i),
            Weights::I8 { scales, codes } => {
                Some(f32::from(*codes.get(i)? as i8) * scales.get(row)?)
            }
        }
    }

    /// Number of multiply-accumulates of one forward pass.
    pub fn macs(&self) -> usize {
        self.inputs() * self.outputs()
    }

    /// True for int8 weights.
    pub fn is_int8(&self) -> bool {
        matches!(self.weights, Weights::I8 { .. })
    }
}

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
    /// int8 weights in 4-row blocks with q15 activations (format version 5; the
    /// Cortex-M4's SMLAD kernel, docs/model-format.md "int8"): rows and columns padded
    /// to multiples of four with zero codes, laid out by [`kernel::i8_blocked_offset`].
    /// Each input segment is quantized to q15 with its own scale
    /// ([`crate::quant::Q15Vector`]), so a row is `scale·s_x·Σ code·q`.
    I8Blocked {
        /// Scale of each output row, padded rows included (0 there).
        #[serde(borrow)]
        scales: F32s<'a>,
        /// Codes, `padded(out)·padded(in)` bytes, each in −127..=127.
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
            Weights::I8Blocked { scales, codes } => {
                let (rows, cols) = (kernel::i8_padded(n_out), kernel::i8_padded(n_in));
                if !scales.is_whole() || !scales.iter().all(|s| s.is_finite() && s >= 0.0) {
                    return Err(ModelError::InvalidValue {
                        what: "int8 scales must be finite and non-negative",
                    });
                }
                expect_len("dense int8 scales (rows padded to 4)", rows, scales.len())?;
                expect_len("dense int8 blocked weights", rows * cols, codes.len())?;
                // one pass: no code −128, and zero padding (so a layer has one encoding)
                for (i, &b) in codes.iter().enumerate() {
                    if b == 0x80 {
                        return Err(ModelError::InvalidValue {
                            what: "int8 weight code -128 (codes are symmetric, -127..=127)",
                        });
                    }
                    let (r, c) = kernel::i8_blocked_position(i, n_in);
                    if b != 0 && (r >= n_out || c >= n_in) {
                        return Err(ModelError::InvalidValue {
                            what: "int8 blocked padding must be zero",
                        });
                    }
                }
                if (n_out..rows).any(|r| scales.get(r) != Some(0.0)) {
                    return Err(ModelError::InvalidValue {
                        what: "int8 blocked padding must be zero",
                    });
                }
                Ok(())
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
    /// On the row-major int8 path the weights are int8 codes with one scale per row and
    /// the activations stay f32 (weight-only quantization, docs/model-format.md): the sum
    /// of code × input is scaled once per row. On the blocked int8 path the segment `x` is
    /// first quantized to q15 with its own scale, and the integer sums are exact. A
    /// non-finite input yields NaN outputs (never a silently wrong number).
    pub fn accumulate(&self, col: usize, x: &[f32], out: &mut [f32]) -> Result<(), ModelError> {
        self.accumulate_impl(col, x, out, None)
    }

    /// [`Dense::accumulate`] with the caller's buffer for a blocked int8 layer's
    /// quantized input (the per-sample loop keeps one in its scratch).
    pub fn accumulate_with(
        &self,
        col: usize,
        x: &[f32],
        out: &mut [f32],
        xq: &mut crate::quant::Q15Vector,
    ) -> Result<(), ModelError> {
        self.accumulate_impl(col, x, out, Some(xq))
    }

    fn accumulate_impl(
        &self,
        col: usize,
        x: &[f32],
        out: &mut [f32],
        xq: Option<&mut crate::quant::Q15Vector>,
    ) -> Result<(), ModelError> {
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
            Weights::I8Blocked { scales, codes } => {
                let (r_pad, c_pad) = (kernel::i8_padded(rows), kernel::i8_padded(n_in));
                if codes.len() < r_pad * c_pad || scales.len() < r_pad {
                    return Err(ModelError::Malformed {
                        what: "dense weight row",
                    });
                }
                let mut own = None;
                let xq = match xq {
                    Some(q) => q,
                    None => own.insert(crate::quant::Q15Vector::new()),
                };
                let lead = col % kernel::I8_GROUP;
                if !xq.quantize(x, lead) {
                    return Err(ModelError::CapacityExceeded {
                        what: "dense input segment",
                        capacity: MAX_WIDTH,
                        requested: x.len(),
                    });
                }
                kernel::rows_i8_blocked(codes, scales, n_in, xq, col / kernel::I8_GROUP, out);
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
            Weights::I8Blocked { scales, codes } => {
                if row >= self.outputs() {
                    return None;
                }
                let b = *codes.get(kernel::i8_blocked_offset(row, col, self.inputs()))?;
                Some(f32::from(b as i8) * scales.get(row)?)
            }
        }
    }

    /// Number of multiply-accumulates of one forward pass.
    pub fn macs(&self) -> usize {
        self.inputs() * self.outputs()
    }

    /// True for int8 weights.
    pub fn is_int8(&self) -> bool {
        matches!(self.weights, Weights::I8 { .. } | Weights::I8Blocked { .. })
    }

    /// True when the layer quantizes its inputs to q15 (blocked int8 weights).
    pub fn quantizes_inputs(&self) -> bool {
        matches!(self.weights, Weights::I8Blocked { .. })
    }
}

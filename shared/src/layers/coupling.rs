//! Affine coupling blocks (docs/architecture.md, "Models and losses"), in FrEIA's
//! conventions so trained weights port 1:1.
//!
//! The input splits into `x1 = x[..d/2]` and `x2 = x[d/2..]` (odd `d`: the second half is
//! one longer). A subnet maps one half (plus the condition) to `[s, t]`; the other half
//! becomes `x·exp(ŝ) + t` with the soft clamp `ŝ = (2·clamp/π)·atan(s/clamp)`, which
//! bounds every scale to `exp(±clamp)` and keeps the inverse exact and well conditioned.
//! (That is FrEIA's soft clamp up to version 0.1; FrEIA 0.2 writes `clamp·0.636·atan(s)`,
//! the same function of `clamp·s`: to port FrEIA 0.2 weights, scale the `s` rows of each
//! subnet's last layer by `clamp`.)
//!
//! - [`CouplingStyle::Glow`] (FrEIA `GLOWCouplingBlock`): both halves are transformed;
//!   subnet 1 maps `len1 → 2·len2`, subnet 2 maps `len2 → 2·len1`;
//!   `y1 = x1·exp(ŝ2(x2)) + t2(x2)`, then `y2 = x2·exp(ŝ1(y1)) + t1(y1)`.
//! - [`CouplingStyle::RealNvp`] (FrEIA `AffineCouplingOneSided`): `y1 = x1`,
//!   `y2 = x2·exp(ŝ(x1)) + t(x1)` with one subnet `len1 → 2·len2`.
//!
//! Subnet outputs are laid out `[s | t]`.

use serde::{Deserialize, Serialize};

use super::Dense;
use super::mlp::{self, FirstLayerInput, Scratch};
use crate::error::{ModelError, expect_len};

/// Which halves a coupling block transforms.
///
/// Model files store the variant index (postcard), so the order of the variants is part of
/// the `.vina` format; human-readable formats (a training config's `style`) spell the
/// variants in snake case: `"glow"`, `"real_nvp"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouplingStyle {
    /// Both halves, two subnets (GLOW).
    Glow,
    /// The second half only, one subnet (RealNVP).
    RealNvp,
}

impl CouplingStyle {
    /// Number of subnets the style uses.
    pub fn subnets(self) -> usize {
        match self {
            Self::Glow => 2,
            Self::RealNvp => 1,
        }
    }
}

/// An affine coupling block over `dim` dimensions; its subnets are passed at call time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coupling {
    /// GLOW or RealNVP.
    pub style: CouplingStyle,
    /// Soft-clamp level of the log-scales.
    pub clamp: f32,
    /// Flow dimension.
    pub dim: usize,
}

/// Soft clamp of a log-scale: `(2·clamp/π)·atan(s/clamp)`, in (−clamp, clamp).
#[inline]
pub fn soft_clamp(s: f32, clamp: f32) -> f32 {
    core::f32::consts::FRAC_2_PI * clamp * libm::atanf(s / clamp)
}

/// `x ← x·exp(ŝ) + t` with `st = [s | t]`; returns Σŝ.
fn affine_forward(x: &mut [f32], st: &[f32], clamp: f32) -> f32 {
    let (s, t) = st.split_at(x.len());
    let mut log_det = 0.0;
    for ((v, &s), &t) in x.iter_mut().zip(s).zip(t) {
        let s = soft_clamp(s, clamp);
        *v = *v * libm::expf(s) + t;
        log_det += s;
    }
    log_det
}

/// `y ← (y − t)·exp(−ŝ)`; returns −Σŝ. Public for the host's batched path, which runs
/// the subnets over a block of rows and this step row by row.
pub fn affine_inverse(y: &mut [f32], st: &[f32], clamp: f32) -> f32 {
    let (s, t) = st.split_at(y.len());
    let mut log_det = 0.0;
    for ((v, &s), &t) in y.iter_mut().zip(s).zip(t) {
        let s = soft_clamp(s, clamp);
        *v = (*v - t) * libm::expf(-s);
        log_det -= s;
    }
    log_det
}

/// The `[s | t]` buffer for a half of `len` values.
fn st_buffer(st: &mut [f32], len: usize) -> Result<&mut [f32], ModelError> {
    let capacity = st.len() / 2;
    st.get_mut(..2 * len).ok_or(ModelError::CapacityExceeded {
        what: "flow dimension",
        capacity,
        requested: len,
    })
}

impl Coupling {
    /// Lengths of the two halves.
    pub fn split(&self) -> (usize, usize) {
        (self.dim / 2, self.dim - self.dim / 2)
    }

    /// Check the subnets' input and output widths for this block and a condition of
    /// `cond_dim` values.
    pub fn validate(&self, subnets: [&[Dense<'_>]; 2], cond_dim: usize) -> Result<(), ModelError> {
        if self.dim < 2 {
            return Err(ModelError::InvalidValue {
                what: "coupling block needs a flow dimension of at least 2",
            });
        }
        if !(self.clamp.is_finite() && self.clamp > 0.0) {
            return Err(ModelError::InvalidValue {
                what: "coupling clamp must be finite and positive",
            });
        }
        let (len1, len2) = self.split();
        let shapes = match self.style {
            CouplingStyle::Glow => [(len1, 2 * len2), (len2, 2 * len1)],
            CouplingStyle::RealNvp => [(len1, 2 * len2), (0, 0)],
        };
        for (layers, (n_in, n_out)) in subnets.iter().zip(shapes).take(self.style.subnets()) {
            let (Some(first), Some(last)) = (layers.first(), layers.last()) else {
                return Err(ModelError::Malformed {
                    what: "empty subnet",
                });
            };
            expect_len("subnet input width", n_in + cond_dim, first.inputs())?;
            expect_len("subnet output width", n_out, last.outputs())?;
            for pair in layers.windows(2) {
                expect_len("subnet layer chain", pair[0].outputs(), pair[1].inputs())?;
            }
        }
        if self.style == CouplingStyle::RealNvp && !subnets[1].is_empty() {
            return Err(ModelError::Malformed {
                what: "RealNVP coupling with a second subnet",
            });
        }
        Ok(())
    }

    /// Forward pass in place; returns log|det J|.
    pub fn forward(
        &self,
        x: &mut [f32],
        subnets: [&[Dense<'_>]; 2],
        cond: [FirstLayerInput<'_>; 2],
        scratch: &mut Scratch,
    ) -> Result<f32, ModelError> {
        expect_len("coupling input", self.dim, x.len())?;
        let (len1, len2) = self.split();
        let (x1, x2) = x.split_at_mut(len1);
        let Scratch { a, b, st, q, .. } = scratch;
        let mut log_det = 0.0;
        if self.style == CouplingStyle::Glow {
            let st1 = st_buffer(st, len1)?;
            mlp::run(subnets[1], x2, cond[1], st1, a, b, q)?;
            log_det += affine_forward(x1, st1, self.clamp);
        }
        let st2 = st_buffer(st, len2)?;
        mlp::run(subnets[0], x1, cond[0], st2, a, b, q)?;
        log_det += affine_forward(x2, st2, self.clamp);
        Ok(log_det)
    }

    /// Exact inverse in place; returns log|det J| of the inverse map.
    pub fn inverse(
        &self,
        y: &mut [f32],
        subnets: [&[Dense<'_>]; 2],
        cond: [FirstLayerInput<'_>; 2],
        scratch: &mut Scratch,
    ) -> Result<f32, ModelError> {
        expect_len("coupling input", self.dim, y.len())?;
        let (len1, len2) = self.split();
        let (y1, y2) = y.split_at_mut(len1);
        let Scratch { a, b, st, q, .. } = scratch;
        let st2 = st_buffer(st, len2)?;
        mlp::run(subnets[0], y1, cond[0], st2, a, b, q)?;
        let mut log_det = affine_inverse(y2, st2, self.clamp);
        if self.style == CouplingStyle::Glow {
            let st1 = st_buffer(st, len1)?;
            mlp::run(subnets[1], y2, cond[1], st1, a, b, q)?;
            log_det += affine_inverse(y1, st1, self.clamp);
        }
        Ok(log_det)
    }
}

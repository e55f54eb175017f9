//! MLP subnets: a chain of [`Dense`] layers evaluated in two ping-pong buffers.

use super::{Dense, MAX_DIM, MAX_WIDTH};
use crate::error::{ModelError, expect_len};
use crate::quant::Q15Vector;

/// What enters a subnet's first layer besides the coupling half `x`.
#[derive(Clone, Copy, Debug)]
pub enum FirstLayerInput<'c> {
    /// Only `x` (an unconditional flow).
    Plain,
    /// `x` followed by the condition `c`, concatenated.
    Condition(&'c [f32]),
    /// The precomputed `b + W_c·c` of the first layer (see [`first_layer_base`]): each
    /// further posterior sample pays only for `W_x·x`.
    Cached(&'c [f32]),
}

/// Working memory for one network evaluation, owned by the caller (a `static` on the
/// firmware). About 4 KiB.
#[derive(Clone, Debug)]
pub struct Scratch {
    pub(crate) a: [f32; MAX_WIDTH],
    pub(crate) b: [f32; MAX_WIDTH],
    pub(crate) st: [f32; 2 * MAX_DIM],
    pub(crate) tmp: [f32; MAX_DIM],
    /// A blocked int8 layer's quantized input: kept here so that no call clears 0.5 KiB
    /// of stack for it (3.9 k instructions a posterior sample on the Cortex-M4).
    pub(crate) q: Q15Vector,
}

impl Scratch {
    /// Zeroed scratch space.
    pub const fn new() -> Self {
        Self {
            a: [0.0; MAX_WIDTH],
            b: [0.0; MAX_WIDTH],
            st: [0.0; 2 * MAX_DIM],
            tmp: [0.0; MAX_DIM],
            q: Q15Vector::new(),
        }
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

/// `base = b + W[:, x_len..]·c`: the condition's share of a first layer, computed once
/// per observation.
pub fn first_layer_base(
    layer: &Dense<'_>,
    x_len: usize,
    c: &[f32],
    base: &mut [f32],
) -> Result<(), ModelError> {
    expect_len(
        "conditioned first layer inputs",
        layer.inputs(),
        x_len + c.len(),
    )?;
    layer.init_bias(base)?;
    layer.accumulate(x_len, c, base)
}

/// Evaluate an MLP on `x` (plus the first-layer extra input) into `out`, with `a`, `b`
/// and `q` as working memory.
pub fn run(
    layers: &[Dense<'_>],
    x: &[f32],
    first: FirstLayerInput<'_>,
    out: &mut [f32],
    a: &mut [f32; MAX_WIDTH],
    b: &mut [f32; MAX_WIDTH],
    q: &mut Q15Vector,
) -> Result<(), ModelError> {
    let (mut cur, mut next) = (&mut a[..], &mut b[..]);
    let mut width = 0usize;
    if layers.is_empty() {
        return Err(ModelError::Malformed {
            what: "empty subnet",
        });
    }
    for (i, layer) in layers.iter().enumerate() {
        let dst = next
            .get_mut(..layer.outputs())
            .ok_or(ModelError::CapacityExceeded {
                what: "dense layer width",
                capacity: MAX_WIDTH,
                requested: layer.outputs(),
            })?;
        if i == 0 {
            match first {
                FirstLayerInput::Plain => {
                    expect_len("subnet input", layer.inputs(), x.len())?;
                    layer.init_bias(dst)?;
                }
                FirstLayerInput::Condition(c) => first_layer_base(layer, x.len(), c, dst)?,
                FirstLayerInput::Cached(base) => {
                    expect_len("cached first-layer base", dst.len(), base.len())?;
                    dst.copy_from_slice(base);
                }
            }
            layer.accumulate_with(0, x, dst, q)?;
        } else {
            expect_len("subnet layer chain", layer.inputs(), width)?;
            layer.init_bias(dst)?;
            layer.accumulate_with(0, &cur[..width], dst, q)?;
        }
        layer.activation.apply(dst);
        width = layer.outputs();
        core::mem::swap(&mut cur, &mut next);
    }
    expect_len("subnet output", out.len(), width)?;
    out.copy_from_slice(&cur[..width]);
    Ok(())
}

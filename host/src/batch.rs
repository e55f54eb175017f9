//! Posterior draws for one observation as matrix products over a block of latents: the
//! host's fast path (docs/architecture.md, "Exact-likelihood refinement…" and "Budgets").
//!
//! The same model and layers as `vina_core::sampling`, evaluated block-wise: every
//! subnet layer is one matrix product over [`BLOCK`] latents (ndarray's GEMM,
//! `matrixmultiply`: pure Rust, no system BLAS), blocks run in parallel on rayon. The
//! elementwise steps (ActNorm, permutations, the coupling's affine map and soft clamp)
//! are vina-core's own functions applied row by row, and the coupling schedule below is
//! `vina_core::layers::Coupling::inverse`'s, stage by stage over the block. GEMM sums in
//! another order than the per-sample loop, so draws agree with it (and with the buoy)
//! within 1e-6 relative, not bit for bit (tested); `vina invert --engine core` keeps the
//! buoy's exact loop.

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;
use vina_core::error::ModelError;
use vina_core::layers::coupling::affine_inverse;
use vina_core::layers::{Activation, CouplingStyle, Dense, FirstLayerInput, MAX_DIM};
use vina_core::model::{Condition, FlowLayer, Model};
use vina_core::model_file::ModelKind;
use vina_core::quant::Q15Vector;
use vina_core::rng::Rng;
use wide::f32x8;

/// Latents per matrix product: wide enough for the GEMM to run at speed, small enough
/// that a block's activations stay in cache.
pub const BLOCK: usize = 256;

/// `vina_core::layers::coupling::affine_inverse` (`y ← (y − t)·exp(−ŝ)`, ŝ the soft
/// clamp of s) eight values at a time, with `wide`'s SIMD `exp` and `atan` in place of
/// libm's scalar `expf`/`atanf`; the tail of fewer than eight runs the scalar original.
/// Why: a measured speed-up. Profiled on the paper INN (`perf`, one thread), the scalar
/// functions took 48 % of the batched path and its GEMMs 27 %. The SIMD polynomials
/// differ from libm by a few ulp, far inside the path's 1e-6 agreement with the
/// per-sample loop (`host/tests/batch.rs`).
fn affine_inverse_simd(y: &mut [f32], st: &[f32], clamp: f32) {
    let (s, t) = st.split_at(y.len());
    let lanes = y.len() / 8 * 8;
    let scale = f32x8::splat(core::f32::consts::FRAC_2_PI * clamp);
    let inv_clamp = f32x8::splat(1.0 / clamp);
    let load = |v: &[f32]| f32x8::from(<[f32; 8]>::try_from(v).unwrap_or([f32::NAN; 8]));
    for ((v, s), t) in y[..lanes]
        .chunks_exact_mut(8)
        .zip(s.chunks_exact(8))
        .zip(t.chunks_exact(8))
    {
        let s_hat = scale * (load(s) * inv_clamp).atan();
        let out = (load(v) - load(t)) * (-s_hat).exp();
        v.copy_from_slice(&out.to_array());
    }
    let mut tail = [0.0f32; 16];
    let n = y.len() - lanes;
    tail[..n].copy_from_slice(&s[lanes..]);
    tail[n..2 * n].copy_from_slice(&t[lanes..]);
    affine_inverse(&mut y[lanes..], &tail[..2 * n], clamp);
}

/// One dense layer as an f32 matrix (int8 weights dequantized: code × scale).
struct Layer {
    /// Wᵀ, `in × out`, so a block's layer is `H·Wᵀ`.
    wt: Array2<f32>,
    bias: Vec<f32>,
    activation: Activation,
    /// Blocked int8: each input row goes through the per-sample path's q15 rounding first.
    quantizes_inputs: bool,
}

/// `row` replaced by its q15 codes × scale (quantized in `q`), the values
/// a blocked int8 layer of the per-sample path multiplies; the products are then exact
/// in f32 up to the GEMM's own rounding.
fn q15_round_trip(row: &mut [f32], q: &mut Q15Vector) -> Result<(), ModelError> {
    if !q.quantize(row, 0) {
        return Err(ModelError::CapacityExceeded {
            what: "dense input segment",
            capacity: vina_core::limits::MAX_WIDTH,
            requested: row.len(),
        });
    }
    let s = q.scale();
    for (i, v) in row.iter_mut().enumerate() {
        *v = f32::from(q.code(i)) * s;
    }
    Ok(())
}

impl Layer {
    fn new(d: &Dense<'_>) -> Self {
        let (n_in, n_out) = (d.inputs(), d.outputs());
        let wt = Array2::from_shape_fn((n_in, n_out), |(i, o)| d.weight(o, i).unwrap_or(f32::NAN));
        Self {
            wt,
            bias: d.bias.iter().collect(),
            activation: d.activation,
            quantizes_inputs: d.quantizes_inputs(),
        }
    }
}

/// A model prepared for block-wise sampling: its dense layers as matrices.
pub struct Batched<'m, 'a> {
    model: &'m Model<'a>,
    layers: Vec<Layer>,
}

impl<'m, 'a> Batched<'m, 'a> {
    /// Copy `model`'s dense layers into matrices (once per model).
    pub fn new(model: &'m Model<'a>) -> Self {
        Self {
            model,
            layers: model.dense_layers().iter().map(Layer::new).collect(),
        }
    }

    /// The draws of latents `z` (rows of [`Model::latent_dim`]) given a prepared context,
    /// in physical units, one row of [`Model::x_dim`] per latent: blocks in parallel.
    pub fn sample(&self, context: &[f32], z: &[f32], x: &mut [f32]) -> Result<(), ModelError> {
        let (ld, xd) = (self.model.latent_dim(), self.model.x_dim());
        if !z.len().is_multiple_of(ld) || x.len() != z.len() / ld * xd {
            return Err(ModelError::DimensionMismatch {
                what: "batched latents vs outputs",
                expected: z.len() / ld * xd,
                found: x.len(),
            });
        }
        x.par_chunks_mut(BLOCK * xd)
            .zip(z.par_chunks(BLOCK * ld))
            .try_for_each(|(x, z)| self.sample_block(context, z, x))
    }

    /// [`Batched::sample`] of `samples` draws of `seed`'s latent stream (the stream of
    /// `vina_core::sampling::draw`), as f64 rows.
    pub fn draws(
        &self,
        context: &[f32],
        seed: u64,
        samples: usize,
    ) -> Result<Vec<Vec<f64>>, ModelError> {
        let (ld, xd) = (self.model.latent_dim(), self.model.x_dim());
        let mut z = vec![0.0f32; samples * ld];
        let mut rng = Rng::new(seed);
        for row in z.chunks_exact_mut(ld) {
            rng.fill_normal(row);
        }
        let mut x = vec![0.0f32; samples * xd];
        self.sample(context, &z, &mut x)?;
        Ok(x.chunks_exact(xd)
            .map(|r| r.iter().map(|&v| f64::from(v)).collect())
            .collect())
    }

    /// One block: `Model::sample` for every row of `z` at once.
    fn sample_block(&self, context: &[f32], z: &[f32], x: &mut [f32]) -> Result<(), ModelError> {
        let m = self.model;
        let (ld, xd, d) = (m.latent_dim(), m.x_dim(), m.flow_dim());
        let rows = z.len() / ld;
        let ctx = context
            .get(..m.context_len())
            .ok_or(ModelError::CapacityExceeded {
                what: "context buffer",
                capacity: context.len(),
                requested: m.context_len(),
            })?;
        // v: the flow's input rows (an INN's rows start with the normalized observation)
        let mut v = Array2::<f32>::zeros((rows, d));
        let cond = match m.header().kind {
            ModelKind::Cinn => {
                for (mut row, zr) in v.rows_mut().into_iter().zip(z.chunks_exact(ld)) {
                    row.as_slice_mut().unwrap_or_default().copy_from_slice(zr);
                }
                Condition::Prepared(ctx)
            }
            ModelKind::Inn => {
                let y = m.y_dim();
                for (mut row, zr) in v.rows_mut().into_iter().zip(z.chunks_exact(ld)) {
                    let row = row.as_slice_mut().unwrap_or_default();
                    row[..y].copy_from_slice(&ctx[..y]);
                    row[y..].copy_from_slice(zr);
                }
                Condition::None
            }
        };
        let mut tmp = [0.0f32; MAX_DIM];
        for layer in m.flow_layers().iter().rev() {
            match layer {
                FlowLayer::ActNorm(a) => {
                    for mut row in v.rows_mut() {
                        a.inverse(row.as_slice_mut().unwrap_or_default())?;
                    }
                }
                FlowLayer::Bounded(b) => {
                    for mut row in v.rows_mut() {
                        b.inverse(row.as_slice_mut().unwrap_or_default())?;
                    }
                }
                FlowLayer::Permute(p) => {
                    for mut row in v.rows_mut() {
                        p.inverse(row.as_slice_mut().unwrap_or_default(), &mut tmp)?;
                    }
                }
                FlowLayer::Coupling {
                    block,
                    subnet_layers,
                    first_dense,
                    ..
                } => {
                    // the subnets' layers in the model's dense sequence
                    let a = usize::from(*first_dense);
                    let b = a + usize::from(subnet_layers[0]);
                    let subnets = [a..b, b..b + usize::from(subnet_layers[1])];
                    let first = m.first_inputs(layer, cond)?;
                    let (len1, _) = block.split();
                    // vina_core's Coupling::inverse, stage by stage over the block
                    let st = self.subnet(subnets[0].clone(), v.slice(s![.., ..len1]), first[0])?;
                    for (mut row, st) in v.rows_mut().into_iter().zip(st.rows()) {
                        let row = row.as_slice_mut().unwrap_or_default();
                        affine_inverse_simd(
                            &mut row[len1..],
                            st.as_slice().unwrap_or_default(),
                            block.clamp,
                        );
                    }
                    if block.style == CouplingStyle::Glow {
                        let st =
                            self.subnet(subnets[1].clone(), v.slice(s![.., len1..]), first[1])?;
                        for (mut row, st) in v.rows_mut().into_iter().zip(st.rows()) {
                            let row = row.as_slice_mut().unwrap_or_default();
                            affine_inverse_simd(
                                &mut row[..len1],
                                st.as_slice().unwrap_or_default(),
                                block.clamp,
                            );
                        }
                    }
                }
            }
        }
        let norm = &m.header().x_norm;
        for (xr, vr) in x.chunks_exact_mut(xd).zip(v.rows()) {
            for ((o, vi), (mean, sd)) in xr
                .iter_mut()
                .zip(vr.iter())
                .zip(norm.mean.iter().zip(norm.std.iter()))
            {
                *o = mean + sd * vi;
            }
        }
        Ok(())
    }

    /// A subnet (`layers`: its range in the model's dense sequence) over the rows of
    /// `input`: `vina_core::layers::mlp::run` as GEMMs.
    fn subnet(
        &self,
        layers: core::ops::Range<usize>,
        input: ArrayView2<'_, f32>,
        first: FirstLayerInput<'_>,
    ) -> Result<Array2<f32>, ModelError> {
        let layers = self.layers.get(layers).ok_or(ModelError::Malformed {
            what: "subnet outside the model's dense layers",
        })?;
        let rows = input.nrows();
        let mut h = input.to_owned();
        for (i, layer) in layers.iter().enumerate() {
            let n_out = layer.wt.ncols();
            let mut out = Array2::<f32>::zeros((rows, n_out));
            // start from the bias, or from the cached `b + W_c·c` of a conditioned first
            // layer (whose x columns come first in Wᵀ's rows)
            let start: &[f32] = match (i, first) {
                (0, FirstLayerInput::Cached(c)) => c,
                (0, FirstLayerInput::Condition(_)) => {
                    return Err(ModelError::InvalidValue {
                        what: "batched sampling needs a prepared context",
                    });
                }
                _ => &layer.bias,
            };
            if start.len() != n_out {
                return Err(ModelError::DimensionMismatch {
                    what: "subnet layer start",
                    expected: n_out,
                    found: start.len(),
                });
            }
            for mut row in out.rows_mut() {
                row.as_slice_mut()
                    .unwrap_or_default()
                    .copy_from_slice(start);
            }
            let k = h.ncols();
            if layer.quantizes_inputs {
                // the per-sample path quantizes x and the cached condition part apart;
                // a first layer here sees only x, a later one its whole input
                let mut q = Q15Vector::new();
                for mut row in h.rows_mut() {
                    q15_round_trip(row.as_slice_mut().unwrap_or_default(), &mut q)?;
                }
            }
            general_mat_mul(1.0, &h, &layer.wt.slice(s![..k, ..]), 1.0, &mut out);
            // elementwise: the whole block at once (`out` is a fresh standard-layout array)
            match out.as_slice_mut() {
                Some(all) => layer.activation.apply(all),
                None => out
                    .rows_mut()
                    .into_iter()
                    .for_each(|mut r| layer.activation.apply(r.as_slice_mut().unwrap_or_default())),
            }
            h = out;
        }
        Ok(h)
    }
}

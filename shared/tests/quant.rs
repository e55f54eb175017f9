//! int8 layers stay within the analytic quantization error bound of their f32 originals.
//!
//! For one output o of a dense layer with f32 weights w, input x, int8 weights
//! ŵ = s_o·q (|w − ŵ| ≤ s_o/2) and f32 activations (weight-only quantization; x̃ is the
//! input the int8 path actually receives, carrying the earlier layers' error):
//!
//! |w·x − ŵ·x̃| ≤ (s_o/2)·Σ|x| + Σ|ŵ|·|x − x̃|
//!
//! and a 1-Lipschitz activation (ReLU, LeakyReLU, tanh; GELU ≤ 1.13) carries the bound to
//! the next layer. The f32 arithmetic itself adds a relative 1e-5 at most here.

use proptest::prelude::*;
use vina_core::array::{F32s, f32_bytes};
use vina_core::layers::{Activation, Dense, Weights};
use vina_core::quant;
use vina_core::rng::Rng;

struct Layer {
    n_in: usize,
    n_out: usize,
    act: Activation,
    w: Vec<u8>,
    codes: Vec<u8>,
    scales: Vec<u8>,
    bias: Vec<u8>,
}

impl Layer {
    fn random(rng: &mut Rng, n_in: usize, n_out: usize, act: Activation, spread: f32) -> Self {
        let w: Vec<f32> = (0..n_in * n_out)
            .map(|_| spread * rng.normal_f32() / (n_in as f32).sqrt())
            .collect();
        let bias: Vec<f32> = (0..n_out).map(|_| 0.1 * rng.normal_f32()).collect();
        let mut codes = vec![0i8; w.len()];
        let scales: Vec<f32> = w
            .chunks(n_in)
            .zip(codes.chunks_mut(n_in))
            .map(|(r, q)| quant::quantize_into(r, q))
            .collect();
        Self {
            n_in,
            n_out,
            act,
            w: f32_bytes(&w),
            codes: codes.into_iter().map(|c| c as u8).collect(),
            scales: f32_bytes(&scales),
            bias: f32_bytes(&bias),
        }
    }

    fn dense(&self, int8: bool) -> Dense<'_> {
        Dense {
            in_dim: self.n_in as u16,
            out_dim: self.n_out as u16,
            activation: self.act,
            weights: if int8 {
                Weights::I8 {
                    scales: F32s(&self.scales),
                    codes: &self.codes,
                }
            } else {
                Weights::F32(F32s(&self.w))
            },
            bias: F32s(&self.bias),
        }
    }
}

/// Per-output bound on |f32 output − int8 output| given the f32 input `x` and a
/// per-component bound `e_in` on |x − x̃| (x̃: the int8 path's input).
fn bound(layer: &Layer, x: &[f32], e_in: &[f32]) -> Vec<f32> {
    let d8 = layer.dense(true);
    let sum_abs_x: f32 = x.iter().map(|v| v.abs()).sum();
    (0..layer.n_out)
        .map(|o| {
            let s_o = F32s(&layer.scales).get(o).unwrap();
            let w_hat: Vec<f32> = (0..layer.n_in)
                .map(|i| d8.weight(o, i).unwrap().abs())
                .collect();
            let sum_w: f32 = w_hat.iter().sum();
            let prop: f32 = w_hat.iter().zip(e_in).map(|(w, e)| w * e).sum();
            let pre = 0.5 * s_o * sum_abs_x + prop;
            let rounding = 1e-5 * (1.0 + sum_w * x.iter().fold(0.0f32, |m, v| m.max(v.abs())));
            layer.act.lipschitz() * (pre + rounding)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, .. ProptestConfig::default() })]

    #[test]
    fn mlp_int8_within_propagated_bound(
        seed in any::<u64>(),
        widths in proptest::collection::vec(1usize..80, 2..5),
        spread in 0.1f32..4.0,
        act in prop_oneof![Just(Activation::Relu), Just(Activation::LeakyRelu(0.2)), Just(Activation::Tanh), Just(Activation::Gelu)],
    ) {
        let mut rng = Rng::new(seed);
        let layers: Vec<Layer> = widths
            .windows(2)
            .map(|w| Layer::random(&mut rng, w[0], w[1], act, spread))
            .collect();
        let mut x: Vec<f32> = (0..widths[0]).map(|_| 2.0 * rng.normal_f32()).collect();
        let mut x_q = x.clone();
        let mut e = vec![0.0f32; widths[0]];
        for layer in &layers {
            let mut y = vec![0.0; layer.n_out];
            let mut y_q = vec![0.0; layer.n_out];
            layer.dense(false).forward(&x, &mut y).unwrap();
            layer.dense(true).forward(&x_q, &mut y_q).unwrap();
            let b = bound(layer, &x, &e);
            for ((f, q), b) in y.iter().zip(&y_q).zip(&b) {
                prop_assert!((f - q).abs() <= *b, "f32 {f} vs int8 {q}: error {} above bound {b}", (f - q).abs());
            }
            // the bound is not vacuous: on the first layer it is a few percent of the
            // pre-activation scale Σ|w||x| (≈ 1/127 of it at worst)
            if e.iter().all(|e| *e == 0.0) {
                let d = layer.dense(false);
                for (o, b) in b.iter().enumerate() {
                    let scale: f32 = (0..layer.n_in).map(|i| (d.weight(o, i).unwrap() * x[i]).abs()).sum();
                    let max_w = (0..layer.n_in).fold(0.0f32, |m, i| m.max(d.weight(o, i).unwrap().abs()));
                    let max_x = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    prop_assert!(*b <= 1.2 * (layer.n_in as f32 * max_w * max_x / 127.0) + 1e-4 * (1.0 + scale), "bound {b} vs scale {scale}");
                }
            }
            x = y;
            x_q = y_q;
            e = b;
        }
    }
}

#[test]
fn weight_codes_round_to_nearest() {
    let w = [0.5f32, -1.0, 0.25, 0.0, 0.999];
    let mut q = [0i8; 5];
    let s = quant::quantize_into(&w, &mut q);
    assert_eq!(s, 1.0 / 127.0);
    assert_eq!(q, [64, -127, 32, 0, 127]);
    for (w, q) in w.iter().zip(q) {
        assert!((w - f32::from(q) * s).abs() <= s / 2.0);
    }
    let mut z = [5i8; 3];
    assert_eq!(quant::quantize_into(&[0.0; 3], &mut z), 0.0);
    assert_eq!(z, [0; 3]);
}

#[test]
fn non_finite_input_poisons_int8_outputs() {
    let mut rng = Rng::new(1);
    let layer = Layer::random(&mut rng, 4, 3, Activation::Identity, 1.0);
    let mut out = [0.0f32; 3];
    layer
        .dense(true)
        .forward(&[1.0, f32::NAN, 0.0, 2.0], &mut out)
        .unwrap();
    assert!(out.iter().all(|v| v.is_nan()));
}

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
use vina_core::layers::{Activation, Dense, Weights, kernel};
use vina_core::quant;
use vina_core::rng::Rng;

struct Layer {
    n_in: usize,
    n_out: usize,
    act: Activation,
    w: Vec<u8>,
    codes: Vec<u8>,
    scales: Vec<u8>,
    /// The same codes in version 5's 4-row blocks, scales padded with zeros.
    blocked: Vec<u8>,
    blocked_scales: Vec<u8>,
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
        let mut blocked = vec![0u8; kernel::i8_padded(n_out) * kernel::i8_padded(n_in)];
        for (i, &c) in codes.iter().enumerate() {
            blocked[kernel::i8_blocked_offset(i / n_in, i % n_in, n_in)] = c as u8;
        }
        let mut padded_scales = scales.clone();
        padded_scales.resize(kernel::i8_padded(n_out), 0.0);
        Self {
            n_in,
            n_out,
            act,
            w: f32_bytes(&w),
            codes: codes.into_iter().map(|c| c as u8).collect(),
            scales: f32_bytes(&scales),
            blocked,
            blocked_scales: f32_bytes(&padded_scales),
            bias: f32_bytes(&bias),
        }
    }

    /// The layer with blocked int8 weights and q15 inputs.
    fn dense_blocked(&self) -> Dense<'_> {
        Dense {
            weights: Weights::I8Blocked {
                scales: F32s(&self.blocked_scales),
                codes: &self.blocked,
            },
            ..self.dense(true)
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
/// per-component bound `e_in` on |x − x̃| (x̃: the int8 path's input). With q15 inputs
/// (`x_q15`: the blocked path's input x̃) each input is also rounded to a step of
/// ‖x̃‖₂/32767, which adds Σ|ŵ|·‖x̃‖₂/65534.
fn bound(layer: &Layer, x: &[f32], e_in: &[f32], x_q15: Option<&[f32]>) -> Vec<f32> {
    let half_step = x_q15.map_or(0.0, |v| {
        v.iter().map(|a| a * a).sum::<f32>().sqrt() / 65534.0 * 1.0001
    });
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
            let pre = 0.5 * s_o * sum_abs_x + prop + half_step * sum_w;
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
        let mut x_b = x.clone();
        let mut e = vec![0.0f32; widths[0]];
        let mut e_b = e.clone();
        for layer in &layers {
            let mut y = vec![0.0; layer.n_out];
            let mut y_q = vec![0.0; layer.n_out];
            let mut y_b = vec![0.0; layer.n_out];
            layer.dense(false).forward(&x, &mut y).unwrap();
            layer.dense(true).forward(&x_q, &mut y_q).unwrap();
            layer.dense_blocked().forward(&x_b, &mut y_b).unwrap();
            let b = bound(layer, &x, &e, None);
            for ((f, q), b) in y.iter().zip(&y_q).zip(&b) {
                prop_assert!((f - q).abs() <= *b, "f32 {f} vs int8 {q}: error {} above bound {b}", (f - q).abs());
            }
            let b_b = bound(layer, &x, &e_b, Some(&x_b));
            for ((f, q), b) in y.iter().zip(&y_b).zip(&b_b) {
                prop_assert!((f - q).abs() <= *b, "f32 {f} vs blocked int8 {q}: error {} above bound {b}", (f - q).abs());
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
            x_b = y_b;
            e = b;
            e_b = b_b;
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
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut out = [0.0f32; 3];
        layer
            .dense_blocked()
            .forward(&[1.0, bad, 0.0, 2.0], &mut out)
            .unwrap();
        assert!(
            out.iter().all(|v| v.is_nan()),
            "blocked int8 with {bad}: {out:?}"
        );
    }
}

/// q15 activations: every code within ±32767, each value within half a step of its
/// code × scale (the rounding the int8 path adds, docs/model-format.md "int8"), leading
/// zeros honoured, non-finite input gives a NaN scale, all-zero input scale 0.
#[test]
fn q15_vectors_round_within_half_a_step() {
    use vina_core::quant::Q15Vector;
    let mut rng = Rng::new(21);
    for n in [1usize, 3, 4, 5, 32, 48, 255, 256] {
        for lead in 0..4 {
            let x: Vec<f32> = (0..n).map(|_| rng.normal_f32() * 10.0).collect();
            let mut q = Q15Vector::new();
            assert!(q.quantize(&x, lead));
            assert_eq!(q.groups(), (lead + n).div_ceil(4));
            let norm = x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
            assert!((f64::from(q.scale()) * 32767.0 / norm - 1.0).abs() < 1e-6);
            for i in 0..lead {
                assert_eq!(q.code(i), 0);
            }
            for (i, &v) in x.iter().enumerate() {
                let c = q.code(lead + i);
                assert!((-32767..=32767).contains(&c));
                let err = (f64::from(c) * f64::from(q.scale()) - f64::from(v)).abs();
                assert!(err <= 0.5001 * f64::from(q.scale()), "n {n} i {i}: {err}");
            }
            for i in lead + n..4 * q.groups() {
                assert_eq!(q.code(i), 0);
            }
        }
    }
    let mut q = Q15Vector::new();
    assert!(q.quantize(&[1.0, f32::NAN, 2.0], 0));
    assert!(q.scale().is_nan());
    assert!(q.quantize(&[1.0, f32::INFINITY], 1));
    assert!(q.scale().is_nan());
    assert!(q.quantize(&[0.0; 7], 2));
    assert_eq!(q.scale(), 0.0);
    assert!(!q.quantize(&[1.0; 257], 0), "past MAX_WIDTH");
    assert!(!q.quantize(&[1.0; 4], 4), "lead past a group");
}

/// A blocked int8 layer is refused at decode for a nonzero padding code or scale and for
/// code −128, by name; the layer as exported validates.
#[test]
fn blocked_padding_and_code_minus_128_are_refused() {
    let mut rng = Rng::new(3);
    let mut layer = Layer::random(&mut rng, 5, 6, Activation::Relu, 1.0);
    layer.dense_blocked().validate().unwrap();
    let err = |l: &Layer| format!("{:?}", l.dense_blocked().validate().unwrap_err());
    // (row 1, col 6) is column padding; (row 7, col 0) row padding
    for (r, c) in [(1, 6), (7, 0)] {
        let i = kernel::i8_blocked_offset(r, c, 5);
        layer.blocked[i] = 3;
        assert!(err(&layer).contains("padding"), "({r}, {c})");
        layer.blocked[i] = 0;
    }
    layer.blocked_scales[4 * 7..].copy_from_slice(&0.5f32.to_le_bytes());
    assert!(err(&layer).contains("padding"));
    layer.blocked_scales[4 * 7..].copy_from_slice(&0.0f32.to_le_bytes());
    layer.blocked[kernel::i8_blocked_offset(2, 3, 5)] = 0x80;
    assert!(err(&layer).contains("-128"));
}

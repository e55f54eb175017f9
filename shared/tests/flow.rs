//! Coupling-flow math: exact inverses, log-determinants against finite differences,
//! cached condition against the plain concatenation.

use proptest::prelude::*;
use vina_core::features::FeatureKind;
use vina_core::layers::{Activation, CouplingStyle, Scratch};
use vina_core::model::{Condition, Model};
use vina_core::model_file::ModelKind;
use vina_core::rng::Rng;
use vina_core::spec::{Architecture, Precision, RandomArch};

fn arch(
    kind: ModelKind,
    style: CouplingStyle,
    dim: usize,
    actnorm: bool,
    weight_scale: f32,
    act: Activation,
) -> RandomArch {
    RandomArch {
        net: Architecture {
            kind,
            flow_dim: dim.max(5),
            cond_hidden: vec![8],
            cond_dim: 3,
            blocks: 3,
            style,
            hidden: vec![16, 16],
            activation: act,
            clamp: 2.0,
            actnorm,
            ..Architecture::default()
        },
        x_dim: if kind == ModelKind::Cinn { dim } else { 2 },
        feature_kind: FeatureKind::RawPressure,
        tones: 1,
        receivers: 2,
        weight_scale,
    }
}

/// Context for `model` from a random observation (cINN: c and caches; INN: y).
fn context(model: &Model<'_>, rng: &mut Rng) -> Vec<f32> {
    let y: Vec<f32> = (0..model.y_dim()).map(|_| rng.normal_f32()).collect();
    let mut ctx = vec![0.0; model.context_len()];
    model.prepare(&y, &mut ctx, &mut Scratch::new()).unwrap();
    ctx
}

/// Multiply the s-rows of every subnet's output layer, so the soft clamp saturates while
/// the translations t stay moderate.
fn saturate_scales(spec: &mut vina_core::spec::ModelSpec, factor: f32) {
    for f in &mut spec.flow {
        if let vina_core::spec::FlowSpec::Coupling { subnets, .. } = f {
            for net in subnets {
                let last = net.last_mut().unwrap();
                let s_rows = last.out_dim / 2;
                for w in &mut last.weights[..s_rows * last.in_dim] {
                    *w *= factor;
                }
                for b in &mut last.bias[..s_rows] {
                    *b *= factor;
                }
            }
        }
    }
}

fn acts() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::Relu),
        Just(Activation::LeakyRelu(0.1)),
        Just(Activation::Gelu),
        Just(Activation::Tanh)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    /// inverse(forward(v)) = v within 1e-5 for random weights, odd and even dimensions,
    /// both coupling styles, f32 and int8, and weights large enough to saturate the clamp.
    ///
    /// int8 subnets quantize their inputs to q15 (docs/model-format.md, "int8"): each is
    /// piecewise constant on a grid of 2⁻¹⁵·‖input‖, so where f32 rounding moves a later
    /// subnet's input across a grid boundary its output moves by one step, and the clamp
    /// amplifies that by up to e^(2·clamp). The int8 round trip is held to that step,
    /// 2⁻¹⁵·e^(2·clamp) = 1.7e-3 relative (measured over 3,000 random models: median 1e-7
    /// as f32, 99th percentile 6e-6, largest 1.4e-4).
    #[test]
    fn inverse_undoes_forward(
        seed in any::<u64>(),
        cinn in any::<bool>(),
        glow in any::<bool>(),
        dim in 2usize..10,
        actnorm in any::<bool>(),
        saturate in any::<bool>(),
        int8 in any::<bool>(),
        act in acts(),
        bounded in any::<bool>(),
    ) {
        let kind = if cinn { ModelKind::Cinn } else { ModelKind::Inn };
        let style = if glow { CouplingStyle::Glow } else { CouplingStyle::RealNvp };
        let mut arch = arch(kind, style, dim, actnorm, 1.0, act);
        // a cINN's bounded output: normalized parameters inside ±3
        let bounded = bounded && cinn;
        arch.net.bounded = bounded;
        if saturate {
            // f32 round trips lose eps·exp(2·clamp·blocks) at worst when every scale sits at
            // the clamp, so saturation is checked one block at a time.
            arch.net.blocks = 1;
        }
        let mut spec = arch.build(seed);
        if saturate {
            saturate_scales(&mut spec, 50.0);
        }
        let bytes = spec.encode(if int8 { Precision::Int8 } else { Precision::F32 }).unwrap();
        let model = Model::from_bytes(&bytes).unwrap();
        let mut rng = Rng::new(seed ^ 1);
        let ctx = context(&model, &mut rng);
        let cond = if cinn { Condition::Prepared(&ctx) } else { Condition::None };
        let x: Vec<f32> = (0..model.flow_dim())
            .map(|_| if bounded { 5.8 * (rng.uniform_f32() - 0.5) } else { 1.5 * rng.normal_f32() })
            .collect();
        let mut v = x.clone();
        let mut scratch = Scratch::new();
        let ld_f = model.forward(&mut v, cond, &mut scratch).unwrap();
        let ld_i = model.inverse(&mut v, cond, &mut scratch).unwrap();
        let q15_step = (2.0f32 * 2.0).exp() / 32768.0;
        let (tol_x, tol_ld) = if int8 { (q15_step, q15_step) } else { (1e-5, 1e-4) };
        for (a, b) in x.iter().zip(&v) {
            prop_assert!((a - b).abs() <= tol_x * (1.0 + a.abs()), "x {a} vs round trip {b}");
        }
        prop_assert!((ld_f + ld_i).abs() <= tol_ld * (1.0 + ld_f.abs()), "logdet {ld_f} vs {ld_i}");
    }
}

/// log|det J| of the forward pass, from a 4-point central-difference Jacobian, in f64.
fn fd_log_det(f: &dyn Fn(&[f32]) -> Vec<f32>, x: &[f32], h: f32) -> f64 {
    let n = x.len();
    let mut jac = vec![vec![0.0f64; n]; n];
    for j in 0..n {
        let at = |d: f32| {
            let mut xp = x.to_vec();
            xp[j] += d;
            f(&xp)
        };
        let (p2, p1, m1, m2) = (at(2.0 * h), at(h), at(-h), at(-2.0 * h));
        for i in 0..n {
            let d = (-f64::from(p2[i]) + 8.0 * f64::from(p1[i]) - 8.0 * f64::from(m1[i])
                + f64::from(m2[i]))
                / (12.0 * f64::from(h));
            jac[i][j] = d;
        }
    }
    // LU with partial pivoting
    let mut log_det = 0.0;
    for k in 0..n {
        let p = (k..n)
            .max_by(|&a, &b| jac[a][k].abs().total_cmp(&jac[b][k].abs()))
            .unwrap();
        jac.swap(k, p);
        let pivot = jac[k][k];
        log_det += pivot.abs().ln();
        let pivot_row = jac[k].clone();
        for row in jac.iter_mut().skip(k + 1) {
            let m = row[k] / pivot;
            for (r, p) in row.iter_mut().zip(&pivot_row).skip(k) {
                *r -= m * p;
            }
        }
    }
    log_det
}

#[test]
fn log_det_matches_finite_difference_jacobian() {
    let mut checked = 0;
    for (seed, (kind, style, dim, bounded)) in [
        (ModelKind::Cinn, CouplingStyle::Glow, 2, false),
        (ModelKind::Cinn, CouplingStyle::Glow, 5, false),
        (ModelKind::Cinn, CouplingStyle::RealNvp, 3, false),
        (ModelKind::Inn, CouplingStyle::Glow, 7, false),
        (ModelKind::Inn, CouplingStyle::RealNvp, 6, false),
        (ModelKind::Cinn, CouplingStyle::Glow, 4, true),
    ]
    .into_iter()
    .enumerate()
    {
        // tanh keeps the map smooth, so finite differences converge
        let mut a = arch(kind, style, dim, true, 1.0, Activation::Tanh);
        a.net.bounded = bounded;
        let spec = a.build(seed as u64 + 10);
        let bytes = spec.encode(Precision::F32).unwrap();
        let model = Model::from_bytes(&bytes).unwrap();
        let mut rng = Rng::new(seed as u64);
        let ctx = context(&model, &mut rng);
        let cond = if kind == ModelKind::Cinn {
            Condition::Prepared(&ctx)
        } else {
            Condition::None
        };
        for _ in 0..4 {
            // inside a bounded output's box (±3), away from its edges
            let x: Vec<f32> = (0..model.flow_dim())
                .map(|_| rng.normal_f32().clamp(-2.5, 2.5))
                .collect();
            let f = |x: &[f32]| {
                let mut v = x.to_vec();
                model.forward(&mut v, cond, &mut Scratch::new()).unwrap();
                v
            };
            let mut v = x.clone();
            let analytic = model.forward(&mut v, cond, &mut Scratch::new()).unwrap();
            let numeric = fd_log_det(&f, &x, 1e-2);
            assert!(
                (f64::from(analytic) - numeric).abs() < 1e-3,
                "{kind:?} {style:?} dim {dim}: analytic {analytic}, finite difference {numeric}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 24);
}

/// The cached `b + W_c·c` path equals plain concatenation of [x, c].
#[test]
fn cached_condition_equals_concatenated_condition() {
    for int8 in [false, true] {
        let spec = RandomArch::default_cinn().build(7);
        let bytes = spec
            .encode(if int8 {
                Precision::Int8
            } else {
                Precision::F32
            })
            .unwrap();
        let model = Model::from_bytes(&bytes).unwrap();
        let mut rng = Rng::new(3);
        let ctx = context(&model, &mut rng);
        let c = &ctx[..usize::from(model.header().cond_dim)];
        for _ in 0..20 {
            let z: Vec<f32> = (0..2).map(|_| rng.normal_f32()).collect();
            let (mut a, mut b) = (z.clone(), z.clone());
            let mut s = Scratch::new();
            model
                .inverse(&mut a, Condition::Prepared(&ctx), &mut s)
                .unwrap();
            model.inverse(&mut b, Condition::Raw(c), &mut s).unwrap();
            for (p, q) in a.iter().zip(&b) {
                // int8: the condition is quantized on its own scale in the cached path
                let tol = if int8 { 0.05 } else { 1e-5 };
                assert!(
                    (p - q).abs() <= tol * (1.0 + p.abs()),
                    "int8={int8}: {p} vs {q}"
                );
            }
        }
    }
}

/// `sample` maps z through the inverse and the x normalization; the round trip through
/// `forward` recovers z.
#[test]
fn sample_is_inverse_pass_in_physical_units() {
    for arch in [RandomArch::default_cinn(), RandomArch::paper_inn()] {
        let spec = arch.build(11);
        let bytes = spec.encode(Precision::F32).unwrap();
        let model = Model::from_bytes(&bytes).unwrap();
        let mut rng = Rng::new(5);
        let ctx = context(&model, &mut rng);
        let mut scratch = Scratch::new();
        let z: Vec<f32> = (0..model.latent_dim()).map(|_| rng.normal_f32()).collect();
        let mut x = vec![0.0; model.x_dim()];
        model.sample(&ctx, &z, &mut x, &mut scratch).unwrap();
        let mut v: Vec<f32> = x
            .iter()
            .zip(spec.header.x_mean.iter().zip(&spec.header.x_std))
            .map(|(x, (m, s))| (x - m) / s)
            .collect();
        match spec.kind {
            ModelKind::Cinn => {
                model
                    .forward(&mut v, Condition::Prepared(&ctx), &mut scratch)
                    .unwrap();
                for (a, b) in v.iter().zip(&z) {
                    assert!((a - b).abs() < 1e-4, "{a} vs {b}");
                }
            }
            ModelKind::Inn => {
                // The padding dimensions are not returned; check the x part only by a
                // second inverse pass with the same [y, z].
                let mut x2 = vec![0.0; model.x_dim()];
                model.sample(&ctx, &z, &mut x2, &mut scratch).unwrap();
                assert_eq!(x, x2);
            }
        }
    }
}

#[test]
fn macs_per_sample_of_default_cinn() {
    let spec = RandomArch::default_cinn().build(1);
    let bytes = spec.encode(Precision::F32).unwrap();
    let model = Model::from_bytes(&bytes).unwrap();
    // 4 GLOW blocks × 2 subnets × (1·48 + 48·48 + 48·2), condition share cached
    assert_eq!(model.macs_per_sample(), 4 * 2 * (48 + 48 * 48 + 48 * 2));
}

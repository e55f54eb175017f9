//! Loss building blocks: the f-GAN closed forms against Nowozin et al.'s table, MMD and
//! Sinkhorn sanity, and the committed training configs parse.

mod common;

use burn::tensor::Device;
use vina_host::train::TrainConfig;
use vina_host::train::losses::fgan::Divergence;
use vina_host::train::losses::{mmd, sinkhorn};
use vina_host::train::modules::{tensor1, tensor2, to_vec};

/// g(v) and f*(t) as written in Nowozin et al. (2016), table 2.
fn reference(div: Divergence, v: f64) -> (f64, f64) {
    let sp = |x: f64| (1.0 + x.exp()).ln();
    let g = match div {
        Divergence::Kl | Divergence::ChiSquared => v,
        Divergence::ReverseKl => -(-v).exp(),
        Divergence::SquaredHellinger => 1.0 - (-v).exp(),
        Divergence::JensenShannon => 2f64.ln() - sp(-v),
        Divergence::Gan => -sp(-v),
    };
    let f_star = match div {
        Divergence::Kl => (g - 1.0).exp(),
        Divergence::ReverseKl => -1.0 - (-g).ln(),
        Divergence::ChiSquared => g * g / 4.0 + g,
        Divergence::SquaredHellinger => g / (1.0 - g),
        Divergence::JensenShannon => -(2.0 - g.exp()).ln(),
        Divergence::Gan => -(1.0 - g.exp()).ln(),
    };
    (g, f_star)
}

#[test]
fn f_gan_closed_forms_match_the_table() {
    let device = Device::flex();
    let vs: Vec<f32> = vec![-3.0, -1.0, -0.2, 0.0, 0.3, 1.0, 2.5];
    for div in Divergence::ALL {
        let g = to_vec(&div.activation(tensor1(vs.clone(), &device)));
        let fs = to_vec(&div.conjugate_of_activation(tensor1(vs.clone(), &device)));
        for ((v, g), f) in vs.iter().zip(g).zip(fs) {
            let (gr, fr) = reference(div, f64::from(*v));
            assert!((f64::from(g) - gr).abs() < 1e-5, "{div:?} g({v})");
            assert!(
                (f64::from(f) - fr).abs() < 1e-4 * fr.abs().max(1.0),
                "{div:?} f*(g({v}))"
            );
        }
    }
}

#[test]
fn mmd_and_sinkhorn_vanish_on_equal_samples_and_grow_with_a_shift() {
    let device = Device::flex();
    let a: Vec<f32> = (0..64)
        .map(|i| ((i * 37 % 64) as f32 / 32.0) - 1.0)
        .collect();
    let b: Vec<f32> = a.iter().map(|v| v + 1.0).collect();
    let ta = tensor2(a, 32, 2, &device);
    let tb = tensor2(b, 32, 2, &device);
    let w = [0.05, 0.2, 0.9];
    let same = to_vec(&mmd::mmd(&ta, &ta, &w))[0];
    let shifted = to_vec(&mmd::mmd(&ta, &tb, &w))[0];
    assert!(same.abs() < 1e-5 && shifted > 0.1, "mmd {same} {shifted}");
    // Debiased: exactly zero on equal clouds. A shift by (1, 1) of the same cloud costs
    // ½·|(1, 1)|² = 1 (cost ½‖·‖²); at blur 0.05 the divergence is within 1 % of it.
    let same = to_vec(&sinkhorn::sinkhorn(&ta, &ta, 0.0025, 0.5, 1))[0];
    let shifted = to_vec(&sinkhorn::sinkhorn(&ta, &tb, 0.0025, 0.5, 1))[0];
    assert!(same.abs() < 1e-5, "sinkhorn of equal clouds {same}");
    assert!(
        (shifted - 1.0).abs() < 0.01,
        "sinkhorn of shifted clouds {shifted}"
    );
}

/// The debiased Sinkhorn divergence of two clouds, by plain (unscaled) log-domain Sinkhorn
/// iterations in f64 run to convergence: S = OT(a, b) − ½·OT(a, a) − ½·OT(b, b), each
/// OT the dual value ⟨α, f⟩ + ⟨β, g⟩ (a second implementation, without ε-scaling).
fn sinkhorn_divergence_f64(a: &[[f64; 2]], b: &[[f64; 2]], eps: f64) -> f64 {
    let ot = |x: &[[f64; 2]], y: &[[f64; 2]]| {
        let c = |p: &[f64; 2], q: &[f64; 2]| 0.5 * ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2));
        let (n, m) = (x.len(), y.len());
        let (la, lb) = (-(n as f64).ln(), -(m as f64).ln());
        let (mut f, mut g) = (vec![0.0; n], vec![0.0; m]);
        let softmin = |p: &[f64; 2], pts: &[[f64; 2]], pot: &[f64], lw: f64| {
            let t: Vec<f64> = pts
                .iter()
                .zip(pot)
                .map(|(q, h)| lw + h / eps - c(p, q) / eps)
                .collect();
            let mx = t.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            -eps * (t.iter().map(|v| (v - mx).exp()).sum::<f64>().ln() + mx)
        };
        for _ in 0..20_000 {
            f = x.iter().map(|p| softmin(p, y, &g, lb)).collect();
            g = y.iter().map(|q| softmin(q, x, &f, la)).collect();
        }
        f.iter().sum::<f64>() / n as f64 + g.iter().sum::<f64>() / m as f64
    };
    ot(a, b) - 0.5 * ot(a, a) - 0.5 * ot(b, b)
}

#[test]
fn sinkhorn_divergence_matches_a_converged_f64_solver() {
    let device = Device::flex();
    let a: Vec<[f64; 2]> = (0..24)
        .map(|i| {
            [
                ((i * 7 % 24) as f64 / 12.0) - 1.0,
                ((i * 5 % 24) as f64 / 24.0),
            ]
        })
        .collect();
    let b: Vec<[f64; 2]> = (0..20)
        .map(|i| {
            [
                ((i * 3 % 20) as f64 / 15.0) - 0.2,
                ((i * 9 % 20) as f64 / 10.0) + 0.3,
            ]
        })
        .collect();
    let flat = |v: &[[f64; 2]]| v.iter().flat_map(|p| [p[0] as f32, p[1] as f32]).collect();
    let (ta, tb) = (
        tensor2(flat(&a), a.len(), 2, &device),
        tensor2(flat(&b), b.len(), 2, &device),
    );
    for eps in [0.1f32, 0.01] {
        let want = sinkhorn_divergence_f64(&a, &b, f64::from(eps));
        // ε-scaling then 200 updates at the target: converged.
        let got = f64::from(to_vec(&sinkhorn::sinkhorn(&ta, &tb, eps, 0.5, 200))[0]);
        assert!(
            (got - want).abs() < 2e-4 * want.abs().max(1.0),
            "eps {eps}: {got} vs {want}"
        );
    }
}

#[test]
fn committed_configs_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for name in [
        "configs/gi-pekeris-cinn.toml",
        "configs/paper-inn.toml",
        "configs/paper-inn-wide.toml",
        "bench/paper-inn-padded.toml",
    ] {
        let c = TrainConfig::read(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(c.batch_size, 512, "{name}");
    }
}

/// Every loss term, on both model kinds: one short epoch trains to finite values and
/// exports a file `vina-core` decodes.
#[test]
fn every_loss_term_trains_both_kinds() {
    use vina_core::model::Model;
    use vina_core::model_file::ModelKind;
    use vina_core::rng::Rng;
    use vina_core::spec::Architecture;
    use vina_host::train::config::LossConfig;
    use vina_host::train::train;

    let mut rng = Rng::new(1);
    let n = 600;
    let mut x = Vec::new();
    let mut y = Vec::new();
    for _ in 0..n {
        let (a, b) = (rng.normal_f32(), rng.normal_f32());
        x.extend([a, b]);
        y.extend([a + b, a - b, 0.5 * a].map(|v| v + 0.1 * rng.normal_f32()));
    }
    let data = common::toy_data(x, y, 1);
    for kind in [ModelKind::Cinn, ModelKind::Inn] {
        for div in Divergence::ALL {
            let config = TrainConfig {
                epochs: 1,
                batch_size: 100,
                progress: false,
                model: Architecture {
                    kind,
                    blocks: 2,
                    hidden: vec![16],
                    cond_hidden: vec![8],
                    cond_dim: 4,
                    flow_dim: 6,
                    last_layer_scale: 0.3,
                    ..Architecture::default()
                },
                loss: LossConfig {
                    ml: 1.0,
                    fgan: 0.5,
                    divergence: div,
                    critic_hidden: vec![16],
                    mmd_forward: 1.0,
                    mmd_backward: 1.0,
                    sinkhorn: 1.0,
                    // the INN's fit terms (ignored by a cINN)
                    y_base: true,
                    fit_rmse: 1.0,
                    recon_rmse: 1.0,
                    ..LossConfig::default()
                },
                ..TrainConfig::default()
            };
            let out = tempfile::tempdir().expect("temp dir");
            let s = train(&data, &config, out.path(), false)
                .unwrap_or_else(|e| panic!("{kind:?} {div:?}: {e:#}"));
            assert!(s.train_loss[0].is_finite() && s.best_val_nll.is_finite());
            let file = std::fs::read(&s.model_file).expect("model file");
            Model::from_bytes(&file).expect("exported model decodes");
            let csv = std::fs::read_to_string(out.path().join("metrics.csv")).expect("csv");
            assert_eq!(csv.lines().count(), 2, "header and one epoch");
            if kind == ModelKind::Inn {
                // the fit columns are filled (RMSEs are positive)
                let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
                let row: Vec<f64> = csv
                    .lines()
                    .nth(1)
                    .unwrap()
                    .split(',')
                    .map(|v| v.parse().unwrap())
                    .collect();
                for col in ["val_fit", "val_recon"] {
                    let i = header.iter().position(|h| *h == col).expect(col);
                    assert!(row[i] > 0.0 && row[i].is_finite(), "{col} {}", row[i]);
                }
            }
        }
    }
}

/// A critic that outputs 1000 on every sample: the KL conjugate e^{v−1} overflows f32
/// there. The losses stay finite because the critic's output on model samples is clamped
/// (`loss.critic_fake_clamp`), and equal the closed form at the clamp.
#[test]
fn a_runaway_critic_cannot_overflow_the_f_gan_losses() {
    use vina_core::layers::Activation;
    use vina_core::spec::DenseSpec;
    use vina_host::train::losses::fgan::{Critic, Generator, bound, generator_loss};
    use vina_host::train::modules::Mlp;

    let device = Device::flex();
    let critic = Critic {
        net: Mlp::from_spec(
            &[DenseSpec {
                in_dim: 3,
                out_dim: 1,
                activation: Activation::Identity,
                weights: vec![0.0; 3],
                bias: vec![1000.0],
            }],
            &device,
        ),
    };
    let x = tensor2(vec![0.1, -0.2, 0.3, 0.4], 2, 2, &device);
    let y = tensor2(vec![0.5, 0.6], 2, 1, &device);
    let clamp = 10.0f32;
    let saddle = to_vec(&generator_loss(
        Divergence::Kl,
        Generator::Saddle,
        &critic,
        x.clone(),
        y.clone(),
        clamp,
    ))[0];
    assert!(
        (f64::from(saddle) + (f64::from(clamp) - 1.0).exp()).abs() < 1e-2,
        "{saddle}"
    );
    let ns = to_vec(&generator_loss(
        Divergence::Kl,
        Generator::NonSaturating,
        &critic,
        x.clone(),
        y.clone(),
        clamp,
    ))[0];
    assert_eq!(ns, -clamp);
    // the bound: real output clamped to ±4, model output to ±10: 4 − e^9
    let f = to_vec(&bound(Divergence::Kl, &critic, x.clone(), x, y, 4.0, clamp))[0];
    assert!((f64::from(f) - (4.0 - 9f64.exp())).abs() < 1e-2, "{f}");
}

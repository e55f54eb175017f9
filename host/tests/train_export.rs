//! Burn's forward and inverse equal `vina-core`'s on the same weights, through both
//! directions of the weight copy: spec → Burn and Burn → spec → `.vina` file.

use burn::tensor::Device;
use vina_core::layers::{Activation, CouplingStyle, Scratch};
use vina_core::model::{Condition, Model};
use vina_core::model_file::ModelKind;
use vina_core::rng::Rng;
use vina_core::spec::{Architecture, ModelSpec, Precision, RandomArch};
use vina_host::train::modules::{tensor2, to_vec};
use vina_host::train::{Dims, Network};

const TOL: f32 = 1e-5;

/// Assert `|a − b| ≤ tol·max(1, |a|, |b|)` elementwise; returns the largest such ratio.
fn assert_close(what: &str, a: &[f32], b: &[f32], tol: f32) -> f32 {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let mut worst = 0f32;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let err = (x - y).abs() / 1f32.max(x.abs()).max(y.abs());
        assert!(err <= tol, "{what}[{i}]: burn {x} vs vina-core {y}");
        worst = worst.max(err);
    }
    worst
}

/// Compare Burn and vina-core on `n` random inputs, both directions, and the firmware's
/// prepare/sample path. Returns the largest relative difference seen.
fn compare(net: &Network, spec: &ModelSpec, n: usize, seed: u64) -> f32 {
    let device = Device::flex();
    let file = spec.encode(Precision::F32).expect("encode");
    let model = Model::from_bytes(&file).expect("decode");
    let d = spec.flow_dim;
    let y_dim = spec.y_dim();
    let mut rng = Rng::new(seed);
    let v: Vec<f32> = (0..n * d).map(|_| rng.normal_f32()).collect();
    let y: Vec<f32> = (0..n * y_dim).map(|_| rng.normal_f32()).collect();
    let vt = tensor2(v.clone(), n, d, &device);
    let yt = tensor2(y.clone(), n, y_dim, &device);
    let (c, (fw, fw_ld), (inv, inv_ld)) = match net {
        Network::Cinn(m) => {
            let c = m.condition(yt.clone());
            let fw = m.forward(vt.clone(), &c);
            let inv = m.inverse(vt.clone(), &c);
            (Some(to_vec(&c)), fw, inv)
        }
        Network::Inn(m) => (
            None,
            m.flow.forward(vt.clone(), None),
            m.flow.inverse(vt.clone(), None),
        ),
    };
    let (fw, fw_ld, inv, inv_ld) = (to_vec(&fw), to_vec(&fw_ld), to_vec(&inv), to_vec(&inv_ld));
    let mut scratch = Scratch::new();
    let mut worst = 0f32;
    let cond_dim = spec.cond_dim;
    for i in 0..n {
        let cond = match &c {
            Some(c) => Condition::Raw(&c[i * cond_dim..(i + 1) * cond_dim]),
            None => Condition::None,
        };
        let mut a = v[i * d..(i + 1) * d].to_vec();
        let ld = model.forward(&mut a, cond, &mut scratch).expect("forward");
        worst = worst.max(assert_close("forward", &fw[i * d..(i + 1) * d], &a, TOL));
        worst = worst.max(assert_close("forward log det", &fw_ld[i..=i], &[ld], TOL));
        let mut b = v[i * d..(i + 1) * d].to_vec();
        let ld = model.inverse(&mut b, cond, &mut scratch).expect("inverse");
        worst = worst.max(assert_close("inverse", &inv[i * d..(i + 1) * d], &b, TOL));
        worst = worst.max(assert_close("inverse log det", &inv_ld[i..=i], &[ld], TOL));
    }
    // The firmware's path: physical y → prepare (normalize, h(y), cached W_c·c) → sample.
    let x_dim = spec.x_dim;
    let latent = model.latent_dim();
    let mut ctx = vec![0f32; model.context_len()];
    for i in 0..n.min(8) {
        let y_phys: Vec<f32> = (0..y_dim)
            .map(|j| spec.header.y_mean[j] + spec.header.y_std[j] * y[i * y_dim + j])
            .collect();
        model
            .prepare(&y_phys, &mut ctx, &mut scratch)
            .expect("prepare");
        let z = &v[i * d..i * d + latent];
        let mut x = vec![0f32; x_dim];
        model.sample(&ctx, z, &mut x, &mut scratch).expect("sample");
        let yt = tensor2(y[i * y_dim..(i + 1) * y_dim].to_vec(), 1, y_dim, &device);
        let zt = tensor2(z.to_vec(), 1, latent, &device);
        let xb = to_vec(&vina_host::train::losses::sample(net, &yt, zt, x_dim));
        let xb: Vec<f32> = xb
            .iter()
            .enumerate()
            .map(|(j, v)| spec.header.x_mean[j] + spec.header.x_std[j] * v)
            .collect();
        worst = worst.max(assert_close("prepare + sample", &xb, &x, TOL));
    }
    worst
}

#[test]
fn spec_to_burn_matches_vina_core() {
    for (k, arch) in RandomArch::coverage_set().into_iter().enumerate() {
        let spec = arch.build(11 + k as u64);
        let net = Network::from_spec(&spec, &Device::flex());
        // The weight copy is exact both ways.
        assert_eq!(net.to_spec(&spec.header), spec, "round trip of arch {k}");
        let worst = compare(&net, &spec, 64, 100 + k as u64);
        println!("arch {k}: largest relative difference {worst:.2e}");
    }
}

#[test]
fn burn_init_exports_to_a_file_vina_core_runs() {
    for kind in [ModelKind::Cinn, ModelKind::Inn] {
        let arch = Architecture {
            kind,
            blocks: 3,
            style: CouplingStyle::Glow,
            hidden: vec![32, 32],
            activation: Activation::Relu,
            clamp: 2.0,
            actnorm: true,
            cond_hidden: vec![40],
            cond_dim: 16,
            last_layer_scale: 0.5,
            ..Architecture::default()
        };
        let template = match kind {
            ModelKind::Cinn => RandomArch::default_cinn(),
            ModelKind::Inn => RandomArch::paper_inn(),
        }
        .build(3);
        let dims = Dims {
            x_dim: template.x_dim,
            y_dim: template.y_dim(),
            flow_dim: template.flow_dim,
        };
        let net = Network::init(&arch, &dims, None, 7, &Device::flex());
        let spec = net.to_spec(&template.header);
        let worst = compare(&net, &spec, 32, 5);
        println!("{kind:?} from Burn init: largest relative difference {worst:.2e}");
    }
}

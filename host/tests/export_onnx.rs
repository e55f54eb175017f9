//! Export: the folded `.vina` file, the ONNX sampling graph run by tract, and Burn all
//! compute the same posterior samples as `vina-core` on the unfolded weights, for every
//! architecture of `RandomArch::coverage_set`.

use burn::tensor::Device;
use vina_core::model::Model;
use vina_core::rng::Rng;
use vina_core::spec::{ModelSpec, Precision, RandomArch};
use vina_host::export::{fold, onnx};
use vina_host::invert::{sample_core, sample_tract};
use vina_host::train::Network;
use vina_host::train::modules::{tensor2, to_vec};

const TOL: f32 = 1e-5;

/// Largest `|a − b| / max(1, |a|, |b|)`, after checking it is within `TOL`.
fn close(what: &str, a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len(), "{what}: sample counts");
    let mut worst = 0f32;
    for (i, (ra, rb)) in a.iter().zip(b).enumerate() {
        assert_eq!(ra.len(), rb.len(), "{what}: widths");
        for (j, (x, y)) in ra.iter().zip(rb).enumerate() {
            let err = (x - y).abs() / 1f32.max(x.abs()).max(y.abs());
            assert!(err <= TOL, "{what}: sample {i}, parameter {j}: {x} vs {y}");
            worst = worst.max(err);
        }
    }
    worst
}

/// Physical-unit observation features and latents for a spec.
fn inputs(spec: &ModelSpec, seed: u64, n: usize) -> (Vec<f32>, Vec<Vec<f32>>) {
    let mut rng = Rng::new(seed);
    let h = &spec.header;
    let y = (0..spec.y_dim())
        .map(|j| h.y_mean[j] + h.y_std[j] * rng.normal_f32())
        .collect();
    let latent = onnx::latent_dim(spec);
    let z = (0..n)
        .map(|_| (0..latent).map(|_| rng.normal_f32()).collect())
        .collect();
    (y, z)
}

/// Burn's sampling pass in physical units.
fn sample_burn(spec: &ModelSpec, y: &[f32], z: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let device = Device::flex();
    let net = Network::from_spec(spec, &device);
    let h = &spec.header;
    let n = z.len();
    let y_norm: Vec<f32> = (0..n)
        .flat_map(|_| {
            y.iter()
                .zip(&h.y_mean)
                .zip(&h.y_std)
                .map(|((v, m), s)| (v - m) / s)
        })
        .collect();
    let yt = tensor2(y_norm, n, y.len(), &device);
    let zt = tensor2(z.concat(), n, z[0].len(), &device);
    let x = to_vec(&vina_host::train::losses::sample(&net, &yt, zt, spec.x_dim));
    x.chunks(spec.x_dim)
        .map(|r| {
            r.iter()
                .zip(&h.x_mean)
                .zip(&h.x_std)
                .map(|((v, m), s)| m + s * v)
                .collect()
        })
        .collect()
}

#[test]
fn folded_file_onnx_and_burn_agree_with_vina_core() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (k, arch) in RandomArch::coverage_set().into_iter().enumerate() {
        let mut spec = arch.build(40 + k as u64);
        // Physical-looking normalization so the folds have something to fold.
        for (i, (m, s)) in spec
            .header
            .x_mean
            .iter_mut()
            .zip(spec.header.x_std.iter_mut())
            .enumerate()
        {
            *m = 200.0 + 700.0 * i as f32;
            *s = 10.0 + i as f32;
        }
        let (y, z) = inputs(&spec, 7 + k as u64, 64);
        let plain = spec.encode(Precision::F32).expect("encode");
        let reference =
            sample_core(&Model::from_bytes(&plain).expect("decode"), &y, &z).expect("core");

        let burn = close("Burn", &sample_burn(&spec, &y, &z), &reference);

        let mut folded = spec.clone();
        let what = fold::fold(&mut folded);
        let file = folded.encode(Precision::F32).expect("encode folded");
        let model = Model::from_bytes(&file).expect("decode folded");
        let fold_err = close(
            "folded",
            &sample_core(&model, &y, &z).expect("core"),
            &reference,
        );

        let path = dir.path().join(format!("arch{k}.onnx"));
        std::fs::write(&path, onnx::encode(&folded)).expect("write onnx");
        let tract = sample_tract(&path, &y, &z, spec.x_dim).expect("tract");
        let tract_err = close("tract", &tract, &reference);
        println!(
            "arch {k}: folded {what:?} {fold_err:.1e}, tract {tract_err:.1e}, Burn {burn:.1e}"
        );
    }
}

#[test]
fn folds_move_normalization_into_weights() {
    let mut spec = RandomArch::default_cinn().build(3);
    let what = fold::fold(&mut spec);
    assert!(what.y_normalization && what.x_normalization);
    assert!(spec.header.y_mean.iter().all(|&m| m == 0.0));
    assert!(spec.header.x_std.iter().all(|&s| s == 1.0));
    // An INN takes y into the flow: nothing to fold.
    let mut inn = RandomArch::paper_inn().build(3);
    let before = inn.clone();
    assert_eq!(fold::fold(&mut inn), fold::Folded::default());
    assert_eq!(inn, before);
}

#[test]
fn onnx_graph_declares_the_issue_interface() {
    let spec = RandomArch::default_cinn().build(5);
    let g = onnx::graph(&spec);
    assert_eq!(g.opset_import[0].version, 17);
    let graph = g.graph.expect("graph");
    let names = |v: &[tract_onnx::pb::ValueInfoProto]| -> Vec<String> {
        v.iter().map(|i| i.name.clone()).collect()
    };
    assert_eq!(names(&graph.input), ["y", "z"]);
    assert_eq!(names(&graph.output), ["x"]);
}

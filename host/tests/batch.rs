//! The batched host path (`vina_host::batch`) against the per-sample loop the buoy runs
//! (`vina_core::sampling`): every architecture of the coverage set, f32 and int8, a
//! partial last block, and `vina invert`'s default engine against `--engine core`.

use vina_core::model::Model;
use vina_core::rng::Rng;
use vina_core::sampling::Conditioned;
use vina_core::spec::{Precision, RandomArch};
use vina_host::batch::{BLOCK, Batched};

/// Largest |batched − per-sample| / max(1, |per-sample|) over all draws of all models.
#[test]
fn batched_draws_equal_the_per_sample_loop_within_1e_6() {
    let n = 2 * BLOCK + 37;
    let mut worst = 0.0f64;
    for (a, arch) in RandomArch::coverage_set().into_iter().enumerate() {
        for precision in [Precision::F32, Precision::Int8] {
            let bytes = arch.build(40 + a as u64).encode(precision).unwrap();
            let model = Model::from_bytes(&bytes).unwrap();
            let mut rng = Rng::new(a as u64);
            let mut y = vec![0.0f32; model.y_dim()];
            rng.fill_normal(&mut y);
            let mut c = Conditioned::new(&model, &y).unwrap();
            let reference = c.draws(17, n as u32).unwrap();
            let batched = Batched::new(&model).draws(c.context(), 17, n).unwrap();
            assert_eq!(batched.len(), n);
            for (b, r) in batched.iter().zip(&reference) {
                for (b, r) in b.iter().zip(r) {
                    assert!(b.is_finite() && r.is_finite());
                    worst = worst.max((b - r).abs() / r.abs().max(1.0));
                }
            }
        }
    }
    eprintln!("largest relative difference: {worst:e}");
    assert!(worst <= 1e-6, "batched vs per-sample: {worst:e}");
    assert!(
        worst > 0.0,
        "GEMM sums in another order: exactly 0 would mean this test ran the per-sample path"
    );
}

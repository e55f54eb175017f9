//! A miniature main job in seconds: simulate gi-pekeris, train the default cINN shape for a
//! few epochs, export the `.vina` file, synthesize a hydrophone recording at a truth, and
//! run the buoy's pipeline (`vina_core::pipeline`, the code the firmware runs) on it.

use vina_core::model::Model;
use vina_core::pipeline::recording_source::Replay;
use vina_core::pipeline::{Pipeline, PipelineConfig};
use vina_core::recording::Recording;
use vina_core::report::Status;
use vina_host::scenario::Scenario;
use vina_host::simulate::simulate;
use vina_host::synth::{FULL_SCALE, SynthOptions, synthesize};
use vina_host::train::{TrainConfig, train, train_data};

#[test]
fn simulate_train_export_synthesize_and_invert_on_the_firmware_pipeline() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let scn = Scenario::load(&root.join("scenarios/gi-pekeris.toml")).unwrap();
    let data = simulate(&scn, 11, scn.snr_db, 0..20_000, 20_000, false).unwrap();

    let mut config = TrainConfig::read(&root.join("configs/gi-pekeris-cinn.toml")).unwrap();
    config.epochs = 15;
    config.optim.lr = 1e-3;
    config.progress = false;
    let out = tempfile::tempdir().unwrap();
    let summary = train(&train_data(&data).unwrap(), &config, out.path(), false).unwrap();
    assert!(
        summary.val_nll.last().unwrap() < summary.val_nll.first().unwrap(),
        "{:?}",
        summary.val_nll
    );

    let bytes = std::fs::read(out.path().join("model.vina")).unwrap();
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(model.header().scenario_hash, scn.hash());

    let truth = [215.0, 1570.0];
    let opt = SynthOptions {
        seconds: 35.0,
        sample_rate_hz: 1000.0,
        snr_db: Some(scn.snr_db),
        frame_len: 4096,
        level: 0.25,
        seed: 5,
        wav: false,
        tide: None,
        channel_response: Vec::new(),
        tone_offset_hz: 0.0,
        interferers: Vec::new(),
        clicks: None,
    };
    let (codes, _) = synthesize(&scn, &truth, &opt).unwrap();
    let rec_bytes = Recording::encode(5, 1000.0, FULL_SCALE, &codes);
    let mut source = Replay::new(Recording::from_bytes(&rec_bytes).unwrap());
    let mut pipeline = Pipeline::new(&model, 5, 1000.0, PipelineConfig::default()).unwrap();
    let report = pipeline.run(&mut source, 1).unwrap();
    assert_eq!(report.status, Status::Posterior);
    assert_eq!(report.parameters.len(), 2);
    // After a few epochs on 20,000 samples the posterior is broad but already informative:
    // narrower than the prior (uniform: std = width/√12) and centred near the truth.
    let prior_std = [36.0 / 12f32.sqrt(), 60.0 / 12f32.sqrt()];
    for ((s, t), p) in report.parameters.iter().zip(truth).zip(prior_std) {
        eprintln!(
            "truth {t}: posterior {} ± {} [{}, {}]",
            s.mean, s.std, s.q05, s.q95
        );
        assert!(s.std < 0.5 * p, "posterior std {} vs prior {p}", s.std);
        assert!(
            (s.mean - t as f32).abs() < 3.0 * s.std.max(0.05 * p),
            "mean {} ± {} vs truth {t}",
            s.mean,
            s.std
        );
    }
}

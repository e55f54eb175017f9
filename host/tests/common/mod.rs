//! Helpers shared by the trainer tests.

use vina_core::features::FeatureKind;
use vina_host::train::TrainData;

/// A toy data set with two parameters and three observed values (any feature spec of
/// length 3 will do: one tone, two receivers, relative transfer function).
pub fn toy_data(x: Vec<f32>, y: Vec<f32>, scenario_hash: u64) -> TrainData {
    TrainData {
        x,
        y,
        x_dim: 2,
        y_dim: 3,
        param_names: vec!["a".into(), "b".into()],
        feature_kind: FeatureKind::RelativeTransferFunction,
        receivers: 2,
        tones_hz: vec![100.0],
        scenario_hash,
        noise: Vec::new(),
        noise_dim: 0,
        prior_box: None,
    }
}

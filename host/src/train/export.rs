//! Trained network → `vina_core::spec::ModelSpec` (a weight copy), so
//! `spec.encode(Precision::F32)` gives a `.vina` file the firmware runs.

use vina_core::features::FeatureKind;
use vina_core::model_file::ModelKind;
use vina_core::spec::ModelSpec;

use super::flow::Network;

/// Everything in a `.vina` header that is not a weight: feature spec, parameter names,
/// normalization statistics and the scenario hash.
#[derive(Clone, Debug, PartialEq)]
pub struct SpecHeader {
    /// Feature kind.
    pub feature_kind: FeatureKind,
    /// Receivers.
    pub receivers: usize,
    /// Tone frequencies, Hz.
    pub tones_hz: Vec<f32>,
    /// Parameter names, x order.
    pub param_names: Vec<String>,
    /// x normalization: `(x − mean)/std`.
    pub x_mean: Vec<f32>,
    /// See `x_mean`.
    pub x_std: Vec<f32>,
    /// y normalization.
    pub y_mean: Vec<f32>,
    /// See `y_mean`.
    pub y_std: Vec<f32>,
    /// Scenario hash.
    pub scenario_hash: u64,
}

impl Network {
    /// Copy the weights into a spec with the given header fields.
    pub fn to_spec(&self, header: &SpecHeader) -> ModelSpec {
        let (kind, cond_net, cond_dim) = match self {
            Network::Cinn(m) => {
                let cond_dim = if m.cond_net.layers.is_empty() {
                    header.y_mean.len()
                } else {
                    m.cond_net.out_dim()
                };
                (ModelKind::Cinn, m.cond_net.to_spec(), cond_dim)
            }
            Network::Inn(_) => (ModelKind::Inn, Vec::new(), 0),
        };
        let flow = self.flow().to_spec();
        let flow_dim = match kind {
            ModelKind::Cinn => header.x_mean.len(),
            ModelKind::Inn => flow_dim_of(&flow).unwrap_or(header.x_mean.len()),
        };
        ModelSpec {
            kind,
            x_dim: header.x_mean.len(),
            flow_dim,
            cond_dim,
            feature_kind: header.feature_kind,
            receivers: header.receivers,
            tones_hz: header.tones_hz.clone(),
            param_names: header.param_names.clone(),
            x_mean: header.x_mean.clone(),
            x_std: header.x_std.clone(),
            y_mean: header.y_mean.clone(),
            y_std: header.y_std.clone(),
            scenario_hash: header.scenario_hash,
            cond_net,
            flow,
        }
    }
}

/// The flow dimension, read off the first permutation or ActNorm.
fn flow_dim_of(flow: &[vina_core::spec::FlowSpec]) -> Option<usize> {
    use vina_core::spec::FlowSpec;
    flow.iter().find_map(|f| match f {
        FlowSpec::Permute(p) => Some(p.len()),
        FlowSpec::ActNorm { bias, .. } => Some(bias.len()),
        FlowSpec::Coupling { .. } => None,
    })
}

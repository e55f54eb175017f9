//! Trained network → `vina_core::spec::ModelSpec` (a weight copy), so
//! `spec.encode(Precision::F32)` gives a `.vina` file the firmware runs.

use vina_core::model_file::ModelKind;
use vina_core::spec::{HeaderSpec, ModelSpec};

use super::flow::Network;

impl Network {
    /// Copy the weights into a spec with the given header fields.
    pub fn to_spec(&self, header: &HeaderSpec) -> ModelSpec {
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
            header: header.clone(),
            cond_net,
            flow,
            template: None,
        }
    }
}

/// The flow dimension, read off the first permutation or ActNorm.
fn flow_dim_of(flow: &[vina_core::spec::FlowSpec]) -> Option<usize> {
    use vina_core::spec::FlowSpec;
    flow.iter().find_map(|f| match f {
        FlowSpec::Permute(p) => Some(p.len()),
        FlowSpec::ActNorm { bias, .. } => Some(bias.len()),
        FlowSpec::Bounded { lo, .. } => Some(lo.len()),
        FlowSpec::Coupling { .. } => None,
    })
}

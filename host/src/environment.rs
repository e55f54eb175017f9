//! A physical environment (one draw of a scenario's parameters) and its pressure field at
//! the scenario's tones and receivers, through `vina-core`'s normal-mode solver in f64.

use num_complex::Complex64;
use vina_core::acoustics::{AcousticsError, Layer, Layered, Medium, ModeSet, Pekeris, Waveguide};

use crate::scenario::WaveguideModel;

/// Mode capacity on the host (the KRAKEN PEKERIS case has 44 modes; gi-pekeris ≤ ~25).
pub const HOST_MODES: usize = 256;

/// Modes of one environment at one frequency, host capacity.
pub type HostModes = ModeSet<f64, HOST_MODES>;

/// One range-independent environment with its source position.
#[derive(Clone, Debug, PartialEq)]
pub struct Environment {
    /// Water depth (m).
    pub water_depth: f64,
    /// Water column.
    pub water: Medium<f64>,
    /// Sediment layers from the top down (empty: a Pekeris waveguide).
    pub sediment: Vec<Layer<f64>>,
    /// Bottom (basement) half-space.
    pub bottom: Medium<f64>,
    /// Source depth (m).
    pub source_depth: f64,
    /// Source range (m).
    pub source_range: f64,
}

impl Environment {
    /// Build from named parameters (see [`crate::scenario::PARAMETERS`]).
    pub fn from_parameters(model: WaveguideModel, get: &dyn Fn(&str) -> f64) -> Self {
        let medium = |prefix: &str| {
            Medium::new(
                get(&format!("{prefix}_sound_speed_mps")),
                get(&format!("{prefix}_density_gcc")),
                get(&format!("{prefix}_attenuation_db_per_wavelength")),
            )
        };
        Self {
            water_depth: get("water_depth_m"),
            water: medium("water"),
            sediment: match model {
                WaveguideModel::Layered => {
                    vec![Layer::new(get("sediment_thickness_m"), medium("sediment"))]
                }
                WaveguideModel::Pekeris => Vec::new(),
            },
            bottom: medium("bottom"),
            source_depth: get("source_depth_m"),
            source_range: get("source_range_m"),
        }
    }

    /// Trapped modes at `freq_hz`.
    pub fn modes(&self, freq_hz: f64, out: &mut HostModes) -> Result<(), AcousticsError> {
        if self.sediment.is_empty() {
            Pekeris::new(self.water_depth, self.water, self.bottom).modes(freq_hz, out)
        } else {
            Layered::new(self.water_depth, self.water, &self.sediment, self.bottom)
                .modes(freq_hz, out)
        }
    }

    /// Complex pressure at every tone and receiver, tone-major (`[tone · R + receiver]`),
    /// in KRAKEN FIELD's convention.
    pub fn pressure(
        &self,
        tones_hz: &[f64],
        receiver_depths: &[f64],
    ) -> Result<Vec<Complex64>, AcousticsError> {
        let mut out = vec![Complex64::new(0.0, 0.0); tones_hz.len() * receiver_depths.len()];
        let mut modes = Box::new(HostModes::new());
        for (f, row) in tones_hz
            .iter()
            .zip(out.chunks_mut(receiver_depths.len().max(1)))
        {
            self.modes(*f, &mut modes)?;
            modes.pressure_at(self.source_depth, self.source_range, receiver_depths, row)?;
        }
        Ok(out)
    }
}

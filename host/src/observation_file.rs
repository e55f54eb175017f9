//! Observation files (docs/architecture.md, "Scenarios, noise and features"):
//! `{"pressure": [[[re, im] per receiver] per tone]}` or `{"y": [features]}`, optionally
//! with the `scenario_hash` of the scenario they belong to. The host turns pressures into
//! features with `vina-core`, exactly as the firmware does.

use std::fs;
use std::path::Path;

use anyhow::Context;
use num_complex::Complex64;
use serde::{Deserialize, Serialize};
use vina_core::features::FeatureKind;

use crate::error::refuse;

/// One observation as stored on disk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObservationFile {
    /// Hash of the scenario (hex `0x…` or a number), checked against the model's.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hash_text")]
    pub scenario_hash: Option<u64>,
    /// Complex pressure `[tone][receiver] = [re, im]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressure: Option<Vec<Vec<[f64; 2]>>>,
    /// Features already computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<Vec<f64>>,
    /// Parameter values that produced it (synthetic observations), for reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth: Option<Vec<f64>>,
}

/// Scenario hashes as `0x…` text (a u64 does not survive every JSON reader).
mod hash_text {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(h) => s.serialize_str(&format!("{h:#018x}")),
            None => s.serialize_none(),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Number(u64),
        Text(String),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Option::<Text>::deserialize(d)? {
            None => Ok(None),
            Some(Text::Number(n)) => Ok(Some(n)),
            Some(Text::Text(t)) => {
                let hex = t.trim_start_matches("0x");
                u64::from_str_radix(hex, 16).map(Some).map_err(|_| {
                    serde::de::Error::custom(format!("scenario_hash {t:?} is not a hex u64"))
                })
            }
        }
    }
}

/// What the model needs to turn an observation into features.
#[derive(Clone, Copy, Debug)]
pub struct FeatureLayout {
    /// Feature kind.
    pub kind: FeatureKind,
    /// Tones.
    pub tones: usize,
    /// Receivers.
    pub receivers: usize,
    /// Scenario hash the model was trained for.
    pub scenario_hash: u64,
}

impl FeatureLayout {
    /// The layout a model was trained on, from its file header.
    pub fn of(h: &vina_core::model_file::Header<'_>) -> Self {
        Self {
            kind: h.features.kind,
            tones: h.features.tones(),
            receivers: usize::from(h.features.receivers),
            scenario_hash: h.scenario_hash,
        }
    }
}

impl ObservationFile {
    /// Read and parse `path`.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = crate::error::read_text_limited(
            path,
            "observation",
            crate::error::MAX_TEXT_INPUT,
            crate::error::MAX_TEXT_INPUT_TEXT,
        )?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parse the JSON text of an observation; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Self> {
        serde_json::from_str(text).map_err(|e| refuse(format!("observation {origin}: {e}")))
    }

    /// Write as pretty JSON.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
    }

    /// From a tone-major pressure vector.
    pub fn from_pressure(pressure: &[Complex64], receivers: usize) -> Self {
        Self {
            pressure: Some(
                pressure
                    .chunks(receivers.max(1))
                    .map(|t| t.iter().map(|p| [p.re, p.im]).collect())
                    .collect(),
            ),
            ..Self::default()
        }
    }

    /// The feature vector for a model with `layout`; `origin` names the file in errors.
    pub fn features(&self, layout: &FeatureLayout, origin: &str) -> anyhow::Result<Vec<f32>> {
        if let Some(h) = self.scenario_hash
            && h != layout.scenario_hash
        {
            return Err(refuse(format!(
                "{origin}: scenario_hash {h:#018x} does not match the model's {:#018x} \
                 (the model was trained for another scenario)",
                layout.scenario_hash
            )));
        }
        let want = layout.kind.len(layout.tones, layout.receivers);
        match (&self.pressure, &self.y) {
            (Some(_), Some(_)) => Err(refuse(format!(
                "{origin}: give either \"pressure\" or \"y\", not both"
            ))),
            (None, None) => Err(refuse(format!(
                "{origin}: needs \"pressure\" ([tone][receiver] = [re, im]) or \"y\" (features)"
            ))),
            (None, Some(y)) => {
                if y.len() != want {
                    return Err(refuse(format!(
                        "{origin}: y has {} values; the model expects {want} ({:?}, {} tones × {} receivers)",
                        y.len(),
                        layout.kind,
                        layout.tones,
                        layout.receivers
                    )));
                }
                // the model reads f32: 1e308 is finite here and infinite there
                if let Some(i) = y.iter().position(|&v| !(v as f32).is_finite()) {
                    return Err(refuse(format!(
                        "{origin}: y[{i}] is {}; features must be finite (within ±{:e}, f32)",
                        y[i],
                        f32::MAX
                    )));
                }
                Ok(y.iter().map(|&v| v as f32).collect())
            }
            (Some(p), None) => {
                if p.len() != layout.tones {
                    return Err(refuse(format!(
                        "{origin}: pressure has {} tones; the model expects {}",
                        p.len(),
                        layout.tones
                    )));
                }
                let mut flat = Vec::with_capacity(layout.tones * layout.receivers);
                for (t, row) in p.iter().enumerate() {
                    if row.len() != layout.receivers {
                        return Err(refuse(format!(
                            "{origin}: pressure[{t}] has {} receivers; the model expects {}",
                            row.len(),
                            layout.receivers
                        )));
                    }
                    for (r, v) in row.iter().enumerate() {
                        if !(v[0].is_finite() && v[1].is_finite()) {
                            return Err(refuse(format!(
                                "{origin}: pressure[{t}][{r}] = [{}, {}] is not finite",
                                v[0], v[1]
                            )));
                        }
                        flat.push([v[0] as f32, v[1] as f32]);
                    }
                }
                let mut y = vec![0.0f32; want];
                layout
                    .kind
                    .compute(&flat, layout.tones, layout.receivers, &mut y)
                    .map_err(|e| refuse(format!("{origin}: {e}")))?;
                Ok(y)
            }
        }
    }
}

/// A synthetic observation of `scenario` at `truth` (unknowns in scenario order): the
/// forward model's pressure plus the design's noise at `snr_db`, drawn from
/// `Rng::new(seed)`, tagged with the scenario hash and the truth (`vina observe`).
pub fn observe(
    scenario: &crate::scenario::Scenario,
    truth: &[f64],
    seed: u64,
    snr_db: f64,
) -> anyhow::Result<ObservationFile> {
    let env = scenario.environment(truth)?;
    let mut p = env
        .pressure(&scenario.tones_hz, &scenario.receiver_depths_m)
        .map_err(|e| refuse(format!("forward model at the truth: {e}")))?;
    let r = scenario.receiver_depths_m.len();
    let mut rng = vina_core::rng::Rng::new(seed);
    crate::observation::add_noise(&mut p, r, snr_db, &mut rng);
    Ok(ObservationFile {
        scenario_hash: Some(scenario.hash()),
        truth: Some(truth.to_vec()),
        ..ObservationFile::from_pressure(&p, r)
    })
}

/// `vina observe`.
pub fn run_observe(
    scenario: &Path,
    truth: &str,
    out: &Path,
    seed: u64,
    snr_db: Option<f64>,
) -> anyhow::Result<()> {
    let scn = crate::scenario::Scenario::load(scenario)?;
    let x = scn.parse_truth(truth)?;
    let obs = observe(&scn, &x, seed, snr_db.unwrap_or(scn.snr_db))?;
    obs.write(out)?;
    eprintln!("{}: observation of {} at {truth}", out.display(), scn.name);
    Ok(())
}

//! `vina invert`: posterior samples for one observation on the host: `vina-core`'s layers
//! as matrix products over blocks of latents (`--engine batched`, the default:
//! `vina_host::batch`), the firmware's own per-sample loop (`--engine core`: bit for bit
//! the buoy's draws and streaming summary), or the exported ONNX graph (`--engine tract`).
//! Same model, observation, seed or `--latent` values: same samples, up to float rounding.
//!
//! Nothing is silent (docs/architecture.md, "Answers a user can trust"): the observation's
//! features are checked against what the model was trained on ([`FeatureCheck`]), every
//! draw against the prior the model file carries ([`Support`]; draws outside are kept,
//! counted and warned about), a summary with a NaN is an error, and the ONNX graph of
//! `--engine tract` must declare the model's interface and, when it records one, the
//! model file's CRC-32.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use anyhow::Context;
use prost::Message;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tract_onnx::pb::{ModelProto, ValueInfoProto, tensor_shape_proto::dimension, type_proto};
use tract_onnx::prelude::*;
use vina_core::features::FeatureKind;
use vina_core::model::Model;
use vina_core::parameters::{self, OUTSIDE_SUPPORT_WARN_FRACTION, SupportSource};
use vina_core::refine::RefineConfig;
use vina_core::rng::Rng;
use vina_core::sampling::Conditioned;
use vina_core::summary::Summary;

use crate::error::refuse;
use crate::export::{onnx as onnx_file, read_model_file};
use crate::observation_file::{FeatureLayout, ObservationFile};
use crate::refine::{RefineSettings, RefinedPosterior, refine_observation};

/// Which implementation draws the samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// `vina-core`'s layers over blocks of latents as matrix products, in parallel
    /// (`vina_host::batch`): the fast path; equal to `core` within 1e-6 relative.
    Batched,
    /// `vina-core`'s per-sample loop, the code the firmware runs: bit for bit the buoy's.
    Core,
    /// The ONNX sampling graph, run by tract.
    Tract,
}

/// Options of `vina invert`.
#[derive(Clone, Debug)]
pub struct InvertOptions {
    /// `.vina` model file.
    pub model: PathBuf,
    /// Observation JSON.
    pub observation: PathBuf,
    /// Posterior samples.
    pub samples: u32,
    /// Seed of the latent stream.
    pub seed: u64,
    /// Explicit latents (JSON array of arrays), replacing the seeded stream.
    pub latent: Option<PathBuf>,
    /// Engine.
    pub engine: Engine,
    /// ONNX file for `tract` (default: the model path with `.onnx`).
    pub onnx: Option<PathBuf>,
    /// Exact-likelihood refinement of the samples (`--refine`).
    pub refine: Option<RefineRequest>,
}

/// `vina invert --refine`: the scenario whose forward model and priors give the exact
/// posterior, and the refinement's size.
#[derive(Clone, Debug)]
pub struct RefineRequest {
    /// Scenario TOML (must be the one the model was trained for); `None`: the
    /// environment template the model file carries (`vina export --scenario`).
    pub scenario: Option<PathBuf>,
    /// Particles (default: the posterior draws asked for).
    pub particles: Option<usize>,
    /// Sweeps, widening and thresholds.
    pub config: RefineConfig,
}

/// Samples and what produced them.
#[derive(Clone, Debug)]
pub struct Posterior {
    /// Parameter names.
    pub parameters: Vec<String>,
    /// One row per sample.
    pub samples: Vec<Vec<f32>>,
    /// The observation's features.
    pub y: Vec<f32>,
    /// What the refinement did, when the samples are refined ones.
    pub refine: Option<RefinedPosterior>,
    /// Each parameter's prior support, the draws are checked against.
    pub support: Vec<Support>,
    /// The observation's features against what the model was trained on.
    pub features: FeatureCheck,
    /// Everything a user should not miss (also on stderr): features outside the training
    /// range, draws outside the prior, an ONNX graph not linked to the model,
    /// refinement warnings.
    pub warnings: Vec<String>,
}

impl Posterior {
    /// Streaming summaries (`vina-core`'s, exactly what the buoy reports).
    pub fn summaries(&self) -> Vec<Summary> {
        let mut s = vec![Summary::new(); self.parameters.len()];
        for row in &self.samples {
            for (s, v) in s.iter_mut().zip(row) {
                s.push(*v);
            }
        }
        s
    }

    /// Draws outside each parameter's prior support (non-finite draws included).
    pub fn outside_prior(&self) -> Vec<usize> {
        self.support
            .iter()
            .enumerate()
            .map(|(j, s)| {
                self.samples
                    .iter()
                    .filter(|r| !r.get(j).is_some_and(|&v| s.contains(v)))
                    .count()
            })
            .collect()
    }

    /// One warning per parameter with more than [`OUTSIDE_SUPPORT_WARN_FRACTION`] of its
    /// draws outside the prior's support.
    pub fn outside_prior_warnings(&self) -> Vec<String> {
        let n = self.samples.len();
        self.support
            .iter()
            .zip(self.outside_prior())
            .filter(|&(_, k)| n > 0 && k as f64 > OUTSIDE_SUPPORT_WARN_FRACTION * n as f64)
            .map(|(s, k)| {
                format!(
                    "{}: {k} of {n} posterior draws ({:.1} %) lie outside the prior's support {} ({}): \
                     values the prior rules out (kept, not clipped); the network spills past a bound \
                     or is extrapolating (--refine confines the draws to the prior)",
                    s.parameter,
                    100.0 * k as f64 / n as f64,
                    s.interval(),
                    s.describe(),
                )
            })
            .collect()
    }

    /// An error naming the parameter when a draw is not finite or a summary value is NaN
    /// (never a silent exit 0 with NaN in the answer).
    pub fn check_finite(&self) -> anyhow::Result<()> {
        let n = self.samples.len();
        for (name, s) in self.parameters.iter().zip(self.summaries()) {
            let v = s.values();
            if v.non_finite > 0 {
                anyhow::bail!(
                    "parameter {name}: {} of {n} posterior draws are not finite (NaN or ±∞); \
                     the network failed on this observation",
                    v.non_finite
                );
            }
            for (field, x) in [
                ("mean", v.mean),
                ("std", v.std),
                ("q05", v.q05),
                ("q50", v.q50),
                ("q95", v.q95),
            ] {
                if !x.is_finite() {
                    anyhow::bail!(
                        "parameter {name}: the posterior summary's {field} is {x} ({} finite draws of {n})",
                        v.count
                    );
                }
            }
        }
        Ok(())
    }

    /// The JSON of `vina invert --json`.
    pub fn to_json(&self, engine: Engine, seed: u64) -> Value {
        let mut summary = Map::new();
        for (name, s) in self.parameters.iter().zip(self.summaries()) {
            let v = s.values();
            summary.insert(
                name.clone(),
                json!({"mean": v.mean, "std": v.std, "q05": v.q05, "q50": v.q50, "q95": v.q95}),
            );
        }
        let outside = self.outside_prior();
        let n = self.samples.len().max(1) as f64;
        let mut out = json!({
            "parameters": self.parameters,
            "engine": engine,
            "seed": seed,
            "y": self.y,
            "summary": summary,
            "outside_prior": outside,
            "outside_prior_fraction": outside.iter().map(|&k| k as f64 / n).collect::<Vec<_>>(),
            "prior_support": self.support,
            "feature_check": self.features,
            "warnings": self.warnings,
            "samples": self.samples,
        });
        if let (Some(r), Some(o)) = (&self.refine, out.as_object_mut()) {
            o.insert("refine".into(), r.to_json());
        }
        out
    }
}

/// Largest |standardized feature| (the model header's training mean and sd) of an
/// observation the model was trained on; beyond it, `vina invert` warns.
pub const MAX_STANDARDIZED_FEATURE: f64 = 6.0;
/// Largest |‖y_tone‖ − 1| of a relative-transfer-function tone (unit norm by
/// construction; f32 rounding stays below 1e-6).
pub const RTF_NORM_TOLERANCE: f64 = 1e-3;
/// Largest |power of a tone| of raw-pressure features, in dB against the training
/// features' mean power of that tone (Σ mean² + sd²), before `vina invert` warns.
pub const TONE_POWER_LIMIT_DB: f64 = 20.0;
/// Fewest draws a summary (sd, quantiles) is defined for.
pub const MIN_DRAWS: usize = 2;

/// The support of one parameter's prior with its name: `vina_core::parameters::Support`,
/// the rule the buoy counts with; ±∞ (`null` in JSON) when unbounded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Support {
    /// Parameter name.
    pub parameter: String,
    /// The bounds and where they come from.
    #[serde(flatten)]
    pub support: parameters::Support,
}

impl Support {
    /// The supports of `model`'s parameters ([`Model::support`]).
    pub fn of(model: &Model<'_>) -> Vec<Self> {
        model
            .header()
            .param_names
            .split(',')
            .enumerate()
            .map(|(j, name)| Self {
                parameter: name.to_owned(),
                support: model.support(j),
            })
            .collect()
    }

    /// Whether `x` is a finite value inside the support.
    pub fn contains(&self, x: f32) -> bool {
        self.support.contains(x)
    }

    fn describe(&self) -> &'static str {
        match self.support.source {
            SupportSource::Template => "the prior of the model file's environment template",
            SupportSource::ParameterTable => {
                "the parameter's physical bound; the model file carries no environment template"
            }
            SupportSource::Unknown => {
                "any finite value; the parameter table does not know the name"
            }
        }
    }

    fn interval(&self) -> String {
        let s = &self.support;
        let open = if s.min_inclusive { '[' } else { '(' };
        format!("{open}{}, {}]", s.min, s.max)
    }
}

/// The observation's features against what the model was trained on: the measures, and a
/// warning for each one past its limit.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FeatureCheck {
    /// Largest |(y − mean)/sd| over the features, with the model header's training
    /// normalization; `None` when the file's normalization is folded into the weights
    /// (mean 0, sd 1: it no longer describes the training features).
    pub max_abs_standardized: Option<f64>,
    /// The feature it was found at.
    pub max_abs_standardized_feature: Option<usize>,
    /// Relative-transfer-function features: largest |‖y_tone‖ − 1| over tones.
    pub rtf_norm_deviation: Option<f64>,
    /// The tone it was found at.
    pub rtf_norm_tone: Option<usize>,
    /// Raw-pressure features: each tone's power in dB against the training features' mean
    /// power of that tone (`None` when the normalization is folded; −∞, `null` in JSON,
    /// for a tone with zero pressure).
    pub tone_power_db: Option<Vec<f64>>,
    /// What is wrong, one line each, naming the observation.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl FeatureCheck {
    /// Check features `y` against `model`'s header; `origin` names the observation.
    pub fn of(model: &Model<'_>, y: &[f32], origin: &str) -> Self {
        let h = model.header();
        let mut c = Self::default();
        let (mean, std): (Vec<f64>, Vec<f64>) = (
            h.y_norm.mean.iter().map(f64::from).collect(),
            h.y_norm.std.iter().map(f64::from).collect(),
        );
        let folded = mean.iter().all(|&m| m == 0.0) && std.iter().all(|&s| s == 1.0);
        let tones_hz: Vec<f32> = h.features.tones_hz.iter().collect();
        // "tone 3 (94 Hz)", or "tones 0 (49 Hz), 1 (64 Hz)".
        let tone_list = |ts: &[usize]| {
            let names: Vec<String> = ts
                .iter()
                .map(|&t| match tones_hz.get(t) {
                    Some(f) => format!("{t} ({f} Hz)"),
                    None => t.to_string(),
                })
                .collect();
            let s = if ts.len() == 1 { "" } else { "s" };
            format!("tone{s} {}", names.join(", "))
        };
        if !folded && mean.len() == y.len() {
            let (j, z) = y
                .iter()
                .zip(mean.iter().zip(&std))
                .map(|(&v, (m, s))| ((f64::from(v) - m) / s).abs())
                .enumerate()
                .fold(
                    (0, 0.0f64),
                    |best, (j, z)| if z > best.1 { (j, z) } else { best },
                );
            c.max_abs_standardized = Some(z);
            c.max_abs_standardized_feature = Some(j);
            if z > MAX_STANDARDIZED_FEATURE {
                c.warnings.push(format!(
                    "{origin}: feature {j} lies {z:.1} sd from the training features' mean \
                     (largest |standardized feature|, limit {MAX_STANDARDIZED_FEATURE}): outside \
                     what the model was trained on"
                ));
            }
        }
        let tones = h.features.tones();
        let receivers = usize::from(h.features.receivers);
        let energy = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
        match h.features.kind {
            FeatureKind::RelativeTransferFunction if tones > 0 => {
                let per_tone = (2 * receivers).saturating_sub(1).max(1);
                let dev: Vec<f64> = y
                    .chunks(per_tone)
                    .map(|v| (energy(v).sqrt() - 1.0).abs())
                    .collect();
                let (t, d) = dev
                    .iter()
                    .copied()
                    .enumerate()
                    .fold(
                        (0, 0.0f64),
                        |best, (t, d)| if d > best.1 { (t, d) } else { best },
                    );
                c.rtf_norm_deviation = Some(d);
                c.rtf_norm_tone = Some(t);
                let bad: Vec<usize> = (0..dev.len())
                    .filter(|&t| dev[t] > RTF_NORM_TOLERANCE)
                    .collect();
                if !bad.is_empty() {
                    let norm = energy(y.chunks(per_tone).nth(t).unwrap_or_default()).sqrt();
                    c.warnings.push(format!(
                        "{origin}: {} of {tones} tones are not unit-norm (per-tone |‖y‖ − 1| > \
                         {RTF_NORM_TOLERANCE:e}; worst {}: norm {norm:.6}): these are not \
                         relative-transfer-function features, which no real observation can produce",
                        bad.len(),
                        tone_list(&[t]),
                    ));
                }
            }
            FeatureKind::RawPressure if tones > 0 => {
                let per_tone = 2 * receivers.max(1);
                let power: Vec<f64> = y.chunks(per_tone).map(energy).collect();
                let silent: Vec<usize> = (0..power.len()).filter(|&t| power[t] == 0.0).collect();
                if !silent.is_empty() {
                    c.warnings.push(format!(
                        "{origin}: {} {} zero pressure at every receiver: no signal, nothing the \
                         model was trained on",
                        tone_list(&silent),
                        if silent.len() == 1 { "has" } else { "have" },
                    ));
                }
                if !folded && mean.len() == y.len() {
                    let db: Vec<f64> = power
                        .iter()
                        .zip(mean.chunks(per_tone).zip(std.chunks(per_tone)))
                        .map(|(p, (m, s))| {
                            let reference: f64 = m.iter().zip(s).map(|(m, s)| m * m + s * s).sum();
                            10.0 * (p / reference).log10()
                        })
                        .collect();
                    let loud: Vec<usize> = (0..db.len())
                        .filter(|&t| db[t].is_finite() && db[t].abs() > TONE_POWER_LIMIT_DB)
                        .collect();
                    if !loud.is_empty() {
                        let shown: Vec<String> =
                            loud.iter().map(|&t| format!("{:+.1} dB", db[t])).collect();
                        c.warnings.push(format!(
                            "{origin}: {} {} power {} against the training features' mean \
                             (limit ±{TONE_POWER_LIMIT_DB} dB): outside what the model was trained on",
                            tone_list(&loud),
                            if loud.len() == 1 { "has" } else { "have" },
                            shown.join(", "),
                        ));
                    }
                    c.tone_power_db = Some(db);
                }
            }
            _ => {}
        }
        c
    }
}

/// Latents: explicit rows from a JSON file, or `n` rows of the seeded stream.
pub fn latents(
    file: Option<&Path>,
    n: u32,
    seed: u64,
    dim: usize,
) -> anyhow::Result<Vec<Vec<f32>>> {
    if let Some(path) = file {
        let text = crate::error::read_text_limited(
            path,
            "latents",
            crate::error::MAX_TEXT_INPUT,
            crate::error::MAX_TEXT_INPUT_TEXT,
        )?;
        let rows: Vec<Vec<f64>> = serde_json::from_str(&text).map_err(|e| {
            refuse(format!(
                "latents {}: expected a JSON array of arrays of numbers: {e}",
                path.display()
            ))
        })?;
        for (i, r) in rows.iter().enumerate() {
            if r.len() != dim {
                return Err(refuse(format!(
                    "latents {}: row {i} has {} values; the model's latent has {dim}",
                    path.display(),
                    r.len()
                )));
            }
            if let Some(j) = r.iter().position(|v| !v.is_finite()) {
                return Err(refuse(format!(
                    "latents {}: row {i}, value {j} is not finite",
                    path.display()
                )));
            }
        }
        return Ok(rows
            .into_iter()
            .map(|r| r.into_iter().map(|v| v as f32).collect())
            .collect());
    }
    let mut rng = Rng::new(seed);
    Ok((0..n)
        .map(|_| {
            let mut z = vec![0.0f32; dim];
            rng.fill_normal(&mut z);
            z
        })
        .collect())
}

/// Draw the posterior of `o`, check it (features, prior support, finiteness) and collect
/// the warnings.
pub fn invert(o: &InvertOptions) -> anyhow::Result<Posterior> {
    let (file, bytes) = read_model_file(&o.model)?;
    let model = Model::from_bytes(&bytes)?;
    let h = model.header();
    let layout = FeatureLayout::of(h);
    let origin = format!("observation {}", o.observation.display());
    let y = ObservationFile::read(&o.observation)?.features(&layout, &origin)?;
    if o.latent.is_none() && (o.samples as usize) < MIN_DRAWS {
        return Err(refuse(format!(
            "--draws {}: a posterior summary (sd, quantiles) needs at least {MIN_DRAWS} draws",
            o.samples
        )));
    }
    if let Some(p) = o.refine.as_ref().and_then(|r| r.particles)
        && p < MIN_DRAWS
    {
        return Err(refuse(format!(
            "--refine-particles {p}: a posterior summary (sd, quantiles) needs at least {MIN_DRAWS} draws"
        )));
    }
    let z = latents(o.latent.as_deref(), o.samples, o.seed, model.latent_dim())?;
    if let Some(path) = &o.latent
        && z.len() < MIN_DRAWS
    {
        return Err(refuse(format!(
            "latents {}: {} rows; a posterior summary (sd, quantiles) needs at least {MIN_DRAWS} draws",
            path.display(),
            z.len()
        )));
    }
    let features = FeatureCheck::of(&model, &y, &origin);
    let mut warnings = features.warnings.clone();
    let samples = match o.engine {
        Engine::Core => sample_core(&model, &y, &z)
            .map_err(|e| refuse(format!("model {}: {e}", file.display())))?,
        Engine::Batched => sample_batched(&model, &y, &z)
            .map_err(|e| refuse(format!("model {}: {e}", file.display())))?,
        Engine::Tract => {
            let onnx = o
                .onnx
                .clone()
                .unwrap_or_else(|| file.with_extension("onnx"));
            let proto = read_onnx(&onnx)?;
            warnings.extend(check_onnx_link(&proto, &onnx, &file, &bytes)?);
            sample_tract_proto(&proto, &onnx, &y, &z, model.x_dim())?
        }
    };
    let refine = match &o.refine {
        None => None,
        Some(r) => Some(refine_samples(&model, &y, o, r)?),
    };
    warnings.extend(refine.iter().flat_map(RefinedPosterior::warnings));
    let samples = match &refine {
        None => samples,
        Some(r) => r
            .samples
            .iter()
            .map(|x| x.iter().map(|&v| v as f32).collect())
            .collect(),
    };
    let mut post = Posterior {
        parameters: h.param_names.split(',').map(str::to_owned).collect(),
        samples,
        y,
        refine,
        support: Support::of(&model),
        features,
        warnings,
    };
    post.check_finite()
        .with_context(|| format!("model {}, {origin}", file.display()))?;
    let outside = post.outside_prior_warnings();
    post.warnings.extend(outside);
    Ok(post)
}

/// `--refine`: the observation's exact posterior under the model's scenario, refined from
/// the network with the report seed.
fn refine_samples(
    model: &Model<'_>,
    y: &[f32],
    o: &InvertOptions,
    r: &RefineRequest,
) -> anyhow::Result<RefinedPosterior> {
    let settings = RefineSettings {
        particles: r.particles.unwrap_or(o.samples as usize),
        config: r.config,
        seed: o.seed,
    };
    let observation = || {
        let obs = ObservationFile::read(&o.observation)?;
        let origin = format!("observation {}", o.observation.display());
        Ok((obs, origin))
    };
    refine_observation(
        model,
        &o.model,
        y,
        r.scenario.as_deref(),
        observation,
        None,
        &settings,
    )
}

/// `vina-core`: the condition network once, then one inverse pass per latent.
pub fn sample_core(
    model: &Model<'_>,
    y: &[f32],
    z: &[Vec<f32>],
) -> Result<Vec<Vec<f32>>, vina_core::error::ModelError> {
    let mut c = Conditioned::new(model, y)?;
    z.iter().map(|z| c.sample(z)).collect()
}

/// [`sample_core`] through `vina_host::batch`: the condition network once, then the
/// latents block by block as matrix products.
pub fn sample_batched(
    model: &Model<'_>,
    y: &[f32],
    z: &[Vec<f32>],
) -> Result<Vec<Vec<f32>>, vina_core::error::ModelError> {
    let c = Conditioned::new(model, y)?;
    let flat: Vec<f32> = z.iter().flatten().copied().collect();
    let xd = model.x_dim();
    let mut x = vec![0.0f32; z.len() * xd];
    crate::batch::Batched::new(model).sample(c.context(), &flat, &mut x)?;
    Ok(x.chunks_exact(xd).map(<[f32]>::to_vec).collect())
}

/// Read and decode an ONNX file, refusing it (naming it) when it cannot be.
pub fn read_onnx(onnx: &Path) -> anyhow::Result<ModelProto> {
    let bytes = crate::error::read_input_limited(
        onnx,
        "ONNX file",
        4 * crate::export::MAX_MODEL_FILE_BYTES,
        "256 MiB",
    )?;
    ModelProto::decode(bytes.as_slice()).map_err(|e| {
        refuse(format!(
            "ONNX {}: not an ONNX model (protobuf: {e})",
            onnx.display()
        ))
    })
}

/// The link between an ONNX graph and the `.vina` file it is run for: a refusal naming
/// both files when the graph records another model's CRC-32; a warning when it records
/// none (exported before the link existed) or when it carries the f32 weights of an int8
/// model.
pub fn check_onnx_link(
    proto: &ModelProto,
    onnx: &Path,
    model: &Path,
    vina: &[u8],
) -> anyhow::Result<Vec<String>> {
    let Some(recorded) = onnx_file::metadata(proto, onnx_file::MODEL_CRC32_KEY) else {
        return Ok(vec![format!(
            "ONNX {} records no model CRC-32 ({}): it was exported before graphs were linked \
             to their .vina file, so nothing shows it belongs to model {}; re-export it with \
             `vina export --onnx`",
            onnx.display(),
            onnx_file::MODEL_CRC32_KEY,
            model.display()
        )]);
    };
    let actual = onnx_file::model_crc32(vina)
        .ok_or_else(|| refuse(format!("model {}: not a .vina file", model.display())))?;
    let parsed = u32::from_str_radix(recorded.trim_start_matches("0x"), 16).ok();
    if parsed != Some(actual) {
        return Err(refuse(format!(
            "ONNX {} was exported with the model whose CRC-32 is {recorded} ({}), not with model {} \
             (CRC-32 {actual:#010x}): pass the ONNX file exported with this model (--onnx)",
            onnx.display(),
            onnx_file::MODEL_CRC32_KEY,
            model.display()
        )));
    }
    let mut warnings = Vec::new();
    let graph = onnx_file::metadata(proto, onnx_file::GRAPH_PRECISION_KEY).unwrap_or("f32");
    let precision = onnx_file::model_precision(vina).unwrap_or("f32");
    if graph != precision {
        warnings.push(format!(
            "ONNX {} carries the {graph} weights model {} ({precision}) was quantized from: \
             its draws differ from --engine core's by the quantization error",
            onnx.display(),
            model.display()
        ));
    }
    Ok(warnings)
}

/// Check that `proto` is the sampling graph `vina invert` can run: inputs `y` `[N, y_dim]`
/// and `z` `[N, latent_dim]`, output `x` `[N, x_dim]`, float, and every name a node
/// reads or the graph outputs defined (tract panics on an undefined one).
pub fn check_onnx_interface(
    proto: &ModelProto,
    onnx: &Path,
    y_dim: usize,
    latent_dim: usize,
    x_dim: usize,
) -> anyhow::Result<()> {
    let bad = |what: String| refuse(format!("ONNX {}: {what}", onnx.display()));
    let graph = proto
        .graph
        .as_ref()
        .ok_or_else(|| bad("holds no graph".into()))?;
    let inits: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<&ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !inits.contains(i.name.as_str()))
        .collect();
    let names = |v: &[&ValueInfoProto]| v.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
    if names(&inputs) != ["y", "z"] {
        return Err(bad(format!(
            "graph inputs {:?}; vina's sampling graph has inputs [\"y\", \"z\"]",
            names(&inputs)
        )));
    }
    let outputs: Vec<&ValueInfoProto> = graph.output.iter().collect();
    if names(&outputs) != ["x"] {
        return Err(bad(format!(
            "graph outputs {:?}; vina's sampling graph has one output, \"x\"",
            names(&outputs)
        )));
    }
    for (info, width) in [
        (inputs[0], y_dim),
        (inputs[1], latent_dim),
        (outputs[0], x_dim),
    ] {
        let Some(type_proto::Value::TensorType(t)) =
            info.r#type.as_ref().and_then(|t| t.value.as_ref())
        else {
            return Err(bad(format!("{:?} is not declared as a tensor", info.name)));
        };
        if t.elem_type != tract_onnx::pb::tensor_proto::DataType::Float as i32 {
            return Err(bad(format!(
                "{:?} has element type {}, not float",
                info.name, t.elem_type
            )));
        }
        let dims: Vec<Option<i64>> = t
            .shape
            .as_ref()
            .map(|s| {
                s.dim
                    .iter()
                    .map(|d| match d.value {
                        Some(dimension::Value::DimValue(v)) => Some(v),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        if dims.len() != 2 || dims[1] != Some(width as i64) {
            let shown: Vec<String> = dims
                .iter()
                .map(|d| d.map_or("N".to_owned(), |v| v.to_string()))
                .collect();
            return Err(bad(format!(
                "{:?} has shape [{}]; the model needs [N, {width}]",
                info.name,
                shown.join(", ")
            )));
        }
    }
    let mut defined: std::collections::HashSet<&str> = inits;
    defined.extend(graph.input.iter().map(|i| i.name.as_str()));
    defined.extend(
        graph
            .node
            .iter()
            .flat_map(|n| n.output.iter().map(String::as_str)),
    );
    for n in &graph.node {
        if let Some(i) = n
            .input
            .iter()
            .find(|i| !i.is_empty() && !defined.contains(i.as_str()))
        {
            return Err(bad(format!(
                "node {:?} ({}) reads {i:?}, which nothing defines",
                n.name, n.op_type
            )));
        }
    }
    if let Some(o) = graph
        .output
        .iter()
        .find(|o| !defined.contains(o.name.as_str()))
    {
        return Err(bad(format!(
            "graph output {:?} is computed by no node",
            o.name
        )));
    }
    Ok(())
}

/// Run a tract call, turning its error — or, as a last resort, its panic — into a
/// refusal naming the ONNX file.
pub fn guard_tract<T>(onnx: &Path, f: impl FnOnce() -> TractResult<T>) -> anyhow::Result<T> {
    // The default hook would print the panic as if vina itself had crashed.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    match result {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(refuse(format!("ONNX {}: {e:#}", onnx.display()))),
        Err(panic) => {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(refuse(format!(
                "ONNX {}: tract failed on the graph ({why})",
                onnx.display()
            )))
        }
    }
}

/// tract: the ONNX graph at `onnx` on a batch of `[y; N]` and `z`.
pub fn sample_tract(
    onnx: &Path,
    y: &[f32],
    z: &[Vec<f32>],
    x_dim: usize,
) -> anyhow::Result<Vec<Vec<f32>>> {
    sample_tract_proto(&read_onnx(onnx)?, onnx, y, z, x_dim)
}

/// tract: the decoded graph `proto` (read from `onnx`) on a batch of `[y; N]` and `z`,
/// after [`check_onnx_interface`].
pub fn sample_tract_proto(
    proto: &ModelProto,
    onnx: &Path,
    y: &[f32],
    z: &[Vec<f32>],
    x_dim: usize,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let n = z.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    check_onnx_interface(proto, onnx, y.len(), z[0].len(), x_dim)?;
    let plan = guard_tract(onnx, || {
        tract_onnx::onnx()
            .model_for_proto_model(proto)
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
    })?;
    let ys: Vec<f32> = (0..n).flat_map(|_| y.iter().copied()).collect();
    let zs: Vec<f32> = z.iter().flatten().copied().collect();
    let yt = Tensor::from_shape(&[n, y.len()], &ys)?;
    let zt = Tensor::from_shape(&[n, z[0].len()], &zs)?;
    let out = guard_tract(onnx, || plan.run(tvec!(yt.into_tvalue(), zt.into_tvalue())))?;
    let x = out
        .first()
        .ok_or_else(|| {
            refuse(format!(
                "ONNX {}: the graph returned no output",
                onnx.display()
            ))
        })?
        .to_plain_array_view::<f32>()
        .map_err(|e| refuse(format!("ONNX {}: output x: {e:#}", onnx.display())))?;
    let x: Vec<f32> = x.iter().copied().collect();
    if x.len() != n * x_dim {
        return Err(refuse(format!(
            "ONNX {}: output has {} values, expected {n} × {x_dim}",
            onnx.display(),
            x.len()
        )));
    }
    Ok(x.chunks(x_dim).map(<[f32]>::to_vec).collect())
}

/// Run `vina invert`: JSON with `--json`, else a short table.
pub fn run(o: &InvertOptions, json_out: bool) -> anyhow::Result<()> {
    let post = invert(o)?;
    // On stderr, so a script reading --json still sees them (and in its "warnings").
    for w in &post.warnings {
        eprintln!("warning: {w}");
    }
    if json_out {
        crate::outln!("{}", post.to_json(o.engine, o.seed))?;
    } else {
        crate::outln!(
            "{} posterior samples ({:?} engine, seed {})",
            post.samples.len(),
            o.engine,
            o.seed
        )?;
        if let Some(r) = &post.refine {
            let o = &r.outcome;
            match (&o.tempered, &o.network) {
                (None, Some(v)) => crate::outln!(
                    "refined: ESS {:.0} of {} ({:.1} %), max weight {:.3}, acceptance {:.2}, {} sweeps",
                    v.ess,
                    v.particles,
                    100.0 * v.ess / v.particles as f64,
                    v.max_weight,
                    v.acceptance,
                    v.steps,
                )?,
                (Some(t), _) => crate::outln!(
                    "refined by tempered SMC {} (the network proposal missed): {} stages to beta {}, {} sweeps, acceptance {:.2}, {} log-posterior evaluations",
                    crate::refine::tempered_from(o.path),
                    t.stages,
                    t.beta,
                    t.sweeps,
                    t.acceptance,
                    t.evaluations,
                )?,
                (None, None) => {}
            }
            if let Some(f) = &r.fit {
                crate::outln!(
                    "fit: log-likelihood {:.1}, expected {:.1} ± {:.1}, posterior predictive p {:.3}",
                    f.log_likelihood,
                    f.expected,
                    f.expected_sd,
                    f.p_value
                )?;
            }
        }
        for (name, s) in post.parameters.iter().zip(post.summaries()) {
            let v = s.values();
            crate::outln!(
                "{name:>32}: mean {:.4} sd {:.4}  5% {:.4}  50% {:.4}  95% {:.4}",
                v.mean,
                v.std,
                v.q05,
                v.q50,
                v.q95
            )?;
        }
        let n = post.samples.len();
        let outside: Vec<String> = post
            .support
            .iter()
            .zip(post.outside_prior())
            .filter(|&(_, k)| k > 0)
            .map(|(s, k)| {
                format!(
                    "{} {k} of {n} ({:.1} %)",
                    s.parameter,
                    100.0 * k as f64 / n as f64
                )
            })
            .collect();
        if !outside.is_empty() {
            crate::outln!(
                "warning: draws outside the prior's support (kept): {}",
                outside.join(", ")
            )?;
        }
    }
    Ok(())
}

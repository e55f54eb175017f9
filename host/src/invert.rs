//! `vina invert`: posterior samples for one observation on the host, with the firmware's
//! own code (`--engine core`: `vina-core`'s model, latent stream and streaming summary)
//! or the exported ONNX graph (`--engine tract`). Same model, observation, seed or
//! `--latent` values: same samples, up to float rounding.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Serialize;
use serde_json::{Map, Value, json};
use tract_onnx::prelude::*;
use vina_core::model::Model;
use vina_core::refine::RefineConfig;
use vina_core::rng::Rng;
use vina_core::sampling::Conditioned;
use vina_core::summary::Summary;

use crate::error::refuse;
use crate::export::read_model_file;
use crate::observation_file::{FeatureLayout, ObservationFile};
use crate::reference::posterior_of;
use crate::refine::{RefineSettings, RefinedPosterior, refine_exact, refine_posterior};
use crate::scenario::Scenario;

/// Which implementation draws the samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// `vina-core`, the code the firmware runs.
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
        let mut out = json!({
            "parameters": self.parameters,
            "engine": engine,
            "seed": seed,
            "y": self.y,
            "summary": summary,
            "samples": self.samples,
        });
        if let (Some(r), Some(o)) = (&self.refine, out.as_object_mut()) {
            o.insert("refine".into(), r.to_json());
        }
        out
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
        let text = fs::read_to_string(path)
            .with_context(|| format!("cannot read latents {}", path.display()))?;
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

/// Draw the posterior of `o`.
pub fn invert(o: &InvertOptions) -> anyhow::Result<Posterior> {
    let (file, bytes) = read_model_file(&o.model)?;
    let model = Model::from_bytes(&bytes)?;
    let h = model.header();
    let layout = FeatureLayout::of(h);
    let origin = format!("observation {}", o.observation.display());
    let y = ObservationFile::read(&o.observation)?.features(&layout, &origin)?;
    let z = latents(o.latent.as_deref(), o.samples, o.seed, model.latent_dim())?;
    let samples = match o.engine {
        Engine::Core => sample_core(&model, &y, &z)
            .map_err(|e| refuse(format!("model {}: {e}", file.display())))?,
        Engine::Tract => {
            let onnx = o
                .onnx
                .clone()
                .unwrap_or_else(|| file.with_extension("onnx"));
            sample_tract(&onnx, &y, &z, model.x_dim())?
        }
    };
    let refine = match &o.refine {
        None => None,
        Some(r) => Some(refine_samples(&model, &y, o, r)?),
    };
    let samples = match &refine {
        None => samples,
        Some(r) => r
            .samples
            .iter()
            .map(|x| x.iter().map(|&v| v as f32).collect())
            .collect(),
    };
    Ok(Posterior {
        parameters: h.param_names.split(',').map(str::to_owned).collect(),
        samples,
        y,
        refine,
    })
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
    let Some(path) = &r.scenario else {
        let template = model.template().ok_or_else(|| {
            refuse(format!(
                "--refine: model {} carries no scenario (export it with --scenario) and no --scenario was given",
                o.model.display()
            ))
        })?;
        let observed: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
        return refine_exact(model, y, &template.cast(), &observed, &settings);
    };
    let scn = Scenario::load(path)?;
    if scn.hash() != model.header().scenario_hash {
        return Err(refuse(format!(
            "--scenario {}: hash {:#018x} is not the model's scenario {:#018x}",
            path.display(),
            scn.hash(),
            model.header().scenario_hash
        )));
    }
    let obs = ObservationFile::read(&o.observation)?;
    let origin = format!("observation {}", o.observation.display());
    let post = posterior_of(&scn, &obs, scn.snr_db, &origin)?;
    refine_posterior(model, y, &post, &settings)
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

/// tract: the ONNX graph on a batch of `[y; N]` and `z`.
pub fn sample_tract(
    onnx: &Path,
    y: &[f32],
    z: &[Vec<f32>],
    x_dim: usize,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let n = z.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let plan = tract_onnx::onnx()
        .model_for_path(onnx)
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .map_err(|e| refuse(format!("ONNX {}: {e:#}", onnx.display())))?;
    let ys: Vec<f32> = (0..n).flat_map(|_| y.iter().copied()).collect();
    let zs: Vec<f32> = z.iter().flatten().copied().collect();
    let yt = Tensor::from_shape(&[n, y.len()], &ys)?;
    let zt = Tensor::from_shape(&[n, z[0].len()], &zs)?;
    let out = plan
        .run(tvec!(yt.into_tvalue(), zt.into_tvalue()))
        .map_err(|e| refuse(format!("ONNX {}: {e:#}", onnx.display())))?;
    let x = out[0].to_plain_array_view::<f32>()?;
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
    // On stderr, so a script reading --json still sees them.
    for w in post.refine.iter().flat_map(RefinedPosterior::warnings) {
        eprintln!("warning: {w}");
    }
    if json_out {
        println!("{}", post.to_json(o.engine, o.seed));
    } else {
        println!(
            "{} posterior samples ({:?} engine, seed {})",
            post.samples.len(),
            o.engine,
            o.seed
        );
        if let Some(r) = &post.refine {
            let o = &r.outcome;
            match (&o.tempered, &o.network) {
                (None, Some(v)) => println!(
                    "refined: ESS {:.0} of {} ({:.1} %), max weight {:.3}, acceptance {:.2}, {} sweeps",
                    v.ess,
                    v.particles,
                    100.0 * v.ess / v.particles as f64,
                    v.max_weight,
                    v.acceptance,
                    v.steps,
                ),
                (Some(t), _) => println!(
                    "refined by tempered SMC from the prior (the network proposal missed): {} stages to beta {}, {} sweeps, acceptance {:.2}, {} log-posterior evaluations",
                    t.stages, t.beta, t.sweeps, t.acceptance, t.evaluations,
                ),
                (None, None) => {}
            }
            if let Some(f) = &r.fit {
                println!(
                    "fit: log-likelihood {:.1}, expected {:.1} ± {:.1}, posterior predictive p {:.3}",
                    f.log_likelihood, f.expected, f.expected_sd, f.p_value
                );
            }
        }
        for (name, s) in post.parameters.iter().zip(post.summaries()) {
            let v = s.values();
            println!(
                "{name:>32}: mean {:.4} sd {:.4}  5% {:.4}  50% {:.4}  95% {:.4}",
                v.mean, v.std, v.q05, v.q50, v.q95
            );
        }
    }
    Ok(())
}

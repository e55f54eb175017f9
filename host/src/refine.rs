//! Exact-likelihood refinement on the host (`vina invert --refine`, issue 10): the
//! network posterior as proposal, the exact posterior (a scenario's or the model file's
//! environment template: priors × exact likelihood, f64 forward model) as the answer, through `vina-core`'s
//! [`vina_core::refine::refine`], the loop the firmware would run in f32.
//!
//! The log target of a batch of particles is evaluated in parallel (rayon); the random
//! stream is consumed in `vina-core`'s fixed order, so the result does not depend on the
//! thread count.

use std::time::Instant;

use rayon::prelude::*;

use serde_json::{Value, json};
use vina_core::layers::Scratch;
use vina_core::model::Model;
pub use vina_core::refine::ProposalKind;
use vina_core::refine::{RefineConfig, Report, refine_network, work_len};

use vina_core::posterior::{ExactPosterior, ForwardBuffers};
use vina_core::template::EnvironmentTemplate;

use crate::environment::HOST_MODES;
use crate::error::refuse;
use crate::posterior::ScenarioPosterior;

/// Default latent widening τ: the cINN is calibrated but about 2× wider than the exact
/// posterior, so τ = 1.5 keeps its tails heavier than the target's where it is offset.
pub const DEFAULT_WIDEN: f32 = 1.5;
/// Default Metropolis sweeps after resampling.
pub const DEFAULT_STEPS: u32 = 20;

/// Settings of one refinement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefineSettings {
    /// Particles (= refined samples).
    pub particles: usize,
    /// Metropolis sweeps.
    pub steps: u32,
    /// Latent widening τ of the network proposal (Gaussian-fit widening for an INN).
    pub widen: f32,
    /// Seed of the refinement's random stream.
    pub seed: u64,
}

/// A refined posterior.
#[derive(Clone, Debug)]
pub struct Refined {
    /// Equally weighted draws, one row per particle.
    pub samples: Vec<Vec<f64>>,
    /// ESS, acceptance, missed flag.
    pub report: Report,
    /// The proposal used.
    pub proposal: ProposalKind,
    /// Settings.
    pub settings: RefineSettings,
    /// Wall-clock seconds of the refinement.
    pub seconds: f64,
}

impl Refined {
    /// The `"refine"` object of `vina invert --json`.
    pub fn to_json(&self) -> Value {
        let r = &self.report;
        json!({
            "particles": r.particles,
            "steps": r.steps,
            "widen": self.settings.widen,
            "seed": self.settings.seed,
            "proposal": self.proposal,
            "ess": r.ess,
            "ess_fraction": r.ess / r.particles as f64,
            "max_weight": r.max_weight,
            "finite_fraction": r.finite_fraction,
            "acceptance": r.acceptance,
            "last_acceptance": r.last_acceptance,
            "scale": r.scale,
            "missed": r.missed,
            "seconds": self.seconds,
        })
    }
}

/// Refine `model`'s posterior for features `y` towards `post`'s exact posterior.
pub fn refine_posterior(
    model: &Model<'_>,
    y: &[f32],
    post: &ScenarioPosterior,
    s: &RefineSettings,
) -> anyhow::Result<Refined> {
    refine_exact(model, y, post.template(), post.observed(), s)
}

/// Refine `model`'s posterior for features `y` towards the exact posterior of `observed`
/// under `template` (a scenario's, or the one the model file carries).
pub fn refine_exact(
    model: &Model<'_>,
    y: &[f32],
    template: &EnvironmentTemplate<f64>,
    observed: &[f64],
    s: &RefineSettings,
) -> anyhow::Result<Refined> {
    let d = model.x_dim();
    let names: Vec<&str> = model.header().param_names.split(',').collect();
    let unknowns: Vec<&str> = template.unknown_names().collect();
    if names != unknowns {
        return Err(refuse(format!(
            "refine: the model's parameters {names:?} are not the scenario's unknowns {unknowns:?}"
        )));
    }
    let exact = ExactPosterior::new(template, observed)
        .map_err(|e| refuse(format!("refine: observation: {e}")))?;
    if s.particles < 2 {
        return Err(refuse("refine: needs at least 2 particles"));
    }
    if !(s.widen.is_finite() && s.widen > 0.0) {
        return Err(refuse(format!(
            "refine: --widen must be a positive number, found {}",
            s.widen
        )));
    }
    let start = Instant::now();
    let mut scratch = Scratch::new();
    let mut ctx = vec![0.0f32; model.context_len()];
    model
        .prepare(y, &mut ctx, &mut scratch)
        .map_err(|e| refuse(format!("refine: model: {e}")))?;
    let cfg = RefineConfig {
        steps: s.steps,
        ..RefineConfig::default()
    };
    let target = |pts: &[f64], out: &mut [f64]| {
        out.par_iter_mut().zip(pts.par_chunks(d)).for_each_init(
            || Box::new(ForwardBuffers::<f64, HOST_MODES>::new()),
            |buffers, (o, x)| *o = exact.log_posterior(x, buffers),
        );
    };
    let mut particles = vec![0.0f64; s.particles * d];
    let mut work = vec![0.0f64; work_len(s.particles, d)];
    let (report, proposal) = refine_network(
        &cfg,
        model,
        &ctx,
        s.widen,
        s.seed,
        target,
        |_| true,
        &mut particles,
        &mut work,
    )
    .map_err(|e| refuse(e.to_string()))?;
    Ok(Refined {
        samples: particles.chunks(d).map(<[f64]>::to_vec).collect(),
        report,
        proposal,
        settings: *s,
        seconds: start.elapsed().as_secs_f64(),
    })
}

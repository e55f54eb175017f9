//! Exact-likelihood refinement on the host (`vina invert --refine`; docs/architecture.md,
//! "Exact-likelihood refinement and its fallback"): the network posterior as proposal, the
//! exact posterior (a scenario's or the model file's environment template: priors × exact
//! likelihood, f64 forward model) as the answer, through `vina-core`'s
//! [`vina_core::refine::refine_with_fallback`]: the network refinement the firmware runs in
//! f32, and when its proposal misses (as the paper INN's does on raw pressure), tempered SMC
//! to the same exact posterior from the template's prior, or for a cINN from the mixture
//! of the prior and the widened network ([`TemperConfig::WORKSTATION`]).
//!
//! The log target of a batch of particles is evaluated in parallel (rayon); the random
//! stream is consumed in `vina-core`'s fixed order, so the result does not depend on the
//! thread count.
//!
//! A refinement also checks the answer's fit ([`FitCheck`]): a posterior predictive
//! check of the observation against the noise model at the refined particles, so an
//! observation nothing in the prior explains is reported as such rather than as a
//! confident posterior pinned to the prior's edge.

use std::path::Path;
use std::time::Instant;

use rayon::prelude::*;

use serde_json::{Value, json};
use vina_core::model::Model;
use vina_core::refine::{
    Outcome, RefineConfig, TemperConfig, refine_with_fallback, tempered_work_len,
};
pub use vina_core::refine::{ProposalKind, RefinePath};
use vina_core::rng::Rng;
use vina_core::sampling::Conditioned;

use vina_core::posterior::{ExactPosterior, ForwardBuffers};
use vina_core::template::EnvironmentTemplate;

use crate::error::refuse;
use crate::observation_file::ObservationFile;
use crate::posterior::ScenarioPosterior;
use crate::reference::posterior_of;
use crate::scenario::Scenario;
use vina_core::limits::HOST_MODES;

/// Settings of one refinement on the host: the core's [`RefineConfig`] (sweeps, widening,
/// thresholds; defaults [`RefineConfig::WORKSTATION`]) plus what is the host's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefineSettings {
    /// Particles (= refined samples).
    pub particles: usize,
    /// The refinement's settings.
    pub config: RefineConfig,
    /// Seed of the refinement's random stream.
    pub seed: u64,
}

/// Particles the fit check replicates the observation at (evenly spread over the refined
/// ones).
pub const FIT_DRAWS: usize = 200;
/// The fit check fails below this posterior predictive p-value.
pub const FIT_P_MIN: f64 = 0.01;
/// Stream index of the fit check's replicates (`Rng::for_index(seed, 2 + i)`; 1 is the
/// tempering's).
const FIT_STREAM: u64 = 2;

/// Does the exact model explain the observation? A posterior predictive check at the
/// refined particles ([`ExactPosterior::replicate`]): at each, the observation's
/// log-likelihood against that of a replicate drawn from the noise model there.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FitCheck {
    /// Particles checked (those where the forward model ran).
    pub draws: usize,
    /// Share of replicates whose log-likelihood is at or below the observation's: about ½
    /// or above when the model explains the observation, ~0 when nothing in the prior does.
    pub p_value: f64,
    /// Mean log-likelihood of the observation over the checked particles.
    pub log_likelihood: f64,
    /// Mean log-likelihood of the replicates: what the noise model expects.
    pub expected: f64,
    /// Standard deviation of the replicates' log-likelihoods.
    pub expected_sd: f64,
}

impl FitCheck {
    /// The observation fits: `p_value` ≥ [`FIT_P_MIN`].
    pub fn explained(&self) -> bool {
        self.p_value >= FIT_P_MIN
    }

    /// How many replicate sds the observation's mean log-likelihood lies from the
    /// expected one (negative: worse than noise explains).
    pub fn z(&self) -> f64 {
        (self.log_likelihood - self.expected) / self.expected_sd
    }
}

/// A refined posterior.
#[derive(Clone, Debug)]
pub struct RefinedPosterior {
    /// Equally weighted draws, one row per particle.
    pub samples: Vec<Vec<f64>>,
    /// Which path produced them and the reports of each step.
    pub outcome: Outcome,
    /// Settings.
    pub settings: RefineSettings,
    /// The observation's fit at the refined particles; `None` when the forward model ran
    /// at none of them.
    pub fit: Option<FitCheck>,
    /// Wall-clock seconds of the refinement (the fit check excluded).
    pub seconds: f64,
}

/// Where a tempered refinement started, in words.
pub fn tempered_from(path: RefinePath) -> &'static str {
    match path {
        RefinePath::TemperedFromMixture => "from the prior and the widened network",
        _ => "from the prior",
    }
}

impl RefinedPosterior {
    /// What a user should know before trusting the samples, one line each: the network
    /// proposal missed and tempering ran instead, tempering stopped short of β = 1, or the
    /// observation is not explained by the model.
    pub fn warnings(&self) -> Vec<String> {
        let o = &self.outcome;
        let mut out = Vec::new();
        if let Some(t) = &o.tempered {
            let why = match &o.network {
                None => "none of its draws is inside the prior".to_owned(),
                Some(r) => format!(
                    "ESS {:.1} of {}, largest weight {:.2}",
                    r.ess, r.particles, r.max_weight
                ),
            };
            out.push(format!(
                "refine: the network proposal missed the exact posterior ({why}); refined by tempered SMC {} instead ({} stages, {} log-posterior evaluations)",
                tempered_from(o.path),
                t.stages,
                t.evaluations
            ));
            if !t.complete {
                out.push(format!(
                    "refine: tempering stopped at beta = {:.3e} of 1 (stage cap): the samples lie between the prior and the posterior, not on it",
                    t.beta
                ));
            }
        }
        if let Some(f) = self.fit.filter(|f| !f.explained()) {
            out.push(format!(
                "refine: the observation is not explained by the model: its log-likelihood {:.1} vs {:.1} ± {:.1} expected under the noise model (posterior predictive p = {:.3}); the samples are the best fit inside the prior, not a confident answer",
                f.log_likelihood, f.expected, f.expected_sd, f.p_value
            ));
        }
        out
    }

    /// The `"refine"` object of `vina invert --json`. The flat fields are the network
    /// attempt's (null where it had no draw inside the prior); `"path"` says whose
    /// particles these are, `"tempered"` what the fallback did.
    pub fn to_json(&self) -> Value {
        let o = &self.outcome;
        let net = o.network.as_ref();
        json!({
            "particles": self.settings.particles,
            "steps": net.map(|r| r.steps),
            "widen": self.settings.config.widen,
            "seed": self.settings.seed,
            "proposal": o.proposal,
            "path": o.path,
            "ess": net.map(|r| r.ess),
            "ess_fraction": net.map(|r| r.ess / r.particles as f64),
            "max_weight": net.map(|r| r.max_weight),
            "finite_fraction": net.map_or(0.0, |r| r.finite_fraction),
            "acceptance": net.map(|r| r.acceptance),
            "last_acceptance": net.map(|r| r.last_acceptance),
            "scale": net.map(|r| r.scale),
            "missed": net.is_none_or(|r| r.missed),
            "tempered": o.tempered.map(|t| json!({
                "stages": t.stages,
                "beta": t.beta,
                "complete": t.complete,
                "sweeps": t.sweeps,
                "evaluations": t.evaluations,
                "finite_fraction": t.finite_fraction,
                "acceptance": t.acceptance,
                "last_acceptance": t.last_acceptance,
                "scale": t.scale,
                "log_evidence": t.log_evidence,
            })),
            "fit": self.fit.map(|f| json!({
                "draws": f.draws,
                "p_value": f.p_value,
                "log_likelihood": f.log_likelihood,
                "expected": f.expected,
                "expected_sd": f.expected_sd,
                "explained": f.explained(),
            })),
            "warnings": self.warnings(),
            "seconds": self.seconds,
        })
    }
}

/// Refine `model`'s posterior for the observation with features `y` towards its exact
/// posterior: under `scenario` when given (refused unless it is the model's, by hash;
/// the observation file is read from `observation()`, which returns it with its origin
/// for messages; `snr_db` overrides the scenario's), else under the environment template
/// the model file carries (its noise; the features `y` are the observation). `vina
/// invert --refine` and `vina eval --refine` both come here.
pub fn refine_observation(
    model: &Model<'_>,
    model_path: &Path,
    y: &[f32],
    scenario: Option<&Path>,
    observation: impl FnOnce() -> anyhow::Result<(ObservationFile, String)>,
    snr_db: Option<f64>,
    settings: &RefineSettings,
) -> anyhow::Result<RefinedPosterior> {
    let Some(path) = scenario else {
        let template = model.template().ok_or_else(|| {
            refuse(format!(
                "--refine: model {} carries no scenario (export it with --scenario) and no --scenario was given",
                model_path.display()
            ))
        })?;
        let observed: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
        return refine_exact(model, y, &template.cast(), &observed, settings);
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
    let (obs, origin) = observation()?;
    let post = posterior_of(&scn, &obs, snr_db.unwrap_or(scn.snr_db), &origin)?;
    refine_posterior(model, y, &post, settings)
}

/// Refine `model`'s posterior for features `y` towards `post`'s exact posterior.
pub fn refine_posterior(
    model: &Model<'_>,
    y: &[f32],
    post: &ScenarioPosterior,
    s: &RefineSettings,
) -> anyhow::Result<RefinedPosterior> {
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
) -> anyhow::Result<RefinedPosterior> {
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
    s.config.check().map_err(|why| {
        refuse(format!(
            "refine: {why} (--widen {}, --steps {})",
            s.config.widen, s.config.steps
        ))
    })?;
    let start = Instant::now();
    let conditioned =
        Conditioned::new(model, y).map_err(|e| refuse(format!("refine: model: {e}")))?;
    let ctx = conditioned.context();
    let target = |pts: &[f64], out: &mut [f64]| {
        out.par_iter_mut().zip(pts.par_chunks(d)).for_each_init(
            || Box::new(ForwardBuffers::<f64, HOST_MODES>::new()),
            |buffers, (o, x)| *o = exact.log_posterior(x, buffers),
        );
    };
    let mut particles = vec![0.0f64; s.particles * d];
    let mut work = vec![0.0f64; tempered_work_len(s.particles, d)];
    let outcome = refine_with_fallback(
        &s.config,
        &TemperConfig::WORKSTATION,
        model,
        ctx,
        s.seed,
        template,
        target,
        |_| true,
        &mut particles,
        &mut work,
    )
    .map_err(|e| refuse(e.to_string()))?;
    let seconds = start.elapsed().as_secs_f64();
    let samples: Vec<Vec<f64>> = particles.chunks(d).map(<[f64]>::to_vec).collect();
    Ok(RefinedPosterior {
        fit: fit_check(&exact, &samples, s.seed),
        samples,
        outcome,
        settings: *s,
        seconds,
    })
}

/// [`FitCheck`] at up to [`FIT_DRAWS`] of `samples`, evenly spread; replicate i draws
/// from `Rng::for_index(seed, 2 + i)`.
pub fn fit_check(
    exact: &ExactPosterior<'_, '_, f64>,
    samples: &[Vec<f64>],
    seed: u64,
) -> Option<FitCheck> {
    let stride = samples.len().div_ceil(FIT_DRAWS).max(1);
    let pairs: Vec<(f64, f64)> = samples
        .par_iter()
        .step_by(stride)
        .enumerate()
        .map_init(
            || Box::new(ForwardBuffers::<f64, HOST_MODES>::new()),
            |buffers, (i, x)| {
                let mut rng = Rng::for_index(seed, FIT_STREAM + i as u64);
                exact.replicate(x, &mut rng, buffers).ok()
            },
        )
        .flatten()
        .filter(|(o, r)| o.is_finite() && r.is_finite())
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let n = pairs.len() as f64;
    let below = pairs.iter().filter(|(o, r)| r <= o).count() as f64;
    let mean = |f: fn(&(f64, f64)) -> f64| pairs.iter().map(f).sum::<f64>() / n;
    let expected = mean(|p| p.1);
    let var = pairs.iter().map(|p| (p.1 - expected).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    Some(FitCheck {
        draws: pairs.len(),
        p_value: below / n,
        log_likelihood: mean(|p| p.0),
        expected,
        expected_sd: var.sqrt(),
    })
}

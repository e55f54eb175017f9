//! The exact log-posterior of a scenario's unknowns given one observation: the scenario's
//! priors times `vina-core`'s exact likelihood ([`vina_core::likelihood`]) of the
//! observed features under the simulator's noise model (docs/architecture.md, "Scenarios,
//! noise and features"), with the clean pressure from the normal-mode forward model in f64.
//!
//! The prior and the exact posterior are `vina-core`'s ([`ExactPosterior`] over the
//! scenario's [`EnvironmentTemplate`]), the code the buoy's refinement runs in f32.
//!
//! This is the reference posterior of the evaluation (MCMC or dense grids against which
//! network posteriors are compared: docs/architecture.md, "Evaluation") and the target of
//! exact-likelihood refinement. Both feature kinds are exact: raw pressure is the complex
//! Gaussian density; relative transfer functions marginalize the unknown complex scale in
//! closed form (and are therefore also exact for an unknown source level and phase).
//!
//! ```no_run
//! # use vina_host::{posterior::ScenarioPosterior, scenario::Scenario};
//! # use vina_core::features::FeatureKind;
//! # fn main() -> anyhow::Result<()> {
//! let scn = Scenario::load("scenarios/gi-pekeris.toml".as_ref())?;
//! let truth = [220.0, 1560.0];
//! let p = scn.environment(&truth)?.pressure(&scn.tones_hz, &scn.receiver_depths_m)?;
//! let post = ScenarioPosterior::from_pressure(&scn, &p, FeatureKind::RawPressure, 20.0)?;
//! assert!(post.log_posterior(&truth) > post.log_posterior(&[220.1, 1560.0]));
//! # Ok(()) }
//! ```

use num_complex::Complex64;
use vina_core::features::FeatureKind;
use vina_core::posterior::{ExactPosterior, ForwardBuffers};
use vina_core::template::EnvironmentTemplate;

use crate::error::refuse;
use crate::observation;
use crate::scenario::Scenario;
use vina_core::limits::HOST_MODES;

/// Log-prior, log-likelihood and log-posterior of one observation under a scenario.
#[derive(Clone, Debug)]
pub struct ScenarioPosterior {
    scenario: Scenario,
    template: EnvironmentTemplate<f64>,
    observed: Vec<f64>,
}

impl ScenarioPosterior {
    /// A posterior for `observed` features of `kind` (as [`FeatureKind::compute`] lays
    /// them out for the scenario's tones and receivers) at noise level `snr_db`.
    pub fn new(
        scenario: &Scenario,
        observed: Vec<f64>,
        kind: FeatureKind,
        snr_db: f64,
    ) -> anyhow::Result<Self> {
        let (t, r) = (scenario.tones_hz.len(), scenario.receiver_depths_m.len());
        let expected = kind.len(t, r);
        if observed.len() != expected {
            return Err(refuse(format!(
                "observation: scenario {} has {t} tones × {r} receivers: expected {expected} {kind:?} features, found {}",
                scenario.name,
                observed.len()
            )));
        }
        if let Some(i) = observed.iter().position(|v| !v.is_finite()) {
            return Err(refuse(format!(
                "observation: feature {i} is not a finite number"
            )));
        }
        if !snr_db.is_finite() {
            return Err(refuse(format!("snr: must be finite, found {snr_db}")));
        }
        let mut template = scenario.template()?;
        template.features = kind;
        template.snr_db = snr_db;
        Ok(Self {
            scenario: scenario.clone(),
            template,
            observed,
        })
    }

    /// A posterior for an observed pressure field (tone-major), turned into features by
    /// the same `vina-core` function (in f32) the simulator and firmware use.
    pub fn from_pressure(
        scenario: &Scenario,
        pressure: &[Complex64],
        kind: FeatureKind,
        snr_db: f64,
    ) -> anyhow::Result<Self> {
        let (t, r) = (scenario.tones_hz.len(), scenario.receiver_depths_m.len());
        if pressure.len() != t * r {
            return Err(refuse(format!(
                "observation: scenario {} has {t} tones × {r} receivers: expected {} pressures, found {}",
                scenario.name,
                t * r,
                pressure.len()
            )));
        }
        let y = observation::features(kind, pressure, t, r)?;
        Self::new(
            scenario,
            y.iter().map(|&v| f64::from(v)).collect(),
            kind,
            snr_db,
        )
    }

    /// Number of unknowns (the length of θ), in [`crate::scenario::PARAMETERS`] order.
    pub fn dim(&self) -> usize {
        self.template.dim()
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The scenario's template with this observation's feature kind and SNR.
    pub fn template(&self) -> &EnvironmentTemplate<f64> {
        &self.template
    }

    /// The observed features.
    pub fn observed(&self) -> &[f64] {
        &self.observed
    }

    /// Sum of the unknowns' log prior densities; −∞ outside the support or for a θ of
    /// the wrong length or with a NaN.
    pub fn log_prior(&self, theta: &[f64]) -> f64 {
        if theta.iter().any(|v| v.is_nan()) {
            return f64::NEG_INFINITY;
        }
        self.template.log_prior(theta)
    }

    fn exact(&self) -> anyhow::Result<ExactPosterior<'_, '_, f64>> {
        ExactPosterior::new(&self.template, &self.observed)
            .map_err(|e| anyhow::anyhow!("observation: {e}"))
    }

    /// The exact log-likelihood, with the reason when the forward model or the likelihood
    /// refuses θ.
    pub fn try_log_likelihood(&self, theta: &[f64]) -> anyhow::Result<f64> {
        let mut buffers = Box::new(ForwardBuffers::<f64, HOST_MODES>::new());
        self.exact()?
            .try_log_likelihood(theta, &mut buffers)
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// The exact log-likelihood; −∞ where the forward model fails (e.g. a receiver below
    /// the seabed) or the likelihood is undefined.
    pub fn log_likelihood(&self, theta: &[f64]) -> f64 {
        let mut buffers = Box::new(ForwardBuffers::<f64, HOST_MODES>::new());
        self.exact()
            .map_or(f64::NEG_INFINITY, |p| p.log_likelihood(theta, &mut buffers))
    }

    /// `log_prior + log_likelihood` (unnormalized log-posterior); −∞ outside the prior's
    /// support without running the forward model.
    pub fn log_posterior(&self, theta: &[f64]) -> f64 {
        self.log_posterior_with(theta, &mut Box::new(ForwardBuffers::new()))
    }

    /// [`ScenarioPosterior::log_posterior`] in the caller's buffers: with
    /// `ForwardBuffers::warm_started()` each evaluation starts its modes from the previous
    /// one's (guarded; the full search runs where a guard fails), 2.1–2.6× fewer
    /// instructions per solve for layered seabeds and water profiles. A chain's
    /// consecutive points are near each other, so MCMC gains most of that.
    pub fn log_posterior_with(
        &self,
        theta: &[f64],
        buffers: &mut ForwardBuffers<f64, HOST_MODES>,
    ) -> f64 {
        if theta.iter().any(|v| v.is_nan()) {
            return f64::NEG_INFINITY;
        }
        self.exact()
            .map_or(f64::NEG_INFINITY, |p| p.log_posterior(theta, buffers))
    }
}

//! The exact (unnormalized) log-posterior of a scenario's unknowns given one observation:
//! the template's priors × [`crate::likelihood`] of the observed features, with the clean
//! pressure from the normal-mode forward model. Generic over [`Real`]: the host's
//! reference posteriors and refinement run it in f64, the buoy's refinement in f32.

use crate::acoustics::{ModeSet, Real};
use crate::features::FeatureError;
use crate::likelihood::{self, LikelihoodError, check_observed};
use crate::rng::Rng;
use crate::template::{EnvironmentTemplate, ForwardError, MAX_RECEIVERS, MAX_TONES, WarmStart};

/// The buffers one forward evaluation needs (`N` modes per tone): keep one per thread
/// (host) or one in the pipeline's state (firmware), never on a deep stack.
pub struct ForwardBuffers<T, const N: usize> {
    /// Modes of the current tone.
    pub modes: ModeSet<T, N>,
    /// Clean pressure, tone-major.
    pub pressure: [[T; 2]; MAX_TONES * MAX_RECEIVERS],
    /// With `Some`, every evaluation starts its modes from the previous evaluation's
    /// roots ([`EnvironmentTemplate::pressure_from`]): refinement's θ are close to each
    /// other. Results then depend on the order of evaluations at the level of the root
    /// finder's tolerance, so the host's parallel paths leave it off.
    pub warm: Option<WarmStart<T>>,
}

impl<T: Real, const N: usize> ForwardBuffers<T, N> {
    /// Empty buffers.
    pub fn new() -> Self {
        Self {
            modes: ModeSet::new(),
            pressure: [[T::zero(); 2]; MAX_TONES * MAX_RECEIVERS],
            warm: None,
        }
    }

    /// Empty buffers that warm-start each evaluation from the previous one.
    pub fn warm_started() -> Self {
        Self {
            warm: Some(WarmStart::default()),
            ..Self::new()
        }
    }
}

impl<T: Real, const N: usize> Default for ForwardBuffers<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a log-likelihood could not be evaluated at a θ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PosteriorError {
    /// The forward model failed (e.g. a receiver below the seabed).
    Forward(ForwardError),
    /// The likelihood is undefined (e.g. zero modeled pressure at a tone).
    Likelihood(LikelihoodError),
    /// A replicated observation has no features (its noisy reference receiver is zero).
    Replicate(FeatureError),
}

impl core::fmt::Display for PosteriorError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Forward(e) => write!(f, "{e}"),
            Self::Likelihood(e) => write!(f, "likelihood: {e}"),
            Self::Replicate(e) => write!(f, "replicated observation: {e}"),
        }
    }
}

/// An observation under a template.
#[derive(Clone, Copy, Debug)]
pub struct ExactPosterior<'t, 'o, T> {
    template: &'t EnvironmentTemplate<T>,
    observed: &'o [T],
}

impl<'t, 'o, T: Real> ExactPosterior<'t, 'o, T> {
    /// The posterior of `observed` features (the template's kind, as
    /// [`crate::features::FeatureKind::compute`] lays them out); refuses a wrong length or
    /// a non-finite feature.
    pub fn new(
        template: &'t EnvironmentTemplate<T>,
        observed: &'o [T],
    ) -> Result<Self, LikelihoodError> {
        let (t, r) = (template.tones_hz.len(), template.receiver_depths_m.len());
        check_observed(template.features, observed, t, r)?;
        Ok(Self { template, observed })
    }

    /// The template.
    pub fn template(&self) -> &'t EnvironmentTemplate<T> {
        self.template
    }

    /// The observed features.
    pub fn observed(&self) -> &'o [T] {
        self.observed
    }

    /// The exact log-likelihood at θ, or why there is none.
    pub fn try_log_likelihood<const N: usize>(
        &self,
        theta: &[T],
        buffers: &mut ForwardBuffers<T, N>,
    ) -> Result<T, PosteriorError> {
        let tpl = self.template;
        let (t, r) = (tpl.tones_hz.len(), tpl.receiver_depths_m.len());
        let g = &mut buffers.pressure[..t * r];
        tpl.pressure_from(theta, &mut buffers.modes, buffers.warm.as_mut(), g)
            .map_err(PosteriorError::Forward)?;
        likelihood::log_likelihood(tpl.features, self.observed, g, t, r, tpl.snr_db)
            .map_err(PosteriorError::Likelihood)
    }

    /// The exact log-likelihood; −∞ where it is undefined or NaN.
    pub fn log_likelihood<const N: usize>(
        &self,
        theta: &[T],
        buffers: &mut ForwardBuffers<T, N>,
    ) -> T {
        match self.try_log_likelihood(theta, buffers) {
            Ok(v) if !v.is_nan() => v,
            _ => T::neg_infinity(),
        }
    }

    /// A posterior predictive check at θ: `(log p(y_obs | θ), log p(y_rep | θ))`, with
    /// y_rep drawn from the noise model at θ (the simulator's: per tone `CN(0, σ_f²)`
    /// added to the clean pressure, `σ_f² = mean_r |g_f,r|² / 10^(SNR/10)`, one f32 normal
    /// per real and imaginary part in tone-major order, features in f32 as an observation's).
    ///
    /// Over posterior draws θ, the share with `log p(y_rep) ≤ log p(y_obs)` is a posterior
    /// predictive p-value: near ½ or above when the model explains the observation (draws
    /// fit their own data a little better than fresh noise), near 0 when no θ the prior
    /// allows does. For raw pressure the difference is the misfit `‖y − g‖²/σ²` of the
    /// replicate against the observation's, exactly; for relative transfer functions, the
    /// same for the unit-norm direction.
    pub fn replicate<const N: usize>(
        &self,
        theta: &[T],
        rng: &mut Rng,
        buffers: &mut ForwardBuffers<T, N>,
    ) -> Result<(T, T), PosteriorError> {
        let tpl = self.template;
        let (t, r) = (tpl.tones_hz.len(), tpl.receiver_depths_m.len());
        let g = &mut buffers.pressure[..t * r];
        tpl.pressure(theta, &mut buffers.modes, g)
            .map_err(PosteriorError::Forward)?;
        let kind = tpl.features;
        let observed = likelihood::log_likelihood(kind, self.observed, g, t, r, tpl.snr_db)
            .map_err(PosteriorError::Likelihood)?;
        let mut noisy = [[0.0f32; 2]; MAX_TONES * MAX_RECEIVERS];
        for (clean, out) in g.chunks_exact(r).zip(noisy.chunks_exact_mut(r)) {
            let variance = likelihood::noise_variance(clean, tpl.snr_db).unwrap_or(T::zero());
            let sd = (variance * T::lit(0.5)).sqrt();
            for (c, o) in clean.iter().zip(out.iter_mut()) {
                for (v, w) in c.iter().zip(o.iter_mut()) {
                    let e = T::lit(f64::from(rng.normal_f32()));
                    *w = (*v + sd * e).to_f32().unwrap_or(f32::NAN);
                }
            }
        }
        let n = kind.len(t, r);
        let mut features = [0.0f32; 2 * MAX_TONES * MAX_RECEIVERS];
        kind.compute(&noisy[..t * r], t, r, &mut features[..n])
            .map_err(PosteriorError::Replicate)?;
        let mut y = [T::zero(); 2 * MAX_TONES * MAX_RECEIVERS];
        for (o, v) in y.iter_mut().zip(&features[..n]) {
            *o = T::lit(f64::from(*v));
        }
        let replicate = likelihood::log_likelihood(kind, &y[..n], g, t, r, tpl.snr_db)
            .map_err(PosteriorError::Likelihood)?;
        Ok((observed, replicate))
    }

    /// `log_prior + log_likelihood`; −∞ outside the prior's support without running the
    /// forward model.
    pub fn log_posterior<const N: usize>(
        &self,
        theta: &[T],
        buffers: &mut ForwardBuffers<T, N>,
    ) -> T {
        let lp = self.template.log_prior(theta);
        if lp == T::neg_infinity() || lp.is_nan() {
            return T::neg_infinity();
        }
        lp + self.log_likelihood(theta, buffers)
    }
}

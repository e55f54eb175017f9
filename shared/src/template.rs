//! What the buoy knows of its scenario: the waveguide, every fixed
//! parameter, the unknowns with their priors, tones, receiver depths, noise level and
//! feature kind — enough to evaluate the exact posterior of an observation without the
//! scenario's TOML file.
//!
//! The host builds one in f64 from a scenario (`vina_host::scenario::Scenario::template`)
//! for its reference posteriors and refinement; `vina export --scenario` stores it in f32
//! in the `.vina` file (format version 2), where the firmware finds it next to the
//! network it corrects. Parameters are indexed in [`PARAM_NAMES`] order.

use heapless::Vec;
use num_complex::Complex;
use serde::{Deserialize, Serialize};

use crate::acoustics::{AcousticsError, ModeSet, Real, Seeds, SspPoint};
use crate::environment::Environment;
use crate::error::ModelError;
use crate::features::FeatureKind;
use crate::limits::{MAX_PARAMS, MAX_SSP_POINTS};
use crate::parameters::{BOTTOM, PARAMETERS, SOURCE_DEPTH, WATER, WATER_DEPTH};
use crate::prior::Prior;
use crate::rng::Rng;

pub use crate::environment::WaveguideKind;
pub use crate::limits::{MAX_RECEIVERS, MAX_TONES};
pub use crate::parameters::{PARAM_COUNT, PARAM_NAMES};

/// Per-tone mode roots kept from one forward evaluation to start the next from
/// ([`EnvironmentTemplate::pressure_from`]), and how often that held.
#[derive(Clone, Debug)]
pub struct WarmStart<T> {
    /// One [`Seeds`] per tone, in the template's order.
    pub tones: [Seeds<T>; MAX_TONES],
    /// Tone solves started from seeds (`[0]`) and solved from scratch (`[1]`).
    pub used: [u64; 2],
}

impl<T: Real> Default for WarmStart<T> {
    fn default() -> Self {
        Self {
            tones: [Seeds::new(); MAX_TONES],
            used: [0; 2],
        }
    }
}

/// One unknown: which parameter, and its prior.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unknown<T> {
    /// Index into [`PARAM_NAMES`].
    pub param: u8,
    /// Its prior.
    pub prior: Prior<T>,
}

/// A scenario as the exact posterior needs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentTemplate<T> {
    /// Waveguide.
    pub waveguide: WaveguideKind,
    /// Every parameter's value ([`PARAM_NAMES`] order); an unknown's entry is ignored.
    pub values: [T; PARAM_COUNT],
    /// The unknowns, in posterior (x) order.
    pub unknowns: Vec<Unknown<T>, MAX_PARAMS>,
    /// Tone frequencies (Hz), scenario order.
    pub tones_hz: Vec<T, MAX_TONES>,
    /// Receiver depths (m), increasing.
    pub receiver_depths_m: Vec<T, MAX_RECEIVERS>,
    /// Signal-to-noise ratio (dB) of the noise model (`crate::likelihood`).
    pub snr_db: T,
    /// Features the observation is expressed in.
    pub features: FeatureKind,
    /// The water's sound-speed profile (C-linear, constant below its last point; model
    /// file version 4); empty: isovelocity water at the water sound speed parameter.
    pub water_profile: Vec<SspPoint<T>, MAX_SSP_POINTS>,
}

/// [`EnvironmentTemplate`] as model file versions 2–3 store it (no sound-speed profile).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TemplateV2<T> {
    waveguide: WaveguideKind,
    values: [T; PARAM_COUNT],
    unknowns: Vec<Unknown<T>, MAX_PARAMS>,
    tones_hz: Vec<T, MAX_TONES>,
    receiver_depths_m: Vec<T, MAX_RECEIVERS>,
    snr_db: T,
    features: FeatureKind,
}

impl<T: Clone> TemplateV2<T> {
    /// `t` without its profile, as versions 2–3 wrote it (to build old files in tests).
    pub fn of(t: &EnvironmentTemplate<T>) -> Self {
        TemplateV2 {
            waveguide: t.waveguide,
            values: t.values.clone(),
            unknowns: t.unknowns.clone(),
            tones_hz: t.tones_hz.clone(),
            receiver_depths_m: t.receiver_depths_m.clone(),
            snr_db: t.snr_db.clone(),
            features: t.features,
        }
    }
}

impl<T> From<TemplateV2<T>> for EnvironmentTemplate<T> {
    fn from(t: TemplateV2<T>) -> Self {
        EnvironmentTemplate {
            waveguide: t.waveguide,
            values: t.values,
            unknowns: t.unknowns,
            tones_hz: t.tones_hz,
            receiver_depths_m: t.receiver_depths_m,
            snr_db: t.snr_db,
            features: t.features,
            water_profile: Vec::new(),
        }
    }
}

/// Why the forward model gave no pressure for a θ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardError {
    /// θ or the output buffer has the wrong length.
    Length {
        /// Values required.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// The normal-mode solver refused the environment.
    Acoustics(AcousticsError),
}

impl core::fmt::Display for ForwardError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Length { expected, found } => {
                write!(f, "expected {expected} values, found {found}")
            }
            Self::Acoustics(e) => write!(f, "forward model: {e}"),
        }
    }
}

/// A physical inconsistency of an environment anywhere in its prior box: the rule
/// [`check_geometry`] enforces for scenario files (`vina_host::scenario`) and for the
/// templates inside model files ([`EnvironmentTemplate::validate`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GeometryError<T> {
    /// A parameter's value, or its prior's support, reaches below the parameter's bound
    /// (`crate::parameters::PARAMETERS`), or is NaN.
    BelowBound {
        /// Index into [`PARAM_NAMES`].
        param: usize,
        /// The lowest value it can take.
        lowest: T,
    },
    /// Receiver depths are not strictly increasing (or one is NaN).
    ReceiversNotIncreasing,
    /// A receiver lies above the sea surface.
    ReceiverAboveSurface {
        /// Its depth (m).
        depth: T,
    },
    /// The deepest receiver lies below the shallowest seabed the prior allows.
    ReceiverBelowSeabed {
        /// Deepest receiver (m).
        deepest: T,
        /// Smallest water depth (m).
        water_depth_min: T,
    },
    /// The source can lie below the shallowest seabed the prior allows.
    SourceBelowSeabed {
        /// Deepest source depth (m).
        source_max: T,
        /// Smallest water depth (m).
        water_depth_min: T,
    },
    /// The half-space can be as slow as the water (no trapped modes).
    BottomNotFaster {
        /// Slowest half-space speed (m/s).
        bottom_min: T,
        /// Fastest water speed (m/s).
        water_max: T,
    },
}

impl<T> GeometryError<T> {
    /// What is wrong, as a fixed text naming the field (for [`ModelError::InvalidValue`]).
    pub fn what(&self) -> &'static str {
        match self {
            Self::BelowBound { .. } => {
                "environment template: a parameter's value or prior support is below its bound"
            }
            Self::ReceiversNotIncreasing => "environment template: receiver depths not increasing",
            Self::ReceiverAboveSurface { .. } => {
                "environment template: a receiver depth is above the surface (< 0 m)"
            }
            Self::ReceiverBelowSeabed { .. } => {
                "environment template: a receiver lies below the seabed for the shallowest water depth"
            }
            Self::SourceBelowSeabed { .. } => {
                "environment template: source depth can lie below the seabed for the shallowest water depth"
            }
            Self::BottomNotFaster { .. } => {
                "environment template: bottom sound speed can be at or below the water's (no trapped modes)"
            }
        }
    }
}

/// a > b, false when either is NaN.
fn above<T: PartialOrd>(a: T, b: T) -> bool {
    a.partial_cmp(&b) == Some(core::cmp::Ordering::Greater)
}

/// a ≥ b, false when either is NaN.
fn at_least<T: PartialOrd>(a: T, b: T) -> bool {
    matches!(
        a.partial_cmp(&b),
        Some(core::cmp::Ordering::Greater | core::cmp::Ordering::Equal)
    )
}

/// The cross-parameter rules over a whole prior box: `ranges[i]` is the (lowest, highest)
/// value of parameter `i` ([`PARAM_NAMES`] order: a fixed value or a prior's support).
/// Every parameter the waveguide uses lies within its bound, receivers are increasing and
/// in the water, the source is in the water for the shallowest water depth, and the
/// half-space is faster than the fastest water.
pub fn check_geometry<T: Real>(
    waveguide: WaveguideKind,
    ranges: &[(T, T); PARAM_COUNT],
    receiver_depths_m: &[T],
) -> Result<(), GeometryError<T>> {
    for (param, (info, &(lowest, _))) in PARAMETERS.iter().zip(ranges).enumerate() {
        if info.layered_only && waveguide == WaveguideKind::Pekeris {
            continue;
        }
        let bound = T::lit(info.min);
        let ok = if info.min_inclusive {
            at_least(lowest, bound)
        } else {
            above(lowest, bound)
        };
        if !ok {
            return Err(GeometryError::BelowBound { param, lowest });
        }
    }
    if receiver_depths_m.windows(2).any(|w| !above(w[1], w[0])) {
        return Err(GeometryError::ReceiversNotIncreasing);
    }
    if let Some(&depth) = receiver_depths_m.iter().find(|z| !at_least(**z, T::zero())) {
        return Err(GeometryError::ReceiverAboveSurface { depth });
    }
    let (water_depth_min, _) = ranges[WATER_DEPTH];
    let deepest = receiver_depths_m.last().copied().unwrap_or(T::zero());
    if !at_least(water_depth_min, deepest) {
        return Err(GeometryError::ReceiverBelowSeabed {
            deepest,
            water_depth_min,
        });
    }
    let (_, source_max) = ranges[SOURCE_DEPTH];
    if !at_least(water_depth_min, source_max) {
        return Err(GeometryError::SourceBelowSeabed {
            source_max,
            water_depth_min,
        });
    }
    let (_, water_max) = ranges[WATER];
    let (bottom_min, _) = ranges[BOTTOM];
    if !above(bottom_min, water_max) {
        return Err(GeometryError::BottomNotFaster {
            bottom_min,
            water_max,
        });
    }
    Ok(())
}

impl<T: Real> EnvironmentTemplate<T> {
    /// Number of unknowns.
    pub fn dim(&self) -> usize {
        self.unknowns.len()
    }

    /// Names of the unknowns, x order.
    pub fn unknown_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.unknowns.iter().map(|u| {
            PARAM_NAMES
                .get(usize::from(u.param))
                .copied()
                .unwrap_or("?")
        })
    }

    /// (lowest, highest) value of every parameter: a fixed value, or an unknown's prior
    /// support.
    pub fn ranges(&self) -> [(T, T); PARAM_COUNT] {
        let mut r = self.values.map(|v| (v, v));
        for u in &self.unknowns {
            if let Some(slot) = r.get_mut(usize::from(u.param)) {
                *slot = u.prior.support();
            }
        }
        r
    }

    /// Check what the forward model and the likelihood will rely on: distinct unknown
    /// indices with proper priors, finite fixed values, at least one tone and receiver,
    /// positive finite tones, a finite SNR, and over the whole prior box the physical
    /// rules of [`check_geometry`] (parameters within their bounds, receivers increasing
    /// and in the water, source in the water, bottom faster than the water).
    /// `crate::model::Model::from_bytes` calls it on every decoded template.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |what| Err(ModelError::InvalidValue { what });
        if self.unknowns.is_empty() {
            return bad("environment template: no unknowns");
        }
        for (i, u) in self.unknowns.iter().enumerate() {
            if usize::from(u.param) >= PARAM_COUNT {
                return bad("environment template: unknown parameter index ≥ 13");
            }
            if self.unknowns[..i].iter().any(|v| v.param == u.param) {
                return bad("environment template: a parameter is unknown twice");
            }
            if !u.prior.is_valid() {
                return bad("environment template: prior not finite, empty or min ≤ 0 (log)");
            }
        }
        let fixed_ok =
            self.values.iter().enumerate().all(|(i, v)| {
                v.is_finite() || self.unknowns.iter().any(|u| usize::from(u.param) == i)
            });
        if !fixed_ok {
            return bad("environment template: a fixed parameter is not finite");
        }
        if self.tones_hz.is_empty() || self.receiver_depths_m.is_empty() {
            return bad("environment template: needs at least one tone and one receiver");
        }
        if !self.snr_db.is_finite() {
            return bad("environment template: SNR is not finite");
        }
        let profile_ok = self
            .water_profile
            .first()
            .is_none_or(|p| p.depth == T::zero())
            && self
                .water_profile
                .windows(2)
                .all(|w| w[1].depth > w[0].depth)
            && self
                .water_profile
                .iter()
                .all(|p| p.depth.is_finite() && p.speed.is_finite() && p.speed > T::zero());
        if !profile_ok {
            return bad(
                "environment template: water sound-speed profile not from z = 0, depths not increasing, or speeds not finite and positive",
            );
        }
        if self
            .tones_hz
            .iter()
            .any(|f| !(f.is_finite() && *f > T::zero()))
        {
            return bad("environment template: tone frequencies must be finite and > 0 Hz");
        }
        check_geometry(self.waveguide, &self.ranges(), &self.receiver_depths_m)
            .map_err(|e| ModelError::InvalidValue { what: e.what() })
    }

    /// Every parameter's value with the unknowns set to `theta`.
    pub fn parameters(&self, theta: &[T]) -> Result<[T; PARAM_COUNT], ForwardError> {
        if theta.len() != self.dim() {
            return Err(ForwardError::Length {
                expected: self.dim(),
                found: theta.len(),
            });
        }
        let mut v = self.values;
        for (u, &x) in self.unknowns.iter().zip(theta) {
            if let Some(slot) = v.get_mut(usize::from(u.param)) {
                *slot = x;
            }
        }
        Ok(v)
    }

    /// The environment with the unknowns set to `theta`.
    pub fn environment(&self, theta: &[T]) -> Result<Environment<T>, ForwardError> {
        let mut env = Environment::from_parameters(self.waveguide, &self.parameters(theta)?);
        env.water_profile.clone_from(&self.water_profile);
        Ok(env)
    }

    /// Sum of the unknowns' log prior densities; −∞ outside the support, for NaN, or
    /// for a θ of the wrong length.
    pub fn log_prior(&self, theta: &[T]) -> T {
        if theta.len() != self.dim() {
            return T::neg_infinity();
        }
        self.unknowns
            .iter()
            .zip(theta)
            .fold(T::zero(), |s, (u, &x)| s + u.prior.log_density(x))
    }

    /// One draw of the unknowns from their priors into `theta` (x order, one
    /// [`Prior::draw`] per unknown in turn).
    pub fn draw_prior(&self, rng: &mut Rng, theta: &mut [T]) -> Result<(), ForwardError> {
        if theta.len() != self.dim() {
            return Err(ForwardError::Length {
                expected: self.dim(),
                found: theta.len(),
            });
        }
        for (x, u) in theta.iter_mut().zip(&self.unknowns) {
            *x = u.prior.draw(rng);
        }
        Ok(())
    }

    /// Clean pressure at every tone and receiver, tone-major (`[tone · R + receiver]`,
    /// `[re, im]`), in KRAKEN FIELD's convention; `modes` is the caller's mode buffer.
    pub fn pressure<const N: usize>(
        &self,
        theta: &[T],
        modes: &mut ModeSet<T, N>,
        out: &mut [[T; 2]],
    ) -> Result<(), ForwardError> {
        self.pressure_from(theta, modes, None, out)
    }

    /// [`EnvironmentTemplate::pressure`], with each tone's modes started from the roots
    /// of the previous call in `seeds` (one [`Seeds`] per tone; see
    /// [`Environment::modes_from`]) when given, which are then replaced by this θ's.
    pub fn pressure_from<const N: usize>(
        &self,
        theta: &[T],
        modes: &mut ModeSet<T, N>,
        mut seeds: Option<&mut WarmStart<T>>,
        out: &mut [[T; 2]],
    ) -> Result<(), ForwardError> {
        let r = self.receiver_depths_m.len();
        let expected = self.tones_hz.len() * r;
        if out.len() != expected || r == 0 {
            return Err(ForwardError::Length {
                expected,
                found: out.len(),
            });
        }
        let env = self.environment(theta)?;
        let mut row = [Complex::new(T::zero(), T::zero()); MAX_RECEIVERS];
        let row = &mut row[..r];
        for (i, (&f, slot)) in self
            .tones_hz
            .iter()
            .zip(out.chunks_exact_mut(r))
            .enumerate()
        {
            match seeds
                .as_deref_mut()
                .and_then(|w| w.tones.get_mut(i).map(|s| (s, &mut w.used)))
            {
                Some((s, used)) => {
                    let warm = env
                        .modes_from(f, s, modes)
                        .map_err(ForwardError::Acoustics)?;
                    used[usize::from(!warm)] += 1;
                }
                None => env.modes(f, modes).map_err(ForwardError::Acoustics)?,
            }
            env.pressure_of(modes, env.source_range, &self.receiver_depths_m, row)
                .map_err(ForwardError::Acoustics)?;
            for (o, p) in slot.iter_mut().zip(row.iter()) {
                *o = [p.re, p.im];
            }
        }
        Ok(())
    }

    /// The same template in another float type (f64 → f32 for the model file).
    pub fn cast<U: Real>(&self) -> EnvironmentTemplate<U> {
        let c = |v: &T| U::lit(v.to_f64().unwrap_or(f64::NAN));
        EnvironmentTemplate {
            waveguide: self.waveguide,
            values: self.values.each_ref().map(c),
            unknowns: self
                .unknowns
                .iter()
                .map(|u| Unknown {
                    param: u.param,
                    prior: u.prior.cast(),
                })
                .collect(),
            tones_hz: self.tones_hz.iter().map(c).collect(),
            receiver_depths_m: self.receiver_depths_m.iter().map(c).collect(),
            snr_db: c(&self.snr_db),
            features: self.features,
            water_profile: self
                .water_profile
                .iter()
                .map(|p| SspPoint::new(c(&p.depth), c(&p.speed)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prior draws land in each unknown's support, in x order, with a finite log prior;
    /// a θ of the wrong length is refused.
    #[test]
    fn prior_draws_fill_the_unknowns_in_order() {
        let mut unknowns = Vec::new();
        let depth = Prior::Uniform {
            min: 200.5,
            max: 236.5,
        };
        let range = Prior::LogUniform {
            min: 1000.0,
            max: 8000.0,
        };
        let _ = unknowns.push(Unknown {
            param: 2,
            prior: depth,
        });
        let _ = unknowns.push(Unknown {
            param: 0,
            prior: range,
        });
        let t = EnvironmentTemplate {
            waveguide: WaveguideKind::Pekeris,
            values: [1.0; PARAM_COUNT],
            unknowns,
            tones_hz: Vec::new(),
            receiver_depths_m: Vec::new(),
            snr_db: 20.0,
            features: FeatureKind::RawPressure,
            water_profile: Vec::new(),
        };
        let mut rng = Rng::new(1);
        let mut theta = [0.0f64; 2];
        for _ in 0..1000 {
            t.draw_prior(&mut rng, &mut theta).unwrap();
            assert!((200.5..=236.5).contains(&theta[0]), "{theta:?}");
            assert!((1000.0..=8000.0).contains(&theta[1]), "{theta:?}");
            assert!(t.log_prior(&theta).is_finite());
        }
        // The same stream as the priors' own draws, one per unknown in turn.
        let mut a = Rng::new(4);
        let mut b = Rng::new(4);
        t.draw_prior(&mut a, &mut theta).unwrap();
        assert_eq!(theta, [depth.draw(&mut b), range.draw(&mut b)]);
        assert!(t.draw_prior(&mut rng, &mut [0.0; 3]).is_err());
    }
}

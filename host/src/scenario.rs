//! Scenario files: geometry, tones, noise, features and, for every physical
//! parameter, a fixed value or a prior.
//!
//! ```toml
//! name = "gi-pekeris"
//! model = "pekeris"                      # or "layered" (one sediment layer)
//! [observation]
//! tones_hz = [49.0, 64.0]
//! receiver_depths_m = [30.0, 70.0]
//! snr_db = 20.0
//! features = "relative_transfer_function"   # or "raw_pressure"
//! [parameters]
//! water_depth_m = { prior = "uniform", min = 200.5, max = 236.5 }
//! water_sound_speed_mps = 1560.0
//! ```
//!
//! Priors: `uniform` (min, max), `normal` (mean, std, and `min` and/or `max` to truncate
//! it: every parameter has a lower bound, so in practice `min` is needed), `log_uniform`
//! (min, max). Unknowns
//! (parameters with a prior) appear in the posterior in the order of
//! `vina_core::parameters::PARAMETERS`, the one parameter table.

use std::path::Path;

use serde::Serialize;
use vina_core::acoustics::SspPoint;
use vina_core::environment::Environment;
use vina_core::features::FeatureKind;
use vina_core::limits::{MAX_PARAMS, MAX_RECEIVERS, MAX_SSP_POINTS, MAX_TONES};
use vina_core::parameters::{self, PARAM_COUNT};
use vina_core::rng::Rng;
use vina_core::template::{EnvironmentTemplate, GeometryError, Unknown, check_geometry};

use crate::error::refuse;

pub use vina_core::environment::WaveguideKind;
pub use vina_core::parameters::{PARAMETERS, Parameter};
pub use vina_core::prior::Prior;

/// A parameter's role in a scenario.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamSpec {
    /// Known value.
    Fixed(f64),
    /// Unknown, with a prior.
    Prior(Prior<f64>),
}

impl ParamSpec {
    /// Range of values it can take.
    pub fn range(&self) -> (f64, f64) {
        match self {
            Self::Fixed(v) => (*v, *v),
            Self::Prior(p) => p.support(),
        }
    }
}

/// The scenario file's spelling (a number, or `{prior = "uniform", min, max}` …): the
/// content [`Scenario::hash`] covers, so models keep their scenario's hash.
impl Serialize for ParamSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let p = match self {
            Self::Fixed(v) => return s.serialize_f64(*v),
            Self::Prior(p) => p,
        };
        let mut m = s.serialize_map(Some(3))?;
        match *p {
            Prior::Uniform { min, max } => {
                m.serialize_entry("prior", "uniform")?;
                m.serialize_entry("min", &min)?;
                m.serialize_entry("max", &max)?;
            }
            Prior::Normal { mean, std } => {
                m.serialize_entry("prior", "normal")?;
                m.serialize_entry("mean", &mean)?;
                m.serialize_entry("std", &std)?;
            }
            Prior::LogUniform { min, max } => {
                m.serialize_entry("prior", "log_uniform")?;
                m.serialize_entry("min", &min)?;
                m.serialize_entry("max", &max)?;
            }
            Prior::TruncatedNormal {
                mean,
                std,
                min,
                max,
            } => {
                // the file's spelling: a normal with its (finite) bounds
                m.serialize_entry("prior", "normal")?;
                m.serialize_entry("mean", &mean)?;
                m.serialize_entry("std", &std)?;
                if min.is_finite() {
                    m.serialize_entry("min", &min)?;
                }
                if max.is_finite() {
                    m.serialize_entry("max", &max)?;
                }
            }
        }
        m.end()
    }
}

/// A parsed, validated scenario.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scenario {
    /// Short name.
    pub name: String,
    /// One line of description.
    pub description: String,
    /// Waveguide model.
    #[serde(serialize_with = "waveguide_name")]
    pub model: WaveguideKind,
    /// Tone frequencies (Hz).
    pub tones_hz: Vec<f64>,
    /// Receiver depths (m), increasing.
    pub receiver_depths_m: Vec<f64>,
    /// Signal-to-noise ratio per tone (dB); the noise model is `vina_core::likelihood`'s.
    pub snr_db: f64,
    /// Features the networks see.
    #[serde(serialize_with = "feature_name")]
    pub features: FeatureKind,
    /// The model's parameters in [`PARAMETERS`] order.
    pub parameters: Vec<(&'static str, ParamSpec)>,
    /// The water's sound-speed profile, (depth m, speed m/s) from the surface down,
    /// C-linear and constant below the last point; empty: isovelocity water at
    /// `water_sound_speed_mps`. (Left out of the hash when empty, so scenarios without
    /// one keep their hash.)
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub water_profile: Vec<(f64, f64)>,
}

fn waveguide_name<S: serde::Serializer>(k: &WaveguideKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match k {
        WaveguideKind::Pekeris => "pekeris",
        WaveguideKind::Layered => "layered",
    })
}

fn feature_name<S: serde::Serializer>(k: &FeatureKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match k {
        FeatureKind::RawPressure => "raw_pressure",
        FeatureKind::RelativeTransferFunction => "relative_transfer_function",
    })
}

/// FNV-1a, 64 bit: a stable hash with no dependency (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn number(v: &toml::Value, at: &str) -> anyhow::Result<f64> {
    let x = match v {
        toml::Value::Float(f) => *f,
        toml::Value::Integer(i) => *i as f64,
        other => {
            return Err(refuse(format!(
                "{at}: expected a number, found {}",
                other.type_str()
            )));
        }
    };
    if !x.is_finite() {
        return Err(refuse(format!("{at}: must be a finite number, found {x}")));
    }
    Ok(x)
}

fn numbers(v: Option<&toml::Value>, at: &str) -> anyhow::Result<Vec<f64>> {
    let arr = v
        .and_then(toml::Value::as_array)
        .ok_or_else(|| refuse(format!("{at}: expected an array of numbers")))?;
    if arr.is_empty() {
        return Err(refuse(format!("{at}: must not be empty")));
    }
    arr.iter()
        .enumerate()
        .map(|(i, x)| number(x, &format!("{at}[{i}]")))
        .collect()
}

fn prior(v: &toml::Value, at: &str) -> anyhow::Result<Prior<f64>> {
    let t = v
        .as_table()
        .ok_or_else(|| refuse(format!("{at}: expected a number or a prior table")))?;
    let kind = t
        .get("prior")
        .and_then(toml::Value::as_str)
        .ok_or_else(|| {
            refuse(format!(
                "{at}: a prior table needs `prior = \"uniform\" | \"normal\" | \"log_uniform\"`"
            ))
        })?;
    let field = |name: &str| -> anyhow::Result<f64> {
        number(
            t.get(name)
                .ok_or_else(|| refuse(format!("{at}: {kind} prior needs `{name}`")))?,
            &format!("{at}.{name}"),
        )
    };
    let allowed: &[&str] = match kind {
        "uniform" | "log_uniform" => &["prior", "min", "max"],
        "normal" => &["prior", "mean", "std", "min", "max"],
        other => {
            return Err(refuse(format!(
                "{at}: unknown prior kind '{other}' (expected uniform, normal or log_uniform)"
            )));
        }
    };
    if let Some(extra) = t.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(refuse(format!(
            "{at}: unknown field `{extra}` in a {kind} prior"
        )));
    }
    let p = match kind {
        "normal" if t.contains_key("min") || t.contains_key("max") => {
            let bound = |name: &str, none: f64| {
                if t.contains_key(name) {
                    field(name)
                } else {
                    Ok(none)
                }
            };
            Prior::TruncatedNormal {
                mean: field("mean")?,
                std: field("std")?,
                min: bound("min", f64::NEG_INFINITY)?,
                max: bound("max", f64::INFINITY)?,
            }
        }
        "normal" => Prior::Normal {
            mean: field("mean")?,
            std: field("std")?,
        },
        "uniform" => Prior::Uniform {
            min: field("min")?,
            max: field("max")?,
        },
        _ => Prior::LogUniform {
            min: field("min")?,
            max: field("max")?,
        },
    };
    match p {
        Prior::Uniform { min, max } | Prior::LogUniform { min, max } if min >= max => Err(refuse(
            format!("{at}: needs min < max, found min {min}, max {max}"),
        )),
        Prior::LogUniform { min, .. } if min <= 0.0 => Err(refuse(format!(
            "{at}: log_uniform needs min > 0, found {min}"
        ))),
        Prior::Normal { std, .. } | Prior::TruncatedNormal { std, .. } if std <= 0.0 => {
            Err(refuse(format!("{at}: needs std > 0, found {std}")))
        }
        Prior::TruncatedNormal { min, max, .. } if min >= max => Err(refuse(format!(
            "{at}: a truncated normal needs min < max, found min {min}, max {max}"
        ))),
        p if !p.is_valid() => Err(refuse(format!(
            "{at}: the normal has no representable mass between min and max (mean and std put it all outside); widen [min, max] or move the mean"
        ))),
        p => Ok(p),
    }
}

/// The `[water_profile]` table: `depths_m` from 0 m increasing, `speeds_mps` finite and
/// positive, as many of each (at most `MAX_SSP_POINTS`), and `source` (where the numbers
/// come from, required: a profile is data). The water sound speed parameter must then be
/// fixed at the profile's surface speed (one value, no ambiguity about which is used).
fn water_profile(
    v: &toml::Value,
    at: &str,
    parameters: &[(&'static str, ParamSpec)],
) -> anyhow::Result<Vec<(f64, f64)>> {
    let t = v
        .as_table()
        .ok_or_else(|| refuse(format!("{at}: expected a table")))?;
    for key in t.keys() {
        if !["depths_m", "speeds_mps", "source"].contains(&key.as_str()) {
            return Err(refuse(format!("{at}: unknown field `{key}`")));
        }
    }
    if t.get("source")
        .and_then(toml::Value::as_str)
        .is_none_or(str::is_empty)
    {
        return Err(refuse(format!(
            "{at}: `source` is required: say where the profile comes from (cast, date, reference)"
        )));
    }
    let depths = numbers(t.get("depths_m"), &format!("{at}.depths_m"))?;
    let speeds = numbers(t.get("speeds_mps"), &format!("{at}.speeds_mps"))?;
    if depths.len() != speeds.len() {
        return Err(refuse(format!(
            "{at}: {} depths_m but {} speeds_mps (one speed per depth)",
            depths.len(),
            speeds.len()
        )));
    }
    if depths.len() > MAX_SSP_POINTS {
        return Err(refuse(format!(
            "{at}: {} points; at most {MAX_SSP_POINTS}",
            depths.len()
        )));
    }
    if depths[0] != 0.0 {
        return Err(refuse(format!(
            "{at}.depths_m: the first point must be at the surface, 0 m (found {})",
            depths[0]
        )));
    }
    if let Some(i) = depths.windows(2).position(|w| w[1] <= w[0]) {
        return Err(refuse(format!(
            "{at}.depths_m[{}]: depths must increase ({} follows {})",
            i + 1,
            depths[i + 1],
            depths[i]
        )));
    }
    if let Some((i, c)) = speeds
        .iter()
        .enumerate()
        .find(|(_, c)| !(1300.0..=1700.0).contains(*c))
    {
        return Err(refuse(format!(
            "{at}.speeds_mps[{i}]: {c} m/s is not a sea-water sound speed (expected 1300–1700 m/s)"
        )));
    }
    let water = parameters
        .iter()
        .find(|(n, _)| *n == "water_sound_speed_mps")
        .map(|(_, s)| s);
    match water {
        Some(ParamSpec::Fixed(c)) if *c == speeds[0] => {}
        Some(ParamSpec::Fixed(c)) => {
            return Err(refuse(format!(
                "{at}: parameters.water_sound_speed_mps = {c} differs from the profile's surface speed {}; with a profile, fix it at that speed",
                speeds[0]
            )));
        }
        _ => {
            return Err(refuse(format!(
                "{at}: with a profile, parameters.water_sound_speed_mps must be fixed at the profile's surface speed {} (the profile is the water's sound speed)",
                speeds[0]
            )));
        }
    }
    Ok(depths.into_iter().zip(speeds).collect())
}

impl Scenario {
    /// Read and validate a scenario file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = crate::error::read_text_limited(
            path,
            "scenario",
            crate::error::MAX_TEXT_INPUT,
            crate::error::MAX_TEXT_INPUT_TEXT,
        )?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parse and validate scenario text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Self> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e| refuse(format!("{origin}: invalid TOML: {e}")))?;
        let at = |field: &str| format!("{origin}: {field}");
        for key in doc.keys() {
            if ![
                "name",
                "description",
                "model",
                "observation",
                "parameters",
                "water_profile",
            ]
            .contains(&key.as_str())
            {
                return Err(refuse(format!("{origin}: unknown top-level field `{key}`")));
            }
        }
        let name = doc
            .get("name")
            .and_then(toml::Value::as_str)
            .ok_or_else(|| refuse(at("name: required string")))?
            .to_owned();
        let description = doc
            .get("description")
            .and_then(toml::Value::as_str)
            .unwrap_or("")
            .to_owned();
        let model = match doc.get("model").and_then(toml::Value::as_str) {
            Some("pekeris") => WaveguideKind::Pekeris,
            Some("layered") => WaveguideKind::Layered,
            other => {
                return Err(refuse(at(&format!(
                    "model: expected \"pekeris\" or \"layered\", found {other:?}"
                ))));
            }
        };
        let obs = doc
            .get("observation")
            .and_then(toml::Value::as_table)
            .ok_or_else(|| refuse(at("[observation]: required table")))?;
        for key in obs.keys() {
            if !["tones_hz", "receiver_depths_m", "snr_db", "features"].contains(&key.as_str()) {
                return Err(refuse(at(&format!("observation.{key}: unknown field"))));
            }
        }
        let tones_hz = numbers(obs.get("tones_hz"), &at("observation.tones_hz"))?;
        if let Some(f) = tones_hz.iter().find(|f| **f <= 0.0) {
            return Err(refuse(at(&format!(
                "observation.tones_hz: frequencies must be > 0 Hz, found {f}"
            ))));
        }
        let receiver_depths_m = numbers(
            obs.get("receiver_depths_m"),
            &at("observation.receiver_depths_m"),
        )?;
        if let Some(z) = receiver_depths_m.iter().find(|z| **z < 0.0) {
            return Err(refuse(at(&format!(
                "observation.receiver_depths_m: depths must be ≥ 0 m, found {z}"
            ))));
        }
        if receiver_depths_m.windows(2).any(|w| w[1] <= w[0]) {
            return Err(refuse(at(
                "observation.receiver_depths_m: receivers must be ordered by increasing depth",
            )));
        }
        let snr_db = number(
            obs.get("snr_db")
                .ok_or_else(|| refuse(at("observation.snr_db: required")))?,
            &at("observation.snr_db"),
        )?;
        let features = match obs.get("features").and_then(toml::Value::as_str) {
            None | Some("relative_transfer_function") => FeatureKind::RelativeTransferFunction,
            Some("raw_pressure") => FeatureKind::RawPressure,
            Some(other) => {
                return Err(refuse(at(&format!(
                    "observation.features: expected \"relative_transfer_function\" or \"raw_pressure\", found \"{other}\""
                ))));
            }
        };

        let params = doc
            .get("parameters")
            .and_then(toml::Value::as_table)
            .ok_or_else(|| refuse(at("[parameters]: required table")))?;
        for key in params.keys() {
            match PARAMETERS.iter().find(|p| p.name == key) {
                None => return Err(refuse(at(&format!("parameters.{key}: unknown parameter")))),
                Some(p) if p.layered_only && model == WaveguideKind::Pekeris => {
                    return Err(refuse(at(&format!(
                        "parameters.{key}: only the layered model has a sediment layer"
                    ))));
                }
                _ => {}
            }
        }
        let mut parameters = Vec::new();
        for info in PARAMETERS
            .iter()
            .filter(|p| model == WaveguideKind::Layered || !p.layered_only)
        {
            let field = at(&format!("parameters.{}", info.name));
            let spec =
                match params.get(info.name) {
                    None => ParamSpec::Fixed(info.default.ok_or_else(|| {
                        refuse(format!("{field}: required (a number or a prior)"))
                    })?),
                    Some(v @ (toml::Value::Float(_) | toml::Value::Integer(_))) => {
                        ParamSpec::Fixed(number(v, &field)?)
                    }
                    Some(v) => ParamSpec::Prior(prior(v, &field)?),
                };
            let (lo, _) = spec.range();
            if !info.allows(lo) {
                let rel = if info.min_inclusive { "≥" } else { ">" };
                let fix = match spec {
                    ParamSpec::Prior(Prior::Normal { .. }) => format!(
                        "; a normal prior reaches −∞: truncate it with `min` (and optionally `max`), e.g. `{{ prior = \"normal\", mean = …, std = …, min = {} }}`{}",
                        info.min,
                        if info.min_inclusive {
                            ""
                        } else {
                            " (or just above it: the bound itself is not allowed)"
                        }
                    ),
                    ParamSpec::Prior(Prior::TruncatedNormal { .. }) => {
                        format!("; raise the normal's `min` to {rel} {}", info.min)
                    }
                    _ => String::new(),
                };
                return Err(refuse(format!(
                    "{field}: values must be {rel} {} {}, but the {} reaches {lo}{fix}",
                    info.min,
                    info.unit,
                    if matches!(spec, ParamSpec::Fixed(_)) {
                        "value"
                    } else {
                        "prior"
                    }
                )));
            }
            parameters.push((info.name, spec));
        }
        let water_profile = match doc.get("water_profile") {
            None => Vec::new(),
            Some(v) => water_profile(v, &at("[water_profile]"), &parameters)?,
        };
        let scenario = Self {
            name,
            description,
            model,
            tones_hz,
            receiver_depths_m,
            snr_db,
            features,
            parameters,
            water_profile,
        };
        scenario.check_geometry(origin)?;
        Ok(scenario)
    }

    fn range_of(&self, name: &str) -> (f64, f64) {
        self.parameters
            .iter()
            .find(|(n, _)| *n == name)
            .map_or((f64::NAN, f64::NAN), |(_, s)| s.range())
    }

    /// Cross-parameter checks over the whole prior box: receivers and source inside the
    /// water, half-space faster than the water (else no trapped modes). The rule is
    /// `vina_core::template::check_geometry`, the one a model file's template is checked
    /// by; this names the scenario's field and the values.
    fn check_geometry(&self, origin: &str) -> anyhow::Result<()> {
        let mut ranges = [(f64::NAN, f64::NAN); PARAM_COUNT];
        for (i, info) in PARAMETERS.iter().enumerate() {
            ranges[i] = self.range_of(info.name);
        }
        let Err(e) = check_geometry(self.model, &ranges, &self.receiver_depths_m) else {
            return Ok(());
        };
        Err(refuse(match e {
            GeometryError::BelowBound { param, lowest } => {
                let info = &PARAMETERS[param];
                let rel = if info.min_inclusive { "≥" } else { ">" };
                format!(
                    "{origin}: parameters.{}: values must be {rel} {} {}, but it reaches {lowest}",
                    info.name, info.min, info.unit
                )
            }
            GeometryError::ReceiversNotIncreasing => format!(
                "{origin}: observation.receiver_depths_m: receivers must be ordered by increasing depth"
            ),
            GeometryError::ReceiverAboveSurface { depth } => format!(
                "{origin}: observation.receiver_depths_m: depths must be ≥ 0 m, found {depth}"
            ),
            GeometryError::ReceiverBelowSeabed {
                deepest,
                water_depth_min,
            } => format!(
                "{origin}: observation.receiver_depths_m: receiver at {deepest} m lies below the seabed (water_depth_m can be {water_depth_min} m)"
            ),
            GeometryError::SourceBelowSeabed {
                source_max,
                water_depth_min,
            } => format!(
                "{origin}: parameters.source_depth_m: source can be at {source_max} m, below the seabed (water_depth_m can be {water_depth_min} m)"
            ),
            GeometryError::BottomNotFaster {
                bottom_min,
                water_max,
            } => format!(
                "{origin}: parameters.bottom_sound_speed_mps: the half-space must be faster than the water for trapped modes, but it can be {bottom_min} m/s against water up to {water_max} m/s"
            ),
        }))
    }

    /// Names of the unknowns (parameters with a prior), in posterior order.
    pub fn unknowns(&self) -> Vec<&'static str> {
        self.parameters
            .iter()
            .filter(|(_, s)| matches!(s, ParamSpec::Prior(_)))
            .map(|(n, _)| *n)
            .collect()
    }

    /// The priors of the unknowns, in posterior order.
    pub fn priors(&self) -> Vec<Prior<f64>> {
        self.parameters
            .iter()
            .filter_map(|(_, s)| match s {
                ParamSpec::Prior(p) => Some(*p),
                ParamSpec::Fixed(_) => None,
            })
            .collect()
    }

    /// Draw the unknowns from their priors (one [`Prior::draw`] each, posterior order).
    pub fn draw(&self, rng: &mut Rng) -> Vec<f64> {
        self.priors().iter().map(|p| p.draw(rng)).collect()
    }

    /// The environment for given values of the unknowns (posterior order), through the
    /// scenario's [`EnvironmentTemplate`] (the only path from θ to pressure).
    pub fn environment(&self, unknowns: &[f64]) -> anyhow::Result<Environment<f64>> {
        let n = self.unknowns().len();
        if unknowns.len() != n {
            return Err(refuse(format!(
                "scenario {}: expected {n} unknown values ({}), found {}",
                self.name,
                self.unknowns().join(", "),
                unknowns.len()
            )));
        }
        self.compile()?
            .environment(unknowns)
            .map_err(|e| refuse(format!("scenario {}: {e}", self.name)))
    }

    /// What the exact posterior needs of this scenario, in f64 (`vina-core`'s template:
    /// the host's reference posteriors and refinement, and in f32 the model file's).
    pub fn template(&self) -> anyhow::Result<EnvironmentTemplate<f64>> {
        let t = self.compile()?;
        t.validate()
            .map_err(|e| refuse(format!("scenario {}: {e}", self.name)))?;
        Ok(t)
    }

    /// The scenario as a template, not yet checked for what the exact posterior needs (a
    /// fully fixed scenario, for `vina forward`, has no unknowns).
    fn compile(&self) -> anyhow::Result<EnvironmentTemplate<f64>> {
        let too_many = |what: &str, n: usize, cap: usize| {
            refuse(format!(
                "scenario {}: {n} {what} do not fit the environment template (at most {cap})",
                self.name
            ))
        };
        let mut values = [0.0; PARAM_COUNT];
        let mut unknowns = heapless::Vec::new();
        for (name, spec) in &self.parameters {
            let index = parameters::index(name).ok_or_else(|| {
                refuse(format!("scenario {}: unknown parameter {name}", self.name))
            })?;
            match spec {
                ParamSpec::Fixed(v) => values[index] = *v,
                ParamSpec::Prior(p) => {
                    values[index] = f64::NAN;
                    let n = self.unknowns().len();
                    unknowns
                        .push(Unknown {
                            param: index as u8,
                            prior: *p,
                        })
                        .map_err(|_| too_many("unknowns", n, MAX_PARAMS))?;
                }
            }
        }
        let tones = heapless::Vec::from_slice(&self.tones_hz)
            .map_err(|_| too_many("tones", self.tones_hz.len(), MAX_TONES))?;
        let receivers = heapless::Vec::from_slice(&self.receiver_depths_m)
            .map_err(|_| too_many("receivers", self.receiver_depths_m.len(), MAX_RECEIVERS))?;
        let profile: Vec<SspPoint<f64>> = self
            .water_profile
            .iter()
            .map(|&(z, c)| SspPoint::new(z, c))
            .collect();
        let t = EnvironmentTemplate {
            waveguide: self.model,
            values,
            unknowns,
            tones_hz: tones,
            receiver_depths_m: receivers,
            snr_db: self.snr_db,
            features: self.features,
            water_profile: heapless::Vec::from_slice(&profile)
                .map_err(|_| too_many("sound-speed points", profile.len(), MAX_SSP_POINTS))?,
        };
        Ok(t)
    }

    /// Values of the unknowns given as `name=value` pairs (all unknowns required).
    pub fn parse_truth(&self, text: &str) -> anyhow::Result<Vec<f64>> {
        let mut out = vec![f64::NAN; self.unknowns().len()];
        for pair in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| refuse(format!("truth: expected name=value, found `{pair}`")))?;
            let i = self
                .unknowns()
                .iter()
                .position(|n| *n == name.trim())
                .ok_or_else(|| {
                    refuse(format!(
                        "truth: `{name}` is not an unknown of {} ({})",
                        self.name,
                        self.unknowns().join(", ")
                    ))
                })?;
            out[i] = value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    refuse(format!(
                        "truth: {name}: expected a finite number, found `{value}`"
                    ))
                })?;
        }
        if let Some(i) = out.iter().position(|v| v.is_nan()) {
            return Err(refuse(format!(
                "truth: missing a value for `{}`",
                self.unknowns()[i]
            )));
        }
        Ok(out)
    }

    /// Hash of the scenario's content (not its formatting or comments): a model trained
    /// for one scenario refuses observations of another.
    pub fn hash(&self) -> u64 {
        fnv1a(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }
}

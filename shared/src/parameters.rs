//! The physical parameters of a range-independent environment: the one table of their
//! names, units, bounds and defaults. Scenario files name parameters from it, the
//! environment template indexes it, and posteriors list unknowns in its order.

/// One physical parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Parameter {
    /// Name in scenario files, posteriors and reports.
    pub name: &'static str,
    /// Unit (KRAKEN's: m, m/s, g/cm³, dB/λ).
    pub unit: &'static str,
    /// Smallest allowed value.
    pub min: f64,
    /// True when `min` itself is allowed.
    pub min_inclusive: bool,
    /// Value when a scenario does not mention it (`None`: required).
    pub default: Option<f64>,
    /// Only the layered waveguide (a sediment layer) has it.
    pub layered_only: bool,
}

impl Parameter {
    /// True when `x` is an allowed value (above `min`, or at it when inclusive).
    pub fn allows(&self, x: f64) -> bool {
        if self.min_inclusive {
            x >= self.min
        } else {
            x > self.min
        }
    }
}

const fn p(
    name: &'static str,
    unit: &'static str,
    min_inclusive: bool,
    default: Option<f64>,
    layered_only: bool,
) -> Parameter {
    Parameter {
        name,
        unit,
        min: 0.0,
        min_inclusive,
        default,
        layered_only,
    }
}

/// Number of physical parameters.
pub const PARAM_COUNT: usize = 13;

/// Every parameter, in posterior order (an environment's values are indexed by it).
pub const PARAMETERS: [Parameter; PARAM_COUNT] = [
    p("source_range_m", "m", false, None, false),
    p("source_depth_m", "m", true, None, false),
    p("water_depth_m", "m", false, None, false),
    p("water_sound_speed_mps", "m/s", false, None, false),
    p("water_density_gcc", "g/cm³", false, Some(1.0), false),
    p(
        "water_attenuation_db_per_wavelength",
        "dB/λ",
        true,
        Some(0.0),
        false,
    ),
    p("sediment_thickness_m", "m", false, None, true),
    p("sediment_sound_speed_mps", "m/s", false, None, true),
    p("sediment_density_gcc", "g/cm³", false, None, true),
    p(
        "sediment_attenuation_db_per_wavelength",
        "dB/λ",
        true,
        Some(0.0),
        true,
    ),
    p("bottom_sound_speed_mps", "m/s", false, None, false),
    p("bottom_density_gcc", "g/cm³", false, None, false),
    p(
        "bottom_attenuation_db_per_wavelength",
        "dB/λ",
        true,
        Some(0.0),
        false,
    ),
];

/// The parameters' names, [`PARAMETERS`] order.
pub const PARAM_NAMES: [&str; PARAM_COUNT] = {
    let mut names = [""; PARAM_COUNT];
    let mut i = 0;
    while i < PARAM_COUNT {
        names[i] = PARAMETERS[i].name;
        i += 1;
    }
    names
};

/// Index of the parameter called `name`.
pub fn index(name: &str) -> Option<usize> {
    PARAM_NAMES.iter().position(|n| *n == name)
}

/// Where a posterior parameter's allowed values come from ([`Support::of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportSource {
    /// The prior of the environment template the model file carries, within the
    /// parameter's physical bound.
    Template,
    /// The physical bound of the parameter table (the file carries no template).
    ParameterTable,
    /// A parameter name the table does not know: only finiteness is checked.
    Unknown,
}

/// The values a posterior draw of one parameter may take: `[min, max]` (`min` excluded
/// when the physical bound excludes it), ±∞ when unbounded. Host and buoy count draws
/// outside it with the same rule (docs/architecture.md, "Answers a user can trust").
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Support {
    /// Lower bound.
    pub min: f32,
    /// Whether `min` itself is inside.
    pub min_inclusive: bool,
    /// Upper bound.
    pub max: f32,
    /// Where the bounds come from.
    pub source: SupportSource,
}

impl Support {
    /// Any finite value: a parameter the table does not know.
    pub const UNKNOWN: Self = Self {
        min: f32::NEG_INFINITY,
        min_inclusive: true,
        max: f32::INFINITY,
        source: SupportSource::Unknown,
    };

    /// The support of parameter `param` ([`PARAMETERS`] index): `prior` (the template's
    /// prior support, when the model file carries one) narrowed by the physical bound. In
    /// f32, the precision of the draws and of a model file's priors (the physical bounds,
    /// all 0, are exact in it); f32 compares also keep the buoy's code small.
    pub fn of(param: usize, prior: Option<(f32, f32)>) -> Self {
        let Some(p) = PARAMETERS.get(param) else {
            return Self::UNKNOWN;
        };
        let (mut min, max, source) = match prior {
            Some((lo, hi)) => (lo, hi, SupportSource::Template),
            None => (
                f32::NEG_INFINITY,
                f32::INFINITY,
                SupportSource::ParameterTable,
            ),
        };
        let mut min_inclusive = true;
        let pmin = p.min as f32;
        if pmin > min || (pmin == min && !p.min_inclusive) {
            (min, min_inclusive) = (pmin, p.min_inclusive);
        }
        Self {
            min,
            min_inclusive,
            max,
            source,
        }
    }

    /// Whether `x` is a finite value inside the support.
    pub fn contains(&self, x: f32) -> bool {
        x.is_finite() && (x > self.min || (self.min_inclusive && x == self.min)) && x <= self.max
    }
}

/// Fraction of a parameter's posterior draws outside its [`Support`] past which `vina
/// invert` and `vina listen` warn: a network spilling past a prior bound, or extrapolating.
pub const OUTSIDE_SUPPORT_WARN_FRACTION: f64 = 0.01;

/// Index of [`PARAMETERS`]' source range.
pub const SOURCE_RANGE: usize = 0;
/// … source depth.
pub const SOURCE_DEPTH: usize = 1;
/// … water depth.
pub const WATER_DEPTH: usize = 2;
/// … first of the water's speed, density, attenuation.
pub const WATER: usize = 3;
/// … sediment thickness.
pub const SEDIMENT_THICKNESS: usize = 6;
/// … first of the sediment's speed, density, attenuation.
pub const SEDIMENT: usize = 7;
/// … first of the bottom half-space's speed, density, attenuation.
pub const BOTTOM: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;

    /// The named indices point at the parameters they name.
    #[test]
    fn named_indices_match_the_table() {
        for (i, name) in [
            (SOURCE_RANGE, "source_range_m"),
            (SOURCE_DEPTH, "source_depth_m"),
            (WATER_DEPTH, "water_depth_m"),
            (WATER, "water_sound_speed_mps"),
            (WATER + 1, "water_density_gcc"),
            (WATER + 2, "water_attenuation_db_per_wavelength"),
            (SEDIMENT_THICKNESS, "sediment_thickness_m"),
            (SEDIMENT, "sediment_sound_speed_mps"),
            (SEDIMENT + 2, "sediment_attenuation_db_per_wavelength"),
            (BOTTOM, "bottom_sound_speed_mps"),
            (BOTTOM + 2, "bottom_attenuation_db_per_wavelength"),
        ] {
            assert_eq!(PARAM_NAMES[i], name);
            assert_eq!(index(name), Some(i));
        }
        assert_eq!(index("nonsense"), None);
    }
}

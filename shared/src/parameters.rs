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

//! Prior densities of a scenario's unknowns (design §4): one implementation for the
//! host's reference posteriors and the buoy's refinement.

use serde::{Deserialize, Serialize};

use crate::acoustics::Real;

/// A prior distribution of one unknown.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Prior<T> {
    /// Uniform on [min, max].
    Uniform {
        /// Lower bound.
        min: T,
        /// Upper bound.
        max: T,
    },
    /// Normal with mean and standard deviation.
    Normal {
        /// Mean.
        mean: T,
        /// Standard deviation (positive).
        std: T,
    },
    /// Log-uniform on [min, max], 0 < min.
    LogUniform {
        /// Lower bound.
        min: T,
        /// Upper bound.
        max: T,
    },
}

impl<T: Real> Prior<T> {
    /// Log density at `x`; −∞ outside the support (and for NaN).
    pub fn log_density(&self, x: T) -> T {
        let inside = |min: T, max: T| min <= x && x <= max;
        match *self {
            Self::Uniform { min, max } if inside(min, max) => -(max - min).ln(),
            Self::LogUniform { min, max } if inside(min, max) => -(x * (max.ln() - min.ln())).ln(),
            Self::Normal { mean, std } if !x.is_nan() => {
                let u = (x - mean) / std;
                -T::lit(0.5) * u * u - (std * (T::lit(2.0) * T::PI()).sqrt()).ln()
            }
            _ => T::neg_infinity(),
        }
    }

    /// Smallest and largest value a draw can take (±∞ for a normal).
    pub fn support(&self) -> (T, T) {
        match *self {
            Self::Uniform { min, max } | Self::LogUniform { min, max } => (min, max),
            Self::Normal { .. } => (T::neg_infinity(), T::infinity()),
        }
    }

    /// True when the parameters define a proper density: finite, `min < max`, `std > 0`,
    /// `min > 0` for a log-uniform.
    pub fn is_valid(&self) -> bool {
        match *self {
            Self::Uniform { min, max } => min.is_finite() && max.is_finite() && min < max,
            Self::LogUniform { min, max } => {
                min.is_finite() && max.is_finite() && T::zero() < min && min < max
            }
            Self::Normal { mean, std } => mean.is_finite() && std.is_finite() && std > T::zero(),
        }
    }

    /// The same prior in another float type (rounded to nearest for f32).
    pub fn cast<U: Real>(&self) -> Prior<U> {
        let c = |v: T| U::lit(v.to_f64().unwrap_or(f64::NAN));
        match *self {
            Self::Uniform { min, max } => Prior::Uniform {
                min: c(min),
                max: c(max),
            },
            Self::Normal { mean, std } => Prior::Normal {
                mean: c(mean),
                std: c(std),
            },
            Self::LogUniform { min, max } => Prior::LogUniform {
                min: c(min),
                max: c(max),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn densities_integrate_to_one() {
        let priors = [
            Prior::Uniform { min: 2.0, max: 5.0 },
            Prior::LogUniform { min: 0.5, max: 8.0 },
            Prior::Normal {
                mean: 1.0,
                std: 0.3,
            },
        ];
        for p in priors {
            let (a, b) = match p {
                Prior::Normal { .. } => (-2.0, 4.0),
                _ => p.support(),
            };
            let n = 200_000;
            let h = (b - a) / n as f64;
            let integral: f64 = (0..n)
                .map(|i| p.log_density(a + (i as f64 + 0.5) * h).exp() * h)
                .sum();
            assert!((integral - 1.0).abs() < 1e-6, "{p:?}: {integral}");
            assert_eq!(p.log_density(f64::NAN), f64::NEG_INFINITY);
        }
        assert_eq!(
            Prior::Uniform { min: 2.0, max: 5.0 }.log_density(5.1),
            f64::NEG_INFINITY
        );
        assert!(!Prior::LogUniform { min: 0.0, max: 1.0 }.is_valid());
        assert!(
            !Prior::Normal {
                mean: 0.0,
                std: 0.0
            }
            .is_valid()
        );
    }
}

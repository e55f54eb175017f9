//! Prior densities and draws of a scenario's unknowns: one implementation for the
//! simulator's draws, the host's reference posteriors and the buoy's refinement.

use serde::{Deserialize, Serialize};

use crate::acoustics::Real;
use crate::rng::Rng;

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

    /// One draw: one f64 uniform through the inverse CDF (uniform, log-uniform) or one
    /// f64 normal (normal), converted to `T`, so the random stream does not depend on `T`
    /// (the simulator's training sets and a buoy's fallback draw the same numbers).
    /// Bounded draws are clamped to the support (rounding of `exp`/`ln` could leave it).
    pub fn draw(&self, rng: &mut Rng) -> T {
        match *self {
            Self::Uniform { min, max } => {
                let u = T::lit(rng.uniform_f64());
                (min + (max - min) * u).max(min).min(max)
            }
            Self::LogUniform { min, max } => {
                let u = T::lit(rng.uniform_f64());
                let (a, b) = (min.ln(), max.ln());
                (a + (b - a) * u).exp().max(min).min(max)
            }
            Self::Normal { mean, std } => mean + std * T::lit(rng.normal_f64()),
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

    /// One prior of each kind, for the tests below.
    fn one_of_each() -> [Prior<f64>; 3] {
        [
            Prior::Uniform { min: 2.0, max: 5.0 },
            Prior::LogUniform { min: 0.5, max: 8.0 },
            Prior::Normal {
                mean: 1.0,
                std: 0.3,
            },
        ]
    }

    #[test]
    fn densities_integrate_to_one() {
        let priors = one_of_each();
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

    /// Draws follow the density: the share in each tenth of a probability grid matches
    /// the integral of the density over it (binomial tolerance), and every draw lies in
    /// the support.
    #[test]
    fn draws_follow_the_density() {
        let priors = one_of_each();
        let n = 20_000;
        for p in priors {
            let mut rng = Rng::new(5);
            let draws: [f64; 20_000] = core::array::from_fn(|_| p.draw(&mut rng));
            let (a, b) = match p {
                Prior::Normal { .. } => (0.4, 1.6),
                _ => p.support(),
            };
            let h = (b - a) / 10.0;
            for k in 0..10 {
                let (lo, hi) = (a + k as f64 * h, a + (k + 1) as f64 * h);
                let m = 2000;
                let mass: f64 = (0..m)
                    .map(|i| {
                        p.log_density(lo + (i as f64 + 0.5) * h / m as f64).exp() * h / m as f64
                    })
                    .sum();
                let share = draws.iter().filter(|&&x| lo <= x && x < hi).count() as f64 / n as f64;
                let se = libm::sqrt(mass * (1.0 - mass) / n as f64);
                assert!(
                    (share - mass).abs() < 4.0 * se + 1e-9,
                    "{p:?} bin {k}: {share} vs {mass}"
                );
            }
            let (lo, hi) = p.support();
            assert!(draws.iter().all(|&x| lo <= x && x <= hi && x.is_finite()));
        }
        // f32 and f64 draw the same numbers from the same stream.
        let p = Prior::LogUniform { min: 0.5, max: 8.0 };
        let (mut r32, mut r64) = (Rng::new(9), Rng::new(9));
        for _ in 0..100 {
            let (x, y) = (p.cast::<f32>().draw(&mut r32), p.draw(&mut r64));
            assert!((f64::from(x) - y).abs() < 1e-5 * y);
        }
    }
}

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
    /// Normal with mean and standard deviation, truncated to [min, max] and renormalized
    /// there (min may be −∞ or max +∞, not both: that is [`Prior::Normal`]). Added after
    /// the other variants so that model files written before it still decode.
    TruncatedNormal {
        /// Mean of the untruncated normal.
        mean: T,
        /// Standard deviation of the untruncated normal (positive).
        std: T,
        /// Lower bound.
        min: T,
        /// Upper bound.
        max: T,
    },
}

/// Φ(x) of the standard normal, through `erfc` so that the lower tail keeps its
/// relative precision.
fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * core::f64::consts::FRAC_1_SQRT_2)
}

/// Mass of the standard normal on [a, b] (a ≤ b, either may be infinite), computed on
/// the side of the mean where neither Φ is close to 1.
fn normal_mass(a: f64, b: f64) -> f64 {
    if a + b > 0.0 {
        normal_cdf(-a) - normal_cdf(-b)
    } else {
        normal_cdf(b) - normal_cdf(a)
    }
}

/// The normal's mass on [min, max] (the truncated normal's normalizer), in f64.
fn standard_mass<T: Real>(mean: T, std: T, min: T, max: T) -> f64 {
    let f = |v: T| v.to_f64().unwrap_or(f64::NAN);
    let (m, s) = (f(mean), f(std));
    normal_mass((f(min) - m) / s, (f(max) - m) / s)
}

/// Φ⁻¹(p) for 0 < p < 1: Acklam's rational approximation (relative error 1.2e-9)
/// refined by one Halley step on `erfc`, which brings it to double precision.
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let x = if p < 0.024_25 {
        let q = libm::sqrt(-2.0 * libm::log(p));
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p > 1.0 - 0.024_25 {
        let q = libm::sqrt(-2.0 * libm::log(1.0 - p));
        -((((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0))
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // One Halley step: e = Φ(x) − p, u = e·√(2π)·e^{x²/2}.
    let e = normal_cdf(x) - p;
    let u = e * libm::sqrt(2.0 * core::f64::consts::PI) * libm::exp(0.5 * x * x);
    let refined = x - u / (1.0 + 0.5 * x * u);
    if refined.is_finite() { refined } else { x }
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
            Self::TruncatedNormal {
                mean,
                std,
                min,
                max,
            } if inside(min, max) => {
                let u = (x - mean) / std;
                let mass = standard_mass(mean, std, min, max);
                if mass.is_nan() || mass <= 0.0 {
                    return T::neg_infinity();
                }
                let ln_mass = T::lit(libm::log(mass));
                -T::lit(0.5) * u * u - (std * (T::lit(2.0) * T::PI()).sqrt()).ln() - ln_mass
            }
            _ => T::neg_infinity(),
        }
    }

    /// One draw: one f64 uniform through the inverse CDF (uniform, log-uniform, truncated
    /// normal) or one f64 normal (normal), converted to `T`, so the random stream does not
    /// depend on `T` (the simulator's training sets and a buoy's fallback draw the same
    /// numbers). Bounded draws are clamped to the support (rounding of `exp`/`ln` could
    /// leave it). The truncated normal is drawn in f64 whatever `T` is: no loop, no
    /// rejection, exactly one uniform per draw.
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
            Self::TruncatedNormal {
                mean,
                std,
                min,
                max,
            } => {
                let u = rng.uniform_f64();
                let f = |v: T| v.to_f64().unwrap_or(f64::NAN);
                let (m, s) = (f(mean), f(std));
                let (a, b) = ((f(min) - m) / s, (f(max) - m) / s);
                // Mirror so the interval's centre is at or below the mean: then Φ(lo) is a
                // lower-tail value that `erfc` gives to full relative precision.
                let flip = a + b > 0.0;
                let (lo, hi) = if flip { (-b, -a) } else { (a, b) };
                let (p_lo, p_hi) = (normal_cdf(lo), normal_cdf(hi));
                let p = (p_lo + (p_hi - p_lo) * u).clamp(f64::MIN_POSITIVE, 1.0 - f64::EPSILON);
                let z = normal_quantile(p).max(lo).min(hi);
                let z = if flip { -z } else { z };
                T::lit(m + s * z).max(min).min(max)
            }
        }
    }

    /// Smallest and largest value a draw can take (±∞ for a normal).
    pub fn support(&self) -> (T, T) {
        match *self {
            Self::Uniform { min, max } | Self::LogUniform { min, max } => (min, max),
            Self::Normal { .. } => (T::neg_infinity(), T::infinity()),
            Self::TruncatedNormal { min, max, .. } => (min, max),
        }
    }

    /// True when the parameters define a proper density: finite, `min < max`, `std > 0`,
    /// `min > 0` for a log-uniform; a truncated normal's bounds may be infinite, but
    /// [min, max] must reach within 37 std of the mean (where its mass is representable).
    pub fn is_valid(&self) -> bool {
        match *self {
            Self::Uniform { min, max } => min.is_finite() && max.is_finite() && min < max,
            Self::LogUniform { min, max } => {
                min.is_finite() && max.is_finite() && T::zero() < min && min < max
            }
            Self::Normal { mean, std } => mean.is_finite() && std.is_finite() && std > T::zero(),
            Self::TruncatedNormal {
                mean,
                std,
                min,
                max,
            } => {
                // [min, max] must reach within 37 std of the mean, where the normal's mass
                // is representable in f64 (Φ(−37) ≈ 6e-300); no `erfc` here, so that
                // decoding a model file on the buoy does not link it.
                let reach = T::lit(37.0) * std;
                mean.is_finite()
                    && std.is_finite()
                    && std > T::zero()
                    && min < max
                    && min < mean + reach
                    && max > mean - reach
            }
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
            Self::TruncatedNormal {
                mean,
                std,
                min,
                max,
            } => Prior::TruncatedNormal {
                mean: c(mean),
                std: c(std),
                min: c(min),
                max: c(max),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 20,000 draws of `p` from `rng`: the share in each tenth of `(a, b)` matches the
    /// integral of the density over it (4 binomial standard errors), and every draw lies
    /// in the support.
    fn assert_draws_follow_density(p: &Prior<f64>, rng: &mut Rng, (a, b): (f64, f64)) {
        let n = 20_000;
        let draws: [f64; 20_000] = core::array::from_fn(|_| p.draw(rng));
        let h = (b - a) / 10.0;
        for k in 0..10 {
            let (lo, hi) = (a + k as f64 * h, a + (k + 1) as f64 * h);
            let m = 2000;
            let mass: f64 = (0..m)
                .map(|i| p.log_density(lo + (i as f64 + 0.5) * h / m as f64).exp() * h / m as f64)
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
        for p in priors {
            let mut rng = Rng::new(5);
            let range = match p {
                Prior::Normal { .. } => (0.4, 1.6),
                _ => p.support(),
            };
            assert_draws_follow_density(&p, &mut rng, range);
        }
        // f32 and f64 draw the same numbers from the same stream.
        let p = Prior::LogUniform { min: 0.5, max: 8.0 };
        let (mut r32, mut r64) = (Rng::new(9), Rng::new(9));
        for _ in 0..100 {
            let (x, y) = (p.cast::<f32>().draw(&mut r32), p.draw(&mut r64));
            assert!((f64::from(x) - y).abs() < 1e-5 * y);
        }
    }

    /// Truncated normals: two-sided, one-sided (max = +∞), deep in one tail and deep in
    /// the other (mass 1.3e-3 each), with the bounds off-centre.
    fn truncated_normals() -> [Prior<f64>; 4] {
        let t = |mean, std, min, max| Prior::TruncatedNormal {
            mean,
            std,
            min,
            max,
        };
        [
            t(1560.0, 10.0, 1545.0, 1590.0),
            t(0.2, 0.5, 0.0, f64::INFINITY),
            t(0.0, 1.0, 3.0, 5.0),
            t(10.0, 2.0, 0.0, 4.0),
        ]
    }

    /// Integration range: the support, an infinite bound replaced by mean + 12 std.
    fn finite_support(p: &Prior<f64>) -> (f64, f64) {
        let (a, b) = p.support();
        match *p {
            Prior::TruncatedNormal { mean, std, .. } => (
                if a.is_finite() { a } else { mean - 12.0 * std },
                if b.is_finite() { b } else { mean + 12.0 * std },
            ),
            _ => (a, b),
        }
    }

    #[test]
    fn truncated_normal_integrates_to_one_over_its_bounds() {
        for p in truncated_normals() {
            assert!(p.is_valid(), "{p:?}");
            let (a, b) = finite_support(&p);
            let n = 200_000;
            let h = (b - a) / n as f64;
            let integral: f64 = (0..n)
                .map(|i| p.log_density(a + (i as f64 + 0.5) * h).exp() * h)
                .sum();
            assert!((integral - 1.0).abs() < 1e-6, "{p:?}: {integral}");
            let (lo, hi) = p.support();
            assert_eq!(
                p.log_density(lo - 1e-9 * lo.abs().max(1.0)),
                f64::NEG_INFINITY
            );
            if hi.is_finite() {
                assert_eq!(
                    p.log_density(hi + 1e-9 * hi.abs().max(1.0)),
                    f64::NEG_INFINITY
                );
            }
            assert_eq!(p.log_density(f64::NAN), f64::NEG_INFINITY);
            // f32 agrees with f64
            let x = 0.5 * (a + b);
            let d32 = f64::from(p.cast::<f32>().log_density(x as f32));
            assert!((d32 - p.log_density(x)).abs() < 1e-4, "{p:?}: {d32}");
        }
        let t = |mean, std, min, max| Prior::TruncatedNormal {
            mean,
            std,
            min,
            max,
        };
        assert!(!t(0.0, 1.0, 2.0, 1.0).is_valid());
        assert!(!t(0.0, 0.0, 0.0, 1.0).is_valid());
        assert!(!t(0.0, 1.0, f64::NAN, 1.0).is_valid());
        assert!(!t(0.0, 1.0, 40.0, 41.0).is_valid()); // no representable mass
        assert!(!t(0.0, 1.0, -41.0, -40.0).is_valid());
        assert!(t(0.0, 1.0, 36.0, 37.5).is_valid());
    }

    /// Draws follow the density (binomial tolerance on ten bins of the support), lie in
    /// [min, max], take exactly one uniform each, and are the same numbers in f32 and f64.
    #[test]
    fn truncated_normal_draws_follow_the_density() {
        for p in truncated_normals() {
            let mut rng = Rng::new(11);
            assert_draws_follow_density(&p, &mut rng, finite_support(&p));
            // one uniform per draw: the stream continues where one uniform leaves it
            let (mut r1, mut r2) = (Rng::new(3), Rng::new(3));
            let _ = p.draw(&mut r1);
            let _ = r2.uniform_f64();
            assert_eq!(r1.uniform_f64(), r2.uniform_f64());
            let (mut r32, mut r64) = (Rng::new(9), Rng::new(9));
            for _ in 0..100 {
                let (x, y) = (p.cast::<f32>().draw(&mut r32), p.draw(&mut r64));
                assert!(
                    (f64::from(x) - y).abs() < 1e-5 * y.abs().max(1.0),
                    "{x} vs {y}"
                );
            }
        }
    }

    /// Φ⁻¹ is Φ's inverse to near double precision, tails included.
    #[test]
    fn normal_quantile_inverts_the_cdf() {
        for &p in &[
            1e-300,
            1e-30,
            1e-8,
            0.001,
            0.02425,
            0.1,
            0.5,
            0.77,
            0.97575,
            0.999,
            1.0 - 1e-12,
        ] {
            let x = normal_quantile(p);
            let back = normal_cdf(x);
            assert!(
                (back - p).abs() <= 1e-13 * p.min(1.0 - p).max(p * 1e-3),
                "{p}: Φ({x}) = {back}"
            );
        }
    }
}

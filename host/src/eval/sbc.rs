//! Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari & Gelman 2018): for
//! truths θ drawn from the prior and data simulated from them, the rank of θ among L
//! posterior draws is uniform on {0, …, L} for every parameter iff the posterior is
//! calibrated. A ∪-shaped histogram means too narrow, ∩-shaped too wide, a slope a bias.
//!
//! Why an accumulator: evaluation loops produce one observation's draws at a time; only
//! the ranks are kept.

use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::{EvalError, invalid, row_dim};

/// Ranks of the truths among their posterior draws, per parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Sbc {
    /// L: posterior draws per observation (ranks lie in 0..=L).
    pub draws: usize,
    /// `ranks[k][i]`: rank of observation i's truth of parameter k.
    pub ranks: Vec<Vec<usize>>,
}

/// Pearson's chi-square test of a histogram against expected counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChiSquare {
    pub statistic: f64,
    /// Degrees of freedom (bins − 1).
    pub dof: usize,
    /// P(χ²_dof ≥ statistic): small values reject uniformity.
    pub p_value: f64,
}

/// Number of draws strictly below `truth` (the SBC rank). Exact ties, impossible for
/// continuous posteriors, count as half, rounded down.
pub fn rank_of(truth: f64, draws: impl IntoIterator<Item = f64>) -> usize {
    let (mut below, mut ties) = (0, 0);
    for d in draws {
        if d < truth {
            below += 1;
        } else if d == truth {
            ties += 1;
        }
    }
    below + ties / 2
}

impl Sbc {
    /// An empty accumulator for `dim` parameters and `draws` (= L) draws per observation.
    pub fn new(dim: usize, draws: usize) -> Self {
        Self {
            draws,
            ranks: vec![Vec::new(); dim],
        }
    }

    /// Number of observations pushed.
    pub fn len(&self) -> usize {
        self.ranks.first().map_or(0, Vec::len)
    }

    /// Whether no observation was pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds one observation: its true parameters and exactly L posterior draws.
    pub fn push<R: AsRef<[f64]>>(&mut self, truth: &[f64], draws: &[R]) -> Result<(), EvalError> {
        let dim = row_dim(draws, "sbc draws")?;
        if dim != self.ranks.len() || truth.len() != dim {
            return Err(invalid(format!(
                "sbc: expected dimension {}, got truth {} and draws {dim}",
                self.ranks.len(),
                truth.len()
            )));
        }
        if draws.len() != self.draws {
            return Err(invalid(format!(
                "sbc: expected {} draws, got {}",
                self.draws,
                draws.len()
            )));
        }
        for (k, ranks) in self.ranks.iter_mut().enumerate() {
            ranks.push(rank_of(truth[k], draws.iter().map(|d| d.as_ref()[k])));
        }
        Ok(())
    }

    /// Rank histogram of parameter `k` with `bins` bins: rank r falls in bin
    /// ⌊r · bins / (L + 1)⌋. Choose bins dividing L + 1 (e.g. L = 99, 10 or 20 bins) so
    /// that every bin holds the same number of rank values.
    pub fn histogram(&self, k: usize, bins: usize) -> Vec<usize> {
        let bins = bins.max(1);
        let mut h = vec![0; bins];
        if let Some(ranks) = self.ranks.get(k) {
            for &r in ranks {
                h[(r * bins / (self.draws + 1)).min(bins - 1)] += 1;
            }
        }
        h
    }

    /// Chi-square test of parameter `k`'s rank histogram against uniform ranks (expected
    /// counts exact even when `bins` does not divide L + 1). Needs about ≥ 5 expected
    /// counts per bin to be trustworthy.
    pub fn uniformity(&self, k: usize, bins: usize) -> Result<ChiSquare, EvalError> {
        if k >= self.ranks.len() || self.is_empty() {
            return Err(invalid(format!("sbc: no ranks for parameter {k}")));
        }
        if bins < 2 || bins > self.draws + 1 {
            return Err(invalid(format!(
                "sbc: {bins} bins for {} rank values",
                self.draws + 1
            )));
        }
        let hist = self.histogram(k, bins);
        let n = self.len() as f64;
        let values = (self.draws + 1) as f64;
        let mut per_bin = vec![0usize; bins];
        for r in 0..=self.draws {
            per_bin[r * bins / (self.draws + 1)] += 1;
        }
        let statistic = hist
            .iter()
            .zip(&per_bin)
            .map(|(&o, &c)| {
                let e = n * c as f64 / values;
                (o as f64 - e).powi(2) / e
            })
            .sum::<f64>();
        let dof = bins - 1;
        Ok(ChiSquare {
            statistic,
            dof,
            p_value: chi_square_sf(statistic, dof as f64),
        })
    }
}

/// Survival function P(χ²_k ≥ x) = Q(k/2, x/2), the regularized upper incomplete gamma
/// (statrs). 1 for x ≤ 0; NaN for k ≤ 0 or a NaN argument.
pub fn chi_square_sf(x: f64, k: f64) -> f64 {
    ChiSquared::new(k).map_or(f64::NAN, |d| d.sf(x))
}

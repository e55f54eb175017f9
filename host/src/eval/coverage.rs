//! Coverage of central credible intervals, RMSE of the posterior mean and posterior width,
//! accumulated over test observations (docs/architecture.md, "Evaluation").
//!
//! Why store one number per observation and parameter: the truth lies in the central
//! interval of level α iff its posterior CDF value u satisfies |2u − 1| ≤ α, so keeping
//! |2u − 1| (the smallest level whose interval covers the truth) gives the coverage at
//! every level, i.e. the whole coverage curve, without keeping the draws.

use super::moments::mean_sd;
use super::{EvalError, invalid, row_dim};
use crate::eval::sbc::rank_of;

/// Accumulates coverage, squared errors and posterior widths per parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// `needed[k][i]`: smallest central level covering observation i's truth of
    /// parameter k, |2u − 1| with u = (rank + ½)/(L + 1) (rank: draws below the truth).
    pub needed: Vec<Vec<f64>>,
    sq_err: Vec<f64>,
    sd: Vec<f64>,
}

impl Coverage {
    /// An empty accumulator for `dim` parameters.
    pub fn new(dim: usize) -> Self {
        Self {
            needed: vec![Vec::new(); dim],
            sq_err: vec![0.0; dim],
            sd: vec![0.0; dim],
        }
    }

    /// Number of observations pushed.
    pub fn len(&self) -> usize {
        self.needed.first().map_or(0, Vec::len)
    }

    /// Whether no observation was pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds one observation: its true parameters and its posterior draws (≥ 2).
    pub fn push<R: AsRef<[f64]>>(&mut self, truth: &[f64], draws: &[R]) -> Result<(), EvalError> {
        let dim = row_dim(draws, "coverage draws")?;
        if dim != self.needed.len() || truth.len() != dim {
            return Err(invalid(format!(
                "coverage: expected dimension {}, got truth {} and draws {dim}",
                self.needed.len(),
                truth.len()
            )));
        }
        if draws.len() < 2 {
            return Err(invalid("coverage: need at least 2 draws"));
        }
        let l = draws.len() as f64;
        for (k, &t) in truth.iter().enumerate() {
            let col = || draws.iter().map(|d| d.as_ref()[k]);
            let u = (rank_of(t, col()) as f64 + 0.5) / (l + 1.0);
            self.needed[k].push((2.0 * u - 1.0).abs());
            let (mean, sd) = mean_sd(col());
            self.sq_err[k] += (mean - t).powi(2);
            self.sd[k] += sd;
        }
        Ok(())
    }

    /// Fraction of observations whose central `level` interval (between the posterior's
    /// (1 − level)/2 and (1 + level)/2 quantiles) contains the truth, per parameter.
    /// For a calibrated posterior with L draws it is within 1/(L + 1) of `level` in
    /// expectation, ± [`binomial_se`] from sampling.
    pub fn coverage(&self, level: f64) -> Vec<f64> {
        let n = self.len().max(1) as f64;
        self.needed
            .iter()
            .map(|v| v.iter().filter(|&&a| a <= level).count() as f64 / n)
            .collect()
    }

    /// Coverage curve: `curve(levels)[k][j]` is parameter k's coverage at `levels[j]`
    /// (plot against the levels; the diagonal is calibration).
    pub fn curve(&self, levels: &[f64]) -> Vec<Vec<f64>> {
        let per_level: Vec<Vec<f64>> = levels.iter().map(|&a| self.coverage(a)).collect();
        (0..self.needed.len())
            .map(|k| per_level.iter().map(|c| c[k]).collect())
            .collect()
    }

    /// Root-mean-square error of the posterior mean, per parameter.
    pub fn rmse(&self) -> Vec<f64> {
        let n = self.len().max(1) as f64;
        self.sq_err.iter().map(|s| (s / n).sqrt()).collect()
    }

    /// Average posterior standard deviation, per parameter (divide by the exact
    /// posterior's to get the width ratio of docs/architecture.md, "Evaluation").
    pub fn mean_sd(&self) -> Vec<f64> {
        let n = self.len().max(1) as f64;
        self.sd.iter().map(|s| s / n).collect()
    }
}

/// `count` evenly spaced levels 1/count, 2/count, …, 1 for coverage curves.
pub fn levels(count: usize) -> Vec<f64> {
    (1..=count).map(|i| i as f64 / count as f64).collect()
}

/// Standard error √(p(1 − p)/n) of an observed coverage around its nominal level p.
pub fn binomial_se(p: f64, n: usize) -> f64 {
    (p * (1.0 - p) / n.max(1) as f64).sqrt()
}

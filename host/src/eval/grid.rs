//! Dense-grid posterior of a two-parameter problem: the log density at the centres of an
//! n × n grid of cells, normalized to cell masses.
//!
//! Why: in two dimensions a grid is an exact reference with no Monte-Carlo error and no
//! convergence question, so it checks MCMC and networks alike. Moments are midpoint-rule
//! sums over cell centres; for a smooth density that has decayed at the bounds they are
//! accurate far beyond O(h²) (the midpoint rule is spectrally accurate there).

use rayon::prelude::*;
use vina_core::rng::Rng;

use super::{EvalError, invalid};

/// Cell masses of a posterior on a regular 2-D grid.
#[derive(Debug, Clone, PartialEq)]
pub struct GridPosterior {
    /// Lower bounds of parameters 0 and 1.
    pub lo: [f64; 2],
    /// Upper bounds of parameters 0 and 1.
    pub hi: [f64; 2],
    /// Cells per axis.
    pub n: usize,
    /// Normalized cell masses, row-major: `mass[i * n + j]` is the cell with parameter 0
    /// in its i-th interval and parameter 1 in its j-th.
    pub mass: Vec<f64>,
}

/// Mean, standard deviation and correlation of a 2-D distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments2 {
    pub mean: [f64; 2],
    pub sd: [f64; 2],
    pub corr: f64,
}

impl GridPosterior {
    /// Evaluates `log_density` (unnormalized; `-inf` outside the support) at the centres of
    /// `n × n` cells covering `[lo, hi]` and normalizes. The bounds should hold all of the
    /// posterior's mass (e.g. ±6 sd): mass outside them is silently lost.
    pub fn evaluate<F>(
        log_density: F,
        lo: [f64; 2],
        hi: [f64; 2],
        n: usize,
    ) -> Result<Self, EvalError>
    where
        F: Fn(&[f64]) -> f64 + Sync,
    {
        if n < 2 {
            return Err(invalid("grid: need at least 2 cells per axis"));
        }
        if (0..2).any(|k| !lo[k].is_finite() || !hi[k].is_finite() || hi[k] <= lo[k]) {
            return Err(invalid(format!("grid: bad bounds {lo:?} .. {hi:?}")));
        }
        let probe = Self {
            lo,
            hi,
            n,
            mass: Vec::new(),
        };
        let log: Vec<f64> = (0..n * n)
            .into_par_iter()
            .map(|c| {
                let l = log_density(&probe.centre(c / n, c % n));
                if l.is_nan() { f64::NEG_INFINITY } else { l }
            })
            .collect();
        let max = log.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if !max.is_finite() {
            return Err(invalid(format!("grid: largest log density is {max}")));
        }
        let mut mass: Vec<f64> = log.iter().map(|l| (l - max).exp()).collect();
        let total: f64 = mass.iter().sum();
        mass.iter_mut().for_each(|m| *m /= total);
        Ok(Self { lo, hi, n, mass })
    }

    /// Cell widths of parameters 0 and 1.
    pub fn spacing(&self) -> [f64; 2] {
        let n = self.n as f64;
        [(self.hi[0] - self.lo[0]) / n, (self.hi[1] - self.lo[1]) / n]
    }

    /// Centre of cell (i, j).
    pub fn centre(&self, i: usize, j: usize) -> [f64; 2] {
        let h = self.spacing();
        [
            self.lo[0] + (i as f64 + 0.5) * h[0],
            self.lo[1] + (j as f64 + 0.5) * h[1],
        ]
    }

    /// Marginal cell masses of parameter `axis` (0 or 1), `n` values summing to 1.
    pub fn marginal(&self, axis: usize) -> Vec<f64> {
        let n = self.n;
        let mut m = vec![0.0; n];
        for (c, &p) in self.mass.iter().enumerate() {
            m[if axis == 0 { c / n } else { c % n }] += p;
        }
        m
    }

    /// Means, standard deviations and correlation (midpoint rule over cell centres).
    pub fn moments(&self) -> Moments2 {
        let n = self.n;
        let mut mean = [0.0; 2];
        for (c, &p) in self.mass.iter().enumerate() {
            let x = self.centre(c / n, c % n);
            mean[0] += p * x[0];
            mean[1] += p * x[1];
        }
        let (mut v0, mut v1, mut c01) = (0.0, 0.0, 0.0);
        for (c, &p) in self.mass.iter().enumerate() {
            let x = self.centre(c / n, c % n);
            let d0 = x[0] - mean[0];
            let d1 = x[1] - mean[1];
            v0 += p * d0 * d0;
            v1 += p * d1 * d1;
            c01 += p * d0 * d1;
        }
        Moments2 {
            mean,
            sd: [v0.sqrt(), v1.sqrt()],
            corr: c01 / (v0 * v1).sqrt(),
        }
    }

    /// `count` draws: a cell with probability equal to its mass, then a uniform point in
    /// that cell. (The uniform jitter adds h²/12 to each variance compared with
    /// [`Self::moments`]; negligible once h is a small fraction of the sd.)
    pub fn sample(&self, count: usize, rng: &mut Rng) -> Vec<[f64; 2]> {
        let mut cdf = Vec::with_capacity(self.mass.len());
        let mut acc = 0.0;
        for &p in &self.mass {
            acc += p;
            cdf.push(acc);
        }
        let h = self.spacing();
        (0..count)
            .map(|_| {
                let u = rng.uniform_f64() * acc;
                let c = cdf.partition_point(|&v| v < u).min(self.mass.len() - 1);
                let (i, j) = (c / self.n, c % self.n);
                [
                    self.lo[0] + (i as f64 + rng.uniform_f64()) * h[0],
                    self.lo[1] + (j as f64 + rng.uniform_f64()) * h[1],
                ]
            })
            .collect()
    }
}

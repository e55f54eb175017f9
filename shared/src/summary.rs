//! Streaming posterior summaries in O(1) memory per parameter.
//!
//! The firmware draws posterior samples one at a time and cannot keep them, so the mean
//! and variance use Welford's update and each quantile uses the P² algorithm (Jain &
//! Chlamtac, CACM 1985): five markers whose heights follow the quantile by piecewise-
//! parabolic interpolation. P² is exact for the first five samples and typically within a
//! few percent of a standard deviation after a thousand.

use crate::parameters::Support;
use serde::{Deserialize, Serialize};

/// Quantile levels of a [`Summary`].
pub const QUANTILES: [f32; 3] = [0.05, 0.5, 0.95];

/// P² estimator of one quantile.
///
/// Marker heights are stored relative to the first sample: posteriors here are narrow
/// around large values (1560 ± 0.02 m/s), where f32 differences of absolute heights would
/// lose most of their digits. Desired positions are computed from the count, not summed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct P2Quantile {
    p: f32,
    count: u32,
    origin: f32,
    heights: [f32; 5],
    positions: [f32; 5],
    increments: [f32; 5],
}

impl P2Quantile {
    /// An estimator of the `p`-quantile, `0 < p < 1`.
    pub fn new(p: f32) -> Self {
        Self {
            p,
            count: 0,
            origin: 0.0,
            heights: [0.0; 5],
            positions: [1.0, 2.0, 3.0, 4.0, 5.0],
            increments: [0.0, p / 2.0, p, (1.0 + p) / 2.0, 1.0],
        }
    }

    /// Add one observation (non-finite values are ignored; see [`Summary::push`]).
    pub fn push(&mut self, x: f32) {
        if !x.is_finite() {
            return;
        }
        let n = self.count as usize;
        if n == 0 {
            self.origin = x;
        }
        let x = x - self.origin;
        self.count = self.count.saturating_add(1);
        if n < 5 {
            self.heights[n] = x;
            if n == 4 {
                sort5(&mut self.heights);
            }
            return;
        }
        let h = &mut self.heights;
        let k = if x < h[0] {
            h[0] = x;
            0
        } else if x >= h[4] {
            h[4] = x;
            3
        } else {
            (0..4).find(|&i| x < h[i + 1]).unwrap_or(3)
        };
        for pos in &mut self.positions[k + 1..] {
            *pos += 1.0;
        }
        // desired marker positions after `count` samples: 1 + (count − 1)·increment
        let steps = (self.count - 1) as f32;
        let desired = [
            1.0,
            1.0 + steps * self.increments[1],
            1.0 + steps * self.increments[2],
            1.0 + steps * self.increments[3],
            steps + 1.0,
        ];
        #[allow(clippy::needless_range_loop)] // each step reads markers i − 1, i and i + 1
        for i in 1..4 {
            let d = desired[i] - self.positions[i];
            let (n_prev, n_i, n_next) = (
                self.positions[i - 1],
                self.positions[i],
                self.positions[i + 1],
            );
            if (d >= 1.0 && n_next - n_i > 1.0) || (d <= -1.0 && n_prev - n_i < -1.0) {
                let s = if d >= 0.0 { 1.0 } else { -1.0 };
                let (q_prev, q_i, q_next) =
                    (self.heights[i - 1], self.heights[i], self.heights[i + 1]);
                let parabolic = q_i
                    + s / (n_next - n_prev)
                        * ((n_i - n_prev + s) * (q_next - q_i) / (n_next - n_i)
                            + (n_next - n_i - s) * (q_i - q_prev) / (n_i - n_prev));
                self.heights[i] = if q_prev < parabolic && parabolic < q_next {
                    parabolic
                } else if s > 0.0 {
                    q_i + (q_next - q_i) / (n_next - n_i)
                } else {
                    q_i - (q_prev - q_i) / (n_prev - n_i)
                };
                self.positions[i] += s;
            }
        }
    }

    /// Current estimate (exact order statistic while fewer than five values were seen;
    /// NaN before the first).
    pub fn value(&self) -> f32 {
        let n = self.count as usize;
        if n == 0 {
            return f32::NAN;
        }
        if n >= 5 {
            return self.origin + self.heights[2];
        }
        let mut h = [f32::INFINITY; 5];
        h[..n].copy_from_slice(&self.heights[..n]);
        sort5(&mut h);
        // nearest-rank on the few values seen
        let idx = libm::roundf(self.p * (n as f32 - 1.0)) as usize;
        self.origin + h[idx.min(n - 1)]
    }
}

fn sort5(h: &mut [f32; 5]) {
    for i in 1..5 {
        let mut j = i;
        while j > 0 && h[j - 1] > h[j] {
            h.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Streaming summary of one parameter: count, mean, variance and the [`QUANTILES`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    count: u32,
    non_finite: u32,
    outside_support: u32,
    support: Option<Support>,
    mean: f64,
    m2: f64,
    quantiles: [P2Quantile; 3],
}

/// A finished summary, as reported by the firmware and `vina invert`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SummaryValues {
    /// Number of finite samples.
    pub count: u32,
    /// Samples rejected as non-finite.
    pub non_finite: u32,
    /// Finite samples outside the parameter's prior support: kept in the statistics (a
    /// flag, not a clip), counted so that a spill past a bound is never silent.
    pub outside_support: u32,
    /// Posterior mean.
    pub mean: f32,
    /// Posterior standard deviation (sample, n − 1).
    pub std: f32,
    /// 5 % quantile.
    pub q05: f32,
    /// Median.
    pub q50: f32,
    /// 95 % quantile.
    pub q95: f32,
}

impl Default for Summary {
    fn default() -> Self {
        Self::new()
    }
}

impl Summary {
    /// An empty summary.
    pub fn new() -> Self {
        Self {
            count: 0,
            non_finite: 0,
            outside_support: 0,
            support: None,
            mean: 0.0,
            m2: 0.0,
            quantiles: QUANTILES.map(P2Quantile::new),
        }
    }

    /// An empty summary that also counts samples outside `support`.
    pub fn with_support(support: Support) -> Self {
        Self {
            support: Some(support),
            ..Self::new()
        }
    }

    /// Add one sample; NaN or infinite samples are counted apart, never averaged in.
    pub fn push(&mut self, x: f32) {
        if !x.is_finite() {
            self.non_finite = self.non_finite.saturating_add(1);
            return;
        }
        self.count = self.count.saturating_add(1);
        if self.support.is_some_and(|s| !s.contains(x)) {
            self.outside_support = self.outside_support.saturating_add(1);
        }
        let x64 = f64::from(x);
        let delta = x64 - self.mean;
        self.mean += delta / f64::from(self.count);
        self.m2 += delta * (x64 - self.mean);
        for q in &mut self.quantiles {
            q.push(x);
        }
    }

    /// The current values.
    pub fn values(&self) -> SummaryValues {
        let var = if self.count > 1 {
            self.m2 / f64::from(self.count - 1)
        } else {
            f64::NAN
        };
        SummaryValues {
            count: self.count,
            non_finite: self.non_finite,
            outside_support: self.outside_support,
            mean: if self.count > 0 {
                self.mean as f32
            } else {
                f32::NAN
            },
            std: libm::sqrt(var) as f32,
            q05: self.quantiles[0].value(),
            q50: self.quantiles[1].value(),
            q95: self.quantiles[2].value(),
        }
    }
}

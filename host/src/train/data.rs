//! Training inputs: samples, their normalization, and the header fields the exported
//! model needs. Built from a simulated [`Dataset`] or directly (tests, other simulators).

use vina_core::features::FeatureKind;
use vina_core::rng::Rng;

use crate::dataset::Dataset;
use crate::error::refuse;
use vina_core::spec::HeaderSpec;

/// Samples in memory, f32, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainData {
    /// N × P parameters, physical units.
    pub x: Vec<f32>,
    /// N × Y features.
    pub y: Vec<f32>,
    /// Parameters per sample.
    pub x_dim: usize,
    /// Features per sample.
    pub y_dim: usize,
    /// Parameter names.
    pub param_names: Vec<String>,
    /// Feature kind (header of the exported model).
    pub feature_kind: FeatureKind,
    /// Receivers.
    pub receivers: usize,
    /// Tones, Hz.
    pub tones_hz: Vec<f32>,
    /// Scenario hash.
    pub scenario_hash: u64,
    /// N × `noise_dim` standard-normal draws that made each observation's noise (the
    /// noise-in-x INN's nuisance part of x); empty when the data set did not keep them.
    pub noise: Vec<f32>,
    /// Noise draws per sample (0: none kept).
    pub noise_dim: usize,
    /// The prior's box the parameters were drawn from, `(lower, upper)` per parameter in
    /// physical units (from the scenario, `vina train --scenario`): what a bounded
    /// output ([`vina_core::spec::Architecture::bounded`]) keeps its draws inside.
    pub prior_box: Option<Vec<(f64, f64)>>,
}

impl TrainData {
    /// Samples held.
    pub fn len(&self) -> usize {
        self.x.len().checked_div(self.x_dim).unwrap_or(0)
    }

    /// True with no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// From a simulated data set.
    pub fn from_dataset(d: &Dataset) -> anyhow::Result<Self> {
        let feature_kind = match d.meta.features.as_str() {
            "raw_pressure" => FeatureKind::RawPressure,
            "relative_transfer_function" => FeatureKind::RelativeTransferFunction,
            other => return Err(refuse(format!("data set: unknown feature kind `{other}`"))),
        };
        let hash = u64::from_str_radix(d.meta.scenario_hash.trim_start_matches("0x"), 16)
            .map_err(|_| refuse("data set: scenario hash is not hex"))?;
        let data = Self {
            x: d.x.iter().map(|&v| v as f32).collect(),
            y: d.y.clone(),
            x_dim: d.x_dim(),
            y_dim: d.y_dim(),
            param_names: d.meta.parameters.clone(),
            feature_kind,
            receivers: d.meta.receiver_depths_m.len(),
            tones_hz: d.meta.tones_hz.iter().map(|&f| f as f32).collect(),
            scenario_hash: hash,
            noise_dim: if d.noise.is_empty() {
                0
            } else {
                2 * d.meta.tones_hz.len() * d.meta.receiver_depths_m.len()
            },
            noise: d.noise.clone(),
            prior_box: None,
        };
        data.check()?;
        Ok(data)
    }

    /// Refuse inconsistent sizes and non-finite values.
    pub fn check(&self) -> anyhow::Result<()> {
        let n = self.len();
        if self.x_dim == 0 || self.y_dim == 0 || n < 2 {
            return Err(refuse(
                "training data: need x_dim, y_dim ≥ 1 and at least 2 samples",
            ));
        }
        if self.x.len() != n * self.x_dim || self.y.len() != n * self.y_dim {
            return Err(refuse(
                "training data: x and y hold different sample counts",
            ));
        }
        if self.param_names.len() != self.x_dim {
            return Err(refuse(
                "training data: one parameter name per x column needed",
            ));
        }
        if self.feature_kind.len(self.tones_hz.len(), self.receivers) != self.y_dim {
            return Err(refuse(
                "training data: y width does not match the feature kind, tones and receivers",
            ));
        }
        if self.noise.len() != n * self.noise_dim {
            return Err(refuse(format!(
                "training data: {} noise values for {n} samples of {}",
                self.noise.len(),
                self.noise_dim
            )));
        }
        if !self
            .x
            .iter()
            .chain(&self.y)
            .chain(&self.noise)
            .all(|v| v.is_finite())
        {
            return Err(refuse("training data: non-finite values"));
        }
        if let Some(b) = &self.prior_box {
            if b.len() != self.x_dim
                || b.iter()
                    .any(|(lo, hi)| !(lo.is_finite() && hi.is_finite() && lo < hi))
            {
                return Err(refuse(format!(
                    "training data: the prior box needs a finite lower < upper bound for each of the {} parameters",
                    self.x_dim
                )));
            }
            for (k, ((lo, hi), name)) in b.iter().zip(&self.param_names).enumerate() {
                let col = self.x.iter().skip(k).step_by(self.x_dim);
                if let Some(v) = col.map(|&v| f64::from(v)).find(|v| !(lo <= v && v <= hi)) {
                    return Err(refuse(format!(
                        "training data: parameter {name} = {v} lies outside the prior box [{lo}, {hi}]"
                    )));
                }
            }
        }
        Ok(())
    }

    /// A cheap fingerprint of the samples, so `--resume` refuses different data.
    pub fn fingerprint(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for v in self.x.iter().chain(&self.y).chain(&self.noise) {
            h = (h ^ u64::from(v.to_bits())).wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^ (self.len() as u64)
    }
}

/// Mean and standard deviation of each column of the rows `idx` (f64 accumulation; a
/// constant column gets std 1 so normalization stays finite).
pub fn column_stats(values: &[f32], dim: usize, idx: &[usize]) -> (Vec<f32>, Vec<f32>) {
    let n = idx.len().max(1) as f64;
    let mut mean = vec![0f64; dim];
    for &i in idx {
        for (m, v) in mean.iter_mut().zip(&values[i * dim..(i + 1) * dim]) {
            *m += f64::from(*v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0f64; dim];
    for &i in idx {
        for ((s, v), m) in var
            .iter_mut()
            .zip(&values[i * dim..(i + 1) * dim])
            .zip(&mean)
        {
            *s += (f64::from(*v) - m).powi(2);
        }
    }
    let std = var
        .iter()
        .map(|s| {
            let sd = (s / n).sqrt();
            if sd > 1e-12 { sd as f32 } else { 1.0 }
        })
        .collect();
    (mean.iter().map(|&m| m as f32).collect(), std)
}

/// The data split and normalized into training and validation sets.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// Normalized training x, N_train × P.
    pub x_train: Vec<f32>,
    /// Normalized training y.
    pub y_train: Vec<f32>,
    /// Normalized validation x.
    pub x_val: Vec<f32>,
    /// Normalized validation y.
    pub y_val: Vec<f32>,
    /// Training noise draws (standard normal already: not normalized), N_train × noise_dim.
    pub n_train: Vec<f32>,
    /// Validation noise draws.
    pub n_val: Vec<f32>,
    /// Header of the exported model (normalization from the training split).
    pub header: HeaderSpec,
    /// The prior box in normalized units, `(lower, upper)` (a bounded output's bounds),
    /// when the data carry one.
    pub bounds: Option<(Vec<f32>, Vec<f32>)>,
}

impl Prepared {
    /// Shuffle with `seed`, hold out `val_fraction`, normalize with the training split's
    /// statistics. `max_samples > 0` keeps only that many samples (after shuffling).
    pub fn new(data: &TrainData, seed: u64, val_fraction: f64, max_samples: usize) -> Self {
        let mut idx: Vec<usize> = (0..data.len()).collect();
        let mut rng = Rng::new(seed ^ 0x5B11_7000);
        for i in (1..idx.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            idx.swap(i, j);
        }
        if max_samples > 0 {
            idx.truncate(max_samples);
        }
        let n_val = ((idx.len() as f64) * val_fraction).round() as usize;
        let n_val = n_val.min(idx.len().saturating_sub(2));
        let (val, train) = idx.split_at(n_val);
        let (x_mean, x_std) = column_stats(&data.x, data.x_dim, train);
        let (y_mean, y_std) = column_stats(&data.y, data.y_dim, train);
        let norm = |values: &[f32], dim: usize, rows: &[usize], mean: &[f32], std: &[f32]| {
            let mut out = Vec::with_capacity(rows.len() * dim);
            for &i in rows {
                for ((v, m), s) in values[i * dim..(i + 1) * dim].iter().zip(mean).zip(std) {
                    out.push((v - m) / s);
                }
            }
            out
        };
        let rows = |r: &[usize]| -> Vec<f32> {
            let d = data.noise_dim;
            r.iter()
                .flat_map(|&i| data.noise[i * d..(i + 1) * d].iter().copied())
                .collect()
        };
        let bounds = data.prior_box.as_ref().map(|b| {
            let at = |k: usize, v: f64| ((v - f64::from(x_mean[k])) / f64::from(x_std[k])) as f32;
            b.iter()
                .enumerate()
                .map(|(k, &(lo, hi))| (at(k, lo), at(k, hi)))
                .unzip()
        });
        Self {
            bounds,
            x_train: norm(&data.x, data.x_dim, train, &x_mean, &x_std),
            y_train: norm(&data.y, data.y_dim, train, &y_mean, &y_std),
            x_val: norm(&data.x, data.x_dim, val, &x_mean, &x_std),
            y_val: norm(&data.y, data.y_dim, val, &y_mean, &y_std),
            n_train: rows(train),
            n_val: rows(val),
            header: HeaderSpec {
                feature_kind: data.feature_kind,
                receivers: data.receivers,
                tones_hz: data.tones_hz.clone(),
                param_names: data.param_names.clone(),
                x_mean,
                x_std,
                y_mean,
                y_std,
                scenario_hash: data.scenario_hash,
            },
        }
    }
}

//! `vina simulate`: draw parameters from a scenario's priors, solve the forward model, add
//! the design's noise and compute features — in parallel, reproducibly, in shards.
//!
//! Sample `i` of a set uses its own random stream `Rng::for_index(seed, i)`, so its value
//! does not depend on the thread count or on how the set is split: shard K of N holds
//! samples `⌊K·n/N⌋ .. ⌊(K+1)·n/N⌋`, and the shards concatenate to exactly the unsharded
//! set. Each shard is an independent process, so a large set runs as a batch-array job on
//! any cluster scheduler (`--shard $TASK_ID/$N_TASKS`).

use std::ops::Range;
use std::path::Path;

use indicatif::{ParallelProgressIterator, ProgressBar, ProgressStyle};
use rayon::prelude::*;
use vina_core::rng::Rng;

use crate::dataset::{Dataset, Metadata};
use crate::error::refuse;
use crate::observation;
use crate::scenario::Scenario;

/// One simulated sample.
struct Sample {
    x: Vec<f64>,
    y: Vec<f32>,
    y_clean: Vec<f32>,
    pressure: Vec<f64>,
    noise: Vec<f32>,
}

fn one(scn: &Scenario, seed: u64, snr_db: f64, index: u64) -> anyhow::Result<Sample> {
    let mut rng = Rng::for_index(seed, index);
    let x = scn.draw(&mut rng);
    let env = scn.environment(&x)?;
    let (t, r) = (scn.tones_hz.len(), scn.receiver_depths_m.len());
    let mut p = env
        .pressure(&scn.tones_hz, &scn.receiver_depths_m)
        .map_err(|e| {
            let values: Vec<String> = scn
                .unknowns()
                .iter()
                .zip(&x)
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            refuse(format!(
                "sample {index} ({}): forward model: {e}",
                values.join(", ")
            ))
        })?;
    let y_clean = observation::features(scn.features, &p, t, r)?;
    let noise = observation::add_noise(&mut p, r, snr_db, &mut rng);
    let y = observation::features(scn.features, &p, t, r)?;
    Ok(Sample {
        x,
        y,
        y_clean,
        pressure: p.iter().flat_map(|c| [c.re, c.im]).collect(),
        noise: noise.iter().map(|&v| v as f32).collect(),
    })
}

/// Samples `range` of a set of `total` drawn with `seed`.
pub fn simulate(
    scn: &Scenario,
    seed: u64,
    snr_db: f64,
    range: Range<u64>,
    total: u64,
    progress: bool,
) -> anyhow::Result<Dataset> {
    let bar = if progress {
        ProgressBar::new(range.end - range.start).with_style(
            ProgressStyle::with_template(
                "simulate {bar:40} {pos}/{len} [{elapsed} < {eta}] {per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
    } else {
        ProgressBar::hidden()
    };
    let samples: Vec<Sample> = range
        .clone()
        .into_par_iter()
        .progress_with(bar)
        .map(|i| one(scn, seed, snr_db, i))
        .collect::<anyhow::Result<_>>()?;
    let meta = Metadata {
        scenario: scn.name.clone(),
        scenario_hash: format!("{:016x}", scn.hash()),
        seed,
        first_index: range.start,
        total_samples: total,
        snr_db,
        features: serde_json::to_value(scn)?["features"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        parameters: scn.unknowns().iter().map(|s| s.to_string()).collect(),
        tones_hz: scn.tones_hz.clone(),
        receiver_depths_m: scn.receiver_depths_m.clone(),
    };
    let mut ds = Dataset {
        meta,
        len: samples.len(),
        x: Vec::new(),
        y: Vec::new(),
        y_clean: Vec::new(),
        pressure: Vec::new(),
        noise: Vec::new(),
    };
    for s in samples {
        ds.x.extend(s.x);
        ds.y.extend(s.y);
        ds.y_clean.extend(s.y_clean);
        ds.pressure.extend(s.pressure);
        ds.noise.extend(s.noise);
    }
    Ok(ds)
}

/// Most simulations in a set (`--simulations`), all shards together.
pub const MAX_SIMULATIONS: u64 = 1_000_000_000_000;
/// Most simulations in one shard: a shard is simulated in memory.
pub const MAX_SHARD_SIMULATIONS: u64 = 10_000_000;
/// Most bytes of data (parameters, features, pressures, noise) one shard holds in memory.
pub const MAX_SHARD_BYTES: u64 = 2 << 30;

/// Bytes of data one sample holds in memory (its vectors and their headers).
fn sample_bytes(s: &Sample) -> u64 {
    let values =
        8 * (s.x.len() + s.pressure.len()) + 4 * (s.y.len() + s.y_clean.len() + s.noise.len());
    (values + 5 * std::mem::size_of::<Vec<f64>>()) as u64
}

/// Refuse a shard above [`MAX_SHARD_SIMULATIONS`] or [`MAX_SHARD_BYTES`] in a set of
/// `total`; `per_sample` is [`sample_bytes`].
fn check_shard_size(total: u64, shard: u64, per_sample: u64) -> anyhow::Result<()> {
    if shard > MAX_SHARD_SIMULATIONS {
        return Err(refuse(format!(
            "--simulations: a shard of {shard} simulations is more than the maximum of \
             {MAX_SHARD_SIMULATIONS} per shard; split the set with --shard K/N (N ≥ {})",
            total.div_ceil(MAX_SHARD_SIMULATIONS)
        )));
    }
    let bytes = u128::from(shard) * u128::from(per_sample);
    if bytes > u128::from(MAX_SHARD_BYTES) {
        let per_shard = (MAX_SHARD_BYTES / per_sample.max(1)).max(1);
        return Err(refuse(format!(
            "--simulations: a shard of {shard} simulations of {per_sample} bytes each needs \
             {bytes} bytes, more than the maximum of {MAX_SHARD_BYTES} (2 GiB) per shard; \
             split the set with --shard K/N (N ≥ {})",
            total.div_ceil(per_shard)
        )));
    }
    Ok(())
}

/// Parse `K/N` (0 ≤ K < N).
pub fn parse_shard(text: &str) -> anyhow::Result<(u64, u64)> {
    let bad = || {
        refuse(format!(
            "--shard: expected K/N with 0 ≤ K < N (e.g. 3/16), found `{text}`"
        ))
    };
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (k, n): (u64, u64) = (
        k.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || k >= n {
        return Err(bad());
    }
    Ok((k, n))
}

/// Sample range of shard `k` of `n` in a set of `total`.
pub fn shard_range(k: u64, n: u64, total: u64) -> Range<u64> {
    let at = |i: u64| ((u128::from(i) * u128::from(total)) / u128::from(n)) as u64;
    at(k)..at(k + 1)
}

/// `vina simulate`.
pub fn run(
    scenario: &Path,
    samples: u64,
    out: &Path,
    seed: u64,
    shard: Option<&str>,
    snr: Option<f64>,
) -> anyhow::Result<()> {
    let scn = Scenario::load(scenario)?;
    let snr_db = snr.unwrap_or(scn.snr_db);
    if !snr_db.is_finite() {
        return Err(refuse(format!(
            "--snr: must be a finite number of dB, found {snr_db}"
        )));
    }
    if samples == 0 {
        return Err(refuse("--simulations: must be at least 1"));
    }
    if samples > MAX_SIMULATIONS {
        return Err(refuse(format!(
            "--simulations: {samples} is more than the maximum of {MAX_SIMULATIONS}"
        )));
    }
    let (k, n) = shard.map(parse_shard).transpose()?.unwrap_or((0, 1));
    let range = shard_range(k, n, samples);
    let first = one(&scn, seed, snr_db, range.start)?;
    check_shard_size(samples, range.end - range.start, sample_bytes(&first))?;
    let ds = simulate(&scn, seed, snr_db, range.clone(), samples, true)?;
    std::fs::create_dir_all(out)?;
    let path = out.join(Dataset::shard_name(k, n));
    ds.write(&path)?;
    eprintln!(
        "wrote samples {}..{} of {samples} ({} unknowns: {}) to {}",
        range.start,
        range.end,
        scn.unknowns().len(),
        scn.unknowns().join(", "),
        path.display()
    );
    Ok(())
}

//! Simulated data sets on disk: one safetensors file per shard, readable from Python
//! (`safetensors.numpy.load_file`) as well as from Rust.
//!
//! Tensors: `x` (f64, N × P, physical units), `y` (f32, N × Y, features of the noisy
//! pressure), `y_clean` (f32, features of the clean pressure), `pressure` (f64,
//! N × T × R × 2, the noisy complex pressure, so any feature can be recomputed), `noise`
//! (f32, N × T × R × 2, the standard-normal draws that made the noise: the paper INN's x
//! carries them; absent in sets written before it was kept).
//! The safetensors metadata carries the scenario, its hash, the seed and the sample range.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use safetensors::tensor::{Dtype, TensorView};
use safetensors::{SafeTensors, serialize_to_file};
use serde::{Deserialize, Serialize};

use crate::error::refuse;

/// What a data set was made from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Scenario name.
    pub scenario: String,
    /// Scenario hash, hex.
    pub scenario_hash: String,
    /// Seed of the whole set.
    pub seed: u64,
    /// Index of this file's first sample in the whole set.
    pub first_index: u64,
    /// Samples in the whole set (all shards).
    pub total_samples: u64,
    /// SNR (dB).
    pub snr_db: f64,
    /// Feature kind, as in the scenario file.
    pub features: String,
    /// Names of x's columns.
    pub parameters: Vec<String>,
    /// Tones (Hz).
    pub tones_hz: Vec<f64>,
    /// Receiver depths (m).
    pub receiver_depths_m: Vec<f64>,
}

/// Samples in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Provenance.
    pub meta: Metadata,
    /// Number of samples.
    pub len: usize,
    /// N × P parameters.
    pub x: Vec<f64>,
    /// N × Y features of the noisy observation.
    pub y: Vec<f32>,
    /// N × Y features of the clean field.
    pub y_clean: Vec<f32>,
    /// N × T × R × 2 noisy pressure.
    pub pressure: Vec<f64>,
    /// N × T × R × 2 standard-normal draws of the noise (`observation::add_noise`); empty
    /// for a set written before they were kept.
    pub noise: Vec<f32>,
}

fn le_bytes<T: Copy, const B: usize>(v: &[T], f: fn(T) -> [u8; B]) -> Vec<u8> {
    v.iter().flat_map(|x| f(*x)).collect()
}

impl Dataset {
    /// Columns of x.
    pub fn x_dim(&self) -> usize {
        self.meta.parameters.len()
    }

    /// Columns of y.
    pub fn y_dim(&self) -> usize {
        self.y.len().checked_div(self.len).unwrap_or(0)
    }

    /// File name of shard `k` of `n`.
    pub fn shard_name(k: u64, n: u64) -> String {
        format!("shard-{k:05}-of-{n:05}.safetensors")
    }

    /// Write as one safetensors file.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let (n, p, y) = (self.len, self.x_dim(), self.y_dim());
        let (t, r) = (self.meta.tones_hz.len(), self.meta.receiver_depths_m.len());
        let mut bufs = vec![
            (
                "x",
                Dtype::F64,
                vec![n, p],
                le_bytes(&self.x, f64::to_le_bytes),
            ),
            (
                "y",
                Dtype::F32,
                vec![n, y],
                le_bytes(&self.y, f32::to_le_bytes),
            ),
            (
                "y_clean",
                Dtype::F32,
                vec![n, y],
                le_bytes(&self.y_clean, f32::to_le_bytes),
            ),
            (
                "pressure",
                Dtype::F64,
                vec![n, t, r, 2],
                le_bytes(&self.pressure, f64::to_le_bytes),
            ),
        ];
        if !self.noise.is_empty() {
            bufs.push((
                "noise",
                Dtype::F32,
                vec![n, t, r, 2],
                le_bytes(&self.noise, f32::to_le_bytes),
            ));
        }
        let mut views = Vec::new();
        for (name, dtype, shape, data) in &bufs {
            views.push((
                *name,
                TensorView::new(*dtype, shape.clone(), data).context("tensor shape")?,
            ));
        }
        let meta = HashMap::from([("vina".to_owned(), serde_json::to_string(&self.meta)?)]);
        serialize_to_file(views, Some(meta), path)
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Read one safetensors file written by [`Dataset::write`].
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        // Bounded like every input: no shard `vina simulate` writes is larger
        // (its in-memory bound, MAX_SHARD_BYTES, covers the file's data; 64 MiB for the
        // header), so a wrong file or a device is refused before it fills memory.
        let bytes = crate::error::read_input_limited(
            path,
            "data set",
            crate::simulate::MAX_SHARD_BYTES + (64 << 20),
            "2 GiB of data plus a 64 MiB header, the largest shard `vina simulate` writes",
        )?;
        let bad = |what: String| refuse(format!("{}: {what}", path.display()));
        let (_, header) = SafeTensors::read_metadata(&bytes)
            .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let meta: Metadata = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get("vina"))
            .ok_or_else(|| bad("no `vina` metadata: not written by `vina simulate`".into()))
            .and_then(|s| {
                serde_json::from_str(s).map_err(|e| bad(format!("bad `vina` metadata: {e}")))
            })?;
        let st = SafeTensors::deserialize(&bytes)
            .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let tensor = |name: &str, dtype: Dtype| -> anyhow::Result<(Vec<usize>, Vec<u8>)> {
            let t = st
                .tensor(name)
                .map_err(|_| bad(format!("missing tensor `{name}`")))?;
            if t.dtype() != dtype {
                return Err(bad(format!(
                    "tensor `{name}` has dtype {:?}, expected {dtype:?}",
                    t.dtype()
                )));
            }
            Ok((t.shape().to_vec(), t.data().to_vec()))
        };
        let f64s = |b: &[u8]| {
            b.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect::<Vec<_>>()
        };
        let f32s = |b: &[u8]| {
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap_or([0; 4])))
                .collect::<Vec<_>>()
        };
        let (xs, x) = tensor("x", Dtype::F64)?;
        let (ys, y) = tensor("y", Dtype::F32)?;
        let (_, y_clean) = tensor("y_clean", Dtype::F32)?;
        let (_, pressure) = tensor("pressure", Dtype::F64)?;
        let noise = match st.tensor("noise") {
            Ok(_) => tensor("noise", Dtype::F32)?.1,
            Err(_) => Vec::new(),
        };
        let per_sample = 2 * meta.tones_hz.len() * meta.receiver_depths_m.len();
        if !noise.is_empty() && noise.len() != 4 * per_sample * xs.first().copied().unwrap_or(0) {
            return Err(bad(format!(
                "tensor `noise` holds {} bytes, expected {} values per sample",
                noise.len(),
                per_sample
            )));
        }
        let len = xs.first().copied().unwrap_or(0);
        if xs.get(1) != Some(&meta.parameters.len()) || ys.first() != Some(&len) {
            return Err(bad(format!(
                "tensor shapes x {xs:?} / y {ys:?} do not match the metadata"
            )));
        }
        Ok(Self {
            meta,
            len,
            x: f64s(&x),
            y: f32s(&y),
            y_clean: f32s(&y_clean),
            pressure: f64s(&pressure),
            noise: f32s(&noise),
        })
    }

    /// `(k, n)` of a shard file named by [`Dataset::shard_name`], else `None`.
    pub fn parse_shard_name(name: &str) -> Option<(u64, u64)> {
        let rest = name.strip_prefix("shard-")?.strip_suffix(".safetensors")?;
        let (k, n) = rest.split_once("-of-")?;
        let num = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().ok())
                .flatten()
        };
        Some((num(k)?, num(n)?))
    }

    /// Read a data set directory (all its shards, concatenated in sample order), or one file.
    ///
    /// The directory's shards must be exactly `shard-00000-of-0000N` … `shard-(N-1)-of-N`
    /// (one N, none missing, no other `.safetensors` files), and together hold the
    /// `total_samples` their metadata names: a missing first, middle or last shard is
    /// refused, naming it.
    pub fn read_dir(path: &Path) -> anyhow::Result<Self> {
        if path.is_file() {
            return Self::read(path);
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read data set directory {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
            .collect();
        files.sort();
        check_shard_names(path, &files)?;
        let mut parts = files
            .iter()
            .map(|f| Self::read(f))
            .collect::<anyhow::Result<Vec<_>>>()?;
        parts.sort_by_key(|d| d.meta.first_index);
        let mut iter = parts.into_iter();
        let mut all = iter
            .next()
            .ok_or_else(|| refuse(format!("{}: no .safetensors shards", path.display())))?;
        for part in iter {
            let next = all.meta.first_index + all.len as u64;
            let same = part.meta.scenario_hash == all.meta.scenario_hash
                && part.meta.seed == all.meta.seed;
            if !same || part.meta.first_index != next {
                return Err(refuse(format!(
                    "{}: shards do not fit together (scenario/seed differ, or samples from {next} are missing)",
                    path.display()
                )));
            }
            all.len += part.len;
            all.x.extend(part.x);
            all.y.extend(part.y);
            all.y_clean.extend(part.y_clean);
            if part.noise.is_empty() != all.noise.is_empty() {
                return Err(refuse(format!(
                    "{}: some shards keep the noise draws and some do not (re-simulate)",
                    path.display()
                )));
            }
            all.pressure.extend(part.pressure);
            all.noise.extend(part.noise);
        }
        if all.meta.first_index != 0 || all.len as u64 != all.meta.total_samples {
            return Err(refuse(format!(
                "{}: shards do not fit together: they hold samples {}..{}, the set has {} \
                 (a shard is missing)",
                path.display(),
                all.meta.first_index,
                all.meta.first_index + all.len as u64,
                all.meta.total_samples
            )));
        }
        Ok(all)
    }
}

/// Refuse a shard list that is not exactly shards 0..N of one N, naming the first
/// missing or unexpected file.
fn check_shard_names(dir: &Path, files: &[PathBuf]) -> anyhow::Result<()> {
    let mut found: Vec<(u64, u64, &str)> = Vec::with_capacity(files.len());
    for f in files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let Some((k, n)) = Dataset::parse_shard_name(name) else {
            return Err(refuse(format!(
                "{}: unexpected file {name}: data-set shards are named \
                 shard-KKKKK-of-NNNNN.safetensors (`vina simulate`)",
                dir.display()
            )));
        };
        if k >= n {
            return Err(refuse(format!(
                "{}: bad shard name {name}: shard index {k} is not below the count {n}",
                dir.display()
            )));
        }
        found.push((k, n, name));
    }
    let Some(&(_, n, first)) = found.first() else {
        return Ok(()); // no shards: refused by the caller
    };
    if let Some(&(_, _, other)) = found.iter().find(|(_, m, _)| *m != n) {
        return Err(refuse(format!(
            "{}: shards do not fit together: {first} and {other} name different shard counts",
            dir.display()
        )));
    }
    for k in 0..n {
        if !found.iter().any(|&(j, _, _)| j == k) {
            return Err(refuse(format!(
                "{}: shards do not fit together: {} is missing ({} of {n} shards found)",
                dir.display(),
                Dataset::shard_name(k, n),
                found.len()
            )));
        }
    }
    Ok(())
}

//! The training loop: Adam with exponential decay and global grad-norm clipping, a
//! validation split, best-model selection, a checkpoint every epoch, `--resume`, a
//! metrics CSV — deterministic for a seed.
//!
//! Files under the output directory:
//! - `metrics.csv`: one row per epoch (training and validation terms, learning rate,
//!   seconds, training samples per second; format in [`super::metrics`]);
//! - `checkpoint/`: one crash-safe checkpoint per epoch ([`super::checkpoint`]): network,
//!   optimizer (and critic) in burnpack `.bpk`, the best model so far, the metrics rows
//!   and `state.json`, with a manifest of CRC-32s, made current by replacing
//!   `checkpoint/LATEST`; a killed run loses at most the epoch in progress;
//! - `best.bpk` and `model.vina` (f32): the network with the lowest validation NLL;
//! - `config.toml`: the configuration the run used; `.train.lock`: held (flock) while a
//!   run writes here, so two runs cannot share the directory.
//!
//! `metrics.csv`, `best.bpk` and `model.vina` are published after each checkpoint commits,
//! and a resume rewrites them from the checkpoint, so they always match it: a kill between
//! any two writes neither duplicates nor drops a row, and the resumed run's files equal an
//! uninterrupted run's bit for bit (timing columns aside).
//!
//! Every epoch's shuffling and noise come from a generator seeded by (seed, epoch), so a
//! resumed run draws exactly what an uninterrupted one would have.
//!
//! *Test hook:* `VINA_TRAIN_KILL_AT=<point>:<epoch>` makes the process abort
//! (`std::process::abort`, as a kill would) at a named point of the 1-based epoch, so
//! tests can crash between any two of the checkpoint's writes ([`KILL_POINTS`];
//! `host/tests/train_kill.rs`). Unset, it costs one environment lookup per run.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use vina_core::model_file::ModelKind;
use vina_core::rng::Rng;
use vina_core::spec::Precision;

use super::checkpoint::{self, replace_atomic};
use super::config::TrainConfig;
use super::data::{Prepared, TrainData};
use super::flow::{Dims, Network};
use super::losses::fgan::{self, Critic};
use super::losses::{self, Batch, Noise, Terms};
use super::metrics;
use super::modules::tensor2;
use crate::dataset::Dataset;
use crate::error::refuse;

/// What a finished run reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSummary {
    /// Epochs completed in total (including those before a resume).
    pub epochs: usize,
    /// Epoch (0-based) of the exported model (`losses::Selection`).
    pub best_epoch: usize,
    /// Its validation score (`losses::Terms::score`: the NLL in nats per sample, plus
    /// an INN's weighted fit terms, or the weighted objective without ML).
    pub best_val_nll: f64,
    /// Training loss of each epoch, this run and before.
    pub train_loss: Vec<f64>,
    /// Validation NLL of each epoch.
    pub val_nll: Vec<f64>,
    /// Training samples per second, mean over this run's epochs.
    pub samples_per_s: f64,
    /// Wall time of this run's epochs, seconds.
    pub seconds: f64,
    /// The exported best model.
    pub model_file: PathBuf,
}

/// Checkpoint bookkeeping, `checkpoint/state.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct State {
    /// Epochs completed.
    epochs_done: usize,
    best_epoch: usize,
    #[serde(with = "exact")]
    best_val_nll: f64,
    #[serde(with = "exact")]
    train_loss: Vec<f64>,
    #[serde(with = "exact")]
    val_nll: Vec<f64>,
    /// The data the run trains on, so a resume cannot silently switch data sets.
    data_fingerprint: u64,
    /// The configuration, so a resume cannot silently switch settings (epochs may grow).
    config: TrainConfig,
}

/// f64 values as their shortest round-trip decimal strings: serde_json's default float
/// parser is not always correctly rounded, and a resumed run must see exactly the values
/// it saved.
mod exact {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// A value or a list of values.
    pub trait Exact: Sized {
        fn to_text(&self) -> Vec<String>;
        fn from_text(t: Vec<String>) -> Option<Self>;
    }

    impl Exact for f64 {
        fn to_text(&self) -> Vec<String> {
            vec![format!("{self:?}")]
        }
        fn from_text(t: Vec<String>) -> Option<Self> {
            t.first()?.parse().ok()
        }
    }

    impl Exact for Vec<f64> {
        fn to_text(&self) -> Vec<String> {
            self.iter().map(|v| format!("{v:?}")).collect()
        }
        fn from_text(t: Vec<String>) -> Option<Self> {
            t.iter().map(|s| s.parse().ok()).collect()
        }
    }

    pub fn serialize<T: Exact, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        v.to_text().serialize(s)
    }

    pub fn deserialize<'de, T: Exact, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        T::from_text(Vec::<String>::deserialize(d)?)
            .ok_or_else(|| serde::de::Error::custom("bad number in checkpoint state"))
    }
}

/// Read a data set directory and a config file, train, write to `out` (the CLI's
/// `vina train`). An `out` that exists and is not empty is refused unless `resume`
/// (continue its run) or `force` (start over: the trainer's files there are replaced).
pub fn run(
    data_dirs: &[PathBuf],
    config_file: &Path,
    out: &Path,
    resume: bool,
    force: bool,
    device: Option<super::device::DeviceName>,
    scenario: Option<&Path>,
) -> anyhow::Result<()> {
    let mut config = TrainConfig::read(config_file)?;
    if let Some(d) = device {
        config.device = d;
    }
    let mut data = combined(data_dirs)?;
    if let Some(path) = scenario {
        data.prior_box = Some(prior_box(path, &data)?); // checked with the data in `train`
    }
    if !resume && !force {
        refuse_non_empty(out)?;
    }
    let s = train(&data, &config, out, resume)?;
    eprintln!(
        "trained {} epochs; best validation NLL {:.4} at epoch {}; {:.0} samples/s; model: {}",
        s.epochs,
        s.best_val_nll,
        s.best_epoch + 1,
        s.samples_per_s,
        s.model_file.display()
    );
    Ok(())
}

/// Refuse an output directory that exists and holds anything.
fn refuse_non_empty(out: &Path) -> anyhow::Result<()> {
    let mut entries = match fs::read_dir(out) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(refuse(format!("--out {}: {e}", out.display()))),
    };
    if let Some(first) = entries.next() {
        let name = first
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .unwrap_or_default();
        return Err(refuse(format!(
            "--out {}: the directory is not empty (it holds {name}{}): pass --resume to \
             continue its run, or --force to start over and replace its metrics, \
             checkpoint and model",
            out.display(),
            if entries.next().is_some() {
                ", …"
            } else {
                ""
            }
        )));
    }
    Ok(())
}

/// The training inputs of a simulated data set.
pub fn train_data(d: &Dataset) -> anyhow::Result<TrainData> {
    TrainData::from_dataset(d)
}

/// The training data of one or more data sets of one scenario, concatenated in the order
/// given; sets that differ in scenario, unknowns, features or noise draws are refused.
fn combined(dirs: &[PathBuf]) -> anyhow::Result<TrainData> {
    let mut all: Option<TrainData> = None;
    for dir in dirs {
        let part = train_data(&Dataset::read_dir(dir)?)?;
        let Some(a) = all.as_mut() else {
            all = Some(part);
            continue;
        };
        let same = a.scenario_hash == part.scenario_hash
            && a.param_names == part.param_names
            && a.feature_kind == part.feature_kind
            && a.receivers == part.receivers
            && a.tones_hz == part.tones_hz
            && a.noise_dim == part.noise_dim;
        if !same {
            return Err(refuse(format!(
                "--data {}: not the same scenario, unknowns, features and noise draws as {}                  (only sets of one scenario train together)",
                dir.display(),
                dirs[0].display()
            )));
        }
        a.x.extend(part.x);
        a.y.extend(part.y);
        a.noise.extend(part.noise);
    }
    all.ok_or_else(|| refuse("--data: no data set given"))
}

/// The prior box of the scenario at `path`, refused unless the data were simulated from
/// it (same hash) and every unknown has a finite lower and upper bound.
fn prior_box(path: &Path, data: &TrainData) -> anyhow::Result<Vec<(f64, f64)>> {
    let scn = crate::scenario::Scenario::load(path)?;
    if scn.hash() != data.scenario_hash {
        return Err(refuse(format!(
            "--scenario {}: hash {:016x} is not the data set's {:016x} (the data were simulated from another scenario)",
            path.display(),
            scn.hash(),
            data.scenario_hash
        )));
    }
    scn.priors()
        .iter()
        .zip(&data.param_names)
        .map(|(p, name)| {
            let (lo, hi) = p.support();
            if lo.is_finite() && hi.is_finite() {
                Ok((lo, hi))
            } else {
                Err(refuse(format!(
                    "--scenario {}: the prior of {name} is unbounded ({lo}, {hi}); a bounded output needs a box",
                    path.display()
                )))
            }
        })
        .collect()
}

/// Network dimensions for this data and config.
fn net_dims(data: &TrainData, config: &TrainConfig) -> anyhow::Result<Dims> {
    let m = &config.model;
    let nuisance = nuisance_dim(data, config)?;
    let flow_dim = m.flow_dim_for(data.x_dim + nuisance, data.y_dim);
    if m.kind == ModelKind::Inn && (flow_dim <= data.y_dim || flow_dim < data.x_dim + nuisance) {
        return Err(refuse(format!(
            "model.flow_dim {flow_dim} must exceed y_dim {} and be at least x_dim {} + noise draws {nuisance}",
            data.y_dim, data.x_dim
        )));
    }
    Ok(Dims {
        x_dim: data.x_dim,
        y_dim: data.y_dim,
        flow_dim,
    })
}

/// Columns of x after θ that hold the observation's noise draws (`model.noise_in_x`).
fn nuisance_dim(data: &TrainData, config: &TrainConfig) -> anyhow::Result<usize> {
    if !config.model.noise_in_x {
        return Ok(0);
    }
    if data.noise_dim == 0 {
        return Err(refuse(
            "model.noise_in_x: the data set holds no noise draws (tensor `noise`); \
             simulate it again with this version of `vina simulate`",
        ));
    }
    Ok(data.noise_dim)
}

/// Global L2 norm clipping over all gradients (PyTorch's `clip_grad_norm_`); Burn's own
/// `GradientClipping::Norm` clips each parameter separately.
fn clip_global_norm(module: &Network, grads: GradientsParams, max_norm: f32) -> GradientsParams {
    struct SqNorm<'a> {
        grads: &'a GradientsParams,
        total: Option<Tensor<1>>,
    }
    impl ModuleVisitor for SqNorm<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.get::<D>(p.id) {
                let s = g.square().sum().reshape([1]);
                self.total = Some(match self.total.take() {
                    Some(t) => t + s,
                    None => s,
                });
            }
        }
    }
    struct Scale {
        grads: GradientsParams,
        factor: f32,
    }
    impl ModuleVisitor for Scale {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            if let Some(g) = self.grads.remove::<D>(p.id) {
                self.grads.register(p.id, g.mul_scalar(self.factor));
            }
        }
    }
    let mut sq = SqNorm {
        grads: &grads,
        total: None,
    };
    module.visit(&mut sq);
    let Some(total) = sq.total else {
        return grads;
    };
    let norm = total.into_scalar::<f32>().sqrt();
    if norm.is_nan() || norm <= max_norm {
        return grads;
    }
    let mut scale = Scale {
        grads,
        factor: max_norm / (norm + 1e-6),
    };
    module.visit(&mut scale);
    scale.grads
}

/// Standard-normal values from the host generator.
fn normals(rng: &mut Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| scale * rng.normal_f32()).collect()
}

/// Rows `idx` of a row-major matrix.
fn gather(values: &[f32], dim: usize, idx: &[usize]) -> Vec<f32> {
    idx.iter()
        .flat_map(|&i| values[i * dim..(i + 1) * dim].iter().copied())
        .collect()
}

/// The generator of epoch `epoch` (shuffling and noise).
fn epoch_rng(seed: u64, epoch: usize) -> Rng {
    Rng::new(seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Everything the loop needs per step besides the network.
struct StepContext<'a> {
    config: &'a TrainConfig,
    dims: &'a Dims,
    device: &'a Device,
    /// Noise draws per sample that lead an INN's padding (`model.noise_in_x`; else 0).
    nuisance: usize,
}

impl StepContext<'_> {
    /// Noise for a batch of `n`. An INN's padding row is the sample's observation-noise
    /// draws (`nuisance`, rows of `n × nuisance`; noise in x) followed by small Gaussian
    /// padding up to the total dimension.
    fn noise(&self, rng: &mut Rng, n: usize, nuisance: &[f32]) -> Noise {
        let s = self.dims;
        let kind = self.config.model.kind;
        let l = &self.config.loss;
        let pad_dim = s.flow_dim - s.x_dim;
        let pad = (kind == ModelKind::Inn && pad_dim > 0).then(|| {
            let k = self.nuisance;
            let mut v = Vec::with_capacity(n * pad_dim);
            for i in 0..n {
                v.extend_from_slice(&nuisance[i * k..(i + 1) * k]);
                v.extend(normals(rng, pad_dim - k, self.config.model.pad_noise));
            }
            tensor2(v, n, pad_dim, self.device)
        });
        let latent = match kind {
            ModelKind::Cinn => s.x_dim,
            ModelKind::Inn => s.flow_dim - s.y_dim,
        };
        let needs_z =
            l.fgan > 0.0 || l.mmd_forward > 0.0 || l.mmd_backward > 0.0 || l.sinkhorn > 0.0;
        let z = needs_z.then(|| tensor2(normals(rng, n * latent, 1.0), n, latent, self.device));
        Noise { pad, z }
    }

    fn batch(&self, x: &[f32], y: &[f32], idx: &[usize], device: &Device) -> Batch {
        let n = idx.len();
        let s = self.dims;
        Batch {
            x: tensor2(gather(x, s.x_dim, idx), n, s.x_dim, device),
            y: tensor2(gather(y, s.y_dim, idx), n, s.y_dim, device),
        }
    }
}

/// A module's burnpack bytes.
fn module_bytes<M: Module>(m: &M) -> anyhow::Result<Vec<u8>> {
    let bytes = m
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("cannot encode a checkpoint: {e}"))?;
    Ok(bytes.to_vec())
}

/// An optimizer's burnpack bytes.
fn optim_bytes(o: &ModuleOptimizer) -> anyhow::Result<Vec<u8>> {
    let bytes = o
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("cannot encode a checkpoint: {e}"))?;
    Ok(bytes.to_vec())
}

/// Load checkpoint file `name` (verified bytes) into a module.
fn load_module<M: Module>(m: M, c: &checkpoint::Loaded, name: &str) -> anyhow::Result<M> {
    let bad = |e: String| {
        refuse(format!(
            "cannot load checkpoint {}: {e}",
            c.dir.join(name).display()
        ))
    };
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(c.file(name)?.to_vec()))
        .map_err(|e| bad(e.to_string()))?;
    m.try_load_record(record).map_err(|e| bad(e.to_string()))
}

/// Load checkpoint file `name` (verified bytes) into an optimizer.
fn load_optim(
    o: ModuleOptimizer,
    c: &checkpoint::Loaded,
    name: &str,
) -> anyhow::Result<ModuleOptimizer> {
    o.from_bytes(Bytes::from_bytes_vec(c.file(name)?.to_vec()))
        .map_err(|e| {
            refuse(format!(
                "cannot load checkpoint {}: {e}",
                c.dir.join(name).display()
            ))
        })
}

/// The named points of the test-only crash hook, in the order an epoch reaches them.
pub const KILL_POINTS: [&str; 10] = [
    "mid-epoch",       // after the epoch's first optimizer step
    "after-weights",   // the new checkpoint's model.bpk written
    "after-optimizer", // its optim.bpk (and critic files) written
    "after-best",      // its best.bpk and model.vina written
    "after-state",     // its metrics.csv and state.json written
    "after-manifest",  // its manifest written, LATEST still names the previous one
    "after-latest",    // LATEST replaced: the checkpoint is current
    "after-model",     // out/best.bpk and out/model.vina published (if improved)
    "after-metrics",   // out/metrics.csv published
    "after-prune",     // older checkpoints removed
];

/// `VINA_TRAIN_KILL_AT=<point>:<epoch>` (module docs): abort at that point.
struct KillAt(Option<(String, usize)>);

impl KillAt {
    const VAR: &'static str = "VINA_TRAIN_KILL_AT";

    fn from_env() -> anyhow::Result<Self> {
        let Some(v) = std::env::var_os(Self::VAR) else {
            return Ok(Self(None));
        };
        let v = v.to_string_lossy();
        let parsed = v.split_once(':').and_then(|(p, e)| {
            let epoch = e.parse::<usize>().ok()?;
            KILL_POINTS
                .contains(&p)
                .then(|| (p.to_owned(), epoch))
                .filter(|_| epoch >= 1)
        });
        match parsed {
            Some(k) => Ok(Self(Some(k))),
            None => Err(refuse(format!(
                "{}={v}: expected <point>:<epoch ≥ 1>, point one of {}",
                Self::VAR,
                KILL_POINTS.join(", ")
            ))),
        }
    }

    /// Abort if this is the point and 1-based epoch asked for.
    fn at(&self, point: &str, epoch: usize) {
        if let Some((p, e)) = &self.0
            && p == point
            && *e == epoch
        {
            eprintln!("{}: aborting at {point} of epoch {epoch}", Self::VAR);
            std::process::abort();
        }
    }
}

/// Hold an exclusive lock on `out/.train.lock` while training, so two runs cannot write to
/// one directory; the lock goes with the process, killed or not.
///
/// A busy lock is tried again for up to a second before the run is refused: a process
/// that forks (to start any child) while this one's lock file is open passes the
/// descriptor, and with it the lock, to the child until the child's `exec` closes it, a
/// matter of milliseconds; another `vina train` holds it for its whole run. (Seen as a
/// spurious refusal in `host/tests/train_kill.rs`, whose tests train in-process while
/// others spawn `vina`.)
fn lock_out(out: &Path) -> anyhow::Result<fs::File> {
    let path = out.join(".train.lock");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    for attempt in 0..20 {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(fs::TryLockError::WouldBlock) if attempt < 19 => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(fs::TryLockError::WouldBlock) => break,
            Err(fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
    }
    Err(refuse(format!(
        "{}: another `vina train` is writing to this directory",
        out.display()
    )))
}

/// Remove a file if it is there.
fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

/// Validation terms of the network (no autodiff), in batches.
fn validate(
    net: &Network,
    critic: Option<&Critic>,
    prep: &Prepared,
    ctx: &StepContext<'_>,
) -> Terms {
    let device = ctx.device.clone().inner();
    let net = net.valid();
    let critic = critic.map(Module::valid);
    let n = prep.x_val.len() / ctx.dims.x_dim;
    // A fixed generator: every epoch is validated on the same noise.
    let mut rng = Rng::new(ctx.config.seed ^ 0x0a11_da7e);
    let mut acc = Terms::default();
    let bs = ctx.config.batch_size;
    let idx: Vec<usize> = (0..n).collect();
    for chunk in idx.chunks(bs) {
        if chunk.len() < 2 {
            continue;
        }
        let batch = ctx.batch(&prep.x_val, &prep.y_val, chunk, &device);
        let noise = StepContext {
            device: &device,
            ..*ctx
        }
        .noise(
            &mut rng,
            chunk.len(),
            &gather(&prep.n_val, ctx.nuisance, chunk),
        );
        let (_, t) = losses::objective(&net, critic.as_ref(), &batch, &noise, &ctx.config.loss);
        acc.add_scaled(&t, chunk.len() as f64 / n as f64);
    }
    acc
}

/// Train on `data` with `config`, writing to `out` (see the module docs); with `resume`,
/// continue from `out/checkpoint` if it holds a complete checkpoint.
pub fn train(
    data: &TrainData,
    config: &TrainConfig,
    out: &Path,
    resume: bool,
) -> anyhow::Result<TrainSummary> {
    config.validate()?;
    data.check()?;
    let dims = net_dims(data, config)?;
    let prep = Prepared::new(data, config.seed, config.val_fraction, config.max_samples);
    if prep.x_val.is_empty() {
        return Err(refuse(
            "training: the validation split is empty (raise val_fraction)",
        ));
    }
    let kill = KillAt::from_env()?;
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let _lock = lock_out(out)?;
    let ckpt = out.join(checkpoint::DIR);
    let metrics_path = out.join(metrics::FILE_NAME);
    let best_path = out.join("best.bpk");
    let model_path = out.join("model.vina");
    // The checkpoint to continue from, verified; anything else of an earlier run goes.
    let loaded = if resume {
        let c = checkpoint::read_latest(&ckpt)?;
        let old_format = ckpt.join("state.json");
        if c.is_none() && old_format.exists() {
            return Err(refuse(format!(
                "--resume: {} is a checkpoint without {} (written by an older vina, or \
                 damaged): it cannot be verified; start over with --force",
                old_format.display(),
                checkpoint::LATEST
            )));
        }
        c
    } else {
        None
    };
    if loaded.is_none() {
        match fs::remove_dir_all(&ckpt) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot remove {}", ckpt.display()));
            }
            _ => {}
        }
        for p in [&metrics_path, &best_path, &model_path] {
            remove_if_present(p)?;
        }
    }
    fs::create_dir_all(&ckpt).with_context(|| format!("cannot create {}", ckpt.display()))?;

    let device = config.device.device()?.autodiff();
    let ctx = StepContext {
        config,
        dims: &dims,
        device: &device,
        nuisance: nuisance_dim(data, config)?,
    };
    let o = &config.optim;
    if config.model.bounded && prep.bounds.is_none() {
        return Err(refuse(
            "model.bounded = true needs the prior's box: pass the data set's scenario \
             (vina train --scenario)",
        ));
    }
    if config.model.bounded && config.model.kind != ModelKind::Cinn {
        return Err(refuse(
            "model.bounded = true is for a cINN (kind = \"cinn\")",
        ));
    }
    let mut net = Network::init(
        &config.model,
        &dims,
        prep.bounds.as_ref(),
        config.seed,
        &device,
    );
    let mut optim = AdamConfig::new()
        .with_beta_1(o.betas[0])
        .with_beta_2(o.betas[1])
        .with_epsilon(o.eps)
        .with_weight_decay((o.weight_decay > 0.0).then(|| WeightDecayConfig::new(o.weight_decay)))
        .init();
    let l = &config.loss;
    let use_critic = l.fgan > 0.0;
    let mut critic = use_critic.then(|| {
        Critic::init(
            dims.x_dim,
            dims.y_dim,
            &l.critic_hidden,
            config.seed ^ 0x00C8_171C,
            &device,
        )
    });
    let mut critic_optim = AdamConfig::new()
        .with_beta_1(l.critic_betas[0])
        .with_beta_2(l.critic_betas[1])
        .with_epsilon(1e-8)
        .init();

    let mut state = State {
        epochs_done: 0,
        best_epoch: 0,
        best_val_nll: f64::INFINITY,
        train_loss: Vec::new(),
        val_nll: Vec::new(),
        data_fingerprint: data.fingerprint(),
        config: config.clone(),
    };
    // The metrics file's text and the best model's files (burnpack, .vina): every
    // checkpoint carries them, and the copies under `out` are published from them.
    let mut metrics_text = format!("{}\n", metrics::header());
    let mut best: Option<(Vec<u8>, Vec<u8>)> = None;
    if let Some(c) = &loaded {
        let state_file = c.dir.join("state.json");
        let old: State = serde_json::from_slice(c.file("state.json")?).map_err(|e| {
            refuse(format!(
                "{}: bad checkpoint state ({e}); start over with --force",
                state_file.display()
            ))
        })?;
        let same_config = TrainConfig {
            epochs: config.epochs,
            progress: config.progress,
            ..old.config.clone()
        } == *config;
        if old.data_fingerprint != state.data_fingerprint || !same_config {
            return Err(refuse(format!(
                "--resume: {} was trained on other data or with another config",
                out.display()
            )));
        }
        if old.epochs_done != c.epoch || old.train_loss.len() != c.epoch {
            return Err(refuse(format!(
                "{}: state of {} epochs in a checkpoint of {}; start over with --force",
                state_file.display(),
                old.epochs_done,
                c.epoch
            )));
        }
        net = load_module(net, c, "model.bpk")?;
        optim = load_optim(optim, c, "optim.bpk")?;
        if let Some(cr) = critic.take() {
            critic = Some(load_module(cr, c, "critic.bpk")?);
            critic_optim = load_optim(critic_optim, c, "critic_optim.bpk")?;
        }
        state = State {
            config: config.clone(),
            ..old
        };
        metrics_text = String::from_utf8(c.file(metrics::FILE_NAME)?.to_vec()).map_err(|_| {
            refuse(format!(
                "{}: not UTF-8",
                c.dir.join(metrics::FILE_NAME).display()
            ))
        })?;
        // What a killed run left beside this checkpoint goes.
        checkpoint::prune(&ckpt, &c.dir)?;
        if c.has("model.vina") {
            best = Some((c.file("best.bpk")?.to_vec(), c.file("model.vina")?.to_vec()));
        }
    }
    replace_atomic(
        &out.join("config.toml"),
        toml::to_string(config)?.as_bytes(),
    )?;
    // The published files as of the checkpoint: rows of an epoch that never reached its
    // checkpoint go, and a deleted metrics.csv comes back with its header.
    if let Some((bpk, vina)) = &best {
        replace_atomic(&best_path, bpk)?;
        replace_atomic(&model_path, vina)?;
    }
    replace_atomic(&metrics_path, metrics_text.as_bytes())?;

    let n_train = prep.x_train.len() / dims.x_dim;
    let steps = n_train.div_ceil(config.batch_size);
    let bar = if config.progress {
        let b = ProgressBar::new((config.epochs.saturating_sub(state.epochs_done) * steps) as u64);
        b.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let run_start = Instant::now();
    let mut samples_seen = 0usize;
    for epoch in state.epochs_done..config.epochs {
        let t0 = Instant::now();
        let lr = o.lr * o.lr_decay.powi(epoch as i32);
        let mut rng = epoch_rng(config.seed, epoch);
        let mut order: Vec<usize> = (0..n_train).collect();
        for i in (1..order.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let mut acc = Terms::default();
        for chunk in order.chunks(config.batch_size) {
            if chunk.len() < 2 {
                continue;
            }
            let batch = ctx.batch(&prep.x_train, &prep.y_train, chunk, &device);
            let noise = ctx.noise(
                &mut rng,
                chunk.len(),
                &gather(&prep.n_train, ctx.nuisance, chunk),
            );
            if let Some(c) = critic.take() {
                critic = Some(critic_step(
                    c,
                    &mut critic_optim,
                    &net,
                    &batch,
                    &noise,
                    &ctx,
                    &mut rng,
                ));
            }
            let (loss, terms) = losses::objective(&net, critic.as_ref(), &batch, &noise, l);
            if !terms.total.is_finite() {
                return Err(anyhow::anyhow!(
                    "training diverged at epoch {} (loss {})",
                    epoch + 1,
                    terms.total
                ));
            }
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            let grads = if o.grad_clip > 0.0 {
                clip_global_norm(&net, grads, o.grad_clip)
            } else {
                grads
            };
            net = optim.step(lr, net, grads);
            kill.at("mid-epoch", epoch + 1);
            acc.add_scaled(&terms, chunk.len() as f64 / n_train as f64);
            samples_seen += chunk.len();
            bar.inc(1);
            bar.set_message(format!("epoch {} loss {:.4}", epoch + 1, terms.total));
        }
        let train_s = t0.elapsed().as_secs_f64();
        let val = validate(&net, critic.as_ref(), &prep, &ctx);
        let seconds = t0.elapsed().as_secs_f64();
        let sps = n_train as f64 / train_s.max(1e-9);

        state.train_loss.push(acc.total);
        state.val_nll.push(val.nll);
        // Best epoch: the lowest validation score, or the last one (`losses::Selection`).
        let improved = match losses::Selection::for_loss(&config.loss) {
            losses::Selection::Last => !val.score.is_nan(),
            _ => val.score < state.best_val_nll,
        };
        if improved {
            state.best_val_nll = val.score;
            state.best_epoch = epoch;
            let spec = net.valid().to_spec(&prep.header);
            let file = spec
                .encode(Precision::F32)
                .map_err(|e| anyhow::anyhow!("export: {e}"))?;
            best = Some((module_bytes(&net)?, file));
        }
        let row = metrics::row(epoch + 1, &acc, &val, lr, seconds, sps);
        metrics_text.push_str(&row);
        metrics_text.push('\n');
        state.epochs_done = epoch + 1;

        // The checkpoint, one atomic unit (module docs of `checkpoint`).
        let done = epoch + 1;
        let mut w = checkpoint::Writer::begin(&ckpt, done)?;
        w.file("model.bpk", &module_bytes(&net)?)?;
        kill.at("after-weights", done);
        w.file("optim.bpk", &optim_bytes(&optim)?)?;
        if let Some(c) = &critic {
            w.file("critic.bpk", &module_bytes(c)?)?;
            w.file("critic_optim.bpk", &optim_bytes(&critic_optim)?)?;
        }
        kill.at("after-optimizer", done);
        // (No best model yet only while every validation score was NaN.)
        if let Some((best_bpk, best_vina)) = &best {
            w.file("best.bpk", best_bpk)?;
            w.file("model.vina", best_vina)?;
        }
        kill.at("after-best", done);
        w.file(metrics::FILE_NAME, metrics_text.as_bytes())?;
        w.file("state.json", &serde_json::to_vec_pretty(&state)?)?;
        kill.at("after-state", done);
        let current = w.commit(|| kill.at("after-manifest", done))?;
        kill.at("after-latest", done);
        // Publish what the checkpoint holds.
        if let Some((best_bpk, best_vina)) = best.as_ref().filter(|_| improved) {
            replace_atomic(&best_path, best_bpk)?;
            replace_atomic(&model_path, best_vina)?;
        }
        kill.at("after-model", done);
        replace_atomic(&metrics_path, metrics_text.as_bytes())?;
        kill.at("after-metrics", done);
        checkpoint::prune(&ckpt, &current)?;
        kill.at("after-prune", done);
        if config.progress {
            bar.println(format!(
                "epoch {:>3}: train loss {:.4} nll {:.4} | val nll {:.4}{} | {:.1} s, {:.0} samples/s",
                epoch + 1,
                acc.total,
                acc.nll,
                val.nll,
                if state.best_epoch == epoch { " *" } else { "" },
                seconds,
                sps
            ));
        }
    }
    bar.finish_and_clear();
    let seconds = run_start.elapsed().as_secs_f64();
    Ok(TrainSummary {
        epochs: state.epochs_done,
        best_epoch: state.best_epoch,
        best_val_nll: state.best_val_nll,
        train_loss: state.train_loss,
        val_nll: state.val_nll,
        samples_per_s: samples_seen as f64 / seconds.max(1e-9),
        seconds,
        model_file: out.join("model.vina"),
    })
}

/// One critic update (maximize the f-GAN bound on a batch, network samples detached).
fn critic_step(
    critic: Critic,
    optim: &mut ModuleOptimizer,
    net: &Network,
    batch: &Batch,
    noise: &Noise,
    ctx: &StepContext<'_>,
    rng: &mut Rng,
) -> Critic {
    let l = &ctx.config.loss;
    let mut critic = critic;
    for k in 0..l.critic_steps.max(1) {
        // Fresh latents after the first critic step, so extra steps see new samples.
        let z = if k == 0 {
            noise.z.clone()
        } else {
            let n = batch.x.dims()[0];
            ctx.noise(rng, n, &vec![0.0; n * ctx.nuisance]).z
        };
        let z = z.expect("the f-GAN loss needs latent draws");
        let x_fake = losses::sample(net, &batch.y, z, ctx.dims.x_dim).detach();
        let loss = fgan::bound(
            l.divergence,
            &critic,
            batch.x.clone(),
            x_fake,
            batch.y.clone(),
            l.critic_clamp,
            l.critic_fake_clamp,
        )
        .neg();
        let grads = GradientsParams::from_grads(loss.backward(), &critic);
        critic = optim.step(l.critic_lr, critic, grads);
    }
    critic
}

//! The training loop: Adam with exponential decay and global grad-norm clipping, a
//! validation split, best-model selection, a checkpoint every epoch, `--resume`, a
//! metrics CSV — deterministic for a seed.
//!
//! Files under the output directory:
//! - `metrics.csv`: one row per epoch (training and validation terms, learning rate,
//!   seconds, training samples per second; format in [`super::metrics`]);
//! - `checkpoint/`: network, optimizer (and critic) in burnpack `.bpk`, plus `state.json`,
//!   written last, which marks the checkpoint complete; a killed run loses at most the
//!   epoch in progress;
//! - `best.bpk` and `model.vina` (f32): the network with the lowest validation NLL;
//! - `config.toml`: the configuration the run used.
//!
//! Every epoch's shuffling and noise come from a generator seeded by (seed, epoch), so a
//! resumed run draws exactly what an uninterrupted one would have.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use vina_core::model_file::ModelKind;
use vina_core::rng::Rng;
use vina_core::spec::Precision;

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
    /// Epoch (0-based) of the best validation NLL.
    pub best_epoch: usize,
    /// Best validation score (`losses::Terms::score`: the NLL in nats per sample, plus
    /// an INN's weighted fit terms).
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
/// `vina train`).
pub fn run(
    data_dir: &Path,
    config_file: &Path,
    out: &Path,
    resume: bool,
    device: Option<super::device::DeviceName>,
) -> anyhow::Result<()> {
    let mut config = TrainConfig::read(config_file)?;
    if let Some(d) = device {
        config.device = d;
    }
    let data = train_data(&Dataset::read_dir(data_dir)?)?;
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

/// The training inputs of a simulated data set.
pub fn train_data(d: &Dataset) -> anyhow::Result<TrainData> {
    TrainData::from_dataset(d)
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

/// Atomically replace `path` by `bytes` (write, then rename).
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// Save a module as burnpack through a temporary file, so a kill never leaves half a file.
fn save_module<M: Module>(m: &M, path: &Path) -> anyhow::Result<()> {
    let tmp = path.with_extension("bpk.tmp");
    m.clone()
        .save_file(&tmp)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

fn save_optim(o: &ModuleOptimizer, path: &Path) -> anyhow::Result<()> {
    let tmp = path.with_extension("bpk.tmp");
    o.save(&tmp)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

fn load_module<M: Module>(m: M, path: &Path) -> anyhow::Result<M> {
    m.try_load_file(path)
        .map_err(|e| anyhow::anyhow!("cannot load checkpoint {}: {e}", path.display()))
}

fn load_optim(o: ModuleOptimizer, path: &Path) -> anyhow::Result<ModuleOptimizer> {
    o.load(path)
        .map_err(|e| anyhow::anyhow!("cannot load checkpoint {}: {e}", path.display()))
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
    let ckpt = out.join("checkpoint");
    fs::create_dir_all(&ckpt).with_context(|| format!("cannot create {}", ckpt.display()))?;
    fs::write(out.join("config.toml"), toml::to_string(config)?)?;

    let device = config.device.device()?.autodiff();
    let ctx = StepContext {
        config,
        dims: &dims,
        device: &device,
        nuisance: nuisance_dim(data, config)?,
    };
    let o = &config.optim;
    let mut net = Network::init(&config.model, &dims, config.seed, &device);
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

    let state_path = ckpt.join("state.json");
    let metrics_path = out.join(metrics::FILE_NAME);
    let mut state = State {
        epochs_done: 0,
        best_epoch: 0,
        best_val_nll: f64::INFINITY,
        train_loss: Vec::new(),
        val_nll: Vec::new(),
        data_fingerprint: data.fingerprint(),
        config: config.clone(),
    };
    if resume && state_path.exists() {
        let old: State = serde_json::from_slice(&fs::read(&state_path)?)
            .with_context(|| format!("bad checkpoint state {}", state_path.display()))?;
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
        net = load_module(net, &ckpt.join("model.bpk"))?;
        optim = load_optim(optim, &ckpt.join("optim.bpk"))?;
        if let Some(c) = critic.take() {
            critic = Some(load_module(c, &ckpt.join("critic.bpk"))?);
            critic_optim = load_optim(critic_optim, &ckpt.join("critic_optim.bpk"))?;
        }
        state = State {
            config: config.clone(),
            ..old
        };
        // Drop metric rows of an epoch that never reached its checkpoint.
        let text = fs::read_to_string(&metrics_path).unwrap_or_default();
        let kept: Vec<&str> = text.lines().take(1 + state.epochs_done).collect::<Vec<_>>();
        write_atomic(&metrics_path, format!("{}\n", kept.join("\n")).as_bytes())?;
    } else {
        write_atomic(&metrics_path, format!("{}\n", metrics::header()).as_bytes())?;
    }

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
        // Best epoch: the lowest validation score (the NLL, plus an INN's fit terms).
        if val.score < state.best_val_nll {
            state.best_val_nll = val.score;
            state.best_epoch = epoch;
            save_module(&net, &out.join("best.bpk"))?;
            let spec = net.valid().to_spec(&prep.header);
            let file = spec
                .encode(Precision::F32)
                .map_err(|e| anyhow::anyhow!("export: {e}"))?;
            write_atomic(&out.join("model.vina"), &file)?;
        }
        save_module(&net, &ckpt.join("model.bpk"))?;
        save_optim(&optim, &ckpt.join("optim.bpk"))?;
        if let Some(c) = &critic {
            save_module(c, &ckpt.join("critic.bpk"))?;
            save_optim(&critic_optim, &ckpt.join("critic_optim.bpk"))?;
        }
        let row = metrics::row(epoch + 1, &acc, &val, lr, seconds, sps);
        fs::OpenOptions::new()
            .append(true)
            .open(&metrics_path)
            .and_then(|mut f| writeln!(f, "{row}"))
            .with_context(|| format!("cannot write {}", metrics_path.display()))?;
        state.epochs_done = epoch + 1;
        write_atomic(&state_path, &serde_json::to_vec_pretty(&state)?)?;
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

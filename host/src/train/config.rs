//! The training configuration (TOML). Defaults are the VINA reference code's
//! hyper-parameters (docs/architecture.md, "Models and losses"); every field may be left
//! out.
//!
//! ```toml
//! seed = 0
//! epochs = 40
//! [model]
//! kind = "cinn"          # or "inn"
//! blocks = 4
//! hidden = [48, 48]
//! [loss]
//! ml = 1.0               # weights of the terms; several may be non-zero
//! fgan = 0.0
//! divergence = "kl"
//! [optim]
//! lr = 3e-4
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};
use vina_core::layers::Activation;
use vina_core::limits;
use vina_core::model_file::ModelKind;
use vina_core::spec::Architecture;

use super::losses::fgan::Divergence;
use crate::error::refuse;

/// Everything a training run depends on besides the data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Seed of the split, the initialization, the shuffling and the noise.
    pub seed: u64,
    /// Epochs in the whole run (a resumed run continues up to this).
    pub epochs: usize,
    /// Samples per optimizer step.
    pub batch_size: usize,
    /// Share of the samples held out for validation.
    pub val_fraction: f64,
    /// Use at most this many samples of the data set (0: all).
    pub max_samples: usize,
    /// Print a progress bar and one line per epoch on stderr.
    pub progress: bool,
    /// Burn device: "flex" (CPU, default), "cuda" or "wgpu" (cargo features of the same
    /// names).
    pub device: super::device::DeviceName,
    /// Network architecture (the `[model]` table; keys in `vina_core::spec::Architecture`).
    pub model: Architecture,
    /// Loss terms and their weights.
    pub loss: LossConfig,
    /// Optimizer of the network.
    pub optim: OptimConfig,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            seed: 0,
            epochs: 40,
            batch_size: 512,
            val_fraction: 0.1,
            max_samples: 0,
            progress: true,
            device: super::device::DeviceName::Flex,
            model: Architecture::default(),
            loss: LossConfig::default(),
            optim: OptimConfig::default(),
        }
    }
}

/// Loss terms; the training loss is their weighted sum.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossConfig {
    /// Maximum likelihood ½‖z‖² − log|det J| (forward KL).
    pub ml: f32,
    /// INN: weight of the supervised y term ½‖ŷ − y‖² (with `ml`).
    pub y_weight: f32,
    /// INN: the maximum-likelihood term includes the standard-normal base density of ŷ,
    /// `½‖ŷ‖²`, so it is the flow's exact density of x (see `losses::ml::nll`: without it
    /// stretching ŷ buys log-determinant for free).
    pub y_base: bool,
    /// INN: weight of RMSE(ŷ, y) (the reference code's fit term, 25 there).
    pub fit_rmse: f32,
    /// INN: weight of RMSE(INN⁻¹([y, z]), [x, pad]) (the reference code's reconstruction
    /// term, 5 there).
    pub recon_rmse: f32,
    /// Variational f-divergence with a critic V(x, y).
    pub fgan: f32,
    /// Which f-divergence.
    pub divergence: Divergence,
    /// The network's side of the f-GAN game: "saddle" (default) or "non_saturating"
    /// (the VINA reference code's).
    pub generator: super::losses::fgan::Generator,
    /// Critic hidden widths.
    pub critic_hidden: Vec<usize>,
    /// Critic Adam learning rate.
    pub critic_lr: f64,
    /// Critic Adam betas.
    pub critic_betas: [f32; 2],
    /// Critic output on real samples is clamped to ±this.
    pub critic_clamp: f32,
    /// Critic output on model samples is clamped to ±this inside f* (the reference code
    /// clips the KL conjugate's argument to ±10): keeps e^{v−1} finite.
    pub critic_fake_clamp: f32,
    /// Critic steps per network step.
    pub critic_steps: usize,
    /// MMD between the forward output ([y, z] or (z, y)) and the prior (Ardizzone).
    pub mmd_forward: f32,
    /// MMD between inverse samples (x̃, y) and the data (x, y).
    pub mmd_backward: f32,
    /// Inverse-multiquadric kernel widths a: k = Σ a²/(a² + ‖·‖²).
    pub mmd_widths: Vec<f32>,
    /// Debiased Sinkhorn divergence (geomloss's, cost ½‖·‖²) between inverse samples
    /// (x̃, y) and the data (x, y).
    pub sinkhorn: f32,
    /// Target temperature ε of the Sinkhorn divergence (geomloss's blur²; normalized units).
    pub sinkhorn_eps: f32,
    /// ε-scaling ratio of the blur per update (geomloss's `scaling`).
    pub sinkhorn_scaling: f32,
    /// Updates at the target ε after the ε-scaling (geomloss: 1).
    pub sinkhorn_iters: usize,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            ml: 1.0,
            y_weight: 1.0,
            y_base: false,
            fit_rmse: 0.0,
            recon_rmse: 0.0,
            fgan: 0.0,
            divergence: Divergence::Kl,
            generator: super::losses::fgan::Generator::Saddle,
            critic_hidden: vec![64, 64],
            critic_lr: 2e-4,
            critic_betas: [0.5, 0.9],
            critic_clamp: 4.0,
            critic_fake_clamp: 10.0,
            critic_steps: 1,
            mmd_forward: 0.0,
            mmd_backward: 0.0,
            mmd_widths: vec![0.05, 0.2, 0.9],
            sinkhorn: 0.0,
            // geomloss's defaults: blur 0.05, scaling 0.5.
            sinkhorn_eps: 0.0025,
            sinkhorn_scaling: 0.5,
            sinkhorn_iters: 1,
        }
    }
}

/// Adam with L2 weight decay, exponential decay per epoch and global grad-norm clipping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OptimConfig {
    /// Initial learning rate.
    pub lr: f64,
    /// Adam betas.
    pub betas: [f32; 2],
    /// Adam epsilon.
    pub eps: f32,
    /// L2 penalty added to the gradient (PyTorch `Adam(weight_decay=…)`).
    pub weight_decay: f32,
    /// Learning-rate factor per epoch.
    pub lr_decay: f64,
    /// Largest global gradient norm (0: no clipping).
    pub grad_clip: f32,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            lr: 3e-4,
            betas: [0.8, 0.9],
            eps: 1e-6,
            weight_decay: 2e-5,
            lr_decay: 0.95,
            grad_clip: 1.0,
        }
    }
}

impl TrainConfig {
    /// Read a TOML config file; a refused value names the file, the field and the
    /// allowed range.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        // bounded, and a file that is not UTF-8 is refused (exit 2) like any bad input
        let text = crate::error::read_text_limited(
            path,
            "training config",
            crate::error::MAX_TEXT_INPUT,
            crate::error::MAX_TEXT_INPUT_TEXT,
        )?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parse and validate the text of a TOML config; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Self> {
        let config: Self = toml::from_str(text).map_err(|e| refuse(format!("{origin}: {e}")))?;
        config
            .validate()
            .map_err(|e| refuse(format!("{origin}: {e}")))?;
        Ok(config)
    }

    /// Refuse settings that cannot train: every message names the field (`optim.betas`)
    /// and the allowed range.
    pub fn validate(&self) -> anyhow::Result<()> {
        let m = &self.model;
        let l = &self.loss;
        let o = &self.optim;
        check_int("epochs", self.epochs, 1, MAX_EPOCHS)?;
        check_int("batch_size", self.batch_size, 2, MAX_BATCH)?;
        check(
            "val_fraction",
            self.val_fraction.is_finite() && (0.0..1.0).contains(&self.val_fraction),
            "in [0, 1)",
            self.val_fraction,
        )?;

        check_int("model.blocks", m.blocks, 1, limits::MAX_FLOW_LAYERS)?;
        check_widths("model.hidden", &m.hidden, 1, limits::MAX_WIDTH)?;
        check_pos("model.clamp", f64::from(m.clamp))?;
        check_nonneg("model.pad_noise", f64::from(m.pad_noise))?;
        check_nonneg("model.last_layer_scale", f64::from(m.last_layer_scale))?;
        if m.activation == Activation::Identity {
            return Err(refuse(
                "training config: `model.activation` must be relu, leaky_relu, gelu or tanh",
            ));
        }
        if m.flow_dim > limits::MAX_DIM {
            return Err(refuse(format!(
                "training config: `model.flow_dim` must be 0 (automatic) or at most {} \
                 (vina_core::limits::MAX_DIM), found {}",
                limits::MAX_DIM,
                m.flow_dim
            )));
        }
        if m.kind == ModelKind::Cinn {
            check_int("model.cond_dim", m.cond_dim, 1, limits::MAX_WIDTH)?;
            check_widths("model.cond_hidden", &m.cond_hidden, 0, limits::MAX_WIDTH)?;
            if m.noise_in_x {
                return Err(refuse(
                    "training config: `model.noise_in_x` is for an INN (a cINN conditions on y directly)",
                ));
            }
        }

        let weights = [
            ("loss.ml", l.ml),
            ("loss.fgan", l.fgan),
            ("loss.mmd_forward", l.mmd_forward),
            ("loss.mmd_backward", l.mmd_backward),
            ("loss.sinkhorn", l.sinkhorn),
            ("loss.fit_rmse", l.fit_rmse),
            ("loss.recon_rmse", l.recon_rmse),
            ("loss.y_weight", l.y_weight),
        ];
        for (field, w) in weights {
            check_nonneg(field, f64::from(w))?;
        }
        if weights[..7].iter().all(|(_, w)| *w == 0.0) {
            return Err(refuse(
                "training config: loss weights (`loss.ml`, `loss.fgan`, `loss.mmd_forward`, \
                 `loss.mmd_backward`, `loss.sinkhorn`, `loss.fit_rmse`, `loss.recon_rmse`) \
                 must be non-negative and at least one positive",
            ));
        }
        check_widths("loss.critic_hidden", &l.critic_hidden, 0, MAX_CRITIC_WIDTH)?;
        check_pos("loss.critic_lr", l.critic_lr)?;
        check_betas("loss.critic_betas", l.critic_betas)?;
        check_pos("loss.critic_clamp", f64::from(l.critic_clamp))?;
        check_pos("loss.critic_fake_clamp", f64::from(l.critic_fake_clamp))?;
        check_int("loss.critic_steps", l.critic_steps, 1, MAX_ITERATIONS)?;
        if (l.mmd_forward > 0.0 || l.mmd_backward > 0.0) && l.mmd_widths.is_empty() {
            return Err(refuse(
                "training config: `loss.mmd_widths` needs at least one width for the MMD terms",
            ));
        }
        for w in &l.mmd_widths {
            check_pos("loss.mmd_widths", f64::from(*w))?;
        }
        check_pos("loss.sinkhorn_eps", f64::from(l.sinkhorn_eps))?;
        check_int("loss.sinkhorn_iters", l.sinkhorn_iters, 1, MAX_ITERATIONS)?;
        if !(l.sinkhorn_scaling > 0.0 && l.sinkhorn_scaling < 1.0) {
            return Err(refuse(format!(
                "training config: `loss.sinkhorn_scaling` must be in (0, 1), got {}",
                l.sinkhorn_scaling
            )));
        }

        check_pos("optim.lr", o.lr)?;
        check_betas("optim.betas", o.betas)?;
        check_pos("optim.eps", f64::from(o.eps))?;
        check_nonneg("optim.weight_decay", f64::from(o.weight_decay))?;
        check(
            "optim.lr_decay",
            o.lr_decay.is_finite() && o.lr_decay > 0.0 && o.lr_decay <= 1.0,
            "in (0, 1]",
            o.lr_decay,
        )?;
        check(
            "optim.grad_clip",
            o.grad_clip.is_finite() && o.grad_clip >= 0.0,
            "a finite norm > 0, or 0 for no clipping",
            o.grad_clip,
        )?;
        Ok(())
    }
}

/// Most epochs a run may ask for.
pub const MAX_EPOCHS: usize = 1_000_000;
/// Largest batch.
pub const MAX_BATCH: usize = 1 << 24;
/// Widest critic layer (the critic stays on the host, so it is not bound by
/// `vina_core::limits::MAX_WIDTH`).
pub const MAX_CRITIC_WIDTH: usize = 1 << 16;
/// Most critic steps or Sinkhorn iterations.
pub const MAX_ITERATIONS: usize = 100_000;

/// `ok`, or a refusal naming `field`, the allowed range and the value found.
fn check(field: &str, ok: bool, range: &str, found: impl std::fmt::Display) -> anyhow::Result<()> {
    if ok {
        Ok(())
    } else {
        Err(refuse(format!(
            "training config: `{field}` must be {range}, found {found}"
        )))
    }
}

/// An integer in `lo..=hi`.
fn check_int(field: &str, v: usize, lo: usize, hi: usize) -> anyhow::Result<()> {
    check(
        field,
        (lo..=hi).contains(&v),
        &format!("in [{lo}, {hi}]"),
        v,
    )
}

/// A finite positive number.
fn check_pos(field: &str, v: f64) -> anyhow::Result<()> {
    check(field, v.is_finite() && v > 0.0, "finite and > 0", v)
}

/// A finite non-negative number.
fn check_nonneg(field: &str, v: f64) -> anyhow::Result<()> {
    check(field, v.is_finite() && v >= 0.0, "finite and >= 0", v)
}

/// Adam's two betas, each in [0, 1).
fn check_betas(field: &str, b: [f32; 2]) -> anyhow::Result<()> {
    check(
        field,
        b.iter().all(|v| (0.0..1.0).contains(v)),
        "two values, each in [0, 1)",
        format!("[{}, {}]", b[0], b[1]),
    )
}

/// Layer widths: at least `min_layers` of them, each in [1, `max`], at most
/// `vina_core::limits::MAX_DENSE` layers.
fn check_widths(field: &str, w: &[usize], min_layers: usize, max: usize) -> anyhow::Result<()> {
    check(
        field,
        w.len() >= min_layers
            && w.len() <= limits::MAX_DENSE
            && w.iter().all(|v| (1..=max).contains(v)),
        &format!(
            "{}at most {} widths, each in [1, {max}]",
            if min_layers > 0 {
                format!("at least {min_layers} and ")
            } else {
                String::new()
            },
            limits::MAX_DENSE
        ),
        format!("{w:?}"),
    )
}

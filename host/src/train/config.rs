//! The training configuration (TOML). Defaults are the VINA reference code's
//! hyper-parameters (design §5); every field may be left out.
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

use anyhow::Context;
use serde::{Deserialize, Serialize};
use vina_core::layers::Activation;
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

/// Loss terms; the training loss is their weighted sum (design §5).
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
    /// Entropic Sinkhorn (W2) between inverse samples (x̃, y) and the data (x, y).
    pub sinkhorn: f32,
    /// Sinkhorn entropic regularization ε (normalized units, squared distances).
    pub sinkhorn_eps: f32,
    /// Sinkhorn iterations.
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
            sinkhorn_eps: 0.05,
            sinkhorn_iters: 50,
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
    /// Read a TOML config file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read training config {}", path.display()))?;
        let config: Self =
            toml::from_str(&text).map_err(|e| refuse(format!("{}: {e}", path.display())))?;
        config.validate()?;
        Ok(config)
    }

    /// Refuse settings that cannot train.
    pub fn validate(&self) -> anyhow::Result<()> {
        let bad = |what: &str| Err(refuse(format!("training config: {what}")));
        if self.batch_size < 2 {
            return bad("batch_size must be at least 2");
        }
        if !(0.0..1.0).contains(&self.val_fraction) {
            return bad("val_fraction must be in [0, 1)");
        }
        if self.model.blocks == 0 || self.model.hidden.is_empty() {
            return bad("model needs at least one block and one hidden layer");
        }
        if !(self.model.clamp.is_finite() && self.model.clamp > 0.0) {
            return bad("model.clamp must be positive");
        }
        if self.model.activation == Activation::Identity {
            return bad("model.activation must be relu, leaky_relu, gelu or tanh");
        }
        if self.model.kind == ModelKind::Cinn && self.model.cond_dim == 0 {
            return bad("model.cond_dim must be at least 1 for a cINN");
        }
        if self.model.kind == ModelKind::Cinn && self.model.noise_in_x {
            return bad("model.noise_in_x is for an INN (a cINN conditions on y directly)");
        }
        let l = &self.loss;
        let weights = [
            l.ml,
            l.fgan,
            l.mmd_forward,
            l.mmd_backward,
            l.sinkhorn,
            l.fit_rmse,
            l.recon_rmse,
        ];
        if weights.iter().any(|w| !w.is_finite() || *w < 0.0) || weights.iter().all(|w| *w == 0.0) {
            return bad("loss weights must be non-negative and at least one positive");
        }
        if !(l.critic_clamp > 0.0 && l.critic_fake_clamp > 0.0) {
            return bad("loss.critic_clamp and loss.critic_fake_clamp must be positive");
        }
        if !(self.optim.lr > 0.0 && self.optim.lr_decay > 0.0 && self.optim.lr_decay <= 1.0) {
            return bad("optim.lr must be positive and optim.lr_decay in (0, 1]");
        }
        Ok(())
    }
}

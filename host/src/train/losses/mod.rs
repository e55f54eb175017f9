//! The VINA losses (docs/architecture.md, "Models and losses"). Each term works on
//! normalized x and y; the training loss is the weighted sum chosen in
//! [`crate::train::config::LossConfig`].

pub mod fgan;
pub mod ml;
pub mod mmd;
pub mod sinkhorn;

use burn::tensor::Tensor;

use super::config::LossConfig;
use super::flow::Network;

/// A batch of normalized samples.
#[derive(Clone, Debug)]
pub struct Batch {
    /// `[n, x_dim]`.
    pub x: Tensor<2>,
    /// `[n, y_dim]`.
    pub y: Tensor<2>,
}

/// Standard-normal draws a step needs, made on the host from the run's seeded generator
/// (so a run repeats bit for bit whatever the backend's own RNG does).
#[derive(Clone, Debug)]
pub struct Noise {
    /// INN: padding of x to the total dimension, `[n, flow_dim − x_dim]`, already scaled.
    pub pad: Option<Tensor<2>>,
    /// Latent draws for inverse samples, `[n, latent]` (sample-based losses only).
    pub z: Option<Tensor<2>>,
}

/// The forward pass of a batch, split the way the losses need it.
#[derive(Clone, Debug)]
pub struct Forward {
    /// Latent part `[n, latent]`.
    pub z: Tensor<2>,
    /// INN: predicted observation `[n, y_dim]`.
    pub y_hat: Option<Tensor<2>>,
    /// log|det J| per sample.
    pub log_det: Tensor<1>,
    /// INN: the padded input `[x, pad]` the flow mapped (the reconstruction target).
    pub input: Option<Tensor<2>>,
}

/// x (padded for an INN) → latent, given y.
pub fn forward(net: &Network, batch: &Batch, pad: Option<&Tensor<2>>) -> Forward {
    match net {
        Network::Cinn(m) => {
            let c = m.condition(batch.y.clone());
            let (z, log_det) = m.forward(batch.x.clone(), &c);
            Forward {
                z,
                y_hat: None,
                log_det,
                input: None,
            }
        }
        Network::Inn(m) => {
            let v = match pad {
                Some(p) => Tensor::cat(vec![batch.x.clone(), p.clone()], 1),
                None => batch.x.clone(),
            };
            let (out, log_det) = m.flow.forward(v.clone(), None);
            let [_, d] = out.dims();
            let y_dim = batch.y.dims()[1];
            Forward {
                z: out.clone().narrow(1, y_dim, d - y_dim),
                y_hat: Some(out.narrow(1, 0, y_dim)),
                log_det,
                input: Some(v),
            }
        }
    }
}

/// Posterior samples (normalized x) for the observations `y` and latents `z`.
pub fn sample(net: &Network, y: &Tensor<2>, z: Tensor<2>, x_dim: usize) -> Tensor<2> {
    match net {
        Network::Cinn(m) => {
            let c = m.condition(y.clone());
            m.inverse(z, &c).0
        }
        Network::Inn(m) => {
            let v = Tensor::cat(vec![y.clone(), z], 1);
            m.flow.inverse(v, None).0.narrow(1, 0, x_dim)
        }
    }
}

/// Per-term values of one step (for the metrics file).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Terms {
    /// Mean negative log-likelihood.
    pub nll: f64,
    /// f-GAN network loss.
    pub fgan: f64,
    /// Forward MMD.
    pub mmd_forward: f64,
    /// Backward MMD.
    pub mmd_backward: f64,
    /// Sinkhorn cost.
    pub sinkhorn: f64,
    /// INN: RMSE of the predicted observation, √mean (ŷ − y)².
    pub fit: f64,
    /// INN: RMSE of the inverse of `[y, z]` against the padded input.
    pub recon: f64,
    /// Weighted total.
    pub total: f64,
    /// What selects the best epoch ([`Selection`]): the NLL plus the weighted INN fit
    /// terms when the objective has the likelihood, else the weighted total.
    pub score: f64,
}

/// How the trainer picks the epoch it exports: by the validation value of what the
/// network was trained on. A model trained without the likelihood term must not be
/// picked by the NLL: its NLL typically grows while its own objective falls, so the
/// NLL would pick the first epoch (the loss study did, until this was found).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Lowest validation NLL (+ an INN's weighted fit terms): `loss.ml > 0`.
    Likelihood,
    /// Lowest validation value of the weighted objective: MMD or Sinkhorn without ML.
    Objective,
    /// The last epoch: an f-GAN without ML, whose validation value is a bound that
    /// moves with the critic and compares no two epochs.
    Last,
}

impl Selection {
    /// The rule for a loss configuration.
    pub fn for_loss(cfg: &LossConfig) -> Self {
        if cfg.ml > 0.0 {
            Self::Likelihood
        } else if cfg.fgan > 0.0 {
            Self::Last
        } else {
            Self::Objective
        }
    }
}

impl Terms {
    /// Column names, CSV order.
    pub const NAMES: [&'static str; 8] = [
        "loss",
        "nll",
        "fgan",
        "mmd_forward",
        "mmd_backward",
        "sinkhorn",
        "fit",
        "recon",
    ];

    /// Values, CSV order.
    pub fn values(&self) -> [f64; 8] {
        [
            self.total,
            self.nll,
            self.fgan,
            self.mmd_forward,
            self.mmd_backward,
            self.sinkhorn,
            self.fit,
            self.recon,
        ]
    }

    /// Add `other` scaled by `w` (running means over batches).
    pub fn add_scaled(&mut self, other: &Self, w: f64) {
        self.nll += w * other.nll;
        self.fgan += w * other.fgan;
        self.mmd_forward += w * other.mmd_forward;
        self.mmd_backward += w * other.mmd_backward;
        self.sinkhorn += w * other.sinkhorn;
        self.fit += w * other.fit;
        self.recon += w * other.recon;
        self.total += w * other.total;
        self.score += w * other.score;
    }
}

fn scalar(t: &Tensor<1>) -> f64 {
    f64::from(t.clone().into_scalar::<f32>())
}

/// Root mean squared difference over all elements, `[1]` (the VINA reference code's
/// "RMSE" terms; its gradient does not vanish as the residual does, so it pins ŷ to y).
fn rmse(a: Tensor<2>, b: Tensor<2>) -> Tensor<1> {
    (a - b).square().mean().add_scalar(1e-12).sqrt()
}

/// The network's training loss on a batch (a scalar `[1]`) and its terms.
///
/// `critic` is used when `cfg.fgan > 0`; `noise.z` is needed by the sample-based terms
/// (f-GAN, backward MMD, Sinkhorn) and by the forward MMD.
pub fn objective(
    net: &Network,
    critic: Option<&fgan::Critic>,
    batch: &Batch,
    noise: &Noise,
    cfg: &LossConfig,
) -> (Tensor<1>, Terms) {
    let x_dim = batch.x.dims()[1];
    let fw = forward(net, batch, noise.pad.as_ref());
    let nll = ml::nll(&fw, &batch.y, cfg.y_weight, cfg.y_base).mean();
    let mut terms = Terms {
        nll: scalar(&nll),
        ..Terms::default()
    };
    let mut total = nll.mul_scalar(cfg.ml);
    if let (Network::Inn(m), Some(y_hat), Some(input)) = (net, &fw.y_hat, &fw.input) {
        if cfg.fit_rmse > 0.0 {
            let v = rmse(y_hat.clone(), batch.y.clone());
            terms.fit = scalar(&v);
            total = total + v.mul_scalar(cfg.fit_rmse);
        }
        if cfg.recon_rmse > 0.0 {
            // The inverse of the forward output with ŷ replaced by the true y.
            let v = Tensor::cat(vec![batch.y.clone(), fw.z.clone()], 1);
            let back = m.flow.inverse(v, None).0;
            let v = rmse(back, input.clone());
            terms.recon = scalar(&v);
            total = total + v.mul_scalar(cfg.recon_rmse);
        }
    }
    if cfg.mmd_forward > 0.0 {
        let z = noise.z.clone().expect("forward MMD needs latent draws");
        // Ardizzone: the y part enters detached, so this term only shapes z.
        let out = match &fw.y_hat {
            Some(y_hat) => Tensor::cat(vec![y_hat.clone().detach(), fw.z.clone()], 1),
            None => Tensor::cat(vec![batch.y.clone(), fw.z.clone()], 1),
        };
        let prior = Tensor::cat(vec![batch.y.clone(), z], 1);
        let v = mmd::mmd(&out, &prior, &cfg.mmd_widths);
        terms.mmd_forward = scalar(&v);
        total = total + v.mul_scalar(cfg.mmd_forward);
    }
    let needs_samples = cfg.fgan > 0.0 || cfg.mmd_backward > 0.0 || cfg.sinkhorn > 0.0;
    if needs_samples {
        let z = noise
            .z
            .clone()
            .expect("sample-based losses need latent draws");
        let x_fake = sample(net, &batch.y, z, x_dim);
        if cfg.fgan > 0.0 {
            let critic = critic.expect("the f-GAN loss needs a critic");
            let v = fgan::generator_loss(
                cfg.divergence,
                cfg.generator,
                critic,
                x_fake.clone(),
                batch.y.clone(),
                cfg.critic_fake_clamp,
            );
            terms.fgan = scalar(&v);
            total = total + v.mul_scalar(cfg.fgan);
        }
        let joint_fake = Tensor::cat(vec![x_fake, batch.y.clone()], 1);
        let joint_real = Tensor::cat(vec![batch.x.clone(), batch.y.clone()], 1);
        if cfg.mmd_backward > 0.0 {
            let v = mmd::mmd(&joint_fake, &joint_real, &cfg.mmd_widths);
            terms.mmd_backward = scalar(&v);
            total = total + v.mul_scalar(cfg.mmd_backward);
        }
        if cfg.sinkhorn > 0.0 {
            let v = sinkhorn::sinkhorn(
                &joint_fake,
                &joint_real,
                cfg.sinkhorn_eps,
                cfg.sinkhorn_scaling,
                cfg.sinkhorn_iters,
            );
            terms.sinkhorn = scalar(&v);
            total = total + v.mul_scalar(cfg.sinkhorn);
        }
    }
    terms.total = scalar(&total);
    terms.score = match Selection::for_loss(cfg) {
        Selection::Likelihood => {
            terms.nll
                + f64::from(cfg.fit_rmse) * terms.fit
                + f64::from(cfg.recon_rmse) * terms.recon
        }
        Selection::Objective | Selection::Last => terms.total,
    };
    (total, terms)
}

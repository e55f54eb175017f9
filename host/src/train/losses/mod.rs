//! The VINA losses (design §5). Each term works on normalized x and y; the training loss
//! is the weighted sum chosen in [`crate::train::config::LossConfig`].

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
            }
        }
        Network::Inn(m) => {
            let v = match pad {
                Some(p) => Tensor::cat(vec![batch.x.clone(), p.clone()], 1),
                None => batch.x.clone(),
            };
            let (out, log_det) = m.flow.forward(v, None);
            let [_, d] = out.dims();
            let y_dim = batch.y.dims()[1];
            Forward {
                z: out.clone().narrow(1, y_dim, d - y_dim),
                y_hat: Some(out.narrow(1, 0, y_dim)),
                log_det,
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
    /// Weighted total.
    pub total: f64,
}

impl Terms {
    /// Column names, CSV order.
    pub const NAMES: [&'static str; 6] = [
        "loss",
        "nll",
        "fgan",
        "mmd_forward",
        "mmd_backward",
        "sinkhorn",
    ];

    /// Values, CSV order.
    pub fn values(&self) -> [f64; 6] {
        [
            self.total,
            self.nll,
            self.fgan,
            self.mmd_forward,
            self.mmd_backward,
            self.sinkhorn,
        ]
    }

    /// Add `other` scaled by `w` (running means over batches).
    pub fn add_scaled(&mut self, other: &Self, w: f64) {
        self.nll += w * other.nll;
        self.fgan += w * other.fgan;
        self.mmd_forward += w * other.mmd_forward;
        self.mmd_backward += w * other.mmd_backward;
        self.sinkhorn += w * other.sinkhorn;
        self.total += w * other.total;
    }
}

fn scalar(t: &Tensor<1>) -> f64 {
    f64::from(t.clone().into_scalar::<f32>())
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
    let nll = ml::nll(&fw, &batch.y, cfg.y_weight).mean();
    let mut terms = Terms {
        nll: scalar(&nll),
        ..Terms::default()
    };
    let mut total = nll.mul_scalar(cfg.ml);
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
            let v = fgan::generator_loss(cfg.divergence, critic, x_fake.clone(), batch.y.clone());
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
                cfg.sinkhorn_iters,
            );
            terms.sinkhorn = scalar(&v);
            total = total + v.mul_scalar(cfg.sinkhorn);
        }
    }
    terms.total = scalar(&total);
    (total, terms)
}

//! The variational f-divergence (f-GAN, Nowozin et al. 2016) between the data's joint
//! p(x, y) and the model's q(x | y)·p(y), with a critic V(x, y) trained adversarially:
//!
//! `F = E_p[g(V(x, y))] − E_q[f*(g(V(x̃, y)))]`, a lower bound of D_f(p‖q).
//!
//! The critic maximizes F; the network minimizes it (only the second term depends on it).
//! `g` is the output activation that keeps V in the domain of the convex conjugate f*;
//! `f*(g(v))` is written in closed form so that nothing overflows.

use burn::module::Module;
use burn::tensor::{Device, Tensor, activation::softplus};
use serde::{Deserialize, Serialize};
use vina_core::layers::Activation;
use vina_core::rng::Rng;

use crate::train::modules::Mlp;

/// What the network minimizes against the critic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Generator {
    /// The saddle point of F: `−E_q[f*(g(V(x̃, y)))]` (Nowozin et al.'s minimax).
    #[default]
    Saddle,
    /// `−E_q[g(V(x̃, y))]`, the VINA reference code's generator loss (Nowozin et al.'s
    /// "single-step" heuristic, the f-GAN analogue of the non-saturating GAN loss).
    NonSaturating,
}

/// Which f-divergence D_f(p‖q).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Divergence {
    /// KL(p‖q): the same target as maximum likelihood.
    Kl,
    /// KL(q‖p): mode seeking.
    ReverseKl,
    /// Jensen–Shannon.
    JensenShannon,
    /// Pearson χ².
    ChiSquared,
    /// Squared Hellinger.
    SquaredHellinger,
    /// The original GAN objective (2·JS − log 4).
    Gan,
}

impl Divergence {
    /// All divergences, for tests and documentation.
    pub const ALL: [Self; 6] = [
        Self::Kl,
        Self::ReverseKl,
        Self::JensenShannon,
        Self::ChiSquared,
        Self::SquaredHellinger,
        Self::Gan,
    ];

    /// Output activation g(v) (Nowozin et al., table 2).
    pub fn activation<const D: usize>(self, v: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Kl | Self::ChiSquared => v,
            Self::ReverseKl => v.neg().exp().neg(),
            Self::SquaredHellinger => v.neg().exp().neg().add_scalar(1.0),
            Self::JensenShannon => softplus(v.neg(), 1.0)
                .neg()
                .add_scalar(std::f32::consts::LN_2),
            Self::Gan => softplus(v.neg(), 1.0).neg(),
        }
    }

    /// f*(g(v)), in closed form.
    pub fn conjugate_of_activation<const D: usize>(self, v: Tensor<D>) -> Tensor<D> {
        match self {
            // exp(t − 1)
            Self::Kl => v.sub_scalar(1.0).exp(),
            // −1 − log(−t) with t = −exp(−v)
            Self::ReverseKl => v.sub_scalar(1.0),
            // t²/4 + t
            Self::ChiSquared => v.clone().square().mul_scalar(0.25) + v,
            // t/(1 − t) with t = 1 − exp(−v)
            Self::SquaredHellinger => v.exp().sub_scalar(1.0),
            // −log(2 − exp(t)) with t = log 2 − softplus(−v)
            Self::JensenShannon => softplus(v, 1.0).sub_scalar(std::f32::consts::LN_2),
            // −log(1 − exp(t)) with t = −softplus(−v)
            Self::Gan => softplus(v, 1.0),
        }
    }
}

/// The critic V(x, y): an MLP on the concatenated normalized x and y, one output.
#[derive(Module, Debug)]
pub struct Critic {
    /// Layers.
    pub net: Mlp,
}

impl Critic {
    /// A fresh critic with the given hidden widths (ReLU), deterministic for `seed`.
    pub fn init(x_dim: usize, y_dim: usize, hidden: &[usize], seed: u64, device: &Device) -> Self {
        let mut widths = vec![x_dim + y_dim];
        widths.extend(hidden);
        widths.push(1);
        let mut rng = Rng::new(seed);
        Self {
            net: Mlp::init(
                &widths,
                Activation::Relu,
                Activation::Identity,
                1.0,
                &mut rng,
                device,
            ),
        }
    }

    /// Raw critic output per sample, `[n]`.
    pub fn value(&self, x: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
        self.score(Tensor::cat(vec![x, y], 1))
    }

    /// Raw critic output per row of an already joined input `[n, x_dim + y_dim]`.
    pub fn score(&self, input: Tensor<2>) -> Tensor<1> {
        self.net.forward(input).squeeze_dim::<1>(1)
    }
}

/// The variational bound F on a batch: real samples (x, y), model samples (x̃, y). The
/// critic's output on real samples is clamped to ±`clamp` (VINA's reference code), and
/// on model samples to ±`fake_clamp` (the reference clips the KL conjugate's argument to
/// ±10), so exp-type conjugates cannot overflow.
pub fn bound(
    div: Divergence,
    critic: &Critic,
    x_real: Tensor<2>,
    x_fake: Tensor<2>,
    y: Tensor<2>,
    clamp: f32,
    fake_clamp: f32,
) -> Tensor<1> {
    bound_of_scores(
        div,
        critic.value(x_real, y.clone()),
        critic.value(x_fake, y),
        clamp,
        fake_clamp,
    )
}

/// [`bound`] from the critic's raw outputs on real and model samples.
pub fn bound_of_scores(
    div: Divergence,
    real: Tensor<1>,
    fake: Tensor<1>,
    clamp: f32,
    fake_clamp: f32,
) -> Tensor<1> {
    let real = real.clamp(-clamp, clamp);
    let fake = fake.clamp(-fake_clamp, fake_clamp);
    div.activation(real).mean() - div.conjugate_of_activation(fake).mean()
}

/// The network's loss: `−E_q[f*(g(V(x̃, y)))]` (F up to the term without x̃), or with
/// [`Generator::NonSaturating`] `−E_q[g(V(x̃, y))]`; the critic's output is clamped to
/// ±`fake_clamp` as in [`bound`].
///
/// Why the clamp: the network lowers the saddle loss by moving x̃ to where the critic is
/// large, and for KL f*(g(v)) = e^{v−1} has no ceiling; unclamped, 2 of 3 seeds of the
/// `gi-pekeris` cINN ran to NaN within 10 epochs (`vina loss-study`, docs/loss-study.md).
pub fn generator_loss(
    div: Divergence,
    generator: Generator,
    critic: &Critic,
    x_fake: Tensor<2>,
    y: Tensor<2>,
    fake_clamp: f32,
) -> Tensor<1> {
    generator_loss_of_scores(div, generator, critic.value(x_fake, y), fake_clamp)
}

/// [`generator_loss`] from the critic's raw outputs on model samples.
pub fn generator_loss_of_scores(
    div: Divergence,
    generator: Generator,
    fake: Tensor<1>,
    fake_clamp: f32,
) -> Tensor<1> {
    let v = fake.clamp(-fake_clamp, fake_clamp);
    match generator {
        Generator::Saddle => div.conjugate_of_activation(v),
        Generator::NonSaturating => div.activation(v),
    }
    .mean()
    .neg()
}

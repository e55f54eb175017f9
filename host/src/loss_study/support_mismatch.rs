//! The VINA paper's support-mismatch toy (docs/loss-study.md, "Support mismatch"): how
//! far an f-GAN (KL) and a Sinkhorn-trained generator get when the base distribution's
//! support does not overlap the target's. A cheap external check that our losses
//! (`train::losses::fgan`, `train::losses::sinkhorn`) behave like the reference code's.
//!
//! Set-up, as the reference notebook (`obs5.ipynb` of the VINA reference code) has it:
//! target U(0, 1) in one dimension (60,000 draws, the last 20 % held out); generator
//! x̂ = INN⁻¹(z), z ~ U(0, 1) + d; batch 512, 20 epochs, Adam 2e-4, betas (0.5, 0.9).
//! The reference INN is FrEIA's GLOW with 6 blocks on a 1-D input, with every bias
//! initialized to 0 and ReLU subnets: FrEIA 0.2 splits one channel into an empty half
//! and the value, and a subnet that sees the empty half outputs `W₂·relu(b₁) + b₂ = b₂`
//! with zero gradient into `b₁` and `W₂`, so each block is the affine map
//! `x·exp(ŝ) + t` whose (s, t) start at 0 and alone learn, with FrEIA 0.2's soft clamp
//! `ŝ = clamp·0.636·atan(s)` (not vina's `(2·clamp/π)·atan(s/clamp)`, FrEIA's older form,
//! whose slope at 0 is `clamp` times smaller). [`AffineStack`] is that network,
//! parameter for parameter that trains.
//!
//! - f-GAN KL: critic MLP 1 → 64 → 64 → 1 (ReLU, PyTorch's default initialization), its
//!   outputs clamped to ±4 on real and model samples in its own step; the generator
//!   minimizes −E[g(V(x̂))] on the critic just updated (the non-saturating generator
//!   loss, unclamped).
//! - Sinkhorn: the debiased divergence, p = 2, blur 0.05 (ε = 0.0025), scaling 0.5.
//! - Score: the reference's `MMD_multiscale`, the V-statistic of the kernels
//!   `C^a·((C + ‖·‖²)/a)^(−a)`, (C, a) ∈ {(0.2, 0.1), (0.2, 0.5), (0.2, 2)}, between
//!   12,000 generated draws and the 12,000 held-out ones.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use rayon::prelude::*;
use vina_core::layers::Activation;
use vina_core::rng::Rng;

use crate::error::refuse;
use crate::train::losses::fgan::{self, Critic, Divergence, Generator};
use crate::train::losses::sinkhorn::sinkhorn;
use crate::train::modules::{Mlp, tensor1, tensor2, to_vec};

/// Coupling blocks of the reference INN.
pub const BLOCKS: usize = 6;
/// The GLOW soft clamp of the reference INN.
const CLAMP: f32 = 2.0;
/// Critic output clamp of the reference code.
const CRITIC_CLAMP: f32 = 4.0;

/// The loss a toy run trains with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ToyLoss {
    /// f-GAN with the KL divergence.
    FganKl,
    /// Debiased Sinkhorn divergence.
    Sinkhorn,
}

impl ToyLoss {
    /// Name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::FganKl => "fgan-kl",
            Self::Sinkhorn => "sinkhorn",
        }
    }
}

/// The reference notebook's results (mean ± population sd over its 10 runs):
/// (loss, displacement d, MMD mean, MMD sd).
pub const REFERENCE: [(ToyLoss, f64, f64, f64); 14] = [
    (ToyLoss::FganKl, 0.0, 3.072e-3, 2.104e-3),
    (ToyLoss::FganKl, 3.0, 1.225, 0.5168),
    (ToyLoss::FganKl, 5.0, 1.359, 0.1572),
    (ToyLoss::FganKl, 10.0, 3.070, 0.1279),
    (ToyLoss::FganKl, 15.0, 1.430, 0.03371),
    (ToyLoss::FganKl, 20.0, 1.686, 0.1227),
    (ToyLoss::FganKl, 25.0, 3.731, 0.3672),
    (ToyLoss::Sinkhorn, 0.0, 1.349e-3, 6.87e-4),
    (ToyLoss::Sinkhorn, 3.0, 0.2404, 4.772e-3),
    (ToyLoss::Sinkhorn, 5.0, 0.9127, 3.354e-3),
    (ToyLoss::Sinkhorn, 10.0, 1.281, 7.92e-4),
    (ToyLoss::Sinkhorn, 15.0, 1.332, 6.48e-4),
    (ToyLoss::Sinkhorn, 20.0, 2.276, 1.231e-3),
    (ToyLoss::Sinkhorn, 25.0, 4.962, 1.369e-3),
];

/// The reference's result for a loss and displacement, if it has one.
pub fn reference(loss: ToyLoss, d: f64) -> Option<(f64, f64)> {
    REFERENCE
        .iter()
        .find(|r| r.0 == loss && r.1 == d)
        .map(|r| (r.2, r.3))
}

/// `vina support-mismatch`: the toy's settings.
#[derive(Clone, Debug, clap::Args)]
pub struct ToyOptions {
    /// Runs per loss and displacement (the reference: 10).
    #[arg(long, default_value_t = 10)]
    pub runs: u64,
    /// Epochs per run.
    #[arg(long, default_value_t = 20)]
    pub epochs: usize,
    /// Displacements d of the base U(0, 1) + d, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.0, 3.0, 5.0, 10.0, 15.0, 20.0, 25.0])]
    pub displacements: Vec<f64>,
    /// Losses, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![ToyLoss::FganKl, ToyLoss::Sinkhorn])]
    pub losses: Vec<ToyLoss>,
    /// Seed of the data set; run r trains with seed + 100·r.
    #[arg(long, default_value_t = 3432)]
    pub seed: u64,
    /// Output directory (results.csv, summary.md).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// One toy run's result.
#[derive(Clone, Debug)]
pub struct ToyRun {
    /// Loss.
    pub loss: ToyLoss,
    /// Displacement d.
    pub displacement: f64,
    /// Run index.
    pub run: u64,
    /// MMD against the held-out draws.
    pub mmd: f64,
    /// The generator's final map x̂ = a·z + b.
    pub slope: f64,
    /// See `slope`.
    pub intercept: f64,
    /// Training seconds.
    pub seconds: f64,
}

/// The reference INN on a 1-D input: `BLOCKS` affine maps `x·exp(ŝ_k) + t_k`.
#[derive(Module, Debug)]
pub struct AffineStack {
    /// Raw log-scales, before the soft clamp, `[BLOCKS]`.
    pub s: Param<Tensor<1>>,
    /// Shifts, `[BLOCKS]`.
    pub t: Param<Tensor<1>>,
}

impl AffineStack {
    /// The identity (every s and t zero), as the reference initializes it.
    pub fn identity(device: &Device) -> Self {
        Self {
            s: Param::from_tensor(tensor1(vec![0.0; BLOCKS], device)),
            t: Param::from_tensor(tensor1(vec![0.0; BLOCKS], device)),
        }
    }

    /// The generator: the inverse pass, last block first, `[n, 1] → [n, 1]`.
    pub fn inverse(&self, z: Tensor<2>) -> Tensor<2> {
        let s = self
            .s
            .val()
            .reshape([1, BLOCKS])
            .atan()
            .mul_scalar(CLAMP * 0.636);
        let t = self.t.val().reshape([1, BLOCKS]);
        let mut x = z;
        for k in (0..BLOCKS).rev() {
            x = (x - t.clone().narrow(1, k, 1)) * s.clone().narrow(1, k, 1).neg().exp();
        }
        x
    }
}

/// The reference's `MMD_multiscale` (V-statistic, all pairs) between two 1-D samples,
/// in f64. Each kernel `C^a·((C + r²)/a)^(−a)` with C = 0.2 is computed from one
/// logarithm of C + r².
pub fn mmd_multiscale(a: &[f32], b: &[f32]) -> f64 {
    const C: f64 = 0.2;
    let k = |r2: f64| {
        let q = C + r2;
        let l = q.ln();
        // a = 0.1, 0.5, 2: C^a·a^a·q^(−a)
        (C * 0.1f64).powf(0.1) * (-0.1 * l).exp()
            + (C * 0.5f64).sqrt() / q.sqrt()
            + (C * 2.0) * (C * 2.0) / (q * q)
    };
    let mean_k = |u: &[f32], v: &[f32]| -> f64 {
        let s: f64 = u
            .par_iter()
            .map(|&x| {
                let x = f64::from(x);
                v.iter()
                    .map(|&y| {
                        let d = x - f64::from(y);
                        k(d * d)
                    })
                    .sum::<f64>()
            })
            .sum();
        s / (u.len() as f64 * v.len() as f64)
    };
    mean_k(a, a) + mean_k(b, b) - 2.0 * mean_k(a, b)
}

fn column(values: Vec<f32>, device: &Device) -> Tensor<2> {
    let n = values.len();
    tensor2(values, n, 1, device)
}

fn base_draws(rng: &mut Rng, n: usize, d: f64) -> Vec<f32> {
    (0..n).map(|_| (rng.uniform_f64() + d) as f32).collect()
}

/// One run: train the generator with `loss` from U(0, 1) + d towards `train`, score it
/// against `held_out`.
pub fn train_one(
    loss: ToyLoss,
    d: f64,
    seed: u64,
    epochs: usize,
    train: &[f32],
    held_out: &[f32],
) -> ToyRun {
    const BATCH: usize = 512;
    let start = Instant::now();
    let device = Device::flex().autodiff();
    let mut rng = Rng::new(seed);
    let mut gen_net = AffineStack::identity(&device);
    let adam = || {
        AdamConfig::new()
            .with_beta_1(0.5)
            .with_beta_2(0.9)
            .with_epsilon(1e-8)
    };
    let mut gen_optim = adam().init();
    let mut critic = (loss == ToyLoss::FganKl).then(|| Critic {
        net: Mlp::init(
            &[1, 64, 64, 1],
            Activation::Relu,
            Activation::Identity,
            1.0,
            &mut rng,
            &device,
        ),
    });
    let mut critic_optim = adam().init();
    let lr = 2e-4;
    let mut order: Vec<usize> = (0..train.len()).collect();
    for _ in 0..epochs {
        for i in (1..order.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        for idx in order.chunks(BATCH) {
            let n = idx.len();
            let data = column(idx.iter().map(|&i| train[i]).collect(), &device);
            let z = column(base_draws(&mut rng, n, d), &device);
            let fake = gen_net.inverse(z);
            let gen_loss = match critic.take() {
                None => sinkhorn(&data, &fake, 0.0025, 0.5, 1),
                Some(c) => {
                    let bound = fgan::bound_of_scores(
                        Divergence::Kl,
                        c.score(data),
                        c.score(fake.clone().detach()),
                        CRITIC_CLAMP,
                        CRITIC_CLAMP,
                    );
                    let grads = GradientsParams::from_grads(bound.neg().backward(), &c);
                    let c = critic_optim.step(lr, c, grads);
                    let l = fgan::generator_loss_of_scores(
                        Divergence::Kl,
                        Generator::NonSaturating,
                        c.score(fake),
                        f32::MAX,
                    );
                    critic = Some(c);
                    l
                }
            };
            let grads = GradientsParams::from_grads(gen_loss.backward(), &gen_net);
            gen_net = gen_optim.step(lr, gen_net, grads);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let net = gen_net.valid();
    let z = base_draws(&mut rng, held_out.len(), d);
    let samples = to_vec(&net.inverse(column(z, &net.s.val().device())));
    let map = to_vec(&net.inverse(tensor2(vec![0.0, 1.0], 2, 1, &net.s.val().device())));
    ToyRun {
        loss,
        displacement: d,
        run: 0,
        mmd: mmd_multiscale(&samples, held_out),
        slope: f64::from(map[1] - map[0]),
        intercept: f64::from(map[0]),
        seconds,
    }
}

/// Mean and population sd (numpy's `np.std`, as the reference tabulates).
fn mean_pop_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / n).sqrt(),
    )
}

/// The summary table: ours against the reference's, per loss and displacement.
pub fn summary(runs: &[ToyRun]) -> String {
    let mut s = String::from(
        "| loss | d | MMD (ours, mean ± sd) | runs | MMD (reference, 10 runs) | (ours − ref) / ref sd | z (standard errors) | x̂ = a·z + b (median a, b) | s per run |\n\
         |---|---:|---|---:|---|---:|---:|---|---:|\n",
    );
    let mut keys: Vec<(ToyLoss, f64)> = Vec::new();
    for r in runs {
        if !keys.contains(&(r.loss, r.displacement)) {
            keys.push((r.loss, r.displacement));
        }
    }
    for (loss, d) in keys {
        let sel: Vec<&ToyRun> = runs
            .iter()
            .filter(|r| r.loss == loss && r.displacement == d)
            .collect();
        let mmd: Vec<f64> = sel.iter().map(|r| r.mmd).collect();
        let (m, sd) = mean_pop_sd(&mmd);
        let med = |f: &dyn Fn(&ToyRun) -> f64| {
            let mut v: Vec<f64> = sel.iter().map(|r| f(r)).collect();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let secs = sel.iter().map(|r| r.seconds).sum::<f64>() / sel.len() as f64;
        let n = sel.len() as f64;
        let (reference, in_sd, z) = match reference(loss, d) {
            Some((rm, rsd)) => (
                format!("{rm:.3e} ± {rsd:.2e}"),
                format!("{:.2}", (m - rm) / rsd),
                format!(
                    "{:.2}",
                    (m - rm) / (sd * sd / n + rsd * rsd / 10.0).sqrt().max(1e-12)
                ),
            ),
            None => ("–".into(), "–".into(), "–".into()),
        };
        let _ = writeln!(
            s,
            "| {} | {d} | {m:.3e} ± {sd:.2e} | {n} | {reference} | {in_sd} | {z} | {:.3}, {:.3} | {secs:.1} |",
            loss.name(),
            med(&|r| r.slope),
            med(&|r| r.intercept),
        );
    }
    s
}

/// Run the toy; returns every run (also written to `out`).
pub fn run(o: &ToyOptions) -> anyhow::Result<Vec<ToyRun>> {
    if o.runs == 0 || o.epochs == 0 {
        return Err(refuse(
            "support-mismatch: --runs and --epochs must be at least 1",
        ));
    }
    if let Some(d) = o
        .displacements
        .iter()
        .find(|d| !d.is_finite() || d.abs() > 1e3)
    {
        return Err(refuse(format!(
            "support-mismatch: displacement {d} outside [-1000, 1000]"
        )));
    }
    let mut rng = Rng::new(o.seed);
    let data: Vec<f32> = (0..60_000).map(|_| rng.uniform_f32()).collect();
    let (train, held_out) = data.split_at(48_000);
    let mut runs = Vec::new();
    for &loss in &o.losses {
        for &d in &o.displacements {
            for r in 0..o.runs {
                let mut run = train_one(loss, d, o.seed + 100 * (r + 1), o.epochs, train, held_out);
                run.run = r;
                eprintln!(
                    "{} d={d} run {r}: MMD {:.4e} (x̂ = {:.3}·z + {:.3}, {:.1} s)",
                    loss.name(),
                    run.mmd,
                    run.slope,
                    run.intercept,
                    run.seconds
                );
                runs.push(run);
            }
        }
    }
    let table = summary(&runs);
    println!("{table}");
    if let Some(out) = &o.out {
        std::fs::create_dir_all(out)
            .with_context(|| format!("support-mismatch: cannot create {}", out.display()))?;
        let mut csv = String::from("loss,displacement,run,mmd,slope,intercept,seconds\n");
        for r in &runs {
            let _ = writeln!(
                csv,
                "{},{},{},{:.6e},{:.6},{:.6},{:.2}",
                r.loss.name(),
                r.displacement,
                r.run,
                r.mmd,
                r.slope,
                r.intercept,
                r.seconds
            );
        }
        std::fs::write(out.join("results.csv"), csv)
            .with_context(|| format!("support-mismatch: cannot write {}", out.display()))?;
        std::fs::write(out.join("summary.md"), &table)
            .with_context(|| format!("support-mismatch: cannot write {}", out.display()))?;
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mmd_of_a_sample_with_itself_is_zero_and_two_points_give_the_reference_formula() {
        let a: Vec<f32> = (0..200).map(|i| i as f32 / 200.0).collect();
        assert!(mmd_multiscale(&a, &a).abs() < 1e-12);
        // The reference's own expression, Σ C^a·((C + r²)/a)^(−a), for one point each.
        let k = |r2: f64| {
            [(0.2f64, 0.1f64), (0.2, 0.5), (0.2, 2.0)]
                .iter()
                .map(|&(c, a)| c.powf(a) * ((c + r2) / a).powf(-a))
                .sum::<f64>()
        };
        for (x, y) in [(0.0f32, 0.5f32), (0.25, 3.0), (0.0, 1e6)] {
            let r = f64::from(x) - f64::from(y);
            let want = 2.0 * k(0.0) - 2.0 * k(r * r);
            let got = mmd_multiscale(&[x], &[y]);
            assert!(
                (got - want).abs() < 1e-9 * want.abs().max(1.0),
                "{x}, {y}: {got} vs {want}"
            );
        }
    }
}

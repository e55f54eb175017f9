//! Classifier two-sample test (C2ST; Lopez-Paz & Oquab 2017) as sbi's `c2st`: both sets
//! are standardized with set A's mean and sd, a small ReLU MLP learns to tell them apart,
//! and its K-fold cross-validated accuracy is the statistic: 0.5 when the sets are
//! indistinguishable, 1.0 when they are disjoint.
//!
//! Why a hand-written network: the classifier is tiny (two hidden layers of 10 × dim), the
//! test must be deterministic for a seed on every machine, and it must not depend on the
//! trainer's backend. The K folds train in parallel, each with its own random stream.

use rayon::prelude::*;
use vina_core::rng::Rng;

use super::{EvalError, invalid, row_dim};

/// Options of [`c2st`]. The defaults follow sbi (K = 5 folds, hidden width 10 × dim,
/// Adam) with a fixed epoch budget instead of early stopping, so the result is
/// reproducible.
#[derive(Debug, Clone, PartialEq)]
pub struct C2stOptions {
    /// Number of cross-validation folds.
    pub folds: usize,
    /// Hidden width = `hidden_factor` × dimension (both hidden layers).
    pub hidden_factor: usize,
    /// Passes over each fold's training set.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// Adam's initial learning rate; it decays linearly to 10 % over the epochs.
    pub learning_rate: f64,
    /// Seed of the folds, initial weights and batch order.
    pub seed: u64,
}

impl Default for C2stOptions {
    fn default() -> Self {
        Self {
            folds: 5,
            hidden_factor: 10,
            epochs: 50,
            batch_size: 64,
            learning_rate: 1e-2,
            seed: 0,
        }
    }
}

/// Cross-validated accuracy of a classifier between sample sets `a` and `b` (same size and
/// dimension): ≈ 0.5 when they come from one distribution. With n samples per set, the
/// accuracy's noise under the null is about 0.5/√(2n) (0.008 for n = 2000).
pub fn c2st<R: AsRef<[f64]>>(a: &[R], b: &[R], opts: &C2stOptions) -> Result<f64, EvalError> {
    let dim = row_dim(a, "c2st set A")?;
    if row_dim(b, "c2st set B")? != dim {
        return Err(invalid("c2st: sets have different dimensions"));
    }
    if a.len() != b.len() {
        return Err(invalid(format!(
            "c2st: sets must be balanced, got {} and {} samples",
            a.len(),
            b.len()
        )));
    }
    let k = opts.folds;
    if k < 2 || a.len() < k {
        return Err(invalid(format!(
            "c2st: {k} folds for {} samples per set",
            a.len()
        )));
    }
    if opts.hidden_factor == 0 || opts.epochs == 0 || opts.batch_size == 0 {
        return Err(invalid(
            "c2st: hidden_factor, epochs and batch_size must be ≥ 1",
        ));
    }
    if a.iter()
        .chain(b)
        .flat_map(|r| r.as_ref())
        .any(|v| !v.is_finite())
    {
        return Err(invalid("c2st: non-finite sample"));
    }

    // Standardize with set A's mean and sd (a constant coordinate keeps sd 1).
    let n = a.len() as f64;
    let mean: Vec<f64> = (0..dim)
        .map(|j| a.iter().map(|r| r.as_ref()[j]).sum::<f64>() / n)
        .collect();
    let sd: Vec<f64> = (0..dim)
        .map(|j| {
            let v = a
                .iter()
                .map(|r| (r.as_ref()[j] - mean[j]).powi(2))
                .sum::<f64>()
                / (n - 1.0);
            if v > 0.0 { v.sqrt() } else { 1.0 }
        })
        .collect();
    let mut x = Vec::with_capacity(2 * a.len() * dim);
    for r in a.iter().chain(b) {
        for ((v, m), s) in r.as_ref().iter().zip(&mean).zip(&sd) {
            x.push((v - m) / s);
        }
    }
    let labels: Vec<f64> = (0..2 * a.len())
        .map(|i| if i < a.len() { 0.0 } else { 1.0 })
        .collect();

    // Stratified folds: each class shuffled and dealt round-robin into K folds.
    let mut rng = Rng::new(opts.seed);
    let mut fold_of = vec![0usize; 2 * a.len()];
    for class in 0..2 {
        let mut idx: Vec<usize> = (class * a.len()..(class + 1) * a.len()).collect();
        shuffle(&mut idx, &mut rng);
        for (p, &i) in idx.iter().enumerate() {
            fold_of[i] = p % k;
        }
    }

    let accs: Vec<f64> = (0..k)
        .into_par_iter()
        .map(|f| {
            let train: Vec<usize> = (0..fold_of.len()).filter(|&i| fold_of[i] != f).collect();
            let test: Vec<usize> = (0..fold_of.len()).filter(|&i| fold_of[i] == f).collect();
            let mut fold_rng = Rng::for_index(opts.seed, 1 + f as u64);
            let mlp = train_mlp(&x, &labels, dim, &train, opts, &mut fold_rng);
            let correct = test
                .iter()
                .filter(|&&i| (mlp.logit(&x[i * dim..(i + 1) * dim]) > 0.0) == (labels[i] > 0.5))
                .count();
            correct as f64 / test.len() as f64
        })
        .collect();
    Ok(accs.iter().sum::<f64>() / k as f64)
}

/// Fisher–Yates shuffle.
fn shuffle(v: &mut [usize], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        let j = ((rng.uniform_f64() * (i + 1) as f64) as usize).min(i);
        v.swap(i, j);
    }
}

/// d → h → h → 1 ReLU network; parameters in one flat vector so Adam is one loop.
/// Weight matrices are stored [input][output] so every inner loop runs over a contiguous
/// row.
struct Mlp {
    d: usize,
    h: usize,
    p: Vec<f64>,
}

impl Mlp {
    fn new(d: usize, h: usize, rng: &mut Rng) -> Self {
        let mut p = vec![0.0; d * h + h + h * h + h + h + 1];
        // He initialization; biases zero.
        let (w1, rest) = p.split_at_mut(d * h);
        w1.iter_mut()
            .for_each(|w| *w = rng.normal_f64() * (2.0 / d as f64).sqrt());
        let rest = &mut rest[h..];
        let (w2, rest) = rest.split_at_mut(h * h);
        w2.iter_mut()
            .for_each(|w| *w = rng.normal_f64() * (2.0 / h as f64).sqrt());
        let w3 = &mut rest[h..2 * h];
        w3.iter_mut()
            .for_each(|w| *w = rng.normal_f64() * (1.0 / h as f64).sqrt());
        Self { d, h, p }
    }

    /// Splits a flat parameter (or gradient) vector into (W1, b1, W2, b2, w3, b3).
    #[allow(clippy::type_complexity)]
    fn parts(d: usize, h: usize, p: &[f64]) -> (&[f64], &[f64], &[f64], &[f64], &[f64], f64) {
        let (w1, r) = p.split_at(d * h);
        let (b1, r) = r.split_at(h);
        let (w2, r) = r.split_at(h * h);
        let (b2, r) = r.split_at(h);
        let (w3, r) = r.split_at(h);
        (w1, b1, w2, b2, w3, r[0])
    }

    /// Hidden activations into `h1`, `h2`; returns the output logit.
    fn forward(&self, x: &[f64], h1: &mut [f64], h2: &mut [f64]) -> f64 {
        let (w1, b1, w2, b2, w3, b3) = Self::parts(self.d, self.h, &self.p);
        h1.copy_from_slice(b1);
        for (xi, row) in x.iter().zip(w1.chunks_exact(self.h)) {
            h1.iter_mut().zip(row).for_each(|(a, w)| *a += xi * w);
        }
        h1.iter_mut().for_each(|a| *a = a.max(0.0));
        h2.copy_from_slice(b2);
        for (hi, row) in h1.iter().zip(w2.chunks_exact(self.h)) {
            if *hi != 0.0 {
                h2.iter_mut().zip(row).for_each(|(a, w)| *a += hi * w);
            }
        }
        h2.iter_mut().for_each(|a| *a = a.max(0.0));
        b3 + h2.iter().zip(w3).map(|(a, w)| a * w).sum::<f64>()
    }

    fn logit(&self, x: &[f64]) -> f64 {
        let mut h1 = vec![0.0; self.h];
        let mut h2 = vec![0.0; self.h];
        self.forward(x, &mut h1, &mut h2)
    }
}

/// Trains on rows `train` of `x` with binary cross-entropy and Adam.
fn train_mlp(
    x: &[f64],
    y: &[f64],
    d: usize,
    train: &[usize],
    opts: &C2stOptions,
    rng: &mut Rng,
) -> Mlp {
    let h = opts.hidden_factor * d;
    let mut mlp = Mlp::new(d, h, rng);
    let np = mlp.p.len();
    let (mut m, mut v, mut g) = (vec![0.0; np], vec![0.0; np], vec![0.0; np]);
    let (mut h1, mut h2, mut dh1, mut dh2) =
        (vec![0.0; h], vec![0.0; h], vec![0.0; h], vec![0.0; h]);
    let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8);
    let mut order = train.to_vec();
    let mut step = 0i32;
    // Gradient layout offsets.
    let o_b1 = d * h;
    let o_w2 = o_b1 + h;
    let o_b2 = o_w2 + h * h;
    let o_w3 = o_b2 + h;
    let o_b3 = o_w3 + h;
    for epoch in 0..opts.epochs {
        shuffle(&mut order, rng);
        let lr = opts.learning_rate * (1.0 - 0.9 * epoch as f64 / opts.epochs as f64);
        for batch in order.chunks(opts.batch_size) {
            g.iter_mut().for_each(|v| *v = 0.0);
            let scale = 1.0 / batch.len() as f64;
            for &i in batch {
                let xi = &x[i * d..(i + 1) * d];
                let z = mlp.forward(xi, &mut h1, &mut h2);
                // d(BCE)/d(logit) = σ(z) − y.
                let dz = (1.0 / (1.0 + (-z).exp()) - y[i]) * scale;
                let (_, _, w2, _, w3, _) = Mlp::parts(d, h, &mlp.p);
                g[o_b3] += dz;
                for (((gw, a), dh), w) in g[o_w3..o_b3]
                    .iter_mut()
                    .zip(&h2)
                    .zip(dh2.iter_mut())
                    .zip(w3)
                {
                    *gw += dz * a;
                    *dh = if *a > 0.0 { dz * w } else { 0.0 };
                }
                g[o_b2..o_w3]
                    .iter_mut()
                    .zip(&dh2)
                    .for_each(|(gb, dh)| *gb += dh);
                for ((hi, grow), (wrow, dhi)) in h1
                    .iter()
                    .zip(g[o_w2..o_b2].chunks_exact_mut(h))
                    .zip(w2.chunks_exact(h).zip(dh1.iter_mut()))
                {
                    if *hi > 0.0 {
                        grow.iter_mut()
                            .zip(&dh2)
                            .for_each(|(gw, dh)| *gw += hi * dh);
                        *dhi = wrow.iter().zip(&dh2).map(|(w, dh)| w * dh).sum::<f64>();
                    } else {
                        *dhi = 0.0;
                    }
                }
                g[o_b1..o_w2]
                    .iter_mut()
                    .zip(&dh1)
                    .for_each(|(gb, dh)| *gb += dh);
                for (xv, grow) in xi.iter().zip(g[..o_b1].chunks_exact_mut(h)) {
                    grow.iter_mut()
                        .zip(&dh1)
                        .for_each(|(gw, dh)| *gw += xv * dh);
                }
            }
            step += 1;
            let c1 = 1.0 - beta1.powi(step);
            let c2 = 1.0 - beta2.powi(step);
            for (((p, gi), mi), vi) in mlp.p.iter_mut().zip(&g).zip(m.iter_mut()).zip(v.iter_mut())
            {
                *mi = beta1 * *mi + (1.0 - beta1) * gi;
                *vi = beta2 * *vi + (1.0 - beta2) * gi * gi;
                *p -= lr * (*mi / c1) / ((*vi / c2).sqrt() + eps);
            }
        }
    }
    mlp
}

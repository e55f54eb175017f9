//! Entropic optimal transport (Sinkhorn, squared Euclidean cost, W2²) between two equally
//! weighted point clouds.
//!
//! The potentials are found by log-domain Sinkhorn iterations on a detached cost matrix;
//! the loss is then `Σ P ∘ C` with the plan `P` held fixed. By the envelope theorem that
//! has the same gradient as differentiating through the iterations, without a tape of
//! `iters` steps over an `n × m` matrix.

use burn::tensor::Tensor;

use super::mmd::sq_dists;

/// `log Σ exp` along `dim`, kept as a column/row.
fn logsumexp(t: Tensor<2>, dim: usize) -> Tensor<2> {
    let m = t.clone().max_dim(dim);
    (t - m.clone()).exp().sum_dim(dim).log() + m
}

/// Entropic OT cost between the rows of `a` and `b`, a scalar `[1]`.
pub fn sinkhorn(a: &Tensor<2>, b: &Tensor<2>, eps: f32, iters: usize) -> Tensor<1> {
    let cost = sq_dists(a, b);
    let [n, m] = cost.dims();
    let log_kernel = cost.clone().detach().div_scalar(-eps);
    let device = cost.device();
    let log_a = -(n as f32).ln();
    let log_b = -(m as f32).ln();
    let mut f = Tensor::<2>::zeros([n, 1], &device).detach();
    let mut g = Tensor::<2>::zeros([1, m], &device).detach();
    for _ in 0..iters {
        f = logsumexp(log_kernel.clone() + g.clone(), 1)
            .neg()
            .add_scalar(log_a);
        g = logsumexp(log_kernel.clone() + f.clone(), 0)
            .neg()
            .add_scalar(log_b);
    }
    let plan = (log_kernel + f + g).exp().detach();
    (plan * cost).sum()
}

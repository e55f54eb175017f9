//! Ardizzone et al.'s maximum mean discrepancy with inverse-multiquadric kernels,
//! `k(a, b) = Σ_w w²/(w² + ‖a − b‖²)` summed over several widths (heavy tails keep
//! gradients alive for far-apart samples, unlike a Gaussian kernel).

use burn::tensor::Tensor;

/// Squared distances between the rows of `a` `[n, d]` and `b` `[m, d]`: `[n, m]`.
pub fn sq_dists(a: &Tensor<2>, b: &Tensor<2>) -> Tensor<2> {
    let aa = a.clone().square().sum_dim(1); // [n, 1]
    let bb = b.clone().square().sum_dim(1).transpose(); // [1, m]
    let ab = a.clone().matmul(b.clone().transpose());
    (aa + bb - ab.mul_scalar(2.0)).clamp_min(0.0)
}

fn kernel_mean(d2: Tensor<2>, widths: &[f32]) -> Tensor<1> {
    let mut k: Option<Tensor<2>> = None;
    for &w in widths {
        let w2 = w * w;
        let term = d2.clone().add_scalar(w2).recip().mul_scalar(w2);
        k = Some(match k {
            Some(k) => k + term,
            None => term,
        });
    }
    k.expect("at least one kernel width").mean()
}

/// Biased MMD² estimate between the samples `a` and `b` (rows), a scalar `[1]`.
pub fn mmd(a: &Tensor<2>, b: &Tensor<2>, widths: &[f32]) -> Tensor<1> {
    kernel_mean(sq_dists(a, a), widths) + kernel_mean(sq_dists(b, b), widths)
        - kernel_mean(sq_dists(a, b), widths).mul_scalar(2.0)
}

//! Maximum likelihood (forward KL): `½‖z‖² − log|det J|`, plus the INN's supervised
//! y term `w·½‖ŷ − y‖²`.

use burn::tensor::Tensor;

use super::Forward;

/// `½·ln 2π`, so the reported value is a true negative log density (nats).
const HALF_LN_2PI: f32 = 0.918_938_5;

/// Negative log-likelihood per sample, `[n]`.
///
/// For a cINN this is `−log q(x | y)` of the normalized x. For an INN it is the latent
/// part plus `y_weight·½‖ŷ − y‖²` (a Gaussian likelihood of y with variance 1/`y_weight`,
/// up to a constant).
pub fn nll(fw: &Forward, y: &Tensor<2>, y_weight: f32) -> Tensor<1> {
    let d = fw.z.dims()[1] as f32;
    let mut v =
        fw.z.clone()
            .square()
            .sum_dim(1)
            .squeeze_dim::<1>(1)
            .mul_scalar(0.5)
            - fw.log_det.clone()
            + d * HALF_LN_2PI;
    if let Some(y_hat) = &fw.y_hat {
        let r = (y_hat.clone() - y.clone())
            .square()
            .sum_dim(1)
            .squeeze_dim::<1>(1);
        v = v + r.mul_scalar(0.5 * y_weight);
    }
    v
}

//! Exact algebraic folds applied at export (docs/architecture.md, "Model file and export"):
//! work the firmware would repeat for every observation or sample is moved into the weights
//! once.
//!
//! - **y normalization → condition network** (cINN with a condition network):
//!   `W·((y − μ)/σ) + b = (W/σ)·y + (b − (W/σ)·μ)`; the header then stores μ = 0, σ = 1.
//! - **x normalization → leading ActNorm** (cINN whose flow starts with ActNorm):
//!   `((x − μ)/σ)·eˢ + β = x·e^{s − ln σ} + (β − μ·eˢ/σ)`.
//!
//! ActNorm layers themselves stay: each one sits between a permutation and a coupling
//! whose soft-clamped scales cannot absorb a per-dimension gain, and one costs only
//! 2·dim operations per sample. INN inputs are left as they are (y enters the flow).

use vina_core::model_file::ModelKind;
use vina_core::spec::{FlowSpec, ModelSpec};

/// What [`fold`] changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Folded {
    /// y normalization moved into the condition network's first layer.
    pub y_normalization: bool,
    /// x normalization moved into the first ActNorm.
    pub x_normalization: bool,
}

/// Fold what can be folded exactly; the model computes the same function afterwards (up
/// to f32 rounding).
pub fn fold(spec: &mut ModelSpec) -> Folded {
    let mut done = Folded::default();
    if spec.kind != ModelKind::Cinn {
        return done;
    }
    let h = &mut spec.header;
    if let Some(first) = spec.cond_net.first_mut() {
        let n_in = first.in_dim;
        for r in 0..first.out_dim {
            let row = &mut first.weights[r * n_in..(r + 1) * n_in];
            let mut shift = 0.0f64;
            for ((w, m), s) in row.iter_mut().zip(&h.y_mean).zip(&h.y_std) {
                *w /= s;
                shift += f64::from(*w) * f64::from(*m);
            }
            first.bias[r] -= shift as f32;
        }
        h.y_mean.iter_mut().for_each(|m| *m = 0.0);
        h.y_std.iter_mut().for_each(|s| *s = 1.0);
        done.y_normalization = true;
    }
    if let Some(FlowSpec::ActNorm { log_scale, bias }) = spec.flow.first_mut() {
        for (((ls, b), m), s) in log_scale
            .iter_mut()
            .zip(bias.iter_mut())
            .zip(&h.x_mean)
            .zip(&h.x_std)
        {
            let gain = f64::from(*ls).exp() / f64::from(*s);
            *b = (f64::from(*b) - f64::from(*m) * gain) as f32;
            *ls = (f64::from(*ls) - f64::from(*s).ln()) as f32;
        }
        h.x_mean.iter_mut().for_each(|m| *m = 0.0);
        h.x_std.iter_mut().for_each(|s| *s = 1.0);
        done.x_normalization = true;
    }
    done
}

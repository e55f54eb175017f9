//! Statistics for evaluating amortized posteriors: pure f64 code with
//! no dependence on the trainer, so every number in an evaluation report can be checked
//! against an independent reference.
//!
//! - [`mcmc`]: reference posterior samples from an exact log-density (ensemble sampler).
//! - [`diagnostics`]: split-R̂ and effective sample size of MCMC chains.
//! - [`grid`]: dense-grid posterior for two-parameter problems (the exact reference where
//!   it is affordable).
//! - [`c2st`], [`mmd`]: two-sample distances between a network's draws and a reference.
//! - [`sbc`]: simulation-based calibration rank histograms and their uniformity test.
//! - [`coverage`]: coverage of central credible intervals, RMSE and width of posteriors.
//! - [`moments`]: the posterior mean and sd estimator everything else uses.
//!
//! Sample sets are passed as slices of rows (`&[R]` with `R: AsRef<[f64]>`, e.g.
//! `Vec<f64>` or `[f64; 2]`), one row per draw.

pub mod c2st;
pub mod coverage;
pub mod diagnostics;
pub mod grid;
pub mod mcmc;
pub mod mmd;
pub mod moments;
pub mod plots;
pub mod sbc;

/// Input these routines refuse (empty sets, mismatched dimensions, a start point outside
/// the support): a caller's mistake, reported rather than panicking.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct EvalError(pub String);

/// Shorthand: `Err(invalid(format!(..)))`.
pub(crate) fn invalid(message: impl Into<String>) -> EvalError {
    EvalError(message.into())
}

/// Checks that `rows` is non-empty and every row has the same length; returns that length.
pub(crate) fn row_dim<R: AsRef<[f64]>>(rows: &[R], what: &str) -> Result<usize, EvalError> {
    let first = rows
        .first()
        .ok_or_else(|| invalid(format!("{what}: no samples")))?;
    let dim = first.as_ref().len();
    if dim == 0 {
        return Err(invalid(format!("{what}: samples have dimension 0")));
    }
    if let Some((i, r)) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| r.as_ref().len() != dim)
    {
        return Err(invalid(format!(
            "{what}: sample {i} has dimension {}, expected {dim}",
            r.as_ref().len()
        )));
    }
    Ok(dim)
}

//! Sample mean and standard deviation (divisor n − 1, through `statrs`): the one estimator
//! of posterior moments that the evaluation, the reference posteriors, export's int8
//! check and the loss study use.

use statrs::statistics::Statistics;

/// Mean and standard deviation of `values`; the sd is 0 for fewer than two values.
pub fn mean_sd(values: impl IntoIterator<Item = f64> + Clone) -> (f64, f64) {
    let n = values.clone().into_iter().take(2).count();
    let mean = values.clone().into_iter().mean();
    let sd = if n < 2 {
        0.0
    } else {
        values.into_iter().std_dev()
    };
    (mean, sd)
}

/// Per-column [`mean_sd`] of `rows` (one row per draw): the posterior mean and sd of each
/// parameter.
pub fn moments<R: AsRef<[f64]>>(rows: &[R]) -> (Vec<f64>, Vec<f64>) {
    let dim = rows.first().map_or(0, |r| r.as_ref().len());
    (0..dim)
        .map(|k| mean_sd(rows.iter().map(|r| r.as_ref()[k])))
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Closed forms: the mean and the n − 1 sd of 1…5 are 3 and √2.5.
    #[test]
    fn matches_closed_forms() {
        let rows: Vec<[f64; 2]> = (1..=5).map(|i| [f64::from(i), 10.0]).collect();
        let (m, s) = moments(&rows);
        assert!((m[0] - 3.0).abs() < 1e-15 && (s[0] - 2.5f64.sqrt()).abs() < 1e-15);
        assert!((m[1] - 10.0).abs() < 1e-15 && s[1] == 0.0);
        assert_eq!(mean_sd([4.0]), (4.0, 0.0));
    }
}

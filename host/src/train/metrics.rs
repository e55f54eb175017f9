//! The trainer's `metrics.csv`, one row per epoch: written by [`super::trainer`], read
//! back by [`crate::eval::plots::training_curves`]. This module owns the format.
//!
//! Columns, in order: [`EPOCH`] (1-based), `train_<term>` then `val_<term>` for every
//! [`Terms::NAMES`] term, then [`TAIL`] (learning rate, wall seconds of the epoch, training
//! samples per second). The reader takes any header with numeric fields (`NaN` included),
//! so files from runs with other loss terms still load.

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};

use super::losses::Terms;

/// The file's name in the trainer's output directory.
pub const FILE_NAME: &str = "metrics.csv";
/// The epoch column (1-based).
pub const EPOCH: &str = "epoch";
/// Prefix of the training-set mean of a loss term.
pub const TRAIN_PREFIX: &str = "train_";
/// Prefix of the validation-set mean of a loss term.
pub const VAL_PREFIX: &str = "val_";
/// The columns after the loss terms.
pub const TAIL: [&str; 3] = ["lr", "seconds", "samples_per_s"];

/// The column names the trainer writes, in order.
pub fn columns() -> Vec<String> {
    let mut cols = vec![EPOCH.to_owned()];
    cols.extend(Terms::NAMES.iter().map(|n| format!("{TRAIN_PREFIX}{n}")));
    cols.extend(Terms::NAMES.iter().map(|n| format!("{VAL_PREFIX}{n}")));
    cols.extend(TAIL.map(str::to_owned));
    cols
}

/// The header line (no newline).
pub fn header() -> String {
    columns().join(",")
}

/// One epoch's line (no newline), in [`columns`] order: `epoch` is 1-based.
pub fn row(
    epoch: usize,
    train: &Terms,
    val: &Terms,
    lr: f64,
    seconds: f64,
    samples_per_s: f64,
) -> String {
    let mut row = vec![epoch.to_string()];
    row.extend(train.values().iter().map(|v| format!("{v:.6}")));
    row.extend(val.values().iter().map(|v| format!("{v:.6}")));
    row.extend([
        format!("{lr:.6e}"),
        format!("{seconds:.3}"),
        format!("{samples_per_s:.1}"),
    ]);
    row.join(",")
}

/// A metrics file read back: its header and one row of numbers per epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct Metrics {
    /// Column names, header order.
    pub columns: Vec<String>,
    /// `rows[i][c]`: column `c` of the i-th recorded epoch.
    pub rows: Vec<Vec<f64>>,
}

impl Metrics {
    /// Index of the column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// All values of the column `name`, epoch by epoch.
    pub fn series(&self, name: &str) -> Option<Vec<f64>> {
        self.column(name)
            .map(|c| self.rows.iter().map(|r| r[c]).collect())
    }

    /// The loss terms with a `train_` or `val_` column (or both), in header order.
    pub fn terms(&self) -> Vec<String> {
        let mut terms: Vec<String> = Vec::new();
        for c in &self.columns {
            if let Some(t) = c
                .strip_prefix(TRAIN_PREFIX)
                .or_else(|| c.strip_prefix(VAL_PREFIX))
                && !terms.iter().any(|x| x == t)
            {
                terms.push(t.to_owned());
            }
        }
        terms
    }
}

/// Reads a metrics file: a header of non-empty names, then at least one row of as many
/// numbers. Blank lines are skipped; errors name the file, line and column.
pub fn read(path: &Path) -> Result<Metrics> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading metrics CSV {}", path.display()))?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .with_context(|| format!("{}: empty file, no CSV header", path.display()))?;
    let columns: Vec<String> = header.split(',').map(|c| c.trim().to_owned()).collect();
    if columns.iter().any(String::is_empty) {
        bail!("{}: empty column name in header `{header}`", path.display());
    }
    let mut rows = Vec::new();
    for (i, line) in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        ensure!(
            fields.len() == columns.len(),
            "{}:{}: {} fields, the header has {}",
            path.display(),
            i + 1,
            fields.len(),
            columns.len()
        );
        let row = fields
            .iter()
            .zip(&columns)
            .map(|(f, c)| {
                f.parse::<f64>().with_context(|| {
                    format!(
                        "{}:{}: column `{c}`: `{f}` is not a number",
                        path.display(),
                        i + 1
                    )
                })
            })
            .collect::<Result<Vec<f64>>>()?;
        rows.push(row);
    }
    ensure!(
        !rows.is_empty(),
        "{}: header only, no epochs recorded",
        path.display()
    );
    Ok(Metrics { columns, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_rows_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.csv");
        let train = Terms {
            nll: 1.25,
            total: 1.5,
            ..Terms::default()
        };
        let val = Terms {
            nll: f64::NAN,
            ..Terms::default()
        };
        let text = format!(
            "{}\n{}\n{}\n",
            header(),
            row(1, &train, &val, 3e-4, 0.5, 1000.0),
            row(2, &val, &train, 2.85e-4, 0.25, 2000.0)
        );
        std::fs::write(&path, text).unwrap();
        let m = read(&path).unwrap();
        assert_eq!(m.columns, columns());
        assert_eq!(m.rows.len(), 2);
        assert_eq!(m.series(EPOCH).unwrap(), [1.0, 2.0]);
        assert_eq!(m.series("train_nll").unwrap()[0], 1.25);
        assert_eq!(m.series("train_loss").unwrap()[0], 1.5);
        assert!(m.series("val_nll").unwrap()[0].is_nan());
        assert_eq!(m.series("lr").unwrap(), [3e-4, 2.85e-4]);
        assert_eq!(m.series("samples_per_s").unwrap(), [1000.0, 2000.0]);
        assert_eq!(m.terms(), Terms::NAMES);
    }
}

//! Evaluation plots: corner plots, simulation-based-calibration rank histograms, coverage
//! curves and training curves, each written as `{stem}.png` and `{stem}.svg` with the same
//! layout.
//!
//! Text in the PNGs is rasterized by plotters' pure-Rust `ab_glyph` backend from a subset
//! of DejaVu Sans compiled into the binary (`host/assets/`, licence beside it), so no
//! system font, fontconfig or freetype is needed; the SVGs carry text as `<text>` elements.
//!
//! Every function checks its input first and returns an error naming the offending
//! argument, file or column; nothing is written for input it refuses.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, bail, ensure};
use plotters::coord::Shift;
use plotters::prelude::*;
use statrs::distribution::{Binomial, DiscreteCDF};

use crate::train::metrics;

/// DejaVu Sans, subset to Latin-1, Greek and a few math signs (48 kB).
const FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans-Subset.ttf");
/// The family every text style below asks for; the embedded font is registered under it.
const FAMILY: &str = "sans-serif";

/// Network draws.
const NET: RGBColor = RGBColor(31, 119, 180);
/// Reference posterior (MCMC, grid) and validation curves.
const REF: RGBColor = RGBColor(255, 127, 14);
/// The true parameter.
const TRUTH: RGBColor = RGBColor(214, 39, 40);
const GREY: RGBColor = RGBColor(128, 128, 128);
/// One colour per parameter in shared panels (matplotlib's tab10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// At most this many reference draws are scattered per corner-plot panel (keeps SVGs small).
const MAX_SCATTER: usize = 1000;
/// Parameters one corner plot takes (the PNG is then about 3000 px square).
const MAX_CORNER: usize = 20;
/// Cells per axis of the corner plot's 2-D density of network draws.
const GRID_2D: usize = 32;

/// Corner plot: `samples[i]` is one network draw (all parameters, in `names` order).
/// Diagonal: density histograms of the network draws (blue), the reference draws (orange
/// line) and the truth (red line); below it, each pair as a 2-D density of the network
/// draws with the reference draws scattered over it and the truth marked. Writes
/// `{stem}.png` and `{stem}.svg`.
pub fn corner(
    stem: &Path,
    names: &[&str],
    samples: &[Vec<f64>],
    truth: Option<&[f64]>,
    reference: Option<&[Vec<f64>]>,
) -> Result<()> {
    let d = check_names(names)?;
    ensure!(
        d <= MAX_CORNER,
        "corner: {d} parameters, at most {MAX_CORNER} fit one corner plot"
    );
    check_rows(samples, d, "samples", names)?;
    if let Some(t) = truth {
        ensure!(
            t.len() == d,
            "corner: truth has {} values, expected {d} (one per name)",
            t.len()
        );
        if let Some((i, v)) = t.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            bail!("corner: truth for parameter `{}` is {v}", names[i]);
        }
    }
    if let Some(r) = reference {
        check_rows(r, d, "reference", names)?;
    }
    let ranges: Vec<(f64, f64)> = (0..d)
        .map(|k| {
            let mut lo_hi = robust_range(samples.iter().map(|s| s[k]));
            if let Some(r) = reference {
                let (a, b) = robust_range(r.iter().map(|s| s[k]));
                lo_hi = (lo_hi.0.min(a), lo_hi.1.max(b));
            }
            if let Some(t) = truth {
                lo_hi = (lo_hi.0.min(t[k]), lo_hi.1.max(t[k]));
            }
            pad_range(lo_hi.0, lo_hi.1, 0.06)
        })
        .collect();
    save(
        stem,
        &Corner {
            names,
            samples,
            truth,
            reference,
            ranges,
        },
    )
}

/// SBC rank histograms, one panel per parameter: `ranks[p]` are the ranks of the true value
/// of parameter `p` among `max_rank` posterior draws (values `0..=max_rank`), grouped into
/// `bins` bins, with the uniform expectation and its pointwise 99 % binomial band.
pub fn rank_histograms(
    stem: &Path,
    names: &[&str],
    ranks: &[Vec<usize>],
    max_rank: usize,
    bins: usize,
) -> Result<()> {
    let d = check_names(names)?;
    ensure!(
        ranks.len() == d,
        "rank_histograms: {} rank sets for {d} names",
        ranks.len()
    );
    ensure!(
        max_rank >= 1,
        "rank_histograms: max_rank must be at least 1"
    );
    let values = max_rank
        .checked_add(1)
        .context("rank_histograms: max_rank too large")?;
    ensure!(
        (1..=values).contains(&bins),
        "rank_histograms: bins = {bins}, must be in 1..={values} (max_rank + 1)"
    );
    let n = ranks[0].len();
    for (p, r) in ranks.iter().enumerate() {
        ensure!(
            !r.is_empty(),
            "rank_histograms: no ranks for `{}`",
            names[p]
        );
        ensure!(
            r.len() == n,
            "rank_histograms: `{}` has {} ranks, `{}` has {n}",
            names[p],
            r.len(),
            names[0]
        );
        if let Some(&bad) = r.iter().find(|&&v| v > max_rank) {
            bail!(
                "rank_histograms: rank {bad} of `{}` exceeds max_rank = {max_rank}",
                names[p]
            );
        }
    }
    // Bin b holds the ranks r with floor(r * bins / values) == b: [start[b], start[b + 1]).
    // In u128: no overflow for any max_rank.
    let start: Vec<usize> = (0..=bins)
        .map(|b| (b as u128 * values as u128).div_ceil(bins as u128) as usize)
        .collect();
    let mut bands: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    let mut expected = Vec::with_capacity(bins);
    let mut band = Vec::with_capacity(bins);
    for b in 0..bins {
        let width = start[b + 1] - start[b];
        let p = width as f64 / values as f64;
        expected.push(n as f64 * p);
        band.push(match bands.entry(width) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(e) => *e.insert(binomial_interval(n, p, 0.01)?),
        });
    }
    let counts: Vec<Vec<usize>> = ranks
        .iter()
        .map(|r| {
            let mut c = vec![0usize; bins];
            for &v in r {
                // v <= max_rank, so the bin is < bins.
                let b = (v as u128 * bins as u128 / values as u128) as usize;
                c[b.min(bins - 1)] += 1;
            }
            c
        })
        .collect();
    save(
        stem,
        &RankHistograms {
            names,
            counts,
            start,
            expected,
            band,
            n,
        },
    )
}

/// Coverage curves: `coverage[p][l]` is the fraction of test cases whose central credible
/// interval at nominal level `levels[l]` contains the true parameter `p`; one line per
/// parameter against the diagonal of perfect calibration.
pub fn coverage_curve(
    stem: &Path,
    names: &[&str],
    levels: &[f64],
    coverage: &[Vec<f64>],
) -> Result<()> {
    let d = check_names(names)?;
    ensure!(!levels.is_empty(), "coverage_curve: no levels");
    if let Some(l) = levels.iter().find(|l| !(0.0..=1.0).contains(*l)) {
        bail!("coverage_curve: level {l} outside [0, 1]");
    }
    ensure!(
        coverage.len() == d,
        "coverage_curve: {} coverage rows for {d} names",
        coverage.len()
    );
    for (p, c) in coverage.iter().enumerate() {
        ensure!(
            c.len() == levels.len(),
            "coverage_curve: `{}` has {} coverage values for {} levels",
            names[p],
            c.len(),
            levels.len()
        );
        if let Some(v) = c.iter().find(|v| !(0.0..=1.0).contains(*v)) {
            bail!(
                "coverage_curve: coverage {v} of `{}` outside [0, 1]",
                names[p]
            );
        }
    }
    let mut order: Vec<usize> = (0..levels.len()).collect();
    order.sort_by(|&a, &b| levels[a].total_cmp(&levels[b]));
    let curves = coverage
        .iter()
        .map(|c| order.iter().map(|&l| (levels[l], c[l])).collect())
        .collect();
    save(stem, &Coverage { names, curves })
}

/// Training curves from the trainer's `metrics.csv` (format in [`crate::train::metrics`]):
/// one panel per loss term that is not identically zero, training and validation against
/// the epoch, the best validation epoch marked.
pub fn training_curves(stem: &Path, metrics_csv: &Path) -> Result<()> {
    let metrics = metrics::read(metrics_csv)?;
    let epochs = metrics
        .series(metrics::EPOCH)
        .with_context(|| format!("{}: no `{}` column", metrics_csv.display(), metrics::EPOCH))?;
    if let Some(e) = epochs.iter().find(|e| !e.is_finite()) {
        bail!("{}: epoch {e} is not a number", metrics_csv.display());
    }
    // Terms in header order: `train_X`/`val_X` pairs, or either alone.
    let terms = metrics.terms();
    ensure!(
        !terms.is_empty(),
        "{}: no {}* or {}* columns in header",
        metrics_csv.display(),
        metrics::TRAIN_PREFIX,
        metrics::VAL_PREFIX
    );
    let series = |t: &str, prefix: &str| metrics.series(&format!("{prefix}{t}"));
    let mut panels: Vec<TrainingPanel> = Vec::new();
    for t in &terms {
        let train = series(t, metrics::TRAIN_PREFIX);
        let val = series(t, metrics::VAL_PREFIX);
        let unused = |s: &Option<Vec<f64>>| {
            s.as_ref()
                .is_none_or(|v| v.iter().all(|x| *x == 0.0 || !x.is_finite()))
        };
        if unused(&train) && unused(&val) {
            continue; // a loss term this run does not use
        }
        if let Some(same) = panels.iter_mut().find(|p| p.train == train && p.val == val) {
            same.title.push_str(&format!(" = {t}"));
            continue;
        }
        panels.push(TrainingPanel {
            title: t.clone(),
            train,
            val,
        });
    }
    if panels.is_empty() {
        // Every term is zero: still show the first one rather than nothing.
        let t = &terms[0];
        panels.push(TrainingPanel {
            title: t.clone(),
            train: series(t, metrics::TRAIN_PREFIX),
            val: series(t, metrics::VAL_PREFIX),
        });
    }
    let source = metrics_csv.file_name().map_or_else(
        || metrics_csv.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    save(
        stem,
        &Training {
            source,
            epochs,
            panels,
        },
    )
}

// ---------------------------------------------------------------------------------------
// Input checks and small numerics
// ---------------------------------------------------------------------------------------

fn check_names(names: &[&str]) -> Result<usize> {
    ensure!(!names.is_empty(), "no parameter names");
    Ok(names.len())
}

fn check_rows(rows: &[Vec<f64>], d: usize, what: &str, names: &[&str]) -> Result<()> {
    ensure!(!rows.is_empty(), "corner: {what} is empty");
    for (i, r) in rows.iter().enumerate() {
        ensure!(
            r.len() == d,
            "corner: {what}[{i}] has {} values, expected {d} (one per name)",
            r.len()
        );
        if let Some((k, v)) = r.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            bail!("corner: {what}[{i}] parameter `{}` is {v}", names[k]);
        }
    }
    Ok(())
}

/// The 0.5 % and 99.5 % quantiles (the whole range below 200 values): a stray draw does
/// not squeeze the rest of the plot.
fn robust_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return (0.0, 1.0);
    }
    let cut = if n >= 200 { n / 200 } else { 0 };
    (v[cut], v[n - 1 - cut])
}

/// Widens `[lo, hi]` by `frac` of its width on each side; a degenerate range gets a width.
fn pad_range(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    let w = hi - lo;
    if w > 0.0 && w.is_finite() && w > 1e-12 * lo.abs().max(hi.abs()) {
        (lo - frac * w, hi + frac * w)
    } else {
        let h = (lo.abs() * 1e-3).max(1e-9);
        (lo - h, hi + h)
    }
}

/// Decimals that tell ticks about a quarter of the range apart.
fn decimals(lo: f64, hi: f64) -> usize {
    let step = (hi - lo) / 4.0;
    if step > 0.0 && step.is_finite() {
        (-step.log10().floor()).clamp(0.0, 9.0) as usize
    } else {
        2
    }
}

fn fmt_tick(v: f64, dec: usize) -> String {
    let a = v.abs();
    if a != 0.0 && (a >= 1e6 || (a < 1e-3 && dec > 5)) {
        format!("{v:.2e}")
    } else {
        let s = format!("{v:.dec$}");
        // No "-0.00".
        if s.trim_start_matches('-')
            .chars()
            .all(|c| c == '0' || c == '.')
        {
            s.trim_start_matches('-').to_owned()
        } else {
            s
        }
    }
}

/// The central `1 - alpha` interval of Binomial(n, p), as counts: the quantiles alpha/2
/// and 1 - alpha/2 (the smallest k with P(X ≤ k) ≥ q).
fn binomial_interval(n: usize, p: f64, alpha: f64) -> Result<(f64, f64)> {
    let d = Binomial::new(p, n as u64)
        .with_context(|| format!("rank_histograms: binomial band for p = {p}, n = {n}"))?;
    Ok((
        d.inverse_cdf(alpha / 2.0) as f64,
        d.inverse_cdf(1.0 - alpha / 2.0) as f64,
    ))
}

/// Density histogram of `values` on `bins` equal bins over `[lo, hi]` (values outside are
/// left out; the density is still per draw of the whole set).
fn density(values: impl Iterator<Item = f64>, n: usize, lo: f64, hi: f64, bins: usize) -> Vec<f64> {
    let mut c = vec![0.0; bins];
    let width = (hi - lo) / bins as f64;
    for v in values {
        if v >= lo && v <= hi {
            let b = (((v - lo) / width) as usize).min(bins - 1);
            c[b] += 1.0;
        }
    }
    c.iter().map(|x| x / (n as f64 * width)).collect()
}

/// The polyline of a step function over `edges` (len = heights + 1), closed to zero.
fn steps(edges: &[f64], heights: &[f64]) -> Vec<(f64, f64)> {
    let mut pts = Vec::with_capacity(2 * heights.len() + 2);
    pts.push((edges[0], 0.0));
    for (i, h) in heights.iter().enumerate() {
        pts.push((edges[i], *h));
        pts.push((edges[i + 1], *h));
    }
    pts.push((edges[heights.len()], 0.0));
    pts
}

/// Every `k`-th index so that at most `max` of `n` are kept.
fn thin(n: usize, max: usize) -> impl Iterator<Item = usize> {
    (0..n).step_by(n.div_ceil(max).max(1))
}

// ---------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------

/// One figure drawn identically on the PNG and the SVG backend.
trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static;
}

fn register_font() -> Result<()> {
    static OK: OnceLock<bool> = OnceLock::new();
    let ok = *OK.get_or_init(|| {
        plotters::style::register_font(FAMILY, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    ensure!(
        ok,
        "the embedded plot font (host/assets/DejaVuSans-Subset.ttf) is invalid"
    );
    Ok(())
}

fn with_suffix(stem: &Path, ext: &str) -> PathBuf {
    let mut s: OsString = stem.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn save(stem: &Path, fig: &impl Figure) -> Result<()> {
    register_font()?;
    ensure!(
        !stem.as_os_str().is_empty(),
        "empty output path for the plot"
    );
    if let Some(dir) = stem.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating plot directory {}", dir.display()))?;
    }
    let size = fig.size();
    let png = with_suffix(stem, "png");
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        root.fill(&WHITE)?;
        fig.draw(&root)
            .with_context(|| format!("drawing {}", png.display()))?;
        root.present()
            .with_context(|| format!("writing {}", png.display()))?;
    }
    let svg = with_suffix(stem, "svg");
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        fig.draw(&root)
            .with_context(|| format!("drawing {}", svg.display()))?;
        root.present()
            .with_context(|| format!("writing {}", svg.display()))?;
    }
    Ok(())
}

fn font(size: f64) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

/// A horizontal band of `(colour, label)` items, left to right.
fn legend_band<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    items: &[(RGBColor, String)],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let f = font(16.0);
    let (_, h) = area.dim_in_pixel();
    let y = (h as i32) / 2 - 8;
    let mut x = 12;
    if !title.is_empty() {
        area.draw(&Text::new(title.to_owned(), (x, y), f.clone()))?;
        x += area.estimate_text_size(title, &f)?.0 as i32 + 24;
    }
    for (c, label) in items {
        area.draw(&Rectangle::new([(x, y + 2), (x + 16, y + 14)], c.filled()))?;
        x += 22;
        area.draw(&Text::new(label.clone(), (x, y), f.clone()))?;
        x += area.estimate_text_size(label, &f)?.0 as i32 + 22;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Corner plot
// ---------------------------------------------------------------------------------------

struct Corner<'a> {
    names: &'a [&'a str],
    samples: &'a [Vec<f64>],
    truth: Option<&'a [f64]>,
    reference: Option<&'a [Vec<f64>]>,
    ranges: Vec<(f64, f64)>,
}

impl Corner<'_> {
    fn cell(&self) -> u32 {
        match self.names.len() {
            0..=2 => 320,
            3..=10 => 230,
            d => (2300 / d as u32).max(150),
        }
    }
}

const LEGEND_H: u32 = 34;

impl Figure for Corner<'_> {
    fn size(&self) -> (u32, u32) {
        let d = self.names.len() as u32;
        (d * self.cell() + 10, d * self.cell() + LEGEND_H + 10)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let d = self.names.len();
        let (top, body) = root.split_vertically(LEGEND_H);
        let mut items = vec![(NET, format!("network ({} draws)", self.samples.len()))];
        if let Some(r) = self.reference {
            items.push((REF, format!("reference ({} draws)", r.len())));
        }
        if self.truth.is_some() {
            items.push((TRUTH, "truth".to_owned()));
        }
        legend_band(&top, "", &items)?;
        let cells = body.margin(0, 10, 0, 10).split_evenly((d, d));
        for row in 0..d {
            for col in 0..=row {
                let area = &cells[row * d + col];
                if row == col {
                    self.diagonal(area, row)?;
                } else {
                    self.pair(area, row, col)?;
                }
            }
        }
        Ok(())
    }
}

impl Corner<'_> {
    fn builder<'a, 'b, DB: DrawingBackend>(
        &self,
        area: &'a DrawingArea<DB, Shift>,
    ) -> ChartBuilder<'a, 'b, DB> {
        let mut b = ChartBuilder::on(area);
        b.margin(4).x_label_area_size(44).y_label_area_size(62);
        b
    }

    fn diagonal<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>, k: usize) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let d = self.names.len();
        let (lo, hi) = self.ranges[k];
        let n = self.samples.len();
        let bins = ((n as f64).sqrt() as usize).clamp(10, 40);
        let edges: Vec<f64> = (0..=bins)
            .map(|b| lo + (hi - lo) * b as f64 / bins as f64)
            .collect();
        let net = density(self.samples.iter().map(|s| s[k]), n, lo, hi, bins);
        let reference = self
            .reference
            .map(|r| density(r.iter().map(|s| s[k]), r.len(), lo, hi, bins));
        let top = net
            .iter()
            .chain(reference.iter().flatten())
            .copied()
            .fold(0.0, f64::max)
            .max(f64::MIN_POSITIVE)
            * 1.12;
        let mut chart = self.builder(area).build_cartesian_2d(lo..hi, 0.0..top)?;
        let dec = decimals(lo, hi);
        let fmt = |v: &f64| fmt_tick(*v, dec);
        let mut mesh = chart.configure_mesh();
        mesh.disable_mesh()
            .x_labels(4)
            .y_labels(0)
            .x_label_formatter(&fmt)
            .label_style(font(12.0))
            .axis_desc_style(font(14.0));
        if k == d - 1 {
            mesh.x_desc(self.names[k]);
        }
        mesh.draw()?;
        chart.draw_series(net.iter().enumerate().map(|(b, h)| {
            Rectangle::new(
                [(edges[b], 0.0), (edges[b + 1], *h)],
                NET.mix(0.35).filled(),
            )
        }))?;
        chart.draw_series(LineSeries::new(steps(&edges, &net), NET.stroke_width(1)))?;
        if let Some(r) = &reference {
            chart.draw_series(LineSeries::new(steps(&edges, r), REF.stroke_width(2)))?;
        }
        if let Some(t) = self.truth {
            chart.draw_series(LineSeries::new(
                [(t[k], 0.0), (t[k], top)],
                TRUTH.stroke_width(2),
            ))?;
        }
        // The parameter's name in the panel's top left corner.
        chart.draw_series(std::iter::once(Text::new(
            self.names[k].to_owned(),
            (lo + 0.03 * (hi - lo), top * 0.97),
            font(14.0),
        )))?;
        Ok(())
    }

    fn pair<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        row: usize,
        col: usize,
    ) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let d = self.names.len();
        let (x0, x1) = self.ranges[col];
        let (y0, y1) = self.ranges[row];
        let mut chart = self.builder(area).build_cartesian_2d(x0..x1, y0..y1)?;
        let (dx, dy) = (decimals(x0, x1), decimals(y0, y1));
        let fx = |v: &f64| fmt_tick(*v, dx);
        let fy = |v: &f64| fmt_tick(*v, dy);
        let mut mesh = chart.configure_mesh();
        mesh.disable_mesh()
            .x_labels(4)
            .y_labels(4)
            .x_label_formatter(&fx)
            .y_label_formatter(&fy)
            .label_style(font(12.0))
            .axis_desc_style(font(14.0));
        if row == d - 1 {
            mesh.x_desc(self.names[col]);
        }
        if col == 0 {
            mesh.y_desc(self.names[row]);
        }
        mesh.draw()?;

        // 2-D density of the network draws.
        let g = GRID_2D;
        let (wx, wy) = ((x1 - x0) / g as f64, (y1 - y0) / g as f64);
        let mut grid = vec![0u32; g * g];
        for s in self.samples {
            let (x, y) = (s[col], s[row]);
            if (x0..=x1).contains(&x) && (y0..=y1).contains(&y) {
                let i = (((x - x0) / wx) as usize).min(g - 1);
                let j = (((y - y0) / wy) as usize).min(g - 1);
                grid[j * g + i] += 1;
            }
        }
        let max = grid.iter().copied().max().unwrap_or(0).max(1) as f64;
        chart.draw_series(
            grid.iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(idx, c)| {
                    let (i, j) = ((idx % g) as f64, (idx / g) as f64);
                    let alpha = 0.1 + 0.85 * (*c as f64 / max).sqrt();
                    Rectangle::new(
                        [
                            (x0 + i * wx, y0 + j * wy),
                            (x0 + (i + 1.0) * wx, y0 + (j + 1.0) * wy),
                        ],
                        NET.mix(alpha).filled(),
                    )
                }),
        )?;

        if let Some(r) = self.reference {
            chart.draw_series(
                thin(r.len(), MAX_SCATTER)
                    .map(|i| (r[i][col], r[i][row]))
                    .filter(|(x, y)| (x0..=x1).contains(x) && (y0..=y1).contains(y))
                    .map(|p| Circle::new(p, 1, REF.mix(0.6).filled())),
            )?;
        }
        if let Some(t) = self.truth {
            let (tx, ty) = (t[col], t[row]);
            let style = TRUTH.mix(0.8).stroke_width(1);
            chart.draw_series(LineSeries::new([(tx, y0), (tx, y1)], style))?;
            chart.draw_series(LineSeries::new([(x0, ty), (x1, ty)], style))?;
            chart.draw_series(std::iter::once(Circle::new((tx, ty), 4, TRUTH.filled())))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Rank histograms
// ---------------------------------------------------------------------------------------

struct RankHistograms<'a> {
    names: &'a [&'a str],
    counts: Vec<Vec<usize>>,
    /// Bin b holds ranks `start[b]..start[b + 1]`.
    start: Vec<usize>,
    expected: Vec<f64>,
    band: Vec<(f64, f64)>,
    n: usize,
}

fn grid_shape(k: usize) -> (usize, usize) {
    let cols = (k as f64).sqrt().ceil().max(1.0) as usize;
    (k.div_ceil(cols), cols)
}

impl Figure for RankHistograms<'_> {
    fn size(&self) -> (u32, u32) {
        let (rows, cols) = grid_shape(self.names.len());
        (cols as u32 * 380, rows as u32 * 280 + LEGEND_H)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (top, body) = root.split_vertically(LEGEND_H);
        let bins = self.counts[0].len();
        let max_rank = self.start[bins] - 1;
        legend_band(
            &top,
            &format!("SBC ranks ({} cases, ranks 0..{max_rank})", self.n),
            &[
                (NET, "counts".to_owned()),
                (BLACK, "uniform".to_owned()),
                (GREY, "99 % band".to_owned()),
            ],
        )?;
        let shape = grid_shape(self.names.len());
        let panels = body.split_evenly(shape);
        let x1 = self.start[bins] as f64;
        let top_y = self
            .counts
            .iter()
            .flatten()
            .map(|&c| c as f64)
            .chain(self.band.iter().map(|b| b.1))
            .fold(1.0, f64::max)
            * 1.08;
        for (k, (p, area)) in self.names.iter().zip(&panels).enumerate() {
            let mut chart = ChartBuilder::on(area)
                .margin(8)
                .caption(*p, font(16.0))
                .x_label_area_size(40)
                .y_label_area_size(52)
                .build_cartesian_2d(0.0..x1, 0.0..top_y)?;
            let fx = |v: &f64| format!("{v:.0}");
            chart
                .configure_mesh()
                .disable_mesh()
                .x_labels(6)
                .y_labels(5)
                .x_label_formatter(&fx)
                .y_label_formatter(&fx)
                .x_desc("rank")
                .y_desc("count")
                .label_style(font(12.0))
                .axis_desc_style(font(14.0))
                .draw()?;
            let edge = |b: usize| self.start[b] as f64;
            chart.draw_series((0..bins).map(|b| {
                Rectangle::new(
                    [(edge(b), 0.0), (edge(b + 1), self.counts[k][b] as f64)],
                    NET.mix(0.7).filled(),
                )
            }))?;
            // The band over the bars, translucent, so both stay visible.
            chart.draw_series((0..bins).map(|b| {
                Rectangle::new(
                    [(edge(b), self.band[b].0), (edge(b + 1), self.band[b].1)],
                    GREY.mix(0.35).filled(),
                )
            }))?;
            let edges: Vec<f64> = (0..=bins).map(edge).collect();
            let mut line = steps(&edges, &self.expected);
            line.pop();
            line.remove(0);
            chart.draw_series(LineSeries::new(line, BLACK.stroke_width(2)))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Coverage
// ---------------------------------------------------------------------------------------

struct Coverage<'a> {
    names: &'a [&'a str],
    /// Per parameter, (nominal, empirical) sorted by nominal level.
    curves: Vec<Vec<(f64, f64)>>,
}

impl Figure for Coverage<'_> {
    fn size(&self) -> (u32, u32) {
        (620, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let mut chart = ChartBuilder::on(root)
            .margin(14)
            .caption("Coverage of central credible intervals", font(18.0))
            .x_label_area_size(46)
            .y_label_area_size(56)
            .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
        let f = |v: &f64| format!("{v:.1}");
        chart
            .configure_mesh()
            .x_labels(11)
            .y_labels(11)
            .x_label_formatter(&f)
            .y_label_formatter(&f)
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.08))
            .x_desc("nominal coverage")
            .y_desc("empirical coverage")
            .label_style(font(12.0))
            .axis_desc_style(font(14.0))
            .draw()?;
        chart.draw_series(DashedLineSeries::new(
            [(0.0, 0.0), (1.0, 1.0)],
            6,
            4,
            GREY.stroke_width(1),
        ))?;
        for (p, (name, curve)) in self.names.iter().zip(&self.curves).enumerate() {
            let c = PALETTE[p % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(curve.iter().copied(), c.stroke_width(2)))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], c.stroke_width(2)));
            chart.draw_series(curve.iter().map(move |&pt| Circle::new(pt, 3, c.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(font(14.0))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .draw()?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Training curves
// ---------------------------------------------------------------------------------------

struct TrainingPanel {
    title: String,
    train: Option<Vec<f64>>,
    val: Option<Vec<f64>>,
}

struct Training {
    source: String,
    epochs: Vec<f64>,
    panels: Vec<TrainingPanel>,
}

/// Runs of consecutive finite points, each drawn as its own polyline.
fn segments(xs: &[f64], ys: &[f64]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (x, y) in xs.iter().zip(ys) {
        if y.is_finite() {
            if let Some(last) = out.last_mut() {
                last.push((*x, *y));
            }
        } else if out.last().is_some_and(|s| !s.is_empty()) {
            out.push(Vec::new());
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

impl Figure for Training {
    fn size(&self) -> (u32, u32) {
        let k = self.panels.len();
        let cols = k.min(2) as u32;
        let rows = k.div_ceil(2) as u32;
        (cols * 560, rows * 380 + LEGEND_H)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (top, body) = root.split_vertically(LEGEND_H);
        legend_band(
            &top,
            &format!("Training curves ({})", self.source),
            &[(NET, "train".to_owned()), (REF, "validation".to_owned())],
        )?;
        let k = self.panels.len();
        let areas = body.split_evenly((k.div_ceil(2), k.min(2)));
        let (e0, e1) = self
            .epochs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &e| {
                (a.min(e), b.max(e))
            });
        let (e0, e1) = if e1 > e0 {
            (e0, e1)
        } else {
            (e0 - 0.5, e1 + 0.5)
        };
        for (panel, area) in self.panels.iter().zip(&areas) {
            let finite = panel
                .train
                .iter()
                .chain(panel.val.iter())
                .flatten()
                .copied()
                .filter(|v| v.is_finite());
            let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
            let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
            let (lo, hi) = pad_range(lo, hi, 0.05);
            let mut chart = ChartBuilder::on(area)
                .margin(10)
                .caption(&panel.title, font(16.0))
                .x_label_area_size(42)
                .y_label_area_size(66)
                .build_cartesian_2d(e0..e1, lo..hi)?;
            let dec = decimals(lo, hi);
            let fy = |v: &f64| fmt_tick(*v, dec);
            // Epochs are whole numbers: no ticks between them.
            let fx = |v: &f64| {
                if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            };
            chart
                .configure_mesh()
                .x_labels(self.epochs.len().clamp(2, 10))
                .y_labels(6)
                .x_label_formatter(&fx)
                .y_label_formatter(&fy)
                .light_line_style(WHITE)
                .bold_line_style(BLACK.mix(0.08))
                .x_desc("epoch")
                .label_style(font(12.0))
                .axis_desc_style(font(14.0))
                .draw()?;
            let few = self.epochs.len() <= 40;
            for (values, colour) in [(&panel.train, NET), (&panel.val, REF)] {
                let Some(values) = values else { continue };
                for seg in segments(&self.epochs, values) {
                    if few {
                        chart
                            .draw_series(seg.iter().map(|&p| Circle::new(p, 2, colour.filled())))?;
                    }
                    chart.draw_series(LineSeries::new(seg, colour.stroke_width(2)))?;
                }
            }
            // Best validation epoch (or best training epoch without validation).
            let best_of = panel.val.as_ref().or(panel.train.as_ref());
            if let Some(v) = best_of {
                let best = v
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| x.is_finite())
                    .min_by(|a, b| a.1.total_cmp(b.1));
                if let Some((i, &y)) = best {
                    let x = self.epochs[i];
                    chart.draw_series(std::iter::once(Circle::new(
                        (x, y),
                        6,
                        BLACK.stroke_width(2),
                    )))?;
                    let mut label = String::new();
                    let _ = write!(label, "best {} at epoch {x}", fmt_tick(y, dec + 2));
                    chart.draw_series(std::iter::once(Text::new(
                        label,
                        (e0 + 0.03 * (e1 - e0), hi - 0.04 * (hi - lo)),
                        font(12.0),
                    )))?;
                }
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Deployment: posteriors over time
// ---------------------------------------------------------------------------------------

/// One parameter's posterior over a deployment: per analysis window, its mid time (s),
/// posterior mean and central 90 % interval; optionally the truth as (time, value).
pub struct DeploymentSeries<'a> {
    /// Parameter name (panel title).
    pub name: &'a str,
    /// (mid time s, mean, q05, q95) per window with a posterior.
    pub windows: Vec<(f64, f64, f64, f64)>,
    /// The true value over time, when known (a synthesized recording).
    pub truth: Option<Vec<(f64, f64)>>,
}

/// Posterior over time, one panel per parameter: the 90 % band, the mean and, when known,
/// the truth, against time in hours. Writes `{stem}.png` and `{stem}.svg`.
pub fn deployment(stem: &Path, title: &str, series: &[DeploymentSeries<'_>]) -> Result<()> {
    ensure!(!series.is_empty(), "deployment plot: no parameters");
    for s in series {
        ensure!(
            !s.windows.is_empty(),
            "deployment plot: `{}` has no window with a posterior",
            s.name
        );
        if let Some(w) = s
            .windows
            .iter()
            .find(|w| ![w.0, w.1, w.2, w.3].iter().all(|v| v.is_finite()))
        {
            bail!(
                "deployment plot: `{}` has a non-finite value at {} s",
                s.name,
                w.0
            );
        }
    }
    save(stem, &Deployment { title, series })
}

struct Deployment<'a> {
    title: &'a str,
    series: &'a [DeploymentSeries<'a>],
}

impl Figure for Deployment<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 40 + 260 * self.series.len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let (title, body) = root.split_vertically(40);
        title.draw(&Text::new(self.title.to_owned(), (14, 10), font(18.0)))?;
        let panels = body.split_evenly((self.series.len(), 1));
        for (area, s) in panels.iter().zip(self.series) {
            let hours = |t: f64| t / 3600.0;
            let t_lo = s
                .windows
                .iter()
                .map(|w| hours(w.0))
                .fold(f64::INFINITY, f64::min);
            let t_hi = s
                .windows
                .iter()
                .map(|w| hours(w.0))
                .fold(f64::NEG_INFINITY, f64::max);
            let (t_lo, t_hi) = if t_hi > t_lo {
                (t_lo, t_hi)
            } else {
                (t_lo - 0.01, t_hi + 0.01)
            };
            let values = s
                .windows
                .iter()
                .flat_map(|w| [w.2, w.3])
                .chain(s.truth.iter().flatten().map(|p| p.1));
            let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
            let (lo, hi) = pad_range(lo, hi, 0.08);
            let dec = decimals(lo, hi);
            let mut chart = ChartBuilder::on(area)
                .margin(12)
                .caption(s.name, font(15.0))
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(t_lo..t_hi, lo..hi)?;
            let fy = move |v: &f64| fmt_tick(*v, dec);
            let fx = |v: &f64| format!("{v:.2}");
            chart
                .configure_mesh()
                .x_desc("time (h)")
                .y_label_formatter(&fy)
                .x_label_formatter(&fx)
                .light_line_style(WHITE)
                .bold_line_style(BLACK.mix(0.08))
                .label_style(font(12.0))
                .axis_desc_style(font(13.0))
                .draw()?;
            let band: Vec<(f64, f64)> = s
                .windows
                .iter()
                .map(|w| (hours(w.0), w.3))
                .chain(s.windows.iter().rev().map(|w| (hours(w.0), w.2)))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(band, NET.mix(0.25).filled())))?
                .label("90 % interval")
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 20, y + 5)], NET.mix(0.25).filled())
                });
            chart
                .draw_series(LineSeries::new(
                    s.windows.iter().map(|w| (hours(w.0), w.1)),
                    NET.stroke_width(2),
                ))?
                .label("posterior mean")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], NET.stroke_width(2)));
            if let Some(truth) = &s.truth {
                chart
                    .draw_series(DashedLineSeries::new(
                        truth.iter().map(|&(t, v)| (hours(t), v)),
                        6,
                        4,
                        TRUTH.stroke_width(2),
                    ))?
                    .label("truth")
                    .legend(|(x, y)| {
                        PathElement::new([(x, y), (x + 20, y)], TRUTH.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .label_font(font(12.0))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .draw()?;
        }
        Ok(())
    }
}

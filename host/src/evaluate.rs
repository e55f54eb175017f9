//! `vina eval`: calibration and accuracy of a model on a held-out simulated set, and its
//! distance to exact reference posteriors. Writes `metrics.json`,
//! `report.md` and plots (PNG + SVG) to the output directory.
//!
//! Posterior draws come from `vina-core` (the firmware's code), `L` per observation with
//! seed = observation index. Per parameter: RMSE of the posterior mean, mean posterior
//! sd and its ratio to the prior sd, coverage of central 50/90/95 % intervals, and SBC
//! ranks with a χ² uniformity test. With `--reference DIR` (files of `vina reference`):
//! C2ST and MMD² between network and reference draws, mean error and sd ratio in units of
//! the reference sd; with `--refine` as well, the same for the exact-likelihood refinement
//! of each reference's observation (`vina invert --refine`'s path, [`refine_observation`]).

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ParallelProgressIterator, ProgressBar, ProgressIterator, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use vina_core::model::Model;
use vina_core::sampling::Conditioned;

use crate::dataset::Dataset;
use crate::error::refuse;
use crate::eval::c2st::{C2stOptions, c2st};
use crate::eval::coverage::{Coverage, binomial_se, levels};
use crate::eval::mmd::mmd2;
use crate::eval::plots;
use crate::eval::sbc::Sbc;
use crate::export::read_model_file;
use crate::invert::RefineRequest;
use crate::observation_file::FeatureLayout;
use crate::reference::{ReferenceFile, moments};
use crate::refine::{RefineSettings, refine_observation};

/// Most posterior draws (observations × draws) `vina eval` holds in memory at once,
/// a few GB of draws.
pub const MAX_HELD_DRAWS: usize = 50_000_000;

/// Options of `vina eval`.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// `.vina` file or trainer output directory (its `model.vina`, `metrics.csv`).
    pub model: PathBuf,
    /// Held-out data set.
    pub data: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// Posterior draws per observation.
    pub samples: usize,
    /// Observations evaluated (the first ones of the set).
    pub observations: usize,
    /// Reference posteriors directory.
    pub reference: Option<PathBuf>,
    /// Refine each reference case's posterior as well (`--refine`; particles default
    /// [`REFINE_PARTICLES`]).
    pub refine: Option<RefineRequest>,
    /// The trainer's metrics CSV for the training-curve plot (default: `MODEL/metrics.csv`
    /// when `model` is a directory).
    pub training_metrics: Option<PathBuf>,
}

/// Per-parameter calibration and accuracy.
#[derive(Clone, Debug, Serialize)]
pub struct ParamMetrics {
    /// Name.
    pub name: String,
    /// RMSE of the posterior mean.
    pub rmse: f64,
    /// Mean posterior sd.
    pub mean_sd: f64,
    /// Prior sd (of the data set's truths).
    pub prior_sd: f64,
    /// Coverage of the central 50 %, 90 %, 95 % intervals.
    pub coverage: [f64; 3],
    /// Binomial standard error of those coverages at their nominal levels.
    pub coverage_se: [f64; 3],
    /// SBC χ² statistic, degrees of freedom and p-value (20 bins).
    pub sbc_chi2: f64,
    /// Degrees of freedom.
    pub sbc_dof: usize,
    /// p-value; < 0.01 rejects uniformity.
    pub sbc_p: f64,
}

/// Refinement particles per reference case unless `--refine-particles` says otherwise:
/// the C2ST's noise under the null is 0.5/√(2n) = 0.016 at 500 against 500 reference
/// draws, and a tempered refinement of eight unknowns costs ~6 minutes of 2 cores.
pub const REFINE_PARTICLES: usize = 500;

/// The refined posterior of a reference case against the reference.
#[derive(Clone, Debug, Serialize)]
pub struct RefinedMetrics {
    /// Particles (= refined draws), and reference draws compared with them (evenly
    /// thinned to as many).
    pub particles: usize,
    /// `network` (importance sampling from the widened network, then sweeps) or, when
    /// the network proposal missed, `tempered from the prior` or `tempered from the prior
    /// and the widened network`.
    pub path: String,
    /// Posterior predictive p-value of the observation at the refined particles (the
    /// refinement's fit check; below 0.01 the refinement warns that nothing it found
    /// explains the observation).
    pub fit_p: Option<f64>,
    /// Log-posterior evaluations (forward-model runs) of the refinement.
    pub evaluations: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Cross-validated classifier accuracy against the reference.
    pub c2st: f64,
    /// MMD² against the reference.
    pub mmd2: f64,
    /// (refined mean − reference mean) / reference sd, per parameter.
    pub mean_error_in_sd: Vec<f64>,
    /// refined sd / reference sd, per parameter.
    pub sd_ratio: Vec<f64>,
}

/// One comparison with a reference posterior.
#[derive(Clone, Debug, Serialize)]
pub struct ReferenceMetrics {
    /// Reference file.
    pub file: String,
    /// Truth, when the observation was synthetic.
    pub truth: Option<Vec<f64>>,
    /// Cross-validated classifier accuracy (0.5: indistinguishable).
    pub c2st: f64,
    /// MMD² (Gaussian kernel, median bandwidth).
    pub mmd2: f64,
    /// (network mean − reference mean) / reference sd, per parameter.
    pub mean_error_in_sd: Vec<f64>,
    /// network sd / reference sd, per parameter.
    pub sd_ratio: Vec<f64>,
    /// Reference sd per parameter.
    pub reference_sd: Vec<f64>,
    /// The refinement's comparison (`--refine`).
    pub refined: Option<RefinedMetrics>,
}

/// Everything `metrics.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct Metrics {
    /// Model file.
    pub model: String,
    /// Data set.
    pub data: String,
    /// Observations evaluated.
    pub observations: usize,
    /// Draws per observation.
    pub samples: usize,
    /// Per parameter.
    pub parameters: Vec<ParamMetrics>,
    /// Reference comparisons.
    pub reference: Vec<ReferenceMetrics>,
}

/// `n` posterior draws (f64) of `model` for features `y` with `seed`: the latent stream
/// of `vina_core::sampling::draw`, through the batched path (`vina_host::batch`).
pub fn draws(model: &Model<'_>, y: &[f32], seed: u64, n: usize) -> anyhow::Result<Vec<Vec<f64>>> {
    let c = Conditioned::new(model, y)?;
    Ok(crate::batch::Batched::new(model).draws(c.context(), seed, n)?)
}

/// A progress bar on stderr (drawn only when stderr is a terminal), cleared when done.
pub(crate) fn progress_bar(len: usize, what: &'static str) -> ProgressBar {
    ProgressBar::new(len as u64)
        .with_style(
            ProgressStyle::with_template("{msg} [{elapsed} < {eta}] {wide_bar} {pos}/{len}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
        .with_message(what)
        .with_finish(indicatif::ProgressFinish::AndClear)
}

/// Run `vina eval`.
pub fn run(o: &EvalOptions) -> anyhow::Result<Metrics> {
    let (file, bytes) = read_model_file(&o.model)?;
    let model = Model::from_bytes(&bytes)?;
    let h = model.header();
    let names: Vec<String> = h.param_names.split(',').map(str::to_owned).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let d = Dataset::read_dir(&o.data)?;
    let hash = format!("{:016x}", h.scenario_hash);
    if !d
        .meta
        .scenario_hash
        .trim_start_matches("0x")
        .eq_ignore_ascii_case(&hash)
    {
        return Err(refuse(format!(
            "data {}: scenario {} ({}) is not the one model {} was trained for ({hash})",
            o.data.display(),
            d.meta.scenario,
            d.meta.scenario_hash,
            file.display()
        )));
    }
    let (xd, yd) = (d.x_dim(), d.y_dim());
    if xd != model.x_dim() || yd != model.y_dim() {
        return Err(refuse(format!(
            "data {}: {xd} parameters and {yd} features; model {} has {} and {}",
            o.data.display(),
            file.display(),
            model.x_dim(),
            model.y_dim()
        )));
    }
    if o.samples < 2 {
        return Err(refuse("eval: --draws must be at least 2"));
    }
    let n = o.observations.min(d.len);
    if (n as u128) * (o.samples as u128) > MAX_HELD_DRAWS as u128 {
        return Err(refuse(format!(
            "eval: --observations × --draws: {n} × {} draws is more than the maximum of \
             {MAX_HELD_DRAWS} held in memory; give fewer --observations (at most {})",
            o.samples,
            MAX_HELD_DRAWS / o.samples.max(1)
        )));
    }
    fs::create_dir_all(&o.out).with_context(|| format!("cannot create {}", o.out.display()))?;
    let all: Vec<Vec<Vec<f64>>> = (0..n)
        .into_par_iter()
        .progress_with(progress_bar(n, "eval: posterior draws"))
        .map(|i| draws(&model, &d.y[i * yd..(i + 1) * yd], i as u64, o.samples))
        .collect::<anyhow::Result<_>>()?;
    let mut cov = Coverage::new(xd);
    let mut sbc = Sbc::new(xd, o.samples);
    for (i, dr) in all.iter().enumerate() {
        let truth = &d.x[i * xd..(i + 1) * xd];
        cov.push(truth, dr).map_err(|e| refuse(e.0))?;
        sbc.push(truth, dr).map_err(|e| refuse(e.0))?;
    }
    let prior_sd: Vec<f64> = (0..xd)
        .map(|k| {
            let col: Vec<f64> = (0..d.len).map(|i| d.x[i * xd + k]).collect();
            let m = col.iter().sum::<f64>() / col.len() as f64;
            (col.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (col.len() as f64 - 1.0)).sqrt()
        })
        .collect();
    let nominal = [0.5, 0.9, 0.95];
    let covs: Vec<Vec<f64>> = nominal.iter().map(|&l| cov.coverage(l)).collect();
    let (rmse, mean_sd) = (cov.rmse(), cov.mean_sd());
    let bins = 20;
    let mut parameters = Vec::new();
    for k in 0..xd {
        let chi = sbc.uniformity(k, bins).map_err(|e| refuse(e.0))?;
        parameters.push(ParamMetrics {
            name: names[k].clone(),
            rmse: rmse[k],
            mean_sd: mean_sd[k],
            prior_sd: prior_sd[k],
            coverage: [covs[0][k], covs[1][k], covs[2][k]],
            coverage_se: nominal.map(|l| binomial_se(l, n)),
            sbc_chi2: chi.statistic,
            sbc_dof: chi.dof,
            sbc_p: chi.p_value,
        });
    }

    let mut reference = Vec::new();
    let mut ref_cases = Vec::new();
    // The first case's refined draws, for its corner plot.
    let mut refined_draws: Option<Vec<Vec<f64>>> = None;
    if let Some(dir) = &o.reference {
        let layout = FeatureLayout::of(h);
        let mut files: Vec<PathBuf> = fs::read_dir(dir)
            .with_context(|| format!("cannot read references {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        let bar = progress_bar(files.len(), "eval: reference cases (C2ST)");
        for (c, path) in files.iter().enumerate().progress_with(bar) {
            let r = ReferenceFile::read(path)?;
            let origin = format!("reference {}", path.display());
            let y = r.observation.features(&layout, &origin)?;
            let m = r.samples.len().min(2000);
            let refs: Vec<Vec<f64>> = r.samples.iter().take(m).cloned().collect();
            let net = draws(&model, &y, 1_000_000 + c as u64, m)?;
            let (rm, rs) = moments(&refs);
            let (nm, ns) = moments(&net);
            let opts = C2stOptions {
                seed: c as u64,
                ..C2stOptions::default()
            };
            let acc = c2st(&net, &refs, &opts).map_err(|e| refuse(e.0))?;
            let mmd = mmd2(&net, &refs).map_err(|e| refuse(e.0))?;
            let refined = match &o.refine {
                None => None,
                Some(req) => {
                    let (m, draws) = refine_case(&model, &o.model, &y, &r, path, c, req)?;
                    refined_draws.get_or_insert(draws);
                    Some(m)
                }
            };
            reference.push(ReferenceMetrics {
                file: path.display().to_string(),
                truth: r.observation.truth.clone(),
                c2st: acc,
                mmd2: mmd,
                mean_error_in_sd: (0..xd).map(|k| (nm[k] - rm[k]) / rs[k]).collect(),
                sd_ratio: (0..xd).map(|k| ns[k] / rs[k]).collect(),
                reference_sd: rs,
                refined,
            });
            ref_cases.push((net, refs, r.observation.truth.clone()));
        }
    }

    // Plots.
    let p = |name: &str| o.out.join(name);
    if let Some((net, refs, truth)) = ref_cases.first() {
        plots::corner(
            &p("corner_reference"),
            &name_refs,
            net,
            truth.as_deref(),
            Some(refs),
        )?;
    }
    if let (Some(refined), Some((_, refs, truth))) = (&refined_draws, ref_cases.first()) {
        plots::corner(
            &p("corner_refined"),
            &name_refs,
            refined,
            truth.as_deref(),
            Some(refs),
        )?;
    }
    if let Some(first) = all.first() {
        plots::corner(&p("corner"), &name_refs, first, Some(&d.x[..xd]), None)?;
    }
    plots::rank_histograms(&p("sbc_ranks"), &name_refs, &sbc.ranks, o.samples, bins)?;
    let lv = levels(20);
    plots::coverage_curve(&p("coverage"), &name_refs, &lv, &cov.curve(&lv))?;
    let csv = o
        .training_metrics
        .clone()
        .or_else(|| o.model.is_dir().then(|| o.model.join("metrics.csv")));
    if let Some(csv) = csv.filter(|c| c.exists()) {
        plots::training_curves(&p("training"), &csv)?;
    }

    let metrics = Metrics {
        model: file.display().to_string(),
        data: o.data.display().to_string(),
        observations: n,
        samples: o.samples,
        parameters,
        reference,
    };
    fs::write(
        p("metrics.json"),
        serde_json::to_string_pretty(&metrics)? + "\n",
    )?;
    fs::write(p("report.md"), report(&metrics))?;
    eprint!("{}", report(&metrics));
    eprintln!("wrote {}", o.out.display());
    Ok(metrics)
}

/// `--refine` on reference case `c` (file `path`): the refinement of its observation
/// (seed `c`), compared with the reference's draws evenly thinned to as many.
fn refine_case(
    model: &Model<'_>,
    model_path: &Path,
    y: &[f32],
    r: &ReferenceFile,
    path: &Path,
    c: usize,
    req: &RefineRequest,
) -> anyhow::Result<(RefinedMetrics, Vec<Vec<f64>>)> {
    let particles = req.particles.unwrap_or(REFINE_PARTICLES);
    if particles < 2 || particles > r.samples.len() {
        return Err(refuse(format!(
            "eval --refine: --refine-particles {particles}: expected 2 to the {} draws of \
             reference {}",
            r.samples.len(),
            path.display()
        )));
    }
    let settings = RefineSettings {
        particles,
        config: req.config,
        seed: c as u64,
    };
    let observation = || {
        Ok((
            r.observation.clone(),
            format!("reference {}", path.display()),
        ))
    };
    let refined = refine_observation(
        model,
        model_path,
        y,
        req.scenario.as_deref(),
        observation,
        Some(r.snr_db),
        &settings,
    )?;
    let stride = r.samples.len() as f64 / particles as f64;
    let refs: Vec<Vec<f64>> = (0..particles)
        .map(|i| r.samples[(i as f64 * stride) as usize].clone())
        .collect();
    let draws = refined.samples;
    let (rm, rs) = moments(&refs);
    let (fm, fs) = moments(&draws);
    let opts = C2stOptions {
        seed: c as u64,
        ..C2stOptions::default()
    };
    let metrics = RefinedMetrics {
        particles,
        path: if refined.outcome.tempered.is_some() {
            format!(
                "tempered {}",
                crate::refine::tempered_from(refined.outcome.path)
            )
        } else {
            "network".to_owned()
        },
        fit_p: refined.fit.map(|f| f.p_value),
        evaluations: refined.outcome.evaluations() as u64,
        seconds: refined.seconds,
        c2st: c2st(&draws, &refs, &opts).map_err(|e| refuse(e.0))?,
        mmd2: mmd2(&draws, &refs).map_err(|e| refuse(e.0))?,
        mean_error_in_sd: (0..rm.len()).map(|k| (fm[k] - rm[k]) / rs[k]).collect(),
        sd_ratio: (0..rm.len()).map(|k| fs[k] / rs[k]).collect(),
    };
    Ok((metrics, draws))
}

/// The readable report.
pub fn report(m: &Metrics) -> String {
    let mut s = format!(
        "# Evaluation of {}\n\n{} held-out observations of {}, {} posterior draws each.\n\n",
        m.model, m.observations, m.data, m.samples
    );
    s += "| parameter | RMSE | mean posterior sd | prior sd | sd / prior sd | coverage 50 % | 90 % | 95 % | SBC χ² (dof) | SBC p |\n";
    s += "|---|---|---|---|---|---|---|---|---|---|\n";
    for p in &m.parameters {
        s += &format!(
            "| {} | {:.4} | {:.4} | {:.4} | {:.4} | {:.3} | {:.3} | {:.3} | {:.1} ({}) | {:.3} |\n",
            p.name,
            p.rmse,
            p.mean_sd,
            p.prior_sd,
            p.mean_sd / p.prior_sd,
            p.coverage[0],
            p.coverage[1],
            p.coverage[2],
            p.sbc_chi2,
            p.sbc_dof,
            p.sbc_p
        );
    }
    if let Some(p) = m.parameters.first() {
        s += &format!(
            "\nCoverage standard errors at 50/90/95 %: {:.3} / {:.3} / {:.3}. SBC p < 0.01 rejects uniform ranks.\n",
            p.coverage_se[0], p.coverage_se[1], p.coverage_se[2]
        );
    }
    if !m.reference.is_empty() {
        s += "\n## Against exact reference posteriors\n\n| case | C2ST | MMD² | mean error / ref sd | sd / ref sd | ref sd |\n|---|---|---|---|---|---|\n";
        let fmt = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for r in &m.reference {
            let name = Path::new(&r.file)
                .file_name()
                .map_or(r.file.clone(), |n| n.to_string_lossy().into_owned());
            s += &format!(
                "| {name} | {:.3} | {:.4} | {} | {} | {} |\n",
                r.c2st,
                r.mmd2,
                fmt(&r.mean_error_in_sd),
                fmt(&r.sd_ratio),
                r.reference_sd
                    .iter()
                    .map(|x| format!("{x:.4}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let refined: Vec<(&ReferenceMetrics, &RefinedMetrics)> = m
            .reference
            .iter()
            .filter_map(|r| r.refined.as_ref().map(|f| (r, f)))
            .collect();
        if !refined.is_empty() {
            s += "\n## Refined (exact likelihood) against the references\n\n| case | path | particles | evaluations | seconds | fit p | C2ST | MMD² | mean error / ref sd | sd / ref sd |\n|---|---|---|---|---|---|---|---|---|---|\n";
            for (r, f) in refined {
                let name = Path::new(&r.file)
                    .file_name()
                    .map_or(r.file.clone(), |n| n.to_string_lossy().into_owned());
                s += &format!(
                    "| {name} | {} | {} | {} | {:.0} | {} | {:.3} | {:.4} | {} | {} |\n",
                    f.path,
                    f.particles,
                    f.evaluations,
                    f.seconds,
                    f.fit_p.map_or("–".to_owned(), |p| format!("{p:.3}")),
                    f.c2st,
                    f.mmd2,
                    fmt(&f.mean_error_in_sd),
                    fmt(&f.sd_ratio)
                );
            }
        }
    }
    s
}

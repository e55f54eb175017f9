//! `vina loss-study`: the VINA losses compared on one task with one budget.
//!
//! Each variant starts from the same training config (architecture, optimizer, epochs)
//! and changes only the `[loss]` table; each runs for every seed, is evaluated on the same
//! held-out set (RMSE, 50/90/95 % coverage, SBC, mean posterior sd) and, when reference
//! posteriors are given, against the exact posterior of each fixed case (C2ST, sd ratio).
//! Results: `results.csv` (one row per run) and `loss-study.md` (mean ± sd over seeds)
//! under the output directory. Nothing here trains or evaluates by itself: it calls
//! [`crate::train::train`] and [`crate::evaluate::run`], the code `vina train` and
//! `vina eval` run.

pub mod support_mismatch;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use vina_core::model_file::ModelKind;

use crate::dataset::Dataset;
use crate::error::refuse;
use crate::eval::moments::mean_sd;
use crate::evaluate::{EvalOptions, Metrics};
use crate::train::config::{LossConfig, TrainConfig};
use crate::train::losses::fgan::{Divergence, Generator};
use crate::train::{TrainData, train};

/// One loss of the study: a name and what it sets in `[loss]`.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Short name (file names, table rows).
    pub name: &'static str,
    /// What it is, for the table.
    pub what: &'static str,
    /// The loss table, from the base config's.
    pub loss: LossConfig,
}

/// The INN's fit terms, the base config's, kept by every INN variant: without them the
/// forward direction does not predict y and no inverse is a posterior
/// (docs/architecture.md, "noise in x").
fn inn_fit(l: LossConfig, base: &LossConfig) -> LossConfig {
    LossConfig {
        y_weight: base.y_weight,
        y_base: base.y_base,
        fit_rmse: base.fit_rmse,
        recon_rmse: base.recon_rmse,
        ..l
    }
}

/// The study's losses for a model kind, each from `base` (the config's own loss table
/// keeps its critic, kernel and Sinkhorn settings).
pub fn variants(kind: ModelKind, base: &LossConfig) -> Vec<Variant> {
    let off = LossConfig {
        ml: 0.0,
        fgan: 0.0,
        mmd_forward: 0.0,
        mmd_backward: 0.0,
        sinkhorn: 0.0,
        y_weight: 0.0,
        y_base: false,
        fit_rmse: 0.0,
        recon_rmse: 0.0,
        ..base.clone()
    };
    let fgan = |d: Divergence| LossConfig {
        fgan: 1.0,
        divergence: d,
        ..off.clone()
    };
    let mut v = vec![
        Variant {
            name: "ml",
            what: "maximum likelihood (forward KL)",
            loss: LossConfig {
                ml: 1.0,
                ..off.clone()
            },
        },
        Variant {
            name: "fgan-kl",
            what: "f-GAN, KL",
            loss: fgan(Divergence::Kl),
        },
        Variant {
            name: "fgan-kl-ns",
            what: "f-GAN, KL, the reference code's generator loss −E[g(V)]",
            loss: LossConfig {
                generator: Generator::NonSaturating,
                ..fgan(Divergence::Kl)
            },
        },
        Variant {
            name: "fgan-rkl",
            what: "f-GAN, reverse KL",
            loss: fgan(Divergence::ReverseKl),
        },
        Variant {
            name: "fgan-js",
            what: "f-GAN, Jensen–Shannon",
            loss: fgan(Divergence::JensenShannon),
        },
        Variant {
            name: "mmd",
            what: "MMD (Ardizzone: forward on [y, z], backward on (x, y))",
            loss: LossConfig {
                mmd_forward: 1.0,
                mmd_backward: 1.0,
                ..off.clone()
            },
        },
        Variant {
            name: "sinkhorn",
            what: "debiased Sinkhorn divergence on (x, y)",
            loss: LossConfig {
                sinkhorn: 100.0,
                ..off.clone()
            },
        },
    ];
    if kind == ModelKind::Inn {
        for x in &mut v {
            x.loss = inn_fit(x.loss.clone(), base);
        }
        v.insert(
            1,
            Variant {
                name: "nll-mix",
                what: "the reference code's NLL mix as published (Σz², no ŷ base)",
                loss: LossConfig {
                    ml: 1.0,
                    y_base: false,
                    fit_rmse: 25.0,
                    recon_rmse: 5.0,
                    ..off
                },
            },
        );
    }
    v
}

/// What `vina loss-study` needs (its command-line arguments).
#[derive(Clone, Debug, clap::Args)]
pub struct StudyOptions {
    /// Training config TOML: architecture, optimizer, epochs (its [loss] is replaced).
    #[arg(long)]
    pub config: PathBuf,
    /// Training data set.
    #[arg(long)]
    pub data: PathBuf,
    /// Held-out data set.
    #[arg(long)]
    pub held_out: PathBuf,
    /// Directory of reference posteriors (vina reference) of fixed cases.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Training seeds per loss (0 … seeds − 1).
    #[arg(long, default_value_t = 3)]
    pub seeds: u64,
    /// Epochs, overriding the config's.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Training samples used (0: all), overriding the config's max_samples.
    #[arg(long)]
    pub max_samples: Option<usize>,
    /// Held-out observations evaluated.
    #[arg(long, default_value_t = 1000)]
    pub observations: usize,
    /// Posterior draws per held-out observation.
    #[arg(long, default_value_t = 1000)]
    pub draws: usize,
    /// Only these losses, comma-separated (ml, nll-mix, fgan-kl, fgan-kl-ns, fgan-rkl,
    /// fgan-js, mmd, sinkhorn); all when absent.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
}

/// One training run's results.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// Variant name.
    pub variant: &'static str,
    /// Seed.
    pub seed: u64,
    /// Training wall time, seconds.
    pub train_seconds: f64,
    /// Evaluation, or why training or evaluation failed.
    pub metrics: Result<Metrics, String>,
}

/// Run the study; returns every run's result (also written to `out`).
pub fn run(o: &StudyOptions) -> anyhow::Result<Vec<RunResult>> {
    let mut base = TrainConfig::read(&o.config)?;
    base.progress = false;
    if let Some(e) = o.epochs {
        base.epochs = e;
    }
    if let Some(m) = o.max_samples {
        base.max_samples = m;
    }
    if o.seeds == 0 {
        return Err(refuse("--seeds: must be at least 1"));
    }
    let all = variants(base.model.kind, &base.loss);
    let chosen: Vec<Variant> = if o.only.is_empty() {
        all
    } else {
        for name in &o.only {
            if !all.iter().any(|v| v.name == name) {
                let names: Vec<&str> = all.iter().map(|v| v.name).collect();
                return Err(refuse(format!(
                    "--only: unknown loss `{name}` (this model kind has {})",
                    names.join(", ")
                )));
            }
        }
        all.into_iter()
            .filter(|v| o.only.iter().any(|n| n == v.name))
            .collect()
    };
    let data = TrainData::from_dataset(&Dataset::read_dir(&o.data)?)?;
    std::fs::create_dir_all(&o.out)
        .with_context(|| format!("cannot create {}", o.out.display()))?;
    let mut results = Vec::new();
    for v in &chosen {
        for seed in 0..o.seeds {
            let dir = o.out.join(format!("{}-seed{seed}", v.name));
            let config = TrainConfig {
                seed,
                loss: v.loss.clone(),
                ..base.clone()
            };
            config.validate()?;
            eprintln!(
                "loss study: {} seed {seed} ({} epochs) → {}",
                v.name,
                config.epochs,
                dir.display()
            );
            let t0 = Instant::now();
            let trained = train(&data, &config, &dir, false);
            let train_seconds = t0.elapsed().as_secs_f64();
            let metrics = trained
                .map_err(|e| format!("training: {e:#}"))
                .and_then(|_| {
                    crate::evaluate::run(&EvalOptions {
                        model: dir.clone(),
                        data: o.held_out.clone(),
                        out: dir.join("eval"),
                        samples: o.draws,
                        observations: o.observations,
                        reference: o.reference.clone(),
                        training_metrics: None,
                        refine: None,
                    })
                    .map_err(|e| format!("evaluation: {e:#}"))
                });
            if let Err(e) = &metrics {
                eprintln!("loss study: {} seed {seed}: {e}", v.name);
            }
            results.push(RunResult {
                variant: v.name,
                seed,
                train_seconds,
                metrics,
            });
            write(&o.out, o, &chosen, &results)?;
        }
    }
    Ok(results)
}

/// Mean C2ST over the fixed cases (NaN without references).
fn c2st_mean(m: &Metrics) -> f64 {
    let c: Vec<f64> = m.reference.iter().map(|c| c.c2st).collect();
    if c.is_empty() {
        f64::NAN
    } else {
        mean_sd(c.iter().copied()).0
    }
}

/// Median over the fixed cases of network sd / exact sd for parameter `k`.
fn sd_ratio_median(m: &Metrics, k: usize) -> f64 {
    let mut r: Vec<f64> = m
        .reference
        .iter()
        .filter_map(|c| c.sd_ratio.get(k).copied())
        .collect();
    r.sort_by(f64::total_cmp);
    r.get(r.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Per-run CSV and the summary table.
fn write(
    out: &Path,
    o: &StudyOptions,
    variants: &[Variant],
    results: &[RunResult],
) -> anyhow::Result<()> {
    let mut csv = String::from(
        "variant,seed,train_seconds,param,rmse,mean_sd,cov50,cov90,cov95,sbc_p,c2st_mean,sd_ratio_median,error\n",
    );
    for r in results {
        match &r.metrics {
            Ok(m) => {
                for (k, p) in m.parameters.iter().enumerate() {
                    let (c2st, median) = (c2st_mean(m), sd_ratio_median(m, k));
                    writeln!(
                        csv,
                        "{},{},{:.1},{},{:.6},{:.6},{:.4},{:.4},{:.4},{:.4},{:.4},{:.3},",
                        r.variant,
                        r.seed,
                        r.train_seconds,
                        p.name,
                        p.rmse,
                        p.mean_sd,
                        p.coverage[0],
                        p.coverage[1],
                        p.coverage[2],
                        p.sbc_p,
                        c2st,
                        median
                    )?;
                }
            }
            Err(e) => writeln!(
                csv,
                "{},{},{:.1},,,,,,,,,,\"{}\"",
                r.variant,
                r.seed,
                r.train_seconds,
                e.replace('"', "'")
            )?,
        }
    }
    std::fs::write(out.join("results.csv"), csv)?;

    let mut md = format!(
        "# Loss study\n\nConfig `{}`, data `{}`, held out `{}` ({} observations × {} draws){}; \
         seeds 0–{}. Mean ± sd over seeds; C2ST is the mean over the fixed cases, \
         sd ratio the median of network sd / exact sd over them.\n\n",
        o.config.display(),
        o.data.display(),
        o.held_out.display(),
        o.observations,
        o.draws,
        o.reference
            .as_ref()
            .map(|r| format!(", exact references `{}`", r.display()))
            .unwrap_or_default(),
        o.seeds - 1
    );
    md.push_str(
        "| loss | parameter | RMSE | mean sd | coverage 50 / 90 / 95 % | SBC p | C2ST | sd / exact sd | train s | failed |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for v in variants {
        let runs: Vec<&RunResult> = results.iter().filter(|r| r.variant == v.name).collect();
        if runs.is_empty() {
            continue;
        }
        let ok: Vec<&Metrics> = runs
            .iter()
            .filter_map(|r| r.metrics.as_ref().ok())
            .collect();
        let failed = runs.len() - ok.len();
        let secs = mean_sd(runs.iter().map(|r| r.train_seconds));
        let params = ok.first().map_or(0, |m| m.parameters.len());
        if params == 0 {
            writeln!(
                md,
                "| {} | – | – | – | – | – | – | – | {:.0} | {failed}/{} |",
                v.name,
                secs.0,
                runs.len()
            )?;
        }
        for k in 0..params {
            let col = |f: &dyn Fn(&Metrics) -> f64| mean_sd(ok.iter().map(|m| f(m)));
            let rmse = col(&|m| m.parameters[k].rmse);
            let sd = col(&|m| m.parameters[k].mean_sd);
            let cov = [0, 1, 2].map(|i| col(&|m| m.parameters[k].coverage[i]).0);
            let sbc = col(&|m| m.parameters[k].sbc_p);
            let c2st = col(&c2st_mean);
            let ratio = col(&|m| sd_ratio_median(m, k));
            writeln!(
                md,
                "| {} | {} | {:.4} ± {:.4} | {:.4} | {:.3} / {:.3} / {:.3} | {:.2} ± {:.2} | {:.3} ± {:.3} | {:.2} ± {:.2} | {:.0} | {failed}/{} |",
                if k == 0 { v.name } else { "" },
                ok[0].parameters[k].name,
                rmse.0,
                rmse.1,
                sd.0,
                cov[0],
                cov[1],
                cov[2],
                sbc.0,
                sbc.1,
                c2st.0,
                c2st.1,
                ratio.0,
                ratio.1,
                secs.0,
                runs.len()
            )?;
        }
    }
    md.push_str("\nLosses:\n\n");
    for v in variants {
        writeln!(md, "- `{}`: {}", v.name, v.what)?;
    }
    std::fs::write(out.join("loss-study.md"), md)?;
    Ok(())
}

//! `vina reference`: the exact posterior of one observation, the yardstick for network
//! posteriors. The log-posterior is [`ScenarioPosterior`]'s (scenario priors
//! × `vina-core`'s exact likelihood).
//!
//! gi-pekeris posteriors are ~1/500 of the prior box wide, so a single grid
//! over the prior cannot resolve them. For two unknowns: a coarse grid over the prior
//! finds the candidate modes (local maxima), each is zoomed in on until its cells are a
//! small fraction of its width, the best mode gets a dense grid of ±7 sd, and an
//! affine-invariant ensemble MCMC started from grid draws checks it (R̂, ESS). For more
//! unknowns the MCMC is adaptive Metropolis by default ([`Sampler`]; the ensemble's
//! autocorrelation time grows with the dimension), started from `--start` when given,
//! else from a tempered SMC run from the prior ([`tempered_start`]), so that a field
//! observation, whose truth nobody knows, gets a reference too.

use std::fs;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use vina_core::limits::HOST_MODES;
use vina_core::posterior::ForwardBuffers;
use vina_core::refine::{TemperConfig, temper, tempered_work_len};
use vina_core::rng::Rng;

use crate::error::refuse;
use crate::eval::grid::GridPosterior;
use crate::eval::mcmc::{
    EnsembleOptions, Init, MIN_CHAINS, MetropolisOptions, adaptive_metropolis,
    ensemble_sample_walkers,
};
use crate::observation_file::ObservationFile;
use crate::posterior::ScenarioPosterior;
use crate::scenario::Scenario;

/// Cells per axis of the grid over the whole prior.
const COARSE: usize = 150;
/// Cells per axis of each zoom step and of the final grid.
const ZOOM: usize = 60;
const FINAL: usize = 160;
/// Ensemble MCMC walkers and kept steps per walker, unless `--walkers` / `--steps` say
/// otherwise (more unknowns, or R̂ above 1.01, need more of both).
pub const WALKERS: usize = 16;
pub const STEPS: usize = 3000;
/// Adaptive Metropolis chains, burn-in and kept steps per chain, unless `--chains` /
/// `--burn-in` / `--steps` say otherwise: at τ ≈ 3.3 d ≈ 26 steps (eight unknowns),
/// 4,000 kept steps are ~75 autocorrelation times per chain, about what R̂ ≤ 1.01 needs
/// (the five swellex-ssp cases: R̂ ≤ 1.009 on four, 1.013 on one, which 8,000 steps
/// brought to 1.004), and 8 chains give an ESS of ~1,000 for the C2ST's draws.
pub const CHAINS: usize = 8;
pub const METROPOLIS_BURN_IN: usize = 2000;
pub const METROPOLIS_STEPS: usize = 4000;
/// Most steps per walker `--steps` accepts, and most walkers.
const MAX_STEPS: usize = 1_000_000;
const MAX_WALKERS: usize = 4096;
/// Candidate modes followed from the coarse grid.
const MODES: usize = 4;

/// Grid summary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GridSummary {
    /// Lower corner of the final grid.
    pub lo: Vec<f64>,
    /// Upper corner.
    pub hi: Vec<f64>,
    /// Cells per axis.
    pub cells: usize,
    /// Posterior means.
    pub mean: Vec<f64>,
    /// Posterior standard deviations.
    pub sd: Vec<f64>,
    /// Correlation of the two parameters.
    pub corr: f64,
    /// Log-posterior (unnormalized) at each candidate mode found, best first.
    pub modes: Vec<(Vec<f64>, f64)>,
}

/// The reference's MCMC sampler (`vina reference --sampler`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Sampler {
    /// Affine-invariant ensemble, stretch move ([`ensemble_sample_walkers`]); the default
    /// for two unknowns.
    Ensemble,
    /// Adaptive Metropolis chains ([`adaptive_metropolis`]); the default beyond two.
    Metropolis,
}

impl Sampler {
    /// The sampler for `dim` unknowns when none is asked for.
    pub fn default_for(dim: usize) -> Self {
        if dim <= 2 {
            Self::Ensemble
        } else {
            Self::Metropolis
        }
    }
}

fn ensemble() -> Sampler {
    Sampler::Ensemble
}

/// MCMC summary.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct McmcSummary {
    /// Sampler (files written before there was a choice: the ensemble).
    #[serde(default = "ensemble")]
    pub sampler: Sampler,
    /// Walkers (ensemble) or chains (Metropolis).
    pub walkers: usize,
    /// Burn-in steps per walker or chain, discarded (0 in files that did not record it).
    #[serde(default)]
    pub burn_in: usize,
    /// Kept steps per walker or chain.
    pub steps: usize,
    /// Acceptance rate after burn-in.
    pub acceptance: f64,
    /// Rank-normalized split-R̂ per parameter.
    pub rhat: Vec<f64>,
    /// Effective sample size per parameter.
    pub ess: Vec<f64>,
    /// Means.
    pub mean: Vec<f64>,
    /// Standard deviations.
    pub sd: Vec<f64>,
}

/// A reference posterior file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ReferenceFile {
    /// Scenario name.
    pub scenario: String,
    /// Parameter names.
    pub parameters: Vec<String>,
    /// The observation (pressure or features; truth when synthetic).
    pub observation: ObservationFile,
    /// SNR assumed by the likelihood, dB.
    pub snr_db: f64,
    /// Dense grid (two unknowns).
    pub grid: Option<GridSummary>,
    /// Ensemble MCMC.
    pub mcmc: Option<McmcSummary>,
    /// Reference draws (MCMC, else grid).
    pub samples: Vec<Vec<f64>>,
}

impl ReferenceFile {
    /// Read a reference file.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text = crate::error::read_text_limited(
            path,
            "reference",
            crate::error::MAX_TEXT_INPUT,
            crate::error::MAX_TEXT_INPUT_TEXT,
        )?;
        serde_json::from_str(&text)
            .map_err(|e| refuse(format!("reference {}: {e}", path.display())))
    }
}

/// Options of `vina reference`.
#[derive(Clone, Debug)]
pub struct ReferenceOptions {
    /// Draws to keep.
    pub samples: usize,
    /// Seed of the MCMC and grid draws.
    pub seed: u64,
    /// SNR override (default: the scenario's).
    pub snr_db: Option<f64>,
    /// MCMC start point (default: the grid for two unknowns, else [`tempered_start`]).
    pub start: Option<Vec<f64>>,
    /// Skip the MCMC (grid only; two unknowns).
    pub grid_only: bool,
    /// MCMC sampler ([`Sampler::default_for`] the unknowns if `None`).
    pub sampler: Option<Sampler>,
    /// Ensemble walkers ([`WALKERS`] if `None`); at least twice the unknowns.
    pub walkers: Option<usize>,
    /// Metropolis chains ([`CHAINS`] if `None`); at least 4.
    pub chains: Option<usize>,
    /// Burn-in steps per walker or chain (ensemble: 300 from grid draws, else as many as
    /// the kept steps; Metropolis: [`METROPOLIS_BURN_IN`]).
    pub burn_in: Option<usize>,
    /// Kept MCMC steps per walker or chain ([`STEPS`], Metropolis [`METROPOLIS_STEPS`],
    /// if `None`).
    pub steps: Option<usize>,
}

/// The log-posterior of an observation file under a scenario.
pub fn posterior_of(
    scn: &Scenario,
    obs: &ObservationFile,
    snr_db: f64,
    origin: &str,
) -> anyhow::Result<ScenarioPosterior> {
    if let Some(h) = obs.scenario_hash
        && h != scn.hash()
    {
        return Err(refuse(format!(
            "{origin}: scenario_hash {h:#018x} is not scenario {}'s {:#018x}",
            scn.name,
            scn.hash()
        )));
    }
    let layout = crate::observation_file::FeatureLayout {
        kind: scn.features,
        tones: scn.tones_hz.len(),
        receivers: scn.receiver_depths_m.len(),
        scenario_hash: scn.hash(),
    };
    let y = obs.features(&layout, origin)?;
    ScenarioPosterior::new(
        scn,
        y.iter().map(|&v| f64::from(v)).collect(),
        scn.features,
        snr_db,
    )
}

/// Local maxima of a grid's cells, best first.
fn local_maxima(g: &GridPosterior, count: usize) -> Vec<[f64; 2]> {
    let n = g.n;
    let m = |i: usize, j: usize| g.mass[i * n + j];
    let mut peaks: Vec<(f64, [f64; 2])> = Vec::new();
    for i in 0..n {
        for j in 0..n {
            let v = m(i, j);
            let higher = (i.saturating_sub(1)..=(i + 1).min(n - 1))
                .flat_map(|a| (j.saturating_sub(1)..=(j + 1).min(n - 1)).map(move |b| (a, b)))
                .any(|(a, b)| m(a, b) > v);
            if !higher && v > 0.0 {
                peaks.push((v, g.centre(i, j)));
            }
        }
    }
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0));
    peaks.into_iter().take(count).map(|p| p.1).collect()
}

/// The progress bar of `vina reference` on stderr (drawn only when stderr is a terminal):
/// log-posterior evaluations, its length growing as grids and the MCMC are scheduled.
fn progress_bar() -> ProgressBar {
    ProgressBar::new(0)
        .with_style(
            ProgressStyle::with_template(
                "reference: {msg} [{elapsed}] {wide_bar} {pos}/{len} log-posterior evaluations",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        )
        .with_finish(indicatif::ProgressFinish::AndClear)
}

/// A grid of `n` × `n` cells, counted on `bar`.
fn counted_grid(
    post: &ScenarioPosterior,
    lo: [f64; 2],
    hi: [f64; 2],
    n: usize,
    bar: &ProgressBar,
) -> anyhow::Result<GridPosterior> {
    bar.inc_length((n * n) as u64);
    let lp = |t: &[f64]| {
        bar.inc(1);
        post.log_posterior(t)
    };
    GridPosterior::evaluate(lp, lo, hi, n).map_err(|e| refuse(e.0))
}

/// Zoom on the mode near `start` until its grid resolves it; returns the mode's grid.
fn zoom(
    post: &ScenarioPosterior,
    start: [f64; 2],
    half: [f64; 2],
    bounds: ([f64; 2], [f64; 2]),
    bar: &ProgressBar,
) -> anyhow::Result<GridPosterior> {
    let (mut centre, mut half) = (start, half);
    let clip = |c: [f64; 2], h: [f64; 2]| {
        let lo = [0, 1].map(|k| (c[k] - h[k]).max(bounds.0[k]));
        let hi = [0, 1].map(|k| (c[k] + h[k]).min(bounds.1[k]));
        (lo, hi)
    };
    for _ in 0..12 {
        let (lo, hi) = clip(centre, half);
        let g = counted_grid(post, lo, hi, ZOOM, bar)?;
        let m = g.moments();
        let h = g.spacing();
        if (0..2).all(|k| m.sd[k] > 4.0 * h[k]) {
            // Resolved: a final dense grid of ±7 sd around the mode.
            let (lo, hi) = clip(m.mean, [7.0 * m.sd[0], 7.0 * m.sd[1]]);
            return counted_grid(post, lo, hi, FINAL, bar);
        }
        // Follow the highest cell with a box a few of its own widths wide.
        let best = g
            .mass
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(c, _)| c);
        centre = g.centre(best / ZOOM, best % ZOOM);
        half = [0, 1].map(|k| (4.0 * h[k]).max(3.0 * m.sd[k]));
    }
    Err(refuse(
        "reference: the grid zoom did not resolve the posterior mode in 12 steps",
    ))
}

/// The 2-D grid posterior of the best mode, with the candidate modes found.
pub fn grid_posterior(post: &ScenarioPosterior) -> anyhow::Result<(GridPosterior, GridSummary)> {
    grid_posterior_with(post, &ProgressBar::hidden())
}

/// [`grid_posterior`], counting log-posterior evaluations on `bar`.
fn grid_posterior_with(
    post: &ScenarioPosterior,
    bar: &ProgressBar,
) -> anyhow::Result<(GridPosterior, GridSummary)> {
    let supports: Vec<(f64, f64)> = post
        .scenario()
        .priors()
        .iter()
        .map(|p| p.support())
        .collect();
    if supports.len() != 2
        || supports
            .iter()
            .any(|s| !s.0.is_finite() || !s.1.is_finite())
    {
        return Err(refuse(
            "reference: the grid needs exactly two unknowns with bounded priors",
        ));
    }
    let lo = [supports[0].0, supports[1].0];
    let hi = [supports[0].1, supports[1].1];
    bar.set_message("grid over the prior");
    let coarse = counted_grid(post, lo, hi, COARSE, bar)?;
    let h = coarse.spacing();
    let mut found: Vec<(GridPosterior, f64)> = Vec::new();
    let peaks = local_maxima(&coarse, MODES);
    for (k, peak) in peaks.iter().enumerate() {
        bar.set_message(format!("zooming on mode {}/{}", k + 1, peaks.len()));
        let g = zoom(post, *peak, [3.0 * h[0], 3.0 * h[1]], (lo, hi), bar)?;
        let m = g.moments();
        let at = post.log_posterior(&m.mean);
        if !found
            .iter()
            .any(|(f, _)| (0..2).all(|k| (f.moments().mean[k] - m.mean[k]).abs() < 2.0 * m.sd[k]))
        {
            found.push((g, at));
        }
    }
    found.sort_by(|a, b| b.1.total_cmp(&a.1));
    let modes = found
        .iter()
        .map(|(g, lp)| (g.moments().mean.to_vec(), *lp))
        .collect();
    let (best, _) = found
        .into_iter()
        .next()
        .ok_or_else(|| refuse("reference: no posterior mode found on the prior grid"))?;
    let m = best.moments();
    let summary = GridSummary {
        lo: best.lo.to_vec(),
        hi: best.hi.to_vec(),
        cells: best.n,
        mean: m.mean.to_vec(),
        sd: m.sd.to_vec(),
        corr: m.corr,
        modes,
    };
    Ok((best, summary))
}

/// Compute the reference posterior of `obs`.
pub fn reference(
    scn: &Scenario,
    obs: &ObservationFile,
    o: &ReferenceOptions,
    origin: &str,
) -> anyhow::Result<ReferenceFile> {
    let snr_db = o.snr_db.unwrap_or(scn.snr_db);
    let post = posterior_of(scn, obs, snr_db, origin)?;
    let dim = post.dim();
    let sampler = o.sampler.unwrap_or(Sampler::default_for(dim));
    match sampler {
        Sampler::Ensemble if o.chains.is_some() => {
            return Err(refuse(
                "reference: --chains is the Metropolis sampler's; the ensemble takes --walkers",
            ));
        }
        Sampler::Metropolis if o.walkers.is_some() => {
            return Err(refuse(
                "reference: --walkers is the ensemble sampler's; Metropolis takes --chains \
                 (or give --sampler ensemble)",
            ));
        }
        _ => {}
    }
    let walkers = match sampler {
        Sampler::Ensemble => o.walkers.unwrap_or(WALKERS),
        Sampler::Metropolis => o.chains.unwrap_or(CHAINS),
    };
    if sampler == Sampler::Metropolis && !(MIN_CHAINS..=MAX_WALKERS).contains(&walkers) {
        return Err(refuse(format!(
            "reference: --chains {walkers}: expected {MIN_CHAINS} to {MAX_WALKERS} chains"
        )));
    }
    if sampler == Sampler::Ensemble && !(2 * dim..=MAX_WALKERS).contains(&walkers) {
        return Err(refuse(format!(
            "reference: --walkers {walkers}: the ensemble needs 2 × {dim} unknowns = {} to \
             {MAX_WALKERS} walkers",
            2 * dim
        )));
    }
    let steps = o.steps.unwrap_or(match sampler {
        Sampler::Ensemble => STEPS,
        Sampler::Metropolis => METROPOLIS_STEPS,
    });
    if !(1..=MAX_STEPS).contains(&steps) {
        return Err(refuse(format!(
            "reference: --steps {steps}: expected 1 to {MAX_STEPS} steps per walker"
        )));
    }
    if let Some(b) = o.burn_in
        && b > MAX_STEPS
    {
        return Err(refuse(format!(
            "reference: --burn-in {b}: expected at most {MAX_STEPS} steps"
        )));
    }
    let mut rng = Rng::new(o.seed);
    let bar = progress_bar();
    let (grid, init) = if dim == 2 && o.start.is_none() {
        let (g, s) = grid_posterior_with(&post, &bar)?;
        let draws: Vec<Vec<f64>> = g
            .sample(walkers, &mut rng)
            .iter()
            .map(|d| d.to_vec())
            .collect();
        (Some((g, s)), Init::Points(draws))
    } else if let Some(start) = o.start.clone() {
        let scale = post
            .scenario()
            .priors()
            .iter()
            .map(|p| {
                let (a, b) = p.support();
                if a.is_finite() && b.is_finite() {
                    1e-4 * (b - a)
                } else {
                    1e-3
                }
            })
            .collect();
        (
            None,
            Init::Ball {
                center: start,
                scale,
            },
        )
    } else {
        bar.set_message("tempered SMC from the prior (the chains' start)");
        (
            None,
            Init::Points(tempered_start(&post, walkers, o.seed, &bar)?),
        )
    };
    let mut samples: Vec<Vec<f64>> = Vec::new();
    let mut mcmc = None;
    if !o.grid_only || grid.is_none() {
        // Few walkers, long chains: R̂ < 1.01 needs ~100 autocorrelation times (~40–50
        // steps here) per walker. From the grid's draws a short burn-in; from a start
        // point as long as the kept chain.
        let burn_in = o.burn_in.unwrap_or(match sampler {
            Sampler::Ensemble if grid.is_some() => 300,
            Sampler::Ensemble => steps,
            Sampler::Metropolis => METROPOLIS_BURN_IN,
        });
        let thin = (walkers * steps / o.samples.max(1)).max(1);
        bar.set_message(match sampler {
            Sampler::Ensemble => format!("ensemble MCMC, {walkers} walkers"),
            Sampler::Metropolis => format!("adaptive Metropolis, {walkers} chains"),
        });
        bar.inc_length((walkers * (burn_in + steps)) as u64);
        // each walker's forward model warm-starts from that walker's previous point
        let buffers: Vec<Mutex<Box<ForwardBuffers<f64, HOST_MODES>>>> = (0..walkers)
            .map(|_| Mutex::new(Box::new(ForwardBuffers::warm_started())))
            .collect();
        let lp = |walker: usize, t: &[f64]| {
            bar.inc(1);
            let Some(slot) = buffers.get(walker) else {
                return post.log_posterior(t);
            };
            let mut b = slot.lock().unwrap_or_else(PoisonError::into_inner);
            post.log_posterior_with(t, &mut b)
        };
        let r = match sampler {
            Sampler::Ensemble => ensemble_sample_walkers(
                lp,
                &init,
                &EnsembleOptions {
                    walkers,
                    burn_in,
                    steps,
                    thin,
                    stretch: 2.0,
                    seed: o.seed,
                    parallel: true,
                },
            ),
            Sampler::Metropolis => adaptive_metropolis(
                lp,
                &init,
                &MetropolisOptions {
                    chains: walkers,
                    burn_in,
                    steps,
                    thin,
                    seed: o.seed,
                    parallel: true,
                },
            ),
        }
        .map_err(|e| refuse(e.0))?;
        samples = r.samples();
        samples.truncate(o.samples);
        let (mean, sd) = moments(&samples);
        mcmc = Some(McmcSummary {
            sampler,
            walkers,
            burn_in,
            steps,
            acceptance: r.acceptance_rate,
            rhat: r.diagnostics.iter().map(|d| d.rhat).collect(),
            ess: r.diagnostics.iter().map(|d| d.ess).collect(),
            mean,
            sd,
        });
    }
    if samples.is_empty()
        && let Some((g, _)) = &grid
    {
        samples = g
            .sample(o.samples, &mut rng)
            .iter()
            .map(|d| d.to_vec())
            .collect();
    }
    bar.finish_and_clear();
    Ok(ReferenceFile {
        scenario: scn.name.clone(),
        parameters: scn.unknowns().iter().map(|s| (*s).to_owned()).collect(),
        observation: obs.clone(),
        snr_db,
        grid: grid.map(|(_, s)| s),
        mcmc,
        samples,
    })
}

/// Particles of the tempered SMC that finds the chains' start points when no `--start` is
/// given.
pub const START_PARTICLES: usize = 200;

/// `n` start points for the chains without a guess of where the posterior is: tempered
/// SMC from the scenario's prior to its exact posterior (`vina-core`'s
/// [`temper`], the refinement's fallback, no network involved) with
/// [`START_PARTICLES`] particles, then `n` of its particles evenly spread. They are
/// approximate posterior draws, so the burn-in only has to fit the steps; a mode the SMC
/// missed the chains would miss too, which is why `--start` stays available.
pub fn tempered_start(
    post: &ScenarioPosterior,
    n: usize,
    seed: u64,
    bar: &ProgressBar,
) -> anyhow::Result<Vec<Vec<f64>>> {
    let d = post.dim();
    let particles_n = START_PARTICLES.max(n);
    let mut particles = vec![0.0f64; particles_n * d];
    let mut work = vec![0.0f64; tempered_work_len(particles_n, d)];
    let target = |pts: &[f64], out: &mut [f64]| {
        bar.inc_length(out.len() as u64);
        out.par_iter_mut().zip(pts.par_chunks(d)).for_each_init(
            || Box::new(ForwardBuffers::<f64, HOST_MODES>::new()),
            |buffers, (o, x)| {
                *o = post.log_posterior_with(x, buffers);
                bar.inc(1);
            },
        );
    };
    let report = temper(
        &TemperConfig::default(),
        &mut Rng::for_index(seed, START_STREAM),
        post.template(),
        target,
        &mut particles,
        &mut work,
    )
    .map_err(|e| refuse(format!("reference: tempered start: {e}")))?;
    if !report.complete {
        return Err(refuse(format!(
            "reference: the tempered start stopped at β = {:.3} after {} stages; give a \
             start point with --start name=value,...",
            report.beta, report.stages
        )));
    }
    let rows: Vec<&[f64]> = particles.chunks_exact(d).collect();
    Ok((0..n).map(|i| rows[i * particles_n / n].to_vec()).collect())
}

/// Stream index of the tempered start (`Rng::for_index(seed, ·)`), apart from the MCMC's
/// `Rng::new(seed)`.
const START_STREAM: u64 = 3;

pub use crate::eval::moments::moments;

/// Run `vina reference`.
pub fn run(
    scenario: &Path,
    observation: &Path,
    out: &Path,
    o: &ReferenceOptions,
) -> anyhow::Result<()> {
    let scn = Scenario::load(scenario)?;
    let obs = ObservationFile::read(observation)?;
    let origin = format!("observation {}", observation.display());
    let r = reference(&scn, &obs, o, &origin)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    fs::write(out, serde_json::to_string(&r)? + "\n")
        .with_context(|| format!("cannot write {}", out.display()))?;
    for (k, name) in r.parameters.iter().enumerate() {
        let g = r
            .grid
            .as_ref()
            .map(|g| format!("grid {:.5} ± {:.5}", g.mean[k], g.sd[k]));
        let m = r.mcmc.as_ref().map(|m| {
            format!(
                "MCMC {:.5} ± {:.5} (R̂ {:.3}, ESS {:.0})",
                m.mean[k], m.sd[k], m.rhat[k], m.ess[k]
            )
        });
        let truth = obs
            .truth
            .as_ref()
            .and_then(|t| t.get(k))
            .map(|t| format!("truth {t}"));
        let parts: Vec<String> = [truth, g, m].into_iter().flatten().collect();
        eprintln!("{name}: {}", parts.join("; "));
    }
    if let Some(g) = &r.grid {
        eprintln!(
            "grid correlation {:.3}; modes found: {}",
            g.corr,
            g.modes.len()
        );
    }
    eprintln!("{}: {} reference draws", out.display(), r.samples.len());
    Ok(())
}

//! The `vina` command line. Each subcommand lives in the module named after it; this file
//! only parses arguments, refuses unreadable input files and maps errors to exit codes
//! (`crate::error`: 2 when the input was refused, 1 for internal failures).
//!
//! Subcommands are declared in workflow order (clap lists them in declaration order):
//! forward model → simulate → train → evaluate → export → deploy and invert.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vina_core::refine::RefineConfig;
use vina_core::spec::Precision;

/// Top-level help after the subcommand list: the workflow and the exit-code rule.
const AFTER_HELP: &str = "\
The main job (`vina SUBCOMMAND --help` ends with an example of each):
  vina simulate --scenario scenarios/gi-pekeris.toml --simulations 200000 --seed 1 --out data/gi
  vina simulate --scenario scenarios/gi-pekeris.toml --simulations 2000 --seed 2 --out data/gi-test
  vina train --data data/gi --config configs/gi-pekeris-cinn.toml --out runs/gi
  vina eval --model runs/gi --data data/gi-test --out runs/gi/eval
  vina export --model runs/gi --out models/my.vina --scenario scenarios/gi-pekeris.toml
  vina observe --scenario scenarios/gi-pekeris.toml --truth water_depth_m=218.2,water_sound_speed_mps=1561.3 --out obs.json
  vina invert --model models/my.vina --observation obs.json

Exit codes: 0 success; 2 the input was refused (a bad or missing file named on the
command line, a value out of range, an observation of another scenario, a usage error);
1 an internal failure (or a failure writing the outputs). Messages go to stderr and name
the file and field.";

/// Bayesian ocean-acoustic inversion with invertible networks, from simulation to the buoy.
///
/// Simulates shallow-water sound propagation, trains conditional invertible networks on
/// it, evaluates and exports them for the buoy's firmware, and turns hydrophone
/// observations into posterior samples of the environment.
#[derive(Debug, Parser)]
#[command(name = "vina", version, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Solve the forward model for one environment: a scenario with every parameter fixed,
    /// or an Acoustics Toolbox .env file with its .flp.
    #[command(after_help = "\
Examples:
  vina forward bench/cases/gi_pekeris_fixed.toml
  vina forward bench/cases/pekeris_manual.env --flp bench/cases/pekeris_manual.flp --json")]
    Forward {
        /// Scenario TOML or .env file.
        env: PathBuf,
        /// FIELD .flp file (ranges in km, receiver depths) for a .env file.
        #[arg(long)]
        flp: Option<PathBuf>,
        /// Print JSON (wavenumbers, pressure and TL at the first range).
        #[arg(long)]
        json: bool,
    },
    /// Simulate a training set: draw parameters, solve, add noise, compute features.
    #[command(after_help = "\
Example:
  vina simulate --scenario scenarios/gi-pekeris.toml --simulations 200000 --seed 1 --out data/gi")]
    Simulate {
        /// Scenario TOML.
        #[arg(long)]
        scenario: PathBuf,
        /// Simulations (data-set samples) in the whole set, all shards together
        /// (at most 10^12; one shard holds at most 10,000,000 and 2 GiB of data: split
        /// larger sets with --shard).
        #[arg(long, value_name = "N", alias = "samples")]
        simulations: u64,
        /// Output directory (one safetensors file per shard).
        #[arg(long)]
        out: PathBuf,
        /// Seed of the whole set.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write only shard K of N (0 ≤ K < N), for batch-array jobs.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        /// Signal-to-noise ratio in dB (default: the scenario's).
        #[arg(long)]
        snr: Option<f64>,
    },
    /// Train a cINN or INN on a simulated data set.
    #[command(after_help = "\
Example:
  vina train --data data/gi --config configs/gi-pekeris-cinn.toml --out runs/gi")]
    Train {
        /// Data set directory (safetensors shards) or one shard; repeat it to train on
        /// several sets of one scenario together (e.g. simulated with different seeds).
        #[arg(long, required = true)]
        data: Vec<PathBuf>,
        /// Training config TOML (see configs/).
        #[arg(long)]
        config: PathBuf,
        /// Output directory: metrics.csv, checkpoint/, best.bpk, model.vina.
        #[arg(long)]
        out: PathBuf,
        /// Burn device, overriding the config's `device` (cuda and wgpu need the cargo
        /// features of the same names).
        #[arg(long, value_enum)]
        device: Option<crate::train::device::DeviceName>,
        /// Continue from out/checkpoint (verified; a corrupted checkpoint is refused).
        #[arg(long)]
        resume: bool,
        /// Start over in a non-empty --out, replacing its metrics, checkpoint and model
        /// (without --resume or --force a non-empty --out is refused).
        #[arg(long, conflicts_with = "resume")]
        force: bool,
        /// The data set's scenario TOML: its prior box bounds the model's output (needed
        /// by a config with `[model] bounded = true`; refused unless its hash is the
        /// data's).
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// Calibration and accuracy on a held-out data set (metrics.json, report.md, plots),
    /// and the distance to exact reference posteriors.
    #[command(after_help = "\
Example:
  vina eval --model models/gi-pekeris-cinn.vina --data data/gi-test --out runs/gi/eval --reference models/eval/references/gi-pekeris")]
    Eval {
        /// .vina file or trainer output directory (model.vina; metrics.csv for the
        /// training curves).
        #[arg(long)]
        model: PathBuf,
        /// Held-out data set (vina simulate with another seed).
        #[arg(long)]
        data: PathBuf,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Posterior draws per observation (at most 10,000,000; observations × draws at
        /// most 50,000,000, the draws held in memory).
        #[arg(long, value_name = "L", default_value_t = 1000, alias = "samples")]
        draws: usize,
        /// Observations evaluated (the first of the set).
        #[arg(long, default_value_t = 1000)]
        observations: usize,
        /// Directory of reference posteriors (vina reference) to compare with.
        #[arg(long)]
        reference: Option<PathBuf>,
        /// The trainer's metrics.csv, for the training-curve plot.
        #[arg(long)]
        training_metrics: Option<PathBuf>,
        /// Also refine each reference case's posterior with the exact likelihood (as vina
        /// invert --refine does) and compare it with the reference: the model's scenario
        /// from --scenario, or the one the model file carries.
        #[arg(long, requires = "reference")]
        refine: bool,
        /// Scenario TOML of the model for --refine.
        #[arg(long, requires = "refine")]
        scenario: Option<PathBuf>,
        /// Refinement particles per reference case (at most the reference's draws).
        #[arg(long, requires = "refine", default_value_t = crate::evaluate::REFINE_PARTICLES)]
        refine_particles: usize,
        /// Metropolis sweeps over all particles after resampling.
        #[arg(long, requires = "refine", default_value_t = RefineConfig::WORKSTATION.steps)]
        refine_steps: u32,
        /// Latent widening τ of the network proposal (z ~ N(0, τ²I)).
        #[arg(long, requires = "refine", default_value_t = RefineConfig::WORKSTATION.widen)]
        widen: f32,
    },
    /// Exact reference posterior of one observation: grid and MCMC (affine-invariant
    /// ensemble, or adaptive Metropolis beyond two unknowns) on the scenario's exact
    /// likelihood.
    #[command(after_help = "\
Example (obs.json from vina observe):
  vina reference --scenario scenarios/gi-pekeris.toml --observation obs.json --draws 2000 --out ref/case-0.json")]
    Reference {
        /// Scenario TOML.
        #[arg(long)]
        scenario: PathBuf,
        /// Observation JSON (vina observe).
        #[arg(long)]
        observation: PathBuf,
        /// Output JSON.
        #[arg(long)]
        out: PathBuf,
        /// Reference draws to keep (at most 10,000,000).
        #[arg(long, value_name = "N", default_value_t = 4000, alias = "samples")]
        draws: usize,
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// SNR of the likelihood in dB (default: the scenario's).
        #[arg(long)]
        snr: Option<f64>,
        /// MCMC start point, e.g. "water_depth_m=218,water_sound_speed_mps=1561" (without
        /// it: the grid's draws for two unknowns, else a tempered SMC run from the prior).
        #[arg(long)]
        start: Option<String>,
        /// Grid only (two unknowns), no MCMC.
        #[arg(long)]
        grid_only: bool,
        /// MCMC sampler [default: ensemble for two unknowns, metropolis beyond].
        #[arg(long, value_enum)]
        sampler: Option<crate::reference::Sampler>,
        /// Ensemble walkers (at least twice the unknowns) [default: 16].
        #[arg(long, value_name = "N")]
        walkers: Option<usize>,
        /// Metropolis chains (at least 4) [default: 8].
        #[arg(long, value_name = "N")]
        chains: Option<usize>,
        /// Burn-in steps per walker or chain [default: ensemble 300 from grid draws, as
        /// many as --steps from --start; metropolis 2000].
        #[arg(long, value_name = "N")]
        burn_in: Option<usize>,
        /// Kept MCMC steps per walker or chain [default: ensemble 3000, metropolis 4000].
        /// Raise them when the reference's R̂ is above 1.01.
        #[arg(long, value_name = "N")]
        steps: Option<usize>,
    },
    /// Compare the VINA losses on one task: train each with the same config and seeds,
    /// evaluate on held-out data and against exact references (loss-study.md, results.csv).
    #[command(after_help = "\
Example:
  vina loss-study --config configs/gi-pekeris-cinn.toml --data data/gi --held-out data/gi-test --reference models/eval/references/gi-pekeris --seeds 3 --out study")]
    LossStudy(crate::loss_study::StudyOptions),
    /// The VINA paper's support-mismatch toy: a 1-D generator trained with the f-GAN (KL)
    /// and Sinkhorn losses from U(0, 1) + d towards U(0, 1), scored by MMD against the
    /// reference code's published values (docs/loss-study.md, "Support mismatch").
    #[command(after_help = "\
Example:
  vina support-mismatch --runs 10 --displacements 0,3,10 --out docs/loss-study/support-mismatch")]
    SupportMismatch(crate::loss_study::support_mismatch::ToyOptions),
    /// Export a trained model: the firmware's .vina file (f32 or int8) and an ONNX graph
    /// of the sampling pass.
    #[command(after_help = "\
Example:
  vina export --model runs/gi --out models/my.vina --quantize int8 --onnx models/my.onnx --scenario scenarios/gi-pekeris.toml")]
    Export {
        /// Trainer output directory (its model.vina) or an f32 .vina file.
        #[arg(long)]
        model: PathBuf,
        /// Output .vina file, e.g. models/gi-pekeris-cinn.vina.
        #[arg(long)]
        out: PathBuf,
        /// Weight precision.
        #[arg(long, value_parser = precision_parser(), default_value = "f32")]
        quantize: Precision,
        /// Also write the ONNX sampling graph (inputs y, z; output x).
        #[arg(long)]
        onnx: Option<PathBuf>,
        /// Data set whose observations measure the posterior-mean shift of the export.
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// Store this scenario (the model's own: its hash must match) in the file, so the
        /// firmware can refine posteriors with the exact likelihood. Without it, a
        /// scenario already in the source file is kept.
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// Print a .vina model file's format version, header, environment template and layer
    /// table.
    #[command(after_help = "\
Example:
  vina inspect models/gi-pekeris-cinn.vina")]
    Inspect {
        /// Model file.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write a synthetic observation (forward model + noise) for a truth, as JSON.
    #[command(after_help = "\
Example:
  vina observe --scenario scenarios/gi-pekeris.toml --truth water_depth_m=218.2,water_sound_speed_mps=1561.3 --seed 3 --out obs.json")]
    Observe {
        /// Scenario TOML.
        #[arg(long)]
        scenario: PathBuf,
        /// Values of every unknown, e.g. "water_depth_m=218.2,water_sound_speed_mps=1561.3".
        #[arg(long)]
        truth: String,
        /// Output JSON.
        #[arg(long)]
        out: PathBuf,
        /// Seed of the noise.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// SNR in dB (default: the scenario's).
        #[arg(long)]
        snr: Option<f64>,
    },
    /// Synthesize a hydrophone recording (the firmware's replay format) for a truth.
    #[command(after_help = "\
Example:
  vina synth --scenario scenarios/gi-pekeris.toml --truth water_depth_m=218.2,water_sound_speed_mps=1561.3 --seconds 70 --out rec.vrec")]
    Synth {
        /// Scenario TOML.
        #[arg(long)]
        scenario: PathBuf,
        /// Values of every unknown, e.g. "water_depth_m=218.2,water_sound_speed_mps=1561.3".
        #[arg(long)]
        truth: String,
        /// Duration in seconds: at least one sample; samples × channels at most 2^28
        /// (1 GiB of 32-bit codes). Default: one analysis window of the buoy (frame_len ×
        /// 8 snapshots) plus one frame, so that the recording gives a report.
        #[arg(long)]
        seconds: Option<f64>,
        /// Output recording.
        #[arg(long)]
        out: PathBuf,
        /// Seed of the source phases and noise.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Sample rate in Hz (above twice the highest tone, at most 1 MHz).
        #[arg(long, default_value_t = 1000.0)]
        sample_rate: f64,
        /// SNR per tone in a DFT frame, dB (default: the scenario's).
        #[arg(long)]
        snr: Option<f64>,
        /// DFT frame length the SNR refers to (1 to 16,777,216 samples).
        #[arg(long, default_value_t = 4096)]
        frame_len: usize,
        /// Noiseless peak as a fraction of the ADC's full scale (above 1 clips).
        #[arg(long, default_value_t = 0.25)]
        level: f64,
        /// Write a 24-bit PCM WAV file (also chosen by an --out ending in .wav).
        #[arg(long)]
        wav: bool,
        /// A tide on the water depth of this amplitude, m: depth(t) = truth + A·sin(2πt/T);
        /// the true values are written beside the recording (OUT.truth.csv).
        #[arg(long, value_name = "A")]
        tide_m: Option<f64>,
        /// Receive every tone this many Hz off its nominal frequency (Doppler), e.g. 0.2.
        #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
        tone_offset_hz: f64,
        /// Per-channel gain errors (linear, one per receiver), e.g. 1,1.2,0.9,1,1.
        #[arg(long, value_delimiter = ',')]
        channel_gain: Option<Vec<f64>>,
        /// Per-channel phase errors in degrees (one per receiver), e.g. 0,15,-10,0,5.
        #[arg(long, value_delimiter = ',')]
        channel_phase_deg: Option<Vec<f64>>,
        /// The tide's period T, s (default: the M2 tide, 44,714 s).
        #[arg(long, value_name = "T", requires = "tide_m", default_value_t = crate::synth::Tide::M2_PERIOD_S)]
        tide_period_s: f64,
        /// Interfering lines at these frequencies, Hz (mains hum, a ship's machinery),
        /// e.g. 50,150: on every channel with its own phase.
        #[arg(long, value_delimiter = ',')]
        interferer_hz: Vec<f64>,
        /// The interferers' level re the tones' mean received amplitude, dB.
        #[arg(long, default_value_t = 20.0, allow_hyphen_values = true)]
        interferer_db: f64,
        /// Impulsive noise (snapping shrimp): clicks per second on each channel.
        #[arg(long, default_value_t = 0.0)]
        clicks_per_s: f64,
        /// The clicks' median peak re the noise's standard deviation, dB (spread ±10 dB).
        #[arg(long, default_value_t = 40.0, allow_hyphen_values = true)]
        click_db: f64,
    },
    /// Posterior samples for one observation on the host (the buoy's code and seeds).
    #[command(after_help = "\
Examples (obs.json from vina observe):
  vina invert --model models/gi-pekeris-cinn.vina --observation obs.json --draws 1000 --seed 1
  vina invert --model models/gi-pekeris-cinn.vina --observation obs.json --refine --json")]
    Invert {
        /// .vina model file.
        #[arg(long)]
        model: PathBuf,
        /// Observation JSON: {"pressure": [[[re, im] per receiver] per tone]} or {"y": [..]}.
        #[arg(long)]
        observation: PathBuf,
        /// Posterior draws (at most 10,000,000).
        #[arg(long, value_name = "N", default_value_t = 1000, alias = "samples")]
        draws: u32,
        /// Seed of the latent stream (the buoy's report seed gives the buoy's draws).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Explicit latents: a JSON array of arrays (overrides --draws and --seed). Not
        /// with --refine, whose proposal draws its own widened latents from --seed.
        #[arg(long, conflicts_with = "refine")]
        latent: Option<PathBuf>,
        /// batched: vina-core's layers as matrix products over blocks of latents (fast);
        /// core: the firmware's per-sample loop, bit for bit; tract: the ONNX graph.
        #[arg(long, value_enum, default_value = "batched")]
        engine: crate::invert::Engine,
        /// ONNX file for --engine tract (default: the model path with .onnx).
        #[arg(long)]
        onnx: Option<PathBuf>,
        /// Print JSON: parameters, summary, samples.
        #[arg(long)]
        json: bool,
        /// Refine the network posterior with the exact likelihood (importance sampling
        /// from the widened network, then Metropolis sweeps; when the network proposal
        /// misses, tempered SMC from the prior, with a warning): the model's scenario from
        /// --scenario, or the one the model file carries (`vina export --scenario`).
        #[arg(long)]
        refine: bool,
        /// Scenario TOML of the model (forward model, priors, noise) for --refine.
        #[arg(long, requires = "refine")]
        scenario: Option<PathBuf>,
        /// Refinement particles = refined draws (default: --draws; at most 10,000,000).
        #[arg(long)]
        refine_particles: Option<usize>,
        /// Metropolis sweeps over all particles after resampling.
        #[arg(long, default_value_t = RefineConfig::WORKSTATION.steps)]
        refine_steps: u32,
        /// Latent widening τ of the network proposal (z ~ N(0, τ²I)).
        #[arg(long, default_value_t = RefineConfig::WORKSTATION.widen)]
        widen: f32,
    },
    /// Run the buoy's pipeline on a field recording: one report per analysis window.
    #[command(after_help = "\
Examples (rec.wav or rec.vrec from a deployment, or from vina synth):
  vina replay --model models/gi-pekeris-cinn.vina --wav rec.wav
  vina replay --model models/gi-pekeris-cinn.vina --wav rec.wav --channels 0,1,2,3,4 --csv > reports.csv
  vina replay --model models/gi-pekeris-cinn.vina --recording rec.vrec --refine --json")]
    Replay {
        /// .vina model file (a relative-transfer-function model: a recording gives no source phase).
        #[arg(long)]
        model: PathBuf,
        /// Multi-channel WAV file (16/24/32-bit PCM or 32-bit float, any sample rate).
        #[arg(
            long,
            conflicts_with = "recording",
            required_unless_present = "recording"
        )]
        wav: Option<PathBuf>,
        /// Recording in the firmware's replay format (.vrec, from vina synth).
        #[arg(long)]
        recording: Option<PathBuf>,
        /// File channel of each receiver, shallowest first, numbered from 0 (default: all).
        #[arg(long, value_delimiter = ',')]
        channels: Option<Vec<usize>>,
        /// Refine each posterior with the exact likelihood, as the buoy's refine build does.
        #[arg(long)]
        refine: bool,
        /// Hydrophone calibration, JSON: {"channels": [{"gain": G, "phase_deg": P or
        /// [P per tone]}, …]}, one entry per receiver (each records pressure × G·e^{iP}).
        #[arg(long)]
        calibration: Option<PathBuf>,
        /// Posterior draws per window (2 to 10,000,000).
        #[arg(long, value_name = "N", default_value_t = 1000)]
        draws: u32,
        /// One JSON object per window.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// CSV: a header, then one row per window.
        #[arg(long)]
        csv: bool,
        /// Plot the posterior over time (mean and 90 % band per parameter) to
        /// PLOT.png and PLOT.svg.
        #[arg(long, value_name = "PLOT")]
        plot: Option<PathBuf>,
        /// True values over time for the plot (CSV `time_s,NAME,…`; vina synth --tide-m
        /// writes one beside the recording).
        #[arg(long, requires = "plot")]
        truth: Option<PathBuf>,
    },
    /// Decode the buoy's report frames: raw (COBS) or `frame <hex>` lines, from a capture
    /// file, standard input or a serial port (docs/report-frame.md).
    #[command(after_help = "\
Examples (frames.bin from the firmware, firmware/README.md):
  vina listen --file frames.bin --model models/gi-pekeris-cinn.vina
  vina listen --serial /dev/ttyUSB0 --baud 115200 --model models/gi-pekeris-cinn.vina
  qemu-system-arm … | vina listen --file - --names water_depth_m,water_sound_speed_mps")]
    Listen {
        /// Capture file (`-`: standard input), raw frames or `frame <hex>` lines.
        #[arg(long, conflicts_with = "serial", required_unless_present = "serial")]
        file: Option<PathBuf>,
        /// Serial device, e.g. /dev/ttyUSB0 (set to --baud, 8N1, raw).
        #[arg(long)]
        serial: Option<PathBuf>,
        /// Baud rate of --serial.
        #[arg(long, default_value_t = 115_200, requires = "serial")]
        baud: u32,
        /// The model the buoy runs: names the parameters, and reports from another
        /// scenario (another scenario hash) are flagged.
        #[arg(long, conflicts_with = "names")]
        model: Option<PathBuf>,
        /// Parameter names, comma-separated, in model order (default p0, p1, …).
        #[arg(long, value_delimiter = ',')]
        names: Option<Vec<String>>,
        /// Stop after this many reports (a serial port is read until then, or forever).
        #[arg(long, value_name = "N")]
        reports: Option<usize>,
    },
}

use crate::error::{InputKind, check_input};

/// `--quantize`: a weight precision by name. vina-core has no clap, so the possible
/// values and their help are listed here.
fn precision_parser() -> impl clap::builder::TypedValueParser<Value = Precision> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(Precision::ALL.map(|p| {
        PossibleValue::new(p.name()).help(match p {
            Precision::F32 => "f32 weights",
            Precision::Int8 => "int8 weights, one f32 scale per output row",
        })
    }))
    .try_map(|name| name.parse::<Precision>())
}

impl Command {
    /// The input files and directories named on the command line: what each is, and what
    /// it must be. Outputs are not listed.
    fn inputs(&self) -> Vec<(&Path, &'static str, InputKind)> {
        use InputKind::{Dir, Exists, File, FileOrDir, ModelFileOrDir};
        fn opt<'a>(
            p: &'a Option<PathBuf>,
            what: &'static str,
            kind: InputKind,
        ) -> Option<(&'a Path, &'static str, InputKind)> {
            p.as_deref().map(|p| (p, what, kind))
        }
        let mut v: Vec<Option<(&Path, &'static str, InputKind)>> = Vec::new();
        match self {
            Self::Forward { env, flp, .. } => {
                v.push(Some((env, "environment", File)));
                v.push(opt(flp, "FIELD parameter file", File));
            }
            Self::Simulate { scenario, .. }
            | Self::Observe { scenario, .. }
            | Self::Synth { scenario, .. } => v.push(Some((scenario, "scenario", File))),
            Self::Train {
                data,
                config,
                scenario,
                ..
            } => {
                v.extend(
                    data.iter()
                        .map(|d| Some((d.as_path(), "data set", FileOrDir))),
                );
                v.push(Some((config, "training config", File)));
                v.push(opt(scenario, "scenario", File));
            }
            Self::Eval {
                model,
                data,
                reference,
                training_metrics,
                scenario,
                ..
            } => {
                v.push(Some((model, "model file", ModelFileOrDir)));
                v.push(Some((data, "data set", FileOrDir)));
                v.push(opt(reference, "reference directory", Dir));
                v.push(opt(training_metrics, "training metrics", File));
                v.push(opt(scenario, "scenario", File));
            }
            Self::Reference {
                scenario,
                observation,
                ..
            } => {
                v.push(Some((scenario, "scenario", File)));
                v.push(Some((observation, "observation", File)));
            }
            Self::LossStudy(o) => {
                v.push(Some((&o.config, "training config", File)));
                v.push(Some((&o.data, "data set", FileOrDir)));
                v.push(Some((&o.held_out, "held-out data set", FileOrDir)));
                v.push(opt(&o.reference, "reference directory", Dir));
            }
            Self::Export {
                model,
                calibration,
                scenario,
                ..
            } => {
                v.push(Some((model, "model file", ModelFileOrDir)));
                v.push(opt(calibration, "calibration data set", FileOrDir));
                v.push(opt(scenario, "scenario", File));
            }
            Self::Inspect { file, .. } => v.push(Some((file, "model file", File))),
            Self::Invert {
                model,
                observation,
                latent,
                onnx,
                scenario,
                ..
            } => {
                v.push(Some((model, "model file", ModelFileOrDir)));
                v.push(Some((observation, "observation", File)));
                v.push(opt(latent, "latents", File));
                v.push(opt(onnx, "ONNX file", File));
                v.push(opt(scenario, "scenario", File));
            }
            Self::Replay {
                model,
                wav,
                recording,
                truth,
                calibration,
                ..
            } => {
                v.push(Some((model, "model file", File)));
                v.push(opt(wav, "WAV file", File));
                v.push(opt(recording, "recording", File));
                v.push(opt(truth, "truth track", File));
                v.push(opt(calibration, "calibration", File));
            }
            Self::Listen {
                file,
                serial,
                model,
                ..
            } => {
                let stdin = file.as_ref().is_some_and(|f| f.as_os_str() == "-");
                if !stdin {
                    v.push(opt(file, "capture file", File));
                }
                v.push(opt(serial, "serial device", Exists));
                v.push(opt(model, "model", File));
            }
            Self::SupportMismatch(_) => {}
        }
        v.into_iter().flatten().collect()
    }

    /// The outputs that take long to compute: each flag's path, and whether it is a
    /// directory. They are checked writable before the work starts.
    fn outputs(&self) -> Vec<(&Path, &'static str, bool)> {
        match self {
            Self::Reference { out, .. } | Self::Synth { out, .. } => vec![(out, "--out", false)],
            Self::Eval { out, .. } | Self::Simulate { out, .. } => vec![(out, "--out", true)],
            Self::Replay {
                plot: Some(plot), ..
            } => vec![(plot, "--plot", false)],
            _ => Vec::new(),
        }
    }

    /// Refuse a count from the command line above its maximum ([`MAX_DRAWS`]); the
    /// bounds that depend on the scenario or the data (synth, simulate, eval) are checked
    /// where those are read.
    fn check_counts(&self) -> anyhow::Result<()> {
        let draws = |flag: &str, n: Option<u64>| match n {
            Some(n) if n > MAX_DRAWS as u64 => Err(crate::error::refuse(format!(
                "{flag}: {n} is more than the maximum of {MAX_DRAWS}"
            ))),
            _ => Ok(()),
        };
        match self {
            Self::Eval {
                draws: n,
                refine_particles,
                ..
            } => {
                draws("--draws", Some(*n as u64))?;
                draws("--refine-particles", Some(*refine_particles as u64))
            }
            Self::Reference { draws: n, .. } => draws("--draws", Some(*n as u64)),
            Self::Replay { draws: n, .. } => draws("--draws", Some(u64::from(*n))),
            Self::Invert {
                draws: n,
                refine_particles,
                ..
            } => {
                draws("--draws", Some(u64::from(*n)))?;
                draws("--refine-particles", refine_particles.map(|p| p as u64))
            }
            _ => Ok(()),
        }
    }
}

/// Most posterior draws (`--draws`, `--refine-particles`) one command takes: far above
/// any use (a posterior summary needs ~10⁴), small enough that the draws fit in memory.
pub const MAX_DRAWS: usize = 10_000_000;

/// Refuse unreadable inputs, then run the subcommand.
fn run(command: Command) -> anyhow::Result<()> {
    for (path, what, kind) in command.inputs() {
        check_input(path, what, kind)?;
    }
    command.check_counts()?;
    for (path, flag, dir) in command.outputs() {
        crate::error::check_output(path, flag, dir)?;
    }
    match command {
        Command::Export {
            model,
            out,
            quantize,
            onnx,
            calibration,
            scenario,
        } => crate::export::run(&crate::export::ExportOptions {
            model,
            out,
            precision: quantize,
            onnx,
            calibration,
            scenario,
        }),
        Command::Invert {
            model,
            observation,
            draws,
            seed,
            latent,
            engine,
            onnx,
            json,
            refine,
            scenario,
            refine_particles,
            refine_steps,
            widen,
        } => crate::invert::run(
            &crate::invert::InvertOptions {
                model,
                observation,
                samples: draws,
                seed,
                latent,
                engine,
                onnx,
                refine: refine.then_some(crate::invert::RefineRequest {
                    scenario,
                    particles: refine_particles,
                    config: RefineConfig {
                        steps: refine_steps,
                        widen,
                        ..RefineConfig::WORKSTATION
                    },
                }),
            },
            json,
        ),
        Command::Observe {
            scenario,
            truth,
            out,
            seed,
            snr,
        } => crate::observation_file::run_observe(&scenario, &truth, &out, seed, snr),
        Command::Eval {
            model,
            data,
            out,
            draws,
            observations,
            reference,
            training_metrics,
            refine,
            scenario,
            refine_particles,
            refine_steps,
            widen,
        } => crate::evaluate::run(&crate::evaluate::EvalOptions {
            model,
            data,
            out,
            samples: draws,
            observations,
            reference,
            training_metrics,
            refine: refine.then_some(crate::invert::RefineRequest {
                scenario,
                particles: Some(refine_particles),
                config: RefineConfig {
                    steps: refine_steps,
                    widen,
                    ..RefineConfig::WORKSTATION
                },
            }),
        })
        .map(|_| ()),
        Command::Reference {
            scenario,
            observation,
            out,
            draws,
            seed,
            snr,
            start,
            grid_only,
            sampler,
            walkers,
            chains,
            burn_in,
            steps,
        } => {
            let start = match start {
                Some(s) => Some(crate::scenario::Scenario::load(&scenario)?.parse_truth(&s)?),
                None => None,
            };
            crate::reference::run(
                &scenario,
                &observation,
                &out,
                &crate::reference::ReferenceOptions {
                    samples: draws,
                    seed,
                    snr_db: snr,
                    start,
                    grid_only,
                    sampler,
                    walkers,
                    chains,
                    burn_in,
                    steps,
                },
            )
        }
        Command::Inspect { file, json } => crate::inspect::run(&file, json),
        Command::LossStudy(o) => crate::loss_study::run(&o).map(|_| ()),
        Command::SupportMismatch(o) => crate::loss_study::support_mismatch::run(&o).map(|_| ()),
        Command::Train {
            data,
            config,
            out,
            resume,
            force,
            device,
            scenario,
        } => crate::train::run(
            &data,
            &config,
            &out,
            resume,
            force,
            device,
            scenario.as_deref(),
        ),
        Command::Synth {
            scenario,
            truth,
            seconds,
            out,
            seed,
            sample_rate,
            snr,
            frame_len,
            level,
            wav,
            tide_m,
            tide_period_s,
            channel_gain,
            channel_phase_deg,
            tone_offset_hz,
            interferer_hz,
            interferer_db,
            clicks_per_s,
            click_db,
        } => {
            let opt = crate::synth::SynthOptions {
                interferers: interferer_hz
                    .iter()
                    .map(|&hz| crate::synth::Interferer {
                        hz,
                        db: interferer_db,
                    })
                    .collect(),
                clicks: (clicks_per_s != 0.0).then_some(crate::synth::Clicks {
                    per_s: clicks_per_s,
                    db: click_db,
                }),
                seconds: seconds
                    .unwrap_or_else(|| crate::synth::default_seconds(sample_rate, frame_len)),
                wav,
                tone_offset_hz,
                channel_response: crate::synth::channel_response(
                    channel_gain.as_deref(),
                    channel_phase_deg.as_deref(),
                )?,
                tide: tide_m.map(|amplitude_m| crate::synth::Tide {
                    amplitude_m,
                    period_s: tide_period_s,
                }),
                sample_rate_hz: sample_rate,
                snr_db: snr,
                frame_len,
                level,
                seed,
            };
            crate::synth::run(&scenario, &truth, &out, opt)
        }
        Command::Forward { env, flp, json } => crate::forward::run(&env, flp.as_deref(), json),
        Command::Replay {
            model,
            wav,
            recording,
            channels,
            refine,
            draws,
            json,
            csv,
            plot,
            truth,
            calibration,
        } => crate::replay::run(&crate::replay::ReplayOptions {
            plot,
            truth,
            calibration,
            model,
            wav,
            recording,
            channels,
            refine,
            draws,
            output: if json {
                crate::replay::Output::Json
            } else if csv {
                crate::replay::Output::Csv
            } else {
                crate::replay::Output::Text
            },
        }),
        Command::Listen {
            file,
            serial,
            baud,
            model,
            names,
            reports,
        } => {
            let naming = match &model {
                Some(m) => {
                    let (_, bytes) = crate::export::read_model_file(m)?;
                    let model = vina_core::model::Model::from_bytes(&bytes)
                        .map_err(|e| crate::error::refuse(format!("{}: {e}", m.display())))?;
                    let h = model.header();
                    crate::listen::Naming {
                        names: Some(h.param_names.split(',').map(str::to_owned).collect()),
                        scenario_hash: Some(h.scenario_hash),
                    }
                }
                None => crate::listen::Naming {
                    names,
                    scenario_hash: None,
                },
            };
            let input = match (&file, &serial) {
                (Some(f), _) => crate::listen::Input::File(f),
                (None, Some(device)) => crate::listen::Input::Serial { device, baud },
                (None, None) => {
                    return Err(crate::error::refuse("listen: give --file or --serial"));
                }
            };
            crate::listen::run(input, &naming, reports)
        }
        Command::Simulate {
            scenario,
            simulations,
            out,
            seed,
            shard,
            snr,
        } => crate::simulate::run(&scenario, simulations, &out, seed, shard.as_deref(), snr),
    }
}

/// Run the CLI; returns the process exit code (`crate::error`: 0 success, 2 refused
/// input, 1 internal failure; clap's usage errors exit 2 as well).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        // the reader of stdout has gone (`vina forward | head`): nothing left to do
        Err(e) if crate::error::is_stdout_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(crate::error::exit_code(&e))
        }
    }
}

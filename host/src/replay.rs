//! `vina replay`: a field recording through the buoy's own pipeline on the workstation
//! (docs/architecture.md, "Firmware" and "Field recordings"). The tone bank, snapshot
//! averaging, features, network, refinement and summaries are `vina_core::pipeline`,
//! compiled once for the buoy and for this command, so a report here is the report the
//! buoy would send for the same samples. Inputs: multi-channel WAV (16/24/32-bit PCM or
//! 32-bit float, any sample rate; `hound`) or the firmware's `.vrec`; `--channels` maps
//! file channels to the model's receivers (shallowest first). One report per analysis
//! window, as text, JSON lines or CSV.

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavReader};
use serde_json::json;
use vina_core::model::Model;
use vina_core::pipeline::recording_source::Replay;
use vina_core::pipeline::refinement::{Budget, Refinement, Refiner};
use vina_core::pipeline::replay::{Fault, replay_source};
use vina_core::pipeline::source::{SampleSource, SampleStatus};
use vina_core::pipeline::{PipelineConfig, tones_resolved};
use vina_core::recording::Recording;
use vina_core::report::{Report, Status};
use vina_core::summary::SummaryValues;

use crate::error::refuse;
use crate::export::read_model_file;

/// Largest `.vrec` read whole (an hour of 16 channels at 16 kHz in 32-bit codes is 3.7 GB).
pub const MAX_RECORDING_BYTES: u64 = 4 << 30;
/// Full-scale code a 32-bit float WAV sample is scaled to (24-bit resolution, more than
/// any hydrophone ADC delivers).
const FLOAT_FULL_SCALE: i32 = 1 << 23;

/// How reports are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// One readable line per window.
    Text,
    /// One JSON object per line.
    Json,
    /// A header and one row per window.
    Csv,
}

/// Options of `vina replay`.
#[derive(Clone, Debug)]
pub struct ReplayOptions {
    /// `.vina` model file.
    pub model: PathBuf,
    /// Multi-channel WAV file.
    pub wav: Option<PathBuf>,
    /// `.vrec` recording (`vina synth`'s format).
    pub recording: Option<PathBuf>,
    /// File channel of each receiver, shallowest first (default: all, in order).
    pub channels: Option<Vec<usize>>,
    /// Refine each posterior with the exact likelihood, as the buoy's `refine` build does.
    pub refine: bool,
    /// Posterior draws per window (the buoy's default: 1000).
    pub draws: u32,
    /// Output format.
    pub output: Output,
    /// Hydrophone calibration (JSON, docs/architecture.md "Field recordings").
    pub calibration: Option<PathBuf>,
    /// Plot the posterior over time to `{plot}.png` and `{plot}.svg`.
    pub plot: Option<PathBuf>,
    /// The true values over time (CSV: `time_s`, then one column per parameter, as `vina
    /// synth --tide-m` writes), drawn in the plot.
    pub truth: Option<PathBuf>,
}

/// A WAV file as a sample source, streamed frame by frame: PCM samples are their codes
/// (full scale 2^(bits−1)), float samples are scaled to 24-bit codes.
struct WavSource {
    reader: WavReader<BufReader<File>>,
    channels: usize,
    sample_rate_hz: f32,
    full_scale: i32,
    float: bool,
    error: Option<String>,
}

impl WavSource {
    fn open(path: &Path) -> anyhow::Result<(Self, usize)> {
        let reader = WavReader::open(path)
            .map_err(|e| refuse(format!("WAV file {}: {e}", path.display())))?;
        let spec = reader.spec();
        let float = match (spec.sample_format, spec.bits_per_sample) {
            (SampleFormat::Float, 32) => true,
            (SampleFormat::Int, 8..=32) => false,
            (f, b) => {
                return Err(refuse(format!(
                    "WAV file {}: {b}-bit {f:?} samples; expected 16/24/32-bit PCM or 32-bit float",
                    path.display()
                )));
            }
        };
        let frames = reader.duration() as usize;
        // 32-bit PCM's full scale 2^31 is one past i32: i32::MAX (a 5e-10 relative
        // difference) keeps every code in range
        let full_scale = match (float, spec.bits_per_sample) {
            (true, _) => FLOAT_FULL_SCALE,
            (false, 32) => i32::MAX,
            (false, bits) => 1i32 << (bits - 1),
        };
        Ok((
            Self {
                channels: usize::from(spec.channels),
                sample_rate_hz: spec.sample_rate as f32,
                full_scale,
                float,
                reader,
                error: None,
            },
            frames,
        ))
    }
}

impl SampleSource for WavSource {
    type Error = ();

    fn channels(&self) -> usize {
        self.channels
    }

    fn sample_rate_hz(&self) -> f32 {
        self.sample_rate_hz
    }

    fn full_scale(&self) -> i32 {
        self.full_scale
    }

    fn read(&mut self, out: &mut [i32]) -> Result<SampleStatus, ()> {
        if out.len() != self.channels {
            return Err(());
        }
        let fs = self.full_scale as f32;
        for o in out.iter_mut() {
            let next = if self.float {
                self.reader
                    .samples::<f32>()
                    .next()
                    .map(|r| r.map(|x| (x * fs).round().clamp(-fs, fs - 1.0) as i32))
            } else {
                self.reader.samples::<i32>().next()
            };
            match next {
                Some(Ok(v)) => *o = v,
                Some(Err(e)) => {
                    self.error = Some(e.to_string());
                    return Err(());
                }
                None => {
                    self.error = Some("the file ends inside a window".into());
                    return Err(());
                }
            }
        }
        Ok(SampleStatus::default())
    }
}

/// The receivers' channels of a source, in receiver order; clipping is flagged on those
/// channels only (at the full-scale codes), gaps are the source's.
struct Select<S> {
    inner: S,
    pick: Vec<usize>,
    frame: Vec<i32>,
}

impl<S: SampleSource> SampleSource for Select<S> {
    type Error = S::Error;

    fn channels(&self) -> usize {
        self.pick.len()
    }

    fn sample_rate_hz(&self) -> f32 {
        self.inner.sample_rate_hz()
    }

    fn full_scale(&self) -> i32 {
        self.inner.full_scale()
    }

    fn read(&mut self, out: &mut [i32]) -> Result<SampleStatus, S::Error> {
        let status = self.inner.read(&mut self.frame)?;
        let fs = self.inner.full_scale();
        let mut clipped = false;
        for (o, &c) in out.iter_mut().zip(&self.pick) {
            let v = self.frame.get(c).copied().unwrap_or(0);
            clipped |= v >= fs - 1 || v <= -fs;
            *o = v;
        }
        Ok(SampleStatus {
            clipped,
            dropped: status.dropped,
        })
    }
}

/// A recording's rate reduced by an integer factor before the pipeline: low-pass FIR
/// (windowed sinc, Blackman–Harris window), then every `factor`-th sample. For files
/// recorded faster than the tone bank can use (a 4,096-sample frame at 48 kHz is 85 ms,
/// its bins 11.7 Hz: the tones blur together, and the f32 Goertzel recurrence loses
/// precision over long frames at low tone-to-rate ratios). Every channel goes through
/// the same filter, so its gain and delay at a tone are a common factor that the
/// relative-transfer-function features remove. A channel clipped anywhere in an output
/// sample's span gives a full-scale output code, so clipping is still found per channel.
struct Decimate<S> {
    inner: S,
    factor: usize,
    taps: Vec<f64>,
    /// Per channel, the last `taps.len()` input samples (a ring).
    history: Vec<Vec<f64>>,
    at: usize,
    frame: Vec<i32>,
    /// Per channel, whether a code in the current output's span was at full scale.
    clipped: Vec<bool>,
}

impl<S: SampleSource> Decimate<S> {
    /// Half the output rate is the cutoff; the filter falls from pass to stop over
    /// ±0.15 of the output rate (the Blackman–Harris main lobe, 8/L cycles a sample), so
    /// tones below 0.35 of the output rate pass flat and nothing from above 0.65 of it
    /// aliases onto them; its sidelobes are −92 dB.
    fn new(inner: S, factor: usize) -> Self {
        let factor = factor.max(1);
        let len = if factor == 1 { 1 } else { 27 * factor + 1 };
        let centre = (len - 1) as f64 / 2.0;
        let cutoff = 0.5 / factor as f64; // cycles per input sample
        let mut taps: Vec<f64> = (0..len)
            .map(|i| {
                if len == 1 {
                    return 1.0;
                }
                let t = i as f64 - centre;
                let sinc = if t == 0.0 {
                    2.0 * cutoff
                } else {
                    (std::f64::consts::TAU * cutoff * t).sin() / (std::f64::consts::PI * t)
                };
                let x = std::f64::consts::TAU * i as f64 / (len - 1) as f64;
                let window = 0.35875 - 0.48829 * x.cos() + 0.14128 * (2.0 * x).cos()
                    - 0.01168 * (3.0 * x).cos();
                sinc * window
            })
            .collect();
        let sum: f64 = taps.iter().sum();
        taps.iter_mut().for_each(|t| *t /= sum);
        let channels = inner.channels();
        Self {
            factor,
            history: vec![vec![0.0; len]; channels],
            taps,
            at: 0,
            frame: vec![0; channels],
            clipped: vec![false; channels],
            inner,
        }
    }
}

impl<S: SampleSource> SampleSource for Decimate<S> {
    type Error = S::Error;

    fn channels(&self) -> usize {
        self.inner.channels()
    }

    fn sample_rate_hz(&self) -> f32 {
        (f64::from(self.inner.sample_rate_hz()) / self.factor as f64) as f32
    }

    fn full_scale(&self) -> i32 {
        self.inner.full_scale()
    }

    fn read(&mut self, out: &mut [i32]) -> Result<SampleStatus, S::Error> {
        if self.factor == 1 {
            return self.inner.read(out); // no filter: the buoy's samples as they are
        }
        let fs = self.inner.full_scale();
        let len = self.taps.len();
        let mut status = SampleStatus::default();
        self.clipped.iter_mut().for_each(|c| *c = false);
        for _ in 0..self.factor {
            let s = self.inner.read(&mut self.frame)?;
            status.clipped |= s.clipped;
            status.dropped = status.dropped.saturating_add(s.dropped);
            for ((h, &c), clip) in self
                .history
                .iter_mut()
                .zip(&self.frame)
                .zip(self.clipped.iter_mut())
            {
                h[self.at] = f64::from(c);
                *clip |= c >= fs - 1 || c <= -fs;
            }
            self.at = (self.at + 1) % len;
        }
        // the oldest sample sits at `at`: taps run oldest to newest (symmetric anyway)
        for ((o, h), &clip) in out.iter_mut().zip(&self.history).zip(&self.clipped) {
            let (new, old) = h.split_at(self.at);
            let y: f64 = old
                .iter()
                .chain(new)
                .zip(&self.taps)
                .map(|(a, b)| a * b)
                .sum();
            let f = f64::from(fs);
            *o = if clip {
                fs - 1
            } else {
                y.round().clamp(-f, f - 1.0) as i32
            };
        }
        Ok(status)
    }
}

/// The factor a recording at `rate_hz` is decimated by before the pipeline: 1 when the
/// tone bank resolves the model's tones at that rate with the buoy's frame
/// ([`vina_core::pipeline::tones_resolved`]), otherwise the one that brings it nearest
/// the buoy's 1 kHz from above.
fn decimation_factor(rate_hz: f32, tones_hz: &[f32], frame_len: u32) -> usize {
    if tones_resolved(tones_hz.iter().copied(), rate_hz, frame_len).is_ok() {
        1
    } else {
        ((f64::from(rate_hz) / BUOY_RATE_HZ).floor() as usize).max(1)
    }
}

/// The buoy's ADC rate, Hz (firmware: the ADS131M04's output data rate).
const BUOY_RATE_HZ: f64 = 1000.0;

/// The channel map: `--channels`, or every file channel in order; refused when a channel
/// does not exist or the count is not the model's receivers.
fn channel_map(
    channels: Option<&[usize]>,
    in_file: usize,
    receivers: usize,
    input: &Path,
) -> anyhow::Result<Vec<usize>> {
    let pick: Vec<usize> = channels.map_or_else(|| (0..in_file).collect(), <[usize]>::to_vec);
    if let Some(&c) = pick.iter().find(|&&c| c >= in_file) {
        return Err(refuse(format!(
            "--channels: channel {c} does not exist in {} ({in_file} channels, numbered from 0)",
            input.display()
        )));
    }
    if pick.len() != receivers {
        return Err(refuse(format!(
            "{}: {} channels for a model of {receivers} receivers; name {receivers} with --channels (e.g. --channels {})",
            input.display(),
            pick.len(),
            (0..receivers.min(in_file))
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(",")
        )));
    }
    Ok(pick)
}

/// `vina replay`.
pub fn run(o: &ReplayOptions) -> anyhow::Result<()> {
    let (file, bytes) = read_model_file(&o.model)?;
    let model = Model::from_bytes(&bytes)?;
    let names: Vec<String> = model
        .header()
        .param_names
        .split(',')
        .map(str::to_owned)
        .collect();
    let receivers = usize::from(model.header().features.receivers);
    let config = PipelineConfig {
        samples: o.draws,
        ..PipelineConfig::default()
    };
    if o.draws < 2 {
        return Err(refuse(format!(
            "--draws {}: a posterior summary (sd, quantiles) needs at least 2 draws",
            o.draws
        )));
    }
    let mut refiner = o.refine.then(|| Box::new(Refiner::new()));
    if o.refine && model.template().is_none() {
        return Err(refuse(format!(
            "--refine: model {} carries no environment template (export it with --scenario)",
            file.display()
        )));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if o.output == Output::Csv {
        let mut head = vec![
            "window",
            "start_s",
            "end_s",
            "status",
            "clipped_samples",
            "dropped_frames",
            "blanked_samples",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
        for n in &names {
            for f in ["mean", "std", "q05", "q50", "q95", "outside_support"] {
                head.push(format!("{n}_{f}"));
            }
        }
        writeln!(out, "{}", head.join(",")).map_err(crate::error::stdout_error)?;
    }
    let truth = o.truth.as_deref().map(read_truth).transpose()?;
    let tones: Vec<f32> = model.header().features.tones_hz.iter().collect();
    let correction = match &o.calibration {
        Some(path) => read_calibration(path, receivers, &tones)?,
        None => Vec::new(),
    };
    let mut write_error = None;
    // per parameter, (mid time, mean, q05, q95) of every window with a posterior
    let mut track: Vec<Vec<(f64, f64, f64, f64)>> = vec![Vec::new(); names.len()];
    let mut missed = 0usize;
    let mut emit = |r: &Report, rate: f32, window: usize| {
        missed += usize::from(r.refined.as_ref().is_some_and(|f| f.missed));
        let start = f64::from(r.sequence.saturating_sub(1)) * window as f64 / f64::from(rate);
        let end = start + window as f64 / f64::from(rate);
        if r.status == Status::Posterior {
            for (t, s) in track.iter_mut().zip(answer(r)) {
                let v = [s.mean, s.q05, s.q95].map(f64::from);
                t.push(((start + end) / 2.0, v[0], v[1], v[2]));
            }
        }
        let line = match o.output {
            Output::Json => {
                let mut v = crate::listen::to_json(r, Some(&names));
                v["start_s"] = json!(start);
                v["end_s"] = json!(end);
                v.to_string()
            }
            Output::Csv => csv_row(r, start, end),
            Output::Text => text_line(r, &names, start, end),
        };
        if write_error.is_none()
            && let Err(e) = writeln!(out, "{line}")
        {
            write_error = Some(e);
        }
    };
    let (input, outcome) = match (&o.wav, &o.recording) {
        (Some(wav), None) => {
            let (source, frames) = WavSource::open(wav)?;
            (
                wav,
                run_source(
                    &model,
                    source,
                    frames,
                    o,
                    config,
                    &correction,
                    receivers,
                    wav,
                    refiner.as_deref_mut(),
                    &mut emit,
                ),
            )
        }
        (None, Some(vrec)) => {
            let rec_bytes =
                crate::error::read_input_limited(vrec, "recording", MAX_RECORDING_BYTES, "4 GiB")?;
            let recording = Recording::from_bytes(&rec_bytes)
                .map_err(|e| refuse(format!("recording {}: {e}", vrec.display())))?;
            let source = Replay::new(recording);
            (
                vrec,
                run_source(
                    &model,
                    source,
                    recording.frames,
                    o,
                    config,
                    &correction,
                    receivers,
                    vrec,
                    refiner.as_deref_mut(),
                    &mut emit,
                ),
            )
        }
        _ => return Err(refuse("name one input: --wav FILE or --recording FILE")),
    };
    if let Some(e) = write_error {
        return Err(crate::error::stdout_error(e));
    }
    let reports = outcome?;
    eprintln!("{reports} reports from {}", input.display());
    if missed > 0 {
        eprintln!(
            "warning: the refinement missed in {missed} of {reports} reports (its proposal's \
             importance weights collapsed): those report the network posterior, unrefined"
        );
    }
    if let Some(plot) = &o.plot {
        let series: Vec<crate::eval::plots::DeploymentSeries<'_>> = names
            .iter()
            .zip(track)
            .map(|(name, windows)| crate::eval::plots::DeploymentSeries {
                name,
                windows,
                truth: truth.as_ref().and_then(|t| t.column(name)),
            })
            .collect();
        let title = format!(
            "{}: posterior over time ({})",
            input.file_name().map_or_else(
                || input.display().to_string(),
                |f| f.to_string_lossy().into_owned()
            ),
            if o.refine { "refined" } else { "network" }
        );
        crate::eval::plots::deployment(plot, &title, &series)?;
        eprintln!("plot: {}.png, {}.svg", plot.display(), plot.display());
    }
    Ok(())
}

/// One receiver's calibration: the channel records the pressure times `gain·e^{iφ}`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelCalibration {
    /// Linear gain relative to the model's pressure (default 1).
    #[serde(default = "one")]
    gain: f64,
    /// Phase φ in degrees: one value for every tone, or one per tone (default 0).
    #[serde(default)]
    phase_deg: PhaseDeg,
}

fn one() -> f64 {
    1.0
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum PhaseDeg {
    All(f64),
    PerTone(Vec<f64>),
}

impl Default for PhaseDeg {
    fn default() -> Self {
        Self::All(0.0)
    }
}

/// `--calibration`: `{"channels": [{"gain": g, "phase_deg": φ or [φ per tone]}, …]}`, one
/// entry per receiver (shallowest first, after `--channels`), turned into the pipeline's
/// per-tone correction `e^{−iφ}/g`.
fn read_calibration(path: &Path, receivers: usize, tones: &[f32]) -> anyhow::Result<Vec<[f32; 2]>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        channels: Vec<ChannelCalibration>,
    }
    let text = crate::error::read_text_limited(
        path,
        "calibration",
        crate::error::MAX_TEXT_INPUT,
        crate::error::MAX_TEXT_INPUT_TEXT,
    )?;
    let bad = |why: String| refuse(format!("calibration {}: {why}", path.display()));
    let file: File = serde_json::from_str(&text).map_err(|e| {
        bad(format!(
            "{e}; expected {{\"channels\": [{{\"gain\": G, \"phase_deg\": P or [P per tone]}}, …]}}"
        ))
    })?;
    if file.channels.len() != receivers {
        return Err(bad(format!(
            "{} channels; the model has {receivers} receivers",
            file.channels.len()
        )));
    }
    let mut correction = vec![[1.0f32, 0.0]; tones.len() * receivers];
    for (r, c) in file.channels.iter().enumerate() {
        if !(c.gain.is_finite() && c.gain > 0.0) {
            return Err(bad(format!(
                "channel {r}: gain {} must be finite and positive",
                c.gain
            )));
        }
        let phases: Vec<f64> = match &c.phase_deg {
            PhaseDeg::All(p) => vec![*p; tones.len()],
            PhaseDeg::PerTone(v) if v.len() == tones.len() => v.clone(),
            PhaseDeg::PerTone(v) => {
                return Err(bad(format!(
                    "channel {r}: {} phases; the model has {} tones ({} Hz)",
                    v.len(),
                    tones.len(),
                    tones
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        };
        for (t, p) in phases.iter().enumerate() {
            if !p.is_finite() {
                return Err(bad(format!(
                    "channel {r}, tone {t}: phase {p} is not finite"
                )));
            }
            let (s, co) = (-p.to_radians()).sin_cos();
            correction[t * receivers + r] = [(co / c.gain) as f32, (s / c.gain) as f32];
        }
    }
    Ok(correction)
}

/// A truth track: times and one column per parameter.
struct TruthTrack {
    names: Vec<String>,
    rows: Vec<Vec<f64>>,
}

impl TruthTrack {
    /// (time, value) of parameter `name`, when the track has it.
    fn column(&self, name: &str) -> Option<Vec<(f64, f64)>> {
        let j = self.names.iter().position(|n| n == name)?;
        Some(self.rows.iter().map(|r| (r[0], r[j])).collect())
    }
}

/// Read `--truth`: a header `time_s,NAME,…` and rows of numbers.
fn read_truth(path: &Path) -> anyhow::Result<TruthTrack> {
    let text = crate::error::read_text_limited(
        path,
        "truth track",
        crate::error::MAX_TEXT_INPUT,
        crate::error::MAX_TEXT_INPUT_TEXT,
    )?;
    let bad = |line: usize, why: String| {
        refuse(format!(
            "truth track {}, line {line}: {why}",
            path.display()
        ))
    };
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .ok_or_else(|| bad(1, "empty; expected a header `time_s,NAME,…`".into()))?
        .split(',')
        .map(|h| h.trim().to_owned())
        .collect();
    if header.first().map(String::as_str) != Some("time_s") || header.len() < 2 {
        return Err(bad(1, "expected a header `time_s,NAME,…`".into()));
    }
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let row: Vec<f64> = line
            .split(',')
            .map(|v| v.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| bad(i + 2, format!("not a number: {e}")))?;
        if row.len() != header.len() || !row.iter().all(|v| v.is_finite()) {
            return Err(bad(
                i + 2,
                format!("expected {} finite numbers", header.len()),
            ));
        }
        rows.push(row);
    }
    Ok(TruthTrack {
        names: header,
        rows,
    })
}

/// The buoy's replay loop over `source` (`frames` long), receivers picked by `--channels`.
#[allow(clippy::too_many_arguments)]
fn run_source<S: SampleSource>(
    model: &Model<'_>,
    source: S,
    frames: usize,
    o: &ReplayOptions,
    config: PipelineConfig,
    correction: &[[f32; 2]],
    receivers: usize,
    input: &Path,
    refiner: Option<&mut Refiner>,
    emit: &mut impl FnMut(&Report, f32, usize),
) -> anyhow::Result<u32> {
    let native = source.sample_rate_hz();
    let tones: Vec<f32> = model.header().features.tones_hz.iter().collect();
    let factor = decimation_factor(native, &tones, config.frame_len);
    let (frames, rate) = (frames / factor, (f64::from(native) / factor as f64) as f32);
    if factor > 1 {
        eprintln!(
            "{}: at {native} Hz the tones lie closer than two DFT bins of the tone bank's {}-sample frames; decimating by {factor} to {rate} Hz",
            input.display(),
            config.frame_len,
        );
    }
    let window = config.window();
    if frames < window {
        return Err(refuse(format!(
            "{}: {frames} samples per channel ({:.1} s at {rate} Hz) is shorter than one analysis window of {} × {} = {window} samples ({:.1} s)",
            input.display(),
            frames as f64 / f64::from(rate),
            config.frame_len,
            config.snapshots,
            window as f64 / f64::from(rate)
        )));
    }
    let pick = channel_map(o.channels.as_deref(), source.channels(), receivers, input)?;
    let select = Select {
        frame: vec![0; source.channels()],
        inner: source,
        pick,
    };
    let mut source = Decimate::new(select, factor);
    let refinement = refiner.map(|refiner| Refinement {
        refiner,
        budget: Budget::default(),
        clock: &|| 0,
    });
    let bar = crate::evaluate::progress_bar(frames / window, "windows");
    let result = replay_source(
        model,
        &mut source,
        frames,
        config,
        correction,
        refinement,
        |r, _, _| {
            bar.inc(1);
            emit(r, rate, window);
        },
    );
    bar.finish_and_clear();
    result.map_err(|e| match e {
        Fault::Setup(_) | Fault::NoTemplate => refuse(format!("{}: {e}", input.display())),
        e => anyhow::anyhow!("{e}"),
    })
}

fn status_text(r: &Report) -> String {
    match r.status {
        Status::Posterior => "posterior".into(),
        Status::Rejected(why) => format!("rejected: {why:?}"),
    }
}

fn csv_row(r: &Report, start: f64, end: f64) -> String {
    let mut cells = vec![
        r.sequence.to_string(),
        format!("{start:.3}"),
        format!("{end:.3}"),
        status_text(r),
        r.clipped_samples.to_string(),
        r.dropped_frames.to_string(),
        r.blanked_samples.to_string(),
    ];
    for s in &r.parameters {
        cells.extend([s.mean, s.std, s.q05, s.q50, s.q95].map(|v| v.to_string()));
        cells.push(s.outside_support.to_string());
    }
    cells.join(",")
}

/// The posterior a report answers with: the refined one, unless the refinement missed
/// (its importance weights collapsed, so its particles descend from one or two draws and
/// their spread says nothing of the posterior's); then the network's.
fn answer(r: &Report) -> &[SummaryValues] {
    match &r.refined {
        Some(f) if !f.missed => &f.parameters,
        _ => &r.parameters,
    }
}

fn text_line(r: &Report, names: &[String], start: f64, end: f64) -> String {
    let mut line = format!("window {} ({start:.1}–{end:.1} s): ", r.sequence);
    if r.status != Status::Posterior {
        line.push_str(&status_text(r));
        return line;
    }
    let parts: Vec<String> = names
        .iter()
        .zip(answer(r))
        .map(|(n, s)| {
            format!(
                "{n} {:.3} ± {:.3} [90 %: {:.3}, {:.3}]",
                s.mean, s.std, s.q05, s.q95
            )
        })
        .collect();
    line.push_str(&parts.join(", "));
    match &r.refined {
        Some(f) if f.missed => line.push_str(&format!(
            " (network posterior: the refinement missed, ESS {:.1} of {} particles)",
            f.ess, f.particles
        )),
        Some(_) => line.push_str(" (refined)"),
        None => {}
    }
    if r.blanked_samples > 0 {
        line.push_str(&format!(
            " ({} samples blanked as impulsive)",
            r.blanked_samples
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two channels of cosines at `hz` (amplitudes 1 and 0.5, phases 0 and 1 rad) plus,
    /// on both, `alias_hz` at amplitude 1, at 48 kHz in 24-bit codes.
    struct Lines {
        hz: f64,
        alias_hz: f64,
        n: u64,
    }

    impl SampleSource for Lines {
        type Error = ();
        fn channels(&self) -> usize {
            2
        }
        fn sample_rate_hz(&self) -> f32 {
            48_000.0
        }
        fn full_scale(&self) -> i32 {
            1 << 23
        }
        fn read(&mut self, out: &mut [i32]) -> Result<SampleStatus, ()> {
            let t = self.n as f64 / 48_000.0;
            self.n += 1;
            let w = std::f64::consts::TAU * self.hz * t;
            let alias = (std::f64::consts::TAU * self.alias_hz * t).cos();
            let scale = f64::from(1 << 20);
            out[0] = ((w.cos() + alias) * scale).round() as i32;
            out[1] = ((0.5 * (w + 1.0).cos() + alias) * scale).round() as i32;
            Ok(SampleStatus::default())
        }
    }

    /// Each output channel's DFT at `hz` over 4,000 decimated samples (after the filter's
    /// start-up), as amplitude and phase.
    fn measure(hz: f64, alias_hz: f64) -> [(f64, f64); 2] {
        let mut d = Decimate::new(Lines { hz, alias_hz, n: 0 }, 48);
        assert_eq!(d.sample_rate_hz(), 1000.0);
        let mut out = [0i32; 2];
        for _ in 0..100 {
            d.read(&mut out).unwrap();
        }
        let mut acc = [num_complex::Complex64::new(0.0, 0.0); 2];
        for k in 0..4000 {
            d.read(&mut out).unwrap();
            let e = num_complex::Complex64::from_polar(
                1.0,
                -std::f64::consts::TAU * hz * f64::from(k) / 1000.0,
            );
            for (a, &o) in acc.iter_mut().zip(&out) {
                *a += e * f64::from(o) / f64::from(1 << 20);
            }
        }
        acc.map(|a| ((2.0 * a / 4000.0).norm(), (2.0 * a / 4000.0).arg()))
    }

    /// A tone passes with its level and its phase relative to the other channel (to 1e-3
    /// and 1 mrad), and a line at 888 Hz, which 48-fold decimation without a filter would
    /// fold onto 112 Hz at full strength, arrives 80 dB down.
    #[test]
    fn decimation_keeps_tones_and_stops_aliases() {
        let [(a0, p0), (a1, p1)] = measure(112.0, 0.0);
        assert!(
            (a0 - 1.0).abs() < 1e-3 && (a1 - 0.5).abs() < 1e-3,
            "{a0} {a1}"
        );
        assert!(((p1 - p0) - 1.0).abs() < 1e-3, "{}", p1 - p0);
        let [(alias, _), _] = measure(112.0, 888.0);
        let [(clean, _), _] = measure(112.0, 0.0);
        assert!((alias - clean).abs() < 1e-4, "{alias} vs {clean}");
    }

    fn summary(mean: f32) -> SummaryValues {
        SummaryValues {
            count: 64,
            non_finite: 0,
            outside_support: 0,
            mean,
            std: 1.0,
            q05: mean - 2.0,
            q50: mean,
            q95: mean + 2.0,
        }
    }

    /// A refinement that missed is not the answer: its particles descend from one draw. The
    /// line shows the network's summary and says why; a refinement that held shows its own.
    #[test]
    fn a_missed_refinement_reports_the_network_posterior() {
        let one = |v: f32| heapless::Vec::from_slice(&[summary(v)]).unwrap();
        let mut r = Report {
            sequence: 2,
            scenario_hash: 0,
            samples: 64,
            seed: 0,
            clipped_samples: 0,
            non_finite_values: 0,
            dropped_frames: 0,
            blanked_samples: 0,
            status: Status::Posterior,
            parameters: one(10.0),
            refined: Some(vina_core::report::Refined {
                particles: 64,
                steps: 5,
                ess: 1.0,
                max_weight: 1.0,
                acceptance: 0.1,
                missed: true,
                instructions: 0,
                target_instructions: 0,
                parameters: one(99.0),
                evaluations: 100,
            }),
        };
        let names = ["p".to_owned()];
        let line = text_line(&r, &names, 0.0, 1.0);
        assert!(line.contains("p 10.000"), "{line}");
        assert!(line.contains("refinement missed, ESS 1.0 of 64"), "{line}");
        assert_eq!(answer(&r)[0].mean, 10.0);
        if let Some(f) = r.refined.as_mut() {
            f.missed = false;
        }
        let line = text_line(&r, &names, 0.0, 1.0);
        assert!(
            line.contains("p 99.000") && line.ends_with("(refined)"),
            "{line}"
        );
        assert_eq!(answer(&r)[0].mean, 99.0);
    }
}

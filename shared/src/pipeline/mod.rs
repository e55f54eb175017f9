//! The buoy's pipeline, from hydrophone samples to reports (docs/architecture.md, "Data
//! flow" and "Firmware"): one report from one observation window, frames → tone bank →
//! snapshot-averaged receiver vectors → features (the simulator's code) → the condition
//! network once → N posterior samples → streaming summary → [`Report`], optionally
//! refined with the exact likelihood under a budget. `no_std` and heap-free: the firmware
//! runs it on the ADC's samples, `vina replay` runs the same code on a recording.
//!
//! Bad data never becomes a silent posterior: clipping beyond a set fraction, too many
//! dropped frames, undefined features or a refused model input each produce a report
//! with [`Status::Rejected`] and no parameters.

pub mod impulses;
pub mod recording_source;
pub mod refinement;
pub mod replay;
pub mod source;
pub mod tone_bank;

use crate::decimal::Decimal;
use crate::features::FeatureKind;
use crate::layers::Scratch;
use crate::model::Model;
use crate::report::{MAX_PARAMS, Rejection, Report, Status};
use crate::sampling;
use crate::summary::Summary;

use impulses::ImpulseBlanker;
use source::SampleSource;
use tone_bank::{FrequencyProbe, MAX_CHANNELS, MAX_TONES, ToneBank};

/// A channel whose sample-to-sample change carries this fraction (−60 dB) or less of the
/// liveliest channel's energy over a window is dead ([`Rejection::DeadChannel`]): a live
/// hydrophone's noise floor alone sits far above it.
pub const DEAD_CHANNEL_RATIO: f32 = 1e-6;
/// A tone measured further than this many DFT bins from the bank's tuning retunes the
/// bank for the next window ([`FrequencyProbe`]).
pub const RETUNE_BINS: f32 = 0.125;
/// … and further than this many bins rejects the window ([`Rejection::OffFrequency`]):
/// measured, offsets past ~0.6 bin leave the posterior confidently wrong (docs/
/// architecture.md, "Field recordings").
pub const OFF_FREQUENCY_BINS: f32 = 0.5;

/// A tone whose cross-spectral matrix has a second eigenvalue above this fraction of the
/// first and this many times the noise eigenvalues' mean carries a second source the
/// window cannot keep out ([`Rejection::Interference`], [`ToneBank::second_source`]):
/// measured, a line 1.2 bins off a tone 10 dB above it leaves the posterior confidently
/// wrong (docs/architecture.md, "Field recordings").
pub const SECOND_SOURCE: (f32, f32) = (0.1, 20.0);

/// A channel with more than this fraction of a window's samples blanked as impulsive is
/// more impulse than signal ([`Rejection::Impulsive`]).
pub const MAX_BLANKED_FRACTION: f32 = 0.25;

/// Largest per-observation context (condition and cached first-layer products).
pub const MAX_CONTEXT: usize = 1024;
/// Largest feature vector.
const MAX_FEATURES: usize = 256;

/// Window and sampling settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PipelineConfig {
    /// Samples per frame (one DFT snapshot).
    pub frame_len: u32,
    /// Snapshots per report.
    pub snapshots: u32,
    /// Posterior samples per report.
    pub samples: u32,
    /// Largest fraction of clipped multi-channel samples tolerated in a window.
    pub max_clipped_fraction: f32,
    /// Largest number of dropped samples tolerated in a window.
    pub max_dropped: u32,
}

impl PipelineConfig {
    /// Samples (per channel) one report consumes: `frame_len × snapshots`.
    pub fn window(&self) -> usize {
        (self.frame_len as usize).saturating_mul(self.snapshots as usize)
    }
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            frame_len: 4096,
            snapshots: 8,
            samples: 1000,
            max_clipped_fraction: 0.001,
            max_dropped: 0,
        }
    }
}

/// Why a pipeline cannot be built for a model and a source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SetupError {
    /// The source has a different number of channels than the model has receivers.
    Channels {
        /// Receivers the model expects.
        model: usize,
        /// Channels the source delivers.
        source: usize,
    },
    /// More tones, channels, parameters or context than this build reserves.
    Capacity,
    /// Raw-pressure models need the source's level and phase, which a buoy does not know.
    RawPressureNeedsKnownSource,
    /// The highest tone at or above half the sample rate: the samples cannot carry it.
    ToneAboveNyquist {
        /// The tone, Hz.
        tone_hz: f32,
        /// The source's sample rate, Hz (it must exceed twice the tone).
        sample_rate_hz: f32,
    },
    /// A calibration without one finite, non-zero factor per tone and receiver.
    Calibration,
    /// Two tones closer than two DFT bins of a frame (`sample rate / frame_len`), the
    /// half-width of the Hann window's main lobe: their
    /// filters would measure each other.
    TonesUnresolved {
        /// Their spacing, Hz.
        spacing_hz: f32,
        /// The frame's bin width, Hz (a longer frame or a lower sample rate narrows it).
        bin_hz: f32,
        /// The highest sample rate at which this frame length resolves them, Hz.
        max_sample_rate_hz: f32,
    },
}

impl core::fmt::Display for SetupError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::Channels { model, source } => write!(
                f,
                "the model expects {model} receivers (channels), the source has {source}"
            ),
            Self::Capacity => f.write_str(
                "more tones, channels, parameters or context than this build reserves",
            ),
            Self::RawPressureNeedsKnownSource => f.write_str(
                "a raw-pressure model needs the source's level and phase, which a recording does not give: use a relative-transfer-function model",
            ),
            Self::ToneAboveNyquist {
                tone_hz,
                sample_rate_hz,
            } => write!(
                f,
                "the tones up to {} Hz need a sample rate above {} Hz; the source has {} Hz",
                Decimal(tone_hz),
                Decimal(2.0 * tone_hz),
                Decimal(sample_rate_hz)
            ),
            Self::Calibration => f.write_str(
                "the calibration needs one finite, non-zero complex factor per tone and receiver",
            ),
            Self::TonesUnresolved {
                spacing_hz,
                bin_hz,
                max_sample_rate_hz,
            } => write!(
                f,
                "two tones {} Hz apart are closer than two DFT bins ({} Hz each = sample rate / frame length): resample the recording to at most {} Hz, or use a longer frame",
                Decimal(spacing_hz),
                Decimal(bin_hz),
                Decimal(max_sample_rate_hz)
            ),
        }
    }
}

/// Whether the tone bank tells `tones_hz` apart at `sample_rate_hz` with frames of
/// `frame_len` samples: every two tones at least two DFT bins apart (the Hann main lobe).
pub fn tones_resolved(
    tones_hz: impl Iterator<Item = f32> + Clone,
    sample_rate_hz: f32,
    frame_len: u32,
) -> Result<(), SetupError> {
    let bin_hz = sample_rate_hz / frame_len.max(1) as f32;
    for (i, tone_hz) in tones_hz.clone().enumerate() {
        for other in tones_hz.clone().skip(i + 1) {
            let spacing_hz = (other - tone_hz).abs();
            if spacing_hz < 2.0 * bin_hz {
                return Err(SetupError::TonesUnresolved {
                    spacing_hz,
                    bin_hz,
                    max_sample_rate_hz: 0.5 * spacing_hz * frame_len as f32,
                });
            }
        }
    }
    Ok(())
}

/// The per-report processing chain for one model.
pub struct Pipeline<'m> {
    model: &'m Model<'m>,
    bank: ToneBank,
    probe: FrequencyProbe,
    blanker: ImpulseBlanker,
    sample_rate_hz: f32,
    config: PipelineConfig,
    sequence: u32,
    scratch: Scratch,
    context: [f32; MAX_CONTEXT],
    features: [f32; MAX_FEATURES],
    /// Per tone and channel (tone-major), the complex factor each measured amplitude is
    /// multiplied by before the features: the hydrophones' calibration ([1, 0]: none).
    correction: [[f32; 2]; MAX_TONES * MAX_CHANNELS],
}

impl<'m> Pipeline<'m> {
    /// A pipeline for `model` on a source with `channels` channels at `sample_rate_hz`.
    pub fn new(
        model: &'m Model<'m>,
        channels: usize,
        sample_rate_hz: f32,
        config: PipelineConfig,
    ) -> Result<Self, SetupError> {
        let mut pipeline = Self::unconfigured(model, config);
        pipeline.configure(channels, sample_rate_hz)?;
        Ok(pipeline)
    }

    /// A pipeline whose tone bank is idle (its windows are rejected as
    /// [`Rejection::Features`]) until [`Pipeline::configure`] succeeds. With `configure`,
    /// the way to build the ~20 KiB of state where it stays: a `Result<Pipeline, _>` moved
    /// into place costs the Cortex-M's stack a copy of it per move (47 KiB of stack with
    /// this, 52 KiB with `new`).
    pub fn unconfigured(model: &'m Model<'m>, config: PipelineConfig) -> Self {
        Self {
            model,
            bank: ToneBank::idle(),
            probe: FrequencyProbe::idle(),
            blanker: ImpulseBlanker::new(),
            sample_rate_hz: 1.0,
            config,
            sequence: 0,
            scratch: Scratch::new(),
            context: [0.0; MAX_CONTEXT],
            features: [0.0; MAX_FEATURES],
            correction: [[1.0, 0.0]; MAX_TONES * MAX_CHANNELS],
        }
    }

    /// Check the model against a source with `channels` channels at `sample_rate_hz` and
    /// set the tone bank up for it, in place.
    pub fn configure(&mut self, channels: usize, sample_rate_hz: f32) -> Result<(), SetupError> {
        let model = self.model;
        let h = model.header();
        let receivers = usize::from(h.features.receivers);
        if receivers != channels {
            return Err(SetupError::Channels {
                model: receivers,
                source: channels,
            });
        }
        if h.features.kind == FeatureKind::RawPressure {
            return Err(SetupError::RawPressureNeedsKnownSource);
        }
        if model.x_dim() > MAX_PARAMS
            || model.context_len() > MAX_CONTEXT
            || model.y_dim() > MAX_FEATURES
        {
            return Err(SetupError::Capacity);
        }
        let highest = h.features.tones_hz.iter().fold(0.0f32, f32::max);
        if sample_rate_hz.is_nan() || 2.0 * highest >= sample_rate_hz {
            return Err(SetupError::ToneAboveNyquist {
                tone_hz: highest,
                sample_rate_hz,
            });
        }
        tones_resolved(
            h.features.tones_hz.iter(),
            sample_rate_hz,
            self.config.frame_len,
        )?;
        if h.features.tones() > MAX_TONES {
            return Err(SetupError::Capacity);
        }
        self.probe.configure(
            h.features.tones_hz.iter(),
            sample_rate_hz,
            self.config.frame_len,
        );
        // from the probe's tunings (here the nominal tones), as every retune does: one
        // copy of `configure` in the buoy's flash
        let tuned = self.probe.tuned_hz();
        self.bank
            .configure(
                tuned.iter().copied(),
                channels,
                sample_rate_hz,
                self.config.frame_len,
            )
            .map_err(|_| SetupError::Capacity)?;
        self.blanker = ImpulseBlanker::new();
        self.sample_rate_hz = sample_rate_hz;
        Ok(())
    }

    /// Correct each channel's measured amplitude at each tone by a complex factor
    /// (tone-major, `[re, im]`, one per tone and receiver: the inverse of the channel's
    /// gain and phase response) before the features: relative-transfer-function features
    /// keep every receiver's phase and level relative to the others, so a hydrophone's
    /// calibration enters them directly. Refused (and nothing changed) unless there is one
    /// finite, non-zero factor per tone and receiver.
    pub fn set_correction(&mut self, correction: &[[f32; 2]]) -> Result<(), SetupError> {
        let h = self.model.header();
        let n = h.features.tones() * usize::from(h.features.receivers);
        let usable =
            |c: &[f32; 2]| c[0].is_finite() && c[1].is_finite() && (c[0] != 0.0 || c[1] != 0.0);
        if correction.len() != n || n > self.correction.len() || !correction.iter().all(usable) {
            return Err(SetupError::Calibration);
        }
        self.correction[..n].copy_from_slice(correction);
        Ok(())
    }

    /// The model.
    pub fn model(&self) -> &'m Model<'m> {
        self.model
    }

    /// The context [`Model::prepare`] made of the last window's features (valid after a
    /// report with a posterior).
    pub fn context(&self) -> &[f32] {
        &self.context[..self.model.context_len()]
    }

    /// The features of the last window that reached the network.
    pub fn last_features(&self) -> &[f32] {
        &self.features[..self.model.y_dim()]
    }

    /// Acquire one window from `source` and infer; latent draws are seeded with `seed`.
    /// Acquisition errors are returned as such (the caller decides to retry or reset).
    pub fn run<S: SampleSource>(&mut self, source: &mut S, seed: u64) -> Result<Report, S::Error> {
        // never past the buffers, whatever source this pipeline is handed
        let channels = source.channels().min(MAX_CHANNELS);
        let full_scale = source.full_scale().max(1) as f32;
        let mut codes = [0i32; MAX_CHANNELS];
        let mut x = [0.0f32; MAX_CHANNELS];
        let (mut clipped, mut dropped) = (0u32, 0u32);
        // per channel: codes at full scale, and the energy of the sample-to-sample change
        // (zero for a silent or stuck channel, whatever its offset)
        let code_fs = source.full_scale().max(1);
        let mut clipped_codes = [0u32; MAX_CHANNELS];
        let mut change = [0.0f32; MAX_CHANNELS];
        let mut previous: Option<[f32; MAX_CHANNELS]> = None;
        self.bank.reset();
        self.probe.reset();
        self.blanker.clear_counts();
        for _ in 0..self.config.snapshots {
            for _ in 0..self.config.frame_len {
                let status = source.read(&mut codes[..channels])?;
                clipped += u32::from(status.clipped);
                dropped = dropped.saturating_add(status.dropped);
                for (v, c) in x.iter_mut().zip(&codes[..channels]) {
                    *v = *c as f32 / full_scale;
                }
                for (n, &c) in clipped_codes.iter_mut().zip(&codes[..channels]) {
                    *n += u32::from(c >= code_fs - 1 || c <= -code_fs);
                }
                if let Some(prev) = &previous {
                    for ((e, a), b) in change.iter_mut().zip(&x[..channels]).zip(prev) {
                        *e += (a - b) * (a - b);
                    }
                }
                previous = Some(x);
                let blanked = self.blanker.screen(&mut x[..channels]);
                self.bank.push(&x[..channels], blanked);
                self.probe.push(&x[..channels]);
            }
            self.bank.end_snapshot();
            self.probe.end_snapshot();
        }
        // where the tones really were: the window is judged on it, the next one retuned
        let bin_hz = self.sample_rate_hz / self.config.frame_len.max(1) as f32;
        let mut offsets = [0.0f32; MAX_TONES];
        self.probe.offsets(&mut offsets);
        let mut loudest = [0u8; MAX_TONES];
        self.bank.loudest_channels(&mut loudest);
        self.probe.set_channels(&loudest);
        let (worst_tone, worst) = offsets
            .iter()
            .enumerate()
            .fold(
                (0, 0.0f32),
                |(i, m), (j, d)| if d.abs() > m { (j, d.abs()) } else { (i, m) },
            );
        self.sequence = self.sequence.wrapping_add(1);
        let total = (self.config.frame_len as f32) * (self.config.snapshots as f32);
        let mut report = Report {
            sequence: self.sequence,
            scenario_hash: self.model.header().scenario_hash,
            samples: 0,
            seed,
            clipped_samples: clipped,
            non_finite_values: 0,
            dropped_frames: dropped,
            blanked_samples: 0,
            status: Status::Posterior,
            parameters: heapless::Vec::new(),
            refined: None,
        };
        let most_clipped = (0..channels).max_by_key(|&c| clipped_codes[c]).unwrap_or(0);
        let liveliest = change[..channels].iter().fold(0.0f32, |a, &e| a.max(e));
        let dead =
            (0..channels).find(|&c| liveliest > 0.0 && change[c] <= DEAD_CHANNEL_RATIO * liveliest);
        let blanked = &self.blanker.blanked()[..channels];
        report.blanked_samples = blanked.iter().fold(0u32, |a, &b| a.saturating_add(b));
        let most_blanked = (0..channels).max_by_key(|&c| blanked[c]).unwrap_or(0);
        let outcome =
            if clipped_codes[most_clipped] as f32 > self.config.max_clipped_fraction * total {
                Err(Rejection::Clipped {
                    channel: most_clipped as u8,
                })
            } else if let Some(c) = dead {
                Err(Rejection::DeadChannel { channel: c as u8 })
            } else if blanked[most_blanked] as f32 > MAX_BLANKED_FRACTION * total {
                Err(Rejection::Impulsive {
                    channel: most_blanked as u8,
                })
            } else if worst > OFF_FREQUENCY_BINS * bin_hz {
                Err(Rejection::OffFrequency {
                    tone: worst_tone as u8,
                })
            } else if dropped > self.config.max_dropped {
                Err(Rejection::DroppedFrames)
            } else if let Some(tone) = self.second_source() {
                Err(Rejection::Interference { tone })
            } else {
                self.infer(seed)
            };
        match outcome {
            Ok(summaries) => {
                report.samples = self.config.samples;
                for s in summaries.iter().take(self.model.x_dim()) {
                    let _ = report.parameters.push(s.values());
                }
            }
            Err(why) => report.status = Status::Rejected(why),
        }
        if worst > RETUNE_BINS * bin_hz {
            self.probe.retune(&offsets);
            let tuned = self.probe.tuned_hz();
            // the same tones and channels as configured: cannot exceed the capacity
            let _ = self.bank.configure(
                tuned.iter().copied(),
                self.bank.channels(),
                self.sample_rate_hz,
                self.config.frame_len,
            );
        }
        Ok(report)
    }

    /// The tone with the strongest second source past [`SECOND_SOURCE`], if any.
    fn second_source(&self) -> Option<u8> {
        let mut ratios = [[0.0f32; 2]; MAX_TONES];
        self.bank.second_source(&mut ratios);
        let mut worst: Option<(u8, f32)> = None;
        // an opaque count (see `tone_bank::principal`): unrolled over 16 tones, 1 KB
        for (t, r) in ratios
            .iter()
            .enumerate()
            .take(core::hint::black_box(MAX_TONES))
        {
            if r[0] > SECOND_SOURCE.0
                && r[1] > SECOND_SOURCE.1
                && worst.is_none_or(|(_, w)| r[0] > w)
            {
                worst = Some((t as u8, r[0]));
            }
        }
        worst.map(|(t, _)| t)
    }

    /// Features from the accumulated snapshots, then the posterior summaries.
    fn infer(&mut self, seed: u64) -> Result<[Summary; MAX_PARAMS], Rejection> {
        let h = self.model.header();
        let (tones, receivers) = (h.features.tones(), usize::from(h.features.receivers));
        let mut vectors = [[0.0f32; 2]; MAX_TONES * MAX_CHANNELS];
        let vectors = &mut vectors[..tones * receivers];
        self.bank
            .principal_vectors(vectors)
            .ok_or(Rejection::Features)?;
        for (v, c) in vectors.iter_mut().zip(&self.correction) {
            *v = [v[0] * c[0] - v[1] * c[1], v[0] * c[1] + v[1] * c[0]];
        }
        let y = &mut self.features[..self.model.y_dim()];
        h.features
            .kind
            .compute(vectors, tones, receivers, y)
            .map_err(|_| Rejection::Features)?;
        let model = self.model;
        sample_summaries(
            model,
            y,
            &mut self.context,
            &mut self.scratch,
            seed,
            self.config.samples,
        )
    }
}

/// The condition network once, then `samples` posterior draws summarized per parameter —
/// `vina_core::sampling`, the loop `vina invert --engine core` runs on the host.
pub fn sample_summaries(
    model: &Model<'_>,
    y: &[f32],
    context: &mut [f32],
    scratch: &mut Scratch,
    seed: u64,
    samples: u32,
) -> Result<[Summary; MAX_PARAMS], Rejection> {
    model
        .prepare(y, context, scratch)
        .map_err(|_| Rejection::Model)?;
    let mut summaries = [Summary::new(); MAX_PARAMS];
    sampling::summarize(model, context, scratch, seed, samples, &mut summaries)
        .map_err(|_| Rejection::Model)?;
    Ok(summaries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acoustics::tone_signal;
    use crate::rng::Rng;
    use crate::spec::{Precision, RandomArch};
    use num_complex::Complex32;
    use source::SampleStatus;
    extern crate std;
    use std::vec::Vec;

    /// A 5-channel source playing the model's tones with receiver vectors `p` (played as
    /// Re{p·e^{+iωt}}, the physical time convention), a source phase that changes every frame, noise, and 24-bit
    /// quantization with clipping.
    struct Tones {
        p: Vec<[f32; 2]>,
        tones: Vec<f32>,
        gain: f32,
        n: u64,
        rng: Rng,
        phase: Vec<f32>,
        /// A dead channel and the code it is stuck at.
        dead: Option<(usize, i32)>,
    }

    impl SampleSource for Tones {
        type Error = ();
        fn channels(&self) -> usize {
            5
        }
        fn sample_rate_hz(&self) -> f32 {
            1000.0
        }
        fn full_scale(&self) -> i32 {
            1 << 23
        }
        fn read(&mut self, out: &mut [i32]) -> Result<SampleStatus, ()> {
            if self.n.is_multiple_of(1000) {
                self.phase = self
                    .tones
                    .iter()
                    .map(|_| core::f32::consts::TAU * self.rng.uniform_f32())
                    .collect();
            }
            let t = self.n as f32 / 1000.0;
            self.n += 1;
            let mut clipped = false;
            for (ch, o) in out.iter_mut().enumerate() {
                let mut v = 0.0;
                for (k, f) in self.tones.iter().enumerate() {
                    let [re, im] = self.p[k * 5 + ch];
                    let arg = core::f32::consts::TAU * f * t + self.phase[k];
                    v += tone_signal(Complex32::new(re, im), arg);
                }
                v = self.gain * (v + 0.01 * self.rng.normal_f32());
                let code = libm::roundf(v * 8_388_608.0).clamp(-8_388_608.0, 8_388_607.0) as i32;
                clipped |= code == 8_388_607 || code == -8_388_608;
                *o = match self.dead {
                    Some((c, stuck)) if c == ch => stuck,
                    _ => code,
                };
            }
            Ok(SampleStatus {
                clipped,
                dropped: 0,
            })
        }
    }

    fn setup(gain: f32) -> (Vec<u8>, Tones) {
        let bytes = RandomArch::default_cinn()
            .build(5)
            .encode(Precision::F32)
            .unwrap();
        let tones: Vec<f32> = Model::from_bytes(&bytes)
            .unwrap()
            .header()
            .features
            .tones_hz
            .iter()
            .collect();
        let mut rng = Rng::new(11);
        let p = (0..tones.len() * 5)
            .map(|_| [0.05 * rng.normal_f32(), 0.05 * rng.normal_f32()])
            .collect();
        let source = Tones {
            p,
            tones,
            gain,
            n: 0,
            rng,
            phase: Vec::new(),
            dead: None,
        };
        (bytes, source)
    }

    fn config() -> PipelineConfig {
        PipelineConfig {
            frame_len: 1000,
            snapshots: 6,
            samples: 300,
            ..PipelineConfig::default()
        }
    }

    #[test]
    fn window_to_report_matches_direct_inference_on_its_features() {
        let (bytes, mut source) = setup(1.0);
        let model = Model::from_bytes(&bytes).unwrap();
        let mut pipe = Pipeline::new(&model, 5, 1000.0, config()).unwrap();
        let report = pipe.run(&mut source, 77).unwrap();
        assert_eq!(report.status, Status::Posterior);
        assert_eq!(
            (report.sequence, report.samples, report.parameters.len()),
            (1, 300, 2)
        );
        // features: the relative transfer function of the played receiver vectors
        let kind = FeatureKind::RelativeTransferFunction;
        let mut expected = [0.0f32; 63];
        kind.compute(&source.p, 7, 5, &mut expected).unwrap();
        for (a, b) in pipe.last_features().iter().zip(&expected) {
            assert!((a - b).abs() < 0.01, "pipeline feature {a} vs true {b}");
        }
        // the summary is exactly the host engine's loop on the same features and seed
        let mut ctx = [0.0f32; MAX_CONTEXT];
        let direct = sample_summaries(
            &model,
            pipe.last_features(),
            &mut ctx,
            &mut Scratch::new(),
            77,
            300,
        )
        .unwrap();
        for (r, d) in report.parameters.iter().zip(&direct) {
            assert_eq!(*r, d.values());
        }
    }

    #[test]
    fn bad_windows_are_rejected_not_inferred() {
        let (bytes, mut loud) = setup(200.0);
        let model = Model::from_bytes(&bytes).unwrap();
        let mut pipe = Pipeline::new(&model, 5, 1000.0, config()).unwrap();
        let r = pipe.run(&mut loud, 1).unwrap();
        assert!(
            matches!(r.status, Status::Rejected(Rejection::Clipped { .. })),
            "{:?}",
            r.status
        );
        assert!(r.parameters.is_empty() && r.clipped_samples > 0);

        // one dead receiver (silent, or stuck at an offset): named, not inferred
        for (channel, stuck) in [(2usize, 0i32), (4, 1234)] {
            let (_, mut tones) = setup(1.0);
            tones.dead = Some((channel, stuck));
            let r = pipe.run(&mut tones, 1).unwrap();
            assert_eq!(
                r.status,
                Status::Rejected(Rejection::DeadChannel {
                    channel: channel as u8
                })
            );
            assert!(r.parameters.is_empty());
        }

        let (_, mut silent) = setup(0.0);
        let r = pipe.run(&mut silent, 1).unwrap();
        assert_eq!(r.status, Status::Rejected(Rejection::Features));
        assert_eq!(r.sequence, 4);

        assert_eq!(
            Pipeline::new(&model, 4, 1000.0, config()).err(),
            Some(SetupError::Channels {
                model: 5,
                source: 4
            })
        );
    }

    #[test]
    fn built_in_place_equals_new_and_idle_rejects() {
        let (bytes, mut source) = setup(1.0);
        let model = Model::from_bytes(&bytes).unwrap();
        let mut idle = Pipeline::unconfigured(&model, config());
        let r = idle.run(&mut source, 5).unwrap();
        assert_eq!(r.status, Status::Rejected(Rejection::Features));
        assert_eq!(
            idle.configure(4, 1000.0),
            Err(SetupError::Channels {
                model: 5,
                source: 4
            })
        );

        let (_, mut a) = setup(1.0);
        let (_, mut b) = setup(1.0);
        let mut in_place = Pipeline::unconfigured(&model, config());
        in_place.configure(5, 1000.0).unwrap();
        let mut new = Pipeline::new(&model, 5, 1000.0, config()).unwrap();
        assert_eq!(in_place.run(&mut a, 9), new.run(&mut b, 9));
    }
}

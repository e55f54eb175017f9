//! `vina synth`: a multi-channel hydrophone recording of the scenario's tones at a given
//! truth, in the firmware's replay format (`vina_core::recording`) or as a 24-bit PCM WAV
//! file (`--wav`, or an `--out` ending in `.wav`) for `vina replay --wav`.
//!
//! Channel r carries g·Σ_f Re{a_f·P_f,r·e^{+iω_f t}} + noise: P from the forward model, in
//! the physical time convention (`vina_core::acoustics::tone_signal`), a_f = e^{iφ_f} an unknown source phase per tone, white
//! Gaussian noise set so that, in a DFT frame of `frame_len` samples, the tones' mean
//! per-receiver power over the noise power is the SNR (as defined in docs/architecture.md,
//! "Scenarios, noise and features", averaged over tones), then 24-bit quantization; a
//! `level` above 1 drives the ADC into clipping.

use std::path::Path;

use num_complex::Complex64;
use vina_core::acoustics::tone_signal;
use vina_core::likelihood::noise_variance;
use vina_core::recording::Recording;
use vina_core::rng::Rng;

use crate::error::refuse;
use crate::scenario::Scenario;

/// Full-scale code of the simulated 24-bit converter.
pub const FULL_SCALE: i32 = 1 << 23;

/// Highest sample rate, Hz (`--sample-rate`).
pub const MAX_SAMPLE_RATE_HZ: f64 = 1e6;
/// Most codes (samples × channels) in one recording: 1 GiB of `i32` codes, a few GiB at
/// the peak of encoding the file (`Recording::encode` copies them twice).
pub const MAX_CODES: u64 = 1 << 28;
/// Longest DFT frame (`--frame-len`), samples.
pub const MAX_FRAME_LEN: usize = 1 << 24;

/// Refuse settings out of range before any work; returns the samples per channel.
pub fn check_options(opt: &SynthOptions, channels: usize) -> anyhow::Result<u64> {
    let rate = opt.sample_rate_hz;
    if !(rate > 0.0 && rate <= MAX_SAMPLE_RATE_HZ) {
        return Err(refuse(format!(
            "--sample-rate: must be above 0 and at most {MAX_SAMPLE_RATE_HZ} Hz, found {rate}"
        )));
    }
    if !(opt.seconds > 0.0 && opt.seconds.is_finite()) {
        return Err(refuse(format!(
            "--seconds: must be positive, found {}",
            opt.seconds
        )));
    }
    let samples = (opt.seconds * rate).round();
    if samples < 1.0 {
        return Err(refuse(format!(
            "--seconds: {} s at {rate} Hz is no sample; give at least {} s",
            opt.seconds,
            1.0 / rate
        )));
    }
    let channels = channels.max(1) as f64;
    if samples * channels > MAX_CODES as f64 {
        return Err(refuse(format!(
            "--seconds × --sample-rate × channels: {} s × {rate} Hz × {channels} = {} samples, \
             more than the maximum of {MAX_CODES} (2^28, 1 GiB); at {rate} Hz at most {:.0} s",
            opt.seconds,
            samples * channels,
            MAX_CODES as f64 / channels / rate
        )));
    }
    if !(1..=MAX_FRAME_LEN).contains(&opt.frame_len) {
        return Err(refuse(format!(
            "--frame-len: must be 1 to {MAX_FRAME_LEN} samples, found {}",
            opt.frame_len
        )));
    }
    if let Some(snr) = opt.snr_db
        && !snr.is_finite()
    {
        return Err(refuse(format!(
            "--snr: must be a finite number of dB, found {snr}"
        )));
    }
    if !(opt.level > 0.0 && opt.level.is_finite()) {
        return Err(refuse(format!(
            "--level: must be positive, found {}",
            opt.level
        )));
    }
    Ok(samples as u64)
}

/// Recording settings.
#[derive(Clone, Debug)]
pub struct SynthOptions {
    /// Duration, s.
    pub seconds: f64,
    /// Sample rate, Hz.
    pub sample_rate_hz: f64,
    /// SNR per tone in a DFT frame, dB (`None`: the scenario's).
    pub snr_db: Option<f64>,
    /// DFT frame length the SNR refers to (the firmware's).
    pub frame_len: usize,
    /// Peak of the noiseless signal as a fraction of full scale (> 1 clips).
    pub level: f64,
    /// Seed of the source phases and the noise.
    pub seed: u64,
    /// Write a WAV file instead of a `.vrec`.
    pub wav: bool,
    /// A tide on the water depth: `depth(t) = truth + amplitude·sin(2πt/period)`.
    pub tide: Option<Tide>,
    /// Each channel's response `gain·e^{iφ}` (a miscalibrated hydrophone); empty: ideal.
    pub channel_response: Vec<Complex64>,
    /// Every tone received this many Hz off its nominal frequency (Doppler from a moving
    /// source, or a drifting projector); 0: on frequency.
    pub tone_offset_hz: f64,
    /// Interfering lines (a ship's machinery, mains hum): each its own frequency, on every
    /// channel with its own phase, never phase-locked to the source.
    pub interferers: Vec<Interferer>,
    /// Impulsive noise (snapping shrimp, cable strum), or none.
    pub clicks: Option<Clicks>,
}

/// An interfering line: `hz`, its amplitude on every channel `db` above the tones' mean
/// received amplitude.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interferer {
    /// Frequency, Hz.
    pub hz: f64,
    /// Level re the tones' mean received amplitude, dB.
    pub db: f64,
}

/// Impulsive noise: on each channel independently, clicks at Poisson times (`per_s` a
/// second), each one sample of random sign whose peak is `db` re the noise's standard
/// deviation, spread ±10 dB (uniform in dB) around it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clicks {
    /// Mean clicks per second on each channel.
    pub per_s: f64,
    /// Median peak re the noise's standard deviation, dB.
    pub db: f64,
}

/// `--channel-gain` and `--channel-phase-deg` as each channel's response `g·e^{iφ}`
/// (either may be absent: gain 1, phase 0; when both are given, one value per channel).
pub fn channel_response(
    gain: Option<&[f64]>,
    phase_deg: Option<&[f64]>,
) -> anyhow::Result<Vec<Complex64>> {
    let n = gain
        .map_or(0, <[f64]>::len)
        .max(phase_deg.map_or(0, <[f64]>::len));
    if let (Some(g), Some(p)) = (gain, phase_deg)
        && g.len() != p.len()
    {
        return Err(refuse(format!(
            "--channel-gain has {} values, --channel-phase-deg {}: one per receiver each",
            g.len(),
            p.len()
        )));
    }
    (0..n)
        .map(|i| {
            let g = gain.map_or(1.0, |g| g[i]);
            let p = phase_deg.map_or(0.0, |p| p[i]);
            if !(g.is_finite() && g > 0.0 && p.is_finite()) {
                return Err(refuse(format!(
                    "--channel-gain/--channel-phase-deg: channel {i}: gain {g} must be finite and positive, phase {p} finite"
                )));
            }
            Ok(Complex64::from_polar(g, p.to_radians()))
        })
        .collect()
}

/// A sinusoidal tide on the water depth (a deployment's slow change of the environment).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tide {
    /// Amplitude, m.
    pub amplitude_m: f64,
    /// Period, s (the principal lunar tide M2: 44,714 s).
    pub period_s: f64,
}

impl Tide {
    /// The M2 tide's period, s.
    pub const M2_PERIOD_S: f64 = 44_714.0;

    /// The depth offset at `t` seconds.
    pub fn offset(&self, t: f64) -> f64 {
        self.amplitude_m * (std::f64::consts::TAU * t / self.period_s).sin()
    }
}

/// The default duration: one analysis window of the buoy's pipeline
/// (`frame_len × snapshots` samples at `sample_rate_hz`) plus one frame, so that the
/// recording gives at least one report.
pub fn default_seconds(sample_rate_hz: f64, frame_len: usize) -> f64 {
    let snapshots = vina_core::pipeline::PipelineConfig::default().snapshots as usize;
    // (a zero frame length is refused by its own check, not through the duration)
    ((snapshots + 1) * frame_len.max(1)) as f64 / sample_rate_hz
}

/// The ADC codes, interleaved by channel, and the clean pressure used.
pub fn synthesize(
    scn: &Scenario,
    truth: &[f64],
    opt: &SynthOptions,
) -> anyhow::Result<(Vec<i32>, Vec<Complex64>)> {
    let r = scn.receiver_depths_m.len();
    let frames = usize::try_from(check_options(opt, r)?)?;
    let nyquist = opt.sample_rate_hz / 2.0;
    if let Some(f) = scn.tones_hz.iter().find(|f| **f >= nyquist) {
        return Err(refuse(format!(
            "--sample-rate: tone {f} Hz needs a sample rate above {} Hz",
            2.0 * f
        )));
    }
    let pressure_at = |truth: &[f64]| -> anyhow::Result<Vec<Complex64>> {
        scn.environment(truth)?
            .pressure(&scn.tones_hz, &scn.receiver_depths_m)
            .map_err(|e| refuse(format!("forward model at the truth: {e}")))
    };
    if !opt.tone_offset_hz.is_finite()
        || scn
            .tones_hz
            .iter()
            .any(|f| !(f + opt.tone_offset_hz > 0.0 && f + opt.tone_offset_hz < nyquist))
    {
        return Err(refuse(format!(
            "--tone-offset-hz {}: every offset tone must stay between 0 and {nyquist} Hz",
            opt.tone_offset_hz
        )));
    }
    if !opt.channel_response.is_empty() && opt.channel_response.len() != r {
        return Err(refuse(format!(
            "--channel-gain, --channel-phase-deg: {} values for {r} receivers",
            opt.channel_response.len()
        )));
    }
    if let Some(i) = opt
        .interferers
        .iter()
        .find(|i| !(i.hz > 0.0 && i.hz < nyquist && i.db.is_finite()))
    {
        return Err(refuse(format!(
            "--interferer-hz {} / --interferer-db {}: the frequency must lie between 0 and {nyquist} Hz, the level be finite",
            i.hz, i.db
        )));
    }
    if let Some(c) = opt.clicks
        && !(c.per_s >= 0.0 && c.per_s < opt.sample_rate_hz && c.db.is_finite())
    {
        return Err(refuse(format!(
            "--clicks-per-s {} / --click-db {}: the rate must be at least 0 and below the sample rate, the level finite",
            c.per_s, c.db
        )));
    }
    let p = pressure_at(truth)?;
    // with a tide, the field is recomputed every DFT frame at the depth of its middle
    let depth = scn.unknowns().iter().position(|n| *n == "water_depth_m");
    let tide = match (opt.tide, depth) {
        (None, _) => None,
        (Some(t), Some(i))
            if t.amplitude_m.is_finite() && t.period_s > 0.0 && t.period_s.is_finite() =>
        {
            Some((t, i))
        }
        (Some(_), Some(_)) => {
            return Err(refuse(
                "--tide-m, --tide-period-s: a finite amplitude and a positive period",
            ));
        }
        (Some(_), None) => {
            return Err(refuse(format!(
                "--tide-m: water_depth_m is not an unknown of scenario {}",
                scn.name
            )));
        }
    };
    let mut rng = Rng::new(opt.seed);
    let phases: Vec<Complex64> = scn
        .tones_hz
        .iter()
        .map(|_| Complex64::from_polar(1.0, std::f64::consts::TAU * rng.uniform_f64()))
        .collect();
    // gain: the noiseless peak cannot exceed g·Σ_f max_r |P_f,r|
    let bound: f64 = p
        .chunks(r)
        .map(|t| t.iter().map(|c| c.norm()).fold(0.0, f64::max))
        .sum();
    let gain = opt.level / bound;
    // noise: DFT of a tone of amplitude A is A·N/2, of white noise of variance s² is N·s²,
    // so the noise model's σ² (over every tone and receiver) in a frame is s²·4/N
    let scaled: Vec<[f64; 2]> = p.iter().map(|c| [gain * c.re, gain * c.im]).collect();
    let snr_db = opt.snr_db.unwrap_or(scn.snr_db);
    let sigma2 = noise_variance(&scaled, snr_db)
        .ok_or_else(|| refuse(format!("--snr: no finite noise level at {snr_db} dB")))?;
    let noise_std = (sigma2 * opt.frame_len as f64 / 4.0).sqrt();
    let omegas: Vec<f64> = scn
        .tones_hz
        .iter()
        .map(|f| std::f64::consts::TAU * (f + opt.tone_offset_hz) / opt.sample_rate_hz)
        .collect();
    // impairments from their own stream: the same seed gives the same tones and noise
    // with or without them
    let mut impair = Rng::new(opt.seed ^ 0x1A3F_0C1E_D5E7_B00B);
    let mean_amplitude = gain * p.iter().map(|c| c.norm()).sum::<f64>() / p.len().max(1) as f64;
    let lines: Vec<(f64, Vec<Complex64>)> = opt
        .interferers
        .iter()
        .map(|i| {
            let a = mean_amplitude * 10f64.powf(i.db / 20.0);
            let per_channel = (0..r)
                .map(|_| Complex64::from_polar(a, std::f64::consts::TAU * impair.uniform_f64()))
                .collect();
            (
                std::f64::consts::TAU * i.hz / opt.sample_rate_hz,
                per_channel,
            )
        })
        .collect();
    let click_probability = opt.clicks.map_or(0.0, |c| c.per_s / opt.sample_rate_hz);
    let click_db = opt.clicks.map_or(0.0, |c| c.db);
    let fs = f64::from(FULL_SCALE);
    let mut codes = Vec::with_capacity(frames * r);
    let mut p_now = p.clone();
    for k in 0..frames {
        if let Some((t, i)) = tide
            && k % opt.frame_len == 0
        {
            let mid = (k + opt.frame_len / 2) as f64 / opt.sample_rate_hz;
            let mut at = truth.to_vec();
            at[i] += t.offset(mid);
            p_now = pressure_at(&at)?;
        }
        for ch in 0..r {
            let mut v = 0.0;
            let response = opt
                .channel_response
                .get(ch)
                .copied()
                .unwrap_or(Complex64::new(1.0, 0.0));
            for (t, w) in omegas.iter().enumerate() {
                v += gain * tone_signal(response * phases[t] * p_now[t * r + ch], w * k as f64);
            }
            v += noise_std * rng.normal_f64();
            for (w, per_channel) in &lines {
                v += tone_signal(per_channel[ch], w * k as f64);
            }
            if click_probability > 0.0 && impair.uniform_f64() < click_probability {
                let db = click_db + 20.0 * impair.uniform_f64() - 10.0;
                let sign = if impair.uniform_f64() < 0.5 {
                    -1.0
                } else {
                    1.0
                };
                v += sign * noise_std * 10f64.powf(db / 20.0);
            }
            codes.push((v * fs).round().clamp(-fs, fs - 1.0) as i32);
        }
    }
    Ok((codes, p))
}

/// `OUT.truth.csv` beside a tidal recording: the unknowns' true values every 10 s
/// (`time_s` then one column per unknown), for `vina replay --truth` and its plot.
fn write_truth_track(
    out: &Path,
    scn: &Scenario,
    truth: &[f64],
    tide: Tide,
    seconds: f64,
) -> anyhow::Result<()> {
    let names = scn.unknowns();
    let depth = names.iter().position(|n| *n == "water_depth_m");
    let mut text = format!("time_s,{}\n", names.join(","));
    let mut t = 0.0;
    while t <= seconds {
        let row: Vec<String> = truth
            .iter()
            .enumerate()
            .map(|(i, v)| {
                (v + if Some(i) == depth {
                    tide.offset(t)
                } else {
                    0.0
                })
                .to_string()
            })
            .collect();
        text.push_str(&format!("{t},{}\n", row.join(",")));
        t += 10.0;
    }
    let path = truth_track_path(out);
    std::fs::write(&path, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// Where `vina synth` writes the truth track of recording `out`.
pub fn truth_track_path(out: &Path) -> std::path::PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".truth.csv");
    s.into()
}

/// The 24-bit codes as a PCM WAV file (channels interleaved); returns its size.
fn write_wav(out: &Path, channels: u16, sample_rate_hz: f64, codes: &[i32]) -> anyhow::Result<u64> {
    let rate = sample_rate_hz.round();
    if (rate - sample_rate_hz).abs() > 1e-9 || rate > f64::from(u32::MAX) {
        return Err(refuse(format!(
            "--wav: a WAV file's sample rate is a whole number of Hz, found {sample_rate_hz}"
        )));
    }
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate as u32,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let fail = |e: hound::Error| anyhow::anyhow!("cannot write {}: {e}", out.display());
    let mut w = hound::WavWriter::create(out, spec).map_err(fail)?;
    for &c in codes {
        w.write_sample(c).map_err(fail)?;
    }
    w.finalize().map_err(fail)?;
    Ok(std::fs::metadata(out).map(|m| m.len()).unwrap_or(0))
}

/// `vina synth`.
pub fn run(scenario: &Path, truth: &str, out: &Path, opt: SynthOptions) -> anyhow::Result<()> {
    let scn = Scenario::load(scenario)?;
    check_options(&opt, scn.receiver_depths_m.len())?;
    let truth = scn.parse_truth(truth)?;
    let (codes, _) = synthesize(&scn, &truth, &opt)?;
    if let Some(t) = opt.tide {
        write_truth_track(out, &scn, &truth, t, opt.seconds)?;
    }
    let channels =
        u16::try_from(scn.receiver_depths_m.len()).map_err(|_| refuse("too many receivers"))?;
    let wav = opt.wav
        || out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
    let bytes = if wav {
        write_wav(out, channels, opt.sample_rate_hz, &codes)?
    } else {
        let bytes = Recording::encode(channels, opt.sample_rate_hz as f32, FULL_SCALE, &codes);
        std::fs::write(out, &bytes)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
        bytes.len() as u64
    };
    let clipped = codes
        .iter()
        .filter(|&&c| c == FULL_SCALE - 1 || c == -FULL_SCALE)
        .count();
    eprintln!(
        "wrote {} s × {channels} channels at {} Hz ({} bytes, {clipped} clipped codes) to {}",
        opt.seconds,
        opt.sample_rate_hz,
        bytes,
        out.display()
    );
    Ok(())
}

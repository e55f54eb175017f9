//! `vina synth`: a multi-channel hydrophone recording of the scenario's tones at a given
//! truth, in the firmware's replay format (`vina_core::recording`).
//!
//! Channel r carries g·Σ_f Re{a_f·P_f,r·e^{+iω_f t}} + noise: P from the forward model, in
//! the physical time convention (`vina_core::acoustics::tone_signal`), a_f = e^{iφ_f} an unknown source phase per tone, white
//! Gaussian noise set so that, in a DFT frame of `frame_len` samples, the tones' mean
//! per-receiver power over the noise power is the SNR (design §4's definition, averaged
//! over tones), then 24-bit quantization; a `level` above 1 drives the ADC into clipping.

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

/// Recording settings.
#[derive(Clone, Copy, Debug)]
pub struct SynthOptions {
    /// Duration, s.
    pub seconds: f64,
    /// Sample rate, Hz.
    pub sample_rate_hz: f64,
    /// SNR per tone in a DFT frame, dB (NaN: the scenario's).
    pub snr_db: f64,
    /// DFT frame length the SNR refers to (the firmware's).
    pub frame_len: usize,
    /// Peak of the noiseless signal as a fraction of full scale (> 1 clips).
    pub level: f64,
    /// Seed of the source phases and the noise.
    pub seed: u64,
}

/// The ADC codes, interleaved by channel, and the clean pressure used.
pub fn synthesize(
    scn: &Scenario,
    truth: &[f64],
    opt: &SynthOptions,
) -> anyhow::Result<(Vec<i32>, Vec<Complex64>)> {
    let nyquist = opt.sample_rate_hz / 2.0;
    if let Some(f) = scn.tones_hz.iter().find(|f| **f >= nyquist) {
        return Err(refuse(format!(
            "--sample-rate: tone {f} Hz needs a sample rate above {} Hz",
            2.0 * f
        )));
    }
    if !(opt.seconds > 0.0 && opt.seconds.is_finite()) {
        return Err(refuse(format!(
            "--seconds: must be positive, found {}",
            opt.seconds
        )));
    }
    if !(opt.level > 0.0 && opt.level.is_finite()) {
        return Err(refuse(format!(
            "--level: must be positive, found {}",
            opt.level
        )));
    }
    let env = scn.environment(truth)?;
    let p = env
        .pressure(&scn.tones_hz, &scn.receiver_depths_m)
        .map_err(|e| refuse(format!("forward model at the truth: {e}")))?;
    let r = scn.receiver_depths_m.len();
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
    let sigma2 = noise_variance(&scaled, opt.snr_db)
        .ok_or_else(|| refuse(format!("--snr: no finite noise level at {} dB", opt.snr_db)))?;
    let noise_std = (sigma2 * opt.frame_len as f64 / 4.0).sqrt();
    let frames = (opt.seconds * opt.sample_rate_hz).round() as usize;
    let omegas: Vec<f64> = scn
        .tones_hz
        .iter()
        .map(|f| std::f64::consts::TAU * f / opt.sample_rate_hz)
        .collect();
    let fs = f64::from(FULL_SCALE);
    let mut codes = Vec::with_capacity(frames * r);
    for k in 0..frames {
        for ch in 0..r {
            let mut v = 0.0;
            for (t, w) in omegas.iter().enumerate() {
                v += gain * tone_signal(phases[t] * p[t * r + ch], w * k as f64);
            }
            v += noise_std * rng.normal_f64();
            codes.push((v * fs).round().clamp(-fs, fs - 1.0) as i32);
        }
    }
    Ok((codes, p))
}

/// `vina synth`.
pub fn run(scenario: &Path, truth: &str, out: &Path, mut opt: SynthOptions) -> anyhow::Result<()> {
    let scn = Scenario::load(scenario)?;
    if opt.snr_db.is_nan() {
        opt.snr_db = scn.snr_db;
    }
    let truth = scn.parse_truth(truth)?;
    let (codes, _) = synthesize(&scn, &truth, &opt)?;
    let channels =
        u16::try_from(scn.receiver_depths_m.len()).map_err(|_| refuse("too many receivers"))?;
    let bytes = Recording::encode(channels, opt.sample_rate_hz as f32, FULL_SCALE, &codes);
    std::fs::write(out, &bytes)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", out.display()))?;
    let clipped = codes
        .iter()
        .filter(|&&c| c == FULL_SCALE - 1 || c == -FULL_SCALE)
        .count();
    eprintln!(
        "wrote {} s × {channels} channels at {} Hz ({} bytes, {clipped} clipped codes) to {}",
        opt.seconds,
        opt.sample_rate_hz,
        bytes.len(),
        out.display()
    );
    Ok(())
}

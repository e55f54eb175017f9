//! From a clean pressure field to what the network sees: the noise model's complex
//! Gaussian noise (`vina_core::likelihood`) and the features, computed by `vina-core`'s function (the same
//! code the firmware runs).

use num_complex::Complex64;
use vina_core::features::FeatureKind;
use vina_core::likelihood::noise_variance;
use vina_core::rng::Rng;

use crate::error::refuse;

/// Add complex Gaussian noise per tone, σ_f² from the noise model
/// (`vina_core::likelihood::noise_variance`: mean receiver power over 10^(SNR/10); 0 for a
/// silent tone), real and imaginary parts each N(0, σ_f²/2). `pressure` is tone-major.
///
/// Returns the standard-normal draws `n` (tone-major, `[re, im]` per receiver) so that
/// the noisy field is `p + σ_f/√2 · n`: the paper INN's x carries them (noise in x makes
/// y a deterministic function of x, docs/architecture.md "noise in x").
pub fn add_noise(
    pressure: &mut [Complex64],
    receivers: usize,
    snr_db: f64,
    rng: &mut Rng,
) -> Vec<f64> {
    let mut draws = Vec::with_capacity(2 * pressure.len());
    for tone in pressure.chunks_mut(receivers.max(1)) {
        let pairs: Vec<[f64; 2]> = tone.iter().map(|p| [p.re, p.im]).collect();
        let sigma = (noise_variance(&pairs, snr_db).unwrap_or(0.0) / 2.0).sqrt();
        for p in tone {
            let (re, im) = (rng.normal_f64(), rng.normal_f64());
            draws.extend([re, im]);
            *p += Complex64::new(sigma * re, sigma * im);
        }
    }
    draws
}

/// Features of a tone-major pressure vector, through `vina-core`.
pub fn features(
    kind: FeatureKind,
    pressure: &[Complex64],
    tones: usize,
    receivers: usize,
) -> anyhow::Result<Vec<f32>> {
    let p32: Vec<[f32; 2]> = pressure
        .iter()
        .map(|p| [p.re as f32, p.im as f32])
        .collect();
    let mut y = vec![0.0f32; kind.len(tones, receivers)];
    kind.compute(&p32, tones, receivers, &mut y)
        .map_err(|e| refuse(format!("features: {e}")))?;
    Ok(y)
}

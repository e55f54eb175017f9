//! Impulsive noise (snapping shrimp, cable strum, a knock on the mooring): clicks far above
//! the background, short, broadband, each adding a random complex value to every tone's
//! DFT of its frame. Cut out (blanked) per channel before the tone bank, the standard
//! remedy for such noise (Chitre et al., "Optimal and near-optimal signal detection in
//! snapping shrimp dominated ambient noise", IEEE JOE 31(2), 2006): the tone bank then
//! normalizes each channel by the window weights it kept, so a channel that lost a few
//! samples measures its tones unbiased (docs/architecture.md, "Field recordings").
//!
//! A sample is impulsive when it exceeds [`THRESHOLD`] times the channel's running mean
//! absolute value. The mean starts as the plain mean of the channel's first
//! [`LEVEL_SAMPLES`] samples from its first non-zero one (nothing is blanked before: a
//! recording that starts in digital silence must not leave a zero level that every later
//! sample exceeds), then follows each sample clamped to
//! [`LEVEL_CLAMP`] times itself: clicks barely move it, and a real rise of the level (the
//! source switching on) is followed within a few hundred samples rather than blanked
//! forever.

use super::tone_bank::MAX_CHANNELS;

/// Impulsive: more than this many times the running mean |x|. Gaussian noise exceeds it
/// with probability ~1e-15 (10 · 0.8 σ = 8 σ), a sum of tones never (its peak is at most
/// √(2K)·rms ≈ 4.6 mean |x| for K = 7 tones); a click 30 dB above the noise does.
pub const THRESHOLD: f32 = 10.0;
/// Each sample moves the running mean as if it were at most this many times the mean.
const LEVEL_CLAMP: f32 = 3.0;
/// The running mean's memory, samples.
const LEVEL_SAMPLES: u32 = 256;
/// Samples blanked after an impulsive one (the converter's filter rings on).
pub const GUARD_SAMPLES: u8 = 2;

/// Per channel, the running level and the samples left to blank.
#[derive(Clone, Copy, Debug)]
pub struct ImpulseBlanker {
    channels: [Channel; MAX_CHANNELS],
    blanked: [u32; MAX_CHANNELS],
}

#[derive(Clone, Copy, Debug)]
struct Channel {
    level: f32,
    hold: u32,
    /// Samples averaged into `level` since it was last zero.
    seen: u32,
}

impl ImpulseBlanker {
    /// A blanker that has seen nothing.
    pub const fn new() -> Self {
        Self {
            channels: [Channel {
                level: 0.0,
                hold: 0,
                seen: 0,
            }; MAX_CHANNELS],
            blanked: [0; MAX_CHANNELS],
        }
    }

    /// Screen one multi-channel sample: impulsive samples and the [`GUARD_SAMPLES`] after
    /// them are set to zero; returns the blanked channels as bits.
    #[inline(never)]
    pub fn screen(&mut self, sample: &mut [f32]) -> u32 {
        let mut mask = 0;
        // an opaque channel count: over the fixed arrays LLVM unrolls this loop eight
        // times (1–1.6 KB of the buoy's flash instead of 0.3)
        let n = core::hint::black_box(sample.len());
        for c in 0..n {
            let (Some(x), Some(ch), Some(count)) = (
                sample.get_mut(c),
                self.channels.get_mut(c),
                self.blanked.get_mut(c),
            ) else {
                break;
            };
            let a = if x.is_finite() { x.abs() } else { 0.0 };
            let level = ch.level;
            if level == 0.0 {
                ch.seen = 0; // (re)start the warm-up from the first non-zero sample
            }
            let warm = ch.seen >= LEVEL_SAMPLES;
            ch.seen = ch.seen.saturating_add(1);
            // the warm-up's plain mean, then a fixed memory; nothing is impulsive, nor
            // clamped, in the warm-up (selected, not branched: one loop body)
            let memory = ch.seen.min(LEVEL_SAMPLES) as f32;
            let (threshold, clamp) = if warm {
                (THRESHOLD, LEVEL_CLAMP)
            } else {
                (f32::INFINITY, f32::INFINITY)
            };
            if a > threshold * level {
                ch.hold = u32::from(GUARD_SAMPLES) + 1;
            }
            ch.level = level + (a.min(clamp * level) - level) / memory;
            if ch.hold > 0 {
                ch.hold -= 1;
                *x = 0.0;
                *count = count.saturating_add(1);
                mask |= 1 << c;
            }
        }
        mask
    }

    /// Samples blanked per channel since [`ImpulseBlanker::clear_counts`].
    pub fn blanked(&self) -> &[u32; MAX_CHANNELS] {
        &self.blanked
    }

    /// Start counting anew (the levels are kept: they carry over from window to window).
    pub fn clear_counts(&mut self) {
        self.blanked = [0; MAX_CHANNELS];
    }
}

impl Default for ImpulseBlanker {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Gaussian noise with rare large clicks: every click and its guard is blanked, and
    /// nothing else in a million samples; a tenfold rise of the level is followed.
    #[test]
    fn clicks_are_cut_and_noise_is_kept() {
        let mut rng = Rng::new(8);
        let mut b = ImpulseBlanker::new();
        let mut clicks = 0u32;
        let mut wrongly = 0u32;
        let mut guard = 0u8;
        let mut expected_blanked = 0u32;
        for n in 0..1_000_000u32 {
            let click = n > 1000 && rng.uniform_f32() < 0.002;
            let mut x = [rng.normal_f32() + if click { 100.0 } else { 0.0 }];
            clicks += u32::from(click);
            let mask = b.screen(&mut x);
            let expected = click || guard > 0;
            guard = if click {
                GUARD_SAMPLES
            } else {
                guard.saturating_sub(1)
            };
            expected_blanked += u32::from(expected);
            if expected {
                assert_eq!((mask, x[0]), (1, 0.0), "sample {n}");
            } else {
                wrongly += mask;
            }
        }
        assert_eq!(wrongly, 0);
        assert!(clicks > 1500);
        assert_eq!(b.blanked()[0], expected_blanked);
        // the level follows a tenfold rise within a thousand samples
        let mut late = 0;
        for n in 0..5000 {
            let mut x = [10.0 * rng.normal_f32()];
            if b.screen(&mut x) != 0 && n > 1000 {
                late += 1;
            }
        }
        assert_eq!(late, 0);
    }

    /// A recording that starts in digital silence: the level starts at the signal, and
    /// nothing of a clean signal is blanked (a zero level would blank everything).
    #[test]
    fn leading_silence_is_not_a_level() {
        let mut rng = Rng::new(9);
        let mut b = ImpulseBlanker::new();
        for _ in 0..1000 {
            assert_eq!(b.screen(&mut [0.0, 0.0]), 0);
        }
        let mut blanked = 0;
        for _ in 0..100_000 {
            blanked += b.screen(&mut [rng.normal_f32(), 0.0]).count_ones();
        }
        assert_eq!(blanked, 0);
        // and a click is still cut out
        assert_eq!(b.screen(&mut [200.0, 0.0]), 1);
    }
}

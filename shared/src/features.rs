//! Observation features shared by the simulator and the firmware (docs/architecture.md,
//! "Scenarios, noise and features").
//!
//! The simulator and the buoy call these same functions, so training data and deployed
//! inputs cannot drift apart. Pressures arrive as `[re, im]` pairs, tone-major:
//! `pressure[tone · receivers + receiver]`, receivers ordered by depth.

use core::fmt;

use serde::{Deserialize, Serialize};

/// Which features the network sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeatureKind {
    /// Raw complex pressure (as in the VINA paper): `[re, im]` per tone and receiver,
    /// `2·T·R` values. Needs a known source level and phase.
    RawPressure,
    /// Relative transfer function, the buoy's default for an unknown source: each tone's
    /// receiver vector scaled to unit norm and rotated so receiver 1 has zero phase.
    /// Receiver 1's imaginary part is then always 0 and is left out: `T·(2R − 1)` values
    /// ordered `[re₁, re₂, im₂, …, re_R, im_R]` per tone.
    RelativeTransferFunction,
}

/// Why features could not be computed from a pressure vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeatureError {
    /// Input or output length does not match tones × receivers.
    Length {
        /// Values required.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// A pressure value is NaN or infinite.
    NonFinite {
        /// Tone index.
        tone: usize,
        /// Receiver index.
        receiver: usize,
    },
    /// A tone's reference receiver (or the whole vector) is zero, so the relative
    /// transfer function is undefined.
    ZeroReference {
        /// Tone index.
        tone: usize,
    },
}

impl fmt::Display for FeatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Length { expected, found } => {
                write!(
                    f,
                    "feature length mismatch: expected {expected} values, found {found}"
                )
            }
            Self::NonFinite { tone, receiver } => {
                write!(f, "non-finite pressure at tone {tone}, receiver {receiver}")
            }
            Self::ZeroReference { tone } => write!(
                f,
                "zero pressure on the reference receiver at tone {tone}: relative transfer function undefined"
            ),
        }
    }
}

impl core::error::Error for FeatureError {}

impl FeatureKind {
    /// Number of feature values for `tones` tones and `receivers` receivers.
    pub fn len(self, tones: usize, receivers: usize) -> usize {
        match self {
            Self::RawPressure => 2 * tones * receivers,
            Self::RelativeTransferFunction => tones * (2 * receivers).saturating_sub(1),
        }
    }

    /// Compute the features of `pressure` (tone-major `[re, im]`) into `out`.
    pub fn compute(
        self,
        pressure: &[[f32; 2]],
        tones: usize,
        receivers: usize,
        out: &mut [f32],
    ) -> Result<(), FeatureError> {
        let n = tones * receivers;
        if pressure.len() != n || receivers == 0 {
            return Err(FeatureError::Length {
                expected: n,
                found: pressure.len(),
            });
        }
        let expected = self.len(tones, receivers);
        if out.len() != expected {
            return Err(FeatureError::Length {
                expected,
                found: out.len(),
            });
        }
        for (i, p) in pressure.iter().enumerate() {
            if !(p[0].is_finite() && p[1].is_finite()) {
                return Err(FeatureError::NonFinite {
                    tone: i / receivers,
                    receiver: i % receivers,
                });
            }
        }
        match self {
            Self::RawPressure => {
                for (o, p) in out.as_chunks_mut::<2>().0.iter_mut().zip(pressure) {
                    *o = *p;
                }
            }
            Self::RelativeTransferFunction => {
                let per_tone = 2 * receivers - 1;
                let tones_in = pressure.chunks_exact(receivers);
                for (tone, (p, o)) in tones_in.zip(out.chunks_exact_mut(per_tone)).enumerate() {
                    relative_transfer(p, o).ok_or(FeatureError::ZeroReference { tone })?;
                }
            }
        }
        Ok(())
    }
}

/// One tone's relative transfer function; `None` when the reference receiver is zero.
fn relative_transfer(p: &[[f32; 2]], out: &mut [f32]) -> Option<()> {
    let [r_re, r_im] = *p.first()?;
    // Scale by the largest component first so |p|² neither underflows (tiny pressures)
    // nor overflows (raw ADC counts).
    let big = p.iter().fold(0.0f32, |m, c| {
        m.max(libm::fabsf(c[0])).max(libm::fabsf(c[1]))
    });
    if big == 0.0 {
        return None;
    }
    let inv_big = 1.0 / big;
    // Below ~2.9e-39 (subnormal) 1/big overflows to infinity and the features would be
    // NaN; divide instead there (rare: the usual path keeps its multiply, bit for bit).
    let scale = |v: f32| {
        if inv_big.is_finite() {
            v * inv_big
        } else {
            v / big
        }
    };
    let norm = libm::sqrtf(
        p.iter()
            .map(|c| scale(c[0]) * scale(c[0]) + scale(c[1]) * scale(c[1]))
            .sum::<f32>(),
    );
    let (r_re, r_im) = (scale(r_re), scale(r_im));
    let ref_abs = libm::hypotf(r_re, r_im);
    if ref_abs == 0.0 || norm == 0.0 {
        return None;
    }
    // Multiply by conj(p₁)/|p₁| and divide by the norm.
    let (u_re, u_im) = (r_re / ref_abs / norm, -r_im / ref_abs / norm);
    *out.first_mut()? = ref_abs / norm;
    for (c, o) in p.iter().skip(1).zip(out[1..].as_chunks_mut::<2>().0) {
        let (c_re, c_im) = (scale(c[0]), scale(c[1]));
        *o = [c_re * u_re - c_im * u_im, c_re * u_im + c_im * u_re];
    }
    Some(())
}

/// Single-bin DFT `X(f) = Σₙ x[n]·e^{−i·2π·f·n/fs}` by the Goertzel recurrence, for any
/// (non-integer-bin) frequency, with the phase referred to the frame's first sample.
///
/// Streaming: [`Goertzel::push`] each sample as it arrives, [`Goertzel::finish`] at the end
/// of the frame; O(1) memory, one multiply-add pair per sample.
#[derive(Clone, Copy, Debug)]
pub struct Goertzel {
    /// Tone frequency in cycles per sample (f64: the phase of sample N must be exact).
    cycles_per_sample: f64,
    coeff: f32,
    sin_w: f32,
    cos_w: f32,
    s1: f32,
    s2: f32,
    n: u32,
}

impl Goertzel {
    /// A detector of nothing, every field zero, for the unused slots of fixed-size banks
    /// (never read): filling them is then a memset rather than a constructor call per
    /// slot, which cost the buoy 8.5 KB of flash.
    pub const IDLE: Self = Self {
        cycles_per_sample: 0.0,
        coeff: 0.0,
        sin_w: 0.0,
        cos_w: 0.0,
        s1: 0.0,
        s2: 0.0,
        n: 0,
    };

    /// A detector for `freq_hz` at sampling rate `sample_rate_hz`.
    pub fn new(freq_hz: f32, sample_rate_hz: f32) -> Self {
        let cycles_per_sample = f64::from(freq_hz) / f64::from(sample_rate_hz);
        // Coefficients in f64 then rounded once: a rounded 2·cos ω detunes the resonator
        // by δω ≈ ε/sin ω per sample, which adds up over a long frame.
        let omega = core::f64::consts::TAU * cycles_per_sample;
        let (sin_w, cos_w) = libm::sincos(omega);
        Self {
            cycles_per_sample,
            coeff: (2.0 * cos_w) as f32,
            sin_w: sin_w as f32,
            cos_w: cos_w as f32,
            s1: 0.0,
            s2: 0.0,
            n: 0,
        }
    }

    /// Feed one sample.
    #[inline]
    pub fn push(&mut self, x: f32) {
        let s0 = x + self.coeff * self.s1 - self.s2;
        self.s2 = self.s1;
        self.s1 = s0;
        self.n = self.n.saturating_add(1);
    }

    /// The tone's model amplitude P = 2·X/Σw `[re, im]` of the (windowed) samples pushed
    /// so far, whose window weights sum to `window_sum` (the count for an unwindowed
    /// frame), in the forward model's time convention
    /// ([`crate::acoustics::amplitude_from_dft`]); resets the detector.
    pub fn finish_amplitude(&mut self, window_sum: f32) -> [f32; 2] {
        let [re, im] = self.finish();
        let p = crate::acoustics::amplitude_from_dft(num_complex::Complex::new(re, im), window_sum);
        [p.re, p.im]
    }

    /// Forget the samples pushed so far (what [`Goertzel::finish`] does after its value,
    /// without computing it).
    pub fn clear(&mut self) {
        self.s1 = 0.0;
        self.s2 = 0.0;
        self.n = 0;
    }

    /// The DFT value `[re, im]` of the samples pushed so far; resets the detector.
    pub fn finish(&mut self) -> [f32; 2] {
        // y = s[N−1] − e^{−iω}·s[N−2] = Σ x[n]·e^{iω(N−1−n)}; X = e^{−iω(N−1)}·y.
        let y_re = self.s1 - self.cos_w * self.s2;
        let y_im = self.sin_w * self.s2;
        // ω(N−1) reaches thousands of radians: reduce it in f64 (once per frame).
        let cycles = self.cycles_per_sample * f64::from(self.n.saturating_sub(1));
        let phase = -core::f64::consts::TAU * (cycles - libm::floor(cycles));
        let (sin_p, cos_p) = libm::sincosf(phase as f32);
        self.s1 = 0.0;
        self.s2 = 0.0;
        self.n = 0;
        [y_re * cos_p - y_im * sin_p, y_re * sin_p + y_im * cos_p]
    }
}

/// Single-bin DFT of a whole frame (see [`Goertzel`]).
pub fn goertzel(samples: &[f32], freq_hz: f32, sample_rate_hz: f32) -> [f32; 2] {
    let mut g = Goertzel::new(freq_hz, sample_rate_hz);
    samples.iter().for_each(|&x| g.push(x));
    g.finish()
}

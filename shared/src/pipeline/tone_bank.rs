//! Tonal DSP: a Goertzel filter per channel and tone over each frame, and
//! snapshot averaging of the per-tone cross-spectral matrix.
//!
//! With an unknown source level and phase, the tone's receiver vector is only known up to
//! a complex factor that changes from snapshot to snapshot, so snapshots are combined
//! through the sample cross-spectral matrix R = (1/K)·Σ d·dᴴ, whose principal eigenvector
//! is the maximum-likelihood estimate of that vector for one source in white noise
//! (Van Trees, *Optimum Array Processing*, §8). Its overall phase and scale are arbitrary,
//! which is exactly what the relative-transfer-function feature removes.
//!
//! Each frame's DFT value becomes the tone's model amplitude through
//! `Goertzel::finish_amplitude` (the core's one statement of the time convention,
//! `vina_core::acoustics::amplitude_from_dft`), so the vectors here are the forward
//! model's pressures up to the unknown source factor.

use crate::features::Goertzel;
use num_complex::Complex32;

/// Most channels (hydrophones) this buoy build digitizes: its cross-spectral matrices
/// (MAX_TONES × MAX_CHANNELS² complex values) are static RAM, so fewer than the core's
/// `MAX_RECEIVERS`.
pub const MAX_CHANNELS: usize = 8;
const _: () = assert!(MAX_CHANNELS <= crate::limits::MAX_RECEIVERS);
pub use crate::limits::MAX_TONES;

/// Goertzel filters for every (tone, channel) and the running cross-spectral matrices.
#[derive(Clone, Debug)]
pub struct ToneBank {
    tones: usize,
    channels: usize,
    filters: [[Goertzel; MAX_CHANNELS]; MAX_TONES],
    csdm: [[[Complex32; MAX_CHANNELS]; MAX_CHANNELS]; MAX_TONES],
    snapshots: u32,
}

/// The bank was configured beyond its fixed capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CapacityError {
    /// Tones asked for.
    pub tones: usize,
    /// Channels asked for.
    pub channels: usize,
}

/// The filter parked in unused (tone, channel) slots.
fn idle_filter() -> Goertzel {
    Goertzel::new(1.0, 2.0)
}

impl ToneBank {
    /// Filters for `tones_hz` on `channels` channels at `sample_rate_hz`.
    pub fn new(
        tones_hz: impl Iterator<Item = f32> + Clone,
        channels: usize,
        sample_rate_hz: f32,
    ) -> Result<Self, CapacityError> {
        let mut bank = Self::idle();
        bank.configure(tones_hz, channels, sample_rate_hz)?;
        Ok(bank)
    }

    /// A bank with no tones and no channels (it accumulates nothing), until
    /// [`ToneBank::configure`]: lets a caller build the bank where it stays, with no copy.
    pub fn idle() -> Self {
        Self {
            tones: 0,
            channels: 0,
            filters: [[idle_filter(); MAX_CHANNELS]; MAX_TONES],
            csdm: [[[Complex32::new(0.0, 0.0); MAX_CHANNELS]; MAX_CHANNELS]; MAX_TONES],
            snapshots: 0,
        }
    }

    /// Set the bank up in place for `tones_hz` on `channels` channels at `sample_rate_hz`,
    /// with no snapshots; on a capacity error it is left idle.
    pub fn configure(
        &mut self,
        tones_hz: impl Iterator<Item = f32> + Clone,
        channels: usize,
        sample_rate_hz: f32,
    ) -> Result<(), CapacityError> {
        let tones = tones_hz.clone().count();
        if tones == 0 || tones > MAX_TONES || channels == 0 || channels > MAX_CHANNELS {
            self.tones = 0;
            self.channels = 0;
            return Err(CapacityError { tones, channels });
        }
        let idle = idle_filter();
        for row in self.filters.iter_mut() {
            *row = [idle; MAX_CHANNELS];
        }
        for (row, f) in self.filters.iter_mut().zip(tones_hz) {
            *row = [Goertzel::new(f, sample_rate_hz); MAX_CHANNELS];
        }
        self.tones = tones;
        self.channels = channels;
        self.reset();
        Ok(())
    }

    /// Feed one multi-channel sample (already scaled to f32).
    #[inline]
    pub fn push(&mut self, sample: &[f32]) {
        for row in self.filters.iter_mut().take(self.tones) {
            for (g, &x) in row.iter_mut().zip(sample.iter().take(self.channels)) {
                g.push(x);
            }
        }
    }

    /// End a frame: its DFT vectors become one snapshot of each tone's cross-spectral matrix.
    pub fn end_snapshot(&mut self) {
        for (row, r) in self
            .filters
            .iter_mut()
            .zip(self.csdm.iter_mut())
            .take(self.tones)
        {
            let mut d = [Complex32::new(0.0, 0.0); MAX_CHANNELS];
            for (di, g) in d.iter_mut().zip(row.iter_mut()).take(self.channels) {
                let [re, im] = g.finish_amplitude();
                *di = Complex32::new(re, im);
            }
            for i in 0..self.channels {
                for j in 0..self.channels {
                    r[i][j] += d[i] * d[j].conj();
                }
            }
        }
        self.snapshots += 1;
    }

    /// Snapshots accumulated since the last [`ToneBank::reset`].
    pub fn snapshots(&self) -> u32 {
        self.snapshots
    }

    /// Forget the accumulated snapshots (and any partial frame).
    pub fn reset(&mut self) {
        for row in self.filters.iter_mut() {
            for g in row.iter_mut() {
                let _ = g.finish();
            }
        }
        self.csdm = [[[Complex32::new(0.0, 0.0); MAX_CHANNELS]; MAX_CHANNELS]; MAX_TONES];
        self.snapshots = 0;
    }

    /// Principal eigenvector of each tone's cross-spectral matrix, tone-major
    /// `[re, im]` per channel, scaled by √λ (the received amplitude), into `out`
    /// (`tones · channels` entries). Power iteration from the strongest channel's column.
    pub fn principal_vectors(&self, out: &mut [[f32; 2]]) -> Option<()> {
        let c = self.channels;
        if c == 0 || self.tones == 0 {
            return None; // idle: nothing configured, nothing measured
        }
        for (r, out_t) in self
            .csdm
            .iter()
            .zip(out.chunks_exact_mut(c))
            .take(self.tones)
        {
            let start = (0..c).max_by(|&a, &b| r[a][a].re.total_cmp(&r[b][b].re))?;
            let mut v = [Complex32::new(0.0, 0.0); MAX_CHANNELS];
            for (vi, row) in v.iter_mut().zip(r.iter()).take(c) {
                *vi = row[start];
            }
            let mut lambda = 0.0f32;
            for _ in 0..64 {
                let norm = libm::sqrtf(v.iter().take(c).map(|z| z.norm_sqr()).sum());
                if norm == 0.0 || !norm.is_finite() {
                    return None;
                }
                v.iter_mut().take(c).for_each(|z| *z /= norm);
                let mut w = [Complex32::new(0.0, 0.0); MAX_CHANNELS];
                for i in 0..c {
                    for j in 0..c {
                        w[i] += r[i][j] * v[j];
                    }
                }
                let new_lambda = libm::sqrtf(w.iter().take(c).map(|z| z.norm_sqr()).sum());
                v = w;
                if (new_lambda - lambda).abs() <= 1e-6 * new_lambda {
                    lambda = new_lambda;
                    break;
                }
                lambda = new_lambda;
            }
            let norm = libm::sqrtf(v.iter().take(c).map(|z| z.norm_sqr()).sum());
            if norm == 0.0 || !norm.is_finite() {
                return None;
            }
            let scale = libm::sqrtf(lambda / self.snapshots.max(1) as f32) / norm;
            for (o, z) in out_t.iter_mut().zip(v.iter()) {
                *o = [z.re * scale, z.im * scale];
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FeatureKind;
    use crate::rng::Rng;
    extern crate std;

    /// Tones with a fixed receiver vector, a random source phase and level per snapshot,
    /// and noise: the recovered relative transfer function equals the true one.
    #[test]
    fn recovers_relative_transfer_function_despite_unknown_source_phase() {
        let tones = [49.0f32, 64.0, 148.0];
        let fs = 1000.0;
        let channels = 4;
        let mut rng = Rng::new(3);
        let truth: std::vec::Vec<[f32; 2]> = (0..tones.len() * channels)
            .map(|_| [rng.normal_f32(), rng.normal_f32()])
            .collect();
        let mut bank = ToneBank::new(tones.iter().copied(), channels, fs).unwrap();
        let frame = 1000;
        for k in 0..16 {
            let phases: std::vec::Vec<(f32, f32)> = tones
                .iter()
                .map(|_| {
                    (
                        core::f32::consts::TAU * rng.uniform_f32(),
                        0.5 + rng.uniform_f32(),
                    )
                })
                .collect();
            for n in 0..frame {
                let t = (k * frame + n) as f32 / fs;
                let mut s = [0.0f32; 4];
                for (ch, sv) in s.iter_mut().enumerate() {
                    for (ti, f) in tones.iter().enumerate() {
                        let [a, b] = truth[ti * channels + ch];
                        let (phi, level) = phases[ti];
                        let arg = core::f32::consts::TAU * f * t + phi;
                        *sv += level * (a * libm::cosf(arg) - b * libm::sinf(arg));
                    }
                    *sv += 0.05 * rng.normal_f32();
                }
                bank.push(&s);
            }
            bank.end_snapshot();
        }
        let mut est = [[0.0f32; 2]; 12];
        bank.principal_vectors(&mut est).unwrap();
        let kind = FeatureKind::RelativeTransferFunction;
        let mut a = [0.0f32; 21];
        let mut b = [0.0f32; 21];
        kind.compute(&est, tones.len(), channels, &mut a).unwrap();
        // the signal model cos/sin above is Re{(a + ib)·e^{+iωt}}, the physical time
        // convention: the recovered vector is (a + ib) itself, unconjugated
        kind.compute(&truth, tones.len(), channels, &mut b).unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 0.01, "estimated {x} vs true {y}");
        }
    }

    #[test]
    fn capacity_is_checked() {
        assert!(ToneBank::new([1.0f32; 17].into_iter(), 2, 100.0).is_err());
        assert!(ToneBank::new([1.0f32].into_iter(), 9, 100.0).is_err());
        assert!(ToneBank::new(core::iter::empty(), 2, 100.0).is_err());
    }
}

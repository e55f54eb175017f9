//! Tonal DSP: a Goertzel filter per channel and tone over each Hann-windowed frame, and
//! snapshot averaging of the per-tone cross-spectral matrix.
//!
//! The Hann window keeps other lines out of each tone's filter: a plain frame's
//! sidelobes fall only as 1/distance (−32 dB four bins away, where 50 Hz mains hum sits
//! from the 49 Hz tone at 1 kHz and 4,096-sample frames), the Hann's as 1/distance³
//! (−56 dB there), for a 1.8 dB loss of SNR (its noise bandwidth is 1.5 bins) and a
//! ±2-bin main lobe (docs/architecture.md, "Field recordings").
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
    window: HannRotor,
    /// Per channel, the window's weights over the samples kept this frame (a blanked
    /// sample adds none): the amplitude's normalization.
    weight_sum: [f32; MAX_CHANNELS],
}

/// The Hann weights sin²(π(n+½)/N) of an N-sample frame, by rotating (cos, sin) one step
/// a sample (a complex multiply instead of a sine: ~8 instead of ~60 Cortex-M4
/// instructions). The f32 rotation drifts by at most ~N·6e-8 of the weight over a frame,
/// the same for every channel, and each channel's amplitude is normalized by the weights
/// it summed.
#[derive(Clone, Copy, Debug)]
struct HannRotor {
    now: [f32; 2],
    step: [f32; 2],
    first: [f32; 2],
}

impl HannRotor {
    const IDLE: Self = Self {
        now: [0.0; 2],
        step: [0.0; 2],
        first: [0.0; 2],
    };

    fn new(frame_len: u32) -> Self {
        let n = f64::from(frame_len.max(1));
        let (s0, c0) = libm::sincos(core::f64::consts::PI / (2.0 * n));
        let (s1, c1) = libm::sincos(core::f64::consts::PI / n);
        let first = [c0 as f32, s0 as f32];
        Self {
            now: first,
            step: [c1 as f32, s1 as f32],
            first,
        }
    }

    /// The next sample's weight.
    #[inline]
    fn next(&mut self) -> f32 {
        let ([c, s], [a, b]) = (self.now, self.step);
        self.now = [c * a - s * b, s * a + c * b];
        s * s
    }

    fn restart(&mut self) {
        self.now = self.first;
    }
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
    Goertzel::IDLE
}

impl ToneBank {
    /// Filters for `tones_hz` on `channels` channels at `sample_rate_hz`, over frames of
    /// `frame_len` samples.
    pub fn new(
        tones_hz: impl Iterator<Item = f32> + Clone,
        channels: usize,
        sample_rate_hz: f32,
        frame_len: u32,
    ) -> Result<Self, CapacityError> {
        let mut bank = Self::idle();
        bank.configure(tones_hz, channels, sample_rate_hz, frame_len)?;
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
            window: HannRotor::IDLE,
            weight_sum: [0.0; MAX_CHANNELS],
        }
    }

    /// Set the bank up in place for `tones_hz` on `channels` channels at `sample_rate_hz`
    /// over frames of `frame_len` samples, with no snapshots; on a capacity error it is
    /// left idle.
    pub fn configure(
        &mut self,
        tones_hz: impl Iterator<Item = f32> + Clone,
        channels: usize,
        sample_rate_hz: f32,
        frame_len: u32,
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
        self.window = HannRotor::new(frame_len);
        self.reset();
        Ok(())
    }

    /// Feed one multi-channel sample (already scaled to f32); the channels whose bit is
    /// set in `blanked` carry no sample this time (an impulse was cut out).
    #[inline]
    pub fn push(&mut self, sample: &[f32], blanked: u32) {
        let w = self.window.next();
        let mut x = [0.0f32; MAX_CHANNELS];
        for (c, ((xw, &v), sum)) in x
            .iter_mut()
            .zip(sample)
            .zip(self.weight_sum.iter_mut())
            .enumerate()
            .take(self.channels)
        {
            if blanked & (1 << c) == 0 {
                *xw = w * v;
                *sum += w;
            }
        }
        for row in self.filters.iter_mut().take(self.tones) {
            for (g, &v) in row.iter_mut().zip(x.iter().take(self.channels)) {
                g.push(v);
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
            for ((di, g), &sum) in d
                .iter_mut()
                .zip(row.iter_mut())
                .zip(&self.weight_sum)
                .take(self.channels)
            {
                let [re, im] = g.finish_amplitude(sum);
                *di = Complex32::new(re, im);
            }
            for i in 0..self.channels {
                for j in 0..self.channels {
                    r[i][j] += d[i] * d[j].conj();
                }
            }
        }
        self.snapshots += 1;
        self.weight_sum = [0.0; MAX_CHANNELS];
        self.window.restart();
    }

    /// Channels configured.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Per tone, the channel that received it loudest over the snapshots so far.
    pub fn loudest_channels(&self, out: &mut [u8]) {
        for (o, r) in out.iter_mut().zip(&self.csdm).take(self.tones) {
            *o = (0..self.channels)
                .max_by(|&a, &b| r[a][a].re.total_cmp(&r[b][b].re))
                .unwrap_or(0) as u8;
        }
    }

    /// Snapshots accumulated since the last [`ToneBank::reset`].
    pub fn snapshots(&self) -> u32 {
        self.snapshots
    }

    /// Forget the accumulated snapshots (and any partial frame).
    pub fn reset(&mut self) {
        for row in self.filters.iter_mut() {
            for g in row.iter_mut() {
                g.clear();
            }
        }
        self.csdm = [[[Complex32::new(0.0, 0.0); MAX_CHANNELS]; MAX_CHANNELS]; MAX_TONES];
        self.snapshots = 0;
        self.weight_sum = [0.0; MAX_CHANNELS];
        self.window.restart();
    }

    /// Principal eigenvector of each tone's cross-spectral matrix, tone-major
    /// `[re, im]` per channel, scaled by √λ (the received amplitude), into `out`
    /// (`tones · channels` entries).
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
            let (lambda, v) = principal(r, c, None)?;
            let scale = libm::sqrtf(lambda / self.snapshots.max(1) as f32);
            for (o, z) in out_t.iter_mut().zip(v.iter()) {
                *o = [z.re * scale, z.im * scale];
            }
        }
        Some(())
    }

    /// Per tone, `[λ₂/λ₁, λ₂/mean(λ₃…)]` of its cross-spectral matrix, into `out`: how
    /// strong a second source is next to the tone, and how far it stands out of the noise.
    /// One source in white noise leaves λ₂ among the noise eigenvalues (2–6 times their
    /// mean over a window of 8 snapshots on 5 channels, whatever the SNR); a line the
    /// window cannot keep out (inside its main lobe, not phase-locked to the source) makes
    /// the matrix rank two. Zeros with fewer than three channels (nothing to compare).
    #[inline(never)]
    pub fn second_source(&self, out: &mut [[f32; 2]]) {
        // an opaque channel count: see `principal`
        let c = core::hint::black_box(self.channels);
        for (o, r) in out.iter_mut().zip(&self.csdm).take(self.tones) {
            *o = [0.0; 2];
            if c < 3 {
                continue;
            }
            let Some((l1, v)) = principal(r, c, None) else {
                continue;
            };
            let trace: f32 = r.iter().enumerate().take(c).map(|(i, ri)| ri[i].re).sum();
            let l2 = principal(r, c, Some((l1, &v))).map_or(0.0, |(l, _)| l);
            let rest = (trace - l1 - l2) / (c - 2) as f32;
            if l1 > 0.0 && rest > 0.0 && l2.is_finite() {
                *o = [l2 / l1, l2 / rest];
            }
        }
    }
}

/// A tone's cross-spectral matrix.
type Csdm = [[Complex32; MAX_CHANNELS]; MAX_CHANNELS];

/// The largest eigenvalue of the Hermitian `m` (its first `c` rows and columns), less
/// `λ·u·uᴴ` when `deflate` gives (λ, u) — its principal part, so that the result is the
/// second eigenvalue — and its unit eigenvector, by power iteration from the strongest
/// channel's column; `None` for a zero or non-finite matrix. Not inlined: one copy in
/// the buoy's flash.
#[inline(never)]
fn principal(
    m: &Csdm,
    c: usize,
    deflate: Option<(f32, &[Complex32; MAX_CHANNELS])>,
) -> Option<(f32, [Complex32; MAX_CHANNELS])> {
    // loops over slices of an opaque length: over the fixed arrays LLVM unrolls each
    // fully, 5.6 KB of the buoy's flash for a computation done once per window
    let c = core::hint::black_box(c);
    let rows = m.get(..c)?;
    let zero = Complex32::new(0.0, 0.0);
    let none = [zero; MAX_CHANNELS];
    let (l1, u) = deflate.unwrap_or((0.0, &none));
    let u = u.get(..c)?;
    let diagonal = |a: usize| rows[a][a].re - l1 * u[a].norm_sqr();
    let start = (0..c).max_by(|&a, &b| diagonal(a).total_cmp(&diagonal(b)))?;
    let mut out = [zero; MAX_CHANNELS];
    let v = out.get_mut(..c)?;
    for ((vi, row), ui) in v.iter_mut().zip(rows).zip(u) {
        *vi = row[start] - ui * u[start].conj() * l1;
    }
    let mut w = [zero; MAX_CHANNELS];
    let w = w.get_mut(..c)?;
    let mut lambda = 0.0f32;
    for _ in 0..64 {
        normalize(v)?;
        // (m − l1·u·uᴴ)·v
        let uv: Complex32 = u.iter().zip(v.iter()).map(|(a, b)| a.conj() * b).sum();
        for ((wi, row), ui) in w.iter_mut().zip(rows).zip(u) {
            let mv: Complex32 = row[..c].iter().zip(v.iter()).map(|(a, b)| a * b).sum();
            *wi = mv - ui * uv * l1;
        }
        v.copy_from_slice(w);
        let new_lambda = normalize(v)?;
        let done = (new_lambda - lambda).abs() <= 1e-6 * new_lambda;
        lambda = new_lambda;
        if done {
            break;
        }
    }
    Some((lambda, out))
}

/// Scale `v` to unit length; its former length, or `None` when zero or not finite. Not
/// inlined: three copies of it cost the buoy 0.7 KB of flash.
#[inline(never)]
fn normalize(v: &mut [Complex32]) -> Option<f32> {
    let n = libm::sqrtf(v.iter().map(|z| z.norm_sqr()).sum());
    if n == 0.0 || !n.is_finite() {
        return None;
    }
    v.iter_mut().for_each(|z| *z /= n);
    Some(n)
}

/// The log-amplitude curvature `2·l(f) − l(f − bin) − l(f + bin)` of a tone's lobe under
/// the Parzen window: 0.84 at its peak, 0.84–1.9 within two bins of it; a triple outside
/// this band is noise (flat, or erratic).
const LOBE_CURVATURE: (f32, f32) = (0.5, 2.5);

/// Where each tone really is, for Doppler and drifting projectors: three Goertzel filters
/// per tone on one channel (the one that received the tone loudest in the last window), at
/// the tuned frequency and one DFT bin either side, over a Parzen window (its main lobe,
/// ±4 bins, has no null inside, where the tone bank's Hann lobe ends at 2 bins), their
/// powers summed over a window's snapshots. The log amplitudes of the three points fit a
/// parabola whose peak is the tone's offset from the tuning (exact for a Gaussian lobe;
/// within ~10 % inside half a bin, an underestimate beyond, which the next window's retune
/// closes).
#[derive(Clone, Debug)]
pub struct FrequencyProbe {
    tones: usize,
    nominal_hz: [f32; MAX_TONES],
    tuned_hz: [f32; MAX_TONES],
    spacing_hz: f32,
    sample_rate_hz: f32,
    frame_len: u32,
    pos: u32,
    filters: [[Goertzel; 3]; MAX_TONES],
    power: [[f32; 3]; MAX_TONES],
    channel: [u8; MAX_TONES],
}

impl FrequencyProbe {
    /// How far, in bins, the tuning may wander from a tone's nominal frequency (beyond,
    /// it could lock onto another tone or noise).
    pub const MAX_RETUNE_BINS: f32 = 2.0;

    /// A probe with no tones.
    pub fn idle() -> Self {
        Self {
            tones: 0,
            nominal_hz: [0.0; MAX_TONES],
            tuned_hz: [0.0; MAX_TONES],
            spacing_hz: 0.0,
            sample_rate_hz: 1.0,
            frame_len: 1,
            pos: 0,
            filters: [[idle_filter(); 3]; MAX_TONES],
            power: [[0.0; 3]; MAX_TONES],
            channel: [0; MAX_TONES],
        }
    }

    /// Probe `tones_hz` (at most [`MAX_TONES`]) at `sample_rate_hz` with frames of
    /// `frame_len` samples, tuned to the nominal frequencies.
    pub fn configure(
        &mut self,
        tones_hz: impl Iterator<Item = f32>,
        sample_rate_hz: f32,
        frame_len: u32,
    ) {
        let mut n = 0;
        for (slot, f) in self.nominal_hz.iter_mut().zip(tones_hz) {
            *slot = f;
            n += 1;
        }
        self.tones = n;
        self.tuned_hz = self.nominal_hz;
        self.sample_rate_hz = sample_rate_hz;
        self.frame_len = frame_len.max(1);
        self.spacing_hz = sample_rate_hz / self.frame_len as f32;
        self.tune();
    }

    #[inline(never)]
    fn tune(&mut self) {
        for (row, &f) in self.filters.iter_mut().zip(&self.tuned_hz).take(self.tones) {
            let h = self.spacing_hz;
            *row = [f - h, f, f + h].map(|g| Goertzel::new(g, self.sample_rate_hz));
        }
        self.reset();
    }

    /// The frequencies the tone bank should listen at.
    pub fn tuned_hz(&self) -> &[f32] {
        &self.tuned_hz[..self.tones]
    }

    /// Probe tone `t` on `channels[t]` from the next window on.
    pub fn set_channels(&mut self, channels: &[u8]) {
        for (c, &s) in self.channel.iter_mut().zip(channels) {
            *c = s;
        }
    }

    /// Feed one multi-channel sample (not inlined: the buoy's flash; unrolled into the
    /// sample loop it costs ~10 KB).
    #[inline(never)]
    pub fn push(&mut self, sample: &[f32]) {
        // Parzen: x = distance from the frame's centre in half-frames
        let n = self.frame_len as f32;
        let x = ((2 * self.pos + 1) as f32 - n).abs() / n;
        let w = if x <= 0.5 {
            1.0 - 6.0 * x * x * (1.0 - x)
        } else {
            let r = 1.0 - x;
            2.0 * r * r * r
        };
        self.pos = self.pos.saturating_add(1);
        for (row, &c) in self.filters.iter_mut().zip(&self.channel).take(self.tones) {
            let x = w * sample.get(usize::from(c)).copied().unwrap_or(0.0);
            for g in row.iter_mut() {
                g.push(x);
            }
        }
    }

    /// End a frame: its powers join the window's.
    #[inline(never)]
    pub fn end_snapshot(&mut self) {
        for (row, p) in self
            .filters
            .iter_mut()
            .zip(self.power.iter_mut())
            .take(self.tones)
        {
            for (g, p) in row.iter_mut().zip(p.iter_mut()) {
                let [re, im] = g.finish();
                *p += re * re + im * im;
            }
        }
        self.pos = 0;
    }

    /// Forget the window's powers (and any partial frame).
    #[inline(never)]
    pub fn reset(&mut self) {
        for row in self.filters.iter_mut() {
            for g in row.iter_mut() {
                g.clear();
            }
        }
        self.power = [[0.0; 3]; MAX_TONES];
        self.pos = 0;
    }

    /// Each tone's estimated offset from its tuning, Hz, into `out`. Doppler and a
    /// drifting projector move every tone alike, so the tones vote: a tone whose triple
    /// is a lobe (its log curvature in the band a tone's lobe has; noise is flat or
    /// erratic) keeps its own estimate when it lies within half a bin of the median of
    /// such estimates; any other tone (weak, on a poor channel, or a noise outlier)
    /// takes the median. Zero when no tone is informative.
    pub fn offsets(&self, out: &mut [f32]) {
        let limit = self.spacing_hz * Self::MAX_RETUNE_BINS;
        let mut known = [0.0f32; MAX_TONES];
        let mut n_known = 0;
        let mut own = [f32::NAN; MAX_TONES];
        for (o, p) in own.iter_mut().zip(&self.power).take(self.tones) {
            if !p.iter().all(|v| v.is_finite() && *v > 0.0) {
                continue;
            }
            // log amplitudes: ½·ln(power)
            let [lm, l0, lp] = p.map(|v| 0.5 * libm::logf(v));
            let curvature = 2.0 * l0 - lm - lp;
            if (LOBE_CURVATURE.0..=LOBE_CURVATURE.1).contains(&curvature) {
                *o = (self.spacing_hz * (lp - lm) / (2.0 * curvature)).clamp(-limit, limit);
                known[n_known] = *o;
                n_known += 1;
            }
        }
        out.iter_mut().take(self.tones).for_each(|o| *o = 0.0);
        if n_known == 0 {
            return;
        }
        // insertion sort of ≤ 16 values: `sort_unstable_by` would cost the buoy kilobytes
        // of flash for this
        let known = &mut known[..n_known];
        for i in 1..n_known {
            let mut j = i;
            while j > 0 && known[j - 1] > known[j] {
                known.swap(j - 1, j);
                j -= 1;
            }
        }
        let median = if n_known % 2 == 1 {
            known[n_known / 2]
        } else {
            0.5 * (known[n_known / 2 - 1] + known[n_known / 2])
        };
        for (o, &e) in out.iter_mut().zip(&own).take(self.tones) {
            *o = if (e - median).abs() <= 0.5 * self.spacing_hz {
                e
            } else {
                median
            };
        }
    }

    /// Move each tone's tuning by `offsets` (Hz), within [`Self::MAX_RETUNE_BINS`] of its
    /// nominal frequency; resets the probes.
    #[inline(never)]
    pub fn retune(&mut self, offsets: &[f32]) {
        let limit = self.spacing_hz * Self::MAX_RETUNE_BINS;
        for ((t, &n), &d) in self
            .tuned_hz
            .iter_mut()
            .zip(&self.nominal_hz)
            .zip(offsets)
            .take(self.tones)
        {
            *t = (*t + d).clamp(n - limit, n + limit);
        }
        self.tune();
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
        let mut bank = ToneBank::new(tones.iter().copied(), channels, fs, 1000).unwrap();
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
                bank.push(&s, 0);
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

    /// One tone (112 Hz, 1 kHz, 4,096-sample frames, 8 snapshots, 5 channels) in noise at
    /// `snr_db` per frame, with a line 0.3 Hz (1.2 bins) off it `interferer_db` above it:
    /// [`ToneBank::second_source`].
    fn ratios(seed: u64, interferer_db: Option<f32>, snr_db: f32) -> [f32; 2] {
        let (fs, frame, f, channels) = (1000.0f32, 4096usize, 112.0f32, 5usize);
        let mut rng = Rng::new(seed);
        let truth: std::vec::Vec<[f32; 2]> = (0..channels)
            .map(|_| [rng.normal_f32(), rng.normal_f32()])
            .collect();
        let other: std::vec::Vec<[f32; 2]> = (0..channels)
            .map(|_| [rng.normal_f32(), rng.normal_f32()])
            .collect();
        let mean_amp: f32 = truth.iter().map(|a| libm::hypotf(a[0], a[1])).sum::<f32>() / 5.0;
        // noise: per-frame SNR = mean |p|² N / (4 s²)
        let s =
            libm::sqrtf(mean_amp * mean_amp * frame as f32 / 4.0 / libm::powf(10.0, snr_db / 10.0));
        let gi = interferer_db.map_or(0.0, |d| libm::powf(10.0, d / 20.0));
        let mut bank = ToneBank::new([f].into_iter(), channels, fs, frame as u32).unwrap();
        for k in 0..8 {
            for n in 0..frame {
                let t = f64::from((k * frame + n) as u32) / f64::from(fs);
                let a = (core::f64::consts::TAU * f64::from(f) * t) as f32;
                let b = (core::f64::consts::TAU * (f64::from(f) + 0.3) * t) as f32;
                let mut x = [0.0f32; 5];
                for (ch, xv) in x.iter_mut().enumerate() {
                    let [p, q] = truth[ch];
                    let [u, w] = other[ch];
                    *xv = p * libm::cosf(a) - q * libm::sinf(a)
                        + gi * (u * libm::cosf(b) - w * libm::sinf(b))
                        + s * rng.normal_f32();
                }
                bank.push(&x, 0);
            }
            bank.end_snapshot();
        }
        let mut out = [[0.0f32; 2]; 1];
        bank.second_source(&mut out);
        out[0]
    }

    /// A tone alone in noise is never taken for two sources, at any SNR; a line 1.2 bins
    /// off it (inside the Hann main lobe), 10 dB above it, always is at 20 and 30 dB.
    #[test]
    fn a_second_source_in_the_main_lobe_is_seen() {
        let flagged = |r: [f32; 2]| {
            r[0] > crate::pipeline::SECOND_SOURCE.0 && r[1] > crate::pipeline::SECOND_SOURCE.1
        };
        for snr in [0.0f32, 10.0, 20.0, 30.0, 40.0] {
            for seed in 0..20 {
                let r = ratios(seed, None, snr);
                assert!(!flagged(r), "clean, {snr} dB, seed {seed}: {r:?}");
                assert!(
                    (1.5..8.0).contains(&r[1]),
                    "clean, {snr} dB, seed {seed}: {r:?}"
                );
            }
        }
        for snr in [20.0f32, 30.0] {
            for seed in 0..6 {
                let r = ratios(seed, Some(10.0), snr);
                assert!(flagged(r), "+10 dB line, {snr} dB, seed {seed}: {r:?}");
            }
        }
    }

    #[test]
    fn capacity_is_checked() {
        assert!(ToneBank::new([1.0f32; 17].into_iter(), 2, 100.0, 100).is_err());
        assert!(ToneBank::new([1.0f32].into_iter(), 9, 100.0, 100).is_err());
        assert!(ToneBank::new(core::iter::empty(), 2, 100.0, 100).is_err());
    }
}

#[cfg(test)]
mod probe_tests {
    use super::*;
    extern crate std;

    /// A pure tone δ off the tuning, with a random phase per frame: the probe's estimate.
    fn estimate(delta_hz: f32) -> f32 {
        let (fs, n, f) = (1000.0f32, 4096u32, 112.0f32);
        let mut p = FrequencyProbe::idle();
        p.configure([f].into_iter(), fs, n);
        let mut rng = crate::rng::Rng::new(1);
        for _ in 0..8 {
            let phase = core::f32::consts::TAU * rng.uniform_f32();
            for i in 0..n {
                let t = f64::from(i) / f64::from(fs);
                let arg = core::f64::consts::TAU * f64::from(f + delta_hz) * t + f64::from(phase);
                p.push(&[libm::cos(arg) as f32]);
            }
            p.end_snapshot();
        }
        let mut out = [0.0f32; MAX_TONES];
        p.offsets(&mut out);
        out[0]
    }

    /// Within half a bin (0.122 Hz at 1 kHz and 4,096-sample frames) the estimate is
    /// within 10 %; up to one and a half bins it points the right way by at least 0.4 bin,
    /// so the retune closes in.
    #[test]
    fn the_probe_finds_a_tone_s_offset() {
        let bin = 1000.0 / 4096.0;
        for d in [-0.35f32, -0.2, -0.1, -0.03, 0.0, 0.05, 0.122, 0.2, 0.3] {
            let e = estimate(d);
            if d.abs() <= 0.5 * bin {
                assert!(
                    (e - d).abs() <= 0.1 * d.abs() + 2e-3,
                    "offset {d} Hz: estimated {e} Hz"
                );
            } else {
                assert!(
                    e * d > 0.0 && e.abs() >= 0.4 * bin,
                    "offset {d} Hz: estimated {e} Hz"
                );
            }
        }
    }
}

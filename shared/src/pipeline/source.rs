//! Getting hydrophone samples: the pipeline's own trait (embedded-hal 1.0 has no ADC
//! trait), implemented for SPI delta-sigma ADCs (the firmware's `acquisition::ads131`),
//! for replayed recordings ([`super::recording_source`]) and for the host's WAV files.
//!
//! A [`SampleSource`] hands out one *frame* per call: one simultaneous sample per channel
//! (hydrophone), as raw signed ADC codes. Scaling to volts or pascals is the consumer's
//! business ([`SampleSource::full_scale`] gives the code that corresponds to the full input
//! range); what a source must do is say when a sample cannot be trusted as part of a
//! continuous, unsaturated stream — see [`SampleStatus`]. The DSP (Goertzel/DFT over a
//! snapshot; docs/architecture.md, "Firmware") needs exactly that: a clipped or gapped
//! snapshot is discarded or flagged, never silently averaged in.

/// What a source knows about the frame it has just delivered.
///
/// The all-clear value is `SampleStatus::default()` (`clipped == false`, `dropped == 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SampleStatus {
    /// At least one channel sits at a full-scale code (the input was at or beyond the
    /// converter's range, so the value is a lower bound on the true magnitude).
    pub clipped: bool,
    /// Samples lost between the previous successful `read` and this one. `0` means the
    /// stream is continuous as far as the source can tell. A source that can tell that
    /// continuity may have been broken but not by how much reports `1` (a lower bound):
    /// consumers should treat any non-zero value as "the sample clock has a gap here".
    pub dropped: u32,
}

impl SampleStatus {
    /// Neither clipped nor preceded by a gap.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        !self.clipped && self.dropped == 0
    }
}

/// A multi-channel source of raw ADC frames.
///
/// Implementations block in [`read`](SampleSource::read) until the next frame is available
/// (with a bounded wait: a source that never becomes ready returns an error, it does not
/// hang) and never panic on data.
pub trait SampleSource {
    /// Why a frame could not be delivered.
    type Error: core::fmt::Debug;

    /// Number of channels (hydrophones): the length `read` expects for `out`.
    fn channels(&self) -> usize;

    /// Sample rate in Hz (frames per second).
    fn sample_rate_hz(&self) -> f32;

    /// Full-scale code magnitude, `2^(bits-1)` for a two's-complement converter: a code `c`
    /// is the fraction `c / full_scale()` of the input range, which lies in `[-1, 1)`.
    /// Clipping is detected by the source itself and reported in [`SampleStatus::clipped`].
    fn full_scale(&self) -> i32;

    /// Reads one sample per channel into `out` (`out.len()` must equal
    /// [`channels`](SampleSource::channels), or the source returns an error and reads
    /// nothing). Blocks until the next frame is ready.
    fn read(&mut self, out: &mut [i32]) -> Result<SampleStatus, Self::Error>;
}

impl<S: SampleSource + ?Sized> SampleSource for &mut S {
    type Error = S::Error;

    fn channels(&self) -> usize {
        (**self).channels()
    }

    fn sample_rate_hz(&self) -> f32 {
        (**self).sample_rate_hz()
    }

    fn full_scale(&self) -> i32 {
        (**self).full_scale()
    }

    fn read(&mut self, out: &mut [i32]) -> Result<SampleStatus, Self::Error> {
        (**self).read(out)
    }
}

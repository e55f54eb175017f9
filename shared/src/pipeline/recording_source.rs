//! Replay of a recording (the `vina synth` format, `vina_core::recording`) as if it came
//! from the ADC: the pipeline runs unchanged under QEMU, in tests and in `vina replay`.

use crate::recording::Recording;

use super::source::{SampleSource, SampleStatus};

/// Plays a recording frame by frame; clipping is flagged at the full-scale codes.
#[derive(Clone, Copy, Debug)]
pub struct Replay<'a> {
    recording: Recording<'a>,
    next: usize,
}

/// Why a replay read failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayError {
    /// The recording has no more frames.
    End,
    /// `out` does not have one slot per channel.
    BufferLength,
}

impl<'a> Replay<'a> {
    /// Play `recording` from its first frame.
    pub fn new(recording: Recording<'a>) -> Self {
        Self { recording, next: 0 }
    }

    /// Frames left.
    pub fn remaining(&self) -> usize {
        self.recording.frames.saturating_sub(self.next)
    }
}

impl SampleSource for Replay<'_> {
    type Error = ReplayError;

    fn channels(&self) -> usize {
        self.recording.channels
    }

    fn sample_rate_hz(&self) -> f32 {
        self.recording.sample_rate_hz
    }

    fn full_scale(&self) -> i32 {
        self.recording.full_scale
    }

    fn read(&mut self, out: &mut [i32]) -> Result<SampleStatus, ReplayError> {
        if out.len() != self.recording.channels {
            return Err(ReplayError::BufferLength);
        }
        self.recording
            .frame(self.next, out)
            .ok_or(ReplayError::End)?;
        self.next += 1;
        let fs = self.recording.full_scale;
        let clipped = out.iter().any(|&c| c >= fs - 1 || c <= -fs);
        Ok(SampleStatus {
            clipped,
            dropped: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plays_frames_flags_clipping_and_ends() {
        let fs = 1 << 23;
        let codes = [1, -2, fs - 1, 0, 5, -fs];
        let bytes = Recording::encode(2, 1000.0, fs, &codes);
        let mut r = Replay::new(Recording::from_bytes(&bytes).unwrap());
        let mut out = [0i32; 2];
        assert_eq!(r.read(&mut out), Ok(SampleStatus::default()));
        assert_eq!(out, [1, -2]);
        assert!(r.read(&mut out).unwrap().clipped);
        assert!(r.read(&mut out).unwrap().clipped);
        assert_eq!(r.read(&mut out), Err(ReplayError::End));
        assert_eq!(r.read(&mut [0; 3]), Err(ReplayError::BufferLength));
    }
}

//! The buoy's report frame (docs/architecture.md, "Firmware"): what one observation window
//! concluded, small enough for a thin link.
//!
//! Frame: COBS( postcard(Report) ‖ CRC-32(postcard bytes), little-endian ) ‖ 0x00. The zero
//! byte ends each frame, so a listener resynchronizes after any loss; the CRC refuses a
//! corrupted frame instead of decoding it into different numbers. The byte layout, for
//! listeners written elsewhere: docs/report-frame.md.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::model_file::crc32;
use crate::summary::SummaryValues;

pub use crate::limits::MAX_PARAMS;
/// Largest postcard encoding of a report plus its CRC.
const MAX_RAW: usize = 800;
/// Largest encoded frame, delimiter included (bounds the firmware's UART buffer).
pub const MAX_FRAME: usize = cobs::max_encoding_length(MAX_RAW) + 1;

/// Why a frame could not be encoded or decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The output buffer is too small.
    BufferTooSmall,
    /// Not valid COBS.
    Cobs,
    /// The CRC does not match: the frame was corrupted on the way.
    Crc,
    /// The CRC matches but the content is not a report (another format version?).
    Decode,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BufferTooSmall => "report frame buffer too small",
            Self::Cobs => "report frame is not valid COBS",
            Self::Crc => "report frame CRC mismatch (corrupted)",
            Self::Decode => "report frame content does not decode",
        })
    }
}

impl core::error::Error for FrameError {}

/// Why a window produced no posterior.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rejection {
    /// Samples were NaN or infinite.
    NonFiniteInput,
    /// More of this channel's samples than allowed were at full scale.
    Clipped {
        /// The channel (receiver index, shallowest first) clipped most.
        channel: u8,
    },
    /// Features undefined (e.g. a silent reference hydrophone).
    Features,
    /// The model refused the input (dimension or capacity).
    Model,
    /// Too many frames were dropped to form the snapshots.
    DroppedFrames,
    /// A channel carried no signal: its sample-to-sample changes were 60 dB or more below
    /// the liveliest channel's over the window (disconnected, stuck, or dead hydrophone).
    DeadChannel {
        /// The channel (receiver index, shallowest first).
        channel: u8,
    },
    /// A tone arrived more than half a DFT bin off the frequency the bank listened at
    /// (Doppler, a drifting projector): the bank retunes for the next window.
    OffFrequency {
        /// The tone (scenario order) furthest off.
        tone: u8,
    },
    /// More than a quarter of a channel's samples were impulsive (clicks cut out before
    /// the tone bank): too little signal left to trust.
    Impulsive {
        /// The channel (receiver index, shallowest first) with the most blanked samples.
        channel: u8,
    },
    /// A second source at a tone, too close in frequency for the window to keep out and
    /// not locked to the source (another ship's line, a second projector): the tone's
    /// receiver vector is no longer the field of one source.
    Interference {
        /// The tone (scenario order) with the strongest second source.
        tone: u8,
    },
}

/// Outcome of one window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// A posterior was computed.
    Posterior,
    /// No posterior, and why: never a silent posterior from garbage.
    Rejected(Rejection),
}

/// One report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Report counter since boot.
    pub sequence: u32,
    /// Scenario hash of the model that produced it.
    pub scenario_hash: u64,
    /// Posterior samples drawn.
    pub samples: u32,
    /// Seed of this report's latent draws.
    pub seed: u64,
    /// ADC samples at full scale in the window.
    pub clipped_samples: u32,
    /// Non-finite values met in the window.
    pub non_finite_values: u32,
    /// Frames lost by the acquisition in the window.
    pub dropped_frames: u32,
    /// Samples (over all channels) cut out of the window as impulsive noise.
    pub blanked_samples: u32,
    /// Outcome.
    pub status: Status,
    /// Posterior summary per parameter, model order (empty when rejected).
    pub parameters: heapless::Vec<SummaryValues, MAX_PARAMS>,
    /// The exact-likelihood refinement of this posterior, when the firmware ran one.
    pub refined: Option<Refined>,
}

/// What an exact-likelihood refinement on the buoy concluded: the refined posterior's
/// summary and the diagnostics that say how far to trust it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Refined {
    /// Particles (= refined draws).
    pub particles: u16,
    /// Metropolis sweeps run (fewer than configured when the budget ran out).
    pub steps: u16,
    /// Effective sample size of the importance weights.
    pub ess: f32,
    /// Largest normalized importance weight.
    pub max_weight: f32,
    /// Metropolis acceptance over all sweeps.
    pub acceptance: f32,
    /// The network's proposal missed the exact posterior (low ESS or a dominant weight).
    pub missed: bool,
    /// Instructions (or cycles: the target's clock) the refinement took.
    pub instructions: u64,
    /// … of which evaluating the exact log-posterior (forward model and likelihood).
    pub target_instructions: u64,
    /// Refined posterior summary per parameter, model order.
    pub parameters: heapless::Vec<SummaryValues, MAX_PARAMS>,
    /// Exact log-posterior evaluations (forward-model runs): the proposal draws and the
    /// Metropolis moves that passed the delayed-acceptance surrogate.
    pub evaluations: u32,
}

impl Report {
    /// Encode as one frame (ending in the 0x00 delimiter) into `buf`; returns its length.
    pub fn encode(&self, buf: &mut [u8]) -> Result<usize, FrameError> {
        let mut raw = [0u8; MAX_RAW];
        let n = postcard::to_slice(self, &mut raw[..MAX_RAW - 4])
            .map_err(|_| FrameError::BufferTooSmall)?
            .len();
        let crc = crc32(&raw[..n]).to_le_bytes();
        raw[n..n + 4].copy_from_slice(&crc);
        let k = cobs::try_encode(&raw[..n + 4], buf).map_err(|_| FrameError::BufferTooSmall)?;
        *buf.get_mut(k).ok_or(FrameError::BufferTooSmall)? = 0;
        Ok(k + 1)
    }

    /// Decode one frame (with or without its delimiter); `frame` is decoded in place.
    pub fn decode(frame: &mut [u8]) -> Result<Self, FrameError> {
        let body = match frame.split_last_mut() {
            Some((0, body)) => body,
            _ => frame,
        };
        let n = cobs::decode_in_place(body).map_err(|_| FrameError::Cobs)?;
        let payload_len = n.checked_sub(4).ok_or(FrameError::Crc)?;
        let (payload, crc) = body[..n].split_at(payload_len);
        if crc32(payload).to_le_bytes() != crc {
            return Err(FrameError::Crc);
        }
        postcard::from_bytes(payload).map_err(|_| FrameError::Decode)
    }

    /// Decode a frame in its text form: the hex digits of a `frame <hex>` line (what
    /// consoles that carry text print; docs/report-frame.md). No heap: at most
    /// [`MAX_FRAME`] bytes.
    pub fn decode_hex(hex: &[u8]) -> Result<Self, FrameError> {
        let hex = hex.trim_ascii();
        let mut buf = [0u8; MAX_FRAME];
        let n = hex.len() / 2;
        if !hex.len().is_multiple_of(2) || n > buf.len() {
            return Err(FrameError::Cobs);
        }
        let digit = |c: u8| char::from(c).to_digit(16).ok_or(FrameError::Cobs);
        for (b, pair) in buf.iter_mut().zip(hex.chunks_exact(2)) {
            *b = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Self::decode(&mut buf[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut parameters = heapless::Vec::new();
        for i in 0..MAX_PARAMS {
            let v = 1000.0 + i as f32;
            let s = SummaryValues {
                count: 1000,
                non_finite: 0,
                outside_support: u32::MAX,
                mean: v,
                std: 0.5,
                q05: v - 1.0,
                q50: v,
                q95: v + 1.0,
            };
            assert!(parameters.push(s).is_ok());
        }
        Report {
            sequence: u32::MAX,
            scenario_hash: u64::MAX,
            samples: 1000,
            seed: u64::MAX,
            clipped_samples: u32::MAX,
            non_finite_values: u32::MAX,
            dropped_frames: u32::MAX,
            blanked_samples: u32::MAX,
            status: Status::Rejected(Rejection::DroppedFrames),
            parameters: parameters.clone(),
            refined: Some(Refined {
                particles: u16::MAX,
                steps: u16::MAX,
                ess: 1.0e9,
                max_weight: 1.0,
                acceptance: 0.25,
                missed: true,
                instructions: u64::MAX,
                target_instructions: u64::MAX,
                parameters,
                evaluations: u32::MAX,
            }),
        }
    }

    #[test]
    fn round_trip_and_largest_frame_fits() {
        let r = sample();
        let mut buf = [0u8; MAX_FRAME];
        let n = r.encode(&mut buf).unwrap();
        let frame = &mut buf[..n];
        assert_eq!(frame.last(), Some(&0));
        assert_eq!(
            frame.iter().filter(|&&b| b == 0).count(),
            1,
            "COBS: the only zero is the delimiter"
        );
        assert!(frame.len() <= MAX_FRAME);
        assert_eq!(Report::decode(frame).unwrap(), r);
    }

    #[test]
    fn every_single_byte_corruption_is_refused() {
        let r = sample();
        let mut buf = [0u8; MAX_FRAME];
        let n = r.encode(&mut buf).unwrap();
        for i in 0..n - 1 {
            for v in 1..=255u8 {
                let mut bad = buf;
                bad[i] = bad[i].wrapping_add(v);
                assert!(
                    Report::decode(&mut bad[..n]).is_err(),
                    "byte {i} + {v} accepted"
                );
            }
        }
        let mut small = [0u8; 16];
        assert_eq!(r.encode(&mut small), Err(FrameError::BufferTooSmall));
        assert!(Report::decode(&mut []).is_err());
    }
}

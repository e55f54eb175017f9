//! Hydrophone recordings in the firmware's replay format: what `vina synth` writes and the
//! replay source plays from flash (or semihosting), bit for bit what an ADC delivered.
//!
//! ```text
//! offset  size  field
//! 0       4     magic "VREC"
//! 4       2     format version, u16 LE (1)
//! 6       2     channels, u16 LE
//! 8       4     sample rate in Hz, f32 LE
//! 12      4     full-scale code magnitude, i32 LE (2^23 for a 24-bit converter)
//! 16      4     frames (multi-channel samples), u32 LE
//! 20      4     CRC-32 of bytes 0..20 followed by the sample bytes, u32 LE
//! 24      …     frames × channels ADC codes, i32 LE, interleaved by channel
//! ```

use core::fmt;

use crate::model_file::crc32_parts;

/// First four bytes of a recording.
pub const MAGIC: [u8; 4] = *b"VREC";
/// Version this build reads and writes.
pub const VERSION: u16 = 1;
/// Bytes before the samples.
pub const HEADER_LEN: usize = 24;

/// Why a recording was refused.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RecordingError {
    /// Not a recording.
    BadMagic,
    /// Another format version.
    UnsupportedVersion(u16),
    /// Shorter or longer than the header says.
    Length {
        /// Bytes expected.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// The header or samples do not match their CRC.
    Crc,
    /// Zero channels, a non-positive sample rate or full scale.
    Invalid(&'static str),
}

impl fmt::Display for RecordingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic => f.write_str("not a vina recording (bad magic)"),
            Self::UnsupportedVersion(v) => write!(
                f,
                "unsupported recording version {v} (this build reads {VERSION})"
            ),
            Self::Length { expected, found } => {
                write!(f, "recording length {found} bytes, header says {expected}")
            }
            Self::Crc => f.write_str("recording does not match its CRC-32 (corrupted)"),
            Self::Invalid(what) => write!(f, "invalid recording header: {what}"),
        }
    }
}

impl core::error::Error for RecordingError {}

/// A recording read in place.
#[derive(Clone, Copy, Debug)]
pub struct Recording<'a> {
    /// Channels (hydrophones).
    pub channels: usize,
    /// Sample rate, Hz.
    pub sample_rate_hz: f32,
    /// Full-scale code magnitude.
    pub full_scale: i32,
    /// Multi-channel samples.
    pub frames: usize,
    samples: &'a [u8],
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

impl<'a> Recording<'a> {
    /// Validate and read a recording.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, RecordingError> {
        let header = bytes.get(..HEADER_LEN).ok_or(RecordingError::Length {
            expected: HEADER_LEN,
            found: bytes.len(),
        })?;
        if header[..4] != MAGIC {
            return Err(RecordingError::BadMagic);
        }
        let version = u16::from_le_bytes([header[4], header[5]]);
        if version != VERSION {
            return Err(RecordingError::UnsupportedVersion(version));
        }
        let channels = usize::from(u16::from_le_bytes([header[6], header[7]]));
        let sample_rate_hz = f32::from_bits(u32_at(header, 8));
        let full_scale = u32_at(header, 12) as i32;
        let frames = u32_at(header, 16) as usize;
        if channels == 0 {
            return Err(RecordingError::Invalid("zero channels"));
        }
        if !(sample_rate_hz.is_finite() && sample_rate_hz > 0.0) {
            return Err(RecordingError::Invalid(
                "sample rate must be finite and positive",
            ));
        }
        if full_scale <= 0 {
            return Err(RecordingError::Invalid("full scale must be positive"));
        }
        let expected = frames
            .checked_mul(channels)
            .and_then(|n| n.checked_mul(4))
            .and_then(|n| n.checked_add(HEADER_LEN))
            .ok_or(RecordingError::Invalid("size overflows"))?;
        if bytes.len() != expected {
            return Err(RecordingError::Length {
                expected,
                found: bytes.len(),
            });
        }
        let samples = &bytes[HEADER_LEN..];
        if crc32_parts(&[&header[..20], samples]) != u32_at(header, 20) {
            return Err(RecordingError::Crc);
        }
        Ok(Self {
            channels,
            sample_rate_hz,
            full_scale,
            frames,
            samples,
        })
    }

    /// The codes of frame `i` into `out` (one per channel); `None` past the end.
    pub fn frame(&self, i: usize, out: &mut [i32]) -> Option<()> {
        let stride = self.channels * 4;
        let start = i.checked_mul(stride)?;
        let bytes = self.samples.get(start..start.checked_add(stride)?)?;
        for (o, b) in out.iter_mut().zip(bytes.as_chunks::<4>().0) {
            *o = i32::from_le_bytes(*b);
        }
        Some(())
    }

    /// Encode a recording (host side: `vina synth`).
    #[cfg(feature = "alloc")]
    pub fn encode(
        channels: u16,
        sample_rate_hz: f32,
        full_scale: i32,
        codes: &[i32],
    ) -> alloc::vec::Vec<u8> {
        let samples: alloc::vec::Vec<u8> = codes.iter().flat_map(|c| c.to_le_bytes()).collect();
        let frames = (codes.len() / usize::from(channels.max(1))) as u32;
        let mut out = alloc::vec::Vec::with_capacity(HEADER_LEN + samples.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&sample_rate_hz.to_bits().to_le_bytes());
        out.extend_from_slice(&full_scale.to_le_bytes());
        out.extend_from_slice(&frames.to_le_bytes());
        let crc = crc32_parts(&[&out, &samples]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&samples);
        out
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let codes: alloc::vec::Vec<i32> = (0..40).map(|i| i * 1000 - 20_000).collect();
        let bytes = Recording::encode(4, 1500.0, 1 << 23, &codes);
        let r = Recording::from_bytes(&bytes).unwrap();
        assert_eq!(
            (r.channels, r.frames, r.full_scale, r.sample_rate_hz),
            (4, 10, 1 << 23, 1500.0)
        );
        let mut f = [0i32; 4];
        r.frame(9, &mut f).unwrap();
        assert_eq!(f, [16_000, 17_000, 18_000, 19_000]);
        assert!(r.frame(10, &mut f).is_none());
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(
                Recording::from_bytes(&bad).is_err(),
                "byte {i} flip accepted"
            );
        }
        for n in 0..bytes.len() {
            assert!(Recording::from_bytes(&bytes[..n]).is_err());
        }
    }
}

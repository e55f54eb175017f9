//! The `.vina` model file (spec: `docs/model-format.md`; docs/architecture.md, "Model file and
//! export").
//!
//! ```text
//! offset  size  field
//! 0       4     magic "VINA"
//! 4       2     format version, u16 LE (this build: FORMAT_VERSION)
//! 6       4     payload length in bytes, u32 LE
//! 10      4     CRC-32 (ISO-HDLC, as zlib) of the payload, u32 LE
//! 14      …     payload, postcard: Header, Seq<Dense>, Seq<FlowRecord>,
//!               Option<EnvironmentTemplate<f32>> (version 2; absent in version 1)
//! ```
//!
//! postcard is not self-describing, so the magic, version and CRC are checked before a
//! single record is decoded; every record is then validated against the header. All dense
//! layers (condition network first, then each coupling's subnets in flow order) sit in
//! one sequence, so the decoder needs no nested collections and no heap.

use serde::{Deserialize, Serialize};

use crate::array::F32s;
use crate::error::ModelError;
use crate::features::FeatureKind;
use crate::layers::{ActNorm, CouplingStyle, Dense, Permutation};
use crate::template::EnvironmentTemplate;

/// First four bytes of every `.vina` file.
pub const MAGIC: [u8; 4] = *b"VINA";
/// The format version this build writes. Version 2 added the environment template
/// after the flow records (exact-likelihood refinement on the buoy).
pub const FORMAT_VERSION: u16 = 2;
/// The oldest format version this build still reads (version 1: no template).
pub const MIN_FORMAT_VERSION: u16 = 1;
/// Bytes before the payload.
pub const PREAMBLE_LEN: usize = 14;

const CRC: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// CRC-32 (ISO-HDLC, the zlib/PNG polynomial) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    CRC.checksum(bytes)
}

/// CRC-32 of several byte strings, as if concatenated.
pub fn crc32_parts(parts: &[&[u8]]) -> u32 {
    let mut d = CRC.digest();
    parts.iter().for_each(|p| d.update(p));
    d.finalize()
}

/// INN or conditional INN.
///
/// Model files store the variant index (postcard), so the order of the variants is part of
/// the `.vina` format; human-readable formats (a training config's `kind`) spell the
/// variants in snake case: `"inn"`, `"cinn"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// x (padded) ↔ [y, z]; posterior samples are inverse passes of [y, z].
    Inn,
    /// x ↔ z given c = h(y); h runs once per observation.
    Cinn,
}

/// What the network expects as observation features.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec<'a> {
    /// Raw pressure or relative transfer function.
    pub kind: FeatureKind,
    /// Number of receivers (hydrophones), ordered by depth.
    pub receivers: u16,
    /// Tone frequencies in Hz, in scenario order.
    #[serde(borrow)]
    pub tones_hz: F32s<'a>,
}

impl FeatureSpec<'_> {
    /// Number of tones.
    pub fn tones(&self) -> usize {
        self.tones_hz.len()
    }

    /// Number of feature values.
    pub fn len(&self) -> usize {
        self.kind.len(self.tones(), usize::from(self.receivers))
    }

    /// True when there is no feature.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Affine normalization `normalized = (value − mean) / std`, one pair per dimension.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization<'a> {
    /// Means.
    #[serde(borrow)]
    pub mean: F32s<'a>,
    /// Standard deviations (positive).
    #[serde(borrow)]
    pub std: F32s<'a>,
}

impl Normalization<'_> {
    /// Check `dim` finite means and positive finite standard deviations.
    pub fn validate(&self, what: &'static str, dim: usize) -> Result<(), ModelError> {
        let ok = self.mean.is_whole()
            && self.std.is_whole()
            && self.mean.all_finite()
            && self.std.iter().all(|s| s.is_finite() && s > 0.0);
        if !ok {
            return Err(ModelError::InvalidValue { what });
        }
        crate::error::expect_len(what, dim, self.mean.len())?;
        crate::error::expect_len(what, dim, self.std.len())
    }
}

/// The model file's header: everything needed to feed the network and read its output.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header<'a> {
    /// INN or cINN.
    pub kind: ModelKind,
    /// Number of physical parameters (posterior dimension).
    pub x_dim: u16,
    /// Number of observation features.
    pub y_dim: u16,
    /// Dimension the flow acts on: `x_dim` for a cINN; the padded total for an INN.
    pub flow_dim: u16,
    /// Width of the condition c = h(y) (cINN; 0 for an INN).
    pub cond_dim: u16,
    /// Number of dense layers of the condition network h (0: c = normalized y).
    pub cond_layers: u16,
    /// Observation features.
    #[serde(borrow)]
    pub features: FeatureSpec<'a>,
    /// Parameter names, comma-separated, in x order (e.g. `"depth_m,sound_speed_mps"`).
    pub param_names: &'a str,
    /// Normalization of x (the network works on normalized parameters).
    #[serde(borrow)]
    pub x_norm: Normalization<'a>,
    /// Normalization of y.
    #[serde(borrow)]
    pub y_norm: Normalization<'a>,
    /// Hash of the scenario the model was trained for (refuses a mismatched observation).
    pub scenario_hash: u64,
}

/// A flow layer as stored in the file. Couplings name how many dense layers each subnet
/// takes from the shared dense sequence.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum FlowRecord<'a> {
    /// ActNorm.
    ActNorm(#[serde(borrow)] ActNorm<'a>),
    /// Fixed permutation.
    Permute(#[serde(borrow)] Permutation<'a>),
    /// Affine coupling.
    Coupling {
        /// GLOW or RealNVP.
        style: CouplingStyle,
        /// Soft-clamp level.
        clamp: f32,
        /// Dense layers in subnet 1 and subnet 2 (0 for RealNVP's absent second subnet).
        subnet_layers: [u8; 2],
    },
}

/// Check the preamble and CRC; return the format version and the payload.
pub fn payload(bytes: &[u8]) -> Result<(u16, &[u8]), ModelError> {
    let magic = bytes.get(0..4).ok_or(ModelError::Truncated {
        expected: PREAMBLE_LEN,
        found: bytes.len(),
    })?;
    if magic != MAGIC {
        return Err(ModelError::BadMagic);
    }
    let pre = bytes.get(..PREAMBLE_LEN).ok_or(ModelError::Truncated {
        expected: PREAMBLE_LEN,
        found: bytes.len(),
    })?;
    let version = u16::from_le_bytes([pre[4], pre[5]]);
    if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(ModelError::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let len = u32::from_le_bytes([pre[6], pre[7], pre[8], pre[9]]) as usize;
    let stored = u32::from_le_bytes([pre[10], pre[11], pre[12], pre[13]]);
    let expected = PREAMBLE_LEN.saturating_add(len);
    if bytes.len() < expected {
        return Err(ModelError::Truncated {
            expected,
            found: bytes.len(),
        });
    }
    if bytes.len() > expected {
        return Err(ModelError::TrailingBytes {
            count: bytes.len() - expected,
        });
    }
    let payload = &bytes[PREAMBLE_LEN..];
    let computed = crc32(payload);
    if computed != stored {
        return Err(ModelError::CrcMismatch { stored, computed });
    }
    Ok((version, payload))
}

/// The 14-byte preamble for `payload`.
pub fn preamble(payload: &[u8]) -> [u8; PREAMBLE_LEN] {
    let mut p = [0u8; PREAMBLE_LEN];
    p[0..4].copy_from_slice(&MAGIC);
    p[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    p[6..10].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    p[10..14].copy_from_slice(&crc32(payload).to_le_bytes());
    p
}

/// Decode one postcard value from the front of `cursor`, advancing it.
pub(crate) fn take<'a, T: Deserialize<'a>>(
    cursor: &mut &'a [u8],
    what: &'static str,
) -> Result<T, ModelError> {
    let (value, rest) =
        postcard::take_from_bytes::<T>(cursor).map_err(|_| ModelError::Malformed { what })?;
    *cursor = rest;
    Ok(value)
}

/// Encode `header`, `dense`, `flow` and `template` as a complete file into `out`;
/// returns its length.
pub fn encode_into(
    header: &Header<'_>,
    dense: &[Dense<'_>],
    flow: &[FlowRecord<'_>],
    template: Option<&EnvironmentTemplate<f32>>,
    out: &mut [u8],
) -> Result<usize, ModelError> {
    let too_small = ModelError::CapacityExceeded {
        what: "model file output buffer",
        capacity: out.len(),
        requested: out.len() + 1,
    };
    let body = out.get_mut(PREAMBLE_LEN..).ok_or(too_small)?;
    let len = postcard::to_slice(&(header, dense, flow, template), body)
        .map_err(|_| too_small)?
        .len();
    let pre = preamble(&out[PREAMBLE_LEN..PREAMBLE_LEN + len]);
    out[..PREAMBLE_LEN].copy_from_slice(&pre);
    Ok(PREAMBLE_LEN + len)
}

/// Encode a complete file into a new vector.
#[cfg(feature = "alloc")]
pub fn encode_to_vec(
    header: &Header<'_>,
    dense: &[Dense<'_>],
    flow: &[FlowRecord<'_>],
    template: Option<&EnvironmentTemplate<f32>>,
) -> Result<alloc::vec::Vec<u8>, ModelError> {
    let payload = postcard::to_allocvec(&(header, dense, flow, template)).map_err(|_| {
        ModelError::Malformed {
            what: "model records (encoding)",
        }
    })?;
    let mut file = alloc::vec::Vec::with_capacity(PREAMBLE_LEN + payload.len());
    file.extend_from_slice(&preamble(&payload));
    file.extend_from_slice(&payload);
    Ok(file)
}

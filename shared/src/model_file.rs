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
//!               Option<EnvironmentTemplate<f32>> (version 2; absent in version 1;
//!               with the water's sound-speed profile from version 4)
//! ```
//!
//! Version 3 writes each dense layer's arrays (f32 weights, int8 scales and codes,
//! biases) as a pad string of 0–3 bytes followed by the array, the pad chosen so that the
//! array starts at a file offset that is a multiple of [`ALIGN`]; the decoder refuses a
//! version-3 array that does not ([`ModelError::Misaligned`]). Loaded at an aligned
//! address, the kernels read the weights in place as `&[f32]` (docs/model-format.md).
//!
//! postcard is not self-describing, so the magic, version and CRC are checked before a
//! single record is decoded; every record is then validated against the header. All dense
//! layers (condition network first, then each coupling's subnets in flow order) sit in
//! one sequence, so the decoder needs no nested collections and no heap.

use serde::{Deserialize, Serialize};

use crate::array::F32s;
use crate::error::ModelError;
use crate::features::FeatureKind;
use crate::layers::{ActNorm, Activation, Bounded, CouplingStyle, Dense, Permutation, Weights};
use crate::limits::MAX_DENSE;
use crate::template::EnvironmentTemplate;

/// First four bytes of every `.vina` file.
pub const MAGIC: [u8; 4] = *b"VINA";
/// The format version this build writes. Version 2 added the environment template
/// after the flow records (exact-likelihood refinement on the buoy); version 3 aligns
/// every dense layer's arrays to [`ALIGN`] bytes; version 4 adds the water's sound-speed
/// profile to the template (an empty one for isovelocity water); version 5 adds int8
/// weights in 4-row blocks with q15 activations (`Weights::I8Blocked`, the Cortex-M4's
/// SMLAD kernel), which `vina export --quantize int8` writes; version 6 adds the bounded
/// output flow record ([`FlowRecord::Bounded`], a cINN trained inside its prior's box).
pub const FORMAT_VERSION: u16 = 6;
/// The first format version with [`FlowRecord::Bounded`].
pub const BOUNDED_VERSION: u16 = 6;
/// Alignment, in bytes from the start of the file, of every dense layer's arrays in
/// version 3: an f32 (and an int8 row start) for the Cortex-M4's FPU loads.
pub const ALIGN: usize = 4;
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
    /// Bounded output (version 6): the logistic map between the prior's box and the line,
    /// first in the forward direction (a cINN only).
    Bounded(#[serde(borrow)] Bounded<'a>),
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

/// Version 3's wire form of an array the kernels read in place: a pad string, then the
/// array's bytes at an [`ALIGN`]-aligned file offset.
#[derive(Clone, Copy, Deserialize)]
struct AlignedWire<'a>(#[serde(borrow)] &'a [u8], #[serde(borrow)] &'a [u8]);

impl Serialize for AlignedWire<'_> {
    /// Both as byte strings (serde writes `&[u8]` element by element otherwise): postcard
    /// then hands the array's own slice to [`Recorder`], which finds it by address. Same
    /// bytes on the wire either way.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        struct Bytes<'b>(&'b [u8]);
        impl Serialize for Bytes<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&Bytes(self.0))?;
        t.serialize_element(&Bytes(self.1))?;
        t.end()
    }
}

/// Version 3's wire form of [`Weights`].
#[derive(Clone, Copy, Serialize, Deserialize)]
enum WeightsWire<'a> {
    F32(#[serde(borrow)] AlignedWire<'a>),
    I8 {
        #[serde(borrow)]
        scales: AlignedWire<'a>,
        #[serde(borrow)]
        codes: AlignedWire<'a>,
    },
    I8Blocked {
        #[serde(borrow)]
        scales: AlignedWire<'a>,
        #[serde(borrow)]
        codes: AlignedWire<'a>,
    },
}

/// Version 3's wire form of [`Dense`]: the same fields, each array padded.
#[derive(Clone, Copy, Serialize, Deserialize)]
pub(crate) struct DenseWire<'a> {
    in_dim: u16,
    out_dim: u16,
    activation: Activation,
    #[serde(borrow)]
    weights: WeightsWire<'a>,
    #[serde(borrow)]
    bias: AlignedWire<'a>,
}

/// Most arrays a file aligns: weights (or scales and codes) and bias of every dense layer.
const MAX_ALIGNED: usize = 3 * MAX_DENSE;

/// The arrays of `d` that version 3 aligns, in wire order.
fn aligned_arrays<'a>(d: &Dense<'a>) -> impl Iterator<Item = &'a [u8]> {
    let (a, b) = match d.weights {
        Weights::F32(w) => (w.0, None),
        Weights::I8 { scales, codes } | Weights::I8Blocked { scales, codes } => {
            (scales.0, Some(codes))
        }
    };
    [Some(a), b, Some(d.bias.0)].into_iter().flatten()
}

impl<'a> DenseWire<'a> {
    /// `d` with the pads `pads` (one per [`aligned_arrays`] entry).
    fn new(d: &Dense<'a>, pads: &[u8]) -> Self {
        const ZEROS: [u8; ALIGN] = [0; ALIGN];
        let pad = |i: usize| &ZEROS[..usize::from(pads.get(i).copied().unwrap_or(0))];
        let (weights, next) = match d.weights {
            Weights::F32(w) => (WeightsWire::F32(AlignedWire(pad(0), w.0)), 1),
            Weights::I8 { scales, codes } => (
                WeightsWire::I8 {
                    scales: AlignedWire(pad(0), scales.0),
                    codes: AlignedWire(pad(1), codes),
                },
                2,
            ),
            Weights::I8Blocked { scales, codes } => (
                WeightsWire::I8Blocked {
                    scales: AlignedWire(pad(0), scales.0),
                    codes: AlignedWire(pad(1), codes),
                },
                2,
            ),
        };
        Self {
            in_dim: d.in_dim,
            out_dim: d.out_dim,
            activation: d.activation,
            weights,
            bias: AlignedWire(pad(next), d.bias.0),
        }
    }

    /// The layer, its arrays checked to lie at [`ALIGN`]-aligned offsets from `file`.
    pub(crate) fn into_dense(self, file: &[u8]) -> Result<Dense<'a>, ModelError> {
        let check = |a: AlignedWire<'a>, what: &'static str| {
            let offset = (a.1.as_ptr() as usize).wrapping_sub(file.as_ptr() as usize);
            if a.0.len() >= ALIGN || !offset.is_multiple_of(ALIGN) {
                return Err(ModelError::Misaligned { what, offset });
            }
            Ok(a.1)
        };
        let weights = match self.weights {
            WeightsWire::F32(w) => Weights::F32(F32s(check(w, "dense f32 weights")?)),
            WeightsWire::I8 { scales, codes } => Weights::I8 {
                scales: F32s(check(scales, "dense int8 scales")?),
                codes: check(codes, "dense int8 codes")?,
            },
            WeightsWire::I8Blocked { scales, codes } => Weights::I8Blocked {
                scales: F32s(check(scales, "dense int8 scales")?),
                codes: check(codes, "dense int8 codes")?,
            },
        };
        Ok(Dense {
            in_dim: self.in_dim,
            out_dim: self.out_dim,
            activation: self.activation,
            weights,
            bias: F32s(check(self.bias, "dense bias")?),
        })
    }
}

/// The dense sequence in version 3's wire form (`pads`: one per aligned array, in order).
struct DenseSeq<'x, 'a> {
    dense: &'x [Dense<'a>],
    pads: &'x [u8],
}

impl Serialize for DenseSeq<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.dense.len()))?;
        let mut at = 0;
        for d in self.dense {
            let n = aligned_arrays(d).count();
            seq.serialize_element(&DenseWire::new(d, self.pads.get(at..).unwrap_or(&[])))?;
            at += n;
        }
        seq.end()
    }
}

/// A postcard output into a slice that notes the offset at which each of `watch` (the
/// aligned arrays, in wire order) is written: postcard hands a byte string's own slice to
/// the output, so the arrays are recognized by address.
struct Recorder<'o, 'w> {
    out: &'o mut [u8],
    len: usize,
    watch: &'w [&'w [u8]],
    offsets: heapless::Vec<usize, MAX_ALIGNED>,
}

impl postcard::ser_flavors::Flavor for Recorder<'_, '_> {
    type Output = (usize, heapless::Vec<usize, MAX_ALIGNED>);

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if let Some(next) = self.watch.get(self.offsets.len())
            && core::ptr::eq(next.as_ptr(), data.as_ptr())
            && next.len() == data.len()
        {
            self.offsets
                .push(self.len)
                .map_err(|_| postcard::Error::SerializeBufferFull)?;
        }
        let end = self.len + data.len();
        self.out
            .get_mut(self.len..end)
            .ok_or(postcard::Error::SerializeBufferFull)?
            .copy_from_slice(data);
        self.len = end;
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.try_extend(&[data])
    }

    fn finalize(self) -> postcard::Result<Self::Output> {
        Ok((self.len, self.offsets))
    }
}

/// Encode `header`, `dense`, `flow` and `template` as a complete version-4 file into
/// `out`; returns its length. The pads are found in two passes: the first notes where
/// each array lands, the second writes them aligned (a pad shifts only what follows it).
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
    let mut watch: heapless::Vec<&[u8], MAX_ALIGNED> = heapless::Vec::new();
    for a in dense.iter().flat_map(aligned_arrays) {
        watch.push(a).map_err(|_| ModelError::CapacityExceeded {
            what: "dense layers",
            capacity: MAX_DENSE,
            requested: dense.len(),
        })?;
    }
    let mut pads: heapless::Vec<u8, MAX_ALIGNED> = watch.iter().map(|_| 0).collect();
    let body = out.get_mut(PREAMBLE_LEN..).ok_or(too_small)?;
    for pass in 0..2 {
        let seq = DenseSeq { dense, pads: &pads };
        let rec = Recorder {
            out: &mut *body,
            len: 0,
            watch: &watch,
            offsets: heapless::Vec::new(),
        };
        let (len, offsets) = postcard::serialize_with_flavor(&(header, &seq, flow, template), rec)
            .map_err(|_| too_small)?;
        if offsets.len() != watch.len() {
            return Err(ModelError::Malformed {
                what: "model records (encoding: an array was not written where expected)",
            });
        }
        let mut shift = 0;
        let mut aligned = true;
        for (pad, &offset) in pads.iter_mut().zip(&offsets) {
            let miss = (PREAMBLE_LEN + offset + shift) % ALIGN;
            if miss != 0 {
                aligned = false;
                *pad += (ALIGN - miss) as u8;
                shift += ALIGN - miss;
            }
        }
        if aligned {
            let pre = preamble(&out[PREAMBLE_LEN..PREAMBLE_LEN + len]);
            out[..PREAMBLE_LEN].copy_from_slice(&pre);
            return Ok(PREAMBLE_LEN + len);
        }
        debug_assert_eq!(pass, 0, "pads found in the first pass align the second");
    }
    Err(ModelError::Malformed {
        what: "model records (encoding: arrays could not be aligned)",
    })
}

/// Encode a complete file into a new vector.
#[cfg(feature = "alloc")]
pub fn encode_to_vec(
    header: &Header<'_>,
    dense: &[Dense<'_>],
    flow: &[FlowRecord<'_>],
    template: Option<&EnvironmentTemplate<f32>>,
) -> Result<alloc::vec::Vec<u8>, ModelError> {
    // the file without pads, plus the most padding the arrays can need
    let unpadded = postcard::experimental::serialized_size(&(header, dense, flow, template))
        .map_err(|_| ModelError::Malformed {
            what: "model records (encoding)",
        })?;
    let arrays: usize = dense.iter().map(|d| aligned_arrays(d).count()).sum();
    let mut file = alloc::vec![0u8; PREAMBLE_LEN + unpadded + arrays * (ALIGN + 1)];
    let n = encode_into(header, dense, flow, template, &mut file)?;
    file.truncate(n);
    Ok(file)
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::model::Model;
    use crate::spec::{Precision, RandomArch};
    use std::string::ToString;

    /// A version-3 file whose pads do not align an array is refused with the array named
    /// and its offset, never read misaligned.
    #[test]
    fn a_misaligned_version_3_array_is_refused() {
        let file = RandomArch::default_cinn()
            .build(2)
            .encode(Precision::F32)
            .unwrap();
        let model = Model::from_bytes(&file).unwrap();
        let (h, dense, flow) = (model.header(), model.dense_layers(), model.flow_records());
        let arrays: usize = dense.iter().map(|d| aligned_arrays(d).count()).sum();
        let mut first_refused = 0;
        for first in 0..ALIGN as u8 {
            // every pad 0 but the first array's: the file is misaligned somewhere
            let mut pads = std::vec![0u8; arrays];
            pads[0] = first;
            let seq = DenseSeq { dense, pads: &pads };
            let payload = postcard::to_allocvec(&(h, &seq, &flow[..], model.template())).unwrap();
            let mut f = preamble(&payload).to_vec();
            f.extend_from_slice(&payload);
            match Model::from_bytes(&f) {
                Err(e @ ModelError::Misaligned { what, offset }) => {
                    assert_ne!(offset % ALIGN, 0);
                    assert!(e.to_string().contains("not a multiple of 4"), "{e}");
                    first_refused += usize::from(what == "dense f32 weights");
                }
                other => panic!("pad {first}: {other:?}"),
            }
        }
        assert_eq!(
            first_refused,
            ALIGN - 1,
            "one pad of the four aligns the first array"
        );
    }
}

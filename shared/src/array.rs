//! Little-endian f32 arrays read in place from a model file.
//!
//! The arrays are kept as byte slices, so any file decodes wherever it sits. Format
//! version 3 places every weight and bias array at a file offset that is a multiple of
//! [`crate::model_file::ALIGN`]; a file loaded at an aligned address (the firmware's
//! flash image, a heap buffer on the host) then hands the kernels `&[f32]` directly
//! ([`F32s::as_slice`]: FPU loads straight into registers on the Cortex-M4, vector loads on
//! the host). Older files, or a file at an odd address, take the per-element path
//! (`f32::from_le_bytes`): same values, same results, slower. No copy, no `unsafe`.

use serde::{Deserialize, Serialize};

/// A borrowed array of little-endian f32 values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct F32s<'a>(pub &'a [u8]);

impl<'a> F32s<'a> {
    /// Number of complete f32 values (a trailing partial value is rejected when decoding).
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }

    /// True when the array holds no value.
    pub fn is_empty(&self) -> bool {
        self.0.len() < 4
    }

    /// True when the byte length is a whole number of f32 values.
    pub fn is_whole(&self) -> bool {
        self.0.len().is_multiple_of(4)
    }

    /// Value `i`, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<f32> {
        let start = i.checked_mul(4)?;
        let b = self.0.get(start..start.checked_add(4)?)?;
        Some(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The values `start..start + len` as a sub-array, or `None` past the end.
    pub fn slice(&self, start: usize, len: usize) -> Option<F32s<'a>> {
        let a = start.checked_mul(4)?;
        let b = a.checked_add(len.checked_mul(4)?)?;
        self.0.get(a..b).map(F32s)
    }

    /// The values as `&[f32]` when the bytes sit at an f32-aligned address (and the
    /// target is little-endian, as the file is); `None` otherwise, for the per-element path.
    #[inline]
    pub fn as_slice(&self) -> Option<&'a [f32]> {
        if cfg!(target_endian = "little") {
            bytemuck::try_cast_slice(self.0).ok()
        } else {
            None
        }
    }

    /// All values in order.
    pub fn iter(&self) -> impl Iterator<Item = f32> + Clone + 'a {
        self.0
            .as_chunks::<4>()
            .0
            .iter()
            .map(|b| f32::from_le_bytes(*b))
    }

    /// True when every value is finite.
    pub fn all_finite(&self) -> bool {
        self.iter().all(f32::is_finite)
    }
}

/// Encode f32 values as the little-endian bytes an [`F32s`] reads.
#[cfg(feature = "alloc")]
pub fn f32_bytes(values: &[f32]) -> alloc::vec::Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

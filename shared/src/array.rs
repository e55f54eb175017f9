//! Little-endian f32 arrays read in place from a model file.
//!
//! A `.vina` file sits in flash at whatever alignment the linker gives it, so its f32
//! arrays are kept as byte slices and converted per element (`f32::from_le_bytes`, one
//! unaligned load on the Cortex-M4). No copy, no alignment requirement, no `unsafe`.

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

    /// Dot product with `x` over the first `x.len()` values (shorter of the two).
    #[inline]
    pub fn dot(&self, x: &[f32]) -> f32 {
        let mut acc = 0.0f32;
        for (w, v) in self.0.as_chunks::<4>().0.iter().zip(x) {
            acc += f32::from_le_bytes(*w) * v;
        }
        acc
    }
}

/// Encode f32 values as the little-endian bytes an [`F32s`] reads.
#[cfg(feature = "alloc")]
pub fn f32_bytes(values: &[f32]) -> alloc::vec::Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

//! Fixed permutation of the flow's dimensions (mixes the halves between couplings).

use serde::{Deserialize, Serialize};

use super::MAX_DIM;
use crate::error::{ModelError, expect_len};

/// `y[i] = x[perm[i]]`, indices stored as little-endian u16.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permutation<'a> {
    /// `2·dim` bytes: the source index of each output, u16 little-endian.
    pub indices: &'a [u8],
}

impl Permutation<'_> {
    /// Number of dimensions permuted.
    pub fn len(&self) -> usize {
        self.indices.len() / 2
    }

    /// True for an empty permutation.
    pub fn is_empty(&self) -> bool {
        self.indices.len() < 2
    }

    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.indices
            .as_chunks::<2>()
            .0
            .iter()
            .map(|b| usize::from(u16::from_le_bytes(*b)))
    }

    /// Check that this is a permutation of `0..dim`.
    pub fn validate(&self, dim: usize) -> Result<(), ModelError> {
        if !self.indices.len().is_multiple_of(2) {
            return Err(ModelError::Malformed {
                what: "permutation indices (odd byte count)",
            });
        }
        expect_len("permutation", dim, self.len())?;
        let mut seen = [false; MAX_DIM];
        for i in self.iter() {
            match seen.get_mut(i) {
                Some(s) if i < dim && !*s => *s = true,
                _ => {
                    return Err(ModelError::InvalidValue {
                        what: "permutation index out of range or repeated",
                    });
                }
            }
        }
        Ok(())
    }

    /// `x ← x[perm]`, using `tmp` (at least `x.len()` long).
    pub fn forward(&self, x: &mut [f32], tmp: &mut [f32]) -> Result<(), ModelError> {
        let n = x.len();
        expect_len("permutation input", self.len(), n)?;
        let tmp = tmp.get_mut(..n).ok_or(ModelError::CapacityExceeded {
            what: "flow dimension",
            capacity: MAX_DIM,
            requested: n,
        })?;
        for (t, i) in tmp.iter_mut().zip(self.iter()) {
            *t = *x.get(i).ok_or(ModelError::InvalidValue {
                what: "permutation index out of range",
            })?;
        }
        x.copy_from_slice(tmp);
        Ok(())
    }

    /// Exact inverse: `x[perm] ← y`.
    pub fn inverse(&self, y: &mut [f32], tmp: &mut [f32]) -> Result<(), ModelError> {
        let n = y.len();
        expect_len("permutation input", self.len(), n)?;
        let tmp = tmp.get_mut(..n).ok_or(ModelError::CapacityExceeded {
            what: "flow dimension",
            capacity: MAX_DIM,
            requested: n,
        })?;
        for (v, i) in y.iter().zip(self.iter()) {
            *tmp.get_mut(i).ok_or(ModelError::InvalidValue {
                what: "permutation index out of range",
            })? = *v;
        }
        y.copy_from_slice(tmp);
        Ok(())
    }
}

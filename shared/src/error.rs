//! The one error type for model files and network evaluation: every way a model file or
//! an input can be wrong has a variant, so the firmware can report it instead of panicking.

use core::fmt;

/// Why a model file was refused or a network call could not run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelError {
    /// The file does not start with the `.vina` magic bytes.
    BadMagic,
    /// The file's format version is not one this build reads.
    UnsupportedVersion {
        /// Version found in the file.
        found: u16,
        /// Version this build reads.
        supported: u16,
    },
    /// The file ends before the length its preamble declares.
    Truncated {
        /// Bytes the preamble promises.
        expected: usize,
        /// Bytes present.
        found: usize,
    },
    /// Bytes follow the declared payload, or the payload has bytes its records do not use.
    TrailingBytes {
        /// Number of unexplained bytes.
        count: usize,
    },
    /// The payload's CRC-32 differs from the one stored in the preamble.
    CrcMismatch {
        /// CRC stored in the file.
        stored: u32,
        /// CRC of the payload as read.
        computed: u32,
    },
    /// A record could not be decoded (postcard error) or a field holds an impossible value.
    Malformed {
        /// Which record or field.
        what: &'static str,
    },
    /// A field is out of its allowed range.
    InvalidValue {
        /// Which field, and the rule it breaks.
        what: &'static str,
    },
    /// Two sizes that must agree do not.
    DimensionMismatch {
        /// Which sizes.
        what: &'static str,
        /// Size required.
        expected: usize,
        /// Size found.
        found: usize,
    },
    /// A model needs more room than this build reserves.
    CapacityExceeded {
        /// Which fixed-capacity store.
        what: &'static str,
        /// Its capacity.
        capacity: usize,
        /// What the model asks for.
        requested: usize,
    },
    /// A version-3 array does not start at an aligned file offset (or its pad is too long).
    Misaligned {
        /// Which array.
        what: &'static str,
        /// Its offset from the start of the file.
        offset: usize,
    },
    /// An input to the network holds NaN or infinity.
    NonFiniteInput {
        /// Which input.
        what: &'static str,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadMagic => write!(f, "not a .vina model file (bad magic bytes)"),
            Self::UnsupportedVersion { found, supported } => write!(
                f,
                "unsupported .vina format version {found} (this build reads version {supported})"
            ),
            Self::Truncated { expected, found } => {
                write!(
                    f,
                    "truncated model file: expected {expected} bytes, found {found}"
                )
            }
            Self::TrailingBytes { count } => {
                write!(f, "{count} unexpected trailing bytes in model file")
            }
            Self::CrcMismatch { stored, computed } => write!(
                f,
                "model file checksum mismatch: stored CRC-32 {stored:#010x}, computed {computed:#010x}"
            ),
            Self::Malformed { what } => write!(f, "malformed model file: cannot decode {what}"),
            Self::InvalidValue { what } => write!(f, "invalid model file: {what}"),
            Self::DimensionMismatch {
                what,
                expected,
                found,
            } => write!(
                f,
                "dimension mismatch in {what}: expected {expected}, found {found}"
            ),
            Self::CapacityExceeded {
                what,
                capacity,
                requested,
            } => write!(
                f,
                "model exceeds this build's capacity for {what}: needs {requested}, capacity {capacity}"
            ),
            Self::Misaligned { what, offset } => write!(
                f,
                "malformed model file: {what} at file offset {offset}, not a multiple of {} (format version 3 aligns it)",
                crate::model_file::ALIGN
            ),
            Self::NonFiniteInput { what } => write!(f, "non-finite value (NaN or inf) in {what}"),
        }
    }
}

impl core::error::Error for ModelError {}

/// Check that a size matches, naming it in the error.
pub(crate) fn expect_len(
    what: &'static str,
    expected: usize,
    found: usize,
) -> Result<(), ModelError> {
    if expected == found {
        Ok(())
    } else {
        Err(ModelError::DimensionMismatch {
            what,
            expected,
            found,
        })
    }
}

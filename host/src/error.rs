//! Errors that mean "the input was refused" (exit code 2), as opposed to I/O or internal
//! failures (exit code 1). Messages name the file, the field and the allowed range.

/// Refused input; the message says which file and field, and what was expected.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// Shorthand: `Err(refuse(format!(..)))`.
pub fn refuse(message: impl Into<String>) -> anyhow::Error {
    InputError(message.into()).into()
}

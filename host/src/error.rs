//! The exit-code rule of the `vina` command line, and the error type behind it.
//!
//! - exit code 2: the input was refused — a bad or missing file named on the command line,
//!   a field out of range, an observation of another scenario, a usage error (clap). The
//!   message names the file, the field and what was expected.
//! - exit code 1: everything else — an internal failure, or a failure while running
//!   (writing the outputs, a numerical failure).
//!
//! Code that refuses input returns [`refuse`]`(message)` (an [`InputError`]); the CLI maps
//! any error whose chain holds an [`InputError`] to 2 ([`exit_code`]).

use std::path::Path;

/// Exit code of a refused input.
pub const EXIT_REFUSED: u8 = 2;
/// Exit code of an internal failure.
pub const EXIT_FAILURE: u8 = 1;

/// Refused input; the message says which file and field, and what was expected.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// Shorthand: `Err(refuse(format!(..)))`.
pub fn refuse(message: impl Into<String>) -> anyhow::Error {
    InputError(message.into()).into()
}

/// Whether `e` (or any error in its chain) is a refusal of input.
pub fn is_refusal(e: &anyhow::Error) -> bool {
    e.downcast_ref::<InputError>().is_some() || e.chain().any(|c| c.is::<InputError>())
}

/// The process exit code of an error: [`EXIT_REFUSED`] for a refusal, else
/// [`EXIT_FAILURE`].
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if is_refusal(e) {
        EXIT_REFUSED
    } else {
        EXIT_FAILURE
    }
}

/// What an input path must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// A readable file (not a directory).
    File,
    /// A readable directory.
    Dir,
    /// A readable file, or a directory.
    FileOrDir,
    /// A `.vina` file, or a trainer output directory holding `model.vina`.
    ModelFileOrDir,
    /// Something that exists (a serial device: opened only by the command itself).
    Exists,
}

/// Refuse an input path the command cannot read, naming it: `what` says what it is
/// ("model file", "scenario"), e.g. "cannot read model file m.vina: No such file or
/// directory (os error 2)".
pub fn check_input(path: &Path, what: &str, kind: InputKind) -> anyhow::Result<()> {
    let fail = |p: &Path, why: &dyn std::fmt::Display| {
        Err(refuse(format!("cannot read {what} {}: {why}", p.display())))
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return fail(path, &e),
    };
    let file = |p: &Path| -> anyhow::Result<()> {
        match std::fs::File::open(p) {
            Ok(_) => Ok(()),
            Err(e) => fail(p, &e),
        }
    };
    let dir = |p: &Path| -> anyhow::Result<()> {
        match std::fs::read_dir(p) {
            Ok(_) => Ok(()),
            Err(e) => fail(p, &e),
        }
    };
    match kind {
        InputKind::Exists => Ok(()),
        InputKind::File if meta.is_dir() => fail(path, &"a directory, not a file"),
        InputKind::File => file(path),
        InputKind::Dir if !meta.is_dir() => fail(path, &"not a directory"),
        InputKind::Dir => dir(path),
        InputKind::FileOrDir if meta.is_dir() => dir(path),
        InputKind::FileOrDir => file(path),
        InputKind::ModelFileOrDir if meta.is_dir() => {
            let inner = path.join("model.vina");
            if inner.exists() {
                check_input(&inner, what, InputKind::File)
            } else {
                fail(path, &"a directory without model.vina")
            }
        }
        InputKind::ModelFileOrDir => file(path),
    }
}

/// Read a file named on the command line; a failure is a refusal naming the file.
pub fn read_input(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| refuse(format!("cannot read {what} {}: {e}", path.display())))
}

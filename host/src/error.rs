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

/// Read at most `max` bytes of a file named on the command line, whole: a larger file is
/// refused before it is read (its length), and a device or FIFO that grows past `max`
/// (`/dev/zero`) is refused after `max + 1` bytes, so no input can exhaust memory. `what`
/// names the kind of file ("model file", "observation"), `max_text` the maximum as the
/// user reads it ("64 MiB").
pub fn read_input_limited(
    path: &Path,
    what: &str,
    max: u64,
    max_text: &str,
) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let fail = |why: &dyn std::fmt::Display| {
        refuse(format!("cannot read {what} {}: {why}", path.display()))
    };
    let too_large = || {
        refuse(format!(
            "{what} {}: larger than the maximum of {max_text} ({max} bytes)",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(|e| fail(&e))?;
    let meta = file.metadata().map_err(|e| fail(&e))?;
    if meta.is_dir() {
        return Err(fail(&"a directory, not a file"));
    }
    if meta.is_file() && meta.len() > max {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| fail(&e))?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
}

/// [`read_input_limited`] for a UTF-8 text file (TOML, JSON).
pub fn read_text_limited(
    path: &Path,
    what: &str,
    max: u64,
    max_text: &str,
) -> anyhow::Result<String> {
    let bytes = read_input_limited(path, what, max, max_text)?;
    String::from_utf8(bytes)
        .map_err(|e| refuse(format!("cannot read {what} {}: {e}", path.display())))
}

/// Largest text input (scenario TOML, observation or latent JSON, reference posterior
/// JSON) a command reads: far above any real one (a reference file of 10⁶ draws is
/// ~40 MB), small enough that a wrong path (`/dev/zero`, a recording) is refused at once.
pub const MAX_TEXT_INPUT: u64 = 256 << 20;
/// [`MAX_TEXT_INPUT`] as the user reads it.
pub const MAX_TEXT_INPUT_TEXT: &str = "256 MiB";

/// Refuse an output path the command could not write, before any work: `flag` names the
/// flag ("--out"). For a file (`dir == false`) the path must not be a directory; for a
/// directory it must not be a file. The nearest existing folder above it (the command
/// creates the missing ones) must be a writable directory: a probe file is created in it
/// and removed.
pub fn check_output(path: &Path, flag: &str, dir: bool) -> anyhow::Result<()> {
    let fail = |why: &dyn std::fmt::Display| {
        Err(refuse(format!(
            "{flag} {}: cannot write there: {why}",
            path.display()
        )))
    };
    if let Ok(meta) = std::fs::metadata(path) {
        if dir && !meta.is_dir() {
            return fail(&"exists and is not a directory");
        }
        if !dir && meta.is_dir() {
            return fail(&"a directory, not a file");
        }
    }
    let mut folder = if dir {
        path.to_path_buf()
    } else {
        match path.parent().filter(|p| !p.as_os_str().is_empty()) {
            Some(p) => p.to_path_buf(),
            None => std::path::PathBuf::from("."),
        }
    };
    loop {
        match std::fs::metadata(&folder) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => return fail(&format!("{} is not a directory", folder.display())),
            Err(e) => match folder.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(p) => folder = p.to_path_buf(),
                None if folder.is_relative() && folder != Path::new(".") => {
                    folder = std::path::PathBuf::from(".");
                }
                None => return fail(&format!("{}: {e}", folder.display())),
            },
        }
    }
    let probe = folder.join(format!(".vina-write-probe-{}", std::process::id()));
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
    {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => fail(&format!("{}: {e}", folder.display())),
    }
}

/// Command output on stdout went to a reader that has gone (`vina forward | head`): the
/// command ends quietly with exit code 0 ([`cli::main`](crate::cli::main)).
#[derive(Debug, thiserror::Error)]
#[error("stdout was closed by its reader")]
pub struct StdoutClosed;

/// Whether `e` (or any error in its chain) is [`StdoutClosed`].
pub fn is_stdout_closed(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<StdoutClosed>())
}

/// The error of a failed write to stdout: [`StdoutClosed`] for a broken pipe, else a
/// failure writing the output (exit code 1).
pub fn stdout_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        StdoutClosed.into()
    } else {
        anyhow::anyhow!("cannot write to stdout: {e}")
    }
}

/// Write command output to stdout and flush it; a closed pipe is [`StdoutClosed`].
/// Use [`outln!`](crate::outln) rather than `println!`, which panics on a closed pipe.
pub fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// `println!` for command output: `outln!(..)?` ends the command quietly when the reader
/// of stdout has gone ([`write_stdout`]).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::error::write_stdout("\n")
    };
    ($($arg:tt)*) => {
        $crate::error::write_stdout(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for command output ([`outln!`](crate::outln) without the newline).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::error::write_stdout(&format!($($arg)*))
    };
}

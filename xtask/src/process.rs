//! Running programs from the workspace: every task shells out to cargo, QEMU or `vina`
//! and must echo what it runs and fail on a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The workspace root (the directory above `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// A command for `program`; cargo gets [`cargo`]'s path remapping.
pub fn command(program: &str) -> Command {
    if program == "cargo" {
        cargo()
    } else {
        Command::new(program)
    }
}

/// `cargo`, with the Cortex-M builds made independent of where the checkout and the
/// registry lie: panic locations of `vina-core` (a path dependency outside the firmware
/// workspace, so rustc sees its absolute path) and of registry crates are flash strings,
/// and the size report (`cargo xtask size`, compared exactly) must not change with the
/// clone's directory. The variable adds to `.cargo/config.toml`'s rustflags.
pub fn cargo() -> Command {
    const FLAGS: &str = "CARGO_TARGET_THUMBV7EM_NONE_EABIHF_RUSTFLAGS";
    let mut flags = std::env::var(FLAGS).unwrap_or_default();
    let mut remap = |from: &Path, to: &str| {
        if let Some(from) = from.to_str().filter(|f| !f.contains(' ')) {
            flags.push_str(&format!(" --remap-path-prefix={from}={to}"));
        }
    };
    remap(&root(), "/vina");
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    if let Some(home) = home {
        remap(&home, "/cargo");
    }
    let mut cargo = Command::new("cargo");
    cargo.env(FLAGS, flags.trim_start());
    cargo
}

/// Run a command in `dir`, echoing it, failing on a non-zero exit.
pub fn run(dir: &Path, program: &str, args: &[&str]) -> anyhow::Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = command(program)
        .args(args)
        .current_dir(dir)
        .status()
        .with_context(|| format!("cannot start {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed with {status}", args.join(" "));
    }
    Ok(())
}

/// [`run`], returning what the command printed on stdout.
pub fn output(dir: &Path, program: &str, args: &[&str]) -> anyhow::Result<String> {
    eprintln!("$ {program} {}", args.join(" "));
    let out = command(program)
        .args(args)
        .current_dir(dir)
        .output()
        .with_context(|| format!("cannot start {program}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "`{program} {}` failed with {}:\n{text}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(text)
}

/// A path as `&str`, for command-line arguments.
pub fn utf8(path: &Path) -> anyhow::Result<&str> {
    path.to_str().context("non-UTF-8 path")
}

/// The `vina` binary the test step built (a `cargo run` here would resolve other
/// features and rebuild Burn); built if missing.
pub fn vina_bin() -> anyhow::Result<PathBuf> {
    let root = root();
    let vina = root.join("target/debug/vina");
    if !vina.exists() {
        run(
            &root,
            "cargo",
            &["build", "-p", "vina-host", "--bin", "vina"],
        )?;
    }
    Ok(vina)
}

/// A committed report (sizes, instruction counts, duty cycle): with `write`, replace it by
/// `fresh`; otherwise fail unless `agree(committed, fresh)` accepts the committed one,
/// saying which task rewrites it. Every `cargo xtask … [--write]` report goes through here.
pub fn write_or_check(
    path: &Path,
    fresh: &str,
    write: bool,
    task: &str,
    agree: impl Fn(&str, &str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if write {
        std::fs::write(path, fresh).with_context(|| format!("cannot write {}", path.display()))?;
        return Ok(());
    }
    let committed =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    agree(&committed, fresh).with_context(|| {
        format!(
            "{} no longer holds: run `cargo xtask {task} --write` and commit it",
            path.display()
        )
    })
}

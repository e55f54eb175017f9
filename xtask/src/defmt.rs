//! The buoy with defmt logs on QEMU, decoded by `defmt-print`: a manual run, since
//! installing `defmt-print` takes minutes (CI only builds the `defmt` feature).

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::process::root;
use crate::qemu::hex_report;
use crate::recording::standard_recording;

/// The buoy with defmt logs (feature `defmt`) under QEMU on a recording: semihosting
/// stdout (defmt frames) through `defmt-print -e ELF`, report frames from stderr decoded.
/// Needs `defmt-print` on PATH (`cargo install defmt-print`, ~3 min cold on 2 cores).
pub fn defmt(recording: Option<&Path>) -> anyhow::Result<()> {
    if Command::new("defmt-print")
        .arg("--version")
        .output()
        .is_err()
    {
        bail!("defmt-print is not on PATH: `cargo install defmt-print` (~3 min)");
    }
    let root = root();
    let recording = match recording {
        Some(r) => std::path::absolute(r)?,
        None => standard_recording()?,
    };
    let fw = root.join("firmware");
    let mut build = crate::process::cargo();
    build
        .args(["build", "--quiet", "--release", "--features", "defmt"])
        .args(["--bin", "buoy"])
        .env("VINA_RECORDING", &recording)
        .current_dir(&fw);
    eprintln!(
        "$ VINA_RECORDING={} cargo build --release --features defmt --bin buoy",
        recording.display()
    );
    if !build.status()?.success() {
        bail!("firmware build failed");
    }
    let elf = fw.join("target/thumbv7em-none-eabihf/release/buoy");
    let mut qemu = Command::new("qemu-system-arm")
        .args(["-cpu", "cortex-m4", "-machine", "mps2-an386", "-nographic"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(&elf)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start qemu-system-arm")?;
    let logs = qemu.stdout.take().context("no QEMU stdout")?;
    let printer = Command::new("defmt-print")
        .arg("-e")
        .arg(&elf)
        .stdin(logs)
        .spawn()
        .context("cannot start defmt-print: `cargo install defmt-print`")?;
    let out = qemu.wait_with_output()?;
    let printed = printer.wait_with_output()?;
    if !out.status.success() || !printed.status.success() {
        bail!(
            "QEMU exited with {}, defmt-print with {}",
            out.status,
            printed.status
        );
    }
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        if let Some(hex) = line.strip_prefix("frame ") {
            println!("{:?}", hex_report(hex)?);
        }
    }
    Ok(())
}

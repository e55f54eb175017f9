//! The buoy pipeline with `std`: on ARM Linux (`aarch64-unknown-linux-gnu` under
//! `qemu-aarch64`), checked against the Cortex-M, and built for this machine as the demo's
//! fallback when QEMU is missing. Same firmware library, so the reports must agree.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use vina_core::report::Report;

use crate::process::{root, run};
use crate::qemu::{decode_frames, qemu_buoy};
use crate::recording::standard_recording;

/// The buoy on ARM Linux: `buoy_linux` (feature `linux`) cross-built for
/// `aarch64-unknown-linux-gnu` and run under `qemu-aarch64` on a recording (default: the
/// standard one) with a model file (default: the one built in, as on the Cortex-M); its
/// stdout is the report frames, decoded here.
pub fn linux(model: Option<&Path>, recording: Option<&Path>) -> anyhow::Result<Vec<Report>> {
    let root = root();
    let recording = match recording {
        Some(r) => std::path::absolute(r)?,
        None => standard_recording()?,
    };
    let fw = root.join("firmware");
    #[rustfmt::skip]
    run(&fw, "cargo", &[
        "build", "--quiet", "--release", "--features", "linux",
        "--target", "aarch64-unknown-linux-gnu", "--bin", "buoy_linux",
    ])?;
    let elf = fw.join("target/aarch64-unknown-linux-gnu/release/buoy_linux");
    let mut cmd = Command::new("qemu-aarch64");
    cmd.args(["-L", "/usr/aarch64-linux-gnu"])
        .arg(&elf)
        .arg("--recording")
        .arg(&recording)
        .current_dir(&fw);
    if let Some(m) = model {
        cmd.arg("--model").arg(std::path::absolute(m)?);
    }
    eprintln!(
        "$ qemu-aarch64 -L /usr/aarch64-linux-gnu {} --recording {}{}",
        elf.display(),
        recording.display(),
        model
            .map(|m| format!(" --model {}", m.display()))
            .unwrap_or_default()
    );
    let out = cmd
        .output()
        .context("cannot start qemu-aarch64 (package qemu-user)")?;
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("buoy_linux failed with {}", out.status);
    }
    let reports = decode_frames(&out.stdout)?;
    for r in &reports {
        println!("{r:?}");
    }
    Ok(reports)
}

/// Whether two reports agree: everything but the summaries exactly, the summaries within
/// `rel` relative (floats may differ in the last bits across targets).
fn reports_agree(a: &Report, b: &Report, rel: f32) -> bool {
    let close = |x: f32, y: f32| (x - y).abs() <= rel * x.abs().max(y.abs()).max(1.0);
    (
        a.sequence,
        a.scenario_hash,
        a.samples,
        a.seed,
        a.clipped_samples,
        a.non_finite_values,
        a.dropped_frames,
        a.blanked_samples,
        a.status,
        a.parameters.len(),
    ) == (
        b.sequence,
        b.scenario_hash,
        b.samples,
        b.seed,
        b.clipped_samples,
        b.non_finite_values,
        b.dropped_frames,
        b.blanked_samples,
        b.status,
        b.parameters.len(),
    ) && a.parameters.iter().zip(&b.parameters).all(|(p, q)| {
        (p.count, p.non_finite) == (q.count, q.non_finite)
            && [
                (p.mean, q.mean),
                (p.std, q.std),
                (p.q05, q.q05),
                (p.q50, q.q50),
                (p.q95, q.q95),
            ]
            .iter()
            .all(|&(x, y)| close(x, y))
    })
}

/// CI: the ARM Linux build's reports equal the Cortex-M's (QEMU) on the same model,
/// recording and seeds, within 1e-4 (`cargo xtask linux --compare`).
pub fn linux_check(model: Option<&Path>, recording: Option<&Path>) -> anyhow::Result<()> {
    let recording = match recording {
        Some(r) => r.to_path_buf(),
        None => standard_recording()?,
    };
    let cortex_m = qemu_buoy(model, Some(&recording), &[], false)?.reports;
    let aarch64 = linux(model, Some(&recording))?;
    if aarch64.len() != cortex_m.len() || aarch64.is_empty() {
        bail!(
            "ARM Linux gave {} reports, the Cortex-M {}",
            aarch64.len(),
            cortex_m.len()
        );
    }
    for (l, m) in aarch64.iter().zip(&cortex_m) {
        if !reports_agree(l, m, 1e-4) {
            bail!(
                "ARM Linux report differs from the Cortex-M's:
{l:?}
{m:?}"
            );
        }
    }
    eprintln!(
        "linux: {} aarch64 reports equal the Cortex-M QEMU reports within 1e-4",
        aarch64.len()
    );
    adc_refused()
}

/// The ADC path of `buoy_linux` on a machine without the device: it must fail at once,
/// naming what it could not open (under `qemu-aarch64` the paths are this machine's).
fn adc_refused() -> anyhow::Result<()> {
    let elf = root().join("firmware/target/aarch64-unknown-linux-gnu/release/buoy_linux");
    let missing = "/dev/vina-no-such-gpiochip";
    #[rustfmt::skip]
    let args = [
        "-L", "/usr/aarch64-linux-gnu", crate::process::utf8(&elf)?, "--spi", "/dev/spidev9.9",
        "--drdy", &format!("{missing}:17"), "--reports", "1",
    ];
    eprintln!("$ qemu-aarch64 {}", args.join(" "));
    let out = Command::new("qemu-aarch64").args(args).output()?;
    let said = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || !said.contains(missing) || !out.stdout.is_empty() {
        bail!("buoy_linux without its ADC: {}, said {said:?}", out.status);
    }
    eprintln!(
        "linux: without its ADC, buoy_linux stops and says {}",
        said.trim()
    );
    // bad settings are refused before any device is opened, naming the flag
    for (flag, value, expect) in [
        ("--drdy", "gpiochip0", "expected CHIP:LINE"),
        ("--osr", "1000", "expected 128, 256"),
    ] {
        let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        match args.iter().position(|a| a == flag) {
            Some(i) => args[i + 1] = value.to_owned(),
            None => args.extend([flag.to_owned(), value.to_owned()]),
        }
        let out = Command::new("qemu-aarch64").args(&args).output()?;
        let said = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || !said.contains(flag) || !said.contains(expect) {
            bail!("buoy_linux {flag} {value}: {}, said {said:?}", out.status);
        }
    }
    eprintln!("linux: a bad --drdy or --osr is refused naming the flag");
    Ok(())
}

/// The buoy pipeline built for this machine (`buoy_linux`, std) on a model and recording:
/// the fallback when QEMU is missing.
pub fn host_buoy(model: &Path, recording: &Path) -> anyhow::Result<Vec<Report>> {
    let root = root();
    let fw = root.join("firmware");
    let target = "x86_64-unknown-linux-gnu";
    #[rustfmt::skip]
    run(&fw, "cargo", &[
        "build", "--quiet", "--release", "--features", "linux", "--target", target, "--bin", "buoy_linux",
    ])?;
    let exe = fw.join(format!("target/{target}/release/buoy_linux"));
    let out = Command::new(&exe)
        .arg("--recording")
        .arg(recording)
        .arg("--model")
        .arg(model)
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("buoy_linux failed with {}", out.status);
    }
    decode_frames(&out.stdout)
}

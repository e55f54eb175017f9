//! The firmware under QEMU (Cortex-M4, `mps2-an386`): the self-test, the buoy on a
//! recording, and the check that its reports hold the truth and equal `vina invert`.
//! Every run uses `-icount shift=0`, so instruction counts and outputs repeat exactly.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use vina_core::report::Report;

use crate::process::{output, root, utf8, vina_bin};
use crate::recording::{TRUTH, standard_recording};

/// Run a Cortex-M ELF under QEMU with `-icount shift=0`; its semihosting output.
pub fn qemu_icount(dir: &Path, elf: &Path) -> anyhow::Result<String> {
    #[rustfmt::skip]
    let qemu = [
        "-cpu", "cortex-m4", "-machine", "mps2-an386", "-nographic",
        "-semihosting-config", "enable=on,target=native", "-icount", "shift=0",
        "-kernel", utf8(elf)?,
    ];
    output(dir, "qemu-system-arm", &qemu)
}

/// Build and run the firmware self-test under QEMU; check it against the host's vectors.
pub fn selftest() -> anyhow::Result<()> {
    let fw = root().join("firmware");
    let out = output(
        &fw,
        "cargo",
        &["run", "--quiet", "--release", "--bin", "selftest"],
    )?;
    print!("{out}");
    let expected = [
        format!("rng u32 {:08x?}", vina_core::rng::SEED_42_U32),
        format!(
            "rng normal bits {:08x?}",
            vina_core::rng::SEED_42_NORMAL_BITS
        ),
    ];
    for line in &expected {
        if !out.lines().any(|l| l == line) {
            bail!("Cortex-M self-test differs from the host: expected `{line}`");
        }
    }
    // "kernel <which>: N cases, 0 mismatches", N > 0
    let kernel_check = |which: &str, against: &str| -> anyhow::Result<String> {
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix(&format!("kernel {which}: ")))
            .with_context(|| format!("the self-test printed no {which} kernel check"))?;
        if !line.ends_with(" 0 mismatches") || line.starts_with("0 cases") {
            bail!("Cortex-M4 {which} kernel differs from {against}: {line}");
        }
        Ok(line.to_string())
    };
    let kernel = kernel_check("f32", "the portable reference")?;
    let int8 = kernel_check("int8", "its scalar definition")?;
    eprintln!(
        "selftest: Cortex-M4 PRNG stream equals the host's committed vector; dense kernels equal their references bit for bit (f32 {kernel}; int8 {int8})"
    );
    Ok(())
}

/// A buoy summary equals `host`'s JSON summary (mean, std, q05, q50, q95) within 1e-4
/// relative to max(1, |v|); `what` and `engine` name them in the error.
fn summary_agrees(
    buoy: &vina_core::summary::SummaryValues,
    host: &serde_json::Value,
    what: &str,
    engine: &str,
) -> anyhow::Result<()> {
    for (field, b) in [
        ("mean", buoy.mean),
        ("std", buoy.std),
        ("q05", buoy.q05),
        ("q50", buoy.q50),
        ("q95", buoy.q95),
    ] {
        let v = host[field]
            .as_f64()
            .with_context(|| format!("{engine}: {what}: no summary field {field}"))?;
        if (v - f64::from(b)).abs() / v.abs().max(1.0) > 1e-4 {
            bail!("{what} {field}: buoy {b} vs {engine} {v}");
        }
    }
    Ok(())
}

/// Decode the report frames of a byte stream (0x00-delimited COBS frames).
pub fn decode_frames(stream: &[u8]) -> anyhow::Result<Vec<Report>> {
    stream
        .split_inclusive(|&b| b == 0)
        .filter(|f| f.len() > 1)
        .map(|f| {
            Report::decode(&mut f.to_vec()).map_err(|e| anyhow::anyhow!("bad report frame: {e}"))
        })
        .collect()
}

/// The report of a `frame HEX` line (`vina_core::report::Report::decode_hex`, the text
/// form's one decoder).
pub fn hex_report(hex: &str) -> anyhow::Result<Report> {
    Report::decode_hex(hex.as_bytes()).map_err(|e| anyhow::anyhow!("bad report frame: {e}"))
}

/// What one buoy run under QEMU gave: its reports and its stack's high-water mark.
pub struct BuoyRun {
    pub reports: Vec<Report>,
    /// The features of each report (by sequence number), exact f32 values.
    pub features: Vec<(u32, Vec<f32>)>,
    /// Deepest stack use, bytes (the stack is painted at reset).
    pub stack_high_water: u64,
    /// Bytes the stack may take (RAM left after static data).
    pub stack_size: u64,
}

/// Run the buoy firmware under QEMU on a recording (default: a fresh `vina synth` of
/// gi-pekeris) with a model (default: the committed gi-pekeris cINN) and the firmware's
/// `cargo_features` (e.g. `refine`), decode its report frames and return them.
pub fn qemu(
    model: Option<&Path>,
    recording: Option<&Path>,
    cargo_features: &[&str],
) -> anyhow::Result<Vec<Report>> {
    Ok(qemu_buoy(model, recording, cargo_features, true)?.reports)
}

/// [`qemu`] with the firmware's exact-likelihood refinement (feature `refine`): each
/// report's refined posterior must equal the same refinement replayed on the host in f32
/// (`vina_core`'s `Refiner`, same model, features, seed and sweeps), whatever the model
/// (the eight-unknown one too; `cargo xtask refine-cost` adds the gi-pekeris budgets).
pub fn qemu_refined(model: Option<&Path>, recording: Option<&Path>) -> anyhow::Result<()> {
    let run = qemu_buoy(model, recording, &["--features", "refine"], true)?;
    let path = model.map_or_else(|| root().join("models/gi-pekeris-cinn.vina"), PathBuf::from);
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let m = vina_core::model::Model::from_bytes(&bytes)?;
    if run.features.len() != run.reports.len() {
        bail!(
            "the buoy printed features for {} of {} reports",
            run.features.len(),
            run.reports.len()
        );
    }
    for (r, (seq, y)) in run.reports.iter().zip(&run.features) {
        if r.refined.is_none() {
            continue;
        }
        crate::cost::refinement_agrees(&m, y, r)?;
        eprintln!("report {seq}: the refined posterior equals the host's f32 replay");
    }
    Ok(())
}

/// [`qemu`], with the stack's high-water mark; prints the decoded output when `echo`.
pub fn qemu_buoy(
    model: Option<&Path>,
    recording: Option<&Path>,
    cargo_features: &[&str],
    echo: bool,
) -> anyhow::Result<BuoyRun> {
    let root = root();
    let recording = match recording {
        Some(r) => PathBuf::from(r),
        None => standard_recording()?,
    };
    let fw = root.join("firmware");
    let mut build = crate::process::cargo();
    build
        .args(["build", "--quiet", "--release", "--bin", "buoy"])
        .args(cargo_features)
        .current_dir(&fw);
    build.env("VINA_RECORDING", std::path::absolute(&recording)?);
    if let Some(m) = model {
        build.env("VINA_MODEL", std::path::absolute(m)?);
    }
    eprintln!(
        "$ VINA_RECORDING={} cargo build --release --bin buoy {}",
        recording.display(),
        cargo_features.join(" ")
    );
    if !build.status()?.success() {
        bail!("firmware build failed");
    }
    let elf = fw.join("target/thumbv7em-none-eabihf/release/buoy");
    let out = qemu_icount(&fw, &elf)?;
    let mut reports = Vec::new();
    let mut features = Vec::new();
    let mut stack = None;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("features ") {
            features.push(parse_features(rest)?);
        } else if let Some(hex) = line.strip_prefix("frame ") {
            let report = hex_report(hex)?;
            if echo {
                println!("{report:?}");
            }
            reports.push(report);
        } else {
            if let Some(rest) = line.strip_prefix("stack high-water ") {
                stack = parse_stack(rest).or(stack);
            }
            if echo {
                println!("{line}");
            }
        }
    }
    let (stack_high_water, stack_size) =
        stack.context("the buoy printed no stack high-water mark")?;
    Ok(BuoyRun {
        reports,
        features,
        stack_high_water,
        stack_size,
    })
}

/// CI: the buoy under QEMU on the standard recording, with the committed model. Each
/// report's 90 % interval must hold the truth, its summary must equal `vina invert
/// --engine core` on the same features and seed within 1e-4 (relative to max(1, |v|)),
/// and `vina replay` on the same recording (the pipeline on the host) must give the same
/// reports within 1e-4.
pub fn qemu_check() -> anyhow::Result<()> {
    let path = standard_recording()?;
    let run = qemu_buoy(None, Some(&path), &[], true)?;
    if run.reports.len() != 2 || run.features.len() != 2 {
        bail!(
            "expected 2 reports with features from 70 s of recording, got {} and {}",
            run.reports.len(),
            run.features.len()
        );
    }
    check_buoy_reports(
        &run.reports,
        &run.features,
        &path,
        "models/gi-pekeris-cinn.vina",
    )
}

/// The checks of a buoy's reports from a committed `model` on a recording of gi-pekeris
/// at [`TRUTH`]: equal to `vina replay` on the same recording, each a posterior of 1000
/// samples whose 90 % intervals hold the truth, equal to `vina invert --engine core` on
/// its features (`features`: by sequence number) and seed. All within 1e-4.
pub fn check_buoy_reports(
    reports: &[Report],
    features: &[(u32, Vec<f32>)],
    recording: &Path,
    model: &str,
) -> anyhow::Result<()> {
    let root = root();
    let vina = vina_bin()?;
    #[rustfmt::skip]
    let replay = output(&root, utf8(&vina)?, &[
        "replay", "--model", model, "--recording", utf8(recording)?, "--json",
    ])?;
    let host: Vec<serde_json::Value> = replay
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("vina replay --json")?;
    if host.len() != reports.len() || features.len() != reports.len() {
        bail!(
            "vina replay gave {} reports, the buoy {} (with {} feature lines)",
            host.len(),
            reports.len(),
            features.len()
        );
    }
    for (r, h) in reports.iter().zip(&host) {
        for (i, p) in r.parameters.iter().enumerate() {
            let what = format!("report {} parameter {i}", r.sequence);
            summary_agrees(p, &h["parameters"][i], &what, "vina replay")?;
        }
    }
    eprintln!(
        "vina replay on the same recording: the buoy's {} reports within 1e-4",
        reports.len()
    );
    for (r, (seq, y)) in reports.iter().zip(features) {
        if r.status != vina_core::report::Status::Posterior
            || r.parameters.len() != 2
            || r.samples != 1000
            || r.sequence != *seq
        {
            bail!("unexpected report {r:?}");
        }
        for (p, t) in r.parameters.iter().zip(TRUTH) {
            if !(f64::from(p.q05) <= t && t <= f64::from(p.q95)) {
                bail!(
                    "report {}: truth {t} outside the 90 % interval [{}, {}]",
                    r.sequence,
                    p.q05,
                    p.q95
                );
            }
        }
        let obs = root.join(format!("target/xtask-features-{seq}.json"));
        let y: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
        std::fs::write(&obs, serde_json::json!({ "y": y }).to_string())?;
        let seed = r.seed.to_string();
        #[rustfmt::skip]
        let out = output(&root, utf8(&vina)?, &[
            "invert", "--engine", "core", "--model", model, "--observation",
            utf8(&obs)?, "--seed", &seed, "--draws", "1000", "--json",
        ])?;
        let host: serde_json::Value = serde_json::from_str(&out)?;
        let names = ["water_depth_m", "water_sound_speed_mps"];
        for (p, name) in r.parameters.iter().zip(names) {
            let what = format!("report {seq} {name}");
            summary_agrees(p, &host["summary"][name], &what, "vina invert")?;
        }
        eprintln!(
            "report {seq}: truth inside both 90 % intervals; summary equals vina invert --engine core (seed {seed})"
        );
    }
    Ok(())
}

/// Parse a `features N HEX` line's rest (`N HEX`): the sequence number and the exact f32
/// values.
pub fn parse_features(rest: &str) -> anyhow::Result<(u32, Vec<f32>)> {
    let (seq, hex) = rest
        .split_once(' ')
        .context("features line without values")?;
    let values = (0..hex.len() / 8)
        .map(|i| u32::from_str_radix(&hex[8 * i..8 * i + 8], 16).map(f32::from_bits))
        .collect::<Result<Vec<f32>, _>>()
        .context("features are not hex")?;
    Ok((seq.parse()?, values))
}

/// Parse a `stack high-water N B of M B` line's rest (`N B of M B`).
pub fn parse_stack(rest: &str) -> Option<(u64, u64)> {
    let n: Vec<u64> = rest
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match n[..] {
        [used, size] => Some((used, size)),
        _ => None,
    }
}

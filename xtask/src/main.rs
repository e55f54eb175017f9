//! `cargo xtask …`: the project's checks as a short list of one-liners (defmt's pattern).
//!
//! - `cargo xtask demo [--seed S] [--samples N]`: the main job (simulate → train → export →
//!   synthesize → firmware on QEMU → truth against posterior).
//! - `cargo xtask ci`: everything CI runs, in order, with the time of each step.
//! - `cargo xtask selftest`: build the firmware self-test, run it under QEMU (Cortex-M4,
//!   `mps2-an386`) and compare its output with the host's committed vectors.
//! - `cargo xtask forward-cost`: instructions per gi-pekeris environment of the f32
//!   forward model on the Cortex-M4, deterministic (`-icount shift=0`).
//! - `cargo xtask qemu [--model FILE] [--recording FILE]`: the buoy firmware on QEMU,
//!   report frames decoded.
//! - `cargo xtask linux [--model FILE] [--recording FILE] [--compare]`: the same pipeline
//!   with `std` on ARM Linux (`aarch64-unknown-linux-gnu` under `qemu-aarch64`), report
//!   frames decoded; `--compare` checks them against the Cortex-M's on QEMU (within 1e-4).
//! - `cargo xtask defmt [--recording FILE]`: the buoy with defmt logs on QEMU, decoded by
//!   `defmt-print` (install it first; CI builds the feature only).
//! - `cargo xtask size [--write]`: firmware flash/RAM against the budgets and the buoy's
//!   measured stack high-water mark, compared with the committed `firmware/size-report.txt`.
//! - `cargo xtask refine-cost [--write]`: the buoy's exact-likelihood refinement under QEMU
//!   against the host's replays, and its instruction counts (`bench/refine_cortex_m4.txt`).
//! - `cargo xtask mlp-cost [--write]`: one subnet MLP on the Cortex-M4, vina-core against
//!   microflow's generated code (`bench/mlp_m4`, `bench/mlp_cortex_m4.txt`).
//! - `cargo xtask sample-cost [--write]`: instructions per posterior sample of the default
//!   cINN architecture on the Cortex-M4, f32 and int8, compared with the committed
//!   `bench/sample_cortex_m4.txt` (±1 %; `--write` updates it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// Run a command in `dir`, echoing it, failing on a non-zero exit.
fn run(dir: &Path, program: &str, args: &[&str]) -> anyhow::Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .with_context(|| format!("cannot start {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed with {status}", args.join(" "));
    }
    Ok(())
}

fn output(dir: &Path, program: &str, args: &[&str]) -> anyhow::Result<String> {
    eprintln!("$ {program} {}", args.join(" "));
    let out = Command::new(program)
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

/// Build and run the firmware self-test under QEMU; check it against the host's vectors.
fn selftest() -> anyhow::Result<()> {
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
    eprintln!("selftest: Cortex-M4 PRNG stream equals the host's committed vector");
    Ok(())
}

/// Build a firmware binary and run it under QEMU with `-icount shift=0` (deterministic
/// instruction counts); returns what it printed.
fn qemu_measure(bin: &str, features: &[&str]) -> anyhow::Result<String> {
    let fw = root().join("firmware");
    let mut args = vec!["build", "--quiet", "--release", "--bin", bin];
    args.extend_from_slice(features);
    run(&fw, "cargo", &args)?;
    qemu_icount(
        &fw,
        &fw.join("target/thumbv7em-none-eabihf/release").join(bin),
    )
}

const QEMU_HEADER: &str = "QEMU mps2-an386 (Cortex-M4), -icount shift=0, SysTick at the 25 MHz core clock (40 instructions per tick)";

/// Instructions per gi-pekeris environment of the f32 forward model on the Cortex-M4,
/// written to `bench/forward_cortex_m4.txt`.
fn forward_cost() -> anyhow::Result<()> {
    let out = qemu_measure("forward_cost", &[])?;
    print!("{out}");
    let report = format!("# cargo xtask forward-cost: {QEMU_HEADER}\n{out}");
    std::fs::write(root().join("bench/forward_cortex_m4.txt"), report)?;
    Ok(())
}

/// Instructions per posterior sample of the default cINN architecture (random weights
/// unless VINA_MODEL names a trained model), f32 and int8, compared with the committed
/// `bench/sample_cortex_m4.txt` (`--write` updates it).
fn sample_cost(write: bool) -> anyhow::Result<()> {
    let f32_run = qemu_measure("sample_cost", &[])?;
    let int8_run = qemu_measure("sample_cost", &["--features", "int8-model"])?;
    let out = format!("{f32_run}{int8_run}");
    print!("{out}");
    let report = format!("# cargo xtask sample-cost: {QEMU_HEADER}\n{out}");
    write_or_compare("sample_cortex_m4.txt", "sample-cost", &report, write)
}

/// Write `report` to the committed `bench/NAME` (`--write`), or fail unless its
/// instruction counts are within [`SAMPLE_COST_TOLERANCE`] of the committed ones.
fn write_or_compare(name: &str, task: &str, report: &str, write: bool) -> anyhow::Result<()> {
    let path = root().join("bench").join(name);
    if write {
        std::fs::write(&path, report)?;
        return Ok(());
    }
    let committed = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    compare_instruction_counts(&committed, report, SAMPLE_COST_TOLERANCE).with_context(|| {
        format!(
            "instruction counts differ from the committed {} by more than {} %: run `cargo xtask {task} --write` and commit it",
            path.display(),
            100.0 * SAMPLE_COST_TOLERANCE
        )
    })?;
    eprintln!(
        "{task}: within {} % of the committed {}",
        100.0 * SAMPLE_COST_TOLERANCE,
        path.display()
    );
    Ok(())
}

/// Run a Cortex-M ELF under QEMU with `-icount shift=0`; its semihosting output.
fn qemu_icount(dir: &Path, elf: &Path) -> anyhow::Result<String> {
    #[rustfmt::skip]
    let qemu = [
        "-cpu", "cortex-m4", "-machine", "mps2-an386", "-nographic",
        "-semihosting-config", "enable=on,target=native", "-icount", "shift=0",
        "-kernel", elf.to_str().context("non-UTF-8 path")?,
    ];
    output(dir, "qemu-system-arm", &qemu)
}

/// Issue 9 item 4: one subnet MLP of the default int8 cINN on the Cortex-M4, vina-core
/// against microflow 0.1.3's generated code for the same MLP (`bench/mlp_m4`, its own
/// crate; `subnet.tflite` from `bench/mlp_m4/make_tflite.py`), compared with the
/// committed `bench/mlp_cortex_m4.txt` (`--write` updates it). The binary itself fails
/// unless both engines compute the same function.
fn mlp_cost(write: bool) -> anyhow::Result<()> {
    let dir = root().join("bench/mlp_m4");
    run(&dir, "cargo", &["build", "--quiet", "--release"])?;
    let out = qemu_icount(
        &dir,
        &dir.join("target/thumbv7em-none-eabihf/release/mlp-m4"),
    )?;
    print!("{out}");
    let report = format!("# cargo xtask mlp-cost: {QEMU_HEADER}\n{out}");
    write_or_compare("mlp_cortex_m4.txt", "mlp-cost", &report, write)
}

/// Relative change of an instruction count that `cargo xtask sample-cost` accepts. The
/// counts are exact and repeat run to run under `-icount shift=0`, so any change comes from
/// the code; 1 % lets toolchain-level noise (a moved constant, another inlining decision)
/// through and stops real regressions.
const SAMPLE_COST_TOLERANCE: f64 = 0.01;

/// The `(model, what, count)` instruction counts of a sample-cost report: every
/// "N instructions…" figure on each "model: …" line.
fn instruction_counts(report: &str) -> Vec<(String, String, u64)> {
    let mut counts = Vec::new();
    for line in report.lines().filter(|l| !l.starts_with('#')) {
        let Some((model, rest)) = line.split_once(": ") else {
            continue;
        };
        for part in rest.split(';') {
            let words: Vec<&str> = part.split_whitespace().collect();
            for (i, w) in words.iter().enumerate() {
                if words.get(i + 1) == Some(&"instructions")
                    && let Ok(n) = w.parse::<u64>()
                {
                    let what = format!("{} {}", words[..i].join(" "), words[i + 1..].join(" "));
                    let what = what.trim().to_owned();
                    counts.push((model.to_owned(), what, n));
                }
            }
        }
    }
    counts
}

/// Fail unless both reports hold the same instruction counts within `tolerance`.
fn compare_instruction_counts(committed: &str, fresh: &str, tolerance: f64) -> anyhow::Result<()> {
    let (old, new) = (instruction_counts(committed), instruction_counts(fresh));
    if old.is_empty() || old.len() != new.len() {
        bail!(
            "the reports list different measurements:\n--- committed\n{committed}--- now\n{fresh}"
        );
    }
    let mut bad = Vec::new();
    for ((m0, w0, n0), (m1, w1, n1)) in old.iter().zip(&new) {
        if (m0, w0) != (m1, w1) {
            bail!("measurement `{m0}: {w0}` is now `{m1}: {w1}`");
        }
        let change = (*n1 as f64 - *n0 as f64) / (*n0).max(1) as f64;
        eprintln!(
            "{m0}: {w0}: committed {n0}, now {n1} ({:+.2} %)",
            100.0 * change
        );
        if change.abs() > tolerance {
            bad.push(format!(
                "{m0}: {w0}: {n0} → {n1} ({:+.2} %)",
                100.0 * change
            ));
        }
    }
    if !bad.is_empty() {
        bail!("{}", bad.join("\n"));
    }
    Ok(())
}

/// Flash and RAM of one firmware ELF, from its allocated sections (cortex-m-rt layout:
/// `.vector_table .text .rodata .data` in flash, `.data .bss .uninit` in RAM; the stack
/// takes the rest of RAM).
fn elf_size(path: &Path) -> anyhow::Result<(u64, u64)> {
    use object::{Object, ObjectSection};
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let elf = object::File::parse(&*bytes).context("not an ELF file")?;
    let (mut flash, mut ram) = (0, 0);
    for s in elf.sections() {
        match s.name().unwrap_or("") {
            ".vector_table" | ".text" | ".rodata" | ".gnu.sgstubs" => flash += s.size(),
            ".data" => {
                flash += s.size();
                ram += s.size();
            }
            ".bss" | ".uninit" => ram += s.size(),
            _ => {}
        }
    }
    Ok((flash, ram))
}

const FLASH_BUDGET: u64 = 256 * 1024;
const RAM_BUDGET: u64 = 64 * 1024;

/// The firmware size report: every binary's flash and RAM against the design's budgets.
fn size_report() -> anyhow::Result<String> {
    let fw = root().join("firmware");
    let mut report = String::from(
        "# cargo xtask size: firmware flash and RAM (static; the stack takes the rest of RAM), and the buoy's measured stack\n# budgets (design §9): flash 262144 B, RAM 65536 B\n",
    );
    for (bin, features, label) in [
        (
            "buoy",
            &[][..],
            "buoy (full pipeline, default cINN f32, no recording)",
        ),
        (
            "buoy",
            &["--features", "board-stm32f411"][..],
            "buoy for the STM32F411 (board-stm32f411, build only in CI)",
        ),
        (
            "buoy",
            &["--features", "refine,int8-model"][..],
            "buoy with exact-likelihood refinement and the int8 model (refine,int8-model; the f32 model does not fit with it)",
        ),
        ("selftest", &[][..], "selftest"),
        ("forward_cost", &[][..], "forward_cost"),
        (
            "sample_cost",
            &[][..],
            "sample_cost (default cINN, f32 weights)",
        ),
        (
            "sample_cost",
            &["--features", "int8-model"][..],
            "sample_cost (default cINN, int8 weights)",
        ),
    ] {
        let mut args = vec!["build", "--quiet", "--release", "--bin", bin];
        args.extend_from_slice(features);
        run(&fw, "cargo", &args)?;
        let (flash, ram) = elf_size(&fw.join("target/thumbv7em-none-eabihf/release").join(bin))?;
        if flash == 0 {
            bail!("{label}: no flash sections found in the ELF");
        }
        report.push_str(&format!(
            "{label}: flash {flash} B ({:.1} %), RAM {ram} B ({:.1} %)\n",
            100.0 * flash as f64 / FLASH_BUDGET as f64,
            100.0 * ram as f64 / RAM_BUDGET as f64
        ));
        if flash > FLASH_BUDGET || ram > RAM_BUDGET {
            bail!("{label} exceeds the firmware budget: flash {flash} B, RAM {ram} B");
        }
    }
    // Stack: the buoy paints it at reset and reports the deepest use after its reports
    // (QEMU with the design's 64 KiB of RAM, `memory-qemu.x`). Deterministic run to run.
    let buoy = qemu_buoy(None, None, &[], false)?;
    let (used, size) = (buoy.stack_high_water, buoy.stack_size);
    report.push_str(&format!(
        "buoy stack high-water ({} reports of {} samples, standard gi-pekeris recording): {used} B of the {size} B stack, {:.1} % of RAM\n",
        buoy.reports.len(),
        buoy.reports.first().map_or(0, |r| r.samples),
        100.0 * used as f64 / RAM_BUDGET as f64
    ));
    if buoy.reports.is_empty() || used >= size {
        bail!(
            "the buoy's stack reached the bottom of RAM ({used} B of {size} B): it overflowed, or the run gave no report"
        );
    }
    Ok(report)
}

/// Compare the size report with the committed one (`--write` updates it), so flash and
/// RAM growth shows in review.
fn size(write: bool) -> anyhow::Result<()> {
    let path = root().join("firmware/size-report.txt");
    let fresh = size_report()?;
    print!("{fresh}");
    if write {
        std::fs::write(&path, &fresh)?;
        return Ok(());
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if !same_sizes(&committed, &fresh) {
        bail!(
            "firmware sizes differ from the committed {}:\n--- committed\n{committed}--- now\n{fresh}run `cargo xtask size --write` and commit the report",
            path.display()
        );
    }
    Ok(())
}

/// Flash sizes a link may differ by between checkouts of the same source. The checkout
/// path enters cargo's per-crate metadata hash, hence the symbol names, hence the order in
/// which the linker places functions and the alignment padding between them: the same
/// commit linked in `/work/main` and in `/tmp/ci-clone6` differed by 8 B of `.text`.
const FLASH_SLACK_BYTES: u64 = 64;

/// The size reports agree: the same lines, flash figures within [`FLASH_SLACK_BYTES`] (the
/// percentages are then ignored), everything else (RAM, stack) exact. The budgets
/// themselves are enforced exactly by [`size_report`].
fn same_sizes(committed: &str, fresh: &str) -> bool {
    fn split(line: &str) -> (String, Option<u64>) {
        match line.split_once(": flash ") {
            Some((label, rest)) => {
                let (n, tail) = rest.split_once(" B (").unwrap_or((rest, ""));
                let ram = tail.split_once("RAM").map_or("", |(_, r)| r);
                (format!("{label}: RAM{ram}"), n.parse().ok())
            }
            None => (line.to_owned(), None),
        }
    }
    let (a, b): (Vec<_>, Vec<_>) = (committed.lines().collect(), fresh.lines().collect());
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| {
            let ((lx, fx), (ly, fy)) = (split(x), split(y));
            lx == ly
                && match (fx, fy) {
                    (Some(p), Some(q)) => p.abs_diff(q) <= FLASH_SLACK_BYTES,
                    (None, None) => true,
                    _ => false,
                }
        })
}

/// Value of `--flag VALUE` on the command line.
fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// `vina synth` arguments of the standard test recording: 70 s of gi-pekeris at a fixed truth.
fn synth_args(out: &Path) -> anyhow::Result<Vec<String>> {
    #[rustfmt::skip]
    let args = [
        "synth", "--scenario", "scenarios/gi-pekeris.toml",
        "--truth", "water_depth_m=218.2,water_sound_speed_mps=1561.3",
        "--seconds", "70", "--seed", "3", "--out", out.to_str().context("non-UTF-8 path")?,
    ];
    Ok(args.map(str::to_owned).to_vec())
}

/// The `vina` binary the test step built (a `cargo run` here would resolve other
/// features and rebuild Burn); built if missing.
fn vina_bin() -> anyhow::Result<PathBuf> {
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

/// The standard test recording (`synth_args`), synthesized afresh (well under a second).
fn standard_recording() -> anyhow::Result<PathBuf> {
    let root = root();
    let path = root.join("target/xtask-gi-pekeris.vrec");
    let args = synth_args(&path)?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let vina = vina_bin()?;
    run(&root, vina.to_str().context("non-UTF-8 path")?, &args)?;
    Ok(path)
}

/// Decode the report frames of a byte stream (0x00-delimited COBS frames).
fn decode_frames(stream: &[u8]) -> anyhow::Result<Vec<vina_core::report::Report>> {
    stream
        .split_inclusive(|&b| b == 0)
        .filter(|f| f.len() > 1)
        .map(|f| {
            vina_core::report::Report::decode(&mut f.to_vec())
                .map_err(|e| anyhow::anyhow!("bad report frame: {e}"))
        })
        .collect()
}

/// What one buoy run under QEMU gave: its reports and its stack's high-water mark.
struct BuoyRun {
    reports: Vec<vina_core::report::Report>,
    /// The features of each report (by sequence number), exact f32 values.
    features: Vec<(u32, Vec<f32>)>,
    /// Deepest stack use, bytes (the stack is painted at reset).
    stack_high_water: u64,
    /// Bytes the stack may take (RAM left after static data).
    stack_size: u64,
}

/// Run the buoy firmware under QEMU on a recording (default: a fresh `vina synth` of
/// gi-pekeris) with a model (default: the random-weight default cINN), decode its report
/// frames and return them.
fn qemu(
    model: Option<String>,
    recording: Option<String>,
) -> anyhow::Result<Vec<vina_core::report::Report>> {
    Ok(qemu_buoy(model, recording, &[], true)?.reports)
}

/// [`qemu`], with the stack's high-water mark; prints the decoded output when `echo`.
fn qemu_buoy(
    model: Option<String>,
    recording: Option<String>,
    cargo_features: &[&str],
    echo: bool,
) -> anyhow::Result<BuoyRun> {
    let root = root();
    let recording = match recording {
        Some(r) => PathBuf::from(r),
        None => standard_recording()?,
    };
    let fw = root.join("firmware");
    let mut build = Command::new("cargo");
    build
        .args(["build", "--quiet", "--release", "--bin", "buoy"])
        .args(cargo_features)
        .current_dir(&fw);
    build.env("VINA_RECORDING", std::path::absolute(&recording)?);
    if let Some(m) = &model {
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
            let (seq, hex) = rest
                .split_once(' ')
                .context("features line without values")?;
            let values = (0..hex.len() / 8)
                .map(|i| u32::from_str_radix(&hex[8 * i..8 * i + 8], 16).map(f32::from_bits))
                .collect::<Result<Vec<f32>, _>>()
                .context("features are not hex")?;
            features.push((seq.parse()?, values));
        } else if let Some(hex) = line.strip_prefix("frame ") {
            let bytes = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .context("frame is not hex")?;
            let report = decode_frames(&bytes)?.pop().context("empty report frame")?;
            if echo {
                println!("{report:?}");
            }
            reports.push(report);
        } else {
            if let Some(rest) = line.strip_prefix("stack high-water ") {
                // "N B of M B"
                let n: Vec<u64> = rest
                    .split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect();
                if let [used, size] = n[..] {
                    stack = Some((used, size));
                }
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

/// The buoy with defmt logs (feature `defmt`) under QEMU on a recording: semihosting
/// stdout (defmt frames) through `defmt-print -e ELF`, report frames from stderr decoded.
/// Needs `defmt-print` on PATH (`cargo install defmt-print`, ~3 min cold on 2 cores: CI
/// only builds this feature).
fn defmt(recording: Option<String>) -> anyhow::Result<()> {
    use std::process::Stdio;
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
    let mut build = Command::new("cargo");
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
            let bytes = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .context("frame is not hex")?;
            for r in decode_frames(&bytes)? {
                println!("{r:?}");
            }
        }
    }
    Ok(())
}

/// The buoy on ARM Linux: `buoy_linux` (feature `linux`) cross-built for
/// `aarch64-unknown-linux-gnu` and run under `qemu-aarch64` on a recording (default: the
/// standard one) with a model file (default: the one built in, as on the Cortex-M); its
/// stdout is the report frames, decoded here.
fn linux(
    model: Option<String>,
    recording: Option<String>,
) -> anyhow::Result<Vec<vina_core::report::Report>> {
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
        .arg(&recording)
        .current_dir(&fw);
    if let Some(m) = &model {
        cmd.arg(std::path::absolute(m)?);
    }
    eprintln!(
        "$ qemu-aarch64 -L /usr/aarch64-linux-gnu {} {}{}",
        elf.display(),
        recording.display(),
        model
            .as_deref()
            .map(|m| format!(" {m}"))
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
fn reports_agree(a: &vina_core::report::Report, b: &vina_core::report::Report, rel: f32) -> bool {
    let close = |x: f32, y: f32| (x - y).abs() <= rel * x.abs().max(y.abs()).max(1.0);
    (
        a.sequence,
        a.scenario_hash,
        a.samples,
        a.seed,
        a.clipped_samples,
        a.non_finite_values,
        a.dropped_frames,
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
fn linux_check(model: Option<String>, recording: Option<String>) -> anyhow::Result<()> {
    let recording = match recording {
        Some(r) => r,
        None => standard_recording()?
            .to_str()
            .context("non-UTF-8 path")?
            .to_owned(),
    };
    let cortex_m = qemu_buoy(model.clone(), Some(recording.clone()), &[], false)?.reports;
    let aarch64 = linux(model, Some(recording))?;
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
    Ok(())
}

/// The buoy pipeline built for this machine (`buoy_linux`, std) on a model and recording:
/// the fallback when QEMU is missing.
fn host_buoy(model: &str, recording: &str) -> anyhow::Result<Vec<vina_core::report::Report>> {
    let root = root();
    let fw = root.join("firmware");
    let target = "x86_64-unknown-linux-gnu";
    #[rustfmt::skip]
    run(&fw, "cargo", &[
        "build", "--quiet", "--release", "--features", "linux", "--target", target, "--bin", "buoy_linux",
    ])?;
    let exe = fw.join(format!("target/{target}/release/buoy_linux"));
    let out = Command::new(&exe)
        .args([recording, model])
        .output()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        bail!("buoy_linux failed with {}", out.status);
    }
    decode_frames(&out.stdout)
}

/// `cargo xtask demo`, the main job on embedded defaults: simulate → train → evaluate →
/// export → synthesize a recording for a random truth → the firmware on QEMU (or, without
/// QEMU, the same pipeline built for this machine) → truth against the posterior.
fn demo() -> anyhow::Result<()> {
    let root = root();
    let dir = root.join("target/demo");
    std::fs::create_dir_all(&dir)?;
    let p = |name: &str| {
        dir.join(name)
            .to_str()
            .map(str::to_owned)
            .context("non-UTF-8 path")
    };
    let seed = flag("--seed").unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        (t % 100_000).to_string()
    });
    let held_out_seed = (seed.parse::<u64>().unwrap_or(0) + 1_000_000).to_string();
    let samples = flag("--samples").unwrap_or_else(|| "60000".to_owned());
    let vina = |args: &[&str]| -> anyhow::Result<()> {
        run(
            &root,
            "cargo",
            &[&["run", "--quiet", "-p", "vina-host", "--"][..], args].concat(),
        )
    };
    eprintln!("\n== 1/6 simulate {samples} gi-pekeris training samples and 1000 held-out ones");
    #[rustfmt::skip]
    vina(&["simulate", "--scenario", "scenarios/gi-pekeris.toml", "--samples", &samples, "--seed", &seed, "--out", &p("data")?])?;
    #[rustfmt::skip]
    vina(&["simulate", "--scenario", "scenarios/gi-pekeris.toml", "--samples", "1000", "--seed", &held_out_seed, "--out", &p("held-out")?])?;
    eprintln!("\n== 2/6 train the default cINN (configs/gi-pekeris-cinn.toml)");
    let run_dir = dir.join("run");
    if run_dir.exists() {
        std::fs::remove_dir_all(&run_dir)?;
    }
    #[rustfmt::skip]
    vina(&["train", "--data", &p("data")?, "--config", "configs/gi-pekeris-cinn.toml", "--out", &p("run")?])?;
    eprintln!("\n== 3/6 evaluate on the held-out set (coverage, SBC, RMSE, plots)");
    #[rustfmt::skip]
    vina(&["eval", "--model", &p("run")?, "--data", &p("held-out")?, "--out", &p("eval")?])?;
    eprintln!("\n== 4/6 export the firmware model (folded f32 .vina) and its ONNX graph");
    #[rustfmt::skip]
    vina(&["export", "--model", &p("run")?, "--out", &p("model.vina")?, "--onnx", &p("model.onnx")?,
           "--scenario", "scenarios/gi-pekeris.toml"])?;
    vina(&["inspect", &p("model.vina")?])?;
    // a truth from the prior, seeded
    let mut rng = vina_core::rng::Rng::new(seed.parse::<u64>().unwrap_or(0) ^ 0xDE30);
    let depth = 200.5 + 36.0 * rng.uniform_f64();
    let speed = 1532.0 + 60.0 * rng.uniform_f64();
    let truth = format!("water_depth_m={depth:.3},water_sound_speed_mps={speed:.3}");
    eprintln!("\n== 5/6 synthesize 70 s of hydrophone data at the truth {truth}");
    #[rustfmt::skip]
    vina(&["synth", "--scenario", "scenarios/gi-pekeris.toml", "--truth", &truth, "--seconds", "70", "--seed", &seed, "--out", &p("recording.vrec")?])?;
    let qemu_missing = Command::new("qemu-system-arm")
        .arg("--version")
        .output()
        .is_err();
    let reports = if qemu_missing {
        eprintln!(
            "\n== 6/6 NOTICE: qemu-system-arm is missing (apt-get install qemu-system-arm); \
             running the same firmware pipeline built for this machine instead"
        );
        host_buoy(&p("model.vina")?, &p("recording.vrec")?)?
    } else {
        eprintln!("\n== 6/6 the buoy firmware on QEMU (Cortex-M4, mps2-an386)");
        qemu(Some(p("model.vina")?), Some(p("recording.vrec")?))?
    };
    println!(
        "\n{:<24} {:>10} {:>22} {:>10} {:>24}",
        "parameter", "truth", "posterior mean ± std", "", "90 % interval"
    );
    for r in &reports {
        println!(
            "report {} ({:?}, {} samples)",
            r.sequence, r.status, r.samples
        );
        for ((name, truth), s) in ["water_depth_m", "water_sound_speed_mps"]
            .iter()
            .zip([depth, speed])
            .zip(&r.parameters)
        {
            let inside = (f64::from(s.q05)..=f64::from(s.q95)).contains(&truth);
            println!(
                "  {name:<22} {truth:>10.3} {:>12.3} ± {:<8.3} [{:.3}, {:.3}] {}",
                s.mean,
                s.std,
                s.q05,
                s.q95,
                if inside {
                    "contains the truth"
                } else {
                    "MISSES the truth"
                }
            );
        }
    }
    println!("\nevaluation: {}", p("eval/report.md")?);
    for plot in ["corner", "coverage", "sbc_ranks", "training"] {
        println!("plot: {}", p(&format!("eval/{plot}.png"))?);
    }
    println!("artifacts: {}", dir.display());
    Ok(())
}

/// CI: the pipeline runs end to end on QEMU and its frames decode to posterior reports.
/// The standard recording's truth (see [`synth_args`]).
const TRUTH: [f64; 2] = [218.2, 1561.3];

/// CI: the buoy under QEMU on the standard recording, with the committed model. Each
/// report's 90 % interval must hold the truth, and its summary must equal `vina invert
/// --engine core` on the same features and seed within 1e-4 (relative to max(1, |v|)).
fn qemu_check() -> anyhow::Result<()> {
    let path = standard_recording()?;
    let run = qemu_buoy(
        None,
        Some(path.to_str().context("non-UTF-8 path")?.to_owned()),
        &[],
        true,
    )?;
    let reports = run.reports;
    if reports.len() != 2 || run.features.len() != 2 {
        bail!(
            "expected 2 reports with features from 70 s of recording, got {} and {}",
            reports.len(),
            run.features.len()
        );
    }
    let root = root();
    let vina = vina_bin()?;
    for (r, (seq, y)) in reports.iter().zip(&run.features) {
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
        let out = output(&root, vina.to_str().context("non-UTF-8 path")?, &[
            "invert", "--model", "models/gi-pekeris-cinn.vina", "--observation",
            obs.to_str().context("non-UTF-8 path")?, "--seed", &seed, "--samples", "1000", "--json",
        ])?;
        let host: serde_json::Value = serde_json::from_str(&out)?;
        let names = ["water_depth_m", "water_sound_speed_mps"];
        for (p, name) in r.parameters.iter().zip(names) {
            let h = &host["summary"][name];
            for (field, buoy) in [
                ("mean", p.mean),
                ("std", p.std),
                ("q05", p.q05),
                ("q50", p.q50),
                ("q95", p.q95),
            ] {
                let v = h[field].as_f64().context("summary field")?;
                let err = (v - f64::from(buoy)).abs() / v.abs().max(1.0);
                if err > 1e-4 {
                    bail!("report {seq} {name} {field}: buoy {buoy} vs vina invert {v}");
                }
            }
        }
        eprintln!(
            "report {seq}: truth inside both 90 % intervals; summary equals vina invert --engine core (seed {seed})"
        );
    }
    Ok(())
}

/// CI (issue 10): the buoy with exact-likelihood refinement (feature `refine`, default
/// budget) under QEMU `-icount shift=0` on the standard recording. Each report's refined
/// posterior must contain the truth in its 90 % intervals, equal the same refinement
/// replayed on the host in f32 (the firmware library's `Refiner`, same seed and sweeps),
/// and agree with `vina invert --refine` (f64 forward model) within a fraction of its
/// posterior sd; the instruction counts go to `bench/refine_cortex_m4.txt` (`--write`)
/// or are compared with it.
fn refine_cost(write: bool) -> anyhow::Result<()> {
    use vina_firmware::refinement::{Budget, Refiner};
    let root = root();
    let path = standard_recording()?;
    let recording = path.to_str().context("non-UTF-8 path")?.to_owned();
    let run = qemu_buoy(None, Some(recording), &["--features", "refine"], true)?;
    if run.reports.len() != 2 || run.features.len() != 2 {
        bail!(
            "expected 2 reports with features, got {}",
            run.reports.len()
        );
    }
    let model_bytes = std::fs::read(root.join("models/gi-pekeris-cinn.vina"))?;
    let model = vina_core::model::Model::from_bytes(&model_bytes)?;
    let vina = vina_bin()?;
    let budget = Budget::default();
    let mut lines = String::new();
    for (r, (seq, y)) in run.reports.iter().zip(&run.features) {
        let refined = r
            .refined
            .as_ref()
            .with_context(|| format!("report {seq} carries no refinement"))?;
        for (p, t) in refined.parameters.iter().zip(TRUTH) {
            if !(f64::from(p.q05) <= t && t <= f64::from(p.q95)) {
                bail!(
                    "report {seq}: truth {t} outside the refined 90 % interval [{}, {}]",
                    p.q05,
                    p.q95
                );
            }
        }
        // the same refinement on the host, f32, firmware library code
        let mut ctx = vec![0.0f32; model.context_len()];
        model.prepare(y, &mut ctx, &mut vina_core::layers::Scratch::new())?;
        let mut refiner = Box::new(Refiner::new());
        let replay_budget = Budget {
            steps: u32::from(refined.steps),
            ..budget
        };
        let host32 = refiner
            .run(&model, &ctx, y, &replay_budget, r.seed, &|| 0)
            .map_err(|e| anyhow::anyhow!("host replay of the refinement: {e:?}"))?;
        for (b, h) in refined.parameters.iter().zip(&host32.parameters) {
            for (field, bv, hv) in [
                ("mean", b.mean, h.mean),
                ("std", b.std, h.std),
                ("q50", b.q50, h.q50),
            ] {
                if (bv - hv).abs() > 1e-4 * hv.abs().max(1.0) {
                    bail!("report {seq} refined {field}: buoy {bv} vs host f32 replay {hv}");
                }
            }
        }
        // the host's f64 refinement (`vina invert --refine`), same seed and sweeps
        let obs = root.join(format!("target/xtask-refine-features-{seq}.json"));
        let yv: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
        std::fs::write(&obs, serde_json::json!({ "y": yv }).to_string())?;
        let (seed, particles, steps) = (
            r.seed.to_string(),
            budget.particles.to_string(),
            refined.steps.to_string(),
        );
        let widen = budget.widen.to_string();
        #[rustfmt::skip]
        let out = output(&root, vina.to_str().context("non-UTF-8 path")?, &[
            "invert", "--model", "models/gi-pekeris-cinn.vina", "--observation",
            obs.to_str().context("non-UTF-8 path")?, "--seed", &seed, "--json", "--refine",
            "--scenario", "scenarios/gi-pekeris.toml", "--refine-particles", &particles,
            "--refine-steps", &steps, "--widen", &widen,
        ])?;
        let host: serde_json::Value = serde_json::from_str(&out)?;
        let names = ["water_depth_m", "water_sound_speed_mps"];
        let mut worst = 0.0f64;
        for (b, name) in refined.parameters.iter().zip(names) {
            let h = &host["summary"][name];
            let (mean, sd) = (
                h["mean"].as_f64().context("mean")?,
                h["std"].as_f64().context("std")?,
            );
            let dm = (f64::from(b.mean) - mean).abs() / sd;
            let ds = (f64::from(b.std) - sd).abs() / sd;
            worst = worst.max(dm).max(ds);
            if dm > REFINE_F64_TOLERANCE || ds > REFINE_F64_TOLERANCE {
                bail!(
                    "report {seq} {name}: buoy refined {} ± {} vs vina invert --refine (f64) {mean} ± {sd}",
                    b.mean,
                    b.std
                );
            }
        }
        let net: Vec<String> = r
            .parameters
            .iter()
            .map(|p| format!("{:.3} ± {:.3}", p.mean, p.std))
            .collect();
        let fine: Vec<String> = refined
            .parameters
            .iter()
            .map(|p| format!("{:.3} ± {:.3}", p.mean, p.std))
            .collect();
        eprintln!(
            "report {seq}: refined {} (network {}), truth inside; equals the host f32 replay; within {worst:.3} sd of vina invert --refine (f64)",
            fine.join(", "),
            net.join(", ")
        );
        let evaluations = u64::from(budget.particles) * (1 + u64::from(refined.steps));
        lines.push_str(&format!(
            "report {seq}: {} instructions per report; {} instructions in the exact posterior ({:.2} %); {} instructions per exact-posterior evaluation; {} particles, {} sweeps, ESS {:.1}, acceptance {:.2}\n",
            refined.instructions,
            refined.target_instructions,
            100.0 * refined.target_instructions as f64 / refined.instructions as f64,
            refined.target_instructions / evaluations,
            refined.particles,
            refined.steps,
            refined.ess,
            refined.acceptance,
        ));
    }
    let (used, size) = (run.stack_high_water, run.stack_size);
    if used >= size {
        bail!("the refining buoy's stack reached the bottom of RAM ({used} B of {size} B)");
    }
    lines.push_str(&format!(
        "stack high-water of the refining buoy: {used} B of the {size} B stack, {:.1} % of RAM\n",
        100.0 * used as f64 / RAM_BUDGET as f64
    ));
    print!("{lines}");
    let report = format!(
        "# cargo xtask refine-cost: {QEMU_HEADER}; buoy --features refine, default cINN f32, standard gi-pekeris recording\n{lines}"
    );
    write_or_compare("refine_cortex_m4.txt", "refine-cost", &report, write)
}

/// Largest difference, in posterior sds, between the buoy's f32 refinement and the
/// host's f64 one (same seed and sweeps): f32 rounding of the forward model can flip a
/// Metropolis decision near its threshold, after which that particle's chain differs.
const REFINE_F64_TOLERANCE: f64 = 0.25;

/// CI: both committed ONNX graphs in onnxruntime (a pinned wheel in a venv under
/// `target/`) against `vina invert --engine core` on the same y and z, within 1e-5.
fn onnxruntime_check() -> anyhow::Result<()> {
    let root = root();
    let venv = root.join("target/onnxruntime-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        run(
            &root,
            "python3",
            &["-m", "venv", venv.to_str().context("non-UTF-8 path")?],
        )?;
        #[rustfmt::skip]
        run(&root, python.to_str().context("non-UTF-8 path")?, &[
            "-m", "pip", "install", "--quiet", "onnxruntime==1.32.0", "numpy==2.4.6",
        ])?;
    }
    let vina = vina_bin()?;
    let vina = vina.to_str().context("non-UTF-8 path")?;
    for (model, scenario, truth) in [
        (
            "gi-pekeris-cinn",
            "gi-pekeris",
            "water_depth_m=218.2,water_sound_speed_mps=1561.3",
        ),
        (
            "gi-pekeris-inn",
            "gi-pekeris-raw",
            "water_depth_m=210.5,water_sound_speed_mps=1575.0",
        ),
    ] {
        let obs = root.join(format!("target/xtask-{scenario}-obs.json"));
        let obs = obs.to_str().context("non-UTF-8 path")?;
        #[rustfmt::skip]
        run(&root, vina, &[
            "observe", "--scenario", &format!("scenarios/{scenario}.toml"), "--truth", truth,
            "--seed", "5", "--out", obs,
        ])?;
        #[rustfmt::skip]
        run(&root, python.to_str().context("non-UTF-8 path")?, &[
            "scripts/onnxruntime_check.py", "--model", &format!("models/{model}.vina"),
            "--onnx", &format!("models/{model}.onnx"), "--observation", obs, "--vina", vina,
        ])?;
    }
    Ok(())
}

/// A named CI step.
type Step<'a> = (&'a str, Box<dyn Fn() -> anyhow::Result<()> + 'a>);

fn ci() -> anyhow::Result<()> {
    let root = root();
    let fw = root.join("firmware");
    let steps: Vec<Step<'_>> = vec![
        (
            "fmt",
            Box::new(|| run(&root, "cargo", &["fmt", "--all", "--", "--check"])),
        ),
        (
            "fmt firmware",
            Box::new(|| run(&fw, "cargo", &["fmt", "--all", "--", "--check"])),
        ),
        (
            "clippy",
            Box::new(|| {
                run(
                    &root,
                    "cargo",
                    &[
                        "clippy",
                        "--workspace",
                        "--all-targets",
                        "--",
                        "-D",
                        "warnings",
                    ],
                )
            }),
        ),
        (
            "clippy firmware (Cortex-M; aarch64 Linux; defmt build)",
            Box::new(|| {
                run(
                    &fw,
                    "cargo",
                    &["clippy", "--release", "--", "-D", "warnings"],
                )?;
                // the ARM Linux binary (feature `linux`) is not among the Cortex-M targets
                #[rustfmt::skip]
                let linux = [
                    "clippy", "--release", "--features", "linux", "--target",
                    "aarch64-unknown-linux-gnu", "--bin", "buoy_linux", "--", "-D", "warnings",
                ];
                run(&fw, "cargo", &linux)?;
                // defmt logs (feature `defmt`): clippy, then a link (defmt.x), build only
                #[rustfmt::skip]
                let defmt = ["--release", "--features", "defmt", "--bin", "buoy"];
                run(
                    &fw,
                    "cargo",
                    &[&["clippy"][..], &defmt, &["--", "-D", "warnings"]].concat(),
                )?;
                run(&fw, "cargo", &[&["build"][..], &defmt].concat())
            }),
        ),
        (
            "test",
            Box::new(|| run(&root, "cargo", &["test", "--workspace"])),
        ),
        (
            "firmware library tests on the host (drivers with embedded-hal-mock, DSP, pipeline)",
            Box::new(|| {
                let host = ["--target", "x86_64-unknown-linux-gnu", "--lib"];
                run(
                    &fw,
                    "cargo",
                    &[&["clippy"][..], &host, &["--tests", "--", "-D", "warnings"]].concat(),
                )?;
                run(&fw, "cargo", &[&["test"][..], &host].concat())
            }),
        ),
        (
            "vina-core for thumbv7em (no_std, no alloc)",
            Box::new(|| {
                run(
                    &root,
                    "cargo",
                    &[
                        "build",
                        "-p",
                        "vina-core",
                        "--target",
                        "thumbv7em-none-eabihf",
                    ],
                )
            }),
        ),
        ("firmware self-test under QEMU", Box::new(selftest)),
        (
            "firmware size report (every build incl. the STM32F411 board, buoy stack high-water)",
            Box::new(|| size(false)),
        ),
        (
            "firmware pipeline under QEMU on a synthesized recording: truth in the 90 % intervals, summary = vina invert",
            Box::new(qemu_check),
        ),
        (
            "committed ONNX graphs in onnxruntime equal vina-core (scripts/onnxruntime_check.py)",
            Box::new(onnxruntime_check),
        ),
        (
            "firmware on ARM Linux (aarch64 under qemu-aarch64) equals the Cortex-M report",
            Box::new(|| linux_check(None, None)),
        ),
        (
            "instructions per posterior sample within 1 % of bench/sample_cortex_m4.txt",
            Box::new(|| sample_cost(false)),
        ),
        (
            "one subnet MLP on the Cortex-M4, vina-core vs microflow: same outputs, instructions within 1 % of bench/mlp_cortex_m4.txt",
            Box::new(|| mlp_cost(false)),
        ),
        (
            "buoy refinement under QEMU: truth inside, = host f32 replay, ≈ vina invert --refine, instructions within 1 % of bench/refine_cortex_m4.txt",
            Box::new(|| refine_cost(false)),
        ),
    ];
    let mut timings = Vec::new();
    for (name, step) in &steps {
        eprintln!("\n== {name}");
        let t = Instant::now();
        step().with_context(|| format!("CI step `{name}`"))?;
        timings.push((name, t.elapsed()));
    }
    eprintln!("\n== timings");
    for (name, d) in timings {
        eprintln!("{:>8.1} s  {name}", d.as_secs_f64());
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("ci") => ci(),
        Some("selftest") => selftest(),
        Some("forward-cost") => forward_cost(),
        Some("sample-cost") => sample_cost(std::env::args().any(|a| a == "--write")),
        Some("refine-cost") => refine_cost(std::env::args().any(|a| a == "--write")),
        Some("mlp-cost") => mlp_cost(std::env::args().any(|a| a == "--write")),
        Some("size") => size(std::env::args().any(|a| a == "--write")),
        Some("qemu") => qemu(flag("--model"), flag("--recording")).map(|_| ()),
        Some("qemu-check") => qemu_check(),
        Some("onnxruntime-check") => onnxruntime_check(),
        Some("linux") if std::env::args().any(|a| a == "--compare") => {
            linux_check(flag("--model"), flag("--recording"))
        }
        Some("linux") => linux(flag("--model"), flag("--recording")).map(|_| ()),
        Some("defmt") => defmt(flag("--recording")),
        Some("demo") => demo(),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci|qemu-check|onnxruntime-check|demo [--seed S] [--samples N]|selftest|qemu [--model F] [--recording F]|linux [--model F] [--recording F] [--compare]|defmt [--recording F]|forward-cost|sample-cost [--write]|refine-cost [--write]|mlp-cost [--write]|size [--write]>"
            );
            std::process::exit(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same_sizes;

    #[test]
    fn size_reports_allow_link_padding_only() {
        let a = "# header\nbuoy: flash 255876 B (97.6 %), RAM 12 B (0.0 %)\nstack 48348 B\n";
        let padded = "# header\nbuoy: flash 255884 B (97.6 %), RAM 12 B (0.0 %)\nstack 48348 B\n";
        assert!(same_sizes(a, a) && same_sizes(a, padded));
        let grown = "# header\nbuoy: flash 256876 B (98.0 %), RAM 12 B (0.0 %)\nstack 48348 B\n";
        let ram = "# header\nbuoy: flash 255876 B (97.6 %), RAM 16 B (0.0 %)\nstack 48348 B\n";
        let stack = "# header\nbuoy: flash 255876 B (97.6 %), RAM 12 B (0.0 %)\nstack 48352 B\n";
        for b in [grown, ram, stack, "# header\n"] {
            assert!(!same_sizes(a, b), "{b}");
        }
    }
}

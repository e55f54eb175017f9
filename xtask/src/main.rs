//! `cargo xtask …`: the project's checks as a short list of one-liners (defmt's pattern).
//!
//! - `cargo xtask ci`: everything CI runs, in order, with the time of each step.
//! - `cargo xtask selftest`: build the firmware self-test, run it under QEMU (Cortex-M4,
//!   `mps2-an386`) and compare its output with the host's committed vectors.
//! - `cargo xtask forward-cost`: instructions per gi-pekeris environment of the f32
//!   forward model on the Cortex-M4, deterministic (`-icount shift=0`).
//! - `cargo xtask sample-cost`: instructions per posterior sample of the default cINN
//!   architecture on the Cortex-M4, f32 and int8.

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
    let elf = fw.join("target/thumbv7em-none-eabihf/release").join(bin);
    let elf = elf.to_str().context("non-UTF-8 path")?;
    #[rustfmt::skip]
    let qemu = [
        "-cpu", "cortex-m4", "-machine", "mps2-an386", "-nographic",
        "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel", elf,
    ];
    output(&fw, "qemu-system-arm", &qemu)
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
/// unless VINA_MODEL names a trained model), f32 and int8, written to
/// `bench/sample_cortex_m4.txt`.
fn sample_cost() -> anyhow::Result<()> {
    let f32_run = qemu_measure("sample_cost", &[])?;
    let int8_run = qemu_measure("sample_cost", &["--features", "int8-model"])?;
    let out = format!("{f32_run}{int8_run}");
    print!("{out}");
    let report = format!("# cargo xtask sample-cost: {QEMU_HEADER}\n{out}");
    std::fs::write(root().join("bench/sample_cortex_m4.txt"), report)?;
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
            "clippy firmware",
            Box::new(|| {
                run(
                    &fw,
                    "cargo",
                    &["clippy", "--release", "--", "-D", "warnings"],
                )
            }),
        ),
        (
            "test",
            Box::new(|| run(&root, "cargo", &["test", "--workspace"])),
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
        Some("sample-cost") => sample_cost(),
        _ => {
            eprintln!("usage: cargo xtask <ci|selftest|forward-cost|sample-cost>");
            std::process::exit(2)
        }
    }
}

//! `cargo xtask …`: the project's checks as a short list of one-liners (defmt's pattern).
//!
//! - `cargo xtask ci`: everything CI runs, in order, with the time of each step.
//! - `cargo xtask selftest`: build the firmware self-test, run it under QEMU (Cortex-M4,
//!   `mps2-an386`) and compare its output with the host's committed vectors.
//! - `cargo xtask forward-cost`: instructions per gi-pekeris environment of the f32
//!   forward model on the Cortex-M4, deterministic (`-icount shift=0`).

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

/// A named CI step.
type Step<'a> = (&'a str, Box<dyn Fn() -> anyhow::Result<()> + 'a>);

/// Instructions per gi-pekeris environment of the f32 forward model on the Cortex-M4
/// (QEMU `-icount shift=0`), written to `bench/forward_cortex_m4.txt`.
fn forward_cost() -> anyhow::Result<()> {
    let fw = root().join("firmware");
    run(
        &fw,
        "cargo",
        &["build", "--quiet", "--release", "--bin", "forward_cost"],
    )?;
    let elf = fw.join("target/thumbv7em-none-eabihf/release/forward_cost");
    let elf = elf.to_str().context("non-UTF-8 path")?;
    let out = output(
        &fw,
        "qemu-system-arm",
        &[
            "-cpu",
            "cortex-m4",
            "-machine",
            "mps2-an386",
            "-nographic",
            "-semihosting-config",
            "enable=on,target=native",
            "-icount",
            "shift=0",
            "-kernel",
            elf,
        ],
    )?;
    print!("{out}");
    let report = format!(
        "# cargo xtask forward-cost: QEMU 7.2 mps2-an386 (Cortex-M4), -icount shift=0, SysTick at the 25 MHz core clock\n{out}"
    );
    std::fs::write(root().join("bench/forward_cortex_m4.txt"), report)?;
    Ok(())
}

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
        _ => {
            eprintln!("usage: cargo xtask <ci|selftest|forward-cost>");
            std::process::exit(2)
        }
    }
}

//! `cargo xtask ci`: everything CI runs, in order, with the time of each step, so the CI
//! script (`.ci/run`) and a developer run the same list.

use std::time::Instant;

use anyhow::Context;

use crate::board::board;
use crate::cost::{mlp_cost, refine_cost, sample_cost};
use crate::linux::linux_check;
use crate::onnxruntime::onnxruntime_check;
use crate::process::{root, run};
use crate::qemu::{qemu_check, selftest};
use crate::size::size;

/// A named CI step.
type Step<'a> = (&'a str, Box<dyn Fn() -> anyhow::Result<()> + 'a>);

/// Every CI step in order, each timed; stops at the first failure.
pub fn ci() -> anyhow::Result<()> {
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
            "clippy firmware (Cortex-M; aarch64 Linux; defmt build; STM32F4 board)",
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
                run(&fw, "cargo", &[&["build"][..], &defmt].concat())?;
                // the STM32F4 board binary (HAL, defmt-rtt, panic-probe), with refinement
                #[rustfmt::skip]
                let board = [
                    "clippy", "--release", "--features", "board-stm32f405,refine", "--bin",
                    "buoy_stm32f4", "--", "-D", "warnings",
                ];
                run(&fw, "cargo", &board)
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
            "firmware size report (every build incl. the STM32F411 and STM32F405 boards with and without refinement, buoy stack high-water)",
            Box::new(|| size(false)),
        ),
        (
            "STM32F405 board under QEMU netduinoplus2, USART1 into vina listen: = vina invert and vina replay, truth inside; duty cycle within 1 % of firmware/board-report.txt",
            Box::new(|| board(false)),
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

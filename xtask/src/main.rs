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
//! - `cargo xtask size [--write]`: firmware flash/RAM against the budgets, compared with
//!   the committed `firmware/size-report.txt`.
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
        "# cargo xtask size: firmware flash and RAM (static; the stack takes the rest of RAM)\n# budgets (design §9): flash 262144 B, RAM 65536 B\n",
    );
    for (bin, features, label) in [
        (
            "buoy",
            &[][..],
            "buoy (full pipeline, default cINN f32, no recording)",
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
        report.push_str(&format!(
            "{label}: flash {flash} B ({:.1} %), RAM {ram} B ({:.1} %)\n",
            100.0 * flash as f64 / FLASH_BUDGET as f64,
            100.0 * ram as f64 / RAM_BUDGET as f64
        ));
        if flash > FLASH_BUDGET || ram > RAM_BUDGET {
            bail!("{label} exceeds the firmware budget: flash {flash} B, RAM {ram} B");
        }
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
    if committed != fresh {
        bail!(
            "firmware sizes differ from the committed {}:\n--- committed\n{committed}--- now\n{fresh}run `cargo xtask size --write` and commit the report",
            path.display()
        );
    }
    Ok(())
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

/// Run the buoy firmware under QEMU on a recording (default: a fresh `vina synth` of
/// gi-pekeris) with a model (default: the random-weight default cINN), decode its report
/// frames and return them.
fn qemu(
    model: Option<String>,
    recording: Option<String>,
) -> anyhow::Result<Vec<vina_core::report::Report>> {
    let root = root();
    let recording = match recording {
        Some(r) => PathBuf::from(r),
        None => {
            let path = root.join("target/xtask-gi-pekeris.vrec");
            let args = synth_args(&path)?;
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run(
                &root,
                "cargo",
                &[&["run", "--quiet", "-p", "vina-host", "--"][..], &args].concat(),
            )?;
            path
        }
    };
    let fw = root.join("firmware");
    let mut build = Command::new("cargo");
    build
        .args(["build", "--quiet", "--release", "--bin", "buoy"])
        .current_dir(&fw);
    build.env("VINA_RECORDING", std::path::absolute(&recording)?);
    if let Some(m) = &model {
        build.env("VINA_MODEL", std::path::absolute(m)?);
    }
    eprintln!(
        "$ VINA_RECORDING={} cargo build --release --bin buoy",
        recording.display()
    );
    if !build.status()?.success() {
        bail!("firmware build failed");
    }
    let elf = fw.join("target/thumbv7em-none-eabihf/release/buoy");
    #[rustfmt::skip]
    let out = output(&fw, "qemu-system-arm", &[
        "-cpu", "cortex-m4", "-machine", "mps2-an386", "-nographic",
        "-semihosting-config", "enable=on,target=native", "-kernel", elf.to_str().context("non-UTF-8 path")?,
    ])?;
    let mut reports = Vec::new();
    for line in out.lines() {
        if let Some(hex) = line.strip_prefix("frame ") {
            let mut bytes = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .context("frame is not hex")?;
            let report = vina_core::report::Report::decode(&mut bytes)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{report:?}");
            reports.push(report);
        } else {
            println!("{line}");
        }
    }
    Ok(reports)
}

/// The main job on embedded defaults: simulate → train → export → synthesize a recording
/// for a random truth → the firmware on QEMU → truth against the posterior.
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
    let samples = flag("--samples").unwrap_or_else(|| "60000".to_owned());
    let vina = |args: &[&str]| -> anyhow::Result<()> {
        run(
            &root,
            "cargo",
            &[&["run", "--quiet", "-p", "vina-host", "--"][..], args].concat(),
        )
    };
    eprintln!("\n== 1/4 simulate {samples} gi-pekeris samples");
    #[rustfmt::skip]
    vina(&["simulate", "--scenario", "scenarios/gi-pekeris.toml", "--samples", &samples, "--seed", &seed, "--out", &p("data")?])?;
    eprintln!(
        "\n== 2/4 train the default cINN (configs/gi-pekeris-cinn.toml) and export models/…-style .vina"
    );
    let run_dir = dir.join("run");
    if run_dir.exists() {
        std::fs::remove_dir_all(&run_dir)?;
    }
    #[rustfmt::skip]
    vina(&["train", "--data", &p("data")?, "--config", "configs/gi-pekeris-cinn.toml", "--out", &p("run")?])?;
    vina(&["inspect", &p("run/model.vina")?])?;
    // a truth from the prior, seeded
    let mut rng = vina_core::rng::Rng::new(seed.parse::<u64>().unwrap_or(0) ^ 0xDE30);
    let depth = 200.5 + 36.0 * rng.uniform_f64();
    let speed = 1532.0 + 60.0 * rng.uniform_f64();
    let truth = format!("water_depth_m={depth:.3},water_sound_speed_mps={speed:.3}");
    eprintln!("\n== 3/4 synthesize 70 s of hydrophone data at the truth {truth}");
    #[rustfmt::skip]
    vina(&["synth", "--scenario", "scenarios/gi-pekeris.toml", "--truth", &truth, "--seconds", "70", "--seed", &seed, "--out", &p("recording.vrec")?])?;
    eprintln!("\n== 4/4 the buoy firmware on QEMU (Cortex-M4, mps2-an386)");
    if Command::new("qemu-system-arm")
        .arg("--version")
        .output()
        .is_err()
    {
        bail!(
            "qemu-system-arm is missing: install it (apt-get install qemu-system-arm) to run the firmware"
        );
    }
    let reports = qemu(Some(p("run/model.vina")?), Some(p("recording.vrec")?))?;
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
    println!("\nartifacts: {}", dir.display());
    Ok(())
}

/// CI: the pipeline runs end to end on QEMU and its frames decode to posterior reports.
fn qemu_check() -> anyhow::Result<()> {
    // the `vina` binary the test step just built (a `cargo run` here would resolve other
    // features and rebuild Burn)
    let root = root();
    let path = root.join("target/xtask-gi-pekeris.vrec");
    let args = synth_args(&path)?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let vina = root.join("target/debug/vina");
    run(&root, vina.to_str().context("non-UTF-8 path")?, &args)?;
    let reports = qemu(
        None,
        Some(path.to_str().context("non-UTF-8 path")?.to_owned()),
    )?;
    if reports.len() != 2 {
        bail!(
            "expected 2 reports from 70 s of recording, got {}",
            reports.len()
        );
    }
    for r in &reports {
        if r.status != vina_core::report::Status::Posterior
            || r.parameters.len() != 2
            || r.samples != 1000
        {
            bail!("unexpected report {r:?}");
        }
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
        ("firmware size report", Box::new(|| size(false))),
        (
            "firmware pipeline under QEMU on a synthesized recording",
            Box::new(qemu_check),
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
        Some("sample-cost") => sample_cost(),
        Some("size") => size(std::env::args().any(|a| a == "--write")),
        Some("qemu") => qemu(flag("--model"), flag("--recording")).map(|_| ()),
        Some("demo") => demo(),
        _ => {
            eprintln!(
                "usage: cargo xtask <ci|demo [--seed S] [--samples N]|selftest|qemu [--model F] [--recording F]|forward-cost|sample-cost|size [--write]>"
            );
            std::process::exit(2)
        }
    }
}

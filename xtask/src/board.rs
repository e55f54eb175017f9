//! The STM32F4 board firmware (`buoy_stm32f4`) end to end on an emulated board: the
//! STM32F405 build under QEMU `netduinoplus2`, its USART1 captured by a QEMU character
//! device (a file), the frames decoded by `vina listen` and checked against `vina invert`,
//! `vina replay` and the truth; and its cost per window, the duty-cycle figures of
//! `firmware/board-report.txt`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use vina_core::pipeline::PipelineConfig;
use vina_core::report::Report;

use crate::cost::refinement_agrees;
use crate::process::{output, root, utf8, vina_bin, write_or_check};
use crate::qemu::{check_buoy_reports, parse_features, parse_stack};
use crate::recording::{TRUTH, board_recording};

/// The boards' default model (firmware/build.rs): four receivers, one ADS131M04.
const BOARD_MODEL: &str = "models/gi-pekeris-4rx-cinn.vina";

/// Longest a board run may take (it takes seconds; a hang must not stall CI).
const QEMU_TIMEOUT: Duration = Duration::from_secs(600);

/// Core clocks the duty cycle is given for: the STM32F411's and the STM32F405's maximum.
const CLOCKS: [(&str, f64); 2] = [
    ("STM32F411 at 84 MHz", 84e6),
    ("STM32F405 at 168 MHz", 168e6),
];

/// One window's figures from the board's `cost` line.
struct Cost {
    window: u64,
    posterior: u64,
    refinement: u64,
}

/// What one board run sent on its USART.
struct BoardRun {
    reports: Vec<Report>,
    features: Vec<(u32, Vec<f32>)>,
    costs: Vec<Cost>,
    stack: (u64, u64),
}

/// Build the STM32F405 board firmware (cargo `features`) with `recording` embedded, run it
/// under QEMU `netduinoplus2` (`-icount shift=0`: the board's cycle counter then counts
/// instructions) with USART1 in `capture` until it says `done` or `fault`, and parse what
/// it sent.
fn run_board(recording: &Path, capture: &Path, features: &str) -> anyhow::Result<BoardRun> {
    run_qemu(Some(recording), capture, features)?;
    parse_capture(&std::fs::read(capture)?)
}

/// Build the STM32F405 board firmware (cargo `features`), with `recording` embedded or
/// none (then the board streams from its ADC), run it under QEMU until it says `done` or
/// `fault`, with USART1 in `capture`.
fn run_qemu(recording: Option<&Path>, capture: &Path, features: &str) -> anyhow::Result<()> {
    let fw = root().join("firmware");
    #[rustfmt::skip]
    let args = ["build", "--quiet", "--release", "--features", features, "--bin", "buoy_stm32f4"];
    let mut build = crate::process::cargo();
    build.args(args).current_dir(&fw);
    match recording {
        Some(r) => {
            eprintln!("$ VINA_RECORDING={} cargo {}", r.display(), args.join(" "));
            build.env("VINA_RECORDING", std::path::absolute(r)?)
        }
        None => {
            eprintln!("$ cargo {}", args.join(" "));
            build.env_remove("VINA_RECORDING")
        }
    };
    let built = build.status()?;
    if !built.success() {
        bail!("the STM32F405 board build failed");
    }
    let elf = fw.join("target/thumbv7em-none-eabihf/release/buoy_stm32f4");
    let _ = std::fs::remove_file(capture);
    let serial = format!("file:{}", utf8(capture)?);
    #[rustfmt::skip]
    let qemu = [
        "-machine", "netduinoplus2", "-nographic", "-monitor", "none", "-serial", &serial,
        "-icount", "shift=0", "-kernel", utf8(&elf)?,
    ];
    eprintln!("$ qemu-system-arm {}", qemu.join(" "));
    let mut child = Command::new("qemu-system-arm")
        .args(qemu)
        .stdin(Stdio::null())
        .spawn()
        .context("cannot start qemu-system-arm")?;
    // The firmware parks the core when it is done: QEMU runs on until stopped.
    let start = Instant::now();
    let finished = loop {
        let text = std::fs::read(capture).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        if text
            .lines()
            .any(|l| l.starts_with("done ") || l.starts_with("fault"))
        {
            break true;
        }
        if let Some(status) = child.try_wait()? {
            bail!("QEMU exited ({status}) before the board said it was done");
        }
        if start.elapsed() > QEMU_TIMEOUT {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    if !finished {
        bail!(
            "the board sent no `done` within {} s",
            QEMU_TIMEOUT.as_secs()
        );
    }
    Ok(())
}

/// Split the board's USART stream: per report, `features` and `cost` lines then the raw
/// frame; at the end `stack high-water`, then `done N` (or `fault: …`).
fn parse_capture(bytes: &[u8]) -> anyhow::Result<BoardRun> {
    let mut run = BoardRun {
        reports: Vec::new(),
        features: Vec::new(),
        costs: Vec::new(),
        stack: (0, 0),
    };
    let mut rest = bytes;
    loop {
        // text lines until a raw frame (which starts with no known prefix) or the end
        let line_end = rest.iter().position(|&b| b == b'\n');
        let line = line_end.map(|e| String::from_utf8_lossy(&rest[..e]).into_owned());
        match line.as_deref() {
            Some(l) if l.starts_with("features ") => {
                run.features.push(parse_features(&l["features ".len()..])?)
            }
            Some(l) if l.starts_with("cost ") => {
                let n: Vec<u64> = l
                    .split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect();
                let [_, window, posterior, refinement] = n[..] else {
                    bail!("bad cost line {l:?}");
                };
                run.costs.push(Cost {
                    window,
                    posterior,
                    refinement,
                });
                // the frame follows, up to its 0x00 delimiter
                let after = &rest[line_end.unwrap_or(0) + 1..];
                let end = after
                    .iter()
                    .position(|&b| b == 0)
                    .context("a cost line without a frame after it")?;
                let report = Report::decode(&mut after[..=end].to_vec())
                    .map_err(|e| anyhow::anyhow!("bad report frame: {e}"))?;
                run.reports.push(report);
                rest = &after[end + 1..];
                continue;
            }
            Some(l) if l.starts_with("stack high-water ") => {
                run.stack =
                    parse_stack(&l["stack high-water ".len()..]).context("bad stack line")?;
            }
            Some(l) if l.starts_with("done ") => return Ok(run),
            Some(l) if l.starts_with("fault") => bail!("the board reported {l}"),
            Some(l) => bail!("unexpected line from the board: {l:?}"),
            None => bail!("the board's output ended without `done`"),
        }
        rest = &rest[line_end.unwrap_or(0) + 1..];
    }
}

/// The duty-cycle report: cost per window on the board build, and the fraction of each
/// window the core is busy at the boards' clocks, without and with refinement.
fn duty_report(plain: &BoardRun, refining: &BoardRun, rate: f64) -> anyhow::Result<String> {
    let config = PipelineConfig::default();
    let window_s = config.window() as f64 / rate;
    let cost = plain.costs.first().context("the board sent no cost line")?;
    let refined = refining
        .costs
        .first()
        .context("the board sent no cost line")?;
    let dsp = cost
        .window
        .saturating_sub(cost.posterior)
        .saturating_sub(cost.refinement);
    let samples = u64::from(config.samples);
    let mut r = String::from(
        "# cargo xtask board: the STM32F405 board build (buoy_stm32f4, board-stm32f405, its default gi-pekeris-4rx cINN f32) under QEMU netduinoplus2,
# -icount shift=0: instructions, a lower bound on cycles (loads, taken branches, divisions take more than one; DWT counts cycles on silicon)
",
    );
    r.push_str(&format!(
        "analysis window: {} snapshots of {} samples at {rate} Hz = {window_s:.3} s
",
        config.snapshots, config.frame_len
    ));
    r.push_str(&format!(
        "per report: {} instructions = acquisition + DSP {dsp} + posterior {}
",
        cost.window, cost.posterior
    ));
    r.push_str(&format!(
        "acquisition + DSP per multi-channel sample: {} instructions
",
        dsp / config.window() as u64
    ));
    r.push_str(&format!(
        "per posterior sample: {} instructions ({samples} samples; incl. the condition network once and the summaries)
",
        cost.posterior / samples
    ));
    r.push_str(&format!(
        "per report with refinement (feature refine): {} instructions, of which refinement {}
",
        refined.window, refined.refinement
    ));
    for (name, hz) in CLOCKS {
        let (busy, busy_refined) = (cost.window as f64 / hz, refined.window as f64 / hz);
        r.push_str(&format!(
            "busy per window, {name}: {busy:.3} s of {window_s:.3} s ({:.2} %); with refinement {busy_refined:.3} s ({:.2} %)\n",
            100.0 * busy / window_s,
            100.0 * busy_refined / window_s
        ));
    }
    r.push_str(&format!(
        "stack high-water: {} B of {} B; with refinement {} B\n",
        plain.stack.0, plain.stack.1, refining.stack.0
    ));
    Ok(r)
}

/// Reports agree: the same lines, every number within 1 % (instruction counts move a
/// little with code layout; exact run to run).
fn same_report(committed: &str, fresh: &str) -> bool {
    let (a, b): (Vec<_>, Vec<_>) = (committed.lines().collect(), fresh.lines().collect());
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| {
            let (wx, wy): (Vec<_>, Vec<_>) = (
                x.split_whitespace().collect(),
                y.split_whitespace().collect(),
            );
            wx.len() == wy.len()
                && wx
                    .iter()
                    .zip(&wy)
                    .all(|(p, q)| match (p.parse::<f64>(), q.parse::<f64>()) {
                        (Ok(u), Ok(v)) => (u - v).abs() <= 0.01 * u.abs().max(v.abs()),
                        _ => p == q,
                    })
        })
}

/// CI: the STM32F405 board under QEMU on a one-window recording: its reports decoded by
/// `vina listen` from the captured USART and by this task, equal to `vina replay` and
/// `vina invert --engine core`, holding the truth; the duty-cycle figures against
/// `firmware/board-report.txt` (`--write` updates it).
pub fn board(write: bool) -> anyhow::Result<()> {
    let root = root();
    let recording = board_recording()?;
    let capture = root.join("target/xtask-board-usart1.bin");
    // no recording: the board streams from its ADC, which QEMU does not model, so the
    // part never answers; the board must say so, not hang or report
    run_qemu(None, &capture, "board-stm32f405")?;
    let said = String::from_utf8_lossy(&std::fs::read(&capture)?).into_owned();
    if said.trim_end() != "fault: ADC not started: Init" {
        bail!("the board without an ADC said {said:?}");
    }
    eprintln!("the board without an ADC: {}", said.trim_end());
    let refining = run_board(
        &recording,
        &root.join("target/xtask-board-refine-usart1.bin"),
        "board-stm32f405,refine",
    )?;
    let model_bytes = std::fs::read(root.join(BOARD_MODEL))?;
    let model = vina_core::model::Model::from_bytes(&model_bytes)?;
    for (r, (_, y)) in refining.reports.iter().zip(&refining.features) {
        refinement_agrees(&model, y, r)?;
        // one window, so no 90 % interval test (it fails one window in ten): the truth
        // within 3 refined sds flags a broken refinement, not bad luck
        let refined = r
            .refined
            .as_ref()
            .context("the refining board sent no refinement")?;
        for (p, t) in refined.parameters.iter().zip(TRUTH) {
            if (f64::from(p.mean) - t).abs() > 3.0 * f64::from(p.std) {
                bail!(
                    "refined report {}: truth {t} beyond 3 sd of {} ± {}",
                    r.sequence,
                    p.mean,
                    p.std
                );
            }
        }
    }
    eprintln!(
        "the refining board: equals the host's f32 replay of its refinement, truth within 3 sd"
    );
    let run = run_board(&recording, &capture, "board-stm32f405")?;
    if run.reports.len() != 1 {
        bail!(
            "expected 1 report from 33 s of recording, got {}",
            run.reports.len()
        );
    }
    // the user's tool on the same capture: the same reports
    let vina = vina_bin()?;
    #[rustfmt::skip]
    let listened = output(&root, utf8(&vina)?, &[
        "listen", "--file", utf8(&capture)?, "--model", BOARD_MODEL,
    ])?;
    let listened: Vec<serde_json::Value> = listened
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("vina listen output")?;
    if listened.len() != run.reports.len() {
        bail!(
            "vina listen decoded {} reports from the capture, expected {}",
            listened.len(),
            run.reports.len()
        );
    }
    for (l, r) in listened.iter().zip(&run.reports) {
        for (i, p) in r.parameters.iter().enumerate() {
            let q = &l["parameters"][i];
            // the same f32 values, through JSON's decimal text
            let same = |field: &str, v: f32| {
                q[field]
                    .as_f64()
                    .is_some_and(|u| (u - f64::from(v)).abs() <= 1e-6 * f64::from(v).abs())
            };
            if !(same("mean", p.mean) && same("q05", p.q05) && same("q95", p.q95)) {
                bail!(
                    "vina listen's report {} parameter {i} differs: {q}",
                    r.sequence
                );
            }
        }
    }
    eprintln!("vina listen on the captured USART: the same reports");
    check_buoy_reports(&run.reports, &run.features, &recording, BOARD_MODEL)?;
    let rec = std::fs::read(&recording)?;
    let rate = vina_core::recording::Recording::from_bytes(&rec)
        .map_err(|e| anyhow::anyhow!("{}: {e}", recording.display()))?
        .sample_rate_hz;
    let fresh = duty_report(&run, &refining, f64::from(rate))?;
    print!("{fresh}");
    let path = root.join("firmware/board-report.txt");
    write_or_check(&path, &fresh, write, "board", |committed, fresh| {
        if same_report(committed, fresh) {
            Ok(())
        } else {
            bail!(
                "the board's figures moved by more than 1 %:\n--- committed\n{committed}--- now\n{fresh}"
            )
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{parse_capture, same_report};
    use vina_core::report::{Report, Status};

    /// A report whose COBS frame holds `\n` bytes: the parser must not split it there.
    fn report(sequence: u32) -> (Report, Vec<u8>) {
        let r = Report {
            sequence,
            scenario_hash: 0x0a0a_0a0a_0a0a_0a0a,
            samples: 10,
            seed: 10,
            clipped_samples: 0,
            non_finite_values: 0,
            dropped_frames: 0,
            blanked_samples: 0,
            status: Status::Posterior,
            parameters: Default::default(),
            refined: None,
        };
        let mut buf = [0u8; vina_core::report::MAX_FRAME];
        let n = r.encode(&mut buf).unwrap();
        (r, buf[..n].to_vec())
    }

    #[test]
    fn board_capture_splits_text_and_raw_frames() {
        let mut bytes = Vec::new();
        for seq in 1..=2 {
            let (_, frame) = report(seq);
            assert!(frame.contains(&b'\n'));
            bytes.extend_from_slice(format!("features {seq} 3f800000\n").as_bytes());
            bytes.extend_from_slice(
                format!("cost {seq} window 100 posterior 60 refinement 0\n").as_bytes(),
            );
            bytes.extend_from_slice(&frame);
        }
        bytes.extend_from_slice(b"stack high-water 10 B of 20 B\ndone 2\n");
        let run = parse_capture(&bytes).unwrap();
        assert_eq!(run.reports, [report(1).0, report(2).0]);
        assert_eq!(run.features, [(1, vec![1.0f32]), (2, vec![1.0f32])]);
        assert_eq!((run.costs[1].window, run.costs[1].posterior), (100, 60));
        assert_eq!(run.stack, (10, 20));
        // a board that faulted, or stopped mid-way, is an error
        assert!(parse_capture(b"fault: model refused at boot\n").is_err());
        assert!(parse_capture(&bytes[..bytes.len() - 7]).is_err());
    }

    #[test]
    fn board_reports_allow_one_percent() {
        let a = "# header\nper report: 1000 instructions\nbusy 2.50 %\n";
        let near = "# header\nper report: 1009 instructions\nbusy 2.51 %\n";
        assert!(same_report(a, a) && same_report(a, near));
        let far = "# header\nper report: 1011 instructions\nbusy 2.50 %\n";
        let renamed = "# header\nper window: 1000 instructions\nbusy 2.50 %\n";
        for b in [far, renamed, "# header\n"] {
            assert!(!same_report(a, b), "{b}");
        }
    }
}

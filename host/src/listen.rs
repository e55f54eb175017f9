//! `vina listen (--file F | --serial DEV [--baud N]) [--model M | --names …]`: decode the
//! buoy's report frames, one JSON line per report. The stream may carry raw frames (COBS,
//! zero-delimited: a UART, a capture file) or `frame <hex>` text lines (what QEMU's
//! semihosting, probe-rs and the Linux build print), mixed with log text, which is
//! skipped, except the buoy's `fault: …` lines, echoed to stderr as warnings. Corrupted frames are counted and skipped: the zero delimiter (or the line
//! end) resynchronizes the stream. The format: docs/report-frame.md.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use vina_core::parameters::OUTSIDE_SUPPORT_WARN_FRACTION;
use vina_core::report::{FrameError, MAX_FRAME, Report, Status};

/// Splits a byte stream into report frames, raw or as `frame <hex>` lines; keeps the
/// buoy's `fault: …` lines (a board's only word to a user without a debugger).
#[derive(Default)]
pub struct FrameSplitter {
    pending: Vec<u8>,
    faults: Vec<String>,
}

/// Bytes kept while waiting for a delimiter: past it, what is pending cannot be a frame.
const MAX_PENDING: usize = 16 * MAX_FRAME;

impl FrameSplitter {
    /// Feed `bytes`; `on_frame` gets each frame's decoding (a report, or why not).
    pub fn push(&mut self, bytes: &[u8], on_frame: &mut impl FnMut(Result<Report, FrameError>)) {
        for &b in bytes {
            match b {
                0 => {
                    let pending = std::mem::take(&mut self.pending);
                    if !pending.is_empty() && !is_text(&pending) {
                        on_frame(decode_raw(&pending));
                    }
                }
                b'\n' => {
                    // the line that ends here: a `frame <hex>` line, log text, or a raw
                    // frame's byte 0x0a
                    let start = self
                        .pending
                        .iter()
                        .rposition(|&c| c == b'\n')
                        .map_or(0, |i| i + 1);
                    let line = &self.pending[start..];
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if let Some(hex) = line.strip_prefix(b"frame ") {
                        on_frame(Report::decode_hex(hex));
                        self.pending.truncate(start);
                    } else if is_text(&self.pending) {
                        if line.starts_with(b"fault") {
                            self.faults.push(String::from_utf8_lossy(line).into_owned());
                        }
                        self.pending.clear();
                    } else {
                        self.pending.push(b);
                    }
                }
                _ => self.pending.push(b),
            }
            if self.pending.len() > MAX_PENDING {
                self.pending.clear();
                on_frame(Err(FrameError::Cobs));
            }
        }
    }

    /// The `fault: …` lines seen since the last call.
    pub fn take_faults(&mut self) -> Vec<String> {
        std::mem::take(&mut self.faults)
    }

    /// The end of the stream: a partial frame left is refused.
    pub fn finish(&mut self, on_frame: &mut impl FnMut(Result<Report, FrameError>)) {
        let pending = std::mem::take(&mut self.pending);
        if !pending.is_empty() && !is_text(&pending) {
            on_frame(Err(FrameError::Cobs));
        }
    }
}

/// Log text (printable ASCII, tabs, line ends), never part of a frame worth decoding.
fn is_text(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|&c| c == b'\t' || c == b'\r' || c == b'\n' || (b' '..=b'~').contains(&c))
}

/// A raw frame, possibly after log lines with no delimiter of their own: the whole, then
/// what follows each line end.
fn decode_raw(pending: &[u8]) -> Result<Report, FrameError> {
    let first = Report::decode(&mut pending.to_vec());
    if first.is_ok() {
        return first;
    }
    pending
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c == b'\n')
        .find_map(|(i, _)| Report::decode(&mut pending[i + 1..].to_vec()).ok())
        .ok_or_else(|| first.err().unwrap_or(FrameError::Cobs))
}

/// Decode every frame in `stream` (to its end); calls `on_report` for each good one and
/// returns the number of frames refused.
pub fn decode_stream(
    stream: impl Read,
    mut on_report: impl FnMut(Report),
) -> anyhow::Result<usize> {
    decode_until(stream, usize::MAX, &mut on_report)
}

/// One report as JSON.
pub fn to_json(r: &Report, names: Option<&[String]>) -> serde_json::Value {
    let summaries = |list: &[vina_core::summary::SummaryValues]| -> Vec<serde_json::Value> {
        list.iter()
            .enumerate()
            .map(|(i, s)| {
                let name = names.and_then(|n| n.get(i)).cloned().unwrap_or_else(|| format!("p{i}"));
                json!({"name": name, "mean": s.mean, "std": s.std, "q05": s.q05, "q50": s.q50, "q95": s.q95,
                       "count": s.count, "non_finite": s.non_finite, "outside_support": s.outside_support})
            })
            .collect()
    };
    let params = summaries(&r.parameters);
    let refined = r.refined.as_ref().map(|f| {
        json!({
            "particles": f.particles, "steps": f.steps, "ess": f.ess, "max_weight": f.max_weight,
            "acceptance": f.acceptance, "missed": f.missed, "instructions": f.instructions,
            "target_instructions": f.target_instructions, "parameters": summaries(&f.parameters),
            "evaluations": f.evaluations,
        })
    });
    json!({
        "sequence": r.sequence,
        "scenario_hash": format!("{:016x}", r.scenario_hash),
        "samples": r.samples,
        "seed": r.seed,
        "status": match r.status { Status::Posterior => "posterior".to_owned(), Status::Rejected(why) => format!("rejected: {why:?}") },
        "clipped_samples": r.clipped_samples,
        "non_finite_values": r.non_finite_values,
        "dropped_frames": r.dropped_frames,
        "blanked_samples": r.blanked_samples,
        "parameters": params,
        "refined": refined,
    })
}

/// One warning per parameter of `r` with more than
/// [`OUTSIDE_SUPPORT_WARN_FRACTION`] of its draws outside the prior's support (the rule
/// `vina invert` warns with).
pub fn outside_support_warnings(r: &Report, names: Option<&[String]>) -> Vec<String> {
    r.parameters
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            let n = f64::from(s.count) + f64::from(s.non_finite);
            n > 0.0 && f64::from(s.outside_support) > OUTSIDE_SUPPORT_WARN_FRACTION * n
        })
        .map(|(i, s)| {
            let name = names
                .and_then(|n| n.get(i))
                .cloned()
                .unwrap_or_else(|| format!("p{i}"));
            format!(
                "report {}: {name}: {} of {} posterior draws lie outside the prior's support \
                 (kept, not clipped): the network spills past a bound or is extrapolating",
                r.sequence, s.outside_support, s.count
            )
        })
        .collect()
}

/// Where `vina listen` reads.
pub enum Input<'a> {
    /// A capture file (`-`: standard input), read to its end.
    File(&'a Path),
    /// A serial device at a baud rate, read until `reports` reports (or forever).
    Serial {
        /// The device, e.g. /dev/ttyUSB0.
        device: &'a Path,
        /// Baud rate.
        baud: u32,
    },
}

/// What to name the parameters by, and the scenario the reports should come from.
pub struct Naming {
    /// Parameter names in model order.
    pub names: Option<Vec<String>>,
    /// The model's scenario hash (`--model`): reports from another scenario are flagged.
    pub scenario_hash: Option<u64>,
}

/// `vina listen`: stop after `reports` reports when given.
pub fn run(input: Input<'_>, naming: &Naming, reports: Option<usize>) -> anyhow::Result<()> {
    let names = naming.names.as_deref();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut write_error = None;
    let mut decoded = 0usize;
    let mut other_scenario = 0usize;
    let mut on_report = |r: Report| {
        decoded += 1;
        if let Some(h) = naming.scenario_hash
            && r.scenario_hash != h
        {
            other_scenario += 1;
            eprintln!(
                "warning: report {}: scenario hash {:016x} is not the model's {h:016x}: the buoy runs another model (names and support checks may not apply)",
                r.sequence, r.scenario_hash
            );
        }
        for w in outside_support_warnings(&r, names) {
            eprintln!("warning: {w}");
        }
        if write_error.is_none()
            && let Err(e) = writeln!(out, "{}", to_json(&r, names)).and_then(|()| out.flush())
        {
            write_error = Some(e);
        }
    };
    let (label, refused) = match input {
        Input::File(path) if path == Path::new("-") => (
            "standard input".to_owned(),
            decode_until(
                std::io::stdin().lock(),
                reports.unwrap_or(usize::MAX),
                &mut on_report,
            )?,
        ),
        Input::File(path) => {
            let file = std::fs::File::open(path)
                .with_context(|| format!("cannot open {}", path.display()))?;
            (
                path.display().to_string(),
                decode_until(file, reports.unwrap_or(usize::MAX), &mut on_report)?,
            )
        }
        Input::Serial { device, baud } => {
            let port = serialport::new(device.to_string_lossy(), baud)
                .timeout(Duration::from_millis(200))
                .open()
                .map_err(|e| {
                    crate::error::refuse(format!(
                        "serial device {} at {baud} baud: {e}",
                        device.display()
                    ))
                })?;
            (
                device.display().to_string(),
                decode_until(port, reports.unwrap_or(usize::MAX), &mut on_report)?,
            )
        }
    };
    if let Some(e) = write_error {
        // a closed pipe (`vina listen … | head`) ends quietly (crate::error::StdoutClosed)
        return Err(crate::error::stdout_error(e));
    }
    if decoded == 0 && refused > 0 {
        return Err(crate::error::refuse(format!(
            "{label}: no valid frame in {refused} (every frame was corrupted or partial)"
        )));
    }
    if refused > 0 {
        eprintln!("{refused} corrupted or partial frame(s) skipped, {decoded} decoded");
    }
    if other_scenario > 0 {
        eprintln!("{other_scenario} of {decoded} reports from another scenario than the model's");
    }
    Ok(())
}

/// [`decode_stream`] until `limit` reports or the end of `stream`, which may time out (a
/// serial port: a timeout is a quiet line, not an end).
fn decode_until(
    mut stream: impl Read,
    limit: usize,
    on_report: &mut impl FnMut(Report),
) -> anyhow::Result<usize> {
    let mut refused = 0;
    let seen = std::cell::Cell::new(0usize);
    let mut on_frame = |f: Result<Report, FrameError>| match f {
        Ok(r) => {
            seen.set(seen.get() + 1);
            if seen.get() <= limit {
                on_report(r);
            }
        }
        Err(e) => {
            eprintln!("warning: skipped a frame: {e}");
            refused += 1;
        }
    };
    let mut splitter = FrameSplitter::default();
    let mut buf = [0u8; 8192];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => {
                splitter.finish(&mut on_frame);
                break;
            }
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e).context("reading the report stream"),
        };
        splitter.push(&buf[..n], &mut on_frame);
        for fault in splitter.take_faults() {
            eprintln!("warning: the buoy says {fault}");
        }
        if seen.get() >= limit {
            break;
        }
    }
    Ok(refused)
}

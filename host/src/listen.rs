//! `vina listen --file F | --serial DEV`: decode the buoy's report frames from a byte
//! stream (a capture file, QEMU's semihosting output, or a serial device configured with
//! `stty`), one JSON line per report. Corrupted frames are counted and skipped: the zero
//! delimiter resynchronizes the stream.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use anyhow::Context;
use serde_json::json;
use vina_core::parameters::OUTSIDE_SUPPORT_WARN_FRACTION;
use vina_core::report::{Report, Status};

/// Decode every frame in `stream`; calls `on_report` for each good one and returns the
/// number of frames refused.
pub fn decode_stream(
    stream: impl Read,
    mut on_report: impl FnMut(Report),
) -> anyhow::Result<usize> {
    let mut reader = BufReader::new(stream);
    let mut frame = Vec::new();
    let mut refused = 0;
    loop {
        frame.clear();
        let n = reader
            .read_until(0, &mut frame)
            .context("reading the report stream")?;
        if n == 0 {
            break;
        }
        if frame.last() != Some(&0) || frame.len() == 1 {
            // trailing partial frame at the end of the stream, or an empty frame
            refused += usize::from(frame.len() > 1);
            continue;
        }
        match Report::decode(&mut frame) {
            Ok(r) => on_report(r),
            Err(e) => {
                eprintln!("warning: skipped a frame: {e}");
                refused += 1;
            }
        }
    }
    Ok(refused)
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

/// `vina listen`.
pub fn run(path: &Path, names: Option<&[String]>) -> anyhow::Result<()> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut write_error = None;
    let mut decoded = 0usize;
    let refused = decode_stream(file, |r| {
        decoded += 1;
        for w in outside_support_warnings(&r, names) {
            eprintln!("warning: {w}");
        }
        if write_error.is_none()
            && let Err(e) = writeln!(out, "{}", to_json(&r, names)).and_then(|()| out.flush())
        {
            write_error = Some(e);
        }
    })?;
    if let Some(e) = write_error {
        // a closed pipe (`vina listen … | head`) ends quietly (crate::error::StdoutClosed)
        return Err(crate::error::stdout_error(e));
    }
    if decoded == 0 && refused > 0 {
        return Err(crate::error::refuse(format!(
            "{}: no valid frame in {refused} (every frame was corrupted or partial)",
            path.display()
        )));
    }
    if refused > 0 {
        eprintln!("{refused} corrupted or partial frame(s) skipped, {decoded} decoded");
    }
    Ok(())
}

//! The buoy on ARM Linux (`aarch64-unknown-linux-gnu`; docs/architecture.md, "Firmware"):
//! the same replay loop as the Cortex-M `buoy` ([`vina_core::pipeline::replay`]) with `std`,
//! reading the model and the recording from files and writing the report frames
//! (postcard + COBS, 0x00 delimited) to stdout, decodable by `vina listen --file`. Readable
//! lines go to stderr.
//!
//! `buoy_linux RECORDING [MODEL]`: without MODEL, the model built in (`VINA_MODEL` at
//! build time, else the random-weight default cINN — the Cortex-M `buoy`'s default).
//! Under QEMU: `cargo run --release --features linux --target aarch64-unknown-linux-gnu
//! --bin buoy_linux -- rec.vrec model.vina > frames.bin` (runner `qemu-aarch64`).
use std::io::Write;
use std::process::ExitCode;

use vina_core::pipeline::PipelineConfig;
use vina_core::pipeline::replay::replay;

static BUILT_IN_MODEL: &[u8] =
    vina_firmware::include_aligned!(concat!(env!("OUT_DIR"), "/model_f32.vina"));

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(recording_path) = args.first() else {
        eprintln!("usage: buoy_linux RECORDING.vrec [MODEL.vina] > frames.bin");
        return ExitCode::from(2);
    };
    let read = |path: &str| {
        std::fs::read(path).map_err(|e| {
            eprintln!("fault: cannot read {path}: {e}");
            ExitCode::FAILURE
        })
    };
    let recording = match read(recording_path) {
        Ok(b) => b,
        Err(code) => return code,
    };
    let model = match args.get(1) {
        Some(path) => match read(path) {
            Ok(b) => b,
            Err(code) => return code,
        },
        None => BUILT_IN_MODEL.to_vec(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut write_error = None;
    let outcome = replay(
        &model,
        &recording,
        PipelineConfig::default(),
        None,
        |report, frame, _features| {
            if let Err(e) = out.write_all(frame).and_then(|()| out.flush()) {
                write_error.get_or_insert(e);
            }
            for (i, p) in report.parameters.iter().enumerate() {
                eprintln!(
                    "report {} p{}: mean {} std {} q05 {} q50 {} q95 {}",
                    report.sequence, i, p.mean, p.std, p.q05, p.q50, p.q95
                );
            }
        },
    );
    if let Some(e) = write_error {
        eprintln!("fault: cannot write the report frames: {e}");
        return ExitCode::FAILURE;
    }
    match outcome {
        Ok(n) => {
            eprintln!("{n} report(s)");
            ExitCode::SUCCESS
        }
        Err(fault) => {
            eprintln!("fault: {fault}");
            ExitCode::FAILURE
        }
    }
}

//! The standard test recording: 70 s of gi-pekeris at a fixed truth, synthesized afresh by
//! `vina synth` so the firmware checks need no committed binary recording.

use std::path::{Path, PathBuf};

use crate::process::{root, run, utf8, vina_bin};

/// The standard recording's truth (see [`synth_args`]).
pub const TRUTH: [f64; 2] = [218.2, 1561.3];

/// `vina synth` arguments of a test recording: `seconds` of a gi-pekeris `scenario` at
/// [`TRUTH`].
fn synth_args(out: &Path, scenario: &str, seconds: u32) -> anyhow::Result<Vec<String>> {
    let seconds = seconds.to_string();
    #[rustfmt::skip]
    let args = [
        "synth", "--scenario", scenario,
        "--truth", "water_depth_m=218.2,water_sound_speed_mps=1561.3",
        "--seconds", &seconds, "--seed", "3", "--out", utf8(out)?,
    ];
    Ok(args.map(str::to_owned).to_vec())
}

/// A test recording of `seconds` of `scenario`, synthesized afresh (well under a second)
/// as `name`.
fn recording(name: &str, scenario: &str, seconds: u32) -> anyhow::Result<PathBuf> {
    let root = root();
    let path = root.join("target").join(name);
    let args = synth_args(&path, scenario, seconds)?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let vina = vina_bin()?;
    run(&root, utf8(&vina)?, &args)?;
    Ok(path)
}

/// The standard test recording: 70 s, two windows of the default pipeline.
pub fn standard_recording() -> anyhow::Result<PathBuf> {
    recording("xtask-gi-pekeris.vrec", "scenarios/gi-pekeris.toml", 70)
}

/// The board's test recording: 33 s, one window (32 768 samples at 1 kHz) of the four
/// hydrophones of `gi-pekeris-4rx` (one ADS131M04), small enough to sit in the
/// STM32F405's 1 MiB of flash next to the firmware.
pub fn board_recording() -> anyhow::Result<PathBuf> {
    recording(
        "xtask-gi-pekeris-4rx-33s.vrec",
        "scenarios/gi-pekeris-4rx.toml",
        33,
    )
}

//! The standard test recording: 70 s of gi-pekeris at a fixed truth, synthesized afresh by
//! `vina synth` so the firmware checks need no committed binary recording.

use std::path::{Path, PathBuf};

use crate::process::{root, run, utf8, vina_bin};

/// The standard recording's truth (see [`synth_args`]).
pub const TRUTH: [f64; 2] = [218.2, 1561.3];

/// `vina synth` arguments of the standard test recording: 70 s of gi-pekeris at [`TRUTH`].
fn synth_args(out: &Path) -> anyhow::Result<Vec<String>> {
    #[rustfmt::skip]
    let args = [
        "synth", "--scenario", "scenarios/gi-pekeris.toml",
        "--truth", "water_depth_m=218.2,water_sound_speed_mps=1561.3",
        "--seconds", "70", "--seed", "3", "--out", utf8(out)?,
    ];
    Ok(args.map(str::to_owned).to_vec())
}

/// The standard test recording, synthesized afresh (well under a second).
pub fn standard_recording() -> anyhow::Result<PathBuf> {
    let root = root();
    let path = root.join("target/xtask-gi-pekeris.vrec");
    let args = synth_args(&path)?;
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let vina = vina_bin()?;
    run(&root, utf8(&vina)?, &args)?;
    Ok(path)
}

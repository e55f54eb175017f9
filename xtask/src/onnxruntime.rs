//! The committed ONNX graphs in onnxruntime against vina-core: the exported graph is a
//! deliverable, so CI runs it in the reference runtime rather than trusting the exporter.

use crate::process::{root, run, utf8, vina_bin};

/// CI: both committed ONNX graphs in onnxruntime (a pinned wheel in a venv under
/// `target/`) against `vina invert --engine core` on the same y and z, within 1e-5.
pub fn onnxruntime_check() -> anyhow::Result<()> {
    let root = root();
    let venv = root.join("target/onnxruntime-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        run(&root, "python3", &["-m", "venv", utf8(&venv)?])?;
        #[rustfmt::skip]
        run(&root, utf8(&python)?, &[
            "-m", "pip", "install", "--quiet", "onnxruntime==1.32.0", "numpy==2.4.6",
        ])?;
    }
    let vina = vina_bin()?;
    let vina = utf8(&vina)?;
    for (model, scenario, truth) in [
        (
            "gi-pekeris-cinn",
            "gi-pekeris",
            "water_depth_m=218.2,water_sound_speed_mps=1561.3",
        ),
        (
            "gi-pekeris-inn",
            "gi-pekeris-raw",
            "water_depth_m=210.5,water_sound_speed_mps=1575.0",
        ),
    ] {
        let obs_path = root.join(format!("target/xtask-{scenario}-obs.json"));
        let obs = utf8(&obs_path)?;
        #[rustfmt::skip]
        run(&root, vina, &[
            "observe", "--scenario", &format!("scenarios/{scenario}.toml"), "--truth", truth,
            "--seed", "5", "--out", obs,
        ])?;
        #[rustfmt::skip]
        run(&root, utf8(&python)?, &[
            "scripts/onnxruntime_check.py", "--model", &format!("models/{model}.vina"),
            "--onnx", &format!("models/{model}.onnx"), "--observation", obs, "--vina", vina,
        ])?;
    }
    Ok(())
}

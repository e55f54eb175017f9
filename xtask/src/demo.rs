//! `cargo xtask demo`: the project's main job end to end on embedded defaults, so one
//! command shows a trained model's posterior on the firmware against a known truth.

use std::path::Path;
use std::process::Command;

use anyhow::Context;

use crate::linux::host_buoy;
use crate::process::{root, run};
use crate::qemu::qemu;

/// Simulate → train → evaluate → export → synthesize a recording for a random truth →
/// the firmware on QEMU (or, without QEMU, the same pipeline built for this machine) →
/// truth against the posterior. `seed` defaults to one from the clock.
pub fn demo(seed: Option<u64>, samples: u64) -> anyhow::Result<()> {
    let root = root();
    let dir = root.join("target/demo");
    std::fs::create_dir_all(&dir)?;
    let p = |name: &str| {
        dir.join(name)
            .to_str()
            .map(str::to_owned)
            .context("non-UTF-8 path")
    };
    let seed = seed.unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        t % 100_000
    });
    let held_out_seed = seed.wrapping_add(1_000_000).to_string();
    let (seed_arg, samples) = (seed.to_string(), samples.to_string());
    let vina = |args: &[&str]| -> anyhow::Result<()> {
        run(
            &root,
            "cargo",
            &[&["run", "--quiet", "-p", "vina-host", "--"][..], args].concat(),
        )
    };
    eprintln!("\n== 1/6 simulate {samples} gi-pekeris training samples and 1000 held-out ones");
    #[rustfmt::skip]
    vina(&["simulate", "--scenario", "scenarios/gi-pekeris.toml", "--simulations", &samples, "--seed", &seed_arg, "--out", &p("data")?])?;
    #[rustfmt::skip]
    vina(&["simulate", "--scenario", "scenarios/gi-pekeris.toml", "--simulations", "1000", "--seed", &held_out_seed, "--out", &p("held-out")?])?;
    eprintln!("\n== 2/6 train the default cINN (configs/gi-pekeris-cinn.toml)");
    let run_dir = dir.join("run");
    if run_dir.exists() {
        std::fs::remove_dir_all(&run_dir)?;
    }
    #[rustfmt::skip]
    vina(&["train", "--data", &p("data")?, "--config", "configs/gi-pekeris-cinn.toml", "--out", &p("run")?])?;
    eprintln!("\n== 3/6 evaluate on the held-out set (coverage, SBC, RMSE, plots)");
    #[rustfmt::skip]
    vina(&["eval", "--model", &p("run")?, "--data", &p("held-out")?, "--out", &p("eval")?])?;
    eprintln!("\n== 4/6 export the firmware model (folded f32 .vina) and its ONNX graph");
    #[rustfmt::skip]
    vina(&["export", "--model", &p("run")?, "--out", &p("model.vina")?, "--onnx", &p("model.onnx")?,
           "--scenario", "scenarios/gi-pekeris.toml"])?;
    vina(&["inspect", &p("model.vina")?])?;
    // a truth from the prior, seeded
    let mut rng = vina_core::rng::Rng::new(seed ^ 0xDE30);
    let depth = 200.5 + 36.0 * rng.uniform_f64();
    let speed = 1532.0 + 60.0 * rng.uniform_f64();
    let truth = format!("water_depth_m={depth:.3},water_sound_speed_mps={speed:.3}");
    eprintln!("\n== 5/6 synthesize 70 s of hydrophone data at the truth {truth}");
    #[rustfmt::skip]
    vina(&["synth", "--scenario", "scenarios/gi-pekeris.toml", "--truth", &truth, "--seconds", "70", "--seed", &seed_arg, "--out", &p("recording.vrec")?])?;
    let qemu_missing = Command::new("qemu-system-arm")
        .arg("--version")
        .output()
        .is_err();
    let (model, recording) = (p("model.vina")?, p("recording.vrec")?);
    let (model, recording) = (Path::new(&model), Path::new(&recording));
    let reports = if qemu_missing {
        eprintln!(
            "\n== 6/6 NOTICE: qemu-system-arm is missing (apt-get install qemu-system-arm); \
             running the same firmware pipeline built for this machine instead"
        );
        host_buoy(model, recording)?
    } else {
        eprintln!("\n== 6/6 the buoy firmware on QEMU (Cortex-M4, mps2-an386)");
        qemu(Some(model), Some(recording), &[])?
    };
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
    println!("\nevaluation: {}", p("eval/report.md")?);
    for plot in ["corner", "coverage", "sbc_ranks", "training"] {
        println!("plot: {}", p(&format!("eval/{plot}.png"))?);
    }
    println!("artifacts: {}", dir.display());
    Ok(())
}

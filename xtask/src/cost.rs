//! Instruction counts on the Cortex-M4 under QEMU (`-icount shift=0`, exact and repeatable):
//! the forward model, a posterior sample, one subnet MLP against microflow, and the buoy's
//! exact-likelihood refinement. Each report is compared with its committed `bench/` file
//! (`--write` updates it), so a regression fails CI instead of drifting.

use anyhow::{Context, bail};

use crate::process::{output, root, run, utf8, vina_bin, write_or_check};
use crate::qemu::{qemu_buoy, qemu_icount};
use crate::recording::{TRUTH, standard_recording};
use crate::size::RAM_BUDGET;

const QEMU_HEADER: &str = "QEMU mps2-an386 (Cortex-M4), -icount shift=0, SysTick at the 25 MHz core clock (40 instructions per tick)";

/// Relative change of an instruction count that the cost checks accept. The counts are
/// exact and repeat run to run under `-icount shift=0`, so any change comes from the code;
/// 1 % lets toolchain-level noise (a moved constant, another inlining decision) through
/// and stops real regressions.
const SAMPLE_COST_TOLERANCE: f64 = 0.01;

/// Largest difference, in posterior sds, between the buoy's f32 refinement and the
/// host's f64 one (same seed and sweeps): f32 rounding of the forward model can flip a
/// Metropolis decision near its threshold, after which that particle's chain differs.
const REFINE_F64_TOLERANCE: f64 = 0.25;

/// Build a firmware binary and run it under QEMU with `-icount shift=0` (deterministic
/// instruction counts); returns what it printed.
fn qemu_measure(bin: &str, features: &[&str]) -> anyhow::Result<String> {
    let fw = root().join("firmware");
    let mut args = vec!["build", "--quiet", "--release", "--bin", bin];
    args.extend_from_slice(features);
    run(&fw, "cargo", &args)?;
    qemu_icount(
        &fw,
        &fw.join("target/thumbv7em-none-eabihf/release").join(bin),
    )
}

/// Instructions per gi-pekeris environment of the f32 forward model on the Cortex-M4,
/// written to `bench/forward_cortex_m4.txt`.
pub fn forward_cost() -> anyhow::Result<()> {
    let out = qemu_measure("forward_cost", &[])?;
    print!("{out}");
    let report = format!("# cargo xtask forward-cost: {QEMU_HEADER}\n{out}");
    std::fs::write(root().join("bench/forward_cortex_m4.txt"), report)?;
    Ok(())
}

/// Instructions per posterior sample of the default cINN architecture (random weights
/// unless VINA_MODEL names a trained model), f32 and int8, compared with the committed
/// `bench/sample_cortex_m4.txt` (`--write` updates it).
pub fn sample_cost(write: bool) -> anyhow::Result<()> {
    let f32_run = qemu_measure("sample_cost", &[])?;
    let int8_run = qemu_measure("sample_cost", &["--features", "int8-model"])?;
    let out = format!("{f32_run}{int8_run}");
    print!("{out}");
    let report = format!("# cargo xtask sample-cost: {QEMU_HEADER}\n{out}");
    write_or_compare("sample_cortex_m4.txt", "sample-cost", &report, write)
}

/// One subnet MLP of the default int8 cINN on the Cortex-M4, vina-core against
/// microflow 0.1.3's generated code for the same MLP (`bench/mlp_m4`, its own crate;
/// `subnet.tflite` from `bench/mlp_m4/make_tflite.py`), compared with the committed
/// `bench/mlp_cortex_m4.txt` (`--write` updates it). The binary itself fails unless both
/// engines compute the same function.
pub fn mlp_cost(write: bool) -> anyhow::Result<()> {
    let dir = root().join("bench/mlp_m4");
    run(&dir, "cargo", &["build", "--quiet", "--release"])?;
    let out = qemu_icount(
        &dir,
        &dir.join("target/thumbv7em-none-eabihf/release/mlp-m4"),
    )?;
    print!("{out}");
    let report = format!("# cargo xtask mlp-cost: {QEMU_HEADER}\n{out}");
    write_or_compare("mlp_cortex_m4.txt", "mlp-cost", &report, write)
}

/// A buoy's refined summary equals the same refinement replayed on the host in f32 (the
/// firmware library's code, the report's seed and sweeps, features `y`) within 1e-4.
pub fn refinement_agrees(
    model: &vina_core::model::Model<'_>,
    y: &[f32],
    r: &vina_core::report::Report,
) -> anyhow::Result<()> {
    use vina_core::pipeline::refinement::{Budget, Refiner};
    use vina_core::refine::RefineConfig;
    let seq = r.sequence;
    let refined = r
        .refined
        .as_ref()
        .with_context(|| format!("report {seq} carries no refinement"))?;
    let conditioned = vina_core::sampling::Conditioned::new(model, y)?;
    let ctx = conditioned.context();
    let mut refiner = Box::new(Refiner::new());
    let budget = Budget::default();
    let replay_budget = Budget {
        config: RefineConfig {
            steps: u32::from(refined.steps),
            ..budget.config
        },
        ..budget
    };
    let host32 = refiner
        .run(model, ctx, y, &replay_budget, r.seed, &|| 0)
        .map_err(|e| anyhow::anyhow!("host replay of the refinement: {e:?}"))?;
    for (b, h) in refined.parameters.iter().zip(&host32.parameters) {
        for (field, bv, hv) in [
            ("mean", b.mean, h.mean),
            ("std", b.std, h.std),
            ("q50", b.q50, h.q50),
        ] {
            if (bv - hv).abs() > 1e-4 * hv.abs().max(1.0) {
                bail!("report {seq} refined {field}: buoy {bv} vs host f32 replay {hv}");
            }
        }
    }
    Ok(())
}

/// CI: the buoy with exact-likelihood refinement (feature `refine`, default budget; see
/// "Exact-likelihood refinement and its fallback" in `docs/architecture.md`) under QEMU
/// `-icount shift=0` on the standard recording. Each report's refined posterior must
/// contain the truth in its 90 % intervals, equal the same refinement replayed on the host
/// in f32 (the firmware library's `Refiner`, same seed and sweeps), and agree with
/// `vina invert --refine` (f64 forward model) within [`REFINE_F64_TOLERANCE`] of its
/// posterior sd; the instruction counts go to `bench/refine_cortex_m4.txt` (`--write`) or
/// are compared with it.
pub fn refine_cost(write: bool) -> anyhow::Result<()> {
    use vina_core::pipeline::refinement::Budget;
    let root = root();
    let path = standard_recording()?;
    let run = qemu_buoy(None, Some(&path), &["--features", "refine"], true)?;
    if run.reports.len() != 2 || run.features.len() != 2 {
        bail!(
            "expected 2 reports with features, got {}",
            run.reports.len()
        );
    }
    let model_bytes = std::fs::read(root.join("models/gi-pekeris-cinn.vina"))?;
    let model = vina_core::model::Model::from_bytes(&model_bytes)?;
    let vina = vina_bin()?;
    let budget = Budget::default();
    let mut lines = String::new();
    for (r, (seq, y)) in run.reports.iter().zip(&run.features) {
        let refined = r
            .refined
            .as_ref()
            .with_context(|| format!("report {seq} carries no refinement"))?;
        for (p, t) in refined.parameters.iter().zip(TRUTH) {
            if !(f64::from(p.q05) <= t && t <= f64::from(p.q95)) {
                bail!(
                    "report {seq}: truth {t} outside the refined 90 % interval [{}, {}]",
                    p.q05,
                    p.q95
                );
            }
        }
        refinement_agrees(&model, y, r)?;
        // the host's f64 refinement (`vina invert --refine`), same seed and sweeps
        let obs = root.join(format!("target/xtask-refine-features-{seq}.json"));
        let yv: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
        std::fs::write(&obs, serde_json::json!({ "y": yv }).to_string())?;
        let (seed, particles, steps) = (
            r.seed.to_string(),
            budget.particles.to_string(),
            refined.steps.to_string(),
        );
        let widen = budget.config.widen.to_string();
        #[rustfmt::skip]
        let out = output(&root, utf8(&vina)?, &[
            "invert", "--engine", "core", "--model", "models/gi-pekeris-cinn.vina", "--observation",
            utf8(&obs)?, "--seed", &seed, "--json", "--refine",
            "--scenario", "scenarios/gi-pekeris.toml", "--refine-particles", &particles,
            "--refine-steps", &steps, "--widen", &widen,
        ])?;
        let host: serde_json::Value = serde_json::from_str(&out)?;
        let names = ["water_depth_m", "water_sound_speed_mps"];
        let mut worst = 0.0f64;
        for (b, name) in refined.parameters.iter().zip(names) {
            let h = &host["summary"][name];
            let (mean, sd) = (
                h["mean"].as_f64().context("mean")?,
                h["std"].as_f64().context("std")?,
            );
            let dm = (f64::from(b.mean) - mean).abs() / sd;
            let ds = (f64::from(b.std) - sd).abs() / sd;
            worst = worst.max(dm).max(ds);
            if dm > REFINE_F64_TOLERANCE || ds > REFINE_F64_TOLERANCE {
                bail!(
                    "report {seq} {name}: buoy refined {} ± {} vs vina invert --refine (f64) {mean} ± {sd}",
                    b.mean,
                    b.std
                );
            }
        }
        let net: Vec<String> = r
            .parameters
            .iter()
            .map(|p| format!("{:.3} ± {:.3}", p.mean, p.std))
            .collect();
        let fine: Vec<String> = refined
            .parameters
            .iter()
            .map(|p| format!("{:.3} ± {:.3}", p.mean, p.std))
            .collect();
        eprintln!(
            "report {seq}: refined {} (network {}), truth inside; equals the host f32 replay; within {worst:.3} sd of vina invert --refine (f64)",
            fine.join(", "),
            net.join(", ")
        );
        let evaluations = u64::from(refined.evaluations.max(1));
        lines.push_str(&format!(
            "report {seq}: {} instructions per report; {} instructions in the exact posterior ({:.2} %); {} instructions per exact-posterior evaluation; {} evaluations; {} particles, {} sweeps, ESS {:.1}, acceptance {:.2}\n",
            refined.instructions,
            refined.target_instructions,
            100.0 * refined.target_instructions as f64 / refined.instructions as f64,
            refined.target_instructions / evaluations,
            refined.evaluations,
            refined.particles,
            refined.steps,
            refined.ess,
            refined.acceptance,
        ));
    }
    let (used, size) = (run.stack_high_water, run.stack_size);
    if used >= size {
        bail!("the refining buoy's stack reached the bottom of RAM ({used} B of {size} B)");
    }
    lines.push_str(&format!(
        "stack high-water of the refining buoy: {used} B of the {size} B stack, {:.1} % of RAM\n",
        100.0 * used as f64 / RAM_BUDGET as f64
    ));
    print!("{lines}");
    let report = format!(
        "# cargo xtask refine-cost: {QEMU_HEADER}; buoy --features refine, default cINN f32, standard gi-pekeris recording\n{lines}"
    );
    write_or_compare("refine_cortex_m4.txt", "refine-cost", &report, write)
}

/// Write `report` to the committed `bench/NAME` (`--write`), or fail unless its
/// instruction counts are within [`SAMPLE_COST_TOLERANCE`] of the committed ones.
fn write_or_compare(name: &str, task: &str, report: &str, write: bool) -> anyhow::Result<()> {
    let path = root().join("bench").join(name);
    write_or_check(&path, report, write, task, |committed, fresh| {
        compare_instruction_counts(committed, fresh, SAMPLE_COST_TOLERANCE).with_context(|| {
            format!(
                "instruction counts moved by more than {} %",
                100.0 * SAMPLE_COST_TOLERANCE
            )
        })
    })?;
    if !write {
        eprintln!(
            "{task}: within {} % of the committed {}",
            100.0 * SAMPLE_COST_TOLERANCE,
            path.display()
        );
    }
    Ok(())
}

/// The `(model, what, count)` instruction counts of a cost report: every
/// "N instructions…" figure on each "model: …" line.
fn instruction_counts(report: &str) -> Vec<(String, String, u64)> {
    let mut counts = Vec::new();
    for line in report.lines().filter(|l| !l.starts_with('#')) {
        let Some((model, rest)) = line.split_once(": ") else {
            continue;
        };
        for part in rest.split(';') {
            let words: Vec<&str> = part.split_whitespace().collect();
            for (i, w) in words.iter().enumerate() {
                if words.get(i + 1) == Some(&"instructions")
                    && let Ok(n) = w.parse::<u64>()
                {
                    let what = format!("{} {}", words[..i].join(" "), words[i + 1..].join(" "));
                    // a derived share such as "(95.55 %)" is not part of the label: it moves
                    // with the counts, which the tolerance already covers
                    let what = what.split(" (").next().unwrap_or("").trim().to_owned();
                    counts.push((model.to_owned(), what, n));
                }
            }
        }
    }
    counts
}

/// Fail unless both reports hold the same instruction counts within `tolerance`.
fn compare_instruction_counts(committed: &str, fresh: &str, tolerance: f64) -> anyhow::Result<()> {
    let (old, new) = (instruction_counts(committed), instruction_counts(fresh));
    if old.is_empty() || old.len() != new.len() {
        bail!(
            "the reports list different measurements:\n--- committed\n{committed}--- now\n{fresh}"
        );
    }
    let mut bad = Vec::new();
    for ((m0, w0, n0), (m1, w1, n1)) in old.iter().zip(&new) {
        if (m0, w0) != (m1, w1) {
            bail!("measurement `{m0}: {w0}` is now `{m1}: {w1}`");
        }
        let change = (*n1 as f64 - *n0 as f64) / (*n0).max(1) as f64;
        eprintln!(
            "{m0}: {w0}: committed {n0}, now {n1} ({:+.2} %)",
            100.0 * change
        );
        if change.abs() > tolerance {
            bad.push(format!(
                "{m0}: {w0}: {n0} → {n1} ({:+.2} %)",
                100.0 * change
            ));
        }
    }
    if !bad.is_empty() {
        bail!("{}", bad.join("\n"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts are matched by label, and a derived percentage in parentheses is no part of
    /// the label: a 0.4 % change passes at 1 %, a 2 % change does not.
    #[test]
    fn counts_compare_by_label_within_the_tolerance() {
        let old = "r 1: 1000 instructions per report; 900 instructions in the exact posterior (90.00 %)\n";
        let near = "r 1: 1004 instructions per report; 903 instructions in the exact posterior (89.94 %)\n";
        let far = "r 1: 1020 instructions per report; 900 instructions in the exact posterior (88.24 %)\n";
        assert_eq!(
            instruction_counts(old)[1],
            (
                "r 1".to_owned(),
                "instructions in the exact posterior".to_owned(),
                900
            )
        );
        assert!(compare_instruction_counts(old, near, 0.01).is_ok());
        assert!(compare_instruction_counts(old, far, 0.01).is_err());
    }
}

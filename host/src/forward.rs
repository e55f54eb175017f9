//! `vina forward ENV [--flp FLP] [--json]`: the forward model for one environment, from a
//! scenario with every parameter fixed or from an Acoustics Toolbox `.env` (+ `.flp`).

use std::path::Path;

use num_complex::Complex64;
use serde_json::json;
use vina_core::acoustics::{Layer, Medium, ModeSet, transmission_loss};
use vina_core::environment::Environment;
use vina_core::limits::{HOST_MODES, MAX_LAYERS};

use crate::error::refuse;
use crate::kraken_env::{EnvMedium, read_env, read_flp};
use crate::scenario::Scenario;

/// What to evaluate: an environment, its frequencies, and the receivers.
#[derive(Clone, Debug)]
pub struct ForwardCase {
    /// The environment (source depth and first range included).
    pub env: Environment<f64>,
    /// Frequencies (Hz).
    pub frequencies_hz: Vec<f64>,
    /// Ranges (m); pressure is reported at the first.
    pub ranges_m: Vec<f64>,
    /// Receiver depths (m).
    pub receiver_depths_m: Vec<f64>,
}

/// Per-frequency result.
#[derive(Clone, Debug)]
pub struct ForwardResult {
    /// Mode wavenumbers per frequency.
    pub wavenumbers: Vec<Vec<Complex64>>,
    /// Pressure per frequency and receiver at the first range.
    pub pressure: Vec<Vec<Complex64>>,
}

fn medium(m: &EnvMedium) -> Medium<f64> {
    Medium::new(m.speed, m.density, m.attenuation_db_per_wavelength)
}

/// Load an `.env` (with its `.flp`) or a fully fixed scenario TOML.
pub fn load_case(env_path: &Path, flp: Option<&Path>) -> anyhow::Result<ForwardCase> {
    let is_toml = env_path.extension().is_some_and(|e| e == "toml");
    if is_toml {
        if flp.is_some() {
            return Err(refuse(
                "--flp applies to .env files; a scenario gives its own geometry",
            ));
        }
        let scn = Scenario::load(env_path)?;
        if !scn.unknowns().is_empty() {
            return Err(refuse(format!(
                "{}: `vina forward` needs every parameter fixed; these have priors: {}",
                env_path.display(),
                scn.unknowns().join(", ")
            )));
        }
        let env = scn.environment(&[])?;
        return Ok(ForwardCase {
            ranges_m: vec![env.source_range],
            env,
            frequencies_hz: scn.tones_hz.clone(),
            receiver_depths_m: scn.receiver_depths_m.clone(),
        });
    }
    let e = read_env(env_path)?;
    let flp_path = flp.ok_or_else(|| {
        refuse(format!(
            "{}: a .env file gives no source–receiver ranges; pass the FIELD file with --flp",
            env_path.display()
        ))
    })?;
    let f = read_flp(flp_path)?;
    let source_depth = *f
        .source_depths
        .first()
        .ok_or_else(|| refuse(format!("{}: no source depth", flp_path.display())))?;
    if f.source_depths.len() > 1 {
        return Err(refuse(format!(
            "{}: {} source depths; `vina forward` evaluates one source",
            flp_path.display(),
            f.source_depths.len()
        )));
    }
    let range = *f
        .ranges_m
        .first()
        .ok_or_else(|| refuse(format!("{}: no receiver range", flp_path.display())))?;
    if e.sediment.len() > MAX_LAYERS {
        return Err(refuse(format!(
            "{}: {} sediment layers; the forward model takes at most {MAX_LAYERS}",
            env_path.display(),
            e.sediment.len()
        )));
    }
    Ok(ForwardCase {
        env: Environment {
            water_depth: e.water_depth,
            water: medium(&e.water),
            sediment: e
                .sediment
                .iter()
                .map(|l| Layer::new(l.thickness, medium(&l.medium)))
                .collect(),
            bottom: medium(&e.half_space),
            source_depth,
            source_range: range,
        },
        frequencies_hz: vec![e.frequency_hz],
        ranges_m: f.ranges_m.clone(),
        receiver_depths_m: f.receiver_depths.clone(),
    })
}

/// Solve every frequency.
pub fn solve(case: &ForwardCase) -> anyhow::Result<ForwardResult> {
    let mut modes = Box::new(ModeSet::<f64, HOST_MODES>::new());
    let mut result = ForwardResult {
        wavenumbers: Vec::new(),
        pressure: Vec::new(),
    };
    for &f in &case.frequencies_hz {
        case.env
            .modes(f, &mut modes)
            .map_err(|e| refuse(format!("forward model at {f} Hz: {e}")))?;
        let mut p = vec![Complex64::new(0.0, 0.0); case.receiver_depths_m.len()];
        modes
            .pressure_at(
                case.env.source_depth,
                case.env.source_range,
                &case.receiver_depths_m,
                &mut p,
            )
            .map_err(|e| refuse(format!("field at {f} Hz: {e}")))?;
        result
            .wavenumbers
            .push(modes.modes().iter().map(|m| m.k).collect());
        result.pressure.push(p);
    }
    Ok(result)
}

/// The JSON document of the contract.
pub fn to_json(case: &ForwardCase, r: &ForwardResult) -> serde_json::Value {
    let pairs = |v: &[Complex64]| v.iter().map(|c| [c.re, c.im]).collect::<Vec<_>>();
    json!({
        "frequency_hz": case.frequencies_hz,
        "range_m": case.ranges_m,
        "source_depth_m": case.env.source_depth,
        "receiver_depth_m": case.receiver_depths_m,
        "wavenumbers": r.wavenumbers.iter().map(|k| pairs(k)).collect::<Vec<_>>(),
        "pressure": r.pressure.iter().map(|p| pairs(p)).collect::<Vec<_>>(),
        "tl_db": r.pressure.iter().map(|p| p.iter().map(|c| transmission_loss(*c)).collect::<Vec<_>>()).collect::<Vec<_>>(),
    })
}

/// `vina forward`.
pub fn run(env: &Path, flp: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let case = load_case(env, flp)?;
    let result = solve(&case)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&case, &result))?
        );
        return Ok(());
    }
    println!(
        "source {} m, range {} m, receivers {:?} m",
        case.env.source_depth, case.env.source_range, case.receiver_depths_m
    );
    for ((f, ks), ps) in case
        .frequencies_hz
        .iter()
        .zip(&result.wavenumbers)
        .zip(&result.pressure)
    {
        println!("\n{f} Hz: {} modes", ks.len());
        for (m, k) in ks.iter().enumerate() {
            println!(
                "  k{:<3} {:.12e} {:+.6e}i   phase speed {:.6} m/s",
                m + 1,
                k.re,
                k.im,
                2.0 * std::f64::consts::PI * f / k.re
            );
        }
        for (z, p) in case.receiver_depths_m.iter().zip(ps) {
            println!(
                "  z = {z:8.2} m   p = {:+.6e} {:+.6e}i   TL = {:.3} dB",
                p.re,
                p.im,
                transmission_loss(*p)
            );
        }
    }
    Ok(())
}

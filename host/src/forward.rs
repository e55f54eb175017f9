//! `vina forward ENV [--flp FLP] [--json]`: the forward model for one environment, from a
//! scenario with every parameter fixed or from an Acoustics Toolbox `.env` (+ `.flp`).
//!
//! From Acoustics Toolbox files it obeys what KRAKEN and FIELD obey: the `.env`'s
//! phase-speed window CLOW ≤ ω/Re k ≤ CHIGH (CLOW = 0: no lower limit; a CHIGH above the
//! half-space speed is capped there, as KRAKEN caps it — vina computes trapped modes only,
//! KRAKENC would add leaky ones, and a note on stderr says so), the `.flp`'s mode limit M
//! (the field sums the first M modes by decreasing Re k, as FIELD does), and every range
//! of the `.flp` (one row per range).

use std::path::Path;

use num_complex::Complex64;
use serde_json::json;
use vina_core::acoustics::{Layer, Medium, ModeSet, SspPoint, transmission_loss};
use vina_core::environment::Environment;
use vina_core::limits::{HOST_MODES, MAX_LAYERS, MAX_SSP_POINTS};

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
    /// Ranges (m), ascending; the pressure is evaluated at each.
    pub ranges_m: Vec<f64>,
    /// Receiver depths (m).
    pub receiver_depths_m: Vec<f64>,
    /// Phase-speed window (m/s) of the modes kept: the `.env`'s (CLOW, CHIGH), CHIGH
    /// capped at the half-space speed; `None` (a scenario): every trapped mode.
    pub phase_speed_window: Option<(f64, f64)>,
    /// Most modes summed in the field (the `.flp`'s M); `None`: all.
    pub max_modes: Option<usize>,
    /// What was adapted from the input files (printed on stderr, listed in the JSON).
    pub notes: Vec<String>,
}

/// Per-frequency result.
#[derive(Clone, Debug)]
pub struct ForwardResult {
    /// Wavenumbers of the modes kept (inside the phase-speed window) per frequency.
    pub wavenumbers: Vec<Vec<Complex64>>,
    /// Number of those modes the field sums (at most the `.flp`'s M) per frequency.
    pub modes_summed: Vec<usize>,
    /// Pressure per frequency and receiver at the first range.
    pub pressure: Vec<Vec<Complex64>>,
    /// Pressure per frequency, range and receiver.
    pub pressure_by_range: Vec<Vec<Vec<Complex64>>>,
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
            phase_speed_window: None,
            max_modes: None,
            notes: Vec::new(),
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
    let mut notes = Vec::new();
    let half_space = e.half_space.speed;
    let c_high = if e.c_high > half_space {
        notes.push(format!(
            "{}: CHIGH = {} m/s exceeds the half-space speed {half_space} m/s: the mode search is capped there, as KRAKEN caps it (vina computes trapped modes only; KRAKENC would add leaky modes up to CHIGH)",
            env_path.display(),
            e.c_high
        ));
        half_space
    } else {
        e.c_high
    };
    // isovelocity water stays the closed-form Pekeris/layered case; a varying speed is a
    // profile (C-linear, as KRAKEN reads 'C')
    let varies = e.water_profile.iter().any(|&(_, c)| c != e.water.speed);
    if varies && e.water_profile.len() > MAX_SSP_POINTS {
        return Err(refuse(format!(
            "{}: {} sound-speed points in the water column; the forward model takes at most {MAX_SSP_POINTS}",
            env_path.display(),
            e.water_profile.len()
        )));
    }
    let water_profile = if varies {
        e.water_profile
            .iter()
            .map(|&(z, c)| SspPoint::new(z, c))
            .collect()
    } else {
        heapless::Vec::new()
    };
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
            water_profile,
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
        phase_speed_window: Some((e.c_low, c_high)),
        max_modes: Some(f.max_modes),
        notes,
    })
}

/// Solve every frequency: the modes inside the phase-speed window, and the field of the
/// first `max_modes` of them at every range and receiver.
pub fn solve(case: &ForwardCase) -> anyhow::Result<ForwardResult> {
    let mut modes = Box::new(ModeSet::<f64, HOST_MODES>::new());
    let mut result = ForwardResult {
        wavenumbers: Vec::new(),
        modes_summed: Vec::new(),
        pressure: Vec::new(),
        pressure_by_range: Vec::new(),
    };
    for &f in &case.frequencies_hz {
        case.env
            .modes(f, &mut modes)
            .map_err(|e| refuse(format!("forward model at {f} Hz: {e}")))?;
        if let Some((c_low, c_high)) = case.phase_speed_window {
            let trapped = modes.len();
            let omega = modes.omega();
            let (slowest, fastest) =
                modes
                    .modes()
                    .iter()
                    .fold((f64::INFINITY, 0.0f64), |(a, b), m| {
                        let c = m.phase_speed(omega);
                        (a.min(c), b.max(c))
                    });
            modes.retain(|m| (c_low..=c_high).contains(&m.phase_speed(omega)));
            if trapped > 0 && modes.is_empty() {
                return Err(refuse(format!(
                    "at {f} Hz no mode has its phase speed inside CLOW..CHIGH = {c_low}..{c_high} m/s (the {trapped} trapped modes span {slowest:.3}..{fastest:.3} m/s): widen the window in the .env"
                )));
            }
        }
        result
            .wavenumbers
            .push(modes.modes().iter().map(|m| m.k).collect());
        if let Some(m) = case.max_modes {
            modes.truncate(m);
        }
        result.modes_summed.push(modes.len());
        let mut rows = Vec::with_capacity(case.ranges_m.len());
        for &r in &case.ranges_m {
            let mut p = vec![Complex64::new(0.0, 0.0); case.receiver_depths_m.len()];
            case.env
                .pressure_of(&modes, r, &case.receiver_depths_m, &mut p)
                .map_err(|e| refuse(format!("field at {f} Hz, range {r} m: {e}")))?;
            rows.push(p);
        }
        result
            .pressure
            .push(rows.first().cloned().unwrap_or_default());
        result.pressure_by_range.push(rows);
    }
    Ok(result)
}

/// The JSON document of the contract. `pressure` and `tl_db` are at the first
/// range (`range_m[0]`), per frequency and receiver; `pressure_by_range` and
/// `tl_db_by_range` hold every range (frequency, range, receiver).
pub fn to_json(case: &ForwardCase, r: &ForwardResult) -> serde_json::Value {
    let pairs = |v: &[Complex64]| v.iter().map(|c| [c.re, c.im]).collect::<Vec<_>>();
    let tl = |v: &[Complex64]| v.iter().map(|c| transmission_loss(*c)).collect::<Vec<_>>();
    json!({
        "frequency_hz": case.frequencies_hz,
        "range_m": case.ranges_m,
        "source_depth_m": case.env.source_depth,
        "receiver_depth_m": case.receiver_depths_m,
        "phase_speed_window_mps": case.phase_speed_window.map(|(a, b)| [a, b]),
        "max_modes": case.max_modes,
        "modes_summed": r.modes_summed,
        "wavenumbers": r.wavenumbers.iter().map(|k| pairs(k)).collect::<Vec<_>>(),
        "pressure": r.pressure.iter().map(|p| pairs(p)).collect::<Vec<_>>(),
        "tl_db": r.pressure.iter().map(|p| tl(p)).collect::<Vec<_>>(),
        "pressure_by_range": r.pressure_by_range.iter().map(|rows| rows.iter().map(|p| pairs(p)).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "tl_db_by_range": r.pressure_by_range.iter().map(|rows| rows.iter().map(|p| tl(p)).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "notes": case.notes,
    })
}

/// `vina forward`.
pub fn run(env: &Path, flp: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let case = load_case(env, flp)?;
    for note in &case.notes {
        eprintln!("note: {note}");
    }
    let result = solve(&case)?;
    if json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&to_json(&case, &result))?
        )?;
        return Ok(());
    }
    crate::outln!(
        "source {} m, ranges {:?} m, receivers {:?} m",
        case.env.source_depth,
        case.ranges_m,
        case.receiver_depths_m
    )?;
    if let Some((lo, hi)) = case.phase_speed_window {
        crate::outln!("phase-speed window {lo}..{hi} m/s")?;
    }
    for (i, f) in case.frequencies_hz.iter().enumerate() {
        let ks = &result.wavenumbers[i];
        let summed = result.modes_summed[i];
        if summed < ks.len() {
            crate::outln!(
                "\n{f} Hz: {} modes; the field sums the first {summed} (M = {} in the .flp)",
                ks.len(),
                case.max_modes.unwrap_or(summed)
            )?;
        } else {
            crate::outln!("\n{f} Hz: {} modes", ks.len())?;
        }
        for (m, k) in ks.iter().enumerate() {
            crate::outln!(
                "  k{:<3} {:.12e} {:+.6e}i   phase speed {:.6} m/s",
                m + 1,
                k.re,
                k.im,
                2.0 * std::f64::consts::PI * f / k.re
            )?;
        }
        for (r, ps) in case.ranges_m.iter().zip(&result.pressure_by_range[i]) {
            crate::outln!("  r = {r} m")?;
            for (z, p) in case.receiver_depths_m.iter().zip(ps) {
                crate::outln!(
                    "  z = {z:8.2} m   p = {:+.6e} {:+.6e}i   TL = {:.3} dB",
                    p.re,
                    p.im,
                    transmission_loss(*p)
                )?;
            }
        }
    }
    Ok(())
}

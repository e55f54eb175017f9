//! Reader for the subset of Acoustics Toolbox (KRAKEN/KRAKENC) environment files (`.env`) and
//! FIELD parameter files (`.flp`) that vina's forward model supports.
//!
//! Supported `.env` subset: one frequency; SSP options exactly `'CVW'` (C-linear interpolation,
//! vacuum surface, attenuation in dB/wavelength); constant-density fluid media (medium 1 is
//! the water column, whose sound speed may vary with depth, C-linear between SSP points;
//! media 2.. are isovelocity sediment layers); interface roughness 0; an
//! `'A'` (acousto-elastic) bottom half-space with zero shear speed; source and receiver depths
//! in the water column. Anything else is refused with an [`EnvError`] naming the 1-based line
//! and the unsupported feature.
//!
//! Input follows Fortran list-directed conventions as the Acoustics Toolbox reads them:
//! values are separated by blanks and/or one comma; strings are quoted (`'…'` or `"…"`); a `/`
//! ends a read early and the values not given keep their defaults; `r*c` repeats `c` r times;
//! `1.5D3` is accepted as an exponent. Everything after `!` (outside a string) is a comment and
//! blank lines are skipped. Each read starts on a new line. Where Fortran would silently
//! continue a short record onto the next line (an SSP line with fewer than six values and no
//! `/`), this reader refuses instead, because KRAKEN would misread such a file; lists of depths
//! and ranges may span several lines.
//!
//! Depth and range lists follow the Acoustics Toolbox `SubTab` rule: when only the first and
//! the last of N ≥ 3 values are given before a `/`, an equally spaced vector is filled in
//! (`5` / `0 100 /` → 0, 25, 50, 75, 100). Lists are then sorted ascending, as the Acoustics
//! Toolbox sorts them.

use std::path::Path;

use serde::{Deserialize, Serialize};

mod lexer;

use lexer::{Reader, Record, Span, parse_real};

/// A medium's SSP points: (depth m, sound speed m/s).
type Profile = Vec<(f64, f64)>;

/// Longest list (source/receiver depths, ranges) and largest repeat count accepted.
const MAX_LIST: usize = 1_000_000;
/// Most media accepted (the Acoustics Toolbox allows 500).
const MAX_MEDIA: i64 = 500;
/// Tolerance for "this SSP depth is the medium's bottom depth", as in the Acoustics Toolbox's
/// `ReadSSP` (100 single-precision epsilons, absolute).
const DEPTH_TOL: f64 = 100.0 * f32::EPSILON as f64;

/// A refused `.env` or `.flp` file: the 1-based line and what is wrong there.
///
/// Displays as `line N: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct EnvError {
    /// 1-based line number in the file (one past the last line for an unexpected end of file).
    pub line: usize,
    /// What is wrong, naming the field and the unsupported feature or allowed range.
    pub message: String,
}

impl EnvError {
    pub(super) fn new(line: usize, message: impl Into<String>) -> Self {
        EnvError {
            line,
            message: message.into(),
        }
    }
}

/// A homogeneous fluid: sound speed, density and compressional attenuation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EnvMedium {
    /// Compressional sound speed (m/s).
    pub speed: f64,
    /// Density (g/cm³).
    pub density: f64,
    /// Compressional attenuation (dB per wavelength).
    pub attenuation_db_per_wavelength: f64,
}

/// One isovelocity sediment layer between the water column and the half-space.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EnvLayer {
    /// Layer thickness (m): the medium's bottom depth minus its top depth.
    pub thickness: f64,
    /// The layer's fluid properties.
    pub medium: EnvMedium,
}

/// A KRAKEN environment in the supported subset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvFile {
    /// TITLE (the quoted string, or the first word if unquoted; empty for `/`).
    pub title: String,
    /// FREQ (Hz).
    pub frequency_hz: f64,
    /// Bottom depth of medium 1, the water column (m).
    pub water_depth: f64,
    /// Medium 1 (its speed is the first SSP point's).
    pub water: EnvMedium,
    /// Medium 1's SSP points (depth m, sound speed m/s), C-linear between them; all
    /// speeds equal for isovelocity water.
    pub water_profile: Vec<(f64, f64)>,
    /// Media 2..NMEDIA, top to bottom.
    pub sediment: Vec<EnvLayer>,
    /// The `'A'` bottom half-space (shear speed 0).
    pub half_space: EnvMedium,
    /// CLOW (m/s): lower phase-speed limit of the mode search.
    pub c_low: f64,
    /// CHIGH (m/s): upper phase-speed limit of the mode search.
    pub c_high: f64,
    /// RMAX (km).
    pub r_max_km: f64,
    /// Source depths (m), ascending, within the water column.
    pub source_depths: Vec<f64>,
    /// Receiver depths (m), ascending, within the water column.
    pub receiver_depths: Vec<f64>,
}

/// A FIELD parameter file in the supported subset (point source, one profile, no array tilt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlpFile {
    /// M: the maximum number of modes to sum.
    pub max_modes: usize,
    /// Receiver ranges (m, converted from the file's km), ascending, all positive.
    pub ranges_m: Vec<f64>,
    /// Source depths (m), ascending.
    pub source_depths: Vec<f64>,
    /// Receiver depths (m), ascending.
    pub receiver_depths: Vec<f64>,
}

/// Reads and parses a KRAKEN `.env` file; errors name the file (and the line, for a refusal).
///
/// A refused file is an [`crate::error::InputError`] (exit code 2); an unreadable one is not.
pub fn read_env(path: &Path) -> anyhow::Result<EnvFile> {
    let text = read_text(path, "KRAKEN environment file")?;
    parse_env(&text).map_err(|e| crate::error::refuse(format!("{}: {e}", path.display())))
}

/// Reads and parses a FIELD `.flp` file; errors name the file (and the line, for a refusal).
///
/// A refused file is an [`crate::error::InputError`] (exit code 2); an unreadable one is not.
pub fn read_flp(path: &Path) -> anyhow::Result<FlpFile> {
    let text = read_text(path, "FIELD parameter file")?;
    parse_flp(&text).map_err(|e| crate::error::refuse(format!("{}: {e}", path.display())))
}

fn read_text(path: &Path, what: &str) -> anyhow::Result<String> {
    let bytes = crate::error::read_input_limited(
        path,
        what,
        crate::error::MAX_TEXT_INPUT,
        crate::error::MAX_TEXT_INPUT_TEXT,
    )?;
    // Acoustics Toolbox files are ASCII; tolerate stray Latin-1 bytes in comments.
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Parses the text of a KRAKEN `.env` file (see the module documentation for the subset).
pub fn parse_env(text: &str) -> Result<EnvFile, EnvError> {
    let mut r = Reader::new(text);
    let title = read_title(&mut r)?;

    let rec = r.read(1, Span::Line, "FREQ (frequency, Hz)")?;
    let frequency_hz = rec.req_real(0, "FREQ")?;
    if frequency_hz <= 0.0 {
        return Err(EnvError::new(
            rec.line_of(0),
            format!("FREQ = {frequency_hz} Hz must be positive"),
        ));
    }

    let rec = r.read(1, Span::Line, "NMEDIA (number of media)")?;
    let n_media = rec.req_int(0, "NMEDIA")?;
    if n_media < 1 {
        return Err(EnvError::new(
            rec.line_of(0),
            format!("NMEDIA = {n_media} must be at least 1 (the water column)"),
        ));
    }
    if n_media > MAX_MEDIA {
        return Err(EnvError::new(
            rec.line_of(0),
            format!("NMEDIA = {n_media} is too large (at most {MAX_MEDIA})"),
        ));
    }

    let rec = r.read(1, Span::Line, "SSPOPT (SSP options, 'CVW')")?;
    let ssp_opt = rec.req_str(0, "SSPOPT")?;
    check_ssp_opt(&ssp_opt).map_err(|m| EnvError::new(rec.line_of(0), m))?;

    let mut props = SspState::default();
    let mut top = 0.0;
    // (bottom depth, medium, SSP points)
    let mut water: Option<(f64, EnvMedium, Profile)> = None;
    let mut sediment = Vec::new();
    for m in 1..=n_media {
        let rec = r.read(3, Span::Line, &format!("NMESH SIGMA Z (medium {m})"))?;
        let n_mesh = rec.req_int(0, "NMESH")?;
        if n_mesh < 0 {
            return Err(EnvError::new(
                rec.line_of(0),
                format!("NMESH = {n_mesh} must be ≥ 0 (0 = automatic)"),
            ));
        }
        let sigma = rec.req_real(1, "SIGMA")?;
        check_roughness(sigma, rec.line_of(1), &format!("top of medium {}", m + 1))?;
        let bottom = rec.req_real(2, "Z")?;
        let bottom_line = rec.line_of(2);
        if bottom - top <= DEPTH_TOL {
            return Err(EnvError::new(
                bottom_line,
                format!(
                    "Z = {bottom} m (bottom of medium {m}) must be deeper than the medium's top at {top} m"
                ),
            ));
        }
        let (medium, profile) = read_medium(&mut r, m, top, bottom, bottom_line, &mut props)?;
        if m == 1 {
            water = Some((bottom, medium, profile));
        } else {
            sediment.push(EnvLayer {
                thickness: bottom - top,
                medium,
            });
        }
        top = bottom;
    }
    let Some((water_depth, water, water_profile)) = water else {
        // Unreachable: NMEDIA ≥ 1 was checked; kept as an error rather than a panic.
        return Err(EnvError::new(r.eof_line(), "no water column was read"));
    };

    let rec = r.read(2, Span::Line, "BOTOPT SIGMA (bottom boundary, 'A' 0.0)")?;
    let bot_opt = rec.req_str(0, "BOTOPT")?;
    check_bot_opt(&bot_opt).map_err(|m| EnvError::new(rec.line_of(0), m))?;
    if let Some(sigma) = rec.opt_real(1, "SIGMA")? {
        check_roughness(sigma, rec.line_of(1), "top of the bottom half-space")?;
    }

    let rec = r.read(6, Span::Line, "half-space line 'z cp cs rho ap as'")?;
    let _z = rec.opt_real(0, "z")?; // read and ignored by KRAKEN as well
    let half_space = props.update(&rec, "the bottom half-space")?;

    let rec = r.read(2, Span::Line, "CLOW CHIGH (phase-speed limits, m/s)")?;
    let c_low = rec.req_real(0, "CLOW")?;
    let c_high = rec.req_real(1, "CHIGH")?;
    if c_low < 0.0 {
        return Err(EnvError::new(
            rec.line_of(0),
            format!("CLOW = {c_low} m/s must be ≥ 0"),
        ));
    }
    if c_high <= c_low {
        return Err(EnvError::new(
            rec.line_of(1),
            format!("CHIGH = {c_high} m/s must be greater than CLOW = {c_low} m/s"),
        ));
    }

    let rec = r.read(1, Span::Line, "RMAX (maximum range, km)")?;
    let r_max_km = rec.req_real(0, "RMAX")?;
    if r_max_km < 0.0 {
        return Err(EnvError::new(
            rec.line_of(0),
            format!("RMAX = {r_max_km} km must be ≥ 0"),
        ));
    }

    let source_depths = read_list(&mut r, "NSD", "SD", "source depths, m", false)?;
    check_water_depths(&source_depths, "source", "SD", "sources", water_depth)?;
    let receiver_depths = read_list(&mut r, "NRD", "RD", "receiver depths, m", false)?;
    check_water_depths(&receiver_depths, "receiver", "RD", "receivers", water_depth)?;

    if let Some(line) = r.next_content_line() {
        return Err(EnvError::new(
            line,
            "unexpected content after the receiver depths: range-dependent environments \
             (several profiles in one file) are not supported",
        ));
    }

    Ok(EnvFile {
        title,
        frequency_hz,
        water_depth,
        water,
        water_profile,
        sediment,
        half_space,
        c_low,
        c_high,
        r_max_km,
        source_depths: values(source_depths),
        receiver_depths: values(receiver_depths),
    })
}

/// Parses the text of a FIELD `.flp` file (see the module documentation for the subset).
pub fn parse_flp(text: &str) -> Result<FlpFile, EnvError> {
    let mut r = Reader::new(text);
    let _title = read_title(&mut r)?;

    let rec = r.read(1, Span::Line, "OPT (field options, 'RA')")?;
    let opt = rec.req_str(0, "OPT")?;
    check_flp_opt(&opt).map_err(|m| EnvError::new(rec.line_of(0), m))?;

    let rec = r.read(1, Span::Line, "M (maximum number of modes)")?;
    let m = rec.req_int(0, "M")?;
    if m < 1 {
        return Err(EnvError::new(
            rec.line_of(0),
            format!("M = {m} (maximum number of modes) must be at least 1"),
        ));
    }
    let max_modes = usize::try_from(m).map_err(|_| {
        EnvError::new(
            rec.line_of(0),
            format!("M = {m} (maximum number of modes) is too large"),
        )
    })?;

    let rec = r.read(1, Span::Line, "NPROF (number of profiles)")?;
    let n_prof = rec.req_int(0, "NPROF")?;
    if n_prof < 1 {
        return Err(EnvError::new(
            rec.line_of(0),
            format!("NPROF = {n_prof} must be 1"),
        ));
    }
    if n_prof > 1 {
        return Err(EnvError::new(
            rec.line_of(0),
            format!(
                "NPROF = {n_prof}: range-dependent fields (several profiles) are not supported; use 1"
            ),
        ));
    }
    let rec = r.read(1, Span::Lines, "RPROF(1:NPROF) (profile ranges, km)")?;
    let r_prof = rec.req_real(0, "RPROF")?;
    if r_prof != 0.0 {
        return Err(EnvError::new(
            rec.line_of(0),
            format!("RPROF = {r_prof} km: the first (only) profile must be at range 0 km"),
        ));
    }

    let ranges_km = read_list(&mut r, "NR", "R", "receiver ranges, km", false)?;
    for &(range, line) in &ranges_km {
        if range <= 0.0 {
            return Err(EnvError::new(
                line,
                format!(
                    "receiver range R = {range} km must be positive (the point-source field is singular at r = 0)"
                ),
            ));
        }
        if !(range * 1000.0).is_finite() {
            return Err(EnvError::new(
                line,
                format!("receiver range R = {range} km is too large (not finite in metres)"),
            ));
        }
    }
    let ranges_m = ranges_km.iter().map(|&(x, _)| x * 1000.0).collect();

    let source_depths = read_list(&mut r, "NSD", "SD", "source depths, m", false)?;
    check_non_negative_depths(&source_depths, "source", "SD")?;
    let receiver_depths = read_list(&mut r, "NRD", "RD", "receiver depths, m", false)?;
    check_non_negative_depths(&receiver_depths, "receiver", "RD")?;

    let count_line = r.next_content_line();
    let offsets = read_list(&mut r, "NRR", "RR", "receiver range offsets, m", true)?;
    if offsets.len() != receiver_depths.len() {
        return Err(EnvError::new(
            count_line.unwrap_or(0),
            format!(
                "NRR = {} must equal NRD = {} (FIELD needs one range offset per receiver depth)",
                offsets.len(),
                receiver_depths.len()
            ),
        ));
    }
    for &(offset, line) in &offsets {
        if offset != 0.0 {
            return Err(EnvError::new(
                line,
                format!(
                    "receiver range offset RR = {offset} m (array tilt) is not supported; use 0"
                ),
            ));
        }
    }

    if let Some(line) = r.next_content_line() {
        return Err(EnvError::new(
            line,
            "unexpected content after the receiver range offsets",
        ));
    }

    Ok(FlpFile {
        max_modes,
        ranges_m,
        source_depths: values(source_depths),
        receiver_depths: values(receiver_depths),
    })
}

// ---------------------------------------------------------------------------------------------
// Option strings

fn check_ssp_opt(opt: &str) -> Result<(), String> {
    let chars: Vec<char> = opt.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or(' ');
    let refuse = |what: String, fix: &str| Err(format!("SSPOPT '{opt}': {what} {fix}"));

    let c = at(0);
    if c != 'C' {
        let what = match c {
            'N' => "interpolation 'N' (N²-linear) is".to_string(),
            'S' => "interpolation 'S' (cubic spline) is".to_string(),
            'P' => "interpolation 'P' (PCHIP) is".to_string(),
            'A' => "interpolation 'A' (analytic profile) is".to_string(),
            'Q' => "interpolation 'Q' (quadrilateral, range-dependent) is".to_string(),
            'H' => "interpolation 'H' (hexahedral, 3-D) is".to_string(),
            ' ' => "a missing interpolation type is".to_string(),
            other => format!("interpolation '{other}' (unknown) is"),
        };
        return refuse(what, "not supported; use 'C'");
    }
    let c = at(1);
    if c != 'V' {
        let what = match c {
            'R' => "top boundary 'R' (rigid surface) is".to_string(),
            'A' => "top boundary 'A' (acousto-elastic half-space above the water) is".to_string(),
            'F' => "top boundary 'F' (reflection coefficient from a file) is".to_string(),
            'W' => {
                "top boundary 'W' (write an internal reflection coefficient file) is".to_string()
            }
            'P' => {
                "top boundary 'P' (precalculated internal reflection coefficient) is".to_string()
            }
            ' ' => "a missing top boundary condition is".to_string(),
            other => format!("top boundary '{other}' (unknown) is"),
        };
        return refuse(what, "not supported; use 'V' (vacuum surface)");
    }
    let c = at(2);
    if c != 'W' {
        let what = match c {
            'N' => "attenuation units 'N' (nepers/m) are".to_string(),
            'F' => "attenuation units 'F' (dB/(m·kHz)) are".to_string(),
            'M' => "attenuation units 'M' (dB/m) are".to_string(),
            'm' => "attenuation units 'm' (dB/m with a power law) are".to_string(),
            'Q' => "attenuation units 'Q' (quality factor) are".to_string(),
            'L' => "attenuation units 'L' (loss parameter) are".to_string(),
            ' ' => "missing attenuation units are".to_string(),
            other => format!("attenuation units '{other}' (unknown) are"),
        };
        return refuse(what, "not supported; use 'W' (dB/wavelength)");
    }
    for (i, &c) in chars.iter().enumerate().skip(3) {
        if c == ' ' {
            continue;
        }
        let what = match (i, c) {
            (3, 'T') => "option character 4 'T' (Thorp volume attenuation) is".to_string(),
            (3, 'F') => {
                "option character 4 'F' (Francois-Garrison volume attenuation) is".to_string()
            }
            (3, 'B') => "option character 4 'B' (biological attenuation) is".to_string(),
            (4, '*') => "option character 5 '*' (altimetry file) is".to_string(),
            (5, 'B') => "option character 6 'B' (broadband frequency list) is".to_string(),
            (i, c) => format!("option character {} '{c}' is", i + 1),
        };
        return refuse(what, "not supported; SSPOPT must be 'CVW'");
    }
    Ok(())
}

fn check_bot_opt(opt: &str) -> Result<(), String> {
    let chars: Vec<char> = opt.chars().collect();
    let c = chars.first().copied().unwrap_or(' ');
    if c != 'A' {
        let what = match c {
            'V' => "bottom type 'V' (vacuum) is".to_string(),
            'R' => "bottom type 'R' (rigid) is".to_string(),
            'F' => "bottom type 'F' (reflection coefficient from a file) is".to_string(),
            'G' => "bottom type 'G' (grain-size parameterized half-space) is".to_string(),
            'P' => "bottom type 'P' (precalculated internal reflection coefficient) is".to_string(),
            'W' => "bottom type 'W' (write an internal reflection coefficient file) is".to_string(),
            ' ' => "a missing bottom type is".to_string(),
            other => format!("bottom type '{other}' (unknown) is"),
        };
        return Err(format!(
            "BOTOPT '{opt}': {what} not supported; use 'A' (acousto-elastic half-space)"
        ));
    }
    for (i, &c) in chars.iter().enumerate().skip(1) {
        if c == ' ' {
            continue;
        }
        let what = match c {
            '*' | '~' => format!("bottom option character {} '{c}' (bathymetry file)", i + 1),
            _ => format!("bottom option character {} '{c}'", i + 1),
        };
        return Err(format!("BOTOPT '{opt}': {what} is not supported; use 'A'"));
    }
    Ok(())
}

fn check_flp_opt(opt: &str) -> Result<(), String> {
    let chars: Vec<char> = opt.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or(' ');
    match at(0) {
        'R' => {}
        'X' => {
            return Err(format!(
                "OPT '{opt}': source type 'X' (line source, Cartesian coordinates) is not supported; use 'R' (point source)"
            ));
        }
        'S' => {
            return Err(format!(
                "OPT '{opt}': source type 'S' (scaled cylindrical, spreading removed) is not supported; use 'R' (point source)"
            ));
        }
        c => {
            return Err(format!(
                "OPT '{opt}': source type '{c}' is not supported; use 'R' (point source)"
            ));
        }
    }
    match at(1) {
        'A' | 'C' | ' ' => {}
        c => {
            return Err(format!(
                "OPT '{opt}': mode theory '{c}' is unknown; use 'A' (adiabatic) or 'C' (coupled)"
            ));
        }
    }
    match at(2) {
        'O' | ' ' => {}
        '*' => {
            return Err(format!(
                "OPT '{opt}': source beam pattern '*' is not supported; use an omnidirectional source"
            ));
        }
        c => {
            return Err(format!(
                "OPT '{opt}': source beam pattern option '{c}' is not supported"
            ));
        }
    }
    match at(3) {
        'C' | ' ' => {}
        'I' => {
            return Err(format!(
                "OPT '{opt}': incoherent mode addition 'I' is not supported; use 'C' (coherent)"
            ));
        }
        c => {
            return Err(format!(
                "OPT '{opt}': mode addition option '{c}' is not supported; use 'C' (coherent)"
            ));
        }
    }
    for (i, &c) in chars.iter().enumerate().skip(4) {
        if c != ' ' {
            return Err(format!(
                "OPT '{opt}': option character {} '{c}' is not supported",
                i + 1
            ));
        }
    }
    Ok(())
}

fn check_roughness(sigma: f64, line: usize, place: &str) -> Result<(), EnvError> {
    if sigma != 0.0 {
        return Err(EnvError::new(
            line,
            format!(
                "interface roughness SIGMA = {sigma} m ({place}) is not supported (no scatter loss in vina's forward model); use 0"
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Media

/// The SSP values that carry over from line to line (and into the half-space line), as the
/// Acoustics Toolbox's module variables do. `cp` has no default here: the first SSP line must
/// give it.
struct SspState {
    cp: Option<f64>,
    cs: f64,
    rho: f64,
    ap: f64,
    a_s: f64,
}

impl Default for SspState {
    fn default() -> Self {
        SspState {
            cp: None,
            cs: 0.0,
            rho: 1.0,
            ap: 0.0,
            a_s: 0.0,
        }
    }
}

impl SspState {
    /// Takes fields 1..6 (cp cs rho ap as) of an SSP or half-space record, keeping the previous
    /// values for those not given, and checks them.
    fn update(&mut self, rec: &Record, place: &str) -> Result<EnvMedium, EnvError> {
        if let Some(cp) = rec.opt_real(1, "cp")? {
            self.cp = Some(cp);
        }
        if let Some(cs) = rec.opt_real(2, "cs")? {
            self.cs = cs;
        }
        if let Some(rho) = rec.opt_real(3, "rho")? {
            self.rho = rho;
        }
        if let Some(ap) = rec.opt_real(4, "ap")? {
            self.ap = ap;
        }
        if let Some(a_s) = rec.opt_real(5, "as")? {
            self.a_s = a_s;
        }
        let Some(cp) = self.cp else {
            return Err(EnvError::new(
                rec.line_of(1),
                format!(
                    "sound speed cp is missing for {place} (the first SSP line must give z and cp)"
                ),
            ));
        };
        if cp <= 0.0 {
            return Err(EnvError::new(
                rec.line_of(1),
                format!("sound speed cp = {cp} m/s in {place} must be positive"),
            ));
        }
        if self.cs != 0.0 {
            let kind = if place.contains("half-space") {
                "elastic half-space"
            } else {
                "elastic layers"
            };
            return Err(EnvError::new(
                rec.line_of(2),
                format!(
                    "shear speed cs = {} m/s in {place}: shear ({kind}) is not supported; cs must be 0",
                    self.cs
                ),
            ));
        }
        if self.rho <= 0.0 {
            return Err(EnvError::new(
                rec.line_of(3),
                format!(
                    "density rho = {} g/cm³ in {place} must be positive",
                    self.rho
                ),
            ));
        }
        if self.ap < 0.0 {
            return Err(EnvError::new(
                rec.line_of(4),
                format!("attenuation ap = {} dB/λ in {place} must be ≥ 0", self.ap),
            ));
        }
        if self.a_s < 0.0 {
            return Err(EnvError::new(
                rec.line_of(5),
                format!(
                    "shear attenuation as = {} dB/λ in {place} must be ≥ 0",
                    self.a_s
                ),
            ));
        }
        Ok(EnvMedium {
            speed: cp,
            density: self.rho,
            attenuation_db_per_wavelength: self.ap,
        })
    }
}

/// Reads the SSP lines of medium `m` (from `top` down to `bottom`): the medium (at its first
/// point) and its (depth, speed) points. Density and attenuation must be constant within a
/// medium; the sound speed may vary in the water column (medium 1, C-linear between points)
/// and nowhere else.
fn read_medium(
    r: &mut Reader,
    m: i64,
    top: f64,
    bottom: f64,
    bottom_line: usize,
    props: &mut SspState,
) -> Result<(EnvMedium, Profile), EnvError> {
    let mut points = Vec::new();
    let what = format!("SSP line 'z cp cs rho ap as' of medium {m}");
    let place = format!("medium {m}");
    let mut first: Option<EnvMedium> = None;
    let mut prev_z = top;
    loop {
        let rec = r.read(6, Span::Line, &what)?;
        let z = rec.req_real(0, "SSP depth z")?;
        let z_line = rec.line_of(0);
        if first.is_none() {
            if (z - top).abs() >= DEPTH_TOL {
                let message = if m == 1 {
                    format!(
                        "the first SSP point of medium 1 must be at the surface, z = 0 m (got z = {z} m)"
                    )
                } else {
                    format!(
                        "the first SSP point of medium {m} must be at its top, z = {top} m, where medium {} ended (got z = {z} m)",
                        m - 1
                    )
                };
                return Err(EnvError::new(z_line, message));
            }
        } else if z <= prev_z {
            return Err(EnvError::new(
                z_line,
                format!(
                    "SSP depths must increase within a medium: z = {z} m follows z = {prev_z} m"
                ),
            ));
        }
        if z > bottom && (z - bottom).abs() >= DEPTH_TOL {
            return Err(EnvError::new(
                z_line,
                format!(
                    "SSP depth z = {z} m is below the bottom of medium {m} (Z = {bottom} m on line {bottom_line})"
                ),
            ));
        }
        let here = props.update(&rec, &place)?;
        points.push((z, here.speed));
        match first {
            None => first = Some(here),
            Some(f) => {
                if here.speed != f.speed && m != 1 {
                    return Err(EnvError::new(
                        rec.line_of(1),
                        format!(
                            "sound speed varies within medium {m} ({} → {} m/s); only the water column (medium 1) may have a sound-speed profile, sediment layers are isovelocity",
                            f.speed, here.speed
                        ),
                    ));
                }
                if here.density != f.density {
                    return Err(EnvError::new(
                        rec.line_of(3),
                        format!(
                            "density varies within medium {m} ({} → {} g/cm³); only homogeneous layers are supported",
                            f.density, here.density
                        ),
                    ));
                }
                if here.attenuation_db_per_wavelength != f.attenuation_db_per_wavelength {
                    return Err(EnvError::new(
                        rec.line_of(4),
                        format!(
                            "attenuation varies within medium {m} ({} → {} dB/λ); only homogeneous layers are supported",
                            f.attenuation_db_per_wavelength, here.attenuation_db_per_wavelength
                        ),
                    ));
                }
            }
        }
        prev_z = z;
        if (z - bottom).abs() < DEPTH_TOL {
            // `first` is set by now (this line at the latest).
            return first
                .map(|f| (f, points))
                .ok_or_else(|| EnvError::new(z_line, "internal: medium has no SSP point"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lists

/// Reads "N" then N values (spanning lines), applying the Acoustics Toolbox fill rule, and
/// returns the values sorted ascending with the line each came from. With `repeat_one`, a single
/// value given for N ≥ 3 is repeated (the Acoustics Toolbox idiom `NRR` / `0.0 /`).
fn read_list(
    r: &mut Reader,
    count_name: &str,
    name: &str,
    description: &str,
    repeat_one: bool,
) -> Result<Vec<(f64, usize)>, EnvError> {
    let rec = r.read(
        1,
        Span::Line,
        &format!("{count_name} (number of {})", description_noun(description)),
    )?;
    let n = rec.req_int(0, count_name)?;
    if n < 1 {
        return Err(EnvError::new(
            rec.line_of(0),
            format!("{count_name} = {n} must be at least 1"),
        ));
    }
    let n = match usize::try_from(n) {
        Ok(n) if n <= MAX_LIST => n,
        _ => {
            return Err(EnvError::new(
                rec.line_of(0),
                format!("{count_name} = {n} is too large (at most {MAX_LIST})"),
            ));
        }
    };

    let what = format!("{name}(1:{count_name}) ({description})");
    let rec = r.read(n, Span::Lines, &what)?;
    if let Some((line, text)) = &rec.extra {
        return Err(EnvError::new(
            *line,
            format!("more than {count_name} = {n} values for {name}: unexpected '{text}'"),
        ));
    }
    let mut given = Vec::with_capacity(rec.fields.len());
    for field in &rec.fields {
        let Some(v) = &field.value else {
            return Err(EnvError::new(
                field.line,
                format!("empty (null) value in the {name} list is not supported"),
            ));
        };
        given.push((parse_real(v, name, field.line)?, field.line));
    }

    let mut out = match given.len() {
        k if k == n => given,
        0 => {
            return Err(EnvError::new(
                rec.line,
                format!("no values given for {name} ({count_name} = {n})"),
            ));
        }
        2 => {
            // n ≥ 3 here: equally spaced vector from the first to the last value.
            let (a, line_a) = given[0];
            let (b, line_b) = given[1];
            let step = (b - a) / (n - 1) as f64;
            if !step.is_finite() {
                return Err(EnvError::new(
                    line_b,
                    format!(
                        "{name} from {a} to {b}: the equally spaced values in between are not finite"
                    ),
                ));
            }
            let mut filled: Vec<(f64, usize)> =
                (0..n).map(|i| (a + i as f64 * step, line_b)).collect();
            if let Some(first) = filled.first_mut() {
                *first = (a, line_a);
            }
            if let Some(last) = filled.last_mut() {
                *last = (b, line_b);
            }
            filled
        }
        1 if repeat_one && n >= 3 => vec![given[0]; n],
        1 => {
            return Err(EnvError::new(
                given[0].1,
                format!(
                    "only one {name} value given for {count_name} = {n}; give all {n}, or the first and the last (an equally spaced vector is filled in)"
                ),
            ));
        }
        k => {
            return Err(EnvError::new(
                given[k - 1].1,
                format!(
                    "{k} of {count_name} = {n} {name} values given before '/'; give all {n}, or just the first and the last (an equally spaced vector is filled in)"
                ),
            ));
        }
    };
    out.sort_by(|x, y| x.0.total_cmp(&y.0));
    Ok(out)
}

fn description_noun(description: &str) -> &str {
    description.split(',').next().unwrap_or(description)
}

fn values(list: Vec<(f64, usize)>) -> Vec<f64> {
    list.into_iter().map(|(x, _)| x).collect()
}

fn check_water_depths(
    list: &[(f64, usize)],
    kind: &str,
    name: &str,
    plural: &str,
    water_depth: f64,
) -> Result<(), EnvError> {
    check_non_negative_depths(list, kind, name)?;
    for &(z, line) in list {
        if z > water_depth {
            return Err(EnvError::new(
                line,
                format!(
                    "{kind} depth {name} = {z} m is below the seabed at {water_depth} m: {plural} in the sediment are not supported"
                ),
            ));
        }
    }
    Ok(())
}

fn check_non_negative_depths(
    list: &[(f64, usize)],
    kind: &str,
    name: &str,
) -> Result<(), EnvError> {
    for &(z, line) in list {
        if z < 0.0 {
            return Err(EnvError::new(
                line,
                format!(
                    "{kind} depth {name} = {z} m is above the sea surface (depths must be ≥ 0)"
                ),
            ));
        }
    }
    Ok(())
}

fn read_title(r: &mut Reader) -> Result<String, EnvError> {
    let rec = r.read(1, Span::Line, "TITLE")?;
    Ok(rec
        .fields
        .first()
        .and_then(|f| f.value.as_ref())
        .map(|v| v.text.clone())
        .unwrap_or_default())
}

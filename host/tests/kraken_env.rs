//! Tests of the KRAKEN `.env` / FIELD `.flp` reader (`vina_host::kraken_env`).

use std::path::{Path, PathBuf};

use vina_host::kraken_env::{
    EnvError, EnvFile, EnvLayer, EnvMedium, FlpFile, parse_env, parse_flp, read_env, read_flp,
};

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixture_path(name)).expect("fixture readable")
}

fn pekeris() -> String {
    fixture("kraken_pekeris.env")
}

fn flp() -> String {
    fixture("kraken_pekeris.flp")
}

/// `text` with 1-based line `n` replaced by `replacement` (which may hold several lines).
fn with_line(text: &str, n: usize, replacement: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert!(n >= 1 && n <= lines.len(), "line {n} out of range");
    lines[n - 1] = replacement.to_string();
    lines.join("\n") + "\n"
}

/// `text` with `new` inserted before 1-based line `n`.
fn insert_line(text: &str, n: usize, new: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines.insert(n - 1, new.to_string());
    lines.join("\n") + "\n"
}

/// Parses an env that must be refused at `line`, with every `phrase` in the message.
#[track_caller]
fn env_err(text: &str, line: usize, phrases: &[&str]) -> EnvError {
    let err = match parse_env(text) {
        Ok(env) => panic!("expected an error at line {line}, parsed {env:?}\n{text}"),
        Err(e) => e,
    };
    check_err(&err, line, phrases);
    err
}

#[track_caller]
fn flp_err(text: &str, line: usize, phrases: &[&str]) -> EnvError {
    let err = match parse_flp(text) {
        Ok(f) => panic!("expected an error at line {line}, parsed {f:?}\n{text}"),
        Err(e) => e,
    };
    check_err(&err, line, phrases);
    err
}

#[track_caller]
fn check_err(err: &EnvError, line: usize, phrases: &[&str]) {
    let msg = err.to_string();
    assert_eq!(err.line, line, "wrong line in {msg:?}");
    assert!(
        msg.starts_with(&format!("line {line}: ")),
        "message does not start with the line: {msg:?}"
    );
    for p in phrases {
        assert!(msg.contains(p), "{msg:?} does not mention {p:?}");
    }
}

// ------------------------------------------------------------------------------------------
// Valid files

#[test]
fn pekeris_example_parses() {
    let env = parse_env(&pekeris()).unwrap();
    assert_eq!(
        env,
        EnvFile {
            title: "PEKERIS".into(),
            frequency_hz: 10.0,
            water_depth: 5000.0,
            water: EnvMedium {
                speed: 1500.0,
                density: 1.0,
                attenuation_db_per_wavelength: 0.0
            },
            water_profile: vec![(0.0, 1500.0), (5000.0, 1500.0)],
            sediment: vec![],
            half_space: EnvMedium {
                speed: 2000.0,
                density: 2.0,
                attenuation_db_per_wavelength: 0.0
            },
            c_low: 1400.0,
            c_high: 2000.0,
            r_max_km: 1000.0,
            source_depths: vec![500.0],
            receiver_depths: vec![2500.0],
        }
    );
}

#[test]
fn two_layer_sediment_parses_with_carried_values() {
    let env = parse_env(&fixture("kraken_two_layer.env")).unwrap();
    assert_eq!(env.title, "Two sediment layers");
    assert_eq!(env.frequency_hz, 50.0);
    assert_eq!(env.water_depth, 200.0);
    assert_eq!(
        env.water,
        EnvMedium {
            speed: 1500.0,
            density: 1.0,
            attenuation_db_per_wavelength: 0.0
        }
    );
    assert_eq!(env.sediment.len(), 2);
    assert_eq!(
        env.sediment[0],
        EnvLayer {
            thickness: 20.0,
            medium: EnvMedium {
                speed: 1600.0,
                density: 1.8,
                attenuation_db_per_wavelength: 0.2
            }
        }
    );
    // The second layer gives only z and cp: rho and ap carry over from the line before.
    assert_eq!(
        env.sediment[1],
        EnvLayer {
            thickness: 30.0,
            medium: EnvMedium {
                speed: 1650.0,
                density: 1.8,
                attenuation_db_per_wavelength: 0.2
            }
        }
    );
    assert_eq!(
        env.half_space,
        EnvMedium {
            speed: 1800.0,
            density: 2.0,
            attenuation_db_per_wavelength: 0.1
        }
    );
    assert_eq!(
        (env.c_low, env.c_high, env.r_max_km),
        (1400.0, 1800.0, 10.0)
    );
    assert_eq!(env.source_depths, vec![60.0]);
    assert_eq!(env.receiver_depths, vec![30.0, 70.0, 110.0, 150.0, 190.0]);
}

#[test]
fn half_space_line_carries_values_from_the_last_ssp_line() {
    // Only z and cp on the half-space line: rho and ap come from the water line (1.0, 0.3).
    let text = with_line(&pekeris(), 6, "0.0 1500.0 0.0 1.0 0.3 /");
    let text = with_line(&text, 9, "5000.0 2000.0 /");
    let env = parse_env(&text).unwrap();
    assert_eq!(env.water.attenuation_db_per_wavelength, 0.3);
    assert_eq!(
        env.half_space,
        EnvMedium {
            speed: 2000.0,
            density: 1.0,
            attenuation_db_per_wavelength: 0.3
        }
    );
}

#[test]
fn fortran_list_directed_niceties() {
    let text = pekeris();
    // Commas as separators, D exponent, a repeat count of nulls, a full six-value line
    // without '/', an unquoted option string, blank and comment-only lines.
    let text = with_line(&text, 2, "1.0D1");
    let text = with_line(&text, 4, "CVW   ! unquoted");
    let text = with_line(&text, 6, "0.0, 1500.0, 0.0, 1.0, 0.0, 0.0");
    let text = with_line(&text, 7, "5000.0 1500.0 2*, 0.0 /");
    let text = with_line(&text, 10, "1400.0, 2000.0");
    let text = insert_line(&text, 3, "");
    let text = insert_line(&text, 3, "   ! a comment-only line");
    let env = parse_env(&text).unwrap();
    assert_eq!(env, parse_env(&pekeris()).unwrap());
}

#[test]
fn repeat_count_fills_consecutive_fields() {
    // "3*0.0" after cp fills cs, rho and ap: rho = 0 is refused, on that line.
    let text = with_line(&pekeris(), 7, "5000.0 1500.0 3*0.0 /");
    env_err(&text, 7, &["density", "must be positive"]);
    let text = with_line(&pekeris(), 7, "5000.0 1500.0 0.0 1.0 2*0.0 /");
    assert!(parse_env(&text).is_ok());
}

#[test]
fn quoted_title_keeps_spaces_and_unquoted_title_is_first_word() {
    let text = with_line(&pekeris(), 1, "'Pekeris waveguide, 10 Hz'  ! title");
    assert_eq!(parse_env(&text).unwrap().title, "Pekeris waveguide, 10 Hz");
    let text = with_line(&pekeris(), 1, "Pekeris waveguide");
    assert_eq!(parse_env(&text).unwrap().title, "Pekeris");
    let text = with_line(&pekeris(), 1, "/");
    assert_eq!(parse_env(&text).unwrap().title, "");
}

#[test]
fn crlf_line_endings_are_accepted() {
    let text = pekeris().replace('\n', "\r\n");
    assert_eq!(parse_env(&text).unwrap(), parse_env(&pekeris()).unwrap());
}

// ------------------------------------------------------------------------------------------
// Lists: the Acoustics Toolbox fill rule

#[test]
fn receiver_list_fill_rule() {
    let text = with_line(&pekeris(), 14, "5");
    let text = with_line(&text, 15, "0 100 /");
    let env = parse_env(&text).unwrap();
    assert_eq!(env.receiver_depths, vec![0.0, 25.0, 50.0, 75.0, 100.0]);

    // Reversed end points give the same (sorted) vector.
    let text = with_line(&text, 15, "100 0 /");
    let env = parse_env(&text).unwrap();
    assert_eq!(env.receiver_depths, vec![0.0, 25.0, 50.0, 75.0, 100.0]);
}

#[test]
fn full_lists_may_span_lines_and_are_sorted() {
    let text = with_line(&pekeris(), 14, "4");
    let text = with_line(&text, 15, "300 100\n 400\n\n 200 /");
    let env = parse_env(&text).unwrap();
    assert_eq!(env.receiver_depths, vec![100.0, 200.0, 300.0, 400.0]);
    // Exactly N values without any '/' also ends the list.
    let text = with_line(&pekeris(), 15, "2500.0");
    assert_eq!(parse_env(&text).unwrap().receiver_depths, vec![2500.0]);
}

#[test]
fn list_errors() {
    let base = with_line(&pekeris(), 14, "5");
    // One value for N > 1.
    env_err(
        &with_line(&base, 15, "100 /"),
        15,
        &["only one RD value", "NRD = 5"],
    );
    // More than two but fewer than N.
    env_err(
        &with_line(&base, 15, "0 50 100 /"),
        15,
        &["3 of NRD = 5", "first and the last"],
    );
    // No values at all.
    env_err(&with_line(&base, 15, "/"), 15, &["no values given for RD"]);
    // Too many values.
    env_err(
        &with_line(&pekeris(), 15, "100 200 /"),
        15,
        &["more than NRD = 1", "'200'"],
    );
    // Counts.
    env_err(
        &with_line(&pekeris(), 14, "0"),
        14,
        &["NRD = 0", "at least 1"],
    );
    env_err(
        &with_line(&pekeris(), 14, "1.5"),
        14,
        &["NRD", "expected an integer"],
    );
    env_err(&with_line(&pekeris(), 12, "-2"), 12, &["NSD = -2"]);
    env_err(
        &with_line(&pekeris(), 12, "99999999999"),
        12,
        &["NSD", "too large"],
    );
    // Null values in a list.
    env_err(&with_line(&base, 15, "0,,100 /"), 15, &["null"]);
}

#[test]
fn source_and_receiver_depth_ranges() {
    // Receiver below the seabed (in the sediment).
    let e = env_err(
        &with_line(&pekeris(), 15, "5100.0 /"),
        15,
        &[
            "receiver depth RD = 5100 m",
            "below the seabed",
            "sediment",
            "not supported",
        ],
    );
    assert_eq!(
        e.to_string(),
        "line 15: receiver depth RD = 5100 m is below the seabed at 5000 m: receivers in the \
         sediment are not supported"
    );
    // Source below the seabed; above the surface.
    env_err(
        &with_line(&pekeris(), 13, "6000 /"),
        13,
        &["source depth", "sediment", "not supported"],
    );
    env_err(
        &with_line(&pekeris(), 13, "-1 /"),
        13,
        &["source depth SD = -1 m", "above the sea surface"],
    );
    // Depths at the surface and at the seabed are in the water column.
    let text = with_line(&pekeris(), 14, "2");
    let text = with_line(&text, 15, "0 5000 /");
    assert_eq!(parse_env(&text).unwrap().receiver_depths, vec![0.0, 5000.0]);
    // Receivers in a sediment layer of the two-layer file.
    let layered = fixture("kraken_two_layer.env");
    env_err(
        &with_line(&layered, 21, "30 210 /"),
        21,
        &["210 m", "below the seabed at 200 m", "sediment"],
    );
}

// ------------------------------------------------------------------------------------------
// Unsupported features

#[test]
fn ssp_option_interpolation_is_refused() {
    let e = env_err(&with_line(&pekeris(), 4, "'NVW'"), 4, &[]);
    assert_eq!(
        e.to_string(),
        "line 4: SSPOPT 'NVW': interpolation 'N' (N²-linear) is not supported; use 'C'"
    );
    for (opt, phrase) in [
        ("'SVW'", "'S' (cubic spline)"),
        ("'PVW'", "'P' (PCHIP)"),
        ("'AVW'", "'A' (analytic"),
        ("'QVW'", "'Q' (quadrilateral"),
        ("'XVW'", "'X' (unknown)"),
        ("'cvw'", "'c' (unknown)"),
        ("''", "missing interpolation"),
    ] {
        env_err(
            &with_line(&pekeris(), 4, opt),
            4,
            &["SSPOPT", "interpolation", phrase, "not supported"],
        );
    }
}

#[test]
fn ssp_option_top_boundary_is_refused() {
    for (opt, phrase) in [
        ("'CRW'", "top boundary 'R' (rigid surface)"),
        ("'CAW'", "top boundary 'A' (acousto-elastic"),
        ("'CFW'", "top boundary 'F'"),
        ("'C'", "missing top boundary"),
    ] {
        env_err(
            &with_line(&pekeris(), 4, opt),
            4,
            &["SSPOPT", phrase, "not supported", "use 'V'"],
        );
    }
}

#[test]
fn ssp_option_attenuation_units_are_refused() {
    for (opt, phrase) in [
        ("'CVF'", "'F' (dB/(m·kHz))"),
        ("'CVM'", "'M' (dB/m)"),
        ("'CVN'", "'N' (nepers/m)"),
        ("'CVQ'", "'Q' (quality factor)"),
        ("'CVL'", "'L' (loss parameter)"),
        ("'CV'", "missing attenuation units"),
    ] {
        env_err(
            &with_line(&pekeris(), 4, opt),
            4,
            &[
                "SSPOPT",
                "attenuation units",
                phrase,
                "not supported",
                "use 'W'",
            ],
        );
    }
}

#[test]
fn ssp_option_extra_characters_are_refused() {
    for (opt, phrase) in [
        ("'CVWT'", "'T' (Thorp volume attenuation)"),
        ("'CVWF'", "Francois-Garrison"),
        ("'CVWB'", "biological"),
        ("'CVW *'", "'*' (altimetry file)"),
        ("'CVW  B'", "broadband"),
        ("'CVW   x'", "option character 7 'x'"),
    ] {
        env_err(
            &with_line(&pekeris(), 4, opt),
            4,
            &["SSPOPT", phrase, "not supported", "'CVW'"],
        );
    }
    // Trailing blanks are fine.
    assert!(parse_env(&with_line(&pekeris(), 4, "'CVW   '")).is_ok());
}

#[test]
fn bottom_types_other_than_acousto_elastic_are_refused() {
    for (opt, phrase) in [
        ("'V' 0.0", "bottom type 'V' (vacuum)"),
        ("'R' 0.0", "bottom type 'R' (rigid)"),
        ("'F' 0.0", "bottom type 'F' (reflection coefficient"),
        ("'G' 0.0", "bottom type 'G' (grain-size"),
        ("'P' 0.0", "bottom type 'P' (precalculated"),
        ("'Z' 0.0", "bottom type 'Z' (unknown)"),
        ("'A*' 0.0", "'*' (bathymetry file)"),
    ] {
        env_err(
            &with_line(&pekeris(), 8, opt),
            8,
            &["BOTOPT", phrase, "not supported"],
        );
    }
    // 'A' followed by '/' (roughness defaulted) is fine.
    assert!(parse_env(&with_line(&pekeris(), 8, "'A' /")).is_ok());
}

#[test]
fn shear_is_refused() {
    env_err(
        &with_line(&pekeris(), 6, "0.0 1500.0 100.0 /"),
        6,
        &[
            "shear speed cs = 100 m/s in medium 1",
            "shear",
            "not supported",
        ],
    );
    env_err(
        &with_line(&pekeris(), 9, "5000.0 2000.0 500.0 2.0 /"),
        9,
        &[
            "shear speed cs = 500 m/s in the bottom half-space",
            "elastic half-space",
            "not supported",
        ],
    );
    let layered = fixture("kraken_two_layer.env");
    env_err(
        &with_line(&layered, 9, "200.0 1600.0 300.0 1.8 0.2 /"),
        9,
        &["cs = 300 m/s in medium 2", "shear", "not supported"],
    );
}

#[test]
fn water_profiles_are_read_and_sediment_gradients_refused() {
    // A water sound-speed profile (C-linear): read point by point.
    let text = with_line(&pekeris(), 7, "2500.0 1490.0 /\n 5000.0 1520.0 /");
    let e = parse_env(&text).unwrap();
    assert_eq!(
        e.water_profile,
        vec![(0.0, 1500.0), (2500.0, 1490.0), (5000.0, 1520.0)]
    );
    assert_eq!(e.water.speed, 1500.0);
    // Three identical points: isovelocity water.
    let text = with_line(&pekeris(), 7, "2500.0 1500.0 /\n 5000.0 1500.0 /");
    let e = parse_env(&text).unwrap();
    assert!(e.water_profile.iter().all(|&(_, c)| c == 1500.0));
    // A sound-speed gradient in a sediment layer is refused.
    let layered = fixture("kraken_two_layer.env");
    let e = env_err(&with_line(&layered, 10, "220.0 1610.0 /"), 10, &[]);
    assert_eq!(
        e.to_string(),
        "line 10: sound speed varies within medium 2 (1600 → 1610 m/s); only the water column \
         (medium 1) may have a sound-speed profile, sediment layers are isovelocity"
    );
    // Density and attenuation gradients.
    let layered = fixture("kraken_two_layer.env");
    env_err(
        &with_line(&layered, 10, "220.0 1600.0 0.0 1.9 /"),
        10,
        &["density varies within medium 2", "1.8 → 1.9"],
    );
    env_err(
        &with_line(&layered, 10, "220.0 1600.0 0.0 1.8 0.4 /"),
        10,
        &["attenuation varies within medium 2", "0.2 → 0.4"],
    );
}

#[test]
fn medium_geometry_is_checked() {
    // Water column must start at the surface.
    env_err(
        &with_line(&pekeris(), 6, "10.0 1500.0 /"),
        6,
        &["first SSP point of medium 1", "z = 0"],
    );
    // Depths must increase.
    let text = with_line(&pekeris(), 7, "0.0 1500.0 /");
    env_err(&text, 7, &["SSP depths must increase"]);
    // A point past the bottom depth.
    env_err(
        &with_line(&pekeris(), 7, "5100.0 1500.0 /"),
        7,
        &["z = 5100 m is below the bottom of medium 1", "line 5"],
    );
    // Bottom depth not below the top.
    env_err(
        &with_line(&pekeris(), 5, "0 0.0 -5.0"),
        5,
        &["Z = -5 m", "deeper"],
    );
    // A sediment layer that does not start where the previous medium ended.
    let layered = fixture("kraken_two_layer.env");
    env_err(
        &with_line(&layered, 9, "205.0 1600.0 0.0 1.8 0.2 /"),
        9,
        &["first SSP point of medium 2", "z = 200 m"],
    );
    // Layer bottom above its top.
    env_err(
        &with_line(&layered, 11, "0 0.0 210.0"),
        11,
        &["medium 3", "deeper"],
    );
    // Negative NMESH; NMEDIA out of range.
    env_err(
        &with_line(&pekeris(), 5, "-1 0.0 5000.0"),
        5,
        &["NMESH = -1"],
    );
    env_err(&with_line(&pekeris(), 3, "0"), 3, &["NMEDIA = 0"]);
    env_err(
        &with_line(&pekeris(), 3, "501"),
        3,
        &["NMEDIA = 501", "too large"],
    );
}

#[test]
fn roughness_is_refused() {
    env_err(
        &with_line(&pekeris(), 5, "0 0.5 5000.0"),
        5,
        &["roughness SIGMA = 0.5", "not supported"],
    );
    env_err(
        &with_line(&pekeris(), 8, "'A' 1.0"),
        8,
        &["roughness SIGMA = 1", "not supported"],
    );
}

#[test]
fn short_ssp_line_without_slash_is_refused() {
    // Fortran would read the next line's values as cs and rho here.
    env_err(
        &with_line(&pekeris(), 6, "0.0 1500.0"),
        6,
        &["only 2 of 6 values", "'/'"],
    );
    env_err(
        &with_line(&pekeris(), 8, "'A'"),
        8,
        &["only 1 of 2 values", "'/'"],
    );
}

#[test]
fn bad_numbers_are_refused() {
    env_err(&with_line(&pekeris(), 2, "NaN"), 2, &["FREQ is NaN"]);
    env_err(&with_line(&pekeris(), 2, "nan ! freq"), 2, &["FREQ is NaN"]);
    env_err(
        &with_line(&pekeris(), 2, "-10.0"),
        2,
        &["FREQ = -10 Hz", "must be positive"],
    );
    env_err(
        &with_line(&pekeris(), 2, "0"),
        2,
        &["FREQ = 0 Hz", "must be positive"],
    );
    env_err(&with_line(&pekeris(), 2, "inf"), 2, &["FREQ", "infinite"]);
    env_err(
        &with_line(&pekeris(), 2, "1e999"),
        2,
        &["FREQ", "overflows"],
    );
    env_err(
        &with_line(&pekeris(), 2, "ten"),
        2,
        &["FREQ", "'ten' is not a number"],
    );
    env_err(
        &with_line(&pekeris(), 2, "'10'"),
        2,
        &["FREQ", "found the string"],
    );
    env_err(&with_line(&pekeris(), 2, "/"), 2, &["FREQ is missing"]);
    env_err(&with_line(&pekeris(), 7, "5000.0 NaN /"), 7, &["cp is NaN"]);
    env_err(
        &with_line(&pekeris(), 9, "5000.0 2000.0 0.0 NaN /"),
        9,
        &["rho is NaN"],
    );
    env_err(&with_line(&pekeris(), 15, "NaN /"), 15, &["RD is NaN"]);
    env_err(
        &with_line(&pekeris(), 9, "5000.0 -2000.0 /"),
        9,
        &["cp = -2000 m/s", "must be positive"],
    );
    env_err(
        &with_line(&pekeris(), 9, "5000.0 2000.0 0.0 0.0 /"),
        9,
        &["density rho = 0", "positive"],
    );
    env_err(
        &with_line(&pekeris(), 9, "5000.0 2000.0 0.0 2.0 -0.1 /"),
        9,
        &["attenuation ap = -0.1"],
    );
    env_err(
        &with_line(&pekeris(), 10, "2000.0 1400.0"),
        10,
        &["CHIGH = 1400", "greater than CLOW = 2000"],
    );
    env_err(
        &with_line(&pekeris(), 10, "-1.0 1400.0"),
        10,
        &["CLOW = -1"],
    );
    env_err(&with_line(&pekeris(), 11, "-1.0"), 11, &["RMAX = -1"]);
    env_err(
        &with_line(&pekeris(), 1, "'PEKERIS"),
        1,
        &["unterminated string"],
    );
    env_err(&with_line(&pekeris(), 2, "0*10.0"), 2, &["repeat count"]);
}

#[test]
fn truncated_file_names_end_of_file() {
    let text = pekeris();
    let lines: Vec<&str> = text.lines().collect();
    let truncated = lines[..14].join("\n") + "\n";
    env_err(&truncated, 15, &["unexpected end of file", "RD(1:NRD)"]);
    let truncated = lines[..7].join("\n");
    env_err(&truncated, 8, &["unexpected end of file", "BOTOPT"]);
    let truncated = lines[..6].join("\n");
    env_err(
        &truncated,
        7,
        &["unexpected end of file", "SSP line", "medium 1"],
    );
    // A list cut short: 1 of 3 values and no '/'.
    let text = with_line(&pekeris(), 14, "3");
    let text = with_line(&text, 15, "100");
    env_err(
        &text,
        16,
        &["unexpected end of file while reading RD", "1 of 3 values"],
    );
    env_err("", 1, &["unexpected end of file", "TITLE"]);
}

#[test]
fn trailing_profiles_are_refused() {
    let text = pekeris() + "'PEKERIS 2'\n10.0\n";
    env_err(&text, 16, &["range-dependent", "not supported"]);
    // Trailing comments and blank lines are fine.
    let text = pekeris() + "\n! the end\n\n";
    assert!(parse_env(&text).is_ok());
}

// ------------------------------------------------------------------------------------------
// FIELD .flp

#[test]
fn flp_example_parses() {
    let f = parse_flp(&flp()).unwrap();
    assert_eq!(f.max_modes, 9999);
    assert_eq!(f.ranges_m.len(), 501);
    assert_eq!(f.ranges_m[0], 200_000.0);
    assert_eq!(f.ranges_m[500], 220_000.0);
    assert!((f.ranges_m[1] - 200_040.0).abs() < 1e-6);
    assert!(f.ranges_m.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(f.source_depths, vec![500.0]);
    assert_eq!(f.receiver_depths, vec![2500.0]);
}

#[test]
fn flp_variants_accepted() {
    // Coupled modes, a quoted title, explicit omni/coherent options, single range.
    let text = with_line(&flp(), 1, "'field run'");
    let text = with_line(&text, 2, "'RCOC'");
    let text = with_line(&text, 6, "1");
    let text = with_line(&text, 7, "3.0 /");
    let f = parse_flp(&text).unwrap();
    assert_eq!(f.ranges_m, vec![3000.0]);
    // The Acoustics Toolbox idiom: NRR = NRD with a single 0.0 repeated.
    let text = with_line(&flp(), 10, "5");
    let text = with_line(&text, 11, "30 190 /");
    let text = with_line(&text, 12, "5");
    let f = parse_flp(&text).unwrap();
    assert_eq!(f.receiver_depths, vec![30.0, 70.0, 110.0, 150.0, 190.0]);
    assert_eq!(
        f,
        FlpFile {
            max_modes: 9999,
            ranges_m: f.ranges_m.clone(),
            source_depths: vec![500.0],
            receiver_depths: vec![30.0, 70.0, 110.0, 150.0, 190.0],
        }
    );
}

#[test]
fn flp_unsupported_features() {
    flp_err(
        &with_line(&flp(), 2, "'XA'"),
        2,
        &["OPT 'XA'", "line source", "not supported"],
    );
    flp_err(
        &with_line(&flp(), 2, "'SA'"),
        2,
        &["scaled cylindrical", "not supported"],
    );
    flp_err(&with_line(&flp(), 2, "'RZ'"), 2, &["mode theory 'Z'"]);
    flp_err(
        &with_line(&flp(), 2, "'RA*'"),
        2,
        &["beam pattern", "not supported"],
    );
    flp_err(
        &with_line(&flp(), 2, "'RA I'"),
        2,
        &["incoherent", "not supported"],
    );
    flp_err(
        &with_line(&flp(), 2, "'RA  x'"),
        2,
        &["option character 5 'x'"],
    );
    flp_err(&with_line(&flp(), 3, "0"), 3, &["M = 0"]);
    flp_err(
        &with_line(&flp(), 4, "2"),
        4,
        &["NPROF = 2", "range-dependent", "not supported"],
    );
    flp_err(
        &with_line(&flp(), 5, "1.0 /"),
        5,
        &["RPROF = 1 km", "range 0"],
    );
    flp_err(
        &with_line(&flp(), 7, "0.0 220.0 /"),
        7,
        &["receiver range R = 0 km", "positive"],
    );
    flp_err(&with_line(&flp(), 7, "NaN 220.0 /"), 7, &["R is NaN"]);
    flp_err(
        &with_line(&flp(), 9, "-5 /"),
        9,
        &["source depth SD = -5 m", "above the sea surface"],
    );
    flp_err(
        &with_line(&flp(), 13, "5.0 /"),
        13,
        &["range offset RR = 5 m", "array tilt", "not supported"],
    );
    flp_err(
        &with_line(&flp(), 12, "2\n0 0 /"),
        12,
        &["NRR = 2 must equal NRD = 1"],
    );
    let text = flp();
    let lines: Vec<&str> = text.lines().collect();
    let truncated = lines[..12].join("\n");
    flp_err(&truncated, 13, &["unexpected end of file", "RR(1:NRR)"]);
    flp_err(&(flp() + "1\n"), 14, &["unexpected content"]);
}

// ------------------------------------------------------------------------------------------
// Files on disk

#[test]
fn read_from_files() {
    let env = read_env(&fixture_path("kraken_pekeris.env")).unwrap();
    assert_eq!(env.water_depth, 5000.0);
    let f = read_flp(&fixture_path("kraken_pekeris.flp")).unwrap();
    assert_eq!(f.max_modes, 9999);

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.env");
    std::fs::write(&bad, with_line(&pekeris(), 4, "'NVW'")).unwrap();
    let err = read_env(&bad).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with(&bad.display().to_string()), "{msg}");
    assert!(msg.contains("line 4: SSPOPT 'NVW'"), "{msg}");
    assert!(err.downcast_ref::<vina_host::error::InputError>().is_some());

    let missing = dir.path().join("missing.flp");
    let msg = format!("{:#}", read_flp(&missing).unwrap_err());
    assert!(msg.contains("missing.flp"), "{msg}");

    // Latin-1 bytes in a comment do not stop the reader.
    let latin1 = dir.path().join("latin1.env");
    let text = pekeris().replace("! FREQ (Hz)", "! FREQ \u{1}");
    let bytes: Vec<u8> = text
        .into_bytes()
        .into_iter()
        .map(|b| if b == 1 { 0xb0 } else { b })
        .collect();
    std::fs::write(&latin1, &bytes).unwrap();
    assert_eq!(read_env(&latin1).unwrap(), parse_env(&pekeris()).unwrap());
}

// ------------------------------------------------------------------------------------------
// Robustness: truncations and deterministic mutations never panic

fn fixtures() -> Vec<(&'static str, String, bool)> {
    vec![
        ("kraken_pekeris.env", pekeris(), true),
        (
            "kraken_two_layer.env",
            fixture("kraken_two_layer.env"),
            true,
        ),
        ("kraken_pekeris.flp", flp(), false),
    ]
}

fn parse_any(text: &str, is_env: bool) -> Result<(), EnvError> {
    if is_env {
        parse_env(text).map(|_| ())
    } else {
        parse_flp(text).map(|_| ())
    }
}

fn parse_no_panic(text: &str, is_env: bool, what: &str) -> Result<(), EnvError> {
    let owned = text.to_string();
    match std::panic::catch_unwind(move || parse_any(&owned, is_env)) {
        Ok(r) => r,
        Err(_) => panic!("parser panicked on {what}:\n{text}"),
    }
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    for (name, text, is_env) in fixtures() {
        assert!(parse_any(&text, is_env).is_ok(), "{name} must parse");
        let lines: Vec<&str> = text.lines().collect();
        // Whole-line truncations: always an error naming the line after the end.
        for k in 0..lines.len() {
            let t = lines[..k].join("\n");
            let err = parse_no_panic(&t, is_env, &format!("{name} cut to {k} lines"))
                .expect_err("truncated file must be refused");
            assert!(
                err.to_string().contains("end of file"),
                "{name} cut at {k}: {err}"
            );
            assert!(err.line <= k + 1, "{name} cut at {k}: {err}");
        }
        // Byte truncations: an error whenever the cut is before the last line; never a panic.
        let last_line_start = text.trim_end().rfind('\n').map_or(0, |i| i + 1);
        for cut in 0..=text.len() {
            if !text.is_char_boundary(cut) {
                continue;
            }
            let r = parse_no_panic(&text[..cut], is_env, &format!("{name} cut at byte {cut}"));
            if cut < last_line_start {
                assert!(r.is_err(), "{name} cut at byte {cut} parsed");
            }
        }
    }
}

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn deterministic_mutations_never_panic() {
    const INTERESTING: &[u8] = b"/!',\"*-+.0123456789eEdDNnaAiI \n\t\r:;CVWRA\x00\xff\xc3";
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut n_ok = 0;
    let mut n_err = 0;
    for (name, text, is_env) in fixtures() {
        let base = text.into_bytes();
        for round in 0..400 {
            let mut bytes = base.clone();
            let edits = 1 + rng.below(3);
            for _ in 0..edits {
                let pos = rng.below(bytes.len());
                match rng.below(5) {
                    0 => bytes[pos] = INTERESTING[rng.below(INTERESTING.len())],
                    1 => {
                        bytes.remove(pos);
                    }
                    2 => bytes.insert(pos, INTERESTING[rng.below(INTERESTING.len())]),
                    3 => {
                        // Duplicate a random chunk (repeats lines or fields).
                        let len = 1 + rng.below(20);
                        let end = (pos + len).min(bytes.len());
                        let chunk = bytes[pos..end].to_vec();
                        bytes.splice(pos..pos, chunk);
                    }
                    _ => {
                        // Replace a digit run with a large or odd number.
                        let odd: &[&[u8]] = &[
                            b"99999999999999999999",
                            b"1e308",
                            b"-0",
                            b"1D2",
                            b"3*",
                            b"0*1",
                        ];
                        let s = odd[rng.below(odd.len())];
                        bytes.splice(pos..pos, s.iter().copied());
                    }
                }
                if bytes.is_empty() {
                    break;
                }
            }
            let mutated = String::from_utf8_lossy(&bytes).into_owned();
            match parse_no_panic(&mutated, is_env, &format!("{name} mutation {round}")) {
                Ok(()) => n_ok += 1,
                Err(e) => {
                    n_err += 1;
                    let msg = e.to_string();
                    assert!(msg.starts_with("line "), "{msg}");
                    assert!(
                        e.line >= 1 && e.line <= mutated.lines().count() + 1,
                        "{msg}"
                    );
                }
            }
        }
    }
    // Many mutations break the file; some (in comments, say) do not.
    assert!(n_err > 100, "ok {n_ok}, refused {n_err}");
}

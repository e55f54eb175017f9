//! `vina forward`: the KRAKEN manual PEKERIS case from its `.env`/`.flp` files, a fixed
//! scenario, and refusals.

use std::process::Command;

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn vina(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vina"))
        .args(args)
        .output()
        .unwrap()
}

/// Reference: KRAKEN manual test case "PEKERIS" and the exact roots of
/// org-arl/UnderwaterAcoustics.jl (shared/reference/forward-model.md, sections "KRAKEN
/// manual, test case PEKERIS" and "Exact roots of the same case").
#[test]
fn pekeris_env_reproduces_reference_wavenumbers() {
    let out = vina(&[
        "forward",
        &fixture("pekeris.env"),
        "--flp",
        &fixture("pekeris.flp"),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let k: Vec<f64> = v["wavenumbers"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[0].as_f64().unwrap())
        .collect();
    assert_eq!(k.len(), 44);
    for (m, exact) in [(1, 0.04188332253060325), (44, 0.03172822169111466)] {
        assert!(
            (k[m - 1] - exact).abs() / exact < 1e-10,
            "k{m} = {} vs {exact}",
            k[m - 1]
        );
    }
    for (m, manual) in [
        (2, 0.4186958032e-1),
        (3, 0.4184666447e-1),
        (4, 0.4181455674e-1),
        (5, 0.4177323161e-1),
        (10, 0.4142694720e-1),
    ] {
        // the manual prints 10 significant digits
        assert!(
            (k[m - 1] - manual).abs() / manual < 2e-10,
            "k{m} = {} vs {manual}",
            k[m - 1]
        );
    }
    assert_eq!(v["range_m"][0], 200_000.0);
    assert_eq!(v["source_depth_m"], 500.0);
    let tl = v["tl_db"][0][0].as_f64().unwrap();
    assert!(tl.is_finite() && tl > 60.0 && tl < 140.0, "TL {tl}");
    // TL and pressure agree
    let p = &v["pressure"][0][0];
    let mag = (p[0].as_f64().unwrap().powi(2) + p[1].as_f64().unwrap().powi(2)).sqrt();
    assert!((tl + 20.0 * mag.log10()).abs() < 1e-9);
}

#[test]
fn fixed_scenario_and_refusals() {
    let out = vina(&["forward", &fixture("fixed-gi.toml"), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["frequency_hz"].as_array().unwrap().len(), 2);
    assert_eq!(v["pressure"][1].as_array().unwrap().len(), 2);

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let out = vina(&[
        "forward",
        root.join("scenarios/gi-pekeris.toml").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("water_depth_m"));

    let out = vina(&["forward", &fixture("pekeris.env")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--flp"));
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn complex_rows(v: &serde_json::Value) -> Vec<Vec<(f64, f64)>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
                .collect()
        })
        .collect()
}

/// The `.env`'s phase-speed window (CLOW, CHIGH), the `.flp`'s mode limit M and its three
/// ranges, against pelagic's KRAKENC + FIELD on the same files
/// (`tests/fixtures/kraken_window_reference.json`, written by
/// `bench/forward_window_crosscheck.py --write-fixture`): the same modes (only those with
/// phase speed in the window), the field of the first M of them, at every range.
#[test]
fn phase_speed_window_mode_limit_and_ranges_match_krakenc() {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("kraken_window_reference.json")).unwrap(),
    )
    .unwrap();
    let cases = reference["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 3);
    for (name, r) in cases {
        let v = json_of(&vina(&[
            "forward",
            &fixture(r["env"].as_str().unwrap()),
            "--flp",
            &fixture(r["flp"].as_str().unwrap()),
            "--json",
        ]));
        let k = &complex_rows(&v["wavenumbers"])[0];
        let kk: Vec<(f64, f64)> = r["k"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
            .collect();
        assert_eq!(k.len(), kk.len(), "{name}: mode count");
        for (a, b) in k.iter().zip(&kk) {
            assert!(
                (a.0 - b.0).abs() / b.0 < 1e-8,
                "{name}: Re k {} vs {}",
                a.0,
                b.0
            );
        }
        assert_eq!(
            v["modes_summed"][0], r["modes_summed"],
            "{name}: modes summed"
        );
        assert_eq!(v["range_m"], r["range_m"], "{name}: ranges");
        let p = complex_rows(&v["pressure_by_range"][0]);
        let pp = complex_rows(&r["pressure_by_range"]);
        assert_eq!(p.len(), 3, "{name}: one row per range");
        let pmax = pp
            .iter()
            .flatten()
            .map(|c| c.0.hypot(c.1))
            .fold(0.0, f64::max);
        for (row, rrow) in p.iter().zip(&pp) {
            assert_eq!(row.len(), rrow.len());
            for (a, b) in row.iter().zip(rrow) {
                let d = (a.0 - b.0).hypot(a.1 - b.1) / pmax;
                assert!(d < 1e-3, "{name}: p {a:?} vs KRAKENC {b:?} ({d:.1e})");
            }
        }
        // the first-range keys are the first row
        assert_eq!(v["pressure"][0], v["pressure_by_range"][0][0]);
        assert_eq!(v["tl_db"][0], v["tl_db_by_range"][0][0]);
    }
}

/// CHIGH above the half-space speed is capped there, as KRAKEN caps it (vina has no leaky
/// modes), and CLOW = 0 sets no lower limit: the same modes and field as CLOW..CHIGH =
/// 1400..1700, with a note on stderr and in the JSON. A window that holds no mode is
/// refused (exit 2) naming the window.
#[test]
fn chigh_above_half_space_is_capped_and_an_empty_window_refused() {
    let run = |env: &str| {
        vina(&[
            "forward",
            env,
            "--flp",
            &fixture("gi_3ranges.flp"),
            "--json",
        ])
    };
    let open = run(&fixture("gi_open_148Hz.env"));
    let stderr = String::from_utf8_lossy(&open.stderr).to_string();
    let open = json_of(&open);
    let plain = json_of(&run(&fixture("gi_lossy_148Hz.env")));
    assert!(
        stderr.contains("CHIGH = 2000") && stderr.contains("1700"),
        "{stderr}"
    );
    assert_eq!(open["notes"].as_array().unwrap().len(), 1);
    assert_eq!(plain["notes"].as_array().unwrap().len(), 0);
    assert_eq!(open["wavenumbers"][0].as_array().unwrap().len(), 16);
    assert_eq!(open["wavenumbers"], plain["wavenumbers"]);
    assert_eq!(open["pressure_by_range"], plain["pressure_by_range"]);
    assert_eq!(open["phase_speed_window_mps"][1], 1700.0);

    let text = std::fs::read_to_string(fixture("gi_lossy_148Hz.env"))
        .unwrap()
        .replace("1400.0  1700.0 ", "1400.0  1500.0 ");
    let dir = std::env::temp_dir().join(format!("vina-forward-window-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("empty_window.env");
    std::fs::write(&path, text).unwrap();
    let out = run(path.to_str().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2));
    let msg = String::from_utf8_lossy(&out.stderr);
    assert!(msg.contains("CLOW..CHIGH = 1400..1500"), "{msg}");
}

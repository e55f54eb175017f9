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

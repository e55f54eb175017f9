//! Scenario files: the committed scenarios load; every kind of bad input is refused with
//! a message that names the field.

use vina_host::scenario::{ParamSpec, Prior, Scenario};

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn committed_scenarios_load() {
    let gi = Scenario::load(&root().join("scenarios/gi-pekeris.toml")).unwrap();
    assert_eq!(gi.unknowns(), ["water_depth_m", "water_sound_speed_mps"]);
    assert_eq!(gi.tones_hz, [49.0, 64.0, 79.0, 94.0, 112.0, 130.0, 148.0]);
    assert_eq!(
        gi.priors()[0],
        Prior::Uniform {
            min: 200.5,
            max: 236.5
        }
    );
    let sw = Scenario::load(&root().join("scenarios/swellex-layered.toml")).unwrap();
    assert_eq!(sw.unknowns().len(), 8);
    assert_eq!(sw.unknowns()[0], "source_range_m");
    // the hash follows content, not formatting
    let text = std::fs::read_to_string(root().join("scenarios/gi-pekeris.toml")).unwrap();
    let reformatted = Scenario::parse(&text.replace(" = ", "=").replace("# ", "#  "), "x").unwrap();
    assert_eq!(reformatted.hash(), gi.hash());
    assert_ne!(sw.hash(), gi.hash());
}

const BASE: &str = r#"
name = "t"
model = "pekeris"
[observation]
tones_hz = [50.0, 100.0]
receiver_depths_m = [10.0, 50.0]
snr_db = 20.0
[parameters]
water_depth_m = { prior = "uniform", min = 100.0, max = 120.0 }
water_sound_speed_mps = 1500.0
bottom_sound_speed_mps = 1700.0
bottom_density_gcc = 1.5
source_depth_m = 30.0
source_range_m = 2000.0
"#;

fn err(text: &str) -> String {
    let e = Scenario::parse(text, "s.toml").expect_err("bad scenario accepted");
    assert!(
        e.downcast_ref::<vina_host::error::InputError>().is_some(),
        "not an input error: {e}"
    );
    e.to_string()
}

#[test]
fn base_scenario_is_valid_and_defaults_apply() {
    let s = Scenario::parse(BASE, "s.toml").unwrap();
    let att = s
        .parameters
        .iter()
        .find(|(n, _)| *n == "bottom_attenuation_db_per_wavelength")
        .unwrap()
        .1;
    assert_eq!(att, ParamSpec::Fixed(0.0));
}

#[test]
fn bad_inputs_name_the_field() {
    let cases = [
        (
            BASE.replace(
                "bottom_sound_speed_mps = 1700.0",
                "bottom_sound_speed_mps = 1400.0",
            ),
            "bottom_sound_speed_mps",
        ),
        (
            BASE.replace(
                "water_sound_speed_mps = 1500.0",
                "water_sound_speed_mps = 1700.0",
            ),
            "faster than the water",
        ),
        (
            BASE.replace("min = 100.0, max = 120.0", "min = -5.0, max = 120.0"),
            "water_depth_m",
        ),
        (
            BASE.replace("min = 100.0, max = 120.0", "min = 130.0, max = 120.0"),
            "min < max",
        ),
        (
            BASE.replace("tones_hz = [50.0, 100.0]", "tones_hz = [50.0, -100.0]"),
            "tones_hz",
        ),
        (
            BASE.replace("tones_hz = [50.0, 100.0]", "tones_hz = [0.0]"),
            "tones_hz",
        ),
        (
            BASE.replace("[10.0, 50.0]", "[10.0, 150.0]"),
            "below the seabed",
        ),
        (
            BASE.replace("source_depth_m = 30.0", "source_depth_m = 110.0"),
            "source_depth_m",
        ),
        (
            BASE.replace("source_range_m = 2000.0", "source_range_m = nan"),
            "source_range_m",
        ),
        (
            BASE.replace("bottom_density_gcc = 1.5", "bottom_density_gcc = inf"),
            "bottom_density_gcc",
        ),
        (
            BASE.replace("prior = \"uniform\"", "prior = \"gamma\""),
            "unknown prior kind 'gamma'",
        ),
        (
            BASE.replace("source_range_m = 2000.0", "source_rnage_m = 2000.0"),
            "source_rnage_m",
        ),
        (
            BASE.replace("source_range_m = 2000.0", ""),
            "source_range_m: required",
        ),
        (
            BASE.replace("model = \"pekeris\"", "model = \"pe\""),
            "model",
        ),
        (BASE.replace("snr_db = 20.0", "snr_db = \"loud\""), "snr_db"),
        (
            BASE.replace("[10.0, 50.0]", "[50.0, 10.0]"),
            "increasing depth",
        ),
        (
            format!("{BASE}sediment_thickness_m = 10.0\n"),
            "sediment_thickness_m",
        ),
        ("name = ".to_owned(), "invalid TOML"),
    ];
    for (text, needle) in cases {
        let msg = err(&text);
        assert!(
            msg.contains("s.toml") && msg.contains(needle),
            "expected `{needle}` in: {msg}"
        );
    }
}

#[test]
fn truth_strings_are_checked() {
    let s = Scenario::parse(BASE, "s.toml").unwrap();
    assert_eq!(s.parse_truth("water_depth_m=110.5").unwrap(), [110.5]);
    assert!(
        s.parse_truth("depth=110")
            .unwrap_err()
            .to_string()
            .contains("not an unknown")
    );
    assert!(
        s.parse_truth("")
            .unwrap_err()
            .to_string()
            .contains("missing")
    );
    assert!(
        s.parse_truth("water_depth_m=nan")
            .unwrap_err()
            .to_string()
            .contains("finite")
    );
}

/// A model file names its scenario by this hash and refuses any other, so the hash must
/// not move when the code that parses scenarios is reorganized: the committed models'
/// hashes are those of the committed scenario files, and the layered scenario's hash is
/// pinned (the value it had when the models were exported).
#[test]
fn scenario_hashes_are_stable() {
    let hash = |name: &str| {
        Scenario::load(&root().join("scenarios").join(name))
            .unwrap()
            .hash()
    };
    let model_hash = |name: &str| {
        let bytes = std::fs::read(root().join("models").join(name)).unwrap();
        vina_core::model::Model::from_bytes(&bytes)
            .unwrap()
            .header()
            .scenario_hash
    };
    assert_eq!(hash("gi-pekeris.toml"), model_hash("gi-pekeris-cinn.vina"));
    assert_eq!(
        hash("gi-pekeris-raw.toml"),
        model_hash("gi-pekeris-inn.vina")
    );
    assert_eq!(hash("swellex-layered.toml"), 0x20a4_0834_6c3f_904c);
    // a format-version-4 model whose template carries the scenario's profile
    assert_eq!(
        hash("swellex-ssp.toml"),
        model_hash("swellex-ssp-cinn.vina")
    );
    let bytes = std::fs::read(root().join("models/swellex-ssp-cinn.vina")).unwrap();
    let model = vina_core::model::Model::from_bytes(&bytes).unwrap();
    let profile = &model.template().unwrap().water_profile;
    let scenario = Scenario::load(&root().join("scenarios/swellex-ssp.toml")).unwrap();
    assert_eq!(profile.len(), scenario.water_profile.len());
    for (p, &(z, c)) in profile.iter().zip(&scenario.water_profile) {
        assert_eq!((p.depth, p.speed), (z as f32, c as f32));
    }
}

/// A normal prior truncated with `min`/`max` loads as `Prior::TruncatedNormal`, compiles
/// to a template that validates, and hashes with its bounds; an untruncated normal (which
/// reaches −∞) is refused with a message that says how to truncate it, and a `min` below
/// the parameter's bound is refused too.
#[test]
fn truncated_normal_prior_loads_and_validates() {
    let text = BASE.replace(
        "water_sound_speed_mps = 1500.0",
        "water_sound_speed_mps = { prior = \"normal\", mean = 1500.0, std = 10.0, min = 1470.0, max = 1530.0 }",
    );
    let s = Scenario::parse(&text, "s.toml").unwrap();
    assert_eq!(s.unknowns(), ["water_depth_m", "water_sound_speed_mps"]);
    assert_eq!(
        s.priors()[1],
        Prior::TruncatedNormal {
            mean: 1500.0,
            std: 10.0,
            min: 1470.0,
            max: 1530.0
        }
    );
    let t = s.template().unwrap();
    t.validate().unwrap();
    t.cast::<f32>().validate().unwrap();
    assert_eq!(t.unknowns[1].prior, s.priors()[1]);
    // the bounds are part of the content hash
    let wider = Scenario::parse(&text.replace("max = 1530.0", "max = 1540.0"), "s.toml").unwrap();
    assert_ne!(wider.hash(), s.hash());
    // one-sided: max omitted (bottom speed can be anything above 1600 m/s)
    let one_sided = BASE.replace(
        "bottom_sound_speed_mps = 1700.0",
        "bottom_sound_speed_mps = { prior = \"normal\", mean = 1700.0, std = 30.0, min = 1600.0 }",
    );
    let s = Scenario::parse(&one_sided, "s.toml").unwrap();
    assert_eq!(s.priors()[1].support(), (1600.0, f64::INFINITY));
    s.template().unwrap();

    // an untruncated normal reaches below every parameter's bound
    let msg = err(&BASE.replace(
        "water_sound_speed_mps = 1500.0",
        "water_sound_speed_mps = { prior = \"normal\", mean = 1500.0, std = 10.0 }",
    ));
    assert!(
        msg.contains("water_sound_speed_mps") && msg.contains("truncate it with `min`"),
        "{msg}"
    );
    let msg = err(&BASE.replace(
        "source_depth_m = 30.0",
        "source_depth_m = { prior = \"normal\", mean = 30.0, std = 10.0, min = -5.0, max = 60.0 }",
    ));
    assert!(
        msg.contains("source_depth_m") && msg.contains("raise the normal's `min`"),
        "{msg}"
    );
    // the geometry checks use the truncated support
    let msg = err(&BASE.replace(
        "source_depth_m = 30.0",
        "source_depth_m = { prior = \"normal\", mean = 30.0, std = 10.0, min = 0.0 }",
    ));
    assert!(
        msg.contains("source_depth_m") && msg.contains("below the seabed"),
        "{msg}"
    );
    let msg = err(&BASE.replace(
        "water_sound_speed_mps = 1500.0",
        "water_sound_speed_mps = { prior = \"normal\", mean = 1500.0, std = 10.0, min = 1470.0, max = 1460.0 }",
    ));
    assert!(msg.contains("min < max"), "{msg}");
}

/// A measured water sound-speed profile: `scenarios/swellex-ssp.toml` loads, compiles to
/// a template carrying the profile (its environments have it), and hashes differently
/// from the isovelocity `swellex-layered`; bad profiles are refused naming the field.
#[test]
fn water_profiles_load_and_bad_ones_are_refused() {
    let ssp = Scenario::load(&root().join("scenarios/swellex-ssp.toml")).unwrap();
    assert_eq!(ssp.unknowns().len(), 8);
    assert_eq!(ssp.water_profile.len(), 35);
    assert_eq!(ssp.water_profile[0], (0.0, 1521.95));
    let template = ssp.template().unwrap();
    assert_eq!(template.water_profile.len(), 35);
    let theta = [3000.0, 60.0, 216.5, 23.5, 1580.0, 1.76, 0.3, 1780.0];
    let env = template.environment(&theta).unwrap();
    assert_eq!(env.water_profile.len(), 35);
    let sw = Scenario::load(&root().join("scenarios/swellex-layered.toml")).unwrap();
    assert_ne!(ssp.hash(), sw.hash());

    let with = |table: &str| format!("{BASE}\n[water_profile]\n{table}\n");
    let good = r#"source = "test"
depths_m = [0.0, 20.0, 60.0]
speeds_mps = [1500.0, 1490.0, 1485.0]"#;
    let s = Scenario::parse(&with(good), "s.toml").unwrap();
    assert_eq!(
        s.water_profile,
        [(0.0, 1500.0), (20.0, 1490.0), (60.0, 1485.0)]
    );
    for (table, needle) in [
        (
            good.replace("source = \"test\"\n", ""),
            "`source` is required",
        ),
        (
            good.replace("[0.0, 20.0", "[1.0, 20.0"),
            "first point must be at the surface",
        ),
        (
            good.replace("20.0, 60.0", "60.0, 20.0"),
            "depths_m[2]: depths must increase",
        ),
        (
            good.replace("1490.0, 1485.0]", "1490.0]"),
            "3 depths_m but 2 speeds_mps",
        ),
        (
            good.replace("1490.0", "149.0"),
            "speeds_mps[1]: 149 m/s is not a sea-water",
        ),
        (
            good.replace("[1500.0", "[1510.0"),
            "differs from the profile's surface speed 1510",
        ),
        (format!("{good}\nfoo = 1"), "unknown field `foo`"),
    ] {
        let e = err(&with(&table));
        assert!(e.contains(needle), "{needle}: {e}");
    }
    // the water speed may not be an unknown under a profile
    let unknown_speed = with(good).replace(
        "water_sound_speed_mps = 1500.0",
        "water_sound_speed_mps = { prior = \"uniform\", min = 1480.0, max = 1520.0 }",
    );
    assert!(err(&unknown_speed).contains("must be fixed at the profile's surface speed"));
}

//! `vina invert` says when its answer cannot be trusted ("nothing silent"): features no
//! real observation can produce, draws outside the prior the model file carries, NaN in a
//! summary, too few draws, and ONNX graphs that do not fit or do not belong to the model.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use prost::Message;
use serde_json::Value;
use vina_core::spec::{ModelSpec, Precision, RandomArch};
use vina_host::export::{fold, onnx, template_for};
use vina_host::scenario::Scenario;

fn vina(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vina"))
        .args(args)
        .output()
        .expect("run vina")
}

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
        .to_str()
        .unwrap()
        .to_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit 0, the JSON and stderr.
fn ok_json(args: &[&str]) -> (Value, String) {
    let out = vina(args);
    let err = stderr(&out);
    assert!(out.status.success(), "{args:?}: {err}");
    (serde_json::from_slice(&out.stdout).expect("json"), err)
}

/// Exit `code` and a message holding every needle.
fn fails(code: i32, args: &[&str], needles: &[&str]) -> String {
    let out = vina(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err:?} lacks {n:?}");
    }
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    err
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_owned()
}

fn observe(dir: &Path, scenario: &str, truth: &str, seed: u64) -> String {
    let out_path = dir.join(format!("obs-{scenario}-{seed}-{truth}.json"));
    let out = vina(&[
        "observe",
        "--scenario",
        &repo(&format!("scenarios/{scenario}.toml")),
        "--truth",
        truth,
        "--seed",
        &seed.to_string(),
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    out_path.to_str().unwrap().to_owned()
}

fn warnings(v: &Value) -> Vec<String> {
    serde_json::from_value(v["warnings"].clone()).expect("warnings array")
}

/// A random default-shaped cINN of gi-pekeris with normalization `x_mean`, `x_std`,
/// folded, with the scenario's template when `template`.
fn random_cinn(x_mean: [f32; 2], x_std: [f32; 2], template: bool) -> ModelSpec {
    let scn = Scenario::load(Path::new(&repo("scenarios/gi-pekeris.toml"))).expect("scenario");
    let mut spec = RandomArch::default_cinn().build(21);
    spec.header.scenario_hash = scn.hash();
    spec.header.x_mean = x_mean.to_vec();
    spec.header.x_std = x_std.to_vec();
    spec.header.param_names = vec!["water_depth_m".into(), "water_sound_speed_mps".into()];
    if template {
        spec.header.tones_hz = scn.tones_hz.iter().map(|&f| f as f32).collect();
        spec.template = Some(
            template_for(&spec, Path::new(&repo("scenarios/gi-pekeris.toml"))).expect("template"),
        );
    }
    fold::fold(&mut spec);
    spec
}

fn write_model(dir: &Path, name: &str, spec: &ModelSpec) -> String {
    let p = dir.join(name);
    std::fs::write(&p, spec.encode(Precision::F32).expect("encode")).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn features_no_real_observation_can_produce_are_flagged_with_draws_outside_the_prior() {
    let dir = tempfile::tempdir().unwrap();
    let model = repo("models/gi-pekeris-cinn.vina");
    // 63 relative-transfer-function features whose first tone has norm 1000: the
    // issue's depth −798.9 m / 384.7 m case.
    let mut y = vec![0.0; 63];
    y[0] = 1000.0;
    let obs = write(
        dir.path(),
        "big.json",
        &serde_json::json!({ "y": y }).to_string(),
    );
    let args = [
        "invert",
        "--model",
        &model,
        "--observation",
        &obs,
        "--draws",
        "200",
    ];
    let (v, err) = ok_json(&[&args[..], &["--json"]].concat());
    let w = warnings(&v);
    assert!(
        w.iter().any(|w| w.contains("big.json")
            && w.contains("not unit-norm")
            && w.contains("tone 0 (49 Hz)")),
        "{w:?}"
    );
    assert!(
        err.contains("warning: observation") && err.contains("not unit-norm"),
        "{err}"
    );
    assert!(v["feature_check"]["rtf_norm_deviation"].as_f64().unwrap() > 998.0);
    assert_eq!(v["outside_prior"], serde_json::json!([200, 200]));
    assert_eq!(v["outside_prior_fraction"], serde_json::json!([1.0, 1.0]));
    assert_eq!(v["prior_support"][0]["source"], "template");
    assert_eq!(v["prior_support"][0]["min"], 200.5);
    assert_eq!(v["prior_support"][0]["max"], 236.5);
    for name in ["water_depth_m", "water_sound_speed_mps"] {
        assert!(
            err.contains(&format!(
                "warning: {name}: 200 of 200 posterior draws (100.0 %) lie outside the prior's support"
            )),
            "{err}"
        );
    }
    // Flag, not clip: the draws are still there, all of them.
    assert_eq!(v["samples"].as_array().unwrap().len(), 200);
    // The text output says it too.
    let out = vina(&args);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "warning: draws outside the prior's support (kept): water_depth_m 200 of 200 (100.0 %)"
        ),
        "{text}"
    );
}

#[test]
fn zero_pressure_into_the_paper_inn_is_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let zero = serde_json::json!({ "pressure": vec![vec![[0.0, 0.0]; 5]; 7] });
    let obs = write(dir.path(), "zero.json", &zero.to_string());
    let (v, err) = ok_json(&[
        "invert",
        "--model",
        &repo("models/gi-pekeris-inn.vina"),
        "--observation",
        &obs,
        "--draws",
        "200",
        "--json",
    ]);
    let w = warnings(&v);
    assert!(
        w.iter()
            .any(|w| w.contains("zero.json") && w.contains("zero pressure at every receiver")),
        "{w:?}"
    );
    assert!(err.contains("no signal"), "{err}");
    // −∞ dB for every tone (null in JSON).
    assert_eq!(
        v["feature_check"]["tone_power_db"],
        serde_json::json!([null, null, null, null, null, null, null])
    );
}

#[test]
fn observations_of_the_scenario_get_no_feature_warning() {
    let dir = tempfile::tempdir().unwrap();
    for (model, scenario) in [
        ("gi-pekeris-cinn", "gi-pekeris"),
        ("gi-pekeris-inn", "gi-pekeris-raw"),
    ] {
        for (k, truth) in [
            "water_depth_m=203.0,water_sound_speed_mps=1540.0",
            "water_depth_m=218.2,water_sound_speed_mps=1561.3",
            "water_depth_m=233.0,water_sound_speed_mps=1585.0",
        ]
        .into_iter()
        .enumerate()
        {
            let obs = observe(dir.path(), scenario, truth, 3 + k as u64);
            let (v, _) = ok_json(&[
                "invert",
                "--model",
                &repo(&format!("models/{model}.vina")),
                "--observation",
                &obs,
                "--draws",
                "200",
                "--json",
            ]);
            let w = warnings(&v);
            assert!(
                !w.iter().any(|w| w.starts_with("observation")),
                "{model} at {truth}: {w:?}"
            );
            let f = &v["feature_check"];
            if model == "gi-pekeris-cinn" {
                // Folded normalization: no training range to compare with; RTF norms ≈ 1.
                assert!(f["max_abs_standardized"].is_null(), "{f}");
                assert!(f["rtf_norm_deviation"].as_f64().unwrap() < 1e-5, "{f}");
            } else {
                assert!(f["max_abs_standardized"].as_f64().unwrap() < 6.0, "{f}");
                for db in f["tone_power_db"].as_array().unwrap() {
                    assert!(db.as_f64().unwrap().abs() < 20.0, "{f}");
                }
            }
        }
    }
}

#[test]
fn extreme_normalization_draws_are_counted_outside_the_prior() {
    let dir = tempfile::tempdir().unwrap();
    let obs = observe(
        dir.path(),
        "gi-pekeris",
        "water_depth_m=215.3,water_sound_speed_mps=1550.2",
        4,
    );
    // Checksum-valid, but its normalization puts depths near −4,800 m.
    for (template, source, min) in [(true, "template", 200.5), (false, "parameter_table", 0.0)] {
        let spec = random_cinn([-4800.0, 1562.0], [10.4, 17.3], template);
        let m = write_model(dir.path(), &format!("extreme-{template}.vina"), &spec);
        let (v, err) = ok_json(&[
            "invert",
            "--model",
            &m,
            "--observation",
            &obs,
            "--draws",
            "300",
            "--json",
        ]);
        assert_eq!(v["outside_prior"][0], 300, "{template}");
        assert_eq!(v["prior_support"][0]["source"], source);
        assert_eq!(v["prior_support"][0]["min"], min);
        assert!(
            err.contains("warning: water_depth_m: 300 of 300 posterior draws (100.0 %)"),
            "{err}"
        );
        assert!(warnings(&v).iter().any(|w| w.starts_with("water_depth_m:")));
    }
}

#[test]
fn nan_in_a_summary_is_an_error_naming_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let obs = observe(
        dir.path(),
        "gi-pekeris",
        "water_depth_m=215.3,water_sound_speed_mps=1550.2",
        4,
    );
    // Checksum-valid weights whose products overflow: ∞ − ∞ = NaN in every draw.
    let mut spec = random_cinn([218.5, 1562.0], [10.4, 17.3], false);
    spec.cond_net[0].bias.iter_mut().for_each(|b| *b = 3.0e38);
    let m = write_model(dir.path(), "overflow.vina", &spec);
    for json in [true, false] {
        let mut args = vec!["invert", "--model", &m, "--observation", &obs];
        if json {
            args.push("--json");
        }
        fails(
            1,
            &args,
            &["parameter water_depth_m", "not finite", "overflow.vina"],
        );
    }
}

#[test]
fn fewer_than_two_draws_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = repo("models/gi-pekeris-cinn.vina");
    let obs = observe(
        dir.path(),
        "gi-pekeris",
        "water_depth_m=215.3,water_sound_speed_mps=1550.2",
        4,
    );
    for n in ["0", "1"] {
        fails(
            2,
            &[
                "invert",
                "--model",
                &model,
                "--observation",
                &obs,
                "--draws",
                n,
            ],
            &[&format!("--draws {n}"), "at least 2"],
        );
    }
    let z = write(dir.path(), "one.json", "[[0.1, 0.2]]");
    fails(
        2,
        &[
            "invert",
            "--model",
            &model,
            "--observation",
            &obs,
            "--latent",
            &z,
        ],
        &["one.json", "at least 2"],
    );
}

/// A random model, its unlinked ONNX graph (as `onnx::encode` wrote before the link), and
/// an observation.
fn tract_setup(dir: &Path) -> (String, ModelSpec, String) {
    let spec = random_cinn([218.5, 1562.0], [10.4, 17.3], false);
    let m = write_model(dir, "m.vina", &spec);
    let obs = observe(
        dir,
        "gi-pekeris",
        "water_depth_m=215.3,water_sound_speed_mps=1550.2",
        4,
    );
    (m, spec, obs)
}

#[test]
fn onnx_graphs_that_do_not_fit_are_refused_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (m, spec, obs) = tract_setup(dir.path());
    let tract = |onnx: &str| {
        vec![
            "invert".to_owned(),
            "--model".into(),
            m.clone(),
            "--observation".into(),
            obs.clone(),
            "--engine".into(),
            "tract".into(),
            "--onnx".into(),
            onnx.into(),
        ]
    };
    let graph = onnx::graph(&spec);
    let save = |name: &str, g: &tract_onnx::pb::ModelProto| {
        let p = dir.path().join(name);
        std::fs::write(&p, g.encode_to_vec()).unwrap();
        p.to_str().unwrap().to_owned()
    };
    // The output renamed: tract-onnx used to panic ("no entry found for key").
    let mut renamed = graph.clone();
    renamed.graph.as_mut().unwrap().output[0].name = "x_renamed".into();
    let p = save("renamed.onnx", &renamed);
    let args = tract(&p);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails(2, &args, &["renamed.onnx", "x_renamed"]);

    // The output named `x`, but no node computes it any more.
    let mut dangling = graph.clone();
    let g = dangling.graph.as_mut().unwrap();
    let last = g.node.last_mut().unwrap();
    last.output[0] = "x_internal".into();
    let p = save("dangling.onnx", &dangling);
    let args = tract(&p);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails(2, &args, &["dangling.onnx", "computed by no node"]);

    // A latent of the wrong width.
    let mut wide = graph.clone();
    let g = wide.graph.as_mut().unwrap();
    if let Some(tract_onnx::pb::type_proto::Value::TensorType(t)) =
        g.input[1].r#type.as_mut().unwrap().value.as_mut()
    {
        t.shape.as_mut().unwrap().dim[1].value =
            Some(tract_onnx::pb::tensor_shape_proto::dimension::Value::DimValue(5));
    }
    let p = save("wide.onnx", &wide);
    let args = tract(&p);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails(2, &args, &["wide.onnx", "\"z\"", "[N, 2]"]);

    // Not an ONNX file at all.
    let p = write(dir.path(), "text.onnx", "not protobuf");
    let args = tract(&p);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    fails(2, &args, &["text.onnx"]);
}

#[test]
fn a_tract_panic_becomes_a_refusal_naming_the_file() {
    let e = vina_host::invert::guard_tract::<()>(Path::new("g.onnx"), || {
        panic!("no entry found for key")
    })
    .expect_err("a refusal");
    assert!(vina_host::error::is_refusal(&e));
    let msg = format!("{e:#}");
    assert!(
        msg.contains("g.onnx") && msg.contains("no entry found for key"),
        "{msg}"
    );
    let e = vina_host::invert::guard_tract::<()>(Path::new("h.onnx"), || {
        Err(anyhow::anyhow!("bad op"))
    })
    .expect_err("a refusal");
    assert!(vina_host::error::is_refusal(&e) && format!("{e:#}").contains("h.onnx"));

    // tract itself on a graph whose output was renamed, without the interface check.
    let spec = random_cinn([218.5, 1562.0], [10.4, 17.3], false);
    let mut renamed = onnx::graph(&spec);
    renamed.graph.as_mut().unwrap().output[0].name = "x_renamed".into();
    let e = vina_host::invert::guard_tract(Path::new("renamed.onnx"), || {
        use tract_onnx::prelude::Framework;
        tract_onnx::onnx().model_for_proto_model(&renamed)
    })
    .expect_err("a refusal");
    assert!(vina_host::error::is_refusal(&e));
    println!("tract on the renamed graph: {e:#}");
}

#[test]
fn exported_onnx_is_linked_to_its_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let (m, _, obs) = tract_setup(dir.path());
    let p = |name: &str| -> PathBuf { dir.path().join(name) };
    let s = |p: &PathBuf| p.to_str().unwrap().to_owned();
    let (e32, o32, e8, o8) = (
        s(&p("e.vina")),
        s(&p("e.onnx")),
        s(&p("e8.vina")),
        s(&p("e8.onnx")),
    );
    for (out, quantize, onnx) in [(&e32, "f32", &o32), (&e8, "int8", &o8)] {
        let r = vina(&[
            "export",
            "--model",
            &m,
            "--out",
            out,
            "--quantize",
            quantize,
            "--onnx",
            onnx,
        ]);
        assert!(r.status.success(), "{}", stderr(&r));
    }
    // The graph records the .vina file's CRC-32 (the one its preamble stores) and precision.
    let vina_bytes = std::fs::read(&e32).unwrap();
    let crc = u32::from_le_bytes(vina_bytes[10..14].try_into().unwrap());
    let g = tract_onnx::pb::ModelProto::decode(std::fs::read(&o32).unwrap().as_slice()).unwrap();
    assert_eq!(
        onnx::metadata(&g, onnx::MODEL_CRC32_KEY),
        Some(format!("{crc:#010x}").as_str())
    );
    assert_eq!(onnx::metadata(&g, onnx::MODEL_PRECISION_KEY), Some("f32"));
    let g8 = tract_onnx::pb::ModelProto::decode(std::fs::read(&o8).unwrap().as_slice()).unwrap();
    assert_eq!(onnx::metadata(&g8, onnx::MODEL_PRECISION_KEY), Some("int8"));

    let invert = |model: &str, onnx: Option<&str>| {
        let mut a = vec![
            "invert",
            "--model",
            model,
            "--observation",
            &obs,
            "--engine",
            "tract",
            "--draws",
            "50",
            "--json",
        ];
        if let Some(o) = onnx {
            a.extend(["--onnx", o]);
        }
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| vina(&a.iter().map(String::as_str).collect::<Vec<_>>());
    // Its own graph (the default path): no ONNX warning.
    let own = run(invert(&e32, None));
    assert!(own.status.success(), "{}", stderr(&own));
    assert!(!stderr(&own).contains("ONNX"), "{}", stderr(&own));
    // The f32 graph with the int8 model: refused, naming both files.
    let a = invert(&e8, Some(&o32));
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    fails(2, &a, &["e.onnx", "e8.vina", "CRC-32"]);
    // The int8 export's own graph: runs, and says its weights are the f32 ones.
    let own8 = run(invert(&e8, None));
    assert!(own8.status.success(), "{}", stderr(&own8));
    assert!(stderr(&own8).contains("f32 weights"), "{}", stderr(&own8));
    // A graph written without the link (older exports): a warning, not a refusal.
    let unlinked = write_unlinked(dir.path(), &e32);
    let old = run(invert(&e32, Some(&unlinked)));
    assert!(old.status.success(), "{}", stderr(&old));
    let v: Value = serde_json::from_slice(&old.stdout).unwrap();
    assert!(
        warnings(&v)
            .iter()
            .any(|w| w.contains("old.onnx") && w.contains("records no model CRC-32")),
        "{v}"
    );
}

/// The graph of the model file at `model`, without metadata (as exports wrote before).
fn write_unlinked(dir: &Path, model: &str) -> String {
    let bytes = std::fs::read(model).unwrap();
    let spec = ModelSpec::from_model(&vina_core::model::Model::from_bytes(&bytes).unwrap());
    let p = dir.join("old.onnx");
    std::fs::write(&p, onnx::encode(&spec)).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn committed_onnx_graphs_run_with_the_unlinked_warning() {
    let dir = tempfile::tempdir().unwrap();
    let obs = observe(
        dir.path(),
        "gi-pekeris",
        "water_depth_m=218.2,water_sound_speed_mps=1561.3",
        5,
    );
    let (v, err) = ok_json(&[
        "invert",
        "--model",
        &repo("models/gi-pekeris-cinn.vina"),
        "--observation",
        &obs,
        "--engine",
        "tract",
        "--draws",
        "100",
        "--json",
    ]);
    assert!(err.contains("records no model CRC-32"), "{err}");
    assert_eq!(v["outside_prior"], serde_json::json!([0, 0]));
}

/// The buoy's count (`vina_core::sampling::summarize`, carried in each report frame) and
/// `vina invert`'s agree draw for draw on a model whose draws partly spill past the prior,
/// and `vina listen` warns about it as `vina invert` does.
#[test]
fn the_buoy_counts_draws_outside_the_prior_as_invert_does() {
    use vina_core::model::Model;
    use vina_core::report::{Report, Status};
    use vina_core::summary::Summary;
    use vina_host::observation_file::{FeatureLayout, ObservationFile};

    let dir = tempfile::tempdir().unwrap();
    let obs = observe(
        dir.path(),
        "gi-pekeris",
        "water_depth_m=215.3,water_sound_speed_mps=1550.2",
        7,
    );
    // Depths centred on the prior's upper bound (236.5 m): about half spill past it.
    let spec = random_cinn([236.5, 1562.0], [10.4, 17.3], true);
    let m = write_model(dir.path(), "edge.vina", &spec);
    let (v, _) = ok_json(&[
        "invert",
        "--model",
        &m,
        "--observation",
        &obs,
        "--draws",
        "400",
        "--seed",
        "11",
        "--json",
    ]);
    let invert_counts: Vec<u64> = serde_json::from_value(v["outside_prior"].clone()).unwrap();
    assert!(
        (40..360).contains(&invert_counts[0]),
        "a partial spill is what this test needs: {invert_counts:?}"
    );

    let bytes = std::fs::read(&m).unwrap();
    let model = Model::from_bytes(&bytes).unwrap();
    let y = ObservationFile::read(Path::new(&obs))
        .unwrap()
        .features(&FeatureLayout::of(model.header()), "obs")
        .unwrap();
    let cond = vina_core::sampling::Conditioned::new(&model, &y).unwrap();
    let mut summaries = [Summary::new(); 2];
    vina_core::sampling::summarize(
        &model,
        cond.context(),
        &mut vina_core::layers::Scratch::new(),
        11,
        400,
        &mut summaries,
    )
    .unwrap();
    let buoy_counts: Vec<u64> = summaries
        .iter()
        .map(|s| u64::from(s.values().outside_support))
        .collect();
    assert_eq!(buoy_counts, invert_counts);

    // Through a report frame and `vina listen`.
    let report = Report {
        sequence: 3,
        scenario_hash: model.header().scenario_hash,
        samples: 400,
        seed: 11,
        clipped_samples: 0,
        non_finite_values: 0,
        dropped_frames: 0,
        blanked_samples: 0,
        status: Status::Posterior,
        parameters: summaries.iter().map(Summary::values).collect(),
        refined: None,
    };
    let mut buf = [0u8; vina_core::report::MAX_FRAME];
    let n = report.encode(&mut buf).unwrap();
    let frames = dir.path().join("frames.bin");
    std::fs::write(&frames, &buf[..n]).unwrap();
    let out = vina(&[
        "listen",
        "--file",
        frames.to_str().unwrap(),
        "--names",
        "water_depth_m,water_sound_speed_mps",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        line["parameters"][0]["outside_support"].as_u64(),
        Some(invert_counts[0])
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "warning: report 3: water_depth_m: {} of 400 posterior draws lie outside the prior's support",
            invert_counts[0]
        )),
        "{err}"
    );
}

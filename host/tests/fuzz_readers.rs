//! Nothing silent, text readers: seeded mutation fuzzing of every reader of a text file a
//! user writes — scenario TOML, Acoustics Toolbox `.env` and `.flp`, observation JSON, the
//! training config — plus `vina listen`'s byte-stream splitter. Each target starts from the
//! committed files, applies random edits (characters, tokens, lines; numbers replaced by
//! 0, -1, 1e308, NaN, inf, huge integers, empty strings) or writes random text, and runs a
//! fixed number of cases from a fixed seed (bounded time in CI; a failure names the
//! target, the case, its seed and the input).
//!
//! Property: the reader returns a value or a refusal (`vina_host::error::is_refusal`: exit
//! code 2, never 1, never a panic), and what it accepts keeps its own promises (a scenario
//! compiles to a template or is refused, its priors draw finite values; a `.env` has the
//! ascending, in-water depths its documentation states; an observation's features are
//! finite and of the model's length; a training config validates and survives a TOML
//! round trip).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use num_complex::Complex64;
use vina_core::features::FeatureKind;
use vina_core::model::Model;
use vina_core::report::{self, Report, Status};
use vina_core::rng::Rng;
use vina_host::error::is_refusal;
use vina_host::kraken_env::{EnvFile, FlpFile, parse_env, parse_flp};
use vina_host::observation_file::{FeatureLayout, ObservationFile};
use vina_host::scenario::Scenario;
use vina_host::train::TrainConfig;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every committed file of a kind (the seeds of the mutations).
fn committed(dir: &str, ext: &str) -> Vec<String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(repo(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no {dir}/*.{ext}");
    paths
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// Run `cases` cases, each from its own seeded generator; a panic fails the test naming
/// the target, the case, the seed and (through `input`) the text that caused it.
fn fuzz(target: &str, seed: u64, cases: u64, mut case: impl FnMut(&mut Rng, &mut String)) -> u64 {
    let start = std::time::Instant::now();
    for i in 0..cases {
        let mut rng = Rng::for_index(seed, i);
        let mut input = String::new();
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| case(&mut rng, &mut input))) {
            let msg = p
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            panic!(
                "{target}: case {i} (Rng::for_index({seed}, {i})) panicked: {msg}\n\
                 ---- input ----\n{input}\n---- end of input ----"
            );
        }
    }
    eprintln!("{target}: {cases} cases in {:.2?}", start.elapsed());
    cases
}

fn below(rng: &mut Rng, n: usize) -> usize {
    if n == 0 {
        0
    } else {
        (rng.next_u64() % n as u64) as usize
    }
}

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[below(rng, items.len())]
}

/// Numbers (and not-numbers) that break naive readers, spelled as TOML, JSON and Fortran
/// list input would spell them.
const EXTREMES: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "1e308",
    "-1e308",
    "1e-320",
    "1e400",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "1D308",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "4294967296",
    "65536",
    "1000000000",
    "-9223372036854775808",
    "0.0",
    "1.5",
    "",
    "\"\"",
    "''",
    "[]",
    "{}",
    "true",
    "0x10",
    "/",
    ",",
];

/// Characters worth inserting into structured text.
const PUNCT: &[&str] = &[
    "\"", "'", "[", "]", "{", "}", "=", ",", ".", "\n", "/", "!", "#", "-", "+", "e", "E", "0",
    "9", " ", "\t", ":", "\\", "é", "\u{0}", "\u{feff}",
];

/// Byte ranges of the numbers in `text` (runs of digits, signs, dots and exponents that
/// hold a digit).
fn numbers(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    let is_num = |c: char| c.is_ascii_digit() || "+-.eEdD".contains(c);
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (start, is_num(c)) {
            (None, true) => start = Some(i),
            (Some(s), false) => {
                if text[s..i].chars().any(|c| c.is_ascii_digit()) {
                    out.push((s, i));
                }
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// A random char boundary of `text` (0..=len).
fn boundary(text: &str, rng: &mut Rng) -> usize {
    let mut at = below(rng, text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// One to `max` random edits of `text`; `lines` are whole lines worth inserting (keys of
/// the format, so that mutations get past the first "unknown field").
fn mutate(text: &mut String, rng: &mut Rng, max: usize, lines: &[&str]) {
    for _ in 0..1 + below(rng, max) {
        match below(rng, 10) {
            // a number replaced by an extreme value (the most common edit)
            0..=2 => {
                let nums = numbers(text);
                if !nums.is_empty() {
                    let (s, e) = nums[below(rng, nums.len())];
                    text.replace_range(s..e, pick(rng, EXTREMES));
                }
            }
            3 => {
                let at = boundary(text, rng);
                text.insert_str(at, pick(rng, PUNCT));
            }
            4 => {
                let at = boundary(text, rng);
                if let Some(c) = text[at..].chars().next() {
                    text.replace_range(at..at + c.len_utf8(), "");
                }
            }
            5 => {
                let at = boundary(text, rng);
                if let Some(c) = text[at..].chars().next() {
                    text.replace_range(at..at + c.len_utf8(), pick(rng, PUNCT));
                }
            }
            // line edits: swap, delete, duplicate, insert a key line
            6 | 7 => {
                let mut ls: Vec<String> = text.lines().map(str::to_owned).collect();
                if ls.is_empty() {
                    continue;
                }
                let (a, b) = (below(rng, ls.len()), below(rng, ls.len()));
                match below(rng, 4) {
                    0 => ls.swap(a, b),
                    1 => {
                        ls.remove(a);
                    }
                    2 => {
                        let l = ls[a].clone();
                        ls.insert(b, l);
                    }
                    _ if !lines.is_empty() => ls.insert(b, pick(rng, lines).to_owned()),
                    _ => {}
                }
                *text = ls.join("\n");
            }
            // a token (word between blanks) replaced by an extreme value or deleted
            8 => {
                let words: Vec<(usize, usize)> = text
                    .split_inclusive(char::is_whitespace)
                    .scan(0, |pos, w| {
                        let s = *pos;
                        *pos += w.len();
                        Some((s, s + w.trim_end().len()))
                    })
                    .filter(|(s, e)| e > s)
                    .collect();
                if !words.is_empty() {
                    let (s, e) = words[below(rng, words.len())];
                    text.replace_range(s..e, pick(rng, EXTREMES));
                }
            }
            _ => {
                if below(rng, 3) == 0 {
                    let at = boundary(text, rng);
                    text.truncate(at);
                }
            }
        }
    }
}

/// Random text: printable ASCII with the format's punctuation, some non-ASCII.
fn random_text(rng: &mut Rng, max_len: usize) -> String {
    let len = below(rng, max_len);
    (0..len)
        .map(|_| match below(rng, 10) {
            0..=5 => char::from(b' ' + below(rng, 95) as u8).to_string(),
            6 | 7 => pick(rng, PUNCT).to_owned(),
            8 => pick(rng, EXTREMES).to_owned(),
            _ => char::from_u32(below(rng, 0x3000) as u32)
                .unwrap_or('?')
                .to_string(),
        })
        .collect()
}

/// A seed file mutated, or (one case in `random_every`) random text.
fn input(rng: &mut Rng, seeds: &[String], lines: &[&str], random_every: usize) -> String {
    if below(rng, random_every) == 0 {
        return random_text(rng, 400);
    }
    let mut text = seeds[below(rng, seeds.len())].clone();
    mutate(&mut text, rng, 4, lines);
    text
}

#[track_caller]
fn refusal(e: &anyhow::Error, text: &str) {
    assert!(
        is_refusal(e),
        "not a refusal (exit 1, not 2): {e:#}\n{text}"
    );
}

// ---- scenario TOML ----------------------------------------------------------------------

const SCENARIO_LINES: &[&str] = &[
    "[observation]",
    "[parameters]",
    "tones_hz = []",
    "tones_hz = [1e308]",
    "tones_hz = [0.0, -1.0, nan]",
    "receiver_depths_m = [1e308, inf]",
    "receiver_depths_m = [30.0, 30.0]",
    "snr_db = nan",
    "snr_db = 1e308",
    "features = \"raw_pressure\"",
    "features = 7",
    "model = \"layered\"",
    "model = \"pekeris\"",
    "water_depth_m = { prior = \"normal\", mean = 218.0, std = 0.0, min = 200.0, max = 236.0 }",
    "water_depth_m = { prior = \"normal\", mean = 1e308, std = 1e308, min = -1e308, max = 1e308 }",
    "water_depth_m = { prior = \"uniform\", min = 236.0, max = 200.0 }",
    "water_depth_m = { prior = \"uniform\", min = -inf, max = inf }",
    "water_depth_m = { prior = \"uniform\" }",
    "water_depth_m = { prior = \"cauchy\", min = 1.0, max = 2.0 }",
    "water_depth_m = 0.0",
    "water_depth_m = \"218\"",
    "source_depth_m = 1e308",
    "source_range_m = 0",
    "sediment_thickness_m = { prior = \"uniform\", min = 0.0, max = 1e-300 }",
    "sediment_sound_speed_mps = 1600.0",
    "bottom_density_gcc = -1",
    "name = \"\"",
    "name = 1",
    "description = [1]",
];

/// Whether the scenario parsed.
fn check_scenario(text: &str, rng: &mut Rng) -> bool {
    let s = match Scenario::parse(text, "fuzz.toml") {
        Ok(s) => s,
        Err(e) => {
            refusal(&e, text);
            return false;
        }
    };
    let _ = s.hash();
    let unknowns = s.unknowns();
    assert_eq!(unknowns.len(), s.priors().len());
    if let Err(e) = s.template() {
        refusal(&e, text);
    }
    let theta = s.draw(rng);
    assert!(
        theta.iter().all(|v| v.is_finite()),
        "a prior drew a non-finite value: {theta:?}\n{text}"
    );
    if let Err(e) = s.environment(&theta) {
        refusal(&e, text);
    }
    let truth: Vec<String> = unknowns
        .iter()
        .zip(&theta)
        .map(|(n, v)| format!("{n}={v}"))
        .collect();
    match s.parse_truth(&truth.join(",")) {
        Ok(t) => assert_eq!(t, theta),
        Err(e) => refusal(&e, text),
    }
    if let Err(e) = s.parse_truth(&random_text(rng, 40)) {
        refusal(&e, text);
    }
    true
}

#[test]
fn scenario_toml_never_panics() {
    let mut seeds = committed("scenarios", "toml");
    seeds.push(read("host/tests/fixtures/fixed-gi.toml"));
    for s in &seeds {
        check_scenario(s, &mut Rng::new(0));
        Scenario::parse(s, "committed").unwrap();
    }
    let mut accepted = 0;
    fuzz("scenario TOML", 101, 20_000, |rng, text| {
        *text = input(rng, &seeds, SCENARIO_LINES, 8);
        accepted += usize::from(check_scenario(text, rng));
    });
    eprintln!("scenario TOML: {accepted} of 20000 mutated scenarios accepted");
}

// ---- Acoustics Toolbox .env and .flp -------------------------------------------------------

fn ascending(v: &[f64]) -> bool {
    v.windows(2).all(|w| w[0] <= w[1])
}

fn check_env(e: &EnvFile, text: &str) {
    let numbers = [
        e.frequency_hz,
        e.water_depth,
        e.c_low,
        e.c_high,
        e.r_max_km,
        e.water.speed,
        e.water.density,
        e.water.attenuation_db_per_wavelength,
        e.half_space.speed,
        e.half_space.density,
        e.half_space.attenuation_db_per_wavelength,
    ];
    let layers = e.sediment.iter().flat_map(|l| {
        [
            l.thickness,
            l.medium.speed,
            l.medium.density,
            l.medium.attenuation_db_per_wavelength,
        ]
    });
    let depths = e.source_depths.iter().chain(&e.receiver_depths);
    assert!(
        numbers
            .into_iter()
            .chain(layers)
            .chain(depths.copied())
            .all(f64::is_finite),
        "a non-finite value was accepted: {e:?}\n{text}"
    );
    assert!(e.frequency_hz > 0.0, "{e:?}\n{text}");
    assert!(
        ascending(&e.source_depths) && ascending(&e.receiver_depths),
        "depths not ascending: {e:?}\n{text}"
    );
}

fn check_flp(f: &FlpFile, text: &str) {
    let all = f
        .ranges_m
        .iter()
        .chain(&f.source_depths)
        .chain(&f.receiver_depths);
    assert!(all.copied().all(f64::is_finite), "{f:?}\n{text}");
    assert!(
        f.ranges_m.iter().all(|&r| r > 0.0) && ascending(&f.ranges_m),
        "ranges not ascending and positive: {f:?}\n{text}"
    );
    assert!(
        ascending(&f.source_depths) && ascending(&f.receiver_depths),
        "{f:?}\n{text}"
    );
}

const ENV_LINES: &[&str] = &[
    "'CVW'",
    "'NVF'",
    "'A' 0.0",
    "'V' 0.0",
    "0 0.0 1e308",
    "4000 0.0 218.5",
    "1000000000 0.0 218.5",
    "  0.0  1562.0  0.0  1.0  0.0 /",
    "  218.5  1562.0 /",
    "  218.5 1700.0 0.0 1.5 0.5 /",
    "1400.0 1700.0",
    "0 0",
    "1",
    "0",
    "1000000000",
    "60.0 /",
    "30.0 190.0 /",
    "/",
    "'RA'",
    "9999",
    "0.0 /",
    "1.0 5.0 /",
    "0.0 0.0 0.0 0.0 0.0 /",
];

fn env_seeds() -> (Vec<String>, Vec<String>) {
    let mut env = committed("host/tests/fixtures", "env");
    let flp = committed("host/tests/fixtures", "flp");
    env.sort();
    (env, flp)
}

#[test]
fn kraken_env_and_flp_never_panic() {
    let (envs, flps) = env_seeds();
    for t in &envs {
        check_env(&parse_env(t).unwrap(), t);
    }
    for t in &flps {
        check_flp(&parse_flp(t).unwrap(), t);
    }
    let (mut env_ok, mut flp_ok) = (0, 0);
    fuzz(".env", 201, 20_000, |rng, text| {
        *text = input(rng, &envs, ENV_LINES, 8);
        if let Ok(e) = parse_env(text) {
            check_env(&e, text);
            env_ok += 1;
        }
    });
    fuzz(".flp", 202, 20_000, |rng, text| {
        *text = input(rng, &flps, ENV_LINES, 8);
        if let Ok(f) = parse_flp(text) {
            check_flp(&f, text);
            flp_ok += 1;
        }
    });
    eprintln!(".env: {env_ok} of 20000 accepted; .flp: {flp_ok} of 20000 accepted");
}

/// Found by the fuzz target above: a receiver range of 1e308 km became `inf` metres.
#[test]
fn a_range_that_overflows_in_metres_is_refused() {
    let (_, flps) = env_seeds();
    let flp = flps
        .iter()
        .find(|t| t.contains("1.0  5.0 /"))
        .expect("gi_3ranges.flp");
    let bad = flp.replacen("1.0  5.0 /", "1.0  1e308 /", 1);
    let err = parse_flp(&bad).unwrap_err();
    assert!(err.message.contains("receiver range"), "{err}");
}

/// The files together, as `vina forward` loads them (without solving): a case or a
/// refusal naming the file.
#[test]
fn forward_case_from_mutated_files_never_panics() {
    let (envs, flps) = env_seeds();
    let dir = tempfile::tempdir().unwrap();
    let (env_path, flp_path) = (dir.path().join("f.env"), dir.path().join("f.flp"));
    fuzz("vina forward input", 203, 400, |rng, text| {
        let mut env = envs[below(rng, envs.len())].clone();
        let mut flp = flps[below(rng, flps.len())].clone();
        match below(rng, 3) {
            0 => mutate(&mut env, rng, 3, ENV_LINES),
            1 => mutate(&mut flp, rng, 3, ENV_LINES),
            _ => {}
        }
        *text = format!("{env}\n---- .flp ----\n{flp}");
        std::fs::write(&env_path, &env).unwrap();
        std::fs::write(&flp_path, &flp).unwrap();
        match vina_host::forward::load_case(&env_path, Some(&flp_path)) {
            Ok(case) => {
                assert!(case.env.water_depth.is_finite() && case.env.water_depth > 0.0);
                assert!(!case.frequencies_hz.is_empty() && !case.ranges_m.is_empty());
            }
            Err(e) => refusal(&e, text),
        }
    });
}

// ---- observation JSON -------------------------------------------------------------------

/// The committed on-device model's layout, and a raw-pressure layout of the same shape.
fn layouts() -> [FeatureLayout; 2] {
    let bytes = std::fs::read(repo("models/gi-pekeris-cinn.vina")).unwrap();
    let model = Model::from_bytes(&bytes).unwrap();
    let rtf = FeatureLayout::of(model.header());
    assert_eq!(rtf.kind, FeatureKind::RelativeTransferFunction);
    [
        rtf,
        FeatureLayout {
            kind: FeatureKind::RawPressure,
            ..rtf
        },
    ]
}

fn observation_seeds(layout: &FeatureLayout, rng: &mut Rng) -> Vec<String> {
    let n = layout.tones * layout.receivers;
    let p: Vec<Complex64> = (0..n)
        .map(|_| Complex64::new(rng.normal_f64() * 1e-3, rng.normal_f64() * 1e-3))
        .collect();
    let mut with_pressure = ObservationFile::from_pressure(&p, layout.receivers);
    with_pressure.scenario_hash = Some(layout.scenario_hash);
    with_pressure.truth = Some(vec![218.2, 1561.3]);
    let len = layout.kind.len(layout.tones, layout.receivers);
    let with_y = ObservationFile {
        y: Some((0..len).map(|_| rng.normal_f64()).collect()),
        ..ObservationFile::default()
    };
    [with_pressure, with_y]
        .iter()
        .flat_map(|o| {
            [
                serde_json::to_string_pretty(o).unwrap(),
                serde_json::to_string(o).unwrap(),
            ]
        })
        .collect()
}

const JSON_LINES: &[&str] = &[
    "\"scenario_hash\": \"0x\",",
    "\"scenario_hash\": \"0xffffffffffffffffff\",",
    "\"scenario_hash\": -1,",
    "\"scenario_hash\": 1e308,",
    "\"y\": [],",
    "\"y\": [1e308, -1e308],",
    "\"pressure\": [[]],",
    "\"pressure\": [[[0.0, 0.0]]],",
    "\"pressure\": [[[1e308, 1e308, 1e308]]],",
    "\"truth\": null,",
    "\"extra\": 1,",
];

fn check_observation(text: &str, layouts: &[FeatureLayout]) {
    let obs = match ObservationFile::parse(text, "fuzz.json") {
        Ok(o) => o,
        Err(e) => return refusal(&e, text),
    };
    for layout in layouts {
        match obs.features(layout, "fuzz.json") {
            Ok(y) => {
                assert_eq!(y.len(), layout.kind.len(layout.tones, layout.receivers));
                assert!(
                    y.iter().all(|v| v.is_finite()),
                    "non-finite features {y:?}\n{text}"
                );
            }
            Err(e) => refusal(&e, text),
        }
    }
}

#[test]
fn observation_json_never_panics() {
    let layouts = layouts();
    let mut rng = Rng::new(7);
    let seeds: Vec<String> = layouts
        .iter()
        .flat_map(|l| observation_seeds(l, &mut rng))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("obs.json");
    for (i, s) in seeds.iter().enumerate() {
        std::fs::write(&path, s).unwrap();
        let obs = ObservationFile::read(&path).unwrap();
        assert!(obs.features(&layouts[i / 4], "seed").is_ok(), "{s}");
    }
    // other scenarios and shapes: mostly refusals, never a panic
    let mut all = layouts.to_vec();
    all.push(FeatureLayout {
        tones: 1,
        receivers: 1,
        scenario_hash: 0,
        ..layouts[0]
    });
    fuzz("observation JSON", 301, 20_000, |rng, text| {
        *text = input(rng, &seeds, JSON_LINES, 8);
        check_observation(text, &all);
    });
    // the file path gives the same answer as the text (a few cases: writes are slow)
    fuzz("observation file", 302, 30, |rng, text| {
        *text = input(rng, &seeds, JSON_LINES, 8);
        std::fs::write(&path, text.as_bytes()).unwrap();
        let (file, parsed) = (
            ObservationFile::read(&path),
            ObservationFile::parse(text, "x"),
        );
        assert_eq!(file.ok(), parsed.ok(), "{text}");
    });
    std::fs::write(&path, b"{\"y\": [\xff]}").unwrap();
    refusal(&ObservationFile::read(&path).unwrap_err(), "(not UTF-8)");
}

/// Found by the fuzz target above: `y` of 1e308 is a finite f64 and an infinite f32 (the
/// model's input) — refused, naming the index.
#[test]
fn features_beyond_f32_are_refused() {
    let [layout, _] = layouts();
    let len = layout.kind.len(layout.tones, layout.receivers);
    let mut y = vec![0.5; len];
    y[3] = 1e308;
    let obs = ObservationFile {
        y: Some(y),
        ..ObservationFile::default()
    };
    let err = obs.features(&layout, "obs.json").unwrap_err();
    refusal(&err, "y[3] = 1e308");
    assert!(err.to_string().contains("y[3]"), "{err}");
}

// ---- training config --------------------------------------------------------------------

const CONFIG_LINES: &[&str] = &[
    "[model]",
    "[loss]",
    "[optim]",
    "epochs = 0",
    "epochs = 18446744073709551615",
    "batch_size = 1",
    "batch_size = 1000000000000",
    "val_fraction = 1.0",
    "val_fraction = nan",
    "max_samples = -1",
    "device = \"tpu\"",
    "device = \"cuda\"",
    "kind = \"inn\"",
    "blocks = 0",
    "blocks = 100000",
    "hidden = []",
    "hidden = [0]",
    "hidden = [100000000]",
    "activation = \"identity\"",
    "activation = \"leaky_relu\"",
    "leaky_relu_slope = nan",
    "clamp = 0.0",
    "clamp = inf",
    "flow_dim = 100000",
    "cond_dim = 0",
    "cond_hidden = [1e308]",
    "noise_in_x = true",
    "ml = -1.0",
    "fgan = 1e308",
    "divergence = \"nope\"",
    "critic_hidden = []",
    "critic_betas = [1.0, 1.0]",
    "lr = 0",
    "lr = nan",
    "betas = [0.9]",
    "eps = 0",
    "weight_decay = -inf",
    "lr_decay = 2.0",
    "grad_clip = -1",
];

#[test]
fn training_config_never_panics() {
    let seeds = committed("configs", "toml");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    for s in &seeds {
        std::fs::write(&path, s).unwrap();
        TrainConfig::read(&path).unwrap();
    }
    let mut accepted = 0;
    fuzz("training config", 401, 20_000, |rng, text| {
        *text = input(rng, &seeds, CONFIG_LINES, 8);
        match TrainConfig::parse(text, "fuzz.toml") {
            Ok(c) => {
                accepted += 1;
                c.validate().unwrap();
                // what a run writes next to its checkpoints reads back as itself
                let again: TrainConfig = toml::from_str(&toml::to_string(&c).unwrap())
                    .unwrap_or_else(|e| panic!("round trip: {e}\n{text}"));
                assert_eq!(again, c, "{text}");
            }
            Err(e) => refusal(&e, text),
        }
    });
    eprintln!("training config: {accepted} of 20000 mutated configs accepted");
    // the file path gives the same answer as the text (a few cases: writes are slow)
    fuzz("training config file", 402, 30, |rng, text| {
        *text = input(rng, &seeds, CONFIG_LINES, 8);
        std::fs::write(&path, text.as_bytes()).unwrap();
        let (file, parsed) = (TrainConfig::read(&path), TrainConfig::parse(text, "x"));
        assert_eq!(file.ok(), parsed.ok(), "{text}");
    });
    // bytes that are not UTF-8 are a refused file too
    std::fs::write(&path, b"epochs = \xff\xfe 3\n").unwrap();
    refusal(&TrainConfig::read(&path).unwrap_err(), "(not UTF-8)");
}

// ---- vina listen's stream splitter ---------------------------------------------------

/// A byte stream of good frames, mutated: every good frame that survives is decoded, every
/// damaged one is counted, nothing panics.
#[test]
fn report_stream_never_panics() {
    fuzz("report stream", 501, 3000, |rng, text| {
        let mut stream = Vec::new();
        let frames = below(rng, 6);
        for i in 0..frames {
            let r = Report {
                sequence: i as u32,
                scenario_hash: rng.next_u64(),
                samples: 1000,
                seed: rng.next_u64(),
                clipped_samples: 0,
                non_finite_values: 0,
                dropped_frames: 0,
                blanked_samples: 0,
                status: Status::Posterior,
                parameters: heapless::Vec::new(),
                refined: None,
            };
            let mut buf = vec![0u8; report::MAX_FRAME];
            let n = r.encode(&mut buf).unwrap();
            stream.extend_from_slice(&buf[..n]);
        }
        let edits = below(rng, 4);
        for _ in 0..edits {
            let at = below(rng, stream.len() + 1);
            match below(rng, 3) {
                0 if at < stream.len() => stream[at] ^= 1 << below(rng, 8),
                1 => stream.insert(at, rng.next_u32() as u8),
                _ => stream.truncate(at),
            }
        }
        *text = format!("{stream:02x?}");
        let mut good = 0;
        let refused = vina_host::listen::decode_stream(&stream[..], |_| good += 1).unwrap();
        if edits == 0 {
            assert_eq!((good, refused), (frames, 0));
        }
        assert!(good + refused <= stream.iter().filter(|&&b| b == 0).count() + 1);
    });
}

//! The exact gi-pekeris posterior (the evaluation's reference, docs/architecture.md,
//! "Evaluation"): maximal at the truth for a noiseless observation, and, on a dense local
//! grid for a noisy one, as sharp and as correlated as the design quotes.

use num_complex::Complex64;
use vina_core::features::FeatureKind;
use vina_core::rng::Rng;
use vina_host::observation;
use vina_host::posterior::ScenarioPosterior;
use vina_host::scenario::Scenario;

/// A committed scenario, `scenarios/<name>.toml`.
fn scenario(name: &str) -> Scenario {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    Scenario::load(&root.join(format!("scenarios/{name}.toml"))).unwrap()
}

fn gi() -> Scenario {
    scenario("gi-pekeris")
}

const KINDS: [FeatureKind; 2] = [
    FeatureKind::RawPressure,
    FeatureKind::RelativeTransferFunction,
];

/// Noise variance per tone of a clean field, as `observation::add_noise` sets it.
fn noise_variances(p: &[Complex64], receivers: usize, snr_db: f64) -> Vec<f64> {
    p.chunks(receivers)
        .map(|t| {
            t.iter().map(|c| c.norm_sqr()).sum::<f64>()
                / receivers as f64
                / 10f64.powf(snr_db / 10.0)
        })
        .collect()
}

/// For a noiseless observation the relative-transfer-function likelihood is a function of
/// the normalized Bartlett powers only, so it peaks exactly at the truth. The raw-pressure
/// likelihood does not quite: its normalizer −R·ln σ_f²(θ) moves with θ (σ_f² follows the
/// modeled power), which shifts the noiseless maximum by a fraction of a posterior sd; its
/// noise average E ℓ(θ) = ℓ₀(θ) − Σ_f R·σ_f²(truth)/σ_f²(θ) (ℓ₀ the noiseless value) is
/// maximal at the truth (Gibbs' inequality), and the noiseless value still beats steps of
/// about half a posterior sd.
#[test]
fn noiseless_likelihood_is_maximal_at_the_truth() {
    let scn = gi();
    let r = scn.receiver_depths_m.len();
    let mut rng = Rng::new(3);
    let truths = [vec![220.0, 1560.0], scn.draw(&mut rng), scn.draw(&mut rng)];
    let pressure = |theta: &[f64]| {
        scn.environment(theta)
            .unwrap()
            .pressure(&scn.tones_hz, &scn.receiver_depths_m)
            .unwrap()
    };
    for truth in &truths {
        let p = pressure(truth);
        let var0 = noise_variances(&p, r, 20.0);
        for kind in KINDS {
            let post = ScenarioPosterior::from_pressure(&scn, &p, kind, 20.0).unwrap();
            let expected = |theta: &[f64]| {
                let l = post.log_likelihood(theta);
                match kind {
                    FeatureKind::RawPressure => {
                        let var = noise_variances(&pressure(theta), r, 20.0);
                        l - var0
                            .iter()
                            .zip(&var)
                            .map(|(a, b)| r as f64 * a / b)
                            .sum::<f64>()
                    }
                    FeatureKind::RelativeTransferFunction => l,
                }
            };
            let (at_truth, e_at_truth) = (post.log_likelihood(truth), expected(truth));
            assert!(at_truth.is_finite());
            let (mut drop_half_sd, mut drop_e) = (f64::INFINITY, f64::INFINITY);
            for scale in [1.0, 0.25] {
                for i in -1..=1 {
                    for j in -1..=1 {
                        if (i, j) == (0, 0) {
                            continue;
                        }
                        let theta = [
                            truth[0] + scale * 0.02 * f64::from(i),
                            truth[1] + scale * 0.01 * f64::from(j),
                        ];
                        let drop = e_at_truth - expected(&theta);
                        drop_e = drop_e.min(drop);
                        assert!(
                            drop > 0.0,
                            "{kind:?}, truth {truth:?}: {theta:?} is higher by {}",
                            -drop
                        );
                        if scale == 1.0 {
                            let drop = at_truth - post.log_likelihood(&theta);
                            drop_half_sd = drop_half_sd.min(drop);
                            assert!(
                                drop > 0.0,
                                "{kind:?}, truth {truth:?}: {theta:?} is higher by {}",
                                -drop
                            );
                        }
                    }
                }
            }
            println!(
                "{kind:?} truth {truth:.3?}: log L = {at_truth:.4}, smallest drop: noiseless at ~0.5 sd {drop_half_sd:.2e}, noise-averaged {drop_e:.2e}"
            );
        }
    }
}

/// Posterior mean, standard deviations and correlation on an n × n grid.
struct Moments {
    mean: [f64; 2],
    sd: [f64; 2],
    corr: f64,
    /// Largest log-density on the grid's borders across each axis (depth: first and last
    /// depth rows), relative to the grid's maximum.
    edge: [f64; 2],
}

fn grid_moments(post: &ScenarioPosterior, center: [f64; 2], half: [f64; 2], n: usize) -> Moments {
    let axis = |d: usize, i: usize| center[d] - half[d] + 2.0 * half[d] * i as f64 / (n - 1) as f64;
    let mut lp = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            lp[i * n + j] = post.log_posterior(&[axis(0, i), axis(1, j)]);
        }
    }
    let max = lp.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut edge = [f64::NEG_INFINITY; 2];
    let (mut w_sum, mut m) = (0.0, [0.0; 2]);
    let mut s = [0.0; 3];
    for i in 0..n {
        for j in 0..n {
            if i == 0 || i == n - 1 {
                edge[0] = edge[0].max(lp[i * n + j] - max);
            }
            if j == 0 || j == n - 1 {
                edge[1] = edge[1].max(lp[i * n + j] - max);
            }
            let w = (lp[i * n + j] - max).exp();
            let (x, y) = (axis(0, i), axis(1, j));
            w_sum += w;
            m[0] += w * x;
            m[1] += w * y;
            s[0] += w * x * x;
            s[1] += w * y * y;
            s[2] += w * x * y;
        }
    }
    let mean = [m[0] / w_sum, m[1] / w_sum];
    let var = [
        s[0] / w_sum - mean[0] * mean[0],
        s[1] / w_sum - mean[1] * mean[1],
    ];
    let cov = s[2] / w_sum - mean[0] * mean[1];
    let sd = [var[0].sqrt(), var[1].sqrt()];
    Moments {
        mean,
        sd,
        corr: cov / (sd[0] * sd[1]),
        edge,
    }
}

/// A grid that adapts to the posterior: each axis widened while its border holds mass,
/// then refitted to ±7 sd around the mean (spacing 0.28 sd) until the sds settle.
fn local_posterior(post: &ScenarioPosterior, truth: &[f64], start: [f64; 2]) -> Moments {
    let (mut center, mut half) = ([truth[0], truth[1]], start);
    for _ in 0..10 {
        let m = grid_moments(post, center, half, 51);
        let inside = m.edge.iter().all(|&e| e < -12.0);
        let fitted = [7.0 * m.sd[0], 7.0 * m.sd[1]];
        if inside && (0..2).all(|d| (fitted[d] / half[d] - 1.0).abs() < 0.15) {
            return m;
        }
        for d in 0..2 {
            if m.edge[d] >= -12.0 {
                half[d] *= 2.0;
            } else if inside {
                half[d] = fitted[d];
            }
        }
        if inside {
            center = m.mean;
        }
    }
    panic!("the grid did not settle around {truth:?}");
}

/// The design's figures (docs/architecture.md, "Evaluation"): with raw pressure at 20 dB
/// the exact posterior has sds of roughly 0.04–0.08 m in depth and 0.02 m/s in sound speed,
/// correlation ≈ 0.6–0.7. Relative transfer functions drop each tone's level and phase,
/// which carry most of the sound-speed information (the modes' phases k_m·r at 3 km): their
/// posterior is ~1.5–2× wider in depth and ~60–70× wider in sound speed.
#[test]
fn noisy_posterior_is_as_sharp_as_the_design_says() {
    let scn = gi();
    let (t, r) = (scn.tones_hz.len(), scn.receiver_depths_m.len());
    for index in 0..2 {
        // As `vina simulate` draws sample `index` of seed 7.
        let mut rng = Rng::for_index(7, index);
        let truth = scn.draw(&mut rng);
        let mut p = scn
            .environment(&truth)
            .unwrap()
            .pressure(&scn.tones_hz, &scn.receiver_depths_m)
            .unwrap();
        observation::add_noise(&mut p, r, 20.0, &mut rng);
        let mut sds = Vec::new();
        for (kind, start) in [
            (FeatureKind::RawPressure, [0.6, 0.25]),
            (FeatureKind::RelativeTransferFunction, [0.6, 4.0]),
        ] {
            let y = observation::features(kind, &p, t, r).unwrap();
            let post =
                ScenarioPosterior::new(&scn, y.iter().map(|&v| f64::from(v)).collect(), kind, 20.0)
                    .unwrap();
            let m = local_posterior(&post, &truth, start);
            let z = [
                (truth[0] - m.mean[0]) / m.sd[0],
                (truth[1] - m.mean[1]) / m.sd[1],
            ];
            println!(
                "{kind:?} truth {truth:.3?}: mean {:.4?}, sd depth {:.4} m, sd speed {:.4} m/s, corr {:.3}, truth at {z:.2?} sd",
                m.mean, m.sd[0], m.sd[1], m.corr
            );
            assert!(
                z.iter().all(|v| v.abs() < 4.0),
                "{kind:?}: truth at {z:?} sd"
            );
            sds.push(m.sd);
            if kind == FeatureKind::RawPressure {
                assert!(
                    (0.04 / 3.0..0.08 * 3.0).contains(&m.sd[0]),
                    "sd depth {}",
                    m.sd[0]
                );
                assert!(
                    (0.02 / 3.0..0.02 * 3.0).contains(&m.sd[1]),
                    "sd speed {}",
                    m.sd[1]
                );
                assert!((0.3..0.9).contains(&m.corr), "correlation {}", m.corr);
            }
        }
        assert!(
            sds[1][1] > 5.0 * sds[0][1],
            "RTF no wider in sound speed: {sds:?}"
        );
    }
}

/// The posterior runs `vina-core`'s environment template; the simulator builds its
/// environment by name (`Scenario::environment`). Both must give the same pressure, bit
/// for bit, on both waveguides; and the buoy's f32 copy of the template (what `vina
/// export --scenario` stores) must give nearly the same log-likelihood.
#[test]
fn template_pressure_equals_the_simulators_and_f32_agrees() {
    use vina_core::posterior::{ExactPosterior, ForwardBuffers};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    for (name, truth) in [
        ("gi-pekeris", vec![214.3, 1551.7]),
        ("swellex-layered", vec![]),
    ] {
        let scn = Scenario::load(&root.join(format!("scenarios/{name}.toml"))).unwrap();
        let mut rng = Rng::new(3);
        let theta = if truth.is_empty() {
            scn.draw(&mut rng)
        } else {
            truth
        };
        let expected = scn
            .environment(&theta)
            .unwrap()
            .pressure(&scn.tones_hz, &scn.receiver_depths_m)
            .unwrap();
        let tpl = scn.template().unwrap();
        let mut buffers = Box::new(ForwardBuffers::<f64, 256>::new());
        let n = expected.len();
        tpl.pressure(&theta, &mut buffers.modes, &mut buffers.pressure[..n])
            .unwrap();
        for (a, b) in buffers.pressure[..n].iter().zip(&expected) {
            assert_eq!(*a, [b.re, b.im], "{name}");
        }

        // f32 template against f64: a noisy observation's log-likelihood at θ
        let mut noisy = expected.clone();
        observation::add_noise(
            &mut noisy,
            scn.receiver_depths_m.len(),
            scn.snr_db,
            &mut rng,
        );
        let post =
            ScenarioPosterior::from_pressure(&scn, &noisy, scn.features, scn.snr_db).unwrap();
        let l64 = post.log_likelihood(&theta);
        let t32 = tpl.cast::<f32>();
        let y32: Vec<f32> = post.observed().iter().map(|&v| v as f32).collect();
        let mut b32 = Box::new(ForwardBuffers::<f32, 64>::new());
        let l32 = ExactPosterior::new(&t32, &y32).unwrap().log_likelihood(
            &theta.iter().map(|&v| v as f32).collect::<Vec<_>>(),
            &mut b32,
        );
        assert!(l64.is_finite(), "{name}: {l64}");
        assert!(
            (f64::from(l32) - l64).abs() < 0.05,
            "{name}: f32 log-likelihood {l32} vs f64 {l64}"
        );
    }
}

/// `vina reference`'s per-walker warm start: along a chain-like random walk on the
/// eight-unknown swellex-ssp posterior (layered seabed under a measured profile), the
/// log-posterior from warm-started buffers equals the one solved from scratch (modes from
/// a neighbour's roots converge to the same roots; guards fall back to the full search),
/// and most tone solves do start warm.
#[test]
fn warm_started_log_posterior_equals_the_cold_one() {
    use vina_core::limits::HOST_MODES;
    use vina_core::posterior::ForwardBuffers;
    let scn = scenario("swellex-ssp");
    let truth = [3500.0, 55.0, 216.0, 24.0, 1590.0, 1.7, 0.2, 1780.0];
    let p = scn
        .environment(&truth)
        .unwrap()
        .pressure(&scn.tones_hz, &scn.receiver_depths_m)
        .unwrap();
    let post =
        ScenarioPosterior::from_pressure(&scn, &p, FeatureKind::RelativeTransferFunction, 20.0)
            .unwrap();
    let widths = [7000.0, 95.0, 40.0, 30.0, 100.0, 0.5, 0.45, 200.0];
    let mut warm = Box::new(ForwardBuffers::<f64, HOST_MODES>::warm_started());
    let mut rng = Rng::new(5);
    let mut theta = truth.to_vec();
    let (mut t_cold, mut t_warm) = (0.0, 0.0);
    for step in 0..12 {
        let t0 = std::time::Instant::now();
        let cold = post.log_posterior(&theta);
        let t1 = std::time::Instant::now();
        let hot = post.log_posterior_with(&theta, &mut warm);
        let t2 = std::time::Instant::now();
        if step > 0 {
            t_cold += (t1 - t0).as_secs_f64();
            t_warm += (t2 - t1).as_secs_f64();
        }
        assert!(cold.is_finite(), "step {step}: {cold}");
        assert!(
            (hot - cold).abs() <= 1e-6 * cold.abs().max(1.0),
            "step {step}: warm {hot} vs cold {cold}"
        );
        for (v, w) in theta.iter_mut().zip(widths) {
            *v += 0.002 * w * rng.normal_f64();
        }
    }
    let used = warm.warm.as_ref().unwrap().used;
    eprintln!(
        "tone solves warm / from scratch: {} / {}; per evaluation cold {:.1} ms, warm {:.1} ms",
        used[0],
        used[1],
        1e3 * t_cold / 11.0,
        1e3 * t_warm / 11.0
    );
    assert!(
        used[0] >= 2 * used[1],
        "warm {} vs cold {}",
        used[0],
        used[1]
    );
}

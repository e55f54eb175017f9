//! Observation features: relative transfer function invariances against an independent
//! f64 computation, and the Goertzel single-bin DFT against a direct f64 DFT.

use vina_core::features::{FeatureError, FeatureKind, Goertzel, goertzel};
use vina_core::rng::Rng;

fn random_pressure(rng: &mut Rng, tones: usize, receivers: usize) -> Vec<[f32; 2]> {
    (0..tones * receivers)
        .map(|_| [1e-4 * rng.normal_f32(), 1e-4 * rng.normal_f32()])
        .collect()
}

/// Relative transfer function in f64 with complex division: v = (p / p₁) · |p₁| / ‖p‖.
fn rtf_reference(p: &[[f32; 2]]) -> Vec<f64> {
    let c: Vec<(f64, f64)> = p
        .iter()
        .map(|v| (f64::from(v[0]), f64::from(v[1])))
        .collect();
    let norm = c.iter().map(|(a, b)| a * a + b * b).sum::<f64>().sqrt();
    let (r_re, r_im) = c[0];
    let r_abs2 = r_re * r_re + r_im * r_im;
    let mut out = Vec::new();
    for (i, (a, b)) in c.iter().enumerate() {
        // (a + ib)/(r_re + i r_im) = (a + ib)(r_re − i r_im)/|r|²
        let q_re = (a * r_re + b * r_im) / r_abs2 * r_abs2.sqrt() / norm;
        let q_im = (b * r_re - a * r_im) / r_abs2 * r_abs2.sqrt() / norm;
        out.push(q_re);
        if i > 0 {
            out.push(q_im);
        }
    }
    out
}

#[test]
fn rtf_matches_independent_formula_and_removes_source_level_and_phase() {
    let (tones, receivers) = (7, 5);
    let kind = FeatureKind::RelativeTransferFunction;
    assert_eq!(kind.len(tones, receivers), 63);
    let mut rng = Rng::new(1);
    for _ in 0..100 {
        let p = random_pressure(&mut rng, tones, receivers);
        let mut y = vec![0.0f32; 63];
        kind.compute(&p, tones, receivers, &mut y).unwrap();
        for (t, chunk) in p.chunks(receivers).enumerate() {
            let expected = rtf_reference(chunk);
            for (got, want) in y[t * 9..(t + 1) * 9].iter().zip(&expected) {
                assert!((f64::from(*got) - want).abs() < 1e-6, "{got} vs {want}");
            }
            let norm2: f32 = y[t * 9..(t + 1) * 9].iter().map(|v| v * v).sum();
            assert!((norm2 - 1.0).abs() < 1e-5);
            assert!(y[t * 9] > 0.0);
        }
        // an unknown complex source factor per tone (level 1e-3..1e6, any phase) changes nothing
        let mut scaled = p.clone();
        for chunk in scaled.chunks_mut(receivers) {
            let (gain, phase) = (
                10f32.powf(9.0 * rng.uniform_f32() - 3.0),
                std::f32::consts::TAU * rng.uniform_f32(),
            );
            let (a, b) = (gain * phase.cos(), gain * phase.sin());
            for v in chunk {
                *v = [v[0] * a - v[1] * b, v[0] * b + v[1] * a];
            }
        }
        let mut y2 = vec![0.0f32; 63];
        kind.compute(&scaled, tones, receivers, &mut y2).unwrap();
        for (a, b) in y.iter().zip(&y2) {
            assert!((a - b).abs() < 2e-6, "{a} vs {b}");
        }
    }
}

#[test]
fn raw_pressure_is_passed_through() {
    let mut rng = Rng::new(2);
    let p = random_pressure(&mut rng, 3, 2);
    let mut y = vec![0.0f32; 12];
    FeatureKind::RawPressure.compute(&p, 3, 2, &mut y).unwrap();
    let flat: Vec<f32> = p.iter().flatten().copied().collect();
    assert_eq!(y, flat);
}

#[test]
fn bad_pressure_gives_typed_errors() {
    let kind = FeatureKind::RelativeTransferFunction;
    let mut p = vec![[1.0f32, 0.5]; 10];
    let mut y = vec![0.0f32; kind.len(2, 5)];
    p[7][1] = f32::NAN;
    assert_eq!(
        kind.compute(&p, 2, 5, &mut y),
        Err(FeatureError::NonFinite {
            tone: 1,
            receiver: 2
        })
    );
    p[7][1] = 0.0;
    p[5] = [0.0, 0.0];
    assert_eq!(
        kind.compute(&p, 2, 5, &mut y),
        Err(FeatureError::ZeroReference { tone: 1 })
    );
    assert!(matches!(
        kind.compute(&p[1..], 2, 5, &mut y),
        Err(FeatureError::Length { .. })
    ));
    assert!(matches!(
        kind.compute(&p, 2, 5, &mut y[1..]),
        Err(FeatureError::Length { .. })
    ));
    assert!(matches!(
        kind.compute(&[], 0, 0, &mut []),
        Err(FeatureError::Length { .. })
    ));
}

fn dft_reference(x: &[f32], f: f64, fs: f64) -> (f64, f64) {
    let w = std::f64::consts::TAU * f / fs;
    x.iter().enumerate().fold((0.0, 0.0), |(re, im), (n, &v)| {
        let a = w * n as f64;
        (re + f64::from(v) * a.cos(), im - f64::from(v) * a.sin())
    })
}

#[test]
fn goertzel_matches_direct_dft_at_the_scenario_tones() {
    let fs = 1500.0f32;
    let n = 4096;
    let mut rng = Rng::new(4);
    // tones at their exact (non-integer-bin) frequencies plus noise
    let tones = [49.0f32, 64.0, 79.0, 94.0, 112.0, 130.0, 148.0];
    let x: Vec<f32> = (0..n)
        .map(|i| {
            let t = i as f32 / fs;
            tones
                .iter()
                .enumerate()
                .map(|(k, f)| {
                    (1.0 + k as f32 * 0.1) * (std::f32::consts::TAU * f * t + k as f32).cos()
                })
                .sum::<f32>()
                + 0.3 * rng.normal_f32()
        })
        .collect();
    for f in tones.iter().chain(&[49.37f32, 0.5, 700.0]) {
        let got = goertzel(&x, *f, fs);
        let (re, im) = dft_reference(&x, f64::from(*f), f64::from(fs));
        // f32 round-off in the resonator: its states grow to ~N·rms/sin ω and the errors of
        // N steps add up like a random walk, so ε·N^1.5·rms/sin ω is the natural scale
        // (Gentleman 1969); a unit tone's peak is N/2 = 2048 for comparison.
        let rms = (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / n as f64).sqrt();
        let omega = std::f64::consts::TAU * f64::from(*f) / f64::from(fs);
        let scale = f64::from(f32::EPSILON) * (n as f64).powf(1.5) * rms / omega.sin();
        let err = ((f64::from(got[0]) - re).powi(2) + (f64::from(got[1]) - im).powi(2)).sqrt();
        assert!(
            err < 4.0 * scale,
            "{f} Hz: error {err}, round-off scale {scale}"
        );
        assert!(
            err < 2e-4 * (n as f64) / 2.0,
            "{f} Hz: error {err} vs a unit tone's peak"
        );
        // streaming use gives the same answer and resets for the next frame
        let mut g = Goertzel::new(*f, fs);
        x.iter().for_each(|&v| g.push(v));
        assert_eq!(g.finish(), got);
        x.iter().for_each(|&v| g.push(v));
        assert_eq!(g.finish(), got);
    }
}

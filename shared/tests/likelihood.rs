//! Exact log-likelihoods against independent references: the raw-pressure density against
//! a naive product of real Gaussians, the relative-transfer-function density against
//! brute-force integration over the unknown complex scale (and its normalization over the
//! unit disk), the Laguerre sum against the three-term recurrence, f32 against f64, and
//! the typed errors.

use vina_core::features::FeatureKind;
use vina_core::likelihood::{Input, LikelihoodError, ln_laguerre_neg, log_likelihood};
use vina_core::rng::Rng;

type C = (f64, f64);

fn random_complex(rng: &mut Rng, n: usize, scale: f64) -> Vec<C> {
    (0..n)
        .map(|_| (scale * rng.normal_f64(), scale * rng.normal_f64()))
        .collect()
}

fn pairs(v: &[C]) -> Vec<[f64; 2]> {
    v.iter().map(|&(a, b)| [a, b]).collect()
}

fn abs2((a, b): C) -> f64 {
    a * a + b * b
}

/// The simulator's noise variance for one tone, written out independently.
fn sigma2(g: &[C], snr_db: f64) -> f64 {
    g.iter().map(|&c| abs2(c)).sum::<f64>() / g.len() as f64 / 10f64.powf(snr_db / 10.0)
}

/// Unit-norm direction of p with receiver 1 real ≥ 0, in f64, laid out as the features.
fn rtf_features(p: &[C]) -> (Vec<C>, Vec<f64>) {
    let norm = p.iter().map(|&c| abs2(c)).sum::<f64>().sqrt();
    let r = abs2(p[0]).sqrt();
    let (cr, ci) = (p[0].0 / r, -p[0].1 / r);
    let u: Vec<C> = p
        .iter()
        .map(|&(a, b)| ((a * cr - b * ci) / norm, (a * ci + b * cr) / norm))
        .collect();
    let mut f = vec![u[0].0];
    for c in &u[1..] {
        f.extend([c.0, c.1]);
    }
    (u, f)
}

#[test]
fn raw_pressure_matches_naive_gaussian_density() {
    let mut rng = Rng::new(11);
    let (tones, receivers) = (3, 4);
    for &(snr_db, scale) in &[(20.0, 1e-3), (0.0, 1.0), (-7.5, 1e-20), (35.0, 1e20)] {
        let g = random_complex(&mut rng, tones * receivers, scale);
        let noise = random_complex(&mut rng, tones * receivers, scale * 0.1);
        let p: Vec<C> = g
            .iter()
            .zip(&noise)
            .map(|(a, b)| (a.0 + b.0, a.1 + b.1))
            .collect();
        let observed: Vec<f64> = p.iter().flat_map(|&(a, b)| [a, b]).collect();
        // Naive: each real component is N(mean, σ²/2).
        let mut naive = 0.0;
        for t in 0..tones {
            let gt = &g[t * receivers..(t + 1) * receivers];
            let var = sigma2(gt, snr_db) / 2.0;
            for r in 0..receivers {
                let (x, mu) = (p[t * receivers + r], gt[r]);
                for (xi, mi) in [(x.0, mu.0), (x.1, mu.1)] {
                    naive += -0.5 * (2.0 * std::f64::consts::PI * var).ln()
                        - (xi - mi).powi(2) / (2.0 * var);
                }
            }
        }
        let ll = log_likelihood(
            FeatureKind::RawPressure,
            &observed,
            &pairs(&g),
            tones,
            receivers,
            snr_db,
        )
        .unwrap();
        let rel = (ll - naive).abs() / naive.abs().max(1.0);
        println!("raw snr {snr_db} dB scale {scale:e}: ll {ll:.9} naive {naive:.9} rel {rel:.1e}");
        assert!(rel < 1e-12, "raw {ll} vs naive {naive}");
    }
}

/// log ∫_ℂ (πσ²)^{−R}·exp(−‖c·u − g‖²/σ²)·|c|^{2k} dc by the trapezoid rule on a square
/// around the Gaussian's centre (spectrally accurate for this smooth, fast-decaying
/// integrand), evaluated from ‖c·u − g‖² directly.
fn brute_force_log_density(u: &[C], g: &[C], s2: f64) -> f64 {
    let r = u.len();
    let k = (r - 1) as f64;
    // Centre m = u^H g.
    let m = u
        .iter()
        .zip(g)
        .fold((0.0, 0.0), |acc, (&(ur, ui), &(gr, gi))| {
            (acc.0 + ur * gr + ui * gi, acc.1 + ur * gi - ui * gr)
        });
    let sigma = s2.sqrt();
    let half = 14.0 * sigma + 3.0 * sigma * k.sqrt();
    let n = 700;
    let h = 2.0 * half / n as f64;
    let log_integrand = |cr: f64, ci: f64| {
        let q: f64 = u
            .iter()
            .zip(g)
            .map(|(&(ur, ui), &(gr, gi))| abs2((cr * ur - ci * ui - gr, cr * ui + ci * ur - gi)))
            .sum();
        -q / s2 + k * abs2((cr, ci)).ln() - r as f64 * (std::f64::consts::PI * s2).ln()
    };
    let reference = log_integrand(m.0 + sigma, m.1);
    let mut sum = 0.0;
    for i in 0..=n {
        for j in 0..=n {
            let (cr, ci) = (m.0 - half + i as f64 * h, m.1 - half + j as f64 * h);
            sum += (log_integrand(cr, ci) - reference).exp();
        }
    }
    reference + (sum * h * h).ln()
}

#[test]
fn rtf_matches_brute_force_integral_over_the_complex_scale() {
    let mut rng = Rng::new(12);
    let mut worst = 0.0f64;
    for receivers in [2usize, 3] {
        for &snr_db in &[-5.0, 0.0, 10.0, 20.0] {
            for case in 0..3 {
                let g = random_complex(&mut rng, receivers, 1e-3);
                // u: a noisy copy of g at this SNR (case 0, 1) or an unrelated direction.
                let p: Vec<C> = if case < 2 {
                    let s = (sigma2(&g, snr_db) / 2.0).sqrt();
                    g.iter()
                        .map(|&(a, b)| (a + s * rng.normal_f64(), b + s * rng.normal_f64()))
                        .collect()
                } else {
                    random_complex(&mut rng, receivers, 1.0)
                };
                let (u, features) = rtf_features(&p);
                let s2 = sigma2(&g, snr_db);
                let want = brute_force_log_density(&u, &g, s2);
                let got = log_likelihood(
                    FeatureKind::RelativeTransferFunction,
                    &features,
                    &pairs(&g),
                    1,
                    receivers,
                    snr_db,
                )
                .unwrap();
                let err = (got - want).abs();
                worst = worst.max(err);
                println!(
                    "R {receivers} snr {snr_db:5.1} dB case {case}: exact {got:.10} brute force {want:.10} |Δ| {err:.1e}"
                );
                // |Δ log| ≤ 1e-10 is ≤ 1e-10 relative on the density.
                assert!(err < 1e-10, "R {receivers}, {snr_db} dB: {got} vs {want}");
            }
        }
    }
    println!("worst |Δ log p| = {worst:.1e}");
}

/// For R = 2 the density lives on the unit disk of u₂ ∈ ℂ (u₁ = √(1 − |u₂|²)): it must
/// integrate to 1 against Lebesgue measure there, which pins down the measure.
#[test]
fn rtf_density_integrates_to_one_over_the_unit_disk() {
    let mut rng = Rng::new(13);
    for &snr_db in &[0.0, 10.0] {
        let g = random_complex(&mut rng, 2, 1e-2);
        let (n_rho, n_phi) = (1500, 400);
        let mut total = 0.0;
        for i in 0..n_rho {
            let rho = (i as f64 + 0.5) / n_rho as f64;
            let mut ring = 0.0;
            for j in 0..n_phi {
                let phi = std::f64::consts::TAU * (j as f64 + 0.5) / n_phi as f64;
                let f = [(1.0 - rho * rho).sqrt(), rho * phi.cos(), rho * phi.sin()];
                let ll = log_likelihood(
                    FeatureKind::RelativeTransferFunction,
                    &f,
                    &pairs(&g),
                    1,
                    2,
                    snr_db,
                )
                .unwrap();
                ring += ll.exp();
            }
            total += ring * rho;
        }
        total *= std::f64::consts::TAU / n_phi as f64 / n_rho as f64;
        println!("snr {snr_db} dB: ∫ p(u₂) d²u₂ = {total:.8}");
        assert!((total - 1.0).abs() < 1e-5, "{total}");
    }
}

/// Features from `FeatureKind::compute` (the simulator's and firmware's function) are
/// read in the same layout: noiseless features give the closed form at B = 0,
/// noisy ones agree with the f64 construction to f32 precision.
#[test]
fn rtf_reads_feature_kind_compute_layout() {
    let mut rng = Rng::new(14);
    let (tones, receivers, snr_db) = (4, 5, 20.0);
    let kind = FeatureKind::RelativeTransferFunction;
    let g = random_complex(&mut rng, tones * receivers, 1e-3);
    let g32: Vec<[f32; 2]> = g.iter().map(|&(a, b)| [a as f32, b as f32]).collect();
    let g64: Vec<[f64; 2]> = g32.iter().map(|c| c.map(f64::from)).collect();
    let mut y = vec![0.0f32; kind.len(tones, receivers)];
    kind.compute(&g32, tones, receivers, &mut y).unwrap();
    let y64: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
    let ll = log_likelihood(kind, &y64, &g64, tones, receivers, snr_db).unwrap();
    // B = 0, |m|²/σ² = R·10^(SNR/10): the per-tone maximum.
    let k = receivers - 1;
    let lambda = receivers as f64 * 10f64.powf(snr_db / 10.0);
    let ln_kfact: f64 = (2..=k).map(|j| (j as f64).ln()).sum();
    let max = tones as f64
        * (ln_laguerre_neg(k, lambda) + ln_kfact - k as f64 * std::f64::consts::PI.ln());
    println!("noiseless: ll {ll:.6}, closed form {max:.6}");
    assert!((ll - max).abs() < 1e-3, "{ll} vs {max}");

    // Noisy: f32 features against the f64 construction of the same direction.
    let p: Vec<C> = g
        .iter()
        .map(|&(a, b)| (a + 3e-4 * rng.normal_f64(), b + 3e-4 * rng.normal_f64()))
        .collect();
    let p32: Vec<[f32; 2]> = p.iter().map(|&(a, b)| [a as f32, b as f32]).collect();
    kind.compute(&p32, tones, receivers, &mut y).unwrap();
    let y64: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
    let p_from32: Vec<C> = p32
        .iter()
        .map(|c| (f64::from(c[0]), f64::from(c[1])))
        .collect();
    let reference: Vec<f64> = p_from32
        .chunks(receivers)
        .flat_map(|t| rtf_features(t).1)
        .collect();
    let a = log_likelihood(kind, &y64, &g64, tones, receivers, snr_db).unwrap();
    let b = log_likelihood(kind, &reference, &g64, tones, receivers, snr_db).unwrap();
    println!("noisy: from compute {a:.6}, from f64 construction {b:.6}");
    assert!((a - b).abs() < 1e-3 * (1.0 + b.abs()), "{a} vs {b}");
}

#[test]
fn rtf_is_invariant_under_a_complex_source_factor_per_tone() {
    let mut rng = Rng::new(15);
    let (tones, receivers) = (3, 5);
    let g = random_complex(&mut rng, tones * receivers, 1e-3);
    let p: Vec<C> = g
        .iter()
        .map(|&(a, b)| (a + 2e-4 * rng.normal_f64(), b + 2e-4 * rng.normal_f64()))
        .collect();
    let features: Vec<f64> = p
        .chunks(receivers)
        .flat_map(|t| rtf_features(t).1)
        .collect();
    let kind = FeatureKind::RelativeTransferFunction;
    let base = log_likelihood(kind, &features, &pairs(&g), tones, receivers, 20.0).unwrap();
    let alphas = [(3.0, -4.0), (1e-9, 2e-9), (-7e6, 0.5)];
    let scaled: Vec<C> = g
        .chunks(receivers)
        .zip(alphas)
        .flat_map(|(t, (ar, ai))| {
            t.iter()
                .map(move |&(a, b)| (a * ar - b * ai, a * ai + b * ar))
        })
        .collect();
    let moved = log_likelihood(kind, &features, &pairs(&scaled), tones, receivers, 20.0).unwrap();
    println!("rtf ll {base:.12} after per-tone source factors {moved:.12}");
    assert!((base - moved).abs() < 1e-10 * base.abs().max(1.0));
}

#[test]
fn laguerre_log_sum_matches_three_term_recurrence() {
    let mut worst = 0.0f64;
    let mut worst32 = 0.0f64;
    for &a in &[0.0, 1e-6, 1e-3, 0.5, 1.0, 7.3, 50.0, 500.0] {
        // (n+1)·L_{n+1}(x) = (2n+1−x)·L_n(x) − n·L_{n−1}(x) at x = −a.
        let x = -a;
        let (mut prev, mut cur) = (1.0f64, 1.0 - x);
        for k in 0..=24usize {
            let exact = if k == 0 { 1.0f64 } else { cur };
            let got = ln_laguerre_neg(k, a);
            let err = (got - exact.ln()).abs() / exact.ln().abs().max(1.0);
            worst = worst.max(err);
            assert!(err < 1e-13, "k {k}, a {a}: {got} vs {}", exact.ln());
            let got32 = f64::from(ln_laguerre_neg(k, a as f32));
            let err32 = (got32 - exact.ln()).abs() / exact.ln().abs().max(1.0);
            worst32 = worst32.max(err32);
            assert!(err32 < 2e-6, "f32: k {k}, a {a}: {got32} vs {}", exact.ln());
            if k >= 1 {
                let n = k as f64;
                let next = ((2.0 * n + 1.0 - x) * cur - n * prev) / (n + 1.0);
                (prev, cur) = (cur, next);
            }
        }
    }
    println!("worst relative error of ln L_k(−a): f64 {worst:.1e}, f32 {worst32:.1e}");
    // Far beyond f32's exp range: still finite.
    let big = ln_laguerre_neg(4, 1e6f32);
    assert!(
        big.is_finite()
            && (f64::from(big) - (1e24f64 / 24.0 + 4e18 + 6e12 + 4e6 + 1.0).ln()).abs() < 1e-4
    );
    assert!(ln_laguerre_neg(3, f64::NAN).is_nan());
}

#[test]
fn f32_agrees_with_f64() {
    let mut rng = Rng::new(16);
    let (tones, receivers, snr_db) = (7, 5, 20.0);
    for kind in [
        FeatureKind::RawPressure,
        FeatureKind::RelativeTransferFunction,
    ] {
        let mut worst = 0.0f64;
        for _ in 0..20 {
            let g32: Vec<[f32; 2]> = (0..tones * receivers)
                .map(|_| [1e-3 * rng.normal_f32(), 1e-3 * rng.normal_f32()])
                .collect();
            let p32: Vec<[f32; 2]> = g32
                .chunks(receivers)
                .flat_map(|t| {
                    let power = t.iter().map(|c| c[0] * c[0] + c[1] * c[1]).sum::<f32>();
                    let s = (power / receivers as f32 / 100.0 / 2.0).sqrt();
                    t.iter()
                        .map(|c| [c[0] + s * rng.normal_f32(), c[1] + s * rng.normal_f32()])
                        .collect::<Vec<_>>()
                })
                .collect();
            let mut y = vec![0.0f32; kind.len(tones, receivers)];
            kind.compute(&p32, tones, receivers, &mut y).unwrap();
            let ll32 = log_likelihood(kind, &y, &g32, tones, receivers, snr_db as f32).unwrap();
            let y64: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
            let g64: Vec<[f64; 2]> = g32.iter().map(|c| c.map(f64::from)).collect();
            let ll64 = log_likelihood(kind, &y64, &g64, tones, receivers, snr_db).unwrap();
            let err = (f64::from(ll32) - ll64).abs();
            worst = worst.max(err / ll64.abs().max(1.0));
            assert!(
                err < 2e-6 * ll64.abs().max(1.0) + 1e-4,
                "{kind:?}: f32 {ll32} vs f64 {ll64}"
            );
        }
        println!("{kind:?}: worst relative |f32 − f64| = {worst:.1e}");
    }
}

#[test]
fn typed_errors_for_bad_lengths_and_non_finite_input() {
    let raw = FeatureKind::RawPressure;
    let rtf = FeatureKind::RelativeTransferFunction;
    let g = [[1.0f32, 0.5]; 6];
    let y_raw = [0.1f32; 12];
    let y_rtf = [0.3f32; 10];
    assert!(log_likelihood(raw, &y_raw, &g, 2, 3, 20.0).is_ok());
    assert!(log_likelihood(rtf, &y_rtf, &g, 2, 3, 20.0).is_ok());
    assert_eq!(
        log_likelihood(raw, &y_raw[..11], &g, 2, 3, 20.0),
        Err(LikelihoodError::Length {
            input: Input::Features,
            expected: 12,
            found: 11
        })
    );
    assert_eq!(
        log_likelihood(rtf, &y_raw, &g, 2, 3, 20.0),
        Err(LikelihoodError::Length {
            input: Input::Features,
            expected: 10,
            found: 12
        })
    );
    assert_eq!(
        log_likelihood(raw, &y_raw, &g[..5], 2, 3, 20.0),
        Err(LikelihoodError::Length {
            input: Input::Pressure,
            expected: 6,
            found: 5
        })
    );
    assert!(matches!(
        log_likelihood::<f32>(raw, &[], &[], 2, 0, 20.0),
        Err(LikelihoodError::Length {
            input: Input::Pressure,
            ..
        })
    ));
    let mut bad = y_rtf;
    bad[7] = f32::NAN;
    assert_eq!(
        log_likelihood(rtf, &bad, &g, 2, 3, 20.0),
        Err(LikelihoodError::NonFinite {
            input: Input::Features,
            index: 7
        })
    );
    let mut bad_g = g;
    bad_g[4][1] = f32::INFINITY;
    assert_eq!(
        log_likelihood(raw, &y_raw, &bad_g, 2, 3, 20.0),
        Err(LikelihoodError::NonFinite {
            input: Input::Pressure,
            index: 4
        })
    );
    assert_eq!(
        log_likelihood(raw, &y_raw, &g, 2, 3, f32::NAN),
        Err(LikelihoodError::Snr)
    );
    assert_eq!(
        log_likelihood(raw, &y_raw, &g, 2, 3, 500.0f32),
        Err(LikelihoodError::Snr)
    );
    let mut zero_g = g;
    zero_g[3..].fill([0.0, 0.0]);
    assert_eq!(
        log_likelihood(rtf, &y_rtf, &zero_g, 2, 3, 20.0),
        Err(LikelihoodError::Degenerate { tone: 1 })
    );
    let mut zero_y = y_rtf;
    zero_y[..5].fill(0.0);
    assert_eq!(
        log_likelihood(rtf, &zero_y, &g, 2, 3, 20.0),
        Err(LikelihoodError::ZeroObservation { tone: 0 })
    );
    // Errors print.
    let e = log_likelihood(raw, &y_raw, &g[..5], 2, 3, 20.0).unwrap_err();
    assert!(e.to_string().contains("modeled pressure"));
}

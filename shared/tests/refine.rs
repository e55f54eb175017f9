//! Exact-likelihood refinement on a toy target with an analytic answer: a correlated 2-D
//! Gaussian, refined from Gaussian proposals of the wrong width or location; and the
//! tempered fallback from a uniform prior box, on that Gaussian and on a two-component
//! mixture, behind a network proposal that misses it completely.

use vina_core::layers::Scratch;
use vina_core::model::Model;
use vina_core::prior::Prior;
use vina_core::refine::{
    GaussianProposal, NetworkProposal, Outcome, ProposalKind, Reference, RefineConfig, RefineError,
    RefinePath, TemperConfig, TemperReport, refine, refine_network, refine_with_fallback, temper,
    temper_within, tempered_work_len, work_len,
};
use vina_core::rng::Rng;
use vina_core::spec::{Precision, RandomArch};

const MEAN: [f64; 2] = [218.0, 1561.0];
const SD: [f64; 2] = [0.05, 0.02];
const RHO: f64 = 0.6;

/// Log density of the target N(MEAN, Σ) up to a constant.
fn log_target<T: vina_core::acoustics::Real>(x: &[T]) -> T {
    let a = (x[0].to_f64().unwrap() - MEAN[0]) / SD[0];
    let b = (x[1].to_f64().unwrap() - MEAN[1]) / SD[1];
    T::lit(-0.5 * (a * a - 2.0 * RHO * a * b + b * b) / (1.0 - RHO * RHO))
}

/// `n` exact target draws, as rows (to fit proposals to).
fn target_draws(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let (e1, e2) = (rng.normal_f64(), rng.normal_f64());
        out.push(MEAN[0] + SD[0] * e1);
        out.push(MEAN[1] + SD[1] * (RHO * e1 + (1.0 - RHO * RHO).sqrt() * e2));
    }
    out
}

fn moments(p: &[f64]) -> ([f64; 2], [f64; 2], f64) {
    let n = (p.len() / 2) as f64;
    let m = [0, 1].map(|k| p.iter().skip(k).step_by(2).sum::<f64>() / n);
    let c = |a: usize, b: usize| {
        p.chunks(2)
            .map(|r| (r[a] - m[a]) * (r[b] - m[b]))
            .sum::<f64>()
            / (n - 1.0)
    };
    let sd = [c(0, 0).sqrt(), c(1, 1).sqrt()];
    (m, sd, c(0, 1) / (sd[0] * sd[1]))
}

struct Run {
    particles: Vec<f64>,
    report: vina_core::refine::RefineStats,
}

/// Refine from a Gaussian fitted to exact draws, shifted by `shift` target sds and
/// widened by `widen`.
fn run(n: usize, steps: u32, widen: f64, shift: f64, seed: u64) -> Run {
    let mut fit = target_draws(4000, 99);
    for r in fit.chunks_mut(2) {
        r[0] += shift * SD[0];
        r[1] += shift * SD[1];
    }
    let q = GaussianProposal::fit(&fit, 2, widen).unwrap();
    let mut particles = vec![0.0; 2 * n];
    let mut work = vec![0.0; work_len(n, 2)];
    let cfg = RefineConfig {
        steps,
        ..RefineConfig::default()
    };
    let report = refine(
        &cfg,
        2,
        &mut Rng::new(seed),
        |rng, x| q.draw(rng, x),
        |pts, out| {
            for (o, x) in out.iter_mut().zip(pts.chunks(2)) {
                *o = log_target(x);
            }
        },
        &mut particles,
        &mut work,
    )
    .unwrap();
    Run { particles, report }
}

/// A proposal τ = 2 times too wide: the importance weights' ESS matches its analytic
/// value, `n · (2τ² − 1)^{d/2} / τ^{2d}` (≈ 0.437 n for τ = 2, d = 2), and the refined
/// particles have the target's mean, sds and correlation.
#[test]
fn wide_proposal_gives_analytic_ess_and_exact_moments() {
    let n = 4000;
    let r = run(n, 10, 2.0, 0.0, 1);
    let tau2: f64 = 4.0;
    let expected = (2.0 * tau2 - 1.0) / (tau2 * tau2);
    let frac = r.report.ess / n as f64;
    assert!(
        (frac - expected).abs() < 0.05,
        "ESS fraction {frac:.3}, analytic {expected:.3}"
    );
    assert!(!r.report.missed, "{:?}", r.report);
    assert!(
        r.report.acceptance > 0.2 && r.report.acceptance < 0.6,
        "{:?}",
        r.report
    );
    let (m, sd, rho) = moments(&r.particles);
    for k in 0..2 {
        // SE of the mean ≈ sd/√n · (1 + autocorrelation) ≈ 0.03 sd; allow 0.1 sd.
        assert!(
            (m[k] - MEAN[k]).abs() < 0.1 * SD[k],
            "mean {k}: {} vs {}",
            m[k],
            MEAN[k]
        );
        assert!(
            (sd[k] / SD[k] - 1.0).abs() < 0.06,
            "sd {k}: {} vs {}",
            sd[k],
            SD[k]
        );
    }
    assert!((rho - RHO).abs() < 0.05, "correlation {rho}");
}

/// A proposal 3× too narrow and 4 target sds off: the weights collapse and `missed` says
/// so, and the Metropolis sweeps still carry the particles to the target.
#[test]
fn missed_proposal_is_flagged_and_sweeps_recover() {
    let r = run(1000, 150, 0.33, 4.0, 2);
    assert!(r.report.missed, "{:?}", r.report);
    assert!(r.report.ess < 20.0, "{:?}", r.report);
    let (m, sd, _) = moments(&r.particles);
    for k in 0..2 {
        assert!(
            (m[k] - MEAN[k]).abs() < 0.3 * SD[k],
            "mean {k}: {} vs {} ({:?})",
            m[k],
            MEAN[k],
            r.report
        );
        assert!(
            (sd[k] / SD[k] - 1.0).abs() < 0.2,
            "sd {k}: {} vs {}",
            sd[k],
            SD[k]
        );
    }
}

/// Same seed, same particles; f32 follows f64 up to rounding (same random stream).
#[test]
fn reproducible_and_precision_independent() {
    let a = run(500, 10, 1.5, 0.5, 7);
    let b = run(500, 10, 1.5, 0.5, 7);
    assert_eq!(a.particles, b.particles);
    assert_eq!(a.report, b.report);

    // f32: relative to the mean (f32 has ~7 digits; the target is 0.02 m/s wide at 1561)
    // a shifted target in f32 keeps the comparison about rounding, not about the offset.
    let fit: Vec<f32> = target_draws(4000, 99)
        .iter()
        .enumerate()
        .map(|(i, v)| (v - MEAN[i % 2]) as f32)
        .collect();
    let q = GaussianProposal::fit(&fit, 2, 1.5f32).unwrap();
    let centred = |x: &[f32]| log_target(&[f64::from(x[0]) + MEAN[0], f64::from(x[1]) + MEAN[1]]);
    let n = 500;
    let mut p32 = vec![0.0f32; 2 * n];
    let mut w32 = vec![0.0f32; work_len(n, 2)];
    let cfg = RefineConfig {
        steps: 5,
        ..RefineConfig::default()
    };
    let r32 = refine(
        &cfg,
        2,
        &mut Rng::new(3),
        |rng, x| q.draw(rng, x),
        |pts, out| {
            for (o, x) in out.iter_mut().zip(pts.chunks(2)) {
                *o = centred(x) as f32;
            }
        },
        &mut p32,
        &mut w32,
    )
    .unwrap();
    let fit64: Vec<f64> = fit.iter().map(|&v| f64::from(v)).collect();
    let q64 = GaussianProposal::fit(&fit64, 2, 1.5f64).unwrap();
    let mut p64 = vec![0.0f64; 2 * n];
    let mut w64 = vec![0.0f64; work_len(n, 2)];
    let r64 = refine(
        &cfg,
        2,
        &mut Rng::new(3),
        |rng, x| q64.draw(rng, x),
        |pts, out| {
            for (o, x) in out.iter_mut().zip(pts.chunks(2)) {
                *o = log_target(&[x[0] + MEAN[0], x[1] + MEAN[1]]);
            }
        },
        &mut p64,
        &mut w64,
    )
    .unwrap();
    assert!(
        (r32.ess - r64.ess).abs() < 1e-3 * r64.ess,
        "{r32:?} vs {r64:?}"
    );
    // Accept decisions may flip right at their threshold; nearly all particles agree.
    let agree = p32
        .chunks(2)
        .zip(p64.chunks(2))
        .filter(|(a, b)| (0..2).all(|k| (f64::from(a[k]) - b[k]).abs() < 1e-3 * SD[k]))
        .count();
    assert!(agree >= n * 98 / 100, "{agree} of {n} particles agree");
}

#[test]
fn no_support_and_bad_shapes_are_errors() {
    let q = GaussianProposal::fit(&target_draws(100, 1), 2, 1.0).unwrap();
    let mut p = vec![0.0; 20];
    let mut w = vec![0.0; work_len(10, 2)];
    let cfg = RefineConfig::default();
    let none = refine(
        &cfg,
        2,
        &mut Rng::new(0),
        |rng, x| q.draw(rng, x),
        |_, out: &mut [f64]| out.fill(f64::NEG_INFINITY),
        &mut p,
        &mut w,
    );
    assert_eq!(none.unwrap_err(), RefineError::NoSupport);
    let short = refine(
        &cfg,
        2,
        &mut Rng::new(0),
        |rng, x| q.draw(rng, x),
        |_, out: &mut [f64]| out.fill(0.0),
        &mut p,
        &mut w[..5],
    );
    assert!(matches!(short, Err(RefineError::Shape { .. })));
    let failing = refine::<f64, &str>(
        &cfg,
        2,
        &mut Rng::new(0),
        |_, _| Err("network failed"),
        |_, out| out.fill(0.0),
        &mut p,
        &mut w,
    );
    assert_eq!(
        failing.unwrap_err(),
        RefineError::Proposal("network failed")
    );
}

/// The gi-pekeris prior box around the target: 36 m × 60 m/s, ~4·10⁵ times the target's
/// area, so the prior alone would put ~no draw on it.
const BOX: [Prior<f64>; 2] = [
    Prior::Uniform {
        min: 200.5,
        max: 236.5,
    },
    Prior::Uniform {
        min: 1532.0,
        max: 1592.0,
    },
];

/// `log_target` of the Gaussian target inside [`BOX`] (−∞ outside, as the exact
/// posterior is).
fn gaussian_in_box(pts: &[f64], out: &mut [f64]) {
    for (o, x) in out.iter_mut().zip(pts.chunks(2)) {
        *o = if BOX[0].log_density(x[0]).is_finite() && BOX[1].log_density(x[1]).is_finite() {
            log_target(x)
        } else {
            f64::NEG_INFINITY
        };
    }
}

/// A random cINN made nearly the identity (tiny weights, no ActNorm), so its draws are
/// ≈ N(mean, (τ·std)²) per parameter.
fn near_identity_cinn(mean: [f32; 2], std: [f32; 2]) -> Vec<u8> {
    let mut arch = RandomArch::default_cinn();
    arch.weight_scale = 0.01;
    arch.net.actnorm = false;
    let mut spec = arch.build(3);
    spec.header.x_mean = mean.to_vec();
    spec.header.x_std = std.to_vec();
    spec.encode(Precision::F32).unwrap()
}

/// [`refine_with_fallback`] with `model` on the Gaussian in the box; also the rows the
/// log target was asked for, both attempts together.
fn fallback(
    bytes: &[u8],
    n: usize,
    temper_config: &TemperConfig,
    seed: u64,
) -> (Vec<f64>, Outcome, usize) {
    let model = Model::from_bytes(bytes).unwrap();
    let y = vec![0.1f32; model.y_dim()];
    let mut ctx = vec![0.0f32; model.context_len()];
    model.prepare(&y, &mut ctx, &mut Scratch::new()).unwrap();
    let mut particles = vec![0.0; 2 * n];
    let mut work = vec![0.0; tempered_work_len(n, 2)];
    let mut rows = 0;
    let outcome = refine_with_fallback(
        &RefineConfig::default(),
        temper_config,
        &model,
        &ctx,
        seed,
        &BOX[..],
        |pts: &[f64], out: &mut [f64]| {
            rows += out.len();
            gaussian_in_box(pts, out);
        },
        |_| true,
        &mut particles,
        &mut work,
    )
    .unwrap();
    (particles, outcome, rows)
}

/// A network proposal that misses completely, once inside the prior box 100 target sds
/// off (ESS ≈ 1: `missed`) and once outside it (no draw with a finite target:
/// `NoSupport`): the fallback tempers from the prior to β = 1 and recovers the target's
/// mean, sds, correlation and normalizing constant. Tolerances: over 20 seeds (n = 2000)
/// the errors had sd 0.024 target sd (means), 0.017 (sd ratios), 0.018 (correlation) and
/// 0.10 (log evidence); the bounds are 4–5 of those.
#[test]
fn tempered_fallback_recovers_the_target_when_the_network_misses() {
    let n = 2000;
    let inside = near_identity_cinn([213.0, 1559.0], [0.05, 0.02]);
    let outside = near_identity_cinn([250.0, 1600.0], [0.05, 0.02]);
    for (bytes, reaches) in [(&inside, true), (&outside, false)] {
        let (p, o, rows) = fallback(bytes, n, &TemperConfig::default(), 11);
        assert_eq!(o.path, RefinePath::TemperedFromPrior);
        assert_eq!(o.proposal, ProposalKind::Network);
        match o.network {
            Some(r) => {
                assert!(reaches && r.missed && r.ess < 2.0 && r.steps == 0, "{r:?}");
            }
            None => assert!(!reaches, "{o:?}"),
        }
        let t = o.tempered.expect("tempered report");
        assert!(t.complete && t.beta == 1.0, "{t:?}");
        assert!(t.stages >= 5 && t.stages < 60, "{t:?}");
        assert_eq!(t.sweeps, t.stages * TemperConfig::default().sweeps);
        // the network's n draws, then the tempered run's own count; the surrogate's
        // first test spares a good part of the sweeps' forward runs on this Gaussian
        // (62,191 of the 112,000 rows plain Metropolis evaluates, at seed 11)
        assert_eq!(rows, n + t.evaluations);
        let plain = n * (1 + t.sweeps as usize);
        assert!(t.evaluations > n && 3 * t.evaluations < 2 * plain, "{t:?}");
        assert!(t.acceptance > 0.1 && t.acceptance < 0.7, "{t:?}");
        assert_evidence(&t);
        assert_target_moments(&p, &t);
    }
}

/// The tempered run's log evidence is ∫π / ∫q0 with q0 normalized: the integral of
/// log_target's Gaussian.
fn assert_evidence(t: &TemperReport) {
    let expected = (std::f64::consts::TAU * SD[0] * SD[1] * (1.0 - RHO * RHO).sqrt()).ln();
    assert!(
        (t.log_evidence - expected).abs() < 0.4,
        "{t:?} vs {expected}"
    );
}

/// The particles' means, sds and correlation are the target's (tolerances: the prior
/// fallback's test above).
fn assert_target_moments(p: &[f64], t: &TemperReport) {
    let (m, sd, rho) = moments(p);
    for k in 0..2 {
        assert!(
            (m[k] - MEAN[k]).abs() < 0.12 * SD[k],
            "mean {k}: {} ({t:?})",
            m[k]
        );
        assert!(
            (sd[k] / SD[k] - 1.0).abs() < 0.08,
            "sd {k}: {} ({t:?})",
            sd[k]
        );
    }
    assert!((rho - RHO).abs() < 0.08, "correlation {rho}");
}

/// A network proposal that covers the target: the fallback's result is
/// [`refine_network`]'s, bit for bit (same random numbers), and no tempering runs.
#[test]
fn fallback_is_the_network_refinement_when_the_network_covers_the_target() {
    let bytes = near_identity_cinn([218.0, 1561.0], [0.1, 0.04]);
    let (p, o, rows) = fallback(&bytes, 500, &TemperConfig::default(), 4);
    assert_eq!(o.path, RefinePath::Network);
    assert!(o.tempered.is_none());
    let net = o.network.expect("network report");
    assert!(!net.missed && net.steps == 20, "{net:?}");
    assert_eq!(net.evaluations, rows);

    let model = Model::from_bytes(&bytes).unwrap();
    let y = vec![0.1f32; model.y_dim()];
    let mut ctx = vec![0.0f32; model.context_len()];
    model.prepare(&y, &mut ctx, &mut Scratch::new()).unwrap();
    let mut q = vec![0.0; 1000];
    let mut work = vec![0.0; work_len(500, 2)];
    let (report, kind) = refine_network(
        &RefineConfig::default(),
        &model,
        &ctx,
        4,
        gaussian_in_box,
        |_| true,
        &mut q,
        &mut work,
    )
    .unwrap();
    assert_eq!((report, kind), (net, ProposalKind::Network));
    assert_eq!(p, q);
}

/// Two well separated components, 30 % and 70 % (57 component sds apart: no Metropolis
/// move crosses), inside the box: tempering carries their masses in its weights, so the
/// particles split 30/70 and each component keeps its own mean and sd. Tolerances: over
/// 20 seeds (n = 8000) the share's sd was 0.018 (0.041 with 2000 particles: each stage's
/// resampling adds noise no move undoes), the component means' 0.04 sd and the sd
/// ratios' 0.015; the bounds are 4 of those or more.
#[test]
fn tempered_keeps_both_modes_in_proportion() {
    const W: f64 = 0.3;
    const MU: [[f64; 2]; 2] = [[210.0, 1550.0], [212.0, 1552.0]];
    const S: f64 = 0.05;
    let log_mix = |x: &[f64]| {
        let c = |m: &[f64; 2]| -0.5 * ((x[0] - m[0]).powi(2) + (x[1] - m[1]).powi(2)) / (S * S);
        let (a, b) = (W.ln() + c(&MU[0]), (1.0 - W).ln() + c(&MU[1]));
        a.max(b) + (1.0 + (-(a - b).abs()).exp()).ln()
    };
    let n = 8000;
    let mut p = vec![0.0; 2 * n];
    let mut work = vec![0.0; tempered_work_len(n, 2)];
    let report = temper(
        &TemperConfig::default(),
        &mut Rng::new(8),
        &BOX[..],
        |pts: &[f64], out: &mut [f64]| {
            for (o, x) in out.iter_mut().zip(pts.chunks(2)) {
                *o = BOX.log_density(x) + log_mix(x);
            }
        },
        &mut p,
        &mut work,
    )
    .unwrap();
    assert!(report.complete, "{report:?}");
    let first: Vec<f64> = p
        .chunks(2)
        .filter(|x| x[0] < 211.0)
        .flatten()
        .copied()
        .collect();
    let second: Vec<f64> = p
        .chunks(2)
        .filter(|x| x[0] >= 211.0)
        .flatten()
        .copied()
        .collect();
    let share = first.len() as f64 / p.len() as f64;
    assert!(
        (share - W).abs() < 0.08,
        "first component's share {share} ({report:?})"
    );
    for (rows, mu) in [(&first, MU[0]), (&second, MU[1])] {
        let (m, sd, _) = moments(rows);
        for k in 0..2 {
            assert!(
                (m[k] - mu[k]).abs() < 0.15 * S,
                "mean {k}: {} vs {}",
                m[k],
                mu[k]
            );
            assert!((sd[k] / S - 1.0).abs() < 0.1, "sd {k}: {}", sd[k]);
        }
    }
}

/// A budget that ends after 7 sweeps stops mid-way: β < 1, flagged, 7 sweeps; the stage
/// cap does the same. Both replay exactly for the same seed.
#[test]
fn tempered_budget_and_stage_cap_are_reported() {
    let n = 300;
    let run = |config: &TemperConfig, budget: u32| {
        let mut p = vec![0.0; 2 * n];
        let mut work = vec![0.0; tempered_work_len(n, 2)];
        let mut rows = 0;
        let r = temper_within(
            config,
            &mut Rng::new(2),
            &BOX[..],
            |pts: &[f64], out: &mut [f64]| {
                rows += out.len();
                gaussian_in_box(pts, out);
            },
            |k| k < budget,
            &mut p,
            &mut work,
        )
        .unwrap();
        (p, r, rows)
    };
    let (p, cut, rows) = run(&TemperConfig::default(), 7);
    assert!(!cut.complete && cut.beta < 1.0 && cut.beta > 0.0, "{cut:?}");
    assert_eq!(cut.sweeps, 7);
    assert_eq!(cut.stages, 2);
    assert_eq!(cut.evaluations, rows);
    assert!(cut.evaluations > n && cut.evaluations < n * 8, "{cut:?}");
    assert_eq!(run(&TemperConfig::default(), 7), (p, cut, rows));

    let capped = TemperConfig {
        max_stages: 3,
        ..TemperConfig::default()
    };
    let (_, r, _) = run(&capped, u32::MAX);
    assert!(
        !r.complete && r.beta < 1.0 && r.stages == 3 && r.sweeps == 15,
        "{r:?}"
    );
}

fn shape<R, E>(r: Result<R, RefineError<E>>) -> bool {
    matches!(r, Err(RefineError::Shape { .. }))
}

#[test]
fn tempered_bad_shapes_and_settings_are_errors() {
    let run = |prior: &[Prior<f64>], config: &TemperConfig, p: &mut [f64], w: &mut [f64]| {
        temper(config, &mut Rng::new(0), prior, gaussian_in_box, p, w)
    };
    let c = TemperConfig::default();
    let (mut p, mut w) = (vec![0.0; 20], vec![0.0; tempered_work_len(10, 2)]);
    assert!(shape(run(&[], &c, &mut p, &mut w)));
    assert!(shape(run(&[BOX[0]; 9], &c, &mut [0.0; 18], &mut w)));
    assert!(shape(run(&BOX, &c, &mut p[..19], &mut w)));
    assert!(shape(run(&BOX, &c, &mut [], &mut w)));
    assert!(shape(run(&BOX, &c, &mut p, &mut w[..work_len(10, 2)])));
    for ess_fraction in [0.0, 1.0, f64::NAN] {
        let bad = TemperConfig { ess_fraction, ..c };
        assert!(matches!(
            run(&BOX, &bad, &mut p, &mut w),
            Err(RefineError::Settings { .. })
        ));
    }
    let none = temper(
        &c,
        &mut Rng::new(0),
        &BOX[..],
        |_: &[f64], out: &mut [f64]| out.fill(f64::NAN),
        &mut p,
        &mut w,
    );
    assert_eq!(none.unwrap_err(), RefineError::NoSupport);

    // The fallback checks its buffers and the prior's size before the network runs.
    let bytes = near_identity_cinn([218.0, 1561.0], [0.1, 0.04]);
    let model = Model::from_bytes(&bytes).unwrap();
    let ctx = vec![0.0f32; model.context_len()];
    let mut fall = |prior: &[Prior<f64>], w: &mut [f64]| {
        refine_with_fallback(
            &RefineConfig::default(),
            &c,
            &model,
            &ctx,
            0,
            prior,
            gaussian_in_box,
            |_| true,
            &mut p,
            w,
        )
    };
    assert!(shape(fall(&BOX[..1], &mut w)));
    assert!(shape(fall(&BOX, &mut vec![0.0; work_len(10, 2)])));
}

/// f32 runs the same loop on the same random numbers (centred coordinates, as the buoy's
/// parameters are in f32): its moments agree with f64's within Monte Carlo error.
#[test]
fn tempered_runs_in_f32() {
    let n = 1000;
    let centred = [
        Prior::Uniform {
            min: -17.5f32,
            max: 18.5,
        },
        Prior::Uniform {
            min: -29.0f32,
            max: 31.0,
        },
    ];
    let mut p = vec![0.0f32; 2 * n];
    let mut work = vec![0.0f32; tempered_work_len(n, 2)];
    let r = temper(
        &TemperConfig::default(),
        &mut Rng::new(5),
        &centred[..],
        |pts: &[f32], out: &mut [f32]| {
            for (o, x) in out.iter_mut().zip(pts.chunks(2)) {
                let lp = centred.log_density(x);
                *o =
                    lp + log_target(&[f64::from(x[0]) + MEAN[0], f64::from(x[1]) + MEAN[1]]) as f32;
            }
        },
        &mut p,
        &mut work,
    )
    .unwrap();
    assert!(r.complete, "{r:?}");
    let p64: Vec<f64> = p
        .chunks(2)
        .flat_map(|x| [f64::from(x[0]) + MEAN[0], f64::from(x[1]) + MEAN[1]])
        .collect();
    let (m, sd, _) = moments(&p64);
    for k in 0..2 {
        assert!((m[k] - MEAN[k]).abs() < 0.15 * SD[k], "mean {k}: {}", m[k]);
        assert!((sd[k] / SD[k] - 1.0).abs() < 0.12, "sd {k}: {}", sd[k]);
    }
}

/// Log density of the banana `x0 ~ N(0, 1)`, `x1 | x0 ~ N(B·(x0² − 1), S²)`, up to a
/// constant: far from the Gaussian the sweeps' surrogate assumes.
const B: f64 = 1.0;
const S: f64 = 0.5;
fn log_banana(x: &[f64]) -> f64 {
    let r = (x[1] - B * (x[0] * x[0] - 1.0)) / S;
    -0.5 * (x[0] * x[0] + r * r)
}

/// The delayed-acceptance sweeps keep a non-Gaussian target exactly: started from exact
/// draws of a banana (the proposal is the target, so every weight is equal) and swept 40
/// times (each sweep's surrogate is the Gaussian of the particles, wrong in shape), the
/// particles keep the banana's analytic moments, var x1 = 2B² + S² = 2.25 and
/// E[x0²·x1] = 2B. A surrogate's bias pulls both towards a Gaussian's: the second test
/// without its correction ends at var x1 = 1.39. Tolerances: over 20 seeds the sd of
/// var x1 was 0.055 and of E[x0²·x1] 0.061 (means 2.244 and 1.990; plain Metropolis on
/// the same draws 2.260 and 2.016 at 4,000 particles); the bounds are 5 of those.
#[test]
fn delayed_acceptance_keeps_a_non_gaussian_target() {
    let (n, steps) = (20000, 40);
    let mut particles = vec![0.0; 2 * n];
    let mut work = vec![0.0; work_len(n, 2)];
    let mut rows = 0;
    let cfg = RefineConfig {
        steps,
        ..RefineConfig::default()
    };
    let report = refine(
        &cfg,
        2,
        &mut Rng::new(6),
        |rng, x: &mut [f64]| {
            x[0] = rng.normal_f64();
            x[1] = B * (x[0] * x[0] - 1.0) + S * rng.normal_f64();
            Ok::<_, ()>(log_banana(x))
        },
        |pts: &[f64], out: &mut [f64]| {
            rows += out.len();
            for (o, x) in out.iter_mut().zip(pts.chunks(2)) {
                *o = log_banana(x);
            }
        },
        &mut particles,
        &mut work,
    )
    .unwrap();
    let m = n as f64;
    let mean1 = particles.chunks(2).map(|x| x[1]).sum::<f64>() / m;
    let var1 = particles
        .chunks(2)
        .map(|x| (x[1] - mean1).powi(2))
        .sum::<f64>()
        / (m - 1.0);
    let skew = particles.chunks(2).map(|x| x[0] * x[0] * x[1]).sum::<f64>() / m;
    assert_eq!(report.evaluations, rows);
    assert!(report.evaluations < n * (1 + steps as usize), "{report:?}");
    assert!(
        (var1 - (2.0 * B * B + S * S)).abs() < 0.29,
        "var x1 {var1} ({report:?})"
    );
    assert!(
        (skew - 2.0 * B).abs() < 0.33,
        "E[x0² x1] {skew} ({report:?})"
    );
}

/// [`NetworkProposal::log_density`] at a draw is the density [`NetworkProposal::draw`]
/// gave it: the flow's forward pass undoes the inverse pass, log-determinants included
/// (f32 round trip), for a plain and a near-identity cINN.
#[test]
fn network_log_density_at_a_draw_is_the_draws_density() {
    for bytes in [
        RandomArch::default_cinn()
            .build(5)
            .encode(Precision::F32)
            .unwrap(),
        near_identity_cinn([213.0, 1559.0], [0.05, 0.02]),
    ] {
        let model = Model::from_bytes(&bytes).unwrap();
        let y = vec![0.1f32; model.y_dim()];
        let mut ctx = vec![0.0f32; model.context_len()];
        model.prepare(&y, &mut ctx, &mut Scratch::new()).unwrap();
        let mut q = NetworkProposal::new(&model, &ctx, 1.5).unwrap();
        let mut rng = Rng::new(2);
        let mut x = vec![0.0f64; model.x_dim()];
        for _ in 0..50 {
            let drawn: f64 = q.draw(&mut rng, &mut x).unwrap();
            let at: f64 = q.log_density(&x).unwrap();
            assert!(
                (drawn - at).abs() < 2e-3 * (1.0 + drawn.abs()),
                "{drawn} vs {at}"
            );
        }
    }
}

/// The defensive mixture (20 % prior, 80 % widened network) as the tempering reference:
/// with the network 100 target sds off, the prior's share carries the run to the same
/// target (means, sds and correlation within the prior-only test's bounds); with the
/// network outside the box (no support) the run tempers from the prior alone, normalizing
/// constant included. A share of 0 is refused.
#[test]
fn defensive_mixture_fallback_recovers_the_target_when_the_network_misses() {
    let n = 2000;
    let config = TemperConfig::WORKSTATION;
    assert_eq!(config.prior_share, 0.2);
    let inside = near_identity_cinn([213.0, 1559.0], [0.05, 0.02]);
    let outside = near_identity_cinn([250.0, 1600.0], [0.05, 0.02]);
    for (bytes, path) in [
        (&inside, RefinePath::TemperedFromMixture),
        (&outside, RefinePath::TemperedFromPrior),
    ] {
        let (p, o, _) = fallback(bytes, n, &config, 11);
        assert_eq!(o.path, path);
        let t = o.tempered.expect("tempered report");
        assert!(t.complete && t.beta == 1.0, "{t:?}");
        if path == RefinePath::TemperedFromPrior {
            // From the mixture the particles reach the target, but the evidence estimate
            // does not: the reference's mass sits 100 sds away, the path crosses from
            // one to the other within a stage or two, and the log-mean of those stages'
            // weights falls short (−103 instead of −5.3 at seed 11).
            assert_evidence(&t);
        }
        assert_target_moments(&p, &t);
    }
    let bad = TemperConfig {
        prior_share: 0.0,
        ..TemperConfig::default()
    };
    let model = Model::from_bytes(&inside).unwrap();
    let mut ctx = vec![0.0f32; model.context_len()];
    model
        .prepare(&vec![0.1f32; model.y_dim()], &mut ctx, &mut Scratch::new())
        .unwrap();
    let mut particles = vec![0.0; 2 * 100];
    let mut work = vec![0.0; tempered_work_len(100, 2)];
    let r = refine_with_fallback(
        &RefineConfig::default(),
        &bad,
        &model,
        &ctx,
        0,
        &BOX[..],
        gaussian_in_box,
        |_| true,
        &mut particles,
        &mut work,
    );
    assert!(matches!(r, Err(RefineError::Settings { .. })), "{r:?}");
}

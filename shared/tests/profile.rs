//! Sound-speed profiles in the water column (`vina_core::acoustics` profile, Magnus steps)
//! against independent references: the closed-form isovelocity solvers, and a second
//! implementation of the same physics, the water cut into thin isovelocity layers solved
//! with exact layer propagators and Richardson-extrapolated over two layer counts.
//! KRAKENC itself is the reference of `bench/forward_crosscheck.py` (five SSP cases).

mod common;

use num_complex::Complex64 as C64;
use vina_core::acoustics::{
    AcousticsError, Layer, Layered, Medium, ModeSet, Pekeris, SspPoint, Waveguide, speed_at,
};
use vina_core::environment::Environment;

/// A summer profile: mixed layer, thermocline, isothermal bottom water (bench/cases).
const SUMMER: [(f64, f64); 6] = [
    (0.0, 1521.0),
    (10.0, 1520.5),
    (30.0, 1505.0),
    (50.0, 1494.0),
    (100.0, 1490.0),
    (216.5, 1488.5),
];

fn profile(points: &[(f64, f64)]) -> Vec<SspPoint<f64>> {
    points.iter().map(|&(z, c)| SspPoint::new(z, c)).collect()
}

fn solve(g: &impl Waveguide<f64>, f: f64) -> Box<ModeSet<f64, 256>> {
    let mut m = Box::new(ModeSet::new());
    g.modes(f, &mut m).unwrap();
    m
}

/// Water of `depth` as thin isovelocity layers (speed at each layer's middle) over the
/// sediment and basement: every profile segment cut into `per_metre` layers per metre
/// (rounded up), so that layer boundaries fall on the profile's points and the error is a
/// clean multiple of h²; the first layer is the "water", the rest "sediment" layers.
fn staircase_modes(
    ssp: &[SspPoint<f64>],
    depth: f64,
    water: Medium<f64>,
    below: &[Layer<f64>],
    basement: Medium<f64>,
    per_metre: f64,
    f: f64,
) -> Vec<C64> {
    let mut edges: Vec<f64> = ssp.iter().map(|p| p.depth).filter(|&z| z < depth).collect();
    edges.push(depth);
    let mut layers: Vec<Layer<f64>> = Vec::new();
    for w in edges.windows(2) {
        let n = ((w[1] - w[0]) * per_metre).ceil() as usize;
        let h = (w[1] - w[0]) / n as f64;
        for i in 0..n {
            let z = w[0] + (i as f64 + 0.5) * h;
            let medium = Medium {
                speed: speed_at(ssp, z),
                ..water
            };
            layers.push(Layer::new(h, medium));
        }
    }
    let top = layers.remove(0);
    layers.extend_from_slice(below);
    let g = Layered::new(top.thickness, top.medium, &layers, basement);
    solve(&g, f).modes().iter().map(|m| m.k).collect()
}

/// A profile whose speed is constant is isovelocity water: the Magnus steps reduce to the
/// exact propagator, so wavenumbers and pressures equal the closed-form Pekeris solver's.
#[test]
fn constant_profile_is_the_closed_form_solution() {
    let water = Medium::lossless(1510.0, 1.0);
    let bottom = Medium::new(1700.0, 1.5, 0.5);
    let ssp = profile(&[(0.0, 1510.0), (40.0, 1510.0), (150.0, 1510.0)]);
    let closed = Pekeris::new(220.0, water, bottom);
    let layered = Layered::new(220.0, water, &[], bottom).with_profile(&ssp);
    for f in [49.0, 148.0] {
        let (a, b) = (solve(&closed, f), solve(&layered, f));
        assert_eq!(a.len(), b.len());
        for (x, y) in a.modes().iter().zip(b.modes()) {
            assert!(
                (x.k - y.k).norm() < 1e-12 * x.k.norm(),
                "{f} Hz: {} vs {}",
                x.k,
                y.k
            );
        }
        let zr = [30.0, 110.0, 190.0];
        let mut pa = [C64::new(0.0, 0.0); 3];
        let mut pb = pa;
        a.pressure_at(60.0, 3000.0, &zr, &mut pa).unwrap();
        layered.pressure_at(&b, 60.0, 3000.0, &zr, &mut pb).unwrap();
        let max = pa.iter().map(|p| p.norm()).fold(0.0, f64::max);
        for (x, y) in pa.iter().zip(&pb) {
            assert!((x - y).norm() < 1e-9 * max, "{f} Hz: {x} vs {y}");
        }
        // profile modes cannot be summed without the waveguide
        assert_eq!(
            b.pressure_at(60.0, 3000.0, &zr, &mut pb),
            Err(AcousticsError::ShapesNeedWaveguide)
        );
    }
}

/// The summer profile over a lossy half-space and over a lossy sediment layer, at 49 and
/// 148 Hz: every wavenumber within 1e-9 relative of the thin-layer staircase
/// Richardson-extrapolated from 4 and 8 layers per metre (the staircase converges as h²;
/// the extrapolation's own error, its change from 2/4 layers per metre, is printed), and
/// the same mode count.
#[test]
fn summer_profile_matches_the_layer_staircase() {
    let ssp = profile(&SUMMER);
    let water = Medium::lossless(1521.0, 1.0);
    let sediment = [Layer::new(23.5, Medium::new(1580.0, 1.76, 0.3))];
    let cases: [(&[Layer<f64>], Medium<f64>); 2] = [
        (&[], Medium::new(1700.0, 1.5, 0.5)),
        (&sediment, Medium::new(1780.0, 2.0, 0.1)),
    ];
    for (below, basement) in cases {
        for f in [49.0, 148.0] {
            let g = Layered::new(216.5, water, below, basement).with_profile(&ssp);
            let magnus: Vec<C64> = solve(&g, f).modes().iter().map(|m| m.k).collect();
            let stairs = |n| staircase_modes(&ssp, 216.5, water, below, basement, n, f);
            let (k300, k600, k1200) = (stairs(2.0), stairs(4.0), stairs(8.0));
            assert_eq!(magnus.len(), k1200.len(), "{f} Hz: mode count");
            assert_eq!(k600.len(), k1200.len());
            let mut worst: f64 = 0.0;
            let mut spread: f64 = 0.0;
            for i in 0..magnus.len() {
                let rich = (k1200[i] * 4.0 - k600[i]) / 3.0;
                let coarse = (k600[i] * 4.0 - k300[i]) / 3.0;
                spread = spread.max((rich - coarse).norm() / rich.norm());
                let err = (magnus[i] - rich).norm() / rich.norm();
                worst = worst.max(err);
                assert!(
                    err < 1e-9,
                    "{f} Hz mode {}: {} vs {rich} ({err:e})",
                    i + 1,
                    magnus[i]
                );
            }
            println!(
                "{} sediment layer(s), {f} Hz: {} modes, worst |Δk|/|k| {worst:.1e} (extrapolation change {spread:.1e})",
                below.len(),
                magnus.len()
            );
        }
    }
}

/// The mode count of a profile, checked independently: the zeros of a characteristic
/// function written from scratch in the tests (`common::characteristic`, closed-form layer
/// solutions in k) for the water cut into thin isovelocity layers, counted by the
/// argument principle in the strip where KRAKENC keeps modes (phase speed below the
/// basement's, attenuation up to 0.02 rad/m), equal the solver's, at 49 and 148 Hz over a
/// lossy sediment layer.
#[test]
fn profile_mode_count_matches_argument_principle() {
    let ssp = profile(&SUMMER);
    let water = Medium::lossless(1521.0, 1.0);
    let sediment = [Layer::new(23.5, Medium::new(1580.0, 1.76, 0.3))];
    let basement = Medium::new(1780.0, 2.0, 0.1);
    let g = Layered::new(216.5, water, &sediment, basement).with_profile(&ssp);
    // the staircase: 2 layers per metre, boundaries on the profile's points
    let mut layers = Vec::new();
    let mut edges: Vec<f64> = ssp.iter().map(|p| p.depth).collect();
    edges.dedup();
    for w in edges.windows(2) {
        let n = ((w[1] - w[0]) * 2.0).ceil() as usize;
        let h = (w[1] - w[0]) / n as f64;
        for i in 0..n {
            let c = speed_at(&ssp, w[0] + (i as f64 + 0.5) * h);
            layers.push(Layer::new(h, Medium { speed: c, ..water }));
        }
    }
    let top = layers.remove(0);
    layers.extend_from_slice(&sediment);
    let stairs = Layered::new(top.thickness, top.medium, &layers, basement);
    for f in [49.0, 148.0] {
        let modes = solve(&g, f);
        let w = 2.0 * std::f64::consts::PI * f;
        let counted = common::zeros_in(
            |k| common::characteristic(&stairs, f, k),
            (w / 1780.0 * (1.0 + 1e-7), w / 1487.0),
            (-0.02, 3e-9),
        );
        println!(
            "{f} Hz: {} modes, {counted} zeros by the argument principle",
            modes.len()
        );
        assert_eq!(modes.len() as i64, counted, "{f} Hz");
    }
}

/// Mode shapes of a profile: continuous across the water–sediment interface, zero at the
/// surface, and normalized: ∫ψ²/ρ dz (trapezoid on a fine grid through water, sediment
/// and a long stretch of the half-space) is 1 for the lossless modes.
#[test]
fn profile_mode_shapes_are_normalized() {
    let ssp = profile(&SUMMER);
    let sediment = [Layer::new(23.5, Medium::lossless(1580.0, 1.76))];
    let g = Layered::new(
        216.5,
        Medium::lossless(1521.0, 1.0),
        &sediment,
        Medium::lossless(1780.0, 2.0),
    )
    .with_profile(&ssp);
    let f = 148.0;
    let modes = solve(&g, f);
    for (i, m) in modes.modes().iter().enumerate() {
        let shape = |z: f64| g.mode_shape(f, m, z).unwrap();
        assert!(shape(0.0).norm() < 1e-14);
        let (above, below) = (shape(216.5 - 1e-9), shape(216.5 + 1e-9));
        assert!(
            (above - below).norm() < 1e-6 * above.norm().max(1e-3),
            "mode {}",
            i + 1
        );
        // ∫ψ²/ρ: water (ρ 1), sediment (1.76), half-space (2.0) to where ψ has decayed
        let depth_end = 240.0 + 40.0 / m.gamma.re.max(1e-3);
        let n = 20_000;
        let dz = depth_end / n as f64;
        let mut sum = 0.0;
        for j in 0..=n {
            let z = j as f64 * dz;
            let rho = if z <= 216.5 {
                1.0
            } else if z <= 240.0 {
                1.76
            } else {
                2.0
            };
            let w = if j == 0 || j == n { 0.5 } else { 1.0 };
            sum += w * shape(z).re.powi(2) / rho * dz;
        }
        assert!((sum - 1.0).abs() < 1e-4, "mode {}: ∫ψ²/ρ = {sum}", i + 1);
    }
}

/// Bad profiles are typed errors, never a panic or a silent answer.
#[test]
fn bad_profiles_are_typed_errors() {
    let water = Medium::lossless(1500.0, 1.0);
    let bottom = Medium::new(1700.0, 1.5, 0.5);
    let check = |ssp: &[SspPoint<f64>], want: AcousticsError| {
        let g = Layered::new(200.0, water, &[], bottom).with_profile(ssp);
        assert_eq!(g.lossless_mode_count(100.0), Err(want), "{ssp:?}");
    };
    use vina_core::acoustics::Param;
    check(&profile(&[(5.0, 1500.0)]), AcousticsError::ProfileStart);
    check(
        &profile(&[(0.0, 1500.0), (50.0, 1490.0), (50.0, 1480.0)]),
        AcousticsError::ProfileNotIncreasing(2),
    );
    check(
        &profile(&[(0.0, 1500.0), (50.0, f64::NAN)]),
        AcousticsError::NotFinite(Param::ProfileSpeed(1)),
    );
    check(
        &profile(&[(0.0, 1500.0), (50.0, -1.0)]),
        AcousticsError::NotPositive(Param::ProfileSpeed(1)),
    );
    // a profile slower than the basement nowhere: no trapped modes
    check(
        &profile(&[(0.0, 1750.0), (100.0, 1800.0)]),
        AcousticsError::NoTrappedModes,
    );
    // the environment path refuses the same way
    let mut env = Environment {
        water_depth: 200.0,
        water,
        water_profile: heapless::Vec::new(),
        sediment: heapless::Vec::new(),
        bottom,
        source_depth: 50.0,
        source_range: 3000.0,
    };
    env.water_profile.push(SspPoint::new(3.0, 1500.0)).unwrap();
    let mut modes = Box::new(ModeSet::<f64, 64>::new());
    assert_eq!(
        env.modes(100.0, &mut modes),
        Err(AcousticsError::ProfileStart)
    );
}

/// Modes started from a nearby environment's roots (`Waveguide::modes_from`, what
/// refinement does from one θ to the next) equal the full search's, along a path of
/// environments that crosses a mode's cut-off (where the count guard must send the solve
/// back to the full search), for Pekeris, a layered seabed and a profile.
#[test]
fn warm_started_modes_equal_the_full_search() {
    let ssp = profile(&SUMMER);
    let sediment = [Layer::new(23.5, Medium::new(1580.0, 1.76, 0.3))];
    let basement = Medium::new(1780.0, 2.0, 0.1);
    let f = 148.0;
    for kind in 0..3 {
        let mut seeds = vina_core::acoustics::Seeds::new();
        let (mut warm, mut counts) = (0, Vec::new());
        for i in 0..60 {
            // water depth 210 → 222 m: the mode count changes on the way (one more mode
            // every ~9 m of depth here)
            let d = 210.0 + 0.2 * i as f64;
            let water = Medium::lossless(1500.0 + 0.02 * i as f64, 1.0);
            let pekeris = Pekeris::new(d, water, basement);
            let layered = Layered::new(d, water, &sediment, basement);
            let profiled = Layered::new(d, water, &sediment, basement).with_profile(&ssp);
            let mut a = Box::new(ModeSet::<f64, 64>::new());
            let mut b = Box::new(ModeSet::<f64, 64>::new());
            let used = match kind {
                0 => {
                    pekeris.modes(f, &mut a).unwrap();
                    pekeris.modes_from(f, seeds.at(f), &mut b).unwrap()
                }
                1 => {
                    layered.modes(f, &mut a).unwrap();
                    layered.modes_from(f, seeds.at(f), &mut b).unwrap()
                }
                _ => {
                    profiled.modes(f, &mut a).unwrap();
                    profiled.modes_from(f, seeds.at(f), &mut b).unwrap()
                }
            };
            seeds.keep(&b);
            warm += usize::from(used);
            counts.push(a.lossless_count());
            assert_eq!(a.len(), b.len(), "kind {kind}, D {d}");
            assert_eq!(a.lossless_count(), b.lossless_count());
            for (x, y) in a.modes().iter().zip(b.modes()) {
                assert!(
                    (x.k - y.k).norm() < 1e-10 * x.k.norm(),
                    "kind {kind}, D {d}"
                );
                assert!(
                    (x.coef - y.coef).norm() < 1e-8 * x.coef.norm(),
                    "kind {kind}, D {d}"
                );
            }
        }
        counts.dedup();
        println!("kind {kind}: {warm}/60 solves warm-started; lossless counts {counts:?}");
        assert!(counts.len() > 1, "the path must cross a cut-off");
        assert!(warm >= 45, "kind {kind}: only {warm} of 60 warm");
    }
}

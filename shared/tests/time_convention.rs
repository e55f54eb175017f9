//! The time convention that ties the forward model's complex pressure to hydrophone samples
//! (`vina_core::acoustics::{tone_signal, amplitude_from_dft}`), derived from physics rather
//! than from our own synthesizer: a normal mode is a wave that travels **outward** from the
//! source (a receiver farther away sees the same crest later) and **decays** with range.
//! The recordings below are written as real travelling waves, cos(ω·t − κ·r + φ), with no
//! complex exponential and so no convention of their own; the DFT of such a recording,
//! turned into a model amplitude by `amplitude_from_dft`, must equal the model's pressure
//! up to the source's common factor. With the opposite convention (conjugated DFT) it does
//! not, and each test checks that too, so it can fail.

use num_complex::Complex;
use vina_core::acoustics::{Medium, ModeSet, Pekeris, Waveguide, amplitude_from_dft, tone_signal};
use vina_core::features::{FeatureKind, goertzel};

type C64 = Complex<f64>;

/// The wrapped phase difference a − b in (−π, π].
fn wrap(x: f64) -> f64 {
    let t = std::f64::consts::TAU;
    x - t * ((x + std::f64::consts::PI) / t).floor()
}

/// The measured model amplitude of one channel: DFT over the whole record, then the core's
/// conversion.
fn measure(samples: &[f64], f: f64, fs: f64) -> C64 {
    let x: Vec<f32> = samples.iter().map(|&v| v as f32).collect();
    let [re, im] = goertzel(&x, f as f32, fs as f32);
    amplitude_from_dft(Complex::new(f64::from(re), f64::from(im)), x.len() as f64)
}

/// One propagating mode (7 Hz in 220 m of water over a 1,700 m/s bottom: mode 2 is cut off
/// near 10.9 Hz). Two receivers 40 m apart in range at the same depth record the outgoing,
/// decaying wave; the phase and level of the farther one relative to the nearer one are
/// those of the model's pressure, and the conjugated convention gets the phase's sign wrong.
#[test]
fn a_travelling_mode_measured_at_two_ranges_has_the_model_s_phase_advance() {
    let f = 7.0;
    let guide = Pekeris::new(
        220.0,
        Medium::lossless(1500.0, 1.0),
        Medium::new(1700.0, 1.5, 0.5),
    );
    let mut modes = ModeSet::<f64, 8>::new();
    guide.modes(f, &mut modes).unwrap();
    assert_eq!(modes.len(), 1, "the case needs exactly one mode");
    let k = modes.modes()[0].k;
    let (kappa, alpha) = (k.re, k.im.abs());
    assert!(kappa > 0.0 && alpha > 0.0);

    let (zs, z, r1, dr) = (60.0, 100.0, 3000.0, 40.0);
    let r2 = r1 + dr;
    let p1 = modes.pressure(zs, r1, z).unwrap();
    let p2 = modes.pressure(zs, r2, z).unwrap();

    // The physical wave: amplitude spreading as 1/√r and absorbed as e^{−α·r}; phase
    // ω·t − κ·r, so a crest at r at time t is at r + ω·δt/κ at time t + δt (outgoing).
    let fs = 100.0;
    let n = 6000; // 60 s: 420 whole cycles of 7 Hz
    let omega = std::f64::consts::TAU * f;
    let phi0 = 0.3;
    let record = |r: f64| -> Vec<f64> {
        (0..n)
            .map(|i| {
                let t = i as f64 / fs;
                (-alpha * r).exp() / r.sqrt() * (omega * t - kappa * r + phi0).cos()
            })
            .collect()
    };
    let m1 = measure(&record(r1), f, fs);
    let m2 = measure(&record(r2), f, fs);

    let model = p2 / p1;
    let measured = m2 / m1;
    // the model's own phase advance is −κ·Δr (≈ −1.2 rad here): the check is not trivial
    assert!((wrap(model.arg() + kappa * dr)).abs() < 1e-3, "{model}");
    assert!(
        wrap(measured.arg() - model.arg()).abs() < 1e-3,
        "measured phase advance {} vs model {}",
        measured.arg(),
        model.arg()
    );
    assert!(
        (measured.norm() / model.norm() - 1.0).abs() < 1e-3,
        "measured level ratio {} vs model {}",
        measured.norm(),
        model.norm()
    );
    // the opposite convention (the DFT conjugated) reverses the advance
    let conjugated = m2.conj() / m1.conj();
    assert!(wrap(conjugated.arg() - model.arg()).abs() > 2.0);
}

/// The buoy's case: a vertical array of five receivers at one range, seven tones, many
/// modes (a lossless bottom, so that mode shapes are real and each mode is exactly one
/// real travelling wave; decay is the first test's). Each mode is written as a real travelling wave of its own speed, mode shape
/// ψ(z_s)·ψ(z) and decay, all with the source's common phase; the relative transfer
/// function of the measured amplitudes equals that of the model's pressure.
#[test]
fn a_multimode_recording_gives_the_model_s_relative_transfer_function() {
    let tones = [49.0, 64.0, 79.0, 94.0, 112.0, 130.0, 148.0];
    let receivers = [30.0, 70.0, 110.0, 150.0, 190.0];
    let (zs, r) = (60.0, 3000.0);
    let guide = Pekeris::new(
        204.1,
        Medium::lossless(1566.0, 1.0),
        Medium::lossless(1700.0, 1.5),
    );
    let fs = 1000.0;
    let n = 8000usize;
    let mut model = Vec::new();
    let mut measured = Vec::new();
    let mut conjugated = Vec::new();
    for (t, &f) in tones.iter().enumerate() {
        let mut modes = ModeSet::<f64, 64>::new();
        guide.modes(f, &mut modes).unwrap();
        assert!(modes.len() > 3);
        let mut p = [C64::new(0.0, 0.0); 5];
        modes.pressure_at(zs, r, &receivers, &mut p).unwrap();
        let omega = std::f64::consts::TAU * f;
        let phi0 = 0.7 * t as f64; // an arbitrary source phase per tone
        for &z in &receivers {
            let x: Vec<f64> = (0..n)
                .map(|i| {
                    let time = i as f64 / fs;
                    modes
                        .modes()
                        .iter()
                        .map(|m| {
                            let (kappa, alpha) = (m.k.re, m.k.im.abs());
                            let a = m.shape_in_water(zs).re * m.shape_in_water(z).re;
                            a * (-alpha * r).exp() / (kappa * r).sqrt()
                                * (omega * time - kappa * r + phi0).cos()
                        })
                        .sum()
                })
                .collect();
            let m = measure(&x, f, fs);
            measured.push([m.re as f32, m.im as f32]);
            conjugated.push([m.re as f32, -m.im as f32]);
        }
        model.extend(p.iter().map(|c| [c.re as f32, c.im as f32]));
    }
    let kind = FeatureKind::RelativeTransferFunction;
    let features = |v: &[[f32; 2]]| {
        let mut y = vec![0.0f32; kind.len(tones.len(), receivers.len())];
        kind.compute(v, tones.len(), receivers.len(), &mut y)
            .unwrap();
        y
    };
    let (a, b, c) = (features(&measured), features(&model), features(&conjugated));
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(worst < 1e-4, "measured vs model features differ by {worst}");
    let wrong = c
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(
        wrong > 0.3,
        "the conjugated convention should not fit: {wrong}"
    );
}

/// `tone_signal` is the inverse of `amplitude_from_dft` on whole cycles, for any amplitude.
#[test]
fn tone_signal_and_amplitude_from_dft_are_inverse() {
    let fs = 1000.0;
    let f = 64.0;
    for p in [C64::new(1.0, 0.0), C64::new(0.0, 1.0), C64::new(-0.3, 0.8)] {
        let x: Vec<f64> = (0..1000)
            .map(|i| tone_signal(p, std::f64::consts::TAU * f * i as f64 / fs))
            .collect();
        let got = measure(&x, f, fs);
        assert!((got - p).norm() < 1e-4, "{got} vs {p}");
    }
}

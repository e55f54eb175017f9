//! Nothing silent, binary readers: seeded mutation fuzzing of every `vina-core` decoder that
//! reads bytes a user (or a radio link) hands over — model files, recordings and report
//! frames. Each target runs a fixed number of cases from a fixed seed (bounded time in CI;
//! a failure names the target, the case and its seed so it reproduces) and checks that the
//! reader returns `Ok` or a typed error, never panics, and that what it accepts is usable:
//! a decoded model draws a sample (finite, or a typed error), a decoded recording reads
//! every frame, a decoded report re-encodes to the same report.
//!
//! Bytes are mutated twice over: as they are (the CRC must refuse every change), and
//! re-sealed with a correct CRC, so that the decoder's structural checks have to hold on
//! their own.

use std::panic::{AssertUnwindSafe, catch_unwind};

use vina_core::error::ModelError;
use vina_core::features::FeatureKind;
use vina_core::layers::Scratch;
use vina_core::model::Model;
use vina_core::model_file::{self, PREAMBLE_LEN};
use vina_core::recording::{self, Recording};
use vina_core::report::{self, Refined, Rejection, Report, Status};
use vina_core::rng::Rng;
use vina_core::spec::{Precision, RandomArch};
use vina_core::summary::SummaryValues;

/// The committed on-device model (a trained cINN with its environment template).
const COMMITTED_MODEL: &[u8] = include_bytes!("../../models/gi-pekeris-cinn.vina");

/// Run `cases` cases of `case(rng, index)`, each from its own seeded generator; a panic
/// fails the test naming the target, the case and the seed.
fn fuzz(target: &str, seed: u64, cases: u64, mut case: impl FnMut(&mut Rng, u64)) {
    for i in 0..cases {
        let mut rng = Rng::for_index(seed, i);
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| case(&mut rng, i))) {
            let msg = p
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| p.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string panic)");
            panic!("{target}: case {i} (Rng::for_index({seed}, {i})) panicked: {msg}");
        }
    }
}

fn below(rng: &mut Rng, n: usize) -> usize {
    if n == 0 {
        0
    } else {
        (rng.next_u64() % n as u64) as usize
    }
}

/// Values that break naive arithmetic, as little-endian words.
fn extreme_u32(rng: &mut Rng) -> u32 {
    const WORDS: [u32; 14] = [
        0,
        1,
        2,
        0x7f,
        0x80,
        0xff,
        0xffff,
        0x7fff_ffff,
        0x8000_0000,
        u32::MAX,
        0x7f80_0000, // +inf
        0xff80_0000, // -inf
        0x7fc0_0000, // NaN
        0x0000_0001, // smallest subnormal
    ];
    WORDS[below(rng, WORDS.len())]
}

/// One to `max` random edits: bit flips, byte overwrites (random or extreme), insertions,
/// deletions, an extreme u32 written at a random offset, a truncation, a duplicated range.
fn mutate(bytes: &mut Vec<u8>, rng: &mut Rng, protect: usize, max: usize) {
    let edits = 1 + below(rng, max);
    for _ in 0..edits {
        let lo = protect.min(bytes.len());
        let at = lo + below(rng, bytes.len() - lo + 1);
        match below(rng, 8) {
            0 | 1 if at < bytes.len() => bytes[at] ^= 1 << below(rng, 8),
            2 if at < bytes.len() => bytes[at] = rng.next_u32() as u8,
            3 => bytes.insert(at, rng.next_u32() as u8),
            4 if at < bytes.len() => {
                bytes.remove(at);
            }
            5 if at + 4 <= bytes.len() => {
                bytes[at..at + 4].copy_from_slice(&extreme_u32(rng).to_le_bytes())
            }
            6 if below(rng, 4) == 0 => bytes.truncate(at),
            7 if at < bytes.len() => {
                let end = (at + 1 + below(rng, 16)).min(bytes.len());
                let dup = bytes[at..end].to_vec();
                bytes.splice(at..at, dup);
            }
            _ if at < bytes.len() => bytes[at] = [0u8, 0xff, 0x80, 0x7f][below(rng, 4)],
            _ => bytes.push(rng.next_u32() as u8),
        }
    }
}

/// Re-seal a model payload with a valid preamble (magic, version, length, CRC).
fn reseal_model(payload: &[u8]) -> Vec<u8> {
    let mut f = model_file::preamble(payload).to_vec();
    f.extend_from_slice(payload);
    f
}

/// Decode; if that succeeds, prepare and draw one sample. No panic either way; a sample
/// that comes back `Ok` is finite.
fn decode_and_sample(bytes: &[u8], rng: &mut Rng) -> Result<(), ModelError> {
    let model = Model::from_bytes(bytes)?;
    let _ = model.macs_per_sample();
    let _ = model.template();
    let y: Vec<f32> = (0..model.y_dim()).map(|_| rng.normal_f32()).collect();
    let mut ctx = vec![0.0f32; model.context_len()];
    let mut scratch = Scratch::new();
    model.prepare(&y, &mut ctx, &mut scratch)?;
    let mut z = vec![0.0f32; model.latent_dim()];
    rng.fill_normal(&mut z);
    let mut x = vec![0.0f32; model.x_dim()];
    let log_det = model.sample(&ctx, &z, &mut x, &mut scratch)?;
    // A decoded model with finite weights can still overflow (a mutated weight of 1e38);
    // what it must not do is panic. Non-finite draws are the caller's to flag (`vina
    // invert` refuses them by name); nothing here may be an undefined value.
    let _ = (log_det.is_finite(), x.iter().all(|v| v.is_finite()));
    Ok(())
}

/// The random models: every architecture of the coverage set, f32 and int8.
fn random_models() -> Vec<Vec<u8>> {
    RandomArch::coverage_set()
        .iter()
        .enumerate()
        .flat_map(|(i, arch)| {
            let spec = arch.build(100 + i as u64);
            [Precision::F32, Precision::Int8].map(|p| spec.encode(p).unwrap())
        })
        .collect()
}

#[test]
fn committed_model_decodes_and_samples() {
    let mut rng = Rng::new(1);
    decode_and_sample(COMMITTED_MODEL, &mut rng).unwrap();
}

/// Mutated committed model as it is: every change is refused (mostly by the CRC), none
/// panics.
#[test]
fn mutated_committed_model_is_refused() {
    let mut by_crc = 0;
    let cases = 2000;
    fuzz("committed model, unsealed", 11, cases, |rng, _| {
        let mut bytes = COMMITTED_MODEL.to_vec();
        mutate(&mut bytes, rng, 0, 4);
        let result = decode_and_sample(&bytes, rng);
        if bytes != COMMITTED_MODEL {
            let err = result.expect_err("a changed model file was accepted");
            by_crc += usize::from(matches!(err, ModelError::CrcMismatch { .. }));
        }
    });
    eprintln!("committed model: {by_crc} of {cases} mutations refused by the CRC");
    assert!(by_crc > cases as usize / 3, "{by_crc} of {cases}");
}

/// Mutated committed model re-sealed with a valid CRC: the record decoder's own checks.
#[test]
fn resealed_committed_model_never_panics() {
    let mut accepted = 0;
    fuzz("committed model, resealed", 12, 3000, |rng, _| {
        let mut payload = COMMITTED_MODEL[PREAMBLE_LEN..].to_vec();
        mutate(&mut payload, rng, 0, 3);
        // bias half of the cases towards the header and record counts at the front
        if below(rng, 2) == 0 {
            let at = below(rng, 64.min(payload.len()));
            if let Some(b) = payload.get_mut(at) {
                *b = rng.next_u32() as u8;
            }
        }
        accepted += usize::from(decode_and_sample(&reseal_model(&payload), rng).is_ok());
    });
    eprintln!("committed model, resealed: {accepted} of 3000 mutations still decode");
}

/// Random models of every architecture, unsealed and resealed.
#[test]
fn mutated_random_models_never_panic() {
    let models = random_models();
    fuzz("random models", 13, 4000, |rng, i| {
        let file = &models[i as usize % models.len()];
        if i % 3 == 0 {
            let mut bytes = file.clone();
            mutate(&mut bytes, rng, 0, 4);
            let result = decode_and_sample(&bytes, rng);
            if &bytes != file {
                assert!(result.is_err(), "a changed model file was accepted");
            }
        } else {
            let mut payload = file[PREAMBLE_LEN..].to_vec();
            mutate(&mut payload, rng, 0, 6);
            let _ = decode_and_sample(&reseal_model(&payload), rng);
        }
    });
}

/// Random bytes behind a valid or an invalid preamble.
#[test]
fn random_bytes_as_model_never_panic() {
    fuzz("random bytes as model", 14, 10_000, |rng, i| {
        let len = below(rng, 400);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
        let file = if i % 2 == 0 {
            reseal_model(&bytes)
        } else {
            bytes
        };
        let _ = decode_and_sample(&file, rng);
    });
}

// ---- recordings -------------------------------------------------------------------------

/// Recompute a recording's CRC (bytes 20..24: CRC-32 of bytes 0..20 and the samples).
fn reseal_recording(bytes: &mut [u8]) {
    if bytes.len() < recording::HEADER_LEN {
        return;
    }
    let crc = model_file::crc32_parts(&[&bytes[..20], &bytes[recording::HEADER_LEN..]]);
    bytes[20..24].copy_from_slice(&crc.to_le_bytes());
}

fn random_recording(rng: &mut Rng) -> Vec<u8> {
    let channels = 1 + below(rng, 6) as u16;
    let frames = below(rng, 40);
    let codes: Vec<i32> = (0..frames * usize::from(channels))
        .map(|_| rng.next_u32() as i32 >> below(rng, 32))
        .collect();
    let rate = [1500.0, 48_000.0, 1.0e-30, f32::MAX][below(rng, 4)];
    Recording::encode(channels, rate, 1 << 23, &codes)
}

/// What a decoded recording must give: every frame in range, `None` past the end (any
/// index, however large), and a length that matches its header.
fn read_recording(bytes: &[u8]) {
    let Ok(r) = Recording::from_bytes(bytes) else {
        return;
    };
    assert!(r.channels > 0 && r.full_scale > 0);
    assert!(r.sample_rate_hz.is_finite() && r.sample_rate_hz > 0.0);
    assert_eq!(
        bytes.len(),
        recording::HEADER_LEN + 4 * r.frames * r.channels
    );
    let mut out = vec![0i32; r.channels];
    for i in 0..r.frames {
        assert!(r.frame(i, &mut out).is_some(), "frame {i} of {}", r.frames);
    }
    let stride = r.channels * 4;
    for i in [
        r.frames,
        r.frames + 1,
        usize::MAX / stride,
        usize::MAX / stride - 1,
        usize::MAX / 4,
        usize::MAX - 1,
        usize::MAX,
    ] {
        assert!(r.frame(i, &mut out).is_none(), "frame {i} past the end");
    }
    // a short or long output buffer is the caller's choice, not a panic
    let _ = r.frame(0, &mut []);
    let _ = r.frame(0, &mut vec![0; r.channels + 3]);
}

#[test]
fn mutated_recordings_never_panic() {
    fuzz("recordings", 21, 10_000, |rng, i| {
        let good = random_recording(rng);
        read_recording(&good);
        Recording::from_bytes(&good).expect("an encoded recording decodes");
        let mut bytes = good.clone();
        // a third of the cases target the header's fields with extreme words
        if i % 3 == 0 {
            let field = [4, 6, 8, 12, 16][below(rng, 5)];
            let w = extreme_u32(rng).to_le_bytes();
            let n = if field == 4 || field == 6 { 2 } else { 4 };
            bytes[field..field + n].copy_from_slice(&w[..n]);
        } else {
            mutate(&mut bytes, rng, 0, 4);
        }
        if bytes != good {
            assert!(
                Recording::from_bytes(&bytes).is_err(),
                "a changed recording was accepted"
            );
        }
        reseal_recording(&mut bytes);
        read_recording(&bytes);
    });
}

#[test]
fn random_bytes_as_recording_never_panic() {
    fuzz("random bytes as recording", 22, 10_000, |rng, i| {
        let len = below(rng, 200);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
        if i % 2 == 0 && bytes.len() >= 8 {
            bytes[..4].copy_from_slice(&recording::MAGIC);
            bytes[4..6].copy_from_slice(&recording::VERSION.to_le_bytes());
        }
        if i % 4 == 0 {
            reseal_recording(&mut bytes);
        }
        read_recording(&bytes);
    });
}

// ---- report frames ----------------------------------------------------------------------

fn random_summary(rng: &mut Rng) -> SummaryValues {
    let outside_support = rng.next_u32();
    let mut f = || f32::from_bits(rng.next_u32());
    SummaryValues {
        count: 1000,
        non_finite: 0,
        outside_support,
        mean: f(),
        std: f(),
        q05: f(),
        q50: f(),
        q95: f(),
    }
}

fn random_report(rng: &mut Rng) -> Report {
    let n = below(rng, report::MAX_PARAMS + 1);
    let parameters: heapless::Vec<SummaryValues, { report::MAX_PARAMS }> =
        (0..n).map(|_| random_summary(rng)).collect();
    let status = match below(rng, 6) {
        0 => Status::Rejected(Rejection::NonFiniteInput),
        1 => Status::Rejected(Rejection::Clipped {
            channel: below(rng, 8) as u8,
        }),
        2 => Status::Rejected(Rejection::DroppedFrames),
        _ => Status::Posterior,
    };
    let refined = (below(rng, 2) == 0).then(|| Refined {
        particles: rng.next_u32() as u16,
        steps: rng.next_u32() as u16,
        ess: f32::from_bits(rng.next_u32()),
        max_weight: rng.uniform_f32(),
        acceptance: rng.uniform_f32(),
        missed: below(rng, 2) == 0,
        instructions: rng.next_u64(),
        target_instructions: rng.next_u64(),
        parameters: parameters.clone(),
        evaluations: rng.next_u32(),
    });
    Report {
        sequence: rng.next_u32(),
        scenario_hash: rng.next_u64(),
        samples: rng.next_u32(),
        seed: rng.next_u64(),
        clipped_samples: rng.next_u32(),
        non_finite_values: rng.next_u32(),
        dropped_frames: rng.next_u32(),
        blanked_samples: rng.next_u32(),
        status,
        parameters,
        refined,
    }
}

/// Frame `raw` (postcard bytes) with a correct CRC, as the firmware would.
fn seal_frame(raw: &[u8]) -> Vec<u8> {
    let mut body = raw.to_vec();
    body.extend_from_slice(&model_file::crc32(raw).to_le_bytes());
    let mut frame = vec![0u8; cobs::max_encoding_length(body.len()) + 1];
    let n = cobs::try_encode(&body, &mut frame).unwrap();
    frame.truncate(n + 1); // the delimiter: the buffer's zero after the body
    frame
}

/// Decode a frame; a report that decodes re-encodes and decodes to itself (bitwise: NaN
/// summaries included).
fn decode_frame(frame: &[u8]) -> Option<Report> {
    let mut buf = frame.to_vec();
    let r = Report::decode(&mut buf).ok()?;
    let mut out = vec![0u8; report::MAX_FRAME];
    // a report that decodes but does not fit a frame (it cannot come from the buoy) is an
    // error, not a panic
    if let Ok(n) = r.encode(&mut out) {
        let again = Report::decode(&mut out[..n]).expect("a re-encoded report decodes");
        assert_eq!(
            postcard::to_allocvec(&again).unwrap(),
            postcard::to_allocvec(&r).unwrap()
        );
    }
    Some(r)
}

#[test]
fn mutated_report_frames_never_panic() {
    let mut resealed_ok = 0;
    fuzz("report frames", 31, 10_000, |rng, i| {
        let r = random_report(rng);
        let mut frame = vec![0u8; report::MAX_FRAME];
        let n = r.encode(&mut frame).unwrap();
        frame.truncate(n);
        assert!(decode_frame(&frame).is_some(), "an encoded report decodes");
        if i % 2 == 0 {
            // the frame on the wire: COBS and CRC must refuse what changed
            let mut bad = frame.clone();
            mutate(&mut bad, rng, 0, 3);
            let decoded = decode_frame(&bad);
            if bad != frame
                && let Some(d) = decoded
            {
                // only a change COBS undoes (a dropped delimiter) may still decode
                assert_eq!(
                    postcard::to_allocvec(&d).unwrap(),
                    postcard::to_allocvec(&r).unwrap()
                );
            }
        } else {
            // the postcard bytes, re-sealed with a correct CRC: the decoder's own checks
            let mut raw = postcard::to_allocvec(&r).unwrap();
            mutate(&mut raw, rng, 0, 3);
            resealed_ok += usize::from(decode_frame(&seal_frame(&raw)).is_some());
        }
    });
    eprintln!("report frames: {resealed_ok} of 5000 resealed mutations still decode");
}

#[test]
fn random_bytes_as_report_frame_never_panic() {
    fuzz("random report frames", 32, 10_000, |rng, i| {
        let len = below(rng, if i % 10 == 0 { 3000 } else { 120 });
        let bytes: Vec<u8> = (0..len).map(|_| rng.next_u32() as u8).collect();
        let _ = decode_frame(&bytes);
        // the same bytes as a valid COBS frame with a correct CRC
        let _ = decode_frame(&seal_frame(&bytes));
    });
}

/// Report frame encoding refuses, not panics, on a buffer too small for the frame.
#[test]
fn report_encode_into_short_buffers_is_an_error() {
    fuzz("report encode", 33, 1000, |rng, _| {
        let r = random_report(rng);
        let mut buf = vec![0u8; below(rng, report::MAX_FRAME)];
        let _ = r.encode(&mut buf);
    });
}

/// Found by the fuzz target below: pressures whose largest component is subnormal (1/max
/// overflows f32) gave NaN relative-transfer features instead of values or an error.
#[test]
fn subnormal_pressures_give_finite_features() {
    let p = [[1.0e-40f32, 0.0], [0.0, 3.0e-41], [-2.0e-45, 1.0e-45]];
    let mut y = vec![0.0f32; FeatureKind::RelativeTransferFunction.len(1, 3)];
    FeatureKind::RelativeTransferFunction
        .compute(&p, 1, 3, &mut y)
        .unwrap();
    assert!(y.iter().all(|v| v.is_finite()), "{y:?}");
    assert!((y[0] - 1.0e-40 / libm_hypot(&p)).abs() < 1e-3, "{y:?}");
}

fn libm_hypot(p: &[[f32; 2]]) -> f32 {
    p.iter()
        .map(|c| f64::from(c[0]).powi(2) + f64::from(c[1]).powi(2))
        .sum::<f64>()
        .sqrt() as f32
}

/// Feature computation on the host and the buoy reads a user's pressures: arbitrary values
/// (zeros, NaN, inf, 1e308) give features or a typed error.
#[test]
fn features_of_arbitrary_pressure_never_panic() {
    fuzz("features", 41, 10_000, |rng, _| {
        let tones = 1 + below(rng, 7);
        let receivers = 1 + below(rng, 5);
        let specials = [
            0.0f32,
            -0.0,
            f32::NAN,
            f32::INFINITY,
            f32::MAX,
            f32::MIN_POSITIVE,
            1e-45,
        ];
        let p: Vec<[f32; 2]> = (0..tones * receivers)
            .map(|_| {
                let mut v = || match below(rng, 4) {
                    0 => specials[below(rng, specials.len())],
                    _ => rng.normal_f32(),
                };
                [v(), v()]
            })
            .collect();
        for kind in [
            FeatureKind::RelativeTransferFunction,
            FeatureKind::RawPressure,
        ] {
            let mut y = vec![0.0f32; kind.len(tones, receivers)];
            if kind.compute(&p, tones, receivers, &mut y).is_ok() {
                assert!(
                    y.iter().all(|v| v.is_finite()),
                    "{kind:?}: non-finite feature"
                );
            }
            // wrong lengths are errors, not panics
            let _ = kind.compute(&p[1..], tones, receivers, &mut y);
            let _ = kind.compute(&p, tones, receivers, &mut y[1..]);
        }
    });
}

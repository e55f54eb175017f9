//! `vina simulate`: reproducible whatever the thread count, shards concatenate to the
//! unsharded set, noise at the stated SNR, features from vina-core.

use num_complex::Complex64;
use vina_host::dataset::Dataset;
use vina_host::observation;
use vina_host::scenario::Scenario;
use vina_host::simulate::{shard_range, simulate};

fn gi() -> Scenario {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    Scenario::load(&root.join("scenarios/gi-pekeris.toml")).unwrap()
}

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[test]
fn thread_count_and_sharding_do_not_change_samples() {
    let scn = gi();
    let n = 97;
    let one = in_pool(1, || simulate(&scn, 5, 20.0, 0..n, n, false).unwrap());
    let two = in_pool(2, || simulate(&scn, 5, 20.0, 0..n, n, false).unwrap());
    assert_eq!(one, two);
    let mut joined: Option<Dataset> = None;
    for k in 0..4 {
        let part = simulate(&scn, 5, 20.0, shard_range(k, 4, n), n, false).unwrap();
        joined = Some(match joined {
            None => part,
            Some(mut all) => {
                all.len += part.len;
                all.x.extend(part.x);
                all.y.extend(part.y);
                all.y_clean.extend(part.y_clean);
                all.pressure.extend(part.pressure);
                all.noise.extend(part.noise);
                all
            }
        });
    }
    let joined = joined.unwrap();
    assert_eq!(
        (joined.x, joined.y, joined.pressure, joined.noise),
        (one.x, one.y, one.pressure, one.noise)
    );
    assert_eq!(shard_range(3, 4, 97), 72..97);
}

#[test]
fn shards_on_disk_read_back_as_one_set() {
    let scn = gi();
    let dir = tempfile::tempdir().unwrap();
    for k in 0..3 {
        simulate(&scn, 9, 20.0, shard_range(k, 3, 30), 30, false)
            .unwrap()
            .write(&dir.path().join(Dataset::shard_name(k, 3)))
            .unwrap();
    }
    let all = Dataset::read_dir(dir.path()).unwrap();
    let direct = simulate(&scn, 9, 20.0, 0..30, 30, false).unwrap();
    assert_eq!(all.x, direct.x);
    assert_eq!(all.y, direct.y);
    assert_eq!(all.noise, direct.noise);
    assert_eq!(all.len, 30);
    // a missing shard is refused
    std::fs::remove_file(dir.path().join(Dataset::shard_name(1, 3))).unwrap();
    assert!(
        Dataset::read_dir(dir.path())
            .unwrap_err()
            .to_string()
            .contains("do not fit")
    );
}

#[test]
fn samples_lie_in_the_prior_and_noise_has_the_stated_snr() {
    let scn = gi();
    let n = 400;
    let snr = 20.0;
    let ds = simulate(&scn, 1, snr, 0..n, n, false).unwrap();
    let (t, r) = (7, 5);
    let mut ratio = Vec::new();
    for i in 0..n as usize {
        let x = &ds.x[i * 2..i * 2 + 2];
        assert!((200.5..=236.5).contains(&x[0]) && (1532.0..=1592.0).contains(&x[1]));
        let env = scn.environment(x).unwrap();
        let clean = env.pressure(&scn.tones_hz, &scn.receiver_depths_m).unwrap();
        // y_clean is exactly vina-core's features of the clean field
        let y_clean = observation::features(scn.features, &clean, t, r).unwrap();
        assert_eq!(y_clean, ds.y_clean[i * 63..(i + 1) * 63]);
        let noisy: Vec<Complex64> = ds.pressure[i * 70..(i + 1) * 70]
            .chunks(2)
            .map(|c| Complex64::new(c[0], c[1]))
            .collect();
        // the kept noise draws n make the observation: noisy = clean + σ_f·n, σ_f² per
        // tone = mean |p|² / 10^(SNR/10) / 2 per component (noise in x for the INN)
        let draws = &ds.noise[i * 70..(i + 1) * 70];
        for (f, tone) in clean.chunks(r).enumerate() {
            let power = tone.iter().map(|p| p.norm_sqr()).sum::<f64>() / r as f64;
            let sigma = (power / 10f64.powf(snr / 10.0) / 2.0).sqrt();
            for (k, p) in tone.iter().enumerate() {
                let j = f * r + k;
                let rebuilt = p + sigma
                    * Complex64::new(f64::from(draws[2 * j]), f64::from(draws[2 * j + 1]));
                // the draws are kept in f32: relative 6e-8 of σ
                assert!((rebuilt - noisy[j]).norm() <= 1e-6 * sigma, "{i} {j}");
            }
        }
        for (tone_c, tone_n) in clean.chunks(r).zip(noisy.chunks(r)) {
            let signal = tone_c.iter().map(|p| p.norm_sqr()).sum::<f64>();
            let noise = tone_c
                .iter()
                .zip(tone_n)
                .map(|(a, b)| (a - b).norm_sqr())
                .sum::<f64>();
            ratio.push(noise / signal);
        }
    }
    // E[noise/signal] = 10^(−SNR/10) = 0.01; 2,800 tones of 5 receivers each: ±2 % (1σ ≈ 0.85 %)
    let mean = ratio.iter().sum::<f64>() / ratio.len() as f64;
    assert!((mean / 0.01 - 1.0).abs() < 0.03, "noise/signal {mean}");
    let _ = t;
}

//! `vina train` killed at any moment and resumed ends exactly where an uninterrupted run
//! does: for every named point of an epoch's checkpoint writes (the trainer's test hook
//! `VINA_TRAIN_KILL_AT=<point>:<epoch>`, which aborts the process there) and for SIGKILLs
//! at random moments, the resumed run's metrics.csv (timing columns aside) and model.vina
//! equal the uninterrupted run's bit for bit. A corrupted checkpoint is refused
//! on resume (exit 2, naming the file), and a non-empty --out is refused without --resume
//! or --force.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use vina_core::rng::Rng;
use vina_host::dataset::{Dataset, Metadata};
use vina_host::error::is_refusal;
use vina_host::train::trainer::KILL_POINTS;
use vina_host::train::{TrainConfig, train, train_data};

const EPOCHS: usize = 5;

/// A tiny data set (2 parameters, 3 features: one tone, two receivers, RTF) in one shard.
fn write_data(dir: &Path, n: usize) -> PathBuf {
    let mut rng = Rng::new(11);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let (a, b) = (rng.normal_f64(), rng.normal_f64());
        x.extend([a, b]);
        y.extend([a + b, a - 0.5 * b, a * b].map(|v| (v + 0.2 * rng.normal_f64()) as f32));
    }
    let d = Dataset {
        meta: Metadata {
            scenario: "toy".into(),
            scenario_hash: "0x7".into(),
            seed: 1,
            first_index: 0,
            total_samples: n as u64,
            snr_db: 20.0,
            features: "relative_transfer_function".into(),
            parameters: vec!["a".into(), "b".into()],
            tones_hz: vec![100.0],
            receiver_depths_m: vec![10.0, 20.0],
        },
        len: n,
        x,
        y_clean: y.clone(),
        y,
        pressure: vec![0.0; n * 4],
        noise: Vec::new(),
    };
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    d.write(&data.join(Dataset::shard_name(0, 1))).unwrap();
    data
}

/// ML plus a small f-GAN term, so the critic and its optimizer are checkpointed too.
fn config_text(epochs: usize) -> String {
    format!(
        "seed = 5\nepochs = {epochs}\nbatch_size = 64\nprogress = false\n\
         [model]\nblocks = 2\nhidden = [16]\ncond_hidden = [8]\ncond_dim = 4\n\
         [loss]\nfgan = 0.1\ncritic_hidden = [16, 16]\n"
    )
}

struct Setup {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    data: PathBuf,
    config: PathBuf,
}

fn setup(epochs: usize) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let data = write_data(&root, 400);
    let config = root.join("config.toml");
    std::fs::write(&config, config_text(epochs)).unwrap();
    Setup {
        _tmp: tmp,
        root,
        data,
        config,
    }
}

impl Setup {
    /// `vina train` into `out` with extra flags and environment; the working directory is
    /// the temporary one (a core file of an aborted run lands there).
    fn command(&self, out: &Path, flags: &[&str], kill_at: Option<String>) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vina"));
        c.current_dir(&self.root)
            .arg("train")
            .arg("--data")
            .arg(&self.data)
            .arg("--config")
            .arg(&self.config)
            .arg("--out")
            .arg(out)
            .args(flags)
            .env_remove("VINA_TRAIN_KILL_AT");
        if let Some(k) = kill_at {
            c.env("VINA_TRAIN_KILL_AT", k);
        }
        c
    }

    fn train(&self, out: &Path, flags: &[&str], kill_at: Option<String>) -> Output {
        self.command(out, flags, kill_at)
            .output()
            .expect("run vina train")
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Killed by a signal (abort or SIGKILL), not an orderly exit.
fn killed(s: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    s.signal().is_some()
}

/// metrics.csv without the timing columns (seconds, samples per second).
fn curve(out: &Path) -> Vec<String> {
    std::fs::read_to_string(out.join("metrics.csv"))
        .expect("metrics.csv")
        .lines()
        .map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            cols[..cols.len() - 2].join(",")
        })
        .collect()
}

/// The resumed run's files equal the uninterrupted run's, and only the current
/// checkpoint is left.
fn assert_same(straight: &Path, out: &Path, what: &str) {
    let c = curve(out);
    assert_eq!(c.len(), EPOCHS + 1, "{what}: header and one row per epoch");
    assert_eq!(curve(straight), c, "{what}: metrics.csv");
    assert!(
        std::fs::read(straight.join("model.vina")).unwrap()
            == std::fs::read(out.join("model.vina")).unwrap(),
        "{what}: model.vina differs from the uninterrupted run's"
    );
    // best.bpk holds the same weights as model.vina, but Burn's burnpack also stores
    // parameter ids drawn at random per process, so it is compared by presence only.
    assert!(out.join("best.bpk").is_file(), "{what}: best.bpk");
    let mut left: Vec<String> = std::fs::read_dir(out.join("checkpoint"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left.len(), 2, "{what}: checkpoint/ holds {left:?}");
    assert_eq!(left[0], "LATEST");
    assert!(
        left[1].starts_with(&format!("epoch-{EPOCHS:05}-")),
        "{left:?}"
    );
}

/// Resume once more, which must complete the run.
fn resume_to_end(s: &Setup, out: &Path, what: &str) {
    let o = s.train(out, &["--resume"], None);
    assert!(o.status.success(), "{what}: resume failed: {}", stderr(&o));
}

#[test]
fn killed_anywhere_and_resumed_equals_an_uninterrupted_run() {
    let t0 = Instant::now();
    let s = setup(EPOCHS);
    let straight = s.root.join("straight");
    let o = s.train(&straight, &[], None);
    assert!(o.status.success(), "uninterrupted run: {}", stderr(&o));
    let straight_s = t0.elapsed();

    // Every named point, each killed in epochs 1, 3 and 5 of one run: 30 kills.
    let mut kills = 0;
    for (i, point) in KILL_POINTS.iter().enumerate() {
        let out = s.root.join(format!("kill-{point}"));
        for (j, epoch) in [1, 3, EPOCHS].into_iter().enumerate() {
            let flags: &[&str] = if j == 0 { &[] } else { &["--resume"] };
            let o = s.train(&out, flags, Some(format!("{point}:{epoch}")));
            assert!(
                killed(o.status),
                "{point}:{epoch}: expected an abort, got {:?}: {}",
                o.status,
                stderr(&o)
            );
            kills += 1;
            // Once, also lose metrics.csv: the resume writes it back, header included.
            if i == KILL_POINTS.len() - 2 && epoch == 3 {
                std::fs::remove_file(out.join("metrics.csv")).unwrap();
            }
        }
        resume_to_end(&s, &out, point);
        assert_same(&straight, &out, point);
    }

    // SIGKILL at random moments of the run (the seed is printed to replay a failure).
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    println!("random kill delays: seed {seed}");
    let mut rng = Rng::new(seed);
    let out = s.root.join("sigkill");
    let mut random_kills = 0;
    for attempt in 0.. {
        let flags: &[&str] = if attempt == 0 { &[] } else { &["--resume"] };
        let mut child = s
            .command(&out, flags, None)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn vina train");
        if attempt < 6 {
            let delay = straight_s.mul_f64(rng.uniform_f64());
            std::thread::sleep(delay);
            let _ = child.kill();
        }
        let status = child.wait().unwrap();
        if status.success() {
            break;
        }
        assert!(killed(status), "attempt {attempt}: {status:?}");
        random_kills += 1;
    }
    assert_same(&straight, &out, "random SIGKILLs");
    println!(
        "{kills} kills at named points, {random_kills} random SIGKILLs, {:.1} s",
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn a_corrupted_checkpoint_is_refused_on_resume() {
    let s = setup(2);
    let out = s.root.join("run");
    let o = s.train(&out, &[], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let data = train_data(&Dataset::read_dir(&s.data).unwrap()).unwrap();
    let mut config: TrainConfig = toml::from_str(&config_text(3)).unwrap();
    config.progress = false;

    let ckpt = out.join("checkpoint");
    let latest = std::fs::read_to_string(ckpt.join("LATEST")).unwrap();
    let dir = ckpt.join(latest.split(' ').next().unwrap());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.push(ckpt.join("LATEST"));
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        "model.bpk",
        "optim.bpk",
        "critic.bpk",
        "critic_optim.bpk",
        "best.bpk",
        "model.vina",
        "metrics.csv",
        "state.json",
        "manifest.json",
        "LATEST",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} in {names:?}");
    }

    // 200 single-bit flips over all the checkpoint's files, each refused naming the file.
    let mut rng = Rng::new(17);
    for k in 0..200 {
        let f = &files[k % files.len()];
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let good = std::fs::read(f).unwrap();
        let mut bad = good.clone();
        let bit = (rng.next_u64() % (8 * bad.len() as u64)) as usize;
        bad[bit / 8] ^= 1 << (bit % 8);
        std::fs::write(f, &bad).unwrap();
        let e = train(&data, &config, &out, true).expect_err("a flipped bit must be refused");
        std::fs::write(f, &good).unwrap();
        let msg = format!("{e:#}");
        assert!(is_refusal(&e), "flip {k} in {name}: not a refusal: {msg}");
        assert!(
            msg.contains("corrupted") && msg.contains(&name),
            "flip {k} (bit {bit}) in {name}: {msg}"
        );
    }

    // A missing file, through the command line: exit 2, naming it.
    std::fs::remove_file(dir.join("optim.bpk")).unwrap();
    let o = s.train(&out, &["--resume"], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("optim.bpk"), "{}", stderr(&o));

    // A checkpoint of the format before LATEST is refused, not silently restarted.
    std::fs::remove_file(ckpt.join("LATEST")).unwrap();
    std::fs::write(ckpt.join("state.json"), "{}").unwrap();
    let o = s.train(&out, &["--resume"], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("state.json"), "{}", stderr(&o));
}

#[test]
fn training_into_a_used_directory_needs_resume_or_force() {
    let s = setup(1);
    let out = s.root.join("run");
    let o = s.train(&out, &[], None);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = std::fs::read(out.join("metrics.csv")).unwrap();
    let model = std::fs::read(out.join("model.vina")).unwrap();

    let o = s.train(&out, &[], None);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&out.display().to_string())
            && err.contains("--resume")
            && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(out.join("metrics.csv")).unwrap(), before);
    assert_eq!(std::fs::read(out.join("model.vina")).unwrap(), model);

    // Any non-empty directory, too.
    let other = s.root.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("notes.txt"), "mine").unwrap();
    let o = s.train(&other, &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("notes.txt"), "{}", stderr(&o));

    // --resume and --force together make no sense.
    let o = s.train(&out, &["--resume", "--force"], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // --force starts over: the same seed gives the same run.
    let o = s.train(&out, &["--force"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(curve(&out).len(), 2);
    assert_eq!(std::fs::read(out.join("model.vina")).unwrap(), model);
    // An empty or missing directory needs neither.
    let fresh = s.root.join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    let o = s.train(&fresh, &[], None);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn two_runs_cannot_share_an_output_directory() {
    let s = setup(EPOCHS);
    let out = s.root.join("run");
    let mut first = s
        .command(&out, &[], None)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first run holds its lock (its checkpoint directory exists).
    let t = Instant::now();
    while !out.join("checkpoint").exists() && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let o = s.train(&out, &["--resume"], None);
    let finished_first = first.try_wait().unwrap().is_some();
    first.wait().unwrap();
    if !finished_first {
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("another `vina train`"),
            "{}",
            stderr(&o)
        );
    }
}

//! Evaluation plots: each plot writes a PNG of the expected size that is not blank and an
//! SVG that names the parameters; bad input is an error, not a panic.

use std::path::{Path, PathBuf};

use vina_core::rng::Rng;
use vina_host::eval::plots;

const NAMES: [&str; 3] = ["depth_m", "c_water", "src_range"];

/// Decodes `{stem}.png`: (width, height, share of pixels that are not white).
fn png_info(stem: &Path) -> (u32, u32, f64) {
    let path = with_ext(stem, "png");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    let channels = info.color_type.samples();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let pixels = &buf[..info.buffer_size()];
    let total = (info.width * info.height) as usize;
    let inked = pixels
        .chunks_exact(channels)
        .filter(|p| p.iter().take(3).any(|&c| c < 250))
        .count();
    (info.width, info.height, inked as f64 / total as f64)
}

fn with_ext(stem: &Path, ext: &str) -> PathBuf {
    PathBuf::from(format!("{}.{ext}", stem.display()))
}

fn svg(stem: &Path) -> String {
    std::fs::read_to_string(with_ext(stem, "svg")).expect("SVG written")
}

/// Checks both files and returns the SVG text.
fn check_outputs(stem: &Path, min_ink: f64) -> String {
    let (w, h, ink) = png_info(stem);
    assert!(w >= 300 && h >= 300, "PNG {w}×{h}");
    assert!(
        ink > min_ink,
        "PNG nearly blank: {:.4} of pixels drawn",
        ink
    );
    assert!(ink < 0.9, "PNG nearly all ink: {ink:.3}");
    let text = svg(stem);
    assert!(
        text.starts_with("<svg"),
        "not an SVG: {}",
        &text[..40.min(text.len())]
    );
    assert!(
        text.contains(&format!("width=\"{w}\"")),
        "SVG and PNG differ in size"
    );
    text
}

/// Correlated Gaussian draws around `mean` (a stand-in for a posterior).
fn gaussian(rng: &mut Rng, n: usize, mean: &[f64], sd: &[f64], rho: f64) -> Vec<Vec<f64>> {
    (0..n)
        .map(|_| {
            let z0 = rng.normal_f64();
            mean.iter()
                .zip(sd)
                .map(|(m, s)| {
                    let z = rho * z0 + (1.0 - rho * rho).sqrt() * rng.normal_f64();
                    m + s * z
                })
                .collect()
        })
        .collect()
}

#[test]
fn corner_plot_with_truth_and_reference() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("nested/corner");
    let mut rng = Rng::new(7);
    let mean = [70.0, 1500.0, 5000.0];
    let net = gaussian(&mut rng, 3000, &mean, &[0.5, 0.3, 80.0], 0.6);
    let reference = gaussian(&mut rng, 2000, &mean, &[0.3, 0.2, 50.0], 0.6);
    let truth = [70.2, 1500.1, 5030.0];
    plots::corner(&stem, &NAMES, &net, Some(&truth), Some(&reference)).unwrap();
    let (w, h, _) = png_info(&stem);
    assert_eq!((w, h), (3 * 230 + 10, 3 * 230 + 34 + 10));
    let text = check_outputs(&stem, 0.05);
    for n in NAMES {
        assert!(text.contains(n), "SVG lacks parameter name {n}");
    }
    assert!(text.contains("reference (2000 draws)"));
}

#[test]
fn corner_plot_network_only_and_one_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(8);
    let net = gaussian(&mut rng, 500, &[1.0, 2.0], &[0.1, 0.2], 0.0);
    let stem = dir.path().join("two");
    plots::corner(&stem, &NAMES[..2], &net, None, None).unwrap();
    check_outputs(&stem, 0.02);
    // One parameter, all draws equal: a degenerate range still plots.
    let stem = dir.path().join("one");
    plots::corner(&stem, &["h"], &vec![vec![3.0]; 10], Some(&[3.0]), None).unwrap();
    let (w, h, ink) = png_info(&stem);
    assert_eq!((w, h), (330, 364));
    assert!(ink > 0.01);
    assert!(svg(&stem).contains("\nh\n"));
}

#[test]
fn rank_histograms_uniform_ranks() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("ranks");
    let mut rng = Rng::new(9);
    let max_rank = 99;
    let ranks: Vec<Vec<usize>> = (0..NAMES.len())
        .map(|p| {
            (0..1000)
                .map(|_| {
                    let r = (rng.next_u64() % (max_rank as u64 + 1)) as usize;
                    // The last parameter is overconfident: ranks pile up at the ends.
                    if p == 2 && r.is_multiple_of(3) {
                        if r.is_multiple_of(2) { 0 } else { max_rank }
                    } else {
                        r
                    }
                })
                .collect()
        })
        .collect();
    plots::rank_histograms(&stem, &NAMES, &ranks, max_rank, 20).unwrap();
    let (w, h, _) = png_info(&stem);
    assert_eq!((w, h), (2 * 380, 2 * 280 + 34));
    let text = check_outputs(&stem, 0.05);
    for n in NAMES {
        assert!(text.contains(n), "SVG lacks parameter name {n}");
    }
    // Bins that do not divide the ranks evenly are fine too.
    plots::rank_histograms(&dir.path().join("odd"), &NAMES, &ranks, max_rank, 7).unwrap();
    // Huge rank ranges do not overflow.
    let extreme = vec![vec![0, 5, usize::MAX - 1]; 3];
    plots::rank_histograms(&dir.path().join("x"), &NAMES, &extreme, usize::MAX - 1, 4).unwrap();
}

#[test]
fn coverage_curve_per_parameter() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("coverage");
    let levels = [0.5, 0.9, 0.95, 0.1, 0.3, 0.7];
    let coverage: Vec<Vec<f64>> = vec![
        levels.to_vec(),
        levels.iter().map(|l| l * 0.8).collect(),
        levels.iter().map(|l| (l * 1.1f64).min(1.0)).collect(),
    ];
    plots::coverage_curve(&stem, &NAMES, &levels, &coverage).unwrap();
    assert_eq!(png_info(&stem).0, 620);
    let text = check_outputs(&stem, 0.02);
    for n in NAMES {
        assert!(text.contains(n), "SVG lacks parameter name {n}");
    }
}

const METRICS: &str = "epoch,train_loss,train_nll,train_fgan,train_mmd_forward,train_mmd_backward,train_sinkhorn,val_loss,val_nll,val_fgan,val_mmd_forward,val_mmd_backward,val_sinkhorn,lr,seconds,samples_per_s
1,1.571122,1.571122,0.000000,0.000000,0.000000,0.000000,-0.519772,-0.519772,0.000000,0.000000,0.000000,0.000000,3.000000e-4,0.702,131765.6
2,-1.384461,-1.384461,0.000000,0.000000,0.000000,0.000000,-1.901769,-1.901769,0.000000,0.000000,0.000000,0.000000,2.850000e-4,0.691,133988.4
3,-2.130483,-2.130483,0.000000,0.000000,0.000000,0.000000,-2.295942,-2.295942,0.000000,0.000000,0.000000,0.000000,2.707500e-4,0.702,131852.8
4,-2.441016,-2.441016,0.000000,0.000000,0.000000,0.000000,-2.546883,-2.546883,0.000000,0.000000,0.000000,0.000000,2.572125e-4,0.693,133470.5
";

#[test]
fn training_curves_from_trainer_csv() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("metrics.csv");
    std::fs::write(&csv, METRICS).unwrap();
    let stem = dir.path().join("training");
    plots::training_curves(&stem, &csv).unwrap();
    let text = check_outputs(&stem, 0.01);
    // ML only: loss and nll coincide and share one panel; unused terms are left out.
    assert!(text.contains("loss = nll"), "panel title");
    assert!(!text.contains("sinkhorn"));
    assert!(text.contains("epoch"));

    // Two terms in use (MMD added), a NaN epoch and no trailing newline.
    let mixed = "epoch,train_loss,train_mmd_forward,val_loss,val_mmd_forward,lr\n\
                 1,2.0,0.5,2.5,0.6,1e-3\n2,1.0,0.4,NaN,0.5,1e-3\n3,0.5,0.3,1.2,0.45,1e-3";
    std::fs::write(&csv, mixed).unwrap();
    plots::training_curves(&stem, &csv).unwrap();
    let text = check_outputs(&stem, 0.01);
    assert!(text.contains("\nmmd_forward\n") && text.contains("\nloss\n"));
}

#[test]
fn bad_inputs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("bad");
    let err = |r: anyhow::Result<()>| format!("{:#}", r.expect_err("should fail"));
    let two = vec![vec![1.0, 2.0]; 5];

    assert!(err(plots::corner(&stem, &NAMES[..2], &[], None, None)).contains("samples is empty"));
    assert!(
        err(plots::corner(&stem, &NAMES, &two, None, None)).contains("samples[0] has 2 values")
    );
    assert!(err(plots::corner(&stem, &NAMES[..2], &two, Some(&[1.0]), None)).contains("truth"));
    let bad_ref = vec![vec![1.0, 2.0], vec![1.0]];
    assert!(
        err(plots::corner(
            &stem,
            &NAMES[..2],
            &two,
            None,
            Some(&bad_ref)
        ))
        .contains("reference[1]")
    );
    let nan = vec![vec![1.0, f64::NAN]];
    assert!(err(plots::corner(&stem, &NAMES[..2], &nan, None, None)).contains("c_water"));
    assert!(err(plots::corner(&stem, &[], &two, None, None)).contains("names"));
    let many = ["p"; 21];
    let wide = vec![vec![0.0; 21]; 3];
    assert!(err(plots::corner(&stem, &many, &wide, None, None)).contains("at most 20"));

    let ranks = vec![vec![0, 1, 2]; 3];
    assert!(err(plots::rank_histograms(&stem, &NAMES[..2], &ranks, 9, 5)).contains("rank sets"));
    assert!(err(plots::rank_histograms(&stem, &NAMES, &ranks, 9, 11)).contains("bins"));
    assert!(err(plots::rank_histograms(&stem, &NAMES, &ranks, 9, 0)).contains("bins"));
    assert!(err(plots::rank_histograms(&stem, &NAMES, &ranks, 1, 2)).contains("exceeds max_rank"));
    let e = err(plots::rank_histograms(&stem, &NAMES, &ranks, usize::MAX, 2));
    assert!(e.contains("max_rank too large"), "{e}");
    let ragged = vec![vec![0, 1, 2], vec![], vec![1]];
    assert!(
        err(plots::rank_histograms(&stem, &NAMES, &ragged, 9, 5))
            .contains("no ranks for `c_water`")
    );

    let levels = [0.5, 0.9];
    assert!(
        err(plots::coverage_curve(
            &stem,
            &NAMES,
            &levels,
            &[vec![0.5, 0.9]]
        ))
        .contains("coverage rows")
    );
    let short = vec![vec![0.5]; 3];
    assert!(
        err(plots::coverage_curve(&stem, &NAMES, &levels, &short))
            .contains("1 coverage values for 2 levels")
    );
    assert!(
        err(plots::coverage_curve(
            &stem,
            &NAMES,
            &[1.5, 0.5],
            &vec![vec![0.5, 0.5]; 3]
        ))
        .contains("level 1.5")
    );
    assert!(err(plots::coverage_curve(&stem, &NAMES, &[], &vec![vec![]; 3])).contains("no levels"));

    let csv = dir.path().join("metrics.csv");
    let missing = dir.path().join("missing.csv");
    assert!(err(plots::training_curves(&stem, &missing)).contains("missing.csv"));
    for (content, expect) in [
        ("", "empty file"),
        ("epoch,train_loss,val_loss\n", "no epochs"),
        (
            "epoch,train_loss,val_loss\n1,2.0\n",
            "metrics.csv:2: 2 fields, the header has 3",
        ),
        (
            "epoch,train_loss,val_loss\n1,2.0,x\n",
            "column `val_loss`: `x` is not a number",
        ),
        ("step,train_loss\n1,2.0\n", "no `epoch` column"),
        ("epoch,lr\n1,0.1\n", "no train_* or val_* columns"),
    ] {
        std::fs::write(&csv, content).unwrap();
        let e = err(plots::training_curves(&stem, &csv));
        assert!(e.contains(expect), "{content:?}: {e}");
    }
    // Nothing was written for refused input.
    assert!(!with_ext(&stem, "png").exists() && !with_ext(&stem, "svg").exists());
}

/// Writes one example of each plot to $VINA_PLOTS_DEMO (for looking at them); does
/// nothing without it.
#[test]
fn demo_plots() {
    let Some(dir) = std::env::var_os("VINA_PLOTS_DEMO").map(PathBuf::from) else {
        return;
    };
    let mut rng = Rng::new(11);
    let names = ["depth", "c_water", "c_bottom", "src_range", "src_depth"];
    let mean = [70.0, 1500.0, 1600.0, 5000.0, 15.0];
    let net = gaussian(&mut rng, 5000, &mean, &[0.6, 0.4, 8.0, 90.0, 1.0], 0.65);
    let reference = gaussian(&mut rng, 3000, &mean, &[0.4, 0.25, 5.0, 60.0, 0.7], 0.65);
    let truth = [70.3, 1500.2, 1603.0, 5040.0, 15.4];
    plots::corner(
        &dir.join("corner"),
        &names,
        &net,
        Some(&truth),
        Some(&reference),
    )
    .unwrap();
    let ranks: Vec<Vec<usize>> = (0..names.len())
        .map(|p| {
            (0..2000)
                .map(|_| {
                    let r = (rng.next_u64() % 101) as usize;
                    if p == 3 && r.is_multiple_of(4) {
                        if r.is_multiple_of(8) { 0 } else { 100 }
                    } else {
                        r
                    }
                })
                .collect()
        })
        .collect();
    plots::rank_histograms(&dir.join("ranks"), &names, &ranks, 100, 20).unwrap();
    let levels: Vec<f64> = (1..20).map(|i| i as f64 * 0.05).collect();
    let coverage: Vec<Vec<f64>> = (0..names.len())
        .map(|p| {
            levels
                .iter()
                .map(|l| l.powf(1.0 + 0.15 * p as f64))
                .collect()
        })
        .collect();
    plots::coverage_curve(&dir.join("coverage"), &names, &levels, &coverage).unwrap();
    // A real run's metrics from $VINA_PLOTS_DEMO_METRICS, else the sample above.
    let csv = std::env::var_os("VINA_PLOTS_DEMO_METRICS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let csv = dir.join("metrics.csv");
            std::fs::write(&csv, METRICS).unwrap();
            csv
        });
    plots::training_curves(&dir.join("training"), &csv).unwrap();
}

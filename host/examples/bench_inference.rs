//! Host inference timings for `bench/inference_throughput.py`: posterior samples per second
//! for one observation and single-sample latency, with `vina-core` (the firmware's code, as
//! `vina invert --engine core` runs it) and tract (the exported ONNX graph, as `--engine
//! tract` runs it). Prints one JSON object on stdout.
//!
//! ```sh
//! cargo run -p vina-host --example bench_inference -- --model models/gi-pekeris-cinn.vina \
//!     --onnx models/gi-pekeris-cinn.onnx --input yz.json [--int8 models/gi-pekeris-cinn-int8.vina]
//! ```
//!
//! `--input` is a JSON object `{"y": [...], "z": [[...], ...]}`: the observation's features
//! and one latent per sample of the batch. Every figure is the median of `--reps` timed runs
//! (after one untimed warm-up run); latencies time `--inner` calls per run.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use rayon::prelude::*;
use serde_json::{Value, json};
use tract_onnx::prelude::*;
use vina_core::layers::Scratch;
use vina_core::model::Model;

struct Args {
    model: PathBuf,
    onnx: Option<PathBuf>,
    int8: Option<PathBuf>,
    input: PathBuf,
    reps: usize,
    inner: usize,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        model: PathBuf::new(),
        onnx: None,
        int8: None,
        input: PathBuf::new(),
        reps: 15,
        inner: 200,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--model" => a.model = v()?.into(),
            "--onnx" => a.onnx = Some(v()?.into()),
            "--int8" => a.int8 = Some(v()?.into()),
            "--input" => a.input = v()?.into(),
            "--reps" => a.reps = v()?.parse()?,
            "--inner" => a.inner = v()?.parse()?,
            _ => bail!("unknown argument {k}"),
        }
    }
    if a.model.as_os_str().is_empty() || a.input.as_os_str().is_empty() {
        bail!(
            "usage: bench_inference --model M.vina --input yz.json [--onnx M.onnx] [--int8 M.vina]"
        );
    }
    Ok(a)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median seconds of `f` over `reps` runs after one warm-up.
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// vina-core: the condition network once, then one inverse pass per latent, into `out`.
fn core_batch(model: &Model<'_>, y: &[f32], z: &[f32], out: &mut [f32], scratch: &mut Scratch) {
    let (ld, xd) = (model.latent_dim(), model.x_dim());
    let mut ctx = vec![0.0f32; model.context_len()];
    model.prepare(y, &mut ctx, scratch).expect("prepare");
    for (zi, xi) in z.chunks_exact(ld).zip(out.chunks_exact_mut(xd)) {
        model.sample(&ctx, zi, xi, scratch).expect("sample");
    }
}

/// Throughput and latency of one `.vina` file on vina-core.
fn bench_core(bytes: &[u8], y: &[f32], z: &[f32], a: &Args) -> anyhow::Result<(Value, Vec<f32>)> {
    let model = Model::from_bytes(bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (ld, xd) = (model.latent_dim(), model.x_dim());
    let n = z.len() / ld;
    let mut scratch = Scratch::new();
    let mut out = vec![0.0f32; n * xd];
    let batch_s = time(a.reps, || core_batch(&model, y, z, &mut out, &mut scratch));
    let latency_s = time(a.reps, || {
        for _ in 0..a.inner {
            core_batch(&model, y, &z[..ld], &mut out[..xd], &mut scratch);
        }
    }) / a.inner as f64;
    let mut ctx = vec![0.0f32; model.context_len()];
    let prepare_s = time(a.reps, || {
        for _ in 0..a.inner {
            model.prepare(y, &mut ctx, &mut scratch).expect("prepare");
        }
    }) / a.inner as f64;
    // The same loop split over rayon's threads (RAYON_NUM_THREADS), one scratch per chunk:
    // what `vina invert` would gain from parallel sampling (it runs one thread today).
    let threads = rayon::current_num_threads();
    let chunk = n.div_ceil(threads);
    let mut par_out = vec![0.0f32; n * xd];
    let par_s = time(a.reps, || {
        let mut c = vec![0.0f32; model.context_len()];
        model
            .prepare(y, &mut c, &mut Scratch::new())
            .expect("prepare");
        par_out
            .par_chunks_mut(chunk * xd)
            .zip(z.par_chunks(chunk * ld))
            .for_each(|(xo, zi)| {
                let mut s = Scratch::new();
                for (zz, xx) in zi.chunks_exact(ld).zip(xo.chunks_exact_mut(xd)) {
                    model.sample(&c, zz, xx, &mut s).expect("sample");
                }
            });
    });
    let same = out == par_out;
    let mut v = timing(n, batch_s, latency_s);
    v["prepare_s"] = json!(prepare_s);
    v["per_sample_after_prepare_s"] = json!((batch_s - prepare_s) / n as f64);
    v["parallel_threads"] = json!(threads);
    v["parallel_samples_per_s"] = json!(n as f64 / par_s);
    v["parallel_equal"] = json!(same);
    Ok((v, out))
}

/// `vina_host::batch` (what `vina invert` and `vina eval` run by default): the condition
/// network once, then the latents block by block as matrix products, blocks over rayon's
/// threads (RAYON_NUM_THREADS).
fn bench_batched(
    bytes: &[u8],
    y: &[f32],
    z: &[f32],
    a: &Args,
) -> anyhow::Result<(Value, Vec<f32>)> {
    let model = Model::from_bytes(bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (ld, xd) = (model.latent_dim(), model.x_dim());
    let n = z.len() / ld;
    let batched = vina_host::batch::Batched::new(&model);
    let mut out = vec![0.0f32; n * xd];
    let mut ctx = vec![0.0f32; model.context_len()];
    let mut scratch = Scratch::new();
    let batch_s = time(a.reps, || {
        model.prepare(y, &mut ctx, &mut scratch).expect("prepare");
        batched.sample(&ctx, z, &mut out).expect("batched");
    });
    let latency_s = time(a.reps, || {
        for _ in 0..a.inner {
            model.prepare(y, &mut ctx, &mut scratch).expect("prepare");
            batched
                .sample(&ctx, &z[..ld], &mut out[..xd])
                .expect("batched");
        }
    }) / a.inner as f64;
    batched.sample(&ctx, z, &mut out).expect("batched");
    let mut v = timing(n, batch_s, latency_s);
    v["threads"] = json!(rayon::current_num_threads());
    Ok((v, out))
}

fn bench_tract(
    onnx: &PathBuf,
    y: &[f32],
    z: &[f32],
    ld: usize,
    a: &Args,
) -> anyhow::Result<(Value, Vec<f32>)> {
    let plan = tract_onnx::onnx()
        .model_for_path(onnx)?
        .into_optimized()?
        .into_runnable()?;
    let n = z.len() / ld;
    let inputs = |n: usize| -> anyhow::Result<(Tensor, Tensor)> {
        let ys: Vec<f32> = (0..n).flat_map(|_| y.iter().copied()).collect();
        Ok((
            Tensor::from_shape(&[n, y.len()], &ys)?,
            Tensor::from_shape(&[n, ld], &z[..n * ld])?,
        ))
    };
    let (yb, zb) = inputs(n)?;
    let (y1, z1) = inputs(1)?;
    let run = |y: &Tensor, z: &Tensor| {
        plan.run(tvec!(y.clone().into_tvalue(), z.clone().into_tvalue()))
            .expect("tract run")
    };
    let batch_s = time(a.reps, || {
        run(&yb, &zb);
    });
    let latency_s = time(a.reps, || {
        for _ in 0..a.inner {
            run(&y1, &z1);
        }
    }) / a.inner as f64;
    let out = run(&yb, &zb);
    let x: Vec<f32> = out[0]
        .to_plain_array_view::<f32>()?
        .iter()
        .copied()
        .collect();
    Ok((timing(n, batch_s, latency_s), x))
}

fn main() -> anyhow::Result<()> {
    let a = args()?;
    let input: Value = serde_json::from_slice(&std::fs::read(&a.input)?)?;
    let floats = |v: &Value| -> Vec<f32> {
        v.as_array()
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_f64)
                    .map(|f| f as f32)
                    .collect()
            })
            .unwrap_or_default()
    };
    let y = floats(&input["y"]);
    let z: Vec<f32> = input["z"]
        .as_array()
        .context("z: an array of latents")?
        .iter()
        .flat_map(floats)
        .collect();
    let bytes = std::fs::read(&a.model)?;
    let ld = Model::from_bytes(&bytes)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .latent_dim();
    let mut result = serde_json::Map::new();
    let (core, x_core) = bench_core(&bytes, &y, &z, &a)?;
    result.insert("core".into(), core);
    let (batched, x_batched) = bench_batched(&bytes, &y, &z, &a)?;
    result.insert("batched".into(), batched);
    result.insert(
        "batched_max_abs_diff_from_core".into(),
        json!(max_abs_diff(&x_batched, &x_core)),
    );
    if let Some(p) = &a.int8 {
        let (v, x8) = bench_core(&std::fs::read(p)?, &y, &z, &a)?;
        let diff = max_abs_diff(&x8, &x_core);
        result.insert("core_int8".into(), v);
        result.insert("int8_max_abs_diff_from_f32".into(), json!(diff));
    }
    if let Some(onnx) = &a.onnx {
        let (v, xt) = bench_tract(onnx, &y, &z, ld, &a)?;
        let diff = max_abs_diff(&xt, &x_core);
        result.insert("tract".into(), v);
        result.insert("tract_max_abs_diff_from_core".into(), json!(diff));
    }
    result.insert("x_core_head".into(), json!(&x_core[..x_core.len().min(20)]));
    println!("{}", Value::Object(result));
    Ok(())
}

/// Largest |a − b| over paired values.
fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0f32, f32::max)
}

/// The timings every engine reports: batch size, batch time, throughput, latency.
fn timing(n: usize, batch_s: f64, latency_s: f64) -> serde_json::Value {
    json!({
        "batch": n,
        "batch_s": batch_s,
        "samples_per_s": n as f64 / batch_s,
        "latency_s": latency_s,
    })
}

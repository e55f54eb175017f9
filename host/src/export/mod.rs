//! `vina export`: a trained model → the firmware's `.vina` file (f32 or int8) and an ONNX
//! graph of the sampling pass for ARM Linux boards and other runtimes (docs/architecture.md,
//! "Model file and export").
//!
//! The source is the trainer's f32 `model.vina` (a weight copy of the best checkpoint).
//! Export folds normalization into the weights ([`fold`]), quantizes dense weights to int8
//! per output row when asked (`vina-core`'s `ModelSpec::encode`; activations stay f32 and
//! are quantized per layer input on the fly, see docs/model-format.md), and writes the
//! ONNX graph from the same folded f32 weights ([`onnx`]).

pub mod fold;
pub mod onnx;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use vina_core::model::Model;
use vina_core::sampling::Conditioned;
use vina_core::spec::{ModelSpec, Precision};

use vina_core::template::EnvironmentTemplate;

use crate::dataset::Dataset;
use crate::error::refuse;
use crate::scenario::Scenario;

/// Largest `.vina` file read (`read_model_file`, `vina inspect`): 64 MiB, at least twice
/// the dense weights of the largest model this build decodes (`vina_core::limits`:
/// [`MAX_DENSE`] layers of [`MAX_WIDTH`]² f32 weights and their biases, ~16 MiB; checked
/// below), leaving room for the header, flow records and template. Kept here, not in
/// `vina_core::model_file`, so the core's format module is untouched.
///
/// [`MAX_DENSE`]: vina_core::limits::MAX_DENSE
/// [`MAX_WIDTH`]: vina_core::limits::MAX_WIDTH
pub const MAX_MODEL_FILE_BYTES: u64 = 64 << 20;
/// [`MAX_MODEL_FILE_BYTES`] as the user reads it.
pub const MAX_MODEL_FILE_TEXT: &str = "64 MiB";
const _: () = {
    use vina_core::limits::{MAX_DENSE, MAX_WIDTH};
    assert!((MAX_DENSE * MAX_WIDTH * (MAX_WIDTH + 1) * 4) as u64 * 2 <= MAX_MODEL_FILE_BYTES);
};

/// Read a `.vina` file (or `DIR/model.vina`), refusing corrupt files with the file name.
pub fn read_model_file(path: &Path) -> anyhow::Result<(PathBuf, Vec<u8>)> {
    let file = if path.is_dir() {
        path.join("model.vina")
    } else {
        path.to_owned()
    };
    let bytes = crate::error::read_input_limited(
        &file,
        "model file",
        MAX_MODEL_FILE_BYTES,
        MAX_MODEL_FILE_TEXT,
    )?;
    Model::from_bytes(&bytes).map_err(|e| refuse(format!("model {}: {e}", file.display())))?;
    Ok((file, bytes))
}

/// The decoded f32 spec of an export source; int8 sources are refused (re-quantizing
/// dequantized weights would compound the error).
pub fn source_spec(path: &Path) -> anyhow::Result<(PathBuf, ModelSpec)> {
    let (file, bytes) = read_model_file(path)?;
    let model =
        Model::from_bytes(&bytes).map_err(|e| refuse(format!("model {}: {e}", file.display())))?;
    if model.dense_layers().iter().any(|d| d.is_int8()) {
        return Err(refuse(format!(
            "model {}: has int8 weights; export from the trainer's f32 model.vina",
            file.display()
        )));
    }
    Ok((file, ModelSpec::from_model(&model)))
}

/// Options of `vina export`.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// Trainer output directory or f32 `.vina` file.
    pub model: PathBuf,
    /// Output `.vina` file.
    pub out: PathBuf,
    /// Weight precision.
    pub precision: Precision,
    /// Also write the ONNX sampling graph here.
    pub onnx: Option<PathBuf>,
    /// Data set whose observations measure the quantization error.
    pub calibration: Option<PathBuf>,
    /// Scenario to store as the environment template (refinement on the buoy).
    pub scenario: Option<PathBuf>,
}

/// Run `vina export`.
pub fn run(o: &ExportOptions) -> anyhow::Result<()> {
    let (src, mut spec) = source_spec(&o.model)?;
    if let Some(path) = &o.scenario {
        spec.template = Some(template_for(&spec, path)?);
    }
    let reference = spec.clone();
    let folded = fold::fold(&mut spec);
    let bytes = spec
        .encode(o.precision)
        .map_err(|e| refuse(format!("cannot encode {}: {e}", o.out.display())))?;
    let model = Model::from_bytes(&bytes)?;
    // The calibration data is read (and refused) before anything is written, so a bad
    // --calibration leaves no file behind.
    let shift = match &o.calibration {
        Some(data) => {
            let reference = reference.encode(Precision::F32)?;
            Some(quantization_error(
                &Model::from_bytes(&reference)?,
                &model,
                data,
            )?)
        }
        None => None,
    };
    write(&o.out, &bytes)?;
    eprintln!(
        "{} → {}: {:?}, {} bytes, {} MACs per posterior sample; folded: y normalization {}, x normalization {}",
        src.display(),
        o.out.display(),
        o.precision,
        bytes.len(),
        model.macs_per_sample(),
        folded.y_normalization,
        folded.x_normalization
    );
    if let Some(path) = &o.onnx {
        // Linked to the .vina file just written: `vina invert --engine tract` refuses
        // the graph with any other model file.
        let onnx = onnx::encode_linked(&spec, &bytes);
        write(path, &onnx)?;
        eprintln!(
            "{}: ONNX opset {}, {} bytes",
            path.display(),
            onnx::OPSET,
            onnx.len()
        );
    }
    if let (Some(data), Some(d)) = (&o.calibration, shift) {
        eprintln!(
            "posterior means against the unfolded f32 model on {} observations of {}: \
             median |Δmean|/sd {:.4}, max {:.4}",
            d.observations,
            data.display(),
            d.median,
            d.max
        );
    }
    Ok(())
}

/// The f32 environment template of the scenario at `path`, refused unless it is the
/// scenario the model was trained for (same hash, same unknowns and observation).
pub fn template_for(spec: &ModelSpec, path: &Path) -> anyhow::Result<EnvironmentTemplate<f32>> {
    let scn = Scenario::load(path)?;
    if scn.hash() != spec.header.scenario_hash {
        return Err(refuse(format!(
            "scenario {}: hash {:016x} is not the model's {:016x} (a model carries only its own scenario)",
            path.display(),
            scn.hash(),
            spec.header.scenario_hash
        )));
    }
    Ok(scn.template()?.cast())
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Shift of posterior means between two models in units of the reference posterior sd.
#[derive(Clone, Copy, Debug)]
pub struct MeanShift {
    /// Observations compared.
    pub observations: usize,
    /// Median over observations and parameters.
    pub median: f64,
    /// Largest.
    pub max: f64,
}

/// Posterior means (500 draws, same seeds) of `a` and `b` on up to 100 observations of
/// `data`.
pub fn quantization_error(a: &Model<'_>, b: &Model<'_>, data: &Path) -> anyhow::Result<MeanShift> {
    let d = Dataset::read_dir(data)?;
    let y_dim = d.y_dim();
    if y_dim != a.y_dim() {
        return Err(refuse(format!(
            "calibration data {}: {y_dim} features per observation; the model expects {}",
            data.display(),
            a.y_dim()
        )));
    }
    let n = (d.y.len() / y_dim).min(100);
    let mut shifts = Vec::new();
    for (i, y) in d.y.chunks(y_dim).take(n).enumerate() {
        let (ma, sa) = moments(a, y, i as u64)?;
        let (mb, _) = moments(b, y, i as u64)?;
        shifts.extend(
            ma.iter()
                .zip(&mb)
                .zip(&sa)
                .map(|((x, y), s)| (x - y).abs() / s.max(f64::MIN_POSITIVE)),
        );
    }
    shifts.sort_by(f64::total_cmp);
    Ok(MeanShift {
        observations: n,
        median: shifts.get(shifts.len() / 2).copied().unwrap_or(0.0),
        max: shifts.last().copied().unwrap_or(0.0),
    })
}

/// Posterior mean and sd of every parameter from 500 draws.
fn moments(model: &Model<'_>, y: &[f32], seed: u64) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let draws = Conditioned::new(model, y)?.draws(seed, 500)?;
    Ok(crate::eval::moments::moments(&draws))
}

//! The buoy's replay loop, shared by every build that replays a recording: the Cortex-M
//! `buoy` (QEMU, boards) and the ARM Linux `buoy_linux`. Validate the model and the
//! recording, then run the [`Pipeline`] window by window with seeds 1, 2, … and hand each
//! report, with its encoded frame, to the caller — so the targets differ only in where the
//! bytes come from and where the frames go.

use core::fmt;

use crate::error::ModelError;
use crate::model::Model;
use crate::recording::{Recording, RecordingError};
use crate::report::{MAX_FRAME, Report, Status};

use super::recording_source::Replay;
use super::refinement::Refinement;
use super::source::SampleSource;
use super::{Pipeline, PipelineConfig, SetupError};

/// Why the replay stopped before the end of the recording.
#[derive(Debug)]
pub enum Fault {
    /// The model failed validation at boot (CRC, version, dimensions).
    Model(ModelError),
    /// The recording failed validation.
    Recording(RecordingError),
    /// The model and the source (a recording, an ADC) do not fit together.
    Setup(SetupError),
    /// The source failed, or ended inside a window (a replay reads whole windows only).
    Window,
    /// A report did not fit its frame buffer.
    Frame,
    /// Refinement was asked for, but the model carries no environment template.
    NoTemplate,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Model(e) => write!(f, "model refused at boot: {e}"),
            Fault::Recording(e) => write!(f, "recording refused: {e}"),
            Fault::Setup(e) => write!(f, "model and source do not fit together: {e}"),
            Fault::Window => f.write_str("the source failed or ended inside a window"),
            Fault::Frame => f.write_str("report frame too large"),
            Fault::NoTemplate => f.write_str(
                "refinement needs the model's environment template: export it with `vina export --scenario`",
            ),
        }
    }
}

/// Replay `recording` through the pipeline for `model` with `config`: one report per whole
/// window, the n-th seeded with `n`. `emit` gets each report, its COBS frame (with the
/// 0x00 delimiter) and the observation features it was computed from (so the host can
/// rerun the same inversion: `vina invert --engine core`). With `refinement`, each
/// posterior is also refined with the exact likelihood (same seed) and the report carries
/// the refined summary; a refinement that cannot run leaves `refined` empty. Returns the
/// number of reports.
pub fn replay(
    model: &[u8],
    recording: &[u8],
    config: PipelineConfig,
    refinement: Option<Refinement<'_>>,
    emit: impl FnMut(&Report, &[u8], &[f32]),
) -> Result<u32, Fault> {
    let model = Model::from_bytes(model).map_err(Fault::Model)?;
    if refinement.is_some() && model.template().is_none() {
        return Err(Fault::NoTemplate);
    }
    let recording = Recording::from_bytes(recording).map_err(Fault::Recording)?;
    let mut source = Replay::new(recording);
    replay_source(
        &model,
        &mut source,
        recording.frames,
        config,
        &[],
        refinement,
        emit,
    )
}

/// [`replay`]'s loop over any source that holds `frames` frames (a recording in flash,
/// a WAV file on the host): one report per whole window, the n-th seeded with `n`.
/// `correction` is the hydrophones' calibration ([`Pipeline::set_correction`]; empty:
/// none).
#[allow(clippy::too_many_arguments)]
pub fn replay_source<S: SampleSource>(
    model: &Model<'_>,
    source: &mut S,
    frames: usize,
    config: PipelineConfig,
    correction: &[[f32; 2]],
    mut refinement: Option<Refinement<'_>>,
    mut emit: impl FnMut(&Report, &[u8], &[f32]),
) -> Result<u32, Fault> {
    if refinement.is_some() && model.template().is_none() {
        return Err(Fault::NoTemplate);
    }
    // built in place (`Pipeline::new` returns it through a `Result`: a stack copy)
    let mut pipeline = Pipeline::unconfigured(model, config);
    pipeline
        .configure(source.channels(), source.sample_rate_hz())
        .map_err(Fault::Setup)?;
    if !correction.is_empty() {
        pipeline.set_correction(correction).map_err(Fault::Setup)?;
    }
    let window = config.window();
    let mut left = frames;
    let mut seed = 1u64;
    let mut frame = [0u8; MAX_FRAME];
    while window > 0 && left >= window {
        let mut report = pipeline.run(source, seed).map_err(|_| Fault::Window)?;
        left -= window;
        if let (Some(r), Status::Posterior) = (refinement.as_mut(), report.status) {
            let (ctx, y) = (pipeline.context(), pipeline.last_features());
            report.refined = r.refiner.run(model, ctx, y, &r.budget, seed, r.clock).ok();
        }
        let n = report.encode(&mut frame).map_err(|_| Fault::Frame)?;
        emit(&report, &frame[..n], pipeline.last_features());
        seed += 1;
    }
    Ok((seed - 1) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Precision, RandomArch};
    use std::vec::Vec;

    #[test]
    fn refusals_are_faults_not_panics() {
        let model = RandomArch::default_cinn()
            .build(1)
            .encode(Precision::F32)
            .unwrap();
        let mut broken = model.clone();
        broken[40] ^= 1;
        let none = |_: &Report, _: &[u8], _: &[f32]| panic!("no report expected");
        assert!(matches!(
            replay(&broken, &[], PipelineConfig::default(), None, none),
            Err(Fault::Model(_))
        ));
        assert!(matches!(
            replay(&model, b"VREC", PipelineConfig::default(), None, none),
            Err(Fault::Recording(_))
        ));
        // refinement with a model that carries no template: refused at boot
        let mut refiner = super::super::refinement::Refiner::new();
        let refine = super::super::refinement::Refinement {
            refiner: &mut refiner,
            budget: super::super::refinement::Budget::default(),
            clock: &|| 0,
        };
        assert!(matches!(
            replay(&model, &[], PipelineConfig::default(), Some(refine), none),
            Err(Fault::NoTemplate)
        ));
        // a valid 3-channel recording for a 5-receiver model
        let rec: Vec<u8> = Recording::encode(3, 1000.0, 1 << 23, &[0; 30]);
        assert!(matches!(
            replay(&model, &rec, PipelineConfig::default(), None, none),
            Err(Fault::Setup(SetupError::Channels { .. }))
        ));
    }
}

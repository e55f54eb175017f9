//! Exact-likelihood refinement on the buoy (docs/architecture.md, "Exact-likelihood
//! refinement and its fallback"): after the network's
//! posterior, `vina-core`'s [`refine_network`] corrects it with the exact posterior of the
//! model file's environment template, in f32, under a budget on the target's clock.
//!
//! The forward model dominates the cost (one normal-mode solve per tone per particle
//! and sweep: ~0.5 M instructions per gi-pekeris environment on a Cortex-M4), so the budget is what
//! makes this fit a report period: the sweeps stop when the next one would overrun it,
//! and the report says how many ran. The host replays the same refinement for the same
//! seed (`vina invert --refine` with the report's sweep count).

use crate::error::ModelError;
use crate::model::Model;
use crate::posterior::{ExactPosterior, ForwardBuffers};
use crate::refine::{MAX_PARAMS, RefineConfig, RefineError, refine_network, work_len};
use crate::report::Refined;
use crate::summary::Summary;
use crate::template::{WarmStart, WaveguideKind};

/// Most particles a refinement on the buoy holds (its buffers are static in size).
pub const MAX_PARTICLES: usize = 64;
/// Mode capacity per tone (gi-pekeris has at most ~25 trapped modes at 148 Hz).
pub const MODES: usize = 64;

/// How much refinement a report may spend: the core's settings plus what is the buoy's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    /// Particles (≤ [`MAX_PARTICLES`]).
    pub particles: u16,
    /// Sweeps (at most: the clock may stop them earlier), widening and thresholds.
    pub config: RefineConfig,
    /// Stop before a sweep that would end past this many clock units (instructions on
    /// QEMU `-icount`, cycles on a board) since the refinement began; 0: no limit.
    pub max_clock: u64,
}

impl Default for Budget {
    /// 64 particles and the core's buoy settings ([`RefineConfig::BUOY`]: up to 5
    /// sweeps): 64 proposal draws and ~35 delayed-acceptance moves a sweep, ~235 forward
    /// solves ≈ 0.07 G instructions for gi-pekeris, ~0.9 s at 80 MHz (measured:
    /// `bench/refine_cortex_m4.txt`).
    fn default() -> Self {
        Self {
            particles: 64,
            config: RefineConfig::BUOY,
            max_clock: 0,
        }
    }
}

/// Why a refinement could not run (the report then carries none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RefineFault {
    /// The model file has no environment template (`vina export --scenario`).
    NoTemplate,
    /// More particles or parameters than this build reserves.
    Capacity,
    /// The observation does not fit the template.
    Observation,
    /// The refinement itself failed (e.g. no proposal draw inside the prior).
    Refine(RefineError<ModelError>),
}

/// The refinement's state: particles, work buffer and forward-model buffers, with room
/// for the mode roots that start each forward solve from the previous one (~13 KiB; keep
/// one per buoy, not per report).
pub struct Refiner {
    particles: [f32; MAX_PARTICLES * MAX_PARAMS],
    work: [f32; work_len(MAX_PARTICLES, MAX_PARAMS)],
    buffers: ForwardBuffers<f32, MODES>,
    rows: usize,
    dim: usize,
}

impl Default for Refiner {
    fn default() -> Self {
        Self::new()
    }
}

impl Refiner {
    /// Empty state.
    pub fn new() -> Self {
        Self {
            particles: [0.0; MAX_PARTICLES * MAX_PARAMS],
            work: [0.0; work_len(MAX_PARTICLES, MAX_PARAMS)],
            buffers: ForwardBuffers::new(),
            rows: 0,
            dim: 0,
        }
    }

    /// Tone solves of the last refinement started from the previous solve's roots
    /// (`[0]`) and solved from scratch (`[1]`).
    pub fn warm_starts(&self) -> [u64; 2] {
        self.buffers.warm.as_ref().map_or([0; 2], |w| w.used)
    }

    /// The last refinement's particles, one row of `x_dim` values each.
    pub fn particles(&self) -> &[f32] {
        &self.particles[..self.rows * self.dim]
    }

    /// Refine `model`'s posterior for the observed features `y` (its context already
    /// prepared by the pipeline) with seed `seed`; `clock` reads the target's
    /// instruction or cycle counter (any monotonic count works; a constant one turns the
    /// budget off).
    pub fn run(
        &mut self,
        model: &Model<'_>,
        context: &[f32],
        y: &[f32],
        budget: &Budget,
        seed: u64,
        clock: &dyn Fn() -> u64,
    ) -> Result<Refined, RefineFault> {
        let template = model.template().ok_or(RefineFault::NoTemplate)?;
        let (n, d) = (usize::from(budget.particles), model.x_dim());
        if n > MAX_PARTICLES || d > MAX_PARAMS || n < 2 {
            return Err(RefineFault::Capacity);
        }
        let posterior = ExactPosterior::new(template, y).map_err(|_| RefineFault::Observation)?;
        let start = clock();
        let mut target_clock = 0u64;
        // Mode roots start from the previous evaluation's for layered seabeds (2.1–2.6×
        // fewer instructions per solve on the host, shared/tests/profile.rs), afresh in
        // each report, so that a replay of this report alone (the host's) evaluates
        // exactly what the buoy evaluated. Not for Pekeris templates: their lossless
        // roots are cheap (analytic brackets), the complex Newton steps dominate, and a
        // neighbour's root is no closer a start than the continuation's predictor
        // (measured: within ±1.5 % of the instructions, bench/refine_cortex_m4.txt).
        self.buffers.warm = (template.waveguide == WaveguideKind::Layered).then(WarmStart::default);
        let buffers = &mut self.buffers;
        let mut log_target = |points: &[f32], out: &mut [f32]| {
            let t0 = clock();
            for (o, x) in out.iter_mut().zip(points.chunks_exact(d)) {
                *o = posterior.log_posterior(x, buffers);
            }
            target_clock += clock().saturating_sub(t0);
        };
        // Sweep k may start when the elapsed time plus the last sweep's (or, before the
        // first, the importance step's) cost stays within the budget.
        let (mut last_mark, mut last_cost) = (0u64, 0u64);
        let mut keep_going = |_k: u32| {
            if budget.max_clock == 0 {
                return true;
            }
            let now = clock();
            let elapsed = now.saturating_sub(start);
            last_cost = if last_mark == 0 {
                elapsed
            } else {
                now.saturating_sub(last_mark)
            };
            last_mark = now;
            elapsed + last_cost <= budget.max_clock
        };
        let particles = &mut self.particles[..n * d];
        let work = &mut self.work[..work_len(n, d)];
        let result = refine_network(
            &budget.config,
            model,
            context,
            seed,
            &mut log_target,
            &mut keep_going,
            particles,
            work,
        );
        let instructions = clock().saturating_sub(start);
        let (report, _) = result.map_err(RefineFault::Refine)?;
        self.rows = n;
        self.dim = d;
        let mut parameters = heapless::Vec::new();
        for i in 0..d {
            let mut s = Summary::new();
            for row in self.particles().chunks_exact(d) {
                s.push(row[i]);
            }
            // d ≤ MAX_PARAMS = the report's capacity
            let _ = parameters.push(s.values());
        }
        Ok(Refined {
            particles: budget.particles,
            steps: u16::try_from(report.steps).unwrap_or(u16::MAX),
            ess: report.ess as f32,
            max_weight: report.max_weight as f32,
            acceptance: report.acceptance as f32,
            missed: report.missed,
            instructions,
            target_instructions: target_clock,
            parameters,
            evaluations: u32::try_from(report.evaluations).unwrap_or(u32::MAX),
        })
    }
}

/// A refinement step for the replay loop: the state, the budget and the clock.
pub struct Refinement<'r> {
    /// State.
    pub refiner: &'r mut Refiner,
    /// Budget per report.
    pub budget: Budget,
    /// The target's instruction or cycle counter.
    pub clock: &'r dyn Fn() -> u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Scratch;
    use crate::spec::{Precision, RandomArch};
    use core::cell::Cell;
    extern crate std;
    use std::vec;

    /// The committed model (a heap buffer: aligned, as the buoy's flash image is).
    fn committed() -> std::vec::Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../models/gi-pekeris-cinn.vina"
        ))
        .unwrap()
    }

    /// Noise-free relative-transfer-function features of the model's own template at θ.
    fn observation(model: &Model<'_>, theta: &[f32]) -> std::vec::Vec<f32> {
        let t = model.template().unwrap();
        let (tones, r) = (t.tones_hz.len(), t.receiver_depths_m.len());
        let mut buffers = ForwardBuffers::<f32, MODES>::new();
        let mut p = vec![[0.0f32; 2]; tones * r];
        t.pressure(theta, &mut buffers.modes, &mut p).unwrap();
        let mut y = vec![0.0f32; t.features.len(tones, r)];
        t.features.compute(&p, tones, r, &mut y).unwrap();
        y
    }

    fn prepared(model: &Model<'_>, y: &[f32]) -> std::vec::Vec<f32> {
        let mut ctx = vec![0.0f32; model.context_len()];
        model.prepare(y, &mut ctx, &mut Scratch::new()).unwrap();
        ctx
    }

    #[test]
    fn a_budget_stops_the_sweeps_and_equals_a_run_configured_with_them() {
        let bytes = committed();
        let model = Model::from_bytes(&bytes).unwrap();
        let y = observation(&model, &[214.0, 1570.0]);
        let ctx = prepared(&model, &y);
        let budget = Budget {
            particles: 16,
            config: RefineConfig {
                steps: 8,
                ..RefineConfig::BUOY
            },
            ..Budget::default()
        };
        // a clock that advances by one unit per read: the importance step reads it 3
        // times, each sweep 3 more, so a budget of 14 units ends the sweeps early
        let ticks = Cell::new(0u64);
        let clock = || {
            ticks.set(ticks.get() + 1);
            ticks.get()
        };
        let mut refiner = Refiner::new();
        let cut = refiner
            .run(
                &model,
                &ctx,
                &y,
                &Budget {
                    max_clock: 14,
                    ..budget
                },
                9,
                &clock,
            )
            .unwrap();
        assert!(
            0 < cut.steps && u32::from(cut.steps) < budget.config.steps,
            "{cut:?}"
        );
        let same = refiner
            .run(
                &model,
                &ctx,
                &y,
                &Budget {
                    config: RefineConfig {
                        steps: u32::from(cut.steps),
                        ..budget.config
                    },
                    ..budget
                },
                9,
                &|| 0,
            )
            .unwrap();
        assert_eq!(cut.parameters, same.parameters);
        assert!(cut.target_instructions <= cut.instructions);

        // no limit: all sweeps; refined draws near the truth of a noise-free observation
        let full = refiner.run(&model, &ctx, &y, &budget, 9, &|| 0).unwrap();
        assert_eq!(u32::from(full.steps), budget.config.steps);
        let depth = full.parameters[0];
        assert!((depth.mean - 214.0).abs() < 0.5, "{depth:?}");
    }

    #[test]
    fn refusals_are_typed() {
        let bytes = committed();
        let model = Model::from_bytes(&bytes).unwrap();
        let y = observation(&model, &[214.0, 1570.0]);
        let ctx = prepared(&model, &y);
        let mut refiner = Refiner::new();
        let too_many = Budget {
            particles: MAX_PARTICLES as u16 + 1,
            ..Budget::default()
        };
        assert_eq!(
            refiner.run(&model, &ctx, &y, &too_many, 1, &|| 0).err(),
            Some(RefineFault::Capacity)
        );
        assert_eq!(
            refiner
                .run(&model, &ctx, &y[1..], &Budget::default(), 1, &|| 0)
                .err(),
            Some(RefineFault::Observation)
        );
        let bare = RandomArch::default_cinn()
            .build(1)
            .encode(Precision::F32)
            .unwrap();
        let bare = Model::from_bytes(&bare).unwrap();
        let ctx = prepared(&bare, &y);
        assert_eq!(
            refiner
                .run(&bare, &ctx, &y, &Budget::default(), 1, &|| 0)
                .err(),
            Some(RefineFault::NoTemplate)
        );
    }
}

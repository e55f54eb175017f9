//! The buoy's main loop on QEMU `mps2-an386` (and on boards, `boards/`): validate the model
//! at boot, replay the embedded recording through the pipeline window by window
//! ([`vina_core::pipeline::replay`]), and emit each report as a hex-encoded frame on
//! semihosting (`cargo xtask qemu` decodes them) plus a readable line. Last, the stack's
//! high-water mark (the stack is painted at reset).
//!
//! With the `refine` feature each posterior is refined with the exact likelihood of the
//! model's environment template under a budget in instructions
//! (`VINA_REFINE_MAX_INSTRUCTIONS` at build time; unset: the default budget's sweeps);
//! the report frame carries the refined summary and the instruction counts.
//!
//! With the `defmt` feature the readable lines are defmt logs on semihosting stdout and
//! the frames go to semihosting stderr, so the two streams do not mix.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::debug;
use vina_core::pipeline::PipelineConfig;
use vina_core::pipeline::replay::replay;
use vina_core::summary::SummaryValues;
use vina_firmware::target::{halt, stack_use};
#[cfg(feature = "defmt")]
use {cortex_m_semihosting::heprint as frame_out, defmt_semihosting as _};

#[cfg(not(feature = "defmt"))]
use cortex_m_semihosting::hprint as frame_out;

/// A readable line: semihosting text, or a defmt log with the `defmt` feature.
#[cfg(not(feature = "defmt"))]
macro_rules! log {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {
        cortex_m_semihosting::hprintln!($fmt $(, $arg)*)
    };
}
#[cfg(feature = "defmt")]
macro_rules! log {
    ($fmt:literal $(, $arg:expr)* $(,)?) => {
        defmt::println!($fmt $(, $arg)*)
    };
}

/// A number for a readable line: [`vina_core::decimal::Decimal`] on semihosting
/// (no `core::fmt` float code in flash), the f32 itself for defmt (formatted on the host).
#[cfg(not(feature = "defmt"))]
fn num(x: f32) -> vina_core::decimal::Decimal {
    vina_core::decimal::Decimal(x)
}
#[cfg(feature = "defmt")]
fn num(x: f32) -> f32 {
    x
}

/// The f32 model, or with `int8-model` the int8 one: the refining build needs it to fit
/// the 256 KiB flash budget (the forward model and refinement take ~60 KiB).
#[cfg(not(feature = "int8-model"))]
static MODEL: &[u8] = vina_firmware::include_aligned!(concat!(env!("OUT_DIR"), "/model_f32.vina"));
#[cfg(feature = "int8-model")]
static MODEL: &[u8] = vina_firmware::include_aligned!(concat!(env!("OUT_DIR"), "/model_int8.vina"));
static RECORDING: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/recording.vrec"));

/// One readable line per parameter: `report N [refined ]pK: mean … q95 …`.
fn log_summaries(sequence: u32, label: &str, summaries: &[SummaryValues]) {
    for (i, p) in summaries.iter().enumerate() {
        log!(
            "report {} {}p{}: mean {} std {} q05 {} q50 {} q95 {}",
            sequence,
            label,
            i,
            num(p.mean),
            num(p.std),
            num(p.q05),
            num(p.q50),
            num(p.q95)
        );
    }
}

#[entry]
fn main() -> ! {
    // the refinement's budget is counted in instructions (SysTick under QEMU)
    #[cfg(feature = "refine")]
    let _counter = cortex_m::Peripherals::take()
        .map(|cp| vina_firmware::target::InstructionCounter::start(cp.SYST));
    let outcome = vina_firmware::with_refinement!(
        vina_firmware::target::instructions,
        |refinement| replay(
            MODEL,
            // opaque to the optimizer: with no recording embedded (the size report's build)
            // it would otherwise prove the loop dead and drop the pipeline from the count
            core::hint::black_box(RECORDING),
            PipelineConfig::default(),
            refinement,
            |report, frame, y| {
                frame_out!("frame ");
                for b in frame {
                    frame_out!("{:02x}", b);
                }
                frame_out!("\n");
                // The features as exact f32 bits, for the host's rerun of the same inversion.
                frame_out!("features {} ", report.sequence);
                for v in y {
                    frame_out!("{:08x}", v.to_bits());
                }
                frame_out!("\n");
                log_summaries(report.sequence, "", &report.parameters);
                if let Some(r) = &report.refined {
                    log!(
                        "report {} refined: {} particles, {} sweeps, ess {}, acceptance {}, missed {}, {} instructions ({} in the exact posterior)",
                        report.sequence,
                        r.particles,
                        r.steps,
                        num(r.ess),
                        num(r.acceptance),
                        r.missed,
                        r.instructions,
                        r.target_instructions
                    );
                    log_summaries(report.sequence, "refined ", &r.parameters);
                }
            }
        )
    );
    let stack = stack_use();
    log!(
        "stack high-water {} B of {} B",
        stack.high_water,
        stack.size
    );
    match outcome {
        Ok(_) => debug::exit(debug::EXIT_SUCCESS),
        Err(fault) => {
            #[cfg(not(feature = "defmt"))]
            log!("fault: {}", fault);
            #[cfg(feature = "defmt")]
            log!("fault: {}", defmt::Display2Format(&fault));
            debug::exit(debug::EXIT_FAILURE);
        }
    }
    halt()
}

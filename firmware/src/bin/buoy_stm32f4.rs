//! The buoy on an STM32F4 board (features `board-stm32f411` or `board-stm32f405`;
//! README.md "Real boards"): validate the model at boot, then run the pipeline window by
//! window and send each report frame (postcard + COBS, docs/report-frame.md) on USART1
//! (TX on PA9, 115 200 Bd, 8N1), where `vina listen --serial DEV` reads it. Logs go over
//! RTT (defmt); a panic is reported by `panic-probe`. No semihosting: the board runs
//! without a debugger attached.
//!
//! Where the samples come from:
//! - with a recording embedded at build time (`VINA_RECORDING`), the recording, and each
//!   frame is preceded by two text lines for the host's checks: the window's features
//!   (`features N HEX`, exact f32 bits) and its cost in cycles
//!   (`cost N window W posterior P refinement R`);
//!   this is how CI runs the F405 build under QEMU `netduinoplus2` (`cargo xtask board`);
//! - otherwise the ADS131M04 (`board::adc`, wiring in firmware/README.md): DRDY on EXTI0,
//!   frames by SPI DMA into a queue the pipeline drains while the next window fills
//!   (`acquisition::stream`), report frames alone on the USART.
//!
//! With `refine`, each posterior is refined with the exact likelihood, budgeted in cycles
//! (`VINA_REFINE_MAX_INSTRUCTIONS`, the same variable as the QEMU buoy's).
#![no_std]
#![no_main]

use core::cell::Cell;
use core::fmt::Write as _;

use cortex_m_rt::entry;
use defmt_rtt as _;
use panic_probe as _;
use stm32f4xx_hal::pac;
use stm32f4xx_hal::prelude::*;
use vina_core::model::Model;
use vina_core::pipeline::PipelineConfig;
use vina_core::pipeline::recording_source::Replay;
use vina_core::pipeline::replay::{Fault, replay_source};
use vina_core::pipeline::source::SampleSource;
use vina_core::recording::Recording;
use vina_core::report::Report;
use vina_firmware::acquisition::stream::StreamError;
use vina_firmware::board::{self, CycleCounter, Timed, adc, cycles};
use vina_firmware::target::{InstructionCounter, halt, stack_use};

/// The f32 model, or with `int8-model` the int8 one (either fits the boards' flash with
/// `refine`).
#[cfg(not(feature = "int8-model"))]
static MODEL: &[u8] = vina_firmware::include_aligned!(concat!(env!("OUT_DIR"), "/model_f32.vina"));
#[cfg(feature = "int8-model")]
static MODEL: &[u8] = vina_firmware::include_aligned!(concat!(env!("OUT_DIR"), "/model_int8.vina"));
static RECORDING: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/recording.vrec"));

/// The report's summaries as defmt logs (formatted on the host: no float code in flash).
fn log_report(report: &Report) {
    for (i, p) in report.parameters.iter().enumerate() {
        defmt::info!(
            "report {} p{}: mean {} std {} q05 {} q95 {}",
            report.sequence,
            i,
            p.mean,
            p.std,
            p.q05,
            p.q95
        );
    }
    if let Some(r) = &report.refined {
        for (i, p) in r.parameters.iter().enumerate() {
            defmt::info!(
                "report {} refined p{}: mean {} q05 {} q95 {} ({} sweeps, ess {})",
                report.sequence,
                i,
                p.mean,
                p.q05,
                p.q95,
                r.steps,
                r.ess
            );
        }
    }
}

/// The buoy proper: windows from the ADC through the pipeline, report frames on the
/// USART, forever. (The loop is `replay_source`'s, over a source without end.) A window
/// the source failed in (a timeout: the ADC stopped) is logged and the loop restarts; a
/// part that reset stops the buoy (a watchdog would restart it).
fn acquire(
    model: &Model<'_>,
    source: &mut impl SampleSource<Error = StreamError>,
    rate: f32,
    sysclk_hz: u32,
    uart: &mut impl embedded_io::Write,
) -> ! {
    defmt::info!("ADS131M04 streaming at {} Hz", rate);
    // Refinement gets what the queue leaves after the inference (its samples at 100,000
    // cycles each: 1.5× the instructions measured in board-report.txt), so refining never
    // overruns acquisition; on the F411 at 84 MHz that is 1–2 of the 5 sweeps, on the F405
    // at 168 MHz all of them. `VINA_REFINE_MAX_INSTRUCTIONS` overrides it.
    let inference = u64::from(PipelineConfig::default().samples) * 100_000;
    let refine_cycles = adc::pause_cycles(rate, sysclk_hz)
        .saturating_sub(inference)
        .max(1);
    loop {
        let outcome =
            vina_firmware::with_refinement!(cycles, refine_cycles, |refinement| replay_source(
                model,
                source,
                usize::MAX,
                PipelineConfig::default(),
                &[],
                refinement,
                |report, frame, _| {
                    // a UART write cannot fail on this part (no error is defined for TX)
                    let _ = uart.write_all(frame);
                    log_report(report);
                    let c = adc::counters();
                    if c.lost() > 0 {
                        defmt::warn!("{} conversions lost ({} overruns)", c.lost(), c.overruns());
                    }
                }
            ));
        if let Err(fault) = outcome {
            defmt::error!("acquisition: {}", defmt::Display2Format(&fault));
            if adc::counters().device_reset() || !matches!(fault, Fault::Window) {
                // e.g. a model for more receivers than the ADC has: said where the
                // reports go, so a user without a probe sees it
                let _ = writeln!(uart, "fault: {fault}");
                halt()
            }
        }
    }
}

#[entry]
fn main() -> ! {
    let (Some(dp), Some(cp)) = (pac::Peripherals::take(), cortex_m::Peripherals::take()) else {
        halt()
    };
    let (mut rcc, silicon) = board::clocks(dp.RCC);
    let _counter = CycleCounter::start(silicon, dp.TIM2, cp.DCB, cp.DWT, &mut rcc);
    let gpioa = dp.GPIOA.split(&mut rcc);
    let Ok(mut uart) = dp.USART1.tx(gpioa.pa9, 115_200.bps(), &mut rcc) else {
        defmt::error!("USART1 refused 115200 Bd at this clock");
        halt()
    };
    defmt::info!(
        "vina buoy on {}: {} Hz core clock ({})",
        board::CHIP,
        rcc.clocks.sysclk().raw(),
        if silicon { "silicon" } else { "emulated" }
    );
    let model = match Model::from_bytes(MODEL) {
        Ok(m) => m,
        Err(e) => {
            // a corrupt model is refused by its checksum, and the buoy says so
            defmt::error!("model refused at boot: {}", defmt::Display2Format(&e));
            let _ = writeln!(uart, "fault: model refused at boot: {e}");
            halt()
        }
    };
    if RECORDING.is_empty() {
        let gpiob = dp.GPIOB.split(&mut rcc);
        let pins = adc::Pins {
            cs: gpioa.pa4,
            sck: gpioa.pa5,
            miso: gpioa.pa6,
            mosi: gpioa.pa7,
            drdy: gpiob.pb0,
            sync: gpiob.pb1,
            clkin: gpiob.pb4,
        };
        let peripherals = adc::Peripherals {
            spi1: dp.SPI1,
            tim3: dp.TIM3,
            dma2: dp.DMA2,
            syscfg: dp.SYSCFG,
            exti: dp.EXTI,
        };
        let mut delay = cp.SYST.delay(&rcc.clocks);
        let started = adc::start(peripherals, pins, &mut delay, &mut rcc);
        // SysTick's wrap (every 2^24 cycles) wakes a waiting pipeline if the ADC stops
        let _wakeup = InstructionCounter::start(delay.release().release());
        match started {
            Ok((mut source, rate)) => {
                let sysclk = rcc.clocks.sysclk().raw();
                acquire(&model, &mut source, rate, sysclk, &mut uart)
            }
            Err(e) => {
                let _ = writeln!(uart, "fault: ADC not started: {e:?}");
                halt()
            }
        }
    }
    let recording = match Recording::from_bytes(RECORDING) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(uart, "fault: recording refused: {e}");
            halt()
        }
    };
    let last_read = Cell::new(0u64);
    let mut source = Timed::new(Replay::new(recording), &last_read);
    let mut started = cycles();
    let outcome = vina_firmware::with_refinement!(cycles, |refinement| replay_source(
        &model,
        &mut source,
        recording.frames,
        PipelineConfig::default(),
        &[],
        refinement,
        |report, frame, y| {
            let now = cycles();
            let window = now.wrapping_sub(started);
            let refined = report.refined.as_ref().map_or(0, |r| r.instructions);
            let posterior = now.wrapping_sub(last_read.get()).saturating_sub(refined);
            // The text lines before the frame, so a reader splits them off without
            // guessing (a raw frame may hold any byte but 0x00, '\n' included). A UART
            // write cannot fail on this part (no error is defined for TX).
            let _ = write!(uart, "features {} ", report.sequence);
            for v in y {
                let _ = write!(uart, "{:08x}", v.to_bits());
            }
            let _ = writeln!(
                uart,
                "\ncost {} window {} posterior {} refinement {}",
                report.sequence, window, posterior, refined
            );
            let _ = embedded_io::Write::write_all(&mut uart, frame);
            log_report(report);
            started = cycles();
        }
    ));
    let stack = stack_use();
    let _ = writeln!(
        uart,
        "stack high-water {} B of {} B",
        stack.high_water, stack.size
    );
    match outcome {
        Ok(n) => {
            defmt::info!("recording replayed: {} reports", n);
            let _ = writeln!(uart, "done {n}");
        }
        Err(fault) => {
            defmt::error!("fault: {}", defmt::Display2Format(&fault));
            let _ = writeln!(uart, "fault: {fault}");
        }
    }
    halt()
}

//! The STM32F4 boards (features `board-stm32f411`, `board-stm32f405`; README.md "Real
//! boards"): what the `buoy_stm32f4` binary needs beyond the HAL — the clock it runs at,
//! a cycle counter that also counts instructions under QEMU, and the ADS131M04 wired to
//! the part's SPI, EXTI and DMA ([`adc`]).

pub mod adc;

use core::cell::Cell;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use stm32f4xx_hal::pac;
use stm32f4xx_hal::prelude::*;
use stm32f4xx_hal::rcc::{Config, Enable, Rcc};
use vina_core::pipeline::source::{SampleSource, SampleStatus};

/// The core clock the board runs at on silicon: the STM32F411's maximum (84 MHz is also
/// where its USB clock would come out exact), the STM32F405's maximum.
#[cfg(feature = "board-stm32f411")]
pub const SYSCLK_HZ: u32 = 84_000_000;
#[cfg(not(feature = "board-stm32f411"))]
pub const SYSCLK_HZ: u32 = 168_000_000;

/// The part's name, for the boot log.
#[cfg(feature = "board-stm32f411")]
pub const CHIP: &str = "STM32F411";
#[cfg(not(feature = "board-stm32f411"))]
pub const CHIP: &str = "STM32F405";

/// Bring the clocks up: the PLL from the internal oscillator to [`SYSCLK_HZ`] on silicon.
/// QEMU's `netduinoplus2` does not model the RCC (its registers read 0, so waiting for the
/// PLL would hang): there the board stays on the 16 MHz HSI. Told apart by `RCC.CR.HSIRDY`,
/// which reads 1 on every running STM32F4 (the HSI clocks it out of reset). Returns the
/// RCC and whether the part is real silicon.
pub fn clocks(rcc: pac::RCC) -> (Rcc, bool) {
    let silicon = rcc.cr().read().hsirdy().bit_is_set();
    let config = if silicon {
        Config::hsi().sysclk(SYSCLK_HZ.Hz())
    } else {
        Config::hsi()
    };
    (rcc.freeze(config), silicon)
}

/// The cycle counter: the DWT's on silicon (core cycles), and under QEMU, where the DWT
/// reads 0, a free-running TIM2 at prescaler 1 — QEMU's STM32 timers count at 1 GHz of
/// virtual time, which with `-icount shift=0` (1 ns per instruction) counts instructions.
/// One clock for the refinement budget and the duty-cycle figures on both.
pub struct CycleCounter(());

static ON_SILICON: AtomicBool = AtomicBool::new(false);

impl CycleCounter {
    /// Start counting: the DWT cycle counter when `silicon`, TIM2 otherwise.
    pub fn start(
        silicon: bool,
        tim2: pac::TIM2,
        mut dcb: cortex_m::peripheral::DCB,
        mut dwt: cortex_m::peripheral::DWT,
        rcc: &mut Rcc,
    ) -> Self {
        ON_SILICON.store(silicon, Ordering::Relaxed);
        if silicon {
            dcb.enable_trace();
            dwt.enable_cycle_counter();
        } else {
            pac::TIM2::enable(rcc);
            tim2.psc().write(|w| w.psc().set(0));
            tim2.arr().write(|w| w.arr().set(u32::MAX));
            tim2.egr().write(|w| w.ug().set_bit());
            tim2.cr1().modify(|_, w| w.cen().set_bit());
        }
        Self(())
    }
}

/// The count of [`CycleCounter`]: wraps every 2^32 (25 s at 168 MHz).
#[allow(unsafe_code)]
pub fn cycles32() -> u32 {
    if ON_SILICON.load(Ordering::Relaxed) {
        cortex_m::peripheral::DWT::cycle_count()
    } else {
        // SAFETY: a read of TIM2's counter register, which only `CycleCounter`
        // configures; reading it has no side effect.
        unsafe { (*pac::TIM2::ptr()).cnt().read().bits() }
    }
}

/// [`cycles32`] widened to 64 bits by counting wrap-arounds, for the refinement budget's
/// clock: exact as long as it is called at least once per wrap (the refinement calls it
/// every sweep, milliseconds apart).
pub fn cycles() -> u64 {
    static LAST: AtomicU32 = AtomicU32::new(0);
    static WRAPS: AtomicU32 = AtomicU32::new(0);
    let now = cycles32();
    if now < LAST.swap(now, Ordering::Relaxed) {
        WRAPS.fetch_add(1, Ordering::Relaxed);
    }
    (u64::from(WRAPS.load(Ordering::Relaxed)) << 32) | u64::from(now)
}

/// A [`SampleSource`] that notes the cycle count after each frame it hands out, in a
/// cell the caller keeps: the pipeline's inference for a window starts right after its
/// last frame, so a report's cost splits into acquisition + DSP and inference.
pub struct Timed<'c, S> {
    source: S,
    last_read: &'c Cell<u64>,
}

impl<'c, S> Timed<'c, S> {
    /// Wrap `source`; `last_read` gets [`cycles`] after each frame.
    pub fn new(source: S, last_read: &'c Cell<u64>) -> Self {
        Self { source, last_read }
    }
}

impl<S: SampleSource> SampleSource for Timed<'_, S> {
    type Error = S::Error;

    fn channels(&self) -> usize {
        self.source.channels()
    }

    fn sample_rate_hz(&self) -> f32 {
        self.source.sample_rate_hz()
    }

    fn full_scale(&self) -> i32 {
        self.source.full_scale()
    }

    fn read(&mut self, out: &mut [i32]) -> Result<SampleStatus, Self::Error> {
        let status = self.source.read(out);
        self.last_read.set(cycles());
        status
    }
}

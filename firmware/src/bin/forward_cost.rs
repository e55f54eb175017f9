//! Instructions per environment of the f32 normal-mode solver on the Cortex-M4: one
//! gi-pekeris environment (7 tones × 5 receivers), measured with SysTick under QEMU
//! `-icount shift=0`, where every instruction takes exactly 1 ns of virtual time and the
//! MPS2 AN386 core clock (25 MHz) ticks SysTick every 40 ns, so counts repeat exactly.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use cortex_m_semihosting::{debug, hprintln};
use num_complex::Complex;
use vina_core::acoustics::{Medium, ModeSet, Pekeris, Waveguide};

/// SysTick reload: the full 24-bit range.
const RELOAD: u32 = 0x00FF_FFFF;
/// Instructions per SysTick tick under `-icount shift=0` at the AN386's 25 MHz core clock.
const INSTRUCTIONS_PER_TICK: u32 = 40;

static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// Ticks since the counter started (it counts down from RELOAD and wraps).
fn ticks() -> u64 {
    loop {
        let w = WRAPS.load(Ordering::Relaxed);
        let cvr = cortex_m::peripheral::SYST::get_current();
        if WRAPS.load(Ordering::Relaxed) == w {
            return u64::from(w) * u64::from(RELOAD + 1) + u64::from(RELOAD - cvr);
        }
    }
}

const TONES: [f32; 7] = [49.0, 64.0, 79.0, 94.0, 112.0, 130.0, 148.0];
const RECEIVERS: [f32; 5] = [30.0, 70.0, 110.0, 150.0, 190.0];

#[entry]
fn main() -> ! {
    let Some(mut cp) = cortex_m::Peripherals::take() else {
        debug::exit(debug::EXIT_FAILURE);
        halt()
    };
    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(RELOAD);
    cp.SYST.clear_current();
    cp.SYST.enable_interrupt();
    cp.SYST.enable_counter();

    let guide = Pekeris::new(
        218.5f32,
        Medium::lossless(1562.0, 1.0),
        Medium::new(1700.0, 1.5, 0.5),
    );
    let mut modes = ModeSet::<f32, 64>::new();
    let mut p = [Complex::new(0.0f32, 0.0); 5];
    let mut total_modes = 0;
    let start = ticks();
    for f in TONES {
        if let Err(e) = guide.modes(f, &mut modes) {
            hprintln!("forward model error: {}", e);
            debug::exit(debug::EXIT_FAILURE);
        }
        total_modes += modes.len();
        if modes.pressure_at(60.0, 3000.0, &RECEIVERS, &mut p).is_err() {
            debug::exit(debug::EXIT_FAILURE);
        }
    }
    let elapsed = ticks() - start;
    hprintln!(
        "gi-pekeris environment (7 tones x 5 receivers, {} modes): {} instructions (f32)",
        total_modes,
        elapsed * u64::from(INSTRUCTIONS_PER_TICK)
    );
    hprintln!("p(148 Hz, 190 m) = {:e} {:+e}i", p[4].re, p[4].im);
    debug::exit(debug::EXIT_SUCCESS);
    halt()
}

fn halt() -> ! {
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    halt()
}

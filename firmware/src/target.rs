//! What every Cortex-M binary of this crate shares: the panic handler, parking the core,
//! and a deterministic instruction counter for benchmarks under QEMU.

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use cortex_m_semihosting::debug;

/// Park the core (on a board a semihosting exit need not stop it: probe-rs ends the
/// session, but the core may run on; without a probe, semihosting calls fault).
pub fn halt() -> ! {
    loop {
        cortex_m::asm::wfi();
    }
}

/// Report failure to QEMU (exit code 1) and park. The firmware never panics on data; a
/// panic here is a bug, so the test run must fail loudly. (Board builds report panics
/// through `panic-probe` instead: no semihosting without a debugger.)
#[cfg(not(feature = "board"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    halt()
}

/// SysTick reload: the full 24-bit range.
const RELOAD: u32 = 0x00FF_FFFF;
/// Instructions per SysTick tick under `-icount shift=0` (1 ns per instruction) at the MPS2
/// AN386's 25 MHz core clock.
pub const INSTRUCTIONS_PER_TICK: u64 = 40;

static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// Instruction counter from SysTick: exact and repeatable under QEMU `-icount shift=0`
/// (the DWT cycle counter reads 0 there).
pub struct InstructionCounter(());

impl InstructionCounter {
    /// Start SysTick counting core clock ticks, with wrap-around counted in an interrupt.
    pub fn start(mut syst: cortex_m::peripheral::SYST) -> Self {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(RELOAD);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        Self(())
    }

    /// Instructions executed since [`InstructionCounter::start`] (40-instruction resolution).
    pub fn now(&self) -> u64 {
        instructions()
    }
}

/// The `main` of a measurement binary: start the instruction counter, run `measure`, and
/// exit QEMU with success when it returns `Some`, failure otherwise.
pub fn run_measurement(measure: impl FnOnce(&InstructionCounter) -> Option<()>) -> ! {
    let Some(cp) = cortex_m::Peripherals::take() else {
        debug::exit(debug::EXIT_FAILURE);
        halt()
    };
    let counter = InstructionCounter::start(cp.SYST);
    let ok = measure(&counter);
    debug::exit(if ok.is_some() {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    halt()
}

/// Instructions executed since an [`InstructionCounter`] was started (meaningless
/// before; a plain function, so a refinement budget can take it as its clock).
pub fn instructions() -> u64 {
    loop {
        let w = WRAPS.load(Ordering::Relaxed);
        let cvr = cortex_m::peripheral::SYST::get_current();
        if WRAPS.load(Ordering::Relaxed) == w {
            let ticks = u64::from(w) * u64::from(RELOAD + 1) + u64::from(RELOAD - cvr);
            return ticks * INSTRUCTIONS_PER_TICK;
        }
    }
}

/// Stack use so far, from the paint `cortex-m-rt` lays over the whole stack at reset
/// (feature `paint-stack`: every word between `_stack_end` and `_stack_start` set to
/// [`cortex_m_rt::STACK_PAINT_VALUE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackUse {
    /// Deepest use since reset, bytes: from the top of RAM down to the lowest word whose
    /// paint is gone (a lower bound only if a frame skipped words it reserved — the
    /// usual caveat of stack painting).
    pub high_water: usize,
    /// Bytes the stack may take: RAM left after `.data`, `.bss` and `.uninit`.
    pub size: usize,
}

/// Measure the stack's high-water mark (scans from the bottom of the stack up).
#[allow(unsafe_code)]
pub fn stack_use() -> StackUse {
    unsafe extern "C" {
        static _stack_end: u32;
        static _stack_start: u32;
    }
    let bottom = (&raw const _stack_end) as usize;
    let top = (&raw const _stack_start) as usize;
    let mut p = bottom;
    // SAFETY: [bottom, top) is this program's stack, 4-byte aligned (asserted by link.x):
    // reading it is always defined, the words below the current frame are just unused.
    while p < top
        && unsafe { core::ptr::read_volatile(p as *const u32) } == cortex_m_rt::STACK_PAINT_VALUE
    {
        p += 4;
    }
    StackUse {
        high_water: top - p,
        size: top - bottom,
    }
}

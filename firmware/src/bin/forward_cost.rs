//! Instructions per environment of the f32 normal-mode solver on the Cortex-M4: one
//! gi-pekeris environment (7 tones × 5 receivers), measured with SysTick under QEMU
//! `-icount shift=0`, where every instruction takes exactly 1 ns of virtual time and the
//! MPS2 AN386 core clock (25 MHz) ticks SysTick every 40 ns, so counts repeat exactly.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use num_complex::Complex;
use vina_core::acoustics::{Medium, ModeSet, Pekeris, Waveguide};
use vina_firmware::target::{InstructionCounter, run_measurement};

const TONES: [f32; 7] = [49.0, 64.0, 79.0, 94.0, 112.0, 130.0, 148.0];
const RECEIVERS: [f32; 5] = [30.0, 70.0, 110.0, 150.0, 190.0];

#[entry]
fn main() -> ! {
    run_measurement(measure)
}

fn measure(counter: &InstructionCounter) -> Option<()> {
    let guide = Pekeris::new(
        218.5f32,
        Medium::lossless(1562.0, 1.0),
        Medium::new(1700.0, 1.5, 0.5),
    );
    let mut modes = ModeSet::<f32, 64>::new();
    let mut p = [Complex::new(0.0f32, 0.0); 5];
    let mut total_modes = 0;
    let start = counter.now();
    for f in TONES {
        if let Err(e) = guide.modes(f, &mut modes) {
            hprintln!("forward model error: {}", e);
            return None;
        }
        total_modes += modes.len();
        modes.pressure_at(60.0, 3000.0, &RECEIVERS, &mut p).ok()?;
    }
    let elapsed = counter.now() - start;
    hprintln!(
        "gi-pekeris environment (7 tones x 5 receivers, {} modes): {} instructions (f32)",
        total_modes,
        elapsed
    );
    hprintln!("p(148 Hz, 190 m) = {:e} {:+e}i", p[4].re, p[4].im);
    Some(())
}

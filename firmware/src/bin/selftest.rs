//! On-target self-test: prints the PRNG stream for seed 42 (`cargo xtask ci` compares it
//! with the host's committed vector) and exits through semihosting.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use vina_core::rng::Rng;
use vina_firmware::target::halt;

#[entry]
fn main() -> ! {
    let mut r = Rng::new(42);
    let mut u = [0u32; 8];
    u.iter_mut().for_each(|v| *v = r.next_u32());
    hprintln!("rng u32 {:08x?}", u);
    let mut r = Rng::new(42);
    let mut n = [0u32; 4];
    n.iter_mut().for_each(|v| *v = r.normal_f32().to_bits());
    hprintln!("rng normal bits {:08x?}", n);
    debug::exit(debug::EXIT_SUCCESS);
    halt()
}

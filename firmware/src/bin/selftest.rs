//! On-target self-test: prints the PRNG stream for seed 42 (`cargo xtask ci` compares it
//! with the host's committed vector), checks the Cortex-M4 dense kernel against the
//! portable reference bit for bit on random layers, and exits through semihosting.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use vina_core::layers::kernel;
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
    let (cases, mismatches) = kernel_check();
    hprintln!("kernel f32: {} cases, {} mismatches", cases, mismatches);
    debug::exit(debug::EXIT_SUCCESS);
    halt()
}

/// `kernel::rows_f32` (the target's `vldmia`/`vmla` loop where the width is a multiple of
/// four) against `kernel::rows_bytes` (the portable reference, same summation order) on
/// random weights, inputs and outputs: row counts 1–9 (blocks and remainders), column
/// segments with and without offsets. Returns (cases, values that differ in any bit).
fn kernel_check() -> (u32, u32) {
    const MAX_ROWS: usize = 9;
    const MAX_STRIDE: usize = 52;
    let mut rng = Rng::new(9);
    let (mut cases, mut mismatches) = (0, 0);
    let mut w = [0.0f32; MAX_ROWS * MAX_STRIDE];
    let mut bytes = [0u8; 4 * MAX_ROWS * MAX_STRIDE];
    for rows in 1..=MAX_ROWS {
        for (stride, col, n) in [
            (48, 0, 48),
            (52, 4, 48),
            (49, 1, 48),
            (8, 0, 8),
            (7, 2, 5),
            (4, 0, 4),
            (33, 0, 32),
        ] {
            for v in &mut w[..rows * stride] {
                *v = rng.normal_f32() * 2.0;
            }
            for (b, v) in bytes.chunks_exact_mut(4).zip(&w) {
                b.copy_from_slice(&v.to_le_bytes());
            }
            let mut x = [0.0f32; MAX_STRIDE];
            x[..n].iter_mut().for_each(|v| *v = rng.normal_f32());
            let mut a = [0.0f32; MAX_ROWS];
            a.iter_mut().for_each(|v| *v = rng.normal_f32());
            let mut b = a;
            kernel::rows_f32(&w[..rows * stride], stride, col, &x[..n], &mut a[..rows]);
            kernel::rows_bytes(
                &bytes[..4 * rows * stride],
                stride,
                col,
                &x[..n],
                &mut b[..rows],
            );
            cases += 1;
            mismatches += a
                .iter()
                .zip(&b)
                .filter(|(p, q)| p.to_bits() != q.to_bits())
                .count() as u32;
        }
    }
    (cases, mismatches)
}

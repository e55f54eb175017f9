//! On-target self-test: prints the PRNG stream for seed 42 (`cargo xtask ci` compares it
//! with the host's committed vector), checks the Cortex-M4 dense kernel against the
//! portable reference bit for bit on random layers (f32, and int8 blocks with q15 inputs
//! against a scalar computation written here), and exits through semihosting.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use vina_core::array::F32s;
use vina_core::layers::kernel;
use vina_core::quant::Q15Vector;
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
    let (cases, mismatches) = int8_check();
    hprintln!("kernel int8: {} cases, {} mismatches", cases, mismatches);
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
            mismatches += differing_bits(&a, &b);
        }
    }
    (cases, mismatches)
}

/// The blocked int8 path as the target runs it (`Q15Vector::quantize`'s `vcvtr` packing
/// where the segment is whole groups, `kernel::rows_i8_blocked`'s SMLAD loop) against a
/// scalar computation of the same definition written here: q = round-half-even(x·32767
/// / ‖x‖₂), row sum Σ code·q in i32, `o += sum·(scale·‖x‖₂/32767)`. Row counts 1–9,
/// segments at column offsets 0–3 and of lengths that are and are not whole groups.
/// Returns (cases, values that differ in any bit).
fn int8_check() -> (u32, u32) {
    const MAX_ROWS: usize = 12; // padded
    const MAX_COLS: usize = 52; // padded
    let mut rng = Rng::new(11);
    let (mut cases, mut mismatches) = (0, 0);
    let mut codes = [0u8; MAX_ROWS * MAX_COLS];
    let mut scale_bytes = [0u8; 4 * MAX_ROWS];
    for rows in 1..=9usize {
        for (cols, col, n) in [(48, 0, 48), (33, 0, 1), (33, 1, 32), (52, 4, 48), (7, 2, 5)] {
            let (r_pad, c_pad) = (kernel::i8_padded(rows), kernel::i8_padded(cols));
            codes.fill(0);
            for r in 0..rows {
                for c in 0..cols {
                    let q = (rng.next_u32() % 255) as i32 - 127;
                    codes[kernel::i8_blocked_offset(r, c, cols)] = q as i8 as u8;
                }
            }
            let mut scales = [0.0f32; MAX_ROWS];
            scales[..rows]
                .iter_mut()
                .for_each(|v| *v = rng.uniform_f32() * 0.02);
            for (b, v) in scale_bytes.chunks_exact_mut(4).zip(&scales) {
                b.copy_from_slice(&v.to_le_bytes());
            }
            let mut x = [0.0f32; MAX_COLS];
            x[..n].iter_mut().for_each(|v| *v = rng.normal_f32() * 3.0);
            let x = &x[..n];
            let mut a = [0.0f32; MAX_ROWS];
            a.iter_mut().for_each(|v| *v = rng.normal_f32());
            let mut b = a;
            let mut xq = Q15Vector::new();
            if !xq.quantize(x, col % 4) {
                mismatches += 1;
                continue;
            }
            kernel::rows_i8_blocked(
                &codes[..r_pad * c_pad],
                F32s(&scale_bytes[..4 * r_pad]),
                cols,
                &xq,
                col / 4,
                &mut a[..rows],
            );
            // the definition, scalar
            let mut sum_sq = 0.0f32;
            x.iter().for_each(|v| sum_sq += v * v);
            let norm = libm::sqrtf(sum_sq);
            let inv = 32767.0 / norm;
            let s = norm / 32767.0;
            for (r, o) in b[..rows].iter_mut().enumerate() {
                let mut acc = 0i32;
                for (j, &v) in x.iter().enumerate() {
                    let q = libm::rintf(v * inv) as i32;
                    let c = codes[kernel::i8_blocked_offset(r, col + j, cols)] as i8;
                    acc += i32::from(c) * q;
                }
                *o += acc as f32 * (scales[r] * s);
            }
            cases += 1;
            mismatches += differing_bits(&a, &b);
        }
    }
    (cases, mismatches)
}

/// How many values of `a` and `b` differ in any bit.
fn differing_bits(a: &[f32], b: &[f32]) -> u32 {
    a.iter()
        .zip(b)
        .filter(|(p, q)| p.to_bits() != q.to_bits())
        .count() as u32
}

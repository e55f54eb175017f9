//! The dense layer's inner loop, `out[r] += Σ_j W[r, col + j]·x[j]`: the bulk of every
//! posterior sample (docs/architecture.md, "Budgets").
//!
//! Two implementations with one summation order, so their results are bit-identical:
//! - [`rows_bytes`], the reference: weights read per element from little-endian bytes,
//!   for files that are not aligned in memory (format versions 1–2) and for int8 codes;
//! - [`rows_f32`]: weights as `&[f32]` (a version-3 file at an aligned address), four rows
//!   per pass so each `x[j]` is loaded once for four multiply-accumulates, and the FPU
//!   loads weights straight into registers (no integer load and move per weight, as the
//!   byte path needs on the Cortex-M4). Written in plain Rust so one kernel serves the
//!   buoy and the host; the measured instruction counts are in bench/README.md.
//!
//! Each row's sum starts at 0 and runs over `j` in order, then is added to `out[r]`.

/// Rows per pass of the blocked kernels.
const BLOCK: usize = 4;

/// `out[r] += Σ_j w[r·stride + col + j]·x[j]` for every row `r < out.len()`; `w` must hold
/// `out.len()` rows of `stride ≥ col + x.len()` values (the caller checks).
#[inline]
pub fn rows_f32(w: &[f32], stride: usize, col: usize, x: &[f32], out: &mut [f32]) {
    let n = x.len();
    let row = |r: usize| w.get(r * stride + col..r * stride + col + n).unwrap_or(&[]);
    let mut blocks = out.chunks_exact_mut(BLOCK);
    let mut r = 0;
    for o in &mut blocks {
        let rows = [row(r), row(r + 1), row(r + 2), row(r + 3)];
        let mut a = [0.0f32; BLOCK];
        // the first columns by the target's kernel, where it has one; the rest in order
        let done = block4_target(&rows, x, &mut a);
        let [w0, w1, w2, w3] = rows.map(|w| w.get(done..).unwrap_or(&[]));
        for ((((&v, &b0), &b1), &b2), &b3) in
            x.iter().skip(done).zip(w0).zip(w1).zip(w2).zip(w3)
        {
            a[0] += b0 * v;
            a[1] += b1 * v;
            a[2] += b2 * v;
            a[3] += b3 * v;
        }
        for (o, a) in o.iter_mut().zip(a) {
            *o += a;
        }
        r += BLOCK;
    }
    for o in blocks.into_remainder() {
        let mut a = 0.0f32;
        for (&v, &b) in x.iter().zip(row(r)) {
            a += b * v;
        }
        *o += a;
        r += 1;
    }
}

/// Without a target kernel: no column done ahead of the portable loop.
#[cfg(not(all(target_arch = "arm", target_abi = "eabihf")))]
#[inline(always)]
fn block4_target(_rows: &[&[f32]; BLOCK], _x: &[f32], _a: &mut [f32; BLOCK]) -> usize {
    0
}

/// Cortex-M4F (and any ARMv7E-M/ARMv8-M with single-precision VFP): four rows ×
/// four columns per pass, one `vldmia` per row and one for x, then the sixteen `vmla`s
/// in each row's column order. `vmla` rounds the product and the sum separately, as
/// Rust's `a += w·v` does, so the result is bit-identical to the portable loop.
/// Hand-written because LLVM loads each weight separately (measured: 2.7 instructions
/// per multiply-accumulate against 1.44 here; bench/README.md). Returns the number of
/// columns done, a multiple of four.
#[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
#[inline(always)]
#[allow(unsafe_code)]
fn block4_target(rows: &[&[f32]; BLOCK], x: &[f32], a: &mut [f32; BLOCK]) -> usize {
    let quads = rows.iter().map(|r| r.len()).fold(x.len(), usize::min) / 4;
    if quads == 0 {
        return 0;
    }
    // SAFETY: each row pointer and `x` start a slice of at least 4·quads f32 (checked
    // above) and the loop reads exactly 4·quads values from each; `a` is four f32. The
    // S registers used are saved and restored around the loop (rustc's stable asm! does
    // not name VFP registers on this target), so the compiler sees only `a` change.
    unsafe {
        core::arch::asm!(
            "vpush {{d0-d11}}",
            "vldmia {acc}, {{s0-s3}}",
            "2:",
            "vldmia {px}!, {{s4-s7}}",
            "vldmia {p0}!, {{s8-s11}}",
            "vldmia {p1}!, {{s12-s15}}",
            "vldmia {p2}!, {{s16-s19}}",
            "vldmia {p3}!, {{s20-s23}}",
            "vmla.f32 s0, s8, s4",
            "vmla.f32 s1, s12, s4",
            "vmla.f32 s2, s16, s4",
            "vmla.f32 s3, s20, s4",
            "vmla.f32 s0, s9, s5",
            "vmla.f32 s1, s13, s5",
            "vmla.f32 s2, s17, s5",
            "vmla.f32 s3, s21, s5",
            "vmla.f32 s0, s10, s6",
            "vmla.f32 s1, s14, s6",
            "vmla.f32 s2, s18, s6",
            "vmla.f32 s3, s22, s6",
            "vmla.f32 s0, s11, s7",
            "vmla.f32 s1, s15, s7",
            "vmla.f32 s2, s19, s7",
            "vmla.f32 s3, s23, s7",
            "subs {k}, {k}, #1",
            "bne 2b",
            "vstmia {acc}, {{s0-s3}}",
            "vpop {{d0-d11}}",
            acc = in(reg) a.as_mut_ptr(),
            px = inout(reg) x.as_ptr() => _,
            p0 = inout(reg) rows[0].as_ptr() => _,
            p1 = inout(reg) rows[1].as_ptr() => _,
            p2 = inout(reg) rows[2].as_ptr() => _,
            p3 = inout(reg) rows[3].as_ptr() => _,
            k = inout(reg) quads => _,
        );
    }
    quads * 4
}

/// [`rows_f32`] over weights stored as little-endian f32 bytes at any address: the
/// reference path, with the same summation order.
#[inline]
pub fn rows_bytes(w: &[u8], stride: usize, col: usize, x: &[f32], out: &mut [f32]) {
    let n = x.len();
    for (r, o) in out.iter_mut().enumerate() {
        let start = (r * stride + col) * 4;
        let row = w.get(start..start + 4 * n).unwrap_or(&[]);
        let mut a = 0.0f32;
        for (&v, b) in x.iter().zip(row.as_chunks::<4>().0) {
            a += f32::from_le_bytes(*b) * v;
        }
        *o += a;
    }
}

/// `out[r] += scale[r]·Σ_j code[r·stride + col + j]·x[j]`, int8 codes with one f32 scale
/// per row (weight-only quantization), four rows per pass like [`rows_f32`].
#[inline]
pub fn rows_i8(
    codes: &[u8],
    scales: impl Iterator<Item = f32>,
    stride: usize,
    col: usize,
    x: &[f32],
    out: &mut [f32],
) {
    let n = x.len();
    let row = |r: usize| codes.get(r * stride + col..r * stride + col + n).unwrap_or(&[]);
    let c = |b: u8| f32::from(b as i8);
    let mut sums = [0.0f32; BLOCK];
    let mut r = 0;
    let mut scales = scales;
    let mut blocks = out.chunks_exact_mut(BLOCK);
    for o in &mut blocks {
        let (w0, w1, w2, w3) = (row(r), row(r + 1), row(r + 2), row(r + 3));
        sums = [0.0; BLOCK];
        for ((((&v, &b0), &b1), &b2), &b3) in x.iter().zip(w0).zip(w1).zip(w2).zip(w3) {
            sums[0] += c(b0) * v;
            sums[1] += c(b1) * v;
            sums[2] += c(b2) * v;
            sums[3] += c(b3) * v;
        }
        for (o, s) in o.iter_mut().zip(sums) {
            *o += s * scales.next().unwrap_or(f32::NAN);
        }
        r += BLOCK;
    }
    for o in blocks.into_remainder() {
        sums[0] = 0.0;
        for (&v, &b) in x.iter().zip(row(r)) {
            sums[0] += c(b) * v;
        }
        *o += sums[0] * scales.next().unwrap_or(f32::NAN);
        r += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Blocked f32, byte reference and a plain scalar loop agree bit for bit, for every
    /// row count (blocks and remainders) and column segment.
    #[test]
    fn blocked_f32_equals_the_byte_reference_bit_for_bit() {
        let mut rng = Rng::new(3);
        for rows in 1..=11 {
            for (stride, col, n) in [(7, 0, 7), (9, 2, 5), (33, 1, 32), (1, 0, 1)] {
                let mut w = [0.0f32; 11 * 33];
                for v in &mut w[..rows * stride] {
                    *v = rng.normal_f32() * 3.0;
                }
                let mut x = [0.0f32; 33];
                for v in &mut x[..n] {
                    *v = rng.normal_f32();
                }
                let mut bytes = [0u8; 4 * 11 * 33];
                for (b, v) in bytes.chunks_exact_mut(4).zip(&w) {
                    b.copy_from_slice(&v.to_le_bytes());
                }
                let init: [f32; 11] = core::array::from_fn(|i| i as f32 * 0.25 - 1.0);
                let (mut a, mut b, mut s) = (init, init, init);
                rows_f32(&w, stride, col, &x[..n], &mut a[..rows]);
                rows_bytes(&bytes, stride, col, &x[..n], &mut b[..rows]);
                for (r, o) in s[..rows].iter_mut().enumerate() {
                    let mut acc = 0.0f32;
                    for j in 0..n {
                        acc += w[r * stride + col + j] * x[j];
                    }
                    *o += acc;
                }
                for r in 0..rows {
                    assert_eq!(a[r].to_bits(), b[r].to_bits(), "rows {rows} r {r}");
                    assert_eq!(a[r].to_bits(), s[r].to_bits(), "rows {rows} r {r}");
                }
            }
        }
    }

    /// The int8 kernel equals a plain scalar loop bit for bit.
    #[test]
    fn blocked_i8_equals_a_scalar_loop_bit_for_bit() {
        let mut rng = Rng::new(4);
        for rows in 1..=9 {
            let (stride, col, n) = (13, 3, 10);
            let mut codes = [0u8; 9 * 13];
            for c in &mut codes {
                *c = (rng.next_u32() % 255) as u8 ^ 0x80;
            }
            let scales: [f32; 9] = core::array::from_fn(|_| rng.uniform_f32() * 0.01);
            let x: [f32; 10] = core::array::from_fn(|_| rng.normal_f32());
            let mut a = [0.5f32; 9];
            rows_i8(&codes, scales.iter().copied(), stride, col, &x, &mut a[..rows]);
            for r in 0..rows {
                let mut acc = 0.0f32;
                for j in 0..n {
                    acc += f32::from(codes[r * stride + col + j] as i8) * x[j];
                }
                assert_eq!(a[r].to_bits(), (0.5 + acc * scales[r]).to_bits());
            }
        }
    }
}

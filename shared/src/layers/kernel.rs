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
    let full = out.len() / BLOCK * BLOCK;
    let (blocks, rest) = out.split_at_mut(full);
    if !target::blocks4(w, stride, col, x, blocks) {
        for (b, o) in blocks.chunks_exact_mut(BLOCK).enumerate() {
            let r = b * BLOCK;
            let (w0, w1, w2, w3) = (row(r), row(r + 1), row(r + 2), row(r + 3));
            let (mut a0, mut a1, mut a2, mut a3) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
            for ((((&v, &b0), &b1), &b2), &b3) in x.iter().zip(w0).zip(w1).zip(w2).zip(w3) {
                a0 += b0 * v;
                a1 += b1 * v;
                a2 += b2 * v;
                a3 += b3 * v;
            }
            o[0] += a0;
            o[1] += a1;
            o[2] += a2;
            o[3] += a3;
        }
    }
    for (k, o) in rest.iter_mut().enumerate() {
        let mut a = 0.0f32;
        for (&v, &b) in x.iter().zip(row(full + k)) {
            a += b * v;
        }
        *o += a;
    }
}

/// Targets without a kernel of their own: the portable loop does every block.
#[cfg(not(all(target_arch = "arm", target_abi = "eabihf")))]
mod target {
    #[inline(always)]
    pub fn blocks4(_: &[f32], _: usize, _: usize, _: &[f32], _: &mut [f32]) -> bool {
        false
    }
}

/// Cortex-M4F (and any ARMv7E-M/ARMv8-M with single-precision VFP).
#[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
mod target {
    use super::BLOCK;

    /// Every four-row block of `out` (`out.len()` a multiple of four) when `x.len()` is a
    /// non-zero multiple of four; `false` (nothing done) otherwise. Per pass four rows ×
    /// four columns: one `vldmia` per row and one for x, then sixteen `vmla`s in each
    /// row's column order, and each row's sum added to `out` last. `vmla` rounds the
    /// product and the sum separately, as Rust's `a += w·v` does, so the results are
    /// bit-identical to the portable loop. Hand-written because LLVM loads each weight
    /// separately: 2.7 instructions per multiply-accumulate there, ~1.5 here
    /// (bench/README.md).
    #[inline(always)]
    #[allow(unsafe_code)]
    pub fn blocks4(w: &[f32], stride: usize, col: usize, x: &[f32], out: &mut [f32]) -> bool {
        let n = x.len();
        if n == 0 || !n.is_multiple_of(4) || col + n > stride {
            return false;
        }
        let quads = n / 4;
        for (b, o) in out.chunks_exact_mut(BLOCK).enumerate() {
            // the block's four rows, bounds-checked once: row k starts k·stride further on
            let start = b * BLOCK * stride + col;
            let Some(rows) = w.get(start..start + 3 * stride + n) else {
                return false;
            };
            let p0 = rows.as_ptr();
            // SAFETY: rows k = 0..4 start at p0 + k·stride and hold n = 4·quads values
            // inside `rows` (its length is 3·stride + n); `x` holds n values; `o` holds
            // four. The loop reads exactly those and writes only `o`. The S registers
            // used are saved and restored around it (stable asm! does not name VFP
            // registers on this target), so the compiler sees only `o` change.
            unsafe {
                core::arch::asm!(
                    "vpush {{d0-d11}}",
                    "vmov.f32 s0, #0.5",
                    "vsub.f32 s0, s0, s0",
                    "vmov.f32 s1, s0",
                    "vmov.f32 s2, s0",
                    "vmov.f32 s3, s0",
                    "add {p1}, {p0}, {stride}",
                    "add {p2}, {p1}, {stride}",
                    "add {p3}, {p2}, {stride}",
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
                    "vldmia {o}, {{s4-s7}}",
                    "vadd.f32 s4, s4, s0",
                    "vadd.f32 s5, s5, s1",
                    "vadd.f32 s6, s6, s2",
                    "vadd.f32 s7, s7, s3",
                    "vstmia {o}, {{s4-s7}}",
                    "vpop {{d0-d11}}",
                    o = in(reg) o.as_mut_ptr(),
                    stride = in(reg) stride * 4,
                    px = inout(reg) x.as_ptr() => _,
                    p0 = inout(reg) p0 => _,
                    p1 = out(reg) _,
                    p2 = out(reg) _,
                    p3 = out(reg) _,
                    k = inout(reg) quads => _,
                );
            }
        }
        true
    }
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
    let row = |r: usize| {
        codes
            .get(r * stride + col..r * stride + col + n)
            .unwrap_or(&[])
    };
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
            rows_i8(
                &codes,
                scales.iter().copied(),
                stride,
                col,
                &x,
                &mut a[..rows],
            );
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

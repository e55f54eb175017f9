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

    #[inline(always)]
    pub fn blocks_i8(
        _: &[u8],
        _: usize,
        _: usize,
        _: &[u32],
        _: crate::array::F32s<'_>,
        _: f32,
        _: &mut [f32],
    ) -> bool {
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

    /// One group of four columns for the block's four rows (see `blocks_i8`), as asm
    /// text: the pass body, written once.
    macro_rules! smlad_group {
        () => {
            concat!(
                "ldrd {x02}, {x13}, [{px}], #8\n",
                "ldrd {w0}, {w1}, [{pw}], #8\n",
                "sxtb16 {t}, {w0}, ror #8\n",
                "sxtb16 {w0}, {w0}\n",
                "smlad {a0}, {w0}, {x02}, {a0}\n",
                "smlad {a0}, {t}, {x13}, {a0}\n",
                "sxtb16 {t}, {w1}, ror #8\n",
                "sxtb16 {w1}, {w1}\n",
                "smlad {a1}, {w1}, {x02}, {a1}\n",
                "smlad {a1}, {t}, {x13}, {a1}\n",
                "ldrd {w0}, {w1}, [{pw}], #8\n",
                "sxtb16 {t}, {w0}, ror #8\n",
                "sxtb16 {w0}, {w0}\n",
                "smlad {a2}, {w0}, {x02}, {a2}\n",
                "smlad {a2}, {t}, {x13}, {a2}\n",
                "sxtb16 {t}, {w1}, ror #8\n",
                "sxtb16 {w1}, {w1}\n",
                "smlad {a3}, {w1}, {x02}, {a3}\n",
                "smlad {a3}, {t}, {x13}, {a3}",
            )
        };
    }

    /// Every four-row block of `out` (`out.len()` a multiple of four) of a blocked int8
    /// layer (see `rows_i8_blocked`); `false` (nothing done) when the codes are not
    /// word-aligned (`ldrd` faults there) or the scales not f32-aligned. Per group of
    /// four columns: one `ldrd` of the q15 pairs, two `ldrd`s of two rows' code words,
    /// and per row two `sxtb16` (bytes 0, 2 and 1, 3 as halfword pairs) and two
    /// `smlad`: 21 instructions for 16 multiply-accumulates, two groups a pass. Then
    /// each block's four sums are converted, scaled and added to `out` in the portable
    /// order (`vmla` rounds the product and the sum apart, as Rust's `o += a·t` does).
    #[inline(always)]
    #[allow(unsafe_code)]
    pub fn blocks_i8(
        codes: &[u8],
        block_len: usize,
        offset: usize,
        words: &[u32],
        scales: crate::array::F32s<'_>,
        s: f32,
        out: &mut [f32],
    ) -> bool {
        let groups = words.len() / 2;
        let Some(scales) = scales.as_slice() else {
            return false;
        };
        if groups == 0
            || !(codes.as_ptr() as usize).is_multiple_of(4)
            || scales.len() < out.len()
            || codes.len() < out.len() / BLOCK * block_len
            || offset + 16 * groups > block_len
        {
            return false;
        }
        let (pairs, odd) = (groups / 2, groups % 2);
        for (b, (o, sc)) in out
            .chunks_exact_mut(BLOCK)
            .zip(scales.chunks_exact(BLOCK))
            .enumerate()
        {
            let (mut a0, mut a1, mut a2, mut a3) = (0i32, 0i32, 0i32, 0i32);
            // SAFETY: reads the block's 16·groups code bytes from offset
            // b·block_len + offset (inside `codes`, word-aligned: checked above) and the
            // 2·groups words of `words`; writes only the accumulators. One group first
            // when their count is odd, then two a pass.
            unsafe {
                core::arch::asm!(
                    "cmp {odd}, #0",
                    "beq 3f",
                    smlad_group!(),
                    "3:",
                    "cmp {k}, #0",
                    "beq 4f",
                    "2:",
                    smlad_group!(),
                    smlad_group!(),
                    "subs {k}, {k}, #1",
                    "bne 2b",
                    "4:",
                    px = inout(reg) words.as_ptr() => _,
                    pw = inout(reg) codes.as_ptr().add(b * block_len + offset) => _,
                    k = inout(reg) pairs => _,
                    odd = in(reg) odd,
                    a0 = inout(reg) a0,
                    a1 = inout(reg) a1,
                    a2 = inout(reg) a2,
                    a3 = inout(reg) a3,
                    x02 = out(reg) _,
                    x13 = out(reg) _,
                    w0 = out(reg) _,
                    w1 = out(reg) _,
                    t = lateout(reg) _,
                    options(nostack, readonly),
                );
            }
            // SAFETY: reads the four scales of `sc` and the four values of `o`, writes
            // `o`; only the declared S registers change.
            unsafe {
                core::arch::asm!(
                    "vmov s0, s1, {a0}, {a1}",
                    "vmov s2, s3, {a2}, {a3}",
                    "vmov s8, {s}",
                    "vcvt.f32.s32 s0, s0",
                    "vcvt.f32.s32 s1, s1",
                    "vcvt.f32.s32 s2, s2",
                    "vcvt.f32.s32 s3, s3",
                    "vldmia {psc}, {{s4-s7}}",
                    "vmul.f32 s4, s4, s8",
                    "vmul.f32 s5, s5, s8",
                    "vmul.f32 s6, s6, s8",
                    "vmul.f32 s7, s7, s8",
                    "vldmia {po}, {{s12-s15}}",
                    "vmla.f32 s12, s0, s4",
                    "vmla.f32 s13, s1, s5",
                    "vmla.f32 s14, s2, s6",
                    "vmla.f32 s15, s3, s7",
                    "vstmia {po}, {{s12-s15}}",
                    a0 = in(reg) a0,
                    a1 = in(reg) a1,
                    a2 = in(reg) a2,
                    a3 = in(reg) a3,
                    s = in(reg) s.to_bits(),
                    psc = in(reg) sc.as_ptr(),
                    po = in(reg) o.as_mut_ptr(),
                    out("s0") _, out("s1") _, out("s2") _, out("s3") _,
                    out("s4") _, out("s5") _, out("s6") _, out("s7") _,
                    out("s8") _, out("s12") _, out("s13") _, out("s14") _, out("s15") _,
                    options(nostack),
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

/// Rows and columns of the int8 blocked layout are padded to multiples of this.
pub const I8_GROUP: usize = BLOCK;

/// Rows or columns `n` padded to whole [`I8_GROUP`]s.
pub const fn i8_padded(n: usize) -> usize {
    n.div_ceil(I8_GROUP) * I8_GROUP
}

/// Byte offset of code `(row, col)` in the blocked int8 layout of a layer with `cols`
/// inputs (docs/model-format.md, "int8"): rows in blocks of four, and within a block,
/// for each group of four columns, the four rows' four codes one after the other. One
/// load then brings a row's word of four codes, and the block's words lie in the order
/// the kernel consumes them.
pub const fn i8_blocked_offset(row: usize, col: usize, cols: usize) -> usize {
    let (block, r) = (row / I8_GROUP, row % I8_GROUP);
    let (group, c) = (col / I8_GROUP, col % I8_GROUP);
    block * I8_GROUP * i8_padded(cols) + group * I8_GROUP * I8_GROUP + r * I8_GROUP + c
}

/// The `(row, col)` of the code at byte `offset` of the blocked layout of a layer with
/// `cols` inputs: the inverse of [`i8_blocked_offset`] (padding positions included).
pub const fn i8_blocked_position(offset: usize, cols: usize) -> (usize, usize) {
    let block_len = I8_GROUP * i8_padded(cols);
    let (block, at) = (offset / block_len, offset % block_len);
    let (group, within) = (at / (I8_GROUP * I8_GROUP), at % (I8_GROUP * I8_GROUP));
    (
        block * I8_GROUP + within / I8_GROUP,
        group * I8_GROUP + within % I8_GROUP,
    )
}

/// `out[r] += (scales[r]·s)·Σ code(r, j)·q_j` for the rows `r < out.len()` of an int8
/// layer in the blocked layout (`cols` inputs), over the q15 segment `xq` whose first
/// group is the layer's column group `group0` (scale `s = xq.scale()`).
///
/// The sums are exact in i32 (|code| ≤ 127, |q| ≤ 32767, at most 256 inputs: below
/// 2³⁰), so the target's SMLAD loop and the portable one give the same bits; each row is
/// then converted and scaled once in f32, `o += a·(scale·s)` in that order on both.
/// `codes` and `scales` must hold the padded rows (the caller checks; short arrays give
/// NaN rows here, never a fault).
pub fn rows_i8_blocked(
    codes: &[u8],
    scales: crate::array::F32s<'_>,
    cols: usize,
    xq: &crate::quant::Q15Vector,
    group0: usize,
    out: &mut [f32],
) {
    let words = xq.words();
    let block_len = I8_GROUP * i8_padded(cols);
    let offset = group0 * I8_GROUP * I8_GROUP;
    let span = words.len() / 2 * I8_GROUP * I8_GROUP;
    let blocks = out.len().div_ceil(I8_GROUP);
    if words.is_empty() {
        return;
    }
    if offset + span > block_len
        || codes.len() < blocks * block_len
        || scales.len() < blocks * I8_GROUP
    {
        out.fill(f32::NAN);
        return;
    }
    let s = xq.scale();
    let full = out.len() / BLOCK * BLOCK;
    let (head, tail) = out.split_at_mut(full);
    if !target::blocks_i8(codes, block_len, offset, words, scales, s, head) {
        for (b, o) in head.chunks_exact_mut(BLOCK).enumerate() {
            let w = &codes[b * block_len + offset..][..span];
            scale_rows(o, block_i8_portable(w, words), scales, b * BLOCK, s);
        }
    }
    if !tail.is_empty() {
        let b = full / BLOCK;
        let w = &codes[b * block_len + offset..][..span];
        scale_rows(tail, block_i8_portable(w, words), scales, full, s);
    }
}

/// `o[k] += acc[k]·(scales[row0 + k]·s)`: one block's sums into its output rows.
#[inline]
fn scale_rows(
    o: &mut [f32],
    acc: [i32; BLOCK],
    scales: crate::array::F32s<'_>,
    row0: usize,
    s: f32,
) {
    for (k, (o, a)) in o.iter_mut().zip(acc).enumerate() {
        *o += a as f32 * (scales.get(row0 + k).unwrap_or(f32::NAN) * s);
    }
}

/// One block's four row sums: for each group, row k's word of codes `w[16g + 4k..]`
/// against the group's codes (packed as [`crate::quant::Q15Vector`] lays them out).
fn block_i8_portable(w: &[u8], words: &[u32]) -> [i32; BLOCK] {
    let mut acc = [0i32; BLOCK];
    for (wg, xw) in w.chunks_exact(16).zip(words.chunks_exact(2)) {
        let lo = |v: u32| i32::from(v as u16 as i16);
        let hi = |v: u32| i32::from((v >> 16) as u16 as i16);
        let q = [lo(xw[0]), lo(xw[1]), hi(xw[0]), hi(xw[1])];
        for (a, row) in acc.iter_mut().zip(wg.chunks_exact(4)) {
            for (&c, &q) in row.iter().zip(&q) {
                *a += i32::from(c as i8) * q;
            }
        }
    }
    acc
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

    /// The blocked int8 kernel equals the definition computed directly: codes read by
    /// (row, col) through the layout, the segment's q15 codes, an exact i64 sum, then
    /// `o += sum·(scale·s)`; rows 1–9, segments at every column offset mod 4.
    #[test]
    fn blocked_i8_equals_its_definition_bit_for_bit() {
        use crate::array::F32s;
        use crate::quant::Q15Vector;
        let mut rng = Rng::new(5);
        for rows in 1..=9usize {
            for (cols, col, n) in [(48, 0, 48), (33, 0, 1), (33, 1, 32), (10, 3, 7), (5, 2, 2)] {
                let (r_pad, c_pad) = (i8_padded(rows), i8_padded(cols));
                let mut codes = [0u8; 12 * 52];
                let codes = &mut codes[..r_pad * c_pad];
                let mut direct = [0i8; 9 * 48];
                for r in 0..rows {
                    for c in 0..cols {
                        let q = (rng.next_u32() % 255) as i32 - 127;
                        codes[i8_blocked_offset(r, c, cols)] = q as i8 as u8;
                        direct[r * cols + c] = q as i8;
                    }
                }
                let mut scales = [0.0f32; 12];
                scales[..rows]
                    .iter_mut()
                    .for_each(|v| *v = rng.uniform_f32() * 0.01);
                let mut scale_bytes = [0u8; 48];
                for (b, v) in scale_bytes.chunks_exact_mut(4).zip(&scales) {
                    b.copy_from_slice(&v.to_le_bytes());
                }
                let mut x = [0.0f32; 48];
                x[..n].iter_mut().for_each(|v| *v = rng.normal_f32() * 4.0);
                let x = &x[..n];
                let mut xq = Q15Vector::new();
                assert!(xq.quantize(x, col % 4));
                let init: [f32; 9] = core::array::from_fn(|_| rng.normal_f32());
                let mut got = init;
                let got = &mut got[..rows];
                rows_i8_blocked(
                    codes,
                    F32s(&scale_bytes[..4 * r_pad]),
                    cols,
                    &xq,
                    col / 4,
                    got,
                );
                for r in 0..rows {
                    let sum: i64 = (0..n)
                        .map(|j| {
                            i64::from(direct[r * cols + col + j]) * i64::from(xq.code(col % 4 + j))
                        })
                        .sum();
                    let want = init[r] + sum as f32 * (scales[r] * xq.scale());
                    assert_eq!(
                        got[r].to_bits(),
                        want.to_bits(),
                        "rows {rows} cols {cols} r {r}"
                    );
                }
            }
        }
    }

    /// Short code or scale arrays give NaN rows, never a fault or a silent number.
    #[test]
    fn blocked_i8_with_short_arrays_gives_nan() {
        use crate::array::F32s;
        use crate::quant::Q15Vector;
        let mut xq = Q15Vector::new();
        assert!(xq.quantize(&[1.0, 2.0, 3.0, 4.0], 0));
        let scales = [0u8; 16];
        let mut out = [0.0f32; 4];
        rows_i8_blocked(&[0u8; 15], F32s(&scales), 4, &xq, 0, &mut out);
        assert!(out.iter().all(|v| v.is_nan()));
        let mut out = [0.0f32; 4];
        rows_i8_blocked(&[0u8; 16], F32s(&scales[..12]), 4, &xq, 0, &mut out);
        assert!(out.iter().all(|v| v.is_nan()));
    }

    /// The blocked layout's position is the inverse of its offset, over whole padded
    /// layers.
    #[test]
    fn blocked_position_inverts_offset() {
        for cols in [1usize, 4, 5, 33, 48] {
            for offset in 0..i8_padded(9) * i8_padded(cols) {
                let (r, c) = i8_blocked_position(offset, cols);
                assert_eq!(i8_blocked_offset(r, c, cols), offset, "cols {cols}");
            }
        }
    }
}

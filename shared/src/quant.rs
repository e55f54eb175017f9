//! Symmetric int8 quantization, one scale per output channel (docs/architecture.md,
//! "Model file and export"; docs/model-format.md, "int8").
//!
//! A weight row `w` is stored as `q = round(w / s)` with `s = max|w| / 127`, so the
//! per-weight error is at most `s / 2`. What enters an int8 layer depends on the layout
//! ([`crate::layers::Weights`]): f32 activations for row-major codes (format versions
//! 1–4, weight-only quantization), q15 activations quantized per input segment at run
//! time for the 4-row blocks of version 5 ([`Q15Vector`]): no calibration set is needed
//! and the scale always fits the data at hand.

/// Largest magnitude of a symmetric int8 code (−127..=127; −128 is never used).
pub const QMAX: f32 = 127.0;

/// Scale that maps the largest |value| of `values` to [`QMAX`] (0 for an all-zero row).
pub fn symmetric_scale(values: &[f32]) -> f32 {
    let max = values.iter().fold(0.0f32, |m, v| m.max(libm::fabsf(*v)));
    max / QMAX
}

/// Quantize one value with a scale's reciprocal; saturates at ±127.
#[inline]
pub fn quantize(value: f32, inv_scale: f32) -> i8 {
    libm::roundf(value * inv_scale).clamp(-QMAX, QMAX) as i8
}

/// Quantize `values` into `out` with a fresh symmetric scale, returned.
/// `out` must be at least as long as `values`; extra entries are left alone.
pub fn quantize_into(values: &[f32], out: &mut [i8]) -> f32 {
    let scale = symmetric_scale(values);
    let inv = if scale > 0.0 { 1.0 / scale } else { 0.0 };
    for (q, v) in out.iter_mut().zip(values) {
        *q = quantize(*v, inv);
    }
    scale
}

/// Largest magnitude of a q15 activation code (−32767..=32767).
pub const Q15_MAX: f32 = 32767.0;

/// Most 32-bit words a [`Q15Vector`] holds: a segment of up to
/// [`MAX_WIDTH`](crate::limits::MAX_WIDTH) values after up to three leading zeros, in
/// groups of four, two words a group.
const Q15_WORDS: usize = (crate::limits::MAX_WIDTH + 3).div_ceil(4) * 2;

/// An input segment of a blocked int8 layer ([`crate::layers::Weights::I8Blocked`]) as
/// q15 codes with one scale: `x ≈ scale · q`.
///
/// Why q15 and not int8 activations: SMLAD multiplies pairs of 16-bit values, so 16-bit
/// activations cost the Cortex-M4 nothing over 8-bit ones, and their rounding
/// (≤ 2⁻¹⁵·‖x‖₂ a value) is far below the weights' (≤ 2⁻⁸·max|w| a weight); the
/// posterior moves as under weight-only quantization (docs/model-format.md, "int8").
///
/// Layout, for the kernel's loads: the segment starts `lead` zeros into its first
/// group of four (the column offset of the segment within its layer, mod 4) and is
/// zero-padded to whole groups. Each group `[q0, q1, q2, q3]` is two words,
/// `q0 | q2 << 16` and `q1 | q3 << 16`: the halfword pairs that `SXTB16` makes of a
/// weight word's bytes 0 and 2, and (rotated by 8) 1 and 3.
#[derive(Clone, Debug)]
pub struct Q15Vector {
    words: [u32; Q15_WORDS],
    groups: usize,
    scale: f32,
}

impl Default for Q15Vector {
    fn default() -> Self {
        Self::new()
    }
}

/// `t` rounded to the nearest integer, ties to even, for `|t| < 2²²`: adding and
/// subtracting 1.5·2²³ leaves no fraction bits. It is the rounding of the Cortex-M4's
/// `vcvtr` (FPSCR's default round-to-nearest), so both paths give the same codes.
#[inline(always)]
fn round_ties_even(t: f32) -> i32 {
    const MAGIC: f32 = 12_582_912.0;
    ((t + MAGIC) - MAGIC) as i32
}

impl Q15Vector {
    /// An empty vector (no groups, scale 0).
    pub const fn new() -> Self {
        Self {
            words: [0; Q15_WORDS],
            groups: 0,
            scale: 0.0,
        }
    }

    /// Number of groups of four codes.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// The scale: value = scale × code. NaN when the segment held a non-finite value
    /// (every output it feeds becomes NaN, never a silently wrong number); 0 for an
    /// all-zero segment.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The packed codes, two words a group.
    pub fn words(&self) -> &[u32] {
        &self.words[..2 * self.groups]
    }

    /// Code `i` of the segment as laid out (leading zeros counted).
    pub fn code(&self, i: usize) -> i16 {
        let (g, k) = (i / 4, i % 4);
        let w = self.words.get(2 * g + (k & 1)).copied().unwrap_or(0);
        (if k < 2 { w } else { w >> 16 }) as u16 as i16
    }

    /// Quantize `x` with `lead` (< 4) leading zeros, scale `‖x‖₂ / 32767`.
    ///
    /// The scale comes from the Euclidean norm and not the largest |x|: one
    /// multiply-accumulate a value instead of a compare and select, and it costs at most
    /// log₂√n of the 15 bits (3 bits at n = 48). Returns `false` (nothing written) when
    /// the segment does not fit (more than
    /// [`MAX_WIDTH`](crate::limits::MAX_WIDTH) values, or `lead` ≥ 4).
    pub fn quantize(&mut self, x: &[f32], lead: usize) -> bool {
        let groups = (lead + x.len()).div_ceil(4);
        if lead >= 4 || x.len() > crate::limits::MAX_WIDTH || 2 * groups > Q15_WORDS {
            return false;
        }
        let mut sum_sq = 0.0f32;
        for &v in x {
            sum_sq += v * v;
        }
        let norm = crate::acoustics::single::sqrt(sum_sq);
        self.groups = groups;
        let words = &mut self.words[..2 * groups];
        if !norm.is_finite() || norm == 0.0 {
            // NaN or ±inf in x (or a sum of squares past f32): NaN outputs; all zero: 0
            words.fill(0);
            self.scale = if norm == 0.0 { 0.0 } else { f32::NAN };
            return true;
        }
        self.scale = norm / Q15_MAX;
        let inv = Q15_MAX / norm;
        // |v·inv| ≤ 32767·(1 + 2⁻²³), so every code rounds into −32767..=32767
        if lead == 0 && x.len().is_multiple_of(4) && target::pack(x, inv, words) {
            return true;
        }
        words.fill(0);
        for (i, &v) in x.iter().enumerate() {
            let (g, k) = ((lead + i) / 4, (lead + i) % 4);
            let q = u32::from(round_ties_even(v * inv) as i16 as u16);
            words[2 * g + (k & 1)] |= if k < 2 { q } else { q << 16 };
        }
        true
    }
}

/// Targets without a packing loop of their own: [`Q15Vector::quantize`]'s portable loop.
#[cfg(not(all(target_arch = "arm", target_abi = "eabihf")))]
mod target {
    #[inline(always)]
    pub fn pack(_: &[f32], _: f32, _: &mut [u32]) -> bool {
        false
    }
}

/// Cortex-M4F: four values a pass, `vmul` then `vcvtr` (round to nearest, ties to
/// even: the portable loop's rounding), two `pkhbt`s and one `strd`. Hand-written
/// because it runs on every int8 layer's input: 3.5 instructions a value here.
#[cfg(all(target_arch = "arm", target_abi = "eabihf"))]
mod target {
    /// `x.len()` a non-zero multiple of four and `words` two per group; `false`
    /// otherwise (nothing written).
    #[inline(always)]
    #[allow(unsafe_code)]
    pub fn pack(x: &[f32], inv: f32, words: &mut [u32]) -> bool {
        let quads = x.len() / 4;
        if quads == 0 || words.len() != 2 * quads {
            return false;
        }
        // SAFETY: reads x.len() = 4·quads f32s from `x` and writes 2·quads words to
        // `words` (checked above; both 4-byte aligned as slices of f32/u32). The S
        // registers used are saved and restored around the loop.
        unsafe {
            core::arch::asm!(
                "vpush {{d0-d2}}",
                "vmov s4, {inv}",
                "2:",
                "vldmia {px}!, {{s0-s3}}",
                "vmul.f32 s0, s0, s4",
                "vmul.f32 s1, s1, s4",
                "vmul.f32 s2, s2, s4",
                "vmul.f32 s3, s3, s4",
                "vcvtr.s32.f32 s0, s0",
                "vcvtr.s32.f32 s1, s1",
                "vcvtr.s32.f32 s2, s2",
                "vcvtr.s32.f32 s3, s3",
                "vmov {a}, {b}, s0, s1",
                "vmov {c}, {d}, s2, s3",
                "pkhbt {a}, {a}, {c}, lsl #16",
                "pkhbt {b}, {b}, {d}, lsl #16",
                "strd {a}, {b}, [{pw}], #8",
                "subs {k}, {k}, #1",
                "bne 2b",
                "vpop {{d0-d2}}",
                inv = in(reg) inv.to_bits(),
                px = inout(reg) x.as_ptr() => _,
                pw = inout(reg) words.as_mut_ptr() => _,
                k = inout(reg) quads => _,
                a = out(reg) _,
                b = out(reg) _,
                c = out(reg) _,
                d = out(reg) _,
            );
        }
        true
    }
}

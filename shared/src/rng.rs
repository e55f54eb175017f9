//! Deterministic random numbers that are bit-identical on the host and on a Cortex-M4F.
//!
//! xoshiro128++ (Blackman & Vigna) works on 32-bit words, so it is cheap on the M4; the
//! seed is expanded with SplitMix64 as the xoshiro authors recommend. Normal deviates come
//! from the Box–Muller transform with `libm`'s software `logf`/`sincosf`, which give the
//! same bits on every target (no platform math library, no fused multiply-add).

/// Committed test vector: `Rng::new(42)`'s first eight [`Rng::next_u32`] outputs. The host
/// tests and the Cortex-M self-test under QEMU both compare against it.
pub const SEED_42_U32: [u32; 8] = [
    0x9d94_52c1,
    0x6909_d440,
    0x6148_a68f,
    0x5482_9a5b,
    0xc648_de34,
    0xedc8_9aa6,
    0xff16_2eb3,
    0xab63_56aa,
];

/// Committed test vector: a fresh `Rng::new(42)`'s first four [`Rng::normal_f32`] values
/// as raw f32 bits (≈ −0.833, 0.526, −0.671, 1.218).
pub const SEED_42_NORMAL_BITS: [u32; 4] = [0xbf55_31f3, 0x3f06_b913, 0xbf2b_ca79, 0x3f9b_f831];

/// xoshiro128++ generator with a Box–Muller standard-normal sampler.
#[derive(Clone, Debug, PartialEq)]
pub struct Rng {
    s: [u32; 4],
    spare_normal: Option<f32>,
}

/// One step of SplitMix64, used only to expand a 64-bit seed into the generator state.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator whose whole stream is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let a = splitmix64(&mut sm);
        let b = splitmix64(&mut sm);
        Self::from_state([a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32])
    }

    /// A generator with an explicit xoshiro128++ state (an all-zero state is replaced,
    /// since xoshiro would emit zeros forever).
    pub fn from_state(s: [u32; 4]) -> Self {
        let s = if s == [0; 4] {
            [0x9E37_79B9, 0x7F4A_7C15, 0xBF58_476D, 0x1CE4_E5B9]
        } else {
            s
        };
        Self {
            s,
            spare_normal: None,
        }
    }

    /// An independent stream per `(seed, index)`, e.g. one per simulated sample or report,
    /// so results do not depend on how work is split across threads.
    pub fn for_index(seed: u64, index: u64) -> Self {
        let mut sm = seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
        let _ = splitmix64(&mut sm);
        Self::new(splitmix64(&mut sm))
    }

    /// Next 32 random bits.
    pub fn next_u32(&mut self) -> u32 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(7).wrapping_add(s[0]);
        let t = s[1] << 9;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(11);
        result
    }

    /// Next 64 random bits (two 32-bit outputs, high word first).
    pub fn next_u64(&mut self) -> u64 {
        let hi = u64::from(self.next_u32());
        (hi << 32) | u64::from(self.next_u32())
    }

    /// Uniform f32 in the open interval (0, 1): 23 random bits, centred in their cell, so
    /// every value is exact in f32 (24 bits would round the top cell to 1.0) and `ln` of
    /// it is always finite.
    pub fn uniform_f32(&mut self) -> f32 {
        ((self.next_u32() >> 9) as f32 + 0.5) * (1.0 / 8_388_608.0)
    }

    /// Uniform f64 in the open interval (0, 1) from 53 random bits (host-side draws).
    pub fn uniform_f64(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Standard normal deviate (Box–Muller; the second value of each pair is kept).
    pub fn normal_f32(&mut self) -> f32 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        let u1 = self.uniform_f32();
        let u2 = self.uniform_f32();
        let r = libm::sqrtf(-2.0 * libm::logf(u1));
        let (sin, cos) = libm::sincosf(core::f32::consts::TAU * u2);
        self.spare_normal = Some(r * sin);
        r * cos
    }

    /// Standard normal deviate in f64 (host-side simulation noise).
    pub fn normal_f64(&mut self) -> f64 {
        let u1 = self.uniform_f64();
        let u2 = self.uniform_f64();
        libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(core::f64::consts::TAU * u2)
    }

    /// Fill `out` with standard normal deviates.
    pub fn fill_normal(&mut self, out: &mut [f32]) {
        for v in out {
            *v = self.normal_f32();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_state_is_replaced() {
        let mut r = Rng::from_state([0; 4]);
        assert_ne!(r.next_u32() | r.next_u32(), 0);
    }

    #[test]
    fn uniform_is_open_interval() {
        let mut r = Rng::from_state([u32::MAX; 4]);
        for _ in 0..10_000 {
            let u = r.uniform_f32();
            assert!(u > 0.0 && u < 1.0);
        }
    }
}

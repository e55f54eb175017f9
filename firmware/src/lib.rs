//! `vina-firmware`: the buoy side of vina (docs/architecture.md, "Firmware"): hydrophone
//! frames in, posterior summaries out, with no heap and no panic on data.
//!
//! The logic lives in this library so it runs — and is unit-tested — on the host too;
//! the binaries in `src/bin/` wire it to a board (QEMU `mps2-an386` by default).
#![no_std]
// Unsafe only where a target needs it (reading linker symbols for the stack mark).
#![deny(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod acquisition;
#[cfg(all(feature = "board", target_arch = "arm", target_os = "none"))]
pub mod board;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub mod target;

/// `include_bytes!` at a 4-byte-aligned address, for a model file in flash: format
/// version 3 aligns its arrays relative to the file's start, so an aligned file hands the
/// kernels `&[f32]` in place (`vina_core::array::F32s::as_slice`; docs/model-format.md).
/// Evaluates to `&'static [u8]`.
#[macro_export]
macro_rules! include_aligned {
    ($path:expr) => {{
        #[repr(C, align(4))]
        struct Aligned<B: ?Sized>(B);
        static ALIGNED: &Aligned<[u8]> = &Aligned(*include_bytes!($path));
        &ALIGNED.0
    }};
}

/// `with_refinement!(clock, |r| body)`: `body` with `r: Option<Refinement>` — with the
/// `refine` feature a refiner whose ~9 KiB of state lives in the caller's frame, budgeted
/// by `VINA_REFINE_MAX_INSTRUCTIONS` (at build time; unset: the default budget's sweeps)
/// on `clock` (a `fn() -> u64`: instructions under QEMU, cycles on a board); without the
/// feature `None`, and no refinement code in flash. `with_refinement!(clock, limit, |r|
/// body)` caps the budget at `limit` clock units (0: no cap) when the variable is unset.
/// Every buoy binary's one statement of it.
#[macro_export]
macro_rules! with_refinement {
    ($clock:expr, |$r:ident| $body:expr) => {
        $crate::with_refinement!($clock, 0u64, |$r| $body)
    };
    ($clock:expr, $limit:expr, |$r:ident| $body:expr) => {{
        #[cfg(feature = "refine")]
        let mut refiner = vina_core::pipeline::refinement::Refiner::new();
        #[cfg(feature = "refine")]
        let $r = Some(vina_core::pipeline::refinement::Refinement {
            refiner: &mut refiner,
            budget: vina_core::pipeline::refinement::Budget {
                max_clock: option_env!("VINA_REFINE_MAX_INSTRUCTIONS")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or($limit),
                ..Default::default()
            },
            clock: &$clock,
        });
        #[cfg(not(feature = "refine"))]
        let $r = {
            let _ = $limit;
            None
        };
        $body
    }};
}

//! `vina-core`: the one implementation of everything the workstation and the buoy share.
//!
//! `no_std`, no allocator: every routine works on caller-provided buffers, and a model file
//! is decoded in place from a `&[u8]` (flash on the device). The host enables the `alloc`
//! feature to build and encode model files with the same types.
//!
//! Data flow (docs/architecture.md, "Data flow"): hydrophone frames ([`pipeline::source`])
//! → [`pipeline::tone_bank`] → [`features`] → [`model::Model::prepare`] (condition network
//! once per observation) → [`model::Model::sample`] × N latent draws from [`rng`] →
//! [`summary`] → [`report`], all in [`pipeline`], which the buoy runs on its ADC and
//! `vina replay` on a recording.
#![no_std]
// `unsafe` only where it stands, on the Cortex-M4F: the FPU's square root instruction
// (`acoustics::single::sqrt`), which stable `core` does not expose, and the dense kernel's
// `vldmia`/`vmla` loop (`layers::kernel`).
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod acoustics;
pub mod array;
pub mod decimal;
pub mod environment;
pub mod error;
pub mod features;
pub mod layers;
pub mod likelihood;
pub mod limits;
pub mod model;
pub mod model_file;
pub mod parameters;
pub mod pipeline;
pub mod posterior;
pub mod prior;
pub mod quant;
pub mod recording;
pub mod refine;
pub mod report;
pub mod rng;
pub mod sampling;
#[cfg(feature = "alloc")]
pub mod spec;
pub mod summary;
pub mod template;

//! Getting hydrophone samples on the buoy: the SPI delta-sigma ADC driver, and its
//! interrupt-driven stream into the pipeline (`stream`). The
//! [`SampleSource`] trait it implements, and the replay of recordings, are
//! `vina_core::pipeline`'s (one pipeline for the buoy and the host's `vina replay`).

pub mod ads131;
pub mod stream;

pub use vina_core::pipeline::recording_source as replay;
pub use vina_core::pipeline::source::{SampleSource, SampleStatus};

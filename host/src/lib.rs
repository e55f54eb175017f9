//! `vina-host`: the workstation side of vina — forward model, simulator, trainer,
//! evaluation, quantizer and exporters — behind the `vina` command-line tool.
//!
//! Everything the buoy also runs (layer math, model file, features, RNG, summaries) lives
//! in `vina-core`; this crate only adds what needs `std`.

pub mod cli;
pub mod inspect;

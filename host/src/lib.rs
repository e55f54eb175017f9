//! `vina-host`: the workstation side of vina — forward model, simulator, trainer,
//! evaluation, quantizer and exporters — behind the `vina` command-line tool.
//!
//! Everything the buoy also runs (layer math, model file, features, RNG, summaries, the
//! normal-mode solver) lives in `vina-core`; this crate only adds what needs `std`.

pub mod batch;
pub mod cli;
pub mod dataset;
pub mod error;
pub mod eval;
pub mod evaluate;
pub mod export;
pub mod forward;
pub mod inspect;
pub mod invert;
pub mod kraken_env;
pub mod listen;
pub mod loss_study;
pub mod observation;
pub mod observation_file;
pub mod posterior;
pub mod reference;
pub mod refine;
pub mod replay;
pub mod scenario;
pub mod simulate;
pub mod synth;
pub mod train;

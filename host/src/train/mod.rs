//! The trainer: Burn modules that mirror `vina-core`'s layers parameter for parameter, the
//! VINA losses, and a deterministic, resumable training loop.
//!
//! - [`modules`]: dense layers and MLPs; [`flow`]: ActNorm, permutations, coupling blocks,
//!   the cINN and the INN; [`to_spec`]: weight copy to a `vina_core::spec::ModelSpec`.
//! - [`losses`]: maximum likelihood, f-GAN, MMD, Sinkhorn.
//! - [`config`]: the TOML training configuration; [`trainer`]: the loop and its files;
//!   [`checkpoint`]: its crash-safe, checksummed checkpoints;
//!   [`metrics`]: the per-epoch `metrics.csv` it writes, and its reader.
//!
//! Training runs on Burn's pure-Rust CPU backend (`Device::flex()` with autodiff) unless
//! the config or `vina train --device` names a GPU backend ([`device`]).

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod device;
pub mod flow;
pub mod losses;
pub mod metrics;
pub mod modules;
pub mod to_spec;
pub mod trainer;

pub use config::TrainConfig;
pub use data::TrainData;
pub use flow::{Cinn, Dims, Flow, Inn, Network};
pub use trainer::{TrainSummary, run, train, train_data};

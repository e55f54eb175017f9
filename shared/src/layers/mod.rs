//! Network building blocks over caller-provided buffers: dense layers and MLP subnets,
//! affine coupling blocks, fixed permutations, ActNorm and the bounded output (docs/architecture.md,
//! "Models and losses").
//!
//! Every layer borrows its parameters from a decoded model file; nothing is copied and
//! nothing is allocated. Sizes are checked when the file is decoded, and once more at each
//! call, so a wrong buffer gives a [`crate::error::ModelError`], never a panic.

pub mod activation;
pub mod actnorm;
pub mod bounded;
pub mod coupling;
pub mod dense;
pub mod kernel;
pub mod mlp;
pub mod permute;

pub use activation::Activation;
pub use actnorm::ActNorm;
pub use bounded::Bounded;
pub use coupling::{Coupling, CouplingStyle};
pub use dense::{Dense, Weights};
pub use mlp::{FirstLayerInput, Scratch};
pub use permute::Permutation;

pub use crate::limits::{MAX_DIM, MAX_WIDTH};

//! Every fixed capacity of this build, in one place: the core allocates nothing, so each
//! buffer's size is a constant here, and a larger model, scenario or report is refused
//! with a typed error naming the limit (never a fault). The firmware sizes its static
//! buffers from these.

/// Most unknowns (posterior parameters) a scenario, a refinement and a report handle: a
/// refinement's covariance and Cholesky factor live on the stack.
pub const MAX_PARAMS: usize = 8;
/// Most tones a scenario or an environment template holds.
pub const MAX_TONES: usize = 16;
/// Most receivers a scenario or an environment template holds.
pub const MAX_RECEIVERS: usize = 16;
/// Most sediment layers an environment has (a scenario uses at most one; Acoustics
/// Toolbox `.env` files read by `vina forward` may have more).
pub const MAX_LAYERS: usize = 8;
/// Most points of a water sound-speed profile in an environment.
pub const MAX_SSP_POINTS: usize = 64;
/// Mode capacity of the heap-allocated mode sets the host uses (the KRAKEN PEKERIS
/// case has 44 trapped modes, `gi-pekeris` at most ~25).
pub const HOST_MODES: usize = 256;
/// Largest flow dimension (parameters plus padding) this build handles.
pub const MAX_DIM: usize = 128;
/// Largest width of any dense layer's input or output.
pub const MAX_WIDTH: usize = 256;
/// Most dense layers a model may hold (condition network and all subnets).
pub const MAX_DENSE: usize = 64;
/// Most flow layers (couplings, permutations, ActNorms) a model may hold.
pub const MAX_FLOW_LAYERS: usize = 48;

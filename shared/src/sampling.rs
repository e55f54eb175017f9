//! Posterior draws for one observation: the loop the buoy runs and `vina invert --engine
//! core` reruns on the host, so both give the same samples for the same seed.
//!
//! Latent `i` is the `i`-th block of [`Model::latent_dim`] normals from
//! `Rng::new(seed)`, filled in order by [`Rng::fill_normal`].

use crate::error::ModelError;
use crate::layers::{MAX_DIM, Scratch};
use crate::model::Model;
use crate::rng::Rng;
use crate::summary::Summary;

/// Largest parameter count a draw can hold on the stack.
pub const MAX_X: usize = MAX_DIM;

/// Draw `samples` posterior samples from a context filled by [`Model::prepare`], calling
/// `each(x)` with every sample in physical units.
pub fn draw(
    model: &Model<'_>,
    context: &[f32],
    scratch: &mut Scratch,
    seed: u64,
    samples: u32,
    mut each: impl FnMut(&[f32]),
) -> Result<(), ModelError> {
    let mut rng = Rng::new(seed);
    let mut z = [0.0f32; MAX_DIM];
    let z = z
        .get_mut(..model.latent_dim())
        .ok_or(ModelError::CapacityExceeded {
            what: "latent",
            capacity: MAX_DIM,
            requested: model.latent_dim(),
        })?;
    let mut x = [0.0f32; MAX_X];
    let x = x
        .get_mut(..model.x_dim())
        .ok_or(ModelError::CapacityExceeded {
            what: "parameters",
            capacity: MAX_X,
            requested: model.x_dim(),
        })?;
    for _ in 0..samples {
        rng.fill_normal(z);
        model.sample(context, z, x, scratch)?;
        each(x);
    }
    Ok(())
}

/// [`draw`] into one streaming [`Summary`] per parameter (the first `x_dim` entries of
/// `out` are reset and used), each counting the draws outside [`Model::support`].
pub fn summarize(
    model: &Model<'_>,
    context: &[f32],
    scratch: &mut Scratch,
    seed: u64,
    samples: u32,
    out: &mut [Summary],
) -> Result<(), ModelError> {
    if out.len() < model.x_dim() {
        return Err(ModelError::CapacityExceeded {
            what: "summaries",
            capacity: out.len(),
            requested: model.x_dim(),
        });
    }
    for (j, s) in out.iter_mut().take(model.x_dim()).enumerate() {
        *s = Summary::with_support(model.support(j));
    }
    draw(model, context, scratch, seed, samples, |x| {
        for (s, v) in out.iter_mut().zip(x) {
            s.push(*v);
        }
    })
}

/// A model conditioned on one observation on the host: [`Model::prepare`] once, then any
/// number of draws ([`draw`]'s stream) or explicit latents, with the context and scratch
/// on the heap. The one "prepare, then draw N" of `vina invert`, `vina eval`, export's
/// int8 check and refinement; the buoy keeps the same two calls on static buffers.
#[cfg(feature = "alloc")]
pub struct Conditioned<'m, 'a> {
    model: &'m Model<'a>,
    context: alloc::vec::Vec<f32>,
    scratch: alloc::boxed::Box<Scratch>,
}

#[cfg(feature = "alloc")]
impl<'m, 'a> Conditioned<'m, 'a> {
    /// Condition `model` on the features `y`.
    pub fn new(model: &'m Model<'a>, y: &[f32]) -> Result<Self, ModelError> {
        let mut context = alloc::vec![0.0f32; model.context_len()];
        let mut scratch = alloc::boxed::Box::new(Scratch::new());
        model.prepare(y, &mut context, &mut scratch)?;
        Ok(Self {
            model,
            context,
            scratch,
        })
    }

    /// The prepared context ([`Model::prepare`]'s output).
    pub fn context(&self) -> &[f32] {
        &self.context
    }

    /// [`draw`]: `samples` draws from `seed`'s latent stream, `each(x)` per draw.
    pub fn draw(
        &mut self,
        seed: u64,
        samples: u32,
        each: impl FnMut(&[f32]),
    ) -> Result<(), ModelError> {
        draw(
            self.model,
            &self.context,
            &mut self.scratch,
            seed,
            samples,
            each,
        )
    }

    /// [`draw`] collected as f64 rows.
    pub fn draws(
        &mut self,
        seed: u64,
        samples: u32,
    ) -> Result<alloc::vec::Vec<alloc::vec::Vec<f64>>, ModelError> {
        let mut out = alloc::vec::Vec::with_capacity(samples as usize);
        self.draw(seed, samples, |x| {
            out.push(x.iter().map(|&v| f64::from(v)).collect())
        })?;
        Ok(out)
    }

    /// The draw of an explicit latent `z` ([`Model::sample`]), as a new row.
    pub fn sample(&mut self, z: &[f32]) -> Result<alloc::vec::Vec<f32>, ModelError> {
        let mut x = alloc::vec![0.0f32; self.model.x_dim()];
        self.model
            .sample(&self.context, z, &mut x, &mut self.scratch)?;
        Ok(x)
    }
}

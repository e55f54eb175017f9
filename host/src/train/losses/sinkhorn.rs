//! The debiased Sinkhorn divergence between two equally weighted point clouds (Feydy et
//! al. 2019), computed as `geomloss.SamplesLoss("sinkhorn", p=2)` computes it, since the
//! VINA reference code trains with that loss:
//!
//! `S_ε(α, β) = OT_ε(α, β) − ½·OT_ε(α, α) − ½·OT_ε(β, β)`, cost `C(x, y) = ½‖x − y‖²`.
//!
//! Each entropic problem is solved in the log domain by symmetric Sinkhorn updates under
//! ε-scaling: ε starts at the clouds' squared diameter and falls by `scaling²` per update
//! down to the target ε, one averaged update per temperature (geomloss's `sinkhorn_loop`,
//! Feydy's thesis, figs. 3.25–3.26), then `iters` updates at the target. The potentials
//! are found on a detached cost; one last "extrapolation" update runs on the cost with
//! its gradient, so the loss has the divergence's gradient without a tape of the loop
//! (each cost differentiable in its left argument, as geomloss builds it).
//!
//! Why debiased: the plain entropic cost OT_ε(α, β) is smallest when β shrinks toward
//! α's barycentre (its entropic bias), so as a loss it pulls samples together; S_ε is
//! zero exactly at α = β and positive otherwise.

use burn::tensor::Tensor;

use super::mmd::sq_dists;

/// `−ε·log Σ_j exp(h_j − C_ij/ε)`: the soft c-transform of the log-weighted potential
/// `h` `[1, m]` through the cost `c` `[n, m]`, a column `[n, 1]`.
fn softmin(eps: f32, c: Tensor<2>, h: Tensor<2>) -> Tensor<2> {
    let t = h - c.div_scalar(eps);
    let m = t.clone().max_dim(1).detach();
    ((t - m.clone()).exp().sum_dim(1).log() + m).mul_scalar(-eps)
}

/// geomloss's `epsilon_schedule` for p = 2: `diameter²`, then `diameter²·scaling^(2k)`
/// while above `eps`, then `eps`.
pub fn epsilon_schedule(diameter: f32, eps: f32, scaling: f32) -> Vec<f32> {
    let mut list = vec![diameter * diameter];
    let (start, stop, step) = (
        2.0 * f64::from(diameter).ln(),
        f64::from(eps).ln(),
        2.0 * f64::from(scaling).ln(),
    );
    // `np.arange(start, stop, step)` with a negative step.
    let mut k = 0usize;
    loop {
        let e = start + step * k as f64;
        if e <= stop || k > 10_000 {
            break;
        }
        list.push(e.exp() as f32);
        k += 1;
    }
    list.push(eps);
    list
}

/// The length of the box diagonal that holds both clouds (geomloss's `max_diameter`),
/// floored so that identical clouds still give a valid schedule.
fn diameter(a: &Tensor<2>, b: &Tensor<2>) -> f32 {
    let both = Tensor::cat(vec![a.clone().detach(), b.clone().detach()], 0);
    let span = both.clone().max_dim(0) - both.min_dim(0);
    let d: f32 = span.square().sum().into_scalar::<f32>();
    d.sqrt().max(1e-6)
}

/// `S_ε` between the rows of `a` `[n, d]` and `b` `[m, d]`, a scalar `[1]`; `eps` is the
/// target temperature (geomloss's `blur²`), `scaling` the ε-scaling ratio of the blur
/// (geomloss default 0.5), `iters` the updates at the target ε (geomloss: 1).
pub fn sinkhorn(a: &Tensor<2>, b: &Tensor<2>, eps: f32, scaling: f32, iters: usize) -> Tensor<1> {
    let [n, _] = a.dims();
    let [m, _] = b.dims();
    // C(x_i, y_j) differentiable in its left argument only, as geomloss builds it: the
    // gradient then flows through each potential on its own cloud (f on a, g on b).
    let cost = |x: &Tensor<2>, y: &Tensor<2>| sq_dists(x, &y.clone().detach()).mul_scalar(0.5);
    let (c_ab, c_ba) = (cost(a, b), cost(b, a));
    let c_aa = cost(a, a);
    let c_bb = cost(b, b);
    let (d_ab, d_ba, d_aa, d_bb) = (
        c_ab.clone().detach(),
        c_ba.clone().detach(),
        c_aa.clone().detach(),
        c_bb.clone().detach(),
    );
    let device = a.device();
    let log_a = Tensor::<2>::full([1, n], -(n as f32).ln(), &device);
    let log_b = Tensor::<2>::full([1, m], -(m as f32).ln(), &device);
    // Potentials as rows `[1, ·]`, so `log_w + f/ε` is the softmin's `h`.
    let row = |t: Tensor<2>| t.transpose();

    let mut schedule = epsilon_schedule(diameter(a, b), eps, scaling);
    let last = *schedule.last().expect("schedule ends at the target ε");
    schedule.extend(std::iter::repeat_n(last, iters.saturating_sub(1)));

    let e0 = schedule[0];
    let mut g_ab = row(softmin(e0, d_ba.clone(), log_a.clone()));
    let mut f_ba = row(softmin(e0, d_ab.clone(), log_b.clone()));
    let mut f_aa = row(softmin(e0, d_aa.clone(), log_a.clone()));
    let mut g_bb = row(softmin(e0, d_bb.clone(), log_b.clone()));
    for &e in &schedule {
        let ft_ba = row(softmin(
            e,
            d_ab.clone(),
            log_b.clone() + g_ab.clone().div_scalar(e),
        ));
        let gt_ab = row(softmin(
            e,
            d_ba.clone(),
            log_a.clone() + f_ba.clone().div_scalar(e),
        ));
        let ft_aa = row(softmin(
            e,
            d_aa.clone(),
            log_a.clone() + f_aa.clone().div_scalar(e),
        ));
        let gt_bb = row(softmin(
            e,
            d_bb.clone(),
            log_b.clone() + g_bb.clone().div_scalar(e),
        ));
        f_ba = (f_ba + ft_ba).mul_scalar(0.5);
        g_ab = (g_ab + gt_ab).mul_scalar(0.5);
        f_aa = (f_aa + ft_aa).mul_scalar(0.5);
        g_bb = (g_bb + gt_bb).mul_scalar(0.5);
    }
    // The last extrapolation, on the differentiable costs.
    let h = |log_w: &Tensor<2>, p: Tensor<2>| (log_w.clone() + p.div_scalar(last)).detach();
    let f_ba_last = softmin(last, c_ab, h(&log_b, g_ab));
    let g_ab_last = softmin(last, c_ba, h(&log_a, f_ba));
    let f_aa_last = softmin(last, c_aa, h(&log_a, f_aa));
    let g_bb_last = softmin(last, c_bb, h(&log_b, g_bb));
    (f_ba_last - f_aa_last).mean() + (g_ab_last - g_bb_last).mean()
}

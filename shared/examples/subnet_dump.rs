//! Dump one subnet MLP of the committed int8 cINN (first coupling, subnet 1:
//! [x half, condition c] 33 → 48 → 48 → 2) as JSON for `bench/mlp_m4/make_tflite.py`:
//! its weights (int8 layers dequantized, code × row scale, so TensorFlow sees exactly
//! vina's weights), representative inputs (c from gi-pekeris observations: noise-free
//! fields of prior draws through the model's own template and condition network; the x
//! half ~ N(0, 1), the flow's latent scale) and vina-core's outputs for them.
//!
//! `cargo run -p vina-core --example subnet_dump --features std > bench/mlp_m4/subnet.json`
use vina_core::layers::Scratch;
use vina_core::model::{FlowLayer, Model};
use vina_core::posterior::ForwardBuffers;
use vina_core::rng::Rng;

const INPUTS: usize = 256;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read("models/gi-pekeris-cinn-int8.vina")?;
    let model = Model::from_bytes(&bytes)?;
    let template = model.template().ok_or("the model carries no template")?;
    let coupling = model
        .flow_layers()
        .iter()
        .find(|l| matches!(l, FlowLayer::Coupling { .. }))
        .ok_or("no coupling")?;
    let subnet = model.subnets(coupling)[0];
    let layers: Vec<serde_json::Value> = subnet
        .iter()
        .map(|d| {
            let w: Vec<Vec<f32>> = (0..d.outputs())
                .map(|r| {
                    (0..d.inputs())
                        .map(|c| d.weight(r, c).unwrap_or(f32::NAN))
                        .collect()
                })
                .collect();
            let mut b = vec![0.0f32; d.outputs()];
            d.init_bias(&mut b).ok();
            serde_json::json!({
                "weights": w, "bias": b, "activation": format!("{:?}", d.activation),
                "int8": d.is_int8(),
            })
        })
        .collect();
    let (t, r) = (template.tones_hz.len(), template.receiver_depths_m.len());
    let cond_dim = usize::from(model.header().cond_dim);
    let x_len = subnet[0].inputs() - cond_dim;
    let mut rng = Rng::new(5);
    let mut buffers = Box::new(ForwardBuffers::<f32, 64>::new());
    let mut scratch = Scratch::new();
    let mut ctx = vec![0.0f32; model.context_len()];
    let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
    while inputs.len() < INPUTS {
        let theta: Vec<f32> = template
            .unknowns
            .iter()
            .map(|u| {
                let (lo, hi) = u.prior.support();
                lo + (hi - lo) * rng.uniform_f32()
            })
            .collect();
        let p = &mut buffers.pressure[..t * r];
        if template.pressure(&theta, &mut buffers.modes, p).is_err() {
            continue;
        }
        let mut y = vec![0.0f32; model.y_dim()];
        template.features.compute(p, t, r, &mut y)?;
        model.prepare(&y, &mut ctx, &mut scratch)?;
        let mut input = vec![0.0f32; x_len];
        rng.fill_normal(&mut input);
        input.extend_from_slice(&ctx[..cond_dim]);
        let mut a = input.clone();
        for d in subnet {
            let mut out = vec![0.0f32; d.outputs()];
            d.forward(&a, &mut out)?;
            a = out;
        }
        inputs.push(input);
        outputs.push(a);
    }
    let dump = serde_json::json!({
        "model": "models/gi-pekeris-cinn-int8.vina",
        "subnet": "first coupling, subnet 1",
        "layers": layers,
        "inputs": inputs,
        "vina_outputs": outputs,
    });
    println!("{dump}");
    Ok(())
}

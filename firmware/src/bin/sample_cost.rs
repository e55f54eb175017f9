//! Instructions per posterior sample of the default cINN on the Cortex-M4 (f32 and int8
//! weights), measured under QEMU `-icount shift=0` with SysTick: prepare once per
//! observation (condition network and cached `W_c·c`), then N inverse passes.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::hprintln;
use vina_core::layers::Scratch;
use vina_core::model::Model;
use vina_core::rng::Rng;
use vina_firmware::target::{InstructionCounter, run_measurement};

const SAMPLES: u32 = 200;

/// One model per build (both together exceed the 256 KiB flash budget): f32 by default,
/// int8 with `--features int8-model`.
#[cfg(not(feature = "int8-model"))]
static MODEL: (&str, &[u8]) = (
    "default cINN f32",
    vina_firmware::include_aligned!(concat!(env!("OUT_DIR"), "/model_f32.vina")),
);
#[cfg(feature = "int8-model")]
static MODEL: (&str, &[u8]) = (
    "default cINN int8",
    vina_firmware::include_aligned!(concat!(env!("OUT_DIR"), "/model_int8.vina")),
);

fn measure(counter: &InstructionCounter, name: &str, bytes: &'static [u8]) -> Option<()> {
    let model = match Model::from_bytes(bytes) {
        Ok(m) => m,
        Err(e) => {
            hprintln!("{}: model refused: {}", name, e);
            return None;
        }
    };
    let mut scratch = Scratch::new();
    let mut context = [0.0f32; 1024];
    let mut y = [0.0f32; 256];
    let y = y.get_mut(..model.y_dim())?;
    let mut rng = Rng::new(7);
    rng.fill_normal(y);
    let t0 = counter.now();
    model.prepare(y, &mut context, &mut scratch).ok()?;
    let t1 = counter.now();
    let mut z = [0.0f32; 128];
    let z = z.get_mut(..model.latent_dim())?;
    let mut x = [0.0f32; 16];
    let x = x.get_mut(..model.x_dim())?;
    let mut checksum = 0.0f32;
    for _ in 0..SAMPLES {
        rng.fill_normal(z);
        model.sample(&context, z, x, &mut scratch).ok()?;
        checksum += x[0];
    }
    let t2 = counter.now();
    let per_sample = (t2 - t1) / u64::from(SAMPLES);
    hprintln!(
        "{}: {} B file, {} MACs/sample; prepare {} instructions; {} instructions per posterior sample (incl. latent draw); checksum {}",
        name,
        bytes.len(),
        model.macs_per_sample(),
        t1 - t0,
        per_sample,
        checksum
    );
    Some(())
}

#[entry]
fn main() -> ! {
    run_measurement(|c| measure(c, MODEL.0, MODEL.1))
}

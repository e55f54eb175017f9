//! The buoy's main loop on QEMU `mps2-an386`: validate the model at boot, replay the
//! embedded recording through the pipeline window by window, and emit each report as a
//! hex-encoded frame on semihosting (`cargo xtask qemu` decodes them) plus a readable line.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprint, hprintln};
use vina_core::model::Model;
use vina_core::recording::Recording;
use vina_core::report::MAX_FRAME;
use vina_firmware::acquisition::replay::Replay;
use vina_firmware::pipeline::{Config, Pipeline};
use vina_firmware::target::halt;

static MODEL: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/model_f32.vina"));
static RECORDING: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/recording.vrec"));

fn fail(what: &str) -> ! {
    hprintln!("fault: {}", what);
    debug::exit(debug::EXIT_FAILURE);
    halt()
}

#[entry]
fn main() -> ! {
    let model = match Model::from_bytes(MODEL) {
        Ok(m) => m,
        Err(e) => {
            hprintln!("fault: model refused at boot: {}", e);
            debug::exit(debug::EXIT_FAILURE);
            halt()
        }
    };
    let recording = match Recording::from_bytes(RECORDING) {
        Ok(r) => r,
        Err(e) => {
            hprintln!("fault: recording refused: {}", e);
            debug::exit(debug::EXIT_FAILURE);
            halt()
        }
    };
    let config = Config::default();
    let mut source = Replay::new(recording);
    let Ok(mut pipeline) =
        Pipeline::new(&model, recording.channels, recording.sample_rate_hz, config)
    else {
        fail("model and recording do not fit together (channels, capacity or feature kind)")
    };
    let window = (config.frame_len * config.snapshots) as usize;
    let mut seed = 1u64;
    while source.remaining() >= window {
        let Ok(report) = pipeline.run(&mut source, seed) else {
            fail("recording ended inside a window")
        };
        let mut frame = [0u8; MAX_FRAME];
        let Ok(n) = report.encode(&mut frame) else {
            fail("report frame too large")
        };
        hprint!("frame ");
        for b in &frame[..n] {
            hprint!("{:02x}", b);
        }
        hprintln!("");
        for (i, p) in report.parameters.iter().enumerate() {
            hprintln!(
                "report {} p{}: mean {} std {} q05 {} q50 {} q95 {}",
                report.sequence,
                i,
                p.mean,
                p.std,
                p.q05,
                p.q50,
                p.q95
            );
        }
        seed += 1;
    }
    debug::exit(debug::EXIT_SUCCESS);
    halt()
}

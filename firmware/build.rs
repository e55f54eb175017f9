//! Build script: put `memory.x` where the linker finds it, and provide the model the
//! benchmarks run. `VINA_MODEL=path/to/model.vina` selects a trained model; without it a
//! randomly initialized model of the default on-device architecture is generated with
//! `vina-core`'s own encoder (f32 and int8), so sizes and instruction counts are
//! measurable before any training. `VINA_RECORDING=path` embeds a recording for the
//! `buoy` binary's replay source and links with 4 MiB of flash
//! (`memory-qemu.x`), since recordings are test data, not firmware.
use std::{env, fs, path::PathBuf};

use vina_core::spec::{Precision, RandomArch};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let recording = env::var_os("VINA_RECORDING");
    let memory = if recording.is_some() {
        "memory-qemu.x"
    } else {
        "memory-budget.x"
    };
    fs::copy(memory, out.join("memory.x")).expect("memory layouts are next to build.rs");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory-budget.x");
    println!("cargo:rerun-if-changed=memory-qemu.x");
    println!("cargo:rerun-if-env-changed=VINA_MODEL");
    println!("cargo:rerun-if-env-changed=VINA_RECORDING");
    let rec = match &recording {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", PathBuf::from(path).display());
            fs::read(path).expect("VINA_RECORDING names a readable recording")
        }
        None => Vec::new(),
    };
    fs::write(out.join("recording.vrec"), rec).expect("OUT_DIR is writable");

    let spec = RandomArch::default_cinn().build(1);
    for (name, precision) in [
        ("model_f32.vina", Precision::F32),
        ("model_int8.vina", Precision::Int8),
    ] {
        let bytes = match env::var_os("VINA_MODEL") {
            Some(path) => fs::read(&path).expect("VINA_MODEL names a readable .vina file"),
            None => spec
                .encode(precision)
                .expect("the default architecture encodes"),
        };
        fs::write(out.join(name), bytes).expect("OUT_DIR is writable");
    }
}

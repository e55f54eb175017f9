//! `cargo xtask …`: the project's checks as a short list of one-liners (defmt's pattern),
//! so CI and a developer run the same commands. `cargo xtask --help` lists them.

mod board;
mod ci;
mod cost;
mod defmt;
mod demo;
mod linux;
mod onnxruntime;
mod process;
mod qemu;
mod recording;
mod size;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "The project's workflows and checks: the demo, CI, firmware runs on QEMU, size and instruction-count reports",
    arg_required_else_help = true
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

/// The tasks, in workflow order: the demo, CI, running the firmware yourself, the checks,
/// the reports.
#[derive(Subcommand)]
enum Task {
    /// The main job: simulate → train → evaluate → export → synthesize → firmware on QEMU → posterior vs truth
    Demo {
        /// Seed of the simulation, the truth and the recording (default: from the clock)
        #[arg(long)]
        seed: Option<u64>,
        /// Training samples to simulate
        #[arg(long, default_value_t = 60_000)]
        samples: u64,
    },
    /// Everything CI runs, in order, with the time of each step
    Ci,
    /// The buoy firmware on QEMU (Cortex-M4, mps2-an386); prints the decoded report frames
    Qemu {
        /// Model file built into the firmware (default: the committed gi-pekeris cINN)
        #[arg(long)]
        model: Option<PathBuf>,
        /// Recording to process (default: a fresh `vina synth` of gi-pekeris)
        #[arg(long)]
        recording: Option<PathBuf>,
        /// Refine each posterior with the exact likelihood of the model's environment
        /// template (firmware feature `refine`), and check each refined posterior against
        /// the same refinement replayed on the host in f32
        #[arg(long)]
        refine: bool,
    },
    /// The buoy on ARM Linux (aarch64 under qemu-aarch64); prints the decoded report frames
    Linux {
        /// Model file (default: the one built in, as on the Cortex-M)
        #[arg(long)]
        model: Option<PathBuf>,
        /// Recording to process (default: a fresh `vina synth` of gi-pekeris)
        #[arg(long)]
        recording: Option<PathBuf>,
        /// Check the reports against the Cortex-M's on QEMU (within 1e-4)
        #[arg(long)]
        compare: bool,
    },
    /// The buoy with defmt logs on QEMU, decoded by defmt-print (install it first)
    Defmt {
        /// Recording to process (default: a fresh `vina synth` of gi-pekeris)
        #[arg(long)]
        recording: Option<PathBuf>,
    },
    /// Firmware self-test on QEMU: the Cortex-M4 PRNG stream against the host's vectors
    Selftest,
    /// The buoy on QEMU with the committed model: truth in the 90 % intervals, summary = vina invert
    QemuCheck,
    /// The committed ONNX graphs in onnxruntime against vina-core (scripts/onnxruntime_check.py)
    OnnxruntimeCheck,
    /// The STM32F405 board firmware under QEMU netduinoplus2, USART into vina listen: = vina invert, truth inside; duty cycle against firmware/board-report.txt
    Board {
        /// Write firmware/board-report.txt instead of comparing with it (±1 %)
        #[arg(long)]
        write: bool,
    },
    /// Firmware flash, RAM and stack against the budgets and firmware/size-report.txt
    Size {
        /// Write firmware/size-report.txt instead of comparing with it
        #[arg(long)]
        write: bool,
    },
    /// Instructions per forward-model environment on the Cortex-M4 (writes bench/forward_cortex_m4.txt)
    ForwardCost,
    /// Instructions per posterior sample, f32 and int8 cINN, against bench/sample_cortex_m4.txt
    SampleCost {
        /// Write bench/sample_cortex_m4.txt instead of comparing with it (±1 %)
        #[arg(long)]
        write: bool,
    },
    /// The buoy's refinement on QEMU against the host's replays; instructions against bench/refine_cortex_m4.txt
    RefineCost {
        /// Write bench/refine_cortex_m4.txt instead of comparing with it (±1 %)
        #[arg(long)]
        write: bool,
    },
    /// One subnet MLP, vina-core against microflow; instructions against bench/mlp_cortex_m4.txt
    MlpCost {
        /// Write bench/mlp_cortex_m4.txt instead of comparing with it (±1 %)
        #[arg(long)]
        write: bool,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Demo { seed, samples } => demo::demo(seed, samples),
        Task::Ci => ci::ci(),
        Task::Qemu {
            model,
            recording,
            refine,
        } => {
            if refine {
                qemu::qemu_refined(model.as_deref(), recording.as_deref())
            } else {
                qemu::qemu(model.as_deref(), recording.as_deref(), &[]).map(|_| ())
            }
        }
        Task::Linux {
            model,
            recording,
            compare: true,
        } => linux::linux_check(model.as_deref(), recording.as_deref()),
        Task::Linux {
            model,
            recording,
            compare: false,
        } => linux::linux(model.as_deref(), recording.as_deref()).map(|_| ()),
        Task::Defmt { recording } => defmt::defmt(recording.as_deref()),
        Task::Selftest => qemu::selftest(),
        Task::QemuCheck => qemu::qemu_check(),
        Task::OnnxruntimeCheck => onnxruntime::onnxruntime_check(),
        Task::Board { write } => board::board(write),
        Task::Size { write } => size::size(write),
        Task::ForwardCost => cost::forward_cost(),
        Task::SampleCost { write } => cost::sample_cost(write),
        Task::RefineCost { write } => cost::refine_cost(write),
        Task::MlpCost { write } => cost::mlp_cost(write),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        super::Cli::command().debug_assert();
    }
}

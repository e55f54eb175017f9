//! The buoy on ARM Linux (`aarch64-unknown-linux-gnu`; docs/architecture.md, "Firmware";
//! firmware/README.md "ARM Linux"): the Cortex-M buoy's pipeline with `std`, its samples
//! from a recording or from the ADS131M04 on spidev, its report frames (postcard + COBS,
//! 0x00 delimited, decodable by `vina listen`) to stdout or a serial port. Readable lines
//! go to stderr.
//!
//! - `buoy_linux --recording rec.vrec [--model m.vina]`: replay, as the QEMU buoy does
//!   (`cargo xtask linux` runs it under `qemu-aarch64` and compares);
//! - `buoy_linux --spi /dev/spidev0.0 --drdy gpiochip0:17 [--serial /dev/ttyS0]`: the
//!   ADC, set up by the blocking driver, then streamed by a reader thread that waits for
//!   DRDY's falling edges (GPIO character device events, kernel timestamps) and reads
//!   each frame — the `acquisition::stream` queue the Cortex-M boards fill from interrupts,
//!   with the same loss accounting.
//!
//! Without `--model`, a model built in: for recordings `VINA_MODEL` at build time, else the
//! committed f32 cINN (the Cortex-M `buoy`'s default, five receivers); for the ADC the
//! boards' four-receiver `gi-pekeris-4rx` cINN.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use linux_embedded_hal::gpio_cdev::{Chip, EventRequestFlags, LineEventHandle, LineRequestFlags};
use linux_embedded_hal::spidev::{SpiModeFlags, SpidevOptions};
use linux_embedded_hal::{CdevPin, Delay, SpidevDevice};
use vina_core::model::Model;
use vina_core::pipeline::PipelineConfig;
use vina_core::pipeline::replay::{replay, replay_source};
use vina_core::report::Report;
use vina_firmware::acquisition::ads131::{AdcConfig, Ads131m04, Osr};
use vina_firmware::acquisition::stream::{
    Consumer, Counters, FRAME_BYTES, NULL_FRAME, Producer, Queue,
};

/// The built-in models: for recordings the Cortex-M `buoy`'s (five receivers), for one
/// ADS131M04 the boards' four-receiver `gi-pekeris-4rx` cINN.
static BUILT_IN_MODEL: &[u8] =
    vina_firmware::include_aligned!(concat!(env!("OUT_DIR"), "/model_f32.vina"));
static BUILT_IN_4RX_MODEL: &[u8] =
    vina_firmware::include_aligned!(concat!(env!("OUT_DIR"), "/model_4rx_f32.vina"));

/// Frames the reader thread may run ahead of the pipeline: 4.4 s at 932 Hz.
const QUEUE: usize = 4096;

/// The buoy on ARM Linux: report frames from a recording or the ADS131M04.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Model file (default: built in — the five-receiver gi-pekeris cINN for --recording,
    /// the four-receiver gi-pekeris-4rx one for the ADC's four channels)
    #[arg(long)]
    model: Option<PathBuf>,
    /// Replay this recording (`vina synth`'s .vrec) instead of reading the ADC
    #[arg(long, required_unless_present = "spi", conflicts_with_all = ["spi", "drdy"])]
    recording: Option<PathBuf>,
    /// The ADS131M04's spidev device, e.g. /dev/spidev0.0 (mode 1, chip select by the kernel)
    #[arg(long, requires = "drdy")]
    spi: Option<PathBuf>,
    /// Its DRDY output as CHIP:LINE, e.g. gpiochip0:17 (a GPIO character device line)
    #[arg(long, requires = "spi")]
    drdy: Option<String>,
    /// The ADS131M04's CLKIN, Hz (its data rate is CLKIN / (2 · OSR))
    #[arg(long, default_value_t = 8_192_000, value_parser = clap::value_parser!(u32).range(300_000..=8_250_000))]
    clkin_hz: u32,
    /// Oversampling ratio (128, 256, …, 16384)
    #[arg(long, default_value_t = 4096)]
    osr: u32,
    /// SPI clock, Hz (the part allows 25 MHz)
    #[arg(long, default_value_t = 5_000_000, value_parser = clap::value_parser!(u32).range(100_000..=25_000_000))]
    spi_hz: u32,
    /// Write the frames to this serial port instead of stdout
    #[arg(long)]
    serial: Option<String>,
    /// Baud rate of --serial (8N1)
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    /// Stop after this many reports (default: a recording's end; the ADC: never)
    #[arg(long)]
    reports: Option<u32>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(n) => {
            eprintln!("{n} report(s)");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("fault: {why}");
            ExitCode::FAILURE
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn run(args: &Args) -> Result<u32, String> {
    let model = match (&args.model, &args.recording) {
        (Some(path), _) => read(path)?,
        (None, Some(_)) => BUILT_IN_MODEL.to_vec(),
        (None, None) => BUILT_IN_4RX_MODEL.to_vec(),
    };
    let mut out: Box<dyn Write> = match &args.serial {
        Some(dev) => Box::new(
            linux_embedded_hal::serialport::new(dev, args.baud)
                .timeout(Duration::from_secs(5))
                .open()
                .map_err(|e| format!("cannot open {dev}: {e}"))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut write_error = None;
    let mut emit = |report: &Report, frame: &[u8], _: &[f32]| {
        if let Err(e) = out.write_all(frame).and_then(|()| out.flush()) {
            write_error.get_or_insert(e);
        }
        for (i, p) in report.parameters.iter().enumerate() {
            eprintln!(
                "report {} p{}: mean {} std {} q05 {} q50 {} q95 {}",
                report.sequence, i, p.mean, p.std, p.q05, p.q50, p.q95
            );
        }
    };
    let outcome = match (&args.recording, &args.spi, &args.drdy) {
        (Some(recording), _, _) => replay(
            &model,
            &read(recording)?,
            PipelineConfig::default(),
            None,
            &mut emit,
        )
        .map_err(|f| f.to_string()),
        (None, Some(spi), Some(drdy)) => acquire(args, &model, spi, drdy, &mut emit),
        _ => Err("give --recording, or --spi and --drdy".into()),
    };
    if let Some(e) = write_error {
        return Err(format!("cannot write the report frames: {e}"));
    }
    outcome
}

/// Open the ADC, set it up, and run the pipeline on its stream.
fn acquire(
    args: &Args,
    model: &[u8],
    spi_path: &Path,
    drdy: &str,
    emit: impl FnMut(&Report, &[u8], &[f32]),
) -> Result<u32, String> {
    let model = Model::from_bytes(model).map_err(|e| format!("model refused: {e}"))?;
    let osr = [
        Osr::X128,
        Osr::X256,
        Osr::X512,
        Osr::X1024,
        Osr::X2048,
        Osr::X4096,
        Osr::X8192,
        Osr::X16384,
    ]
    .into_iter()
    .find(|o| o.ratio() == args.osr)
    .ok_or_else(|| format!("--osr {}: expected 128, 256, …, 16384", args.osr))?;
    let (chip_name, line) = drdy
        .split_once(':')
        .and_then(|(c, l)| Some((c, l.parse::<u32>().ok()?)))
        .ok_or_else(|| format!("--drdy {drdy}: expected CHIP:LINE, e.g. gpiochip0:17"))?;
    let chip_path = if chip_name.starts_with('/') {
        chip_name.to_owned()
    } else {
        format!("/dev/{chip_name}")
    };
    let gpio = |e: linux_embedded_hal::gpio_cdev::Error| format!("{chip_path} line {line}: {e}");
    let mut chip = Chip::new(&chip_path).map_err(gpio)?;
    let line = chip.get_line(line).map_err(gpio)?;

    let mut spi = SpidevDevice::open(spi_path)
        .map_err(|e| format!("cannot open {}: {e}", spi_path.display()))?;
    spi.configure(
        &SpidevOptions::new()
            .bits_per_word(8)
            .max_speed_hz(args.spi_hz)
            .mode(SpiModeFlags::SPI_MODE_1)
            .build(),
    )
    .map_err(|e| format!("{}: {e}", spi_path.display()))?;
    let config = AdcConfig {
        osr,
        clkin_hz: args.clkin_hz,
        ..AdcConfig::default()
    };
    let rate = config.sample_rate_hz();
    // set up with DRDY polled, then hand the line over to edge events
    let pin = line
        .request(LineRequestFlags::INPUT, 0, "vina-drdy")
        .and_then(CdevPin::new)
        .map_err(gpio)?;
    let mut adc = Ads131m04::new(spi, pin, config);
    adc.init(&mut Delay)
        .map_err(|e| format!("ADS131M04 set-up failed: {e:?}"))?;
    let (spi, pin) = adc.release();
    drop(pin);
    let events = line
        .events(
            LineRequestFlags::INPUT,
            EventRequestFlags::FALLING_EDGE,
            "vina-drdy",
        )
        .map_err(gpio)?;
    eprintln!("ADS131M04 streaming at {rate} Hz");

    // the reader runs until the process ends: its queue and counters live as long
    let queue: &'static mut Queue<{ QUEUE + 1 }> = Box::leak(Box::new(Queue::new()));
    let counters: &'static Counters = Box::leak(Box::new(Counters::new()));
    let (producer, consumer) = queue.split();
    let period_ns = (1e9 / f64::from(rate)) as u32;
    std::thread::spawn(move || {
        read_frames(Producer::new(producer, counters, period_ns), spi, events)
    });
    let mut source = Consumer::new(consumer, counters, rate, |waited| {
        std::thread::sleep(Duration::from_millis(1));
        // a stopped ADC ends the window after 2 s
        waited < 2000
    });
    let window = PipelineConfig::default().window();
    let frames = args
        .reports
        .map_or(usize::MAX, |n| (n as usize).saturating_mul(window));
    let n = replay_source(
        &model,
        &mut source,
        frames,
        PipelineConfig::default(),
        &[],
        None,
        emit,
    )
    .map_err(|f| f.to_string())?;
    if counters.lost() > 0 {
        eprintln!(
            "{} conversions lost ({} overruns)",
            counters.lost(),
            counters.overruns()
        );
    }
    Ok(n)
}

/// The reader thread: each DRDY falling edge (kernel timestamp, ns) → one frame over
/// spidev into the queue.
fn read_frames(
    mut producer: Producer<'static>,
    mut spi: SpidevDevice,
    mut events: LineEventHandle,
) {
    use embedded_hal::spi::SpiDevice;
    while let Ok(event) = events.get_event() {
        // nanoseconds modulo 2^32: gaps up to 4.29 s are measured right
        if producer.on_drdy(event.timestamp() as u32) {
            let mut frame: [u8; FRAME_BYTES] = NULL_FRAME;
            match spi.transfer_in_place(&mut frame) {
                Ok(()) => producer.on_frame(&frame),
                Err(_) => producer.on_transfer_failed(),
            }
        }
    }
}

//! The ADS131M04 on the STM32F4 boards (wiring: firmware/README.md "Real boards"): its
//! CLKIN from TIM3 channel 1 (PB4), SPI1 (PA5 SCK, PA6 MISO, PA7 MOSI, PA4 chip select),
//! DRDY on PB0 (EXTI0, falling edge), SYNC/RESET on PB1 held high.
//!
//! Set up with the blocking driver (`acquisition::ads131`), then streamed
//! (`acquisition::stream`): each DRDY edge starts a DMA transfer of `NULL_FRAME` (memory
//! → SPI1 on DMA2 stream 3); the part's answer lands by DMA (SPI1 → memory on DMA2 stream
//! 0) in one of two frame buffers, and that stream's transfer-complete interrupt re-arms
//! it with the other buffer and hands the full one to the [`Producer`]. The pipeline reads
//! the queue through the returned [`Consumer`], sleeping (`wfi`) while it is empty.
//!
//! Built for both boards in CI; runs only on silicon (QEMU models neither the part nor
//! the STM32's DMA). The queue logic it drives is tested on the host from bus transcripts.
#![allow(unsafe_code)]

use core::cell::RefCell;

use cortex_m::interrupt::{Mutex, free};
use cortex_m::peripheral::NVIC;
use embedded_hal_bus::spi::ExclusiveDevice;
use static_cell::ConstStaticCell;
use stm32f4xx_hal::dma::config::DmaConfig;
use stm32f4xx_hal::dma::{
    DMAError, MemoryToPeripheral, PeripheralToMemory, Stream0, Stream3, StreamsTuple, Transfer,
};
use stm32f4xx_hal::gpio::{
    Alternate, Edge, Input, Output, PA4, PA5, PA6, PA7, PB0, PB1, PB4, PinState,
};
use stm32f4xx_hal::pac::{self, DMA2, SPI1, interrupt};
use stm32f4xx_hal::prelude::*;
use stm32f4xx_hal::rcc::{Enable, Rcc, Reset};
use stm32f4xx_hal::spi::{Rx, Spi, Tx};
use stm32f4xx_hal::timer::SysDelay;

use super::cycles32;
use crate::acquisition::ads131::{AdcConfig, Ads131m04, Osr, SPI_MODE};
use crate::acquisition::stream::{Consumer, Counters, FRAME_BYTES, NULL_FRAME, Producer, Queue};

/// Frames the queue holds (20 B each): 3.3 s at this wiring's 932 Hz, longer than the
/// pipeline's pause at the end of a window — inference 1.5 s at 84 MHz, inference and
/// refinement 2.2 s at 168 MHz (firmware/board-report.txt). Past it, frames are dropped,
/// counted, and the window is rejected.
pub const QUEUE_FRAMES: usize = 3072;
/// TIM3's clock (84 MHz on both boards: APB1 at its 42 MHz maximum, timers ×2) over this
/// gives CLKIN: 7.64 MHz, within the ADS131M04's high-resolution range (≤ 8.2 MHz).
pub const CLKIN_DIVIDER: u32 = 11;
/// Oversampling ratio: 7.64 MHz / (2 · 4096) = 932 Hz, above twice the highest tone.
pub const OSR: Osr = Osr::X4096;
/// SPI1's clock asked for (the part allows 25 MHz): the HAL divides APB2's 84 MHz by 16,
/// 5.25 MHz, so a frame takes 27 µs of the 1.07 ms period.
pub const SPI_HZ: u32 = 5_000_000;
/// Waits of the consumer, each until the next interrupt (DRDY, DMA, or SysTick's wrap at
/// most 0.2 s apart), before a read gives up: a stopped ADC ends the window in seconds.
const MAX_WAITS: u32 = 32;

static QUEUE: ConstStaticCell<Queue<{ QUEUE_FRAMES + 1 }>> = ConstStaticCell::new(Queue::new());
static COUNTERS: Counters = Counters::new();
static NULL: [u8; FRAME_BYTES] = NULL_FRAME;
static RX_BUFFERS: ConstStaticCell<[[u8; FRAME_BYTES]; 2]> =
    ConstStaticCell::new([[0; FRAME_BYTES]; 2]);

type RxTransfer =
    Transfer<Stream0<DMA2>, 3, Rx<SPI1>, PeripheralToMemory, &'static mut [u8; FRAME_BYTES]>;
type TxTransfer =
    Transfer<Stream3<DMA2>, 3, Tx<SPI1>, MemoryToPeripheral, &'static [u8; FRAME_BYTES]>;

/// What the two interrupts share.
struct Streaming {
    producer: Producer<'static>,
    rx: RxTransfer,
    tx: TxTransfer,
    cs: PA4<Output>,
    drdy: PB0<Input>,
    spare: Option<&'static mut [u8; FRAME_BYTES]>,
}

static STREAMING: Mutex<RefCell<Option<Streaming>>> = Mutex::new(RefCell::new(None));

/// The pins the ADC is wired to.
pub struct Pins {
    /// Chip select (PA4).
    pub cs: PA4,
    /// SPI1 clock (PA5).
    pub sck: PA5,
    /// SPI1 MISO, the part's DOUT (PA6).
    pub miso: PA6,
    /// SPI1 MOSI, the part's DIN (PA7).
    pub mosi: PA7,
    /// DRDY (PB0).
    pub drdy: PB0,
    /// SYNC/RESET (PB1).
    pub sync: PB1,
    /// CLKIN (PB4, TIM3 channel 1; JTAG's NJTRST out of reset, unused with SWD).
    pub clkin: PB4<Alternate<0>>,
}

/// The peripherals the ADC uses.
pub struct Peripherals {
    /// The bus.
    pub spi1: pac::SPI1,
    /// CLKIN.
    pub tim3: pac::TIM3,
    /// Frames in and out.
    pub dma2: pac::DMA2,
    /// DRDY's EXTI line routing.
    pub syscfg: pac::SYSCFG,
    /// DRDY's interrupt.
    pub exti: pac::EXTI,
}

/// Why the ADC did not start.
#[derive(Debug)]
pub enum AdcError {
    /// The part did not answer as an ADS131M04 (the driver's error, formatted).
    Init,
    /// [`start`] was called twice.
    AlreadyStarted,
}

/// Cycles the pipeline may pause at the end of a window (inference, refinement) without
/// overrunning the queue: 80 % of the time the queue fills at `rate_hz` on a core at
/// `sysclk_hz` (the rest for the interrupts and cycles per instruction above one).
pub fn pause_cycles(rate_hz: f32, sysclk_hz: u32) -> u64 {
    (0.8 * QUEUE_FRAMES as f32 / rate_hz * sysclk_hz as f32) as u64
}

/// The stream's counters (overruns, conversions lost, device reset).
pub fn counters() -> &'static Counters {
    &COUNTERS
}

/// Clock the part, set it up, and start streaming: returns what the pipeline reads and
/// the data rate in Hz.
pub fn start(
    p: Peripherals,
    pins: Pins,
    delay: &mut SysDelay,
    rcc: &mut Rcc,
) -> Result<(Consumer<'static, impl FnMut(u32) -> bool + use<>>, f32), AdcError> {
    let (Some(queue), Some(buffers)) = (QUEUE.try_take(), RX_BUFFERS.try_take()) else {
        return Err(AdcError::AlreadyStarted);
    };
    // CLKIN first: the part's digital interface runs from it
    let _clkin = pins.clkin.into_alternate::<2>();
    let tim3 = p.tim3;
    pac::TIM3::enable(rcc);
    pac::TIM3::reset(rcc);
    let clkin_hz = rcc.clocks.timclk1().raw() / CLKIN_DIVIDER;
    tim3.arr()
        .write(|w| w.arr().set((CLKIN_DIVIDER - 1) as u16));
    tim3.ccr1()
        .write(|w| w.ccr().set((CLKIN_DIVIDER / 2) as u16));
    tim3.ccmr1_output()
        .modify(|_, w| w.oc1m().pwm_mode1().oc1pe().set_bit());
    tim3.ccer().modify(|_, w| w.cc1e().set_bit());
    tim3.egr().write(|w| w.ug().set_bit());
    tim3.cr1().modify(|_, w| w.arpe().set_bit().cen().set_bit());
    let _sync = pins.sync.into_push_pull_output_in_state(PinState::High);

    let mut cs = pins.cs.into_push_pull_output_in_state(PinState::High);
    let mut drdy = pins.drdy.into_pull_up_input();
    let mut spi = Spi::new(
        p.spi1,
        (Some(pins.sck), Some(pins.miso), Some(pins.mosi)),
        SPI_MODE,
        SPI_HZ.Hz(),
        rcc,
    );
    let config = AdcConfig {
        osr: OSR,
        clkin_hz,
        ..AdcConfig::default()
    };
    let rate = config.sample_rate_hz();
    {
        let Ok(device) = ExclusiveDevice::new_no_delay(&mut spi, &mut cs);
        let mut adc = Ads131m04::new(device, &mut drdy, config);
        if let Err(e) = adc.init(delay) {
            defmt::error!("ADS131M04 set-up failed: {}", defmt::Debug2Format(&e));
            return Err(AdcError::Init);
        }
    }

    let streams = StreamsTuple::new(p.dma2, rcc);
    let (tx, rx) = spi.use_dma().txrx();
    let [first, second] = buffers;
    let mut rx = Transfer::init_peripheral_to_memory(
        streams.0,
        rx,
        first,
        None,
        DmaConfig::default()
            .memory_increment(true)
            .transfer_complete_interrupt(true),
    );
    let tx = Transfer::init_memory_to_peripheral(
        streams.3,
        tx,
        &NULL,
        None,
        DmaConfig::default().memory_increment(true),
    );
    rx.start(|_| {});

    let (producer, consumer) = queue.split();
    let period = (rcc.clocks.sysclk().raw() as f32 / rate) as u32;
    let mut syscfg = p.syscfg.constrain(rcc);
    let mut exti = p.exti;
    drdy.make_interrupt_source(&mut syscfg);
    drdy.trigger_on_edge(&mut exti, Edge::Falling);
    drdy.enable_interrupt(&mut exti);
    free(|c| {
        STREAMING.borrow(c).replace(Some(Streaming {
            producer: Producer::new(producer, &COUNTERS, period),
            rx,
            tx,
            cs,
            drdy,
            spare: Some(second),
        }))
    });
    // SAFETY: the handlers below only touch `STREAMING`, filled just above.
    unsafe {
        NVIC::unmask(pac::Interrupt::DMA2_STREAM0);
        NVIC::unmask(pac::Interrupt::EXTI0);
    }
    let wait = |waited: u32| {
        cortex_m::asm::wfi();
        waited < MAX_WAITS
    };
    Ok((Consumer::new(consumer, &COUNTERS, rate, wait), rate))
}

/// DRDY fell: start the next frame's transfer unless the last one is still running.
#[interrupt]
fn EXTI0() {
    free(|c| {
        let mut streaming = STREAMING.borrow(c).borrow_mut();
        let Some(s) = streaming.as_mut() else {
            return;
        };
        s.drdy.clear_interrupt_pending_bit();
        if s.producer.on_drdy(cycles32()) {
            s.cs.set_low();
            // re-runs the TX stream over the same constant frame: the SPI clocks it out
            // and the armed RX stream takes the part's answer
            let _ = s.tx.next_transfer(&NULL);
        }
    });
}

/// A frame has landed: re-arm the RX stream with the other buffer, decode this one.
#[interrupt]
fn DMA2_STREAM0() {
    free(|c| {
        let mut streaming = STREAMING.borrow(c).borrow_mut();
        let Some(s) = streaming.as_mut() else {
            return;
        };
        s.cs.set_high();
        s.rx.clear_all_flags();
        let Some(spare) = s.spare.take() else {
            return;
        };
        match s.rx.next_transfer(spare) {
            Ok((full, _)) => {
                s.producer.on_frame(full);
                s.spare = Some(full);
            }
            Err(DMAError::NotReady(b) | DMAError::SmallBuffer(b) | DMAError::Overrun(b)) => {
                s.spare = Some(b);
            }
        }
    });
}

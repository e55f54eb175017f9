//! TI ADS131M04 (4-channel, 24-bit, simultaneous-sampling delta-sigma ADC) over an
//! embedded-hal 1.0 [`SpiDevice`] plus the active-low DRDY output on an [`InputPin`].
//!
//! # What the part does (datasheet SBAS890 / SBASA13, ADS131M0x family)
//!
//! - SPI mode 1 (CPOL = 0, CPHA = 1): configure the bus with [`SPI_MODE`]. Chip select
//!   frames a *frame*; this driver always clocks full frames.
//! - A frame is 6 words of 24 bits (the reset word length, `MODE.WLENGTH = 01`; this driver
//!   keeps it): on DOUT the response word, one word per channel (24-bit two's complement,
//!   MSB first), then the output CRC word. On DIN the command word, optional register data
//!   (WREG), the input CRC word, then zeros. 16-bit commands, responses and register values
//!   sit in the upper 16 bits of a 24-bit word with a zero pad byte.
//! - The response to a command appears in the *next* frame. NULL (`0000h`) answers with
//!   STATUS; RESET (`0011h`) with `FF24h` on the ADS131M04; RREG of one register with the
//!   register value; WREG (`011a aaaa annn nnnn`) with `010a aaaa ammm mmmm`.
//! - CRC (`MODE.CRC_TYPE = 0`): CRC-16-CCITT, polynomial `1021h`, seed `FFFFh`, over every
//!   word of the frame before the CRC word, pad bits included; the 16-bit result is the
//!   upper 16 bits of the CRC word. The output CRC is always present. The input CRC is
//!   checked only when `MODE.RX_CRC_EN = 1`; this driver always sends a correct one (so a
//!   part left with input CRC enabled still accepts RESET) and enables the check by default.
//!   With the check on, a command with a bad CRC is not executed (except WREG), the next
//!   response is STATUS and `STATUS.CRC_ERR` is set until STATUS is next output.
//! - Output codes clip at `7FFFFFh` (+FSR − 1 LSB) and `800000h` (−FSR); FSR = 1.2 V / gain
//!   with the internal reference. Data rate = f_CLKIN / (2 · OSR), 4 kSPS at the reset
//!   OSR of 1024 with the nominal 8.192 MHz clock.
//!
//! # Dropped samples: what the part reports, and what this driver infers
//!
//! The ADS131M04 has **no overrun flag and no sample counter**. Each channel buffers up to
//! two conversions (the datasheet's "collecting data for the first time or after a pause":
//! read two frames to empty the buffer); beyond that, conversions are lost without trace.
//! What it does report:
//! - `STATUS.DRDY[3:0]`: whether the frame carries a conversion not read before. A frame
//!   read after DRDY fell without these bits set is reported as [`Error::Stale`].
//! - `STATUS.F_RESYNC`: the part resynchronised (SYNC/RESET pin), restarting its filters —
//!   a discontinuity, reported as `dropped = 1`.
//! - `STATUS.RESET`: the part has reset since [`Ads131m04::init`] cleared the flag (brown-out,
//!   RESET pin): its configuration is gone, reported as [`Error::DeviceReset`].
//!
//! Inferred by the driver (a lower bound, per [`SampleStatus::dropped`]):
//! - DRDY still asserted right after a frame has been read means a second conversion was
//!   already buffered: the caller is at least one sample period behind and may have lost
//!   conversions it cannot count, so the frame is reported with `dropped = 1`. (A caller
//!   that starts `read` almost a full period late can see the *next* conversion here: a
//!   false alarm only when it is already on the edge of losing data.)
//! - A `read` that failed after it began waiting (timeout, SPI or pin error, CRC mismatch,
//!   stale frame) lost the sample as far as the caller is concerned: the next successful
//!   read reports it in `dropped`.
//!
//! After a deliberate pause in reading, call [`Ads131m04::flush`] to empty the buffer.

use crc::{CRC_16_IBM_3740, Crc, NoTable};
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::InputPin;
use embedded_hal::spi::{self, SpiDevice};

use super::{SampleSource, SampleStatus};

/// SPI mode the ADS131M04 needs (CPOL = 0, CPHA = 1).
pub const SPI_MODE: spi::Mode = spi::MODE_1;
/// Channels on the ADS131M04.
pub const CHANNELS: usize = 4;
/// Bytes per word at the word length this driver uses (24 bits).
pub const WORD_BYTES: usize = 3;
/// Words per frame: response, one per channel, CRC.
pub const FRAME_WORDS: usize = CHANNELS + 2;
/// Bytes per frame.
pub const FRAME_BYTES: usize = FRAME_WORDS * WORD_BYTES;
/// Largest code (+FSR − 1 LSB): a clipped positive input.
pub const CODE_MAX: i32 = 0x7F_FFFF;
/// Smallest code (`800000h` sign-extended, −FSR): a clipped negative input.
pub const CODE_MIN: i32 = -0x80_0000;
/// Full-scale magnitude `2^23` (see [`SampleSource::full_scale`]).
pub const FULL_SCALE: i32 = 1 << 23;
/// Internal reference full-scale range at gain 1, volts.
pub const FSR_VOLTS_GAIN1: f32 = 1.2;
/// Nominal CLKIN in high-resolution mode, Hz.
pub const CLKIN_HZ_NOMINAL: u32 = 8_192_000;
/// Wait after the RESET frame before the next one (t_REGACQ is 5 µs; generous margin).
pub const RESET_WAIT_US: u32 = 100;
/// `ID` register value expected in the upper byte (`24xxh`: CHANCNT = 4).
pub const ID_UPPER: u8 = 0x24;
/// Response to RESET on the ADS131M04.
pub const RESET_ACK: u16 = 0xFF24;

/// Register addresses.
pub mod reg {
    /// Device ID, `24xxh`.
    pub const ID: u8 = 0x00;
    /// Status (also the response to NULL).
    pub const STATUS: u8 = 0x01;
    /// Global mode settings.
    pub const MODE: u8 = 0x02;
    /// Channel enables, OSR, power mode.
    pub const CLOCK: u8 = 0x03;
    /// PGA gains of channels 0–3.
    pub const GAIN1: u8 = 0x04;
    /// Global-chop and current-detect configuration.
    pub const CFG: u8 = 0x06;
}

/// Command words (16 bits, sent in the upper 16 bits of the first word).
pub mod cmd {
    /// No operation; the next frame's response word is STATUS.
    pub const NULL: u16 = 0x0000;
    /// Software reset (needs a full frame).
    pub const RESET: u16 = 0x0011;
    /// Enter standby.
    pub const STANDBY: u16 = 0x0022;
    /// Leave standby.
    pub const WAKEUP: u16 = 0x0033;

    /// RREG of `count` registers (1–64) from `addr`: `101a aaaa annn nnnn`, n = count − 1.
    #[must_use]
    pub const fn rreg(addr: u8, count: u8) -> u16 {
        0xA000 | reg_field(addr, count)
    }

    /// WREG of `count` registers (1–64) from `addr`: `011a aaaa annn nnnn`, n = count − 1.
    #[must_use]
    pub const fn wreg(addr: u8, count: u8) -> u16 {
        0x6000 | reg_field(addr, count)
    }

    /// The acknowledgement of [`wreg`]: `010a aaaa ammm mmmm`, m = count − 1.
    #[must_use]
    pub const fn wreg_ack(addr: u8, count: u8) -> u16 {
        0x4000 | reg_field(addr, count)
    }

    const fn reg_field(addr: u8, count: u8) -> u16 {
        (((addr & 0x3F) as u16) << 7) | ((count.saturating_sub(1) & 0x7F) as u16)
    }
}

/// STATUS register bits.
pub mod status {
    /// The SPI interface is locked (LOCK command).
    pub const LOCK: u16 = 1 << 15;
    /// The part resynchronised (SYNC/RESET pin).
    pub const F_RESYNC: u16 = 1 << 14;
    /// The register-map CRC changed (only with `MODE.REGCRC_EN`).
    pub const REG_MAP: u16 = 1 << 13;
    /// The previous frame's input CRC did not match (only with `MODE.RX_CRC_EN`).
    pub const CRC_ERR: u16 = 1 << 12;
    /// CRC type in use: 0 = CCITT, 1 = ANSI.
    pub const CRC_TYPE: u16 = 1 << 11;
    /// A reset occurred and `MODE.RESET` has not been cleared since.
    pub const RESET: u16 = 1 << 10;
    /// Word length field.
    pub const WLENGTH_MASK: u16 = 0b11 << 8;
    /// Word length 24 bits.
    pub const WLENGTH_24: u16 = 0b01 << 8;
    /// New conversion data for channels 3..0.
    pub const DRDY_MASK: u16 = 0x000F;
}

/// MODE register bits.
pub mod mode {
    /// Register-map CRC enable.
    pub const REGCRC_EN: u16 = 1 << 13;
    /// Input CRC check enable.
    pub const RX_CRC_EN: u16 = 1 << 12;
    /// CRC type: 0 = CCITT, 1 = ANSI.
    pub const CRC_TYPE: u16 = 1 << 11;
    /// Reset flag; write 0 to clear it (mirrored in `STATUS.RESET`).
    pub const RESET: u16 = 1 << 10;
    /// Word length 24 bits (`WLENGTH = 01`).
    pub const WLENGTH_24: u16 = 0b01 << 8;
    /// SPI timeout enable (resets a frame left half-clocked).
    pub const TIMEOUT: u16 = 1 << 4;
    /// Reset value.
    pub const RESET_VALUE: u16 = 0x0510;
}

/// CLOCK register bits.
pub mod clock {
    /// All four channel enables (`CH3_EN..CH0_EN`, bits 11:8).
    pub const CH_EN_ALL: u16 = 0x0F00;
    /// OSR field shift (bits 4:2).
    pub const OSR_SHIFT: u16 = 2;
    /// Reset value: all channels on, OSR 1024, high-resolution.
    pub const RESET_VALUE: u16 = 0x0F0E;
}

/// Oversampling ratio (`CLOCK.OSR[2:0]`); data rate = f_CLKIN / (2 · OSR).
/// (Turbo mode, `CLOCK.TBM` with OSR 64, is deliberately not offered.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Osr {
    /// 32 kSPS at 8.192 MHz.
    X128 = 0,
    /// 16 kSPS at 8.192 MHz.
    X256 = 1,
    /// 8 kSPS at 8.192 MHz.
    X512 = 2,
    /// 4 kSPS at 8.192 MHz (reset value).
    X1024 = 3,
    /// 2 kSPS at 8.192 MHz.
    X2048 = 4,
    /// 1 kSPS at 8.192 MHz.
    X4096 = 5,
    /// 500 SPS at 8.192 MHz.
    X8192 = 6,
    /// 250 SPS at 8.192 MHz.
    X16384 = 7,
}

impl Osr {
    /// The oversampling ratio.
    #[must_use]
    pub const fn ratio(self) -> u32 {
        128 << (self as u32)
    }
}

/// Power mode (`CLOCK.PWR[1:0]`). Each mode has its own nominal CLKIN (8.192 MHz in
/// high-resolution mode, lower in the low-power modes): set [`AdcConfig::clkin_hz`] to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerMode {
    /// Very-low-power.
    VeryLowPower = 0b00,
    /// Low-power.
    LowPower = 0b01,
    /// High-resolution (reset value).
    HighResolution = 0b10,
}

/// PGA gain (`PGAGAINn[2:0]`): FSR = ±1.2 V / gain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gain {
    /// ×1 (reset value).
    X1 = 0,
    /// ×2.
    X2 = 1,
    /// ×4.
    X4 = 2,
    /// ×8.
    X8 = 3,
    /// ×16.
    X16 = 4,
    /// ×32.
    X32 = 5,
    /// ×64.
    X64 = 6,
    /// ×128.
    X128 = 7,
}

impl Gain {
    /// The gain factor.
    #[must_use]
    pub const fn factor(self) -> u32 {
        1 << (self as u32)
    }
}

/// Driver configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct AdcConfig {
    /// Oversampling ratio (sets the data rate).
    pub osr: Osr,
    /// Modulator power mode.
    pub power: PowerMode,
    /// PGA gain per channel.
    pub gain: [Gain; CHANNELS],
    /// Clock on the CLKIN pin, Hz (for [`SampleSource::sample_rate_hz`]).
    pub clkin_hz: u32,
    /// Enable the part's input-CRC check (`MODE.RX_CRC_EN`). The driver sends a correct
    /// input CRC either way.
    pub input_crc: bool,
    /// How many times `read` samples DRDY before giving up with [`Error::Timeout`]. A count,
    /// not a time: size it to a few sample periods at the board's pin-read speed.
    pub drdy_poll_limit: u32,
    /// Conversions read and discarded at the end of [`Ads131m04::init`] (after emptying the
    /// buffer), so the first frame `read` returns comes from the settled filter.
    pub settle_samples: u16,
}

impl Default for AdcConfig {
    fn default() -> Self {
        Self {
            osr: Osr::X1024,
            power: PowerMode::HighResolution,
            gain: [Gain::X1; CHANNELS],
            clkin_hz: CLKIN_HZ_NOMINAL,
            input_crc: true,
            drdy_poll_limit: 1_000_000,
            settle_samples: 4,
        }
    }
}

impl AdcConfig {
    /// The MODE register value: 24-bit words, CCITT CRC, SPI timeout on, DRDY asserted by
    /// the most lagging channel, level format, RESET flag cleared, input CRC as configured.
    #[must_use]
    pub fn mode_register(&self) -> u16 {
        let crc = if self.input_crc { mode::RX_CRC_EN } else { 0 };
        mode::WLENGTH_24 | mode::TIMEOUT | crc
    }

    /// The CLOCK register value: all channels enabled, OSR and power mode as configured.
    #[must_use]
    pub fn clock_register(&self) -> u16 {
        clock::CH_EN_ALL | ((self.osr as u16) << clock::OSR_SHIFT) | self.power as u16
    }

    /// The GAIN1 register value (`PGAGAIN3` in bits 14:12 … `PGAGAIN0` in bits 2:0).
    #[must_use]
    pub fn gain_register(&self) -> u16 {
        self.gain
            .iter()
            .zip([0u16, 4, 8, 12])
            .fold(0, |acc, (g, shift)| acc | ((*g as u16) << shift))
    }

    /// Frames per second: f_CLKIN / (2 · OSR).
    #[must_use]
    pub fn sample_rate_hz(&self) -> f32 {
        self.clkin_hz as f32 / (2.0 * self.osr.ratio() as f32)
    }
}

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error<SpiE, PinE> {
    /// The SPI device failed.
    Spi(SpiE),
    /// Reading DRDY failed.
    Pin(PinE),
    /// DRDY did not assert within [`AdcConfig::drdy_poll_limit`] polls.
    Timeout,
    /// Output CRC mismatch: `expected` computed over the received words, `found` received.
    Crc {
        /// CRC computed over the received frame.
        expected: u16,
        /// CRC word the part sent.
        found: u16,
    },
    /// The ID register is not `24xxh`: not an ADS131M04 (or not answering).
    BadId(u16),
    /// A command was not acknowledged as expected (RESET, WREG).
    Response {
        /// The acknowledgement the command should produce.
        expected: u16,
        /// The response word received.
        found: u16,
    },
    /// STATUS after configuration is not as configured (reset flag still set, word length
    /// not 24 bits, interface locked, or an input CRC error during configuration).
    Status(u16),
    /// The part has reset since `init` (STATUS.RESET set): run `init` again.
    DeviceReset {
        /// The STATUS word received.
        status: u16,
    },
    /// DRDY was asserted but STATUS says not every channel has new data.
    Stale {
        /// The STATUS word received.
        status: u16,
    },
    /// `out` does not have one slot per channel.
    BufferLength {
        /// [`CHANNELS`].
        expected: usize,
        /// `out.len()`.
        found: usize,
    },
    /// `read` before a successful `init`.
    NotInitialised,
}

/// The frame CRC, bitwise (`NoTable`): no lookup table in flash for the few bytes of a
/// frame.
const FRAME_CRC: Crc<u16, NoTable> = Crc::<u16, NoTable>::new(&CRC_16_IBM_3740);

/// CRC-16-CCITT of `data` as the part computes it: polynomial `1021h`, seed `FFFFh`, no
/// reflection, no final XOR ("CCITT-FALSE", catalogued as CRC-16/IBM-3740; check value
/// `29B1h`).
#[must_use]
pub const fn crc16_ccitt(data: &[u8]) -> u16 {
    FRAME_CRC.checksum(data)
}

/// A 24-bit two's-complement word (MSB first) sign-extended to `i32`.
#[must_use]
pub fn decode_code(word: [u8; WORD_BYTES]) -> i32 {
    let [b2, b1, b0] = word;
    i32::from_be_bytes([b2, b1, b0, 0]) >> 8
}

/// A 16-bit value in the upper bits of a 24-bit word.
fn word16(value: u16) -> [u8; WORD_BYTES] {
    let [hi, lo] = value.to_be_bytes();
    [hi, lo, 0]
}

/// The upper 16 bits of a 24-bit word.
fn upper16(word: [u8; WORD_BYTES]) -> u16 {
    let [hi, lo, _] = word;
    u16::from_be_bytes([hi, lo])
}

type Frame = [[u8; WORD_BYTES]; FRAME_WORDS];

/// ADS131M04 driver: create with [`new`](Ads131m04::new), configure with
/// [`init`](Ads131m04::init), then stream with [`SampleSource::read`].
#[derive(Debug)]
pub struct Ads131m04<SPI, DRDY> {
    spi: SPI,
    drdy: DRDY,
    config: AdcConfig,
    initialised: bool,
    /// Failed reads since the last successful one (reported as `dropped`).
    missed: u32,
    input_crc_errors: u32,
}

impl<SPI, DRDY> Ads131m04<SPI, DRDY>
where
    SPI: SpiDevice,
    DRDY: InputPin,
{
    /// Takes the bus device (mode [`SPI_MODE`]) and the DRDY input; touches neither.
    pub fn new(spi: SPI, drdy: DRDY, config: AdcConfig) -> Self {
        Self {
            spi,
            drdy,
            config,
            initialised: false,
            missed: 0,
            input_crc_errors: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AdcConfig {
        &self.config
    }

    /// Frames whose STATUS reported an input CRC error (a corrupted NULL command: the data
    /// in those frames were still good, the output CRC having matched).
    pub fn input_crc_errors(&self) -> u32 {
        self.input_crc_errors
    }

    /// Full-scale input of `channel` in volts (1.2 V / gain, internal reference); `None`
    /// for a channel the part does not have.
    pub fn full_scale_volts(&self, channel: usize) -> Option<f32> {
        self.config
            .gain
            .get(channel)
            .map(|g| FSR_VOLTS_GAIN1 / g.factor() as f32)
    }

    /// Gives the bus device and the pin back.
    pub fn release(self) -> (SPI, DRDY) {
        (self.spi, self.drdy)
    }

    /// Resets and configures the part, then empties its buffer and lets the filter settle:
    ///
    /// 1. RESET, wait [`RESET_WAIT_US`], expect `FF24h` in the next frame;
    /// 2. read ID, expect `24xxh`;
    /// 3. write MODE, CLOCK and GAIN1 (each acknowledged);
    /// 4. read STATUS: reset flag cleared, 24-bit words, unlocked, no input CRC error;
    /// 5. [`flush`](Self::flush), then discard [`AdcConfig::settle_samples`] conversions.
    ///
    /// Returns the ID register. Assumes the part uses 24-bit words (its reset state, kept
    /// by this driver); a part left in another word length needs a RESET-pin pulse first.
    pub fn init<D: DelayNs>(
        &mut self,
        delay: &mut D,
    ) -> Result<u16, Error<SPI::Error, DRDY::Error>> {
        self.initialised = false;
        // The part's state is unknown: what it clocks out during RESET is not checked.
        self.frame(cmd::RESET, None, false)?;
        delay.delay_us(RESET_WAIT_US);
        let ack = self.response()?;
        if ack != RESET_ACK {
            return Err(Error::Response {
                expected: RESET_ACK,
                found: ack,
            });
        }

        let id = self.read_register(reg::ID)?;
        let [id_upper, _] = id.to_be_bytes();
        if id_upper != ID_UPPER {
            return Err(Error::BadId(id));
        }

        self.write_register(reg::MODE, self.config.mode_register())?;
        self.write_register(reg::CLOCK, self.config.clock_register())?;
        self.write_register(reg::GAIN1, self.config.gain_register())?;

        // The NULL that fetched the last acknowledgement is answered with STATUS.
        let status = self.response()?;
        let bad = status::RESET | status::LOCK | status::CRC_ERR;
        if status & bad != 0 || status & status::WLENGTH_MASK != status::WLENGTH_24 {
            return Err(Error::Status(status));
        }

        self.flush()?;
        for _ in 0..self.config.settle_samples {
            self.wait_drdy()?;
            self.frame(cmd::NULL, None, true)?;
        }
        self.missed = 0;
        self.initialised = true;
        Ok(id)
    }

    /// Empties the part's two-conversion buffer: waits for DRDY, then reads two frames and
    /// discards them. Call after a pause in reading; afterwards each DRDY assertion is one
    /// new conversion. The next `read` reports the gap (`dropped >= 1`).
    pub fn flush(&mut self) -> Result<(), Error<SPI::Error, DRDY::Error>> {
        self.wait_drdy()?;
        self.frame(cmd::NULL, None, true)?;
        self.frame(cmd::NULL, None, true)?;
        self.missed = self.missed.max(1);
        Ok(())
    }

    /// Reads one register (two frames: RREG, then NULL to fetch the answer). Each frame
    /// takes the place of a conversion: not for use while streaming.
    pub fn read_register(&mut self, addr: u8) -> Result<u16, Error<SPI::Error, DRDY::Error>> {
        self.frame(cmd::rreg(addr, 1), None, true)?;
        self.response()
    }

    /// Writes one register (two frames: WREG with the value, then NULL to fetch the
    /// acknowledgement, which is checked). Not for use while streaming.
    pub fn write_register(
        &mut self,
        addr: u8,
        value: u16,
    ) -> Result<(), Error<SPI::Error, DRDY::Error>> {
        self.frame(cmd::wreg(addr, 1), Some(value), true)?;
        let ack = self.response()?;
        let expected = cmd::wreg_ack(addr, 1);
        if ack != expected {
            return Err(Error::Response {
                expected,
                found: ack,
            });
        }
        Ok(())
    }

    /// Sends a NULL frame and returns its response word (the answer to the previous frame's
    /// command).
    fn response(&mut self) -> Result<u16, Error<SPI::Error, DRDY::Error>> {
        let [response, ..] = self.frame(cmd::NULL, None, true)?;
        Ok(upper16(response))
    }

    /// Polls DRDY (active low) up to the configured limit.
    fn wait_drdy(&mut self) -> Result<(), Error<SPI::Error, DRDY::Error>> {
        for _ in 0..self.config.drdy_poll_limit {
            if self.drdy.is_low().map_err(Error::Pin)? {
                return Ok(());
            }
        }
        Err(Error::Timeout)
    }

    /// Clocks one full frame: `command`, then `data` if any, then the input CRC over the
    /// words before it, then zeros. Returns the received words, the output CRC verified
    /// when `check_crc`.
    fn frame(
        &mut self,
        command: u16,
        data: Option<u16>,
        check_crc: bool,
    ) -> Result<Frame, Error<SPI::Error, DRDY::Error>> {
        let mut words: Frame = [[0; WORD_BYTES]; FRAME_WORDS];
        let mut filled = 0;
        for (slot, value) in words.iter_mut().zip([Some(command), data].iter().flatten()) {
            *slot = word16(*value);
            filled += 1;
        }
        let input_crc = crc16_ccitt(words.get(..filled).unwrap_or_default().as_flattened());
        if let Some(slot) = words.get_mut(filled) {
            *slot = word16(input_crc);
        }

        self.spi
            .transfer_in_place(words.as_flattened_mut())
            .map_err(Error::Spi)?;

        if check_crc {
            let [body @ .., crc_word] = &words;
            let expected = crc16_ccitt(body.as_flattened());
            let found = upper16(*crc_word);
            if expected != found {
                return Err(Error::Crc { expected, found });
            }
        }
        Ok(words)
    }

    /// One streaming frame: wait for DRDY, clock a NULL frame, check it, decode it.
    fn read_frame(
        &mut self,
        out: &mut [i32],
    ) -> Result<SampleStatus, Error<SPI::Error, DRDY::Error>> {
        self.wait_drdy()?;
        let mut bytes = [0u8; FRAME_BYTES];
        bytes.copy_from_slice(self.frame(cmd::NULL, None, true)?.as_flattened());
        let data = decode_data_frame(&bytes).map_err(|f| match f {
            DataFault::DeviceReset { status } => {
                self.initialised = false;
                Error::DeviceReset { status }
            }
            DataFault::Stale { status } => Error::Stale { status },
            DataFault::Crc { expected, found } => Error::Crc { expected, found },
        })?;
        if data.input_crc_error {
            self.input_crc_errors = self.input_crc_errors.saturating_add(1);
        }
        for (slot, code) in out.iter_mut().zip(data.codes) {
            *slot = code;
        }
        // DRDY still low once this conversion is out: another one was already buffered.
        let behind = self.drdy.is_low().map_err(Error::Pin)?;
        let inferred = u32::from(data.resync || behind);
        Ok(SampleStatus {
            clipped: data.clipped,
            dropped: self.missed.max(inferred),
        })
    }
}

/// One conversion, decoded from a data frame (the answer to NULL after DRDY fell).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataFrame {
    /// The channels' codes.
    pub codes: [i32; CHANNELS],
    /// A channel sits at a full-scale code.
    pub clipped: bool,
    /// `STATUS.F_RESYNC`: the part restarted its filters (a discontinuity).
    pub resync: bool,
    /// `STATUS.CRC_ERR`: the part saw a bad input CRC on the previous frame.
    pub input_crc_error: bool,
}

/// Why a data frame carries no usable conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFault {
    /// The output CRC does not match.
    Crc {
        /// CRC computed over the frame.
        expected: u16,
        /// CRC word the part sent.
        found: u16,
    },
    /// `STATUS.RESET`: the part reset, its configuration is gone.
    DeviceReset {
        /// The STATUS word.
        status: u16,
    },
    /// Not every channel's `STATUS.DRDY` bit set: no new conversion.
    Stale {
        /// The STATUS word.
        status: u16,
    },
}

/// The bytes to clock out for a data frame: NULL, its input CRC, zeros. One constant, so
/// a DMA transfer can send it as it is.
pub const NULL_FRAME: [u8; FRAME_BYTES] = {
    let crc = crc16_ccitt(&[0, 0, 0]).to_be_bytes();
    let mut f = [0u8; FRAME_BYTES];
    f[WORD_BYTES] = crc[0];
    f[WORD_BYTES + 1] = crc[1];
    f
};

/// Decode a data frame as clocked in after DRDY fell (with [`NULL_FRAME`] sent): check the
/// output CRC and STATUS, sign-extend the codes, flag clipping. The one decoder of the
/// blocking [`Ads131m04::read`] and the interrupt-driven `acquisition::stream`.
pub fn decode_data_frame(frame: &[u8; FRAME_BYTES]) -> Result<DataFrame, DataFault> {
    let word = |i: usize| [frame[3 * i], frame[3 * i + 1], frame[3 * i + 2]];
    let expected = crc16_ccitt(&frame[..FRAME_BYTES - WORD_BYTES]);
    let found = upper16(word(FRAME_WORDS - 1));
    if expected != found {
        return Err(DataFault::Crc { expected, found });
    }
    let status = upper16(word(0));
    if status & status::RESET != 0 {
        return Err(DataFault::DeviceReset { status });
    }
    if status & status::DRDY_MASK != status::DRDY_MASK {
        return Err(DataFault::Stale { status });
    }
    let mut codes = [0i32; CHANNELS];
    let mut clipped = false;
    for (c, slot) in codes.iter_mut().enumerate() {
        let code = decode_code(word(1 + c));
        clipped |= code == CODE_MAX || code == CODE_MIN;
        *slot = code;
    }
    Ok(DataFrame {
        codes,
        clipped,
        resync: status & status::F_RESYNC != 0,
        input_crc_error: status & status::CRC_ERR != 0,
    })
}

impl<SPI, DRDY> SampleSource for Ads131m04<SPI, DRDY>
where
    SPI: SpiDevice,
    DRDY: InputPin,
{
    type Error = Error<SPI::Error, DRDY::Error>;

    fn channels(&self) -> usize {
        CHANNELS
    }

    fn sample_rate_hz(&self) -> f32 {
        self.config.sample_rate_hz()
    }

    fn full_scale(&self) -> i32 {
        FULL_SCALE
    }

    fn read(&mut self, out: &mut [i32]) -> Result<SampleStatus, Self::Error> {
        if !self.initialised {
            return Err(Error::NotInitialised);
        }
        if out.len() != CHANNELS {
            return Err(Error::BufferLength {
                expected: CHANNELS,
                found: out.len(),
            });
        }
        match self.read_frame(out) {
            Ok(status) => {
                self.missed = 0;
                Ok(status)
            }
            Err(e) => {
                self.missed = self.missed.saturating_add(1);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal_mock::eh1::MockError;
    use embedded_hal_mock::eh1::delay::{CheckedDelay, NoopDelay, Transaction as DelayTx};
    use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction as PinTx};
    use embedded_hal_mock::eh1::spi::{Mock as SpiMock, Transaction as SpiTx};
    use std::vec;
    use std::vec::Vec;

    type Dev = Ads131m04<SpiMock<u8>, PinMock>;

    /// Reference CRC written independently of the driver's: a bit-serial shift register fed
    /// one message bit at a time (TI's "XOR bitwise computation").
    fn crc_ref(data: &[u8]) -> u16 {
        let mut reg: u32 = 0xFFFF;
        for &byte in data {
            for bit in (0..8).rev() {
                let feedback = ((reg >> 15) & 1) ^ u32::from((byte >> bit) & 1);
                reg = (reg << 1) & 0xFFFF;
                if feedback == 1 {
                    reg ^= 0x1021;
                }
            }
        }
        reg as u16
    }

    fn w16(v: u16) -> [u8; 3] {
        [(v >> 8) as u8, v as u8, 0]
    }

    fn w24(code: i32) -> [u8; 3] {
        let v = (code as u32) & 0x00FF_FFFF;
        [(v >> 16) as u8, (v >> 8) as u8, v as u8]
    }

    /// What the driver must send: command, optional data, input CRC, zeros.
    fn tx(command: u16, data: Option<u16>) -> Vec<u8> {
        let mut out = w16(command).to_vec();
        if let Some(d) = data {
            out.extend(w16(d));
        }
        let crc = crc_ref(&out);
        out.extend(w16(crc));
        out.resize(FRAME_BYTES, 0);
        out
    }

    /// What the part answers: response word, four channel words, a correct output CRC.
    fn rx(response: u16, codes: [i32; 4]) -> Vec<u8> {
        let mut out = w16(response).to_vec();
        for c in codes {
            out.extend(w24(c));
        }
        let crc = crc_ref(&out);
        out.extend(w16(crc));
        out
    }

    const OK_STATUS: u16 = 0x010F; // 24-bit words, DRDY3..0 set, reset flag cleared

    fn test_config() -> AdcConfig {
        AdcConfig {
            osr: Osr::X512,
            power: PowerMode::HighResolution,
            gain: [Gain::X1, Gain::X2, Gain::X8, Gain::X128],
            clkin_hz: CLKIN_HZ_NOMINAL,
            input_crc: true,
            drdy_poll_limit: 3,
            settle_samples: 1,
        }
    }

    #[derive(Default)]
    struct Script {
        spi: Vec<SpiTx<u8>>,
        pin: Vec<PinTx>,
    }

    impl Script {
        fn frame(&mut self, tx: Vec<u8>, rx: Vec<u8>) {
            self.spi.push(SpiTx::transaction_start());
            self.spi.push(SpiTx::transfer_in_place(tx, rx));
            self.spi.push(SpiTx::transaction_end());
        }

        fn drdy(&mut self, states: &[State]) {
            self.pin.extend(states.iter().map(|s| PinTx::get(*s)));
        }

        /// The whole of a successful `init` with `test_config()`, answering ID `id`.
        fn init(id: u16) -> Self {
            let cfg = test_config();
            let mut s = Script::default();
            s.frame(tx(cmd::RESET, None), vec![0xAA; FRAME_BYTES]); // unchecked
            s.frame(tx(cmd::NULL, None), rx(RESET_ACK, [0; 4]));
            s.frame(tx(cmd::rreg(reg::ID, 1), None), rx(0x0500, [0; 4]));
            s.frame(tx(cmd::NULL, None), rx(id, [0; 4]));
            s.frame(
                tx(cmd::wreg(reg::MODE, 1), Some(cfg.mode_register())),
                rx(0x0500, [0; 4]),
            );
            s.frame(tx(cmd::NULL, None), rx(cmd::wreg_ack(reg::MODE, 1), [0; 4]));
            s.frame(
                tx(cmd::wreg(reg::CLOCK, 1), Some(cfg.clock_register())),
                rx(0x0100, [0; 4]),
            );
            s.frame(
                tx(cmd::NULL, None),
                rx(cmd::wreg_ack(reg::CLOCK, 1), [0; 4]),
            );
            s.frame(
                tx(cmd::wreg(reg::GAIN1, 1), Some(cfg.gain_register())),
                rx(0x0100, [0; 4]),
            );
            s.frame(
                tx(cmd::NULL, None),
                rx(cmd::wreg_ack(reg::GAIN1, 1), [0; 4]),
            );
            s.frame(tx(cmd::NULL, None), rx(0x0100, [0; 4]));
            // flush: DRDY polled until low, then two frames back to back
            s.drdy(&[State::High, State::Low]);
            s.frame(tx(cmd::NULL, None), rx(OK_STATUS, [5, 5, 5, 5]));
            s.frame(tx(cmd::NULL, None), rx(0x0100, [5, 5, 5, 5]));
            // one settling conversion
            s.drdy(&[State::Low]);
            s.frame(tx(cmd::NULL, None), rx(OK_STATUS, [6, 6, 6, 6]));
            s
        }

        /// One streaming `read`: DRDY low, a NULL frame answered with `status` and `codes`,
        /// then DRDY sampled once more (`after`).
        fn read(&mut self, status: u16, codes: [i32; 4], after: State) {
            self.drdy(&[State::Low]);
            self.frame(tx(cmd::NULL, None), rx(status, codes));
            self.drdy(&[after]);
        }

        fn mocks(&self) -> (SpiMock<u8>, PinMock) {
            (SpiMock::new(&self.spi), PinMock::new(&self.pin))
        }

        /// A driver that has gone through `init` (the script must start with `init`).
        fn ready(&self) -> Dev {
            let (spi, pin) = self.mocks();
            let mut dev = Ads131m04::new(spi, pin, test_config());
            assert_eq!(dev.init(&mut NoopDelay::new()), Ok(0x2400));
            dev
        }
    }

    fn finish(dev: Dev) {
        let (mut spi, mut pin) = dev.release();
        spi.done();
        pin.done();
    }

    #[test]
    fn crc_matches_check_value_and_reference() {
        assert_eq!(crc16_ccitt(b"123456789"), 0x29B1);
        assert_eq!(crc_ref(b"123456789"), 0x29B1);
        assert_eq!(crc16_ccitt(&[]), 0xFFFF);
        let data: Vec<u8> = (0u8..=255).map(|i| i.wrapping_mul(37) ^ 0x5A).collect();
        for len in 0..data.len() {
            assert_eq!(
                crc16_ccitt(&data[..len]),
                crc_ref(&data[..len]),
                "len {len}"
            );
        }
    }

    #[test]
    fn codes_are_sign_extended() {
        assert_eq!(decode_code([0x00, 0x00, 0x00]), 0);
        assert_eq!(decode_code([0x00, 0x00, 0x01]), 1);
        assert_eq!(decode_code([0xFF, 0xFF, 0xFF]), -1);
        assert_eq!(decode_code([0x7F, 0xFF, 0xFF]), 8_388_607);
        assert_eq!(decode_code([0x80, 0x00, 0x00]), -8_388_608);
        assert_eq!(decode_code([0x12, 0xD6, 0x87]), 1_234_567);
        assert_eq!(decode_code([0xED, 0x29, 0x79]), -1_234_567);
        assert_eq!(CODE_MAX, 8_388_607);
        assert_eq!(CODE_MIN, -8_388_608);
    }

    #[test]
    fn command_and_register_encoding() {
        assert_eq!(cmd::rreg(reg::ID, 1), 0xA000);
        assert_eq!(cmd::rreg(reg::STATUS, 2), 0xA081);
        assert_eq!(cmd::wreg(reg::MODE, 1), 0x6100);
        assert_eq!(cmd::wreg(reg::CFG, 1), 0x6300);
        assert_eq!(cmd::wreg_ack(reg::CLOCK, 1), 0x4180);

        let d = AdcConfig::default();
        assert_eq!(d.clock_register(), clock::RESET_VALUE);
        assert_eq!(d.gain_register(), 0x0000);
        assert_eq!(
            d.mode_register(),
            (mode::RESET_VALUE & !mode::RESET) | mode::RX_CRC_EN
        );
        let no_crc = AdcConfig {
            input_crc: false,
            ..AdcConfig::default()
        };
        assert_eq!(no_crc.mode_register(), 0x0110);

        let t = test_config();
        assert_eq!(t.clock_register(), 0x0F0A);
        assert_eq!(t.gain_register(), 0x7310);
        assert_eq!(t.mode_register(), 0x1110);
    }

    #[test]
    fn sample_rate_follows_osr_and_clock() {
        assert_eq!(AdcConfig::default().sample_rate_hz(), 4000.0);
        let rate = |osr| {
            AdcConfig {
                osr,
                ..AdcConfig::default()
            }
            .sample_rate_hz()
        };
        assert_eq!(rate(Osr::X128), 32_000.0);
        assert_eq!(rate(Osr::X16384), 250.0);
        let lp = AdcConfig {
            clkin_hz: 4_096_000,
            power: PowerMode::LowPower,
            ..AdcConfig::default()
        };
        assert_eq!(lp.sample_rate_hz(), 2000.0);
    }

    #[test]
    fn init_sends_the_expected_bytes() {
        // Independently computed frames (CRC-16/CCITT-FALSE over the preceding words).
        #[rustfmt::skip]
        let literal: [(&[u8], Vec<u8>); 5] = [
            (&[0x00, 0x11, 0x00, 0xFC, 0xDE, 0x00], tx(cmd::RESET, None)),
            (&[0x00, 0x00, 0x00, 0xCC, 0x9C, 0x00], tx(cmd::NULL, None)),
            (&[0xA0, 0x00, 0x00, 0x71, 0x00, 0x00], tx(cmd::rreg(reg::ID, 1), None)),
            (&[0x61, 0x00, 0x00, 0x11, 0x10, 0x00, 0x63, 0x88, 0x00], tx(0x6100, Some(0x1110))),
            (&[0x62, 0x00, 0x00, 0x73, 0x10, 0x00, 0x58, 0x63, 0x00], tx(0x6200, Some(0x7310))),
        ];
        for (bytes, frame) in &literal {
            assert_eq!(&frame[..bytes.len()], *bytes);
            assert!(frame[bytes.len()..].iter().all(|&b| b == 0));
            assert_eq!(frame.len(), 18);
        }

        let script = Script::init(0x2400);
        let (spi, pin) = script.mocks();
        let mut delay = CheckedDelay::new(&[DelayTx::delay_us(RESET_WAIT_US)]);
        let mut dev = Ads131m04::new(spi, pin, test_config());
        assert_eq!(dev.init(&mut delay), Ok(0x2400));
        delay.done();
        finish(dev);
    }

    #[test]
    fn init_rejects_another_part() {
        let mut script = Script::init(0x2800); // an ADS131M08
        script.spi.truncate(4 * 3);
        script.pin.clear();
        let (spi, pin) = script.mocks();
        let mut dev = Ads131m04::new(spi, pin, test_config());
        assert_eq!(dev.init(&mut NoopDelay::new()), Err(Error::BadId(0x2800)));
        finish(dev);
    }

    #[test]
    fn init_rejects_a_missing_reset_ack() {
        let mut s = Script::default();
        s.frame(tx(cmd::RESET, None), vec![0; FRAME_BYTES]);
        s.frame(tx(cmd::NULL, None), rx(0x0500, [0; 4]));
        let (spi, pin) = s.mocks();
        let mut dev = Ads131m04::new(spi, pin, test_config());
        assert_eq!(
            dev.init(&mut NoopDelay::new()),
            Err(Error::Response {
                expected: 0xFF24,
                found: 0x0500
            })
        );
        finish(dev);
    }

    #[test]
    fn init_rejects_a_status_with_the_reset_flag_still_set() {
        let mut script = Script::init(0x2400);
        script.spi.truncate(10 * 3);
        script.pin.clear();
        script.frame(tx(cmd::NULL, None), rx(0x0500, [0; 4]));
        let (spi, pin) = script.mocks();
        let mut dev = Ads131m04::new(spi, pin, test_config());
        assert_eq!(dev.init(&mut NoopDelay::new()), Err(Error::Status(0x0500)));
        finish(dev);
    }

    #[test]
    fn read_decodes_a_frame_and_flags_clipping() {
        let mut s = Script::init(0x2400);
        s.read(
            OK_STATUS,
            [1_234_567, -1, -8_388_608, 8_388_607],
            State::High,
        );
        s.read(OK_STATUS, [100, -100, 0, 4_000_000], State::High);
        let mut dev = s.ready();
        let mut out = [0i32; 4];

        let st = dev.read(&mut out).unwrap();
        assert_eq!(out, [1_234_567, -1, -8_388_608, 8_388_607]);
        assert_eq!(
            st,
            SampleStatus {
                clipped: true,
                dropped: 0
            }
        );

        let st = dev.read(&mut out).unwrap();
        assert_eq!(out, [100, -100, 0, 4_000_000]);
        assert!(st.is_clean());
        finish(dev);
    }

    #[test]
    fn each_full_scale_code_alone_is_clipping() {
        let mut s = Script::init(0x2400);
        s.read(OK_STATUS, [0, 0, 0, CODE_MAX], State::High);
        s.read(OK_STATUS, [CODE_MIN, 0, 0, 0], State::High);
        s.read(OK_STATUS, [CODE_MAX - 1, CODE_MIN + 1, 0, 0], State::High);
        let mut dev = s.ready();
        let mut out = [0i32; 4];
        assert!(dev.read(&mut out).unwrap().clipped);
        assert!(dev.read(&mut out).unwrap().clipped);
        assert!(!dev.read(&mut out).unwrap().clipped);
        finish(dev);
    }

    #[test]
    fn crc_mismatch_is_an_error_and_the_next_read_reports_the_gap() {
        let mut s = Script::init(0x2400);
        let good = rx(OK_STATUS, [1, 2, 3, 4]);
        let mut bad = good.clone();
        bad[4] ^= 0x01; // one bit flipped in channel 0
        let expected = crc_ref(&bad[..15]);
        let found = u16::from_be_bytes([bad[15], bad[16]]);
        assert_ne!(expected, found);
        s.drdy(&[State::Low]);
        s.frame(tx(cmd::NULL, None), bad);
        s.read(OK_STATUS, [5, 6, 7, 8], State::High);
        let mut dev = s.ready();
        let mut out = [0i32; 4];

        assert_eq!(dev.read(&mut out), Err(Error::Crc { expected, found }));
        let st = dev.read(&mut out).unwrap();
        assert_eq!(out, [5, 6, 7, 8]);
        assert_eq!(st.dropped, 1);
        assert!(!st.clipped);
        finish(dev);
    }

    #[test]
    fn drdy_timeout_is_an_error_after_the_poll_limit() {
        let mut s = Script::init(0x2400);
        s.drdy(&[State::High; 3]); // drdy_poll_limit = 3, no SPI traffic
        s.read(OK_STATUS, [9, 9, 9, 9], State::High);
        let mut dev = s.ready();
        let mut out = [0i32; 4];
        assert_eq!(dev.read(&mut out), Err(Error::Timeout));
        assert_eq!(dev.read(&mut out).unwrap().dropped, 1);
        finish(dev);
    }

    #[test]
    fn a_frame_without_new_data_is_stale() {
        let mut s = Script::init(0x2400);
        s.drdy(&[State::Low]);
        s.frame(tx(cmd::NULL, None), rx(0x0107, [1, 1, 1, 1])); // DRDY3 missing
        let mut dev = s.ready();
        let mut out = [0i32; 4];
        assert_eq!(dev.read(&mut out), Err(Error::Stale { status: 0x0107 }));
        finish(dev);
    }

    #[test]
    fn a_reset_part_needs_init_again() {
        let mut s = Script::init(0x2400);
        s.drdy(&[State::Low]);
        s.frame(tx(cmd::NULL, None), rx(0x050F, [1, 1, 1, 1]));
        let mut dev = s.ready();
        let mut out = [0i32; 4];
        assert_eq!(
            dev.read(&mut out),
            Err(Error::DeviceReset { status: 0x050F })
        );
        assert_eq!(dev.read(&mut out), Err(Error::NotInitialised));
        finish(dev);
    }

    #[test]
    fn falling_behind_or_resync_is_reported_as_a_drop() {
        let mut s = Script::init(0x2400);
        s.read(OK_STATUS, [1, 1, 1, 1], State::Low); // a second conversion already waiting
        s.read(OK_STATUS, [2, 2, 2, 2], State::High);
        s.read(OK_STATUS | status::F_RESYNC, [3, 3, 3, 3], State::High);
        let mut dev = s.ready();
        let mut out = [0i32; 4];
        assert_eq!(dev.read(&mut out).unwrap().dropped, 1);
        assert_eq!(dev.read(&mut out).unwrap().dropped, 0);
        assert_eq!(dev.read(&mut out).unwrap().dropped, 1);
        assert_eq!(out, [3, 3, 3, 3]);
        finish(dev);
    }

    #[test]
    fn flush_reads_two_frames_and_marks_a_gap() {
        let mut s = Script::init(0x2400);
        s.drdy(&[State::Low]);
        s.frame(tx(cmd::NULL, None), rx(OK_STATUS, [0; 4]));
        s.frame(tx(cmd::NULL, None), rx(0x0100, [0; 4]));
        s.read(OK_STATUS, [4, 4, 4, 4], State::High);
        let mut dev = s.ready();
        dev.flush().unwrap();
        let mut out = [0i32; 4];
        assert_eq!(dev.read(&mut out).unwrap().dropped, 1);
        finish(dev);
    }

    #[test]
    fn input_crc_errors_are_counted_not_fatal() {
        let mut s = Script::init(0x2400);
        s.read(OK_STATUS | status::CRC_ERR, [7, 7, 7, 7], State::High);
        let mut dev = s.ready();
        let mut out = [0i32; 4];
        assert!(dev.read(&mut out).unwrap().is_clean());
        assert_eq!(dev.input_crc_errors(), 1);
        finish(dev);
    }

    #[test]
    fn wrong_buffer_length_and_missing_init_touch_nothing() {
        let s = Script::default();
        let (spi, pin) = s.mocks();
        let mut dev = Ads131m04::new(spi, pin, test_config());
        assert_eq!(dev.read(&mut [0; 4]), Err(Error::NotInitialised));
        finish(dev);

        let s = Script::init(0x2400);
        let mut dev = s.ready();
        assert_eq!(
            dev.read(&mut [0; 3]),
            Err(Error::BufferLength {
                expected: 4,
                found: 3
            })
        );
        assert_eq!(
            dev.read(&mut [0; 5]),
            Err(Error::BufferLength {
                expected: 4,
                found: 5
            })
        );
        finish(dev);
    }

    #[test]
    fn pin_errors_propagate() {
        let mut s = Script::init(0x2400);
        let err = MockError::Io(std::io::ErrorKind::Other);
        s.pin.push(PinTx::get(State::Low).with_error(err.clone()));
        let mut dev = s.ready();
        assert_eq!(dev.read(&mut [0; 4]), Err(Error::Pin(err)));
        finish(dev);
    }

    /// Generic code sees the driver (and `&mut` to it) through the trait.
    fn one_frame<S: SampleSource>(mut src: S) -> (usize, f32, i32, SampleStatus, [i32; 4]) {
        let mut out = [0; 4];
        let st = src.read(&mut out).unwrap();
        (
            src.channels(),
            src.sample_rate_hz(),
            src.full_scale(),
            st,
            out,
        )
    }

    #[test]
    fn usable_through_the_trait() {
        let mut s = Script::init(0x2400);
        s.read(OK_STATUS, [-5, 5, -6, 6], State::High);
        let mut dev = s.ready();
        let (channels, rate, fs, st, out) = one_frame(&mut dev);
        assert_eq!(channels, 4);
        assert_eq!(rate, 8000.0);
        assert_eq!(fs, 1 << 23);
        assert!(st.is_clean());
        assert_eq!(out, [-5, 5, -6, 6]);
        assert_eq!(dev.full_scale_volts(0), Some(1.2));
        assert_eq!(dev.full_scale_volts(3), Some(1.2 / 128.0));
        assert_eq!(dev.full_scale_volts(4), None);
        finish(dev);
    }
}

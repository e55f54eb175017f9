//! Continuous acquisition from the ADS131M04 (docs/architecture.md, "Firmware"): the ADC's
//! frames are read in interrupt context and queued; the pipeline drains the queue through
//! [`SampleSource`] while it computes, so a window's inference (a second or more) does not
//! stop the next window from filling.
//!
//! The interrupt side is [`Producer`]: on each DRDY edge [`Producer::on_drdy`] says whether
//! to start a transfer (the board clocks [`NULL_FRAME`] out by DMA into one of two frame
//! buffers, alternating: the one double buffer the DMA needs, so the frame just read is
//! decoded while the next lands), and [`Producer::on_frame`] decodes a completed frame and
//! queues its codes. The pipeline side is [`Consumer`]. They share a lock-free
//! single-producer single-consumer queue (`heapless::spsc`) and a few atomic counters, so
//! neither side ever waits on the other.
//!
//! Nothing is lost silently: every conversion that does not reach the queue — a DRDY
//! edge that came while a transfer was still running, edges the interrupt never saw (a
//! gap of more than 1.5 sample periods between DRDY timestamps), a frame with a bad CRC
//! or without new data, a failed transfer, a full queue (an overrun: the pipeline fell
//! behind) — is counted,
//! and the next queued frame carries the count in [`SampleStatus::dropped`], which the
//! pipeline turns into [`Rejection::DroppedFrames`](vina_core::report::Rejection).
//! Overruns are also counted on their own ([`Counters::overruns`]).

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use heapless::spsc;

use super::ads131::{CHANNELS, CODE_MAX, CODE_MIN, DataFault, FULL_SCALE, decode_data_frame};
pub use super::ads131::{FRAME_BYTES, NULL_FRAME};
use super::{SampleSource, SampleStatus};

/// One queued conversion: 20 bytes (clipping is read off the codes again on the way out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Queued {
    /// The channels' codes.
    pub codes: [i32; CHANNELS],
    /// Conversions lost just before this one.
    pub dropped: u32,
}

/// The queue between the interrupt and the pipeline: holds `N - 1` frames
/// (`heapless::spsc`). Size it for the longest stretch the pipeline does not read: the
/// inference and refinement at the end of each window (`firmware/board-report.txt`).
pub type Queue<const N: usize> = spsc::Queue<Queued, N>;

/// Counters both sides see.
#[derive(Debug, Default)]
pub struct Counters {
    overruns: AtomicU32,
    lost: AtomicU32,
    device_reset: AtomicBool,
}

impl Counters {
    /// All zero.
    pub const fn new() -> Self {
        Self {
            overruns: AtomicU32::new(0),
            lost: AtomicU32::new(0),
            device_reset: AtomicBool::new(false),
        }
    }

    /// Frames dropped because the queue was full (the pipeline fell behind).
    pub fn overruns(&self) -> u32 {
        self.overruns.load(Ordering::Relaxed)
    }

    /// Conversions that never reached the queue, for any reason (overruns included).
    pub fn lost(&self) -> u32 {
        self.lost.load(Ordering::Relaxed)
    }

    /// The part reported a reset (`STATUS.RESET`): its configuration is gone, and the
    /// consumer refuses to read until the board reinitialises it.
    pub fn device_reset(&self) -> bool {
        self.device_reset.load(Ordering::Relaxed)
    }

    fn lose(&self, n: u32) {
        self.lost.fetch_add(n, Ordering::Relaxed);
    }
}

/// The interrupt side: DRDY edges and completed frames in, queued conversions out.
pub struct Producer<'q> {
    queue: spsc::Producer<'q, Queued>,
    counters: &'q Counters,
    /// Sample period in timestamp ticks.
    period: u32,
    last_drdy: Option<u32>,
    in_flight: bool,
    /// Conversions lost since the last queued frame.
    pending_loss: u32,
    /// Conversions lost while the transfer in flight ran: after its frame in time.
    lost_in_flight: u32,
}

impl<'q> Producer<'q> {
    /// A producer into `queue`, with DRDY timestamps in ticks of a free-running 32-bit
    /// counter that advances `period_ticks` per sample (e.g. core cycles: SYSCLK / rate).
    pub fn new(
        queue: spsc::Producer<'q, Queued>,
        counters: &'q Counters,
        period_ticks: u32,
    ) -> Self {
        Self {
            queue,
            counters,
            period: period_ticks.max(1),
            last_drdy: None,
            in_flight: false,
            pending_loss: 0,
            lost_in_flight: 0,
        }
    }

    /// DRDY fell at `ticks`. Returns whether to start a transfer of [`NULL_FRAME`] now
    /// (and later hand the frame to [`Producer::on_frame`]); `false` when the previous
    /// transfer is still running, which loses this conversion. Edges missed since the last
    /// one (a gap of more than 1.5 periods) are counted as lost.
    pub fn on_drdy(&mut self, ticks: u32) -> bool {
        if let Some(last) = self.last_drdy {
            let gap = ticks.wrapping_sub(last);
            // round(gap / period) − 1 conversions came and went unseen
            let periods = (gap.saturating_add(self.period / 2)) / self.period;
            if gap > self.period + self.period / 2 {
                self.lose(periods.saturating_sub(1));
            }
        }
        self.last_drdy = Some(ticks);
        if self.in_flight {
            self.lost_in_flight = self.lost_in_flight.saturating_add(1);
            self.counters.lose(1);
            return false;
        }
        self.in_flight = true;
        true
    }

    /// The transfer [`Producer::on_drdy`] started has completed with `frame`: decode it and
    /// queue its conversion (or count it as lost).
    pub fn on_frame(&mut self, frame: &[u8; FRAME_BYTES]) {
        self.in_flight = false;
        self.queue_frame(frame);
        let later = core::mem::take(&mut self.lost_in_flight);
        self.pending_loss = self.pending_loss.saturating_add(later);
    }

    /// The transfer [`Producer::on_drdy`] started failed (a bus or DMA error): its
    /// conversion is lost.
    pub fn on_transfer_failed(&mut self) {
        self.in_flight = false;
        self.lose(1);
        let later = core::mem::take(&mut self.lost_in_flight);
        self.pending_loss = self.pending_loss.saturating_add(later);
    }

    fn queue_frame(&mut self, frame: &[u8; FRAME_BYTES]) {
        let data = match decode_data_frame(frame) {
            Ok(d) => d,
            Err(DataFault::DeviceReset { .. }) => {
                self.counters.device_reset.store(true, Ordering::Relaxed);
                self.lose(1);
                return;
            }
            Err(DataFault::Crc { .. } | DataFault::Stale { .. }) => {
                self.lose(1);
                return;
            }
        };
        let item = Queued {
            codes: data.codes,
            dropped: self.pending_loss.max(u32::from(data.resync)),
        };
        if self.queue.enqueue(item).is_ok() {
            self.pending_loss = 0;
        } else {
            self.counters.overruns.fetch_add(1, Ordering::Relaxed);
            self.lose(1);
        }
    }

    fn lose(&mut self, n: u32) {
        if n > 0 {
            self.pending_loss = self.pending_loss.saturating_add(n);
            self.counters.lose(n);
        }
    }
}

/// Why the consumer delivered no frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// No frame came while `wait` allowed (the ADC stopped: clock, wiring, DRDY).
    Timeout,
    /// The part reset; reinitialise it before reading again.
    DeviceReset,
    /// `out` does not have one slot per channel.
    BufferLength,
}

/// The pipeline side: a [`SampleSource`] over the queue. `wait(n)` is called while the
/// queue is empty, `n` = the waits so far for this frame, and returns `false` to give up
/// (on the board: `wfi` until the next interrupt, a bounded number of times; in tests: run
/// the producer).
pub struct Consumer<'q, W> {
    queue: spsc::Consumer<'q, Queued>,
    counters: &'q Counters,
    sample_rate_hz: f32,
    wait: W,
}

impl<'q, W: FnMut(u32) -> bool> Consumer<'q, W> {
    /// A consumer of `queue` at `sample_rate_hz` (the ADC's data rate).
    pub fn new(
        queue: spsc::Consumer<'q, Queued>,
        counters: &'q Counters,
        sample_rate_hz: f32,
        wait: W,
    ) -> Self {
        Self {
            queue,
            counters,
            sample_rate_hz,
            wait,
        }
    }

    /// Frames waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// No frame waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<W: FnMut(u32) -> bool> SampleSource for Consumer<'_, W> {
    type Error = StreamError;

    fn channels(&self) -> usize {
        CHANNELS
    }

    fn sample_rate_hz(&self) -> f32 {
        self.sample_rate_hz
    }

    fn full_scale(&self) -> i32 {
        FULL_SCALE
    }

    fn read(&mut self, out: &mut [i32]) -> Result<SampleStatus, StreamError> {
        if out.len() != CHANNELS {
            return Err(StreamError::BufferLength);
        }
        let mut waited = 0u32;
        loop {
            if self.counters.device_reset() {
                return Err(StreamError::DeviceReset);
            }
            if let Some(q) = self.queue.dequeue() {
                out.copy_from_slice(&q.codes);
                let clipped = q.codes.iter().any(|&c| c == CODE_MAX || c == CODE_MIN);
                return Ok(SampleStatus {
                    clipped,
                    dropped: q.dropped,
                });
            }
            if !(self.wait)(waited) {
                return Err(StreamError::Timeout);
            }
            waited = waited.saturating_add(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ads131::{crc16_ccitt, status};
    use super::*;
    use std::cell::RefCell;
    use std::vec::Vec;

    /// A data frame as the part sends it: STATUS, four codes, the output CRC.
    fn frame(status_word: u16, codes: [i32; 4]) -> [u8; FRAME_BYTES] {
        let mut f = [0u8; FRAME_BYTES];
        f[..2].copy_from_slice(&status_word.to_be_bytes());
        for (c, code) in codes.iter().enumerate() {
            let v = (*code as u32) & 0x00FF_FFFF;
            f[3 + 3 * c..6 + 3 * c].copy_from_slice(&v.to_be_bytes()[1..]);
        }
        let crc = crc16_ccitt(&f[..15]).to_be_bytes();
        f[15..17].copy_from_slice(&crc);
        f
    }

    const OK: u16 = status::WLENGTH_24 | status::DRDY_MASK;
    const PERIOD: u32 = 84_000; // cycles per sample: 84 MHz at 1 kHz

    /// What happens on the bus, in order.
    enum Event {
        /// DRDY fell at this timestamp; the transfer (if started) completes with the frame.
        Sample(u32, [u8; FRAME_BYTES]),
        /// Sample `i`'s transfer is slow: sample `i + 1`'s DRDY falls before it completes.
        Slow(u32),
        /// The pipeline reads `n` frames.
        Read(usize),
    }

    /// Play a transcript through producer and consumer; the statuses and codes read.
    fn play(events: &[Event]) -> (Vec<(SampleStatus, i32)>, u32, u32) {
        let mut queue: Queue<5> = Queue::new();
        let counters = Counters::new();
        let (p, c) = queue.split();
        let mut producer = Producer::new(p, &counters, PERIOD);
        let mut consumer = Consumer::new(c, &counters, 1000.0, |_| false);
        let mut read = Vec::new();
        for e in events {
            match e {
                Event::Sample(t, f) => {
                    if producer.on_drdy(*t) {
                        producer.on_frame(f);
                    }
                }
                Event::Slow(i) => {
                    assert!(producer.on_drdy(i * PERIOD));
                    assert!(!producer.on_drdy((i + 1) * PERIOD));
                    producer.on_frame(&frame(OK, [*i as i32, 0, 0, 0]));
                }
                Event::Read(n) => {
                    for _ in 0..*n {
                        let mut out = [0i32; 4];
                        match consumer.read(&mut out) {
                            Ok(s) => read.push((s, out[0])),
                            Err(e) => panic!("read failed: {e:?}"),
                        }
                    }
                }
            }
        }
        (read, counters.lost(), counters.overruns())
    }

    fn sample(i: u32) -> Event {
        Event::Sample(i * PERIOD, frame(OK, [i as i32, 0, 0, 0]))
    }

    #[test]
    fn null_frame_is_what_the_blocking_driver_sends() {
        let crc = crc16_ccitt(&[0, 0, 0]).to_be_bytes();
        assert_eq!(&NULL_FRAME[..6], &[0, 0, 0, crc[0], crc[1], 0]);
        assert!(NULL_FRAME[6..].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_continuous_stream_arrives_in_order_and_clean() {
        let events: Vec<Event> = (0..4).map(sample).chain([Event::Read(4)]).collect();
        let (read, lost, overruns) = play(&events);
        let firsts: Vec<i32> = read.iter().map(|r| r.1).collect();
        assert_eq!(firsts, [0, 1, 2, 3]);
        assert!(read.iter().all(|r| r.0.is_clean()));
        assert_eq!((lost, overruns), (0, 0));
    }

    #[test]
    fn missed_drdy_edges_are_counted_from_the_timestamps() {
        // samples 0, 1, then the edges of 2 and 3 never reach the interrupt; 4 does
        let events = [sample(0), sample(1), sample(4), sample(5), Event::Read(4)];
        let (read, lost, _) = play(&events);
        let got: Vec<(u32, i32)> = read.iter().map(|r| (r.0.dropped, r.1)).collect();
        assert_eq!(got, [(0, 0), (0, 1), (2, 4), (0, 5)]);
        assert_eq!(lost, 2);
        // jitter of up to half a period is no gap
        let late = Event::Sample(2 * PERIOD + PERIOD / 2 - 1, frame(OK, [2, 0, 0, 0]));
        let (read, lost, _) = play(&[sample(0), sample(1), late, Event::Read(3)]);
        assert!(read.iter().all(|r| r.0.dropped == 0) && lost == 0);
    }

    #[test]
    fn an_edge_during_a_transfer_loses_that_conversion() {
        let events = [sample(0), Event::Slow(1), sample(3), Event::Read(3)];
        let (read, lost, _) = play(&events);
        let got: Vec<(u32, i32)> = read.iter().map(|r| (r.0.dropped, r.1)).collect();
        // sample 1, whose transfer was running, lands; sample 2, whose edge came during it,
        // is lost and sample 3 says so
        assert_eq!(got, [(0, 0), (0, 1), (1, 3)]);
        assert_eq!(lost, 1);
    }

    #[test]
    fn an_overrun_is_counted_and_marks_the_next_frame() {
        // capacity 4: the fifth and sixth frames find the queue full
        let mut events: Vec<Event> = (0..6).map(sample).collect();
        events.push(Event::Read(4));
        events.extend([sample(6), Event::Read(1)]);
        let (read, lost, overruns) = play(&events);
        let got: Vec<(u32, i32)> = read.iter().map(|r| (r.0.dropped, r.1)).collect();
        assert_eq!(got, [(0, 0), (0, 1), (0, 2), (0, 3), (2, 6)]);
        assert_eq!((lost, overruns), (2, 2));
    }

    #[test]
    fn bad_frames_are_lost_not_queued() {
        let mut bad_crc = frame(OK, [7, 0, 0, 0]);
        bad_crc[16] ^= 1;
        let stale = frame(status::WLENGTH_24 | 0b0111, [8, 0, 0, 0]);
        let clipped = frame(OK, [CODE_MAX, 0, 0, 0]);
        let events = [
            sample(0),
            Event::Sample(PERIOD, bad_crc),
            Event::Sample(2 * PERIOD, stale),
            Event::Sample(3 * PERIOD, clipped),
            Event::Read(2),
        ];
        let (read, lost, _) = play(&events);
        assert_eq!(
            read[1].0,
            SampleStatus {
                clipped: true,
                dropped: 2
            }
        );
        assert_eq!(read[1].1, CODE_MAX);
        assert_eq!(lost, 2);
    }

    #[test]
    fn a_failed_transfer_is_a_loss_and_frees_the_next_edge() {
        let mut queue: Queue<5> = Queue::new();
        let counters = Counters::new();
        let (p, c) = queue.split();
        let mut producer = Producer::new(p, &counters, PERIOD);
        let mut consumer = Consumer::new(c, &counters, 1000.0, |_| false);
        assert!(producer.on_drdy(0));
        producer.on_transfer_failed();
        assert!(producer.on_drdy(PERIOD));
        producer.on_frame(&frame(OK, [5, 0, 0, 0]));
        let mut out = [0i32; 4];
        assert_eq!(consumer.read(&mut out).unwrap().dropped, 1);
        assert_eq!((out[0], counters.lost()), (5, 1));
    }

    #[test]
    fn a_device_reset_stops_the_consumer() {
        let mut queue: Queue<5> = Queue::new();
        let counters = Counters::new();
        let (p, c) = queue.split();
        let mut producer = Producer::new(p, &counters, PERIOD);
        let waits = RefCell::new(0);
        let mut consumer = Consumer::new(c, &counters, 1000.0, |n| {
            *waits.borrow_mut() += 1;
            n < 2
        });
        let mut out = [0i32; 4];
        // an empty queue waits as long as `wait` allows, then times out
        assert_eq!(consumer.read(&mut out), Err(StreamError::Timeout));
        assert_eq!(*waits.borrow(), 3);
        assert_eq!(consumer.read(&mut out[..3]), Err(StreamError::BufferLength));
        assert!(producer.on_drdy(0));
        producer.on_frame(&frame(OK | status::RESET, [0; 4]));
        assert_eq!(consumer.read(&mut out), Err(StreamError::DeviceReset));
        assert!(counters.device_reset());
    }

    #[test]
    fn the_pipeline_reads_through_the_trait_while_the_producer_runs() {
        // `wait` stands for the interrupt: each call lets the ADC deliver one frame
        let mut queue: Queue<5> = Queue::new();
        let counters = Counters::new();
        let (p, c) = queue.split();
        let producer = RefCell::new((Producer::new(p, &counters, PERIOD), 0u32));
        let mut consumer = Consumer::new(c, &counters, 1000.0, |_| {
            let (p, n) = &mut *producer.borrow_mut();
            if *n < 10 && p.on_drdy(*n * PERIOD) {
                p.on_frame(&frame(OK, [*n as i32, -(*n as i32), 0, 1]));
            }
            *n += 1;
            *n <= 10
        });
        let mut out = [0i32; 4];
        for i in 0..10 {
            let s = consumer.read(&mut out).unwrap();
            assert!(s.is_clean());
            assert_eq!(out, [i, -i, 0, 1]);
        }
        assert_eq!(consumer.read(&mut out), Err(StreamError::Timeout));
    }
}

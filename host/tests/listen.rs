//! `vina listen` decodes a stream of report frames and skips corrupted ones.

use vina_core::report::{Report, Status};
use vina_core::summary::Summary;
use vina_host::listen::decode_stream;

fn report(seq: u32) -> Report {
    let mut s = Summary::new();
    for i in 0..100 {
        s.push(1560.0 + 0.01 * i as f32);
    }
    let mut parameters = heapless::Vec::new();
    parameters.push(s.values()).unwrap();
    Report {
        sequence: seq,
        scenario_hash: 0xfeed,
        samples: 100,
        seed: 42,
        clipped_samples: 0,
        non_finite_values: 0,
        dropped_frames: 0,
        blanked_samples: 0,
        status: Status::Posterior,
        parameters,
        refined: None,
    }
}

#[test]
fn decodes_good_frames_and_skips_corrupted_ones() {
    let mut stream = Vec::new();
    for seq in 0..5 {
        let mut buf = [0u8; vina_core::report::MAX_FRAME];
        let n = report(seq).encode(&mut buf).unwrap();
        let mut frame = buf[..n].to_vec();
        if seq == 2 {
            frame[3] ^= 0x40; // corrupted on the link
        }
        stream.extend(frame);
    }
    stream.extend([7, 7, 7]); // a partial frame at the end
    let mut got = Vec::new();
    let refused = decode_stream(&stream[..], |r| got.push(r)).unwrap();
    assert_eq!(
        got.iter().map(|r| r.sequence).collect::<Vec<_>>(),
        [0, 1, 3, 4]
    );
    assert_eq!(refused, 2);
    assert_eq!(got[0], report(0));
}

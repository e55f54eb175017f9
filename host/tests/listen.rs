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

fn frame(r: &Report) -> Vec<u8> {
    let mut buf = [0u8; vina_core::report::MAX_FRAME];
    let n = r.encode(&mut buf).unwrap();
    buf[..n].to_vec()
}

fn hex_line(bytes: &[u8]) -> Vec<u8> {
    let mut line = b"frame ".to_vec();
    for b in bytes {
        line.extend(format!("{b:02x}").bytes());
    }
    line.push(b'\n');
    line
}

/// A report whose raw frame carries the byte 0x0a (a line feed inside binary data).
fn report_with_line_feed() -> Report {
    (100..10_000)
        .map(report)
        .find(|r| frame(r).contains(&b'\n'))
        .unwrap()
}

/// What QEMU, probe-rs or a board's console print: log lines, `frame <hex>` lines (the
/// frame's bytes in hex) and raw frames, mixed; one corrupted hex frame is refused.
#[test]
fn text_lines_raw_frames_and_logs_mixed() {
    let lf = report_with_line_feed();
    let mut stream = b"buoy: boot, model ok\n".to_vec();
    stream.extend(hex_line(&frame(&report(1))));
    stream.extend(b"report 1 p0: mean 1560.5\r\n");
    stream.extend(frame(&report(2)));
    stream.extend(b"log line before a raw frame\n");
    stream.extend(frame(&lf));
    let mut bad = frame(&report(3));
    bad[5] ^= 0x01;
    stream.extend(hex_line(&bad));
    stream.extend(hex_line(&frame(&report(4))));
    stream.extend(b"stack high-water 40368 B\n");
    let mut got = Vec::new();
    let refused = decode_stream(&stream[..], |r| got.push(r.sequence)).unwrap();
    assert_eq!(got, [1, 2, lf.sequence, 4]);
    assert_eq!(refused, 1);
}

/// A board's `fault: …` line (its only word without a debugger) reaches the user as a
/// warning on stderr, around the frames that still decode; other log text stays quiet.
#[test]
fn the_buoys_fault_lines_are_shown() {
    let splitter_sees = |stream: &[u8]| {
        let mut s = vina_host::listen::FrameSplitter::default();
        let mut n = 0;
        s.push(stream, &mut |f| n += usize::from(f.is_ok()));
        (s.take_faults(), n)
    };
    let mut stream = frame(&report(1));
    stream.extend(b"stack high-water 40368 B\n");
    stream.extend(b"fault: model and source do not fit together: the model expects 5 receivers (channels), the source has 4\r\n");
    let (faults, n) = splitter_sees(&stream);
    assert_eq!(n, 1);
    assert_eq!(
        faults,
        [
            "fault: model and source do not fit together: the model expects 5 receivers (channels), the source has 4"
        ]
    );
    let out = vina(&["listen", "--file", "-"], &stream);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: the buoy says fault: model and source"),
        "{err}"
    );
    assert!(!err.contains("stack high-water"), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

fn vina(args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vina"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn repo(rel: &str) -> String {
    format!("{}/../{rel}", env!("CARGO_MANIFEST_DIR"))
}

/// `--model` names the parameters and flags reports of another scenario; `--file -`
/// reads standard input.
#[test]
fn the_model_names_parameters_and_checks_the_scenario() {
    let model = repo("models/gi-pekeris-cinn.vina");
    let bytes = std::fs::read(&model).unwrap();
    let hash = vina_core::model::Model::from_bytes(&bytes)
        .unwrap()
        .header()
        .scenario_hash;
    let mut ours = report(1);
    ours.scenario_hash = hash;
    let mut stream = frame(&ours);
    stream.extend(hex_line(&frame(&report(2)))); // scenario 0xfeed
    let out = vina(&["listen", "--file", "-", "--model", &model], &stream);
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["parameters"][0]["name"], "water_depth_m");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("report 2: scenario hash 000000000000feed")
            && !err.contains("report 1: scenario"),
        "{err}"
    );
}

/// The serial path, on a pseudo-terminal: the port is opened and set up at the baud
/// rate by the crate, frames written to the other end arrive as reports, and
/// `--reports N` ends the session.
#[cfg(unix)]
#[test]
fn reports_arrive_over_a_serial_port() {
    use serialport::SerialPort;
    use std::io::Write;
    let (mut master, slave) = serialport::TTYPort::pair().unwrap();
    let device = slave.name().unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_vina"))
        .args([
            "listen",
            "--serial",
            &device,
            "--baud",
            "115200",
            "--reports",
            "2",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // written until it has its two reports (whenever it opened the port: opening may
    // flush what was waiting), for at most 20 s
    let mut child = child;
    let start = std::time::Instant::now();
    let mut seq = 7;
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() > 20 {
            child.kill().unwrap();
            panic!("vina listen --serial did not end after two reports");
        }
        let bytes = if seq % 2 == 0 {
            hex_line(&frame(&report(seq)))
        } else {
            frame(&report(seq))
        };
        master.write_all(&bytes).unwrap();
        master.flush().unwrap();
        seq += 1;
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seqs: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["sequence"]
                .as_u64()
                .unwrap()
        })
        .collect();
    // two consecutive reports, one raw and one as a hex line
    assert_eq!(seqs.len(), 2, "{seqs:?}");
    assert_eq!(seqs[1], seqs[0] + 1);
    drop(slave);
}

/// docs/report-frame.md: a two-parameter report without refinement is at most 110 bytes,
/// whatever its values (the largest varints).
#[test]
fn a_two_parameter_frame_is_at_most_110_bytes() {
    let mut r = report(u32::MAX);
    r.seed = u64::MAX;
    r.scenario_hash = u64::MAX;
    let p = r.parameters[0];
    r.parameters.push(p).unwrap();
    for s in &mut r.parameters {
        s.count = u32::MAX;
        s.non_finite = u32::MAX;
        s.outside_support = u32::MAX;
    }
    let n = frame(&r).len();
    assert!(n <= 110, "{n} bytes");
}

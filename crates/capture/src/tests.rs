use super::*;
use std::io::Write;

fn pcap_header(nanos: bool, link: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&(if nanos { 0xa1b23c4du32 } else { 0xa1b2c3d4u32 }).to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&[0u8; 8]);
    h.extend_from_slice(&65535u32.to_le_bytes());
    h.extend_from_slice(&link.to_le_bytes());
    h
}

fn record(sec: u32, frac: u32, data: &[u8]) -> Vec<u8> {
    let mut r = Vec::new();
    r.extend_from_slice(&sec.to_le_bytes());
    r.extend_from_slice(&frac.to_le_bytes());
    r.extend_from_slice(&(data.len() as u32).to_le_bytes());
    r.extend_from_slice(&(data.len() as u32 + 10).to_le_bytes());
    r.extend_from_slice(data);
    r
}

fn three_packets() -> Vec<u8> {
    let mut f = pcap_header(false, 1);
    for i in 0..3u8 {
        f.extend(record(1_000 + i as u32, 250_000, &[i; 60]));
    }
    f
}

fn read_all(bytes: Vec<u8>) -> (Vec<(i64, u32, usize)>, ReadSummary, Option<ReadError>) {
    let reader = FileReader::from_reader(Path::new("test.pcap"), io::Cursor::new(bytes)).unwrap();
    let mut seen = Vec::new();
    let (summary, err) = reader.for_each_packet(|p| seen.push((p.ts_ns, p.wire_len, p.data.len())));
    (seen, summary, err)
}

#[test]
fn reads_classic_pcap_with_times_and_lengths() {
    let (seen, summary, err) = read_all(three_packets());
    assert!(err.is_none(), "{err:?}");
    assert_eq!(summary.packets, 3);
    assert_eq!(seen[0], (1_000_250_000_000, 70, 60));
    assert_eq!(seen[2].0, 1_002_250_000_000);
}

#[test]
fn an_absurd_original_length_is_not_believed() {
    let mut f = pcap_header(false, 1);
    let mut r = record(1, 0, &[0u8; 60]);
    r[12..16].copy_from_slice(&0xf000_0000u32.to_le_bytes());
    f.extend(r);
    let (seen, _, err) = read_all(f);
    assert!(err.is_none());
    assert_eq!(seen[0].1, 60);
}

#[test]
fn nanosecond_pcap_keeps_nanoseconds() {
    let mut f = pcap_header(true, 101);
    f.extend(record(5, 123_456_789, &[0x45; 20]));
    let (seen, _, err) = read_all(f);
    assert!(err.is_none());
    assert_eq!(seen[0].0, 5_123_456_789);
}

#[test]
fn gzip_and_zstd_are_recognised_by_content() {
    let plain = three_packets();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    let (seen, _, err) = read_all(gz.finish().unwrap());
    assert!(err.is_none());
    assert_eq!(seen.len(), 3);

    let zst = zstd::encode_all(io::Cursor::new(plain), 1).unwrap();
    let (seen, _, err) = read_all(zst);
    assert!(err.is_none());
    assert_eq!(seen.len(), 3);
}

#[test]
fn a_truncated_file_keeps_what_came_before_and_names_the_offset() {
    let mut f = three_packets();
    f.truncate(f.len() - 10);
    let (seen, _, err) = read_all(f);
    assert_eq!(seen.len(), 2);
    match err {
        Some(ReadError::Truncated { offset, .. }) => assert_eq!(offset, 24 + 2 * 76),
        other => panic!("expected truncation, got {other:?}"),
    }
}

#[test]
fn an_absurd_capture_length_is_refused_without_allocating_it() {
    let mut f = three_packets();
    let mut bad = record(1, 0, &[]);
    bad[8..12].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    f.extend(bad);
    f.extend(vec![0u8; 100]);
    let (seen, _, err) = read_all(f);
    assert_eq!(seen.len(), 3);
    let err = err.expect("an error");
    assert!(
        matches!(err, ReadError::RecordTooLarge { offset: 252, .. } | ReadError::Truncated { offset: 252, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("test.pcap"));
}

#[test]
fn not_a_capture_is_a_clear_error() {
    let (seen, _, err) = read_all(b"hello, this is text".to_vec());
    assert!(seen.is_empty());
    let msg = err.unwrap().to_string();
    assert!(msg.contains("not a pcap or pcapng file"), "{msg}");
    assert!(msg.contains("68 65 6c 6c"), "{msg}");
    let (_, _, err) = read_all(Vec::new());
    assert!(err.is_some());
}

fn ng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let len = 12 + body.len().div_ceil(4) * 4;
    let mut b = Vec::new();
    b.extend_from_slice(&kind.to_le_bytes());
    b.extend_from_slice(&(len as u32).to_le_bytes());
    b.extend_from_slice(body);
    b.resize(len - 4, 0);
    b.extend_from_slice(&(len as u32).to_le_bytes());
    b
}

/// A pcapng file of one interface whose `if_tsresol` is `resol`, one packet at `ts` units.
fn pcapng_one_packet(resol: u8, ts: u64) -> Vec<u8> {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b3c4du32.to_le_bytes());
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&0u32.to_le_bytes());
    idb.extend_from_slice(&[9, 0, 1, 0, resol, 0, 0, 0]);
    idb.extend_from_slice(&[0, 0, 0, 0]);
    let mut epb = Vec::new();
    epb.extend_from_slice(&0u32.to_le_bytes());
    epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
    epb.extend_from_slice(&(ts as u32).to_le_bytes());
    epb.extend_from_slice(&14u32.to_le_bytes());
    epb.extend_from_slice(&14u32.to_le_bytes());
    epb.extend_from_slice(&[0xab; 14]);
    let mut f = ng_block(0x0a0d0d0a, &shb);
    f.extend(ng_block(1, &idb));
    f.extend(ng_block(6, &epb));
    f
}

#[test]
fn pcapng_binary_timestamp_resolutions_are_powers_of_two() {
    // if_tsresol 0x80|20: 2^-20 s per unit. 2023-06-01T00:00:00Z plus half a second.
    let secs: u64 = 1_685_577_600;
    let (seen, _, err) = read_all(pcapng_one_packet(0x80 | 20, (secs << 20) + (1 << 19)));
    assert!(err.is_none(), "{err:?}");
    assert_eq!(seen[0].0, secs as i64 * 1_000_000_000 + 500_000_000);
    assert_eq!(year_of(seen[0].0), 2023);
    assert_eq!(ticks_per_second(0x80 | 63), Some(1 << 63));
    assert_eq!(ticks_per_second(0x80 | 64), None);
    assert_eq!(ticks_per_second(6), Some(1_000_000));
    assert_eq!(ticks_per_second(20), None);
}

/// The year of a time in ns (days from the epoch, civil calendar), without a date crate.
fn year_of(ns: i64) -> i64 {
    let days = ns.div_euclid(86_400_000_000_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

#[test]
fn pcapng_with_nanosecond_interface() {
    // if_tsresol = 9 (ns)
    let f = pcapng_one_packet(9, 7_000_000_123);
    let (seen, _, err) = read_all(f);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(seen, vec![(7_000_000_123, 14, 14)]);
}

#[test]
fn every_prefix_of_a_file_reads_without_panic() {
    let f = three_packets();
    for n in 0..f.len() {
        let (seen, _, _) = read_all(f[..n].to_vec());
        assert!(seen.len() <= 3);
    }
}

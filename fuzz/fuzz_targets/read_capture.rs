//! Any bytes as a (possibly compressed) capture file: reading and decoding every
//! packet never panics and never reads past what the file holds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tyto_capture::FileReader;

fuzz_target!(|data: &[u8]| {
    let reader = match FileReader::from_reader(std::path::Path::new("fuzz.pcap"), std::io::Cursor::new(data.to_vec())) {
        Ok(r) => r,
        Err(_) => return,
    };
    let _ = reader.for_each_packet(|p| {
        assert!(p.data.len() <= tyto_capture::MAX_RECORD_LEN);
        let _ = tyto_packet::decode(p.link, p.data);
    });
});

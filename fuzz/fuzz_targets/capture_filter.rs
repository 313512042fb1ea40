//! Arbitrary text through the capture-filter compiler, and what compiles run on
//! arbitrary frames: no panic; an error names a column inside the text; a program
//! fits the kernel's limits (at most 4096 instructions, only forward jumps inside
//! it, ending in a return); it never keeps more than the snap length.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tyto_capture::filter::compile;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let Ok(text) = std::str::from_utf8(&data[..split]) else { return };
    let frame = data.get(split + 1..).unwrap_or(&[]);
    match compile(text, 96) {
        Ok(p) => {
            assert!(!p.insns.is_empty() && p.insns.len() <= 4096);
            assert_eq!(p.insns.last().map(|i| i.code), Some(0x06), "ends in a return");
            for (i, ins) in p.insns.iter().enumerate() {
                // Only jumps (class BPF_JMP) go anywhere: `ja` by k, the others by jt/jf.
                if ins.code & 0x07 != 0x05 {
                    continue;
                }
                let longest = if ins.code == 0x05 { ins.k as usize } else { ins.jt.max(ins.jf) as usize };
                assert!(i + 1 + longest < p.insns.len(), "jump out of the program at {i}");
            }
            assert!(p.run(frame, frame.len() as u32) <= 96);
        }
        Err(e) => assert!(e.at >= 1 && e.at <= text.chars().count() + 1, "{e} in {text:?}"),
    }
});

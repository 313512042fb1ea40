//! SCTP's DATA chunks among the chunks that follow an SCTP packet's common header
//! (RFC 9260 §3.3.1: sixteen bytes of chunk header, then the user data).

/// A DATA chunk's flags: its user message's first and last fragment (both: a whole
/// message).
pub const BEGINNING: u8 = 0x02;
pub const ENDING: u8 = 0x01;

/// One DATA chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataChunk<'a> {
    pub flags: u8,
    /// The payload protocol identifier its sender gave.
    pub ppid: u32,
    pub data: &'a [u8],
    /// The capture ends inside it: `data` is what it holds.
    pub cut: bool,
}

impl DataChunk<'_> {
    /// A whole user message, not a fragment of one.
    pub fn whole(&self) -> bool {
        self.flags & (BEGINNING | ENDING) == BEGINNING | ENDING
    }
}

/// The DATA chunks of a packet's `chunks`, in order. A chunk length below 4, or a DATA
/// chunk shorter than its header, ends the walk.
pub fn data_chunks(mut chunks: &[u8]) -> impl Iterator<Item = DataChunk<'_>> {
    std::iter::from_fn(move || loop {
        let len = usize::from(u16::from_be_bytes(chunks.get(2..4)?.try_into().ok()?));
        if len < 4 {
            chunks = &[];
            return None;
        }
        let (chunk, cut) = match chunks.get(..len) {
            Some(c) => (c, false),
            None => (chunks, true),
        };
        chunks = chunks.get(len.next_multiple_of(4)..).unwrap_or_default();
        if chunk[0] == 0 {
            // TSN, stream id and sequence, then the payload protocol identifier.
            let Some(ppid) = chunk.get(12..16) else {
                chunks = &[];
                return None;
            };
            let ppid = u32::from_be_bytes([ppid[0], ppid[1], ppid[2], ppid[3]]);
            return Some(DataChunk { flags: chunk[1], ppid, data: &chunk[16..], cut });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_chunks_after_others_and_cut_short() {
        // An INIT-ACK-like chunk (type 2, 8 bytes), then DATA (whole, protocol 46).
        let mut chunks = vec![2, 0, 0, 6, 1, 2, 0, 0];
        chunks.extend_from_slice(&[0, 3, 0, 26, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 46]);
        chunks.extend_from_slice(b"GET / HTTP");
        let all: Vec<DataChunk> = data_chunks(&chunks).collect();
        assert_eq!(all, [DataChunk { flags: 3, ppid: 46, data: b"GET / HTTP", cut: false }]);
        assert!(all[0].whole());
        let cut: Vec<DataChunk> = data_chunks(&chunks[8..26]).collect();
        assert_eq!(cut, [DataChunk { flags: 3, ppid: 46, data: b"GE", cut: true }]);
        // Bad lengths, and a DATA header cut short, end the walk.
        assert_eq!(data_chunks(&[0, 0, 0, 2, 9, 9]).count(), 0);
        assert_eq!(data_chunks(&chunks[8..22]).count(), 0);
        assert_eq!(data_chunks(&[]).count(), 0);
    }
}

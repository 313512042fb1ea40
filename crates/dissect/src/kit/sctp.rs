//! SCTP's DATA chunks, as the packets of an association hold them (after SCTP's
//! common header): for SCTP's own protocols (M3UA, M2UA) and for the classifier,
//! which reads their user messages as each direction's stream.

use crate::kit::{be16, be32};

/// A packet's DATA chunks: (flags, payload protocol identifier, user data) each.
pub(crate) fn data_chunks(mut chunks: &[u8]) -> impl Iterator<Item = (u8, u32, &[u8])> {
    std::iter::from_fn(move || loop {
        let len = usize::from(be16(chunks, 2)?);
        let Some(chunk) = chunks.get(..len).filter(|_| len >= 4) else {
            chunks = &[];
            return None;
        };
        chunks = chunks.get(len.next_multiple_of(4)..).unwrap_or_default();
        if chunk[0] == 0 && chunk.len() > 16 {
            return Some((chunk[1], be32(chunk, 12)?, &chunk[16..]));
        }
    })
}

/// DATA chunk flags: a user message's first and last fragment (both: a whole one).
pub(crate) const BEGINNING: u8 = 0x02;
pub(crate) const ENDING: u8 = 0x01;

/// The whole user messages of a packet, each with its payload protocol identifier;
/// the fragments of a longer one are left out (see [`Fragments`]).
pub(crate) fn user_messages(chunks: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    data_chunks(chunks)
        .filter(|(flags, _, _)| flags & (BEGINNING | ENDING) == BEGINNING | ENDING)
        .map(|(_, p, m)| (p, m))
}

/// A fragmented user message being put back together, one a direction.
#[derive(Default)]
pub(crate) struct Fragments {
    ppid: u32,
    bytes: Vec<u8>,
    open: bool,
}

/// The longest user message put back together (an HTTP message over SCTP is
/// held whole, as its protocol reads it; M3UA's are a few hundred bytes).
const MAX_MESSAGE: usize = 64 << 10;

impl Fragments {
    /// Takes a fragment; gives the message it completes.
    pub(crate) fn take(&mut self, flags: u8, ppid: u32, data: &[u8]) -> Option<(u32, Vec<u8>)> {
        if flags & BEGINNING != 0 {
            *self = Fragments { ppid, bytes: Vec::new(), open: true };
        }
        if !self.open {
            return None;
        }
        if self.bytes.len() + data.len() > MAX_MESSAGE {
            *self = Fragments::default();
            return None;
        }
        self.bytes.extend_from_slice(data);
        if flags & ENDING == 0 {
            return None;
        }
        self.open = false;
        Some((self.ppid, std::mem::take(&mut self.bytes)))
    }
}

//! SCTP's DATA chunks, as the packets of an association hold them (after SCTP's
//! common header): for SCTP's own protocols (M3UA, M2UA) and for the classifier,
//! which reads their user messages as each direction's stream.

use std::borrow::Cow;

use tyto_packet::sctp::DataChunk;
pub(crate) use tyto_packet::sctp::{BEGINNING, ENDING};

/// A packet's DATA chunks that hold user data; a chunk the capture cut is left out.
pub(crate) fn data_chunks(chunks: &[u8]) -> impl Iterator<Item = DataChunk<'_>> {
    tyto_packet::sctp::data_chunks(chunks).filter(|c| !c.cut && !c.data.is_empty())
}

/// The whole user messages of a packet, each with its payload protocol identifier;
/// the fragments of a longer one are left out (see [`Fragments`]).
pub(crate) fn user_messages(chunks: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    data_chunks(chunks).filter(DataChunk::whole).map(|c| (c.ppid, c.data))
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
    /// The user message a DATA chunk holds whole, or completes; its payload protocol
    /// identifier with it.
    pub(crate) fn message<'a>(&mut self, c: DataChunk<'a>) -> Option<(u32, Cow<'a, [u8]>)> {
        if c.whole() {
            return Some((c.ppid, Cow::Borrowed(c.data)));
        }
        self.take(c.flags, c.ppid, c.data).map(|(ppid, m)| (ppid, Cow::Owned(m)))
    }

    /// Takes a fragment; gives the message it completes.
    fn take(&mut self, flags: u8, ppid: u32, data: &[u8]) -> Option<(u32, Vec<u8>)> {
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

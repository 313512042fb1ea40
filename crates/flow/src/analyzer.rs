//! The streaming contract between the flow layer and the protocol dissectors.
//!
//! For each session the flow layer asks the [`AnalyzerFactory`] for an analyzer and
//! then feeds it: TCP as two ordered byte streams (after reassembly), with gaps
//! announced rather than hidden; everything else datagram by datagram. The analyzer
//! writes what it learns into the session record it is handed.

use tyto_schema::SessionRecord;

use crate::key::{Direction, FlowKey};

/// One session's protocol analysis.
pub trait SessionAnalyzer: Send {
    /// The next in-order bytes of one TCP direction.
    fn stream(&mut self, dir: Direction, data: &[u8], rec: &mut SessionRecord);
    /// `len` bytes of one TCP direction are missing and will not be delivered.
    fn gap(&mut self, dir: Direction, len: u64, rec: &mut SessionRecord);
    /// One datagram's payload (UDP, SCTP, ICMP, other IP protocols).
    fn datagram(&mut self, dir: Direction, data: &[u8], rec: &mut SessionRecord);
    /// The session (or a row of it) is about to be written.
    fn flush(&mut self, rec: &mut SessionRecord);
    /// Whether more stream bytes are still useful. When false, reassembly stops
    /// holding out-of-order data for this session (counting continues).
    fn wants_more(&self) -> bool {
        true
    }
}

/// What the transport showed of a session's beginning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opening {
    /// Its first packet opened it (a TCP SYN, or the SYN-ACK answering one): the
    /// opener is the client and each stream starts at its first byte.
    Seen,
    /// Picked up part-way (a TCP connection whose handshake was not captured), or a
    /// transport with no opening at all (UDP): the first sender need not be the
    /// client, and the first bytes seen need not begin a message.
    Unseen,
}

/// Makes an analyzer for each new session (or none, when nothing would be learned).
pub trait AnalyzerFactory: Send + Sync {
    fn create(&self, key: &FlowKey, opening: Opening) -> Option<Box<dyn SessionAnalyzer>>;
}

/// No protocol analysis: sessions carry only what the flow layer counts.
pub struct NoAnalysis;

impl AnalyzerFactory for NoAnalysis {
    fn create(&self, _key: &FlowKey, _opening: Opening) -> Option<Box<dyn SessionAnalyzer>> {
        None
    }
}

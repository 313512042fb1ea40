use tyto_packet::{Addr, MacAddr};

use crate::{Extra, Transactions};

/// Packets and bytes one side of a session sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirStats {
    pub packets: u64,
    /// Bytes on the wire, link-layer headers included.
    pub bytes: u64,
    /// Transport payload bytes (TCP/UDP/SCTP data; for other protocols the IP payload).
    pub databytes: u64,
}

/// Packets seen with each TCP flag, counted as Arkime counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlagCounts {
    /// SYN without ACK.
    pub syn: u32,
    pub syn_ack: u32,
    /// ACK alone (no other flag).
    pub ack: u32,
    pub psh: u32,
    pub fin: u32,
    pub rst: u32,
    pub urg: u32,
    pub ece: u32,
    pub cwr: u32,
    pub ae: u32,
}

/// What TCP reassembly saw, both directions together.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpStreamStats {
    /// Segments whose bytes had all been delivered already.
    pub retransmissions: u32,
    /// Segments that arrived ahead of a hole and were held.
    pub out_of_order: u32,
    /// Segments that overlapped delivered bytes with different content.
    pub overlaps: u32,
    /// Bytes never seen: holes skipped when the buffer bound was hit or the session ended.
    pub gap_bytes: u64,
    /// Segments not buffered because the per-direction bound was reached.
    pub dropped_segments: u32,
}

/// How a TCP connection's opening ended, as the sensor saw it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Handshake {
    /// The opening was not seen (a stream picked up mid-way), or not TCP.
    #[default]
    Unseen,
    /// SYN, SYN-ACK and the client's ACK of it.
    Ok,
    /// The server answered the SYN with a reset.
    Reset,
    /// The SYN got no answer, or the client never acknowledged the SYN-ACK.
    Failed,
}

impl Handshake {
    pub fn as_str(self) -> &'static str {
        match self {
            Handshake::Unseen => "",
            Handshake::Ok => "ok",
            Handshake::Reset => "reset",
            Handshake::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Handshake {
        match s {
            "ok" => Handshake::Ok,
            "reset" => Handshake::Reset,
            "failed" => Handshake::Failed,
            _ => Handshake::Unseen,
        }
    }
}

/// How a TCP connection opened and behaved, timed at the sensor. Durations are in
/// microseconds; `None` where the moment was not seen. The handshake's figures are
/// on a session's first row only; the event counts are per row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpHealth {
    /// SYN to SYN-ACK: the round trip from the sensor to the server and back (from
    /// the last SYN sent before the answer, as Wireshark times it).
    pub rtt_server_us: Option<i64>,
    /// SYN-ACK to the client's ACK: the round trip toward the client.
    pub rtt_client_us: Option<i64>,
    /// From the session's first packet to the first payload byte each side sent.
    pub first_data_src_us: Option<i64>,
    pub first_data_dst_us: Option<i64>,
    pub handshake: Handshake,
    /// Segments advertising a zero receive window, by sender.
    pub zero_window_src: u32,
    pub zero_window_dst: u32,
    /// Segments that filled the window the other side advertised, by sender.
    pub window_full_src: u32,
    pub window_full_dst: u32,
    /// Resets, by sender.
    pub rst_src: u32,
    pub rst_dst: u32,
    /// How the opening's sequence numbers agreed (Arkime's checks); `None` where no
    /// SYN or SYN-ACK was seen.
    pub sequence_checks: Option<SequenceChecks>,
}

/// The opening's sequence numbers: whether each side's initial number was
/// acknowledged by the other, and the client's tries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SequenceChecks {
    /// The client's first SYN's sequence number (its ISN), if a SYN was seen.
    pub isn_src: Option<u32>,
    /// The client's SYNs: the first, and every one whose ISN differs from the
    /// first's (more than one: several connection attempts in one session).
    pub isn_count_src: u32,
    /// A SYN-ACK acknowledged the ISN of a SYN seen in the session.
    pub syn_validated: bool,
    /// The client acknowledged the ISN of the server's SYN-ACK.
    pub syn_ack_validated: bool,
}

/// Why a session (or segment) was written out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CloseReason {
    /// FIN seen both ways, or RST.
    TcpClose,
    /// No packet for the protocol's idle timeout.
    #[default]
    Idle,
    /// The packet limit per segment was reached; the session continues.
    MaxPackets,
    /// The segment reached its maximum age; the session continues.
    MaxAge,
    /// The protocol's messages paused and came again (BGP: five seconds without a
    /// message, as Arkime writes BGP sessions); the session continues.
    Quiet,
    /// The session table was full and this was the least recently seen session.
    Evicted,
    /// The input ended (end of the files, or shutdown).
    EndOfInput,
}

impl CloseReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TcpClose => "tcp-close",
            CloseReason::Idle => "idle",
            CloseReason::MaxPackets => "max-packets",
            CloseReason::MaxAge => "max-age",
            CloseReason::Quiet => "quiet",
            CloseReason::Evicted => "evicted",
            CloseReason::EndOfInput => "end-of-input",
        }
    }
}

/// One session, or one segment of a long session (segments share `root_id`).
///
/// "Source" is the side that opened the session: the sender of the SYN for TCP,
/// otherwise the sender of the first packet seen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionRecord {
    pub id: String,
    /// The id of the session's first segment (equal to `id` for the first).
    pub root_id: String,
    /// 1 for the first segment.
    pub segment: u32,
    pub node: String,
    /// 0 for sessions of frames that carry no IP (ARP, LLDP, …).
    pub ip_protocol: u8,
    pub ethertype: u16,
    pub src_ip: Option<Addr>,
    pub dst_ip: Option<Addr>,
    pub src_port: u16,
    pub dst_port: u16,
    /// First and last packet times, nanoseconds since the epoch.
    pub start_ns: i64,
    pub stop_ns: i64,
    pub src: DirStats,
    pub dst: DirStats,
    pub tcp_flags: TcpFlagCounts,
    pub tcp_stream: TcpStreamStats,
    pub tcp_health: TcpHealth,
    /// Application and transport protocols seen (`tcp`, `udp`, `http`, …).
    pub protocols: Vec<String>,
    pub vlans: Vec<u16>,
    pub vnis: Vec<u32>,
    pub mac_src: Vec<MacAddr>,
    pub mac_dst: Vec<MacAddr>,
    pub outer_ip_src: Vec<Addr>,
    pub outer_ip_dst: Vec<Addr>,
    /// Encapsulations the packets travelled in (`vlan`, `gre`, `vxlan`, …).
    pub tunnels: Vec<String>,
    /// IP TTLs (hop limits) seen, distinct, first few.
    pub ttl_src: Vec<u8>,
    pub ttl_dst: Vec<u8>,
    pub icmp_types: Vec<u8>,
    pub icmp_codes: Vec<u8>,
    pub tags: Vec<String>,
    /// Values of the catalogue's dissector-filled fields (HTTP, DNS, TLS, GeoIP…).
    pub extra: Extra,
    pub close_reason: CloseReason,
    /// Where the packets are kept: a negative value `-n` switches to pcap file `n`,
    /// the values after it are byte offsets of packet records in that file (Arkime's
    /// scheme). Empty when nothing was stored.
    pub packet_pos: Vec<i64>,
    /// The row's DNS and HTTP transactions: `None` unless a log output wants them,
    /// so the dissectors spend nothing on them otherwise.
    pub transactions: Option<Transactions>,
    /// The first payload bytes each way (source, destination): Arkime's `payload8`.
    pub payload8: [Payload8; 2],
    /// The name an earlier DNS answer gave the server's address, for placing the
    /// session (`app`) when it names no server itself. Not stored.
    pub resolved: Option<std::sync::Arc<str>>,
    /// The row ends at the first packet that comes at or after this time (ns), that
    /// packet in it, and the session goes on in a linked row: set by a dissector
    /// whose protocol Arkime writes a row of per burst of messages (BGP). Not
    /// stored, not carried into the next row.
    pub quiet_after_ns: Option<i64>,
}

/// The first eight payload bytes one direction sent, as Arkime keeps them: a TCP
/// stream's first bytes in order (gathered over segments until there are eight), a
/// UDP session's first datagram with a payload. Shown as hex and as text, made when
/// the bytes come (at most a few times a session) so the row can lend them out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Payload8 {
    bytes: [u8; 8],
    len: u8,
    /// Lower-case hex of the bytes (`474554202f204854`).
    pub hex: String,
    /// The bytes as text, invalid UTF-8 replaced (`GET / HT`).
    pub text: String,
}

impl Payload8 {
    /// Takes what a stream adds, until there are eight bytes.
    #[inline]
    pub fn stream(&mut self, data: &[u8]) {
        let have = usize::from(self.len);
        if have < 8 && !data.is_empty() {
            let n = (8 - have).min(data.len());
            self.bytes[have..have + n].copy_from_slice(&data[..n]);
            self.len += n as u8;
            self.render();
        }
    }

    /// Takes a datagram's first bytes if no datagram gave some before.
    #[inline]
    pub fn datagram(&mut self, data: &[u8]) {
        if self.len == 0 {
            self.stream(data);
        }
    }

    /// The bytes taken.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The same from bytes kept elsewhere (the first eight of `b`).
    pub fn from_bytes(b: &[u8]) -> Payload8 {
        let mut p = Payload8::default();
        p.stream(b);
        p
    }

    fn render(&mut self) {
        use std::fmt::Write;
        let b = &self.bytes[..usize::from(self.len)];
        self.hex.clear();
        for x in b {
            let _ = write!(self.hex, "{x:02x}");
        }
        self.text = String::from_utf8_lossy(b).into_owned();
    }
}

impl SessionRecord {
    pub fn packets(&self) -> u64 {
        self.src.packets + self.dst.packets
    }

    pub fn bytes(&self) -> u64 {
        self.src.bytes + self.dst.bytes
    }

    pub fn databytes(&self) -> u64 {
        self.src.databytes + self.dst.databytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_payload_bytes_as_arkime_keeps_them() {
        // A stream's first eight bytes, over segments.
        let mut p = Payload8::default();
        p.stream(b"GE");
        p.stream(b"");
        p.stream(b"T / HTTP/1.1\r\n");
        assert_eq!((p.hex.as_str(), p.text.as_str()), ("474554202f204854", "GET / HT"));
        p.stream(b"more");
        assert_eq!(p.bytes(), b"GET / HT");
        // A datagram's first bytes, only the first datagram's.
        let mut d = Payload8::default();
        d.datagram(b"");
        d.datagram(&[0xd1, 0x3a]);
        d.datagram(b"later");
        assert_eq!((d.hex.as_str(), d.text.as_str()), ("d13a", "\u{fffd}:"));
        assert_eq!(Payload8::from_bytes(b"0123456789"), Payload8::from_bytes(b"01234567"));
    }
}

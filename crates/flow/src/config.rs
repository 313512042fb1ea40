/// How sessions are cut and how much memory the flow layer may hold.
/// Times are seconds of packet time (so a capture replays as it happened).
#[derive(Clone, Debug)]
pub struct FlowConfig {
    /// Idle seconds before a TCP session is written (Arkime: `tcpTimeout`).
    pub tcp_idle_s: u32,
    /// Idle seconds for UDP (`udpTimeout`).
    pub udp_idle_s: u32,
    /// Idle seconds for ICMP and ICMPv6 (`icmpTimeout`).
    pub icmp_idle_s: u32,
    /// Idle seconds for every other protocol, and frames that carry no IP.
    pub other_idle_s: u32,
    /// Seconds a closed TCP session (FIN both ways, or RST) waits for its last ACKs.
    pub tcp_closing_s: u32,
    /// Packets in one row; past this the row is written and the session continues in a linked row.
    pub max_packets_per_row: u32,
    /// Seconds one row of a TCP session may span; past this it is written and the
    /// session continues in a linked row (Arkime: `tcpSaveTimeout`).
    pub max_row_age_s: u32,
    /// The same for every other protocol.
    pub max_row_age_other_s: u32,
    /// Sessions held at once, all workers together; the least recently seen is written out past this.
    pub max_sessions: usize,
    /// Out-of-order TCP bytes held per direction waiting for a hole to fill.
    pub tcp_max_held_bytes: u32,
    /// Out-of-order TCP segments held per direction.
    pub tcp_max_held_segments: u32,
    /// Out-of-order TCP bytes one worker holds over all its sessions: past it, a
    /// direction may hold nothing more and gives its holes up as gaps (counted),
    /// so traffic made of holes cannot take more memory than this.
    pub tcp_max_held_total: u64,
    /// IP datagrams being reassembled from fragments at once.
    pub frag_max_datagrams: usize,
    /// Seconds a datagram's fragments wait for the rest.
    pub frag_timeout_s: u32,
    /// Count each direction's data bytes by value for `entropy.src`/`entropy.dst`.
    pub entropy: bool,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            tcp_idle_s: 480,
            udp_idle_s: 60,
            icmp_idle_s: 10,
            other_idle_s: 60,
            tcp_closing_s: 5,
            max_packets_per_row: 10_000,
            max_row_age_s: 180,
            max_row_age_other_s: 180,
            max_sessions: 1_000_000,
            tcp_max_held_bytes: 256 * 1024,
            tcp_max_held_segments: 256,
            tcp_max_held_total: 64 << 20,
            frag_max_datagrams: 4096,
            frag_timeout_s: 30,
            entropy: false,
        }
    }
}

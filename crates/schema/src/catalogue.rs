use serde_json::Value;
use tyto_packet::{Addr, MacAddr};

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::time::format_rfc3339;
use crate::SessionRecord;

/// The type of a field's values, as a query or a column sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Ip,
    Integer,
    /// A time, held in nanoseconds, shown and stored to the microsecond.
    Date,
    /// A span of time, held and stored in microseconds (an integer, so compared
    /// exactly), typed and shown in milliseconds (`tcp.rtt.server > 2.5`).
    Duration,
    /// Text compared as written.
    Text,
    /// Text stored lower-cased and compared without case.
    LowerText,
}

impl FieldKind {
    /// The type's name in the catalogue listings.
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Ip => "ip",
            FieldKind::Integer => "integer",
            FieldKind::Date => "date",
            FieldKind::Duration => "duration",
            FieldKind::Text => "text",
            FieldKind::LowerText => "lowertext",
        }
    }
}

/// A field's value in one record, borrowed.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue<'a> {
    Null,
    Int(i64),
    Time(i64),
    Ip(Addr),
    Str(&'a str),
    Strs(&'a [String]),
    Ints(Vec<i64>),
    Ips(&'a [Addr]),
    Macs(&'a [MacAddr]),
    /// Times (nanoseconds) of a multi-valued date field.
    Times(Vec<i64>),
    /// A span of time in microseconds (a duration field), and a list of them.
    Duration(i64),
    Durations(Vec<i64>),
}

/// Microseconds as the milliseconds a duration field shows.
pub fn micros_as_millis(us: i64) -> Value {
    Value::from(us as f64 / 1000.0)
}

impl FieldValue<'_> {
    /// JSON for `dump` and exports; `None` for absent and empty values.
    pub fn to_json(&self) -> Option<Value> {
        Some(match self {
            FieldValue::Null => return None,
            FieldValue::Int(i) => Value::from(*i),
            FieldValue::Time(ns) => Value::from(format_rfc3339(*ns)),
            FieldValue::Ip(a) => Value::from(a.to_string()),
            FieldValue::Str("") => return None,
            FieldValue::Str(s) => Value::from(*s),
            FieldValue::Strs([]) => return None,
            FieldValue::Strs(v) => Value::from(v.to_vec()),
            FieldValue::Ints(v) if v.is_empty() => return None,
            FieldValue::Ints(v) => Value::from(v.clone()),
            FieldValue::Ips([]) => return None,
            FieldValue::Ips(v) => Value::from(v.iter().map(|a| a.to_string()).collect::<Vec<_>>()),
            FieldValue::Macs([]) => return None,
            FieldValue::Macs(v) => Value::from(v.iter().map(|m| m.to_string()).collect::<Vec<_>>()),
            FieldValue::Times(v) if v.is_empty() => return None,
            FieldValue::Times(v) => Value::from(v.iter().map(|t| format_rfc3339(*t)).collect::<Vec<_>>()),
            FieldValue::Duration(us) => micros_as_millis(*us),
            FieldValue::Durations(v) if v.is_empty() => return None,
            FieldValue::Durations(v) => Value::from(v.iter().map(|us| micros_as_millis(*us)).collect::<Vec<_>>()),
        })
    }
}

/// How a query value (and a stored value) is normalised for a field, beyond its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transform {
    None,
    /// `tcp`, `udp`, `icmp`… stand for their protocol numbers.
    IpProtocol,
    /// A URI given with a scheme (`http://x/y`) is matched without it, as stored.
    Uri,
    /// A host given as a URL (`https://x/y`) is matched as its host part.
    Host,
    /// Stored and compared upper-cased (country codes).
    Upper,
    /// `00-11-22-33-44-55` is read as `00:11:22:33:44:55`.
    Mac,
}

/// Where a field's value comes from in a [`SessionRecord`].
#[derive(Clone, Copy)]
pub enum Source {
    /// A member of the record, read by this function.
    Record(for<'a> fn(&'a SessionRecord) -> FieldValue<'a>),
    /// The record's [`crate::Extra`] values, filled by dissectors and enrichment.
    Extra,
}

/// One field, described once.
pub struct FieldDef {
    /// The expression name analysts type (Arkime's where Arkime has the field).
    pub name: &'static str,
    /// Other names the query language accepts for it.
    pub aliases: &'static [&'static str],
    pub kind: FieldKind,
    /// Holds a list of values; `==` matches when any of them does.
    pub multi: bool,
    /// The column in the session stores.
    pub column: &'static str,
    /// The Elastic Common Schema name used on export, where ECS has one.
    pub ecs: Option<&'static str>,
    pub group: &'static str,
    pub description: &'static str,
    /// Printed by `dump` (internal bookkeeping such as packet positions is not).
    pub in_dump: bool,
    pub transform: Transform,
    pub source: Source,
}

impl std::fmt::Debug for FieldDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl FieldDef {
    /// This field's value in a record.
    pub fn value<'a>(&self, rec: &'a SessionRecord) -> FieldValue<'a> {
        match self.source {
            Source::Record(get) => get(rec),
            Source::Extra => rec.extra.value(self),
        }
    }
}

/// A name that stands for several fields (`ip`, `host`, `country`…): `==` matches
/// when any member does, `!=` when none does.
pub struct FieldSet {
    pub name: &'static str,
    pub kind: FieldKind,
    pub group: &'static str,
    pub description: &'static str,
    pub members: &'static [&'static str],
}

impl FieldDef {
    /// The field's catalogue entry as JSON (for `tyto fields --json` and the API).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name, "aliases": self.aliases, "type": self.kind.name(), "multi": self.multi,
            "column": self.column, "ecs": self.ecs, "group": self.group, "description": self.description,
        })
    }
}

impl FieldSet {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name, "type": self.kind.name(), "group": self.group, "description": self.description,
            "members": self.members,
        })
    }
}

/// What a name in an expression refers to.
#[derive(Clone, Copy)]
pub enum Named {
    Field(&'static FieldDef),
    Set(&'static FieldSet),
}

/// Every name an expression or a dissector may use. Looked up for every value a
/// dissector files, so hashed with aHash: SipHash's resistance to chosen keys buys
/// nothing for names compiled in, and cost 1–2% of `tyto ingest`.
fn names() -> &'static HashMap<&'static str, Named, ahash::RandomState> {
    static NAMES: OnceLock<HashMap<&'static str, Named, ahash::RandomState>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut m = HashMap::with_hasher(ahash::RandomState::with_seeds(1, 2, 3, 4));
        for s in FIELD_SETS {
            m.insert(s.name, Named::Set(s));
        }
        for f in FIELDS {
            // ECS names are accepted too, for analysts coming from Kibana; an explicit
            // name or alias wins over an ECS name.
            if let Some(ecs) = f.ecs {
                m.entry(ecs).or_insert(Named::Field(f));
            }
        }
        for f in FIELDS {
            for a in f.aliases {
                m.insert(a, Named::Field(f));
            }
            m.insert(f.name, Named::Field(f));
        }
        m
    })
}

/// Looks a field up by its expression name or an alias.
pub fn field(name: &str) -> Option<&'static FieldDef> {
    match names().get(name) {
        Some(Named::Field(f)) => Some(f),
        _ => None,
    }
}

/// Looks a name up: a field (by name, alias or ECS name) or a set of fields.
pub fn lookup(name: &str) -> Option<Named> {
    names().get(name).copied()
}

/// Every name the query language accepts, for suggestions and completion.
pub fn all_names() -> impl Iterator<Item = &'static str> {
    names().keys().copied()
}

fn ints<T: Copy + Into<i64>>(v: &[T]) -> FieldValue<'static> {
    FieldValue::Ints(v.iter().map(|x| (*x).into()).collect())
}

fn opt_ip(a: Option<Addr>) -> FieldValue<'static> {
    a.map_or(FieldValue::Null, FieldValue::Ip)
}

/// A text that is no value when empty.
fn text(s: &str) -> FieldValue<'_> {
    if s.is_empty() {
        FieldValue::Null
    } else {
        FieldValue::Str(s)
    }
}

fn int(v: impl Into<i64>) -> FieldValue<'static> {
    FieldValue::Int(v.into())
}

fn handshake(h: crate::Handshake) -> FieldValue<'static> {
    match h {
        crate::Handshake::Unseen => FieldValue::Null,
        h => FieldValue::Str(h.as_str()),
    }
}

/// Arkime's `initRTT`: half the handshake's whole round trip, in whole milliseconds
/// (Arkime divides microseconds by 2,000). Timed from the last SYN before the
/// answer, where Arkime times from the first: they differ when the client sent its
/// SYN again.
fn init_rtt(h: &crate::TcpHealth) -> FieldValue<'static> {
    match (h.rtt_server_us, h.rtt_client_us) {
        (Some(server), Some(client)) => int((server + client) / 2_000),
        _ => FieldValue::Null,
    }
}

/// One of the opening's sequence checks as `true` or `false`; none when the
/// session showed no SYN or SYN-ACK.
fn checked(r: &SessionRecord, check: impl Fn(&crate::SequenceChecks) -> Option<bool>) -> FieldValue<'static> {
    match r.tcp_health.sequence_checks.as_ref().and_then(check) {
        Some(true) => FieldValue::Str("true"),
        Some(false) => FieldValue::Str("false"),
        None => FieldValue::Null,
    }
}

fn micros(v: Option<i64>) -> FieldValue<'static> {
    v.map_or(FieldValue::Null, FieldValue::Duration)
}

fn u(v: u64) -> FieldValue<'static> {
    FieldValue::Int(v.min(i64::MAX as u64) as i64)
}

/// The column the stores fill with the time they are handed a session (the record
/// holds no such time; see the `dbTimestamp` field).
pub const STORED_AT_COLUMN: &str = "db_time";

macro_rules! fields {
    (
        record { $( $name:literal, [$($alias:literal),*], $kind:ident, $multi:literal, $column:literal, $ecs:expr,
            $group:literal, $dump:literal, $tr:ident, $desc:literal, |$r:ident| $get:expr; )* }
        extra { $( $xname:literal, [$($xalias:literal),*], $xkind:ident, $xmulti:ident, $xcolumn:literal, $xecs:expr,
            $xgroup:literal, $xtr:ident, $xdesc:literal; )* }
    ) => {
        /// Every field of a session record, in display order.
        pub static FIELDS: &[FieldDef] = &[
            $( FieldDef {
                name: $name,
                aliases: &[$($alias),*],
                kind: FieldKind::$kind,
                multi: $multi,
                column: $column,
                ecs: $ecs,
                group: $group,
                description: $desc,
                in_dump: $dump,
                transform: Transform::$tr,
                source: Source::Record(|$r| $get),
            }, )*
            $( FieldDef {
                name: $xname,
                aliases: &[$($xalias),*],
                kind: FieldKind::$xkind,
                multi: fields!(@multi $xmulti),
                column: $xcolumn,
                ecs: $xecs,
                group: $xgroup,
                description: $xdesc,
                in_dump: true,
                transform: Transform::$xtr,
                source: Source::Extra,
            }, )*
        ];

        /// The dissector fields by name and kind, for the compile-time check of
        /// [`field_handle`].
        const EXTRA_KINDS: &[(&str, FieldKind)] = &[ $( ($xname, FieldKind::$xkind), )* ];
    };
    (@multi many) => { true };
    (@multi one) => { false };
}

fields! {
record {
    "id", [], Text, false, "id", Some("event.id"), "general", true, None, "Tyto's id for the session (segment)", |r| FieldValue::Str(&r.id);
    "rootId", [], Text, false, "root_id", None, "general", true, None, "Id of the first segment of a session written in several", |r| FieldValue::Str(&r.root_id);
    "session.segments", [], Integer, false, "segment", None, "general", true, None, "Which segment of its session this row is (1 for the first)", |r| int(r.segment);
    "node", [], Text, false, "node", Some("observer.name"), "general", true, None, "Name of the sensor that recorded the session", |r| FieldValue::Str(&r.node);
    "ip.protocol", [], Integer, false, "ip_protocol", Some("network.iana_number"), "general", true, IpProtocol, "IP protocol number (0 for frames that carry no IP)", |r| int(r.ip_protocol);
    "ethertype", [], Integer, false, "ethertype", None, "general", true, None, "The ethernet protocol type of the innermost link layer", |r| int(r.ethertype);
    "ip.src", [], Ip, false, "src_ip", Some("source.ip"), "general", true, None, "Source IP: the side that opened the session", |r| opt_ip(r.src_ip);
    "port.src", [], Integer, false, "src_port", Some("source.port"), "general", true, None, "Source port", |r| int(r.src_port);
    "ip.dst", [], Ip, false, "dst_ip", Some("destination.ip"), "general", true, None, "Destination IP", |r| opt_ip(r.dst_ip);
    "port.dst", [], Integer, false, "dst_port", Some("destination.port"), "general", true, None, "Destination port", |r| int(r.dst_port);
    "starttime", [], Date, false, "start_time", Some("event.start"), "general", true, None, "Time of the session's first packet", |r| FieldValue::Time(r.start_ns);
    "stoptime", [], Date, false, "stop_time", Some("event.end"), "general", true, None, "Time of the session's last packet", |r| FieldValue::Time(r.stop_ns);
    "packets", [], Integer, false, "packets", Some("network.packets"), "general", true, None, "Packets sent and received", |r| u(r.packets());
    "packets.src", [], Integer, false, "src_packets", Some("source.packets"), "general", true, None, "Packets sent by the source", |r| u(r.src.packets);
    "packets.dst", [], Integer, false, "dst_packets", Some("destination.packets"), "general", true, None, "Packets sent by the destination", |r| u(r.dst.packets);
    "bytes", [], Integer, false, "bytes", Some("network.bytes"), "general", true, None, "Bytes on the wire sent and received, link-layer headers included", |r| u(r.bytes());
    "bytes.src", [], Integer, false, "src_bytes", Some("source.bytes"), "general", true, None, "Bytes on the wire sent by the source", |r| u(r.src.bytes);
    "bytes.dst", [], Integer, false, "dst_bytes", Some("destination.bytes"), "general", true, None, "Bytes on the wire sent by the destination", |r| u(r.dst.bytes);
    "databytes", [], Integer, false, "databytes", None, "general", true, None, "Payload bytes sent and received", |r| u(r.databytes());
    "databytes.src", [], Integer, false, "src_databytes", None, "general", true, None, "Payload bytes sent by the source", |r| u(r.src.databytes);
    "databytes.dst", [], Integer, false, "dst_databytes", None, "general", true, None, "Payload bytes sent by the destination", |r| u(r.dst.databytes);
    "session.length", [], Integer, false, "session_length", None, "general", true, None, "Milliseconds from the first packet to the last (each time cut to the millisecond first, as Arkime counts)", |r| int(r.stop_ns.div_euclid(1_000_000) - r.start_ns.div_euclid(1_000_000));
    "payload8.src.hex", ["payload.src"], LowerText, false, "payload8_src_hex", None, "general", true, None, "First 8 bytes of source payload in hex (a TCP stream's first bytes in order, a UDP session's first datagram's)", |r| text(&r.payload8[0].hex);
    "payload8.src.utf8", [], Text, false, "payload8_src_utf8", None, "general", true, None, "First 8 bytes of source payload as text (invalid UTF-8 replaced)", |r| text(&r.payload8[0].text);
    "payload8.dst.hex", ["payload.dst"], LowerText, false, "payload8_dst_hex", None, "general", true, None, "First 8 bytes of destination payload in hex", |r| text(&r.payload8[1].hex);
    "payload8.dst.utf8", [], Text, false, "payload8_dst_utf8", None, "general", true, None, "First 8 bytes of destination payload as text (invalid UTF-8 replaced)", |r| text(&r.payload8[1].text);
    "protocols", [], LowerText, true, "protocols", Some("network.protocol"), "general", true, None, "Protocols seen in the session", |r| FieldValue::Strs(&r.protocols);
    "tcpflags.syn", [], Integer, false, "tcpflags_syn", None, "general", true, None, "Packets with SYN and no ACK", |r| int(r.tcp_flags.syn);
    "tcpflags.syn-ack", [], Integer, false, "tcpflags_syn_ack", None, "general", true, None, "Packets with SYN and ACK", |r| int(r.tcp_flags.syn_ack);
    "tcpflags.ack", [], Integer, false, "tcpflags_ack", None, "general", true, None, "Packets with only the ACK flag", |r| int(r.tcp_flags.ack);
    "tcpflags.psh", [], Integer, false, "tcpflags_psh", None, "general", true, None, "Packets with PSH", |r| int(r.tcp_flags.psh);
    "tcpflags.fin", [], Integer, false, "tcpflags_fin", None, "general", true, None, "Packets with FIN", |r| int(r.tcp_flags.fin);
    "tcpflags.rst", [], Integer, false, "tcpflags_rst", None, "general", true, None, "Packets with RST", |r| int(r.tcp_flags.rst);
    "tcpflags.urg", [], Integer, false, "tcpflags_urg", None, "general", true, None, "Packets with URG", |r| int(r.tcp_flags.urg);
    "tcpflags.ece", [], Integer, false, "tcpflags_ece", None, "general", true, None, "Packets with ECE", |r| int(r.tcp_flags.ece);
    "tcpflags.cwr", [], Integer, false, "tcpflags_cwr", None, "general", true, None, "Packets with CWR", |r| int(r.tcp_flags.cwr);
    "tcpflags.ae", [], Integer, false, "tcpflags_ae", None, "general", true, None, "Packets with AE (accurate ECN)", |r| int(r.tcp_flags.ae);
    "tcp.retransmissions", [], Integer, false, "tcp_retransmissions", None, "general", true, None, "TCP segments whose bytes had been seen already", |r| int(r.tcp_stream.retransmissions);
    "tcp.outoforder", [], Integer, false, "tcp_out_of_order", None, "general", true, None, "TCP segments that arrived ahead of a hole", |r| int(r.tcp_stream.out_of_order);
    "tcp.overlaps", [], Integer, false, "tcp_overlaps", None, "general", true, None, "TCP segments that overlapped seen bytes with different content", |r| int(r.tcp_stream.overlaps);
    "tcp.gapbytes", [], Integer, false, "tcp_gap_bytes", None, "general", true, None, "TCP payload bytes never seen (holes in the stream)", |r| u(r.tcp_stream.gap_bytes);
    "tcp.handshake", [], LowerText, false, "tcp_handshake", None, "tcp", true, None, "How the TCP opening ended: ok, reset (the server refused the SYN) or failed (no answer, or the answer never acknowledged); none when the opening was not seen", |r| handshake(r.tcp_health.handshake);
    "tcp.rtt.server", [], Duration, false, "tcp_rtt_server", None, "tcp", true, None, "Milliseconds from the SYN to the SYN-ACK: the round trip between the sensor and the server", |r| micros(r.tcp_health.rtt_server_us);
    "tcp.rtt.client", [], Duration, false, "tcp_rtt_client", None, "tcp", true, None, "Milliseconds from the SYN-ACK to the client's ACK: the round trip between the sensor and the client", |r| micros(r.tcp_health.rtt_client_us);
    "initRTT", [], Integer, false, "init_rtt", None, "general", true, None, "Half the milliseconds from the SYN to the client's ACK: Arkime's initial round trip (sessions whose opening was seen)", |r| init_rtt(&r.tcp_health);
    "tcp.first-data.src", [], Duration, false, "tcp_first_data_src", None, "tcp", true, None, "Milliseconds from the session's first packet to the first payload byte the source sent (sessions whose opening was seen)", |r| micros(r.tcp_health.first_data_src_us);
    "tcp.first-data.dst", [], Duration, false, "tcp_first_data_dst", None, "tcp", true, None, "Milliseconds from the session's first packet to the first payload byte the destination sent (sessions whose opening was seen)", |r| micros(r.tcp_health.first_data_dst_us);
    "tcp.zerowindow.src", [], Integer, false, "tcp_zero_window_src", None, "tcp", true, None, "TCP segments from the source advertising a zero window (its receiver full)", |r| int(r.tcp_health.zero_window_src);
    "tcp.zerowindow.dst", [], Integer, false, "tcp_zero_window_dst", None, "tcp", true, None, "TCP segments from the destination advertising a zero window", |r| int(r.tcp_health.zero_window_dst);
    "tcp.windowfull.src", [], Integer, false, "tcp_window_full_src", None, "tcp", true, None, "TCP segments from the source that filled the window the destination advertised (sessions whose opening was seen)", |r| int(r.tcp_health.window_full_src);
    "tcp.windowfull.dst", [], Integer, false, "tcp_window_full_dst", None, "tcp", true, None, "TCP segments from the destination that filled the window the source advertised", |r| int(r.tcp_health.window_full_dst);
    "tcp.rst.src", [], Integer, false, "tcp_rst_src", None, "tcp", true, None, "TCP resets sent by the source", |r| int(r.tcp_health.rst_src);
    "tcp.rst.dst", [], Integer, false, "tcp_rst_dst", None, "tcp", true, None, "TCP resets sent by the destination", |r| int(r.tcp_health.rst_dst);
    "tcp.synValidated", [], LowerText, false, "tcp_syn_validated", None, "tcp", true, None, "true when a SYN-ACK acknowledged the initial sequence number of a SYN seen in the session, else false (none when neither was seen)", |r| checked(r, |c| Some(c.syn_validated));
    "tcp.synAckValidated", [], LowerText, false, "tcp_syn_ack_validated", None, "tcp", true, None, "true when the client acknowledged the initial sequence number of the server's SYN-ACK (which flag counts alone do not prove), else false", |r| checked(r, |c| Some(c.syn_ack_validated));
    "tcp.srcISNCnt", [], Integer, false, "tcp_src_isn_count", None, "tcp", true, None, "The client's SYNs: the first and each whose initial sequence number differs from the first's (more than one: several connection attempts in one session)", |r| r.tcp_health.sequence_checks.filter(|c| c.isn_src.is_some()).map_or(FieldValue::Null, |c| int(c.isn_count_src));
    "tcpseq.src", [], Integer, false, "tcp_isn_src", None, "tcp", true, None, "The initial sequence number of the client's first SYN", |r| r.tcp_health.sequence_checks.and_then(|c| c.isn_src).map_or(FieldValue::Null, int);
    "vlan", [], Integer, true, "vlan", Some("network.vlan.id"), "general", true, None, "VLAN ids", |r| ints(&r.vlans);
    "vni", [], Integer, true, "vni", None, "general", true, None, "VXLAN/Geneve network identifiers", |r| ints(&r.vnis);
    "mac.src", [], LowerText, true, "mac_src", Some("source.mac"), "general", true, Mac, "Source ethernet addresses", |r| FieldValue::Macs(&r.mac_src);
    "mac.dst", [], LowerText, true, "mac_dst", Some("destination.mac"), "general", true, Mac, "Destination ethernet addresses", |r| FieldValue::Macs(&r.mac_dst);
    "outerip.src", [], Ip, true, "outer_ip_src", None, "general", true, None, "Source IP of the outermost tunnel header", |r| FieldValue::Ips(&r.outer_ip_src);
    "outerip.dst", [], Ip, true, "outer_ip_dst", None, "general", true, None, "Destination IP of the outermost tunnel header", |r| FieldValue::Ips(&r.outer_ip_dst);
    "tunnel", [], LowerText, true, "tunnels", None, "general", true, None, "Encapsulations the packets travelled in (vlan, mpls, gre, vxlan, gtp, …)", |r| FieldValue::Strs(&r.tunnels);
    "ttl.src", [], Integer, true, "ttl_src", None, "general", true, None, "Source IP TTLs seen", |r| ints(&r.ttl_src);
    "ttl.dst", [], Integer, true, "ttl_dst", None, "general", true, None, "Destination IP TTLs seen", |r| ints(&r.ttl_dst);
    "icmp.type", [], Integer, true, "icmp_type", None, "general", true, None, "ICMP types seen", |r| ints(&r.icmp_types);
    "icmp.code", [], Integer, true, "icmp_code", None, "general", true, None, "ICMP codes seen", |r| ints(&r.icmp_codes);
    "tags", [], Text, true, "tags", Some("tags"), "general", true, None, "Tags set on the session", |r| FieldValue::Strs(&r.tags);
    "session.closereason", [], LowerText, false, "close_reason", None, "general", true, None, "Why the row was written: tcp-close, idle, max-packets, max-age, evicted, end-of-input", |r| FieldValue::Str(r.close_reason.as_str());
    "packetPos", [], Integer, true, "packet_pos", None, "general", false, None, "Where the packets are stored (file switches as negative ids, then byte offsets)", |r| ints(&r.packet_pos);
}
// Filled by dissectors and enrichment; empty (and matching nothing) until those run.
extra {
    "user", [], LowerText, many, "user", Some("user.name"), "general", None, "User names seen in the session (any protocol)";
    "country.src", [], Text, one, "country_src", Some("source.geo.country_iso_code"), "general", Upper, "Source country (ISO 3166 alpha-3, as Arkime)";
    "country.dst", [], Text, one, "country_dst", Some("destination.geo.country_iso_code"), "general", Upper, "Destination country (ISO 3166 alpha-3, as Arkime)";
    "region.src", [], Text, one, "region_src", Some("source.geo.region_iso_code"), "general", None, "Source region: the first subdivision's ISO 3166-2 code (from a City database)";
    "region.dst", [], Text, one, "region_dst", Some("destination.geo.region_iso_code"), "general", None, "Destination region: the first subdivision's ISO 3166-2 code (from a City database)";
    "city.src", [], Text, one, "city_src", Some("source.geo.city_name"), "general", None, "Source city (English name, from a City database)";
    "city.dst", [], Text, one, "city_dst", Some("destination.geo.city_name"), "general", None, "Destination city (English name, from a City database)";
    "asn.src", [], Text, one, "asn_src", Some("source.as.organization.name"), "general", None, "Source AS number and organisation (`AS15169 Google LLC`)";
    "asn.dst", [], Text, one, "asn_dst", Some("destination.as.organization.name"), "general", None, "Destination AS number and organisation";
    "rir.src", [], Text, one, "rir_src", None, "general", Upper, "Regional registry of the source IP";
    "rir.dst", [], Text, one, "rir_dst", None, "general", Upper, "Regional registry of the destination IP";
    "oui.src", [], Text, many, "oui_src", None, "general", None, "Manufacturers of the source ethernet addresses";
    "oui.dst", [], Text, many, "oui_dst", None, "general", None, "Manufacturers of the destination ethernet addresses";
    "outeroui.src", [], Text, many, "outeroui_src", None, "general", None, "Manufacturers of the outer frame's source Ethernet addresses (a tunnel's)";
    "outeroui.dst", [], Text, many, "outeroui_dst", None, "general", None, "Manufacturers of the outer frame's destination Ethernet addresses (a tunnel's)";
    "protocols.how", [], LowerText, many, "protocols_how", None, "general", None, "How each application protocol was decided: `protocol:payload`, `protocol:port` (a guess), or by the session or protocol that announced it (`ftp-data:ftp`, `websocket:http`)";
    "risk", [], LowerText, many, "risk", None, "general", None, "What is wrong or suspicious about the session, named as nDPI names its flow risks (`tls-selfsigned-certificate`, `unidirectional-traffic`, …)";
    "risk.score", [], Integer, one, "risk_score", None, "general", None, "The risks' weights summed (nDPI's scale: low 10, medium 50, high 100)";
    "file", [], Text, many, "file", None, "general", None, "The capture files the session's packets were read from, as ingested (absolute paths; `file == /data/*.pcap`)";
    "dscp.src", [], Integer, many, "dscp_src", None, "general", None, "Non-zero DSCP values (differentiated services code points) of the source's packets";
    "dscp.dst", [], Integer, many, "dscp_dst", None, "general", None, "Non-zero DSCP values of the destination's packets";
    "vlan.dot1q", [], Integer, many, "vlan_dot1q", None, "general", None, "802.1Q VLAN ids (customer tags; every tag is in `vlan`)";
    "vlan.dot1ad", [], Integer, many, "vlan_dot1ad", None, "general", None, "802.1ad (QinQ) service VLAN ids";
    "outermac.src", [], LowerText, many, "outer_mac_src", None, "general", None, "Source Ethernet addresses of the outer frame, for Ethernet carried in a tunnel (VXLAN, GRE…)";
    "outermac.dst", [], LowerText, many, "outer_mac_dst", None, "general", None, "Destination Ethernet addresses of the outer frame, for Ethernet carried in a tunnel";
    "dbTimestamp", [], Date, one, "db_time", Some("event.ingested"), "general", None, "When the session was handed to the store (Arkime's database timestamp): the sessions a periodic query takes as new are those stored since its last run";
    "communityId", [], Text, one, "community_id", Some("network.community_id"), "general", None, "Community ID flow hash (version 1, seed 0): the value Zeek, Suricata and Arkime give the same flow (filled when `community_id` is on)";
    "app", [], LowerText, one, "app", Some("network.application"), "general", None, "The application the session belongs to (`youtube`, `teams`, `netflix`), named from its server name or certificate as nDPI names the application of `TLS.YouTube`";
    "category", [], LowerText, one, "category", None, "general", None, "The application's category (`video`, `vpn`, `chat`, `remote-access`, `collaborative`, …), as nDPI categorises it";
    "intel", [], Text, many, "intel", None, "intel", None, "Threat intelligence indicators the session matched, each as `SOURCE:indicator` (`feodo:192.0.2.7`, `urlhaus:bad.example/x.exe`); see [intel] in the configuration";
    "intel.source", [], Text, many, "intel_source", None, "intel", None, "Names of the indicator sources the session matched";
    "host.http", ["http.host"], LowerText, many, "http_host", Some("url.domain"), "http", Host, "HTTP Host header values";
    "http.uri", [], Text, many, "http_uri", Some("url.original"), "http", Uri, "Request URIs, host then path (`example.com/index.html`)";
    "http.uri.path", [], Text, many, "http_path", Some("url.path"), "http", None, "Path part of the request URIs";
    "http.method", [], Text, many, "http_method", Some("http.request.method"), "http", None, "Request methods";
    "http.statuscode", [], Integer, many, "http_statuscode", Some("http.response.status_code"), "http", None, "Response status codes";
    "http.user-agent", ["http.useragent"], Text, many, "http_user_agent", Some("user_agent.original"), "http", None, "User-Agent header values";
    "http.content-type", [], LowerText, many, "http_content_type", Some("http.response.mime_type"), "http", None, "Content-Type header values";
    "http.hasheader.src", [], LowerText, many, "http_request_headers", None, "http", None, "Request header names";
    "http.hasheader.dst", [], LowerText, many, "http_response_headers", None, "http", None, "Response header names";
    "http.md5", [], LowerText, many, "http_md5", None, "http", None, "MD5 of HTTP bodies";
    "http.sha256", [], LowerText, many, "http_sha256", Some("file.hash.sha256"), "http", None, "SHA-256 of HTTP bodies";
    "http.reqbody", [], Text, many, "http_reqbody", None, "http", None, "Request bodies that are text (forms, SOAP, JSON), their first 2,000 bytes";
    "http.bodymagic", [], LowerText, many, "http_bodymagic", None, "http", None, "What HTTP bodies are, from their first bytes (MIME types: `application/x-dosexec`, `application/zip`, `text/html`…)";
    "http.user", [], Text, many, "http_user", None, "http", None, "HTTP authentication users";
    "http.version", [], Text, many, "http_version", Some("http.version"), "http", None, "HTTP versions";
    "http.version.src", [], Text, many, "http_version_src", None, "http", None, "Request HTTP versions";
    "http.version.dst", [], Text, many, "http_version_dst", None, "http", None, "Response HTTP versions";
    "http.referer", [], Text, many, "http_referer", Some("http.request.referrer"), "http", None, "Referer header values";
    "http.header.request.field", [], LowerText, many, "http_request_fields", None, "http", None, "Request header names other than those with a field of their own (Host, User-Agent, Referer, X-Forwarded-For, Authorization)";
    "http.location", [], Text, many, "http_location", None, "http", None, "Location header values (where responses redirect)";
    "http.header.response.field", [], LowerText, many, "http_response_fields", None, "http", None, "Response header names other than Location (a field of its own)";
    "http.hasheader.src.value", [], LowerText, many, "http_request_values", None, "http", None, "Values of the request headers of http.header.request.field";
    "http.hasheader.dst.value", [], LowerText, many, "http_response_values", None, "http", None, "Values of the response headers of http.header.response.field";
    "http.cookie.key", [], Text, many, "http_cookie_key", None, "http", None, "Names of the cookies requests sent";
    "http.cookie.value", [], Text, many, "http_cookie_value", None, "http", None, "Values of the cookies requests sent";
    "http.uri.key", [], Text, many, "http_query_key", None, "http", None, "Keys of the URIs' query strings, percent-decoded";
    "http.uri.value", [], Text, many, "http_query_value", None, "http", None, "Values of the URIs' query strings, percent-decoded";
    "http.authtype", [], LowerText, many, "http_auth_type", None, "http", None, "Authorization schemes (basic, digest, ntlm, negotiate, bearer…)";
    "http.response-time", [], Duration, many, "http_response_time", None, "http", None, "Milliseconds from each request (its last byte) to its response (its last byte), as Wireshark's http.time";
    "ip.xff", [], Ip, many, "http_xff_ip", None, "http", None, "The client each request was forwarded for: the first address of its X-Forwarded-For header";
    "host.dns", ["dns.host"], LowerText, many, "dns_host", Some("dns.question.name"), "dns", Host, "DNS names looked up and answered";
    "dns.puny", [], LowerText, many, "dns_puny", None, "dns", None, "Internationalised names looked up, in their `xn--` form (decoded in host.dns)";
    "dns.query.type", [], Text, many, "dns_qtype", Some("dns.question.type"), "dns", Upper, "DNS query types (A, AAAA, MX…)";
    "dns.query.class", [], Text, many, "dns_qclass", Some("dns.question.class"), "dns", Upper, "DNS query classes";
    "dns.status", [], Text, many, "dns_status", Some("dns.response_code"), "dns", Upper, "DNS response codes (NOERROR, NXDOMAIN…)";
    "dns.opcode", [], Text, many, "dns_opcode", Some("dns.op_code"), "dns", Upper, "DNS opcodes";
    "ip.dns", [], Ip, many, "dns_ip", Some("dns.resolved_ip"), "dns", None, "Addresses in DNS answers (A/AAAA), but those of the name and mail servers a response names";
    "ip.dns.nameserver", [], Ip, many, "dns_ip_nameserver", None, "dns", None, "Addresses of the name servers a DNS response names (its additional records)";
    "ip.dns.mailserver", [], Ip, many, "dns_ip_mailserver", None, "dns", None, "Addresses of the mail servers a DNS response names (its additional records)";
    "dns.answer.cname", [], LowerText, many, "dns_cname", None, "dns", None, "CNAME answers";
    "host.dns.nameserver", ["dns.answer.ns"], LowerText, many, "dns_ns", None, "dns", None, "NS answers";
    "host.dns.mailserver", ["dns.answer.mx"], LowerText, many, "dns_mx", None, "dns", None, "MX answers";
    "dns.query.host", [], LowerText, many, "dns_query_host", None, "dns", Host, "DNS names asked (the questions only; host.dns adds the CNAMEs' targets)";
    "dns.header_flags", [], Text, many, "dns_header_flags", Some("dns.header_flags"), "dns", Upper, "DNS header flags set (AA, TC, RD, RA, AD, CD)";
    "dns.answer.cnt", [], Integer, many, "dns_answer_cnt", None, "dns", None, "Records in each DNS response (answer, authority and additional, as Arkime counts)";
    "dns.answer.name", [], LowerText, many, "dns_answer_name", Some("dns.answers.name"), "dns", None, "Owner names of the DNS response records";
    "dns.answer.type", [], Text, many, "dns_answer_type", Some("dns.answers.type"), "dns", Upper, "Types of the DNS response records (A, CNAME, NS…)";
    "dns.answer.class", [], Text, many, "dns_answer_class", Some("dns.answers.class"), "dns", Upper, "Classes of the DNS response records";
    "dns.answer.ttl", [], Integer, many, "dns_answer_ttl", Some("dns.answers.ttl"), "dns", None, "TTLs of the DNS response records (seconds)";
    "dns.answer.ip", [], Ip, many, "dns_answer_ip", None, "dns", None, "Addresses of the A/AAAA response records";
    "dns.answer.priority", [], Integer, many, "dns_answer_priority", None, "dns", None, "Preferences of the MX response records";
    "dns.answer.txt", [], Text, many, "dns_txt", None, "dns", None, "TXT answers";
    "dns.answer.https", [], Text, many, "dns_https", None, "dns", None, "HTTPS records as Arkime shows them: priority, target, alpn, port and address hints (`HTTPS 1 . alpn=h2,h3`)";
    "dns.answer.caa", [], Text, many, "dns_caa", None, "dns", None, "CAA records: flags, tag and value (`CAA 0 issue letsencrypt.org`)";
    "dns.answer.rrsig", [], Text, many, "dns_rrsig", None, "dns", None, "RRSIG records without the signature: type covered, algorithm, labels, TTL, expiration, inception, key tag, signer";
    "dns.answer.nsec", [], Text, many, "dns_nsec", None, "dns", None, "NSEC records: the next name and the types it holds";
    "dns.answer.ds", [], Text, many, "dns_ds", None, "dns", None, "DS records: key tag, algorithm, digest type and digest (hex)";
    "dns.response-time", [], Duration, many, "dns_response_time", None, "dns", None, "Milliseconds from each query to its response (from the first query of its id when it was sent again), as Wireshark's dns.time";
    "nbns.name", [], Text, many, "nbns_name", None, "nbns", None, "NetBIOS names asked for, answered or registered (decoded)";
    "nbns.queryHost", [], Text, many, "nbns_query_host", None, "nbns", None, "NetBIOS names asked for";
    "nbns.queryType", [], Text, many, "nbns_query_type", None, "nbns", None, "NetBIOS query types (NB, NBSTAT)";
    "nbns.host", [], Text, many, "nbns_host", None, "nbns", None, "NetBIOS names answered or registered";
    "nbns.ip", [], Ip, many, "nbns_ip", None, "nbns", None, "Addresses of NetBIOS name records";
    "host.tls", ["tls.sni"], LowerText, many, "tls_sni", Some("tls.client.server_name"), "tls", Host, "TLS server names (SNI)";
    "tls.version", [], Text, many, "tls_version", Some("tls.version"), "tls", None, "TLS/DTLS versions (`TLSv1.2`, `TLSv1.3`…)";
    "tls.cipher", [], Text, many, "tls_cipher", Some("tls.cipher"), "tls", Upper, "Cipher suites chosen";
    "tls.alpn", [], Text, many, "tls_alpn", None, "tls", None, "ALPN protocols offered";
    "tls.ja3", [], LowerText, many, "tls_ja3", Some("tls.client.ja3"), "tls", None, "JA3 client fingerprints";
    "tls.ja3s", [], LowerText, many, "tls_ja3s", Some("tls.server.ja3s"), "tls", None, "JA3S server fingerprints";
    "tls.ja4", [], Text, many, "tls_ja4", None, "tls", None, "JA4 client fingerprints";
    "tls.ja3string", [], LowerText, many, "tls_ja3_string", None, "tls", None, "JA3 strings (before their MD5)";
    "tls.ja3sstring", [], LowerText, many, "tls_ja3s_string", None, "tls", None, "JA3S strings (before their MD5)";
    "tls.ja4_r", [], LowerText, many, "tls_ja4_raw", None, "tls", None, "JA4 fingerprints before their hashes (sorted ciphers, extensions and signature algorithms)";
    "tls.sessionid.src", [], LowerText, many, "tls_session_id_src", None, "tls", None, "Session ids clients offered (hex)";
    "tls.sessionid.dst", [], LowerText, many, "tls_session_id_dst", None, "tls", None, "Session ids servers gave (hex)";
    "cert.subject.cn", [], LowerText, many, "cert_subject_cn", Some("tls.server.x509.subject.common_name"), "cert", None, "Certificate subject common names";
    "cert.subject.on", [], Text, many, "cert_subject_on", Some("tls.server.x509.subject.organization"), "cert", None, "Certificate subject organisations";
    "cert.issuer.cn", [], LowerText, many, "cert_issuer_cn", Some("tls.server.x509.issuer.common_name"), "cert", None, "Certificate issuer common names";
    "cert.issuer.on", [], Text, many, "cert_issuer_on", Some("tls.server.x509.issuer.organization"), "cert", None, "Certificate issuer organisations";
    "cert.subject.ou", [], Text, many, "cert_subject_ou", Some("tls.server.x509.subject.organizational_unit"), "cert", None, "Certificate subject organisational units";
    "cert.issuer.ou", [], Text, many, "cert_issuer_ou", Some("tls.server.x509.issuer.organizational_unit"), "cert", None, "Certificate issuer organisational units";
    "cert.publicAlgorithm", [], Text, many, "cert_public_algorithm", Some("tls.server.x509.public_key_algorithm"), "cert", None, "Certificate public key algorithms (rsaEncryption, id-ecPublicKey…)";
    "cert.curve", [], Text, many, "cert_curve", Some("tls.server.x509.public_key_curve"), "cert", None, "Named curves of elliptic-curve certificate keys";
    "cert.validfor", [], Integer, many, "cert_valid_days", None, "cert", None, "Days from a certificate's notbefore to its notafter";
    "cert.validforSeconds", [], Integer, many, "cert_valid_seconds", None, "cert", None, "Seconds from a certificate's notbefore to its notafter";
    "cert.remainingDays", [], Integer, many, "cert_remaining_days", None, "cert", None, "Days a certificate was still valid for at the session's first packet (0 when it had expired)";
    "cert.remainingSeconds", [], Integer, many, "cert_remaining_seconds", None, "cert", None, "Seconds a certificate was still valid for at the session's first packet (0 when it had expired)";
    "cert.serial", [], LowerText, many, "cert_serial", Some("tls.server.x509.serial_number"), "cert", None, "Certificate serial numbers (hex)";
    "cert.alt", [], LowerText, many, "cert_alt", Some("tls.server.x509.alternative_names"), "cert", None, "Certificate subject alternative names";
    "cert.notbefore", [], Date, many, "cert_not_before", Some("tls.server.x509.not_before"), "cert", None, "Certificates not valid before";
    "cert.notafter", [], Date, many, "cert_not_after", Some("tls.server.x509.not_after"), "cert", None, "Certificates not valid after";
    "cert.hash", [], LowerText, many, "cert_sha1", Some("tls.server.hash.sha1"), "cert", None, "SHA-1 fingerprints of certificates";
    "cert.sha256", [], LowerText, many, "cert_sha256", Some("tls.server.hash.sha256"), "cert", None, "SHA-256 fingerprints of certificates";
    "host.quic", [], LowerText, many, "quic_host", None, "quic", Host, "QUIC server names (SNI of the Initial packet)";
    "quic.version", [], Text, many, "quic_version", None, "quic", None, "QUIC versions";
    "quic.user-agent", [], Text, many, "quic_user_agent", None, "quic", None, "QUIC user agents";
    "stun.type", [], Text, many, "stun_type", None, "stun", None, "STUN message types (Binding Request, Allocate Error, …)";
    "stun.mapped-ip", [], Ip, many, "stun_mapped_ip", None, "stun", None, "STUN MAPPED-ADDRESS addresses";
    "stun.mapped-port", [], Integer, many, "stun_mapped_port", None, "stun", None, "STUN MAPPED-ADDRESS ports";
    "stun.xor-mapped-ip", [], Ip, many, "stun_xor_mapped_ip", None, "stun", None, "STUN XOR-MAPPED-ADDRESS addresses (the client's address outside its NAT)";
    "stun.xor-mapped-port", [], Integer, many, "stun_xor_mapped_port", None, "stun", None, "STUN XOR-MAPPED-ADDRESS ports";
    "stun.xor-relayed-ip", [], Ip, many, "stun_xor_relayed_ip", None, "stun", None, "TURN XOR-RELAYED-ADDRESS addresses (the relay's address given to the client)";
    "stun.xor-relayed-port", [], Integer, many, "stun_xor_relayed_port", None, "stun", None, "TURN XOR-RELAYED-ADDRESS ports";
    "stun.xor-peer-ip", [], Ip, many, "stun_xor_peer_ip", None, "stun", None, "TURN XOR-PEER-ADDRESS addresses (the peers the client talks to through the relay)";
    "stun.xorPeerPort", [], Integer, many, "stun_xor_peer_port", None, "stun", None, "TURN XOR-PEER-ADDRESS ports";
    "stun.username", [], Text, many, "stun_username", None, "stun", None, "STUN user names (ICE credentials)";
    "stun.software", [], Text, many, "stun_software", None, "stun", None, "STUN SOFTWARE attributes";
    "stun.realm", [], Text, many, "stun_realm", None, "stun", None, "STUN realms (the TURN server's)";
    "stun.error", [], Integer, many, "stun_error", None, "stun", None, "STUN error codes (401, 438, …)";
    "stun.attributes", [], LowerText, many, "stun_attributes", None, "stun", None, "ICE and integrity attributes present (fingerprint, ice-controlled, ice-controlling, use-candidate)";
    "ssh.ver", [], LowerText, many, "ssh_version", None, "ssh", None, "SSH version strings";
    "ssh.key", [], Text, many, "ssh_key", None, "ssh", None, "Server host keys (the key blob in base64, as in known_hosts)";
    "ssh.hassh", [], LowerText, many, "ssh_hassh", None, "ssh", None, "HASSH client fingerprints";
    "ssh.hasshServer", [], LowerText, many, "ssh_hassh_server", None, "ssh", None, "HASSH server fingerprints";
    "rdp.cookie", [], Text, many, "rdp_cookie", None, "rdp", None, "RDP cookies (mstshash user)";
    "rdp.requested-protocols", [], Text, many, "rdp_requested_protocols", None, "rdp", None, "RDP security protocols requested (rdp, ssl, nla, rdstls, nla-ext)";
    "rdp.selected-protocol", [], Text, many, "rdp_selected_protocol", None, "rdp", None, "RDP security protocol the server selected";
    "rdp.client-name", [], Text, many, "rdp_client_name", None, "rdp", None, "RDP client computer names (standard RDP security only)";
    "rdp.keyboard-layout", [], Text, many, "rdp_keyboard_layout", None, "rdp", None, "RDP client keyboard layouts";
    "rdp.client-build", [], Integer, many, "rdp_client_build", None, "rdp", None, "RDP client build numbers";
    "smb.dialect", [], Text, many, "smb_dialect", None, "smb", None, "SMB dialects";
    "smb.share", [], Text, many, "smb_share", None, "smb", None, "SMB shares connected to";
    "smb.fn", [], Text, many, "smb_filename", None, "smb", None, "SMB files opened, created or deleted";
    "host.smb", [], LowerText, many, "smb_host", None, "smb", None, "SMB/NTLMSSP host names";
    "smb.user", [], Text, many, "smb_user", None, "smb", None, "SMB/NTLMSSP users";
    "smb.domain", [], Text, many, "smb_domain", None, "smb", None, "SMB/NTLMSSP domains";
    "smb.os", [], Text, many, "smb_os", None, "smb", None, "SMB clients' operating systems (SMB1 session setup)";
    "smb.ver", [], Text, many, "smb_version", None, "smb", None, "SMB clients' software versions (SMB1 LAN manager string)";
    "ntlm.type", [], Integer, many, "ntlm_type", None, "ntlm", None, "NTLMSSP message types: 1 negotiate, 2 challenge, 3 authenticate";
    "ntlm.domain", [], Text, many, "ntlm_domain", None, "ntlm", None, "NTLMSSP domains";
    "ntlm.host", [], Text, many, "ntlm_host", None, "ntlm", None, "NTLMSSP workstation names";
    "ntlm.targetName", [], Text, many, "ntlm_target_name", None, "ntlm", None, "NTLMSSP target names the servers give";
    "ntlm.version", [], Text, many, "ntlm_version", None, "ntlm", None, "NTLMSSP OS versions (major.minor.build)";
    "isakmp.version", [], Text, many, "isakmp_version", None, "isakmp", None, "ISAKMP/IKE versions (1.0, 2.0)";
    "isakmp.exchange-type", [], LowerText, many, "isakmp_exchange_type", None, "isakmp", None, "ISAKMP/IKE exchange types (identity-protection, ike-sa-init…)";
    "isakmp.initiator-spi", [], LowerText, many, "isakmp_initiator_spi", None, "isakmp", None, "ISAKMP/IKE initiator security parameter indexes (hex)";
    "isakmp.responder-spi", [], LowerText, many, "isakmp_responder_spi", None, "isakmp", None, "ISAKMP/IKE responder security parameter indexes (hex)";
    "isakmp.encryption", [], Text, many, "isakmp_encryption", None, "isakmp", None, "IKE encryption algorithms proposed (aes-cbc, aes-gcm-16…)";
    "isakmp.hash", [], Text, many, "isakmp_hash", None, "isakmp", None, "IKE hash (IKEv1) or PRF (IKEv2) algorithms proposed";
    "isakmp.auth-method", [], Text, many, "isakmp_auth_method", None, "isakmp", None, "IKEv1 authentication methods proposed (psk, rsa-sig…)";
    "isakmp.dh-group", [], Text, many, "isakmp_dh_group", None, "isakmp", None, "Diffie-Hellman groups proposed (modp2048, ecp256, curve25519…)";
    "isakmp.vendor-id", [], LowerText, many, "isakmp_vendor_id", None, "isakmp", None, "IKE vendor ids (hex; dpd by name)";
    "esp.spi", [], LowerText, many, "esp_spi", None, "esp", None, "ESP security parameter indexes, one per direction and SA (hex), also of ESP in UDP";
    "opcua.endpointUrl", [], Text, many, "opcua_endpoint_url", None, "opcua", None, "OPC UA endpoint URLs from Hello messages";
    "opcua.securityPolicyUri", [], Text, many, "opcua_security_policy_uri", None, "opcua", None, "OPC UA security policy URIs from OpenSecureChannel messages";
    "s7comm.rosctr", [], Integer, many, "s7comm_rosctr", None, "s7comm", None, "S7comm ROSCTRs (1 job, 2 ack, 3 ack-data, 7 user data)";
    "s7comm.func", [], Integer, many, "s7comm_func", None, "s7comm", None, "S7comm function codes (first parameter byte)";
    "s7comm.funcName", [], Text, many, "s7comm_func_name", None, "s7comm", None, "S7comm function names (Read Var, PLC Stop…), user data by function group";
    "s7comm.pduref", [], Integer, many, "s7comm_pduref", None, "s7comm", None, "S7comm PDU references";
    "s7comm.errorClass", [], Integer, many, "s7comm_error_class", None, "s7comm", None, "S7comm error classes of acknowledgements";
    "s7comm.errorCode", [], Integer, many, "s7comm_error_code", None, "s7comm", None, "S7comm error codes of acknowledgements";
    "s7comm.opcode", [], Integer, many, "s7comm_opcode", None, "s7comm", None, "S7comm-plus opcodes (0x31 request, 0x32 response, 0x33 notification)";
    "iec104.apciType", [], Text, many, "iec104_apci_type", None, "iec104", None, "IEC 60870-5-104 frame formats seen (I, S, U)";
    "iec104.uFunction", [], Text, many, "iec104_u_function", None, "iec104", None, "IEC 60870-5-104 U-frame functions (STARTDT act, TESTFR con…)";
    "iec104.typeId", [], Integer, many, "iec104_type_id", None, "iec104", None, "IEC 60870-5-104 ASDU type identifications";
    "iec104.typeName", [], Text, many, "iec104_type_name", None, "iec104", None, "IEC 60870-5-104 ASDU type names (M_ME_NC_1, C_IC_NA_1…)";
    "iec104.cot", [], Integer, many, "iec104_cot", None, "iec104", None, "IEC 60870-5-104 causes of transmission";
    "iec104.commonAddress", [], Integer, many, "iec104_common_address", None, "iec104", None, "IEC 60870-5-104 common addresses (stations)";
    "rtp.payloadType", [], Integer, many, "rtp_payload_type", None, "rtp", None, "RTP payload types (0–34 static, 96–127 dynamic)";
    "rtp.codec", [], Text, many, "rtp_codec", None, "rtp", None, "RTP codecs of static payload types (PCMU, PCMA, G722, G729…)";
    "rtp.ssrc", [], LowerText, many, "rtp_ssrc", None, "rtp", None, "RTP synchronization sources (hex)";
    "rtcp.cname", [], Text, many, "rtcp_cname", None, "rtcp", None, "RTCP SDES canonical names (often user@host)";
    "mongodb.command", ["mongodb.op"], Text, many, "mongodb_command", None, "mongodb", None, "MongoDB commands the client sent (find, insert, saslStart…)";
    "mongodb.collection", [], Text, many, "mongodb_collection", None, "mongodb", None, "MongoDB collections named by commands";
    "mongodb.db", [], Text, many, "mongodb_db", None, "mongodb", None, "MongoDB databases of commands";
    "mongodb.response-time", [], Duration, many, "mongodb_response_time", None, "mongodb", None, "Milliseconds from each command to its answer (paired by request id)";
    "mongodb.error", [], Text, many, "mongodb_error", None, "mongodb", None, "MongoDB errors: code and message of answers with ok: 0, or a legacy reply's $err";
    "memcache.command", [], LowerText, many, "memcache_command", None, "memcache", None, "Memcached commands (text and binary protocols)";
    "memcache.response-time", [], Duration, many, "memcache_response_time", None, "memcache", None, "Milliseconds from each command to its answer (to END for retrievals and stats)";
    "memcache.key", [], Text, many, "memcache_key", None, "memcache", None, "Keys Memcached commands name first (text and binary)";
    "memcache.status", [], Text, many, "memcache_status", None, "memcache", None, "Memcached error answers (ERROR, CLIENT_ERROR…, or a binary status)";
    "redis.db", [], Text, many, "redis_db", None, "redis", None, "Redis databases selected (SELECT n)";
    "redis.command", [], Text, many, "redis_command", None, "redis", None, "Redis commands sent (upper case)";
    "redis.response-time", [], Duration, many, "redis_response_time", None, "redis", None, "Milliseconds from each command to its reply";
    "redis.error", [], Text, many, "redis_error", None, "redis", None, "Redis error replies";
    "redis.key", [], Text, many, "redis_key", None, "redis", None, "Keys Redis commands name first (not a subcommand, password, channel or script)";
    "diameter.cmd", [], Text, many, "diameter_cmd", None, "diameter", None, "Diameter commands (Credit-Control-Request (272)…)";
    "diameter.app", [], Text, many, "diameter_app", None, "diameter", None, "Diameter applications (3GPP-Gx (16777238)…)";
    "diameter.session-id", [], Text, many, "diameter_session_id", None, "diameter", None, "Diameter Session-Id AVPs";
    "diameter.origin-host", [], LowerText, many, "diameter_origin_host", None, "diameter", None, "Diameter Origin-Host AVPs";
    "diameter.origin-realm", [], LowerText, many, "diameter_origin_realm", None, "diameter", None, "Diameter Origin-Realm AVPs";
    "diameter.dest-host", [], LowerText, many, "diameter_dest_host", None, "diameter", None, "Diameter Destination-Host AVPs";
    "diameter.dest-realm", [], LowerText, many, "diameter_dest_realm", None, "diameter", None, "Diameter Destination-Realm AVPs";
    "diameter.user", [], Text, many, "diameter_user", None, "diameter", None, "Diameter User-Name AVPs (an IMSI on S6a)";
    "diameter.resultCode", [], Integer, many, "diameter_result_code", None, "diameter", None, "Diameter Result-Code AVPs: 2xxx success, 3xxx protocol error, 4xxx transient, 5xxx permanent failure";
    "ptp.msgType", [], Text, many, "ptp_msg_type", None, "ptp", None, "PTP message types (sync, announce, delay_req…)";
    "ptp.clockId", [], LowerText, many, "ptp_clock_id", None, "ptp", None, "PTP clock identities of the senders";
    "krb5.cname", [], Text, many, "krb5_cname", None, "krb5", None, "Kerberos client names";
    "krb5.realm", [], Text, many, "krb5_realm", None, "krb5", None, "Kerberos realms";
    "krb5.sname", [], Text, many, "krb5_sname", None, "krb5", None, "Kerberos service names";
    "krb5.etype", [], Text, many, "krb5_etype", None, "krb5", None, "Kerberos encryption types requests offer (aes256-cts-hmac-sha1-96, rc4-hmac…)";
    "krb5.error", [], Text, many, "krb5_error", None, "krb5", None, "Kerberos error codes (KDC_ERR_PREAUTH_REQUIRED…)";
    "ldap.authtype", [], Text, many, "ldap_authtype", None, "ldap", None, "LDAP bind authentication types (none, simple, sasl, ntlmsspNegotiate…)";
    "ldap.bindname", [], Text, many, "ldap_bindname", None, "ldap", None, "LDAP bind DNs (`<ROOT>` for the empty name)";
    "dcerpc.interface", [], LowerText, many, "dcerpc_interface", None, "dcerpc", None, "DCE/RPC interface names (well-known UUIDs)";
    "dcerpc.uuid", [], LowerText, many, "dcerpc_uuid", None, "dcerpc", None, "DCE/RPC interface UUIDs bound";
    "dcerpc.version", [], Text, many, "dcerpc_version", None, "dcerpc", None, "DCE/RPC interface major versions";
    "dcerpc.msgType", [], LowerText, many, "dcerpc_msg_type", None, "dcerpc", None, "DCE/RPC packet types (bind, bind-ack, request…)";
    "dcerpc.opnum", [], Integer, many, "dcerpc_opnum", None, "dcerpc", None, "DCE/RPC operation numbers requested";
    "postgresql.user", [], Text, many, "postgresql_user", None, "postgresql", None, "PostgreSQL user names";
    "postgresql.db", [], Text, many, "postgresql_db", None, "postgresql", None, "PostgreSQL databases";
    "postgresql.app", [], Text, many, "postgresql_app", None, "postgresql", None, "PostgreSQL application names";
    "pgsql.query", [], Text, many, "pgsql_query", None, "postgresql", None, "PostgreSQL statements (simple queries and extended-protocol batches), literals as ?";
    "pgsql.response-time", [], Duration, many, "pgsql_response_time", None, "postgresql", None, "Milliseconds from each request (a query, or a batch's Sync) to the server's ReadyForQuery";
    "pgsql.error", [], Text, many, "pgsql_error", None, "postgresql", None, "PostgreSQL errors: SQLSTATE and message";
    "pgsql.rows", [], Integer, many, "pgsql_rows", None, "postgresql", None, "Rows each statement returned or changed, as its CommandComplete counts them (SELECT, INSERT, UPDATE, DELETE, MERGE, COPY, FETCH, MOVE)";
    "tds.query", [], Text, many, "tds_query", None, "tds", None, "SQL Server (TDS) SQL batches, literals as ?";
    "tds.rpc", [], Text, many, "tds_rpc", None, "tds", None, "SQL Server (TDS) remote procedure calls by name (sp_executesql…)";
    "tds.response-time", [], Duration, many, "tds_response_time", None, "tds", None, "Milliseconds from each request (SQL batch, RPC) to its answer's first packet";
    "tds.error", [], Text, many, "tds_error", None, "tds", None, "SQL Server errors an answer begins with: number and message";
    "modbus.unitid", [], Integer, many, "modbus_unit_id", None, "modbus", None, "Modbus unit ids";
    "modbus.transactionid", [], Integer, many, "modbus_transaction_id", None, "modbus", None, "Modbus transaction ids";
    "modbus.protocolid", [], Integer, many, "modbus_protocol_id", None, "modbus", None, "Modbus protocol ids (always 0)";
    "modbus.funccode", [], Integer, many, "modbus_function", None, "modbus", None, "Modbus function codes";
    "modbus.exccode", [], Integer, many, "modbus_exception", None, "modbus", None, "Modbus exception codes";
    "enip.command", [], Text, many, "enip_command", None, "enip", None, "EtherNet/IP encapsulation commands (ListIdentity, RegisterSession, SendRRData…)";
    "enip.status", [], Integer, many, "enip_status", None, "enip", None, "EtherNet/IP encapsulation status codes (0 success)";
    "enip.service", [], Text, many, "enip_service", None, "enip", None, "CIP services of the data items (Get_Attribute_Single, Read_Tag, Forward_Open…; Reply for an answer to an unnamed one)";
    "enip.class", [], Text, many, "enip_class", None, "enip", None, "CIP object classes the requests' paths name (Identity, Connection Manager…)";
    "enip.vendor", [], Text, many, "enip_vendor", None, "enip", None, "Device vendors ListIdentity answers name (Vendor-N for an id not in the table)";
    "enip.product", [], Text, many, "enip_product", None, "enip", None, "Product names ListIdentity answers give";
    "enip.device-type", [], Text, many, "enip_device_type", None, "enip", None, "Device types ListIdentity answers give (DeviceType-0x000c)";
    "dnp3.src", [], Integer, many, "dnp3_src", None, "dnp3", None, "DNP3 source addresses";
    "dnp3.dst", [], Integer, many, "dnp3_dst", None, "dnp3", None, "DNP3 destination addresses";
    "dnp3.func", [], Integer, many, "dnp3_function", None, "dnp3", None, "DNP3 application function codes";
    "dnp3.funcName", [], Text, many, "dnp3_function_name", None, "dnp3", None, "DNP3 function names (Read, Write, DirectOperate, Response…)";
    "mqtt.clientId", [], Text, many, "mqtt_client_id", None, "mqtt", None, "MQTT client identifiers";
    "mqtt.topic", [], Text, many, "mqtt_topic", None, "mqtt", None, "MQTT topics published, subscribed or unsubscribed";
    "mqtt.version", [], Text, many, "mqtt_version", None, "mqtt", None, "MQTT protocol versions";
    "mqtt.type", [], Text, many, "mqtt_type", None, "mqtt", None, "MQTT packet types";
    "mqtt.willTopic", [], Text, many, "mqtt_will_topic", None, "mqtt", None, "MQTT last will topics";
    "mqtt.qos", [], Integer, many, "mqtt_qos", None, "mqtt", None, "MQTT quality of service levels";
    "mqtt.flags", [], Text, many, "mqtt_flags", None, "mqtt", None, "MQTT connect flags (cleanSession, hasWill, willRetain, hasPassword)";
    "mqtt.connackCode", [], Integer, many, "mqtt_connack_code", None, "mqtt", None, "MQTT CONNACK return codes (0 accepted)";
    "irc.nick", [], Text, many, "irc_nick", None, "irc", None, "IRC nicknames set";
    "irc.channel", [], Text, many, "irc_channel", None, "irc", None, "IRC channels joined";
    "bacnet.function", [], Text, many, "bacnet_function", None, "bacnet", None, "BACnet/IP BVLC functions (original-unicast, original-broadcast, forwarded-npdu…)";
    "bacnet.service", [], Text, many, "bacnet_service", None, "bacnet", None, "BACnet services of requests (read-property, who-is, i-am…)";
    "bacnet.apdu-type", [], Text, many, "bacnet_apdu_type", None, "bacnet", None, "BACnet APDU types (confirmed-request, complex-ack, error…)";
    "bacnet.object-name", [], Text, many, "bacnet_object_name", None, "bacnet", None, "BACnet object names (in I-Am, I-Have, Who-Has and ReadProperty answers)";
    "c1222.calledApTitle", [], Text, many, "c1222_called_ap_title", None, "c1222", None, "C12.22 called AP titles (object identifiers)";
    "c1222.callingApTitle", [], Text, many, "c1222_calling_ap_title", None, "c1222", None, "C12.22 calling AP titles (object identifiers)";
    "c1222.calledApInvocationId", [], Integer, many, "c1222_called_ap_invocation_id", None, "c1222", None, "C12.22 called AP invocation ids";
    "c1222.callingApInvocationId", [], Integer, many, "c1222_calling_ap_invocation_id", None, "c1222", None, "C12.22 calling AP invocation ids";
    "c1222.securityMode", [], Text, many, "c1222_security_mode", None, "c1222", None, "C12.22 EPSEM security modes (cleartext, cleartext-with-auth, ciphertext-with-auth)";
    "c1222.responseControl", [], Text, many, "c1222_response_control", None, "c1222", None, "C12.22 EPSEM response controls (always, on-exception, never)";
    "pana.msg-type", [], Text, many, "pana_msg_type", None, "pana", None, "PANA message types (client-initiation, auth, termination, notification)";
    "pana.session-id", [], Text, many, "pana_session_id", None, "pana", None, "PANA session ids (hex)";
    "pana.user", [], Text, many, "pana_user", None, "pana", None, "Identities of EAP Identity messages PANA carries";
    "adb.command", [], LowerText, many, "adb_command", None, "adb", None, "ADB commands between host and device (cnxn, auth, open, okay, wrte, clse, stls, sync)";
    "adb.version", [], Text, many, "adb_version", None, "adb", None, "ADB protocol versions of CNXN messages (0x01000001)";
    "adb.maxpayload", [], Text, many, "adb_maxpayload", None, "adb", None, "Largest payloads CNXN messages announce";
    "adb.systemtype", [], LowerText, many, "adb_systemtype", None, "adb", None, "System types of CNXN banners (device, host, bootloader, recovery…)";
    "adb.serial", [], Text, many, "adb_serial", None, "adb", None, "Device serial numbers of CNXN banners";
    "adb.authtype", [], LowerText, many, "adb_authtype", None, "adb", None, "ADB AUTH message kinds (token, signature, rsapublickey)";
    "adb.service", [], LowerText, many, "adb_service", None, "adb", None, "ADB services opened or asked of the host's server (shell, sync, forward, host…), before their arguments";
    "adb.streamid", [], Text, many, "adb_streamid", None, "adb", None, "ADB stream ids: an OPEN's local id, an OKAY's `<local>-<remote>`";
    "adb.sync.operation", [], Text, many, "adb_sync_operation", None, "adb", None, "File sync protocol requests and answers (SEND, RECV, STAT, LIST, DATA, DONE…)";
    "adb.sync.path", [], Text, many, "adb_sync_path", None, "adb", None, "Paths of file sync SEND, RECV, STAT and LIST requests";
    "adb.shell.exitcode", [], Text, many, "adb_shell_exitcode", None, "adb", None, "Exit statuses of shell protocol v2 commands";
    "adb.forward.direction", [], LowerText, many, "adb_forward_direction", None, "adb", None, "Port forwards asked for: forward or reverse";
    "adb.forward.local", [], Text, many, "adb_forward_local", None, "adb", None, "Local ends of port forwards (tcp:8080)";
    "adb.forward.remote", [], Text, many, "adb_forward_remote", None, "adb", None, "Remote ends of port forwards (tcp:80)";
    "entropy.src", [], Integer, one, "entropy_src", None, "general", None, "Shannon entropy of the source's TCP/UDP data bytes in bits, times 100 (0–800; filled when `entropy` is on)";
    "entropy.dst", [], Integer, one, "entropy_dst", None, "general", None, "Shannon entropy of the destination's TCP/UDP data bytes in bits, times 100 (filled when `entropy` is on)";
    "tcpseq.dst", [], Integer, one, "tcp_isn_dst", None, "general", None, "The first SYN-ACK's initial sequence number when it came before any SYN, 0 when a SYN came first (as Arkime)";
    "sctp.protoId", [], Integer, many, "sctp_proto_id", None, "sctp", None, "SCTP payload protocol identifiers of each direction's first user message (46 Diameter, 3 M3UA…)";
    "m3ua.si", [], Integer, many, "m3ua_si", None, "m3ua", None, "MTP3 service indicators of M3UA transfers and M2UA data (3 SCCP, 4 TUP, 5 ISUP)";
    "sccp.src", [], Integer, many, "sccp_src", None, "sccp", None, "SCCP calling party point codes (unitdata)";
    "sccp.dst", [], Integer, many, "sccp_dst", None, "sccp", None, "SCCP called party point codes (unitdata)";
    "tcap.opcode", [], Integer, many, "tcap_opcode", None, "tcap", None, "TCAP operation codes of CAMEL dialogues' components";
    "camel.op", [], Text, many, "camel_op", None, "camel", None, "CAP/CAMEL operation names (initialDP, connect, releaseCall…)";
    "camel.calling", [], Text, many, "camel_calling", None, "camel", None, "Calling party numbers of CAP InitialDP operations";
    "camel.called", [], Text, many, "camel_called", None, "camel", None, "Called party numbers of CAP InitialDP operations";
    "camel.imsi", [], Text, many, "camel_imsi", None, "camel", None, "IMSIs of CAP InitialDP operations";
    "ospf.msgType", [], Text, many, "ospf_msg_type", None, "ospf", None, "OSPF packet types (Hello, DBDesc, LSReq, LSUpdate, LSAck)";
    "ospf.routerId", [], Text, many, "ospf_router_id", None, "ospf", None, "OSPF router ids of the packets' senders";
    "ospf.areaId", [], Text, many, "ospf_area_id", None, "ospf", None, "OSPF area ids";
    "websocket.opcode", [], Text, many, "websocket_opcode", None, "websocket", None, "WebSocket frame opcodes (Text, Binary, Close, Ping, Pong…)";
    "websocket.closeCode", [], Integer, many, "websocket_close_code", None, "websocket", None, "WebSocket close status codes";
    "websocket.closeReason", [], Text, many, "websocket_close_reason", None, "websocket", None, "WebSocket close reasons";
    "websocket.payloadBytes", [], Integer, one, "websocket_payload_bytes", None, "websocket", None, "WebSocket payload bytes, both ways (of the row's frames)";
    "websocket.frameCnt", [], Integer, one, "websocket_frame_cnt", None, "websocket", None, "WebSocket frames, both ways (of the row)";
    "websocket.textSample", [], Text, many, "websocket_text_sample", None, "websocket", None, "The session's first four text frames, 256 bytes of each, unmasked";
    "websocket.maskedFromClient", [], Integer, one, "websocket_masked_from_client", None, "websocket", None, "WebSocket frames with the mask bit set (a client's must have it)";
    "tftp.opcode", [], Text, many, "tftp_opcode", None, "tftp", None, "TFTP opcodes (rrq, wrq, data, ack, error)";
    "tftp.filename", [], Text, many, "tftp_filename", None, "tftp", None, "TFTP file names";
    "bgp.type", [], Text, many, "bgp_type", None, "bgp", Upper, "BGP message types (OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH)";
    "radius.user", [], Text, many, "radius_user", None, "radius", None, "RADIUS user names";
    "radius.mac", [], LowerText, many, "radius_mac", None, "radius", None, "RADIUS calling station MACs";
    "radius.endpoint-ip", [], Ip, many, "radius_endpoint_ip", None, "radius", None, "RADIUS tunnel client endpoint addresses";
    "radius.framed-ip", [], Ip, many, "radius_framed_ip", None, "radius", None, "RADIUS framed (assigned) addresses";
    "radius.msgType", [], LowerText, many, "radius_msg_type", None, "radius", None, "RADIUS message types (access-request, accounting-request…)";
    "radius.nasIp", [], Ip, many, "radius_nas_ip", None, "radius", None, "RADIUS NAS addresses";
    "radius.nasPort", [], Integer, many, "radius_nas_port", None, "radius", None, "RADIUS NAS ports";
    "oracle.user", [], LowerText, many, "oracle_user", None, "oracle", None, "Oracle client OS users (connect descriptor)";
    "oracle.host", [], LowerText, many, "oracle_host", None, "oracle", None, "Oracle client hosts (connect descriptor)";
    "oracle.service", [], LowerText, many, "oracle_service", None, "oracle", None, "Oracle services (SERVICE_NAME or SID)";
    "ftp.command", [], Text, many, "ftp_command", None, "ftp", Upper, "FTP commands";
    "ftp.banner", [], Text, many, "ftp_banner", None, "ftp", None, "FTP servers' greetings (the 220 reply's text)";
    "ftp.responseCode", [], Integer, many, "ftp_response_code", None, "ftp", None, "FTP reply codes";
    "ftp.filename", [], Text, many, "ftp_filename", None, "ftp", None, "FTP file names";
    "ftp.control", [], Text, many, "ftp_control", None, "ftp", None, "Of an FTP data connection: the id of the control session that announced it";
    "email.smtp-hello", [], LowerText, many, "smtp_hello", None, "email", None, "SMTP HELO/EHLO names";
    "email.src", [], LowerText, many, "email_src", None, "email", None, "Mail senders (MAIL FROM, From)";
    "email.dst", [], LowerText, many, "email_dst", None, "email", None, "Mail recipients (RCPT TO, To)";
    "email.subject", [], Text, many, "email_subject", None, "email", None, "Mail subjects";
    "email.message-id", [], Text, many, "email_message_id", None, "email", None, "Mail Message-ID values";
    "email.x-mailer", [], Text, many, "email_x_mailer", None, "email", None, "Mail clients (X-Mailer, User-Agent)";
    "email.content-type", [], Text, many, "email_content_type", None, "email", None, "Mail content types";
    "email.has-header", [], LowerText, many, "email_header", None, "email", None, "Mail header names";
    "email.has-header.name", [], LowerText, many, "email_header_name", None, "email", None, "Mail header names other than those with a field of their own (From, To, Cc, Subject, Message-ID, Content-Type, MIME-Version, X-Mailer, User-Agent, Received, X-Originating-IP)";
    "email.has-header.value", [], Text, many, "email_header_value", None, "email", None, "Values of the headers of email.has-header.name";
    "email.folder", [], Text, many, "email_folder", None, "email", None, "Mailboxes opened over IMAP (SELECT, EXAMINE)";
    "email.mime-version", [], Text, many, "email_mime_version", None, "email", None, "MIME-Version header values";
    "email.fn", [], Text, many, "email_filename", None, "email", None, "Attachment file names (Content-Disposition of MIME parts)";
    "email.file-content-type", [], LowerText, many, "email_file_content_type", None, "email", None, "Content types of the MIME parts";
    "email.md5", [], LowerText, many, "email_md5", None, "email", None, "MD5 of each base64 MIME part's bytes";
    "email.sha256", [], LowerText, many, "email_sha256", None, "email", None, "SHA-256 of each base64 MIME part's bytes";
    "email.bodymagic", [], LowerText, many, "email_bodymagic", None, "email", None, "What base64 MIME parts are, from their first bytes (MIME types)";
    "host.email", ["email.host"], LowerText, many, "email_host", None, "email", Host, "Mail relays named by Received headers";
    "ip.email", [], Ip, many, "email_ip", None, "email", None, "Addresses in Received headers' brackets and X-Originating-IP";
    "dhcp.type", [], Text, many, "dhcp_type", None, "dhcp", Upper, "DHCP message types (DISCOVER, OFFER…)";
    "dhcp.id", [], LowerText, many, "dhcp_id", None, "dhcp", None, "DHCP transaction ids (hex)";
    "dhcp.host", [], LowerText, many, "dhcp_host", None, "dhcp", None, "DHCP client host names";
    "dhcp.mac", [], LowerText, many, "dhcp_mac", None, "dhcp", Mac, "DHCP client hardware addresses";
    "dhcp.oui", [], Text, many, "dhcp_oui", None, "dhcp", None, "Manufacturers of the DHCP clients' hardware addresses";
    "synchrophasor.frameType", [], LowerText, many, "synchrophasor_frame_type", None, "synchrophasor", None, "C37.118 frame types (data, header, cfg1, cfg2, command, cfg3)";
    "synchrophasor.idcode", [], Integer, many, "synchrophasor_idcode", None, "synchrophasor", None, "C37.118 data stream id codes";
    "synchrophasor.cmd", [], Integer, many, "synchrophasor_cmd", None, "synchrophasor", None, "C37.118 command codes (1 data off, 2 data on, 3 send header, 4 send CFG-1, 5 send CFG-2)";
    "synchrophasor.station", [], Text, many, "synchrophasor_station", None, "synchrophasor", None, "PMU station names of C37.118 configurations";
    "synchrophasor.dataRate", [], Integer, many, "synchrophasor_data_rate", None, "synchrophasor", None, "C37.118 data rates (frames a second; negative: seconds a frame)";
    "synchrophasor.numPMU", [], Integer, many, "synchrophasor_num_pmu", None, "synchrophasor", None, "PMUs in C37.118 configurations";
    "isis.msgType", [], LowerText, many, "isis_msg_type", None, "isis", None, "IS-IS PDU types (lan-l1-hello, lan-l2-hello, p2p-hello, l1-lsp, l2-lsp, l1-csnp, l2-csnp, l1-psnp, l2-psnp)";
    "esis.type", [], LowerText, many, "esis_type", None, "esis", None, "ES-IS PDU types (esh, ish, rd)";
    "arp.opcode", [], Integer, many, "arp_opcode", None, "arp", None, "ARP operations (1 request, 2 reply)";
    "arp.ip", [], Ip, many, "arp_ip", None, "arp", None, "Sender addresses of ARP replies: the address side of the IP↔MAC bindings the network announced";
    "arp.mac", [], LowerText, many, "arp_mac", None, "arp", Mac, "Sender hardware addresses of ARP replies: the MAC side of those bindings";
    "arp.oui", [], Text, many, "arp_oui", None, "arp", None, "Manufacturers of the ARP replies' sender hardware addresses";
    "dhcp.classId", [], Text, many, "dhcp_class_id", None, "dhcp", None, "DHCP vendor class identifiers";
    "dhcp.requestIp", [], Ip, many, "dhcp_request_ip", None, "dhcp", None, "DHCP requested addresses";
    "bittorrent.infohash", [], LowerText, many, "bittorrent_infohash", None, "bittorrent", None, "BitTorrent info hashes (hex), from handshakes and DHT lookups";
    "bittorrent.peerid", [], Text, many, "bittorrent_peerid", None, "bittorrent", None, "BitTorrent peer ids: the client tag of Azureus-style ids (`-qB4250-`), else hex";
    "snmp.version", [], Integer, many, "snmp_version", None, "snmp", None, "SNMP versions";
    "snmp.community", [], Text, many, "snmp_community", None, "snmp", None, "SNMP community strings";
    "snmp.type", [], Text, many, "snmp_type", None, "snmp", None, "SNMP PDU types (GetRequest, GetResponse, SNMPv2-Trap…)";
    "snmp.error", [], Text, many, "snmp_error", None, "snmp", None, "SNMP error statuses other than noError (noSuchName…)";
    "snmp.variable", [], Text, many, "snmp_variable", None, "snmp", None, "Names (OIDs) of the variables SNMP messages carry";
    "snmp.trap-oid", [], Text, many, "snmp_trap_oid", None, "snmp", None, "OIDs of traps (a v2 trap's snmpTrapOID.0, a v1 trap's enterprise)";
    "snmp.engineId", [], LowerText, many, "snmp_engine_id", None, "snmp", None, "SNMPv3 authoritative engine ids (hex)";
    "snmp.secLevel", [], Text, many, "snmp_sec_level", None, "snmp", None, "SNMPv3 security levels (noAuthNoPriv, authNoPriv, authPriv)";
    "host.socks", [], LowerText, many, "socks_host", None, "socks", None, "SOCKS destination host names";
    "ip.socks", [], Ip, many, "socks_ip", None, "socks", None, "SOCKS destination addresses";
    "port.socks", [], Integer, many, "socks_port", None, "socks", None, "SOCKS destination ports";
    "socks.user", [], Text, many, "socks_user", None, "socks", None, "SOCKS user names";
    "sip.user-agent", [], Text, many, "sip_user_agent", None, "sip", None, "SIP User-Agent values";
    "sip.method", [], Text, many, "sip_method", None, "sip", Upper, "SIP request methods";
    "sip.statuscode", [], Integer, many, "sip_statuscode", None, "sip", None, "SIP response codes";
    "sip.from", [], Text, many, "sip_from", None, "sip", None, "SIP From header values";
    "sip.to", [], Text, many, "sip_to", None, "sip", None, "SIP To header values";
    "sip.via", [], Text, many, "sip_via", None, "sip", None, "SIP Via header values";
    "sip.contact", [], Text, many, "sip_contact", None, "sip", None, "SIP Contact header values";
    "sip.user", [], Text, many, "sip_user", None, "sip", None, "Users of the sip: URIs of From and To, and of Digest credentials";
    "sip.callid", [], Text, many, "sip_callid", None, "sip", None, "SIP Call-ID values";
    "ntp.version", [], Integer, many, "ntp_version", None, "ntp", None, "NTP versions";
    "ntp.mode", [], Text, many, "ntp_mode", None, "ntp", None, "NTP modes (client, server, broadcast…)";
    "ntp.stratum", [], Integer, many, "ntp_stratum", None, "ntp", None, "NTP strata";
    "ntp.ref-id", [], Text, many, "ntp_ref_id", None, "ntp", None, "NTP reference ids: a clock or kiss code at strata 0 and 1 (GPS, INIT), the upstream server's address in hex above";
    "mysql.user", [], LowerText, many, "mysql_user", None, "mysql", None, "MySQL users";
    "mysql.ver", [], Text, many, "mysql_version", None, "mysql", None, "MySQL server versions";
    "mysql.query", [], Text, many, "mysql_query", None, "mysql", None, "MySQL statements (COM_QUERY, COM_STMT_PREPARE), literals as ?";
    "mysql.response-time", [], Duration, many, "mysql_response_time", None, "mysql", None, "Milliseconds from each command to the first packet of its answer";
    "mysql.error", [], Text, many, "mysql_error", None, "mysql", None, "MySQL errors: code, SQLSTATE and message";
    "mysql.rows", [], Integer, many, "mysql_rows", None, "mysql", None, "Rows each command's result set held, or the rows its OK packet says it changed";
}
}

/// IP fields that have a port beside them, for `ip.src == 10.0.0.1:80` and `ip == a:port`.
pub static IP_PORT_PAIRS: &[(&str, &str)] = &[("ip.src", "port.src"), ("ip.dst", "port.dst")];

/// Names that stand for several fields.
pub static FIELD_SETS: &[FieldSet] = &[
    FieldSet {
        name: "ip",
        kind: FieldKind::Ip,
        group: "general",
        description: "Any IP of the session: source, destination and the addresses protocols carry (DNS answers, X-Forwarded-For, mail relays…); `ip == a:port` checks source and destination with their ports",
        members: &[
            "ip.src",
            "ip.dst",
            "ip.dns",
            "ip.dns.nameserver",
            "ip.dns.mailserver",
            "ip.xff",
            "ip.socks",
            "dhcp.requestIp",
            "ip.email",
        ],
    },
    FieldSet {
        name: "port",
        kind: FieldKind::Integer,
        group: "general",
        description: "Source or destination port",
        members: &["port.src", "port.dst"],
    },
    FieldSet {
        name: "host",
        kind: FieldKind::LowerText,
        group: "general",
        description: "Every host name field: HTTP Host, DNS names, TLS and QUIC server names, SMB, DHCP, SOCKS, mail relays",
        members: &[
            "host.http",
            "host.dns",
            "host.dns.nameserver",
            "host.dns.mailserver",
            "host.tls",
            "host.quic",
            "host.smb",
            "dhcp.host",
            "host.socks",
            "host.email",
        ],
    },
    FieldSet {
        name: "country",
        kind: FieldKind::Text,
        group: "general",
        description: "Source or destination country",
        members: &["country.src", "country.dst"],
    },
    FieldSet {
        name: "asn",
        kind: FieldKind::Text,
        group: "general",
        description: "Source or destination AS",
        members: &["asn.src", "asn.dst"],
    },
    FieldSet {
        name: "host.dns.all",
        kind: FieldKind::LowerText,
        group: "dns",
        description: "DNS names asked or answered, or name servers (host.dns or host.dns.nameserver)",
        members: &["host.dns", "host.dns.nameserver"],
    },
    FieldSet {
        name: "ip.dns.all",
        kind: FieldKind::Ip,
        group: "dns",
        description: "Addresses in DNS answers or of the name servers (ip.dns or ip.dns.nameserver)",
        members: &["ip.dns", "ip.dns.nameserver"],
    },
    FieldSet {
        name: "payload8.hex",
        kind: FieldKind::LowerText,
        group: "general",
        description: "First 8 bytes of payload in hex, either direction",
        members: &["payload8.src.hex", "payload8.dst.hex"],
    },
    FieldSet {
        name: "payload8.utf8",
        kind: FieldKind::Text,
        group: "general",
        description: "First 8 bytes of payload as text, either direction",
        members: &["payload8.src.utf8", "payload8.dst.utf8"],
    },
    FieldSet {
        name: "rir",
        kind: FieldKind::Text,
        group: "general",
        description: "Source or destination regional registry",
        members: &["rir.src", "rir.dst"],
    },
    FieldSet {
        name: "outerip",
        kind: FieldKind::Ip,
        group: "general",
        description: "Source or destination IP of the outermost tunnel header",
        members: &["outerip.src", "outerip.dst"],
    },
    FieldSet {
        name: "outermac",
        kind: FieldKind::LowerText,
        group: "general",
        description: "Source or destination Ethernet address of the outer frame of a tunnel",
        members: &["outermac.src", "outermac.dst"],
    },
    FieldSet {
        name: "mac",
        kind: FieldKind::LowerText,
        group: "general",
        description: "Source or destination ethernet address",
        members: &["mac.src", "mac.dst"],
    },
    FieldSet {
        name: "http.hasheader",
        kind: FieldKind::LowerText,
        group: "http",
        description: "A request or response header name",
        members: &["http.hasheader.src", "http.hasheader.dst"],
    },
    FieldSet {
        name: "http.hasheader.value",
        kind: FieldKind::LowerText,
        group: "http",
        description: "A request or response header value (http.hasheader.src.value or http.hasheader.dst.value)",
        members: &["http.hasheader.src.value", "http.hasheader.dst.value"],
    },
    FieldSet {
        name: "tls.sessionid",
        kind: FieldKind::LowerText,
        group: "tls",
        description: "A TLS session id either side sent (tls.sessionid.src or tls.sessionid.dst)",
        members: &["tls.sessionid.src", "tls.sessionid.dst"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_columns_are_unique() {
        let names: HashSet<_> = FIELDS.iter().map(|f| f.name).collect();
        let columns: HashSet<_> = FIELDS.iter().map(|f| f.column).collect();
        assert_eq!(names.len(), FIELDS.len());
        assert_eq!(columns.len(), FIELDS.len());
        for f in FIELDS {
            assert!(
                f.column.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                f.column
            );
            for a in f.aliases {
                assert!(!names.contains(a), "alias {a} of {} is another field's name", f.name);
            }
        }
    }

    #[test]
    fn sets_name_real_fields_of_their_kind() {
        for s in FIELD_SETS {
            for m in s.members {
                let f = field(m).unwrap_or_else(|| panic!("{}: {m}", s.name));
                let same = f.kind == s.kind
                    || matches!(
                        (f.kind, s.kind),
                        (FieldKind::Text | FieldKind::LowerText, FieldKind::Text | FieldKind::LowerText)
                    );
                assert!(same, "{}: {m}", s.name);
            }
        }
        for (ip, port) in IP_PORT_PAIRS {
            assert_eq!(field(ip).map(|f| f.kind), Some(FieldKind::Ip));
            assert_eq!(field(port).map(|f| f.kind), Some(FieldKind::Integer));
        }
    }

    #[test]
    fn names_follow_arkime_where_arkime_has_them() {
        // A sample of the names the issue lists; the full list lives in the query catalogue.
        for n in [
            "ip.src",
            "ip.dst",
            "port.src",
            "port.dst",
            "ip.protocol",
            "protocols",
            "packets.src",
            "bytes.dst",
            "databytes.src",
            "tcpflags.syn",
            "tcpflags.syn-ack",
            "starttime",
            "stoptime",
            "vlan",
            "mac.src",
            "node",
            "tags",
        ] {
            assert!(field(n).is_some(), "{n}");
        }
    }
}

/// A dissector field's name, typed by the values it takes: what dissectors file
/// values under. Made only by [`text_field!`](crate::text_field) and its siblings,
/// which check the name and the kind against the catalogue when the program is
/// compiled, so a misspelt field or one of another kind does not compile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextField(pub &'static str);
/// See [`TextField`]: an integer field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntField(pub &'static str);
/// See [`TextField`]: a span of time (given in nanoseconds, kept in microseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurationField(pub &'static str);
/// See [`TextField`]: a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeField(pub &'static str);
/// See [`TextField`]: an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpField(pub &'static str);

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The kind of value a handle takes.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub enum Takes {
    Text,
    Int,
    Duration,
    Time,
    Ip,
}

/// `name` if the catalogue has a dissector field of that name that takes values
/// of that kind; else a panic, which in the constant the handle macros make is a
/// compile error naming the field.
#[doc(hidden)]
pub const fn field_handle(name: &'static str, takes: Takes) -> &'static str {
    let mut i = 0;
    while i < EXTRA_KINDS.len() {
        let (n, kind) = EXTRA_KINDS[i];
        if same(n, name) {
            let fits = match takes {
                Takes::Text => matches!(kind, FieldKind::Text | FieldKind::LowerText),
                Takes::Int => matches!(kind, FieldKind::Integer),
                Takes::Duration => matches!(kind, FieldKind::Duration),
                Takes::Time => matches!(kind, FieldKind::Date),
                Takes::Ip => matches!(kind, FieldKind::Ip),
            };
            if !fits {
                panic!("{}", name);
            }
            return name;
        }
        i += 1;
    }
    panic!("{}", name)
}

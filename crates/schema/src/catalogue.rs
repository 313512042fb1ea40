use serde_json::Value;
use tyto_packet::{Addr, MacAddr};

use crate::time::format_rfc3339;
use crate::SessionRecord;

/// Version of the session table's layout; stores record it and refuse what they do
/// not understand.
pub const SCHEMA_VERSION: u32 = 1;

/// The type of a field's values, as a query or a column sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    Ip,
    Integer,
    /// A time, held in nanoseconds, shown and stored to the microsecond.
    Date,
    /// Text compared as written.
    Text,
    /// Text stored lower-cased and compared without case.
    LowerText,
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
        })
    }
}

/// One field, described once.
pub struct FieldDef {
    /// The expression name analysts type (Arkime's where Arkime has the field).
    pub name: &'static str,
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
    pub get: for<'a> fn(&'a SessionRecord) -> FieldValue<'a>,
}

/// Looks a field up by its expression name.
pub fn field(name: &str) -> Option<&'static FieldDef> {
    FIELDS.iter().find(|f| f.name == name)
}

fn ints<T: Copy + Into<i64>>(v: &[T]) -> FieldValue<'static> {
    FieldValue::Ints(v.iter().map(|x| (*x).into()).collect())
}

fn opt_ip(a: Option<Addr>) -> FieldValue<'static> {
    a.map_or(FieldValue::Null, FieldValue::Ip)
}

fn int(v: impl Into<i64>) -> FieldValue<'static> {
    FieldValue::Int(v.into())
}

fn u(v: u64) -> FieldValue<'static> {
    FieldValue::Int(v.min(i64::MAX as u64) as i64)
}

macro_rules! fields {
    ($( $name:literal, $kind:ident, $multi:literal, $column:literal, $ecs:expr, $group:literal, $dump:literal, $desc:literal, |$r:ident| $get:expr; )*) => {
        /// Every field of a session record, in display order.
        pub static FIELDS: &[FieldDef] = &[
            $( FieldDef {
                name: $name,
                kind: FieldKind::$kind,
                multi: $multi,
                column: $column,
                ecs: $ecs,
                group: $group,
                description: $desc,
                in_dump: $dump,
                get: |$r| $get,
            }, )*
        ];
    };
}

fields! {
    "id", Text, false, "id", Some("event.id"), "general", true,
        "Tyto's id for the session (segment)", |r| FieldValue::Str(&r.id);
    "rootId", Text, false, "root_id", None, "general", true,
        "Id of the first segment of a session written in several", |r| FieldValue::Str(&r.root_id);
    "session.segments", Integer, false, "segment", None, "general", true,
        "Which segment of its session this row is (1 for the first)", |r| int(r.segment);
    "node", Text, false, "node", Some("observer.name"), "general", true,
        "Name of the sensor that recorded the session", |r| FieldValue::Str(&r.node);
    "ip.protocol", Integer, false, "ip_protocol", Some("network.iana_number"), "general", true,
        "IP protocol number (0 for frames that carry no IP)", |r| int(r.ip_protocol);
    "ethertype", Integer, false, "ethertype", None, "general", true,
        "The ethernet protocol type of the innermost link layer", |r| int(r.ethertype);
    "ip.src", Ip, false, "src_ip", Some("source.ip"), "general", true,
        "Source IP: the side that opened the session", |r| opt_ip(r.src_ip);
    "port.src", Integer, false, "src_port", Some("source.port"), "general", true,
        "Source port", |r| int(r.src_port);
    "ip.dst", Ip, false, "dst_ip", Some("destination.ip"), "general", true,
        "Destination IP", |r| opt_ip(r.dst_ip);
    "port.dst", Integer, false, "dst_port", Some("destination.port"), "general", true,
        "Destination port", |r| int(r.dst_port);
    "starttime", Date, false, "start_time", Some("event.start"), "general", true,
        "Time of the session's first packet", |r| FieldValue::Time(r.start_ns);
    "stoptime", Date, false, "stop_time", Some("event.end"), "general", true,
        "Time of the session's last packet", |r| FieldValue::Time(r.stop_ns);
    "packets", Integer, false, "packets", Some("network.packets"), "general", true,
        "Packets sent and received", |r| u(r.packets());
    "packets.src", Integer, false, "src_packets", Some("source.packets"), "general", true,
        "Packets sent by the source", |r| u(r.src.packets);
    "packets.dst", Integer, false, "dst_packets", Some("destination.packets"), "general", true,
        "Packets sent by the destination", |r| u(r.dst.packets);
    "bytes", Integer, false, "bytes", Some("network.bytes"), "general", true,
        "Bytes on the wire sent and received, link-layer headers included", |r| u(r.bytes());
    "bytes.src", Integer, false, "src_bytes", Some("source.bytes"), "general", true,
        "Bytes on the wire sent by the source", |r| u(r.src.bytes);
    "bytes.dst", Integer, false, "dst_bytes", Some("destination.bytes"), "general", true,
        "Bytes on the wire sent by the destination", |r| u(r.dst.bytes);
    "databytes", Integer, false, "databytes", None, "general", true,
        "Payload bytes sent and received", |r| u(r.databytes());
    "databytes.src", Integer, false, "src_databytes", None, "general", true,
        "Payload bytes sent by the source", |r| u(r.src.databytes);
    "databytes.dst", Integer, false, "dst_databytes", None, "general", true,
        "Payload bytes sent by the destination", |r| u(r.dst.databytes);
    "protocols", LowerText, true, "protocols", Some("network.protocol"), "general", true,
        "Protocols seen in the session", |r| FieldValue::Strs(&r.protocols);
    "tcpflags.syn", Integer, false, "tcpflags_syn", None, "general", true,
        "Packets with SYN and no ACK", |r| int(r.tcp_flags.syn);
    "tcpflags.syn-ack", Integer, false, "tcpflags_syn_ack", None, "general", true,
        "Packets with SYN and ACK", |r| int(r.tcp_flags.syn_ack);
    "tcpflags.ack", Integer, false, "tcpflags_ack", None, "general", true,
        "Packets with only the ACK flag", |r| int(r.tcp_flags.ack);
    "tcpflags.psh", Integer, false, "tcpflags_psh", None, "general", true,
        "Packets with PSH", |r| int(r.tcp_flags.psh);
    "tcpflags.fin", Integer, false, "tcpflags_fin", None, "general", true,
        "Packets with FIN", |r| int(r.tcp_flags.fin);
    "tcpflags.rst", Integer, false, "tcpflags_rst", None, "general", true,
        "Packets with RST", |r| int(r.tcp_flags.rst);
    "tcpflags.urg", Integer, false, "tcpflags_urg", None, "general", true,
        "Packets with URG", |r| int(r.tcp_flags.urg);
    "tcpflags.ece", Integer, false, "tcpflags_ece", None, "general", true,
        "Packets with ECE", |r| int(r.tcp_flags.ece);
    "tcpflags.cwr", Integer, false, "tcpflags_cwr", None, "general", true,
        "Packets with CWR", |r| int(r.tcp_flags.cwr);
    "tcpflags.ae", Integer, false, "tcpflags_ae", None, "general", true,
        "Packets with AE (accurate ECN)", |r| int(r.tcp_flags.ae);
    "tcp.retransmissions", Integer, false, "tcp_retransmissions", None, "general", true,
        "TCP segments whose bytes had been seen already", |r| int(r.tcp_stream.retransmissions);
    "tcp.outoforder", Integer, false, "tcp_out_of_order", None, "general", true,
        "TCP segments that arrived ahead of a hole", |r| int(r.tcp_stream.out_of_order);
    "tcp.overlaps", Integer, false, "tcp_overlaps", None, "general", true,
        "TCP segments that overlapped seen bytes with different content", |r| int(r.tcp_stream.overlaps);
    "tcp.gapbytes", Integer, false, "tcp_gap_bytes", None, "general", true,
        "TCP payload bytes never seen (holes in the stream)", |r| u(r.tcp_stream.gap_bytes);
    "vlan", Integer, true, "vlan", Some("network.vlan.id"), "general", true,
        "VLAN ids", |r| ints(&r.vlans);
    "vni", Integer, true, "vni", None, "general", true,
        "VXLAN/Geneve network identifiers", |r| ints(&r.vnis);
    "mac.src", LowerText, true, "mac_src", Some("source.mac"), "general", true,
        "Source ethernet addresses", |r| FieldValue::Macs(&r.mac_src);
    "mac.dst", LowerText, true, "mac_dst", Some("destination.mac"), "general", true,
        "Destination ethernet addresses", |r| FieldValue::Macs(&r.mac_dst);
    "outerip.src", Ip, true, "outer_ip_src", None, "general", true,
        "Source IP of the outermost tunnel header", |r| FieldValue::Ips(&r.outer_ip_src);
    "outerip.dst", Ip, true, "outer_ip_dst", None, "general", true,
        "Destination IP of the outermost tunnel header", |r| FieldValue::Ips(&r.outer_ip_dst);
    "tunnel", LowerText, true, "tunnels", None, "general", true,
        "Encapsulations the packets travelled in (vlan, mpls, gre, vxlan, gtp, …)", |r| FieldValue::Strs(&r.tunnels);
    "ttl.src", Integer, true, "ttl_src", None, "general", true,
        "Source IP TTLs seen", |r| ints(&r.ttl_src);
    "ttl.dst", Integer, true, "ttl_dst", None, "general", true,
        "Destination IP TTLs seen", |r| ints(&r.ttl_dst);
    "icmp.type", Integer, true, "icmp_type", Some("icmp.type"), "general", true,
        "ICMP types seen", |r| ints(&r.icmp_types);
    "icmp.code", Integer, true, "icmp_code", Some("icmp.code"), "general", true,
        "ICMP codes seen", |r| ints(&r.icmp_codes);
    "tags", Text, true, "tags", Some("tags"), "general", true,
        "Tags set on the session", |r| FieldValue::Strs(&r.tags);
    "session.closereason", LowerText, false, "close_reason", None, "general", true,
        "Why the row was written: tcp-close, idle, max-packets, max-age, evicted, end-of-input", |r| FieldValue::Str(r.close_reason.as_str());
    "packetPos", Integer, true, "packet_pos", None, "general", false,
        "Where the packets are stored (file switches as negative ids, then byte offsets)", |r| ints(&r.packet_pos);
}

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

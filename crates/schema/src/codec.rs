//! Session records as bytes, for rows that wait on disk until a store takes them
//! (the writer's spool). Written here rather than with a serialisation crate: the
//! record's extra fields are keyed by catalogue names that must come back as the
//! catalogue's own `&'static str`, and a reader of files on disk must refuse what is
//! damaged — every length bounded, every name checked — without panicking.
//!
//! Layout: little-endian integers, lengths as u32, strings as UTF-8 after their
//! length. A record's transactions are kept with it (the store writes them beside
//! the row).

use tyto_packet::{Addr, MacAddr};

use crate::catalogue::{field, Source};
use crate::extra::{Values, MAX_TEXT_LEN, MAX_VALUES_PER_FIELD};
use crate::record::{CloseReason, DirStats, Handshake, SessionRecord, TcpFlagCounts, TcpHealth, TcpStreamStats};
use crate::transaction::{Transaction, Transactions, MAX_TRANSACTIONS};
use crate::Extra;

/// The layout [`encode`] writes. Layout 1 had no [`TcpHealth`], layout 2 no
/// transactions, layout 3 no first payload bytes, layout 4 no sequence checks;
/// rows waiting on disk from a version that wrote them are still read
/// ([`decode_layout`]).
pub const LAYOUT: u32 = 5;

/// Items one list may claim (the record's own lists are far shorter).
const MAX_ITEMS: u32 = 1 << 20;
/// Bytes one string may claim.
const MAX_STRING: u32 = 1 << 20;

/// Why bytes are not a record.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a session record at byte {at}: {why}")]
pub struct CodecError {
    pub at: usize,
    pub why: String,
}

struct W<'a>(&'a mut Vec<u8>);

impl W<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len(&mut self, n: usize) {
        self.u32(n.min(u32::MAX as usize) as u32);
    }
    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn strs(&mut self, v: &[String]) {
        self.len(v.len());
        v.iter().for_each(|s| self.str(s));
    }
    fn addr(&mut self, a: &Addr) {
        self.0.extend_from_slice(&a.0);
    }
    fn addrs(&mut self, v: &[Addr]) {
        self.len(v.len());
        v.iter().for_each(|a| self.addr(a));
    }
    fn opt_addr(&mut self, a: &Option<Addr>) {
        match a {
            Some(a) => {
                self.u8(1);
                self.addr(a);
            }
            None => self.u8(0),
        }
    }
    fn macs(&mut self, v: &[MacAddr]) {
        self.len(v.len());
        v.iter().for_each(|m| self.0.extend_from_slice(&m.0));
    }
    fn bytes(&mut self, v: &[u8]) {
        self.len(v.len());
        self.0.extend_from_slice(v);
    }
    fn dir(&mut self, d: &DirStats) {
        self.u64(d.packets);
        self.u64(d.bytes);
        self.u64(d.databytes);
    }
    fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.i64(v);
            }
            None => self.u8(0),
        }
    }
}

struct R<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> R<'a> {
    fn err(&self, why: impl Into<String>) -> CodecError {
        CodecError { at: self.at, why: why.into() }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.b.len()).ok_or_else(|| self.err("cut short"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, CodecError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64, CodecError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
    fn len(&mut self, max: u32) -> Result<usize, CodecError> {
        let n = self.u32()?;
        if n > max {
            return Err(self.err(format!("a length of {n} (at most {max})")));
        }
        Ok(n as usize)
    }
    fn str(&mut self) -> Result<String, CodecError> {
        let n = self.len(MAX_STRING)?;
        let at = self.at;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| CodecError { at, why: "text that is not UTF-8".into() })
    }
    fn strs(&mut self) -> Result<Vec<String>, CodecError> {
        let n = self.len(MAX_ITEMS)?;
        (0..n).map(|_| self.str()).collect()
    }
    fn addr(&mut self) -> Result<Addr, CodecError> {
        Ok(Addr(self.array()?))
    }
    fn addrs(&mut self) -> Result<Vec<Addr>, CodecError> {
        let n = self.len(MAX_ITEMS)?;
        (0..n).map(|_| self.addr()).collect()
    }
    fn opt_addr(&mut self) -> Result<Option<Addr>, CodecError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.addr()?)),
            t => Err(self.err(format!("an address tag {t}"))),
        }
    }
    fn macs(&mut self) -> Result<Vec<MacAddr>, CodecError> {
        let n = self.len(MAX_ITEMS)?;
        (0..n).map(|_| Ok(MacAddr(self.array()?))).collect()
    }
    fn bytes(&mut self) -> Result<Vec<u8>, CodecError> {
        let n = self.len(MAX_ITEMS)?;
        Ok(self.take(n)?.to_vec())
    }
    fn dir(&mut self) -> Result<DirStats, CodecError> {
        Ok(DirStats { packets: self.u64()?, bytes: self.u64()?, databytes: self.u64()? })
    }
    fn opt_i64(&mut self) -> Result<Option<i64>, CodecError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.i64()?)),
            t => Err(self.err(format!("an optional number tag {t}"))),
        }
    }
}

/// By their code in the encoding: new reasons are added at the end.
const REASONS: [CloseReason; 7] = [
    CloseReason::TcpClose,
    CloseReason::Idle,
    CloseReason::MaxPackets,
    CloseReason::MaxAge,
    CloseReason::Evicted,
    CloseReason::EndOfInput,
    CloseReason::Quiet,
];

/// Appends one record.
pub fn encode(r: &SessionRecord, out: &mut Vec<u8>) {
    let mut w = W(out);
    encode_head(&mut w, r);
    encode_health(&mut w, &r.tcp_health);
    encode_tail(&mut w, r);
    encode_transactions(&mut w, &r.transactions);
    for p in &r.payload8 {
        w.bytes(p.bytes());
    }
    encode_sequence_checks(&mut w, &r.tcp_health.sequence_checks);
}

/// A byte of bits (present, SYN validated, SYN-ACK validated, ISN known), the ISN
/// and the count of ISNs.
fn encode_sequence_checks(w: &mut W<'_>, checks: &Option<crate::SequenceChecks>) {
    let Some(c) = checks else {
        w.u8(0);
        return;
    };
    w.u8(1 | u8::from(c.syn_validated) << 1 | u8::from(c.syn_ack_validated) << 2 | u8::from(c.isn_src.is_some()) << 3);
    w.u32(c.isn_src.unwrap_or(0));
    w.u32(c.isn_count_src);
}

fn decode_sequence_checks(r: &mut R<'_>) -> Result<Option<crate::SequenceChecks>, CodecError> {
    let bits = r.u8()?;
    if bits & 1 == 0 {
        return Ok(None);
    }
    let isn = r.u32()?;
    Ok(Some(crate::SequenceChecks {
        isn_src: (bits & 8 != 0).then_some(isn),
        isn_count_src: r.u32()?,
        syn_validated: bits & 2 != 0,
        syn_ack_validated: bits & 4 != 0,
    }))
}

/// What every layout begins with: the flow, its counts and TCP's stream statistics.
fn encode_head(w: &mut W<'_>, r: &SessionRecord) {
    w.str(&r.id);
    w.str(&r.root_id);
    w.u32(r.segment);
    w.str(&r.node);
    w.u8(r.ip_protocol);
    w.u16(r.ethertype);
    w.opt_addr(&r.src_ip);
    w.opt_addr(&r.dst_ip);
    w.u16(r.src_port);
    w.u16(r.dst_port);
    w.i64(r.start_ns);
    w.i64(r.stop_ns);
    w.dir(&r.src);
    w.dir(&r.dst);
    let f = &r.tcp_flags;
    for v in [f.syn, f.syn_ack, f.ack, f.psh, f.fin, f.rst, f.urg, f.ece, f.cwr, f.ae] {
        w.u32(v);
    }
    let t = &r.tcp_stream;
    w.u32(t.retransmissions);
    w.u32(t.out_of_order);
    w.u32(t.overlaps);
    w.u64(t.gap_bytes);
    w.u32(t.dropped_segments);
}

fn encode_health(w: &mut W<'_>, h: &TcpHealth) {
    for v in [h.rtt_server_us, h.rtt_client_us, h.first_data_src_us, h.first_data_dst_us] {
        w.opt_i64(v);
    }
    w.u8(HANDSHAKES.iter().position(|k| *k == h.handshake).unwrap_or(0) as u8);
    for v in [h.zero_window_src, h.zero_window_dst, h.window_full_src, h.window_full_dst, h.rst_src, h.rst_dst] {
        w.u32(v);
    }
}

fn encode_tail(w: &mut W<'_>, r: &SessionRecord) {
    w.strs(&r.protocols);
    w.len(r.vlans.len());
    r.vlans.iter().for_each(|v| w.u16(*v));
    w.len(r.vnis.len());
    r.vnis.iter().for_each(|v| w.u32(*v));
    w.macs(&r.mac_src);
    w.macs(&r.mac_dst);
    w.addrs(&r.outer_ip_src);
    w.addrs(&r.outer_ip_dst);
    w.strs(&r.tunnels);
    w.bytes(&r.ttl_src);
    w.bytes(&r.ttl_dst);
    w.bytes(&r.icmp_types);
    w.bytes(&r.icmp_codes);
    w.strs(&r.tags);
    encode_extra(w, &r.extra);
    w.u8(REASONS.iter().position(|c| *c == r.close_reason).unwrap_or(1) as u8);
    w.len(r.packet_pos.len());
    r.packet_pos.iter().for_each(|p| w.i64(*p));
}

fn encode_extra(w: &mut W<'_>, extra: &Extra) {
    let extras: Vec<_> = extra.iter().collect();
    w.len(extras.len());
    for (name, values) in extras {
        w.str(name);
        match values {
            Values::Text(v) => {
                w.u8(0);
                w.strs(v);
            }
            Values::Int(v) => {
                w.u8(1);
                w.len(v.len());
                v.iter().for_each(|i| w.i64(*i));
            }
            Values::Ip(v) => {
                w.u8(2);
                w.addrs(v);
            }
        }
    }
}

/// Layout 3: whether the row keeps transactions, then each of them.
fn encode_transactions(w: &mut W<'_>, t: &Option<Transactions>) {
    let Some(t) = t else {
        w.u8(0);
        return;
    };
    w.u8(1);
    w.u32(t.dropped);
    w.len(t.list.len());
    for t in &t.list {
        w.str(t.protocol);
        w.opt_i64(t.request_ns);
        w.opt_i64(t.response_ns);
        w.u64(t.request_bytes);
        w.u64(t.response_bytes);
        w.opt_i64(t.response_us);
        encode_extra(w, &t.values);
    }
}

const HANDSHAKES: [Handshake; 4] = [Handshake::Unseen, Handshake::Ok, Handshake::Reset, Handshake::Failed];

/// Reads one record from the start of `b`; returns it and the bytes it took.
pub fn decode(b: &[u8]) -> Result<(SessionRecord, usize), CodecError> {
    decode_layout(b, LAYOUT)
}

/// [`decode`] for bytes written in an older `layout`.
pub fn decode_layout(b: &[u8], layout: u32) -> Result<(SessionRecord, usize), CodecError> {
    let mut r = R { b, at: 0 };
    let mut rec = SessionRecord {
        id: r.str()?,
        root_id: r.str()?,
        segment: r.u32()?,
        node: r.str()?,
        ip_protocol: r.u8()?,
        ethertype: r.u16()?,
        src_ip: r.opt_addr()?,
        dst_ip: r.opt_addr()?,
        src_port: r.u16()?,
        dst_port: r.u16()?,
        start_ns: r.i64()?,
        stop_ns: r.i64()?,
        src: r.dir()?,
        dst: r.dir()?,
        ..SessionRecord::default()
    };
    let mut flags = [0u32; 10];
    for f in &mut flags {
        *f = r.u32()?;
    }
    let [syn, syn_ack, ack, psh, fin, rst, urg, ece, cwr, ae] = flags;
    rec.tcp_flags = TcpFlagCounts { syn, syn_ack, ack, psh, fin, rst, urg, ece, cwr, ae };
    rec.tcp_stream = TcpStreamStats {
        retransmissions: r.u32()?,
        out_of_order: r.u32()?,
        overlaps: r.u32()?,
        gap_bytes: r.u64()?,
        dropped_segments: r.u32()?,
    };
    if layout >= 2 {
        let mut times = [None; 4];
        for t in &mut times {
            *t = r.opt_i64()?;
        }
        let kind = r.u8()? as usize;
        let handshake = *HANDSHAKES.get(kind).ok_or_else(|| r.err(format!("a handshake kind {kind}")))?;
        let mut counts = [0u32; 6];
        for c in &mut counts {
            *c = r.u32()?;
        }
        let [rtt_server_us, rtt_client_us, first_data_src_us, first_data_dst_us] = times;
        let [zero_window_src, zero_window_dst, window_full_src, window_full_dst, rst_src, rst_dst] = counts;
        rec.tcp_health = TcpHealth {
            rtt_server_us,
            rtt_client_us,
            first_data_src_us,
            first_data_dst_us,
            handshake,
            zero_window_src,
            zero_window_dst,
            window_full_src,
            window_full_dst,
            rst_src,
            rst_dst,
            sequence_checks: None,
        };
    }
    rec.protocols = r.strs()?;
    let n = r.len(MAX_ITEMS)?;
    rec.vlans = (0..n).map(|_| r.u16()).collect::<Result<_, _>>()?;
    let n = r.len(MAX_ITEMS)?;
    rec.vnis = (0..n).map(|_| r.u32()).collect::<Result<_, _>>()?;
    rec.mac_src = r.macs()?;
    rec.mac_dst = r.macs()?;
    rec.outer_ip_src = r.addrs()?;
    rec.outer_ip_dst = r.addrs()?;
    rec.tunnels = r.strs()?;
    rec.ttl_src = r.bytes()?;
    rec.ttl_dst = r.bytes()?;
    rec.icmp_types = r.bytes()?;
    rec.icmp_codes = r.bytes()?;
    rec.tags = r.strs()?;
    decode_extra(&mut r, &mut rec.extra)?;
    let reason = r.u8()? as usize;
    rec.close_reason = *REASONS.get(reason).ok_or_else(|| r.err(format!("a close reason {reason}")))?;
    let n = r.len(MAX_ITEMS)?;
    rec.packet_pos = (0..n).map(|_| r.i64()).collect::<Result<_, _>>()?;
    if layout >= 3 {
        rec.transactions = decode_transactions(&mut r)?;
    }
    if layout >= 4 {
        for p in &mut rec.payload8 {
            *p = crate::record::Payload8::from_bytes(&r.bytes()?);
        }
    }
    if layout >= 5 {
        rec.tcp_health.sequence_checks = decode_sequence_checks(&mut r)?;
    }
    Ok((rec, r.at))
}

fn decode_extra(r: &mut R<'_>, extra: &mut Extra) -> Result<(), CodecError> {
    let fields = r.len(MAX_ITEMS)?;
    for _ in 0..fields {
        let at = r.at;
        let name = r.str()?;
        let def = field(&name)
            .filter(|f| matches!(f.source, Source::Extra) && f.name == name)
            .ok_or_else(|| CodecError { at, why: format!("no dissector field named {name:?}") })?;
        let bad = |e: crate::ExtraError| CodecError { at, why: e.to_string() };
        match r.u8()? {
            0 => {
                for s in r.strs()?.into_iter().take(MAX_VALUES_PER_FIELD) {
                    if s.len() > MAX_TEXT_LEN {
                        return Err(CodecError { at, why: format!("a value of {} bytes", s.len()) });
                    }
                    extra.add_text(def.name, &s).map_err(bad)?;
                }
            }
            1 => {
                let n = r.len(MAX_ITEMS)?;
                for _ in 0..n {
                    let v = r.i64()?;
                    match def.kind {
                        crate::FieldKind::Date => extra.add_time(def.name, v),
                        _ => extra.add_int(def.name, v),
                    }
                    .map_err(bad)?;
                }
            }
            2 => {
                for a in r.addrs()? {
                    extra.add_ip(def.name, a).map_err(bad)?;
                }
            }
            t => return Err(r.err(format!("a value kind {t}"))),
        }
    }
    Ok(())
}

fn decode_transactions(r: &mut R<'_>) -> Result<Option<Transactions>, CodecError> {
    if r.u8()? == 0 {
        return Ok(None);
    }
    let mut out = Transactions { dropped: r.u32()?, list: Vec::new() };
    let n = r.len(MAX_TRANSACTIONS as u32)?;
    for _ in 0..n {
        let at = r.at;
        let name = r.str()?;
        let protocol = crate::transaction::kind(&name)
            .ok_or_else(|| CodecError { at, why: format!("no transaction kind named {name:?}") })?;
        let mut t = Transaction {
            protocol,
            request_ns: r.opt_i64()?,
            response_ns: r.opt_i64()?,
            request_bytes: r.u64()?,
            response_bytes: r.u64()?,
            response_us: r.opt_i64()?,
            values: Extra::default(),
        };
        decode_extra(r, &mut t.values)?;
        out.list.push(t);
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SessionRecord {
        let mut r = SessionRecord {
            id: "231114-00112233".into(),
            root_id: "231114-00112233".into(),
            segment: 2,
            node: "sensor-é".into(),
            ip_protocol: 6,
            ethertype: 0x0800,
            src_ip: Some(Addr::from_v4([10, 0, 0, 1])),
            dst_ip: Some("2001:db8::1".parse::<std::net::IpAddr>().unwrap().into()),
            src_port: 1234,
            dst_port: 443,
            start_ns: -5,
            stop_ns: 1_700_000_000_000_000_000,
            src: DirStats { packets: 3, bytes: 300, databytes: 100 },
            tcp_flags: TcpFlagCounts { syn: 1, ae: 7, ..Default::default() },
            tcp_stream: TcpStreamStats { gap_bytes: 99, ..Default::default() },
            protocols: vec!["tcp".into(), "tls".into()],
            vlans: vec![10, 20],
            vnis: vec![7],
            mac_src: vec![MacAddr([1, 2, 3, 4, 5, 6])],
            outer_ip_dst: vec![Addr::from_v4([192, 0, 2, 1])],
            tunnels: vec!["vxlan".into()],
            ttl_src: vec![64],
            icmp_codes: vec![3],
            tags: vec!["a b".into()],
            close_reason: CloseReason::Evicted,
            packet_pos: vec![-1, 24, 9_000_000_000],
            ..SessionRecord::default()
        };
        r.extra.add_text("host.tls", "example.com").unwrap();
        r.extra.add_int("http.statuscode", 200).unwrap();
        r.extra.add_ip("ip.dns", Addr::from_v4([1, 1, 1, 1])).unwrap();
        let mut query = Transaction::new("mysql");
        query.request_ns = Some(10);
        query.response_ns = Some(3_010);
        query.request_bytes = 40;
        query.response_bytes = 70;
        query.response_us = Some(3);
        query.values.add_text("mysql.query", "SELECT ? FROM t").unwrap();
        let mut lookup = Transaction::new("dns");
        lookup.request_ns = Some(-7);
        lookup.values.add_text("host.dns", "example.org").unwrap();
        r.transactions = Some(Transactions { list: vec![query, lookup], dropped: 5 });
        r.payload8[0].stream(b"GET / HTTP/1.1");
        r.payload8[1].datagram(&[0xff, 0]);
        r
    }

    #[test]
    fn records_read_back_whole_and_damage_is_an_error() {
        let r = sample();
        let mut b = Vec::new();
        encode(&r, &mut b);
        encode(&SessionRecord::default(), &mut b);
        let (back, n) = decode(&b).unwrap();
        assert_eq!(back, r);
        let (empty, m) = decode(&b[n..]).unwrap();
        assert_eq!(empty, SessionRecord::default());
        assert_eq!(n + m, b.len());
        for cut in 0..n {
            assert!(decode(&b[..cut]).is_err(), "cut at {cut}");
        }
        let mut huge = b.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&huge).unwrap_err().why.contains("at most"));
    }

    #[test]
    fn rows_of_the_layout_without_tcp_health_still_read() {
        let mut r = sample();
        r.transactions = None;
        r.payload8 = Default::default();
        let mut old = Vec::new();
        encode_head(&mut W(&mut old), &r);
        encode_tail(&mut W(&mut old), &r);
        assert_eq!(decode_layout(&old, 1).unwrap(), (r.clone(), old.len()));
        assert!(decode_layout(&old, 2).is_err(), "layout 1 is not read as layout 2");
        r.tcp_health = TcpHealth {
            rtt_server_us: Some(1500),
            first_data_dst_us: Some(-1),
            handshake: Handshake::Failed,
            rst_dst: 2,
            ..TcpHealth::default()
        };
        let mut b = Vec::new();
        encode(&r, &mut b);
        assert_eq!(decode(&b).unwrap().0.tcp_health, r.tcp_health);
        // Layout 2: TCP health, no transactions.
        let mut two = Vec::new();
        encode_head(&mut W(&mut two), &r);
        encode_health(&mut W(&mut two), &r.tcp_health);
        encode_tail(&mut W(&mut two), &r);
        assert_eq!(decode_layout(&two, 2).unwrap(), (r.clone(), two.len()));
        // Layout 3: no first payload bytes.
        r.transactions = sample().transactions;
        let mut three = Vec::new();
        encode_head(&mut W(&mut three), &r);
        encode_health(&mut W(&mut three), &r.tcp_health);
        encode_tail(&mut W(&mut three), &r);
        encode_transactions(&mut W(&mut three), &r.transactions);
        assert_eq!(decode_layout(&three, 3).unwrap(), (r.clone(), three.len()));
        // Layout 4: no sequence checks; layout 5 keeps them.
        r.payload8 = sample().payload8;
        let mut four = Vec::new();
        encode_head(&mut W(&mut four), &r);
        encode_health(&mut W(&mut four), &r.tcp_health);
        encode_tail(&mut W(&mut four), &r);
        encode_transactions(&mut W(&mut four), &r.transactions);
        for p in &r.payload8 {
            W(&mut four).bytes(p.bytes());
        }
        assert_eq!(decode_layout(&four, 4).unwrap(), (r.clone(), four.len()));
        for checks in [
            crate::SequenceChecks { isn_src: Some(7), isn_count_src: 3, syn_validated: true, syn_ack_validated: false },
            crate::SequenceChecks { isn_src: None, isn_count_src: 0, syn_validated: false, syn_ack_validated: true },
        ] {
            r.tcp_health.sequence_checks = Some(checks);
            let mut five = Vec::new();
            encode(&r, &mut five);
            assert_eq!(decode(&five).unwrap(), (r.clone(), five.len()));
        }
    }

    #[test]
    fn a_transaction_of_an_unknown_kind_is_an_error() {
        let mut r = sample();
        r.transactions.as_mut().unwrap().list[0].protocol = "gopher";
        let mut b = Vec::new();
        encode(&r, &mut b);
        assert!(decode(&b).unwrap_err().why.contains("no transaction kind named \"gopher\""));
    }
}

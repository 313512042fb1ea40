//! Arbitrary bytes through the classifier (as a session seen from its start, or
//! picked up part-way) and through every dissector and later-message probe
//! directly, both directions, cut into arbitrary segments with gaps: no panic, and
//! the record stays within its bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tyto_dissect::{Classifier, Dissectors, Side, Transport, PROTOCOLS};
use tyto_flow::analyzer::{AnalyzerFactory, Opening, SessionAnalyzer};
use tyto_flow::Direction;
use tyto_schema::{SessionRecord, Values, MAX_VALUES_PER_FIELD};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let transport = match mode % 5 {
        0 => Transport::Tcp,
        1 => Transport::Udp,
        2 => Transport::Esp,
        3 => Transport::Ospf,
        _ => Transport::Sctp,
    };
    // Segments: a control byte (direction, gap) before each piece cut at 0xff.
    let pieces: Vec<(bool, bool, &[u8])> = rest
        .split(|b| *b == 0xff)
        .filter_map(|p| p.split_first().map(|(c, body)| (c & 1 == 1, c & 2 == 2, body)))
        .collect();
    // Transactions on, as when an exporter wants them: they must stay bounded too.
    let mut rec = SessionRecord { transactions: Some(Default::default()), ..SessionRecord::default() };
    // SCTP as the flow layer analyzes it: its chunks, and its user messages as streams.
    let mut c: Box<dyn SessionAnalyzer> = if transport == Transport::Sctp {
        let (lo, hi) = (tyto_packet::Addr::default(), tyto_packet::Addr::default());
        let key = tyto_flow::FlowKey { lo, hi, lo_port: 2905, hi_port: 2905, proto: 132, ethertype: 0x0800 };
        Dissectors::storing().create(&key, Opening::Unseen).expect("SCTP is analyzed")
    } else {
        let mut c = Classifier::new(transport);
        // Half the runs as a session picked up part-way: roles unknown, streams resynchronised.
        if mode & 0x80 != 0 {
            c.opening_unseen();
        }
        Box::new(c)
    };
    for &(to_client, gap, body) in &pieces {
        let dir = if to_client { Direction::ToClient } else { Direction::ToServer };
        match (transport, gap) {
            (Transport::Tcp, true) => c.gap(dir, body.len() as u64, &mut rec),
            (Transport::Tcp, false) => c.stream(dir, body, &mut rec),
            (Transport::Udp | Transport::Esp | Transport::Ospf | Transport::Sctp, _) => c.datagram(dir, body, &mut rec),
        }
    }
    c.flush(&mut rec);
    for p in PROTOCOLS {
        if let Some(later) = p.later {
            let _ = (later(Side::Client, rest), later(Side::Server, rest));
        }
        let mut d = (p.new)();
        for &(to_client, gap, body) in &pieces {
            let side = if to_client { Side::Server } else { Side::Client };
            if gap {
                d.gap(side, body.len() as u64);
            } else {
                d.feed(side, body, &mut rec);
            }
        }
    }
    for (_, v) in rec.extra.iter() {
        let n = match v {
            Values::Text(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Ip(v) => v.len(),
        };
        assert!(n <= MAX_VALUES_PER_FIELD);
    }
});

//! Modbus/TCP: the MBAP header of each request and response (transaction id,
//! protocol id 0, unit id) and function codes, with exception codes from error
//! responses (function code with its top bit set).

use tyto_schema::SessionRecord;

use crate::kit::messages::{Length, Streams};
use crate::kit::put_int;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "modbus",
    transports: &[Transport::Tcp],
    ports: &[502],
    probe,
    new: || Box::<Modbus>::default(),
    later: None,
};

/// A PDU is at most 253 bytes; the MBAP length counts the unit id too.
const MAX_ADU: usize = 7 + 253;
const MAX_ADUS: u32 = 1024;

/// MBAP: transaction id, protocol id (0), length (unit id + PDU), unit id.
fn adu(b: &[u8]) -> Length {
    match b.get(..6) {
        None => Length::NeedMore,
        Some(h) if h[2] == 0 && h[3] == 0 => match usize::from(u16::from_be_bytes([h[4], h[5]])) {
            n @ 2..=254 => Length::Is(6 + n),
            _ => Length::Bad,
        },
        Some(_) => Length::Bad,
    }
}

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    match adu(data) {
        Length::NeedMore => Probe::NeedMore,
        Length::Bad => Probe::NoMatch,
        // The ADU must end where the bytes do or where another ADU header starts.
        Length::Is(n) => match data.get(7) {
            None => Probe::NeedMore,
            Some(f) => {
                let next = data.get(n..).unwrap_or(&[]);
                let framed = next.is_empty() || next.get(2..4).is_none_or(|p| p == [0, 0]);
                // Any code when the ADU fills the segment exactly (scanners try them all).
                let known = matches!(f & 0x7f, 1..=24 | 43 | 65..=72 | 100..=110) || data.len() == n;
                Probe::from(framed && known)
            }
        },
    }
}

#[derive(Default)]
pub struct Modbus {
    streams: Streams,
    adus: u32,
}

impl Dissector for Modbus {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let adus = &mut self.adus;
        self.streams.push(side, data, MAX_ADU, adu, |a, _| {
            if *adus >= MAX_ADUS || a.len() < 8 {
                return;
            }
            *adus += 1;
            put_int(rec, int_field!("modbus.transactionid"), i64::from(u16::from_be_bytes([a[0], a[1]])));
            put_int(rec, int_field!("modbus.protocolid"), 0);
            put_int(rec, int_field!("modbus.unitid"), i64::from(a[6]));
            let function = a[7];
            if function & 0x80 != 0 {
                if let Some(code) = a.get(8) {
                    put_int(rec, int_field!("modbus.exccode"), i64::from(*code));
                }
            } else {
                put_int(rec, int_field!("modbus.funccode"), i64::from(function));
            }
        });
    }

    fn gap(&mut self, side: Side, _len: u64) {
        self.streams.lose(side);
    }

    fn wants_more(&self) -> bool {
        self.adus < MAX_ADUS && !self.streams.broken()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tyto_schema::Values;

    #[test]
    fn requests_and_exceptions() {
        let read = [0x01, 0x01, 0, 0, 0, 6, 1, 3, 0, 0, 0, 10];
        let error = [0x01, 0x01, 0, 0, 0, 3, 1, 0x83, 2];
        assert_eq!(probe(Side::Client, &read), Probe::Match);
        assert_eq!(probe(Side::Client, &read[..5]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"\x16\x03\x01\x02\x00\x01\x00\x01"), Probe::NoMatch);
        let mut rec = SessionRecord::default();
        let mut m = Modbus::default();
        m.feed(Side::Client, &read, &mut rec);
        m.feed(Side::Server, &error, &mut rec);
        assert_eq!(rec.extra.get("modbus.transactionid"), Some(&Values::Int(vec![257])));
        assert_eq!(rec.extra.get("modbus.funccode"), Some(&Values::Int(vec![3])));
        assert_eq!(rec.extra.get("modbus.exccode"), Some(&Values::Int(vec![2])));
        assert_eq!(rec.extra.get("modbus.unitid"), Some(&Values::Int(vec![1])));
    }
}

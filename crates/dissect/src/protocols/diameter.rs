//! Diameter (RFC 6733, TCP or SCTP port 3868), the authentication and charging
//! protocol of mobile networks: every message, either way, begins with version 1, a
//! length that is a multiple of four, flags whose low four bits are reserved (zero),
//! a command code and an application id. A message of a known command names the
//! protocol. Each message's command and application, and its AVPs naming the
//! session, hosts, realms, user and result, are recorded (Arkime's `diameter.*`).

use tyto_schema::SessionRecord;

use crate::kit::messages::{Framed, HandOn};
use crate::kit::{put_int, put_text};
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "diameter",
    transports: &[Transport::Tcp],
    ports: &[3868],
    probe,
    new: || Box::new(Diameter::default()),
    later: Some(probe),
};

/// Bytes of a message read for its AVPs (the rest, large payloads, is passed over).
const MAX_READ: usize = 16 << 10;
/// Messages read per session.
const MAX_MESSAGES: usize = 64;
/// AVPs read per message.
const MAX_AVPS: usize = 128;

/// A command's name as Wireshark and Arkime write it, `Request` or `Answer` after.
fn command_name(code: u32) -> Option<&'static str> {
    Some(match code {
        257 => "Capabilities-Exchange",
        258 => "Re-Auth",
        271 => "Accounting",
        272 => "Credit-Control",
        274 => "Abort-Session",
        275 => "Session-Termination",
        280 => "Device-Watchdog",
        282 => "Disconnect-Peer",
        300 => "User-Authorization",
        301 => "Server-Assignment",
        302 => "Location-Info",
        303 => "Multimedia-Auth",
        304 => "Registration-Termination",
        305 => "Push-Profile",
        306 => "User-Data",
        307 => "Profile-Update",
        308 => "Subscribe-Notifications",
        309 => "Push-Notification",
        316 => "Update-Location",
        317 => "Cancel-Location",
        318 => "Authentication-Information",
        319 => "Insert-Subscriber-Data",
        320 => "Delete-Subscriber-Data",
        321 => "Purge-UE",
        322 => "Reset",
        323 => "Notify",
        324 => "ME-Identity-Check",
        _ => return None,
    })
}

/// An application's name (IANA's registry of the ones mobile cores run).
fn application_name(id: u32) -> Option<&'static str> {
    Some(match id {
        0 => "Common",
        1 => "NASREQ",
        3 => "Base-Accounting",
        4 => "Credit-Control",
        5 => "EAP",
        16777216 => "3GPP-Cx",
        16777217 => "3GPP-Sh",
        16777236 => "3GPP-Rx",
        16777238 => "3GPP-Gx",
        16777251 => "3GPP-S6a",
        16777252 => "3GPP-S13",
        16777265 => "3GPP-SWx",
        16777272 => "3GPP-S6b",
        _ => return None,
    })
}

/// `Name (code)`, as Arkime writes commands and applications; the code alone for
/// one without a name.
fn named(name: Option<&str>, code: u32) -> String {
    name.map_or_else(|| code.to_string(), |n| format!("{n} ({code})"))
}

/// One message's header and AVPs into the session's values.
fn message(h: &[u8], avps: &[u8], rec: &mut SessionRecord) {
    let flags = h[4];
    let code = u32::from_be_bytes([0, h[5], h[6], h[7]]);
    let app = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
    let kind = if flags & 0x80 != 0 { "Request" } else { "Answer" };
    let command = command_name(code).map(|n| format!("{n}-{kind}"));
    put_text(rec, text_field!("diameter.cmd"), &named(command.as_deref(), code));
    put_text(rec, text_field!("diameter.app"), &named(application_name(app), app));
    let mut rest = avps;
    for _ in 0..MAX_AVPS {
        let Some(head) = rest.get(..8) else { break };
        let avp = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let vendor = head[4] & 0x80 != 0;
        let len = u32::from_be_bytes([0, head[5], head[6], head[7]]) as usize;
        let start = if vendor { 12 } else { 8 };
        if len < start {
            break;
        }
        let Some(data) = rest.get(start..len) else { break };
        let text = || String::from_utf8_lossy(data).into_owned();
        // Vendors' AVPs share the numbers: only the base protocol's are read.
        if !vendor {
            match avp {
                1 => put_text(rec, text_field!("diameter.user"), &text()),
                263 => put_text(rec, text_field!("diameter.session-id"), &text()),
                264 => put_text(rec, text_field!("diameter.origin-host"), &text()),
                296 => put_text(rec, text_field!("diameter.origin-realm"), &text()),
                293 => put_text(rec, text_field!("diameter.dest-host"), &text()),
                283 => put_text(rec, text_field!("diameter.dest-realm"), &text()),
                268 if data.len() == 4 => put_int(
                    rec,
                    int_field!("diameter.resultCode"),
                    i64::from(u32::from_be_bytes([data[0], data[1], data[2], data[3]])),
                ),
                _ => {}
            }
        }
        // AVPs are padded to four bytes.
        let Some(next) = rest.get(len.div_ceil(4) * 4..) else { break };
        rest = next;
    }
}

#[derive(Default)]
pub struct Diameter {
    framing: [Framed; 2],
    messages: usize,
}

impl Dissector for Diameter {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let body_len = |h: &[u8]| {
            let len = u32::from_be_bytes([0, h[1], h[2], h[3]]);
            (h[0] == 1 && (20..=MAX_MESSAGE).contains(&len)).then(|| len as usize - 20)
        };
        let messages = &mut self.messages;
        self.framing[side as usize].feed(
            data,
            20,
            HandOn::AtEnd,
            body_len,
            |_| MAX_READ,
            |h, avps, _| {
                if *messages < MAX_MESSAGES {
                    *messages += 1;
                    message(h, avps, rec);
                }
            },
        );
    }

    fn gap(&mut self, side: Side, _len: u64) {
        // Lost bytes: where the next message starts is not known.
        self.framing[side as usize] = Framed::default();
        self.messages = MAX_MESSAGES;
    }

    fn wants_more(&self) -> bool {
        self.messages < MAX_MESSAGES
    }
}

/// Command codes of the base protocol and its common applications (credit
/// control, S6a/S6d, Gx, Rx, Cx/Dx, Sh, SWx…).
const COMMANDS: &[u32] = &[
    257, 258, 271, 272, 274, 275, 280, 282, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 316, 317, 318, 319, 320,
    321, 322, 323, 324, 8388620, 8388622,
];
/// A message's largest believable size.
const MAX_MESSAGE: u32 = 1 << 20;

pub fn probe(_side: Side, data: &[u8]) -> Probe {
    let Some(h) = data.get(..20) else {
        return if data.first().is_none_or(|v| *v == 1) { Probe::NeedMore } else { Probe::NoMatch };
    };
    let len = u32::from_be_bytes([0, h[1], h[2], h[3]]);
    let code = u32::from_be_bytes([0, h[5], h[6], h[7]]);
    let flags = h[4];
    Probe::from(
        h[0] == 1
            && (20..=MAX_MESSAGE).contains(&len)
            && len.is_multiple_of(4)
            && flags & 0x0f == 0
            && COMMANDS.contains(&code),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_answers_of_known_commands() {
        // From the shared capture: a Credit-Control request (272, R and P flags) and its answer.
        let request = b"\x01\0\x01\x58\x80\0\x01\x10\0\0\0\x04\x02\xea\x49\x30\x26\xf0\0\x03";
        assert_eq!(probe(Side::Client, request), Probe::Match);
        let answer = b"\x01\0\0\xec\x40\0\x01\x10\0\0\0\x04\x02\xea\x49\x30\x26\xf0\0\x03";
        assert_eq!(probe(Side::Server, answer), Probe::Match);
        assert_eq!(probe(Side::Client, &request[..5]), Probe::NeedMore);
        let mut odd = *request;
        odd[3] = 0x59;
        assert_eq!(probe(Side::Client, &odd), Probe::NoMatch, "a length not a multiple of four");
        let mut unknown = *request;
        unknown[7] = 0x99;
        assert_eq!(probe(Side::Client, &unknown), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\nHost: x\r\n"), Probe::NoMatch);
    }

    fn avp(code: u32, vendor: Option<u32>, data: &[u8]) -> Vec<u8> {
        let head = if vendor.is_some() { 12 } else { 8 };
        let mut a = code.to_be_bytes().to_vec();
        a.push(if vendor.is_some() { 0xc0 } else { 0x40 });
        a.extend(&((head + data.len()) as u32).to_be_bytes()[1..]);
        if let Some(v) = vendor {
            a.extend(v.to_be_bytes());
        }
        a.extend(data);
        a.resize(a.len().div_ceil(4) * 4, 0);
        a
    }

    fn diameter(request: bool, code: u32, app: u32, avps: &[Vec<u8>]) -> Vec<u8> {
        let body = avps.concat();
        let mut m = vec![1];
        m.extend(&((20 + body.len()) as u32).to_be_bytes()[1..]);
        m.push(if request { 0x80 } else { 0 });
        m.extend(&code.to_be_bytes()[1..]);
        m.extend(app.to_be_bytes());
        m.extend([0; 8]);
        m.extend(body);
        m
    }

    /// Commands and applications named as Arkime names them, the AVPs of the base
    /// protocol (a vendor's AVP of the same number aside), in any segmentation.
    #[test]
    fn commands_applications_and_avps() {
        let request = diameter(
            true,
            316,
            16777251,
            &[
                avp(263, None, b"mme;1;2"),
                avp(264, None, b"mme.example.net"),
                avp(296, None, b"example.net"),
                avp(283, None, b"hss.example"),
                avp(1, None, b"001010123456789"),
                avp(264, Some(10415), b"not-a-host"),
            ],
        );
        let answer = diameter(
            false,
            316,
            16777251,
            &[avp(264, None, b"hss.example.net"), avp(268, None, &2001u32.to_be_bytes())],
        );
        for split in [1, 7, 4096] {
            let mut d = Diameter::default();
            let mut rec = SessionRecord::default();
            for c in request.chunks(split) {
                d.feed(Side::Client, c, &mut rec);
            }
            for c in answer.chunks(split) {
                d.feed(Side::Server, c, &mut rec);
            }
            assert_eq!(
                rec.extra.texts("diameter.cmd"),
                ["Update-Location-Request (316)", "Update-Location-Answer (316)"]
            );
            assert_eq!(rec.extra.texts("diameter.app"), ["3GPP-S6a (16777251)"]);
            assert_eq!(rec.extra.texts("diameter.session-id"), ["mme;1;2"]);
            assert_eq!(rec.extra.texts("diameter.origin-host"), ["mme.example.net", "hss.example.net"]);
            assert_eq!(rec.extra.texts("diameter.origin-realm"), ["example.net"]);
            assert_eq!(rec.extra.texts("diameter.dest-realm"), ["hss.example"]);
            assert_eq!(rec.extra.texts("diameter.user"), ["001010123456789"]);
            assert_eq!(rec.extra.ints("diameter.resultCode"), [2001]);
        }
        // An AVP whose length runs past the message, or is shorter than its header.
        let mut rec = SessionRecord::default();
        message(&request[..20], &[0, 0, 1, 7, 0x40, 0, 0, 3, 1, 2], &mut rec);
        message(&request[..20], &[0, 0, 1, 7, 0x40, 0, 0xff, 0xff], &mut rec);
        assert!(rec.extra.get("diameter.session-id").is_none());
    }
}

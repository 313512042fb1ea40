//! Android Debug Bridge (TCP): a device's adbd (port 5555) and the host's adb
//! server (port 5037), read as Arkime files them (`adb.*`).
//!
//! Between host and device, messages of a 24-byte little-endian header — command,
//! two arguments, the payload's length, its checksum, and the command's bitwise
//! complement — then the payload: CNXN carries the version, the largest payload and
//! a banner `<system type>:<serial>:<properties>`; OPEN a stream's id and service
//! (`shell:…`, `sync:`, `forward:…`); OKAY both ends' stream ids; AUTH its kind; WRTE
//! a stream's bytes, where the file sync protocol's requests (`SEND`, `RECV`,
//! `STAT`, `LIST`… with their paths) and shell protocol v2's exit status are read;
//! STLS from both sides hands the connection to TLS. The complement decides.
//!
//! To the host's server, a client sends requests of four hex digits giving the
//! length of a service name (`000chost:version`, `host:forward:tcp:80;tcp:80`); one
//! naming a service of adb's decides.

use std::cell::Cell;

use tyto_schema::SessionRecord;

use crate::kit::bytes::le32;
use crate::kit::messages::{Framed, HandOn, Length, Messages};
use crate::kit::put_text;
use crate::{Dissector, Probe, Protocol, Side, Transport};

pub static PROTOCOL: Protocol = Protocol {
    name: "adb",
    transports: &[Transport::Tcp],
    ports: &[5555, 5037],
    probe,
    new: || Box::<Adb>::default(),
    later: Some(later),
};

const HEADER: usize = 24;
/// adbd's largest payload (`MAX_PAYLOAD`, 1 MiB since Android 9); a longer one is
/// not adb's.
const MAX_PAYLOAD: usize = 1 << 20;

const A_SYNC: u32 = u32::from_le_bytes(*b"SYNC");
const A_CNXN: u32 = u32::from_le_bytes(*b"CNXN");
const A_OPEN: u32 = u32::from_le_bytes(*b"OPEN");
const A_OKAY: u32 = u32::from_le_bytes(*b"OKAY");
const A_CLSE: u32 = u32::from_le_bytes(*b"CLSE");
const A_WRTE: u32 = u32::from_le_bytes(*b"WRTE");
const A_AUTH: u32 = u32::from_le_bytes(*b"AUTH");
const A_STLS: u32 = u32::from_le_bytes(*b"STLS");
const COMMANDS: [u32; 8] = [A_SYNC, A_CNXN, A_OPEN, A_OKAY, A_CLSE, A_WRTE, A_AUTH, A_STLS];

/// A message header: command, the two arguments, the payload's length.
struct Header {
    command: u32,
    arg0: u32,
    arg1: u32,
    len: usize,
}

/// The header at the start of `h`, if its complement checks and its length is
/// adb's.
fn header(h: &[u8]) -> Option<Header> {
    let command = le32(h, 0)?;
    if le32(h, 20)? != !command {
        return None;
    }
    let len = le32(h, 12)? as usize;
    (len <= MAX_PAYLOAD).then(|| Header { command, arg0: le32(h, 4).unwrap_or(0), arg1: le32(h, 8).unwrap_or(0), len })
}

fn command_name(command: u32) -> &'static str {
    match command {
        A_SYNC => "sync",
        A_CNXN => "cnxn",
        A_OPEN => "open",
        A_OKAY => "okay",
        A_CLSE => "clse",
        A_WRTE => "wrte",
        A_AUTH => "auth",
        A_STLS => "stls",
        _ => "unknown",
    }
}

/// `NeedMore` while the bytes so far may begin a message, else `NoMatch`.
fn more_if(may: bool) -> Probe {
    if may {
        Probe::NeedMore
    } else {
        Probe::NoMatch
    }
}

/// A message between host and device: a command of adb's whose complement checks.
fn transport_message(d: &[u8]) -> Probe {
    match d.get(..HEADER) {
        Some(h) => Probe::from(header(h).is_some_and(|h| COMMANDS.contains(&h.command))),
        // The command's four letters so far.
        None => more_if(COMMANDS.iter().any(|c| c.to_le_bytes().starts_with(&d[..d.len().min(4)]))),
    }
}

/// Services a client asks the host's server for, by their first word.
const SERVICES: [&str; 24] = [
    "host",
    "host-serial",
    "host-usb",
    "host-local",
    "host-transport-id",
    "transport",
    "transport-any",
    "transport-usb",
    "transport-local",
    "transport-id",
    "shell",
    "exec",
    "sync",
    "tcp",
    "local",
    "localabstract",
    "localreserved",
    "localfilesystem",
    "jdwp",
    "track-jdwp",
    "reverse",
    "forward",
    "reboot",
    "abb_exec",
];
/// A service request's longest name, as the server takes it (`MAX_PAYLOAD` of the
/// host protocol is 1024 before Android 9; adb's own client never sends more).
const MAX_SERVICE: usize = 1024;

/// The length four hex digits give, if they are hex digits.
fn hex4(d: &[u8]) -> Option<usize> {
    let digits = d.get(..4)?;
    if !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    usize::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

/// A client's request to the host's server: four hex digits, then a service name of
/// that length whose first word is adb's.
fn service_request(d: &[u8]) -> Probe {
    if d.len() < 4 {
        return more_if(d.iter().all(u8::is_ascii_hexdigit));
    }
    let Some(n) = hex4(d).filter(|n| (1..=MAX_SERVICE).contains(n)) else { return Probe::NoMatch };
    let Some(name) = d.get(4..4 + n) else {
        // The first word so far must begin a service's.
        let word = d[4..].split(|b| *b == b':').next().unwrap_or_default();
        return more_if(SERVICES.iter().any(|s| s.as_bytes().starts_with(word)));
    };
    let word = name.split(|b| *b == b':').next().unwrap_or_default();
    Probe::from(SERVICES.iter().any(|s| s.as_bytes() == word))
}

pub fn probe(side: Side, d: &[u8]) -> Probe {
    let message = transport_message(d);
    // Only a client asks the host's server.
    let request = if side == Side::Client { service_request(d) } else { Probe::NoMatch };
    match (message, request) {
        (Probe::Match, _) | (_, Probe::Match) => Probe::Match,
        (Probe::NeedMore, _) | (_, Probe::NeedMore) => Probe::NeedMore,
        _ => Probe::NoMatch,
    }
}

/// Any message of the host–device protocol begins a stream picked up part-way.
fn later(_side: Side, d: &[u8]) -> Probe {
    transport_message(d)
}

/// Bytes of a CNXN banner and of an OPEN's service read (Arkime reads as many).
const BANNER: usize = 1023;
const SERVICE: usize = 511;
/// Bytes of a WRTE's payload read for the sync and shell v2 protocols: a sync DATA
/// block (64 KiB at most) and the request that follows it.
const STREAM_BYTES: usize = (64 << 10) + 512;

/// Text as a C string holds it: up to its first NUL, cut to `max` bytes.
fn c_text(bytes: &[u8], max: usize) -> String {
    let bytes = &bytes[..bytes.len().min(max)];
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// What a direction is, decided by its first bytes.
#[derive(Default, Clone, Copy, PartialEq)]
enum Mode {
    #[default]
    Undecided,
    /// Host and device's messages.
    Transport,
    /// A client's requests to the host's server.
    Requests,
}

#[derive(Default)]
struct Direction {
    mode: Mode,
    /// The first bytes, while fewer than tell the modes apart.
    start: Vec<u8>,
    messages: Framed,
    requests: Messages,
    lost: bool,
}

/// What the connection's messages have told, read while a direction's framing reads
/// on (hence cells).
#[derive(Default)]
struct Connection {
    /// A stream of the file sync protocol was opened; shell protocol v2 was.
    sync: Cell<bool>,
    shell_v2: Cell<bool>,
    /// Each side sent STLS.
    stls: [Cell<bool>; 2],
    /// Where TLS began in the bytes just fed, for [`Dissector::handoff`].
    tls_at: Cell<Option<usize>>,
}

#[derive(Default)]
pub struct Adb {
    dirs: [Direction; 2],
    conn: Connection,
    handed_off: bool,
}

/// `forward:<local>;<remote>`, `reverse:forward:<remote>;<local>` or another
/// `reverse:` request: the direction, and the two ends where given.
fn forward(rec: &mut SessionRecord, service: &str) {
    let (direction, ends) = if let Some(ends) = service.strip_prefix("reverse:forward:") {
        ("reverse", Some(ends))
    } else if let Some(ends) = service.strip_prefix("forward:") {
        ("forward", Some(ends))
    } else if service.starts_with("reverse:") {
        ("reverse", None)
    } else {
        return;
    };
    put_text(rec, text_field!("adb.forward.direction"), direction);
    if let Some((local, remote)) = ends.and_then(|e| e.split_once(';')) {
        put_text(rec, text_field!("adb.forward.local"), local);
        put_text(rec, text_field!("adb.forward.remote"), remote);
    }
}

/// A service's name before its arguments (`shell` of `shell,v2:ls`), lower-cased by
/// the field.
fn put_service(rec: &mut SessionRecord, service: &str, delimiters: &[char]) {
    let base = match service.find(delimiters) {
        Some(at) if at > 0 => &service[..at],
        _ => service,
    };
    if !base.is_empty() {
        put_text(rec, text_field!("adb.service"), base);
    }
}

/// A CNXN: version, largest payload, and the banner's system type and serial.
fn connect(rec: &mut SessionRecord, h: &Header, banner: &[u8]) {
    put_text(rec, text_field!("adb.version"), &format!("0x{:08x}", h.arg0));
    put_text(rec, text_field!("adb.maxpayload"), &h.arg1.to_string());
    if h.len == 0 || banner.len() < h.len.min(BANNER) {
        return;
    }
    let banner = c_text(banner, BANNER);
    let Some((system, rest)) = banner.split_once(':') else { return };
    put_text(rec, text_field!("adb.systemtype"), system);
    if let Some((serial, _)) = rest.split_once(':') {
        if !serial.is_empty() {
            put_text(rec, text_field!("adb.serial"), serial);
        }
    }
}

/// File sync protocol requests and answers in a WRTE's payload: an id and a 32-bit
/// argument each, a path after SEND, RECV, STAT and LIST, data after DATA.
fn sync_requests(rec: &mut SessionRecord, mut d: &[u8]) {
    while d.len() >= 8 {
        let (id, arg) = (&d[..4], le32(d, 4).unwrap_or(0) as usize);
        d = &d[8..];
        const OPERATIONS: [&[u8]; 10] =
            [b"STAT", b"LIST", b"SEND", b"RECV", b"DATA", b"DONE", b"OKAY", b"FAIL", b"DENT", b"QUIT"];
        if OPERATIONS.contains(&id) {
            put_text(rec, text_field!("adb.sync.operation"), &String::from_utf8_lossy(id));
        }
        let with_path = [&b"SEND"[..], b"RECV", b"STAT", b"LIST"].contains(&id);
        if with_path && arg > 0 && arg < 4096 {
            let Some(path) = d.get(..arg) else { break };
            // SEND's path ends with `,<mode>`.
            let path = c_text(path, 1023);
            let path = path.split(',').next().unwrap_or_default();
            if !path.is_empty() {
                put_text(rec, text_field!("adb.sync.path"), path);
            }
            d = &d[arg..];
        } else if id == b"DATA" && arg > 0 {
            let Some(rest) = d.get(arg..) else { break };
            d = rest;
        } else if id == b"FAIL" && arg > 0 && arg < 256 {
            d = &d[arg.min(d.len())..];
        }
    }
}

/// Shell protocol v2 packets in a WRTE's payload (an id byte and a 32-bit length
/// each): the exit status's.
fn shell_packets(rec: &mut SessionRecord, mut d: &[u8]) {
    const EXIT: u8 = 3;
    while d.len() >= 5 {
        let (id, len) = (d[0], le32(d, 1).unwrap_or(0) as usize);
        let Some(body) = d.get(5..5 + len) else { break };
        if id == EXIT && !body.is_empty() {
            put_text(rec, text_field!("adb.shell.exitcode"), &body[0].to_string());
        }
        d = &d[5 + len..];
    }
}

impl Connection {
    /// A whole message between host and device, with the part of its payload kept;
    /// `at`: where it ended in the bytes being fed.
    fn message(&self, side: Side, h: &Header, body: &[u8], at: usize, rec: &mut SessionRecord) {
        put_text(rec, text_field!("adb.command"), command_name(h.command));
        match h.command {
            A_CNXN => connect(rec, h, body),
            A_OPEN => {
                put_text(rec, text_field!("adb.streamid"), &h.arg0.to_string());
                if h.len == 0 || body.len() < h.len.min(SERVICE) {
                    return;
                }
                let service = c_text(body, SERVICE);
                if service.starts_with("sync:") {
                    self.sync.set(true);
                }
                // `shell,v2,TERM=xterm,raw:ls`: adb's own client puts options after
                // `v2` (Arkime looks for `shell,v2:` alone).
                let options = service.strip_prefix("shell,").and_then(|o| o.split(':').next()).unwrap_or_default();
                if options.split(',').any(|o| o.eq_ignore_ascii_case("v2")) {
                    self.shell_v2.set(true);
                }
                forward(rec, &service);
                put_service(rec, &service, &[':', ',']);
            }
            A_AUTH => {
                let kind = match h.arg0 {
                    1 => "token",
                    2 => "signature",
                    3 => "rsapublickey",
                    _ => "unknown",
                };
                put_text(rec, text_field!("adb.authtype"), kind);
            }
            A_OKAY => put_text(rec, text_field!("adb.streamid"), &format!("{}-{}", h.arg0, h.arg1)),
            A_WRTE if h.len > 0 => {
                if self.sync.get() {
                    sync_requests(rec, body);
                }
                if self.shell_v2.get() {
                    shell_packets(rec, body);
                }
            }
            A_STLS => {
                self.stls[side as usize].set(true);
                if self.stls.iter().all(Cell::get) {
                    self.tls_at.set(Some(at));
                }
            }
            _ => {}
        }
    }
}

impl Adb {
    fn transport(&mut self, side: Side, data: &[u8], shift: usize, rec: &mut SessionRecord) {
        let conn = &self.conn;
        let d = &mut self.dirs[side as usize];
        let going = d.messages.feed(
            data,
            HEADER,
            HandOn::AtEnd,
            |h| header(h).map(|h| h.len),
            |h| match header(h) {
                Some(h) if h.command == A_CNXN => BANNER,
                Some(h) if h.command == A_OPEN => SERVICE,
                Some(h) if h.command == A_WRTE && (conn.sync.get() || conn.shell_v2.get()) => STREAM_BYTES,
                _ => 0,
            },
            |h, body, at| {
                // After both STLS the bytes are TLS's.
                if let (None, Some(h)) = (conn.tls_at.get(), header(h)) {
                    conn.message(side, &h, body, at.saturating_sub(shift), rec);
                }
            },
        );
        d.lost |= !going;
    }

    fn requests(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let d = &mut self.dirs[side as usize];
        let length = |m: &[u8]| match m.len() {
            0..4 => Length::NeedMore,
            _ => match hex4(m) {
                Some(n) if n <= MAX_SERVICE => Length::Is(4 + n),
                _ => Length::Bad,
            },
        };
        d.requests.push(data, 4 + MAX_SERVICE, length, |m, _cut| {
            let service = c_text(&m[4..], SERVICE);
            for kind in ["forward:", "reverse:"] {
                if service.starts_with(kind) || service.starts_with(&format!("host:{kind}")) {
                    if let Some(at) = service.find("forward:").or_else(|| service.find("reverse:")) {
                        forward(rec, &service[at..]);
                    }
                    break;
                }
            }
            put_service(rec, &service, &[':']);
        });
        d.lost |= d.requests.broken();
    }
}

impl Dissector for Adb {
    fn feed(&mut self, side: Side, data: &[u8], rec: &mut SessionRecord) {
        let d = &mut self.dirs[side as usize];
        if self.handed_off || d.lost || data.is_empty() {
            return;
        }
        // Two bytes tell the modes apart: no command's second letter is a hex digit.
        let joined;
        let (data, shift) = if d.mode == Mode::Undecided {
            if d.start.len() + data.len() < 2 {
                d.start.extend_from_slice(data);
                return;
            }
            let shift = d.start.len();
            joined = [std::mem::take(&mut d.start).as_slice(), data].concat();
            let hex = joined[..2].iter().all(u8::is_ascii_hexdigit);
            d.mode = if hex && side == Side::Client { Mode::Requests } else { Mode::Transport };
            (&joined[..], shift)
        } else {
            (data, 0)
        };
        match d.mode {
            Mode::Requests => self.requests(side, data, rec),
            _ => self.transport(side, data, shift, rec),
        }
        if self.conn.tls_at.get().is_some() {
            self.handed_off = true;
        }
    }

    fn handoff(&mut self) -> Option<usize> {
        self.conn.tls_at.take()
    }

    fn gap(&mut self, side: Side, _len: u64) {
        // Neither framing can be found again after lost bytes.
        self.dirs[side as usize].lost = true;
    }

    fn wants_more(&self) -> bool {
        !self.handed_off && !self.dirs.iter().all(|d| d.lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::testing::texts;

    /// A host–device message with its checksum left at zero (adbd no longer checks it).
    fn message(command: &[u8; 4], arg0: u32, arg1: u32, payload: &[u8]) -> Vec<u8> {
        let c = u32::from_le_bytes(*command);
        let mut m = Vec::new();
        for v in [c, arg0, arg1, payload.len() as u32, 0, !c] {
            m.extend_from_slice(&v.to_le_bytes());
        }
        m.extend_from_slice(payload);
        m
    }

    fn request(service: &str) -> Vec<u8> {
        format!("{:04x}{service}", service.len()).into_bytes()
    }

    #[test]
    fn probes_by_the_complement_or_a_service_request() {
        let cnxn = message(b"CNXN", 0x0100_0001, 262_144, b"host::features=shell_v2\0");
        assert_eq!(probe(Side::Client, &cnxn), Probe::Match);
        assert_eq!(probe(Side::Server, &cnxn), Probe::Match);
        assert_eq!(probe(Side::Client, &cnxn[..10]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"CN"), Probe::NeedMore);
        let mut bad = cnxn.clone();
        bad[20] ^= 1;
        assert_eq!(probe(Side::Client, &bad), Probe::NoMatch);
        assert_eq!(probe(Side::Client, &message(b"XXXX", 0, 0, b"")), Probe::NoMatch);
        assert_eq!(later(Side::Server, &message(b"WRTE", 1, 2, b"hello")), Probe::Match);

        assert_eq!(probe(Side::Client, &request("host:version")), Probe::Match);
        assert_eq!(probe(Side::Client, &request("host:forward:tcp:80;tcp:80")), Probe::Match);
        assert_eq!(probe(Side::Client, &request("host:version")[..7]), Probe::NeedMore);
        assert_eq!(probe(Side::Client, b"00"), Probe::NeedMore);
        // Git's pkt-lines share the framing, not the services; the server's answers
        // are not requests.
        assert_eq!(probe(Side::Client, &request("git-upload-pack /r.git\0host=x\0")), Probe::NoMatch);
        assert_eq!(probe(Side::Server, &request("host:version")), Probe::NoMatch);
        assert_eq!(probe(Side::Client, b"GET / HTTP/1.1\r\n"), Probe::NoMatch);
    }

    #[test]
    fn a_connection_its_streams_and_their_services() {
        let mut rec = SessionRecord::default();
        let mut adb = Adb::default();
        adb.feed(Side::Client, &message(b"CNXN", 0x0100_0001, 262_144, b"host::features=shell_v2"), &mut rec);
        let banner = b"device:HVA12345:ro.product.name=x;features=shell_v2\0";
        adb.feed(Side::Server, &message(b"AUTH", 1, 0, &[7; 20]), &mut rec);
        adb.feed(Side::Server, &message(b"CNXN", 0x0100_0001, 4096, banner), &mut rec);
        let mut opens = message(b"OPEN", 1, 0, b"shell,v2,raw:ls\0");
        opens.extend(message(b"OPEN", 3, 0, b"reverse:forward:tcp:9090;tcp:443\0"));
        adb.feed(Side::Client, &opens[..30], &mut rec);
        adb.feed(Side::Client, &opens[30..], &mut rec);
        adb.feed(Side::Server, &message(b"OKAY", 2, 1, b""), &mut rec);
        // Shell v2: stdout, then the exit status.
        let shell = [&[1u8, 2, 0, 0, 0][..], b"ok", &[3, 1, 0, 0, 0, 42]].concat();
        adb.feed(Side::Server, &message(b"WRTE", 2, 1, &shell), &mut rec);
        adb.feed(Side::Server, &message(b"CLSE", 2, 1, b""), &mut rec);
        assert_eq!(texts(&rec, "adb.command"), ["cnxn", "auth", "open", "okay", "wrte", "clse"]);
        assert_eq!(texts(&rec, "adb.version"), ["0x01000001"]);
        assert_eq!(texts(&rec, "adb.maxpayload"), ["262144", "4096"]);
        assert_eq!(texts(&rec, "adb.systemtype"), ["host", "device"]);
        assert_eq!(texts(&rec, "adb.serial"), ["HVA12345"]);
        assert_eq!(texts(&rec, "adb.authtype"), ["token"]);
        assert_eq!(texts(&rec, "adb.service"), ["shell", "reverse"]);
        assert_eq!(texts(&rec, "adb.streamid"), ["1", "3", "2-1"]);
        assert_eq!(texts(&rec, "adb.forward.direction"), ["reverse"]);
        assert_eq!(texts(&rec, "adb.forward.local"), ["tcp:9090"]);
        assert_eq!(texts(&rec, "adb.forward.remote"), ["tcp:443"]);
        assert_eq!(texts(&rec, "adb.shell.exitcode"), ["42"]);
    }

    #[test]
    fn file_sync_requests_and_their_paths() {
        let mut rec = SessionRecord::default();
        let mut adb = Adb::default();
        adb.feed(Side::Client, &message(b"OPEN", 1, 0, b"sync:\0"), &mut rec);
        let mut send = b"SEND".to_vec();
        send.extend(22u32.to_le_bytes());
        send.extend(b"/sdcard/up.txt,33188XX");
        send.extend(b"DATA");
        send.extend(3u32.to_le_bytes());
        send.extend(b"abcDONE\0\0\0\0");
        adb.feed(Side::Client, &message(b"WRTE", 1, 2, &send), &mut rec);
        assert_eq!(texts(&rec, "adb.sync.operation"), ["SEND", "DATA", "DONE"]);
        assert_eq!(texts(&rec, "adb.sync.path"), ["/sdcard/up.txt"]);
        assert_eq!(texts(&rec, "adb.service"), ["sync"]);
    }

    #[test]
    fn requests_to_the_host_server() {
        let mut rec = SessionRecord::default();
        let mut adb = Adb::default();
        let both = [request("host:forward:tcp:8080;tcp:80"), request("host:version")].concat();
        adb.feed(Side::Client, &both[..3], &mut rec);
        adb.feed(Side::Client, &both[3..], &mut rec);
        adb.feed(Side::Server, b"OKAYOKAY", &mut rec);
        assert_eq!(texts(&rec, "adb.service"), ["host"]);
        assert_eq!(texts(&rec, "adb.forward.direction"), ["forward"]);
        assert_eq!(texts(&rec, "adb.forward.local"), ["tcp:8080"]);
        assert_eq!(texts(&rec, "adb.forward.remote"), ["tcp:80"]);
        assert!(texts(&rec, "adb.command").is_empty());
    }

    #[test]
    fn stls_from_both_sides_hands_the_rest_to_tls() {
        let mut rec = SessionRecord::default();
        let mut adb = Adb::default();
        adb.feed(Side::Server, &message(b"STLS", 0x0100_0000, 0, b""), &mut rec);
        assert_eq!(adb.handoff(), None);
        let mut client = message(b"STLS", 0x0100_0000, 0, b"");
        client.extend([0x16, 0x03, 0x01]);
        adb.feed(Side::Client, &client, &mut rec);
        assert_eq!(adb.handoff(), Some(HEADER));
        assert!(!adb.wants_more());
    }

    #[test]
    fn absurd_lengths_and_lost_bytes_stop_a_direction() {
        let mut rec = SessionRecord::default();
        let mut adb = Adb::default();
        let mut huge = message(b"WRTE", 1, 2, b"");
        huge[12..16].copy_from_slice(&u32::MAX.to_le_bytes());
        adb.feed(Side::Client, &huge, &mut rec);
        adb.feed(Side::Client, &message(b"OPEN", 1, 0, b"shell:\0"), &mut rec);
        assert!(texts(&rec, "adb.service").is_empty());
        adb.gap(Side::Server, 10);
        assert!(!adb.wants_more());
    }
}

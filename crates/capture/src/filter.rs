//! Capture filters in tcpdump's syntax, compiled to classic BPF for the kernel.
//!
//! Our own compiler rather than libpcap's `pcap_compile`: the design promises a build
//! with no system library, and the subset analysts type on a sensor (`not port 22`,
//! `host 10.1.2.3 and tcp`, `net 192.168.0.0/16`, `portrange 6000-6100`,
//! `ether host …`, `less 128`) is small. Programs are for Ethernet frames as
//! AF_PACKET hands them over (the kernel has already removed a single VLAN tag).
//!
//! Grammar (pcap-filter(7)): primitives joined by `and`/`&&`, `or`/`||`, `not`/`!`
//! and parentheses; a bare value after `and`/`or` takes the previous primitive's
//! qualifiers (`port 80 or 443`). Host names are not looked up: give addresses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One classic BPF instruction, laid out as the kernel's `struct sock_filter`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

/// A compiled filter: accepted packets are kept up to `snaplen` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BpfProgram {
    pub insns: Vec<BpfInsn>,
}

/// Why a filter did not compile; `at` is the 1-based character column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("capture filter, column {at}: {message}")]
pub struct FilterError {
    pub at: usize,
    pub message: String,
}

/// The kernel's limit on a classic BPF program.
const MAX_INSNS: usize = 4096;
/// Filters nest this deep at most (parentheses and `not`): a bound on recursion.
const MAX_DEPTH: usize = 64;

// Opcodes (linux/bpf_common.h).
const LD_W_ABS: u16 = 0x20;
const LD_H_ABS: u16 = 0x28;
const LD_B_ABS: u16 = 0x30;
const LD_H_IND: u16 = 0x48;
const LD_W_LEN: u16 = 0x80;
const LDX_B_MSH: u16 = 0xb1;
const ALU_AND_K: u16 = 0x54;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JGT_K: u16 = 0x25;
const JMP_JGE_K: u16 = 0x35;
const JMP_JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

const ETH_IPV4: u32 = 0x0800;
const ETH_IPV6: u32 = 0x86dd;
const ETH_ARP: u32 = 0x0806;
const ETH_RARP: u32 = 0x8035;

/// Compiles `text`; an empty filter accepts everything. Accepted packets are cut
/// to `snaplen` bytes by the kernel.
pub fn compile(text: &str, snaplen: u32) -> Result<BpfProgram, FilterError> {
    let tokens = tokenize(text)?;
    let node = if tokens.is_empty() {
        Node::True
    } else {
        let mut p = Parser { tokens: &tokens, pos: 0, last: None, depth: 0, end: text.chars().count() + 1 };
        let n = p.or()?;
        if let Some(t) = p.tokens.get(p.pos) {
            return Err(FilterError { at: t.at, message: format!("unexpected '{}'", t.text) });
        }
        n
    };
    let mut gen = Gen { code: Vec::new(), labels: Vec::new() };
    let accept = gen.label();
    let reject = gen.label();
    gen.emit(&node, accept, reject);
    gen.place(accept);
    gen.code.push(Op::Ret(snaplen.max(1)));
    gen.place(reject);
    gen.code.push(Op::Ret(0));
    gen.finish()
}

impl BpfProgram {
    /// Runs the program on a frame as the kernel would (`wire_len` is the packet's
    /// length on the wire, what `len` loads); the result is how many bytes to keep
    /// (0: drop). For tests and for filtering packets read from files.
    pub fn run(&self, frame: &[u8], wire_len: u32) -> u32 {
        let (mut a, mut x): (u32, u32) = (0, 0);
        let mut pc = 0usize;
        let load = |at: u32, n: usize| -> Option<u32> {
            let at = at as usize;
            let b = frame.get(at..at.checked_add(n)?)?;
            Some(b.iter().fold(0u32, |v, &byte| (v << 8) | byte as u32))
        };
        while let Some(i) = self.insns.get(pc) {
            pc += 1;
            match i.code {
                LD_W_ABS | LD_H_ABS | LD_B_ABS => {
                    let n = match i.code {
                        LD_W_ABS => 4,
                        LD_H_ABS => 2,
                        _ => 1,
                    };
                    match load(i.k, n) {
                        Some(v) => a = v,
                        None => return 0,
                    }
                }
                LD_H_IND => match x.checked_add(i.k).and_then(|at| load(at, 2)) {
                    Some(v) => a = v,
                    None => return 0,
                },
                LD_W_LEN => a = wire_len,
                LDX_B_MSH => match load(i.k, 1) {
                    Some(v) => x = (v & 0xf) * 4,
                    None => return 0,
                },
                ALU_AND_K => a &= i.k,
                JMP_JA => pc = pc.saturating_add(i.k as usize),
                JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K | JMP_JSET_K => {
                    let yes = match i.code {
                        JMP_JEQ_K => a == i.k,
                        JMP_JGT_K => a > i.k,
                        JMP_JGE_K => a >= i.k,
                        _ => a & i.k != 0,
                    };
                    pc += if yes { i.jt } else { i.jf } as usize;
                }
                RET_K => return i.k.min(frame.len() as u32),
                _ => return 0,
            }
        }
        0
    }
}

// ---------------------------------------------------------------------------
// Tokens and parsing

#[derive(Debug)]
struct Token {
    text: String,
    at: usize,
}

fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let at = i + 1;
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        if two == "&&" || two == "||" {
            out.push(Token { text: two, at });
            i += 2;
        } else if matches!(c, '(' | ')' | '!') {
            out.push(Token { text: c.to_string(), at });
            i += 1;
        } else if c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '/' | '-' | '_') {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '.' | ':' | '/' | '-' | '_'))
            {
                i += 1;
            }
            out.push(Token { text: chars[start..i].iter().collect(), at });
        } else {
            return Err(FilterError { at, message: format!("unexpected character '{c}'") });
        }
    }
    Ok(out)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Src,
    Dst,
    SrcOrDst,
    SrcAndDst,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Host,
    Net,
    Port,
    PortRange,
}

/// The qualifiers of a primitive with a value (`tcp src port`), kept so that a bare
/// value after `and`/`or` can reuse them.
#[derive(Clone, Copy, Debug)]
struct Quals {
    proto: Option<Proto>,
    dir: Dir,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proto {
    Ether,
    Ip,
    Ip6,
    Arp,
    Rarp,
    Tcp,
    Udp,
    Sctp,
}

#[derive(Debug)]
enum Node {
    True,
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    /// Every step must pass.
    Test(Vec<Step>),
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Load(Load),
    And(u32),
    /// Passes when the condition holds (or, with `negate`, when it does not).
    Check {
        cond: Cond,
        k: u32,
        negate: bool,
    },
}

#[derive(Clone, Copy, Debug)]
enum Load {
    Word(u32),
    Half(u32),
    Byte(u32),
    Len,
    /// X = 4 × (byte & 0xf): the IPv4 header length.
    IpHeaderLen(u32),
    /// A half-word at X + k.
    HalfAfterIp(u32),
}

#[derive(Clone, Copy, Debug)]
enum Cond {
    Eq,
    Gt,
    Ge,
    Set,
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    last: Option<Quals>,
    depth: usize,
    end: usize,
}

fn and(a: Node, b: Node) -> Node {
    Node::And(Box::new(a), Box::new(b))
}

fn or(a: Node, b: Node) -> Node {
    Node::Or(Box::new(a), Box::new(b))
}

fn test(steps: Vec<Step>) -> Node {
    Node::Test(steps)
}

fn eq(load: Load, k: u32) -> Vec<Step> {
    vec![Step::Load(load), Step::Check { cond: Cond::Eq, k, negate: false }]
}

fn ethertype(t: u32) -> Node {
    test(eq(Load::Half(12), t))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&str> {
        self.tokens.get(self.pos).map(|t| t.text.as_str())
    }

    fn at(&self) -> usize {
        self.tokens.get(self.pos).map_or(self.end, |t| t.at)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, FilterError> {
        Err(FilterError { at: self.at(), message: message.into() })
    }

    fn next_word(&mut self) -> Option<String> {
        let t = self.tokens.get(self.pos)?;
        self.pos += 1;
        Some(t.text.to_ascii_lowercase())
    }

    fn or(&mut self) -> Result<Node, FilterError> {
        let mut left = self.and()?;
        while matches!(self.peek(), Some("or" | "||")) {
            self.pos += 1;
            left = or(left, self.and()?);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, FilterError> {
        let mut left = self.unary()?;
        while matches!(self.peek(), Some("and" | "&&")) {
            self.pos += 1;
            left = and(left, self.unary()?);
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Node, FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(format!("nested more than {MAX_DEPTH} deep"));
        }
        let out = match self.peek() {
            Some("not" | "!") => {
                self.pos += 1;
                Ok(Node::Not(Box::new(self.unary()?)))
            }
            Some("(") => {
                self.pos += 1;
                let n = self.or()?;
                if self.peek() != Some(")") {
                    return self.err("expected ')'");
                }
                self.pos += 1;
                Ok(n)
            }
            Some(_) => self.primitive(),
            None => self.err("the filter ends where a primitive was expected"),
        };
        self.depth -= 1;
        out
    }

    fn primitive(&mut self) -> Result<Node, FilterError> {
        let start = self.pos;
        let word = self.next_word().unwrap_or_default();
        let proto = match word.as_str() {
            "ether" => Some(Proto::Ether),
            "ip" => Some(Proto::Ip),
            "ip6" => Some(Proto::Ip6),
            "arp" => Some(Proto::Arp),
            "rarp" => Some(Proto::Rarp),
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            "sctp" => Some(Proto::Sctp),
            _ => None,
        };
        let mut word = word;
        if let Some(named) = proto {
            match self.peek().map(str::to_ascii_lowercase).as_deref() {
                Some("src" | "dst" | "host" | "net" | "port" | "portrange") => {
                    word = self.next_word().unwrap_or_default()
                }
                Some("proto") => {
                    self.pos += 1;
                    return self.proto_number(proto);
                }
                Some("broadcast") if proto == Some(Proto::Ether) => {
                    self.pos += 1;
                    return Ok(ether_broadcast());
                }
                Some("multicast") if proto == Some(Proto::Ether) => {
                    self.pos += 1;
                    return Ok(ether_multicast());
                }
                // A protocol alone: `tcp`, `ip6`, `arp`.
                _ => return self.protocol_alone(named, start),
            }
        }
        match word.as_str() {
            "icmp" => return Ok(ip_proto(1)),
            "igmp" => return Ok(ip_proto(2)),
            "icmp6" => return Ok(ip6_proto(58)),
            "proto" => return self.proto_number(None),
            "less" | "greater" => {
                let n = self.number("a length")?;
                return Ok(if word == "less" {
                    test(vec![Step::Load(Load::Len), Step::Check { cond: Cond::Gt, k: n, negate: true }])
                } else {
                    test(vec![Step::Load(Load::Len), Step::Check { cond: Cond::Ge, k: n, negate: false }])
                });
            }
            "broadcast" => return Ok(ether_broadcast()),
            "multicast" => return Ok(ether_multicast()),
            _ => {}
        }
        let mut dir = Dir::SrcOrDst;
        if word == "src" || word == "dst" {
            dir = if word == "src" { Dir::Src } else { Dir::Dst };
            if matches!(self.peek(), Some("or" | "and"))
                && matches!(self.tokens.get(self.pos + 1).map(|t| t.text.as_str()), Some("src" | "dst"))
            {
                let both = self.next_word() == Some("and".into());
                self.pos += 1;
                dir = if both { Dir::SrcAndDst } else { Dir::SrcOrDst };
            }
            word = match self.peek().map(str::to_ascii_lowercase).as_deref() {
                Some("host" | "net" | "port" | "portrange") => self.next_word().unwrap_or_default(),
                // `src 10.0.0.1` means `src host 10.0.0.1`.
                _ => "host".into(),
            };
        }
        let kind = match word.as_str() {
            "host" => Kind::Host,
            "net" => Kind::Net,
            "port" => Kind::Port,
            "portrange" => Kind::PortRange,
            _ => {
                // A bare value continues the previous primitive: `port 80 or 443`.
                if let (Some(q), true) = (self.last, start > 0) {
                    self.pos = start;
                    return self.value(q);
                }
                self.pos = start;
                return self.err(format!(
                    "'{}' is not a primitive this filter knows (host, net, port, portrange, ether, ip, ip6, arp, tcp, udp, sctp, icmp, icmp6, proto, less, greater, broadcast, multicast)",
                    self.tokens[start].text
                ));
            }
        };
        let q = Quals { proto, dir, kind };
        self.last = Some(q);
        self.value(q)
    }

    fn protocol_alone(&mut self, proto: Proto, start: usize) -> Result<Node, FilterError> {
        Ok(match proto {
            Proto::Ip => ethertype(ETH_IPV4),
            Proto::Ip6 => ethertype(ETH_IPV6),
            Proto::Arp => ethertype(ETH_ARP),
            Proto::Rarp => ethertype(ETH_RARP),
            Proto::Tcp => any_ip_proto(6),
            Proto::Udp => any_ip_proto(17),
            Proto::Sctp => any_ip_proto(132),
            Proto::Ether => {
                self.pos = start + 1;
                return self.err("'ether' needs host, src, dst, proto, broadcast or multicast after it");
            }
        })
    }

    /// `proto N`, `ip proto N`, `ip6 proto N`, `ether proto N` (names: tcp, udp, icmp…).
    fn proto_number(&mut self, proto: Option<Proto>) -> Result<Node, FilterError> {
        let at = self.at();
        let Some(word) = self.next_word() else { return self.err("a protocol number or name is missing") };
        if proto == Some(Proto::Ether) {
            let n = match word.as_str() {
                "ip" => ETH_IPV4,
                "ip6" => ETH_IPV6,
                "arp" => ETH_ARP,
                "rarp" => ETH_RARP,
                w => parse_number(w).filter(|n| *n <= 0xffff).ok_or(FilterError {
                    at,
                    message: format!("'{w}' is not an Ethernet type (a number up to 65535, or ip, ip6, arp, rarp)"),
                })?,
            };
            return Ok(ethertype(n));
        }
        let n = match tyto_packet::ipproto::number(&word) {
            Some(n) => n as u32,
            None => parse_number(&word).filter(|n| *n <= 255).ok_or(FilterError {
                at,
                message: format!("'{word}' is not an IP protocol (a number up to 255, or a name such as tcp)"),
            })?,
        };
        Ok(match proto {
            Some(Proto::Ip) => ip_proto(n),
            Some(Proto::Ip6) => ip6_proto(n),
            None => any_ip_proto(n),
            Some(_) => return Err(FilterError { at, message: "'proto' follows ip, ip6 or ether".into() }),
        })
    }

    fn number(&mut self, what: &str) -> Result<u32, FilterError> {
        let at = self.at();
        match self.next_word().as_deref().and_then(parse_number) {
            Some(n) => Ok(n),
            None => Err(FilterError { at, message: format!("expected {what} (a number)") }),
        }
    }

    /// The value of a qualified primitive.
    fn value(&mut self, q: Quals) -> Result<Node, FilterError> {
        let at = self.at();
        let Some(word) = self.next_word() else { return self.err("a value is missing") };
        let bad = |message: String| FilterError { at, message };
        match q.kind {
            Kind::Port | Kind::PortRange => {
                if matches!(q.proto, Some(Proto::Ether | Proto::Arp | Proto::Rarp)) {
                    return Err(bad("ports go with tcp, udp, sctp, ip or ip6".into()));
                }
                let (lo, hi) = if q.kind == Kind::Port {
                    let p = parse_port(&word).ok_or_else(|| bad(format!("'{word}' is not a port number")))?;
                    (p, p)
                } else {
                    let (a, b) =
                        word.split_once('-').ok_or_else(|| bad(format!("'{word}' is not a range like 6000-6100")))?;
                    let (a, b) = (parse_port(a), parse_port(b));
                    match (a, b) {
                        (Some(a), Some(b)) => (a.min(b), a.max(b)),
                        _ => return Err(bad(format!("'{word}' is not a range like 6000-6100"))),
                    }
                };
                Ok(ports(q.proto, q.dir, lo, hi))
            }
            Kind::Host | Kind::Net => {
                if q.proto == Some(Proto::Ether) {
                    if q.kind == Kind::Net {
                        return Err(bad("'ether net' is not a thing: use ether host".into()));
                    }
                    let mac = parse_mac(&word).ok_or_else(|| bad(format!("'{word}' is not a MAC address")))?;
                    return Ok(by_dir(q.dir, |src| ether_host(src, mac)));
                }
                if matches!(q.proto, Some(Proto::Tcp | Proto::Udp | Proto::Sctp)) {
                    return Err(bad(format!(
                        "'{:?} host' is not a thing: write 'host … and tcp'",
                        q.proto.expect("set")
                    )
                    .to_lowercase()));
                }
                let (addr, prefix) = if q.kind == Kind::Net {
                    self.parse_net(&word).map_err(bad)?
                } else {
                    let ip: IpAddr = word.parse().map_err(|_| {
                        bad(format!("'{word}' is not an IP address (host names are not looked up: give an address)"))
                    })?;
                    (ip, if ip.is_ipv4() { 32 } else { 128 })
                };
                match addr {
                    IpAddr::V4(a) => {
                        if q.proto == Some(Proto::Ip6) {
                            return Err(bad("an IPv4 address with ip6".into()));
                        }
                        Ok(by_dir(q.dir, |src| ipv4_net(q.proto, src, a, prefix)))
                    }
                    IpAddr::V6(a) => {
                        if matches!(q.proto, Some(Proto::Ip | Proto::Arp | Proto::Rarp)) {
                            return Err(bad("an IPv6 address with ip, arp or rarp".into()));
                        }
                        Ok(by_dir(q.dir, |src| ipv6_net(src, a, prefix)))
                    }
                }
            }
        }
    }

    /// `10.0.0.0/8`, `10.1` (= 10.1.0.0/16), `2001:db8::/32`, or `net 10.0.0.0 mask 255.0.0.0`.
    fn parse_net(&mut self, word: &str) -> Result<(IpAddr, u8), String> {
        if self.peek() == Some("mask") {
            self.pos += 1;
            let m = self.next_word().unwrap_or_default();
            let addr: Ipv4Addr = word.parse().map_err(|_| format!("'{word}' is not an IPv4 network"))?;
            let mask: Ipv4Addr = m.parse().map_err(|_| format!("'{m}' is not a netmask"))?;
            let bits = u32::from(mask);
            if bits.leading_ones() + bits.trailing_zeros() != 32 {
                return Err(format!("'{m}' is not a contiguous netmask"));
            }
            return Ok((IpAddr::V4(addr), bits.leading_ones() as u8));
        }
        let (a, len) = match word.split_once('/') {
            Some((a, l)) => (a, Some(l.parse::<u8>().map_err(|_| format!("'{l}' is not a prefix length"))?)),
            None => (word, None),
        };
        if let Ok(v6) = a.parse::<Ipv6Addr>() {
            let len = len.unwrap_or(128);
            if len > 128 {
                return Err(format!("/{len} is longer than an IPv6 address"));
            }
            return Ok((IpAddr::V6(v6), len));
        }
        // IPv4, possibly partial: `10`, `10.1`, `10.1.2`.
        let parts: Vec<&str> = a.split('.').collect();
        let mut octets = [0u8; 4];
        if parts.is_empty() || parts.len() > 4 {
            return Err(format!("'{word}' is not a network"));
        }
        for (i, p) in parts.iter().enumerate() {
            octets[i] = p.parse().map_err(|_| format!("'{word}' is not a network"))?;
        }
        let len = len.unwrap_or(8 * parts.len() as u8);
        if len > 32 {
            return Err(format!("/{len} is longer than an IPv4 address"));
        }
        Ok((IpAddr::V4(Ipv4Addr::from(octets)), len))
    }
}

fn parse_number(w: &str) -> Option<u32> {
    match w.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => w.parse().ok(),
    }
}

fn parse_port(w: &str) -> Option<u32> {
    let n = match w {
        "http" => 80,
        "https" => 443,
        "ssh" => 22,
        "domain" => 53,
        "ftp" => 21,
        "smtp" => 25,
        "telnet" => 23,
        _ => parse_number(w)?,
    };
    (n <= 65535).then_some(n)
}

fn parse_mac(w: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = w.split([':', '-', '.']).collect();
    let mut mac = [0u8; 6];
    if parts.len() != 6 {
        return None;
    }
    for (i, p) in parts.iter().enumerate() {
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        mac[i] = u8::from_str_radix(p, 16).ok()?;
    }
    Some(mac)
}

fn by_dir(dir: Dir, f: impl Fn(bool) -> Node) -> Node {
    match dir {
        Dir::Src => f(true),
        Dir::Dst => f(false),
        Dir::SrcOrDst => or(f(true), f(false)),
        Dir::SrcAndDst => and(f(true), f(false)),
    }
}

fn ip_proto(p: u32) -> Node {
    and(ethertype(ETH_IPV4), test(eq(Load::Byte(23), p)))
}

/// IPv6's next header, or the header after a fragment header (as libpcap does).
fn ip6_proto(p: u32) -> Node {
    and(
        ethertype(ETH_IPV6),
        or(test(eq(Load::Byte(20), p)), and(test(eq(Load::Byte(20), 44)), test(eq(Load::Byte(54), p)))),
    )
}

fn any_ip_proto(p: u32) -> Node {
    or(ip_proto(p), ip6_proto(p))
}

fn ether_broadcast() -> Node {
    and(test(eq(Load::Word(2), 0xffff_ffff)), test(eq(Load::Half(0), 0xffff)))
}

fn ether_multicast() -> Node {
    test(vec![Step::Load(Load::Byte(0)), Step::Check { cond: Cond::Set, k: 1, negate: false }])
}

fn ether_host(src: bool, mac: [u8; 6]) -> Node {
    let base = if src { 6 } else { 0 };
    let word = u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]);
    let half = u16::from_be_bytes([mac[0], mac[1]]) as u32;
    test([eq(Load::Word(base + 2), word), eq(Load::Half(base), half)].concat())
}

fn masked(load: Load, value: u32, mask: u32) -> Vec<Step> {
    let mut v = vec![Step::Load(load)];
    if mask != u32::MAX {
        v.push(Step::And(mask));
    }
    v.push(Step::Check { cond: Cond::Eq, k: value & mask, negate: false });
    v
}

/// An IPv4 address or network in IPv4 (and, for `host`/`net` without `ip`, ARP and
/// RARP, as tcpdump does).
fn ipv4_net(proto: Option<Proto>, src: bool, a: Ipv4Addr, prefix: u8) -> Node {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix as u32) };
    let value = u32::from(a);
    let ip = and(ethertype(ETH_IPV4), test(masked(Load::Word(if src { 26 } else { 30 }), value, mask)));
    let arp = |t| and(ethertype(t), test(masked(Load::Word(if src { 28 } else { 38 }), value, mask)));
    match proto {
        Some(Proto::Ip) => ip,
        Some(Proto::Arp) => arp(ETH_ARP),
        Some(Proto::Rarp) => arp(ETH_RARP),
        _ => or(or(ip, arp(ETH_ARP)), arp(ETH_RARP)),
    }
}

fn ipv6_net(src: bool, a: Ipv6Addr, prefix: u8) -> Node {
    let base = if src { 22 } else { 38 };
    let words: Vec<u32> = a.octets().chunks(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect();
    let mut steps = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let bits_here = (prefix as i32 - 32 * i as i32).clamp(0, 32) as u32;
        if bits_here == 0 {
            break;
        }
        let mask = if bits_here == 32 { u32::MAX } else { u32::MAX << (32 - bits_here) };
        steps.extend(masked(Load::Word(base + 4 * i as u32), *w, mask));
    }
    if steps.is_empty() {
        return ethertype(ETH_IPV6);
    }
    and(ethertype(ETH_IPV6), test(steps))
}

/// `[tcp|udp|sctp] [src|dst] port N` and port ranges, over IPv4 (first fragments
/// only, as the ports are there) and IPv6.
fn ports(proto: Option<Proto>, dir: Dir, lo: u32, hi: u32) -> Node {
    let protos: Vec<u32> = match proto {
        Some(Proto::Tcp) => vec![6],
        Some(Proto::Udp) => vec![17],
        Some(Proto::Sctp) => vec![132],
        _ => vec![6, 17, 132],
    };
    let proto_is =
        |at: u32| protos.iter().map(|p| test(eq(Load::Byte(at), *p))).reduce(or).expect("at least one protocol");
    let in_range = |load: Load| -> Vec<Step> {
        if lo == hi {
            eq(load, lo)
        } else {
            vec![
                Step::Load(load),
                Step::Check { cond: Cond::Ge, k: lo, negate: false },
                Step::Check { cond: Cond::Gt, k: hi, negate: true },
            ]
        }
    };
    let v4 = |src: bool| {
        let mut steps = vec![
            Step::Load(Load::Half(20)),
            Step::Check { cond: Cond::Set, k: 0x1fff, negate: true },
            Step::Load(Load::IpHeaderLen(14)),
        ];
        steps.extend(in_range(Load::HalfAfterIp(if src { 14 } else { 16 })));
        test(steps)
    };
    let v6 = |src: bool| test(in_range(Load::Half(if src { 54 } else { 56 })));
    let want4 = !matches!(proto, Some(Proto::Ip6));
    let want6 = !matches!(proto, Some(Proto::Ip));
    let mut out: Option<Node> = None;
    if want4 {
        out = Some(and(and(ethertype(ETH_IPV4), proto_is(23)), by_dir(dir, v4)));
    }
    if want6 {
        let n = and(and(ethertype(ETH_IPV6), proto_is(20)), by_dir(dir, v6));
        out = Some(match out {
            Some(o) => or(o, n),
            None => n,
        });
    }
    out.expect("IPv4 or IPv6")
}

// ---------------------------------------------------------------------------
// Code generation: short-circuit jumps, all forward (classic BPF has no backward
// jumps), targets resolved once the code is laid out.

#[derive(Clone, Copy)]
enum Op {
    Load(Load),
    And(u32),
    Jump { cond: Cond, k: u32, yes: usize, no: usize },
    Goto(usize),
    Ret(u32),
}

struct Gen {
    code: Vec<Op>,
    /// Where each label was placed (an instruction index).
    labels: Vec<Option<usize>>,
}

impl Gen {
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }

    fn place(&mut self, l: usize) {
        self.labels[l] = Some(self.code.len());
    }

    fn emit(&mut self, n: &Node, yes: usize, no: usize) {
        match n {
            Node::True => self.code.push(Op::Goto(yes)),
            Node::Not(a) => self.emit(a, no, yes),
            Node::And(a, b) => {
                let mid = self.label();
                self.emit(a, mid, no);
                self.place(mid);
                self.emit(b, yes, no);
            }
            Node::Or(a, b) => {
                let mid = self.label();
                self.emit(a, yes, mid);
                self.place(mid);
                self.emit(b, yes, no);
            }
            Node::Test(steps) => {
                let checks = steps.iter().filter(|s| matches!(s, Step::Check { .. })).count();
                let mut seen = 0;
                for s in steps {
                    match *s {
                        Step::Load(l) => self.code.push(Op::Load(l)),
                        Step::And(m) => self.code.push(Op::And(m)),
                        Step::Check { cond, k, negate } => {
                            seen += 1;
                            let pass = if seen == checks {
                                yes
                            } else {
                                let next = self.label();
                                self.labels[next] = Some(self.code.len() + 1);
                                next
                            };
                            let (y, n) = if negate { (no, pass) } else { (pass, no) };
                            self.code.push(Op::Jump { cond, k, yes: y, no: n });
                        }
                    }
                }
            }
        }
    }

    fn finish(self) -> Result<BpfProgram, FilterError> {
        if self.code.len() > MAX_INSNS {
            return Err(FilterError {
                at: 1,
                message: format!(
                    "the filter needs {} instructions, more than the kernel's {MAX_INSNS}",
                    self.code.len()
                ),
            });
        }
        let target = |l: usize| self.labels[l].expect("every label is placed");
        let offset = |from: usize, l: usize| -> Result<u8, FilterError> {
            let d = target(l) - from - 1;
            u8::try_from(d).map_err(|_| FilterError {
                at: 1,
                message: format!(
                    "the filter is too long for a kernel filter (a jump of {d} instructions; 255 at most)"
                ),
            })
        };
        let mut insns = Vec::with_capacity(self.code.len());
        for (i, op) in self.code.iter().enumerate() {
            let ins = |code, k| BpfInsn { code, jt: 0, jf: 0, k };
            insns.push(match *op {
                Op::Load(Load::Word(k)) => ins(LD_W_ABS, k),
                Op::Load(Load::Half(k)) => ins(LD_H_ABS, k),
                Op::Load(Load::Byte(k)) => ins(LD_B_ABS, k),
                Op::Load(Load::Len) => ins(LD_W_LEN, 0),
                Op::Load(Load::IpHeaderLen(k)) => ins(LDX_B_MSH, k),
                Op::Load(Load::HalfAfterIp(k)) => ins(LD_H_IND, k),
                Op::And(m) => ins(ALU_AND_K, m),
                Op::Goto(l) => ins(JMP_JA, (target(l) - i - 1) as u32),
                Op::Ret(k) => ins(RET_K, k),
                Op::Jump { cond, k, yes, no } => BpfInsn {
                    code: match cond {
                        Cond::Eq => JMP_JEQ_K,
                        Cond::Gt => JMP_JGT_K,
                        Cond::Ge => JMP_JGE_K,
                        Cond::Set => JMP_JSET_K,
                    },
                    jt: offset(i, yes)?,
                    jf: offset(i, no)?,
                    k,
                },
            });
        }
        Ok(BpfProgram { insns })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet + IPv4 + TCP/UDP frame.
    fn v4(proto: u8, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[0..6].copy_from_slice(&[0, 1, 2, 3, 4, 5]);
        f[6..12].copy_from_slice(&[6, 7, 8, 9, 10, 11]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[23] = proto;
        f[26..30].copy_from_slice(&src);
        f[30..34].copy_from_slice(&dst);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f[36..38].copy_from_slice(&dport.to_be_bytes());
        f
    }

    fn v6(proto: u8, src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 40 + 20];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f[14] = 0x60;
        f[20] = proto;
        f[22..38].copy_from_slice(&src.octets());
        f[38..54].copy_from_slice(&dst.octets());
        f[54..56].copy_from_slice(&sport.to_be_bytes());
        f[56..58].copy_from_slice(&dport.to_be_bytes());
        f
    }

    fn keeps(filter: &str, frame: &[u8]) -> bool {
        compile(filter, 65535).unwrap_or_else(|e| panic!("{filter}: {e}")).run(frame, frame.len() as u32) > 0
    }

    #[test]
    fn primitives_match_what_they_name() {
        let ssh = v4(6, [10, 0, 0, 1], [192, 168, 1, 9], 40000, 22);
        let dns = v4(17, [10, 0, 0, 2], [8, 8, 8, 8], 5353, 53);
        let six = v6(6, "2001:db8::1".parse().unwrap(), "2001:db8:1::2".parse().unwrap(), 1234, 443);
        for (f, frame, want) in [
            ("", &ssh, true),
            ("tcp", &ssh, true),
            ("udp", &ssh, false),
            ("not port 22", &ssh, false),
            ("not port 22", &dns, true),
            ("port 80 or 22", &ssh, true),
            ("dst port 22", &ssh, true),
            ("src port 22", &ssh, false),
            ("tcp dst port 22", &ssh, true),
            ("udp port 22", &ssh, false),
            ("portrange 20-25", &ssh, true),
            ("portrange 23-25", &ssh, false),
            ("host 10.0.0.1", &ssh, true),
            ("src host 10.0.0.1 and dst host 192.168.1.9", &ssh, true),
            ("dst 10.0.0.1", &ssh, false),
            ("net 192.168.0.0/16", &ssh, true),
            ("net 192.168", &ssh, true),
            ("net 192.169", &ssh, false),
            ("dst net 192.168.0.0 mask 255.255.0.0", &ssh, true),
            ("udp and dst port domain", &dns, true),
            ("ip proto 17", &dns, true),
            ("icmp", &dns, false),
            ("ip6", &six, true),
            ("ip", &six, false),
            ("tcp port 443 and host 2001:db8:1::2", &six, true),
            ("net 2001:db8::/32", &six, true),
            ("net 2001:db9::/32", &six, false),
            ("ip6 and src net 2001:db8::/48 and not dst net 2001:db8::/48", &six, true),
            ("ether src 06:07:08:09:0a:0b", &ssh, true),
            ("ether host 00:01:02:03:04:06", &ssh, false),
            ("less 60", &ssh, true),
            ("greater 60", &ssh, false),
            ("!(tcp || udp)", &dns, false),
            ("(host 10.0.0.1 or host 10.0.0.2) and not port 53", &dns, false),
        ] {
            assert_eq!(keeps(f, frame), want, "{f}");
        }
    }

    #[test]
    fn later_fragments_have_no_ports() {
        let mut frag = v4(17, [10, 0, 0, 2], [8, 8, 8, 8], 5353, 53);
        frag[20] = 0x00;
        frag[21] = 0x10; // fragment offset 16
        assert!(!keeps("port 53", &frag));
        assert!(keeps("udp", &frag));
    }

    #[test]
    fn accepted_packets_are_cut_to_the_snap_length() {
        let dns = v4(17, [10, 0, 0, 2], [8, 8, 8, 8], 5353, 53);
        assert_eq!(compile("udp", 40).unwrap().run(&dns, dns.len() as u32), 40);
        assert_eq!(compile("", 1000).unwrap().run(&dns, dns.len() as u32), dns.len() as u32);
    }

    #[test]
    fn short_frames_are_rejected_not_read_past() {
        for f in ["port 22", "host 2001:db8::1", "ether host 00:01:02:03:04:05", "tcp"] {
            let p = compile(f, 65535).unwrap();
            for n in 0..20 {
                assert_eq!(p.run(&vec![0x86; n], n as u32), 0, "{f} on {n} bytes");
            }
        }
    }

    #[test]
    fn mistakes_say_where() {
        for (f, at, says) in [
            ("port", 5, "value is missing"),
            ("port 70000", 6, "not a port"),
            ("host example.com", 6, "not looked up"),
            ("tcp and", 8, "ends where"),
            ("(tcp", 5, "expected ')'"),
            ("host 10.0.0.1 $", 15, "unexpected character"),
            ("frobnicate", 1, "not a primitive"),
            ("net 10.0.0.0/40", 5, "longer than"),
            ("tcp host 1.2.3.4", 10, "not a thing"),
        ] {
            let e = compile(f, 65535).unwrap_err();
            assert_eq!(e.at, at, "{f}: {e}");
            assert!(e.message.contains(says), "{f}: {e}");
        }
        let deep = "(".repeat(100) + "tcp" + &")".repeat(100);
        assert!(compile(&deep, 65535).unwrap_err().message.contains("nested"));
    }

    #[test]
    fn long_filters_are_refused_with_a_reason_not_miscompiled() {
        let many = (1..200).map(|p| format!("port {p}")).collect::<Vec<_>>().join(" or ");
        let e = compile(&many, 65535).unwrap_err();
        assert!(e.message.contains("too long") || e.message.contains("instructions"), "{e}");
        let some = (1..6).map(|p| format!("port {p}")).collect::<Vec<_>>().join(" or ");
        assert!(keeps(&some, &v4(6, [1, 1, 1, 1], [2, 2, 2, 2], 9, 3)));
    }
}

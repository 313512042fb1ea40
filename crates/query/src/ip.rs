//! IP values as Arkime reads them: exact v4/v6, CIDR, partial v4 (`10.1` is
//! 10.1.0.0/16), partial v6 (`2001:db8:` is 2001:db8::/32), and a port after `:` for
//! v4 or `.` for v6 (`10.0.0.1:80`, `2001:db8::1.443`, or `:80` / `.80` alone).

use std::net::Ipv6Addr;

/// An address range (v4 mapped into v6, as the stores keep them) and/or a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpValue {
    pub range: Option<(u128, u128)>,
    pub port: Option<u16>,
}

const V4_MAPPED: u128 = 0xffff_0000_0000;

fn port(s: &str) -> Result<u16, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{s}' is not a port"));
    }
    s.parse::<u16>().map_err(|_| format!("port {s} is above 65535"))
}

fn prefix(s: &str, max: u32) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(p) if p <= max && s.bytes().all(|b| b.is_ascii_digit()) => Ok(p),
        _ => Err(format!("'/{s}' is not a prefix length (0 to {max})")),
    }
}

fn range(addr: u128, bits: u32) -> (u128, u128) {
    let host = u128::MAX.checked_shr(bits).unwrap_or(0);
    (addr & !host, addr | host)
}

fn v4(text: &str) -> Result<(u128, u128), String> {
    let (addr, explicit) = match text.split_once('/') {
        Some((a, p)) => (a, Some(prefix(p, 32)?)),
        None => (text, None),
    };
    let addr = addr.strip_suffix('.').unwrap_or(addr);
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.is_empty() || parts.len() > 4 || parts.iter().any(|p| p.is_empty()) {
        return Err("expected up to four numbers separated by dots".into());
    }
    let mut a: u32 = 0;
    for p in &parts {
        if p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("'{p}' is not a number from 0 to 255"));
        }
        let n: u32 = p.parse().map_err(|_| format!("'{p}' is not a number from 0 to 255"))?;
        if n > 255 {
            return Err(format!("{n} is above 255"));
        }
        a = (a << 8) | n;
    }
    a <<= 8 * (4 - parts.len() as u32);
    // A partial address stands for its network: `10.1` is 10.1.0.0/16.
    let bits = explicit.unwrap_or(8 * parts.len() as u32);
    Ok(range(V4_MAPPED | u128::from(a), 96 + bits))
}

fn v6(text: &str) -> Result<(u128, u128), String> {
    let (addr, explicit) = match text.split_once('/') {
        Some((a, p)) => (a, Some(prefix(p, 128)?)),
        None => (text, None),
    };
    if let Ok(a) = addr.parse::<Ipv6Addr>() {
        return Ok(range(u128::from(a), explicit.unwrap_or(128)));
    }
    // Partial: `2001:db8:` is 2001:db8::/32 (one colon alone reads as IPv4 with a port).
    let groups: Vec<&str> = addr.trim_end_matches(':').split(':').collect();
    if addr.contains("::") || groups.len() >= 8 {
        return Err("not an IPv6 address".into());
    }
    let full = format!("{}::", groups.join(":"));
    let a: Ipv6Addr = full.parse().map_err(|_| "not an IPv6 address".to_string())?;
    Ok(range(u128::from(a), explicit.unwrap_or(16 * groups.len() as u32)))
}

/// Reads one IP value.
pub fn parse_ip_value(word: &str) -> Result<IpValue, String> {
    let w = word.trim();
    if w.is_empty() {
        return Err("empty".into());
    }
    if (w.starts_with(':') && !w.starts_with("::")) || w.starts_with('.') {
        return Ok(IpValue { range: None, port: Some(port(&w[1..])?) });
    }
    let colons = w.matches(':').count();
    if colons >= 2 {
        // IPv6; a port follows the last '.', unless the whole is an address with an
        // embedded IPv4 part (`::ffff:1.2.3.4`).
        if let Ok(r) = v6(w) {
            return Ok(IpValue { range: Some(r), port: None });
        }
        if let Some((addr, p)) = w.rsplit_once('.') {
            return Ok(IpValue { range: Some(v6(addr)?), port: Some(port(p)?) });
        }
        return Err("not an IPv6 address".into());
    }
    let (addr, p) = match w.split_once(':') {
        Some((a, p)) => (a, Some(port(p)?)),
        None => (w, None),
    };
    Ok(IpValue { range: Some(v4(addr)?), port: p })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(a: [u8; 4]) -> u128 {
        V4_MAPPED | u128::from(u32::from_be_bytes(a))
    }

    #[test]
    fn arkime_forms() {
        let one = |a| Some((m(a), m(a)));
        assert_eq!(parse_ip_value("10.1.2.3"), Ok(IpValue { range: one([10, 1, 2, 3]), port: None }));
        assert_eq!(
            parse_ip_value("10.1"),
            Ok(IpValue { range: Some((m([10, 1, 0, 0]), m([10, 1, 255, 255]))), port: None })
        );
        assert_eq!(
            parse_ip_value("10"),
            Ok(IpValue { range: Some((m([10, 0, 0, 0]), m([10, 255, 255, 255]))), port: None })
        );
        assert_eq!(
            parse_ip_value("131.206.0.0/16"),
            Ok(IpValue { range: Some((m([131, 206, 0, 0]), m([131, 206, 255, 255]))), port: None })
        );
        assert_eq!(parse_ip_value("10.0.0.1:80"), Ok(IpValue { range: one([10, 0, 0, 1]), port: Some(80) }));
        assert_eq!(parse_ip_value(":443"), Ok(IpValue { range: None, port: Some(443) }));
        assert_eq!(parse_ip_value(".53"), Ok(IpValue { range: None, port: Some(53) }));
        let v6 = u128::from("2001:db8::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(parse_ip_value("2001:db8::1"), Ok(IpValue { range: Some((v6, v6)), port: None }));
        assert_eq!(parse_ip_value("2001:db8::1.443"), Ok(IpValue { range: Some((v6, v6)), port: Some(443) }));
        let net = u128::from("2001:db8::".parse::<Ipv6Addr>().unwrap());
        assert_eq!(parse_ip_value("2001:db8:").unwrap().range, Some((net, net | (u128::MAX >> 32))));
        assert_eq!(parse_ip_value("2001:db8::/32").unwrap().range, Some((net, net | (u128::MAX >> 32))));
        let mapped = parse_ip_value("::ffff:1.2.3.4").unwrap();
        assert_eq!(mapped.range, one([1, 2, 3, 4]));
        assert_eq!(parse_ip_value("0.0.0.0/0").unwrap().range, Some((V4_MAPPED, V4_MAPPED | 0xffff_ffff)));
    }

    #[test]
    fn bad_values_say_why() {
        for bad in
            ["10.0.0.256", "10.0.0.1/33", "10..1", "a.b.c.d", "10.0.0.1:70000", "10.0.0.1:", "1:2:3:4:5:6:7:8:9", ""]
        {
            assert!(parse_ip_value(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_ip_value("10.0.0.300").unwrap_err(), "300 is above 255");
    }
}

//! Time formatting and parsing for record times (nanoseconds since the Unix epoch).
//! Small enough to keep here rather than pull a calendar crate into every layer.

/// The clock now, in nanoseconds since the epoch (what relative times such as `-1d` count from).
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// A span of nanoseconds in the microseconds a duration field holds, rounded to the
/// nearest (as tshark rounds its figures); a negative span (a clock that went back)
/// is 0.
pub fn span_micros(ns: i64) -> i64 {
    (ns.max(0) + 500) / 1000
}

/// `2013-11-25T14:55:58.382123Z`: UTC, to the microsecond.
pub fn format_rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let micros = ns.rem_euclid(1_000_000_000) / 1000;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z", sod / 3600, (sod / 60) % 60, sod % 60)
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.frac]][Z]` (also with a space, and
/// `/` between the date's parts as Arkime writes it), or
/// a number of epoch seconds. Times are UTC.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        return secs.checked_mul(1_000_000_000);
    }
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (date, time) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    // Arkime's own form is `YYYY/MM/DD HH:MM:SS`; both separators are read.
    let mut dp = date.split(['-', '/']);
    let y: i64 = dp.next()?.parse().ok()?;
    let m: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1..=9999).contains(&y) {
        return None;
    }
    let mut ns_of_day: i64 = 0;
    if !time.is_empty() {
        let (hms, frac) = match time.split_once('.') {
            Some((a, b)) => (a, b),
            None => (time, ""),
        };
        let mut tp = hms.split(':');
        let h: i64 = tp.next()?.parse().ok()?;
        let mi: i64 = tp.next()?.parse().ok()?;
        let sec: i64 = match tp.next() {
            Some(x) => x.parse().ok()?,
            None => 0,
        };
        if tp.next().is_some() || h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        let mut frac_ns: i64 = 0;
        if !frac.is_empty() {
            if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            frac_ns = frac.parse::<i64>().ok()? * 10i64.pow(9 - frac.len() as u32);
        }
        ns_of_day = ((h * 60 + mi) * 60 + sec) * 1_000_000_000 + frac_ns;
    }
    let days = days_from_civil(y, m, d);
    Some(days * 86_400 * 1_000_000_000 + ns_of_day)
}

// Howard Hinnant's civil calendar algorithms (public domain).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A bucket width in seconds near `span_ns / buckets`, rounded up to one a person
/// reads easily (1 s, 5 s, 10 s, 30 s, 1 min, 5 min… 1 day, 1 week, 30 days, 1 year).
pub fn nice_interval_s(span_ns: i64, buckets: i64) -> i64 {
    const STEPS: &[i64] =
        &[1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 7 * 86_400, 30 * 86_400];
    let want = (span_ns / 1_000_000_000 / buckets.max(1)).max(1);
    STEPS.iter().copied().find(|s| *s >= want).unwrap_or(365 * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let ns = 1_385_391_358_382_123_000;
        assert_eq!(format_rfc3339(ns), "2013-11-25T14:55:58.382123Z");
        assert_eq!(parse_time("2013-11-25T14:55:58.382123Z"), Some(ns));
        assert_eq!(parse_time("2013-11-25 14:55:58.382123"), Some(ns));
        assert_eq!(parse_time("1385391358"), Some(1_385_391_358_000_000_000));
        assert_eq!(parse_time("1970-01-01"), Some(0));
        assert_eq!(format_rfc3339(-1_000), "1969-12-31T23:59:59.999999Z");
        for bad in ["", "2013-13-01", "yesterday", "2013-11-25T25:00", "2013-11-25T10:00:00.1234567890"] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
    }
}

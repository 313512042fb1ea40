//! A user's time zone (an IANA name such as `Europe/Paris`): the wall clock their
//! typed times are read in — in expressions and time parameters — while every time
//! the API answers stays an instant (RFC 3339 in UTC, or epoch). The zone rules are
//! the tz database bundled in the binary (`jiff`), so nothing is needed on the host.

use jiff::tz::TimeZone;
use tyto_query::{Utc, Zone};

use crate::users::User;

/// A named zone's wall clock.
struct Named(TimeZone);

impl Zone for Named {
    fn instant(&self, wall_ns: i64) -> Option<i64> {
        const S: i64 = 1_000_000_000;
        let stamp = jiff::Timestamp::new(wall_ns.div_euclid(S), wall_ns.rem_euclid(S) as i32).ok()?;
        let wall = stamp.to_zoned(TimeZone::UTC).datetime();
        // `compatible`: the earlier of two instants a wall time names twice, the
        // moment after a gap for one clocks skip (RFC 5545's rule, and Temporal's).
        let zoned = self.0.to_ambiguous_zoned(wall).compatible().ok()?;
        i64::try_from(zoned.timestamp().as_nanosecond()).ok()
    }
}

/// The zone `name` names, if the tz database knows it (`UTC` included).
pub fn check(name: &str) -> Result<(), String> {
    TimeZone::get(name).map(|_| ()).map_err(|e| format!("{name:?} is not a time zone of the tz database ({e})"))
}

/// The zone this user types times in: theirs, or UTC.
pub fn of(user: &User) -> Box<dyn Zone> {
    match user.time_zone.as_deref().map(TimeZone::get) {
        Some(Ok(tz)) => Box::new(Named(tz)),
        _ => Box::new(Utc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_times_are_read_in_the_named_zone() {
        const S: i64 = 1_000_000_000;
        let paris = Named(TimeZone::get("Europe/Paris").unwrap());
        // 2024-05-01 12:00 in Paris (summer time, +2) is 10:00 UTC.
        assert_eq!(paris.instant(1_714_564_800 * S), Some(1_714_557_600 * S));
        // 2024-01-15 12:00 (winter, +1) is 11:00 UTC.
        assert_eq!(paris.instant(1_705_320_000 * S), Some(1_705_316_400 * S));
        // 2024-03-31 02:30 does not exist there (clocks go 02:00 -> 03:00): the moment after the gap, 01:00 UTC.
        assert_eq!(paris.instant(1_711_852_200 * S), Some(1_711_846_800 * S + 1800 * S));
        assert!(check("Europe/Paris").is_ok() && check("UTC").is_ok());
        assert!(check("Mars/Olympus").unwrap_err().contains("not a time zone"));
        let mut u = crate::users::new_user("ann", false);
        assert_eq!(of(&u).instant(5 * S), Some(5 * S), "UTC by default");
        u.time_zone = Some("Asia/Kolkata".into());
        assert_eq!(of(&u).instant(5 * S), Some(5 * S - 19_800 * S));
    }
}

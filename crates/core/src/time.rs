//! The station's time for everything people read: the screen clock, receipt
//! numbers and printed times, records, progress. Formatting only: the clock
//! itself is read by callers outside the core.
//!
//! The zone is a setting (`[station] time_zone`, default Asia/Shanghai), set
//! once at start-up, so a kiosk whose system zone is UTC (a fresh Raspberry
//! Pi image) still shows and prints one time.

use chrono::TimeZone;
use chrono_tz::Tz;
use std::sync::OnceLock;

/// The zone of a station that sets none: China's one zone.
pub const DEFAULT_ZONE: Tz = chrono_tz::Asia::Shanghai;

static STATION_ZONE: OnceLock<Tz> = OnceLock::new();

/// Set the station's zone for this process, once, at start-up (the
/// configuration is read then). A second call is ignored and answers `false`.
pub fn set_station_zone(zone: Tz) -> bool {
    STATION_ZONE.set(zone).is_ok()
}

/// The station's zone: what was set at start-up, else [`DEFAULT_ZONE`].
pub fn station_zone() -> Tz {
    STATION_ZONE.get().copied().unwrap_or(DEFAULT_ZONE)
}

/// A zone by its IANA name (`Asia/Shanghai`), for the configuration.
pub fn parse_zone(name: &str) -> Option<Tz> {
    name.trim().parse::<Tz>().ok()
}

/// A unix time in milliseconds as RFC 3339 in the station's zone (empty when out of range).
pub fn rfc3339(ms: i64) -> String {
    station_zone()
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, false))
        .unwrap_or_default()
}

/// The day `working_days` working days after the day of `from_ms` (in the
/// station's zone), as `YYYY-MM-DD`: Saturdays and Sundays are skipped.
/// Public holidays and the State Council's swapped working weekends are not
/// known here, so the date may fall a day or two early around them: it is
/// what the receipt promises at the latest, never later than the law allows.
pub fn due_date(from_ms: i64, working_days: u16) -> String {
    use chrono::Datelike as _;
    let Some(start) = station_zone().timestamp_millis_opt(from_ms).single() else {
        return String::new();
    };
    let mut day = start.date_naive();
    let mut left = working_days;
    while left > 0 {
        let Some(next) = day.succ_opt() else {
            return String::new();
        };
        day = next;
        if !matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun) {
            left -= 1;
        }
    }
    day.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_dates_skip_weekends() {
        // 2026-12-04 is a Friday, 10:00 in Beijing.
        let friday = 1_796_349_600_000;
        assert_eq!(rfc3339(friday), "2026-12-04T10:00:00.000+08:00");
        assert_eq!(due_date(friday, 1), "2026-12-07");
        assert_eq!(due_date(friday, 5), "2026-12-11");
        assert_eq!(due_date(friday, 0), "2026-12-04");
        // Half past midnight on Monday in Beijing is still Sunday in UTC:
        // the station's calendar counts.
        let monday = 1_796_574_600_000;
        assert_eq!(&rfc3339(monday)[..10], "2026-12-07");
        assert_eq!(due_date(monday, 1), "2026-12-08");
    }

    #[test]
    fn formats_in_the_station_zone() {
        assert_eq!(rfc3339(0), "1970-01-01T08:00:00.000+08:00");
    }

    #[test]
    fn zones_are_known_by_their_iana_names() {
        assert_eq!(parse_zone("Asia/Shanghai"), Some(DEFAULT_ZONE));
        assert_eq!(parse_zone(" Asia/Urumqi "), Some(chrono_tz::Asia::Urumqi));
        assert_eq!(parse_zone("Beijing"), None);
        assert_eq!(parse_zone(""), None);
    }
}

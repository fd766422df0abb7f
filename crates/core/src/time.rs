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

#[cfg(test)]
mod tests {
    use super::*;

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

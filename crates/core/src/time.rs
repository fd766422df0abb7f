//! Beijing time for receipts, records and printed times. Formatting only:
//! the clock itself is read by callers outside the core.

use chrono::{FixedOffset, TimeZone};

/// Beijing time (UTC+8, no DST): receipt dates and printed times.
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// A unix time in milliseconds as RFC 3339 in Beijing time (empty when out of range).
pub fn rfc3339(ms: i64) -> String {
    beijing()
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, false))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_beijing_time() {
        assert_eq!(rfc3339(0), "1970-01-01T08:00:00.000+08:00");
    }
}

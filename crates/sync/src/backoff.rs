//! Exponential back-off with full jitter (AWS architecture blog, "Exponential
//! Backoff And Jitter"): the n-th retry waits a uniformly random time in
//! `[0, min(cap, base · 2ⁿ))`. Pure functions; the caller supplies the random
//! number so the bounds can be tested.

use std::time::Duration;

/// Upper bound of the n-th (0-based) delay: `min(cap, base · 2ⁿ)`.
pub fn ceiling(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let factor = 1u128 << attempt.min(64);
    let nanos = base.as_nanos().saturating_mul(factor);
    let nanos = nanos.min(cap.as_nanos());
    Duration::from_nanos(nanos.min(u64::MAX as u128) as u64)
}

/// Full-jitter delay for `attempt`, with `unit` uniform in `[0, 1)`.
pub fn full_jitter(attempt: u32, base: Duration, cap: Duration, unit: f64) -> Duration {
    let unit = if unit.is_finite() {
        unit.clamp(0.0, 1.0)
    } else {
        0.0
    };
    ceiling(attempt, base, cap).mul_f64(unit)
}

/// Delay before the next try: full jitter, but never sooner than the
/// platform's `Retry-After`.
pub fn next_delay(
    attempt: u32,
    base: Duration,
    cap: Duration,
    retry_after: Option<Duration>,
    unit: f64,
) -> Duration {
    let d = full_jitter(attempt, base, cap, unit);
    match retry_after {
        Some(ra) => d.max(ra),
        None => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(100);
    const CAP: Duration = Duration::from_secs(30);

    #[test]
    fn ceiling_doubles_then_caps() {
        assert_eq!(ceiling(0, BASE, CAP), Duration::from_millis(100));
        assert_eq!(ceiling(3, BASE, CAP), Duration::from_millis(800));
        assert_eq!(ceiling(9, BASE, CAP), CAP);
        assert_eq!(ceiling(200, BASE, CAP), CAP, "no overflow");
    }

    #[test]
    fn jitter_within_bounds_for_random_units() {
        for attempt in 0..40 {
            for _ in 0..200 {
                let u: f64 = rand::random();
                let d = full_jitter(attempt, BASE, CAP, u);
                assert!(d <= ceiling(attempt, BASE, CAP) && d <= CAP);
            }
        }
        assert_eq!(full_jitter(5, BASE, CAP, 0.0), Duration::ZERO);
        assert_eq!(full_jitter(5, BASE, CAP, f64::NAN), Duration::ZERO);
    }

    #[test]
    fn jitter_spreads_over_the_whole_range() {
        let n = 2000;
        let ceil = ceiling(4, BASE, CAP).as_secs_f64();
        let mean = (0..n)
            .map(|_| full_jitter(4, BASE, CAP, rand::random()).as_secs_f64())
            .sum::<f64>()
            / n as f64;
        assert!(
            (mean / ceil - 0.5).abs() < 0.05,
            "mean {mean} of ceiling {ceil}"
        );
    }

    #[test]
    fn retry_after_is_a_floor() {
        let ra = Some(Duration::from_secs(2));
        assert_eq!(next_delay(0, BASE, CAP, ra, 0.5), Duration::from_secs(2));
        assert_eq!(next_delay(20, BASE, CAP, ra, 1.0), CAP);
    }
}

//! Go `time.Duration` strings (`1m0s`, `1h30m`, `500ms`, `2.5s`), as Flux
//! intervals and timeouts are written: [`flux_go::duration`] over
//! `std::time::Duration` (intervals are never negative).

use std::time::Duration;

pub use flux_go::duration::DurationError;

/// Parses a Go duration (`time.ParseDuration`); negative durations are
/// refused as invalid.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let nanos = flux_go::duration::parse(text)?;
    u64::try_from(nanos)
        .map(Duration::from_nanos)
        .map_err(|_| DurationError::Invalid(text.to_string()))
}

/// Formats a duration as Go's `time.Duration.String()` does: `0s`,
/// `500ms`, `1.5µs`, `1m0s`, `1h30m0s`, `2.5s` (saturating at Go's
/// largest duration).
pub fn format_duration(duration: Duration) -> String {
    flux_go::duration::format(i64::try_from(duration.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("1m0s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("").is_err());
        let message = |text: &str| parse_duration(text).unwrap_err().to_string();
        assert_eq!(message("5"), "time: missing unit in duration \"5\"");
        assert_eq!(message("-1s"), "time: invalid duration \"-1s\"");
        assert_eq!(format_duration(Duration::from_millis(90_500)), "1m30.5s");
    }
}

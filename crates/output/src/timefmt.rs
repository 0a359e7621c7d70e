//! Human timestamps in the local time zone, spelt as Nmap spells them.
//!
//! Times arrive as Unix epoch seconds; nothing here reads the clock. A time
//! outside the calendar's range is written as its raw number rather than
//! failing, so a bad timestamp never loses a report.

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The zone timestamps are written in: the system's, or UTC when it cannot be found.
pub(crate) fn local_zone() -> TimeZone {
    TimeZone::try_system().unwrap_or(TimeZone::UTC)
}

/// `Sat Nov 21 10:17:02 2026` (C `ctime` layout: the day is space-padded).
pub(crate) fn ctime(epoch: u64, tz: &TimeZone) -> String {
    format_or_raw(epoch, tz, "%a %b %e %H:%M:%S %Y")
}

/// `2026-11-21 10:17 UTC`, as on the terminal's "Starting" line.
pub(crate) fn short_stamp(epoch: u64, tz: &TimeZone) -> String {
    format_or_raw(epoch, tz, "%Y-%m-%d %H:%M %Z")
}

/// `10:17`, as on Nmap's verbose phase lines ("Initiating ... at 10:17").
pub fn clock_minutes(epoch: u64) -> String {
    format_or_raw(epoch, &local_zone(), "%H:%M")
}

fn format_or_raw(epoch: u64, tz: &TimeZone, fmt: &str) -> String {
    let Ok(secs) = i64::try_from(epoch) else {
        return epoch.to_string();
    };
    match Timestamp::from_second(secs) {
        Ok(ts) => ts.to_zoned(tz.clone()).strftime(fmt).to_string(),
        Err(_) => epoch.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REF: u64 = 1_795_256_222; // the reference run: Sat Nov 21 10:17:02 2026 UTC

    #[test]
    fn ctime_matches_nmap_reference() {
        assert_eq!(ctime(REF, &TimeZone::UTC), "Sat Nov 21 10:17:02 2026");
    }

    #[test]
    fn ctime_pads_single_digit_days_with_a_space() {
        // 2026-11-01 00:00:00 UTC
        assert_eq!(
            ctime(1_793_491_200, &TimeZone::UTC),
            "Sun Nov  1 00:00:00 2026"
        );
    }

    #[test]
    fn short_stamp_names_the_zone() {
        assert_eq!(short_stamp(REF, &TimeZone::UTC), "2026-11-21 10:17 UTC");
        let berlin = TimeZone::fixed(jiff::tz::offset(1));
        assert!(short_stamp(REF, &berlin).starts_with("2026-11-21 11:17 "));
    }

    #[test]
    fn out_of_range_times_fall_back_to_the_number() {
        assert_eq!(ctime(u64::MAX, &TimeZone::UTC), u64::MAX.to_string());
        assert_eq!(ctime(1 << 40, &TimeZone::UTC), (1u64 << 40).to_string());
    }
}

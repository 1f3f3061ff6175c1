//! IANA time zones and their clock changes: the local times a change skips or repeats (and which
//! of the two a change repeats is meant), whether a zone changes its clocks at all, and the UTC offsets it
//! uses in a year.

use chrono::{LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone};

/// What a clock change can take from a wall-clock interval: the guard schedule fires at a local
/// time, and on the night clocks spring forward the real time to it is this much shorter. (No
/// zone in the tz database moves its clocks by more than an hour.)
pub const LARGEST_CLOCK_CHANGE_SECONDS: u64 = 3600;

/// Checks an IANA time zone name such as `Asia/Seoul`.
pub fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.parse::<chrono_tz::Tz>()
        .map_err(|_| format!("`{name}` is not an IANA time zone such as `UTC` or `Asia/Seoul`"))
}

/// When the local time `local` happens in `zone`, as a Unix time: the earlier of the two a clock
/// change repeats, `None` for one a clock change skips.
pub fn unix_time(zone: chrono_tz::Tz, local: NaiveDateTime) -> Option<i64> {
    zone.from_local_datetime(&local).earliest().map(|time| time.timestamp())
}

/// What a clock change does to a local time on the day it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockChange {
    /// The clocks spring forward over it: the time does not happen that day.
    Skipped,
    /// The clocks fall back over it: the time happens twice that day.
    Repeated,
}

/// The first day of the horizon (`horizon::HORIZON_DAYS` days from its start) on which a clock
/// change in `zone` skips or repeats the local time `hour:minute`, if any is one of `wanted`.
pub fn first_clock_change_at(
    zone: chrono_tz::Tz,
    hour: u32,
    minute: u32,
    wanted: &[ClockChange],
) -> Option<(NaiveDate, ClockChange)> {
    let first = super::horizon::horizon_start()?;
    first.iter_days().take(super::horizon::HORIZON_DAYS).find_map(|date| {
        let local = date.and_hms_opt(hour, minute, 0)?;
        let change = match zone.from_local_datetime(&local) {
            LocalResult::None => ClockChange::Skipped,
            LocalResult::Ambiguous(..) => ClockChange::Repeated,
            LocalResult::Single(_) => return None,
        };
        wanted.contains(&change).then_some((date, change))
    })
}

/// Whether `zone` has two UTC offsets in a year (daylight saving time).
pub fn observes_daylight_saving(zone: chrono_tz::Tz) -> bool {
    let offset = |month: u32| {
        zone.with_ymd_and_hms(2026, month, 1, 12, 0, 0).earliest().map(|t| t.offset().fix().local_minus_utc())
    };
    offset(1) != offset(7)
}

/// The least and the greatest UTC offset, in minutes, `zone` uses in `year`.
pub fn offsets_in_year(zone: chrono_tz::Tz, year: i32) -> (i64, i64) {
    let offsets: Vec<i64> = (1..=366)
        .filter_map(|day| NaiveDate::from_yo_opt(year, day)?.and_hms_opt(12, 0, 0))
        .map(|noon| i64::from(zone.offset_from_utc_datetime(&noon).fix().local_minus_utc()) / 60)
        .collect();
    (offsets.iter().copied().min().unwrap_or(0), offsets.iter().copied().max().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_changes_skip_and_repeat_local_times() {
        let berlin = parse_timezone("Europe/Berlin").unwrap();
        let seoul = parse_timezone("Asia/Seoul").unwrap();
        assert!(observes_daylight_saving(berlin));
        assert!(!observes_daylight_saving(seoul));
        // Berlin springs forward at 02:00 on the last Sunday of March: 02:30 does not exist; and
        // falls back at 03:00 on the last Sunday of October: 02:30 happens twice.
        let skipped = [ClockChange::Skipped];
        let both = [ClockChange::Skipped, ClockChange::Repeated];
        let day = |month, day| NaiveDate::from_ymd_opt(2026, month, day).unwrap();
        assert_eq!(first_clock_change_at(berlin, 2, 30, &skipped), Some((day(3, 29), ClockChange::Skipped)));
        assert_eq!(
            first_clock_change_at(berlin, 2, 30, &[ClockChange::Repeated]),
            Some((day(10, 25), ClockChange::Repeated))
        );
        assert_eq!(first_clock_change_at(berlin, 3, 30, &both), None);
        assert_eq!(first_clock_change_at(seoul, 2, 30, &both), None);
        // New York falls back from 02:00 to 01:00: 01:30 is repeated, never skipped.
        let new_york = parse_timezone("America/New_York").unwrap();
        assert_eq!(first_clock_change_at(new_york, 1, 30, &skipped), None);
        assert_eq!(first_clock_change_at(new_york, 1, 30, &both), Some((day(11, 1), ClockChange::Repeated)));
        // 02:30 on the night Berlin falls back happens twice: the first, still in summer time.
        let repeated = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap().and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(unix_time(berlin, repeated), Some(repeated.and_utc().timestamp() - 2 * 3600));
        let skipped = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap().and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(unix_time(berlin, skipped), None);
        assert_eq!(offsets_in_year(berlin, 2025), (60, 120));
        assert_eq!(offsets_in_year(seoul, 2025), (540, 540));
    }
}

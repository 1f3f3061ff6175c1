//! IANA time zones and their clock changes: the local times a change skips (and which of the two
//! a change repeats is meant), whether a zone changes its clocks at all, and the UTC offsets it
//! uses in a year.

use chrono::{NaiveDate, NaiveDateTime, Offset, TimeZone};

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

/// The first day of the horizon (`horizon::HORIZON_DAYS` days from its start) on which the local
/// time `hour:minute` does not exist in `zone`, because a clock change skips it.
pub fn first_skipped_day(zone: chrono_tz::Tz, hour: u32, minute: u32) -> Option<NaiveDate> {
    let first = super::horizon::horizon_start()?;
    first
        .iter_days()
        .take(super::horizon::HORIZON_DAYS)
        .find(|date| date.and_hms_opt(hour, minute, 0).is_some_and(|local| unix_time(zone, local).is_none()))
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
        // Berlin springs forward at 02:00 on the last Sunday of March: 02:30 does not exist.
        assert_eq!(first_skipped_day(berlin, 2, 30), NaiveDate::from_ymd_opt(2026, 3, 29));
        assert_eq!(first_skipped_day(berlin, 3, 30), None);
        assert_eq!(first_skipped_day(seoul, 2, 30), None);
        // 02:30 on the night Berlin falls back happens twice: the first, still in summer time.
        let repeated = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap().and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(unix_time(berlin, repeated), Some(repeated.and_utc().timestamp() - 2 * 3600));
        let skipped = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap().and_hms_opt(2, 30, 0).unwrap();
        assert_eq!(unix_time(berlin, skipped), None);
        assert_eq!(offsets_in_year(berlin, 2025), (60, 120));
        assert_eq!(offsets_in_year(seoul, 2025), (540, 540));
    }
}

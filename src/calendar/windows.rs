//! Recurring windows on the real clock: every start of a cron expression in its time zone (clock
//! changes included) over a horizon, how long each lasts, and what that says about two windows
//! on one lane at the same time, the quiet hours between windows, and a window open now.

use std::time::Duration;

use chrono::NaiveDate;

use super::cron::parse_cron;
use super::horizon::{horizon_start, HORIZON_DAYS};
use super::zone::{parse_timezone, unix_time};

/// A recurring window: it starts at `cron` (five fields, fixed minute and hour) in `timezone`
/// and lasts `length` seconds. `None` is a length that did not parse: the window is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window<'a> {
    pub cron: &'a str,
    pub timezone: &'a str,
    pub length: Option<u64>,
}

/// A window with a name for messages (`schedule 'night'`) and the lane it holds (an instance
/// group): two windows on one lane must not be open at the same time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labelled<'a> {
    pub label: String,
    pub lane: &'a str,
    pub window: Window<'a>,
}

/// The (start, end) of each time `window` is open, as Unix times, over the horizon; `None` when
/// its cron, zone or length does not parse.
pub fn window_times(window: &Window) -> Option<Vec<(i64, i64)>> {
    window_times_from(horizon_start()?, HORIZON_DAYS, window)
}

/// `window_times` over `days` days from `first`. A start that a clock change skips does not
/// happen that day; one that a clock change repeats happens the first time.
pub fn window_times_from(first: NaiveDate, days: usize, window: &Window) -> Option<Vec<(i64, i64)>> {
    let cron = parse_cron(window.cron).ok()?;
    let zone = parse_timezone(window.timezone).ok()?;
    let length = i64::try_from(window.length?).ok()?;
    let mut windows = Vec::new();
    for date in first.iter_days().take(days) {
        if !cron.starts_on(date)? {
            continue;
        }
        let local = date.and_hms_opt(cron.hour, cron.minute, 0)?;
        if let Some(start) = unix_time(zone, local) {
            windows.push((start, start + length));
        }
    }
    Some(windows)
}

/// The labels of the first two windows on one lane that are open at the same time over the
/// horizon, each placed in its own time zone (`None` when none are, or a window is invalid:
/// that is reported on its own).
pub fn first_overlap(windows: &[Labelled]) -> Option<(String, String)> {
    let mut placed: Vec<(&str, i64, i64, &str)> = Vec::new();
    for labelled in windows {
        for (start, end) in window_times(&labelled.window)? {
            placed.push((labelled.lane, start, end, &labelled.label));
        }
    }
    placed.sort_unstable();
    placed.windows(2).find_map(|pair| {
        let ((lane_a, _, end_a, label_a), (lane_b, start_b, _, label_b)) = (&pair[0], &pair[1]);
        (lane_a == lane_b && *start_b < *end_a && label_a != label_b)
            .then(|| (label_a.to_string(), label_b.to_string()))
    })
}

/// The longest time between the end of one window and the start of the next over the horizon:
/// `Some(None)` when fewer than two windows start in it, `None` when a window is invalid.
pub fn longest_gap(windows: &[Window]) -> Option<Option<Duration>> {
    let mut times: Vec<(i64, i64)> = Vec::new();
    for window in windows {
        times.extend(window_times(window)?);
    }
    times.sort_unstable();
    if times.len() < 2 {
        return Some(None);
    }
    let mut end = times[0].1;
    let mut longest = 0;
    for (start, finish) in times.into_iter().skip(1) {
        longest = longest.max(start - end);
        end = end.max(finish);
    }
    Some(Some(Duration::from_secs(u64::try_from(longest).ok()?)))
}

/// The windows on `lane` open at some time in `from`..`to` (Unix times), as `<label> (from
/// <start in UTC>)`, one for each time: what something holding the lane then would collide with.
pub fn overlapping(windows: &[Labelled], lane: &str, from: i64, to: i64) -> Vec<String> {
    let Some(first) = chrono::DateTime::from_timestamp(from, 0).map(|t| t.date_naive() - chrono::Days::new(1)) else {
        return Vec::new();
    };
    let days = usize::try_from((to - from) / 86_400 + 3).unwrap_or(3);
    let mut found = Vec::new();
    for labelled in windows.iter().filter(|labelled| labelled.lane == lane) {
        for (start, end) in window_times_from(first, days, &labelled.window).unwrap_or_default() {
            if start < to && from < end {
                let at = chrono::DateTime::from_timestamp(start, 0).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string());
                found.push(format!("{} (from {})", labelled.label, at.unwrap_or_default()));
            }
        }
    }
    found
}

/// Whether `window` is open at `now` (Unix time); an invalid window never is.
pub fn is_open(window: &Window, now: i64) -> bool {
    let Some(first) = chrono::DateTime::from_timestamp(now, 0).map(|t| t.date_naive() - chrono::Days::new(1)) else {
        return false;
    };
    let times = window_times_from(first, 3, window).unwrap_or_default();
    times.iter().any(|(start, end)| *start <= now && now < *end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window<'a>(cron: &'a str, timezone: &'a str, hours: u64) -> Window<'a> {
        Window { cron, timezone, length: Some(hours * 3600) }
    }

    fn at(day: u32, hour: u32, minute: u32) -> i64 {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap().and_hms_opt(hour, minute, 0).unwrap().and_utc().timestamp()
    }

    #[test]
    fn windows_start_in_their_zone_and_skip_starts_a_clock_change_skips() {
        let seoul = window_times(&window("0 2 * * *", "Asia/Seoul", 4)).unwrap();
        assert_eq!(seoul.len(), HORIZON_DAYS);
        // 02:00 in Seoul (UTC+9) is 17:00 UTC the day before.
        let first = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap().and_hms_opt(17, 0, 0).unwrap().and_utc().timestamp();
        assert_eq!(seoul[0], (first, first + 4 * 3600));
        // 02:30 in Berlin does not exist on the two nights clocks spring forward.
        let berlin = window_times(&window("30 2 * * *", "Europe/Berlin", 1)).unwrap();
        assert_eq!(berlin.len(), HORIZON_DAYS - 2);
        assert_eq!(window_times(&window("0 2 * *", "UTC", 1)), None);
        assert_eq!(window_times(&window("0 2 * * *", "Mars/Base", 1)), None);
        assert_eq!(window_times(&Window { length: None, ..window("0 2 * * *", "UTC", 1) }), None);
    }

    #[test]
    fn overlaps_are_found_on_one_lane_only() {
        let labelled = |label: &str, lane: &'static str, cron: &'static str| Labelled {
            label: label.to_string(),
            lane,
            window: window(cron, "UTC", 4),
        };
        let night = labelled("schedule 'night'", "batch", "0 2 * * *");
        let late = labelled("job 'late'", "batch", "0 4 * * *");
        let core = labelled("job 'core'", "core", "0 3 * * *");
        assert_eq!(
            first_overlap(&[night.clone(), late.clone()]),
            Some(("schedule 'night'".to_string(), "job 'late'".to_string()))
        );
        assert_eq!(first_overlap(&[night.clone(), core.clone()]), None);
        let found = overlapping(&[night.clone(), late, core], "batch", at(30, 3, 0), at(30, 5, 0));
        assert_eq!(found, ["schedule 'night' (from 2026-11-30 02:00 UTC)", "job 'late' (from 2026-11-30 04:00 UTC)"]);
        assert!(is_open(&night.window, at(30, 5, 59)));
        assert!(!is_open(&night.window, at(30, 6, 0)));
    }

    #[test]
    fn the_longest_gap_runs_from_one_end_to_the_next_start() {
        let gap = |windows: &[Window]| longest_gap(windows).map(|gap| gap.map(|gap| gap.as_secs() / 3600));
        assert_eq!(gap(&[window("0 2 * * *", "UTC", 4)]), Some(Some(20)));
        assert_eq!(gap(&[window("0 2 * * *", "UTC", 4), window("0 14 * * *", "UTC", 4)]), Some(Some(8)));
        assert_eq!(gap(&[window("0 2 * * MON-FRI", "UTC", 4)]), Some(Some(68)));
        assert_eq!(gap(&[window("0 2 29 2 *", "UTC", 4)]), Some(None));
        assert_eq!(gap(&[window("0 2 * * *", "UTC", 4), window("0 2 * *", "UTC", 4)]), None);
    }
}

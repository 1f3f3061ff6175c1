//! The batch windows an EMR `IsIdle` alarm watches, written as CloudWatch metric math.
//!
//! A metric alarm has no schedule of its own, but metric math has clock functions: `DAY`,
//! `HOUR` and `MINUTE` turn a metric into the day of the week (1 = Monday … 7 = Sunday), hour
//! (0-23) and minute of each of its timestamps, in UTC, and alarms may use them ("Using math
//! expressions with CloudWatch metrics", Amazon CloudWatch User Guide; AWS's own example
//! `IF((DAY(m1) == 2 && HOUR(m1) >= 1 && HOUR(m1) < 3), 0, m1)` in "Tutorial: Use a metric math
//! function to suppress an alarm", AWS Incident Detection and Response User Guide). So the alarm
//! computes each data point's minute of the week, `(DAY-1)*1440 + HOUR*60 + MINUTE`, and keeps
//! `IsIdle` only where that minute lies in a window (`IF(condition, idle)` drops the others, and
//! the alarm treats missing data as not breaching).
//!
//! Windows are written in their own time zone; the expression is in UTC. Where the zone observes
//! daylight saving time, a window's UTC hours move by the shift twice a year: the alarm watches
//! only the part of the window that is inside it under both offsets (a 4-hour window in
//! `Europe/Berlin` is watched for 3 hours), so it never pages outside a window, and a window no
//! longer than the shift is not watched. The offsets are those the zone uses in the current year.
//! Windows restricted by day of month or month are not watched: shifting them to UTC can move
//! them into another day of another month, which `DATE` and `MONTH` comparisons cannot follow.

use super::cron::parse_cron;
use super::windows::Window;
use super::zone::{offsets_in_year, parse_timezone};

/// Minutes in a week.
pub const WEEK: u32 = 7 * 1440;
/// The id of the `IsIdle` metric in the alarm's metric math.
pub const METRIC_ID: &str = "idle";
/// The id of the expression giving each data point's minute of the week.
pub const MINUTE_OF_WEEK_ID: &str = "minute_of_week";
/// Each data point's minute of the week, Monday 00:00 UTC being 0.
pub const MINUTE_OF_WEEK: &str = "(DAY(idle)-1)*1440+HOUR(idle)*60+MINUTE(idle)";
/// The id of the expression the alarm watches.
pub const WATCHED_ID: &str = "idle_in_window";
/// The longest `Expression` a MetricDataQuery takes (MetricDataQuery, Amazon CloudWatch API
/// Reference: length 1 to 2048).
pub const EXPRESSION_LIMIT: usize = 2048;

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// `[start, end)` in minutes since Monday 00:00 UTC; `end` passes `WEEK` when the span runs
/// into the next Monday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

/// The parts of the week `windows` cover under every offset their zones use in `year`, merged
/// and sorted (an invalid window covers none).
pub fn spans(windows: &[Window], year: i32) -> Vec<Span> {
    let mut spans = Vec::new();
    for window in windows {
        let (Ok(cron), Ok(zone), Some(length)) =
            (parse_cron(window.cron), parse_timezone(window.timezone), window.length)
        else {
            continue;
        };
        if cron.day_of_month != "*" || cron.month != "*" {
            continue;
        }
        let (least, most) = offsets_in_year(zone, year);
        // Under offset o the window starts at local - o UTC: the latest start is under the
        // least offset, the earliest end under the greatest.
        let watched = (length / 60) as i64 - (most - least);
        if watched <= 0 {
            continue;
        }
        for day in cron.weekdays() {
            let local = i64::from(((day + 6) % 7) * 1440 + cron.hour * 60 + cron.minute);
            let start = (local - least).rem_euclid(i64::from(WEEK)) as u32;
            spans.push(Span { start, end: start + watched as u32 });
        }
    }
    merge(spans)
}

/// Sorted, overlapping and touching spans joined (across the end of the week too).
fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort();
    let mut merged: Vec<Span> = Vec::new();
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    if merged.len() > 1 {
        let (first, last) = (merged[0], merged[merged.len() - 1]);
        if last.end >= WEEK + first.start {
            let last = merged.len() - 1;
            merged[last].end = merged[last].end.max(first.end + WEEK);
            merged.remove(0);
        }
    }
    if merged.iter().any(|span| span.end - span.start >= WEEK) {
        return vec![Span { start: 0, end: WEEK }];
    }
    merged
}

/// The expression the alarm watches: `IsIdle` where the minute of the week is in a span.
pub fn expression(spans: &[Span]) -> String {
    let conditions: Vec<String> = spans
        .iter()
        .map(|span| {
            if span.end > WEEK {
                format!("({MINUTE_OF_WEEK_ID}>={} OR {MINUTE_OF_WEEK_ID}<{})", span.start, span.end - WEEK)
            } else {
                format!("({MINUTE_OF_WEEK_ID}>={} AND {MINUTE_OF_WEEK_ID}<{})", span.start, span.end)
            }
        })
        .collect();
    format!("IF({}, {METRIC_ID})", conditions.join(" OR "))
}

/// The spans of an expression `expression` wrote; None for any other text.
pub fn parse_expression(text: &str) -> Option<Vec<Span>> {
    let inner = text.strip_prefix("IF((")?.strip_suffix(&format!("), {METRIC_ID})"))?;
    let lower = format!("{MINUTE_OF_WEEK_ID}>=");
    let upper = format!("{MINUTE_OF_WEEK_ID}<");
    let spans = inner
        .split(") OR (")
        .map(|condition| {
            let rest = condition.strip_prefix(&lower)?;
            let (start, wraps, end) = match rest.split_once(" AND ") {
                Some((start, end)) => (start, false, end),
                None => {
                    let (start, end) = rest.split_once(" OR ")?;
                    (start, true, end)
                }
            };
            let start: u32 = start.parse().ok()?;
            let end: u32 = end.strip_prefix(&upper)?.parse().ok()?;
            Some(Span { start, end: if wraps { end + WEEK } else { end } })
        })
        .collect::<Option<Vec<Span>>>()?;
    (expression(&spans) == text).then_some(spans)
}

fn clock(minute_of_day: u32) -> String {
    format!("{:02}:{:02}", minute_of_day / 60, minute_of_day % 60)
}

/// The spans in words, as plans show them: `daily 02:00-06:00 UTC; Sat,Sun 10:00-12:00 UTC`.
pub fn words(spans: &[Span]) -> String {
    if spans == [Span { start: 0, end: WEEK }] {
        return "all week".to_string();
    }
    // Spans of the same hours on several days read as one line.
    let mut lines: Vec<((u32, u32), Vec<u32>)> = Vec::new();
    for span in spans {
        let hours = (span.start % 1440, span.end - span.start);
        let day = span.start / 1440;
        match lines.iter_mut().find(|(line, _)| *line == hours) {
            Some((_, days)) => days.push(day),
            None => lines.push((hours, vec![day])),
        }
    }
    lines
        .iter()
        .map(|((start, length), days)| {
            let days = if days.len() == 7 {
                "daily".to_string()
            } else {
                days.iter().map(|day| DAY_NAMES[*day as usize % 7]).collect::<Vec<_>>().join(",")
            };
            format!("{days} {}-{} UTC", clock(*start), clock((start + length) % 1440))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window<'a>(cron: &'a str, timezone: &'a str, duration: &str) -> Window<'a> {
        let length = crate::calendar::parse_duration(duration).ok().map(|length| length.as_secs());
        Window { cron, timezone, length }
    }

    #[test]
    fn a_daily_utc_window_is_watched_every_day_at_its_hours() {
        let spans = spans(&[window("0 2 * * *", "UTC", "4h")], 2025);
        assert_eq!(spans.len(), 7);
        assert_eq!(spans[0], Span { start: 120, end: 360 });
        assert_eq!(spans[6], Span { start: 6 * 1440 + 120, end: 6 * 1440 + 360 });
        let text = expression(&spans);
        assert!(text.starts_with("IF((minute_of_week>=120 AND minute_of_week<360) OR (minute_of_week>=1560 AND"));
        assert!(text.ends_with("(minute_of_week>=8760 AND minute_of_week<9000), idle)"), "{text}");
        assert_eq!(parse_expression(&text), Some(spans.clone()));
        assert_eq!(words(&spans), "daily 02:00-06:00 UTC");
    }

    #[test]
    fn a_zone_without_daylight_saving_shifts_into_the_previous_utc_day() {
        // 02:00 in Seoul (UTC+9) is 17:00 UTC the day before: Monday's window starts on Sunday.
        let spans = spans(&[window("0 2 * * MON", "Asia/Seoul", "2h")], 2025);
        assert_eq!(spans, [Span { start: 6 * 1440 + 17 * 60, end: 6 * 1440 + 19 * 60 }]);
        assert_eq!(words(&spans), "Sun 17:00-19:00 UTC");
    }

    #[test]
    fn daylight_saving_shrinks_the_window_to_what_both_offsets_cover() {
        // Berlin is UTC+1 in winter and UTC+2 in summer: 01:00-05:00 local is 00:00-04:00 or
        // 23:00-03:00 UTC; both cover 00:00-03:00.
        let spans = spans(&[window("0 1 * * FRI", "Europe/Berlin", "4h")], 2025);
        assert_eq!(spans, [Span { start: 4 * 1440, end: 4 * 1440 + 180 }]);
        assert_eq!(words(&spans), "Fri 00:00-03:00 UTC");
        // A window no longer than the shift is never watched.
        assert!(super::spans(&[window("0 1 * * *", "Europe/Berlin", "1h")], 2025).is_empty());
    }

    #[test]
    fn a_window_over_the_end_of_the_week_wraps_into_monday() {
        let spans = spans(&[window("0 22 * * SUN", "UTC", "4h")], 2025);
        assert_eq!(spans, [Span { start: 6 * 1440 + 22 * 60, end: WEEK + 120 }]);
        let text = expression(&spans);
        assert_eq!(text, "IF((minute_of_week>=9960 OR minute_of_week<120), idle)");
        assert_eq!(parse_expression(&text), Some(spans.clone()));
        assert_eq!(words(&spans), "Sun 22:00-02:00 UTC");
    }

    #[test]
    fn the_two_schedules_of_one_window_are_watched_once() {
        let core = window("0 2 * * SAT,SUN", "UTC", "4h");
        let task = window("30 3 * * SAT,SUN", "UTC", "4h");
        let spans = spans(&[core, task], 2025);
        assert_eq!(
            spans,
            [Span { start: 5 * 1440 + 120, end: 5 * 1440 + 450 }, Span { start: 6 * 1440 + 120, end: 6 * 1440 + 450 }]
        );
        assert_eq!(words(&spans), "Sat,Sun 02:00-07:30 UTC");
    }

    #[test]
    fn windows_by_day_of_month_are_not_watched() {
        assert!(spans(&[window("0 2 1 * *", "UTC", "4h")], 2025).is_empty());
    }

    #[test]
    fn only_its_own_expressions_parse() {
        for text in [
            "IF((minute_of_week>=1 AND minute_of_week<2), m1)",
            "IF((minute_of_week>=1 AND minute_of_week<2) OR (x), idle)",
            "IF((minute_of_week>=01 AND minute_of_week<2), idle)",
            "IF(minute_of_week>=1, idle)",
        ] {
            assert_eq!(parse_expression(text), None, "{text}");
        }
    }
}

//! Five-field cron expressions: parsing, their EventBridge Scheduler form, the end of a window,
//! and the days a window starts on.

use std::time::Duration;

use chrono::{Datelike, NaiveDate};

/// A five-field cron expression whose minute and hour are fixed numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    pub minute: u32,
    pub hour: u32,
    pub day_of_month: String,
    pub month: String,
    pub day_of_week: String,
}

fn check_field(name: &str, value: &str, names: &[&str]) -> Result<(), String> {
    let valid = value.split(['-', ',', '/']).all(|token| {
        token == "*"
            || (!token.is_empty() && token.chars().all(|c| c.is_ascii_digit()))
            || names.contains(&token.to_ascii_uppercase().as_str())
    });
    if value.is_empty() || !valid {
        return Err(format!("`{value}` is not a valid {name} field"));
    }
    Ok(())
}

/// What a five-field cron with a fixed minute and hour must at least look like, for the JSON
/// Schema (`parse_cron` says the rest): AWS's forms (`cron(…)`, six fields, `rate(…)`) do not.
pub const CRON_PATTERN: &str = r"^\s*[0-9]{1,2}\s+[0-9]{1,2}\s+[^\s?]+\s+[^\s?]+\s+[^\s?]+\s*$";

/// Parses `minute hour day-of-month month day-of-week`, e.g. `0 2 * * *` or `30 1 * * MON-FRI`;
/// AWS's forms (`cron(0 2 * * ? *)`, `rate(1 day)`) are refused with the 5-field equivalent.
pub fn parse_cron(text: &str) -> Result<Cron, String> {
    if let Some(message) = super::aws_form::aws_form_message(text, |five| parse_cron(five).map(|_| ())) {
        return Err(message);
    }
    let fields: Vec<&str> = text.split_whitespace().collect();
    let [minute, hour, day_of_month, month, day_of_week] = fields[..] else {
        return Err(format!("`{text}` needs 5 fields: minute hour day-of-month month day-of-week (e.g. `0 2 * * *`)"));
    };
    let minute: u32 = minute
        .parse()
        .ok()
        .filter(|m| *m < 60)
        .ok_or_else(|| format!("minute `{minute}` must be a number 0-59 (a window needs a fixed start)"))?;
    let hour: u32 = hour
        .parse()
        .ok()
        .filter(|h| *h < 24)
        .ok_or_else(|| format!("hour `{hour}` must be a number 0-23 (a window needs a fixed start)"))?;
    check_field("day-of-month", day_of_month, &[])?;
    check_field("month", month, &MONTH_NAMES)?;
    check_field("day-of-week", day_of_week, &DAY_NAMES)?;
    days_of_week(day_of_week)?;
    if day_of_month != "*" && day_of_week != "*" {
        return Err("restrict either the day of month or the day of week, not both".to_string());
    }
    Ok(Cron {
        minute,
        hour,
        day_of_month: day_of_month.to_string(),
        month: month.to_string(),
        day_of_week: day_of_week.to_string(),
    })
}

/// Day names as cron and EventBridge both spell them, in standard cron's order (0 = Sunday).
const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
/// Month names as cron and EventBridge both spell them (1 = January).
const MONTH_NAMES: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];

/// One element of a day-of-week list in standard cron numbering, where 0 and 7 are Sunday:
/// `first` to `last` every `step` days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DayRange {
    first: u32,
    last: u32,
    step: u32,
    /// Written with a `/` step, or as a range that reaches 7 (Sunday again): EventBridge cannot
    /// say those the same way (see `eventbridge_day_of_week`).
    needs_list: bool,
}

fn day_value(token: &str) -> Result<u32, String> {
    if let Ok(number) = token.parse::<u32>() {
        return if number <= 7 {
            Ok(number)
        } else {
            Err(format!("day of week `{number}` must be 0-7 (0 and 7 are Sunday) or SUN-SAT"))
        };
    }
    DAY_NAMES
        .iter()
        .position(|name| name.eq_ignore_ascii_case(token))
        .map(|index| index as u32)
        .ok_or_else(|| format!("`{token}` is not a day of week (0-7 or SUN-SAT)"))
}

/// Parses a standard cron day-of-week field: a list of `*`, days and ranges, each optionally
/// with a `/step`. As in Vixie cron and cronie, `*` is 0-7 and `N/step` is `N-7/step`.
fn days_of_week(field: &str) -> Result<Vec<DayRange>, String> {
    field
        .split(',')
        .map(|element| {
            let (range, step) = match element.split_once('/') {
                Some((range, step)) => {
                    let step = step
                        .parse::<u32>()
                        .ok()
                        .filter(|step| (1..=7).contains(step))
                        .ok_or_else(|| format!("the step in `{element}` must be a number 1-7"))?;
                    (range, Some(step))
                }
                None => (element, None),
            };
            let (first, last) = match range.split_once('-') {
                _ if range == "*" => (0, 7),
                Some((first, last)) => (day_value(first)?, day_value(last)?),
                None => {
                    let day = day_value(range)?;
                    (day, if step.is_some() { 7 } else { day })
                }
            };
            if first > last {
                // A range that wraps past Saturday, e.g. FRI-MON: say which list it means.
                let names = !range.chars().any(|c| c.is_ascii_digit());
                let days: Vec<String> = (first..=6)
                    .chain(0..=last)
                    .map(|day| if names { DAY_NAMES[day as usize].to_string() } else { day.to_string() })
                    .collect();
                return Err(format!(
                    "the range `{range}` runs backwards: write the days as a list, `{}`",
                    days.join(",")
                ));
            }
            let wide = range.contains('-') && last == 7;
            Ok(DayRange { first, last, step: step.unwrap_or(1), needs_list: step.is_some() || wide })
        })
        .collect()
}

/// The days a day-of-week field names, 0 (Sunday) to 6, sorted, each once.
fn day_set(ranges: &[DayRange]) -> Vec<u32> {
    let mut days: Vec<u32> = ranges
        .iter()
        .flat_map(|range| (range.first..=range.last).step_by(range.step as usize))
        .map(|day| day % 7)
        .collect();
    days.sort_unstable();
    days.dedup();
    days
}

/// A standard cron day-of-week field in EventBridge's numbering (1 = Sunday … 7 = Saturday).
///
/// EventBridge's day-of-week field takes the wildcards `, - * ? L #` but no `/` ("Cron
/// expressions reference", Amazon EventBridge; the same table in "Schedule types in EventBridge
/// Scheduler"), and a range cannot wrap past Saturday. So a field with a step, or a range that
/// reaches 7 (Sunday again), becomes the explicit list of its days: `*/2` (Sunday, Tuesday,
/// Thursday, Saturday) is `1,3,5,7`. Any other field keeps its shape, numbers shifted by one
/// and names as they are, so the expressions of existing schedules do not change.
fn eventbridge_day_of_week(field: &str) -> String {
    let Ok(ranges) = days_of_week(field) else {
        // parse_cron has validated the field: this is not reached.
        return field.to_string();
    };
    if ranges.iter().any(|range| range.needs_list) {
        return day_set(&ranges).iter().map(|day| (day + 1).to_string()).collect::<Vec<_>>().join(",");
    }
    field
        .split_inclusive([',', '-'])
        .map(|token| {
            let (value, separator) = token.split_at(token.trim_end_matches([',', '-']).len());
            match value.parse::<u32>() {
                Ok(day) => format!("{}{separator}", day % 7 + 1),
                Err(_) => token.to_string(),
            }
        })
        .collect()
}

impl Cron {
    /// The EventBridge Scheduler expression: six fields, `?` for the unrestricted day field,
    /// and days of week numbered 1 (Sunday) to 7.
    pub fn to_eventbridge(&self) -> String {
        let (day_of_month, day_of_week) = if self.day_of_week == "*" {
            (self.day_of_month.clone(), "?".to_string())
        } else {
            ("?".to_string(), eventbridge_day_of_week(&self.day_of_week))
        };
        format!("cron({} {} {day_of_month} {} {day_of_week} *)", self.minute, self.hour, self.month)
    }

    /// The days of week the window starts on, 0 (Sunday) to 6, sorted: all seven for `*`.
    pub fn weekdays(&self) -> Vec<u32> {
        days_of_week(&self.day_of_week).map(|ranges| day_set(&ranges)).unwrap_or_default()
    }

    /// Whether a window starts on `date`: its day of month, month and day of week are selected
    /// (day of week 0 and 7 are both Sunday). `None` for a field the matcher cannot read.
    pub fn starts_on(&self, date: NaiveDate) -> Option<bool> {
        let weekday = date.weekday().num_days_from_sunday();
        Some(
            field_matches(&self.day_of_month, date.day(), &[], 1, 31)?
                && field_matches(&self.month, date.month(), &MONTH_NAMES, 1, 12)?
                && (field_matches(&self.day_of_week, weekday, &DAY_NAMES, 0, 7)?
                    || (weekday == 0 && field_matches(&self.day_of_week, 7, &DAY_NAMES, 0, 7)?)),
        )
    }

    /// The expression for the end of a window of `length` starting at this one.
    pub fn end_after(&self, length: Duration) -> Result<Cron, String> {
        let minutes = length.as_secs() / 60;
        if minutes == 0 || minutes >= 24 * 60 || !length.as_secs().is_multiple_of(60) {
            return Err("a window must last between 1 minute and 24 hours, in whole minutes".to_string());
        }
        let end = u64::from(self.hour * 60 + self.minute) + minutes;
        let crosses_midnight = end >= 24 * 60;
        if crosses_midnight && (self.day_of_month != "*" || self.day_of_week != "*") {
            return Err(
                "this window ends after midnight, which pipectl supports only for daily windows (`* *` day fields)"
                    .to_string(),
            );
        }
        let end = end % (24 * 60);
        Ok(Cron { minute: (end % 60) as u32, hour: (end / 60) as u32, ..self.clone() })
    }
}

/// Whether one cron field (`*`, `5`, `1-5`, `*/2`, `MON-FRI`, lists of those) selects `value`;
/// `names[i]` stands for `low + i`. `None` for a field it cannot read.
fn field_matches(field: &str, value: u32, names: &[&str], low: u32, high: u32) -> Option<bool> {
    let number = |token: &str| -> Option<u32> {
        token.parse().ok().or_else(|| {
            let upper = token.to_ascii_uppercase();
            names.iter().position(|name| *name == upper).and_then(|i| u32::try_from(i).ok()).map(|i| i + low)
        })
    };
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step.parse::<u32>().ok().filter(|step| *step > 0)?)),
            None => (item, None),
        };
        let (from, to) = match range.split_once('-') {
            _ if range == "*" => (low, high),
            Some((from, to)) => (number(from)?, number(to)?),
            None if step.is_some() => (number(range)?, high),
            None => (number(range)?, number(range)?),
        };
        if (from..=to).contains(&value) && (value - from).is_multiple_of(step.unwrap_or(1)) {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_to_eventbridge() {
        assert_eq!(parse_cron("0 2 * * *").unwrap().to_eventbridge(), "cron(0 2 * * ? *)");
        assert_eq!(parse_cron("30 1 * * MON-FRI").unwrap().to_eventbridge(), "cron(30 1 ? * MON-FRI *)");
        assert_eq!(parse_cron("0 6 * * 1-5").unwrap().to_eventbridge(), "cron(0 6 ? * 2-6 *)");
        assert_eq!(parse_cron("0 6 * * 0,6").unwrap().to_eventbridge(), "cron(0 6 ? * 1,7 *)");
        assert_eq!(parse_cron("15 3 1 * *").unwrap().to_eventbridge(), "cron(15 3 1 * ? *)");
    }

    fn day_of_week(field: &str) -> String {
        let expression = parse_cron(&format!("0 2 * * {field}")).unwrap().to_eventbridge();
        expression.trim_start_matches("cron(0 2 ? * ").trim_end_matches(" *)").to_string()
    }

    #[test]
    fn day_of_week_steps_become_the_days_they_name() {
        // Standard cron `*/2` is 0,2,4,6: Sunday, Tuesday, Thursday, Saturday.
        assert_eq!(day_of_week("*/2"), "1,3,5,7");
        assert_eq!(day_of_week("*/3"), "1,4,7");
        assert_eq!(day_of_week("*/1"), "1,2,3,4,5,6,7");
        assert_eq!(day_of_week("1-5/2"), "2,4,6");
        assert_eq!(day_of_week("MON-FRI/2"), "2,4,6");
        // `N/step` runs to 7, which is Sunday again (Vixie cron, cronie).
        assert_eq!(day_of_week("1/2"), "1,2,4,6");
        assert_eq!(day_of_week("0,3/2"), "1,4,6");
    }

    #[test]
    fn day_of_week_ranges_and_lists_shift_by_one() {
        assert_eq!(day_of_week("0-6"), "1-7");
        assert_eq!(day_of_week("2-4"), "3-5");
        assert_eq!(day_of_week("0,6"), "1,7");
        assert_eq!(day_of_week("7"), "1");
        assert_eq!(day_of_week("1,3,5"), "2,4,6");
        assert_eq!(day_of_week("SAT,SUN"), "SAT,SUN");
        assert_eq!(day_of_week("mon-fri"), "mon-fri");
        // A range that reaches 7 (Sunday) would wrap in EventBridge's numbering: a list instead.
        assert_eq!(day_of_week("5-7"), "1,6,7");
        assert_eq!(day_of_week("0-7"), "1,2,3,4,5,6,7");
    }

    #[test]
    fn bad_day_of_week_fields_are_refused() {
        for bad in ["8", "*/0", "*/8", "5-1", "FRI-SUN", "MON-9", "*/x", "1/"] {
            assert!(parse_cron(&format!("0 2 * * {bad}")).is_err(), "{bad}");
        }
        let wraps = |field: &str| parse_cron(&format!("0 2 * * {field}")).unwrap_err();
        assert!(wraps("FRI-MON").ends_with("write the days as a list, `FRI,SAT,SUN,MON`"), "{}", wraps("FRI-MON"));
        assert!(wraps("6-1").ends_with("`6,0,1`"), "{}", wraps("6-1"));
    }

    #[test]
    fn names_the_days_a_window_starts_on() {
        let days = |field: &str| parse_cron(&format!("0 2 * * {field}")).unwrap().weekdays();
        assert_eq!(days("*"), [0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(days("MON-FRI"), [1, 2, 3, 4, 5]);
        assert_eq!(days("5-7"), [0, 5, 6]);
        assert_eq!(days("*/3"), [0, 3, 6]);
    }

    #[test]
    fn computes_window_ends() {
        let start = parse_cron("0 2 * * *").unwrap();
        assert_eq!(start.end_after(Duration::from_secs(4 * 3600)).unwrap().to_eventbridge(), "cron(0 6 * * ? *)");
        let late = parse_cron("30 22 * * *").unwrap();
        assert_eq!(late.end_after(Duration::from_secs(3 * 3600)).unwrap().to_eventbridge(), "cron(30 1 * * ? *)");
        let weekdays = parse_cron("0 22 * * MON-FRI").unwrap();
        assert!(weekdays.end_after(Duration::from_secs(4 * 3600)).is_err());
        assert!(start.end_after(Duration::from_secs(25 * 3600)).is_err());
    }

    #[test]
    fn rejects_bad_expressions_and_zones() {
        use super::super::parse_timezone;
        for bad in ["0 2 * *", "*/5 2 * * *", "0 25 * * *", "0 2 * * FUNDAY", "0 2 1 * MON"] {
            assert!(parse_cron(bad).is_err(), "{bad}");
        }
        assert!(parse_timezone("Asia/Seoul").is_ok());
        assert!(parse_timezone("Mars/Olympus").is_err());
    }

    #[test]
    fn cron_fields_select_the_days_cron_does() {
        assert_eq!(field_matches("*", 5, &[], 1, 31), Some(true));
        assert_eq!(field_matches("1-5", 6, &DAY_NAMES, 0, 7), Some(false));
        assert_eq!(field_matches("MON-FRI", 1, &DAY_NAMES, 0, 7), Some(true));
        assert_eq!(field_matches("*/2", 3, &[], 1, 31), Some(true));
        assert_eq!(field_matches("*/2", 2, &[], 1, 31), Some(false));
        assert_eq!(field_matches("1,15", 15, &[], 1, 31), Some(true));
        assert_eq!(field_matches("JAN,jul", 7, &MONTH_NAMES, 1, 12), Some(true));
        assert_eq!(field_matches("5/0", 5, &[], 1, 31), None);
    }

    #[test]
    fn the_matcher_and_the_eventbridge_days_agree() {
        // `starts_on` (which places windows) and `weekdays` (which EventBridge and the alarm's
        // spans are built from) read a day-of-week field the same way.
        let first = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(); // a Sunday
        for field in ["*", "MON-FRI", "5-7", "*/3", "*/2", "1/2", "0,3/2", "SAT,SUN", "7", "0-7", "mon-fri/2"] {
            let cron = parse_cron(&format!("0 2 * * {field}")).unwrap();
            let matched: Vec<u32> = (0..7u32)
                .filter(|day| cron.starts_on(first + chrono::Days::new(u64::from(*day))) == Some(true))
                .collect();
            assert_eq!(matched, cron.weekdays(), "{field}");
        }
    }
}

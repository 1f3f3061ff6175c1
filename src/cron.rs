//! The recurring windows of cluster schedules: five-field cron expressions, their EventBridge
//! Scheduler form, the end of a window, IANA time zones, and the HDFS replication floor.

use std::time::Duration;

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

/// Parses `minute hour day-of-month month day-of-week`, e.g. `0 2 * * *` or `30 1 * * MON-FRI`.
pub fn parse_cron(text: &str) -> Result<Cron, String> {
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
    check_field("month", month, &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])?;
    check_field("day-of-week", day_of_week, &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])?;
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

impl Cron {
    /// The EventBridge Scheduler expression: six fields, `?` for the unrestricted day field,
    /// and days of week numbered 1 (Sunday) to 7.
    pub fn to_eventbridge(&self) -> String {
        let (day_of_month, day_of_week) = if self.day_of_week == "*" {
            (self.day_of_month.clone(), "?".to_string())
        } else {
            let converted: String = self
                .day_of_week
                .split_inclusive([',', '-', '/'])
                .map(|token| {
                    let (number, separator) = token.split_at(token.trim_end_matches([',', '-', '/']).len());
                    match number.parse::<u32>() {
                        Ok(day) => format!("{}{separator}", day % 7 + 1),
                        Err(_) => token.to_string(),
                    }
                })
                .collect();
            ("?".to_string(), converted)
        };
        format!("cron({} {} {day_of_month} {} {day_of_week} *)", self.minute, self.hour, self.month)
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

/// Checks an IANA time zone name such as `Asia/Seoul`.
pub fn parse_timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    name.parse::<chrono_tz::Tz>()
        .map_err(|_| format!("`{name}` is not an IANA time zone such as `UTC` or `Asia/Seoul`"))
}

/// The HDFS replication factor EMR uses for a cluster of `core_nodes`, which is also the
/// fewest core nodes the cluster may shrink to without losing blocks.
pub fn replication_floor(core_nodes: i64) -> i64 {
    match core_nodes {
        n if n < 4 => 1,
        n if n < 10 => 2,
        _ => 3,
    }
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
        for bad in ["0 2 * *", "*/5 2 * * *", "0 25 * * *", "0 2 * * FUNDAY", "0 2 1 * MON"] {
            assert!(parse_cron(bad).is_err(), "{bad}");
        }
        assert!(parse_timezone("Asia/Seoul").is_ok());
        assert!(parse_timezone("Mars/Olympus").is_err());
    }

    #[test]
    fn replication_floor_follows_emr() {
        assert_eq!([1, 3, 4, 9, 10, 20].map(replication_floor), [1, 1, 2, 2, 3, 3]);
    }
}

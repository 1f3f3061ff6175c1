//! Cron written in AWS's forms where pipectl takes a five-field cron: EventBridge's and Glue's
//! `cron(minutes hours day-of-month month day-of-week year)` (also without the `cron(…)`), and
//! `rate(…)`. Each is recognised and answered with the five-field cron that means the same,
//! computed, instead of a generic "needs 5 fields". AWS's form: "Schedule types in EventBridge
//! Scheduler", cron-based and rate-based schedules (day of week 1-7 is SUN-SAT, `?` is "any",
//! `L`, `W` and `#` have no standard cron equivalent; a rate runs every N minutes, hours or days
//! from when the schedule is created).

/// When `text` is in one of AWS's forms, what to write instead: the message for the spec author.
/// `check` is pipectl's own parser, run on the equivalent, so the message never offers a cron
/// that is refused in turn without saying why.
pub(super) fn aws_form_message(text: &str, check: impl Fn(&str) -> Result<(), String>) -> Option<String> {
    let trimmed = text.trim();
    if let Some(inner) = trimmed.strip_prefix("rate(").and_then(|rest| rest.strip_suffix(')')) {
        return Some(rate_message(trimmed, inner));
    }
    let inner = trimmed.strip_prefix("cron(").and_then(|rest| rest.strip_suffix(')'));
    let fields: Vec<&str> = inner.unwrap_or(trimmed).split_whitespace().collect();
    let five = match fields[..] {
        [minute, hour, day_of_month, month, day_of_week, year] if inner.is_some() || looks_like_year(year) => {
            match five_fields([minute, hour, day_of_month, month, day_of_week]) {
                Ok(five) if year == "*" => five,
                Ok(five) => {
                    return Some(format!(
                        "`{trimmed}` is AWS's cron form, whose last field is the year ({year}), which a 5-field cron cannot restrict; for every year, write the 5-field `{five}`"
                    ))
                }
                Err(why) => return Some(format!("`{trimmed}` is AWS's cron form, and {why}")),
            }
        }
        // The five fields with AWS's `?` for "any day" (pipectl's form, not AWS's numbering).
        [_, _, day_of_month, _, day_of_week] if inner.is_none() && (day_of_month == "?" || day_of_week == "?") => {
            let five: Vec<&str> = fields.iter().map(|field| if *field == "?" { "*" } else { field }).collect();
            let five = five.join(" ");
            return Some(format!("`?` is AWS's \"any day\", which a 5-field cron writes `*`: write `{five}`"));
        }
        _ if inner.is_some() => {
            return Some(format!(
                "`{trimmed}` looks like AWS's cron form, which has 6 fields (minutes hours day-of-month month day-of-week year); pipectl takes 5: minute hour day-of-month month day-of-week (e.g. `0 2 * * *`)"
            ))
        }
        _ => return None,
    };
    let message = format!("`{trimmed}` is AWS's cron form; write the 5-field `{five}`");
    Some(match check(&five) {
        Ok(()) => message,
        Err(why) => format!("{message} (which pipectl refuses in turn: {why})"),
    })
}

/// A year field: `*`, or years and ranges of them (`2027`, `2027-2029`, `2027,2028`).
fn looks_like_year(field: &str) -> bool {
    field == "*" || field.split([',', '-', '/']).all(|part| part.len() == 4 && part.chars().all(|c| c.is_ascii_digit()))
}

/// AWS's first five fields as standard cron: `?` is `*`, and the days of the week, numbered 1
/// (Sunday) to 7 by AWS, are numbered 0 to 6; names stay as they are.
fn five_fields([minute, hour, day_of_month, month, day_of_week]: [&str; 5]) -> Result<String, String> {
    let any = |field: &str| if field == "?" { "*".to_string() } else { field.to_string() };
    // Day-of-month has no names; no day-of-week name holds an `L` or a `#` (`WED` holds a `W`).
    let special = [(day_of_month, &['L', 'W'][..]), (day_of_week, &['L', '#'][..])];
    for ((field, letters), name) in special.into_iter().zip(["day-of-month", "day-of-week"]) {
        if field.to_ascii_uppercase().contains(letters) {
            return Err(format!(
                "its {name} `{field}` (`L`, `W` or `#`) has no equivalent in a 5-field cron: name the days themselves"
            ));
        }
    }
    let day_of_week = if day_of_week == "?" { "*".to_string() } else { standard_days(day_of_week)? };
    Ok(format!("{minute} {hour} {} {month} {day_of_week}", any(day_of_month)))
}

/// AWS's day-of-week numbers (1 = Sunday … 7 = Saturday) as standard cron's (0 … 6); a step
/// (`/2`) is a count of days, not a day, and stays.
fn standard_days(field: &str) -> Result<String, String> {
    let shift = |day: &str| match day.parse::<u32>() {
        Ok(number @ 1..=7) => Ok((number - 1).to_string()),
        Ok(number) => Err(format!("its day of week `{number}` is outside AWS's 1-7 (SUN-SAT)")),
        Err(_) => Ok(day.to_string()),
    };
    let elements = field.split(',').map(|element| -> Result<String, String> {
        let (range, step) = match element.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (element, None),
        };
        let days: Result<Vec<String>, String> = range.split('-').map(&shift).collect();
        Ok(days?.join("-") + &step.map(|step| format!("/{step}")).unwrap_or_default())
    });
    Ok(elements.collect::<Result<Vec<String>, String>>()?.join(","))
}

/// `rate(N unit)`: it runs every N units from the moment the schedule is created, at no fixed
/// time, and pipectl's windows and jobs start at a fixed minute and hour. A daily rate has a
/// 5-field equivalent up to its time of day; the others have none.
fn rate_message(text: &str, inner: &str) -> String {
    let daily = matches!(inner.split_whitespace().collect::<Vec<_>>()[..], ["1", "day"]);
    if daily {
        return format!(
            "`{text}` is AWS's rate form, which runs at no fixed time; write the 5-field `0 0 * * *` (every day at 00:00), with the minute and hour you mean"
        );
    }
    format!(
        "`{text}` is AWS's rate form, which runs at no fixed time; pipectl starts windows and jobs at a fixed minute and hour: write a 5-field cron such as `0 2 * * *` (every day at 02:00)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> Option<String> {
        aws_form_message(text, |five| super::super::parse_cron(five).map(|_| ()))
    }

    #[test]
    fn aws_cron_gets_its_five_field_equivalent() {
        let five = |text: &str| {
            let message = message(text).expect("recognised");
            message.split("write the 5-field `").nth(1).and_then(|rest| rest.split('`').next()).map(str::to_string)
        };
        assert_eq!(five("cron(0 4 * * ? *)").as_deref(), Some("0 4 * * *"));
        assert_eq!(five("0 4 * * ? *").as_deref(), Some("0 4 * * *"));
        assert_eq!(five("cron(30 22 ? * 2-6 *)").as_deref(), Some("30 22 * * 1-5"));
        assert_eq!(five("cron(0 1 ? * 1,7 *)").as_deref(), Some("0 1 * * 0,6"));
        assert_eq!(five("cron(0 1 ? * MON-FRI *)").as_deref(), Some("0 1 * * MON-FRI"));
        assert_eq!(five("cron(0 1 ? * WED *)").as_deref(), Some("0 1 * * WED"));
        assert_eq!(five("cron(0 1 ? * 2/2 *)").as_deref(), Some("0 1 * * 1/2"));
        assert_eq!(five("cron(15 3 1 * ? *)").as_deref(), Some("15 3 1 * *"));
        // Each equivalent means what AWS's form meant: EventBridge's own form of it is the input.
        for aws in ["cron(0 4 * * ? *)", "cron(30 22 ? * 2-6 *)", "cron(0 1 ? * 1,7 *)", "cron(15 3 1 * ? *)"] {
            let five = five(aws).expect("an equivalent");
            assert_eq!(super::super::parse_cron(&five).expect("valid").to_eventbridge(), aws);
        }
    }

    #[test]
    fn what_has_no_equivalent_says_so() {
        let said = |text: &str| message(text).expect("recognised");
        assert!(said("cron(0 4 * * ? 2027)").contains("the year (2027)"), "{}", said("cron(0 4 * * ? 2027)"));
        assert!(said("cron(0 4 L * ? *)").contains("no equivalent in a 5-field cron"));
        assert!(said("cron(0 4 ? * 6#3 *)").contains("no equivalent in a 5-field cron"));
        assert!(said("cron(0/15 * * * ? *)").contains("which pipectl refuses in turn: minute `0/15`"));
        assert!(said("rate(1 day)").contains("write the 5-field `0 0 * * *`"));
        assert!(said("rate(6 hours)").contains("runs at no fixed time"));
        assert!(said("cron(0 4 * *)").contains("AWS's cron form, which has 6 fields"));
        assert!(said("0 4 * * ?").contains("write `0 4 * * *`"));
        // pipectl's own form, or a plain mistake, is not AWS's.
        assert_eq!(message("0 4 * * *"), None);
        assert_eq!(message("0 4 * *"), None);
    }
}

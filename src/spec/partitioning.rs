//! How a table's prefix becomes its location and partition columns. The static part before the
//! first `!{` is the location; the `!{timestamp:…}` expressions become partition columns whose
//! values Athena projects ("Partition projection with Amazon Athena"), so new folders are
//! queryable without a crawler or `MSCK REPAIR TABLE`. Firehose evaluates every `timestamp`
//! expression of a prefix to the same instant ("Custom prefixes for Amazon S3 objects"), so a
//! prefix may use several:
//!
//! - Hive style, every date folder named `key=`: `dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/`
//!   gives one column per folder (`dt`, `hour`). The first folder holds the year (and perhaps
//!   more) and is projected as a `date`; each later folder holds one field (`MM`, `dd` or `HH`)
//!   and is projected as an `integer` of two digits ("Supported types for partition projection").
//! - Unnamed folders, `!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/`: the spec names no
//!   columns for them, so together they are one date column (`partition_key`, default `dt`)
//!   with the pattern `yyyy/MM/dd`, as `!{timestamp:yyyy/MM/dd}/` would be.
//!
//! The fields, across the folders, name the year, then optionally the month, day and hour, in
//! that order, so that every folder path is one moment of the table's finest unit.

/// A partition column's projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Projection {
    /// `type=date` with the column's `format`, one `unit` (`DAYS`, `HOURS`, …) apart.
    Date { unit: &'static str },
    /// `type=integer` over `min..=max`, written with two digits (`05`): a folder of one field.
    Integer { min: u32, max: u32 },
}

/// A string partition column filled from a `!{timestamp:…}` folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionKey {
    pub name: String,
    /// The Java date pattern Firehose writes the folder with, e.g. `yyyy/MM/dd` or `HH`.
    pub format: String,
    pub projection: Projection,
}

/// The partition columns the date folders make, in folder order (the first one is a date).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatePartition {
    pub keys: Vec<PartitionKey>,
    /// The finest unit across the keys, as Athena names it (`DAYS`, `HOURS`, …).
    pub unit: &'static str,
    /// `s3://bucket/raw/events/dt=${dt}/hour=${hour}/`.
    pub template: String,
}

impl DatePartition {
    /// The placeholder of key `name` in the template: `${dt}`.
    pub fn placeholder(name: &str) -> String {
        format!("${{{name}}}")
    }

    /// The names of the keys, in order.
    pub fn names(&self) -> Vec<&str> {
        self.keys.iter().map(|key| key.name.as_str()).collect()
    }
}

/// Where a table's objects are, and the partition the date folders make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// `s3://bucket/raw/events/`.
    pub location: String,
    pub partition: Option<DatePartition>,
}

/// Date fields a projected folder may use, coarsest first, with Athena's unit and, for a folder
/// of that field alone, the integer range it takes.
const FIELDS: [(&str, &str, (u32, u32)); 4] =
    [("yyyy", "YEARS", (0, 9999)), ("MM", "MONTHS", (1, 12)), ("dd", "DAYS", (1, 31)), ("HH", "HOURS", (0, 23))];

/// One piece of a prefix: literal text, a `!{timestamp:…}` pattern, or another expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Text(&'a str),
    Timestamp(&'a str),
    Other,
}

fn tokens(prefix: &str) -> Result<Vec<Token<'_>>, String> {
    let mut tokens = Vec::new();
    let mut rest = prefix;
    while let Some(start) = rest.find("!{") {
        if start > 0 {
            tokens.push(Token::Text(&rest[..start]));
        }
        let Some(end) = rest[start..].find('}') else {
            return Err(format!("`{prefix}` opens `!{{` without closing it"));
        };
        let expression = &rest[start + 2..start + end];
        tokens.push(expression.strip_prefix("timestamp:").map_or(Token::Other, Token::Timestamp));
        rest = &rest[start + end + 1..];
    }
    if !rest.is_empty() {
        tokens.push(Token::Text(rest));
    }
    Ok(tokens)
}

/// The Hive name of the folder a timestamp at `index` starts, if the text before it is `key=`
/// at the start of a folder.
fn hive_name<'a>(tokens: &[Token<'a>], index: usize) -> Option<&'a str> {
    let Some(Token::Text(text)) = index.checked_sub(1).map(|before| tokens[before]) else { return None };
    let folder_start = text.contains('/') || index == 1;
    let tail = text.rsplit('/').next().unwrap_or(text);
    tail.strip_suffix('=').filter(|name| folder_start && !name.is_empty())
}

/// Derives the layout of `prefix` in `bucket`, `key` naming the column of unnamed date folders;
/// the errors say everything that keeps the prefix from being a table's location.
pub fn layout(bucket: &str, prefix: &str, key: &str) -> Result<Layout, Vec<String>> {
    let Some(first) = prefix.find("!{") else {
        if !prefix.is_empty() && !prefix.ends_with('/') {
            return Err(vec![format!("the prefix `{prefix}` must end with `/` to be a table's folder")]);
        }
        return Ok(Layout { location: format!("s3://{bucket}/{prefix}"), partition: None });
    };
    let static_part = &prefix[..first];
    let location = format!("s3://{bucket}/{}", &static_part[..static_part.rfind('/').map_or(0, |slash| slash + 1)]);
    let tokens = tokens(prefix).map_err(|message| vec![message])?;
    let Some(last) = tokens.iter().rposition(|token| matches!(token, Token::Timestamp(_))) else {
        return Ok(Layout { location, partition: None });
    };
    let mut problems = Vec::new();
    if tokens[..last].contains(&Token::Other) {
        problems.push(format!(
            "in `{prefix}` a `!{{firehose:…}}` folder comes before the date: move it after the last `!{{timestamp:…}}` folder, or the date folders cannot be projected"
        ));
    }
    let folder_end = match tokens.get(last + 1) {
        Some(Token::Text(text)) if text.starts_with('/') => "/",
        _ => {
            problems.push(format!(
                "in `{prefix}` the `!{{timestamp:…}}` expression must end a folder (be followed by `/`)"
            ));
            ""
        }
    };
    let stamps: Vec<(usize, &str, Option<&str>)> = (0..=last)
        .filter_map(|index| match tokens[index] {
            Token::Timestamp(pattern) => Some((index, pattern, hive_name(&tokens, index))),
            _ => None,
        })
        .collect();
    let named = stamps.iter().filter(|(_, _, name)| name.is_some()).count();
    let partition = if named == 0 {
        unnamed(bucket, prefix, &tokens, &stamps, key, &mut problems)
    } else if named == stamps.len() {
        hive(bucket, &tokens[..=last], folder_end, &stamps, &mut problems)
    } else {
        problems.push(format!(
            "in `{prefix}` some date folders are named `key=` and some are not: name every one (Hive style, `dt=!{{timestamp:yyyy-MM-dd}}/hour=!{{timestamp:HH}}/`) or none"
        ));
        None
    };
    match (problems.is_empty(), partition) {
        (true, Some(partition)) => Ok(Layout { location, partition: Some(partition) }),
        _ => Err(problems),
    }
}

/// Unnamed date folders: one date column `key` over their patterns joined by their separators.
fn unnamed(
    bucket: &str,
    prefix: &str,
    tokens: &[Token],
    stamps: &[(usize, &str, Option<&str>)],
    key: &str,
    problems: &mut Vec<String>,
) -> Option<DatePartition> {
    let (first, last) = (stamps[0].0, stamps[stamps.len() - 1].0);
    let mut format = String::new();
    for token in &tokens[first..=last] {
        match token {
            Token::Timestamp(pattern) => format.push_str(pattern),
            Token::Text(text) if text.chars().all(|c| "/-_.".contains(c)) => format.push_str(text),
            Token::Text(text) => {
                problems.push(format!(
                    "in `{prefix}` the date folders are separated by `{text}`: between unnamed `!{{timestamp:…}}` folders use only `/`, `-`, `_` or `.`, or name each folder Hive style (`dt=!{{timestamp:yyyy-MM-dd}}/hour=!{{timestamp:HH}}/`)"
                ));
                return None;
            }
            Token::Other => return None,
        }
    }
    let fields = fields(&format).map_err(|message| problems.push(message)).ok()?;
    if !in_order(&fields) {
        problems.push(order_problem(&format));
        return None;
    }
    let unit = FIELDS[fields.len() - 1].1;
    let static_part = &prefix[..prefix.find("!{").unwrap_or(0)];
    let template = format!("s3://{bucket}/{static_part}{}/", DatePartition::placeholder(key));
    let keys = vec![PartitionKey { name: key.to_string(), format, projection: Projection::Date { unit } }];
    Some(DatePartition { keys, unit, template })
}

/// Hive-style folders: a column per folder, the first a date, each later one an integer field.
fn hive(
    bucket: &str,
    tokens: &[Token],
    folder_end: &str,
    stamps: &[(usize, &str, Option<&str>)],
    problems: &mut Vec<String>,
) -> Option<DatePartition> {
    let before = problems.len();
    let mut keys: Vec<PartitionKey> = Vec::new();
    let mut all_fields = Vec::new();
    for (position, (_, pattern, name)) in stamps.iter().enumerate() {
        let name = name.unwrap_or_default();
        if keys.iter().any(|key| key.name == name) {
            problems.push(format!("the prefix names the partition column `{name}` twice"));
        }
        let Ok(fields) = fields(pattern).map_err(|message| problems.push(message)) else { continue };
        if position == 0 && fields.first() != Some(&0) {
            let patterns: Vec<&str> = stamps.iter().map(|(_, pattern, _)| *pattern).collect();
            problems.push(order_problem(&patterns.join("`, `")));
            return None;
        }
        let projection = if position == 0 {
            Projection::Date { unit: FIELDS[fields.iter().max().copied().unwrap_or(0)].1 }
        } else if let ([field], true) = (fields.as_slice(), FIELDS.iter().any(|(letters, ..)| letters == pattern)) {
            let (min, max) = FIELDS[*field].2;
            Projection::Integer { min, max }
        } else {
            problems.push(format!(
                "the folder `{name}=!{{timestamp:{pattern}}}` follows the first date folder, so it holds one field, `MM`, `dd` or `HH` (Athena projects it as an integer): split it into folders of one field each"
            ));
            continue;
        };
        all_fields.extend(fields);
        keys.push(PartitionKey { name: name.to_string(), format: pattern.to_string(), projection });
    }
    if problems.len() > before {
        return None;
    }
    if !in_order(&all_fields) {
        let patterns: Vec<&str> = stamps.iter().map(|(_, pattern, _)| *pattern).collect();
        problems.push(order_problem(&patterns.join("`, `")));
        return None;
    }
    let mut template = format!("s3://{bucket}/");
    let mut names = keys.iter().map(|key| DatePartition::placeholder(&key.name));
    for token in tokens {
        match token {
            Token::Text(text) => template.push_str(text),
            Token::Timestamp(_) => template.extend(names.next()),
            Token::Other => return None,
        }
    }
    template.push_str(folder_end);
    let unit = FIELDS[all_fields.len() - 1].1;
    Some(DatePartition { keys, unit, template })
}

/// The fields (indexes into `FIELDS`) a pattern of `yyyy`, `MM`, `dd`, `HH` and separators names.
fn fields(format: &str) -> Result<Vec<usize>, String> {
    let mut used = Vec::new();
    let mut rest = format;
    while let Some(c) = rest.chars().next() {
        if c.is_ascii_alphabetic() {
            let run = rest.chars().take_while(|&next| next == c).count();
            let Some(index) = FIELDS.iter().position(|(letters, ..)| *letters == &rest[..run]) else {
                return Err(format!(
                    "the date pattern `{format}` uses `{}`; a cataloged prefix's pattern is made of `yyyy`, `MM`, `dd` and `HH` with separators",
                    &rest[..run]
                ));
            };
            used.push(index);
            rest = &rest[run..];
        } else if "/-_.=".contains(c) {
            rest = &rest[c.len_utf8()..];
        } else {
            return Err(format!(
                "the date pattern `{format}` has `{c}`; use `/`, `-`, `_`, `.` or `=` between its fields"
            ));
        }
    }
    Ok(used)
}

/// True when `fields` are the year, then optionally the month, day and hour, each once.
fn in_order(fields: &[usize]) -> bool {
    !fields.is_empty() && fields.iter().enumerate().all(|(position, index)| *index == position)
}

fn order_problem(format: &str) -> String {
    format!(
        "the date pattern `{format}` must name the year, then optionally the month, day and hour, in that order (`yyyy/MM/dd`), so that every folder is one date"
    )
}

/// `YYYY-MM-DD` as (year, month, day), if it is a date.
pub fn parse_date(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let (year, month, day) = (year.parse().ok()?, month.parse().ok()?, day.parse().ok()?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    (1..=12).contains(&month).then_some(())?;
    (1..=days[month as usize - 1]).contains(&day).then_some((year, month, day))
}

/// `date` written with a pattern `layout` accepted (the hour is midnight).
pub fn format_date(format: &str, (year, month, day): (u32, u32, u32)) -> String {
    format
        .replace("yyyy", &format!("{year:04}"))
        .replace("MM", &format!("{month:02}"))
        .replace("dd", &format!("{day:02}"))
        .replace("HH", "00")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(prefix: &str) -> DatePartition {
        layout("lake", prefix, "dt").unwrap().partition.unwrap()
    }

    fn error(prefix: &str) -> String {
        layout("lake", prefix, "dt").unwrap_err().join(" | ")
    }

    #[test]
    fn a_daily_prefix_is_a_dt_partition_projected_by_day() {
        let derived = layout("lake", "raw/events/!{timestamp:yyyy/MM/dd}/", "dt").unwrap();
        assert_eq!(derived.location, "s3://lake/raw/events/");
        let partition = derived.partition.unwrap();
        let date = Projection::Date { unit: "DAYS" };
        assert_eq!(partition.keys, [PartitionKey { name: "dt".into(), format: "yyyy/MM/dd".into(), projection: date }]);
        assert_eq!((partition.unit, partition.template.as_str()), ("DAYS", "s3://lake/raw/events/${dt}/"));
    }

    #[test]
    fn hive_style_folders_are_one_column_each_the_later_ones_integers() {
        let derived = layout("lake", "events/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/", "ignored").unwrap();
        assert_eq!(derived.location, "s3://lake/events/");
        let hourly = derived.partition.unwrap();
        assert_eq!(hourly.names(), ["dt", "hour"]);
        assert_eq!(hourly.keys[0].projection, Projection::Date { unit: "DAYS" });
        assert_eq!(hourly.keys[0].format, "yyyy-MM-dd");
        assert_eq!(hourly.keys[1].projection, Projection::Integer { min: 0, max: 23 });
        assert_eq!(hourly.keys[1].format, "HH");
        assert_eq!(hourly.unit, "HOURS");
        assert_eq!(hourly.template, "s3://lake/events/dt=${dt}/hour=${hour}/");
        // Four folders, static folders between them, random folders after them.
        let four = partition(
            "y=!{timestamp:yyyy}/m=!{timestamp:MM}/x/d=!{timestamp:dd}/h=!{timestamp:HH}/!{firehose:random-string}/",
        );
        assert_eq!(four.template, "s3://lake/y=${y}/m=${m}/x/d=${d}/h=${h}/");
        let ranges: Vec<Projection> = four.keys.iter().map(|key| key.projection).collect();
        assert_eq!(
            ranges,
            [
                Projection::Date { unit: "YEARS" },
                Projection::Integer { min: 1, max: 12 },
                Projection::Integer { min: 1, max: 31 },
                Projection::Integer { min: 0, max: 23 }
            ]
        );
        // One named folder is one column of its own name.
        let single = partition("raw/dt=!{timestamp:yyyy-MM-dd-HH}/!{firehose:random-string}/");
        assert_eq!((single.names(), single.unit), (vec!["dt"], "HOURS"));
        assert_eq!(single.template, "s3://lake/raw/dt=${dt}/");
    }

    #[test]
    fn unnamed_date_folders_are_one_date_column() {
        let merged = partition("raw/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/");
        assert_eq!(merged.names(), ["dt"]);
        assert_eq!((merged.keys[0].format.as_str(), merged.unit), ("yyyy/MM/dd", "DAYS"));
        assert_eq!(merged.template, "s3://lake/raw/${dt}/");
        assert_eq!(layout("lake", "", "dt").unwrap().location, "s3://lake/");
        assert_eq!(layout("lake", "raw/!{firehose:random-string}/", "dt").unwrap().partition, None);
    }

    #[test]
    fn every_problem_of_a_prefix_is_said() {
        for (prefix, expected) in [
            ("raw/!{firehose:random-string}/!{timestamp:yyyy}/", "comes before the date"),
            ("raw/!{timestamp:yyyy/MM/dd}", "must end a folder"),
            ("raw/!{timestamp:dd/MM/yyyy}/", "in that order"),
            ("raw/!{timestamp:yyyy/ww}/", "uses `ww`"),
            ("raw", "must end with `/`"),
            ("raw/!{timestamp:yyyy", "without closing it"),
            ("raw/!{timestamp:yyyy}x!{timestamp:MM}/", "separated by `x`"),
            ("dt=!{timestamp:yyyy}/!{timestamp:MM}/", "some date folders are named"),
            ("dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH-mm}/", "uses `mm`"),
            ("dt=!{timestamp:yyyy}/md=!{timestamp:MM-dd}/", "holds one field"),
            ("dt=!{timestamp:yyyy}/dt=!{timestamp:MM}/", "`dt` twice"),
            ("h=!{timestamp:HH}/d=!{timestamp:yyyy-MM-dd}/", "in that order"),
            ("dt=!{timestamp:yyyy-MM-dd}/day=!{timestamp:dd}/", "in that order"),
        ] {
            let message = error(prefix);
            assert!(message.contains(expected), "{prefix}: {message}");
        }
        // Two problems of one prefix, both said.
        let both = layout("lake", "!{firehose:random-string}/dt=!{timestamp:yyyy}/h=!{timestamp:HH-MM}", "dt");
        assert_eq!(both.unwrap_err().len(), 3);
    }

    #[test]
    fn since_is_written_in_the_partition_pattern() {
        assert_eq!(format_date("yyyy/MM/dd/HH", (2024, 3, 9)), "2024/03/09/00");
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(parse_date("2024-02-29"), Some((2024, 2, 29)));
    }
}

//! The canary record `pipectl verify` puts into a stream, and where Firehose will write it.
//!
//! A canary carries its id in the field `pipectl_canary` and in every string column of the table
//! that reads the delivery, as `pipectl-canary-<millis>-<hex>`: record format conversion keeps only
//! the table's columns ("Convert input data format in Amazon Data Firehose": the schema comes from
//! the Glue table), so a Parquet file holds the id only in a column. Every other column gets a
//! value its type accepts, so that conversion does not send the record to the error prefix;
//! timestamps are written `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`, a format the OpenX JSON SerDe parses
//! (same page, "Choose the JSON deserializer"). Real queries leave canaries out with
//! `WHERE <any string column> NOT LIKE 'pipectl-canary-%'`.
//!
//! Firehose evaluates a prefix's `!{timestamp:…}` expressions (Java `DateTimeFormatter` patterns,
//! in UTC unless a custom time zone is set, which pipectl does not) at "the approximate arrival
//! timestamp of the oldest record" of the object ("Understand custom prefixes for Amazon S3
//! objects", Amazon Data Firehose Developer Guide). `listing_prefix` evaluates them for a moment;
//! a `!{firehose:…}` expression (a random string, the error type) or a pattern letter it does not
//! know ends the prefix there, so the listing is wider, never wrong.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::{json, Map, Value};

use crate::spec::{canonical_type, Column, PartitionKeySource, Route};

/// What every canary id starts with; what real queries filter out.
pub const CANARY_PREFIX: &str = "pipectl-canary-";
/// The field every canary carries its id in (kept by JSON deliveries; a Parquet file keeps it
/// only if the table has such a column).
pub const CANARY_FIELD: &str = "pipectl_canary";

/// A fresh canary id: the time in milliseconds and a random part, unique across runs.
pub fn new_id(at: DateTime<Utc>) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_i64(at.timestamp_nanos_opt().unwrap_or_default());
    format!("{CANARY_PREFIX}{}-{:08x}", at.timestamp_millis(), hasher.finish() as u32)
}

/// The canary record: `pipectl_canary` and, when a table reads the delivery, a value for each of
/// its columns that its type accepts (the id in string columns).
pub fn record(id: &str, columns: &[Column], at: DateTime<Utc>) -> Value {
    let mut record = Map::new();
    for column in columns {
        record.insert(column.name.clone(), value_for(&canonical_type(&column.data_type), id, at));
    }
    record.insert(CANARY_FIELD.to_string(), json!(id));
    Value::Object(record)
}

/// Whether a table with `columns` can carry the canary's id through conversion: it has a
/// string column.
pub fn carries_id(columns: &[Column]) -> bool {
    columns.iter().any(|column| is_text(base_type(&canonical_type(&column.data_type))))
}

/// `varchar` of `varchar(12)`, `map` of `map<string,int>`.
fn base_type(data_type: &str) -> &str {
    data_type.split(['(', '<']).next().unwrap_or_default()
}

fn is_text(base_type: &str) -> bool {
    matches!(base_type, "string" | "char" | "varchar")
}

/// A value of the Glue/Hive type `data_type` (canonical: lower case, no spaces).
fn value_for(data_type: &str, id: &str, at: DateTime<Utc>) -> Value {
    match base_type(data_type) {
        text if is_text(text) => json!(id),
        "boolean" => json!(false),
        "tinyint" | "smallint" | "int" | "integer" | "bigint" => json!(0),
        "float" | "double" | "decimal" => json!(0.0),
        "date" => json!(at.format("%Y-%m-%d").to_string()),
        "timestamp" => json!(at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
        "array" => json!([]),
        "map" => json!({}),
        "struct" => {
            let inner = data_type.strip_prefix("struct<").and_then(|rest| rest.strip_suffix('>')).unwrap_or_default();
            let fields = top_level(inner).into_iter().filter_map(|field| field.split_once(':'));
            Value::Object(fields.map(|(name, field_type)| (name.to_string(), value_for(field_type, id, at))).collect())
        }
        // binary and anything else: null, which every column accepts.
        _ => Value::Null,
    }
}

/// `a:int,b:map<string,int>` split at the commas outside `<…>` and `(…)`.
fn top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (at, c) in text.char_indices() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    if start < text.len() {
        parts.push(&text[start..]);
    }
    parts
}

/// The part of a Firehose `prefix` that is known at `at`: its `!{timestamp:…}` expressions
/// evaluated, up to the first expression that is not (or whose pattern is not understood here).
pub fn listing_prefix(prefix: &str, at: DateTime<Utc>) -> String {
    let mut out = String::new();
    let mut rest = prefix;
    while let Some(start) = rest.find("!{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else { return out };
        let expression = &rest[start + 2..start + end];
        match expression.strip_prefix("timestamp:").and_then(|pattern| java_format(pattern, at)) {
            Some(text) => out.push_str(&text),
            None => return out,
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

/// `at` written with a Java `DateTimeFormatter` pattern: the letters Firehose prefixes use
/// (`y M d H h m s S D a E`), quoted literals, and other characters as they are; None for a letter
/// not handled here.
pub fn java_format(pattern: &str, at: DateTime<Utc>) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // '' is a quote; 'text' is literal text.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            let close = chars[i + 1..].iter().position(|&q| q == '\'')?;
            out.extend(&chars[i + 1..i + 1 + close]);
            i += close + 2;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&next| next == c).count();
        let number = |value: u32| format!("{value:0run$}");
        out.push_str(&match c {
            'y' | 'u' if run == 2 => format!("{:02}", at.year() % 100),
            'y' | 'u' => format!("{:0run$}", at.year()),
            'M' if run >= 4 => at.format("%B").to_string(),
            'M' if run == 3 => at.format("%b").to_string(),
            'M' => number(at.month()),
            'd' => number(at.day()),
            'D' => number(at.ordinal()),
            'H' => number(at.hour()),
            'h' => number(at.hour12().1),
            'm' => number(at.minute()),
            's' => number(at.second()),
            'S' => format!("{:09}", at.nanosecond()).chars().take(run).collect(),
            'a' => at.format("%p").to_string(),
            'E' if run >= 4 => at.format("%A").to_string(),
            'E' => at.format("%a").to_string(),
            _ => return None,
        });
        i += run;
    }
    Some(out)
}

/// The canary shaped for `route` of the ingest API: the field its partition key reads, and each
/// string field its schema requires, set to the id (what is there is kept); and the headers of
/// the request (the content type its mapping template is chosen by, and a header key).
pub fn for_route(record: &mut Value, route: &Route, id: &str) -> Vec<(String, String)> {
    let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    let mut fields: Vec<String> = Vec::new();
    match &route.partition_key {
        PartitionKeySource::Field(field) => fields.push(field.clone()),
        PartitionKeySource::Header(header) => headers.push((header.clone(), id.to_string())),
        PartitionKeySource::Random => {}
    }
    if let Some(schema) = &route.schema {
        let required = schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str);
        let strings =
            required.filter(|field| matches!(schema["properties"][*field]["type"].as_str(), None | Some("string")));
        fields.extend(strings.map(str::to_string));
    }
    if let Value::Object(map) = record {
        for field in fields {
            map.entry(field).or_insert_with(|| json!(id));
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_canary_for_a_route_carries_its_key_and_required_text_fields() {
        let route = |yaml: &str| -> Route { serde_saphyr::from_str(yaml).unwrap() };
        let mut record = json!({"pipectl_canary": "c1", "event_type": "kept"});
        let keyed = route("{stream: s, partition_key: {field: user_id}, schema: {required: [event_id, event_type, n], properties: {n: {type: integer}}}}");
        let headers = for_route(&mut record, &keyed, "c1");
        assert_eq!(record, json!({"pipectl_canary": "c1", "event_type": "kept", "user_id": "c1", "event_id": "c1"}));
        assert_eq!(headers, [("Content-Type".to_string(), "application/json".to_string())]);
        let mut record = json!({"pipectl_canary": "c2"});
        let headers = for_route(&mut record, &route("{stream: s, partition_key: {header: X-Device-Id}}"), "c2");
        assert_eq!(record, json!({"pipectl_canary": "c2"}));
        assert_eq!(headers[1], ("X-Device-Id".to_string(), "c2".to_string()));
    }

    fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-05T07:08:09.123Z").unwrap().with_timezone(&Utc)
    }

    fn column(name: &str, data_type: &str) -> Column {
        Column { name: name.to_string(), data_type: data_type.to_string(), comment: None }
    }

    #[test]
    fn a_canary_fills_every_column_with_a_value_of_its_type_and_the_id_in_strings() {
        let columns = [
            column("event_id", "string"),
            column("code", "VARCHAR(12)"),
            column("n", "bigint"),
            column("price", "decimal(10,2)"),
            column("ok", "boolean"),
            column("day", "date"),
            column("ts", "timestamp"),
            column("tags", "array<string>"),
            column("props", "map<string,string>"),
            column("who", "struct<name:string, age:int, meta:map<string,int>>"),
            column("blob", "binary"),
        ];
        let id = "pipectl-canary-1-ab";
        let record = record(id, &columns, at());
        assert_eq!(
            record,
            json!({
                "event_id": id, "code": id, "n": 0, "price": 0.0, "ok": false, "day": "2026-03-05",
                "ts": "2026-03-05T07:08:09.123Z", "tags": [], "props": {},
                "who": {"name": id, "age": 0, "meta": {}}, "blob": null, "pipectl_canary": id
            })
        );
        assert!(carries_id(&columns));
        assert!(!carries_id(&[column("n", "bigint"), column("who", "struct<name:string>")]));
        // Without a table, the id field alone.
        assert_eq!(super::record(id, &[], at()), json!({"pipectl_canary": id}));
    }

    #[test]
    fn canary_ids_are_unique_and_say_what_they_are() {
        let (a, b) = (new_id(at()), new_id(at()));
        assert_ne!(a, b);
        assert!(a.starts_with("pipectl-canary-1772694489123-"), "{a}");
    }

    #[test]
    fn prefixes_evaluate_their_timestamps_and_stop_at_what_is_not_known_yet() {
        assert_eq!(listing_prefix("raw/events/!{timestamp:yyyy/MM/dd}/", at()), "raw/events/2026/03/05/");
        assert_eq!(
            listing_prefix("raw/dt=!{timestamp:yyyy'-'MM'-'dd}/h=!{timestamp:HH}/", at()),
            "raw/dt=2026-03-05/h=07/"
        );
        assert_eq!(listing_prefix("raw/!{timestamp:yyyy}/!{firehose:random-string}/x/", at()), "raw/2026/");
        assert_eq!(listing_prefix("errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/", at()), "errors/");
        assert_eq!(listing_prefix("plain/", at()), "plain/");
        assert_eq!(listing_prefix("", at()), "");
        // A letter not handled here (week of year) ends the prefix before it.
        assert_eq!(listing_prefix("raw/!{timestamp:yyyy}/!{timestamp:ww}/", at()), "raw/2026/");
        // An unclosed expression (validation refuses it) keeps what came before.
        assert_eq!(listing_prefix("raw/!{timestamp:yyyy", at()), "raw/");
    }

    #[test]
    fn java_patterns_cover_what_firehose_prefixes_use() {
        assert_eq!(java_format("yyyy-MM-dd HH:mm:ss.SSS", at()).unwrap(), "2026-03-05 07:08:09.123");
        assert_eq!(java_format("yy/M/d/D", at()).unwrap(), "26/3/5/64");
        assert_eq!(java_format("MMM EEE hh a", at()).unwrap(), "Mar Thu 07 AM");
        assert_eq!(java_format("'year='yyyy''", at()).unwrap(), "year=2026'");
        assert_eq!(java_format("yyyy'unclosed", at()), None);
        assert_eq!(java_format("ww", at()), None);
    }
}

//! What the pipeline's Athena workgroup is derived from, and the rules its `query:` section must
//! meet before any API call: the results location in the lake bucket, the lifecycle rule that
//! expires results there (added to that bucket's rules, so the bucket's plan shows it), the
//! encryption the bucket's own dictates, the bytes-scanned cutoff in human units, and the
//! named queries. The same functions serve the resource kinds (`workgroup`, `bucket`) and
//! validation, so what validation accepts is exactly what apply builds.

use std::collections::{BTreeMap, HashSet};

use schemars::JsonSchema;
use serde::Deserialize;

use super::buckets::{Bucket, BucketEncryption, LifecycleRule};
use super::checks::{check_tags, Problems};
use super::pipeline::Spec;
use crate::names::{DEFAULT_RESULTS_PREFIX, NAMED_QUERY_MARKER, RESULTS_EXPIRY_RULE};

/// The pipeline's Athena workgroup (named after the pipeline): its settings are enforced on
/// every query run in it, so results land in the lake encrypted and a query that would scan
/// more than the cutoff is cancelled.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// The bucket of the spec that holds query results; default: the spec's only bucket.
    #[serde(default)]
    pub bucket: Option<String>,
    /// The key prefix of query results in that bucket (default `athena-results/`).
    #[serde(default)]
    pub results_prefix: Option<String>,
    /// Days after which query results are deleted, by a lifecycle rule pipectl adds to the
    /// bucket (default 7; `0` keeps them).
    #[serde(default)]
    pub results_expire_days: Option<i64>,
    /// The most one query may scan before Athena cancels it, in decimal units: `10MB` (the
    /// least Athena allows), `500MB`, `10GB`, `1TB`. Unset: no cutoff.
    #[serde(default)]
    pub bytes_scanned_cutoff: Option<Size>,
    /// Whether the workgroup's settings override what a client asks for (default true).
    #[serde(default = "super::pipeline::default_true")]
    pub enforce: bool,
    /// Whether Athena publishes the workgroup's query metrics to CloudWatch (default true).
    #[serde(default = "super::pipeline::default_true")]
    pub publish_metrics: bool,
    /// The Athena engine the workgroup runs queries on: `AUTO` (the default: Athena upgrades
    /// it) or `Athena engine version 3` (kept until AWS retires it).
    #[serde(default)]
    pub engine_version: Option<String>,
    /// Saved queries, created in the workgroup.
    #[serde(default)]
    pub named_queries: Vec<NamedQuery>,
    /// Tags on the workgroup.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A saved Athena query.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamedQuery {
    /// Unique in the workgroup.
    pub name: String,
    /// The SQL text.
    pub query: String,
    /// The database the query runs in; default: the catalog's database.
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A size as written in the spec: text with a unit (`10GB`); a bare number is read so that
/// validation can say it needs one.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Size {
    Number(i64),
    Text(String),
}

/// "BytesScannedCutoffPerQuery … Minimum value of 10000000" (Athena API Reference,
/// "WorkGroupConfiguration"): 10 MB in decimal units.
pub const MIN_CUTOFF_BYTES: i64 = 10_000_000;
/// The engine versions a workgroup may select: `AUTO`, Athena's default, and the versions
/// `ListEngineVersions` returns, today only `Athena engine version 3` (EngineVersion, Athena
/// API Reference: "Possible values are determined by the output of ListEngineVersions,
/// including AUTO. The default is AUTO"; "Athena engine versioning", Athena User Guide: Athena
/// upgrades a workgroup itself when its version is no longer available).
pub const ENGINE_VERSIONS: [&str; 2] = ["AUTO", "Athena engine version 3"];
/// Without `results_expire_days`, results are deleted after a week.
const DEFAULT_RESULTS_EXPIRE_DAYS: i64 = 7;
/// Named query limits (Athena API Reference, "CreateNamedQuery"): name 1-128, database 1-255,
/// query 1-262144, description 1-1024 characters.
const MAX_QUERY_NAME: usize = 128;
const MAX_DATABASE: usize = 255;
const MAX_QUERY_TEXT: usize = 262_144;
const MAX_DESCRIPTION: usize = 1024;

/// The bucket that holds query results: the section's, or the spec's only bucket.
pub fn results_bucket<'a>(spec: &'a Spec, query: &'a Query) -> Option<&'a Bucket> {
    match &query.bucket {
        Some(name) => spec.buckets.iter().find(|bucket| &bucket.name == name),
        None if spec.buckets.len() == 1 => spec.buckets.first(),
        None => None,
    }
}

/// The key prefix of query results.
pub fn results_prefix(query: &Query) -> &str {
    query.results_prefix.as_deref().unwrap_or(DEFAULT_RESULTS_PREFIX)
}

/// `s3://<bucket>/<prefix>`, the workgroup's `OutputLocation`.
pub fn results_location(spec: &Spec, query: &Query) -> Option<String> {
    results_bucket(spec, query).map(|bucket| format!("s3://{}/{}", bucket.name, results_prefix(query)))
}

/// Days after which results expire, if they do.
pub fn results_expire_after(query: &Query) -> Option<i64> {
    Some(query.results_expire_days.unwrap_or(DEFAULT_RESULTS_EXPIRE_DAYS)).filter(|days| *days > 0)
}

/// The bucket as apply builds it: the spec's lifecycle rules and, on the results bucket, the
/// rule that expires query results.
pub fn with_derived_rules(spec: &Spec, bucket: &Bucket) -> Bucket {
    let mut derived = bucket.clone();
    let Some(query) = &spec.query else { return derived };
    if results_bucket(spec, query).is_some_and(|results| results.name == bucket.name) {
        if let Some(days) = results_expire_after(query) {
            derived.lifecycle.push(LifecycleRule {
                id: Some(RESULTS_EXPIRY_RULE.to_string()),
                prefix: results_prefix(query).to_string(),
                transitions: Vec::new(),
                expiration_days: Some(days),
            });
        }
    }
    derived
}

/// How Athena encrypts results: as the bucket encrypts its objects. `SSE_KMS` with the bucket's
/// key; `SSE_S3` otherwise.
pub fn results_encryption(spec: &Spec, query: &Query) -> (&'static str, Option<String>) {
    match results_bucket(spec, query) {
        Some(bucket) if bucket.encryption == BucketEncryption::SseKms => ("SSE_KMS", bucket.kms_key.clone()),
        _ => ("SSE_S3", None),
    }
}

/// The engine version the workgroup selects: the spec's, or `AUTO`.
pub fn engine_version(query: &Query) -> &str {
    query.engine_version.as_deref().unwrap_or(ENGINE_VERSIONS[0])
}

/// The cutoff in bytes, if the spec sets one (validated: parses and is at least 10 MB).
pub fn bytes_scanned_cutoff(query: &Query) -> Option<i64> {
    query.bytes_scanned_cutoff.as_ref().and_then(|size| parse_size(size).ok())
}

/// A size of the spec in bytes.
fn parse_size(size: &Size) -> Result<i64, String> {
    match size {
        Size::Number(number) => {
            Err(format!("`{number}` has no unit: write it with one, e.g. `10GB` (KB, MB, GB, TB, PB)"))
        }
        Size::Text(text) => parse_bytes(text),
    }
}

/// `10MB`, `1.5GB`, `2 TB` in bytes. Decimal units only, as Athena states its minimum (10 MB is
/// 10,000,000 bytes); a bare number is refused so that `10` is never read as ten bytes.
pub fn parse_bytes(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = (&trimmed[..split], trimmed[split..].trim());
    let scale: i64 = match unit {
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "PB" => 1_000_000_000_000_000,
        "" => return Err(format!("`{text}` has no unit: write it with one, e.g. `10GB` (KB, MB, GB, TB, PB)")),
        other => {
            return Err(format!(
                "`{other}` is not a unit pipectl reads here: use KB, MB, GB, TB or PB (decimal, as Athena counts)"
            ))
        }
    };
    let value: f64 = number.parse().map_err(|_| format!("`{text}` is not a size such as `10GB`"))?;
    let bytes = (value * scale as f64).round();
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(format!("`{text}` is too large"));
    }
    Ok(bytes as i64)
}

/// The database a named query runs in: its own, or the catalog's.
pub fn query_database(spec: &Spec, query: &NamedQuery) -> Option<String> {
    query.database.clone().or_else(|| spec.catalog.as_ref().map(|catalog| super::catalog::database_name(spec, catalog)))
}

/// The description pipectl saves with a named query: the spec's, then the marker.
pub fn marked_description(query: &NamedQuery) -> String {
    match &query.description {
        Some(text) => format!("{text} {NAMED_QUERY_MARKER}"),
        None => NAMED_QUERY_MARKER.to_string(),
    }
}

/// A saved description without the marker, or None when pipectl did not save it.
pub fn unmarked_description(saved: &str) -> Option<Option<String>> {
    let rest = saved.strip_suffix(NAMED_QUERY_MARKER)?;
    let rest = rest.strip_suffix(' ').unwrap_or(rest);
    Some((!rest.is_empty()).then(|| rest.to_string()))
}

/// Every problem of the query section, its tags first.
pub(super) fn check(query: &Query, spec: &Spec, problems: &mut Problems) {
    check_tags("query.tags", &query.tags, problems);
    let bucket = results_bucket(spec, query);
    match (&query.bucket, bucket) {
        (Some(name), None) => problems.add("query.bucket", format!("`{name}` is not a bucket of this spec")),
        (None, None) if spec.buckets.is_empty() => problems.add(
            "query",
            "query results go to a bucket of the spec, and it has none: add one under `buckets`".to_string(),
        ),
        (None, None) => problems.add(
            "query.bucket",
            format!(
                "the spec has {} buckets: name the one that holds query results (`bucket: {}`)",
                spec.buckets.len(),
                spec.buckets[0].name
            ),
        ),
        _ => {}
    }
    let prefix = results_prefix(query);
    if prefix.is_empty() || prefix.starts_with('/') || !prefix.ends_with('/') || prefix.contains("!{") {
        problems.add(
            "query.results_prefix",
            format!("`{prefix}` must be a folder such as `athena-results/`: not empty, no leading `/`, ending with `/`, no `!{{…}}` (its lifecycle rule expires everything under it)"),
        );
    } else if let Some(bucket) = bucket {
        if let Some(other) = overlapping_writer(spec, &bucket.name, prefix) {
            problems.add(
                "query.results_prefix",
                format!("`{prefix}` overlaps {other} in bucket `{}`: results there expire after their days, and so would that data; pick a folder of its own", bucket.name),
            );
        }
        if bucket.lifecycle.iter().any(|rule| rule.id.as_deref() == Some(RESULTS_EXPIRY_RULE)) {
            problems.add(
                "query.bucket",
                format!("bucket `{}` has a lifecycle rule with id `{RESULTS_EXPIRY_RULE}`, which pipectl uses for query results: rename it", bucket.name),
            );
        }
    }
    if query.results_expire_days.is_some_and(|days| days < 0) {
        problems.add("query.results_expire_days", "must be 0 (keep results) or a number of days".to_string());
    }
    if bucket.is_some_and(|bucket| bucket.encryption == BucketEncryption::SseKms && bucket.kms_key.is_none()) {
        problems.add(
            "query.bucket",
            "the bucket uses sse-kms with the AWS managed key; Athena's SSE_KMS result encryption names a key ARN or id: set the bucket's `kms_key`".to_string(),
        );
    }
    if let Some(size) = &query.bytes_scanned_cutoff {
        let text = match size {
            Size::Number(number) => number.to_string(),
            Size::Text(text) => text.clone(),
        };
        match parse_size(size) {
            Err(message) => problems.add("query.bytes_scanned_cutoff", message),
            Ok(bytes) if bytes < MIN_CUTOFF_BYTES => problems.add(
                "query.bytes_scanned_cutoff",
                format!("`{text}` is {bytes} bytes; Athena's least cutoff is 10MB (10000000 bytes)"),
            ),
            Ok(_) => {}
        }
    }
    if let Some(version) = &query.engine_version {
        if !ENGINE_VERSIONS.contains(&version.as_str()) {
            let hint = ENGINE_VERSIONS.iter().find(|known| {
                let digits = |text: &str| text.chars().filter(char::is_ascii_digit).collect::<String>();
                known.eq_ignore_ascii_case(version) || (!digits(version).is_empty() && digits(known) == digits(version))
            });
            let hint = hint.map(|known| format!(" (did you mean `{known}`?)")).unwrap_or_default();
            problems.add(
                "query.engine_version",
                format!(
                    "`{version}` is not an engine version Athena offers{hint}: use one of `{}`",
                    ENGINE_VERSIONS.join("`, `")
                ),
            );
        }
    }
    let mut names = HashSet::new();
    for (index, named) in query.named_queries.iter().enumerate() {
        let path = format!("query.named_queries[{index}]");
        if named.name.is_empty() || named.name.chars().count() > MAX_QUERY_NAME {
            problems.add(format!("{path}.name"), format!("a named query's name has 1-{MAX_QUERY_NAME} characters"));
        }
        if !names.insert(named.name.as_str()) {
            problems.add(format!("{path}.name"), format!("duplicate name `{}`", named.name));
        }
        if named.query.trim().is_empty() || named.query.chars().count() > MAX_QUERY_TEXT {
            problems.add(format!("{path}.query"), format!("the query text has 1-{MAX_QUERY_TEXT} characters"));
        }
        let room = MAX_DESCRIPTION - NAMED_QUERY_MARKER.len() - 1;
        if named.description.as_ref().is_some_and(|text| text.is_empty() || text.chars().count() > room) {
            problems.add(
                format!("{path}.description"),
                format!("a description has 1-{room} characters (pipectl adds `{NAMED_QUERY_MARKER}`)"),
            );
        }
        match query_database(spec, named) {
            None => problems.add(
                format!("{path}.database"),
                "name the database the query runs in (there is no `catalog:` section to default to)".to_string(),
            ),
            Some(database) if database.is_empty() || database.chars().count() > MAX_DATABASE => {
                problems.add(format!("{path}.database"), format!("a database name has 1-{MAX_DATABASE} characters"))
            }
            Some(_) => {}
        }
    }
}

/// What else of the spec writes under `prefix` of `bucket` (or above it), if anything.
fn overlapping_writer(spec: &Spec, bucket: &str, prefix: &str) -> Option<String> {
    let overlaps = |other: &str| {
        let other = &other[..other.find("!{").unwrap_or(other.len())];
        other.starts_with(prefix) || prefix.starts_with(other)
    };
    for delivery in spec.deliveries.iter().filter(|delivery| delivery.to.bucket == bucket) {
        let prefixes = std::iter::once(delivery.to.prefix.as_str()).chain(delivery.to.error_prefix.as_deref());
        if let Some(other) = prefixes.into_iter().find(|other| overlaps(other)) {
            return Some(format!("delivery `{}`'s prefix `{other}`", delivery.name));
        }
    }
    for cluster in &spec.clusters {
        if let Some(logs) = cluster.logs.as_ref().filter(|logs| logs.bucket == bucket && overlaps(&logs.prefix)) {
            return Some(format!("cluster `{}`'s logs `{}`", cluster.name, logs.prefix));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_read_in_decimal_units_and_bare_numbers_are_refused() {
        assert_eq!(parse_bytes("10MB"), Ok(MIN_CUTOFF_BYTES));
        assert_eq!(parse_bytes("1.5 GB"), Ok(1_500_000_000));
        assert_eq!(parse_bytes("2TB"), Ok(2_000_000_000_000));
        assert!(parse_bytes("10").unwrap_err().contains("no unit"));
        assert!(parse_bytes("10GiB").unwrap_err().contains("`GiB` is not a unit"));
        assert!(parse_bytes("lots GB").is_err());
    }

    #[test]
    fn the_results_bucket_gets_the_expiry_rule_and_kms_encryption_follows_the_bucket() {
        let spec = crate::spec::load_bytes(
            "t.yaml",
            b"version: 1\npipeline: p\nregion: us-east-1\nbuckets:\n  - {name: lake, encryption: sse-kms, kms_key: k-1, lifecycle: [{prefix: raw/, expiration_days: 30}]}\n  - {name: other}\nquery: {bucket: lake, results_expire_days: 3}\n",
        )
        .expect("valid");
        let query = spec.query.as_ref().expect("query");
        let lake = with_derived_rules(&spec, &spec.buckets[0]);
        let rule = lake.lifecycle.last().expect("a derived rule");
        assert_eq!(lake.lifecycle.len(), 2, "the spec's rule is kept");
        assert_eq!(
            (rule.id.as_deref(), rule.prefix.as_str(), rule.expiration_days),
            (Some(RESULTS_EXPIRY_RULE), "athena-results/", Some(3))
        );
        assert!(with_derived_rules(&spec, &spec.buckets[1]).lifecycle.is_empty(), "only the results bucket");
        assert_eq!(results_encryption(&spec, query), ("SSE_KMS", Some("k-1".to_string())));
        assert_eq!(results_location(&spec, query).as_deref(), Some("s3://lake/athena-results/"));
    }

    #[test]
    fn only_documented_engine_versions_pass() {
        let check = |version: &str| {
            let text = format!("version: 1\npipeline: p\nregion: us-east-1\nbuckets: [{{name: lake}}]\nquery: {{engine_version: '{version}'}}\n");
            crate::spec::load_bytes("t.yaml", text.as_bytes())
                .map(|spec| engine_version(spec.query.as_ref().unwrap()).to_string())
        };
        assert_eq!(check("Athena engine version 3").unwrap(), "Athena engine version 3");
        assert_eq!(check("AUTO").unwrap(), "AUTO");
        let refused = format!("{}", check("3").unwrap_err());
        assert!(refused.contains("did you mean `Athena engine version 3`?"), "{refused}");
        let refused = format!("{}", check("auto").unwrap_err());
        assert!(refused.contains("did you mean `AUTO`?"), "{refused}");
        assert!(format!("{}", check("Athena engine version 2").unwrap_err())
            .contains("not an engine version Athena offers"));
        let spec = crate::spec::load_bytes(
            "t.yaml",
            b"version: 1\npipeline: p\nregion: us-east-1\nbuckets: [{name: lake}]\nquery: {}\n",
        )
        .unwrap();
        assert_eq!(engine_version(spec.query.as_ref().unwrap()), "AUTO");
    }

    #[test]
    fn the_marker_round_trips_through_the_description() {
        let mut named = NamedQuery { name: "n".into(), query: "SELECT 1".into(), database: None, description: None };
        assert_eq!(unmarked_description(&marked_description(&named)), Some(None));
        named.description = Some("Daily events".into());
        assert_eq!(unmarked_description(&marked_description(&named)), Some(Some("Daily events".into())));
        assert_eq!(unmarked_description("saved by a person"), None);
    }
}

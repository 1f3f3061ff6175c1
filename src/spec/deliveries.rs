//! The `deliveries:` section: Firehose delivery streams from a stream of the spec into a bucket
//! of the spec — the prefix and its `!{...}` namespaces, buffering, compression, encryption and
//! the role. (Parquet conversion's rules sit with the catalog table it converts with.)

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::buckets::check_bucket_reference;
use super::catalog::TableFormat;
use super::checks::{check_reference, check_tags, check_unique, Problems};
use super::iam::check_derived_role;
use super::kms::{check_key, KeyForm};
use super::pipeline::Spec;
use super::suggest::did_you_mean;
use crate::names::derived_delivery_role;

/// A Firehose delivery stream: records from a Kinesis stream of the spec into a bucket of the
/// spec, compressed and buffered.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    pub name: String,
    /// The stream of the spec to read from.
    pub from: String,
    pub to: DeliveryTarget,
    #[serde(default)]
    pub compression: Compression,
    #[serde(default)]
    pub buffer: Buffer,
    /// Server-side encryption of the objects Firehose writes.
    #[serde(default)]
    pub encryption: DeliveryEncryption,
    /// KMS key ARN for `encryption: kms`.
    #[serde(default)]
    pub kms_key: Option<String>,
    /// A role of `roles` to use instead of the one pipectl derives.
    #[serde(default)]
    pub role: Option<String>,
    /// What Firehose writes: `json` (the records as they arrive, the default) or `parquet`
    /// (record format conversion: JSON in, Parquet out, with the columns of the catalog table
    /// whose `delivery` names this one; needs `compression: none` and a buffer of 64 MiB or more).
    #[serde(default)]
    pub format: TableFormat,
    /// How the Parquet files compress their pages, with `format: parquet`: `snappy` (the
    /// default), `gzip` or `uncompressed`.
    #[serde(default)]
    pub parquet_compression: Option<ParquetCompression>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// The compression inside Parquet files Firehose writes (its `ParquetSerDe.Compression`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum ParquetCompression {
    #[default]
    #[serde(rename = "snappy")]
    Snappy,
    #[serde(rename = "gzip")]
    Gzip,
    #[serde(rename = "uncompressed")]
    Uncompressed,
}

impl ParquetCompression {
    /// The spelling used in the spec and in plans.
    pub fn as_str(self) -> &'static str {
        match self {
            ParquetCompression::Snappy => "snappy",
            ParquetCompression::Gzip => "gzip",
            ParquetCompression::Uncompressed => "uncompressed",
        }
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryTarget {
    /// The bucket of the spec to write to.
    pub bucket: String,
    /// Object key prefix; may use Firehose namespaces such as `!{timestamp:yyyy/MM/dd}`.
    #[serde(default)]
    pub prefix: String,
    /// Where records that fail to deliver go; required when `prefix` uses `!{...}`.
    #[serde(default)]
    pub error_prefix: Option<String>,
    /// Load into a Redshift table of a warehouse of the spec: the bucket and prefix are then
    /// where Firehose stages the objects it `COPY`s from.
    #[serde(default)]
    pub warehouse: Option<WarehouseTarget>,
}

/// A Redshift table a delivery loads into with `COPY`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WarehouseTarget {
    /// A warehouse of the spec.
    pub name: String,
    /// A table of the spec's catalog: the Redshift table of that name is created with its
    /// columns (if it does not exist), and `COPY` loads the records' fields of those names.
    pub table: String,
    /// How long Firehose retries a failed `COPY` before it gives the objects up to the error
    /// prefix: 0 to 7200 seconds (default 3600).
    #[serde(default = "default_retry_seconds")]
    pub retry_seconds: i64,
}

fn default_retry_seconds() -> i64 {
    3600
}

impl Delivery {
    /// Whether this delivery loads into the warehouse `name`.
    pub fn loads_into(&self, name: &str) -> bool {
        self.to.warehouse.as_ref().is_some_and(|warehouse| warehouse.name == name)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Compression {
    #[default]
    #[serde(rename = "gzip")]
    Gzip,
    #[serde(rename = "none")]
    None,
    #[serde(rename = "snappy")]
    Snappy,
    #[serde(rename = "zip")]
    Zip,
    #[serde(rename = "hadoop-snappy")]
    HadoopSnappy,
}

impl Compression {
    /// The spelling used in the spec and in plans.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::None => "none",
            Compression::Snappy => "snappy",
            Compression::Zip => "zip",
            Compression::HadoopSnappy => "hadoop-snappy",
        }
    }
}

/// Firehose buffering: it writes when either limit is reached.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Buffer {
    #[serde(default = "default_buffer_size")]
    pub size_mib: i64,
    #[serde(default = "default_buffer_interval")]
    pub interval_seconds: i64,
}

impl Default for Buffer {
    fn default() -> Self {
        Buffer { size_mib: default_buffer_size(), interval_seconds: default_buffer_interval() }
    }
}

fn default_buffer_size() -> i64 {
    5
}

fn default_buffer_interval() -> i64 {
    300
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum DeliveryEncryption {
    #[default]
    #[serde(rename = "none")]
    None,
    #[serde(rename = "kms")]
    Kms,
}

/// The part of a Firehose prefix before its first `!{...}` expression: every key written under
/// the prefix starts with it, whatever the expressions evaluate to.
pub fn static_part(prefix: &str) -> &str {
    prefix.find("!{").map_or(prefix, |start| &prefix[..start])
}

/// The deliveries: unique names, and each one's own rules.
pub(super) fn check(spec: &Spec, problems: &mut Problems) {
    check_unique("deliveries", spec.deliveries.iter().map(|delivery| delivery.name.as_str()), problems);
    for (index, delivery) in spec.deliveries.iter().enumerate() {
        check_delivery(&format!("deliveries[{index}]"), delivery, spec, problems);
    }
}

/// The expression Firehose replaces with why a record failed (`processing-failed`,
/// `format-conversion-failed`, …).
const ERROR_OUTPUT_TYPE: &str = "!{firehose:error-output-type}";

/// Checks the `!{...}` expressions of a Firehose prefix; returns whether it uses any.
fn check_namespaces(path: &str, prefix: &str, error_prefix: bool, problems: &mut Problems) -> bool {
    let mut rest = prefix;
    let mut uses = false;
    while let Some(start) = rest.find("!{") {
        uses = true;
        let Some(end) = rest[start..].find('}') else {
            problems.add(path, format!("`{prefix}` opens `!{{` without closing it"));
            return true;
        };
        let expression = &rest[start + 2..start + end];
        let valid = match expression.split_once(':') {
            Some(("timestamp", format)) => {
                !format.is_empty() && format.chars().all(|c| "yMdHhmsSaEuDwWkKz".contains(c) || "/-_=. ".contains(c))
            }
            Some(("firehose", "random-string")) => true,
            Some(("firehose", "error-output-type")) => error_prefix,
            _ => false,
        };
        if !valid {
            let allowed = if error_prefix {
                "!{timestamp:<format>}, !{firehose:random-string} or !{firehose:error-output-type}"
            } else {
                "!{timestamp:<format>} or !{firehose:random-string}"
            };
            problems.add(path, format!("`!{{{expression}}}` is not a namespace Firehose supports here; use {allowed}"));
        }
        rest = &rest[start + end + 1..];
    }
    uses
}

fn check_delivery(path: &str, delivery: &Delivery, spec: &Spec, problems: &mut Problems) {
    let name_ok = (1..=64).contains(&delivery.name.len())
        && delivery.name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !name_ok {
        problems.add(
            format!("{path}.name"),
            format!(
                "`{}` is not a valid delivery stream name: use 1-64 letters, digits, `_`, `.` and `-`",
                delivery.name
            ),
        );
    }
    let streams: Vec<&str> = spec.streams.iter().map(|stream| stream.name.as_str()).collect();
    check_reference(&format!("{path}.from"), "stream", &delivery.from, &streams, problems);
    check_bucket_reference(&format!("{path}.to.bucket"), &delivery.to.bucket, spec, problems);
    let uses_namespaces = check_namespaces(&format!("{path}.to.prefix"), &delivery.to.prefix, false, problems);
    match &delivery.to.error_prefix {
        Some(error_prefix) => {
            let expressions = check_namespaces(&format!("{path}.to.error_prefix"), error_prefix, true, problems);
            // "If you specify an expression for ErrorOutputPrefix, you must include at least one
            // instance of !{firehose:error-output-type}" (Amazon Data Firehose Developer Guide,
            // "Custom Prefixes for Amazon S3 Objects", semantic rules).
            if expressions && !error_prefix.contains(ERROR_OUTPUT_TYPE) {
                problems.add(
                    format!("{path}.to.error_prefix"),
                    format!("`{error_prefix}` uses an expression but not `{ERROR_OUTPUT_TYPE}`, which Firehose requires in an error prefix with expressions: add it (for example `errors/{ERROR_OUTPUT_TYPE}/`), or use no expression at all"),
                );
            }
            if error_prefix.is_empty() {
                problems.add(format!("{path}.to.error_prefix"), "must not be empty");
            }
        }
        None if uses_namespaces => {
            problems.add(
                format!("{path}.to"),
                "a prefix with `!{...}` expressions needs an `error_prefix` (Firehose requires one)",
            );
        }
        None => {}
    }
    for (field, value) in
        [("prefix", &delivery.to.prefix), ("error_prefix", delivery.to.error_prefix.as_ref().unwrap_or(&String::new()))]
    {
        if value.len() > 1024 {
            problems.add(format!("{path}.to.{field}"), "must be at most 1024 characters");
        }
    }
    if !(1..=128).contains(&delivery.buffer.size_mib) {
        problems.add(format!("{path}.buffer.size_mib"), "must be between 1 and 128 MiB");
    }
    if !(0..=900).contains(&delivery.buffer.interval_seconds) {
        problems.add(format!("{path}.buffer.interval_seconds"), "must be between 0 and 900 seconds");
    }
    match (delivery.encryption, &delivery.kms_key) {
        (DeliveryEncryption::Kms, None) => {
            problems.add(format!("{path}.kms_key"), "`encryption: kms` needs `kms_key`, the ARN of the key")
        }
        (DeliveryEncryption::Kms, Some(key)) => {
            check_key(&format!("{path}.kms_key"), key, KeyForm::Arn, &spec.region, problems);
        }
        (DeliveryEncryption::None, Some(_)) => {
            problems.add(format!("{path}.kms_key"), "`kms_key` needs `encryption: kms`")
        }
        _ => {}
    }
    match &delivery.role {
        Some(role) => {
            let roles: Vec<&str> = spec.roles.iter().map(|role| role.name.as_str()).collect();
            if !roles.contains(&role.as_str()) {
                let hint = did_you_mean(role, roles.iter().copied())
                    .map(|r| format!(" (did you mean `{r}`?)"))
                    .unwrap_or_default();
                problems.add(format!("{path}.role"), format!("no role named `{role}` in `roles`{hint}"));
            }
        }
        None => {
            check_derived_role(&format!("{path}.name"), spec, &derived_delivery_role(&delivery.name), problems);
        }
    }
    if let Some(warehouse) = &delivery.to.warehouse {
        check_warehouse_target(&format!("{path}.to.warehouse"), delivery, warehouse, spec, problems);
    }
    check_tags(&format!("{path}.tags"), &delivery.tags, problems);
}

/// A load into Redshift: a warehouse and a catalog table of the spec, JSON records, and what
/// Redshift's `COPY` can read: "The compression formats SNAPPY or ZIP cannot be specified in
/// RedshiftDestinationConfiguration.S3Configuration" (Firehose API Reference,
/// `CreateDeliveryStream`); `RetryOptions.DurationInSeconds` is 0 to 7200.
fn check_warehouse_target(
    path: &str,
    delivery: &Delivery,
    target: &WarehouseTarget,
    spec: &Spec,
    problems: &mut Problems,
) {
    let warehouses: Vec<&str> = spec.warehouses.iter().map(|warehouse| warehouse.name.as_str()).collect();
    check_reference(&format!("{path}.name"), "warehouse", &target.name, &warehouses, problems);
    let tables: Vec<&str> =
        spec.catalog.iter().flat_map(|catalog| &catalog.tables).map(|table| table.name.as_str()).collect();
    check_reference(&format!("{path}.table"), "catalog table", &target.table, &tables, problems);
    if !matches!(delivery.compression, Compression::Gzip | Compression::None) {
        problems.add(
            path,
            format!(
                "Redshift's COPY reads gzip or uncompressed objects, not `compression: {}`: use `gzip` or `none`",
                delivery.compression.as_str()
            ),
        );
    }
    if delivery.format != TableFormat::Json {
        problems.add(
            path,
            "a delivery into Redshift loads JSON records (`format: json`); Firehose converts to Parquet only for S3",
        );
    }
    let read_by_table = spec
        .catalog
        .iter()
        .flat_map(|catalog| &catalog.tables)
        .any(|table| table.delivery.as_deref() == Some(delivery.name.as_str()));
    if read_by_table {
        problems.add(path, "a catalog table reads a lake delivery's objects, not what a delivery stages for Redshift's COPY: point the table's `delivery` at a delivery into the lake");
    }
    if !(0..=7200).contains(&target.retry_seconds) {
        problems.add(format!("{path}.retry_seconds"), "must be between 0 and 7200 seconds");
    }
}

#[cfg(test)]
mod tests {
    use super::super::checks::testing::{paths, HEAD};

    #[test]
    fn delivery_references_prefixes_and_limits() {
        let yaml = format!("{HEAD}buckets: [{{name: demo-lake}}]\nstreams: [{{name: events}}]\ndeliveries:\n  - name: ok\n    from: events\n    to: {{bucket: demo-lake, prefix: 'raw/!{{timestamp:yyyy/MM/dd}}/', error_prefix: 'err/!{{firehose:error-output-type}}/'}}\n  - name: bad\n    from: evnts\n    to: {{bucket: lake, prefix: 'raw/!{{timestamp:yyyy/MM/dd}}/!{{firehose:error-output-type}}/'}}\n    buffer: {{size_mib: 0, interval_seconds: 901}}\n    encryption: kms\n    role: missing\n");
        assert_eq!(
            paths(&yaml),
            vec![
                "deliveries[1].from",
                "deliveries[1].to.bucket",
                "deliveries[1].to.prefix",
                "deliveries[1].to",
                "deliveries[1].buffer.size_mib",
                "deliveries[1].buffer.interval_seconds",
                "deliveries[1].kms_key",
                "deliveries[1].role",
            ]
        );
    }

    #[test]
    fn an_error_prefix_with_expressions_names_the_error_output_type() {
        let delivery = |error_prefix: &str| {
            format!("{HEAD}buckets: [{{name: demo-lake}}]\nstreams: [{{name: events}}]\ndeliveries:\n  - {{name: d, from: events, to: {{bucket: demo-lake, prefix: 'raw/!{{timestamp:yyyy}}/', error_prefix: '{error_prefix}'}}}}\n")
        };
        for missing in ["errors/!{timestamp:yyyy}/", "errors/!{firehose:random-string}/"] {
            assert_eq!(paths(&delivery(missing)), ["deliveries[0].to.error_prefix"], "{missing}");
        }
        for fine in ["errors/", "errors/!{firehose:error-output-type}/!{timestamp:yyyy}/"] {
            assert!(paths(&delivery(fine)).is_empty(), "{fine}");
        }
    }
}

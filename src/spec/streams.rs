//! The `streams:` section: Kinesis data streams, provisioned or on demand, and Kinesis's limits
//! on shards and retention.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::checks::{check_tags, check_unique, Problems};
use super::kms::{check_key, KeyForm};
use super::pipeline::Spec;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stream {
    pub name: String,
    #[serde(default)]
    pub mode: StreamMode,
    /// Shard count of a provisioned stream (default 1).
    #[serde(default)]
    pub shards: Option<i64>,
    #[serde(default = "default_retention_hours")]
    pub retention_hours: i64,
    /// Server-side encryption: `kms` (the default) encrypts every record with `kms_key`, or with
    /// the AWS managed key `alias/aws/kinesis` when `kms_key` is unset; `none` turns it off, and
    /// must be written to be had.
    #[serde(default)]
    pub encryption: StreamEncryption,
    /// KMS key for `encryption: kms` (default `alias/aws/kinesis`): a key id, `alias/<name>` or
    /// an ARN of the pipeline's region.
    #[serde(default)]
    pub kms_key: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn default_retention_hours() -> i64 {
    24
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[schemars(extend("enum" = ["provisioned", "on-demand", "on_demand"]))]
pub enum StreamMode {
    #[default]
    #[serde(rename = "provisioned")]
    Provisioned,
    #[serde(rename = "on-demand", alias = "on_demand")]
    OnDemand,
}

/// Streams are encrypted unless the spec says `none`: the AWS managed key costs nothing and
/// needs no key policy ("What is server-side encryption for Kinesis Data Streams?", Kinesis Data
/// Streams Developer Guide), and records at rest in plain text are what a security review flags
/// first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum StreamEncryption {
    #[serde(rename = "none")]
    None,
    #[default]
    #[serde(rename = "kms")]
    Kms,
}

/// Kinesis limits: retention from 24 hours to 365 days; shards per stream bounded by the default
/// account quota (500 in the largest regions; raise the quota and this limit together).
pub const MIN_RETENTION_HOURS: i64 = 24;
pub const MAX_RETENTION_HOURS: i64 = 8760;
pub const MAX_SHARDS: i64 = 500;

/// The streams: unique names, and each one's own rules.
pub(super) fn check(spec: &Spec, problems: &mut Problems) {
    check_unique("streams", spec.streams.iter().map(|stream| stream.name.as_str()), problems);
    for (index, stream) in spec.streams.iter().enumerate() {
        check_stream(&format!("streams[{index}]"), stream, &spec.region, problems);
    }
}

fn check_stream(path: &str, stream: &Stream, region: &str, problems: &mut Problems) {
    let name_ok = (1..=128).contains(&stream.name.len())
        && stream.name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !name_ok {
        problems.add(
            format!("{path}.name"),
            format!("`{}` is not a valid stream name: use 1-128 letters, digits, `_`, `.` and `-`", stream.name),
        );
    }
    match (stream.mode, stream.shards) {
        (StreamMode::OnDemand, Some(_)) => {
            problems.add(
                format!("{path}.shards"),
                "an on-demand stream scales by itself; remove `shards` or use `mode: provisioned`",
            );
        }
        (StreamMode::Provisioned, Some(shards)) if !(1..=MAX_SHARDS).contains(&shards) => {
            problems.add(
                format!("{path}.shards"),
                format!("must be between 1 and {MAX_SHARDS} (the default account quota)"),
            );
        }
        _ => {}
    }
    if !(MIN_RETENTION_HOURS..=MAX_RETENTION_HOURS).contains(&stream.retention_hours) {
        problems.add(
            format!("{path}.retention_hours"),
            format!("must be between {MIN_RETENTION_HOURS} and {MAX_RETENTION_HOURS} hours"),
        );
    }
    match &stream.kms_key {
        Some(_) if stream.encryption != StreamEncryption::Kms => {
            problems.add(format!("{path}.kms_key"), "`kms_key` needs `encryption: kms`");
        }
        Some(key) => check_key(&format!("{path}.kms_key"), key, KeyForm::Any, region, problems),
        None => {}
    }
    check_tags(&format!("{path}.tags"), &stream.tags, problems);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_encrypted_unless_the_spec_opts_out() {
        let spec: Spec = serde_saphyr::from_str(
            "version: 1\npipeline: p\nregion: eu-west-1\nstreams: [{name: a}, {name: b, encryption: none}]\n",
        )
        .expect("spec");
        assert_eq!(spec.streams[0].encryption, StreamEncryption::Kms);
        assert_eq!(spec.streams[1].encryption, StreamEncryption::None);
    }
}

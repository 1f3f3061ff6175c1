//! The root of a spec: its version, the pipeline's name, region and tags, and the sections below
//! them (each in its own file); the checks of those top-level fields.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::alarms::Alarms;
use super::buckets::Bucket;
use super::catalog::Catalog;
use super::checks::{check_tags, Problems};
use super::clusters::Cluster;
use super::deliveries::Delivery;
use super::iam::{Iam, Role};
use super::ingest::Ingest;
use super::network::Network;
use super::query::Query;
use super::streams::Stream;
use super::warehouses::Warehouse;

/// A whole pipeline spec: one file, one pipeline.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Spec format version; only `1` exists.
    pub version: i64,
    /// The pipeline name: the value of the `pipectl:pipeline` tag on everything pipectl creates.
    pub pipeline: String,
    /// The AWS region the pipeline lives in (the default for `--region`).
    pub region: String,
    /// Tags applied to every resource, in addition to pipectl's own.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub network: Option<Network>,
    #[serde(default)]
    pub buckets: Vec<Bucket>,
    #[serde(default)]
    pub streams: Vec<Stream>,
    #[serde(default)]
    pub deliveries: Vec<Delivery>,
    #[serde(default)]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub clusters: Vec<Cluster>,
    /// What applies to every IAM role pipectl creates (derived and declared).
    #[serde(default)]
    pub iam: Option<Iam>,
    /// The Glue Data Catalog of the lake: a database and tables Athena and Spark can query.
    #[serde(default)]
    pub catalog: Option<Catalog>,
    /// An Athena workgroup for querying the lake: where results go, how they are encrypted and
    /// expire, and how much one query may scan.
    #[serde(default)]
    pub query: Option<Query>,
    /// CloudWatch alarms on every stream, delivery and cluster, notifying a pipeline-owned SNS
    /// topic (see `spec::alarms`).
    #[serde(default)]
    pub alarms: Option<Alarms>,
    /// An HTTPS front door for web and app clients: API Gateway routes that put what they POST
    /// into the spec's streams (see `spec::ingest`).
    #[serde(default)]
    pub ingest: Option<Ingest>,
    /// Amazon Redshift clusters that deliveries load into (see `spec::warehouses`).
    #[serde(default)]
    pub warehouses: Vec<Warehouse>,
}

/// serde's default for a flag that is on unless the spec turns it off.
pub(super) fn default_true() -> bool {
    true
}

/// The problems of the top-level fields: the version, the pipeline name, the region, the tags.
pub(super) fn check(spec: &Spec, problems: &mut Problems) {
    if spec.version != 1 {
        problems.add("version", format!("unsupported spec version {}; this pipectl reads version 1", spec.version));
    }
    check_pipeline_name(&spec.pipeline, problems);
    check_region(&spec.region, problems);
    check_tags("tags", &spec.tags, problems);
}

fn check_pipeline_name(name: &str, problems: &mut Problems) {
    let valid = (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        problems.add(
            "pipeline",
            format!("`{name}` is not a valid pipeline name: use 1-40 lowercase letters, digits and hyphens, starting with a letter"),
        );
    }
}

fn check_region(region: &str, problems: &mut Problems) {
    let parts: Vec<&str> = region.split('-').collect();
    let valid = parts.len() >= 3
        && parts[..parts.len() - 1].iter().all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    if !valid {
        problems.add("region", format!("`{region}` is not an AWS region name such as `eu-west-1`"));
    }
}

//! The `alarms:` section and the CloudWatch alarms it derives. With the section present, every
//! stream, delivery and cluster of the spec gets the alarms a person on call needs, each
//! threshold overridable and each resource (or the whole section) able to opt out; the pipeline's
//! failed schedule invocations get one more. Derivation and validation share this module, so
//! what validation accepts is exactly what the `alarm` kind builds.
//!
//! Units are where alarms go wrong: Kinesis reports `GetRecords.IteratorAgeMilliseconds` in
//! milliseconds and Firehose `DeliveryToS3.DataFreshness` in seconds ("Monitoring Amazon Kinesis
//! Data Streams with Amazon CloudWatch"; "Monitoring Amazon Data Firehose with CloudWatch
//! metrics"), so the spec takes durations (`5m`) and the conversion happens here, once.
//!
//! EMR's `IsIdle` is watched only inside the cluster's `schedules:` windows: idle there means
//! the night batch is not running, while idle between windows is the normal state, so a plain
//! `IsIdle` alarm would page every day. Metric math's clock functions restrict the alarm to the
//! windows (see `calendar::spans`).
//!
//! The failed resizes of the night batch are watched through the schedules' dead-letter
//! queue: EventBridge Scheduler's own metrics (`TargetErrorCount`, `InvocationDroppedCount`,
//! `InvocationsSentToDeadLetterCount`, namespace `AWS/Scheduler`) carry only a `ScheduleGroup`
//! dimension, and the pipeline's schedules live in the account's shared `default` group, so an
//! alarm there would page for every schedule of the account. Each message in the pipeline's own
//! queue is one resize that failed after its retries.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Datelike;
use schemars::JsonSchema;
use serde::Deserialize;

use super::checks::{check_tags, Problems};
use super::clusters::Cluster;
use super::deliveries::Delivery;
use super::jobs::Job;
use super::pipeline::Spec;
use super::streams::Stream;
use super::warehouses::Warehouse;
use crate::calendar::{self, parse_duration, Span};
use crate::names::schedules_dlq_name;

/// Alarms on the pipeline's resources, notifying a pipeline-owned SNS topic.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alarms {
    /// `false` removes every alarm and the topic (default `true`).
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Who the topic notifies. Email and HTTPS endpoints must confirm the subscription AWS
    /// sends them before they receive anything.
    #[serde(default)]
    pub notify: Vec<Subscription>,
    /// Per stream: thresholds, or `enabled: false`.
    #[serde(default)]
    pub streams: BTreeMap<String, StreamAlarms>,
    /// Per delivery: thresholds, or `enabled: false`.
    #[serde(default)]
    pub deliveries: BTreeMap<String, DeliveryAlarms>,
    /// Per cluster: thresholds, or `enabled: false`.
    #[serde(default)]
    pub clusters: BTreeMap<String, ClusterAlarms>,
    /// The alarm on failed schedule invocations (the schedules' dead-letter queue).
    #[serde(default)]
    pub schedules: Toggle,
    /// The ingest API's alarms: thresholds, or `enabled: false`.
    #[serde(default)]
    pub ingest: Option<IngestAlarms>,
    /// Tags on the topic and the alarms.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn enabled() -> bool {
    true
}

/// One subscription of the alarm topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// `email`, `https` or `sqs`.
    pub protocol: String,
    /// The address, the `https://` URL, or the SQS queue ARN (whose queue policy must let
    /// `sns.amazonaws.com` send to it).
    pub endpoint: String,
}

/// Only an on/off switch.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Toggle {
    #[serde(default = "enabled")]
    pub enabled: bool,
}

impl Default for Toggle {
    fn default() -> Self {
        Toggle { enabled: true }
    }
}

/// A stream's alarms.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamAlarms {
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// How far the readers may fall behind (a duration; default `5m`): the alarm compares
    /// `GetRecords.IteratorAgeMilliseconds` with it in milliseconds.
    #[serde(default)]
    pub iterator_age: Option<String>,
    /// Records refused for throughput in 5 minutes before it alarms (default 0: any, three
    /// periods in a row).
    #[serde(default)]
    pub write_throttled: Option<i64>,
}

/// A delivery's alarms.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryAlarms {
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// The age of the oldest record not yet in S3 that alarms (a duration; default `15m`, AWS's
    /// recommendation; it must exceed the delivery's buffer interval).
    #[serde(default)]
    pub data_freshness: Option<String>,
    /// The share of successful S3 puts below which it alarms, in percent (default 100: any
    /// failed put).
    #[serde(default)]
    pub delivery_success_percent: Option<i64>,
}

/// A cluster's alarms.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterAlarms {
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// YARN applications failed in 5 minutes before it alarms (default 0: any).
    #[serde(default)]
    pub apps_failed: Option<i64>,
    /// HDFS use in percent that alarms (default 80).
    #[serde(default)]
    pub hdfs_utilization_percent: Option<i64>,
    /// How long the cluster may be idle inside one of its `schedules:` windows before it
    /// alarms (a duration in whole 5 minutes; default `30m`).
    #[serde(default)]
    pub idle_in_window: Option<String>,
}

/// The ingest API's alarms (API Gateway publishes `5XXError`, `4XXError` and `Latency` per API
/// name; a REST API has no metric of its own for throttled requests, which are among its 4XX).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestAlarms {
    #[serde(default = "enabled")]
    pub enabled: bool,
    /// Requests answered 5XX in 5 minutes before it alarms (default 0: any; the stream refused
    /// or failed them, and the client's events are lost unless it retries).
    #[serde(default)]
    pub server_errors: Option<i64>,
    /// Requests answered 4XX in 5 minutes before it alarms (default 100): throttled (429),
    /// refused by the schema (400) and the like.
    #[serde(default)]
    pub client_errors: Option<i64>,
    /// The average latency that alarms, three periods in a row (a duration; default `1s`).
    #[serde(default)]
    pub latency: Option<String>,
}

/// What an alarm's metric is about: a resource of the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Watched {
    /// A stream of the spec: the dimension value is its name.
    Stream(String),
    /// A delivery of the spec: the dimension value is its name.
    Delivery(String),
    /// A cluster of the spec: the dimension value is its AWS id, known once it exists.
    Cluster(String),
    /// The schedules' dead-letter queue: the dimension value is its SQS name.
    Queue(String),
    /// A cluster's job: the dimension value is its state machine's ARN (known before it exists).
    Job { cluster: String, job: String },
    /// The ingest API: the dimension value is its API Gateway name.
    Api(String),
    /// A warehouse of the spec: the dimension value is its cluster identifier, its name.
    Warehouse(String),
}

/// One derived alarm, before any AWS id is known.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmSpec {
    /// The spec-level name, `<resource>-<what>` (`clickstream-events-iterator-age`).
    pub name: String,
    pub namespace: &'static str,
    pub metric: &'static str,
    pub dimension: &'static str,
    pub watched: Watched,
    pub statistic: &'static str,
    /// `GreaterThanThreshold` or `LessThanThreshold`.
    pub comparison: &'static str,
    /// In the metric's own unit.
    pub threshold: f64,
    pub period_seconds: i32,
    pub evaluation_periods: i32,
    pub description: String,
    /// The parts of the week the alarm watches (metric math on the metric); empty: always.
    pub during: Vec<Span>,
}

/// Every alarm period: EMR publishes its metrics every five minutes ("Monitor metrics with
/// CloudWatch", Amazon EMR Management Guide), Kinesis and Firehose every minute.
pub const PERIOD_SECONDS: i32 = 300;
const DEFAULT_ITERATOR_AGE: &str = "5m";
const DEFAULT_DATA_FRESHNESS: &str = "15m";
const DEFAULT_HDFS_PERCENT: i64 = 80;
const DEFAULT_IDLE_IN_WINDOW: &str = "30m";
const DEFAULT_CLIENT_ERRORS: i64 = 100;
const DEFAULT_LATENCY: &str = "1s";
const PROTOCOLS: [&str; 3] = ["email", "https", "sqs"];

/// The `alarms:` section, when it is there and enabled: what every watched kind asks.
pub fn enabled_alarms(spec: &Spec) -> Option<&Alarms> {
    spec.alarms.as_ref().filter(|alarms| alarms.enabled)
}

/// The rules of `alarms.ingest`: an ingest API to watch, counts of 0 or more, a latency.
fn check_ingest(ingest: &IngestAlarms, spec: &Spec, problems: &mut Problems) {
    if spec.ingest.is_none() {
        problems.add("alarms.ingest", "the spec has no `ingest:` section to watch");
    }
    for (field, count) in [("server_errors", ingest.server_errors), ("client_errors", ingest.client_errors)] {
        if count.is_some_and(|n| n < 0) {
            problems.add(format!("alarms.ingest.{field}"), "must be 0 or more requests");
        }
    }
    if let Some(Err(why)) = ingest.latency.as_deref().map(parse_duration) {
        problems.add("alarms.ingest.latency", why);
    }
}

/// One alarm on a metric with a threshold over single periods.
struct Metric {
    namespace: &'static str,
    metric: &'static str,
    dimension: &'static str,
    statistic: &'static str,
    comparison: &'static str,
}

impl Metric {
    fn alarm(&self, name: String, watched: &Watched, threshold: f64, periods: i32, description: String) -> AlarmSpec {
        AlarmSpec {
            name,
            namespace: self.namespace,
            metric: self.metric,
            dimension: self.dimension,
            watched: watched.clone(),
            statistic: self.statistic,
            comparison: self.comparison,
            threshold,
            period_seconds: PERIOD_SECONDS,
            evaluation_periods: periods,
            description,
            during: Vec::new(),
        }
    }
}

/// A stream's alarms: its readers falling behind, and writes refused for throughput.
pub fn stream_alarms(alarms: &Alarms, stream: &Stream) -> Vec<AlarmSpec> {
    let settings = alarms.streams.get(&stream.name);
    if settings.is_some_and(|s| !s.enabled) {
        return Vec::new();
    }
    let age = settings.and_then(|s| s.iterator_age.as_deref()).unwrap_or(DEFAULT_ITERATOR_AGE);
    let age_ms = parse_duration(age).map_or(0.0, |d| d.as_millis() as f64);
    let throttled = settings.and_then(|s| s.write_throttled).unwrap_or(0);
    let watched = Watched::Stream(stream.name.clone());
    let kinesis = |metric, statistic| Metric {
        namespace: "AWS/Kinesis",
        metric,
        dimension: "StreamName",
        statistic,
        comparison: "GreaterThanThreshold",
    };
    vec![
        kinesis("GetRecords.IteratorAgeMilliseconds", "Maximum").alarm(
            format!("{}-iterator-age", stream.name),
            &watched,
            age_ms,
            1,
            format!("The readers of stream {} are more than {age} behind", stream.name),
        ),
        kinesis("WriteProvisionedThroughputExceeded", "Sum").alarm(
            format!("{}-write-throttled", stream.name),
            &watched,
            throttled as f64,
            3,
            format!("Stream {} refuses writes for throughput: add shards", stream.name),
        ),
    ]
}

/// The ingest API's alarms: server errors, client errors (throttling among them), latency.
pub fn ingest_alarms(alarms: &Alarms, api_name: &str) -> Vec<AlarmSpec> {
    let settings = alarms.ingest.as_ref();
    if settings.is_some_and(|s| !s.enabled) {
        return Vec::new();
    }
    let server = settings.and_then(|s| s.server_errors).unwrap_or(0);
    let client = settings.and_then(|s| s.client_errors).unwrap_or(DEFAULT_CLIENT_ERRORS);
    let latency = settings.and_then(|s| s.latency.as_deref()).unwrap_or(DEFAULT_LATENCY);
    let latency_ms = parse_duration(latency).map_or(0.0, |d| d.as_millis() as f64);
    let watched = Watched::Api(api_name.to_string());
    let api = |metric, statistic| Metric {
        namespace: "AWS/ApiGateway",
        metric,
        dimension: "ApiName",
        statistic,
        comparison: "GreaterThanThreshold",
    };
    vec![
        api("5XXError", "Sum").alarm(
            format!("{api_name}-server-errors"),
            &watched,
            server as f64,
            1,
            format!("The ingest API {api_name} fails requests (5XX): their events are not in the stream"),
        ),
        api("4XXError", "Sum").alarm(
            format!("{api_name}-client-errors"),
            &watched,
            client as f64,
            1,
            format!("The ingest API {api_name} refuses many requests (4XX): throttled (429) or invalid"),
        ),
        api("Latency", "Average").alarm(
            format!("{api_name}-latency"),
            &watched,
            latency_ms,
            3,
            format!("The ingest API {api_name} answers slower than {latency} on average"),
        ),
    ]
}

/// A delivery's alarms: records waiting too long for S3, and failed puts.
pub fn delivery_alarms(alarms: &Alarms, delivery: &Delivery) -> Vec<AlarmSpec> {
    let settings = alarms.deliveries.get(&delivery.name);
    if settings.is_some_and(|s| !s.enabled) {
        return Vec::new();
    }
    let freshness = settings.and_then(|s| s.data_freshness.as_deref()).unwrap_or(DEFAULT_DATA_FRESHNESS);
    let freshness_s = parse_duration(freshness).map_or(0.0, |d| d.as_secs() as f64);
    let success = settings.and_then(|s| s.delivery_success_percent).unwrap_or(100);
    let watched = Watched::Delivery(delivery.name.clone());
    let firehose = |metric, statistic, comparison| Metric {
        namespace: "AWS/Firehose",
        metric,
        dimension: "DeliveryStreamName",
        statistic,
        comparison,
    };
    vec![
        firehose("DeliveryToS3.DataFreshness", "Maximum", "GreaterThanThreshold").alarm(
            format!("{}-data-freshness", delivery.name),
            &watched,
            freshness_s,
            1,
            format!("Delivery {} holds records older than {freshness}", delivery.name),
        ),
        firehose("DeliveryToS3.Success", "Minimum", "LessThanThreshold").alarm(
            format!("{}-delivery-success", delivery.name),
            &watched,
            success as f64 / 100.0,
            1,
            format!("Delivery {} fails to put objects in S3", delivery.name),
        ),
    ]
    .into_iter()
    .chain(delivery.to.warehouse.as_ref().map(|warehouse| {
        // "The sum of successful Amazon Redshift COPY commands over the sum of all Amazon
        // Redshift COPY commands" (Firehose Developer Guide, CloudWatch metrics).
        firehose("DeliveryToRedshift.Success", "Minimum", "LessThanThreshold").alarm(
            format!("{}-load-success", delivery.name),
            &watched,
            1.0,
            1,
            format!("Delivery {} fails to COPY into warehouse {}", delivery.name, warehouse.name),
        )
    }))
    .collect()
}

/// A warehouse's alarms: the cluster unhealthy (Redshift's `HealthStatus`, 1 when healthy) and
/// its disks filling up (`PercentageDiskSpaceUsed` over 80).
pub fn warehouse_alarms(warehouse: &Warehouse) -> Vec<AlarmSpec> {
    let watched = Watched::Warehouse(warehouse.name.clone());
    let redshift = |metric, statistic, comparison| Metric {
        namespace: "AWS/Redshift",
        metric,
        dimension: "ClusterIdentifier",
        statistic,
        comparison,
    };
    vec![
        redshift("HealthStatus", "Minimum", "LessThanThreshold").alarm(
            format!("{}-health", warehouse.name),
            &watched,
            1.0,
            1,
            format!("Warehouse {} is unhealthy (Redshift cannot run queries on it)", warehouse.name),
        ),
        redshift("PercentageDiskSpaceUsed", "Maximum", "GreaterThanThreshold").alarm(
            format!("{}-disk-used", warehouse.name),
            &watched,
            DEFAULT_HDFS_PERCENT as f64,
            1,
            format!("Warehouse {} has used more than {DEFAULT_HDFS_PERCENT}% of its disk", warehouse.name),
        ),
    ]
}

/// Whether the cluster's alarms (and its jobs') are on.
fn cluster_watched(alarms: &Alarms, cluster: &Cluster) -> bool {
    alarms.clusters.get(&cluster.name).is_none_or(|s| s.enabled)
}

/// A cluster's alarms: failed YARN applications, HDFS filling up, and — with `schedules:` — the
/// cluster idle inside a batch window (its windows as the clocks of `year` place them).
pub fn cluster_alarms(alarms: &Alarms, cluster: &Cluster, year: i32) -> Vec<AlarmSpec> {
    if !cluster_watched(alarms, cluster) {
        return Vec::new();
    }
    let settings = alarms.clusters.get(&cluster.name);
    let watched = Watched::Cluster(cluster.name.clone());
    let emr = |metric, statistic| Metric {
        namespace: "AWS/ElasticMapReduce",
        metric,
        dimension: "JobFlowId",
        statistic,
        comparison: "GreaterThanThreshold",
    };
    let mut out = vec![
        emr("AppsFailed", "Sum").alarm(
            format!("{}-apps-failed", cluster.name),
            &watched,
            settings.and_then(|s| s.apps_failed).unwrap_or(0) as f64,
            1,
            format!("YARN applications failed on cluster {}", cluster.name),
        ),
        emr("HDFSUtilization", "Average").alarm(
            format!("{}-hdfs-utilization", cluster.name),
            &watched,
            settings.and_then(|s| s.hdfs_utilization_percent).unwrap_or(DEFAULT_HDFS_PERCENT) as f64,
            2,
            format!("HDFS of cluster {} is filling up: add core nodes or clean up", cluster.name),
        ),
    ];
    let during = cluster.schedule_spans(year);
    if !during.is_empty() {
        let idle = settings.and_then(|s| s.idle_in_window.as_deref()).unwrap_or(DEFAULT_IDLE_IN_WINDOW);
        let periods = parse_duration(idle).map_or(1, |d| (d.as_secs() / PERIOD_SECONDS as u64).max(1) as i32);
        let description = format!(
            "Cluster {} has been idle for {idle} inside a batch window: the batch is not running",
            cluster.name
        );
        let idle_alarm = emr("IsIdle", "Minimum").alarm(
            format!("{}-idle-in-window", cluster.name),
            &watched,
            0.0,
            periods,
            description,
        );
        out.push(AlarmSpec { during, ..idle_alarm });
    }
    out
}

/// A job's alarms: its executions that fail or time out. The state machine notifies on failure
/// itself (with `notify`), but an execution that times out as a whole, or cannot publish, does
/// not. Step Functions publishes `ExecutionsFailed` and `ExecutionsTimedOut` per state machine
/// ("Monitoring Step Functions metrics using Amazon CloudWatch", dimension StateMachineArn).
pub fn job_alarms(alarms: &Alarms, cluster: &Cluster, job: &Job) -> Vec<AlarmSpec> {
    if !cluster_watched(alarms, cluster) {
        return Vec::new();
    }
    let watched = Watched::Job { cluster: cluster.name.clone(), job: job.name.clone() };
    let states = |metric| Metric {
        namespace: "AWS/States",
        metric,
        dimension: "StateMachineArn",
        statistic: "Sum",
        comparison: "GreaterThanThreshold",
    };
    [
        ("failed", "ExecutionsFailed", "failed"),
        ("timed-out", "ExecutionsTimedOut", "ran past its timeout and was ended; the guard schedule returns its nodes"),
    ]
    .into_iter()
    .map(|(what, metric, words)| {
        states(metric).alarm(
            format!("{}-{}-{what}", cluster.name, job.name),
            &watched,
            0.0,
            1,
            format!("A run of job {}/{} {words}: `pipectl runs` lists it", cluster.name, job.name),
        )
    })
    .collect()
}

/// The alarm on the schedules' dead-letter queue: a resize or job start that failed after its
/// retries (jobs' `start` and `guard` schedules go to the same queue as windows').
pub fn dead_letter_alarm(alarms: &Alarms, pipeline: &str) -> Option<AlarmSpec> {
    let queue = schedules_dlq_name(pipeline);
    let sqs = Metric {
        namespace: "AWS/SQS",
        metric: "ApproximateNumberOfMessagesVisible",
        dimension: "QueueName",
        statistic: "Maximum",
        comparison: "GreaterThanThreshold",
    };
    alarms.schedules.enabled.then(|| {
        let description = format!("A scheduled resize failed after its retries: read the queue {queue}");
        sqs.alarm("schedules-failed-invocations".to_string(), &Watched::Queue(queue.clone()), 0.0, 1, description)
    })
}

/// Every alarm `spec` asks for (none without an enabled `alarms:` section), with the windows of
/// `year`: what the kinds derive, gathered for validation.
pub fn derived_alarms(spec: &Spec, year: i32) -> Vec<AlarmSpec> {
    let Some(alarms) = enabled_alarms(spec) else { return Vec::new() };
    let mut out = Vec::new();
    out.extend(spec.streams.iter().flat_map(|stream| stream_alarms(alarms, stream)));
    out.extend(spec.deliveries.iter().flat_map(|delivery| delivery_alarms(alarms, delivery)));
    out.extend(spec.clusters.iter().flat_map(|cluster| cluster_alarms(alarms, cluster, year)));
    out.extend(spec.warehouses.iter().flat_map(warehouse_alarms));
    for cluster in &spec.clusters {
        out.extend(cluster.jobs.iter().flat_map(|job| job_alarms(alarms, cluster, job)));
    }
    if spec.clusters.iter().any(Cluster::has_schedules) {
        out.extend(dead_letter_alarm(alarms, &spec.pipeline));
    }
    if spec.ingest.is_some() {
        out.extend(ingest_alarms(alarms, &crate::names::ingest_api_name(&spec.pipeline)));
    }
    out
}

/// The unit of a derived alarm's metric, in words, as AWS documents it.
pub fn metric_unit(metric: &str) -> &'static str {
    match metric {
        "GetRecords.IteratorAgeMilliseconds" => "milliseconds",
        "WriteProvisionedThroughputExceeded" => "records",
        "DeliveryToS3.DataFreshness" => "seconds",
        "DeliveryToS3.Success" => "(share of S3 puts that succeeded)",
        "AppsFailed" => "applications",
        "HDFSUtilization" | "PercentageDiskSpaceUsed" => "percent",
        "DeliveryToRedshift.Success" => "(share of COPY commands that succeeded)",
        "HealthStatus" => "(1 when healthy)",
        "IsIdle" => "(1 when idle)",
        "ApproximateNumberOfMessagesVisible" => "messages",
        "ExecutionsFailed" | "ExecutionsTimedOut" => "executions",
        "5XXError" | "4XXError" => "requests",
        "Latency" => "milliseconds",
        _ => "",
    }
}

/// The alarm's condition in words, as plans show it: `Maximum of GetRecords.IteratorAgeMilliseconds
/// > 300000 milliseconds (5m) for 1 period of 5 minutes`.
pub fn condition_words(
    statistic: &str,
    metric: &str,
    comparison: &str,
    threshold: f64,
    period_seconds: i32,
    evaluation_periods: i32,
) -> String {
    let unit = metric_unit(metric);
    let sign = match comparison {
        "GreaterThanThreshold" => ">",
        "GreaterThanOrEqualToThreshold" => ">=",
        "LessThanThreshold" => "<",
        "LessThanOrEqualToThreshold" => "<=",
        other => other,
    };
    let readable = match unit {
        "milliseconds" => format!(" ({})", words_of_seconds(threshold / 1000.0)),
        "seconds" => format!(" ({})", words_of_seconds(threshold)),
        _ => String::new(),
    };
    let periods =
        if evaluation_periods == 1 { "1 period".to_string() } else { format!("{evaluation_periods} periods in a row") };
    format!(
        "{statistic} of {metric} {sign} {threshold} {unit}{readable} for {periods} of {}",
        words_of_seconds(f64::from(period_seconds))
    )
}

/// A condition restricted to parts of the week, as plans show it.
pub fn during_words(condition: String, during: &[Span]) -> String {
    if during.is_empty() {
        return condition;
    }
    format!("{condition}, only inside the batch windows ({})", calendar::span_words(during))
}

fn words_of_seconds(seconds: f64) -> String {
    let whole = seconds.round() as i64;
    if whole % 3600 == 0 && whole > 0 {
        format!("{} hour{}", whole / 3600, if whole == 3600 { "" } else { "s" })
    } else if whole % 60 == 0 && whole > 0 {
        format!("{} minute{}", whole / 60, if whole == 60 { "" } else { "s" })
    } else {
        format!("{whole} second{}", if whole == 1 { "" } else { "s" })
    }
}

/// The problems of an `alarms:` section, its tags first.
pub(super) fn check(alarms: &Alarms, spec: &Spec, problems: &mut Problems) {
    check_tags("alarms.tags", &alarms.tags, problems);
    let mut seen = BTreeSet::new();
    for (index, subscription) in alarms.notify.iter().enumerate() {
        let path = format!("alarms.notify[{index}]");
        let endpoint = subscription.endpoint.as_str();
        match subscription.protocol.as_str() {
            "email" if !endpoint.contains('@') || endpoint.contains(char::is_whitespace) => {
                problems.add(format!("{path}.endpoint"), format!("`{endpoint}` is not an email address"))
            }
            "https" if !endpoint.starts_with("https://") || endpoint.len() <= "https://".len() => problems.add(
                format!("{path}.endpoint"),
                format!("`{endpoint}` is not an https:// URL (SNS delivers alarms only over HTTPS here)"),
            ),
            "sqs" if !is_sqs_arn(endpoint) => problems.add(
                format!("{path}.endpoint"),
                format!("`{endpoint}` is not an SQS queue ARN (arn:<partition>:sqs:<region>:<account>:<queue>)"),
            ),
            "email" | "https" | "sqs" => {}
            other => problems.add(
                format!("{path}.protocol"),
                format!("unknown protocol `{other}`; use one of {}", PROTOCOLS.join(", ")),
            ),
        }
        if !seen.insert(subscription) {
            problems.add(path, format!("{} {endpoint} is listed twice", subscription.protocol));
        }
    }
    if let Some(ingest) = &alarms.ingest {
        check_ingest(ingest, spec, problems);
    }
    for (name, settings) in &alarms.streams {
        let path = format!("alarms.streams.{name}");
        let Some(stream) = spec.streams.iter().find(|stream| &stream.name == name) else {
            problems.add(path, format!("no stream `{name}` in the spec"));
            continue;
        };
        if let Some(age) = &settings.iterator_age {
            match parse_duration(age) {
                Err(why) => problems.add(format!("{path}.iterator_age"), why),
                Ok(age) if age.as_secs() < 60 => problems.add(
                    format!("{path}.iterator_age"),
                    format!("`{}` is under a minute: readers poll, so every quiet second would alarm", settings.iterator_age.as_deref().unwrap_or_default()),
                ),
                Ok(age) if age.as_secs() >= stream.retention_hours.max(0) as u64 * 3600 => problems.add(
                    format!("{path}.iterator_age"),
                    format!(
                        "an iterator age of {} alarms only after records expire (the stream keeps them {}h): choose less than the retention",
                        settings.iterator_age.as_deref().unwrap_or_default(),
                        stream.retention_hours
                    ),
                ),
                Ok(_) => {}
            }
        }
        if settings.write_throttled.is_some_and(|n| n < 0) {
            problems.add(format!("{path}.write_throttled"), "must be 0 or more records".to_string());
        }
    }
    for (name, settings) in &alarms.deliveries {
        let path = format!("alarms.deliveries.{name}");
        let Some(delivery) = spec.deliveries.iter().find(|delivery| &delivery.name == name) else {
            problems.add(path, format!("no delivery `{name}` in the spec"));
            continue;
        };
        if let Some(freshness) = &settings.data_freshness {
            match parse_duration(freshness) {
                Err(why) => problems.add(format!("{path}.data_freshness"), why),
                Ok(age) if age.as_secs() as i64 <= delivery.buffer.interval_seconds => problems.add(
                    format!("{path}.data_freshness"),
                    format!(
                        "`{freshness}` is not more than the delivery's buffer interval ({}s): records wait that long by design, so it would alarm at every buffer",
                        delivery.buffer.interval_seconds
                    ),
                ),
                Ok(_) => {}
            }
        }
        if settings.delivery_success_percent.is_some_and(|p| !(1..=100).contains(&p)) {
            problems.add(format!("{path}.delivery_success_percent"), "must be a percentage from 1 to 100".to_string());
        }
    }
    for (name, settings) in &alarms.clusters {
        let path = format!("alarms.clusters.{name}");
        let Some(cluster) = spec.clusters.iter().find(|cluster| &cluster.name == name) else {
            problems.add(path, format!("no cluster `{name}` in the spec"));
            continue;
        };
        if let Some(idle) = &settings.idle_in_window {
            let during = cluster.schedule_spans(chrono::Utc::now().year());
            let longest = during.iter().map(|span| u64::from(span.end - span.start) * 60).max();
            match (parse_duration(idle), longest) {
                (Err(why), _) => problems.add(format!("{path}.idle_in_window"), why),
                (Ok(_), None) => problems.add(
                    format!("{path}.idle_in_window"),
                    format!("cluster `{name}` has no window the idle alarm can watch: it needs `schedules:` windows, daily or by day of week, longer than their zone's daylight-saving shift"),
                ),
                (Ok(d), _) if d.as_secs() == 0 || d.as_secs() % PERIOD_SECONDS as u64 != 0 => problems.add(
                    format!("{path}.idle_in_window"),
                    format!("`{idle}` must be a whole number of 5 minutes: EMR publishes IsIdle every 5 minutes"),
                ),
                (Ok(d), Some(longest)) if d.as_secs() > longest => problems.add(
                    format!("{path}.idle_in_window"),
                    format!("`{idle}` is longer than the longest watched window ({}): it would never alarm", words_of_seconds(longest as f64)),
                ),
                _ => {}
            }
        }
        if settings.apps_failed.is_some_and(|n| n < 0) {
            problems.add(format!("{path}.apps_failed"), "must be 0 or more applications".to_string());
        }
        if settings.hdfs_utilization_percent.is_some_and(|p| !(1..=99).contains(&p)) {
            problems.add(format!("{path}.hdfs_utilization_percent"), "must be a percentage from 1 to 99".to_string());
        }
    }
    if alarms.enabled {
        for (index, cluster) in spec.clusters.iter().enumerate() {
            let during = cluster.schedule_spans(chrono::Utc::now().year());
            let length = calendar::window_expression(&during).len();
            if length > calendar::EXPRESSION_LIMIT {
                problems.add(
                    format!("clusters[{index}].schedules"),
                    format!("the idle alarm's metric math for these windows is {length} characters, over CloudWatch's {}: use fewer distinct windows, or `alarms.clusters.{}.enabled: false`", calendar::EXPRESSION_LIMIT, cluster.name),
                );
            }
        }
    }
}

/// `arn:<partition>:sqs:<region>:<account>:<queue>`.
fn is_sqs_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "sqs"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && !parts[5].is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_become_the_metrics_units() {
        let text = "version: 1\npipeline: p\nregion: us-east-1\nstreams:\n  - name: s\ndeliveries:\n  - name: d\n    from: s\n    to: { bucket: bucket-bbb }\nbuckets:\n  - name: bucket-bbb\nalarms:\n  streams:\n    s: { iterator_age: 2m }\n  deliveries:\n    d: { data_freshness: 20m }\n";
        let spec = crate::spec::load_bytes("t.yaml", text.as_bytes()).unwrap();
        let alarms = derived_alarms(&spec, 2026);
        let age = alarms.iter().find(|a| a.name == "s-iterator-age").unwrap();
        assert_eq!((age.threshold, metric_unit(age.metric)), (120_000.0, "milliseconds"));
        let fresh = alarms.iter().find(|a| a.name == "d-data-freshness").unwrap();
        assert_eq!((fresh.threshold, metric_unit(fresh.metric)), (1200.0, "seconds"));
        assert_eq!(
            condition_words(age.statistic, age.metric, age.comparison, age.threshold, 300, 1),
            "Maximum of GetRecords.IteratorAgeMilliseconds > 120000 milliseconds (2 minutes) for 1 period of 5 minutes"
        );
    }

    #[test]
    fn a_disabled_section_or_resource_derives_nothing_for_it() {
        let base = "version: 1\npipeline: p\nregion: us-east-1\nstreams:\n  - name: s\n  - name: t\n";
        let spec = crate::spec::load_bytes(
            "t.yaml",
            format!("{base}alarms:\n  streams:\n    t: {{ enabled: false }}\n").as_bytes(),
        )
        .unwrap();
        let names: Vec<String> = derived_alarms(&spec, 2026).into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["s-iterator-age", "s-write-throttled"]);
        let spec =
            crate::spec::load_bytes("t.yaml", format!("{base}alarms: {{ enabled: false }}\n").as_bytes()).unwrap();
        assert!(derived_alarms(&spec, 2026).is_empty());
        let spec = crate::spec::load_bytes("t.yaml", base.as_bytes()).unwrap();
        assert!(derived_alarms(&spec, 2026).is_empty());
    }
}

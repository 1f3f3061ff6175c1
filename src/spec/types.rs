//! The YAML data model of a pipeline spec (version 1), as serde types.
//!
//! Every struct denies unknown fields so that a typo is an error with a location, not a silently
//! ignored setting. Numbers that AWS bounds are read as wide integers and range-checked by
//! `validate`, so that an out-of-range value gets a message that names the limit. Defaults here
//! fill only what the user left unset.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

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
    pub alarms: Option<super::alarms::Alarms>,
}

/// Settings for every IAM role of the pipeline, for organisations that require them.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Iam {
    /// The ARN of a managed policy set as the permissions boundary of every role pipectl creates
    /// (`arn:<partition>:iam::<account>:policy/<name>`, or an AWS managed policy).
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    /// The IAM path under which pipectl puts the pipeline's roles and instance profiles, for
    /// organisations whose policies match role ARNs by path (`/teams/data/` gives
    /// `/teams/data/pipectl/<pipeline>/<region>/`). Default `/`. Changing it replaces the roles.
    #[serde(default)]
    pub path: Option<String>,
}

impl Spec {
    /// The permissions boundary every role gets, if the spec sets one.
    pub fn permissions_boundary(&self) -> Option<&str> {
        self.iam.as_ref().and_then(|iam| iam.permissions_boundary.as_deref())
    }

    /// Where the pipeline's role paths start: `iam.path`, or `/`.
    pub fn iam_path(&self) -> &str {
        self.iam.as_ref().and_then(|iam| iam.path.as_deref()).unwrap_or(crate::names::DEFAULT_IAM_PATH)
    }

    /// The IAM path of the pipeline's roles in `region` (`names::role_path`).
    pub fn role_path(&self, region: &str) -> String {
        crate::names::role_path(self.iam_path(), &self.pipeline, region)
    }
}

/// The VPC and what lives directly in it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub vpc: Vpc,
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    #[serde(default)]
    pub security_groups: Vec<SecurityGroup>,
    /// How private subnets reach the internet: `none` (the default), `single` (one NAT gateway, in
    /// the first public subnet) or `per-az` (one in each zone that has a private subnet).
    #[serde(default)]
    pub nat: Nat,
    /// VPC endpoints for the private subnets: gateway endpoints (`s3`, `dynamodb`) on their route
    /// tables, interface endpoints (`kinesis-streams`, `firehose`, `sts`, …) in them.
    #[serde(default)]
    pub endpoints: Vec<String>,
}

/// NAT gateways for the private subnets' outbound traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
// schemars ignores serde aliases: list them, or editors would flag a spec pipectl accepts.
#[schemars(extend("enum" = ["none", "single", "per-az", "per_az"]))]
pub enum Nat {
    #[default]
    #[serde(rename = "none")]
    None,
    #[serde(rename = "single")]
    Single,
    #[serde(rename = "per-az", alias = "per_az")]
    PerAz,
}

impl Network {
    /// The public subnets that hold a NAT gateway: none; the first public subnet (`single`); or
    /// the first public subnet of each zone that has a private subnet (`per-az`). A network with
    /// no private subnet needs none.
    pub fn nat_subnets(&self) -> Vec<&Subnet> {
        let mut found: Vec<&Subnet> = Vec::new();
        for private in self.subnets.iter().filter(|subnet| !subnet.public) {
            if let Some(nat) = self.nat_for(private) {
                if !found.iter().any(|subnet| subnet.name == nat.name) {
                    found.push(nat);
                }
            }
        }
        found
    }

    /// The public subnet whose NAT gateway the private subnet `subnet` sends `0.0.0.0/0` to.
    pub fn nat_for(&self, subnet: &Subnet) -> Option<&Subnet> {
        if subnet.public {
            return None;
        }
        let mut public = self.subnets.iter().filter(|candidate| candidate.public);
        match self.nat {
            Nat::None => None,
            Nat::Single => public.next(),
            Nat::PerAz => public.find(|candidate| candidate.availability_zone == subnet.availability_zone),
        }
    }

    /// True when instances in the subnet named `subnet` have a route to S3: it is public (its
    /// route table sends `0.0.0.0/0` to the internet gateway; whether instances get a public IP
    /// is checked on its own), or private with a NAT gateway, or there is an `s3` gateway
    /// endpoint (on every private subnet's route table). False for a subnet the spec lacks.
    pub fn reaches_s3(&self, subnet: &str) -> bool {
        let Some(subnet) = self.subnets.iter().find(|candidate| candidate.name == subnet) else {
            return false;
        };
        subnet.public || self.nat_for(subnet).is_some() || self.endpoints.iter().any(|endpoint| endpoint == "s3")
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    /// IPv4 CIDR block, /16 to /28.
    pub cidr: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    pub name: String,
    pub cidr: String,
    pub availability_zone: String,
    /// A public subnet is routed to the internet gateway through the pipeline's public route table.
    #[serde(default)]
    pub public: bool,
    /// Whether instances launched here get a public IPv4 address (MapPublicIpOnLaunch); defaults
    /// to `public`. Without one, an instance in a public subnet cannot use the internet gateway.
    #[serde(default)]
    pub map_public_ip: Option<bool>,
}

impl Subnet {
    /// Whether instances launched here get a public IPv4 address.
    pub fn maps_public_ip(&self) -> bool {
        self.map_public_ip.unwrap_or(self.public)
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    pub name: String,
    #[serde(default = "default_group_description")]
    pub description: String,
    #[serde(default)]
    pub ingress: Vec<Rule>,
    /// `None` keeps AWS's default of all outbound traffic allowed.
    #[serde(default)]
    pub egress: Option<Vec<Rule>>,
}

fn default_group_description() -> String {
    "Managed by pipectl".to_string()
}

/// One security group rule: a protocol, a port or range, and exactly one peer.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// A single port (`443`) or an inclusive range (`"8000-8100"`); omitted means all ports.
    #[serde(default)]
    pub ports: Option<Ports>,
    /// An IPv4 CIDR peer.
    #[serde(default)]
    pub cidr: Option<String>,
    /// Another security group of this spec as the peer (`self` for the group itself).
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

fn default_protocol() -> String {
    "tcp".to_string()
}

/// A port or a port range as written in the spec.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Ports {
    Single(i64),
    Range(String),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// The globally unique S3 bucket name.
    pub name: String,
    #[serde(default)]
    pub versioning: bool,
    #[serde(default)]
    pub encryption: BucketEncryption,
    /// KMS key id or ARN for `encryption: sse-kms` (the AWS managed key when unset).
    #[serde(default)]
    pub kms_key: Option<String>,
    #[serde(default = "default_true")]
    pub block_public_access: bool,
    #[serde(default)]
    pub lifecycle: Vec<LifecycleRule>,
    /// Days after which parts of an upload that never completed are deleted (default 7; `0`
    /// keeps them, and you pay for them).
    #[serde(default)]
    pub abort_incomplete_uploads_days: Option<i64>,
    /// With versioning: days after which a version that is no longer current is deleted
    /// (default 30; `0` keeps every old version forever).
    #[serde(default)]
    pub noncurrent_versions_expire_days: Option<i64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl Bucket {
    /// Days after which incomplete multipart uploads are aborted, if they are.
    pub fn abort_incomplete_after(&self) -> Option<i64> {
        Some(self.abort_incomplete_uploads_days.unwrap_or(7)).filter(|days| *days > 0)
    }

    /// Days after which noncurrent versions expire, if the bucket is versioned and they do.
    pub fn noncurrent_expire_after(&self) -> Option<i64> {
        if !self.versioning {
            return None;
        }
        Some(self.noncurrent_versions_expire_days.unwrap_or(30)).filter(|days| *days > 0)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum BucketEncryption {
    #[default]
    #[serde(rename = "sse-s3")]
    SseS3,
    #[serde(rename = "sse-kms")]
    SseKms,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRule {
    /// Rule id; defaults to the prefix.
    #[serde(default)]
    pub id: Option<String>,
    pub prefix: String,
    #[serde(default)]
    pub transitions: Vec<Transition>,
    #[serde(default)]
    pub expiration_days: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub days: i64,
    pub storage_class: String,
}

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
    #[serde(default)]
    pub encryption: StreamEncryption,
    /// KMS key for `encryption: kms` (default `alias/aws/kinesis`).
    #[serde(default)]
    pub kms_key: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn default_retention_hours() -> i64 {
    24
}

fn default_true() -> bool {
    true
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum StreamEncryption {
    #[default]
    #[serde(rename = "none")]
    None,
    #[serde(rename = "kms")]
    Kms,
}

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

/// An IAM role declared explicitly, for users who want to write the policy themselves.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub name: String,
    /// The service that may assume the role, e.g. `firehose.amazonaws.com`.
    pub trust: String,
    #[serde(default)]
    pub managed_policies: Vec<String>,
    /// Inline policy statements.
    #[serde(default)]
    pub statements: Vec<Statement>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub effect: Effect,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Effect {
    #[default]
    Allow,
    Deny,
}

/// An EMR cluster running Spark (and friends). Node counts are the baseline: `pipectl scale`
/// and schedules move away from it on purpose, and plans do not revert that.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub name: String,
    /// EMR release label, e.g. `emr-7.2.0`.
    pub release: String,
    pub applications: Vec<String>,
    /// The subnet of the spec the cluster runs in.
    pub subnet: String,
    /// Extra security groups of the spec for every node.
    #[serde(default)]
    pub security_groups: Vec<String>,
    #[serde(default)]
    pub key_pair: Option<String>,
    #[serde(default)]
    pub logs: Option<ClusterLogs>,
    pub master: MasterGroup,
    pub core: CoreGroup,
    #[serde(default)]
    pub task_groups: Vec<TaskGroup>,
    #[serde(default)]
    pub configurations: Vec<Configuration>,
    #[serde(default)]
    pub bootstrap: Vec<BootstrapAction>,
    /// Terminate the cluster after it has been idle this long (e.g. `2h`).
    #[serde(default)]
    pub idle_timeout: Option<String>,
    #[serde(default)]
    pub termination_protection: bool,
    #[serde(default)]
    pub managed_scaling: Option<ManagedScaling>,
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    /// The night batch as jobs AWS runs: resize a group, run Spark steps, resize back (see
    /// `spec::jobs`).
    #[serde(default)]
    pub jobs: Vec<super::jobs::Job>,
    /// Spark and Hive use the Glue Data Catalog (the pipeline's `catalog`) as their metastore:
    /// sets the `spark-hive-site` and `hive-site` metastore factory, and grants the instance role
    /// the Glue actions on the pipeline's database and its tables.
    #[serde(default)]
    pub use_glue_catalog: bool,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterLogs {
    /// A bucket of the spec.
    pub bucket: String,
    #[serde(default = "default_log_prefix")]
    pub prefix: String,
}

fn default_log_prefix() -> String {
    "emr-logs/".to_string()
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MasterGroup {
    #[serde(rename = "type")]
    pub instance_type: String,
    #[serde(default = "default_master_count")]
    pub count: i64,
}

fn default_master_count() -> i64 {
    1
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoreGroup {
    #[serde(rename = "type")]
    pub instance_type: String,
    pub nodes: i64,
    /// Size of the EBS volume on each core node, in GiB.
    #[serde(default)]
    pub ebs_gib: Option<i64>,
    /// The most nodes `pipectl scale` and schedules may give the group (default:
    /// `managed_scaling.max` when set, else the larger of 4 × `nodes` and 20).
    #[serde(default)]
    pub max_nodes: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskGroup {
    pub name: String,
    #[serde(rename = "type")]
    pub instance_type: String,
    pub nodes: i64,
    #[serde(default)]
    pub market: Market,
    /// The most nodes `pipectl scale` and schedules may give the group (default:
    /// `managed_scaling.max` when set, else the larger of 4 × `nodes` and 20).
    #[serde(default)]
    pub max_nodes: Option<i64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Market {
    #[default]
    #[serde(rename = "on-demand")]
    OnDemand,
    #[serde(rename = "spot")]
    Spot,
}

/// An EMR configuration classification, e.g. `spark-defaults`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Configuration {
    pub classification: String,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BootstrapAction {
    pub name: String,
    /// `s3://bucket/script.sh`
    pub path: String,
    #[serde(default)]
    pub args: Vec<String>,
}

/// EMR managed scaling limits, in instances.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManagedScaling {
    pub min: i64,
    pub max: i64,
    #[serde(default)]
    pub max_on_demand: Option<i64>,
    #[serde(default)]
    pub max_core: Option<i64>,
}

/// A recurring window in which a group runs at another size, carried out by EventBridge
/// Scheduler: one schedule scales up at the start, another back to the baseline at the end.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub name: String,
    /// Five-field cron (`minute hour day-of-month month day-of-week`) with fixed minute and hour.
    pub cron: String,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// `core` or a task group name.
    pub group: String,
    pub nodes: i64,
    /// How long the window lasts, e.g. `4h`.
    #[serde(rename = "for")]
    pub duration: String,
}

fn default_timezone() -> String {
    "UTC".to_string()
}

/// The pipeline's Glue Data Catalog: one database, and a table over what a delivery writes (or
/// over a prefix of a bucket of the spec), so that the lake can be found and queried.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// The Glue database (lowercase letters, digits and `_`); default: the pipeline name with
    /// `_` for `-`.
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub tables: Vec<CatalogTable>,
    /// Tags on the database (Glue tags databases; it cannot tag tables) and on the crawlers.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Glue crawlers that infer tables on a schedule, for folders whose columns are not declared.
    #[serde(default)]
    pub crawlers: Vec<super::catalog::Crawler>,
}

/// A Glue table: its columns are declared, its location and partitions derived.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogTable {
    pub name: String,
    /// A delivery of the spec: the table reads what it writes, its location and partition
    /// layout derived from the delivery's prefix.
    #[serde(default)]
    pub delivery: Option<String>,
    /// Instead of `delivery`: a prefix of a bucket of the spec that something else writes.
    #[serde(default)]
    pub location: Option<TableLocation>,
    /// How the objects are stored: `json` (JSON lines, the default) or `parquet`.
    #[serde(default)]
    pub format: TableFormat,
    /// The table's columns (partition columns are derived, not listed here).
    pub columns: Vec<Column>,
    /// The partition column the prefix's `!{timestamp:…}` fills (default `dt`).
    #[serde(default)]
    pub partition_key: Option<String>,
    /// The first day partition projection offers, `YYYY-MM-DD`; default three years back.
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Where a table's objects are when no delivery of the spec writes them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableLocation {
    /// A bucket of the spec.
    pub bucket: String,
    /// The key prefix; may use one `!{timestamp:…}` expression, as a delivery's prefix does.
    #[serde(default)]
    pub prefix: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum TableFormat {
    #[default]
    #[serde(rename = "json")]
    Json,
    #[serde(rename = "parquet")]
    Parquet,
}

impl TableFormat {
    /// The spelling used in the spec and in plans.
    pub fn as_str(self) -> &'static str {
        match self {
            TableFormat::Json => "json",
            TableFormat::Parquet => "parquet",
        }
    }
}

/// A column: a name and a Glue/Hive type (`string`, `bigint`, `decimal(10,2)`, `array<string>`, …).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    #[serde(default)]
    pub comment: Option<String>,
}

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
    #[serde(default = "default_true")]
    pub enforce: bool,
    /// Whether Athena publishes the workgroup's query metrics to CloudWatch (default true).
    #[serde(default = "default_true")]
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

//! The YAML data model of a pipeline spec (version 1), as serde types.
//!
//! Every struct denies unknown fields so that a typo is an error with a location, not a silently
//! ignored setting. Numbers that AWS bounds are read as wide integers and range-checked by
//! `validate`, so that an out-of-range value gets a message that names the limit. Defaults here
//! fill only what the user left unset.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A whole pipeline spec: one file, one pipeline.
#[derive(Debug, Clone, Deserialize)]
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
}

/// Settings for every IAM role of the pipeline, for organisations that require them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Iam {
    /// The ARN of a managed policy set as the permissions boundary of every role pipectl creates
    /// (`arn:<partition>:iam::<account>:policy/<name>`, or an AWS managed policy).
    #[serde(default)]
    pub permissions_boundary: Option<String>,
}

impl Spec {
    /// The permissions boundary every role gets, if the spec sets one.
    pub fn permissions_boundary(&self) -> Option<&str> {
        self.iam.as_ref().and_then(|iam| iam.permissions_boundary.as_deref())
    }
}

/// The VPC and what lives directly in it.
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    /// IPv4 CIDR block, /16 to /28.
    pub cidr: String,
}

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Ports {
    Single(i64),
    Range(String),
}

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum BucketEncryption {
    #[default]
    #[serde(rename = "sse-s3")]
    SseS3,
    #[serde(rename = "sse-kms")]
    SseKms,
}

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub days: i64,
    pub storage_class: String,
}

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum StreamMode {
    #[default]
    #[serde(rename = "provisioned")]
    Provisioned,
    #[serde(rename = "on-demand", alias = "on_demand")]
    OnDemand,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum StreamEncryption {
    #[default]
    #[serde(rename = "none")]
    None,
    #[serde(rename = "kms")]
    Kms,
}

/// A Firehose delivery stream: records from a Kinesis stream of the spec into a bucket of the
/// spec, compressed and buffered.
#[derive(Debug, Clone, Deserialize)]
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
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum DeliveryEncryption {
    #[default]
    #[serde(rename = "none")]
    None,
    #[serde(rename = "kms")]
    Kms,
}

/// An IAM role declared explicitly, for users who want to write the policy themselves.
#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub effect: Effect,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Effect {
    #[default]
    Allow,
    Deny,
}

/// An EMR cluster running Spark (and friends). Node counts are the baseline: `pipectl scale`
/// and schedules move away from it on purpose, and plans do not revert that.
#[derive(Debug, Clone, Deserialize)]
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
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoreGroup {
    #[serde(rename = "type")]
    pub instance_type: String,
    pub nodes: i64,
    /// Size of the EBS volume on each core node, in GiB.
    #[serde(default)]
    pub ebs_gib: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskGroup {
    pub name: String,
    #[serde(rename = "type")]
    pub instance_type: String,
    pub nodes: i64,
    #[serde(default)]
    pub market: Market,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Market {
    #[default]
    #[serde(rename = "on-demand")]
    OnDemand,
    #[serde(rename = "spot")]
    Spot,
}

/// An EMR configuration classification, e.g. `spark-defaults`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Configuration {
    pub classification: String,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapAction {
    pub name: String,
    /// `s3://bucket/script.sh`
    pub path: String,
    #[serde(default)]
    pub args: Vec<String>,
}

/// EMR managed scaling limits, in instances.
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
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

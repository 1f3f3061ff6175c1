//! The `clusters:` section: EMR clusters, their instance groups (`group` says which one a name
//! means), configurations, idle timeout and managed scaling, and what the cluster's schedules
//! and jobs share — the size they give a group, and their windows on the clock (`calendar`).

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::buckets::check_bucket_reference;
use super::checks::{check_reference, check_resource_name, check_tags, check_unique, Problems};
use super::group::{CapSource, Group};
use super::iam::check_derived_role;
use super::jobs::{check_jobs, Job};
use super::network::Network;
use super::pipeline::Spec;
use super::schedules::{check_schedules, Schedule};
use super::suggest::did_you_mean;
use crate::calendar::{self, compact_duration, Labelled, Span, Window};
use crate::names::derived_cluster_roles;

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
    pub jobs: Vec<Job>,
    /// Spark and Hive use the Glue Data Catalog (the pipeline's `catalog`) as their metastore:
    /// sets the `spark-hive-site` and `hive-site` metastore factory, and grants the instance role
    /// the Glue actions on the pipeline's database and its tables.
    #[serde(default)]
    pub use_glue_catalog: bool,
    /// Where the cluster's jobs write, besides its `logs` and the folders of the catalog's
    /// tables: `s3://<bucket of the spec>/<prefix>` each. The instances' role may write, and
    /// delete, only there; it reads every bucket of the spec, and never writes a job's script.
    #[serde(default)]
    pub writes: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// The bucket and key prefix of a `writes` entry, `s3://<bucket>/<prefix>`.
pub fn write_location(location: &str) -> Option<(&str, &str)> {
    let rest = location.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, prefix))
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

impl Cluster {
    /// Whether EventBridge Scheduler runs anything for it: schedule windows or jobs.
    pub fn has_schedules(&self) -> bool {
        !self.schedules.is_empty() || !self.jobs.is_empty()
    }

    /// The core and task nodes the spec gives the cluster: its baseline.
    pub fn baseline_nodes(&self) -> i64 {
        self.core.nodes + self.task_groups.iter().map(|g| g.nodes).sum::<i64>()
    }

    /// The `dfs.replication` of the cluster's `hdfs-site` configuration, when it is a number.
    pub fn dfs_replication(&self) -> Option<i64> {
        self.configurations
            .iter()
            .filter(|c| c.classification == "hdfs-site")
            .find_map(|c| c.properties.get("dfs.replication"))
            .and_then(|value| value.parse::<i64>().ok())
    }

    /// The HDFS replication of the cluster as pipectl launches it: its `dfs.replication`, else
    /// EMR's default for its core nodes (`replication_floor`).
    pub fn hdfs_replication(&self) -> i64 {
        self.dfs_replication().unwrap_or_else(|| replication_floor(self.core.nodes))
    }

    /// The idle timeout, read (`None` when the spec sets none).
    pub fn idle_timeout_length(&self) -> Option<Result<Duration, String>> {
        self.idle_timeout.as_deref().map(calendar::parse_duration)
    }

    /// The idle timeout in seconds. Validation has read it already.
    pub fn idle_timeout_seconds(&self) -> Option<u64> {
        self.idle_timeout_length()?.ok().map(|length| length.as_secs())
    }

    /// Every window in which one of the cluster's groups runs resized, on the group's lane:
    /// `schedule 'x'` for each schedule, then `job 'y'` for each job, whose window lasts until
    /// its guard schedule has fired.
    pub fn batch_windows(&self) -> Vec<Labelled<'_>> {
        let schedules = self.schedules.iter().map(|schedule| Labelled {
            label: format!("schedule '{}'", schedule.name),
            lane: schedule.group.as_str(),
            window: schedule.window(),
        });
        let jobs = self.jobs.iter().map(|job| Labelled {
            label: format!("job '{}'", job.name),
            lane: job.group.as_str(),
            window: job.window(),
        });
        schedules.chain(jobs).collect()
    }

    /// The parts of the week the windows of the cluster's `schedules:` cover under every offset
    /// their zones use in `year`: what its idle alarm watches (`calendar::spans`).
    pub fn schedule_spans(&self, year: i32) -> Vec<Span> {
        let windows: Vec<Window> = self.schedules.iter().map(Schedule::window).collect();
        calendar::spans(&windows, year)
    }
}

/// Why nothing but EMR may resize the cluster's core and task groups, when it has managed
/// scaling: "The policy only applies to the core and task nodes" (ManagedScalingPolicy, EMR API
/// Reference), and EMR re-evaluates the cluster's size every few seconds ("Using managed scaling
/// in Amazon EMR"), so a size pipectl set would be undone, or would undo EMR's, mid-job — the
/// drift fight of terraform-aws-modules/terraform-aws-emr#41. pipectl refuses rather than
/// rewriting the managed-scaling limits: those are the spec's, and a command that changed them
/// would leave a plan that calls them drift.
pub fn managed_scaling_refusal(cluster: &Cluster) -> Option<String> {
    let scaling = cluster.managed_scaling.as_ref()?;
    Some(format!(
        "cluster '{}' has managed_scaling: EMR sizes its core and task groups between {} and {} nodes, and would undo any other resize; give the batch room by raising `managed_scaling.max` (EMR grows the cluster for the work), or remove `managed_scaling` to size the groups yourself",
        cluster.name, scaling.min, scaling.max
    ))
}

/// The HDFS replication factor EMR gives a cluster launched with `core_nodes` ("HDFS
/// configuration", EMR Release Guide: 1 under four core nodes, 2 under ten, else 3), which is
/// also the fewest core nodes it may shrink to: "With Amazon EMR, a cluster cannot scale core
/// nodes below dfs.replication".
pub fn replication_floor(core_nodes: i64) -> i64 {
    match core_nodes {
        n if n < 4 => 1,
        n if n < 10 => 2,
        _ => 3,
    }
}

/// The windows of the cluster's schedules and jobs on `group` that overlap `from`..`to` (Unix
/// times), as `job 'x'` / `schedule 'y'` with their start in UTC: what a run by hand between
/// those times would collide with. (Two spec names mean one group exactly when they are equal,
/// so the group's name is its lane.)
pub fn windows_overlapping(cluster: &Cluster, group: &str, from: i64, to: i64) -> Vec<String> {
    calendar::overlapping(&cluster.batch_windows(), group, from, to)
}

/// The `schedules:` windows of the cluster open at `now` (Unix time): (group, its size in the
/// window, the schedule's name).
pub fn open_schedule_windows(cluster: &Cluster, now: i64) -> Vec<(String, i64, String)> {
    let open = cluster.schedules.iter().filter(|schedule| calendar::is_open(&schedule.window(), now));
    open.map(|schedule| (schedule.group.clone(), schedule.nodes, schedule.name.clone())).collect()
}

/// The most nodes pipectl gives a core or task group (validation's bound, and the schema's).
pub const MAX_GROUP_NODES: i64 = 500;
/// The largest EBS volume of a core node, in GiB (validation's bound, and the schema's).
pub const MAX_EBS_GIB: i64 = 16384;

/// Applications EMR installs, as its API spells them.
pub const EMR_APPLICATIONS: [&str; 20] = [
    "Spark",
    "Hadoop",
    "Hive",
    "Livy",
    "Zeppelin",
    "JupyterEnterpriseGateway",
    "JupyterHub",
    "Presto",
    "Trino",
    "HBase",
    "Flink",
    "Tez",
    "Pig",
    "Hue",
    "Oozie",
    "Sqoop",
    "Phoenix",
    "ZooKeeper",
    "HCatalog",
    "Ganglia",
];

/// The clusters: unique names, and each one's own rules.
pub(super) fn check(spec: &Spec, problems: &mut Problems) {
    check_unique("clusters", spec.clusters.iter().map(|cluster| cluster.name.as_str()), problems);
    for (index, cluster) in spec.clusters.iter().enumerate() {
        check_cluster(&format!("clusters[{index}]"), cluster, spec, problems);
    }
}

/// One cluster (`path` is its): what it is, where it runs, its groups, its settings, its
/// schedules and jobs, its tags.
fn check_cluster(path: &str, cluster: &Cluster, spec: &Spec, problems: &mut Problems) {
    check_identity(path, cluster, spec, problems);
    check_placement(path, cluster, spec, problems);
    check_groups(path, cluster, problems);
    check_settings(path, cluster, problems);
    check_schedules(path, cluster, spec, problems);
    check_jobs(path, cluster, spec, problems);
    check_tags(&format!("{path}.tags"), &cluster.tags, problems);
}

/// The cluster's name (and the IAM names of the roles derived from it), release and applications.
fn check_identity(path: &str, cluster: &Cluster, spec: &Spec, problems: &mut Problems) {
    let name_ok = (1..=40).contains(&cluster.name.len())
        && cluster.name.starts_with(|c: char| c.is_ascii_lowercase())
        && cluster.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !name_ok {
        problems.add(
            format!("{path}.name"),
            format!("`{}` is not a valid cluster name: use 1-40 lowercase letters, digits and hyphens", cluster.name),
        );
    }
    for role in derived_cluster_roles(&cluster.name) {
        check_derived_role(&format!("{path}.name"), spec, &role, problems);
    }
    let release_ok = cluster
        .release
        .strip_prefix("emr-")
        .is_some_and(|version| !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.'));
    if !release_ok {
        problems.add(
            format!("{path}.release"),
            format!("`{}` is not an EMR release label such as `emr-7.2.0`", cluster.release),
        );
    }
    if cluster.applications.is_empty() {
        problems.add(format!("{path}.applications"), "name at least one application, such as Spark");
    }
    for (index, application) in cluster.applications.iter().enumerate() {
        if !EMR_APPLICATIONS.contains(&application.as_str()) {
            let hint = did_you_mean(application, EMR_APPLICATIONS)
                .map(|a| format!(" (did you mean `{a}`?)"))
                .unwrap_or_default();
            problems
                .add(format!("{path}.applications[{index}]"), format!("unknown EMR application `{application}`{hint}"));
        }
    }
}

/// Where the cluster runs: its subnet (and what the subnet reaches), security groups and log
/// bucket.
fn check_placement(path: &str, cluster: &Cluster, spec: &Spec, problems: &mut Problems) {
    let subnets: Vec<&str> = spec.network.iter().flat_map(|n| &n.subnets).map(|s| s.name.as_str()).collect();
    check_reference(&format!("{path}.subnet"), "subnet", &cluster.subnet, &subnets, problems);
    if let Some(network) = &spec.network {
        check_cluster_network(path, cluster, network, problems);
    }
    let groups: Vec<&str> = spec.network.iter().flat_map(|n| &n.security_groups).map(|g| g.name.as_str()).collect();
    for (index, group) in cluster.security_groups.iter().enumerate() {
        check_reference(&format!("{path}.security_groups[{index}]"), "security group", group, &groups, problems);
    }
    if let Some(logs) = &cluster.logs {
        check_bucket_reference(&format!("{path}.logs.bucket"), &logs.bucket, spec, problems);
    }
    for (index, location) in cluster.writes.iter().enumerate() {
        let field = format!("{path}.writes[{index}]");
        match write_location(location) {
            None => problems.add(field, format!("`{location}` is not of the form s3://<bucket>/<prefix>")),
            // It becomes an IAM ARN: a wildcard would widen what the instances may write.
            Some(_) if location.contains(['*', '?']) || location.contains("${") => problems
                .add(field, format!("`{location}` holds a wildcard or a policy variable: name the prefix itself")),
            Some((bucket, _)) => check_bucket_reference(&field, bucket, spec, problems),
        }
    }
}

/// The master, core and task groups: counts, instance types, HDFS, volumes and caps.
fn check_groups(path: &str, cluster: &Cluster, problems: &mut Problems) {
    if ![1, 3].contains(&cluster.master.count) {
        problems.add(format!("{path}.master.count"), "must be 1, or 3 for high availability");
    }
    check_instance_type(&format!("{path}.master.type"), &cluster.master.instance_type, problems);
    check_instance_type(&format!("{path}.core.type"), &cluster.core.instance_type, problems);
    if !(1..=MAX_GROUP_NODES).contains(&cluster.core.nodes) {
        problems.add(
            format!("{path}.core.nodes"),
            format!("must be between 1 and {MAX_GROUP_NODES} (HDFS needs at least one core node)"),
        );
    }
    if let Some(replication) = cluster.dfs_replication() {
        if cluster.core.nodes < replication {
            problems.add(
                format!("{path}.core.nodes"),
                format!("{} core nodes cannot hold dfs.replication = {replication} copies", cluster.core.nodes),
            );
        }
    }
    if let Some(gib) = cluster.core.ebs_gib {
        if !(1..=MAX_EBS_GIB).contains(&gib) {
            problems.add(format!("{path}.core.ebs_gib"), format!("must be between 1 and {MAX_EBS_GIB} GiB"));
        }
    }
    check_unique(&format!("{path}.task_groups"), cluster.task_groups.iter().map(|g| g.name.as_str()), problems);
    for (index, group) in cluster.task_groups.iter().enumerate() {
        let group_path = format!("{path}.task_groups[{index}]");
        check_resource_name(&format!("{group_path}.name"), &group.name, problems);
        if ["core", "master"].contains(&group.name.as_str()) {
            problems.add(format!("{group_path}.name"), "`core` and `master` name the built-in groups");
        }
        check_instance_type(&format!("{group_path}.type"), &group.instance_type, problems);
        if !(0..=MAX_GROUP_NODES).contains(&group.nodes) {
            problems.add(format!("{group_path}.nodes"), format!("must be between 0 and {MAX_GROUP_NODES}"));
        }
        check_max_nodes(&group_path, group.nodes, group.max_nodes, problems);
    }
    check_max_nodes(&format!("{path}.core"), cluster.core.nodes, cluster.core.max_nodes, problems);
}

/// Configurations, bootstrap actions, the idle timeout and managed scaling.
fn check_settings(path: &str, cluster: &Cluster, problems: &mut Problems) {
    for (index, configuration) in cluster.configurations.iter().enumerate() {
        if configuration.classification.is_empty() {
            problems.add(format!("{path}.configurations[{index}].classification"), "must not be empty");
        }
    }
    for (index, action) in cluster.bootstrap.iter().enumerate() {
        if !action.path.starts_with("s3://") {
            problems.add(
                format!("{path}.bootstrap[{index}].path"),
                format!("`{}` must be an S3 path (s3://bucket/script.sh)", action.path),
            );
        }
    }
    check_release_features(path, cluster, problems);
    match cluster.idle_timeout_length() {
        Some(Ok(duration)) if (60..=7 * 86_400).contains(&duration.as_secs()) => {
            check_idle_timeout(path, cluster, duration, problems);
        }
        Some(Ok(_)) => problems.add(format!("{path}.idle_timeout"), "must be between 1m and 7d"),
        Some(Err(message)) => problems.add(format!("{path}.idle_timeout"), message),
        None => {}
    }
    let baseline = cluster.baseline_nodes();
    if let Some(scaling) = &cluster.managed_scaling {
        let scaling_path = format!("{path}.managed_scaling");
        let bounds_valid = (1..=scaling.max).contains(&scaling.min);
        if !bounds_valid {
            problems.add(format!("{scaling_path}.min"), format!("must be between 1 and max ({})", scaling.max));
        }
        // Bounds already reported as invalid say nothing true about the baseline.
        if bounds_valid && !(scaling.min..=scaling.max).contains(&baseline) {
            problems.add(
                &scaling_path,
                format!(
                    "the baseline of {baseline} core and task nodes is outside min {} - max {}",
                    scaling.min, scaling.max
                ),
            );
        }
        for (field, value) in [("max_on_demand", scaling.max_on_demand), ("max_core", scaling.max_core)] {
            if value.is_some_and(|value| value < 1 || value > scaling.max) {
                problems.add(format!("{scaling_path}.{field}"), format!("must be between 1 and max ({})", scaling.max));
            }
        }
    }
}

/// The `major.minor.patch` of an EMR release label (`emr-6.15.0`); `None` when it does not parse
/// (which `check_identity` reports).
pub(super) fn release_version(release: &str) -> Option<(u32, u32, u32)> {
    let mut parts = release.strip_prefix("emr-")?.split('.').map(|part| part.parse::<u32>().ok());
    let (major, minor) = (parts.next().flatten()?, parts.next().flatten()?);
    Some((major, minor, parts.next().flatten().unwrap_or(0)))
}

/// Whether a release label (`emr-5.27.0`) is older than `major.minor`; a label that does not
/// parse is reported on its own.
pub(super) fn release_before(release: &str, (major, minor): (u32, u32)) -> bool {
    release_version(release).is_some_and(|(got_major, got_minor, _)| (got_major, got_minor) < (major, minor))
}

/// Features EMR offers on some releases only, which RunJobFlow would refuse after the rest of
/// the pipeline exists:
/// - the auto-termination policy (`idle_timeout`): "Auto-termination is supported in Amazon EMR
///   releases 5.30.0 and 6.1.0 and later" (PutAutoTerminationPolicy, EMR API Reference);
/// - managed scaling: "With Amazon EMR versions 5.30.0 and higher (except for Amazon EMR 6.0.0)"
///   ("Using managed scaling in Amazon EMR", EMR Management Guide);
/// - Ganglia: "The last release of Amazon EMR to include Ganglia was Amazon EMR 6.15.0"
///   ("Ganglia release history", EMR Release Guide).
fn check_release_features(path: &str, cluster: &Cluster, problems: &mut Problems) {
    let Some(version) = release_version(&cluster.release) else { return };
    let policies = version >= (5, 30, 0) && (version.0, version.1) != (6, 0);
    let release = &cluster.release;
    if cluster.idle_timeout.is_some() && !policies {
        problems.add(
            format!("{path}.idle_timeout"),
            format!("EMR supports auto-termination (`idle_timeout`) from releases 5.30.0 and 6.1.0; `{release}` has none: use a later release, or remove `idle_timeout`"),
        );
    }
    if cluster.managed_scaling.is_some() && !policies {
        problems.add(
            format!("{path}.managed_scaling"),
            format!("EMR supports managed scaling from release 5.30.0 (not 6.0.0); `{release}` has none: use a later release, or remove `managed_scaling`"),
        );
    }
    if (version.0, version.1) > (6, 15) {
        if let Some(index) = cluster.applications.iter().position(|application| application == "Ganglia") {
            problems.add(
                format!("{path}.applications[{index}]"),
                format!("EMR includes Ganglia up to release 6.15.0; `{release}` has the Amazon CloudWatch agent instead: remove Ganglia, or use emr-6.15.0"),
            );
        }
    }
}

fn check_instance_type(path: &str, instance_type: &str, problems: &mut Problems) {
    let valid = instance_type.split_once('.').is_some_and(|(family, size)| {
        !family.is_empty()
            && !size.is_empty()
            && instance_type.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    });
    if !valid {
        problems.add(path, format!("`{instance_type}` is not an EC2 instance type such as `m5.xlarge`"));
    }
}

/// The size a schedule or a job gives a group (`item_path` is the schedule's or job's): the group
/// exists and is not EMR's to size (managed scaling), HDFS keeps its replicas, and the size stays
/// within the group's cap.
pub(super) fn check_resized_group(
    item_path: &str,
    group_text: &str,
    nodes: i64,
    cluster: &Cluster,
    spec: &Spec,
    problems: &mut Problems,
) {
    if let Some(refusal) = managed_scaling_refusal(cluster) {
        problems.add(format!("{item_path}.group"), refusal);
    }
    let group = Group::parse(group_text);
    match group.baseline(cluster) {
        None => {
            let mut names: Vec<&str> = vec!["core"];
            names.extend(cluster.task_groups.iter().map(|g| g.name.as_str()));
            check_reference(&format!("{item_path}.group"), "instance group", group_text, &names, problems);
        }
        Some(baseline_nodes) => {
            let floor = match group {
                Group::Core => cluster.hdfs_replication(),
                Group::Task(_) => 0,
            };
            if nodes < floor || nodes > MAX_GROUP_NODES {
                problems.add(format!("{item_path}.nodes"), format!("must be between {floor} and {MAX_GROUP_NODES}"));
            }
            // A cluster with managed scaling is refused above.
            if let Some(cap) = group.cap(cluster).filter(|cap| cap.source != CapSource::ManagedScaling) {
                if nodes > cap.nodes {
                    problems.add(
                        format!("{item_path}.nodes"),
                        format!(
                            "{} nodes exceed {} of the {}; raise `{}` in the spec to allow more",
                            nodes,
                            cap.describe(baseline_nodes),
                            group.label(),
                            group.max_nodes_path(spec, cluster)
                        ),
                    );
                }
            }
        }
    }
}

/// A group's `max_nodes` (its cap for `pipectl scale` and schedules) must leave room for its
/// baseline.
fn check_max_nodes(group_path: &str, nodes: i64, max_nodes: Option<i64>, problems: &mut Problems) {
    if let Some(max) = max_nodes.filter(|max| *max < nodes.max(1)) {
        problems.add(
            format!("{group_path}.max_nodes"),
            format!("{max} is below the group's baseline: must be at least {}", nodes.max(1)),
        );
    }
}

/// Where a cluster's instances can reach, and the names pipectl derives for its EMR-managed
/// security groups.
fn check_cluster_network(path: &str, cluster: &Cluster, network: &Network, problems: &mut Problems) {
    if let Some(subnet) = network.subnets.iter().find(|subnet| subnet.name == cluster.subnet) {
        // "When launching an Amazon EMR cluster in a private subnet, you must provide a route to
        // Amazon S3" (Amazon EMR Management Guide, "Sample policies for private subnets that
        // access Amazon S3"): the log bucket, the Amazon Linux and EMR repositories.
        if !network.reaches_s3(&subnet.name) {
            problems.add(
                format!("{path}.subnet"),
                format!(
                    "subnet `{}` has no route to S3, which EMR needs to start the cluster (the Amazon Linux and EMR repositories are S3 buckets, and so is the log bucket): add `endpoints: [s3]` to `network` (a gateway endpoint, free), or `nat: single` (a NAT gateway, billed per hour and per GB), or use a public subnet",
                    subnet.name
                ),
            );
        }
        // "Amazon EMR cannot communicate with clusters in public subnets through a network address
        // translation (NAT) device. An internet gateway is required" ("Amazon VPC options"): an
        // instance reaches the internet gateway only with a public IPv4 address.
        if subnet.public && !subnet.maps_public_ip() {
            problems.add(
                format!("{path}.subnet"),
                format!(
                    "subnet `{}` is public but gives instances no public IP (`map_public_ip: false`); EMR reaches a cluster in a public subnet only through the internet gateway, which needs one: drop `map_public_ip: false`, or use a private subnet with `endpoints: [s3]`",
                    subnet.name
                ),
            );
        }
    }
    for role in ["master", "core", "service"] {
        let derived = crate::names::emr_security_group(&cluster.name, role);
        if let Some(index) = network.security_groups.iter().position(|group| group.name == derived) {
            problems.add(
                format!("network.security_groups[{index}].name"),
                format!("`{derived}` is the name of a security group pipectl creates for EMR to manage on cluster `{}`: rename this one", cluster.name),
            );
        }
    }
}

/// An idle timeout must outlast the quiet hours between a cluster's schedule windows: EMR counts
/// a cluster with no running work as idle ("Using an auto-termination policy"), a group scaled up
/// by a schedule is not work, and a terminated cluster makes the next window's
/// ModifyInstanceGroups fail with nobody told.
fn check_idle_timeout(path: &str, cluster: &Cluster, timeout: Duration, problems: &mut Problems) {
    if cluster.schedules.is_empty() && cluster.jobs.is_empty() {
        return;
    }
    // An invalid schedule or job is reported on its own.
    let windows: Vec<Window> = cluster.batch_windows().into_iter().map(|labelled| labelled.window).collect();
    let Some(gap) = calendar::longest_gap(&windows) else { return };
    let timeout_text = cluster.idle_timeout.as_deref().unwrap_or_default();
    let gap_text = match gap {
        Some(gap) if gap.as_secs() < 7 * 86_400 => {
            format!("{}; set `idle_timeout` above that, or remove it", compact_duration(gap))
        }
        Some(gap) => format!("{} (EMR allows at most 7d): remove `idle_timeout`", compact_duration(gap)),
        None => "over a year (the windows are that rare): remove `idle_timeout`".to_string(),
    };
    if gap.is_none_or(|gap| timeout <= gap) {
        problems.add(
            format!("{path}.idle_timeout"),
            format!(
                "`{timeout_text}` would end the cluster between its schedule windows: EMR terminates a cluster that runs no work for that long, and the next window's ModifyInstanceGroups would find no cluster (EventBridge Scheduler drops the failed call). The longest time from the end of one window to the start of the next is {gap_text}"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::checks::testing::{cluster_spec, messages, paths, HEAD};
    use super::*;

    #[test]
    fn a_schedules_window_is_open_between_its_edges_in_its_zone() {
        let spec: Spec = serde_saphyr::from_str("version: 1\npipeline: p\nregion: eu-west-1\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 4}\n    task_groups: [{name: batch, type: m5.xlarge, nodes: 0}]\n    schedules: [{name: night, cron: '0 2 * * *', timezone: Asia/Seoul, group: batch, nodes: 20, for: 4h}]\n").unwrap();
        let at = |hour: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
                .unwrap()
                .and_hms_opt(hour, 30, 0)
                .unwrap()
                .and_utc()
                .timestamp()
        };
        // 02:00-06:00 in Seoul is 17:00-21:00 UTC.
        let cluster = &spec.clusters[0];
        assert_eq!(open_schedule_windows(cluster, at(18)), [("batch".to_string(), 20, "night".to_string())]);
        assert!(open_schedule_windows(cluster, at(21)).is_empty());
        assert!(open_schedule_windows(cluster, at(16)).is_empty());
    }

    #[test]
    fn cluster_problems_are_located() {
        let yaml = format!("{HEAD}network:\n  vpc: {{cidr: 10.0.0.0/16}}\n  subnets: [{{name: a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a}}]\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark, Spork]\n    subnet: b\n    master: {{type: m5.xlarge, count: 2}}\n    core: {{type: m5.xlarge, nodes: 4}}\n    task_groups: [{{name: batch, type: m5.2xlarge, nodes: 0}}]\n    schedules:\n      - {{name: night, cron: '0 2 * * *', timezone: Asia/Seoul, group: batch, nodes: 200, for: 4h}}\n      - {{name: bad, cron: '0 2 * *', timezone: Mars/Base, group: nope, nodes: 1, for: soon}}\n");
        assert_eq!(
            paths(&yaml),
            vec![
                "clusters[0].applications[1]",
                "clusters[0].subnet",
                "clusters[0].master.count",
                "clusters[0].schedules[0].nodes",
                "clusters[0].schedules[1].cron",
                "clusters[0].schedules[1].timezone",
                "clusters[0].schedules[1].for",
                "clusters[0].schedules[1].group",
            ]
        );
    }

    #[test]
    fn a_cluster_needs_a_route_to_s3_and_a_public_ip_in_a_public_subnet() {
        let found = messages(&cluster_spec("", "", ""));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("clusters[0].subnet: subnet `a` has no route to S3"), "{found:?}");
        assert!(found[0].contains("`endpoints: [s3]`") && found[0].contains("`nat: single`"), "{found:?}");
        assert_eq!(messages(&cluster_spec("", "  endpoints: [s3]\n", "")), Vec::<String>::new());
        assert_eq!(messages(&cluster_spec(", public: true", "", "")), Vec::<String>::new());
        let found = messages(&cluster_spec(", public: true, map_public_ip: false", "", ""));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("gives instances no public IP"), "{found:?}");
        let found = messages(&cluster_spec(", map_public_ip: true", "  endpoints: [s3]\n", ""));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("network.subnets[0].map_public_ip: a private subnet"), "{found:?}");
    }

    #[test]
    fn the_names_of_a_clusters_emr_managed_groups_are_taken() {
        let network = "  endpoints: [s3]\n  security_groups: [{name: spark-emr-service}]\n";
        assert_eq!(paths(&cluster_spec("", network, "")), ["network.security_groups[0].name"]);
    }

    #[test]
    fn an_idle_timeout_must_outlast_the_quiet_hours_between_windows() {
        let network = "  endpoints: [s3]\n";
        let with = |timeout: &str, schedules: &[&str]| {
            let schedules: String = schedules
                .iter()
                .enumerate()
                .map(|(i, cron)| {
                    format!("      - {{name: w{i}, cron: '{cron}', timezone: Asia/Seoul, group: batch, nodes: 20, for: 4h}}\n")
                })
                .collect();
            messages(&cluster_spec("", network, &format!("    idle_timeout: {timeout}\n    schedules:\n{schedules}")))
        };
        // Daily 02:00-06:00: 20h without a window.
        let found = with("12h", &["0 2 * * *"]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("clusters[0].idle_timeout: `12h` would end the cluster"), "{found:?}");
        assert!(found[0].contains("is 20h; set `idle_timeout` above that"), "{found:?}");
        assert_eq!(with("20h", &["0 2 * * *"]).len(), 1);
        assert!(with("21h", &["0 2 * * *"]).is_empty());
        // Two windows a day: 02:00-06:00 and 14:00-18:00 leave at most 8h.
        assert!(with("9h", &["0 2 * * *", "0 14 * * *"]).is_empty());
        assert_eq!(with("8h", &["0 2 * * *", "0 14 * * *"]).len(), 1);
        // Weekdays only: Friday 06:00 to Monday 02:00.
        let found = with("21h", &["0 2 * * MON-FRI"]);
        assert!(found.len() == 1 && found[0].contains("is 2d 20h"), "{found:?}");
        assert!(with("3d", &["0 2 * * 1-5"]).is_empty());
        // Monthly: longer than EMR's 7-day maximum.
        let found = with("7d", &["0 2 1 * *"]);
        assert!(found.len() == 1 && found[0].contains("remove `idle_timeout`"), "{found:?}");
        // No schedules, no constraint.
        assert!(messages(&cluster_spec("", network, "    idle_timeout: 1h\n")).is_empty());
    }

    #[test]
    fn replication_floor_follows_emr() {
        assert_eq!([1, 3, 4, 9, 10, 20].map(replication_floor), [1, 1, 2, 2, 3, 3]);
    }

    #[test]
    fn release_dependent_features_need_their_release() {
        let network = "  endpoints: [s3]\n";
        let on = |release: &str, applications: &str, settings: &str| {
            let yaml = cluster_spec("", network, settings)
                .replace("emr-7.2.0", release)
                .replace("applications: [Spark]", &format!("applications: [{applications}]"));
            paths(&yaml)
        };
        let both = "    idle_timeout: 2h\n    managed_scaling: {min: 1, max: 10}\n";
        assert_eq!(on("emr-5.29.0", "Spark", both), ["clusters[0].idle_timeout", "clusters[0].managed_scaling"]);
        assert_eq!(on("emr-6.0.0", "Spark", both), ["clusters[0].idle_timeout", "clusters[0].managed_scaling"]);
        assert!(on("emr-5.30.0", "Spark", both).is_empty());
        assert!(on("emr-6.1.0", "Spark", both).is_empty());
        // Ganglia: up to 6.15.0, and on every 5.x release.
        assert!(on("emr-6.15.0", "Spark, Ganglia", "").is_empty());
        assert!(on("emr-5.36.2", "Spark, Ganglia", "").is_empty());
        let found =
            messages(&cluster_spec("", network, "").replace("applications: [Spark]", "applications: [Spark, Ganglia]"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("clusters[0].applications[1]: EMR includes Ganglia up to release 6.15.0"),
            "{found:?}"
        );
        assert_eq!(release_version("emr-6.15.0"), Some((6, 15, 0)));
        assert_eq!(release_version("emr-7.2"), Some((7, 2, 0)));
        assert_eq!(release_version("7.2.0"), None);
        assert!(release_before("emr-5.27.0", (5, 28)) && !release_before("emr-5.28.0", (5, 28)));
    }

    #[test]
    fn groups_under_managed_scaling_are_emrs_to_size() {
        let network = "  endpoints: [s3]\n";
        let scaling = "    managed_scaling: {min: 1, max: 30}\n";
        let schedule = "    schedules: [{name: night, cron: '0 2 * * *', group: batch, nodes: 20, for: 2h}]\n";
        let found = messages(&cluster_spec("", network, &format!("{scaling}{schedule}")));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("clusters[0].schedules[0].group: cluster 'spark' has managed_scaling: EMR sizes its core and task groups between 1 and 30 nodes"),
            "{found:?}"
        );
        assert!(messages(&cluster_spec("", network, schedule)).is_empty());
        assert!(messages(&cluster_spec("", network, scaling)).is_empty());
    }

    #[test]
    fn the_hdfs_replication_is_the_configured_one_else_emrs_default_at_launch() {
        let network = "  endpoints: [s3]\n";
        let spec: Spec = serde_saphyr::from_str(&cluster_spec("", network, "")).unwrap();
        assert_eq!(spec.clusters[0].hdfs_replication(), 1);
        let configured = cluster_spec(
            "",
            network,
            "    configurations: [{classification: hdfs-site, properties: {dfs.replication: '2'}}]\n",
        );
        let spec: Spec = serde_saphyr::from_str(&configured).unwrap();
        assert_eq!(spec.clusters[0].hdfs_replication(), 2);
        // A core schedule may not go below it.
        let core = |nodes: i64| {
            format!("    schedules: [{{name: night, cron: '0 2 * * *', group: core, nodes: {nodes}, for: 2h}}]\n")
        };
        let at = |nodes| paths(&format!("{configured}{}", core(nodes)));
        assert_eq!(at(1), ["clusters[0].schedules[0].nodes"]);
        assert!(at(2).is_empty());
    }
}

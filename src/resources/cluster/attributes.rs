//! A cluster as the planner compares it: the attributes of what the spec asks for and of what
//! EMR reports, and the rules that reconcile the two on purpose (a size recorded by `pipectl
//! scale` is not drift; a task group the spec dropped is resized to 0, since EMR cannot delete
//! groups). Pure: no AWS calls.
//!
//! Both sides are put in the form EMR writes back before they are compared (`canonical_*`), so
//! that an unchanged spec plans empty against real EMR, not only against emulators that echo
//! what they were given: most of these fields force replacement, and a false difference would
//! terminate the cluster.

use std::collections::BTreeMap;
use std::fmt;

use aws_sdk_emr::types::{ClusterState, InstanceGroupType};
use serde_json::{json, Value};

use super::{ClusterConfig, Group, GroupMatch};
use crate::model::{Action, Attributes, LiveDetail, Names, ResourceId, UNREADABLE};
use crate::names::{Tags, HDFS_REPLICATION_TAG, SCALE_TAG_PREFIX};
use crate::resources::bucket;
use crate::resources::kit::{Fact, Health};
use crate::spec::{self, Configuration, Market};

/// One instance group as EMR reports it.
#[derive(Debug, Clone)]
pub struct InstanceGroup {
    pub id: String,
    pub name: String,
    /// Master, core or task (none if EMR did not say).
    pub role: Option<InstanceGroupType>,
    pub instance_type: String,
    pub requested: i64,
    pub running: i64,
    /// `on-demand` or `spot`.
    pub market: String,
    pub ebs_gib: Option<i64>,
}

impl InstanceGroup {
    /// The spec's name for this group: `core` or its task group name; the master group's own.
    pub fn label(&self) -> String {
        match self.role {
            Some(InstanceGroupType::Core) => Group::Core.name().to_string(),
            _ => self.name.clone(),
        }
    }

    /// The spec group this is, if it is one (the master group is not).
    pub fn group(&self) -> Option<Group> {
        match self.role {
            Some(InstanceGroupType::Core) => Some(Group::Core),
            Some(InstanceGroupType::Task) => Some(Group::Task(self.name.clone())),
            _ => None,
        }
    }
}

/// The state EMR reports for a cluster, if it reports one.
#[derive(Debug, Clone, PartialEq)]
pub struct State(pub Option<ClusterState>);

impl State {
    /// EMR resizes only RUNNING or WAITING clusters.
    pub fn accepts_resize(&self) -> bool {
        matches!(self.0, Some(ClusterState::Running | ClusterState::Waiting))
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_ref().map_or("", ClusterState::as_str))
    }
}

/// A field EMR may not let an emulator read.
#[derive(Debug, Clone)]
pub enum Readable<T> {
    Known(T),
    Unsupported,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub state: State,
    pub release: String,
    pub applications: Vec<String>,
    pub subnet_id: String,
    pub security_group_ids: Vec<String>,
    pub key_pair: Option<String>,
    pub log_uri: Option<String>,
    pub groups: Vec<InstanceGroup>,
    pub configurations: Value,
    pub bootstrap: Value,
    pub idle_timeout_seconds: Readable<Option<i64>>,
    pub termination_protection: bool,
    pub managed_scaling: Readable<Option<Value>>,
    pub service_role: String,
    pub instance_profile: String,
    /// `EmrManagedMasterSecurityGroup`, `EmrManagedSlaveSecurityGroup` and
    /// `ServiceAccessSecurityGroup`, as EMR reports them.
    pub emr_group_ids: [Option<String>; 3],
    /// The HDFS replication it runs with, when known (`hdfs_replication`).
    pub hdfs_replication: Option<i64>,
    /// The master node's public DNS name (its private one in a private subnet), once EMR has
    /// assigned it.
    pub master_dns: Option<String>,
}

impl Live {
    /// The live group a spec group names.
    pub fn group(&self, group: &Group) -> Option<&InstanceGroup> {
        group.find(&self.groups)
    }

    fn of_type(&self, role: InstanceGroupType) -> impl Iterator<Item = &InstanceGroup> {
        self.groups.iter().filter(move |group| group.role.as_ref() == Some(&role))
    }
}

/// A deliberate resize recorded on the cluster by `pipectl scale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleRecord {
    pub nodes: i64,
    pub baseline: i64,
    /// When the scheduled scale-back happens (RFC 3339, UTC), if one was set.
    pub until: Option<String>,
}

impl ScaleRecord {
    /// The tag value: `nodes=20 baseline=4 until=2026-11-23T06:00:00Z`.
    pub fn to_tag(&self) -> String {
        let mut value = format!("nodes={} baseline={}", self.nodes, self.baseline);
        if let Some(until) = &self.until {
            value.push_str(&format!(" until={until}"));
        }
        value
    }

    pub fn parse(value: &str) -> Option<ScaleRecord> {
        let fields: BTreeMap<&str, &str> = value.split_whitespace().filter_map(|part| part.split_once('=')).collect();
        Some(ScaleRecord {
            nodes: fields.get("nodes")?.parse().ok()?,
            baseline: fields.get("baseline")?.parse().ok()?,
            until: fields.get("until").map(|until| until.to_string()),
        })
    }
}

/// Whether a cluster tag is one of pipectl's notes (a scale record, the launch replication),
/// not a tag the spec manages: plans do not compare it and apply does not remove it.
pub fn is_note(key: &str) -> bool {
    key.starts_with(SCALE_TAG_PREFIX) || key == HDFS_REPLICATION_TAG
}

/// The HDFS replication of a live cluster, when it can be known: the `dfs.replication` of the
/// `hdfs-site` configuration it launched with (EMR reports the configurations back), else the
/// one pipectl recorded at RunJobFlow (`HDFS_REPLICATION_TAG`: EMR's default for the core nodes
/// it launched with, "HDFS configuration", EMR Release Guide). A cluster launched before pipectl
/// recorded it has neither.
pub fn hdfs_replication(configurations: &Value, tags: &Tags) -> Option<i64> {
    let configured = configurations.as_array().into_iter().flatten().find_map(|configuration| {
        (configuration["classification"] == "hdfs-site")
            .then(|| configuration["properties"]["dfs.replication"].as_str())?
    });
    configured
        .or_else(|| tags.get(HDFS_REPLICATION_TAG).map(String::as_str))
        .and_then(|value| value.trim().parse().ok())
}

/// What shrinking core from `before` to `after` loses, if it goes below the HDFS replication: EMR
/// "cannot scale core nodes below dfs.replication" ("HDFS configuration", EMR Release Guide), and
/// the nodes taken hold the last replicas of blocks. Without a known replication (a cluster
/// launched before pipectl recorded it), EMR's default for the live core count stands in.
pub fn core_shrink_loses_data(before: &Attributes, after: &Attributes) -> Option<String> {
    let core = Group::Core.field("nodes");
    let (from, to) = (before.get(&core)?.as_i64()?, after.get(&core)?.as_i64()?);
    let replication =
        before.get(HDFS_REPLICATION_FIELD).and_then(Value::as_i64).unwrap_or_else(|| spec::replication_floor(from));
    (to < from && to < replication).then(|| {
        format!("shrinking core from {from} to {to} nodes goes below the cluster's HDFS replication ({replication}): EMR refuses to scale core nodes below dfs.replication, and the nodes removed hold the last copies of blocks")
    })
}

/// The attribute that carries a live cluster's HDFS replication, copied into the desired side so
/// that it is never a difference (`adjust`).
const HDFS_REPLICATION_FIELD: &str = "hdfs_replication";

/// The tag key of a group's scale record: `pipectl:scale:<group>`.
pub fn scale_tag(group: &Group) -> String {
    crate::names::scale_tag(group.name())
}

/// The scale records on a cluster's tags, by group.
pub fn scale_records(tags: &Tags) -> BTreeMap<String, ScaleRecord> {
    tags.iter()
        .filter_map(|(key, value)| Some((key.strip_prefix(SCALE_TAG_PREFIX)?.to_string(), ScaleRecord::parse(value)?)))
        .collect()
}

/// What `pipectl status` shows of a live cluster: its state, each group's size, and each
/// group `pipectl scale` resized with when it goes back (its pending scale-back); a cluster that
/// is not starting, running or waiting is a problem.
pub fn health(tags: &Tags, live: &Live) -> Health {
    let mut facts = vec![Fact::new("state", live.state.to_string())];
    for group in &live.groups {
        let size =
            format!("{} of {} running ({} {})", group.running, group.requested, group.instance_type, group.market);
        facts.push(Fact::new(format!("group {}", group.label()), size));
    }
    for (group, record) in scale_records(tags) {
        let back = match &record.until {
            Some(until) => format!(", back to {} at {until}", record.baseline),
            None => format!(" (baseline {}), no scale-back scheduled", record.baseline),
        };
        facts.push(Fact::new(format!("scaled {group}"), format!("{} nodes{back}", record.nodes)));
    }
    let alive = matches!(
        live.state.0,
        Some(ClusterState::Starting | ClusterState::Bootstrapping | ClusterState::Running | ClusterState::Waiting)
    );
    let problems = if alive { Vec::new() } else { vec![format!("the cluster is {}", live.state)] };
    Health { facts, metrics: Vec::new(), problems }
}

fn market_name(market: Market) -> &'static str {
    match market {
        Market::OnDemand => "on-demand",
        Market::Spot => "spot",
    }
}

fn configurations_value(configurations: &[Configuration]) -> Value {
    let mut values: Vec<Value> = configurations
        .iter()
        .map(|c| json!({"classification": c.classification, "properties": c.properties}))
        .collect();
    values.sort_by_key(|value| value["classification"].as_str().map(str::to_string));
    Value::Array(values)
}

pub fn managed_scaling_value(min: i64, max: i64, max_on_demand: Option<i64>, max_core: Option<i64>) -> Value {
    json!({"min": min, "max": max, "max_on_demand": max_on_demand, "max_core": max_core})
}

/// `LogUri` as EMR writes it back. EMR reports `s3n://bucket/prefix/` for `s3://bucket/prefix`:
/// EMRFS maps the `s3`, `s3n` and `s3a` schemes to the same store (the Terraform provider
/// suppresses exactly this diff on `log_uri`, "confirmed by AWS support"), and the folder gets a
/// trailing slash. Both sides are compared as `s3://bucket/prefix/`.
pub fn canonical_log_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.trim().split_once("://") else { return uri.to_string() };
    if !["s3", "s3n", "s3a"].contains(&scheme.to_ascii_lowercase().as_str()) {
        return uri.to_string();
    }
    format!("s3://{}/", rest.trim_end_matches('/'))
}

/// Application names compare without case: the spec writes `Spark` as EMR's docs do, and
/// what EMR reports back is not promised to keep the spelling it was given.
pub fn canonical_applications<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut names: Vec<String> = names.into_iter().map(|name| name.trim().to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    names
}

/// A release label as EMR spells it: `emr-7.2.0`.
pub fn canonical_release(label: &str) -> String {
    label.trim().to_ascii_lowercase()
}

/// An IAM role or instance profile by name: RunJobFlow takes either a name or an ARN, and EMR
/// reports back what it was given; an ARN's name is its last path segment.
pub fn canonical_iam_name(value: &str) -> String {
    match value.strip_prefix("arn:") {
        Some(rest) => rest.rsplit('/').next().unwrap_or(rest).to_string(),
        None => value.to_string(),
    }
}

/// The keys of the EMR-managed security groups: primary node, core and task, service access.
const EMR_GROUP_FIELDS: [&str; 3] = ["emr_groups.master", "emr_groups.core", "emr_groups.service"];

/// The idle timeout of the spec, in seconds. Validation has parsed it already.
pub fn idle_timeout_seconds(cluster: &crate::spec::Cluster) -> Option<u64> {
    cluster.idle_timeout.as_deref().and_then(|t| crate::calendar::parse_duration(t).ok()).map(|d| d.as_secs())
}

/// The comparable attributes of what the spec asks for.
pub fn desired(config: &ClusterConfig) -> Attributes {
    let cluster = &config.cluster;
    let applications = canonical_applications(cluster.applications.iter().map(String::as_str));
    let mut groups = cluster.security_groups.clone();
    groups.sort();
    let scaling =
        cluster.managed_scaling.as_ref().map(|s| managed_scaling_value(s.min, s.max, s.max_on_demand, s.max_core));
    let bootstrap: Vec<Value> =
        cluster.bootstrap.iter().map(|b| json!({"name": b.name, "path": b.path, "args": b.args})).collect();
    let mut attributes = Attributes::from([
        ("release".to_string(), json!(canonical_release(&cluster.release))),
        ("applications".to_string(), json!(applications)),
        ("subnet".to_string(), json!(cluster.subnet)),
        ("security_groups".to_string(), json!(groups)),
        ("key_pair".to_string(), json!(cluster.key_pair)),
        ("log_uri".to_string(), json!(config.log_uri.as_deref().map(canonical_log_uri))),
        ("master.type".to_string(), json!(cluster.master.instance_type)),
        ("master.count".to_string(), json!(cluster.master.count)),
        (Group::Core.field("type"), json!(cluster.core.instance_type)),
        (Group::Core.field("nodes"), json!(cluster.core.nodes)),
        (Group::Core.field("ebs_gib"), json!(cluster.core.ebs_gib)),
        ("configurations".to_string(), configurations_value(&spec::cluster_configurations(cluster))),
        ("bootstrap".to_string(), json!(bootstrap)),
        ("idle_timeout_seconds".to_string(), json!(idle_timeout_seconds(cluster))),
        ("termination_protection".to_string(), json!(cluster.termination_protection)),
        ("managed_scaling".to_string(), json!(scaling)),
        ("service_role".to_string(), json!(config.service_role)),
        ("instance_profile".to_string(), json!(config.instance_profile)),
    ]);
    let emr = &config.emr_groups;
    for (field, name) in EMR_GROUP_FIELDS.iter().zip([Some(&emr.master), Some(&emr.core), emr.service.as_ref()]) {
        attributes.insert(field.to_string(), json!(name));
    }
    for group in &cluster.task_groups {
        let task = Group::Task(group.name.clone());
        attributes.insert(task.field("type"), json!(group.instance_type));
        attributes.insert(task.field("nodes"), json!(group.nodes));
        attributes.insert(task.field("market"), json!(market_name(group.market)));
    }
    attributes
}

fn readable<T: serde::Serialize>(value: &Readable<T>) -> Value {
    match value {
        Readable::Known(value) => json!(value),
        Readable::Unsupported => json!(UNREADABLE),
    }
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let mut groups: Vec<String> = self.security_group_ids.iter().map(|id| names.name(id)).collect();
        groups.sort();
        let master = self.of_type(InstanceGroupType::Master).next();
        let core = self.of_type(InstanceGroupType::Core).next();
        let applications = canonical_applications(self.applications.iter().map(String::as_str));
        let mut attributes = Attributes::from([
            ("release".to_string(), json!(canonical_release(&self.release))),
            ("applications".to_string(), json!(applications)),
            ("subnet".to_string(), json!(names.name(&self.subnet_id))),
            ("security_groups".to_string(), json!(groups)),
            ("key_pair".to_string(), json!(self.key_pair)),
            ("log_uri".to_string(), json!(self.log_uri.as_deref().map(canonical_log_uri))),
            ("master.type".to_string(), json!(master.map(|g| &g.instance_type))),
            ("master.count".to_string(), json!(master.map(|g| g.requested))),
            (Group::Core.field("type"), json!(core.map(|g| &g.instance_type))),
            (Group::Core.field("nodes"), json!(core.map(|g| g.requested))),
            (Group::Core.field("ebs_gib"), json!(core.and_then(|g| g.ebs_gib))),
            ("configurations".to_string(), self.configurations.clone()),
            ("bootstrap".to_string(), self.bootstrap.clone()),
            ("idle_timeout_seconds".to_string(), readable(&self.idle_timeout_seconds)),
            ("termination_protection".to_string(), json!(self.termination_protection)),
            ("managed_scaling".to_string(), readable(&self.managed_scaling)),
            ("service_role".to_string(), json!(canonical_iam_name(&self.service_role))),
            ("instance_profile".to_string(), json!(canonical_iam_name(&self.instance_profile))),
        ]);
        for (field, group) in EMR_GROUP_FIELDS.iter().zip(&self.emr_group_ids) {
            attributes.insert(field.to_string(), json!(group.as_deref().map(|id| names.name(id))));
        }
        if let Some(replication) = self.hdfs_replication {
            attributes.insert(HDFS_REPLICATION_FIELD.to_string(), json!(replication));
        }
        for group in self.of_type(InstanceGroupType::Task) {
            let task = Group::Task(group.name.clone());
            attributes.insert(task.field("type"), json!(group.instance_type));
            attributes.insert(task.field("nodes"), json!(group.requested));
            attributes.insert(task.field("market"), json!(group.market));
        }
        let log_bucket = self
            .log_uri
            .as_deref()
            .map(canonical_log_uri)
            .and_then(|uri| uri.strip_prefix("s3://").and_then(|rest| rest.split('/').next()).map(str::to_string));
        let roles = [canonical_iam_name(&self.service_role), canonical_iam_name(&self.instance_profile)];
        // The EMR-managed groups too: destroy terminates the cluster before deleting them.
        let depends_on = std::iter::once(&self.subnet_id)
            .chain(&self.security_group_ids)
            .chain(self.emr_group_ids.iter().flatten())
            .filter_map(|physical| names.id(physical).cloned())
            .chain(log_bucket.as_deref().map(bucket::id))
            .chain(roles.iter().filter_map(|role| names.id(role).cloned()))
            .collect();
        (attributes, depends_on)
    }

    fn holds_data(&self) -> Option<String> {
        Some("terminating the cluster ends its running steps and loses HDFS data".to_string())
    }

    /// Instance group id → `core` or the task group's name, for schedules that target them.
    fn labels(&self) -> Vec<(String, String)> {
        self.groups.iter().map(|group| (group.id.clone(), group.label())).collect()
    }
}

/// Reconciles the spec with deliberate live facts: a size recorded by `pipectl scale` is not
/// drift, and a task group the spec dropped is only resized to 0 (EMR cannot delete groups).
/// Returns notices for the plan.
/// `current` holds the live attributes as described (with the pipeline's names).
pub fn adjust(
    id: &ResourceId,
    live: &Live,
    tags: &Tags,
    current: &Attributes,
    desired: &mut Attributes,
    reset_scale: bool,
) -> Vec<String> {
    let mut notices = Vec::new();
    // What the spec leaves to EMR is whatever EMR chose: EMR attaches default EBS volumes to
    // EBS-only instance types ("Instance storage", Amazon EMR Management Guide), and emulators
    // report a service-access group for a cluster in a public subnet that was given none.
    // The HDFS replication is a fact of the live cluster the spec does not state (it is read to
    // judge a core shrink, `core_shrink_loses_data`).
    for field in [Group::Core.field("ebs_gib"), EMR_GROUP_FIELDS[2].to_string(), HDFS_REPLICATION_FIELD.to_string()] {
        if desired.get(&field).is_none_or(Value::is_null) {
            if let Some(value) = current.get(&field).filter(|value| !value.is_null()) {
                desired.insert(field, value.clone());
            }
        }
    }
    for (name, record) in scale_records(tags) {
        let group = Group::parse(&name);
        let key = group.field("nodes");
        let live_nodes = live.group(&group).map(|g| g.requested);
        let Some(wanted) = desired.get(&key).and_then(Value::as_i64) else { continue };
        if live_nodes != Some(record.nodes) || record.nodes == wanted {
            continue;
        }
        let until = record.until.as_deref().map(|until| format!(" until {until}")).unwrap_or_default();
        let label = group.label();
        if reset_scale {
            notices.push(format!(
                "{id}: {label} is scaled to {} (baseline {wanted}); --reset-scale returns it to {wanted}",
                record.nodes
            ));
        } else {
            notices.push(format!("{id}: {label} scaled to {} (baseline {wanted}){until}; not a change (`pipectl scale --group {group} --reset` returns it)", record.nodes));
            desired.insert(key, json!(record.nodes));
        }
    }
    for group in live.of_type(InstanceGroupType::Task) {
        let task = Group::Task(group.name.clone());
        let prefix = task.field("");
        if desired.keys().any(|key| key.starts_with(&prefix)) {
            continue;
        }
        desired.insert(task.field("type"), json!(group.instance_type));
        desired.insert(task.field("market"), json!(group.market));
        desired.insert(task.field("nodes"), json!(0));
        if group.requested > 0 {
            notices.push(format!("{id}: task group '{}' left the spec; EMR cannot delete instance groups, so it is resized to 0 and stays", group.name));
        }
    }
    if desired.get("managed_scaling").is_some_and(|scaling| !scaling.is_null()) {
        notices.extend(leave_sizes_to_emr(id, live, desired));
    }
    notices
}

/// With managed scaling, EMR sizes the core and task groups ("The policy only applies to the
/// core and task nodes", ManagedScalingPolicy, EMR API Reference; see
/// `spec::managed_scaling_refusal`): their live sizes are what the spec wants, so a plan reads
/// them without calling them drift and apply never resizes them. Returns a notice naming the
/// groups EMR moved from the spec's baseline.
fn leave_sizes_to_emr(id: &ResourceId, live: &Live, desired: &mut Attributes) -> Option<String> {
    let mut moved = Vec::new();
    for (group, live_group) in live.groups.iter().filter_map(|g| Some((g.group()?, g))) {
        let key = group.field("nodes");
        let baseline = desired.insert(key, json!(live_group.requested)).and_then(|value| value.as_i64());
        if baseline.is_some_and(|baseline| baseline != live_group.requested) {
            moved.push(format!("{} at {} (baseline {})", group.label(), live_group.requested, baseline.unwrap_or(0)));
        }
    }
    moved.sort();
    (!moved.is_empty()).then(|| {
        format!(
            "{id}: managed scaling has sized the {}; EMR sizes these groups, so this is not a change",
            moved.join(", ")
        )
    })
}

pub fn change_notes(action: Action) -> Vec<String> {
    match action {
        Action::Replace => {
            vec!["replacing a cluster terminates it: running steps end and HDFS data is lost".to_string()]
        }
        _ => Vec::new(),
    }
}

/// Why apply must not replace or delete this cluster, if it must not.
pub fn refusal(id: &ResourceId, live: &Live) -> Option<String> {
    live.termination_protection.then(|| {
        format!("{id} has termination protection on: set `termination_protection: false`, apply, then replace or destroy it")
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::id;
    use super::*;

    /// A WAITING cluster with a master, four core nodes and the task group `batch`.
    pub(crate) fn live(batch_nodes: i64) -> Live {
        let group = |id: &str, name: &str, role: InstanceGroupType, requested: i64| InstanceGroup {
            id: id.into(),
            name: name.into(),
            role: Some(role),
            instance_type: "m5.xlarge".into(),
            requested,
            running: requested,
            market: "on-demand".into(),
            ebs_gib: None,
        };
        Live {
            arn: String::new(),
            state: State(Some(ClusterState::Waiting)),
            release: "emr-7.2.0".into(),
            applications: vec!["Spark".into()],
            subnet_id: "subnet-1".into(),
            security_group_ids: vec![],
            key_pair: None,
            log_uri: None,
            groups: vec![
                group("ig-m", "master", InstanceGroupType::Master, 1),
                group("ig-c", "core", InstanceGroupType::Core, 4),
                group("ig-b", "batch", InstanceGroupType::Task, batch_nodes),
            ],
            configurations: json!([]),
            bootstrap: json!([]),
            idle_timeout_seconds: Readable::Unsupported,
            termination_protection: false,
            managed_scaling: Readable::Unsupported,
            service_role: String::new(),
            instance_profile: String::new(),
            emr_group_ids: [None, None, None],
            hdfs_replication: None,
            master_dns: None,
        }
    }

    #[test]
    fn health_shows_group_sizes_and_pending_scale_backs() {
        let tags = Tags::from([
            ("pipectl:scale:batch".to_string(), "nodes=20 baseline=2 until=2026-11-23T06:00:00Z".to_string()),
            ("pipectl:scale:core".to_string(), "nodes=6 baseline=4".to_string()),
        ]);
        let health = health(&tags, &live(20));
        let facts: Vec<String> = health.facts.iter().map(|fact| format!("{}: {}", fact.label, fact.value)).collect();
        assert_eq!(
            facts,
            [
                "state: WAITING",
                "group master: 1 of 1 running (m5.xlarge on-demand)",
                "group core: 4 of 4 running (m5.xlarge on-demand)",
                "group batch: 20 of 20 running (m5.xlarge on-demand)",
                "scaled batch: 20 nodes, back to 2 at 2026-11-23T06:00:00Z",
                "scaled core: 6 nodes (baseline 4), no scale-back scheduled",
            ]
        );
        assert!(health.problems.is_empty());
        let ended = Live { state: State(Some(ClusterState::TerminatedWithErrors)), ..live(0) };
        assert_eq!(health_of(&ended), ["the cluster is TERMINATED_WITH_ERRORS"]);
    }

    fn health_of(live: &Live) -> Vec<String> {
        health(&Tags::new(), live).problems
    }

    #[test]
    fn scale_records_round_trip() {
        let record = ScaleRecord { nodes: 20, baseline: 4, until: Some("2026-11-23T06:00:00Z".into()) };
        assert_eq!(ScaleRecord::parse(&record.to_tag()), Some(record));
        assert_eq!(ScaleRecord::parse("nodes=x"), None);
    }

    #[test]
    fn a_recorded_scale_is_not_drift_unless_reset() {
        let id = id("spark");
        let tags = Tags::from([(format!("{SCALE_TAG_PREFIX}batch"), "nodes=20 baseline=0 until=06:00".to_string())]);
        let mut desired = Attributes::from([("task.batch.nodes".to_string(), json!(0))]);
        let notices = adjust(&id, &live(20), &tags, &Attributes::new(), &mut desired, false);
        assert_eq!(desired["task.batch.nodes"], json!(20));
        assert_eq!(notices, ["cluster/spark: task group 'batch' scaled to 20 (baseline 0) until 06:00; not a change (`pipectl scale --group batch --reset` returns it)"]);
        let mut desired = Attributes::from([("task.batch.nodes".to_string(), json!(0))]);
        adjust(&id, &live(20), &tags, &Attributes::new(), &mut desired, true);
        assert_eq!(desired["task.batch.nodes"], json!(0));
        // A record that no longer matches the live size (the scale-back ran) changes nothing.
        let mut desired = Attributes::from([("task.batch.nodes".to_string(), json!(0))]);
        assert!(adjust(&id, &live(0), &tags, &Attributes::new(), &mut desired, false).is_empty());
    }

    #[test]
    fn groups_under_managed_scaling_are_read_not_compared() {
        let id = id("spark");
        let desired = |scaling: Value| {
            Attributes::from([
                ("core.nodes".to_string(), json!(2)),
                ("task.batch.nodes".to_string(), json!(0)),
                ("managed_scaling".to_string(), scaling),
            ])
        };
        // EMR grew core to 4 and batch to 7: that is what the spec wants, and the plan says so.
        let mut managed = desired(json!({"min": 1, "max": 30}));
        let notices = adjust(&id, &live(7), &Tags::new(), &Attributes::new(), &mut managed, false);
        assert_eq!((&managed["core.nodes"], &managed["task.batch.nodes"]), (&json!(4), &json!(7)));
        assert_eq!(notices, ["cluster/spark: managed scaling has sized the core group at 4 (baseline 2), task group 'batch' at 7 (baseline 0); EMR sizes these groups, so this is not a change"]);
        // Without managed scaling the baseline stands, and the difference is a change.
        let mut fixed = desired(Value::Null);
        assert!(adjust(&id, &live(7), &Tags::new(), &Attributes::new(), &mut fixed, false).is_empty());
        assert_eq!((&fixed["core.nodes"], &fixed["task.batch.nodes"]), (&json!(2), &json!(0)));
    }

    #[test]
    fn the_hdfs_replication_is_the_launch_configuration_else_the_launch_record() {
        let tags = Tags::from([(HDFS_REPLICATION_TAG.to_string(), "2".to_string())]);
        let configured = json!([{"classification": "hdfs-site", "properties": {"dfs.replication": "3"}}]);
        assert_eq!(hdfs_replication(&configured, &tags), Some(3));
        assert_eq!(hdfs_replication(&json!([]), &tags), Some(2));
        assert_eq!(hdfs_replication(&json!([]), &Tags::new()), None);
        assert!(is_note(HDFS_REPLICATION_TAG) && is_note("pipectl:scale:batch") && !is_note("team"));
    }

    #[test]
    fn a_core_shrink_below_the_replication_destroys_data() {
        let attributes = |core: i64, replication: Option<i64>| {
            let mut attributes = Attributes::from([("core.nodes".to_string(), json!(core))]);
            if let Some(replication) = replication {
                attributes.insert(HDFS_REPLICATION_FIELD.to_string(), json!(replication));
            }
            attributes
        };
        // Launched with 12 core nodes (replication 3): 12 → 2 goes below it, 12 → 3 does not,
        // though EMR's default for 2 or 3 nodes would be 1.
        let loss = core_shrink_loses_data(&attributes(12, Some(3)), &attributes(2, None)).expect("below 3");
        assert!(
            loss.starts_with("shrinking core from 12 to 2 nodes goes below the cluster's HDFS replication (3)"),
            "{loss}"
        );
        assert_eq!(core_shrink_loses_data(&attributes(12, Some(3)), &attributes(3, None)), None);
        // Launched with 2 (replication 1) and grown to 12: back to 2 loses nothing.
        assert_eq!(core_shrink_loses_data(&attributes(12, Some(1)), &attributes(2, None)), None);
        // Unknown replication: EMR's default for the live count stands in; growing never loses.
        assert!(core_shrink_loses_data(&attributes(12, None), &attributes(2, None)).is_some());
        assert_eq!(core_shrink_loses_data(&attributes(2, Some(3)), &attributes(4, None)), None);
        // The replication is read, never a difference: adjust copies it to the desired side.
        let mut live = live(0);
        live.hdfs_replication = Some(3);
        let (current, _) = live.describe("j-1", &Names::default());
        let mut desired = Attributes::from([("core.nodes".to_string(), json!(4))]);
        adjust(&id("spark"), &live, &Tags::new(), &current, &mut desired, false);
        assert_eq!(desired[HDFS_REPLICATION_FIELD], json!(3));
    }

    #[test]
    fn a_dropped_task_group_is_resized_to_zero() {
        let id = id("spark");
        let mut desired = Attributes::new();
        let notices = adjust(&id, &live(5), &Tags::new(), &Attributes::new(), &mut desired, false);
        assert_eq!(desired["task.batch.nodes"], json!(0));
        assert!(notices[0].contains("EMR cannot delete instance groups"), "{notices:?}");
    }

    #[test]
    fn instance_groups_are_labelled_with_their_spec_names() {
        let labels = live(0).labels();
        assert_eq!(
            labels,
            [("ig-m", "master"), ("ig-c", "core"), ("ig-b", "batch")]
                .map(|(id, name)| (id.to_string(), name.to_string()))
        );
        let live = live(0);
        assert_eq!(live.group(&Group::Core).map(|g| g.id.as_str()), Some("ig-c"));
        assert_eq!(live.group(&Group::parse("master")).map(|g| g.id.as_str()), None);
    }
}

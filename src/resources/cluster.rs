//! EMR clusters. Group sizes, new task groups, managed scaling, auto-termination, termination
//! protection and tags change in place; release, applications, instance types, subnet, master
//! count, configurations and bootstrap actions replace the cluster, which ends its running steps
//! and loses HDFS data (the plan says so). Sizes recorded by `pipectl scale` are not drift.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_emr::types::{
    Application, AutoTerminationPolicy, BootstrapActionConfig, ClusterState, ComputeLimits, ComputeLimitsUnitType,
    Configuration, EbsBlockDeviceConfig, EbsConfiguration, InstanceGroupConfig, InstanceGroupModifyConfig,
    InstanceRoleType, JobFlowInstancesConfig, ManagedScalingPolicy, MarketType, ScriptBootstrapActionConfig, Tag,
    VolumeSpecification,
};
use serde_json::{json, Value};

use super::wait::{wait_until, Poll};
use super::{
    aws_error, owned_by, ownership_conflict, AwsError, Clients, Context, LiveDetail, LiveResource, NamedRead, Names,
    Tags,
};
use crate::model::{ClusterConfig, DesiredResource, Kind, ResourceId, RESOURCE_TAG};
use crate::plan::{Action, Attributes, UNREADABLE};
use crate::spec::{Cluster, Market};

/// Tag key prefix recording a deliberate resize: `pipectl:scale:<group>`.
pub const SCALE_TAG_PREFIX: &str = "pipectl:scale:";
/// Clusters in these states are alive; terminated ones are history.
pub const ACTIVE_STATES: [ClusterState; 4] =
    [ClusterState::Starting, ClusterState::Bootstrapping, ClusterState::Running, ClusterState::Waiting];
/// How long to keep retrying while a fresh role or instance profile is not visible to EMR yet.
const ROLE_PROPAGATION: Duration = Duration::from_secs(120);

/// One instance group as EMR reports it.
#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: String,
    /// `MASTER`, `CORE` or `TASK`.
    pub role: String,
    pub instance_type: String,
    pub requested: i64,
    pub running: i64,
    pub market: String,
    pub ebs_gib: Option<i64>,
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
    pub state: String,
    pub release: String,
    pub applications: Vec<String>,
    pub subnet_id: String,
    pub security_group_ids: Vec<String>,
    pub key_pair: Option<String>,
    pub log_uri: Option<String>,
    pub groups: Vec<Group>,
    pub configurations: Value,
    pub bootstrap: Value,
    pub idle_timeout_seconds: Readable<Option<i64>>,
    pub termination_protection: bool,
    pub managed_scaling: Readable<Option<Value>>,
    pub service_role: String,
    pub instance_profile: String,
}

impl Live {
    /// The group a user means by `core` or a task group name.
    pub fn group(&self, name: &str) -> Option<&Group> {
        if name == "core" {
            self.groups.iter().find(|group| group.role == "CORE")
        } else {
            self.groups.iter().find(|group| group.role == "TASK" && group.name == name)
        }
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

/// The scale records on a cluster's tags, by group name.
pub fn scale_records(tags: &Tags) -> BTreeMap<String, ScaleRecord> {
    tags.iter()
        .filter_map(|(key, value)| Some((key.strip_prefix(SCALE_TAG_PREFIX)?.to_string(), ScaleRecord::parse(value)?)))
        .collect()
}

fn market_name(market: Market) -> &'static str {
    match market {
        Market::OnDemand => "on-demand",
        Market::Spot => "spot",
    }
}

fn configurations_value(configurations: &[crate::spec::Configuration]) -> Value {
    let mut values: Vec<Value> = configurations
        .iter()
        .map(|c| json!({"classification": c.classification, "properties": c.properties}))
        .collect();
    values.sort_by_key(|value| value["classification"].as_str().map(str::to_string));
    Value::Array(values)
}

fn managed_scaling_value(min: i64, max: i64, max_on_demand: Option<i64>, max_core: Option<i64>) -> Value {
    json!({"min": min, "max": max, "max_on_demand": max_on_demand, "max_core": max_core})
}

pub fn desired_attributes(config: &ClusterConfig) -> Attributes {
    let cluster = &config.cluster;
    let mut applications = cluster.applications.clone();
    applications.sort();
    let mut groups = cluster.security_groups.clone();
    groups.sort();
    let idle =
        cluster.idle_timeout.as_deref().and_then(|t| crate::duration::parse_duration(t).ok()).map(|d| d.as_secs());
    let scaling =
        cluster.managed_scaling.as_ref().map(|s| managed_scaling_value(s.min, s.max, s.max_on_demand, s.max_core));
    let bootstrap: Vec<Value> =
        cluster.bootstrap.iter().map(|b| json!({"name": b.name, "path": b.path, "args": b.args})).collect();
    let mut attributes = Attributes::from([
        ("release".to_string(), json!(cluster.release)),
        ("applications".to_string(), json!(applications)),
        ("subnet".to_string(), json!(cluster.subnet)),
        ("security_groups".to_string(), json!(groups)),
        ("key_pair".to_string(), json!(cluster.key_pair)),
        ("log_uri".to_string(), json!(config.log_uri)),
        ("master.type".to_string(), json!(cluster.master.instance_type)),
        ("master.count".to_string(), json!(cluster.master.count)),
        ("core.type".to_string(), json!(cluster.core.instance_type)),
        ("core.nodes".to_string(), json!(cluster.core.nodes)),
        ("core.ebs_gib".to_string(), json!(cluster.core.ebs_gib)),
        ("configurations".to_string(), configurations_value(&cluster.configurations)),
        ("bootstrap".to_string(), json!(bootstrap)),
        ("idle_timeout_seconds".to_string(), json!(idle)),
        ("termination_protection".to_string(), json!(cluster.termination_protection)),
        ("managed_scaling".to_string(), json!(scaling)),
        ("service_role".to_string(), json!(config.service_role)),
        ("instance_profile".to_string(), json!(config.instance_profile)),
    ]);
    for group in &cluster.task_groups {
        attributes.insert(format!("task.{}.type", group.name), json!(group.instance_type));
        attributes.insert(format!("task.{}.nodes", group.name), json!(group.nodes));
        attributes.insert(format!("task.{}.market", group.name), json!(market_name(group.market)));
    }
    attributes
}

fn readable<T: serde::Serialize>(value: &Readable<T>) -> Value {
    match value {
        Readable::Known(value) => json!(value),
        Readable::Unsupported => json!(UNREADABLE),
    }
}

pub fn live_attributes(live: &Live, names: &Names) -> (Attributes, Vec<ResourceId>) {
    let mut groups: Vec<String> = live.security_group_ids.iter().map(|id| names.name(id)).collect();
    groups.sort();
    let master = live.groups.iter().find(|group| group.role == "MASTER");
    let core = live.groups.iter().find(|group| group.role == "CORE");
    let mut attributes = Attributes::from([
        ("release".to_string(), json!(live.release)),
        ("applications".to_string(), json!(live.applications)),
        ("subnet".to_string(), json!(names.name(&live.subnet_id))),
        ("security_groups".to_string(), json!(groups)),
        ("key_pair".to_string(), json!(live.key_pair)),
        ("log_uri".to_string(), json!(live.log_uri)),
        ("master.type".to_string(), json!(master.map(|g| &g.instance_type))),
        ("master.count".to_string(), json!(master.map(|g| g.requested))),
        ("core.type".to_string(), json!(core.map(|g| &g.instance_type))),
        ("core.nodes".to_string(), json!(core.map(|g| g.requested))),
        ("core.ebs_gib".to_string(), json!(core.and_then(|g| g.ebs_gib))),
        ("configurations".to_string(), live.configurations.clone()),
        ("bootstrap".to_string(), live.bootstrap.clone()),
        ("idle_timeout_seconds".to_string(), readable(&live.idle_timeout_seconds)),
        ("termination_protection".to_string(), json!(live.termination_protection)),
        ("managed_scaling".to_string(), readable(&live.managed_scaling)),
        ("service_role".to_string(), json!(live.service_role)),
        ("instance_profile".to_string(), json!(live.instance_profile)),
    ]);
    for group in live.groups.iter().filter(|group| group.role == "TASK") {
        attributes.insert(format!("task.{}.type", group.name), json!(group.instance_type));
        attributes.insert(format!("task.{}.nodes", group.name), json!(group.requested));
        attributes.insert(format!("task.{}.market", group.name), json!(group.market));
    }
    let depends_on = std::iter::once(&live.subnet_id)
        .chain(&live.security_group_ids)
        .filter_map(|physical| names.id(physical).cloned())
        .chain(
            live.log_uri
                .as_deref()
                .and_then(|uri| uri.strip_prefix("s3://")?.split('/').next())
                .map(|b| ResourceId::new(Kind::Bucket, b)),
        )
        .chain([&live.service_role, &live.instance_profile].into_iter().filter_map(|role| names.id(role).cloned()))
        .collect();
    (attributes, depends_on)
}

/// Reconciles the spec with deliberate live facts: a size recorded by `pipectl scale` is not
/// drift, and a task group the spec dropped is only resized to 0 (EMR cannot delete groups).
/// Returns notices for the plan.
pub fn adjust_desired(
    id: &ResourceId,
    live: &Live,
    tags: &Tags,
    desired: &mut Attributes,
    reset_scale: bool,
) -> Vec<String> {
    let mut notices = Vec::new();
    for (group, record) in scale_records(tags) {
        let key = if group == "core" { "core.nodes".to_string() } else { format!("task.{group}.nodes") };
        let live_nodes = live.group(&group).map(|g| g.requested);
        let Some(wanted) = desired.get(&key).and_then(Value::as_i64) else { continue };
        if live_nodes != Some(record.nodes) || record.nodes == wanted {
            continue;
        }
        let until = record.until.as_deref().map(|until| format!(" until {until}")).unwrap_or_default();
        let label = if group == "core" { "core group".to_string() } else { format!("task group '{group}'") };
        if reset_scale {
            notices.push(format!(
                "{id}: {label} is scaled to {} (baseline {wanted}); --reset-scale returns it to {wanted}",
                record.nodes
            ));
        } else {
            notices.push(format!("{id}: {label} scaled to {} (baseline {wanted}){until}; not a change (`pipectl scale --reset` returns it)", record.nodes));
            desired.insert(key, json!(record.nodes));
        }
    }
    for group in live.groups.iter().filter(|group| group.role == "TASK") {
        let prefix = format!("task.{}.", group.name);
        if desired.keys().any(|key| key.starts_with(&prefix)) {
            continue;
        }
        desired.insert(format!("{prefix}type"), json!(group.instance_type));
        desired.insert(format!("{prefix}market"), json!(group.market));
        desired.insert(format!("{prefix}nodes"), json!(0));
        if group.requested > 0 {
            notices.push(format!("{id}: task group '{}' left the spec; EMR cannot delete instance groups, so it is resized to 0 and stays", group.name));
        }
    }
    notices
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

/// True when an emulator answers that it does not implement the operation.
fn unsupported(clients: &Clients, error: &AwsError) -> bool {
    clients.emulated
        && (error.message.contains("500")
            || error.has_code("InternalFailure")
            || error.has_code("NotImplemented")
            || error.message.contains("not yet implemented")
            || error.code.is_none())
}

/// Emulators answer operations they lack with HTTP 500, which the SDK would retry with backoff
/// for seconds; against an emulator, reads that may be missing are tried once.
fn probe_config(clients: &Clients) -> aws_sdk_emr::config::Builder {
    let builder = aws_sdk_emr::config::Builder::default();
    if clients.emulated {
        builder.retry_config(aws_sdk_emr::config::retry::RetryConfig::disabled())
    } else {
        builder
    }
}

async fn describe(
    clients: &Clients,
    cluster_id: &str,
    warnings: &super::Warnings,
) -> Result<Option<(Tags, String, Live)>, AwsError> {
    let emr = &clients.emr;
    let id = format!("cluster/{cluster_id}");
    let output = match emr.describe_cluster().cluster_id(cluster_id).send().await {
        Ok(output) => output,
        Err(error) => {
            let error = aws_error(&id, "DescribeCluster", error);
            return if error.is_not_found() || error.has_code("InvalidRequestException") {
                Ok(None)
            } else {
                Err(error)
            };
        }
    };
    let Some(cluster) = output.cluster() else { return Ok(None) };
    let groups = async {
        let output = emr
            .list_instance_groups()
            .cluster_id(cluster_id)
            .send()
            .await
            .map_err(|e| aws_error(&id, "ListInstanceGroups", e))?;
        Ok::<_, AwsError>(
            output
                .instance_groups()
                .iter()
                .map(|group| Group {
                    id: group.id().unwrap_or_default().to_string(),
                    name: group.name().unwrap_or_default().to_string(),
                    role: group.instance_group_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
                    instance_type: group.instance_type().unwrap_or_default().to_string(),
                    requested: i64::from(group.requested_instance_count().unwrap_or(0)),
                    running: i64::from(group.running_instance_count().unwrap_or(0)),
                    market: match group.market() {
                        Some(MarketType::Spot) => "spot".to_string(),
                        _ => "on-demand".to_string(),
                    },
                    ebs_gib: group
                        .ebs_block_devices()
                        .first()
                        .and_then(|d| d.volume_specification())
                        .and_then(|v| v.size_in_gb())
                        .map(i64::from),
                })
                .collect::<Vec<_>>(),
        )
    };
    let bootstrap = async {
        let output = emr
            .list_bootstrap_actions()
            .cluster_id(cluster_id)
            .send()
            .await
            .map_err(|e| aws_error(&id, "ListBootstrapActions", e))?;
        let actions: Vec<Value> = output
            .bootstrap_actions()
            .iter()
            .map(|a| json!({"name": a.name().unwrap_or_default(), "path": a.script_path().unwrap_or_default(), "args": a.args()}))
            .collect();
        Ok::<_, AwsError>(Value::Array(actions))
    };
    let idle = async {
        match emr
            .get_auto_termination_policy()
            .cluster_id(cluster_id)
            .customize()
            .config_override(probe_config(clients))
            .send()
            .await
        {
            Ok(output) => Ok(Readable::Known(output.auto_termination_policy().and_then(|p| p.idle_timeout()))),
            Err(error) => {
                let error = aws_error(&id, "GetAutoTerminationPolicy", error);
                if unsupported(clients, &error) {
                    warnings.add("emr:GetAutoTerminationPolicy");
                    Ok(Readable::Unsupported)
                } else {
                    Err(error)
                }
            }
        }
    };
    let scaling = async {
        match emr
            .get_managed_scaling_policy()
            .cluster_id(cluster_id)
            .customize()
            .config_override(probe_config(clients))
            .send()
            .await
        {
            Ok(output) => {
                Ok(Readable::Known(output.managed_scaling_policy().and_then(|p| p.compute_limits()).map(|limits| {
                    managed_scaling_value(
                        i64::from(limits.minimum_capacity_units().unwrap_or(0)),
                        i64::from(limits.maximum_capacity_units().unwrap_or(0)),
                        limits.maximum_on_demand_capacity_units().map(i64::from),
                        limits.maximum_core_capacity_units().map(i64::from),
                    )
                })))
            }
            Err(error) => {
                let error = aws_error(&id, "GetManagedScalingPolicy", error);
                if unsupported(clients, &error) {
                    warnings.add("emr:GetManagedScalingPolicy");
                    Ok(Readable::Unsupported)
                } else {
                    Err(error)
                }
            }
        }
    };
    let (groups, bootstrap, idle_timeout_seconds, managed_scaling) =
        tokio::try_join!(groups, bootstrap, idle, scaling)?;
    let tags: Tags = cluster
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .collect();
    let attributes = cluster.ec2_instance_attributes();
    let mut applications: Vec<String> =
        cluster.applications().iter().filter_map(|a| a.name().map(str::to_string)).collect();
    applications.sort();
    let mut configurations: Vec<Value> = cluster
        .configurations()
        .iter()
        .map(|c| {
            let properties: BTreeMap<&String, &String> = c.properties().into_iter().flatten().collect();
            json!({"classification": c.classification().unwrap_or_default(), "properties": properties})
        })
        .collect();
    configurations.sort_by_key(|value| value["classification"].as_str().map(str::to_string));
    let live = Live {
        arn: cluster.cluster_arn().unwrap_or_default().to_string(),
        state: cluster.status().and_then(|s| s.state()).map(|s| s.as_str().to_string()).unwrap_or_default(),
        release: cluster.release_label().unwrap_or_default().to_string(),
        applications,
        subnet_id: attributes.and_then(|a| a.ec2_subnet_id()).unwrap_or_default().to_string(),
        security_group_ids: attributes.map(|a| a.additional_master_security_groups().to_vec()).unwrap_or_default(),
        key_pair: attributes.and_then(|a| a.ec2_key_name()).map(str::to_string),
        log_uri: cluster.log_uri().map(str::to_string),
        groups,
        configurations: Value::Array(configurations),
        bootstrap,
        idle_timeout_seconds,
        termination_protection: cluster.termination_protected().unwrap_or(false),
        managed_scaling,
        service_role: cluster.service_role().unwrap_or_default().to_string(),
        instance_profile: attributes.and_then(|a| a.iam_instance_profile()).unwrap_or_default().to_string(),
    };
    Ok(Some((tags, cluster.name().unwrap_or_default().to_string(), live)))
}

/// True when EMR's `group` is what the spec calls `name`: `core`, or a task group's name.
pub fn is_group(group: &aws_sdk_emr::types::InstanceGroup, name: &str) -> bool {
    let role = group.instance_group_type().map(|t| t.as_str()).unwrap_or_default();
    if name == "core" {
        role == "CORE"
    } else {
        role == "TASK" && group.name() == Some(name)
    }
}

/// Lists the active clusters whose names start with the pipeline's prefix.
pub async fn list_active(emr: &aws_sdk_emr::Client, prefix: &str) -> Result<Vec<(String, String)>, AwsError> {
    let mut found = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let output = emr
            .list_clusters()
            .set_cluster_states(Some(ACTIVE_STATES.to_vec()))
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|error| aws_error("cluster", "ListClusters", error))?;
        for summary in output.clusters() {
            if let (Some(id), Some(name)) = (summary.id(), summary.name()) {
                if name.starts_with(prefix) {
                    found.push((id.to_string(), name.to_string()));
                }
            }
        }
        marker = output.marker().map(str::to_string);
        if marker.is_none() {
            return Ok(found);
        }
    }
}

/// Reads the pipeline's active clusters: named `<pipeline>-…` and tagged as ours.
pub async fn read(
    clients: &Clients,
    pipeline: &str,
    spec_names: &[String],
    warnings: &super::Warnings,
) -> Result<NamedRead, AwsError> {
    let listed = list_active(&clients.emr, &format!("{pipeline}-")).await?;
    let described =
        futures::future::try_join_all(listed.iter().map(|(cluster_id, _)| describe(clients, cluster_id, warnings)))
            .await?;
    let mut result = NamedRead::default();
    for ((cluster_id, name), described) in listed.iter().zip(described) {
        let Some((tags, _, live)) = described else { continue };
        let spec_name = name.strip_prefix(&format!("{pipeline}-")).unwrap_or(name);
        let claimed =
            tags.get(RESOURCE_TAG).and_then(|value| ResourceId::parse(value)).filter(|id| id.kind == Kind::Cluster);
        match claimed {
            Some(id) if owned_by(&tags, pipeline) => {
                result.found.push(LiveResource::new(id, cluster_id, tags, LiveDetail::Cluster(Box::new(live))))
            }
            _ if spec_names.iter().any(|spec| spec == spec_name) => {
                let id = ResourceId::new(Kind::Cluster, spec_name);
                result.conflicts.push(ownership_conflict(
                    &id,
                    &tags,
                    pipeline,
                    &format!(" (aws emr add-tags --resource-id {cluster_id})"),
                ));
            }
            _ => {}
        }
    }
    Ok(result)
}

fn emr_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
}

fn market(market: Market) -> MarketType {
    match market {
        Market::OnDemand => MarketType::OnDemand,
        Market::Spot => MarketType::Spot,
    }
}

fn group_config(
    name: &str,
    role: InstanceRoleType,
    instance_type: &str,
    count: i64,
    market_type: MarketType,
    ebs_gib: Option<i64>,
) -> InstanceGroupConfig {
    let ebs = ebs_gib.map(|gib| {
        let volume = VolumeSpecification::builder()
            .volume_type("gp3")
            .size_in_gb(i32::try_from(gib).unwrap_or(i32::MAX))
            .build();
        EbsConfiguration::builder()
            .ebs_block_device_configs(
                EbsBlockDeviceConfig::builder().volume_specification(volume).volumes_per_instance(1).build(),
            )
            .build()
    });
    InstanceGroupConfig::builder()
        .name(name)
        .instance_role(role)
        .instance_type(instance_type)
        .instance_count(i32::try_from(count).unwrap_or(0))
        .market(market_type)
        .set_ebs_configuration(ebs)
        .build()
}

fn scaling_policy(cluster: &Cluster) -> Option<ManagedScalingPolicy> {
    let scaling = cluster.managed_scaling.as_ref()?;
    let to_i32 = |value: i64| i32::try_from(value).unwrap_or(i32::MAX);
    let limits = ComputeLimits::builder()
        .unit_type(ComputeLimitsUnitType::Instances)
        .minimum_capacity_units(to_i32(scaling.min))
        .maximum_capacity_units(to_i32(scaling.max))
        .set_maximum_on_demand_capacity_units(scaling.max_on_demand.map(to_i32))
        .set_maximum_core_capacity_units(scaling.max_core.map(to_i32))
        .build();
    Some(ManagedScalingPolicy::builder().compute_limits(limits).build())
}

fn idle_timeout(cluster: &Cluster) -> Option<i64> {
    cluster
        .idle_timeout
        .as_deref()
        .and_then(|t| crate::duration::parse_duration(t).ok())
        .and_then(|d| i64::try_from(d.as_secs()).ok())
}

/// True for the errors EMR gives while a new role or instance profile has not propagated.
fn role_not_ready(error: &AwsError) -> bool {
    error.has_code("ValidationException") && {
        let message = error.message.to_lowercase();
        message.contains("role") || message.contains("instance profile") || message.contains("instanceprofile")
    }
}

pub async fn create(ctx: &Context, resource: &DesiredResource, config: &ClusterConfig) -> Result<String, AwsError> {
    let id = &resource.id;
    let cluster = &config.cluster;
    let emr = &ctx.clients.emr;
    let subnet = ctx.physical_id(&ResourceId::new(Kind::Subnet, &cluster.subnet))?;
    let mut security_groups = Vec::new();
    for group in &cluster.security_groups {
        security_groups.push(ctx.physical_id(&ResourceId::new(Kind::SecurityGroup, group))?);
    }
    let mut groups = vec![
        group_config(
            "master",
            InstanceRoleType::Master,
            &cluster.master.instance_type,
            cluster.master.count,
            MarketType::OnDemand,
            None,
        ),
        group_config(
            "core",
            InstanceRoleType::Core,
            &cluster.core.instance_type,
            cluster.core.nodes,
            MarketType::OnDemand,
            cluster.core.ebs_gib,
        ),
    ];
    groups.extend(
        cluster
            .task_groups
            .iter()
            .map(|g| group_config(&g.name, InstanceRoleType::Task, &g.instance_type, g.nodes, market(g.market), None)),
    );
    let instances = JobFlowInstancesConfig::builder()
        .set_instance_groups(Some(groups))
        .ec2_subnet_id(subnet)
        .set_additional_master_security_groups(Some(security_groups.clone()))
        .set_additional_slave_security_groups(Some(security_groups))
        .set_ec2_key_name(cluster.key_pair.clone())
        .keep_job_flow_alive_when_no_steps(true)
        .termination_protected(cluster.termination_protection)
        .build();
    let applications: Vec<Application> =
        cluster.applications.iter().map(|name| Application::builder().name(name).build()).collect();
    let configurations: Vec<Configuration> = cluster
        .configurations
        .iter()
        .map(|c| {
            Configuration::builder()
                .classification(&c.classification)
                .set_properties(Some(c.properties.clone().into_iter().collect()))
                .build()
        })
        .collect();
    let bootstrap: Vec<BootstrapActionConfig> = cluster
        .bootstrap
        .iter()
        .map(|b| {
            let script = ScriptBootstrapActionConfig::builder().path(&b.path).set_args(Some(b.args.clone())).build();
            BootstrapActionConfig::builder().name(&b.name).script_bootstrap_action(script).build()
        })
        .collect();
    let started = Instant::now();
    let mut pause = Duration::from_secs(1);
    let cluster_id = loop {
        let result = emr
            .run_job_flow()
            .name(&config.emr_name)
            .release_label(&cluster.release)
            .instances(instances.clone())
            .set_applications(Some(applications.clone()))
            .set_configurations(Some(configurations.clone()))
            .set_bootstrap_actions(Some(bootstrap.clone()))
            .set_log_uri(config.log_uri.clone())
            .service_role(&config.service_role)
            .job_flow_role(&config.instance_profile)
            .visible_to_all_users(true)
            .set_tags(Some(emr_tags(&resource.tags)))
            .set_auto_termination_policy(
                idle_timeout(cluster).map(|seconds| AutoTerminationPolicy::builder().idle_timeout(seconds).build()),
            )
            .set_managed_scaling_policy(scaling_policy(cluster))
            .send()
            .await
            .map_err(|error| aws_error(id, "RunJobFlow", error));
        match result {
            Ok(output) => break output.job_flow_id().unwrap_or_default().to_string(),
            Err(error) if role_not_ready(&error) && started.elapsed() < ROLE_PROPAGATION => {
                ctx.progress.line(&format!(
                    "{id}: the new roles are not visible to EMR yet (IAM is eventually consistent), retrying"
                ));
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
            }
            Err(error) => return Err(error),
        }
    };
    ctx.progress.line(&format!("{id}: started {cluster_id}; waiting for WAITING or RUNNING (minutes on AWS)"));
    wait_ready(ctx, id, &cluster_id).await?;
    Ok(cluster_id)
}

/// Waits until the cluster accepts work (RUNNING or WAITING).
pub async fn wait_ready(ctx: &Context, id: &ResourceId, cluster_id: &str) -> Result<(), AwsError> {
    let emr = &ctx.clients.emr;
    wait_until(id, "WAITING or RUNNING", ctx.wait, &ctx.progress, || async {
        let output = emr
            .describe_cluster()
            .cluster_id(cluster_id)
            .send()
            .await
            .map_err(|e| aws_error(id, "DescribeCluster", e))?;
        let status = output.cluster().and_then(|c| c.status());
        let state = status.and_then(|s| s.state()).cloned();
        let reason = status
            .and_then(|s| s.state_change_reason())
            .and_then(|r| r.message())
            .unwrap_or("no reason given")
            .to_string();
        Ok(match state {
            Some(ClusterState::Running | ClusterState::Waiting) => Poll::Ready,
            Some(ClusterState::Terminated | ClusterState::TerminatedWithErrors | ClusterState::Terminating) => {
                Poll::Failed(format!("the cluster terminated: {reason}"))
            }
            Some(other) => Poll::Pending(other.as_str().to_string()),
            None => Poll::Pending("unknown".to_string()),
        })
    })
    .await
}

pub async fn update(
    ctx: &Context,
    resource: &DesiredResource,
    config: &ClusterConfig,
    live: &LiveResource,
    detail: &Live,
) -> Result<(), AwsError> {
    let id = &resource.id;
    let emr = &ctx.clients.emr;
    let cluster = &config.cluster;
    let cluster_id = &live.physical_id;
    let mut desired = desired_attributes(config);
    adjust_desired(id, detail, &live.tags, &mut desired, ctx.reset_scale);
    let mut resizes = Vec::new();
    for (name, group) in detail
        .groups
        .iter()
        .filter(|g| g.role != "MASTER")
        .map(|g| (if g.role == "CORE" { "core".to_string() } else { g.name.clone() }, g))
    {
        let key = if name == "core" { "core.nodes".to_string() } else { format!("task.{name}.nodes") };
        let wanted = desired.get(&key).and_then(Value::as_i64).unwrap_or(0);
        if wanted != group.requested {
            resizes.push(
                InstanceGroupModifyConfig::builder()
                    .instance_group_id(&group.id)
                    .instance_count(i32::try_from(wanted).unwrap_or(0))
                    .build(),
            );
        }
    }
    let added: Vec<InstanceGroupConfig> = cluster
        .task_groups
        .iter()
        .filter(|g| detail.group(&g.name).is_none())
        .map(|g| group_config(&g.name, InstanceRoleType::Task, &g.instance_type, g.nodes, market(g.market), None))
        .collect();
    if (!resizes.is_empty() || !added.is_empty()) && !["RUNNING", "WAITING"].contains(&detail.state.as_str()) {
        return Err(AwsError::new(
            id,
            "ModifyInstanceGroups",
            format!("the cluster is {}; EMR resizes only RUNNING or WAITING clusters, try again then", detail.state),
        ));
    }
    if !resizes.is_empty() {
        emr.modify_instance_groups()
            .cluster_id(cluster_id)
            .set_instance_groups(Some(resizes))
            .send()
            .await
            .map_err(|e| aws_error(id, "ModifyInstanceGroups", e))?;
    }
    if !added.is_empty() {
        emr.add_instance_groups()
            .job_flow_id(cluster_id)
            .set_instance_groups(Some(added))
            .send()
            .await
            .map_err(|e| aws_error(id, "AddInstanceGroups", e))?;
    }
    let current = &live.attributes;
    let changed = |field: &str| desired.get(field) != current.get(field);
    if changed("termination_protection") {
        emr.set_termination_protection()
            .job_flow_ids(cluster_id)
            .termination_protected(cluster.termination_protection)
            .send()
            .await
            .map_err(|e| aws_error(id, "SetTerminationProtection", e))?;
    }
    if changed("idle_timeout_seconds") && !matches!(detail.idle_timeout_seconds, Readable::Unsupported) {
        let result = match idle_timeout(cluster) {
            Some(seconds) => emr
                .put_auto_termination_policy()
                .cluster_id(cluster_id)
                .auto_termination_policy(AutoTerminationPolicy::builder().idle_timeout(seconds).build())
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(id, "PutAutoTerminationPolicy", e)),
            None => emr
                .remove_auto_termination_policy()
                .cluster_id(cluster_id)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(id, "RemoveAutoTerminationPolicy", e)),
        };
        tolerate_unsupported(ctx, result)?;
    }
    if changed("managed_scaling") && !matches!(detail.managed_scaling, Readable::Unsupported) {
        let result = match scaling_policy(cluster) {
            Some(policy) => emr
                .put_managed_scaling_policy()
                .cluster_id(cluster_id)
                .managed_scaling_policy(policy)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(id, "PutManagedScalingPolicy", e)),
            None => emr
                .remove_managed_scaling_policy()
                .cluster_id(cluster_id)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(id, "RemoveManagedScalingPolicy", e)),
        };
        tolerate_unsupported(ctx, result)?;
    }
    sync_tags(ctx, id, cluster_id, &live.tags, &resource.tags).await
}

fn tolerate_unsupported(ctx: &Context, result: Result<(), AwsError>) -> Result<(), AwsError> {
    match result {
        Err(error) if unsupported(&ctx.clients, &error) => {
            ctx.progress.warn(&format!("the endpoint does not implement emr:{}; skipped", error.operation));
            Ok(())
        }
        other => other,
    }
}

/// Tags other than pipectl's scale records follow the spec; scale records are left alone.
async fn sync_tags(
    ctx: &Context,
    id: &ResourceId,
    cluster_id: &str,
    live: &Tags,
    desired: &Tags,
) -> Result<(), AwsError> {
    let emr = &ctx.clients.emr;
    let stale: Vec<String> =
        live.keys().filter(|key| !key.starts_with(SCALE_TAG_PREFIX) && !desired.contains_key(*key)).cloned().collect();
    if !stale.is_empty() {
        emr.remove_tags()
            .resource_id(cluster_id)
            .set_tag_keys(Some(stale))
            .send()
            .await
            .map_err(|e| aws_error(id, "RemoveTags", e))?;
    }
    let changed: Tags =
        desired.iter().filter(|(k, v)| live.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    if !changed.is_empty() {
        emr.add_tags()
            .resource_id(cluster_id)
            .set_tags(Some(emr_tags(&changed)))
            .send()
            .await
            .map_err(|e| aws_error(id, "AddTags", e))?;
    }
    Ok(())
}

/// Terminates the cluster and waits until it is gone.
pub async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    let emr = &ctx.clients.emr;
    let id = &live.id;
    emr.terminate_job_flows()
        .job_flow_ids(&live.physical_id)
        .send()
        .await
        .map_err(|e| aws_error(id, "TerminateJobFlows", e))?;
    wait_until(id, "TERMINATED", ctx.wait, &ctx.progress, || async {
        let output = emr
            .describe_cluster()
            .cluster_id(&live.physical_id)
            .send()
            .await
            .map_err(|e| aws_error(id, "DescribeCluster", e))?;
        let state = output.cluster().and_then(|c| c.status()).and_then(|s| s.state()).cloned();
        Ok(match state {
            Some(ClusterState::Terminated | ClusterState::TerminatedWithErrors) | None => Poll::Ready,
            Some(other) => Poll::Pending(other.as_str().to_string()),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(batch_nodes: i64) -> Live {
        let group = |id: &str, name: &str, role: &str, requested: i64| Group {
            id: id.into(),
            name: name.into(),
            role: role.into(),
            instance_type: "m5.xlarge".into(),
            requested,
            running: requested,
            market: "on-demand".into(),
            ebs_gib: None,
        };
        Live {
            arn: String::new(),
            state: "WAITING".into(),
            release: "emr-7.2.0".into(),
            applications: vec!["Spark".into()],
            subnet_id: "subnet-1".into(),
            security_group_ids: vec![],
            key_pair: None,
            log_uri: None,
            groups: vec![
                group("ig-m", "master", "MASTER", 1),
                group("ig-c", "core", "CORE", 4),
                group("ig-b", "batch", "TASK", batch_nodes),
            ],
            configurations: json!([]),
            bootstrap: json!([]),
            idle_timeout_seconds: Readable::Unsupported,
            termination_protection: false,
            managed_scaling: Readable::Unsupported,
            service_role: String::new(),
            instance_profile: String::new(),
        }
    }

    #[test]
    fn scale_records_round_trip() {
        let record = ScaleRecord { nodes: 20, baseline: 4, until: Some("2026-11-23T06:00:00Z".into()) };
        assert_eq!(ScaleRecord::parse(&record.to_tag()), Some(record));
        assert_eq!(ScaleRecord::parse("nodes=x"), None);
    }

    #[test]
    fn a_recorded_scale_is_not_drift_unless_reset() {
        let id = ResourceId::new(Kind::Cluster, "spark");
        let tags = Tags::from([(format!("{SCALE_TAG_PREFIX}batch"), "nodes=20 baseline=0 until=06:00".to_string())]);
        let mut desired = Attributes::from([("task.batch.nodes".to_string(), json!(0))]);
        let notices = adjust_desired(&id, &live(20), &tags, &mut desired, false);
        assert_eq!(desired["task.batch.nodes"], json!(20));
        assert_eq!(notices, ["cluster/spark: task group 'batch' scaled to 20 (baseline 0) until 06:00; not a change (`pipectl scale --reset` returns it)"]);
        let mut desired = Attributes::from([("task.batch.nodes".to_string(), json!(0))]);
        adjust_desired(&id, &live(20), &tags, &mut desired, true);
        assert_eq!(desired["task.batch.nodes"], json!(0));
        // A record that no longer matches the live size (the scale-back ran) changes nothing.
        let mut desired = Attributes::from([("task.batch.nodes".to_string(), json!(0))]);
        assert!(adjust_desired(&id, &live(0), &tags, &mut desired, false).is_empty());
    }

    mod managed_scaling {
        //! The managed-scaling code path against the SDK's mock client (moto does not
        //! implement managed scaling, so the emulator tests cannot reach it).
        use super::super::*;
        use crate::resources::test_support::clients_with_emr;
        use crate::resources::Warnings;
        use aws_sdk_emr::operation::describe_cluster::DescribeClusterOutput;
        use aws_sdk_emr::operation::get_auto_termination_policy::GetAutoTerminationPolicyOutput;
        use aws_sdk_emr::operation::get_managed_scaling_policy::GetManagedScalingPolicyOutput;
        use aws_sdk_emr::operation::list_bootstrap_actions::ListBootstrapActionsOutput;
        use aws_sdk_emr::operation::list_instance_groups::ListInstanceGroupsOutput;
        use aws_sdk_emr::operation::put_managed_scaling_policy::PutManagedScalingPolicyOutput;
        use aws_sdk_emr::Client;
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        use aws_smithy_runtime_api::http::StatusCode;
        use aws_smithy_types::body::SdkBody;

        fn cluster_rules() -> Vec<aws_smithy_mocks::Rule> {
            vec![
                mock!(Client::describe_cluster).then_output(|| {
                    let cluster = aws_sdk_emr::types::Cluster::builder()
                        .id("j-1")
                        .name("p-spark")
                        .release_label("emr-7.2.0")
                        .build();
                    DescribeClusterOutput::builder().cluster(cluster).build()
                }),
                mock!(Client::list_instance_groups).then_output(|| ListInstanceGroupsOutput::builder().build()),
                mock!(Client::list_bootstrap_actions).then_output(|| ListBootstrapActionsOutput::builder().build()),
                mock!(Client::get_auto_termination_policy).then_output(|| {
                    GetAutoTerminationPolicyOutput::builder()
                        .auto_termination_policy(AutoTerminationPolicy::builder().idle_timeout(3600).build())
                        .build()
                }),
            ]
        }

        #[tokio::test]
        async fn limits_are_read_from_get_managed_scaling_policy() {
            let scaling = mock!(Client::get_managed_scaling_policy).then_output(|| {
                let limits = ComputeLimits::builder()
                    .unit_type(ComputeLimitsUnitType::Instances)
                    .minimum_capacity_units(2)
                    .maximum_capacity_units(30)
                    .maximum_core_capacity_units(8)
                    .build();
                GetManagedScalingPolicyOutput::builder()
                    .managed_scaling_policy(ManagedScalingPolicy::builder().compute_limits(limits).build())
                    .build()
            });
            let mut rules = cluster_rules();
            rules.push(scaling);
            let emr = mock_client!(aws_sdk_emr, RuleMode::MatchAny, rules.iter());
            let warnings = Warnings::default();
            let (_, _, live) = describe(&clients_with_emr(emr, false), "j-1", &warnings).await.unwrap().unwrap();
            let Readable::Known(Some(limits)) = live.managed_scaling else {
                panic!("limits not read: {:?}", live.managed_scaling)
            };
            assert_eq!(limits, json!({"min": 2, "max": 30, "max_on_demand": null, "max_core": 8}));
            assert!(matches!(live.idle_timeout_seconds, Readable::Known(Some(3600))));
            assert!(warnings.messages().is_empty());
        }

        #[tokio::test]
        async fn an_emulator_without_managed_scaling_is_a_warning_not_a_failure() {
            let scaling = mock!(Client::get_managed_scaling_policy).then_http_response(|| {
                aws_smithy_runtime_api::http::Response::new(StatusCode::try_from(500).unwrap(), SdkBody::empty())
            });
            let mut rules = cluster_rules();
            rules.push(scaling);
            let emr = mock_client!(aws_sdk_emr, RuleMode::MatchAny, rules.iter());
            let warnings = Warnings::default();
            let (_, _, live) = describe(&clients_with_emr(emr, true), "j-1", &warnings).await.unwrap().unwrap();
            assert!(matches!(live.managed_scaling, Readable::Unsupported));
            assert_eq!(
                warnings.messages(),
                ["the endpoint does not implement emr:GetManagedScalingPolicy; the fields it reads are not compared"]
            );
        }

        #[tokio::test]
        async fn a_new_limit_is_written_with_put_managed_scaling_policy() {
            let put = mock!(Client::put_managed_scaling_policy)
                .match_requests(|request| {
                    let limits = request.managed_scaling_policy().and_then(|p| p.compute_limits());
                    request.cluster_id() == Some("j-1")
                        && limits.map(|l| (l.minimum_capacity_units(), l.maximum_capacity_units()))
                            == Some((Some(1), Some(24)))
                })
                .then_output(|| PutManagedScalingPolicyOutput::builder().build());
            let emr = mock_client!(aws_sdk_emr, RuleMode::MatchAny, [&put]);
            let spec: crate::spec::Spec = serde_saphyr::from_str(
                "version: 1\npipeline: p\nregion: us-east-1\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 2}\n    managed_scaling: {min: 1, max: 24}\n",
            )
            .unwrap();
            let config = ClusterConfig {
                cluster: spec.clusters[0].clone(),
                emr_name: "p-spark".into(),
                service_role: "p-spark-emr-service".into(),
                instance_profile: "p-spark-emr-ec2".into(),
                log_uri: None,
            };
            let mut live = super::live(0);
            live.groups.retain(|group| group.role != "TASK");
            live.groups[1].requested = 2;
            live.managed_scaling = Readable::Known(None);
            let id = ResourceId::new(Kind::Cluster, "spark");
            let mut current =
                LiveResource::new(id.clone(), "j-1", Tags::new(), LiveDetail::Cluster(Box::new(live.clone())));
            current.attributes = live_attributes(&live, &crate::resources::Names::default()).0;
            let resource = DesiredResource {
                id,
                tags: Tags::new(),
                depends_on: vec![],
                config: crate::model::Desired::Cluster(Box::new(config.clone())),
            };
            let ctx = Context::new(
                clients_with_emr(emr, false),
                "p",
                crate::resources::WaitOptions::default(),
                crate::progress::Progress::new(false),
                &crate::resources::LiveState::default(),
            );
            update(&ctx, &resource, &config, &current, &live).await.unwrap();
            assert_eq!(put.num_calls(), 1, "PutManagedScalingPolicy was not sent with min 1 and max 24");
        }
    }

    #[test]
    fn a_dropped_task_group_is_resized_to_zero() {
        let id = ResourceId::new(Kind::Cluster, "spark");
        let mut desired = Attributes::new();
        let notices = adjust_desired(&id, &live(5), &Tags::new(), &mut desired, false);
        assert_eq!(desired["task.batch.nodes"], json!(0));
        assert!(notices[0].contains("EMR cannot delete instance groups"), "{notices:?}");
    }
}

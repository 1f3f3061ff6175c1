//! Changing clusters in EMR: RunJobFlow (retried while fresh roles propagate) and waiting for
//! the cluster to accept work, in-place changes (group sizes, new task groups, termination
//! protection, auto-termination, managed scaling, tags), termination, and the deliberate resize
//! and its record that `pipectl scale` makes.

use std::time::{Duration, Instant};

use aws_sdk_emr::types::{
    Application, AutoTerminationPolicy, BootstrapActionConfig, ClusterState, ComputeLimits, ComputeLimitsUnitType,
    Configuration, EbsBlockDeviceConfig, EbsConfiguration, InstanceGroupConfig, InstanceGroupModifyConfig,
    InstanceRoleType, JobFlowInstancesConfig, ManagedScalingPolicy, MarketType, ScriptBootstrapActionConfig, Tag,
    VolumeSpecification,
};
use serde_json::Value;

use super::attributes::{adjust, idle_timeout_seconds, is_note, scale_tag, Live, Readable, ScaleRecord};
use super::read::{list_groups, unsupported};
use super::{ClusterConfig, Group};
use crate::model::{DesiredConfig, DesiredResource, ResourceId};
use crate::names::{Tags, HDFS_REPLICATION_TAG};
use crate::progress::Progress;
use crate::resources::kit::wait::{wait_until, Poll};
use crate::resources::kit::{aws_error, retry_while_role_propagates, AwsError, Clients, Context, LiveResource};
use crate::resources::{security_group, subnet};
use crate::spec::{self, Market};

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

/// The cluster's tags at RunJobFlow, with the HDFS replication it launches with
/// (`HDFS_REPLICATION_TAG`): EMR sets `dfs.replication` from the core nodes it is provisioned
/// with ("HDFS configuration", EMR Release Guide) and reports no default back, so pipectl notes
/// it for the floor of later core resizes.
fn launch_tags(resource: &DesiredResource, cluster: &spec::Cluster) -> Tags {
    let mut tags = resource.tags.clone();
    tags.insert(HDFS_REPLICATION_TAG.to_string(), cluster.hdfs_replication().to_string());
    tags
}

fn task_group_config(group: &spec::TaskGroup) -> InstanceGroupConfig {
    group_config(&group.name, InstanceRoleType::Task, &group.instance_type, group.nodes, market(group.market), None)
}

fn scaling_policy(cluster: &spec::Cluster) -> Option<ManagedScalingPolicy> {
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

fn idle_timeout(cluster: &spec::Cluster) -> Option<i64> {
    idle_timeout_seconds(cluster).and_then(|seconds| i64::try_from(seconds).ok())
}

pub(super) async fn create(
    ctx: &Context,
    resource: &DesiredResource,
    config: &ClusterConfig,
) -> Result<String, AwsError> {
    let id = &resource.id;
    let cluster = &config.cluster;
    let emr = &ctx.clients.emr;
    let subnet = ctx.physical_id(&subnet::id(&cluster.subnet))?;
    let mut security_groups = Vec::new();
    for group in &cluster.security_groups {
        security_groups.push(ctx.physical_id(&security_group::id(group))?);
    }
    let managed = &config.emr_groups;
    let master_group = ctx.physical_id(&security_group::id(&managed.master))?;
    let core_group = ctx.physical_id(&security_group::id(&managed.core))?;
    let service_group = match &managed.service {
        Some(service) => Some(ctx.physical_id(&security_group::id(service))?),
        None => None,
    };
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
            Group::Core.name(),
            InstanceRoleType::Core,
            &cluster.core.instance_type,
            cluster.core.nodes,
            MarketType::OnDemand,
            cluster.core.ebs_gib,
        ),
    ];
    groups.extend(cluster.task_groups.iter().map(task_group_config));
    let instances = JobFlowInstancesConfig::builder()
        .set_instance_groups(Some(groups))
        .ec2_subnet_id(subnet)
        .emr_managed_master_security_group(master_group)
        .emr_managed_slave_security_group(core_group)
        .set_service_access_security_group(service_group)
        .set_additional_master_security_groups(Some(security_groups.clone()))
        .set_additional_slave_security_groups(Some(security_groups))
        .set_ec2_key_name(cluster.key_pair.clone())
        .keep_job_flow_alive_when_no_steps(true)
        .termination_protected(cluster.termination_protection)
        .build();
    let applications: Vec<Application> =
        cluster.applications.iter().map(|name| Application::builder().name(name).build()).collect();
    let configurations: Vec<Configuration> = spec::cluster_configurations(cluster)
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
    // The service role by its ARN: "If you've created a custom service role path, you must specify
    // it for the service role when you launch your cluster" (RunJobFlow, `ServiceRole`, Amazon EMR
    // API Reference); the role lives under the pipeline's path. The emulators accept the bare name.
    let service_role = ctx.arns.role(&ctx.roles_path, &config.service_role);
    let output = retry_while_role_propagates(role_not_ready, &id.to_string(), &ctx.progress, || {
        let request = emr
            .run_job_flow()
            .name(&config.emr_name)
            .release_label(&cluster.release)
            .instances(instances.clone())
            .set_applications(Some(applications.clone()))
            .set_configurations(Some(configurations.clone()))
            .set_bootstrap_actions(Some(bootstrap.clone()))
            .set_log_uri(config.log_uri.clone())
            .security_configuration(&config.security_configuration)
            .service_role(&service_role)
            .job_flow_role(&config.instance_profile)
            .visible_to_all_users(true)
            .set_tags(Some(emr_tags(&launch_tags(resource, cluster))))
            .set_auto_termination_policy(
                idle_timeout(cluster).map(|seconds| AutoTerminationPolicy::builder().idle_timeout(seconds).build()),
            )
            .set_managed_scaling_policy(scaling_policy(cluster));
        async move { request.send().await.map_err(|error| aws_error(id, "RunJobFlow", error)) }
    })
    .await?;
    let cluster_id =
        output.job_flow_id().ok_or_else(|| AwsError::missing(id, "RunJobFlow", "job flow id"))?.to_string();
    ctx.progress.line(&format!("{id}: started {cluster_id}; waiting for WAITING or RUNNING (minutes on AWS)"));
    let protected = wait_ready(ctx, id, &cluster_id).await?;
    // EMR turns termination protection on by itself for a cluster with three primary nodes and
    // ignores the launch setting (the Terraform provider sets it again after launch for the
    // same reason): make it what the spec says.
    if protected.is_some_and(|protected| protected != cluster.termination_protection) {
        emr.set_termination_protection()
            .job_flow_ids(&cluster_id)
            .termination_protected(cluster.termination_protection)
            .send()
            .await
            .map_err(|e| aws_error(id, "SetTerminationProtection", e))?;
    }
    Ok(cluster_id)
}

/// Waits until the cluster accepts work (RUNNING or WAITING); returns whether EMR then reports
/// termination protection on.
async fn wait_ready(ctx: &Context, id: &ResourceId, cluster_id: &str) -> Result<Option<bool>, AwsError> {
    let emr = &ctx.clients.emr;
    let protected = std::sync::Mutex::new(None);
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
        *protected.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            output.cluster().and_then(|c| c.termination_protected());
        Ok(match state {
            Some(ClusterState::Running | ClusterState::Waiting) => Poll::Ready,
            Some(ClusterState::Terminated | ClusterState::TerminatedWithErrors | ClusterState::Terminating) => {
                Poll::Failed(format!("the cluster terminated: {reason}"))
            }
            Some(other) => Poll::Pending(other.as_str().to_string()),
            None => Poll::Pending("unknown".to_string()),
        })
    })
    .await?;
    Ok(protected.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// Sends one ModifyInstanceGroups with every resize in `resizes`.
async fn modify_groups(
    emr: &aws_sdk_emr::Client,
    id: &ResourceId,
    cluster_id: &str,
    resizes: Vec<InstanceGroupModifyConfig>,
) -> Result<(), AwsError> {
    emr.modify_instance_groups()
        .cluster_id(cluster_id)
        .set_instance_groups(Some(resizes))
        .send()
        .await
        .map_err(|e| aws_error(id, "ModifyInstanceGroups", e))?;
    Ok(())
}

pub(super) async fn update(
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
    let mut desired = config.attributes();
    adjust(id, detail, &live.tags, &live.attributes, &mut desired, ctx.reset_scale);
    let mut resizes = Vec::new();
    for (group, live_group) in detail.groups.iter().filter_map(|g| Some((g.group()?, g))) {
        let wanted = desired.get(&group.field("nodes")).and_then(Value::as_i64).unwrap_or(0);
        if wanted != live_group.requested {
            resizes.push(
                InstanceGroupModifyConfig::builder()
                    .instance_group_id(&live_group.id)
                    .instance_count(i32::try_from(wanted).unwrap_or(0))
                    .build(),
            );
        }
    }
    let added: Vec<InstanceGroupConfig> = cluster
        .task_groups
        .iter()
        .filter(|g| detail.group(&Group::Task(g.name.clone())).is_none())
        .map(task_group_config)
        .collect();
    if (!resizes.is_empty() || !added.is_empty()) && !detail.state.accepts_resize() {
        return Err(AwsError::new(
            id,
            "ModifyInstanceGroups",
            format!("the cluster is {}; EMR resizes only RUNNING or WAITING clusters, try again then", detail.state),
        ));
    }
    if !resizes.is_empty() {
        modify_groups(emr, id, cluster_id, resizes).await?;
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
    let stale: Vec<String> = live.keys().filter(|key| !is_note(key) && !desired.contains_key(*key)).cloned().collect();
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
pub(super) async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
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

/// Sets one instance group of a running cluster to `nodes` (one ModifyInstanceGroups).
pub async fn resize_group(
    clients: &Clients,
    id: &ResourceId,
    cluster_id: &str,
    group_id: &str,
    nodes: i64,
) -> Result<(), AwsError> {
    let resize = InstanceGroupModifyConfig::builder()
        .instance_group_id(group_id)
        .instance_count(i32::try_from(nodes).unwrap_or(i32::MAX))
        .build();
    modify_groups(&clients.emr, id, cluster_id, vec![resize]).await
}

/// Records a deliberate resize of `group` on the cluster (one AddTags), so plans do not revert it.
pub async fn record_scale(
    clients: &Clients,
    id: &ResourceId,
    cluster_id: &str,
    group: &Group,
    record: &ScaleRecord,
) -> Result<(), AwsError> {
    let tag = Tag::builder().key(scale_tag(group)).value(record.to_tag()).build();
    clients.emr.add_tags().resource_id(cluster_id).tags(tag).send().await.map_err(|e| aws_error(id, "AddTags", e))?;
    Ok(())
}

/// Removes the scale record of `group` (one RemoveTags): plans compare with the baseline again.
pub async fn forget_scale(clients: &Clients, id: &ResourceId, cluster_id: &str, group: &Group) -> Result<(), AwsError> {
    clients
        .emr
        .remove_tags()
        .resource_id(cluster_id)
        .tag_keys(scale_tag(group))
        .send()
        .await
        .map_err(|e| aws_error(id, "RemoveTags", e))?;
    Ok(())
}

/// How following a resize ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupWait {
    Reached,
    /// The timeout passed with this many nodes running; the resize goes on in EMR.
    TimedOut {
        running: i64,
    },
}

/// Follows the group until its running count reaches `target`, drawing a bar on `progress`
/// (one ListInstanceGroups per poll), or until `timeout` has passed.
pub async fn wait_group_size(
    clients: &Clients,
    id: &ResourceId,
    cluster_id: &str,
    group_id: &str,
    target: i64,
    timeout: Duration,
    progress: &Progress,
) -> Result<GroupWait, AwsError> {
    let started = Instant::now();
    let mut interval = Duration::from_millis(500);
    loop {
        let groups = list_groups(&clients.emr, id, cluster_id).await?;
        let running = groups.iter().find(|g| g.id == group_id).map_or(0, |g| g.running);
        let width = 30usize;
        let filled = if target == 0 {
            width
        } else {
            (usize::try_from(running.min(target)).unwrap_or(0) * width) / usize::try_from(target).unwrap_or(1)
        };
        progress.line(&format!(
            "[{}{}] {running}/{target} running ({}s)",
            "#".repeat(filled),
            ".".repeat(width - filled),
            started.elapsed().as_secs()
        ));
        if running == target {
            return Ok(GroupWait::Reached);
        }
        if started.elapsed() >= timeout {
            return Ok(GroupWait::TimedOut { running });
        }
        tokio::time::sleep(interval).await;
        interval = (interval * 3 / 2).min(Duration::from_secs(15));
    }
}

/// EMR's answers to `RunJobFlow` while a role or instance profile created seconds ago is not
/// usable yet: `ValidationException` about the role or instance profile ("Invalid
/// InstanceProfile: …"), or `AccessDeniedException` "Failed to authorize instance profile …"
/// (hashicorp/terraform-provider-aws#3050 retries that one too). Any other access denial is
/// final.
fn role_not_ready(error: &AwsError) -> bool {
    let message = error.message.to_lowercase();
    (error.has_code("ValidationException")
        && (message.contains("role") || message.contains("instance profile") || message.contains("instanceprofile")))
        || (error.has_code("AccessDeniedException") && message.contains("failed to authorize instance profile"))
}

#[cfg(test)]
mod tests {
    //! The managed-scaling write against the SDK's mock client (moto does not implement managed
    //! scaling, so the emulator tests cannot reach it).
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_fresh_role_is_recognised_by_emrs_own_error() {
        let error =
            |code: &str, message: &str| AwsError { code: Some(code.to_string()), ..AwsError::new("x", "Op", message) };
        assert!(role_not_ready(&error("ValidationException", "Invalid InstanceProfile: p-spark-emr-ec2.")));
        assert!(!role_not_ready(&error("ValidationException", "Invalid release label")));
        assert!(role_not_ready(&error(
            "AccessDeniedException",
            "AccessDeniedException (Failed to authorize instance profile arn:aws:iam::1:instance-profile/pipectl/p/p-spark-emr-ec2)"
        )));
        assert!(!role_not_ready(&error(
            "AccessDeniedException",
            "AccessDeniedException (User: arn:aws:sts::1:assumed-role/ci is not authorized to perform: elasticmapreduce:RunJobFlow)"
        )));
        assert!(!role_not_ready(&error(
            "InvalidArgumentException",
            "Firehose is unable to assume role arn:aws:iam::1:role/r"
        )));
    }
    use crate::aws::test_clients_with_emr;
    use crate::model::{LiveDetail, Names};
    use crate::resources::kit::{LiveState, WaitOptions};
    use aws_sdk_emr::operation::put_managed_scaling_policy::PutManagedScalingPolicyOutput;
    use aws_sdk_emr::types::InstanceGroupType;
    use aws_sdk_emr::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

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
        let spec: spec::Spec = serde_saphyr::from_str(
            "version: 1\npipeline: p\nregion: us-east-1\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 2}\n    managed_scaling: {min: 1, max: 24}\n",
        )
        .unwrap();
        let config = ClusterConfig {
            cluster: spec.clusters[0].clone(),
            emr_name: "p-spark".into(),
            service_role: "p-spark-emr-service".into(),
            instance_profile: "p-spark-emr-ec2".into(),
            log_uri: None,
            security_configuration: "pipectl-p-emr".into(),
            emr_groups: super::super::EmrGroups::of(&spec, &spec.clusters[0]),
            open_windows: Vec::new(),
        };
        let mut live = super::super::attributes::tests::live(0);
        live.groups.retain(|group| group.role != Some(InstanceGroupType::Task));
        live.groups[1].requested = 2;
        live.managed_scaling = Readable::Known(None);
        let id = super::super::id("spark");
        let mut current = LiveResource::new(id.clone(), "j-1", Tags::new(), live.clone());
        current.attributes = live.describe("j-1", &Names::default()).0;
        let resource = DesiredResource { id, tags: Tags::new(), depends_on: vec![], config: Arc::new(config.clone()) };
        let ctx = Context::new(
            test_clients_with_emr(emr, false),
            &crate::spec::SpecBuilder::new().build(),
            (WaitOptions::default(), Progress::new(false)),
            &LiveState::default(),
            crate::resources::kinds(),
        );
        update(&ctx, &resource, &config, &current, &live).await.unwrap();
        assert_eq!(put.num_calls(), 1, "PutManagedScalingPolicy was not sent with min 1 and max 24");
    }

    /// RunJobFlow names the groups pipectl made for EMR to manage (EMR would otherwise create
    /// its own `ElasticMapReduce-*` groups, which destroy could not remove) and the pipeline's
    /// security configuration (IMDSv2), and EMR's service role by its ARN (it lives under the
    /// pipeline's path); with three primary
    /// nodes EMR turns termination protection on by itself, and pipectl sets it back to the spec.
    #[tokio::test]
    async fn run_job_flow_passes_the_emr_managed_groups_and_termination_protection_follows_the_spec() {
        use aws_sdk_emr::operation::describe_cluster::DescribeClusterOutput;
        use aws_sdk_emr::operation::run_job_flow::RunJobFlowOutput;
        use aws_sdk_emr::operation::set_termination_protection::SetTerminationProtectionOutput;
        use aws_sdk_emr::types::{Cluster as EmrCluster, ClusterStatus};
        let run = mock!(Client::run_job_flow)
            .match_requests(|request| {
                let instances = request.instances();
                instances.and_then(|i| i.emr_managed_master_security_group()) == Some("sg-m")
                    && instances.and_then(|i| i.emr_managed_slave_security_group()) == Some("sg-c")
                    && instances.and_then(|i| i.service_access_security_group()) == Some("sg-s")
                    && request.security_configuration() == Some("pipectl-p-emr")
                    && request.service_role().is_some_and(|role| {
                        role.starts_with("arn:aws:iam::")
                            && role.ends_with(":role/pipectl/p/us-east-1/p-spark-emr-service-use1")
                    })
                    && request
                        .tags()
                        .iter()
                        .any(|t| t.key() == Some(crate::names::EMR_MANAGED_TAG.0) && t.value() == Some("true"))
            })
            .then_output(|| RunJobFlowOutput::builder().job_flow_id("j-1").build());
        let describe = mock!(Client::describe_cluster).then_output(|| {
            let status = ClusterStatus::builder().state(ClusterState::Waiting).build();
            let cluster = EmrCluster::builder().id("j-1").status(status).termination_protected(true).build();
            DescribeClusterOutput::builder().cluster(cluster).build()
        });
        let protect = mock!(Client::set_termination_protection)
            .match_requests(|request| request.termination_protected() == Some(false))
            .then_output(|| SetTerminationProtectionOutput::builder().build());
        let emr = mock_client!(aws_sdk_emr, RuleMode::MatchAny, [&run, &describe, &protect]);
        let spec: spec::Spec = serde_saphyr::from_str(
            "version: 1\npipeline: p\nregion: us-east-1\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets: [{name: a, cidr: 10.0.0.0/24, availability_zone: us-east-1a}]\n  endpoints: [s3]\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {type: m5.xlarge, count: 3}\n    core: {type: m5.xlarge, nodes: 2}\n",
        )
        .unwrap();
        let arns = crate::iam::Arns::new("123456789012", "us-east-1");
        let graph = crate::resources::graph_in(&spec, &arns, chrono::Utc::now());
        let resource = graph.iter().find(|node| node.id == super::super::id("spark")).unwrap().clone();
        let config = resource.config::<ClusterConfig>().unwrap().clone();
        let mut live = LiveState::default();
        for (id, physical) in [
            (subnet::id("a"), "subnet-1"),
            (security_group::id("spark-emr-master"), "sg-m"),
            (security_group::id("spark-emr-core"), "sg-c"),
            (security_group::id("spark-emr-service"), "sg-s"),
        ] {
            live.resources.insert(id.clone(), crate::resources::test_support::live_vpc(id, physical, ""));
        }
        let wait = WaitOptions {
            timeout: Duration::from_secs(5),
            first_interval: Duration::from_millis(1),
            max_interval: Duration::from_millis(5),
        };
        let ctx = Context::new(
            test_clients_with_emr(emr, false),
            &crate::spec::SpecBuilder::new().build(),
            (wait, Progress::new(false)),
            &live,
            crate::resources::kinds(),
        );
        assert_eq!(create(&ctx, &resource, &config).await.unwrap(), "j-1");
        assert_eq!(run.num_calls(), 1, "RunJobFlow did not name the EMR-managed groups and the EMR tag");
        assert_eq!(protect.num_calls(), 1, "termination protection was not set back to false");
    }
}

//! Reading clusters from EMR. Clusters are found by name (`<pipeline>-<cluster>`) among the
//! active ones and claimed by their tags; each is described in one parallel round. Against an
//! emulator, the reads it may lack are tried once and reported as warnings, not failures.

use std::collections::BTreeMap;
use std::fmt::Display;

use aws_sdk_emr::types::{ClusterState, MarketType};
use serde_json::{json, Value};

use super::attributes::{hdfs_replication, managed_scaling_value, InstanceGroup, Live, Readable, State};
use super::{Group, GroupMatch, KIND};
use crate::model::ResourceId;
use crate::names::{emr_cluster_name, emr_cluster_prefix, Tags, PIPELINE_TAG, RESOURCE_TAG};
use crate::resources::kit::{
    aws_error, claimed_id, owned_by, ownership_conflict, AwsError, Clients, LiveResource, NamedRead, ReadContext,
    Warnings,
};

/// Clusters in these states are alive; terminated ones are history.
pub const ACTIVE_STATES: [ClusterState; 4] =
    [ClusterState::Starting, ClusterState::Bootstrapping, ClusterState::Running, ClusterState::Waiting];

/// True when an emulator answers that it does not implement the operation.
pub(super) fn unsupported(clients: &Clients, error: &AwsError) -> bool {
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

fn tags_of(cluster: &aws_sdk_emr::types::Cluster) -> Tags {
    cluster
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .collect()
}

fn state_of(cluster: &aws_sdk_emr::types::Cluster) -> State {
    State(cluster.status().and_then(|s| s.state()).cloned())
}

/// The instance groups of a cluster (ListInstanceGroups).
pub(super) async fn list_groups(
    emr: &aws_sdk_emr::Client,
    resource: &(dyn Display + Sync),
    cluster_id: &str,
) -> Result<Vec<InstanceGroup>, AwsError> {
    let output = emr
        .list_instance_groups()
        .cluster_id(cluster_id)
        .send()
        .await
        .map_err(|e| aws_error(resource, "ListInstanceGroups", e))?;
    output
        .instance_groups()
        .iter()
        .map(|group| {
            Ok(InstanceGroup {
                id: group
                    .id()
                    .ok_or_else(|| AwsError::missing(resource, "ListInstanceGroups", "instance group id"))?
                    .to_string(),
                name: group.name().unwrap_or_default().to_string(),
                role: group.instance_group_type().cloned(),
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
        })
        .collect()
}

/// Everything pipectl compares of one cluster, read in one parallel round; `None` when EMR no
/// longer knows the cluster.
pub(super) async fn describe(
    clients: &Clients,
    cluster_id: &str,
    warnings: &Warnings,
) -> Result<Option<(Tags, Live)>, AwsError> {
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
    let groups = list_groups(emr, &id, cluster_id);
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
    let attributes = cluster.ec2_instance_attributes();
    let mut applications: Vec<String> =
        cluster.applications().iter().filter_map(|a| a.name().map(str::to_string)).collect();
    applications.sort();
    let live = Live {
        arn: cluster.cluster_arn().unwrap_or_default().to_string(),
        state: state_of(cluster),
        release: cluster.release_label().unwrap_or_default().to_string(),
        applications,
        subnet_id: attributes.and_then(|a| a.ec2_subnet_id()).unwrap_or_default().to_string(),
        security_group_ids: attributes.map(|a| a.additional_master_security_groups().to_vec()).unwrap_or_default(),
        key_pair: attributes.and_then(|a| a.ec2_key_name()).map(str::to_string),
        log_uri: cluster.log_uri().map(str::to_string),
        master_dns: cluster.master_public_dns_name().filter(|dns| !dns.is_empty()).map(str::to_string),
        groups,
        configurations: configurations_of(cluster),
        bootstrap,
        idle_timeout_seconds,
        termination_protection: cluster.termination_protected().unwrap_or(false),
        managed_scaling,
        service_role: cluster.service_role().unwrap_or_default().to_string(),
        instance_profile: attributes.and_then(|a| a.iam_instance_profile()).unwrap_or_default().to_string(),
        emr_group_ids: [
            attributes.and_then(|a| a.emr_managed_master_security_group()).map(str::to_string),
            attributes.and_then(|a| a.emr_managed_slave_security_group()).map(str::to_string),
            attributes.and_then(|a| a.service_access_security_group()).map(str::to_string),
        ],
        hdfs_replication: None,
    };
    let tags = tags_of(cluster);
    let live = Live { hdfs_replication: hdfs_replication(&live.configurations, &tags), ..live };
    Ok(Some((tags, live)))
}

/// A cluster's configurations as EMR reports them, in the form they are compared in.
fn configurations_of(cluster: &aws_sdk_emr::types::Cluster) -> Value {
    let mut configurations: Vec<Value> = cluster
        .configurations()
        .iter()
        .map(|c| {
            let properties: BTreeMap<&String, &String> = c.properties().into_iter().flatten().collect();
            json!({"classification": c.classification().unwrap_or_default(), "properties": properties})
        })
        .collect();
    configurations.sort_by_key(|value| value["classification"].as_str().map(str::to_string));
    Value::Array(configurations)
}

/// Lists the active clusters whose names start with `prefix`: (cluster id, name).
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

/// Reads the pipeline's active clusters: named `<pipeline>-…` and tagged as ours. An active
/// cluster with a spec cluster's name that is not ours is a conflict.
pub(super) async fn read(context: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
    let (clients, pipeline) = (context.clients, context.pipeline);
    let prefix = emr_cluster_prefix(pipeline);
    let spec_names = context.names(KIND);
    let listed = list_active(&clients.emr, &prefix).await?;
    let described = futures::future::try_join_all(
        listed.iter().map(|(cluster_id, _)| describe(clients, cluster_id, context.warnings)),
    )
    .await?;
    let mut result = NamedRead::default();
    for ((cluster_id, name), described) in listed.iter().zip(described) {
        let Some((tags, live)) = described else { continue };
        let spec_name = name.strip_prefix(&prefix).unwrap_or(name);
        match claimed_id(&tags, KIND) {
            Some(id) if owned_by(&tags, pipeline) => result.found.push(LiveResource::new(id, cluster_id, tags, live)),
            _ if spec_names.iter().any(|spec| spec == spec_name) => {
                let id = super::id(spec_name);
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

/// The id of the pipeline's active EMR cluster for the spec cluster `name`, if one runs.
pub async fn find_active(clients: &Clients, pipeline: &str, name: &str) -> Result<Option<String>, AwsError> {
    let emr_name = emr_cluster_name(pipeline, name);
    let found = list_active(&clients.emr, &emr_name).await?;
    Ok(found.into_iter().find(|(_, listed)| *listed == emr_name).map(|(cluster_id, _)| cluster_id))
}

/// A cluster of the spec as `pipectl scale` and `pipectl run` look for it.
#[derive(Debug)]
pub enum Found {
    /// No active EMR cluster has its name.
    NotRunning,
    /// The active one is not tagged as this cluster of the pipeline: never touched.
    NotOurs { cluster_id: String },
    /// The pipeline's, with its id, state and groups.
    Ours { cluster_id: String, running: Running },
}

/// Finds the spec's cluster `name` of `pipeline` by its deterministic name (ListClusters), then
/// reads its tags, state and groups (DescribeCluster and ListInstanceGroups at once).
pub async fn find_owned(clients: &Clients, pipeline: &str, name: &str) -> Result<Found, AwsError> {
    let Some(cluster_id) = find_active(clients, pipeline, name).await? else { return Ok(Found::NotRunning) };
    let id = super::id(name);
    let running = inspect(clients, &id, &cluster_id).await?;
    let tag = |key: &str| running.tags.get(key).map(String::as_str);
    if tag(PIPELINE_TAG) != Some(pipeline) || tag(RESOURCE_TAG) != Some(id.to_string().as_str()) {
        return Ok(Found::NotOurs { cluster_id });
    }
    Ok(Found::Ours { cluster_id, running })
}

/// A running cluster as a resize needs it: whose it is, its state and its groups.
#[derive(Debug, Clone)]
pub struct Running {
    pub arn: String,
    pub state: State,
    pub tags: Tags,
    pub groups: Vec<InstanceGroup>,
    /// The HDFS replication it runs with, when known (`attributes::hdfs_replication`).
    pub hdfs_replication: Option<i64>,
}

impl Running {
    /// The account the cluster is in, from its ARN.
    pub fn account_id(&self) -> &str {
        self.arn.split(':').nth(4).unwrap_or_default()
    }

    /// The live group a spec group names.
    pub fn group(&self, group: &Group) -> Option<&InstanceGroup> {
        group.find(&self.groups)
    }
}

/// Reads a cluster's tags, state and groups (DescribeCluster and ListInstanceGroups at once);
/// `id` names it in errors.
pub async fn inspect(clients: &Clients, id: &ResourceId, cluster_id: &str) -> Result<Running, AwsError> {
    let (described, groups) = tokio::join!(
        clients.emr.describe_cluster().cluster_id(cluster_id).send(),
        list_groups(&clients.emr, id, cluster_id)
    );
    let described = described.map_err(|e| aws_error(id, "DescribeCluster", e))?;
    let groups = groups?;
    let cluster =
        described.cluster().ok_or_else(|| AwsError::new(id, "DescribeCluster", "no cluster in the answer"))?;
    let tags = tags_of(cluster);
    Ok(Running {
        arn: cluster.cluster_arn().unwrap_or_default().to_string(),
        state: state_of(cluster),
        hdfs_replication: hdfs_replication(&configurations_of(cluster), &tags),
        tags,
        groups,
    })
}

/// The instance group id of `group` in a cluster; `resource` names what needs it in errors.
pub async fn group_id(
    clients: &Clients,
    resource: &ResourceId,
    cluster_id: &str,
    group: &Group,
) -> Result<String, AwsError> {
    let groups = list_groups(&clients.emr, resource, cluster_id).await?;
    group.find(&groups).map(|g| g.id.clone()).ok_or_else(|| {
        AwsError::new(resource, "ListInstanceGroups", format!("cluster {cluster_id} has no group `{group}`"))
    })
}

#[cfg(test)]
mod tests {
    //! The managed-scaling read against the SDK's mock client (moto does not implement managed
    //! scaling, so the emulator tests cannot reach it).
    use super::*;
    use crate::aws::test_clients_with_emr;
    use aws_sdk_emr::operation::describe_cluster::DescribeClusterOutput;
    use aws_sdk_emr::operation::get_auto_termination_policy::GetAutoTerminationPolicyOutput;
    use aws_sdk_emr::operation::get_managed_scaling_policy::GetManagedScalingPolicyOutput;
    use aws_sdk_emr::operation::list_bootstrap_actions::ListBootstrapActionsOutput;
    use aws_sdk_emr::operation::list_instance_groups::ListInstanceGroupsOutput;
    use aws_sdk_emr::types::{
        AutoTerminationPolicy, ComputeLimits, ComputeLimitsUnitType, InstanceGroupType, ManagedScalingPolicy,
    };
    use aws_sdk_emr::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn cluster_rules() -> Vec<aws_smithy_mocks::Rule> {
        vec![
            mock!(Client::describe_cluster).then_output(|| {
                let cluster =
                    aws_sdk_emr::types::Cluster::builder().id("j-1").name("p-spark").release_label("emr-7.2.0").build();
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
        let (_, live) = describe(&test_clients_with_emr(emr, false), "j-1", &warnings).await.unwrap().unwrap();
        let Readable::Known(Some(limits)) = live.managed_scaling else {
            panic!("limits not read: {:?}", live.managed_scaling)
        };
        assert_eq!(limits, json!({"min": 2, "max": 30, "max_on_demand": null, "max_core": 8}));
        assert!(matches!(live.idle_timeout_seconds, Readable::Known(Some(3600))));
        assert!(warnings.messages().is_empty());
    }

    /// DescribeCluster and ListInstanceGroups as EMR answers them for a cluster pipectl created
    /// from `logs: {bucket: lake, prefix: emr-logs}` and `applications: [Spark, Hadoop]` (the
    /// shapes of the EMR API Reference's Cluster and InstanceGroup): `LogUri` comes back as
    /// `s3n://lake/emr-logs/`, applications carry versions, the core group has the EBS volumes
    /// EMR attached by default, and the EMR-managed groups are named by id.
    #[tokio::test]
    async fn a_cluster_read_back_the_way_emr_writes_it_plans_empty() {
        use crate::model::{DesiredConfig, LiveDetail, Names};
        use crate::resources::cluster::{ClusterConfig, EmrGroups};
        use aws_sdk_emr::types::{
            Application, EbsBlockDevice, Ec2InstanceAttributes, InstanceGroup as EmrGroup, VolumeSpecification,
        };
        let spec: crate::spec::Spec = serde_saphyr::from_str(
            "version: 1\npipeline: p\nregion: us-east-1\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets: [{name: a, cidr: 10.0.0.0/24, availability_zone: us-east-1a}]\n  endpoints: [s3]\nbuckets: [{name: lake}]\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark, Hadoop]\n    subnet: a\n    logs: {bucket: lake, prefix: emr-logs}\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 2}\n",
        )
        .unwrap();
        let cluster = &spec.clusters[0];
        let config = ClusterConfig {
            cluster: cluster.clone(),
            emr_name: "p-spark".into(),
            service_role: "p-spark-emr-service".into(),
            instance_profile: "p-spark-emr-ec2".into(),
            log_uri: Some("s3://lake/emr-logs".into()),
            security_configuration: "pipectl-p-emr".into(),
            emr_groups: EmrGroups::of(&spec, cluster),
            open_windows: Vec::new(),
        };
        let describe_rule = mock!(Client::describe_cluster).then_output(|| {
            let attributes = Ec2InstanceAttributes::builder()
                .ec2_subnet_id("subnet-1")
                .iam_instance_profile("p-spark-emr-ec2")
                .emr_managed_master_security_group("sg-m")
                .emr_managed_slave_security_group("sg-c")
                .service_access_security_group("sg-s")
                .build();
            let cluster = aws_sdk_emr::types::Cluster::builder()
                .id("j-1")
                .name("p-spark")
                .release_label("emr-7.2.0")
                .log_uri("s3n://lake/emr-logs/")
                .applications(Application::builder().name("Spark").version("3.5.1").build())
                .applications(Application::builder().name("Hadoop").version("3.3.6").build())
                .service_role("p-spark-emr-service")
                .termination_protected(false)
                .ec2_instance_attributes(attributes)
                .build();
            DescribeClusterOutput::builder().cluster(cluster).build()
        });
        let groups_rule = mock!(Client::list_instance_groups).then_output(|| {
            let group = |id: &str, role: InstanceGroupType, count: i32, ebs: bool| {
                let volume = VolumeSpecification::builder().volume_type("gp2").size_in_gb(32).build();
                let devices = if ebs {
                    vec![
                        EbsBlockDevice::builder().volume_specification(volume.clone()).device("/dev/sdb").build(),
                        EbsBlockDevice::builder().volume_specification(volume).device("/dev/sdc").build(),
                    ]
                } else {
                    Vec::new()
                };
                EmrGroup::builder()
                    .id(id)
                    .name(if role == InstanceGroupType::Master { "master" } else { "core" })
                    .instance_group_type(role)
                    .instance_type("m5.xlarge")
                    .requested_instance_count(count)
                    .running_instance_count(count)
                    .market(MarketType::OnDemand)
                    .set_ebs_block_devices(Some(devices))
                    .build()
            };
            ListInstanceGroupsOutput::builder()
                .instance_groups(group("ig-m", InstanceGroupType::Master, 1, false))
                .instance_groups(group("ig-c", InstanceGroupType::Core, 2, true))
                .build()
        });
        let rules = [
            describe_rule,
            groups_rule,
            mock!(Client::list_bootstrap_actions).then_output(|| ListBootstrapActionsOutput::builder().build()),
            mock!(Client::get_auto_termination_policy)
                .then_output(|| GetAutoTerminationPolicyOutput::builder().build()),
            mock!(Client::get_managed_scaling_policy).then_output(|| GetManagedScalingPolicyOutput::builder().build()),
        ];
        let emr = mock_client!(aws_sdk_emr, RuleMode::MatchAny, rules.iter());
        let warnings = Warnings::default();
        let (_, live) = describe(&test_clients_with_emr(emr, false), "j-1", &warnings).await.unwrap().unwrap();
        let named = |kind: crate::model::Kind, name: &str, physical: &str| {
            let live = crate::resources::test_support::live_vpc(ResourceId::new(kind, name), physical, "");
            (live.id.clone(), live)
        };
        let sg = crate::resources::security_group::KIND;
        let resources = BTreeMap::from([
            named(sg, "spark-emr-master", "sg-m"),
            named(sg, "spark-emr-core", "sg-c"),
            named(sg, "spark-emr-service", "sg-s"),
            named(crate::resources::subnet::KIND, "a", "subnet-1"),
        ]);
        let (current, _) = live.describe("j-1", &Names::of(&resources));
        let mut desired = config.attributes();
        super::super::attributes::adjust(
            &super::super::id("spark"),
            &live,
            &Tags::new(),
            &current,
            &mut desired,
            false,
        );
        assert_eq!(current, desired);
        assert_eq!(current["log_uri"], json!("s3://lake/emr-logs/"));
        assert_eq!(current["applications"], json!(["hadoop", "spark"]));
        assert_eq!(current["emr_groups.service"], json!("spark-emr-service"));
        assert_eq!(current["core.ebs_gib"], json!(32));
    }

    #[test]
    fn fields_are_compared_the_way_emr_writes_them() {
        use super::super::attributes::{canonical_iam_name, canonical_log_uri, canonical_release};
        for (given, read_back) in [
            ("s3://lake/emr-logs/", "s3n://lake/emr-logs/"),
            ("s3://lake/emr-logs", "s3n://lake/emr-logs/"),
            ("s3://lake", "s3n://lake/"),
            ("s3://lake/", "s3a://lake"),
        ] {
            assert_eq!(canonical_log_uri(given), canonical_log_uri(read_back), "{given} vs {read_back}");
        }
        assert_ne!(canonical_log_uri("s3://lake/a/"), canonical_log_uri("s3n://lake/b/"));
        assert_eq!(canonical_log_uri("hdfs:///logs"), "hdfs:///logs");
        assert_eq!(canonical_release(" EMR-7.2.0"), "emr-7.2.0");
        assert_eq!(
            canonical_iam_name("arn:aws:iam::123456789012:role/pipectl/p/p-spark-emr-service"),
            "p-spark-emr-service"
        );
        assert_eq!(
            canonical_iam_name("arn:aws-cn:iam::123456789012:instance-profile/p-spark-emr-ec2"),
            "p-spark-emr-ec2"
        );
        assert_eq!(canonical_iam_name("p-spark-emr-ec2"), "p-spark-emr-ec2");
    }

    /// The answer an emulator gives for an operation it lacks (HTTP 500, no error code) is a
    /// failure against AWS: there the fields would silently go uncompared, so the read fails and
    /// nothing is warned (`unsupported` holds for emulated endpoints only).
    #[tokio::test]
    async fn the_same_answer_from_aws_is_an_error_not_a_warning() {
        let server_error =
            || aws_smithy_runtime_api::http::Response::new(StatusCode::try_from(500).unwrap(), SdkBody::empty());
        let scaling_ok = || {
            mock!(Client::get_managed_scaling_policy).then_output(|| GetManagedScalingPolicyOutput::builder().build())
        };
        for (failing, operation) in [
            (mock!(Client::get_managed_scaling_policy).then_http_response(server_error), "GetManagedScalingPolicy"),
            (mock!(Client::get_auto_termination_policy).then_http_response(server_error), "GetAutoTerminationPolicy"),
        ] {
            // The failing rule first: MatchAny takes the first rule that matches a request.
            let mut rules = vec![failing];
            rules.extend(cluster_rules());
            rules.push(scaling_ok());
            let emr = mock_client!(aws_sdk_emr, RuleMode::MatchAny, rules.iter());
            let warnings = Warnings::default();
            let error = describe(&test_clients_with_emr(emr, false), "j-1", &warnings).await.unwrap_err();
            assert_eq!(error.operation, operation, "{error}");
            assert_eq!(warnings.messages(), Vec::<String>::new(), "{operation}: against AWS, no warning");
        }
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
        let (_, live) = describe(&test_clients_with_emr(emr, true), "j-1", &warnings).await.unwrap().unwrap();
        assert!(matches!(live.managed_scaling, Readable::Unsupported));
        assert_eq!(
            warnings.messages(),
            ["the endpoint does not implement emr:GetManagedScalingPolicy; the fields it reads are not compared"]
        );
    }
}

//! EMR clusters. Group sizes, new task groups, managed scaling, auto-termination, termination
//! protection and tags change in place; release, applications, instance types, subnet, master
//! count, configurations and bootstrap actions replace the cluster, which ends its running steps
//! and loses HDFS data (the plan says so). Sizes recorded by `pipectl scale` are not drift.
//!
//! Everything EMR is here: the roles and the EMR-managed security groups derived for a cluster
//! are built with it, and `pipectl scale` and the schedules reach EMR only through this module's
//! pub functions. Split by concern: `attributes` (what is compared, canonicalised the way EMR
//! writes it back, and the scale records), `read` (describing clusters), `apply` (creating,
//! changing, resizing and terminating them).
//!
//! What AWS requires of a cluster, encoded here:
//! - `AmazonEMRServicePolicy_v2` acts only on resources tagged
//!   `for-use-with-amazon-emr-managed-policies=true`: "you need to pass the user tag ... when
//!   provisioning the cluster" ("IAM service roles used by Amazon EMR"). The cluster carries it,
//!   and so do its subnet, its security groups and the VPC.
//! - Every cluster has EMR-managed security groups, one for the primary node and one for core
//!   and task nodes, plus one for service access in a private subnet; custom ones must be given
//!   together ("Working with Amazon EMR-managed security groups", "Specifying Amazon
//!   EMR-managed and additional security groups"). pipectl creates them, tagged as the
//!   pipeline's, so that destroy removes them instead of leaving EMR's `ElasticMapReduce-*`
//!   groups blocking the VPC's deletion. EMR writes their rules; pipectl adds only the one EMR
//!   checks for and does not add itself: TCP 9443 from the primary node's group into the
//!   service-access group (since EMR 5.30.0; without it the cluster ends in VALIDATION_ERROR
//!   "ServiceAccessSecurityGroup is missing ingress rule from EmrManagedMasterSecurityGroup on
//!   port 9443").

mod apply;
mod attributes;
mod desired;
mod read;

use serde_json::Value;

pub use apply::{forget_scale, record_scale, resize_group, wait_group_size, GroupWait};
pub use attributes::{scale_records, InstanceGroup, Live, Readable, ScaleRecord, State};
pub use desired::cluster_arn;
pub use read::{find_active, find_owned, group_id, inspect, list_active, Found, Running, ACTIVE_STATES};

use super::kit::{
    AwsError, Context, Grant, GrantContext, Health, LiveResource, NamedRead, Output, ReadContext, ResourceKind, Scope,
};
use super::{security_group, vpc};
use crate::iam::Arns;
use crate::model::{Action, Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, ResourceId};
use crate::names::{derived_cluster_roles, emr_security_group, Tags};
use crate::plan::FieldChange;
use crate::pricing::{self, CostLine, Prices};
pub use crate::spec::Group;
use crate::spec::{self, Market};

pub struct Cluster;
pub const KIND: Kind = Kind::of(&Cluster);

/// A cluster is named in the spec by its name without the pipeline prefix EMR shows.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// How an EMR instance group as read from AWS is matched to the spec's `Group`.
pub trait GroupMatch {
    /// True when EMR's `group` is this one.
    fn is(&self, group: &InstanceGroup) -> bool;
    /// The first of `groups` that is this one.
    fn find<'g>(&self, groups: &'g [InstanceGroup]) -> Option<&'g InstanceGroup>;
}

impl GroupMatch for Group {
    fn is(&self, group: &InstanceGroup) -> bool {
        use aws_sdk_emr::types::InstanceGroupType;
        match self {
            Group::Core => group.role == Some(InstanceGroupType::Core),
            Group::Task(name) => group.role == Some(InstanceGroupType::Task) && group.name == *name,
        }
    }

    fn find<'g>(&self, groups: &'g [InstanceGroup]) -> Option<&'g InstanceGroup> {
        groups.iter().find(|group| self.is(group))
    }
}

/// An EMR cluster with the names of what pipectl derives for it.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub cluster: spec::Cluster,
    /// The EMR cluster name, `<pipeline>-<cluster>`.
    pub emr_name: String,
    /// IAM names of the EMR service role and of the instance profile (same as its role).
    pub service_role: String,
    pub instance_profile: String,
    /// `s3://bucket/prefix` when logs are on.
    pub log_uri: Option<String>,
    /// The EMR security configuration it launches with (`security_configuration`: IMDSv2).
    pub security_configuration: String,
    /// The spec names of the security groups pipectl creates for EMR to manage.
    pub emr_groups: EmrGroups,
    /// The `schedules:` windows open when the desired graph was built: (group, its size in the
    /// window, the schedule's name). A group at that size is where the spec wants it.
    pub open_windows: Vec<(Group, i64, String)>,
}

/// The EMR-managed security groups of a cluster, by spec name (`security_group/<name>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmrGroups {
    /// `EmrManagedMasterSecurityGroup`: the primary node.
    pub master: String,
    /// `EmrManagedSlaveSecurityGroup`: core and task nodes.
    pub core: String,
    /// `ServiceAccessSecurityGroup`: only for a cluster in a private subnet.
    pub service: Option<String>,
}

impl EmrGroups {
    /// The groups of `cluster`; a service-access group when its subnet is not public (EMR:
    /// "service access (private subnets only)").
    pub fn of(spec: &spec::Spec, cluster: &spec::Cluster) -> EmrGroups {
        let public = spec
            .network
            .iter()
            .flat_map(|network| &network.subnets)
            .any(|subnet| subnet.name == cluster.subnet && subnet.public);
        EmrGroups {
            master: emr_security_group(&cluster.name, "master"),
            core: emr_security_group(&cluster.name, "core"),
            service: (!public).then(|| emr_security_group(&cluster.name, "service")),
        }
    }

    /// Every group, as resource ids.
    pub fn ids(&self) -> Vec<ResourceId> {
        [Some(&self.master), Some(&self.core), self.service.as_ref()]
            .into_iter()
            .flatten()
            .map(|name| security_group::id(name))
            .collect()
    }

    /// The desired nodes of the groups: EMR writes their rules; pipectl adds only TCP 9443 from
    /// the primary node's group into the service-access group, which EMR checks for and does
    /// not add ("Working with Amazon EMR-managed security groups").
    fn nodes(&self, graph: &GraphContext, cluster: &str) -> Vec<DesiredResource> {
        let vpc = vpc::id(&graph.spec.pipeline);
        let description = |role: &str| format!("EMR-managed: {role} of cluster {cluster} (rules written by EMR)");
        let mut nodes = vec![
            security_group::emr_managed_node(
                graph,
                &self.master,
                description("primary node"),
                vec![],
                vec![vpc.clone()],
            ),
            security_group::emr_managed_node(
                graph,
                &self.core,
                description("core and task nodes"),
                vec![],
                vec![vpc.clone()],
            ),
        ];
        if let Some(service) = &self.service {
            let from_master = spec::Rule {
                protocol: "tcp".to_string(),
                ports: Some(spec::Ports::Single(9443)),
                cidr: None,
                group: Some(self.master.clone()),
                description: None,
            };
            nodes.push(security_group::emr_managed_node(
                graph,
                service,
                description("service access"),
                vec![from_master],
                vec![vpc, security_group::id(&self.master)],
            ));
        }
        nodes
    }
}

impl DesiredConfig for ClusterConfig {
    fn attributes(&self) -> Attributes {
        attributes::desired(self)
    }
    fn expected_now(&self) -> Vec<(String, Value, String)> {
        self.open_windows
            .iter()
            .map(|(group, nodes, schedule)| {
                let why = format!("{} is at {nodes} nodes inside the window of schedule '{schedule}'", group.label());
                (group.field("nodes"), serde_json::json!(nodes), why)
            })
            .collect()
    }
}

/// Fields EMR cannot change on a running cluster (task groups add `task.<name>.type|market`).
const REPLACING: [&str; 17] = [
    "release",
    "applications",
    "subnet",
    "security_groups",
    "key_pair",
    "log_uri",
    "master.type",
    "master.count",
    "core.type",
    "core.ebs_gib",
    "configurations",
    "bootstrap",
    "service_role",
    "instance_profile",
    "emr_groups.master",
    "emr_groups.core",
    "emr_groups.service",
];

impl KindRules for Cluster {
    fn name(&self) -> &'static str {
        "cluster"
    }
    fn rank(&self) -> u8 {
        90
    }
    fn forces_replacement(&self, field: &str) -> bool {
        if field.starts_with("task.") {
            return field.ends_with(".type") || field.ends_with(".market");
        }
        REPLACING.contains(&field)
    }
    /// Scale records and the launch replication are pipectl's notes on the cluster, not tags the
    /// spec manages.
    fn compared_tags(&self, tags: &Tags) -> Tags {
        tags.iter()
            .filter(|(key, _)| !attributes::is_note(key))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()
    }
    fn change_notes(&self, action: Action, _before: Option<&Attributes>, _after: Option<&Attributes>) -> Vec<String> {
        attributes::change_notes(action)
    }
    /// Shrinking core below the cluster's HDFS replication is planned as destroying data, so
    /// that apply needs `--allow-destroy` (and EMR would refuse it anyway).
    fn update_loses_data(&self, before: &Attributes, after: &Attributes) -> Option<String> {
        attributes::core_shrink_loses_data(before, after)
    }
    fn adjust_desired(&self, live: &LiveResource, desired: &mut Attributes, reset_scale: bool) -> Vec<String> {
        match live.detail::<Live>() {
            Some(detail) => attributes::adjust(&live.id, detail, &live.tags, &live.attributes, desired, reset_scale),
            None => Vec::new(),
        }
    }
    fn refusal(&self, live: &LiveResource) -> Option<String> {
        live.detail::<Live>().and_then(|detail| attributes::refusal(&live.id, detail))
    }
}

impl ResourceKind for Cluster {
    type Desired = ClusterConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    /// Each cluster with what it derives: its roles, its EMR-managed security groups, the
    /// schedules of its windows, the pipeline's dead-letter queue and its alarms.
    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        graph.spec.clusters.iter().flat_map(|cluster| desired::nodes(graph, cluster)).collect()
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        read::read(read).await
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &ClusterConfig,
    ) -> Result<String, AwsError> {
        apply::create(ctx, resource, desired).await
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &ClusterConfig,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        apply::update(ctx, resource, desired, live, detail).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        apply::delete(ctx, live).await
    }

    /// Its nodes at their baseline: master, core and each task group (spot groups unpriced).
    fn cost(&self, resource: &DesiredResource, desired: &ClusterConfig, prices: &Prices) -> Vec<CostLine> {
        let (cluster, name) = (&desired.cluster, resource.id.to_string());
        let mut lines =
            pricing::nodes(prices, &name, "master", cluster.master.count, &cluster.master.instance_type, false);
        lines.extend(pricing::nodes(prices, &name, "core", cluster.core.nodes, &cluster.core.instance_type, false));
        for group in &cluster.task_groups {
            let label = format!("task group '{}'", group.name);
            let spot = group.market == Market::Spot;
            lines.extend(pricing::nodes(prices, &name, &label, group.nodes, &group.instance_type, spot));
        }
        lines
    }

    /// Groups resized (or retyped) in place, priced as they were.
    fn cost_before(
        &self,
        resource: &DesiredResource,
        desired: &ClusterConfig,
        fields: &[FieldChange],
        prices: &Prices,
    ) -> Option<Vec<CostLine>> {
        let before = |path: String| fields.iter().find(|field| field.path == path).map(|field| field.before.clone());
        let nodes = |value: Option<Value>| value.and_then(|value| value.as_i64()).unwrap_or(0);
        let text =
            |value: Option<Value>| value.and_then(|value| value.as_str().map(str::to_string)).unwrap_or_default();
        let mut was = desired.clone();
        let mut changed = false;
        let cluster = &mut was.cluster;
        if let Some(value) = before(Group::Core.field("nodes")) {
            (cluster.core.nodes, changed) = (nodes(value), true);
        }
        if let Some(value) = before(Group::Core.field("type")) {
            (cluster.core.instance_type, changed) = (text(value), true);
        }
        for group in &mut cluster.task_groups {
            let task = Group::Task(group.name.clone());
            if let Some(value) = before(task.field("nodes")) {
                (group.nodes, changed) = (nodes(value), true);
            }
            if let Some(value) = before(task.field("type")) {
                (group.instance_type, changed) = (text(value), true);
            }
            if let Some(value) = before(task.field("market")) {
                let market = value.and_then(|value| serde_json::from_value(value).ok()).unwrap_or_default();
                (group.market, changed) = (market, true);
            }
        }
        changed.then(|| self.cost(resource, &was, prices))
    }

    /// The cluster id steps and `aws emr` take, its ARN, and its master's DNS name once EMR
    /// has assigned one.
    fn outputs(&self, live: &LiveResource, detail: &Live, _arns: &Arns) -> Vec<Output> {
        let mut outputs = vec![Output::new("id", &live.physical_id), Output::new("arn", &detail.arn)];
        outputs.extend(detail.master_dns.as_ref().map(|dns| Output::new("master_dns", dns)));
        outputs
    }

    fn health(&self, live: &LiveResource, detail: &Live) -> Option<Health> {
        Some(attributes::health(&live.tags, detail))
    }

    /// Clusters are matched by their tag, as their ARNs carry ids unknown in advance. A cluster
    /// runs with two roles of the pipeline: EMR's service role and its instances' (EC2's).
    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let clusters = vec![ctx.arn("elasticmapreduce", "cluster/*")];
        let read = [
            "elasticmapreduce:DescribeCluster",
            "elasticmapreduce:ListInstanceGroups",
            "elasticmapreduce:ListBootstrapActions",
            "elasticmapreduce:GetAutoTerminationPolicy",
            "elasticmapreduce:GetManagedScalingPolicy",
        ];
        let change = [
            "elasticmapreduce:ModifyInstanceGroups",
            "elasticmapreduce:AddInstanceGroups",
            "elasticmapreduce:SetTerminationProtection",
            "elasticmapreduce:PutAutoTerminationPolicy",
            "elasticmapreduce:RemoveAutoTerminationPolicy",
            "elasticmapreduce:PutManagedScalingPolicy",
            "elasticmapreduce:RemoveManagedScalingPolicy",
            "elasticmapreduce:AddTags",
            "elasticmapreduce:RemoveTags",
        ];
        let own = |scope, actions| Grant::new("ChangeOwnClusters", scope, actions, clusters.clone()).when(ctx.tagged());
        let names = |index: usize| -> Vec<String> {
            ctx.spec.clusters.iter().map(|cluster| derived_cluster_roles(&cluster.name)[index].clone()).collect()
        };
        let start = if ctx.spec.clusters.is_empty() { Vec::new() } else { vec!["*".to_string()] };
        // RunJobFlow with tags needs `elasticmapreduce:AddTags` too ("Using cluster tagging
        // with IAM policies for fine-grained access control", Amazon EMR Management Guide: "To
        // create a cluster with a tag, you must also have permission for the
        // elasticmapreduce:AddTags action"), authorised on the literal ARN `…:cluster/*`, as the
        // cluster has no id yet (AWS's AccessDenied message names that ARN). `${*}` is IAM's
        // literal asterisk ("IAM policy elements: Variables and tags", special characters), so
        // this statement cannot tag an existing cluster (`cluster/j-…`) as the pipeline's.
        let creating = vec![ctx.arn("elasticmapreduce", "cluster/${*}")];
        let creating = if ctx.spec.clusters.is_empty() { Vec::new() } else { creating };
        let mut grants = vec![
            Grant::unscoped_reads(&["elasticmapreduce:ListClusters"]),
            Grant::new("ReadClusters", Scope::Plan, &read, clusters.clone()),
            own(Scope::Apply, &change),
            own(Scope::Destroy, &["elasticmapreduce:TerminateJobFlows"]),
            // RunJobFlow has no resource type (Service Authorization Reference): `*`, with the
            // pipeline's tag required in the request.
            Grant::new("StartTaggedClusters", Scope::Apply, &["elasticmapreduce:RunJobFlow"], start)
                .when(ctx.tagging()),
            Grant::new("TagClustersAtStart", Scope::Apply, &["elasticmapreduce:AddTags"], creating).when(ctx.tagging()),
            // EMR's service role is passed to EMR, the instances' role to EC2 (as the
            // AmazonEMRFullAccessPolicy_v2 managed policy passes them).
            ctx.pass_roles("elasticmapreduce", &names(0)),
            ctx.pass_roles("ec2", &names(1)),
        ];
        grants.extend(ctx.attach_managed(&[emr_service_managed_policy(&ctx.arns)], &names(0)));
        grants
    }
}

/// The AWS managed policy EMR's service role carries ("Service role for Amazon EMR (EMR
/// role)", Amazon EMR Management Guide).
pub(super) fn emr_service_managed_policy(arns: &crate::iam::Arns) -> String {
    arns.managed_policy("service-role/AmazonEMRServicePolicy_v2")
}

#[cfg(test)]
mod tests {
    use super::desired::emr_instance_policy;
    use super::*;
    use crate::iam::Arns;
    use crate::names::{EMR_MANAGED_TAG, HDFS_REPLICATION_TAG, SCALE_TAG_PREFIX};
    use crate::resources::graph_in;
    use crate::resources::role::RoleConfig;

    const SPEC: &str = "version: 1\npipeline: p\nregion: eu-west-1\nbuckets: [{name: lake}]\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    security_groups: [emr]\n    logs: {bucket: lake}\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 4}\n    task_groups: [{name: batch, type: m5.xlarge, nodes: 0}]\n    tags: {team: data}\n";

    #[test]
    fn groups_parse_once_and_know_their_baseline() {
        let spec: spec::Spec = serde_saphyr::from_str(SPEC).unwrap();
        let cluster = &spec.clusters[0];
        assert_eq!(Group::parse("core"), Group::Core);
        assert_eq!(Group::parse("batch"), Group::Task("batch".to_string()));
        assert_eq!((Group::Core.name(), Group::parse("batch").name()), ("core", "batch"));
        assert_eq!(Group::Core.baseline(cluster), Some(4));
        assert_eq!(Group::parse("batch").baseline(cluster), Some(0));
        assert_eq!(Group::parse("master").baseline(cluster), None);
        assert_eq!(
            (Group::Core.field("nodes"), Group::parse("batch").field("type")),
            ("core.nodes".to_string(), "task.batch.type".to_string())
        );
    }

    #[test]
    fn each_cluster_brings_its_roles_in_order() {
        let spec: spec::Spec = serde_saphyr::from_str(SPEC).unwrap();
        let arns = Arns::new("123456789012", "eu-west-1");
        let graph = GraphContext { spec: &spec, arns: &arns, now: chrono::Utc::now() };
        let nodes = Cluster.desired(&graph);
        let ids: Vec<String> = nodes.iter().map(|node| node.id.to_string()).collect();
        assert_eq!(
            ids,
            [
                "role/spark-emr-service",
                "role/spark-emr-ec2",
                "security_group/spark-emr-master",
                "security_group/spark-emr-core",
                "security_group/spark-emr-service",
                "security_configuration/emr",
                "cluster/spark",
                "role/spark-scheduler",
                "queue/schedules-dlq"
            ]
        );
        let cluster = &nodes[6];
        let depends_on: Vec<String> = cluster.depends_on.iter().map(ToString::to_string).collect();
        assert_eq!(
            depends_on,
            [
                "subnet/a",
                "role/spark-emr-service",
                "role/spark-emr-ec2",
                "security_group/emr",
                "security_group/spark-emr-master",
                "security_group/spark-emr-core",
                "security_group/spark-emr-service",
                "bucket/lake",
                "security_configuration/emr"
            ]
        );
        assert_eq!(cluster.tags.get("team").map(String::as_str), Some("data"));
        // AmazonEMRServicePolicy_v2 needs the cluster tagged for it.
        assert_eq!(cluster.tags.get(EMR_MANAGED_TAG.0).map(String::as_str), Some("true"));
        let config = cluster.config::<ClusterConfig>().unwrap();
        assert_eq!(
            (config.emr_name.as_str(), config.service_role.as_str(), config.instance_profile.as_str()),
            ("p-spark", "p-spark-emr-service-euw1", "p-spark-emr-ec2-euw1")
        );
        assert_eq!(config.log_uri.as_deref(), Some("s3://lake/emr-logs/"));
        let instance = nodes[1].config::<RoleConfig>().unwrap();
        assert!(instance.instance_profile);
        let scheduler = &nodes[7];
        assert_eq!(scheduler.depends_on, [id("spark")]);
        let resize = &scheduler.config::<RoleConfig>().unwrap().inline;
        let resource = resize.as_ref().map(|policy| policy["Statement"][0]["Resource"][0].clone());
        assert_eq!(
            resource,
            Some(serde_json::json!("arn:aws:elasticmapreduce:eu-west-1:123456789012:cluster/${cluster/spark}"))
        );
        // The whole graph has the same nodes (listed kind by kind there), the queue once.
        let mut whole: Vec<String> = graph_in(&spec, &arns, chrono::Utc::now())
            .iter()
            .filter(|node| {
                node.id.kind == KIND
                    || node.id.name.starts_with("spark-")
                    || node.id.name == "schedules-dlq"
                    || node.id.kind == crate::resources::security_configuration::KIND
            })
            .map(|node| node.id.to_string())
            .collect();
        let mut own = ids.clone();
        whole.sort();
        own.sort();
        assert_eq!(whole, own);
    }

    #[test]
    fn emr_managed_groups_are_the_pipelines_and_only_a_private_subnet_gets_service_access() {
        use crate::names::EMR_RULES_TAG;
        use crate::resources::security_group::Desired as GroupDesired;
        let network = "network:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets:\n    - {name: a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a}\n    - {name: b, cidr: 10.0.1.0/24, availability_zone: eu-west-1b, public: true}\n";
        let private: spec::Spec = serde_saphyr::from_str(&format!("{SPEC}{network}")).unwrap();
        let arns = Arns::new("123456789012", "eu-west-1");
        let graph = GraphContext { spec: &private, arns: &arns, now: chrono::Utc::now() };
        let nodes = Cluster.desired(&graph);
        let groups: Vec<&DesiredResource> = nodes.iter().filter(|n| n.id.kind == security_group::KIND).collect();
        assert_eq!(groups.len(), 3);
        for group in &groups {
            assert_eq!(group.tags.get(EMR_MANAGED_TAG.0).map(String::as_str), Some("true"), "{}", group.id);
            assert_eq!(group.tags.get(EMR_RULES_TAG.0).map(String::as_str), Some(EMR_RULES_TAG.1), "{}", group.id);
            assert_eq!(group.tags.get("pipectl:pipeline").map(String::as_str), Some("p"));
            assert!(group.config::<GroupDesired>().is_some_and(|desired| desired.rules_managed_by_emr));
        }
        // The one rule EMR checks for and does not add: 9443 from the primary node's group.
        let service = groups[2];
        assert_eq!(service.attributes()["ingress"], serde_json::json!(["tcp 9443 group spark-emr-master"]));
        assert_eq!(service.attributes()["egress"], serde_json::json!([]));
        assert_eq!(service.depends_on, [vpc::id("p"), security_group::id("spark-emr-master")]);
        assert_eq!(groups[0].attributes()["ingress"], serde_json::json!([]));
        let config = nodes.iter().find_map(|n| n.config::<ClusterConfig>()).unwrap();
        assert_eq!(config.emr_groups.service.as_deref(), Some("spark-emr-service"));
        // In the public subnet: no service-access group (EMR: "private subnets only").
        let public: spec::Spec =
            serde_saphyr::from_str(&format!("{}{network}", SPEC.replace("subnet: a", "subnet: b"))).unwrap();
        let graph = GraphContext { spec: &public, arns: &arns, now: chrono::Utc::now() };
        let nodes = Cluster.desired(&graph);
        let names: Vec<String> =
            nodes.iter().filter(|n| n.id.kind == security_group::KIND).map(|n| n.id.name.clone()).collect();
        assert_eq!(names, ["spark-emr-master", "spark-emr-core"]);
        // The VPC carries the tag too once the spec has a cluster.
        let vpc = graph_in(&public, &arns, chrono::Utc::now()).into_iter().find(|n| n.id == vpc::id("p")).unwrap();
        assert_eq!(vpc.tags.get(EMR_MANAGED_TAG.0).map(String::as_str), Some("true"));
    }

    #[test]
    fn instance_role_uses_each_customer_bucket_key_through_s3() {
        // `raw` turns its S3 Bucket Key off: S3's encryption context there is the object's ARN,
        // elsewhere the bucket's.
        let buckets = "buckets:\n  - {name: lake, encryption: sse-kms, kms_key: k1}\n  - {name: logs, encryption: sse-kms, kms_key: alias/logs}\n  - {name: raw, encryption: sse-kms, kms_key: k1, bucket_key: false}\n  - {name: managed, encryption: sse-kms, kms_key: alias/aws/s3}\n  - {name: plain}\n";
        for (region, partition, suffix) in [
            ("eu-west-1", "aws", "amazonaws.com"),
            ("cn-north-1", "aws-cn", "amazonaws.com.cn"),
            ("us-gov-west-1", "aws-us-gov", "amazonaws.com"),
        ] {
            let yaml = SPEC
                .replace("region: eu-west-1", &format!("region: {region}"))
                .replace("buckets: [{name: lake}]\n", buckets);
            let spec: spec::Spec = serde_saphyr::from_str(&yaml).unwrap();
            let arns = Arns::new("123456789012", region);
            let policy = emr_instance_policy(&spec, &spec.clusters[0], &arns).unwrap();
            let statements = policy["Statement"].as_array().unwrap();
            assert_eq!(statements.len(), 5, "one statement per customer key, none for the managed key");
            let key_prefix = format!("arn:{partition}:kms:{region}:123456789012");
            let via = serde_json::json!({"kms:ViaService": format!("s3.{region}.{suffix}")});
            assert_eq!(
                statements[3],
                serde_json::json!({"Sid": "UsePipelineBucketKey0", "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": [format!("{key_prefix}:key/k1")],
                    "Condition": {"StringEquals": via,
                        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [format!("arn:{partition}:s3:::lake"), format!("arn:{partition}:s3:::raw/*")]}}})
            );
            assert_eq!(
                statements[4],
                serde_json::json!({"Sid": "UsePipelineBucketKey1", "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": [format!("{key_prefix}:key/*")],
                    "Condition": {"StringEquals": via,
                        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [format!("arn:{partition}:s3:::logs")]},
                        "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/logs"}}})
            );
        }
        let plain: spec::Spec = serde_saphyr::from_str(SPEC).unwrap();
        assert_eq!(
            emr_instance_policy(&plain, &plain.clusters[0], &Arns::new("1", "eu-west-1")).unwrap()["Statement"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn instances_read_the_lake_but_write_only_their_logs_tables_and_declared_prefixes_never_scripts() {
        let yaml = SPEC.replace(
            "    tags: {team: data}\n",
            "    writes: [s3://lake/sessions/, s3://other/out/]\n    jobs:\n      - name: nightly\n        cron: '0 2 * * *'\n        group: batch\n        nodes: 2\n        timeout: 1h\n        steps:\n          - {name: s, script: s3://lake/jobs/s.py}\n          - {name: t, script: s3://elsewhere/t.py}\n    tags: {team: data}\n",
        ) + "catalog:\n  tables: [{name: t, location: {bucket: lake, prefix: 'tables/t/'}, columns: [{name: a, type: string}]}]\n";
        let spec: spec::Spec = serde_saphyr::from_str(&yaml).unwrap();
        let policy = emr_instance_policy(&spec, &spec.clusters[0], &Arns::new("1", "eu-west-1")).unwrap();
        let statement = |sid: &str| {
            policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).cloned().unwrap_or_default()
        };
        assert_eq!(statement("ReadPipelineObjects")["Action"], serde_json::json!(["s3:GetObject"]));
        assert_eq!(statement("ReadPipelineObjects")["Resource"], serde_json::json!(["arn:aws:s3:::lake/*"]));
        // The logs, the table's folder and what the cluster declares: not the whole bucket.
        assert_eq!(
            statement("WriteWhereTheClusterWrites")["Resource"],
            serde_json::json!([
                "arn:aws:s3:::lake/emr-logs/*",
                "arn:aws:s3:::lake/tables/t/*",
                "arn:aws:s3:::lake/sessions/*",
                "arn:aws:s3:::other/out/*"
            ])
        );
        // A script in a spec bucket is never written, whatever prefix holds it.
        let deny = statement("NeverWriteJobScripts");
        assert_eq!(deny["Effect"], "Deny");
        assert_eq!(deny["Resource"], serde_json::json!(["arn:aws:s3:::lake/jobs/s.py"]));
    }

    /// `SPEC` with the pipeline's catalog, its cluster using it, and `configurations` as given.
    fn glue_spec(configurations: &str) -> spec::Spec {
        let yaml = SPEC.replace("    tags: {team: data}\n", &format!("    use_glue_catalog: true\n{configurations}    tags: {{team: data}}\n"))
            + "catalog:\n  database: lake_db\n  tables: [{name: t, location: {bucket: lake, prefix: t/}, columns: [{name: a, type: string}]}]\n";
        serde_saphyr::from_str(&yaml).unwrap()
    }

    #[test]
    fn a_glue_catalog_cluster_may_use_exactly_the_pipeline_database() {
        let spec = glue_spec("");
        let policy = emr_instance_policy(&spec, &spec.clusters[0], &Arns::new("123456789012", "eu-west-1")).unwrap();
        let statements = policy["Statement"].as_array().unwrap();
        let glue = "arn:aws:glue:eu-west-1:123456789012";
        assert_eq!(
            statements[3..],
            [
                serde_json::json!({"Sid": "ReadPipelineDatabase", "Effect": "Allow", "Action": ["glue:GetDatabase"],
                    "Resource": [format!("{glue}:catalog"), format!("{glue}:database/default"), format!("{glue}:database/lake_db")]}),
                serde_json::json!({"Sid": "CreateDefaultDatabase", "Effect": "Allow", "Action": ["glue:CreateDatabase"],
                    "Resource": [format!("{glue}:catalog"), format!("{glue}:database/default")]}),
                serde_json::json!({"Sid": "UsePipelineTables", "Effect": "Allow",
                    "Action": ["glue:BatchCreatePartition", "glue:BatchDeletePartition", "glue:BatchGetPartition", "glue:CreatePartition",
                               "glue:CreateTable", "glue:DeletePartition", "glue:DeleteTable", "glue:GetPartition", "glue:GetPartitions",
                               "glue:GetTable", "glue:GetTableVersions", "glue:GetTables", "glue:UpdatePartition", "glue:UpdateTable"],
                    "Resource": [format!("{glue}:catalog"), format!("{glue}:database/lake_db"), format!("{glue}:table/lake_db/*")]}),
            ]
        );
        assert!(crate::iam::wildcard_actions(&policy).is_empty());
    }

    #[test]
    fn the_glue_metastore_is_merged_into_the_configurations() {
        let spec = glue_spec("    configurations:\n      - {classification: spark-hive-site, properties: {hive.metastore.glue.catalogid: '123456789012'}}\n      - {classification: spark-defaults, properties: {spark.sql.shuffle.partitions: '64'}}\n");
        let problems = spec::validate(&spec);
        assert!(
            problems.iter().all(|p| !p.path.contains("configurations") && !p.path.contains("glue")),
            "{problems:?}"
        );
        let arns = Arns::new("123456789012", "eu-west-1");
        let graph = crate::resources::graph_in(&spec, &arns, chrono::Utc::now());
        let config = graph.iter().find(|n| n.id == id("spark")).unwrap().config::<ClusterConfig>().unwrap();
        let factory = "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory";
        let expected = serde_json::json!([
            {"classification": "hive-site", "properties": {"hive.metastore.client.factory.class": factory}},
            {"classification": "spark-defaults", "properties": {"spark.sql.shuffle.partitions": "64"}},
            {"classification": "spark-hive-site", "properties": {"hive.metastore.client.factory.class": factory, "hive.metastore.glue.catalogid": "123456789012"}},
        ]);
        assert_eq!(config.attributes()["configurations"], expected);
        assert!(Cluster.forces_replacement("configurations"), "EMR cannot change a running cluster's configurations");
    }

    #[test]
    fn task_group_types_replace_and_scale_records_are_not_compared() {
        assert!(Cluster.forces_replacement("task.batch.market"));
        assert!(Cluster.forces_replacement("core.type"));
        assert!(!Cluster.forces_replacement("task.batch.nodes"));
        assert!(!Cluster.forces_replacement("core.nodes"));
        let tags = Tags::from([
            (format!("{SCALE_TAG_PREFIX}batch"), "nodes=20 baseline=0".to_string()),
            (HDFS_REPLICATION_TAG.to_string(), "2".to_string()),
            ("team".to_string(), "data".to_string()),
        ]);
        assert_eq!(Cluster.compared_tags(&tags), Tags::from([("team".to_string(), "data".to_string())]));
    }

    #[test]
    fn clusters_are_started_and_changed_only_with_the_pipelines_tag_and_run_with_its_roles() {
        use crate::iam::deployer::Purpose;
        use crate::resources::test_support::{assert_granted, granted, sids_allowing, statement};
        let spec = crate::resources::test_support::one_cluster_spec();
        assert_granted(
            &Cluster,
            &spec,
            &[
                ("elasticmapreduce:ListClusters", &["ReadWhatCannotBeScoped"]),
                ("elasticmapreduce:DescribeCluster", &["ReadClusters"]),
                ("elasticmapreduce:RunJobFlow", &["StartTaggedClusters"]),
                ("elasticmapreduce:AddTags", &["ChangeOwnClusters", "TagClustersAtStart"]),
                ("elasticmapreduce:TerminateJobFlows", &["ChangeOwnClusters"]),
                ("iam:PassRole", &["PassClusterRolesToEmr", "PassInstanceRolesToEc2"]),
                ("iam:AttachRolePolicy", &["AttachOnlyTheSpecsManagedPolicies"]),
            ],
        );
        let all = granted(&Cluster, &spec, Purpose::Everything);
        let tag = |kind: &str| serde_json::json!({"StringEquals": {format!("aws:{kind}/pipectl:pipeline"): "p"}});
        assert_eq!(statement(&all, "ChangeOwnClusters")["Condition"], tag("ResourceTag"));
        assert_eq!(statement(&all, "StartTaggedClusters")["Condition"], tag("RequestTag"));
        // Tags at RunJobFlow only: on the literal `cluster/*` EMR authorises them on, never an
        // existing cluster's ARN (`${*}` is IAM's literal asterisk).
        let at_start = statement(&all, "TagClustersAtStart");
        assert_eq!(
            at_start["Resource"],
            serde_json::json!(["arn:aws:elasticmapreduce:eu-west-1:123456789012:cluster/${*}"])
        );
        assert_eq!(at_start["Condition"], tag("RequestTag"));
        // Each role to its one service.
        let role = |name: &str| format!("arn:aws:iam::123456789012:role/pipectl/p/eu-west-1/p-spark-{name}-euw1");
        for (sid, name, service) in [
            ("PassClusterRolesToEmr", "emr-service", "elasticmapreduce.amazonaws.com"),
            ("PassInstanceRolesToEc2", "emr-ec2", "ec2.amazonaws.com"),
        ] {
            assert_eq!(statement(&all, sid)["Resource"], serde_json::json!([role(name)]));
            assert_eq!(statement(&all, sid)["Condition"]["StringEquals"]["iam:PassedToService"], service);
        }
        // EMR's managed policy on EMR's service role, nothing else attachable.
        let attach = statement(&all, "AttachOnlyTheSpecsManagedPolicies");
        assert_eq!(attach["Resource"], serde_json::json!([role("emr-service")]));
        assert_eq!(
            attach["Condition"],
            serde_json::json!({"ArnEquals": {"iam:PolicyARN": ["arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2"]}})
        );
        // Without a cluster in the spec, none is started; one an earlier spec made is still ended.
        let none = granted(&Cluster, &crate::spec::SpecBuilder::new().build(), Purpose::Everything);
        assert!(sids_allowing(&none, "elasticmapreduce:RunJobFlow").is_empty());
        assert_eq!(sids_allowing(&none, "elasticmapreduce:TerminateJobFlows"), ["ChangeOwnClusters"]);
    }
}

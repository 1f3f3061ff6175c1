//! Resource identities and the desired graph: what the spec asks for, one node per AWS resource,
//! with the tags each must carry and the resources it depends on.
//!
//! Pure: turns a validated `Spec` into `DesiredResource`s without touching the network.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use serde_json::Value;

use crate::policy::{delivery_policy, normalize, role_path, statements_policy, trust_policy, Arns};
use crate::spec::{
    derived_cluster_roles, derived_delivery_role, iam_role_name, Bucket, Cluster, Delivery, SecurityGroup, Spec,
    Stream, Subnet,
};

/// Tag carrying the pipeline name on every resource pipectl creates.
pub const PIPELINE_TAG: &str = "pipectl:pipeline";
/// Tag carrying `kind/name`, which identifies the resource inside its pipeline.
pub const RESOURCE_TAG: &str = "pipectl:resource";

/// The kinds of resource pipectl manages, in the order plans list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Vpc,
    InternetGateway,
    Subnet,
    RouteTable,
    SecurityGroup,
    Bucket,
    Stream,
    Role,
    Delivery,
    Cluster,
    Schedule,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Vpc,
        Kind::InternetGateway,
        Kind::Subnet,
        Kind::RouteTable,
        Kind::SecurityGroup,
        Kind::Bucket,
        Kind::Stream,
        Kind::Role,
        Kind::Delivery,
        Kind::Cluster,
        Kind::Schedule,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Vpc => "vpc",
            Kind::InternetGateway => "internet_gateway",
            Kind::Subnet => "subnet",
            Kind::RouteTable => "route_table",
            Kind::SecurityGroup => "security_group",
            Kind::Bucket => "bucket",
            Kind::Stream => "stream",
            Kind::Role => "role",
            Kind::Delivery => "delivery",
            Kind::Cluster => "cluster",
            Kind::Schedule => "schedule",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Kinds whose resources live inside the VPC and must be replaced when it is.
    pub fn lives_in_vpc(self) -> bool {
        matches!(self, Kind::InternetGateway | Kind::Subnet | Kind::RouteTable | Kind::SecurityGroup)
    }
}

/// `kind/name`: how a resource is named in plans, tags and dependencies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    pub kind: Kind,
    pub name: String,
}

impl ResourceId {
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        ResourceId { kind, name: name.into() }
    }

    /// Parses the value of a `pipectl:resource` tag.
    pub fn parse(text: &str) -> Option<ResourceId> {
        let (kind, name) = text.split_once('/')?;
        Some(ResourceId::new(Kind::parse(kind)?, name))
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), self.name)
    }
}

impl Serialize for ResourceId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What one resource should look like.
#[derive(Debug, Clone)]
pub enum Desired {
    Vpc {
        cidr: String,
    },
    InternetGateway,
    Subnet(Subnet),
    /// The public route table: a default route to the internet gateway, associated with the
    /// public subnets named here.
    RouteTable {
        subnets: Vec<String>,
    },
    SecurityGroup(SecurityGroup),
    Bucket(Bucket),
    Stream(Stream),
    Role(RoleConfig),
    Delivery(Delivery),
    Cluster(Box<ClusterConfig>),
    Schedule(ScheduleConfig),
}

/// An EMR cluster with the names of what pipectl derives for it.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub cluster: Cluster,
    /// The EMR cluster name, `<pipeline>-<cluster>`.
    pub emr_name: String,
    /// IAM names of the EMR service role and of the instance profile (same as its role).
    pub service_role: String,
    pub instance_profile: String,
    /// `s3://bucket/prefix` when logs are on.
    pub log_uri: Option<String>,
}

/// One EventBridge Scheduler schedule that sets an instance group to a size.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// The schedule's name in EventBridge Scheduler.
    pub schedule_name: String,
    pub cluster: String,
    pub group: String,
    pub nodes: i64,
    /// The EventBridge expression, e.g. `cron(0 2 * * ? *)`.
    pub expression: String,
    pub timezone: String,
}

/// The IAM path segment, name prefix and description marker that identify a pipeline's
/// schedules (EventBridge Scheduler schedules carry no tags).
pub fn schedule_prefix(pipeline: &str) -> String {
    format!("pipectl-{pipeline}-")
}

/// The cluster's ARN once its id is known, or a placeholder that apply fills in.
pub fn cluster_arn(arns: &Arns, cluster: &str, known: &BTreeMap<ResourceId, String>) -> String {
    let id = known
        .get(&ResourceId::new(Kind::Cluster, cluster))
        .cloned()
        .unwrap_or_else(|| placeholder(&ResourceId::new(Kind::Cluster, cluster)));
    format!("arn:{}:elasticmapreduce:{}:{}:cluster/{id}", arns.partition, arns.region, arns.account_id)
}

/// A value apply substitutes with the AWS id of `id` once it exists (`${cluster/spark}`).
pub fn placeholder(id: &ResourceId) -> String {
    format!("${{{id}}}")
}

/// An IAM role as pipectl manages it: derived for a delivery, or declared in `roles`.
#[derive(Debug, Clone)]
pub struct RoleConfig {
    /// The IAM role name, `<pipeline>-<role>`.
    pub iam_name: String,
    /// The IAM path, `/pipectl/<pipeline>/`.
    pub path: String,
    /// Trust and inline policies, normalised.
    pub trust: Value,
    pub inline: Option<Value>,
    /// Managed policy ARNs, sorted.
    pub managed: Vec<String>,
    /// Whether the role also has an instance profile of the same name (for EC2 instances).
    pub instance_profile: bool,
}

/// One node of the desired graph.
#[derive(Debug, Clone)]
pub struct DesiredResource {
    pub id: ResourceId,
    /// Every tag the resource must carry: the spec's, the resource's own, `Name` for EC2, and
    /// pipectl's ownership tags.
    pub tags: BTreeMap<String, String>,
    pub depends_on: Vec<ResourceId>,
    pub config: Desired,
}

/// The one VPC of a pipeline is named after it.
pub fn vpc_id(pipeline: &str) -> ResourceId {
    ResourceId::new(Kind::Vpc, pipeline)
}

pub fn internet_gateway_id(pipeline: &str) -> ResourceId {
    ResourceId::new(Kind::InternetGateway, pipeline)
}

pub fn public_route_table_id() -> ResourceId {
    ResourceId::new(Kind::RouteTable, "public")
}

/// The role a delivery uses: the one it names, or the one derived for it.
pub fn delivery_role_id(delivery: &Delivery) -> ResourceId {
    let name = delivery.role.clone().unwrap_or_else(|| derived_delivery_role(&delivery.name));
    ResourceId::new(Kind::Role, name)
}

/// Builds the desired graph of a validated spec; `arns` names the account the policies refer to
/// and `known` holds the AWS ids of resources that exist already (for ARNs that contain them).
pub fn desired_graph(spec: &Spec, arns: &Arns, known: &BTreeMap<ResourceId, String>) -> Vec<DesiredResource> {
    let mut graph = Vec::new();
    let node = |id: ResourceId, extra_tags: &BTreeMap<String, String>, depends_on, config| {
        let mut tags = spec.tags.clone();
        tags.extend(extra_tags.clone());
        if id.kind == Kind::Vpc || id.kind.lives_in_vpc() {
            let name =
                if id.name == spec.pipeline { id.name.clone() } else { format!("{}-{}", spec.pipeline, id.name) };
            tags.insert("Name".to_string(), name);
        }
        tags.insert(PIPELINE_TAG.to_string(), spec.pipeline.clone());
        tags.insert(RESOURCE_TAG.to_string(), id.to_string());
        DesiredResource { id, tags, depends_on, config }
    };
    let none = BTreeMap::new();
    if let Some(network) = &spec.network {
        let vpc = vpc_id(&spec.pipeline);
        graph.push(node(vpc.clone(), &none, vec![], Desired::Vpc { cidr: network.vpc.cidr.clone() }));
        let public: Vec<String> =
            network.subnets.iter().filter(|subnet| subnet.public).map(|subnet| subnet.name.clone()).collect();
        // EMR's managed service policy (v2) only acts on subnets and groups tagged for it.
        let emr_tag = BTreeMap::from([("for-use-with-amazon-emr-managed-policies".to_string(), "true".to_string())]);
        let used_by_emr = |kind: Kind, name: &str| {
            spec.clusters.iter().any(|cluster| match kind {
                Kind::Subnet => cluster.subnet == name,
                _ => cluster.security_groups.iter().any(|group| group == name),
            })
        };
        for subnet in &network.subnets {
            let id = ResourceId::new(Kind::Subnet, &subnet.name);
            let extra = if used_by_emr(Kind::Subnet, &subnet.name) { &emr_tag } else { &none };
            graph.push(node(id, extra, vec![vpc.clone()], Desired::Subnet(subnet.clone())));
        }
        if !public.is_empty() {
            let gateway = internet_gateway_id(&spec.pipeline);
            graph.push(node(gateway.clone(), &none, vec![vpc.clone()], Desired::InternetGateway));
            let mut depends_on = vec![vpc.clone(), gateway];
            depends_on.extend(public.iter().map(|name| ResourceId::new(Kind::Subnet, name)));
            graph.push(node(public_route_table_id(), &none, depends_on, Desired::RouteTable { subnets: public }));
        }
        for group in &network.security_groups {
            let mut depends_on = vec![vpc.clone()];
            for rule in group.ingress.iter().chain(group.egress.iter().flatten()) {
                if let Some(peer) = rule.group.as_deref().filter(|peer| *peer != "self" && *peer != group.name) {
                    let peer = ResourceId::new(Kind::SecurityGroup, peer);
                    if !depends_on.contains(&peer) {
                        depends_on.push(peer);
                    }
                }
            }
            let id = ResourceId::new(Kind::SecurityGroup, &group.name);
            let extra = if used_by_emr(Kind::SecurityGroup, &group.name) { &emr_tag } else { &none };
            graph.push(node(id, extra, depends_on, Desired::SecurityGroup(group.clone())));
        }
    }
    for bucket in &spec.buckets {
        let id = ResourceId::new(Kind::Bucket, &bucket.name);
        graph.push(node(id, &bucket.tags, vec![], Desired::Bucket(bucket.clone())));
    }
    for stream in &spec.streams {
        let id = ResourceId::new(Kind::Stream, &stream.name);
        graph.push(node(id, &stream.tags, vec![], Desired::Stream(stream.clone())));
    }
    let role = |name: &str, trust: Value, inline: Option<Value>, managed: &[String]| {
        let mut managed = managed.to_vec();
        managed.sort();
        RoleConfig {
            iam_name: iam_role_name(&spec.pipeline, name),
            path: role_path(&spec.pipeline),
            trust: normalize(&trust),
            inline: inline.map(|policy| normalize(&policy)),
            managed,
            instance_profile: false,
        }
    };
    for declared in &spec.roles {
        let inline = (!declared.statements.is_empty()).then(|| statements_policy(&declared.statements));
        let config = role(&declared.name, trust_policy(&declared.trust), inline, &declared.managed_policies);
        graph.push(node(ResourceId::new(Kind::Role, &declared.name), &declared.tags, vec![], Desired::Role(config)));
    }
    for delivery in &spec.deliveries {
        let role_id = delivery_role_id(delivery);
        if delivery.role.is_none() {
            let Some(source) = spec.streams.iter().find(|stream| stream.name == delivery.from) else { continue };
            let policy = delivery_policy(delivery, source, arns);
            let config = role(&role_id.name, trust_policy("firehose.amazonaws.com"), Some(policy), &[]);
            graph.push(node(role_id.clone(), &delivery.tags, vec![], Desired::Role(config)));
        }
        let depends_on = vec![
            ResourceId::new(Kind::Stream, &delivery.from),
            ResourceId::new(Kind::Bucket, &delivery.to.bucket),
            role_id,
        ];
        let id = ResourceId::new(Kind::Delivery, &delivery.name);
        graph.push(node(id, &delivery.tags, depends_on, Desired::Delivery(delivery.clone())));
    }
    for cluster in &spec.clusters {
        let [service, instance, scheduler] = derived_cluster_roles(&cluster.name);
        let path = role_path(&spec.pipeline);
        let instance_iam = iam_role_name(&spec.pipeline, &instance);
        let service_policy = emr_service_policy(arns, &path, &instance_iam);
        let managed = [format!("arn:{}:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2", arns.partition)];
        let service_role =
            role(&service, trust_policy("elasticmapreduce.amazonaws.com"), Some(service_policy), &managed);
        let instance_role = RoleConfig {
            instance_profile: true,
            ..role(&instance, trust_policy("ec2.amazonaws.com"), Some(emr_instance_policy(spec, arns)), &[])
        };
        let cluster_id = ResourceId::new(Kind::Cluster, &cluster.name);
        let scheduler_policy = emr_resize_policy(&cluster_arn(arns, &cluster.name, known));
        let scheduler_role = role(&scheduler, trust_policy("scheduler.amazonaws.com"), Some(scheduler_policy), &[]);
        let (service_id, instance_id, scheduler_id) = (
            ResourceId::new(Kind::Role, &service),
            ResourceId::new(Kind::Role, &instance),
            ResourceId::new(Kind::Role, &scheduler),
        );
        graph.push(node(service_id.clone(), &cluster.tags, vec![], Desired::Role(service_role.clone())));
        graph.push(node(instance_id.clone(), &cluster.tags, vec![], Desired::Role(instance_role.clone())));
        let mut depends_on = vec![ResourceId::new(Kind::Subnet, &cluster.subnet), service_id, instance_id];
        depends_on.extend(cluster.security_groups.iter().map(|group| ResourceId::new(Kind::SecurityGroup, group)));
        depends_on.extend(cluster.logs.iter().map(|logs| ResourceId::new(Kind::Bucket, &logs.bucket)));
        let config = ClusterConfig {
            cluster: cluster.clone(),
            emr_name: format!("{}-{}", spec.pipeline, cluster.name),
            service_role: service_role.iam_name,
            instance_profile: instance_role.iam_name,
            log_uri: cluster.logs.as_ref().map(|logs| format!("s3://{}/{}", logs.bucket, logs.prefix)),
        };
        graph.push(node(cluster_id.clone(), &cluster.tags, depends_on, Desired::Cluster(Box::new(config))));
        graph.push(node(scheduler_id.clone(), &cluster.tags, vec![cluster_id.clone()], Desired::Role(scheduler_role)));
        for schedule in &cluster.schedules {
            let Ok(start) = crate::cron::parse_cron(&schedule.cron) else { continue };
            let Some(end) = crate::duration::parse_duration(&schedule.duration)
                .ok()
                .and_then(|length| start.end_after(length).ok())
            else {
                continue;
            };
            let baseline = if schedule.group == "core" {
                cluster.core.nodes
            } else {
                cluster.task_groups.iter().find(|group| group.name == schedule.group).map_or(0, |group| group.nodes)
            };
            for (suffix, cron, nodes) in [("up", start.clone(), schedule.nodes), ("down", end, baseline)] {
                let name = format!("{}-{}-{suffix}", cluster.name, schedule.name);
                let config = ScheduleConfig {
                    schedule_name: format!("{}{name}", schedule_prefix(&spec.pipeline)),
                    cluster: cluster.name.clone(),
                    group: schedule.group.clone(),
                    nodes,
                    expression: cron.to_eventbridge(),
                    timezone: schedule.timezone.clone(),
                };
                let depends_on = vec![cluster_id.clone(), scheduler_id.clone()];
                graph.push(node(
                    ResourceId::new(Kind::Schedule, name),
                    &cluster.tags,
                    depends_on,
                    Desired::Schedule(config),
                ));
            }
        }
    }
    graph
}

/// What EMR's service role needs besides the managed policy: passing the instance role to EC2.
fn emr_service_policy(arns: &Arns, path: &str, instance_role: &str) -> Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "PassInstanceRole", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": [arns.role(path, instance_role)]}]
    })
}

/// What the cluster's instances may do: read and write the pipeline's buckets, nothing else.
fn emr_instance_policy(spec: &Spec, arns: &Arns) -> Value {
    let buckets: Vec<String> = spec.buckets.iter().map(|bucket| arns.bucket(&bucket.name)).collect();
    let objects: Vec<String> = buckets.iter().map(|bucket| format!("{bucket}/*")).collect();
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "ListPipelineBuckets", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": buckets},
            {"Sid": "ReadWritePipelineObjects", "Effect": "Allow",
             "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
             "Resource": objects}
        ]
    })
}

/// What EventBridge Scheduler may do with the cluster: resize its groups, nothing else.
fn emr_resize_policy(cluster_arn: &str) -> Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "ResizeCluster", "Effect": "Allow", "Action": ["elasticmapreduce:ModifyInstanceGroups"], "Resource": [cluster_arn]}]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_round_trip_through_tags() {
        let id = ResourceId::new(Kind::SecurityGroup, "emr-master");
        assert_eq!(id.to_string(), "security_group/emr-master");
        assert_eq!(ResourceId::parse("security_group/emr-master"), Some(id));
        assert_eq!(ResourceId::parse("nonsense/x"), None);
    }

    #[test]
    fn an_explicit_role_replaces_the_derived_one() {
        let yaml = "version: 1\npipeline: p\nregion: eu-west-1\nbuckets: [{name: lake}]\nstreams: [{name: events}]\nroles:\n  - {name: mine, trust: firehose.amazonaws.com, managed_policies: [arn:aws:iam::aws:policy/AmazonS3FullAccess]}\ndeliveries:\n  - {name: derived, from: events, to: {bucket: lake}}\n  - {name: explicit, from: events, to: {bucket: lake}, role: mine}\n";
        let spec: Spec = serde_saphyr::from_str(yaml).unwrap();
        let graph = desired_graph(&spec, &Arns::new("123456789012", "eu-west-1"), &BTreeMap::new());
        let roles: Vec<String> = graph.iter().filter(|n| n.id.kind == Kind::Role).map(|n| n.id.name.clone()).collect();
        assert_eq!(roles, ["mine", "derived-firehose"]);
        let explicit = graph.iter().find(|n| n.id.name == "explicit").unwrap();
        assert!(explicit.depends_on.contains(&ResourceId::new(Kind::Role, "mine")));
        let Desired::Role(mine) = &graph.iter().find(|n| n.id.name == "mine").unwrap().config else {
            panic!("not a role")
        };
        assert_eq!(
            (mine.iam_name.as_str(), mine.path.as_str(), mine.inline.is_none()),
            ("p-mine", "/pipectl/p/", true)
        );
    }

    #[test]
    fn public_subnets_bring_a_gateway_and_route_table() {
        let spec: Spec = serde_saphyr::from_str(
            "version: 1\npipeline: p\nregion: eu-west-1\ntags: {team: data}\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets:\n    - {name: a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a, public: true}\n    - {name: b, cidr: 10.0.1.0/24, availability_zone: eu-west-1b}\n",
        )
        .unwrap();
        let graph = desired_graph(&spec, &Arns::new("123456789012", "eu-west-1"), &BTreeMap::new());
        let ids: Vec<String> = graph.iter().map(|node| node.id.to_string()).collect();
        assert_eq!(ids, ["vpc/p", "subnet/a", "subnet/b", "internet_gateway/p", "route_table/public"]);
        let table = &graph[4];
        assert_eq!(
            table.depends_on.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["vpc/p", "internet_gateway/p", "subnet/a"]
        );
        assert_eq!(table.tags.get("Name").map(String::as_str), Some("p-public"));
        assert_eq!(table.tags.get("team").map(String::as_str), Some("data"));
        assert_eq!(table.tags.get(RESOURCE_TAG).map(String::as_str), Some("route_table/public"));
    }
}

//! Security groups. AWS stores rules merged (one permission with many ranges) and shows them in
//! its own order; pipectl flattens both sides into one rule per peer and compares them as sorted
//! sets, so that a plan is empty when nothing changed and a rule is never authorized twice.

use std::collections::BTreeSet;
use std::fmt;

use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};
use serde_json::json;

use super::ec2_tags::{ec2_node_tags, emr_managed_tags, from_ec2, pipeline_filter, sync, tag_specification};
use super::{aws_error, claimed_id, AwsError, Context, LiveResource, NamedRead, ReadContext, ResourceKind};
use crate::model::{
    Action, Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::spec::{self, port_range, Rule};

pub struct SecurityGroup;
pub const KIND: Kind = Kind::of(&SecurityGroup);

/// The security group the spec names `name`.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// A group is desired exactly as the spec writes it.
pub type Desired = spec::SecurityGroup;

/// The peer of a rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Peer {
    Cidr(String),
    /// A group of the spec by name, or `self`.
    Group(String),
    /// A group that is not part of this pipeline, by AWS id.
    ForeignGroup(String),
}

/// One flattened rule: protocol, port range and a single peer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FlatRule {
    /// AWS protocol: `tcp`, `udp`, `icmp` or `-1` for all.
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub peer: Peer,
    pub description: Option<String>,
}

impl fmt::Display for FlatRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let protocol = if self.protocol == "-1" { "all" } else { &self.protocol };
        let ports = match (self.from_port, self.to_port) {
            _ if self.protocol == "-1" => String::new(),
            (-1, _) | (0, 65535) => " all ports".to_string(),
            (from, to) if from == to => format!(" {from}"),
            (from, to) => format!(" {from}-{to}"),
        };
        let peer = match &self.peer {
            Peer::Cidr(cidr) => cidr.clone(),
            Peer::Group(name) => format!("group {name}"),
            Peer::ForeignGroup(id) => format!("group {id}"),
        };
        write!(f, "{protocol}{ports} {peer}")?;
        if let Some(description) = &self.description {
            write!(f, " ({description})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub vpc_id: String,
    pub description: String,
    pub ingress: Vec<RawRule>,
    pub egress: Vec<RawRule>,
}

/// A flattened rule as AWS reports it, with its peer still an AWS id.
#[derive(Debug, Clone)]
pub struct RawRule {
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    pub cidr: Option<String>,
    pub group_id: Option<String>,
    pub description: Option<String>,
}

/// The flattened form of a spec rule.
pub fn flatten(rule: &Rule, own_name: &str) -> FlatRule {
    let protocol = if rule.protocol == "all" { "-1".to_string() } else { rule.protocol.clone() };
    let (from_port, to_port) = match (&rule.ports, protocol.as_str()) {
        (_, "-1") => (-1, -1),
        (None, "icmp") => (-1, -1),
        (None, _) => (0, 65535),
        (Some(ports), "icmp") => port_range(ports).map_or((-1, -1), |(from, _)| (i32::from(from), -1)),
        (Some(ports), _) => port_range(ports).map_or((0, 65535), |(from, to)| (i32::from(from), i32::from(to))),
    };
    let peer = match (&rule.cidr, &rule.group) {
        (Some(cidr), _) => Peer::Cidr(cidr.clone()),
        (None, Some(group)) if group == own_name => Peer::Group("self".to_string()),
        (None, Some(group)) => Peer::Group(group.clone()),
        (None, None) => Peer::Cidr(String::new()),
    };
    FlatRule { protocol, from_port, to_port, peer, description: rule.description.clone() }
}

/// The rules a group should have: ingress as written; egress as written, or AWS's default of
/// everything to anywhere when the spec leaves it out.
pub fn desired_rules(group: &Desired) -> (BTreeSet<FlatRule>, BTreeSet<FlatRule>) {
    let ingress = group.ingress.iter().map(|rule| flatten(rule, &group.name)).collect();
    let egress = match &group.egress {
        Some(rules) => rules.iter().map(|rule| flatten(rule, &group.name)).collect(),
        None => BTreeSet::from([default_egress()]),
    };
    (ingress, egress)
}

fn default_egress() -> FlatRule {
    FlatRule {
        protocol: "-1".to_string(),
        from_port: -1,
        to_port: -1,
        peer: Peer::Cidr("0.0.0.0/0".to_string()),
        description: None,
    }
}

fn rule_list(rules: &BTreeSet<FlatRule>) -> serde_json::Value {
    json!(rules.iter().map(ToString::to_string).collect::<Vec<_>>())
}

impl DesiredConfig for spec::SecurityGroup {
    fn attributes(&self) -> Attributes {
        let (ingress, egress) = desired_rules(self);
        Attributes::from([
            ("description".to_string(), json!(self.description)),
            ("ingress".to_string(), rule_list(&ingress)),
            ("egress".to_string(), rule_list(&egress)),
        ])
    }
}

/// Live rules with peers named as in the spec.
pub fn live_rules(rules: &[RawRule], own_id: &str, names: &Names) -> BTreeSet<FlatRule> {
    rules
        .iter()
        .map(|rule| FlatRule {
            protocol: rule.protocol.clone(),
            from_port: rule.from_port,
            to_port: rule.to_port,
            peer: match (&rule.cidr, &rule.group_id) {
                (Some(cidr), _) => Peer::Cidr(cidr.clone()),
                (None, Some(group)) if group == own_id => Peer::Group("self".to_string()),
                (None, Some(group)) => match names.id(group) {
                    Some(id) if id.kind == KIND => Peer::Group(id.name.clone()),
                    _ => Peer::ForeignGroup(group.clone()),
                },
                (None, None) => Peer::Cidr(String::new()),
            },
            description: rule.description.clone(),
        })
        .collect()
}

impl LiveDetail for Live {
    /// Rules with peers named as in the spec; the VPC and peer groups are dependencies.
    fn describe(&self, physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let ingress = live_rules(&self.ingress, physical_id, names);
        let egress = live_rules(&self.egress, physical_id, names);
        let mut depends_on: Vec<ResourceId> = names.id(&self.vpc_id).cloned().into_iter().collect();
        for rule in ingress.iter().chain(&egress) {
            if let Peer::Group(name) = &rule.peer {
                let peer = id(name);
                if name != "self" && !depends_on.contains(&peer) {
                    depends_on.push(peer);
                }
            }
        }
        let attributes = Attributes::from([
            ("description".to_string(), json!(self.description)),
            ("ingress".to_string(), rule_list(&ingress)),
            ("egress".to_string(), rule_list(&egress)),
        ]);
        (attributes, depends_on)
    }
}

impl KindRules for SecurityGroup {
    fn name(&self) -> &'static str {
        "security_group"
    }
    fn rank(&self) -> u8 {
        4
    }
    fn forces_replacement(&self, field: &str) -> bool {
        field == "description"
    }
    fn lives_in(&self, container: Kind) -> bool {
        container == super::vpc::KIND
    }
    fn change_notes(&self, action: Action, _before: Option<&Attributes>, _after: Option<&Attributes>) -> Vec<String> {
        match action {
            Action::Replace => vec!["AWS cannot change a group's description: the group is deleted and created again, and instances using it lose it".to_string()],
            _ => Vec::new(),
        }
    }
}

impl ResourceKind for SecurityGroup {
    type Desired = Desired;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let Some(network) = &graph.spec.network else { return Vec::new() };
        let vpc = super::vpc::id(&graph.spec.pipeline);
        network
            .security_groups
            .iter()
            .map(|group| {
                let mut depends_on = vec![vpc.clone()];
                for rule in group.ingress.iter().chain(group.egress.iter().flatten()) {
                    if let Some(peer) = rule.group.as_deref().filter(|peer| *peer != "self" && *peer != group.name) {
                        let peer = id(peer);
                        if !depends_on.contains(&peer) {
                            depends_on.push(peer);
                        }
                    }
                }
                let id = id(&group.name);
                let used_by_emr =
                    graph.spec.clusters.iter().any(|cluster| cluster.security_groups.contains(&group.name));
                let tags = ec2_node_tags(graph.spec, &id, &emr_managed_tags(used_by_emr));
                graph.node(id, &tags, depends_on, group.clone())
            })
            .collect()
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        Ok(NamedRead::found(self::read(&read.clients.ec2, read.pipeline).await?))
    }

    async fn create(&self, ctx: &Context, resource: &DesiredResource, desired: &Desired) -> Result<String, AwsError> {
        create(ctx, resource, desired).await
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &Desired,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        update(ctx, resource, desired, live, detail).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        delete(ctx, live).await
    }
}

fn flatten_permissions(permissions: &[IpPermission]) -> Vec<RawRule> {
    let mut rules = Vec::new();
    for permission in permissions {
        let protocol = match permission.ip_protocol().unwrap_or("-1") {
            "6" => "tcp",
            "17" => "udp",
            "1" => "icmp",
            other => other,
        }
        .to_string();
        let (from_port, to_port) = if protocol == "-1" {
            (-1, -1)
        } else {
            (permission.from_port().unwrap_or(-1), permission.to_port().unwrap_or(-1))
        };
        let base = RawRule { protocol, from_port, to_port, cidr: None, group_id: None, description: None };
        for range in permission.ip_ranges() {
            rules.push(RawRule {
                cidr: range.cidr_ip().map(str::to_string),
                description: range.description().map(str::to_string),
                ..base.clone()
            });
        }
        for pair in permission.user_id_group_pairs() {
            rules.push(RawRule {
                group_id: pair.group_id().map(str::to_string),
                description: pair.description().map(str::to_string),
                ..base.clone()
            });
        }
    }
    rules
}

async fn read(ec2: &aws_sdk_ec2::Client, pipeline: &str) -> Result<Vec<LiveResource>, AwsError> {
    let output = ec2
        .describe_security_groups()
        .filters(pipeline_filter(pipeline))
        .send()
        .await
        .map_err(|error| aws_error("security_group", "DescribeSecurityGroups", error))?;
    Ok(output
        .security_groups()
        .iter()
        .filter_map(|group| {
            let tags = from_ec2(group.tags());
            Some(LiveResource::new(
                claimed_id(&tags, KIND)?,
                group.group_id()?,
                tags,
                Live {
                    vpc_id: group.vpc_id().unwrap_or_default().to_string(),
                    description: group.description().unwrap_or_default().to_string(),
                    ingress: flatten_permissions(group.ip_permissions()),
                    egress: flatten_permissions(group.ip_permissions_egress()),
                },
            ))
        })
        .collect())
}

/// The AWS permission for one rule, with its peer resolved to an id.
fn permission(ctx: &Context, rule: &FlatRule, own_id: &str) -> Result<IpPermission, AwsError> {
    let builder = IpPermission::builder().ip_protocol(&rule.protocol).from_port(rule.from_port).to_port(rule.to_port);
    let builder = match &rule.peer {
        Peer::Cidr(cidr) => {
            builder.ip_ranges(IpRange::builder().cidr_ip(cidr).set_description(rule.description.clone()).build())
        }
        Peer::Group(name) => {
            let group_id = if name == "self" { own_id.to_string() } else { ctx.physical_id(&id(name))? };
            builder.user_id_group_pairs(
                UserIdGroupPair::builder().group_id(group_id).set_description(rule.description.clone()).build(),
            )
        }
        Peer::ForeignGroup(group_id) => builder.user_id_group_pairs(
            UserIdGroupPair::builder().group_id(group_id).set_description(rule.description.clone()).build(),
        ),
    };
    Ok(builder.build())
}

#[derive(Clone, Copy)]
enum Direction {
    Ingress,
    Egress,
}

/// Authorizes or revokes rules of one direction; a duplicate authorize or a missing revoke is
/// already the state we want.
async fn apply_rules(
    ctx: &Context,
    id: &ResourceId,
    group_id: &str,
    direction: Direction,
    rules: &BTreeSet<FlatRule>,
    authorize: bool,
) -> Result<(), AwsError> {
    if rules.is_empty() {
        return Ok(());
    }
    let mut permissions = Vec::new();
    for rule in rules {
        permissions.push(permission(ctx, rule, group_id)?);
    }
    let ec2 = &ctx.clients.ec2;
    let result = match (direction, authorize) {
        (Direction::Ingress, true) => ec2
            .authorize_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error(id, "AuthorizeSecurityGroupIngress", e)),
        (Direction::Ingress, false) => ec2
            .revoke_security_group_ingress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error(id, "RevokeSecurityGroupIngress", e)),
        (Direction::Egress, true) => ec2
            .authorize_security_group_egress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error(id, "AuthorizeSecurityGroupEgress", e)),
        (Direction::Egress, false) => ec2
            .revoke_security_group_egress()
            .group_id(group_id)
            .set_ip_permissions(Some(permissions))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error(id, "RevokeSecurityGroupEgress", e)),
    };
    match result {
        Err(error) if error.has_code("InvalidPermission.Duplicate") || error.has_code("InvalidPermission.NotFound") => {
            Ok(())
        }
        other => other,
    }
}

/// Revokes what is live but not wanted, then authorizes what is wanted but not live.
async fn converge_rules(
    ctx: &Context,
    id: &ResourceId,
    group_id: &str,
    direction: Direction,
    live: &BTreeSet<FlatRule>,
    wanted: &BTreeSet<FlatRule>,
) -> Result<(), AwsError> {
    let stale: BTreeSet<FlatRule> = live.difference(wanted).cloned().collect();
    let missing: BTreeSet<FlatRule> = wanted.difference(live).cloned().collect();
    apply_rules(ctx, id, group_id, direction, &stale, false).await?;
    apply_rules(ctx, id, group_id, direction, &missing, true).await
}

async fn create(ctx: &Context, resource: &DesiredResource, group: &Desired) -> Result<String, AwsError> {
    let id = &resource.id;
    let vpc = ctx.physical_id(&super::vpc::id(&ctx.pipeline))?;
    let output = ctx
        .clients
        .ec2
        .create_security_group()
        .group_name(crate::names::security_group_name(&ctx.pipeline, &group.name))
        .description(&group.description)
        .vpc_id(vpc)
        .tag_specifications(tag_specification(ResourceType::SecurityGroup, &resource.tags))
        .send()
        .await
        .map_err(|error| aws_error(id, "CreateSecurityGroup", error))?;
    let group_id =
        output.group_id().ok_or_else(|| AwsError::missing(id, "CreateSecurityGroup", "group id"))?.to_string();
    let (ingress, egress) = desired_rules(group);
    converge_rules(ctx, id, &group_id, Direction::Ingress, &BTreeSet::new(), &ingress).await?;
    converge_rules(ctx, id, &group_id, Direction::Egress, &BTreeSet::from([default_egress()]), &egress).await?;
    Ok(group_id)
}

async fn update(
    ctx: &Context,
    resource: &DesiredResource,
    group: &Desired,
    live: &LiveResource,
    detail: &Live,
) -> Result<(), AwsError> {
    let names = Names::default();
    let (ingress, egress) = desired_rules(group);
    // Live rules keep AWS ids for peers: resolve the wanted peers to ids the same way.
    let resolve = |rules: &BTreeSet<FlatRule>| -> Result<BTreeSet<FlatRule>, AwsError> {
        rules
            .iter()
            .map(|rule| match &rule.peer {
                Peer::Group(name) if name != "self" => {
                    Ok(FlatRule { peer: Peer::ForeignGroup(ctx.physical_id(&id(name))?), ..rule.clone() })
                }
                _ => Ok(rule.clone()),
            })
            .collect()
    };
    let live_ingress = live_rules(&detail.ingress, &live.physical_id, &names);
    let live_egress = live_rules(&detail.egress, &live.physical_id, &names);
    converge_rules(ctx, &resource.id, &live.physical_id, Direction::Ingress, &live_ingress, &resolve(&ingress)?)
        .await?;
    converge_rules(ctx, &resource.id, &live.physical_id, Direction::Egress, &live_egress, &resolve(&egress)?).await?;
    sync(ctx, live, &resource.tags).await
}

async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    ctx.clients
        .ec2
        .delete_security_group()
        .group_id(&live.physical_id)
        .send()
        .await
        .map_err(|error| aws_error(&live.id, "DeleteSecurityGroup", error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Ports;

    fn rule(protocol: &str, ports: Option<Ports>, cidr: Option<&str>, group: Option<&str>) -> Rule {
        Rule {
            protocol: protocol.to_string(),
            ports,
            cidr: cidr.map(str::to_string),
            group: group.map(str::to_string),
            description: None,
        }
    }

    #[test]
    fn merged_aws_permissions_compare_equal_to_the_spec() {
        let group = Desired {
            name: "web".to_string(),
            description: "d".to_string(),
            ingress: vec![
                rule("tcp", Some(Ports::Single(443)), Some("10.0.0.0/8"), None),
                rule("tcp", Some(Ports::Single(443)), Some("0.0.0.0/0"), None),
                rule("tcp", Some(Ports::Range("8000-8100".into())), None, Some("web")),
            ],
            egress: None,
        };
        // AWS merges both 443 ranges into one permission and lists them in its own order.
        let aws = vec![
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(8000)
                .to_port(8100)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-1").build())
                .build(),
            IpPermission::builder()
                .ip_protocol("6")
                .from_port(443)
                .to_port(443)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
                .build(),
        ];
        let egress = vec![IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build()];
        let live = Live {
            vpc_id: "vpc-1".to_string(),
            description: "d".to_string(),
            ingress: flatten_permissions(&aws),
            egress: flatten_permissions(&egress),
        };
        let (attributes, _) = live.describe("sg-1", &Names::default());
        assert_eq!(attributes, group.attributes());
        assert_eq!(
            attributes["ingress"],
            json!(["tcp 443 0.0.0.0/0", "tcp 443 10.0.0.0/8", "tcp 8000-8100 group self"])
        );
        assert_eq!(attributes["egress"], json!(["all 0.0.0.0/0"]));
    }

    #[test]
    fn groups_depend_on_their_peers_and_carry_emr_tag_when_a_cluster_uses_them() {
        let spec: crate::spec::Spec = serde_saphyr::from_str(
            "version: 1\npipeline: p\nregion: eu-west-1\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets:\n    - {name: a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a}\n    - {name: b, cidr: 10.0.1.0/24, availability_zone: eu-west-1b}\n  security_groups:\n    - name: master\n      ingress:\n        - {protocol: tcp, ports: 22, group: core}\n        - {protocol: tcp, ports: 8443, group: self}\n        - {protocol: tcp, ports: 9443, group: core}\n      egress:\n        - {protocol: all, group: web}\n    - {name: core, ingress: [{protocol: all, group: core}]}\n    - {name: web}\nclusters:\n  - {name: spark, release: emr-7.0.0, applications: [Spark], subnet: b, security_groups: [master, core], master: {type: m5.xlarge}, core: {type: m5.xlarge, nodes: 2}}\n",
        )
        .unwrap();
        let arns = crate::policy::Arns::new("123456789012", "eu-west-1");
        let known = std::collections::BTreeMap::new();
        let graph = GraphContext { spec: &spec, arns: &arns, known: &known };
        let groups = SecurityGroup.desired(&graph);
        let ids: Vec<String> = groups.iter().map(|node| node.id.to_string()).collect();
        assert_eq!(ids, ["security_group/master", "security_group/core", "security_group/web"]);
        let depends_on: Vec<String> = groups[0].depends_on.iter().map(ToString::to_string).collect();
        assert_eq!(depends_on, ["vpc/p", "security_group/core", "security_group/web"]);
        assert_eq!(groups[1].depends_on.iter().map(ToString::to_string).collect::<Vec<_>>(), ["vpc/p"]);
        let emr = |node: &DesiredResource| node.tags.get(crate::names::EMR_MANAGED_TAG.0).cloned();
        assert_eq!(
            groups.iter().map(emr).collect::<Vec<_>>(),
            [Some("true".to_string()), Some("true".to_string()), None]
        );
        assert_eq!(groups[2].tags.get("Name").map(String::as_str), Some("p-web"));
        let subnets = super::super::subnet::Subnet.desired(&graph);
        assert_eq!(subnets.iter().map(emr).collect::<Vec<_>>(), [None, Some("true".to_string())]);
        assert_eq!(subnets[1].depends_on.iter().map(ToString::to_string).collect::<Vec<_>>(), ["vpc/p"]);
    }

    #[test]
    fn a_new_description_replaces_the_group_with_a_note() {
        assert!(KIND.forces_replacement("description"));
        assert!(!KIND.forces_replacement("ingress"));
        assert!(KIND.lives_in(super::super::vpc::KIND));
        assert_eq!(KIND.change_notes(Action::Replace, None, None).len(), 1);
        assert!(KIND.change_notes(Action::Update, None, None).is_empty());
    }

    #[test]
    fn protocol_all_and_open_ports_render_plainly() {
        let all = flatten(&rule("all", None, Some("10.0.0.0/16"), None), "g");
        assert_eq!(all.to_string(), "all 10.0.0.0/16");
        let open = flatten(&rule("udp", None, None, Some("other")), "g");
        assert_eq!(open.to_string(), "udp all ports group other");
    }
}

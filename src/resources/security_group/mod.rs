//! Security groups. AWS stores rules merged (one permission with many ranges) and shows them in
//! its own order; pipectl flattens both sides into one rule per peer and compares them as sorted
//! sets, so that a plan is empty when nothing changed and a rule is never authorized twice.
//!
//! The groups pipectl creates for EMR to manage (a cluster's master, core/task and service-access
//! groups) are different: EMR writes the rules a cluster needs into them ("Working with Amazon
//! EMR-managed security groups", Amazon EMR Management Guide). Their rules are EMR's, so pipectl
//! only makes sure the few it must add itself are there, never revokes the others, and on delete
//! first revokes every rule that ties them to each other (they reference each other, and a group
//! that another group's rule references cannot be deleted).

use std::collections::BTreeSet;
use std::fmt;

use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};
use serde_json::json;

use super::kit::ec2_delete::{self, InUse};
use super::kit::ec2_tags::{ec2_node_tags, emr_managed_tags, from_ec2, pipeline_filter, sync, tag_specification};
use super::kit::{
    aws_error, claimed_id, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, ReadContext, ResourceKind,
};
use crate::model::{
    Action, Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
    Tags,
};
use crate::names::EMR_RULES_TAG;
use crate::spec::{self, port_range, Rule};

// The deployer grants live beside this file, which is over 900 lines already.
mod grants;

pub struct SecurityGroup;
pub const KIND: Kind = Kind::of(&SecurityGroup);

/// The security group the spec names `name`.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// A group as pipectl wants it: as the spec writes it, or one pipectl creates for EMR to manage.
#[derive(Debug, Clone)]
pub struct Desired {
    pub group: spec::SecurityGroup,
    /// EMR maintains the rules of this group: `group`'s rules are only those pipectl must add
    /// itself; the others are EMR's, neither compared nor revoked (the group carries
    /// `EMR_RULES_TAG`, so that reads and deletes know it too).
    pub rules_managed_by_emr: bool,
}

impl From<spec::SecurityGroup> for Desired {
    fn from(group: spec::SecurityGroup) -> Desired {
        Desired { group, rules_managed_by_emr: false }
    }
}

/// True when `tags` mark a group whose rules EMR maintains.
pub fn rules_managed_by_emr(tags: &Tags) -> bool {
    tags.get(EMR_RULES_TAG.0).map(String::as_str) == Some(EMR_RULES_TAG.1)
}

/// A node for one of the security groups pipectl creates for EMR to manage, tagged for EMR's
/// managed policy (`AmazonEMRServicePolicy_v2` only changes groups with that tag) and as one
/// whose rules EMR maintains. `ingress` holds the rules EMR needs pipectl to add.
pub fn emr_managed_node(
    graph: &GraphContext,
    name: &str,
    description: String,
    ingress: Vec<Rule>,
    depends_on: Vec<ResourceId>,
) -> DesiredResource {
    let id = id(name);
    let mut extra = emr_managed_tags(true);
    extra.insert(EMR_RULES_TAG.0.to_string(), EMR_RULES_TAG.1.to_string());
    let tags = ec2_node_tags(graph.spec, &id, &extra);
    // No egress requirement: AWS's default of everything outbound stays, and EMR adds its own.
    let group = spec::SecurityGroup { name: name.to_string(), description, ingress, egress: Some(Vec::new()) };
    graph.node(id, &tags, depends_on, Desired { group, rules_managed_by_emr: true })
}

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
    /// Tagged as a group whose rules EMR maintains.
    pub rules_managed_by_emr: bool,
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
pub fn desired_rules(group: &spec::SecurityGroup) -> (BTreeSet<FlatRule>, BTreeSet<FlatRule>) {
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

impl DesiredConfig for Desired {
    fn attributes(&self) -> Attributes {
        let (ingress, egress) = desired_rules(&self.group);
        Attributes::from([
            ("description".to_string(), json!(self.group.description)),
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
    /// Rules with peers named as in the spec; the VPC and peer groups are dependencies, except
    /// for the groups EMR manages: EMR makes them reference each other, and a cycle would leave
    /// no order to delete them in (their delete revokes those rules first instead).
    fn describe(&self, physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let ingress = live_rules(&self.ingress, physical_id, names);
        let egress = live_rules(&self.egress, physical_id, names);
        let mut depends_on: Vec<ResourceId> = names.id(&self.vpc_id).cloned().into_iter().collect();
        let peers = if self.rules_managed_by_emr { Vec::new() } else { ingress.iter().chain(&egress).collect() };
        for rule in peers {
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
        40
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
    /// A group whose rules EMR maintains wants its own rules plus whatever EMR added: only a
    /// missing rule of pipectl's is a change, EMR's never are.
    fn adjust_desired(&self, live: &LiveResource, desired: &mut Attributes, _reset_scale: bool) -> Vec<String> {
        let managed = desired.get("tags").and_then(|tags| tags.get(EMR_RULES_TAG.0)).and_then(|v| v.as_str())
            == Some(EMR_RULES_TAG.1);
        if managed {
            // The live rules in their order, then pipectl's that are missing: equal to the live
            // list exactly when nothing of pipectl's is missing.
            for direction in ["ingress", "egress"] {
                let listed = |attributes: &Attributes| -> Vec<serde_json::Value> {
                    attributes.get(direction).and_then(|value| value.as_array()).cloned().unwrap_or_default()
                };
                let mut rules = listed(&live.attributes);
                for rule in listed(desired) {
                    if !rules.contains(&rule) {
                        rules.push(rule);
                    }
                }
                desired.insert(direction.to_string(), serde_json::Value::Array(rules));
            }
        }
        Vec::new()
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
                graph.node(id, &tags, depends_on, Desired::from(group.clone()))
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

    async fn delete(&self, ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
        delete(ctx, live, detail).await
    }

    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        grants::grants(ctx)
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
            let live = Live {
                vpc_id: group.vpc_id().unwrap_or_default().to_string(),
                description: group.description().unwrap_or_default().to_string(),
                ingress: flatten_permissions(group.ip_permissions()),
                egress: flatten_permissions(group.ip_permissions_egress()),
                rules_managed_by_emr: rules_managed_by_emr(&tags),
            };
            Some(LiveResource::new(claimed_id(&tags, KIND)?, group.group_id()?, tags, live))
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
    let call = || async {
        let permissions = Some(permissions.clone());
        match (direction, authorize) {
            (Direction::Ingress, true) => ec2
                .authorize_security_group_ingress()
                .group_id(group_id)
                .set_ip_permissions(permissions)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(id, "AuthorizeSecurityGroupIngress", e)),
            (Direction::Ingress, false) => ec2
                .revoke_security_group_ingress()
                .group_id(group_id)
                .set_ip_permissions(permissions)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(id, "RevokeSecurityGroupIngress", e)),
            (Direction::Egress, true) => ec2
                .authorize_security_group_egress()
                .group_id(group_id)
                .set_ip_permissions(permissions)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(id, "AuthorizeSecurityGroupEgress", e)),
            (Direction::Egress, false) => ec2
                .revoke_security_group_egress()
                .group_id(group_id)
                .set_ip_permissions(permissions)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(id, "RevokeSecurityGroupEgress", e)),
        }
    };
    let result = ctx.while_fresh(id, call).await;
    match result {
        Err(error) if error.has_code("InvalidPermission.Duplicate") || error.has_code("InvalidPermission.NotFound") => {
            Ok(())
        }
        other => other,
    }
}

/// Revokes what is live but not wanted, then authorizes what is wanted but not live; with
/// `keep_others` (a group whose rules EMR maintains), only authorizes.
async fn converge_rules(
    ctx: &Context,
    id: &ResourceId,
    group_id: &str,
    direction: Direction,
    live: &BTreeSet<FlatRule>,
    wanted: &BTreeSet<FlatRule>,
    keep_others: bool,
) -> Result<(), AwsError> {
    if !keep_others {
        let stale: BTreeSet<FlatRule> = live.difference(wanted).cloned().collect();
        apply_rules(ctx, id, group_id, direction, &stale, false).await?;
    }
    let missing: BTreeSet<FlatRule> = wanted.difference(live).cloned().collect();
    apply_rules(ctx, id, group_id, direction, &missing, true).await
}

async fn create(ctx: &Context, resource: &DesiredResource, desired: &Desired) -> Result<String, AwsError> {
    let id = &resource.id;
    let group = &desired.group;
    let vpc = ctx.physical_id(&super::vpc::id(&ctx.pipeline))?;
    let output = ctx
        .while_fresh(id, || async {
            ctx.clients
                .ec2
                .create_security_group()
                .group_name(crate::names::security_group_name(&ctx.pipeline, &group.name))
                .description(&group.description)
                .vpc_id(&vpc)
                .tag_specifications(tag_specification(ResourceType::SecurityGroup, &resource.tags))
                .send()
                .await
                .map_err(|error| aws_error(id, "CreateSecurityGroup", error))
        })
        .await?;
    let group_id =
        output.group_id().ok_or_else(|| AwsError::missing(id, "CreateSecurityGroup", "group id"))?.to_string();
    ctx.created(&group_id);
    let (ingress, egress) = desired_rules(group);
    let keep = desired.rules_managed_by_emr;
    converge_rules(ctx, id, &group_id, Direction::Ingress, &BTreeSet::new(), &ingress, keep).await?;
    let default = BTreeSet::from([default_egress()]);
    converge_rules(ctx, id, &group_id, Direction::Egress, &default, &egress, keep).await?;
    Ok(group_id)
}

async fn update(
    ctx: &Context,
    resource: &DesiredResource,
    desired: &Desired,
    live: &LiveResource,
    detail: &Live,
) -> Result<(), AwsError> {
    let names = Names::default();
    let (ingress, egress) = desired_rules(&desired.group);
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
    let keep = desired.rules_managed_by_emr;
    let group_id = &live.physical_id;
    converge_rules(ctx, &resource.id, group_id, Direction::Ingress, &live_ingress, &resolve(&ingress)?, keep).await?;
    converge_rules(ctx, &resource.id, group_id, Direction::Egress, &live_egress, &resolve(&egress)?, keep).await?;
    sync(ctx, live, &resource.tags).await
}

/// A permission as a revoke names it: protocol, ports and peers, without descriptions; when
/// `only_peer` is given, just the rules whose peer is that group (`None` when there are none).
fn revocable(permission: &IpPermission, only_peer: Option<&str>) -> Option<IpPermission> {
    let pairs: Vec<UserIdGroupPair> = permission
        .user_id_group_pairs()
        .iter()
        .filter(|pair| only_peer.is_none_or(|peer| pair.group_id() == Some(peer)))
        .map(|pair| UserIdGroupPair::builder().set_group_id(pair.group_id().map(str::to_string)).build())
        .collect();
    let builder = IpPermission::builder()
        .set_ip_protocol(permission.ip_protocol().map(str::to_string))
        .set_from_port(permission.from_port())
        .set_to_port(permission.to_port())
        .set_user_id_group_pairs(Some(pairs.clone()));
    if only_peer.is_some() {
        return (!pairs.is_empty()).then(|| builder.build());
    }
    let ranges =
        permission.ip_ranges().iter().map(|r| IpRange::builder().set_cidr_ip(r.cidr_ip().map(str::to_string)).build());
    let v6 = permission
        .ipv6_ranges()
        .iter()
        .map(|r| aws_sdk_ec2::types::Ipv6Range::builder().set_cidr_ipv6(r.cidr_ipv6().map(str::to_string)).build());
    let lists = permission.prefix_list_ids().iter().map(|p| {
        aws_sdk_ec2::types::PrefixListId::builder().set_prefix_list_id(p.prefix_list_id().map(str::to_string)).build()
    });
    Some(
        builder
            .set_ip_ranges(Some(ranges.collect()))
            .set_ipv6_ranges(Some(v6.collect()))
            .set_prefix_list_ids(Some(lists.collect()))
            .build(),
    )
}

/// Revokes `permissions` from a group; a rule or group that is gone already is fine (groups of a
/// pipeline are deleted in parallel, and the error must not read as "this group is gone" to the
/// caller deleting another one). A batch that AWS refuses because one of its rules is gone is
/// sent again rule by rule.
async fn revoke(
    ctx: &Context,
    id: &ResourceId,
    group_id: &str,
    direction: Direction,
    permissions: Vec<IpPermission>,
) -> Result<(), AwsError> {
    let ec2 = &ctx.clients.ec2;
    let send = |batch: Vec<IpPermission>| async move {
        let result = match direction {
            Direction::Ingress => ec2
                .revoke_security_group_ingress()
                .group_id(group_id)
                .set_ip_permissions(Some(batch))
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(id, "RevokeSecurityGroupIngress", e)),
            Direction::Egress => ec2
                .revoke_security_group_egress()
                .group_id(group_id)
                .set_ip_permissions(Some(batch))
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_error(id, "RevokeSecurityGroupEgress", e)),
        };
        result
    };
    if permissions.is_empty() {
        return Ok(());
    }
    match send(permissions.clone()).await {
        Err(error) if error.has_code("InvalidPermission.NotFound") => {
            for permission in permissions {
                send(vec![permission]).await.or_else(|error| error.unless_not_found(()))?;
            }
            Ok(())
        }
        other => other.or_else(|error| error.unless_not_found(())),
    }
}

/// Before a group whose rules EMR maintains is deleted: revokes all its own rules, and every
/// rule of the pipeline's other groups that names it as a peer (EMR makes the master, core/task
/// and service-access groups reference each other; DeleteSecurityGroup refuses a group "referenced
/// by another security group in the same VPC"). Only groups tagged as the pipeline's are touched.
async fn revoke_emr_references(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    let output = ctx
        .clients
        .ec2
        .describe_security_groups()
        .filters(pipeline_filter(&ctx.pipeline))
        .send()
        .await
        .map_err(|error| aws_error(&live.id, "DescribeSecurityGroups", error))?;
    let target = live.physical_id.as_str();
    for group in output.security_groups() {
        let Some(group_id) = group.group_id() else { continue };
        let only_peer = (group_id != target).then_some(target);
        for (direction, permissions) in
            [(Direction::Ingress, group.ip_permissions()), (Direction::Egress, group.ip_permissions_egress())]
        {
            let revoked: Vec<IpPermission> = permissions.iter().filter_map(|p| revocable(p, only_peer)).collect();
            revoke(ctx, &live.id, group_id, direction, revoked).await?;
        }
    }
    Ok(())
}

/// Deletes the group, waiting while AWS still sees it in use (the network interfaces of a
/// terminated cluster's instances take minutes to go).
async fn delete(ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
    if detail.rules_managed_by_emr {
        revoke_emr_references(ctx, live).await?;
    }
    ec2_delete::delete(ctx, &live.id, InUse::SecurityGroup(&live.physical_id)).await
}

#[cfg(test)]
mod tests;

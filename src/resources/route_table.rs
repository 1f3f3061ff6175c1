//! Route tables. The public one (`route_table/public`) sends `0.0.0.0/0` to the internet gateway
//! and is associated with every public subnet. Each private subnet gets its own
//! (`route_table/<subnet>`), associated with it, with `0.0.0.0/0` to the NAT gateway that serves
//! it when `network.nat` is not `none` (the gateway endpoints add their own routes to these
//! tables; pipectl compares only the default route). Associations are compared by subnet name
//! and applied by subnet id, so a replaced subnet is re-associated.

use aws_sdk_ec2::types::{Filter, ResourceType, RouteState};
use serde_json::json;

use super::kit::ec2_tags::{self, Ec2Calls};
use super::kit::ec2_tags::{ec2_node_tags, from_ec2, pipeline_filter, sync, tag_specification};
use super::kit::{
    aws_error, claimed_id, owned_by, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, ReadContext,
    ResourceKind,
};
use crate::model::{
    Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::names::{private_route_table, PUBLIC_ROUTE_TABLE};

const DEFAULT_ROUTE: &str = "0.0.0.0/0";

pub struct RouteTable;
pub const KIND: Kind = Kind::of(&RouteTable);

/// The pipeline's one route table, shared by its public subnets.
fn public_id() -> ResourceId {
    ResourceId::new(KIND, PUBLIC_ROUTE_TABLE)
}

/// The route table of the private subnet `subnet`.
pub fn private_id(subnet: &str) -> ResourceId {
    ResourceId::new(KIND, private_route_table(subnet))
}

/// Where a table's default route goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    InternetGateway,
    /// The NAT gateway of this spec name.
    NatGateway(String),
}

impl Target {
    fn describe(&self) -> String {
        match self {
            Target::InternetGateway => format!("{DEFAULT_ROUTE} via internet_gateway"),
            Target::NatGateway(name) => format!("{DEFAULT_ROUTE} via nat_gateway/{name}"),
        }
    }

    fn id(&self, pipeline: &str) -> ResourceId {
        match self {
            Target::InternetGateway => super::internet_gateway::id(pipeline),
            Target::NatGateway(name) => super::nat_gateway::id(name),
        }
    }
}

/// A route table: its default route, if any, and the subnets (by spec name) associated with it.
#[derive(Debug, Clone)]
pub struct Desired {
    pub subnets: Vec<String>,
    pub default_route: Option<Target>,
}

impl DesiredConfig for Desired {
    fn attributes(&self) -> Attributes {
        let mut subnets = self.subnets.clone();
        subnets.sort();
        let routes: Vec<String> = self.default_route.iter().map(Target::describe).collect();
        Attributes::from([("routes".to_string(), json!(routes)), ("subnets".to_string(), json!(subnets))])
    }
}

/// The default route as AWS reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRoute {
    /// What it points at: an internet gateway, NAT gateway, instance, interface, … id.
    pub target: String,
    /// AWS marks a route `blackhole` when its target is gone (a deleted NAT gateway).
    pub blackhole: bool,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub vpc_id: String,
    pub default_route: Option<LiveRoute>,
    /// (association id, subnet id) of each explicit subnet association.
    pub associations: Vec<(String, String)>,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let routes: Vec<String> = self
            .default_route
            .iter()
            .map(|route| {
                let target = match names.id(&route.target) {
                    Some(id) if id.kind == super::internet_gateway::KIND => Target::InternetGateway.describe(),
                    Some(id) if id.kind == super::nat_gateway::KIND => Target::NatGateway(id.name.clone()).describe(),
                    _ => format!("{DEFAULT_ROUTE} via {}", route.target),
                };
                if route.blackhole {
                    format!("{target} (blackhole: the target is gone)")
                } else {
                    target
                }
            })
            .collect();
        let mut subnets: Vec<String> = self.associations.iter().map(|(_, subnet)| names.name(subnet)).collect();
        subnets.sort();
        let mut depends_on: Vec<ResourceId> = Vec::new();
        let physical = self
            .associations
            .iter()
            .map(|(_, subnet)| subnet)
            .chain(self.default_route.iter().map(|route| &route.target))
            .chain(std::iter::once(&self.vpc_id));
        for id in physical.filter_map(|physical| names.id(physical)) {
            if !depends_on.contains(id) {
                depends_on.push(id.clone());
            }
        }
        let attributes =
            Attributes::from([("routes".to_string(), json!(routes)), ("subnets".to_string(), json!(subnets))]);
        (attributes, depends_on)
    }
}

impl KindRules for RouteTable {
    fn name(&self) -> &'static str {
        "route_table"
    }
    fn rank(&self) -> u8 {
        30
    }
    fn lives_in(&self, container: Kind) -> bool {
        container == super::vpc::KIND
    }
}

impl ResourceKind for RouteTable {
    type Desired = Desired;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let Some(network) = &graph.spec.network else { return Vec::new() };
        let pipeline = &graph.spec.pipeline;
        let vpc = super::vpc::id(pipeline);
        let mut nodes = Vec::new();
        let public: Vec<String> =
            network.subnets.iter().filter(|subnet| subnet.public).map(|subnet| subnet.name.clone()).collect();
        if !public.is_empty() {
            let mut depends_on = vec![vpc.clone(), super::internet_gateway::id(pipeline)];
            depends_on.extend(public.iter().map(|name| super::subnet::id(name)));
            let id = public_id();
            let tags = ec2_node_tags(graph.spec, &id, &Default::default());
            nodes.push(graph.node(
                id,
                &tags,
                depends_on,
                Desired { subnets: public, default_route: Some(Target::InternetGateway) },
            ));
        }
        for subnet in network.subnets.iter().filter(|subnet| !subnet.public) {
            let default_route =
                network.nat_for(subnet).map(|nat| Target::NatGateway(crate::names::nat_gateway(&nat.name)));
            let mut depends_on = vec![vpc.clone(), super::subnet::id(&subnet.name)];
            depends_on.extend(default_route.iter().map(|target| target.id(pipeline)));
            let id = private_id(&subnet.name);
            let tags = ec2_node_tags(graph.spec, &id, &Default::default());
            nodes.push(graph.node(
                id,
                &tags,
                depends_on,
                Desired { subnets: vec![subnet.name.clone()], default_route },
            ));
        }
        nodes
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
        let calls = Ec2Calls {
            describe: &["ec2:DescribeRouteTables"],
            create: &["ec2:CreateRouteTable"],
            // In the pipeline's VPC, with its subnets and gateways.
            change: &[
                "ec2:CreateRouteTable",
                "ec2:AssociateRouteTable",
                "ec2:DisassociateRouteTable",
                "ec2:ReplaceRouteTableAssociation",
                "ec2:CreateRoute",
                "ec2:ReplaceRoute",
                "ec2:DeleteRoute",
            ],
            delete: &["ec2:DeleteRouteTable"],
        };
        ec2_tags::grants(ctx, &calls)
    }
}

/// The default route of a table as DescribeRouteTables reports it: whichever target field is set.
fn default_route(table: &aws_sdk_ec2::types::RouteTable) -> Option<LiveRoute> {
    let route = table.routes().iter().find(|route| route.destination_cidr_block() == Some(DEFAULT_ROUTE))?;
    let target = route
        .gateway_id()
        .or(route.nat_gateway_id())
        .or(route.network_interface_id())
        .or(route.instance_id())
        .or(route.transit_gateway_id())
        .or(route.vpc_peering_connection_id())
        .unwrap_or("an unknown target");
    Some(LiveRoute { target: target.to_string(), blackhole: route.state() == Some(&RouteState::Blackhole) })
}

fn live_table(table: &aws_sdk_ec2::types::RouteTable, pipeline: &str) -> Option<LiveResource> {
    let tags = from_ec2(table.tags());
    if !owned_by(&tags, pipeline) {
        return None;
    }
    let associations = table
        .associations()
        .iter()
        .filter(|association| !association.main().unwrap_or(false))
        .filter_map(|association| {
            Some((association.route_table_association_id()?.to_string(), association.subnet_id()?.to_string()))
        })
        .collect();
    Some(LiveResource::new(
        claimed_id(&tags, KIND)?,
        table.route_table_id()?,
        tags,
        Live {
            vpc_id: table.vpc_id().unwrap_or_default().to_string(),
            default_route: default_route(table),
            associations,
        },
    ))
}

async fn read(ec2: &aws_sdk_ec2::Client, pipeline: &str) -> Result<Vec<LiveResource>, AwsError> {
    let output = ec2
        .describe_route_tables()
        .filters(pipeline_filter(pipeline))
        .send()
        .await
        .map_err(|error| aws_error("route_table", "DescribeRouteTables", error))?;
    Ok(output.route_tables().iter().filter_map(|table| live_table(table, pipeline)).collect())
}

/// Associates the subnet with the table. A subnet has one explicit association at a time
/// ("AssociateRouteTable": AWS answers `Resource.AlreadyAssociated` while another table holds
/// it), so a subnet moving between tables (made public or private) is moved with
/// ReplaceRouteTableAssociation, whichever table's change runs first.
async fn associate(ctx: &Context, id: &ResourceId, table_id: &str, subnet_id: &str) -> Result<(), AwsError> {
    let ec2 = &ctx.clients.ec2;
    let result = ctx
        .while_fresh(id, || async {
            ec2.associate_route_table()
                .route_table_id(table_id)
                .subnet_id(subnet_id)
                .send()
                .await
                .map_err(|error| aws_error(id, "AssociateRouteTable", error))
        })
        .await;
    match result {
        Err(error) if error.has_code("Resource.AlreadyAssociated") => {}
        other => return other.map(drop),
    }
    let output = ec2
        .describe_route_tables()
        .filters(Filter::builder().name("association.subnet-id").values(subnet_id).build())
        .send()
        .await
        .map_err(|error| aws_error(id, "DescribeRouteTables", error))?;
    let association = output
        .route_tables()
        .iter()
        .flat_map(|table| table.associations())
        .find(|association| association.subnet_id() == Some(subnet_id))
        .and_then(|association| association.route_table_association_id())
        .ok_or_else(|| AwsError::missing(id, "DescribeRouteTables", "association of the subnet"))?;
    ec2.replace_route_table_association()
        .association_id(association)
        .route_table_id(table_id)
        .send()
        .await
        .map_err(|error| aws_error(id, "ReplaceRouteTableAssociation", error))?;
    Ok(())
}

async fn disassociate(ctx: &Context, id: &ResourceId, association_id: &str) -> Result<(), AwsError> {
    let result = ctx
        .clients
        .ec2
        .disassociate_route_table()
        .association_id(association_id)
        .send()
        .await
        .map_err(|error| aws_error(id, "DisassociateRouteTable", error));
    match result {
        Err(error) if !error.is_not_found() => Err(error),
        _ => Ok(()),
    }
}

/// What CreateRoute and ReplaceRoute do to a table's default route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RouteChange {
    Create,
    Replace,
}

/// Points the default route at `target`.
async fn route_to(
    ctx: &Context,
    id: &ResourceId,
    table_id: &str,
    target: &Target,
    change: RouteChange,
) -> Result<(), AwsError> {
    let target_id = ctx.physical_id(&target.id(&ctx.pipeline))?;
    let ec2 = &ctx.clients.ec2;
    // The route names its target in the field of the target's type.
    let (gateway, nat_gateway) = match target {
        Target::InternetGateway => (Some(target_id), None),
        Target::NatGateway(_) => (None, Some(target_id)),
    };
    ctx.while_fresh(id, || async {
        match change {
            RouteChange::Create => ec2
                .create_route()
                .route_table_id(table_id)
                .destination_cidr_block(DEFAULT_ROUTE)
                .set_gateway_id(gateway.clone())
                .set_nat_gateway_id(nat_gateway.clone())
                .send()
                .await
                .map(drop)
                .map_err(|error| aws_error(id, "CreateRoute", error)),
            RouteChange::Replace => ec2
                .replace_route()
                .route_table_id(table_id)
                .destination_cidr_block(DEFAULT_ROUTE)
                .set_gateway_id(gateway.clone())
                .set_nat_gateway_id(nat_gateway.clone())
                .send()
                .await
                .map(drop)
                .map_err(|error| aws_error(id, "ReplaceRoute", error)),
        }
    })
    .await
}

async fn delete_default_route(ctx: &Context, id: &ResourceId, table_id: &str) -> Result<(), AwsError> {
    let result = ctx
        .clients
        .ec2
        .delete_route()
        .route_table_id(table_id)
        .destination_cidr_block(DEFAULT_ROUTE)
        .send()
        .await
        .map(drop)
        .map_err(|error| aws_error(id, "DeleteRoute", error));
    result.or_else(|error| error.unless_not_found(()))
}

async fn create(ctx: &Context, resource: &DesiredResource, desired: &Desired) -> Result<String, AwsError> {
    let id = &resource.id;
    let vpc = ctx.physical_id(&super::vpc::id(&ctx.pipeline))?;
    let output = ctx
        .while_fresh(id, || async {
            ctx.clients
                .ec2
                .create_route_table()
                .vpc_id(&vpc)
                .tag_specifications(tag_specification(ResourceType::RouteTable, &resource.tags))
                .send()
                .await
                .map_err(|error| aws_error(id, "CreateRouteTable", error))
        })
        .await?;
    let table_id = output
        .route_table()
        .and_then(|table| table.route_table_id())
        .ok_or_else(|| AwsError::missing(id, "CreateRouteTable", "route table id"))?
        .to_string();
    ctx.created(&table_id);
    if let Some(target) = &desired.default_route {
        route_to(ctx, id, &table_id, target, RouteChange::Create).await?;
    }
    for subnet in &desired.subnets {
        let subnet_id = ctx.physical_id(&super::subnet::id(subnet))?;
        associate(ctx, id, &table_id, &subnet_id).await?;
    }
    Ok(table_id)
}

/// What the default route needs: nothing, a new route, a changed target, or no route.
fn route_change(wanted: Option<&str>, live: Option<&LiveRoute>) -> Option<Option<RouteChange>> {
    match (wanted, live) {
        (None, None) => None,
        (None, Some(_)) => Some(None),
        (Some(_), None) => Some(Some(RouteChange::Create)),
        (Some(target), Some(route)) if route.target == target && !route.blackhole => None,
        (Some(_), Some(_)) => Some(Some(RouteChange::Replace)),
    }
}

async fn update(
    ctx: &Context,
    resource: &DesiredResource,
    desired: &Desired,
    live: &LiveResource,
    detail: &Live,
) -> Result<(), AwsError> {
    let id = &resource.id;
    let wanted = match &desired.default_route {
        Some(target) => Some(ctx.physical_id(&target.id(&ctx.pipeline))?),
        None => None,
    };
    match (route_change(wanted.as_deref(), detail.default_route.as_ref()), &desired.default_route) {
        (Some(Some(change)), Some(target)) => route_to(ctx, id, &live.physical_id, target, change).await?,
        (Some(_), _) => delete_default_route(ctx, id, &live.physical_id).await?,
        (None, _) => {}
    }
    let mut subnets = Vec::new();
    for subnet in &desired.subnets {
        subnets.push(ctx.physical_id(&super::subnet::id(subnet))?);
    }
    for (association, subnet) in &detail.associations {
        if !subnets.contains(subnet) {
            disassociate(ctx, id, association).await?;
        }
    }
    for subnet in &subnets {
        if !detail.associations.iter().any(|(_, associated)| associated == subnet) {
            associate(ctx, id, &live.physical_id, subnet).await?;
        }
    }
    sync(ctx, live, &resource.tags).await
}

async fn delete(ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
    for (association, _) in &detail.associations {
        disassociate(ctx, &live.id, association).await?;
    }
    ctx.clients
        .ec2
        .delete_route_table()
        .route_table_id(&live.physical_id)
        .send()
        .await
        .map_err(|error| aws_error(&live.id, "DeleteRouteTable", error))?;
    Ok(())
}

#[cfg(test)]
mod tests {

    use aws_sdk_ec2::types::{Route, RouteTableAssociation, Tag};
    use serde_json::json;

    use super::*;
    use crate::iam::Arns;
    use crate::model::{LiveState, RESOURCE_TAG};
    use crate::resources::graph_in;
    use crate::spec::Spec;

    fn graph(yaml: &str) -> Vec<DesiredResource> {
        let spec: Spec = serde_saphyr::from_str(yaml).unwrap();
        graph_in(&spec, &Arns::new("123456789012", "eu-west-1"), chrono::Utc::now())
    }

    const NETWORK: &str = "version: 1\npipeline: p\nregion: eu-west-1\ntags: {team: data}\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets:\n    - {name: a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a, public: true}\n    - {name: b, cidr: 10.0.1.0/24, availability_zone: eu-west-1b}\n";

    /// The route tables of the graph: (id, routes, subnets, depends_on).
    fn tables(graph: &[DesiredResource]) -> Vec<(String, serde_json::Value, serde_json::Value, Vec<String>)> {
        graph
            .iter()
            .filter(|node| node.id.kind == KIND)
            .map(|node| {
                let attributes = node.attributes();
                (
                    node.id.to_string(),
                    attributes["routes"].clone(),
                    attributes["subnets"].clone(),
                    node.depends_on.iter().map(ToString::to_string).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn public_subnets_share_a_table_and_each_private_subnet_gets_its_own() {
        let graph = graph(NETWORK);
        let ids: Vec<String> = graph.iter().map(|node| node.id.to_string()).collect();
        assert_eq!(ids, ["vpc/p", "subnet/a", "subnet/b", "internet_gateway/p", "route_table/public", "route_table/b"]);
        assert_eq!(
            tables(&graph),
            [
                (
                    "route_table/public".to_string(),
                    json!(["0.0.0.0/0 via internet_gateway"]),
                    json!(["a"]),
                    vec!["vpc/p".to_string(), "internet_gateway/p".to_string(), "subnet/a".to_string()]
                ),
                (
                    "route_table/b".to_string(),
                    json!([]),
                    json!(["b"]),
                    vec!["vpc/p".to_string(), "subnet/b".to_string()]
                ),
            ]
        );
        let public = &graph[4];
        assert_eq!(public.tags.get("Name").map(String::as_str), Some("p-public"));
        assert_eq!(public.tags.get("team").map(String::as_str), Some("data"));
        assert_eq!(public.tags.get(RESOURCE_TAG).map(String::as_str), Some("route_table/public"));
        assert_eq!(graph[5].tags.get("Name").map(String::as_str), Some("p-b"));
    }

    #[test]
    fn a_single_nat_serves_every_private_table_and_per_az_the_tables_of_its_zone() {
        let zones = "    - {name: c, cidr: 10.0.2.0/24, availability_zone: eu-west-1b, public: true}\n    - {name: d, cidr: 10.0.3.0/24, availability_zone: eu-west-1a}\n";
        let single = graph(&format!("{NETWORK}{zones}  nat: single\n"));
        let routes: Vec<(String, serde_json::Value, Vec<String>)> =
            tables(&single).into_iter().map(|(id, routes, _, depends)| (id, routes, depends)).collect();
        assert_eq!(
            routes[1..],
            [
                (
                    "route_table/b".to_string(),
                    json!(["0.0.0.0/0 via nat_gateway/a"]),
                    vec!["vpc/p".to_string(), "subnet/b".to_string(), "nat_gateway/a".to_string()]
                ),
                (
                    "route_table/d".to_string(),
                    json!(["0.0.0.0/0 via nat_gateway/a"]),
                    vec!["vpc/p".to_string(), "subnet/d".to_string(), "nat_gateway/a".to_string()]
                ),
            ]
        );
        let per_az = graph(&format!("{NETWORK}{zones}  nat: per-az\n"));
        let routes: Vec<(String, serde_json::Value)> =
            tables(&per_az).into_iter().map(|(id, routes, _, _)| (id, routes)).collect();
        assert_eq!(
            routes,
            [
                ("route_table/public".to_string(), json!(["0.0.0.0/0 via internet_gateway"])),
                ("route_table/b".to_string(), json!(["0.0.0.0/0 via nat_gateway/c"])),
                ("route_table/d".to_string(), json!(["0.0.0.0/0 via nat_gateway/a"])),
            ]
        );
    }

    #[test]
    fn no_network_no_tables_and_no_public_subnet_no_public_table() {
        assert!(tables(&graph("version: 1\npipeline: p\nregion: eu-west-1\n")).is_empty());
        let private_only = graph("version: 1\npipeline: p\nregion: eu-west-1\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets:\n    - {name: b, cidr: 10.0.1.0/24, availability_zone: eu-west-1b}\n");
        let ids: Vec<String> = private_only.iter().map(|node| node.id.to_string()).collect();
        assert_eq!(ids, ["vpc/p", "subnet/b", "route_table/b"]);
    }

    fn tagged(name: &str, pipeline: &str) -> Vec<Tag> {
        vec![
            Tag::builder().key(crate::model::PIPELINE_TAG).value(pipeline).build(),
            Tag::builder().key(RESOURCE_TAG).value(format!("route_table/{name}")).build(),
        ]
    }

    /// A table as DescribeRouteTables returns it (EC2 API Reference, RouteTable): the local
    /// route, an S3 gateway endpoint's prefix-list route, and `0.0.0.0/0` to a NAT gateway.
    fn aws_table(nat_state: RouteState, pipeline: &str) -> aws_sdk_ec2::types::RouteTable {
        aws_sdk_ec2::types::RouteTable::builder()
            .route_table_id("rtb-1")
            .vpc_id("vpc-1")
            .routes(Route::builder().destination_cidr_block("10.0.0.0/16").gateway_id("local").build())
            .routes(Route::builder().destination_prefix_list_id("pl-63a5400a").gateway_id("vpce-1").build())
            .routes(
                Route::builder().destination_cidr_block("0.0.0.0/0").nat_gateway_id("nat-1").state(nat_state).build(),
            )
            .associations(
                RouteTableAssociation::builder()
                    .main(false)
                    .route_table_association_id("rtbassoc-1")
                    .subnet_id("subnet-b")
                    .build(),
            )
            .set_tags(Some(tagged("b", pipeline)))
            .build()
    }

    fn names_with(resources: &[(ResourceId, &str)]) -> LiveState {
        let mut state = LiveState::default();
        for (id, physical) in resources {
            let live = crate::resources::test_support::live_vpc(id.clone(), physical, "10.0.0.0/16");
            state.resources.insert(id.clone(), live);
        }
        state
    }

    #[test]
    fn a_nat_route_reads_back_as_the_spec_writes_it_and_a_blackhole_is_a_change() {
        let mut state = names_with(&[
            (super::super::nat_gateway::id("a"), "nat-1"),
            (super::super::subnet::id("b"), "subnet-b"),
            (super::super::vpc::id("p"), "vpc-1"),
        ]);
        let live = live_table(&aws_table(RouteState::Active, "p"), "p").unwrap();
        state.resources.insert(live.id.clone(), live);
        state.describe();
        let live = &state.resources[&private_id("b")];
        let desired = Desired { subnets: vec!["b".to_string()], default_route: Some(Target::NatGateway("a".into())) };
        assert_eq!(live.attributes["routes"], desired.attributes()["routes"]);
        assert_eq!(live.attributes["subnets"], desired.attributes()["subnets"]);
        let depends: Vec<String> = live.depends_on.iter().map(ToString::to_string).collect();
        assert_eq!(depends, ["subnet/b", "nat_gateway/a", "vpc/p"], "deleted before the NAT gateway it routes to");

        let blackhole = live_table(&aws_table(RouteState::Blackhole, "p"), "p").unwrap();
        let detail = blackhole.detail::<Live>().unwrap();
        assert_eq!(route_change(Some("nat-1"), detail.default_route.as_ref()), Some(Some(RouteChange::Replace)));
        assert_eq!(route_change(Some("nat-2"), detail.default_route.as_ref()), Some(Some(RouteChange::Replace)));
        assert_eq!(route_change(None, detail.default_route.as_ref()), Some(None));
        assert_eq!(route_change(Some("nat-1"), None), Some(Some(RouteChange::Create)));
        let active = live_table(&aws_table(RouteState::Active, "p"), "p").unwrap();
        assert_eq!(route_change(Some("nat-1"), active.detail::<Live>().unwrap().default_route.as_ref()), None);
    }

    #[test]
    fn tables_of_other_pipelines_are_not_read_even_when_the_filter_is_ignored() {
        assert!(live_table(&aws_table(RouteState::Active, "other"), "p").is_none());
    }

    #[test]
    fn a_route_table_is_created_tagged_in_the_pipelines_vpc_and_routed_only_when_it_is_the_pipelines() {
        let spec = crate::spec::SpecBuilder::new().build();
        crate::resources::test_support::assert_granted(
            &RouteTable,
            &spec,
            &[
                ("ec2:DescribeRouteTables", &["ReadWhatCannotBeScoped"]),
                ("ec2:CreateRouteTable", &["CreateTaggedNetwork", "ChangeOwnNetwork"]),
                ("ec2:ReplaceRoute", &["ChangeOwnNetwork"]),
                ("ec2:AssociateRouteTable", &["ChangeOwnNetwork"]),
                ("ec2:DeleteRouteTable", &["ChangeOwnNetwork"]),
            ],
        );
    }
}

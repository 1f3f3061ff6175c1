//! The public route table: `0.0.0.0/0` through the internet gateway, associated with every public
//! subnet. Associations are compared by subnet name, and applied by subnet id, so a replaced
//! subnet is re-associated.

use aws_sdk_ec2::types::ResourceType;
use serde_json::json;

use super::ec2_tags::{ec2_node_tags, from_ec2, pipeline_filter, sync, tag_specification};
use super::{aws_error, claimed_id, AwsError, Context, LiveResource, NamedRead, ReadContext, ResourceKind};
use crate::model::{
    Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};

const DEFAULT_ROUTE: &str = "0.0.0.0/0";

pub struct RouteTable;
pub const KIND: Kind = Kind::of(&RouteTable);

/// The pipeline's one route table, shared by its public subnets.
pub fn public_id() -> ResourceId {
    ResourceId::new(KIND, "public")
}

/// The public route table: a default route to the internet gateway, associated with the public
/// subnets named here.
#[derive(Debug, Clone)]
pub struct Desired {
    pub subnets: Vec<String>,
}

impl DesiredConfig for Desired {
    fn attributes(&self) -> Attributes {
        let mut subnets = self.subnets.clone();
        subnets.sort();
        Attributes::from([
            ("routes".to_string(), json!([format!("{DEFAULT_ROUTE} via internet_gateway")])),
            ("subnets".to_string(), json!(subnets)),
        ])
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub vpc_id: String,
    /// The gateway the default route points at, if there is such a route.
    pub default_route_gateway: Option<String>,
    /// (association id, subnet id) of each explicit subnet association.
    pub associations: Vec<(String, String)>,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let routes: Vec<String> = self
            .default_route_gateway
            .iter()
            .map(|gateway| match names.id(gateway) {
                Some(id) if id.kind == super::internet_gateway::KIND => {
                    format!("{DEFAULT_ROUTE} via internet_gateway")
                }
                _ => format!("{DEFAULT_ROUTE} via {gateway}"),
            })
            .collect();
        let mut subnets: Vec<String> = self.associations.iter().map(|(_, subnet)| names.name(subnet)).collect();
        subnets.sort();
        let mut depends_on: Vec<ResourceId> = self
            .associations
            .iter()
            .map(|(_, subnet)| subnet)
            .chain(self.default_route_gateway.iter())
            .chain(std::iter::once(&self.vpc_id))
            .filter_map(|physical| names.id(physical).cloned())
            .collect();
        depends_on.dedup();
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
        3
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
        let public: Vec<String> =
            network.subnets.iter().filter(|subnet| subnet.public).map(|subnet| subnet.name.clone()).collect();
        if public.is_empty() {
            return Vec::new();
        }
        let mut depends_on =
            vec![super::vpc::id(&graph.spec.pipeline), super::internet_gateway::id(&graph.spec.pipeline)];
        depends_on.extend(public.iter().map(|name| super::subnet::id(name)));
        let id = public_id();
        let tags = ec2_node_tags(graph.spec, &id, &Default::default());
        vec![graph.node(id, &tags, depends_on, Desired { subnets: public })]
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        Ok(NamedRead::found(self::read(&read.clients.ec2, read.pipeline).await?))
    }

    async fn create(&self, ctx: &Context, resource: &DesiredResource, desired: &Desired) -> Result<String, AwsError> {
        create(ctx, resource, &desired.subnets).await
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &Desired,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        update(ctx, resource, &desired.subnets, live, detail).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
        delete(ctx, live, detail).await
    }
}

async fn read(ec2: &aws_sdk_ec2::Client, pipeline: &str) -> Result<Vec<LiveResource>, AwsError> {
    let output = ec2
        .describe_route_tables()
        .filters(pipeline_filter(pipeline))
        .send()
        .await
        .map_err(|error| aws_error("route_table", "DescribeRouteTables", error))?;
    Ok(output
        .route_tables()
        .iter()
        .filter_map(|table| {
            let tags = from_ec2(table.tags());
            let default_route_gateway = table
                .routes()
                .iter()
                .find(|route| route.destination_cidr_block() == Some(DEFAULT_ROUTE))
                .and_then(|route| route.gateway_id().map(str::to_string));
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
                Live { vpc_id: table.vpc_id().unwrap_or_default().to_string(), default_route_gateway, associations },
            ))
        })
        .collect())
}

async fn associate(ctx: &Context, id: &ResourceId, table_id: &str, subnet_id: &str) -> Result<(), AwsError> {
    ctx.clients
        .ec2
        .associate_route_table()
        .route_table_id(table_id)
        .subnet_id(subnet_id)
        .send()
        .await
        .map_err(|error| aws_error(id, "AssociateRouteTable", error))?;
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

async fn route_to_gateway(ctx: &Context, id: &ResourceId, table_id: &str, replace: bool) -> Result<(), AwsError> {
    let gateway = ctx.physical_id(&super::internet_gateway::id(&ctx.pipeline))?;
    let ec2 = &ctx.clients.ec2;
    let result = if replace {
        ec2.replace_route()
            .route_table_id(table_id)
            .destination_cidr_block(DEFAULT_ROUTE)
            .gateway_id(gateway)
            .send()
            .await
            .map(drop)
            .map_err(|error| aws_error(id, "ReplaceRoute", error))
    } else {
        ec2.create_route()
            .route_table_id(table_id)
            .destination_cidr_block(DEFAULT_ROUTE)
            .gateway_id(gateway)
            .send()
            .await
            .map(drop)
            .map_err(|error| aws_error(id, "CreateRoute", error))
    };
    result
}

async fn create(ctx: &Context, resource: &DesiredResource, subnets: &[String]) -> Result<String, AwsError> {
    let id = &resource.id;
    let vpc = ctx.physical_id(&super::vpc::id(&ctx.pipeline))?;
    let output = ctx
        .clients
        .ec2
        .create_route_table()
        .vpc_id(vpc)
        .tag_specifications(tag_specification(ResourceType::RouteTable, &resource.tags))
        .send()
        .await
        .map_err(|error| aws_error(id, "CreateRouteTable", error))?;
    let table_id = output
        .route_table()
        .and_then(|table| table.route_table_id())
        .ok_or_else(|| AwsError::missing(id, "CreateRouteTable", "route table id"))?
        .to_string();
    route_to_gateway(ctx, id, &table_id, false).await?;
    for subnet in subnets {
        let subnet_id = ctx.physical_id(&super::subnet::id(subnet))?;
        associate(ctx, id, &table_id, &subnet_id).await?;
    }
    Ok(table_id)
}

async fn update(
    ctx: &Context,
    resource: &DesiredResource,
    subnets: &[String],
    live: &LiveResource,
    detail: &Live,
) -> Result<(), AwsError> {
    let id = &resource.id;
    let gateway = ctx.physical_id(&super::internet_gateway::id(&ctx.pipeline))?;
    match &detail.default_route_gateway {
        Some(current) if *current == gateway => {}
        Some(_) => route_to_gateway(ctx, id, &live.physical_id, true).await?,
        None => route_to_gateway(ctx, id, &live.physical_id, false).await?,
    }
    let mut wanted = Vec::new();
    for subnet in subnets {
        wanted.push(ctx.physical_id(&super::subnet::id(subnet))?);
    }
    for (association, subnet) in &detail.associations {
        if !wanted.contains(subnet) {
            disassociate(ctx, id, association).await?;
        }
    }
    for subnet in &wanted {
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
    use std::collections::BTreeMap;

    use crate::model::RESOURCE_TAG;
    use crate::policy::Arns;
    use crate::resources::desired_graph;
    use crate::spec::Spec;

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

    #[test]
    fn private_subnets_need_no_gateway_or_route_table() {
        let spec: Spec = serde_saphyr::from_str(
            "version: 1\npipeline: p\nregion: eu-west-1\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets:\n    - {name: b, cidr: 10.0.1.0/24, availability_zone: eu-west-1b}\n",
        )
        .unwrap();
        let graph = desired_graph(&spec, &Arns::new("123456789012", "eu-west-1"), &BTreeMap::new());
        let ids: Vec<String> = graph.iter().map(|node| node.id.to_string()).collect();
        assert_eq!(ids, ["vpc/p", "subnet/b"]);
    }
}

//! The public route table: `0.0.0.0/0` through the internet gateway, associated with every public
//! subnet. Associations are compared by subnet name, and applied by subnet id, so a replaced
//! subnet is re-associated.

use aws_sdk_ec2::types::ResourceType;
use serde_json::json;

use super::ec2_tags::{from_ec2, pipeline_filter, sync, tag_specification};
use super::{aws_error, claimed_id, AwsError, Context, LiveDetail, LiveResource, Names};
use crate::model::{internet_gateway_id, vpc_id, DesiredResource, Kind, ResourceId};
use crate::plan::Attributes;

const DEFAULT_ROUTE: &str = "0.0.0.0/0";

#[derive(Debug, Clone)]
pub struct Live {
    pub vpc_id: String,
    /// The gateway the default route points at, if there is such a route.
    pub default_route_gateway: Option<String>,
    /// (association id, subnet id) of each explicit subnet association.
    pub associations: Vec<(String, String)>,
}

pub fn desired_attributes(subnets: &[String]) -> Attributes {
    let mut subnets = subnets.to_vec();
    subnets.sort();
    Attributes::from([
        ("routes".to_string(), json!([format!("{DEFAULT_ROUTE} via internet_gateway")])),
        ("subnets".to_string(), json!(subnets)),
    ])
}

pub fn live_attributes(live: &Live, names: &Names) -> (Attributes, Vec<ResourceId>) {
    let routes: Vec<String> = live
        .default_route_gateway
        .iter()
        .map(|gateway| match names.id(gateway) {
            Some(id) if id.kind == Kind::InternetGateway => {
                format!("{DEFAULT_ROUTE} via internet_gateway")
            }
            _ => format!("{DEFAULT_ROUTE} via {gateway}"),
        })
        .collect();
    let mut subnets: Vec<String> = live.associations.iter().map(|(_, subnet)| names.name(subnet)).collect();
    subnets.sort();
    let mut depends_on: Vec<ResourceId> = live
        .associations
        .iter()
        .map(|(_, subnet)| subnet)
        .chain(live.default_route_gateway.iter())
        .chain(std::iter::once(&live.vpc_id))
        .filter_map(|physical| names.id(physical).cloned())
        .collect();
    depends_on.dedup();
    let attributes = Attributes::from([("routes".to_string(), json!(routes)), ("subnets".to_string(), json!(subnets))]);
    (attributes, depends_on)
}

pub async fn read(ec2: &aws_sdk_ec2::Client, pipeline: &str) -> Result<Vec<LiveResource>, AwsError> {
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
                claimed_id(&tags, Kind::RouteTable)?,
                table.route_table_id()?,
                tags,
                LiveDetail::RouteTable(Live {
                    vpc_id: table.vpc_id().unwrap_or_default().to_string(),
                    default_route_gateway,
                    associations,
                }),
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
    let gateway = ctx.physical_id(&internet_gateway_id(&ctx.pipeline))?;
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

pub async fn create(ctx: &Context, resource: &DesiredResource, subnets: &[String]) -> Result<String, AwsError> {
    let id = &resource.id;
    let vpc = ctx.physical_id(&vpc_id(&ctx.pipeline))?;
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
        .ok_or_else(|| AwsError::new(id, "CreateRouteTable", "AWS returned no route table id"))?
        .to_string();
    route_to_gateway(ctx, id, &table_id, false).await?;
    for subnet in subnets {
        let subnet_id = ctx.physical_id(&ResourceId::new(Kind::Subnet, subnet))?;
        associate(ctx, id, &table_id, &subnet_id).await?;
    }
    Ok(table_id)
}

pub async fn update(
    ctx: &Context,
    resource: &DesiredResource,
    subnets: &[String],
    live: &LiveResource,
    detail: &Live,
) -> Result<(), AwsError> {
    let id = &resource.id;
    let gateway = ctx.physical_id(&internet_gateway_id(&ctx.pipeline))?;
    match &detail.default_route_gateway {
        Some(current) if *current == gateway => {}
        Some(_) => route_to_gateway(ctx, id, &live.physical_id, true).await?,
        None => route_to_gateway(ctx, id, &live.physical_id, false).await?,
    }
    let mut wanted = Vec::new();
    for subnet in subnets {
        wanted.push(ctx.physical_id(&ResourceId::new(Kind::Subnet, subnet))?);
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

pub async fn delete(ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
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

//! The internet gateway that public subnets route through: one per pipeline, attached to its VPC.

use aws_sdk_ec2::types::ResourceType;
use serde_json::json;

use super::ec2_tags::{from_ec2, pipeline_filter, sync, tag_specification};
use super::{aws_error, claimed_id, AwsError, Context, LiveDetail, LiveResource, Names};
use crate::model::{vpc_id, DesiredResource, Kind, ResourceId};
use crate::plan::Attributes;

#[derive(Debug, Clone)]
pub struct Live {
    /// VPCs the gateway is attached to (zero or one in practice).
    pub attached_vpc_ids: Vec<String>,
}

/// The gateway's name is the pipeline's, and so is its VPC's.
pub fn desired_attributes(resource: &DesiredResource) -> Attributes {
    Attributes::from([("vpc".to_string(), json!(resource.id.name))])
}

pub fn live_attributes(live: &Live, names: &Names) -> (Attributes, Vec<ResourceId>) {
    let vpc = live.attached_vpc_ids.first().map(|vpc| names.name(vpc));
    let depends_on = live.attached_vpc_ids.iter().filter_map(|vpc| names.id(vpc).cloned()).collect();
    (Attributes::from([("vpc".to_string(), json!(vpc))]), depends_on)
}

pub async fn read(ec2: &aws_sdk_ec2::Client, pipeline: &str) -> Result<Vec<LiveResource>, AwsError> {
    let output = ec2
        .describe_internet_gateways()
        .filters(pipeline_filter(pipeline))
        .send()
        .await
        .map_err(|error| aws_error("internet_gateway", "DescribeInternetGateways", error))?;
    Ok(output
        .internet_gateways()
        .iter()
        .filter_map(|gateway| {
            let tags = from_ec2(gateway.tags());
            let attached_vpc_ids =
                gateway.attachments().iter().filter_map(|attachment| attachment.vpc_id().map(str::to_string)).collect();
            Some(LiveResource::new(
                claimed_id(&tags, Kind::InternetGateway)?,
                gateway.internet_gateway_id()?,
                tags,
                LiveDetail::InternetGateway(Live { attached_vpc_ids }),
            ))
        })
        .collect())
}

async fn attach(ctx: &Context, id: &ResourceId, gateway_id: &str) -> Result<(), AwsError> {
    let vpc = ctx.physical_id(&vpc_id(&ctx.pipeline))?;
    ctx.clients
        .ec2
        .attach_internet_gateway()
        .internet_gateway_id(gateway_id)
        .vpc_id(vpc)
        .send()
        .await
        .map_err(|error| aws_error(id, "AttachInternetGateway", error))?;
    Ok(())
}

async fn detach(ctx: &Context, id: &ResourceId, gateway_id: &str, vpc: &str) -> Result<(), AwsError> {
    let result = ctx
        .clients
        .ec2
        .detach_internet_gateway()
        .internet_gateway_id(gateway_id)
        .vpc_id(vpc)
        .send()
        .await
        .map_err(|error| aws_error(id, "DetachInternetGateway", error));
    match result {
        Err(error) if !(error.is_not_found() || error.has_code("Gateway.NotAttached")) => Err(error),
        _ => Ok(()),
    }
}

pub async fn create(ctx: &Context, resource: &DesiredResource) -> Result<String, AwsError> {
    let id = &resource.id;
    let output = ctx
        .clients
        .ec2
        .create_internet_gateway()
        .tag_specifications(tag_specification(ResourceType::InternetGateway, &resource.tags))
        .send()
        .await
        .map_err(|error| aws_error(id, "CreateInternetGateway", error))?;
    let gateway_id = output
        .internet_gateway()
        .and_then(|gateway| gateway.internet_gateway_id())
        .ok_or_else(|| AwsError::new(id, "CreateInternetGateway", "AWS returned no gateway id"))?
        .to_string();
    attach(ctx, id, &gateway_id).await?;
    Ok(gateway_id)
}

/// Re-attaches the gateway when it is attached elsewhere (or nowhere), then syncs tags.
pub async fn update(
    ctx: &Context,
    resource: &DesiredResource,
    live: &LiveResource,
    detail: &Live,
) -> Result<(), AwsError> {
    let vpc = ctx.physical_id(&vpc_id(&ctx.pipeline))?;
    if !detail.attached_vpc_ids.contains(&vpc) {
        for other in &detail.attached_vpc_ids {
            detach(ctx, &live.id, &live.physical_id, other).await?;
        }
        attach(ctx, &live.id, &live.physical_id).await?;
    }
    sync(ctx, live, &resource.tags).await
}

pub async fn delete(ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
    for vpc in &detail.attached_vpc_ids {
        detach(ctx, &live.id, &live.physical_id, vpc).await?;
    }
    ctx.clients
        .ec2
        .delete_internet_gateway()
        .internet_gateway_id(&live.physical_id)
        .send()
        .await
        .map_err(|error| aws_error(&live.id, "DeleteInternetGateway", error))?;
    Ok(())
}

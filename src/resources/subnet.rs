//! Subnets of the pipeline's VPC. CIDR and zone are fixed at creation (a change replaces the
//! subnet); `public` sets MapPublicIpOnLaunch and puts the subnet on the public route table.

use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use serde_json::json;

use super::ec2_tags::{from_ec2, pipeline_filter, sync, tag_specification};
use super::{aws_error, claimed_id, AwsError, Context, LiveDetail, LiveResource, Names};
use crate::model::{vpc_id, DesiredResource, Kind, ResourceId};
use crate::plan::Attributes;
use crate::spec::Subnet;

#[derive(Debug, Clone)]
pub struct Live {
    pub vpc_id: String,
    pub cidr: String,
    pub availability_zone: String,
    pub public: bool,
}

pub fn desired_attributes(subnet: &Subnet) -> Attributes {
    Attributes::from([
        ("cidr".to_string(), json!(subnet.cidr)),
        ("availability_zone".to_string(), json!(subnet.availability_zone)),
        ("public".to_string(), json!(subnet.public)),
    ])
}

pub fn live_attributes(live: &Live, names: &Names) -> (Attributes, Vec<ResourceId>) {
    let attributes = Attributes::from([
        ("cidr".to_string(), json!(live.cidr)),
        ("availability_zone".to_string(), json!(live.availability_zone)),
        ("public".to_string(), json!(live.public)),
    ]);
    (attributes, names.id(&live.vpc_id).cloned().into_iter().collect())
}

pub async fn read(ec2: &aws_sdk_ec2::Client, pipeline: &str) -> Result<Vec<LiveResource>, AwsError> {
    let output = ec2
        .describe_subnets()
        .filters(pipeline_filter(pipeline))
        .send()
        .await
        .map_err(|error| aws_error("subnet", "DescribeSubnets", error))?;
    Ok(output
        .subnets()
        .iter()
        .filter_map(|subnet| {
            let tags = from_ec2(subnet.tags());
            Some(LiveResource::new(
                claimed_id(&tags, Kind::Subnet)?,
                subnet.subnet_id()?,
                tags,
                LiveDetail::Subnet(Live {
                    vpc_id: subnet.vpc_id().unwrap_or_default().to_string(),
                    cidr: subnet.cidr_block().unwrap_or_default().to_string(),
                    availability_zone: subnet.availability_zone().unwrap_or_default().to_string(),
                    public: subnet.map_public_ip_on_launch().unwrap_or(false),
                }),
            ))
        })
        .collect())
}

async fn set_public(ctx: &Context, id: &ResourceId, subnet_id: &str, public: bool) -> Result<(), AwsError> {
    ctx.clients
        .ec2
        .modify_subnet_attribute()
        .subnet_id(subnet_id)
        .map_public_ip_on_launch(AttributeBooleanValue::builder().value(public).build())
        .send()
        .await
        .map_err(|error| aws_error(id, "ModifySubnetAttribute", error))?;
    Ok(())
}

pub async fn create(ctx: &Context, resource: &DesiredResource, subnet: &Subnet) -> Result<String, AwsError> {
    let id = &resource.id;
    let vpc = ctx.physical_id(&vpc_id(&ctx.pipeline))?;
    let output = ctx
        .clients
        .ec2
        .create_subnet()
        .vpc_id(vpc)
        .cidr_block(&subnet.cidr)
        .availability_zone(&subnet.availability_zone)
        .tag_specifications(tag_specification(ResourceType::Subnet, &resource.tags))
        .send()
        .await
        .map_err(|error| aws_error(id, "CreateSubnet", error))?;
    let subnet_id = output
        .subnet()
        .and_then(|subnet| subnet.subnet_id())
        .ok_or_else(|| AwsError::new(id, "CreateSubnet", "AWS returned no subnet id"))?
        .to_string();
    if subnet.public {
        set_public(ctx, id, &subnet_id, true).await?;
    }
    Ok(subnet_id)
}

pub async fn update(
    ctx: &Context,
    resource: &DesiredResource,
    subnet: &Subnet,
    live: &LiveResource,
    detail: &Live,
) -> Result<(), AwsError> {
    if detail.public != subnet.public {
        set_public(ctx, &resource.id, &live.physical_id, subnet.public).await?;
    }
    sync(ctx, live, &resource.tags).await
}

pub async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    ctx.clients
        .ec2
        .delete_subnet()
        .subnet_id(&live.physical_id)
        .send()
        .await
        .map_err(|error| aws_error(&live.id, "DeleteSubnet", error))?;
    Ok(())
}

//! The pipeline's VPC. Created with DNS hostnames on (EMR needs them); its CIDR cannot change,
//! so a new CIDR replaces the VPC and everything in it.

use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use serde_json::json;

use super::ec2_tags::{from_ec2, pipeline_filter, tag_specification};
use super::wait::{wait_until, Poll};
use super::{aws_error, claimed_id, AwsError, Context, LiveDetail, LiveResource};
use crate::model::{DesiredResource, Kind};
use crate::plan::Attributes;

#[derive(Debug, Clone)]
pub struct Live {
    pub cidr: String,
}

pub fn desired_attributes(cidr: &str) -> Attributes {
    Attributes::from([("cidr".to_string(), json!(cidr))])
}

pub fn live_attributes(live: &Live) -> Attributes {
    desired_attributes(&live.cidr)
}

pub async fn read(ec2: &aws_sdk_ec2::Client, pipeline: &str) -> Result<Vec<LiveResource>, AwsError> {
    let output = ec2
        .describe_vpcs()
        .filters(pipeline_filter(pipeline))
        .send()
        .await
        .map_err(|error| aws_error("vpc", "DescribeVpcs", error))?;
    Ok(output
        .vpcs()
        .iter()
        .filter_map(|vpc| {
            let tags = from_ec2(vpc.tags());
            Some(LiveResource::new(
                claimed_id(&tags, Kind::Vpc)?,
                vpc.vpc_id()?,
                tags,
                LiveDetail::Vpc(Live { cidr: vpc.cidr_block().unwrap_or_default().to_string() }),
            ))
        })
        .collect())
}

pub async fn create(ctx: &Context, resource: &DesiredResource, cidr: &str) -> Result<String, AwsError> {
    let ec2 = &ctx.clients.ec2;
    let id = &resource.id;
    let output = ec2
        .create_vpc()
        .cidr_block(cidr)
        .tag_specifications(tag_specification(ResourceType::Vpc, &resource.tags))
        .send()
        .await
        .map_err(|error| aws_error(id, "CreateVpc", error))?;
    let vpc_id = output
        .vpc()
        .and_then(|vpc| vpc.vpc_id())
        .ok_or_else(|| AwsError::new(id, "CreateVpc", "AWS returned no VPC id"))?
        .to_string();
    wait_until(id, "available", ctx.wait, &ctx.progress, || async {
        let output =
            ec2.describe_vpcs().vpc_ids(&vpc_id).send().await.map_err(|error| aws_error(id, "DescribeVpcs", error))?;
        let state = output.vpcs().first().and_then(|vpc| vpc.state()).map(|state| state.as_str().to_string());
        Ok(match state.as_deref() {
            Some("available") => Poll::Ready,
            other => Poll::Pending(other.unwrap_or("unknown").to_string()),
        })
    })
    .await?;
    ec2.modify_vpc_attribute()
        .vpc_id(&vpc_id)
        .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
        .send()
        .await
        .map_err(|error| aws_error(id, "ModifyVpcAttribute", error))?;
    Ok(vpc_id)
}

pub async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    ctx.clients
        .ec2
        .delete_vpc()
        .vpc_id(&live.physical_id)
        .send()
        .await
        .map_err(|error| aws_error(&live.id, "DeleteVpc", error))?;
    Ok(())
}

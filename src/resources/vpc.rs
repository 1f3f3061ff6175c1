//! The pipeline's VPC. Created with DNS hostnames on (EMR needs them); its CIDR cannot change,
//! so a new CIDR replaces the VPC and everything in it. With clusters in the spec it carries
//! EMR's managed-policy tag: `AmazonEMRServicePolicy_v2` lets EMR create security groups only
//! in a VPC tagged `for-use-with-amazon-emr-managed-policies=true` ("IAM service roles used by
//! Amazon EMR" / the policy's `CreateDefaultSecurityGroupInVPCWithEMRTags` statement).

use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use serde_json::json;

use super::kit::ec2_delete::{self, InUse};
use super::kit::ec2_tags::{self, Ec2Calls};
use super::kit::ec2_tags::{ec2_node_tags, emr_managed_tags, from_ec2, pipeline_filter, tag_specification};
use super::kit::wait::{wait_until, Poll};
use super::kit::{
    aws_error, claimed_id, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, ReadContext, ResourceKind,
};
use crate::model::ResourceId;
use crate::model::{Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names};

pub struct Vpc;
pub const KIND: Kind = Kind::of(&Vpc);

/// The one VPC of a pipeline is named after it.
pub fn id(pipeline: &str) -> ResourceId {
    ResourceId::new(KIND, pipeline)
}

#[derive(Debug, Clone)]
pub struct Desired {
    pub cidr: String,
}

impl DesiredConfig for Desired {
    fn attributes(&self) -> Attributes {
        Attributes::from([("cidr".to_string(), json!(self.cidr))])
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub cidr: String,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, _names: &Names) -> (Attributes, Vec<ResourceId>) {
        (Desired { cidr: self.cidr.clone() }.attributes(), Vec::new())
    }
}

impl KindRules for Vpc {
    fn name(&self) -> &'static str {
        "vpc"
    }
    fn rank(&self) -> u8 {
        0
    }
    fn forces_replacement(&self, field: &str) -> bool {
        field == "cidr"
    }
}

impl ResourceKind for Vpc {
    type Desired = Desired;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let Some(network) = &graph.spec.network else { return Vec::new() };
        let id = id(&graph.spec.pipeline);
        let tags = ec2_node_tags(graph.spec, &id, &emr_managed_tags(!graph.spec.clusters.is_empty()));
        vec![graph.node(id, &tags, vec![], Desired { cidr: network.vpc.cidr.clone() })]
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        Ok(NamedRead::found(self::read(&read.clients.ec2, read.pipeline).await?))
    }

    async fn create(&self, ctx: &Context, resource: &DesiredResource, desired: &Desired) -> Result<String, AwsError> {
        create(ctx, resource, &desired.cidr).await
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        _desired: &Desired,
        live: &LiveResource,
        _detail: &Live,
    ) -> Result<(), AwsError> {
        super::kit::ec2_tags::sync(ctx, live, &resource.tags).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        delete(ctx, live).await
    }

    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let calls = Ec2Calls {
            describe: &["ec2:DescribeVpcs"],
            create: &["ec2:CreateVpc"],
            change: &["ec2:ModifyVpcAttribute"],
            delete: &["ec2:DeleteVpc"],
        };
        [ec2_tags::grants(ctx, &calls), ec2_delete::grants()].concat()
    }
}

async fn read(ec2: &aws_sdk_ec2::Client, pipeline: &str) -> Result<Vec<LiveResource>, AwsError> {
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
                claimed_id(&tags, KIND)?,
                vpc.vpc_id()?,
                tags,
                Live { cidr: vpc.cidr_block().unwrap_or_default().to_string() },
            ))
        })
        .collect())
}

async fn create(ctx: &Context, resource: &DesiredResource, cidr: &str) -> Result<String, AwsError> {
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
        .ok_or_else(|| AwsError::missing(id, "CreateVpc", "VPC id"))?
        .to_string();
    ctx.created(&vpc_id);
    wait_until(id, "available", ctx.wait, &ctx.progress, || async {
        let output = ctx
            .while_fresh(id, || async {
                ec2.describe_vpcs().vpc_ids(&vpc_id).send().await.map_err(|error| aws_error(id, "DescribeVpcs", error))
            })
            .await?;
        let state = output.vpcs().first().and_then(|vpc| vpc.state()).map(|state| state.as_str().to_string());
        Ok(match state.as_deref() {
            Some("available") => Poll::Ready,
            other => Poll::Pending(other.unwrap_or("unknown").to_string()),
        })
    })
    .await?;
    ctx.while_fresh(id, || async {
        ec2.modify_vpc_attribute()
            .vpc_id(&vpc_id)
            .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
            .send()
            .await
            .map_err(|error| aws_error(id, "ModifyVpcAttribute", error))
    })
    .await?;
    Ok(vpc_id)
}

/// Deletes the VPC, waiting while AWS still sees something in it (the network interfaces of a
/// terminated cluster's instances); when the wait ends, the error names what is left, such as
/// security groups EMR created itself.
async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    ec2_delete::delete(ctx, &live.id, InUse::Vpc(&live.physical_id)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vpc_is_created_tagged_and_changed_only_when_it_is_the_pipelines() {
        let spec = crate::spec::SpecBuilder::new().build();
        crate::resources::test_support::assert_granted(
            &Vpc,
            &spec,
            &[
                ("ec2:DescribeVpcs", &["ReadWhatCannotBeScoped"]),
                ("ec2:CreateVpc", &["CreateTaggedNetwork"]),
                ("ec2:ModifyVpcAttribute", &["ChangeOwnNetwork"]),
                ("ec2:DeleteVpc", &["ChangeOwnNetwork"]),
                ("ec2:DescribeNetworkInterfaces", &["ReadWhatCannotBeScoped"]),
            ],
        );
    }
}

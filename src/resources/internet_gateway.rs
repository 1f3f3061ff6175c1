//! The internet gateway that public subnets route through: one per pipeline, attached to its VPC,
//! and only when some subnet of the spec is public.

use aws_sdk_ec2::types::ResourceType;
use serde_json::json;

use super::kit::ec2_tags::{self, Ec2Calls};
use super::kit::ec2_tags::{ec2_node_tags, from_ec2, pipeline_filter, sync, tag_specification};
use super::kit::{
    aws_error, claimed_id, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, ReadContext, ResourceKind,
};
use crate::model::{
    Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};

pub struct InternetGateway;
pub const KIND: Kind = Kind::of(&InternetGateway);

/// The one gateway of a pipeline is named after it, like its VPC.
pub fn id(pipeline: &str) -> ResourceId {
    ResourceId::new(KIND, pipeline)
}

#[derive(Debug, Clone)]
pub struct Desired {
    /// The name of the VPC the gateway is attached to (the pipeline's).
    pub vpc: String,
}

impl DesiredConfig for Desired {
    fn attributes(&self) -> Attributes {
        Attributes::from([("vpc".to_string(), json!(self.vpc))])
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    /// VPCs the gateway is attached to (zero or one in practice).
    pub attached_vpc_ids: Vec<String>,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let vpc = self.attached_vpc_ids.first().map(|vpc| names.name(vpc));
        let depends_on = self.attached_vpc_ids.iter().filter_map(|vpc| names.id(vpc).cloned()).collect();
        (Attributes::from([("vpc".to_string(), json!(vpc))]), depends_on)
    }
}

impl KindRules for InternetGateway {
    fn name(&self) -> &'static str {
        "internet_gateway"
    }
    fn rank(&self) -> u8 {
        10
    }
    fn lives_in(&self, container: Kind) -> bool {
        container == super::vpc::KIND
    }
}

impl ResourceKind for InternetGateway {
    type Desired = Desired;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let Some(network) = &graph.spec.network else { return Vec::new() };
        if !network.subnets.iter().any(|subnet| subnet.public) {
            return Vec::new();
        }
        let vpc = super::vpc::id(&graph.spec.pipeline);
        let id = id(&graph.spec.pipeline);
        let tags = ec2_node_tags(graph.spec, &id, &Default::default());
        vec![graph.node(id, &tags, vec![vpc.clone()], Desired { vpc: vpc.name })]
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        Ok(NamedRead::found(self::read(&read.clients.ec2, read.pipeline).await?))
    }

    async fn create(&self, ctx: &Context, resource: &DesiredResource, _desired: &Desired) -> Result<String, AwsError> {
        create(ctx, resource).await
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        _desired: &Desired,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        update(ctx, resource, live, detail).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
        delete(ctx, live, detail).await
    }

    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let calls = Ec2Calls {
            describe: &["ec2:DescribeInternetGateways"],
            create: &["ec2:CreateInternetGateway"],
            change: &["ec2:AttachInternetGateway", "ec2:DetachInternetGateway"],
            delete: &["ec2:DeleteInternetGateway"],
        };
        ec2_tags::grants(ctx, &calls)
    }
}

async fn read(ec2: &aws_sdk_ec2::Client, pipeline: &str) -> Result<Vec<LiveResource>, AwsError> {
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
                claimed_id(&tags, KIND)?,
                gateway.internet_gateway_id()?,
                tags,
                Live { attached_vpc_ids },
            ))
        })
        .collect())
}

async fn attach(ctx: &Context, id: &ResourceId, gateway_id: &str) -> Result<(), AwsError> {
    let vpc = ctx.physical_id(&super::vpc::id(&ctx.pipeline))?;
    ctx.while_fresh(id, || async {
        ctx.clients
            .ec2
            .attach_internet_gateway()
            .internet_gateway_id(gateway_id)
            .vpc_id(&vpc)
            .send()
            .await
            .map_err(|error| aws_error(id, "AttachInternetGateway", error))
    })
    .await?;
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

async fn create(ctx: &Context, resource: &DesiredResource) -> Result<String, AwsError> {
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
        .ok_or_else(|| AwsError::missing(id, "CreateInternetGateway", "gateway id"))?
        .to_string();
    ctx.created(&gateway_id);
    attach(ctx, id, &gateway_id).await?;
    Ok(gateway_id)
}

/// Re-attaches the gateway when it is attached elsewhere (or nowhere), then syncs tags.
async fn update(ctx: &Context, resource: &DesiredResource, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
    let vpc = ctx.physical_id(&super::vpc::id(&ctx.pipeline))?;
    if !detail.attached_vpc_ids.contains(&vpc) {
        for other in &detail.attached_vpc_ids {
            detach(ctx, &live.id, &live.physical_id, other).await?;
        }
        attach(ctx, &live.id, &live.physical_id).await?;
    }
    sync(ctx, live, &resource.tags).await
}

async fn delete(ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_internet_gateway_is_created_tagged_and_attached_only_when_it_is_the_pipelines() {
        let spec = crate::spec::SpecBuilder::new().build();
        crate::resources::test_support::assert_granted(
            &InternetGateway,
            &spec,
            &[
                ("ec2:DescribeInternetGateways", &["ReadWhatCannotBeScoped"]),
                ("ec2:CreateInternetGateway", &["CreateTaggedNetwork"]),
                ("ec2:AttachInternetGateway", &["ChangeOwnNetwork"]),
                ("ec2:DeleteInternetGateway", &["ChangeOwnNetwork"]),
            ],
        );
    }
}

//! Subnets of the pipeline's VPC. CIDR and zone are fixed at creation (a change replaces the
//! subnet); `public` sets MapPublicIpOnLaunch and puts the subnet on the public route table.

use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use serde_json::json;

use super::ec2_tags::{ec2_node_tags, emr_managed_tags, from_ec2, pipeline_filter, sync, tag_specification};
use super::{aws_error, claimed_id, AwsError, Context, LiveResource, NamedRead, ReadContext, ResourceKind};
use crate::model::{
    Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::spec;

pub struct Subnet;
pub const KIND: Kind = Kind::of(&Subnet);

/// The subnet the spec names `name`.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// A subnet is desired exactly as the spec writes it.
pub type Desired = spec::Subnet;

impl DesiredConfig for spec::Subnet {
    fn attributes(&self) -> Attributes {
        Attributes::from([
            ("cidr".to_string(), json!(self.cidr)),
            ("availability_zone".to_string(), json!(self.availability_zone)),
            ("public".to_string(), json!(self.public)),
        ])
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub vpc_id: String,
    pub cidr: String,
    pub availability_zone: String,
    pub public: bool,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let attributes = Attributes::from([
            ("cidr".to_string(), json!(self.cidr)),
            ("availability_zone".to_string(), json!(self.availability_zone)),
            ("public".to_string(), json!(self.public)),
        ]);
        (attributes, names.id(&self.vpc_id).cloned().into_iter().collect())
    }
}

impl KindRules for Subnet {
    fn name(&self) -> &'static str {
        "subnet"
    }
    fn rank(&self) -> u8 {
        2
    }
    fn forces_replacement(&self, field: &str) -> bool {
        matches!(field, "cidr" | "availability_zone")
    }
    fn lives_in(&self, container: Kind) -> bool {
        container == super::vpc::KIND
    }
}

impl ResourceKind for Subnet {
    type Desired = Desired;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let Some(network) = &graph.spec.network else { return Vec::new() };
        let vpc = super::vpc::id(&graph.spec.pipeline);
        network
            .subnets
            .iter()
            .map(|subnet| {
                let id = id(&subnet.name);
                let used_by_emr = graph.spec.clusters.iter().any(|cluster| cluster.subnet == subnet.name);
                let tags = ec2_node_tags(graph.spec, &id, &emr_managed_tags(used_by_emr));
                graph.node(id, &tags, vec![vpc.clone()], subnet.clone())
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

async fn read(ec2: &aws_sdk_ec2::Client, pipeline: &str) -> Result<Vec<LiveResource>, AwsError> {
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
                claimed_id(&tags, KIND)?,
                subnet.subnet_id()?,
                tags,
                Live {
                    vpc_id: subnet.vpc_id().unwrap_or_default().to_string(),
                    cidr: subnet.cidr_block().unwrap_or_default().to_string(),
                    availability_zone: subnet.availability_zone().unwrap_or_default().to_string(),
                    public: subnet.map_public_ip_on_launch().unwrap_or(false),
                },
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

async fn create(ctx: &Context, resource: &DesiredResource, subnet: &Desired) -> Result<String, AwsError> {
    let id = &resource.id;
    let vpc = ctx.physical_id(&super::vpc::id(&ctx.pipeline))?;
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
        .ok_or_else(|| AwsError::missing(id, "CreateSubnet", "subnet id"))?
        .to_string();
    if subnet.public {
        set_public(ctx, id, &subnet_id, true).await?;
    }
    Ok(subnet_id)
}

async fn update(
    ctx: &Context,
    resource: &DesiredResource,
    subnet: &Desired,
    live: &LiveResource,
    detail: &Live,
) -> Result<(), AwsError> {
    if detail.public != subnet.public {
        set_public(ctx, &resource.id, &live.physical_id, subnet.public).await?;
    }
    sync(ctx, live, &resource.tags).await
}

async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    ctx.clients
        .ec2
        .delete_subnet()
        .subnet_id(&live.physical_id)
        .send()
        .await
        .map_err(|error| aws_error(&live.id, "DeleteSubnet", error))?;
    Ok(())
}

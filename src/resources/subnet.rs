//! Subnets of the pipeline's VPC. CIDR and zone are fixed at creation (a change replaces the
//! subnet); `map_public_ip` (by default `public`) sets MapPublicIpOnLaunch, read back from
//! DescribeSubnets. Whether a subnet is public is its association with the public route table,
//! which that kind compares. Deleting waits while the network interfaces of terminated
//! instances (an EMR cluster's) linger in the subnet.

use aws_sdk_ec2::types::{AttributeBooleanValue, ResourceType};
use serde_json::json;

use super::kit::ec2_delete::{self, InUse};
use super::kit::ec2_tags::{self, Ec2Calls};
use super::kit::ec2_tags::{ec2_node_tags, emr_managed_tags, from_ec2, pipeline_filter, sync, tag_specification};
use super::kit::{
    aws_error, claimed_id, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, ReadContext, ResourceKind,
};
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
            ("map_public_ip".to_string(), json!(self.maps_public_ip())),
        ])
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub vpc_id: String,
    pub cidr: String,
    pub availability_zone: String,
    /// MapPublicIpOnLaunch.
    pub map_public_ip: bool,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let attributes = Attributes::from([
            ("cidr".to_string(), json!(self.cidr)),
            ("availability_zone".to_string(), json!(self.availability_zone)),
            ("map_public_ip".to_string(), json!(self.map_public_ip)),
        ]);
        (attributes, names.id(&self.vpc_id).cloned().into_iter().collect())
    }
}

impl KindRules for Subnet {
    fn name(&self) -> &'static str {
        "subnet"
    }
    fn rank(&self) -> u8 {
        20
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

    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let calls = Ec2Calls {
            describe: &["ec2:DescribeSubnets"],
            create: &["ec2:CreateSubnet"],
            // In the pipeline's VPC.
            change: &["ec2:CreateSubnet", "ec2:ModifySubnetAttribute"],
            delete: &["ec2:DeleteSubnet"],
        };
        [ec2_tags::grants(ctx, &calls), ec2_delete::grants()].concat()
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
                    map_public_ip: subnet.map_public_ip_on_launch().unwrap_or(false),
                },
            ))
        })
        .collect())
}

async fn set_map_public_ip(ctx: &Context, id: &ResourceId, subnet_id: &str, on: bool) -> Result<(), AwsError> {
    ctx.while_fresh(id, || async {
        ctx.clients
            .ec2
            .modify_subnet_attribute()
            .subnet_id(subnet_id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(on).build())
            .send()
            .await
            .map_err(|error| aws_error(id, "ModifySubnetAttribute", error))
    })
    .await?;
    Ok(())
}

async fn create(ctx: &Context, resource: &DesiredResource, subnet: &Desired) -> Result<String, AwsError> {
    let id = &resource.id;
    let vpc = ctx.physical_id(&super::vpc::id(&ctx.pipeline))?;
    let output = ctx
        .while_fresh(id, || async {
            ctx.clients
                .ec2
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(&subnet.cidr)
                .availability_zone(&subnet.availability_zone)
                .tag_specifications(tag_specification(ResourceType::Subnet, &resource.tags))
                .send()
                .await
                .map_err(|error| aws_error(id, "CreateSubnet", error))
        })
        .await?;
    let subnet_id = output
        .subnet()
        .and_then(|subnet| subnet.subnet_id())
        .ok_or_else(|| AwsError::missing(id, "CreateSubnet", "subnet id"))?
        .to_string();
    ctx.created(&subnet_id);
    if subnet.maps_public_ip() {
        set_map_public_ip(ctx, id, &subnet_id, true).await?;
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
    if detail.map_public_ip != subnet.maps_public_ip() {
        set_map_public_ip(ctx, &resource.id, &live.physical_id, subnet.maps_public_ip()).await?;
    }
    sync(ctx, live, &resource.tags).await
}

/// Deletes the subnet, waiting while AWS still sees it in use (DeleteSubnet: "You must terminate
/// all running instances in the subnet before you can delete the subnet"; their network
/// interfaces go minutes after the instances).
async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    ec2_delete::delete(ctx, &live.id, InUse::Subnet(&live.physical_id)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::operation::describe_subnets::DescribeSubnetsOutput;
    use aws_sdk_ec2::types::Tag;
    use aws_smithy_mocks::{mock, RuleMode};

    /// DescribeSubnets reports MapPublicIpOnLaunch on each subnet; it is what the spec's
    /// `map_public_ip` (by default `public`) is compared with.
    #[tokio::test]
    async fn map_public_ip_is_read_back_from_describe_subnets() {
        let described = mock!(aws_sdk_ec2::Client::describe_subnets).then_output(|| {
            let subnet = aws_sdk_ec2::types::Subnet::builder()
                .subnet_id("subnet-1")
                .vpc_id("vpc-1")
                .cidr_block("10.0.0.0/24")
                .availability_zone("us-east-1a")
                .map_public_ip_on_launch(true)
                .tags(Tag::builder().key("pipectl:pipeline").value("p").build())
                .tags(Tag::builder().key("pipectl:resource").value("subnet/public-a").build())
                .build();
            DescribeSubnetsOutput::builder().subnets(subnet).build()
        });
        let ec2 = crate::resources::test_support::ec2_client(RuleMode::MatchAny, &[&described]);
        let found = read(&ec2, "p").await.unwrap();
        let (attributes, _) = found[0].detail.describe("subnet-1", &Names::default());
        let spec: spec::Subnet =
            serde_saphyr::from_str("{name: public-a, cidr: 10.0.0.0/24, availability_zone: us-east-1a, public: true}")
                .unwrap();
        assert_eq!(attributes, spec.attributes());
        let no_ip: spec::Subnet = serde_saphyr::from_str(
            "{name: public-a, cidr: 10.0.0.0/24, availability_zone: us-east-1a, public: true, map_public_ip: false}",
        )
        .unwrap();
        assert_eq!(no_ip.attributes()["map_public_ip"], json!(false));
        assert_ne!(attributes, no_ip.attributes());
    }

    #[test]
    fn a_subnet_is_created_tagged_in_the_pipelines_vpc_and_changed_only_when_it_is_the_pipelines() {
        let spec = crate::spec::SpecBuilder::new().build();
        crate::resources::test_support::assert_granted(
            &Subnet,
            &spec,
            &[
                ("ec2:DescribeSubnets", &["ReadWhatCannotBeScoped"]),
                ("ec2:CreateSubnet", &["CreateTaggedNetwork", "ChangeOwnNetwork"]),
                ("ec2:ModifySubnetAttribute", &["ChangeOwnNetwork"]),
                ("ec2:DeleteSubnet", &["ChangeOwnNetwork"]),
                ("ec2:CreateTags", &["TagNetworkOnlyWhileCreatingIt", "ChangeOwnNetwork"]),
            ],
        );
    }
}

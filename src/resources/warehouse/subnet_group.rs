//! A warehouse's cluster subnet group: the subnets of the spec Redshift may place the cluster
//! in (a cluster in a VPC needs one, "Subnets for Redshift resources", Amazon Redshift
//! Management Guide), named as the warehouse, tagged as the pipeline's. Its subnets change in
//! place (ModifyClusterSubnetGroup). Deleted after the cluster that uses it is gone: AWS refuses
//! with `InvalidClusterSubnetGroupStateFault` while a cluster uses the group.

use aws_sdk_redshift::types::ClusterSubnetGroup;
use serde_json::json;

use super::super::kit::{
    aws_error, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, Ownership, ReadContext, ResourceKind,
    Scope,
};
use super::{redshift_arn, redshift_tag_list, redshift_tags, retag_redshift};
use crate::model::{
    Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};

pub struct WarehouseSubnetGroup;
pub const KIND: Kind = Kind::of(&WarehouseSubnetGroup);

/// The subnet group of warehouse `warehouse`, named `<warehouse>-subnets`: not the cluster's
/// own name, since plans tell resources apart by their AWS names.
pub fn id(warehouse: &str) -> ResourceId {
    ResourceId::new(KIND, name(warehouse))
}

/// The AWS name of warehouse `warehouse`'s subnet group.
pub fn name(warehouse: &str) -> String {
    format!("{warehouse}-subnets")
}

/// The subnets of the spec the group holds.
#[derive(Debug, Clone)]
pub struct SubnetGroupConfig {
    pub subnets: Vec<String>,
}

impl DesiredConfig for SubnetGroupConfig {
    fn attributes(&self) -> Attributes {
        let mut subnets = self.subnets.clone();
        subnets.sort();
        Attributes::from([("subnets".to_string(), json!(subnets))])
    }
}

/// The subnet group's node for `warehouse`, depending on its subnets.
pub fn node(graph: &GraphContext, warehouse: &crate::spec::Warehouse) -> DesiredResource {
    let depends_on = warehouse.subnets.iter().map(|subnet| super::super::subnet::id(subnet)).collect();
    let config = SubnetGroupConfig { subnets: warehouse.subnets.clone() };
    graph.node(id(&warehouse.name), &warehouse.tags, depends_on, config)
}

#[derive(Debug, Clone)]
pub struct Live {
    /// The subnet ids, as AWS lists them.
    pub subnet_ids: Vec<String>,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let mut subnets: Vec<String> = self.subnet_ids.iter().map(|subnet| names.name(subnet)).collect();
        subnets.sort();
        let depends_on = self.subnet_ids.iter().filter_map(|subnet| names.id(subnet).cloned()).collect();
        (Attributes::from([("subnets".to_string(), json!(subnets))]), depends_on)
    }
}

impl KindRules for WarehouseSubnetGroup {
    fn name(&self) -> &'static str {
        "warehouse_subnet_group"
    }
    fn rank(&self) -> u8 {
        78
    }
    fn lives_in(&self, container: Kind) -> bool {
        container == super::super::vpc::KIND
    }
}

impl ResourceKind for WarehouseSubnetGroup {
    type Desired = SubnetGroupConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    /// The warehouses derive their groups (`node`).
    fn desired(&self, _graph: &GraphContext) -> Vec<DesiredResource> {
        Vec::new()
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        let redshift = &read.clients.redshift;
        let groups = read.shared("warehouse_subnet_groups", describe_all(redshift)).await?;
        let groups = &groups;
        let find = |name: &str| groups.iter().find(|group| group.cluster_subnet_group_name() == Some(name)).cloned();
        read.named(KIND, " (aws redshift create-tags)")
            .read(
                async move {
                    Ok(groups
                        .iter()
                        .filter_map(|group| group.cluster_subnet_group_name().map(str::to_string))
                        .collect())
                },
                |name| async move {
                    Ok(find(&name).map_or(Ownership::Absent, |group| Ownership::Tagged(redshift_tags(group.tags()))))
                },
                |name, _| async move {
                    Ok(find(&name).map(|group| Live {
                        subnet_ids: group
                            .subnets()
                            .iter()
                            .filter_map(|subnet| subnet.subnet_identifier().map(str::to_string))
                            .collect(),
                    }))
                },
            )
            .await
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &SubnetGroupConfig,
    ) -> Result<String, AwsError> {
        let id = &resource.id;
        let tags = redshift_tag_list(&resource.tags);
        ctx.clients
            .redshift
            .create_cluster_subnet_group()
            .cluster_subnet_group_name(&id.name)
            .description(format!("pipectl: warehouse {} of pipeline {}", id.name, ctx.pipeline))
            .set_subnet_ids(Some(subnet_ids(ctx, desired)?))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|error| aws_error(id, "CreateClusterSubnetGroup", error))?;
        Ok(id.name.clone())
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &SubnetGroupConfig,
        live: &LiveResource,
        _detail: &Live,
    ) -> Result<(), AwsError> {
        let id = &resource.id;
        if live.attributes.get("subnets") != desired.attributes().get("subnets") {
            ctx.clients
                .redshift
                .modify_cluster_subnet_group()
                .cluster_subnet_group_name(&id.name)
                .set_subnet_ids(Some(subnet_ids(ctx, desired)?))
                .send()
                .await
                .map_err(|error| aws_error(id, "ModifyClusterSubnetGroup", error))?;
        }
        let arn = redshift_arn(&ctx.arns, "subnetgroup", &id.name);
        retag_redshift(&ctx.clients.redshift, id, &arn, &live.tags, &resource.tags).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        let request = ctx.clients.redshift.delete_cluster_subnet_group().cluster_subnet_group_name(&live.physical_id);
        request.send().await.map(drop).map_err(|error| aws_error(&live.id, "DeleteClusterSubnetGroup", error))
    }

    /// DescribeClusterSubnetGroups has no resource-level permission (Service Authorization
    /// Reference, Amazon Redshift); the rest is on the spec's warehouses' groups, created with
    /// the pipeline's tag and changed where they carry it; a group the spec dropped is deleted
    /// by that tag alone.
    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let any = vec![redshift_arn(&ctx.arns, "subnetgroup", "*")];
        let delete = ["redshift:DeleteClusterSubnetGroup"];
        let mut grants = vec![
            Grant::unscoped_reads(&["redshift:DescribeClusterSubnetGroups"]),
            Grant::new("DeleteOwnWarehouseSubnetGroups", Scope::Destroy, &delete, any).when(ctx.tagged()),
        ];
        let groups: Vec<String> = ctx
            .spec
            .warehouses
            .iter()
            .map(|warehouse| redshift_arn(&ctx.arns, "subnetgroup", &name(&warehouse.name)))
            .collect();
        if groups.is_empty() {
            return grants;
        }
        let create = ["redshift:CreateClusterSubnetGroup", "redshift:CreateTags"];
        let change = ["redshift:ModifyClusterSubnetGroup", "redshift:CreateTags", "redshift:DeleteTags"];
        grants.extend([
            Grant::new("CreateWarehouseSubnetGroups", Scope::Apply, &create, groups.clone()).when(ctx.tagging()),
            Grant::new("ChangeOwnWarehouseSubnetGroups", Scope::Apply, &change, groups).when(ctx.tagged()),
        ]);
        grants
    }
}

fn subnet_ids(ctx: &Context, desired: &SubnetGroupConfig) -> Result<Vec<String>, AwsError> {
    desired.subnets.iter().map(|subnet| ctx.physical_id(&super::super::subnet::id(subnet))).collect()
}

/// Every cluster subnet group of the account and region (100 a page).
async fn describe_all(redshift: &aws_sdk_redshift::Client) -> Result<Vec<ClusterSubnetGroup>, AwsError> {
    super::super::kit::all_pages(|marker| async move {
        let page = redshift.describe_cluster_subnet_groups().max_records(100).set_marker(marker).send().await;
        let page = page.map_err(|error| aws_error("warehouse_subnet_group", "DescribeClusterSubnetGroups", error))?;
        Ok((page.cluster_subnet_groups().to_vec(), page.marker().map(str::to_string)))
    })
    .await
}

//! Warehouses: Amazon Redshift provisioned clusters that deliveries load into, with what each
//! derives — its cluster subnet group (`subnet_group`), the Secrets Manager secret of its admin
//! credentials (`resources::secret`, generated, never in the spec) and its alarms — and the
//! tables deliveries load into, created through the Redshift Data API (`table`).
//!
//! The cluster is created encrypted ("If you set the value on this parameter to false, the
//! request will fail", CreateCluster `Encrypted`) with the admin password read from its secret,
//! and waited for until `available`. Node type and count change in place (ModifyCluster: an
//! elastic resize, the cluster read-only meanwhile), as do its security groups and public
//! access; the database, admin user, subnet group and key replace it, which deletes every table
//! in it: the plan marks that, and a delete, as data loss that needs `--allow-destroy`. A delete
//! takes no final snapshot (`SkipFinalClusterSnapshot`) and waits until the cluster is gone, so
//! that its subnet group and security groups can go after it.

mod subnet_group;
pub mod table;

pub use subnet_group::WarehouseSubnetGroup;

use aws_sdk_redshift::types::{Cluster, Tag};
use serde_json::json;

use super::kit::wait::{wait_until, Poll};
use super::kit::{
    aws_error, AwsError, Clients, Context, Fact, Grant, GrantContext, Health, LiveResource, Metric, NamedRead, Output,
    Ownership, ReadContext, ResourceKind, Scope, Statistic, Tags,
};
use crate::iam::Arns;
use crate::model::{
    Action, Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::names::warehouse_secret_name;
use crate::pricing::{self, CostLine, Prices};
use crate::spec;

pub struct Warehouse;
pub const KIND: Kind = Kind::of(&Warehouse);

/// A warehouse is named in the spec by its cluster identifier.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// `arn:<partition>:redshift:<region>:<account>:<type>:<name>`, as Redshift's tagging calls and
/// IAM name clusters (`cluster`) and subnet groups (`subnetgroup`).
pub fn redshift_arn(arns: &Arns, resource_type: &str, name: &str) -> String {
    format!("arn:{}:redshift:{}:{}:{resource_type}:{name}", arns.partition, arns.region, arns.account_id)
}

/// What a warehouse is built from: the spec's warehouse and its secret's name.
#[derive(Debug, Clone)]
pub struct WarehouseConfig {
    pub warehouse: spec::Warehouse,
    pub secret: String,
}

impl DesiredConfig for WarehouseConfig {
    fn attributes(&self) -> Attributes {
        let warehouse = &self.warehouse;
        let mut groups = warehouse.security_groups.clone();
        groups.sort();
        Attributes::from([
            ("node_type".to_string(), json!(warehouse.node_type)),
            ("nodes".to_string(), json!(warehouse.nodes)),
            ("database".to_string(), json!(warehouse.database)),
            ("admin_user".to_string(), json!(warehouse.admin_user)),
            ("subnet_group".to_string(), json!(subnet_group::name(&warehouse.name))),
            ("security_groups".to_string(), json!(groups)),
            ("publicly_accessible".to_string(), json!(warehouse.publicly_accessible)),
            ("kms_key".to_string(), json!(warehouse.kms_key)),
        ])
    }
}

/// What DescribeClusters says of a cluster.
#[derive(Debug, Clone)]
pub struct Live {
    pub node_type: String,
    pub nodes: i64,
    pub database: String,
    pub admin_user: String,
    pub subnet_group: String,
    pub security_group_ids: Vec<String>,
    pub publicly_accessible: bool,
    pub kms_key: Option<String>,
    /// `available`, `creating`, `resizing`, …
    pub status: String,
    pub endpoint: Option<(String, i32)>,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let mut groups: Vec<String> = self.security_group_ids.iter().map(|group| names.name(group)).collect();
        groups.sort();
        let attributes = Attributes::from([
            ("node_type".to_string(), json!(self.node_type)),
            ("nodes".to_string(), json!(self.nodes)),
            ("database".to_string(), json!(self.database)),
            ("admin_user".to_string(), json!(self.admin_user)),
            ("subnet_group".to_string(), json!(self.subnet_group)),
            ("security_groups".to_string(), json!(groups)),
            ("publicly_accessible".to_string(), json!(self.publicly_accessible)),
            ("kms_key".to_string(), json!(self.kms_key)),
        ]);
        let depends_on = self
            .security_group_ids
            .iter()
            .chain([&self.subnet_group])
            .filter_map(|physical| names.id(physical).cloned())
            .collect();
        (attributes, depends_on)
    }

    fn holds_data(&self) -> Option<String> {
        Some("every table in the warehouse and its rows are deleted (no final snapshot is kept)".to_string())
    }
}

impl KindRules for Warehouse {
    fn name(&self) -> &'static str {
        "warehouse"
    }
    fn rank(&self) -> u8 {
        79
    }
    /// ModifyCluster cannot change the database, the admin user or the subnet group (Amazon
    /// Redshift API Reference, ModifyCluster); pipectl replaces a cluster for a new key too.
    fn forces_replacement(&self, field: &str) -> bool {
        ["database", "admin_user", "subnet_group", "kms_key"].contains(&field)
    }
    fn lives_in(&self, container: Kind) -> bool {
        container == super::vpc::KIND
    }
    /// Without `kms_key`, AWS encrypts with a key of its choice and may report it: that key is
    /// the spec's wish, not a change (and never a replacement).
    fn adjust_desired(&self, live: &LiveResource, desired: &mut Attributes, _reset_scale: bool) -> Vec<String> {
        if desired.get("kms_key").is_some_and(serde_json::Value::is_null) {
            if let Some(key) = live.attributes.get("kms_key") {
                desired.insert("kms_key".to_string(), key.clone());
            }
        }
        Vec::new()
    }
    fn change_notes(&self, action: Action, before: Option<&Attributes>, after: Option<&Attributes>) -> Vec<String> {
        let resized = |field: &str| before.and_then(|b| b.get(field)) != after.and_then(|a| a.get(field));
        match action {
            Action::Update if resized("node_type") || resized("nodes") => vec![
                "an elastic resize: the cluster is read-only for minutes while Redshift moves its data, and Firehose retries its loads meanwhile".to_string(),
            ],
            Action::Replace => vec![
                "Redshift cannot change a cluster's database, admin user, subnet group or key in place: the cluster is deleted with its tables and created again, empty".to_string(),
            ],
            _ => Vec::new(),
        }
    }
}

impl ResourceKind for Warehouse {
    type Desired = WarehouseConfig;
    type Live = Live;
    const KIND: Kind = KIND;
    const ADOPTABLE: bool = true;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let spec = graph.spec;
        let mut nodes = Vec::new();
        for warehouse in &spec.warehouses {
            let secret = warehouse_secret_name(&spec.pipeline, &warehouse.name);
            let secret_config = super::secret::SecretConfig {
                username: warehouse.admin_user.clone(),
                description: format!("pipectl: admin credentials of warehouse {}", warehouse.name),
            };
            nodes.push(super::secret::node(graph, &secret, secret_config, &warehouse.tags));
            nodes.push(subnet_group::node(graph, warehouse));
            let mut depends_on = vec![super::secret::id(&secret), subnet_group::id(&warehouse.name)];
            depends_on.extend(warehouse.security_groups.iter().map(|group| super::security_group::id(group)));
            let id = id(&warehouse.name);
            let config = WarehouseConfig { warehouse: warehouse.clone(), secret };
            nodes.push(graph.node(id.clone(), &warehouse.tags, depends_on, config));
            if spec::enabled_alarms(spec).is_some() {
                let alarms = spec::warehouse_alarms(warehouse);
                nodes.extend(super::alarm::nodes(graph, alarms, &id, &warehouse.name, &warehouse.name));
            }
        }
        nodes
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        let redshift = &read.clients.redshift;
        let clusters = read.shared("warehouses", describe_all(redshift)).await?;
        let clusters = &clusters;
        let find = |name: &str| clusters.iter().find(|cluster| cluster.cluster_identifier() == Some(name)).cloned();
        read.named(KIND, " (aws redshift create-tags)")
            .read(
                async move { Ok(clusters.iter().filter_map(|c| c.cluster_identifier().map(str::to_string)).collect()) },
                |name| async move {
                    Ok(find(&name)
                        .map_or(Ownership::Absent, |cluster| Ownership::Tagged(redshift_tags(cluster.tags()))))
                },
                |name, _| async move { Ok(find(&name).map(|cluster| live_of(&cluster))) },
            )
            .await
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &WarehouseConfig,
    ) -> Result<String, AwsError> {
        create(ctx, resource, desired).await
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &WarehouseConfig,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        update(ctx, resource, desired, live, detail).await
    }

    /// Redshift refuses to delete a cluster that is being created or changed
    /// (`InvalidClusterStateFault`, DeleteCluster): an apply interrupted during a create or a
    /// resize leaves one, which a destroy then waits for first.
    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        let (redshift, id) = (&ctx.clients.redshift, &live.id);
        wait_until(id, "ready to delete", ctx.wait, &ctx.progress, || async {
            Ok(match describe(redshift, id, &live.physical_id).await?.as_ref().and_then(Cluster::cluster_status) {
                Some(busy @ ("creating" | "modifying" | "resizing" | "rebooting" | "renaming")) => {
                    Poll::Pending(busy.to_string())
                }
                _ => Poll::Ready,
            })
        })
        .await?;
        let request = redshift.delete_cluster().cluster_identifier(&live.physical_id).skip_final_cluster_snapshot(true);
        request.send().await.map_err(|error| aws_error(id, "DeleteCluster", error))?;
        wait_until(id, "deleted", ctx.wait, &ctx.progress, || async {
            Ok(match describe(redshift, id, &live.physical_id).await? {
                None => Poll::Ready,
                Some(cluster) => Poll::Pending(cluster.cluster_status().unwrap_or("deleting").to_string()),
            })
        })
        .await
    }

    /// CreateTags adds or replaces the given tags only.
    async fn adopt(
        &self,
        clients: &Clients,
        live: &LiveResource,
        _detail: &Live,
        ownership: &Tags,
    ) -> Result<(), AwsError> {
        let account = super::kit::account_id(clients).await?;
        let arn = redshift_arn(&Arns::new(&account, &clients.region), "cluster", &live.physical_id);
        let tags = redshift_tag_list(ownership);
        let request = clients.redshift.create_tags().resource_name(arn).set_tags(Some(tags));
        request.send().await.map(drop).map_err(|error| aws_error(&live.id, "CreateTags", error))
    }

    /// Per node-hour of its type, where the price table has one; Redshift Managed Storage is
    /// billed apart, per GB-month of what it holds.
    fn cost(&self, resource: &DesiredResource, desired: &WarehouseConfig, prices: &Prices) -> Vec<CostLine> {
        let warehouse = &desired.warehouse;
        let figure = prices.figure(&format!("redshift_node_{}", warehouse.node_type));
        let item = format!("{} × Redshift {} (on demand)", warehouse.nodes, warehouse.node_type);
        vec![pricing::fixed(&resource.id.to_string(), item, warehouse.nodes, figure)]
    }

    fn outputs(&self, live: &LiveResource, detail: &Live, _arns: &Arns) -> Vec<Output> {
        let mut outputs = vec![Output::new("cluster", &live.physical_id)];
        if let Some((address, port)) = &detail.endpoint {
            outputs.push(Output::new("endpoint", format!("{address}:{port}")));
            outputs.push(Output::new("jdbc_url", jdbc_url(address, *port, &detail.database)));
        }
        outputs.push(Output::new("database", &detail.database));
        outputs.push(Output::new("admin_secret", warehouse_secret_name_of(live)));
        outputs
    }

    /// From CloudWatch: Redshift's health (1 when it can run queries) and the share of its disk
    /// in use; a cluster that is not `available` is named as such.
    fn health(&self, live: &LiveResource, detail: &Live) -> Option<Health> {
        Some(Health {
            facts: vec![Fact::new("status", &detail.status), Fact::new("nodes", detail.nodes.to_string())],
            metrics: Metric::of(
                "AWS/Redshift",
                ("ClusterIdentifier", &live.physical_id),
                &[
                    ("health min (1 = healthy)", "HealthStatus", Statistic::Minimum),
                    ("disk used max (%)", "PercentageDiskSpaceUsed", Statistic::Maximum),
                ],
            ),
            problems: (detail.status != "available")
                .then(|| format!("the cluster is {}", detail.status))
                .into_iter()
                .collect(),
        })
    }

    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        grants(ctx)
    }
}

/// The secret a live warehouse's credentials are in: its name, as pipectl derives it from the
/// pipeline the cluster is tagged with.
fn warehouse_secret_name_of(live: &LiveResource) -> String {
    let pipeline = live.tags.get(crate::names::PIPELINE_TAG).cloned().unwrap_or_default();
    warehouse_secret_name(&pipeline, &live.physical_id)
}

/// `jdbc:redshift://<address>:<port>/<database>`, as Firehose's `ClusterJDBCURL` takes it.
pub fn jdbc_url(address: &str, port: i32, database: &str) -> String {
    format!("jdbc:redshift://{address}:{port}/{database}")
}

/// A map of tags as Redshift takes them.
pub(super) fn redshift_tag_list(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
}

/// Redshift's tags as a map.
pub(super) fn redshift_tags(tags: &[Tag]) -> Tags {
    tags.iter()
        .map(|tag| (tag.key().unwrap_or_default().to_string(), tag.value().unwrap_or_default().to_string()))
        .collect()
}

/// Brings the tags of the Redshift resource `arn` to `desired` (DeleteTags, CreateTags).
pub(super) async fn retag_redshift(
    redshift: &aws_sdk_redshift::Client,
    id: &ResourceId,
    arn: &str,
    live: &Tags,
    desired: &Tags,
) -> Result<(), AwsError> {
    let untag = |stale: Vec<String>| async move {
        let request = redshift.delete_tags().resource_name(arn).set_tag_keys(Some(stale));
        request.send().await.map(drop).map_err(|error| aws_error(id, "DeleteTags", error))
    };
    let tag = |changed: Tags| async move {
        let tags = redshift_tag_list(&changed);
        let request = redshift.create_tags().resource_name(arn).set_tags(Some(tags));
        request.send().await.map(drop).map_err(|error| aws_error(id, "CreateTags", error))
    };
    super::kit::retag::retag(live, desired, untag, tag).await
}

fn live_of(cluster: &Cluster) -> Live {
    Live {
        node_type: cluster.node_type().unwrap_or_default().to_string(),
        nodes: i64::from(cluster.number_of_nodes().unwrap_or(1)),
        database: cluster.db_name().unwrap_or_default().to_string(),
        admin_user: cluster.master_username().unwrap_or_default().to_string(),
        subnet_group: cluster.cluster_subnet_group_name().unwrap_or_default().to_string(),
        security_group_ids: cluster
            .vpc_security_groups()
            .iter()
            .filter_map(|group| group.vpc_security_group_id().map(str::to_string))
            .collect(),
        publicly_accessible: cluster.publicly_accessible().unwrap_or(false),
        kms_key: cluster.kms_key_id().filter(|key| !key.is_empty()).map(str::to_string),
        status: cluster.cluster_status().unwrap_or_default().to_string(),
        endpoint: cluster
            .endpoint()
            .and_then(|endpoint| Some((endpoint.address()?.to_string(), endpoint.port().unwrap_or(5439)))),
    }
}

/// The cluster `name`, or None when there is none.
pub async fn describe(
    redshift: &aws_sdk_redshift::Client,
    id: &ResourceId,
    name: &str,
) -> Result<Option<Cluster>, AwsError> {
    match redshift.describe_clusters().cluster_identifier(name).send().await {
        Ok(output) => Ok(output.clusters().first().cloned()),
        Err(error) => aws_error(id, "DescribeClusters", error).unless_not_found(None),
    }
}

/// The endpoint of live warehouse `name` (address and port), for a delivery's JDBC URL.
pub async fn endpoint(clients: &Clients, name: &str) -> Result<(String, i32), AwsError> {
    let id = id(name);
    let cluster = describe(&clients.redshift, &id, name).await?;
    cluster
        .as_ref()
        .map(live_of)
        .and_then(|live| live.endpoint)
        .ok_or_else(|| AwsError::new(&id, "DescribeClusters", "the cluster has no endpoint yet"))
}

/// Every cluster of the account and region (100 a page).
async fn describe_all(redshift: &aws_sdk_redshift::Client) -> Result<Vec<Cluster>, AwsError> {
    super::kit::all_pages(|marker| async move {
        let page = redshift.describe_clusters().max_records(100).set_marker(marker).send().await;
        let page = page.map_err(|error| aws_error("warehouse", "DescribeClusters", error))?;
        Ok((page.clusters().to_vec(), page.marker().map(str::to_string)))
    })
    .await
}

/// The ids of the warehouse's security groups, which exist by now (the cluster depends on them).
fn group_ids(ctx: &Context, warehouse: &spec::Warehouse) -> Result<Vec<String>, AwsError> {
    warehouse.security_groups.iter().map(|group| ctx.physical_id(&super::security_group::id(group))).collect()
}

fn cluster_type(nodes: i64) -> &'static str {
    if nodes > 1 {
        "multi-node"
    } else {
        "single-node"
    }
}

async fn create(ctx: &Context, resource: &DesiredResource, desired: &WarehouseConfig) -> Result<String, AwsError> {
    let (redshift, id, warehouse) = (&ctx.clients.redshift, &resource.id, &desired.warehouse);
    let mut credentials = super::secret::credentials(&ctx.clients, &desired.secret).await?;
    if credentials.username != warehouse.admin_user {
        credentials = super::secret::rewrite(&ctx.clients, &desired.secret, &warehouse.admin_user).await?;
    }
    let groups = group_ids(ctx, warehouse)?;
    let tags = redshift_tag_list(&resource.tags);
    let created = redshift
        .create_cluster()
        .cluster_identifier(&warehouse.name)
        .node_type(&warehouse.node_type)
        .cluster_type(cluster_type(warehouse.nodes))
        .set_number_of_nodes((warehouse.nodes > 1).then(|| i32::try_from(warehouse.nodes).unwrap_or(2)))
        .db_name(&warehouse.database)
        .master_username(&credentials.username)
        .master_user_password(&credentials.password)
        .cluster_subnet_group_name(ctx.physical_id(&subnet_group::id(&warehouse.name))?)
        .set_vpc_security_group_ids(Some(groups))
        .publicly_accessible(warehouse.publicly_accessible)
        .encrypted(true)
        .set_kms_key_id(warehouse.kms_key.clone())
        .set_tags(Some(tags))
        .send()
        .await;
    match created {
        Ok(_) => {}
        // A re-run after an interrupted apply finds its own cluster (tagged at creation).
        Err(error) if error.as_service_error().is_some_and(|e| e.is_cluster_already_exists_fault()) => {
            let found = describe(redshift, id, &warehouse.name).await?;
            let found = found.map_or(Ownership::Absent, |cluster| Ownership::Tagged(redshift_tags(cluster.tags())));
            ctx.claim_existing(id, "CreateCluster", found, " (aws redshift create-tags)").await?;
        }
        Err(error) => return Err(aws_error(id, "CreateCluster", error)),
    }
    wait_available(ctx, id, &warehouse.name).await?;
    Ok(warehouse.name.clone())
}

/// Waits until the cluster is `available` (creating and resizing take minutes).
async fn wait_available(ctx: &Context, id: &ResourceId, name: &str) -> Result<(), AwsError> {
    let redshift = &ctx.clients.redshift;
    wait_until(id, "available", ctx.wait, &ctx.progress, || async {
        Ok(match describe(redshift, id, name).await?.as_ref().and_then(Cluster::cluster_status) {
            Some("available") => Poll::Ready,
            Some(
                failed @ ("incompatible-hsm" | "incompatible-network" | "incompatible-parameters" | "hardware-failure"),
            ) => Poll::Failed(format!("the cluster is {failed}")),
            Some(status) => Poll::Pending(status.to_string()),
            None => Poll::Pending("not visible yet".to_string()),
        })
    })
    .await
}

async fn update(
    ctx: &Context,
    resource: &DesiredResource,
    desired: &WarehouseConfig,
    live: &LiveResource,
    detail: &Live,
) -> Result<(), AwsError> {
    let (redshift, id, warehouse) = (&ctx.clients.redshift, &resource.id, &desired.warehouse);
    let wanted = desired.attributes();
    let changed = |field: &str| wanted.get(field) != live.attributes.get(field);
    if changed("node_type") || changed("nodes") {
        // A resize names the type and the count together (ModifyCluster: "If you change the
        // number of nodes, you must also specify the node type").
        redshift
            .modify_cluster()
            .cluster_identifier(&live.physical_id)
            .cluster_type(cluster_type(warehouse.nodes))
            .node_type(&warehouse.node_type)
            .number_of_nodes(i32::try_from(warehouse.nodes).unwrap_or(1))
            .send()
            .await
            .map_err(|error| aws_error(id, "ModifyCluster", error))?;
        wait_available(ctx, id, &live.physical_id).await?;
    }
    if changed("security_groups") || detail.publicly_accessible != warehouse.publicly_accessible {
        let groups = group_ids(ctx, warehouse)?;
        redshift
            .modify_cluster()
            .cluster_identifier(&live.physical_id)
            .set_vpc_security_group_ids(Some(groups))
            .publicly_accessible(warehouse.publicly_accessible)
            .send()
            .await
            .map_err(|error| aws_error(id, "ModifyCluster", error))?;
        wait_available(ctx, id, &live.physical_id).await?;
    }
    let arn = redshift_arn(&ctx.arns, "cluster", &live.physical_id);
    retag_redshift(redshift, id, &arn, &live.tags, &resource.tags).await
}

/// DescribeClusters has no resource-level permission; the rest is on the spec's clusters,
/// created with the pipeline's tag and changed or deleted where they carry it (Service
/// Authorization Reference, Amazon Redshift: `cluster` takes `aws:ResourceTag`, CreateCluster
/// `aws:RequestTag`); a cluster the spec dropped is read and deleted by that tag alone. Redshift
/// creates its service-linked role with the first cluster of an account, which the caller must
/// be allowed to create ("Using service-linked roles for Amazon Redshift"); the Data API's
/// statements are on the clusters too, and reading a statement has no resource, so it is
/// limited to the caller's own.
fn grants(ctx: &GrantContext) -> Vec<Grant> {
    let mut grants = vec![
        Grant::unscoped_reads(&["redshift:DescribeClusters"]),
        Grant::new(
            "DeleteOwnWarehouses",
            Scope::Destroy,
            &["redshift:DeleteCluster"],
            vec![redshift_arn(&ctx.arns, "cluster", "*")],
        )
        .when(ctx.tagged()),
    ];
    let clusters: Vec<String> =
        ctx.spec.warehouses.iter().map(|warehouse| redshift_arn(&ctx.arns, "cluster", &warehouse.name)).collect();
    if clusters.is_empty() {
        return grants;
    }
    let create = ["redshift:CreateCluster", "redshift:CreateTags"];
    let change = ["redshift:ModifyCluster", "redshift:CreateTags", "redshift:DeleteTags"];
    let own_statements = json!({"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}});
    let linked_role = ctx.arns.role("/aws-service-role/redshift.amazonaws.com/", "AWSServiceRoleForRedshift");
    grants.extend([
        Grant::new("CreateWarehouses", Scope::Apply, &create, clusters.clone()).when(ctx.tagging()),
        Grant::new("ChangeOwnWarehouses", Scope::Apply, &change, clusters.clone()).when(ctx.tagged()),
        Grant::new("CreateWarehouseTables", Scope::Apply, &["redshift-data:ExecuteStatement"], clusters)
            .when(ctx.tagged()),
        Grant::new("FollowOwnStatements", Scope::Apply, &["redshift-data:DescribeStatement"], vec!["*".to_string()])
            .when(own_statements),
        Grant::new("CreateRedshiftsLinkedRole", Scope::Apply, &["iam:CreateServiceLinkedRole"], vec![linked_role])
            .when(json!({"StringEquals": {"iam:AWSServiceName": "redshift.amazonaws.com"}})),
    ]);
    grants
}

#[cfg(test)]
mod tests;

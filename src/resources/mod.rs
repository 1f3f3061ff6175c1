//! The registry of resource kinds: one module per kind (a folder where it is big), what they
//! share in `kit`, and `KINDS`, the list every function here dispatches over: the desired graph,
//! the live read, create, update and delete, costs, the deployer's grants, adoption.
//!
//! A kind module owns everything about its kind: the desired state it builds from the validated
//! spec (and every node it derives), how it reads live state and describes it as attributes,
//! which fields force replacement and what a deletion destroys (its `KindRules`), and its
//! create, update, delete, grants and prices (its `ResourceKind`). Dynamic dispatch (a trait
//! object per kind) rather than an enum keeps a new kind to its module and one line in `KINDS`;
//! a `match` over kinds would need an arm in every function below. The few kinds commands use
//! by name (`scale` the cluster and its schedules, `run` the job, `verify` the stream, the
//! delivery and the bucket) are `pub` for them.

mod alarm;
mod api_domain;
#[cfg(test)]
mod binding_tests;
pub mod bucket;
mod catalog_database;
mod catalog_table;
pub mod cluster;
#[cfg(test)]
mod cost_tests;
mod crawler;
pub mod delivery;
#[cfg(test)]
mod grants_tests;
pub mod ingest_api;
mod internet_gateway;
pub mod job;
pub mod kit;
mod log_group;
mod nat_gateway;
#[cfg(test)]
mod plan_tests;
pub mod queue;
#[cfg(test)]
mod read_tests;
mod role;
mod route_table;
pub mod schedule;
mod secret;
mod security_configuration;
mod security_group;
pub mod stream;
mod subnet;
#[cfg(test)]
pub mod test_support;
mod topic;
mod vpc;
mod vpc_endpoint;
pub mod warehouse;
mod workgroup;

use chrono::{DateTime, Utc};

use crate::aws::lock;
use crate::iam::Arns;
use crate::model::{Action, Binding, DesiredResource, GraphContext, Kind, LiveState, ResourceId, ACCOUNT_PLACEHOLDER};
use crate::plan::Plan;
use crate::pricing::{CostLine, DeltaLine, Estimate, PriceTable};
use crate::spec::Spec;
use kit::{
    AwsError, Clients, Context, DynKind, Grant, GrantContext, Health, LiveResource, Output, ReadContext, Scope, Tags,
    Warnings,
};

/// Every kind pipectl manages, in the order the desired graph lists their nodes.
pub const KINDS: &[&dyn DynKind] = &[
    &vpc::Vpc,
    &subnet::Subnet,
    &internet_gateway::InternetGateway,
    &route_table::RouteTable,
    &nat_gateway::NatGateway,
    &security_group::SecurityGroup,
    &vpc_endpoint::VpcEndpoint,
    &bucket::Bucket,
    &stream::Stream,
    &role::Role,
    &log_group::LogGroup,
    &ingest_api::IngestApi,
    &api_domain::ApiDomain,
    &secret::Secret,
    &warehouse::WarehouseSubnetGroup,
    &warehouse::Warehouse,
    &delivery::Delivery,
    &security_configuration::SecurityConfiguration,
    &cluster::Cluster,
    &queue::Queue,
    &schedule::Schedule,
    &catalog_database::CatalogDatabase,
    &catalog_table::CatalogTable,
    &crawler::Crawler,
    &workgroup::Workgroup,
    &job::Job,
    &topic::Topic,
    &alarm::Alarm,
];

/// Every registered kind.
pub fn kinds() -> Vec<Kind> {
    KINDS.iter().map(|kind| kind.kind()).collect()
}

/// The registered kind named `name` (as in a `pipectl:resource` tag).
pub fn kind_named(name: &str) -> Option<Kind> {
    KINDS.iter().map(|kind| kind.kind()).find(|kind| kind.as_str() == name)
}

/// What the resources `plan` creates cost in `region`, each priced by its kind, and what its
/// changes in place do to the cost of what exists (a reshard, a resized group, a new mode).
pub fn estimate(table: &PriceTable, region: &str, plan: &Plan, desired: &[DesiredResource]) -> Estimate {
    let prices = table.prices(region);
    let node = |id: &ResourceId| desired.iter().find(|resource| &resource.id == id);
    let kind_of = |resource: &DesiredResource| registered(resource.id.kind).ok();
    let created = plan.changes.iter().filter(|change| change.action == Action::Create);
    let lines = created
        .filter_map(|change| node(&change.resource))
        .flat_map(|resource| kind_of(resource).map(|kind| kind.cost(resource, &prices)).unwrap_or_default());
    let lines: Vec<CostLine> = lines.collect();
    let changed = plan.changes.iter().filter(|change| matches!(change.action, Action::Update | Action::Replace));
    let changes = changed
        .filter_map(|change| {
            let resource = node(&change.resource)?;
            let (before, after) = kind_of(resource)?.cost_change(resource, &change.fields, &prices)?;
            DeltaLine::between(&resource.id.to_string(), before, after, table.hours_per_month)
        })
        .collect();
    Estimate::of(table, region, lines, changes)
}

/// Every IAM statement the deployer needs for the spec of `ctx`, which `iam::deployer::policy`
/// folds into `pipectl permissions`: the tag index's, the lock's, then every kind's in `KINDS`
/// order.
pub fn deployer_grants(ctx: &GrantContext) -> Vec<Grant> {
    let Arns { partition, account_id, region } = &ctx.arns;
    let table = lock::table_arn(partition, region, account_id);
    let mut grants = kit::tag_index::grants();
    grants.extend(kit::health::grants());
    // The prices of cluster nodes the table lacks (`pricing::live`), read by plan and scale.
    if !ctx.spec.clusters.is_empty() {
        grants.push(Grant::unscoped_reads(&[crate::pricing::live::ACTION]));
    }
    grants.push(Grant::new("HoldTheLock", Scope::Apply, lock::TABLE_ACTIONS, vec![table.clone()]));
    // Only the pipeline's own lease: its item's partition key is the pipeline's name.
    grants.push(
        Grant::new("HoldThePipelinesLease", Scope::Apply, lock::ITEM_ACTIONS, vec![table])
            .when(lock::item_condition(&ctx.spec.pipeline)),
    );
    grants.extend(KINDS.iter().flat_map(|kind| kind.grants(ctx)));
    grants
}

/// The entries of a journal a dead holder of the lock left (`kind/name`) that this run may
/// adopt: only those of kinds that journal their creates (`ResourceKind::JOURNALED`). An entry
/// naming any other kind, or nothing pipectl knows, is dropped: a forged journal cannot make a
/// run adopt an untagged role, queue or the like.
pub fn journal_entries(entries: &[String]) -> Vec<ResourceId> {
    entries
        .iter()
        .filter_map(|entry| parse_id(entry))
        .filter(|id| registered(id.kind).is_ok_and(|kind| kind.journaled()))
        .collect()
}

/// Parses `kind/name`, the value of a `pipectl:resource` tag.
pub fn parse_id(text: &str) -> Option<ResourceId> {
    let (kind, name) = text.split_once('/')?;
    Some(ResourceId::new(kind_named(kind)?, name))
}

fn registered(kind: Kind) -> Result<&'static dyn DynKind, AwsError> {
    KINDS
        .iter()
        .copied()
        .find(|registered| registered.kind() == kind)
        .ok_or_else(|| AwsError::new(kind.as_str(), "dispatch", "internal error: the kind is not registered"))
}

/// The desired graph of a validated spec in `region` at `now`, built once per command: its ARNs
/// carry `${pipectl:account}` and its references to other resources `${kind/name}` until `bind` fills
/// them in from what the live read found (see `model::Binding`).
pub fn desired_graph(spec: &Spec, region: &str, now: DateTime<Utc>) -> Vec<DesiredResource> {
    graph_in(spec, &Arns::new(ACCOUNT_PLACEHOLDER, region), now)
}

/// The desired graph with the account (and region) of `arns` written into it: what
/// `desired_graph` becomes once bound to that account, built directly.
///
/// A kind adds its own nodes and every node it derives (a job its role, schedules and alarms),
/// so one node may come from several kinds (the pipeline's dead-letter queue from every cluster
/// and job): it is kept once. Nodes are listed kind by kind, in the order of `KINDS`.
pub fn graph_in(spec: &Spec, arns: &Arns, now: DateTime<Utc>) -> Vec<DesiredResource> {
    let graph = GraphContext { spec, arns, now };
    let mut seen = std::collections::HashSet::new();
    let mut nodes: Vec<DesiredResource> =
        KINDS.iter().flat_map(|kind| kind.desired(&graph)).filter(|node| seen.insert(node.id.clone())).collect();
    let order = |node: &DesiredResource| KINDS.iter().position(|kind| kind.kind() == node.id.kind);
    nodes.sort_by_key(order);
    nodes
}

/// `desired` bound to the account and the resources the live read found.
pub fn bind(desired: &[DesiredResource], live: &LiveState) -> Vec<DesiredResource> {
    let binding = Binding::new(&live.account_id, &live.physical_ids());
    desired.iter().map(|resource| resource.bind(&binding)).collect()
}

/// Reads everything of this pipeline from AWS in one parallel round: every kind at once, and the
/// account id. `adoptable` names resources a crashed run of this pipeline was creating: found
/// without any pipectl tags, they are taken as the pipeline's instead of as conflicts.
pub async fn read_live(
    clients: &Clients,
    spec: &Spec,
    desired: &[DesiredResource],
    adoptable: &[ResourceId],
) -> Result<LiveState, AwsError> {
    let warnings = Warnings::default();
    let indexed: Vec<_> = KINDS.iter().filter_map(|kind| kind.indexed()).collect();
    let read = ReadContext::new(clients, &spec.pipeline, spec.iam_path(), desired, adoptable, &warnings)
        .with_tag_index(&indexed);
    let kinds = futures::future::try_join_all(KINDS.iter().map(|kind| kind.read(&read)));
    let (account_id, kinds) = tokio::try_join!(read.account_id(), kinds)?;
    let account_id = account_id.to_string();
    let mut state = LiveState { account_id, warnings: warnings.messages(), ..LiveState::default() };
    for kind in kinds {
        for resource in kind.found {
            if let Some(existing) = state.resources.get(&resource.id) {
                state.notices.push(format!(
                    "{} exists twice ({} and {}); pipectl manages {} and leaves the other alone: delete it by hand",
                    resource.id, existing.physical_id, resource.physical_id, existing.physical_id
                ));
                continue;
            }
            state.resources.insert(resource.id.clone(), resource);
        }
        state.conflicts.extend(kind.conflicts);
    }
    state.describe();
    Ok(state)
}

/// What producers, consumers and scripts need of `live` (its ARN, endpoint, ids), as its kind
/// declares it; `arns` are the account's and region's it was read in.
pub fn outputs(live: &LiveResource, arns: &Arns) -> Vec<Output> {
    registered(live.id.kind).map(|kind| kind.outputs(live, arns)).unwrap_or_default()
}

/// What `pipectl status` shows of `live`, as its kind declares it; `None` for kinds with no
/// health of their own.
pub fn health(live: &LiveResource) -> Option<Health> {
    registered(live.id.kind).ok()?.health(live)
}

/// The kinds `pipectl adopt` can tag: those read by name.
pub fn adoptable_kinds() -> Vec<Kind> {
    KINDS.iter().filter(|kind| kind.adoptable()).map(|kind| kind.kind()).collect()
}

/// Adds `ownership` (the pipeline's two tags) to `live`, keeping its other tags.
pub async fn adopt(clients: &Clients, live: &LiveResource, ownership: &Tags) -> Result<(), AwsError> {
    registered(live.id.kind)?.adopt(clients, live, ownership).await
}

/// Creates a resource and records its physical id for the resources that depend on it.
pub async fn create(ctx: &Context, resource: &DesiredResource) -> Result<(), AwsError> {
    let physical_id = registered(resource.id.kind)?.create(ctx, resource).await?;
    ctx.record(&resource.id, physical_id);
    Ok(())
}

/// Changes a live resource in place to match the spec.
pub async fn update(ctx: &Context, resource: &DesiredResource, live: &LiveResource) -> Result<(), AwsError> {
    registered(resource.id.kind)?.update(ctx, resource, live).await
}

/// Deletes a live resource; one that is already gone counts as deleted.
pub async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    match registered(live.id.kind)?.delete(ctx, live).await {
        Err(error) if error.is_not_found() => {}
        other => other?,
    }
    ctx.forget(&live.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_round_trip_through_tags() {
        let id = parse_id("security_group/emr-master").unwrap();
        assert_eq!(id.to_string(), "security_group/emr-master");
        assert_eq!((id.kind.as_str(), id.name.as_str()), ("security_group", "emr-master"));
        assert_eq!(parse_id("nonsense/x"), None);
    }

    #[test]
    fn every_kind_is_registered_once_with_its_own_name_and_rank() {
        let mut names: Vec<&str> = KINDS.iter().map(|kind| kind.kind().as_str()).collect();
        let mut ranks: Vec<u8> = KINDS.iter().map(|kind| kind.rank()).collect();
        names.sort_unstable();
        names.dedup();
        ranks.sort_unstable();
        ranks.dedup();
        assert_eq!((names.len(), ranks.len()), (KINDS.len(), KINDS.len()));
        assert!(KINDS.iter().all(|kind| kind_named(kind.name()) == Some(kind.kind())));
    }

    #[test]
    fn only_journaled_kinds_of_a_dead_holders_journal_are_adopted() {
        let entries =
            ["bucket/lake", "stream/events", "role/writer", "queue/dlq", "nonsense/x", "bucket"].map(str::to_string);
        let adopted: Vec<String> = journal_entries(&entries).iter().map(ToString::to_string).collect();
        assert_eq!(adopted, ["bucket/lake", "stream/events"]);
    }
}

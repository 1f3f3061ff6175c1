//! The interface every kind implements: `ResourceKind` as a kind's module writes it (with its own
//! desired-state and live-detail types), and `DynKind`, the same behind a trait object so that
//! one registry can hold every kind. The kind-specific types are recovered from the nodes here,
//! once, instead of in every kind.

use std::future::Future;

use futures::future::BoxFuture;

use super::context::{Context, ReadContext};
use super::health::{Health, Output};
use super::named::NamedRead;
use super::tag_index::Indexed;
use crate::aws::{AwsError, Clients};
use crate::iam::deployer::{Grant, GrantContext};
use crate::iam::Arns;
use crate::model::{DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, LiveResource, Tags};
use crate::plan::FieldChange;
use crate::pricing::{CostLine, Prices};

/// The effectful half of a kind, as its module writes it: building its desired nodes, reading
/// it, and changing it, with its own desired-state and live-detail types.
pub trait ResourceKind: KindRules {
    /// What the kind's desired nodes carry (built by `desired`).
    type Desired: DesiredConfig;
    /// What the kind's reads put in live resources.
    type Live: LiveDetail;
    /// The handle plans and ids carry for this kind.
    const KIND: Kind;
    /// How the tag index lists this kind, if it serves it (see `tag_index`).
    const INDEXED: Option<&'static Indexed> = None;
    /// The nodes this kind adds to the desired graph of a validated spec.
    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource>;
    /// Reads this kind's resources of the pipeline.
    fn read(&self, read: &ReadContext) -> impl Future<Output = Result<NamedRead, AwsError>> + Send;
    /// Creates the resource and returns its AWS id.
    fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &Self::Desired,
    ) -> impl Future<Output = Result<String, AwsError>> + Send;
    /// Changes the live resource in place to match the spec.
    fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &Self::Desired,
        live: &LiveResource,
        detail: &Self::Live,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Deletes the live resource (one already gone counts as deleted).
    fn delete(
        &self,
        ctx: &Context,
        live: &LiveResource,
        detail: &Self::Live,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// What creating `resource` costs, as lines of the price table (`prices` are its region's);
    /// none for what is free or has no list price.
    fn cost(&self, resource: &DesiredResource, desired: &Self::Desired, prices: &Prices) -> Vec<CostLine> {
        let _ = (resource, desired, prices);
        Vec::new()
    }
    /// What `resource` cost before a change in place of `fields` (the plan's, with their
    /// `before` values): its `cost` of the desired state as it was. `None` when no field that
    /// prices it changed (and for kinds whose price does not depend on a changeable field).
    fn cost_before(
        &self,
        resource: &DesiredResource,
        desired: &Self::Desired,
        fields: &[FieldChange],
        prices: &Prices,
    ) -> Option<Vec<CostLine>> {
        let _ = (resource, desired, fields, prices);
        None
    }
    /// Whether `pipectl adopt` can take an existing, untagged resource of this kind: only kinds
    /// read by name can (the others are found by the pipeline's tag alone).
    const ADOPTABLE: bool = false;
    /// Whether its create can leave the resource untagged for a moment, and so notes it in the
    /// lock's journal first (`Context::intend`). Only these kinds' entries of a journal a dead
    /// holder left are honoured: an entry naming any other kind adopts nothing.
    const JOURNALED: bool = false;
    /// Adds `ownership` (the pipeline's two tags) to `live` for `pipectl adopt`, keeping every
    /// other tag it has.
    fn adopt(
        &self,
        clients: &Clients,
        live: &LiveResource,
        detail: &Self::Live,
        ownership: &Tags,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        let _ = (clients, detail, ownership);
        async move { Err(AwsError::new(&live.id, "adopt", "internal error: not a kind pipectl adopt can tag")) }
    }
    /// The IAM statements the deployer needs for this kind's own calls (its reads, creates,
    /// changes and deletes, and passing the roles its resources run with), for `pipectl
    /// permissions`. Required: a new kind says what it needs.
    fn grants(&self, ctx: &GrantContext) -> Vec<Grant>;
    /// What producers, consumers and scripts need of a live resource of this kind (its ARN,
    /// endpoint, ids), as labelled values for `pipectl output`; by default its AWS id alone.
    /// `arns` are the account's and region's the resource was read in.
    fn outputs(&self, live: &LiveResource, detail: &Self::Live, arns: &Arns) -> Vec<Output> {
        let _ = (detail, arns);
        vec![Output::new("id", &live.physical_id)]
    }
    /// What `pipectl status` shows of a live resource of this kind: facts read with it, metrics
    /// to fetch, and whether it is unhealthy; none for kinds with no health of their own.
    fn health(&self, live: &LiveResource, detail: &Self::Live) -> Option<Health> {
        let _ = (live, detail);
        None
    }
}

/// `ResourceKind` as one registry of trait objects can hold it.
pub trait DynKind: KindRules {
    fn kind(&self) -> Kind;
    fn indexed(&self) -> Option<&'static Indexed>;
    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource>;
    fn read<'a>(&'a self, read: &'a ReadContext<'a>) -> BoxFuture<'a, Result<NamedRead, AwsError>>;
    fn create<'a>(&'a self, ctx: &'a Context, resource: &'a DesiredResource)
        -> BoxFuture<'a, Result<String, AwsError>>;
    fn update<'a>(
        &'a self,
        ctx: &'a Context,
        resource: &'a DesiredResource,
        live: &'a LiveResource,
    ) -> BoxFuture<'a, Result<(), AwsError>>;
    fn delete<'a>(&'a self, ctx: &'a Context, live: &'a LiveResource) -> BoxFuture<'a, Result<(), AwsError>>;
    fn cost(&self, resource: &DesiredResource, prices: &Prices) -> Vec<CostLine>;
    /// The lines before and after a change in place of `fields`, when it changes what it costs.
    fn cost_change(
        &self,
        resource: &DesiredResource,
        fields: &[FieldChange],
        prices: &Prices,
    ) -> Option<(Vec<CostLine>, Vec<CostLine>)>;
    fn adoptable(&self) -> bool;
    fn journaled(&self) -> bool;
    fn adopt<'a>(
        &'a self,
        clients: &'a Clients,
        live: &'a LiveResource,
        ownership: &'a Tags,
    ) -> BoxFuture<'a, Result<(), AwsError>>;
    fn grants(&self, ctx: &GrantContext) -> Vec<Grant>;
    fn outputs(&self, live: &LiveResource, arns: &Arns) -> Vec<Output>;
    fn health(&self, live: &LiveResource) -> Option<Health>;
}

impl<K: ResourceKind> DynKind for K {
    fn kind(&self) -> Kind {
        K::KIND
    }

    fn indexed(&self) -> Option<&'static Indexed> {
        K::INDEXED
    }

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        ResourceKind::desired(self, graph)
    }

    fn read<'a>(&'a self, read: &'a ReadContext<'a>) -> BoxFuture<'a, Result<NamedRead, AwsError>> {
        Box::pin(ResourceKind::read(self, read))
    }

    fn create<'a>(
        &'a self,
        ctx: &'a Context,
        resource: &'a DesiredResource,
    ) -> BoxFuture<'a, Result<String, AwsError>> {
        Box::pin(async move { ResourceKind::create(self, ctx, resource, desired_config(resource)?).await })
    }

    fn update<'a>(
        &'a self,
        ctx: &'a Context,
        resource: &'a DesiredResource,
        live: &'a LiveResource,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move {
            ResourceKind::update(self, ctx, resource, desired_config(resource)?, live, live_detail(live)?).await
        })
    }

    fn delete<'a>(&'a self, ctx: &'a Context, live: &'a LiveResource) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move { ResourceKind::delete(self, ctx, live, live_detail(live)?).await })
    }

    fn cost(&self, resource: &DesiredResource, prices: &Prices) -> Vec<CostLine> {
        resource
            .config::<K::Desired>()
            .map(|desired| ResourceKind::cost(self, resource, desired, prices))
            .unwrap_or_default()
    }

    fn cost_change(
        &self,
        resource: &DesiredResource,
        fields: &[FieldChange],
        prices: &Prices,
    ) -> Option<(Vec<CostLine>, Vec<CostLine>)> {
        let desired = resource.config::<K::Desired>()?;
        let before = ResourceKind::cost_before(self, resource, desired, fields, prices)?;
        Some((before, ResourceKind::cost(self, resource, desired, prices)))
    }

    fn journaled(&self) -> bool {
        K::JOURNALED
    }

    fn adoptable(&self) -> bool {
        K::ADOPTABLE
    }

    fn adopt<'a>(
        &'a self,
        clients: &'a Clients,
        live: &'a LiveResource,
        ownership: &'a Tags,
    ) -> BoxFuture<'a, Result<(), AwsError>> {
        Box::pin(async move { ResourceKind::adopt(self, clients, live, live_detail(live)?, ownership).await })
    }

    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        ResourceKind::grants(self, ctx)
    }

    fn outputs(&self, live: &LiveResource, arns: &Arns) -> Vec<Output> {
        live.detail::<K::Live>().map(|detail| ResourceKind::outputs(self, live, detail, arns)).unwrap_or_default()
    }

    fn health(&self, live: &LiveResource) -> Option<Health> {
        ResourceKind::health(self, live, live.detail::<K::Live>()?)
    }
}

/// The kind-specific desired state of `resource`, which its own kind module defined.
fn desired_config<T: DesiredConfig>(resource: &DesiredResource) -> Result<&T, AwsError> {
    resource
        .config::<T>()
        .ok_or_else(|| AwsError::new(&resource.id, "apply", "internal error: desired state of another kind"))
}

/// The kind-specific live detail of `live`, which its own kind module read.
fn live_detail<T: LiveDetail>(live: &LiveResource) -> Result<&T, AwsError> {
    live.detail::<T>().ok_or_else(|| AwsError::new(&live.id, "apply", "internal error: live detail of another kind"))
}

//! One module per resource kind: how to read it from AWS, describe it as comparable attributes,
//! and create, update and delete it. This file holds what they share (the live-state types, the
//! apply context, AWS error handling) and dispatches on the kind.

mod bucket;
pub mod cluster;
mod delivery;
mod ec2_tags;
mod internet_gateway;
mod role;
mod route_table;
pub mod schedule;
mod security_group;
mod stream;
mod subnet;
mod vpc;
pub mod wait;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Mutex;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::model::{Desired, DesiredResource, Kind, ResourceId, PIPELINE_TAG, RESOURCE_TAG};
use crate::plan::{Action, Attributes};
use crate::policy::Arns;
use crate::progress::Progress;

pub use wait::WaitOptions;

/// The AWS clients every kind uses, built once from one `SdkConfig`.
#[derive(Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub s3: aws_sdk_s3::Client,
    pub kinesis: aws_sdk_kinesis::Client,
    pub iam: aws_sdk_iam::Client,
    pub firehose: aws_sdk_firehose::Client,
    pub sts: aws_sdk_sts::Client,
    pub emr: aws_sdk_emr::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    pub region: String,
    /// True when requests go to an emulator or proxy rather than AWS itself: an operation the
    /// endpoint does not implement is then a warning, not a failure.
    pub emulated: bool,
}

/// Operations the endpoint could not serve, each reported once.
#[derive(Debug, Default)]
pub struct Warnings(Mutex<std::collections::BTreeSet<String>>);

impl Warnings {
    pub fn add(&self, operation: &str) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(operation.to_string());
    }

    fn messages(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|operation| {
                format!("the endpoint does not implement {operation}; the fields it reads are not compared")
            })
            .collect()
    }
}

/// A failed AWS call, naming the resource and the operation.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{resource}: {operation} failed: {message}")]
pub struct AwsError {
    pub resource: String,
    pub operation: &'static str,
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub fn new(resource: impl fmt::Display, operation: &'static str, message: impl Into<String>) -> Self {
        AwsError { resource: resource.to_string(), operation, code: None, message: message.into() }
    }

    /// True when AWS said the thing does not exist (for reads: absent; for deletes: done).
    pub fn is_not_found(&self) -> bool {
        self.code.as_deref().is_some_and(|code| {
            code.contains("NotFound") || code.starts_with("NoSuch") || code == "ResourceNotFoundException"
        })
    }

    pub fn has_code(&self, wanted: &str) -> bool {
        self.code.as_deref() == Some(wanted)
    }

    /// `Ok(value)` when AWS answered `code`, which for this call means "nothing there".
    pub fn unless<T>(self, code: &str, value: T) -> Result<T, AwsError> {
        if self.has_code(code) {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// `Ok(value)` when AWS said the thing does not exist.
    pub fn unless_not_found<T>(self, value: T) -> Result<T, AwsError> {
        if self.is_not_found() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// Converts an SDK error into an `AwsError` with the AWS error code kept for matching.
pub fn aws_error<E, R>(resource: impl fmt::Display, operation: &'static str, error: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let code = error.code().map(str::to_string);
    let message = match (&error, error.message()) {
        (SdkError::ServiceError(_), Some(text)) => {
            format!("{} ({text})", code.as_deref().unwrap_or("error"))
        }
        (SdkError::ServiceError(_), None) => code.clone().unwrap_or_else(|| "unknown service error".to_string()),
        (SdkError::TimeoutError(_), _) => "timed out waiting for AWS (see --read-timeout)".to_string(),
        _ => error_chain(&error),
    };
    AwsError { resource: resource.to_string(), operation, code, message }
}

/// The messages of an error and its sources, joined on one line (without the debug dump the
/// SDK's own context printer appends).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let text = error.to_string();
        if !text.is_empty() && parts.last() != Some(&text) && !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = error.source();
    }
    parts.join(": ")
}

/// Converts an SDK builder error (a required field missing) into an `AwsError`.
pub fn build_error(resource: impl fmt::Display, operation: &'static str, error: impl fmt::Display) -> AwsError {
    AwsError::new(resource, operation, format!("invalid request: {error}"))
}

pub type Tags = BTreeMap<String, String>;

/// Kind-specific live details that apply needs (ids of sub-objects, current rules, …).
#[derive(Debug, Clone)]
pub enum LiveDetail {
    Vpc(vpc::Live),
    InternetGateway(internet_gateway::Live),
    Subnet(subnet::Live),
    RouteTable(route_table::Live),
    SecurityGroup(security_group::Live),
    Bucket(bucket::Live),
    Stream(stream::Live),
    Role(role::Live),
    Delivery(delivery::Live),
    Cluster(Box<cluster::Live>),
    Schedule(schedule::Live),
}

/// A resource found in AWS that carries this pipeline's tags.
#[derive(Debug, Clone)]
pub struct LiveResource {
    pub id: ResourceId,
    /// The AWS identifier: `vpc-…`, `sg-…`, a bucket or stream name.
    pub physical_id: String,
    pub tags: Tags,
    pub detail: LiveDetail,
    /// Filled in once every kind has been read, since attributes name other resources.
    pub attributes: Attributes,
    pub depends_on: Vec<ResourceId>,
    /// Set when deleting or replacing this resource loses data, saying what.
    pub holds_data: Option<String>,
}

impl LiveResource {
    /// A freshly read resource; `describe_live` fills in attributes and dependencies later.
    pub fn new(id: ResourceId, physical_id: impl Into<String>, tags: Tags, detail: LiveDetail) -> LiveResource {
        LiveResource {
            id,
            physical_id: physical_id.into(),
            tags,
            detail,
            attributes: Attributes::new(),
            depends_on: Vec::new(),
            holds_data: None,
        }
    }
}

/// Everything the read phase learnt.
#[derive(Debug, Default)]
pub struct LiveState {
    /// The account the credentials belong to (for ARNs in policies).
    pub account_id: String,
    pub resources: BTreeMap<ResourceId, LiveResource>,
    /// Resources with names the spec uses that pipectl does not own: the plan must stop.
    pub conflicts: Vec<String>,
    pub notices: Vec<String>,
    /// Operations the endpoint does not implement (emulators), as warnings for stderr.
    pub warnings: Vec<String>,
}

impl LiveState {
    /// The AWS id of every live resource.
    pub fn physical_ids(&self) -> BTreeMap<ResourceId, String> {
        self.resources.values().map(|resource| (resource.id.clone(), resource.physical_id.clone())).collect()
    }
}

/// Physical id → resource id, for turning AWS references into spec names; and the names of
/// sub-objects such as EMR instance groups.
#[derive(Debug, Default)]
pub struct Names {
    ids: HashMap<String, ResourceId>,
    labels: HashMap<String, String>,
}

impl Names {
    pub fn of(resources: &BTreeMap<ResourceId, LiveResource>) -> Names {
        let ids = resources.values().map(|resource| (resource.physical_id.clone(), resource.id.clone())).collect();
        let labels = resources
            .values()
            .filter_map(|resource| match &resource.detail {
                LiveDetail::Cluster(live) => Some(&live.groups),
                _ => None,
            })
            .flatten()
            .map(|group| (group.id.clone(), if group.role == "CORE" { "core".to_string() } else { group.name.clone() }))
            .collect();
        Names { ids, labels }
    }

    /// The spec name of a physical id, or the id itself when it is not ours.
    pub fn name(&self, physical_id: &str) -> String {
        self.ids.get(physical_id).map_or_else(|| physical_id.to_string(), |id| id.name.clone())
    }

    /// The name of a sub-object (an instance group id → `core` or the task group's name).
    pub fn label(&self, physical_id: &str) -> String {
        self.labels.get(physical_id).cloned().unwrap_or_else(|| physical_id.to_string())
    }

    pub fn id(&self, physical_id: &str) -> Option<&ResourceId> {
        self.ids.get(physical_id)
    }
}

/// The apply context: clients, the physical ids known so far, waiting and progress settings.
pub struct Context {
    pub clients: Clients,
    pub pipeline: String,
    pub arns: Arns,
    pub wait: WaitOptions,
    pub progress: Progress,
    /// `apply --reset-scale`: return scaled groups to their baseline.
    pub reset_scale: bool,
    /// Where creates that cannot tag at once note what they are creating (the lock).
    pub journal: Option<crate::lock::Journal>,
    physical_ids: Mutex<HashMap<ResourceId, String>>,
}

impl Context {
    pub fn new(clients: Clients, pipeline: &str, wait: WaitOptions, progress: Progress, live: &LiveState) -> Context {
        let known =
            live.resources.values().map(|resource| (resource.id.clone(), resource.physical_id.clone())).collect();
        Context {
            arns: Arns::new(&live.account_id, &clients.region),
            clients,
            pipeline: pipeline.to_string(),
            wait,
            progress,
            reset_scale: false,
            journal: None,
            physical_ids: Mutex::new(known),
        }
    }

    /// The AWS id of a resource created earlier in this run or found live.
    pub fn physical_id(&self, id: &ResourceId) -> Result<String, AwsError> {
        self.physical_ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(id)
            .cloned()
            .ok_or_else(|| AwsError::new(id, "resolve", "the resource does not exist yet (a dependency failed)"))
    }

    fn record(&self, id: &ResourceId, physical_id: String) {
        self.physical_ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(id.clone(), physical_id);
    }

    /// Notes that `id` is about to be created untagged for a moment, so that a run that dies
    /// in that moment leaves something the next run can adopt.
    pub async fn intend(&self, id: &ResourceId) -> Result<(), AwsError> {
        match &self.journal {
            Some(journal) => journal.intend(id).await,
            None => Ok(()),
        }
    }

    /// `id` carries its tags now.
    pub async fn done(&self, id: &ResourceId) -> Result<(), AwsError> {
        match &self.journal {
            Some(journal) => journal.done(id).await,
            None => Ok(()),
        }
    }

    fn forget(&self, id: &ResourceId) {
        self.physical_ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id);
    }
}

/// Replaces `${kind/name}` placeholders (ids unknown at plan time) with the AWS ids of
/// resources this apply has created.
pub fn resolve_placeholders(ctx: &Context, text: &str) -> Result<String, AwsError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start..].find('}') else { break };
        out.push_str(&rest[..start]);
        let inner = &rest[start + 2..start + end];
        match ResourceId::parse(inner) {
            Some(id) => out.push_str(&ctx.physical_id(&id)?),
            None => out.push_str(&rest[start..=start + end]),
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// True when `tags` say the resource belongs to `pipeline`.
pub fn owned_by(tags: &Tags, pipeline: &str) -> bool {
    tags.get(PIPELINE_TAG).map(String::as_str) == Some(pipeline)
}

/// The resource id a tagged resource claims to be, if it claims one of the expected kind.
pub fn claimed_id(tags: &Tags, kind: Kind) -> Option<ResourceId> {
    tags.get(RESOURCE_TAG).and_then(|value| ResourceId::parse(value)).filter(|id| id.kind == kind)
}

/// True when a resource found without the pipeline's tags is one a crashed run of this
/// pipeline was creating: untagged entirely and named in the journal it left.
pub fn adopt(id: &ResourceId, tags: &Tags, adoptable: &[ResourceId]) -> bool {
    !tags.contains_key(PIPELINE_TAG) && adoptable.contains(id)
}

/// Why a resource the spec names cannot be managed, and how to adopt it on purpose.
pub fn ownership_conflict(id: &ResourceId, tags: &Tags, pipeline: &str, adopt_hint: &str) -> String {
    let owner = match tags.get(PIPELINE_TAG) {
        Some(other) => format!("it belongs to pipeline `{other}`"),
        None => "it is not tagged as managed by pipectl".to_string(),
    };
    format!(
        "{id} already exists but {owner}; pipectl never modifies resources it does not own. \
         Rename it in the spec, or adopt it deliberately by tagging it {PIPELINE_TAG}={pipeline} and {RESOURCE_TAG}={id}{adopt_hint}"
    )
}

/// The comparable attributes of what the spec asks for.
pub fn desired_attributes(resource: &DesiredResource) -> Attributes {
    let mut attributes = match &resource.config {
        Desired::Vpc { cidr } => vpc::desired_attributes(cidr),
        Desired::InternetGateway => internet_gateway::desired_attributes(resource),
        Desired::Subnet(subnet) => subnet::desired_attributes(subnet),
        Desired::RouteTable { subnets } => route_table::desired_attributes(subnets),
        Desired::SecurityGroup(group) => security_group::desired_attributes(group),
        Desired::Bucket(bucket) => bucket::desired_attributes(bucket),
        Desired::Stream(stream) => stream::desired_attributes(stream),
        Desired::Role(role) => role::desired_attributes(role),
        Desired::Delivery(delivery) => delivery::desired_attributes(delivery),
        Desired::Cluster(config) => cluster::desired_attributes(config),
        Desired::Schedule(config) => schedule::desired_attributes(config),
    };
    // Schedules cannot carry tags: only pipectl's ownership marker goes in their description.
    let tags: Tags = match resource.config {
        Desired::Schedule(_) => resource
            .tags
            .iter()
            .filter(|(key, _)| key.starts_with("pipectl:"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        _ => resource.tags.clone(),
    };
    attributes.insert("tags".to_string(), serde_json::json!(tags));
    attributes
}

/// Fills in attributes and dependencies of live resources, which need the names of the others.
pub fn describe_live(state: &mut LiveState) {
    let names = Names::of(&state.resources);
    for resource in state.resources.values_mut() {
        let (mut attributes, depends_on) = match &resource.detail {
            LiveDetail::Vpc(live) => (vpc::live_attributes(live), vec![]),
            LiveDetail::InternetGateway(live) => internet_gateway::live_attributes(live, &names),
            LiveDetail::Subnet(live) => subnet::live_attributes(live, &names),
            LiveDetail::RouteTable(live) => route_table::live_attributes(live, &names),
            LiveDetail::SecurityGroup(live) => security_group::live_attributes(live, &resource.physical_id, &names),
            LiveDetail::Bucket(live) => (bucket::live_attributes(live), vec![]),
            LiveDetail::Stream(live) => (stream::live_attributes(live), vec![]),
            LiveDetail::Role(live) => (role::live_attributes(live, &resource.physical_id), vec![]),
            LiveDetail::Delivery(live) => delivery::live_attributes(live, &names),
            LiveDetail::Cluster(live) => cluster::live_attributes(live, &names),
            LiveDetail::Schedule(live) => schedule::live_attributes(live, &names),
        };
        // Scale records are pipectl's notes on the cluster, not tags the spec manages.
        let tags: Tags = resource
            .tags
            .iter()
            .filter(|(key, _)| !key.starts_with(cluster::SCALE_TAG_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        attributes.insert("tags".to_string(), serde_json::json!(tags));
        resource.attributes = attributes;
        resource.depends_on = depends_on;
        resource.holds_data = match &resource.detail {
            LiveDetail::Stream(_) => Some("a stream's records are lost with it".to_string()),
            LiveDetail::Bucket(live) if live.holds_objects => {
                Some("the bucket holds objects, which are deleted with it".to_string())
            }
            LiveDetail::Delivery(_) => Some("records still buffered in the delivery stream are lost".to_string()),
            LiveDetail::Cluster(_) => {
                Some("terminating the cluster ends its running steps and loses HDFS data".to_string())
            }
            _ => None,
        };
    }
}

/// Adjusts the desired attributes of a resource to deliberate live facts (a recorded scale);
/// returns notices for the plan.
pub fn adjust_desired(live: &LiveResource, desired: &mut Attributes, reset_scale: bool) -> Vec<String> {
    match &live.detail {
        LiveDetail::Cluster(detail) => cluster::adjust_desired(&live.id, detail, &live.tags, desired, reset_scale),
        _ => Vec::new(),
    }
}

/// Why apply must not replace or delete this resource, if it must not.
pub fn refusal(live: &LiveResource) -> Option<String> {
    match &live.detail {
        LiveDetail::Cluster(detail) => cluster::refusal(&live.id, detail),
        _ => None,
    }
}

/// Fields that AWS cannot change in place, per kind.
pub fn forces_replacement(kind: Kind, field: &str) -> bool {
    if kind == Kind::Cluster && field.starts_with("task.") {
        return field.ends_with(".type") || field.ends_with(".market");
    }
    let fields: &[&str] = match kind {
        Kind::Vpc => &["cidr"],
        Kind::Subnet => &["cidr", "availability_zone"],
        Kind::SecurityGroup => &["description"],
        Kind::Role => &["path"],
        Kind::Delivery => &["source_stream", "role", "status"],
        Kind::Cluster => &[
            "release",
            "applications",
            "subnet",
            "security_groups",
            "key_pair",
            "log_uri",
            "master.type",
            "master.count",
            "core.type",
            "core.ebs_gib",
            "configurations",
            "bootstrap",
            "service_role",
            "instance_profile",
        ],
        Kind::InternetGateway | Kind::RouteTable | Kind::Bucket | Kind::Stream | Kind::Schedule => &[],
    };
    fields.contains(&field)
}

/// Notes a person should read with a change (reshard steps, for example).
pub fn change_notes(
    kind: Kind,
    action: Action,
    before: Option<&Attributes>,
    after: Option<&Attributes>,
) -> Vec<String> {
    match kind {
        Kind::Stream => stream::change_notes(action, before, after),
        Kind::SecurityGroup => security_group::change_notes(action),
        Kind::Delivery => delivery::change_notes(action, before),
        Kind::Cluster => cluster::change_notes(action),
        _ => Vec::new(),
    }
}

/// The names under which the spec's name-addressed resources are looked up.
#[derive(Debug, Default)]
pub struct SpecNames {
    pub buckets: Vec<String>,
    pub streams: Vec<String>,
    /// (resource id, IAM role name).
    pub roles: Vec<(ResourceId, String)>,
    pub deliveries: Vec<String>,
    pub clusters: Vec<String>,
}

impl SpecNames {
    pub fn of(graph: &[DesiredResource]) -> SpecNames {
        let mut names = SpecNames::default();
        for resource in graph {
            let name = resource.id.name.clone();
            match &resource.config {
                Desired::Bucket(_) => names.buckets.push(name),
                Desired::Stream(_) => names.streams.push(name),
                Desired::Role(role) => names.roles.push((resource.id.clone(), role.iam_name.clone())),
                Desired::Delivery(_) => names.deliveries.push(name),
                Desired::Cluster(_) => names.clusters.push(name),
                _ => {}
            }
        }
        names
    }
}

async fn account_id(sts: &aws_sdk_sts::Client) -> Result<String, AwsError> {
    let output =
        sts.get_caller_identity().send().await.map_err(|error| aws_error("account", "GetCallerIdentity", error))?;
    Ok(output.account().unwrap_or_default().to_string())
}

/// Reads everything of this pipeline from AWS in one parallel round: EC2 by tag (one describe
/// per kind), buckets, streams, roles and deliveries by name (the spec's, plus any other that
/// carries the pipeline's tags), and the account id.
/// `adoptable` names buckets and streams a crashed run of this pipeline was creating: found
/// without any pipectl tags, they are taken as the pipeline's instead of as conflicts.
pub async fn read_live(
    clients: &Clients,
    pipeline: &str,
    names: &SpecNames,
    adoptable: &[ResourceId],
) -> Result<LiveState, AwsError> {
    let path = crate::policy::role_path(pipeline);
    let warnings = Warnings::default();
    let (account_id, vpcs, subnets, gateways, tables, groups, buckets, streams, roles, deliveries, clusters, schedules) =
        tokio::try_join!(
            account_id(&clients.sts),
            vpc::read(&clients.ec2, pipeline),
            subnet::read(&clients.ec2, pipeline),
            internet_gateway::read(&clients.ec2, pipeline),
            route_table::read(&clients.ec2, pipeline),
            security_group::read(&clients.ec2, pipeline),
            bucket::read(&clients.s3, pipeline, &names.buckets, adoptable),
            stream::read(&clients.kinesis, pipeline, &names.streams, adoptable),
            role::read(&clients.iam, pipeline, &path, &names.roles),
            delivery::read(&clients.firehose, pipeline, &names.deliveries),
            cluster::read(clients, pipeline, &names.clusters, &warnings),
            schedule::read(&clients.scheduler, pipeline),
        )?;
    let mut state = LiveState { account_id, warnings: warnings.messages(), ..LiveState::default() };
    let found = vpcs.into_iter().chain(subnets).chain(gateways).chain(tables).chain(groups);
    let named = buckets.found.into_iter().chain(streams.found).chain(roles.found).chain(deliveries.found);
    let named = named.chain(clusters.found).chain(schedules.found);
    for resource in found.chain(named) {
        if let Some(existing) = state.resources.get(&resource.id) {
            state.notices.push(format!(
                "{} exists twice ({} and {}); pipectl manages {} and leaves the other alone: delete it by hand",
                resource.id, existing.physical_id, resource.physical_id, existing.physical_id
            ));
            continue;
        }
        state.resources.insert(resource.id.clone(), resource);
    }
    for conflicts in [
        buckets.conflicts,
        streams.conflicts,
        roles.conflicts,
        deliveries.conflicts,
        clusters.conflicts,
        schedules.conflicts,
    ] {
        state.conflicts.extend(conflicts);
    }
    describe_live(&mut state);
    Ok(state)
}

/// Looks at the resources of a kind that the spec does not name (a few at a time) and keeps
/// those `inspect` finds to be the pipeline's: they are planned for deletion.
pub async fn discover<F, Fut>(others: Vec<String>, inspect: F) -> Result<Vec<LiveResource>, AwsError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<Option<LiveResource>, AwsError>>,
{
    use futures::stream::{self, StreamExt};
    const AT_ONCE: usize = 16;
    let inspected: Vec<Result<Option<LiveResource>, AwsError>> =
        stream::iter(others).map(inspect).buffer_unordered(AT_ONCE).collect().await;
    inspected.into_iter().filter_map(Result::transpose).collect()
}

/// What `read` of a name-addressed kind (buckets, streams) found.
#[derive(Default)]
pub struct NamedRead {
    pub found: Vec<LiveResource>,
    pub conflicts: Vec<String>,
}

/// Creates a resource and records its physical id for the resources that depend on it.
pub async fn create(ctx: &Context, resource: &DesiredResource) -> Result<(), AwsError> {
    let physical_id = match &resource.config {
        Desired::Vpc { cidr } => vpc::create(ctx, resource, cidr).await?,
        Desired::InternetGateway => internet_gateway::create(ctx, resource).await?,
        Desired::Subnet(subnet) => subnet::create(ctx, resource, subnet).await?,
        Desired::RouteTable { subnets } => route_table::create(ctx, resource, subnets).await?,
        Desired::SecurityGroup(group) => security_group::create(ctx, resource, group).await?,
        Desired::Bucket(bucket) => bucket::create(ctx, resource, bucket).await?,
        Desired::Stream(stream) => stream::create(ctx, resource, stream).await?,
        Desired::Role(role) => role::create(ctx, resource, role).await?,
        Desired::Delivery(delivery) => delivery::create(ctx, resource, delivery).await?,
        Desired::Cluster(config) => cluster::create(ctx, resource, config).await?,
        Desired::Schedule(config) => schedule::create(ctx, resource, config).await?,
    };
    ctx.record(&resource.id, physical_id);
    Ok(())
}

/// Changes a live resource in place to match the spec.
pub async fn update(ctx: &Context, resource: &DesiredResource, live: &LiveResource) -> Result<(), AwsError> {
    match (&resource.config, &live.detail) {
        (Desired::Vpc { .. }, LiveDetail::Vpc(_)) => ec2_tags::sync(ctx, live, &resource.tags).await,
        (Desired::InternetGateway, LiveDetail::InternetGateway(detail)) => {
            internet_gateway::update(ctx, resource, live, detail).await
        }
        (Desired::Subnet(subnet), LiveDetail::Subnet(detail)) => {
            subnet::update(ctx, resource, subnet, live, detail).await
        }
        (Desired::RouteTable { subnets }, LiveDetail::RouteTable(detail)) => {
            route_table::update(ctx, resource, subnets, live, detail).await
        }
        (Desired::SecurityGroup(group), LiveDetail::SecurityGroup(detail)) => {
            security_group::update(ctx, resource, group, live, detail).await
        }
        (Desired::Bucket(bucket), LiveDetail::Bucket(detail)) => bucket::update(ctx, resource, bucket, detail).await,
        (Desired::Stream(stream), LiveDetail::Stream(detail)) => stream::update(ctx, resource, stream, detail).await,
        (Desired::Role(role), LiveDetail::Role(detail)) => role::update(ctx, resource, role, live, detail).await,
        (Desired::Cluster(config), LiveDetail::Cluster(detail)) => {
            cluster::update(ctx, resource, config, live, detail).await
        }
        (Desired::Schedule(config), LiveDetail::Schedule(_)) => schedule::update(ctx, resource, config).await,
        (Desired::Delivery(delivery), LiveDetail::Delivery(detail)) => {
            delivery::update(ctx, resource, delivery, live, detail).await
        }
        _ => Err(AwsError::new(&resource.id, "update", "live resource is of another kind")),
    }
}

/// Deletes a live resource; one that is already gone counts as deleted.
pub async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    let result = match &live.detail {
        LiveDetail::Vpc(_) => vpc::delete(ctx, live).await,
        LiveDetail::InternetGateway(detail) => internet_gateway::delete(ctx, live, detail).await,
        LiveDetail::Subnet(_) => subnet::delete(ctx, live).await,
        LiveDetail::RouteTable(detail) => route_table::delete(ctx, live, detail).await,
        LiveDetail::SecurityGroup(_) => security_group::delete(ctx, live).await,
        LiveDetail::Bucket(_) => bucket::delete(ctx, live).await,
        LiveDetail::Stream(_) => stream::delete(ctx, live).await,
        LiveDetail::Role(detail) => role::delete(ctx, live, detail).await,
        LiveDetail::Delivery(_) => delivery::delete(ctx, live).await,
        LiveDetail::Cluster(_) => cluster::delete(ctx, live).await,
        LiveDetail::Schedule(_) => schedule::delete(ctx, live).await,
    };
    match result {
        Err(error) if error.is_not_found() => {}
        other => other?,
    }
    ctx.forget(&live.id);
    Ok(())
}

/// Live values for unit tests of the planner, which cannot reach the private kind modules.
#[cfg(test)]
pub mod test_support {
    use super::*;

    pub fn vpc(cidr: &str) -> vpc::Live {
        vpc::Live { cidr: cidr.to_string() }
    }

    /// A provisioned one-shard stream owned by `pipeline`.
    pub fn stream_resource(name: &str, pipeline: &str) -> LiveResource {
        let tags = Tags::from([
            (PIPELINE_TAG.to_string(), pipeline.to_string()),
            (RESOURCE_TAG.to_string(), format!("stream/{name}")),
        ]);
        let live = stream::Live {
            arn: format!("arn:aws:kinesis:eu-west-1:000000000000:stream/{name}"),
            on_demand: false,
            open_shards: 1,
            retention_hours: 24,
            kms_key: None,
        };
        LiveResource::new(ResourceId::new(Kind::Stream, name), name, tags, LiveDetail::Stream(live))
    }

    /// Clients that reach nothing but the given EMR client (a mock, in unit tests).
    pub fn clients_with_emr(emr: aws_sdk_emr::Client, emulated: bool) -> Clients {
        let config = aws_types::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        Clients {
            ec2: aws_sdk_ec2::Client::new(&config),
            s3: aws_sdk_s3::Client::new(&config),
            kinesis: aws_sdk_kinesis::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            firehose: aws_sdk_firehose::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            emr,
            scheduler: aws_sdk_scheduler::Client::new(&config),
            region: "us-east-1".to_string(),
            emulated,
        }
    }

    /// A role with no policies, whose IAM name is `iam_name`.
    pub fn role_resource(name: &str, iam_name: &str) -> LiveResource {
        let live = role::Live {
            path: "/pipectl/p/".to_string(),
            trust: serde_json::Value::Null,
            inline: None,
            managed: Vec::new(),
            instance_profiles: Vec::new(),
        };
        LiveResource::new(ResourceId::new(Kind::Role, name), iam_name, Tags::new(), LiveDetail::Role(live))
    }
}

//! The resource kinds, one module each, and what they share. A kind module owns everything about
//! its kind: the desired state it builds from the validated spec, how it reads live state and
//! describes it as attributes, which fields force replacement and what a deletion destroys (its
//! `KindRules`), and its create, update, delete and waiters (its `ResourceKind`).
//!
//! The rest of the program reaches kinds through `KINDS`, the one registry: adding a kind is a
//! new module plus one line there. Dynamic dispatch (a trait object per kind) rather than an enum
//! keeps that promise; a `match` over kinds would need an arm in every function below.

mod alarm;
mod bucket;
mod catalog_database;
mod catalog_table;
pub mod cluster;
mod crawler;
mod delivery;
mod ec2_delete;
mod ec2_tags;
mod internet_gateway;
mod job;
mod named;
mod nat_gateway;
#[cfg(test)]
mod plan_tests;
mod propagation;
pub mod queue;
#[cfg(test)]
mod read_tests;
mod retag;
mod role;
mod route_table;
pub mod schedule;
mod security_group;
mod stream;
mod subnet;
mod tag_index;
mod topic;
mod vpc;
mod vpc_endpoint;
pub mod wait;
mod workgroup;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Mutex;

use futures::future::BoxFuture;

pub use crate::aws::{aws_error, build_error, AwsError, Clients, Limiter, Warnings};
use crate::model::{DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, ResourceId};
pub use crate::model::{LiveResource, LiveState, Names, Tags};
use crate::model::{PIPELINE_TAG, RESOURCE_TAG};
use crate::iam::Arns;
use crate::progress::Progress;
use crate::spec::Spec;
pub use job::definition::RESIZE_BACK_GRACE_SECONDS;
pub use job::id as job_id;
pub use named::{NamedKind, NamedRead, Ownership};
pub use propagation::{retry_while_role_propagates, RoleUser};
pub use wait::WaitOptions;

/// Every kind pipectl manages, in the order their nodes are added to the desired graph.
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
    &delivery::Delivery,
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

/// The effectful half of a kind, as its module writes it: building its desired nodes, reading
/// it, and changing it, with its own desired-state and live-detail types.
pub trait ResourceKind: KindRules {
    /// What the kind's desired nodes carry (built by `desired`).
    type Desired: DesiredConfig;
    /// What the kind's reads put in live resources.
    type Live: LiveDetail;
    /// The handle plans and ids carry for this kind.
    const KIND: Kind;
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
}

/// `ResourceKind` as one registry of trait objects can hold it: the kind-specific types are
/// recovered from the nodes here, once, instead of in every kind.
pub trait DynKind: KindRules {
    fn kind(&self) -> Kind;
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
}

impl<K: ResourceKind> DynKind for K {
    fn kind(&self) -> Kind {
        K::KIND
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
}

/// The registered kind named `name` (as in a `pipectl:resource` tag).
pub fn kind_named(name: &str) -> Option<Kind> {
    KINDS.iter().map(|kind| kind.kind()).find(|kind| kind.as_str() == name)
}

/// The resource a cost line of `pricing` is about, as plans name it.
pub fn priced_id(subject: &crate::pricing::Subject) -> ResourceId {
    use crate::pricing::Subject;
    match subject {
        Subject::Cluster(name) => cluster::id(name),
        Subject::Stream(name) => stream::id(name),
        Subject::NatGateway(subnet) => nat_gateway::id(subnet),
        Subject::Delivery(name) => delivery::id(name),
        Subject::Bucket(name) => bucket::id(name),
        Subject::Job(cluster, name) => job::id(cluster, name),
    }
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

/// Builds the desired graph of a validated spec; `arns` names the account the policies refer to
/// and `known` holds the AWS ids of resources that exist already (for ARNs that contain them).
pub fn desired_graph(spec: &Spec, arns: &Arns, known: &BTreeMap<ResourceId, String>) -> Vec<DesiredResource> {
    let graph = GraphContext { spec, arns, known };
    KINDS.iter().flat_map(|kind| kind.desired(&graph)).collect()
}

/// What every kind's read needs.
pub struct ReadContext<'a> {
    pub clients: &'a Clients,
    pub pipeline: &'a str,
    /// Where the pipeline's role paths start (the spec's `iam.path`, see `names::role_path`).
    pub iam_path: &'a str,
    /// The desired graph: the names each kind looks up (empty for destroy).
    pub desired: &'a [DesiredResource],
    /// Resources a crashed run of this pipeline was creating: found untagged, they are adopted.
    pub adoptable: &'a [ResourceId],
    pub warnings: &'a Warnings,
    /// The pipeline's tagged resources as the tag index lists them, fetched once for all kinds
    /// (see `tag_index`).
    tag_index: tokio::sync::OnceCell<Result<tag_index::TagIndex, AwsError>>,
    /// The account the plan reads in, asked of STS once for the plan and every kind whose ARNs
    /// need it (see `account_id`).
    account: tokio::sync::OnceCell<Result<String, AwsError>>,
}

impl<'a> ReadContext<'a> {
    /// A read of `pipeline` in which the tag index and the account are not asked for yet.
    pub fn new(
        clients: &'a Clients,
        pipeline: &'a str,
        iam_path: &'a str,
        desired: &'a [DesiredResource],
        adoptable: &'a [ResourceId],
        warnings: &'a Warnings,
    ) -> ReadContext<'a> {
        let (tag_index, account) = Default::default();
        ReadContext { clients, pipeline, iam_path, desired, adoptable, warnings, tag_index, account }
    }
}

impl ReadContext<'_> {
    /// The account id (`sts:GetCallerIdentity`), read once however many kinds ask: the plan
    /// asks at its start, so a kind that builds an ARN from it waits for no extra round trip.
    pub async fn account_id(&self) -> Result<&str, AwsError> {
        match self.account.get_or_init(|| account_id(&self.clients.sts)).await {
            Ok(account) => Ok(account),
            Err(error) => Err(error.clone()),
        }
    }

    /// The desired resources of `kind`.
    pub fn desired_of(&self, kind: Kind) -> impl Iterator<Item = &DesiredResource> {
        self.desired.iter().filter(move |resource| resource.id.kind == kind)
    }

    /// The spec names of the desired resources of `kind`.
    pub fn names(&self, kind: Kind) -> Vec<String> {
        self.desired_of(kind).map(|resource| resource.id.name.clone()).collect()
    }

    /// The shared read of a kind addressed by name (see `named`).
    pub fn named(&self, kind: Kind, adopt_hint: &'static str) -> NamedKind<'_> {
        NamedKind { kind, pipeline: self.pipeline, spec_names: self.names(kind), adoptable: self.adoptable, adopt_hint }
    }
}

async fn account_id(sts: &aws_sdk_sts::Client) -> Result<String, AwsError> {
    let output =
        sts.get_caller_identity().send().await.map_err(|error| aws_error("account", "GetCallerIdentity", error))?;
    output.account().map(str::to_string).ok_or_else(|| AwsError::missing("account", "GetCallerIdentity", "Account"))
}

/// Reads everything of this pipeline from AWS in one parallel round: every kind at once, and the
/// account id. `adoptable` names resources a crashed run of this pipeline was creating: found
/// without any pipectl tags, they are taken as the pipeline's instead of as conflicts.
pub async fn read_live(
    clients: &Clients,
    spec: &crate::spec::Spec,
    desired: &[DesiredResource],
    adoptable: &[ResourceId],
) -> Result<LiveState, AwsError> {
    let warnings = Warnings::default();
    let read = ReadContext::new(clients, &spec.pipeline, spec.iam_path(), desired, adoptable, &warnings);
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

/// The apply context: clients, the physical ids known so far, waiting and progress settings.
pub struct Context {
    pub clients: Clients,
    pub pipeline: String,
    /// The IAM path of the pipeline's roles in this region (`Spec::role_path`), for their ARNs.
    pub roles_path: String,
    pub arns: Arns,
    pub wait: WaitOptions,
    pub progress: Progress,
    /// `apply --reset-scale`: return scaled groups to their baseline.
    pub reset_scale: bool,
    /// Where creates that cannot tag at once note what they are creating (the lock).
    pub journal: Option<crate::aws::lock::Journal>,
    physical_ids: Mutex<HashMap<ResourceId, String>>,
}

impl Context {
    pub fn new(clients: Clients, spec: &Spec, wait: WaitOptions, progress: Progress, live: &LiveState) -> Context {
        Context {
            arns: Arns::new(&live.account_id, &clients.region),
            roles_path: spec.role_path(&clients.region),
            clients,
            pipeline: spec.pipeline.clone(),
            wait,
            progress,
            reset_scale: false,
            journal: None,
            physical_ids: Mutex::new(live.physical_ids().into_iter().collect()),
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
            Some(journal) => journal.intend(&id.to_string()).await,
            None => Ok(()),
        }
    }

    /// `id` carries its tags now.
    pub async fn done(&self, id: &ResourceId) -> Result<(), AwsError> {
        match &self.journal {
            Some(journal) => journal.done(&id.to_string()).await,
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
        match parse_id(inner) {
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
    tags.get(RESOURCE_TAG).and_then(|value| parse_id(value)).filter(|id| id.kind == kind)
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

/// Live resources for the unit tests of layers above, which cannot reach the kinds' modules.
#[cfg(test)]
pub mod test_support {
    use aws_sdk_ec2::Client;
    use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    /// An EC2 client answering from `rules` (built by hand: the `test-util` feature that
    /// `mock_client!` needs is only enabled for the EMR crate).
    pub fn ec2_client(mode: RuleMode, rules: &[&Rule]) -> Client {
        let mut interceptor = MockResponseInterceptor::new().rule_mode(mode);
        for rule in rules {
            interceptor = interceptor.with_rule(rule);
        }
        let config = aws_sdk_ec2::Config::builder()
            .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
            .region(aws_sdk_ec2::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ec2::config::Credentials::new("akid", "secret", None, None, "test"))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .build();
        Client::from_conf(config)
    }

    /// EC2's error response for `code` (the Query protocol's XML shape, HTTP 400).
    pub fn ec2_error(code: &str, message: &str) -> aws_smithy_runtime_api::http::Response {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>r-1</RequestID></Response>"
        );
        aws_smithy_runtime_api::http::Response::new(StatusCode::try_from(400).unwrap(), SdkBody::from(body))
    }

    /// Clients whose every call fails (no endpoint): a test replaces the one it mocks.
    pub fn clients() -> Clients {
        crate::aws::test_clients_with_emr(aws_sdk_emr::Client::from_conf(aws_sdk_emr::Config::builder().build()), false)
    }

    /// An apply context on `clients` that knows `live`, with waits of a millisecond or so that
    /// give up after `timeout`.
    pub fn context(clients: Clients, timeout: std::time::Duration, live: &LiveState) -> Context {
        let wait = WaitOptions {
            timeout,
            first_interval: std::time::Duration::from_millis(1),
            max_interval: std::time::Duration::from_millis(5),
        };
        Context::new(clients, &crate::spec::SpecBuilder::new().build(), wait, Progress::new(false), live)
    }

    /// A live VPC with `cidr`.
    pub fn live_vpc(id: ResourceId, physical_id: &str, cidr: &str) -> LiveResource {
        LiveResource::new(id, physical_id, Tags::new(), vpc::Live { cidr: cidr.to_string() })
    }
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
}

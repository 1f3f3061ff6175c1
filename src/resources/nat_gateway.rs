//! NAT gateways (`network.nat`), each with its Elastic IP: `nat_gateway/<public subnet>`. The
//! Elastic IP is part of the gateway: allocated and tagged with it, released when it is deleted.
//!
//! AWS's lifecycle, as this module encodes it:
//! - A NAT gateway is `pending` for minutes, then `available`; one that could not be created is
//!   `failed` with a failure code and message ("NatGateway", EC2 API Reference), and the next plan
//!   replaces it. Deleted gateways stay visible as `deleted` for a while and are not read.
//! - "Deleting a public NAT gateway disassociates its Elastic IP address, but does not release the
//!   address from your account" ("DeleteNatGateway"): delete waits for `deleted`, then releases
//!   the address. Releasing it too early answers `InvalidIPAddress.InUse` ("ReleaseAddress": an
//!   address still associated in a non-default VPC), and right after the gateway is gone AWS has
//!   also been seen to answer `InvalidNetworkInterfaceID.NotFound` or `AuthFailure` for a while
//!   (hashicorp/terraform-provider-aws#49299; eformat/sno-for-100#5, #9): those are retried,
//!   bounded by `--timeout`. `InvalidAllocationID.NotFound` means it is released already.
//! - A NAT gateway's Elastic IP counts as a mapped public address of the VPC: the internet
//!   gateway cannot be detached while it exists (`DependencyViolation`, "has some mapped public
//!   address(es)"), so a NAT gateway depends on the internet gateway and is deleted first.
//! - A public NAT gateway in a VPC without an internet gateway fails with `Gateway.NotAttached`;
//!   it is created after the internet gateway and the public route table.
//!
//! A run that dies between allocating the address and creating the gateway leaves a tagged
//! Elastic IP: the read shows it as this gateway, `missing`, which the plan replaces (the address
//! is released and a new gateway made). Tagged addresses that belong to no gateway of the same
//! name are released by the next update or delete.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::{ConnectivityType, DomainType, NatGatewayState, ResourceType};
use serde_json::json;

use super::kit::ec2_tags::{self, Ec2Calls};
use super::kit::ec2_tags::{ec2_node_tags, from_ec2, pipeline_filter, sync, tag_specification, to_ec2};
use super::kit::wait::{wait_until, Poll};
use super::kit::{
    aws_error, claimed_id, owned_by, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, ReadContext,
    ResourceKind, Tags,
};
use crate::model::{
    Action, Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::pricing::{self, CostLine, Prices};

pub struct NatGateway;
pub const KIND: Kind = Kind::of(&NatGateway);

/// The NAT gateway the spec places in the public subnet `subnet`.
pub fn id(subnet: &str) -> ResourceId {
    ResourceId::new(KIND, crate::names::nat_gateway(subnet))
}

/// The state a gateway that serves traffic reads as (`pending` reads so too: it gets there).
const AVAILABLE: &str = "available";

/// A NAT gateway in the public subnet of this spec name.
#[derive(Debug, Clone)]
pub struct Desired {
    pub subnet: String,
}

impl DesiredConfig for Desired {
    fn attributes(&self) -> Attributes {
        Attributes::from([("subnet".to_string(), json!(self.subnet)), ("state".to_string(), json!(AVAILABLE))])
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    /// The pipeline it belongs to (its internet gateway is named after it).
    pub pipeline: String,
    pub vpc_id: String,
    pub subnet_id: String,
    /// `None` when only its Elastic IP was found (a create that died half-way).
    pub nat_gateway_id: Option<String>,
    /// AWS's state (`pending`, `available`, `failed`, `deleting`), or `missing`.
    pub state: String,
    /// AWS's failure code and message for a `failed` gateway.
    pub failure: Option<String>,
    /// The gateway's own Elastic IPs (allocation ids), released after it is deleted.
    pub allocation_ids: Vec<String>,
    /// Tagged as this gateway's but used by no gateway: released by update and delete.
    pub unused_allocation_ids: Vec<String>,
}

impl Live {
    /// The state as compared with the spec's `available`.
    fn compared_state(&self) -> String {
        match (self.state.as_str(), &self.failure) {
            ("pending" | "available", _) => AVAILABLE.to_string(),
            ("failed", Some(failure)) => format!("failed ({failure})"),
            ("missing", _) => format!(
                "missing (Elastic IP {} without its NAT gateway)",
                self.allocation_ids.first().map(String::as_str).unwrap_or("?")
            ),
            (other, _) => other.to_string(),
        }
    }
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let mut attributes = Attributes::from([
            ("subnet".to_string(), json!(names.name(&self.subnet_id))),
            ("state".to_string(), json!(self.compared_state())),
        ]);
        if !self.unused_allocation_ids.is_empty() {
            attributes.insert("unused_elastic_ips".to_string(), json!(self.unused_allocation_ids));
        }
        let mut depends_on: Vec<ResourceId> =
            [&self.subnet_id, &self.vpc_id].into_iter().filter_map(|physical| names.id(physical).cloned()).collect();
        // Its Elastic IP keeps the internet gateway from being detached.
        depends_on.push(super::internet_gateway::id(&self.pipeline));
        (attributes, depends_on)
    }
}

impl KindRules for NatGateway {
    fn name(&self) -> &'static str {
        "nat_gateway"
    }
    fn rank(&self) -> u8 {
        110
    }
    fn forces_replacement(&self, field: &str) -> bool {
        matches!(field, "subnet" | "state")
    }
    fn lives_in(&self, container: Kind) -> bool {
        container == super::vpc::KIND || container == super::subnet::KIND
    }
    fn change_notes(&self, action: Action, _before: Option<&Attributes>, _after: Option<&Attributes>) -> Vec<String> {
        match action {
            Action::Create | Action::Replace => vec![
                "a NAT gateway is billed for every hour it exists and every GB it processes, idle or not (Amazon VPC pricing); its Elastic IP is allocated with it"
                    .to_string(),
            ],
            Action::Delete => vec!["private subnets routed through it lose outbound internet access; its Elastic IP is released".to_string()],
            Action::Update => Vec::new(),
        }
    }
}

impl ResourceKind for NatGateway {
    type Desired = Desired;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let Some(network) = &graph.spec.network else { return Vec::new() };
        let pipeline = &graph.spec.pipeline;
        network
            .nat_subnets()
            .into_iter()
            .map(|subnet| {
                let id = id(&subnet.name);
                let tags = ec2_node_tags(graph.spec, &id, &Default::default());
                // On the internet gateway, as AWS recommends for a public NAT gateway (and the
                // Terraform provider's documentation): deleted before it, so the gateway's
                // address never blocks detaching it. The public route table routes through the
                // same gateway and needs no order with this one.
                let depends_on = vec![
                    super::vpc::id(pipeline),
                    super::subnet::id(&subnet.name),
                    super::internet_gateway::id(pipeline),
                ];
                graph.node(id, &tags, depends_on, Desired { subnet: subnet.name.clone() })
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
        _desired: &Desired,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        update(ctx, resource, live, detail).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
        delete(ctx, live, detail).await
    }

    /// Every hour it exists, idle or not, plus every GB it processes (a rate).
    fn cost(&self, resource: &DesiredResource, _desired: &Desired, prices: &Prices) -> Vec<CostLine> {
        let (name, item) = (resource.id.to_string(), "NAT gateway (plus data processed)".to_string());
        vec![
            pricing::fixed(&name, item, 1, prices.figure("nat_gateway_hour")),
            pricing::rate(&name, "NAT data processed", "GB", prices.figure("nat_gateway_gb")),
        ]
    }

    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let calls = Ec2Calls {
            describe: &["ec2:DescribeNatGateways", "ec2:DescribeAddresses"],
            create: &["ec2:AllocateAddress", "ec2:CreateNatGateway"],
            // In the pipeline's subnet, with the pipeline's address.
            change: &["ec2:CreateNatGateway"],
            delete: &["ec2:DeleteNatGateway", "ec2:ReleaseAddress"],
        };
        ec2_tags::grants(ctx, &calls)
    }
}

/// An idempotency token for one create: the SDK resends it with its retries, so a create whose
/// answer was lost is not made twice ("Ensuring idempotency in Amazon EC2 API requests"; at most
/// 64 ASCII characters).
pub(super) fn client_token(id: &ResourceId) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    let mut hasher = DefaultHasher::new();
    (id.to_string(), nanos, std::process::id()).hash(&mut hasher);
    format!("pipectl-{:016x}-{nanos:x}", hasher.finish())
}

/// One gateway as DescribeNatGateways reports it.
struct Found {
    id: ResourceId,
    tags: Tags,
    live: Live,
}

/// How much a gateway of this state is the one to manage, when several claim the same name.
fn preference(state: &str) -> u8 {
    match state {
        "available" => 0,
        "pending" => 1,
        "failed" => 2,
        "deleting" => 3,
        _ => 4,
    }
}

/// Builds the live gateways from what the two describes returned: tagged NAT gateways of the
/// pipeline (not `deleted`), and the pipeline's tagged Elastic IPs, so that an address whose
/// gateway never came to be is found too.
fn assemble(
    pipeline: &str,
    gateways: &[aws_sdk_ec2::types::NatGateway],
    addresses: &[aws_sdk_ec2::types::Address],
) -> Vec<LiveResource> {
    let mut found: Vec<Found> = Vec::new();
    for gateway in gateways {
        let tags = from_ec2(gateway.tags());
        // The emulators ignore DescribeNatGateways' tag filter: check the owner here too.
        if !owned_by(&tags, pipeline) {
            continue;
        }
        let state = gateway.state().map(|state| state.as_str().to_string()).unwrap_or_default();
        let (Some(id), Some(nat_id)) = (claimed_id(&tags, KIND), gateway.nat_gateway_id()) else { continue };
        if state == NatGatewayState::Deleted.as_str() {
            continue;
        }
        let failure = match (gateway.failure_code(), gateway.failure_message()) {
            (None, None) => None,
            (code, message) => Some(format!("{}: {}", code.unwrap_or("failed"), message.unwrap_or_default())),
        };
        let addresses = gateway.nat_gateway_addresses();
        found.push(Found {
            id,
            live: Live {
                pipeline: pipeline.to_string(),
                vpc_id: gateway.vpc_id().unwrap_or_default().to_string(),
                subnet_id: gateway.subnet_id().unwrap_or_default().to_string(),
                nat_gateway_id: Some(nat_id.to_string()),
                state,
                failure,
                allocation_ids: addresses.iter().filter_map(|a| a.allocation_id().map(str::to_string)).collect(),
                unused_allocation_ids: Vec::new(),
            },
            tags,
        });
    }
    found.sort_by_key(|gateway| preference(&gateway.live.state));
    let used: Vec<&String> = found.iter().flat_map(|gateway| &gateway.live.allocation_ids).collect();
    let mut unused: BTreeMap<ResourceId, Vec<(String, Tags)>> = BTreeMap::new();
    for address in addresses {
        let tags = from_ec2(address.tags());
        let (Some(id), Some(allocation)) = (claimed_id(&tags, KIND), address.allocation_id()) else { continue };
        if owned_by(&tags, pipeline) && !used.iter().any(|used| *used == allocation) {
            unused.entry(id).or_default().push((allocation.to_string(), tags));
        }
    }
    let mut resources: Vec<LiveResource> = Vec::new();
    for gateway in found {
        let mut live = gateway.live;
        let already = resources.iter().any(|resource| resource.id == gateway.id);
        if !already {
            live.unused_allocation_ids =
                unused.remove(&gateway.id).unwrap_or_default().into_iter().map(|(allocation, _)| allocation).collect();
        }
        let physical = live.nat_gateway_id.clone().unwrap_or_default();
        resources.push(LiveResource::new(gateway.id, physical, gateway.tags, live));
    }
    for (id, mut addresses) in unused {
        let (allocation, tags) = addresses.remove(0);
        let live = Live {
            pipeline: pipeline.to_string(),
            vpc_id: String::new(),
            subnet_id: String::new(),
            nat_gateway_id: None,
            state: "missing".to_string(),
            failure: None,
            allocation_ids: vec![allocation.clone()],
            unused_allocation_ids: addresses.into_iter().map(|(allocation, _)| allocation).collect(),
        };
        resources.push(LiveResource::new(id, allocation, tags, live));
    }
    resources
}

/// One tag-filtered describe of the gateways and one of the addresses, in parallel.
async fn read(ec2: &aws_sdk_ec2::Client, pipeline: &str) -> Result<Vec<LiveResource>, AwsError> {
    let gateways = async {
        ec2.describe_nat_gateways()
            .filter(pipeline_filter(pipeline))
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| aws_error("nat_gateway", "DescribeNatGateways", error))
    };
    let addresses = async {
        ec2.describe_addresses()
            .filters(pipeline_filter(pipeline))
            .send()
            .await
            .map_err(|error| aws_error("nat_gateway", "DescribeAddresses", error))
    };
    let (gateways, addresses) = tokio::try_join!(gateways, addresses)?;
    Ok(assemble(pipeline, &gateways, addresses.addresses()))
}

async fn describe_one(
    ctx: &Context,
    id: &ResourceId,
    nat_id: &str,
) -> Result<Option<aws_sdk_ec2::types::NatGateway>, AwsError> {
    let result = ctx
        .clients
        .ec2
        .describe_nat_gateways()
        .nat_gateway_ids(nat_id)
        .send()
        .await
        .map_err(|error| aws_error(id, "DescribeNatGateways", error));
    match result {
        Ok(output) => Ok(output.nat_gateways().first().cloned()),
        Err(error) => error.unless_not_found(None),
    }
}

/// Waits until the gateway is `available`; `failed` ends the wait with AWS's reason.
async fn wait_available(ctx: &Context, id: &ResourceId, nat_id: &str) -> Result<(), AwsError> {
    wait_until(id, AVAILABLE, ctx.wait, &ctx.progress, || async {
        let gateway = describe_one(ctx, id, nat_id).await?;
        Ok(match gateway.as_ref().and_then(|gateway| gateway.state()) {
            Some(NatGatewayState::Available) => Poll::Ready,
            Some(NatGatewayState::Failed) => {
                let gateway = gateway.as_ref();
                Poll::Failed(format!(
                    "{}: {} (the next plan replaces it)",
                    gateway.and_then(|g| g.failure_code()).unwrap_or("failed"),
                    gateway.and_then(|g| g.failure_message()).unwrap_or_default()
                ))
            }
            Some(state) => Poll::Pending(state.as_str().to_string()),
            None => Poll::Pending("not visible yet".to_string()),
        })
    })
    .await
}

async fn allocate(ctx: &Context, resource: &DesiredResource) -> Result<String, AwsError> {
    let output = ctx
        .clients
        .ec2
        .allocate_address()
        .domain(DomainType::Vpc)
        .tag_specifications(tag_specification(ResourceType::ElasticIp, &resource.tags))
        .send()
        .await
        .map_err(|error| aws_error(&resource.id, "AllocateAddress", error))?;
    output
        .allocation_id()
        .map(str::to_string)
        .ok_or_else(|| AwsError::missing(&resource.id, "AllocateAddress", "allocation id"))
}

/// The codes ReleaseAddress answers while AWS still holds the address for a gateway being
/// deleted (see the module comment).
const RELEASE_RETRY_CODES: [&str; 3] = ["InvalidIPAddress.InUse", "InvalidNetworkInterfaceID.NotFound", "AuthFailure"];

/// How often, at most, a progress line repeats that the address is still held.
const REPORT_EVERY: Duration = Duration::from_secs(15);

/// Releases an Elastic IP, waiting (bounded by `--timeout`) while AWS still holds it for a
/// deleted gateway; one released already counts as released.
async fn release(ctx: &Context, id: &ResourceId, allocation: &str) -> Result<(), AwsError> {
    let started = Instant::now();
    let mut interval = ctx.wait.first_interval;
    let mut reported = Instant::now();
    loop {
        let result = ctx
            .clients
            .ec2
            .release_address()
            .allocation_id(allocation)
            .send()
            .await
            .map_err(|error| aws_error(id, "ReleaseAddress", error));
        let error = match result {
            Ok(_) => return Ok(()),
            Err(error) if error.has_code("InvalidAllocationID.NotFound") => return Ok(()),
            Err(error) if RELEASE_RETRY_CODES.iter().any(|code| error.has_code(code)) => error,
            Err(error) => return Err(error),
        };
        let elapsed = started.elapsed();
        if elapsed >= ctx.wait.timeout {
            // Without its code: `InvalidNetworkInterfaceID.NotFound` must not read as "gone".
            return Err(AwsError {
                code: None,
                message: format!(
                    "{}; Elastic IP {allocation} still held {}s after its NAT gateway was deleted (raise --timeout, or release it by hand)",
                    error.message,
                    elapsed.as_secs()
                ),
                ..error
            });
        }
        if reported.elapsed() >= REPORT_EVERY {
            ctx.progress.line(&format!(
                "{id}: AWS still holds Elastic IP {allocation} for the deleted gateway, retrying ({}s so far)",
                elapsed.as_secs()
            ));
            reported = Instant::now();
        }
        tokio::time::sleep(interval).await;
        interval = interval.mul_f64(1.5).min(ctx.wait.max_interval);
    }
}

async fn create(ctx: &Context, resource: &DesiredResource, desired: &Desired) -> Result<String, AwsError> {
    let id = &resource.id;
    let subnet = ctx.physical_id(&super::subnet::id(&desired.subnet))?;
    let allocation = allocate(ctx, resource).await?;
    let created = ctx
        .while_fresh(id, || async {
            ctx.clients
                .ec2
                .create_nat_gateway()
                .subnet_id(&subnet)
                .allocation_id(&allocation)
                .connectivity_type(ConnectivityType::Public)
                .client_token(client_token(id))
                .tag_specifications(tag_specification(ResourceType::Natgateway, &resource.tags))
                .send()
                .await
                .map_err(|error| aws_error(id, "CreateNatGateway", error))
        })
        .await;
    let nat_id = match created {
        Ok(output) => output
            .nat_gateway()
            .and_then(|gateway| gateway.nat_gateway_id())
            .ok_or_else(|| AwsError::missing(id, "CreateNatGateway", "NAT gateway id"))?
            .to_string(),
        Err(error) => {
            // Nothing uses the address: give it back now rather than leave it to the next run.
            if let Err(release_error) = release(ctx, id, &allocation).await {
                ctx.progress.line(&format!("{id}: could not release Elastic IP {allocation}: {release_error}"));
            }
            return Err(error);
        }
    };
    ctx.created(&nat_id);
    wait_available(ctx, id, &nat_id).await?;
    Ok(nat_id)
}

/// Finishes what a crashed run left (a gateway still `pending`), releases stray addresses, and
/// syncs the tags of the gateway and its address.
async fn update(ctx: &Context, resource: &DesiredResource, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
    let id = &resource.id;
    if let (Some(nat_id), "pending") = (&detail.nat_gateway_id, detail.state.as_str()) {
        wait_available(ctx, id, nat_id).await?;
    }
    for allocation in &detail.unused_allocation_ids {
        release(ctx, id, allocation).await?;
    }
    sync(ctx, live, &resource.tags).await?;
    if !detail.allocation_ids.is_empty() {
        ctx.clients
            .ec2
            .create_tags()
            .set_resources(Some(detail.allocation_ids.clone()))
            .set_tags(Some(to_ec2(&resource.tags)))
            .send()
            .await
            .map_err(|error| aws_error(id, "CreateTags", error))?;
    }
    Ok(())
}

/// Deletes the gateway, waits until it is `deleted`, then releases its addresses.
async fn delete(ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
    let id = &live.id;
    if let Some(nat_id) = &detail.nat_gateway_id {
        if detail.state != "deleting" {
            let result = ctx
                .clients
                .ec2
                .delete_nat_gateway()
                .nat_gateway_id(nat_id)
                .send()
                .await
                .map_err(|error| aws_error(id, "DeleteNatGateway", error));
            result.map(drop).or_else(|error| error.unless_not_found(()))?;
        }
        wait_until(id, "deleted", ctx.wait, &ctx.progress, || async {
            let gateway = describe_one(ctx, id, nat_id).await?;
            Ok(match gateway.as_ref().and_then(|gateway| gateway.state()) {
                None | Some(NatGatewayState::Deleted) => Poll::Ready,
                Some(state) => Poll::Pending(state.as_str().to_string()),
            })
        })
        .await?;
    }
    for allocation in detail.allocation_ids.iter().chain(&detail.unused_allocation_ids) {
        release(ctx, id, allocation).await?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use aws_sdk_ec2::operation::allocate_address::AllocateAddressOutput;
    use aws_sdk_ec2::operation::create_nat_gateway::CreateNatGatewayOutput;
    use aws_sdk_ec2::operation::delete_nat_gateway::DeleteNatGatewayOutput;
    use aws_sdk_ec2::operation::describe_nat_gateways::DescribeNatGatewaysOutput;
    use aws_sdk_ec2::operation::release_address::ReleaseAddressOutput;
    use aws_sdk_ec2::types::{Address, NatGatewayAddress, Tag};
    use aws_sdk_ec2::Client;
    use aws_smithy_mocks::{mock, Rule, RuleMode};

    use super::*;
    use crate::model::{LiveState, PIPELINE_TAG, RESOURCE_TAG};

    /// An EC2 client answering from `rules`, in any order.
    pub(crate) fn ec2_client(rules: &[&Rule]) -> Client {
        crate::resources::test_support::ec2_client(RuleMode::MatchAny, rules)
    }

    pub(crate) use crate::resources::test_support::ec2_error;

    pub(crate) fn context(ec2: Client, known: &[(ResourceId, &str)]) -> Context {
        let mut clients = crate::resources::test_support::clients();
        clients.ec2 = ec2;
        let mut live = LiveState::default();
        for (id, physical) in known {
            let resource = crate::resources::test_support::live_vpc(id.clone(), physical, "10.0.0.0/16");
            live.resources.insert(id.clone(), resource);
        }
        crate::resources::test_support::context(clients, Duration::from_secs(5), &live)
    }

    pub(crate) fn tags(pipeline: &str, resource: &str) -> Vec<Tag> {
        vec![
            Tag::builder().key(PIPELINE_TAG).value(pipeline).build(),
            Tag::builder().key(RESOURCE_TAG).value(resource).build(),
        ]
    }

    /// A gateway as DescribeNatGateways returns it ("NatGateway", EC2 API Reference).
    fn gateway(nat: &str, state: NatGatewayState, allocation: &str, pipeline: &str) -> aws_sdk_ec2::types::NatGateway {
        gateway_builder(nat, state, allocation, pipeline).build()
    }

    fn gateway_builder(
        nat: &str,
        state: NatGatewayState,
        allocation: &str,
        pipeline: &str,
    ) -> aws_sdk_ec2::types::builders::NatGatewayBuilder {
        aws_sdk_ec2::types::NatGateway::builder()
            .nat_gateway_id(nat)
            .vpc_id("vpc-1")
            .subnet_id("subnet-public")
            .state(state)
            .connectivity_type(ConnectivityType::Public)
            .nat_gateway_addresses(
                NatGatewayAddress::builder()
                    .allocation_id(allocation)
                    .network_interface_id("eni-1")
                    .private_ip("10.0.0.12")
                    .public_ip("203.0.113.7")
                    .build(),
            )
            .set_tags(Some(tags(pipeline, "nat_gateway/public-a")))
    }

    fn address(allocation: &str, pipeline: &str) -> Address {
        Address::builder()
            .allocation_id(allocation)
            .public_ip("203.0.113.9")
            .domain(DomainType::Vpc)
            .set_tags(Some(tags(pipeline, "nat_gateway/public-a")))
            .build()
    }

    fn describe(resources: Vec<LiveResource>, known: &[(ResourceId, &str)]) -> LiveState {
        let mut state = LiveState::default();
        for (id, physical) in known {
            state
                .resources
                .insert(id.clone(), crate::resources::test_support::live_vpc(id.clone(), physical, "10.0.0.0/16"));
        }
        for resource in resources {
            state.resources.insert(resource.id.clone(), resource);
        }
        state.describe();
        state
    }

    fn known() -> Vec<(ResourceId, &'static str)> {
        vec![(super::super::subnet::id("public-a"), "subnet-public"), (super::super::vpc::id("p"), "vpc-1")]
    }

    #[test]
    fn an_available_gateway_reads_as_the_spec_writes_it_and_depends_on_the_internet_gateway() {
        let gateways = [
            gateway("nat-1", NatGatewayState::Available, "eipalloc-1", "p"),
            // Another pipeline's gateway, which the emulators return despite the tag filter.
            gateway("nat-9", NatGatewayState::Available, "eipalloc-9", "other"),
            // A gateway deleted earlier is still listed for a while.
            gateway("nat-0", NatGatewayState::Deleted, "eipalloc-0", "p"),
        ];
        let resources = assemble("p", &gateways, &[address("eipalloc-1", "p")]);
        assert_eq!(resources.len(), 1);
        let state = describe(resources, &known());
        let live = &state.resources[&id("public-a")];
        assert_eq!(live.physical_id, "nat-1");
        assert_eq!(live.attributes.get("subnet"), Some(&json!("public-a")));
        assert_eq!(live.attributes.get("state"), Some(&json!("available")));
        let desired = Desired { subnet: "public-a".to_string() }.attributes();
        assert_eq!(live.attributes.get("unused_elastic_ips"), None);
        assert!(desired.iter().all(|(key, value)| live.attributes.get(key) == Some(value)));
        let depends: Vec<String> = live.depends_on.iter().map(ToString::to_string).collect();
        assert_eq!(depends, ["subnet/public-a", "vpc/p", "internet_gateway/p"]);
        assert_eq!(live.detail::<Live>().unwrap().allocation_ids, ["eipalloc-1"]);
    }

    #[test]
    fn a_failed_gateway_or_a_lone_address_is_replaced_and_strays_are_released() {
        let failed_gateway = gateway_builder("nat-2", NatGatewayState::Failed, "eipalloc-2", "p")
            .failure_code("Gateway.NotAttached")
            .failure_message("Network vpc-1 has no Internet gateway attached")
            .build();
        let state = describe(assemble("p", &[failed_gateway], &[address("eipalloc-3", "p")]), &known());
        let live = &state.resources[&id("public-a")];
        assert_eq!(
            live.attributes["state"],
            json!("failed (Gateway.NotAttached: Network vpc-1 has no Internet gateway attached)")
        );
        assert!(KIND.forces_replacement("state"));
        assert_eq!(live.attributes["unused_elastic_ips"], json!(["eipalloc-3"]));

        // A create that died after AllocateAddress: the address alone stands for the gateway.
        let state =
            describe(assemble("p", &[], &[address("eipalloc-4", "p"), address("eipalloc-5", "other")]), &known());
        let live = &state.resources[&id("public-a")];
        assert_eq!(live.physical_id, "eipalloc-4");
        assert_eq!(live.attributes["state"], json!("missing (Elastic IP eipalloc-4 without its NAT gateway)"));
        assert_eq!(state.resources.len(), 3);
    }

    #[test]
    fn creating_and_deleting_tell_what_it_costs() {
        assert!(KIND.change_notes(Action::Create, None, None)[0].contains("billed for every hour"));
        assert!(KIND.change_notes(Action::Delete, None, None)[0].contains("Elastic IP is released"));
        assert!(KIND.lives_in(super::super::subnet::KIND));
    }

    #[tokio::test]
    async fn create_allocates_a_tagged_address_then_waits_for_available() {
        let allocate = mock!(Client::allocate_address)
            .match_requests(|request| {
                request.domain() == Some(&DomainType::Vpc)
                    && request.tag_specifications().first().and_then(|spec| spec.resource_type())
                        == Some(&ResourceType::ElasticIp)
                    && request.tag_specifications()[0].tags().iter().any(|tag| tag.key() == Some(RESOURCE_TAG))
            })
            .then_output(|| {
                AllocateAddressOutput::builder().allocation_id("eipalloc-1").public_ip("203.0.113.7").build()
            });
        let create = mock!(Client::create_nat_gateway)
            .match_requests(|request| {
                request.subnet_id() == Some("subnet-public")
                    && request.allocation_id() == Some("eipalloc-1")
                    && request.connectivity_type() == Some(&ConnectivityType::Public)
                    && request.client_token().is_some_and(|token| token.len() <= 64)
                    && request.tag_specifications()[0].resource_type() == Some(&ResourceType::Natgateway)
            })
            .then_output(|| {
                CreateNatGatewayOutput::builder()
                    .nat_gateway(gateway("nat-1", NatGatewayState::Pending, "eipalloc-1", "p"))
                    .build()
            });
        let describe = mock!(Client::describe_nat_gateways)
            .sequence()
            .output(|| {
                DescribeNatGatewaysOutput::builder()
                    .nat_gateways(gateway("nat-1", NatGatewayState::Pending, "eipalloc-1", "p"))
                    .build()
            })
            .times(2)
            .output(|| {
                DescribeNatGatewaysOutput::builder()
                    .nat_gateways(gateway("nat-1", NatGatewayState::Available, "eipalloc-1", "p"))
                    .build()
            })
            .build();
        let ctx = context(ec2_client(&[&allocate, &create, &describe]), &known());
        let resource = crate::model::DesiredResource {
            id: id("public-a"),
            tags: Tags::from([(RESOURCE_TAG.to_string(), "nat_gateway/public-a".to_string())]),
            depends_on: Vec::new(),
            config: std::sync::Arc::new(Desired { subnet: "public-a".to_string() }),
        };
        let nat = super::create(&ctx, &resource, &Desired { subnet: "public-a".to_string() }).await.unwrap();
        assert_eq!(nat, "nat-1");
        assert_eq!((allocate.num_calls(), create.num_calls(), describe.num_calls()), (1, 1, 3));
    }

    #[tokio::test]
    async fn a_failed_create_releases_the_address_it_allocated() {
        let allocate = mock!(Client::allocate_address)
            .then_output(|| AllocateAddressOutput::builder().allocation_id("eipalloc-1").build());
        let create = mock!(Client::create_nat_gateway).then_http_response(|| {
            ec2_error("InvalidSubnetID.NotFound", "The subnet ID 'subnet-public' does not exist")
        });
        let release = mock!(Client::release_address)
            .match_requests(|request| request.allocation_id() == Some("eipalloc-1"))
            .then_output(|| ReleaseAddressOutput::builder().build());
        let ctx = context(ec2_client(&[&allocate, &create, &release]), &known());
        let resource = crate::model::DesiredResource {
            id: id("public-a"),
            tags: Tags::new(),
            depends_on: Vec::new(),
            config: std::sync::Arc::new(Desired { subnet: "public-a".to_string() }),
        };
        let error = super::create(&ctx, &resource, &Desired { subnet: "public-a".to_string() }).await.unwrap_err();
        assert!(error.has_code("InvalidSubnetID.NotFound"), "{error}");
        assert_eq!(release.num_calls(), 1);
    }

    fn live_gateway(state: &str) -> LiveResource {
        let live = Live {
            pipeline: "p".to_string(),
            vpc_id: "vpc-1".to_string(),
            subnet_id: "subnet-public".to_string(),
            nat_gateway_id: Some("nat-1".to_string()),
            state: state.to_string(),
            failure: None,
            allocation_ids: vec!["eipalloc-1".to_string()],
            unused_allocation_ids: vec![],
        };
        LiveResource::new(id("public-a"), "nat-1", Tags::new(), live)
    }

    #[tokio::test]
    async fn delete_waits_for_deleted_then_retries_the_release_while_aws_still_holds_the_address() {
        let delete = mock!(Client::delete_nat_gateway)
            .then_output(|| DeleteNatGatewayOutput::builder().nat_gateway_id("nat-1").build());
        let describe = mock!(Client::describe_nat_gateways)
            .sequence()
            .output(|| {
                DescribeNatGatewaysOutput::builder()
                    .nat_gateways(gateway("nat-1", NatGatewayState::Deleting, "eipalloc-1", "p"))
                    .build()
            })
            .output(|| {
                DescribeNatGatewaysOutput::builder()
                    .nat_gateways(gateway("nat-1", NatGatewayState::Deleted, "eipalloc-1", "p"))
                    .build()
            })
            .build();
        // Right after the gateway is gone, AWS may still see the address in use.
        let release = mock!(Client::release_address)
            .sequence()
            .http_response(|| {
                ec2_error("InvalidIPAddress.InUse", "The address with allocation id [eipalloc-1] is in use.")
            })
            .http_response(|| {
                ec2_error("InvalidNetworkInterfaceID.NotFound", "The networkInterface ID 'eni-1' does not exist")
            })
            .output(|| ReleaseAddressOutput::builder().build())
            .build();
        let ctx = context(ec2_client(&[&delete, &describe, &release]), &known());
        let live = live_gateway("available");
        super::delete(&ctx, &live, live.detail::<Live>().unwrap()).await.unwrap();
        assert_eq!((delete.num_calls(), describe.num_calls(), release.num_calls()), (1, 2, 3));
    }

    #[tokio::test]
    async fn an_address_released_already_is_done_and_other_errors_stop() {
        let released = mock!(Client::release_address).then_http_response(|| {
            ec2_error("InvalidAllocationID.NotFound", "The allocation ID 'eipalloc-1' does not exist")
        });
        let ctx = context(ec2_client(&[&released]), &known());
        release(&ctx, &id("public-a"), "eipalloc-1").await.unwrap();
        let denied = mock!(Client::release_address).then_http_response(|| {
            ec2_error("UnauthorizedOperation", "You are not authorized to perform this operation.")
        });
        let ctx = context(ec2_client(&[&denied]), &known());
        let error = release(&ctx, &id("public-a"), "eipalloc-1").await.unwrap_err();
        assert!(error.has_code("UnauthorizedOperation"), "{error}");
        assert_eq!(denied.num_calls(), 1);
    }

    #[tokio::test]
    async fn the_release_wait_is_bounded_and_never_reads_as_released() {
        let held = mock!(Client::release_address).then_http_response(|| {
            ec2_error("InvalidNetworkInterfaceID.NotFound", "The networkInterface ID 'eni-1' does not exist")
        });
        let mut ctx = context(ec2_client(&[&held]), &known());
        ctx.wait.timeout = Duration::from_millis(30);
        let error = release(&ctx, &id("public-a"), "eipalloc-1").await.unwrap_err();
        assert!(!error.is_not_found(), "{error}");
        assert!(error.message.contains("still held"), "{error}");
        assert!(held.num_calls() > 1);
    }

    #[tokio::test]
    async fn a_gateway_already_deleting_is_only_waited_for() {
        let describe = mock!(Client::describe_nat_gateways)
            .then_http_response(|| ec2_error("NatGatewayNotFound", "The Nat Gateway nat-1 was not found"));
        let release = mock!(Client::release_address).then_output(|| ReleaseAddressOutput::builder().build());
        let ctx = context(ec2_client(&[&describe, &release]), &known());
        let live = live_gateway("deleting");
        super::delete(&ctx, &live, live.detail::<Live>().unwrap()).await.unwrap();
        assert_eq!((describe.num_calls(), release.num_calls()), (1, 1));
    }

    #[test]
    fn client_tokens_are_short_and_differ() {
        let (a, b) = (client_token(&id("a")), client_token(&id("b")));
        assert!(a.len() <= 64 && a.is_ascii(), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn a_nat_gateway_and_its_address_are_made_tagged_and_released_only_when_they_are_the_pipelines() {
        let spec = crate::spec::SpecBuilder::new().build();
        crate::resources::test_support::assert_granted(
            &NatGateway,
            &spec,
            &[
                ("ec2:DescribeAddresses", &["ReadWhatCannotBeScoped"]),
                ("ec2:AllocateAddress", &["CreateTaggedNetwork"]),
                ("ec2:CreateNatGateway", &["CreateTaggedNetwork", "ChangeOwnNetwork"]),
                ("ec2:ReleaseAddress", &["ChangeOwnNetwork"]),
                ("ec2:DeleteTags", &["ChangeOwnNetwork"]),
            ],
        );
    }
}

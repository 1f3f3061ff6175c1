//! VPC endpoints (`network.endpoints`): `vpc_endpoint/<name>`.
//!
//! - Gateway endpoints (`s3`, `dynamodb`) sit on the route tables of the private subnets; AWS adds
//!   and removes their prefix-list routes itself. Their route tables change in place
//!   (ModifyVpcEndpoint `AddRouteTableIds`/`RemoveRouteTableIds`). They cost nothing.
//! - Interface endpoints put a network interface in one private subnet of each zone ("you can
//!   specify only one subnet per Availability Zone", CreateVpcEndpoint `SubnetIds`), behind the
//!   security group `security_group/vpc-endpoints` that this module adds to the graph (HTTPS from
//!   the VPC's block), with private DNS on, so the service's usual name resolves to them (that
//!   needs the VPC's DNS support and DNS hostnames, which the VPC has). They are billed per hour
//!   per zone and per GB ("AWS PrivateLink pricing"). Subnets, groups and private DNS change in
//!   place.
//! - The service is `com.amazonaws.<region>.<service>` (`names::endpoint_service_name`, with the
//!   China regions' `cn.` prefix); a new service or type replaces the endpoint.
//!
//! An interface endpoint becomes `available` after `pending`; DeleteVpcEndpoints reports failures
//! per endpoint in `Unsuccessful` rather than as an error, and a deleted endpoint is listed as
//! `deleted` for a while. Delete waits until it is gone, so that its subnets, security group and
//! route tables can go next.

use aws_sdk_ec2::types::{ResourceType, State, VpcEndpointType};
use serde_json::json;

use super::kit::ec2_tags::{self, Ec2Calls};
use super::kit::ec2_tags::{ec2_node_tags, from_ec2, pipeline_filter, sync, tag_specification};
use super::kit::wait::{wait_until, Poll};
use super::kit::{
    aws_error, claimed_id, owned_by, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, ReadContext,
    ResourceKind,
};
use crate::model::{
    Action, Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::names::{endpoint_service, endpoint_service_name, EndpointType, ENDPOINT_SECURITY_GROUP};
use crate::pricing::{self, CostLine, Prices};
use crate::spec::{self, Ports, Rule};

pub struct VpcEndpoint;
pub const KIND: Kind = Kind::of(&VpcEndpoint);

/// The endpoint the spec lists as `name`.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

const AVAILABLE: &str = "available";

/// An endpoint: its service and where it sits (spec names).
#[derive(Debug, Clone)]
pub struct Desired {
    /// AWS's service name, `com.amazonaws.<region>.<service>`.
    pub service_name: String,
    pub kind: EndpointType,
    /// Gateway endpoints: the route tables it is on.
    pub route_tables: Vec<String>,
    /// Interface endpoints: one private subnet per zone.
    pub subnets: Vec<String>,
    /// Interface endpoints: the security group of its network interfaces.
    pub security_groups: Vec<String>,
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

fn type_name(kind: EndpointType) -> &'static str {
    match kind {
        EndpointType::Gateway => "gateway",
        EndpointType::Interface => "interface",
    }
}

impl DesiredConfig for Desired {
    fn attributes(&self) -> Attributes {
        let mut attributes = Attributes::from([
            ("service".to_string(), json!(self.service_name)),
            ("type".to_string(), json!(type_name(self.kind))),
            ("state".to_string(), json!(AVAILABLE)),
        ]);
        match self.kind {
            EndpointType::Gateway => {
                attributes.insert("route_tables".to_string(), json!(sorted(self.route_tables.clone())));
            }
            EndpointType::Interface => {
                attributes.insert("subnets".to_string(), json!(sorted(self.subnets.clone())));
                attributes.insert("security_groups".to_string(), json!(sorted(self.security_groups.clone())));
                attributes.insert("private_dns".to_string(), json!(true));
            }
        }
        attributes
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub vpc_id: String,
    pub service_name: String,
    pub kind: EndpointType,
    /// AWS's state in lower case: `pendingacceptance`, `pending`, `available`, `deleting`, …
    pub state: String,
    pub route_table_ids: Vec<String>,
    pub subnet_ids: Vec<String>,
    pub group_ids: Vec<String>,
    pub private_dns: bool,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let named = |ids: &[String]| sorted(ids.iter().map(|id| names.name(id)).collect());
        let state = match self.state.as_str() {
            "pendingacceptance" | "pending" | "available" => AVAILABLE,
            other => other,
        };
        let mut attributes = Attributes::from([
            ("service".to_string(), json!(self.service_name)),
            ("type".to_string(), json!(type_name(self.kind))),
            ("state".to_string(), json!(state)),
        ]);
        match self.kind {
            EndpointType::Gateway => {
                attributes.insert("route_tables".to_string(), json!(named(&self.route_table_ids)));
            }
            EndpointType::Interface => {
                attributes.insert("subnets".to_string(), json!(named(&self.subnet_ids)));
                attributes.insert("security_groups".to_string(), json!(named(&self.group_ids)));
                attributes.insert("private_dns".to_string(), json!(self.private_dns));
            }
        }
        let mut depends_on: Vec<ResourceId> = Vec::new();
        let physical = self.route_table_ids.iter().chain(&self.subnet_ids).chain(&self.group_ids);
        for id in physical.chain(std::iter::once(&self.vpc_id)).filter_map(|physical| names.id(physical)) {
            if !depends_on.contains(id) {
                depends_on.push(id.clone());
            }
        }
        (attributes, depends_on)
    }
}

impl KindRules for VpcEndpoint {
    fn name(&self) -> &'static str {
        "vpc_endpoint"
    }
    fn rank(&self) -> u8 {
        130
    }
    fn forces_replacement(&self, field: &str) -> bool {
        matches!(field, "service" | "type" | "state")
    }
    /// An interface endpoint has a network interface in each of its subnets: a replaced subnet
    /// cannot be deleted under it, so the endpoint is replaced with it.
    fn lives_in(&self, container: Kind) -> bool {
        container == super::vpc::KIND || container == super::subnet::KIND
    }
    fn change_notes(&self, action: Action, _before: Option<&Attributes>, after: Option<&Attributes>) -> Vec<String> {
        let interface = after.and_then(|after| after.get("type")) == Some(&json!("interface"));
        match action {
            Action::Create | Action::Replace if interface => vec![
                "an interface endpoint is billed for every hour it exists in each zone and every GB it processes (AWS PrivateLink pricing)"
                    .to_string(),
            ],
            _ => Vec::new(),
        }
    }
}

/// The security group of the interface endpoints: HTTPS from anywhere in the VPC.
fn endpoint_group(graph: &GraphContext, vpc_cidr: &str) -> DesiredResource {
    let id = super::security_group::id(ENDPOINT_SECURITY_GROUP);
    let group = spec::SecurityGroup {
        name: ENDPOINT_SECURITY_GROUP.to_string(),
        description: "HTTPS from the VPC to its interface endpoints (pipectl)".to_string(),
        ingress: vec![Rule {
            protocol: "tcp".to_string(),
            ports: Some(Ports::Single(443)),
            cidr: Some(vpc_cidr.to_string()),
            group: None,
            description: Some("HTTPS from the VPC".to_string()),
        }],
        egress: None,
    };
    let tags = ec2_node_tags(graph.spec, &id, &Default::default());
    let vpc = super::vpc::id(&graph.spec.pipeline);
    graph.node(id, &tags, vec![vpc], super::security_group::Desired::from(group))
}

impl ResourceKind for VpcEndpoint {
    type Desired = Desired;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let Some(network) = &graph.spec.network else { return Vec::new() };
        let vpc = super::vpc::id(&graph.spec.pipeline);
        let private: Vec<&spec::Subnet> = network.subnets.iter().filter(|subnet| !subnet.public).collect();
        // One private subnet per zone: the first the spec lists there.
        let mut per_zone: Vec<&spec::Subnet> = Vec::new();
        for subnet in &private {
            if !per_zone.iter().any(|chosen| chosen.availability_zone == subnet.availability_zone) {
                per_zone.push(subnet);
            }
        }
        let mut nodes = Vec::new();
        let mut group_added = false;
        for name in &network.endpoints {
            let Some(service) = endpoint_service(name) else { continue };
            let service_name = endpoint_service_name(&graph.arns.partition, &graph.spec.region, service);
            let id = id(name);
            let mut depends_on = vec![vpc.clone()];
            let desired = match service.kind {
                EndpointType::Gateway => {
                    let tables: Vec<ResourceId> =
                        private.iter().map(|subnet| super::route_table::private_id(&subnet.name)).collect();
                    let route_tables = tables.iter().map(|table| table.name.clone()).collect();
                    depends_on.extend(tables);
                    Desired { service_name, kind: service.kind, route_tables, subnets: vec![], security_groups: vec![] }
                }
                EndpointType::Interface => {
                    if !group_added {
                        nodes.push(endpoint_group(graph, &network.vpc.cidr));
                        group_added = true;
                    }
                    let subnets: Vec<String> = per_zone.iter().map(|subnet| subnet.name.clone()).collect();
                    depends_on.extend(subnets.iter().map(|subnet| super::subnet::id(subnet)));
                    depends_on.push(super::security_group::id(ENDPOINT_SECURITY_GROUP));
                    Desired {
                        service_name,
                        kind: service.kind,
                        route_tables: vec![],
                        subnets,
                        security_groups: vec![ENDPOINT_SECURITY_GROUP.to_string()],
                    }
                }
            };
            let tags = ec2_node_tags(graph.spec, &id, &Default::default());
            nodes.push(graph.node(id, &tags, depends_on, desired));
        }
        nodes
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

    /// An interface endpoint: every hour in each zone it sits in, idle or not, plus every GB it
    /// processes, a rate ("AWS PrivateLink pricing"). Gateway endpoints are free.
    fn cost(&self, resource: &DesiredResource, desired: &Desired, prices: &Prices) -> Vec<CostLine> {
        if desired.kind == EndpointType::Gateway {
            return Vec::new();
        }
        let zones = i64::try_from(desired.subnets.len()).unwrap_or(i64::MAX);
        let item =
            format!("interface endpoint in {zones} zone{} (plus data processed)", if zones == 1 { "" } else { "s" });
        let name = resource.id.to_string();
        vec![
            pricing::fixed(&name, item, zones, prices.figure("vpc_interface_endpoint_zone_hour")),
            pricing::rate(&name, "interface endpoint data processed", "GB", prices.figure("vpc_interface_endpoint_gb")),
        ]
    }

    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let calls = Ec2Calls {
            describe: &["ec2:DescribeVpcEndpoints"],
            create: &["ec2:CreateVpcEndpoint"],
            // In the pipeline's VPC, on its route tables, subnets and security group.
            change: &["ec2:CreateVpcEndpoint", "ec2:ModifyVpcEndpoint"],
            delete: &["ec2:DeleteVpcEndpoints"],
        };
        ec2_tags::grants(ctx, &calls)
    }
}

/// An endpoint's state in lower case: AWS answers `available`, `pendingAcceptance`, … (the
/// DescribeVpcEndpoints examples), while the SDK's enum spells its known values `Available`.
fn lowercase(state: &State) -> String {
    state.as_str().to_ascii_lowercase()
}

fn endpoint_type(kind: Option<&VpcEndpointType>) -> Option<EndpointType> {
    match kind {
        Some(VpcEndpointType::Gateway) => Some(EndpointType::Gateway),
        Some(VpcEndpointType::Interface) => Some(EndpointType::Interface),
        _ => None,
    }
}

fn live_endpoint(endpoint: &aws_sdk_ec2::types::VpcEndpoint, pipeline: &str) -> Option<LiveResource> {
    let tags = from_ec2(endpoint.tags());
    let state = endpoint.state().map(lowercase).unwrap_or_default();
    if !owned_by(&tags, pipeline) || state == "deleted" {
        return None;
    }
    let live = Live {
        vpc_id: endpoint.vpc_id().unwrap_or_default().to_string(),
        service_name: endpoint.service_name().unwrap_or_default().to_string(),
        kind: endpoint_type(endpoint.vpc_endpoint_type())?,
        state,
        route_table_ids: endpoint.route_table_ids().to_vec(),
        subnet_ids: endpoint.subnet_ids().to_vec(),
        group_ids: endpoint.groups().iter().filter_map(|group| group.group_id().map(str::to_string)).collect(),
        private_dns: endpoint.private_dns_enabled().unwrap_or(false),
    };
    Some(LiveResource::new(claimed_id(&tags, KIND)?, endpoint.vpc_endpoint_id()?, tags, live))
}

async fn read(ec2: &aws_sdk_ec2::Client, pipeline: &str) -> Result<Vec<LiveResource>, AwsError> {
    let endpoints = ec2
        .describe_vpc_endpoints()
        .filters(pipeline_filter(pipeline))
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| aws_error("vpc_endpoint", "DescribeVpcEndpoints", error))?;
    Ok(endpoints.iter().filter_map(|endpoint| live_endpoint(endpoint, pipeline)).collect())
}

/// The AWS ids of resources of `kind` named `names`.
fn physical_ids(ctx: &Context, names: &[String], id_of: fn(&str) -> ResourceId) -> Result<Vec<String>, AwsError> {
    names.iter().map(|name| ctx.physical_id(&id_of(name))).collect()
}

/// The endpoint's state, or `None` once AWS no longer knows it.
async fn state_of(ctx: &Context, id: &ResourceId, endpoint_id: &str) -> Result<Option<String>, AwsError> {
    let result = ctx
        .clients
        .ec2
        .describe_vpc_endpoints()
        .vpc_endpoint_ids(endpoint_id)
        .send()
        .await
        .map_err(|error| aws_error(id, "DescribeVpcEndpoints", error));
    match result {
        Ok(output) => Ok(output.vpc_endpoints().first().and_then(|endpoint| endpoint.state()).map(lowercase)),
        Err(error) => error.unless_not_found(None),
    }
}

async fn wait_available(ctx: &Context, id: &ResourceId, endpoint_id: &str) -> Result<(), AwsError> {
    wait_until(id, AVAILABLE, ctx.wait, &ctx.progress, || async {
        Ok(match state_of(ctx, id, endpoint_id).await?.as_deref() {
            Some("available") => Poll::Ready,
            Some(state @ ("failed" | "rejected" | "expired" | "deleted" | "deleting")) => {
                Poll::Failed(format!("it is {state} (the next plan replaces it)"))
            }
            Some(state) => Poll::Pending(state.to_string()),
            None => Poll::Pending("not visible yet".to_string()),
        })
    })
    .await
}

async fn create(ctx: &Context, resource: &DesiredResource, desired: &Desired) -> Result<String, AwsError> {
    let id = &resource.id;
    let vpc = ctx.physical_id(&super::vpc::id(&ctx.pipeline))?;
    let request = ctx
        .clients
        .ec2
        .create_vpc_endpoint()
        .vpc_id(vpc)
        .service_name(&desired.service_name)
        .client_token(super::nat_gateway::client_token(id))
        .tag_specifications(tag_specification(ResourceType::VpcEndpoint, &resource.tags));
    let request = match desired.kind {
        EndpointType::Gateway => request
            .vpc_endpoint_type(VpcEndpointType::Gateway)
            .set_route_table_ids(Some(physical_ids(ctx, &desired.route_tables, super::route_table::private_id)?)),
        EndpointType::Interface => request
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .set_subnet_ids(Some(physical_ids(ctx, &desired.subnets, super::subnet::id)?))
            .set_security_group_ids(Some(physical_ids(ctx, &desired.security_groups, super::security_group::id)?))
            .private_dns_enabled(true),
    };
    // The client token makes a retry of a create that went through return the same endpoint.
    let output = ctx
        .while_fresh(id, || async {
            request.clone().send().await.map_err(|error| aws_error(id, "CreateVpcEndpoint", error))
        })
        .await?;
    let endpoint_id = output
        .vpc_endpoint()
        .and_then(|endpoint| endpoint.vpc_endpoint_id())
        .ok_or_else(|| AwsError::missing(id, "CreateVpcEndpoint", "VPC endpoint id"))?
        .to_string();
    ctx.created(&endpoint_id);
    wait_available(ctx, id, &endpoint_id).await?;
    Ok(endpoint_id)
}

/// `(add, remove)`: what turns `live` into `wanted`.
fn difference(wanted: &[String], live: &[String]) -> (Vec<String>, Vec<String>) {
    let add = wanted.iter().filter(|id| !live.contains(id)).cloned().collect();
    let remove = live.iter().filter(|id| !wanted.contains(id)).cloned().collect();
    (add, remove)
}

fn some(ids: Vec<String>) -> Option<Vec<String>> {
    (!ids.is_empty()).then_some(ids)
}

async fn update(
    ctx: &Context,
    resource: &DesiredResource,
    desired: &Desired,
    live: &LiveResource,
    detail: &Live,
) -> Result<(), AwsError> {
    let id = &resource.id;
    let request = ctx.clients.ec2.modify_vpc_endpoint().vpc_endpoint_id(&live.physical_id);
    let (request, changed) = match desired.kind {
        EndpointType::Gateway => {
            let wanted = physical_ids(ctx, &desired.route_tables, super::route_table::private_id)?;
            let (add, remove) = difference(&wanted, &detail.route_table_ids);
            let changed = !add.is_empty() || !remove.is_empty();
            (request.set_add_route_table_ids(some(add)).set_remove_route_table_ids(some(remove)), changed)
        }
        EndpointType::Interface => {
            let subnets = physical_ids(ctx, &desired.subnets, super::subnet::id)?;
            let groups = physical_ids(ctx, &desired.security_groups, super::security_group::id)?;
            let (add_subnets, remove_subnets) = difference(&subnets, &detail.subnet_ids);
            let (add_groups, remove_groups) = difference(&groups, &detail.group_ids);
            let changed = !(add_subnets.is_empty()
                && remove_subnets.is_empty()
                && add_groups.is_empty()
                && remove_groups.is_empty()
                && detail.private_dns);
            let request = request
                .set_add_subnet_ids(some(add_subnets))
                .set_remove_subnet_ids(some(remove_subnets))
                .set_add_security_group_ids(some(add_groups))
                .set_remove_security_group_ids(some(remove_groups));
            let request = if detail.private_dns { request } else { request.private_dns_enabled(true) };
            (request, changed)
        }
    };
    if changed {
        request.send().await.map_err(|error| aws_error(id, "ModifyVpcEndpoint", error))?;
        if desired.kind == EndpointType::Interface {
            wait_available(ctx, id, &live.physical_id).await?;
        }
    }
    sync(ctx, live, &resource.tags).await
}

async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    let id = &live.id;
    let output = ctx
        .clients
        .ec2
        .delete_vpc_endpoints()
        .vpc_endpoint_ids(&live.physical_id)
        .send()
        .await
        .map_err(|error| aws_error(id, "DeleteVpcEndpoints", error))
        .map_err(|error| {
            // Only the endpoint's own not-found means it is gone: the emulators answer
            // `InvalidRoute.NotFound` when they cannot remove a gateway endpoint's route.
            if error.is_not_found() && !error.has_code("InvalidVpcEndpointId.NotFound") {
                AwsError { code: None, ..error }
            } else {
                error
            }
        })?;
    // Failures come back per endpoint, not as the call's error.
    for item in output.unsuccessful() {
        let error = item.error();
        let code = error.and_then(|error| error.code()).unwrap_or("error");
        if !code.contains("NotFound") {
            let message = error.and_then(|error| error.message()).unwrap_or_default();
            return Err(AwsError {
                code: Some(code.to_string()),
                failure: crate::aws::Failure::Service,
                ..AwsError::new(id, "DeleteVpcEndpoints", format!("{code} ({message})"))
            });
        }
    }
    wait_until(id, "deleted", ctx.wait, &ctx.progress, || async {
        Ok(match state_of(ctx, id, &live.physical_id).await?.as_deref() {
            None => Poll::Ready,
            Some("deleted") => Poll::Ready,
            Some(state) => Poll::Pending(state.to_string()),
        })
    })
    .await
}

#[cfg(test)]
mod tests {

    use aws_sdk_ec2::operation::create_vpc_endpoint::CreateVpcEndpointOutput;
    use aws_sdk_ec2::operation::delete_vpc_endpoints::DeleteVpcEndpointsOutput;
    use aws_sdk_ec2::operation::describe_vpc_endpoints::DescribeVpcEndpointsOutput;
    use aws_sdk_ec2::operation::modify_vpc_endpoint::ModifyVpcEndpointOutput;
    use aws_sdk_ec2::types::{SecurityGroupIdentifier, UnsuccessfulItem, UnsuccessfulItemError};
    use aws_sdk_ec2::Client;
    use aws_smithy_mocks::mock;

    use super::super::nat_gateway::tests::{context, ec2_client, tags};
    use super::*;
    use crate::iam::Arns;
    use crate::model::{LiveState, RESOURCE_TAG};
    use crate::resources::graph_in;
    use crate::spec::Spec;

    const SPEC: &str = "version: 1\npipeline: p\nregion: us-east-1\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets:\n    - {name: public-a, cidr: 10.0.0.0/24, availability_zone: us-east-1a, public: true}\n    - {name: private-a, cidr: 10.0.10.0/24, availability_zone: us-east-1a}\n    - {name: private-a2, cidr: 10.0.12.0/24, availability_zone: us-east-1a}\n    - {name: private-b, cidr: 10.0.11.0/24, availability_zone: us-east-1b}\n";

    fn graph(extra: &str, region: &str) -> Vec<DesiredResource> {
        let spec: Spec = serde_saphyr::from_str(&format!("{SPEC}{extra}").replace("us-east-1", region)).unwrap();
        graph_in(&spec, &Arns::new("123456789012", region), chrono::Utc::now())
    }

    fn node<'a>(graph: &'a [DesiredResource], id: &str) -> &'a DesiredResource {
        graph.iter().find(|node| node.id.to_string() == id).unwrap_or_else(|| panic!("no {id}"))
    }

    #[test]
    fn gateway_endpoints_sit_on_every_private_route_table() {
        let graph = graph("  endpoints: [s3, dynamodb]\n", "us-east-1");
        let s3 = node(&graph, "vpc_endpoint/s3");
        let attributes = s3.attributes();
        assert_eq!(attributes["service"], json!("com.amazonaws.us-east-1.s3"));
        assert_eq!(attributes["type"], json!("gateway"));
        assert_eq!(attributes["route_tables"], json!(["private-a", "private-a2", "private-b"]));
        assert_eq!(attributes.get("subnets"), None);
        let depends: Vec<String> = s3.depends_on.iter().map(ToString::to_string).collect();
        assert_eq!(depends, ["vpc/p", "route_table/private-a", "route_table/private-a2", "route_table/private-b"]);
        assert_eq!(s3.tags.get(RESOURCE_TAG).map(String::as_str), Some("vpc_endpoint/s3"));
        assert_eq!(s3.tags.get("Name").map(String::as_str), Some("p-s3"));
        assert!(
            graph.iter().all(|node| node.id.to_string() != "security_group/vpc-endpoints"),
            "no interface endpoint, no group"
        );
        assert!(KIND.change_notes(Action::Create, None, Some(&attributes)).is_empty(), "gateway endpoints are free");
    }

    #[test]
    fn interface_endpoints_take_one_private_subnet_per_zone_and_one_group() {
        let graph = graph("  endpoints: [kinesis-streams, firehose]\n", "us-east-1");
        let kinesis = node(&graph, "vpc_endpoint/kinesis-streams");
        let attributes = kinesis.attributes();
        assert_eq!(attributes["service"], json!("com.amazonaws.us-east-1.kinesis-streams"));
        assert_eq!(attributes["subnets"], json!(["private-a", "private-b"]));
        assert_eq!(attributes["security_groups"], json!(["vpc-endpoints"]));
        assert_eq!(attributes["private_dns"], json!(true));
        let depends: Vec<String> = kinesis.depends_on.iter().map(ToString::to_string).collect();
        assert_eq!(depends, ["vpc/p", "subnet/private-a", "subnet/private-b", "security_group/vpc-endpoints"]);
        assert_eq!(
            node(&graph, "vpc_endpoint/firehose").attributes()["service"],
            json!("com.amazonaws.us-east-1.kinesis-firehose")
        );
        let groups: Vec<&DesiredResource> =
            graph.iter().filter(|node| node.id.to_string() == "security_group/vpc-endpoints").collect();
        assert_eq!(groups.len(), 1);
        let group = groups[0].attributes();
        assert_eq!(group["ingress"], json!(["tcp 443 10.0.0.0/16 (HTTPS from the VPC)"]));
        assert_eq!(group["egress"], json!(["all 0.0.0.0/0"]));
        assert!(KIND.change_notes(Action::Create, None, Some(&attributes))[0].contains("billed"));
    }

    /// The reference cluster is on the Glue catalog in a private subnet without NAT: its nodes
    /// reach Glue through the `glue` endpoint, whose group admits HTTPS from the VPC's block,
    /// which holds the cluster's subnet.
    #[test]
    fn the_reference_cluster_reaches_glue_through_its_endpoint_on_443() {
        let example = include_str!("../../examples/clickstream.yaml");
        let spec = crate::spec::load_bytes("clickstream.yaml", example.as_bytes()).unwrap();
        let graph = graph_in(&spec, &Arns::new("123456789012", "us-east-1"), chrono::Utc::now());
        let glue = node(&graph, "vpc_endpoint/glue").attributes();
        assert_eq!(glue["service"], json!("com.amazonaws.us-east-1.glue"));
        assert_eq!(glue["security_groups"], json!([ENDPOINT_SECURITY_GROUP]));
        let network = spec.network.as_ref().unwrap();
        let cluster = network.subnets.iter().find(|subnet| subnet.name == spec.clusters[0].subnet).unwrap();
        assert!(glue["subnets"].as_array().unwrap().contains(&json!(cluster.name)));
        let group = node(&graph, "security_group/vpc-endpoints").attributes();
        // Validation keeps every subnet inside the VPC's block.
        assert_eq!(group["ingress"], json!([format!("tcp 443 {} (HTTPS from the VPC)", network.vpc.cidr)]));
    }

    #[test]
    fn china_names_some_interface_endpoints_with_cn() {
        let graph = graph("  endpoints: [s3, sts, logs]\n", "cn-north-1");
        assert_eq!(node(&graph, "vpc_endpoint/s3").attributes()["service"], json!("com.amazonaws.cn-north-1.s3"));
        assert_eq!(node(&graph, "vpc_endpoint/sts").attributes()["service"], json!("cn.com.amazonaws.cn-north-1.sts"));
        assert_eq!(node(&graph, "vpc_endpoint/logs").attributes()["service"], json!("com.amazonaws.cn-north-1.logs"));
    }

    /// Endpoints as DescribeVpcEndpoints returns them ("VpcEndpoint", EC2 API Reference).
    fn aws_gateway(state: &str, pipeline: &str) -> aws_sdk_ec2::types::VpcEndpoint {
        aws_sdk_ec2::types::VpcEndpoint::builder()
            .vpc_endpoint_id("vpce-1")
            .vpc_endpoint_type(VpcEndpointType::Gateway)
            .vpc_id("vpc-1")
            .service_name("com.amazonaws.us-east-1.s3")
            .state(State::from(state))
            .route_table_ids("rtb-b")
            .route_table_ids("rtb-a")
            .private_dns_enabled(false)
            .set_tags(Some(tags(pipeline, "vpc_endpoint/s3")))
            .build()
    }

    fn aws_interface(private_dns: bool) -> aws_sdk_ec2::types::VpcEndpoint {
        aws_sdk_ec2::types::VpcEndpoint::builder()
            .vpc_endpoint_id("vpce-2")
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .vpc_id("vpc-1")
            .service_name("com.amazonaws.us-east-1.kinesis-streams")
            .state(State::from("available"))
            .subnet_ids("subnet-a")
            .groups(SecurityGroupIdentifier::builder().group_id("sg-e").group_name("p-vpc-endpoints").build())
            .private_dns_enabled(private_dns)
            .network_interface_ids("eni-1")
            .set_tags(Some(tags("p", "vpc_endpoint/kinesis-streams")))
            .build()
    }

    fn known() -> Vec<(ResourceId, &'static str)> {
        vec![
            (super::super::vpc::id("p"), "vpc-1"),
            (super::super::route_table::private_id("private-a"), "rtb-a"),
            (super::super::route_table::private_id("private-b"), "rtb-b"),
            (super::super::subnet::id("private-a"), "subnet-a"),
            (super::super::subnet::id("private-b"), "subnet-b"),
            (super::super::security_group::id(ENDPOINT_SECURITY_GROUP), "sg-e"),
        ]
    }

    fn described(endpoints: &[aws_sdk_ec2::types::VpcEndpoint]) -> LiveState {
        let mut state = LiveState::default();
        for (id, physical) in known() {
            state.resources.insert(id.clone(), crate::resources::test_support::live_vpc(id, physical, "10.0.0.0/16"));
        }
        for endpoint in endpoints {
            if let Some(live) = live_endpoint(endpoint, "p") {
                state.resources.insert(live.id.clone(), live);
            }
        }
        state.describe();
        state
    }

    #[test]
    fn endpoints_read_back_as_the_spec_writes_them_and_go_before_their_tables_subnets_and_group() {
        let graph = graph("  endpoints: [s3, kinesis-streams]\n", "us-east-1");
        let state = described(&[aws_gateway("available", "p"), aws_interface(true)]);
        let s3 = &state.resources[&id("s3")];
        let mut wanted = node(&graph, "vpc_endpoint/s3").attributes();
        wanted.remove("tags");
        wanted.insert("route_tables".to_string(), json!(["private-a", "private-b"]));
        assert!(wanted.iter().all(|(key, value)| s3.attributes.get(key) == Some(value)), "{:?}", s3.attributes);
        let depends: Vec<String> = s3.depends_on.iter().map(ToString::to_string).collect();
        assert_eq!(depends, ["route_table/private-b", "route_table/private-a", "vpc/p"]);
        let kinesis = &state.resources[&id("kinesis-streams")];
        assert_eq!(kinesis.attributes["subnets"], json!(["private-a"]));
        assert_eq!(kinesis.attributes["security_groups"], json!(["vpc-endpoints"]));
        assert_eq!(kinesis.attributes["private_dns"], json!(true));
        let depends: Vec<String> = kinesis.depends_on.iter().map(ToString::to_string).collect();
        assert_eq!(depends, ["subnet/private-a", "security_group/vpc-endpoints", "vpc/p"]);
    }

    #[test]
    fn deleted_endpoints_and_other_pipelines_are_not_read_and_a_failed_one_is_replaced() {
        // AWS answers states in lower case; the SDK's own enum values are capitalized.
        assert!(live_endpoint(&aws_gateway("deleted", "p"), "p").is_none());
        assert!(live_endpoint(&aws_gateway(State::Deleted.as_str(), "p"), "p").is_none());
        let pending = described(&[aws_gateway("pendingAcceptance", "p")]);
        assert_eq!(pending.resources[&id("s3")].attributes["state"], json!("available"));
        assert!(live_endpoint(&aws_gateway("available", "other"), "p").is_none());
        let state = described(&[aws_gateway("failed", "p")]);
        assert_eq!(state.resources[&id("s3")].attributes["state"], json!("failed"));
        assert!(KIND.forces_replacement("state") && KIND.forces_replacement("service"));
        assert!(!KIND.forces_replacement("route_tables"));
    }

    #[tokio::test]
    async fn route_tables_subnets_and_private_dns_change_in_place() {
        let modify_gateway = mock!(Client::modify_vpc_endpoint)
            .match_requests(|request| {
                request.vpc_endpoint_id() == Some("vpce-1")
                    && request.add_route_table_ids() == ["rtb-c"]
                    && request.remove_route_table_ids() == ["rtb-b"]
            })
            .then_output(|| ModifyVpcEndpointOutput::builder().r#return(true).build());
        let known = [known(), vec![(super::super::route_table::private_id("private-c"), "rtb-c")]].concat();
        let ctx = context(ec2_client(&[&modify_gateway]), &known);
        let gateway = live_endpoint(&aws_gateway("available", "p"), "p").unwrap();
        let desired = Desired {
            service_name: "com.amazonaws.us-east-1.s3".into(),
            kind: EndpointType::Gateway,
            route_tables: vec!["private-a".into(), "private-c".into()],
            subnets: vec![],
            security_groups: vec![],
        };
        let resource = DesiredResource {
            tags: gateway.tags.clone(),
            ..node(&graph("  endpoints: [s3]\n", "us-east-1"), "vpc_endpoint/s3").clone()
        };
        update(&ctx, &resource, &desired, &gateway, gateway.detail::<Live>().unwrap()).await.unwrap();
        assert_eq!(modify_gateway.num_calls(), 1);

        let modify_interface = mock!(Client::modify_vpc_endpoint)
            .match_requests(|request| {
                request.add_subnet_ids() == ["subnet-b"]
                    && request.remove_subnet_ids().is_empty()
                    && request.private_dns_enabled() == Some(true)
            })
            .then_output(|| ModifyVpcEndpointOutput::builder().r#return(true).build());
        let describe = mock!(Client::describe_vpc_endpoints)
            .then_output(|| DescribeVpcEndpointsOutput::builder().vpc_endpoints(aws_interface(true)).build());
        let ctx = context(ec2_client(&[&modify_interface, &describe]), &known);
        let interface = live_endpoint(&aws_interface(false), "p").unwrap();
        let desired = Desired {
            service_name: "com.amazonaws.us-east-1.kinesis-streams".into(),
            kind: EndpointType::Interface,
            route_tables: vec![],
            subnets: vec!["private-a".into(), "private-b".into()],
            security_groups: vec![ENDPOINT_SECURITY_GROUP.into()],
        };
        let resource = DesiredResource { tags: interface.tags.clone(), ..resource };
        update(&ctx, &resource, &desired, &interface, interface.detail::<Live>().unwrap()).await.unwrap();
        assert_eq!((modify_interface.num_calls(), describe.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn create_asks_for_the_service_where_it_sits_then_waits_for_available() {
        let create = mock!(Client::create_vpc_endpoint)
            .match_requests(|request| {
                request.vpc_endpoint_type() == Some(&VpcEndpointType::Interface)
                    && request.service_name() == Some("com.amazonaws.us-east-1.kinesis-streams")
                    && request.subnet_ids() == ["subnet-a", "subnet-b"]
                    && request.security_group_ids() == ["sg-e"]
                    && request.private_dns_enabled() == Some(true)
                    && request.client_token().is_some()
                    && request.tag_specifications()[0].resource_type() == Some(&ResourceType::VpcEndpoint)
            })
            .then_output(|| {
                CreateVpcEndpointOutput::builder()
                    .vpc_endpoint(
                        aws_sdk_ec2::types::VpcEndpoint::builder()
                            .vpc_endpoint_id("vpce-2")
                            .state(State::from("pending"))
                            .build(),
                    )
                    .build()
            });
        let describe = mock!(Client::describe_vpc_endpoints)
            .sequence()
            .output(|| {
                DescribeVpcEndpointsOutput::builder()
                    .vpc_endpoints(
                        aws_sdk_ec2::types::VpcEndpoint::builder()
                            .vpc_endpoint_id("vpce-2")
                            .state(State::from("pending"))
                            .build(),
                    )
                    .build()
            })
            .output(|| DescribeVpcEndpointsOutput::builder().vpc_endpoints(aws_interface(true)).build())
            .build();
        let ctx = context(ec2_client(&[&create, &describe]), &known());
        let graph = graph("  endpoints: [kinesis-streams]\n", "us-east-1");
        let resource = node(&graph, "vpc_endpoint/kinesis-streams");
        let endpoint = super::create(&ctx, resource, resource.config::<Desired>().unwrap()).await.unwrap();
        assert_eq!(endpoint, "vpce-2");
        assert_eq!((create.num_calls(), describe.num_calls()), (1, 2));
    }

    #[tokio::test]
    async fn delete_reads_the_unsuccessful_list_and_waits_until_the_endpoint_is_gone() {
        let delete_ok = mock!(Client::delete_vpc_endpoints).then_output(|| {
            // An endpoint deleted already is reported as unsuccessful with a NotFound code.
            let item = UnsuccessfulItem::builder()
                .resource_id("vpce-1")
                .error(
                    UnsuccessfulItemError::builder()
                        .code("InvalidVpcEndpoint.NotFound")
                        .message("The VpcEndpoint Id 'vpce-1' does not exist")
                        .build(),
                )
                .build();
            DeleteVpcEndpointsOutput::builder().unsuccessful(item).build()
        });
        let describe = mock!(Client::describe_vpc_endpoints)
            .sequence()
            .output(|| DescribeVpcEndpointsOutput::builder().vpc_endpoints(aws_gateway("deleting", "p")).build())
            .output(|| DescribeVpcEndpointsOutput::builder().vpc_endpoints(aws_gateway("deleted", "p")).build())
            .build();
        let ctx = context(ec2_client(&[&delete_ok, &describe]), &known());
        let live = live_endpoint(&aws_gateway("available", "p"), "p").unwrap();
        super::delete(&ctx, &live).await.unwrap();
        assert_eq!(describe.num_calls(), 2);

        let delete_refused = mock!(Client::delete_vpc_endpoints).then_output(|| {
            let item = UnsuccessfulItem::builder()
                .resource_id("vpce-1")
                .error(UnsuccessfulItemError::builder().code("UnauthorizedOperation").message("denied").build())
                .build();
            DeleteVpcEndpointsOutput::builder().unsuccessful(item).build()
        });
        let ctx = context(ec2_client(&[&delete_refused]), &known());
        let error = super::delete(&ctx, &live).await.unwrap_err();
        assert!(error.has_code("UnauthorizedOperation"), "{error}");

        // Another resource's NotFound is not this endpoint being gone.
        let route_missing = mock!(Client::delete_vpc_endpoints).then_http_response(|| {
            super::super::nat_gateway::tests::ec2_error(
                "InvalidRoute.NotFound",
                "no route with destination-cidr-block pl-1 in route table rtb-a",
            )
        });
        let ctx = context(ec2_client(&[&route_missing]), &known());
        let error = super::delete(&ctx, &live).await.unwrap_err();
        assert!(!error.is_not_found() && error.message.contains("InvalidRoute.NotFound"), "{error}");
    }

    #[test]
    fn an_endpoint_is_created_tagged_in_the_pipelines_vpc_and_changed_only_when_it_is_the_pipelines() {
        let spec = crate::spec::SpecBuilder::new().build();
        crate::resources::test_support::assert_granted(
            &VpcEndpoint,
            &spec,
            &[
                ("ec2:DescribeVpcEndpoints", &["ReadWhatCannotBeScoped"]),
                ("ec2:CreateVpcEndpoint", &["CreateTaggedNetwork", "ChangeOwnNetwork"]),
                ("ec2:ModifyVpcEndpoint", &["ChangeOwnNetwork"]),
                ("ec2:DeleteVpcEndpoints", &["ChangeOwnNetwork"]),
            ],
        );
    }
}

//! Network egress on both stacks: a NAT gateway with its Elastic IP, the private subnet's own
//! route table pointing `0.0.0.0/0` at it, an S3 gateway endpoint on that table and a Kinesis
//! interface endpoint with its security group — read back with the SDK; then NAT off (route,
//! gateway and address gone), and destroy leaving nothing tagged.
//!
//! The emulators ignore DescribeNatGateways' tag filter and list deleted gateways and endpoints,
//! so the reads here filter by tag and state themselves (see localstack/README.md).

use aws_sdk_ec2::types::{Filter, NatGateway, RouteTable, VpcEndpoint};

use crate::support::{pipectl, plan_actions, runtime, unique, Scratch, Stack};

const PIPELINE_TAG: &str = "pipectl:pipeline";
const RESOURCE_TAG: &str = "pipectl:resource";

fn spec(pipeline: &str, nat: &str, endpoints: &str) -> String {
    format!(
        "version: 1\npipeline: {pipeline}\nregion: us-east-1\nnetwork:\n  vpc: {{cidr: 10.44.0.0/16}}\n  subnets:\n    - {{name: public-a, cidr: 10.44.0.0/24, availability_zone: us-east-1a, public: true}}\n    - {{name: private-a, cidr: 10.44.10.0/24, availability_zone: us-east-1a}}\n  nat: {nat}\n  endpoints: [{endpoints}]\n"
    )
}

fn tag_filter(pipeline: &str) -> Filter {
    Filter::builder().name(format!("tag:{PIPELINE_TAG}")).values(pipeline).build()
}

fn tag<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|tag| tag.key() == Some(key)).and_then(|tag| tag.value())
}

/// What the emulator holds for the pipeline's network, read with the SDK.
#[derive(Debug, Default)]
struct Held {
    /// Subnet spec name → id.
    subnets: Vec<(String, String)>,
    vpc_cidr: Option<String>,
    /// Gateways of the pipeline that are not deleted.
    nat_gateways: Vec<NatGateway>,
    /// Elastic IPs tagged with the pipeline: (allocation id, resource tag).
    addresses: Vec<(String, String)>,
    route_tables: Vec<RouteTable>,
    /// Endpoints of the pipeline that are not deleted.
    endpoints: Vec<VpcEndpoint>,
    /// Security groups tagged with the pipeline: (resource tag, id, ingress as text).
    groups: Vec<(String, String, Vec<String>)>,
}

impl Held {
    fn subnet(&self, name: &str) -> &str {
        self.subnets.iter().find(|(n, _)| n == name).map(|(_, id)| id.as_str()).unwrap_or("(none)")
    }

    fn table(&self, resource: &str) -> Option<&RouteTable> {
        self.route_tables.iter().find(|table| tag(table.tags(), RESOURCE_TAG) == Some(resource))
    }

    fn endpoint(&self, resource: &str) -> Option<&VpcEndpoint> {
        self.endpoints.iter().find(|endpoint| tag(endpoint.tags(), RESOURCE_TAG) == Some(resource))
    }

    /// Everything still tagged with the pipeline.
    fn leftovers(&self) -> Vec<String> {
        let mut left: Vec<String> = Vec::new();
        left.extend(self.vpc_cidr.iter().map(|cidr| format!("vpc {cidr}")));
        left.extend(self.subnets.iter().map(|(name, _)| format!("subnet {name}")));
        left.extend(self.nat_gateways.iter().map(|nat| format!("NAT gateway {}", nat.nat_gateway_id().unwrap_or("?"))));
        left.extend(self.addresses.iter().map(|(allocation, _)| format!("Elastic IP {allocation}")));
        left.extend(
            self.route_tables.iter().map(|table| format!("route table {}", table.route_table_id().unwrap_or("?"))),
        );
        left.extend(
            self.endpoints.iter().map(|endpoint| format!("endpoint {}", endpoint.vpc_endpoint_id().unwrap_or("?"))),
        );
        left.extend(self.groups.iter().map(|(resource, _, _)| format!("security group {resource}")));
        left
    }
}

async fn held(stack: Stack, pipeline: &str) -> Held {
    let clients = stack.clients().await;
    let ec2 = &clients.ec2;
    let mut held = Held::default();
    let vpcs = ec2.describe_vpcs().filters(tag_filter(pipeline)).send().await.expect("DescribeVpcs");
    held.vpc_cidr = vpcs.vpcs().first().and_then(|vpc| vpc.cidr_block()).map(str::to_string);
    let subnets = ec2.describe_subnets().filters(tag_filter(pipeline)).send().await.expect("DescribeSubnets");
    for subnet in subnets.subnets() {
        let name = tag(subnet.tags(), RESOURCE_TAG).unwrap_or_default().trim_start_matches("subnet/").to_string();
        held.subnets.push((name, subnet.subnet_id().unwrap_or_default().to_string()));
    }
    held.subnets.sort();
    let gateways = ec2.describe_nat_gateways().filter(tag_filter(pipeline)).send().await.expect("DescribeNatGateways");
    held.nat_gateways = gateways
        .nat_gateways()
        .iter()
        .filter(|nat| tag(nat.tags(), PIPELINE_TAG) == Some(pipeline))
        .filter(|nat| nat.state().is_some_and(|state| state.as_str() != "deleted"))
        .cloned()
        .collect();
    let addresses = ec2.describe_addresses().filters(tag_filter(pipeline)).send().await.expect("DescribeAddresses");
    held.addresses = addresses
        .addresses()
        .iter()
        .map(|address| {
            (
                address.allocation_id().unwrap_or_default().to_string(),
                tag(address.tags(), RESOURCE_TAG).unwrap_or_default().to_string(),
            )
        })
        .collect();
    let tables = ec2.describe_route_tables().filters(tag_filter(pipeline)).send().await.expect("DescribeRouteTables");
    held.route_tables = tables.route_tables().to_vec();
    let endpoints =
        ec2.describe_vpc_endpoints().filters(tag_filter(pipeline)).send().await.expect("DescribeVpcEndpoints");
    held.endpoints = endpoints
        .vpc_endpoints()
        .iter()
        .filter(|endpoint| endpoint.state().is_some_and(|state| !state.as_str().eq_ignore_ascii_case("deleted")))
        .cloned()
        .collect();
    let groups =
        ec2.describe_security_groups().filters(tag_filter(pipeline)).send().await.expect("DescribeSecurityGroups");
    for group in groups.security_groups() {
        let mut ingress: Vec<String> = Vec::new();
        for permission in group.ip_permissions() {
            for range in permission.ip_ranges() {
                ingress.push(format!(
                    "{} {:?}-{:?} {}",
                    permission.ip_protocol().unwrap_or_default(),
                    permission.from_port(),
                    permission.to_port(),
                    range.cidr_ip().unwrap_or_default()
                ));
            }
        }
        held.groups.push((
            tag(group.tags(), RESOURCE_TAG).unwrap_or_default().to_string(),
            group.group_id().unwrap_or_default().to_string(),
            ingress,
        ));
    }
    held
}

fn network(stack: Stack) {
    require!(stack);
    let runtime = runtime();
    let scratch = Scratch::new(&format!("network-{}", stack.tag()));
    let pipeline = unique("net", stack);
    let file = scratch.write("network.yaml", &spec(&pipeline, "single", "s3, kinesis-streams"));

    // 1. The plan names every piece, and says what the NAT gateway and the interface endpoint cost.
    let plan = pipectl(stack, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
    let creates: Vec<String> = plan_actions(&plan).into_iter().map(|(resource, _)| resource).collect();
    assert_eq!(
        creates,
        [
            "internet_gateway/".to_string() + &pipeline,
            "nat_gateway/public-a".to_string(),
            "route_table/private-a".to_string(),
            "route_table/public".to_string(),
            "security_group/vpc-endpoints".to_string(),
            "subnet/private-a".to_string(),
            "subnet/public-a".to_string(),
            "vpc/".to_string() + &pipeline,
            "vpc_endpoint/kinesis-streams".to_string(),
            "vpc_endpoint/s3".to_string(),
        ]
    );
    let notes = plan.to_string();
    assert!(notes.contains("a NAT gateway is billed for every hour it exists"), "{notes}");
    assert!(notes.contains("an interface endpoint is billed"), "{notes}");

    // 2. Apply, then read back what the emulator holds.
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let state = runtime.block_on(held(stack, &pipeline));
    assert_eq!(state.nat_gateways.len(), 1, "{:?}", state.nat_gateways);
    let nat = &state.nat_gateways[0];
    let nat_id = nat.nat_gateway_id().expect("NAT gateway id");
    assert_eq!(nat.state().map(|state| state.as_str()), Some("available"));
    assert_eq!(nat.subnet_id(), Some(state.subnet("public-a")));
    assert_eq!(tag(nat.tags(), RESOURCE_TAG), Some("nat_gateway/public-a"));
    let allocation = nat.nat_gateway_addresses().first().and_then(|address| address.allocation_id());
    assert!(allocation.is_some(), "{nat:?}");
    assert_eq!(
        state.addresses,
        [(allocation.unwrap_or_default().to_string(), "nat_gateway/public-a".to_string())],
        "the Elastic IP is tagged as part of the gateway"
    );

    let private = state.table("route_table/private-a").expect("the private subnet's own route table");
    let private_id = private.route_table_id().expect("route table id");
    let default_route = private.routes().iter().find(|route| route.destination_cidr_block() == Some("0.0.0.0/0"));
    assert_eq!(default_route.and_then(|route| route.nat_gateway_id()), Some(nat_id), "{private:?}");
    let associated: Vec<&str> = private.associations().iter().filter_map(|a| a.subnet_id()).collect();
    assert_eq!(associated, [state.subnet("private-a")]);
    let public = state.table("route_table/public").expect("public route table");
    let public_route = public.routes().iter().find(|route| route.destination_cidr_block() == Some("0.0.0.0/0"));
    assert!(public_route.and_then(|route| route.gateway_id()).is_some_and(|gateway| gateway.starts_with("igw-")));

    let s3 = state.endpoint("vpc_endpoint/s3").expect("S3 gateway endpoint");
    assert_eq!(s3.service_name(), Some("com.amazonaws.us-east-1.s3"));
    assert_eq!(s3.vpc_endpoint_type().map(|kind| kind.as_str()), Some("Gateway"));
    assert_eq!(s3.route_table_ids(), [private_id.to_string()]);
    let kinesis = state.endpoint("vpc_endpoint/kinesis-streams").expect("Kinesis interface endpoint");
    assert_eq!(kinesis.service_name(), Some("com.amazonaws.us-east-1.kinesis-streams"));
    assert_eq!(kinesis.subnet_ids(), [state.subnet("private-a").to_string()]);
    assert_eq!(kinesis.private_dns_enabled(), Some(true));
    let group = state.groups.iter().find(|(resource, _, _)| resource == "security_group/vpc-endpoints");
    let (_, group_id, ingress) = group.expect("the endpoints' security group");
    assert_eq!(kinesis.groups().iter().filter_map(|g| g.group_id()).collect::<Vec<_>>(), [group_id.as_str()]);
    assert_eq!(ingress, &["tcp Some(443)-Some(443) 10.44.0.0/16".to_string()]);

    // 3. Nothing to do on a second look.
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // 4. NAT off and the interface endpoint dropped: the route goes before the gateway, the
    //    address is released, the endpoint goes before its group.
    let file = scratch.write("network.yaml", &spec(&pipeline, "none", "s3"));
    let plan = pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode", "--output", "json"]).expect(2).json();
    assert_eq!(
        plan_actions(&plan),
        [
            ("nat_gateway/public-a".to_string(), "delete".to_string()),
            ("route_table/private-a".to_string(), "update".to_string()),
            ("security_group/vpc-endpoints".to_string(), "delete".to_string()),
            ("vpc_endpoint/kinesis-streams".to_string(), "delete".to_string()),
        ]
    );
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    let state = runtime.block_on(held(stack, &pipeline));
    assert!(state.nat_gateways.is_empty() && state.addresses.is_empty(), "{state:?}");
    let private = state.table("route_table/private-a").expect("the private route table stays");
    assert!(private.routes().iter().all(|route| route.destination_cidr_block() != Some("0.0.0.0/0")), "{private:?}");
    assert!(state.endpoint("vpc_endpoint/kinesis-streams").is_none());
    assert_eq!(
        state.endpoint("vpc_endpoint/s3").map(|s3| s3.route_table_ids().to_vec()),
        Some(vec![private_id.to_string()])
    );

    // 5. Back to a NAT gateway, then destroy: nothing tagged with the pipeline is left.
    let file = scratch.write("network.yaml", &spec(&pipeline, "single", "s3, kinesis-streams"));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    assert_eq!(runtime.block_on(held(stack, &pipeline)).leftovers(), Vec::<String>::new());
}

on_both_stacks!(network);

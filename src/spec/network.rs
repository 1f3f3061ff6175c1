//! The `network:` section: the VPC, its subnets, how private subnets reach out (NAT gateways,
//! VPC endpoints), security groups and their rules; CIDR math (`cidr`), references between
//! groups, and the names pipectl derives in the network.

use std::collections::{HashMap, HashSet};

use schemars::JsonSchema;
use serde::Deserialize;

use super::checks::{check_resource_name, check_unique, Problems};
use super::cidr::Cidr;
use super::suggest::did_you_mean;

/// The VPC and what lives directly in it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub vpc: Vpc,
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    #[serde(default)]
    pub security_groups: Vec<SecurityGroup>,
    /// How private subnets reach the internet: `none` (the default), `single` (one NAT gateway, in
    /// the first public subnet) or `per-az` (one in each zone that has a private subnet).
    #[serde(default)]
    pub nat: Nat,
    /// VPC endpoints for the private subnets: gateway endpoints (`s3`, `dynamodb`) on their route
    /// tables, interface endpoints (`kinesis-streams`, `firehose`, `sts`, …) in them.
    #[serde(default)]
    pub endpoints: Vec<String>,
}

/// NAT gateways for the private subnets' outbound traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
// schemars ignores serde aliases: list them, or editors would flag a spec pipectl accepts.
#[schemars(extend("enum" = ["none", "single", "per-az", "per_az"]))]
pub enum Nat {
    #[default]
    #[serde(rename = "none")]
    None,
    #[serde(rename = "single")]
    Single,
    #[serde(rename = "per-az", alias = "per_az")]
    PerAz,
}

impl Network {
    /// The public subnets that hold a NAT gateway: none; the first public subnet (`single`); or
    /// the first public subnet of each zone that has a private subnet (`per-az`). A network with
    /// no private subnet needs none.
    pub fn nat_subnets(&self) -> Vec<&Subnet> {
        let mut found: Vec<&Subnet> = Vec::new();
        for private in self.subnets.iter().filter(|subnet| !subnet.public) {
            if let Some(nat) = self.nat_for(private) {
                if !found.iter().any(|subnet| subnet.name == nat.name) {
                    found.push(nat);
                }
            }
        }
        found
    }

    /// The public subnet whose NAT gateway the private subnet `subnet` sends `0.0.0.0/0` to.
    pub fn nat_for(&self, subnet: &Subnet) -> Option<&Subnet> {
        if subnet.public {
            return None;
        }
        let mut public = self.subnets.iter().filter(|candidate| candidate.public);
        match self.nat {
            Nat::None => None,
            Nat::Single => public.next(),
            Nat::PerAz => public.find(|candidate| candidate.availability_zone == subnet.availability_zone),
        }
    }

    /// True when instances in the subnet named `subnet` have a route to S3: it is public (its
    /// route table sends `0.0.0.0/0` to the internet gateway; whether instances get a public IP
    /// is checked on its own), or private with a NAT gateway, or there is an `s3` gateway
    /// endpoint (on every private subnet's route table). False for a subnet the spec lacks.
    pub fn reaches_s3(&self, subnet: &str) -> bool {
        self.reaches_api(subnet, "s3")
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vpc {
    /// IPv4 CIDR block, /16 to /28.
    pub cidr: String,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    pub name: String,
    pub cidr: String,
    pub availability_zone: String,
    /// A public subnet is routed to the internet gateway through the pipeline's public route table.
    #[serde(default)]
    pub public: bool,
    /// Whether instances launched here get a public IPv4 address (MapPublicIpOnLaunch); defaults
    /// to `public`. Without one, an instance in a public subnet cannot use the internet gateway.
    #[serde(default)]
    pub map_public_ip: Option<bool>,
}

impl Subnet {
    /// Whether instances launched here get a public IPv4 address.
    pub fn maps_public_ip(&self) -> bool {
        self.map_public_ip.unwrap_or(self.public)
    }
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroup {
    pub name: String,
    #[serde(default = "default_group_description")]
    pub description: String,
    #[serde(default)]
    pub ingress: Vec<Rule>,
    /// `None` keeps AWS's default of all outbound traffic allowed.
    #[serde(default)]
    pub egress: Option<Vec<Rule>>,
}

fn default_group_description() -> String {
    "Managed by pipectl".to_string()
}

/// One security group rule: a protocol, a port or range, and exactly one peer.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// A single port (`443`) or an inclusive range (`"8000-8100"`); omitted means all ports.
    #[serde(default)]
    pub ports: Option<Ports>,
    /// An IPv4 CIDR peer.
    #[serde(default)]
    pub cidr: Option<String>,
    /// Another security group of this spec as the peer (`self` for the group itself).
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

fn default_protocol() -> String {
    "tcp".to_string()
}

/// A port or a port range as written in the spec.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Ports {
    Single(i64),
    Range(String),
}

fn parse_cidr(path: &str, text: &str, problems: &mut Problems) -> Option<Cidr> {
    text.parse::<Cidr>().map_err(|message| problems.add(path, message)).ok()
}

/// The network: the VPC block, the subnets (names, zones, blocks inside the VPC and apart), the
/// security groups and their rules, and egress.
pub(super) fn check(network: &Network, region: &str, problems: &mut Problems) {
    let vpc = parse_cidr("network.vpc.cidr", &network.vpc.cidr, problems);
    if let Some(vpc) = vpc {
        if !(16..=28).contains(&vpc.prefix) {
            problems.add("network.vpc.cidr", format!("a VPC block must be between /16 and /28, not /{}", vpc.prefix));
        }
    }
    check_unique("network.subnets", network.subnets.iter().map(|subnet| subnet.name.as_str()), problems);
    let mut placed: Vec<(usize, Cidr)> = Vec::new();
    for (index, subnet) in network.subnets.iter().enumerate() {
        let path = format!("network.subnets[{index}]");
        check_resource_name(&format!("{path}.name"), &subnet.name, problems);
        if subnet.map_public_ip == Some(true) && !subnet.public {
            problems.add(
                format!("{path}.map_public_ip"),
                "a private subnet has no route to the internet gateway, so a public IP is of no use there (and AWS bills each one): set `public: true` or drop `map_public_ip`",
            );
        }
        let zone_ok = subnet.availability_zone.len() == region.len() + 1
            && subnet.availability_zone.starts_with(region)
            && subnet.availability_zone.ends_with(|c: char| c.is_ascii_lowercase());
        if !zone_ok {
            problems.add(
                format!("{path}.availability_zone"),
                format!(
                    "`{}` is not an availability zone of region `{region}` (such as `{region}a`)",
                    subnet.availability_zone
                ),
            );
        }
        let Some(cidr) = parse_cidr(&format!("{path}.cidr"), &subnet.cidr, problems) else {
            continue;
        };
        if !(16..=28).contains(&cidr.prefix) {
            problems.add(
                format!("{path}.cidr"),
                format!("a subnet block must be between /16 and /28, not /{}", cidr.prefix),
            );
        }
        if let Some(vpc) = vpc {
            if !vpc.contains(cidr) {
                problems.add(format!("{path}.cidr"), format!("{cidr} is not inside the VPC block {vpc}"));
            }
        }
        if let Some((other, other_cidr)) = placed.iter().find(|(_, other)| other.overlaps(cidr)) {
            problems.add(
                format!("{path}.cidr"),
                format!("{cidr} overlaps {other_cidr} of subnet `{}`", network.subnets[*other].name),
            );
        }
        placed.push((index, cidr));
    }
    check_unique("network.security_groups", network.security_groups.iter().map(|group| group.name.as_str()), problems);
    let group_names: Vec<&str> = network.security_groups.iter().map(|group| group.name.as_str()).collect();
    for (index, group) in network.security_groups.iter().enumerate() {
        check_security_group(&format!("network.security_groups[{index}]"), group, &group_names, problems);
    }
    check_group_cycles(&network.security_groups, problems);
    check_egress(network, problems);
}

/// Names people reach for that `network.endpoints` spells otherwise.
const ENDPOINT_ALIASES: [(&str, &str); 7] = [
    ("kinesis", "kinesis-streams"),
    ("kinesis-firehose", "firehose"),
    ("emr", "elasticmapreduce"),
    ("cloudwatch", "monitoring"),
    ("cloudwatch-logs", "logs"),
    ("secrets-manager", "secretsmanager"),
    ("s3-gateway", "s3"),
];

/// Where private subnets' traffic can go: NAT gateways sit in public subnets and serve private
/// ones, endpoints serve private subnets, and the names pipectl derives for them must be free.
fn check_egress(network: &Network, problems: &mut Problems) {
    use crate::names::{
        endpoint_service, EndpointType, ENDPOINT_SECURITY_GROUP, ENDPOINT_SERVICES, PUBLIC_ROUTE_TABLE,
    };
    for (index, subnet) in network.subnets.iter().enumerate() {
        if !subnet.public && subnet.name == PUBLIC_ROUTE_TABLE {
            problems.add(
                format!("network.subnets[{index}].name"),
                "a private subnet gets a route table of its own name, and `public` is the public subnets' route table: rename the subnet",
            );
        }
    }
    let private: Vec<&Subnet> = network.subnets.iter().filter(|subnet| !subnet.public).collect();
    if network.nat != Nat::None {
        if !network.subnets.iter().any(|subnet| subnet.public) {
            problems.add(
                "network.nat",
                "a NAT gateway sits in a public subnet and this network has none: add a subnet with `public: true`, or set `nat: none`",
            );
        } else if private.is_empty() {
            problems.add(
                "network.nat",
                "NAT gateways serve private subnets and this network has none (a NAT gateway is billed by the hour even when idle): set `nat: none`",
            );
        } else {
            let mut reported: Vec<&str> = Vec::new();
            for subnet in private.iter().filter(|subnet| network.nat_for(subnet).is_none()) {
                if !reported.contains(&subnet.availability_zone.as_str()) {
                    reported.push(&subnet.availability_zone);
                    problems.add(
                        "network.nat",
                        format!(
                            "`per-az` puts a NAT gateway in each zone that has a private subnet, but zone `{}` (subnet `{}`) has no public subnet: add one there, or use `nat: single`",
                            subnet.availability_zone, subnet.name
                        ),
                    );
                }
            }
        }
    }
    let mut seen: HashSet<&str> = HashSet::new();
    for (index, name) in network.endpoints.iter().enumerate() {
        let path = format!("network.endpoints[{index}]");
        if endpoint_service(name).is_none() {
            let known = ENDPOINT_SERVICES.iter().map(|service| service.name);
            let alias = ENDPOINT_ALIASES.iter().find(|(alias, _)| alias == name).map(|(_, canonical)| *canonical);
            let hint = alias
                .or_else(|| did_you_mean(name, known.clone()))
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            let list: Vec<&str> = known.collect();
            problems.add(path, format!("unknown endpoint `{name}`{hint}; pipectl knows {}", list.join(", ")));
        } else if !seen.insert(name) {
            problems.add(path, format!("duplicate endpoint `{name}`"));
        }
    }
    if !network.endpoints.is_empty() && private.is_empty() {
        problems.add(
            "network.endpoints",
            "endpoints serve private subnets (gateway endpoints on their route tables, interface endpoints in them) and this network has none",
        );
    }
    let interface = network
        .endpoints
        .iter()
        .any(|name| endpoint_service(name).is_some_and(|service| service.kind == EndpointType::Interface));
    if interface {
        for (index, group) in network.security_groups.iter().enumerate() {
            if group.name == ENDPOINT_SECURITY_GROUP {
                problems.add(
                    format!("network.security_groups[{index}].name"),
                    format!("`{ENDPOINT_SECURITY_GROUP}` is the security group pipectl creates for the interface endpoints: rename this one"),
                );
            }
        }
    }
}

fn check_security_group(path: &str, group: &SecurityGroup, names: &[&str], problems: &mut Problems) {
    check_resource_name(&format!("{path}.name"), &group.name, problems);
    if group.description.is_empty() || group.description.len() > 255 || !group.description.is_ascii() {
        problems.add(format!("{path}.description"), "a security group description must be 1-255 ASCII characters");
    }
    let directions = [("ingress", Some(&group.ingress)), ("egress", group.egress.as_ref())];
    for (direction, rules) in directions {
        let mut seen: Vec<(Permission, usize)> = Vec::new();
        for (index, rule) in rules.into_iter().flatten().enumerate() {
            let rule_path = format!("{path}.{direction}[{index}]");
            check_rule(&rule_path, rule, names, problems);
            let permission = Permission::of(rule, &group.name);
            if let Some((_, first)) = seen.iter().find(|(other, _)| *other == permission) {
                problems.add(
                    rule_path,
                    format!("the same permission as {direction}[{first}] (protocol, ports and peer; a description does not make a rule different): EC2 refuses the pair (\"InvalidParameterValue: The same permission must not appear multiple times\"): remove one, or merge the descriptions"),
                );
            } else {
                seen.push((permission, index));
            }
        }
    }
}

/// What EC2 compares rules by: protocol, ports and peer, never the description (two rules that
/// differ only by it fail AuthorizeSecurityGroupIngress/Egress with "InvalidParameterValue: The
/// same permission must not appear multiple times", terraform-provider-aws#2587). `all` covers
/// every port; TCP and UDP without `ports` mean 0-65535; a peer group `self` is the group's own
/// name; a CIDR is compared as a network.
#[derive(Debug, PartialEq, Eq)]
struct Permission {
    protocol: String,
    ports: Option<(u16, u16)>,
    peer: String,
}

impl Permission {
    fn of(rule: &Rule, own_name: &str) -> Permission {
        let ports = match (rule.protocol.as_str(), &rule.ports) {
            ("all", _) => None,
            (_, Some(ports)) => port_range(ports).ok(),
            ("icmp", None) => None,
            (_, None) => Some((0, u16::MAX)),
        };
        let peer = match (&rule.cidr, &rule.group) {
            (Some(cidr), _) => cidr.parse::<Cidr>().map_or_else(|_| cidr.clone(), |cidr| cidr.to_string()),
            (None, Some(group)) if group == "self" => format!("group {own_name}"),
            (None, Some(group)) => format!("group {group}"),
            (None, None) => String::new(),
        };
        Permission { protocol: rule.protocol.clone(), ports, peer }
    }
}

fn check_rule(path: &str, rule: &Rule, names: &[&str], problems: &mut Problems) {
    const PROTOCOLS: [&str; 4] = ["tcp", "udp", "icmp", "all"];
    if !PROTOCOLS.contains(&rule.protocol.as_str()) {
        let hint =
            did_you_mean(&rule.protocol, PROTOCOLS).map(|p| format!(" (did you mean `{p}`?)")).unwrap_or_default();
        problems.add(
            format!("{path}.protocol"),
            format!("unknown protocol `{}`; use tcp, udp, icmp or all{hint}", rule.protocol),
        );
    }
    match (&rule.ports, rule.protocol.as_str()) {
        (Some(_), "all") => problems.add(format!("{path}.ports"), "protocol `all` covers every port; remove `ports`"),
        (Some(ports), _) => {
            if let Err(message) = port_range(ports) {
                problems.add(format!("{path}.ports"), message);
            }
        }
        (None, _) => {}
    }
    match (&rule.cidr, &rule.group) {
        (Some(_), Some(_)) | (None, None) => {
            problems.add(path, "a rule needs exactly one peer: `cidr` or `group`");
        }
        (Some(cidr), None) => {
            parse_cidr(&format!("{path}.cidr"), cidr, problems);
        }
        (None, Some(group)) => {
            if group != "self" && !names.contains(&group.as_str()) {
                let hint = did_you_mean(group, names.iter().copied())
                    .map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default();
                problems.add(format!("{path}.group"), format!("no security group named `{group}` in this spec{hint}"));
            }
        }
    }
    if let Some(description) = &rule.description {
        if description.len() > 255 {
            problems.add(format!("{path}.description"), "a rule description must be at most 255 characters");
        }
    }
}

/// The inclusive port range a `ports` value denotes, or why it is invalid.
pub fn port_range(ports: &Ports) -> Result<(u16, u16), String> {
    let port = |value: i64| -> Result<u16, String> {
        u16::try_from(value).map_err(|_| format!("port {value} is outside 0-65535"))
    };
    match ports {
        Ports::Single(value) => port(*value).map(|p| (p, p)),
        Ports::Range(text) => {
            let (from, to) =
                text.split_once('-').ok_or_else(|| format!("`{text}` is not a port or a range such as `8000-8100`"))?;
            let parse = |part: &str| -> Result<u16, String> {
                let value: i64 = part.trim().parse().map_err(|_| format!("`{part}` is not a port number"))?;
                port(value)
            };
            let (from, to) = (parse(from)?, parse(to)?);
            if from > to {
                return Err(format!("the range `{text}` starts after it ends"));
            }
            Ok((from, to))
        }
    }
}

/// Groups that reference each other in a cycle cannot be created one after the other.
fn check_group_cycles(groups: &[SecurityGroup], problems: &mut Problems) {
    let edges: HashMap<&str, Vec<&str>> = groups
        .iter()
        .map(|group| {
            let peers = group
                .ingress
                .iter()
                .chain(group.egress.iter().flatten())
                .filter_map(|rule| rule.group.as_deref())
                .filter(|peer| *peer != "self" && *peer != group.name)
                .collect();
            (group.name.as_str(), peers)
        })
        .collect();
    for (index, group) in groups.iter().enumerate() {
        // Depth-first search from each group for a path back to itself.
        let mut stack: Vec<&str> = edges.get(group.name.as_str()).cloned().unwrap_or_default();
        let mut seen = HashSet::new();
        while let Some(next) = stack.pop() {
            if next == group.name {
                problems.add(
                    format!("network.security_groups[{index}]"),
                    format!("security group `{}` is part of a reference cycle; pipectl creates referenced groups first, so break the cycle (for example with a CIDR peer)", group.name),
                );
                break;
            }
            if seen.insert(next) {
                stack.extend(edges.get(next).into_iter().flatten());
            }
        }
    }
}

#[cfg(test)]
mod egress_tests {
    use crate::spec::{validate, Spec};

    /// A network in eu-west-1 with `subnets` (flow YAML, one per line) and the `extra` keys.
    fn network(subnets: &[&str], extra: &str) -> Spec {
        let subnets: String = subnets.iter().map(|subnet| format!("    - {subnet}\n")).collect();
        let yaml = format!(
            "version: 1\npipeline: demo\nregion: eu-west-1\nnetwork:\n  vpc: {{cidr: 10.0.0.0/16}}\n  subnets:\n{subnets}{extra}"
        );
        serde_saphyr::from_str(&yaml).expect("test YAML parses")
    }

    fn problems(spec: &Spec) -> Vec<(String, String)> {
        validate(spec).into_iter().map(|problem| (problem.path, problem.message)).collect()
    }

    const PUBLIC_A: &str = "{name: public-a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a, public: true}";
    const PRIVATE_A: &str = "{name: private-a, cidr: 10.0.10.0/24, availability_zone: eu-west-1a}";
    const PRIVATE_B: &str = "{name: private-b, cidr: 10.0.11.0/24, availability_zone: eu-west-1b}";
    const PUBLIC_B: &str = "{name: public-b, cidr: 10.0.1.0/24, availability_zone: eu-west-1b, public: true}";

    #[test]
    fn nat_and_endpoints_that_fit_the_subnets_are_valid() {
        let spec =
            network(&[PUBLIC_A, PRIVATE_A, PRIVATE_B], "  nat: single\n  endpoints: [s3, kinesis-streams, firehose]\n");
        assert_eq!(problems(&spec), vec![]);
        let spec = network(&[PUBLIC_A, PUBLIC_B, PRIVATE_A, PRIVATE_B], "  nat: per-az\n");
        assert_eq!(problems(&spec), vec![]);
        let network = spec.network.as_ref().unwrap();
        let placed: Vec<&str> = network.nat_subnets().iter().map(|subnet| subnet.name.as_str()).collect();
        assert_eq!(placed, ["public-a", "public-b"]);
    }

    #[test]
    fn nat_needs_a_public_subnet_and_a_private_one_to_serve() {
        let found = problems(&network(&[PRIVATE_A], "  nat: single\n"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "network.nat");
        assert!(found[0].1.contains("add a subnet with `public: true`"), "{found:?}");
        let found = problems(&network(&[PUBLIC_A], "  nat: per-az\n"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("set `nat: none`"), "{found:?}");
    }

    #[test]
    fn per_az_needs_a_public_subnet_in_every_zone_with_a_private_one() {
        let extra = "{name: private-b2, cidr: 10.0.12.0/24, availability_zone: eu-west-1b}";
        let found = problems(&network(&[PUBLIC_A, PRIVATE_A, PRIVATE_B, extra], "  nat: per-az\n"));
        // One problem per zone, naming the first private subnet there.
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "network.nat");
        assert!(found[0].1.contains("zone `eu-west-1b` (subnet `private-b`)"), "{found:?}");
        assert!(problems(&network(&[PUBLIC_A, PRIVATE_A, PRIVATE_B], "  nat: single\n")).is_empty());
    }

    #[test]
    fn unknown_and_duplicate_endpoints_are_named_with_a_suggestion() {
        let found = problems(&network(&[PRIVATE_A], "  endpoints: [s3, kinesis, dynamodbb, s3, quantum]\n"));
        let paths: Vec<&str> = found.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(
            paths,
            ["network.endpoints[1]", "network.endpoints[2]", "network.endpoints[3]", "network.endpoints[4]"]
        );
        assert!(found[0].1.contains("unknown endpoint `kinesis` (did you mean `kinesis-streams`?)"), "{found:?}");
        assert!(found[1].1.contains("(did you mean `dynamodb`?)"), "{found:?}");
        assert_eq!(found[2].1, "duplicate endpoint `s3`");
        assert!(found[3].1.contains("pipectl knows s3, dynamodb, kinesis-streams"), "{found:?}");
    }

    #[test]
    fn endpoints_need_a_private_subnet_and_derived_names_must_be_free() {
        let found = problems(&network(&[PUBLIC_A], "  endpoints: [s3]\n"));
        assert_eq!(found.iter().map(|(path, _)| path.as_str()).collect::<Vec<_>>(), ["network.endpoints"]);
        let public_named = "{name: public, cidr: 10.0.10.0/24, availability_zone: eu-west-1a}";
        let found = problems(&network(
            &[PUBLIC_A, public_named],
            "  endpoints: [sts]\n  security_groups:\n    - {name: vpc-endpoints}\n",
        ));
        let paths: Vec<&str> = found.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(paths, ["network.subnets[1].name", "network.security_groups[0].name"]);
        // Only interface endpoints take the group's name.
        let found =
            problems(&network(&[PRIVATE_A], "  endpoints: [s3]\n  security_groups:\n    - {name: vpc-endpoints}\n"));
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn reaches_s3_through_a_public_route_a_nat_or_an_s3_endpoint() {
        let reaches =
            |extra: &str, subnet: &str| network(&[PUBLIC_A, PRIVATE_A], extra).network.unwrap().reaches_s3(subnet);
        assert!(reaches("", "public-a"));
        assert!(!reaches("", "private-a"));
        assert!(!reaches("  endpoints: [dynamodb, sts]\n", "private-a"));
        assert!(reaches("  endpoints: [s3]\n", "private-a"));
        assert!(reaches("  nat: single\n", "private-a"));
        assert!(!reaches("  nat: single\n", "nowhere"));
        // per-az only reaches where a NAT gateway is (validation rejects the rest).
        let spec = network(&[PUBLIC_A, PRIVATE_A, PRIVATE_B], "  nat: per-az\n");
        let network = spec.network.unwrap();
        assert!(network.reaches_s3("private-a"));
        assert!(!network.reaches_s3("private-b"));
    }
}

#[cfg(test)]
mod tests {
    use super::super::checks::testing::{paths, problems, HEAD};
    use super::*;

    #[test]
    fn reports_every_network_problem_at_once() {
        let yaml = format!("{HEAD}network:\n  vpc: {{cidr: 10.0.0.0/8}}\n  subnets:\n    - {{name: a, cidr: 10.0.0.0/24, availability_zone: us-east-1a}}\n    - {{name: a, cidr: 10.0.0.128/25, availability_zone: eu-west-1b}}\n    - {{name: c, cidr: 192.168.0.0/24, availability_zone: eu-west-1b}}\n");
        assert_eq!(
            paths(&yaml),
            vec![
                "network.vpc.cidr",
                "network.subnets[1].name",
                "network.subnets[0].availability_zone",
                "network.subnets[1].cidr",
                "network.subnets[2].cidr",
            ]
        );
    }

    #[test]
    fn rule_problems() {
        let yaml = format!("{HEAD}network:\n  vpc: {{cidr: 10.0.0.0/16}}\n  security_groups:\n    - name: web\n      ingress:\n        - {{ports: 70000, cidr: 0.0.0.0/0}}\n        - {{ports: \"10-5\", group: wbe}}\n        - {{protocol: tpc, cidr: 1.2.3.4/32, group: web}}\n        - {{protocol: all, ports: 22, cidr: 10.0.0.0/16}}\n");
        let found = problems(&yaml);
        let messages: Vec<String> = found.iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
        assert_eq!(found.len(), 6, "{messages:#?}");
        assert!(messages[2].contains("did you mean `web`"), "{messages:#?}");
    }

    #[test]
    fn a_permission_that_appears_twice_is_refused_whatever_the_descriptions_say() {
        let group = |rules: &str| {
            format!("{HEAD}network:\n  vpc: {{cidr: 10.0.0.0/16}}\n  security_groups:\n    - name: web\n      ingress:\n{rules}")
        };
        let twice = group("        - {ports: 443, cidr: 10.0.0.0/16, description: from the VPC}\n        - {ports: 443, cidr: 10.0.0.0/16, description: HTTPS}\n");
        let found = problems(&twice);
        assert_eq!(
            found.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(),
            ["network.security_groups[0].ingress[1]"]
        );
        assert!(found[0].message.contains("the same permission as ingress[0]"), "{found:?}");
        // `self` is the group's own name; no ports is every port; `all` ignores ports.
        let same = group("        - {group: self}\n        - {group: web, ports: \"0-65535\"}\n        - {protocol: all, cidr: 10.1.0.0/16}\n        - {protocol: all, cidr: 10.1.0.0/16, description: again}\n");
        assert_eq!(paths(&same), ["network.security_groups[0].ingress[1]", "network.security_groups[0].ingress[3]"]);
        // Different ports, protocols, peers or directions are different permissions.
        let different = group("        - {ports: 443, cidr: 10.0.0.0/16}\n        - {ports: 444, cidr: 10.0.0.0/16}\n        - {protocol: udp, ports: 443, cidr: 10.0.0.0/16}\n        - {ports: 443, cidr: 10.0.0.0/8}\n      egress:\n        - {ports: 443, cidr: 10.0.0.0/16}\n");
        assert!(problems(&different).is_empty(), "{:?}", problems(&different));
    }

    #[test]
    fn group_reference_cycles_are_rejected() {
        let yaml = format!("{HEAD}network:\n  vpc: {{cidr: 10.0.0.0/16}}\n  security_groups:\n    - {{name: a, ingress: [{{group: b}}]}}\n    - {{name: b, ingress: [{{group: a}}]}}\n");
        assert_eq!(paths(&yaml), vec!["network.security_groups[0]", "network.security_groups[1]"]);
    }

    #[test]
    fn ports_parse() {
        assert_eq!(port_range(&Ports::Single(22)), Ok((22, 22)));
        assert_eq!(port_range(&Ports::Range("8000-8100".into())), Ok((8000, 8100)));
        assert!(port_range(&Ports::Single(-1)).is_err());
        assert!(port_range(&Ports::Range("http".into())).is_err());
    }
}

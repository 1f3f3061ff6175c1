//! The `warehouses:` section: Amazon Redshift provisioned clusters that deliveries load into
//! (`deliveries[].to.warehouse`): node type and count, the database, the admin user whose
//! password pipectl generates into Secrets Manager (never in the spec), where the cluster runs
//! (its subnets and security groups) and whether it has a public address.
//!
//! What AWS requires of a warehouse Firehose loads into is checked here, before any call:
//! "If your Amazon Redshift cluster is in a virtual private cloud (VPC), it must be publicly
//! accessible with a public IP address", and Firehose's addresses (one CIDR block per region)
//! must reach its port (Amazon Data Firehose Developer Guide, "Controlling access", VPC access to
//! an Amazon Redshift cluster). Firehose has no VPC delivery for Redshift.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::checks::{check_reference, check_tags, check_unique, Problems};
use super::kms::{check_key, KeyForm};
use super::network::{port_range, Rule};
use super::pipeline::Spec;

/// An Amazon Redshift provisioned cluster.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Warehouse {
    /// The cluster identifier: 1-63 lowercase letters, digits and hyphens, starting with a letter,
    /// no two hyphens in a row and none at the end; unique in the account and region.
    pub name: String,
    /// The node type (`ra3.large`, the default; `ra3.xlplus`, `ra3.4xlarge`, `ra3.16xlarge`).
    #[serde(default = "default_node_type")]
    pub node_type: String,
    /// How many nodes: 1 is a single-node cluster; more make a multi-node one. Changing it (or
    /// the type) is an elastic resize, in place.
    #[serde(default = "default_nodes")]
    pub nodes: i64,
    /// The database created with the cluster (lowercase letters, digits and `_`; default `dev`).
    #[serde(default = "default_database")]
    pub database: String,
    /// The admin user; its password is generated into a Secrets Manager secret pipectl owns.
    #[serde(default = "default_admin_user")]
    pub admin_user: String,
    /// Subnets of the spec for the cluster's subnet group.
    pub subnets: Vec<String>,
    /// Security groups of the spec on the cluster.
    #[serde(default)]
    pub security_groups: Vec<String>,
    /// Whether the cluster gets a public IP address: required for Firehose to load into it.
    #[serde(default)]
    pub publicly_accessible: bool,
    /// The KMS key ARN that encrypts the cluster; AWS's own key when unset (clusters are always
    /// encrypted).
    #[serde(default)]
    pub kms_key: Option<String>,
    /// Keep a final snapshot when the cluster is deleted (`<name>-final-<time>`); without it a
    /// delete destroys every table.
    #[serde(default)]
    pub final_snapshot: bool,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn default_node_type() -> String {
    "ra3.large".to_string()
}

fn default_nodes() -> i64 {
    1
}

fn default_database() -> String {
    "dev".to_string()
}

fn default_admin_user() -> String {
    "pipectl_admin".to_string()
}

/// The port Redshift clusters listen on unless told otherwise (CreateCluster `Port`, "Default:
/// 5439"); pipectl does not change it.
pub const WAREHOUSE_PORT: i64 = 5439;

/// The node types CreateCluster takes (Amazon Redshift API Reference, `NodeType`). DC2 is
/// refused: AWS announced its deprecation in April 2025 and steers new clusters to RA3.
const NODE_TYPES: &[&str] = &["ra3.large", "ra3.xlplus", "ra3.4xlarge", "ra3.16xlarge"];

/// The CIDR block Firehose loads into Redshift from, by region ("Controlling access", VPC access
/// to an Amazon Redshift cluster: "Firehose currently uses one CIDR block for each available
/// Region").
const FIREHOSE_CIDRS: &[(&str, &str)] = &[
    ("us-east-1", "52.70.63.192/27"),
    ("us-east-2", "13.58.135.96/27"),
    ("us-west-2", "52.89.255.224/27"),
    ("eu-west-1", "52.19.239.192/27"),
    ("eu-west-2", "18.130.1.96/27"),
    ("eu-central-1", "35.158.127.160/27"),
];

/// The CIDR block Firehose reaches a Redshift cluster from in `region`, where pipectl knows it.
pub fn firehose_cidr(region: &str) -> Option<&'static str> {
    FIREHOSE_CIDRS.iter().find(|(known, _)| *known == region).map(|(_, cidr)| *cidr)
}

/// The warehouses: unique names, and each one's own rules.
pub(super) fn check(spec: &Spec, problems: &mut Problems) {
    check_unique("warehouses", spec.warehouses.iter().map(|warehouse| warehouse.name.as_str()), problems);
    for (index, warehouse) in spec.warehouses.iter().enumerate() {
        check_warehouse(&format!("warehouses[{index}]"), warehouse, spec, problems);
    }
}

fn check_warehouse(path: &str, warehouse: &Warehouse, spec: &Spec, problems: &mut Problems) {
    if let Some(message) = identifier_problem(&warehouse.name) {
        problems.add(format!("{path}.name"), message);
    }
    if !NODE_TYPES.contains(&warehouse.node_type.as_str()) {
        problems.add(
            format!("{path}.node_type"),
            format!(
                "`{}` is not a node type pipectl creates: use one of {}",
                warehouse.node_type,
                NODE_TYPES.join(", ")
            ),
        );
    }
    if !(1..=128).contains(&warehouse.nodes) {
        problems.add(format!("{path}.nodes"), "must be between 1 and 128");
    }
    let database_ok = (1..=64).contains(&warehouse.database.len())
        && warehouse.database.starts_with(|c: char| c.is_ascii_lowercase())
        && warehouse.database.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !database_ok {
        problems.add(
            format!("{path}.database"),
            format!("`{}` is not a Redshift database name: use 1-64 lowercase letters, digits and `_`, starting with a letter", warehouse.database),
        );
    }
    let user_ok = (1..=128).contains(&warehouse.admin_user.len())
        && warehouse.admin_user.starts_with(|c: char| c.is_ascii_lowercase())
        && warehouse.admin_user.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_+.@-".contains(c))
        && warehouse.admin_user != "public";
    if !user_ok {
        problems.add(
            format!("{path}.admin_user"),
            format!("`{}` is not a Redshift user name: use lowercase letters, digits and `_+.@-`, starting with a letter (not `public`)", warehouse.admin_user),
        );
    }
    if let Some(key) = &warehouse.kms_key {
        check_key(&format!("{path}.kms_key"), key, KeyForm::Arn, &spec.region, problems);
    }
    check_placement(path, warehouse, spec, problems);
    check_tags(&format!("{path}.tags"), &warehouse.tags, problems);
}

/// Redshift's cluster identifier rules (CreateCluster `ClusterIdentifier`).
fn identifier_problem(name: &str) -> Option<String> {
    let valid = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--");
    (!valid).then(|| {
        format!("`{name}` is not a Redshift cluster identifier: use 1-63 lowercase letters, digits and hyphens, starting with a letter, with no two hyphens in a row and none at the end")
    })
}

/// Where the cluster runs: subnets and groups of the spec; a publicly accessible cluster in
/// public subnets only; a warehouse Firehose loads into publicly accessible, reachable from
/// Firehose's block, and not open to the whole internet.
fn check_placement(path: &str, warehouse: &Warehouse, spec: &Spec, problems: &mut Problems) {
    let Some(network) = &spec.network else {
        problems.add(format!("{path}.subnets"), "a warehouse runs in the spec's `network`, which this spec lacks");
        return;
    };
    if warehouse.subnets.is_empty() {
        problems.add(format!("{path}.subnets"), "name at least one subnet of `network` for the cluster's subnet group");
    }
    let subnet_names: Vec<&str> = network.subnets.iter().map(|subnet| subnet.name.as_str()).collect();
    for (index, subnet) in warehouse.subnets.iter().enumerate() {
        check_reference(&format!("{path}.subnets[{index}]"), "subnet", subnet, &subnet_names, problems);
        let private = network.subnets.iter().any(|known| &known.name == subnet && !known.public);
        if private && warehouse.publicly_accessible {
            problems.add(
                format!("{path}.subnets[{index}]"),
                format!("subnet `{subnet}` is private: a publicly accessible cluster needs public subnets (routed to the internet gateway) for its public IP to be reached"),
            );
        }
    }
    let group_names: Vec<&str> = network.security_groups.iter().map(|group| group.name.as_str()).collect();
    for (index, group) in warehouse.security_groups.iter().enumerate() {
        check_reference(&format!("{path}.security_groups[{index}]"), "security group", group, &group_names, problems);
    }
    let ingress: Vec<&Rule> = network
        .security_groups
        .iter()
        .filter(|group| warehouse.security_groups.contains(&group.name))
        .flat_map(|group| &group.ingress)
        .filter(|rule| admits_port(rule, WAREHOUSE_PORT))
        .collect();
    if warehouse.publicly_accessible && ingress.iter().any(|rule| rule.cidr.as_deref() == Some("0.0.0.0/0")) {
        problems.add(
            format!("{path}.security_groups"),
            format!("a publicly accessible warehouse must not admit 0.0.0.0/0 on port {WAREHOUSE_PORT}: admit only the CIDR blocks that load or query it (Firehose's is {} here)", firehose_cidr(&spec.region).unwrap_or("listed in the Firehose Developer Guide")),
        );
    }
    if !spec.deliveries.iter().any(|delivery| delivery.loads_into(&warehouse.name)) {
        return;
    }
    if !warehouse.publicly_accessible {
        problems.add(
            format!("{path}.publicly_accessible"),
            "a delivery loads into this warehouse, and Firehose reaches a Redshift cluster only at a public IP address (it has no VPC delivery for Redshift): set `publicly_accessible: true`, with public subnets and a security group that admits only Firehose's CIDR block",
        );
    }
    if let Some(cidr) = firehose_cidr(&spec.region) {
        if !ingress.iter().any(|rule| rule.cidr.as_deref() == Some(cidr)) {
            problems.add(
                format!("{path}.security_groups"),
                format!("a delivery loads into this warehouse, but none of its security groups admits Firehose's CIDR block in {} ({cidr}) on port {WAREHOUSE_PORT}: add `{{ports: {WAREHOUSE_PORT}, cidr: {cidr}}}` to one's ingress", spec.region),
            );
        }
    }
}

/// Whether a TCP rule admits `port`.
fn admits_port(rule: &Rule, port: i64) -> bool {
    let tcp = matches!(rule.protocol.as_str(), "tcp" | "-1" | "all");
    tcp && match &rule.ports {
        None => true,
        Some(ports) => port_range(ports).is_ok_and(|(from, to)| (i64::from(from)..=i64::from(to)).contains(&port)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::checks::testing::{messages, paths, HEAD};

    const NETWORK: &str = "network:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets:\n    - {name: pub-a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a, public: true}\n    - {name: priv-a, cidr: 10.0.1.0/24, availability_zone: eu-west-1a}\n  security_groups:\n    - name: firehose\n      ingress: [{ports: 5439, cidr: 52.19.239.192/27}]\n    - name: open\n      ingress: [{ports: 5439, cidr: 0.0.0.0/0}]\n";
    const LOADED: &str = "buckets: [{name: demo-lake}]\nstreams: [{name: events}]\ncatalog:\n  tables:\n    - {name: events, location: {bucket: demo-lake, prefix: raw/}, columns: [{name: id, type: string}]}\ndeliveries:\n  - name: to-warehouse\n    from: events\n    to: {bucket: demo-lake, prefix: staging/, warehouse: {name: analytics, table: events}}\n";

    fn spec(warehouse: &str, loaded: bool) -> String {
        format!("{HEAD}{NETWORK}{}warehouses:\n  - {warehouse}\n", if loaded { LOADED } else { "" })
    }

    #[test]
    fn a_loaded_warehouse_is_public_in_public_subnets_and_admits_firehose_only() {
        let good = "{name: analytics, subnets: [pub-a], security_groups: [firehose], publicly_accessible: true}";
        assert_eq!(messages(&spec(good, true)), Vec::<String>::new());
        let private = "{name: analytics, subnets: [priv-a], security_groups: [firehose]}";
        assert_eq!(paths(&spec(private, true)), ["warehouses[0].publicly_accessible"]);
        let no_firehose = "{name: analytics, subnets: [pub-a], publicly_accessible: true}";
        assert_eq!(paths(&spec(no_firehose, true)), ["warehouses[0].security_groups"]);
        let open = "{name: analytics, subnets: [pub-a], security_groups: [firehose, open], publicly_accessible: true}";
        assert_eq!(paths(&spec(open, false)), ["warehouses[0].security_groups"]);
        let public_in_private = "{name: analytics, subnets: [priv-a], publicly_accessible: true}";
        assert_eq!(paths(&spec(public_in_private, false)), ["warehouses[0].subnets[0]"]);
        // A warehouse no delivery loads into may stay private.
        assert_eq!(paths(&spec(private, false)), Vec::<String>::new());
    }

    #[test]
    fn identifiers_node_types_databases_and_users_follow_redshifts_rules() {
        let bad =
            "{name: Bad--id-, node_type: dc2.large, nodes: 0, database: 1db, admin_user: public, subnets: [nowhere]}";
        assert_eq!(
            paths(&spec(bad, false)),
            [
                "warehouses[0].name",
                "warehouses[0].node_type",
                "warehouses[0].nodes",
                "warehouses[0].database",
                "warehouses[0].admin_user",
                "warehouses[0].subnets[0]",
            ]
        );
        assert_eq!(super::firehose_cidr("eu-west-1"), Some("52.19.239.192/27"));
        assert_eq!(super::firehose_cidr("mars-east-1"), None);
    }
}

//! What a cluster's nodes must reach besides S3, checked across the `network:` and `clusters:`
//! sections: a cluster on the Glue Data Catalog (`use_glue_catalog`) calls the Glue API from its
//! nodes, which in a private subnet needs a NAT gateway or a `glue` interface endpoint.

use super::checks::Problems;
use super::network::Network;
use super::pipeline::Spec;

/// The endpoint name (in `network.endpoints`) the Glue metastore client needs.
const GLUE_ENDPOINT: &str = "glue";

/// Each cluster with `use_glue_catalog` reaches Glue from its subnet: public (the internet
/// gateway), a NAT gateway, or a `glue` interface endpoint. With the catalog as its metastore,
/// every Hive or Spark SQL statement makes the nodes call Glue ("Use the AWS Glue Data Catalog as
/// the metastore", Amazon EMR Release Guide); a private subnet reaches an AWS API only through a
/// NAT device or an interface endpoint ("Configuring interface VPC endpoints (AWS PrivateLink)
/// for AWS Glue"; Amazon EMR Management Guide, "Amazon VPC options"). An unknown subnet is
/// reported by the cluster's own checks.
pub(super) fn check(spec: &Spec, problems: &mut Problems) {
    let Some(network) = &spec.network else { return };
    for (index, cluster) in spec.clusters.iter().enumerate() {
        if !cluster.use_glue_catalog || !network.subnets.iter().any(|subnet| subnet.name == cluster.subnet) {
            continue;
        }
        if network.reaches_api(&cluster.subnet, GLUE_ENDPOINT) {
            continue;
        }
        let zones = network.private_zones();
        let zone_words = if zones == 1 { "the 1 zone".to_string() } else { format!("each of the {zones} zones") };
        problems.add(
            format!("clusters[{index}].use_glue_catalog"),
            format!(
                "subnet `{}` reaches the Glue Data Catalog by neither a NAT gateway nor a `{GLUE_ENDPOINT}` interface endpoint, and with the catalog as metastore every Hive and Spark SQL statement calls the Glue API from the nodes (it would hang, then fail): add `{GLUE_ENDPOINT}` to `network.endpoints` (an interface endpoint in {zone_words} with a private subnet, billed per endpoint-hour in each zone plus per GB processed, AWS PrivateLink pricing), or set `network.nat: single` (a NAT gateway, billed per hour plus per GB processed, several times an endpoint-hour, and it opens the way to every API and the internet)",
                cluster.subnet
            ),
        );
    }
}

impl Network {
    /// True when instances in the subnet named `subnet` reach the AWS API that the endpoint
    /// `endpoint` of `network.endpoints` serves: the subnet is public, or private with a NAT
    /// gateway, or the endpoint is listed (gateway endpoints sit on every private route table,
    /// interface endpoints serve the whole VPC through private DNS). False for a subnet the spec
    /// lacks.
    pub fn reaches_api(&self, subnet: &str, endpoint: &str) -> bool {
        let Some(subnet) = self.subnets.iter().find(|candidate| candidate.name == subnet) else {
            return false;
        };
        subnet.public || self.nat_for(subnet).is_some() || self.endpoints.iter().any(|name| name == endpoint)
    }

    /// How many zones have a private subnet: where an interface endpoint puts a network
    /// interface, and bills an endpoint-hour each.
    pub fn private_zones(&self) -> usize {
        let mut zones: Vec<&str> = Vec::new();
        for subnet in self.subnets.iter().filter(|subnet| !subnet.public) {
            if !zones.contains(&subnet.availability_zone.as_str()) {
                zones.push(&subnet.availability_zone);
            }
        }
        zones.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::checks::testing::{messages, paths, HEAD};

    /// A spec whose cluster sits in `subnet`, on the Glue catalog when `glue` says so, with the
    /// `network` keys `extra`.
    fn spec(subnet: &str, glue: bool, extra: &str) -> String {
        format!(
            "{HEAD}network:\n  vpc: {{cidr: 10.0.0.0/16}}\n  subnets:\n    - {{name: public-a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a, public: true}}\n    - {{name: private-a, cidr: 10.0.10.0/24, availability_zone: eu-west-1a}}\n    - {{name: private-b, cidr: 10.0.11.0/24, availability_zone: eu-west-1b}}\n{extra}buckets: [{{name: demo-lake}}]\ncatalog:\n  tables: [{{name: t, location: {{bucket: demo-lake, prefix: t/}}, columns: [{{name: a, type: string}}]}}]\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    use_glue_catalog: {glue}\n    subnet: {subnet}\n    master: {{type: m5.xlarge}}\n    core: {{type: m5.xlarge, nodes: 2}}\n"
        )
    }

    #[test]
    fn a_glue_catalog_cluster_in_a_private_subnet_needs_a_nat_or_a_glue_endpoint() {
        let unreachable = spec("private-a", true, "  endpoints: [s3, sts]\n");
        assert_eq!(paths(&unreachable), ["clusters[0].use_glue_catalog"]);
        let message = &messages(&unreachable)[0];
        for words in [
            "subnet `private-a`",
            "add `glue` to `network.endpoints`",
            "each of the 2 zones",
            "`network.nat: single`",
            "per endpoint-hour",
        ] {
            assert!(message.contains(words), "{words}: {message}");
        }
        for reachable in [
            spec("private-a", true, "  endpoints: [s3, glue]\n"),
            spec("private-a", true, "  nat: single\n"),
            spec("public-a", true, ""),
            spec("private-a", false, "  endpoints: [s3]\n"),
        ] {
            assert!(paths(&reachable).is_empty(), "{reachable}: {:?}", paths(&reachable));
        }
    }
}

//! The warehouse's services in `requests`: Redshift (a query protocol: the resource in a
//! parameter, tags as `Tags.Tag.N.Key`), Secrets Manager and the Redshift Data API (JSON).

use serde_json::Value;

use super::services::untag;
use super::{json_tags, query_tags, Ask, Requests};

impl Requests {
    /// Redshift: clusters (`cluster:<id>`) and subnet groups (`subnetgroup:<name>`); tags at
    /// creation need `redshift:CreateTags` too.
    pub(super) fn redshift(&mut self, ask: Ask, action: &str, operation: &str, body: &Value, region: &str) -> Ask {
        let param = |name: &str| body[name].as_str().unwrap_or_default().to_string();
        let resource = match operation {
            "DescribeClusterSubnetGroups" | "DescribeClusters" => return ask.on(action, "*"),
            "CreateTags" | "DeleteTags" => param("ResourceName"),
            _ if operation.contains("SubnetGroup") => {
                self.arn("redshift", region, &format!("subnetgroup:{}", param("ClusterSubnetGroupName")))
            }
            _ => self.arn("redshift", region, &format!("cluster:{}", param("ClusterIdentifier"))),
        };
        let tags = query_tags(body, "Tags.Tag.");
        let ask = ask.on(action, &resource);
        match operation {
            "CreateCluster" | "CreateClusterSubnetGroup" if !tags.is_empty() => {
                ask.on("redshift:CreateTags", &resource).tags(tags, &[resource])
            }
            "CreateTags" => ask.tags(tags, &[resource]),
            "DeleteTags" => {
                let keys: Vec<Value> = body
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(name, _)| name.starts_with("TagKeys."))
                    .map(|(_, key)| key.clone())
                    .collect();
                untag(ask, &Value::Array(keys), resource)
            }
            _ => ask,
        }
    }

    /// Secrets Manager: a secret by name or ARN (a name's ARN ends with six characters AWS
    /// chooses; `-XXXXXX` stands for them); tags at creation need `TagResource` too.
    pub(super) fn secretsmanager(
        &mut self,
        ask: Ask,
        action: &str,
        operation: &str,
        body: &Value,
        region: &str,
    ) -> Ask {
        if operation == "GetRandomPassword" {
            return ask.on(action, "*");
        }
        let id = body["SecretId"].as_str().or(body["Name"].as_str()).unwrap_or_default();
        let secret = if id.starts_with("arn:") {
            id.to_string()
        } else {
            self.arn("secretsmanager", region, &format!("secret:{id}-XXXXXX"))
        };
        let tags = json_tags(&body["Tags"]);
        let ask = ask.on(action, &secret);
        match operation {
            "CreateSecret" if !tags.is_empty() => ask.on("secretsmanager:TagResource", &secret).tags(tags, &[secret]),
            "TagResource" => ask.tags(tags, &[secret]),
            "UntagResource" => untag(ask, &body["TagKeys"], secret),
            _ => ask,
        }
    }

    /// The Redshift Data API: statements run on a cluster (`cluster:<id>`); following one has
    /// no resource.
    pub(super) fn redshift_data(&mut self, ask: Ask, action: &str, body: &Value, region: &str) -> Ask {
        match body["ClusterIdentifier"].as_str() {
            Some(cluster) => ask.on(action, &self.arn("redshift", region, &format!("cluster:{cluster}"))),
            None => ask.on(action, "*"),
        }
    }
}

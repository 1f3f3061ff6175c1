//! Eventual consistency, the family of rules by which what a call just did is not yet what the
//! next call sees (each rule's source is in the crate documentation, `main.rs`):
//!
//! - `fresh-ec2-ids`: an id EC2 returned from a create is "not found" by the calls that name it;
//! - `fresh-table`: DynamoDB's `DescribeTable` does not find a table `CreateTable` just made;
//! - `tag-index-lag`: `tag:GetResources` does not list a resource tagged moments ago;
//! - `deleted-still-listed`: `tag:GetResources` still lists a resource deleted moments ago.
//!
//! Each lasts `--consistency-secs` after the call that caused it, the tag index's
//! `--index-lag-secs`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Refusal, Rule};
use crate::call::Call;
use crate::http::{decoded_body, replace_body, Message};

/// The EC2 resources whose fresh ids `fresh-ec2-ids` hides: the create, the element of its
/// answer that holds the id, the id's prefix, and the error code and message noun EC2 answers
/// for an unknown id of that type ("Error codes for the Amazon EC2 API").
const EC2_CREATES: [(&str, &str, &str, &str); 7] = [
    ("CreateVpc", "vpcId", "InvalidVpcID.NotFound", "The vpc ID '{}' does not exist"),
    ("CreateSubnet", "subnetId", "InvalidSubnetID.NotFound", "The subnet ID '{}' does not exist"),
    ("CreateSecurityGroup", "groupId", "InvalidGroup.NotFound", "The security group '{}' does not exist"),
    ("CreateRouteTable", "routeTableId", "InvalidRouteTableID.NotFound", "The routeTable ID '{}' does not exist"),
    (
        "CreateInternetGateway",
        "internetGatewayId",
        "InvalidInternetGatewayID.NotFound",
        "The internetGateway ID '{}' does not exist",
    ),
    ("CreateNatGateway", "natGatewayId", "NatGatewayNotFound", "The Nat Gateway {} was not found"),
    ("CreateVpcEndpoint", "vpcEndpointId", "InvalidVpcEndpointId.NotFound", "The VpcEndpoint Id '{}' does not exist"),
];

/// A resource the tag index serves, as the proxy saw it tagged and deleted.
#[derive(Debug, Clone)]
struct Indexed {
    arn: String,
    tags: BTreeMap<String, String>,
    tagged: Instant,
    deleted: Option<Instant>,
}

/// What the family has seen pass by.
#[derive(Default)]
pub struct ConsistencyState {
    /// Fresh EC2 ids: when they were created, and the create's index in `EC2_CREATES`.
    ec2: HashMap<String, (Instant, usize)>,
    /// DynamoDB tables by name: when they were created.
    tables: HashMap<String, Instant>,
    /// Buckets, streams and delivery streams by ARN.
    indexed: HashMap<String, Indexed>,
    /// The account of the credentials (from STS `GetCallerIdentity`), for ARNs.
    account: Option<String>,
}

fn within(at: Instant, now: Instant, window: Duration) -> bool {
    now.saturating_duration_since(at) < window
}

/// The text of the first `<name>…</name>` in `xml`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    xml.split(&format!("<{name}>")).nth(1)?.split(&format!("</{name}>")).next()
}

/// The key/value pairs of an S3 `<Tagging>` or `<CreateBucketConfiguration>` body.
fn s3_tags(xml: &str) -> BTreeMap<String, String> {
    xml.split("<Tag>")
        .skip(1)
        .filter_map(|tag| Some((element(tag, "Key")?.to_string(), element(tag, "Value").unwrap_or("").to_string())))
        .collect()
}

/// The tags of a JSON body: a `{key: value}` map (Kinesis) or a `[{Key, Value}]` list (Firehose).
fn json_tags(tags: &Value) -> BTreeMap<String, String> {
    match tags {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect(),
        Value::Array(list) => list
            .iter()
            .filter_map(|tag| Some((tag["Key"].as_str()?.to_string(), tag["Value"].as_str().unwrap_or("").to_string())))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// Whether `arn` is of the `ResourceTypeFilters` entry `filter` (`s3`, `kinesis:stream`).
fn of_type(arn: &str, filter: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let (service, kind) = filter.split_once(':').unwrap_or((filter, ""));
    parts.get(2) == Some(&service) && (kind.is_empty() || parts.get(5).is_some_and(|r| r.starts_with(kind)))
}

impl ConsistencyState {
    fn arn(&self, call: &Call, resource: &str, service: &str) -> String {
        let account = self.account.as_deref().unwrap_or("000000000000");
        format!("arn:aws:{service}:{}:{account}:{resource}", call.region)
    }

    /// The ARN and tags a tagging or deleting call names, if it is of a type the index serves.
    fn named(&self, call: &Call) -> Option<(String, BTreeMap<String, String>)> {
        let body = String::from_utf8_lossy(&call.body);
        let stream = |name: &Value| name.as_str().map(|name| self.arn(call, &format!("stream/{name}"), "kinesis"));
        let delivery =
            |name: &Value| name.as_str().map(|name| self.arn(call, &format!("deliverystream/{name}"), "firehose"));
        match (call.service.as_str(), call.operation.as_str()) {
            ("s3", "CreateBucket" | "PutBucketTagging" | "DeleteBucket") => {
                Some((format!("arn:aws:s3:::{}", call.bucket.as_deref()?), s3_tags(&body)))
            }
            ("kinesis", "CreateStream" | "AddTagsToStream" | "DeleteStream") => {
                let arn =
                    call.json["StreamARN"].as_str().map(str::to_string).or_else(|| stream(&call.json["StreamName"]));
                Some((arn?, json_tags(&call.json["Tags"])))
            }
            ("firehose", "CreateDeliveryStream" | "TagDeliveryStream" | "DeleteDeliveryStream") => {
                Some((delivery(&call.json["DeliveryStreamName"])?, json_tags(&call.json["Tags"])))
            }
            _ => None,
        }
    }

    /// Learns from a call that succeeded: fresh ids and tables, what was tagged or deleted, the
    /// account.
    pub fn learn(&mut self, call: &Call, response: &str, now: Instant) {
        match (call.service.as_str(), call.operation.as_str()) {
            ("ec2", operation) => {
                if let Some(index) = EC2_CREATES.iter().position(|(create, ..)| *create == operation) {
                    if let Some(id) = element(response, EC2_CREATES[index].1) {
                        self.ec2.insert(id.to_string(), (now, index));
                    }
                }
            }
            ("dynamodb", "CreateTable") => {
                if let Some(name) = call.json["TableName"].as_str() {
                    self.tables.insert(name.to_string(), now);
                }
            }
            ("sts", "GetCallerIdentity") => {
                self.account = element(response, "Account").map(str::to_string).or(self.account.take());
            }
            _ => {
                let Some((arn, tags)) = self.named(call) else { return };
                if call.operation.starts_with("Delete") {
                    if let Some(resource) = self.indexed.get_mut(&arn) {
                        resource.deleted = Some(now);
                    }
                } else {
                    let resource = self.indexed.entry(arn.clone()).or_insert_with(|| Indexed {
                        arn,
                        tags: BTreeMap::new(),
                        tagged: now,
                        deleted: None,
                    });
                    if !tags.is_empty() {
                        resource.tags.extend(tags);
                        resource.tagged = now;
                    }
                    resource.deleted = None;
                }
            }
        }
    }

    /// `fresh-ec2-ids`: a call (other than a create's own) that names a fresh id in any
    /// parameter but a filter. Filters never fail on an unknown id; they match nothing.
    pub fn fresh_ec2_id(&self, call: &Call, now: Instant, window: Duration) -> Option<Refusal> {
        if call.service != "ec2" {
            return None;
        }
        let named = call.params.iter().filter(|(key, _)| !key.starts_with("Filter.")).map(|(_, value)| value);
        named.into_iter().find_map(|value| {
            let (_, index) = self.ec2.get(value).filter(|(created, _)| within(*created, now, window))?;
            let (create, _, code, message) = EC2_CREATES[*index];
            (call.operation != create).then(|| Refusal::ec2(code, &message.replace("{}", value)))
        })
    }

    /// `fresh-table`: `DescribeTable` of a table created moments ago.
    pub fn fresh_table(&self, call: &Call, now: Instant, window: Duration) -> Option<Refusal> {
        if (call.service.as_str(), call.operation.as_str()) != ("dynamodb", "DescribeTable") {
            return None;
        }
        let name = call.json["TableName"].as_str()?;
        self.tables.get(name).filter(|created| within(**created, now, window))?;
        Some(Refusal {
            status: "400 Bad Request",
            headers: vec![("Content-Type", "application/x-amz-json-1.0".to_string())],
            body: serde_json::json!({
                "__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                "message": format!("Requested resource not found: Table: {name} not found"),
            })
            .to_string(),
        })
    }

    /// `tag-index-lag` and `deleted-still-listed` on a `GetResources` answer: drops what was
    /// tagged within `window`, and adds (on the last page) what was deleted within it and matches
    /// the request's filters. The rules that changed it.
    pub fn rewrite_index(&self, call: &Call, response: &mut Message, now: Instant, window: Duration) -> Vec<Rule> {
        let mut rules = Vec::new();
        if response.header("content-encoding").is_some() {
            return rules;
        }
        let Ok(mut answer) = serde_json::from_slice::<Value>(&decoded_body(response)) else { return rules };
        let Some(list) = answer["ResourceTagMappingList"].as_array_mut() else { return rules };
        let lagging =
            |arn: &str| self.indexed.get(arn).is_some_and(|r| r.deleted.is_none() && within(r.tagged, now, window));
        let before = list.len();
        list.retain(|mapping| !mapping["ResourceARN"].as_str().is_some_and(lagging));
        if list.len() < before {
            rules.push(Rule::TagIndexLag);
        }
        let last_page = answer["PaginationToken"].as_str().is_none_or(str::is_empty);
        let types: Vec<&str> =
            call.json["ResourceTypeFilters"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let filters: Vec<(&str, Vec<&str>)> = call.json["TagFilters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|filter| {
                let values = filter["Values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                Some((filter["Key"].as_str()?, values))
            })
            .collect();
        let matches = |resource: &Indexed| {
            (types.is_empty() || types.iter().any(|filter| of_type(&resource.arn, filter)))
                && filters.iter().all(|(key, values)| {
                    resource.tags.get(*key).is_some_and(|value| values.is_empty() || values.contains(&value.as_str()))
                })
        };
        let list = answer["ResourceTagMappingList"].as_array_mut().expect("checked above");
        let mut ghosts: Vec<&Indexed> = self
            .indexed
            .values()
            .filter(|r| last_page && r.deleted.is_some_and(|at| within(at, now, window)) && matches(r))
            .filter(|r| !list.iter().any(|mapping| mapping["ResourceARN"] == r.arn.as_str()))
            .collect();
        ghosts.sort_by(|a, b| a.arn.cmp(&b.arn));
        for ghost in &ghosts {
            let tags: Vec<Value> =
                ghost.tags.iter().map(|(key, value)| serde_json::json!({"Key": key, "Value": value})).collect();
            list.push(serde_json::json!({"ResourceARN": ghost.arn, "Tags": tags}));
        }
        if !ghosts.is_empty() {
            rules.push(Rule::DeletedListed);
        }
        if !rules.is_empty() {
            replace_body(response, answer.to_string().into_bytes());
        }
        rules
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Fidelity, FidelityOptions};
    use super::*;
    use crate::testing::{json, message, ok, query, rest};

    fn family() -> Fidelity {
        Fidelity::new(FidelityOptions { rules: Rule::ALL.to_vec(), ..FidelityOptions::default() })
    }

    #[test]
    fn a_fresh_ec2_id_is_not_found_by_the_calls_that_name_it_for_a_while() {
        let fidelity = family();
        let t0 = Instant::now();
        let create = query("ec2", "Action=CreateVpc&CidrBlock=10.0.0.0%2F16");
        fidelity.observe(
            &create,
            &mut ok("<CreateVpcResponse><vpc><vpcId>vpc-1</vpcId></vpc></CreateVpcResponse>"),
            t0,
        );
        let subnet = query("ec2", "Action=CreateSubnet&VpcId=vpc-1&CidrBlock=10.0.0.0%2F24");
        let (rule, refusal) = fidelity.refuse(&subnet, t0 + Duration::from_secs(1)).expect("not found yet");
        assert_eq!(rule, Rule::FreshEc2Ids);
        assert!(refusal.body.contains("<Code>InvalidVpcID.NotFound</Code>"), "{}", refusal.body);
        assert!(refusal.body.contains("The vpc ID &apos;vpc-1&apos; does not exist"), "{}", refusal.body);
        let describe = query("ec2", "Action=DescribeVpcs&VpcId.1=vpc-1");
        assert!(fidelity.refuse(&describe, t0 + Duration::from_secs(1)).is_some(), "a describe by id too");
        let filtered = query("ec2", "Action=DescribeSubnets&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1");
        assert!(fidelity.refuse(&filtered, t0 + Duration::from_secs(1)).is_none(), "a filter matches nothing instead");
        assert!(fidelity.refuse(&subnet, t0 + Duration::from_secs(2)).is_none(), "propagated after the window");
        let group = query("ec2", "Action=CreateSecurityGroup&GroupName=g&VpcId=vpc-2");
        fidelity.observe(
            &group,
            &mut ok("<CreateSecurityGroupResponse><groupId>sg-1</groupId></CreateSecurityGroupResponse>"),
            t0,
        );
        let ingress = query("ec2", "Action=AuthorizeSecurityGroupIngress&GroupId=sg-1");
        let (_, refusal) = fidelity.refuse(&ingress, t0 + Duration::from_millis(500)).expect("not found yet");
        assert!(refusal.body.contains("<Code>InvalidGroup.NotFound</Code>"), "{}", refusal.body);
        let nat = query("ec2", "Action=CreateNatGateway&SubnetId=subnet-9");
        fidelity.observe(&nat, &mut ok("<natGateway><natGatewayId>nat-1</natGatewayId></natGateway>"), t0);
        let (_, refusal) = fidelity
            .refuse(&query("ec2", "Action=DescribeNatGateways&NatGatewayId.1=nat-1"), t0 + Duration::from_secs(1))
            .expect("not found yet");
        assert!(refusal.body.contains("<Code>NatGatewayNotFound</Code>"), "{}", refusal.body);
    }

    #[test]
    fn describe_table_does_not_find_a_table_created_moments_ago() {
        let fidelity = family();
        let t0 = Instant::now();
        let describe =
            json("dynamodb", "DynamoDB_20120810.DescribeTable", &serde_json::json!({"TableName": "pipectl-locks"}));
        assert!(fidelity.refuse(&describe, t0).is_none(), "a table the proxy did not see created");
        let create =
            json("dynamodb", "DynamoDB_20120810.CreateTable", &serde_json::json!({"TableName": "pipectl-locks"}));
        fidelity.observe(&create, &mut ok("{}"), t0);
        let (rule, refusal) = fidelity.refuse(&describe, t0 + Duration::from_secs(1)).expect("not found yet");
        assert_eq!(rule, Rule::FreshTable);
        let body: Value = serde_json::from_str(&refusal.body).unwrap();
        assert_eq!(body["__type"], "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException");
        assert!(refusal.render().contains("Content-Type: application/x-amz-json-1.0\r\n"));
        assert!(fidelity.refuse(&describe, t0 + Duration::from_secs(2)).is_none());
    }

    fn get_resources(pipeline: &str) -> Call {
        json(
            "tagging",
            "ResourceGroupsTaggingAPI_20170126.GetResources",
            &serde_json::json!({
                "TagFilters": [{"Key": "pipectl:pipeline", "Values": [pipeline]}],
                "ResourceTypeFilters": ["s3", "kinesis:stream", "firehose:deliverystream"],
            }),
        )
    }

    fn listed(response: &Message) -> Vec<String> {
        let answer: Value = serde_json::from_slice(&response.body).unwrap();
        answer["ResourceTagMappingList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|mapping| mapping["ResourceARN"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn the_tag_index_lags_behind_fresh_tags_and_lists_what_was_deleted_for_a_while() {
        let fidelity = family();
        let t0 = Instant::now();
        let identity = query("sts", "Action=GetCallerIdentity");
        fidelity.observe(&identity, &mut ok("<Account>123456789012</Account>"), t0);
        let tags = serde_json::json!({"pipectl:pipeline": "p", "team": "data"});
        let stream =
            json("kinesis", "Kinesis_20131202.CreateStream", &serde_json::json!({"StreamName": "s", "Tags": tags}));
        fidelity.observe(&stream, &mut ok("{}"), t0);
        let tagging = "<Tagging><TagSet><Tag><Key>pipectl:pipeline</Key><Value>p</Value></Tag></TagSet></Tagging>";
        fidelity.observe(&rest("s3", "us-east-1", "PUT /lake?tagging HTTP/1.1", tagging), &mut ok(""), t0);
        let stream_arn = "arn:aws:kinesis:us-east-1:123456789012:stream/s";
        let upstream = serde_json::json!({"ResourceTagMappingList": [
            {"ResourceARN": stream_arn, "Tags": []},
            {"ResourceARN": "arn:aws:s3:::lake", "Tags": []},
            {"ResourceARN": "arn:aws:s3:::old", "Tags": []},
        ]});
        let answer = |body: &Value| message("HTTP/1.1 200 OK", &[], &body.to_string());
        let mut response = answer(&upstream);
        let rules = fidelity.observe(&get_resources("p"), &mut response, t0 + Duration::from_secs(9));
        assert_eq!(rules, [Rule::TagIndexLag]);
        assert_eq!(listed(&response), ["arn:aws:s3:::old"], "freshly tagged resources are not listed yet");
        let mut response = answer(&upstream);
        assert!(fidelity.observe(&get_resources("p"), &mut response, t0 + Duration::from_secs(10)).is_empty());
        assert_eq!(listed(&response).len(), 3, "listed once the index caught up");
        // Deleted: still listed for a while, with the tags it had, where the filters match.
        let delete = json("kinesis", "Kinesis_20131202.DeleteStream", &serde_json::json!({"StreamName": "s"}));
        fidelity.observe(&delete, &mut ok("{}"), t0 + Duration::from_secs(11));
        let empty = serde_json::json!({"ResourceTagMappingList": [], "PaginationToken": ""});
        let mut response = answer(&empty);
        let rules = fidelity.observe(&get_resources("p"), &mut response, t0 + Duration::from_secs(20));
        assert_eq!(rules, [Rule::DeletedListed]);
        assert_eq!(listed(&response), [stream_arn]);
        let mut other = answer(&empty);
        assert!(fidelity.observe(&get_resources("q"), &mut other, t0 + Duration::from_secs(20)).is_empty());
        let mut later = answer(&empty);
        assert!(fidelity.observe(&get_resources("p"), &mut later, t0 + Duration::from_secs(21)).is_empty());
    }
}

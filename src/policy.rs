//! IAM policy documents: the least-privilege policies pipectl derives for the roles a pipeline
//! needs, ARNs for the pipeline's resources, and the semantic normalisation that makes two
//! documents compare equal when IAM would treat them the same (so plans stay stable).

use serde_json::{json, Map, Value};

use crate::spec::{Delivery, DeliveryEncryption, Effect, Statement, Stream, StreamEncryption};

/// What ARNs are made of in the account pipectl talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arns {
    pub partition: String,
    pub account_id: String,
    pub region: String,
}

impl Arns {
    pub fn new(account_id: &str, region: &str) -> Arns {
        let partition = if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        Arns { partition: partition.to_string(), account_id: account_id.to_string(), region: region.to_string() }
    }

    pub fn stream(&self, name: &str) -> String {
        format!("arn:{}:kinesis:{}:{}:stream/{name}", self.partition, self.region, self.account_id)
    }

    pub fn bucket(&self, name: &str) -> String {
        format!("arn:{}:s3:::{name}", self.partition)
    }

    /// Roles of a pipeline live under the IAM path `/pipectl/<pipeline>/`.
    pub fn role(&self, path: &str, name: &str) -> String {
        format!("arn:{}:iam::{}:role{path}{name}", self.partition, self.account_id)
    }
}

/// A trust policy that lets one AWS service assume the role.
pub fn trust_policy(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
    })
}

/// The object ARN pattern a prefix may write to: everything up to its first `!{` expression.
fn object_arn(bucket_arn: &str, prefix: &str) -> String {
    let fixed = prefix.split("!{").next().unwrap_or_default();
    format!("{bucket_arn}/{fixed}*")
}

/// The inline policy of a delivery's derived role: read that one stream, write that one bucket
/// under its prefixes, and KMS only where encryption asks for it.
pub fn delivery_policy(delivery: &Delivery, source: &Stream, arns: &Arns) -> Value {
    let stream_arn = arns.stream(&delivery.from);
    let bucket_arn = arns.bucket(&delivery.to.bucket);
    let mut objects = vec![object_arn(&bucket_arn, &delivery.to.prefix)];
    if let Some(error_prefix) = &delivery.to.error_prefix {
        objects.push(object_arn(&bucket_arn, error_prefix));
    }
    objects.sort();
    objects.dedup();
    let mut statements = vec![
        json!({
            "Sid": "ReadSourceStream",
            "Effect": "Allow",
            "Action": ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"],
            "Resource": [stream_arn],
        }),
        json!({
            "Sid": "ListLakeBucket",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            "Resource": [bucket_arn],
        }),
        json!({
            "Sid": "WriteLakeObjects",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
            "Resource": objects,
        }),
    ];
    if let (DeliveryEncryption::Kms, Some(key)) = (delivery.encryption, &delivery.kms_key) {
        statements.push(json!({
            "Sid": "EncryptLakeObjects",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": [key],
            "Condition": {"StringEquals": {"kms:ViaService": format!("s3.{}.amazonaws.com", arns.region)}},
        }));
    }
    if source.encryption == StreamEncryption::Kms {
        // The AWS managed key's ARN is not known in advance: then scope by the calling service.
        let key = source.kms_key.clone().filter(|key| key.starts_with("arn:")).unwrap_or_else(|| "*".to_string());
        statements.push(json!({
            "Sid": "DecryptSourceStream",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [key],
            "Condition": {"StringEquals": {"kms:ViaService": format!("kinesis.{}.amazonaws.com", arns.region)}},
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The inline policy of a role declared in the spec.
pub fn statements_policy(statements: &[Statement]) -> Value {
    let statements: Vec<Value> = statements
        .iter()
        .map(|statement| {
            let mut value = json!({
                "Effect": match statement.effect { Effect::Allow => "Allow", Effect::Deny => "Deny" },
                "Action": statement.actions,
                "Resource": statement.resources,
            });
            if let (Some(sid), Some(object)) = (&statement.sid, value.as_object_mut()) {
                object.insert("Sid".to_string(), json!(sid));
            }
            value
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// Parses a policy document as IAM returns it: JSON, possibly URL-encoded.
pub fn parse_document(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok().or_else(|| serde_json::from_str(&percent_decode(text)).ok())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let decoded = (bytes[index] == b'%')
            .then(|| bytes.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match decoded {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(if bytes[index] == b'+' { b' ' } else { bytes[index] });
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The same value with every object's keys in sorted order, so that its text is canonical
/// whichever map ordering serde_json was built with.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|key| (key.clone(), canonical(&object[key]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// A canonical form: single values become one-element lists, lists that IAM treats as sets
/// are sorted and deduplicated, and statements are sorted, so equal policies compare equal.
pub fn normalize(document: &Value) -> Value {
    let statements = match document.get("Statement") {
        Some(Value::Array(statements)) => statements.clone(),
        Some(single) => vec![single.clone()],
        None => Vec::new(),
    };
    let mut statements: Vec<Value> =
        statements.iter().map(|statement| canonical(&normalize_statement(statement))).collect();
    statements.sort_by_key(|statement| statement.to_string());
    statements.dedup();
    canonical(&json!({
        "Version": document.get("Version").cloned().unwrap_or_else(|| json!("2008-10-17")),
        "Statement": statements,
    }))
}

fn normalize_statement(statement: &Value) -> Value {
    let Some(object) = statement.as_object() else { return statement.clone() };
    let mut normalized = Map::new();
    for (key, value) in object {
        let value = match key.as_str() {
            "Action" | "NotAction" | "Resource" | "NotResource" => sorted_set(value),
            "Principal" | "NotPrincipal" => match value {
                Value::Object(principals) => {
                    Value::Object(principals.iter().map(|(kind, ids)| (kind.clone(), sorted_set(ids))).collect())
                }
                other => other.clone(),
            },
            "Condition" => match value {
                Value::Object(operators) => Value::Object(
                    operators
                        .iter()
                        .map(|(operator, keys)| {
                            let keys = match keys {
                                Value::Object(keys) => {
                                    Value::Object(keys.iter().map(|(k, v)| (k.clone(), sorted_set(v))).collect())
                                }
                                other => other.clone(),
                            };
                            (operator.clone(), keys)
                        })
                        .collect(),
                ),
                other => other.clone(),
            },
            _ => value.clone(),
        };
        normalized.insert(key.clone(), value);
    }
    Value::Object(normalized)
}

fn sorted_set(value: &Value) -> Value {
    let mut items: Vec<Value> = match value {
        Value::Array(items) => items.clone(),
        single => vec![single.clone()],
    };
    items.sort_by_key(|item| canonical(item).to_string());
    items.dedup();
    Value::Array(items)
}

/// Actions that grant everything or a whole service (`*`, `s3:*`).
pub fn wildcard_actions(document: &Value) -> Vec<String> {
    normalize(document)["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|statement| statement["Action"].as_array().cloned().unwrap_or_default())
        .filter_map(|action| action.as_str().map(str::to_string))
        .filter(|action| action.contains('*'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Spec;

    fn spec() -> Spec {
        serde_saphyr::from_str(
            "version: 1\npipeline: p\nregion: eu-west-1\nbuckets: [{name: lake}]\nstreams: [{name: events}]\ndeliveries:\n  - name: d\n    from: events\n    to: {bucket: lake, prefix: 'raw/events/!{timestamp:yyyy/MM/dd}/', error_prefix: 'errors/!{firehose:error-output-type}/'}\n",
        )
        .unwrap()
    }

    #[test]
    fn delivery_policy_has_exactly_the_needed_statements() {
        let spec = spec();
        let arns = Arns::new("123456789012", "eu-west-1");
        let policy = delivery_policy(&spec.deliveries[0], &spec.streams[0], &arns);
        let expected = json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "ReadSourceStream", "Effect": "Allow",
                 "Action": ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"],
                 "Resource": ["arn:aws:kinesis:eu-west-1:123456789012:stream/events"]},
                {"Sid": "ListLakeBucket", "Effect": "Allow",
                 "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                 "Resource": ["arn:aws:s3:::lake"]},
                {"Sid": "WriteLakeObjects", "Effect": "Allow",
                 "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
                 "Resource": ["arn:aws:s3:::lake/errors/*", "arn:aws:s3:::lake/raw/events/*"]}
            ]
        });
        assert_eq!(policy, expected);
        assert!(wildcard_actions(&policy).is_empty());
    }

    #[test]
    fn kms_statements_only_when_encryption_asks() {
        let mut spec = spec();
        spec.deliveries[0].encryption = DeliveryEncryption::Kms;
        spec.deliveries[0].kms_key = Some("arn:aws:kms:eu-west-1:123456789012:key/abc".to_string());
        spec.streams[0].encryption = StreamEncryption::Kms;
        let policy = delivery_policy(&spec.deliveries[0], &spec.streams[0], &Arns::new("123456789012", "eu-west-1"));
        let sids: Vec<&str> =
            policy["Statement"].as_array().unwrap().iter().filter_map(|s| s["Sid"].as_str()).collect();
        assert_eq!(
            sids,
            ["ReadSourceStream", "ListLakeBucket", "WriteLakeObjects", "EncryptLakeObjects", "DecryptSourceStream"]
        );
        assert_eq!(policy["Statement"][3]["Resource"], json!(["arn:aws:kms:eu-west-1:123456789012:key/abc"]));
    }

    #[test]
    fn normalisation_ignores_order_and_single_values() {
        let ours = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:PutObject", "s3:AbortMultipartUpload"], "Resource": ["arn:aws:s3:::b/*"]},
            {"Effect": "Allow", "Action": "kinesis:GetRecords", "Resource": "arn:aws:kinesis:r:1:stream/s"}
        ]});
        let theirs = json!({"Version": "2012-10-17", "Statement": [
            {"Resource": ["arn:aws:kinesis:r:1:stream/s"], "Action": ["kinesis:GetRecords"], "Effect": "Allow"},
            {"Effect": "Allow", "Action": ["s3:AbortMultipartUpload", "s3:PutObject", "s3:PutObject"], "Resource": "arn:aws:s3:::b/*"}
        ]});
        assert_eq!(normalize(&ours), normalize(&theirs));
        let different =
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}});
        assert_ne!(normalize(&ours), normalize(&different));
        assert_eq!(wildcard_actions(&different), ["s3:*"]);
    }

    #[test]
    fn url_encoded_documents_parse() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(parse_document(encoded), Some(json!({"Version": "2012-10-17", "Statement": []})));
        assert_eq!(parse_document("{\"a\": 1}"), Some(json!({"a": 1})));
        assert_eq!(parse_document("%ZZ"), None);
    }
}

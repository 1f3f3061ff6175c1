//! IAM policy documents: trust policies, the KMS grants derived roles need, the inline policy of
//! a role the spec declares, and the semantic normalisation that makes two documents compare
//! equal when IAM would treat them the same (so plans stay stable).

use serde_json::{json, Map, Value};

use super::arns::Arns;
use crate::spec::{Bucket, BucketEncryption, Effect, Statement};

/// A trust policy that lets the principal `service` assume the role, spelled exactly as given;
/// `Arns::trust_policy` spells it for the region's partition.
pub fn trust_policy(service: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]
    })
}

/// A trust policy that lets one AWS service assume the role, with the service's principal as the
/// region's partition spells it (see `Arns::service_principal`).
pub fn service_trust_policy(arns: &Arns, service: &str) -> Value {
    trust_policy(&arns.service_principal(service))
}

/// The trust policy of a role pipectl derives for `service` (short name or principal): the
/// service's principal as the partition spells it, with the confused-deputy condition the
/// service documents sending when it assumes a role, so that only this account's resources can
/// make the service assume it:
///
/// - Firehose: `sts:ExternalId` = the account id ("Grant Firehose access to an Amazon S3
///   destination", Amazon Data Firehose Developer Guide, whose trust policy carries it);
/// - EMR: `aws:SourceAccount` = the account and `aws:SourceArn` like
///   `arn:<partition>:elasticmapreduce:<region>:<account>:*` ("Service role for Amazon EMR (EMR
///   role)", Amazon EMR Management Guide);
/// - EventBridge Scheduler: `aws:SourceAccount` = the account ("Set up the execution role",
///   EventBridge Scheduler User Guide);
/// - Step Functions: `aws:SourceAccount` = the account and `aws:SourceArn` = the state machine
///   ("Creating an IAM role for your state machine", Step Functions Developer Guide: "Prevent
///   cross-service confused deputy issue").
///
/// `source_arn` is the `aws:SourceArn` value (EMR, Step Functions). EC2 (an instance profile's
/// role) and Glue (a crawler's role) document no such key for their trust policies, and a key
/// a service does not send makes `AssumeRole` fail: their trust has no condition
/// (docs/deployer-policy.md).
pub fn derived_trust_policy(arns: &Arns, service: &str, source_arn: Option<&str>) -> Value {
    let principal = arns.service_principal(service);
    let account = arns.account_id.as_str();
    let mut condition = Map::new();
    match principal.split('.').next().unwrap_or_default() {
        "firehose" => {
            condition.insert("StringEquals".to_string(), json!({"sts:ExternalId": account}));
        }
        "elasticmapreduce" | "scheduler" | "states" => {
            condition.insert("StringEquals".to_string(), json!({"aws:SourceAccount": account}));
            if let Some(source) = source_arn {
                condition.insert("ArnLike".to_string(), json!({"aws:SourceArn": source}));
            }
        }
        _ => {}
    }
    let mut trust = trust_policy(&principal);
    if !condition.is_empty() {
        trust["Statement"][0]["Condition"] = Value::Object(condition);
    }
    trust
}

/// The `kms:ViaService` value of a service in the pipeline's region: the service's endpoint
/// name, `<service>.<region>.amazonaws.com` ("Condition keys for AWS KMS"), which ends in
/// `amazonaws.com.cn` in the China regions.
fn via_service(arns: &Arns, service: &str) -> String {
    format!("{service}.{}.{}", arns.region, arns.dns_suffix())
}

/// A customer managed KMS key as an IAM policy can name it for using the key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeyGrant {
    /// A key ARN, the only form IAM matches in `Resource` for key usage.
    Key(String),
    /// A key known by an alias: every key of the alias's account and region
    /// (`arn:…:kms:<region>:<account>:key/*`) that carries the alias `alias/<name>`, matched with
    /// the `kms:ResourceAliases` condition ("Use aliases to control access to KMS keys", AWS KMS
    /// Developer Guide: an alias ARN in `Resource` names the alias, never the key behind it).
    Alias { keys: String, alias: String },
}

/// What a derived role needs to be granted to use the key a spec names (`kms_key` of a bucket
/// or stream: a key ID, key ARN, alias name or alias ARN): None for the AWS managed keys
/// (`alias/aws/s3`, `alias/aws/kinesis`, any `alias/aws/…`), whose key policies already let
/// every principal of the account use them through their service ("Permissions to use
/// user-generated KMS keys", Kinesis Data Streams Developer Guide: the default service key
/// "does not require application of custom IAM permissions"). A bare key ID or alias name is
/// in the pipeline's account and region.
pub fn key_grant(key: &str, arns: &Arns) -> Option<KeyGrant> {
    let key = key.trim();
    let (prefix, resource) = match key.strip_prefix("arn:") {
        Some(_) => {
            // arn:<partition>:kms:<region>:<account>:<key/…|alias/…>
            let mut parts = key.splitn(6, ':');
            let head: Vec<&str> = parts.by_ref().take(5).collect();
            (head.join(":"), parts.next().unwrap_or_default().to_string())
        }
        None => (format!("arn:{}:kms:{}:{}", arns.partition, arns.region, arns.account_id), key.to_string()),
    };
    if resource.starts_with("alias/aws/") {
        return None;
    }
    if resource.starts_with("alias/") {
        return Some(KeyGrant::Alias { keys: format!("{prefix}:key/*"), alias: resource });
    }
    let id = resource.strip_prefix("key/").unwrap_or(&resource);
    Some(KeyGrant::Key(format!("{prefix}:key/{id}")))
}

/// A statement that lets a role use a customer managed key through one service only
/// (`kms:ViaService`), for requests whose encryption context names what it may touch.
/// `context` is the encryption context key and the values it may take, matched with
/// `StringLike` (`*` in them is a wildcard).
pub fn key_statement(
    sid: &str,
    actions: &[&str],
    grant: &KeyGrant,
    arns: &Arns,
    service: &str,
    context: (&str, &[String]),
) -> Value {
    let mut condition = Map::new();
    condition.insert("StringEquals".to_string(), json!({"kms:ViaService": via_service(arns, service)}));
    let (context_key, values) = context;
    condition.insert("StringLike".to_string(), json!({ context_key: values }));
    let resource = match grant {
        KeyGrant::Key(arn) => arn.clone(),
        KeyGrant::Alias { keys, alias } => {
            // kms:ResourceAliases is multivalued: a key may have several aliases.
            condition.insert("ForAnyValue:StringEquals".to_string(), json!({"kms:ResourceAliases": alias}));
            keys.clone()
        }
    };
    json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": [resource], "Condition": condition})
}

/// The key S3 encrypts a bucket's new objects with by default, if it is a customer managed key.
pub fn bucket_key_grant(bucket: &Bucket, arns: &Arns) -> Option<KeyGrant> {
    match bucket.encryption {
        BucketEncryption::SseKms => bucket.kms_key.as_deref().and_then(|key| key_grant(key, arns)),
        BucketEncryption::SseS3 => None,
    }
}

/// What reading and writing SSE-KMS objects needs: `kms:GenerateDataKey` to write, `kms:Decrypt`
/// to read and to complete multipart uploads ("Using server-side encryption with AWS KMS keys
/// (SSE-KMS)" and "Multipart upload API and permissions", Amazon S3 User Guide), through S3
/// only, for requests whose encryption context `aws:s3:arn` matches `context` (see
/// `s3_key_context`).
pub fn s3_key_statement(sid: &str, grant: &KeyGrant, arns: &Arns, context: &[String]) -> Value {
    key_statement(
        sid,
        &["kms:Decrypt", "kms:GenerateDataKey"],
        grant,
        arns,
        "s3",
        ("kms:EncryptionContext:aws:s3:arn", context),
    )
}

/// The values S3's encryption context `aws:s3:arn` takes when a role touches `objects` (object
/// ARN patterns) of `bucket` encrypted with its default key: the objects' ARNs, or the bucket's
/// ARN when the bucket uses an S3 Bucket Key — "the encryption context is the bucket ARN, not
/// the object ARN", so policies that name objects there must name the bucket ("Reducing the
/// cost of SSE-KMS with Amazon S3 Bucket Keys", Amazon S3 User Guide). KMS conditions then
/// reach the whole bucket; the S3 statements still hold the role to its prefixes.
pub fn s3_key_context(bucket: &Bucket, arns: &Arns, objects: &[String]) -> Vec<String> {
    if bucket.bucket_key_enabled() {
        vec![arns.bucket(&bucket.name)]
    } else {
        objects.to_vec()
    }
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

/// Decodes `%XX` escapes and `+` (as in form and IAM policy encodings).
pub fn percent_decode(text: &str) -> String {
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

    #[test]
    fn trust_policies_name_the_partitions_principal() {
        let trust = service_trust_policy(&Arns::new("1", "cn-north-1"), "ec2.amazonaws.com");
        assert_eq!(trust["Statement"][0]["Principal"]["Service"], json!("ec2.amazonaws.com.cn"));
        assert_eq!(trust_policy("ec2.amazonaws.com"), service_trust_policy(&Arns::new("1", "us-east-1"), "ec2"));
    }

    #[test]
    fn derived_trusts_carry_the_confused_deputy_keys_each_service_documents_in_every_partition() {
        for (region, partition, emr) in [
            ("us-east-1", "aws", "elasticmapreduce.amazonaws.com"),
            ("cn-north-1", "aws-cn", "elasticmapreduce.amazonaws.com.cn"),
            ("us-gov-west-1", "aws-us-gov", "elasticmapreduce.amazonaws.com"),
        ] {
            let arns = Arns::new("123456789012", region);
            let statement = |trust: Value| trust["Statement"][0].clone();
            let firehose = statement(derived_trust_policy(&arns, "firehose", None));
            assert_eq!(firehose["Condition"], json!({"StringEquals": {"sts:ExternalId": "123456789012"}}));
            let source = format!("arn:{partition}:elasticmapreduce:{region}:123456789012:*");
            let service = statement(derived_trust_policy(&arns, "elasticmapreduce", Some(&source)));
            assert_eq!(service["Principal"]["Service"], json!(emr));
            assert_eq!(
                service["Condition"],
                json!({"StringEquals": {"aws:SourceAccount": "123456789012"}, "ArnLike": {"aws:SourceArn": source}})
            );
            let scheduler = statement(derived_trust_policy(&arns, "scheduler", None));
            assert_eq!(scheduler["Condition"], json!({"StringEquals": {"aws:SourceAccount": "123456789012"}}));
            let machine = format!("arn:{partition}:states:{region}:123456789012:stateMachine:m");
            let states = statement(derived_trust_policy(&arns, "states", Some(&machine)));
            assert_eq!(states["Condition"]["ArnLike"]["aws:SourceArn"], json!(machine));
            // No documented key: no condition rather than one that breaks AssumeRole.
            for service in ["ec2", "glue"] {
                assert_eq!(statement(derived_trust_policy(&arns, service, None)).get("Condition"), None);
            }
        }
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
    fn key_references_resolve_as_iam_matches_them() {
        let arns = Arns::new("123456789012", "cn-north-1");
        assert_eq!(key_grant("k", &arns), Some(KeyGrant::Key("arn:aws-cn:kms:cn-north-1:123456789012:key/k".into())));
        assert_eq!(
            key_grant("mrk-1", &arns),
            Some(KeyGrant::Key("arn:aws-cn:kms:cn-north-1:123456789012:key/mrk-1".into()))
        );
        assert_eq!(
            key_grant("arn:aws:kms:eu-west-1:1:alias/team/lake", &arns),
            Some(KeyGrant::Alias { keys: "arn:aws:kms:eu-west-1:1:key/*".into(), alias: "alias/team/lake".into() })
        );
        assert_eq!(key_grant("alias/aws/s3", &arns), None);
        assert_eq!(key_grant("arn:aws-cn:kms:cn-north-1:1:alias/aws/kinesis", &arns), None);
    }

    #[test]
    fn url_encoded_documents_parse() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(parse_document(encoded), Some(json!({"Version": "2012-10-17", "Statement": []})));
        assert_eq!(parse_document("{\"a\": 1}"), Some(json!({"a": 1})));
        assert_eq!(parse_document("%ZZ"), None);
    }
}

//! What pipectl keeps on every bucket besides its configuration: a bucket-policy statement that
//! denies plain-HTTP requests, and ownership controls that disable ACLs (`BucketOwnerEnforced`).
//! pipectl owns only its own statement (by its Sid): the user's statements in the same policy are
//! read at plan time and written back unchanged beside it.

use aws_sdk_s3::types::{ObjectOwnership, OwnershipControls, OwnershipControlsRule};
use serde_json::{json, Value};

use super::super::kit::{aws_error, build_error, AwsError, Context};
use crate::iam::arns::Arns;
use crate::model::ResourceId;

/// The Sid of the one statement pipectl owns in a bucket's policy.
pub const SID: &str = "PipectlDenyInsecureTransport";

/// The object ownership pipectl sets: the bucket owner owns every object and ACLs are disabled
/// ("Controlling ownership of objects and disabling ACLs for your bucket", Amazon S3 User Guide).
pub const OWNER_ENFORCED: &str = "BucketOwnerEnforced";

/// The TLS-only statement: deny every S3 action on the bucket and its objects to anyone when the
/// request did not come over HTTPS ("Bucket policy examples" / "Managing access based on HTTP or
/// HTTPS requests", Amazon S3 User Guide: `aws:SecureTransport` is `false` for plain HTTP).
pub fn statement(arns: &Arns, bucket: &str) -> Value {
    let arn = arns.bucket(bucket);
    json!({
        "Sid": SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn.clone(), format!("{arn}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    })
}

fn statements(policy: Option<&Value>) -> Vec<Value> {
    match policy.map(|policy| &policy["Statement"]) {
        Some(Value::Array(statements)) => statements.clone(),
        Some(Value::Object(statement)) => vec![Value::Object(statement.clone())],
        _ => Vec::new(),
    }
}

fn is_ours(statement: &Value) -> bool {
    statement["Sid"].as_str() == Some(SID)
}

/// The policy to write: the statements already there except an older copy of pipectl's, then
/// pipectl's; the policy's `Id` is kept.
pub fn merged(existing: Option<&Value>, ours: Value) -> Value {
    let mut kept: Vec<Value> = statements(existing).into_iter().filter(|statement| !is_ours(statement)).collect();
    kept.push(ours);
    let mut policy = json!({"Version": "2012-10-17", "Statement": kept});
    if let Some(id) = existing.and_then(|policy| policy.get("Id")) {
        policy["Id"] = id.clone();
    }
    policy
}

/// A statement in a comparable form: a single string where a list may stand is a one-item list,
/// and lists are sorted (AWS may return `"Action": "s3:*"` or `["s3:*"]`).
fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = match (key.as_str(), value) {
                        ("Action" | "Resource" | "NotAction" | "NotResource", Value::String(_)) => json!([value]),
                        _ => value.clone(),
                    };
                    (key.clone(), normalized(&value))
                })
                .collect(),
        ),
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalized).collect();
            items.sort_by_key(|item| item.to_string());
            Value::Array(items)
        }
        other => other.clone(),
    }
}

/// Whether the policy holds pipectl's statement as `ours` says it should be (other statements
/// are the user's and make no difference).
pub fn holds(policy: Option<&Value>, ours: &Value) -> bool {
    let ours = normalized(ours);
    statements(policy).iter().filter(|statement| is_ours(statement)).any(|statement| normalized(statement) == ours)
}

/// The bucket's policy (None when it has none: NoSuchBucketPolicy, "GetBucketPolicy", Amazon S3
/// API Reference) and its object ownership (None when OwnershipControlsNotFoundError,
/// "GetBucketOwnershipControls").
pub async fn read(s3: &aws_sdk_s3::Client, id: &str, name: &str) -> Result<(Option<Value>, Option<String>), AwsError> {
    let policy = async {
        match s3.get_bucket_policy().bucket(name).send().await {
            Ok(output) => {
                let text = output.policy().unwrap_or_default();
                serde_json::from_str(text)
                    .map(Some)
                    .map_err(|error| AwsError::new(id, "GetBucketPolicy", format!("the policy is not JSON: {error}")))
            }
            Err(error) => aws_error(id, "GetBucketPolicy", error).unless("NoSuchBucketPolicy", None),
        }
    };
    let ownership = async {
        match s3.get_bucket_ownership_controls().bucket(name).send().await {
            Ok(output) => Ok(output
                .ownership_controls()
                .and_then(|controls| controls.rules().first())
                .map(|rule| rule.object_ownership().as_str().to_string())),
            Err(error) => {
                aws_error(id, "GetBucketOwnershipControls", error).unless("OwnershipControlsNotFoundError", None)
            }
        }
    };
    tokio::try_join!(policy, ownership)
}

/// Writes pipectl's statement into the policy read at plan time (`existing`), keeping the rest.
/// pipectl's own later calls still pass: it talks to AWS over HTTPS only.
pub async fn put_policy(ctx: &Context, id: &ResourceId, name: &str, existing: Option<&Value>) -> Result<(), AwsError> {
    let policy = merged(existing, statement(&ctx.arns, name));
    ctx.clients
        .s3
        .put_bucket_policy()
        .bucket(name)
        .policy(policy.to_string())
        .send()
        .await
        .map_err(|error| aws_error(id, "PutBucketPolicy", error))?;
    Ok(())
}

pub async fn put_ownership(ctx: &Context, id: &ResourceId, name: &str) -> Result<(), AwsError> {
    let op = "PutBucketOwnershipControls";
    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::from(OWNER_ENFORCED))
        .build()
        .map_err(|error| build_error(id, op, error))?;
    let controls = OwnershipControls::builder().rules(rule).build().map_err(|error| build_error(id, op, error))?;
    ctx.clients
        .s3
        .put_bucket_ownership_controls()
        .bucket(name)
        .ownership_controls(controls)
        .send()
        .await
        .map_err(|error| aws_error(id, op, error))?;
    Ok(())
}

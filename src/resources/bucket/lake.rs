//! Reading what landed in a bucket, for `pipectl verify`: the objects under a prefix written
//! since a moment, and one object's bytes; and the grants that needs, scoped to the prefixes the
//! spec's deliveries write under (data and errors).

use super::super::kit::{aws_error, AwsError, Clients, Grant, GrantContext, Scope};
use super::id;
use crate::spec::static_part;

/// At most this many pages (1000 keys each) are listed under one prefix per look: a folder of a
/// day or an hour holds far fewer objects than that; a prefix without a date folder on a big lake
/// is cut off rather than listed whole every few seconds.
const MAX_PAGES: usize = 20;

/// An object of the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeObject {
    pub key: String,
    /// Unix seconds.
    pub last_modified: i64,
    pub size: i64,
}

/// The objects under `prefix` in `bucket` modified at or after `since` (Unix seconds), in key
/// order; at most `MAX_PAGES` pages are listed.
pub async fn objects_since(
    clients: &Clients,
    bucket: &str,
    prefix: &str,
    since: i64,
) -> Result<Vec<LakeObject>, AwsError> {
    let mut found = Vec::new();
    let mut token = None;
    for _ in 0..MAX_PAGES {
        let output = clients
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(|error| aws_error(id(bucket), "ListObjectsV2", error))?;
        found.extend(output.contents().iter().filter_map(|object| {
            let last_modified = object.last_modified()?.secs();
            (last_modified >= since).then(|| LakeObject {
                key: object.key().unwrap_or_default().to_string(),
                last_modified,
                size: object.size().unwrap_or(0),
            })
        }));
        token = output.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(found)
}

/// The bytes of object `key` of `bucket`.
pub async fn object_bytes(clients: &Clients, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
    let output = clients
        .s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|error| aws_error(id(bucket), "GetObject", error))?;
    let body = output
        .body
        .collect()
        .await
        .map_err(|error| AwsError::new(id(bucket).to_string(), "GetObject", format!("reading {key}: {error}")))?;
    Ok(body.into_bytes().to_vec())
}

/// What `pipectl verify` needs of the lake: list and read objects under the fixed part of each
/// delivery's prefix and error prefix, nothing else of the bucket. `s3:ListBucket` is scoped by
/// the `s3:prefix` condition key ("Amazon S3 condition key examples", Amazon S3 User Guide);
/// a prefix without a fixed part (the default `YYYY/MM/dd/HH/` folders) opens the whole bucket.
pub fn canary_grants(ctx: &GrantContext) -> Vec<Grant> {
    let mut grants = Vec::new();
    for delivery in &ctx.spec.deliveries {
        let bucket = ctx.arns.bucket(&delivery.to.bucket);
        let prefixes: Vec<String> = std::iter::once(delivery.to.prefix.as_str())
            .chain(delivery.to.error_prefix.as_deref())
            .map(|prefix| format!("{}*", static_part(prefix)))
            .collect();
        grants.push(Grant::new(
            "ReadCanariesInTheLake",
            Scope::Verify,
            &["s3:GetObject"],
            prefixes.iter().map(|prefix| format!("{bucket}/{prefix}")).collect(),
        ));
        grants.push(
            Grant::new("ListCanaryPrefixes", Scope::Verify, &["s3:ListBucket"], vec![bucket])
                .when(serde_json::json!({"StringLike": {"s3:prefix": prefixes}})),
        );
    }
    grants
}

//! Reading what landed in a bucket, for `pipectl verify`: the objects under a prefix written
//! since a moment, and one object's bytes. (The grants that needs are the deliveries', scoped to
//! their prefixes: `delivery::grants`.)

use super::super::kit::{aws_error, AwsError, Clients};
use super::id;

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

//! The `buckets:` section: the lake's S3 buckets, their encryption, versioning and lifecycle
//! rules; S3's naming rules and the order in which lifecycle transitions may move objects.

use std::collections::{BTreeMap, HashSet};

use schemars::JsonSchema;
use serde::Deserialize;

use super::checks::{check_tags, check_unique, Problems};
use super::kms::{check_key, KeyForm};
use super::pipeline::Spec;
use super::suggest::did_you_mean;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    /// The globally unique S3 bucket name.
    pub name: String,
    #[serde(default)]
    pub versioning: bool,
    #[serde(default)]
    pub encryption: BucketEncryption,
    /// KMS key id or ARN for `encryption: sse-kms` (the AWS managed key when unset).
    #[serde(default)]
    pub kms_key: Option<String>,
    /// With `encryption: sse-kms`: an S3 Bucket Key (default `true`), so that S3 asks KMS for a
    /// bucket-level key now and then instead of a data key for every object (fewer KMS requests,
    /// billed and throttled per account); the encryption context S3 sends KMS is then the
    /// bucket's ARN, not the object's.
    #[serde(default)]
    pub bucket_key: Option<bool>,
    #[serde(default = "super::pipeline::default_true")]
    pub block_public_access: bool,
    #[serde(default)]
    pub lifecycle: Vec<LifecycleRule>,
    /// Days after which parts of an upload that never completed are deleted (default 7; `0`
    /// keeps them, and you pay for them).
    #[serde(default)]
    pub abort_incomplete_uploads_days: Option<i64>,
    /// Days after which a version that is no longer current is deleted (default 30; `0` keeps
    /// every old version forever). S3 applies it while versioning is enabled and after it is
    /// suspended (`versioning: false` on a bucket that was versioned keeps its old versions); a
    /// bucket never versioned has none.
    #[serde(default)]
    pub noncurrent_versions_expire_days: Option<i64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl Bucket {
    /// Days after which incomplete multipart uploads are aborted, if they are.
    pub fn abort_incomplete_after(&self) -> Option<i64> {
        Some(self.abort_incomplete_uploads_days.unwrap_or(7)).filter(|days| *days > 0)
    }

    /// Days after which noncurrent versions expire, if they do: whether versioning is on or not,
    /// since S3 expires the noncurrent versions of a suspended bucket too ("You set this
    /// lifecycle configuration action on a bucket that has versioning enabled (or suspended)",
    /// Amazon S3 API Reference, `NoncurrentVersionExpiration`; S3 User Guide, "Lifecycle
    /// configuration elements"), and pipectl cannot tell from the spec whether a bucket with
    /// `versioning: false` was versioned before.
    pub fn noncurrent_expire_after(&self) -> Option<i64> {
        Some(self.noncurrent_versions_expire_days.unwrap_or(30)).filter(|days| *days > 0)
    }

    /// Whether the bucket's default encryption uses an S3 Bucket Key: SSE-KMS, unless turned off.
    pub fn bucket_key_enabled(&self) -> bool {
        self.encryption == BucketEncryption::SseKms && self.bucket_key.unwrap_or(true)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum BucketEncryption {
    #[default]
    #[serde(rename = "sse-s3")]
    SseS3,
    #[serde(rename = "sse-kms")]
    SseKms,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRule {
    /// Rule id; defaults to the prefix.
    #[serde(default)]
    pub id: Option<String>,
    pub prefix: String,
    #[serde(default)]
    pub transitions: Vec<Transition>,
    #[serde(default)]
    pub expiration_days: Option<i64>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    pub days: i64,
    pub storage_class: String,
}

/// The longest a lifecycle rule may wait, in days (validation's bound, and the schema's).
pub const MAX_LIFECYCLE_DAYS: i64 = 36500;
/// What a bucket name must at least look like, for the schema: 3-63 lowercase letters, digits,
/// dots and hyphens, beginning and ending with a letter or digit (`bucket_name_problem` says the
/// rest of S3's rules).
pub const BUCKET_NAME_PATTERN: &str = "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$";

pub const STORAGE_CLASSES: [&str; 6] =
    ["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"];
/// The order in which S3 Lifecycle may move objects ("the waterfall", S3 User Guide,
/// "Transitioning objects using Amazon S3 Lifecycle"): a transition only ever goes further down.
const WATERFALL: [&str; 6] =
    ["STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"];
/// Objects stay at least this long in STANDARD_IA or ONEZONE_IA before S3 moves them on.
const IA_MINIMUM_DAYS: i64 = 30;

/// The buckets: unique names, and each one's own rules.
pub(super) fn check(spec: &Spec, problems: &mut Problems) {
    check_unique("buckets", spec.buckets.iter().map(|bucket| bucket.name.as_str()), problems);
    for (index, bucket) in spec.buckets.iter().enumerate() {
        check_bucket(&format!("buckets[{index}]"), bucket, &spec.region, problems);
    }
}

/// S3 bucket naming rules for general purpose buckets.
pub fn bucket_name_problem(name: &str) -> Option<String> {
    let rules: [(bool, &str); 7] = [
        ((3..=63).contains(&name.len()), "must be 3-63 characters long"),
        (
            name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'),
            "may contain only lowercase letters, digits, dots and hyphens",
        ),
        (
            name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "must begin and end with a letter or digit",
        ),
        (!name.contains("..") && !name.contains(".-") && !name.contains("-."), "must not contain `..`, `.-` or `-.`"),
        (name.parse::<std::net::Ipv4Addr>().is_err(), "must not be formatted as an IP address"),
        (
            !["xn--", "sthree-", "amzn-s3-demo-"].iter().any(|prefix| name.starts_with(prefix)),
            "must not start with `xn--`, `sthree-` or `amzn-s3-demo-`",
        ),
        (
            !["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].iter().any(|suffix| name.ends_with(suffix)),
            "must not end with a suffix S3 reserves (`-s3alias`, `--ol-s3`, `.mrap`, `--x-s3`, `--table-s3`)",
        ),
    ];
    let (_, rule) = rules.iter().find(|(ok, _)| !ok)?;
    let hint = valid_form(name).map(|valid| format!(" (did you mean `{valid}`?)")).unwrap_or_default();
    Some(format!("`{name}` is not a valid S3 bucket name: it {rule}{hint}"))
}

/// The valid bucket name a person most likely meant by `name`: lower-cased, underscores made
/// hyphens (S3's two commonest refusals), when that is a valid name and differs from `name`.
fn valid_form(name: &str) -> Option<String> {
    let fixed = name.to_ascii_lowercase().replace('_', "-");
    (fixed != name && bucket_name_problem(&fixed).is_none()).then_some(fixed)
}

/// The names another section may use for a bucket of the spec: each as written, and for one
/// whose name is invalid, the valid name its own error suggests. That bucket is reported once,
/// at its name: a reference written either way is not a second error.
fn bucket_names(spec: &Spec) -> impl Iterator<Item = String> + '_ {
    spec.buckets.iter().flat_map(|bucket| std::iter::once(bucket.name.clone()).chain(valid_form(&bucket.name)))
}

/// Whether `name` is a bucket of the spec (as written, or as its name error suggests).
pub(super) fn is_spec_bucket(spec: &Spec, name: &str) -> bool {
    bucket_names(spec).any(|bucket| bucket == name)
}

/// A reference to a bucket of the spec. The suggestion for a name that is none is always a
/// valid bucket name: never one the spec wrote invalidly (`Acme-Lake`), which would lead the
/// reader from one error to the next, but the valid form that bucket's error suggests.
pub(super) fn check_bucket_reference(path: &str, name: &str, spec: &Spec, problems: &mut Problems) {
    if is_spec_bucket(spec, name) {
        return;
    }
    let valid: Vec<String> = bucket_names(spec).filter(|bucket| bucket_name_problem(bucket).is_none()).collect();
    let hint = did_you_mean(name, valid.iter().map(String::as_str))
        .map(|bucket| format!(" (did you mean `{bucket}`?)"))
        .unwrap_or_default();
    problems.add(path, format!("no bucket named `{name}` in this spec{hint}"));
}

fn check_bucket(path: &str, bucket: &Bucket, region: &str, problems: &mut Problems) {
    if let Some(message) = bucket_name_problem(&bucket.name) {
        problems.add(format!("{path}.name"), message);
    }
    for (field, days) in [
        ("abort_incomplete_uploads_days", bucket.abort_incomplete_uploads_days),
        ("noncurrent_versions_expire_days", bucket.noncurrent_versions_expire_days),
    ] {
        if days.is_some_and(|days| !(0..=MAX_LIFECYCLE_DAYS).contains(&days)) {
            problems.add(format!("{path}.{field}"), format!("must be between 0 (never) and {MAX_LIFECYCLE_DAYS} days"));
        }
    }
    if bucket.bucket_key.is_some() && bucket.encryption != BucketEncryption::SseKms {
        problems.add(
            format!("{path}.bucket_key"),
            "an S3 Bucket Key saves KMS requests of SSE-KMS; `sse-s3` makes none: set `encryption: sse-kms` or drop `bucket_key`",
        );
    }
    match &bucket.kms_key {
        Some(_) if bucket.encryption != BucketEncryption::SseKms => {
            problems.add(format!("{path}.kms_key"), "`kms_key` needs `encryption: sse-kms`");
        }
        Some(key) => check_key(&format!("{path}.kms_key"), key, KeyForm::Any, region, problems),
        None => {}
    }
    check_tags(&format!("{path}.tags"), &bucket.tags, problems);
    let mut ids = HashSet::new();
    for (index, rule) in bucket.lifecycle.iter().enumerate() {
        let rule_path = format!("{path}.lifecycle[{index}]");
        let id = rule.id.clone().unwrap_or_else(|| rule.prefix.clone());
        if id.is_empty() || id.len() > 255 {
            problems.add(
                format!("{rule_path}.id"),
                "a lifecycle rule id must be 1-255 characters (set `id` when the prefix is empty)",
            );
        }
        if !ids.insert(id.clone()) {
            problems.add(format!("{rule_path}.id"), format!("duplicate lifecycle rule id `{id}`"));
        }
        if rule.transitions.is_empty() && rule.expiration_days.is_none() {
            problems.add(&rule_path, "a lifecycle rule needs `transitions` or `expiration_days`");
        }
        let mut last_days = -1;
        let mut last_class: Option<&str> = None;
        for (t_index, transition) in rule.transitions.iter().enumerate() {
            let t_path = format!("{rule_path}.transitions[{t_index}]");
            if !STORAGE_CLASSES.contains(&transition.storage_class.as_str()) {
                let hint = did_you_mean(&transition.storage_class, STORAGE_CLASSES)
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                problems.add(
                    format!("{t_path}.storage_class"),
                    format!(
                        "unknown storage class `{}`; use one of {}{hint}",
                        transition.storage_class,
                        STORAGE_CLASSES.join(", ")
                    ),
                );
            }
            let minimum = if transition.storage_class.ends_with("_IA") { 30 } else { 0 };
            if !(minimum..=MAX_LIFECYCLE_DAYS).contains(&transition.days) {
                problems.add(
                    format!("{t_path}.days"),
                    format!("must be between {minimum} and {MAX_LIFECYCLE_DAYS} days for {}", transition.storage_class),
                );
            }
            if transition.days <= last_days {
                problems.add(format!("{t_path}.days"), "transitions must be in increasing order of days");
            }
            let step = |class: &str| WATERFALL.iter().position(|c| *c == class);
            if let (Some(previous), Some(from), Some(to)) =
                (last_class, last_class.and_then(step), step(transition.storage_class.as_str()))
            {
                if to <= from {
                    problems.add(
                        format!("{t_path}.storage_class"),
                        format!(
                            "S3 cannot move objects from {previous} to {}; transitions go {}",
                            transition.storage_class,
                            WATERFALL.join(" → ")
                        ),
                    );
                } else if previous.ends_with("_IA") && transition.days < last_days + IA_MINIMUM_DAYS {
                    problems.add(
                        format!("{t_path}.days"),
                        format!("must be at least {} ({IA_MINIMUM_DAYS} days after the transition to {previous}): S3 keeps objects {IA_MINIMUM_DAYS} days in {previous}", last_days + IA_MINIMUM_DAYS),
                    );
                }
            }
            last_days = transition.days;
            last_class = Some(transition.storage_class.as_str());
        }
        if let Some(days) = rule.expiration_days {
            if !(1..=MAX_LIFECYCLE_DAYS).contains(&days) {
                problems.add(
                    format!("{rule_path}.expiration_days"),
                    format!("must be between 1 and {MAX_LIFECYCLE_DAYS} days"),
                );
            } else if days <= last_days {
                problems.add(
                    format!("{rule_path}.expiration_days"),
                    format!("objects expire after {days} days, before their last transition at {last_days} days"),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert!(bucket_name_problem("my-data-lake.2024").is_none());
        for bad in ["ab", "My-Bucket", "-lake", "lake..raw", "192.168.1.1", "xn--lake", "lake-s3alias", "lake_raw"] {
            assert!(bucket_name_problem(bad).is_some(), "{bad} should be rejected");
        }
    }

    #[test]
    fn an_invalid_bucket_name_suggests_a_valid_one_and_references_never_suggest_it() {
        let message = bucket_name_problem("Acme_Lake").expect("invalid");
        assert!(message.ends_with("(did you mean `acme-lake`?)"), "{message}");
        // No valid form to offer: no suggestion at all.
        assert!(!bucket_name_problem("ab").expect("invalid").contains("did you mean"));
        let messages = crate::spec::checks::testing::messages(
            "version: 1\npipeline: p\nregion: us-east-1\nbuckets:\n  - name: Acme-Lake\n  - name: other-lake\nstreams:\n  - name: s\n    shards: 1\ndeliveries:\n  - name: a\n    from: s\n    to: {bucket: acme-lake, prefix: a/}\n  - name: b\n    from: s\n    to: {bucket: acme-lak, prefix: b/}\n",
        );
        assert_eq!(messages.len(), 2, "{messages:#?}");
        assert!(messages[0].starts_with("buckets[0].name: `Acme-Lake`"), "{messages:#?}");
        assert!(messages[0].ends_with("(did you mean `acme-lake`?)"), "{messages:#?}");
        assert_eq!(
            messages[1],
            "deliveries[1].to.bucket: no bucket named `acme-lak` in this spec (did you mean `acme-lake`?)"
        );
    }
}

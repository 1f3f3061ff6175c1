//! The bucket kind's unit tests: its reads and writes against the SDK's mock client, its diff
//! inputs and its grants.

use super::*;

/// An S3 client answering from `rules` (the SDK's `test-util` feature is not enabled for S3).
fn s3_client(rules: &[&aws_smithy_mocks::Rule]) -> aws_sdk_s3::Client {
    crate::resources::test_support::mock_sdk_client!(
        aws_sdk_s3,
        "us-east-1",
        aws_smithy_mocks::RuleMode::MatchAny,
        rules
    )
}

#[tokio::test]
async fn adopting_a_bucket_keeps_its_own_tags_since_put_bucket_tagging_replaces_the_set() {
    let put = aws_smithy_mocks::mock!(aws_sdk_s3::Client::put_bucket_tagging)
        .match_requests(|request| {
            let tags: Vec<(&str, &str)> = request
                .tagging()
                .map(|tagging| tagging.tag_set().iter().map(|tag| (tag.key(), tag.value())).collect())
                .unwrap_or_default();
            request.bucket() == Some("lake")
                && tags == [("owner", "data-team"), ("pipectl:pipeline", "demo"), ("pipectl:resource", "bucket/lake")]
        })
        // PutBucketTagging answers 204 No Content with an empty body.
        .then_output(|| aws_sdk_s3::operation::put_bucket_tagging::PutBucketTaggingOutput::builder().build());
    let mut clients = crate::resources::test_support::clients();
    clients.s3 = s3_client(&[&put]);
    let tags = Tags::from([("owner".to_string(), "data-team".to_string())]);
    let detail = Live {
        versioning: false,
        encryption: "sse-s3".to_string(),
        kms_key: None,
        bucket_key: false,
        block_public_access: true,
        lifecycle: Vec::new(),
        abort_incomplete_after: None,
        noncurrent_expire_after: None,
        holds_objects: false,
        policy: None,
        tls_only: true,
        object_ownership: Some(policy::OWNER_ENFORCED.to_string()),
    };
    let live = LiveResource::new(id("lake"), "lake", tags, detail.clone());
    let ownership = Tags::from([
        ("pipectl:pipeline".to_string(), "demo".to_string()),
        ("pipectl:resource".to_string(), "bucket/lake".to_string()),
    ]);
    Bucket.adopt(&clients, &live, &detail, &ownership).await.unwrap();
    assert_eq!(put.num_calls(), 1);
}

/// A bucket of the pipeline's name in another region is not this region's, whatever its
/// tags say; one here is judged by its tags; none is absent.
#[tokio::test]
async fn a_bucket_of_another_region_is_never_taken_as_this_regions() {
    use aws_sdk_s3::operation::get_bucket_location::GetBucketLocationOutput;
    use aws_sdk_s3::operation::get_bucket_tagging::GetBucketTaggingOutput;
    let ours = || {
        let tag = Tag::builder().key("pipectl:pipeline").value("demo").build().unwrap();
        GetBucketTaggingOutput::builder().tag_set(tag).build().unwrap()
    };
    let elsewhere = aws_smithy_mocks::mock!(aws_sdk_s3::Client::get_bucket_location)
        .match_requests(|request| request.bucket() == Some("far"))
        .then_output(|| {
            GetBucketLocationOutput::builder().location_constraint(BucketLocationConstraint::UsWest2).build()
        });
    let here = aws_smithy_mocks::mock!(aws_sdk_s3::Client::get_bucket_location)
        .match_requests(|request| request.bucket() == Some("near"))
        .then_output(|| GetBucketLocationOutput::builder().build());
    let tagging = aws_smithy_mocks::mock!(aws_sdk_s3::Client::get_bucket_tagging).then_output(ours);
    let s3 = s3_client(&[&elsewhere, &here, &tagging]);
    match ownership(&s3, "far").await.unwrap() {
        Ownership::Unreadable(reason) => assert!(reason.contains("lives in us-west-2, not in us-east-1"), "{reason}"),
        _ => panic!("a bucket of us-west-2 was read as this region's"),
    }
    assert!(
        matches!(ownership(&s3, "near").await.unwrap(), Ownership::Tagged(tags) if tags["pipectl:pipeline"] == "demo")
    );
}

fn bucket(yaml: &str) -> spec::Bucket {
    serde_saphyr::from_str(yaml).unwrap()
}

#[test]
fn housekeeping_defaults_keep_expiring_old_versions_whatever_the_versioning_and_can_be_turned_off() {
    // `versioning: false` may be a suspended bucket, whose old versions S3 still expires.
    let plain = bucket("name: lake");
    assert_eq!((plain.abort_incomplete_after(), plain.noncurrent_expire_after()), (Some(7), Some(30)));
    let suspended = bucket("name: lake\nversioning: false\nnoncurrent_versions_expire_days: 90");
    assert_eq!(suspended.noncurrent_expire_after(), Some(90));
    assert_eq!(suspended.attributes()["noncurrent_versions_expire_days"], json!(90));
    let versioned = bucket("name: lake\nversioning: true");
    assert_eq!(versioned.noncurrent_expire_after(), Some(30));
    let off =
        bucket("name: lake\nversioning: true\nabort_incomplete_uploads_days: 0\nnoncurrent_versions_expire_days: 0");
    assert_eq!((off.abort_incomplete_after(), off.noncurrent_expire_after()), (None, None));
    let attributes = versioned.attributes();
    assert_eq!(attributes["abort_incomplete_uploads_days"], json!(7));
    assert_eq!(attributes["noncurrent_versions_expire_days"], json!(30));
}

/// GetBucketLifecycleConfiguration as S3 documents it: the housekeeping rule is read into
/// its own fields, the spec's rules into `lifecycle`.
#[test]
fn the_housekeeping_rule_is_read_apart_from_the_specs_rules() {
    let housekeeping = S3LifecycleRule::builder()
        .id(HOUSEKEEPING_RULE)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .status(ExpirationStatus::Enabled)
        .abort_incomplete_multipart_upload(AbortIncompleteMultipartUpload::builder().days_after_initiation(7).build())
        .noncurrent_version_expiration(NoncurrentVersionExpiration::builder().noncurrent_days(30).build())
        .build()
        .unwrap();
    let raw = S3LifecycleRule::builder()
        .id("raw")
        .filter(LifecycleRuleFilter::builder().prefix("raw/").build())
        .status(ExpirationStatus::Enabled)
        .expiration(LifecycleExpiration::builder().days(365).build())
        .build()
        .unwrap();
    let read = read_lifecycle(&[raw, housekeeping]);
    assert_eq!((read.abort_incomplete_after, read.noncurrent_expire_after), (Some(7), Some(30)));
    assert_eq!(read.rules.len(), 1);
    assert_eq!(read.rules[0]["id"], json!("raw"));
}

#[test]
fn the_specs_buckets_are_read_changed_and_emptied_by_name() {
    use crate::iam::deployer::Purpose;
    use crate::resources::test_support::{assert_granted, granted, sids_allowing, statement};
    let spec = crate::spec::SpecBuilder::new().bucket("lake").build();
    assert_granted(
        &super::Bucket,
        &spec,
        &[
            ("s3:ListAllMyBuckets", &["ReadWhatCannotBeScoped"]),
            ("s3:GetBucketTagging", &["ReadBuckets"]),
            ("s3:CreateBucket", &["ChangeBuckets"]),
            ("s3:DeleteBucket", &["ChangeBuckets"]),
            ("s3:DeleteObjectVersion", &["EmptyBucketsOnDestroy"]),
        ],
    );
    let all = granted(&super::Bucket, &spec, Purpose::Everything);
    assert_eq!(statement(&all, "ChangeBuckets")["Resource"], serde_json::json!(["arn:aws:s3:::lake"]));
    assert_eq!(statement(&all, "EmptyBucketsOnDestroy")["Resource"], serde_json::json!(["arn:aws:s3:::lake/*"]));
    // Without a bucket in the spec, only the listing that finds one an earlier spec made.
    let none = granted(&super::Bucket, &crate::spec::SpecBuilder::new().build(), Purpose::Everything);
    assert_eq!(none["Statement"].as_array().map(Vec::len), Some(1));
    assert_eq!(sids_allowing(&none, "s3:ListAllMyBuckets"), ["ReadWhatCannotBeScoped"]);
}

fn arns() -> Arns {
    Arns::new("123456789012", "cn-north-1")
}

/// The TLS-only deny as the S3 User Guide's bucket policy examples write it, for the bucket and
/// its objects, in the bucket's partition.
#[test]
fn the_desired_statement_denies_every_request_not_made_over_https() {
    assert_eq!(
        policy::statement(&arns(), "lake"),
        json!({
            "Sid": "PipectlDenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": ["arn:aws-cn:s3:::lake", "arn:aws-cn:s3:::lake/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        })
    );
}

fn foreign() -> Value {
    json!({"Sid": "AnalyticsRead", "Effect": "Allow", "Principal": {"AWS": "arn:aws-cn:iam::111122223333:root"},
           "Action": "s3:GetObject", "Resource": "arn:aws-cn:s3:::lake/*"})
}

/// The user's statements (and the policy's Id) survive pipectl's write; an outdated copy of
/// pipectl's statement is replaced, not duplicated.
#[test]
fn writing_the_policy_keeps_the_users_statements() {
    let ours = policy::statement(&arns(), "lake");
    let stale = json!({"Sid": "PipectlDenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                       "Resource": "arn:aws-cn:s3:::lake"});
    let existing = json!({"Version": "2012-10-17", "Id": "team", "Statement": [foreign(), stale]});
    assert_eq!(
        policy::merged(Some(&existing), ours.clone()),
        json!({"Version": "2012-10-17", "Id": "team", "Statement": [foreign(), ours.clone()]})
    );
    assert_eq!(policy::merged(None, ours.clone()), json!({"Version": "2012-10-17", "Statement": [ours]}));
}

fn lake() -> spec::Bucket {
    crate::spec::SpecBuilder::new().item("buckets", "{name: lake}".to_string()).build().buckets[0].clone()
}

/// The spec's `lake` as read back, with `policy` and `ownership`.
fn live_with(policy: Option<Value>, ownership: Option<&str>) -> Live {
    let ours = policy::statement(&Arns::new("", "us-east-1"), "lake");
    Live {
        versioning: lake().versioning,
        encryption: "sse-s3".to_string(),
        kms_key: None,
        bucket_key: false,
        block_public_access: true,
        lifecycle: Vec::new(),
        abort_incomplete_after: lake().abort_incomplete_after(),
        noncurrent_expire_after: lake().noncurrent_expire_after(),
        holds_objects: false,
        tls_only: policy::holds(policy.as_ref(), &ours),
        policy,
        object_ownership: ownership.map(str::to_string),
    }
}

/// The fields the plan shows as changed between the spec's bucket and `live`.
fn drift(live: &Live) -> Vec<String> {
    let desired = lake().attributes();
    let current = live_attributes(live);
    desired.keys().filter(|key| desired.get(*key) != current.get(*key)).cloned().collect()
}

/// Removing pipectl's statement or changing the ownership is drift; a statement of the user's
/// added beside pipectl's, or AWS spelling one action as a list, is not.
#[test]
fn only_pipectls_statement_and_the_ownership_are_drift() {
    let ours = policy::statement(&Arns::new("", "us-east-1"), "lake");
    let mut listed = ours.clone();
    listed["Action"] = json!(["s3:*"]);
    listed["Resource"] = json!(["arn:aws:s3:::lake/*", "arn:aws:s3:::lake"]);
    let enforced = Some(policy::OWNER_ENFORCED);
    assert_eq!(drift(&live_with(Some(json!({"Statement": [foreign(), listed]})), enforced)), Vec::<String>::new());
    assert_eq!(drift(&live_with(Some(json!({"Statement": [foreign()]})), enforced)), ["tls_only"]);
    assert_eq!(drift(&live_with(None, enforced)), ["tls_only"]);
    let mut weakened = ours.clone();
    weakened.as_object_mut().unwrap().remove("Condition");
    assert_eq!(drift(&live_with(Some(json!({"Statement": weakened})), enforced)), ["tls_only"]);
    let whole = Some(json!({"Statement": [ours]}));
    assert_eq!(drift(&live_with(whole.clone(), Some("ObjectWriter"))), ["object_ownership"]);
    assert_eq!(drift(&live_with(whole, None)), ["object_ownership"]);
}

/// The policy and ownership reads are plan-scoped and the writes apply-scoped, on the spec's
/// buckets like the bucket's other actions.
#[test]
fn the_policy_and_ownership_are_read_at_plan_time_and_written_at_apply() {
    use crate::iam::deployer::Purpose;
    use crate::resources::test_support::{assert_granted, granted, statement};
    let spec = crate::spec::SpecBuilder::new().item("buckets", "{name: lake-bucket}".to_string()).build();
    assert_granted(
        &Bucket,
        &spec,
        &[
            ("s3:GetBucketPolicy", &["ReadBuckets"]),
            ("s3:GetBucketOwnershipControls", &["ReadBuckets"]),
            ("s3:PutBucketPolicy", &["ChangeBuckets"]),
            ("s3:PutBucketOwnershipControls", &["ChangeBuckets"]),
            ("s3:DeleteBucketPolicy", &[]),
        ],
    );
    let all = granted(&Bucket, &spec, Purpose::Everything);
    assert_eq!(statement(&all, "ChangeBuckets")["Resource"], json!(["arn:aws:s3:::lake-bucket"]));
}

/// An SSE-KMS bucket has an S3 Bucket Key unless the spec turns it off; SSE-S3 shows none. A
/// Bucket Key turned off behind pipectl's back is drift of that one field.
#[test]
fn sse_kms_buckets_have_a_bucket_key_by_default_and_its_loss_is_drift() {
    let kms = bucket("name: lake\nencryption: sse-kms");
    assert!(kms.bucket_key_enabled());
    assert_eq!(kms.attributes()["bucket_key"], json!(true));
    let off = bucket("name: lake\nencryption: sse-kms\nbucket_key: false");
    assert_eq!(off.attributes()["bucket_key"], json!(false));
    assert_eq!(lake().attributes()["bucket_key"], Value::Null, "SSE-S3 makes no KMS request");
    let mut live = live_with(None, None);
    live.encryption = "sse-kms".to_string();
    let desired = kms.attributes();
    let changed = |live: &Live| {
        let current = live_attributes(live);
        let mut fields: Vec<String> = ["encryption", "kms_key", "bucket_key"]
            .into_iter()
            .filter(|field| desired.get(*field) != current.get(*field))
            .map(str::to_string)
            .collect();
        fields.sort();
        fields
    };
    assert_eq!(changed(&live), ["bucket_key"]);
    live.bucket_key = true;
    assert!(changed(&live).is_empty());
}

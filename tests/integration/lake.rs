//! The lake's data-safety rules on a real emulator: pipectl's housekeeping lifecycle rule (kept
//! when versioning is suspended), the S3 Bucket Key of an SSE-KMS bucket, a shorter stream
//! retention that needs `--allow-destroy`, and destroying a bucket that holds thousands of object
//! versions (in batches of 1,000, with progress).

use futures::StreamExt;

use crate::support::{changed_fields, pipectl, runtime, unique, Scratch, Stack};

fn spec(pipeline: &str, bucket: &str, stream: &str, retention: u32) -> String {
    format!(
        "version: 1\npipeline: {pipeline}\nregion: us-east-1\nbuckets:\n  - name: {bucket}\n    versioning: true\nstreams:\n  - {{name: {stream}, retention_hours: {retention}}}\n"
    )
}

fn data_safety(stack: Stack) {
    require!(stack);
    let pipeline = unique("lake", stack);
    let (bucket, stream) = (format!("{pipeline}-lake"), format!("{pipeline}-events"));
    let scratch = Scratch::new(&format!("lake-{}", stack.tag()));
    let file = scratch.write("lake.yaml", &spec(&pipeline, &bucket, &stream, 72));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);

    // Housekeeping: incomplete uploads aborted after 7 days, old versions expire after 30.
    let rule = runtime().block_on(async {
        let clients = stack.clients().await;
        let lifecycle = clients
            .s3
            .get_bucket_lifecycle_configuration()
            .bucket(&bucket)
            .send()
            .await
            .expect("GetBucketLifecycleConfiguration");
        lifecycle.rules().iter().find(|rule| rule.id() == Some("pipectl-housekeeping")).cloned()
    });
    let rule = rule.expect("the housekeeping rule");
    assert_eq!(rule.abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation()), Some(7));
    assert_eq!(rule.noncurrent_version_expiration().and_then(|e| e.noncurrent_days()), Some(30));
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // A shorter retention deletes records: marked in the plan, refused without --allow-destroy.
    let file = scratch.write("lake.yaml", &spec(&pipeline, &bucket, &stream, 24));
    let plan = pipectl(stack, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
    let change =
        plan["changes"].as_array().expect("changes").iter().find(|c| c["resource"] == format!("stream/{stream}"));
    let change = change.expect("the stream changes");
    assert_eq!(
        (change["action"].as_str(), change["destroys_data"].as_bool()),
        (Some("update"), Some(true)),
        "{change}"
    );
    let refused = pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(1);
    assert!(refused.stderr.contains("lowering retention from 72h to 24h"), "{}", refused.stderr);
    let held = runtime().block_on(async {
        let clients = stack.clients().await;
        let summary = clients.kinesis.describe_stream_summary().stream_name(&stream).send().await.expect("summary");
        summary.stream_description_summary().map(|s| s.retention_period_hours())
    });
    assert_eq!(held, Some(72), "nothing was changed");
    pipectl(stack, &["apply", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

on_both_stacks!(data_safety);

/// The default encryption rule and the housekeeping rule as S3 holds them: (algorithm,
/// `BucketKeyEnabled`, versioning status, noncurrent days).
async fn held(stack: Stack, bucket: &str) -> (String, Option<bool>, Option<String>, Option<i32>) {
    let clients = stack.clients().await;
    let encryption = clients.s3.get_bucket_encryption().bucket(bucket).send().await.expect("GetBucketEncryption");
    let rule = encryption.server_side_encryption_configuration().and_then(|c| c.rules().first()).cloned();
    let rule = rule.expect("a default encryption rule");
    let algorithm = rule.apply_server_side_encryption_by_default().map(|d| d.sse_algorithm().as_str().to_string());
    let versioning = clients.s3.get_bucket_versioning().bucket(bucket).send().await.expect("GetBucketVersioning");
    let lifecycle = clients.s3.get_bucket_lifecycle_configuration().bucket(bucket).send().await;
    let lifecycle = lifecycle.expect("GetBucketLifecycleConfiguration");
    let housekeeping = lifecycle.rules().iter().find(|rule| rule.id() == Some("pipectl-housekeeping"));
    (
        algorithm.unwrap_or_default(),
        rule.bucket_key_enabled(),
        versioning.status().map(|s| s.as_str().to_string()),
        housekeeping.and_then(|r| r.noncurrent_version_expiration()).and_then(|e| e.noncurrent_days()),
    )
}

/// An SSE-KMS bucket gets an S3 Bucket Key (read back, and restored when someone turns it off),
/// and suspending versioning keeps expiring the versions it leaves behind.
fn sse_kms_has_a_bucket_key_and_a_suspended_bucket_still_expires_old_versions(stack: Stack) {
    require!(stack);
    let pipeline = unique("bucketkey", stack);
    let bucket = format!("{pipeline}-lake");
    let spec = |versioning: bool| {
        format!("version: 1\npipeline: {pipeline}\nregion: us-east-1\nbuckets:\n  - {{name: {bucket}, versioning: {versioning}, encryption: sse-kms}}\n")
    };
    let scratch = Scratch::new(&format!("bucketkey-{}", stack.tag()));
    let file = scratch.write("lake.yaml", &spec(true));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let enabled = Some("Enabled".to_string());
    assert_eq!(runtime().block_on(held(stack, &bucket)), ("aws:kms".to_string(), Some(true), enabled, Some(30)));
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // Someone turns the Bucket Key off: drift of that field, restored in place.
    runtime().block_on(async {
        use aws_sdk_s3::types::{
            ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
            ServerSideEncryptionRule,
        };
        let kms = ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::AwsKms).build();
        let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(kms.expect("default"));
        let config = ServerSideEncryptionConfiguration::builder().rules(rule.bucket_key_enabled(false).build());
        let s3 = stack.clients().await.s3;
        let put = s3
            .put_bucket_encryption()
            .bucket(&bucket)
            .server_side_encryption_configuration(config.build().expect("config"));
        put.send().await.expect("PutBucketEncryption");
    });
    let drifted = pipectl(stack, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
    assert_eq!(changed_fields(&drifted, &format!("bucket/{bucket}")), ["bucket_key"]);
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    assert_eq!(runtime().block_on(held(stack, &bucket)).1, Some(true));

    // Suspended: S3 keeps the old versions and still expires them after 30 days.
    let file = scratch.write("lake.yaml", &spec(false));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let (_, _, versioning, noncurrent) = runtime().block_on(held(stack, &bucket));
    assert_eq!((versioning.as_deref(), noncurrent), (Some("Suspended"), Some(30)));
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

on_both_stacks!(sse_kms_has_a_bucket_key_and_a_suspended_bucket_still_expires_old_versions);

/// 3,000 objects with two versions each: destroy empties the bucket in rounds of 1,000 with
/// progress and deletes it.
fn destroying_a_bucket_of_thousands_of_versions_finishes_with_progress(stack: Stack) {
    require!(stack);
    let pipeline = unique("bigbucket", stack);
    let (bucket, stream) = (format!("{pipeline}-lake"), format!("{pipeline}-events"));
    let scratch = Scratch::new("bigbucket");
    let file = scratch.write("big.yaml", &spec(&pipeline, &bucket, &stream, 24));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    runtime().block_on(async {
        let clients = stack.clients().await;
        crate::support::admit_plain_http(stack, &clients.s3, &bucket).await;
        for version in 0..2 {
            let puts = (0..3000).map(|n| {
                let s3 = clients.s3.clone();
                let bucket = bucket.clone();
                async move {
                    s3.put_object()
                        .bucket(bucket)
                        .key(format!("raw/{n:05}.json"))
                        .body(format!("{{\"version\": {version}}}").into_bytes().into())
                        .send()
                        .await
                        .expect("PutObject")
                }
            });
            futures::stream::iter(puts).buffer_unordered(32).collect::<Vec<_>>().await;
        }
    });
    let destroyed = pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    assert!(destroyed.stderr.contains("6000 object versions deleted so far"), "{}", destroyed.stderr);
    let rounds = destroyed.stderr.matches("object versions deleted so far").count();
    assert!(rounds >= 6, "at most 1,000 versions per round: {rounds} rounds\n{}", destroyed.stderr);
    let read = runtime().block_on(async { stack.clients().await.s3.head_bucket().bucket(&bucket).send().await });
    crate::support::assert_gone(&format!("bucket {bucket}"), read, crate::support::not_found::S3_BUCKET);
}

on_both_stacks!(destroying_a_bucket_of_thousands_of_versions_finishes_with_progress);

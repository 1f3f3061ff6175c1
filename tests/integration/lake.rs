//! The lake's data-safety rules on a real emulator: pipectl's housekeeping lifecycle rule,
//! a shorter stream retention that needs `--allow-destroy`, and destroying a bucket that holds
//! thousands of object versions (in batches of 1,000, with progress).

use futures::StreamExt;

use crate::support::{pipectl, runtime, unique, Scratch, Stack};

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

//! Buckets and the region and owner they belong to (issue 21, items 8 and 10): bucket names are
//! global but a bucket lives in one region, so the same pipeline applied in a second region must
//! neither take the first region's bucket as its own nor delete it; and a create whose name is
//! taken by a bucket another pipeline (or nobody) tagged refuses, leaving that bucket as it was.

use crate::support::{bucket_tags, pipectl, runtime, unique, Scratch, Stack};

fn spec(pipeline: &str, bucket: &str) -> String {
    format!("version: 1\npipeline: {pipeline}\nregion: us-east-1\nbuckets:\n  - name: {bucket}\n")
}

/// The object keys the emulator holds in `bucket` (None if the bucket is gone).
fn objects(stack: Stack, bucket: &str) -> Option<Vec<String>> {
    runtime().block_on(async {
        let clients = stack.clients().await;
        let listed = clients.s3.list_objects_v2().bucket(bucket).send().await.ok()?;
        Some(listed.contents().iter().filter_map(|object| object.key()).map(str::to_string).collect())
    })
}

/// On moto, applying the pipeline in us-west-2 once destroyed its us-east-1 lake bucket: now the
/// second region sees the bucket lives elsewhere, refuses to create or adopt it, and its destroy
/// leaves the bucket and its objects alone.
#[test]
fn a_second_region_leaves_the_first_regions_bucket_and_objects_alone() {
    let stack = Stack::Moto;
    require!(stack);
    let scratch = Scratch::new("bucket-regions");
    let pipeline = unique("bkr", stack);
    let bucket = format!("{pipeline}-lake");
    let file = scratch.write("spec.yaml", &spec(&pipeline, &bucket));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    runtime().block_on(async {
        let clients = stack.clients().await;
        crate::support::admit_plain_http(stack, &clients.s3, &bucket).await;
        let body = aws_sdk_s3::primitives::ByteStream::from_static(b"event");
        clients.s3.put_object().bucket(&bucket).key("raw/1.json").body(body).send().await.expect("object");
    });

    let west = pipectl(stack, &["apply", "-f", &file, "--auto-approve", "--region", "us-west-2"]);
    assert_ne!(west.code, 0, "{}", west.stdout);
    assert!(west.stderr.contains("lives in us-east-1, not in us-west-2"), "{}", west.stderr);
    let destroyed =
        pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy", "--region", "us-west-2"]);
    assert_eq!(destroyed.code, 0, "{}", destroyed.stderr);
    assert_eq!(objects(stack, &bucket), Some(vec!["raw/1.json".to_string()]), "the us-east-1 bucket is intact");
    // Unchanged but for the policy the test removed to write its object (`admit_plain_http`).
    let plan = pipectl(stack, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
    assert_eq!(crate::support::plan_actions(&plan), [(format!("bucket/{bucket}"), "update".to_string())], "{plan}");
    assert_eq!(crate::support::changed_fields(&plan, &format!("bucket/{bucket}")), ["tls_only"], "{plan}");

    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    assert_eq!(objects(stack, &bucket), None, "destroyed in its own region");
}

/// A bucket of the spec's name that nobody tagged, and one tagged for another pipeline: apply
/// refuses both, naming them and how to adopt, and neither bucket is changed.
fn foreign_buckets_are_refused_and_left_unchanged(stack: Stack) {
    require!(stack);
    let scratch = Scratch::new(&format!("bucket-owners-{}", stack.tag()));
    let pipeline = unique("bko", stack);
    let untagged = format!("{pipeline}-untagged");
    let foreign = format!("{pipeline}-foreign");
    let other = [("pipectl:pipeline".to_string(), "someone-else".to_string())];
    runtime().block_on(async {
        let s3 = stack.clients().await.s3;
        for name in [&untagged, &foreign] {
            s3.create_bucket().bucket(name).send().await.expect("bucket");
        }
        let tag = aws_sdk_s3::types::Tag::builder().key(&other[0].0).value(&other[0].1).build().unwrap();
        let tagging = aws_sdk_s3::types::Tagging::builder().tag_set(tag).build().unwrap();
        s3.put_bucket_tagging().bucket(&foreign).tagging(tagging).send().await.expect("tags");
    });
    for (name, says) in
        [(&untagged, "it is not tagged as managed by pipectl"), (&foreign, "it belongs to pipeline `someone-else`")]
    {
        let file = scratch.write(&format!("{name}.yaml"), &spec(&pipeline, name));
        let refused = pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(1);
        assert!(refused.stderr.contains(&format!("bucket/{name} already exists but {says}")), "{}", refused.stderr);
        assert!(refused.stderr.contains("pipectl adopt"), "{}", refused.stderr);
    }
    runtime().block_on(async {
        let s3 = stack.clients().await.s3;
        let untagged_tags = s3.get_bucket_tagging().bucket(&untagged).send().await;
        assert!(untagged_tags.map(|t| t.tag_set().is_empty()).unwrap_or(true), "the untagged bucket stays untagged");
        let versioning = s3.get_bucket_versioning().bucket(&foreign).send().await.expect("versioning");
        assert!(versioning.status().is_none(), "nothing was configured on the foreign bucket");
        assert_eq!(bucket_tags(stack, &foreign).await, other, "the foreign bucket keeps its tags, and only them");
        for name in [&untagged, &foreign] {
            s3.delete_bucket().bucket(name).send().await.expect("cleanup");
        }
    });
}

on_both_stacks!(foreign_buckets_are_refused_and_left_unchanged);

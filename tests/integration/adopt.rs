//! `pipectl adopt`: an untagged bucket with the spec's name becomes the pipeline's on purpose,
//! keeping its own tags; a bucket tagged by another pipeline is never adopted.

use crate::support::{bucket_tags, pipectl, runtime, Scratch, Stack, TestPipeline};

async fn create_bucket(stack: Stack, bucket: &str, tags: &[(&str, &str)]) {
    let clients = stack.clients().await;
    clients.s3.create_bucket().bucket(bucket).send().await.expect("create bucket");
    let tag_set = tags
        .iter()
        .map(|(key, value)| aws_sdk_s3::types::Tag::builder().key(*key).value(*value).build().expect("tag"))
        .collect();
    let tagging = aws_sdk_s3::types::Tagging::builder().set_tag_set(Some(tag_set)).build().expect("tagging");
    clients.s3.put_bucket_tagging().bucket(bucket).tagging(tagging).send().await.expect("tag bucket");
}

fn adopt_tags_an_untagged_bucket_and_never_a_foreign_one(stack: Stack) {
    require!(stack);
    let runtime = runtime();
    let scratch = Scratch::new(&format!("adopt-{}", stack.tag()));
    let spec = TestPipeline::new(stack, "adopt");
    let file = spec.write(&scratch);
    let id = format!("bucket/{}", spec.bucket);
    runtime.block_on(create_bucket(stack, &spec.bucket, &[("owner", "data-team")]));
    let before = runtime.block_on(bucket_tags(stack, &spec.bucket));

    // Without a terminal and without --auto-approve: shown, not done.
    let shown = pipectl(stack, &["adopt", &id, "-f", &file]).expect(1);
    assert!(
        shown.stdout.contains(&format!("  {id} ({}, not tagged by any pipeline)", spec.bucket)),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("Then the next plan is:"), "{}", shown.stdout);
    assert!(shown.stdout.contains(&format!("  # {id} will be updated in-place")), "{}", shown.stdout);
    assert!(shown.stderr.contains("re-run with --auto-approve"), "{}", shown.stderr);
    assert_eq!(runtime.block_on(bucket_tags(stack, &spec.bucket)), before);

    let adopted = pipectl(stack, &["adopt", &id, "-f", &file, "--auto-approve"]).expect(0);
    assert!(adopted.stdout.contains(&format!("Adopted {id}")), "{}", adopted.stdout);
    let tags = runtime.block_on(bucket_tags(stack, &spec.bucket));
    assert!(tags.contains(&("pipectl:pipeline".to_string(), spec.pipeline.clone())), "{tags:?}");
    assert!(tags.contains(&("pipectl:resource".to_string(), id.clone())), "{tags:?}");
    assert!(tags.contains(&("owner".to_string(), "data-team".to_string())), "its own tags stay: {tags:?}");
    // The plan now manages it instead of stopping on it; adopting again has nothing to do.
    let plan = pipectl(stack, &["plan", "-f", &file, "--output", "json"]).expect(0);
    assert!(
        crate::support::plan_actions(&plan.json()).contains(&(id.clone(), "update".to_string())),
        "{}",
        plan.stdout
    );
    let again = pipectl(stack, &["adopt", "--all", "-f", &file, "--auto-approve"]).expect(0);
    assert!(again.stdout.contains("Nothing to adopt"), "{}", again.stdout);

    // A bucket of another pipeline: refused, tags unchanged.
    let other = TestPipeline::new(stack, "adopt-other");
    let other_file = other.write(&scratch);
    runtime.block_on(create_bucket(stack, &other.bucket, &[("pipectl:pipeline", "someone-else")]));
    let refused = pipectl(stack, &["adopt", "--all", "-f", &other_file, "--auto-approve"]).expect(1);
    assert!(refused.stderr.contains("belongs to pipeline `someone-else`"), "{}", refused.stderr);
    assert!(refused.stderr.contains("is never adopted; nothing was changed"), "{}", refused.stderr);
    assert_eq!(
        runtime.block_on(bucket_tags(stack, &other.bucket)),
        [("pipectl:pipeline".to_string(), "someone-else".to_string())]
    );

    runtime.block_on(async {
        let clients = stack.clients().await;
        for bucket in [&spec.bucket, &other.bucket] {
            clients.s3.delete_bucket().bucket(bucket).send().await.expect("cleanup bucket");
        }
    });
}

on_both_stacks!(adopt_tags_an_untagged_bucket_and_never_a_foreign_one);

//! Never touch what is not ours: resources with the names the spec uses but without the
//! pipeline's tags (or with another pipeline's) are reported by the plan and left as they are.

use std::collections::HashMap;

use crate::support::{pipectl, runtime, Scratch, Stack, TestPipeline};

fn foreign_resources_are_left_alone(stack: Stack) {
    require!(stack);
    let runtime = runtime();
    let scratch = Scratch::new(&format!("ownership-{}", stack.tag()));
    let mut spec = TestPipeline::new(stack, "own");
    spec.shards = 3;
    let file = spec.write(&scratch);
    // Created directly with the SDK: an untagged bucket and a stream of another pipeline.
    runtime.block_on(async {
        let clients = stack.clients().await;
        clients.s3.create_bucket().bucket(&spec.bucket).send().await.expect("create bucket");
        clients
            .kinesis
            .create_stream()
            .stream_name(&spec.stream)
            .shard_count(1)
            .set_tags(Some(HashMap::from([("pipectl:pipeline".to_string(), "someone-else".to_string())])))
            .send()
            .await
            .expect("create stream");
        // kinesis-mock may ignore tags on CreateStream; tag explicitly as well.
        for _ in 0..50 {
            let summary =
                clients.kinesis.describe_stream_summary().stream_name(&spec.stream).send().await.expect("describe");
            if summary.stream_description_summary().map(|s| s.stream_status().as_str()) == Some("ACTIVE") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        clients
            .kinesis
            .add_tags_to_stream()
            .stream_name(&spec.stream)
            .tags("pipectl:pipeline", "someone-else")
            .send()
            .await
            .expect("tag stream");
    });

    let plan = pipectl(stack, &["plan", "-f", &file]).expect(1);
    let bucket_message = format!("bucket/{} already exists but it is not tagged as managed by pipectl", spec.bucket);
    let stream_message = format!("stream/{} already exists but it belongs to pipeline `someone-else`", spec.stream);
    assert!(plan.stderr.contains(&bucket_message), "{}", plan.stderr);
    assert!(plan.stderr.contains(&stream_message), "{}", plan.stderr);
    assert!(plan.stderr.contains("adopt it deliberately by tagging it pipectl:pipeline="), "{}", plan.stderr);

    let apply = pipectl(stack, &["apply", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(1);
    assert!(apply.stderr.contains(&bucket_message), "{}", apply.stderr);
    let destroy = pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    assert!(destroy.stdout.contains("Nothing to destroy: no resource of pipeline"), "{}", destroy.stdout);

    // Both are exactly as they were: not tagged, not configured, not deleted.
    runtime.block_on(async {
        let clients = stack.clients().await;
        let versioning =
            clients.s3.get_bucket_versioning().bucket(&spec.bucket).send().await.expect("bucket still exists");
        assert_eq!(versioning.status(), None, "versioning must not have been enabled");
        // A bucket without tags answers `NoSuchTagSet` ("GetBucketTagging", Amazon S3 API
        // Reference); any other error fails rather than passing for "not tagged".
        let tags = clients.s3.get_bucket_tagging().bucket(&spec.bucket).send().await;
        let tags = crate::support::found(&format!("the tags of bucket {}", spec.bucket), tags, &["NoSuchTagSet"]);
        assert!(tags.is_none_or(|t| t.tag_set().is_empty()), "the bucket must not have been tagged");
        let summary = clients
            .kinesis
            .describe_stream_summary()
            .stream_name(&spec.stream)
            .send()
            .await
            .expect("stream still exists");
        assert_eq!(summary.stream_description_summary().map(|s| s.open_shard_count()), Some(1));
        let tags = clients.kinesis.list_tags_for_stream().stream_name(&spec.stream).send().await.expect("stream tags");
        let owner: Vec<_> = tags
            .tags()
            .iter()
            .filter(|t| t.key() == "pipectl:pipeline")
            .map(|t| t.value().unwrap_or_default().to_string())
            .collect();
        assert_eq!(owner, ["someone-else"]);
        clients.s3.delete_bucket().bucket(&spec.bucket).send().await.expect("cleanup bucket");
        clients.kinesis.delete_stream().stream_name(&spec.stream).send().await.expect("cleanup stream");
    });
}

on_both_stacks!(foreign_resources_are_left_alone);

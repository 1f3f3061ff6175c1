//! Saved plans: `plan --out FILE` then `apply FILE` applies exactly that plan, and refuses,
//! changing nothing, when the live state or the spec changed in between.

use crate::support::{bucket_tags, pipectl, runtime, Scratch, Stack, TestPipeline};

async fn stream_state(stack: Stack, stream: &str) -> (i32, i32) {
    let clients = stack.clients().await;
    let summary = clients.kinesis.describe_stream_summary().stream_name(stream).send().await.expect("stream");
    let summary = summary.stream_description_summary().expect("summary");
    (summary.open_shard_count(), summary.retention_period_hours())
}

fn saved_plans_apply_exactly_or_refuse(stack: Stack) {
    require!(stack);
    let runtime = runtime();
    let scratch = Scratch::new(&format!("planfile-{}", stack.tag()));
    let mut spec = TestPipeline::new(stack, "pf");
    let file = spec.write(&scratch);
    let saved = scratch.dir.join("plan.json").display().to_string();

    // Plan on a "pull request", with the Markdown for the comment; then apply the saved plan.
    let plan = pipectl(stack, &["plan", "-f", &file, "--out", &saved, "--output", "markdown", "--detailed-exitcode"])
        .expect(2);
    assert!(plan.stdout.starts_with(&format!("### pipectl plan: pipeline `{}`", spec.pipeline)), "{}", plan.stdout);
    assert!(
        plan.stdout.contains(&format!("| :heavy_plus_sign: | `stream/{}` | create |", spec.stream)),
        "{}",
        plan.stdout
    );
    assert!(plan.stderr.contains("Saved the plan to"), "{}", plan.stderr);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&saved).expect("plan file")).expect("plan file is JSON");
    assert_eq!(written["format_version"], 2);
    assert_eq!(written["pipeline"], spec.pipeline.as_str());
    assert_eq!(written["spec_fingerprint"].as_str().map(str::len), Some(32));
    assert!(written["plan"]["changes"].as_array().is_some_and(|changes| !changes.is_empty()));
    let apply = pipectl(stack, &["apply", "-f", &file, "--auto-approve", &saved]).expect(0);
    assert!(apply.stdout.contains("Apply complete!"), "{}", apply.stdout);

    // A plan of a change to live resources applies too, since nothing moved in between; without
    // `-f`, `apply PLANFILE` reads the spec the plan names.
    spec.shards = 3;
    spec.write(&scratch);
    pipectl(stack, &["plan", "-f", &file, "--out", &saved]).expect(0);
    pipectl(stack, &["apply", "--auto-approve", &saved]).expect(0);
    assert_eq!(runtime.block_on(stream_state(stack, &spec.stream)), (3, 24));

    // Someone tags the bucket between plan and apply: the saved plan is refused, nothing changes.
    spec.retention_hours = 48;
    spec.write(&scratch);
    pipectl(stack, &["plan", "-f", &file, "--out", &saved]).expect(0);
    let drifted = runtime.block_on(async {
        let clients = stack.clients().await;
        let mut tags = bucket_tags(stack, &spec.bucket).await;
        tags.push(("changed-by".to_string(), "someone".to_string()));
        let tag_set = tags
            .iter()
            .map(|(key, value)| aws_sdk_s3::types::Tag::builder().key(key).value(value).build().expect("tag"))
            .collect();
        let tagging = aws_sdk_s3::types::Tagging::builder().set_tag_set(Some(tag_set)).build().expect("tagging");
        clients.s3.put_bucket_tagging().bucket(&spec.bucket).tagging(tagging).send().await.expect("tag bucket");
        bucket_tags(stack, &spec.bucket).await
    });
    let refused = pipectl(stack, &["apply", "-f", &file, "--auto-approve", &saved]).expect(1);
    assert!(
        refused
            .stderr
            .contains(&format!("the live state changed since the plan was made: bucket/{} changed", spec.bucket)),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("Nothing was changed"), "{}", refused.stderr);
    assert_eq!(runtime.block_on(stream_state(stack, &spec.stream)), (3, 24), "the stream must not have changed");
    assert_eq!(runtime.block_on(bucket_tags(stack, &spec.bucket)), drifted, "the bucket must not have been reverted");

    // The spec changes after the plan: refused as well.
    pipectl(stack, &["plan", "-f", &file, "--out", &saved]).expect(0);
    spec.extra_rule = true;
    spec.write(&scratch);
    let refused = pipectl(stack, &["apply", "--auto-approve", &saved]).expect(1);
    assert!(refused.stderr.contains("the spec changed since the plan was made"), "{}", refused.stderr);
    assert_eq!(runtime.block_on(stream_state(stack, &spec.stream)), (3, 24), "the stream must not have changed");
    // The spec the plan names is gone: refused, naming it, before any AWS call.
    let moved = format!("{file}.moved");
    std::fs::rename(&file, &moved).expect("move the spec away");
    let refused = pipectl(stack, &["apply", "--auto-approve", &saved]).expect(1);
    assert!(refused.stderr.contains(&file), "{}", refused.stderr);
    std::fs::rename(&moved, &file).expect("move the spec back");

    // A file that is not a plan, or of another format version, is refused before any AWS call.
    let bogus = scratch.write("bogus.json", "{\"format_version\": 99}");
    let refused = pipectl(stack, &["apply", "-f", &file, "--auto-approve", &bogus]).expect(1);
    assert!(refused.stderr.contains("plan file format version 99"), "{}", refused.stderr);

    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

on_both_stacks!(saved_plans_apply_exactly_or_refuse);

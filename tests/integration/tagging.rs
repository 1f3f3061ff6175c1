//! A principal that may create buckets but not tag them at creation (`s3:CreateBucket` without
//! `s3:TagResource`) still converges: pipectl-proxy's `--deny-create-bucket-tags` answers every
//! tagged `CreateBucket` with S3's `403 AccessDenied`, pipectl creates the bucket untagged and
//! tags it with `PutBucketTagging`; the bucket then carries the pipeline's tags, a new plan is
//! empty and destroy removes it. On both stacks, in us-east-1 (no `LocationConstraint`) and in
//! eu-west-1 (`LocationConstraint` and `Tags` in one `CreateBucketConfiguration`).

use std::process::Command;
use std::time::Duration;

use pipectl::aws::{clients, AwsOptions};
use pipectl::names::PIPELINE_TAG;

use crate::support::{run_with_env, runtime, unique, Scratch, Stack};

/// pipectl-proxy in front of moto that denies tagged CreateBucket, stopped on drop.
struct DenyingProxy {
    child: std::process::Child,
    url: String,
}

impl DenyingProxy {
    fn start(stack: Stack) -> DenyingProxy {
        let (child, url) = crate::proxy::spawn(Command::new(crate::support::proxy_binary()).args([
            "--upstream",
            &stack.endpoint(),
            "--deny-create-bucket-tags",
        ]));
        DenyingProxy { child, url }
    }

    /// The stack's environment (its routes to moto included) with the proxy in front of it.
    fn env(&self, stack: Stack, region: &str) -> Vec<(&'static str, String)> {
        let mut env: Vec<(&'static str, String)> =
            stack.env().into_iter().filter(|(name, _)| !matches!(*name, "AWS_REGION" | "AWS_ENDPOINT_URL")).collect();
        env.push(("AWS_REGION", region.to_string()));
        env.push(("AWS_ENDPOINT_URL", self.url.clone()));
        env
    }

    fn stats(&self) -> serde_json::Value {
        let output =
            Command::new("curl").args(["-fsS", &format!("{}/__proxy/stats", self.url)]).output().expect("curl");
        serde_json::from_slice(&output.stdout).expect("stats JSON")
    }
}

impl Drop for DenyingProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An S3 client on the emulator itself (not through the proxy) in `region`.
async fn emulator_s3(stack: Stack, region: &str) -> aws_sdk_s3::Client {
    let options = AwsOptions {
        profile: None,
        region: region.to_string(),
        endpoint_url: Some(stack.endpoint()),
        localstack: true,
        connect_timeout: Duration::from_secs(3),
        read_timeout: Duration::from_secs(30),
        max_attempts: 3,
        max_in_flight: 8,
    };
    clients(&options, &pipectl::aws::calls::CallCounter::default()).await.s3
}

fn converges_when_tagging_at_creation_is_denied(stack: Stack, region: &str) {
    require!(stack);
    let proxy = DenyingProxy::start(stack);
    let env = proxy.env(stack, region);
    let pipeline = unique("tagdeny", stack);
    let bucket = format!("{pipeline}-lake");
    let scratch = Scratch::new(&format!("tagging-{region}"));
    let file = scratch.write(
        "tagging.yaml",
        &format!("version: 1\npipeline: {pipeline}\nregion: {region}\nbuckets:\n  - name: {bucket}\n    tags: {{team: data}}\n"),
    );

    let applied = run_with_env(&["apply", "-f", &file, "--auto-approve"], &env);
    assert_eq!(applied.code, 0, "apply failed:\n{}\n{}", applied.stdout, applied.stderr);
    assert!(applied.stderr.contains("CreateBucket with tags was denied"), "{}", applied.stderr);
    let stats = proxy.stats();
    assert!(
        stats["faults"]["deny-create-bucket-tags s3:PUT"].as_u64().unwrap_or(0) >= 1,
        "no tagged CreateBucket was denied: {stats}"
    );

    // What the emulator holds: the bucket, with the pipeline's tags and the spec's.
    let tags = runtime().block_on(async {
        let s3 = emulator_s3(stack, region).await;
        s3.head_bucket().bucket(&bucket).send().await.expect("the bucket exists");
        let tagging = s3.get_bucket_tagging().bucket(&bucket).send().await.expect("GetBucketTagging");
        tagging.tag_set().iter().map(|tag| (tag.key().to_string(), tag.value().to_string())).collect::<Vec<_>>()
    });
    assert!(tags.contains(&(PIPELINE_TAG.to_string(), pipeline.clone())), "{tags:?}");
    assert!(tags.contains(&("team".to_string(), "data".to_string())), "{tags:?}");

    let plan = run_with_env(&["plan", "-f", &file, "--detailed-exitcode"], &env);
    assert_eq!(plan.code, 0, "the plan after apply is not empty:\n{}\n{}", plan.stdout, plan.stderr);

    let destroyed = run_with_env(&["destroy", "-f", &file, "--auto-approve", "--allow-destroy"], &env);
    assert_eq!(destroyed.code, 0, "destroy failed:\n{}\n{}", destroyed.stdout, destroyed.stderr);
    let read =
        runtime().block_on(async { emulator_s3(stack, region).await.head_bucket().bucket(&bucket).send().await });
    crate::support::assert_gone(&format!("bucket {bucket}"), read, crate::support::not_found::S3_BUCKET);
}

fn create_bucket_with_tagging_denied_converges_in_us_east_1(stack: Stack) {
    converges_when_tagging_at_creation_is_denied(stack, "us-east-1");
}

fn create_bucket_with_tagging_denied_converges_with_a_location_constraint(stack: Stack) {
    converges_when_tagging_at_creation_is_denied(stack, "eu-west-1");
}

on_both_stacks!(create_bucket_with_tagging_denied_converges_in_us_east_1);
on_both_stacks!(create_bucket_with_tagging_denied_converges_with_a_location_constraint);

//! A plan costs what the pipeline is, not what the account holds: on a crowded account (50
//! foreign buckets, 20 foreign streams created directly with the SDK) the plan reads no more
//! bucket tags than on an account without them where the endpoint's tag index serves buckets
//! (moto), and falls back to scanning, saying so, where it does not (streams on moto; everything
//! on LocalStack). Either way a bucket the spec no longer names is still found and deleted.
//! What the plan reads of the pipeline itself costs an exact number of requests, the same with
//! and without the crowd. Request counts come from pipectl-proxy in front of the stack, which
//! counts what reaches the emulators, and must equal the plan's own `api_calls` (the SDK
//! interceptor that counts every request sent, retries included); not from timings.

use std::collections::BTreeMap;

use crate::proxy::StackProxy;
use crate::support::{pipectl, plan_actions, runtime, unique, Run, Scratch, Stack, TestPipeline};

const FOREIGN_BUCKETS: usize = 50;
const FOREIGN_STREAMS: usize = 20;

fn calls(plan: &serde_json::Value) -> BTreeMap<String, u64> {
    serde_json::from_value(plan["api_calls"].clone()).expect("api_calls")
}

/// pipectl-proxy's counts, named as pipectl names its calls (`service:Operation` with the IAM
/// prefix of the service): the proxy names a service by its SigV4 signing name and a REST request
/// (S3, Scheduler) by its method and first query key.
fn as_actions(requests: BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let mut actions = BTreeMap::new();
    for (request, count) in requests {
        let (service, operation) = request.split_once(':').expect("service:Operation");
        let service = match service {
            "tagging" => "tag",
            "monitoring" => "cloudwatch",
            "elasticmapreduce" => "emr",
            "states" => "sfn",
            other => other,
        };
        let operation = match (service, operation) {
            ("s3", "GET" | "GET ?x-id") => "ListBuckets",
            ("scheduler", "GET ?NamePrefix") => "ListSchedules",
            ("apigateway", "GET /restapis") => "GetRestApis",
            ("apigateway", "GET /domainnames") => "GetDomainNames",
            ("s3", "HEAD") => "HeadBucket",
            ("s3", "GET ?versioning") => "GetBucketVersioning",
            ("s3", "GET ?encryption") => "GetBucketEncryption",
            ("s3", "GET ?publicAccessBlock") => "GetPublicAccessBlock",
            ("s3", "GET ?lifecycle") => "GetBucketLifecycleConfiguration",
            ("s3", "GET ?tagging") => "GetBucketTagging",
            ("s3", "GET ?location") => "GetBucketLocation",
            ("s3", "GET ?policy") => "GetBucketPolicy",
            ("s3", "GET ?ownershipControls") => "GetBucketOwnershipControls",
            (_, operation) => operation,
        };
        *actions.entry(format!("{service}:{operation}")).or_default() += count;
    }
    actions
}

/// A JSON plan through the proxy: the plan, and the requests the proxy forwarded for it (an
/// independent count), which must be the plan's own `api_calls` exactly.
fn counted_plan(proxy: &StackProxy, file: &str) -> (Run, BTreeMap<String, u64>) {
    proxy.reset();
    let run = proxy.pipectl(&["plan", "-f", file, "--output", "json"]).expect(0);
    let counted = as_actions(proxy.requests());
    assert!(!counted.is_empty(), "the proxy saw no request of the plan");
    let own = calls(&run.json());
    let keys: std::collections::BTreeSet<&String> = counted.keys().chain(own.keys()).collect();
    let differ: Vec<(&String, u64, u64)> = keys
        .into_iter()
        .map(|key| (key, count(&counted, key), count(&own, key)))
        .filter(|(_, proxy, pipectl)| proxy != pipectl)
        .collect();
    assert!(differ.is_empty(), "the proxy's count and the plan's own differ (operation, proxy, plan): {differ:?}");
    (run, counted)
}

fn count(calls: &BTreeMap<String, u64>, operation: &str) -> u64 {
    calls.get(operation).copied().unwrap_or(0)
}

fn plan_costs_the_pipeline_not_the_account(stack: Stack) {
    require!(stack);
    let runtime = runtime();
    let scratch = Scratch::new(&format!("discovery-{}", stack.tag()));
    let spec = TestPipeline::new(stack, "disc");
    let file = spec.write(&scratch);
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let proxy = StackProxy::start(stack, &[]);
    let (_, before_calls) = counted_plan(&proxy, &file);

    // The crowd: other teams' buckets (tagged for another pipeline, or not at all) and streams.
    let crowd = unique("crowd", stack);
    let buckets: Vec<String> = (0..FOREIGN_BUCKETS).map(|i| format!("{crowd}-b{i}")).collect();
    let streams: Vec<String> = (0..FOREIGN_STREAMS).map(|i| format!("{crowd}-s{i}")).collect();
    runtime.block_on(async {
        let clients = stack.clients().await;
        for (i, bucket) in buckets.iter().enumerate() {
            clients.s3.create_bucket().bucket(bucket).send().await.expect("create bucket");
            if i % 2 == 0 {
                let tag = aws_sdk_s3::types::Tag::builder().key("pipectl:pipeline").value("someone-else").build();
                let tagging = aws_sdk_s3::types::Tagging::builder().tag_set(tag.expect("tag")).build();
                clients
                    .s3
                    .put_bucket_tagging()
                    .bucket(bucket)
                    .tagging(tagging.expect("tagging"))
                    .send()
                    .await
                    .expect("tag");
            }
        }
        // Kinesis (and kinesis-mock behind LocalStack) allows only a few streams in CREATING at
        // once ("Limit for streams being created concurrently exceeded"): wait and try again.
        for stream in &streams {
            let mut attempts = 0;
            while let Err(error) = clients.kinesis.create_stream().stream_name(stream).shard_count(1).send().await {
                attempts += 1;
                let limited = error.as_service_error().is_some_and(|e| e.is_limit_exceeded_exception());
                assert!(limited && attempts < 100, "create stream: {error:?}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    });

    let (crowded, crowded_calls) = counted_plan(&proxy, &file);
    // What the plan reads of the pipeline itself costs exactly this, crowd or no crowd, on both
    // stacks (BENCHMARKS.md, "How a plan reads"): one describe per EC2 kind, one tag index round,
    // the account once (no kind asks STS again), the spec's bucket and stream directly, the
    // roles by their path, and the workgroup, topic and alarms found by their derived names (one
    // GetWorkGroup for ownership and settings, the topic by its ARN: no ListTopics).
    let exact = [
        ("sts:GetCallerIdentity", 1),
        ("tag:GetResources", 1),
        ("ec2:DescribeVpcs", 1),
        ("ec2:DescribeSubnets", 1),
        ("ec2:DescribeInternetGateways", 1),
        ("ec2:DescribeRouteTables", 1),
        ("ec2:DescribeNatGateways", 1),
        ("ec2:DescribeAddresses", 1),
        ("ec2:DescribeSecurityGroups", 1),
        ("ec2:DescribeVpcEndpoints", 1),
        ("s3:GetBucketVersioning", 1),
        ("s3:GetBucketEncryption", 1),
        ("s3:GetPublicAccessBlock", 1),
        ("s3:GetBucketLifecycleConfiguration", 1),
        ("s3:GetBucketPolicy", 1),
        ("s3:GetBucketOwnershipControls", 1),
        ("kinesis:DescribeStreamSummary", 1),
        ("iam:ListRoles", 1),
        ("iam:GetRole", 0),
        ("athena:GetWorkGroup", 1),
        ("sns:ListTopics", 0),
        ("sns:ListTagsForResource", 1),
        ("sns:ListSubscriptionsByTopic", 1),
        ("cloudwatch:DescribeAlarms", 1),
    ];
    for (operation, expected) in exact {
        assert_eq!(count(&before_calls, operation), expected, "{operation} before the crowd: {before_calls:?}");
        assert_eq!(count(&crowded_calls, operation), expected, "{operation} in the crowd: {crowded_calls:?}");
    }
    let bucket_tags = count(&crowded_calls, "s3:GetBucketTagging");
    match stack {
        Stack::Moto => {
            // moto indexes buckets: one GetResources round, the spec's bucket's own tags, and
            // nothing per foreign bucket — the same as before the crowd arrived.
            assert_eq!(count(&crowded_calls, "tag:GetResources"), 1, "{crowded_calls:?}");
            assert_eq!(bucket_tags, 1, "{crowded_calls:?}");
            assert_eq!(bucket_tags, count(&before_calls, "s3:GetBucketTagging"), "{before_calls:?}");
            assert_eq!(count(&crowded_calls, "s3:ListBuckets"), 0, "{crowded_calls:?}");
            // It does not index streams: those are scanned, and the plan says so.
            assert!(count(&crowded_calls, "kinesis:ListTagsForStream") > FOREIGN_STREAMS as u64, "{crowded_calls:?}");
            assert!(crowded.stderr.contains("lists nothing of this pipeline for some kinds"), "{}", crowded.stderr);
        }
        Stack::LocalStack => {
            // LocalStack's index lists none of the three kinds: every bucket's tags are read.
            assert!(bucket_tags > FOREIGN_BUCKETS as u64, "{crowded_calls:?}");
            assert!(count(&crowded_calls, "s3:ListBuckets") >= 1, "{crowded_calls:?}");
            assert!(crowded.stderr.contains("lists nothing of this pipeline for some kinds"), "{}", crowded.stderr);
        }
    }

    // A bucket the spec no longer names is found (by the index on moto, by the scan on
    // LocalStack) and deleted; no foreign bucket is.
    let without_bucket = TestPipeline { with_bucket: false, ..spec };
    let file = without_bucket.write(&scratch);
    let plan = pipectl(stack, &["plan", "-f", &file, "--output", "json", "--detailed-exitcode"]).expect(2);
    let deletes: Vec<(String, String)> =
        plan_actions(&plan.json()).into_iter().filter(|(_, action)| action == "delete").collect();
    assert_eq!(deletes, [(format!("bucket/{}", without_bucket.bucket), "delete".to_string())], "{}", plan.stdout);

    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    runtime.block_on(async {
        let clients = stack.clients().await;
        for bucket in &buckets {
            clients.s3.delete_bucket().bucket(bucket).send().await.expect("delete bucket");
        }
        for stream in &streams {
            clients.kinesis.delete_stream().stream_name(stream).send().await.expect("delete stream");
        }
    });
}

on_both_stacks!(plan_costs_the_pipeline_not_the_account);

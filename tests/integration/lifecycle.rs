//! The life of a pipeline on each stack: apply, converge, edit, converge, drift, destroy, with
//! what the emulator holds checked through the SDK at every step.

use aws_sdk_ec2::types::Filter;

use crate::remains::remains;
use crate::support::{changed_fields, found, not_found, pipectl, plan_actions, runtime, Scratch, Stack, TestPipeline};

/// What the emulator holds for one pipeline, read with the SDK.
#[derive(Debug, Default)]
struct Held {
    vpc_cidrs: Vec<String>,
    subnets: Vec<(String, bool)>,
    gateways_attached: usize,
    default_routes_to_gateway: usize,
    route_associations: usize,
    spark_ingress: Vec<String>,
    bucket_versioning: Option<String>,
    bucket_tags: Vec<(String, String)>,
    scratch_expiration: Option<i32>,
    stream_open_shards: Option<i32>,
    stream_retention: Option<i32>,
}

fn tag_filter(pipeline: &str) -> Filter {
    Filter::builder().name("tag:pipectl:pipeline").values(pipeline).build()
}

async fn held(stack: Stack, pipeline: &TestPipeline) -> Held {
    let clients = stack.clients().await;
    let ec2 = &clients.ec2;
    let mut held = Held::default();
    let vpcs = ec2.describe_vpcs().filters(tag_filter(&pipeline.pipeline)).send().await.expect("DescribeVpcs");
    held.vpc_cidrs = vpcs.vpcs().iter().filter_map(|v| v.cidr_block().map(str::to_string)).collect();
    let subnets = ec2.describe_subnets().filters(tag_filter(&pipeline.pipeline)).send().await.expect("DescribeSubnets");
    held.subnets = subnets
        .subnets()
        .iter()
        .map(|s| (s.cidr_block().unwrap_or_default().to_string(), s.map_public_ip_on_launch().unwrap_or(false)))
        .collect();
    held.subnets.sort();
    let gateways = ec2
        .describe_internet_gateways()
        .filters(tag_filter(&pipeline.pipeline))
        .send()
        .await
        .expect("DescribeInternetGateways");
    held.gateways_attached = gateways.internet_gateways().iter().filter(|g| !g.attachments().is_empty()).count();
    let tables =
        ec2.describe_route_tables().filters(tag_filter(&pipeline.pipeline)).send().await.expect("DescribeRouteTables");
    for table in tables.route_tables() {
        held.default_routes_to_gateway += table
            .routes()
            .iter()
            .filter(|r| {
                r.destination_cidr_block() == Some("0.0.0.0/0") && r.gateway_id().is_some_and(|g| g.starts_with("igw-"))
            })
            .count();
        held.route_associations += table.associations().iter().filter(|a| a.subnet_id().is_some()).count();
    }
    let groups = ec2
        .describe_security_groups()
        .filters(tag_filter(&pipeline.pipeline))
        .send()
        .await
        .expect("DescribeSecurityGroups");
    for group in groups.security_groups() {
        for permission in group.ip_permissions() {
            for range in permission.ip_ranges() {
                held.spark_ingress.push(format!(
                    "{} {:?} {}",
                    permission.ip_protocol().unwrap_or_default(),
                    permission.from_port(),
                    range.cidr_ip().unwrap_or_default()
                ));
            }
            for pair in permission.user_id_group_pairs() {
                let peer = if pair.group_id() == group.group_id() { "self" } else { "other" };
                held.spark_ingress.push(format!("{} group {peer}", permission.ip_protocol().unwrap_or_default()));
            }
        }
    }
    held.spark_ingress.sort();
    let versioning = clients.s3.get_bucket_versioning().bucket(&pipeline.bucket).send().await;
    if let Some(versioning) = found(&format!("bucket {}", pipeline.bucket), versioning, not_found::S3_BUCKET) {
        held.bucket_versioning = versioning.status().map(|s| s.as_str().to_string());
        let tags = clients.s3.get_bucket_tagging().bucket(&pipeline.bucket).send().await.expect("GetBucketTagging");
        held.bucket_tags = tags.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
        held.bucket_tags.sort();
        let lifecycle = clients
            .s3
            .get_bucket_lifecycle_configuration()
            .bucket(&pipeline.bucket)
            .send()
            .await
            .expect("GetBucketLifecycleConfiguration");
        held.scratch_expiration = lifecycle
            .rules()
            .iter()
            .find(|r| r.id() == Some("scratch"))
            .and_then(|r| r.expiration())
            .and_then(|e| e.days());
    }
    let summary = clients.kinesis.describe_stream_summary().stream_name(&pipeline.stream).send().await;
    if let Some(summary) = found(&format!("stream {}", pipeline.stream), summary, not_found::RESOURCE) {
        let summary = summary.stream_description_summary().expect("summary");
        held.stream_open_shards = summary.open_shard_count().into();
        held.stream_retention = Some(summary.retention_period_hours());
    }
    held
}

fn lifecycle(stack: Stack) {
    require!(stack);
    let runtime = runtime();
    let scratch = Scratch::new(&format!("lifecycle-{}", stack.tag()));
    let mut spec = TestPipeline::new(stack, "life");
    let file = spec.write(&scratch);

    // 1. Apply from nothing, and check what the emulator holds.
    let run = pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    assert!(run.stdout.contains("Plan: 9 to add, 0 to change, 0 to replace, 0 to destroy."), "{}", run.stdout);
    assert!(run.stdout.contains("Apply complete! Resources: 9 added"), "{}", run.stdout);
    let state = runtime.block_on(held(stack, &spec));
    assert_eq!(state.vpc_cidrs, ["10.42.0.0/16"]);
    assert_eq!(state.subnets, [("10.42.0.0/24".to_string(), true), ("10.42.10.0/24".to_string(), false)]);
    assert_eq!((state.gateways_attached, state.default_routes_to_gateway, state.route_associations), (1, 1, 2));
    assert_eq!(state.spark_ingress, ["-1 group self", "tcp Some(22) 10.42.0.0/16"]);
    assert_eq!(state.bucket_versioning.as_deref(), Some("Enabled"));
    assert!(
        state.bucket_tags.contains(&("pipectl:pipeline".to_string(), spec.pipeline.clone())),
        "{:?}",
        state.bucket_tags
    );
    assert!(state.bucket_tags.contains(&("pipectl:resource".to_string(), format!("bucket/{}", spec.bucket))));
    assert_eq!(state.scratch_expiration, Some(7));
    assert_eq!((state.stream_open_shards, state.stream_retention), (Some(2), Some(24)));

    // 2. Nothing to do on a second look.
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // 3. Edit: add a subnet, change retention, reshard 2 -> 5, change a lifecycle rule, add a rule.
    spec.extra_subnet = true;
    spec.retention_hours = 72;
    spec.shards = 5;
    spec.scratch_expiration_days = 14;
    spec.extra_rule = true;
    let file = spec.write(&scratch);
    let plan = pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode", "--output", "json"]).expect(2).json();
    assert_eq!(
        plan_actions(&plan),
        [
            (format!("bucket/{}", spec.bucket), "update".to_string()),
            ("route_table/private-b".to_string(), "create".to_string()),
            ("security_group/spark".to_string(), "update".to_string()),
            (format!("stream/{}", spec.stream), "update".to_string()),
            ("subnet/private-b".to_string(), "create".to_string()),
        ]
    );
    assert_eq!(changed_fields(&plan, &format!("bucket/{}", spec.bucket)), ["lifecycle"]);
    assert_eq!(changed_fields(&plan, "security_group/spark"), ["ingress"]);
    assert_eq!(changed_fields(&plan, &format!("stream/{}", spec.stream)), ["retention_hours", "shards"]);
    assert_eq!(plan["summary"], serde_json::json!({"add": 2, "change": 3, "replace": 0, "destroy": 0}));
    let human = pipectl(stack, &["plan", "-f", &file]).expect(0);
    assert!(human.stdout.contains("reshard 2 → 5 in 2 steps (2 → 4 → 5)"), "{}", human.stdout);
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    let state = runtime.block_on(held(stack, &spec));
    assert_eq!(state.subnets.len(), 3);
    assert_eq!((state.stream_open_shards, state.stream_retention), (Some(5), Some(72)));
    assert_eq!(state.scratch_expiration, Some(14));
    assert!(state.spark_ingress.contains(&"tcp Some(4040) 10.0.0.0/8".to_string()), "{:?}", state.spark_ingress);

    // 4. Out-of-band changes show up as the updates that revert them.
    runtime.block_on(async {
        let clients = stack.clients().await;
        clients
            .kinesis
            .decrease_stream_retention_period()
            .stream_name(&spec.stream)
            .retention_period_hours(48)
            .send()
            .await
            .expect("decrease retention");
        clients
            .s3
            .put_bucket_versioning()
            .bucket(&spec.bucket)
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Suspended)
                    .build(),
            )
            .send()
            .await
            .expect("suspend versioning");
    });
    let plan = pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode", "--output", "json"]).expect(2).json();
    assert_eq!(changed_fields(&plan, &format!("stream/{}", spec.stream)), ["retention_hours"]);
    assert_eq!(changed_fields(&plan, &format!("bucket/{}", spec.bucket)), ["versioning"]);
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // 5. A bucket that holds objects is only deleted with --allow-destroy.
    runtime.block_on(async {
        let clients = stack.clients().await;
        crate::support::admit_plain_http(stack, &clients.s3, &spec.bucket).await;
        clients
            .s3
            .put_object()
            .bucket(&spec.bucket)
            .key("raw/event.json")
            .body(b"{}".to_vec().into())
            .send()
            .await
            .expect("put object");
    });
    spec.with_bucket = false;
    let file = spec.write(&scratch);
    let refused = pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(1);
    assert!(refused.stderr.contains("refusing to destroy data without --allow-destroy"), "{}", refused.stderr);
    assert!(refused.stdout.contains("the bucket holds objects"), "{}", refused.stdout);
    assert!(runtime.block_on(held(stack, &spec)).bucket_versioning.is_some(), "the bucket must survive the refusal");

    // 6. Destroy: refused without consent, then everything tagged with the pipeline is gone.
    let refused = pipectl(stack, &["destroy", "-f", &file, "--auto-approve"]).expect(1);
    assert!(refused.stderr.contains("Nothing was changed"), "{}", refused.stderr);
    let run = pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    assert!(
        run.stdout.contains("Destroy complete! Resources: 0 added, 0 changed, 0 replaced, 11 destroyed."),
        "{}",
        run.stdout
    );
    // Nothing of any kind the pipeline can create remains, every list read to its last page…
    let left = runtime.block_on(remains(stack, &spec.pipeline, std::slice::from_ref(&spec.bucket)));
    assert_eq!(left, Vec::<String>::new(), "destroy left resources of {} behind", spec.pipeline);
    // … and the plan agrees: it would create the whole spec again, not an empty plan.
    let plan = pipectl(stack, &["plan", "-f", &file, "--output", "json", "--detailed-exitcode"]).expect(2).json();
    assert_eq!(
        plan_actions(&plan),
        [
            format!("internet_gateway/{}", spec.pipeline),
            "route_table/private-a".to_string(),
            "route_table/private-b".to_string(),
            "route_table/public".to_string(),
            "security_group/spark".to_string(),
            format!("stream/{}", spec.stream),
            "subnet/private-a".to_string(),
            "subnet/private-b".to_string(),
            "subnet/public-a".to_string(),
            format!("vpc/{}", spec.pipeline),
        ]
        .map(|resource| (resource, "create".to_string())),
        "{}",
        plan
    );
}

on_both_stacks!(lifecycle);

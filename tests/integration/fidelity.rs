//! Fidelity: the reference pipeline's whole lifecycle, on both stacks, through pipectl-proxy in
//! fidelity mode — a test stack that answers the way AWS does where the emulators are lenient
//! (EMR's `s3n://` log URIs, IAM roles that are not usable for seconds after they are created,
//! network deletes that meet `DependencyViolation` after a cluster terminates, buckets of other
//! regions that redirect; see `tools/pipectl-proxy` and `localstack/README.md`).
//!
//! apply → plan empty → `scale --nodes 20` → plan empty → `scale --reset` → plan empty →
//! `run nightly` → destroy → nothing tagged with the pipeline remains, and a plan right after
//! (while the tag index still lists what was deleted) creates everything and destroys nothing.
//! With the eventual-consistency family on: fresh EC2 ids not found for 2 s, the tag index
//! lagging 30 s behind tags and deletes, EMR's two answers for a fresh instance profile. After apply, the emulator must also hold
//! what AWS requires of an EMR cluster in a private subnet (issue 10): a NAT gateway or an S3
//! gateway endpoint routed from the cluster's subnet, EMR-managed security groups that belong to
//! the pipeline, and the `for-use-with-amazon-emr-managed-policies` tag on cluster and VPC.

use std::time::Duration;

use pipectl::aws::{clients, AwsOptions};

use crate::proxy::StackProxy;
use crate::support::{repo_path, run_with_env, runtime, Scratch, Stack, REGION};

/// How long the proxy keeps a new role unusable (long enough that the cluster's `RunJobFlow`,
/// after the network that `fresh-ec2-ids` slows, still meets its fresh instance profile), and
/// network deletes refused after a terminate.
const IAM_PROPAGATION_SECS: &str = "20";
const DEPENDENCY_SECS: &str = "15";
/// How long fresh EC2 ids are not found (and a new table not described), and how long the tag
/// index lags behind tags and deletes.
const CONSISTENCY_SECS: &str = "2";
const INDEX_LAG_SECS: &str = "30";

/// The rules the reference lifecycle must meet on `stack` (each answered or rewrote at least
/// once). `tag-index-lag` only where the emulator's tag index lists something to hold back (moto
/// indexes buckets and deliveries, LocalStack nothing). `fresh-table` is met by
/// `consistency.rs`: the shared emulators' us-east-1 lock table exists already, and deleting it
/// under other runs is not an option.
fn rules_met(stack: Stack) -> Vec<&'static str> {
    let mut rules = vec![
        "log-uri-s3n",
        "fresh-iam",
        "fresh-profile-authorize",
        "dependency-violation",
        "bucket-region-redirect",
        "fresh-ec2-ids",
        "deleted-still-listed",
    ];
    if stack == Stack::Moto {
        rules.push("tag-index-lag");
    }
    rules
}

/// The rules that refuse what pipectl must never send; the lifecycle must not meet them.
const NEVER_MET: [&str; 4] = ["kinesis-tag-limit", "role-path", "emr-group-minimums", "apigateway-integration-role"];

/// The region of the bucket that must answer `301 PermanentRedirect`.
const OTHER_REGION: &str = "eu-west-1";

/// The tag EMR's managed service policy `AmazonEMRServicePolicy_v2` requires on the resources
/// EMR uses ("Service role for Amazon EMR (EMR role)", Amazon EMR Management Guide).
const EMR_MANAGED_TAG: (&str, &str) = ("for-use-with-amazon-emr-managed-policies", "true");

/// pipectl-proxy in fidelity mode in front of a whole stack, stopped on drop.
fn fidelity_proxy(stack: Stack) -> StackProxy {
    StackProxy::start(
        stack,
        &[
            "--fidelity",
            "--iam-propagation-secs",
            IAM_PROPAGATION_SECS,
            "--dependency-secs",
            DEPENDENCY_SECS,
            "--consistency-secs",
            CONSISTENCY_SECS,
            "--index-lag-secs",
            INDEX_LAG_SECS,
        ],
    )
}

/// The reference example (`examples/clickstream.yaml`, as it is now) with every name made
/// unique to this run, and its night batch 12 hours away (`run nightly` is part of the lifecycle).
fn reference_spec(scratch: &Scratch, stack: Stack) -> (String, String) {
    let example = std::fs::read_to_string(repo_path("examples/clickstream.yaml")).expect("example");
    let pipeline = crate::support::unique("fid", stack).replace('-', "").chars().take(14).collect::<String>();
    let example = crate::support::nightly_away_from_now(&example.replace("clickstream", &pipeline));
    (scratch.write(&format!("{pipeline}.yaml"), &example), pipeline)
}

/// SDK clients that go through the proxy, signed for `region`.
pub async fn clients_through(proxy: &StackProxy, region: &str) -> pipectl::aws::Clients {
    let options = AwsOptions {
        profile: None,
        region: region.to_string(),
        endpoint_url: Some(proxy.url.clone()),
        localstack: true,
        connect_timeout: Duration::from_secs(3),
        read_timeout: Duration::from_secs(30),
        max_attempts: 3,
        max_in_flight: 16,
    };
    clients(&options, &pipectl::aws::calls::CallCounter::default()).await
}

/// A bucket in another region, created through the proxy so that it knows where the bucket is:
/// pipectl meets it in `ListBuckets` on every plan, and AWS answers its `GetBucketTagging` with
/// `301 PermanentRedirect`.
async fn create_bucket_elsewhere(proxy: &StackProxy, name: &str) {
    let far = clients_through(proxy, OTHER_REGION).await;
    let configuration = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(OTHER_REGION))
        .build();
    far.s3.create_bucket().bucket(name).create_bucket_configuration(configuration).send().await.expect("far bucket");
}

async fn delete_bucket_elsewhere(proxy: &StackProxy, name: &str) {
    let far = clients_through(proxy, OTHER_REGION).await;
    let _ = far.s3.delete_bucket().bucket(name).send().await;
}

fn ec2_tag_filter(pipeline: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder().name("tag:pipectl:pipeline").values(pipeline).build()
}

fn ec2_filter(name: &str, value: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder().name(name).values(value).build()
}

/// What AWS requires of the reference pipeline's cluster, read back from the emulator; every
/// shortfall, not only the first.
async fn deployable_on_aws(stack: Stack, pipeline: &str) -> Vec<String> {
    let clients = stack.clients().await;
    let mut problems = Vec::new();
    let clusters =
        pipectl::resources::cluster::list_active(&clients.emr, &format!("{pipeline}-")).await.expect("ListClusters");
    let [(cluster_id, _)] = clusters.as_slice() else {
        return vec![format!("expected one active cluster of {pipeline}, found {clusters:?}")];
    };
    let cluster = clients.emr.describe_cluster().cluster_id(cluster_id).send().await.expect("DescribeCluster");
    let cluster = cluster.cluster().expect("cluster");
    let has_emr_tag = |tags: Vec<(String, String)>| {
        tags.iter().any(|(key, value)| key == EMR_MANAGED_TAG.0 && value == EMR_MANAGED_TAG.1)
    };
    let cluster_tags = cluster.tags().iter().map(|t| (t.key().unwrap_or("").into(), t.value().unwrap_or("").into()));
    if !has_emr_tag(cluster_tags.collect()) {
        problems.push(format!("the cluster lacks the tag {}={}", EMR_MANAGED_TAG.0, EMR_MANAGED_TAG.1));
    }
    let ec2 = &clients.ec2;
    let vpcs = ec2.describe_vpcs().filters(ec2_tag_filter(pipeline)).send().await.expect("vpcs");
    match vpcs.vpcs() {
        [vpc] => {
            let tags = vpc.tags().iter().map(|t| (t.key().unwrap_or("").into(), t.value().unwrap_or("").into()));
            if !has_emr_tag(tags.collect()) {
                problems.push(format!("the VPC lacks the tag {}={}", EMR_MANAGED_TAG.0, EMR_MANAGED_TAG.1));
            }
        }
        other => problems.push(format!("expected one VPC tagged with the pipeline, found {}", other.len())),
    }
    let attributes = cluster.ec2_instance_attributes();
    let subnet = attributes.and_then(|a| a.ec2_subnet_id()).unwrap_or_default().to_string();
    // The cluster's subnet reaches S3: a default route to a NAT gateway, or an S3 gateway
    // endpoint on its route table ("Configure networking in a VPC for Amazon EMR").
    let tables = ec2
        .describe_route_tables()
        .filters(ec2_filter("association.subnet-id", &subnet))
        .send()
        .await
        .expect("route tables");
    let table_ids: Vec<String> =
        tables.route_tables().iter().filter_map(|t| t.route_table_id()).map(str::to_string).collect();
    let via_nat = tables.route_tables().iter().flat_map(|t| t.routes()).any(|route| {
        route.destination_cidr_block() == Some("0.0.0.0/0") && route.nat_gateway_id().is_some_and(|id| !id.is_empty())
    });
    let endpoints = ec2.describe_vpc_endpoints().send().await.expect("vpc endpoints");
    let via_endpoint = endpoints.vpc_endpoints().iter().any(|endpoint| {
        endpoint.service_name().is_some_and(|name| name.ends_with(".s3"))
            && endpoint.route_table_ids().iter().any(|id| table_ids.contains(id))
    });
    if !via_nat && !via_endpoint {
        problems.push(format!(
            "the cluster's subnet {subnet:?} (route tables {table_ids:?}) has neither a 0.0.0.0/0 route to a NAT gateway nor an S3 gateway endpoint"
        ));
    }
    // EMR-managed security groups that pipectl created and tagged, so destroy can remove them.
    let managed = [
        ("master", attributes.and_then(|a| a.emr_managed_master_security_group())),
        ("core/task", attributes.and_then(|a| a.emr_managed_slave_security_group())),
        ("service access", attributes.and_then(|a| a.service_access_security_group())),
    ];
    for (role, group) in managed {
        let Some(group) = group.filter(|group| !group.is_empty()) else {
            problems.push(format!("RunJobFlow was given no EMR-managed {role} security group"));
            continue;
        };
        let found = ec2
            .describe_security_groups()
            .filters(ec2_filter("group-id", group))
            .filters(ec2_tag_filter(pipeline))
            .send()
            .await
            .expect("security groups");
        if found.security_groups().is_empty() {
            problems.push(format!("the EMR-managed {role} security group {group} is not tagged as the pipeline's"));
        }
    }
    problems
}

/// The spec's bucket names, as the example names them.
fn spec_buckets(file: &str) -> Vec<String> {
    let spec = std::fs::read_to_string(file).expect("spec");
    let spec: serde_json::Value = serde_saphyr::from_str(&spec).expect("spec parses");
    spec["buckets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|bucket| bucket["name"].as_str().map(str::to_string))
        .collect()
}

fn plan_is_empty(proxy: &StackProxy, file: &str, after: &str) {
    let run = proxy.pipectl(&["plan", "-f", file, "--detailed-exitcode"]);
    assert_eq!(
        run.code, 0,
        "the plan after {after} is not empty through the fidelity proxy (exit {}):\n--- stdout\n{}\n--- stderr\n{}",
        run.code, run.stdout, run.stderr
    );
}

/// The rules that answered or rewrote at least once (`rule service:Operation` → count).
fn fired(stats: &serde_json::Value) -> Vec<String> {
    stats["fidelity"].as_object().into_iter().flatten().map(|(key, count)| format!("{key} ×{count}")).collect()
}

fn reference_example_through_the_fidelity_proxy(stack: Stack) {
    require!(stack);
    let scratch = Scratch::new(&format!("fidelity-{}", stack.tag()));
    let (file, pipeline) = reference_spec(&scratch, stack);
    let buckets = spec_buckets(&file);
    let proxy = fidelity_proxy(stack);
    let far_bucket = format!("{pipeline}-far");
    runtime().block_on(create_bucket_elsewhere(&proxy, &far_bucket));

    let run = |args: &[&str], what: &str| {
        let run = proxy.pipectl(args);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        assert_eq!(
            run.code,
            0,
            "`pipectl {what}` failed through the fidelity proxy (rules fired: {:?}):\n--- stdout\n{}\n--- stderr\n{}",
            fired(&proxy.stats()),
            run.stdout,
            run.stderr
        );
        run
    };
    run(&["apply", "-f", &file, "--auto-approve"], "apply");
    let problems = runtime().block_on(deployable_on_aws(stack, &pipeline));
    plan_is_empty(&proxy, &file, "apply");
    run(&["scale", "--nodes", "20", "-f", &file], "scale --nodes 20");
    plan_is_empty(&proxy, &file, "scale --nodes 20");
    run(&["scale", "--reset", "-f", &file], "scale --reset");
    plan_is_empty(&proxy, &file, "scale --reset");
    run(&["run", "nightly", "-f", &file], "run nightly");
    run(&["destroy", "-f", &file, "--auto-approve", "--allow-destroy"], "destroy");
    // The tag index still lists what destroy deleted: a plan must read those names, find them
    // gone, and plan to create the whole spec, destroying nothing.
    let after = proxy.pipectl(&["plan", "-f", &file, "--output", "json", "--detailed-exitcode"]);
    assert_eq!(after.code, 2, "the plan after destroy:\n{}\n{}", after.stdout, after.stderr);
    let summary = &after.json()["summary"];
    assert_eq!((summary["change"].as_u64(), summary["destroy"].as_u64()), (Some(0), Some(0)), "{summary}");
    let stats = proxy.stats();
    // The far bucket is the test's own, named like the pipeline's: it goes before the count.
    runtime().block_on(delete_bucket_elsewhere(&proxy, &far_bucket));
    let left = runtime().block_on(crate::remains::remains(stack, &pipeline, &buckets));
    eprintln!("{stack:?}: fidelity rules fired: {:?}", fired(&stats));
    assert!(left.is_empty(), "destroy left resources of {pipeline} behind: {left:#?}");
    assert!(problems.is_empty(), "after apply, the cluster is not what AWS requires: {problems:#?}");
    // Each rule met the lifecycle at least once, or this test did not test it; the guards never.
    for rule in rules_met(stack) {
        assert!(
            fired(&stats).iter().any(|entry| entry.starts_with(&format!("{rule} "))),
            "the fidelity rule {rule} never applied in the lifecycle: {stats}"
        );
    }
    for rule in NEVER_MET {
        assert!(
            !fired(&stats).iter().any(|entry| entry.starts_with(&format!("{rule} "))),
            "pipectl sent what AWS refuses ({rule}): {stats}"
        );
    }
    // The job's state machine was created with a role made moments before: AWS refuses that
    // until IAM has propagated it, and apply waited it out.
    assert!(
        fired(&stats).iter().any(|entry| entry.starts_with("fresh-iam states:CreateStateMachine")),
        "the job's state machine never met a fresh role: {stats}"
    );
}

on_both_stacks!(reference_example_through_the_fidelity_proxy);

/// The opt-in real-AWS suite cannot run here, but its spec must stay valid as the spec evolves:
/// fill it in the way `tests/real-aws/run.sh` does, with and without the EMR cluster.
#[test]
fn the_real_aws_suites_spec_is_valid() {
    let scratch = Scratch::new("real-aws-spec");
    let template = std::fs::read_to_string(repo_path("tests/real-aws/pipeline.yaml")).expect("pipeline.yaml");
    let cluster = std::fs::read_to_string(repo_path("tests/real-aws/cluster.yaml")).expect("cluster.yaml");
    let fill = |text: &str| {
        text.replace("@PIPELINE@", "rt01020304abcd")
            .replace("@BUCKET@", "rt01020304abcd-lake-123456789012")
            .replace("@REGION@", REGION)
            .replace("@AZ@", "us-east-1a")
            .replace("@EMR_TYPE@", "m5.xlarge")
    };
    for (name, text) in [("small", fill(&template)), ("with-emr", fill(&format!("{template}{cluster}")))] {
        assert!(!text.contains('@'), "a placeholder run.sh does not fill: {text}");
        let file = scratch.write(&format!("{name}.yaml"), &text);
        let run = run_with_env(&["validate", "-f", &file], &[]);
        assert_eq!(run.code, 0, "tests/real-aws spec ({name}) is not valid:\n{}\n{}", run.stdout, run.stderr);
    }
}

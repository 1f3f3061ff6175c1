//! `pipectl permissions` against what pipectl really calls: a whole lifecycle of the reference
//! example (apply, plan, scale out and back, a job run and its listing, destroy) through
//! pipectl-proxy, which records every request independently of pipectl (`--record`). Each
//! recorded call becomes the IAM requests it needs — action, resource ARN, condition keys
//! (`requests.rs`) — and each must be allowed by the printed policy *as scoped*, evaluated the way
//! IAM does (`pipectl::iam::evaluate`); the same calls on another pipeline's names must be refused.
//! The policies also lint clean with parliament.

use std::collections::BTreeSet;

use pipectl::iam::evaluate::{allowed, Request};

use crate::requests::{Mapped, RecordingProxy, Requests, UNSCOPED};
use crate::support::{must_run, pipectl, repo_path, run_with_env, skipped, unique, Scratch, Stack};

/// `service:Operation` of every request a run made, from its `-v` summary line.
fn operations(stderr: &str) -> Vec<(String, String)> {
    let Some(line) = stderr.lines().find(|line| line.contains(" AWS requests: ")) else { return Vec::new() };
    let list = line.split(" AWS requests: ").nth(1).unwrap_or_default();
    list.split(", ")
        .filter_map(|entry| entry.rsplit_once(' ').map(|(name, _count)| name))
        .filter_map(|name| name.split_once(':'))
        .map(|(service, operation)| (service.to_string(), operation.to_string()))
        .collect()
}

/// The request with `pipeline` replaced by `other` in its resource and condition values: the same
/// call made by (or on) the other pipeline.
fn on_other_pipeline(request: &Request, pipeline: &str, other: &str) -> Request {
    let swap = |text: &String| text.replace(pipeline, other);
    let mut swapped = Request::new(&request.action, &swap(&request.resource));
    swapped.context =
        request.context.iter().map(|(key, values)| (key.clone(), values.iter().map(swap).collect())).collect();
    swapped
}

fn describe(mapped: &Mapped, request: &Request) -> String {
    format!("{}: {} on {} with {:?}", mapped.label, request.action, request.resource, request.context)
}

/// The reference example as pipeline `pipeline`, with the job twelve hours from now so that
/// `run` now does not collide with its window.
fn lifecycle_spec(scratch: &Scratch, pipeline: &str) -> String {
    let example = std::fs::read_to_string(repo_path("examples/clickstream.yaml")).expect("example");
    let example = crate::support::nightly_away_from_now(&example.replace("clickstream", pipeline));
    scratch.write("perm.yaml", &example)
}

/// Reads the policy may deny, on resources that are not the pipeline's (their names do not hold
/// it), each with why pipectl does not need them allowed.
const TOLERATED_DENIALS: &[(&str, &str)] = &[
    (
        "s3:GetBucketTagging",
        "pipectl reads every bucket's tags to find its own; S3 cannot scope that by tag, and an \
         AccessDenied reads as a bucket that is not the pipeline's (`ownership` in src/resources/bucket/mod.rs)",
    ),
    (
        "s3:GetBucketLocation",
        "read with the tags of every bucket pipectl inspects, so that a bucket of another region is          never taken as this region's; an AccessDenied reads as a bucket that is not the pipeline's          (`ownership` in src/resources/bucket/mod.rs)",
    ),
    (
        "kinesis:ListTagsForStream",
        "made only where the endpoint's tag index does not list streams (the emulators): pipectl then \
         reads every stream's tags; against AWS, tag:GetResources names the pipeline's streams",
    ),
    (
        "firehose:ListTagsForDeliveryStream",
        "as kinesis:ListTagsForStream: only where the tag index does not list delivery streams",
    ),
];

/// Calls on another pipeline's names the policy still allows today, by action prefix: findings of
/// issue 21 not closed yet (docs/deployer-policy.md says why). Each entry must still be needed (the test fails
/// on a stale one), so the list shrinks as the policy is fixed.
const KNOWN_REACH: &[(&str, &str)] = &[
    ("cloudwatch:", "issue 21 item 7: alarms are granted by the name prefix `pipectl-<pipeline>-*`"),
    ("scheduler:", "issue 21 item 7: schedules are granted by the name prefix `pipectl-<pipeline>-*`"),
    ("states:", "issue 21 item 7: state machines are granted by the name prefix `pipectl-<pipeline>-*`"),
    (
        "elasticmapreduce:",
        "EMR cluster reads (DescribeCluster, ListInstanceGroups, GetAutoTerminationPolicy, \
         GetManagedScalingPolicy, ListBootstrapActions) are granted on every cluster with no tag \
         condition: discovery reads each cluster's tags through DescribeCluster, the others need not",
    ),
];

#[test]
fn the_printed_policy_allows_every_call_of_a_lifecycle() {
    let stack = Stack::Moto;
    require!(stack);
    let scratch = Scratch::new("permissions");
    let pipeline = unique("perm", stack).replace('-', "").chars().take(14).collect::<String>();
    let file = lifecycle_spec(&scratch, &pipeline);
    let runs = [
        vec!["apply", "-f", &file, "--auto-approve", "-v"],
        vec!["plan", "-f", &file, "-v"],
        vec!["scale", "--nodes", "3", "-f", &file, "-v"],
        vec!["scale", "--reset", "-f", &file, "-v"],
        vec!["run", "nightly", "-f", &file, "-v"],
        vec!["runs", "-f", &file, "-v"],
        vec!["run", "nightly", "--stop", "--auto-approve", "-f", &file, "-v"],
        vec!["destroy", "-f", &file, "--auto-approve", "--allow-destroy", "-v"],
    ];
    let (policy, mapped, known_used) = every_call_is_allowed(stack, &scratch, &pipeline, &file, &runs, 30);
    let stale: Vec<&str> =
        KNOWN_REACH.iter().map(|(action, _)| *action).filter(|action| !known_used.contains(action)).collect();
    assert!(stale.is_empty(), "KNOWN_REACH entries the policy no longer needs (remove them): {stale:?}");
    let plan_only: serde_json::Value =
        serde_json::from_str(&pipectl(stack, &["permissions", "-f", &file, "--for", "plan"]).expect(0).stdout)
            .expect("plan policy JSON");
    let create = mapped.iter().flat_map(|call| &call.requests).find(|request| request.action == "kinesis:CreateStream");
    let create = create.expect("the lifecycle created a stream");
    assert!(allowed(&policy, create) && !allowed(&plan_only, create), "the plan policy only reads");
}

/// The front door with API keys, access logs and a domain (`examples/front-door.yaml`): every API Gateway
/// and CloudWatch Logs call its apply, plan and destroy make is allowed by the printed policy,
/// on the pipeline's own API, usage plan, key and log group only.
#[test]
fn the_printed_policy_allows_every_call_of_the_front_door() {
    let stack = Stack::Moto;
    require!(stack);
    let scratch = Scratch::new("permissions-front-door");
    let pipeline = unique("pfd", stack).replace('-', "").chars().take(14).collect::<String>();
    let certificate = "arn:aws:acm:us-east-1:123456789012:certificate/1234abcd-12ab-34cd-56ef-1234567890ab";
    let options = format!("  access_logs: {{retention_days: 14}}\n  api_keys: {{quota: {{limit: 1000, period: day}}}}\n  domain: {{name: {pipeline}.example.com, certificate_arn: '{certificate}'}}\n  routes:");
    let example = crate::ingest::front_door(&pipeline).replace("  routes:", &options);
    let file = scratch.write("front-door.yaml", &example);
    // Access logs need the region's logging role of the account, set by an administrator.
    crate::ingest::the_account_logging_role_is_set_by_an_administrator(stack);
    let runs = [
        vec!["apply", "-f", &file, "--auto-approve", "-v"],
        vec!["plan", "-f", &file, "-v"],
        vec!["destroy", "-f", &file, "--auto-approve", "--allow-destroy", "-v"],
    ];
    let (_, mapped, _) = every_call_is_allowed(stack, &scratch, &pipeline, &file, &runs, 20);
    let labels: BTreeSet<&str> = mapped.iter().map(|call| call.label.as_str()).collect();
    for expected in ["logs:CreateLogGroup", "logs:DeleteLogGroup"] {
        assert!(labels.contains(expected), "the lifecycle made no {expected}: {labels:?}");
    }
    assert!(
        labels.iter().any(|label| label.starts_with("apigateway:PUT /restapis/")),
        "no integration put: {labels:?}"
    );
}

/// The warehouse (`examples/warehouse.yaml`): every Redshift, Secrets Manager and Data API call
/// its apply, resize, plan and destroy make is allowed by the printed policy, on the pipeline's
/// own cluster, subnet group and secret only.
#[test]
fn the_printed_policy_allows_every_call_of_the_warehouse() {
    let stack = Stack::Moto;
    require!(stack);
    let scratch = Scratch::new("permissions-warehouse");
    // Without `-`, as the front door's: the Glue database is the pipeline's name with `_` for `-`.
    let pipeline = unique("pwh", stack).replace('-', "").chars().take(14).collect::<String>();
    let file = scratch.write("warehouse.yaml", &crate::warehouse::warehouse_example(&pipeline));
    let resized =
        scratch.write("resized.yaml", &crate::warehouse::warehouse_example(&pipeline).replace("nodes: 1", "nodes: 2"));
    let runs = [
        vec!["apply", "-f", &file, "--auto-approve", "-v"],
        vec!["apply", "-f", &resized, "--auto-approve", "-v"],
        vec!["plan", "-f", &resized, "-v"],
        vec!["destroy", "-f", &resized, "--auto-approve", "--allow-destroy", "-v"],
    ];
    let (_, mapped, _) = every_call_is_allowed(stack, &scratch, &pipeline, &file, &runs, 15);
    let labels: BTreeSet<&str> = mapped.iter().map(|call| call.label.as_str()).collect();
    for expected in [
        "redshift:CreateCluster",
        "redshift:ModifyCluster",
        "redshift:DeleteCluster",
        "redshift:CreateClusterSubnetGroup",
        "secretsmanager:CreateSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DeleteSecret",
        "redshift-data:ExecuteStatement",
    ] {
        assert!(labels.contains(expected), "the lifecycle made no {expected}: {labels:?}");
    }
}

/// Runs `runs` (pipectl commands on `file`, `-v`) through a recording proxy, maps every request to
/// the IAM requests it needs, and checks that the printed policy allows each one and none on
/// another pipeline's names (but those `KNOWN_REACH` lists); returns the policy, the mapped calls
/// and the `KNOWN_REACH` entries the runs needed.
fn every_call_is_allowed(
    stack: Stack,
    scratch: &Scratch,
    pipeline: &str,
    file: &str,
    runs: &[Vec<&str>],
    least_kinds: usize,
) -> (serde_json::Value, Vec<Mapped>, BTreeSet<&'static str>) {
    let pipeline = pipeline.to_string();
    let file = file.to_string();
    let proxy = RecordingProxy::start(&stack.endpoint(), scratch.dir.join("calls.jsonl"));
    let env: Vec<(&str, String)> = stack
        .env()
        .into_iter()
        .map(|(key, value)| if key == "AWS_ENDPOINT_URL" { (key, proxy.url.clone()) } else { (key, value) })
        .collect();
    let mut seen = BTreeSet::new();
    let mut recorded = 0;
    for args in runs {
        let run = run_with_env(args, &env).expect(0);
        let operations = operations(&run.stderr);
        assert!(!operations.is_empty(), "`pipectl {}` printed no request summary:\n{}", args.join(" "), run.stderr);
        let now = proxy.lines().len();
        assert!(now > recorded, "the proxy recorded no request of `pipectl {}`", args.join(" "));
        recorded = now;
        seen.extend(operations);
    }
    assert!(seen.len() > least_kinds, "the lifecycle made too few kinds of calls to prove anything: {seen:?}");
    let unknown_to_pipectl: Vec<String> = seen
        .iter()
        .filter(|(service, operation)| pipectl::iam::deployer::action_for(service, operation).is_none())
        .map(|(service, operation)| format!("{service}:{operation}"))
        .collect();
    assert!(unknown_to_pipectl.is_empty(), "operations `action_for` does not know: {unknown_to_pipectl:?}");

    let policy: serde_json::Value =
        serde_json::from_str(&pipectl(stack, &["permissions", "-f", &file]).expect(0).stdout).expect("policy JSON");
    let lines = proxy.lines();
    let account = lines
        .iter()
        .find(|line| line["operation"] == "GetCallerIdentity")
        .and_then(|line| line["response"].as_str()?.split("<Account>").nth(1)?.split('<').next().map(str::to_string))
        .expect("pipectl asked STS for the account");
    let mut requests = Requests::new(&account, &lines);
    let (mut unmapped, mut mapped) = (Vec::new(), Vec::new());
    for line in &lines {
        match requests.map(line) {
            Ok(call) => mapped.push(call),
            Err(why) => unmapped.push(why),
        }
    }
    unmapped.sort();
    unmapped.dedup();
    assert!(unmapped.is_empty(), "calls the IAM mapping does not know:\n{}", unmapped.join("\n"));
    let mut denied = BTreeSet::new();
    let mut reached = BTreeSet::new();
    let mut known_used = BTreeSet::new();
    let other = format!("{pipeline}-b");
    for call in &mapped {
        let listed = UNSCOPED.iter().any(|(label, _why)| *label == call.label);
        assert!(listed || !call.requests.is_empty(), "{} maps to no IAM request", call.label);
        for request in &call.requests {
            let tolerated = TOLERATED_DENIALS.iter().any(|(action, _why)| *action == request.action)
                && !request.resource.contains(&pipeline);
            if !allowed(&policy, request) && !tolerated {
                denied.insert(describe(call, request));
            }
        }
        // The same call on the other pipeline's names is refused when IAM denies any one of the
        // requests it needs.
        let theirs: Vec<Request> =
            call.requests.iter().map(|request| on_other_pipeline(request, &pipeline, &other)).collect();
        if theirs != call.requests && theirs.iter().all(|request| allowed(&policy, request)) {
            let known =
                KNOWN_REACH.iter().find(|(action, _why)| call.requests.iter().any(|r| r.action.starts_with(action)));
            match known {
                Some((action, _why)) => {
                    known_used.insert(*action);
                }
                None => {
                    reached.insert(theirs.iter().map(|request| describe(call, request)).collect::<Vec<_>>().join("; "));
                }
            }
        }
    }
    let list = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join("\n");
    assert!(denied.is_empty(), "the printed policy denies {} calls of the lifecycle:\n{}", denied.len(), list(&denied));
    assert!(
        reached.is_empty(),
        "the printed policy allows {} calls on pipeline {other}'s names:\n{}",
        reached.len(),
        list(&reached)
    );

    (policy, mapped, known_used)
}

/// Findings parliament 1.6.4 raises from its own outdated action table, each with the row of AWS's
/// Service Authorization Reference ("Actions, resources, and condition keys for …", the
/// "Actions defined by …" table) that shows it wrong today; every other finding fails the test.
/// (No entry for `glue:CreateCrawler`: the reference lists no resource type for it, so the policy
/// must grant it on `*`, and parliament's finding on an ARN-scoped grant was right.)
const KNOWN_LINTER_ERRORS: &[(&str, &[&str], &str)] = &[
    (
        "RESOURCE_MISMATCH",
        &["kinesis:UpdateShardCount", "kinesis:UpdateStreamMode"],
        "Service Authorization Reference, Amazon Kinesis Data Streams, rows UpdateShardCount and \
         UpdateStreamMode: resource type `stream*` (parliament's table lists none); the policy scopes \
         them to the spec's streams",
    ),
    (
        "RESOURCE_MISMATCH",
        &["athena:TagResource", "athena:UntagResource", "athena:ListTagsForResource"],
        "Service Authorization Reference, Amazon Athena, rows TagResource, UntagResource and \
         ListTagsForResource: resource types `capacity-reservation`, `datacatalog` and `workgroup` \
         (parliament's table lacks `workgroup`; \"TagResource\", Athena API Reference: \"categorize \
         Athena workgroups, data catalogs, or capacity reservations\"); the policy scopes them to the \
         pipeline's workgroup",
    ),
    (
        "RESOURCE_MISMATCH",
        &["states:ListExecutions", "states:DescribeExecution"],
        "Service Authorization Reference, AWS Step Functions, rows ListExecutions (resource types \
         `mapRun` and `stateMachine`) and DescribeExecution (`execution` and `express`); parliament's \
         table gives ListExecutions only `mapRun` and DescribeExecution only `express`; the policy \
         scopes them to the pipeline's state machines and their executions",
    ),
];

/// Findings parliament is right about that the policy accepts, each with why it cannot be closed.
const ACCEPTED_FINDINGS: &[(&str, &str, &str)] = &[(
    "RESOURCE_POLICY_PRIVILEGE_ESCALATION",
    "allow s3:PutBucketPolicy",
    "pipectl writes each spec bucket's policy (its TLS-only deny statement, merged into the user's \
     statements); IAM has no condition key on a bucket policy's content, so a principal that may \
     write it may grant object access through it (docs/deployer-policy.md, ChangeBuckets)",
)];

/// parliament's answer on one policy: its findings (one JSON object a line on stdout). It must
/// have run to the end: exit 0 with no finding, or exit 1 with at least one (parliament's
/// `main`), and no Python traceback on stderr; anything else fails the test, so a crash can never
/// read as "no findings".
fn parliament_findings(parliament: &str, policy: &str, what: &str) -> Vec<serde_json::Value> {
    let output = std::process::Command::new(parliament)
        .args(["--json", "--string", policy])
        .env("PYTHONWARNINGS", "ignore")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("parliament ({parliament}) does not run: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("Traceback"), "parliament crashed on {what}:\n{stderr}");
    let findings: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|_| panic!("not a JSON finding from parliament on {what}: {line}"))
        })
        .collect();
    let expected = if findings.is_empty() { 0 } else { 1 };
    assert_eq!(
        output.status.code(),
        Some(expected),
        "parliament's exit status on {what} does not match its {} findings\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        findings.len()
    );
    findings
}

/// The policies `pipectl permissions` prints for every example and template, for everything, `--for
/// plan` and `--for verify`, lint clean with parliament (an independent IAM linter from PyPI that tests/run.sh
/// installs; `PIPECTL_PARLIAMENT` is its path). A deliberately bad policy must raise findings
/// first, so a parliament that runs but checks nothing fails too.
#[test]
fn the_printed_policies_lint_clean_with_parliament() {
    let Ok(parliament) = std::env::var("PIPECTL_PARLIAMENT") else {
        assert!(
            !must_run(),
            "PIPECTL_PARLIAMENT is not set: run the suite with tests/run.sh, which installs parliament"
        );
        return skipped();
    };
    // The canary: an action that does not exist, and an object action on a bucket ARN.
    let canary = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kinesis:MadeUpAction"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::lake"},
    ]});
    let issues: Vec<String> = parliament_findings(&parliament, &canary.to_string(), "the canary policy")
        .iter()
        .map(|finding| finding["issue"].as_str().unwrap_or_default().to_string())
        .collect();
    for issue in ["UNKNOWN_ACTION", "RESOURCE_MISMATCH"] {
        assert!(issues.iter().any(|found| found == issue), "parliament missed {issue} in the canary: {issues:?}");
    }
    let files = crate::support::spec_files();
    assert!(files.len() >= 3, "specs to lint: {files:?}");
    let mut findings = Vec::new();
    for file in &files {
        let file = file.display().to_string();
        for purpose in ["all", "plan", "verify"] {
            let policy = run_with_env(&["permissions", "-f", &file, "--for", purpose], &[]).expect(0).stdout;
            let what = format!("{file} --for {purpose}");
            for finding in parliament_findings(&parliament, &policy, &what) {
                let actions: Vec<&str> = finding["detail"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|detail| detail["action"].as_str())
                    .collect();
                let known = KNOWN_LINTER_ERRORS.iter().any(|(issue, known_actions, _why)| {
                    finding["issue"] == *issue
                        && !actions.is_empty()
                        && actions.iter().all(|action| known_actions.contains(action))
                });
                let accepted = ACCEPTED_FINDINGS.iter().any(|(issue, detail, _why)| {
                    finding["issue"] == *issue && finding["detail"].as_str().is_some_and(|found| found.contains(detail))
                });
                if !known && !accepted {
                    findings.push(format!("{what}: {finding}"));
                }
            }
        }
    }
    assert!(findings.is_empty(), "parliament findings:\n{}", findings.join("\n"));
}

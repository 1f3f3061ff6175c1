//! Guardrails on `pipectl scale` and cost in the plan (issue 14), on both stacks: a size above
//! a group's cap is refused before any AWS request (a resize that passes the cap does make
//! requests, so the absence is meaningful; both counted by pipectl-proxy in front of the stack), a schedule above the cap does not validate, and
//! `plan` prices what it creates from the offline table, saying "no price" where it has none and
//! naming what its total leaves out, and prices a reshard of what exists.

use std::collections::BTreeMap;

use crate::proxy::StackProxy;
use crate::support::{pipectl, unique, Scratch, Stack};

fn spec(pipeline: &str, schedule_nodes: i64) -> String {
    format!(
        "version: 1
pipeline: {pipeline}
region: us-east-1
network:
  vpc: {{cidr: 10.30.0.0/16}}
  subnets:
    - {{name: a, cidr: 10.30.0.0/24, availability_zone: us-east-1a}}
  endpoints: [s3]
streams:
  - {{name: {pipeline}-events, shards: 2}}
clusters:
  - name: spark
    release: emr-7.2.0
    applications: [Spark]
    subnet: a
    master: {{type: m5.xlarge}}
    core: {{type: m5.xlarge, nodes: 2}}
    task_groups: [{{name: batch, type: m5.xlarge, nodes: 0}}]
    schedules:
      - {{name: night, cron: '0 2 * * *', timezone: Asia/Seoul, group: batch, nodes: {schedule_nodes}, for: 4h}}
"
    )
}

fn scale_refuses_sizes_above_the_cap_before_any_request(stack: Stack) {
    require!(stack);
    let p = unique("guard", stack);
    let scratch = Scratch::new("guardrails");
    let file = scratch.write("spec.yaml", &spec(&p, 20));

    // Every run goes through the proxy, which counts what reaches the emulators: an independent
    // count, not pipectl's own `-v` summary.
    let proxy = StackProxy::start(stack, &[]);
    let scale = |args: &[&str]| {
        proxy.reset();
        let run = proxy.pipectl(args).expect(1);
        (run, proxy.requests())
    };

    // Within the cap, scale goes to AWS (and stops there: the cluster is not running). This is
    // what `-v` reports when requests are made.
    let (within, requests) = scale(&["scale", "--nodes", "20", "-v", "-f", &file]);
    assert!(within.stderr.contains("is not running"), "{}", within.stderr);
    assert!(within.stderr.contains("AWS requests:") && within.stderr.contains("ListClusters"), "{}", within.stderr);
    assert!(requests.get("elasticmapreduce:ListClusters").is_some_and(|n| *n >= 1), "{requests:?}");
    assert!(!requests.contains_key("elasticmapreduce:ModifyInstanceGroups"), "{requests:?}");

    // 100000 (and the 2000 typo of 20) are refused with the cap, the cost and the field to raise,
    // and not one request: no ListClusters, let alone ModifyInstanceGroups.
    for nodes in ["100000", "2000"] {
        let (refused, requests) = scale(&["scale", "--nodes", nodes, "-v", "-f", &file]);
        assert_eq!(requests, BTreeMap::new(), "--nodes {nodes}: the proxy saw requests");
        for fragment in [
            &format!("--nodes {nodes} is above the default cap (20 = max(4 × 0, 20))"),
            "the cap of the task group 'batch' of cluster 'spark'",
            "at that size the group would cost no price (m5.xlarge in us-east-1 is not in pricing/prices.yaml)",
            "raise `clusters[0].task_groups[0].max_nodes` in the spec",
            "nothing was changed",
        ] {
            assert!(refused.stderr.contains(fragment), "expected {fragment:?} in\n{}", refused.stderr);
        }
        assert!(!refused.stderr.contains("AWS requests"), "a request was made:\n{}", refused.stderr);
        assert!(!refused.stderr.contains("ModifyInstanceGroups"), "{}", refused.stderr);
    }

    // Raising the cap in the spec is what lets a larger size through to AWS.
    let raised = scratch.write("raised.yaml", &spec(&p, 20).replace("nodes: 0}", "nodes: 0, max_nodes: 200000}"));
    let (allowed, requests) = scale(&["scale", "--nodes", "100000", "-v", "-f", &raised]);
    assert!(allowed.stderr.contains("is not running") && allowed.stderr.contains("ListClusters"), "{}", allowed.stderr);
    assert!(requests.get("elasticmapreduce:ListClusters").is_some_and(|n| *n >= 1), "{requests:?}");
}
on_both_stacks!(scale_refuses_sizes_above_the_cap_before_any_request);

fn a_schedule_above_the_cap_does_not_validate(stack: Stack) {
    let p = unique("guard", stack);
    let scratch = Scratch::new("guardrails-schedule");
    let file = scratch.write("spec.yaml", &spec(&p, 200));
    let run = pipectl(stack, &["validate", "-f", &file]).expect(1);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("clusters[0].schedules[0].nodes"), "{all}");
    assert!(all.contains("200 nodes exceed the default cap (20 = max(4 × 0, 20)) of the task group 'batch'"), "{all}");
}
on_both_stacks!(a_schedule_above_the_cap_does_not_validate);

fn plan_prices_what_it_creates(stack: Stack) {
    require!(stack);
    let p = unique("guard", stack);
    let scratch = Scratch::new("guardrails-plan");
    let file = scratch.write("spec.yaml", &spec(&p, 20));
    let plan = pipectl(stack, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
    let cost = &plan["cost"];
    assert_eq!(cost["region"], "us-east-1", "{cost}");
    let fixed = cost["fixed"].as_array().expect("fixed lines");
    let line = |resource: &str, item: &str| {
        fixed
            .iter()
            .find(|line| line["resource"] == resource && line["item"].as_str().is_some_and(|i| i.starts_with(item)))
            .unwrap_or_else(|| panic!("no {resource} {item} in {cost}"))
    };
    // 2 provisioned shards at the table's us-east-1 shard-hour (0.015), with its source.
    let shards = line(&format!("stream/{p}-events"), "2 shards");
    assert!((shards["hourly_usd"].as_f64().expect("priced") - 0.03).abs() < 1e-9, "{shards}");
    assert!(shards["figures"][0]["source"].as_str().is_some_and(|s| s.starts_with("https://")), "{shards}");
    // EMR nodes: the table has no m5.xlarge price, so no price, and they are counted as such.
    let core = line("cluster/spark", "core: 2 × m5.xlarge");
    assert!(core["hourly_usd"].is_null(), "{core}");
    assert_eq!(cost["unpriced"], 2, "master and core; the task group of 0 nodes costs nothing: {cost}");
    let (hourly, monthly) = (cost["hourly_usd"].as_f64().unwrap(), cost["monthly_usd"].as_f64().unwrap());
    assert!((hourly - 0.03).abs() < 1e-9 && (monthly - 0.03 * 730.0).abs() < 1e-6, "{cost}");

    let human = pipectl(stack, &["plan", "-f", &file]).expect(0);
    assert!(
        human.stdout.contains(&format!("stream/{p}-events  2 shards (provisioned): $0.0300 per hour")),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("core: 2 × m5.xlarge (EC2 + EMR): no price"), "{}", human.stdout);
    // The total names what it leaves out.
    let excluded = "Fixed: $0.0300 per hour, about $21.90 per month (730 h), excluding 2 items with no price: \
        cluster/spark master: 1 × m5.xlarge (EC2 + EMR); cluster/spark core: 2 × m5.xlarge (EC2 + EMR)";
    assert!(human.stdout.contains(excluded), "{}", human.stdout);
    assert!(!human.stdout.contains("task group 'batch'"), "a group of 0 nodes is no line: {}", human.stdout);
}
on_both_stacks!(plan_prices_what_it_creates);

/// A reshard of a stream that exists (read back from the stack) says what it changes the fixed
/// cost by: 4 → 6 shards at the table's us-east-1 shard-hour (0.015) is +$0.03 per hour.
fn plan_prices_a_reshard(stack: Stack) {
    require!(stack);
    let p = unique("costs-reshard", stack);
    let scratch = Scratch::new("guardrails-reshard");
    let stream = |shards: i64| {
        format!("version: 1\npipeline: {p}\nregion: us-east-1\nstreams:\n  - {{name: {p}-events, shards: {shards}}}\n")
    };
    let file = scratch.write("spec.yaml", &stream(4));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let file = scratch.write("spec.yaml", &stream(6));
    let plan = pipectl(stack, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
    let changes = plan["cost"]["changes"].as_array().expect("changes").clone();
    let human = pipectl(stack, &["plan", "-f", &file]).expect(0);
    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["resource"], format!("stream/{p}-events"));
    assert!((changes[0]["hourly_usd"].as_f64().expect("priced") - 0.03).abs() < 1e-9, "{changes:?}");
    assert!((changes[0]["monthly_usd"].as_f64().expect("priced") - 21.9).abs() < 1e-6, "{changes:?}");
    let said = "4 shards (provisioned) ($0.0600 per hour) → 6 shards (provisioned) ($0.0900 per hour): \
        +$0.0300 per hour, about +$21.90 per month";
    assert!(human.stdout.contains(said), "{}", human.stdout);
}
on_both_stacks!(plan_prices_a_reshard);

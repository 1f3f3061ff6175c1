//! `pipectl status` after apply (called from `output`'s lifecycle on both stacks): every stream,
//! delivery and cluster is reported, with the facts the SDK reads back (open shards, the cluster's
//! state and core size); metrics the emulators do not serve are `no data` (JSON `null`), never 0;
//! and a pipeline with nothing to attend to exits 0.

use serde_json::Value;

use crate::support::{pipectl, runtime, Stack};

/// The fact `label` of `resource` in a status report.
fn fact<'a>(resource: &'a Value, label: &str) -> &'a str {
    let facts = resource["facts"].as_array().expect("facts");
    let found = facts.iter().find(|fact| fact["label"] == label);
    found.and_then(|fact| fact["value"].as_str()).unwrap_or_else(|| panic!("no fact {label} in {resource}"))
}

pub fn assert_status(stack: Stack, file: &str, (p, delivery): (&str, &str), cluster_id: &str) {
    let report = pipectl(stack, &["status", "-f", file, "--output", "json"]).expect(0).json();
    assert_eq!(report["healthy"], true, "{report}");
    let resources = report["resources"].as_array().expect("resources");
    let shown = |name: &str| {
        resources
            .iter()
            .find(|resource| resource["resource"] == name)
            .unwrap_or_else(|| panic!("{name} missing: {report}"))
    };
    let clients = runtime().block_on(stack.clients());
    for name in ["events", "clicks"] {
        let stream = shown(&format!("stream/{p}-{name}"));
        let summary =
            runtime().block_on(clients.kinesis.describe_stream_summary().stream_name(format!("{p}-{name}")).send());
        let open = summary.expect("DescribeStreamSummary").stream_description_summary().map(|s| s.open_shard_count());
        assert_eq!(fact(stream, "open shards"), open.expect("open shards").to_string());
        let labels: Vec<&str> =
            stream["metrics"].as_array().unwrap().iter().filter_map(|m| m["label"].as_str()).collect();
        assert_eq!(labels, ["iterator age max (ms)", "throttled writes", "records in"]);
    }
    let delivery = shown(&format!("delivery/{delivery}"));
    assert_eq!(fact(delivery, "into"), format!("arn:aws:s3:::{p}-lake"));
    // Firehose runs on moto on both stacks, which publishes no Firehose metrics: no data, not 0.
    assert!(delivery["metrics"].as_array().unwrap().iter().all(|metric| metric["value"].is_null()), "{delivery}");

    let cluster = shown("cluster/spark");
    let described = runtime().block_on(clients.emr.describe_cluster().cluster_id(cluster_id).send());
    let described = described.expect("DescribeCluster");
    let state = described.cluster().and_then(|c| c.status()).and_then(|s| s.state()).expect("a state");
    assert_eq!(fact(cluster, "state"), state.as_str());
    assert!(fact(cluster, "group core").starts_with("2 of 2 running"), "{cluster}");

    let screen = pipectl(stack, &["status", "-f", file]).expect(0);
    assert!(screen.stdout.contains("): healthy\n"), "{}", screen.stdout);
    assert!(screen.stdout.contains("  freshness max (s): no data\n"), "{}", screen.stdout);
    assert!(
        screen.stdout.contains(&format!("\nstream/{p}-clicks\n  mode: provisioned\n  open shards: 1\n")),
        "{}",
        screen.stdout
    );
}

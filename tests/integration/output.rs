//! `pipectl output` and `pipectl status` on both stacks (EMR and Firehose on moto for LocalStack):
//! before apply every declared resource is reported `not created` (and status needs attention,
//! exit 2); after apply the JSON holds the cluster id and the stream and delivery ARNs that the
//! SDK reads back, `--value` prints one raw, and status reports every stream, delivery and
//! cluster (see `status`).

use crate::support::{pipectl, runtime, unique, Scratch, Stack};

/// One of each kind `status` reports, with the network the cluster needs.
pub fn yaml(p: &str) -> String {
    let d = delivery(p);
    format!(
        "version: 1\npipeline: {p}\nregion: us-east-1\nnetwork:\n  vpc: {{cidr: 10.61.0.0/16}}\n  subnets: [{{name: private-a, cidr: 10.61.1.0/24, availability_zone: us-east-1a}}]\n  endpoints: [s3]\n  security_groups: [{{name: spark, ingress: [{{protocol: all, group: self}}]}}]\nbuckets:\n  - name: {p}-lake\nstreams:\n  - {{name: {p}-events, shards: 1}}\n  - {{name: {p}-clicks, shards: 1}}\ndeliveries:\n  - name: {d}\n    from: {p}-events\n    to: {{bucket: {p}-lake, prefix: 'raw/!{{timestamp:yyyy/MM/dd}}/', error_prefix: 'errors/!{{firehose:error-output-type}}/'}}\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: private-a\n    security_groups: [spark]\n    master: {{type: m5.xlarge}}\n    core: {{type: m5.xlarge, nodes: 2}}\n"
    )
}

/// The delivery's name: unique, as Firehose is on moto for both stacks, and short, as its role's
/// IAM name (at most 64 characters) holds the pipeline's name and its own.
fn delivery(p: &str) -> String {
    format!("tl-{}", &p[p.len() - 9..])
}

/// What the SDK reads back: the cluster's id, and each stream's and the delivery's ARN.
async fn held(stack: Stack, p: &str) -> (String, Vec<String>, String) {
    let clients = stack.clients().await;
    let clusters = pipectl::resources::cluster::list_active(&clients.emr, &format!("{p}-spark")).await;
    let (cluster_id, _) = clusters.expect("ListClusters").into_iter().next().expect("the cluster is active");
    let mut streams = Vec::new();
    for name in ["events", "clicks"] {
        let summary = clients.kinesis.describe_stream_summary().stream_name(format!("{p}-{name}")).send().await;
        let summary = summary.expect("DescribeStreamSummary");
        streams.push(summary.stream_description_summary().expect("a summary").stream_arn().to_string());
    }
    let delivery = clients.firehose.describe_delivery_stream().delivery_stream_name(delivery(p)).send();
    let delivery = delivery.await.expect("DescribeDeliveryStream");
    let delivery_arn = delivery.delivery_stream_description().expect("a description").delivery_stream_arn().to_string();
    (cluster_id, streams, delivery_arn)
}

fn output_and_status(stack: Stack) {
    require!(stack);
    let runtime = runtime();
    let scratch = Scratch::new(&format!("output-{}", stack.tag()));
    let p = unique("outputs", stack);
    let file = scratch.write("spec.yaml", &yaml(&p));

    // Before apply: everything declared is listed, as not created; status needs attention.
    let before = pipectl(stack, &["output", "-f", &file, "--output", "json"]).expect(0).json();
    assert_eq!(before["resources"]["stream"][format!("{p}-events")]["status"], "not created", "{before}");
    assert_eq!(before["resources"]["cluster"]["spark"], serde_json::json!({"status": "not created"}));
    let refused = pipectl(stack, &["output", "-f", &file, "cluster/spark", "--value", "id"]).expect(1);
    assert!(refused.stderr.contains("cluster/spark is not created yet"), "{}", refused.stderr);
    let unhealthy = pipectl(stack, &["status", "-f", &file]).expect(2);
    let missing = format!("not created yet (`pipectl apply` creates them): vpc/{p}, subnet/private-a");
    assert!(unhealthy.stdout.contains(&missing), "{}", unhealthy.stdout);

    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let (cluster_id, stream_arns, delivery_arn) = runtime.block_on(held(stack, &p));

    let after = pipectl(stack, &["output", "-f", &file, "--output", "json"]).expect(0).json();
    let resources = &after["resources"];
    assert_eq!(resources["cluster"]["spark"]["id"], cluster_id.as_str(), "{after}");
    assert_eq!(resources["cluster"]["spark"]["status"], "created");
    for (name, arn) in ["events", "clicks"].iter().zip(&stream_arns) {
        assert_eq!(resources["stream"][format!("{p}-{name}")]["arn"], arn.as_str(), "{after}");
    }
    assert_eq!(resources["delivery"][delivery(&p)]["arn"], delivery_arn.as_str(), "{after}");
    assert_eq!(resources["bucket"][format!("{p}-lake")]["name"], format!("{p}-lake"));
    assert!(resources["vpc"][&p]["id"].as_str().is_some_and(|id| id.starts_with("vpc-")), "{after}");
    assert!(resources["role"].as_object().is_some_and(|roles| !roles.is_empty()), "{after}");

    let raw = pipectl(stack, &["output", "-f", &file, "cluster/spark", "--value", "id"]).expect(0);
    assert_eq!(raw.stdout, format!("{cluster_id}\n"));
    let streams = pipectl(stack, &["output", "-f", &file, "--kind", "stream"]).expect(0);
    assert!(streams.stdout.contains(&format!("stream/{p}-clicks  arn   {}", stream_arns[1])), "{}", streams.stdout);
    assert!(!streams.stdout.contains("cluster/"), "{}", streams.stdout);

    crate::status::assert_status(stack, &file, (&p, &delivery(&p)), &cluster_id);

    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

#[test]
fn output_and_status_on_moto() {
    output_and_status(Stack::Moto);
}

#[test]
fn output_and_status_on_localstack() {
    output_and_status(Stack::LocalStack);
}

#[test]
fn a_selection_naming_nothing_pipectl_knows_is_refused_before_aws() {
    let scratch = Scratch::new("output-selection");
    let file = scratch.write("spec.yaml", &yaml("outputs-offline-000000000"));
    let run = crate::support::run_with_env(&["output", "-f", &file, "--kind", "streams"], &[]).expect(1);
    assert!(run.stderr.contains("no kind `streams`; the kinds are: vpc, subnet"), "{}", run.stderr);
    let run = crate::support::run_with_env(&["output", "-f", &file, "events"], &[]).expect(1);
    assert!(run.stderr.contains("`events` is not `kind/name` of a kind pipectl knows"), "{}", run.stderr);
}

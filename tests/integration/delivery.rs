//! Firehose delivery from a Kinesis stream to the lake bucket, with its derived IAM role:
//! created, read back from the emulator, updated in place, replaced with a warning, destroyed
//! in dependency order.

use crate::support::{changed_fields, found, not_found, pipectl, plan_actions, runtime, unique, Scratch, Stack};

struct DeliverySpec {
    pipeline: String,
    source: String,
    compression: &'static str,
    size_mib: u32,
    interval_seconds: u32,
}

impl DeliverySpec {
    fn bucket(&self) -> String {
        format!("{}-lake", self.pipeline)
    }

    fn stream(&self, which: &str) -> String {
        format!("{}-{which}", self.pipeline)
    }

    fn delivery(&self) -> String {
        format!("{}-to-lake", self.pipeline)
    }

    fn yaml(&self) -> String {
        format!(
            "version: 1\npipeline: {p}\nregion: us-east-1\nbuckets:\n  - name: {bucket}\nstreams:\n  - {{name: {a}, shards: 1}}\n  - {{name: {b}, shards: 1}}\ndeliveries:\n  - name: {delivery}\n    from: {source}\n    to:\n      bucket: {bucket}\n      prefix: 'raw/events/!{{timestamp:yyyy/MM/dd}}/'\n      error_prefix: 'errors/!{{firehose:error-output-type}}/'\n    compression: {compression}\n    buffer: {{size_mib: {size}, interval_seconds: {interval}}}\n",
            p = self.pipeline,
            bucket = self.bucket(),
            a = self.stream("events"),
            b = self.stream("clicks"),
            delivery = self.delivery(),
            source = self.stream(&self.source),
            compression = self.compression,
            size = self.size_mib,
            interval = self.interval_seconds,
        )
    }
}

/// The delivery's configuration as Firehose holds it.
#[derive(Debug, PartialEq)]
struct HeldDelivery {
    source_arn: String,
    role_arn: String,
    bucket_arn: String,
    prefix: String,
    error_prefix: String,
    compression: String,
    size_mib: i32,
    interval_seconds: i32,
}

/// The delivery as Firehose holds it; `None` when Firehose says there is none of that name
/// (`ResourceNotFoundException`). A delivery that exists without a field read here fails.
async fn held_delivery(stack: Stack, name: &str) -> Option<HeldDelivery> {
    let clients = stack.clients().await;
    let read = clients.firehose.describe_delivery_stream().delivery_stream_name(name).send().await;
    let output = found(&format!("delivery {name}"), read, not_found::RESOURCE)?;
    let field = |what: &str| format!("delivery {name} has no {what}: {output:?}");
    let description = output.delivery_stream_description().unwrap_or_else(|| panic!("{}", field("description")));
    let source = description
        .source()
        .and_then(|source| source.kinesis_stream_source_description())
        .unwrap_or_else(|| panic!("{}", field("Kinesis source")));
    let s3 = description
        .destinations()
        .first()
        .and_then(|destination| destination.extended_s3_destination_description())
        .unwrap_or_else(|| panic!("{}", field("S3 destination")));
    let hints = s3.buffering_hints().unwrap_or_else(|| panic!("{}", field("buffering hints")));
    Some(HeldDelivery {
        source_arn: source.kinesis_stream_arn().unwrap_or_else(|| panic!("{}", field("source ARN"))).to_string(),
        role_arn: source.role_arn().unwrap_or_else(|| panic!("{}", field("source role"))).to_string(),
        bucket_arn: s3.bucket_arn().to_string(),
        prefix: s3.prefix().unwrap_or_else(|| panic!("{}", field("prefix"))).to_string(),
        error_prefix: s3.error_output_prefix().unwrap_or_else(|| panic!("{}", field("error prefix"))).to_string(),
        compression: s3.compression_format().as_str().to_string(),
        size_mib: hints.size_in_mbs().unwrap_or_else(|| panic!("{}", field("buffer size"))),
        interval_seconds: hints.interval_in_seconds().unwrap_or_else(|| panic!("{}", field("buffer interval"))),
    })
}

/// The role's trust and inline policy documents as IAM holds them; `None` when IAM says there is
/// no role of that name (`NoSuchEntity`). A role without its inline policy fails: the role is
/// what must be gone, not only its policy.
async fn held_role(stack: Stack, name: &str) -> Option<(serde_json::Value, serde_json::Value)> {
    let clients = stack.clients().await;
    let role = found(&format!("role {name}"), clients.iam.get_role().role_name(name).send().await, not_found::IAM)?;
    let trust = role.role().map(|role| role.assume_role_policy_document()).expect("GetRole returns the role");
    let trust = pipectl::iam::parse_document(trust.expect("a trust policy")).expect("the trust policy is JSON");
    let inline = clients.iam.get_role_policy().role_name(name).policy_name("pipectl").send().await;
    let inline = found(&format!("the inline policy of role {name}"), inline, not_found::IAM)
        .unwrap_or_else(|| panic!("role {name} exists without its inline policy"));
    Some((trust, pipectl::iam::parse_document(inline.policy_document()).expect("the inline policy is JSON")))
}

fn delivery_lifecycle(stack: Stack) {
    require!(stack);
    let runtime = runtime();
    let scratch = Scratch::new(&format!("delivery-{}", stack.tag()));
    let mut spec = DeliverySpec {
        pipeline: unique("fh", stack),
        source: "events".into(),
        compression: "gzip",
        size_mib: 5,
        interval_seconds: 300,
    };
    let file = scratch.write("spec.yaml", &spec.yaml());
    let role_name = format!("{}-{}-firehose-use1", spec.pipeline, spec.delivery());

    // Stream -> delivery -> bucket, and the derived role.
    let run = pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    assert!(run.stdout.contains(&format!("# role/{}-firehose will be created", spec.delivery())), "{}", run.stdout);
    let held = runtime.block_on(held_delivery(stack, &spec.delivery())).expect("the delivery exists");
    let account = if stack == Stack::Moto { "123456789012" } else { "000000000000" };
    assert_eq!(held.source_arn, format!("arn:aws:kinesis:us-east-1:{account}:stream/{}", spec.stream("events")));
    assert_eq!(held.role_arn, format!("arn:aws:iam::{account}:role/pipectl/{}/us-east-1/{role_name}", spec.pipeline));
    assert_eq!(held.bucket_arn, format!("arn:aws:s3:::{}", spec.bucket()));
    assert_eq!(
        (held.prefix.as_str(), held.error_prefix.as_str()),
        ("raw/events/!{timestamp:yyyy/MM/dd}/", "errors/!{firehose:error-output-type}/")
    );
    assert_eq!((held.compression.as_str(), held.size_mib, held.interval_seconds), ("GZIP", 5, 300));
    let (trust, inline) = runtime.block_on(held_role(stack, &role_name)).expect("the role and its policy exist");
    assert_eq!(trust["Statement"][0]["Principal"]["Service"], serde_json::json!(["firehose.amazonaws.com"]));
    let statements = inline["Statement"].as_array().expect("statements");
    assert_eq!(statements.len(), 3, "{inline}");
    assert!(pipectl::iam::wildcard_actions(&inline).is_empty(), "wildcard actions in {inline}");
    let resources: Vec<String> = statements
        .iter()
        .flat_map(|s| s["Resource"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r.as_str().map(str::to_string))
        .collect();
    // The prefix `raw/events/!{timestamp:…}/` keeps its shape: `raw/events/*/*`.
    assert!(resources.contains(&format!("arn:aws:s3:::{}/raw/events/*/*", spec.bucket())), "{resources:?}");
    assert!(resources.iter().all(|resource| resource != "*"), "{resources:?}");
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // Buffering and compression change in place.
    spec.compression = "snappy";
    spec.size_mib = 64;
    spec.interval_seconds = 60;
    let file = scratch.write("spec.yaml", &spec.yaml());
    let plan = pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode", "--output", "json"]).expect(2).json();
    assert_eq!(plan_actions(&plan), [(format!("delivery/{}", spec.delivery()), "update".to_string())]);
    assert_eq!(
        changed_fields(&plan, &format!("delivery/{}", spec.delivery())),
        ["buffer_interval_seconds", "buffer_size_mib", "compression"]
    );
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    let held = runtime.block_on(held_delivery(stack, &spec.delivery())).expect("the delivery exists");
    assert_eq!((held.compression.as_str(), held.size_mib, held.interval_seconds), ("Snappy", 64, 60));

    // A new source stream replaces the delivery, and the plan says what is lost.
    spec.source = "clicks".into();
    let file = scratch.write("spec.yaml", &spec.yaml());
    let plan = pipectl(stack, &["plan", "-f", &file]).expect(0);
    assert!(plan.stdout.contains(&format!("# delivery/{} must be replaced", spec.delivery())), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("source_stream = ") && plan.stdout.contains("# forces replacement"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("records still buffered in the delivery stream are lost"), "{}", plan.stdout);
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(1);
    pipectl(stack, &["apply", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    let held = runtime.block_on(held_delivery(stack, &spec.delivery())).expect("the delivery exists");
    assert!(held.source_arn.ends_with(&format!("stream/{}", spec.stream("clicks"))), "{held:?}");
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // Destroy: the delivery goes before the role, stream and bucket it uses.
    let run = pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    let position = |needle: &str| run.stderr.find(needle).unwrap_or_else(|| panic!("{needle} not in\n{}", run.stderr));
    let delivery_gone = position(&format!("delivery/{}: deleted", spec.delivery()));
    for dependency in [
        format!("role/{}-firehose: deleting", spec.delivery()),
        format!("stream/{}: deleting", spec.stream("clicks")),
        format!("bucket/{}: deleting", spec.bucket()),
    ] {
        assert!(
            delivery_gone < position(&dependency),
            "{dependency} started before the delivery was gone\n{}",
            run.stderr
        );
    }
    assert!(runtime.block_on(held_delivery(stack, &spec.delivery())).is_none());
    assert!(runtime.block_on(held_role(stack, &role_name)).is_none());
}

on_both_stacks!(delivery_lifecycle);

/// LocalStack's own Firehose (not routed to moto) cannot read Kinesis offline and ends in
/// CREATING_FAILED: apply reports it, finishes the rest, exits 1; the next plan replaces it.
#[test]
fn creating_failed_is_reported_and_the_rest_finishes() {
    let stack = Stack::LocalStack;
    require!(stack);
    let scratch = Scratch::new("creating-failed");
    let spec = DeliverySpec {
        pipeline: unique("fhfail", stack),
        source: "events".into(),
        compression: "gzip",
        size_mib: 5,
        interval_seconds: 60,
    };
    let file = scratch.write("spec.yaml", &spec.yaml());
    let env: Vec<(&str, String)> =
        stack.env().into_iter().filter(|(key, _)| *key != "AWS_ENDPOINT_URL_FIREHOSE").collect();
    let run =
        crate::support::run_with_env(&["apply", "-f", &file, "--auto-approve", "--timeout", "2m"], &env).expect(1);
    let failed = format!(
        "failed delivery/{} (create): wait failed: did not become ACTIVE: it ended in CREATING_FAILED",
        spec.delivery()
    );
    assert!(run.stdout.contains(&failed), "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Done: 4 added"), "bucket, two streams and the role still finish\n{}", run.stdout);
    let plan = crate::support::run_with_env(&["plan", "-f", &file, "--output", "json"], &env).expect(0).json();
    assert_eq!(plan_actions(&plan), [(format!("delivery/{}", spec.delivery()), "replace".to_string())]);
    assert_eq!(changed_fields(&plan, &format!("delivery/{}", spec.delivery())), ["status"]);
    crate::support::run_with_env(&["destroy", "-f", &file, "--auto-approve", "--allow-destroy"], &env).expect(0);
}

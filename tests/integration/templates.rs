//! `pipectl init`'s templates as a new user meets them: each one written by `init --template`
//! validates and plans on moto, and the stream-to-lake starter (renamed, as a user would) applies
//! on LocalStack — read back with the SDK: the stream, the delivery reading it into the bucket,
//! the alarms — plans clean, and destroys to nothing.

use crate::support::{found, not_found, pipectl, run_with_env, runtime, unique, Scratch, Stack};

/// The names `init --template` takes, as its `--help` lists them.
fn template_names() -> Vec<String> {
    let help = run_with_env(&["init", "--help"], &[]).expect(0).stdout;
    let names: Vec<String> = help
        .lines()
        .map(str::trim)
        .filter_map(|line| line.strip_prefix("- ")?.split(':').next())
        .map(str::to_string)
        .collect();
    assert!(names.len() >= 4, "`init --help` lists the templates: {help}");
    names
}

#[test]
fn every_template_validates_and_plans() {
    require!(Stack::Moto);
    let scratch = Scratch::new("help-templates");
    for template in template_names() {
        let file = scratch.dir.join(format!("{template}.yaml")).display().to_string();
        run_with_env(&["init", "--template", &template, &file], &[]).expect(0);
        let valid = run_with_env(&["validate", "-f", &file], &[]).expect(0);
        assert!(valid.stdout.contains("is valid"), "{template}: {}", valid.stdout);
        let plan = pipectl(Stack::Moto, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
        assert!(plan["summary"]["add"].as_u64().is_some_and(|add| add > 0), "{template}: {plan}");
    }
}

/// What the emulators hold of a stream-to-lake pipeline: the stream's ARN, the delivery's source
/// stream ARN and bucket ARN, and the names of the pipeline's alarms. `None` for what is gone.
struct Held {
    stream: Option<String>,
    delivery: Option<(String, String)>,
    bucket: bool,
    alarms: Vec<String>,
}

async fn held(stack: Stack, pipeline: &str) -> Held {
    let clients = stack.clients().await;
    let stream_name = format!("{pipeline}-events");
    let stream = clients.kinesis.describe_stream_summary().stream_name(&stream_name).send().await;
    let stream = found(&format!("stream {stream_name}"), stream, not_found::RESOURCE)
        .and_then(|output| output.stream_description_summary().map(|summary| summary.stream_arn().to_string()));
    let delivery_name = format!("{pipeline}-events-to-lake");
    let delivery = clients.firehose.describe_delivery_stream().delivery_stream_name(&delivery_name).send().await;
    let delivery = found(&format!("delivery {delivery_name}"), delivery, not_found::RESOURCE).map(|output| {
        let description = output.delivery_stream_description().expect("a description");
        let source = description.source().and_then(|source| source.kinesis_stream_source_description());
        let s3 = description.destinations().first().and_then(|d| d.extended_s3_destination_description());
        let source = source.and_then(|source| source.kinesis_stream_arn()).unwrap_or_default().to_string();
        (source, s3.map(|s3| s3.bucket_arn().to_string()).unwrap_or_default())
    });
    let bucket_name = format!("{pipeline}-lake-change-me");
    let bucket = clients.s3.head_bucket().bucket(&bucket_name).send().await;
    let bucket = found(&format!("bucket {bucket_name}"), bucket, not_found::S3_BUCKET).is_some();
    let alarms = clients.cloudwatch.describe_alarms().alarm_name_prefix(format!("pipectl-{pipeline}-")).send().await;
    let mut alarms: Vec<String> = alarms
        .expect("DescribeAlarms")
        .metric_alarms()
        .iter()
        .filter_map(|alarm| alarm.alarm_name().map(str::to_string))
        .collect();
    alarms.sort();
    Held { stream, delivery, bucket, alarms }
}

#[test]
fn stream_to_lake_template_applies_and_destroys() {
    let stack = Stack::LocalStack;
    require!(stack);
    let runtime = runtime();
    let scratch = Scratch::new("help-stream-to-lake");
    let written = scratch.dir.join("starter.yaml").display().to_string();
    run_with_env(&["init", "--template", "stream-to-lake", &written], &[]).expect(0);
    // The user's first edit: a name of their own for the pipeline and everything named after it.
    let pipeline = unique("help", stack);
    let starter = std::fs::read_to_string(&written).expect("the starter");
    let file = scratch.write("spec.yaml", &starter.replace("my-pipeline", &pipeline));

    let run = pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    assert!(run.stdout.contains("Resources: 9 added"), "{}", run.stdout);
    let live = runtime.block_on(held(stack, &pipeline));
    let stream = live.stream.expect("the stream exists");
    assert!(stream.ends_with(&format!(":stream/{pipeline}-events")), "{stream}");
    let (source, bucket_arn) = live.delivery.expect("the delivery exists");
    // The stream's ARN as LocalStack gives it, and as pipectl gave it to Firehose (on moto).
    assert_eq!(source.rsplit(':').next(), stream.rsplit(':').next());
    assert_eq!(bucket_arn, format!("arn:aws:s3:::{pipeline}-lake-change-me"));
    assert!(live.bucket);
    let metrics = ["delivery-success", "data-freshness", "iterator-age", "write-throttled"];
    assert_eq!(live.alarms.len(), 4, "{:?}", live.alarms);
    for metric in metrics {
        assert!(live.alarms.iter().any(|alarm| alarm.ends_with(metric)), "no {metric} alarm in {:?}", live.alarms);
    }
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    let live = runtime.block_on(held(stack, &pipeline));
    assert_eq!(live.stream, None, "the stream is gone");
    assert_eq!(live.delivery, None, "the delivery is gone");
    assert!(!live.bucket, "the bucket is gone");
    assert!(live.alarms.is_empty(), "{:?}", live.alarms);
}

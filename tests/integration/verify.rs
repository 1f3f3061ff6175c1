//! `pipectl verify` against the emulators. Neither stack delivers from a Kinesis source: moto's
//! Firehose never reads the stream, and LocalStack's (not used by the stacks, which route Firehose
//! to moto) needs a Java KCL download to create such a delivery and ends `CREATING_FAILED` offline
//! (localstack/README.md). So the test plays Firehose itself, in test code only: it reads the
//! records verify put into the stream with the SDK and writes them where Firehose would — gzip
//! JSON lines under one delivery's dated prefix, a Parquet file of the table's columns under the
//! other's, or a failed record under the error prefix — to exercise verify's landing logic.
//! With nobody playing, verify must say plainly that nothing was delivered and name the delivery.

use std::collections::HashSet;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::support::{admit_plain_http, pipectl, pipectl_path, runtime, unique, Run, Scratch, Stack};

fn spec(pipeline: &str) -> String {
    format!(
        "version: 1
pipeline: {pipeline}
region: us-east-1
buckets: [{{name: {pipeline}-lake}}]
streams: [{{name: {pipeline}-events, shards: 1}}]
deliveries:
  - name: {pipeline}-json
    from: {pipeline}-events
    to: {{bucket: {pipeline}-lake, prefix: 'raw/json/!{{timestamp:yyyy/MM/dd}}/', error_prefix: 'errors/json/!{{firehose:error-output-type}}/'}}
    buffer: {{size_mib: 1, interval_seconds: 60}}
  - name: {pipeline}-pq
    from: {pipeline}-events
    to: {{bucket: {pipeline}-lake, prefix: 'raw/pq/!{{timestamp:yyyy/MM/dd}}/', error_prefix: 'errors/pq/!{{firehose:error-output-type}}/'}}
    format: parquet
    compression: none
    buffer: {{size_mib: 64, interval_seconds: 60}}
catalog:
  tables:
    - {{name: json_events, delivery: {pipeline}-json, columns: [{{name: event_id, type: string}}, {{name: n, type: bigint}}]}}
    - {{name: pq_events, delivery: {pipeline}-pq, format: parquet, columns: [{{name: event_id, type: string}}, {{name: n, type: bigint}}]}}
"
    )
}

/// Starts `pipectl verify` with the environment `env` without waiting for it.
fn spawn_verify(env: &[(&str, String)], args: &[&str]) -> Child {
    let mut command = Command::new(pipectl_path());
    command.arg("verify").args(args).env_clear().stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for key in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    command.env("NO_COLOR", "1").envs(env.iter().map(|(key, value)| (*key, value)));
    command.spawn().expect("pipectl verify starts")
}

/// What the test does with each canary it reads from the stream, playing Firehose.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Play {
    /// Deliver every record to both deliveries' prefixes.
    Deliver,
    /// Deliver to the JSON delivery; report the records as failed conversions of the Parquet one.
    FailParquet,
}

/// The canary records (JSON) in the stream that `done` does not hold yet.
async fn new_records(kinesis: &aws_sdk_kinesis::Client, stream: &str, done: &mut HashSet<String>) -> Vec<Value> {
    let shards = kinesis.list_shards().stream_name(stream).send().await.expect("ListShards");
    let mut found = Vec::new();
    for shard in shards.shards() {
        let iterator = kinesis
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("GetShardIterator");
        let records = kinesis
            .get_records()
            .shard_iterator(iterator.shard_iterator().unwrap_or_default())
            .send()
            .await
            .expect("GetRecords");
        for record in records.records() {
            let value: Value = serde_json::from_slice(record.data().as_ref()).expect("a JSON record");
            if done.insert(value["pipectl_canary"].as_str().unwrap_or_default().to_string()) {
                found.push(value);
            }
        }
    }
    found
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

/// A Parquet file of the `event_id string, n bigint` table, snappy as Firehose writes by default.
fn parquet_file(records: &[Value]) -> Vec<u8> {
    use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
    let schema = parquet::schema::parser::parse_message_type(
        "message hive_schema { optional binary event_id (UTF8); optional int64 n; }",
    )
    .expect("schema");
    let properties =
        parquet::file::properties::WriterProperties::builder().set_compression(parquet::basic::Compression::SNAPPY);
    let mut writer =
        parquet::file::writer::SerializedFileWriter::new(Vec::new(), Arc::new(schema), Arc::new(properties.build()))
            .expect("writer");
    let mut group = writer.next_row_group().expect("row group");
    let defined = vec![1; records.len()];
    let ids: Vec<ByteArray> =
        records.iter().map(|r| ByteArray::from(r["event_id"].as_str().unwrap_or_default())).collect();
    let mut column = group.next_column().expect("column").expect("event_id");
    column.typed::<ByteArrayType>().write_batch(&ids, Some(&defined), None).expect("event_id");
    column.close().expect("close");
    let numbers: Vec<i64> = records.iter().map(|r| r["n"].as_i64().unwrap_or_default()).collect();
    let mut column = group.next_column().expect("column").expect("n");
    column.typed::<Int64Type>().write_batch(&numbers, Some(&defined), None).expect("n");
    column.close().expect("close");
    group.close().expect("close");
    writer.into_inner().expect("parquet bytes")
}

/// Writes `records` where Firehose would for each delivery of the spec, as `play` says.
async fn deliver(s3: &aws_sdk_s3::Client, pipeline: &str, records: &[Value], play: Play) {
    let now = chrono::Utc::now();
    let day = now.format("%Y/%m/%d");
    let suffix = |delivery: &str, extension: &str| {
        format!("{pipeline}-{delivery}-1-{}-{}{extension}", now.format("%Y-%m-%d-%H-%M-%S"), now.timestamp_micros())
    };
    let lines: String = records.iter().map(|record| format!("{record}\n")).collect();
    let mut objects = vec![(format!("raw/json/{day}/{}", suffix("json", ".gz")), gzip(lines.as_bytes()))];
    objects.push(match play {
        Play::Deliver => (format!("raw/pq/{day}/{}", suffix("pq", ".parquet")), parquet_file(records)),
        Play::FailParquet => {
            // "Handling errors for data format conversion": one JSON document per failed record.
            let failed: String = records
                .iter()
                .map(|record| {
                    let raw = aws_smithy_types::base64::encode(record.to_string());
                    format!("{{\"attemptsMade\":1,\"ErrorCode\":\"DataFormatConversion.MalformedData\",\"ErrorMessage\":\"test: not convertible\",\"rawData\":\"{raw}\"}}\n")
                })
                .collect();
            (format!("errors/pq/format-conversion-failed/{}", suffix("pq", "")), failed.into_bytes())
        }
    });
    for (key, body) in objects {
        s3.put_object()
            .bucket(format!("{pipeline}-lake"))
            .key(&key)
            .body(body.into())
            .send()
            .await
            .unwrap_or_else(|error| panic!("PutObject {key}: {error:?}"));
    }
}

/// Runs verify with `args` while playing Firehose as `play` says (not at all with None); its result.
fn verify_while_playing(stack: Stack, pipeline: &str, args: &[&str], play: Option<Play>) -> Run {
    verify_through(stack, &stack.env(), pipeline, args, play)
}

/// `verify_while_playing`, with verify's environment `env` (another endpoint).
fn verify_through(stack: Stack, env: &[(&str, String)], pipeline: &str, args: &[&str], play: Option<Play>) -> Run {
    let child = runtime().block_on(async {
        let clients = stack.clients().await;
        let mut done = HashSet::new();
        let stream = format!("{pipeline}-events");
        // Canaries of earlier runs are in the stream already: not this run's.
        new_records(&clients.kinesis, &stream, &mut done).await;
        let mut child = spawn_verify(env, args);
        while child.try_wait().expect("verify runs").is_none() {
            if let Some(play) = play {
                let records = new_records(&clients.kinesis, &stream, &mut done).await;
                if !records.is_empty() {
                    deliver(&clients.s3, pipeline, &records, play).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        child
    });
    let output = child.wait_with_output().expect("verify ends");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn verify_lands_the_canary_or_says_what_happened(stack: Stack) {
    require!(stack);
    let pipeline = unique("verify", stack);
    let scratch = Scratch::new(&format!("verify-{}", stack.tag()));
    let file = scratch.write("verify.yaml", &spec(&pipeline));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    runtime().block_on(async {
        let clients = stack.clients().await;
        admit_plain_http(stack, &clients.s3, &format!("{pipeline}-lake")).await;
    });
    let json_delivery = format!("{pipeline}-json");
    let parquet_delivery = format!("{pipeline}-pq");

    // Nobody delivers: exit 1, the delivery named, and plainly nothing delivered.
    let quiet = ["-f", &file, "--delivery", &json_delivery, "--timeout", "3s", "--poll", "1s"];
    let run = verify_while_playing(stack, &pipeline, &quiet, None).expect(1);
    assert!(
        run.stderr.contains(&format!("1 of 1 path not confirmed: {json_delivery} (nothing delivered within 3s")),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains(&format!("→ {json_delivery} → s3://{pipeline}-lake: NOT confirmed")), "{}", run.stdout);

    // Firehose (the test) delivers both: gzip JSON lines and a Parquet file, in today's folders.
    let all = ["-f", &file, "--timeout", "60s", "--poll", "1s", "--output", "json"];
    let run = verify_while_playing(stack, &pipeline, &all, Some(Play::Deliver)).expect(0);
    let paths = run.json()["paths"].as_array().cloned().expect("paths");
    let day = chrono::Utc::now().format("%Y/%m/%d").to_string();
    let database = pipeline.replace('-', "_");
    for (delivery, format, table) in
        [(&json_delivery, "gzip JSON", "json_events"), (&parquet_delivery, "Parquet", "pq_events")]
    {
        let path = paths.iter().find(|path| path["delivery"] == delivery.as_str()).expect("a report per delivery");
        assert_eq!(path["confirmed"], true, "{path}");
        assert_eq!(path["format"], format, "{path}");
        assert_eq!(path["partition"], format!("dt={day} of {database}.{table}"), "{path}");
        let canary = path["canary"].as_str().unwrap_or_default();
        assert!(canary.starts_with("pipectl-canary-"), "{path}");
        assert_eq!(
            path["athena_query"],
            format!(
                "SELECT count(*) FROM \"{database}\".\"{table}\" WHERE \"dt\" = '{day}' AND \"event_id\" = '{canary}'"
            )
        );
    }

    // The Parquet delivery's canary fails conversion: exit 1 naming it, with Firehose's error.
    let run = verify_while_playing(stack, &pipeline, &all, Some(Play::FailParquet)).expect(1);
    assert!(run.stderr.contains("1 of 2 paths not confirmed"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("{parquet_delivery} (the canary went to the error prefix after")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("DataFormatConversion.MalformedData: test: not convertible"), "{}", run.stderr);

    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

on_both_stacks!(verify_lands_the_canary_or_says_what_happened);

/// Every call verify makes, recorded at pipectl-proxy while it confirms both paths on moto, is
/// allowed by `pipectl permissions --for verify` as scoped, and refused on another pipeline's
/// names (the request mapping and the evaluation are `requests.rs` and `pipectl::iam::evaluate`).
#[test]
fn the_verify_policy_allows_every_call_of_verify_and_no_other_pipelines() {
    use pipectl::iam::evaluate::allowed;
    let stack = Stack::Moto;
    require!(stack);
    let pipeline = unique("vperm", stack);
    let scratch = Scratch::new("verify-permissions");
    let file = scratch.write("verify.yaml", &spec(&pipeline));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    runtime().block_on(async {
        admit_plain_http(stack, &stack.clients().await.s3, &format!("{pipeline}-lake")).await;
    });
    let proxy = crate::requests::RecordingProxy::start(&stack.endpoint(), scratch.dir.join("calls.jsonl"));
    let env: Vec<(&str, String)> = stack
        .env()
        .into_iter()
        .map(|(key, value)| if key == "AWS_ENDPOINT_URL" { (key, proxy.url.clone()) } else { (key, value) })
        .collect();
    let args = ["-f", &file, "--timeout", "60s", "--poll", "1s"];
    verify_through(stack, &env, &pipeline, &args, Some(Play::Deliver)).expect(0);

    let policy: Value =
        serde_json::from_str(&pipectl(stack, &["permissions", "-f", &file, "--for", "verify"]).expect(0).stdout)
            .expect("policy JSON");
    let lines = proxy.lines();
    let mut requests = crate::requests::Requests::new(pipectl::aws::MOTO_ACCOUNT, &lines);
    let mut labels = HashSet::new();
    let other = format!("{pipeline}x");
    for line in &lines {
        let call = requests.map(line).unwrap_or_else(|why| panic!("a call the IAM mapping does not know: {why}"));
        labels.insert(call.label.clone());
        for request in &call.requests {
            assert!(allowed(&policy, request), "the verify policy denies {}: {request:?}", call.label);
            let mut theirs =
                pipectl::iam::evaluate::Request::new(&request.action, &request.resource.replace(&pipeline, &other));
            theirs.context = request
                .context
                .iter()
                .map(|(key, values)| (key.clone(), values.iter().map(|v| v.replace(&pipeline, &other)).collect()))
                .collect();
            if theirs != *request {
                assert!(!allowed(&policy, &theirs), "the verify policy allows {} on {other}: {theirs:?}", call.label);
            }
        }
    }
    for label in ["firehose:DescribeDeliveryStream", "kinesis:PutRecord", "s3:ListObjectsV2", "s3:GetObject"] {
        assert!(labels.contains(label), "verify made no {label}: {labels:?}");
    }
    drop(proxy);
    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

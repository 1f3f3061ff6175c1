//! Unit tests of the `delivery` kind: its desired state, what it reads back, and its calls against
//! replayed AWS answers.

use super::*;

#[test]
fn a_fresh_role_is_recognised_by_firehoses_own_error() {
    let error =
        |code: &str, message: &str| AwsError { code: Some(code.to_string()), ..AwsError::new("x", "Op", message) };
    assert!(role_not_ready(&error(
        "InvalidArgumentException",
        "Firehose is unable to assume role arn:aws:iam::1:role/r"
    )));
    assert!(!role_not_ready(&error("ValidationException", "Invalid InstanceProfile: p-spark-emr-ec2.")));
}
use aws_sdk_firehose::types::{ParquetCompression, ProcessorType};

use crate::model::Tags;
use crate::plan::diff_attributes;
use crate::resources::role::{self, RoleConfig};
use crate::spec::Spec;

fn delivery(extra: &str) -> DeliveryConfig {
    let yaml = format!("version: 1\npipeline: p\nregion: eu-west-1\ndeliveries:\n  - name: d\n    from: events\n    to: {{bucket: lake, prefix: raw/, error_prefix: errors/}}\n{extra}");
    let spec: Spec = serde_saphyr::from_str(&yaml).unwrap();
    DeliveryConfig { delivery: spec.deliveries[0].clone(), schema: None, newline_delimited: false, load: None }
}

fn live_of(config: &DeliveryConfig) -> Live {
    let delivery = &config.delivery;
    Live {
        arn: format!("arn:aws:firehose:eu-west-1:1:deliverystream/{}", delivery.name),
        version_id: "1".into(),
        destination_id: "destinationId-000000000001".into(),
        source_stream_arn: format!("arn:aws:kinesis:eu-west-1:1:stream/{}", delivery.from),
        role_arn: "arn:aws:iam::1:role/pipectl/p/eu-west-1/p-d-firehose-euw1".into(),
        bucket_arn: format!("arn:aws:s3:::{}", delivery.to.bucket),
        prefix: delivery.to.prefix.clone(),
        error_prefix: delivery.to.error_prefix.clone(),
        compression: delivery.compression.as_str().into(),
        buffer_size_mib: delivery.buffer.size_mib,
        buffer_interval_seconds: delivery.buffer.interval_seconds,
        kms_key: None,
        conversion: None,
        newline_delimited: config.newline_delimited,
        load: None,
        failed: None,
    }
}

/// The live state holds the derived role `d-firehose`, whose IAM name is `p-d-firehose-euw1`.
fn names() -> Names {
    names_with(Vec::new())
}

/// `names()` and `others`.
fn names_with(others: Vec<LiveResource>) -> Names {
    let live = role::Live {
        path: "/pipectl/p/eu-west-1/".to_string(),
        permissions_boundary: None,
        trust: serde_json::Value::Null,
        inline: None,
        managed: Vec::new(),
        instance_profiles: Vec::new(),
    };
    let role = LiveResource::new(role::id("d-firehose"), "p-d-firehose-euw1", Tags::new(), live);
    Names::of(&others.into_iter().chain([role]).map(|live| (live.id.clone(), live)).collect())
}

#[test]
fn buffering_and_compression_change_in_place() {
    let before = delivery("");
    let after = delivery("    compression: snappy\n    buffer: {size_mib: 64, interval_seconds: 60}\n");
    let (live, _) = live_of(&before).describe("d", &names());
    assert!(diff_attributes(&live, &before.attributes(), |_| false).is_empty(), "defaults read back as written");
    let changes = diff_attributes(&live, &after.attributes(), |field| KIND.forces_replacement(field));
    let fields: Vec<(&str, bool)> = changes.iter().map(|c| (c.path.as_str(), c.forces_replacement)).collect();
    assert_eq!(fields, [("buffer_interval_seconds", false), ("buffer_size_mib", false), ("compression", false)]);
}

#[test]
fn a_new_source_stream_forces_replacement() {
    let before = delivery("");
    let mut after = before.clone();
    after.delivery.from = "other".into();
    let (live, depends_on) = live_of(&before).describe("d", &names());
    assert_eq!(depends_on, [role::id("d-firehose")]);
    let changes = diff_attributes(&live, &after.attributes(), |field| KIND.forces_replacement(field));
    assert_eq!(changes.len(), 1);
    assert!(changes[0].forces_replacement, "{changes:?}");
}

#[test]
fn an_explicit_role_replaces_the_derived_one() {
    let yaml = "version: 1\npipeline: p\nregion: eu-west-1\nbuckets: [{name: lake}]\nstreams: [{name: events}]\nroles:\n  - {name: mine, trust: firehose.amazonaws.com, managed_policies: [arn:aws:iam::aws:policy/AmazonS3FullAccess]}\ndeliveries:\n  - {name: derived, from: events, to: {bucket: lake}}\n  - {name: explicit, from: events, to: {bucket: lake}, role: mine}\n";
    let spec: Spec = serde_saphyr::from_str(yaml).unwrap();
    let arns = crate::iam::Arns::new("123456789012", "eu-west-1");
    let graph = crate::resources::graph_in(&spec, &arns, chrono::Utc::now());
    let roles: Vec<String> = graph.iter().filter(|n| n.id.kind == role::KIND).map(|n| n.id.name.clone()).collect();
    assert_eq!(roles, ["mine", "derived-firehose"]);
    let explicit = graph.iter().find(|n| n.id.name == "explicit").unwrap();
    assert!(explicit.depends_on.contains(&role::id("mine")));
    let derived = graph.iter().find(|n| n.id.name == "derived").unwrap();
    assert_eq!(
        derived.depends_on,
        [super::super::stream::id("events"), super::super::bucket::id("lake"), role::id("derived-firehose")]
    );
    let mine = graph.iter().find(|n| n.id.name == "mine").unwrap().config::<RoleConfig>().expect("a role");
    assert_eq!(
        (mine.iam_name.as_str(), mine.path.as_str(), mine.inline.is_none()),
        ("p-mine-euw1", "/pipectl/p/eu-west-1/", true)
    );
}

/// The reference pipeline's Parquet delivery: its table, and its derived role.
const PARQUET_SPEC: &str = "version: 1\npipeline: p\nregion: eu-west-1\nbuckets: [{name: lake}]\nstreams: [{name: events}]\ndeliveries:\n  - {name: d, from: events, to: {bucket: lake, prefix: 'raw/!{timestamp:yyyy/MM/dd}/', error_prefix: errors/}, format: parquet, compression: none, buffer: {size_mib: 128, interval_seconds: 300}}\ncatalog:\n  tables:\n    - {name: events, delivery: d, format: parquet, columns: [{name: id, type: string}]}\n";

fn parquet_graph() -> Vec<DesiredResource> {
    let spec: Spec = serde_saphyr::from_str(PARQUET_SPEC).unwrap();
    assert!(spec::validate(&spec).is_empty(), "{:?}", spec::validate(&spec));
    let arns = crate::iam::Arns::new("123456789012", "eu-west-1");
    crate::resources::graph_in(&spec, &arns, chrono::Utc::now())
}

#[test]
fn a_parquet_delivery_reads_its_table_and_its_role_may_read_exactly_that_schema() {
    let graph = parquet_graph();
    let node = graph.iter().find(|n| n.id == id("d")).unwrap();
    assert!(node.depends_on.contains(&super::super::catalog_table::id("events")), "{:?}", node.depends_on);
    let config = node.config::<DeliveryConfig>().unwrap();
    assert_eq!(config.schema, Some(Schema { database: "p".into(), table: "events".into() }));
    let attributes = config.attributes();
    assert_eq!(
        (&attributes["format"], &attributes["parquet_compression"], &attributes["schema"]),
        (&json!("parquet"), &json!("snappy"), &json!("p.events"))
    );
    let role = graph.iter().find(|n| n.id == role::id("d-firehose")).unwrap().config::<RoleConfig>().unwrap();
    let statements = role.inline.as_ref().unwrap()["Statement"].as_array().unwrap();
    assert_eq!(
        statements.iter().find(|s| s["Sid"] == "ReadConversionSchema").unwrap(),
        &json!({"Sid": "ReadConversionSchema", "Effect": "Allow",
            "Action": ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
            "Resource": ["arn:aws:glue:eu-west-1:123456789012:catalog",
                         "arn:aws:glue:eu-west-1:123456789012:database/p",
                         "arn:aws:glue:eu-west-1:123456789012:table/p/events"]})
    );
    let mut sids: Vec<&str> = statements.iter().filter_map(|s| s["Sid"].as_str()).collect();
    sids.sort_unstable();
    assert_eq!(sids, ["ListLakeBucket", "ReadConversionSchema", "ReadSourceStream", "WriteLakeObjects"]);
}

#[test]
fn the_conversion_sent_names_the_table_the_role_and_the_parquet_compression() {
    let graph = parquet_graph();
    let config = graph.iter().find(|n| n.id == id("d")).unwrap().config::<DeliveryConfig>().unwrap();
    let arns = crate::iam::Arns::new("123456789012", "eu-west-1");
    let sent = conversion(config, "arn:aws:iam::123456789012:role/r", &arns);
    let schema = sent.schema_configuration().unwrap();
    assert_eq!(
        (
            schema.database_name(),
            schema.table_name(),
            schema.role_arn(),
            schema.catalog_id(),
            schema.region(),
            schema.version_id()
        ),
        (
            Some("p"),
            Some("events"),
            Some("arn:aws:iam::123456789012:role/r"),
            Some("123456789012"),
            Some("eu-west-1"),
            Some("LATEST")
        )
    );
    assert!(sent.input_format_configuration().unwrap().deserializer().unwrap().open_x_json_ser_de().is_some());
    let parquet = sent.output_format_configuration().unwrap().serializer().unwrap().parquet_ser_de().unwrap();
    assert_eq!(parquet.compression(), Some(&ParquetCompression::Snappy));
    assert_eq!(sent.enabled(), Some(true));
    let off = conversion(&delivery(""), "arn:aws:iam::1:role/r", &arns);
    assert_eq!((off.enabled(), off.schema_configuration().is_none()), (Some(false), true));
}

fn firehose_client(rules: &[&aws_smithy_mocks::Rule]) -> aws_sdk_firehose::Client {
    crate::resources::test_support::mock_sdk_client!(
        aws_sdk_firehose,
        "eu-west-1",
        aws_smithy_mocks::RuleMode::MatchAny,
        rules
    )
}

/// DescribeDeliveryStream as AWS answers for a converting delivery: the SchemaConfiguration
/// with what AWS fills in (CatalogId, Region, VersionId `LATEST`), an empty `OpenXJsonSerDe`
/// and a `ParquetSerDe` without `Compression` (its documented default is SNAPPY).
const DESCRIBED: &str = r#"{"DeliveryStreamDescription": {
    "DeliveryStreamName": "d", "DeliveryStreamARN": "arn:aws:firehose:eu-west-1:123456789012:deliverystream/d",
    "DeliveryStreamStatus": "ACTIVE", "DeliveryStreamType": "KinesisStreamAsSource", "VersionId": "2",
    "CreateTimestamp": 1700000000, "HasMoreDestinations": false,
    "Source": {"KinesisStreamSourceDescription": {"KinesisStreamARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/events",
        "RoleARN": "arn:aws:iam::123456789012:role/pipectl/p/eu-west-1/p-d-firehose-euw1"}},
    "Destinations": [{"DestinationId": "destinationId-000000000001",
        "ExtendedS3DestinationDescription": {
            "RoleARN": "arn:aws:iam::123456789012:role/pipectl/p/eu-west-1/p-d-firehose-euw1",
            "BucketARN": "arn:aws:s3:::lake", "Prefix": "raw/!{timestamp:yyyy/MM/dd}/", "ErrorOutputPrefix": "errors/",
            "BufferingHints": {"SizeInMBs": 128, "IntervalInSeconds": 300}, "CompressionFormat": "UNCOMPRESSED",
            "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
            "DataFormatConversionConfiguration": {
                "SchemaConfiguration": {"RoleARN": "arn:aws:iam::123456789012:role/pipectl/p/eu-west-1/p-d-firehose-euw1",
                    "CatalogId": "123456789012", "DatabaseName": "p", "TableName": "events", "Region": "eu-west-1", "VersionId": "LATEST"},
                "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
                "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {}}},
                "Enabled": true}}}]}}"#;

#[tokio::test]
async fn a_conversion_reads_back_as_it_was_asked_for() {
    let (live, _, _) = describe(&firehose_client(&[&described_rule()]), "d").await.unwrap().unwrap();
    assert_eq!(
        live.conversion,
        Some(LiveConversion {
            schema: Schema { database: "p".into(), table: "events".into() },
            parquet_compression: "snappy".into()
        })
    );
    let graph = parquet_graph();
    let node = graph.iter().find(|n| n.id == id("d")).unwrap();
    let table = LiveResource::new(
        super::super::catalog_table::id("events"),
        "p.events",
        Tags::new(),
        crate::resources::catalog_table::Live {
            database: "p".into(),
            table: aws_sdk_glue::types::Table::builder().name("events").build().unwrap(),
        },
    );
    let (attributes, depends_on) = live.describe("d", &names_with(vec![table]));
    let desired = node.config::<DeliveryConfig>().unwrap().attributes();
    assert!(diff_attributes(&attributes, &desired, |_| false).is_empty(), "{attributes:?}");
    assert!(depends_on.contains(&super::super::catalog_table::id("events")), "{depends_on:?}");
}

#[test]
fn turning_conversion_on_is_an_in_place_change() {
    let before = delivery("");
    let mut after =
        delivery("    format: parquet\n    compression: none\n    buffer: {size_mib: 64, interval_seconds: 300}\n");
    after.schema = Some(Schema { database: "p".into(), table: "events".into() });
    let (live, _) = live_of(&before).describe("d", &names());
    let changes = diff_attributes(&live, &after.attributes(), |field| KIND.forces_replacement(field));
    let fields: Vec<(&str, bool)> = changes.iter().map(|c| (c.path.as_str(), c.forces_replacement)).collect();
    assert_eq!(
        fields,
        [
            ("buffer_size_mib", false),
            ("compression", false),
            ("format", false),
            ("parquet_compression", false),
            ("schema", false)
        ]
    );
}

/// A JSON delivery and the tables over it: `tables` (flow YAML, one per line) in the catalog.
fn json_graph(format: &str, tables: &[&str]) -> Vec<DesiredResource> {
    let tables: String = tables.iter().map(|table| format!("    - {table}\n")).collect();
    let catalog = if tables.is_empty() { String::new() } else { format!("catalog:\n  tables:\n{tables}") };
    let yaml = format!("version: 1\npipeline: p\nregion: eu-west-1\nbuckets: [{{name: lake}}]\nstreams: [{{name: events}}]\ndeliveries:\n  - {{name: d, from: events, to: {{bucket: lake, prefix: 'raw/!{{timestamp:yyyy/MM/dd}}/', error_prefix: errors/}}{format}}}\n  - {{name: other, from: events, to: {{bucket: lake, prefix: other/}}}}\n{catalog}");
    let spec: Spec = serde_saphyr::from_str(&yaml).unwrap();
    assert!(spec::validate(&spec).is_empty(), "{:?}", spec::validate(&spec));
    crate::resources::graph_in(&spec, &crate::iam::Arns::new("123456789012", "eu-west-1"), chrono::Utc::now())
}

fn newline_delimited(graph: &[DesiredResource], name: &str) -> bool {
    graph.iter().find(|n| n.id == id(name)).unwrap().config::<DeliveryConfig>().unwrap().newline_delimited
}

#[test]
fn a_json_delivery_a_table_reads_ends_each_record_with_a_newline() {
    let table = "{name: events, delivery: d, columns: [{name: id, type: string}]}";
    let graph = json_graph("", &[table]);
    assert!(newline_delimited(&graph, "d"));
    assert!(!newline_delimited(&graph, "other"), "no table reads it");
    assert_eq!(graph.iter().find(|n| n.id == id("d")).unwrap().attributes()["newline_delimited"], json!(true));
    assert!(!newline_delimited(&json_graph("", &[]), "d"), "no table, records as they arrive");
    let parquet = ", format: parquet, compression: none, buffer: {size_mib: 128, interval_seconds: 300}";
    let table = "{name: events, delivery: d, format: parquet, columns: [{name: id, type: string}]}";
    assert!(!newline_delimited(&json_graph(parquet, &[table]), "d"), "Parquet files are not lines");
    // What create and update send: the processor with no parameter, or processing off.
    let on = newline_processing(true).unwrap();
    assert_eq!(on.enabled(), Some(true));
    let types: Vec<&ProcessorType> = on.processors().iter().map(|p| p.r#type()).collect();
    assert_eq!(types, [&ProcessorType::AppendDelimiterToRecord]);
    assert!(on.processors()[0].parameters().is_empty());
    let off = newline_processing(false).unwrap();
    assert_eq!((off.enabled(), off.processors().is_empty()), (Some(false), true));
}

#[tokio::test]
async fn the_newline_processor_reads_back_as_asked_and_turning_it_on_is_in_place() {
    // As the console and CloudFormation write it: with the optional Delimiter parameter.
    let processing = r#""ProcessingConfiguration": {"Enabled": true, "Processors": [{"Type": "AppendDelimiterToRecord",
        "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "\\n"}]}]},
            "DataFormatConversionConfiguration""#;
    let body = DESCRIBED.replace(r#""DataFormatConversionConfiguration""#, processing);
    let rule =
        aws_smithy_mocks::mock!(aws_sdk_firehose::Client::describe_delivery_stream).then_http_response(move || {
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(200).unwrap(),
                aws_smithy_types::body::SdkBody::from(body.clone()),
            )
        });
    let (live, _, _) = describe(&firehose_client(&[&rule]), "d").await.unwrap().unwrap();
    assert!(live.newline_delimited);
    let (live, _, _) = describe(&firehose_client(&[&described_rule()]), "d").await.unwrap().unwrap();
    assert!(!live.newline_delimited, "no ProcessingConfiguration, no delimiter");

    let before = delivery("");
    let after = DeliveryConfig { newline_delimited: true, ..before.clone() };
    let (live, _) = live_of(&before).describe("d", &names());
    let changes = diff_attributes(&live, &after.attributes(), |field| KIND.forces_replacement(field));
    let fields: Vec<(&str, bool)> = changes.iter().map(|c| (c.path.as_str(), c.forces_replacement)).collect();
    assert_eq!(fields, [("newline_delimited", false)]);
    let (live, _) = live_of(&after).describe("d", &names());
    assert!(diff_attributes(&live, &after.attributes(), |_| false).is_empty());
}

/// DescribeDeliveryStream answering `DESCRIBED`.
fn described_rule() -> aws_smithy_mocks::Rule {
    aws_smithy_mocks::mock!(aws_sdk_firehose::Client::describe_delivery_stream).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(200).unwrap(),
            aws_smithy_types::body::SdkBody::from(DESCRIBED),
        )
    })
}

/// A delivery still CREATING (an apply interrupted right after its create) cannot be deleted
/// (DeleteDeliveryStream, Amazon Data Firehose API Reference): delete waits for it to leave
/// that state, then deletes it and waits until it is gone.
#[tokio::test]
async fn a_delivery_still_creating_is_deleted_once_it_is_active() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let answer = |status: u16, body: String| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap(),
            aws_smithy_types::body::SdkBody::from(body),
        )
    };
    // Describe answers CREATING, then ACTIVE, then (once deleted) not found.
    let (describes, deleted_after) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(usize::MAX)));
    let (seen, deleted) = (describes.clone(), deleted_after.clone());
    let describe =
        aws_smithy_mocks::mock!(aws_sdk_firehose::Client::describe_delivery_stream).then_http_response(move || {
            match seen.fetch_add(1, Ordering::SeqCst) {
                _ if deleted.load(Ordering::SeqCst) != usize::MAX => {
                    answer(400, r#"{"__type": "ResourceNotFoundException", "message": "not found"}"#.to_string())
                }
                0 => answer(
                    200,
                    DESCRIBED.replace(r#""DeliveryStreamStatus": "ACTIVE""#, r#""DeliveryStreamStatus": "CREATING""#),
                ),
                _ => answer(200, DESCRIBED.to_string()),
            }
        });
    let (seen, deleted) = (describes.clone(), deleted_after.clone());
    let delete =
        aws_smithy_mocks::mock!(aws_sdk_firehose::Client::delete_delivery_stream).then_http_response(move || {
            deleted.store(seen.load(Ordering::SeqCst), Ordering::SeqCst);
            answer(200, "{}".to_string())
        });
    let mut clients = crate::resources::test_support::clients();
    clients.firehose = firehose_client(&[&describe, &delete]);
    let ctx = crate::resources::test_support::context(
        clients,
        std::time::Duration::from_secs(5),
        &crate::model::LiveState::default(),
    );
    let live = LiveResource::new(super::id("d"), "d", Tags::new(), live_of(&delivery("")));
    super::delete(&ctx, &live).await.unwrap();
    // Deleted after the second answer (ACTIVE), never while CREATING; then seen gone.
    assert_eq!((deleted_after.load(Ordering::SeqCst), delete.num_calls()), (2, 1));
    assert_eq!(describes.load(Ordering::SeqCst), 3);
}

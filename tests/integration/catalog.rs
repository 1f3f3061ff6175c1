//! The catalog on a real emulator (Glue on moto in both stacks): a database per pipeline and
//! tables whose location, format, columns and partition projection are derived from the
//! delivery's prefix, read back with the SDK; the JSON delivery the table reads has the newline
//! processor; a column edit is an in-place `UpdateTable`; a
//! table pipectl did not make keeps the database from being dropped without `--allow-destroy`;
//! destroy leaves nothing. A Hive-style prefix (`dt=…/hour=…/`) applies as a table of two
//! partition keys, each projected, with a location template holding both.

use std::collections::HashMap;

use crate::support::{changed_fields, pipectl, plan_actions, runtime, unique, Scratch, Stack};

fn spec(pipeline: &str, extra_column: &str) -> String {
    format!(
        "version: 1
pipeline: {pipeline}
region: us-east-1
buckets: [{{name: {pipeline}-lake}}]
streams: [{{name: {pipeline}-events}}]
deliveries:
  - name: {pipeline}-d
    from: {pipeline}-events
    to: {{bucket: {pipeline}-lake, prefix: 'raw/events/!{{timestamp:yyyy/MM/dd}}/', error_prefix: 'errors/!{{firehose:error-output-type}}/'}}
catalog:
  tags: {{team: data}}
  tables:
    - name: events
      delivery: {pipeline}-d
      since: 2024-01-01
      columns:
        - {{name: user_id, type: string}}
        - {{name: amount, type: 'DECIMAL(10, 2)', comment: euros}}
{extra_column}    - name: sessions
      location: {{bucket: {pipeline}-lake, prefix: curated/sessions/}}
      format: parquet
      columns: [{{name: session_id, type: string}}, {{name: pages, type: 'array<string>'}}]
"
    )
}

/// GetTable: (location, SerDe, columns as `name type`, partition keys, parameters).
type TableView = (String, String, Vec<String>, Vec<String>, HashMap<String, String>);

async fn table(glue: &aws_sdk_glue::Client, database: &str, name: &str) -> TableView {
    let output = glue.get_table().database_name(database).name(name).send().await.expect("GetTable");
    let table = output.table().expect("a table");
    let descriptor = table.storage_descriptor().expect("a storage descriptor");
    let columns = |columns: &[aws_sdk_glue::types::Column]| {
        columns.iter().map(|c| format!("{} {}", c.name(), c.r#type().unwrap_or_default())).collect::<Vec<_>>()
    };
    (
        descriptor.location().unwrap_or_default().to_string(),
        descriptor.serde_info().and_then(|s| s.serialization_library()).unwrap_or_default().to_string(),
        columns(descriptor.columns()),
        columns(table.partition_keys()),
        table.parameters().cloned().unwrap_or_default(),
    )
}

/// The delivery's processing as DescribeDeliveryStream reports it: enabled, and its processors'
/// types.
async fn processors(stack: Stack, name: &str) -> (Option<bool>, Vec<String>) {
    let clients = stack.clients().await;
    let output = clients.firehose.describe_delivery_stream().delivery_stream_name(name).send().await;
    let output = output.expect("DescribeDeliveryStream");
    let description = output.delivery_stream_description().expect("a description");
    let s3 = description.destinations().first().and_then(|d| d.extended_s3_destination_description());
    let processing = s3.and_then(|s3| s3.processing_configuration());
    let types = processing.map(|p| p.processors().iter().map(|p| p.r#type().as_str().to_string()).collect());
    (processing.and_then(|p| p.enabled()), types.unwrap_or_default())
}

fn catalog_lifecycle(stack: Stack) {
    require!(stack);
    let pipeline = unique("catalog", stack);
    let database = pipeline.replace('-', "_");
    let scratch = Scratch::new(&format!("catalog-{}", stack.tag()));
    let file = scratch.write("catalog.yaml", &spec(&pipeline, ""));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);

    let (tags, events, sessions) = runtime().block_on(async {
        let clients = stack.clients().await;
        let found = clients.glue.get_database().name(&database).send().await.expect("GetDatabase");
        let account = found.database().and_then(|d| d.catalog_id()).expect("CatalogId").to_string();
        let arn = format!("arn:aws:glue:us-east-1:{account}:database/{database}");
        let tags = clients.glue.get_tags().resource_arn(&arn).send().await.expect("GetTags");
        let tags = tags.tags().cloned().unwrap_or_default();
        (tags, table(&clients.glue, &database, "events").await, table(&clients.glue, &database, "sessions").await)
    });
    assert_eq!(tags.get("pipectl:pipeline"), Some(&pipeline), "{tags:?}");
    assert_eq!(tags.get("team").map(String::as_str), Some("data"));

    let (location, serde, columns, partitions, parameters) = events;
    assert_eq!(location, format!("s3://{pipeline}-lake/raw/events/"));
    assert_eq!(serde, "org.openx.data.jsonserde.JsonSerDe");
    assert_eq!(columns, ["user_id string", "amount decimal(10,2)"], "types as Glue spells them");
    assert_eq!(partitions, ["dt string"]);
    let projection = |key: &str| parameters.get(key).map(String::as_str).unwrap_or_default().to_string();
    assert_eq!(projection("projection.enabled"), "true");
    assert_eq!(projection("projection.dt.type"), "date");
    assert_eq!(projection("projection.dt.format"), "yyyy/MM/dd");
    assert_eq!(projection("projection.dt.range"), "2024/01/01,NOW");
    assert_eq!(
        (projection("projection.dt.interval"), projection("projection.dt.interval.unit")),
        ("1".into(), "DAYS".into())
    );
    assert_eq!(projection("storage.location.template"), format!("s3://{pipeline}-lake/raw/events/${{dt}}/"));
    assert_eq!(projection("classification"), "json");

    let (location, serde, columns, partitions, parameters) = sessions;
    assert_eq!(location, format!("s3://{pipeline}-lake/curated/sessions/"));
    assert_eq!(serde, "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe");
    assert_eq!(columns, ["session_id string", "pages array<string>"]);
    assert!(partitions.is_empty() && !parameters.contains_key("projection.enabled"), "{parameters:?}");

    // The table reads the JSON delivery line by line: Firehose ends each record with a newline.
    assert_eq!(
        runtime().block_on(processors(stack, &format!("{pipeline}-d"))),
        (Some(true), vec!["AppendDelimiterToRecord".to_string()])
    );
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    // Someone turns processing off: the plan says so, and apply turns it on again in place.
    runtime().block_on(async {
        use aws_sdk_firehose::types::{ExtendedS3DestinationUpdate, ProcessingConfiguration};
        let clients = stack.clients().await;
        let name = format!("{pipeline}-d");
        let output = clients.firehose.describe_delivery_stream().delivery_stream_name(&name).send().await;
        let description = output.expect("DescribeDeliveryStream").delivery_stream_description().cloned().expect("one");
        let destination = description.destinations().first().expect("a destination");
        let s3 = destination.extended_s3_destination_description().expect("an S3 destination");
        // The whole destination, as pipectl sends it: both emulators replace it with the update
        // where AWS merges (localstack/README.md).
        let off = ProcessingConfiguration::builder().enabled(false).build();
        let update = ExtendedS3DestinationUpdate::builder()
            .role_arn(s3.role_arn())
            .bucket_arn(s3.bucket_arn())
            .set_prefix(s3.prefix().map(str::to_string))
            .set_error_output_prefix(s3.error_output_prefix().map(str::to_string))
            .set_buffering_hints(s3.buffering_hints().cloned())
            .compression_format(s3.compression_format().clone())
            .set_encryption_configuration(s3.encryption_configuration().cloned())
            .processing_configuration(off)
            .build();
        let destination = destination.destination_id().to_string();
        let request = clients.firehose.update_destination().delivery_stream_name(&name);
        let request = request.current_delivery_stream_version_id(description.version_id()).destination_id(destination);
        request.extended_s3_destination_update(update).send().await.expect("UpdateDestination");
    });
    let drifted = pipectl(stack, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
    assert_eq!(changed_fields(&drifted, &format!("delivery/{pipeline}-d")), ["newline_delimited"]);
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    assert_eq!(runtime().block_on(processors(stack, &format!("{pipeline}-d"))).0, Some(true));
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // A new column is an in-place UpdateTable that keeps parameters someone else added.
    runtime().block_on(async {
        let clients = stack.clients().await;
        let current = clients.glue.get_table().database_name(&database).name("events").send().await.expect("GetTable");
        let current = current.table().expect("a table");
        let mut parameters = current.parameters().cloned().unwrap_or_default();
        parameters.insert("comment.by.analyst".to_string(), "keep me".to_string());
        let input = aws_sdk_glue::types::TableInput::builder()
            .name("events")
            .set_table_type(current.table_type().map(str::to_string))
            .set_storage_descriptor(current.storage_descriptor().cloned())
            .set_partition_keys(Some(current.partition_keys().to_vec()))
            .set_parameters(Some(parameters))
            .build()
            .expect("input");
        clients.glue.update_table().database_name(&database).table_input(input).send().await.expect("UpdateTable");
    });
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    let file = scratch.write("catalog.yaml", &spec(&pipeline, "        - {name: country, type: string}\n"));
    let plan = pipectl(stack, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
    assert_eq!(plan_actions(&plan), [("catalog_table/events".to_string(), "update".to_string())]);
    assert_eq!(changed_fields(&plan, "catalog_table/events"), ["columns"]);
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let (columns, parameters) = runtime().block_on(async {
        let clients = stack.clients().await;
        let (_, _, columns, _, parameters) = table(&clients.glue, &database, "events").await;
        (columns, parameters)
    });
    assert_eq!(columns, ["user_id string", "amount decimal(10,2)", "country string"]);
    assert_eq!(parameters.get("comment.by.analyst").map(String::as_str), Some("keep me"));
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // A table someone else made in the pipeline's database goes with it: destroy needs consent.
    runtime().block_on(async {
        let clients = stack.clients().await;
        let input = aws_sdk_glue::types::TableInput::builder().name("adhoc").build().expect("input");
        clients.glue.create_table().database_name(&database).table_input(input).send().await.expect("CreateTable");
    });
    let refused = pipectl(stack, &["destroy", "-f", &file, "--auto-approve"]).expect(1);
    assert!(refused.stderr.contains("adhoc"), "the table that would be lost is named:\n{}", refused.stderr);
    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    let read = runtime().block_on(async { stack.clients().await.glue.get_database().name(&database).send().await });
    crate::support::assert_gone(&format!("database {database}"), read, crate::support::not_found::GLUE);
    let left = runtime().block_on(crate::remains::remains(stack, &pipeline, std::slice::from_ref(&database)));
    assert!(left.is_empty(), "destroy leaves nothing of {pipeline}: {left:#?}");
}

on_both_stacks!(catalog_lifecycle);

/// A delivery writing Hive-style day and hour folders, and the table over it.
fn hive_spec(pipeline: &str) -> String {
    format!(
        "version: 1
pipeline: {pipeline}
region: us-east-1
buckets: [{{name: {pipeline}-lake}}]
streams: [{{name: {pipeline}-s}}]
deliveries:
  - name: {pipeline}-d
    from: {pipeline}-s
    to: {{bucket: {pipeline}-lake, prefix: 'events/dt=!{{timestamp:yyyy-MM-dd}}/hour=!{{timestamp:HH}}/', error_prefix: 'errors/!{{firehose:error-output-type}}/'}}
catalog:
  tables:
    - name: events
      delivery: {pipeline}-d
      since: 2024-01-01
      columns: [{{name: user_id, type: string}}]
"
    )
}

fn hive_partitions(stack: Stack) {
    require!(stack);
    let pipeline = unique("parts", stack);
    let database = pipeline.replace('-', "_");
    let scratch = Scratch::new(&format!("partitions-hive-{}", stack.tag()));
    let file = scratch.write("hive.yaml", &hive_spec(&pipeline));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let (location, _, _, partitions, parameters) = runtime().block_on(async {
        let clients = stack.clients().await;
        table(&clients.glue, &database, "events").await
    });
    assert_eq!(location, format!("s3://{pipeline}-lake/events/"));
    assert_eq!(partitions, ["dt string", "hour string"]);
    let projection: std::collections::BTreeMap<&str, &str> = parameters
        .iter()
        .filter(|(key, _)| key.starts_with("projection.") || key.starts_with("storage."))
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    let template = format!("s3://{pipeline}-lake/events/dt=${{dt}}/hour=${{hour}}/");
    assert_eq!(
        projection,
        std::collections::BTreeMap::from([
            ("projection.enabled", "true"),
            ("projection.dt.type", "date"),
            ("projection.dt.format", "yyyy-MM-dd"),
            ("projection.dt.range", "2024-01-01,NOW"),
            ("projection.dt.interval", "1"),
            ("projection.dt.interval.unit", "DAYS"),
            ("projection.hour.type", "integer"),
            ("projection.hour.range", "0,23"),
            ("projection.hour.digits", "2"),
            ("storage.location.template", template.as_str()),
        ])
    );
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    let left = runtime().block_on(crate::remains::remains(stack, &pipeline, std::slice::from_ref(&database)));
    assert!(left.is_empty(), "destroy leaves nothing of {pipeline}: {left:#?}");
}

on_both_stacks!(hive_partitions);

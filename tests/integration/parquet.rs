//! The lake's Parquet path on a real emulator (Firehose, Glue, EMR and IAM on moto in both
//! stacks): a `format: parquet` delivery converts with its catalog table's columns, and a cluster
//! with `use_glue_catalog` gets the Glue metastore classifications. Read back with the SDK: the
//! delivery's conversion configuration pointing at the table, the cluster's configurations, the
//! Glue statements of both derived roles. Changing the Parquet compression is an in-place
//! UpdateDestination; the plan converges; destroy leaves no delivery, cluster, role or database.

use serde_json::{json, Value};

use crate::support::{changed_fields, pipectl, plan_actions, runtime, unique, Scratch, Stack};

const FACTORY: &str = "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory";

fn spec(pipeline: &str, parquet_compression: &str) -> String {
    format!(
        "version: 1
pipeline: {pipeline}
region: us-east-1
network:
  vpc: {{cidr: 10.61.0.0/16}}
  subnets: [{{name: private-a, cidr: 10.61.1.0/24, availability_zone: us-east-1a}}]
  endpoints: [s3, glue]   # the Glue-catalog cluster reaches Glue through it
buckets: [{{name: {pipeline}-lake}}]
streams: [{{name: {pipeline}-events}}]
deliveries:
  - name: {pipeline}-d
    from: {pipeline}-events
    to: {{bucket: {pipeline}-lake, prefix: 'raw/events/!{{timestamp:yyyy/MM/dd}}/', error_prefix: 'errors/!{{firehose:error-output-type}}/'}}
    format: parquet
    compression: none
    parquet_compression: {parquet_compression}
    buffer: {{size_mib: 128, interval_seconds: 300}}
clusters:
  - name: spark
    release: emr-7.2.0
    applications: [Spark, Hive]
    subnet: private-a
    master: {{type: m5.xlarge}}
    core: {{type: m5.xlarge, nodes: 1}}
    use_glue_catalog: true
    configurations:
      - {{classification: spark-hive-site, properties: {{hive.metastore.glue.catalogid: '000000000000'}}}}
catalog:
  tables:
    - name: events
      delivery: {pipeline}-d
      format: parquet
      columns: [{{name: user_id, type: string}}, {{name: amount, type: 'decimal(10,2)'}}]
"
    )
}

/// The conversion as DescribeDeliveryStream reports it: (enabled, database, table, role ARN,
/// deserializer is OpenX, Parquet compression), and the destination's S3 compression.
type Conversion = (Option<bool>, String, String, String, bool, Option<String>, String);

async fn conversion(stack: Stack, name: &str) -> Option<Conversion> {
    let clients = stack.clients().await;
    let read = clients.firehose.describe_delivery_stream().delivery_stream_name(name).send().await;
    let output = crate::support::found(&format!("delivery {name}"), read, crate::support::not_found::RESOURCE)?;
    let description = output.delivery_stream_description()?;
    let s3 = description.destinations().first()?.extended_s3_destination_description()?;
    let conversion = s3.data_format_conversion_configuration()?;
    let schema = conversion.schema_configuration()?;
    let open_x = conversion
        .input_format_configuration()
        .and_then(|input| input.deserializer())
        .is_some_and(|deserializer| deserializer.open_x_json_ser_de().is_some());
    let parquet = conversion.output_format_configuration()?.serializer()?.parquet_ser_de()?;
    Some((
        conversion.enabled(),
        schema.database_name()?.to_string(),
        schema.table_name()?.to_string(),
        schema.role_arn()?.to_string(),
        open_x,
        parquet.compression().map(|c| c.as_str().to_string()),
        s3.compression_format().as_str().to_string(),
    ))
}

async fn role_policy(stack: Stack, role: &str) -> Value {
    let clients = stack.clients().await;
    let output =
        clients.iam.get_role_policy().role_name(role).policy_name("pipectl").send().await.expect("GetRolePolicy");
    let text = pipectl::iam::percent_decode(output.policy_document());
    serde_json::from_str(&text).expect("a policy document")
}

fn statement(policy: &Value, sid: &str) -> Value {
    policy["Statement"].as_array().into_iter().flatten().find(|s| s["Sid"] == sid).cloned().unwrap_or(Value::Null)
}

/// The cluster's configurations as EMR holds them: classification → properties.
async fn cluster_configurations(stack: Stack, pipeline: &str) -> Option<Vec<(String, Value)>> {
    let clients = stack.clients().await;
    let clusters = pipectl::resources::cluster::list_active(&clients.emr, &format!("{pipeline}-spark")).await;
    let (id, _) = clusters.expect("ListClusters").into_iter().next()?;
    let described = clients.emr.describe_cluster().cluster_id(&id).send().await.expect("DescribeCluster");
    let cluster = described.cluster().expect("DescribeCluster returns the cluster").clone();
    let mut configurations: Vec<(String, Value)> = cluster
        .configurations()
        .iter()
        .map(|c| (c.classification().unwrap_or_default().to_string(), json!(c.properties())))
        .collect();
    configurations.sort_by(|a, b| a.0.cmp(&b.0));
    Some(configurations)
}

fn parquet_lifecycle(stack: Stack) {
    require!(stack);
    let pipeline = unique("parquet", stack);
    let database = pipeline.replace('-', "_");
    let delivery = format!("{pipeline}-d");
    let scratch = Scratch::new(&format!("parquet-{}", stack.tag()));
    let file = scratch.write("parquet.yaml", &spec(&pipeline, "snappy"));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);

    let delivery_role = format!("{pipeline}-{delivery}-firehose-use1");
    let (held, firehose_policy, instance_policy, configurations) = runtime().block_on(async {
        (
            conversion(stack, &delivery).await,
            role_policy(stack, &delivery_role).await,
            role_policy(stack, &format!("{pipeline}-spark-emr-ec2-use1")).await,
            cluster_configurations(stack, &pipeline).await,
        )
    });
    let (enabled, held_database, table, role_arn, open_x, compression, s3_compression) =
        held.expect("the delivery converts");
    assert_eq!(enabled, Some(true));
    assert_eq!((held_database.as_str(), table.as_str()), (database.as_str(), "events"), "the catalog table");
    assert!(role_arn.ends_with(&format!("/{delivery_role}")), "the delivery's own role reads the schema: {role_arn}");
    assert!(open_x, "JSON in through the OpenX SerDe");
    assert_eq!(compression.as_deref(), Some("SNAPPY"));
    assert_eq!(s3_compression, "UNCOMPRESSED");

    // The account pipectl derives ARNs in (STS's), which the role ARN shows.
    let account = role_arn.split(':').nth(4).unwrap_or_default();
    let glue = format!("arn:aws:glue:us-east-1:{account}");
    assert_eq!(
        statement(&firehose_policy, "ReadConversionSchema"),
        json!({"Sid": "ReadConversionSchema", "Effect": "Allow",
            "Action": ["glue:GetTable", "glue:GetTableVersion", "glue:GetTableVersions"],
            "Resource": [format!("{glue}:catalog"), format!("{glue}:database/{database}"), format!("{glue}:table/{database}/events")]})
    );
    assert_eq!(
        statement(&instance_policy, "ReadPipelineDatabase")["Resource"],
        json!([format!("{glue}:catalog"), format!("{glue}:database/default"), format!("{glue}:database/{database}")])
    );
    assert_eq!(
        statement(&instance_policy, "CreateDefaultDatabase")["Resource"],
        json!([format!("{glue}:catalog"), format!("{glue}:database/default")])
    );
    assert_eq!(
        statement(&instance_policy, "UsePipelineTables")["Resource"],
        json!([format!("{glue}:catalog"), format!("{glue}:database/{database}"), format!("{glue}:table/{database}/*")])
    );
    assert_eq!(
        configurations.expect("the cluster exists"),
        [
            ("hive-site".to_string(), json!({"hive.metastore.client.factory.class": FACTORY})),
            (
                "spark-hive-site".to_string(),
                json!({"hive.metastore.client.factory.class": FACTORY, "hive.metastore.glue.catalogid": "000000000000"})
            ),
        ],
        "the user's spark-hive-site keeps its property and gains the factory"
    );
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // Another Parquet compression is an UpdateDestination of the same delivery.
    let file = scratch.write("parquet.yaml", &spec(&pipeline, "gzip"));
    let plan = pipectl(stack, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
    assert_eq!(plan_actions(&plan), [(format!("delivery/{delivery}"), "update".to_string())]);
    assert_eq!(changed_fields(&plan, &format!("delivery/{delivery}")), ["parquet_compression"]);
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let held = runtime().block_on(conversion(stack, &delivery)).expect("the delivery converts");
    assert_eq!((held.2.as_str(), held.5.as_deref()), ("events", Some("GZIP")));
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    // Nothing remains: the delivery and its role, the cluster, the database (every list paged).
    let left = runtime().block_on(crate::remains::remains(stack, &pipeline, std::slice::from_ref(&database)));
    assert!(left.is_empty(), "destroy leaves nothing of {pipeline} ({delivery}, {delivery_role}): {left:#?}");
    let role =
        runtime().block_on(async { stack.clients().await.iam.get_role().role_name(&delivery_role).send().await });
    crate::support::assert_gone(&format!("role {delivery_role}"), role, crate::support::not_found::IAM);
}

on_both_stacks!(parquet_lifecycle);

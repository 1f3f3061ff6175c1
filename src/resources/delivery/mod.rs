//! Firehose delivery streams from a Kinesis stream to the S3 data lake. Buffering, compression,
//! prefixes and encryption change in place with UpdateDestination (using the version and
//! destination ids read at plan time); a new source stream or role replaces the delivery, which
//! loses the records it still buffers, and the plan says so. A delivery that names no role gets
//! one derived for it, least privilege, built here with its delivery.
//!
//! A `format: parquet` delivery has Firehose convert the JSON records to Parquet with the columns
//! of its catalog table ("Converting input data format in Amazon Data Firehose"): the OpenX JSON
//! deserializer in, the Parquet serializer out, the schema read from Glue by the delivery's role,
//! which gains exactly `glue:GetTable`, `GetTableVersion` and `GetTableVersions` on that table.
//! Turning conversion on or off, or changing the Parquet compression, is an UpdateDestination.
//!
//! A JSON delivery that a catalog table reads ends every record with a newline: Firehose writes
//! the records back to back unless an `AppendDelimiterToRecord` processor is configured
//! (Firehose API Reference, `Processor`), and the table's OpenX JSON SerDe reads one record per
//! line (Athena User Guide, "Query JSON data"). The processor is sent at create and changes in
//! place with UpdateDestination, like the rest of the destination.

use aws_sdk_firehose::types::{
    BufferingHints, CompressionFormat, DeliveryStreamStatus, DeliveryStreamType, EncryptionConfiguration,
    ExtendedS3DestinationConfiguration, ExtendedS3DestinationUpdate, KinesisStreamSourceConfiguration,
    KmsEncryptionConfig, NoEncryptionConfig, Tag,
};
use serde_json::{json, Value};

use super::kit::named::{tags_paged_by_key, TAGS_PER_PAGE};
use super::kit::tag_index::Indexed;
use super::kit::wait::{wait_until, Poll};
use super::kit::{
    aws_error, build_error, retry_while_role_propagates, AwsError, Clients, Context, Grant, GrantContext, Limiter,
    LiveResource, NamedRead, Ownership, ReadContext, ResourceKind, Tags, WITH_PIPECTL_ADOPT,
};
use super::kit::{Fact, Health, Metric, Output, Statistic};
use crate::iam::Arns;
use crate::model::{
    Action, Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::names::derived_delivery_role;
use crate::pricing::{self, CostLine, Prices};
use crate::spec::{self, Compression, DeliveryEncryption, TableFormat};

// The deployer grants live beside this file, which is over 900 lines already.
mod format;
mod grants;
mod policy;
mod redshift;

pub use redshift::WarehouseLoad;

use format::{
    conversion, conversion_of, live_conversion, live_newline, newline_processing, read_as_json_lines, schema_statement,
};

pub struct Delivery;
pub const KIND: Kind = Kind::of(&Delivery);

/// How the tag index lists deliveries: `arn:aws:firehose:<region>:<account>:deliverystream/<name>`,
/// by the service filter (Firehose has no other taggable type) because moto ignores
/// `firehose:deliverystream`.
const INDEXED: Indexed = Indexed::new("firehose", "firehose", "deliverystream/");

/// A delivery is named in the spec by its Firehose name.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// The role a delivery uses: the one it names, or the one derived for it.
pub fn delivery_role_id(delivery: &spec::Delivery) -> ResourceId {
    super::role::id(&delivery.role.clone().unwrap_or_else(|| derived_delivery_role(&delivery.name)))
}

/// What a delivery is built from: the spec's delivery, and for `format: parquet` the catalog
/// table whose columns Firehose converts with.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub delivery: spec::Delivery,
    pub schema: Option<Schema>,
    /// A JSON delivery a catalog table reads: Firehose ends each record with a newline.
    pub newline_delimited: bool,
    /// Set when the delivery loads into a warehouse rather than writing to the lake.
    pub load: Option<WarehouseLoad>,
}

/// A Glue table of the pipeline's catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub database: String,
    pub table: String,
}

impl Schema {
    /// `database.table`, as plans show it and as the catalog table's physical id is written.
    fn qualified(&self) -> String {
        format!("{}.{}", self.database, self.table)
    }
}

/// Record format conversion as DescribeDeliveryStream reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConversion {
    pub schema: Schema,
    /// `snappy`, `gzip` or `uncompressed`: AWS's `ParquetSerDe.Compression`, lower case.
    pub parquet_compression: String,
}

#[derive(Debug, Clone)]
pub struct Live {
    /// DescribeDeliveryStream's `DeliveryStreamARN`.
    pub arn: String,
    pub version_id: String,
    pub destination_id: String,
    pub source_stream_arn: String,
    pub role_arn: String,
    pub bucket_arn: String,
    pub prefix: String,
    pub error_prefix: Option<String>,
    pub compression: String,
    pub buffer_size_mib: i64,
    pub buffer_interval_seconds: i64,
    pub kms_key: Option<String>,
    /// Set when conversion to Parquet is configured and enabled.
    pub conversion: Option<LiveConversion>,
    /// Processing is enabled with an `AppendDelimiterToRecord` processor.
    pub newline_delimited: bool,
    /// Set when the destination is Redshift.
    pub load: Option<redshift::LiveLoad>,
    /// Set when the delivery stream ended in a failed state, with the reason AWS gives.
    pub failed: Option<String>,
}

fn compression_format(compression: Compression) -> CompressionFormat {
    match compression {
        Compression::Gzip => CompressionFormat::Gzip,
        Compression::None => CompressionFormat::Uncompressed,
        Compression::Snappy => CompressionFormat::Snappy,
        Compression::Zip => CompressionFormat::Zip,
        Compression::HadoopSnappy => CompressionFormat::HadoopSnappy,
    }
}

fn compression_name(format: &CompressionFormat) -> String {
    match format {
        CompressionFormat::Gzip => "gzip".to_string(),
        CompressionFormat::Uncompressed => "none".to_string(),
        CompressionFormat::Snappy => "snappy".to_string(),
        CompressionFormat::Zip => "zip".to_string(),
        CompressionFormat::HadoopSnappy => "hadoop-snappy".to_string(),
        other => other.as_str().to_lowercase(),
    }
}

/// The policy of the role derived for a delivery: `policy::role_policy`, and the schema
/// statement when it converts.
fn derived_policy(config: &DeliveryConfig, source: &spec::Stream, bucket: Option<&spec::Bucket>, arns: &Arns) -> Value {
    let mut policy = policy::role_policy(&config.delivery, source, bucket, arns);
    let Some(statements) = policy["Statement"].as_array_mut() else { return policy };
    if let Some((schema, _)) = conversion_of(config) {
        statements.push(schema_statement(schema, arns));
    }
    if let Some(load) = &config.load {
        let staged = policy::object_arn(&arns.bucket(&config.delivery.to.bucket), &config.delivery.to.prefix);
        statements.extend(redshift::load_statements(load, &staged, arns));
    }
    policy
}

/// The last segment of an ARN (`…:stream/name` → `name`, `…:::bucket` → `bucket`).
fn arn_name(arn: &str) -> &str {
    arn.rsplit(['/', ':']).next().unwrap_or(arn)
}

impl DesiredConfig for DeliveryConfig {
    fn attributes(&self) -> Attributes {
        let delivery = &self.delivery;
        let kms_key = (delivery.encryption == DeliveryEncryption::Kms).then(|| delivery.kms_key.clone()).flatten();
        let conversion = conversion_of(self);
        Attributes::from([
            ("source_stream".to_string(), json!(delivery.from)),
            ("role".to_string(), json!(delivery_role_id(delivery).name)),
            ("bucket".to_string(), json!(delivery.to.bucket)),
            ("prefix".to_string(), json!(delivery.to.prefix)),
            ("error_prefix".to_string(), json!(delivery.to.error_prefix)),
            ("compression".to_string(), json!(delivery.compression.as_str())),
            ("buffer_size_mib".to_string(), json!(delivery.buffer.size_mib)),
            ("buffer_interval_seconds".to_string(), json!(delivery.buffer.interval_seconds)),
            ("kms_key".to_string(), json!(kms_key)),
            ("format".to_string(), json!(if conversion.is_some() { "parquet" } else { "json" })),
            ("parquet_compression".to_string(), json!(conversion.map(|(_, compression)| compression.as_str()))),
            ("schema".to_string(), json!(conversion.map(|(schema, _)| schema.qualified()))),
            ("newline_delimited".to_string(), json!(self.newline_delimited)),
            ("warehouse".to_string(), json!(self.load.as_ref().map(|load| &load.warehouse))),
            ("table".to_string(), json!(self.load.as_ref().map(|load| &load.table))),
            ("columns".to_string(), json!(self.load.as_ref().map(WarehouseLoad::column_list))),
            ("retry_seconds".to_string(), json!(self.load.as_ref().map(|load| load.retry_seconds))),
        ])
    }
}

impl LiveDetail for Live {
    /// The stream, bucket and role are named by ARN: their names, and the resources of the
    /// pipeline they are, come from the last segment.
    fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let stream = arn_name(&self.source_stream_arn).to_string();
        let bucket = arn_name(&self.bucket_arn).to_string();
        let role = arn_name(&self.role_arn);
        let attributes = Attributes::from([
            ("source_stream".to_string(), json!(stream)),
            ("role".to_string(), json!(names.name(role))),
            ("bucket".to_string(), json!(bucket)),
            ("prefix".to_string(), json!(self.prefix)),
            ("error_prefix".to_string(), json!(self.error_prefix)),
            ("compression".to_string(), json!(self.compression)),
            ("buffer_size_mib".to_string(), json!(self.buffer_size_mib)),
            ("buffer_interval_seconds".to_string(), json!(self.buffer_interval_seconds)),
            ("kms_key".to_string(), json!(self.kms_key)),
            ("format".to_string(), json!(if self.conversion.is_some() { "parquet" } else { "json" })),
            ("parquet_compression".to_string(), json!(self.conversion.as_ref().map(|c| &c.parquet_compression))),
            ("schema".to_string(), json!(self.conversion.as_ref().map(|c| c.schema.qualified()))),
            ("newline_delimited".to_string(), json!(self.newline_delimited)),
            ("warehouse".to_string(), json!(self.load.as_ref().map(|load| &load.warehouse))),
            ("table".to_string(), json!(self.load.as_ref().map(|load| &load.table))),
            ("columns".to_string(), json!(self.load.as_ref().map(|load| &load.columns))),
            ("retry_seconds".to_string(), json!(self.load.as_ref().map(|load| load.retry_seconds))),
            ("status".to_string(), json!(self.failed)),
        ]);
        let schema = self.conversion.as_ref().map(|conversion| conversion.schema.qualified());
        let warehouse = self.load.as_ref().map(|load| load.warehouse.as_str());
        let depends_on = [Some(stream.as_str()), Some(bucket.as_str()), Some(role), schema.as_deref(), warehouse]
            .into_iter()
            .flatten()
            .filter_map(|physical| names.id(physical).cloned())
            .collect();
        (attributes, depends_on)
    }

    fn holds_data(&self) -> Option<String> {
        Some("records still buffered in the delivery stream are lost".to_string())
    }
}

impl KindRules for Delivery {
    fn name(&self) -> &'static str {
        "delivery"
    }
    fn rank(&self) -> u8 {
        80
    }
    fn forces_replacement(&self, field: &str) -> bool {
        ["source_stream", "role", "status", "warehouse"].contains(&field)
    }
    fn change_notes(&self, action: Action, before: Option<&Attributes>, _after: Option<&Attributes>) -> Vec<String> {
        let failed = before.and_then(|attributes| attributes.get("status")).is_some_and(|status| !status.is_null());
        match action {
            Action::Replace if failed => vec!["the delivery stream failed in AWS and is created again".to_string()],
            Action::Replace => vec!["Firehose cannot change a delivery's source stream or role in place, and pipectl moves it to another warehouse (or between S3 and Redshift) by creating it again: the delivery stream is deleted and created again".to_string()],
            _ => Vec::new(),
        }
    }
}

impl ResourceKind for Delivery {
    type Desired = DeliveryConfig;
    type Live = Live;
    const KIND: Kind = KIND;
    const INDEXED: Option<&'static Indexed> = Some(&INDEXED);

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let spec = graph.spec;
        let mut nodes = Vec::new();
        for delivery in &spec.deliveries {
            let schema = spec::conversion_table(spec, delivery)
                .map(|(database, table)| Schema { database, table: table.name.clone() });
            let newline_delimited = read_as_json_lines(spec, delivery);
            let load = WarehouseLoad::of(spec, delivery);
            let config = DeliveryConfig { delivery: delivery.clone(), schema, newline_delimited, load };
            let role_id = delivery_role_id(delivery);
            if delivery.role.is_none() {
                let Some(source) = spec.streams.iter().find(|stream| stream.name == delivery.from) else { continue };
                let bucket = spec.buckets.iter().find(|bucket| bucket.name == delivery.to.bucket);
                let policy = derived_policy(&config, source, bucket, graph.arns);
                let trust = crate::iam::derived_trust_policy(graph.arns, "firehose", None);
                let role = super::role::config(graph, &role_id.name, trust, Some(policy), &[]);
                nodes.push(graph.node(role_id.clone(), &delivery.tags, vec![], role));
            }
            let mut depends_on =
                vec![super::stream::id(&delivery.from), super::bucket::id(&delivery.to.bucket), role_id];
            // Firehose reads the schema when it converts: the table exists first, and goes last.
            depends_on.extend(config.schema.iter().map(|schema| super::catalog_table::id(&schema.table)));
            // A load signs in with the warehouse's secret into its table, created first.
            depends_on.extend(
                config
                    .load
                    .iter()
                    .flat_map(|load| [super::warehouse::id(&load.warehouse), super::secret::id(&load.secret)]),
            );
            let id = id(&delivery.name);
            nodes.push(graph.node(id.clone(), &delivery.tags, depends_on, config));
            if let Some(alarms) = spec::enabled_alarms(spec) {
                let derived = spec::delivery_alarms(alarms, delivery);
                nodes.extend(super::alarm::nodes(graph, derived, &id, &delivery.name, &delivery.name));
            }
        }
        nodes
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        self::read(read).await
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &DeliveryConfig,
    ) -> Result<String, AwsError> {
        create(ctx, resource, desired).await
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &DeliveryConfig,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        update(ctx, resource, desired, live, detail).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        delete(ctx, live).await
    }

    const ADOPTABLE: bool = true;

    /// TagDeliveryStream adds or updates the given tags only, up to 50 per call.
    async fn adopt(
        &self,
        clients: &Clients,
        live: &LiveResource,
        _detail: &Live,
        ownership: &Tags,
    ) -> Result<(), AwsError> {
        let id = &live.id;
        let tags = ownership
            .iter()
            .map(|(key, value)| aws_sdk_firehose::types::Tag::builder().key(key).value(value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| build_error(id, "TagDeliveryStream", error))?;
        clients
            .firehose
            .tag_delivery_stream()
            .delivery_stream_name(&live.physical_id)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|error| aws_error(id, "TagDeliveryStream", error))?;
        Ok(())
    }

    /// Rates: per GB ingested, and per GB converted when it writes Parquet.
    fn cost(&self, resource: &DesiredResource, desired: &DeliveryConfig, prices: &Prices) -> Vec<CostLine> {
        let name = resource.id.to_string();
        let mut lines =
            vec![pricing::rate(&name, "Firehose ingestion", "GB ingested", prices.figure("firehose_ingested_gb"))];
        if desired.delivery.format == TableFormat::Parquet {
            let conversion = prices.figure("firehose_format_conversion_gb");
            lines.push(pricing::rate(&name, "Firehose conversion to Parquet", "GB converted", conversion));
        }
        lines
    }

    fn outputs(&self, live: &LiveResource, detail: &Live, _arns: &Arns) -> Vec<Output> {
        vec![Output::new("name", &live.physical_id), Output::new("arn", &detail.arn)]
    }

    /// From CloudWatch: the age of the oldest record not yet in S3 (Firehose's freshness), the
    /// worst minute's share of S3 puts that succeeded, and the records delivered; a delivery that
    /// failed is a problem.
    fn health(&self, live: &LiveResource, detail: &Live) -> Option<Health> {
        Some(Health {
            facts: vec![Fact::new("into", &detail.bucket_arn)],
            metrics: Metric::of(
                "AWS/Firehose",
                ("DeliveryStreamName", &live.physical_id),
                &[
                    ("freshness max (s)", "DeliveryToS3.DataFreshness", Statistic::Maximum),
                    ("S3 put success min (ratio)", "DeliveryToS3.Success", Statistic::Minimum),
                    ("records delivered", "DeliveryToS3.Records", Statistic::Sum),
                ],
            ),
            problems: detail.failed.iter().map(|failed| format!("the delivery is {failed}")).collect(),
        })
    }

    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        grants::grants(ctx)
    }
}

/// The status of delivery stream `name` (`ACTIVE`, `CREATING`, …, with AWS's reason when it
/// failed), or None when there is none (`pipectl verify` says so rather than wait for nothing).
pub async fn status(clients: &Clients, name: &str) -> Result<Option<String>, AwsError> {
    Ok(describe(&clients.firehose, name).await?.map(|(_, status, failure)| match failure {
        Some(reason) => format!("{} ({reason})", status.as_str()),
        None => status.as_str().to_string(),
    }))
}

/// What DescribeDeliveryStream says: the live configuration and the status.
async fn describe(
    firehose: &aws_sdk_firehose::Client,
    name: &str,
) -> Result<Option<(Live, DeliveryStreamStatus, Option<String>)>, AwsError> {
    let output = match firehose.describe_delivery_stream().delivery_stream_name(name).send().await {
        Ok(output) => output,
        Err(error) => {
            let error = aws_error(format!("delivery/{name}"), "DescribeDeliveryStream", error);
            return if error.is_not_found() { Ok(None) } else { Err(error) };
        }
    };
    let Some(description) = output.delivery_stream_description() else { return Ok(None) };
    let failure = description
        .failure_description()
        .map(|failure| format!("{}: {}", failure.r#type().as_str(), failure.details()));
    let status = description.delivery_stream_status();
    let failed =
        matches!(status, DeliveryStreamStatus::CreatingFailed | DeliveryStreamStatus::DeletingFailed).then(|| {
            match &failure {
                Some(reason) => format!("{} ({reason})", status.as_str()),
                None => status.as_str().to_string(),
            }
        });
    let source = description.source().and_then(|source| source.kinesis_stream_source_description());
    let destination = description.destinations().first();
    let s3 = destination.and_then(|destination| destination.extended_s3_destination_description());
    let redshift = destination.and_then(|destination| destination.redshift_destination_description());
    // A Redshift destination stages under an S3 destination of its own.
    let staging = redshift.and_then(|redshift| redshift.s3_destination_description());
    let staged = |extended: Option<&str>, staged: Option<&str>| extended.or(staged).unwrap_or_default().to_string();
    let hints = s3.and_then(|s3| s3.buffering_hints()).or(staging.and_then(|s| s.buffering_hints()));
    let encryption =
        s3.and_then(|s3| s3.encryption_configuration()).or(staging.and_then(|s| s.encryption_configuration()));
    let compression = s3.map(|s3| s3.compression_format()).or(staging.map(|s| s.compression_format()));
    let error_prefix = s3.and_then(|s3| s3.error_output_prefix()).or(staging.and_then(|s| s.error_output_prefix()));
    let role = source.and_then(|s| s.role_arn()).or(s3.map(|s3| s3.role_arn())).or(redshift.map(|r| r.role_arn()));
    let live = Live {
        arn: description.delivery_stream_arn().to_string(),
        version_id: description.version_id().to_string(),
        destination_id: destination.map(|d| d.destination_id().to_string()).unwrap_or_default(),
        source_stream_arn: source.and_then(|s| s.kinesis_stream_arn()).unwrap_or_default().to_string(),
        role_arn: role.unwrap_or_default().to_string(),
        bucket_arn: staged(s3.map(|s3| s3.bucket_arn()), staging.map(|s| s.bucket_arn())),
        prefix: staged(s3.and_then(|s3| s3.prefix()), staging.and_then(|s| s.prefix())),
        error_prefix: error_prefix.filter(|p| !p.is_empty()).map(str::to_string),
        compression: compression.map(compression_name).unwrap_or_default(),
        buffer_size_mib: i64::from(hints.and_then(|h| h.size_in_mbs()).unwrap_or(5)),
        buffer_interval_seconds: i64::from(hints.and_then(|h| h.interval_in_seconds()).unwrap_or(300)),
        kms_key: encryption.and_then(|e| e.kms_encryption_config()).map(|kms| kms.awskms_key_arn().to_string()),
        conversion: s3.and_then(|s3| s3.data_format_conversion_configuration()).and_then(live_conversion),
        newline_delimited: s3.and_then(|s3| s3.processing_configuration()).is_some_and(live_newline),
        load: redshift.map(redshift::live_load),
        failed,
    };
    Ok(Some((live, description.delivery_stream_status().clone(), failure)))
}

async fn tags(firehose: &aws_sdk_firehose::Client, name: &str) -> Result<Ownership, AwsError> {
    let resource = format!("delivery/{name}");
    let tags = tags_paged_by_key(&resource, "ListTagsForDeliveryStream", |start| async move {
        let output = firehose
            .list_tags_for_delivery_stream()
            .delivery_stream_name(name)
            .limit(TAGS_PER_PAGE)
            .set_exclusive_start_tag_key(start)
            .send()
            .await
            .map_err(|error| aws_error(format!("delivery/{name}"), "ListTagsForDeliveryStream", error))?;
        let page = output.tags().iter().map(|tag| (tag.key().to_string(), tag.value().unwrap_or_default().to_string()));
        Ok((page.collect(), output.has_more_tags()))
    })
    .await;
    tags.map(Ownership::Tagged).or_else(|error| error.unless_not_found(Ownership::Absent))
}

async fn list_delivery_names(firehose: &aws_sdk_firehose::Client, limits: &Limiter) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        limits.pace("firehose:ListDeliveryStreams").await;
        let output = firehose
            .list_delivery_streams()
            .set_exclusive_start_delivery_stream_name(start.clone())
            .send()
            .await
            .map_err(|error| aws_error("delivery", "ListDeliveryStreams", error))?;
        names.extend(output.delivery_stream_names().iter().cloned());
        if !output.has_more_delivery_streams() || output.delivery_stream_names().is_empty() {
            return Ok(names);
        }
        start = names.last().cloned();
    }
}

/// Reads the spec's deliveries by name, and finds the pipeline's others by the tag index, at
/// AWS's rates.
async fn read(read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
    let (firehose, limits) = (&read.clients.firehose, &read.clients.limits);
    read.named(KIND, WITH_PIPECTL_ADOPT)
        .read(
            read.discover(KIND, &INDEXED, list_delivery_names(firehose, limits)),
            |name| async move {
                limits.pace("firehose:ListTagsForDeliveryStream").await;
                tags(firehose, &name).await
            },
            |name, _| async move {
                limits.pace("firehose:DescribeDeliveryStream").await;
                Ok(describe(firehose, &name).await?.map(|(live, _, _)| live))
            },
        )
        .await
}

fn encryption(id: &ResourceId, delivery: &spec::Delivery) -> Result<EncryptionConfiguration, AwsError> {
    let builder = EncryptionConfiguration::builder();
    Ok(match (&delivery.encryption, &delivery.kms_key) {
        (DeliveryEncryption::Kms, Some(key)) => builder
            .kms_encryption_config(
                KmsEncryptionConfig::builder()
                    .awskms_key_arn(key)
                    .build()
                    .map_err(|e| build_error(id, "KMSEncryptionConfig", e))?,
            )
            .build(),
        _ => builder.no_encryption_config(NoEncryptionConfig::NoEncryption).build(),
    })
}

fn buffering(delivery: &spec::Delivery) -> BufferingHints {
    BufferingHints::builder()
        .size_in_mbs(i32::try_from(delivery.buffer.size_mib).unwrap_or(5))
        .interval_in_seconds(i32::try_from(delivery.buffer.interval_seconds).unwrap_or(300))
        .build()
}

async fn create(ctx: &Context, resource: &DesiredResource, config: &DeliveryConfig) -> Result<String, AwsError> {
    let delivery = &config.delivery;
    let id = &resource.id;
    let firehose = &ctx.clients.firehose;
    let role_name = ctx.physical_id(&delivery_role_id(delivery))?;
    let role_arn = ctx.arns.role(&ctx.roles_path, &role_name);
    let stream_arn = ctx.arns.stream(&delivery.from);
    let source = KinesisStreamSourceConfiguration::builder()
        .kinesis_stream_arn(&stream_arn)
        .role_arn(&role_arn)
        .build()
        .map_err(|e| build_error(id, "CreateDeliveryStream", e))?;
    let (lake, warehouse) = match &config.load {
        Some(load) => (None, Some(redshift::destination(ctx, resource, delivery, load, &role_arn).await?)),
        None => (Some(lake_destination(ctx, id, config, &role_arn)?), None),
    };
    let tags = resource
        .tags
        .iter()
        .map(|(key, value)| {
            Tag::builder().key(key).value(value).build().map_err(|e| build_error(id, "CreateDeliveryStream", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let created = retry_while_role_propagates(role_not_ready, &id.to_string(), &ctx.progress, || {
        let request = firehose
            .create_delivery_stream()
            .delivery_stream_name(&delivery.name)
            .delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
            .kinesis_stream_source_configuration(source.clone())
            .set_extended_s3_destination_configuration(lake.clone())
            .set_redshift_destination_configuration(warehouse.clone())
            .set_tags(Some(tags.clone()));
        async move { request.send().await.map_err(|error| aws_error(id, "CreateDeliveryStream", error)) }
    })
    .await;
    match created {
        Ok(_) => {}
        // A re-run after an interrupted apply finds its own delivery (tagged at creation): wait
        // for it below; anyone else's is refused.
        Err(error) if error.has_code("ResourceInUseException") => {
            let found = self::tags(firehose, &delivery.name).await?;
            ctx.claim_existing(id, "CreateDeliveryStream", found, WITH_PIPECTL_ADOPT).await?;
        }
        Err(error) => return Err(error),
    }
    wait_active(ctx, id, &delivery.name).await?;
    Ok(delivery.name.clone())
}

/// The lake destination of a new delivery: its bucket and prefixes, buffering, compression,
/// encryption, and the conversion or newline processing it asks for.
fn lake_destination(
    ctx: &Context,
    id: &ResourceId,
    config: &DeliveryConfig,
    role_arn: &str,
) -> Result<ExtendedS3DestinationConfiguration, AwsError> {
    let delivery = &config.delivery;
    ExtendedS3DestinationConfiguration::builder()
        .role_arn(role_arn)
        .bucket_arn(ctx.arns.bucket(&delivery.to.bucket))
        .prefix(&delivery.to.prefix)
        .set_error_output_prefix(delivery.to.error_prefix.clone())
        .buffering_hints(buffering(delivery))
        .compression_format(compression_format(delivery.compression))
        .encryption_configuration(encryption(id, delivery)?)
        .set_data_format_conversion_configuration(
            conversion_of(config).map(|_| conversion(config, role_arn, &ctx.arns)),
        )
        .set_processing_configuration(
            config
                .newline_delimited
                .then(|| newline_processing(true))
                .transpose()
                .map_err(|e| build_error(id, "CreateDeliveryStream", e))?,
        )
        .build()
        .map_err(|e| build_error(id, "CreateDeliveryStream", e))
}

async fn wait_active(ctx: &Context, id: &ResourceId, name: &str) -> Result<(), AwsError> {
    let firehose = &ctx.clients.firehose;
    wait_until(id, "ACTIVE", ctx.wait, &ctx.progress, || async {
        Ok(match describe(firehose, name).await? {
            Some((_, DeliveryStreamStatus::Active, _)) => Poll::Ready,
            Some((_, DeliveryStreamStatus::CreatingFailed, failure)) => Poll::Failed(format!(
                "it ended in CREATING_FAILED ({})",
                failure.unwrap_or_else(|| "no reason given".to_string())
            )),
            Some((_, status, _)) => Poll::Pending(status.as_str().to_string()),
            None => Poll::Pending("not visible yet".to_string()),
        })
    })
    .await
}

async fn update(
    ctx: &Context,
    resource: &DesiredResource,
    config: &DeliveryConfig,
    live: &LiveResource,
    detail: &Live,
) -> Result<(), AwsError> {
    let delivery = &config.delivery;
    let id = &resource.id;
    let firehose = &ctx.clients.firehose;
    let desired = config.attributes();
    let destination_fields = [
        "bucket",
        "prefix",
        "error_prefix",
        "compression",
        "buffer_size_mib",
        "buffer_interval_seconds",
        "kms_key",
        "format",
        "parquet_compression",
        "schema",
        "newline_delimited",
        "table",
        "columns",
        "retry_seconds",
    ];
    if destination_fields.iter().any(|field| desired.get(*field) != live.attributes.get(*field)) {
        let role_arn = ctx.arns.role(&ctx.roles_path, &ctx.physical_id(&delivery_role_id(delivery))?);
        let request = firehose
            .update_destination()
            .delivery_stream_name(&delivery.name)
            .current_delivery_stream_version_id(&detail.version_id)
            .destination_id(&detail.destination_id);
        let request = match &config.load {
            Some(load) => {
                request.redshift_destination_update(redshift::update(ctx, resource, delivery, load, &role_arn).await?)
            }
            None => request.extended_s3_destination_update(lake_update(ctx, id, config, detail, &role_arn)?),
        };
        request.send().await.map_err(|error| aws_error(id, "UpdateDestination", error))?;
        wait_active(ctx, id, &delivery.name).await?;
    }
    retag(ctx, resource, live).await
}

/// The update of a lake destination: every member, conversion and processing sent when wanted
/// or on before.
fn lake_update(
    ctx: &Context,
    id: &ResourceId,
    config: &DeliveryConfig,
    detail: &Live,
    role_arn: &str,
) -> Result<ExtendedS3DestinationUpdate, AwsError> {
    let delivery = &config.delivery;
    // Conversion is sent when it is wanted or was on: `Enabled: false` turns it off.
    let conversion = (conversion_of(config).is_some() || detail.conversion.is_some())
        .then(|| conversion(config, role_arn, &ctx.arns));
    // The processor is sent when it is wanted or was on: `Enabled: false` turns it off.
    let processing = (config.newline_delimited || detail.newline_delimited)
        .then(|| newline_processing(config.newline_delimited))
        .transpose()
        .map_err(|e| build_error(id, "UpdateDestination", e))?;
    Ok(ExtendedS3DestinationUpdate::builder()
        .bucket_arn(ctx.arns.bucket(&delivery.to.bucket))
        .prefix(&delivery.to.prefix)
        .error_output_prefix(delivery.to.error_prefix.clone().unwrap_or_default())
        .buffering_hints(buffering(delivery))
        .compression_format(compression_format(delivery.compression))
        .encryption_configuration(encryption(id, delivery)?)
        .set_data_format_conversion_configuration(conversion)
        .set_processing_configuration(processing)
        .build())
}

/// Brings the delivery's tags to the spec's.
async fn retag(ctx: &Context, resource: &DesiredResource, live: &LiveResource) -> Result<(), AwsError> {
    let (firehose, id, name) = (&ctx.clients.firehose, &resource.id, &live.physical_id);
    let stale: Vec<String> = live.tags.keys().filter(|key| !resource.tags.contains_key(*key)).cloned().collect();
    if !stale.is_empty() {
        firehose
            .untag_delivery_stream()
            .delivery_stream_name(name)
            .set_tag_keys(Some(stale))
            .send()
            .await
            .map_err(|e| aws_error(id, "UntagDeliveryStream", e))?;
    }
    if live.tags != resource.tags {
        let tags = resource
            .tags
            .iter()
            .map(|(key, value)| {
                Tag::builder().key(key).value(value).build().map_err(|e| build_error(id, "TagDeliveryStream", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        firehose
            .tag_delivery_stream()
            .delivery_stream_name(name)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws_error(id, "TagDeliveryStream", e))?;
    }
    Ok(())
}

/// Deletes the delivery stream and waits until it is gone.
async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    let firehose = &ctx.clients.firehose;
    let id = &live.id;
    // "You can't delete a Firehose stream that is in the CREATING state" (DeleteDeliveryStream,
    // Amazon Data Firehose API Reference): an apply interrupted right after the create leaves
    // one, which the next destroy or replacement meets. Wait for it to leave that state first.
    wait_until(id, "out of CREATING", ctx.wait, &ctx.progress, || async {
        Ok(match describe(firehose, &live.physical_id).await? {
            Some((_, DeliveryStreamStatus::Creating, _)) => {
                Poll::Pending(DeliveryStreamStatus::Creating.as_str().to_string())
            }
            _ => Poll::Ready,
        })
    })
    .await?;
    firehose
        .delete_delivery_stream()
        .delivery_stream_name(&live.physical_id)
        .send()
        .await
        .map_err(|error| aws_error(id, "DeleteDeliveryStream", error))?;
    wait_until(id, "deleted", ctx.wait, &ctx.progress, || async {
        Ok(match describe(firehose, &live.physical_id).await? {
            None => Poll::Ready,
            Some((_, status, _)) => Poll::Pending(status.as_str().to_string()),
        })
    })
    .await
}

/// Firehose's answer while a role created seconds ago cannot be assumed yet:
/// `InvalidArgumentException` saying the role cannot be assumed.
fn role_not_ready(error: &AwsError) -> bool {
    let message = error.message.to_lowercase();
    error.has_code("InvalidArgumentException") && (message.contains("role") || message.contains("assume"))
}

#[cfg(test)]
mod tests;

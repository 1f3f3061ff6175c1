//! Firehose delivery streams from a Kinesis stream to the S3 data lake. Buffering, compression,
//! prefixes and encryption change in place with UpdateDestination (using the version and
//! destination ids read at plan time); a new source stream or role replaces the delivery, which
//! loses the records it still buffers, and the plan says so. A delivery that names no role gets
//! one derived for it, least privilege, built here with its delivery.

use aws_sdk_firehose::types::{
    BufferingHints, CompressionFormat, DeliveryStreamStatus, DeliveryStreamType, EncryptionConfiguration,
    ExtendedS3DestinationConfiguration, ExtendedS3DestinationUpdate, KinesisStreamSourceConfiguration,
    KmsEncryptionConfig, NoEncryptionConfig, Tag,
};
use serde_json::json;

use super::wait::{wait_until, Poll};
use super::{
    aws_error, build_error, retry_while_role_propagates, AwsError, Context, LiveResource, NamedRead, Ownership,
    ReadContext, ResourceKind, RoleUser,
};
use crate::model::{
    Action, Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::names::{derived_delivery_role, role_path};
use crate::policy::delivery_policy;
use crate::spec::{self, Compression, DeliveryEncryption};

pub struct Delivery;
pub const KIND: Kind = Kind::of(&Delivery);

/// A delivery is named in the spec by its Firehose name.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// The role a delivery uses: the one it names, or the one derived for it.
pub fn delivery_role_id(delivery: &spec::Delivery) -> ResourceId {
    super::role::id(&delivery.role.clone().unwrap_or_else(|| derived_delivery_role(&delivery.name)))
}

#[derive(Debug, Clone)]
pub struct Live {
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

/// The last segment of an ARN (`…:stream/name` → `name`, `…:::bucket` → `bucket`).
fn arn_name(arn: &str) -> &str {
    arn.rsplit(['/', ':']).next().unwrap_or(arn)
}

impl DesiredConfig for spec::Delivery {
    fn attributes(&self) -> Attributes {
        let kms_key = (self.encryption == DeliveryEncryption::Kms).then(|| self.kms_key.clone()).flatten();
        Attributes::from([
            ("source_stream".to_string(), json!(self.from)),
            ("role".to_string(), json!(delivery_role_id(self).name)),
            ("bucket".to_string(), json!(self.to.bucket)),
            ("prefix".to_string(), json!(self.to.prefix)),
            ("error_prefix".to_string(), json!(self.to.error_prefix)),
            ("compression".to_string(), json!(self.compression.as_str())),
            ("buffer_size_mib".to_string(), json!(self.buffer.size_mib)),
            ("buffer_interval_seconds".to_string(), json!(self.buffer.interval_seconds)),
            ("kms_key".to_string(), json!(kms_key)),
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
            ("status".to_string(), json!(self.failed)),
        ]);
        let depends_on = [stream.as_str(), bucket.as_str(), role]
            .into_iter()
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
        8
    }
    fn forces_replacement(&self, field: &str) -> bool {
        ["source_stream", "role", "status"].contains(&field)
    }
    fn change_notes(&self, action: Action, before: Option<&Attributes>, _after: Option<&Attributes>) -> Vec<String> {
        let failed = before.and_then(|attributes| attributes.get("status")).is_some_and(|status| !status.is_null());
        match action {
            Action::Replace if failed => vec!["the delivery stream failed in AWS and is created again".to_string()],
            Action::Replace => vec!["Firehose cannot change a delivery's source stream or role in place: the delivery stream is deleted and created again".to_string()],
            _ => Vec::new(),
        }
    }
}

impl ResourceKind for Delivery {
    type Desired = spec::Delivery;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let spec = graph.spec;
        let mut nodes = Vec::new();
        for delivery in &spec.deliveries {
            let role_id = delivery_role_id(delivery);
            if delivery.role.is_none() {
                let Some(source) = spec.streams.iter().find(|stream| stream.name == delivery.from) else { continue };
                let bucket = spec.buckets.iter().find(|bucket| bucket.name == delivery.to.bucket);
                let policy = delivery_policy(delivery, source, bucket, graph.arns);
                let trust = graph.arns.trust_policy("firehose.amazonaws.com");
                let config = super::role::config(graph, &role_id.name, trust, Some(policy), &[]);
                nodes.push(graph.node(role_id.clone(), &delivery.tags, vec![], config));
            }
            let depends_on = vec![super::stream::id(&delivery.from), super::bucket::id(&delivery.to.bucket), role_id];
            nodes.push(graph.node(id(&delivery.name), &delivery.tags, depends_on, delivery.clone()));
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
        desired: &spec::Delivery,
    ) -> Result<String, AwsError> {
        create(ctx, resource, desired).await
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &spec::Delivery,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        update(ctx, resource, desired, live, detail).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        delete(ctx, live).await
    }
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
    let hints = s3.and_then(|s3| s3.buffering_hints());
    let live = Live {
        version_id: description.version_id().to_string(),
        destination_id: destination.map(|d| d.destination_id().to_string()).unwrap_or_default(),
        source_stream_arn: source.and_then(|s| s.kinesis_stream_arn()).unwrap_or_default().to_string(),
        role_arn: source.and_then(|s| s.role_arn()).or(s3.map(|s3| s3.role_arn())).unwrap_or_default().to_string(),
        bucket_arn: s3.map(|s3| s3.bucket_arn().to_string()).unwrap_or_default(),
        prefix: s3.and_then(|s3| s3.prefix()).unwrap_or_default().to_string(),
        error_prefix: s3.and_then(|s3| s3.error_output_prefix()).filter(|p| !p.is_empty()).map(str::to_string),
        compression: s3.map(|s3| compression_name(s3.compression_format())).unwrap_or_default(),
        buffer_size_mib: i64::from(hints.and_then(|h| h.size_in_mbs()).unwrap_or(5)),
        buffer_interval_seconds: i64::from(hints.and_then(|h| h.interval_in_seconds()).unwrap_or(300)),
        kms_key: s3
            .and_then(|s3| s3.encryption_configuration())
            .and_then(|e| e.kms_encryption_config())
            .map(|kms| kms.awskms_key_arn().to_string()),
        failed,
    };
    Ok(Some((live, description.delivery_stream_status().clone(), failure)))
}

async fn tags(firehose: &aws_sdk_firehose::Client, name: &str) -> Result<Ownership, AwsError> {
    match firehose.list_tags_for_delivery_stream().delivery_stream_name(name).send().await {
        Ok(output) => Ok(Ownership::Tagged(
            output
                .tags()
                .iter()
                .map(|tag| (tag.key().to_string(), tag.value().unwrap_or_default().to_string()))
                .collect(),
        )),
        Err(error) => aws_error(format!("delivery/{name}"), "ListTagsForDeliveryStream", error)
            .unless_not_found(Ownership::Absent),
    }
}

async fn list_delivery_names(firehose: &aws_sdk_firehose::Client) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
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

/// Reads the spec's deliveries by name, and finds the pipeline's other deliveries by tag.
async fn read(read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
    let firehose = &read.clients.firehose;
    read.named(KIND, " (aws firehose tag-delivery-stream)")
        .read(
            list_delivery_names(firehose),
            |name| async move { tags(firehose, &name).await },
            |name, _| async move { Ok(describe(firehose, &name).await?.map(|(live, _, _)| live)) },
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

async fn create(ctx: &Context, resource: &DesiredResource, delivery: &spec::Delivery) -> Result<String, AwsError> {
    let id = &resource.id;
    let firehose = &ctx.clients.firehose;
    let role_name = ctx.physical_id(&delivery_role_id(delivery))?;
    let role_arn = ctx.arns.role(&role_path(&ctx.pipeline, &ctx.arns.region), &role_name);
    let stream_arn = ctx.arns.stream(&delivery.from);
    let bucket_arn = ctx.arns.bucket(&delivery.to.bucket);
    let source = KinesisStreamSourceConfiguration::builder()
        .kinesis_stream_arn(&stream_arn)
        .role_arn(&role_arn)
        .build()
        .map_err(|e| build_error(id, "CreateDeliveryStream", e))?;
    let destination = ExtendedS3DestinationConfiguration::builder()
        .role_arn(&role_arn)
        .bucket_arn(&bucket_arn)
        .prefix(&delivery.to.prefix)
        .set_error_output_prefix(delivery.to.error_prefix.clone())
        .buffering_hints(buffering(delivery))
        .compression_format(compression_format(delivery.compression))
        .encryption_configuration(encryption(id, delivery)?)
        .build()
        .map_err(|e| build_error(id, "CreateDeliveryStream", e))?;
    let tags = resource
        .tags
        .iter()
        .map(|(key, value)| {
            Tag::builder().key(key).value(value).build().map_err(|e| build_error(id, "CreateDeliveryStream", e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let created = retry_while_role_propagates(RoleUser::Firehose, &id.to_string(), &ctx.progress, || {
        let request = firehose
            .create_delivery_stream()
            .delivery_stream_name(&delivery.name)
            .delivery_stream_type(DeliveryStreamType::KinesisStreamAsSource)
            .kinesis_stream_source_configuration(source.clone())
            .extended_s3_destination_configuration(destination.clone())
            .set_tags(Some(tags.clone()));
        async move { request.send().await.map_err(|error| aws_error(id, "CreateDeliveryStream", error)) }
    })
    .await;
    match created {
        Ok(_) => {}
        // A re-run after an interrupted apply finds its own delivery: wait for it below.
        Err(error) if error.has_code("ResourceInUseException") => {}
        Err(error) => return Err(error),
    }
    wait_active(ctx, id, &delivery.name).await?;
    Ok(delivery.name.clone())
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
    delivery: &spec::Delivery,
    live: &LiveResource,
    detail: &Live,
) -> Result<(), AwsError> {
    let id = &resource.id;
    let firehose = &ctx.clients.firehose;
    let desired = delivery.attributes();
    let destination_fields =
        ["bucket", "prefix", "error_prefix", "compression", "buffer_size_mib", "buffer_interval_seconds", "kms_key"];
    if destination_fields.iter().any(|field| desired.get(*field) != live.attributes.get(*field)) {
        let update = ExtendedS3DestinationUpdate::builder()
            .bucket_arn(ctx.arns.bucket(&delivery.to.bucket))
            .prefix(&delivery.to.prefix)
            .error_output_prefix(delivery.to.error_prefix.clone().unwrap_or_default())
            .buffering_hints(buffering(delivery))
            .compression_format(compression_format(delivery.compression))
            .encryption_configuration(encryption(id, delivery)?)
            .build();
        firehose
            .update_destination()
            .delivery_stream_name(&delivery.name)
            .current_delivery_stream_version_id(&detail.version_id)
            .destination_id(&detail.destination_id)
            .extended_s3_destination_update(update)
            .send()
            .await
            .map_err(|error| aws_error(id, "UpdateDestination", error))?;
        wait_active(ctx, id, &delivery.name).await?;
    }
    let stale: Vec<String> = live.tags.keys().filter(|key| !resource.tags.contains_key(*key)).cloned().collect();
    if !stale.is_empty() {
        firehose
            .untag_delivery_stream()
            .delivery_stream_name(&delivery.name)
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
            .delivery_stream_name(&delivery.name)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::diff_attributes;
    use crate::resources::role::{self, RoleConfig};
    use crate::resources::Tags;
    use crate::spec::Spec;

    fn delivery(extra: &str) -> spec::Delivery {
        let yaml = format!("version: 1\npipeline: p\nregion: eu-west-1\ndeliveries:\n  - name: d\n    from: events\n    to: {{bucket: lake, prefix: raw/, error_prefix: errors/}}\n{extra}");
        let spec: Spec = serde_saphyr::from_str(&yaml).unwrap();
        spec.deliveries[0].clone()
    }

    fn live_of(delivery: &spec::Delivery) -> Live {
        Live {
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
            failed: None,
        }
    }

    /// The live state holds the derived role `d-firehose`, whose IAM name is `p-d-firehose-euw1`.
    fn names() -> Names {
        let live = role::Live {
            path: "/pipectl/p/eu-west-1/".to_string(),
            permissions_boundary: None,
            trust: serde_json::Value::Null,
            inline: None,
            managed: Vec::new(),
            instance_profiles: Vec::new(),
        };
        let role = LiveResource::new(role::id("d-firehose"), "p-d-firehose-euw1", Tags::new(), live);
        Names::of(&std::collections::BTreeMap::from([(role.id.clone(), role)]))
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
        after.from = "other".into();
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
        let arns = crate::policy::Arns::new("123456789012", "eu-west-1");
        let graph = crate::resources::desired_graph(&spec, &arns, &std::collections::BTreeMap::new());
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
}

//! Kinesis data streams. Everything changes in place: the shard count in steps that at most
//! double or halve it (AWS's rule for one UpdateShardCount call), capacity mode, retention,
//! encryption and tags. Each step waits for the stream to be ACTIVE again.

use std::collections::HashMap;

use aws_sdk_kinesis::types::{EncryptionType, ScalingType, StreamMode as KinesisMode, StreamModeDetails, StreamStatus};
use serde_json::json;

use super::kit::named::{tags_paged_by_key, TAGS_PER_PAGE};
use super::kit::tag_index::dropped_grants;
use super::kit::tag_index::Indexed;
use super::kit::wait::{wait_until, Poll};
use super::kit::{
    aws_error, build_error, AwsError, Clients, Context, Fact, Grant, GrantContext, Health, Limiter, LiveResource,
    Metric, NamedRead, Output, Ownership, ReadContext, ResourceKind, Scope, Statistic, Tags, WITH_PIPECTL_ADOPT,
};
use crate::iam::Arns;
use crate::model::{
    Action, Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::plan::FieldChange;
use crate::pricing::{self, CostLine, Prices};
use crate::spec::{self, StreamEncryption, StreamMode};

pub struct Stream;
pub const KIND: Kind = Kind::of(&Stream);

/// How the tag index lists streams: `arn:aws:kinesis:<region>:<account>:stream/<name>`.
const INDEXED: Indexed = Indexed::new("kinesis:stream", "kinesis", "stream/");

/// A stream is named in the spec by its Kinesis name.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// AWS allows this many reshards per stream in a rolling 24 hours.
pub const RESHARDS_PER_DAY: usize = 10;
/// AWS allows this many switches between on-demand and provisioned mode per stream per 24 hours.
const MODE_SWITCHES_PER_DAY: usize = 2;
/// "You can successfully apply a new AWS KMS key for server-side encryption 25 times in a
/// rolling 24-hour period" (Kinesis API reference, StartStreamEncryption).
const KEY_CHANGES_PER_DAY: usize = 25;
const DEFAULT_KMS_KEY: &str = "alias/aws/kinesis";

#[derive(Debug, Clone, Default)]
pub struct Live {
    pub arn: String,
    pub on_demand: bool,
    pub open_shards: i64,
    pub retention_hours: i64,
    pub kms_key: Option<String>,
}

/// The shard counts a reshard from `from` to `to` passes through, each step at most doubling
/// or halving (rounding up) the previous count.
pub fn reshard_steps(from: i64, to: i64) -> Vec<i64> {
    let mut steps = Vec::new();
    let mut current = from.max(1);
    while current != to && to >= 1 {
        current = if to > current { to.min(current * 2) } else { to.max((current + 1) / 2) };
        steps.push(current);
    }
    steps
}

impl DesiredConfig for spec::Stream {
    fn attributes(&self) -> Attributes {
        let (mode, shards) = match self.mode {
            StreamMode::Provisioned => ("provisioned", Some(self.shards.unwrap_or(1))),
            StreamMode::OnDemand => ("on-demand", None),
        };
        let kms_key = match self.encryption {
            StreamEncryption::Kms => Some(self.kms_key.clone().unwrap_or_else(|| DEFAULT_KMS_KEY.to_string())),
            StreamEncryption::None => None,
        };
        Attributes::from([
            ("mode".to_string(), json!(mode)),
            ("shards".to_string(), json!(shards)),
            ("retention_hours".to_string(), json!(self.retention_hours)),
            ("encryption".to_string(), json!(if kms_key.is_some() { "kms" } else { "none" })),
            ("kms_key".to_string(), json!(kms_key)),
        ])
    }
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, _names: &Names) -> (Attributes, Vec<ResourceId>) {
        let attributes = Attributes::from([
            ("mode".to_string(), json!(if self.on_demand { "on-demand" } else { "provisioned" })),
            ("shards".to_string(), json!((!self.on_demand).then_some(self.open_shards))),
            ("retention_hours".to_string(), json!(self.retention_hours)),
            ("encryption".to_string(), json!(if self.kms_key.is_some() { "kms" } else { "none" })),
            ("kms_key".to_string(), json!(self.kms_key)),
        ]);
        (attributes, Vec::new())
    }

    fn holds_data(&self) -> Option<String> {
        Some("a stream's records are lost with it".to_string())
    }
}

impl KindRules for Stream {
    fn name(&self) -> &'static str {
        "stream"
    }
    fn rank(&self) -> u8 {
        60
    }
    fn change_notes(&self, action: Action, before: Option<&Attributes>, after: Option<&Attributes>) -> Vec<String> {
        let mut notes = reshard_notes(action, before, after);
        let changed = |field: &str| {
            action == Action::Update && before.and_then(|b| b.get(field)) != after.and_then(|a| a.get(field))
        };
        if changed("mode") {
            notes.push(format!("AWS allows {MODE_SWITCHES_PER_DAY} capacity-mode switches per stream in 24 hours; a third is refused until the first is a day old"));
        }
        if changed("kms_key") && after.and_then(|a| a.get("kms_key")).is_some_and(|key| !key.is_null()) {
            notes.push(format!("the new key is applied in one StartStreamEncryption, so the stream is never unencrypted in between; AWS allows {KEY_CHANGES_PER_DAY} key changes per stream in 24 hours"));
        }
        notes
    }

    /// A shorter retention period deletes the records older than it as soon as it applies.
    fn update_loses_data(&self, before: &Attributes, after: &Attributes) -> Option<String> {
        let hours = |attributes: &Attributes| attributes.get("retention_hours").and_then(|value| value.as_i64());
        let (from, to) = (hours(before)?, hours(after)?);
        (to < from).then(|| {
            format!("lowering retention from {from}h to {to}h deletes the records older than {to}h at once (up to {} hours of records)", from - to)
        })
    }
}

impl ResourceKind for Stream {
    type Desired = spec::Stream;
    type Live = Live;
    const KIND: Kind = KIND;
    const INDEXED: Option<&'static Indexed> = Some(&INDEXED);

    /// Each stream, and its alarms (see `spec::stream_alarms`).
    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let alarms = spec::enabled_alarms(graph.spec);
        let mut nodes = Vec::new();
        for stream in &graph.spec.streams {
            let id = id(&stream.name);
            nodes.push(graph.node(id.clone(), &stream.tags, vec![], stream.clone()));
            if let Some(alarms) = alarms {
                let derived = spec::stream_alarms(alarms, stream);
                nodes.extend(super::alarm::nodes(graph, derived, &id, &stream.name, &stream.name));
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
        desired: &spec::Stream,
    ) -> Result<String, AwsError> {
        create(ctx, resource, desired).await
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &spec::Stream,
        _live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        configure(ctx, resource, desired, detail).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        delete(ctx, live).await
    }

    const ADOPTABLE: bool = true;
    /// Endpoints that ignore tags on CreateStream leave it untagged until AddTagsToStream.
    const JOURNALED: bool = true;

    /// AddTagsToStream adds or overwrites the given tags only, `TAGS_PER_CALL` at a time.
    async fn adopt(
        &self,
        clients: &Clients,
        live: &LiveResource,
        _detail: &Live,
        ownership: &Tags,
    ) -> Result<(), AwsError> {
        add_tags(&clients.kinesis, &live.id, &live.physical_id, ownership).await
    }

    /// A provisioned stream by the shard-hour plus its PUT payload units (a rate); an on-demand
    /// one by the stream-hour plus the data it takes in (a rate).
    fn cost(&self, resource: &DesiredResource, stream: &spec::Stream, prices: &Prices) -> Vec<CostLine> {
        let name = resource.id.to_string();
        match stream.mode {
            StreamMode::Provisioned => {
                let shards = stream.shards.unwrap_or(1);
                let item = format!("{shards} shard{} (provisioned)", if shards == 1 { "" } else { "s" });
                vec![
                    pricing::fixed(&name, item, shards, prices.figure("kinesis_shard_hour")),
                    pricing::rate(
                        &name,
                        "PUT payload units (25 KB each)",
                        "million units",
                        prices.figure("kinesis_put_payload_units_million"),
                    ),
                ]
            }
            StreamMode::OnDemand => vec![
                pricing::fixed(
                    &name,
                    "on-demand stream".to_string(),
                    1,
                    prices.figure("kinesis_on_demand_stream_hour"),
                ),
                pricing::rate(&name, "on-demand data in", "GB", prices.figure("kinesis_on_demand_ingest_gb")),
            ],
        }
    }

    /// A reshard or a change of mode, priced as the stream was.
    fn cost_before(
        &self,
        resource: &DesiredResource,
        stream: &spec::Stream,
        fields: &[FieldChange],
        prices: &Prices,
    ) -> Option<Vec<CostLine>> {
        let before = |path: &str| fields.iter().find(|field| field.path == path).map(|field| field.before.clone());
        let (mode, shards) = (before("mode"), before("shards"));
        if mode.is_none() && shards.is_none() {
            return None;
        }
        let mut was = stream.clone();
        if let Some(mode) = mode {
            was.mode = serde_json::from_value(mode.unwrap_or_default()).ok()?;
        }
        if let Some(shards) = shards {
            was.shards = shards.and_then(|shards| shards.as_i64());
        }
        Some(self.cost(resource, &was, prices))
    }

    fn outputs(&self, live: &LiveResource, detail: &Live, _arns: &Arns) -> Vec<Output> {
        vec![Output::new("name", &live.physical_id), Output::new("arn", &detail.arn)]
    }

    /// Open shards, and from CloudWatch how far behind its slowest reader is and the writes it
    /// refused for want of capacity.
    fn health(&self, live: &LiveResource, detail: &Live) -> Option<Health> {
        let mode = if detail.on_demand { "on-demand" } else { "provisioned" };
        Some(Health {
            facts: vec![Fact::new("mode", mode), Fact::new("open shards", detail.open_shards.to_string())],
            metrics: Metric::of(
                "AWS/Kinesis",
                ("StreamName", &live.physical_id),
                &[
                    ("iterator age max (ms)", "GetRecords.IteratorAgeMilliseconds", Statistic::Maximum),
                    ("throttled writes", "WriteProvisionedThroughputExceeded", Statistic::Sum),
                    ("records in", "IncomingRecords", Statistic::Sum),
                ],
            ),
            problems: Vec::new(),
        })
    }

    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let streams: Vec<String> = ctx.spec.streams.iter().map(|stream| ctx.arns.stream(&stream.name)).collect();
        let encrypted: Vec<&spec::Stream> =
            ctx.spec.streams.iter().filter(|stream| stream.encryption == StreamEncryption::Kms).collect();
        let (partition, region, account) = (&ctx.arns.partition, &ctx.arns.region, &ctx.arns.account_id);
        // A key ARN as given; a key id as its ARN; an alias names no key ARN, so any key of the account.
        let key_arn = |key: &str| {
            if key.starts_with("arn:") {
                key.to_string()
            } else if key.starts_with("alias/") {
                format!("arn:{partition}:kms:{region}:{account}:key/*")
            } else {
                format!("arn:{partition}:kms:{region}:{account}:key/{key}")
            }
        };
        let mut stream_keys: Vec<String> = encrypted.iter().map(|stream| ctx.arns.stream(&stream.name)).collect();
        let mut keys: Vec<String> =
            encrypted.iter().map(|stream| key_arn(stream.kms_key.as_deref().unwrap_or("alias/aws/kinesis"))).collect();
        keys.sort();
        keys.dedup();
        stream_keys.extend(keys);
        let read = ["kinesis:DescribeStreamSummary", "kinesis:ListTagsForStream"];
        let change = [
            "kinesis:CreateStream",
            "kinesis:AddTagsToStream",
            "kinesis:RemoveTagsFromStream",
            "kinesis:UpdateShardCount",
            "kinesis:UpdateStreamMode",
            "kinesis:IncreaseStreamRetentionPeriod",
            "kinesis:DecreaseStreamRetentionPeriod",
        ];
        let mut grants = vec![
            Grant::unscoped_reads(&["kinesis:ListStreams"]),
            Grant::new("ReadStreams", Scope::Plan, &read, streams.clone()),
        ];
        // A stream the spec no longer names is found by the tag index and must be read (and, by
        // apply, deleted) although no ARN above names it: granted on the pipeline's tag, which
        // Kinesis evaluates for these actions (Service Authorization Reference:
        // `aws:ResourceTag/${TagKey}` on the `stream` resource type).
        let any_stream = ctx.arn("kinesis", "stream/*");
        grants.extend(dropped_grants(ctx, "OwnStreamsTheSpecDropped", any_stream, &read, &["kinesis:DeleteStream"]));
        grants.extend([
            Grant::new("ChangeStreams", Scope::Apply, &change, streams.clone()),
            Grant::new("ChangeStreams", Scope::Destroy, &["kinesis:DeleteStream"], streams),
            // Encryption changes are authorised on the stream and on its KMS key together
            // (Service Authorization Reference: both resource types are required).
            Grant::new(
                "EncryptStreams",
                Scope::Apply,
                &["kinesis:StartStreamEncryption", "kinesis:StopStreamEncryption"],
                stream_keys,
            ),
        ]);
        grants.extend(canary_grants(ctx, key_arn));
        grants
    }
}

/// Writes one record into stream `name` (`pipectl verify`'s canary); returns the shard and the
/// sequence number Kinesis gave it.
pub async fn put_record(clients: &Clients, name: &str, partition_key: &str, data: Vec<u8>) -> Result<String, AwsError> {
    let output = clients
        .kinesis
        .put_record()
        .stream_name(name)
        .partition_key(partition_key)
        .data(aws_sdk_kinesis::primitives::Blob::new(data))
        .send()
        .await
        .map_err(|error| aws_error(id(name), "PutRecord", error))?;
    Ok(format!("{} #{}", output.shard_id(), output.sequence_number()))
}

/// What `pipectl verify` needs of a stream a delivery reads: `kinesis:PutRecord` on it, and on a
/// stream encrypted with a customer managed key `kms:GenerateDataKey` on that key ("Permissions
/// to use user-generated KMS keys", Amazon Kinesis Data Streams Developer Guide: producers need
/// it; the AWS managed key `aws/kinesis` needs no grant of the producer).
fn canary_grants(ctx: &GrantContext, key_arn: impl Fn(&str) -> String) -> Vec<Grant> {
    let fed: Vec<&spec::Stream> = ctx
        .spec
        .streams
        .iter()
        .filter(|stream| ctx.spec.deliveries.iter().any(|delivery| delivery.from == stream.name))
        .collect();
    let mut keys: Vec<String> = fed
        .iter()
        .filter(|stream| stream.encryption == StreamEncryption::Kms)
        .filter_map(|stream| stream.kms_key.as_deref().filter(|key| *key != "alias/aws/kinesis"))
        .map(key_arn)
        .collect();
    keys.sort();
    keys.dedup();
    vec![
        Grant::new(
            "PutCanaries",
            Scope::Verify,
            &["kinesis:PutRecord"],
            fed.iter().map(|stream| ctx.arns.stream(&stream.name)).collect(),
        ),
        Grant::new("EncryptCanaries", Scope::Verify, &["kms:GenerateDataKey"], keys),
    ]
}

/// Explains a reshard: how many steps, through which counts, and AWS's daily limit.
fn reshard_notes(action: Action, before: Option<&Attributes>, after: Option<&Attributes>) -> Vec<String> {
    let shards = |attributes: Option<&Attributes>| attributes.and_then(|a| a.get("shards")).and_then(|v| v.as_i64());
    let (Action::Update, Some(from), Some(to)) = (action, shards(before), shards(after)) else {
        return Vec::new();
    };
    if from == to {
        return Vec::new();
    }
    let steps = reshard_steps(from, to);
    let path: Vec<String> = std::iter::once(from).chain(steps.iter().copied()).map(|n| n.to_string()).collect();
    let mut notes = vec![format!(
        "reshard {from} → {to} in {} step{} ({}), each waiting for ACTIVE; AWS allows {RESHARDS_PER_DAY} reshards per stream per 24 hours",
        steps.len(),
        if steps.len() == 1 { "" } else { "s" },
        path.join(" → ")
    )];
    if steps.len() > RESHARDS_PER_DAY {
        notes.push(format!("this needs more than {RESHARDS_PER_DAY} steps and will stop at AWS's daily limit; apply it over several days"));
    }
    notes
}

async fn summary(kinesis: &aws_sdk_kinesis::Client, name: &str) -> Result<Option<(Live, StreamStatus)>, AwsError> {
    let id = format!("stream/{name}");
    let output = match kinesis.describe_stream_summary().stream_name(name).send().await {
        Ok(output) => output,
        Err(error) => {
            let error = aws_error(&id, "DescribeStreamSummary", error);
            return if error.is_not_found() { Ok(None) } else { Err(error) };
        }
    };
    let Some(description) = output.stream_description_summary() else {
        return Ok(None);
    };
    let on_demand =
        description.stream_mode_details().is_some_and(|details| *details.stream_mode() == KinesisMode::OnDemand);
    let kms_key = (description.encryption_type() == Some(&EncryptionType::Kms))
        .then(|| description.key_id().unwrap_or(DEFAULT_KMS_KEY).to_string());
    let live = Live {
        arn: description.stream_arn().to_string(),
        on_demand,
        open_shards: i64::from(description.open_shard_count()),
        retention_hours: i64::from(description.retention_period_hours()),
        kms_key,
    };
    Ok(Some((live, description.stream_status().clone())))
}

async fn tags(kinesis: &aws_sdk_kinesis::Client, name: &str) -> Result<Ownership, AwsError> {
    let resource = format!("stream/{name}");
    let tags = tags_paged_by_key(&resource, "ListTagsForStream", |start| async move {
        let output = kinesis
            .list_tags_for_stream()
            .stream_name(name)
            .limit(TAGS_PER_PAGE)
            .set_exclusive_start_tag_key(start)
            .send()
            .await
            .map_err(|error| aws_error(format!("stream/{name}"), "ListTagsForStream", error))?;
        let page = output.tags().iter().map(|tag| (tag.key().to_string(), tag.value().unwrap_or_default().to_string()));
        Ok((page.collect(), output.has_more_tags()))
    })
    .await;
    tags.map(Ownership::Tagged).or_else(|error| error.unless_not_found(Ownership::Absent))
}

/// Reads the spec's streams by name, and finds the pipeline's others by the tag index (or, where
/// the endpoint does not index streams, among every stream of the account), at AWS's rates.
async fn read(read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
    let (kinesis, limits) = (&read.clients.kinesis, &read.clients.limits);
    read.named(KIND, WITH_PIPECTL_ADOPT)
        .read(
            read.discover(KIND, &INDEXED, list_stream_names(kinesis, limits)),
            |name| async move {
                limits.pace("kinesis:ListTagsForStream").await;
                tags(kinesis, &name).await
            },
            |name, _| async move {
                limits.pace("kinesis:DescribeStreamSummary").await;
                Ok(summary(kinesis, &name).await?.map(|(live, _)| live))
            },
        )
        .await
}

/// Every stream name of the account, 100 a page: the most ListStreams returns ("If you specify a
/// value greater than 100, at most 100 results are returned", Kinesis API Reference); without a
/// `Limit` moto and older endpoints answer 10 a page, ten times the sequential pages of a scan.
async fn list_stream_names(kinesis: &aws_sdk_kinesis::Client, limits: &Limiter) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        limits.pace("kinesis:ListStreams").await;
        let output = kinesis
            .list_streams()
            .limit(100)
            .set_exclusive_start_stream_name(start.clone())
            .send()
            .await
            .map_err(|error| aws_error("stream", "ListStreams", error))?;
        names.extend(output.stream_names().iter().cloned());
        if !output.has_more_streams() || output.stream_names().is_empty() {
            return Ok(names);
        }
        start = names.last().cloned();
    }
}

async fn wait_active(ctx: &Context, id: &ResourceId, name: &str) -> Result<Live, AwsError> {
    let kinesis = &ctx.clients.kinesis;
    wait_until(id, "ACTIVE", ctx.wait, &ctx.progress, || async {
        Ok(match summary(kinesis, name).await? {
            Some((_, StreamStatus::Active)) => Poll::Ready,
            Some((_, StreamStatus::Deleting)) => Poll::Failed("the stream is being deleted".to_string()),
            Some((_, status)) => Poll::Pending(status.as_str().to_string()),
            None => Poll::Pending("not visible yet".to_string()),
        })
    })
    .await?;
    summary(kinesis, name)
        .await?
        .map(|(live, _)| live)
        .ok_or_else(|| AwsError::new(id, "DescribeStreamSummary", "the stream disappeared"))
}

fn mode_details(id: &ResourceId, on_demand: bool) -> Result<StreamModeDetails, AwsError> {
    let mode = if on_demand { KinesisMode::OnDemand } else { KinesisMode::Provisioned };
    StreamModeDetails::builder().stream_mode(mode).build().map_err(|error| build_error(id, "StreamModeDetails", error))
}

async fn create(ctx: &Context, resource: &DesiredResource, stream: &spec::Stream) -> Result<String, AwsError> {
    let id = &resource.id;
    let kinesis = &ctx.clients.kinesis;
    let on_demand = stream.mode == StreamMode::OnDemand;
    let mut request = kinesis
        .create_stream()
        .stream_name(&stream.name)
        .stream_mode_details(mode_details(id, on_demand)?)
        .set_tags(Some(resource.tags.clone().into_iter().collect::<HashMap<_, _>>()));
    if !on_demand {
        request = request.shard_count(i32::try_from(stream.shards.unwrap_or(1)).unwrap_or(1));
    }
    ctx.intend(id).await?;
    match request.send().await.map_err(|error| aws_error(id, "CreateStream", error)) {
        // A re-run after an interrupted apply finds its own stream in use (tagged, or untagged
        // and in the journal of the run that died): carry on configuring it; anyone else's is
        // refused before it is touched.
        Err(error) if error.has_code("ResourceInUseException") => {
            ctx.claim_existing(id, "CreateStream", tags(kinesis, &stream.name).await?, WITH_PIPECTL_ADOPT).await?;
        }
        other => {
            other?;
        }
    }
    // Endpoints that ignore tags on CreateStream get them right away, so that an interrupted
    // apply leaves a stream the next run recognises as ours.
    sync_tags(ctx, id, &stream.name, &resource.tags).await?;
    ctx.done(id).await?;
    let live = wait_active(ctx, id, &stream.name).await?;
    configure(ctx, resource, stream, &live).await?;
    Ok(stream.name.clone())
}

/// Brings mode, shards, retention, encryption and tags from `live` to the spec, in that order.
async fn configure(
    ctx: &Context,
    resource: &DesiredResource,
    stream: &spec::Stream,
    live: &Live,
) -> Result<(), AwsError> {
    let id = &resource.id;
    let name = &stream.name;
    let kinesis = &ctx.clients.kinesis;
    let on_demand = stream.mode == StreamMode::OnDemand;
    let mut live = live.clone();
    if live.on_demand != on_demand {
        ctx.progress.line(&format!("{id}: switching to {} mode", if on_demand { "on-demand" } else { "provisioned" }));
        kinesis
            .update_stream_mode()
            .stream_arn(&live.arn)
            .stream_mode_details(mode_details(id, on_demand)?)
            .send()
            .await
            .map_err(|error| aws_error(id, "UpdateStreamMode", error))?;
        live = wait_active(ctx, id, name).await?;
    }
    if !on_demand {
        let target = stream.shards.unwrap_or(1);
        for step in reshard_steps(live.open_shards, target) {
            ctx.progress.line(&format!("{id}: resharding {} → {step}", live.open_shards));
            kinesis
                .update_shard_count()
                .stream_name(name)
                .target_shard_count(i32::try_from(step).unwrap_or(i32::MAX))
                .scaling_type(ScalingType::UniformScaling)
                .send()
                .await
                .map_err(|error| aws_error(id, "UpdateShardCount", error))?;
            live = wait_active(ctx, id, name).await?;
            live.open_shards = step;
        }
    }
    let hours = i32::try_from(stream.retention_hours).unwrap_or(24);
    if stream.retention_hours > live.retention_hours {
        kinesis
            .increase_stream_retention_period()
            .stream_name(name)
            .retention_period_hours(hours)
            .send()
            .await
            .map_err(|e| aws_error(id, "IncreaseStreamRetentionPeriod", e))?;
        wait_active(ctx, id, name).await?;
    } else if stream.retention_hours < live.retention_hours {
        kinesis
            .decrease_stream_retention_period()
            .stream_name(name)
            .retention_period_hours(hours)
            .send()
            .await
            .map_err(|e| aws_error(id, "DecreaseStreamRetentionPeriod", e))?;
        wait_active(ctx, id, name).await?;
    }
    let wanted_key = stream.attributes().get("kms_key").and_then(|key| key.as_str().map(str::to_string));
    if wanted_key != live.kms_key {
        match (&wanted_key, &live.kms_key) {
            // StartStreamEncryption "enables or updates" encryption: a new key replaces the old
            // one in one call, so the stream never passes through an unencrypted state.
            (Some(new), _) => {
                kinesis
                    .start_stream_encryption()
                    .stream_name(name)
                    .encryption_type(EncryptionType::Kms)
                    .key_id(new)
                    .send()
                    .await
                    .map_err(|e| aws_error(id, "StartStreamEncryption", e))?;
            }
            (None, Some(old)) => {
                kinesis
                    .stop_stream_encryption()
                    .stream_name(name)
                    .encryption_type(EncryptionType::Kms)
                    .key_id(old)
                    .send()
                    .await
                    .map_err(|e| aws_error(id, "StopStreamEncryption", e))?;
            }
            (None, None) => {}
        }
        wait_active(ctx, id, name).await?;
    }
    sync_tags(ctx, id, name, &resource.tags).await
}

async fn sync_tags(ctx: &Context, id: &ResourceId, name: &str, desired: &Tags) -> Result<(), AwsError> {
    let kinesis = &ctx.clients.kinesis;
    let live_tags = match tags(kinesis, name).await? {
        Ownership::Tagged(tags) => tags,
        Ownership::Absent | Ownership::Unreadable(_) => Tags::new(),
    };
    let stale: Vec<String> = live_tags.keys().filter(|key| !desired.contains_key(*key)).cloned().collect();
    for keys in stale.chunks(TAGS_PER_CALL) {
        kinesis
            .remove_tags_from_stream()
            .stream_name(name)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error(id, "RemoveTagsFromStream", e))?;
    }
    let changed: Tags =
        desired.iter().filter(|(k, v)| live_tags.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    add_tags(kinesis, id, name, &changed).await
}

/// How many tags (or tag keys) one `AddTagsToStream` (`RemoveTagsFromStream`) takes. The API
/// reference said "A set of up to 10 key-value pairs" for years, and AWS refused more
/// (hashicorp/terraform-provider-aws#4562, fixed by batching in #4574); its current text says
/// 50. Ten at a time is right under either. (CreateStream takes the whole set, up to the 50 a
/// stream may carry, which validation checks per resource.)
pub const TAGS_PER_CALL: usize = 10;

/// Adds or overwrites `tags` on the stream, `TAGS_PER_CALL` at a time.
async fn add_tags(kinesis: &aws_sdk_kinesis::Client, id: &ResourceId, name: &str, tags: &Tags) -> Result<(), AwsError> {
    for batch in super::kit::retag::batches(tags, TAGS_PER_CALL) {
        kinesis
            .add_tags_to_stream()
            .stream_name(name)
            .set_tags(Some(batch.into_iter().collect()))
            .send()
            .await
            .map_err(|e| aws_error(id, "AddTagsToStream", e))?;
    }
    Ok(())
}

/// Deletes the stream and waits until it is gone, so that a stream of the same name can follow.
async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    let kinesis = &ctx.clients.kinesis;
    let id = &live.id;
    kinesis
        .delete_stream()
        .stream_name(&live.physical_id)
        .enforce_consumer_deletion(true)
        .send()
        .await
        .map_err(|error| aws_error(id, "DeleteStream", error))?;
    wait_until(id, "deleted", ctx.wait, &ctx.progress, || async {
        Ok(match summary(kinesis, &live.physical_id).await? {
            None => Poll::Ready,
            Some((_, status)) => Poll::Pending(status.as_str().to_string()),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes(retention: i64, mode: &str, key: Option<&str>) -> Attributes {
        Attributes::from([
            ("retention_hours".to_string(), json!(retention)),
            ("mode".to_string(), json!(mode)),
            ("kms_key".to_string(), json!(key)),
        ])
    }

    #[test]
    fn a_shorter_retention_destroys_the_older_records() {
        let (long, short) = (attributes(72, "provisioned", None), attributes(24, "provisioned", None));
        let loss = Stream.update_loses_data(&long, &short).expect("a decrease loses data");
        assert!(loss.contains("from 72h to 24h") && loss.contains("up to 48 hours"), "{loss}");
        assert_eq!(Stream.update_loses_data(&short, &long), None, "an increase loses nothing");
    }

    #[test]
    fn mode_switches_and_key_changes_say_what_aws_allows() {
        let before = attributes(24, "provisioned", Some("alias/old"));
        let after = attributes(24, "on-demand", Some("alias/new"));
        let notes = Stream.change_notes(Action::Update, Some(&before), Some(&after));
        assert!(notes.iter().any(|n| n.contains("2 capacity-mode switches per stream in 24 hours")), "{notes:?}");
        assert!(notes.iter().any(|n| n.contains("never unencrypted in between")), "{notes:?}");
        assert!(Stream.change_notes(Action::Update, Some(&before), Some(&before)).is_empty());
    }

    #[test]
    fn reshards_at_most_double_or_halve() {
        assert_eq!(reshard_steps(2, 5), vec![4, 5]);
        assert_eq!(reshard_steps(2, 16), vec![4, 8, 16]);
        assert_eq!(reshard_steps(16, 3), vec![8, 4, 3]);
        assert_eq!(reshard_steps(5, 2), vec![3, 2]);
        assert_eq!(reshard_steps(4, 4), Vec::<i64>::new());
        for (from, to) in [(1, 500), (500, 1), (7, 93), (93, 7)] {
            let mut previous = from;
            for step in reshard_steps(from, to) {
                assert!(step <= previous * 2 && step * 2 >= previous, "{previous} -> {step}");
                previous = step;
            }
            assert_eq!(previous, to);
        }
    }

    #[test]
    fn reshard_note_counts_steps() {
        let before = Attributes::from([("shards".to_string(), json!(2))]);
        let after = Attributes::from([("shards".to_string(), json!(5))]);
        let notes = KIND.change_notes(Action::Update, Some(&before), Some(&after));
        assert_eq!(notes.len(), 1);
        assert!(notes[0].starts_with("reshard 2 → 5 in 2 steps (2 → 4 → 5)"), "{notes:?}");
    }

    #[test]
    fn encryption_is_granted_on_the_encrypted_streams_and_their_keys_only() {
        use crate::iam::deployer::Purpose;
        use crate::resources::test_support::{assert_granted, granted, sids_allowing, statement};
        let key = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let spec = crate::spec::SpecBuilder::new()
            .item("streams", "{name: plain, shards: 1, encryption: none}".to_string())
            .item("streams", format!("{{name: secret, shards: 1, encryption: kms, kms_key: {key}}}"))
            // Encrypted by default, with the AWS managed key.
            .stream("aliased", 1)
            .build();
        assert_granted(
            &super::Stream,
            &spec,
            &[
                ("kinesis:ListStreams", &["ReadWhatCannotBeScoped"]),
                ("kinesis:DescribeStreamSummary", &["ReadStreams", "OwnStreamsTheSpecDropped"]),
                ("kinesis:UpdateShardCount", &["ChangeStreams"]),
                ("kinesis:DeleteStream", &["OwnStreamsTheSpecDropped", "ChangeStreams"]),
                ("kinesis:StartStreamEncryption", &["EncryptStreams"]),
            ],
        );
        let all = granted(&super::Stream, &spec, Purpose::Everything);
        let arn = |name: &str| format!("arn:aws:kinesis:eu-west-1:123456789012:stream/{name}");
        assert_eq!(
            statement(&all, "EncryptStreams")["Resource"],
            serde_json::json!([
                arn("secret"),
                arn("aliased"),
                // The default key is an alias: any key of the account.
                "arn:aws:kms:eu-west-1:123456789012:key/*",
                format!("arn:aws:kms:eu-west-1:123456789012:key/{key}"),
            ])
        );
        assert_eq!(
            statement(&all, "ReadStreams")["Resource"],
            serde_json::json!([arn("plain"), arn("secret"), arn("aliased")])
        );
        let dropped = statement(&all, "OwnStreamsTheSpecDropped");
        assert_eq!(dropped["Resource"], serde_json::json!([arn("*")]));
        assert_eq!(dropped["Condition"]["StringEquals"]["aws:ResourceTag/pipectl:pipeline"], "p");
        let plain =
            crate::spec::SpecBuilder::new().item("streams", "{name: plain, encryption: none}".to_string()).build();
        let plain = granted(&super::Stream, &plain, Purpose::Everything);
        assert!(sids_allowing(&plain, "kinesis:StartStreamEncryption").is_empty(), "opted out, no encryption grant");
    }
}

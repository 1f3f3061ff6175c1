//! The SQS dead-letter queue of a pipeline's schedules, `<pipeline>-schedules-dlq`: where
//! EventBridge Scheduler puts a resize it could not deliver (the cluster terminated, the role
//! not assumable, EMR refusing the request) once its retry policy is spent, so that a failed
//! night batch is never silent. One per pipeline that has a cluster: every cluster's scheduler
//! role can create schedules (the spec's windows and `pipectl scale --for/--until`).
//!
//! Read by its derived name (GetQueueUrl, then GetQueueAttributes and ListQueueTags at once),
//! created with its tags in the CreateQueue call itself, changed in place (SetQueueAttributes,
//! TagQueue, UntagQueue), deleted with DeleteQueue. Messages in it are data: deleting a queue
//! that holds any needs `--allow-destroy`.
//!
//! Who may send to it: the EventBridge Scheduler User Guide ("Configuring a dead-letter queue",
//! "Set up execution role permissions") documents that the schedule's *execution role* needs
//! `sqs:SendMessage` on the queue; Scheduler delivers dead-letter events as that role, not as
//! the `scheduler.amazonaws.com` service principal, so the queue policy grants nothing. The
//! statement belongs in the scheduler role's policy (`send_statement`). The queue policy only
//! refuses requests that do not use TLS (Amazon SQS Developer Guide, "Amazon SQS security best
//! practices": enforce encryption of data in transit with `aws:SecureTransport`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{json, Value};

use super::kit::wait::{wait_until, Poll};
use super::kit::Output;
use super::kit::{
    adopt, aws_error, owned_by, AwsError, Clients, Context, Grant, GrantContext, LiveResource, NamedRead, Ownership,
    ReadContext, ResourceKind, Scope, Tags, WITH_PIPECTL_ADOPT,
};
use crate::iam::{normalize, parse_document, Arns};
use crate::model::{
    Action, Attributes, Binding, DesiredConfig, DesiredResource, Document, GraphContext, Kind, KindRules, LiveDetail,
    Names, ResourceId, PIPELINE_TAG, RESOURCE_TAG,
};
use crate::names::{schedules_dlq_name, SCHEDULES_DLQ};

pub struct Queue;
pub const KIND: Kind = Kind::of(&Queue);

/// The pipeline's one queue: `queue/schedules-dlq`.
pub fn id() -> ResourceId {
    ResourceId::new(KIND, SCHEDULES_DLQ)
}

/// SQS's longest retention, 14 days (CreateQueue, `MessageRetentionPeriod`: 60 to 1,209,600
/// seconds, default 345,600 = 4 days): a failure on a Friday night is still there on Monday.
pub const RETENTION_SECONDS: i64 = 1_209_600;

/// How long SQS keeps a deleted queue's name (DeleteQueue: "you must wait at least 60 seconds
/// before creating a queue with the same name"), with a margin.
const NAME_REUSE: Duration = Duration::from_secs(75);

/// What `encryption` says for SQS-managed server-side encryption (SSE-SQS).
const SSE_SQS: &str = "sse-sqs";

/// The ARN of the pipeline's dead-letter queue, which the schedules name and which the
/// scheduler roles may send to.
pub fn arn(arns: &Arns, pipeline: &str) -> String {
    format!("arn:{}:sqs:{}:{}:{}", arns.partition, arns.region, arns.account_id, schedules_dlq_name(pipeline))
}

/// The statement a scheduler role needs so that EventBridge Scheduler can deliver dead-letter
/// events (EventBridge Scheduler User Guide, "Configuring a dead-letter queue": the execution
/// role needs `sqs:SendMessage`), scoped to this one queue. SSE-SQS needs no KMS permission.
pub fn send_statement(arns: &Arns, pipeline: &str) -> Value {
    json!({"Sid": "SendToDeadLetterQueue", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [arn(arns, pipeline)]})
}

/// The queue policy: no request without TLS; access itself comes from IAM policies.
pub fn queue_policy(queue_arn: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "sqs:*",
            "Resource": queue_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }]
    })
}

/// A policy in the form plans compare: IAM's normalisation, with `"Principal": "*"` and
/// `{"AWS": "*"}` (which mean the same) written one way.
fn canonical_policy(document: &Value) -> Value {
    let mut document = document.clone();
    if let Some(statements) = document.get_mut("Statement") {
        let statements = match statements {
            Value::Array(items) => items.iter_mut().collect::<Vec<_>>(),
            single => vec![single],
        };
        for statement in statements {
            for key in ["Principal", "NotPrincipal"] {
                if statement.get(key) == Some(&json!("*")) {
                    statement[key] = json!({"AWS": "*"});
                }
            }
        }
    }
    normalize(&document)
}

/// The queue the spec asks for.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// The SQS name, `<pipeline>-schedules-dlq`.
    pub queue_name: String,
    pub retention_seconds: i64,
    /// The queue policy, normalised.
    pub policy: Value,
}

impl DesiredConfig for QueueConfig {
    fn attributes(&self) -> Attributes {
        attributes(Some(self.retention_seconds), &self.policy, SSE_SQS)
    }

    /// The policy names the queue by its ARN.
    fn bind(&self, binding: &Binding) -> Option<Arc<dyn DesiredConfig>> {
        Some(Arc::new(QueueConfig { policy: canonical_policy(&binding.value(&self.policy)), ..self.clone() }))
    }
}

fn attributes(retention_seconds: Option<i64>, policy: &Value, encryption: &str) -> Attributes {
    Attributes::from([
        ("retention_seconds".to_string(), json!(retention_seconds)),
        ("policy".to_string(), policy.clone()),
        ("encryption".to_string(), json!(encryption)),
    ])
}

/// The queue as GetQueueAttributes reports it (every value is a string there).
#[derive(Debug, Clone)]
pub struct Live {
    pub url: String,
    pub arn: String,
    pub retention_seconds: Option<i64>,
    /// The queue policy, normalised (`null` without one).
    pub policy: Value,
    /// `sse-sqs`, `sse-kms` or `none`.
    pub encryption: String,
    /// Messages waiting, in flight and delayed: each one a schedule invocation that failed.
    pub messages: i64,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, _names: &Names) -> (Attributes, Vec<ResourceId>) {
        (attributes(self.retention_seconds, &self.policy, &self.encryption), Vec::new())
    }

    /// The counts are approximate (GetQueueAttributes: they may lag by a minute), which is
    /// enough to refuse a delete without `--allow-destroy`.
    fn holds_data(&self) -> Option<String> {
        (self.messages > 0).then(|| {
            format!(
                "{} failed schedule invocation{} in the dead-letter queue {} lost with it (read them first: aws sqs receive-message --queue-url {} --attribute-names All --message-attribute-names All)",
                self.messages,
                if self.messages == 1 { "" } else { "s" },
                if self.messages == 1 { "is" } else { "are" },
                self.url
            )
        })
    }
}

impl KindRules for Queue {
    fn name(&self) -> &'static str {
        "queue"
    }
    fn rank(&self) -> u8 {
        120
    }
    /// The queue policy pipectl writes (TLS only, and who may send).
    fn document(&self, field: &str) -> Option<Document> {
        (field == "policy").then_some(Document::Policy)
    }
    /// SetQueueAttributes: a new retention period can take up to 15 minutes to apply.
    fn change_notes(&self, action: Action, before: Option<&Attributes>, after: Option<&Attributes>) -> Vec<String> {
        let retention = |attributes: Option<&Attributes>| attributes.and_then(|a| a.get("retention_seconds")).cloned();
        if action == Action::Update && retention(before) != retention(after) {
            return vec![
                "SQS applies a new retention period within up to 15 minutes; a plan right after may still show the old one"
                    .to_string(),
            ];
        }
        Vec::new()
    }
}

/// The pipeline's dead-letter queue: one for the whole pipeline, however many kinds derive it.
pub fn node(graph: &GraphContext) -> DesiredResource {
    let pipeline = &graph.spec.pipeline;
    let config = QueueConfig {
        queue_name: schedules_dlq_name(pipeline),
        retention_seconds: RETENTION_SECONDS,
        policy: canonical_policy(&queue_policy(&arn(graph.arns, pipeline))),
    };
    graph.node(id(), &Tags::new(), vec![], config)
}

/// The queue and, with alarms on, the alarm that says a schedule failed: what a kind that
/// derives schedules derives with them.
pub fn nodes(graph: &GraphContext) -> Vec<DesiredResource> {
    let mut nodes = vec![node(graph)];
    let alarm = crate::spec::enabled_alarms(graph.spec)
        .and_then(|alarms| crate::spec::dead_letter_alarm(alarms, &graph.spec.pipeline));
    if let Some(alarm) = alarm {
        // Plans show the queue by its spec name, as `describe` reads the live one.
        let (queue, name) = (id(), schedules_dlq_name(&graph.spec.pipeline));
        nodes.push(super::alarm::node(graph, alarm, &queue, name, queue.name.clone()));
    }
    nodes
}

impl ResourceKind for Queue {
    type Desired = QueueConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    /// None of its own: every cluster derives it (`node`), for its schedules and `pipectl scale`.
    fn desired(&self, _graph: &GraphContext) -> Vec<DesiredResource> {
        Vec::new()
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        self::read(read).await
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &QueueConfig,
    ) -> Result<String, AwsError> {
        create(ctx, resource, desired).await
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &QueueConfig,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        configure(ctx, resource, desired, &live.tags, detail).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
        delete(ctx, live, detail).await
    }

    const ADOPTABLE: bool = true;

    /// TagQueue adds or overwrites the given tags only; it takes the queue's URL.
    async fn adopt(
        &self,
        clients: &Clients,
        live: &LiveResource,
        detail: &Live,
        ownership: &Tags,
    ) -> Result<(), AwsError> {
        let mut request = clients.sqs.tag_queue().queue_url(&detail.url);
        for (key, value) in ownership {
            request = request.tags(key, value);
        }
        request.send().await.map_err(|error| aws_error(&live.id, "TagQueue", error))?;
        Ok(())
    }

    fn outputs(&self, _live: &LiveResource, detail: &Live, _arns: &Arns) -> Vec<Output> {
        vec![Output::new("url", &detail.url), Output::new("arn", &detail.arn)]
    }

    /// The dead-letter queue by its exact name (a name prefix would reach another pipeline's
    /// queue: `clk-*` matches `clk-b-schedules-dlq`).
    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let queue = vec![ctx.arn("sqs", &schedules_dlq_name(&ctx.spec.pipeline))];
        let read = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ListQueueTags"];
        let change = ["sqs:CreateQueue", "sqs:TagQueue", "sqs:UntagQueue", "sqs:SetQueueAttributes"];
        vec![
            Grant::new("ReadQueue", Scope::Plan, &read, queue.clone()),
            Grant::new("ChangeQueue", Scope::Apply, &change, queue.clone()),
            Grant::new("ChangeQueue", Scope::Destroy, &["sqs:DeleteQueue"], queue),
        ]
    }
}

/// True when SQS said the queue does not exist. The SDK speaks SQS's JSON protocol; AWS sends
/// the query-era code in `x-amzn-query-error` (`AWS.SimpleQueueService.NonExistentQueue`), an
/// endpoint without that header the JSON error type (`QueueDoesNotExist`).
fn is_absent(error: &AwsError) -> bool {
    error.has_code("AWS.SimpleQueueService.NonExistentQueue") || error.has_code("QueueDoesNotExist")
}

/// CreateQueue within 60 seconds of deleting the same name.
fn is_deleted_recently(error: &AwsError) -> bool {
    error.has_code("AWS.SimpleQueueService.QueueDeletedRecently") || error.has_code("QueueDeletedRecently")
}

/// CreateQueue for a name that exists with other attributes.
fn is_name_taken(error: &AwsError) -> bool {
    error.has_code("QueueAlreadyExists") || error.has_code("QueueNameExists")
}

/// The queue's URL, or None when there is no queue of that name.
async fn queue_url(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<Option<String>, AwsError> {
    match sqs.get_queue_url().queue_name(name).send().await.map_err(|e| aws_error(id(), "GetQueueUrl", e)) {
        Ok(output) => output
            .queue_url()
            .map(|url| Some(url.to_string()))
            .ok_or_else(|| AwsError::missing(id(), "GetQueueUrl", "QueueUrl")),
        Err(error) if is_absent(&error) => Ok(None),
        Err(error) => Err(error),
    }
}

/// True when the pipeline's dead-letter queue exists (one GetQueueUrl).
pub async fn exists(clients: &Clients, pipeline: &str) -> Result<bool, AwsError> {
    Ok(queue_url(&clients.sqs, &schedules_dlq_name(pipeline)).await?.is_some())
}

/// The queue named `name` as SQS holds it: its tags and attributes, or None when it is absent
/// (also when it disappears between the calls).
pub async fn inspect(sqs: &aws_sdk_sqs::Client, name: &str) -> Result<Option<(Tags, Live)>, AwsError> {
    let Some(url) = queue_url(sqs, name).await? else { return Ok(None) };
    let attributes = sqs.get_queue_attributes().queue_url(&url).attribute_names(QueueAttributeName::All).send();
    let tags = sqs.list_queue_tags().queue_url(&url).send();
    let (attributes, tags) = tokio::join!(attributes, tags);
    let attributes = match attributes.map_err(|e| aws_error(id(), "GetQueueAttributes", e)) {
        Ok(output) => output.attributes().cloned().unwrap_or_default(),
        Err(error) if is_absent(&error) => return Ok(None),
        Err(error) => return Err(error),
    };
    let tags: Tags = match tags.map_err(|e| aws_error(id(), "ListQueueTags", e)) {
        Ok(output) => output.tags().cloned().unwrap_or_default().into_iter().collect(),
        Err(error) if is_absent(&error) => return Ok(None),
        Err(error) => return Err(error),
    };
    Ok(Some((tags, live(url, &attributes)?)))
}

/// Reads GetQueueAttributes' string map. The queue ARN is required (the schedules name it).
fn live(url: String, attributes: &HashMap<QueueAttributeName, String>) -> Result<Live, AwsError> {
    let get = |name: QueueAttributeName| attributes.get(&name).map(String::as_str);
    let number = |name: QueueAttributeName| get(name).and_then(|value| value.trim().parse::<i64>().ok());
    let arn = get(QueueAttributeName::QueueArn)
        .ok_or_else(|| AwsError::missing(id(), "GetQueueAttributes", "QueueArn"))?
        .to_string();
    let policy = get(QueueAttributeName::Policy)
        .filter(|text| !text.trim().is_empty())
        .map_or(Value::Null, |text| parse_document(text).map_or_else(|| json!(text), |doc| canonical_policy(&doc)));
    let encryption = if get(QueueAttributeName::KmsMasterKeyId).is_some_and(|key| !key.is_empty()) {
        "sse-kms"
    } else if get(QueueAttributeName::SqsManagedSseEnabled).is_some_and(|on| on.eq_ignore_ascii_case("true")) {
        SSE_SQS
    } else {
        "none"
    };
    let messages = [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        QueueAttributeName::ApproximateNumberOfMessagesDelayed,
    ]
    .into_iter()
    .filter_map(number)
    .sum();
    Ok(Live {
        url,
        arn,
        retention_seconds: number(QueueAttributeName::MessageRetentionPeriod),
        policy,
        encryption: encryption.to_string(),
        messages,
    })
}

/// Looks the pipeline's queue up by its derived name, whether or not the spec still asks for
/// it (a spec without clusters, or destroy, deletes it). A queue of that name that is not the
/// pipeline's is in the way only when the spec needs the name.
async fn read(read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
    let name = schedules_dlq_name(read.pipeline);
    let Some((tags, live)) = inspect(&read.clients.sqs, &name).await? else {
        return Ok(NamedRead::default());
    };
    let id = id();
    if owned_by(&tags, read.pipeline) || adopt(&id, &tags, read.adoptable) {
        return Ok(NamedRead::found(vec![LiveResource::new(id, name, tags, live)]));
    }
    let mut result = NamedRead::default();
    if read.desired_of(KIND).next().is_some() {
        let owner = match tags.get(PIPELINE_TAG) {
            Some(other) => format!("it belongs to pipeline `{other}`"),
            None => "it is not tagged as managed by pipectl".to_string(),
        };
        result.conflicts.push(format!(
            "{id}: the SQS queue {name} already exists but {owner}; pipectl never modifies resources it does not own. \
             Delete or rename that queue, or adopt it deliberately by tagging it {PIPELINE_TAG}={} and {RESOURCE_TAG}={id} (aws sqs tag-queue)",
            read.pipeline
        ));
    }
    Ok(result)
}

/// The attributes CreateQueue sets. SSE-SQS is named although AWS turns it on by default for
/// new queues, so that the queue is encrypted whatever the account's default.
fn create_attributes(config: &QueueConfig) -> HashMap<QueueAttributeName, String> {
    HashMap::from([
        (QueueAttributeName::MessageRetentionPeriod, config.retention_seconds.to_string()),
        (QueueAttributeName::Policy, config.policy.to_string()),
        (QueueAttributeName::SqsManagedSseEnabled, "true".to_string()),
    ])
}

/// Creates the queue with its tags in the same call (CreateQueue `tags`; AWS asks for
/// `sqs:TagQueue` as well as `sqs:CreateQueue` for it), so it is never untagged. SQS refuses a
/// name for 60 seconds after its queue was deleted: that is waited out, visibly. A queue of the
/// name that already exists with other attributes (an interrupted run of ours) is brought up
/// to date if it is this pipeline's.
async fn create(ctx: &Context, resource: &DesiredResource, config: &QueueConfig) -> Result<String, AwsError> {
    let id = &resource.id;
    let sqs = &ctx.clients.sqs;
    let deadline = Instant::now() + NAME_REUSE.min(ctx.wait.timeout);
    let mut told = false;
    let created = loop {
        let result = sqs
            .create_queue()
            .queue_name(&config.queue_name)
            .set_attributes(Some(create_attributes(config)))
            .set_tags(Some(resource.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|error| aws_error(id, "CreateQueue", error));
        match result {
            Err(error) if is_deleted_recently(&error) && Instant::now() < deadline => {
                if !told {
                    ctx.progress.line(&format!(
                        "{id}: SQS keeps the name {} for 60 seconds after its queue was deleted; waiting to create it again",
                        config.queue_name
                    ));
                    told = true;
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            other => break other,
        }
    };
    match created {
        Ok(_) => Ok(config.queue_name.clone()),
        Err(error) if is_name_taken(&error) => {
            let Some((tags, live)) = inspect(sqs, &config.queue_name).await? else { return Err(error) };
            ctx.claim_existing(id, "CreateQueue", Ownership::Tagged(tags.clone()), WITH_PIPECTL_ADOPT).await?;
            configure(ctx, resource, config, &tags, &live).await?;
            Ok(config.queue_name.clone())
        }
        Err(error) => Err(error),
    }
}

/// Brings the attributes (one SetQueueAttributes) and the tags to the spec's. When any managed
/// attribute differs, all of them are sent: AWS leaves the ones not named as they are, but moto
/// drops a queue's policy from a SetQueueAttributes that does not name it.
async fn configure(
    ctx: &Context,
    resource: &DesiredResource,
    config: &QueueConfig,
    live_tags: &Tags,
    live: &Live,
) -> Result<(), AwsError> {
    let id = &resource.id;
    let sqs = &ctx.clients.sqs;
    let differs = live.retention_seconds != Some(config.retention_seconds)
        || live.policy != config.policy
        || live.encryption != SSE_SQS;
    if differs {
        sqs.set_queue_attributes()
            .queue_url(&live.url)
            .set_attributes(Some(create_attributes(config)))
            .send()
            .await
            .map_err(|error| aws_error(id, "SetQueueAttributes", error))?;
    }
    let stale: Vec<String> = live_tags.keys().filter(|key| !resource.tags.contains_key(*key)).cloned().collect();
    if !stale.is_empty() {
        sqs.untag_queue()
            .queue_url(&live.url)
            .set_tag_keys(Some(stale))
            .send()
            .await
            .map_err(|error| aws_error(id, "UntagQueue", error))?;
    }
    let tags: HashMap<String, String> = resource
        .tags
        .iter()
        .filter(|(key, value)| live_tags.get(*key) != Some(*value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if !tags.is_empty() {
        sqs.tag_queue()
            .queue_url(&live.url)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|error| aws_error(id, "TagQueue", error))?;
    }
    Ok(())
}

/// Deletes the queue (one already gone counts as deleted) and waits until SQS no longer finds
/// it: DeleteQueue says the deletion takes up to 60 seconds, during which requests to the
/// queue may still succeed, and a plan read then would find it again.
async fn delete(ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
    let sqs = &ctx.clients.sqs;
    match sqs.delete_queue().queue_url(&detail.url).send().await.map_err(|e| aws_error(&live.id, "DeleteQueue", e)) {
        Err(error) if !is_absent(&error) => return Err(error),
        _ => {}
    }
    wait_until(&live.id, "deleted", ctx.wait, &ctx.progress, || async {
        Ok(match queue_url(sqs, &live.physical_id).await? {
            None => Poll::Ready,
            Some(_) => Poll::Pending("being deleted".to_string()),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    //! The queue's reads and writes against the SDK's mock client, replaying the response
    //! shapes the SQS API reference documents (every attribute a string; errors in the JSON
    //! protocol with the query-era code in `x-amzn-query-error`).

    use aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput;
    use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlOutput;
    use aws_sdk_sqs::operation::list_queue_tags::ListQueueTagsOutput;
    use aws_sdk_sqs::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;
    use crate::resources::graph_in;

    const URL: &str = "https://sqs.eu-west-1.amazonaws.com/123456789012/p-schedules-dlq";
    const ARN: &str = "arn:aws:sqs:eu-west-1:123456789012:p-schedules-dlq";

    /// The dead-letter queue's physical name carries the pipeline; the plan shows its spec name,
    /// as the live alarm's dimension reads back through `Names` (a plan after apply is empty).
    #[test]
    fn the_dead_letter_alarm_shows_the_queue_by_its_spec_name() {
        let text = "version: 1\npipeline: p\nregion: us-east-1\nnetwork:\n  vpc: { cidr: 10.0.0.0/16 }\n  subnets:\n    - { name: a, cidr: 10.0.0.0/24, availability_zone: us-east-1a }\n  endpoints: [s3]\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 2}\n    schedules:\n      - {name: batch, cron: '0 2 * * *', group: core, nodes: 4, for: 4h}\nalarms: {}\n";
        let spec = crate::spec::load_bytes("t.yaml", text.as_bytes()).unwrap();
        let graph = graph_in(&spec, &Arns::new("123456789012", "us-east-1"), chrono::Utc::now());
        let alarm = graph
            .iter()
            .find(|r| {
                r.config::<crate::resources::alarm::AlarmConfig>()
                    .is_some_and(|c| c.dimension_value.ends_with("schedules-dlq"))
            })
            .unwrap();
        let queue = id();
        assert_eq!(alarm.config::<crate::resources::alarm::AlarmConfig>().unwrap().dimension_value, "p-schedules-dlq");
        assert_eq!(alarm.attributes()["dimensions"], json!(format!("QueueName={}", queue.name)));
    }
    const CLUSTER_SPEC: &str = "version: 1\npipeline: p\nregion: eu-west-1\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 2}\n";

    fn arns() -> Arns {
        Arns::new("123456789012", "eu-west-1")
    }

    /// An SQS error over the JSON protocol: AWS adds the query-era code in `x-amzn-query-error`.
    fn sqs_error(json_type: &'static str, query_code: Option<&'static str>) -> aws_smithy_runtime_api::http::Response {
        let body =
            format!(r#"{{"__type":"com.amazonaws.sqs#{json_type}","message":"The specified queue does not exist."}}"#);
        let mut response =
            aws_smithy_runtime_api::http::Response::new(StatusCode::try_from(400).unwrap(), SdkBody::from(body));
        response.headers_mut().insert("content-type", "application/x-amz-json-1.0");
        if let Some(code) = query_code {
            response.headers_mut().insert("x-amzn-query-error", format!("{code};Sender"));
        }
        response
    }

    fn attributes(extra: &[(QueueAttributeName, &str)]) -> HashMap<QueueAttributeName, String> {
        let mut attributes = HashMap::from([
            (QueueAttributeName::QueueArn, ARN.to_string()),
            (QueueAttributeName::MessageRetentionPeriod, "1209600".to_string()),
            (QueueAttributeName::SqsManagedSseEnabled, "true".to_string()),
            (QueueAttributeName::ApproximateNumberOfMessages, "0".to_string()),
            (QueueAttributeName::ApproximateNumberOfMessagesNotVisible, "0".to_string()),
            (QueueAttributeName::ApproximateNumberOfMessagesDelayed, "0".to_string()),
        ]);
        attributes.extend(extra.iter().map(|(name, value)| (name.clone(), value.to_string())));
        attributes
    }

    #[test]
    fn a_pipeline_with_a_cluster_has_one_queue_with_fourteen_days_and_a_tls_only_policy() {
        let spec = serde_saphyr::from_str(CLUSTER_SPEC).unwrap();
        let graph = graph_in(&spec, &arns(), chrono::Utc::now());
        let queues: Vec<&DesiredResource> = graph.iter().filter(|node| node.id.kind == KIND).collect();
        assert_eq!(queues.len(), 1);
        assert_eq!(queues[0].id.to_string(), "queue/schedules-dlq");
        let config = queues[0].config::<QueueConfig>().unwrap();
        assert_eq!((config.queue_name.as_str(), config.retention_seconds), ("p-schedules-dlq", 1_209_600));
        let attributes = queues[0].attributes();
        assert_eq!(attributes["encryption"], json!("sse-sqs"));
        assert_eq!(attributes["policy"]["Statement"][0]["Resource"], json!([ARN]));
        assert_eq!(attributes["tags"]["pipectl:resource"], json!("queue/schedules-dlq"));
        let without: crate::spec::Spec =
            serde_saphyr::from_str("version: 1\npipeline: p\nregion: eu-west-1\n").unwrap();
        assert!(graph_in(&without, &arns(), chrono::Utc::now()).iter().all(|node| node.id.kind != KIND));
    }

    #[test]
    fn arns_and_the_role_statement_follow_the_partition() {
        assert_eq!(arn(&arns(), "p"), ARN);
        assert_eq!(
            arn(&Arns::new("123456789012", "cn-north-1"), "p"),
            "arn:aws-cn:sqs:cn-north-1:123456789012:p-schedules-dlq"
        );
        assert_eq!(
            arn(&Arns::new("123456789012", "us-gov-west-1"), "p"),
            "arn:aws-us-gov:sqs:us-gov-west-1:123456789012:p-schedules-dlq"
        );
        assert_eq!(
            send_statement(&arns(), "p"),
            json!({"Sid": "SendToDeadLetterQueue", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": [ARN]})
        );
    }

    /// The scheduler role is the one Scheduler sends dead-letter events as: without this
    /// statement a failed resize would be dropped again, this time at the queue.
    #[test]
    fn the_scheduler_role_may_send_to_the_queue() {
        let spec = serde_saphyr::from_str(CLUSTER_SPEC).unwrap();
        let graph = graph_in(&spec, &arns(), chrono::Utc::now());
        let role = graph.iter().find(|node| node.id.to_string() == "role/spark-scheduler").expect("scheduler role");
        let inline = &role.attributes()["inline_policy"];
        let expected = normalize(&json!({"Version": "2012-10-17", "Statement": [send_statement(&arns(), "p")]}));
        assert!(
            inline["Statement"].as_array().into_iter().flatten().any(|s| *s == expected["Statement"][0]),
            "the scheduler role's policy lacks {}: {inline}",
            expected["Statement"][0]
        );
    }

    #[test]
    fn the_same_policy_written_either_way_compares_equal() {
        let written = queue_policy(ARN);
        let mut read_back = written.clone();
        read_back["Statement"][0]["Principal"] = json!("*");
        read_back["Statement"][0]["Action"] = json!(["sqs:*"]);
        assert_eq!(canonical_policy(&read_back), canonical_policy(&written));
    }

    #[tokio::test]
    async fn a_queue_reads_back_from_its_string_attributes() {
        let policy = queue_policy(ARN).to_string();
        let url = mock!(Client::get_queue_url).then_output(|| GetQueueUrlOutput::builder().queue_url(URL).build());
        let get = mock!(Client::get_queue_attributes).then_output(move || {
            GetQueueAttributesOutput::builder()
                .set_attributes(Some(attributes(&[
                    (QueueAttributeName::Policy, &policy),
                    (QueueAttributeName::ApproximateNumberOfMessages, "2"),
                    (QueueAttributeName::ApproximateNumberOfMessagesNotVisible, "1"),
                ])))
                .build()
        });
        let tags = mock!(Client::list_queue_tags).then_output(|| {
            ListQueueTagsOutput::builder().tags(PIPELINE_TAG, "p").tags(RESOURCE_TAG, "queue/schedules-dlq").build()
        });
        let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&url, &get, &tags]);
        let (tags, live) = inspect(&sqs, "p-schedules-dlq").await.unwrap().expect("the queue");
        assert_eq!(tags.get(PIPELINE_TAG).map(String::as_str), Some("p"));
        assert_eq!((live.url.as_str(), live.arn.as_str()), (URL, ARN));
        assert_eq!((live.retention_seconds, live.encryption.as_str(), live.messages), (Some(1_209_600), "sse-sqs", 3));
        let (attributes, _) = live.describe("p-schedules-dlq", &Names::default());
        let spec = serde_saphyr::from_str(CLUSTER_SPEC).unwrap();
        let graph = graph_in(&spec, &arns(), chrono::Utc::now());
        let desired =
            graph.iter().find(|node| node.id.kind == KIND).unwrap().config::<QueueConfig>().unwrap().attributes();
        assert_eq!(attributes, desired, "an unchanged queue plans empty");
        let loss = live.holds_data().expect("messages are data");
        assert!(loss.starts_with("3 failed schedule invocations in the dead-letter queue are lost"), "{loss}");
        assert!(loss.contains(&format!("aws sqs receive-message --queue-url {URL}")), "{loss}");
    }

    #[tokio::test]
    async fn an_empty_queue_holds_no_data_and_kms_or_no_encryption_shows() {
        let live =
            live(URL.to_string(), &attributes(&[(QueueAttributeName::KmsMasterKeyId, "alias/aws/sqs")])).unwrap();
        assert_eq!((live.holds_data(), live.encryption.as_str(), live.policy.clone()), (None, "sse-kms", Value::Null));
        let live = live_without_sse();
        assert_eq!(live.encryption, "none");
    }

    fn live_without_sse() -> Live {
        let mut plain = attributes(&[]);
        plain.remove(&QueueAttributeName::SqsManagedSseEnabled);
        live(URL.to_string(), &plain).unwrap()
    }

    #[tokio::test]
    async fn a_missing_queue_is_absent_with_the_query_code_or_the_json_type() {
        for query_code in [Some("AWS.SimpleQueueService.NonExistentQueue"), None] {
            let url =
                mock!(Client::get_queue_url).then_http_response(move || sqs_error("QueueDoesNotExist", query_code));
            let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&url]);
            assert!(inspect(&sqs, "p-schedules-dlq").await.unwrap().is_none(), "{query_code:?}");
        }
    }

    #[tokio::test]
    async fn other_errors_are_not_absence() {
        let url =
            mock!(Client::get_queue_url).then_http_response(|| sqs_error("RequestThrottled", Some("RequestThrottled")));
        let sqs = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&url]);
        let error = inspect(&sqs, "p-schedules-dlq").await.unwrap_err();
        assert!(error.has_code("RequestThrottled"), "{error}");
    }

    #[test]
    fn the_create_and_name_reuse_codes_are_recognised() {
        let coded =
            |code: &str| AwsError { code: Some(code.to_string()), ..AwsError::new("queue/x", "CreateQueue", "") };
        assert!(is_deleted_recently(&coded("AWS.SimpleQueueService.QueueDeletedRecently")));
        assert!(is_name_taken(&coded("QueueAlreadyExists")));
        assert!(!is_absent(&coded("QueueAlreadyExists")));
    }

    #[test]
    fn a_retention_change_says_when_it_takes_effect() {
        let before = Attributes::from([("retention_seconds".to_string(), json!(345_600))]);
        let after = Attributes::from([("retention_seconds".to_string(), json!(RETENTION_SECONDS))]);
        let notes = KIND.change_notes(Action::Update, Some(&before), Some(&after));
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("15 minutes"), "{notes:?}");
    }

    #[test]
    fn the_dead_letter_queue_is_reached_by_its_exact_name() {
        use crate::iam::deployer::Purpose;
        use crate::resources::test_support::{assert_granted, granted, sids_allowing, statement};
        let spec = crate::spec::SpecBuilder::new().build();
        assert_granted(
            &super::Queue,
            &spec,
            &[
                ("sqs:GetQueueAttributes", &["ReadQueue"]),
                ("sqs:SetQueueAttributes", &["ChangeQueue"]),
                ("sqs:DeleteQueue", &["ChangeQueue"]),
            ],
        );
        let all = granted(&super::Queue, &spec, Purpose::Everything);
        assert_eq!(
            statement(&all, "ChangeQueue")["Resource"],
            serde_json::json!(["arn:aws:sqs:eu-west-1:123456789012:p-schedules-dlq"]),
            "`p-*` would reach pipeline `p-b`'s queue"
        );
        assert!(sids_allowing(&all, "sqs:SendMessage").is_empty(), "the schedules' role sends, not the deployer");
    }
}

//! CloudWatch metric alarms on the pipeline's resources, each notifying the pipeline's topic. An
//! alarm is a primitive other kinds construct (`node`): a stream, a delivery, a cluster, a job
//! and the dead-letter queue derive their own, as the spec's `alarms:` section asks (see
//! `spec::alarms` for which alarms and why).
//! Named `pipectl-<pipeline>-<resource>-<metric>`, owned by their tags (CloudWatch tags alarms:
//! ListTagsForResource on the alarm ARN).
//!
//! Read with DescribeAlarms by the pipeline's name prefix, then all their tags at once. Created and
//! changed with PutMetricAlarm, which creates or overwrites the whole alarm, so every field is
//! an in-place update; its `Tags` apply only when it creates the alarm ("If you are using this
//! operation to update an existing alarm, any tags you specify in this parameter are ignored",
//! PutMetricAlarm, Amazon CloudWatch API Reference), so an update retags with TagResource and
//! UntagResource. Deleted with DeleteAlarms.
//!
//! An alarm that watches only the batch windows (`AlarmSpec::during`, EMR `IsIdle`) is a
//! metric math alarm: PutMetricAlarm's `Metrics` instead of its single-metric fields, the
//! metric, the minute-of-week expression and the returned expression; DescribeAlarms returns
//! them in `Metrics`, and plans read the returned expression back as the windows in words.
//!
//! An EMR alarm's `JobFlowId` is the cluster's id: the desired dimension holds the cluster's
//! placeholder, bound after the read when the cluster exists and filled in by apply when it
//! creates it (`resolve_placeholders`); plans show the cluster's spec name on both sides.

use std::sync::Arc;

use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, Metric, MetricAlarm, MetricDataQuery, MetricStat, StandardUnit, Statistic, Tag,
};
use futures::stream::{self, StreamExt};
use serde_json::json;

use super::kit::named::AT_ONCE;
use super::kit::{
    adopt, aws_error, owned_by, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, ReadContext,
    ResourceKind, Scope, Tags,
};
use super::kit::{Fact, Health, Output};
use crate::calendar::{
    parse_window_expression, window_expression, METRIC_ID, MINUTE_OF_WEEK, MINUTE_OF_WEEK_ID, WATCHED_ID,
};
use crate::iam::Arns;
use crate::model::{
    Action, Attributes, Binding, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names,
    ResourceId,
};
use crate::names::{alarm_name, alarm_prefix};
use crate::pricing::{self, CostLine, Prices};
use crate::spec::{condition_words, during_words, AlarmSpec};

pub struct Alarm;
pub const KIND: Kind = Kind::of(&Alarm);

/// An alarm is named in plans `<resource>-<metric>`.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// What CloudWatch does with periods that have no data: a stream nobody writes to or a cluster
/// between batches publishes nothing, which is no reason to page.
const TREAT_MISSING_DATA: &str = "notBreaching";

/// One alarm as the spec asks for it.
#[derive(Debug, Clone)]
pub struct AlarmConfig {
    pub alarm_name: String,
    pub spec: AlarmSpec,
    /// The dimension's value: a name, or a `${cluster/…}` placeholder apply resolves.
    pub dimension_value: String,
    /// The dimension's value as plans show it (the cluster's spec name, not its id).
    pub dimension_label: String,
    pub topic_arn: String,
}

impl DesiredConfig for AlarmConfig {
    fn attributes(&self) -> Attributes {
        let spec = &self.spec;
        attributes(
            spec.namespace,
            spec.metric,
            &format!("{}={}", spec.dimension, self.dimension_label),
            &during_words(
                condition_words(
                    spec.statistic,
                    spec.metric,
                    spec.comparison,
                    spec.threshold,
                    spec.period_seconds,
                    spec.evaluation_periods,
                ),
                &spec.during,
            ),
            &[topic_name(&self.topic_arn)],
            TREAT_MISSING_DATA,
        )
    }

    /// The topic is named by its ARN, and the watched resource by its id or ARN.
    fn bind(&self, binding: &Binding) -> Option<Arc<dyn DesiredConfig>> {
        Some(Arc::new(AlarmConfig {
            topic_arn: binding.text(&self.topic_arn),
            dimension_value: binding.text(&self.dimension_value),
            ..self.clone()
        }))
    }
}

fn attributes(
    namespace: &str,
    metric: &str,
    dimensions: &str,
    condition: &str,
    actions: &[&str],
    treat_missing_data: &str,
) -> Attributes {
    Attributes::from([
        ("metric".to_string(), json!(format!("{namespace} {metric}"))),
        ("dimensions".to_string(), json!(dimensions)),
        ("condition".to_string(), json!(condition)),
        ("actions".to_string(), json!(actions)),
        ("treat_missing_data".to_string(), json!(treat_missing_data)),
    ])
}

/// The last part of an SNS ARN: the topic's name.
fn topic_name(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// The alarm as DescribeAlarms returns it.
#[derive(Debug, Clone)]
pub struct Live {
    pub alarm: MetricAlarm,
}

impl LiveDetail for Live {
    /// Dimension values that are AWS ids (a cluster's) read as the spec names `names` knows.
    /// A metric math alarm reads as its metric, and its windows in words.
    fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let alarm = &self.alarm;
        let stat = alarm.metrics().iter().find_map(MetricDataQuery::metric_stat);
        let metric = stat.and_then(MetricStat::metric);
        let (namespace, metric_name, dimension_list, statistic, period) = match (stat, metric) {
            (Some(stat), Some(metric)) => {
                (metric.namespace(), metric.metric_name(), metric.dimensions(), stat.stat(), stat.period())
            }
            _ => (
                alarm.namespace(),
                alarm.metric_name(),
                alarm.dimensions(),
                alarm.statistic().map(Statistic::as_str),
                alarm.period(),
            ),
        };
        let dimensions: Vec<String> = dimension_list
            .iter()
            .map(|d| format!("{}={}", d.name().unwrap_or_default(), names.name(d.value().unwrap_or_default())))
            .collect();
        let actions: Vec<&str> = alarm.alarm_actions().iter().map(|arn| topic_name(arn)).collect();
        let condition = condition_words(
            statistic.unwrap_or_default(),
            metric_name.unwrap_or_default(),
            alarm.comparison_operator().map(ComparisonOperator::as_str).unwrap_or_default(),
            alarm.threshold().unwrap_or_default(),
            period.unwrap_or_default(),
            alarm.evaluation_periods().unwrap_or_default(),
        );
        let condition = match window_math(alarm) {
            None => condition,
            Some(Ok(during)) => during_words(condition, &during),
            Some(Err(math)) => format!("{condition}, only where {math}"),
        };
        let depends_on = dimension_list
            .iter()
            .filter_map(|d| d.value())
            .chain(alarm.alarm_actions().iter().map(String::as_str))
            .filter_map(|physical| names.id(physical).cloned())
            .collect();
        let attributes = attributes(
            namespace.unwrap_or_default(),
            metric_name.unwrap_or_default(),
            &dimensions.join(", "),
            &condition,
            &actions,
            alarm.treat_missing_data().unwrap_or("missing"),
        );
        (attributes, depends_on)
    }
}

/// A metric math alarm's windows: None for a single-metric alarm, the windows when its math is
/// what `put` writes, else the math as text (which plans show, and which differs from any
/// desired condition).
fn window_math(alarm: &MetricAlarm) -> Option<Result<Vec<crate::calendar::Span>, String>> {
    let queries = alarm.metrics();
    if queries.is_empty() {
        return None;
    }
    let expression = |id: &str| queries.iter().find(|q| q.id() == Some(id)).and_then(MetricDataQuery::expression);
    let watched = queries.iter().find(|q| q.return_data() == Some(true));
    let ours =
        expression(MINUTE_OF_WEEK_ID) == Some(MINUTE_OF_WEEK) && watched.and_then(|q| q.id()) == Some(WATCHED_ID);
    let parsed = watched.and_then(MetricDataQuery::expression).filter(|_| ours).and_then(parse_window_expression);
    Some(parsed.ok_or_else(|| {
        let math: Vec<String> =
            queries.iter().filter_map(|q| Some(format!("{} = {}", q.id()?, q.expression()?))).collect();
        math.join("; ")
    }))
}

impl KindRules for Alarm {
    fn name(&self) -> &'static str {
        "alarm"
    }
    fn rank(&self) -> u8 {
        190
    }
    /// The plan states each alarm's condition in words, metric, threshold with its unit, and
    /// period, so a threshold in the wrong unit is visible before it is applied.
    fn change_notes(&self, action: Action, before: Option<&Attributes>, after: Option<&Attributes>) -> Vec<String> {
        let condition = |attributes: Option<&Attributes>| {
            attributes.and_then(|a| a.get("condition")).and_then(|v| v.as_str()).map(str::to_string)
        };
        match (action, condition(before), condition(after)) {
            (Action::Create, _, Some(after)) => vec![format!("alarms when {after}")],
            (Action::Update, Some(before), Some(after)) if before != after => {
                vec![format!("alarmed when {before}; will alarm when {after}")]
            }
            _ => Vec::new(),
        }
    }
}

/// The alarm node of `spec` on `watched`, notifying the pipeline's topic: what a kind derives
/// for each of its alarms. `dimension_value` is the metric's dimension (a name, an ARN, or the
/// placeholder of an id bound later); `label` is how plans show it.
pub fn node(
    graph: &GraphContext,
    spec: AlarmSpec,
    watched: &ResourceId,
    dimension_value: String,
    label: String,
) -> DesiredResource {
    let pipeline = &graph.spec.pipeline;
    let tags = graph.spec.alarms.as_ref().map(|alarms| alarms.tags.clone()).unwrap_or_default();
    let config = AlarmConfig {
        alarm_name: alarm_name(pipeline, &spec.name),
        dimension_value,
        dimension_label: label,
        topic_arn: super::topic::arn(graph.arns, pipeline),
        spec,
    };
    graph.node(id(&config.spec.name), &tags, vec![super::topic::id(), watched.clone()], config)
}

/// The nodes of `specs`, all on `watched` with the same dimension.
pub fn nodes(
    graph: &GraphContext,
    specs: Vec<AlarmSpec>,
    watched: &ResourceId,
    dimension_value: &str,
    label: &str,
) -> Vec<DesiredResource> {
    specs.into_iter().map(|spec| node(graph, spec, watched, dimension_value.to_string(), label.to_string())).collect()
}

impl ResourceKind for Alarm {
    type Desired = AlarmConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    /// None of its own: the kinds it watches derive their alarms (`node`).
    fn desired(&self, _graph: &GraphContext) -> Vec<DesiredResource> {
        Vec::new()
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        let cloudwatch = &read.clients.cloudwatch;
        let prefix = alarm_prefix(read.pipeline);
        let wanted = read.names(KIND);
        let alarms = describe_alarms(cloudwatch, &prefix).await?;
        // Every alarm's tags at once, a bounded number in flight: one round trip after
        // DescribeAlarms, not one per alarm. (The CloudWatch quotas page publishes a rate for
        // DescribeAlarms, 9 per second, called once a page here, and none for ListTagsForResource;
        // throttling is retried by the SDK.)
        let named: Vec<(MetricAlarm, String, String)> = alarms
            .into_iter()
            .filter_map(|alarm| {
                let (name, arn) = (alarm.alarm_name()?.to_string(), alarm.alarm_arn()?.to_string());
                Some((alarm, name, arn))
            })
            .collect();
        let prefix = prefix.as_str();
        let tagged: Vec<Result<_, AwsError>> = stream::iter(named)
            .map(|(alarm, name, arn)| async move {
                let spec_name = name.strip_prefix(prefix).unwrap_or(&name).to_string();
                let tags = tags(cloudwatch, &id(&spec_name), &arn).await?;
                Ok((alarm, name, spec_name, tags))
            })
            .buffered(AT_ONCE)
            .collect()
            .await;
        let mut result = NamedRead::default();
        for tagged in tagged {
            let (alarm, name, spec_name, tags) = tagged?;
            let id = id(&spec_name);
            let Some(tags) = tags else { continue };
            if owned_by(&tags, read.pipeline) || adopt(&id, &tags, read.adoptable) {
                result.found.push(LiveResource::new(id, name, tags, Live { alarm }));
            } else if wanted.contains(&spec_name) {
                result.conflicts.push(super::kit::ownership_conflict(
                    &id,
                    &tags,
                    read.pipeline,
                    " (aws cloudwatch tag-resource)",
                ));
            }
        }
        Ok(result)
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &AlarmConfig,
    ) -> Result<String, AwsError> {
        put(ctx, resource, desired, true).await?;
        Ok(desired.alarm_name.clone())
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &AlarmConfig,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        put(ctx, resource, desired, false).await?;
        let arn =
            detail.alarm.alarm_arn().ok_or_else(|| AwsError::missing(&resource.id, "DescribeAlarms", "AlarmArn"))?;
        retag(&ctx.clients.cloudwatch, &resource.id, arn, &live.tags, &resource.tags).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        ctx.clients
            .cloudwatch
            .delete_alarms()
            .alarm_names(&live.physical_id)
            .send()
            .await
            .map_err(|error| aws_error(&live.id, "DeleteAlarms", error))?;
        Ok(())
    }

    fn outputs(&self, live: &LiveResource, detail: &Live, _arns: &Arns) -> Vec<Output> {
        let arn = detail.alarm.alarm_arn().unwrap_or_default();
        vec![Output::new("name", &live.physical_id), Output::new("arn", arn)]
    }

    /// Its state as DescribeAlarms read it; one in ALARM is a problem, with CloudWatch's reason.
    fn health(&self, _live: &LiveResource, detail: &Live) -> Option<Health> {
        let state = detail.alarm.state_value().map_or("unknown", |state| state.as_str()).to_string();
        let reason = detail.alarm.state_reason().unwrap_or("no reason given");
        let problems = if state == "ALARM" { vec![format!("in ALARM: {reason}")] } else { Vec::new() };
        Some(Health { facts: vec![Fact::new("state", state)], metrics: Vec::new(), problems })
    }

    /// The pipeline's alarms by their name prefix. Without an enabled `alarms:` section a plan
    /// still looks for them, to delete what an earlier spec made.
    /// A standard-resolution metric alarm, billed by the month it exists (a rate per alarm-month).
    fn cost(&self, resource: &DesiredResource, _desired: &AlarmConfig, prices: &Prices) -> Vec<CostLine> {
        vec![pricing::rate(
            &resource.id.to_string(),
            "CloudWatch alarm",
            "alarm-month",
            prices.figure("cloudwatch_alarm_month"),
        )]
    }

    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let alarms = vec![ctx.arn("cloudwatch", &format!("alarm:{}*", alarm_prefix(&ctx.spec.pipeline)))];
        // The alarms the spec derives, by exact name (a derived alarm's name does not depend on
        // the year its spans are computed for); those it dropped only while they carry the
        // pipeline's tag (the `alarm` resource type takes `aws:ResourceTag`, Service
        // Authorization Reference, "Amazon CloudWatch").
        let named: Vec<String> = crate::spec::derived_alarms(ctx.spec, 2000)
            .iter()
            .map(|alarm| ctx.arn("cloudwatch", &format!("alarm:{}", alarm_name(&ctx.spec.pipeline, &alarm.name))))
            .collect();
        let change = ["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource", "cloudwatch:UntagResource"];
        vec![
            // DescribeAlarms is authorised on the alarms it returns (Service Authorization
            // Reference, "Amazon CloudWatch": resource type alarm).
            Grant::new(
                "ReadAlarms",
                Scope::Plan,
                &["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"],
                alarms.clone(),
            ),
            Grant::new("ChangeAlarms", Scope::Apply, &change, named.clone()),
            Grant::new("ChangeAlarms", Scope::Destroy, &["cloudwatch:DeleteAlarms"], named),
            Grant::new("OwnAlarmsTheSpecDropped", Scope::Destroy, &["cloudwatch:DeleteAlarms"], alarms)
                .when(ctx.tagged()),
        ]
    }
}

/// PutMetricAlarm with the whole alarm: it creates the alarm or overwrites every field of it.
async fn put(ctx: &Context, resource: &DesiredResource, config: &AlarmConfig, create: bool) -> Result<(), AwsError> {
    let id = &resource.id;
    let spec = &config.spec;
    let value = ctx.resolve_placeholders(&config.dimension_value)?;
    let dimension = Dimension::builder().name(spec.dimension).value(value).build();
    let request =
        ctx.clients.cloudwatch.put_metric_alarm().alarm_name(&config.alarm_name).alarm_description(&spec.description);
    let mut request = if spec.during.is_empty() {
        request
            .namespace(spec.namespace)
            .metric_name(spec.metric)
            .dimensions(dimension)
            .statistic(Statistic::from(spec.statistic))
            .period(spec.period_seconds)
    } else {
        request.set_metrics(Some(window_queries(spec, dimension)))
    };
    request = request
        .comparison_operator(ComparisonOperator::from(spec.comparison))
        .threshold(spec.threshold)
        .evaluation_periods(spec.evaluation_periods)
        .treat_missing_data(TREAT_MISSING_DATA)
        .actions_enabled(true)
        .alarm_actions(&config.topic_arn);
    if spec.metric == "HDFSUtilization" {
        request = request.unit(StandardUnit::Percent);
    }
    if create {
        request = request.set_tags(Some(cloudwatch_tags(&resource.tags)));
    }
    request.send().await.map_err(|error| aws_error(id, "PutMetricAlarm", error))?;
    Ok(())
}

/// The metric math of an alarm restricted to windows: the metric (not returned), each data
/// point's minute of the week, and the metric inside the windows, which the alarm watches. An
/// alarm's Metrics take at most 10 metrics and 10 expressions, exactly one of them returned
/// (PutMetricAlarm, Amazon CloudWatch API Reference).
fn window_queries(spec: &AlarmSpec, dimension: Dimension) -> Vec<MetricDataQuery> {
    let metric = Metric::builder().namespace(spec.namespace).metric_name(spec.metric).dimensions(dimension).build();
    let stat = MetricStat::builder().metric(metric).period(spec.period_seconds).stat(spec.statistic).build();
    vec![
        MetricDataQuery::builder().id(METRIC_ID).metric_stat(stat).return_data(false).build(),
        MetricDataQuery::builder().id(MINUTE_OF_WEEK_ID).expression(MINUTE_OF_WEEK).return_data(false).build(),
        MetricDataQuery::builder()
            .id(WATCHED_ID)
            .expression(window_expression(&spec.during))
            .label(format!("{} inside the batch windows", spec.metric))
            .return_data(true)
            .build(),
    ]
}

fn cloudwatch_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
}

/// Makes the alarm's tags `desired`: stale keys removed, the rest set.
async fn retag(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    id: &ResourceId,
    arn: &str,
    live: &Tags,
    desired: &Tags,
) -> Result<(), AwsError> {
    let untag = |stale| async move {
        let request = cloudwatch.untag_resource().resource_arn(arn).set_tag_keys(Some(stale));
        request.send().await.map(drop).map_err(|error| aws_error(id, "UntagResource", error))
    };
    let tag = |changed: Tags| async move {
        let request = cloudwatch.tag_resource().resource_arn(arn).set_tags(Some(cloudwatch_tags(&changed)));
        request.send().await.map(drop).map_err(|error| aws_error(id, "TagResource", error))
    };
    super::kit::retag::retag(live, desired, untag, tag).await
}

/// Every metric alarm whose name starts with `prefix` (DescribeAlarms pages at most 100).
async fn describe_alarms(cloudwatch: &aws_sdk_cloudwatch::Client, prefix: &str) -> Result<Vec<MetricAlarm>, AwsError> {
    let mut alarms = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = cloudwatch
            .describe_alarms()
            .alarm_name_prefix(prefix)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|error| aws_error("alarm", "DescribeAlarms", error))?;
        alarms.extend(page.metric_alarms().iter().cloned());
        token = page.next_token().filter(|next| !next.is_empty()).map(str::to_string);
        if token.is_none() {
            return Ok(alarms);
        }
    }
}

/// The alarm's tags, or None when it vanished in between.
async fn tags(cloudwatch: &aws_sdk_cloudwatch::Client, id: &ResourceId, arn: &str) -> Result<Option<Tags>, AwsError> {
    match cloudwatch.list_tags_for_resource().resource_arn(arn).send().await {
        Ok(output) => Ok(Some(
            output
                .tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
                .collect(),
        )),
        Err(error) => aws_error(id, "ListTagsForResource", error).unless_not_found(None),
    }
}

#[cfg(test)]
mod tests {
    //! Replays DescribeAlarms' documented shape for an EMR alarm: the dimension holds the
    //! cluster's id, the actions the topic's ARN; plans must read both as spec names.

    use super::*;
    use crate::iam::Arns;
    use crate::resources::graph_in;

    const SPEC: &str = "version: 1\npipeline: p\nregion: us-east-1\nstreams:\n  - name: events\n    retention_hours: 24\nalarms:\n  streams:\n    events: { iterator_age: 10m }\n";

    #[test]
    fn a_live_alarm_that_matches_the_spec_plans_nothing_and_reads_in_words() {
        let spec = crate::spec::load_bytes("t.yaml", SPEC.as_bytes()).unwrap();
        let arns = Arns::new("123456789012", "us-east-1");
        let graph = graph_in(&spec, &arns, chrono::Utc::now());
        let desired = graph.iter().find(|r| r.id == id("events-iterator-age")).unwrap();
        let alarm = MetricAlarm::builder()
            .alarm_name("pipectl-p-events-iterator-age")
            .alarm_arn("arn:aws:cloudwatch:us-east-1:123456789012:alarm:pipectl-p-events-iterator-age")
            .namespace("AWS/Kinesis")
            .metric_name("GetRecords.IteratorAgeMilliseconds")
            .dimensions(Dimension::builder().name("StreamName").value("events").build())
            .statistic(Statistic::Maximum)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .threshold(600_000.0)
            .period(300)
            .evaluation_periods(1)
            .treat_missing_data("notBreaching")
            .alarm_actions("arn:aws:sns:us-east-1:123456789012:pipectl-p-alarms")
            .build();
        let (live, _) = Live { alarm }.describe("pipectl-p-events-iterator-age", &Names::default());
        assert_eq!(
            live,
            desired.config::<AlarmConfig>().unwrap().attributes(),
            "the tags aside, live and desired agree"
        );
        assert_eq!(
            live["condition"],
            json!("Maximum of GetRecords.IteratorAgeMilliseconds > 600000 milliseconds (10 minutes) for 1 period of 5 minutes")
        );
        assert!(desired.depends_on.contains(&super::super::topic::id()));
    }

    #[test]
    fn a_cluster_alarm_waits_for_the_cluster_id() {
        let text = "version: 1\npipeline: p\nregion: us-east-1\nnetwork:\n  vpc: { cidr: 10.0.0.0/16 }\n  subnets:\n    - { name: a, cidr: 10.0.0.0/24, availability_zone: us-east-1a }\n  endpoints: [s3]\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 2}\nalarms: {}\n";
        let spec = crate::spec::load_bytes("t.yaml", text.as_bytes()).unwrap();
        let graph = graph_in(&spec, &Arns::new("123456789012", "us-east-1"), chrono::Utc::now());
        let alarm = graph.iter().find(|r| r.id == id("spark-apps-failed")).unwrap();
        let config = alarm.config::<AlarmConfig>().unwrap();
        assert_eq!(config.dimension_value, "${cluster/spark}");
        assert_eq!(alarm.attributes()["dimensions"], json!("JobFlowId=spark"));
    }

    /// The idle alarm of a cluster with a batch window is metric math; DescribeAlarms returns it
    /// in `Metrics` with no top-level metric fields, and it reads back as the windows in words.
    #[test]
    fn an_idle_alarm_reads_back_its_windows_in_words() {
        let text = "version: 1\npipeline: p\nregion: us-east-1\nnetwork:\n  vpc: { cidr: 10.0.0.0/16 }\n  subnets:\n    - { name: a, cidr: 10.0.0.0/24, availability_zone: us-east-1a }\n  endpoints: [s3]\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 2}\n    schedules:\n      - {name: batch, cron: '0 2 * * *', group: core, nodes: 4, for: 4h}\nalarms:\n  clusters:\n    spark: { idle_in_window: 20m }\n";
        let spec = crate::spec::load_bytes("t.yaml", text.as_bytes()).unwrap();
        let graph = graph_in(&spec, &Arns::new("123456789012", "us-east-1"), chrono::Utc::now());
        let desired = graph.iter().find(|r| r.id == id("spark-idle-in-window")).unwrap();
        let config = desired.config::<AlarmConfig>().unwrap();
        // Without live clusters `Names` reads the id as it is: use the spec name as the id.
        let dimension = Dimension::builder().name("JobFlowId").value("spark").build();
        let alarm = MetricAlarm::builder()
            .alarm_name("pipectl-p-spark-idle-in-window")
            .alarm_arn("arn:aws:cloudwatch:us-east-1:123456789012:alarm:pipectl-p-spark-idle-in-window")
            .set_metrics(Some(window_queries(&config.spec, dimension)))
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .threshold(0.0)
            .evaluation_periods(4)
            .treat_missing_data("notBreaching")
            .alarm_actions("arn:aws:sns:us-east-1:123456789012:pipectl-p-alarms")
            .build();
        let names = Names::default();
        let (live, _) = Live { alarm: alarm.clone() }.describe("pipectl-p-spark-idle-in-window", &names);
        assert_eq!(live, config.attributes());
        assert_eq!(
            live["condition"],
            json!("Minimum of IsIdle > 0 (1 when idle) for 4 periods in a row of 5 minutes, only inside the batch windows (daily 02:00-06:00 UTC)")
        );
        // Math someone edited by hand is shown as it is, and differs from the desired condition.
        let mut queries = alarm.metrics().to_vec();
        queries[2] = MetricDataQuery::builder().id(WATCHED_ID).expression("idle").return_data(true).build();
        let edited = MetricAlarm::builder().set_metrics(Some(queries)).build();
        let (live, _) = Live { alarm: edited }.describe("x", &names);
        assert!(
            live["condition"].as_str().unwrap().ends_with(
                "only where minute_of_week = (DAY(idle)-1)*1440+HOUR(idle)*60+MINUTE(idle); idle_in_window = idle"
            ),
            "{}",
            live["condition"]
        );
    }

    #[test]
    fn alarms_are_read_by_the_pipelines_name_prefix_and_changed_by_exact_name_or_by_tag() {
        use crate::iam::deployer::Purpose;
        use crate::resources::test_support::{assert_granted, granted, sids_allowing, statement};
        // Without an alarms section: nothing to put, the dropped ones deleted by tag only.
        let spec = crate::spec::SpecBuilder::new().build();
        assert_granted(
            &super::Alarm,
            &spec,
            &[
                ("cloudwatch:DescribeAlarms", &["ReadAlarms"]),
                ("cloudwatch:PutMetricAlarm", &[]),
                ("cloudwatch:DeleteAlarms", &["OwnAlarmsTheSpecDropped"]),
            ],
        );
        let all = granted(&super::Alarm, &spec, Purpose::Everything);
        let alarms = serde_json::json!(["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:pipectl-p-*"]);
        assert_eq!(statement(&all, "ReadAlarms")["Resource"], alarms);
        let dropped = statement(&all, "OwnAlarmsTheSpecDropped");
        assert_eq!(dropped["Resource"], alarms);
        assert_eq!(
            dropped["Condition"],
            serde_json::json!({"StringEquals": {"aws:ResourceTag/pipectl:pipeline": "p"}})
        );
        assert!(sids_allowing(&all, "cloudwatch:PutDashboard").is_empty());
        // With one: each derived alarm by its exact name, which `pipectl-p-*` would not be
        // (it also matches pipeline `p-b`'s alarms).
        let yaml = crate::spec::SpecBuilder::new().stream("events", 1).yaml()
            + "alarms:\n  notify: [{protocol: email, endpoint: a@example.com}]\n";
        let spec: crate::spec::Spec = serde_saphyr::from_str(&yaml).expect("the spec parses");
        let all = granted(&super::Alarm, &spec, Purpose::Everything);
        let change = statement(&all, "ChangeAlarms");
        let names: Vec<&str> = change["Resource"].as_array().unwrap().iter().filter_map(|arn| arn.as_str()).collect();
        assert!(!names.is_empty() && names.iter().all(|arn| !arn.ends_with('*')), "{names:?}");
        assert!(names
            .iter()
            .all(|arn| arn.starts_with("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:pipectl-p-events-")));
    }
}

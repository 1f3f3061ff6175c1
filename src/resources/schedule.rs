//! EventBridge Scheduler schedules that resize a cluster's instance group or start one of its
//! jobs: the resize's universal target calls EMR ModifyInstanceGroups directly, so the night
//! batch needs no cron host and no Lambda. Each window of a spec cluster's `schedules` is a pair:
//! `up` at its start, `down` back to the group's baseline at its end. Each of its `jobs` is a
//! pair too: `start` runs the job's state machine at its cron (a templated Step Functions
//! target, StartExecution), `guard` returns the group to its baseline `GUARD_DELAY_SECONDS` after
//! the job's timeout — what the state machine cannot do for itself when its execution is stopped
//! or times out as a whole. The windows are this kind's own section (`clusters[].schedules`);
//! a job derives its pair through `node`, and both hand their failures to the pipeline's
//! dead-letter queue. Schedules carry no tags, so a pipeline's schedules are named
//! `pipectl-<pipeline>-…` and marked in their description; plans show no tags for them.

use std::sync::Arc;

use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target,
};
use serde_json::{json, Value};

use super::kit::{
    aws_error, build_error, claimed_id, owned_by, retry_while_role_propagates, AwsError, Clients, Context, Grant,
    GrantContext, LiveResource, NamedRead, Ownership, ReadContext, ResourceKind, Scope, Tags,
};
use crate::model::{
    Attributes, Binding, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names,
};
use crate::model::{ResourceId, PIPELINE_TAG, RESOURCE_TAG};
use crate::names::{
    iam_role_name, schedule_name, schedule_prefix, scheduler_role, window_schedule_name, RUN_GUARD_MARKER,
    SCALE_BACK_MARKER,
};
use crate::pricing::{self, CostLine, Prices};
use crate::spec::{self, Group};

pub struct Schedule;
pub const KIND: Kind = Kind::of(&Schedule);

/// A schedule is named in the spec `<cluster>-<schedule>-up|down`.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// The universal target that calls EMR ModifyInstanceGroups in `partition` (`aws`, `aws-cn`,
/// `aws-us-gov`): `arn:<partition>:scheduler:::aws-sdk:emr:modifyInstanceGroups`.
pub fn modify_instance_groups(partition: &str) -> String {
    crate::iam::scheduler_target(partition, "emr", "modifyInstanceGroups")
}

/// What a schedule does when it fires.
#[derive(Debug, Clone)]
pub enum ScheduleTarget {
    /// Sets `group` of `cluster` to `nodes` (EMR ModifyInstanceGroups).
    Resize { cluster: String, group: Group, nodes: i64 },
    /// Starts a job's state machine (Step Functions StartExecution) with `input`; `job` is the
    /// job's node. A job's `guard` starts it with the guard's input (`{"guard": true}`).
    StartJob { cluster: String, job: ResourceId, input: Value },
}

impl ScheduleTarget {
    /// How the plan shows it.
    fn describe(&self) -> String {
        match self {
            ScheduleTarget::Resize { cluster, group, nodes } => {
                format!("cluster {cluster} group {group} to {nodes} nodes")
            }
            ScheduleTarget::StartJob { job, input, .. } => format!("{} job {}", job_verb(input), job.name),
        }
    }

    fn cluster(&self) -> &str {
        match self {
            ScheduleTarget::Resize { cluster, .. } | ScheduleTarget::StartJob { cluster, .. } => cluster,
        }
    }
}

/// What a schedule starting a job with `input` does: `guard` for the job's guard, else `start`.
fn job_verb(input: &Value) -> &'static str {
    if input["guard"] == json!(true) {
        "guard"
    } else {
        "start"
    }
}

/// One EventBridge Scheduler schedule.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// The schedule's name in EventBridge Scheduler.
    pub schedule_name: String,
    pub target: ScheduleTarget,
    /// The EventBridge expression, e.g. `cron(0 2 * * ? *)`; an `Err` says why the spec's window
    /// gives none (validation rejects such specs, so it would be a bug): the plan shows it and
    /// apply refuses to send it.
    pub expression: Result<String, String>,
    pub timezone: String,
    /// How EventBridge Scheduler retries a resize or job start that fails (see `window_retry`).
    pub retry: Retry,
    /// The pipeline's dead-letter queue, which receives the resize once the retries are spent.
    pub dead_letter_arn: String,
}

impl DesiredConfig for ScheduleConfig {
    fn attributes(&self) -> Attributes {
        let expression = match &self.expression {
            Ok(expression) => json!(expression),
            Err(why) => json!(format!("(invalid: {why})")),
        };
        Attributes::from([
            ("expression".to_string(), expression),
            ("timezone".to_string(), json!(self.timezone)),
            ("target".to_string(), json!(self.target.describe())),
            ("retry".to_string(), self.retry.attribute()),
            ("dead_letter_queue".to_string(), json!(self.dead_letter_arn)),
        ])
    }

    /// The dead-letter queue is named by its ARN.
    fn bind(&self, binding: &Binding) -> Option<Arc<dyn DesiredConfig>> {
        Some(Arc::new(ScheduleConfig { dead_letter_arn: binding.text(&self.dead_letter_arn), ..self.clone() }))
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub expression: String,
    pub timezone: String,
    pub role_arn: String,
    /// The target's ARN: the universal ModifyInstanceGroups target, or a state machine.
    pub target_arn: String,
    /// The ModifyInstanceGroups request the schedule sends (or a job's execution input).
    pub input: Value,
    /// The target's retry policy (AWS's default when GetSchedule shows none).
    pub retry: Retry,
    /// The target's dead-letter queue, if it has one.
    pub dead_letter_arn: Option<String>,
}

impl LiveDetail for Live {
    /// The target names the cluster and group by AWS id: their spec names come from `names`.
    fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let role = self.role_arn.rsplit('/').next().unwrap_or_default();
        // The queue's physical id is its name, the last part of its ARN.
        let queue = self.dead_letter_arn.as_deref().and_then(|arn| arn.rsplit(':').next()).unwrap_or_default();
        // A job's physical id is its state machine's ARN. A job relies on its guard, not the other
        // way round: the job is deleted first (its runs stopped, its group returned), then the
        // guard (see `job`).
        let (target, target_id) = if self.target_arn.contains(":stateMachine:") {
            let verb = job_verb(&self.input);
            (
                format!("{verb} job {}", names.name(&self.target_arn)),
                if verb == "guard" { "" } else { self.target_arn.as_str() },
            )
        } else {
            let cluster_id = self.input["ClusterId"].as_str().unwrap_or_default();
            let group_id = self.input["InstanceGroups"][0]["InstanceGroupId"].as_str().unwrap_or_default();
            let nodes = self.input["InstanceGroups"][0]["InstanceCount"].as_i64().unwrap_or(-1);
            (format!("cluster {} group {} to {nodes} nodes", names.name(cluster_id), names.label(group_id)), cluster_id)
        };
        let depends_on =
            [target_id, role, queue].into_iter().filter_map(|physical| names.id(physical).cloned()).collect();
        let attributes = Attributes::from([
            ("expression".to_string(), json!(self.expression)),
            ("timezone".to_string(), json!(self.timezone)),
            ("target".to_string(), json!(target)),
            ("retry".to_string(), self.retry.attribute()),
            ("dead_letter_queue".to_string(), json!(self.dead_letter_arn)),
        ]);
        (attributes, depends_on)
    }
}

impl KindRules for Schedule {
    fn name(&self) -> &'static str {
        "schedule"
    }
    fn rank(&self) -> u8 {
        100
    }
    /// EventBridge Scheduler schedules carry no tags (TagResource applies to schedule groups):
    /// plans show none for them. pipectl's ownership marker goes in their description, and a
    /// schedule whose marker is not this one's is never read as this one, so there is nothing
    /// of it to compare either.
    fn carries_tags(&self) -> bool {
        false
    }
}

/// A schedule another kind derives: a cluster's window edge, a job's start or guard.
pub struct Derived {
    /// Its name in plans (`<cluster>-<schedule>-up`, `<cluster>-<job>-start`).
    pub name: String,
    pub target: ScheduleTarget,
    /// The EventBridge expression, or why the spec gives none (see `ScheduleConfig::expression`).
    pub expression: Result<String, String>,
    pub timezone: String,
    pub retry: Retry,
    /// What it acts on (the cluster it resizes, the job it starts), created first.
    pub target_id: ResourceId,
    /// The role EventBridge Scheduler runs it with (the cluster's scheduler role).
    pub role: ResourceId,
    pub tags: Tags,
}

/// The node of a derived schedule, which hands what fails after its retries to the pipeline's
/// dead-letter queue (the deriving kind adds the queue itself, `queue::nodes`).
pub fn node(graph: &GraphContext, derived: Derived) -> DesiredResource {
    let config = ScheduleConfig {
        schedule_name: schedule_name(&graph.spec.pipeline, &derived.name),
        target: derived.target,
        expression: derived.expression,
        timezone: derived.timezone,
        retry: derived.retry,
        dead_letter_arn: super::queue::arn(graph.arns, &graph.spec.pipeline),
    };
    let depends_on = vec![derived.target_id, derived.role, super::queue::id()];
    graph.node(id(&derived.name), &derived.tags, depends_on, config)
}

impl ResourceKind for Schedule {
    type Desired = ScheduleConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    /// The two schedules of each window of `clusters[].schedules`, and the queue their failures
    /// go to; jobs derive their own start and guard (`node`).
    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let mut nodes: Vec<DesiredResource> =
            graph.spec.clusters.iter().flat_map(|cluster| window_schedules(graph, cluster)).collect();
        if !nodes.is_empty() {
            nodes.extend(super::queue::nodes(graph));
        }
        nodes
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        let kept = read.names(super::cluster::KIND);
        self::read(&read.clients.scheduler, read.pipeline, &kept).await
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &ScheduleConfig,
    ) -> Result<String, AwsError> {
        put(ctx, resource, desired, true).await
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &ScheduleConfig,
        _live: &LiveResource,
        _detail: &Live,
    ) -> Result<(), AwsError> {
        put(ctx, resource, desired, false).await.map(drop)
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        delete(ctx, live).await
    }

    /// The pipeline's schedules by their name prefix, in the default group: schedules carry no
    /// tags (a schedule's `aws:ResourceTag` is its group's), those the spec dropped must still be
    /// found and deleted, and `pipectl scale` and `run` create one-time ones. The prefix
    /// `pipectl-<pipeline>-` also matches the schedules of a pipeline whose name extends this
    /// one's (`clk-b` for `clk`): a known limit, docs/deployer-policy.md. Each cluster's
    /// scheduler role is passed to EventBridge Scheduler, and only it.
    /// EventBridge Scheduler bills its invocations (a rate, past a monthly free tier).
    fn cost(&self, resource: &DesiredResource, _desired: &ScheduleConfig, prices: &Prices) -> Vec<CostLine> {
        vec![pricing::rate(
            &resource.id.to_string(),
            "EventBridge Scheduler invocations",
            "million",
            prices.figure("scheduler_invocations_million"),
        )]
    }

    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let roles: Vec<String> = ctx.spec.clusters.iter().map(|cluster| scheduler_role(&cluster.name)).collect();
        let schedules =
            vec![ctx.arn("scheduler", &format!("schedule/default/{}*", schedule_prefix(&ctx.spec.pipeline)))];
        vec![
            Grant::unscoped_reads(&["scheduler:ListSchedules"]),
            Grant::new("ReadSchedules", Scope::Plan, &["scheduler:GetSchedule"], schedules.clone()),
            Grant::new(
                "ChangeSchedules",
                Scope::Apply,
                &["scheduler:CreateSchedule", "scheduler:UpdateSchedule"],
                schedules.clone(),
            ),
            Grant::new("ChangeSchedules", Scope::Destroy, &["scheduler:DeleteSchedule"], schedules),
            ctx.pass_roles("scheduler", &roles),
        ]
    }
}

/// A target's retry policy. EventBridge Scheduler API reference, RetryPolicy:
/// MaximumEventAgeInSeconds 60 to 86,400, MaximumRetryAttempts 0 to 185, retried with
/// exponential backoff until either is reached; a target without one is retried for 24 hours,
/// up to 185 times, which for a resize is far too long (see `window_retry`). Once the policy is
/// spent the invocation goes to the target's dead-letter queue ("Configuring a dead-letter
/// queue"), where `aws sqs receive-message` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub max_event_age_seconds: i32,
    pub max_attempts: i32,
}

/// How many times a failed resize is retried at most.
pub const RETRY_ATTEMPTS: i32 = 10;
/// For how long a failed resize is retried at most: an hour late it is still worth making.
pub const RETRY_MAX_AGE_SECONDS: i32 = 3600;
/// RetryPolicy.MaximumEventAgeInSeconds allows 60 to 86,400.
const EVENT_AGE_RANGE: (i32, i32) = (60, 86_400);
/// What EventBridge Scheduler does without a retry policy (24 hours, 185 attempts).
pub const DEFAULT_RETRY: Retry = Retry { max_event_age_seconds: 86_400, max_attempts: 185 };
/// The retry policy of the one-time scale-back of `pipectl scale --for/--until`.
pub const SCALE_BACK_RETRY: Retry =
    Retry { max_event_age_seconds: RETRY_MAX_AGE_SECONDS, max_attempts: RETRY_ATTEMPTS };

impl Retry {
    fn attribute(&self) -> Value {
        json!({"maximum_event_age_seconds": self.max_event_age_seconds, "maximum_retry_attempts": self.max_attempts})
    }

    fn policy(&self) -> aws_sdk_scheduler::types::RetryPolicy {
        aws_sdk_scheduler::types::RetryPolicy::builder()
            .maximum_event_age_in_seconds(self.max_event_age_seconds)
            .maximum_retry_attempts(self.max_attempts)
            .build()
    }

    /// The policy a GetSchedule target shows, with AWS's defaults for what it leaves out.
    fn of(target: Option<&aws_sdk_scheduler::types::Target>) -> Retry {
        let policy = target.and_then(|target| target.retry_policy());
        Retry {
            max_event_age_seconds: policy
                .and_then(|p| p.maximum_event_age_in_seconds())
                .unwrap_or(DEFAULT_RETRY.max_event_age_seconds),
            max_attempts: policy.and_then(|p| p.maximum_retry_attempts()).unwrap_or(DEFAULT_RETRY.max_attempts),
        }
    }
}

/// The dead-letter configuration that names the pipeline's queue.
fn dead_letter(queue_arn: &str) -> aws_sdk_scheduler::types::DeadLetterConfig {
    aws_sdk_scheduler::types::DeadLetterConfig::builder().arn(queue_arn).build()
}

/// The retry policy of one edge of a window of `window_seconds`: at most an hour, and never
/// past the other edge. An `up` resize retried after its window ended would leave the nodes
/// running all day; a `down` retried after the next window began would cut that window short.
/// A window starts at most once a day (its cron names one minute and one hour), so the next
/// start is at least a day minus the window after its end. A length that does not parse (which
/// validation rejects) gets the plain hour.
pub fn window_retry(edge: &str, window_seconds: Option<u64>) -> Retry {
    let day = 86_400;
    let room = window_seconds.map(|window| if edge == "up" { window } else { day - window.min(day) });
    let room = room.and_then(|room| i32::try_from(room).ok()).unwrap_or(RETRY_MAX_AGE_SECONDS);
    let age = RETRY_MAX_AGE_SECONDS.min(room).clamp(EVENT_AGE_RANGE.0, EVENT_AGE_RANGE.1);
    Retry { max_event_age_seconds: age, max_attempts: RETRY_ATTEMPTS }
}

/// The two schedules of each window of the cluster: `up` at its start to the window's size,
/// `down` at its end back to the group's baseline.
fn window_schedules(graph: &GraphContext, cluster: &spec::Cluster) -> Vec<DesiredResource> {
    let role = super::role::id(&scheduler_role(&cluster.name));
    let mut nodes = Vec::new();
    for window in &cluster.schedules {
        let group = window.instance_group();
        for (edge, expression, size) in edges(cluster, window, &group) {
            let derived = Derived {
                name: window_schedule_name(&cluster.name, &window.name, edge),
                target: ScheduleTarget::Resize { cluster: cluster.name.clone(), group: group.clone(), nodes: size },
                expression,
                timezone: window.timezone.clone(),
                retry: window_retry(edge, window.length_seconds()),
                target_id: super::cluster::id(&cluster.name),
                role: role.clone(),
                tags: cluster.tags.clone(),
            };
            nodes.push(node(graph, derived));
        }
    }
    nodes
}

/// The two edges of a window: (`up` or `down`, its EventBridge expression, the size it sets).
///
/// `spec::validate` rejects a schedule whose cron or `for` does not parse, whose window cannot
/// end, or whose group the cluster lacks, so for a validated spec every expression is `Ok`.
/// The spec carries cron and `for` as text, so they are parsed again here; should validation
/// ever miss a case, the error is kept in the node (see `ScheduleConfig::expression`), not
/// dropped: the plan shows it and apply fails on that schedule.
fn edges(
    cluster: &spec::Cluster,
    schedule: &spec::Schedule,
    group: &Group,
) -> [(&'static str, Result<String, String>, i64); 2] {
    let window = crate::calendar::parse_cron(&schedule.cron).and_then(|start| {
        let end = start.end_after(crate::calendar::parse_duration(&schedule.duration)?)?;
        Ok((start.to_eventbridge(), end.to_eventbridge()))
    });
    let baseline = group.baseline(cluster);
    let down = window.clone().and_then(|(_, end)| match baseline {
        Some(_) => Ok(end),
        None => Err(format!("cluster '{}' has no group `{group}`", cluster.name)),
    });
    // With no baseline the `down` edge is an error already; the size beside it is never sent.
    [("up", window.map(|(start, _)| start), schedule.nodes), ("down", down, baseline.unwrap_or(0))]
}

/// The description that marks a schedule as the pipeline's.
pub fn marker(pipeline: &str, id: &str) -> String {
    format!("Managed by pipectl. {PIPELINE_TAG}={pipeline} {RESOURCE_TAG}={id}")
}

/// The ownership fields of a marker description.
fn parse_marker(description: &str) -> Tags {
    description
        .split_whitespace()
        .filter_map(|part| part.split_once('='))
        .filter(|(key, _)| key.starts_with("pipectl:"))
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect()
}

/// The ModifyInstanceGroups request that sets one group to `nodes`.
pub fn resize_input(cluster_id: &str, group_id: &str, nodes: i64) -> Value {
    json!({"ClusterId": cluster_id, "InstanceGroups": [{"InstanceGroupId": group_id, "InstanceCount": nodes}]})
}

/// The markers of the one-time schedules `pipectl scale --for/--until` and `pipectl run` leave.
const ONE_TIME_MARKERS: [&str; 2] = [SCALE_BACK_MARKER, RUN_GUARD_MARKER];

/// The cluster a pending one-time schedule of the pipeline resizes, if it is one.
fn one_time_cluster(tags: &Tags) -> Option<&str> {
    ONE_TIME_MARKERS.iter().find_map(|marker| tags.get(*marker)).and_then(|value| value.split_once('/')).map(|(c, _)| c)
}

/// Reads the pipeline's schedules (by name prefix and description marker). The pending
/// one-time schedules of `scale` and `run` are not the spec's and are left alone — unless the
/// cluster they would resize is leaving (a destroy, or a cluster the spec dropped, named by
/// `kept` not naming it): then they are read too, so that they are deleted with it rather than
/// fire at a cluster that is gone.
async fn read(scheduler: &aws_sdk_scheduler::Client, pipeline: &str, kept: &[String]) -> Result<NamedRead, AwsError> {
    let prefix = schedule_prefix(pipeline);
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let output = scheduler
            .list_schedules()
            .name_prefix(&prefix)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|error| aws_error("schedule", "ListSchedules", error))?;
        names.extend(output.schedules().iter().filter_map(|s| s.name().map(str::to_string)));
        token = output.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let schedules = futures::future::try_join_all(names.iter().map(|name| async move {
        scheduler
            .get_schedule()
            .name(name)
            .send()
            .await
            .map_err(|error| aws_error(format!("schedule/{name}"), "GetSchedule", error))
    }))
    .await?;
    let mut result = NamedRead::default();
    for (name, schedule) in names.iter().zip(schedules) {
        let tags = parse_marker(schedule.description().unwrap_or_default());
        if !owned_by(&tags, pipeline) {
            continue;
        }
        let id = match (claimed_id(&tags, KIND), one_time_cluster(&tags)) {
            (Some(id), _) => id,
            (None, Some(cluster)) if !kept.iter().any(|name| name == cluster) => {
                id(name.strip_prefix(&schedule_prefix(pipeline)).unwrap_or(name))
            }
            _ => continue,
        };
        let target = schedule.target();
        let live = Live {
            expression: schedule.schedule_expression().unwrap_or_default().to_string(),
            timezone: schedule.schedule_expression_timezone().unwrap_or("UTC").to_string(),
            role_arn: target.map(|t| t.role_arn().to_string()).unwrap_or_default(),
            target_arn: target.map(|t| t.arn().to_string()).unwrap_or_default(),
            input: target
                .and_then(|t| t.input())
                .and_then(|input| serde_json::from_str(input).ok())
                .unwrap_or(Value::Null),
            retry: Retry::of(target),
            dead_letter_arn: target.and_then(|t| t.dead_letter_config()).and_then(|d| d.arn()).map(str::to_string),
        };
        result.found.push(LiveResource::new(id, name, tags, live));
    }
    Ok(result)
}

/// Creates or replaces the schedule so that it matches the spec. The scheduler role may have
/// been created moments ago: while EventBridge Scheduler cannot assume it yet, the call is
/// retried.
async fn put(
    ctx: &Context,
    resource: &DesiredResource,
    config: &ScheduleConfig,
    create: bool,
) -> Result<String, AwsError> {
    let id = &resource.id;
    let operation = if create { "CreateSchedule" } else { "UpdateSchedule" };
    let expression = config.expression.as_deref().map_err(|why| {
        AwsError::new(id, operation, format!("the spec's window gives no schedule expression: {why}"))
    })?;
    let (target_arn, input) = match &config.target {
        ScheduleTarget::Resize { cluster, group, nodes } => {
            let cluster_id = ctx.physical_id(&super::cluster::id(cluster))?;
            let group_id = super::cluster::group_id(&ctx.clients, id, &cluster_id, group).await?;
            (modify_instance_groups(&ctx.arns.partition), resize_input(&cluster_id, &group_id, *nodes))
        }
        // A templated target: the state machine's ARN, the execution's input ("Using templated
        // targets in EventBridge Scheduler", Step Functions StartExecution).
        ScheduleTarget::StartJob { job, input, .. } => (ctx.physical_id(job)?, input.clone()),
    };
    let scheduler_role = ctx.physical_id(&super::role::id(&scheduler_role(config.target.cluster())))?;
    let role_arn = ctx.arns.role(&ctx.roles_path, &scheduler_role);
    let target = Target::builder()
        .arn(target_arn)
        .role_arn(role_arn)
        .input(input.to_string())
        .retry_policy(config.retry.policy())
        .dead_letter_config(dead_letter(&config.dead_letter_arn))
        .build()
        .map_err(|e| build_error(id, "CreateSchedule", e))?;
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| build_error(id, "CreateSchedule", e))?;
    let description = marker(&ctx.pipeline, &id.to_string());
    let scheduler = &ctx.clients.scheduler;
    let what = id.to_string();
    if create {
        let result = retry_while_role_propagates(role_not_ready, &what, &ctx.progress, || {
            let request = scheduler
                .create_schedule()
                .name(&config.schedule_name)
                .schedule_expression(expression)
                .schedule_expression_timezone(&config.timezone)
                .description(&description)
                .state(ScheduleState::Enabled)
                .flexible_time_window(window.clone())
                .target(target.clone());
            async move { request.send().await.map_err(|error| aws_error(id, "CreateSchedule", error)) }
        })
        .await;
        match result {
            // A re-run after an interrupted apply: bring the existing schedule up to date below,
            // but only if it carries this pipeline's marker; anyone else's is left alone.
            Err(error) if error.has_code("ConflictException") => {
                let existing = scheduler
                    .get_schedule()
                    .name(&config.schedule_name)
                    .send()
                    .await
                    .map_err(|e| aws_error(id, "GetSchedule", e))?;
                // Schedules carry no tags: the marker in the description stands for them, and
                // it must name this schedule (a marker without a resource is not ours).
                let owner = parse_marker(existing.description().unwrap_or_default());
                let found = if owner.contains_key(RESOURCE_TAG) { owner } else { Tags::new() };
                let hint = " (a schedule holds them in its description, `Managed by pipectl. KEY=VALUE …`)";
                ctx.claim_existing(id, "CreateSchedule", Ownership::Tagged(found), hint).await?;
            }
            other => {
                other?;
                return Ok(config.schedule_name.clone());
            }
        }
    }
    retry_while_role_propagates(role_not_ready, &what, &ctx.progress, || {
        let request = scheduler
            .update_schedule()
            .name(&config.schedule_name)
            .schedule_expression(expression)
            .schedule_expression_timezone(&config.timezone)
            .description(&description)
            .state(ScheduleState::Enabled)
            .flexible_time_window(window.clone())
            .target(target.clone());
        async move { request.send().await.map_err(|error| aws_error(id, "UpdateSchedule", error)) }
    })
    .await?;
    Ok(config.schedule_name.clone())
}

async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    ctx.clients
        .scheduler
        .delete_schedule()
        .name(&live.physical_id)
        .send()
        .await
        .map_err(|error| aws_error(&live.id, "DeleteSchedule", error))?;
    Ok(())
}

/// A one-time schedule of a cluster: `pipectl scale --for/--until`'s scale-back, a run's guard.
pub struct OneTimeSchedule<'a> {
    /// The schedule's name (`schedule_name` of the spec-level name).
    pub name: &'a str,
    /// What it is for, with pipectl's marker (`SCALE_BACK_MARKER`, `RUN_GUARD_MARKER`).
    pub description: String,
    /// When, in UTC: `yyyy-mm-ddThh:mm:ss`.
    pub at: String,
    /// What it does then.
    pub action: OneTimeAction,
}

/// What a one-time schedule does at its time.
pub enum OneTimeAction {
    /// EMR ModifyInstanceGroups with this request (`resize_input`).
    Resize(Value),
    /// Starts the job state machine of this ARN with this input: a run's guard starts the job
    /// down its guard path (`job::guard`), which resizes only a running cluster's group still
    /// above its baseline, and kills the run's Spark applications first.
    StartJob { state_machine: String, input: Value },
}

/// Creates a one-time schedule on the spec's cluster `cluster` in `account`: run by the
/// cluster's scheduler role, retried (`SCALE_BACK_RETRY`), then handed to the pipeline's
/// dead-letter queue; it deletes itself once done. It replaces a pending one of the same name.
pub async fn create_one_time(
    clients: &Clients,
    spec: &spec::Spec,
    account: &str,
    cluster: &str,
    schedule: &OneTimeSchedule<'_>,
) -> Result<(), AwsError> {
    let arns = crate::iam::Arns::new(account, &clients.region);
    let role = iam_role_name(&spec.pipeline, &scheduler_role(cluster), &clients.region);
    let role_arn = arns.role(&spec.role_path(&clients.region), &role);
    let dead_letter_arn = super::queue::arn(&arns, &spec.pipeline);
    // The target is in the partition of the role that calls it.
    let partition = crate::iam::partition_of_arn(&role_arn).unwrap_or("aws");
    let (target_arn, input) = match &schedule.action {
        OneTimeAction::Resize(input) => (modify_instance_groups(partition), input),
        OneTimeAction::StartJob { state_machine, input } => (state_machine.clone(), input),
    };
    let OneTimeSchedule { name, description, at, .. } = schedule;
    create_scale_back(clients, name, description, at, (&target_arn, input), &role_arn, &dead_letter_arn).await
}

/// A one-time schedule that calls `target` (an ARN, and its input) at `at`, then deletes itself.
async fn create_scale_back(
    clients: &Clients,
    name: &str,
    description: &str,
    at: &str,
    (target_arn, input): (&str, &Value),
    role_arn: &str,
    dead_letter_arn: &str,
) -> Result<(), AwsError> {
    let target = Target::builder()
        .arn(target_arn)
        .role_arn(role_arn)
        .input(input.to_string())
        .retry_policy(SCALE_BACK_RETRY.policy())
        .dead_letter_config(dead_letter(dead_letter_arn))
        .build()
        .map_err(|e| build_error(name, "CreateSchedule", e))?;
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| build_error(name, "CreateSchedule", e))?;
    // A later `scale --for` replaces the pending scale-back of the same group.
    delete_one_time_resize(clients, name).await?;
    clients
        .scheduler
        .create_schedule()
        .name(name)
        .schedule_expression(format!("at({at})"))
        .schedule_expression_timezone("UTC")
        .description(description)
        .state(ScheduleState::Enabled)
        .action_after_completion(ActionAfterCompletion::Delete)
        .flexible_time_window(window)
        .target(target)
        .send()
        .await
        .map_err(|error| aws_error(name, "CreateSchedule", error))?;
    Ok(())
}

/// Removes a pending one-time resize; one that is not there is already removed.
pub async fn delete_one_time_resize(clients: &Clients, name: &str) -> Result<(), AwsError> {
    let deleted = clients.scheduler.delete_schedule().name(name).send().await;
    match deleted.map_err(|error| aws_error(name, "DeleteSchedule", error)) {
        Err(error) if !error.is_not_found() => Err(error),
        _ => Ok(()),
    }
}

/// EventBridge Scheduler's answer while a role created seconds ago cannot be assumed yet:
/// `ValidationException` saying the role cannot be assumed.
fn role_not_ready(error: &AwsError) -> bool {
    let message = error.message.to_lowercase();
    error.has_code("ValidationException") && (message.contains("role") || message.contains("assume"))
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::iam::Arns;

    #[test]
    fn markers_carry_ownership() {
        let tags = parse_marker(&marker("clickstream", "schedule/spark-night-up"));
        assert_eq!(tags.get(PIPELINE_TAG).map(String::as_str), Some("clickstream"));
        assert_eq!(tags.get(RESOURCE_TAG).map(String::as_str), Some("schedule/spark-night-up"));
    }

    #[test]
    fn one_time_schedules_name_the_cluster_they_resize() {
        let scale_back = parse_marker("Scale-back by pipectl scale. pipectl:pipeline=p pipectl:scale-back=spark/batch");
        let run_guard = parse_marker("Guard of pipectl run. pipectl:pipeline=p pipectl:run-guard=spark/nightly");
        assert_eq!((one_time_cluster(&scale_back), one_time_cluster(&run_guard)), (Some("spark"), Some("spark")));
        // The spec's own schedules carry a resource id instead.
        assert_eq!(one_time_cluster(&parse_marker(&marker("p", "schedule/spark-night-up"))), None);
    }

    #[test]
    fn the_universal_target_is_in_the_regions_partition() {
        for (region, target) in [
            ("eu-west-1", "arn:aws:scheduler:::aws-sdk:emr:modifyInstanceGroups"),
            ("cn-northwest-1", "arn:aws-cn:scheduler:::aws-sdk:emr:modifyInstanceGroups"),
            ("us-gov-west-1", "arn:aws-us-gov:scheduler:::aws-sdk:emr:modifyInstanceGroups"),
        ] {
            let arns = Arns::new("123456789012", region);
            assert_eq!(modify_instance_groups(&arns.partition), target);
            // `pipectl scale` knows the partition from the scheduler role's ARN.
            let role = arns.role("/pipectl/p/", "p-spark-scheduler");
            assert_eq!(modify_instance_groups(crate::iam::partition_of_arn(&role).unwrap()), target);
        }
    }

    #[test]
    fn resize_input_is_what_emr_expects() {
        let expected: Value = serde_json::from_str(
            r#"{"ClusterId":"j-1","InstanceGroups":[{"InstanceGroupId":"ig-2","InstanceCount":20}]}"#,
        )
        .unwrap();
        assert_eq!(resize_input("j-1", "ig-2", 20), expected);
    }

    #[test]
    fn a_window_is_an_up_and_a_down_schedule() {
        let spec: crate::spec::Spec = serde_saphyr::from_str("version: 1\npipeline: p\nregion: eu-west-1\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 4}\n    task_groups: [{name: batch, type: m5.xlarge, nodes: 2}]\n    schedules:\n      - {name: night, cron: '0 22 * * *', timezone: Asia/Seoul, group: batch, nodes: 20, for: 4h}\n    tags: {team: data}\n").unwrap();
        let arns = Arns::new("123456789012", "eu-west-1");
        let graph = GraphContext { spec: &spec, arns: &arns, now: chrono::Utc::now() };
        let nodes: Vec<DesiredResource> =
            Schedule.desired(&graph).into_iter().filter(|node| node.id.kind == KIND).collect();
        let ids: Vec<String> = nodes.iter().map(|node| node.id.to_string()).collect();
        assert_eq!(ids, ["schedule/spark-night-up", "schedule/spark-night-down"]);
        let describe = |node: &DesiredResource| {
            let config = node.config::<ScheduleConfig>().unwrap();
            let ScheduleTarget::Resize { nodes, .. } = config.target else { panic!("{:?}", config.target) };
            (config.schedule_name.clone(), config.expression.clone(), nodes, config.timezone.clone())
        };
        assert_eq!(
            describe(&nodes[0]),
            (
                "pipectl-p-spark-night-up".to_string(),
                Ok("cron(0 22 * * ? *)".to_string()),
                20,
                "Asia/Seoul".to_string()
            )
        );
        assert_eq!(
            describe(&nodes[1]),
            (
                "pipectl-p-spark-night-down".to_string(),
                Ok("cron(0 2 * * ? *)".to_string()),
                2,
                "Asia/Seoul".to_string()
            )
        );
        let depends_on: Vec<String> = nodes[1].depends_on.iter().map(ToString::to_string).collect();
        assert_eq!(depends_on, ["cluster/spark", "role/spark-scheduler", "queue/schedules-dlq"]);
        let attributes = nodes[0].attributes();
        assert_eq!(attributes["target"], json!("cluster spark group batch to 20 nodes"));
        // A schedule carries no tags, so its plan shows none (the spec's tags cannot go on it).
        assert!(!attributes.contains_key("tags"), "{attributes:?}");
        // A failed resize is retried for at most an hour, then kept in the pipeline's queue.
        assert_eq!(attributes["retry"], json!({"maximum_event_age_seconds": 3600, "maximum_retry_attempts": 10}));
        assert_eq!(attributes["dead_letter_queue"], json!("arn:aws:sqs:eu-west-1:123456789012:p-schedules-dlq"));
    }

    #[test]
    fn retries_never_reach_the_other_edge_of_the_window() {
        let age = |edge: &str, window: Option<u64>| window_retry(edge, window).max_event_age_seconds;
        // A 4-hour window: an hour of retries either way.
        assert_eq!((age("up", Some(4 * 3600)), age("down", Some(4 * 3600))), (3600, 3600));
        // A 20-minute window: the scale-up stops retrying when the window ends.
        assert_eq!(age("up", Some(20 * 60)), 20 * 60);
        // A 23h30m daily window: the scale-down stops retrying before the next one starts.
        assert_eq!(age("down", Some(23 * 3600 + 1800)), 1800);
        // RetryPolicy's floor is 60 seconds.
        assert_eq!((age("up", Some(60)), age("down", Some(86_340))), (60, 60));
        assert_eq!(age("up", None), 3600);
        for edge in ["up", "down"] {
            for window in [60, 600, 3600, 43_200, 86_340] {
                let retry = window_retry(edge, Some(window));
                assert!((60..=86_400).contains(&retry.max_event_age_seconds), "{edge} {window}: {retry:?}");
                assert!((0..=185).contains(&retry.max_attempts));
            }
        }
    }

    #[test]
    fn a_target_without_a_retry_policy_has_aws_defaults() {
        let target = |retry: Option<aws_sdk_scheduler::types::RetryPolicy>| {
            Target::builder()
                .arn("arn:aws:scheduler:::aws-sdk:emr:modifyInstanceGroups")
                .role_arn("r")
                .set_retry_policy(retry)
                .build()
                .unwrap()
        };
        assert_eq!(Retry::of(Some(&target(None))), DEFAULT_RETRY);
        assert_eq!(Retry::of(None), DEFAULT_RETRY);
        let set = SCALE_BACK_RETRY.policy();
        assert_eq!(Retry::of(Some(&target(Some(set)))), SCALE_BACK_RETRY);
    }

    #[test]
    fn a_schedule_without_retries_or_queue_plans_an_update() {
        let live = Live {
            expression: "cron(0 2 * * ? *)".to_string(),
            timezone: "UTC".to_string(),
            role_arn: "arn:aws:iam::123456789012:role/pipectl/p/p-spark-scheduler".to_string(),
            target_arn: modify_instance_groups("aws"),
            input: resize_input("j-1", "ig-2", 20),
            retry: DEFAULT_RETRY,
            dead_letter_arn: None,
        };
        let (attributes, _) = live.describe("pipectl-p-spark-night-up", &Names::default());
        assert_eq!(attributes["retry"], json!({"maximum_event_age_seconds": 86_400, "maximum_retry_attempts": 185}));
        assert_eq!(attributes["dead_letter_queue"], Value::Null);
    }

    #[test]
    fn schedules_are_reached_by_their_name_prefix_and_run_with_a_role_passed_to_the_scheduler() {
        use crate::iam::deployer::Purpose;
        use crate::resources::test_support::{assert_granted, granted, statement};
        let spec = crate::resources::test_support::one_cluster_spec();
        assert_granted(
            &super::Schedule,
            &spec,
            &[
                ("scheduler:ListSchedules", &["ReadWhatCannotBeScoped"]),
                ("scheduler:GetSchedule", &["ReadSchedules"]),
                ("scheduler:UpdateSchedule", &["ChangeSchedules"]),
                ("iam:PassRole", &["PassScheduleRolesToScheduler"]),
            ],
        );
        let all = granted(&super::Schedule, &spec, Purpose::Everything);
        assert_eq!(
            statement(&all, "ChangeSchedules")["Resource"],
            serde_json::json!(["arn:aws:scheduler:eu-west-1:123456789012:schedule/default/pipectl-p-*"])
        );
        // The cluster's scheduler role, to EventBridge Scheduler only.
        let pass = statement(&all, "PassScheduleRolesToScheduler");
        assert_eq!(
            pass["Resource"],
            serde_json::json!(["arn:aws:iam::123456789012:role/pipectl/p/eu-west-1/p-spark-scheduler-euw1"])
        );
        assert_eq!(pass["Condition"]["StringEquals"]["iam:PassedToService"], "scheduler.amazonaws.com");
    }
}

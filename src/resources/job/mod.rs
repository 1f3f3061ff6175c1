//! A cluster's job (`clusters[].jobs[]`) as a Step Functions state machine,
//! `pipectl-<pipeline>-<cluster>-<job>`, and the role it runs with (`<cluster>-<job>-job`,
//! trusted by `states.amazonaws.com`, allowed exactly the resize, step and publish calls of its
//! definition). Its `start` and `guard` schedules are `schedule` nodes; `pipectl run` and
//! `pipectl runs` start and list its executions (`runs`).
//!
//! Read with ListStateMachines (every state machine of the region: it has no name filter), then
//! DescribeStateMachine and ListTagsForResource for those named with the pipeline's prefix;
//! owned by tag. Created with its tags (CreateStateMachine asks for `states:TagResource` too);
//! definition and role change in place (UpdateStateMachine; "Executions that are already
//! running use the previous definition"), tags with TagResource/UntagResource. The definition
//! is compared as JSON, so AWS's formatting is no drift.
//!
//! Deleting is asynchronous on AWS: DeleteStateMachine marks it `DELETING`, and "a state machine
//! is deleted only when all its executions are completed" — a run waiting on a Spark step would
//! hold it there for hours ("Why is my state machine stuck in DELETING", AWS re:Post). So a job's
//! running executions are stopped first (Step Functions then cancels their EMR step), a
//! `DELETING` state machine reads as gone, and a create that meets one of the same name
//! (`StateMachineDeleting`) waits for it.

pub mod definition;
mod guard;
mod partitions;
pub mod runs;
mod schedules;

use std::sync::Arc;

use aws_sdk_sfn::types::Tag;
use serde_json::{json, Value};

use super::kit::wait::{wait_until, Poll};
use super::kit::{
    aws_error, claimed_id, owned_by, retag::retag, retry_while_role_propagates, AwsError, Context, Grant, GrantContext,
    LiveResource, NamedRead, ReadContext, ResourceKind, Scope, Tags,
};
use super::role;
use crate::model::ResourceId;

use crate::model::{
    Attributes, Binding, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names,
};
use crate::names::{derived_job_role, iam_role_name, job_state_machine_name, state_machine_prefix};
use crate::pricing::{CostLine, NightLine, Prices};
use crate::spec::{self, Group};
use definition::{JobPlan, PlannedStep};
use partitions::TablePartitions;

pub struct Job;
pub const KIND: Kind = Kind::of(&Job);

/// A job is named in the spec `<cluster>-<job>`.
pub fn id(cluster: &str, job: &str) -> ResourceId {
    ResourceId::new(KIND, format!("{cluster}-{job}"))
}

/// The state machine a job should be.
#[derive(Debug, Clone)]
pub struct JobConfig {
    pub state_machine_name: String,
    /// The IAM name of the role it runs with.
    pub role: String,
    /// The definition, with `${cluster/…}` placeholders for a cluster not created yet.
    pub definition: Value,
    /// How the plan says what the job does.
    pub summary: String,
    /// What one run adds to the group, for its cost.
    pub run: Option<RunSize>,
}

/// What one run of a job adds above its group's baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSize {
    pub instance_type: String,
    pub extra_nodes: i64,
    /// The job's timeout as the spec writes it.
    pub timeout: String,
    /// Extra nodes × the timeout in hours.
    pub node_hours: f64,
}

/// What one run of `job` adds to its group, when the group exists (validation makes sure).
fn run_size(cluster: &spec::Cluster, job: &spec::Job) -> Option<RunSize> {
    let group = Group::parse(&job.group);
    let (instance_type, baseline, node_hours) =
        (group.instance_type(cluster)?, group.baseline(cluster)?, job.extra_node_hours(cluster)?);
    Some(RunSize {
        instance_type: instance_type.to_string(),
        extra_nodes: (job.nodes - baseline).max(0),
        timeout: job.timeout.clone(),
        node_hours,
    })
}

impl DesiredConfig for JobConfig {
    fn attributes(&self) -> Attributes {
        Attributes::from([
            ("definition".to_string(), self.definition.clone()),
            ("role".to_string(), json!(self.role)),
            ("runs".to_string(), json!(self.summary)),
        ])
    }

    /// The definition names the cluster by its id and the topic and roles by their ARNs.
    fn bind(&self, binding: &Binding) -> Option<Arc<dyn DesiredConfig>> {
        Some(Arc::new(JobConfig { definition: binding.value(&self.definition), ..self.clone() }))
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub definition: Value,
    pub role_arn: String,
}

impl LiveDetail for Live {
    fn describe(&self, physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let role = self.role_arn.rsplit('/').next().unwrap_or_default().to_string();
        let cluster = self.definition["States"][definition::SCALE_OUT]["Parameters"]["ClusterId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // The job relies on its guard: removing the job deletes the state machine (its runs
        // stopped, its group returned) before the guard (see `delete`).
        let machine = physical_id.rsplit(':').next().unwrap_or_default();
        let guard = crate::names::job_guard_schedule_of(machine);
        let depends_on = [cluster.as_str(), role.as_str(), guard.as_str()]
            .into_iter()
            .filter_map(|physical| names.id(physical).cloned())
            .collect();
        let attributes = Attributes::from([
            ("definition".to_string(), self.definition.clone()),
            ("role".to_string(), json!(role)),
            ("runs".to_string(), json!(summary_of(&self.definition))),
        ]);
        (attributes, depends_on)
    }
}

/// What a definition does, in words (the desired summary is built the same way, so only a real
/// change of shape shows).
fn summary_of(definition: &Value) -> String {
    let states = &definition["States"];
    let nodes = |state: &str| states[state]["Parameters"]["InstanceGroup"]["InstanceCount"].as_i64().unwrap_or(-1);
    let group = states[definition::SCALE_OUT]["Parameters"]["InstanceGroupName"].as_str().unwrap_or("?");
    let steps = states.as_object().map(|all| all.keys().filter(|name| name.starts_with("Step-")).count()).unwrap_or(0);
    format!(
        "group {group} to {} nodes, {steps} step(s), back to {} nodes",
        nodes(definition::SCALE_OUT),
        nodes(definition::SCALE_BACK)
    )
}

impl KindRules for Job {
    fn name(&self) -> &'static str {
        "job"
    }
    fn rank(&self) -> u8 {
        170
    }
    /// A state machine cannot be renamed.
    fn forces_replacement(&self, field: &str) -> bool {
        field == "name"
    }
}

/// The plan of one job of a validated spec.
fn plan(graph: &GraphContext, cluster: &spec::Cluster, job: &spec::Job) -> JobPlan {
    let group = Group::parse(&job.group);
    let machine = job_state_machine_name(&graph.spec.pipeline, &cluster.name, &job.name);
    let yarn_tag = guard::yarn_tag(&machine);
    JobPlan {
        label: format!("{}/{}", cluster.name, job.name),
        pipeline: graph.spec.pipeline.clone(),
        partition: graph.arns.partition.clone(),
        cluster_id: graph.placeholder_of(&super::cluster::id(&cluster.name)),
        group: group.name().to_string(),
        nodes: job.nodes,
        baseline: group.baseline(cluster).unwrap_or(0),
        steps: job
            .steps
            .iter()
            .map(|step| PlannedStep {
                name: step.name.clone(),
                action_on_failure: step.action_on_failure.emr(),
                args: spec::spark_submit_args(step, &guard::tag_option(&yarn_tag)),
            })
            .collect(),
        timeout_seconds: job.timeout_seconds().unwrap_or(0),
        topic_arn: job.notifies(graph.spec).then(|| super::topic::arn(graph.arns, &graph.spec.pipeline)),
        yarn_tag,
        tables: read_tables(graph.spec, cluster),
    }
}

/// The catalog tables whose partitions a job of `cluster` registers: every table of the spec
/// with a projected date partition, when the cluster reads the Glue Data Catalog (Spark on any
/// other metastore does not see them at all).
fn read_tables(spec: &spec::Spec, cluster: &spec::Cluster) -> Vec<TablePartitions> {
    let Some(catalog) = spec.catalog.as_ref().filter(|_| cluster.use_glue_catalog) else { return Vec::new() };
    let database = spec::database_name(spec, catalog);
    catalog
        .tables
        .iter()
        .filter_map(|table| {
            let partition = spec::table_layout(spec, table)?.partition?;
            let key = format!("${{{}}}", partition.key);
            let (prefix, suffix) = partition.template.split_once(&key)?;
            Some(TablePartitions {
                database: database.clone(),
                table: table.name.clone(),
                picture: partitions::picture(&partition.format),
                hourly: partition.unit == "HOURS",
                location: (prefix.to_string(), suffix.to_string()),
            })
        })
        .collect()
}

/// Exactly what the definition calls: read the cluster (the guard), resize, record the size
/// (tags) and run steps on this cluster, the rule Step Functions keeps for `.sync` EMR steps, the
/// alarm topic if the job notifies ("IAM policies for Amazon EMR" and "IAM policies for Amazon
/// SNS", Step Functions Developer Guide), and the tables whose partitions it registers.
fn job_policy(graph: &GraphContext, cluster: &spec::Cluster, plan: &JobPlan) -> Value {
    let cluster_arn = super::cluster::cluster_arn(graph, &super::cluster::id(&cluster.name));
    let mut statements = vec![
        json!({
            "Sid": "ResizeAndRunSteps",
            "Effect": "Allow",
            "Action": [
                "elasticmapreduce:AddJobFlowSteps",
                "elasticmapreduce:AddTags",
                "elasticmapreduce:CancelSteps",
                "elasticmapreduce:DescribeCluster",
                "elasticmapreduce:DescribeStep",
                "elasticmapreduce:ListInstanceGroups",
                "elasticmapreduce:ModifyInstanceGroups",
                "elasticmapreduce:RemoveTags"
            ],
            "Resource": [cluster_arn]
        }),
        json!({
            "Sid": "StepCompletionEvents",
            "Effect": "Allow",
            "Action": ["events:DescribeRule", "events:PutRule", "events:PutTargets"],
            "Resource": [graph.arns.emr_step_events_rule()]
        }),
    ];
    if let Some(topic) = &plan.topic_arn {
        statements
            .push(json!({"Sid": "PublishOutcome", "Effect": "Allow", "Action": ["sns:Publish"], "Resource": [topic]}));
    }
    // Glue authorises a table's calls on the catalog, the database and the table ("Specifying AWS
    // Glue resource ARNs", AWS Glue Developer Guide).
    if let Some(first) = plan.tables.first() {
        let mut resources = vec![graph.arns.glue_catalog(), graph.arns.glue_database(&first.database)];
        resources.extend(plan.tables.iter().map(|table| graph.arns.glue_table(&table.database, &table.table)));
        statements.push(json!({
            "Sid": "RegisterPartitions",
            "Effect": "Allow",
            "Action": ["glue:BatchCreatePartition", "glue:GetTable"],
            "Resource": resources
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

impl ResourceKind for Job {
    type Desired = JobConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let pipeline = &graph.spec.pipeline;
        let mut nodes = Vec::new();
        for cluster in &graph.spec.clusters {
            for job in &cluster.jobs {
                let plan = plan(graph, cluster, job);
                let role_name = derived_job_role(&cluster.name, &job.name);
                let role_config = role::config(
                    graph,
                    &role_name,
                    crate::iam::derived_trust_policy(
                        graph.arns,
                        "states",
                        Some(&graph.arns.state_machine(&job_state_machine_name(pipeline, &cluster.name, &job.name))),
                    ),
                    Some(job_policy(graph, cluster, &plan)),
                    &[],
                );
                let definition = plan.definition();
                let config = JobConfig {
                    state_machine_name: job_state_machine_name(pipeline, &cluster.name, &job.name),
                    role: iam_role_name(pipeline, &role_name, &graph.arns.region),
                    summary: summary_of(&definition),
                    definition,
                    run: run_size(cluster, job),
                };
                let cluster_id = super::cluster::id(&cluster.name);
                let mut depends_on = vec![cluster_id.clone(), role::id(&role_name)];
                if plan.topic_arn.is_some() {
                    depends_on.push(super::topic::id());
                }
                let job_id = id(&cluster.name, &job.name);
                nodes.push(graph.node(role::id(&role_name), &cluster.tags, vec![cluster_id], role_config));
                nodes.push(graph.node(job_id.clone(), &cluster.tags, depends_on, config));
                nodes.extend(schedules::nodes(graph, cluster, job));
                nodes.extend(super::queue::nodes(graph));
                if let Some(alarms) = spec::enabled_alarms(graph.spec) {
                    let machine = graph.arns.state_machine(&job_state_machine_name(pipeline, &cluster.name, &job.name));
                    let derived = spec::job_alarms(alarms, cluster, job);
                    nodes.extend(super::alarm::nodes(graph, derived, &job_id, &machine, &job_id.name));
                }
            }
        }
        nodes
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        self::read(&read.clients.sfn, read.pipeline).await
    }

    async fn create(&self, ctx: &Context, resource: &DesiredResource, desired: &JobConfig) -> Result<String, AwsError> {
        let id = &resource.id;
        let definition = ctx.resolve_placeholders(&desired.definition.to_string())?;
        let role_arn = ctx.arns.role(&ctx.roles_path, &desired.role);
        let tags = sfn_tags(&resource.tags);
        let what = id.to_string();
        let created = std::sync::Mutex::new(None);
        wait_until(id, "created", ctx.wait, &ctx.progress, || async {
            // A role created moments ago: "Neither the global service principal
            // states.amazonaws.com, nor the regional one is authorized to assume the provided
            // role" until IAM propagates it.
            let attempt = retry_while_role_propagates(role_not_ready, &what, &ctx.progress, || {
                let request = ctx
                    .clients
                    .sfn
                    .create_state_machine()
                    .name(&desired.state_machine_name)
                    .definition(&definition)
                    .role_arn(&role_arn)
                    .set_tags(Some(tags.clone()));
                async move { request.send().await.map_err(|error| aws_error(id, "CreateStateMachine", error)) }
            })
            .await;
            match attempt {
                Ok(output) => {
                    *created.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(output.state_machine_arn().to_string());
                    Ok(Poll::Ready)
                }
                Err(error) if error.has_code("StateMachineDeleting") => Ok(Poll::Pending(
                    "waiting for the deleted state machine of the same name to go (its runs must end first)"
                        .to_string(),
                )),
                Err(error) => Err(error),
            }
        })
        .await?;
        let arn = created.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        arn.ok_or_else(|| AwsError::missing(id, "CreateStateMachine", "stateMachineArn"))
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &JobConfig,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        let id = &resource.id;
        let sfn = &ctx.clients.sfn;
        let arn = &live.physical_id;
        let definition = ctx.resolve_placeholders(&desired.definition.to_string())?;
        let role_arn = ctx.arns.role(&ctx.roles_path, &desired.role);
        let unchanged = serde_json::from_str::<Value>(&definition).ok().as_ref() == Some(&detail.definition)
            && detail.role_arn == role_arn;
        if !unchanged {
            let what = id.to_string();
            retry_while_role_propagates(role_not_ready, &what, &ctx.progress, || {
                let request =
                    sfn.update_state_machine().state_machine_arn(arn).definition(&definition).role_arn(&role_arn);
                async move { request.send().await.map_err(|error| aws_error(id, "UpdateStateMachine", error)) }
            })
            .await?;
        }
        retag(
            &live.tags,
            &resource.tags,
            |stale| async move {
                sfn.untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(stale))
                    .send()
                    .await
                    .map(drop)
                    .map_err(|error| aws_error(id, "UntagResource", error))
            },
            |set| async move {
                sfn.tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(sfn_tags(&set)))
                    .send()
                    .await
                    .map(drop)
                    .map_err(|error| aws_error(id, "TagResource", error))
            },
        )
        .await
    }

    /// Stops the running executions, returns a group the job left above its baseline (one of
    /// them was stopped mid-run, or an earlier removal was), then deletes the state machine; the
    /// guard schedule goes after it (`Live::describe`).
    async fn delete(&self, ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
        stop_running(&ctx.clients.sfn, &live.id, &live.physical_id).await?;
        return_group(ctx, &live.id, &detail.definition).await?;
        match ctx.clients.sfn.delete_state_machine().state_machine_arn(&live.physical_id).send().await {
            Ok(_) => Ok(()),
            Err(error) => aws_error(&live.id, "DeleteStateMachine", error).unless_not_found(()),
        }
    }

    /// One run at most: the nodes it adds above the group's baseline for its whole timeout.
    fn cost(&self, resource: &DesiredResource, desired: &JobConfig, prices: &Prices) -> Vec<CostLine> {
        let Some(run) = &desired.run else { return Vec::new() };
        let price = prices.node(&run.instance_type);
        vec![CostLine::Night(NightLine {
            resource: resource.id.to_string(),
            item: format!("one run: {} extra × {} for at most {}", run.extra_nodes, run.instance_type, run.timeout),
            node_hours: run.node_hours,
            usd: price.as_ref().map(|price| price.hourly() * run.node_hours),
            figures: price.map(|price| vec![price.ec2, price.emr]).unwrap_or_default(),
        })]
    }

    /// The jobs' state machines and their executions: read by the pipeline's name prefix (a job
    /// the spec dropped is found by it), changed by exact name, and a dropped one deleted by the
    /// prefix only while it carries the pipeline's tag; `pipectl run` and `runs` start and list
    /// a job's executions.
    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let prefix = state_machine_prefix(&ctx.spec.pipeline);
        let machines = vec![ctx.arns.state_machine(&format!("{prefix}*"))];
        let executions = vec![ctx.arn("states", &format!("execution:{prefix}*:*"))];
        let jobs: Vec<(&str, &str)> = ctx
            .spec
            .clusters
            .iter()
            .flat_map(|cluster| cluster.jobs.iter().map(|job| (cluster.name.as_str(), job.name.as_str())))
            .collect();
        // The spec's state machines by exact name; those it dropped only while they carry the
        // pipeline's tag (the `statemachine` resource type takes `aws:ResourceTag`).
        let named: Vec<String> = jobs
            .iter()
            .map(|(cluster, job)| ctx.arns.state_machine(&job_state_machine_name(&ctx.spec.pipeline, cluster, job)))
            .collect();
        let roles: Vec<String> = jobs.iter().map(|(cluster, job)| derived_job_role(cluster, job)).collect();
        let runs: Vec<String> = jobs
            .iter()
            .map(|(cluster, job)| {
                ctx.arn("states", &format!("execution:{}:*", job_state_machine_name(&ctx.spec.pipeline, cluster, job)))
            })
            .collect();
        let change = [
            "states:CreateStateMachine",
            "states:UpdateStateMachine",
            "states:TagResource",
            "states:UntagResource",
            // `pipectl run` starts a job's execution like its schedule does.
            "states:StartExecution",
        ];
        vec![
            Grant::unscoped_reads(&["states:ListStateMachines"]),
            // `pipectl runs` lists a job's executions on its state machine.
            Grant::new(
                "ReadJobs",
                Scope::Plan,
                &["states:DescribeStateMachine", "states:ListTagsForResource", "states:ListExecutions"],
                machines.clone(),
            ),
            Grant::new(
                "ReadJobRuns",
                Scope::Plan,
                &["states:DescribeExecution", "states:GetExecutionHistory"],
                executions.clone(),
            ),
            // Deleting a job stops its running executions first: the spec's jobs' by exact name,
            // a dropped job's only while they carry the pipeline's tag (the `execution` resource
            // type takes `aws:ResourceTag`, Service Authorization Reference). Were that denied, the
            // dropped state machine is still deleted once its runs end (see the module's header).
            Grant::new("StopJobRuns", Scope::Destroy, &["states:StopExecution"], runs),
            Grant::new("StopRunsOfJobsTheSpecDropped", Scope::Destroy, &["states:StopExecution"], executions)
                .when(ctx.tagged()),
            // Removing a job returns the group a stopped run left scaled out (`return_group`), on
            // the pipeline's clusters only.
            Grant::new(
                "ReturnGroupsOfRemovedJobs",
                Scope::Destroy,
                &[
                    "elasticmapreduce:DescribeCluster",
                    "elasticmapreduce:ListInstanceGroups",
                    "elasticmapreduce:ModifyInstanceGroups",
                    "elasticmapreduce:RemoveTags",
                ],
                vec![ctx.arn("elasticmapreduce", "cluster/*")],
            )
            .when(ctx.tagged()),
            Grant::new("ChangeJobs", Scope::Apply, &change, named.clone()),
            Grant::new("ChangeJobs", Scope::Destroy, &["states:DeleteStateMachine"], named),
            Grant::new("OwnJobsTheSpecDropped", Scope::Destroy, &["states:DeleteStateMachine"], machines.clone())
                .when(ctx.tagged()),
            ctx.pass_roles("states", &roles),
        ]
    }
}

/// What a job's definition records on the cluster while it runs: the cluster id, the group, its
/// baseline, the tag key and the value (`definition::record_value`).
fn recorded_scale(definition: &Value) -> Option<(String, String, i64, String, String)> {
    let states = &definition["States"];
    let tag = &states[definition::RECORD_SCALE]["Parameters"]["Tags"][0];
    let back = &states[definition::SCALE_BACK]["Parameters"];
    Some((
        back["ClusterId"].as_str()?.to_string(),
        back["InstanceGroupName"].as_str()?.to_string(),
        back["InstanceGroup"]["InstanceCount"].as_i64()?,
        tag["Key"].as_str()?.to_string(),
        tag["Value"].as_str()?.to_string(),
    ))
}

/// Returns the group of a job being removed to its baseline and removes the job's size record,
/// when the cluster still carries that record: a run stopped by the removal (or before it) never
/// reached its own resize-back, and the guard that would have goes with the job. A cluster that
/// is not RUNNING or WAITING cannot be resized (EMR: "An instance group may only be modified when
/// the cluster is running or waiting") and is left as it is; a record of someone else's (`pipectl
/// scale`) is not the job's and is left too.
async fn return_group(ctx: &Context, id: &ResourceId, definition: &Value) -> Result<(), AwsError> {
    let Some((cluster_id, group, baseline, key, value)) = recorded_scale(definition) else { return Ok(()) };
    let running = match super::cluster::inspect(&ctx.clients, id, &cluster_id).await {
        Ok(running) => running,
        // A cluster that is gone has no group to return.
        Err(error) if error.is_not_found() || error.has_code("InvalidRequestException") => return Ok(()),
        Err(error) => return Err(error),
    };
    if running.tags.get(&key) != Some(&value) || !running.state.accepts_resize() {
        return Ok(());
    }
    let group = Group::parse(&group);
    if let Some(live) = running.group(&group).filter(|live| live.requested != baseline) {
        let live_id = live.id.clone();
        ctx.progress.line(&format!(
            "{id}: returning {} to {baseline} nodes (a run was stopped before it could)",
            group.label()
        ));
        super::cluster::resize_group(&ctx.clients, id, &cluster_id, &live_id, baseline).await?;
    }
    super::cluster::forget_scale(&ctx.clients, id, &cluster_id, &group).await
}

/// Stops the state machine's running executions, so that its deletion does not wait for them.
async fn stop_running(sfn: &aws_sdk_sfn::Client, id: &ResourceId, arn: &str) -> Result<(), AwsError> {
    let mut running = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = match sfn
            .list_executions()
            .state_machine_arn(arn)
            .status_filter(aws_sdk_sfn::types::ExecutionStatus::Running)
            .set_next_token(token.clone())
            .send()
            .await
        {
            Ok(page) => page,
            Err(error) => return aws_error(id, "ListExecutions", error).unless_not_found(()),
        };
        running.extend(page.executions().iter().map(|execution| execution.execution_arn().to_string()));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    for execution in running {
        let stopped = sfn
            .stop_execution()
            .execution_arn(&execution)
            .cause("pipectl is deleting the job's state machine")
            .send()
            .await;
        // One that ended meanwhile needs no stopping.
        if let Err(error) = stopped {
            aws_error(id, "StopExecution", error).unless_not_found(())?;
        }
    }
    Ok(())
}

fn sfn_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
}

/// The pipeline's state machines: listed, then described and tag-read by name prefix.
async fn read(sfn: &aws_sdk_sfn::Client, pipeline: &str) -> Result<NamedRead, AwsError> {
    let prefix = state_machine_prefix(pipeline);
    let mut arns = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = sfn
            .list_state_machines()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|error| aws_error("job", "ListStateMachines", error))?;
        arns.extend(
            page.state_machines()
                .iter()
                .filter(|m| m.name().starts_with(&prefix))
                .map(|m| m.state_machine_arn().to_string()),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let found = futures::future::try_join_all(arns.iter().map(|arn| async move {
        let (described, tags) = futures::future::join(
            sfn.describe_state_machine().state_machine_arn(arn).send(),
            sfn.list_tags_for_resource().resource_arn(arn).send(),
        )
        .await;
        // One deleted between the listing and these reads is gone.
        let described = match described {
            Ok(described) => described,
            Err(error) => return aws_error(arn.as_str(), "DescribeStateMachine", error).unless_not_found(None),
        };
        // Being deleted: gone, as far as the plan is concerned (a create of the name waits).
        if described.status() == Some(&aws_sdk_sfn::types::StateMachineStatus::Deleting) {
            return Ok(None);
        }
        let tags: Tags = match tags {
            Ok(tags) => {
                tags.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect()
            }
            Err(error) => return aws_error(arn.as_str(), "ListTagsForResource", error).unless_not_found(None),
        };
        let live = Live {
            definition: serde_json::from_str(described.definition()).unwrap_or(Value::Null),
            role_arn: described.role_arn().to_string(),
        };
        Ok(Some((arn.clone(), tags, live)))
    }))
    .await?;
    let mut result = NamedRead::default();
    for (arn, tags, live) in found.into_iter().flatten() {
        let Some(id) = claimed_id(&tags, KIND) else { continue };
        if owned_by(&tags, pipeline) {
            result.found.push(LiveResource::new(id, &arn, tags, live));
        }
    }
    Ok(result)
}

/// Step Functions' answer to `CreateStateMachine`/`UpdateStateMachine` while a role created
/// seconds ago cannot be assumed yet: `AccessDeniedException` "Neither the global service
/// principal states.amazonaws.com, nor the regional one is authorized to assume the provided
/// role" (the Terraform provider retries the same, hashicorp/terraform-provider-aws#7893).
fn role_not_ready(error: &AwsError) -> bool {
    error.has_code("AccessDeniedException") && error.message.to_lowercase().contains("assume the provided role")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_fresh_role_is_recognised_by_step_functions_own_error() {
        let error =
            |code: &str, message: &str| AwsError { code: Some(code.to_string()), ..AwsError::new("x", "Op", message) };
        let states = error(
            "AccessDeniedException",
            "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.",
        );
        assert!(role_not_ready(&states));
        // The caller lacking a permission is not a role that has yet to propagate.
        let denied = error(
            "AccessDeniedException",
            "User: arn:aws:sts::1:assumed-role/ci is not authorized to perform: states:CreateStateMachine",
        );
        assert!(!role_not_ready(&denied));
    }
    use crate::iam::Arns;

    const SPEC: &str = "version: 1\npipeline: p\nregion: eu-west-1\nbuckets: [{name: lake}]\nalarms: {notify: [{protocol: email, endpoint: a@example.com}]}\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 4}\n    task_groups: [{name: batch, type: m5.xlarge, nodes: 2}]\n    jobs:\n      - name: nightly\n        cron: '0 2 * * *'\n        timezone: Asia/Seoul\n        group: batch\n        nodes: 20\n        timeout: 3h\n        steps:\n          - {name: sessionize, script: 's3://lake/jobs/sessionize.py', args: [--day, yesterday]}\n";

    /// The job's nodes, with the cluster already created as `j-ABC`.
    fn desired() -> Vec<DesiredResource> {
        let spec: spec::Spec = serde_saphyr::from_str(SPEC).unwrap();
        let arns = Arns::new("123456789012", "eu-west-1");
        let known = BTreeMap::from([(super::super::cluster::id("spark"), "j-ABC".to_string())]);
        let binding = crate::model::Binding::new("123456789012", &known);
        let nodes = Job.desired(&GraphContext { spec: &spec, arns: &arns, now: chrono::Utc::now() });
        nodes.iter().map(|node| node.bind(&binding)).collect()
    }

    #[test]
    fn a_job_is_a_state_machine_and_a_role_allowed_exactly_its_calls() {
        let nodes = desired();
        let ids: Vec<String> = nodes.iter().map(|node| node.id.to_string()).collect();
        // With everything it derives: its schedules, the queue their failures go to, and alarms.
        assert_eq!(
            ids,
            [
                "role/spark-nightly-job",
                "job/spark-nightly",
                "schedule/spark-nightly-start",
                "schedule/spark-nightly-guard",
                "queue/schedules-dlq",
                "alarm/schedules-failed-invocations",
                "alarm/spark-nightly-failed",
                "alarm/spark-nightly-timed-out"
            ]
        );
        let job = nodes[1].config::<JobConfig>().unwrap();
        assert_eq!(job.state_machine_name, "pipectl-p-spark-nightly");
        assert_eq!(job.role, "p-spark-nightly-job-euw1");
        assert_eq!(job.summary, "group batch to 20 nodes, 1 step(s), back to 2 nodes");
        assert_eq!(job.definition["States"]["ScaleOut"]["Parameters"]["ClusterId"], "j-ABC");
        assert_eq!(
            job.definition["States"]["Step-1-sessionize"]["Parameters"]["Step"]["HadoopJarStep"]["Args"],
            json!([
                "spark-submit",
                "--conf",
                "spark.yarn.tags=pipectl-p-spark-nightly",
                "s3://lake/jobs/sessionize.py",
                "--day",
                "yesterday"
            ])
        );
        let depends_on: Vec<String> = nodes[1].depends_on.iter().map(ToString::to_string).collect();
        assert_eq!(depends_on, ["cluster/spark", "role/spark-nightly-job", "topic/alarms"]);
        let role = nodes[0].config::<role::RoleConfig>().unwrap();
        assert_eq!(role.trust["Statement"][0]["Principal"]["Service"], json!(["states.amazonaws.com"]));
        let statements = role.inline.as_ref().unwrap()["Statement"].as_array().unwrap().clone();
        assert_eq!(statements[0]["Resource"], json!(["arn:aws:elasticmapreduce:eu-west-1:123456789012:cluster/j-ABC"]));
        assert_eq!(
            statements[1]["Resource"],
            json!(["arn:aws:events:eu-west-1:123456789012:rule/StepFunctionsGetEventForEMRAddJobFlowStepsRule"])
        );
        assert_eq!(statements[2]["Resource"], json!(["arn:aws:sns:eu-west-1:123456789012:pipectl-p-alarms"]));
        assert_eq!(statements.len(), 3);
    }

    /// A Step Functions client answering from `rules`, in order (built by hand, like the SNS
    /// one of `topic`'s tests).
    fn sfn_client(rules: &[&aws_smithy_mocks::Rule]) -> aws_sdk_sfn::Client {
        crate::resources::test_support::mock_sdk_client!(
            aws_sdk_sfn,
            "eu-west-1",
            aws_smithy_mocks::RuleMode::Sequential,
            rules
        )
    }

    fn context(sfn: aws_sdk_sfn::Client) -> Context {
        let mut clients = super::super::test_support::clients();
        clients.sfn = sfn;
        let state = crate::model::LiveState { account_id: "123456789012".to_string(), ..Default::default() };
        super::super::test_support::context(clients, std::time::Duration::from_secs(5), &state)
    }

    const ARN: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:pipectl-p-spark-nightly";

    /// Step Functions' JSON 1.0 error for `code` (HTTP 400).
    fn sfn_error(code: &str, message: &str) -> aws_smithy_runtime_api::http::Response {
        let body = json!({"__type": code, "message": message}).to_string();
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(body),
        )
    }

    #[tokio::test]
    async fn deleting_a_job_stops_its_running_runs_first() {
        use aws_sdk_sfn::operation::{
            delete_state_machine::DeleteStateMachineOutput, list_executions::ListExecutionsOutput,
            stop_execution::StopExecutionOutput,
        };
        use aws_sdk_sfn::Client;
        use aws_smithy_mocks::mock;
        let running = mock!(Client::list_executions)
            .match_requests(|request| {
                request.state_machine_arn() == Some(ARN)
                    && request.status_filter() == Some(&aws_sdk_sfn::types::ExecutionStatus::Running)
            })
            .then_output(|| {
                let run = aws_sdk_sfn::types::ExecutionListItem::builder()
                    .execution_arn(format!("{}:night-1", ARN.replace(":stateMachine:", ":execution:")))
                    .state_machine_arn(ARN)
                    .name("night-1")
                    .status(aws_sdk_sfn::types::ExecutionStatus::Running)
                    .start_date(aws_smithy_types::DateTime::from_secs(1_796_000_000))
                    .build()
                    .unwrap();
                ListExecutionsOutput::builder().executions(run).build().unwrap()
            });
        let stop = mock!(Client::stop_execution)
            .match_requests(|request| request.execution_arn().is_some_and(|arn| arn.ends_with(":night-1")))
            .then_output(|| {
                StopExecutionOutput::builder()
                    .stop_date(aws_smithy_types::DateTime::from_secs(1_796_000_100))
                    .build()
                    .unwrap()
            });
        let delete = mock!(Client::delete_state_machine)
            .match_requests(|request| request.state_machine_arn() == Some(ARN))
            .then_output(|| DeleteStateMachineOutput::builder().build());
        let ctx = context(sfn_client(&[&running, &stop, &delete]));
        let detail = Live { definition: Value::Null, role_arn: String::new() };
        let live = LiveResource::new(id("spark", "nightly"), ARN, Tags::new(), detail.clone());
        Job.delete(&ctx, &live, &detail).await.unwrap();
        assert_eq!((running.num_calls(), stop.num_calls(), delete.num_calls()), (1, 1, 1));
    }

    #[tokio::test]
    async fn a_create_waits_while_a_state_machine_of_that_name_is_being_deleted() {
        use aws_sdk_sfn::operation::create_state_machine::CreateStateMachineOutput;
        use aws_sdk_sfn::Client;
        use aws_smithy_mocks::mock;
        let deleting = mock!(Client::create_state_machine).then_http_response(|| {
            sfn_error("StateMachineDeleting", "State machine arn:…:pipectl-p-spark-nightly is being deleted")
        });
        let created = mock!(Client::create_state_machine)
            .match_requests(|request| {
                request.name() == Some("pipectl-p-spark-nightly")
                    && request.role_arn().is_some_and(|role| role.ends_with("/p-spark-nightly-job-euw1"))
                    && request.tags().iter().any(|tag| tag.key() == Some("pipectl:resource"))
            })
            .then_output(|| {
                CreateStateMachineOutput::builder()
                    .state_machine_arn(ARN)
                    .creation_date(aws_smithy_types::DateTime::from_secs(1_796_000_000))
                    .build()
                    .unwrap()
            });
        let ctx = context(sfn_client(&[&deleting, &created]));
        let nodes = desired();
        let config = nodes[1].config::<JobConfig>().unwrap();
        assert_eq!(Job.create(&ctx, &nodes[1], config).await.unwrap(), ARN);
        assert_eq!((deleting.num_calls(), created.num_calls()), (1, 1));
    }

    #[test]
    fn the_live_definition_reads_back_as_the_same_attributes() {
        let nodes = desired();
        let job = nodes[1].config::<JobConfig>().unwrap();
        // AWS returns the definition as it was sent, formatting aside.
        let sent = serde_json::to_string_pretty(&job.definition).unwrap();
        let live = Live {
            definition: serde_json::from_str(&sent).unwrap(),
            role_arn: "arn:aws:iam::123456789012:role/pipectl/p/eu-west-1/p-spark-nightly-job-euw1".to_string(),
        };
        let (attributes, _) = live.describe("arn", &Names::default());
        let desired = job.attributes();
        for field in ["definition", "role", "runs"] {
            assert_eq!(attributes[field], desired[field], "{field}");
        }
    }

    #[test]
    fn jobs_are_changed_by_exact_name_read_by_prefix_and_run_with_their_role_passed_to_step_functions() {
        use crate::iam::deployer::Purpose;
        use crate::resources::test_support::{assert_granted, granted, sids_allowing, statement};
        let spec: spec::Spec = serde_saphyr::from_str(SPEC).unwrap();
        assert_granted(
            &Job,
            &spec,
            &[
                ("states:ListStateMachines", &["ReadWhatCannotBeScoped"]),
                ("states:ListExecutions", &["ReadJobs"]),
                ("states:GetExecutionHistory", &["ReadJobRuns"]),
                ("states:StopExecution", &["StopJobRuns", "StopRunsOfJobsTheSpecDropped"]),
                ("states:StartExecution", &["ChangeJobs"]),
                ("states:DeleteStateMachine", &["ChangeJobs", "OwnJobsTheSpecDropped"]),
                ("iam:PassRole", &["PassJobRolesToStepFunctions"]),
            ],
        );
        let all = granted(&Job, &spec, Purpose::Everything);
        let states = |resource: &str| serde_json::json!([format!("arn:aws:states:eu-west-1:123456789012:{resource}")]);
        assert_eq!(statement(&all, "ChangeJobs")["Resource"], states("stateMachine:pipectl-p-spark-nightly"));
        assert_eq!(statement(&all, "OwnJobsTheSpecDropped")["Resource"], states("stateMachine:pipectl-p-*"));
        assert_eq!(
            statement(&all, "OwnJobsTheSpecDropped")["Condition"]["StringEquals"]["aws:ResourceTag/pipectl:pipeline"],
            "p"
        );
        assert_eq!(statement(&all, "StopJobRuns")["Resource"], states("execution:pipectl-p-spark-nightly:*"));
        let dropped = statement(&all, "StopRunsOfJobsTheSpecDropped");
        assert_eq!(dropped["Resource"], states("execution:pipectl-p-*:*"));
        assert_eq!(dropped["Condition"]["StringEquals"]["aws:ResourceTag/pipectl:pipeline"], "p");
        let pass = statement(&all, "PassJobRolesToStepFunctions");
        assert_eq!(
            pass["Resource"],
            serde_json::json!(["arn:aws:iam::123456789012:role/pipectl/p/eu-west-1/p-spark-nightly-job-euw1"])
        );
        assert_eq!(pass["Condition"]["StringEquals"]["iam:PassedToService"], "states.amazonaws.com");
        assert!(sids_allowing(&granted(&Job, &spec, Purpose::Plan), "states:StartExecution").is_empty());
    }
}

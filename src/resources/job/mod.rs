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
pub use guard::guard_input;
mod partitions;
pub mod runs;
mod schedules;

use std::sync::Arc;

use aws_sdk_sfn::types::Tag;
use serde_json::{json, Value};

use super::kit::wait::{wait_until, Poll};
use super::kit::Output;
use super::kit::{
    aws_error, claimed_id, owned_by, retag::retag, retry_while_role_propagates, AwsError, Clients, Context, Grant,
    GrantContext, LiveResource, NamedRead, ReadContext, ResourceKind, Scope, Tags,
};
use super::role;
use crate::iam::Arns;
use crate::model::ResourceId;

use crate::model::{
    Attributes, Binding, DesiredConfig, DesiredResource, Document, GraphContext, Kind, KindRules, LiveDetail, Names,
};
use crate::names::{derived_job_role, iam_role_name, job_state_machine_name, state_machine_prefix};
use crate::pricing::{self, CostLine, NightLine, Prices};
use crate::progress::Progress;
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
    /// The group runs on spot nodes, whose price varies.
    pub spot: bool,
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
        spot: matches!(&group, Group::Task(name) if cluster.task_groups.iter().any(|task| task.name == *name && task.market == spec::Market::Spot)),
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
    /// The state machine runs to hundreds of lines; `runs` says what it does in words.
    fn document(&self, field: &str) -> Option<Document> {
        (field == "definition").then_some(Document::StateMachine)
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
            TablePartitions::new(&database, &table.name, &partition)
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
        stop_running(&ctx.clients.sfn, &live.id, &live.physical_id, "pipectl is deleting the job's state machine")
            .await?;
        return_group(&ctx.clients, &ctx.progress, &live.id, &detail.definition).await?;
        match ctx.clients.sfn.delete_state_machine().state_machine_arn(&live.physical_id).send().await {
            Ok(_) => Ok(()),
            Err(error) => aws_error(&live.id, "DeleteStateMachine", error).unless_not_found(()),
        }
    }

    /// One run at most: the nodes it adds above the group's baseline for its whole timeout; and
    /// the state machine's transitions (a rate: a standard workflow bills each one).
    fn cost(&self, resource: &DesiredResource, desired: &JobConfig, prices: &Prices) -> Vec<CostLine> {
        let transitions = prices.figure("stepfunctions_transitions_thousand");
        let transitions =
            pricing::rate(&resource.id.to_string(), "Step Functions state transitions", "1,000", transitions);
        let Some(run) = &desired.run else { return vec![transitions] };
        let price = if run.spot { None } else { prices.node(&run.instance_type) };
        let market = if run.spot { " spot" } else { "" };
        vec![
            CostLine::Night(NightLine {
                resource: resource.id.to_string(),
                item: format!(
                    "one run: {} extra ×{market} {} for at most {}",
                    run.extra_nodes, run.instance_type, run.timeout
                ),
                node_hours: run.node_hours,
                usd: price.as_ref().map(|price| price.hourly() * run.node_hours),
                spot: run.spot,
                figures: price.map(|price| vec![price.ec2, price.emr]).unwrap_or_default(),
            }),
            transitions,
        ]
    }

    /// The state machine `aws stepfunctions start-execution` takes, and the role it runs as.
    fn outputs(&self, live: &LiveResource, detail: &Live, _arns: &Arns) -> Vec<Output> {
        vec![Output::new("state_machine_arn", &live.physical_id), Output::new("role_arn", &detail.role_arn)]
    }

    /// The jobs' state machines and their executions: read by the pipeline's name prefix (a job
    /// the spec dropped is found by it), changed by exact name, and a dropped one deleted by the
    /// prefix only while it carries the pipeline's tag; `pipectl run` and `runs` start, follow,
    /// stop and list a job's executions.
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
            // `pipectl run --stop` stops a job's run, and deleting a job stops its running
            // executions first: the spec's jobs' by exact name, a dropped job's only while they
            // carry the pipeline's tag (the `execution` resource type takes `aws:ResourceTag`,
            // Service Authorization Reference). Were that denied, the dropped state machine is
            // still deleted once its runs end (see the module's header).
            Grant::new("StopJobRuns", Scope::Apply, &["states:StopExecution"], runs),
            Grant::new("StopRunsOfJobsTheSpecDropped", Scope::Destroy, &["states:StopExecution"], executions)
                .when(ctx.tagged()),
            // `pipectl run --stop` and removing a job return the group a stopped run left scaled
            // out (`return_group`), on the pipeline's clusters only.
            Grant::new(
                "ReturnGroupsOfStoppedRuns",
                Scope::Apply,
                &[
                    "elasticmapreduce:AddJobFlowSteps",
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

/// The step a job's failure path runs to kill its YARN applications (`guard`), as its
/// definition holds it.
fn kill_step(definition: &Value) -> Option<aws_sdk_emr::types::StepConfig> {
    let step = &definition["States"][definition::KILL_APPLICATIONS]["Parameters"]["Step"];
    let args = step["HadoopJarStep"]["Args"].as_array()?.iter().filter_map(Value::as_str).map(str::to_string);
    let jar = aws_sdk_emr::types::HadoopJarStepConfig::builder()
        .jar(step["HadoopJarStep"]["Jar"].as_str()?)
        .set_args(Some(args.collect()))
        .build();
    let step = aws_sdk_emr::types::StepConfig::builder()
        .name(step["Name"].as_str()?)
        .action_on_failure(aws_sdk_emr::types::ActionOnFailure::Continue)
        .hadoop_jar_step(jar)
        .build();
    Some(step)
}

/// A group a stopped run left scaled out, returned to its baseline by `return_group`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupReturned {
    /// The group as the spec names it: `core` or the task group's name.
    pub group: String,
    pub baseline: i64,
    /// Whether it was above its baseline (and so resized); its size record is removed either way.
    pub resized: bool,
}

/// Returns the group of a job whose run was stopped — by `pipectl run --stop`, by the job's
/// removal, or before either — to its baseline (after adding the step that kills its YARN
/// applications) and removes the job's size record, when the cluster still carries that record:
/// a stopped run never reaches its own resize-back. A cluster that is not RUNNING or WAITING
/// cannot be resized (EMR: "An instance group may only be modified when the cluster is running
/// or waiting") and is left as it is; a record of someone else's (`pipectl scale`) is not the
/// job's and is left too. `None` when nothing was returned.
async fn return_group(
    clients: &Clients,
    progress: &Progress,
    id: &ResourceId,
    definition: &Value,
) -> Result<Option<GroupReturned>, AwsError> {
    let Some((cluster_id, group, baseline, key, value)) = recorded_scale(definition) else { return Ok(None) };
    let running = match super::cluster::inspect(clients, id, &cluster_id).await {
        Ok(running) => running,
        // A cluster that is gone has no group to return.
        Err(error) if error.is_not_found() || error.has_code("InvalidRequestException") => return Ok(None),
        Err(error) => return Err(error),
    };
    if running.tags.get(&key) != Some(&value) || !running.state.accepts_resize() {
        return Ok(None);
    }
    let group = Group::parse(&group);
    let above = running.group(&group).filter(|live| live.requested != baseline).map(|live| live.id.clone());
    if let Some(live_id) = &above {
        // The stopped run's Spark applications would go on under the shrinking group: the step
        // its failure path runs (`guard`) is added now, not waited for.
        if let Some(kill) = kill_step(definition) {
            let added = clients.emr.add_job_flow_steps().job_flow_id(&cluster_id).steps(kill).send().await;
            if let Err(error) = added {
                let error = aws_error(id, "AddJobFlowSteps", error);
                progress.warn(&format!(
                    "{id}: the step that kills the stopped run's YARN applications was not added: {error}"
                ));
            }
        }
        progress.line(&format!(
            "{id}: returning {} to {baseline} nodes (a run was stopped before it could)",
            group.label()
        ));
        super::cluster::resize_group(clients, id, &cluster_id, live_id, baseline).await?;
    }
    super::cluster::forget_scale(clients, id, &cluster_id, &group).await?;
    Ok(Some(GroupReturned { group: group.name().to_string(), baseline, resized: above.is_some() }))
}

/// Stops the state machine's running executions (all pages), with `cause` in their history, so
/// that its deletion does not wait for them or a person's stop is done; the ARNs of those it
/// stopped.
async fn stop_running(
    sfn: &aws_sdk_sfn::Client,
    id: &ResourceId,
    arn: &str,
    cause: &str,
) -> Result<Vec<String>, AwsError> {
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
            Err(error) => return aws_error(id, "ListExecutions", error).unless_not_found(Vec::new()),
        };
        running.extend(page.executions().iter().map(|execution| execution.execution_arn().to_string()));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let mut stopped = Vec::new();
    for execution in running {
        match sfn.stop_execution().execution_arn(&execution).cause(cause).send().await {
            Ok(_) => stopped.push(execution),
            // One that ended meanwhile needs no stopping.
            Err(error) => aws_error(id, "StopExecution", error).unless_not_found(())?,
        }
    }
    Ok(stopped)
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
mod tests;

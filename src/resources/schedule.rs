//! EventBridge Scheduler schedules that resize a cluster's instance group: their universal
//! target calls EMR ModifyInstanceGroups directly, so the night batch needs no cron host and no
//! Lambda. Schedules carry no tags, so a pipeline's schedules are named `pipectl-<pipeline>-…`
//! and marked in their description.

use aws_sdk_scheduler::types::{
    ActionAfterCompletion, FlexibleTimeWindow, FlexibleTimeWindowMode, ScheduleState, Target,
};
use serde_json::{json, Value};

use super::{aws_error, build_error, AwsError, Context, LiveDetail, LiveResource, NamedRead, Names, Tags};
use crate::model::{schedule_prefix, DesiredResource, Kind, ResourceId, ScheduleConfig, PIPELINE_TAG, RESOURCE_TAG};
use crate::plan::Attributes;

/// The universal target that calls EMR ModifyInstanceGroups.
pub const MODIFY_INSTANCE_GROUPS: &str = "arn:aws:scheduler:::aws-sdk:emr:modifyInstanceGroups";

#[derive(Debug, Clone)]
pub struct Live {
    pub expression: String,
    pub timezone: String,
    pub role_arn: String,
    /// The ModifyInstanceGroups request the schedule sends.
    pub input: Value,
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

pub fn desired_attributes(config: &ScheduleConfig) -> Attributes {
    Attributes::from([
        ("expression".to_string(), json!(config.expression)),
        ("timezone".to_string(), json!(config.timezone)),
        (
            "target".to_string(),
            json!(format!("cluster {} group {} to {} nodes", config.cluster, config.group, config.nodes)),
        ),
    ])
}

pub fn live_attributes(live: &Live, names: &Names) -> (Attributes, Vec<ResourceId>) {
    let cluster_id = live.input["ClusterId"].as_str().unwrap_or_default();
    let group_id = live.input["InstanceGroups"][0]["InstanceGroupId"].as_str().unwrap_or_default();
    let nodes = live.input["InstanceGroups"][0]["InstanceCount"].as_i64().unwrap_or(-1);
    let target = format!("cluster {} group {} to {nodes} nodes", names.name(cluster_id), names.label(group_id));
    let role = live.role_arn.rsplit('/').next().unwrap_or_default();
    let depends_on = [cluster_id, role].into_iter().filter_map(|physical| names.id(physical).cloned()).collect();
    let attributes = Attributes::from([
        ("expression".to_string(), json!(live.expression)),
        ("timezone".to_string(), json!(live.timezone)),
        ("target".to_string(), json!(target)),
    ]);
    (attributes, depends_on)
}

/// Reads the pipeline's schedules (by name prefix and description marker).
pub async fn read(scheduler: &aws_sdk_scheduler::Client, pipeline: &str) -> Result<NamedRead, AwsError> {
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
        // One-time scale-back schedules of `pipectl scale` are not part of the spec.
        let Some(id) =
            tags.get(RESOURCE_TAG).and_then(|value| ResourceId::parse(value)).filter(|id| id.kind == Kind::Schedule)
        else {
            continue;
        };
        if tags.get(PIPELINE_TAG).map(String::as_str) != Some(pipeline) {
            continue;
        }
        let target = schedule.target();
        let live = Live {
            expression: schedule.schedule_expression().unwrap_or_default().to_string(),
            timezone: schedule.schedule_expression_timezone().unwrap_or("UTC").to_string(),
            role_arn: target.map(|t| t.role_arn().to_string()).unwrap_or_default(),
            input: target
                .and_then(|t| t.input())
                .and_then(|input| serde_json::from_str(input).ok())
                .unwrap_or(Value::Null),
        };
        result.found.push(LiveResource::new(id, name, tags, LiveDetail::Schedule(live)));
    }
    Ok(result)
}

/// The instance group id of `group` (`core` or a task group name) in a cluster.
pub async fn group_id(ctx: &Context, id: &ResourceId, cluster_id: &str, group: &str) -> Result<String, AwsError> {
    let output = ctx
        .clients
        .emr
        .list_instance_groups()
        .cluster_id(cluster_id)
        .send()
        .await
        .map_err(|e| aws_error(id, "ListInstanceGroups", e))?;
    output
        .instance_groups()
        .iter()
        .find(|g| super::cluster::is_group(g, group))
        .and_then(|g| g.id())
        .map(str::to_string)
        .ok_or_else(|| AwsError::new(id, "ListInstanceGroups", format!("cluster {cluster_id} has no group `{group}`")))
}

/// Creates or replaces the schedule so that it matches the spec.
async fn put(
    ctx: &Context,
    resource: &DesiredResource,
    config: &ScheduleConfig,
    create: bool,
) -> Result<String, AwsError> {
    let id = &resource.id;
    let cluster_id = ctx.physical_id(&ResourceId::new(Kind::Cluster, &config.cluster))?;
    let group_id = group_id(ctx, id, &cluster_id, &config.group).await?;
    let scheduler_role = ctx.physical_id(&ResourceId::new(Kind::Role, format!("{}-scheduler", config.cluster)))?;
    let role_arn = ctx.arns.role(&crate::policy::role_path(&ctx.pipeline), &scheduler_role);
    let target = Target::builder()
        .arn(MODIFY_INSTANCE_GROUPS)
        .role_arn(role_arn)
        .input(resize_input(&cluster_id, &group_id, config.nodes).to_string())
        .build()
        .map_err(|e| build_error(id, "CreateSchedule", e))?;
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| build_error(id, "CreateSchedule", e))?;
    let description = marker(&ctx.pipeline, &id.to_string());
    let scheduler = &ctx.clients.scheduler;
    if create {
        let result = scheduler
            .create_schedule()
            .name(&config.schedule_name)
            .schedule_expression(&config.expression)
            .schedule_expression_timezone(&config.timezone)
            .description(&description)
            .state(ScheduleState::Enabled)
            .flexible_time_window(window.clone())
            .target(target.clone())
            .send()
            .await
            .map_err(|error| aws_error(id, "CreateSchedule", error));
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
                let owner = parse_marker(existing.description().unwrap_or_default());
                if owner.get(RESOURCE_TAG).map(String::as_str) != Some(id.to_string().as_str())
                    || owner.get(PIPELINE_TAG) != Some(&ctx.pipeline)
                {
                    return Err(AwsError::new(
                        id,
                        "CreateSchedule",
                        format!("a schedule named {} already exists and is not this pipeline's; pipectl leaves it alone: rename or remove it", config.schedule_name),
                    ));
                }
            }
            other => {
                other?;
                return Ok(config.schedule_name.clone());
            }
        }
    }
    scheduler
        .update_schedule()
        .name(&config.schedule_name)
        .schedule_expression(&config.expression)
        .schedule_expression_timezone(&config.timezone)
        .description(description)
        .state(ScheduleState::Enabled)
        .flexible_time_window(window)
        .target(target)
        .send()
        .await
        .map_err(|error| aws_error(id, "UpdateSchedule", error))?;
    Ok(config.schedule_name.clone())
}

pub async fn create(ctx: &Context, resource: &DesiredResource, config: &ScheduleConfig) -> Result<String, AwsError> {
    put(ctx, resource, config, true).await
}

pub async fn update(ctx: &Context, resource: &DesiredResource, config: &ScheduleConfig) -> Result<(), AwsError> {
    put(ctx, resource, config, false).await.map(drop)
}

pub async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    ctx.clients
        .scheduler
        .delete_schedule()
        .name(&live.physical_id)
        .send()
        .await
        .map_err(|error| aws_error(&live.id, "DeleteSchedule", error))?;
    Ok(())
}

/// A one-time schedule that returns a group to its baseline at `at` (UTC, `yyyy-mm-ddThh:mm:ss`),
/// then deletes itself. Used by `pipectl scale --for/--until`.
pub async fn create_scale_back(
    scheduler: &aws_sdk_scheduler::Client,
    name: &str,
    description: &str,
    at: &str,
    input: &Value,
    role_arn: &str,
) -> Result<(), AwsError> {
    let target = Target::builder()
        .arn(MODIFY_INSTANCE_GROUPS)
        .role_arn(role_arn)
        .input(input.to_string())
        .build()
        .map_err(|e| build_error(name, "CreateSchedule", e))?;
    let window = FlexibleTimeWindow::builder()
        .mode(FlexibleTimeWindowMode::Off)
        .build()
        .map_err(|e| build_error(name, "CreateSchedule", e))?;
    // A later `scale --for` replaces the pending scale-back of the same group.
    delete_scale_back(scheduler, name).await?;
    scheduler
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

/// Removes a pending scale-back schedule; one that is not there is already removed.
pub async fn delete_scale_back(scheduler: &aws_sdk_scheduler::Client, name: &str) -> Result<(), AwsError> {
    match scheduler.delete_schedule().name(name).send().await.map_err(|error| aws_error(name, "DeleteSchedule", error))
    {
        Err(error) if !error.is_not_found() => Err(error),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_carry_ownership() {
        let tags = parse_marker(&marker("clickstream", "schedule/spark-night-up"));
        assert_eq!(tags.get(PIPELINE_TAG).map(String::as_str), Some("clickstream"));
        assert_eq!(tags.get(RESOURCE_TAG).map(String::as_str), Some("schedule/spark-night-up"));
    }

    #[test]
    fn resize_input_is_what_emr_expects() {
        let expected: Value = serde_json::from_str(
            r#"{"ClusterId":"j-1","InstanceGroups":[{"InstanceGroupId":"ig-2","InstanceCount":20}]}"#,
        )
        .unwrap();
        assert_eq!(resize_input("j-1", "ig-2", 20), expected);
    }
}

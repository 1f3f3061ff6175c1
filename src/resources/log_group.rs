//! CloudWatch Logs log groups pipectl derives, named `/pipectl/<pipeline>/<what>` (today the
//! ingest API's access logs, `ingest.access_logs`): created with the pipeline's tags and a
//! retention, found by that prefix, and deleted only while tagged as the pipeline's. Deleting
//! one deletes its logs, and lowering its retention deletes the older ones: both are marked
//! as data loss and need `--allow-destroy`.

use aws_sdk_cloudwatchlogs::types::LogGroup as AwsLogGroup;
use serde_json::json;

use super::kit::named::SharedReads;
use super::kit::{
    aws_error, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, Output, Ownership, ReadContext,
    ResourceKind, Scope, Tags,
};
use crate::iam::Arns;
use crate::model::{
    Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};

pub struct LogGroup;
pub const KIND: Kind = Kind::of(&LogGroup);

/// The log group `name` (its full CloudWatch name).
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// Where the pipeline's log groups are: `/pipectl/<pipeline>/`.
pub fn prefix(pipeline: &str) -> String {
    format!("/pipectl/{pipeline}/")
}

/// The log group's ARN as tagging and API Gateway name it (without the trailing `:*`).
pub fn arn(arns: &Arns, name: &str) -> String {
    format!("arn:{}:logs:{}:{}:log-group:{name}", arns.partition, arns.region, arns.account_id)
}

/// What a kind asks of its log group.
#[derive(Debug, Clone)]
pub struct LogGroupConfig {
    pub retention_days: i32,
}

impl DesiredConfig for LogGroupConfig {
    fn attributes(&self) -> Attributes {
        Attributes::from([("retention_days".to_string(), json!(self.retention_days))])
    }
}

/// The node of the log group `name` that `owner` (the resource writing to it) derives.
pub fn node(graph: &GraphContext, name: &str, retention_days: i32, tags: &Tags) -> DesiredResource {
    graph.node(id(name), tags, Vec::new(), LogGroupConfig { retention_days })
}

#[derive(Debug, Clone)]
pub struct Live {
    /// None: kept forever.
    pub retention_days: Option<i32>,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, _names: &Names) -> (Attributes, Vec<ResourceId>) {
        (Attributes::from([("retention_days".to_string(), json!(self.retention_days))]), Vec::new())
    }

    fn holds_data(&self) -> Option<String> {
        Some("the logs in it are deleted with it".to_string())
    }
}

impl KindRules for LogGroup {
    fn name(&self) -> &'static str {
        "log_group"
    }
    fn rank(&self) -> u8 {
        72
    }
    fn update_loses_data(&self, before: &Attributes, after: &Attributes) -> Option<String> {
        let days = |attributes: &Attributes| attributes.get("retention_days").and_then(|value| value.as_i64());
        let to = days(after)?;
        let shorter = days(before).is_none_or(|from| to < from);
        shorter.then(|| format!("a retention of {to} days deletes the logs older than that"))
    }
}

impl ResourceKind for LogGroup {
    type Desired = LogGroupConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    /// The kinds that write logs derive their groups (`node`); none of its own.
    fn desired(&self, _graph: &GraphContext) -> Vec<DesiredResource> {
        Vec::new()
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        let logs = &read.clients.logs;
        let prefix = &prefix(read.pipeline);
        // One listing of the prefix says which groups exist (ListTagsForResource answers an
        // empty set for a group that does not, on LocalStack) and what they retain.
        let listed = SharedReads::default();
        let listed = &listed;
        let groups = || async move { listed.get("", || describe_groups(logs, prefix)).await };
        let arns = Arns::new(read.account_id().await?, &read.clients.region);
        let arns = &arns;
        read.named(KIND, " (aws logs tag-resource)")
            .read(
                async move {
                    Ok(groups()
                        .await?
                        .into_iter()
                        .filter_map(|group| group.log_group_name().map(str::to_string))
                        .collect())
                },
                |name| async move {
                    let exists = groups().await?.iter().any(|group| group.log_group_name() == Some(name.as_str()));
                    if !exists {
                        return Ok(Ownership::Absent);
                    }
                    ownership(logs, arns, &name).await
                },
                |name, _| async move {
                    let found = groups().await?;
                    let group = found.iter().find(|group| group.log_group_name() == Some(name.as_str()));
                    Ok(group.map(|group| Live { retention_days: group.retention_in_days() }))
                },
            )
            .await
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &LogGroupConfig,
    ) -> Result<String, AwsError> {
        let (logs, name) = (&ctx.clients.logs, &resource.id.name);
        let create =
            logs.create_log_group().log_group_name(name).set_tags(Some(resource.tags.clone().into_iter().collect()));
        create.send().await.map_err(|error| aws_error(&resource.id, "CreateLogGroup", error))?;
        retain(ctx, &resource.id, desired.retention_days).await?;
        Ok(name.clone())
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &LogGroupConfig,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        if detail.retention_days != Some(desired.retention_days) {
            retain(ctx, &resource.id, desired.retention_days).await?;
        }
        let logs = &ctx.clients.logs;
        let (id, arn) = (&resource.id, arn(&ctx.arns, &resource.id.name));
        let arn = &arn;
        let untag = |stale: Vec<String>| async move {
            let request = logs.untag_resource().resource_arn(arn).set_tag_keys(Some(stale));
            request.send().await.map(drop).map_err(|error| aws_error(id, "UntagResource", error))
        };
        let tag = |changed: Tags| async move {
            let request = logs.tag_resource().resource_arn(arn).set_tags(Some(changed.into_iter().collect()));
            request.send().await.map(drop).map_err(|error| aws_error(id, "TagResource", error))
        };
        super::kit::retag::retag(&live.tags, &resource.tags, untag, tag).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        let deleted = ctx.clients.logs.delete_log_group().log_group_name(&live.physical_id).send().await;
        match deleted {
            Ok(_) => Ok(()),
            Err(error) => aws_error(&live.id, "DeleteLogGroup", error).unless_not_found(()),
        }
    }

    fn outputs(&self, live: &LiveResource, _detail: &Live, arns: &Arns) -> Vec<Output> {
        vec![Output::new("name", &live.physical_id), Output::new("arn", arn(arns, &live.physical_id))]
    }

    /// DescribeLogGroups is authorised on the account's log groups (`log-group:*`); the rest on
    /// the pipeline's prefix only, changes and deletes where the group carries its tag.
    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let pipeline = &ctx.spec.pipeline;
        let ours = vec![arn(&ctx.arns, &format!("{}*", prefix(pipeline)))];
        let change = ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:TagResource", "logs:UntagResource"];
        vec![
            Grant::unscoped_reads(&["logs:DescribeLogGroups"]),
            Grant::new("ReadLogGroups", Scope::Plan, &["logs:ListTagsForResource"], ours.clone()),
            Grant::new("ChangeLogGroups", Scope::Apply, &change, ours.clone()),
            Grant::new("DeleteOwnLogGroups", Scope::Destroy, &["logs:DeleteLogGroup"], ours).when(ctx.tagged()),
        ]
    }
}

async fn retain(ctx: &Context, id: &ResourceId, days: i32) -> Result<(), AwsError> {
    let request = ctx.clients.logs.put_retention_policy().log_group_name(&id.name).retention_in_days(days);
    request.send().await.map(drop).map_err(|error| aws_error(id, "PutRetentionPolicy", error))
}

/// Every log group under `prefix` (DescribeLogGroups, 50 a page).
async fn describe_groups(logs: &aws_sdk_cloudwatchlogs::Client, prefix: &str) -> Result<Vec<AwsLogGroup>, AwsError> {
    super::kit::all_pages(|token| async move {
        let page = logs.describe_log_groups().log_group_name_prefix(prefix).set_next_token(token).send().await;
        let page = page.map_err(|error| aws_error("log_group", "DescribeLogGroups", error))?;
        Ok((page.log_groups().to_vec(), page.next_token().map(str::to_string)))
    })
    .await
}

/// Whose the group `name` is: its tags (ListTagsForResource), or absent.
async fn ownership(logs: &aws_sdk_cloudwatchlogs::Client, arns: &Arns, name: &str) -> Result<Ownership, AwsError> {
    match logs.list_tags_for_resource().resource_arn(arn(arns, name)).send().await {
        Ok(output) => Ok(Ownership::Tagged(super::kit::tags_of_map(output.tags()))),
        Err(error) => aws_error(id(name), "ListTagsForResource", error).unless_not_found(Ownership::Absent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shorter_or_first_retention_deletes_logs_and_a_longer_one_does_not() {
        let days = |days: Option<i64>| Attributes::from([("retention_days".to_string(), json!(days))]);
        let loses = |from, to| LogGroup.update_loses_data(&days(from), &days(to));
        assert_eq!(
            loses(Some(30), Some(14)),
            Some("a retention of 14 days deletes the logs older than that".to_string())
        );
        assert!(loses(None, Some(3653)).is_some(), "kept forever until now");
        assert_eq!(loses(Some(14), Some(30)), None);
        assert_eq!(
            arn(&Arns::new("123456789012", "eu-west-1"), "/pipectl/p/x"),
            "arn:aws:logs:eu-west-1:123456789012:log-group:/pipectl/p/x"
        );
    }
}

//! `ingest.api_keys`: the API key pipectl makes for the ingest API and the usage plan that ties
//! it to the stage, with the stage's throttle per key and an optional quota. Both are named
//! after the API (`<pipeline>-ingest`) and carry the pipeline's tags; they belong to the API
//! (read, changed and deleted with it), as named queries belong to a workgroup.
//!
//! A usage plan with API stages cannot be deleted ("Cannot delete Usage Plan … because there
//! are API Stages associated with it"; neither emulator checks), so removal goes keys, stages,
//! plan, key. Keys someone else attached to the plan are detached, never deleted.

use aws_sdk_apigateway::types::{
    ApiStage, Op, PatchOperation, QuotaPeriodType, QuotaSettings, ThrottleSettings, UsagePlan,
};
use aws_sdk_apigateway::Client;

use super::build::{Api, CONTROL_PLANE};
use crate::aws::{aws_error, AwsError};
use crate::model::{ResourceId, Tags};
use crate::spec::{Quota, Throttle};

/// What the spec asks: the plan's (and key's) name, the per-key throttle, the quota.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub name: String,
    pub throttle: Throttle,
    pub quota: Option<Quota>,
}

impl Usage {
    /// `10 per second, burst 20, quota 1000 per DAY`: how plans show it.
    pub fn words(&self) -> String {
        let quota = self.quota.map(|quota| (quota.limit, quota.period.as_aws().to_string()));
        words(Some(self.throttle.rate), Some(self.throttle.burst), quota.as_ref())
    }
}

fn words(rate: Option<f64>, burst: Option<i32>, quota: Option<&(i32, String)>) -> String {
    let throttle = match (rate, burst) {
        (Some(rate), Some(burst)) => format!("{rate} per second, burst {burst}"),
        _ => "no throttle".to_string(),
    };
    match quota {
        Some((limit, period)) => format!("{throttle}, quota {limit} per {period}"),
        None => format!("{throttle}, no quota"),
    }
}

/// The usage plan as a read found it.
#[derive(Debug, Clone)]
pub struct LiveUsage {
    pub plan_id: String,
    /// The keys attached to it: (id, name).
    pub keys: Vec<(String, String)>,
    /// `apiId:stage` of each API stage it covers.
    pub stages: Vec<String>,
    pub rate: Option<f64>,
    pub burst: Option<i32>,
    pub quota: Option<(i32, String)>,
}

impl LiveUsage {
    pub fn words(&self) -> String {
        words(self.rate, self.burst, self.quota.as_ref())
    }

    /// The id of the key pipectl made (named like the plan).
    pub fn own_key(&self, name: &str) -> Option<&str> {
        self.keys.iter().find(|(_, key)| key == name).map(|(id, _)| id.as_str())
    }
}

/// The plan named `name` with the pipeline's tag, and its keys.
pub async fn read(client: &Client, id: &ResourceId, name: &str, pipeline: &str) -> Result<Option<LiveUsage>, AwsError> {
    let plans = super::super::kit::all_pages(|position| async move {
        let page = client.get_usage_plans().limit(500).set_position(position).send().await;
        let page = page.map_err(|error| aws_error(id, "GetUsagePlans", error))?;
        Ok((page.items().to_vec(), page.position().map(str::to_string)))
    })
    .await?;
    let plan = plans.into_iter().find(|plan| plan.name() == Some(name) && tagged(plan, pipeline));
    let Some(plan) = plan else { return Ok(None) };
    let plan_id = plan.id().unwrap_or_default().to_string();
    let keys = client.get_usage_plan_keys().usage_plan_id(&plan_id).limit(500).send().await;
    let keys = keys.map_err(|error| aws_error(id, "GetUsagePlanKeys", error))?;
    let keys = keys.items().iter().filter_map(|key| Some((key.id()?.to_string(), key.name()?.to_string()))).collect();
    Ok(Some(LiveUsage {
        plan_id,
        keys,
        stages: plan
            .api_stages()
            .iter()
            .map(|stage| format!("{}:{}", stage.api_id().unwrap_or_default(), stage.stage().unwrap_or_default()))
            .collect(),
        rate: plan.throttle().map(ThrottleSettings::rate_limit),
        burst: plan.throttle().map(ThrottleSettings::burst_limit),
        quota: plan
            .quota()
            .map(|quota| (quota.limit(), quota.period().map(|p| p.as_str().to_string()).unwrap_or_default())),
    }))
}

fn tagged(plan: &UsagePlan, pipeline: &str) -> bool {
    super::super::kit::owned_by(&super::super::kit::tags_of_map(plan.tags()), pipeline)
}

fn throttle(usage: &Usage) -> ThrottleSettings {
    ThrottleSettings::builder().rate_limit(usage.throttle.rate).burst_limit(usage.throttle.burst).build()
}

fn quota(quota: Quota) -> QuotaSettings {
    QuotaSettings::builder().limit(quota.limit).period(QuotaPeriodType::from(quota.period.as_aws())).build()
}

/// Makes the key and the plan on `stage` of the API, and attaches the key.
pub async fn create(api: &Api<'_>, stage: &str, usage: &Usage, tags: &Tags) -> Result<(), AwsError> {
    let (client, id) = (api.client, api.id);
    api.limits.pace(CONTROL_PLANE).await;
    let key =
        client.create_api_key().name(&usage.name).enabled(true).set_tags(Some(tags.clone().into_iter().collect()));
    let key = key.send().await.map_err(|error| aws_error(id, "CreateApiKey", error))?;
    let key_id = key.id().ok_or_else(|| AwsError::missing(id, "CreateApiKey", "id"))?.to_string();
    api.limits.pace(CONTROL_PLANE).await;
    let stage = ApiStage::builder().api_id(api.api_id).stage(stage).build();
    let plan = client
        .create_usage_plan()
        .name(&usage.name)
        .description(format!("API key limits of {}", usage.name))
        .api_stages(stage)
        .throttle(throttle(usage))
        .set_quota(usage.quota.map(quota))
        .set_tags(Some(tags.clone().into_iter().collect()))
        .send()
        .await
        .map_err(|error| aws_error(id, "CreateUsagePlan", error))?;
    let plan_id = plan.id().ok_or_else(|| AwsError::missing(id, "CreateUsagePlan", "id"))?;
    api.limits.pace(CONTROL_PLANE).await;
    let attach = client.create_usage_plan_key().usage_plan_id(plan_id).key_id(key_id).key_type("API_KEY");
    attach.send().await.map_err(|error| aws_error(id, "CreateUsagePlanKey", error))?;
    Ok(())
}

fn patch(op: Op, path: &str, value: Option<String>) -> PatchOperation {
    PatchOperation::builder().op(op).path(path).set_value(value).build()
}

/// Brings the plan's throttle, quota and stage to `usage` on `stage` (UpdateUsagePlan, which AWS
/// allows once per 20 seconds per account: one call for all of it).
pub async fn update(api: &Api<'_>, live: &LiveUsage, stage: &str, usage: &Usage) -> Result<(), AwsError> {
    let mut operations = vec![
        patch(Op::Replace, "/throttle/rateLimit", Some(usage.throttle.rate.to_string())),
        patch(Op::Replace, "/throttle/burstLimit", Some(usage.throttle.burst.to_string())),
    ];
    match usage.quota {
        Some(quota) => {
            operations.push(patch(Op::Replace, "/quota/limit", Some(quota.limit.to_string())));
            operations.push(patch(Op::Replace, "/quota/period", Some(quota.period.as_aws().to_string())));
        }
        None if live.quota.is_some() => operations.push(patch(Op::Remove, "/quota", None)),
        None => {}
    }
    let wanted = format!("{}:{stage}", api.api_id);
    for old in live.stages.iter().filter(|old| **old != wanted) {
        operations.push(patch(Op::Remove, "/apiStages", Some(old.clone())));
    }
    if !live.stages.contains(&wanted) {
        operations.push(patch(Op::Add, "/apiStages", Some(wanted)));
    }
    api.limits.pace(CONTROL_PLANE).await;
    let request = api.client.update_usage_plan().usage_plan_id(&live.plan_id).set_patch_operations(Some(operations));
    request.send().await.map_err(|error| aws_error(api.id, "UpdateUsagePlan", error))?;
    Ok(())
}

/// Removes the plan and pipectl's key: keys detached, stages removed, plan deleted, own key
/// deleted (another's key attached to the plan is only detached).
pub async fn remove(
    client: &Client,
    limits: &crate::aws::Limiter,
    id: &ResourceId,
    live: &LiveUsage,
    name: &str,
) -> Result<(), AwsError> {
    for (key, _) in &live.keys {
        limits.pace(CONTROL_PLANE).await;
        let detach = client.delete_usage_plan_key().usage_plan_id(&live.plan_id).key_id(key);
        detach.send().await.map_err(|error| aws_error(id, "DeleteUsagePlanKey", error))?;
    }
    if !live.stages.is_empty() {
        let operations = live.stages.iter().map(|stage| patch(Op::Remove, "/apiStages", Some(stage.clone()))).collect();
        limits.pace(CONTROL_PLANE).await;
        let request = client.update_usage_plan().usage_plan_id(&live.plan_id).set_patch_operations(Some(operations));
        request.send().await.map_err(|error| aws_error(id, "UpdateUsagePlan", error))?;
    }
    limits.pace(CONTROL_PLANE).await;
    let delete = client.delete_usage_plan().usage_plan_id(&live.plan_id).send().await;
    delete.map_err(|error| aws_error(id, "DeleteUsagePlan", error))?;
    if let Some(key) = live.own_key(name) {
        limits.pace(CONTROL_PLANE).await;
        let delete = client.delete_api_key().api_key(key).send().await;
        delete.map_err(|error| aws_error(id, "DeleteApiKey", error))?;
    }
    Ok(())
}

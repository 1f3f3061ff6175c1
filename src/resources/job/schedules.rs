//! What starts a job and what guards it, as EventBridge Scheduler schedules the job derives:
//! `start` runs its state machine at its cron (a templated Step Functions target,
//! StartExecution); `guard` starts the same state machine down its guard path
//! `GUARD_DELAY_SECONDS` after the job's timeout, which returns the group to its baseline if it
//! is still above it — what a run cannot do for itself when its execution is stopped or times
//! out as a whole.

use serde_json::json;

use super::definition::RESIZE_BACK_GRACE_SECONDS;
use super::guard::guard_input;
use super::id;
use crate::model::{DesiredResource, GraphContext};
use crate::names::{job_schedule_names, scheduler_role};
use crate::resources::role;
use crate::resources::schedule::{self, window_retry, ScheduleTarget};
use crate::spec;

/// The `start` and `guard` schedules of `job` of `cluster`.
pub(super) fn nodes(graph: &GraphContext, cluster: &spec::Cluster, job: &spec::Job) -> Vec<DesiredResource> {
    let job_id = id(&cluster.name, &job.name);
    let [start, guard] = job_schedule_names(&cluster.name, &job.name);
    let (start_expression, guard_expression) = edges(job);
    // A start retried late would meet the guard early: it may be late by no more than the guard
    // leaves beyond the execution's own end (3 minutes).
    let start_retry = window_retry("up", Some(spec::GUARD_DELAY_SECONDS - RESIZE_BACK_GRACE_SECONDS));
    let role = role::id(&scheduler_role(&cluster.name));
    let starts = schedule::Derived {
        name: start,
        target: ScheduleTarget::StartJob { cluster: cluster.name.clone(), job: job_id.clone(), input: json!({}) },
        expression: start_expression,
        timezone: job.timezone.clone(),
        retry: start_retry,
        target_id: job_id.clone(),
        role: role.clone(),
        tags: cluster.tags.clone(),
    };
    // The guard runs the job's own state machine down its guard path, which resizes only a
    // running cluster whose group is still above its baseline (`guard`).
    let guards = schedule::Derived {
        name: guard,
        target: ScheduleTarget::StartJob { cluster: cluster.name.clone(), job: job_id.clone(), input: guard_input() },
        expression: guard_expression,
        timezone: job.timezone.clone(),
        retry: window_retry("down", job.guard_after_seconds()),
        target_id: job_id,
        role,
        tags: cluster.tags.clone(),
    };
    vec![schedule::node(graph, starts), schedule::node(graph, guards)]
}

/// The expressions of a job's `start` (its cron) and `guard` (`spec::Job::guard_cron`)
/// schedules. `spec::validate` rejects a job whose cron or guard does not parse; should it ever
/// miss one, the error is kept in the node (see `schedule::ScheduleConfig::expression`), not
/// dropped: the plan shows it and apply fails on that schedule.
fn edges(job: &spec::Job) -> (Result<String, String>, Result<String, String>) {
    let start = crate::calendar::parse_cron(&job.cron);
    (start.map(|cron| cron.to_eventbridge()), job.guard_cron().map(|cron| cron.to_eventbridge()))
}

//! Following a run: the one loop by which `run --wait` follows the run it starts and
//! `run --attach` the job's running run (or its newest), printing each state it enters and each
//! task failure on stderr until it ends, for at most the job's timeout and grace.

use std::time::{Duration, Instant};

use super::{arns, check_owner, JobOf, RunError, Started};
use crate::aws::{AwsError, Clients};
use crate::progress::Progress;
use crate::resources::job::definition::RESIZE_BACK_GRACE_SECONDS;
use crate::resources::job::runs::{self, ExecutionEvent, ExecutionState};
use crate::spec::Spec;

/// How many recent runs `--attach` looks through for a running one (newest first).
const ATTACH_LOOKBACK: i32 = 20;

/// The longest a run of `job` can go on for: its timeout, its resize-back's grace and a minute.
pub(super) fn follow_limit(job: JobOf<'_>) -> Duration {
    Duration::from_secs(job.job.timeout_seconds().unwrap_or(0) + RESIZE_BACK_GRACE_SECONDS + 60)
}

/// Follows `execution` until it ends (checking every `poll`), printing each state it enters on
/// `progress`, for at most `limit`; where it ended — or, past `limit`, where it is, with an error
/// saying pipectl stopped following it.
pub(super) async fn follow(
    clients: &Clients,
    what: &str,
    execution: &str,
    limit: Duration,
    poll: Duration,
    progress: &Progress,
) -> Result<ExecutionState, AwsError> {
    let deadline = Instant::now() + limit;
    let mut seen = 0;
    loop {
        seen = report_new_states(clients, what, execution, seen, progress).await?;
        let state = runs::execution_state(clients, what, execution).await?;
        if state.status != "RUNNING" {
            report_new_states(clients, what, execution, seen, progress).await?;
            return Ok(state);
        }
        if Instant::now() >= deadline {
            let error =
                format!("still running after {} s, the job's timeout and grace; stopped following it", limit.as_secs());
            return Ok(ExecutionState { error: Some(error), ..state });
        }
        tokio::time::sleep(poll).await;
    }
}

/// Prints the states the execution entered since event `seen`; returns how many events it saw.
async fn report_new_states(
    clients: &Clients,
    what: &str,
    execution: &str,
    seen: usize,
    progress: &Progress,
) -> Result<usize, AwsError> {
    let (events, count) = runs::execution_events(clients, what, execution).await?;
    for (_, event) in events.iter().filter(|(at, _)| *at >= seen) {
        match event {
            ExecutionEvent::Entered(state) => progress.line(&format!("  {state} entered")),
            ExecutionEvent::TaskFailed(why) => progress.line(&format!("  task failed: {why}")),
        }
    }
    Ok(count.max(seen))
}

/// `run JOB --attach`: follows the job's running run — or, with none running, its newest, whose
/// states and outcome are then printed at once — on a state machine tagged as the pipeline's. A
/// job with no run yet is refused. The executions a guard starts are not runs and are passed over.
pub(super) async fn attach(
    clients: &Clients,
    spec: &Spec,
    job: JobOf<'_>,
    poll: Duration,
    progress: &Progress,
) -> Result<Started, RunError> {
    let arns = arns(clients).await?;
    let machine = job.state_machine_arn(spec, &arns);
    check_owner(clients, spec, job, &machine).await?;
    let what = job.resource();
    let recent = runs::recent_executions(clients, &what, &machine, ATTACH_LOOKBACK).await?;
    let Some(run) = recent.iter().find(|run| run.status == "RUNNING").or(recent.first()) else {
        return Err(RunError::Refused(format!(
            "job {} has no run to follow yet; start one with `pipectl run {}`",
            job.label(),
            job.label()
        )));
    };
    let since = chrono::DateTime::from_timestamp(run.started, 0).map(|t| t.to_rfc3339()).unwrap_or_default();
    progress.line(&format!("Following job {}: {} ({}, started {since})", job.label(), run.arn, run.status));
    let state = follow(clients, &what, &run.arn, follow_limit(job), poll, progress).await?;
    Ok(Started {
        job: job.label(),
        execution_arn: run.arn.clone(),
        status: state.status,
        error: state.error,
        followed: true,
    })
}

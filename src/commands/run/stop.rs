//! `pipectl run JOB --stop`: stops the job's running run and ends it as its own failure path
//! would — StopExecution alone skips the definition's kill and resize-back states, so the step
//! that kills its Spark applications is added, the group returned to its baseline and the job's
//! size record removed, by the path the job's removal takes (`job::runs::stop`). It asks first
//! (unless `--auto-approve`); with nothing running it says so and exits 0, after returning a group
//! the job's record says a run left scaled out (one stopped outside pipectl).

use serde::Serialize;

use super::{arns, check_owner, JobOf, RunError};
use crate::aws::Clients;
use crate::commands::{confirm, OutputFormat};
use crate::progress::Progress;
use crate::resources::job::runs;
use crate::resources::job::GroupReturned;
use crate::resources::kit::WaitOptions;
use crate::spec::Spec;

/// What `run --stop` did.
#[derive(Debug, Clone, Serialize)]
pub struct Stopped {
    pub job: String,
    /// The executions it stopped, each with the status AWS gives it after the stop (`ABORTED`).
    pub stopped: Vec<StoppedExecution>,
    /// The group returned to its baseline, its size record removed; null when the cluster
    /// carried no size record of the job (the run had not resized it) or is not running.
    pub returned: Option<GroupReturned>,
}

/// One stopped execution.
#[derive(Debug, Clone, Serialize)]
pub struct StoppedExecution {
    pub execution_arn: String,
    pub status: String,
}

/// Stops `job`'s running run (after asking, unless `auto_approve`) on a state machine tagged as
/// the pipeline's, and returns its group once the run has left RUNNING (within `wait`, the global
/// `--timeout`).
pub(super) async fn stop(
    clients: &Clients,
    spec: &Spec,
    job: JobOf<'_>,
    auto_approve: bool,
    progress: &Progress,
    wait: WaitOptions,
) -> Result<Stopped, RunError> {
    let arns = arns(clients).await?;
    let machine = job.state_machine_arn(spec, &arns);
    check_owner(clients, spec, job, &machine).await?;
    let what = job.resource();
    if !auto_approve {
        if let Some(execution) = runs::running_execution(clients, &what, &machine).await? {
            eprintln!(
                "This stops job {}'s run {execution}, kills its Spark applications and returns group {} to its baseline.",
                job.label(),
                job.job.group
            );
            confirm().map_err(RunError::NotConfirmed)?;
        }
    }
    let done = runs::stop(clients, progress, wait, &job.id(), &machine).await?;
    let stopped =
        done.executions.into_iter().map(|(execution_arn, status)| StoppedExecution { execution_arn, status }).collect();
    Ok(Stopped { job: job.label(), stopped, returned: done.returned })
}

/// Says what `stop` did, on stdout.
pub(super) fn print(stopped: &Stopped, output: OutputFormat) {
    if output == OutputFormat::Json {
        outln!("{}", serde_json::to_string(stopped).unwrap_or_default());
        return;
    }
    if stopped.stopped.is_empty() {
        outln!("No run of job {} is running; nothing was stopped.", stopped.job);
    }
    for execution in &stopped.stopped {
        outln!("Stopped job {}: {} is {}.", stopped.job, execution.execution_arn, execution.status);
    }
    match &stopped.returned {
        Some(returned) if returned.resized => outln!(
            "Group {} is back at its baseline of {} nodes, and the job's size record is removed.",
            returned.group,
            returned.baseline
        ),
        Some(returned) => outln!(
            "Group {} was at its baseline of {} nodes; the job's size record is removed.",
            returned.group,
            returned.baseline
        ),
        None if stopped.stopped.is_empty() => {}
        None => outln!(
            "The cluster carries no size record of the job (the run had not resized the group, or the cluster is not running), so the group is left as it is."
        ),
    }
}

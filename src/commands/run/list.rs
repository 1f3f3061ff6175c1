//! `pipectl runs [JOB]`: the recent runs of the spec's jobs (or one), newest first, with their
//! duration, node-hours and outcome. The executions a guard starts are not runs and are left out
//! (`job::runs::recent_executions`).

use clap::Args;
use serde::Serialize;

use super::{arns, find_job, jobs, report, JobOf, RunError};
use crate::aws::calls::CallCounter;
use crate::aws::AwsError;
use crate::aws::Clients;
use crate::commands::session::Session;
use crate::commands::{CommandError, GlobalArgs, OutputFormat, Status};
use crate::resources::job::runs;
use crate::spec::Spec;

/// The arguments of `pipectl runs` (its help line is `cli::Command`'s).
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only this job (`cluster/job` or `job`).
    pub job: Option<String>,
    /// The most runs to list per job.
    #[arg(long, default_value_t = 20)]
    pub limit: i32,
    /// How to print the runs: for people, or JSON for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

/// `pipectl runs [JOB]`.
pub async fn exec_runs(global: &GlobalArgs, args: &RunsArgs, counter: &CallCounter) -> Result<Status, CommandError> {
    let session = Session::open(global, counter).await?;
    let spec = &session.loaded.spec;
    let job = args
        .job
        .as_deref()
        .map(|name| find_job(spec, name))
        .transpose()
        .map_err(|error| CommandError::Refused(error.to_string()))?;
    let runs = runs(&session.clients, spec, job, args.limit).await.map_err(|error| report(&session, error))?;
    match args.output {
        OutputFormat::Json => outln!("{}", serde_json::to_string(&runs).unwrap_or_default()),
        OutputFormat::Human if runs.is_empty() => outln!("No runs yet."),
        OutputFormat::Human => {
            outln!(
                "{:<24} {:<10} {:<26} {:>9} {:>10}  EXECUTION",
                "JOB",
                "OUTCOME",
                "STARTED",
                "DURATION",
                "NODE-HOURS"
            );
            for run in &runs {
                let duration = run.seconds.map(|s| format!("{}m{:02}s", s / 60, s % 60)).unwrap_or_default();
                let node_hours = run.node_hours.map(|h| format!("{h:.1}")).unwrap_or_default();
                outln!(
                    "{:<24} {:<10} {:<26} {:>9} {:>10}  {}",
                    run.job,
                    run.status,
                    run.started,
                    duration,
                    node_hours,
                    run.execution
                );
            }
        }
    }
    Ok(Status::Success)
}

/// One past run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub job: String,
    pub execution: String,
    pub status: String,
    /// RFC 3339, UTC.
    pub started: String,
    pub seconds: Option<i64>,
    /// The resized group's node-hours while the run lasted (its size in the job × the run's
    /// duration; the group grows to it and shrinks back within that time).
    pub node_hours: Option<f64>,
}

/// The most recent runs of `only` (or of every job), newest first, at most `limit` per job.
pub async fn runs(clients: &Clients, spec: &Spec, only: Option<JobOf<'_>>, limit: i32) -> Result<Vec<Run>, RunError> {
    let arns = arns(clients).await?;
    let selected = match only {
        Some(job) => vec![job],
        None => jobs(spec),
    };
    let lists =
        futures::future::try_join_all(selected.iter().map(|job| {
            let machine = job.state_machine_arn(spec, &arns);
            async move {
                Ok::<_, AwsError>((*job, runs::recent_executions(clients, &job.resource(), &machine, limit).await?))
            }
        }))
        .await?;
    let now = chrono::Utc::now().timestamp();
    let mut found = Vec::new();
    for (job, executions) in lists {
        for execution in executions {
            let seconds = execution.stopped.unwrap_or(now) - execution.started;
            found.push(Run {
                job: job.label(),
                execution: execution.name,
                status: execution.status,
                started: chrono::DateTime::from_timestamp(execution.started, 0)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
                seconds: Some(seconds),
                node_hours: Some(job.job.nodes as f64 * seconds as f64 / 3600.0),
            });
        }
    }
    found.sort_by(|a, b| b.started.cmp(&a.started));
    Ok(found)
}

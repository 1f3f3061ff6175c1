//! `pipectl run JOB [--wait | --attach | --stop]` and `pipectl runs [JOB]`: start a cluster's
//! job now — the same state machine its `start` schedule runs — follow a run (`follow`), stop
//! one through the job's own scale-back path (`stop`), and list recent runs with their duration,
//! node-hours and outcome (`list`). Jobs are found by their derived state machine name and
//! touched only when tagged as this pipeline's.
//!
//! A run by hand gets its own guard, as a scheduled run has its `guard` schedule: a one-time
//! EventBridge schedule returns the group to its baseline `GUARD_DELAY_SECONDS` after the job's
//! timeout, even if the execution is stopped. So that neither guard cuts the other run short, a
//! run whose time (now to that guard) overlaps a window of a job or schedule on the same group
//! is refused before any AWS call.

use std::time::Duration;

use clap::Args;

use serde::Serialize;

use super::session::Session;
use super::{CommandError, GlobalArgs, OutputFormat, Status};
use crate::aws::calls::CallCounter;
use crate::aws::{AwsError, Clients};
use crate::calendar::parse_duration;
use crate::iam::Arns;
use crate::model::ResourceId;
use crate::names::{job_run_guard_name, job_state_machine_name, schedule_name, PIPELINE_TAG, RUN_GUARD_MARKER};
use crate::progress::Progress;
use crate::resources::cluster::{self, Found, Group};
use crate::resources::job::guard_input;
use crate::resources::job::runs::{self, ExecutionState};
use crate::resources::kit::account_id;
use crate::resources::schedule::{create_one_time, OneTimeAction, OneTimeSchedule};
use crate::spec::{Cluster, Job, Spec, GUARD_DELAY_SECONDS};

mod follow;
mod list;
mod stop;

pub use list::{exec_runs, runs, Run, RunsArgs};
pub use stop::{Stopped, StoppedExecution};

/// The arguments of `pipectl run` (its help line is `cli::Command`'s).
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job: `cluster/job`, or `job` when only one cluster has a job of that name.
    pub job: String,
    /// Follow the run until it ends; the exit code is 0 only if it succeeded.
    #[arg(long)]
    pub wait: bool,
    /// Start nothing: follow the job's running run (or its newest) until it ends; the exit code
    /// is 0 only if it succeeded.
    #[arg(long, conflicts_with_all = ["wait", "stop"])]
    pub attach: bool,
    /// Start nothing: stop the job's running run, kill its Spark applications and return its
    /// group to its baseline (the job's own scale-back); exit 0 when nothing runs.
    #[arg(long, conflicts_with = "wait")]
    pub stop: bool,
    /// With --stop: do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long, requires = "stop")]
    pub auto_approve: bool,
    /// How often --wait and --attach check the run.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", default_value = "10s")]
    pub poll: Duration,
    /// How to print the run: for people, or JSON for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

/// A failure of `run` or `runs` as the command reports it.
fn report(session: &Session, error: RunError) -> CommandError {
    match error {
        RunError::Aws(error) => session.explain(error),
        RunError::NotConfirmed(error) => error,
        other => CommandError::Refused(other.to_string()),
    }
}

/// `pipectl run JOB [--wait | --attach | --stop]`.
pub async fn exec_run(global: &GlobalArgs, args: &RunArgs, counter: &CallCounter) -> Result<Status, CommandError> {
    let session = Session::open(global, counter).await?;
    let spec = &session.loaded.spec;
    let (clients, progress) = (&session.clients, &session.progress);
    let job = find_job(spec, &args.job).map_err(|error| CommandError::Refused(error.to_string()))?;
    if args.stop {
        let stopped = stop::stop(clients, spec, job, args.auto_approve, progress, session.wait).await;
        stop::print(&stopped.map_err(|error| report(&session, error))?, args.output);
        return Ok(Status::Success);
    }
    let started = if args.attach {
        follow::attach(clients, spec, job, args.poll, progress).await
    } else {
        start(clients, spec, job, args.wait.then_some(args.poll), progress).await
    };
    let started = started.map_err(|error| report(&session, error))?;
    match args.output {
        OutputFormat::Json => outln!("{}", serde_json::to_string(&started).unwrap_or_default()),
        OutputFormat::Human if !started.followed => outln!(
            "Job {} is running: {}\nFollow it with `pipectl run {} --attach`, or stop it with `pipectl run {} --stop`.",
            started.job,
            started.execution_arn,
            started.job,
            started.job
        ),
        OutputFormat::Human => outln!("Job {} {}.", started.job, started.status),
    }
    if started.succeeded() {
        return Ok(Status::Success);
    }
    let why = started.error.as_deref().unwrap_or("no error given");
    Err(CommandError::Refused(format!("job {} ended {}: {why}", started.job, started.status)))
}

/// Why a run could not be started or followed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Aws(#[from] AwsError),
    /// The spec has no such job, or the name is ambiguous.
    #[error("{0}")]
    UnknownJob(String),
    /// The state machine or the cluster is missing or not this pipeline's, or the run would
    /// collide with a scheduled window.
    #[error("{0}")]
    Refused(String),
    /// `--stop` was not confirmed (or could not be asked).
    #[error(transparent)]
    NotConfirmed(CommandError),
}

/// A job of the spec with its cluster.
#[derive(Debug, Clone, Copy)]
pub struct JobOf<'a> {
    pub cluster: &'a Cluster,
    pub job: &'a Job,
}

impl JobOf<'_> {
    /// `cluster/job`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.cluster.name, self.job.name)
    }

    /// The job's resource as plans name it: `job/<cluster>-<job>`.
    fn id(&self) -> ResourceId {
        crate::resources::job::id(&self.cluster.name, &self.job.name)
    }

    /// The job's resource as plans name it, for errors.
    fn resource(&self) -> String {
        self.id().to_string()
    }

    fn state_machine_arn(&self, spec: &Spec, arns: &Arns) -> String {
        arns.state_machine(&job_state_machine_name(&spec.pipeline, &self.cluster.name, &self.job.name))
    }
}

/// Every job of the spec.
pub fn jobs(spec: &Spec) -> Vec<JobOf<'_>> {
    spec.clusters.iter().flat_map(|cluster| cluster.jobs.iter().map(move |job| JobOf { cluster, job })).collect()
}

/// The job `name` names: `cluster/job`, or `job` when only one cluster has a job of that name.
pub fn find_job<'a>(spec: &'a Spec, name: &str) -> Result<JobOf<'a>, RunError> {
    let all = jobs(spec);
    let matching: Vec<JobOf> = all
        .iter()
        .copied()
        .filter(|job| match name.split_once('/') {
            Some((cluster, job_name)) => job.cluster.name == cluster && job.job.name == job_name,
            None => job.job.name == name,
        })
        .collect();
    match matching.as_slice() {
        [one] => Ok(*one),
        [] => {
            let known: Vec<String> = all.iter().map(JobOf::label).collect();
            Err(RunError::UnknownJob(if known.is_empty() {
                format!("the spec declares no jobs (add `jobs:` to a cluster), so there is no `{name}` to run")
            } else {
                format!("no job `{name}` in the spec; its jobs are: {}", known.join(", "))
            }))
        }
        several => Err(RunError::UnknownJob(format!(
            "`{name}` names a job of several clusters; say which: {}",
            several.iter().map(JobOf::label).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// A started (and perhaps followed) run.
#[derive(Debug, Clone, Serialize)]
pub struct Started {
    pub job: String,
    pub execution_arn: String,
    /// `RUNNING` when started without `--wait`; the final status when followed.
    pub status: String,
    /// Why it failed, when it did and AWS says.
    pub error: Option<String>,
    /// Whether pipectl followed it (`--wait`, `--attach`).
    pub followed: bool,
}

impl Started {
    /// Started without `--wait`, or followed to success. A run still going when its timeout and
    /// grace have passed (which its own timeout should prevent) is not a success.
    pub fn succeeded(&self) -> bool {
        self.status == "SUCCEEDED" || (!self.followed && self.status == "RUNNING")
    }
}

/// The account's ARNs for this region (one `sts:GetCallerIdentity`).
async fn arns(clients: &Clients) -> Result<Arns, AwsError> {
    Ok(Arns::new(&account_id(clients).await?, &clients.region))
}

/// When a run started at `now` (Unix time) hands its group back at the latest: its guard.
fn guard_time(job: JobOf<'_>, now: i64) -> i64 {
    let timeout = job.job.timeout_seconds().unwrap_or(0);
    now + i64::try_from(timeout + GUARD_DELAY_SECONDS).unwrap_or(i64::MAX / 2)
}

/// Refuses a run that would hold the group into a window of a job or schedule on it (or whose
/// guard would cut one short), before any AWS call: the window rule `pipectl scale --for/--until`
/// shares (`spec::windows_overlapping`).
pub fn check_collisions(job: JobOf<'_>, now: i64) -> Result<(), RunError> {
    let colliding = crate::spec::windows_overlapping(job.cluster, &job.job.group, now, guard_time(job, now));
    if colliding.is_empty() {
        return Ok(());
    }
    let until = chrono::DateTime::from_timestamp(guard_time(job, now), 0).map(|t| t.format("%H:%M UTC").to_string());
    Err(RunError::Refused(format!(
        "job {} run now would hold group {} until {} (its timeout {} and the guard's {} minutes), into {}; the guard of one would cut the other short. Run it after that window, or not at all tonight; nothing was changed",
        job.label(),
        job.job.group,
        until.unwrap_or_default(),
        job.job.timeout,
        GUARD_DELAY_SECONDS / 60,
        colliding.join(", ")
    )))
}

/// The job of the spec running on `group` of `cluster` now, with its execution's ARN, if one is:
/// whatever else resizes the group meanwhile (a second run, `pipectl scale`) would be undone by
/// the job's resize-back, or would cut the job short.
pub async fn running_on_group<'a>(
    clients: &Clients,
    spec: &'a Spec,
    cluster: &Cluster,
    group: &Group,
    arns: &Arns,
) -> Result<Option<(JobOf<'a>, String)>, AwsError> {
    let same_group = jobs(spec)
        .into_iter()
        .filter(|other| other.cluster.name == cluster.name && Group::parse(&other.job.group) == *group);
    for other in same_group {
        let machine = other.state_machine_arn(spec, arns);
        if let Some(execution) = runs::running_execution(clients, &other.resource(), &machine).await? {
            return Ok(Some((other, execution)));
        }
    }
    Ok(None)
}

/// Refuses a run while a job on the same group is running (this one or another): the first to
/// end would resize the group under the other, and the second run's guard would replace the
/// first's.
async fn check_running(clients: &Clients, spec: &Spec, job: JobOf<'_>, arns: &Arns) -> Result<(), RunError> {
    let group = Group::parse(&job.job.group);
    if let Some((other, execution)) = running_on_group(clients, spec, job.cluster, &group, arns).await? {
        return Err(RunError::Refused(format!(
            "job {} is running on group {} ({execution}); the first of two runs to end would resize the group under the other. Wait for it (`pipectl run {} --attach`), or stop it (`pipectl run {} --stop`); nothing was changed",
            other.label(),
            job.job.group,
            other.label(),
            other.label()
        )));
    }
    Ok(())
}

/// The run's own guard: a one-time schedule that, at its guard time, starts the job's state
/// machine down its guard path (`job::guard`: only a running cluster whose group is still above
/// its baseline is resized, after its Spark applications are killed), on the cluster found by
/// name and checked to be the pipeline's.
async fn create_run_guard(
    clients: &Clients,
    spec: &Spec,
    job: JobOf<'_>,
    arns: &Arns,
    now: i64,
) -> Result<String, RunError> {
    let group = Group::parse(&job.job.group);
    match cluster::find_owned(clients, &spec.pipeline, &job.cluster.name).await? {
        Found::Ours { running, .. } if running.group(&group).is_some() => {}
        Found::Ours { .. } => {
            return Err(RunError::Refused(format!("cluster '{}' has no live group `{group}`", job.cluster.name)))
        }
        Found::NotRunning => {
            return Err(RunError::Refused(format!(
                "cluster '{}' is not running: run `pipectl apply` first",
                job.cluster.name
            )))
        }
        Found::NotOurs { cluster_id } => {
            return Err(RunError::Refused(format!(
            "EMR cluster {cluster_id} is not tagged as {} of pipeline `{}`; pipectl runs jobs only on its own clusters",
            cluster::id(&job.cluster.name),
            spec.pipeline
        )))
        }
    }
    let name = schedule_name(&spec.pipeline, &job_run_guard_name(&job.cluster.name, &job.job.name));
    let at = chrono::DateTime::from_timestamp(guard_time(job, now), 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default();
    let guard = OneTimeSchedule {
        name: &name,
        description: format!(
            "Guard of pipectl run. {PIPELINE_TAG}={} {RUN_GUARD_MARKER}={}",
            spec.pipeline,
            job.label()
        ),
        at: at.clone(),
        action: OneTimeAction::StartJob { state_machine: job.state_machine_arn(spec, arns), input: guard_input() },
    };
    create_one_time(clients, spec, &arns.account_id, &job.cluster.name, &guard).await?;
    Ok(format!("{name} at {at} UTC"))
}

/// Starts `job` now, after its guard. With `wait`, follows the execution until it ends
/// (checking every `poll`), printing each state it enters on `progress`, for at most the job's
/// timeout and grace.
pub async fn start(
    clients: &Clients,
    spec: &Spec,
    job: JobOf<'_>,
    wait: Option<Duration>,
    progress: &Progress,
) -> Result<Started, RunError> {
    let now = chrono::Utc::now().timestamp();
    check_collisions(job, now)?;
    let arns = arns(clients).await?;
    check_running(clients, spec, job, &arns).await?;
    let machine = job.state_machine_arn(spec, &arns);
    check_owner(clients, spec, job, &machine).await?;
    let guard = create_run_guard(clients, spec, job, &arns, now).await?;
    progress
        .line(&format!("Guard: the schedule {guard} returns the group to its baseline whatever becomes of the run"));
    let what = job.resource();
    let execution = runs::start_execution(clients, &what, &machine).await?;
    progress.line(&format!("Started job {}: {execution}", job.label()));
    let started = |state: ExecutionState, followed| Started {
        job: job.label(),
        execution_arn: execution.clone(),
        status: state.status,
        error: state.error,
        followed,
    };
    let Some(poll) = wait else {
        return Ok(started(ExecutionState { status: "RUNNING".to_string(), error: None }, false));
    };
    let state = follow::follow(clients, &what, &execution, follow::follow_limit(job), poll, progress).await?;
    Ok(started(state, true))
}

/// Refuses a job whose state machine is missing or not tagged as the pipeline's: pipectl starts,
/// follows and stops only its own.
async fn check_owner(clients: &Clients, spec: &Spec, job: JobOf<'_>, machine: &str) -> Result<(), RunError> {
    match runs::owner(clients, &job.resource(), machine).await? {
        None => Err(RunError::Refused(format!(
            "job {} has no state machine yet ({machine}): run `pipectl apply` first",
            job.label()
        ))),
        Some(owner) if owner.as_deref() != Some(spec.pipeline.as_str()) => Err(RunError::Refused(format!(
            "the state machine {machine} is not tagged {PIPELINE_TAG}={}; pipectl touches only its own",
            spec.pipeline
        ))),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        let job = |name: &str| {
            format!("      - {{name: {name}, cron: '0 2 * * *', group: batch, nodes: 8, timeout: 2h, steps: [{{name: s, script: 's3://lake/a.py'}}]}}\n")
        };
        let cluster = |name: &str, jobs: &str| {
            format!("  - name: {name}\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {{type: m5.xlarge}}\n    core: {{type: m5.xlarge, nodes: 2}}\n    task_groups: [{{name: batch, type: m5.xlarge, nodes: 0}}]\n    jobs:\n{jobs}")
        };
        let yaml = format!(
            "version: 1\npipeline: p\nregion: eu-west-1\nbuckets: [{{name: lake}}]\nclusters:\n{}{}",
            cluster("spark", &(job("nightly") + &job("hourly"))),
            cluster("ml", &job("nightly"))
        );
        serde_saphyr::from_str(&yaml).unwrap()
    }

    #[test]
    fn a_run_by_hand_may_not_reach_into_a_window_on_its_group() {
        let spec = spec();
        // spark/hourly: daily at 02:00 UTC for 2h, guarded until 04:15; so is spark/nightly.
        let job = find_job(&spec, "hourly").unwrap();
        let at = |hour: u32, minute: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
                .unwrap()
                .and_hms_opt(hour, minute, 0)
                .unwrap()
                .and_utc()
                .timestamp()
        };
        // At noon the run (guard at 14:15) meets nothing.
        assert!(check_collisions(job, at(12, 0)).is_ok());
        // At 01:00 it would run into tonight's windows at 02:00.
        let refused = check_collisions(job, at(1, 0)).unwrap_err().to_string();
        assert!(refused.starts_with("job spark/hourly run now would hold group batch until 03:15 UTC"), "{refused}");
        assert!(refused.contains("job 'nightly' (from 2026-11-30 02:00 UTC)"), "{refused}");
        assert!(refused.contains("job 'hourly' (from 2026-11-30 02:00 UTC)"), "{refused}");
        // At 04:00 tonight's guards have not fired yet.
        assert!(check_collisions(job, at(4, 0)).is_err());
        assert!(check_collisions(job, at(4, 15)).is_ok());
        // The other cluster's group is another group.
        let other = find_job(&spec, "ml/nightly").unwrap();
        assert!(check_collisions(other, at(0, 30)).is_err());
        assert!(check_collisions(other, at(21, 0)).is_ok());
    }

    #[test]
    fn attach_and_stop_start_nothing_and_neither_goes_with_wait() {
        use clap::Parser;
        #[derive(Debug, Parser)]
        struct Line {
            #[command(flatten)]
            run: RunArgs,
        }
        let parse = |flags: &[&str]| Line::try_parse_from([&["run", "nightly"], flags].concat()).map(|line| line.run);
        let attach = parse(&["--attach", "--poll", "2s"]).unwrap();
        assert!(attach.attach && !attach.stop && !attach.wait);
        let stop = parse(&["--stop", "--auto-approve"]).unwrap();
        assert!(stop.stop && stop.auto_approve && !stop.attach);
        for mixed in [&["--attach", "--wait"][..], &["--attach", "--stop"], &["--stop", "--wait"], &["--auto-approve"]]
        {
            assert!(parse(mixed).is_err(), "{mixed:?}");
        }
    }

    #[test]
    fn jobs_are_named_alone_when_unique_and_with_their_cluster_otherwise() {
        let spec = spec();
        assert_eq!(find_job(&spec, "hourly").unwrap().label(), "spark/hourly");
        assert_eq!(find_job(&spec, "ml/nightly").unwrap().label(), "ml/nightly");
        let ambiguous = find_job(&spec, "nightly").unwrap_err().to_string();
        assert_eq!(ambiguous, "`nightly` names a job of several clusters; say which: spark/nightly, ml/nightly");
        let unknown = find_job(&spec, "weekly").unwrap_err().to_string();
        assert_eq!(unknown, "no job `weekly` in the spec; its jobs are: spark/nightly, spark/hourly, ml/nightly");
    }
}

//! `pipectl status`: one screen of the pipeline's live health from AWS. The resources are found
//! by the pipeline's tag, as `plan` finds them; what each kind shows (facts read with it, the
//! CloudWatch metrics to fetch, what is wrong with it) is its own (`ResourceKind::health`):
//! streams, deliveries, clusters and alarms. The metrics of all of them are read in one
//! GetMetricData round; the jobs' last runs come from the runs code of `pipectl runs`, their
//! next start from their schedule. Exit code 0 when healthy, 2 when something needs attention
//! (`report`).

mod report;

use chrono::Utc;
use clap::Args;

use super::run::{jobs, runs};
use super::session::Session;
use super::{CommandError, GlobalArgs, OutputFormat, Status};
use crate::aws::calls::CallCounter;
use crate::aws::Warnings;
use crate::model::LiveResource;
use crate::resources::health;
use crate::resources::kit::health::fetch_metrics;
use crate::resources::kit::Health;
use report::{next_start, render, JobHealth, Report, ResourceHealth};

/// The arguments of `pipectl status` (its help line is `cli::Command`'s).
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// How far back the metrics look, in minutes (each figure is the window's maximum, minimum
    /// or sum of its one-minute datapoints).
    #[arg(long, value_name = "MINUTES", default_value_t = 15, value_parser = clap::value_parser!(i64).range(1..=1440))]
    pub minutes: i64,
    /// How to print it: for people, or JSON for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

pub async fn exec(global: &GlobalArgs, args: &StatusArgs, counter: &CallCounter) -> Result<Status, CommandError> {
    let session = Session::open(global, counter).await?;
    let spec = &session.loaded.spec;
    let desired = session.desired();
    let live = session.read(&desired, &[]).await?;
    let not_created: Vec<String> = desired
        .iter()
        .filter(|resource| !live.resources.contains_key(&resource.id))
        .map(|resource| resource.id.to_string())
        .collect();
    let declared: Vec<(&LiveResource, Health)> = desired
        .iter()
        .filter_map(|resource| live.resources.get(&resource.id))
        .filter_map(|resource| Some((resource, health(resource)?)))
        .collect();
    let now = Utc::now();
    let warnings = Warnings::default();
    let metrics: Vec<_> = declared.iter().flat_map(|(_, health)| health.metrics.iter()).collect();
    let figures = fetch_metrics(&session.clients, &metrics, args.minutes, now, &warnings);
    let last_runs = runs(&session.clients, spec, None, 1);
    let (figures, last_runs) = tokio::join!(figures, last_runs);
    let mut figures = figures.map_err(|error| session.explain(error))?.into_iter();
    let last_runs = last_runs.map_err(|error| match error {
        super::run::RunError::Aws(error) => session.explain(error),
        other => CommandError::Refused(other.to_string()),
    })?;
    for warning in warnings.messages() {
        session.progress.warn(&warning);
    }
    let resources = declared
        .into_iter()
        .map(|(resource, health)| {
            let count = health.metrics.len();
            let id = &resource.id;
            ResourceHealth::new(id.to_string(), id.kind.as_str(), health, figures.by_ref().take(count).collect())
        })
        .collect();
    let jobs = jobs(spec)
        .into_iter()
        .map(|job| {
            let label = job.label();
            let last = last_runs.iter().find(|run| run.job == label);
            JobHealth {
                last_status: last.map(|run| run.status.clone()),
                last_started: last.map(|run| run.started.clone()),
                next_start: next_start(&job.job.cron, &job.job.timezone, now).map(|start| start.to_rfc3339()),
                job: label,
            }
        })
        .collect();
    let report = Report::new((&spec.pipeline, &session.options.region, args.minutes), resources, not_created, jobs);
    match args.output {
        OutputFormat::Json => outln!("{}", serde_json::to_string(&report).unwrap_or_default()),
        OutputFormat::Human => out!("{}", render(&report)),
    }
    Ok(if report.healthy { Status::Success } else { Status::Unhealthy })
}

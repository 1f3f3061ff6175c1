//! The pure half of `pipectl status`: what was read (each resource's health as its kind declares
//! it, the metrics' figures, the jobs' last runs and schedules) summarised into one report, its
//! verdict, and its screen. No AWS call here.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::calendar::{window_times_from, Window};
use crate::resources::kit::{Fact, Health};

/// One metric's figure over the window; `None` is "no data" (no datapoint), never zero.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub label: &'static str,
    pub value: Option<f64>,
}

/// A live resource whose kind reports health, with what it showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceHealth {
    pub resource: String,
    pub kind: String,
    pub facts: Vec<Fact>,
    pub metrics: Vec<Figure>,
    pub problems: Vec<String>,
}

impl ResourceHealth {
    /// `health` of `resource` with the figures of its metrics, in order.
    pub fn new(resource: String, kind: &str, health: Health, figures: Vec<Option<f64>>) -> ResourceHealth {
        let metrics =
            health.metrics.iter().zip(figures).map(|(metric, value)| Figure { label: metric.label, value }).collect();
        ResourceHealth { resource, kind: kind.to_string(), facts: health.facts, metrics, problems: health.problems }
    }
}

/// A job's last run and next scheduled start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobHealth {
    pub job: String,
    /// `SUCCEEDED`, `FAILED`, `RUNNING`, …; `None` before its first run.
    pub last_status: Option<String>,
    pub last_started: Option<String>,
    /// RFC 3339, UTC; `None` when the schedule names no start in the next two years.
    pub next_start: Option<String>,
}

impl JobHealth {
    /// A last run that failed, timed out or was aborted needs attention.
    fn problem(&self) -> Option<String> {
        let status = self.last_status.as_deref()?;
        matches!(status, "FAILED" | "TIMED_OUT" | "ABORTED").then(|| {
            format!("job {}: its last run ({}) ended {status}", self.job, self.last_started.as_deref().unwrap_or("?"))
        })
    }
}

/// The whole screen: healthy when nothing in it needs attention.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub pipeline: String,
    pub region: String,
    pub window_minutes: i64,
    pub healthy: bool,
    /// Everything that needs attention, each naming its resource or job.
    pub problems: Vec<String>,
    pub resources: Vec<ResourceHealth>,
    /// What the spec declares that AWS does not hold yet.
    pub not_created: Vec<String>,
    pub jobs: Vec<JobHealth>,
}

impl Report {
    /// The report of what was read; its problems are every resource's, every job's, and one
    /// for what is not created yet.
    pub fn new(
        (pipeline, region, window_minutes): (&str, &str, i64),
        resources: Vec<ResourceHealth>,
        not_created: Vec<String>,
        jobs: Vec<JobHealth>,
    ) -> Report {
        let mut problems: Vec<String> = resources
            .iter()
            .flat_map(|resource| {
                resource.problems.iter().map(move |problem| format!("{}: {problem}", resource.resource))
            })
            .collect();
        problems.extend(jobs.iter().filter_map(JobHealth::problem));
        if !not_created.is_empty() {
            problems.push(format!("not created yet (`pipectl apply` creates them): {}", not_created.join(", ")));
        }
        Report {
            pipeline: pipeline.to_string(),
            region: region.to_string(),
            window_minutes,
            healthy: problems.is_empty(),
            problems,
            resources,
            not_created,
            jobs,
        }
    }
}

/// The next start of a job's schedule (its 5-field cron in its zone) after `now`.
pub fn next_start(cron: &str, timezone: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let window = Window { cron, timezone, length: Some(0) };
    // From yesterday, so a start later today in a zone behind UTC is not missed.
    let first = now.date_naive().pred_opt()?;
    let starts = window_times_from(first, 400, &window)?;
    starts
        .into_iter()
        .map(|(start, _)| start)
        .find(|start| *start > now.timestamp())
        .and_then(|start| DateTime::from_timestamp(start, 0))
}

/// A figure as people read it: `no data` without a datapoint, whole numbers without decimals.
pub fn figure_text(value: Option<f64>) -> String {
    match value {
        None => "no data".to_string(),
        Some(value) if value.fract() == 0.0 => format!("{value:.0}"),
        Some(value) => format!("{value:.2}"),
    }
}

/// The screen: a verdict, then each resource with its facts and figures (alarms only when
/// firing, the others counted), the jobs, and what needs attention.
pub fn render(report: &Report) -> String {
    let mut text = format!(
        "Pipeline {} in {} (metrics over the last {} minutes): {}\n",
        report.pipeline,
        report.region,
        report.window_minutes,
        if report.healthy { "healthy" } else { "needs attention" }
    );
    let (alarms, others): (Vec<&ResourceHealth>, Vec<&ResourceHealth>) =
        report.resources.iter().partition(|resource| resource.kind == "alarm");
    for resource in others {
        text.push_str(&format!("\n{}\n", resource.resource));
        for fact in &resource.facts {
            text.push_str(&format!("  {}: {}\n", fact.label, fact.value));
        }
        for figure in &resource.metrics {
            text.push_str(&format!("  {}: {}\n", figure.label, figure_text(figure.value)));
        }
    }
    if !alarms.is_empty() {
        let firing: Vec<&&ResourceHealth> = alarms.iter().filter(|alarm| !alarm.problems.is_empty()).collect();
        text.push_str(&format!("\nalarms: {} of {} in ALARM\n", firing.len(), alarms.len()));
        for alarm in firing {
            text.push_str(&format!("  {}: {}\n", alarm.resource, alarm.problems.join("; ")));
        }
    }
    if !report.jobs.is_empty() {
        text.push_str("\njobs\n");
        for job in &report.jobs {
            let last = match (&job.last_status, &job.last_started) {
                (Some(status), Some(started)) => format!("{status} (started {started})"),
                _ => "no runs yet".to_string(),
            };
            let next = job.next_start.as_deref().unwrap_or("none scheduled");
            text.push_str(&format!("  {}: last run {last}; next start {next}\n", job.job));
        }
    }
    if !report.problems.is_empty() {
        text.push_str("\nNeeds attention:\n");
        for problem in &report.problems {
            text.push_str(&format!("  - {problem}\n"));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::kit::{Metric, Statistic};

    fn stream() -> ResourceHealth {
        let metrics = [("iterator age max (ms)", "A", Statistic::Maximum), ("throttled writes", "B", Statistic::Sum)];
        let health = Health {
            facts: vec![Fact::new("open shards", "2")],
            metrics: Metric::of("AWS/Kinesis", ("StreamName", "p-events"), &metrics),
            problems: Vec::new(),
        };
        ResourceHealth::new("stream/events".to_string(), "stream", health, vec![None, Some(0.0)])
    }

    fn alarm(problem: Option<&str>) -> ResourceHealth {
        let health = Health {
            facts: vec![Fact::new("state", if problem.is_some() { "ALARM" } else { "OK" })],
            metrics: Vec::new(),
            problems: problem.map(str::to_string).into_iter().collect(),
        };
        ResourceHealth::new("alarm/lag".to_string(), "alarm", health, Vec::new())
    }

    #[test]
    fn a_healthy_pipeline_shows_no_data_apart_from_zero() {
        let report = Report::new(("p", "eu-west-1", 15), vec![stream(), alarm(None)], Vec::new(), Vec::new());
        assert!(report.healthy);
        assert_eq!(
            render(&report),
            "Pipeline p in eu-west-1 (metrics over the last 15 minutes): healthy\n\n\
             stream/events\n  open shards: 2\n  iterator age max (ms): no data\n  throttled writes: 0\n\n\
             alarms: 0 of 1 in ALARM\n"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["resources"][0]["metrics"][0],
            serde_json::json!({"label": "iterator age max (ms)", "value": null})
        );
        assert_eq!(json["resources"][0]["metrics"][1]["value"], 0.0);
    }

    #[test]
    fn alarms_firing_failed_runs_and_missing_resources_need_attention() {
        let failed = JobHealth {
            job: "spark/nightly".to_string(),
            last_status: Some("FAILED".to_string()),
            last_started: Some("2026-12-07T02:00:00+00:00".to_string()),
            next_start: Some("2026-12-08T02:00:00+00:00".to_string()),
        };
        let report = Report::new(
            ("p", "eu-west-1", 15),
            vec![alarm(Some("in ALARM: Threshold Crossed"))],
            vec!["delivery/raw".to_string()],
            vec![failed],
        );
        assert!(!report.healthy);
        assert_eq!(
            report.problems,
            [
                "alarm/lag: in ALARM: Threshold Crossed",
                "job spark/nightly: its last run (2026-12-07T02:00:00+00:00) ended FAILED",
                "not created yet (`pipectl apply` creates them): delivery/raw",
            ]
        );
        let text = render(&report);
        assert!(text.contains("alarms: 1 of 1 in ALARM\n  alarm/lag: in ALARM: Threshold Crossed\n"), "{text}");
        assert!(text.contains("spark/nightly: last run FAILED (started 2026-12-07T02:00:00+00:00); next start 2026-12-08T02:00:00+00:00"), "{text}");
    }

    #[test]
    fn the_next_start_follows_the_jobs_zone() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T18:00:00Z").unwrap().with_timezone(&Utc);
        // 02:00 in Seoul (UTC+9) is 17:00 UTC the day before: tonight's has passed, tomorrow's is next.
        let next = next_start("0 2 * * *", "Asia/Seoul", now).unwrap();
        assert_eq!(next.to_rfc3339(), "2026-12-08T17:00:00+00:00");
        assert_eq!(next_start("30 19 * * *", "UTC", now).unwrap().to_rfc3339(), "2026-12-07T19:30:00+00:00");
        assert_eq!(figure_text(Some(12.5)), "12.50");
    }
}

//! The `jobs:` of a cluster: the night batch declared as one unit — resize a group, run the Spark
//! steps, give the nodes back — that AWS runs (a Step Functions state machine started by an
//! EventBridge Scheduler schedule, see `resources::job`). The types and every rule a job must
//! meet before any AWS call live here, so that what validation accepts is what the kinds build.

use std::collections::HashSet;

use schemars::JsonSchema;
use serde::Deserialize;

use super::buckets::is_spec_bucket;
use super::checks::{check_resource_name, Problems};
use super::clusters::{check_resized_group, release_before, Cluster};
use super::group::Group;
use super::iam::check_derived_role;
use super::pipeline::Spec;
use crate::calendar::{self, ClockChange, Window, LARGEST_CLOCK_CHANGE_SECONDS};

/// A job: at `cron` in `timezone`, resize `group` to `nodes`, run `steps` one after another,
/// then return the group to its baseline — on success, failure or timeout.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Job {
    pub name: String,
    /// Five-field cron (`minute hour day-of-month month day-of-week`) with fixed minute and hour.
    pub cron: String,
    #[serde(default = "super::schedules::default_timezone")]
    pub timezone: String,
    /// `core` or a task group name: the group the steps need wider.
    pub group: String,
    /// The group's size while the steps run.
    pub nodes: i64,
    /// The Spark steps, run in order; the first that fails ends the job.
    pub steps: Vec<JobStep>,
    /// The longest the job may run, e.g. `4h` (at most `23h`): a step still running then is
    /// cancelled, and the group is returned to its baseline.
    pub timeout: String,
    /// Publish the job's outcome to the pipeline's alarm topic (default: when `alarms` is on).
    #[serde(default)]
    pub notify: Option<bool>,
}

/// One `spark-submit` step on the cluster.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobStep {
    pub name: String,
    /// The Spark application: `s3://<bucket>/<key>` (`.py` or `.jar`), in a bucket of the spec
    /// unless `external: true`.
    pub script: String,
    /// Arguments after the script.
    #[serde(default)]
    pub args: Vec<String>,
    /// `spark-submit` options before the script, e.g. `[--deploy-mode, cluster]`.
    #[serde(default)]
    pub spark_args: Vec<String>,
    /// What EMR does with the cluster's other pending steps when this one fails.
    #[serde(default)]
    pub action_on_failure: ActionOnFailure,
    /// The script's bucket is not one of the spec's (another team's, say): say so explicitly.
    #[serde(default)]
    pub external: bool,
}

/// EMR's `ActionOnFailure` for a step on a cluster that outlives the job. `TERMINATE_CLUSTER` is
/// not offered: a failed step would end the shared cluster and everything else on it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum ActionOnFailure {
    /// Leave the cluster's other steps alone (default; the job stops at the failed step anyway).
    #[default]
    #[serde(rename = "continue")]
    Continue,
    /// Cancel the cluster's other pending steps too.
    #[serde(rename = "cancel_and_wait")]
    CancelAndWait,
}

impl ActionOnFailure {
    /// As EMR spells it.
    pub fn emr(self) -> &'static str {
        match self {
            ActionOnFailure::Continue => "CONTINUE",
            ActionOnFailure::CancelAndWait => "CANCEL_AND_WAIT",
        }
    }
}

/// The longest a job may run: its resize-back guard must fire before the next day's start.
pub const MAX_TIMEOUT_SECONDS: u64 = 23 * 3600;

/// How long after its timeout a job's guard schedule returns the group to its baseline, whatever
/// happened to the execution (cancelled, or ended by the execution's own timeout): room for the
/// state machine's own resize-back and notification to run first.
pub const GUARD_DELAY_SECONDS: u64 = 15 * 60;

/// EMR allows 256 steps per AddJobFlowSteps and counts a cluster's steps; a night batch of more
/// than this many is a sign the job should be split.
pub const MAX_STEPS: usize = 50;

impl Job {
    /// The job's timeout, when it parses and is in range (validation reports it otherwise).
    pub fn timeout_seconds(&self) -> Option<u64> {
        calendar::parse_duration(&self.timeout)
            .ok()
            .map(|length| length.as_secs())
            .filter(|seconds| (60..=MAX_TIMEOUT_SECONDS).contains(seconds))
    }

    /// How long after the start, on the local clock, the `guard` schedule fires: the timeout and
    /// `GUARD_DELAY_SECONDS`, and an hour more in a zone with daylight saving time, so that a
    /// night whose clocks spring forward does not bring the guard early, onto running steps.
    pub fn guard_after_seconds(&self) -> Option<u64> {
        let zone = calendar::parse_timezone(&self.timezone).ok()?;
        let dst = if calendar::observes_daylight_saving(zone) { LARGEST_CLOCK_CHANGE_SECONDS } else { 0 };
        Some(self.timeout_seconds()? + GUARD_DELAY_SECONDS + dst)
    }

    /// The `guard` schedule's cron: the start's, `guard_after_seconds` later on the local clock;
    /// an `Err` says why there is none (reported by validation).
    pub fn guard_cron(&self) -> Result<calendar::Cron, String> {
        let start = calendar::parse_cron(&self.cron)?;
        let after =
            self.guard_after_seconds().ok_or_else(|| format!("job timeout `{}` is out of range", self.timeout))?;
        start.end_after(std::time::Duration::from_secs(after))
    }

    /// The job's window on the clock: from its start until its guard schedule has fired.
    pub fn window(&self) -> Window<'_> {
        Window { cron: &self.cron, timezone: &self.timezone, length: self.guard_after_seconds() }
    }

    /// The instance group the job resizes.
    pub fn instance_group(&self) -> Group {
        Group::parse(&self.group)
    }

    /// Whether the outcome goes to the pipeline's alarm topic.
    pub fn notifies(&self, spec: &Spec) -> bool {
        self.notify.unwrap_or_else(|| alarms_on(spec))
    }

    /// The most node-hours one run holds the group above its baseline: the extra nodes for the
    /// whole timeout (the job gives them back sooner when it finishes sooner).
    pub fn extra_node_hours(&self, cluster: &Cluster) -> Option<f64> {
        let baseline = self.instance_group().baseline(cluster)?;
        let hours = self.timeout_seconds()? as f64 / 3600.0;
        Some((self.nodes - baseline).max(0) as f64 * hours)
    }
}

fn alarms_on(spec: &Spec) -> bool {
    spec.alarms.as_ref().is_some_and(|alarms| alarms.enabled)
}

/// The `s3://bucket/key` parts of a script path.
pub fn script_location(script: &str) -> Option<(&str, &str)> {
    let (bucket, key) = script.strip_prefix("s3://")?.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

/// The arguments of EMR's `command-runner.jar` for one step: `spark-submit`, its options, the
/// options pipectl adds (`added`: after the step's own, so that they win), the script, the
/// script's arguments.
pub fn spark_submit_args(step: &JobStep, added: &[String]) -> Vec<String> {
    let mut args = vec!["spark-submit".to_string()];
    args.extend(step.spark_args.iter().cloned());
    args.extend(added.iter().cloned());
    args.push(step.script.clone());
    args.extend(step.args.iter().cloned());
    args
}

/// A cluster's jobs: names, cron and time zone as for schedules, the group's size as for
/// schedules, the steps (`check_steps`), the derived names' limits, and no two windows (jobs'
/// and schedules') on one group at the same time: a schedule's `down` edge would cut a job
/// short, and two jobs would fight over the group's size.
pub(super) fn check_jobs(path: &str, cluster: &Cluster, spec: &Spec, problems: &mut Problems) {
    // A job's name may be neither a schedule's nor another job's of the cluster (schedules'
    // own duplicates are reported with the schedules).
    let schedules: HashSet<&str> = cluster.schedules.iter().map(|s| s.name.as_str()).collect();
    let mut seen = HashSet::new();
    for (index, job) in cluster.jobs.iter().enumerate() {
        if schedules.contains(job.name.as_str()) || !seen.insert(job.name.as_str()) {
            problems.add(
                format!("{path}.jobs[{index}].name"),
                format!("`{}` names a schedule or another job of this cluster", job.name),
            );
        }
    }
    for (index, job) in cluster.jobs.iter().enumerate() {
        let job_path = format!("{path}.jobs[{index}]");
        check_resource_name(&format!("{job_path}.name"), &job.name, problems);
        check_derived_role(
            &format!("{job_path}.name"),
            spec,
            &crate::names::derived_job_role(&cluster.name, &job.name),
            problems,
        );
        // Its state machine's and schedules' names are checked with every derived name (`derived`).
        match calendar::parse_cron(&job.cron) {
            Err(message) => problems.add(format!("{job_path}.cron"), message),
            Ok(_) if job.timeout_seconds().is_some() => check_clock_changes(&job_path, job, problems),
            Ok(_) => {}
        }
        if let Err(message) = calendar::parse_timezone(&job.timezone) {
            problems.add(format!("{job_path}.timezone"), message);
        }
        check_resized_group(&job_path, &job.group, job.nodes, cluster, spec, problems);
        if !cluster.applications.iter().any(|application| application == "Spark") {
            problems.add(
                format!("{job_path}.steps"),
                "a job's steps run `spark-submit`: add Spark to the cluster's `applications`",
            );
        }
        check_steps(&job_path, job, spec, problems);
    }
    // Step Functions cancels a step that outlives its timeout with CancelSteps, which EMR allows
    // on a RUNNING step from release 5.28.0 ("CancelSteps", EMR API Reference).
    if !cluster.jobs.is_empty() && release_before(&cluster.release, (5, 28)) {
        problems.add(
            format!("{path}.release"),
            format!(
                "jobs need EMR 5.28.0 or later (to cancel a step past the job's timeout); `{}` is older",
                cluster.release
            ),
        );
    }
    if let Some((first, second)) = calendar::first_overlap(&cluster.batch_windows()) {
        problems.add(
            format!("{path}.jobs"),
            format!("{first} and {second} resize the same group at overlapping times: move one of them, or give them different groups"),
        );
    }
}

/// The job's `start` and `guard` schedules must fire once every night, each at a known instant:
/// daily crons (the guard may fall after midnight), in whole minutes, at local times no clock
/// change skips — "your schedule invocation gets skipped if the cron expression falls on a
/// non-existent date and time" — and a start at none that a change repeats: then "your schedule
/// runs only once and doesn't repeat its invocation" (EventBridge Scheduler User Guide, "Schedule
/// types", daylight saving time), at an instant the guide does not name, so the job's window,
/// its guard and the checks of overlapping windows could be an hour off. Checked over two years.
fn check_clock_changes(job_path: &str, job: &Job, problems: &mut Problems) {
    // A time zone that does not parse is reported on its own; the guard's time depends on it,
    // and saying the timeout is out of range as well would be false.
    let Ok(zone) = calendar::parse_timezone(&job.timezone) else { return };
    let guard = match job.guard_cron() {
        Ok(guard) => guard,
        Err(message) => {
            problems.add(format!("{job_path}.timeout"), format!("the job's guard (timeout + 15 minutes, + 1 hour where clocks change) cannot be scheduled: {message}"));
            return;
        }
    };
    let skipped = [ClockChange::Skipped];
    let start = calendar::parse_cron(&job.cron).ok().map(|start| (start.hour, start.minute));
    let times = [
        ("start", start, &[ClockChange::Skipped, ClockChange::Repeated][..]),
        ("guard", Some((guard.hour, guard.minute)), &skipped[..]),
    ];
    for (what, time, refused) in times {
        let Some((hour, minute)) = time else { continue };
        let Some((date, change)) = calendar::first_clock_change_at(zone, hour, minute, refused) else { continue };
        let (done, scheduler) = match change {
            ClockChange::Skipped => ("skips", "EventBridge Scheduler would skip it that night"),
            ClockChange::Repeated => {
                ("repeats", "EventBridge Scheduler runs it once, at an instant it does not document")
            }
        };
        let fix = if what == "start" {
            "move the start out of the hour clocks change in"
        } else {
            "move the start or the timeout"
        };
        problems.add(
            format!("{job_path}.cron"),
            format!(
                "the job's {what} would fire at {hour:02}:{minute:02} {}, a time the clock change of {date} {done}, and {scheduler}: {fix}",
                job.timezone
            ),
        );
    }
}

/// The rest of one job's rules (`path` is the job's): its steps, timeout and notification.
fn check_steps(path: &str, job: &Job, spec: &Spec, problems: &mut Problems) {
    if job.steps.is_empty() {
        problems.add(format!("{path}.steps"), "name at least one step".to_string());
    }
    if job.steps.len() > MAX_STEPS {
        problems.add(format!("{path}.steps"), format!("{} steps; a job runs at most {MAX_STEPS}", job.steps.len()));
    }
    if job.timeout_seconds().is_none() {
        let message = match calendar::parse_duration(&job.timeout) {
            Err(message) => message,
            Ok(_) => {
                "a job's timeout must be between 1m and 23h (its resize-back guard must fire before the next day's run)"
                    .to_string()
            }
        };
        problems.add(format!("{path}.timeout"), message);
    }
    if job.notify == Some(true) && !alarms_on(spec) {
        problems.add(
            format!("{path}.notify"),
            "jobs publish their outcome to the pipeline's alarm topic, and this spec has none: add `alarms:` with `notify:` addresses, or drop `notify`".to_string(),
        );
    }
    let mut seen = HashSet::new();
    for (index, step) in job.steps.iter().enumerate() {
        let step_path = format!("{path}.steps[{index}]");
        if !seen.insert(step.name.as_str()) {
            problems.add(format!("{step_path}.name"), format!("duplicate name `{}`", step.name));
        }
        // The name is part of the state's name in the state machine (`Step-1-<name>`, at most
        // 80 characters in the States Language) and of EMR's step name.
        let valid = (1..=63).contains(&step.name.len())
            && step.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            problems.add(
                format!("{step_path}.name"),
                format!("`{}`: step names are 1-63 letters, digits, `-` and `_`", step.name),
            );
        }
        match script_location(&step.script) {
            None => problems.add(
                format!("{step_path}.script"),
                format!("`{}` is not an S3 location such as `s3://my-lake/jobs/sessionize.py`", step.script),
            ),
            Some((bucket, _)) if !step.external && !is_spec_bucket(spec, bucket) => problems.add(
                format!("{step_path}.script"),
                format!("bucket `{bucket}` is not a bucket of this spec: put the script in one, or say `external: true` if it lives in another team's bucket (the cluster's instance role must be able to read it)"),
            ),
            Some(_) => {}
        }
        // "The string values passed into HadoopJarStep object cannot exceed a total of 10240
        // characters" (EMR API Reference, AddJobFlowSteps).
        // With the tag option the job adds (`--conf spark.yarn.tags=<state machine name>`), at
        // its longest.
        let machine = "x".repeat(crate::names::name_limit(crate::names::NameKind::StateMachine).1);
        let tag = ["--conf".to_string(), format!("spark.yarn.tags={machine}")];
        let length: usize = spark_submit_args(step, &tag).iter().map(String::len).sum();
        if length > 10_240 {
            problems.add(
                format!("{step_path}.args"),
                format!("the step's arguments total {length} characters; EMR allows 10240"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(script: &str) -> JobStep {
        JobStep {
            name: "s".to_string(),
            script: script.to_string(),
            args: vec!["--date".to_string(), "2026-11-30".to_string()],
            spark_args: vec!["--deploy-mode".to_string(), "cluster".to_string()],
            action_on_failure: ActionOnFailure::default(),
            external: false,
        }
    }

    #[test]
    fn a_step_is_spark_submit_with_its_options_then_the_script_then_its_arguments() {
        assert_eq!(
            spark_submit_args(&step("s3://lake/jobs/a.py"), &["--conf".to_string(), "spark.yarn.tags=t".to_string()]),
            [
                "spark-submit",
                "--deploy-mode",
                "cluster",
                "--conf",
                "spark.yarn.tags=t",
                "s3://lake/jobs/a.py",
                "--date",
                "2026-11-30"
            ]
        );
    }

    fn job(cron: &str, timezone: &str, timeout: &str) -> Job {
        Job {
            name: "nightly".to_string(),
            cron: cron.to_string(),
            timezone: timezone.to_string(),
            group: "batch".to_string(),
            nodes: 20,
            steps: vec![step("s3://lake/a.py")],
            timeout: timeout.to_string(),
            notify: None,
        }
    }

    #[test]
    fn the_guard_leaves_an_hour_more_where_clocks_change() {
        // Seoul has no daylight saving: 02:00 + 3h + 15m.
        let seoul = job("0 2 * * *", "Asia/Seoul", "3h");
        assert_eq!(seoul.guard_cron().map(|c| (c.hour, c.minute)), Ok((5, 15)));
        // Berlin does: on the night clocks spring forward 00:30 → 04:45 local is only 3h15m.
        let berlin = job("30 0 * * *", "Europe/Berlin", "3h");
        assert_eq!(berlin.guard_after_seconds(), Some(3 * 3600 + 15 * 60 + 3600));
        assert_eq!(berlin.guard_cron().map(|c| (c.hour, c.minute)), Ok((4, 45)));
        // A guard a day or more after the start is no daily schedule.
        assert!(job("0 2 * * *", "Europe/Berlin", "23h").guard_cron().is_err());
    }

    /// The messages of the problems `check_clock_changes` finds.
    fn clock_problems(job: &Job) -> Vec<String> {
        let mut problems = Problems::default();
        check_clock_changes("j", job, &mut problems);
        problems.into_vec().into_iter().map(|problem| problem.message).collect()
    }

    #[test]
    fn a_start_that_a_clock_change_skips_or_repeats_is_refused_like_the_guard() {
        // 02:30 in Berlin does not happen on 2026-03-29 (and happens twice on 2026-10-25).
        let gap = clock_problems(&job("30 2 * * *", "Europe/Berlin", "2h"));
        assert_eq!(gap.len(), 1, "{gap:?}");
        assert!(
            gap[0].starts_with(
                "the job's start would fire at 02:30 Europe/Berlin, a time the clock change of 2026-03-29 skips"
            ),
            "{gap:?}"
        );
        // 01:30 in New York happens twice on 2026-11-01.
        let repeated = clock_problems(&job("30 1 * * *", "America/New_York", "2h"));
        assert_eq!(repeated.len(), 1, "{repeated:?}");
        assert!(
            repeated[0].contains("01:30 America/New_York, a time the clock change of 2026-11-01 repeats"),
            "{repeated:?}"
        );
        // The guard is still checked (22:45 + 2h + 15m + 1h is 02:00, skipped in March).
        let guard = clock_problems(&job("45 22 * * *", "Europe/Berlin", "2h"));
        assert_eq!(guard.len(), 1, "{guard:?}");
        assert!(guard[0].starts_with("the job's guard would fire at 02:00 Europe/Berlin"), "{guard:?}");
        // Times clocks never change at pass, and zones without daylight saving time.
        assert!(clock_problems(&job("30 3 * * *", "Europe/Berlin", "2h")).is_empty());
        assert!(clock_problems(&job("30 2 * * *", "Asia/Seoul", "2h")).is_empty());
    }

    /// A misspelt time zone is reported once, where it is written (`check_jobs`); the guard,
    /// whose time depends on it, adds no false "timeout out of range".
    #[test]
    fn a_misspelt_time_zone_brings_no_follow_on_timeout_problem() {
        assert!(clock_problems(&job("0 4 * * *", "Europe/Berlinn", "3h")).is_empty());
        let timeout = clock_problems(&job("0 4 * * *", "Europe/Berlin", "400h"));
        assert!(timeout.iter().any(|problem| problem.contains("out of range")), "{timeout:?}");
    }

    #[test]
    fn scripts_are_s3_locations_with_a_key() {
        assert_eq!(script_location("s3://lake/jobs/a.py"), Some(("lake", "jobs/a.py")));
        for bad in ["lake/jobs/a.py", "s3://lake", "s3://lake/", "s3:///a.py", "https://lake/a.py"] {
            assert_eq!(script_location(bad), None, "{bad}");
        }
    }
}

//! The `schedules:` of a cluster: recurring windows in which a group runs at another size,
//! carried out by EventBridge Scheduler (one schedule scales up at the start, another back at
//! the end); their checks, and the one name space of everything pipectl derives for a
//! cluster's schedules and jobs.

use chrono::Datelike;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;

use super::alarms::{derived_alarms, AlarmSpec, Watched};
use super::checks::{check_resource_name, check_unique, Problems};
use super::clusters::{check_resized_group, Cluster};
use super::group::Group;
use super::pipeline::Spec;
use crate::calendar::{self, Window};

/// A recurring window in which a group runs at another size, carried out by EventBridge
/// Scheduler: one schedule scales up at the start, another back to the baseline at the end.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub name: String,
    /// Five-field cron (`minute hour day-of-month month day-of-week`) with fixed minute and hour.
    pub cron: String,
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// `core` or a task group name.
    pub group: String,
    pub nodes: i64,
    /// How long the window lasts, e.g. `4h`.
    #[serde(rename = "for")]
    pub duration: String,
}

pub(super) fn default_timezone() -> String {
    "UTC".to_string()
}

impl Schedule {
    /// How long the window lasts (`for`), read.
    pub fn length(&self) -> Result<Duration, String> {
        calendar::parse_duration(&self.duration)
    }

    /// How long the window lasts, in seconds; validation has read it.
    pub fn length_seconds(&self) -> Option<u64> {
        self.length().ok().map(|length| length.as_secs())
    }

    /// The window on the clock: its cron, time zone and length.
    pub fn window(&self) -> Window<'_> {
        Window { cron: &self.cron, timezone: &self.timezone, length: self.length_seconds() }
    }

    /// The instance group the window resizes.
    pub fn instance_group(&self) -> Group {
        Group::parse(&self.group)
    }
}

/// A cluster's schedules (`path` is the cluster's): unique names, the cron, time zone and length
/// of each window, and the size it gives its group.
pub(super) fn check_schedules(path: &str, cluster: &Cluster, spec: &Spec, problems: &mut Problems) {
    check_unique(&format!("{path}.schedules"), cluster.schedules.iter().map(|s| s.name.as_str()), problems);
    for (index, schedule) in cluster.schedules.iter().enumerate() {
        let schedule_path = format!("{path}.schedules[{index}]");
        check_resource_name(&format!("{schedule_path}.name"), &schedule.name, problems);
        let cron = calendar::parse_cron(&schedule.cron)
            .map_err(|message| problems.add(format!("{schedule_path}.cron"), message))
            .ok();
        if let Err(message) = calendar::parse_timezone(&schedule.timezone) {
            problems.add(format!("{schedule_path}.timezone"), message);
        }
        match schedule.length() {
            Ok(length) => {
                if let Some(Err(message)) = cron.map(|cron| cron.end_after(length)) {
                    problems.add(format!("{schedule_path}.for"), message);
                }
            }
            Err(message) => problems.add(format!("{schedule_path}.for"), message),
        }
        check_resized_group(&schedule_path, &schedule.group, schedule.nodes, cluster, spec, problems);
    }
}

/// The names pipectl derives for schedules and jobs join a cluster's name to theirs with `-`, so
/// two different pairs can make one name (cluster `a-b` with job `c`, cluster `a` with job
/// `b-c`; job `x`'s run guard and job `x-run`'s guard): each must be the only one of its name.
pub(super) fn check_derived_batch_names(spec: &Spec, problems: &mut Problems) {
    use crate::names::{job_run_guard_name, job_schedule_names, job_state_machine_name, window_schedule_name};
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut claim = |name: String, path: String, problems: &mut Problems| match seen.get(&name) {
        Some(first) => problems.add(
            format!("{path}.name"),
            format!("pipectl would name this `{name}`, as it names {first}: rename one of them"),
        ),
        None => {
            seen.insert(name, path);
        }
    };
    // The cluster's and its jobs' alarms share one name space too (a job named `apps` would
    // make `<cluster>-apps-failed`, the cluster's own alarm).
    // The names do not depend on the year (only an idle alarm's windows do): the horizon's is as
    // good as any, and keeps validation from reading the clock.
    let year = crate::calendar::horizon_start().map_or(2026, |day| day.year());
    let (jobs, others): (Vec<_>, Vec<_>) =
        derived_alarms(spec, year).into_iter().partition(|alarm| matches!(alarm.watched, Watched::Job { .. }));
    let others: HashSet<String> = others.into_iter().map(|alarm| alarm.name).collect();
    for (c, cluster) in spec.clusters.iter().enumerate() {
        for (j, job) in cluster.jobs.iter().enumerate() {
            let of_this_job = |alarm: &&AlarmSpec| {
                alarm.watched == Watched::Job { cluster: cluster.name.clone(), job: job.name.clone() }
            };
            for alarm in jobs.iter().filter(of_this_job).filter(|alarm| others.contains(&alarm.name)) {
                problems.add(
                    format!("clusters[{c}].jobs[{j}].name"),
                    format!(
                        "pipectl would name this job's alarm `{}`, which is another alarm of the pipeline: rename the job",
                        alarm.name
                    ),
                );
            }
        }
    }
    for (c, cluster) in spec.clusters.iter().enumerate() {
        for (s, schedule) in cluster.schedules.iter().enumerate() {
            for edge in ["up", "down"] {
                let path = format!("clusters[{c}].schedules[{s}]");
                claim(
                    format!("schedule {}", window_schedule_name(&cluster.name, &schedule.name, edge)),
                    path,
                    problems,
                );
            }
        }
        for (j, job) in cluster.jobs.iter().enumerate() {
            let path = format!("clusters[{c}].jobs[{j}]");
            let [start, guard] = job_schedule_names(&cluster.name, &job.name);
            for name in [start, guard, job_run_guard_name(&cluster.name, &job.name)] {
                claim(format!("schedule {name}"), path.clone(), problems);
            }
            let machine = job_state_machine_name(&spec.pipeline, &cluster.name, &job.name);
            claim(format!("state machine {machine}"), path, problems);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::checks::testing::{cluster_spec, messages};

    #[test]
    fn schedules_above_a_groups_cap_and_caps_below_the_baseline_are_refused() {
        let network = "  endpoints: [s3]\n";
        let night = |nodes: i64| {
            format!(
                "    schedules:\n      - {{name: night, cron: '0 2 * * *', group: batch, nodes: {nodes}, for: 4h}}\n"
            )
        };
        // The default cap of a task group of 0 nodes is 20: the 02:00 scale-out to 20 fits.
        assert_eq!(messages(&cluster_spec("", network, &night(20))), Vec::<String>::new());
        assert_eq!(
            messages(&cluster_spec("", network, &night(200))),
            vec!["clusters[0].schedules[0].nodes: 200 nodes exceed the default cap (20 = max(4 × 0, 20)) of the task group 'batch'; raise `clusters[0].task_groups[0].max_nodes` in the spec to allow more"]
        );
        let capped = cluster_spec("", network, &night(20)).replace("nodes: 0}", "nodes: 0, max_nodes: 10}");
        assert_eq!(
            messages(&capped),
            vec!["clusters[0].schedules[0].nodes: 20 nodes exceed max_nodes (10) of the task group 'batch'; raise `clusters[0].task_groups[0].max_nodes` in the spec to allow more"]
        );
        let below = cluster_spec("", network, "").replace("nodes: 2}", "nodes: 2, max_nodes: 1}");
        assert_eq!(
            messages(&below),
            vec!["clusters[0].core.max_nodes: 1 is below the group's baseline: must be at least 2"]
        );
    }
}

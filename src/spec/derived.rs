//! Every AWS name pipectl derives from the spec, checked against its service's limit from the
//! one table of limits (`names::NAME_LIMITS`) at validation, so that no derived name fails its
//! create call after part of the pipeline exists (a window's scale-down schedule after the
//! cluster launched, say). IAM role names, which carry the region's code, are checked with the
//! roles (`iam::check_iam_name`, against the same table's limit).

use chrono::Datelike;

use super::alarms::derived_alarms;
use super::checks::Problems;
use super::pipeline::Spec;
use crate::names::{
    alarm_name, alarm_topic_name, crawler_name, emr_cluster_name, emr_security_group, job_run_guard_name,
    job_schedule_names, job_state_machine_name, name_too_long, scale_back_schedule_name, schedule_name,
    schedules_dlq_name, security_group_name, window_schedule_name, NameKind,
};

/// Reports each derived name longer than its service allows, at the spec field to shorten.
pub(super) fn check(spec: &Spec, problems: &mut Problems) {
    let pipeline = spec.pipeline.as_str();
    let mut name = |path: String, kind: NameKind, derived: String, shorten: &str| {
        if let Some(why) = name_too_long(kind, &derived) {
            problems.add(path, format!("{why}: shorten {shorten}"));
        }
    };
    if spec.clusters.iter().any(|cluster| cluster.has_schedules()) {
        name("pipeline".into(), NameKind::Queue, schedules_dlq_name(pipeline), "the pipeline name");
    }
    name("pipeline".into(), NameKind::Topic, alarm_topic_name(pipeline), "the pipeline name");
    for (c, cluster) in spec.clusters.iter().enumerate() {
        let path = format!("clusters[{c}]");
        let shorten = "the cluster or pipeline name";
        name(format!("{path}.name"), NameKind::EmrCluster, emr_cluster_name(pipeline, &cluster.name), shorten);
        for role in ["master", "core", "service"] {
            let group = security_group_name(pipeline, &emr_security_group(&cluster.name, role));
            name(format!("{path}.name"), NameKind::SecurityGroup, group, shorten);
        }
        // The one-time scale-back `pipectl scale --for/--until` leaves for each group.
        let scale_back = |group: &str| scale_back_schedule_name(pipeline, &cluster.name, group);
        name(format!("{path}.name"), NameKind::Schedule, scale_back("core"), shorten);
        for (g, group) in cluster.task_groups.iter().enumerate() {
            let shorten = "the task group, cluster or pipeline name";
            name(format!("{path}.task_groups[{g}].name"), NameKind::Schedule, scale_back(&group.name), shorten);
        }
        for (s, window) in cluster.schedules.iter().enumerate() {
            let shorten = "the schedule, cluster or pipeline name";
            for edge in ["up", "down"] {
                let derived = schedule_name(pipeline, &window_schedule_name(&cluster.name, &window.name, edge));
                name(format!("{path}.schedules[{s}].name"), NameKind::Schedule, derived, shorten);
            }
        }
        for (j, job) in cluster.jobs.iter().enumerate() {
            let job_path = format!("{path}.jobs[{j}].name");
            let shorten = "the job, cluster or pipeline name";
            let [start, guard] = job_schedule_names(&cluster.name, &job.name);
            for schedule in [start, guard, job_run_guard_name(&cluster.name, &job.name)] {
                name(job_path.clone(), NameKind::Schedule, schedule_name(pipeline, &schedule), shorten);
            }
            let machine = job_state_machine_name(pipeline, &cluster.name, &job.name);
            name(job_path, NameKind::StateMachine, machine, shorten);
        }
    }
    for (g, group) in spec.network.iter().flat_map(|network| network.security_groups.iter().enumerate()) {
        let derived = security_group_name(pipeline, &group.name);
        name(
            format!("network.security_groups[{g}].name"),
            NameKind::SecurityGroup,
            derived,
            "the group or pipeline name",
        );
    }
    for (c, crawler) in spec.catalog.iter().flat_map(|catalog| catalog.crawlers.iter().enumerate()) {
        let derived = crawler_name(pipeline, &crawler.name);
        name(format!("catalog.crawlers[{c}].name"), NameKind::Crawler, derived, "the crawler or pipeline name");
    }
    // The names do not depend on the year (only an idle alarm's windows do).
    let year = crate::calendar::horizon_start().map_or(2026, |day| day.year());
    for alarm in derived_alarms(spec, year) {
        let derived = alarm_name(pipeline, &alarm.name);
        name("alarms".into(), NameKind::Alarm, derived, "the watched resource's or the pipeline's name");
    }
}

#[cfg(test)]
mod tests {
    use super::super::checks::testing::{cluster_spec, messages};

    #[test]
    fn a_window_whose_schedule_name_is_too_long_is_refused() {
        let network = "  endpoints: [s3]\n";
        let window = |name: &str| {
            format!("    schedules: [{{name: {name}, cron: '0 2 * * *', group: batch, nodes: 8, for: 2h}}]\n")
        };
        // `pipectl-demo-spark-<name>-down`: 24 characters around the name, 64 at most.
        assert!(messages(&cluster_spec("", network, &window(&"n".repeat(40)))).is_empty());
        let found = messages(&cluster_spec("", network, &window(&"n".repeat(41))));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(
                "clusters[0].schedules[0].name: the EventBridge Scheduler schedule `pipectl-demo-spark-nnnn"
            ),
            "{found:?}"
        );
        assert!(
            found[0].ends_with(
                "-down` would be 65 characters; AWS allows at most 64: shorten the schedule, cluster or pipeline name"
            ),
            "{found:?}"
        );
    }

    #[test]
    fn a_task_group_whose_scale_back_name_is_too_long_is_refused() {
        let long = "b".repeat(40);
        let yaml = cluster_spec("", "  endpoints: [s3]\n", "").replace("name: batch,", &format!("name: {long},"));
        let found = messages(&yaml);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("clusters[0].task_groups[0].name: the EventBridge Scheduler schedule"),
            "{found:?}"
        );
    }
}

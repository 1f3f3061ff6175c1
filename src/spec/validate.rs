//! Semantic validation of a parsed spec: everything AWS would reject, and everything that would
//! make a plan fail halfway, found before the first API call. Every problem is collected (not just
//! the first) and carries the field path it is about.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::cidr::Cidr;
use super::group::{CapSource, Group};
use super::suggest::did_you_mean;
use super::types::{
    Bucket, BucketEncryption, Cluster, Delivery, DeliveryEncryption, Iam, Network, Ports, Role, Rule, SecurityGroup,
    Spec, Stream, StreamEncryption, StreamMode,
};
use crate::names::{derived_cluster_roles, derived_delivery_role, region_code};

/// Kinesis limits: retention from 24 hours to 365 days; shards per stream bounded by the default
/// account quota (500 in the largest regions; raise the quota and this limit together).
pub const MIN_RETENTION_HOURS: i64 = 24;
pub const MAX_RETENTION_HOURS: i64 = 8760;
pub const MAX_SHARDS: i64 = 500;
/// AWS allows 50 tags per resource; pipectl uses 2 of them.
pub const MAX_USER_TAGS: usize = 48;
pub const STORAGE_CLASSES: [&str; 6] =
    ["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"];
/// The order in which S3 Lifecycle may move objects ("the waterfall", S3 User Guide,
/// "Transitioning objects using Amazon S3 Lifecycle"): a transition only ever goes further down.
const WATERFALL: [&str; 6] =
    ["STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"];
/// Objects stay at least this long in STANDARD_IA or ONEZONE_IA before S3 moves them on.
const IA_MINIMUM_DAYS: i64 = 30;

/// One problem found in a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem { path: path.into(), message: message.into() });
    }
}

/// Every problem in `spec`, in document order; empty when the spec is valid.
pub fn validate(spec: &Spec) -> Vec<Problem> {
    let mut problems = Problems::default();
    if spec.version != 1 {
        problems.add("version", format!("unsupported spec version {}; this pipectl reads version 1", spec.version));
    }
    check_pipeline_name(&spec.pipeline, &mut problems);
    check_region(&spec.region, &mut problems);
    check_tags("tags", &spec.tags, &mut problems);
    if let Some(network) = &spec.network {
        check_network(network, &spec.region, &mut problems);
    }
    check_unique("buckets", spec.buckets.iter().map(|bucket| bucket.name.as_str()), &mut problems);
    for (index, bucket) in spec.buckets.iter().enumerate() {
        check_bucket(&format!("buckets[{index}]"), bucket, &mut problems);
    }
    check_unique("streams", spec.streams.iter().map(|stream| stream.name.as_str()), &mut problems);
    for (index, stream) in spec.streams.iter().enumerate() {
        check_stream(&format!("streams[{index}]"), stream, &mut problems);
    }
    check_unique("roles", spec.roles.iter().map(|role| role.name.as_str()), &mut problems);
    for (index, role) in spec.roles.iter().enumerate() {
        check_role(&format!("roles[{index}]"), role, spec, &mut problems);
    }
    if let Some(iam) = &spec.iam {
        check_iam(iam, &spec.region, &mut problems);
    }
    check_unique("clusters", spec.clusters.iter().map(|cluster| cluster.name.as_str()), &mut problems);
    for (index, cluster) in spec.clusters.iter().enumerate() {
        check_cluster(&format!("clusters[{index}]"), cluster, spec, &mut problems);
    }
    check_derived_batch_names(spec, &mut problems);
    check_unique("deliveries", spec.deliveries.iter().map(|delivery| delivery.name.as_str()), &mut problems);
    for (index, delivery) in spec.deliveries.iter().enumerate() {
        check_delivery(&format!("deliveries[{index}]"), delivery, spec, &mut problems);
    }
    if let Some(catalog) = &spec.catalog {
        check_tags("catalog.tags", &catalog.tags, &mut problems);
        problems.0.extend(super::catalog::problems(catalog, spec));
        problems.0.extend(super::catalog::crawler_problems(catalog, spec));
        for (index, crawler) in catalog.crawlers.iter().enumerate() {
            let path = format!("catalog.crawlers[{index}].name");
            check_resource_name(&path, &crawler.name, &mut problems);
            check_iam_name(&path, spec, &crate::names::derived_crawler_role(&crawler.name), &mut problems);
        }
    }
    problems.0.extend(super::catalog::use_problems(spec));
    if let Some(query) = &spec.query {
        check_tags("query.tags", &query.tags, &mut problems);
        problems.0.extend(super::query::problems(query, spec));
    }
    if let Some(alarms) = &spec.alarms {
        check_tags("alarms.tags", &alarms.tags, &mut problems);
        problems.0.extend(super::alarms::problems(alarms, spec));
    }
    problems.0
}

/// Applications EMR installs, as its API spells them.
pub const EMR_APPLICATIONS: [&str; 20] = [
    "Spark",
    "Hadoop",
    "Hive",
    "Livy",
    "Zeppelin",
    "JupyterEnterpriseGateway",
    "JupyterHub",
    "Presto",
    "Trino",
    "HBase",
    "Flink",
    "Tez",
    "Pig",
    "Hue",
    "Oozie",
    "Sqoop",
    "Phoenix",
    "ZooKeeper",
    "HCatalog",
    "Ganglia",
];

fn check_reference(path: &str, kind: &str, name: &str, known: &[&str], problems: &mut Problems) {
    if !known.contains(&name) {
        let hint =
            did_you_mean(name, known.iter().copied()).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
        problems.add(path, format!("no {kind} named `{name}` in this spec{hint}"));
    }
}

fn check_instance_type(path: &str, instance_type: &str, problems: &mut Problems) {
    let valid = instance_type.split_once('.').is_some_and(|(family, size)| {
        !family.is_empty()
            && !size.is_empty()
            && instance_type.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    });
    if !valid {
        problems.add(path, format!("`{instance_type}` is not an EC2 instance type such as `m5.xlarge`"));
    }
}

fn check_cluster(path: &str, cluster: &Cluster, spec: &Spec, problems: &mut Problems) {
    let name_ok = (1..=40).contains(&cluster.name.len())
        && cluster.name.starts_with(|c: char| c.is_ascii_lowercase())
        && cluster.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !name_ok {
        problems.add(
            format!("{path}.name"),
            format!("`{}` is not a valid cluster name: use 1-40 lowercase letters, digits and hyphens", cluster.name),
        );
    }
    for role in derived_cluster_roles(&cluster.name) {
        check_iam_name(&format!("{path}.name"), spec, &role, problems);
    }
    let release_ok = cluster
        .release
        .strip_prefix("emr-")
        .is_some_and(|version| !version.is_empty() && version.chars().all(|c| c.is_ascii_digit() || c == '.'));
    if !release_ok {
        problems.add(
            format!("{path}.release"),
            format!("`{}` is not an EMR release label such as `emr-7.2.0`", cluster.release),
        );
    }
    if cluster.applications.is_empty() {
        problems.add(format!("{path}.applications"), "name at least one application, such as Spark");
    }
    for (index, application) in cluster.applications.iter().enumerate() {
        if !EMR_APPLICATIONS.contains(&application.as_str()) {
            let hint = did_you_mean(application, EMR_APPLICATIONS)
                .map(|a| format!(" (did you mean `{a}`?)"))
                .unwrap_or_default();
            problems
                .add(format!("{path}.applications[{index}]"), format!("unknown EMR application `{application}`{hint}"));
        }
    }
    let subnets: Vec<&str> = spec.network.iter().flat_map(|n| &n.subnets).map(|s| s.name.as_str()).collect();
    check_reference(&format!("{path}.subnet"), "subnet", &cluster.subnet, &subnets, problems);
    if let Some(network) = &spec.network {
        check_cluster_network(path, cluster, network, problems);
    }
    let groups: Vec<&str> = spec.network.iter().flat_map(|n| &n.security_groups).map(|g| g.name.as_str()).collect();
    for (index, group) in cluster.security_groups.iter().enumerate() {
        check_reference(&format!("{path}.security_groups[{index}]"), "security group", group, &groups, problems);
    }
    if let Some(logs) = &cluster.logs {
        let buckets: Vec<&str> = spec.buckets.iter().map(|b| b.name.as_str()).collect();
        check_reference(&format!("{path}.logs.bucket"), "bucket", &logs.bucket, &buckets, problems);
    }
    if ![1, 3].contains(&cluster.master.count) {
        problems.add(format!("{path}.master.count"), "must be 1, or 3 for high availability");
    }
    check_instance_type(&format!("{path}.master.type"), &cluster.master.instance_type, problems);
    check_instance_type(&format!("{path}.core.type"), &cluster.core.instance_type, problems);
    if !(1..=500).contains(&cluster.core.nodes) {
        problems.add(format!("{path}.core.nodes"), "must be between 1 and 500 (HDFS needs at least one core node)");
    }
    let replication = cluster
        .configurations
        .iter()
        .filter(|c| c.classification == "hdfs-site")
        .find_map(|c| c.properties.get("dfs.replication"))
        .and_then(|value| value.parse::<i64>().ok());
    if let Some(replication) = replication {
        if cluster.core.nodes < replication {
            problems.add(
                format!("{path}.core.nodes"),
                format!("{} core nodes cannot hold dfs.replication = {replication} copies", cluster.core.nodes),
            );
        }
    }
    if let Some(gib) = cluster.core.ebs_gib {
        if !(1..=16384).contains(&gib) {
            problems.add(format!("{path}.core.ebs_gib"), "must be between 1 and 16384 GiB");
        }
    }
    check_unique(&format!("{path}.task_groups"), cluster.task_groups.iter().map(|g| g.name.as_str()), problems);
    for (index, group) in cluster.task_groups.iter().enumerate() {
        let group_path = format!("{path}.task_groups[{index}]");
        check_resource_name(&format!("{group_path}.name"), &group.name, problems);
        if ["core", "master"].contains(&group.name.as_str()) {
            problems.add(format!("{group_path}.name"), "`core` and `master` name the built-in groups");
        }
        check_instance_type(&format!("{group_path}.type"), &group.instance_type, problems);
        if !(0..=500).contains(&group.nodes) {
            problems.add(format!("{group_path}.nodes"), "must be between 0 and 500");
        }
        check_max_nodes(&group_path, group.nodes, group.max_nodes, problems);
    }
    check_max_nodes(&format!("{path}.core"), cluster.core.nodes, cluster.core.max_nodes, problems);
    for (index, configuration) in cluster.configurations.iter().enumerate() {
        if configuration.classification.is_empty() {
            problems.add(format!("{path}.configurations[{index}].classification"), "must not be empty");
        }
    }
    for (index, action) in cluster.bootstrap.iter().enumerate() {
        if !action.path.starts_with("s3://") {
            problems.add(
                format!("{path}.bootstrap[{index}].path"),
                format!("`{}` must be an S3 path (s3://bucket/script.sh)", action.path),
            );
        }
    }
    if let Some(timeout) = &cluster.idle_timeout {
        match crate::calendar::parse_duration(timeout) {
            Ok(duration) if (60..=7 * 86_400).contains(&duration.as_secs()) => {
                check_idle_timeout(path, cluster, duration, problems);
            }
            Ok(_) => problems.add(format!("{path}.idle_timeout"), "must be between 1m and 7d"),
            Err(message) => problems.add(format!("{path}.idle_timeout"), message),
        }
    }
    let baseline: i64 = cluster.core.nodes + cluster.task_groups.iter().map(|g| g.nodes).sum::<i64>();
    if let Some(scaling) = &cluster.managed_scaling {
        let scaling_path = format!("{path}.managed_scaling");
        if scaling.min < 1 || scaling.min > scaling.max {
            problems.add(format!("{scaling_path}.min"), format!("must be between 1 and max ({})", scaling.max));
        }
        if !(scaling.min..=scaling.max).contains(&baseline) {
            problems.add(
                &scaling_path,
                format!(
                    "the baseline of {baseline} core and task nodes is outside min {} - max {}",
                    scaling.min, scaling.max
                ),
            );
        }
        for (field, value) in [("max_on_demand", scaling.max_on_demand), ("max_core", scaling.max_core)] {
            if value.is_some_and(|value| value < 1 || value > scaling.max) {
                problems.add(format!("{scaling_path}.{field}"), format!("must be between 1 and max ({})", scaling.max));
            }
        }
    }
    check_unique(&format!("{path}.schedules"), cluster.schedules.iter().map(|s| s.name.as_str()), problems);
    for (index, schedule) in cluster.schedules.iter().enumerate() {
        let schedule_path = format!("{path}.schedules[{index}]");
        check_resource_name(&format!("{schedule_path}.name"), &schedule.name, problems);
        let cron = crate::calendar::parse_cron(&schedule.cron)
            .map_err(|message| problems.add(format!("{schedule_path}.cron"), message))
            .ok();
        if let Err(message) = crate::calendar::parse_timezone(&schedule.timezone) {
            problems.add(format!("{schedule_path}.timezone"), message);
        }
        match crate::calendar::parse_duration(&schedule.duration) {
            Ok(length) => {
                if let Some(Err(message)) = cron.map(|cron| cron.end_after(length)) {
                    problems.add(format!("{schedule_path}.for"), message);
                }
            }
            Err(message) => problems.add(format!("{schedule_path}.for"), message),
        }
        check_resized_group(&schedule_path, &schedule.group, schedule.nodes, cluster, spec, problems);
    }
    check_jobs(path, cluster, spec, problems);
    check_tags(&format!("{path}.tags"), &cluster.tags, problems);
}

/// A cluster's jobs: names, cron and time zone as for schedules, the group's size as for
/// schedules, the steps (`spec::jobs`), the derived names' limits, and no two windows (jobs'
/// and schedules') on one group at the same time: a schedule's `down` edge would cut a job
/// short, and two jobs would fight over the group's size.
fn check_jobs(path: &str, cluster: &Cluster, spec: &Spec, problems: &mut Problems) {
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
        check_iam_name(
            &format!("{job_path}.name"),
            spec,
            &crate::names::derived_job_role(&cluster.name, &job.name),
            problems,
        );
        let machine = crate::names::job_state_machine_name(&spec.pipeline, &cluster.name, &job.name);
        if machine.len() > crate::names::MAX_STATE_MACHINE_NAME {
            problems.add(
                format!("{job_path}.name"),
                format!(
                    "the state machine `{machine}` would be {} characters; Step Functions allows {}: shorten the job, cluster or pipeline name",
                    machine.len(),
                    crate::names::MAX_STATE_MACHINE_NAME
                ),
            );
        }
        // "Name: Length Constraints: Minimum length of 1. Maximum length of 64." (EventBridge
        // Scheduler API Reference, CreateSchedule).
        // The longest of a job's schedule names: the guard `pipectl run` leaves.
        let run_guard = crate::names::job_run_guard_name(&cluster.name, &job.name);
        let schedule = crate::names::schedule_name(&spec.pipeline, &run_guard);
        if schedule.len() > 64 {
            problems.add(
                format!("{job_path}.name"),
                format!("the schedule `{schedule}` would be {} characters; EventBridge Scheduler allows 64: shorten the job, cluster or pipeline name", schedule.len()),
            );
        }
        match crate::calendar::parse_cron(&job.cron) {
            Err(message) => problems.add(format!("{job_path}.cron"), message),
            Ok(_) if job.timeout_seconds().is_some() => check_guard(&job_path, job, problems),
            Ok(_) => {}
        }
        if let Err(message) = crate::calendar::parse_timezone(&job.timezone) {
            problems.add(format!("{job_path}.timezone"), message);
        }
        check_resized_group(&job_path, &job.group, job.nodes, cluster, spec, problems);
        if !cluster.applications.iter().any(|application| application == "Spark") {
            problems.add(
                format!("{job_path}.steps"),
                "a job's steps run `spark-submit`: add Spark to the cluster's `applications`",
            );
        }
        for (field, message) in super::jobs::step_problems(&job_path, job, spec) {
            problems.add(field, message);
        }
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
    if let Some((first, second)) = colliding_windows(cluster) {
        problems.add(
            format!("{path}.jobs"),
            format!("{first} and {second} resize the same group at overlapping times: move one of them, or give them different groups"),
        );
    }
}

/// Whether a release label (`emr-5.27.0`) is older than `major.minor`; a label that does not
/// parse is reported on its own.
fn release_before(release: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = release.trim_start_matches("emr-").split('.').map(|part| part.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(got_major), Some(got_minor)) => (got_major, got_minor) < (major, minor),
        _ => false,
    }
}

/// The names pipectl derives for schedules and jobs join a cluster's name to theirs with `-`, so
/// two different pairs can make one name (cluster `a-b` with job `c`, cluster `a` with job
/// `b-c`; job `x`'s run guard and job `x-run`'s guard): each must be the only one of its name.
fn check_derived_batch_names(spec: &Spec, problems: &mut Problems) {
    use crate::names::{job_run_guard_name, job_schedule_names, job_state_machine_name, window_schedule_name};
    let mut seen: std::collections::HashMap<String, String> = std::collections::HashMap::new();
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
    let (jobs, others): (Vec<_>, Vec<_>) = super::alarms::derived_alarms(spec)
        .into_iter()
        .partition(|alarm| matches!(alarm.watched, super::alarms::Watched::Job { .. }));
    let others: HashSet<String> = others.into_iter().map(|alarm| alarm.name).collect();
    for (c, cluster) in spec.clusters.iter().enumerate() {
        for (j, job) in cluster.jobs.iter().enumerate() {
            let of_this_job = |alarm: &&super::alarms::AlarmSpec| {
                alarm.watched == super::alarms::Watched::Job { cluster: cluster.name.clone(), job: job.name.clone() }
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

/// The job's `guard` schedule must exist every night: a daily cron (it may fall after midnight),
/// in whole minutes, at a local time that no clock change skips ("your schedule invocation gets
/// skipped if the cron expression falls on a non-existent date and time", EventBridge Scheduler
/// User Guide, "Schedule types"), checked over two years.
fn check_guard(job_path: &str, job: &super::jobs::Job, problems: &mut Problems) {
    use chrono::TimeZone;
    let guard = match job.guard_cron() {
        Ok(guard) => guard,
        Err(message) => {
            problems.add(format!("{job_path}.timeout"), format!("the job's guard (timeout + 15 minutes, + 1 hour where clocks change) cannot be scheduled: {message}"));
            return;
        }
    };
    let Ok(zone) = crate::calendar::parse_timezone(&job.timezone) else { return };
    let Some(first) = chrono::NaiveDate::from_ymd_opt(2026, 1, 1) else { return };
    for date in first.iter_days().take(731) {
        let Some(local) = date.and_hms_opt(guard.hour, guard.minute, 0) else { continue };
        if zone.from_local_datetime(&local).earliest().is_none() {
            problems.add(
                format!("{job_path}.cron"),
                format!(
                    "the job's guard would fire at {:02}:{:02} {}, a time the clock change of {date} skips, and EventBridge Scheduler would skip it: move the start or the timeout",
                    guard.hour, guard.minute, job.timezone
                ),
            );
            return;
        }
    }
}

/// The first two windows on one group that overlap, as `schedule 'x'` / `job 'y'`, each placed
/// in its own time zone over two years (`None` when none do, or a window is invalid: that is
/// reported on its own).
fn colliding_windows(cluster: &Cluster) -> Option<(String, String)> {
    let mut windows: Vec<(String, i64, i64, String)> = Vec::new();
    for window in batch_windows(cluster) {
        let (label, group, cron, timezone, length) = window;
        for (start, end) in window_times(cron, timezone, length)? {
            windows.push((Group::parse(group).name().to_string(), start, end, label.clone()));
        }
    }
    windows.sort_unstable();
    windows.windows(2).find_map(|pair| {
        let ((group_a, _, end_a, label_a), (group_b, start_b, _, label_b)) = (&pair[0], &pair[1]);
        (group_a == group_b && *start_b < *end_a && label_a != label_b).then(|| (label_a.clone(), label_b.clone()))
    })
}

/// Every window in which a cluster's group runs resized: (`schedule 'x'` or `job 'y'`, the
/// group, cron, time zone, length). A job's window lasts until its guard schedule has fired.
fn batch_windows(cluster: &Cluster) -> Vec<(String, &str, &str, &str, Option<u64>)> {
    let schedules = cluster.schedules.iter().map(|schedule| {
        let length = crate::calendar::parse_duration(&schedule.duration).ok().map(|length| length.as_secs());
        (
            format!("schedule '{}'", schedule.name),
            schedule.group.as_str(),
            schedule.cron.as_str(),
            schedule.timezone.as_str(),
            length,
        )
    });
    let jobs = cluster.jobs.iter().map(|job| {
        let length = job.guard_after_seconds();
        (format!("job '{}'", job.name), job.group.as_str(), job.cron.as_str(), job.timezone.as_str(), length)
    });
    schedules.chain(jobs).collect()
}

/// The size a schedule or a job gives a group (`item_path` is the schedule's or job's): the group
/// exists, HDFS keeps its replicas, and the size stays within managed scaling and the group's cap.
fn check_resized_group(
    item_path: &str,
    group_text: &str,
    nodes: i64,
    cluster: &Cluster,
    spec: &Spec,
    problems: &mut Problems,
) {
    let baseline: i64 = cluster.core.nodes + cluster.task_groups.iter().map(|g| g.nodes).sum::<i64>();
    let max = cluster.managed_scaling.as_ref().map(|scaling| scaling.max);
    let group = Group::parse(group_text);
    match group.baseline(cluster) {
        None => {
            let mut names: Vec<&str> = vec!["core"];
            names.extend(cluster.task_groups.iter().map(|g| g.name.as_str()));
            check_reference(&format!("{item_path}.group"), "instance group", group_text, &names, problems);
        }
        Some(baseline_nodes) => {
            let floor = match group {
                Group::Core => crate::calendar::replication_floor(cluster.core.nodes),
                Group::Task(_) => 0,
            };
            if nodes < floor || nodes > 500 {
                problems.add(format!("{item_path}.nodes"), format!("must be between {floor} and 500"));
            }
            if let Some(max) = max {
                if baseline - baseline_nodes + nodes > max {
                    problems.add(
                        format!("{item_path}.nodes"),
                        format!("{} nodes would exceed managed_scaling.max ({max})", nodes),
                    );
                }
            }
            // managed_scaling.max is checked above for the whole cluster.
            if let Some(cap) = group.cap(cluster).filter(|cap| cap.source != CapSource::ManagedScaling) {
                if nodes > cap.nodes {
                    problems.add(
                        format!("{item_path}.nodes"),
                        format!(
                            "{} nodes exceed {} of the {}; raise `{}` in the spec to allow more",
                            nodes,
                            cap.describe(baseline_nodes),
                            group.label(),
                            group.max_nodes_path(spec, cluster)
                        ),
                    );
                }
            }
        }
    }
}

/// A group's `max_nodes` (its cap for `pipectl scale` and schedules) must leave room for its
/// baseline.
fn check_max_nodes(group_path: &str, nodes: i64, max_nodes: Option<i64>, problems: &mut Problems) {
    if let Some(max) = max_nodes.filter(|max| *max < nodes.max(1)) {
        problems.add(
            format!("{group_path}.max_nodes"),
            format!("{max} is below the group's baseline: must be at least {}", nodes.max(1)),
        );
    }
}

/// Where a cluster's instances can reach, and the names pipectl derives for its EMR-managed
/// security groups.
fn check_cluster_network(path: &str, cluster: &Cluster, network: &Network, problems: &mut Problems) {
    if let Some(subnet) = network.subnets.iter().find(|subnet| subnet.name == cluster.subnet) {
        // "When launching an Amazon EMR cluster in a private subnet, you must provide a route to
        // Amazon S3" (Amazon EMR Management Guide, "Sample policies for private subnets that
        // access Amazon S3"): the log bucket, the Amazon Linux and EMR repositories.
        if !network.reaches_s3(&subnet.name) {
            problems.add(
                format!("{path}.subnet"),
                format!(
                    "subnet `{}` has no route to S3, which EMR needs to start the cluster (the Amazon Linux and EMR repositories are S3 buckets, and so is the log bucket): add `endpoints: [s3]` to `network` (a gateway endpoint, free), or `nat: single` (a NAT gateway, billed per hour and per GB), or use a public subnet",
                    subnet.name
                ),
            );
        }
        // "Amazon EMR cannot communicate with clusters in public subnets through a network address
        // translation (NAT) device. An internet gateway is required" ("Amazon VPC options"): an
        // instance reaches the internet gateway only with a public IPv4 address.
        if subnet.public && !subnet.maps_public_ip() {
            problems.add(
                format!("{path}.subnet"),
                format!(
                    "subnet `{}` is public but gives instances no public IP (`map_public_ip: false`); EMR reaches a cluster in a public subnet only through the internet gateway, which needs one: drop `map_public_ip: false`, or use a private subnet with `endpoints: [s3]`",
                    subnet.name
                ),
            );
        }
    }
    for role in ["master", "core", "service"] {
        let derived = crate::names::emr_security_group(&cluster.name, role);
        if let Some(index) = network.security_groups.iter().position(|group| group.name == derived) {
            problems.add(
                format!("network.security_groups[{index}].name"),
                format!("`{derived}` is the name of a security group pipectl creates for EMR to manage on cluster `{}`: rename this one", cluster.name),
            );
        }
    }
}

/// An idle timeout must outlast the quiet hours between a cluster's schedule windows: EMR counts
/// a cluster with no running work as idle ("Using an auto-termination policy"), a group scaled up
/// by a schedule is not work, and a terminated cluster makes the next window's
/// ModifyInstanceGroups fail with nobody told.
fn check_idle_timeout(path: &str, cluster: &Cluster, timeout: std::time::Duration, problems: &mut Problems) {
    if cluster.schedules.is_empty() && cluster.jobs.is_empty() {
        return;
    }
    // An invalid schedule or job is reported on its own.
    let Some(gap) = longest_gap_between_windows(cluster) else { return };
    let timeout_text = cluster.idle_timeout.as_deref().unwrap_or_default();
    let gap_text = match gap {
        Some(gap) if gap.as_secs() < 7 * 86_400 => {
            format!("{}; set `idle_timeout` above that, or remove it", hours(gap))
        }
        Some(gap) => format!("{} (EMR allows at most 7d): remove `idle_timeout`", hours(gap)),
        None => "over a year (the windows are that rare): remove `idle_timeout`".to_string(),
    };
    if gap.is_none_or(|gap| timeout <= gap) {
        problems.add(
            format!("{path}.idle_timeout"),
            format!(
                "`{timeout_text}` would end the cluster between its schedule windows: EMR terminates a cluster that runs no work for that long, and the next window's ModifyInstanceGroups would find no cluster (EventBridge Scheduler drops the failed call). The longest time from the end of one window to the start of the next is {gap_text}"
            ),
        );
    }
}

/// `20h`, `2d 20h`, `19h 30m`.
fn hours(duration: std::time::Duration) -> String {
    let minutes = duration.as_secs() / 60;
    let (days, hours, minutes) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days}d"));
    }
    if hours > 0 {
        parts.push(format!("{hours}h"));
    }
    if minutes > 0 || parts.is_empty() {
        parts.push(format!("{minutes}m"));
    }
    parts.join(" ")
}

/// The longest time between the end of one window of the cluster's schedules and jobs and the
/// start of the next: `Some(None)` when fewer than two windows start in two years, `None` when a
/// schedule or job is invalid.
fn longest_gap_between_windows(cluster: &Cluster) -> Option<Option<std::time::Duration>> {
    let mut windows: Vec<(i64, i64)> = Vec::new();
    for (_, _, cron, timezone, length) in batch_windows(cluster) {
        windows.extend(window_times(cron, timezone, length)?);
    }
    windows.sort_unstable();
    if windows.len() < 2 {
        return Some(None);
    }
    let mut end = windows[0].1;
    let mut longest = 0;
    for (start, finish) in windows.into_iter().skip(1) {
        longest = longest.max(start - end);
        end = end.max(finish);
    }
    Some(Some(std::time::Duration::from_secs(u64::try_from(longest).ok()?)))
}

/// The (start, end) of each window of `cron` in `timezone` lasting `length` seconds, as Unix
/// times over two years from a fixed date; `None` when any of them does not parse.
fn window_times(cron: &str, timezone: &str, length: Option<u64>) -> Option<Vec<(i64, i64)>> {
    window_times_from(chrono::NaiveDate::from_ymd_opt(2026, 1, 1)?, 731, cron, timezone, length)
}

/// The windows of the cluster's schedules and jobs on `group` that overlap `from`..`to` (Unix
/// times), as `job 'x'` / `schedule 'y'` with their start in UTC: what a run by hand between
/// those times would collide with.
pub fn windows_overlapping(cluster: &Cluster, group: &str, from: i64, to: i64) -> Vec<String> {
    let group = Group::parse(group);
    let Some(first) = chrono::DateTime::from_timestamp(from, 0).map(|t| t.date_naive() - chrono::Days::new(1)) else {
        return Vec::new();
    };
    let days = usize::try_from((to - from) / 86_400 + 3).unwrap_or(3);
    let mut found = Vec::new();
    for (label, window_group, cron, timezone, length) in batch_windows(cluster) {
        if Group::parse(window_group) != group {
            continue;
        }
        for (start, end) in window_times_from(first, days, cron, timezone, length).unwrap_or_default() {
            if start < to && from < end {
                let at = chrono::DateTime::from_timestamp(start, 0).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string());
                found.push(format!("{label} (from {})", at.unwrap_or_default()));
            }
        }
    }
    found
}

/// The `schedules:` windows of the cluster open at `now` (Unix time): (group, its size in the
/// window, the schedule's name).
pub fn open_schedule_windows(cluster: &Cluster, now: i64) -> Vec<(String, i64, String)> {
    let Some(first) = chrono::DateTime::from_timestamp(now, 0).map(|t| t.date_naive() - chrono::Days::new(1)) else {
        return Vec::new();
    };
    let mut open = Vec::new();
    for schedule in &cluster.schedules {
        let length = crate::calendar::parse_duration(&schedule.duration).ok().map(|length| length.as_secs());
        let windows = window_times_from(first, 3, &schedule.cron, &schedule.timezone, length).unwrap_or_default();
        if windows.iter().any(|(start, end)| *start <= now && now < *end) {
            open.push((schedule.group.clone(), schedule.nodes, schedule.name.clone()));
        }
    }
    open
}

/// `window_times` over `days` days from `first`.
fn window_times_from(
    first: chrono::NaiveDate,
    days: usize,
    cron: &str,
    timezone: &str,
    length: Option<u64>,
) -> Option<Vec<(i64, i64)>> {
    use chrono::{Datelike, TimeZone};
    let cron = crate::calendar::parse_cron(cron).ok()?;
    let zone = crate::calendar::parse_timezone(timezone).ok()?;
    let length = i64::try_from(length?).ok()?;
    let mut windows = Vec::new();
    for date in first.iter_days().take(days) {
        let weekday = date.weekday().num_days_from_sunday();
        let matches = cron_field_matches(&cron.day_of_month, date.day(), &[], 1, 31)?
            && cron_field_matches(&cron.month, date.month(), &MONTHS, 1, 12)?
            && (cron_field_matches(&cron.day_of_week, weekday, &WEEKDAYS, 0, 7)?
                || (weekday == 0 && cron_field_matches(&cron.day_of_week, 7, &WEEKDAYS, 0, 7)?));
        if !matches {
            continue;
        }
        let local = date.and_hms_opt(cron.hour, cron.minute, 0)?;
        // A start that a clock change skips does not happen that day.
        if let Some(start) = zone.from_local_datetime(&local).earliest() {
            windows.push((start.timestamp(), start.timestamp() + length));
        }
    }
    Some(windows)
}

const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Whether one cron field (`*`, `5`, `1-5`, `*/2`, `MON-FRI`, lists of those) selects `value`;
/// `names[i]` stands for `low + i`. `None` for a field it cannot read.
fn cron_field_matches(field: &str, value: u32, names: &[&str], low: u32, high: u32) -> Option<bool> {
    let number = |token: &str| -> Option<u32> {
        token.parse().ok().or_else(|| {
            let upper = token.to_ascii_uppercase();
            names.iter().position(|name| *name == upper).and_then(|i| u32::try_from(i).ok()).map(|i| i + low)
        })
    };
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step.parse::<u32>().ok().filter(|step| *step > 0)?)),
            None => (item, None),
        };
        let (from, to) = match range.split_once('-') {
            _ if range == "*" => (low, high),
            Some((from, to)) => (number(from)?, number(to)?),
            None if step.is_some() => (number(range)?, high),
            None => (number(range)?, number(range)?),
        };
        if (from..=to).contains(&value) && (value - from).is_multiple_of(step.unwrap_or(1)) {
            return Some(true);
        }
    }
    Some(false)
}

/// IAM allows role names of at most 64 characters ("IAM and AWS STS quotas", IAM User Guide).
pub const MAX_IAM_ROLE_NAME: usize = 64;

/// A role's IAM name is `<pipeline>-<role>-<region code>` (`names::iam_role_name`), checked with
/// the spec region's code. (`--region` into a region with a longer code — at most
/// `names::REGION_CODE_MAX` characters — can take a name this close to the limit past it; CreateRole
/// then refuses it, naming the role.)
fn check_iam_name(path: &str, spec: &Spec, role: &str, problems: &mut Problems) {
    let code = region_code(&spec.region).len();
    let base = format!("{}-{role}", spec.pipeline);
    let length = base.len() + 1 + code;
    if !base.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)) {
        problems.add(path, format!("the IAM role name `{base}-…` may only hold letters, digits and `+=,.@_-`"));
    } else if length > MAX_IAM_ROLE_NAME {
        problems.add(
            path,
            format!(
                "the IAM role name `{base}-<region code>` would be {length} characters with a {code}-character region code; IAM allows at most {MAX_IAM_ROLE_NAME}: shorten the pipeline or role name by {}",
                length - MAX_IAM_ROLE_NAME
            ),
        );
    }
}

/// The partition of `region`'s ARNs (as `policy::partition_of`, which this layer cannot use).
fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// `iam.permissions_boundary` is the ARN of a managed policy in the region's partition:
/// `arn:<partition>:iam::<12-digit account or aws>:policy/<path/><name>` ("IAM identifiers",
/// IAM User Guide; PermissionsBoundary in CreateRole must be a policy ARN).
fn check_iam(iam: &Iam, region: &str, problems: &mut Problems) {
    if let Some(path) = &iam.path {
        check_iam_path(path, problems);
    }
    let Some(arn) = &iam.permissions_boundary else { return };
    let partition = partition_of(region);
    let name_ok = |name: &str| {
        (1..=128).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    };
    let valid = arn.strip_prefix(&format!("arn:{partition}:iam::")).is_some_and(|rest| {
        rest.split_once(":policy/").is_some_and(|(account, policy)| {
            let account_ok = account == "aws" || (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()));
            let parts: Vec<&str> = policy.split('/').collect();
            account_ok
                && parts.last().is_some_and(|name| name_ok(name))
                && parts[..parts.len() - 1]
                    .iter()
                    .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_graphic()))
        })
    });
    if !valid {
        problems.add(
            "iam.permissions_boundary",
            format!("`{arn}` is not an IAM policy ARN of partition `{partition}` (arn:{partition}:iam::<account>:policy/<name>)"),
        );
    }
}

/// An IAM path is `/` or `/<printable ASCII>/`, at most 512 characters ("IAM identifiers", IAM
/// User Guide; CreateRole `Path`); pipectl adds `pipectl/<pipeline>/<region>/` (at most 70
/// characters) under it.
fn check_iam_path(path: &str, problems: &mut Problems) {
    const MAX_BASE: usize = 512 - 70;
    let printable = path.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c));
    let shaped =
        path == "/" || (path.len() > 2 && path.starts_with('/') && path.ends_with('/') && !path.contains("//"));
    if !printable || !shaped {
        problems.add(
            "iam.path",
            format!("`{path}` is not an IAM path: `/`, or `/` + printable characters + `/`, such as `/teams/data/`"),
        );
    } else if path.len() > MAX_BASE {
        problems.add(
            "iam.path",
            format!("is {} characters; IAM paths hold at most 512 and pipectl adds up to 70", path.len()),
        );
    }
}

fn check_role(path: &str, role: &Role, spec: &Spec, problems: &mut Problems) {
    check_iam_name(&format!("{path}.name"), spec, &role.name, problems);
    if !role.trust.ends_with(".amazonaws.com") || role.trust.contains(char::is_whitespace) {
        problems.add(
            format!("{path}.trust"),
            format!("`{}` is not a service principal such as `firehose.amazonaws.com`", role.trust),
        );
    }
    for (index, arn) in role.managed_policies.iter().enumerate() {
        let valid = arn.starts_with("arn:aws") && arn.contains(":iam::") && arn.contains(":policy/");
        if !valid {
            problems.add(
                format!("{path}.managed_policies[{index}]"),
                format!("`{arn}` is not a managed policy ARN (arn:aws:iam::…:policy/…)"),
            );
        }
    }
    if role.statements.is_empty() && role.managed_policies.is_empty() {
        problems.add(path, "a role needs `statements` or `managed_policies`");
    }
    for (index, statement) in role.statements.iter().enumerate() {
        let statement_path = format!("{path}.statements[{index}]");
        if statement.actions.is_empty() {
            problems.add(format!("{statement_path}.actions"), "a statement needs at least one action");
        }
        for (a_index, action) in statement.actions.iter().enumerate() {
            let valid = action.split_once(':').is_some_and(|(service, name)| !service.is_empty() && !name.is_empty());
            if !valid {
                problems.add(
                    format!("{statement_path}.actions[{a_index}]"),
                    format!("`{action}` is not an action such as `s3:PutObject`"),
                );
            }
        }
        if statement.resources.is_empty() {
            problems.add(format!("{statement_path}.resources"), "a statement needs at least one resource (an ARN)");
        }
        for (r_index, resource) in statement.resources.iter().enumerate() {
            if resource != "*" && !resource.starts_with("arn:") {
                problems.add(format!("{statement_path}.resources[{r_index}]"), format!("`{resource}` is not an ARN"));
            }
        }
    }
    check_tags(&format!("{path}.tags"), &role.tags, problems);
}

/// Checks the `!{...}` expressions of a Firehose prefix; returns whether it uses any.
fn check_namespaces(path: &str, prefix: &str, error_prefix: bool, problems: &mut Problems) -> bool {
    let mut rest = prefix;
    let mut uses = false;
    while let Some(start) = rest.find("!{") {
        uses = true;
        let Some(end) = rest[start..].find('}') else {
            problems.add(path, format!("`{prefix}` opens `!{{` without closing it"));
            return true;
        };
        let expression = &rest[start + 2..start + end];
        let valid = match expression.split_once(':') {
            Some(("timestamp", format)) => {
                !format.is_empty() && format.chars().all(|c| "yMdHhmsSaEuDwWkKz".contains(c) || "/-_=. ".contains(c))
            }
            Some(("firehose", "random-string")) => true,
            Some(("firehose", "error-output-type")) => error_prefix,
            _ => false,
        };
        if !valid {
            let allowed = if error_prefix {
                "!{timestamp:<format>}, !{firehose:random-string} or !{firehose:error-output-type}"
            } else {
                "!{timestamp:<format>} or !{firehose:random-string}"
            };
            problems.add(path, format!("`!{{{expression}}}` is not a namespace Firehose supports here; use {allowed}"));
        }
        rest = &rest[start + end + 1..];
    }
    uses
}

fn check_delivery(path: &str, delivery: &Delivery, spec: &Spec, problems: &mut Problems) {
    let name_ok = (1..=64).contains(&delivery.name.len())
        && delivery.name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !name_ok {
        problems.add(
            format!("{path}.name"),
            format!(
                "`{}` is not a valid delivery stream name: use 1-64 letters, digits, `_`, `.` and `-`",
                delivery.name
            ),
        );
    }
    let streams: Vec<&str> = spec.streams.iter().map(|stream| stream.name.as_str()).collect();
    if !streams.contains(&delivery.from.as_str()) {
        let hint = did_you_mean(&delivery.from, streams.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        problems.add(format!("{path}.from"), format!("no stream named `{}` in this spec{hint}", delivery.from));
    }
    let buckets: Vec<&str> = spec.buckets.iter().map(|bucket| bucket.name.as_str()).collect();
    if !buckets.contains(&delivery.to.bucket.as_str()) {
        let hint = did_you_mean(&delivery.to.bucket, buckets.iter().copied())
            .map(|b| format!(" (did you mean `{b}`?)"))
            .unwrap_or_default();
        problems
            .add(format!("{path}.to.bucket"), format!("no bucket named `{}` in this spec{hint}", delivery.to.bucket));
    }
    let uses_namespaces = check_namespaces(&format!("{path}.to.prefix"), &delivery.to.prefix, false, problems);
    match &delivery.to.error_prefix {
        Some(error_prefix) => {
            check_namespaces(&format!("{path}.to.error_prefix"), error_prefix, true, problems);
            if error_prefix.is_empty() {
                problems.add(format!("{path}.to.error_prefix"), "must not be empty");
            }
        }
        None if uses_namespaces => {
            problems.add(
                format!("{path}.to"),
                "a prefix with `!{...}` expressions needs an `error_prefix` (Firehose requires one)",
            );
        }
        None => {}
    }
    for (field, value) in
        [("prefix", &delivery.to.prefix), ("error_prefix", delivery.to.error_prefix.as_ref().unwrap_or(&String::new()))]
    {
        if value.len() > 1024 {
            problems.add(format!("{path}.to.{field}"), "must be at most 1024 characters");
        }
    }
    if !(1..=128).contains(&delivery.buffer.size_mib) {
        problems.add(format!("{path}.buffer.size_mib"), "must be between 1 and 128 MiB");
    }
    if !(0..=900).contains(&delivery.buffer.interval_seconds) {
        problems.add(format!("{path}.buffer.interval_seconds"), "must be between 0 and 900 seconds");
    }
    match (delivery.encryption, &delivery.kms_key) {
        (DeliveryEncryption::Kms, None) => {
            problems.add(format!("{path}.kms_key"), "`encryption: kms` needs `kms_key`, the ARN of the key")
        }
        (DeliveryEncryption::Kms, Some(key)) if !key.starts_with("arn:") => {
            problems.add(format!("{path}.kms_key"), format!("`{key}` is not a key ARN (arn:aws:kms:…:key/…)"));
        }
        (DeliveryEncryption::None, Some(_)) => {
            problems.add(format!("{path}.kms_key"), "`kms_key` needs `encryption: kms`")
        }
        _ => {}
    }
    match &delivery.role {
        Some(role) => {
            let roles: Vec<&str> = spec.roles.iter().map(|role| role.name.as_str()).collect();
            if !roles.contains(&role.as_str()) {
                let hint = did_you_mean(role, roles.iter().copied())
                    .map(|r| format!(" (did you mean `{r}`?)"))
                    .unwrap_or_default();
                problems.add(format!("{path}.role"), format!("no role named `{role}` in `roles`{hint}"));
            }
        }
        None => {
            let derived = derived_delivery_role(&delivery.name);
            if spec.roles.iter().any(|role| role.name == derived) {
                problems.add(
                    format!("{path}.name"),
                    format!("the derived role `{derived}` clashes with a role of `roles`; rename one"),
                );
            }
            check_iam_name(&format!("{path}.name"), spec, &derived, problems);
        }
    }
    check_tags(&format!("{path}.tags"), &delivery.tags, problems);
}

fn check_pipeline_name(name: &str, problems: &mut Problems) {
    let valid = (1..=40).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        problems.add(
            "pipeline",
            format!("`{name}` is not a valid pipeline name: use 1-40 lowercase letters, digits and hyphens, starting with a letter"),
        );
    }
}

fn check_region(region: &str, problems: &mut Problems) {
    let parts: Vec<&str> = region.split('-').collect();
    let valid = parts.len() >= 3
        && parts[..parts.len() - 1].iter().all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    if !valid {
        problems.add("region", format!("`{region}` is not an AWS region name such as `eu-west-1`"));
    }
}

fn check_tags(path: &str, tags: &BTreeMap<String, String>, problems: &mut Problems) {
    if tags.len() > MAX_USER_TAGS {
        problems.add(path, format!("{} tags; AWS allows {MAX_USER_TAGS} besides pipectl's own", tags.len()));
    }
    for (key, value) in tags {
        let key_path = format!("{path}.{key}");
        if key.is_empty() || key.chars().count() > 128 {
            problems.add(&key_path, "tag keys must be 1-128 characters");
        }
        if key.starts_with("aws:") || key.starts_with("pipectl:") {
            problems.add(&key_path, "the `aws:` and `pipectl:` tag prefixes are reserved");
        }
        if value.chars().count() > 256 {
            problems.add(&key_path, "tag values must be at most 256 characters");
        }
    }
}

fn check_unique<'a>(path: &str, names: impl Iterator<Item = &'a str>, problems: &mut Problems) {
    let mut seen = HashSet::new();
    for (index, name) in names.enumerate() {
        if !seen.insert(name) {
            problems.add(format!("{path}[{index}].name"), format!("duplicate name `{name}`"));
        }
    }
}

fn check_resource_name(path: &str, name: &str, problems: &mut Problems) {
    let valid = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        problems.add(
            path,
            format!(
                "`{name}` is not a valid name: use 1-63 letters, digits, `-` and `_`, starting with a letter or digit"
            ),
        );
    }
}

fn parse_cidr(path: &str, text: &str, problems: &mut Problems) -> Option<Cidr> {
    text.parse::<Cidr>().map_err(|message| problems.add(path, message)).ok()
}

fn check_network(network: &Network, region: &str, problems: &mut Problems) {
    let vpc = parse_cidr("network.vpc.cidr", &network.vpc.cidr, problems);
    if let Some(vpc) = vpc {
        if !(16..=28).contains(&vpc.prefix) {
            problems.add("network.vpc.cidr", format!("a VPC block must be between /16 and /28, not /{}", vpc.prefix));
        }
    }
    check_unique("network.subnets", network.subnets.iter().map(|subnet| subnet.name.as_str()), problems);
    let mut placed: Vec<(usize, Cidr)> = Vec::new();
    for (index, subnet) in network.subnets.iter().enumerate() {
        let path = format!("network.subnets[{index}]");
        check_resource_name(&format!("{path}.name"), &subnet.name, problems);
        if subnet.map_public_ip == Some(true) && !subnet.public {
            problems.add(
                format!("{path}.map_public_ip"),
                "a private subnet has no route to the internet gateway, so a public IP is of no use there (and AWS bills each one): set `public: true` or drop `map_public_ip`",
            );
        }
        let zone_ok = subnet.availability_zone.len() == region.len() + 1
            && subnet.availability_zone.starts_with(region)
            && subnet.availability_zone.ends_with(|c: char| c.is_ascii_lowercase());
        if !zone_ok {
            problems.add(
                format!("{path}.availability_zone"),
                format!(
                    "`{}` is not an availability zone of region `{region}` (such as `{region}a`)",
                    subnet.availability_zone
                ),
            );
        }
        let Some(cidr) = parse_cidr(&format!("{path}.cidr"), &subnet.cidr, problems) else {
            continue;
        };
        if !(16..=28).contains(&cidr.prefix) {
            problems.add(
                format!("{path}.cidr"),
                format!("a subnet block must be between /16 and /28, not /{}", cidr.prefix),
            );
        }
        if let Some(vpc) = vpc {
            if !vpc.contains(cidr) {
                problems.add(format!("{path}.cidr"), format!("{cidr} is not inside the VPC block {vpc}"));
            }
        }
        if let Some((other, other_cidr)) = placed.iter().find(|(_, other)| other.overlaps(cidr)) {
            problems.add(
                format!("{path}.cidr"),
                format!("{cidr} overlaps {other_cidr} of subnet `{}`", network.subnets[*other].name),
            );
        }
        placed.push((index, cidr));
    }
    check_unique("network.security_groups", network.security_groups.iter().map(|group| group.name.as_str()), problems);
    let group_names: Vec<&str> = network.security_groups.iter().map(|group| group.name.as_str()).collect();
    for (index, group) in network.security_groups.iter().enumerate() {
        check_security_group(&format!("network.security_groups[{index}]"), group, &group_names, problems);
    }
    check_group_cycles(&network.security_groups, problems);
    check_egress(network, problems);
}

/// Names people reach for that `network.endpoints` spells otherwise.
const ENDPOINT_ALIASES: [(&str, &str); 7] = [
    ("kinesis", "kinesis-streams"),
    ("kinesis-firehose", "firehose"),
    ("emr", "elasticmapreduce"),
    ("cloudwatch", "monitoring"),
    ("cloudwatch-logs", "logs"),
    ("secrets-manager", "secretsmanager"),
    ("s3-gateway", "s3"),
];

/// Where private subnets' traffic can go: NAT gateways sit in public subnets and serve private
/// ones, endpoints serve private subnets, and the names pipectl derives for them must be free.
fn check_egress(network: &Network, problems: &mut Problems) {
    use super::types::Nat;
    use crate::names::{
        endpoint_service, EndpointType, ENDPOINT_SECURITY_GROUP, ENDPOINT_SERVICES, PUBLIC_ROUTE_TABLE,
    };
    for (index, subnet) in network.subnets.iter().enumerate() {
        if !subnet.public && subnet.name == PUBLIC_ROUTE_TABLE {
            problems.add(
                format!("network.subnets[{index}].name"),
                "a private subnet gets a route table of its own name, and `public` is the public subnets' route table: rename the subnet",
            );
        }
    }
    let private: Vec<&super::types::Subnet> = network.subnets.iter().filter(|subnet| !subnet.public).collect();
    if network.nat != Nat::None {
        if !network.subnets.iter().any(|subnet| subnet.public) {
            problems.add(
                "network.nat",
                "a NAT gateway sits in a public subnet and this network has none: add a subnet with `public: true`, or set `nat: none`",
            );
        } else if private.is_empty() {
            problems.add(
                "network.nat",
                "NAT gateways serve private subnets and this network has none (a NAT gateway is billed by the hour even when idle): set `nat: none`",
            );
        } else {
            let mut reported: Vec<&str> = Vec::new();
            for subnet in private.iter().filter(|subnet| network.nat_for(subnet).is_none()) {
                if !reported.contains(&subnet.availability_zone.as_str()) {
                    reported.push(&subnet.availability_zone);
                    problems.add(
                        "network.nat",
                        format!(
                            "`per-az` puts a NAT gateway in each zone that has a private subnet, but zone `{}` (subnet `{}`) has no public subnet: add one there, or use `nat: single`",
                            subnet.availability_zone, subnet.name
                        ),
                    );
                }
            }
        }
    }
    let mut seen: HashSet<&str> = HashSet::new();
    for (index, name) in network.endpoints.iter().enumerate() {
        let path = format!("network.endpoints[{index}]");
        if endpoint_service(name).is_none() {
            let known = ENDPOINT_SERVICES.iter().map(|service| service.name);
            let alias = ENDPOINT_ALIASES.iter().find(|(alias, _)| alias == name).map(|(_, canonical)| *canonical);
            let hint = alias
                .or_else(|| did_you_mean(name, known.clone()))
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            let list: Vec<&str> = known.collect();
            problems.add(path, format!("unknown endpoint `{name}`{hint}; pipectl knows {}", list.join(", ")));
        } else if !seen.insert(name) {
            problems.add(path, format!("duplicate endpoint `{name}`"));
        }
    }
    if !network.endpoints.is_empty() && private.is_empty() {
        problems.add(
            "network.endpoints",
            "endpoints serve private subnets (gateway endpoints on their route tables, interface endpoints in them) and this network has none",
        );
    }
    let interface = network
        .endpoints
        .iter()
        .any(|name| endpoint_service(name).is_some_and(|service| service.kind == EndpointType::Interface));
    if interface {
        for (index, group) in network.security_groups.iter().enumerate() {
            if group.name == ENDPOINT_SECURITY_GROUP {
                problems.add(
                    format!("network.security_groups[{index}].name"),
                    format!("`{ENDPOINT_SECURITY_GROUP}` is the security group pipectl creates for the interface endpoints: rename this one"),
                );
            }
        }
    }
}

#[cfg(test)]
mod egress_tests {
    use super::*;

    /// A network in eu-west-1 with `subnets` (flow YAML, one per line) and the `extra` keys.
    fn network(subnets: &[&str], extra: &str) -> Spec {
        let subnets: String = subnets.iter().map(|subnet| format!("    - {subnet}\n")).collect();
        let yaml = format!(
            "version: 1\npipeline: demo\nregion: eu-west-1\nnetwork:\n  vpc: {{cidr: 10.0.0.0/16}}\n  subnets:\n{subnets}{extra}"
        );
        serde_saphyr::from_str(&yaml).expect("test YAML parses")
    }

    fn problems(spec: &Spec) -> Vec<(String, String)> {
        validate(spec).into_iter().map(|problem| (problem.path, problem.message)).collect()
    }

    const PUBLIC_A: &str = "{name: public-a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a, public: true}";
    const PRIVATE_A: &str = "{name: private-a, cidr: 10.0.10.0/24, availability_zone: eu-west-1a}";
    const PRIVATE_B: &str = "{name: private-b, cidr: 10.0.11.0/24, availability_zone: eu-west-1b}";
    const PUBLIC_B: &str = "{name: public-b, cidr: 10.0.1.0/24, availability_zone: eu-west-1b, public: true}";

    #[test]
    fn nat_and_endpoints_that_fit_the_subnets_are_valid() {
        let spec =
            network(&[PUBLIC_A, PRIVATE_A, PRIVATE_B], "  nat: single\n  endpoints: [s3, kinesis-streams, firehose]\n");
        assert_eq!(problems(&spec), vec![]);
        let spec = network(&[PUBLIC_A, PUBLIC_B, PRIVATE_A, PRIVATE_B], "  nat: per-az\n");
        assert_eq!(problems(&spec), vec![]);
        let network = spec.network.as_ref().unwrap();
        let placed: Vec<&str> = network.nat_subnets().iter().map(|subnet| subnet.name.as_str()).collect();
        assert_eq!(placed, ["public-a", "public-b"]);
    }

    #[test]
    fn nat_needs_a_public_subnet_and_a_private_one_to_serve() {
        let found = problems(&network(&[PRIVATE_A], "  nat: single\n"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "network.nat");
        assert!(found[0].1.contains("add a subnet with `public: true`"), "{found:?}");
        let found = problems(&network(&[PUBLIC_A], "  nat: per-az\n"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("set `nat: none`"), "{found:?}");
    }

    #[test]
    fn per_az_needs_a_public_subnet_in_every_zone_with_a_private_one() {
        let extra = "{name: private-b2, cidr: 10.0.12.0/24, availability_zone: eu-west-1b}";
        let found = problems(&network(&[PUBLIC_A, PRIVATE_A, PRIVATE_B, extra], "  nat: per-az\n"));
        // One problem per zone, naming the first private subnet there.
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "network.nat");
        assert!(found[0].1.contains("zone `eu-west-1b` (subnet `private-b`)"), "{found:?}");
        assert!(problems(&network(&[PUBLIC_A, PRIVATE_A, PRIVATE_B], "  nat: single\n")).is_empty());
    }

    #[test]
    fn unknown_and_duplicate_endpoints_are_named_with_a_suggestion() {
        let found = problems(&network(&[PRIVATE_A], "  endpoints: [s3, kinesis, dynamodbb, s3, quantum]\n"));
        let paths: Vec<&str> = found.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(
            paths,
            ["network.endpoints[1]", "network.endpoints[2]", "network.endpoints[3]", "network.endpoints[4]"]
        );
        assert!(found[0].1.contains("unknown endpoint `kinesis` (did you mean `kinesis-streams`?)"), "{found:?}");
        assert!(found[1].1.contains("(did you mean `dynamodb`?)"), "{found:?}");
        assert_eq!(found[2].1, "duplicate endpoint `s3`");
        assert!(found[3].1.contains("pipectl knows s3, dynamodb, kinesis-streams"), "{found:?}");
    }

    #[test]
    fn endpoints_need_a_private_subnet_and_derived_names_must_be_free() {
        let found = problems(&network(&[PUBLIC_A], "  endpoints: [s3]\n"));
        assert_eq!(found.iter().map(|(path, _)| path.as_str()).collect::<Vec<_>>(), ["network.endpoints"]);
        let public_named = "{name: public, cidr: 10.0.10.0/24, availability_zone: eu-west-1a}";
        let found = problems(&network(
            &[PUBLIC_A, public_named],
            "  endpoints: [sts]\n  security_groups:\n    - {name: vpc-endpoints}\n",
        ));
        let paths: Vec<&str> = found.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(paths, ["network.subnets[1].name", "network.security_groups[0].name"]);
        // Only interface endpoints take the group's name.
        let found =
            problems(&network(&[PRIVATE_A], "  endpoints: [s3]\n  security_groups:\n    - {name: vpc-endpoints}\n"));
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn reaches_s3_through_a_public_route_a_nat_or_an_s3_endpoint() {
        let reaches =
            |extra: &str, subnet: &str| network(&[PUBLIC_A, PRIVATE_A], extra).network.unwrap().reaches_s3(subnet);
        assert!(reaches("", "public-a"));
        assert!(!reaches("", "private-a"));
        assert!(!reaches("  endpoints: [dynamodb, sts]\n", "private-a"));
        assert!(reaches("  endpoints: [s3]\n", "private-a"));
        assert!(reaches("  nat: single\n", "private-a"));
        assert!(!reaches("  nat: single\n", "nowhere"));
        // per-az only reaches where a NAT gateway is (validation rejects the rest).
        let spec = network(&[PUBLIC_A, PRIVATE_A, PRIVATE_B], "  nat: per-az\n");
        let network = spec.network.unwrap();
        assert!(network.reaches_s3("private-a"));
        assert!(!network.reaches_s3("private-b"));
    }
}

fn check_security_group(path: &str, group: &SecurityGroup, names: &[&str], problems: &mut Problems) {
    check_resource_name(&format!("{path}.name"), &group.name, problems);
    if group.description.is_empty() || group.description.len() > 255 || !group.description.is_ascii() {
        problems.add(format!("{path}.description"), "a security group description must be 1-255 ASCII characters");
    }
    let directions = [("ingress", Some(&group.ingress)), ("egress", group.egress.as_ref())];
    for (direction, rules) in directions {
        for (index, rule) in rules.into_iter().flatten().enumerate() {
            check_rule(&format!("{path}.{direction}[{index}]"), rule, names, problems);
        }
    }
}

fn check_rule(path: &str, rule: &Rule, names: &[&str], problems: &mut Problems) {
    const PROTOCOLS: [&str; 4] = ["tcp", "udp", "icmp", "all"];
    if !PROTOCOLS.contains(&rule.protocol.as_str()) {
        let hint =
            did_you_mean(&rule.protocol, PROTOCOLS).map(|p| format!(" (did you mean `{p}`?)")).unwrap_or_default();
        problems.add(
            format!("{path}.protocol"),
            format!("unknown protocol `{}`; use tcp, udp, icmp or all{hint}", rule.protocol),
        );
    }
    match (&rule.ports, rule.protocol.as_str()) {
        (Some(_), "all") => problems.add(format!("{path}.ports"), "protocol `all` covers every port; remove `ports`"),
        (Some(ports), _) => {
            if let Err(message) = port_range(ports) {
                problems.add(format!("{path}.ports"), message);
            }
        }
        (None, _) => {}
    }
    match (&rule.cidr, &rule.group) {
        (Some(_), Some(_)) | (None, None) => {
            problems.add(path, "a rule needs exactly one peer: `cidr` or `group`");
        }
        (Some(cidr), None) => {
            parse_cidr(&format!("{path}.cidr"), cidr, problems);
        }
        (None, Some(group)) => {
            if group != "self" && !names.contains(&group.as_str()) {
                let hint = did_you_mean(group, names.iter().copied())
                    .map(|n| format!(" (did you mean `{n}`?)"))
                    .unwrap_or_default();
                problems.add(format!("{path}.group"), format!("no security group named `{group}` in this spec{hint}"));
            }
        }
    }
    if let Some(description) = &rule.description {
        if description.len() > 255 {
            problems.add(format!("{path}.description"), "a rule description must be at most 255 characters");
        }
    }
}

/// The inclusive port range a `ports` value denotes, or why it is invalid.
pub fn port_range(ports: &Ports) -> Result<(u16, u16), String> {
    let port = |value: i64| -> Result<u16, String> {
        u16::try_from(value).map_err(|_| format!("port {value} is outside 0-65535"))
    };
    match ports {
        Ports::Single(value) => port(*value).map(|p| (p, p)),
        Ports::Range(text) => {
            let (from, to) =
                text.split_once('-').ok_or_else(|| format!("`{text}` is not a port or a range such as `8000-8100`"))?;
            let parse = |part: &str| -> Result<u16, String> {
                let value: i64 = part.trim().parse().map_err(|_| format!("`{part}` is not a port number"))?;
                port(value)
            };
            let (from, to) = (parse(from)?, parse(to)?);
            if from > to {
                return Err(format!("the range `{text}` starts after it ends"));
            }
            Ok((from, to))
        }
    }
}

/// Groups that reference each other in a cycle cannot be created one after the other.
fn check_group_cycles(groups: &[SecurityGroup], problems: &mut Problems) {
    let edges: HashMap<&str, Vec<&str>> = groups
        .iter()
        .map(|group| {
            let peers = group
                .ingress
                .iter()
                .chain(group.egress.iter().flatten())
                .filter_map(|rule| rule.group.as_deref())
                .filter(|peer| *peer != "self" && *peer != group.name)
                .collect();
            (group.name.as_str(), peers)
        })
        .collect();
    for (index, group) in groups.iter().enumerate() {
        // Depth-first search from each group for a path back to itself.
        let mut stack: Vec<&str> = edges.get(group.name.as_str()).cloned().unwrap_or_default();
        let mut seen = HashSet::new();
        while let Some(next) = stack.pop() {
            if next == group.name {
                problems.add(
                    format!("network.security_groups[{index}]"),
                    format!("security group `{}` is part of a reference cycle; pipectl creates referenced groups first, so break the cycle (for example with a CIDR peer)", group.name),
                );
                break;
            }
            if seen.insert(next) {
                stack.extend(edges.get(next).into_iter().flatten());
            }
        }
    }
}

/// S3 bucket naming rules for general purpose buckets.
pub fn bucket_name_problem(name: &str) -> Option<String> {
    let rules: [(bool, &str); 7] = [
        ((3..=63).contains(&name.len()), "must be 3-63 characters long"),
        (
            name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'),
            "may contain only lowercase letters, digits, dots and hyphens",
        ),
        (
            name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "must begin and end with a letter or digit",
        ),
        (!name.contains("..") && !name.contains(".-") && !name.contains("-."), "must not contain `..`, `.-` or `-.`"),
        (name.parse::<std::net::Ipv4Addr>().is_err(), "must not be formatted as an IP address"),
        (
            !["xn--", "sthree-", "amzn-s3-demo-"].iter().any(|prefix| name.starts_with(prefix)),
            "must not start with `xn--`, `sthree-` or `amzn-s3-demo-`",
        ),
        (
            !["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"].iter().any(|suffix| name.ends_with(suffix)),
            "must not end with a suffix S3 reserves (`-s3alias`, `--ol-s3`, `.mrap`, `--x-s3`, `--table-s3`)",
        ),
    ];
    rules.iter().find(|(ok, _)| !ok).map(|(_, rule)| format!("`{name}` is not a valid S3 bucket name: it {rule}"))
}

fn check_bucket(path: &str, bucket: &Bucket, problems: &mut Problems) {
    if let Some(message) = bucket_name_problem(&bucket.name) {
        problems.add(format!("{path}.name"), message);
    }
    for (field, days) in [
        ("abort_incomplete_uploads_days", bucket.abort_incomplete_uploads_days),
        ("noncurrent_versions_expire_days", bucket.noncurrent_versions_expire_days),
    ] {
        if days.is_some_and(|days| !(0..=36500).contains(&days)) {
            problems.add(format!("{path}.{field}"), "must be between 0 (never) and 36500 days");
        }
    }
    if bucket.noncurrent_versions_expire_days.is_some() && !bucket.versioning {
        problems.add(
            format!("{path}.noncurrent_versions_expire_days"),
            "only versioned buckets have noncurrent versions: set `versioning: true` or drop this field",
        );
    }
    if bucket.kms_key.is_some() && bucket.encryption != BucketEncryption::SseKms {
        problems.add(format!("{path}.kms_key"), "`kms_key` needs `encryption: sse-kms`");
    }
    check_tags(&format!("{path}.tags"), &bucket.tags, problems);
    let mut ids = HashSet::new();
    for (index, rule) in bucket.lifecycle.iter().enumerate() {
        let rule_path = format!("{path}.lifecycle[{index}]");
        let id = rule.id.clone().unwrap_or_else(|| rule.prefix.clone());
        if id.is_empty() || id.len() > 255 {
            problems.add(
                format!("{rule_path}.id"),
                "a lifecycle rule id must be 1-255 characters (set `id` when the prefix is empty)",
            );
        }
        if !ids.insert(id.clone()) {
            problems.add(format!("{rule_path}.id"), format!("duplicate lifecycle rule id `{id}`"));
        }
        if rule.transitions.is_empty() && rule.expiration_days.is_none() {
            problems.add(&rule_path, "a lifecycle rule needs `transitions` or `expiration_days`");
        }
        let mut last_days = -1;
        let mut last_class: Option<&str> = None;
        for (t_index, transition) in rule.transitions.iter().enumerate() {
            let t_path = format!("{rule_path}.transitions[{t_index}]");
            if !STORAGE_CLASSES.contains(&transition.storage_class.as_str()) {
                let hint = did_you_mean(&transition.storage_class, STORAGE_CLASSES)
                    .map(|c| format!(" (did you mean `{c}`?)"))
                    .unwrap_or_default();
                problems.add(
                    format!("{t_path}.storage_class"),
                    format!(
                        "unknown storage class `{}`; use one of {}{hint}",
                        transition.storage_class,
                        STORAGE_CLASSES.join(", ")
                    ),
                );
            }
            let minimum = if transition.storage_class.ends_with("_IA") { 30 } else { 0 };
            if !(minimum..=36500).contains(&transition.days) {
                problems.add(
                    format!("{t_path}.days"),
                    format!("must be between {minimum} and 36500 days for {}", transition.storage_class),
                );
            }
            if transition.days <= last_days {
                problems.add(format!("{t_path}.days"), "transitions must be in increasing order of days");
            }
            let step = |class: &str| WATERFALL.iter().position(|c| *c == class);
            if let (Some(previous), Some(from), Some(to)) =
                (last_class, last_class.and_then(step), step(transition.storage_class.as_str()))
            {
                if to <= from {
                    problems.add(
                        format!("{t_path}.storage_class"),
                        format!(
                            "S3 cannot move objects from {previous} to {}; transitions go {}",
                            transition.storage_class,
                            WATERFALL.join(" → ")
                        ),
                    );
                } else if previous.ends_with("_IA") && transition.days < last_days + IA_MINIMUM_DAYS {
                    problems.add(
                        format!("{t_path}.days"),
                        format!("must be at least {} ({IA_MINIMUM_DAYS} days after the transition to {previous}): S3 keeps objects {IA_MINIMUM_DAYS} days in {previous}", last_days + IA_MINIMUM_DAYS),
                    );
                }
            }
            last_days = transition.days;
            last_class = Some(transition.storage_class.as_str());
        }
        if let Some(days) = rule.expiration_days {
            if !(1..=36500).contains(&days) {
                problems.add(format!("{rule_path}.expiration_days"), "must be between 1 and 36500 days");
            } else if days <= last_days {
                problems.add(
                    format!("{rule_path}.expiration_days"),
                    format!("objects expire after {days} days, before their last transition at {last_days} days"),
                );
            }
        }
    }
}

fn check_stream(path: &str, stream: &Stream, problems: &mut Problems) {
    let name_ok = (1..=128).contains(&stream.name.len())
        && stream.name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if !name_ok {
        problems.add(
            format!("{path}.name"),
            format!("`{}` is not a valid stream name: use 1-128 letters, digits, `_`, `.` and `-`", stream.name),
        );
    }
    match (stream.mode, stream.shards) {
        (StreamMode::OnDemand, Some(_)) => {
            problems.add(
                format!("{path}.shards"),
                "an on-demand stream scales by itself; remove `shards` or use `mode: provisioned`",
            );
        }
        (StreamMode::Provisioned, Some(shards)) if !(1..=MAX_SHARDS).contains(&shards) => {
            problems.add(
                format!("{path}.shards"),
                format!("must be between 1 and {MAX_SHARDS} (the default account quota)"),
            );
        }
        _ => {}
    }
    if !(MIN_RETENTION_HOURS..=MAX_RETENTION_HOURS).contains(&stream.retention_hours) {
        problems.add(
            format!("{path}.retention_hours"),
            format!("must be between {MIN_RETENTION_HOURS} and {MAX_RETENTION_HOURS} hours"),
        );
    }
    if stream.kms_key.is_some() && stream.encryption != StreamEncryption::Kms {
        problems.add(format!("{path}.kms_key"), "`kms_key` needs `encryption: kms`");
    }
    check_tags(&format!("{path}.tags"), &stream.tags, problems);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str) -> Vec<Problem> {
        let spec: Spec = serde_saphyr::from_str(yaml).expect("test YAML parses");
        validate(&spec)
    }

    fn paths(yaml: &str) -> Vec<String> {
        problems(yaml).into_iter().map(|problem| problem.path).collect()
    }

    const HEAD: &str = "version: 1\npipeline: demo\nregion: eu-west-1\n";

    #[test]
    fn a_schedules_window_is_open_between_its_edges_in_its_zone() {
        let spec: Spec = serde_saphyr::from_str("version: 1\npipeline: p\nregion: eu-west-1\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 4}\n    task_groups: [{name: batch, type: m5.xlarge, nodes: 0}]\n    schedules: [{name: night, cron: '0 2 * * *', timezone: Asia/Seoul, group: batch, nodes: 20, for: 4h}]\n").unwrap();
        let at = |hour: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 11, 30)
                .unwrap()
                .and_hms_opt(hour, 30, 0)
                .unwrap()
                .and_utc()
                .timestamp()
        };
        // 02:00-06:00 in Seoul is 17:00-21:00 UTC.
        let cluster = &spec.clusters[0];
        assert_eq!(open_schedule_windows(cluster, at(18)), [("batch".to_string(), 20, "night".to_string())]);
        assert!(open_schedule_windows(cluster, at(21)).is_empty());
        assert!(open_schedule_windows(cluster, at(16)).is_empty());
    }

    #[test]
    fn a_good_spec_has_no_problems() {
        let yaml = format!("{HEAD}network:\n  vpc: {{cidr: 10.0.0.0/16}}\n  subnets:\n    - {{name: a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a, public: true}}\n  security_groups:\n    - name: web\n      ingress: [{{ports: 443, cidr: 0.0.0.0/0}}, {{ports: \"8000-8100\", group: self}}]\nbuckets:\n  - name: demo-lake\n    lifecycle: [{{prefix: raw/, transitions: [{{days: 30, storage_class: STANDARD_IA}}], expiration_days: 365}}]\nstreams:\n  - {{name: events, shards: 2}}\n");
        assert_eq!(problems(&yaml), vec![]);
    }

    #[test]
    fn reports_every_network_problem_at_once() {
        let yaml = format!("{HEAD}network:\n  vpc: {{cidr: 10.0.0.0/8}}\n  subnets:\n    - {{name: a, cidr: 10.0.0.0/24, availability_zone: us-east-1a}}\n    - {{name: a, cidr: 10.0.0.128/25, availability_zone: eu-west-1b}}\n    - {{name: c, cidr: 192.168.0.0/24, availability_zone: eu-west-1b}}\n");
        assert_eq!(
            paths(&yaml),
            vec![
                "network.vpc.cidr",
                "network.subnets[1].name",
                "network.subnets[0].availability_zone",
                "network.subnets[1].cidr",
                "network.subnets[2].cidr",
            ]
        );
    }

    #[test]
    fn rule_problems() {
        let yaml = format!("{HEAD}network:\n  vpc: {{cidr: 10.0.0.0/16}}\n  security_groups:\n    - name: web\n      ingress:\n        - {{ports: 70000, cidr: 0.0.0.0/0}}\n        - {{ports: \"10-5\", group: wbe}}\n        - {{protocol: tpc, cidr: 1.2.3.4/32, group: web}}\n        - {{protocol: all, ports: 22, cidr: 10.0.0.0/16}}\n");
        let found = problems(&yaml);
        let messages: Vec<String> = found.iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
        assert_eq!(found.len(), 6, "{messages:#?}");
        assert!(messages[2].contains("did you mean `web`"), "{messages:#?}");
    }

    #[test]
    fn group_reference_cycles_are_rejected() {
        let yaml = format!("{HEAD}network:\n  vpc: {{cidr: 10.0.0.0/16}}\n  security_groups:\n    - {{name: a, ingress: [{{group: b}}]}}\n    - {{name: b, ingress: [{{group: a}}]}}\n");
        assert_eq!(paths(&yaml), vec!["network.security_groups[0]", "network.security_groups[1]"]);
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert!(bucket_name_problem("my-data-lake.2024").is_none());
        for bad in ["ab", "My-Bucket", "-lake", "lake..raw", "192.168.1.1", "xn--lake", "lake-s3alias", "lake_raw"] {
            assert!(bucket_name_problem(bad).is_some(), "{bad} should be rejected");
        }
    }

    #[test]
    fn stream_and_lifecycle_limits() {
        let yaml = format!("{HEAD}buckets:\n  - name: demo-lake\n    kms_key: k\n    lifecycle:\n      - prefix: raw/\n        transitions: [{{days: 10, storage_class: STANDARD_IA}}, {{days: 90, storage_class: GLACEIR}}]\n        expiration_days: 60\nstreams:\n  - {{name: s, shards: 0, retention_hours: 9000}}\n  - {{name: t, mode: on-demand, shards: 2}}\n  - {{name: s, retention_hours: 23}}\n");
        assert_eq!(
            paths(&yaml),
            vec![
                "buckets[0].kms_key",
                "buckets[0].lifecycle[0].transitions[0].days",
                "buckets[0].lifecycle[0].transitions[1].storage_class",
                "buckets[0].lifecycle[0].expiration_days",
                "streams[2].name",
                "streams[0].shards",
                "streams[0].retention_hours",
                "streams[1].shards",
                "streams[2].retention_hours",
            ]
        );
    }

    #[test]
    fn delivery_references_prefixes_and_limits() {
        let yaml = format!("{HEAD}buckets: [{{name: demo-lake}}]\nstreams: [{{name: events}}]\ndeliveries:\n  - name: ok\n    from: events\n    to: {{bucket: demo-lake, prefix: 'raw/!{{timestamp:yyyy/MM/dd}}/', error_prefix: 'err/!{{firehose:error-output-type}}/'}}\n  - name: bad\n    from: evnts\n    to: {{bucket: lake, prefix: 'raw/!{{timestamp:yyyy/MM/dd}}/!{{firehose:error-output-type}}/'}}\n    buffer: {{size_mib: 0, interval_seconds: 901}}\n    encryption: kms\n    role: missing\n");
        assert_eq!(
            paths(&yaml),
            vec![
                "deliveries[1].from",
                "deliveries[1].to.bucket",
                "deliveries[1].to.prefix",
                "deliveries[1].to",
                "deliveries[1].buffer.size_mib",
                "deliveries[1].buffer.interval_seconds",
                "deliveries[1].kms_key",
                "deliveries[1].role",
            ]
        );
    }

    #[test]
    fn explicit_roles_are_checked() {
        let yaml = format!("{HEAD}roles:\n  - name: custom\n    trust: firehose\n    managed_policies: [not-an-arn]\n    statements: [{{actions: [PutObject], resources: [bucket]}}]\n  - name: empty\n    trust: firehose.amazonaws.com\n");
        assert_eq!(
            paths(&yaml),
            vec![
                "roles[0].trust",
                "roles[0].managed_policies[0]",
                "roles[0].statements[0].actions[0]",
                "roles[0].statements[0].resources[0]",
                "roles[1]",
            ]
        );
    }

    #[test]
    fn cluster_problems_are_located() {
        let yaml = format!("{HEAD}network:\n  vpc: {{cidr: 10.0.0.0/16}}\n  subnets: [{{name: a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a}}]\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark, Spork]\n    subnet: b\n    master: {{type: m5.xlarge, count: 2}}\n    core: {{type: m5.xlarge, nodes: 4}}\n    task_groups: [{{name: batch, type: m5.2xlarge, nodes: 0}}]\n    managed_scaling: {{min: 1, max: 10}}\n    schedules:\n      - {{name: night, cron: '0 2 * * *', timezone: Asia/Seoul, group: batch, nodes: 20, for: 4h}}\n      - {{name: bad, cron: '0 2 * *', timezone: Mars/Base, group: nope, nodes: 1, for: soon}}\n");
        assert_eq!(
            paths(&yaml),
            vec![
                "clusters[0].applications[1]",
                "clusters[0].subnet",
                "clusters[0].master.count",
                "clusters[0].schedules[0].nodes",
                "clusters[0].schedules[1].cron",
                "clusters[0].schedules[1].timezone",
                "clusters[0].schedules[1].for",
                "clusters[0].schedules[1].group",
            ]
        );
    }

    /// A spec with one cluster in subnet `a`: `network` extra keys and `cluster` extra keys.
    fn cluster_spec(subnet: &str, network: &str, cluster: &str) -> String {
        format!("{HEAD}network:\n  vpc: {{cidr: 10.0.0.0/16}}\n  subnets:\n    - {{name: a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a{subnet}}}\n{network}clusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {{type: m5.xlarge}}\n    core: {{type: m5.xlarge, nodes: 2}}\n    task_groups: [{{name: batch, type: m5.xlarge, nodes: 0}}]\n{cluster}")
    }

    fn messages(yaml: &str) -> Vec<String> {
        problems(yaml).into_iter().map(|p| format!("{}: {}", p.path, p.message)).collect()
    }

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

    #[test]
    fn a_cluster_needs_a_route_to_s3_and_a_public_ip_in_a_public_subnet() {
        let found = messages(&cluster_spec("", "", ""));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("clusters[0].subnet: subnet `a` has no route to S3"), "{found:?}");
        assert!(found[0].contains("`endpoints: [s3]`") && found[0].contains("`nat: single`"), "{found:?}");
        assert_eq!(messages(&cluster_spec("", "  endpoints: [s3]\n", "")), Vec::<String>::new());
        assert_eq!(messages(&cluster_spec(", public: true", "", "")), Vec::<String>::new());
        let found = messages(&cluster_spec(", public: true, map_public_ip: false", "", ""));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("gives instances no public IP"), "{found:?}");
        let found = messages(&cluster_spec(", map_public_ip: true", "  endpoints: [s3]\n", ""));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("network.subnets[0].map_public_ip: a private subnet"), "{found:?}");
    }

    #[test]
    fn the_names_of_a_clusters_emr_managed_groups_are_taken() {
        let network = "  endpoints: [s3]\n  security_groups: [{name: spark-emr-service}]\n";
        assert_eq!(paths(&cluster_spec("", network, "")), ["network.security_groups[0].name"]);
    }

    #[test]
    fn an_idle_timeout_must_outlast_the_quiet_hours_between_windows() {
        let network = "  endpoints: [s3]\n";
        let with = |timeout: &str, schedules: &[&str]| {
            let schedules: String = schedules
                .iter()
                .enumerate()
                .map(|(i, cron)| {
                    format!("      - {{name: w{i}, cron: '{cron}', timezone: Asia/Seoul, group: batch, nodes: 20, for: 4h}}\n")
                })
                .collect();
            messages(&cluster_spec("", network, &format!("    idle_timeout: {timeout}\n    schedules:\n{schedules}")))
        };
        // Daily 02:00-06:00: 20h without a window.
        let found = with("12h", &["0 2 * * *"]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("clusters[0].idle_timeout: `12h` would end the cluster"), "{found:?}");
        assert!(found[0].contains("is 20h; set `idle_timeout` above that"), "{found:?}");
        assert_eq!(with("20h", &["0 2 * * *"]).len(), 1);
        assert!(with("21h", &["0 2 * * *"]).is_empty());
        // Two windows a day: 02:00-06:00 and 14:00-18:00 leave at most 8h.
        assert!(with("9h", &["0 2 * * *", "0 14 * * *"]).is_empty());
        assert_eq!(with("8h", &["0 2 * * *", "0 14 * * *"]).len(), 1);
        // Weekdays only: Friday 06:00 to Monday 02:00.
        let found = with("21h", &["0 2 * * MON-FRI"]);
        assert!(found.len() == 1 && found[0].contains("is 2d 20h"), "{found:?}");
        assert!(with("3d", &["0 2 * * 1-5"]).is_empty());
        // Monthly: longer than EMR's 7-day maximum.
        let found = with("7d", &["0 2 1 * *"]);
        assert!(found.len() == 1 && found[0].contains("remove `idle_timeout`"), "{found:?}");
        // No schedules, no constraint.
        assert!(messages(&cluster_spec("", network, "    idle_timeout: 1h\n")).is_empty());
    }

    #[test]
    fn cron_fields_select_the_days_cron_does() {
        assert_eq!(cron_field_matches("*", 5, &[], 1, 31), Some(true));
        assert_eq!(cron_field_matches("1-5", 6, &WEEKDAYS, 0, 7), Some(false));
        assert_eq!(cron_field_matches("MON-FRI", 1, &WEEKDAYS, 0, 7), Some(true));
        assert_eq!(cron_field_matches("*/2", 3, &[], 1, 31), Some(true));
        assert_eq!(cron_field_matches("*/2", 2, &[], 1, 31), Some(false));
        assert_eq!(cron_field_matches("1,15", 15, &[], 1, 31), Some(true));
        assert_eq!(cron_field_matches("JAN,jul", 7, &MONTHS, 1, 12), Some(true));
        assert_eq!(cron_field_matches("5/0", 5, &[], 1, 31), None);
        assert_eq!(hours(std::time::Duration::from_secs(68 * 3600)), "2d 20h");
    }

    #[test]
    fn ports_parse() {
        assert_eq!(port_range(&Ports::Single(22)), Ok((22, 22)));
        assert_eq!(port_range(&Ports::Range("8000-8100".into())), Ok((8000, 8100)));
        assert!(port_range(&Ports::Single(-1)).is_err());
        assert!(port_range(&Ports::Range("http".into())).is_err());
    }
}

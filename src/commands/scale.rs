//! `pipectl scale`: resize an EMR instance group on purpose, record it on the cluster so plans
//! do not revert it, and optionally schedule the return to the baseline in EventBridge
//! Scheduler so that it happens even when the machine that ran `scale` is gone.
//!
//! Guarded: a size above the group's cap (`max_nodes`, see `spec::Group::cap`) is refused before
//! any AWS call, with what that size would cost per hour and where the spec raises the cap; a
//! resize says what it changes the hourly cost by (from `pricing`, or "no price").
//!
//! One window rule with `pipectl run` (`spec::windows_overlapping`): a `--for/--until` whose time
//! (now to the scale-back) overlaps a window of a job or schedule on the group is refused before
//! any AWS call, since the window's edges would resize the group under the scale and the
//! scale-back would cut the window's work short; and so is any resize of a group a job's
//! execution is running on (its resize-back would undo it, or it would shrink the group under the
//! job). `--force` overrides both, with a warning on stderr. A cluster with managed scaling is
//! EMR's to size: `scale` refuses it (`spec::managed_scaling_refusal`).
//!
//! It makes the fewest calls it can: find the cluster (ListClusters), read it and its groups
//! (DescribeCluster and ListInstanceGroups, in parallel), ask Step Functions whether a job runs
//! on the group (only when a job of the spec uses it), then create the scale-back schedule of
//! `--for/--until` (checking that the dead-letter queue it names exists, GetQueueUrl, at the same
//! time) — before anything is resized, so that a schedule that cannot be made leaves nothing
//! scaled — and only then modify and tag (in parallel).

use std::time::Duration;

use clap::Args;

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use serde::Serialize;

use super::run::running_on_group;
use super::session::Session;
use super::{CommandError, GlobalArgs, OutputFormat, Status};
use crate::aws::calls::CallCounter;
use crate::aws::{AwsError, Clients};
use crate::calendar::parse_duration;
use crate::iam::Arns;
use crate::model::ResourceId;
use crate::names::{emr_cluster_name, scale_back_schedule_name, schedules_dlq_name, PIPELINE_TAG, SCALE_BACK_MARKER};
use crate::pricing::{live, usd, PriceTable, TABLE_FILE};
use crate::progress::Progress;
use crate::resources::cluster::{self, Found, Group, GroupWait, ScaleRecord};
use crate::resources::kit::account_id;
use crate::resources::queue;
use crate::resources::schedule::{
    create_one_time, delete_one_time_resize, resize_input, OneTimeAction, OneTimeSchedule,
};
use crate::spec::{managed_scaling_refusal, replication_floor, windows_overlapping, Cluster, Spec};

/// `pipectl scale [CLUSTER] --nodes N [--group GROUP] [--for DURATION | --until TIME] [--reset] [--wait]`
///
/// Without --group, the first task group is resized (the core group when there is none). Large
/// swings belong on task groups: they hold no HDFS data, so shrinking them loses nothing, while
/// core nodes can never drop below the HDFS replication floor.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// The cluster of the spec (may be omitted when the spec has one).
    pub cluster: Option<String>,
    /// The new number of nodes.
    #[arg(long, required_unless_present = "reset", conflicts_with = "reset")]
    pub nodes: Option<i64>,
    /// `core` or a task group name (default: the first task group).
    #[arg(long)]
    pub group: Option<String>,
    /// Return to the baseline after this long (e.g. 4h), by a one-time EventBridge schedule.
    #[arg(long = "for", value_parser = parse_duration, value_name = "DURATION", conflicts_with = "until")]
    pub duration: Option<Duration>,
    /// Return to the baseline at this time: HH:MM (next occurrence in --timezone) or RFC 3339.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// The time zone of --until HH:MM.
    #[arg(long, default_value = "UTC", value_name = "ZONE")]
    pub timezone: String,
    /// Return the group to the spec's baseline and cancel any pending scale-back.
    #[arg(long)]
    pub reset: bool,
    /// Follow the group until the running count reaches N (bounded by --timeout).
    #[arg(long)]
    pub wait: bool,
    /// Resize even into a job's or schedule's window on the group, or while a job runs on it
    /// (a warning says what it collides with).
    #[arg(long)]
    pub force: bool,
    /// How to print the resize: for people, or JSON for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

/// `pipectl scale`: one deliberate resize, printed as `task group 'batch' of cluster 'spark': 4 → 20`.
/// It does not wait for the pipeline's lock: it is one EMR call on one group.
pub async fn exec(global: &GlobalArgs, args: &ScaleArgs, counter: &CallCounter) -> Result<Status, CommandError> {
    let session = Session::open(global, counter).await?;
    let now = Utc::now();
    let until = match (&args.until, args.duration) {
        (Some(text), _) => Some(parse_until(text, &args.timezone, now).map_err(CommandError::Refused)?),
        (None, Some(length)) => chrono::Duration::from_std(length).ok().map(|length| now + length),
        (None, None) => None,
    };
    let request = ScaleRequest {
        cluster: args.cluster.clone(),
        group: args.group.clone(),
        nodes: args.nodes,
        reset: args.reset,
        until,
        wait: args.wait.then_some(global.ready_timeout()),
        force: args.force,
        now,
        live_prices: !global.offline_prices,
    };
    let result =
        scale(&session.clients, &session.loaded.spec, &request, &session.progress).await.map_err(
            |error| match error {
                ScaleError::Aws(error) => session.explain(error),
                other => CommandError::Scale(Box::new(other)),
            },
        )?;
    match args.output {
        OutputFormat::Json => outln!("{}", serde_json::to_string(&result).unwrap_or_default()),
        OutputFormat::Human => print_result(&result, args),
    }
    Ok(Status::Success)
}

fn print_result(result: &ScaleResult, args: &ScaleArgs) {
    outln!("{}", result.headline());
    outln!("Cost: {}.", result.cost.describe(result.from, result.to));
    if let (Some(until), Some(schedule)) = (&result.until, &result.scale_back_schedule) {
        outln!("Back to {} at {until} (UTC) by the EventBridge Scheduler schedule {schedule}, even if this machine is off.", result.baseline);
    }
    if args.reset {
        outln!("The scale record and any pending scale-back are removed; plans compare with the baseline again.");
    } else if result.to != result.baseline {
        outln!("Recorded on the cluster: `pipectl plan` shows this as information, not as a change; `pipectl scale {} --group {} --reset` returns to {}.", result.cluster, result.group, result.baseline);
    }
    if !args.wait {
        outln!("EMR is resizing now; follow it with `pipectl scale {} --group {} --nodes {} --wait` or `aws emr list-instance-groups --cluster-id {}`.", result.cluster, result.group, result.to, result.cluster_id);
    }
}

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct ScaleRequest {
    pub cluster: Option<String>,
    pub group: Option<String>,
    /// The new size; `None` with `reset`.
    pub nodes: Option<i64>,
    pub reset: bool,
    /// When to return to the baseline.
    pub until: Option<DateTime<Utc>>,
    pub wait: Option<Duration>,
    /// Go ahead into a window or past a running job, with a warning.
    pub force: bool,
    /// When the request was made: where its hold of the group starts.
    pub now: DateTime<Utc>,
    /// Read prices the table lacks from the AWS Price List API (no `--offline-prices`).
    pub live_prices: bool,
}

/// What was done, for people and for `--output json`.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleResult {
    pub cluster: String,
    pub cluster_id: String,
    pub group: String,
    pub from: i64,
    pub to: i64,
    pub baseline: i64,
    pub until: Option<String>,
    pub scale_back_schedule: Option<String>,
    pub cost: ScaleCost,
}

/// What a resize does to the hourly cost, from the price table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScaleCost {
    pub region: String,
    pub instance_type: String,
    /// Spot nodes: never priced at the on-demand figure (their price varies).
    pub spot: bool,
    /// EC2 + EMR per node-hour; `None` is "no price" (always for spot).
    pub node_usd: Option<f64>,
    /// `(to - from) × node_usd`: positive when the resize costs more.
    pub hourly_change_usd: Option<f64>,
    /// `to × node_usd`.
    pub hourly_at_target_usd: Option<f64>,
}

impl ScaleCost {
    fn new(prices: &PriceTable, region: &str, instance_type: &str, spot: bool, from: i64, to: i64) -> ScaleCost {
        let node_usd = match spot {
            true => None,
            false => prices.node(region, instance_type).map(|price| price.hourly()),
        };
        ScaleCost {
            region: region.to_string(),
            instance_type: instance_type.to_string(),
            spot,
            node_usd,
            hourly_change_usd: node_usd.map(|node| node * (to - from) as f64),
            hourly_at_target_usd: node_usd.map(|node| node * to as f64),
        }
    }

    /// `+$4.0000 per hour (16 more m5.xlarge nodes at $0.2500 EC2 + EMR each in us-east-1)`, or
    /// why there is no price.
    pub fn describe(&self, from: i64, to: i64) -> String {
        let (Some(node), Some(change)) = (self.node_usd, self.hourly_change_usd) else {
            return self.no_price();
        };
        let (sign, more) = if to >= from { ("+", "more") } else { ("-", "fewer") };
        format!(
            "{sign}{} per hour ({} {more} {} node{} at {} EC2 + EMR each in {})",
            usd(change.abs()),
            (to - from).abs(),
            self.instance_type,
            if (to - from).abs() == 1 { "" } else { "s" },
            usd(node),
            self.region
        )
    }

    /// `$5.0000 per hour (20 × $0.2500 …)`, or "no price …", for a size that is refused.
    fn at_target(&self, to: i64) -> String {
        match (self.node_usd, self.hourly_at_target_usd) {
            (Some(node), Some(total)) => format!(
                "{} per hour ({to} × {} {} at {} EC2 + EMR in {})",
                usd(total),
                self.instance_type,
                if to == 1 { "node" } else { "nodes" },
                usd(node),
                self.region
            ),
            _ if self.spot => format!("an unpriced amount ({})", self.no_price()),
            _ => format!("no price ({} in {} is not in {TABLE_FILE})", self.instance_type, self.region),
        }
    }

    /// Why there is no figure: spot prices vary, or the table lacks the type in the region.
    fn no_price(&self) -> String {
        match self.spot {
            true => format!("spot: not priced, as spot prices vary ({} in {})", self.instance_type, self.region),
            false => format!("no price for {} in {} in {TABLE_FILE}", self.instance_type, self.region),
        }
    }
}

impl ScaleResult {
    /// `task group 'batch' of cluster 'spark': 4 → 20`
    pub fn headline(&self) -> String {
        format!("{} of cluster '{}': {} → {}", Group::parse(&self.group).label(), self.cluster, self.from, self.to)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    /// Refused before changing anything.
    #[error("{0}; nothing was changed")]
    Refused(String),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{0}")]
    Timeout(String),
}

/// The group `scale` changes when `--group` is not given: the first task group (large swings
/// belong on task groups, which hold no HDFS data), or `core` when there is none.
pub fn default_group(cluster: &Cluster) -> Group {
    cluster.task_groups.first().map_or(Group::Core, |group| Group::Task(group.name.clone()))
}

fn pick_cluster<'a>(spec: &'a Spec, name: Option<&str>) -> Result<&'a Cluster, ScaleError> {
    let names: Vec<&str> = spec.clusters.iter().map(|c| c.name.as_str()).collect();
    match (name, spec.clusters.as_slice()) {
        (None, [only]) => Ok(only),
        (None, []) => Err(ScaleError::Refused("the spec has no clusters".to_string())),
        (None, _) => {
            Err(ScaleError::Refused(format!("the spec has several clusters; name one of: {}", names.join(", "))))
        }
        (Some(name), _) => spec.clusters.iter().find(|c| c.name == name).ok_or_else(|| {
            ScaleError::Refused(format!("no cluster named `{name}` in the spec (it has: {})", names.join(", ")))
        }),
    }
}

/// Parses `--until`: `HH:MM` (the next such time in `timezone`) or an RFC 3339 timestamp.
pub fn parse_until(text: &str, timezone: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let zone = crate::calendar::parse_timezone(timezone)?;
    let time = NaiveTime::parse_from_str(text, "%H:%M")
        .map_err(|_| format!("`{text}` is not a time such as 06:00 or 2026-11-23T06:00:00Z"))?;
    let local_now = now.with_timezone(&zone);
    let mut date = local_now.date_naive();
    if local_now.time() >= time {
        date = date.succ_opt().unwrap_or(date);
    }
    zone.from_local_datetime(&date.and_time(time))
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| format!("{text} does not exist in {timezone} on {date} (a daylight-saving gap)"))
}

/// What a request comes to once checked against the spec, before any AWS call.
struct Checked<'a> {
    cluster: &'a Cluster,
    group: Group,
    baseline: i64,
    target: i64,
    instance_type: &'a str,
    spot: bool,
}

/// Checks `request` against the spec: the cluster and group exist, the size is not negative and
/// not above the group's cap (a typo, 2000 for 20, never reaches EMR).
fn check<'a>(spec: &'a Spec, request: &ScaleRequest, region: &str) -> Result<Checked<'a>, ScaleError> {
    let cluster = pick_cluster(spec, request.cluster.as_deref())?;
    if let Some(refusal) = managed_scaling_refusal(cluster) {
        return Err(ScaleError::Refused(refusal));
    }
    let group = request.group.as_deref().map_or_else(|| default_group(cluster), Group::parse);
    let baseline = group.baseline(cluster).ok_or_else(|| {
        let mut names = vec![Group::Core.name().to_string()];
        names.extend(cluster.task_groups.iter().map(|g| g.name.clone()));
        ScaleError::Refused(format!("cluster '{}' has no group `{group}` (it has: {})", cluster.name, names.join(", ")))
    })?;
    let target = if request.reset {
        baseline
    } else {
        request.nodes.ok_or_else(|| ScaleError::Refused("give --nodes N, or --reset".to_string()))?
    };
    if target < 0 {
        return Err(ScaleError::Refused(format!("--nodes {target} is below 0")));
    }
    let instance_type = group.instance_type(cluster).unwrap_or_default();
    if let Some(cap) = group.cap(cluster).filter(|cap| target > cap.nodes) {
        let cost = ScaleCost::new(&PriceTable::embedded(), region, instance_type, group.is_spot(cluster), 0, target);
        return Err(ScaleError::Refused(format!(
            "--nodes {target} is above {}, the cap of the {} of cluster '{}'; at that size the group would cost {}. To allow it, raise `{}` in the spec",
            cap.describe(baseline),
            group.label(),
            cluster.name,
            cost.at_target(target),
            group.max_nodes_path(spec, cluster)
        )));
    }
    let spot = group.is_spot(cluster);
    Ok(Checked { cluster, group, baseline, target, instance_type, spot })
}

/// The window rule (`spec::windows_overlapping`, which `pipectl run` applies too): a resize held
/// from now until its scale-back may not overlap a window of a job or schedule on the group.
/// Returns what it collides with, for a refusal (or, with `--force`, a warning).
fn window_collision(checked: &Checked<'_>, request: &ScaleRequest) -> Option<String> {
    let until = request.until.filter(|_| !request.reset)?;
    let colliding =
        windows_overlapping(checked.cluster, checked.group.name(), request.now.timestamp(), until.timestamp());
    (!colliding.is_empty()).then(|| {
        format!(
            "{} of cluster '{}' would be held at {} until {} and then scaled back, into {}: the window's resize would change the group under this one, and the scale-back would cut the window's work short. Choose a scale-back before the window starts (or add --force)",
            checked.group.label(),
            checked.cluster.name,
            checked.target,
            until.format("%Y-%m-%d %H:%M UTC"),
            colliding.join(", ")
        )
    })
}

/// Refuses what `--force` may override, or warns about it when forced.
fn refuse_unless_forced(
    refusal: Option<String>,
    request: &ScaleRequest,
    progress: &Progress,
) -> Result<(), ScaleError> {
    match refusal {
        None => Ok(()),
        Some(why) if request.force => {
            progress.warn(&format!("--force: {why}"));
            Ok(())
        }
        Some(why) => Err(ScaleError::Refused(why)),
    }
}

/// Whether a job of the spec is running on the group now (one Step Functions read per job on
/// the group; none when no job uses it): a resize meanwhile would be undone by the job's
/// resize-back, or would shrink the group under the job.
async fn job_collision(clients: &Clients, spec: &Spec, checked: &Checked<'_>) -> Result<Option<String>, AwsError> {
    let group = |job: &crate::spec::Job| Group::parse(&job.group) == checked.group;
    if !checked.cluster.jobs.iter().any(group) {
        return Ok(None);
    }
    // The account of Step Functions (STS), not the cluster's: on AWS they are one, on an
    // emulator stack they may not be.
    let arns = Arns::new(&account_id(clients).await?, &clients.region);
    let running = running_on_group(clients, spec, checked.cluster, &checked.group, &arns).await?;
    Ok(running.map(|(job, execution)| {
        format!(
            "job {} is running on {} ({execution}): its resize-back would undo this resize, or this one would change the group under the job. Wait for it to end (`pipectl runs {}`), or add --force",
            job.label(),
            checked.group.label(),
            job.label()
        )
    }))
}

/// The fewest core nodes a cluster may have, and why.
struct CoreFloor {
    nodes: i64,
    why: String,
}

/// The HDFS floor under a cluster's core group: the replication it runs with (its configured
/// `dfs.replication`, or the one pipectl recorded at launch), else the one pipectl launches it
/// with from the spec (`Cluster::hdfs_replication`: a cluster launched before pipectl recorded
/// it). Not the current core count's default: EMR sets the replication once, at launch.
fn core_floor(cluster: &Cluster, live: Option<i64>) -> CoreFloor {
    let copies = |n: i64| format!("{n} cop{}", if n == 1 { "y" } else { "ies" });
    match (live, cluster.dfs_replication()) {
        (Some(nodes), _) => {
            CoreFloor { nodes, why: format!("HDFS keeps {} of each block on this cluster", copies(nodes)) }
        }
        (None, Some(nodes)) => CoreFloor {
            nodes,
            why: format!("HDFS keeps {} of each block (dfs.replication in the spec)", copies(nodes)),
        },
        (None, None) => {
            let nodes = replication_floor(cluster.core.nodes);
            let why = format!(
                "HDFS keeps {} of each block on a cluster launched with {} core nodes",
                copies(nodes),
                cluster.core.nodes
            );
            CoreFloor { nodes, why }
        }
    }
}

/// The live cluster and group a checked request resizes.
struct Target {
    id: ResourceId,
    cluster_id: String,
    account_id: String,
    group_id: String,
    current: i64,
}

/// Rounds 1 and 2: finds the cluster by its deterministic name, reads its tags, state and groups,
/// and refuses what EMR or HDFS would not take.
async fn find(clients: &Clients, spec: &Spec, checked: &Checked<'_>) -> Result<Target, ScaleError> {
    let Checked { cluster, group, target, .. } = checked;
    let emr_name = emr_cluster_name(&spec.pipeline, &cluster.name);
    let id = cluster::id(&cluster.name);
    let (cluster_id, live) = match cluster::find_owned(clients, &spec.pipeline, &cluster.name).await? {
        Found::Ours { cluster_id, running } => (cluster_id, running),
        Found::NotRunning => {
            return Err(ScaleError::Refused(format!(
                "cluster '{}' is not running (no active EMR cluster named {emr_name}); run `pipectl apply` first",
                cluster.name
            )))
        }
        Found::NotOurs { cluster_id } => {
            return Err(ScaleError::Refused(format!("EMR cluster {cluster_id} ({emr_name}) is not tagged as {id} of pipeline `{}`; pipectl only resizes its own clusters", spec.pipeline)))
        }
    };
    if !live.state.accepts_resize() {
        return Err(ScaleError::Refused(format!(
            "cluster '{}' is {}; EMR resizes only RUNNING or WAITING clusters",
            cluster.name, live.state
        )));
    }
    let live_group = live.group(group).ok_or_else(|| {
        ScaleError::Refused(format!(
            "cluster '{}' has no live group `{group}`; run `pipectl apply` first",
            cluster.name
        ))
    })?;
    let (group_id, current) = (live_group.id.clone(), live_group.requested);
    if *group == Group::Core {
        let floor = core_floor(cluster, live.hdfs_replication);
        if *target < floor.nodes {
            return Err(ScaleError::Refused(format!(
                "core nodes cannot go below {}: {}, and EMR cannot scale core nodes below dfs.replication",
                floor.nodes, floor.why
            )));
        }
    }
    Ok(Target { id, cluster_id, account_id: live.account_id().to_string(), group_id, current })
}

/// Resizes one group of one cluster of the spec.
pub async fn scale(
    clients: &Clients,
    spec: &Spec,
    request: &ScaleRequest,
    progress: &Progress,
) -> Result<ScaleResult, ScaleError> {
    let checked = check(spec, request, &clients.region)?;
    refuse_unless_forced(window_collision(&checked, request), request, progress)?;
    let found = find(clients, spec, &checked).await?;
    refuse_unless_forced(job_collision(clients, spec, &checked).await?, request, progress)?;
    let (
        Checked { cluster, group, baseline, target, instance_type, spot },
        Target { id, cluster_id, group_id, current, .. },
    ) = (&checked, &found);
    // Round 3: schedule (or cancel) the scale-back, before anything is resized: a scale-back
    // that cannot be scheduled leaves the group as it was, not scaled with nothing to bring it back.
    let scale_back = scale_back_schedule_name(&spec.pipeline, &cluster.name, group.name());
    let until = request.until.map(|at| at.format("%Y-%m-%dT%H:%M:%S").to_string());
    let modify = async {
        if target == current {
            return Ok(());
        }
        cluster::resize_group(clients, id, cluster_id, group_id, *target).await
    };
    let record = async {
        if request.reset {
            cluster::forget_scale(clients, id, cluster_id, group).await
        } else {
            let record =
                ScaleRecord { nodes: *target, baseline: *baseline, until: until.as_ref().map(|u| format!("{u}Z")) };
            cluster::record_scale(clients, id, cluster_id, group, &record).await
        }
    };
    let schedule = async {
        match (&until, request.reset) {
            (_, true) => delete_one_time_resize(clients, &scale_back).await,
            (Some(at), false) => schedule_scale_back(clients, spec, &checked, &found, &scale_back, at, progress).await,
            (None, false) => Ok(()),
        }
    };
    schedule.await?;
    // Round 4: resize and record, and read the prices the table lacks meanwhile.
    let region = &clients.region;
    let price = live::priced(clients.price_list(request.live_prices), region, |table| {
        ScaleCost::new(table, region, instance_type, *spot, *current, *target)
    });
    let (resized, (cost, price_warning)) = tokio::join!(async { tokio::try_join!(modify, record) }, price);
    resized?;
    if let Some(warning) = price_warning {
        progress.warn(&warning);
    }

    let result = ScaleResult {
        cluster: cluster.name.clone(),
        cluster_id: cluster_id.clone(),
        group: group.name().to_string(),
        from: *current,
        to: *target,
        baseline: *baseline,
        until: until.map(|u| format!("{u}Z")),
        scale_back_schedule: request.until.map(|_| scale_back),
        cost,
    };
    if let Some(timeout) = request.wait {
        let waited = cluster::wait_group_size(clients, id, cluster_id, group_id, *target, timeout, progress).await?;
        if let GroupWait::TimedOut { running } = waited {
            return Err(ScaleError::Timeout(format!("{running} of {target} nodes running after {}s; the resize goes on in EMR (raise --timeout to wait longer)", timeout.as_secs())));
        }
    }
    Ok(result)
}

/// Creates the one-time schedule that returns the group to its baseline at `at`, and checks that
/// the dead-letter queue it names exists.
async fn schedule_scale_back(
    clients: &Clients,
    spec: &Spec,
    checked: &Checked<'_>,
    found: &Target,
    name: &str,
    at: &str,
    progress: &Progress,
) -> Result<(), AwsError> {
    let (cluster, group) = (checked.cluster, &checked.group);
    let resize = OneTimeSchedule {
        name,
        description: format!(
            "Scale-back by pipectl scale. {PIPELINE_TAG}={} {SCALE_BACK_MARKER}={}/{group}",
            spec.pipeline, cluster.name
        ),
        at: at.to_string(),
        action: OneTimeAction::Resize(resize_input(&found.cluster_id, &found.group_id, checked.baseline)),
    };
    // A failed scale-back goes to the pipeline's dead-letter queue, which `apply` creates; a
    // pipeline applied before there was one is told to apply again.
    let create = create_one_time(clients, spec, &found.account_id, &cluster.name, &resize);
    let (created, queue) = tokio::join!(create, queue::exists(clients, &spec.pipeline));
    match queue {
        Ok(true) => {}
        Ok(false) => progress.warn(&format!(
            "the dead-letter queue {} does not exist: run `pipectl apply` so that a failed scale-back is kept, not dropped",
            schedules_dlq_name(&spec.pipeline)
        )),
        Err(error) => progress.warn(&format!("could not check the dead-letter queue: {error}")),
    }
    created
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_is_the_next_such_time_in_the_zone() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 20, 0, 0).unwrap();
        // 06:00 in Seoul (UTC+9) after 05:00 local on the 23rd is 06:00 on the 23rd = 21:00 UTC on the 22nd.
        assert_eq!(parse_until("06:00", "Asia/Seoul", now).unwrap().to_rfc3339(), "2026-11-22T21:00:00+00:00");
        assert_eq!(parse_until("06:00", "UTC", now).unwrap().to_rfc3339(), "2026-11-23T06:00:00+00:00");
        assert_eq!(parse_until("2026-11-23T06:30:00Z", "UTC", now).unwrap().to_rfc3339(), "2026-11-23T06:30:00+00:00");
        assert!(parse_until("6 o'clock", "UTC", now).is_err());
    }

    #[test]
    fn the_cost_of_a_resize_or_no_price() {
        // No stored source gives EMR node prices yet, so the shipped table has none: "no price".
        let unknown = ScaleCost::new(&PriceTable::embedded(), "us-east-1", "m5.xlarge", false, 4, 20);
        assert_eq!((unknown.node_usd, unknown.hourly_change_usd), (None, None));
        assert_eq!(unknown.describe(4, 20), "no price for m5.xlarge in us-east-1 in pricing/prices.yaml");
        assert_eq!(unknown.at_target(20), "no price (m5.xlarge in us-east-1 is not in pricing/prices.yaml)");
        let priced = ScaleCost {
            node_usd: Some(0.25),
            hourly_change_usd: Some(-4.0),
            hourly_at_target_usd: Some(1.0),
            ..unknown.clone()
        };
        assert_eq!(
            priced.describe(20, 4),
            "-$4.00 per hour (16 fewer m5.xlarge nodes at $0.2500 EC2 + EMR each in us-east-1)"
        );
        assert_eq!(priced.at_target(4), "$1.00 per hour (4 × m5.xlarge nodes at $0.2500 EC2 + EMR in us-east-1)");
    }

    #[test]
    fn spot_nodes_are_never_priced_at_the_on_demand_figure() {
        let table = PriceTable::parse(
            "retrieved: 2026-12-07\nhours_per_month: 730\nregions:\n  us-east-1:\n    ec2:\n      m5.xlarge: {usd: 0.2, source: 'https://example.test/ec2', as_of: 2026-12}\n    emr:\n      m5.xlarge: {usd: 0.05, source: 'https://example.test/emr', as_of: 2026-12}\n",
        )
        .unwrap();
        let on_demand = ScaleCost::new(&table, "us-east-1", "m5.xlarge", false, 4, 20);
        assert_eq!(on_demand.node_usd, Some(0.25));
        let spot = ScaleCost::new(&table, "us-east-1", "m5.xlarge", true, 4, 20);
        assert_eq!((spot.node_usd, spot.hourly_change_usd, spot.hourly_at_target_usd), (None, None, None));
        assert_eq!(spot.describe(4, 20), "spot: not priced, as spot prices vary (m5.xlarge in us-east-1)");
        assert_eq!(
            spot.at_target(20),
            "an unpriced amount (spot: not priced, as spot prices vary (m5.xlarge in us-east-1))"
        );
    }

    /// A request made at `now` on the spec's cluster: `--nodes 6 [--until until]`.
    fn request(now: DateTime<Utc>, until: Option<DateTime<Utc>>, reset: bool) -> ScaleRequest {
        ScaleRequest {
            cluster: None,
            group: None,
            nodes: Some(6),
            reset,
            until,
            wait: None,
            force: false,
            now,
            live_prices: false,
        }
    }

    #[test]
    fn a_scale_back_may_not_land_in_a_window_on_the_group() {
        // The night batch at 04:00 UTC for 1h on `batch` (held until its guard at 05:15), and a
        // schedule on core at 12:00 for 2h.
        let spec: Spec = serde_saphyr::from_str("version: 1\npipeline: p\nregion: eu-west-1\nbuckets: [{name: lake}]\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: s\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 2}\n    task_groups: [{name: batch, type: m5.xlarge, nodes: 0}]\n    schedules: [{name: noon, cron: '0 12 * * *', group: core, nodes: 4, for: 2h}]\n    jobs:\n      - {name: nightly, cron: '0 4 * * *', group: batch, nodes: 8, timeout: 1h, steps: [{name: s, script: 's3://lake/a.py'}]}\n").unwrap();
        let at = |day: u32, hour: u32, minute: u32| Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0).unwrap();
        let collision = |request: &ScaleRequest| {
            let checked = check(&spec, request, "eu-west-1").unwrap();
            window_collision(&checked, request)
        };
        // `scale --nodes 6 --until 05:00` at 23:00: its scale-back lands inside the 04:00 job.
        let refused = collision(&request(at(29, 23, 0), Some(at(30, 5, 0)), false)).expect("refused");
        assert!(
            refused.starts_with("task group 'batch' of cluster 'spark' would be held at 6 until 2026-11-30 05:00 UTC and then scaled back, into job 'nightly' (from 2026-11-30 04:00 UTC)"),
            "{refused}"
        );
        // Back before the job starts, or held from after its guard: nothing in the way.
        assert_eq!(collision(&request(at(29, 23, 0), Some(at(30, 3, 59)), false)), None);
        assert_eq!(collision(&request(at(30, 5, 15), Some(at(30, 23, 0)), false)), None);
        // The core schedule is another group's window; a plain scale holds nothing until a time.
        assert_eq!(collision(&request(at(30, 11, 0), Some(at(30, 13, 0)), false)), None);
        assert_eq!(collision(&request(at(29, 23, 0), None, false)), None);
        let core = ScaleRequest {
            group: Some("core".into()),
            nodes: Some(3),
            ..request(at(30, 11, 0), Some(at(30, 13, 0)), false)
        };
        assert!(collision(&core).is_some_and(|why| why.contains("schedule 'noon' (from 2026-11-30 12:00 UTC)")));
        // --force turns the refusal into a warning.
        let progress = Progress::new(false);
        let why = collision(&request(at(29, 23, 0), Some(at(30, 5, 0)), false));
        let refused = refuse_unless_forced(why.clone(), &request(at(29, 23, 0), None, false), &progress);
        assert!(matches!(refused, Err(ScaleError::Refused(_))));
        let forced = ScaleRequest { force: true, ..request(at(29, 23, 0), None, false) };
        assert!(refuse_unless_forced(why, &forced, &progress).is_ok());
    }

    #[test]
    fn the_core_floor_is_the_clusters_replication_not_its_current_size() {
        let yaml = |configurations: &str| {
            format!("version: 1\npipeline: p\nregion: eu-west-1\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: s\n    master: {{type: m5.xlarge}}\n    core: {{type: m5.xlarge, nodes: 12}}\n{configurations}")
        };
        let spec: Spec = serde_saphyr::from_str(&yaml("")).unwrap();
        let cluster = &spec.clusters[0];
        // What the cluster runs with wins: launched with 3 core nodes, replication 1, though the
        // spec's 12 would give 3.
        let floor = core_floor(cluster, Some(1));
        assert_eq!((floor.nodes, floor.why.as_str()), (1, "HDFS keeps 1 copy of each block on this cluster"));
        // Unknown: the spec's launch size (12 → 3), not the current core count.
        let floor = core_floor(cluster, None);
        assert_eq!(
            (floor.nodes, floor.why.as_str()),
            (3, "HDFS keeps 3 copies of each block on a cluster launched with 12 core nodes")
        );
        let configured: Spec = serde_saphyr::from_str(&yaml(
            "    configurations: [{classification: hdfs-site, properties: {dfs.replication: '2'}}]\n",
        ))
        .unwrap();
        assert_eq!(core_floor(&configured.clusters[0], None).nodes, 2);
    }

    #[test]
    fn a_cluster_under_managed_scaling_is_not_scaled() {
        let spec: Spec = serde_saphyr::from_str("version: 1\npipeline: p\nregion: eu-west-1\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: s\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 2}\n    managed_scaling: {min: 2, max: 10}\n").unwrap();
        let refused = check(&spec, &request(Utc::now(), None, false), "eu-west-1").err().map(|e| e.to_string());
        assert!(refused.is_some_and(|why| why.starts_with("cluster 'spark' has managed_scaling")));
        assert!(check(&spec, &request(Utc::now(), None, true), "eu-west-1").is_err(), "nor reset");
    }

    #[test]
    fn default_group_prefers_task_groups() {
        let spec: Spec = serde_saphyr::from_str("version: 1\npipeline: p\nregion: eu-west-1\nclusters:\n  - name: a\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: s\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 2}\n    task_groups: [{name: batch, type: m5.xlarge, nodes: 0}]\n  - name: b\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: s\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 2}\n").unwrap();
        assert_eq!(default_group(&spec.clusters[0]).name(), "batch");
        assert_eq!(default_group(&spec.clusters[1]).name(), "core");
        assert!(
            matches!(pick_cluster(&spec, None), Err(ScaleError::Refused(message)) if message.contains("name one of: a, b"))
        );
    }
}

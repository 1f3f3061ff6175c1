//! Carries out a plan: walks the dependency graph in parallel (bounded), creates and updates in
//! dependency order, deletes in reverse, skips what depends on a failure but finishes the rest,
//! stops starting new work on Ctrl-C or when the run has lost the pipeline's lock (its lease
//! taken over or run out: then another run may be changing the same resources), and reports
//! what happened to every resource.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::aws::AwsError;
use crate::model::{Action, DesiredResource, LiveResource, LiveState, ResourceId};
use crate::plan::Plan;
pub use crate::plan::{ApplyReport, Outcome, ResourceResult};
use crate::resources::{self, kit::Context};

/// One step of the apply graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Create, or update in place: everything that moves towards the spec.
    Forward,
    Delete,
}

struct Node {
    id: ResourceId,
    step: Step,
    needs: Vec<usize>,
}

/// The order constraints between steps, as indices into the returned node list.
fn build_graph(plan: &Plan, desired: &BTreeMap<ResourceId, &DesiredResource>, live: &LiveState) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut forward: HashMap<ResourceId, usize> = HashMap::new();
    let mut delete: HashMap<ResourceId, usize> = HashMap::new();
    for change in &plan.changes {
        if matches!(change.action, Action::Delete | Action::Replace) {
            delete.insert(change.resource.clone(), nodes.len());
            nodes.push(Node { id: change.resource.clone(), step: Step::Delete, needs: Vec::new() });
        }
        if change.action != Action::Delete {
            forward.insert(change.resource.clone(), nodes.len());
            nodes.push(Node { id: change.resource.clone(), step: Step::Forward, needs: Vec::new() });
        }
    }
    let actions: HashMap<&ResourceId, Action> = plan.changes.iter().map(|c| (&c.resource, c.action)).collect();
    for node in &mut nodes {
        match node.step {
            Step::Forward => {
                // After its own deletion (a replacement) and after what it depends on.
                node.needs.extend(delete.get(&node.id));
                if let Some(resource) = desired.get(&node.id) {
                    node.needs.extend(resource.depends_on.iter().filter_map(|dep| forward.get(dep)));
                }
            }
            Step::Delete => {
                // After everything that uses it is deleted, or updated to stop using it.
                for dependent in live.resources.values().filter(|r| r.depends_on.contains(&node.id)) {
                    node.needs.extend(delete.get(&dependent.id));
                    if actions.get(&dependent.id) == Some(&Action::Update)
                        && actions.get(&node.id) == Some(&Action::Delete)
                    {
                        node.needs.extend(forward.get(&dependent.id));
                    }
                }
            }
        }
        node.needs.sort_unstable();
        node.needs.dedup();
    }
    nodes
}

/// Runs the plan, at most `parallelism` resources in flight; `interrupted` is set by Ctrl-C, and
/// from then on nothing new starts; nor once `ctx` says the lock is lost (checked again when a
/// step's turn comes, just before its first call).
pub async fn apply(
    ctx: Arc<Context>,
    plan: &Plan,
    desired: &[DesiredResource],
    live: &LiveState,
    parallelism: usize,
    interrupted: &AtomicBool,
) -> ApplyReport {
    let desired_by_id: BTreeMap<ResourceId, &DesiredResource> = desired.iter().map(|r| (r.id.clone(), r)).collect();
    let nodes = build_graph(plan, &desired_by_id, live);
    let semaphore = Arc::new(Semaphore::new(parallelism.max(1)));
    let mut outcomes: Vec<Option<Outcome>> = vec![None; nodes.len()];
    let mut started = vec![false; nodes.len()];
    let mut running: JoinSet<(usize, Option<Result<(), AwsError>>)> = JoinSet::new();
    let mut stopped: Option<String> = None;
    loop {
        // Settle what can no longer run, then start everything that is ready.
        let mut progressed = true;
        while progressed {
            progressed = false;
            for index in 0..nodes.len() {
                if started[index] || outcomes[index].is_some() {
                    continue;
                }
                let node = &nodes[index];
                let blocker = node.needs.iter().find(|&&need| {
                    matches!(
                        outcomes[need],
                        Some(Outcome::Failed(_)) | Some(Outcome::Skipped(_)) | Some(Outcome::NotStarted)
                    )
                });
                if let Some(&blocker) = blocker {
                    outcomes[index] = Some(Outcome::Skipped(format!("{} did not complete", nodes[blocker].id)));
                    progressed = true;
                    continue;
                }
                if !node.needs.iter().all(|&need| outcomes[need] == Some(Outcome::Done)) {
                    continue;
                }
                if let Some(reason) = ctx.lock_lost() {
                    stopped.get_or_insert(lost_lock(&reason));
                }
                if interrupted.load(Ordering::SeqCst) || stopped.is_some() {
                    outcomes[index] = Some(Outcome::NotStarted);
                    progressed = true;
                    continue;
                }
                started[index] = true;
                let step = node.step;
                let id = node.id.clone();
                let desired = desired_by_id.get(&id).map(|resource| (*resource).clone());
                let current: Option<LiveResource> = live.resources.get(&id).cloned();
                let action = plan.changes.iter().find(|c| c.resource == id).map(|c| c.action);
                let ctx = ctx.clone();
                let semaphore = semaphore.clone();
                running.spawn(async move {
                    let _permit = semaphore.acquire_owned().await;
                    if ctx.lock_lost().is_some() {
                        return (index, None);
                    }
                    let result = run_step(&ctx, step, action, &id, desired.as_ref(), current.as_ref()).await;
                    (index, Some(result))
                });
            }
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        match joined {
            Ok((index, None)) => {
                stopped.get_or_insert_with(|| lost_lock(&ctx.lock_lost().unwrap_or_default()));
                outcomes[index] = Some(Outcome::NotStarted);
            }
            Ok((index, Some(Ok(())))) => outcomes[index] = Some(Outcome::Done),
            Ok((index, Some(Err(error)))) => {
                // The report names the resource already; keep the operation and the reason.
                let message = format!("{} failed: {}", error.operation, error.message);
                ctx.progress.warn(&format!("{}: {message}", nodes[index].id));
                outcomes[index] = Some(Outcome::Failed(message));
            }
            Err(panic) => {
                // A task that panicked is a bug; its node stays unresolved and is reported below.
                ctx.progress.warn(&format!("internal error in a worker: {panic}"));
            }
        }
    }
    let results = merge_results(plan, &nodes, &outcomes);
    if let Some(reason) = &stopped {
        ctx.progress.warn(reason);
    }
    ApplyReport { results, interrupted: interrupted.load(Ordering::SeqCst), stopped }
}

/// Why a run that lost its lock started nothing more.
fn lost_lock(reason: &str) -> String {
    format!("this run lost the pipeline's lock ({reason}); it started no further change, since another run may be changing the same resources")
}

async fn run_step(
    ctx: &Context,
    step: Step,
    action: Option<Action>,
    id: &ResourceId,
    desired: Option<&DesiredResource>,
    live: Option<&LiveResource>,
) -> Result<(), AwsError> {
    let started = Instant::now();
    let (verb, done) = match (step, action) {
        (Step::Delete, Some(Action::Replace)) => ("deleting (to replace)", "deleted"),
        (Step::Delete, _) => ("deleting", "deleted"),
        (Step::Forward, Some(Action::Update)) => ("updating", "updated"),
        (Step::Forward, _) => ("creating", "created"),
    };
    ctx.progress.line(&format!("{id}: {verb}…"));
    let result = match (step, action, desired, live) {
        (Step::Delete, _, _, Some(live)) => resources::delete(ctx, live).await,
        (Step::Forward, Some(Action::Update), Some(desired), Some(live)) => resources::update(ctx, desired, live).await,
        (Step::Forward, _, Some(desired), _) => resources::create(ctx, desired).await,
        _ => Err(AwsError::new(id, "apply", "internal error: nothing to apply")),
    };
    if result.is_ok() {
        ctx.progress.line(&format!("{id}: {done} ({:.1}s)", started.elapsed().as_secs_f64()));
    }
    result
}

/// One result per resource: a replacement is done only when both of its steps are.
fn merge_results(plan: &Plan, nodes: &[Node], outcomes: &[Option<Outcome>]) -> Vec<ResourceResult> {
    plan.changes
        .iter()
        .map(|change| {
            let outcome = nodes
                .iter()
                .zip(outcomes)
                .filter(|(node, _)| node.id == change.resource)
                .map(|(_, outcome)| outcome.clone().unwrap_or(Outcome::Failed("internal error".to_string())))
                .find(|outcome| *outcome != Outcome::Done)
                .unwrap_or(Outcome::Done);
            ResourceResult { resource: change.resource.clone(), action: change.action, outcome }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::build_plan;
    use crate::resources::graph_in;
    use crate::spec::SpecBuilder;

    fn order(spec: &SpecBuilder, live: &LiveState) -> Vec<(String, Vec<String>)> {
        let spec = spec.build();
        let graph = graph_in(&spec, &crate::iam::Arns::new("123456789012", "eu-west-1"), chrono::Utc::now());
        let plan = build_plan(&spec.pipeline, &graph, live, false);
        let by_id = graph.iter().map(|r| (r.id.clone(), r)).collect();
        let nodes = build_graph(&plan, &by_id, live);
        nodes
            .iter()
            .map(|node| {
                let label = |n: &Node| format!("{:?} {}", n.step, n.id);
                (label(node), node.needs.iter().map(|&i| label(&nodes[i])).collect())
            })
            .collect()
    }

    #[test]
    fn creation_follows_dependencies() {
        let spec = SpecBuilder::new()
            .subnet("a", "10.0.0.0/24", true)
            .security_group("web", &["{ports: 443, group: lb}"])
            .security_group("lb", &[]);
        let graph = order(&spec, &LiveState::default());
        let needs = |label: &str| graph.iter().find(|(l, _)| l == label).map(|(_, n)| n.clone()).unwrap();
        assert_eq!(needs("Forward vpc/p"), Vec::<String>::new());
        assert_eq!(needs("Forward subnet/a"), ["Forward vpc/p"]);
        assert_eq!(
            needs("Forward route_table/public"),
            ["Forward vpc/p", "Forward internet_gateway/p", "Forward subnet/a"]
        );
        assert_eq!(needs("Forward security_group/web"), ["Forward vpc/p", "Forward security_group/lb"]);
    }

    #[test]
    fn deletion_runs_in_reverse() {
        use crate::resources::{kind_named, parse_id};
        // Live: a VPC with a subnet, neither in the (empty) spec.
        let mut live = LiveState::default();
        let vpc_id = parse_id("vpc/p").unwrap();
        let vpc = crate::resources::test_support::live_vpc(vpc_id.clone(), "vpc-1", "10.0.0.0/16");
        live.resources.insert(vpc.id.clone(), vpc);
        live.describe();
        let mut subnet = live.resources[&vpc_id].clone();
        subnet.id = ResourceId::new(kind_named("subnet").unwrap(), "a");
        subnet.physical_id = "subnet-1".to_string();
        subnet.depends_on = vec![vpc_id];
        live.resources.insert(subnet.id.clone(), subnet);
        let graph = order(&SpecBuilder::new(), &live);
        assert_eq!(
            graph,
            [
                ("Delete vpc/p".to_string(), vec!["Delete subnet/a".to_string()]),
                ("Delete subnet/a".to_string(), vec![])
            ]
        );
    }
}

//! `pipectl adopt`: taking an existing resource with a name the spec uses as the pipeline's own,
//! on purpose, instead of tagging it by hand with the AWS CLI.
//!
//! Finding it reuses the read every run does: a resource named in `adoptable` and carrying no
//! `pipectl:pipeline` tag at all is read as the pipeline's (the same rule that adopts what a
//! crashed run was creating), while one tagged by another pipeline stays a conflict and is never
//! adopted. Adopting adds exactly the two ownership tags and keeps every other tag; the next
//! `plan` then shows what converging it to the spec changes.
//!
//! Only kinds read by name honour adoption (each says so, and tags its own: buckets, streams,
//! deliveries and the dead-letter queue); EC2 resources are found by the pipeline's tag alone and
//! have no name to adopt by.

use clap::Args;

use super::session::Session;
use super::{confirm, CommandError, GlobalArgs, Status};
use crate::aws::calls::CallCounter;
use crate::model::{DesiredResource, LiveResource, LiveState, ResourceId, Tags, PIPELINE_TAG, RESOURCE_TAG};
use crate::plan::build_plan;
use crate::render::render_plan;
use crate::resources::{adoptable_kinds, bind, parse_id};

/// The arguments of `pipectl adopt` (its help line is `cli::Command`'s).
#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// The resource, `kind/name` as in plans (e.g. `bucket/clickstream-lake`).
    #[arg(value_name = "KIND/NAME", required_unless_present = "all", conflicts_with = "all")]
    pub resource: Option<String>,
    /// Every untagged resource with a name the spec uses.
    #[arg(long)]
    pub all: bool,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
}

/// `pipectl adopt`, under the pipeline's lock.
pub async fn exec(global: &GlobalArgs, args: &AdoptArgs, counter: &CallCounter) -> Result<Status, CommandError> {
    let session = Session::open(global, counter).await?;
    let lock = session.lock("adopt", global).await?;
    let result = adopt(&session, &lock, args.resource.as_deref(), args.auto_approve, global).await;
    session.unlock(lock, result).await
}

/// Finds the untagged resources the request names, shows them and the plan that follows, and on
/// confirmation tags them as the pipeline's.
async fn adopt(
    session: &Session,
    lock: &crate::aws::lock::Lock,
    request: Option<&str>,
    auto_approve: bool,
    global: &GlobalArgs,
) -> Result<Status, CommandError> {
    let spec = &session.loaded.spec;
    let desired = session.desired();
    let requested = requested(request, &desired).map_err(CommandError::Refused)?;
    let mut live = session.read(&desired, &requested).await?;
    let blocking: Vec<String> = blocking(&live.conflicts, &requested).into_iter().cloned().collect();
    if !blocking.is_empty() {
        return Err(CommandError::Refused(format!(
            "{}\nA resource tagged by another pipeline, or one pipectl cannot read, is never adopted; nothing was changed.",
            blocking.iter().map(|conflict| format!("error: {conflict}")).collect::<Vec<_>>().join("\n")
        )));
    }
    let candidates = candidates(&live, &requested);
    if candidates.is_empty() {
        match request {
            Some(id) if live.resources.keys().any(|found| found.to_string() == id) => {
                outln!("{id} is already the pipeline's; nothing to adopt.")
            }
            Some(id) => outln!("{id} does not exist; nothing to adopt (`pipectl apply` creates it)."),
            None => outln!("Nothing to adopt: no resource with a name the spec uses is untagged."),
        }
        return Ok(Status::Success);
    }
    outln!("pipectl will adopt, tagging {PIPELINE_TAG}={} and {RESOURCE_TAG}=<kind/name>:", spec.pipeline);
    for id in &candidates {
        let physical = live.resources.get(id).map_or("", |resource| resource.physical_id.as_str());
        outln!("  {id} ({physical}, not tagged by any pipeline)");
    }
    let originals: Vec<LiveResource> = candidates.iter().filter_map(|id| live.resources.get(id).cloned()).collect();
    assume_adopted(&mut live, &spec.pipeline, &candidates);
    let next = build_plan(&spec.pipeline, &bind(&desired, &live), &live, false);
    outln!("\nThen the next plan is:\n");
    out!("{}", render_plan(&next, global.style()));
    for conflict in live.conflicts.iter().filter(|conflict| !blocking.contains(conflict)) {
        session.progress.warn(&format!("the next plan still stops on: {conflict}"));
    }
    if !auto_approve {
        confirm()?;
    }
    for resource in &originals {
        if let Some(reason) = lock.lost() {
            return Err(CommandError::Failed(format!(
                "adopt stopped before {}: this run lost the pipeline's lock ({reason})",
                resource.id
            )));
        }
        let ownership = ownership_tags(resource, &spec.pipeline);
        crate::resources::adopt(&session.clients, resource, &ownership)
            .await
            .map_err(|error| session.explain(error))?;
        outln!("Adopted {}: tagged as pipeline \"{}\"'s.", resource.id, spec.pipeline);
    }
    Ok(Status::Success)
}

/// The ids a request names: `kind/name` of the spec, or with `None` (`--all`) every resource of
/// an adoptable kind the spec asks for.
fn requested(request: Option<&str>, desired: &[DesiredResource]) -> Result<Vec<ResourceId>, String> {
    let Some(text) = request else {
        return Ok(desired
            .iter()
            .map(|resource| resource.id.clone())
            .filter(|id| adoptable_kinds().contains(&id.kind))
            .collect());
    };
    let id = parse_id(text).ok_or_else(|| {
        format!("`{text}` is not a resource: write kind/name as plans show it, e.g. bucket/clickstream-lake")
    })?;
    let adoptable = adoptable_kinds();
    if !adoptable.contains(&id.kind) {
        let names: Vec<&str> = adoptable.iter().map(|kind| kind.as_str()).collect();
        return Err(format!(
            "{id} cannot be adopted: pipectl adopt takes {} (pipectl finds the others by the pipeline's tag, so they have no name to adopt by)",
            names.join(", ")
        ));
    }
    if !desired.iter().any(|resource| resource.id == id) {
        return Err(format!("{id} is not in the spec: only a resource the spec asks for can be adopted"));
    }
    Ok(vec![id])
}

/// The conflicts of the read that concern the requested ids: a resource of another pipeline,
/// or one pipectl cannot read. Those are never adopted.
fn blocking<'a>(conflicts: &'a [String], requested: &[ResourceId]) -> Vec<&'a String> {
    conflicts
        .iter()
        .filter(|conflict| {
            requested.iter().any(|id| {
                let id = id.to_string();
                conflict.strip_prefix(id.as_str()).is_some_and(|rest| rest.starts_with(' ') || rest.starts_with(':'))
            })
        })
        .collect()
}

/// The requested resources the read found without the pipeline's tag: the ones to adopt.
fn candidates(live: &LiveState, requested: &[ResourceId]) -> Vec<ResourceId> {
    requested
        .iter()
        .filter(|id| live.resources.get(*id).is_some_and(|resource| !resource.tags.contains_key(PIPELINE_TAG)))
        .cloned()
        .collect()
}

/// The two ownership tags that adopting `live` adds.
fn ownership_tags(live: &LiveResource, pipeline: &str) -> Tags {
    Tags::from([(PIPELINE_TAG.to_string(), pipeline.to_string()), (RESOURCE_TAG.to_string(), live.id.to_string())])
}

/// The tags `live` carries once adopted: its own, plus the two ownership tags.
fn adopted_tags(live: &LiveResource, pipeline: &str) -> Tags {
    let mut tags = live.tags.clone();
    tags.extend(ownership_tags(live, pipeline));
    tags
}

/// `live` as it will be after adopting `ids`, so that a plan built from it is the next plan.
fn assume_adopted(live: &mut LiveState, pipeline: &str, ids: &[ResourceId]) {
    for id in ids {
        if let Some(resource) = live.resources.get_mut(id) {
            resource.tags = adopted_tags(resource, pipeline);
        }
    }
    live.describe();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_conflicts_of_the_requested_ids_block() {
        let conflicts = vec![
            "bucket/lake already exists but it belongs to pipeline `other`; …".to_string(),
            "bucket/lake-2 already exists but it is not tagged as managed by pipectl; …".to_string(),
            "queue/schedules-dlq: the SQS queue p-schedules-dlq already exists but …".to_string(),
        ];
        let lake = parse_id("bucket/lake").unwrap();
        let queue = parse_id("queue/schedules-dlq").unwrap();
        assert_eq!(blocking(&conflicts, &[lake]), [&conflicts[0]]);
        assert_eq!(blocking(&conflicts, &[queue]), [&conflicts[2]]);
    }

    #[test]
    fn a_request_must_name_an_adoptable_resource_of_the_spec() {
        let spec =
            crate::spec::SpecBuilder::new().subnet("a", "10.0.0.0/24", true).bucket("lake").stream("events", 1).build();
        let graph =
            crate::resources::graph_in(&spec, &crate::iam::Arns::new("123456789012", "eu-west-1"), chrono::Utc::now());
        let error = requested(Some("subnet/a"), &graph).unwrap_err();
        assert!(error.starts_with("subnet/a cannot be adopted: pipectl adopt takes bucket, stream"), "{error}");
        let error = requested(Some("bucket/nope"), &graph).unwrap_err();
        assert!(error.starts_with("bucket/nope is not in the spec"), "{error}");
        assert!(requested(Some("lake"), &graph).unwrap_err().starts_with("`lake` is not a resource"));
        // Without an id: every adoptable resource of the spec, and only those (not the subnet).
        let all = requested(None, &graph).unwrap();
        assert!(all.contains(&parse_id("bucket/lake").unwrap()), "{all:?}");
        assert!(all.contains(&parse_id("stream/events").unwrap()), "{all:?}");
        assert!(all.iter().all(|id| adoptable_kinds().contains(&id.kind)), "{all:?}");
    }
}

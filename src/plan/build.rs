//! Builds the plan from the desired graph and the live state: pure, no network.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::{diff_attributes, Action, Change, FieldChange, Plan};
use crate::model::{DesiredResource, Kind, ResourceId};
use crate::resources::{adjust_desired, change_notes, desired_attributes, forces_replacement, refusal, LiveState};

/// Compares every desired resource with its live twin, adds deletions for live resources the
/// spec no longer holds, and cascades replacements to what depends on the replaced resource.
///
/// With `reset_scale`, groups that `pipectl scale` moved away from their baseline are planned
/// back to it; otherwise such a recorded scale is a notice, not a change.
pub fn build_plan(pipeline: &str, desired: &[DesiredResource], live: &LiveState, reset_scale: bool) -> Plan {
    let mut changes: BTreeMap<ResourceId, Change> = BTreeMap::new();
    let mut desired_attrs = BTreeMap::new();
    let mut notices = live.notices.clone();
    for resource in desired {
        let mut after = desired_attributes(resource);
        if let Some(current) = live.resources.get(&resource.id) {
            notices.extend(adjust_desired(current, &mut after, reset_scale));
        }
        let change = match live.resources.get(&resource.id) {
            None => Some(new_change(&resource.id, Action::Create, creation_fields(&after))),
            Some(current) => {
                let fields =
                    diff_attributes(&current.attributes, &after, |field| forces_replacement(resource.id.kind, field));
                let action =
                    if fields.iter().any(|field| field.forces_replacement) { Action::Replace } else { Action::Update };
                (!fields.is_empty()).then(|| new_change(&resource.id, action, fields))
            }
        };
        if let Some(change) = change {
            changes.insert(resource.id.clone(), change);
        }
        desired_attrs.insert(resource.id.clone(), after);
    }
    cascade_replacements(desired, &mut changes);
    let wanted: BTreeSet<&ResourceId> = desired.iter().map(|resource| &resource.id).collect();
    for (id, current) in &live.resources {
        if !wanted.contains(id) {
            let fields = current
                .attributes
                .iter()
                .map(|(path, value)| FieldChange {
                    path: path.clone(),
                    before: Some(value.clone()),
                    after: None,
                    forces_replacement: false,
                })
                .filter(|field| field.before.as_ref().is_some_and(|value| !value.is_null()))
                .collect();
            changes.insert(id.clone(), new_change(id, Action::Delete, fields));
        }
    }
    for change in changes.values_mut() {
        let current = live.resources.get(&change.resource);
        change.notes.extend(change_notes(
            change.resource.kind,
            change.action,
            current.map(|c| &c.attributes),
            desired_attrs.get(&change.resource),
        ));
        if matches!(change.action, Action::Delete | Action::Replace) {
            let users: Vec<String> = live
                .resources
                .values()
                .filter(|user| user.depends_on.contains(&change.resource))
                .map(|user| user.id.to_string())
                .collect();
            if !users.is_empty() {
                change.notes.push(format!("used by {}: pipectl changes or deletes those first", users.join(", ")));
            }
            if let Some(loss) = current.and_then(|c| c.holds_data.as_ref()) {
                change.destroys_data = true;
                change.notes.push(format!("destroys data: {loss}"));
            }
        }
    }
    let refusals = changes
        .values()
        .filter(|change| matches!(change.action, Action::Delete | Action::Replace))
        .filter_map(|change| live.resources.get(&change.resource).and_then(refusal))
        .collect();
    let mut plan = Plan::new(pipeline, changes.into_values().collect(), notices);
    plan.refusals = refusals;
    plan
}

fn new_change(id: &ResourceId, action: Action, fields: Vec<FieldChange>) -> Change {
    Change { resource: id.clone(), action, fields, notes: Vec::new(), destroys_data: false }
}

fn creation_fields(after: &super::Attributes) -> Vec<FieldChange> {
    after
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(path, value)| FieldChange {
            path: path.clone(),
            before: None,
            after: Some(value.clone()),
            forces_replacement: false,
        })
        .collect()
}

/// A replaced VPC takes everything inside it along; anything else that refers to a replaced
/// resource is updated to refer to the new one.
fn cascade_replacements(desired: &[DesiredResource], changes: &mut BTreeMap<ResourceId, Change>) {
    loop {
        let replaced: BTreeSet<ResourceId> =
            changes.values().filter(|c| c.action == Action::Replace).map(|c| c.resource.clone()).collect();
        let mut changed = false;
        for resource in desired {
            for dependency in resource.depends_on.iter().filter(|dep| replaced.contains(*dep)) {
                let inside = dependency.kind == Kind::Vpc && resource.id.kind.lives_in_vpc();
                let entry = changes
                    .entry(resource.id.clone())
                    .or_insert_with(|| new_change(&resource.id, Action::Update, Vec::new()));
                let wanted = if inside { Action::Replace } else { Action::Update };
                let path = dependency.kind.as_str().to_string();
                if entry.fields.iter().any(|field| field.path == path) {
                    continue;
                }
                entry.fields.push(FieldChange {
                    path,
                    before: Some(json!(dependency.name)),
                    after: Some(json!(format!("{} (replaced)", dependency.name))),
                    forces_replacement: inside,
                });
                if entry.action == Action::Update && wanted == Action::Replace {
                    entry.action = Action::Replace;
                }
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::desired_graph;
    use crate::resources::{describe_live, LiveDetail, LiveResource};
    use crate::spec::Spec;

    fn spec(yaml: &str) -> Spec {
        serde_saphyr::from_str(yaml).unwrap()
    }

    const SPEC: &str = "version: 1\npipeline: p\nregion: eu-west-1\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets:\n    - {name: a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a, public: true}\nstreams:\n  - {name: events, shards: 2}\n";

    #[test]
    fn everything_is_created_from_nothing() {
        let graph =
            desired_graph(&spec(SPEC), &crate::policy::Arns::new("123456789012", "eu-west-1"), &Default::default());
        let plan = build_plan("p", &graph, &LiveState::default(), false);
        let actions: Vec<(String, Action)> = plan.changes.iter().map(|c| (c.resource.to_string(), c.action)).collect();
        assert_eq!(
            actions,
            [
                ("vpc/p".to_string(), Action::Create),
                ("internet_gateway/p".to_string(), Action::Create),
                ("subnet/a".to_string(), Action::Create),
                ("route_table/public".to_string(), Action::Create),
                ("stream/events".to_string(), Action::Create),
            ]
        );
        assert_eq!((plan.summary.add, plan.summary.destroy), (5, 0));
    }

    /// Live state that matches `graph` exactly except where `edit` changes it.
    fn live_from(graph: &[DesiredResource], edit: impl Fn(&mut LiveResource)) -> LiveState {
        let mut state = LiveState::default();
        for resource in graph {
            let detail = LiveDetail::Vpc(crate::resources::test_support::vpc("unused"));
            let mut live = LiveResource::new(
                resource.id.clone(),
                format!("phys-{}", resource.id.name),
                resource.tags.clone(),
                detail,
            );
            live.attributes = desired_attributes(resource);
            edit(&mut live);
            state.resources.insert(resource.id.clone(), live);
        }
        state
    }

    #[test]
    fn no_changes_when_live_matches() {
        let graph =
            desired_graph(&spec(SPEC), &crate::policy::Arns::new("123456789012", "eu-west-1"), &Default::default());
        let plan = build_plan("p", &graph, &live_from(&graph, |_| {}), false);
        assert!(plan.is_empty(), "{plan:#?}");
    }

    #[test]
    fn a_new_subnet_cidr_replaces_it_and_relinks_the_route_table() {
        let graph =
            desired_graph(&spec(SPEC), &crate::policy::Arns::new("123456789012", "eu-west-1"), &Default::default());
        let live = live_from(&graph, |live| {
            if live.id.kind == Kind::Subnet {
                live.attributes.insert("cidr".to_string(), json!("10.0.9.0/24"));
            }
        });
        let plan = build_plan("p", &graph, &live, false);
        let actions: Vec<(String, Action)> = plan.changes.iter().map(|c| (c.resource.to_string(), c.action)).collect();
        assert_eq!(
            actions,
            [("subnet/a".to_string(), Action::Replace), ("route_table/public".to_string(), Action::Update)]
        );
        assert!(plan.changes[0].fields[0].forces_replacement);
    }

    #[test]
    fn a_replaced_vpc_replaces_what_lives_in_it() {
        let graph =
            desired_graph(&spec(SPEC), &crate::policy::Arns::new("123456789012", "eu-west-1"), &Default::default());
        let live = live_from(&graph, |live| {
            if live.id.kind == Kind::Vpc {
                live.attributes.insert("cidr".to_string(), json!("10.9.0.0/16"));
            }
        });
        let plan = build_plan("p", &graph, &live, false);
        assert_eq!((plan.summary.replace, plan.summary.change), (4, 0), "{plan:#?}");
    }

    #[test]
    fn removed_stream_is_a_data_destroying_delete() {
        let graph =
            desired_graph(&spec(SPEC), &crate::policy::Arns::new("123456789012", "eu-west-1"), &Default::default());
        let mut live = live_from(&graph, |_| {});
        let stream = crate::resources::test_support::stream_resource("old", "p");
        live.resources.insert(stream.id.clone(), stream);
        describe_live_stream_only(&mut live);
        let plan = build_plan("p", &graph, &live, false);
        assert_eq!(plan.changes.len(), 1);
        let change = &plan.changes[0];
        assert_eq!(
            (change.resource.to_string(), change.action, change.destroys_data),
            ("stream/old".to_string(), Action::Delete, true)
        );
    }

    fn describe_live_stream_only(state: &mut LiveState) {
        let mut streams = LiveState::default();
        let ids: Vec<ResourceId> =
            state.resources.keys().filter(|id| id.kind == Kind::Stream && id.name == "old").cloned().collect();
        for id in ids {
            if let Some(resource) = state.resources.remove(&id) {
                streams.resources.insert(id, resource);
            }
        }
        describe_live(&mut streams);
        state.resources.extend(streams.resources);
    }
}

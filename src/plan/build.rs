//! Builds the plan from the desired graph and the live state: pure, no network.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::{diff_attributes, Action, Change, FieldChange, Plan};
use crate::model::{DesiredResource, LiveState, ResourceId};

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
        let kind = resource.id.kind;
        let mut after = resource.attributes();
        if let Some(current) = live.resources.get(&resource.id) {
            notices.extend(kind.adjust_desired(current, &mut after, reset_scale));
            for (field, value, why) in resource.config.expected_now() {
                if current.attributes.get(&field) == Some(&value) && after.get(&field) != Some(&value) {
                    notices.push(format!("{}: {why}; not a change", resource.id));
                    after.insert(field, value);
                }
            }
        }
        let change = match live.resources.get(&resource.id) {
            None => Some(new_change(&resource.id, Action::Create, creation_fields(&after))),
            Some(current) => {
                let fields = diff_attributes(&current.attributes, &after, |field| kind.forces_replacement(field));
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
        change.notes.extend(change.resource.kind.change_notes(
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
        if change.action == Action::Update {
            let loss = current
                .zip(desired_attrs.get(&change.resource))
                .and_then(|(current, after)| change.resource.kind.update_loses_data(&current.attributes, after));
            if let Some(loss) = loss {
                change.destroys_data = true;
                change.notes.push(format!("destroys data: {loss}"));
            }
        }
    }
    let refusals = changes
        .values()
        .filter(|change| matches!(change.action, Action::Delete | Action::Replace))
        .filter_map(|change| live.resources.get(&change.resource).and_then(|live| live.id.kind.refusal(live)))
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
                let inside = resource.id.kind.lives_in(dependency.kind);
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
    //! The planner with test kinds: a `box` whose `size` forces replacement, and an `item` that
    //! lives in a box (the real kinds' rules are tested with the planner in `resources`).
    use std::sync::Arc;

    use super::*;
    use crate::model::test_kinds::TestKind;
    use crate::model::{Attributes, DesiredConfig, Kind, LiveDetail, LiveResource, Names};

    const BOX: Kind = Kind::of(&TestKind { name: "box", rank: 0, replaces: &["size"], inside: None });
    const ITEM: Kind = Kind::of(&TestKind { name: "item", rank: 1, replaces: &[], inside: Some("box") });

    #[derive(Debug)]
    struct Config(Attributes);

    impl DesiredConfig for Config {
        fn attributes(&self) -> Attributes {
            self.0.clone()
        }
    }

    impl LiveDetail for Config {
        fn describe(&self, _physical_id: &str, _names: &Names) -> (Attributes, Vec<ResourceId>) {
            (self.0.clone(), Vec::new())
        }
    }

    fn desired(kind: Kind, size: i64, depends_on: Vec<ResourceId>) -> DesiredResource {
        let config = Config(Attributes::from([("size".to_string(), json!(size))]));
        DesiredResource {
            id: ResourceId::new(kind, kind.as_str()),
            tags: Default::default(),
            depends_on,
            config: Arc::new(config),
        }
    }

    fn live(resources: &[(Kind, i64)]) -> LiveState {
        let mut state = LiveState::default();
        for (kind, size) in resources {
            let id = ResourceId::new(*kind, kind.as_str());
            let config = Config(Attributes::from([("size".to_string(), json!(size))]));
            state.resources.insert(id.clone(), LiveResource::new(id, "phys", Default::default(), config));
        }
        state.describe();
        state
    }

    fn actions(plan: &Plan) -> Vec<(String, Action)> {
        plan.changes.iter().map(|change| (change.resource.to_string(), change.action)).collect()
    }

    #[test]
    fn nothing_live_means_create_in_kind_order() {
        let graph = [desired(ITEM, 1, vec![]), desired(BOX, 1, vec![])];
        let plan = build_plan("p", &graph, &LiveState::default(), false);
        assert_eq!(
            actions(&plan),
            [("box/box".to_string(), Action::Create), ("item/item".to_string(), Action::Create)]
        );
    }

    #[test]
    fn a_field_that_forces_replacement_replaces_and_takes_the_contents_along() {
        let box_id = ResourceId::new(BOX, "box");
        let graph = [desired(BOX, 2, vec![]), desired(ITEM, 1, vec![box_id])];
        let plan = build_plan("p", &graph, &live(&[(BOX, 1), (ITEM, 1)]), false);
        assert_eq!(
            actions(&plan),
            [("box/box".to_string(), Action::Replace), ("item/item".to_string(), Action::Replace)]
        );
        assert!(plan.changes[0].fields[0].forces_replacement);
    }

    #[test]
    fn other_fields_update_in_place_and_unknown_live_resources_are_deleted() {
        let graph = [desired(ITEM, 3, vec![])];
        let plan = build_plan("p", &graph, &live(&[(BOX, 1), (ITEM, 1)]), false);
        assert_eq!(
            actions(&plan),
            [("box/box".to_string(), Action::Delete), ("item/item".to_string(), Action::Update)]
        );
    }
}

//! The field-level diff shared by every kind: each kind describes desired and live state as flat
//! attributes (JSON values, with sets already sorted), and this compares them.

use serde_json::Value;

use super::FieldChange;
use crate::model::{Attributes, UNREADABLE};

/// Fields whose values differ, in path order. `forces_replacement` says which fields AWS cannot
/// change in place for this kind.
pub fn diff_attributes(
    live: &Attributes,
    desired: &Attributes,
    forces_replacement: impl Fn(&str) -> bool,
) -> Vec<FieldChange> {
    let mut paths: Vec<&String> = live.keys().chain(desired.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| {
            let before = live.get(path).filter(|value| !value.is_null());
            let after = desired.get(path).filter(|value| !value.is_null());
            if before.and_then(Value::as_str) == Some(UNREADABLE) {
                return None;
            }
            // Setting a field that did not exist before (a new task group) never forces a
            // replacement; changing or clearing an existing value may.
            (before != after).then(|| FieldChange {
                path: path.clone(),
                before: before.cloned(),
                after: after.cloned(),
                forces_replacement: before.is_some() && forces_replacement(path),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attributes(pairs: &[(&str, Value)]) -> Attributes {
        pairs.iter().map(|(key, value)| (key.to_string(), value.clone())).collect()
    }

    #[test]
    fn reports_changed_added_and_removed_fields() {
        let live = attributes(&[("cidr", json!("10.0.0.0/24")), ("public", json!(false)), ("old", json!(1))]);
        let desired = attributes(&[("cidr", json!("10.0.1.0/24")), ("public", json!(false)), ("new", json!(2))]);
        let changes = diff_attributes(&live, &desired, |path| path == "cidr");
        let summary: Vec<(&str, bool)> = changes.iter().map(|c| (c.path.as_str(), c.forces_replacement)).collect();
        assert_eq!(summary, [("cidr", true), ("new", false), ("old", false)]);
        assert_eq!(changes[1].before, None);
        assert_eq!(changes[2].after, None);
    }

    #[test]
    fn unreadable_fields_are_not_compared() {
        let live = attributes(&[("managed_scaling", json!(UNREADABLE))]);
        let desired = attributes(&[("managed_scaling", json!({"max": 20}))]);
        assert!(diff_attributes(&live, &desired, |_| true).is_empty());
    }

    #[test]
    fn null_and_absent_are_the_same() {
        let live = attributes(&[("kms_key", Value::Null)]);
        assert!(diff_attributes(&live, &Attributes::new(), |_| false).is_empty());
    }
}

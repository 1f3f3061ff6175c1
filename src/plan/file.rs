//! Saved plans (`plan --out FILE`, `apply FILE`): the pull-request workflow plans on the pull
//! request and applies the reviewed plan after merge, and must apply exactly what was reviewed.
//!
//! There is no state file to pin, so a saved plan pins what it was computed from instead: a
//! fingerprint of the spec (its resource graph, independent of the account and of what runs) and
//! one per live resource that was read (its AWS id, its compared attributes with tags, what it
//! depends on — never timestamps). `apply FILE` re-reads live state under the lock, plans again
//! and carries out the new plan only if both fingerprints and the plan itself are unchanged;
//! otherwise it refuses before any change and names what moved.
//!
//! The fingerprints guard against accident, not attack: the file is not signed, and whoever can
//! edit it can edit the spec too. They are 128-bit FNV-1a of a canonical JSON text (object keys
//! sorted at every level), stable across pipectl builds and platforms.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::model::{DesiredResource, LiveState};
use crate::plan::Plan;

/// Changes when a field of the file changes meaning; a file of another version is refused. 2: the
/// spec fingerprint is of the desired graph as built before the read (`${pipectl:account}` in its ARNs,
/// nodes kind by kind).
pub const FORMAT_VERSION: u32 = 2;

/// A plan as `plan --out` writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    pub format_version: u32,
    /// The pipectl that wrote it (information only).
    pub pipectl_version: String,
    pub pipeline: String,
    pub region: String,
    pub account_id: String,
    /// The spec file it was planned from: `apply PLANFILE` reads it unless `-f` names another.
    pub spec_file: String,
    pub spec_fingerprint: String,
    /// Of the whole live state: the account and every resource's fingerprint.
    pub live_fingerprint: String,
    /// `kind/name` → fingerprint of each live resource read, to say which ones changed.
    pub live_resources: BTreeMap<String, String>,
    /// Planned with `--reset-scale`; `apply FILE` plans the same way.
    pub reset_scale: bool,
    /// The plan, as `--output json` prints it without `format_version`.
    pub plan: Value,
}

/// Where a plan file was computed from, besides the plan.
pub struct Origin<'a> {
    pub spec_file: &'a str,
    pub region: &'a str,
    /// The fingerprint of the spec alone (`spec_fingerprint` of its unbound desired graph).
    pub spec_fingerprint: &'a str,
    pub live: &'a LiveState,
    pub reset_scale: bool,
}

impl PlanFile {
    pub fn new(origin: &Origin, plan: &Plan) -> PlanFile {
        let live_resources: BTreeMap<String, String> = origin
            .live
            .resources
            .values()
            .map(|resource| {
                let depends_on: Vec<String> = resource.depends_on.iter().map(ToString::to_string).collect();
                let value = json!({
                    "physical_id": resource.physical_id,
                    "attributes": resource.attributes,
                    "depends_on": depends_on,
                });
                (resource.id.to_string(), fingerprint(&value))
            })
            .collect();
        PlanFile {
            format_version: FORMAT_VERSION,
            pipectl_version: env!("CARGO_PKG_VERSION").to_string(),
            pipeline: plan.pipeline.clone(),
            region: origin.region.to_string(),
            account_id: origin.live.account_id.clone(),
            spec_file: origin.spec_file.to_string(),
            spec_fingerprint: origin.spec_fingerprint.to_string(),
            live_fingerprint: fingerprint(&json!({"account": origin.live.account_id, "resources": live_resources})),
            live_resources,
            reset_scale: origin.reset_scale,
            plan: serde_json::to_value(plan).unwrap_or(Value::Null),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Reads a plan file, refusing one of another format version.
    pub fn parse(text: &str) -> Result<PlanFile, String> {
        let value: Value = serde_json::from_str(text).map_err(|error| format!("not a pipectl plan file: {error}"))?;
        match value.get("format_version").and_then(Value::as_u64) {
            Some(version) if version == u64::from(FORMAT_VERSION) => {}
            Some(version) => {
                return Err(format!(
                    "plan file format version {version}, but this pipectl reads version {FORMAT_VERSION}: plan again with this pipectl"
                ))
            }
            None => return Err("not a pipectl plan file: no format_version".to_string()),
        }
        serde_json::from_value(value).map_err(|error| format!("not a pipectl plan file: {error}"))
    }

    /// Why `fresh` (planned now, from the spec and live state as they are) is not this saved
    /// plan; empty when it is exactly this plan.
    pub fn differences(&self, fresh: &PlanFile) -> Vec<String> {
        let mut found = Vec::new();
        if (&self.pipeline, &self.region, &self.account_id) != (&fresh.pipeline, &fresh.region, &fresh.account_id) {
            found.push(format!(
                "the plan is for pipeline \"{}\" in {} (account {}), not \"{}\" in {} (account {})",
                self.pipeline, self.region, self.account_id, fresh.pipeline, fresh.region, fresh.account_id
            ));
            return found;
        }
        if self.spec_fingerprint != fresh.spec_fingerprint {
            found.push(format!(
                "the spec changed since the plan was made ({} now, planned from {})",
                fresh.spec_file, self.spec_file
            ));
        }
        if self.live_fingerprint != fresh.live_fingerprint {
            let mut moved = Vec::new();
            for (id, print) in &self.live_resources {
                match fresh.live_resources.get(id) {
                    None => moved.push(format!("{id} is gone")),
                    Some(now) if now != print => moved.push(format!("{id} changed")),
                    Some(_) => {}
                }
            }
            moved.extend(
                fresh
                    .live_resources
                    .keys()
                    .filter(|id| !self.live_resources.contains_key(*id))
                    .map(|id| format!("{id} appeared")),
            );
            found.push(format!("the live state changed since the plan was made: {}", moved.join(", ")));
        }
        if found.is_empty() && self.plan != fresh.plan {
            found.push("planning again gives a different plan".to_string());
        }
        found
    }
}

/// The spec's fingerprint: every resource it asks for, with its tags, dependencies and
/// attributes, planned without an account or live ids so that only the spec can change it.
pub fn spec_fingerprint(pipeline: &str, region: &str, graph: &[DesiredResource]) -> String {
    let resources: Vec<Value> = graph
        .iter()
        .map(|resource| {
            let depends_on: Vec<String> = resource.depends_on.iter().map(ToString::to_string).collect();
            json!({
                "id": resource.id.to_string(),
                "tags": resource.tags,
                "depends_on": depends_on,
                "attributes": resource.attributes(),
            })
        })
        .collect();
    fingerprint(&json!({"pipeline": pipeline, "region": region, "resources": resources}))
}

/// 128-bit FNV-1a of the canonical text of `value`, as 32 hex digits.
pub fn fingerprint(value: &Value) -> String {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013b;
    let mut text = String::new();
    canonical(value, &mut text);
    let hash = text.bytes().fold(OFFSET, |hash, byte| (hash ^ u128::from(byte)).wrapping_mul(PRIME));
    format!("{hash:032x}")
}

/// JSON with the keys of every object sorted, whatever order the map keeps them in.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::test_kinds::TestKind;
    use crate::model::{Attributes, Kind, LiveDetail, LiveResource, Names, ResourceId};

    const STREAM: Kind = Kind::of(&TestKind { name: "stream", rank: 0, replaces: &[], inside: None });

    #[derive(Debug)]
    struct Shards(i64);

    impl crate::model::DesiredConfig for Shards {
        fn attributes(&self) -> Attributes {
            Attributes::from([("shards".to_string(), json!(self.0))])
        }
    }

    impl LiveDetail for Shards {
        fn describe(&self, _physical_id: &str, _names: &Names) -> (Attributes, Vec<ResourceId>) {
            (Attributes::from([("shards".to_string(), json!(self.0))]), Vec::new())
        }
    }

    fn graph(shards: i64) -> Vec<DesiredResource> {
        let id = ResourceId::new(STREAM, "events");
        vec![DesiredResource { id, tags: Default::default(), depends_on: vec![], config: Arc::new(Shards(shards)) }]
    }

    fn live(shards: Option<i64>) -> LiveState {
        let mut state = LiveState { account_id: "123456789012".to_string(), ..LiveState::default() };
        if let Some(shards) = shards {
            let id = ResourceId::new(STREAM, "events");
            state.resources.insert(id.clone(), LiveResource::new(id, "events", Default::default(), Shards(shards)));
        }
        state.describe();
        state
    }

    fn file(spec_shards: i64, live_shards: Option<i64>) -> PlanFile {
        let (graph, live) = (graph(spec_shards), live(live_shards));
        let plan = crate::plan::build_plan("demo", &graph, &live, false);
        let fingerprint = spec_fingerprint("demo", "eu-west-1", &graph);
        let origin = Origin {
            spec_file: "pipeline.yaml",
            region: "eu-west-1",
            spec_fingerprint: &fingerprint,
            live: &live,
            reset_scale: false,
        };
        PlanFile::new(&origin, &plan)
    }

    #[test]
    fn the_same_spec_and_live_state_give_the_same_file() {
        let saved = file(2, Some(1));
        assert_eq!(saved.differences(&file(2, Some(1))), Vec::<String>::new());
        assert_eq!(saved.spec_fingerprint.len(), 32);
        assert_eq!(PlanFile::parse(&saved.to_json()), Ok(saved));
    }

    #[test]
    fn a_changed_spec_or_live_resource_is_named() {
        let saved = file(2, Some(1));
        assert_eq!(
            saved.differences(&file(3, Some(1))),
            ["the spec changed since the plan was made (pipeline.yaml now, planned from pipeline.yaml)"]
        );
        assert_eq!(
            saved.differences(&file(2, Some(2))),
            ["the live state changed since the plan was made: stream/events changed"]
        );
        assert_eq!(
            saved.differences(&file(2, None)),
            ["the live state changed since the plan was made: stream/events is gone"]
        );
        assert_eq!(
            file(2, None).differences(&saved),
            ["the live state changed since the plan was made: stream/events appeared"]
        );
    }

    #[test]
    fn fingerprints_ignore_key_order_but_not_values() {
        let a: Value = serde_json::from_str(r#"{"b": 1, "a": {"y": [1, 2], "x": null}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a": {"x": null, "y": [1, 2]}, "b": 1}"#).unwrap();
        let c: Value = serde_json::from_str(r#"{"a": {"x": null, "y": [2, 1]}, "b": 1}"#).unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }

    #[test]
    fn another_format_version_is_refused() {
        let mut value = serde_json::to_value(file(2, None)).unwrap();
        // A file of the previous format (its spec fingerprint of the graph as it was then built).
        value["format_version"] = json!(1);
        let error = PlanFile::parse(&value.to_string()).unwrap_err();
        assert!(error.starts_with("plan file format version 1, but this pipectl reads version 2"), "{error}");
    }
}

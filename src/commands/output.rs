//! `pipectl output`: the ids, ARNs, names and endpoints of what the pipeline created, by kind and
//! name, read from live AWS (found by the pipeline's tag, as `plan` finds it), for producers,
//! consumers and scripts. What each kind offers is its own (`ResourceKind::outputs`). A resource
//! the spec declares that is not created yet is listed as such, never left out.

use clap::Args;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::session::Session;
use super::{CommandError, GlobalArgs, OutputFormat, Status};
use crate::aws::calls::CallCounter;
use crate::iam::Arns;
use crate::model::{LiveState, ResourceId};
use crate::resources::kit::Output;
use crate::resources::{kind_named, kinds, outputs, parse_id};

/// The arguments of `pipectl output` (its help line is `cli::Command`'s).
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Only this resource, as plans name it: `kind/name` (e.g. `stream/events`, `cluster/spark`).
    #[arg(value_name = "KIND/NAME")]
    pub resource: Option<String>,
    /// Only resources of this kind (e.g. `stream`, `role`).
    #[arg(long, value_name = "KIND", conflicts_with = "resource")]
    pub kind: Option<String>,
    /// Print this one value of the resource named, raw, for scripts (e.g. `pipectl output
    /// cluster/spark --value id`); exit 1 when it is not created yet.
    #[arg(long, value_name = "LABEL", requires = "resource")]
    pub value: Option<String>,
    /// How to print it: for people, or JSON for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

/// One resource of the spec (or found in AWS under the pipeline's tag) with what it offers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub resource: String,
    pub kind: String,
    pub name: String,
    /// `created`, `not created` (in the spec, not in AWS yet) or `not in the spec` (in AWS under
    /// the pipeline's tag; the next apply deletes it).
    pub status: &'static str,
    pub outputs: Vec<Output>,
}

pub async fn exec(global: &GlobalArgs, args: &OutputArgs, counter: &CallCounter) -> Result<Status, CommandError> {
    let only = selection(args)?;
    let session = Session::open(global, counter).await?;
    let desired = session.desired();
    let live = session.read(&desired, &[]).await?;
    let declared: Vec<ResourceId> = desired.into_iter().map(|resource| resource.id).collect();
    let arns = Arns::new(&live.account_id, &session.options.region);
    let entries: Vec<Entry> = entries(&declared, &live, &arns)
        .into_iter()
        .filter(|entry| only.matches(&entry.resource, &entry.kind))
        .collect();
    if let (Selection::Resource(id), None) = (&only, entries.first()) {
        return Err(CommandError::Refused(format!("{id} is neither in the spec nor in AWS under the pipeline's tag")));
    }
    if let Some(label) = &args.value {
        let value = raw_value(entries.first(), label).map_err(CommandError::Refused)?;
        outln!("{value}");
        return Ok(Status::Success);
    }
    match args.output {
        OutputFormat::Json => outln!("{}", to_json(&session.loaded.spec.pipeline, &session.options.region, &entries)),
        OutputFormat::Human => out!("{}", to_text(&entries)),
    }
    Ok(Status::Success)
}

/// What `--kind` or `KIND/NAME` selects.
#[derive(Debug, Clone, PartialEq)]
enum Selection {
    All,
    Kind(String),
    Resource(String),
}

impl Selection {
    fn matches(&self, resource: &str, kind: &str) -> bool {
        match self {
            Selection::All => true,
            Selection::Kind(wanted) => wanted == kind,
            Selection::Resource(wanted) => wanted == resource,
        }
    }
}

/// The selection the arguments make, refused before any AWS call when it names no kind pipectl
/// knows.
fn selection(args: &OutputArgs) -> Result<Selection, CommandError> {
    let known = || kinds().iter().map(|kind| kind.as_str()).collect::<Vec<_>>().join(", ");
    if let Some(resource) = &args.resource {
        return match parse_id(resource) {
            Some(id) => Ok(Selection::Resource(id.to_string())),
            None => Err(CommandError::Refused(format!(
                "`{resource}` is not `kind/name` of a kind pipectl knows ({}); `pipectl output` lists them all",
                known()
            ))),
        };
    }
    match &args.kind {
        Some(kind) if kind_named(kind).is_none() => {
            Err(CommandError::Refused(format!("no kind `{kind}`; the kinds are: {}", known())))
        }
        Some(kind) => Ok(Selection::Kind(kind.clone())),
        None => Ok(Selection::All),
    }
}

/// Every resource the spec declares, in the desired graph's order, each with its outputs once
/// created; then what AWS holds under the pipeline's tag that the spec no longer declares.
pub fn entries(declared: &[ResourceId], live: &LiveState, arns: &Arns) -> Vec<Entry> {
    let entry = |id: &ResourceId, status: &'static str, outputs: Vec<Output>| Entry {
        resource: id.to_string(),
        kind: id.kind.as_str().to_string(),
        name: id.name.clone(),
        status,
        outputs,
    };
    let mut found: Vec<Entry> = declared
        .iter()
        .map(|id| match live.resources.get(id) {
            Some(resource) => entry(id, CREATED, outputs(resource, arns)),
            None => entry(id, NOT_CREATED, Vec::new()),
        })
        .collect();
    let extra = live.resources.values().filter(|resource| !declared.contains(&resource.id));
    found.extend(extra.map(|resource| entry(&resource.id, NOT_IN_SPEC, outputs(resource, arns))));
    found
}

const CREATED: &str = "created";
const NOT_CREATED: &str = "not created";
const NOT_IN_SPEC: &str = "not in the spec";

/// `--value LABEL` of the one resource selected.
fn raw_value(entry: Option<&Entry>, label: &str) -> Result<String, String> {
    let Some(entry) = entry else { return Err("nothing selected".to_string()) };
    if entry.status == NOT_CREATED {
        return Err(format!("{} is not created yet (`pipectl apply` creates it)", entry.resource));
    }
    entry.outputs.iter().find(|output| output.label == label).map(|output| output.value.clone()).ok_or_else(|| {
        let labels: Vec<&str> = entry.outputs.iter().map(|output| output.label).collect();
        format!("{} has no `{label}`; it has: {}", entry.resource, labels.join(", "))
    })
}

/// `{"pipeline", "region", "resources": {"kind": {"name": {"status", "label": value…}}}}`.
pub fn to_json(pipeline: &str, region: &str, entries: &[Entry]) -> Value {
    let mut kinds = Map::new();
    for entry in entries {
        let mut fields = Map::new();
        fields.insert("status".to_string(), json!(entry.status));
        for output in &entry.outputs {
            fields.insert(output.label.to_string(), json!(output.value));
        }
        let names = kinds.entry(entry.kind.clone()).or_insert_with(|| Value::Object(Map::new()));
        if let Some(names) = names.as_object_mut() {
            names.insert(entry.name.clone(), Value::Object(fields));
        }
    }
    json!({"pipeline": pipeline, "region": region, "resources": kinds})
}

/// One line per value: `kind/name  label  value`, aligned; a resource not created says so.
pub fn to_text(entries: &[Entry]) -> String {
    let width = entries.iter().map(|entry| entry.resource.len()).max().unwrap_or(0);
    let label_width =
        entries.iter().flat_map(|entry| entry.outputs.iter().map(|output| output.label.len())).max().unwrap_or(0);
    let mut text = String::new();
    for entry in entries {
        if entry.status != CREATED && entry.outputs.is_empty() {
            text.push_str(&format!("{:<width$}  ({})\n", entry.resource, entry.status));
        }
        for output in &entry.outputs {
            let note = if entry.status == CREATED { String::new() } else { format!("  ({})", entry.status) };
            text.push_str(&format!(
                "{:<width$}  {:<label_width$}  {}{note}\n",
                entry.resource, output.label, output.value
            ));
        }
    }
    if entries.is_empty() {
        text.push_str("Nothing selected.\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LiveResource;
    use crate::resources::stream;

    fn live_stream(name: &str) -> LiveResource {
        let detail = stream::Live {
            arn: format!("arn:aws:kinesis:eu-west-1:1:stream/{name}"),
            on_demand: false,
            open_shards: 2,
            retention_hours: 24,
            kms_key: None,
        };
        LiveResource::new(stream::id(name), name, Default::default(), detail)
    }

    #[test]
    fn every_declared_resource_is_listed_created_or_not() {
        let mut live = LiveState::default();
        for name in ["events", "old"] {
            live.resources.insert(stream::id(name), live_stream(name));
        }
        let declared = [stream::id("events"), stream::id("clicks")];
        let found = entries(&declared, &live, &Arns::new("1", "eu-west-1"));
        let text = to_text(&found);
        assert_eq!(
            text,
            "stream/events  name  events\n\
             stream/events  arn   arn:aws:kinesis:eu-west-1:1:stream/events\n\
             stream/clicks  (not created)\n\
             stream/old     name  old  (not in the spec)\n\
             stream/old     arn   arn:aws:kinesis:eu-west-1:1:stream/old  (not in the spec)\n"
        );
        let json = to_json("p", "eu-west-1", &found);
        assert_eq!(json["resources"]["stream"]["events"]["arn"], "arn:aws:kinesis:eu-west-1:1:stream/events");
        assert_eq!(json["resources"]["stream"]["clicks"], json!({"status": "not created"}));
        assert_eq!(raw_value(found.first(), "arn").unwrap(), "arn:aws:kinesis:eu-west-1:1:stream/events");
        assert_eq!(
            raw_value(found.get(1), "arn").unwrap_err(),
            "stream/clicks is not created yet (`pipectl apply` creates it)"
        );
        assert_eq!(raw_value(found.first(), "url").unwrap_err(), "stream/events has no `url`; it has: name, arn");
    }
}

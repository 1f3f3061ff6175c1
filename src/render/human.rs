//! The human plan: a block per resource with `+`, `~`, `-/+`, `-`, fields as `before -> after`,
//! "# forces replacement", notes, and the summary line. Documents a kind derives (policies, state
//! machines) are summarised, with what changed in them, and tags fit on a line, unless `--full`.

use std::fmt::Write;

use serde_json::Value;

use super::document::{self, DiffLine};
use crate::model::{Document, Kind, TAGS};
use crate::plan::{Action, Change, FieldChange, Plan};
use crate::plan::{ApplyReport, Outcome};

/// How the plan looks: colored (only on a terminal, and never with NO_COLOR or --no-color), and
/// with derived documents in full (`--full`) or summarised.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    pub full: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn action(self, action: Action, text: &str) -> String {
        let code = match action {
            Action::Create => "32",
            Action::Update => "33",
            Action::Replace => "35",
            Action::Delete => "31",
        };
        self.paint(code, text)
    }
}

/// Values longer than this are printed over several lines.
const INLINE_WIDTH: usize = 72;

fn value(value: &Option<Value>) -> String {
    match value {
        None | Some(Value::Null) => "(none)".to_string(),
        Some(value) => readable(value),
    }
}

/// Tags on one line, `{key=value, …}`: every resource carries several, and a block of them per
/// resource made up a sixth of a first plan.
fn tag_line(value: &Option<Value>) -> String {
    match value {
        Some(Value::Object(tags)) if tags.values().all(Value::is_string) => {
            let pairs: Vec<String> =
                tags.iter().map(|(key, tag)| format!("{key}={}", tag.as_str().unwrap_or_default())).collect();
            format!("{{{}}}", pairs.join(", "))
        }
        other => self::value(other),
    }
}

/// A document's value as its one-line summary, in parentheses as Terraform shows what it does
/// not print; a value that is no document (not an object) as it is.
fn summarised(kind: Document, value: &Option<Value>) -> String {
    match value {
        Some(document @ Value::Object(_)) => format!("({})", document::summary(kind, document)),
        other => self::value(other),
    }
}

/// A document field: its summary for a create or delete, and for an update what changed in it.
fn render_document(out: &mut String, field: &FieldChange, action: Action, kind: Document, style: Style) {
    let forces = if field.forces_replacement { style.paint("31", " # forces replacement") } else { String::new() };
    let path = &field.path;
    match (action, &field.before, &field.after) {
        (Action::Create, _, after) => {
            let _ = writeln!(out, "      {} {path} = {}", style.action(Action::Create, "+"), summarised(kind, after));
        }
        (Action::Delete, before, _) => {
            let _ = writeln!(out, "      {} {path} = {}", style.action(Action::Delete, "-"), summarised(kind, before));
        }
        (_, Some(before), Some(after)) if before.is_object() && after.is_object() => {
            let (headline, lines) = document::changes(kind, before, after);
            let _ = writeln!(out, "      {} {path} ({headline}){forces}", style.action(Action::Update, "~"));
            for DiffLine { marker, depth, text } in lines {
                let indent = " ".repeat(10 + 4 * depth);
                let _ = writeln!(out, "{indent}{} {text}", style.action(marker, marker.symbol()));
            }
        }
        (_, before, after) => {
            let (before, after) = (summarised(kind, before), summarised(kind, after));
            let _ = writeln!(out, "      {} {path} = {before} -> {after}{forces}", style.action(Action::Update, "~"));
        }
    }
}

/// Compact JSON when short; indented JSON (aligned under the field) when long, so that a
/// policy document reads as a document.
fn readable(value: &Value) -> String {
    let compact = value.to_string();
    if compact.len() <= INLINE_WIDTH || !(value.is_object() || value.is_array()) {
        return compact;
    }
    serde_json::to_string_pretty(value).unwrap_or(compact).replace('\n', "\n          ")
}

/// The document kind of a field the plan summarises (none with `--full`).
fn summarised_document(kind: Kind, field: &FieldChange, style: Style) -> Option<Document> {
    (!style.full).then(|| kind.document(&field.path)).flatten()
}

fn render_field(out: &mut String, field: &FieldChange, action: Action, kind: Kind, style: Style) {
    if let Some(document) = summarised_document(kind, field, style) {
        return render_document(out, field, action, document, style);
    }
    let forces = if field.forces_replacement { style.paint("31", " # forces replacement") } else { String::new() };
    let whole =
        |value: &Option<Value>| if field.path == TAGS && !style.full { tag_line(value) } else { self::value(value) };
    match (action, &field.before, &field.after) {
        (Action::Create, _, after) => {
            let _ = writeln!(out, "      {} {} = {}", style.action(Action::Create, "+"), field.path, whole(after));
        }
        (Action::Delete, before, _) => {
            let _ = writeln!(out, "      {} {} = {}", style.action(Action::Delete, "-"), field.path, whole(before));
        }
        (_, Some(Value::Array(before)), Some(Value::Array(after))) => {
            let _ = writeln!(out, "      {} {}{forces}", style.action(Action::Update, "~"), field.path);
            for removed in before.iter().filter(|item| !after.contains(item)) {
                let _ = writeln!(out, "          {} {}", style.action(Action::Delete, "-"), readable(removed));
            }
            for added in after.iter().filter(|item| !before.contains(item)) {
                let _ = writeln!(out, "          {} {}", style.action(Action::Create, "+"), readable(added));
            }
        }
        (_, Some(Value::Object(before)), Some(Value::Object(after))) => {
            let _ = writeln!(out, "      {} {}{forces}", style.action(Action::Update, "~"), field.path);
            for (key, old) in before.iter().filter(|(key, old)| after.get(*key) != Some(*old)) {
                match after.get(key) {
                    Some(new) => {
                        let (old, new) = (readable(old), readable(new));
                        let _ = writeln!(out, "          {} {key} = {old} -> {new}", style.action(Action::Update, "~"));
                    }
                    None => {
                        let _ =
                            writeln!(out, "          {} {key} = {}", style.action(Action::Delete, "-"), readable(old));
                    }
                }
            }
            for (key, new) in after.iter().filter(|(key, _)| !before.contains_key(*key)) {
                let _ = writeln!(out, "          {} {key} = {}", style.action(Action::Create, "+"), readable(new));
            }
        }
        (_, before, after) => {
            let _ = writeln!(
                out,
                "      {} {} = {} -> {}{forces}",
                style.action(Action::Update, "~"),
                field.path,
                whole(before),
                whole(after)
            );
        }
    }
}

fn render_change(out: &mut String, change: &Change, style: Style) {
    let headline = match change.action {
        Action::Replace => "must be replaced".to_string(),
        other => format!("will be {}", other.verb()),
    };
    let _ = writeln!(out, "  # {} {headline}", change.resource);
    let symbol = format!("{:>3}", change.action.symbol());
    let _ = writeln!(
        out,
        "{} {} \"{}\" {{",
        style.action(change.action, &symbol),
        change.resource.kind.as_str(),
        change.resource.name
    );
    for field in &change.fields {
        render_field(out, field, change.action, change.resource.kind, style);
    }
    for note in &change.notes {
        let text = format!("      # {note}");
        let _ = writeln!(out, "{}", if change.destroys_data { style.paint("31", &text) } else { text });
    }
    let _ = writeln!(out, "    }}\n");
}

/// The plan as a person reads it.
pub fn render_plan(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    for notice in &plan.notices {
        let _ = writeln!(out, "Note: {notice}\n");
    }
    if plan.is_empty() {
        let _ = writeln!(out, "{}", plan.nothing_to_do());
        return out;
    }
    let _ = writeln!(out, "pipectl will perform the following actions on pipeline \"{}\":\n", plan.pipeline);
    for change in &plan.changes {
        render_change(&mut out, change, style);
    }
    let summary = &plan.summary;
    let _ = writeln!(
        out,
        "Plan: {} to add, {} to change, {} to replace, {} to destroy.",
        summary.add, summary.change, summary.replace, summary.destroy
    );
    let losses: Vec<String> = plan.data_loss().map(|change| change.resource.to_string()).collect();
    if !losses.is_empty() {
        let warning = format!(
            "{} of these changes destroy data ({}); {} needs --allow-destroy.",
            losses.len(),
            losses.join(", "),
            plan.command()
        );
        let _ = writeln!(out, "{}", style.paint("31", &warning));
    }
    let summarised = plan.changes.iter().any(|change| {
        change.fields.iter().any(|field| summarised_document(change.resource.kind, field, style).is_some())
    });
    if summarised {
        let _ = writeln!(out, "Policies and state machines are summarised; `--full` shows them whole.");
    }
    out
}

/// What apply did, resource by resource, and the totals.
pub fn render_report(report: &ApplyReport, command: &str, style: Style) -> String {
    let mut out = String::new();
    let failed: Vec<_> = report.results.iter().filter(|r| r.outcome != Outcome::Done).collect();
    for result in &failed {
        let (label, reason) = match &result.outcome {
            Outcome::Failed(reason) => ("failed", reason.clone()),
            Outcome::Skipped(reason) => ("skipped", reason.clone()),
            Outcome::NotStarted => match &report.stopped {
                Some(_) => ("not started", "the run lost the pipeline's lock before it began".to_string()),
                None => ("not started", "interrupted before it began".to_string()),
            },
            Outcome::Done => continue,
        };
        let _ =
            writeln!(out, "{} {} ({}): {reason}", style.paint("31", label), result.resource, result.action.as_str());
    }
    let totals = format!(
        "{} added, {} changed, {} replaced, {} destroyed",
        report.count(Action::Create),
        report.count(Action::Update),
        report.count(Action::Replace),
        report.count(Action::Delete)
    );
    if report.succeeded() {
        let _ = writeln!(out, "{}", style.paint("32", &format!("{command} complete! Resources: {totals}.")));
    } else {
        let why = match (&report.stopped, report.interrupted) {
            (Some(_), _) => "stopped",
            (None, true) => "interrupted",
            (None, false) => "failed",
        };
        if let Some(reason) = &report.stopped {
            let _ = writeln!(out, "{}", style.paint("31", reason));
        }
        let _ = writeln!(out, "{command} {why}: {} of {} resources not done. Done: {totals}. Run it again to continue; it picks up where this left off.", failed.len(), report.results.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_kinds::TestKind;
    use crate::model::{Kind, ResourceId};
    use serde_json::json;

    const SUBNET: Kind = Kind::of(&TestKind { name: "subnet", rank: 2, replaces: &["cidr"], inside: None });
    const SECURITY_GROUP: Kind = Kind::of(&TestKind { name: "security_group", rank: 4, replaces: &[], inside: None });
    const STREAM: Kind = Kind::of(&TestKind { name: "stream", rank: 6, replaces: &[], inside: None });

    fn sample() -> Plan {
        let changes = vec![
            Change {
                resource: ResourceId::new(SUBNET, "a"),
                action: Action::Replace,
                fields: vec![FieldChange {
                    path: "cidr".into(),
                    before: Some(json!("10.0.0.0/24")),
                    after: Some(json!("10.0.9.0/24")),
                    forces_replacement: true,
                }],
                notes: vec![],
                destroys_data: false,
            },
            Change {
                resource: ResourceId::new(SECURITY_GROUP, "web"),
                action: Action::Update,
                fields: vec![FieldChange {
                    path: "ingress".into(),
                    before: Some(json!(["tcp 443 0.0.0.0/0"])),
                    after: Some(json!(["tcp 22 10.0.0.0/8", "tcp 443 0.0.0.0/0"])),
                    forces_replacement: false,
                }],
                notes: vec![],
                destroys_data: false,
            },
            Change {
                resource: ResourceId::new(STREAM, "old"),
                action: Action::Delete,
                fields: vec![FieldChange {
                    path: "shards".into(),
                    before: Some(json!(2)),
                    after: None,
                    forces_replacement: false,
                }],
                notes: vec!["destroys data: a stream's records are lost with it".into()],
                destroys_data: true,
            },
        ];
        Plan::new("demo", changes, vec![])
    }

    #[test]
    fn golden_human_plan() {
        let expected = r#"pipectl will perform the following actions on pipeline "demo":

  # subnet/a must be replaced
-/+ subnet "a" {
      ~ cidr = "10.0.0.0/24" -> "10.0.9.0/24" # forces replacement
    }

  # security_group/web will be updated in-place
  ~ security_group "web" {
      ~ ingress
          + "tcp 22 10.0.0.0/8"
    }

  # stream/old will be destroyed
  - stream "old" {
      - shards = 2
      # destroys data: a stream's records are lost with it
    }

Plan: 0 to add, 1 to change, 1 to replace, 1 to destroy.
1 of these changes destroy data (stream/old); apply needs --allow-destroy.
"#;
        assert_eq!(render_plan(&sample(), Style { color: false, full: false }), expected);
    }

    /// A kind whose `policy` field is a document, as a role's policies are.
    struct WithPolicy;

    impl crate::model::KindRules for WithPolicy {
        fn name(&self) -> &'static str {
            "role"
        }
        fn rank(&self) -> u8 {
            0
        }
        fn document(&self, field: &str) -> Option<Document> {
            (field == "policy").then_some(Document::Policy)
        }
    }

    #[test]
    fn documents_are_summarised_and_tags_fit_a_line_unless_full() {
        let policy = |actions: Value| json!({"Statement": [{"Sid": "Read", "Effect": "Allow", "Action": actions, "Resource": "arn:a"}]});
        let field = |path: &str, before: Option<Value>, after: Value| FieldChange {
            path: path.into(),
            before,
            after: Some(after),
            forces_replacement: false,
        };
        let change = |name: &str, action: Action, fields: Vec<FieldChange>| Change {
            resource: ResourceId::new(Kind::of(&WithPolicy), name),
            action,
            fields,
            notes: vec![],
            destroys_data: false,
        };
        let tags = json!({"pipectl:pipeline": "demo", "team": "data-platform"});
        let plan = Plan::new(
            "demo",
            vec![
                change(
                    "new",
                    Action::Create,
                    vec![field("policy", None, policy(json!("s3:GetObject"))), field("tags", None, tags)],
                ),
                change(
                    "old",
                    Action::Update,
                    vec![field(
                        "policy",
                        Some(policy(json!("s3:GetObject"))),
                        policy(json!(["s3:GetObject", "s3:ListBucket"])),
                    )],
                ),
            ],
            vec![],
        );
        let text = render_plan(&plan, Style { color: false, full: false });
        let expected = r#"  + role "new" {
      + policy = (policy: 1 statement, s3:GetObject on 1 resource)
      + tags = {pipectl:pipeline=demo, team=data-platform}
    }

  # role/old will be updated in-place
  ~ role "old" {
      ~ policy (policy: 1 statement, 1 -> 2 actions, 1 resource)
          ~ statement "Read"
              + action s3:ListBucket
    }

Plan: 1 to add, 1 to change, 0 to replace, 0 to destroy.
Policies and state machines are summarised; `--full` shows them whole.
"#;
        assert!(text.ends_with(expected), "{text}");
        let full = render_plan(&plan, Style { color: false, full: true });
        assert!(full.contains("      + policy = {\n            \"Statement\": ["), "{full}");
        assert!(full.contains("      + tags = {\"pipectl:pipeline\":\"demo\",\"team\":\"data-platform\"}\n"), "{full}");
        assert!(!full.contains("summarised"), "{full}");
    }

    #[test]
    fn empty_plan_says_so() {
        let plan = Plan::new("demo", vec![], vec![]);
        assert_eq!(
            render_plan(&plan, Style { color: false, full: false }),
            "No changes. Pipeline \"demo\" matches the spec.\n"
        );
    }

    /// A destroy plan names `destroy`, not `apply`, and with nothing left says so rather than
    /// that the pipeline matches a spec it is not compared with.
    #[test]
    fn a_destroy_plan_speaks_of_destroy() {
        let plan = Plan { destroy: true, ..sample() };
        let text = render_plan(&plan, Style { color: false, full: false });
        assert!(
            text.ends_with("1 of these changes destroy data (stream/old); destroy needs --allow-destroy.\n"),
            "{text}"
        );
        let nothing = Plan { destroy: true, ..Plan::new("demo", vec![], vec![]) };
        assert_eq!(
            render_plan(&nothing, Style { color: false, full: false }),
            "Nothing to destroy: no resource of pipeline \"demo\" exists.\n"
        );
    }
}

//! Derived documents (policies, state machines) as a person reviews them: one line that says
//! what a document is, and for an update what changed in it, statement by statement or state by
//! state. The kinds say which of their fields hold documents (`KindRules::document`); the plan
//! prints them whole with `--full`, and JSON always carries them whole.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::model::{Action, Document};

/// One line of what changed in a document: added, removed or changed, nested `depth` deep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub marker: Action,
    pub depth: usize,
    pub text: String,
}

impl DiffLine {
    fn new(marker: Action, depth: usize, text: String) -> DiffLine {
        DiffLine { marker, depth, text }
    }
}

/// At most this many value changes are listed inside one state or statement; the rest are
/// counted, and `--full` shows them.
const LEAVES_SHOWN: usize = 8;

/// What the document is, in one line: "policy: 3 statements, 4 actions on 3 resources".
pub fn summary(document: Document, value: &Value) -> String {
    match document {
        Document::Policy => policy_summary(value),
        Document::StateMachine => machine_summary(value),
    }
}

/// What changed from `before` to `after`: a headline (the counts before and after) and a line per
/// statement or state added, removed or changed.
pub fn changes(document: Document, before: &Value, after: &Value) -> (String, Vec<DiffLine>) {
    match document {
        Document::Policy => policy_changes(before, after),
        Document::StateMachine => machine_changes(before, after),
    }
}

fn plural(count: usize, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

/// `4 statements`, or `3 -> 4 statements` when the count changed.
fn count_change(before: usize, after: usize, noun: &str) -> String {
    if before == after {
        plural(after, noun)
    } else {
        format!("{before} -> {}", plural(after, noun))
    }
}

/// A string or a list of strings (IAM allows both) as a list; anything else as compact JSON.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Null => Vec::new(),
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        other => vec![other.to_string()],
    }
}

fn statements(policy: &Value) -> Vec<&Value> {
    match &policy["Statement"] {
        Value::Null => Vec::new(),
        Value::Array(all) => all.iter().collect(),
        one => vec![one],
    }
}

/// Who a statement applies to: `*`, service principals, account or role ARNs.
fn principals(statement: &Value) -> Vec<String> {
    match &statement["Principal"] {
        Value::Object(by_type) => by_type.values().flat_map(strings).collect(),
        other => strings(other),
    }
}

/// A statement's lists, by what a reviewer calls them: (label, values).
fn lists(statement: &Value) -> [(&'static str, Vec<String>); 5] {
    [
        ("action", strings(&statement["Action"])),
        ("not-action", strings(&statement["NotAction"])),
        ("resource", strings(&statement["Resource"])),
        ("not-resource", strings(&statement["NotResource"])),
        ("principal", principals(statement)),
    ]
}

/// The whole policy's counts, and its actions and principals.
#[derive(Default)]
struct PolicyTotals {
    statements: usize,
    denies: usize,
    conditions: usize,
    actions: BTreeSet<String>,
    resources: BTreeSet<String>,
    principals: BTreeSet<String>,
}

fn policy_totals(policy: &Value) -> PolicyTotals {
    let mut totals = PolicyTotals::default();
    for statement in statements(policy) {
        totals.statements += 1;
        totals.denies += usize::from(statement["Effect"] == "Deny");
        totals.conditions += usize::from(!statement["Condition"].is_null());
        let [actions, not_actions, resources, not_resources, principals] = lists(statement);
        totals.actions.extend(actions.1.into_iter().chain(not_actions.1.into_iter().map(|a| format!("not {a}"))));
        totals.resources.extend(resources.1.into_iter().chain(not_resources.1.into_iter().map(|r| format!("not {r}"))));
        totals.principals.extend(principals.1);
    }
    totals
}

/// Names when there are few, else how many.
fn few_or_count(names: &BTreeSet<String>, noun: &str) -> String {
    if !names.is_empty() && names.len() <= 2 {
        names.iter().cloned().collect::<Vec<_>>().join(", ")
    } else {
        plural(names.len(), noun)
    }
}

fn policy_summary(policy: &Value) -> String {
    let totals = policy_totals(policy);
    let mut parts = vec![plural(totals.statements, "statement")];
    if totals.denies > 0 {
        parts[0].push_str(&format!(" ({} Deny)", totals.denies));
    }
    let mut grants = few_or_count(&totals.actions, "action");
    if !totals.resources.is_empty() {
        grants.push_str(&format!(" on {}", plural(totals.resources.len(), "resource")));
    }
    if !totals.principals.is_empty() {
        grants.push_str(&format!(" for {}", few_or_count(&totals.principals, "principal")));
    }
    parts.push(grants);
    if totals.conditions > 0 {
        parts.push(format!("{} with a condition", totals.conditions));
    }
    format!("policy: {}", parts.join(", "))
}

/// How a statement is named in a diff: its `Sid`, else its place in its policy.
fn statement_label(statement: &Value, index: usize) -> String {
    match statement["Sid"].as_str() {
        Some(sid) if !sid.is_empty() => format!("statement {sid:?}"),
        _ => format!("statement #{}", index + 1),
    }
}

/// A statement in full, on one line: `Allow s3:GetObject on arn:… for *, when {…}`.
fn describe_statement(statement: &Value) -> String {
    let effect = statement["Effect"].as_str().unwrap_or("Allow");
    let [actions, not_actions, resources, not_resources, principals] = lists(statement);
    let mut text = effect.to_string();
    for (prefix, list) in [("", actions), ("all but ", not_actions), ("on ", resources), ("on all but ", not_resources)]
    {
        if !list.1.is_empty() {
            text.push_str(&format!(" {prefix}{}", list.1.join(", ")));
        }
    }
    if !principals.1.is_empty() {
        text.push_str(&format!(" for {}", principals.1.join(", ")));
    }
    if !statement["Condition"].is_null() {
        text.push_str(&format!(", when {}", statement["Condition"]));
    }
    text
}

fn policy_changes(before: &Value, after: &Value) -> (String, Vec<DiffLine>) {
    let (old, new) = (policy_totals(before), policy_totals(after));
    let headline = format!(
        "policy: {}, {}, {}",
        count_change(old.statements, new.statements, "statement"),
        count_change(old.actions.len(), new.actions.len(), "action"),
        count_change(old.resources.len(), new.resources.len(), "resource")
    );
    let labelled = |policy| -> Vec<(String, &Value)> {
        statements(policy).into_iter().enumerate().map(|(index, s)| (statement_label(s, index), s)).collect()
    };
    let (mut removed, mut added) = (labelled(before), labelled(after));
    // A statement found unchanged on both sides is no change, wherever it moved.
    removed.retain(|(_, statement)| match added.iter().position(|(_, other)| other == statement) {
        Some(index) => {
            added.remove(index);
            false
        }
        None => true,
    });
    let mut lines = Vec::new();
    for (name, statement) in removed {
        let same_sid = statement["Sid"]
            .as_str()
            .filter(|sid| !sid.is_empty())
            .and_then(|sid| added.iter().position(|(_, other)| other["Sid"].as_str() == Some(sid)));
        match same_sid {
            Some(index) => {
                let (_, other) = added.remove(index);
                lines.push(DiffLine::new(Action::Update, 0, name));
                lines.extend(statement_changes(statement, other));
            }
            None => lines.push(DiffLine::new(Action::Delete, 0, format!("{name}: {}", describe_statement(statement)))),
        }
    }
    for (name, statement) in added {
        lines.push(DiffLine::new(Action::Create, 0, format!("{name}: {}", describe_statement(statement))));
    }
    (headline, lines)
}

/// What changed inside a statement kept under the same `Sid`: its effect, each action, resource
/// or principal added or removed, and its condition's values.
fn statement_changes(before: &Value, after: &Value) -> Vec<DiffLine> {
    let mut lines = Vec::new();
    if before["Effect"] != after["Effect"] {
        lines.push(DiffLine::new(Action::Update, 1, format!("effect = {} -> {}", before["Effect"], after["Effect"])));
    }
    for ((label, old), (_, new)) in lists(before).into_iter().zip(lists(after)) {
        for gone in old.iter().filter(|item| !new.contains(item)) {
            lines.push(DiffLine::new(Action::Delete, 1, format!("{label} {gone}")));
        }
        for came in new.iter().filter(|item| !old.contains(item)) {
            lines.push(DiffLine::new(Action::Create, 1, format!("{label} {came}")));
        }
    }
    lines.extend(leaf_changes("Condition", &before["Condition"], &after["Condition"], 1));
    lines
}

fn machine_states(machine: &Value) -> BTreeMap<String, &Value> {
    machine["States"].as_object().map(|states| states.iter().map(|(k, v)| (k.clone(), v)).collect()).unwrap_or_default()
}

fn state_type(state: &Value) -> &str {
    state["Type"].as_str().unwrap_or("?")
}

fn machine_summary(machine: &Value) -> String {
    let states = machine_states(machine);
    let mut types: BTreeMap<&str, usize> = BTreeMap::new();
    for state in states.values() {
        *types.entry(state_type(state)).or_default() += 1;
    }
    let mut by_count: Vec<(&str, usize)> = types.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let types: Vec<String> = by_count.iter().map(|(name, count)| format!("{count} {name}")).collect();
    let start = machine["StartAt"].as_str().unwrap_or("?");
    format!("state machine: {} ({}), starting at {start}", plural(states.len(), "state"), types.join(", "))
}

fn machine_changes(before: &Value, after: &Value) -> (String, Vec<DiffLine>) {
    let (old, new) = (machine_states(before), machine_states(after));
    let headline = format!("state machine: {}", count_change(old.len(), new.len(), "state"));
    let mut lines = Vec::new();
    // The definition's own fields (StartAt, Comment, TimeoutSeconds, …), then its states.
    let empty = serde_json::Map::new();
    let (top_before, top_after) = (before.as_object().unwrap_or(&empty), after.as_object().unwrap_or(&empty));
    let keys: BTreeSet<&String> = top_before.keys().chain(top_after.keys()).filter(|key| *key != "States").collect();
    for key in keys {
        let (old_value, new_value) = (&before[key.as_str()], &after[key.as_str()]);
        lines.extend(leaf_changes(key, old_value, new_value, 0));
    }
    for (name, state) in &old {
        match new.get(name) {
            None => lines.push(DiffLine::new(Action::Delete, 0, format!("state {name:?} ({})", state_type(state)))),
            Some(other) if other != state => {
                lines.push(DiffLine::new(Action::Update, 0, format!("state {name:?} ({})", state_type(other))));
                lines.extend(leaf_changes("", state, other, 1));
            }
            Some(_) => {}
        }
    }
    for (name, state) in new.iter().filter(|(name, _)| !old.contains_key(*name)) {
        lines.push(DiffLine::new(Action::Create, 0, format!("state {name:?} ({})", state_type(state))));
    }
    (headline, lines)
}

/// Every scalar in `value` by its path (`Parameters.InstanceGroup.InstanceCount`, `Catch[0].Next`).
fn leaves(path: &str, value: &Value, out: &mut BTreeMap<String, Value>) {
    let join = |key: &str| if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
    match value {
        Value::Object(fields) if !fields.is_empty() => {
            for (key, field) in fields {
                leaves(&join(key), field, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (index, item) in items.iter().enumerate() {
                leaves(&format!("{path}[{index}]"), item, out);
            }
        }
        Value::Null => {}
        scalar => {
            out.insert(path.to_string(), scalar.clone());
        }
    }
}

/// The values that differ between `before` and `after` under `path`, one line each, at most
/// `LEAVES_SHOWN` of them and a count of the rest.
fn leaf_changes(path: &str, before: &Value, after: &Value, depth: usize) -> Vec<DiffLine> {
    let (mut old, mut new) = (BTreeMap::new(), BTreeMap::new());
    leaves(path, before, &mut old);
    leaves(path, after, &mut new);
    let paths: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut lines: Vec<DiffLine> = paths
        .into_iter()
        .filter_map(|key| match (old.get(key), new.get(key)) {
            (Some(a), Some(b)) if a == b => None,
            (Some(a), Some(b)) => Some(DiffLine::new(Action::Update, depth, format!("{key} = {a} -> {b}"))),
            (Some(a), None) => Some(DiffLine::new(Action::Delete, depth, format!("{key} = {a}"))),
            (None, Some(b)) => Some(DiffLine::new(Action::Create, depth, format!("{key} = {b}"))),
            (None, None) => None,
        })
        .collect();
    if lines.len() > LEAVES_SHOWN {
        let more = lines.len() - LEAVES_SHOWN;
        lines.truncate(LEAVES_SHOWN);
        lines.push(DiffLine::new(
            Action::Update,
            depth,
            format!("… and {more} more value(s) changed (--full shows them)"),
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn policy(statements: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    fn texts(lines: &[DiffLine]) -> Vec<String> {
        lines.iter().map(|line| format!("{}{} {}", "  ".repeat(line.depth), line.marker.symbol(), line.text)).collect()
    }

    #[test]
    fn a_policy_in_one_line() {
        let grants = policy(json!([
            {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::lake", "arn:aws:s3:::lake/*"]},
            {"Sid": "Start", "Effect": "Allow", "Action": "states:StartExecution", "Resource": "arn:aws:states:::x"},
        ]));
        assert_eq!(summary(Document::Policy, &grants), "policy: 2 statements, 3 actions on 3 resources");
        let trust = policy(json!([{
            "Effect": "Allow", "Action": ["sts:AssumeRole"], "Principal": {"Service": ["scheduler.amazonaws.com"]},
            "Condition": {"StringEquals": {"aws:SourceAccount": ["000000000000"]}}
        }]));
        assert_eq!(
            summary(Document::Policy, &trust),
            "policy: 1 statement, sts:AssumeRole for scheduler.amazonaws.com, 1 with a condition"
        );
        let tls =
            policy(json!([{"Effect": "Deny", "Action": "sqs:*", "Principal": {"AWS": "*"}, "Resource": "arn:q"}]));
        assert_eq!(summary(Document::Policy, &tls), "policy: 1 statement (1 Deny), sqs:* on 1 resource for *");
    }

    #[test]
    fn a_policy_update_names_what_each_statement_gained_and_lost() {
        let before = policy(json!([
            {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:a"]},
            {"Sid": "Old", "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": ["arn:q"]},
            {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": ["*"]},
        ]));
        let after = policy(json!([
            {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": ["*"]},
            {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:b"],
             "Condition": {"Bool": {"aws:SecureTransport": "true"}}},
            {"Sid": "New", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:a"},
        ]));
        let (headline, lines) = changes(Document::Policy, &before, &after);
        assert_eq!(headline, "policy: 3 statements, 3 -> 4 actions, 3 resources");
        assert_eq!(
            texts(&lines),
            [
                "~ statement \"Read\"",
                "  + action s3:ListBucket",
                "  - resource arn:a",
                "  + resource arn:b",
                "  + Condition.Bool.aws:SecureTransport = \"true\"",
                "- statement \"Old\": Allow sqs:SendMessage on arn:q",
                "+ statement \"New\": Deny s3:DeleteObject on arn:a",
            ]
        );
        assert!(changes(Document::Policy, &before, &before).1.is_empty());
    }

    fn machine(states: Value) -> Value {
        json!({"Comment": "job", "StartAt": "Start", "States": states})
    }

    #[test]
    fn a_state_machine_in_one_line() {
        let definition = machine(json!({
            "Start": {"Type": "Pass", "Next": "Grow"},
            "Grow": {"Type": "Task", "Next": "Run"},
            "Run": {"Type": "Task", "Next": "Done"},
            "Done": {"Type": "Succeed"},
        }));
        assert_eq!(
            summary(Document::StateMachine, &definition),
            "state machine: 4 states (2 Task, 1 Pass, 1 Succeed), starting at Start"
        );
    }

    #[test]
    fn a_state_machine_update_names_the_states_and_values_that_changed() {
        let before = machine(json!({
            "Start": {"Type": "Pass", "Next": "Grow"},
            "Grow": {"Type": "Task", "Parameters": {"InstanceGroup": {"InstanceCount": 20}}, "Next": "Done"},
            "Gone": {"Type": "Wait", "Seconds": 5},
            "Done": {"Type": "Succeed"},
        }));
        let mut after = machine(json!({
            "Start": {"Type": "Pass", "Next": "Grow"},
            "Grow": {"Type": "Task", "Parameters": {"InstanceGroup": {"InstanceCount": 30}}, "Next": "Step-1"},
            "Step-1": {"Type": "Task", "Next": "Done"},
            "Done": {"Type": "Succeed"},
        }));
        after["Comment"] = json!("job, longer");
        let (headline, lines) = changes(Document::StateMachine, &before, &after);
        assert_eq!(headline, "state machine: 4 states");
        assert_eq!(
            texts(&lines),
            [
                "~ Comment = \"job\" -> \"job, longer\"",
                "- state \"Gone\" (Wait)",
                "~ state \"Grow\" (Task)",
                "  ~ Next = \"Done\" -> \"Step-1\"",
                "  ~ Parameters.InstanceGroup.InstanceCount = 20 -> 30",
                "+ state \"Step-1\" (Task)",
            ]
        );
    }

    #[test]
    fn many_changed_values_are_counted_not_listed() {
        let before: Value = (0..12).map(|i| (format!("k{i:02}"), json!(i))).collect::<serde_json::Map<_, _>>().into();
        let after: Value =
            (0..12).map(|i| (format!("k{i:02}"), json!(i + 1))).collect::<serde_json::Map<_, _>>().into();
        let lines = leaf_changes("", &before, &after, 0);
        assert_eq!(lines.len(), LEAVES_SHOWN + 1);
        assert_eq!(lines[LEAVES_SHOWN].text, "… and 4 more value(s) changed (--full shows them)");
    }
}

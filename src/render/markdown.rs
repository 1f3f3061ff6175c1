//! `plan --output markdown`: the plan as a pull-request comment. A heading with the summary, a
//! table of the resources and their actions that reads at a glance, warnings for data loss and
//! refusals, and the human plan folded in a `<details>` block for the reviewer (its policies and
//! state machines summarised as in the terminal, or whole with `--full`).

use std::fmt::Write;

use super::human::{render_plan, Style};
use crate::plan::{Action, Plan};

/// A Markdown table cell: pipes would end the cell, newlines the row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The plan as GitHub- and GitLab-flavoured Markdown; `full` prints derived documents whole.
pub fn render_markdown(plan: &Plan, full: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### pipectl plan: pipeline `{}`\n", plan.pipeline);
    for notice in &plan.notices {
        let _ = writeln!(out, "> **Note:** {}\n", cell(notice));
    }
    if plan.is_empty() {
        let _ = writeln!(out, "**{}**", plan.nothing_to_do());
        return out;
    }
    let summary = &plan.summary;
    let _ = writeln!(
        out,
        "**Plan: {} to add, {} to change, {} to replace, {} to destroy.**\n",
        summary.add, summary.change, summary.replace, summary.destroy
    );
    for refusal in &plan.refusals {
        let _ = writeln!(out, "> :no_entry: **apply refuses this plan:** {}\n", cell(refusal));
    }
    let losses: Vec<String> = plan.data_loss().map(|change| format!("`{}`", change.resource)).collect();
    if !losses.is_empty() {
        let _ = writeln!(
            out,
            "> :warning: **Destroys data:** {}; {} needs `--allow-destroy`.\n",
            losses.join(", "),
            plan.command()
        );
    }
    let _ = writeln!(out, "| | resource | action | fields |");
    let _ = writeln!(out, "|---|---|---|---|");
    for change in &plan.changes {
        let marker = match change.action {
            Action::Create => ":heavy_plus_sign:",
            Action::Update => ":pencil2:",
            Action::Replace => ":recycle:",
            Action::Delete => ":x:",
        };
        let fields: Vec<String> = change
            .fields
            .iter()
            .map(|field| {
                if field.forces_replacement {
                    format!("`{}` (forces replacement)", field.path)
                } else {
                    format!("`{}`", field.path)
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "| {marker} | `{}` | {} | {} |",
            cell(&change.resource.to_string()),
            change.action.as_str(),
            cell(&fields.join(", "))
        );
    }
    let details = render_plan(plan, Style { color: false, full });
    // A fence longer than any run of backticks in the plan, so a value cannot close it.
    let longest = details.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(out, "\n<details><summary>Full plan</summary>\n\n{fence}diff\n{details}{fence}\n\n</details>");
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::test_kinds::TestKind;
    use crate::model::{Kind, ResourceId};
    use crate::plan::{Change, FieldChange};

    const STREAM: Kind = Kind::of(&TestKind { name: "stream", rank: 0, replaces: &[], inside: None });

    #[test]
    fn a_table_row_per_change_warnings_and_the_folded_plan() {
        let change = Change {
            resource: ResourceId::new(STREAM, "old"),
            action: Action::Delete,
            fields: vec![FieldChange {
                path: "shards".into(),
                before: Some(json!(2)),
                after: None,
                forces_replacement: false,
            }],
            notes: vec!["destroys data: its records | all of them".into()],
            destroys_data: true,
        };
        let text = render_markdown(&Plan::new("demo", vec![change], vec![]), false);
        assert!(
            text.starts_with(
                "### pipectl plan: pipeline `demo`\n\n**Plan: 0 to add, 0 to change, 0 to replace, 1 to destroy.**\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("> :warning: **Destroys data:** `stream/old`; apply needs `--allow-destroy`.\n"),
            "{text}"
        );
        assert!(text.contains("| :x: | `stream/old` | delete | `shards` |\n"), "{text}");
        assert!(text.contains("<details><summary>Full plan</summary>\n\n```diff\n"), "{text}");
        assert!(text.contains("  - stream \"old\" {\n"), "{text}");
    }

    #[test]
    fn an_empty_plan_says_so() {
        let text = render_markdown(&Plan::new("demo", vec![], vec![]), false);
        assert_eq!(text, "### pipectl plan: pipeline `demo`\n\n**No changes. Pipeline \"demo\" matches the spec.**\n");
    }
}

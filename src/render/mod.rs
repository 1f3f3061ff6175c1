//! Turns plans and apply reports into text for people (Terraform-like), Markdown for pull
//! requests, JSON for machines, and the spec's dependency graph into dot or Mermaid. Kept apart
//! from the differ: nothing here decides anything.

mod cost;
mod document;
mod graph;
mod human;
mod json;
mod markdown;

pub use cost::{render_cost, render_cost_markdown};
pub use graph::{graph_dot, graph_mermaid};
pub use human::{render_plan, render_report, Style};
pub use json::{plan_json, report_json};
pub use markdown::render_markdown;

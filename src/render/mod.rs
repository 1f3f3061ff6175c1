//! Turns plans and apply reports into text for people (Terraform-like) or JSON for machines.
//! Kept apart from the differ: nothing here decides anything.

mod human;
mod json;

pub use human::{render_plan, render_report, Style};
pub use json::{plan_json, report_json};

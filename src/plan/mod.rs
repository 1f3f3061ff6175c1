//! The plan: what apply would do, as data. Built by a pure function from the desired graph and
//! the live state, rendered by `render`, carried out by `apply`.
//!
//! Terraform's vocabulary on purpose: create, update, replace, delete, with before/after per field
//! and the field that forces a replacement kept as display data.
//!
//! Pure: it depends on `model` only, and sees kinds only through their `KindRules`.

mod build;
mod diff;
pub mod file;
mod report;

use serde::Serialize;
use serde_json::Value;

use crate::model::ResourceId;
pub use crate::model::{Action, Attributes, UNREADABLE};

pub use build::build_plan;
pub use diff::diff_attributes;
pub use report::{ApplyReport, Outcome, ResourceResult};

/// One field that differs between live and desired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub forces_replacement: bool,
}

/// What happens to one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub resource: ResourceId,
    pub action: Action,
    pub fields: Vec<FieldChange>,
    /// Things a person should know: reshard steps, data that a deletion loses, AWS limits.
    pub notes: Vec<String>,
    /// True when carrying this out destroys data (a stream, a bucket that holds objects).
    pub destroys_data: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub replace: usize,
    pub destroy: usize,
}

/// The whole plan of one pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub pipeline: String,
    pub changes: Vec<Change>,
    pub summary: Summary,
    /// Information that is not a change (for example, a resource found twice).
    pub notices: Vec<String>,
    /// Why apply must not carry this plan out as it stands (termination protection).
    pub refusals: Vec<String>,
    /// A plan of `destroy` (everything goes), which its messages name instead of `apply`.
    #[serde(skip)]
    pub destroy: bool,
}

impl Plan {
    pub fn new(pipeline: &str, changes: Vec<Change>, notices: Vec<String>) -> Plan {
        let count = |action| changes.iter().filter(|change| change.action == action).count();
        let summary = Summary {
            add: count(Action::Create),
            change: count(Action::Update),
            replace: count(Action::Replace),
            destroy: count(Action::Delete),
        };
        Plan { pipeline: pipeline.to_string(), changes, summary, notices, refusals: Vec::new(), destroy: false }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The command that carries this plan out: `apply` or `destroy`.
    pub fn command(&self) -> &'static str {
        if self.destroy {
            "destroy"
        } else {
            "apply"
        }
    }

    /// What an empty plan means: nothing left to destroy, or nothing to change.
    pub fn nothing_to_do(&self) -> String {
        if self.destroy {
            format!("Nothing to destroy: no resource of pipeline \"{}\" exists.", self.pipeline)
        } else {
            format!("No changes. Pipeline \"{}\" matches the spec.", self.pipeline)
        }
    }

    /// The changes that lose data, which need `--allow-destroy`.
    pub fn data_loss(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|change| change.destroys_data)
    }
}

//! What carrying out a plan did to each resource: the data `apply` produces and the renderers
//! print. Kept with the plan so that rendering depends on nothing that talks to AWS.

use serde::Serialize;

use super::Action;
use crate::model::ResourceId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Done,
    Failed(String),
    /// Not attempted because something it needs failed or was skipped.
    Skipped(String),
    /// Not attempted because the run was interrupted.
    NotStarted,
}

/// What happened to one resource.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceResult {
    pub resource: ResourceId,
    pub action: Action,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    pub results: Vec<ResourceResult>,
    pub interrupted: bool,
    /// Why the run started no further change before the end, other than Ctrl-C (it lost the
    /// pipeline's lock).
    pub stopped: Option<String>,
}

impl ApplyReport {
    pub fn succeeded(&self) -> bool {
        !self.interrupted && self.stopped.is_none() && self.results.iter().all(|result| result.outcome == Outcome::Done)
    }

    pub fn count(&self, action: Action) -> usize {
        self.results.iter().filter(|r| r.action == action && r.outcome == Outcome::Done).count()
    }
}

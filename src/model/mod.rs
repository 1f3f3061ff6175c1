//! The vocabulary shared by every layer above the AWS calls: resource identities, the kind
//! interface's pure half, desired and live resources, and the plan's actions.
//!
//! Pure and small on purpose: the planner (`plan`) and the renderers see kinds only through
//! `KindRules`, reached from a resource's `Kind`; everything that talks to AWS lives in
//! `resources`, which implements these traits once per kind.

mod desired;
mod live;

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::Serialize;

pub use crate::names::{Tags, PIPELINE_TAG, RESOURCE_TAG};
pub use desired::{Binding, DesiredConfig, DesiredResource, GraphContext, ACCOUNT_PLACEHOLDER};
pub use live::{LiveDetail, LiveResource, LiveState, Names};

/// A resource's comparable state: field path → value.
pub type Attributes = std::collections::BTreeMap<String, serde_json::Value>;

/// The live value of a field the endpoint cannot report (an emulator that does not implement
/// the read): such a field is left out of the comparison instead of showing a change forever.
pub const UNREADABLE: &str = "(not readable from this endpoint)";

/// The field that holds a resource's tags, in every kind's attributes.
pub const TAGS: &str = "tags";

/// A field whose value is a large document pipectl derives (a policy, a state machine): plans
/// summarise it, and show what changed in it, instead of printing it whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// An IAM policy document (identity, trust or resource policy): its statements.
    Policy,
    /// An Amazon States Language definition: its states.
    StateMachine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    /// The Terraform-style marker shown before a resource in the human plan.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }

    /// The name used in JSON and in apply reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "updated in-place",
            Action::Replace => "replaced",
            Action::Delete => "destroyed",
        }
    }
}

/// The pure rules of one resource kind: what the planner needs to know about it, with no I/O.
/// Every method but `name` and `rank` has the answer most kinds give as its default.
pub trait KindRules: Send + Sync + 'static {
    /// The kind's name in plans, tags and `kind/name` ids (`security_group`).
    fn name(&self) -> &'static str;
    /// Where plans list this kind: lower ranks first. Unique (the registry's tests check), and
    /// in tens, so that a new kind finds a place between two without renumbering others.
    fn rank(&self) -> u8;
    /// True when AWS cannot change `field` in place, so a new value replaces the resource.
    fn forces_replacement(&self, _field: &str) -> bool {
        false
    }
    /// What kind of document `field` holds, if it holds one the plan should summarise.
    fn document(&self, _field: &str) -> Option<Document> {
        None
    }
    /// True when replacing `container`, a resource this one depends on, replaces this one too
    /// (everything inside a VPC goes with it).
    fn lives_in(&self, _container: Kind) -> bool {
        false
    }
    /// Whether AWS lets this kind carry tags: a kind that cannot (an EventBridge Scheduler
    /// schedule) shows none in plans and compares none, whatever tags the spec sets around it.
    fn carries_tags(&self) -> bool {
        true
    }
    /// The tags the diff compares (a kind may carry notes of its own in tags, or hold only some).
    fn compared_tags(&self, tags: &Tags) -> Tags {
        tags.clone()
    }
    /// Notes a person should read with a change (reshard steps, for example).
    fn change_notes(&self, _action: Action, _before: Option<&Attributes>, _after: Option<&Attributes>) -> Vec<String> {
        Vec::new()
    }
    /// What an in-place update from `before` to `after` destroys, if it destroys data (a
    /// shorter stream retention deletes the older records): the plan marks it and apply then
    /// needs `--allow-destroy`.
    fn update_loses_data(&self, _before: &Attributes, _after: &Attributes) -> Option<String> {
        None
    }
    /// Adjusts the desired attributes to deliberate live facts (a size recorded by `pipectl
    /// scale`); returns notices for the plan.
    fn adjust_desired(&self, _live: &LiveResource, _desired: &mut Attributes, _reset_scale: bool) -> Vec<String> {
        Vec::new()
    }
    /// Why apply must not replace or delete this live resource, if it must not.
    fn refusal(&self, _live: &LiveResource) -> Option<String> {
        None
    }
}

/// A resource kind: a thin handle to its rules. Two kinds are equal when their names are.
#[derive(Clone, Copy)]
pub struct Kind(&'static dyn KindRules);

impl Kind {
    pub const fn of(rules: &'static dyn KindRules) -> Kind {
        Kind(rules)
    }

    pub fn as_str(self) -> &'static str {
        self.0.name()
    }

    pub fn rules(self) -> &'static dyn KindRules {
        self.0
    }
}

impl std::ops::Deref for Kind {
    type Target = dyn KindRules;

    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl PartialEq for Kind {
    fn eq(&self, other: &Kind) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Kind {}

impl Hash for Kind {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialOrd for Kind {
    fn partial_cmp(&self, other: &Kind) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kind {
    fn cmp(&self, other: &Kind) -> std::cmp::Ordering {
        (self.0.rank(), self.as_str()).cmp(&(other.0.rank(), other.as_str()))
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// `kind/name`: how a resource is named in plans, tags and dependencies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId {
    pub kind: Kind,
    pub name: String,
}

impl ResourceId {
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        ResourceId { kind, name: name.into() }
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), self.name)
    }
}

impl Serialize for ResourceId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A value apply substitutes with the AWS id of `id` once it exists (`${cluster/spark}`).
pub fn placeholder(id: &ResourceId) -> String {
    format!("${{{id}}}")
}

/// Kinds for the planner's own unit tests, which must not depend on the real ones.
#[cfg(test)]
pub mod test_kinds {
    use super::*;

    /// A kind whose `replaces` fields force replacement and that lives in `inside`, if named.
    pub struct TestKind {
        pub name: &'static str,
        pub rank: u8,
        pub replaces: &'static [&'static str],
        pub inside: Option<&'static str>,
    }

    /// A plain kind named `name` (leaked: tests only), for code that must not name a real kind.
    pub fn named(name: &'static str) -> Kind {
        Kind::of(Box::leak(Box::new(TestKind { name, rank: 0, replaces: &[], inside: None })))
    }

    impl KindRules for TestKind {
        fn name(&self) -> &'static str {
            self.name
        }
        fn rank(&self) -> u8 {
            self.rank
        }
        fn forces_replacement(&self, field: &str) -> bool {
            self.replaces.contains(&field)
        }
        fn lives_in(&self, container: Kind) -> bool {
            self.inside == Some(container.as_str())
        }
    }
}

//! What the spec asks for, one node per AWS resource: the desired graph's node type, the
//! kind-specific desired state behind it, what every kind needs to build its nodes, and how
//! the graph is bound to an account once the live read has named it.
//!
//! The graph is built once per command, before anything is read: the account is not known yet,
//! so ARNs carry `${pipectl:account}` (`ACCOUNT_PLACEHOLDER`), as references to resources that may not
//! exist carry `${kind/name}`. After the read, `Binding` fills in the account and the ids of
//! what exists; apply fills in the ids of what it creates.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use super::{Attributes, ResourceId, Tags, PIPELINE_TAG, RESOURCE_TAG};
use crate::iam::Arns;
use crate::spec::Spec;

/// The desired state of one resource, as its kind defines it.
pub trait DesiredConfig: Any + Debug + Send + Sync {
    /// The comparable attributes of what the spec asks for (tags are added by the node).
    fn attributes(&self) -> Attributes;
    /// Values the spec itself gives attributes for now, besides `attributes` — a schedule
    /// window's size while the window is open — as (attribute, value, why): a live resource
    /// that holds one is not drifting.
    fn expected_now(&self) -> Vec<(String, serde_json::Value, String)> {
        Vec::new()
    }
    /// This desired state with the account and the AWS ids `binding` knows filled in, when it
    /// holds any (an ARN, a reference to another resource); `None` when nothing in it changes.
    fn bind(&self, _binding: &Binding) -> Option<Arc<dyn DesiredConfig>> {
        None
    }
}

/// What stands for the account in the desired graph until the live read names it: spelt so that
/// no text of the user's (a Spark argument, an IAM policy variable such as `${aws:username}`) can
/// be taken for it.
pub const ACCOUNT_PLACEHOLDER: &str = "${pipectl:account}";

/// The account and the AWS ids of the resources that exist, for the desired graph's
/// placeholders.
#[derive(Debug, Clone, Default)]
pub struct Binding {
    account: String,
    /// `kind/name` → AWS id.
    ids: BTreeMap<String, String>,
}

impl Binding {
    pub fn new<'a>(account: &str, ids: impl IntoIterator<Item = (&'a ResourceId, &'a String)>) -> Binding {
        let ids = ids.into_iter().map(|(id, physical)| (id.to_string(), physical.clone())).collect();
        Binding { account: account.to_string(), ids }
    }

    /// `text` with the account and every known `${kind/name}` filled in; `unknown` is asked
    /// about every other `${…}` (what is inside the braces): keep it as it is, or refuse.
    pub fn fill<E>(&self, text: &str, mut unknown: impl FnMut(&str) -> Result<(), E>) -> Result<String, E> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let Some(length) = rest[start..].find('}') else { break };
            out.push_str(&rest[..start]);
            let placeholder = &rest[start..=start + length];
            let inner = &placeholder[2..placeholder.len() - 1];
            match self.ids.get(inner) {
                _ if placeholder == ACCOUNT_PLACEHOLDER => out.push_str(&self.account),
                Some(physical) => out.push_str(physical),
                None => {
                    unknown(inner)?;
                    out.push_str(placeholder);
                }
            }
            rest = &rest[start + length + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// `text` with the account and every known `${kind/name}` filled in, the rest as it is.
    pub fn text(&self, text: &str) -> String {
        match self.fill(text, |_| Ok::<(), std::convert::Infallible>(())) {
            Ok(filled) => filled,
            Err(never) => match never {},
        }
    }

    /// Every string in `value` bound as `text` binds it.
    pub fn value(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(text) => Value::String(self.text(text)),
            Value::Array(items) => Value::Array(items.iter().map(|item| self.value(item)).collect()),
            Value::Object(fields) => {
                Value::Object(fields.iter().map(|(key, field)| (key.clone(), self.value(field))).collect())
            }
            other => other.clone(),
        }
    }
}

/// One node of the desired graph.
#[derive(Debug, Clone)]
pub struct DesiredResource {
    pub id: ResourceId,
    /// Every tag the resource must carry: the spec's, the resource's own, `Name` for EC2, and
    /// pipectl's ownership tags.
    pub tags: Tags,
    pub depends_on: Vec<ResourceId>,
    pub config: Arc<dyn DesiredConfig>,
}

impl DesiredResource {
    /// The kind-specific desired state, if this node is of the kind that defines `T`.
    pub fn config<T: DesiredConfig>(&self) -> Option<&T> {
        (self.config.as_ref() as &dyn Any).downcast_ref::<T>()
    }

    /// This node with `binding`'s account and ids filled in.
    pub fn bind(&self, binding: &Binding) -> DesiredResource {
        match self.config.bind(binding) {
            Some(config) => DesiredResource { config, ..self.clone() },
            None => self.clone(),
        }
    }

    /// The comparable attributes, tags included as the kind compares them.
    pub fn attributes(&self) -> Attributes {
        let mut attributes = self.config.attributes();
        if self.id.kind.carries_tags() {
            attributes.insert(super::TAGS.to_string(), serde_json::json!(self.id.kind.compared_tags(&self.tags)));
        }
        attributes
    }
}

/// What a kind needs to build its nodes of the desired graph.
pub struct GraphContext<'a> {
    pub spec: &'a Spec,
    /// The region and partition; the account is `${pipectl:account}` until the graph is bound.
    pub arns: &'a Arns,
    /// When the graph is built: what the spec asks for may depend on the time (a schedule's
    /// window open now, this year's clock changes).
    pub now: chrono::DateTime<chrono::Utc>,
}

impl GraphContext<'_> {
    /// A node with the spec's tags, `extra_tags`, and pipectl's ownership tags.
    pub fn node(
        &self,
        id: ResourceId,
        extra_tags: &Tags,
        depends_on: Vec<ResourceId>,
        config: impl DesiredConfig,
    ) -> DesiredResource {
        let mut tags = self.spec.tags.clone();
        tags.extend(extra_tags.clone());
        tags.insert(PIPELINE_TAG.to_string(), self.spec.pipeline.clone());
        tags.insert(RESOURCE_TAG.to_string(), id.to_string());
        DesiredResource { id, tags, depends_on, config: Arc::new(config) }
    }

    /// What stands for the AWS id of `id` until the graph is bound (or apply creates it).
    pub fn placeholder_of(&self, id: &ResourceId) -> String {
        super::placeholder(id)
    }
}

//! What the spec asks for, one node per AWS resource: the desired graph's node type, the
//! kind-specific desired state behind it, and what every kind needs to build its nodes.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;

use super::{Attributes, Kind, ResourceId, Tags, PIPELINE_TAG, RESOURCE_TAG};
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

    /// The comparable attributes, tags included as the kind compares them.
    pub fn attributes(&self) -> Attributes {
        let mut attributes = self.config.attributes();
        attributes.insert("tags".to_string(), serde_json::json!(self.id.kind.compared_tags(&self.tags)));
        attributes
    }
}

/// What a kind needs to build its nodes of the desired graph.
pub struct GraphContext<'a> {
    pub spec: &'a Spec,
    /// The account the policies refer to.
    pub arns: &'a Arns,
    /// The AWS ids of resources that exist already (for ARNs that contain them).
    pub known: &'a BTreeMap<ResourceId, String>,
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

    /// The AWS id of `id` if it exists already, or a placeholder apply fills in.
    pub fn known_or_placeholder(&self, id: &ResourceId) -> String {
        self.known.get(id).cloned().unwrap_or_else(|| super::placeholder(id))
    }

    /// The ids of the kind `kind` named `names`.
    pub fn ids<'n>(&self, kind: Kind, names: impl IntoIterator<Item = &'n String>) -> Vec<ResourceId> {
        names.into_iter().map(|name| ResourceId::new(kind, name)).collect()
    }
}

//! What the read phase found in AWS: resources that carry the pipeline's tags, each with its
//! kind-specific detail, described as attributes comparable with the desired ones.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::Arc;

use super::{Attributes, ResourceId, Tags};

/// Kind-specific live details that apply needs (ids of sub-objects, current rules, …).
pub trait LiveDetail: Any + Debug + Send + Sync {
    /// Attributes comparable with the desired ones, and the resources this one depends on;
    /// `names` turns AWS ids into spec names.
    fn describe(&self, physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>);
    /// Set when deleting or replacing the resource loses data, saying what.
    fn holds_data(&self) -> Option<String> {
        None
    }
    /// Names of sub-objects by AWS id (an EMR instance group id → `core` or its task group).
    fn labels(&self) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// A resource found in AWS that carries this pipeline's tags.
#[derive(Debug, Clone)]
pub struct LiveResource {
    pub id: ResourceId,
    /// The AWS identifier: `vpc-…`, `sg-…`, a bucket or stream name.
    pub physical_id: String,
    pub tags: Tags,
    pub detail: Arc<dyn LiveDetail>,
    /// Filled in once every kind has been read, since attributes name other resources.
    pub attributes: Attributes,
    pub depends_on: Vec<ResourceId>,
    /// Set when deleting or replacing this resource loses data, saying what.
    pub holds_data: Option<String>,
}

impl LiveResource {
    /// A freshly read resource; `LiveState::describe` fills in attributes and dependencies.
    pub fn new(id: ResourceId, physical_id: impl Into<String>, tags: Tags, detail: impl LiveDetail) -> LiveResource {
        LiveResource {
            id,
            physical_id: physical_id.into(),
            tags,
            detail: Arc::new(detail),
            attributes: Attributes::new(),
            depends_on: Vec::new(),
            holds_data: None,
        }
    }

    /// The kind-specific detail, if this resource is of the kind that defines `T`.
    pub fn detail<T: LiveDetail>(&self) -> Option<&T> {
        (self.detail.as_ref() as &dyn Any).downcast_ref::<T>()
    }
}

/// Everything the read phase learnt.
#[derive(Debug, Default)]
pub struct LiveState {
    /// The account the credentials belong to (for ARNs in policies).
    pub account_id: String,
    pub resources: BTreeMap<ResourceId, LiveResource>,
    /// Resources with names the spec uses that pipectl does not own: the plan must stop.
    pub conflicts: Vec<String>,
    pub notices: Vec<String>,
    /// Operations the endpoint does not implement (emulators), as warnings for stderr.
    pub warnings: Vec<String>,
}

impl LiveState {
    /// The AWS id of every live resource.
    pub fn physical_ids(&self) -> BTreeMap<ResourceId, String> {
        self.resources.values().map(|resource| (resource.id.clone(), resource.physical_id.clone())).collect()
    }

    /// Fills in attributes, dependencies and data loss of every resource, which need the names
    /// of the others.
    pub fn describe(&mut self) {
        let names = Names::of(&self.resources);
        for resource in self.resources.values_mut() {
            let (mut attributes, depends_on) = resource.detail.describe(&resource.physical_id, &names);
            if resource.id.kind.carries_tags() {
                attributes
                    .insert(super::TAGS.to_string(), serde_json::json!(resource.id.kind.compared_tags(&resource.tags)));
            }
            resource.attributes = attributes;
            // AWS names are unique within a kind, not across kinds (a bucket and a delivery may
            // both be `clicks`): a name that `names` resolves to the resource itself is another
            // kind's, and no resource depends on itself.
            resource.depends_on = depends_on.into_iter().filter(|id| id != &resource.id).collect();
            resource.holds_data = resource.detail.holds_data();
        }
    }
}

/// Physical id → resource id, for turning AWS references into spec names; and the names of
/// sub-objects such as EMR instance groups.
#[derive(Debug, Default)]
pub struct Names {
    ids: HashMap<String, ResourceId>,
    labels: HashMap<String, String>,
}

impl Names {
    pub fn of(resources: &BTreeMap<ResourceId, LiveResource>) -> Names {
        let ids = resources.values().map(|resource| (resource.physical_id.clone(), resource.id.clone())).collect();
        let labels = resources.values().flat_map(|resource| resource.detail.labels()).collect();
        Names { ids, labels }
    }

    /// The spec name of a physical id, or the id itself when it is not ours.
    pub fn name(&self, physical_id: &str) -> String {
        self.ids.get(physical_id).map_or_else(|| physical_id.to_string(), |id| id.name.clone())
    }

    /// The name of a sub-object (an instance group id → `core` or the task group's name).
    pub fn label(&self, physical_id: &str) -> String {
        self.labels.get(physical_id).cloned().unwrap_or_else(|| physical_id.to_string())
    }

    pub fn id(&self, physical_id: &str) -> Option<&ResourceId> {
        self.ids.get(physical_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_kinds::named;

    /// Names another resource by the AWS name it shares with its reader.
    #[derive(Debug)]
    struct Reads(&'static str);

    impl LiveDetail for Reads {
        fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
            (Attributes::new(), names.id(self.0).into_iter().cloned().collect())
        }
    }

    #[test]
    fn a_resource_never_depends_on_itself_through_a_name_another_kind_shares() {
        let (bucket, delivery) =
            (ResourceId::new(named("bucket"), "clicks"), ResourceId::new(named("delivery"), "clicks"));
        let mut state = LiveState::default();
        for id in [&bucket, &delivery] {
            state.resources.insert(id.clone(), LiveResource::new(id.clone(), "clicks", Tags::new(), Reads("clicks")));
        }
        state.describe();
        for resource in state.resources.values() {
            assert!(!resource.depends_on.contains(&resource.id), "{} depends on itself", resource.id);
        }
    }
}

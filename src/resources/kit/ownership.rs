//! Whose a resource is: the pipeline's tags, the id a tagged resource claims, adopting what a
//! crashed run of the pipeline was creating, and the message for a resource in the way.

use std::collections::HashMap;

use crate::model::{Kind, ResourceId, Tags, PIPELINE_TAG, RESOURCE_TAG};

/// The tags of an answer that gives them as a map (API Gateway, CloudWatch Logs); none when it
/// gives none.
pub fn tags_of_map(tags: Option<&HashMap<String, String>>) -> Tags {
    tags.map(|tags| tags.iter().map(|(key, value)| (key.clone(), value.clone())).collect()).unwrap_or_default()
}

/// True when `tags` say the resource belongs to `pipeline`.
pub fn owned_by(tags: &Tags, pipeline: &str) -> bool {
    tags.get(PIPELINE_TAG).map(String::as_str) == Some(pipeline)
}

/// The resource id a tagged resource claims to be, if it claims one of the expected kind.
pub fn claimed_id(tags: &Tags, kind: Kind) -> Option<ResourceId> {
    let (claimed_kind, name) = tags.get(RESOURCE_TAG)?.split_once('/')?;
    (claimed_kind == kind.as_str() && !name.is_empty()).then(|| ResourceId::new(kind, name))
}

/// True when a resource found without the pipeline's tags is one a crashed run of this
/// pipeline was creating: untagged entirely and named in the journal it left.
pub fn adopt(id: &ResourceId, tags: &Tags, adoptable: &[ResourceId]) -> bool {
    !tags.contains_key(PIPELINE_TAG) && adoptable.contains(id)
}

/// True when a resource whose name a create found taken may be carried on with as `id`: its
/// tags say it is this pipeline's and, if they name a resource, this one; or it is untagged and
/// the journal of a crashed run of this pipeline names it.
pub fn may_take_over(id: &ResourceId, tags: &Tags, pipeline: &str, adoptable: &[ResourceId]) -> bool {
    let claims_this = tags.get(RESOURCE_TAG).is_none_or(|claimed| *claimed == id.to_string());
    (owned_by(tags, pipeline) && claims_this) || adopt(id, tags, adoptable)
}

/// The adopt hint of a kind `pipectl adopt` can tag.
pub const WITH_PIPECTL_ADOPT: &str = " (`pipectl adopt KIND/NAME` does that, keeping its other tags)";

/// Why a resource the spec names cannot be managed, and how to adopt it on purpose.
pub fn ownership_conflict(id: &ResourceId, tags: &Tags, pipeline: &str, adopt_hint: &str) -> String {
    let owner = match tags.get(PIPELINE_TAG) {
        Some(other) if other == pipeline => {
            format!("it is tagged as this pipeline's {}", tags.get(RESOURCE_TAG).map_or("?", String::as_str))
        }
        Some(other) => format!("it belongs to pipeline `{other}`"),
        None => "it is not tagged as managed by pipectl".to_string(),
    };
    format!(
        "{id} already exists but {owner}; pipectl never modifies resources it does not own. \
         Rename it in the spec, or adopt it deliberately by tagging it {PIPELINE_TAG}={pipeline} and {RESOURCE_TAG}={id}{adopt_hint}"
    )
}

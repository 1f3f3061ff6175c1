//! Whose a resource is: the pipeline's tags, the id a tagged resource claims, adopting what a
//! crashed run of the pipeline was creating, and the message for a resource in the way.

use crate::model::{Kind, ResourceId, Tags, PIPELINE_TAG, RESOURCE_TAG};

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

/// Why a resource the spec names cannot be managed, and how to adopt it on purpose.
pub fn ownership_conflict(id: &ResourceId, tags: &Tags, pipeline: &str, adopt_hint: &str) -> String {
    let owner = match tags.get(PIPELINE_TAG) {
        Some(other) => format!("it belongs to pipeline `{other}`"),
        None => "it is not tagged as managed by pipectl".to_string(),
    };
    format!(
        "{id} already exists but {owner}; pipectl never modifies resources it does not own. \
         Rename it in the spec, or adopt it deliberately by tagging it {PIPELINE_TAG}={pipeline} and {RESOURCE_TAG}={id}{adopt_hint}"
    )
}

//! Tag handling shared by the EC2 kinds: tags at creation (so a resource is never untagged, even
//! if pipectl dies right after creating it), reading tags, filtering by pipeline, and syncing.

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};

use super::{aws_error, AwsError, Context, LiveResource, Tags};
use crate::model::{ResourceId, PIPELINE_TAG};
use crate::names::{ec2_name, EMR_MANAGED_TAG};
use crate::spec::Spec;

/// The tags an EC2 node carries besides the spec's and pipectl's: its `Name`, and EMR's
/// managed-policy tag when `used_by_emr`.
pub fn ec2_node_tags(spec: &Spec, id: &ResourceId, extra: &Tags) -> Tags {
    let mut tags = extra.clone();
    tags.insert("Name".to_string(), ec2_name(&spec.pipeline, &id.name));
    tags
}

/// EMR's managed service policy (v2) only acts on resources tagged for it: the cluster itself,
/// its subnet and security groups, and the VPC (where EMR may create groups).
pub fn emr_managed_tags(used_by_emr: bool) -> Tags {
    if used_by_emr {
        Tags::from([(EMR_MANAGED_TAG.0.to_string(), EMR_MANAGED_TAG.1.to_string())])
    } else {
        Tags::new()
    }
}

/// The filter that selects this pipeline's resources in any EC2 describe call.
pub fn pipeline_filter(pipeline: &str) -> Filter {
    Filter::builder().name(format!("tag:{PIPELINE_TAG}")).values(pipeline).build()
}

pub fn tag_specification(resource_type: ResourceType, tags: &Tags) -> TagSpecification {
    TagSpecification::builder().resource_type(resource_type).set_tags(Some(to_ec2(tags))).build()
}

pub fn to_ec2(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
}

pub fn from_ec2(tags: &[Tag]) -> Tags {
    tags.iter().filter_map(|tag| Some((tag.key()?.to_string(), tag.value().unwrap_or_default().to_string()))).collect()
}

/// Makes the live tags equal to `desired`: adds and changes, then removes the rest.
pub async fn sync(ctx: &Context, live: &LiveResource, desired: &Tags) -> Result<(), AwsError> {
    let ec2 = &ctx.clients.ec2;
    let changed: Tags = desired
        .iter()
        .filter(|(key, value)| live.tags.get(*key) != Some(*value))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    if !changed.is_empty() {
        ec2.create_tags()
            .resources(&live.physical_id)
            .set_tags(Some(to_ec2(&changed)))
            .send()
            .await
            .map_err(|error| aws_error(&live.id, "CreateTags", error))?;
    }
    let removed: Vec<Tag> =
        live.tags.keys().filter(|key| !desired.contains_key(*key)).map(|key| Tag::builder().key(key).build()).collect();
    if !removed.is_empty() {
        ec2.delete_tags()
            .resources(&live.physical_id)
            .set_tags(Some(removed))
            .send()
            .await
            .map_err(|error| aws_error(&live.id, "DeleteTags", error))?;
    }
    Ok(())
}

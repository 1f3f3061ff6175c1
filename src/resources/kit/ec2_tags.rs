//! Tag handling shared by the EC2 kinds: tags at creation (so a resource is never untagged, even
//! if pipectl dies right after creating it), reading tags, filtering by pipeline, and syncing;
//! and the deployer grants of an EC2 kind, which those tags scope.

use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use serde_json::json;

use super::{aws_error, AwsError, Context, Grant, GrantContext, LiveResource, Scope, Tags};
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

/// The EC2 actions of one kind's calls, for its deployer grants (`grants`).
pub struct Ec2Calls {
    /// Its describe calls, which EC2 cannot scope to a resource.
    pub describe: &'static [&'static str],
    /// Its creates, which tag what they create in the same request (`tag_specification`).
    pub create: &'static [&'static str],
    /// Its calls on resources that carry the pipeline's tag: changes, and creates inside an
    /// owned resource (a subnet in the pipeline's VPC, a NAT gateway in its subnet).
    pub change: &'static [&'static str],
    /// Its deletes of such resources.
    pub delete: &'static [&'static str],
}

/// The grants of an EC2 kind's `calls`, plus what `sync` and tagging at creation need: creates
/// only when the request tags the new resource as the pipeline's, everything else only on
/// resources that carry that tag.
///
/// `ec2:CreateTags` outside a resource that already carries the tag is allowed only inside one of
/// the kind's creates (`ec2:CreateAction`, "Grant permission to tag Amazon EC2 resources during
/// creation", Amazon EC2 User Guide): otherwise any EC2 resource of the region could be tagged as
/// the pipeline's and then changed or deleted through `ChangeOwnNetwork`.
pub fn grants(ctx: &GrantContext, calls: &Ec2Calls) -> Vec<Grant> {
    // Every EC2 resource of the region (VPCs, subnets, gateways, addresses, endpoints, and what
    // they touch that another account owns: shared subnets, AWS-managed prefix lists): which of
    // them a network call may change is decided by the tag conditions; the ARN keeps it here.
    let network = || vec![format!("arn:{}:ec2:{}:*:*", ctx.arns.partition, ctx.arns.region)];
    let own = |scope, actions| Grant::new("ChangeOwnNetwork", scope, actions, network()).when(ctx.tagged());
    vec![
        Grant::unscoped_reads(calls.describe),
        Grant::new("CreateTaggedNetwork", Scope::Apply, calls.create, network()).when(ctx.tagging()),
        Grant::new("TagNetworkOnlyWhileCreatingIt", Scope::Apply, &["ec2:CreateTags"], network()).when(json!({
            "StringEquals": {
                format!("aws:RequestTag/{PIPELINE_TAG}"): ctx.spec.pipeline,
                "ec2:CreateAction": calls.create.iter().map(|action| action.trim_start_matches("ec2:")).collect::<Vec<_>>(),
            }
        })),
        own(Scope::Apply, calls.change),
        own(Scope::Apply, &["ec2:CreateTags", "ec2:DeleteTags"]),
        own(Scope::Destroy, calls.delete),
    ]
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::iam::deployer::{policy, Purpose};
    use crate::resources::test_support::statement;

    #[test]
    fn creates_need_the_pipelines_tag_in_the_request_and_the_rest_on_the_resource() {
        let spec = crate::spec::SpecBuilder::new().build();
        let calls = Ec2Calls {
            describe: &["ec2:DescribeThings"],
            create: &["ec2:CreateThing"],
            change: &["ec2:ChangeThing"],
            delete: &["ec2:DeleteThing"],
        };
        let grants = grants(&GrantContext::new(&spec, "cn-north-1", "123456789012"), &calls);
        let all = policy(grants.clone(), Purpose::Everything);
        // Any account's: a shared subnet or an AWS-managed prefix list is another account's.
        let network = json!(["arn:aws-cn:ec2:cn-north-1:*:*"]);
        let create = statement(&all, "CreateTaggedNetwork");
        assert_eq!(create["Action"], json!(["ec2:CreateThing"]));
        let tag = statement(&all, "TagNetworkOnlyWhileCreatingIt");
        assert_eq!(tag["Action"], json!(["ec2:CreateTags"]));
        assert_eq!(
            tag["Condition"],
            json!({"StringEquals": {"aws:RequestTag/pipectl:pipeline": "p", "ec2:CreateAction": ["CreateThing"]}})
        );
        assert_eq!(create["Resource"], network);
        assert_eq!(create["Condition"], json!({"StringEquals": {"aws:RequestTag/pipectl:pipeline": "p"}}));
        let own = statement(&all, "ChangeOwnNetwork");
        assert_eq!(own["Action"], json!(["ec2:ChangeThing", "ec2:CreateTags", "ec2:DeleteTags", "ec2:DeleteThing"]));
        assert_eq!(own["Resource"], network);
        assert_eq!(own["Condition"], json!({"StringEquals": {"aws:ResourceTag/pipectl:pipeline": "p"}}));
        let plan = policy(grants, Purpose::Plan);
        assert_eq!(
            plan["Statement"],
            json!([{"Sid": "ReadWhatCannotBeScoped", "Effect": "Allow",
            "Action": ["ec2:DescribeThings"], "Resource": ["*"]}])
        );
    }
}

//! What the delivery kind's calls need of the deployer's policy (`ResourceKind::grants`).

use super::super::kit::tag_index::dropped_grants;
use super::super::kit::{Grant, GrantContext, Scope};
use super::policy::object_arn;
use crate::spec::static_part;

pub fn grants(ctx: &GrantContext) -> Vec<Grant> {
    let arn = |name: &str| ctx.arn("firehose", &format!("deliverystream/{name}"));
    let deliveries: Vec<String> = ctx.spec.deliveries.iter().map(|delivery| arn(&delivery.name)).collect();
    let read = ["firehose:DescribeDeliveryStream", "firehose:ListTagsForDeliveryStream"];
    let change = [
        "firehose:CreateDeliveryStream",
        "firehose:TagDeliveryStream",
        "firehose:UntagDeliveryStream",
        "firehose:UpdateDestination",
    ];
    let mut grants = vec![
        Grant::unscoped_reads(&["firehose:ListDeliveryStreams"]),
        Grant::new("ReadDeliveries", Scope::Plan, &read, deliveries.clone()),
    ];
    // A delivery stream the spec no longer names is found by the tag index and must be read (and,
    // by apply, deleted) although no ARN above names it: granted on the pipeline's tag, which
    // Firehose evaluates for these actions (Service Authorization Reference:
    // `aws:ResourceTag/${TagKey}` on the `deliverystream` resource type).
    let delete = ["firehose:DeleteDeliveryStream"];
    grants.extend(dropped_grants(ctx, "OwnDeliveriesTheSpecDropped", arn("*"), &read, &delete));
    grants.extend([
        // `pipectl verify` reads each delivery's status before it waits for a canary.
        Grant::new("ReadDeliveriesToVerify", Scope::Verify, &read[..1], deliveries.clone()),
        Grant::new("ChangeDeliveries", Scope::Apply, &change, deliveries.clone()),
        Grant::new("ChangeDeliveries", Scope::Destroy, &delete, deliveries),
        // Each delivery's role, derived or named, passed to Firehose only.
        ctx.pass_roles(
            "firehose",
            &ctx.spec.deliveries.iter().map(|d| super::delivery_role_id(d).name).collect::<Vec<_>>(),
        ),
    ]);
    grants.extend(canary_grants(ctx));
    grants
}

/// What `pipectl verify` needs of the lake: read objects under each delivery's prefix and error
/// prefix (of the same shape as the delivery's role writes, `policy::object_arn`), and list under
/// their fixed parts, the `s3:prefix` condition key scoping `s3:ListBucket` ("Amazon S3 condition
/// key examples", Amazon S3 User Guide). Deliveries into one bucket share the statement, so each
/// may list the others' prefixes there.
fn canary_grants(ctx: &GrantContext) -> Vec<Grant> {
    let mut grants = Vec::new();
    for delivery in &ctx.spec.deliveries {
        let bucket = ctx.arns.bucket(&delivery.to.bucket);
        let prefixes: Vec<&str> =
            std::iter::once(delivery.to.prefix.as_str()).chain(delivery.to.error_prefix.as_deref()).collect();
        grants.push(Grant::new(
            "ReadCanariesInTheLake",
            Scope::Verify,
            &["s3:GetObject"],
            prefixes.iter().map(|prefix| object_arn(&bucket, prefix)).collect(),
        ));
        let listed: Vec<String> = prefixes.iter().map(|prefix| format!("{}*", static_part(prefix))).collect();
        grants.push(
            Grant::new("ListCanaryPrefixes", Scope::Verify, &["s3:ListBucket"], vec![bucket])
                .when(serde_json::json!({"StringLike": {"s3:prefix": listed}})),
        );
    }
    grants
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::Delivery;
    use crate::iam::deployer::Purpose;
    use crate::resources::test_support::{assert_granted, granted, statement};

    #[test]
    fn deliveries_are_reached_by_name_or_by_the_pipelines_tag_and_their_role_passed_to_firehose() {
        let spec = crate::spec::SpecBuilder::new()
            .item("deliveries", "{name: to-lake, from: events, to: {bucket: lake, prefix: raw/}}".to_string())
            .build();
        assert_granted(
            &Delivery,
            &spec,
            &[
                ("firehose:ListDeliveryStreams", &["ReadWhatCannotBeScoped"]),
                ("firehose:DescribeDeliveryStream", &["ReadDeliveries", "OwnDeliveriesTheSpecDropped"]),
                ("firehose:UpdateDestination", &["ChangeDeliveries"]),
                ("firehose:DeleteDeliveryStream", &["OwnDeliveriesTheSpecDropped", "ChangeDeliveries"]),
                ("iam:PassRole", &["PassDeliveryRolesToFirehose"]),
            ],
        );
        let all = granted(&Delivery, &spec, Purpose::Everything);
        let arn = |name: &str| format!("arn:aws:firehose:eu-west-1:123456789012:deliverystream/{name}");
        assert_eq!(statement(&all, "ChangeDeliveries")["Resource"], json!([arn("to-lake")]));
        let dropped = statement(&all, "OwnDeliveriesTheSpecDropped");
        assert_eq!(dropped["Resource"], json!([arn("*")]));
        assert_eq!(dropped["Condition"], json!({"StringEquals": {"aws:ResourceTag/pipectl:pipeline": "p"}}));
        // The delivery's own role, to Firehose only.
        let pass = statement(&all, "PassDeliveryRolesToFirehose");
        assert_eq!(
            pass["Resource"],
            json!(["arn:aws:iam::123456789012:role/pipectl/p/eu-west-1/p-to-lake-firehose-euw1"])
        );
        assert_eq!(pass["Condition"]["StringEquals"]["iam:PassedToService"], json!("firehose.amazonaws.com"));
    }
}

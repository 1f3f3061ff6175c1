//! Every name pipectl derives for AWS, in one place: ownership tag keys, IAM role names and
//! paths, EMR cluster names, schedule names. A rename here is a rename everywhere, and a reader
//! can see at a glance which AWS names a pipeline occupies.
//!
//! Depends on nothing else in the crate, so every layer may use it.

use std::collections::BTreeMap;

/// Tags as AWS holds them: key → value, sorted so that comparisons and renders are stable.
pub type Tags = BTreeMap<String, String>;

/// Tag carrying the pipeline name on every resource pipectl creates.
pub const PIPELINE_TAG: &str = "pipectl:pipeline";
/// Tag carrying `kind/name`, which identifies the resource inside its pipeline.
pub const RESOURCE_TAG: &str = "pipectl:resource";
/// Tag key prefix recording a deliberate resize on an EMR cluster: `pipectl:scale:<group>`.
pub const SCALE_TAG_PREFIX: &str = "pipectl:scale:";
/// EMR's managed service policy (v2) only acts on subnets and security groups with this tag.
pub const EMR_MANAGED_TAG: (&str, &str) = ("for-use-with-amazon-emr-managed-policies", "true");
/// Marks a security group whose rules EMR maintains (one of a cluster's EMR-managed groups):
/// pipectl adds the rules EMR needs from it and neither compares nor revokes the others.
pub const EMR_RULES_TAG: (&str, &str) = ("pipectl:rules", "managed-by-emr");

/// The DynamoDB table of pipeline locks, one per account and region (one item per pipeline).
pub const LOCK_TABLE: &str = "pipectl-locks";

/// The IAM name of a role of the pipeline: `<pipeline>-<role>`.
pub fn iam_role_name(pipeline: &str, role: &str) -> String {
    format!("{pipeline}-{role}")
}

/// The IAM path that groups a pipeline's roles.
pub fn role_path(pipeline: &str) -> String {
    format!("/pipectl/{pipeline}/")
}

/// The name of the role pipectl derives for a delivery that names none.
pub fn derived_delivery_role(delivery: &str) -> String {
    format!("{delivery}-firehose")
}

/// The roles pipectl derives for a cluster: EMR's service role, the role of its instances, and
/// the role EventBridge Scheduler uses to resize it.
pub fn derived_cluster_roles(cluster: &str) -> [String; 3] {
    [format!("{cluster}-emr-service"), format!("{cluster}-emr-ec2"), format!("{cluster}-scheduler")]
}

/// The EMR cluster name, `<pipeline>-<cluster>`; clusters are found by this prefix.
pub fn emr_cluster_name(pipeline: &str, cluster: &str) -> String {
    format!("{}{cluster}", emr_cluster_prefix(pipeline))
}

/// What every EMR cluster name of the pipeline starts with.
pub fn emr_cluster_prefix(pipeline: &str) -> String {
    format!("{pipeline}-")
}

/// The name prefix and description marker that identify a pipeline's schedules (EventBridge
/// Scheduler schedules carry no tags).
pub fn schedule_prefix(pipeline: &str) -> String {
    format!("pipectl-{pipeline}-")
}

/// The EventBridge Scheduler name of one of the pipeline's schedules: the prefix, then its spec name.
pub fn schedule_name(pipeline: &str, spec_name: &str) -> String {
    format!("{}{spec_name}", schedule_prefix(pipeline))
}

/// The tag key of an EMR group's scale record: `pipectl:scale:<group>`.
pub fn scale_tag(group: &str) -> String {
    format!("{SCALE_TAG_PREFIX}{group}")
}

/// The spec-level name of one of the two schedules of a window: `<cluster>-<schedule>-up|down`.
pub fn window_schedule_name(cluster: &str, schedule: &str, edge: &str) -> String {
    format!("{cluster}-{schedule}-{edge}")
}

/// The one-time schedule `pipectl scale --for/--until` leaves to scale a group back.
pub fn scale_back_schedule_name(pipeline: &str, cluster: &str, group: &str) -> String {
    schedule_name(pipeline, &format!("{cluster}-{group}-scale-back"))
}

/// The spec-level name of the queue that receives a pipeline's failed schedule invocations.
pub const SCHEDULES_DLQ: &str = "schedules-dlq";

/// The SQS name of that dead-letter queue, `<pipeline>-schedules-dlq` (at most 54 characters for
/// a 40-character pipeline name; SQS allows 80 letters, digits, `-` and `_`).
pub fn schedules_dlq_name(pipeline: &str) -> String {
    format!("{pipeline}-{SCHEDULES_DLQ}")
}

/// The `Name` tag of an EC2 resource: the pipeline's own for its VPC, `<pipeline>-<name>` else.
pub fn ec2_name(pipeline: &str, name: &str) -> String {
    if name == pipeline {
        name.to_string()
    } else {
        format!("{pipeline}-{name}")
    }
}

/// The AWS name of a security group, `<pipeline>-<group>` (unique within the VPC).
pub fn security_group_name(pipeline: &str, group: &str) -> String {
    format!("{pipeline}-{group}")
}

/// The spec-level name of one of the security groups pipectl creates for EMR to manage:
/// `<cluster>-emr-master`, `<cluster>-emr-core` (core and task nodes, EMR's "slave" group) and
/// `<cluster>-emr-service` (service access, private subnets only).
pub fn emr_security_group(cluster: &str, role: &str) -> String {
    format!("{cluster}-emr-{role}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_names() {
        assert_eq!(iam_role_name("p", "events-firehose"), "p-events-firehose");
        assert_eq!(role_path("p"), "/pipectl/p/");
        assert_eq!(derived_cluster_roles("spark")[2], "spark-scheduler");
        assert_eq!(emr_cluster_name("p", "spark"), "p-spark");
        assert_eq!(scale_back_schedule_name("p", "spark", "batch"), "pipectl-p-spark-batch-scale-back");
        assert_eq!(schedules_dlq_name("p"), "p-schedules-dlq");
        assert_eq!((ec2_name("p", "p"), ec2_name("p", "public")), ("p".to_string(), "p-public".to_string()));
        assert_eq!(emr_security_group("spark", "master"), "spark-emr-master");
    }
}

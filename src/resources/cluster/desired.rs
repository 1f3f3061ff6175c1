//! What a cluster derives in the desired graph: its three roles (EMR's service role, the
//! instances' role with its instance profile, and the role EventBridge Scheduler resizes it
//! with) and their policies, its EMR-managed security groups, the two schedules of each of its
//! windows, the pipeline's dead-letter queue those schedules and `pipectl scale` send failures
//! to, and its alarms.

use serde_json::Value;

use super::{id, ClusterConfig, EmrGroups, Group};
use crate::iam::Arns;
use crate::model::{DesiredResource, GraphContext, ResourceId};
use crate::names::{
    derived_cluster_roles, emr_cluster_name, iam_role_name, job_state_machine_name, window_schedule_name,
    EMR_MANAGED_TAG,
};
use crate::resources::role::{self, RoleConfig};
use crate::resources::schedule::{self, ScheduleTarget};
use crate::resources::{alarm, bucket, queue, security_group, subnet};
use crate::spec;
use chrono::Datelike;

/// The nodes of one cluster of the spec.
pub(super) fn nodes(graph: &GraphContext, cluster: &spec::Cluster) -> Vec<DesiredResource> {
    let pipeline = &graph.spec.pipeline;
    let mut nodes = Vec::new();
    let [service, instance, scheduler] = derived_cluster_roles(&cluster.name);
    let instance_iam = iam_role_name(pipeline, &instance, &graph.arns.region);
    let service_policy = emr_service_policy(graph.arns, &graph.spec.role_path(&graph.arns.region), &instance_iam);
    let managed = [format!("arn:{}:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2", graph.arns.partition)];
    let service_role = role::config(
        graph,
        &service,
        crate::iam::service_trust_policy(graph.arns, "elasticmapreduce.amazonaws.com"),
        Some(service_policy),
        &managed,
    );
    let instance_policy = emr_instance_policy(graph.spec, cluster, graph.arns);
    let instance_role = RoleConfig {
        instance_profile: true,
        ..role::config(
            graph,
            &instance,
            crate::iam::service_trust_policy(graph.arns, "ec2.amazonaws.com"),
            instance_policy,
            &[],
        )
    };
    let cluster_id = id(&cluster.name);
    let machines: Vec<String> = cluster
        .jobs
        .iter()
        .map(|job| graph.arns.state_machine(&job_state_machine_name(pipeline, &cluster.name, &job.name)))
        .collect();
    let scheduler_policy =
        emr_resize_policy(&cluster_arn(graph, &cluster_id), queue::send_statement(graph.arns, pipeline), &machines);
    let scheduler_role = role::config(
        graph,
        &scheduler,
        crate::iam::service_trust_policy(graph.arns, "scheduler.amazonaws.com"),
        Some(scheduler_policy),
        &[],
    );
    let (service_id, instance_id) = (role::id(&service), role::id(&instance));
    let emr_groups = EmrGroups::of(graph.spec, cluster);
    let config = ClusterConfig {
        cluster: cluster.clone(),
        emr_name: emr_cluster_name(pipeline, &cluster.name),
        service_role: service_role.iam_name.clone(),
        instance_profile: instance_role.iam_name.clone(),
        log_uri: cluster
            .logs
            .as_ref()
            .map(|logs| format!("s3://{}/{}", logs.bucket, logs.prefix.trim_start_matches('/'))),
        emr_groups: emr_groups.clone(),
        open_windows: spec::open_schedule_windows(cluster, graph.now.timestamp())
            .into_iter()
            .map(|(group, nodes, schedule)| (Group::parse(&group), nodes, schedule))
            .collect(),
    };
    nodes.push(graph.node(service_id.clone(), &cluster.tags, vec![], service_role));
    nodes.push(graph.node(instance_id.clone(), &cluster.tags, vec![], instance_role));
    nodes.extend(emr_groups.nodes(graph, &cluster.name));
    let mut depends_on = vec![subnet::id(&cluster.subnet), service_id, instance_id];
    depends_on.extend(cluster.security_groups.iter().map(|group| security_group::id(group)));
    depends_on.extend(emr_groups.ids());
    depends_on.extend(cluster.logs.iter().map(|logs| bucket::id(&logs.bucket)));
    let mut tags = cluster.tags.clone();
    tags.insert(EMR_MANAGED_TAG.0.to_string(), EMR_MANAGED_TAG.1.to_string());
    nodes.push(graph.node(cluster_id.clone(), &tags, depends_on, config));
    nodes.push(graph.node(role::id(&scheduler), &cluster.tags, vec![cluster_id.clone()], scheduler_role));
    nodes.push(queue::node(graph));
    let windows = window_schedules(graph, cluster);
    if !windows.is_empty() {
        nodes.extend(windows);
        nodes.extend(queue::nodes(graph));
    }
    if let Some(alarms) = spec::enabled_alarms(graph.spec) {
        let derived = spec::cluster_alarms(alarms, cluster, graph.now.year());
        nodes.extend(alarm::nodes(graph, derived, &cluster_id, &graph.id_of(&cluster_id), &cluster.name));
    }
    nodes
}

/// The two schedules of each window of the cluster: `up` at its start to the window's size,
/// `down` at its end back to the group's baseline.
fn window_schedules(graph: &GraphContext, cluster: &spec::Cluster) -> Vec<DesiredResource> {
    let role = role::id(&derived_cluster_roles(&cluster.name)[2]);
    let mut nodes = Vec::new();
    for window in &cluster.schedules {
        let group = window.instance_group();
        for (edge, expression, size) in edges(cluster, window, &group) {
            let derived = schedule::Derived {
                name: window_schedule_name(&cluster.name, &window.name, edge),
                target: ScheduleTarget::Resize { cluster: cluster.name.clone(), group: group.clone(), nodes: size },
                expression,
                timezone: window.timezone.clone(),
                retry: schedule::window_retry(edge, window.length_seconds()),
                target_id: id(&cluster.name),
                role: role.clone(),
                tags: cluster.tags.clone(),
            };
            nodes.push(schedule::node(graph, derived));
        }
    }
    nodes
}

/// The two edges of a window: (`up` or `down`, its EventBridge expression, the size it sets).
///
/// `spec::validate` rejects a schedule whose cron or `for` does not parse, whose window cannot
/// end, or whose group the cluster lacks, so for a validated spec every expression is `Ok`.
/// The spec carries cron and `for` as text, so they are parsed again here; should validation
/// ever miss a case, the error is kept in the node (see `ScheduleConfig::expression`), not
/// dropped: the plan shows it and apply fails on that schedule.
fn edges(
    cluster: &spec::Cluster,
    schedule: &spec::Schedule,
    group: &Group,
) -> [(&'static str, Result<String, String>, i64); 2] {
    let window = crate::calendar::parse_cron(&schedule.cron).and_then(|start| {
        let end = start.end_after(crate::calendar::parse_duration(&schedule.duration)?)?;
        Ok((start.to_eventbridge(), end.to_eventbridge()))
    });
    let baseline = group.baseline(cluster);
    let down = window.clone().and_then(|(_, end)| match baseline {
        Some(_) => Ok(end),
        None => Err(format!("cluster '{}' has no group `{group}`", cluster.name)),
    });
    // With no baseline the `down` edge is an error already; the size beside it is never sent.
    [("up", window.map(|(start, _)| start), schedule.nodes), ("down", down, baseline.unwrap_or(0))]
}

/// The cluster's ARN once its id is known, or one with a placeholder that apply fills in.
pub fn cluster_arn(graph: &GraphContext, cluster: &ResourceId) -> String {
    let arns = graph.arns;
    let cluster_id = graph.id_of(cluster);
    format!("arn:{}:elasticmapreduce:{}:{}:cluster/{cluster_id}", arns.partition, arns.region, arns.account_id)
}

/// What EMR's service role needs besides the managed policy: passing the instance role to EC2.
fn emr_service_policy(arns: &Arns, path: &str, instance_role: &str) -> Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "PassInstanceRole", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": [arns.role(path, instance_role)]}]
    })
}

/// What the cluster's instances may do: read and write the pipeline's buckets, and use the
/// customer managed key of each SSE-KMS bucket for its objects through S3 (one statement per
/// key, `UsePipelineBucketKey<n>` in key order; see `policy::s3_key_statement`), nothing else.
/// The instances read no stream, so stream keys are not granted here. A cluster with
/// `use_glue_catalog` also gets `glue_catalog_statements`.
/// None for a spec without buckets: IAM refuses a statement whose `Resource` list is empty.
pub(super) fn emr_instance_policy(spec: &spec::Spec, cluster: &spec::Cluster, arns: &Arns) -> Option<Value> {
    let buckets: Vec<String> = spec.buckets.iter().map(|bucket| arns.bucket(&bucket.name)).collect();
    if buckets.is_empty() {
        return None;
    }
    let objects: Vec<String> = buckets.iter().map(|bucket| format!("{bucket}/*")).collect();
    let mut keys: std::collections::BTreeMap<crate::iam::KeyGrant, Vec<String>> = std::collections::BTreeMap::new();
    for bucket in &spec.buckets {
        if let Some(grant) = crate::iam::bucket_key_grant(bucket, arns) {
            keys.entry(grant).or_default().push(format!("{}/*", arns.bucket(&bucket.name)));
        }
    }
    let mut statements = vec![
        serde_json::json!({"Sid": "ListPipelineBuckets", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": buckets}),
        serde_json::json!({"Sid": "ReadWritePipelineObjects", "Effect": "Allow",
             "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
             "Resource": objects}),
    ];
    for (index, (grant, objects)) in keys.iter().enumerate() {
        statements.push(crate::iam::s3_key_statement(&format!("UsePipelineBucketKey{index}"), grant, arns, objects));
    }
    if let Some(catalog) = spec.catalog.as_ref().filter(|_| cluster.use_glue_catalog) {
        statements.extend(glue_catalog_statements(&spec::database_name(spec, catalog), arns));
    }
    Some(serde_json::json!({"Version": "2012-10-17", "Statement": statements}))
}

/// What Hive and Spark SQL do with their metastore when it is the Glue Data Catalog, limited to
/// the pipeline's database and its tables (the Glue actions of the EMR EC2 role's managed policy
/// `AmazonElasticMapReduceforEC2Role`, less those on other databases, on the database itself and
/// on functions). Glue checks a table action against the catalog, the database and the table
/// ("Specifying AWS Glue resource ARNs"). The metastore client looks up the `default` database
/// when it starts ("Unable to verify existence of default database" otherwise,
/// awslabs/aws-glue-data-catalog-client-for-apache-hive-metastore): it may read that one too,
/// and nothing in it. `GetDatabases` (`SHOW DATABASES`) needs every database and is not granted.
fn glue_catalog_statements(database: &str, arns: &Arns) -> [Value; 2] {
    let databases = [arns.glue_catalog(), arns.glue_database("default"), arns.glue_database(database)];
    let tables = [arns.glue_catalog(), arns.glue_database(database), arns.glue_table(database, "*")];
    [
        serde_json::json!({"Sid": "ReadPipelineDatabase", "Effect": "Allow", "Action": ["glue:GetDatabase"], "Resource": databases}),
        serde_json::json!({"Sid": "UsePipelineTables", "Effect": "Allow",
            "Action": ["glue:BatchCreatePartition", "glue:BatchDeletePartition", "glue:BatchGetPartition", "glue:CreatePartition",
                       "glue:CreateTable", "glue:DeletePartition", "glue:DeleteTable", "glue:GetPartition", "glue:GetPartitions",
                       "glue:GetTable", "glue:GetTableVersions", "glue:GetTables", "glue:UpdatePartition", "glue:UpdateTable"],
            "Resource": tables}),
    ]
}

/// What EventBridge Scheduler may do with the cluster: resize its groups, and put a resize it
/// could not deliver in the pipeline's dead-letter queue (`dead_letter`, see `queue`).
/// What EventBridge Scheduler may do for the cluster: resize it, start its jobs' state machines
/// (a templated Step Functions target needs `states:StartExecution` on the state machine, "Using
/// templated targets in EventBridge Scheduler"), and hand a failed invocation to the queue.
fn emr_resize_policy(cluster_arn: &str, dead_letter: Value, state_machines: &[String]) -> Value {
    let mut statements = vec![
        serde_json::json!({"Sid": "ResizeCluster", "Effect": "Allow", "Action": ["elasticmapreduce:ModifyInstanceGroups"], "Resource": [cluster_arn]}),
        dead_letter,
    ];
    if !state_machines.is_empty() {
        statements.push(serde_json::json!({"Sid": "StartJobs", "Effect": "Allow", "Action": ["states:StartExecution"], "Resource": state_machines}));
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::{PIPELINE_TAG, RESOURCE_TAG};
    use crate::resources::schedule::ScheduleConfig;

    #[test]
    fn a_window_is_an_up_and_a_down_schedule() {
        let spec: crate::spec::Spec = serde_saphyr::from_str("version: 1\npipeline: p\nregion: eu-west-1\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 4}\n    task_groups: [{name: batch, type: m5.xlarge, nodes: 2}]\n    schedules:\n      - {name: night, cron: '0 22 * * *', timezone: Asia/Seoul, group: batch, nodes: 20, for: 4h}\n    tags: {team: data}\n").unwrap();
        let arns = Arns::new("123456789012", "eu-west-1");
        let graph = GraphContext { spec: &spec, arns: &arns, now: chrono::Utc::now() };
        let nodes: Vec<DesiredResource> =
            super::nodes(&graph, &spec.clusters[0]).into_iter().filter(|node| node.id.kind == schedule::KIND).collect();
        let ids: Vec<String> = nodes.iter().map(|node| node.id.to_string()).collect();
        assert_eq!(ids, ["schedule/spark-night-up", "schedule/spark-night-down"]);
        let describe = |node: &DesiredResource| {
            let config = node.config::<ScheduleConfig>().unwrap();
            let ScheduleTarget::Resize { nodes, .. } = config.target else { panic!("{:?}", config.target) };
            (config.schedule_name.clone(), config.expression.clone(), nodes, config.timezone.clone())
        };
        assert_eq!(
            describe(&nodes[0]),
            (
                "pipectl-p-spark-night-up".to_string(),
                Ok("cron(0 22 * * ? *)".to_string()),
                20,
                "Asia/Seoul".to_string()
            )
        );
        assert_eq!(
            describe(&nodes[1]),
            (
                "pipectl-p-spark-night-down".to_string(),
                Ok("cron(0 2 * * ? *)".to_string()),
                2,
                "Asia/Seoul".to_string()
            )
        );
        let depends_on: Vec<String> = nodes[1].depends_on.iter().map(ToString::to_string).collect();
        assert_eq!(depends_on, ["cluster/spark", "role/spark-scheduler", "queue/schedules-dlq"]);
        let attributes = nodes[0].attributes();
        assert_eq!(attributes["target"], json!("cluster spark group batch to 20 nodes"));
        // Only the ownership marker is compared: the spec's tags cannot go on a schedule.
        assert_eq!(attributes["tags"], json!({PIPELINE_TAG: "p", RESOURCE_TAG: "schedule/spark-night-up"}));
        // A failed resize is retried for at most an hour, then kept in the pipeline's queue.
        assert_eq!(attributes["retry"], json!({"maximum_event_age_seconds": 3600, "maximum_retry_attempts": 10}));
        assert_eq!(attributes["dead_letter_queue"], json!("arn:aws:sqs:eu-west-1:123456789012:p-schedules-dlq"));
    }
}

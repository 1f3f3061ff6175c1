//! What a cluster derives in the desired graph: its three roles (EMR's service role, the
//! instances' role with its instance profile, and the role EventBridge Scheduler resizes it
//! with) and their policies, its EMR-managed security groups, the pipeline's dead-letter queue
//! its schedules and `pipectl scale` send failures to, and its alarms.

use serde_json::Value;

use super::{id, ClusterConfig, EmrGroups, Group};
use crate::iam::Arns;
use crate::model::{DesiredResource, GraphContext, ResourceId};
use crate::names::{
    derived_cluster_roles, emr_cluster_name, emr_security_configuration_name, iam_role_name, job_state_machine_name,
    EMR_MANAGED_TAG,
};
use crate::resources::role::{self, RoleConfig};
use crate::resources::{alarm, bucket, queue, security_configuration, security_group, subnet};
use crate::spec;
use chrono::Datelike;

/// The nodes of one cluster of the spec.
pub(super) fn nodes(graph: &GraphContext, cluster: &spec::Cluster) -> Vec<DesiredResource> {
    let pipeline = &graph.spec.pipeline;
    let mut nodes = Vec::new();
    let [service, instance, scheduler] = derived_cluster_roles(&cluster.name);
    let instance_iam = iam_role_name(pipeline, &instance, &graph.arns.region);
    let service_policy = emr_service_policy(graph.arns, &graph.spec.role_path(&graph.arns.region), &instance_iam);
    let managed = [super::emr_service_managed_policy(graph.arns)];
    let service_role = role::config(
        graph,
        &service,
        crate::iam::derived_trust_policy(graph.arns, "elasticmapreduce", Some(&emr_source(graph.arns))),
        Some(service_policy),
        &managed,
    );
    let instance_policy = emr_instance_policy(graph.spec, cluster, graph.arns);
    let instance_role = RoleConfig {
        instance_profile: true,
        ..role::config(
            graph,
            &instance,
            crate::iam::derived_trust_policy(graph.arns, "ec2", None),
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
        crate::iam::derived_trust_policy(graph.arns, "scheduler", None),
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
        security_configuration: emr_security_configuration_name(pipeline),
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
    depends_on.push(security_configuration::id());
    nodes.push(security_configuration::node(graph));
    let mut tags = cluster.tags.clone();
    tags.insert(EMR_MANAGED_TAG.0.to_string(), EMR_MANAGED_TAG.1.to_string());
    nodes.push(graph.node(cluster_id.clone(), &tags, depends_on, config));
    nodes.push(graph.node(role::id(&scheduler), &cluster.tags, vec![cluster_id.clone()], scheduler_role));
    nodes.push(queue::node(graph));
    if let Some(alarms) = spec::enabled_alarms(graph.spec) {
        let derived = spec::cluster_alarms(alarms, cluster, graph.now.year());
        nodes.extend(alarm::nodes(graph, derived, &cluster_id, &graph.placeholder_of(&cluster_id), &cluster.name));
    }
    nodes
}

/// The object ARNs the cluster's instances may write: `<bucket>/<prefix>*` of its `logs`, of
/// each catalog table's folder (a table's location is the literal part of its prefix, before
/// any `!{…}`) and of each of its `writes`, in that order without repeats.
fn instance_write_prefixes(spec: &spec::Spec, cluster: &spec::Cluster, arns: &Arns) -> Vec<String> {
    let mut prefixes: Vec<(String, String)> = cluster
        .logs
        .iter()
        .map(|logs| (logs.bucket.clone(), logs.prefix.trim_start_matches('/').to_string()))
        .collect();
    for table in spec.catalog.iter().flat_map(|catalog| &catalog.tables) {
        let location = spec::table_layout(spec, table).map(|layout| layout.location);
        if let Some((bucket, prefix)) = location.as_deref().and_then(spec::write_location) {
            prefixes.push((bucket.to_string(), prefix.to_string()));
        }
    }
    prefixes.extend(
        cluster.writes.iter().filter_map(|location| spec::write_location(location)).map(|(b, p)| (b.into(), p.into())),
    );
    let mut arns_of: Vec<String> = Vec::new();
    for (bucket, prefix) in prefixes {
        let arn = format!("{}/{prefix}*", arns.bucket(&bucket));
        if !arns_of.contains(&arn) {
            arns_of.push(arn);
        }
    }
    arns_of
}

/// What EMR's service role trusts EMR for: the account's clusters of the region
/// (`aws:SourceArn`, "Service role for Amazon EMR (EMR role)", Amazon EMR Management Guide; a
/// cluster's id is unknown until it runs, and the trust is written before).
fn emr_source(arns: &Arns) -> String {
    format!("arn:{}:elasticmapreduce:{}:{}:*", arns.partition, arns.region, arns.account_id)
}

/// The cluster's ARN once its id is known, or one with a placeholder that apply fills in.
pub fn cluster_arn(graph: &GraphContext, cluster: &ResourceId) -> String {
    let arns = graph.arns;
    let cluster_id = graph.placeholder_of(cluster);
    format!("arn:{}:elasticmapreduce:{}:{}:cluster/{cluster_id}", arns.partition, arns.region, arns.account_id)
}

/// What EMR's service role needs besides the managed policy: passing the instance role to EC2.
fn emr_service_policy(arns: &Arns, path: &str, instance_role: &str) -> Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "PassInstanceRole", "Effect": "Allow", "Action": ["iam:PassRole"], "Resource": [arns.role(path, instance_role)]}]
    })
}

/// What the cluster's instances may do: list and read the pipeline's buckets, write (and
/// delete, as Spark's output committers do) only under the prefixes the cluster uses — its
/// `logs`, the folders of the catalog's tables, and its `writes` — and never its jobs' scripts
/// (an explicit deny, in case a write prefix holds them); and use the customer managed key of
/// each SSE-KMS bucket for its objects through S3 (one statement per key,
/// `UsePipelineBucketKey<n>` in key order; see `policy::s3_key_statement`), nothing else.
/// The instances read no stream, so stream keys are not granted here. A cluster with
/// `use_glue_catalog` also gets `glue_catalog_statements`.
/// None for a spec without buckets: IAM refuses a statement whose `Resource` list is empty.
pub(super) fn emr_instance_policy(spec: &spec::Spec, cluster: &spec::Cluster, arns: &Arns) -> Option<Value> {
    let buckets: Vec<String> = spec.buckets.iter().map(|bucket| arns.bucket(&bucket.name)).collect();
    if buckets.is_empty() {
        return None;
    }
    let objects: Vec<String> = buckets.iter().map(|bucket| format!("{bucket}/*")).collect();
    let writes = instance_write_prefixes(spec, cluster, arns);
    let scripts: Vec<String> = cluster
        .jobs
        .iter()
        .flat_map(|job| &job.steps)
        .filter_map(|step| spec::script_location(&step.script))
        .filter(|(bucket, _)| spec.buckets.iter().any(|spec_bucket| spec_bucket.name == *bucket))
        .map(|(bucket, key)| format!("{}/{key}", arns.bucket(bucket)))
        .collect();
    let mut keys: std::collections::BTreeMap<crate::iam::KeyGrant, Vec<String>> = std::collections::BTreeMap::new();
    for bucket in &spec.buckets {
        if let Some(grant) = crate::iam::bucket_key_grant(bucket, arns) {
            let objects = [format!("{}/*", arns.bucket(&bucket.name))];
            keys.entry(grant).or_default().extend(crate::iam::s3_key_context(bucket, arns, &objects));
        }
    }
    let mut statements = vec![
        serde_json::json!({"Sid": "ListPipelineBuckets", "Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": buckets}),
        serde_json::json!({"Sid": "ReadPipelineObjects", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": objects}),
    ];
    if !writes.is_empty() {
        statements.push(serde_json::json!({"Sid": "WriteWhereTheClusterWrites", "Effect": "Allow",
             "Action": ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:ListMultipartUploadParts", "s3:PutObject"],
             "Resource": writes}));
    }
    if !scripts.is_empty() {
        statements.push(serde_json::json!({"Sid": "NeverWriteJobScripts", "Effect": "Deny",
             "Action": ["s3:DeleteObject", "s3:PutObject"], "Resource": scripts}));
    }
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
/// and nothing in it. When `default` does not exist (a fresh account), the client creates it
/// (`doesDefaultDBExist`, then `createDefaultDatabase`, in the same client) and the Spark
/// session fails if it may not: it may create that one database, no other. `GetDatabases`
/// (`SHOW DATABASES`) needs every database and is not granted.
fn glue_catalog_statements(database: &str, arns: &Arns) -> [Value; 3] {
    let databases = [arns.glue_catalog(), arns.glue_database("default"), arns.glue_database(database)];
    let tables = [arns.glue_catalog(), arns.glue_database(database), arns.glue_table(database, "*")];
    [
        serde_json::json!({"Sid": "ReadPipelineDatabase", "Effect": "Allow", "Action": ["glue:GetDatabase"], "Resource": databases}),
        serde_json::json!({"Sid": "CreateDefaultDatabase", "Effect": "Allow", "Action": ["glue:CreateDatabase"],
            "Resource": [arns.glue_catalog(), arns.glue_database("default")]}),
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

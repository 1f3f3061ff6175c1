//! The deployer's own least-privilege IAM policy: what a CI principal needs to plan, apply, scale
//! and destroy one spec, scoped to the pipeline's names, ARNs and tags wherever AWS supports it
//! (`pipectl permissions`). Offline: it reads the spec, never AWS.
//!
//! Two halves: `action_for`, AWS's mapping from each API operation pipectl calls to the IAM
//! action that authorises it (mostly the same name; S3 renames several), which the integration
//! tests check against every operation pipectl made in a full lifecycle; and `policy`, the
//! statements for one spec.

use serde_json::{json, Value};

use crate::iam::Arns;
use crate::names::{schedule_prefix, LOCK_TABLE, PIPELINE_TAG};
use crate::spec::Spec;

/// What the policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// plan, apply, scale, destroy, unlock.
    Everything,
    /// plan only: reads, nothing that changes AWS (the lock is not taken by plan).
    Plan,
}

/// The IAM actions that authorise `operation` of `service` (as the request counter names them,
/// e.g. `s3` and `ListObjectVersions`); empty for calls that need no permission; None for an
/// operation this table does not know (a test fails on those).
pub fn action_for(service: &str, operation: &str) -> Option<Vec<String>> {
    let prefix = match service {
        "emr" => "elasticmapreduce",
        "sfn" => "states",
        "sts" if operation == "GetCallerIdentity" => return Some(Vec::new()),
        other => other,
    };
    let s3 = |actions: &[&str]| Some(actions.iter().map(|a| format!("s3:{a}")).collect());
    if prefix == "s3" {
        // The S3 operations whose IAM action has another name (S3 User Guide, "Amazon S3 API
        // operations and the permissions they require").
        return match operation {
            "ListBuckets" => s3(&["ListAllMyBuckets"]),
            "GetBucketLifecycleConfiguration" => s3(&["GetLifecycleConfiguration"]),
            "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => s3(&["PutLifecycleConfiguration"]),
            "GetBucketEncryption" => s3(&["GetEncryptionConfiguration"]),
            "PutBucketEncryption" => s3(&["PutEncryptionConfiguration"]),
            "GetPublicAccessBlock" => s3(&["GetBucketPublicAccessBlock"]),
            "PutPublicAccessBlock" | "DeletePublicAccessBlock" => s3(&["PutBucketPublicAccessBlock"]),
            "ListObjectVersions" => s3(&["ListBucketVersions"]),
            "DeleteObjects" => s3(&["DeleteObject", "DeleteObjectVersion"]),
            "HeadBucket" | "ListObjectsV2" => s3(&["ListBucket"]),
            // Tags given at creation are authorised by s3:TagResource as well.
            "CreateBucket" => s3(&["CreateBucket", "TagResource"]),
            "GetBucketTagging"
            | "PutBucketTagging"
            | "DeleteBucket"
            | "GetBucketVersioning"
            | "PutBucketVersioning"
            | "GetBucketLocation"
            | "PutObject" => s3(&[operation]),
            _ => None,
        };
    }
    let known =
        ["ec2", "kinesis", "firehose", "iam", "elasticmapreduce", "scheduler", "dynamodb", "sqs", "tag", "glue"]
            .iter()
            .chain(&["cloudwatch", "sns"])
            .chain(&["athena", "states"])
            .copied()
            .collect::<Vec<_>>();
    if !known.contains(&prefix) {
        return None;
    }
    let mut actions = vec![format!("{prefix}:{operation}")];
    // Creates that carry tags need the tagging action too.
    match (prefix, operation) {
        ("kinesis", "CreateStream") => actions.push("kinesis:AddTagsToStream".to_string()),
        ("firehose", "CreateDeliveryStream") => actions.push("firehose:TagDeliveryStream".to_string()),
        ("sqs", "CreateQueue") => actions.push("sqs:TagQueue".to_string()),
        ("dynamodb", "CreateTable") => actions.push("dynamodb:TagResource".to_string()),
        ("elasticmapreduce", "RunJobFlow") => actions.push("elasticmapreduce:AddTags".to_string()),
        ("glue", "CreateDatabase" | "CreateCrawler") => actions.push("glue:TagResource".to_string()),
        ("athena", "CreateWorkGroup") => actions.push("athena:TagResource".to_string()),
        // PutMetricAlarm's Tags and CreateTopic's Tags are authorised by TagResource as well.
        ("cloudwatch", "PutMetricAlarm") => actions.push("cloudwatch:TagResource".to_string()),
        ("sns", "CreateTopic") => actions.push("sns:TagResource".to_string()),
        ("states", "CreateStateMachine") => actions.push("states:TagResource".to_string()),
        _ => {}
    }
    Some(actions)
}

fn statement(sid: &str, actions: &[&str], resources: Vec<String>, condition: Option<Value>) -> Value {
    let mut statement = json!({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources});
    if let (Some(condition), Some(object)) = (condition, statement.as_object_mut()) {
        object.insert("Condition".to_string(), condition);
    }
    statement
}

/// The least-privilege policy for `spec`; `account` is the account id, or `*`.
pub fn policy(spec: &Spec, region: &str, account: &str, purpose: Purpose) -> Value {
    let arns = Arns::new(account, region);
    let partition = arns.partition.as_str();
    let pipeline = spec.pipeline.as_str();
    let tagged = json!({"StringEquals": {format!("aws:ResourceTag/{PIPELINE_TAG}"): pipeline}});
    let tagging = json!({"StringEquals": {format!("aws:RequestTag/{PIPELINE_TAG}"): pipeline}});
    // The pipeline's roles and instance profiles of this region only: their path carries it.
    let roles_path = spec.role_path(region);
    let role_arns =
        vec![arns.role(&roles_path, "*"), format!("arn:{partition}:iam::{account}:instance-profile{roles_path}*")];
    let buckets: Vec<String> = spec.buckets.iter().map(|b| arns.bucket(&b.name)).collect();
    let objects: Vec<String> = buckets.iter().map(|b| format!("{b}/*")).collect();
    let streams: Vec<String> = spec.streams.iter().map(|s| arns.stream(&s.name)).collect();
    let encrypted: Vec<&crate::spec::Stream> =
        spec.streams.iter().filter(|s| s.encryption == crate::spec::StreamEncryption::Kms).collect();
    // A key ARN as given; a key id as its ARN; an alias names no key ARN, so any key of the account.
    let key_arn = |key: &str| {
        if key.starts_with("arn:") {
            key.to_string()
        } else if key.starts_with("alias/") {
            format!("arn:{partition}:kms:{region}:{account}:key/*")
        } else {
            format!("arn:{partition}:kms:{region}:{account}:key/{key}")
        }
    };
    let mut stream_keys: Vec<String> = encrypted.iter().map(|s| arns.stream(&s.name)).collect();
    let mut keys: Vec<String> =
        encrypted.iter().map(|s| key_arn(s.kms_key.as_deref().unwrap_or("alias/aws/kinesis"))).collect();
    keys.sort();
    keys.dedup();
    stream_keys.extend(keys);
    let deliveries: Vec<String> = spec
        .deliveries
        .iter()
        .map(|d| format!("arn:{partition}:firehose:{region}:{account}:deliverystream/{}", d.name))
        .collect();
    let clusters = vec![format!("arn:{partition}:elasticmapreduce:{region}:{account}:cluster/*")];
    let schedules =
        vec![format!("arn:{partition}:scheduler:{region}:{account}:schedule/default/{}*", schedule_prefix(pipeline))];
    let lock = vec![format!("arn:{partition}:dynamodb:{region}:{account}:table/{LOCK_TABLE}")];
    let queue = vec![format!("arn:{partition}:sqs:{region}:{account}:{pipeline}-*")];
    // Every EC2 resource of the region (VPCs, subnets, gateways, addresses, endpoints, and what
    // they touch that another account owns: shared subnets, AWS-managed prefix lists): which of
    // them a network call may change is decided by the tag conditions; the ARN keeps it here.
    let network = vec![format!("arn:{partition}:ec2:{region}:*:*")];
    // Glue authorises a database call on the catalog and the database, a table call on those
    // and the table, and DeleteDatabase also on every table and function in it ("Specifying
    // AWS Glue resource ARNs", AWS Glue Developer Guide).
    // The pipeline's alarms by their name prefix, and its alarm topic with its subscriptions
    // (`<topic ARN>:<id>`, which Unsubscribe names). Without an enabled `alarms:` section a
    // plan still looks for both, to delete what an earlier spec made.
    let alarms =
        vec![format!("arn:{partition}:cloudwatch:{region}:{account}:alarm:{}*", crate::names::alarm_prefix(pipeline))];
    let topic_arn = format!("arn:{partition}:sns:{region}:{account}:{}", crate::names::alarm_topic_name(pipeline));
    let topic = vec![topic_arn.clone(), format!("{topic_arn}:*")];
    let catalog: Vec<String> = spec
        .catalog
        .iter()
        .flat_map(|catalog| {
            let database = crate::spec::database_name(spec, catalog);
            [
                arns.glue_catalog(),
                arns.glue_database(&database),
                arns.glue_table(&database, "*"),
                format!("arn:{partition}:glue:{region}:{account}:userDefinedFunction/{database}/*"),
            ]
        })
        .collect();

    // The catalog's crawlers by their name prefix (one the spec dropped is found the same way).
    let crawlers = vec![arns.glue_crawler(&format!("{}*", crate::names::crawler_prefix(pipeline)))];
    let workgroup = vec![arns.athena_workgroup(&crate::names::athena_workgroup_name(pipeline))];
    // The jobs' state machines and their executions, by the pipeline's name prefix (a job the
    // spec dropped is found and deleted by the same prefix).
    let machines = vec![arns.state_machine(&format!("{}*", crate::names::state_machine_prefix(pipeline)))];
    let executions = vec![format!(
        "arn:{partition}:states:{region}:{account}:execution:{}*:*",
        crate::names::state_machine_prefix(pipeline)
    )];

    // Reads that AWS cannot scope to a resource (list and describe calls).
    let mut statements = vec![statement(
        "ReadWhatCannotBeScoped",
        &[
            "ec2:DescribeVpcs",
            "ec2:DescribeSubnets",
            "ec2:DescribeInternetGateways",
            "ec2:DescribeRouteTables",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeNatGateways",
            "ec2:DescribeAddresses",
            "ec2:DescribeVpcEndpoints",
            "ec2:DescribeNetworkInterfaces",
            "s3:ListAllMyBuckets",
            "kinesis:ListStreams",
            "firehose:ListDeliveryStreams",
            "elasticmapreduce:ListClusters",
            "scheduler:ListSchedules",
            "states:ListStateMachines",
            // How the pipeline's crawlers are found (by their name prefix, then their tags).
            "glue:GetCrawlers",
            "iam:ListRoles",
            // How the pipeline's buckets, streams and deliveries are found; it supports no
            // resource-level permissions (Service Authorization Reference, "Resource Groups
            // Tagging API"), and it returns ARNs and tags only, never the resources' contents.
            "tag:GetResources",
        ],
        vec!["*".to_string()],
        None,
    )];
    let mut reads = vec![
        (
            "ReadBuckets",
            vec![
                "s3:GetBucketTagging",
                "s3:GetBucketVersioning",
                "s3:GetEncryptionConfiguration",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetLifecycleConfiguration",
                "s3:ListBucketVersions",
                "s3:ListBucket",
            ],
            buckets.clone(),
        ),
        ("ReadStreams", vec!["kinesis:DescribeStreamSummary", "kinesis:ListTagsForStream"], streams.clone()),
        (
            "ReadDeliveries",
            vec!["firehose:DescribeDeliveryStream", "firehose:ListTagsForDeliveryStream"],
            deliveries.clone(),
        ),
        (
            "ReadRoles",
            vec![
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
                "iam:ListInstanceProfilesForRole",
            ],
            role_arns.clone(),
        ),
        (
            "ReadClusters",
            vec![
                "elasticmapreduce:DescribeCluster",
                "elasticmapreduce:ListInstanceGroups",
                "elasticmapreduce:ListBootstrapActions",
                "elasticmapreduce:GetAutoTerminationPolicy",
                "elasticmapreduce:GetManagedScalingPolicy",
            ],
            clusters.clone(),
        ),
        ("ReadSchedules", vec!["scheduler:GetSchedule"], schedules.clone()),
        ("ReadQueue", vec!["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ListQueueTags"], queue.clone()),
        // Every plan lists the catalog's databases to find the pipeline's by their marker.
        ("FindCatalogDatabases", vec!["glue:GetDatabases"], vec![arns.glue_catalog(), arns.glue_database("*")]),
        // GetTags on a database also needs glue:GetDatabase (AWS Glue API, "TagResource").
        ("ReadCatalog", vec!["glue:GetDatabase", "glue:GetTags", "glue:GetTables"], catalog.clone()),
        ("ReadCrawlers", vec!["glue:GetTags"], crawlers.clone()),
        // Every plan looks up the workgroup named after the pipeline, whether or not the spec
        // has a `query:` section (one that left the spec is found and deleted); named query
        // actions are authorised on their workgroup (Service Authorization Reference, "Amazon
        // Athena": resource type workgroup).
        (
            "ReadWorkgroup",
            vec![
                "athena:GetWorkGroup",
                "athena:ListTagsForResource",
                "athena:ListNamedQueries",
                "athena:GetNamedQuery",
            ],
            workgroup.clone(),
        ),
        // DescribeAlarms is authorised on the alarms it returns (Service Authorization
        // Reference, "Amazon CloudWatch": resource type alarm).
        ("ReadAlarms", vec!["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"], alarms.clone()),
        ("ReadAlarmTopic", vec!["sns:ListTagsForResource", "sns:ListSubscriptionsByTopic"], topic.clone()),
        // `pipectl runs` lists a job's executions on its state machine.
        (
            "ReadJobs",
            vec!["states:DescribeStateMachine", "states:ListTagsForResource", "states:ListExecutions"],
            machines.clone(),
        ),
        ("ReadJobRuns", vec!["states:DescribeExecution", "states:GetExecutionHistory"], executions.clone()),
    ];
    if purpose == Purpose::Everything {
        reads.push((
            "HoldTheLock",
            vec![
                "dynamodb:DescribeTable",
                "dynamodb:CreateTable",
                "dynamodb:TagResource",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            ],
            lock,
        ));
    }
    statements.extend(
        reads
            .into_iter()
            .filter(|(_, _, resources)| !resources.is_empty())
            .map(|(sid, actions, resources)| statement(sid, &actions, resources, None)),
    );
    // A stream or delivery stream the spec no longer names is found by the tag index and must be
    // read (and, by apply, deleted) although no ARN above names it: granted on the pipeline's tag,
    // which both services evaluate for these actions (Service Authorization Reference:
    // `aws:ResourceTag/${TagKey}` on the `stream` and `deliverystream` resource types).
    let any_stream = vec![format!("arn:{partition}:kinesis:{region}:{account}:stream/*")];
    let any_delivery = vec![format!("arn:{partition}:firehose:{region}:{account}:deliverystream/*")];
    let everything = purpose == Purpose::Everything;
    let mut dropped_streams = vec!["kinesis:DescribeStreamSummary", "kinesis:ListTagsForStream"];
    let mut dropped_deliveries = vec!["firehose:DescribeDeliveryStream", "firehose:ListTagsForDeliveryStream"];
    if everything {
        dropped_streams.push("kinesis:DeleteStream");
        dropped_deliveries.push("firehose:DeleteDeliveryStream");
    }
    statements.push(statement("OwnStreamsTheSpecDropped", &dropped_streams, any_stream, Some(tagged.clone())));
    statements.push(statement("OwnDeliveriesTheSpecDropped", &dropped_deliveries, any_delivery, Some(tagged.clone())));
    if purpose == Purpose::Plan {
        return json!({"Version": "2012-10-17", "Statement": statements});
    }

    statements.push(statement(
        "CreateTaggedNetwork",
        &[
            "ec2:CreateVpc",
            "ec2:CreateSubnet",
            "ec2:CreateInternetGateway",
            "ec2:CreateRouteTable",
            "ec2:CreateSecurityGroup",
            "ec2:AllocateAddress",
            "ec2:CreateNatGateway",
            "ec2:CreateVpcEndpoint",
            "ec2:CreateTags",
        ],
        network.clone(),
        Some(tagging),
    ));
    statements.push(statement(
        "ChangeOwnNetwork",
        &[
            "ec2:CreateSubnet",
            "ec2:CreateRouteTable",
            "ec2:CreateSecurityGroup",
            "ec2:CreateNatGateway",
            "ec2:CreateVpcEndpoint",
            "ec2:ModifyVpcAttribute",
            "ec2:ModifySubnetAttribute",
            "ec2:AttachInternetGateway",
            "ec2:DetachInternetGateway",
            "ec2:AssociateRouteTable",
            "ec2:DisassociateRouteTable",
            "ec2:ReplaceRouteTableAssociation",
            "ec2:CreateRoute",
            "ec2:ReplaceRoute",
            "ec2:DeleteRoute",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
            "ec2:ModifyVpcEndpoint",
            "ec2:CreateTags",
            "ec2:DeleteTags",
            "ec2:DeleteVpc",
            "ec2:DeleteSubnet",
            "ec2:DeleteInternetGateway",
            "ec2:DeleteRouteTable",
            "ec2:DeleteSecurityGroup",
            "ec2:DeleteNatGateway",
            "ec2:ReleaseAddress",
            "ec2:DeleteVpcEndpoints",
        ],
        network,
        Some(tagged.clone()),
    ));
    let mut writes = vec![
        (
            "ChangeBuckets",
            vec![
                "s3:CreateBucket",
                "s3:TagResource",
                "s3:PutBucketTagging",
                "s3:PutBucketVersioning",
                "s3:PutEncryptionConfiguration",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutLifecycleConfiguration",
                "s3:DeleteBucket",
            ],
            buckets,
        ),
        ("EmptyBucketsOnDestroy", vec!["s3:DeleteObject", "s3:DeleteObjectVersion"], objects),
        (
            "ChangeStreams",
            vec![
                "kinesis:CreateStream",
                "kinesis:AddTagsToStream",
                "kinesis:RemoveTagsFromStream",
                "kinesis:UpdateShardCount",
                "kinesis:UpdateStreamMode",
                "kinesis:IncreaseStreamRetentionPeriod",
                "kinesis:DecreaseStreamRetentionPeriod",
                "kinesis:DeleteStream",
            ],
            streams.clone(),
        ),
        // Encryption changes are authorised on the stream and on its KMS key together
        // (Service Authorization Reference: both resource types are required).
        ("EncryptStreams", vec!["kinesis:StartStreamEncryption", "kinesis:StopStreamEncryption"], stream_keys),
        (
            "ChangeDeliveries",
            vec![
                "firehose:CreateDeliveryStream",
                "firehose:TagDeliveryStream",
                "firehose:UntagDeliveryStream",
                "firehose:UpdateDestination",
                "firehose:DeleteDeliveryStream",
            ],
            deliveries,
        ),
        (
            "ChangeRoles",
            vec![
                "iam:CreateRole",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:PutRolePolicy",
                "iam:DeleteRolePolicy",
                "iam:AttachRolePolicy",
                "iam:DetachRolePolicy",
                "iam:PutRolePermissionsBoundary",
                "iam:DeleteRolePermissionsBoundary",
                "iam:DeleteRole",
                "iam:CreateInstanceProfile",
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:DeleteInstanceProfile",
            ],
            role_arns.clone(),
        ),
        (
            "ChangeOwnClusters",
            vec![
                "elasticmapreduce:ModifyInstanceGroups",
                "elasticmapreduce:AddInstanceGroups",
                "elasticmapreduce:SetTerminationProtection",
                "elasticmapreduce:PutAutoTerminationPolicy",
                "elasticmapreduce:RemoveAutoTerminationPolicy",
                "elasticmapreduce:PutManagedScalingPolicy",
                "elasticmapreduce:RemoveManagedScalingPolicy",
                "elasticmapreduce:AddTags",
                "elasticmapreduce:RemoveTags",
                "elasticmapreduce:TerminateJobFlows",
            ],
            clusters,
        ),
        (
            "ChangeSchedules",
            vec!["scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"],
            schedules,
        ),
        (
            "ChangeQueue",
            vec!["sqs:CreateQueue", "sqs:TagQueue", "sqs:UntagQueue", "sqs:SetQueueAttributes", "sqs:DeleteQueue"],
            queue,
        ),
        (
            "ChangeWorkgroup",
            vec![
                "athena:CreateWorkGroup",
                "athena:UpdateWorkGroup",
                "athena:DeleteWorkGroup",
                "athena:TagResource",
                "athena:UntagResource",
                "athena:CreateNamedQuery",
                "athena:UpdateNamedQuery",
                "athena:DeleteNamedQuery",
            ],
            workgroup,
        ),
        (
            "ChangeCatalog",
            vec![
                "glue:CreateDatabase",
                "glue:UpdateDatabase",
                "glue:DeleteDatabase",
                "glue:TagResource",
                "glue:UntagResource",
                "glue:CreateTable",
                "glue:UpdateTable",
                "glue:DeleteTable",
            ],
            catalog,
        ),
        (
            "ChangeCrawlers",
            vec![
                "glue:CreateCrawler",
                "glue:UpdateCrawler",
                "glue:StopCrawler",
                "glue:DeleteCrawler",
                "glue:TagResource",
                "glue:UntagResource",
            ],
            crawlers,
        ),
        (
            "ChangeAlarms",
            vec![
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:TagResource",
                "cloudwatch:UntagResource",
            ],
            alarms,
        ),
        // Deleting a job stops its running executions first (see `resources::job`).
        ("StopJobRuns", vec!["states:StopExecution"], executions),
        // `pipectl run` starts a job's execution like its schedule does.
        (
            "ChangeJobs",
            vec![
                "states:CreateStateMachine",
                "states:UpdateStateMachine",
                "states:DeleteStateMachine",
                "states:TagResource",
                "states:UntagResource",
                "states:StartExecution",
            ],
            machines,
        ),
        (
            "ChangeAlarmTopic",
            vec!["sns:CreateTopic", "sns:DeleteTopic", "sns:TagResource", "sns:UntagResource", "sns:Subscribe"],
            topic.clone(),
        ),
    ];
    if !topic.is_empty() {
        // Unsubscribe names a subscription, not a topic, and has no resource-level permission
        // (Service Authorization Reference, Amazon SNS); SNS itself lets only the topic's or the
        // subscription's owner remove it.
        statements.push(statement("UnsubscribeFromTheAlarmTopic", &["sns:Unsubscribe"], vec!["*".to_string()], None));
    }
    writes.retain(|(_, _, resources)| !resources.is_empty());
    statements.extend(writes.into_iter().map(|(sid, actions, resources)| {
        // Clusters are matched by their tag, as their ARNs carry ids unknown in advance.
        let condition = (sid == "ChangeOwnClusters").then(|| tagged.clone());
        statement(sid, &actions, resources, condition)
    }));
    if !spec.clusters.is_empty() {
        statements.push(statement(
            "StartTaggedClusters",
            &["elasticmapreduce:RunJobFlow", "elasticmapreduce:AddTags"],
            vec!["*".to_string()],
            Some(json!({"StringEquals": {format!("aws:RequestTag/{PIPELINE_TAG}"): pipeline}})),
        ));
    }
    statements.push(statement(
        "PassOwnRolesToTheirServices",
        &["iam:PassRole"],
        vec![arns.role(&roles_path, "*")],
        Some(json!({"StringEquals": {"iam:PassedToService": ["firehose.amazonaws.com", "elasticmapreduce.amazonaws.com", "ec2.amazonaws.com", "scheduler.amazonaws.com", "states.amazonaws.com", "glue.amazonaws.com"]}})),
    ));
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// True when `policy` has an Allow statement naming `action` (exactly or by a `*` suffix).
pub fn allows(policy: &Value, action: &str) -> bool {
    let statements = policy["Statement"].as_array().map(Vec::as_slice).unwrap_or_default();
    statements.iter().filter(|s| s["Effect"] == "Allow").any(|s| {
        s["Action"].as_array().map(Vec::as_slice).unwrap_or_default().iter().filter_map(Value::as_str).any(|granted| {
            granted == action || granted.strip_suffix('*').is_some_and(|prefix| action.starts_with(prefix))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::SpecBuilder;

    #[test]
    fn s3_operations_map_to_their_iam_actions() {
        assert_eq!(action_for("s3", "ListObjectVersions"), Some(vec!["s3:ListBucketVersions".to_string()]));
        assert_eq!(
            action_for("emr", "RunJobFlow").map(|a| a[0].clone()),
            Some("elasticmapreduce:RunJobFlow".to_string())
        );
        assert_eq!(action_for("sts", "GetCallerIdentity"), Some(Vec::new()));
        assert_eq!(action_for("s3", "SelectObjectContent"), None);
        assert_eq!(action_for("lambda", "Invoke"), None);
    }

    #[test]
    fn streams_and_deliveries_the_spec_dropped_are_reached_by_the_pipelines_tag_only() {
        let spec = SpecBuilder::new().bucket("lake").build();
        for (purpose, deletes) in [(Purpose::Plan, false), (Purpose::Everything, true)] {
            let policy = policy(&spec, "eu-west-1", "123456789012", purpose);
            let statements = policy["Statement"].as_array().expect("statements");
            for (sid, arn, delete) in [
                ("OwnStreamsTheSpecDropped", "arn:aws:kinesis:eu-west-1:123456789012:stream/*", "kinesis:DeleteStream"),
                (
                    "OwnDeliveriesTheSpecDropped",
                    "arn:aws:firehose:eu-west-1:123456789012:deliverystream/*",
                    "firehose:DeleteDeliveryStream",
                ),
            ] {
                let statement = statements.iter().find(|s| s["Sid"] == sid).expect(sid);
                assert_eq!(statement["Resource"], json!([arn]));
                assert_eq!(statement["Condition"]["StringEquals"]["aws:ResourceTag/pipectl:pipeline"], "p");
                let actions = statement["Action"].as_array().expect("actions");
                assert_eq!(actions.contains(&json!(delete)), deletes, "{sid} {purpose:?}");
            }
        }
    }

    #[test]
    fn roles_are_reached_under_the_specs_iam_path() {
        let mut spec = SpecBuilder::new().stream("events", 1).build();
        spec.iam = Some(crate::spec::Iam { path: Some("/teams/data/".to_string()), ..Default::default() });
        let policy = policy(&spec, "eu-west-1", "123456789012", Purpose::Everything);
        let statements = policy["Statement"].as_array().expect("statements");
        for sid in ["ReadRoles", "ChangeRoles", "PassOwnRolesToTheirServices"] {
            let statement = statements.iter().find(|s| s["Sid"] == sid).expect(sid);
            assert_eq!(
                statement["Resource"][0], "arn:aws:iam::123456789012:role/teams/data/pipectl/p/eu-west-1/*",
                "{sid}"
            );
        }
    }

    #[test]
    fn the_plan_policy_only_reads_and_is_scoped_to_the_specs_names() {
        let spec = SpecBuilder::new().stream("events", 1).bucket("lake").build();
        let read = policy(&spec, "eu-west-1", "123456789012", Purpose::Plan);
        assert!(allows(&read, "kinesis:DescribeStreamSummary") && !allows(&read, "kinesis:CreateStream"));
        assert!(!allows(&read, "dynamodb:PutItem"), "plan takes no lock");
        assert!(allows(&read, "tag:GetResources"), "plan finds the pipeline's resources by the tag index");
        assert_eq!(action_for("tag", "GetResources"), Some(vec!["tag:GetResources".to_string()]));
        let text = read.to_string();
        assert!(text.contains("arn:aws:kinesis:eu-west-1:123456789012:stream/events"), "{text}");
        let all = policy(&spec, "cn-north-1", "*", Purpose::Everything);
        assert!(allows(&all, "kinesis:CreateStream") && allows(&all, "dynamodb:PutItem"));
        assert!(all.to_string().contains("arn:aws-cn:s3:::lake"), "the partition follows the region");
    }
}

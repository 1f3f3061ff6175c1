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
/// Tag recording on an EMR cluster the HDFS replication it launched with (its `dfs.replication`,
/// or EMR's default for its core nodes at launch): the floor under its core group.
pub const HDFS_REPLICATION_TAG: &str = "pipectl:hdfs-replication";
/// EMR's managed service policy (v2) only acts on subnets and security groups with this tag.
pub const EMR_MANAGED_TAG: (&str, &str) = ("for-use-with-amazon-emr-managed-policies", "true");
/// Marks a security group whose rules EMR maintains (one of a cluster's EMR-managed groups):
/// pipectl adds the rules EMR needs from it and neither compares nor revokes the others.
pub const EMR_RULES_TAG: (&str, &str) = ("pipectl:rules", "managed-by-emr");

/// The DynamoDB table of pipeline locks, one per account and region (one item per pipeline).
pub const LOCK_TABLE: &str = "pipectl-locks";

/// The IAM name of a role of the pipeline in `region`: `<pipeline>-<role>-<region code>`.
///
/// IAM is global: the same pipeline applied in two regions must not share (and rewrite, and
/// delete) one set of roles, so the name carries the region (see `region_code`).
pub fn iam_role_name(pipeline: &str, role: &str, region: &str) -> String {
    format!("{pipeline}-{role}-{}", region_code(region))
}

/// Where pipectl's role paths start unless the spec's `iam.path` says otherwise.
pub const DEFAULT_IAM_PATH: &str = "/";

/// The IAM path that groups a pipeline's roles in `region`: `<base>pipectl/<pipeline>/<region>/`,
/// `base` being the spec's `iam.path` (`/` unless set). Reads list roles by this path, so a
/// region never sees (nor destroys) another's roles.
pub fn role_path(base: &str, pipeline: &str, region: &str) -> String {
    format!("{}/{region}/", roles_prefix(base, pipeline).trim_end_matches('/'))
}

/// The path prefix under which every region's roles of the pipeline live:
/// `<base>pipectl/<pipeline>/`.
pub fn roles_prefix(base: &str, pipeline: &str) -> String {
    format!("{base}pipectl/{pipeline}/")
}

/// The IAM path pipectl used before role names carried the region, `/pipectl/<pipeline>/`:
/// roles found exactly there belong to the pipeline and are replaced by the region's own.
pub fn legacy_role_path(pipeline: &str) -> String {
    format!("/pipectl/{pipeline}/")
}

/// The longest `region_code` of a region AWS has today (`us-isob-east-1` → `usisobe1`): the
/// budget an IAM role name keeps for it.
pub const REGION_CODE_MAX: usize = 8;

/// The partition a region belongs to: `aws-cn` for the China regions, `aws-us-gov` for
/// GovCloud (US), `aws` for every other ("Identify AWS resources with Amazon Resource Names
/// (ARNs)", IAM User Guide: ARNs begin `arn:partition:`).
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// A short, deterministic code of `region`, as AWS abbreviates regions in Availability Zone
/// IDs ("Availability Zone IDs for your AWS resources": `use1-az1`, `apne2-az1`): the first
/// part whole, each direction abbreviated (`north` → `n`, `southeast` → `se`, `central` → `c`),
/// `gov` → `g`, other parts whole (`iso`, `isob`: abbreviating them could make two regions
/// collide), then the number. `us-east-1` → `use1`, `us-gov-west-1` → `usgw1`,
/// `cn-northwest-1` → `cnnw1`. A region of another shape gives its name without dashes.
pub fn region_code(region: &str) -> String {
    let parts: Vec<&str> = region.split('-').collect();
    let Some((number, words)) = parts.split_last() else { return region.replace('-', "") };
    let shaped = words.len() >= 2
        && !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit())
        && words.iter().all(|word| !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase()));
    if !shaped {
        return region.replace('-', "");
    }
    let mut code = words[0].to_string();
    for word in &words[1..] {
        code.push_str(match *word {
            "north" => "n",
            "south" => "s",
            "east" => "e",
            "west" => "w",
            "central" => "c",
            "northeast" => "ne",
            "northwest" => "nw",
            "southeast" => "se",
            "southwest" => "sw",
            "gov" => "g",
            other => other,
        });
    }
    code.push_str(number);
    code
}

/// The Glue database of a pipeline whose spec names none: the pipeline name with `_` for `-`
/// (Glue and Athena names are lowercase letters, digits and `_`).
pub fn glue_database_name(pipeline: &str) -> String {
    pipeline.replace('-', "_")
}

/// The partition column a catalog table's `!{timestamp:…}` folders fill when the spec names none.
pub const DEFAULT_PARTITION_KEY: &str = "dt";

/// The Athena workgroup of a pipeline: the pipeline's name (a valid workgroup name, which is
/// `[a-zA-Z0-9._-]{1,128}`: Athena API Reference, "CreateWorkGroup").
pub fn athena_workgroup_name(pipeline: &str) -> String {
    pipeline.to_string()
}

/// Where Athena writes query results in the lake bucket when the spec names no prefix.
pub const DEFAULT_RESULTS_PREFIX: &str = "athena-results/";

/// The id of the lifecycle rule pipectl adds to the results bucket to expire query results.
pub const RESULTS_EXPIRY_RULE: &str = "pipectl-athena-results";

/// Ends the description of every named query pipectl saves: how its read tells them from
/// queries people saved in the workgroup (named queries carry no tags).
pub const NAMED_QUERY_MARKER: &str = "[saved by pipectl]";

/// The name of the role pipectl derives for a delivery that names none.
pub fn derived_delivery_role(delivery: &str) -> String {
    format!("{delivery}-firehose")
}

/// The roles pipectl derives for a cluster: EMR's service role, the role of its instances, and
/// the role EventBridge Scheduler uses to resize it.
pub fn derived_cluster_roles(cluster: &str) -> [String; 3] {
    [format!("{cluster}-emr-service"), format!("{cluster}-emr-ec2"), scheduler_role(cluster)]
}

/// The role EventBridge Scheduler resizes a cluster with (and starts its jobs with).
pub fn scheduler_role(cluster: &str) -> String {
    format!("{cluster}-scheduler")
}

/// The role Step Functions runs a cluster's job with (see `resources::job`).
pub fn derived_job_role(cluster: &str, job: &str) -> String {
    format!("{cluster}-{job}-job")
}

/// The role API Gateway puts the ingest API's records with (see `resources::ingest_api`).
pub const DERIVED_INGEST_ROLE: &str = "ingest-apigateway";

/// The ingest API's name in API Gateway: `<pipeline>-ingest` (names need not be unique there;
/// pipectl finds its API by this name and its tags).
pub fn ingest_api_name(pipeline: &str) -> String {
    format!("{pipeline}-ingest")
}

/// The Secrets Manager secret holding a warehouse's admin credentials (`{"username",
/// "password"}`): `pipectl/<pipeline>/<warehouse>/admin`. Secret names take letters, digits and
/// `/_+=.@-` (CreateSecret, `Name`); the pipeline's secrets are listed by the prefix.
pub fn warehouse_secret_name(pipeline: &str, warehouse: &str) -> String {
    format!("{}{warehouse}/admin", secret_prefix(pipeline))
}

/// What every secret of the pipeline is named under: `pipectl/<pipeline>/`.
pub fn secret_prefix(pipeline: &str) -> String {
    format!("pipectl/{pipeline}/")
}

/// The role Glue runs a catalog crawler with (see `resources::crawler`).
pub fn derived_crawler_role(crawler: &str) -> String {
    format!("{crawler}-crawler")
}

/// What every Glue crawler name of the pipeline starts with (crawlers are listed by it).
pub fn crawler_prefix(pipeline: &str) -> String {
    format!("pipectl-{pipeline}-")
}

/// The Glue name of a crawler of the spec: `pipectl-<pipeline>-<name>` (Glue allows 255).
pub fn crawler_name(pipeline: &str, crawler: &str) -> String {
    format!("{}{crawler}", crawler_prefix(pipeline))
}

/// A kind of AWS name pipectl derives: what the table of limits (`NAME_LIMITS`) is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Schedule,
    StateMachine,
    Alarm,
    Role,
    InstanceProfile,
    Queue,
    Topic,
    SecurityGroup,
    EmrCluster,
    Crawler,
}

/// The one table of the name lengths AWS allows, by the API reference of each create call:
/// every derived name is checked against it at validation, before any call.
/// - Schedule: "Maximum length of 64" (CreateSchedule, EventBridge Scheduler API Reference).
/// - State machine: 1-80 characters (CreateStateMachine, Step Functions API Reference).
/// - Alarm: 1-255 (PutMetricAlarm, AlarmName, CloudWatch API Reference).
/// - Role: 1-64 (CreateRole, RoleName, IAM API Reference).
/// - Instance profile: 1-128 (CreateInstanceProfile, InstanceProfileName).
/// - Queue: "A queue name can have up to 80 characters" (CreateQueue, SQS API Reference).
/// - Topic: "Topic names ... must be between 1 and 256 characters long" (CreateTopic, SNS).
/// - Security group: "Up to 255 characters in length" (CreateSecurityGroup, GroupName, EC2).
/// - EMR cluster: 0-256 (RunJobFlow, Name, EMR API Reference).
/// - Crawler: 1-255 (CreateCrawler, Name, Glue API Reference).
pub const NAME_LIMITS: [(NameKind, &str, usize); 10] = [
    (NameKind::Schedule, "EventBridge Scheduler schedule", 64),
    (NameKind::StateMachine, "Step Functions state machine", 80),
    (NameKind::Alarm, "CloudWatch alarm", 255),
    (NameKind::Role, "IAM role", 64),
    (NameKind::InstanceProfile, "IAM instance profile", 128),
    (NameKind::Queue, "SQS queue", 80),
    (NameKind::Topic, "SNS topic", 256),
    (NameKind::SecurityGroup, "EC2 security group", 255),
    (NameKind::EmrCluster, "EMR cluster", 256),
    (NameKind::Crawler, "Glue crawler", 255),
];

/// The longest name AWS allows for `kind`, and what AWS calls that kind of name.
pub fn name_limit(kind: NameKind) -> (&'static str, usize) {
    NAME_LIMITS.iter().find(|(of, _, _)| *of == kind).map_or(("name", usize::MAX), |&(_, what, max)| (what, max))
}

/// Why `name` cannot be a `kind` name, if it is too long: `the EventBridge Scheduler schedule
/// `…` would be 70 characters; AWS allows at most 64`.
pub fn name_too_long(kind: NameKind, name: &str) -> Option<String> {
    let (what, max) = name_limit(kind);
    let length = name.chars().count();
    (length > max).then(|| format!("the {what} `{name}` would be {length} characters; AWS allows at most {max}"))
}

/// What every state machine name of the pipeline starts with.
pub fn state_machine_prefix(pipeline: &str) -> String {
    format!("pipectl-{pipeline}-")
}

/// The state machine of a cluster's job: `pipectl-<pipeline>-<cluster>-<job>`.
pub fn job_state_machine_name(pipeline: &str, cluster: &str, job: &str) -> String {
    format!("{}{cluster}-{job}", state_machine_prefix(pipeline))
}

/// The description markers of the one-time schedules `pipectl scale --for/--until` and `pipectl
/// run` leave, `<marker>=<cluster>/<group or job>`: not the spec's, but the cluster's.
pub const SCALE_BACK_MARKER: &str = "pipectl:scale-back";
pub const RUN_GUARD_MARKER: &str = "pipectl:run-guard";

/// The spec name of the one-time guard `pipectl run` leaves for a run by hand (the longest name
/// of a job's schedules).
pub fn job_run_guard_name(cluster: &str, job: &str) -> String {
    window_schedule_name(cluster, job, "run-guard")
}

/// The spec names of a job's two schedules: `start` runs the state machine at the job's cron,
/// `guard` returns the group to its baseline once the job's time is up, whatever became of it.
pub fn job_schedule_names(cluster: &str, job: &str) -> [String; 2] {
    [window_schedule_name(cluster, job, "start"), window_schedule_name(cluster, job, "guard")]
}

/// The EMR cluster name, `<pipeline>-<cluster>`; clusters are found by this prefix.
pub fn emr_cluster_name(pipeline: &str, cluster: &str) -> String {
    format!("{}{cluster}", emr_cluster_prefix(pipeline))
}

/// The EMR security configuration the pipeline's clusters launch with, `pipectl-<pipeline>-emr`
/// (one per pipeline and region; see `resources::security_configuration`). EMR allows names of
/// up to 10280 characters.
pub fn emr_security_configuration_name(pipeline: &str) -> String {
    format!("pipectl-{pipeline}-emr")
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

/// The `guard` schedule of the job whose state machine is named `machine`: state machines and
/// schedules share the prefix `pipectl-<pipeline>-`, so `pipectl-<pipeline>-<cluster>-<job>-guard`.
pub fn job_guard_schedule_of(machine: &str) -> String {
    format!("{machine}-guard")
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

/// What every CloudWatch alarm name of the pipeline starts with (alarms are listed by it).
pub fn alarm_prefix(pipeline: &str) -> String {
    format!("pipectl-{pipeline}-")
}

/// The CloudWatch name of one of the pipeline's alarms, `pipectl-<pipeline>-<resource>-<metric>`
/// (its spec name is `<resource>-<metric>`; CloudWatch allows 255 characters).
pub fn alarm_name(pipeline: &str, spec_name: &str) -> String {
    format!("{}{spec_name}", alarm_prefix(pipeline))
}

/// The spec-level name of the pipeline's one alarm topic: `topic/alarms`.
pub const ALARM_TOPIC: &str = "alarms";

/// The SNS name of that topic, `pipectl-<pipeline>-alarms` (SNS allows 256 letters, digits, `-`
/// and `_`).
pub fn alarm_topic_name(pipeline: &str) -> String {
    format!("pipectl-{pipeline}-{ALARM_TOPIC}")
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

/// The spec-level name of the route table the public subnets share: `route_table/public`.
pub const PUBLIC_ROUTE_TABLE: &str = "public";

/// The spec-level name of a private subnet's own route table: the subnet's name, so the plan
/// reads `route_table/private-a` (a private subnet may therefore not be called `public`).
pub fn private_route_table(subnet: &str) -> String {
    subnet.to_string()
}

/// The spec-level name of a NAT gateway: the public subnet it sits in (`nat_gateway/public-a`).
pub fn nat_gateway(public_subnet: &str) -> String {
    public_subnet.to_string()
}

/// The security group pipectl creates for the interface endpoints (HTTPS from the VPC); a spec
/// with interface endpoints may not name a group of its own so.
pub const ENDPOINT_SECURITY_GROUP: &str = "vpc-endpoints";

/// How a VPC endpoint reaches its service: routes on route tables, or network interfaces in
/// subnets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointType {
    Gateway,
    Interface,
}

/// A VPC endpoint the spec may ask for by `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointService {
    /// The name in `network.endpoints`.
    pub name: &'static str,
    /// The last part of AWS's service name, `com.amazonaws.<region>.<service>`.
    pub service: &'static str,
    pub kind: EndpointType,
    /// In the China regions AWS names this interface endpoint `cn.com.amazonaws.<region>.<service>`
    /// (`aws ec2 describe-vpc-endpoint-services` there; the AWS CDK's
    /// `InterfaceVpcEndpointAwsService` keeps the same list). Gateway endpoints keep
    /// `com.amazonaws` everywhere.
    pub china_prefix: bool,
}

const fn endpoint(
    name: &'static str,
    service: &'static str,
    kind: EndpointType,
    china_prefix: bool,
) -> EndpointService {
    EndpointService { name, service, kind, china_prefix }
}

/// The endpoints `network.endpoints` may name: the two gateway endpoints (free) and the interface
/// endpoints a data pipeline's private subnets use ("AWS services that integrate with AWS
/// PrivateLink", AWS PrivateLink Guide).
pub const ENDPOINT_SERVICES: [EndpointService; 15] = [
    endpoint("s3", "s3", EndpointType::Gateway, false),
    endpoint("dynamodb", "dynamodb", EndpointType::Gateway, false),
    endpoint("kinesis-streams", "kinesis-streams", EndpointType::Interface, true),
    endpoint("firehose", "kinesis-firehose", EndpointType::Interface, false),
    endpoint("sts", "sts", EndpointType::Interface, true),
    endpoint("logs", "logs", EndpointType::Interface, false),
    endpoint("elasticmapreduce", "elasticmapreduce", EndpointType::Interface, false),
    endpoint("monitoring", "monitoring", EndpointType::Interface, true),
    endpoint("kms", "kms", EndpointType::Interface, false),
    endpoint("glue", "glue", EndpointType::Interface, false),
    endpoint("secretsmanager", "secretsmanager", EndpointType::Interface, false),
    endpoint("ssm", "ssm", EndpointType::Interface, false),
    endpoint("ec2", "ec2", EndpointType::Interface, true),
    endpoint("sqs", "sqs", EndpointType::Interface, true),
    endpoint("athena", "athena", EndpointType::Interface, true),
];

/// The endpoint `network.endpoints` calls `name`, if pipectl knows it.
pub fn endpoint_service(name: &str) -> Option<&'static EndpointService> {
    ENDPOINT_SERVICES.iter().find(|service| service.name == name)
}

/// AWS's name of the endpoint service in `region` of `partition`: `com.amazonaws.<region>.<service>`
/// ("AWS services that integrate with AWS PrivateLink": "com.amazonaws.region.service"), with the
/// `cn.` prefix the China regions use for some interface endpoints.
pub fn endpoint_service_name(partition: &str, region: &str, service: &EndpointService) -> String {
    let prefix = if partition == "aws-cn" && service.china_prefix && service.kind == EndpointType::Interface {
        "cn.com.amazonaws"
    } else {
        "com.amazonaws"
    };
    format!("{prefix}.{region}.{}", service.service)
}

#[cfg(test)]
mod endpoint_tests {
    use super::*;

    #[test]
    fn endpoint_service_names_follow_the_partition() {
        let service = |name| endpoint_service(name).unwrap();
        assert_eq!(endpoint_service_name("aws", "us-east-1", service("s3")), "com.amazonaws.us-east-1.s3");
        assert_eq!(
            endpoint_service_name("aws", "eu-west-1", service("firehose")),
            "com.amazonaws.eu-west-1.kinesis-firehose"
        );
        assert_eq!(
            endpoint_service_name("aws-us-gov", "us-gov-west-1", service("kinesis-streams")),
            "com.amazonaws.us-gov-west-1.kinesis-streams"
        );
        // China: some interface endpoints carry `cn.`; gateway endpoints and the others do not.
        assert_eq!(
            endpoint_service_name("aws-cn", "cn-north-1", service("kinesis-streams")),
            "cn.com.amazonaws.cn-north-1.kinesis-streams"
        );
        assert_eq!(endpoint_service_name("aws-cn", "cn-northwest-1", service("s3")), "com.amazonaws.cn-northwest-1.s3");
        assert_eq!(endpoint_service_name("aws-cn", "cn-north-1", service("logs")), "com.amazonaws.cn-north-1.logs");
        // The interface endpoints a cluster in a private subnet may need: "com.amazonaws.<region>.glue"
        // ("Configuring interface VPC endpoints (AWS PrivateLink) for AWS Glue"), and so on.
        for (name, service) in [
            ("glue", "glue"),
            ("sts", "sts"),
            ("logs", "logs"),
            ("elasticmapreduce", "elasticmapreduce"),
            ("kinesis-streams", "kinesis-streams"),
        ] {
            let known = endpoint_service(name).unwrap();
            assert_eq!(known.kind, EndpointType::Interface, "{name}");
            assert_eq!(endpoint_service_name("aws", "us-east-1", known), format!("com.amazonaws.us-east-1.{service}"));
        }
        assert_eq!(endpoint_service("kinesis"), None);
        let mut names: Vec<&str> = ENDPOINT_SERVICES.iter().map(|service| service.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ENDPOINT_SERVICES.len());
        assert_eq!(
            (private_route_table("private-a"), nat_gateway("public-a")),
            ("private-a".into(), "public-a".into())
        );
    }
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
    fn every_name_kind_has_its_limit() {
        assert_eq!(name_limit(NameKind::Schedule), ("EventBridge Scheduler schedule", 64));
        assert_eq!(name_limit(NameKind::StateMachine).1, 80);
        assert_eq!(name_too_long(NameKind::Queue, &"q".repeat(80)), None);
        assert_eq!(
            name_too_long(NameKind::Queue, &"q".repeat(81)),
            Some(format!("the SQS queue `{}` would be 81 characters; AWS allows at most 80", "q".repeat(81)))
        );
        for (kind, _, _) in NAME_LIMITS {
            assert!(name_limit(kind).1 < usize::MAX, "{kind:?}");
        }
    }

    #[test]
    fn derived_names() {
        assert_eq!(iam_role_name("p", "events-firehose", "eu-west-1"), "p-events-firehose-euw1");
        assert_eq!(role_path(DEFAULT_IAM_PATH, "p", "eu-west-1"), "/pipectl/p/eu-west-1/");
        assert_eq!(role_path("/teams/data/", "p", "eu-west-1"), "/teams/data/pipectl/p/eu-west-1/");
        assert_eq!(roles_prefix("/teams/data/", "p"), "/teams/data/pipectl/p/");
        assert_eq!(legacy_role_path("p"), "/pipectl/p/");
        assert_ne!(iam_role_name("p", "r", "us-east-1"), iam_role_name("p", "r", "eu-west-1"));
        assert_eq!(derived_cluster_roles("spark")[2], "spark-scheduler");
        assert_eq!(emr_cluster_name("p", "spark"), "p-spark");
        assert_eq!(scale_back_schedule_name("p", "spark", "batch"), "pipectl-p-spark-batch-scale-back");
        assert_eq!(schedules_dlq_name("p"), "p-schedules-dlq");
        assert_eq!((ec2_name("p", "p"), ec2_name("p", "public")), ("p".to_string(), "p-public".to_string()));
        assert_eq!(emr_security_group("spark", "master"), "spark-emr-master");
    }
}

#[cfg(test)]
mod region_code_tests {
    use super::*;

    /// Every region AWS lists today (commercial, GovCloud, China, the ISO partitions and the
    /// European Sovereign Cloud), with the code AWS's own AZ IDs use where it has one.
    const REGIONS: [(&str, &str); 45] = [
        ("us-east-1", "use1"),
        ("us-east-2", "use2"),
        ("us-west-1", "usw1"),
        ("us-west-2", "usw2"),
        ("af-south-1", "afs1"),
        ("ap-east-1", "ape1"),
        ("ap-east-2", "ape2"),
        ("ap-south-1", "aps1"),
        ("ap-south-2", "aps2"),
        ("ap-northeast-1", "apne1"),
        ("ap-northeast-2", "apne2"),
        ("ap-northeast-3", "apne3"),
        ("ap-southeast-1", "apse1"),
        ("ap-southeast-2", "apse2"),
        ("ap-southeast-3", "apse3"),
        ("ap-southeast-4", "apse4"),
        ("ap-southeast-5", "apse5"),
        ("ap-southeast-6", "apse6"),
        ("ap-southeast-7", "apse7"),
        ("ca-central-1", "cac1"),
        ("ca-west-1", "caw1"),
        ("eu-central-1", "euc1"),
        ("eu-central-2", "euc2"),
        ("eu-west-1", "euw1"),
        ("eu-west-2", "euw2"),
        ("eu-west-3", "euw3"),
        ("eu-south-1", "eus1"),
        ("eu-south-2", "eus2"),
        ("eu-north-1", "eun1"),
        ("il-central-1", "ilc1"),
        ("me-south-1", "mes1"),
        ("me-central-1", "mec1"),
        ("mx-central-1", "mxc1"),
        ("sa-east-1", "sae1"),
        ("us-gov-east-1", "usge1"),
        ("us-gov-west-1", "usgw1"),
        ("cn-north-1", "cnn1"),
        ("cn-northwest-1", "cnnw1"),
        ("us-iso-east-1", "usisoe1"),
        ("us-iso-west-1", "usisow1"),
        ("us-isob-east-1", "usisobe1"),
        ("us-isof-south-1", "usisofs1"),
        ("us-isof-east-1", "usisofe1"),
        ("eu-isoe-west-1", "euisoew1"),
        ("eusc-de-east-1", "euscdee1"),
    ];

    #[test]
    fn every_region_pattern_has_its_short_code() {
        for (region, code) in REGIONS {
            assert_eq!(region_code(region), code, "{region}");
        }
    }

    #[test]
    fn codes_are_distinct_and_within_the_budget() {
        let mut codes: Vec<String> = REGIONS.iter().map(|(region, _)| region_code(region)).collect();
        assert_eq!(codes.iter().map(String::len).max(), Some(REGION_CODE_MAX));
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), REGIONS.len(), "two regions share a code");
    }

    #[test]
    fn other_shapes_fall_back_to_the_name_without_dashes() {
        assert_eq!(region_code("local"), "local");
        assert_eq!(region_code("us-east"), "useast");
        assert_eq!(region_code("eu-west-1a"), "euwest1a");
        assert_eq!(region_code("Us-East-1"), "UsEast1");
        assert_eq!(region_code(""), "");
    }
}

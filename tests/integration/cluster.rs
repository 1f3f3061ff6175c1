//! EMR clusters, spec schedules and `pipectl scale`, on both stacks (EMR and Scheduler on moto):
//! what the emulator holds after apply (the EMR-managed security groups owned by the pipeline,
//! the EMR managed-policy tag on cluster and VPC), deliberate scaling that plans do not revert,
//! the EventBridge schedules and their ModifyInstanceGroups input, replacement warnings, every
//! refusal leaving the cluster as it was, and a destroy that leaves no tagged security group.

use crate::support::{
    assert_cluster_terminated, found, held_schedule, not_found, pipectl, run_with_env, runtime, unique, Run, Scratch,
    Stack,
};

struct ClusterSpec {
    pipeline: String,
    core_type: &'static str,
    termination_protection: bool,
    /// `window_hour()`.
    hour: u32,
}

/// The hour in Seoul (UTC+9, no clock changes) the night window starts: twelve hours from now,
/// so that the test's `scale --for 4h` never reaches into it (it would be refused, rightly).
/// Read once per test, so that the spec and what the test expects of the schedules agree.
fn window_hour() -> u32 {
    use chrono::Timelike;
    (chrono::Utc::now().hour() + 9 + 12) % 24
}

impl ClusterSpec {
    fn yaml(&self) -> String {
        format!(
            "version: 1\npipeline: {p}\nregion: us-east-1\nnetwork:\n  vpc: {{cidr: 10.60.0.0/16}}\n  subnets: [{{name: private-a, cidr: 10.60.1.0/24, availability_zone: us-east-1a}}]\n  endpoints: [s3]\n  security_groups: [{{name: spark, ingress: [{{protocol: all, group: self}}]}}]\nbuckets:\n  - name: {p}-lake\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark, Hadoop]\n    subnet: private-a\n    security_groups: [spark]\n    logs: {{bucket: {p}-lake}}\n    master: {{type: m5.xlarge}}\n    core: {{type: {core}, nodes: 4}}\n    task_groups: [{{name: batch, type: m5.2xlarge, nodes: 0, market: spot}}]\n    termination_protection: {protection}\n    schedules:\n      - {{name: night, cron: '0 {hour} * * *', timezone: Asia/Seoul, group: batch, nodes: 20, for: 4h}}\n",
            p = self.pipeline,
            hour = self.hour,
            core = self.core_type,
            protection = self.termination_protection,
        )
    }
}

/// The cluster and its groups as EMR holds them: (id, describe output, name → requested count);
/// `None` when EMR lists no active cluster of that name. Any error reading them fails the test.
async fn held_cluster(
    stack: Stack,
    pipeline: &str,
) -> Option<(String, aws_sdk_emr::types::Cluster, Vec<(String, String, i32)>)> {
    let clients = stack.clients().await;
    let clusters = pipectl::resources::cluster::list_active(&clients.emr, &format!("{pipeline}-spark")).await;
    let (id, _) = clusters.expect("ListClusters").into_iter().next()?;
    let described = clients.emr.describe_cluster().cluster_id(&id).send().await.expect("DescribeCluster");
    let cluster = described.cluster().expect("DescribeCluster returns the cluster").clone();
    let groups = clients.emr.list_instance_groups().cluster_id(&id).send().await.expect("ListInstanceGroups");
    let groups = groups
        .instance_groups()
        .iter()
        .map(|g| {
            (
                g.instance_group_type().map(|t| t.as_str().to_string()).unwrap_or_default(),
                g.name().unwrap_or_default().to_string(),
                g.requested_instance_count().unwrap_or(-1),
            )
        })
        .collect();
    Some((id, cluster, groups))
}

async fn batch_count(stack: Stack, pipeline: &str) -> i32 {
    let (_, _, groups) = held_cluster(stack, pipeline).await.expect("the cluster exists");
    groups.iter().find(|(role, name, _)| role == "TASK" && name == "batch").map_or(-1, |(_, _, count)| *count)
}

/// The EMR security configuration `name` as the emulator holds it, parsed, if it exists.
async fn security_configuration(stack: Stack, name: &str) -> Option<serde_json::Value> {
    let clients = stack.clients().await;
    let read = clients.emr.describe_security_configuration().name(name).send().await;
    let output = found(&format!("security configuration {name}"), read, not_found::EMR_SECURITY_CONFIGURATION)?;
    serde_json::from_str(output.security_configuration()?).ok()
}

fn group_id(groups_of: &aws_sdk_emr::operation::list_instance_groups::ListInstanceGroupsOutput, name: &str) -> String {
    groups_of
        .instance_groups()
        .iter()
        .find(|g| g.name() == Some(name))
        .and_then(|g| g.id())
        .unwrap_or_default()
        .to_string()
}

const EMR_TAG: (&str, &str) = ("for-use-with-amazon-emr-managed-policies", "true");

fn has_tag(tags: &[aws_sdk_ec2::types::Tag], key: &str, value: &str) -> bool {
    tags.iter().any(|t| t.key() == Some(key) && t.value() == Some(value))
}

/// The pipeline's security groups as the emulator holds them: `pipectl:resource` → group.
async fn held_groups(stack: Stack, pipeline: &str) -> Vec<(String, aws_sdk_ec2::types::SecurityGroup)> {
    let clients = stack.clients().await;
    let filter = aws_sdk_ec2::types::Filter::builder().name("tag:pipectl:pipeline").values(pipeline).build();
    let output = clients.ec2.describe_security_groups().filters(filter).send().await.expect("security groups");
    output
        .security_groups()
        .iter()
        .map(|group| {
            let resource = group
                .tags()
                .iter()
                .find(|t| t.key() == Some("pipectl:resource"))
                .and_then(|t| t.value())
                .unwrap_or_default()
                .to_string();
            (resource, group.clone())
        })
        .collect()
}

fn refused(run: Run, fragment: &str) {
    let run = run.expect(1);
    assert!(run.stderr.contains(fragment), "expected {fragment:?} in\n{}", run.stderr);
    assert!(run.stderr.contains("nothing was changed") || run.stderr.contains("Nothing was changed"), "{}", run.stderr);
}

fn cluster_lifecycle(stack: Stack) {
    require!(stack);
    let runtime = runtime();
    let scratch = Scratch::new(&format!("cluster-{}", stack.tag()));
    let mut spec = ClusterSpec {
        pipeline: unique("emr", stack),
        core_type: "m5.xlarge",
        termination_protection: false,
        hour: window_hour(),
    };
    let file = scratch.write("spec.yaml", &spec.yaml());
    let p = spec.pipeline.clone();

    // Apply: the cluster, its roles and the night-batch schedules.
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let cluster_id = assert_applied(stack, &runtime, &p);
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    let batch_id = assert_window_schedules(stack, &runtime, &p, &cluster_id, spec.hour);
    assert_scaling(stack, &runtime, &file, &p, (&cluster_id, &batch_id));

    // A new core instance type replaces the cluster, and the plan says what that costs.
    spec.core_type = "m5.2xlarge";
    let file = scratch.write("spec.yaml", &spec.yaml());
    let plan = pipectl(stack, &["plan", "-f", &file]).expect(0);
    assert!(plan.stdout.contains("# cluster/spark must be replaced"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("core.type = \"m5.xlarge\" -> \"m5.2xlarge\" # forces replacement"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("running steps end and HDFS data is lost"), "{}", plan.stdout);
    refused(pipectl(stack, &["apply", "-f", &file, "--auto-approve"]), "refusing to destroy data");

    // Termination protection: turned on in place; then replace and destroy are refused.
    spec.core_type = "m5.xlarge";
    spec.termination_protection = true;
    let file = scratch.write("spec.yaml", &spec.yaml());
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    refused(
        pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]),
        "has termination protection on",
    );
    assert!(runtime.block_on(held_cluster(stack, &p)).is_some(), "the protected cluster must survive");
    spec.termination_protection = false;
    let file = scratch.write("spec.yaml", &spec.yaml());
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    assert!(runtime.block_on(held_cluster(stack, &p)).is_none(), "the cluster is terminated");
    runtime.block_on(assert_cluster_terminated(stack, &cluster_id));
    let configuration = format!("pipectl-{p}-emr");
    assert!(runtime.block_on(security_configuration(stack, &configuration)).is_none(), "destroy deletes it");
    let left: Vec<String> = runtime.block_on(held_groups(stack, &p)).into_iter().map(|(r, _)| r).collect();
    assert!(left.is_empty(), "destroy left tagged security groups: {left:?}");
    assert!(
        runtime.block_on(held_schedule(stack, &format!("pipectl-{p}-spark-night-up"))).is_none(),
        "schedules are deleted"
    );
}

on_both_stacks!(cluster_lifecycle);

/// What apply made of the cluster: its release, roles, tags, EMR-managed groups (and the rule EMR
/// checks for), group sizes, subnet tags, instance profile and scheduler policy. Returns its id.
fn assert_applied(stack: Stack, runtime: &tokio::runtime::Runtime, p: &str) -> String {
    let (cluster_id, cluster, groups) = runtime.block_on(held_cluster(stack, p)).expect("the cluster exists");
    assert_eq!(cluster.release_label(), Some("emr-7.2.0"));
    let mut applications: Vec<&str> = cluster.applications().iter().filter_map(|a| a.name()).collect();
    applications.sort();
    assert_eq!(applications, ["Hadoop", "Spark"]);
    // By its ARN, with the pipeline's role path (RunJobFlow, `ServiceRole`: a role under a path
    // must be named with it; issue 27).
    // The account is the IAM endpoint's (LocalStack's or moto's).
    let path = format!(":role/pipectl/{p}/us-east-1/{p}-spark-emr-service-use1");
    let service_role = cluster.service_role().unwrap_or_default();
    assert!(service_role.starts_with("arn:aws:iam::") && service_role.ends_with(&path), "{service_role}");
    assert_eq!(
        cluster.ec2_instance_attributes().and_then(|a| a.iam_instance_profile()),
        Some(format!("{p}-spark-emr-ec2-use1").as_str())
    );
    assert!(cluster.tags().iter().any(|t| t.key() == Some("pipectl:pipeline") && t.value() == Some(p)));
    // The HDFS replication EMR gives four core nodes at launch, recorded as the core floor.
    assert!(cluster.tags().iter().any(|t| t.key() == Some("pipectl:hdfs-replication") && t.value() == Some("2")));
    // Launched with the pipeline's security configuration, which requires IMDSv2.
    let configuration = format!("pipectl-{p}-emr");
    assert_eq!(cluster.security_configuration(), Some(configuration.as_str()));
    let held =
        runtime.block_on(security_configuration(stack, &configuration)).expect("the security configuration exists");
    assert_eq!(held["InstanceMetadataServiceConfiguration"]["MinimumInstanceMetadataServiceVersion"], 2, "{held}");
    // AmazonEMRServicePolicy_v2 acts only on what carries its tag: the cluster and the VPC too.
    assert!(cluster.tags().iter().any(|t| t.key() == Some(EMR_TAG.0) && t.value() == Some(EMR_TAG.1)));
    let vpc_tags = runtime.block_on(async {
        let clients = stack.clients().await;
        let filter = aws_sdk_ec2::types::Filter::builder().name("tag:pipectl:pipeline").values(p).build();
        let vpcs = clients.ec2.describe_vpcs().filters(filter).send().await.expect("vpcs");
        vpcs.vpcs().first().map(|vpc| vpc.tags().to_vec()).unwrap_or_default()
    });
    assert!(has_tag(&vpc_tags, EMR_TAG.0, EMR_TAG.1), "{vpc_tags:?}");
    // The EMR-managed groups are the pipeline's, tagged for EMR, and RunJobFlow named them.
    let held = runtime.block_on(held_groups(stack, p));
    let group = |resource: &str| {
        held.iter()
            .find(|(r, _)| r == resource)
            .map(|(_, g)| g.clone())
            .unwrap_or_else(|| panic!("{resource} is not held: {:?}", held.iter().map(|(r, _)| r).collect::<Vec<_>>()))
    };
    let (master, core, service) = (
        group("security_group/spark-emr-master"),
        group("security_group/spark-emr-core"),
        group("security_group/spark-emr-service"),
    );
    for managed in [&master, &core, &service] {
        assert!(has_tag(managed.tags(), EMR_TAG.0, EMR_TAG.1), "{managed:?}");
        assert!(has_tag(managed.tags(), "pipectl:rules", "managed-by-emr"), "{managed:?}");
    }
    let attributes = cluster.ec2_instance_attributes();
    assert_eq!(attributes.and_then(|a| a.emr_managed_master_security_group()), master.group_id());
    assert_eq!(attributes.and_then(|a| a.emr_managed_slave_security_group()), core.group_id());
    assert_eq!(attributes.and_then(|a| a.service_access_security_group()), service.group_id());
    // The rule EMR checks for in a private subnet: 9443 from the primary node's group.
    assert!(
        service.ip_permissions().iter().any(|rule| rule.from_port() == Some(9443)
            && rule.user_id_group_pairs().iter().any(|pair| pair.group_id() == master.group_id())),
        "{service:?}"
    );
    let mut counts = groups.clone();
    counts.sort();
    assert_eq!(
        counts,
        [("CORE".into(), "core".into(), 4), ("MASTER".into(), "master".into(), 1), ("TASK".into(), "batch".into(), 0)]
    );
    let subnet_id = cluster.ec2_instance_attributes().and_then(|a| a.ec2_subnet_id()).unwrap_or_default().to_string();
    let (subnet_tags, scheduler_policy, profile) = runtime.block_on(async {
        let clients = stack.clients().await;
        let subnets = clients.ec2.describe_subnets().subnet_ids(&subnet_id).send().await.expect("subnet");
        let tags: Vec<(String, String)> = subnets.subnets()[0]
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
            .collect();
        let policy = clients
            .iam
            .get_role_policy()
            .role_name(format!("{p}-spark-scheduler-use1"))
            .policy_name("pipectl")
            .send()
            .await
            .expect("scheduler policy");
        let profile = clients
            .iam
            .get_instance_profile()
            .instance_profile_name(format!("{p}-spark-emr-ec2-use1"))
            .send()
            .await
            .expect("instance profile");
        (
            tags,
            pipectl::iam::parse_document(policy.policy_document()).expect("JSON"),
            profile.instance_profile().map(|i| i.roles().len()),
        )
    });
    assert!(subnet_tags.contains(&("pipectl:resource".to_string(), "subnet/private-a".to_string())), "{subnet_tags:?}");
    assert!(subnet_tags.contains(&("for-use-with-amazon-emr-managed-policies".to_string(), "true".to_string())));
    assert_eq!(profile, Some(1));
    assert_eq!(
        scheduler_policy["Statement"][0]["Action"],
        serde_json::json!(["elasticmapreduce:ModifyInstanceGroups"])
    );
    let resource = scheduler_policy["Statement"][0]["Resource"][0].as_str().unwrap_or_default().to_string();
    assert!(resource.ends_with(&format!(":cluster/{cluster_id}")), "{resource}");
    cluster_id
}

/// The spec's window is an up/down pair of schedules resizing the batch group; returns its id.
fn assert_window_schedules(
    stack: Stack,
    runtime: &tokio::runtime::Runtime,
    p: &str,
    cluster_id: &str,
    hour: u32,
) -> String {
    // The spec schedule is an up/down pair calling ModifyInstanceGroups on the batch group.
    let batch_id = runtime.block_on(async {
        group_id(
            &stack.clients().await.emr.list_instance_groups().cluster_id(cluster_id).send().await.expect("groups"),
            "batch",
        )
    });
    let up = runtime.block_on(held_schedule(stack, &format!("pipectl-{p}-spark-night-up"))).expect("up schedule");
    let down = runtime.block_on(held_schedule(stack, &format!("pipectl-{p}-spark-night-down"))).expect("down schedule");
    assert_eq!(
        (up.0.as_str(), up.1.as_str(), up.2.as_str()),
        (
            format!("cron(0 {hour} * * ? *)").as_str(),
            "Asia/Seoul",
            "arn:aws:scheduler:::aws-sdk:emr:modifyInstanceGroups"
        )
    );
    assert_eq!(
        up.3,
        serde_json::json!({"ClusterId": cluster_id, "InstanceGroups": [{"InstanceGroupId": batch_id, "InstanceCount": 20}]})
    );
    assert_eq!(down.0, format!("cron(0 {} * * ? *)", (hour + 4) % 24));
    assert_eq!(down.3["InstanceGroups"][0]["InstanceCount"], 0);

    batch_id
}

/// `scale` out and back, with and without a scale-back schedule, and every refusal.
fn assert_scaling(
    stack: Stack,
    runtime: &tokio::runtime::Runtime,
    file: &str,
    p: &str,
    (cluster_id, batch_id): (&str, &str),
) {
    // scale out for the batch: EMR holds 20, the plan calls it information, not a change.
    let run = pipectl(stack, &["scale", "--nodes", "20", "--group", "batch", "-f", file]).expect(0);
    assert!(run.stdout.contains("task group 'batch' of cluster 'spark': 0 → 20"), "{}", run.stdout);
    assert_eq!(runtime.block_on(batch_count(stack, p)), 20);
    let plan = pipectl(stack, &["plan", "-f", file, "--detailed-exitcode"]).expect(0);
    assert!(plan.stdout.contains("task group 'batch' scaled to 20 (baseline 0)"), "{}", plan.stdout);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    let reset_plan = pipectl(stack, &["plan", "-f", file, "--reset-scale", "--output", "json"]).expect(0).json();
    assert_eq!(crate::support::changed_fields(&reset_plan, "cluster/spark"), ["task.batch.nodes"]);
    pipectl(stack, &["scale", "--reset", "-f", file]).expect(0);
    assert_eq!(runtime.block_on(batch_count(stack, p)), 0);

    // --for creates a one-time scale-back schedule with the right target and input.
    let run = pipectl(stack, &["scale", "spark", "--nodes", "8", "--for", "4h", "-f", file, "--output", "json"])
        .expect(0)
        .json();
    assert_eq!((run["from"].as_i64(), run["to"].as_i64(), run["baseline"].as_i64()), (Some(0), Some(8), Some(0)));
    let back = runtime
        .block_on(held_schedule(stack, &format!("pipectl-{p}-spark-batch-scale-back")))
        .expect("scale-back schedule");
    assert!(back.0.starts_with("at(") && back.1 == "UTC", "{back:?}");
    assert_eq!(
        back.3,
        serde_json::json!({"ClusterId": cluster_id, "InstanceGroups": [{"InstanceGroupId": batch_id, "InstanceCount": 0}]})
    );
    pipectl(stack, &["scale", "--reset", "-f", file]).expect(0);
    assert!(
        runtime.block_on(held_schedule(stack, &format!("pipectl-{p}-spark-batch-scale-back"))).is_none(),
        "reset cancels the scale-back"
    );

    // The scale-back is scheduled before anything is resized: with Scheduler unreachable (the
    // proxy injects no fault into one named operation, so its endpoint is a closed port),
    // `scale --for` fails and the group stays as it was, not scaled with nothing to bring it back.
    let mut unreachable = stack.env();
    unreachable.push(("AWS_ENDPOINT_URL_SCHEDULER", "http://127.0.0.1:9".to_string()));
    let failed = run_with_env(&["scale", "--nodes", "8", "--for", "1h", "-f", file], &unreachable).expect(1);
    assert!(failed.stderr.contains("cannot connect"), "{}", failed.stderr);
    assert_eq!(runtime.block_on(batch_count(stack, p)), 0, "a failed scale-back left the group scaled");

    // Every refusal exits 1 and leaves the cluster as it was.
    refused(pipectl(stack, &["scale", "--nodes=-1", "-f", file]), "below 0");
    refused(pipectl(stack, &["scale", "--nodes", "40", "-f", file]), "above the default cap (20 = max(4 × 0, 20))");
    refused(pipectl(stack, &["scale", "--group", "core", "--nodes", "1", "-f", file]), "core nodes cannot go below 2");
    refused(pipectl(stack, &["scale", "nope", "--nodes", "2", "-f", file]), "no cluster named `nope`");
    refused(pipectl(stack, &["scale", "--group", "etl", "--nodes", "2", "-f", file]), "has no group `etl`");
    assert_eq!(runtime.block_on(batch_count(stack, p)), 0);
    assert_eq!(
        runtime
            .block_on(held_cluster(stack, p))
            .map(|(_, _, g)| g.iter().find(|(r, _, _)| r == "CORE").map(|(_, _, c)| *c)),
        Some(Some(4))
    );
}

/// A cluster with the name pipectl would use but without its tags is never resized.
#[test]
fn scale_refuses_a_cluster_it_does_not_own() {
    let stack = Stack::Moto;
    require!(stack);
    let runtime = runtime();
    let scratch = Scratch::new("cluster-foreign");
    let spec = ClusterSpec {
        pipeline: unique("emrx", stack),
        core_type: "m5.xlarge",
        termination_protection: false,
        hour: window_hour(),
    };
    let file = scratch.write("spec.yaml", &spec.yaml());
    let cluster_id = runtime.block_on(async {
        let clients = stack.clients().await;
        let group = |role: aws_sdk_emr::types::InstanceRoleType, count| {
            let name = match role {
                aws_sdk_emr::types::InstanceRoleType::Master => "master",
                aws_sdk_emr::types::InstanceRoleType::Core => "core",
                _ => "batch",
            };
            aws_sdk_emr::types::InstanceGroupConfig::builder()
                .instance_role(role)
                .instance_type("m5.xlarge")
                .instance_count(count)
                .name(name)
                .build()
        };
        let instances = aws_sdk_emr::types::JobFlowInstancesConfig::builder()
            .instance_groups(group(aws_sdk_emr::types::InstanceRoleType::Master, 1))
            .instance_groups(group(aws_sdk_emr::types::InstanceRoleType::Core, 4))
            .instance_groups(group(aws_sdk_emr::types::InstanceRoleType::Task, 0))
            .keep_job_flow_alive_when_no_steps(true)
            .build();
        let output = clients
            .emr
            .run_job_flow()
            .name(format!("{}-spark", spec.pipeline))
            .release_label("emr-7.2.0")
            .instances(instances)
            .service_role("x")
            .job_flow_role("y")
            .send()
            .await
            .expect("run job flow");
        output.job_flow_id().unwrap_or_default().to_string()
    });
    refused(pipectl(stack, &["scale", "--nodes", "20", "-f", &file]), "is not tagged as cluster/spark");
    let plan = pipectl(stack, &["plan", "-f", &file]).expect(1);
    assert!(
        plan.stderr.contains("cluster/spark already exists but it is not tagged as managed by pipectl"),
        "{}",
        plan.stderr
    );
    runtime.block_on(async {
        let clients = stack.clients().await;
        let groups = clients.emr.list_instance_groups().cluster_id(&cluster_id).send().await.expect("groups");
        let batch = groups
            .instance_groups()
            .iter()
            .find(|g| g.name() == Some("batch"))
            .and_then(|g| g.requested_instance_count());
        assert_eq!(batch, Some(0), "the foreign cluster must not be resized");
        clients.emr.terminate_job_flows().job_flow_ids(&cluster_id).send().await.expect("cleanup");
    });
}

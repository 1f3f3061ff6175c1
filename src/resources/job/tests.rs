//! The job kind's unit tests: its nodes and role, reads and writes against the SDK's mock client,
//! removal, and its deployer grants.

use std::collections::BTreeMap;

use super::*;

#[test]
fn a_fresh_role_is_recognised_by_step_functions_own_error() {
    let error =
        |code: &str, message: &str| AwsError { code: Some(code.to_string()), ..AwsError::new("x", "Op", message) };
    let states = error(
        "AccessDeniedException",
        "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.",
    );
    assert!(role_not_ready(&states));
    // The caller lacking a permission is not a role that has yet to propagate.
    let denied = error(
        "AccessDeniedException",
        "User: arn:aws:sts::1:assumed-role/ci is not authorized to perform: states:CreateStateMachine",
    );
    assert!(!role_not_ready(&denied));
}
use crate::iam::Arns;

const SPEC: &str = "version: 1\npipeline: p\nregion: eu-west-1\nbuckets: [{name: lake}]\nalarms: {notify: [{protocol: email, endpoint: a@example.com}]}\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 4}\n    task_groups: [{name: batch, type: m5.xlarge, nodes: 2}]\n    jobs:\n      - name: nightly\n        cron: '0 2 * * *'\n        timezone: Asia/Seoul\n        group: batch\n        nodes: 20\n        timeout: 3h\n        steps:\n          - {name: sessionize, script: 's3://lake/jobs/sessionize.py', args: [--day, yesterday]}\n";

/// The job's nodes, with the cluster already created as `j-ABC`.
fn desired() -> Vec<DesiredResource> {
    let spec: spec::Spec = serde_saphyr::from_str(SPEC).unwrap();
    let arns = Arns::new("123456789012", "eu-west-1");
    let known = BTreeMap::from([(super::super::cluster::id("spark"), "j-ABC".to_string())]);
    let binding = crate::model::Binding::new("123456789012", &known);
    let nodes = Job.desired(&GraphContext { spec: &spec, arns: &arns, now: chrono::Utc::now() });
    nodes.iter().map(|node| node.bind(&binding)).collect()
}

#[test]
fn a_job_is_a_state_machine_and_a_role_allowed_exactly_its_calls() {
    let nodes = desired();
    let ids: Vec<String> = nodes.iter().map(|node| node.id.to_string()).collect();
    // With everything it derives: its schedules, the queue their failures go to, and alarms.
    assert_eq!(
        ids,
        [
            "role/spark-nightly-job",
            "job/spark-nightly",
            "schedule/spark-nightly-start",
            "schedule/spark-nightly-guard",
            "queue/schedules-dlq",
            "alarm/schedules-failed-invocations",
            "alarm/spark-nightly-failed",
            "alarm/spark-nightly-timed-out"
        ]
    );
    let job = nodes[1].config::<JobConfig>().unwrap();
    assert_eq!(job.state_machine_name, "pipectl-p-spark-nightly");
    assert_eq!(job.role, "p-spark-nightly-job-euw1");
    assert_eq!(job.summary, "group batch to 20 nodes, 1 step(s), back to 2 nodes");
    assert_eq!(job.definition["States"]["ScaleOut"]["Parameters"]["ClusterId"], "j-ABC");
    assert_eq!(
        job.definition["States"]["Step-1-sessionize"]["Parameters"]["Step"]["HadoopJarStep"]["Args"],
        json!([
            "spark-submit",
            "--conf",
            "spark.yarn.tags=pipectl-p-spark-nightly",
            "s3://lake/jobs/sessionize.py",
            "--day",
            "yesterday"
        ])
    );
    let depends_on: Vec<String> = nodes[1].depends_on.iter().map(ToString::to_string).collect();
    assert_eq!(depends_on, ["cluster/spark", "role/spark-nightly-job", "topic/alarms"]);
    let role = nodes[0].config::<role::RoleConfig>().unwrap();
    assert_eq!(role.trust["Statement"][0]["Principal"]["Service"], json!(["states.amazonaws.com"]));
    let statements = role.inline.as_ref().unwrap()["Statement"].as_array().unwrap().clone();
    assert_eq!(statements[0]["Resource"], json!(["arn:aws:elasticmapreduce:eu-west-1:123456789012:cluster/j-ABC"]));
    assert_eq!(
        statements[1]["Resource"],
        json!(["arn:aws:events:eu-west-1:123456789012:rule/StepFunctionsGetEventForEMRAddJobFlowStepsRule"])
    );
    assert_eq!(statements[2]["Resource"], json!(["arn:aws:sns:eu-west-1:123456789012:pipectl-p-alarms"]));
    assert_eq!(statements.len(), 3);
}

#[test]
fn a_job_on_a_glue_catalog_cluster_registers_its_tables_partitions_and_may_call_only_that() {
    let with_catalog = SPEC
        .replace("buckets: [{name: lake}]\n", "buckets: [{name: lake}]\ncatalog:\n  tables:\n    - {name: events, location: {bucket: lake, prefix: 'raw/events/!{timestamp:yyyy/MM/dd}/'}, columns: [{name: id, type: string}]}\n    - {name: static, location: {bucket: lake, prefix: 'ref/'}, columns: [{name: id, type: string}]}\n")
        .replace("    subnet: a\n", "    subnet: a\n    use_glue_catalog: true\n");
    let spec: spec::Spec = serde_saphyr::from_str(&with_catalog).unwrap();
    let tables = read_tables(&spec, &spec.clusters[0]);
    // Only the projected table; its folders are the projection's template around the value.
    assert_eq!(
        tables,
        [TablePartitions {
            database: "p".to_string(),
            table: "events".to_string(),
            pictures: vec!["[Y0001]/[M01]/[D01]".to_string()],
            hourly: false,
            location: vec!["s3://lake/raw/events/".to_string(), "/".to_string()],
        }]
    );
    let arns = Arns::new("123456789012", "eu-west-1");
    let graph = GraphContext { spec: &spec, arns: &arns, now: chrono::Utc::now() };
    let plan = plan(&graph, &spec.clusters[0], &spec.clusters[0].jobs[0]);
    let policy = job_policy(&graph, &spec.clusters[0], &plan);
    let glue = policy["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == "RegisterPartitions").unwrap();
    assert_eq!(glue["Action"], json!(["glue:BatchCreatePartition", "glue:GetTable"]));
    assert_eq!(
        glue["Resource"],
        json!([
            "arn:aws:glue:eu-west-1:123456789012:catalog",
            "arn:aws:glue:eu-west-1:123456789012:database/p",
            "arn:aws:glue:eu-west-1:123456789012:table/p/events"
        ])
    );
    assert_eq!(plan.definition()["States"]["Start"]["Default"], "ReadTable-1");
    // Without the Glue catalog Spark does not see the tables: nothing to register.
    let without: spec::Spec =
        serde_saphyr::from_str(&with_catalog.replace("    use_glue_catalog: true\n", "")).unwrap();
    assert!(read_tables(&without, &without.clusters[0]).is_empty());
}

#[test]
fn a_removed_job_finds_its_own_record_and_group_in_its_definition() {
    let nodes = desired();
    let job = nodes[1].config::<JobConfig>().unwrap();
    assert_eq!(
        recorded_scale(&job.definition),
        Some((
            "j-ABC".to_string(),
            "batch".to_string(),
            2,
            "pipectl:scale:batch".to_string(),
            "nodes=20 baseline=2 job=spark/nightly".to_string()
        ))
    );
    // The guard schedule is what the job relies on: it is deleted after the job.
    let live = Live { definition: job.definition.clone(), role_arn: String::new() };
    let guard = crate::resources::schedule::id("spark-nightly-guard");
    let held = Live { definition: Value::Null, role_arn: String::new() };
    let resources =
        BTreeMap::from([(guard.clone(), LiveResource::new(guard, "pipectl-p-spark-nightly-guard", Tags::new(), held))]);
    let names = Names::of(&resources);
    let (_, depends_on) = live.describe(ARN, &names);
    assert_eq!(depends_on, [crate::resources::schedule::id("spark-nightly-guard")]);
    assert_eq!(recorded_scale(&Value::Null), None);
}

/// A Step Functions client answering from `rules`, in order (built by hand, like the SNS
/// one of `topic`'s tests).
fn sfn_client(rules: &[&aws_smithy_mocks::Rule]) -> aws_sdk_sfn::Client {
    crate::resources::test_support::mock_sdk_client!(
        aws_sdk_sfn,
        "eu-west-1",
        aws_smithy_mocks::RuleMode::Sequential,
        rules
    )
}

fn context(sfn: aws_sdk_sfn::Client) -> Context {
    let mut clients = super::super::test_support::clients();
    clients.sfn = sfn;
    let state = crate::model::LiveState { account_id: "123456789012".to_string(), ..Default::default() };
    super::super::test_support::context(clients, std::time::Duration::from_secs(5), &state)
}

const ARN: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:pipectl-p-spark-nightly";

/// Step Functions' JSON 1.0 error for `code` (HTTP 400).
fn sfn_error(code: &str, message: &str) -> aws_smithy_runtime_api::http::Response {
    let body = json!({"__type": code, "message": message}).to_string();
    aws_smithy_runtime_api::http::Response::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
        aws_smithy_types::body::SdkBody::from(body),
    )
}

#[tokio::test]
async fn deleting_a_job_stops_its_running_runs_first() {
    use aws_sdk_sfn::operation::{
        delete_state_machine::DeleteStateMachineOutput, list_executions::ListExecutionsOutput,
        stop_execution::StopExecutionOutput,
    };
    use aws_sdk_sfn::Client;
    use aws_smithy_mocks::mock;
    let running = mock!(Client::list_executions)
        .match_requests(|request| {
            request.state_machine_arn() == Some(ARN)
                && request.status_filter() == Some(&aws_sdk_sfn::types::ExecutionStatus::Running)
        })
        .then_output(|| {
            let run = aws_sdk_sfn::types::ExecutionListItem::builder()
                .execution_arn(format!("{}:night-1", ARN.replace(":stateMachine:", ":execution:")))
                .state_machine_arn(ARN)
                .name("night-1")
                .status(aws_sdk_sfn::types::ExecutionStatus::Running)
                .start_date(aws_smithy_types::DateTime::from_secs(1_796_000_000))
                .build()
                .unwrap();
            ListExecutionsOutput::builder().executions(run).build().unwrap()
        });
    let stop = mock!(Client::stop_execution)
        .match_requests(|request| request.execution_arn().is_some_and(|arn| arn.ends_with(":night-1")))
        .then_output(|| {
            StopExecutionOutput::builder()
                .stop_date(aws_smithy_types::DateTime::from_secs(1_796_000_100))
                .build()
                .unwrap()
        });
    let delete = mock!(Client::delete_state_machine)
        .match_requests(|request| request.state_machine_arn() == Some(ARN))
        .then_output(|| DeleteStateMachineOutput::builder().build());
    let ctx = context(sfn_client(&[&running, &stop, &delete]));
    let detail = Live { definition: Value::Null, role_arn: String::new() };
    let live = LiveResource::new(id("spark", "nightly"), ARN, Tags::new(), detail.clone());
    Job.delete(&ctx, &live, &detail).await.unwrap();
    assert_eq!((running.num_calls(), stop.num_calls(), delete.num_calls()), (1, 1, 1));
}

#[tokio::test]
async fn a_create_waits_while_a_state_machine_of_that_name_is_being_deleted() {
    use aws_sdk_sfn::operation::create_state_machine::CreateStateMachineOutput;
    use aws_sdk_sfn::Client;
    use aws_smithy_mocks::mock;
    let deleting = mock!(Client::create_state_machine).then_http_response(|| {
        sfn_error("StateMachineDeleting", "State machine arn:…:pipectl-p-spark-nightly is being deleted")
    });
    let created = mock!(Client::create_state_machine)
        .match_requests(|request| {
            request.name() == Some("pipectl-p-spark-nightly")
                && request.role_arn().is_some_and(|role| role.ends_with("/p-spark-nightly-job-euw1"))
                && request.tags().iter().any(|tag| tag.key() == Some("pipectl:resource"))
        })
        .then_output(|| {
            CreateStateMachineOutput::builder()
                .state_machine_arn(ARN)
                .creation_date(aws_smithy_types::DateTime::from_secs(1_796_000_000))
                .build()
                .unwrap()
        });
    let ctx = context(sfn_client(&[&deleting, &created]));
    let nodes = desired();
    let config = nodes[1].config::<JobConfig>().unwrap();
    assert_eq!(Job.create(&ctx, &nodes[1], config).await.unwrap(), ARN);
    assert_eq!((deleting.num_calls(), created.num_calls()), (1, 1));
}

#[test]
fn the_live_definition_reads_back_as_the_same_attributes() {
    let nodes = desired();
    let job = nodes[1].config::<JobConfig>().unwrap();
    // AWS returns the definition as it was sent, formatting aside.
    let sent = serde_json::to_string_pretty(&job.definition).unwrap();
    let live = Live {
        definition: serde_json::from_str(&sent).unwrap(),
        role_arn: "arn:aws:iam::123456789012:role/pipectl/p/eu-west-1/p-spark-nightly-job-euw1".to_string(),
    };
    let (attributes, _) = live.describe("arn", &Names::default());
    let desired = job.attributes();
    for field in ["definition", "role", "runs"] {
        assert_eq!(attributes[field], desired[field], "{field}");
    }
}

#[test]
fn jobs_are_changed_by_exact_name_read_by_prefix_and_run_with_their_role_passed_to_step_functions() {
    use crate::iam::deployer::Purpose;
    use crate::resources::test_support::{assert_granted, granted, sids_allowing, statement};
    let spec: spec::Spec = serde_saphyr::from_str(SPEC).unwrap();
    assert_granted(
        &Job,
        &spec,
        &[
            ("states:ListStateMachines", &["ReadWhatCannotBeScoped"]),
            ("states:ListExecutions", &["ReadJobs"]),
            ("states:GetExecutionHistory", &["ReadJobRuns"]),
            ("states:StopExecution", &["StopJobRuns", "StopRunsOfJobsTheSpecDropped"]),
            ("states:DescribeExecution", &["ReadJobRuns"]),
            ("elasticmapreduce:ModifyInstanceGroups", &["ReturnGroupsOfStoppedRuns"]),
            ("elasticmapreduce:AddJobFlowSteps", &["ReturnGroupsOfStoppedRuns"]),
            ("states:StartExecution", &["ChangeJobs"]),
            ("states:DeleteStateMachine", &["ChangeJobs", "OwnJobsTheSpecDropped"]),
            ("iam:PassRole", &["PassJobRolesToStepFunctions"]),
        ],
    );
    let all = granted(&Job, &spec, Purpose::Everything);
    let states = |resource: &str| serde_json::json!([format!("arn:aws:states:eu-west-1:123456789012:{resource}")]);
    assert_eq!(statement(&all, "ChangeJobs")["Resource"], states("stateMachine:pipectl-p-spark-nightly"));
    assert_eq!(statement(&all, "OwnJobsTheSpecDropped")["Resource"], states("stateMachine:pipectl-p-*"));
    assert_eq!(
        statement(&all, "OwnJobsTheSpecDropped")["Condition"]["StringEquals"]["aws:ResourceTag/pipectl:pipeline"],
        "p"
    );
    assert_eq!(statement(&all, "StopJobRuns")["Resource"], states("execution:pipectl-p-spark-nightly:*"));
    let dropped = statement(&all, "StopRunsOfJobsTheSpecDropped");
    assert_eq!(dropped["Resource"], states("execution:pipectl-p-*:*"));
    assert_eq!(dropped["Condition"]["StringEquals"]["aws:ResourceTag/pipectl:pipeline"], "p");
    let pass = statement(&all, "PassJobRolesToStepFunctions");
    assert_eq!(
        pass["Resource"],
        serde_json::json!(["arn:aws:iam::123456789012:role/pipectl/p/eu-west-1/p-spark-nightly-job-euw1"])
    );
    assert_eq!(pass["Condition"]["StringEquals"]["iam:PassedToService"], "states.amazonaws.com");
    assert!(sids_allowing(&granted(&Job, &spec, Purpose::Plan), "states:StartExecution").is_empty());
}

/// An EMR client answering for cluster `j-ABC` in `state` whose group `batch` asks for 20 nodes,
/// tagged `pipectl:scale:batch` = `record`, and counting the calls that would change it.
fn emr_with(
    state: aws_sdk_emr::types::ClusterState,
    record: &str,
) -> (aws_sdk_emr::Client, [aws_smithy_mocks::Rule; 3]) {
    use aws_sdk_emr::operation::{
        add_job_flow_steps::AddJobFlowStepsOutput, describe_cluster::DescribeClusterOutput,
        list_instance_groups::ListInstanceGroupsOutput, modify_instance_groups::ModifyInstanceGroupsOutput,
        remove_tags::RemoveTagsOutput,
    };
    use aws_sdk_emr::types::{Cluster, ClusterStatus, InstanceGroup, InstanceGroupType, Tag as EmrTag};
    use aws_sdk_emr::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    let record = record.to_string();
    let describe = mock!(Client::describe_cluster).then_output(move || {
        let cluster = Cluster::builder()
            .id("j-ABC")
            .status(ClusterStatus::builder().state(state.clone()).build())
            .tags(EmrTag::builder().key("pipectl:scale:batch").value(&record).build())
            .build();
        DescribeClusterOutput::builder().cluster(cluster).build()
    });
    let groups = mock!(Client::list_instance_groups).then_output(|| {
        let group = InstanceGroup::builder()
            .id("ig-BATCH")
            .name("batch")
            .instance_group_type(InstanceGroupType::Task)
            .requested_instance_count(20)
            .build();
        ListInstanceGroupsOutput::builder().instance_groups(group).build()
    });
    let kill = mock!(Client::add_job_flow_steps)
        .match_requests(|request| {
            request.job_flow_id() == Some("j-ABC")
                && request.steps().first().and_then(|step| step.hadoop_jar_step()).is_some_and(|jar| {
                    jar.args().get(2).is_some_and(|script| script.contains("-appTags pipectl-p-spark-nightly "))
                })
        })
        .then_output(|| AddJobFlowStepsOutput::builder().build());
    let resize = mock!(Client::modify_instance_groups)
        .match_requests(|request| {
            request
                .instance_groups()
                .first()
                .is_some_and(|group| group.instance_group_id() == Some("ig-BATCH") && group.instance_count() == Some(2))
        })
        .then_output(|| ModifyInstanceGroupsOutput::builder().build());
    let forget = mock!(Client::remove_tags)
        .match_requests(|request| request.tag_keys() == ["pipectl:scale:batch"])
        .then_output(|| RemoveTagsOutput::builder().build());
    let client = mock_client!(aws_sdk_emr, RuleMode::MatchAny, [&describe, &groups, &kill, &resize, &forget]);
    (client, [kill, resize, forget])
}

#[tokio::test]
async fn a_removed_jobs_group_is_returned_only_from_its_own_record_on_a_cluster_that_accepts_resizes() {
    use aws_sdk_emr::types::ClusterState;
    let nodes = desired();
    let definition = nodes[1].config::<JobConfig>().unwrap().definition.clone();
    let own = "nodes=20 baseline=2 job=spark/nightly";
    for (state, record, calls) in [
        // A run of the job was stopped mid-way: kill its applications, resize back, forget.
        (ClusterState::Waiting, own, 1),
        // Someone scaled the group by hand: not the job's to undo.
        (ClusterState::Waiting, "nodes=20 baseline=2", 0),
        // EMR resizes only RUNNING or WAITING clusters.
        (ClusterState::Terminating, own, 0),
    ] {
        let (emr, [kill, resize, forget]) = emr_with(state.clone(), record);
        let mut clients = super::super::test_support::clients();
        clients.emr = emr;
        let live_state = crate::model::LiveState { account_id: "123456789012".to_string(), ..Default::default() };
        let ctx = super::super::test_support::context(clients, std::time::Duration::from_secs(5), &live_state);
        let returned = return_group(&ctx.clients, &ctx.progress, &id("spark", "nightly"), &definition).await.unwrap();
        let made = (kill.num_calls(), resize.num_calls(), forget.num_calls());
        assert_eq!(made, (calls, calls, calls), "{state:?} {record}");
        assert_eq!(
            returned.map(|returned| (returned.group, returned.resized)),
            (calls == 1).then(|| ("batch".to_string(), true))
        );
    }
}

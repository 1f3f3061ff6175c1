//! A cluster's night batch declared as a job, on both stacks (EMR and Scheduler on moto; Step
//! Functions on moto, or LocalStack's own in the LocalStack stack): apply creates the state
//! machine with the resize → steps → resize-back definition, its role, the `start` schedule
//! targeting the state machine and the `guard` schedule returning the group to its baseline,
//! read back with the SDK; the plan converges; a step edit is an in-place update; `pipectl run`
//! starts an execution (after its own one-time guard schedule) and `pipectl runs` lists it;
//! destroy leaves no state machine or schedule, the run's pending guard included.
//!
//! Neither emulator runs the EMR integrations: moto keeps an execution RUNNING and does not
//! interpret the definition; LocalStack interprets it but has no EMR ("Unknown service
//! 'elasticmapreduce'"), so its run fails at the scale-out, where the test stops (the resize-back
//! after a failure comes after minutes of retries: `resources::job::definition`'s unit tests walk
//! every path to it).

use serde_json::Value;

use crate::support::{
    changed_fields, found, held_schedule, not_found, pipectl, plan_actions, runtime, unique, Scratch, Stack,
};

/// The hour (UTC) of the job's cron: twelve hours from now, so that `pipectl run` now never
/// collides with the job's own window (it would be refused, rightly).
fn job_hour() -> u32 {
    use chrono::Timelike;
    (chrono::Utc::now().hour() + 12) % 24
}

/// The test spec, its job at `hour` (UTC): read once per test with `job_hour`, so that the spec
/// and what the test expects of the schedules agree across an hour boundary.
fn spec(pipeline: &str, second_step: &str, hour: u32) -> String {
    format!(
        "version: 1
pipeline: {pipeline}
region: us-east-1
network:
  vpc: {{cidr: 10.61.0.0/16}}
  subnets: [{{name: private-a, cidr: 10.61.1.0/24, availability_zone: us-east-1a}}]
  endpoints: [s3]
buckets:
  - name: {pipeline}-lake
alarms:
  notify: [{{protocol: email, endpoint: oncall@example.com}}]
clusters:
  - name: spark
    release: emr-7.2.0
    applications: [Spark]
    subnet: private-a
    master: {{type: m5.xlarge}}
    core: {{type: m5.xlarge, nodes: 2}}
    task_groups: [{{name: batch, type: m5.2xlarge, nodes: 1}}]
    jobs:
      - name: nightly
        cron: '0 {hour} * * *'
        timezone: UTC
        group: batch
        nodes: 8
        timeout: 3h
        steps:
          - {{name: sessionize, script: 's3://{pipeline}-lake/jobs/sessionize.py', args: [--day, yesterday]}}
          - {{name: {second_step}, script: 's3://{pipeline}-lake/jobs/rollup.py'}}
"
    )
}

/// The state machine's definition and role ARN, and its tags; `None` when Step Functions says
/// there is none (`StateMachineDoesNotExist`).
async fn held_state_machine(stack: Stack, arn: &str) -> Option<(Value, String, Vec<(String, String)>)> {
    let clients = stack.clients().await;
    let read = clients.sfn.describe_state_machine().state_machine_arn(arn).send().await;
    let described = found(&format!("state machine {arn}"), read, not_found::STATE_MACHINE)?;
    let tags = clients.sfn.list_tags_for_resource().resource_arn(arn).send().await.expect("state machine tags");
    let mut tags: Vec<(String, String)> = tags
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
        .collect();
    tags.sort();
    Some((serde_json::from_str(described.definition()).expect("JSON"), described.role_arn().to_string(), tags))
}

fn job_lifecycle(stack: Stack) {
    require!(stack);
    let p = unique("job", stack);
    let scratch = Scratch::new(&format!("jobs-{}", stack.tag()));
    let hour = job_hour();
    let file = scratch.write("jobs.yaml", &spec(&p, "rollup", hour));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    // The window rule `run` follows holds for `scale` too: a scale-back inside the job's window
    // is refused before any AWS call, and nothing is scaled.
    let until = format!("{hour:02}:30");
    let into = pipectl(stack, &["scale", "--nodes", "4", "--until", &until, "-f", &file]).expect(1);
    assert!(into.stderr.contains("into job 'nightly' (from "), "{}", into.stderr);

    let runtime = runtime();
    let account = runtime.block_on(async {
        let clients = stack.clients().await;
        let identity = clients.sts.get_caller_identity().send().await.expect("identity");
        identity.account().expect("account").to_string()
    });
    let machine = format!("arn:aws:states:us-east-1:{account}:stateMachine:pipectl-{p}-spark-nightly");
    let (definition, role, tags) = runtime.block_on(held_state_machine(stack, &machine)).expect("the state machine");
    assert!(role.ends_with(&format!("/{p}-spark-nightly-job-use1")), "{role}");
    assert!(tags.contains(&("pipectl:pipeline".to_string(), p.clone())), "{tags:?}");
    assert!(tags.contains(&("pipectl:resource".to_string(), "job/spark-nightly".to_string())), "{tags:?}");
    let states = &definition["States"];
    // Resize out, two steps in order, resize back; the cluster is the real one.
    let cluster_id = states["ScaleOut"]["Parameters"]["ClusterId"].as_str().expect("a cluster id").to_string();
    assert!(cluster_id.starts_with("j-"), "{cluster_id}");
    assert_eq!(states["ScaleOut"]["Parameters"]["InstanceGroup"]["InstanceCount"], 8);
    assert_eq!(states["ScaleOut"]["Parameters"]["InstanceGroupName"], "batch");
    assert_eq!(states["ScaleOut"]["Next"], "Step-1-sessionize");
    assert_eq!(states["Step-1-sessionize"]["Next"], "Step-2-rollup");
    assert_eq!(
        states["Step-1-sessionize"]["Parameters"]["Step"]["HadoopJarStep"]["Args"],
        serde_json::json!(["spark-submit", format!("s3://{p}-lake/jobs/sessionize.py"), "--day", "yesterday"])
    );
    assert_eq!(states["Step-2-rollup"]["Next"], "ScaleBack");
    assert_eq!(states["ScaleBack"]["Parameters"]["InstanceGroup"]["InstanceCount"], 1);
    assert_eq!(states["Step-1-sessionize"]["Catch"][0]["Next"], "ScaleBackAfterFailure");
    assert_eq!(states["ScaleBackAfterFailure"]["Parameters"]["InstanceGroup"]["InstanceCount"], 1);
    assert_eq!(
        states["NotifyFailure"]["Parameters"]["TopicArn"],
        format!("arn:aws:sns:us-east-1:{account}:pipectl-{p}-alarms")
    );

    // `start` targets the state machine at the job's cron; `guard` returns the group 3h + 15m
    // later, whatever became of the run.
    let (expression, zone, target, _) =
        runtime.block_on(held_schedule(stack, &format!("pipectl-{p}-spark-nightly-start"))).expect("start schedule");
    assert_eq!(
        (expression, zone.as_str(), target.as_str()),
        (format!("cron(0 {hour} * * ? *)"), "UTC", machine.as_str())
    );
    let (expression, _, target, input) =
        runtime.block_on(held_schedule(stack, &format!("pipectl-{p}-spark-nightly-guard"))).expect("guard schedule");
    assert_eq!(expression, format!("cron(15 {} * * ? *)", (hour + 3) % 24));
    assert!(target.ends_with(":aws-sdk:emr:modifyInstanceGroups"), "{target}");
    assert_eq!(input["ClusterId"], cluster_id.as_str());
    assert_eq!(input["InstanceGroups"][0]["InstanceCount"], 1);

    // Watched: runs that fail or time out as a whole raise alarms on the state machine's metrics.
    let watched = runtime.block_on(job_alarm_metrics(stack, &p));
    assert_eq!(
        watched,
        [
            ("AWS/States".to_string(), "ExecutionsFailed".to_string(), machine.clone()),
            ("AWS/States".to_string(), "ExecutionsTimedOut".to_string(), machine.clone())
        ]
    );

    // Converged; a step renamed is an in-place update of the state machine.
    let plan = pipectl(stack, &["plan", "-f", &file, "--output", "json", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    let edited = scratch.write("jobs.yaml", &spec(&p, "daily-rollup", hour));
    let plan = pipectl(stack, &["plan", "-f", &edited, "--output", "json"]).expect(0).json();
    assert_eq!(plan_actions(&plan), [("job/spark-nightly".to_string(), "update".to_string())]);
    assert!(changed_fields(&plan, "job/spark-nightly").iter().any(|f| f.starts_with("definition")));
    pipectl(stack, &["apply", "-f", &edited, "--auto-approve"]).expect(0);
    let (definition, _, _) = runtime.block_on(held_state_machine(stack, &machine)).expect("the state machine");
    assert_eq!(definition["States"]["Step-1-sessionize"]["Next"], "Step-2-daily-rollup");

    // `run` starts the same state machine; `runs` lists the execution.
    let started = pipectl(stack, &["run", "nightly", "-f", &edited, "--output", "json"]).expect(0).json();
    let execution = started["execution_arn"].as_str().expect("an execution").to_string();
    assert!(execution.contains(&format!(":execution:pipectl-{p}-spark-nightly:")), "{execution}");
    // The run by hand has its own guard: a one-time resize back to the baseline.
    let (expression, _, target, input) = runtime
        .block_on(held_schedule(stack, &format!("pipectl-{p}-spark-nightly-run-guard")))
        .expect("the run's guard schedule");
    assert!(expression.starts_with("at("), "{expression}");
    assert!(target.ends_with(":aws-sdk:emr:modifyInstanceGroups"), "{target}");
    assert_eq!(input["ClusterId"], cluster_id.as_str());
    assert_eq!(input["InstanceGroups"][0]["InstanceCount"], 1);
    let runs = pipectl(stack, &["runs", "-f", &edited, "--output", "json"]).expect(0).json();
    let listed = runs.as_array().expect("runs");
    assert_eq!(listed.len(), 1, "{runs}");
    assert_eq!(listed[0]["job"], "spark/nightly");
    assert!(execution.ends_with(listed[0]["execution"].as_str().unwrap()), "{runs}");
    if stack == Stack::LocalStack {
        // LocalStack interprets the definition, but has no EMR: the size record (bookkeeping,
        // its failure ignored) and then the scale-out fail; Step Functions retries the
        // scale-out for minutes before the failure leads to the resize-back (the path the unit
        // tests walk, and one seen by hand), so the test stops at the scale-out's failure.
        let (entered, failures) = runtime.block_on(async {
            let clients = stack.clients().await;
            for _ in 0..50 {
                let history =
                    clients.sfn.get_execution_history().execution_arn(&execution).send().await.expect("history");
                let entered: Vec<String> = history
                    .events()
                    .iter()
                    .filter_map(|e| e.state_entered_event_details().map(|d| d.name().to_string()))
                    .collect();
                let failures = history.events().iter().filter(|e| e.task_failed_event_details().is_some()).count();
                if failures >= 2 {
                    return (entered, failures);
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            (Vec::new(), 0)
        });
        assert_eq!(entered, ["RecordScale", "ScaleOut"], "{entered:?}");
        assert!(failures >= 2, "the record and the scale-out did not fail on an emulator without EMR");
    }
    // While it runs, another run of a job on that group is refused: the first to end would
    // resize the group under the other.
    let again = pipectl(stack, &["run", "nightly", "-f", &edited]).expect(1);
    assert!(again.stderr.contains("job spark/nightly is running on group batch"), "{}", again.stderr);
    // So is `scale` on that group, unless forced (with a warning on stderr).
    let busy = pipectl(stack, &["scale", "--nodes", "4", "-f", &edited]).expect(1);
    assert!(busy.stderr.contains("job spark/nightly is running on task group 'batch'"), "{}", busy.stderr);
    let forced = pipectl(stack, &["scale", "--nodes", "4", "--force", "-f", &edited]).expect(0);
    assert!(forced.stderr.contains("warning: --force: job spark/nightly is running"), "{}", forced.stderr);
    // The run is still going (moto keeps it RUNNING; LocalStack retries the scale-out): destroy
    // stops it before it deletes the state machine, which on AWS would otherwise stay DELETING
    // until the run ends.
    let destroyed = pipectl(stack, &["destroy", "-f", &edited, "--auto-approve", "--allow-destroy", "-v"]).expect(0);
    assert!(destroyed.stderr.contains("sfn:StopExecution 1"), "{}", destroyed.stderr);
    assert!(runtime.block_on(held_state_machine(stack, &machine)).is_none(), "the state machine is left");
    // The run's pending guard goes with the cluster it would resize.
    for edge in ["start", "guard", "run-guard"] {
        let name = format!("pipectl-{p}-spark-nightly-{edge}");
        assert!(runtime.block_on(held_schedule(stack, &name)).is_none(), "{name} is left");
    }
}

on_both_stacks!(job_lifecycle);

/// (namespace, metric, dimension) of the alarms on job `nightly` of pipeline `p`, sorted.
async fn job_alarm_metrics(stack: Stack, p: &str) -> Vec<(String, String, String)> {
    let clients = stack.clients().await;
    let prefix = format!("pipectl-{p}-spark-nightly-");
    let found = clients.cloudwatch.describe_alarms().alarm_name_prefix(&prefix).send().await.expect("alarms");
    let mut watched: Vec<(String, String, String)> = found
        .metric_alarms()
        .iter()
        .map(|alarm| {
            let dimension = alarm.dimensions().first().map(|d| d.value().unwrap_or_default().to_string());
            (
                alarm.namespace().unwrap_or_default().to_string(),
                alarm.metric_name().unwrap_or_default().to_string(),
                dimension.unwrap_or_default(),
            )
        })
        .collect();
    watched.sort();
    watched
}

/// `run` of a job the spec does not have names the ones it has, before any AWS call.
#[test]
fn an_unknown_job_is_refused_with_the_jobs_the_spec_has() {
    let scratch = Scratch::new("jobs-unknown");
    let file = scratch.write("jobs.yaml", &spec("job-unknown", "rollup", job_hour()));
    // An endpoint where nothing listens: a call would fail with "cannot connect".
    let env = [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
    ];
    let run = crate::support::run_with_env(&["run", "weekly", "-f", &file], &env);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("no job `weekly` in the spec; its jobs are: spark/nightly"), "{}", run.stderr);
    assert!(!run.stderr.contains("connect"), "{}", run.stderr);
}

//! A cluster's night batch declared as a job, on both stacks (EMR and Scheduler on moto; Step
//! Functions on moto, or LocalStack's own in the LocalStack stack): apply creates the state
//! machine with the resize → steps → resize-back definition, its role, the `start` schedule
//! targeting the state machine and the `guard` schedule returning the group to its baseline,
//! read back with the SDK; the plan converges; a step edit is an in-place update; `pipectl run`
//! starts an execution (after its own one-time guard schedule) and `pipectl runs` lists it;
//! destroy leaves no state machine or schedule, the run's pending guard included. `run --attach`
//! follows a run to its end and `run --stop` ends one through the job's own scale-back.
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

/// The job's state machine as the emulator holds it: resize out on the real cluster, the steps
/// in order (each tagging its YARN application), resize back; a failed step has its applications
/// killed first; the guard path checks before it resizes; failures go to the pipeline's topic.
fn check_the_definition(definition: &serde_json::Value, p: &str, account: &str) {
    let states = &definition["States"];
    // Resize out, two steps in order, resize back; the cluster is the real one.
    let cluster_id = states["ScaleOut"]["Parameters"]["ClusterId"].as_str().expect("a cluster id").to_string();
    assert!(cluster_id.starts_with("j-"), "{cluster_id}");
    assert_eq!(states["ScaleOut"]["Parameters"]["InstanceGroup"]["InstanceCount"], 8);
    assert_eq!(states["ScaleOut"]["Parameters"]["InstanceGroupName"], "batch");
    assert_eq!(states["ScaleOut"]["Next"], "Step-1-sessionize");
    assert_eq!(states["Step-1-sessionize"]["Next"], "Step-2-rollup");
    // Each step tags its YARN application; one that fails or times out has it killed first.
    let tag = format!("spark.yarn.tags=pipectl-{p}-spark-nightly");
    assert_eq!(
        states["Step-1-sessionize"]["Parameters"]["Step"]["HadoopJarStep"]["Args"],
        serde_json::json!([
            "spark-submit",
            "--conf",
            tag,
            format!("s3://{p}-lake/jobs/sessionize.py"),
            "--day",
            "yesterday"
        ])
    );
    assert_eq!(states["Step-2-rollup"]["Next"], "ScaleBack");
    assert_eq!(states["ScaleBack"]["Parameters"]["InstanceGroup"]["InstanceCount"], 1);
    assert_eq!(states["Step-1-sessionize"]["Catch"][0]["Next"], "KillApplications");
    let kill = states["KillApplications"]["Parameters"]["Step"]["HadoopJarStep"]["Args"][2].as_str().unwrap();
    assert!(kill.contains(&format!("-appTags pipectl-{p}-spark-nightly ")), "{kill}");
    assert_eq!(states["KillApplications"]["Next"], "ScaleBackAfterFailure");
    // The guard path checks before it resizes (the emulator stored the JSONata states as sent).
    assert_eq!(definition["StartAt"], "Start");
    assert_eq!(states["Start"]["Choices"][0]["Next"], "GuardReadCluster");
    assert_eq!(states["GuardReadCluster"]["Resource"], "arn:aws:states:::aws-sdk:emr:describeCluster");
    assert_eq!(states["GuardGroupAtBaseline"]["Choices"][0]["Condition"], "{% $states.input.requested = 1 %}");
    assert_eq!(states["ScaleBackAfterFailure"]["Parameters"]["InstanceGroup"]["InstanceCount"], 1);
    assert_eq!(
        states["NotifyFailure"]["Parameters"]["TopicArn"],
        format!("arn:aws:sns:us-east-1:{account}:pipectl-{p}-alarms")
    );
}

/// LocalStack interprets the definition, but has no EMR: the size record (bookkeeping, its
/// failure ignored) and then the scale-out fail; Step Functions retries the scale-out for minutes
/// before the failure leads to the resize-back (the path the unit tests walk, and one seen by
/// hand), so the test stops at the scale-out's failure.
fn localstack_stops_at_the_scale_out(stack: Stack, runtime: &tokio::runtime::Runtime, execution: &str) {
    let (entered, failures) = runtime.block_on(async {
        let clients = stack.clients().await;
        for _ in 0..50 {
            let history = clients.sfn.get_execution_history().execution_arn(execution).send().await.expect("history");
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
    assert_eq!(entered, ["Start", "RecordScale", "ScaleOut"], "{entered:?}");
    assert!(failures >= 2, "the record and the scale-out did not fail on an emulator without EMR");
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
    check_the_definition(&definition, &p, &account);

    // `start` targets the state machine at the job's cron; `guard` starts it down its guard path
    // 3h + 15m later, whatever became of the run.
    let (expression, zone, target, _) =
        runtime.block_on(held_schedule(stack, &format!("pipectl-{p}-spark-nightly-start"))).expect("start schedule");
    assert_eq!(
        (expression, zone.as_str(), target.as_str()),
        (format!("cron(0 {hour} * * ? *)"), "UTC", machine.as_str())
    );
    let (expression, _, target, input) =
        runtime.block_on(held_schedule(stack, &format!("pipectl-{p}-spark-nightly-guard"))).expect("guard schedule");
    assert_eq!(expression, format!("cron(15 {} * * ? *)", (hour + 3) % 24));
    assert_eq!((target.as_str(), input), (machine.as_str(), serde_json::json!({"guard": true})));

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
    // The run by hand has its own guard: a one-time start of the job down its guard path, which
    // resizes only a running cluster's group still above its baseline.
    let (expression, _, target, input) = runtime
        .block_on(held_schedule(stack, &format!("pipectl-{p}-spark-nightly-run-guard")))
        .expect("the run's guard schedule");
    assert!(expression.starts_with("at("), "{expression}");
    assert_eq!((target.as_str(), input), (machine.as_str(), serde_json::json!({"guard": true})));
    let runs = pipectl(stack, &["runs", "-f", &edited, "--output", "json"]).expect(0).json();
    let listed = runs.as_array().expect("runs");
    assert_eq!(listed.len(), 1, "{runs}");
    assert_eq!(listed[0]["job"], "spark/nightly");
    assert!(execution.ends_with(listed[0]["execution"].as_str().unwrap()), "{runs}");
    if stack == Stack::LocalStack {
        localstack_stops_at_the_scale_out(stack, &runtime, &execution);
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

/// The cluster's `batch` group (id, requested count) and its scale record, if any.
async fn batch_group(stack: Stack, cluster_id: &str) -> (String, i32, Option<String>) {
    let clients = stack.clients().await;
    let groups = clients.emr.list_instance_groups().cluster_id(cluster_id).send().await.expect("ListInstanceGroups");
    let batch = groups.instance_groups().iter().find(|g| g.name() == Some("batch")).expect("group batch");
    let described = clients.emr.describe_cluster().cluster_id(cluster_id).send().await.expect("DescribeCluster");
    let tags = described.cluster().map(|c| c.tags().to_vec()).unwrap_or_default();
    let record =
        tags.iter().find(|t| t.key() == Some("pipectl:scale:batch")).and_then(|t| t.value().map(str::to_string));
    (batch.id().unwrap_or_default().to_string(), batch.requested_instance_count().unwrap_or(-1), record)
}

/// Job `nightly` of pipeline `p` as applied: its state machine's ARN, and the cluster id and the
/// size record its definition holds.
async fn the_applied_job(stack: Stack, p: &str) -> (String, String, String) {
    let clients = stack.clients().await;
    let identity = clients.sts.get_caller_identity().send().await.expect("identity");
    let account = identity.account().expect("account").to_string();
    let machine = format!("arn:aws:states:us-east-1:{account}:stateMachine:pipectl-{p}-spark-nightly");
    let (definition, _, _) = held_state_machine(stack, &machine).await.expect("the state machine");
    let states = &definition["States"];
    let cluster_id = states["ScaleOut"]["Parameters"]["ClusterId"].as_str().expect("a cluster id").to_string();
    let record = states["RecordScale"]["Parameters"]["Tags"][0]["Value"].as_str().expect("a record").to_string();
    (machine, cluster_id, record)
}

/// What a run's first two states do, which neither emulator runs: the size record the job
/// writes on the cluster, and the resize of group `batch` to the job's 8 nodes.
async fn play_the_scale_out(stack: Stack, cluster_id: &str, record: &str) {
    let clients = stack.clients().await;
    let (group_id, _, _) = batch_group(stack, cluster_id).await;
    let tag = aws_sdk_emr::types::Tag::builder().key("pipectl:scale:batch").value(record).build();
    clients.emr.add_tags().resource_id(cluster_id).tags(tag).send().await.expect("AddTags");
    let resize =
        aws_sdk_emr::types::InstanceGroupModifyConfig::builder().instance_group_id(group_id).instance_count(8).build();
    clients.emr.modify_instance_groups().cluster_id(cluster_id).instance_groups(resize).send().await.expect("resize");
}

/// The names of the steps added to the cluster.
async fn step_names(stack: Stack, cluster_id: &str) -> Vec<String> {
    let clients = stack.clients().await;
    let listed = clients.emr.list_steps().cluster_id(cluster_id).send().await.expect("ListSteps");
    listed.steps().iter().filter_map(|step| step.name().map(str::to_string)).collect()
}

/// Removing a job while it runs (issue 22, item 5): its run is stopped, so its own resize-back
/// never comes, and its guard goes with it. The removal returns the group to its baseline and
/// removes the job's size record before the state machine and the guard are deleted, and the
/// next plan has nothing to say about the group. Neither emulator runs the EMR integrations, so
/// the test plays the run's first two states itself: the record the job writes, and the resize.
fn removing_a_running_job_returns_its_group(stack: Stack) {
    require!(stack);
    let p = unique("jobrm", stack);
    let scratch = Scratch::new(&format!("jobs-remove-{}", stack.tag()));
    let with_job = spec(&p, "rollup", job_hour());
    let file = scratch.write("jobs.yaml", &with_job);
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let runtime = runtime();
    let (machine, cluster_id, record) = runtime.block_on(the_applied_job(stack, &p));
    assert_eq!(record, "nodes=8 baseline=1 job=spark/nightly");
    pipectl(stack, &["run", "nightly", "-f", &file]).expect(0);
    runtime.block_on(play_the_scale_out(stack, &cluster_id, &record));
    let plan = pipectl(stack, &["plan", "-f", &file]).expect(0);
    assert!(
        plan.stdout.contains("scaled to 8 (baseline 1)") || plan.stderr.contains("scaled to 8 (baseline 1)"),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );

    // The job leaves the spec while its run goes on.
    let without_job = with_job[..with_job.find("    jobs:").expect("a jobs section")].to_string();
    let file = scratch.write("jobs.yaml", &without_job);
    let removed = pipectl(stack, &["apply", "-f", &file, "--auto-approve", "-v"]).expect(0);
    assert!(removed.stderr.contains("sfn:StopExecution 1"), "{}", removed.stderr);
    let (_, requested, record) = runtime.block_on(batch_group(stack, &cluster_id));
    assert_eq!((requested, record), (1, None), "the group is back at its baseline, the record gone");
    // The stopped run's YARN applications get the kill step its failure path would have run.
    let steps = runtime.block_on(step_names(stack, &cluster_id));
    assert!(steps.contains(&"pipectl: kill the YARN applications of job spark/nightly".to_string()), "{steps:?}");
    assert!(runtime.block_on(held_state_machine(stack, &machine)).is_none(), "the state machine is left");
    for edge in ["start", "guard"] {
        let name = format!("pipectl-{p}-spark-nightly-{edge}");
        assert!(runtime.block_on(held_schedule(stack, &name)).is_none(), "{name} is left");
    }
    let plan = pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "{}\n{}", plan.stdout, plan.stderr);
    assert!(!format!("{}{}", plan.stdout, plan.stderr).contains("not a change"), "{}\n{}", plan.stdout, plan.stderr);
    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

on_both_stacks!(removing_a_running_job_returns_its_group);

/// `pipectl run JOB --attach`, started in the background (its stderr into `log`), once it follows
/// the job's running run.
fn attach_in_the_background(stack: Stack, file: &str, log: &std::path::Path) -> std::process::Child {
    let mut command = std::process::Command::new(crate::support::pipectl_path());
    command.args(["run", "nightly", "--attach", "--poll", "1s", "-f", file]).env_clear();
    for key in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    command.env("NO_COLOR", "1").envs(stack.env()).stdin(std::process::Stdio::null());
    command.stdout(std::process::Stdio::piped()).stderr(std::fs::File::create(log).expect("a log file"));
    let child = command.spawn().expect("pipectl runs");
    for _ in 0..300 {
        if std::fs::read_to_string(log).unwrap_or_default().contains("Following job") {
            return child;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
    panic!("run --attach never said what it follows:\n{}", std::fs::read_to_string(log).unwrap_or_default());
}

/// Following and stopping a run (issue 23, item 3). `run` without `--wait` names the commands
/// that follow and stop it; `run --attach` follows the run (from another terminal, as it were)
/// and exits with its outcome once `run --stop` has stopped it; the stop refuses to go on
/// unasked without a terminal, and then stops the execution (ABORTED), adds the kill step,
/// returns the group to its baseline and removes the job's size record — what the run's own
/// end would have done. Neither emulator runs the EMR integrations, so the test plays the run's
/// record and resize itself, as the removal test does.
fn following_and_stopping_a_run(stack: Stack) {
    require!(stack);
    let p = unique("jobstop", stack);
    let scratch = Scratch::new(&format!("jobs-stop-{}", stack.tag()));
    let file = scratch.write("jobs.yaml", &spec(&p, "rollup", job_hour()));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let runtime = runtime();
    let (_, cluster_id, record) = runtime.block_on(the_applied_job(stack, &p));

    let started = pipectl(stack, &["run", "nightly", "-f", &file]).expect(0);
    assert!(started.stdout.contains("Follow it with `pipectl run spark/nightly --attach`"), "{}", started.stdout);
    assert!(started.stdout.contains("stop it with `pipectl run spark/nightly --stop`"), "{}", started.stdout);
    assert!(!started.stdout.contains("next time"), "{}", started.stdout);
    runtime.block_on(play_the_scale_out(stack, &cluster_id, &record));
    let log = scratch.dir.join("attach.log");
    let attached = attach_in_the_background(stack, &file, &log);

    // No terminal to ask on: refused, and nothing is stopped.
    let unasked = pipectl(stack, &["run", "nightly", "--stop", "-f", &file]).expect(1);
    assert!(unasked.stderr.contains("re-run with --auto-approve"), "{}", unasked.stderr);
    let still = pipectl(stack, &["runs", "-f", &file, "--output", "json"]).expect(0).json();
    assert_eq!(still[0]["status"], "RUNNING", "{still}");

    let stopped =
        pipectl(stack, &["run", "nightly", "--stop", "--auto-approve", "-f", &file, "--output", "json", "-v"])
            .expect(0);
    assert!(stopped.stderr.contains("sfn:StopExecution 1"), "{}", stopped.stderr);
    let stopped = stopped.json();
    let execution = stopped["stopped"][0]["execution_arn"].as_str().expect("a stopped execution").to_string();
    assert_eq!(stopped["stopped"][0]["status"], "ABORTED", "{stopped}");
    assert_eq!(stopped["returned"], serde_json::json!({"group": "batch", "baseline": 1, "resized": true}));
    // Read back: the execution ABORTED, the group at its baseline, no size record, the kill step.
    let status = runtime.block_on(async {
        let clients = stack.clients().await;
        let described = clients.sfn.describe_execution().execution_arn(&execution).send().await.expect("execution");
        described.status().as_str().to_string()
    });
    assert_eq!(status, "ABORTED");
    let (_, requested, held) = runtime.block_on(batch_group(stack, &cluster_id));
    assert_eq!((requested, held), (1, None), "the group is back at its baseline, the record gone");
    let steps = runtime.block_on(step_names(stack, &cluster_id));
    assert!(steps.contains(&"pipectl: kill the YARN applications of job spark/nightly".to_string()), "{steps:?}");

    // The follower saw the run end, and exits with its outcome.
    let output = attached.wait_with_output().expect("the attached pipectl");
    let (code, out, err) = (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).to_string(),
        std::fs::read_to_string(&log).unwrap_or_default(),
    );
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(err.contains(&format!("Following job spark/nightly: {execution} (RUNNING")), "{err}");
    assert!(out.contains("Job spark/nightly ABORTED."), "{out}\n{err}");
    assert!(err.contains("job spark/nightly ended ABORTED"), "{err}");
    // With nothing running, --attach shows the newest run's outcome at once, and --stop says so.
    let newest = pipectl(stack, &["run", "nightly", "--attach", "-f", &file, "--output", "json"]).expect(1).json();
    assert_eq!(
        (newest["execution_arn"].as_str(), newest["status"].as_str()),
        (Some(execution.as_str()), Some("ABORTED"))
    );
    let idle = pipectl(stack, &["run", "nightly", "--stop", "--auto-approve", "-f", &file]).expect(0);
    assert!(idle.stdout.contains("No run of job spark/nightly is running; nothing was stopped."), "{}", idle.stdout);
    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

on_both_stacks!(following_and_stopping_a_run);

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

//! The Amazon States Language definition of a job: resize the group, run each step and wait for
//! it, then resize back — on every path. Built here as plain JSON so that the shape can be
//! walked by a unit test (every path from the start to an end passes a resize-back) and compared
//! semantically with what DescribeStateMachine returns.
//!
//! The EMR service integrations used ("Create and manage Amazon EMR clusters with Step
//! Functions", Step Functions Developer Guide): `modifyInstanceGroupByName` (ModifyInstanceGroups
//! on a group named in the request; returns at once, EMR adds the nodes while the first step
//! starts) and `addStep.sync` (AddJobFlowSteps, then waits for the step: Step Functions polls it
//! every 60 seconds for 10 minutes, then every 300; when the task times out or the execution is
//! stopped it cancels the step). The outcome goes to the pipeline's alarm topic with the
//! `sns:publish` integration.
//!
//! What no state can catch — the execution's own `TimeoutSeconds`, or someone stopping the
//! execution — is covered outside the state machine: the job's `guard` schedule returns the group
//! to its baseline `GUARD_DELAY_SECONDS` after the timeout whatever happened (see
//! `resources::schedule`).

use serde_json::{json, Map, Value};

use super::guard::{self, KILL_TIMEOUT_SECONDS};
use super::partitions::{self, TablePartitions};

/// What a job's state machine does, with every name resolved.
#[derive(Debug, Clone)]
pub struct JobPlan {
    /// `cluster/job`, for messages.
    pub label: String,
    pub pipeline: String,
    pub partition: String,
    /// The EMR cluster id (or a placeholder apply fills in).
    pub cluster_id: String,
    /// The EMR instance group name: `core` or the task group's.
    pub group: String,
    pub nodes: i64,
    pub baseline: i64,
    pub steps: Vec<PlannedStep>,
    pub timeout_seconds: u64,
    /// The alarm topic the outcome is published to, if the job notifies.
    pub topic_arn: Option<String>,
    /// The YARN tag of the steps' applications (`guard::yarn_tag`), which the failure path kills.
    pub yarn_tag: String,
    /// The tables whose partitions are registered before anything else (`partitions`).
    pub tables: Vec<TablePartitions>,
}

#[derive(Debug, Clone)]
pub struct PlannedStep {
    pub name: String,
    pub action_on_failure: &'static str,
    /// `command-runner.jar`'s arguments: `spark-submit …`.
    pub args: Vec<String>,
}

/// The time the execution has beyond the job's timeout to resize back and notify after a step
/// timed out; the guard schedule fires later still (`spec::GUARD_DELAY_SECONDS`).
pub const RESIZE_BACK_GRACE_SECONDS: u64 = 12 * 60;
// The execution has ended (resized back or not) before the guard schedule fires; and the longest
// path after a step timed out fits in the grace: the step killing its YARN applications
// (`guard::KILL_TIMEOUT_SECONDS`), five retries of the resize-back (15 + 30 + 60 + 120 + 240 s,
// see `retry`) and three of the notification (5 + 10 + 20 s, `notify_retry`), with a minute for
// the calls themselves.
const _: () = assert!(RESIZE_BACK_GRACE_SECONDS < crate::spec::GUARD_DELAY_SECONDS);
const _: () =
    assert!(KILL_TIMEOUT_SECONDS + (15 + 30 + 60 + 120 + 240) + (5 + 10 + 20) + 60 < RESIZE_BACK_GRACE_SECONDS);

pub const RECORD_SCALE: &str = "RecordScale";
pub const SCALE_OUT: &str = "ScaleOut";
pub const SCALE_BACK: &str = "ScaleBack";
pub const SCALE_BACK_AFTER_FAILURE: &str = "ScaleBackAfterFailure";
pub const KILL_APPLICATIONS: &str = "KillApplications";
const FORGET_SCALE: &str = "ForgetScale";
const FORGET_SCALE_AFTER_FAILURE: &str = "ForgetScaleAfterFailure";
const NOTIFY_SUCCESS: &str = "NotifySuccess";
const NOTIFY_FAILURE: &str = "NotifyFailure";
const SUCCEEDED: &str = "Succeeded";
const FAILED: &str = "Failed";

/// The size record a job writes: what `pipectl scale` writes (`ScaleRecord`, so that plans read
/// it the same way), and `job=<cluster>/<job>`, which `ScaleRecord::parse` passes over, so that
/// removing the job can tell its own record from a scale by hand.
pub fn record_value(nodes: i64, baseline: i64, label: &str) -> String {
    let record = crate::resources::cluster::ScaleRecord { nodes, baseline, until: None };
    format!("{} job={label}", record.to_tag())
}

/// The state name of step `index` (from 0): `Step-1-sessionize`. Step names are 1-63 letters,
/// digits, `-` and `_` (validation), so this stays within the 80 characters ASL allows.
pub fn step_state(index: usize, name: &str) -> String {
    format!("Step-{}-{name}", index + 1)
}

/// Resizes and notifications are retried: EMR throttles ModifyInstanceGroups, and a resize
/// requested while the group is still resizing may be refused for a moment. 15 s doubling five
/// times is under 8 minutes, inside `RESIZE_BACK_GRACE_SECONDS`.
pub(super) fn retry() -> Value {
    json!([{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 15, "MaxAttempts": 5, "BackoffRate": 2.0}])
}

/// A notification is retried briefly (5 s, 10 s, 20 s): it must not hold the execution past its
/// grace, and the job's alarms report the run anyway.
fn notify_retry() -> Value {
    json!([{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 5, "MaxAttempts": 3, "BackoffRate": 2.0}])
}

/// Sends every error of a state to `next`, keeping the error under `$.failure`.
pub(super) fn catch_all_into(next: &str) -> Value {
    json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": next}])
}

impl JobPlan {
    pub(super) fn integration(&self, action: &str) -> String {
        format!("arn:{}:states:::{action}", self.partition)
    }

    pub(super) fn resize(&self, nodes: i64) -> Value {
        json!({
            "Type": "Task",
            "Resource": self.integration("elasticmapreduce:modifyInstanceGroupByName"),
            "Parameters": {
                "ClusterId": self.cluster_id,
                "InstanceGroupName": self.group,
                "InstanceGroup": {"InstanceCount": nodes}
            },
            "ResultPath": null,
            "Retry": retry()
        })
    }

    fn step(&self, step: &PlannedStep) -> Value {
        json!({
            "Type": "Task",
            "Resource": self.integration("elasticmapreduce:addStep.sync"),
            "Parameters": {
                "ClusterId": self.cluster_id,
                "Step": {
                    "Name": step.name,
                    "ActionOnFailure": step.action_on_failure,
                    "HadoopJarStep": {"Jar": "command-runner.jar", "Args": step.args}
                }
            },
            "TimeoutSeconds": self.timeout_seconds,
            "ResultPath": null,
            "Catch": catch_all_into(KILL_APPLICATIONS)
        })
    }

    /// `sns:publish` of the outcome; a notification that cannot be sent does not change it.
    fn notify(&self, topic_arn: &str, outcome: &str, detail: &str, next: &str) -> Value {
        // SNS wants a subject "less than 100 characters long" (Publish, Amazon SNS API
        // Reference); a cluster and job name of the longest kind make more.
        let subject: String = format!("pipectl: job {} {outcome}", self.label).chars().take(99).collect();
        let text =
            format!("pipectl job {} of pipeline {} {outcome}. Execution {{}}.{detail}", self.label, self.pipeline);
        let message = if detail.is_empty() {
            format!("States.Format('{text}', $$.Execution.Id)")
        } else {
            format!("States.Format('{text}', $$.Execution.Id, States.JsonToString($.failure))")
        };
        json!({
            "Type": "Task",
            "Resource": self.integration("sns:publish"),
            "Parameters": {"TopicArn": topic_arn, "Subject": subject, "Message.$": message},
            "ResultPath": null,
            "Retry": notify_retry(),
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": null, "Next": next}],
            "Next": next
        })
    }

    /// Records the job's size on the cluster as `pipectl scale` does (the tag
    /// `pipectl:scale:<group>`), so that a plan or apply while the job runs sees a deliberate size,
    /// not drift to revert under the running steps; or removes the record. Bookkeeping only: a
    /// failure goes on to `next`.
    pub(super) fn record(&self, record: Option<(i64, i64)>, next: &str) -> Value {
        let key = crate::names::scale_tag(&self.group);
        let (action, parameters) = match record {
            Some((nodes, baseline)) => {
                let value = record_value(nodes, baseline, &self.label);
                ("aws-sdk:emr:addTags", json!({"ResourceId": self.cluster_id, "Tags": [{"Key": key, "Value": value}]}))
            }
            None => ("aws-sdk:emr:removeTags", json!({"ResourceId": self.cluster_id, "TagKeys": [key]})),
        };
        json!({
            "Type": "Task",
            "Resource": self.integration(action),
            "Parameters": parameters,
            "ResultPath": null,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": null, "Next": next}],
            "Next": next
        })
    }

    /// The whole definition.
    pub fn definition(&self) -> Value {
        let (after_success, after_failure) = match &self.topic_arn {
            Some(_) => (NOTIFY_SUCCESS, NOTIFY_FAILURE),
            None => (SUCCEEDED, FAILED),
        };
        let mut states = Map::new();
        let (first, registering) = partitions::states(&self.partition, &self.tables, RECORD_SCALE, after_failure);
        states.insert(guard::START.to_string(), self.start(&first));
        states.extend(registering);
        states.insert(RECORD_SCALE.to_string(), self.record(Some((self.nodes, self.baseline)), SCALE_OUT));
        let first = self.steps.first().map(|step| step_state(0, &step.name)).unwrap_or_else(|| SCALE_BACK.to_string());
        let mut scale_out = self.resize(self.nodes);
        scale_out["Catch"] = catch_all_into(SCALE_BACK_AFTER_FAILURE);
        scale_out["Next"] = json!(first);
        states.insert(SCALE_OUT.to_string(), scale_out);
        for (index, step) in self.steps.iter().enumerate() {
            let next = self.steps.get(index + 1).map(|next| step_state(index + 1, &next.name));
            let mut state = self.step(step);
            state["Next"] = json!(next.unwrap_or_else(|| SCALE_BACK.to_string()));
            states.insert(step_state(index, &step.name), state);
        }
        // A resize-back that fails after its retries fails the run: the guard schedule will
        // still return the group, and the run says why.
        let mut scale_back = self.resize(self.baseline);
        scale_back["Catch"] = catch_all_into(after_failure);
        scale_back["Next"] = json!(FORGET_SCALE);
        states.insert(SCALE_BACK.to_string(), scale_back);
        states.insert(FORGET_SCALE.to_string(), self.record(None, after_success));
        // A step that failed or timed out may leave its application running in YARN.
        states.insert(KILL_APPLICATIONS.to_string(), self.kill_applications(SCALE_BACK_AFTER_FAILURE));
        let mut scale_back_after_failure = self.resize(self.baseline);
        scale_back_after_failure["Catch"] =
            json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.resize_back_failure", "Next": after_failure}]);
        scale_back_after_failure["Next"] = json!(FORGET_SCALE_AFTER_FAILURE);
        states.insert(SCALE_BACK_AFTER_FAILURE.to_string(), scale_back_after_failure);
        states.insert(FORGET_SCALE_AFTER_FAILURE.to_string(), self.record(None, after_failure));
        if let Some(topic_arn) = &self.topic_arn {
            states.insert(NOTIFY_SUCCESS.to_string(), self.notify(topic_arn, "succeeded", "", SUCCEEDED));
            states.insert(NOTIFY_FAILURE.to_string(), self.notify(topic_arn, "failed", " Error: {}", FAILED));
        }
        states.insert(SUCCEEDED.to_string(), json!({"Type": "Succeed"}));
        states.insert(
            FAILED.to_string(),
            json!({"Type": "Fail", "Error": "JobFailed", "Cause": format!("job {} failed: the execution's events say where; its group goes back to {} nodes (by its guard schedule, if the resize-back failed too)", self.label, self.baseline)}),
        );
        states.extend(self.guard_states());
        json!({
            "Comment": format!(
                "pipectl job {} of pipeline {}: register {} table(s)' partitions, resize group {} to {} nodes, run {} step(s), resize back to {}; started with {{\"guard\": true}}, return the group if a run could not",
                self.label, self.pipeline, self.tables.len(), self.group, self.nodes, self.steps.len(), self.baseline
            ),
            "StartAt": guard::START,
            "TimeoutSeconds": self.timeout_seconds + RESIZE_BACK_GRACE_SECONDS,
            "States": states
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(steps: usize, topic: bool) -> JobPlan {
        JobPlan {
            label: "spark/nightly".to_string(),
            pipeline: "p".to_string(),
            partition: "aws".to_string(),
            cluster_id: "j-1".to_string(),
            group: "batch".to_string(),
            nodes: 20,
            baseline: 2,
            steps: (0..steps)
                .map(|index| PlannedStep {
                    name: format!("s{index}"),
                    action_on_failure: "CONTINUE",
                    args: vec!["spark-submit".to_string(), format!("s3://lake/jobs/{index}.py")],
                })
                .collect(),
            timeout_seconds: 4 * 3600,
            topic_arn: topic.then(|| "arn:aws:sns:eu-west-1:1:pipectl-p-alarms".to_string()),
            yarn_tag: "pipectl-p-spark-nightly".to_string(),
            tables: Vec::new(),
        }
    }

    fn with_table(mut plan: JobPlan) -> JobPlan {
        plan.tables.push(TablePartitions {
            database: "p".to_string(),
            table: "events".to_string(),
            pictures: vec![partitions::picture("yyyy-MM-dd")],
            hourly: false,
            location: vec!["s3://lake/raw/events/".to_string(), "/".to_string()],
        });
        plan
    }

    /// The pseudo-state a path ends in when a state fails and no catcher takes the error: "When a
    /// state reports an error, Step Functions defaults to failing the entire state machine
    /// execution" ("Handling errors in Step Functions workflows", AWS Step Functions Developer
    /// Guide). Retries do not change that: a retrier that runs out hands the error on.
    const UNCAUGHT: &str = "(execution failed: uncaught error)";

    /// Whether one of a state's catchers takes every error (`States.ALL`, which the guide says
    /// "must appear alone" in its `ErrorEquals`).
    fn catches_all(state: &Value) -> bool {
        state["Catch"].as_array().into_iter().flatten().any(|catcher| catcher["ErrorEquals"] == json!(["States.ALL"]))
    }

    /// What may follow a state: its `Next` when it succeeds, each choice of a Choice, each
    /// `Catch` target (a failure, including `States.Timeout` when the state's `TimeoutSeconds`
    /// passes), and for a Task no catcher takes every error of, the execution failing there. End
    /// states have none.
    fn successors(state: &Value) -> Vec<(String, &'static str)> {
        let mut next = Vec::new();
        if let Some(target) = state["Next"].as_str() {
            next.push((target.to_string(), "success"));
        }
        for choice in state["Choices"].as_array().into_iter().flatten() {
            // Partitions Glue did not register (other than existing ones) fail the run.
            let target = choice["Next"].as_str().unwrap();
            let outcome = if target == "PartitionsNotRegistered" { "failure or timeout" } else { "choice" };
            next.push((target.to_string(), outcome));
        }
        if let Some(default) = state["Default"].as_str() {
            next.push((default.to_string(), "choice"));
        }
        // A notification that cannot be sent does not change the outcome. Nor does the size
        // record failing to be written or removed, nor the kill step failing.
        let resource = state["Resource"].as_str().unwrap_or_default();
        let outcome = if resource.ends_with("sns:publish") {
            "notification failed"
        } else if resource.ends_with(":aws-sdk:emr:addTags") || resource.ends_with(":aws-sdk:emr:removeTags") {
            "size record failed"
        } else if state["Parameters"]["Step"]["Name"].as_str().is_some_and(|name| name.contains("kill")) {
            "kill failed"
        } else {
            "failure or timeout"
        };
        for catcher in state["Catch"].as_array().into_iter().flatten() {
            next.push((catcher["Next"].as_str().unwrap().to_string(), outcome));
        }
        if state["Type"] == "Task" && !catches_all(state) {
            next.push((UNCAUGHT.to_string(), "failure or timeout"));
        }
        next
    }

    /// Every path from `StartAt` to an end state (or to `UNCAUGHT`), as state names with the
    /// outcome that led on.
    fn paths(definition: &Value) -> Vec<Vec<String>> {
        let states = definition["States"].as_object().unwrap();
        let mut done = Vec::new();
        let mut open = vec![vec![definition["StartAt"].as_str().unwrap().to_string()]];
        while let Some(path) = open.pop() {
            if path.last().unwrap() == UNCAUGHT {
                done.push(path);
                continue;
            }
            let state = &states[path.last().unwrap()];
            let next = successors(state);
            if next.is_empty() {
                assert!(["Succeed", "Fail"].contains(&state["Type"].as_str().unwrap()), "dead end {path:?}");
                done.push(path);
                continue;
            }
            for (target, outcome) in next {
                assert!(target == UNCAUGHT || states.contains_key(&target), "{target} is not a state");
                assert!(!path.contains(&target), "a loop through {target}");
                let mut longer = path.clone();
                longer.push(format!("({outcome})"));
                longer.push(target);
                open.push(longer);
            }
        }
        done
    }

    fn resizes_to(state: &Value, nodes: i64) -> bool {
        state["Resource"].as_str().is_some_and(|r| r.ends_with("elasticmapreduce:modifyInstanceGroupByName"))
            && state["Parameters"]["InstanceGroup"]["InstanceCount"] == json!(nodes)
            && state["Parameters"]["InstanceGroupName"] == json!("batch")
            && state["Parameters"]["ClusterId"] == json!("j-1")
    }

    /// Whether a state runs one of the job's Spark steps.
    fn runs_a_spark_step(state: &Value) -> bool {
        state["Resource"].as_str().is_some_and(|r| r.contains("addStep"))
            && state["Parameters"]["Step"]["HadoopJarStep"]["Args"][0] == "spark-submit"
    }

    #[test]
    fn every_path_through_the_job_resizes_back_after_it_resized_out() {
        // The exact number of paths. With `e` the ways to end (2 with a notification before it,
        // which may fail, else 1), a resize back — on success or after a failure — is 3e ways
        // (its record forgotten or not, 2e, or it failing, e); the record written first or not
        // doubles what follows it: the scale-out failing (3e), each step failing (its kill step
        // succeeding or failing, 6e), the last step succeeding (3e): 12e (steps + 1). A table's
        // two states may each fail (e), and so may the check after them (e). The guard path has
        // 11: reading the cluster fails (1) or it is not running (1); reading the group fails (1);
        // the group at its baseline (record forgotten or not: 2); else the kill step (2 ways) and
        // the resize failing (1) or the record after it (2): 6.
        for (steps, topic, tables, expected) in
            [(1, true, 0, 48 + 11), (3, true, 0, 96 + 11), (2, false, 0, 36 + 11), (1, true, 1, 48 + 6 + 11)]
        {
            let mut plan = plan(steps, topic);
            if tables == 1 {
                plan = with_table(plan);
            }
            let definition = plan.definition();
            let states = definition["States"].as_object().unwrap();
            let all = paths(&definition);
            // Every Task hands every error to a catcher: none can end the execution on its own.
            for (name, state) in states.iter().filter(|(_, state)| state["Type"] == "Task") {
                assert!(catches_all(state), "{name} has no States.ALL catcher: {state}");
            }
            assert_eq!(all.iter().filter(|path| path.last().unwrap() == UNCAUGHT).count(), 0, "{all:#?}");
            assert_eq!(all.len(), expected, "{steps} steps, topic {topic}, {tables} table(s): {all:#?}");
            for path in &all {
                let names: Vec<&String> = path.iter().filter(|name| !name.starts_with('(')).collect();
                assert_eq!(names[0].as_str(), guard::START, "{path:?}");
                let resizes: Vec<usize> = (0..names.len())
                    .filter(|&at| {
                        states[names[at].as_str()]["Resource"]
                            .as_str()
                            .is_some_and(|r| r.contains("modifyInstanceGroup"))
                    })
                    .collect();
                let end = &states[names.last().unwrap().as_str()];
                let succeeded = path.iter().all(|part| part != "(failure or timeout)");
                if names[1] == guard::GUARD_READ_CLUSTER {
                    // The guard only ever returns the group to its baseline, and runs no Spark.
                    assert!(resizes.iter().all(|&at| resizes_to(&states[names[at].as_str()], 2)), "{path:?}");
                    assert!(names.iter().all(|name| !runs_a_spark_step(&states[name.as_str()])), "{path:?}");
                    assert_eq!(end["Type"] == "Succeed", succeeded, "{path:?}");
                    continue;
                }
                assert_eq!(end["Type"] == "Succeed", succeeded, "{path:?}");
                if topic {
                    assert!(names.iter().any(|name| name.starts_with("Notify")), "{path:?} tells nobody");
                }
                let Some(&out) = resizes.first() else {
                    // Only the partitions failing ends a run before it resizes anything.
                    assert!(!succeeded, "{path:?}");
                    assert!(names.iter().all(|name| !runs_a_spark_step(&states[name.as_str()])), "{path:?}");
                    continue;
                };
                // The size is recorded first, then the group resized out before anything else.
                assert_eq!(names[out - 1].as_str(), RECORD_SCALE, "{path:?}");
                assert!(resizes_to(&states[names[out].as_str()], 20), "{path:?} does not resize out first");
                let back = resizes.iter().find(|&&at| resizes_to(&states[names[at].as_str()], 2));
                let back = *back.unwrap_or_else(|| panic!("{path:?} never resizes back"));
                // Nothing runs on the cluster after the resize-back.
                assert!(names[back..].iter().all(|name| !runs_a_spark_step(&states[name.as_str()])), "{path:?}");
                // A step that failed or timed out has its YARN applications killed before.
                if let Some(failed) =
                    path.windows(3).find(|w| w[0].starts_with("Step-") && w[1] == "(failure or timeout)")
                {
                    assert_eq!(failed[2], KILL_APPLICATIONS, "{path:?}");
                    assert!(names.iter().position(|name| name.as_str() == KILL_APPLICATIONS) < Some(back), "{path:?}");
                }
            }
        }
    }

    #[test]
    fn steps_are_tagged_and_a_failed_one_has_its_applications_killed() {
        let definition = plan(2, true).definition();
        let states = &definition["States"];
        for step in ["Step-1-s0", "Step-2-s1"] {
            assert_eq!(states[step]["Catch"][0]["Next"], KILL_APPLICATIONS, "{step}");
        }
        let kill = &states[KILL_APPLICATIONS];
        assert_eq!(kill["Resource"], "arn:aws:states:::elasticmapreduce:addStep.sync");
        assert_eq!(kill["Parameters"]["ClusterId"], "j-1");
        assert_eq!(kill["Parameters"]["Step"]["ActionOnFailure"], "CONTINUE");
        assert_eq!(
            kill["Parameters"]["Step"]["HadoopJarStep"]["Args"],
            json!(guard::kill_command("pipectl-p-spark-nightly"))
        );
        assert_eq!(kill["TimeoutSeconds"], KILL_TIMEOUT_SECONDS);
        // Killed or not, the group goes back.
        assert_eq!(kill["Next"], SCALE_BACK_AFTER_FAILURE);
        assert_eq!(kill["Catch"][0]["Next"], SCALE_BACK_AFTER_FAILURE);
        // A scale-out that failed has started no application.
        assert_eq!(states[SCALE_OUT]["Catch"][0]["Next"], SCALE_BACK_AFTER_FAILURE);
    }

    #[test]
    fn a_guard_execution_checks_the_cluster_and_the_group_before_it_resizes() {
        let definition = plan(1, true).definition();
        let states = &definition["States"];
        assert_eq!(definition["StartAt"], guard::START);
        assert_eq!(
            states[guard::START]["Choices"][0],
            json!({"Variable": "$.guard", "IsPresent": true, "Next": guard::GUARD_READ_CLUSTER})
        );
        assert_eq!(states[guard::START]["Default"], RECORD_SCALE);
        assert_eq!(guard::guard_input(), json!({"guard": true}));
        let read = &states[guard::GUARD_READ_CLUSTER];
        assert_eq!(read["Resource"], "arn:aws:states:::aws-sdk:emr:describeCluster");
        let accepts = &states[read["Next"].as_str().unwrap()];
        assert_eq!(accepts["Choices"][0]["Condition"], "{% $states.input.state in [\"RUNNING\", \"WAITING\"] %}");
        assert_eq!(states[accepts["Default"].as_str().unwrap()]["Type"], "Succeed");
        let group = &states[accepts["Choices"][0]["Next"].as_str().unwrap()];
        assert_eq!(group["Resource"], "arn:aws:states:::aws-sdk:emr:listInstanceGroups");
        assert!(group["Output"].as_str().unwrap().contains("InstanceGroups[Name = \"batch\"].RequestedInstanceCount"));
        let at_baseline = &states[group["Next"].as_str().unwrap()];
        assert_eq!(at_baseline["Choices"][0]["Condition"], "{% $states.input.requested = 2 %}");
        // At its baseline: no ModifyInstanceGroups at all, only the stale record removed.
        let forget = &states[at_baseline["Choices"][0]["Next"].as_str().unwrap()];
        assert_eq!(forget["Resource"], "arn:aws:states:::aws-sdk:emr:removeTags");
        let kill = &states[at_baseline["Default"].as_str().unwrap()];
        assert_eq!(kill["Next"], guard::GUARD_SCALE_BACK);
        assert!(resizes_to(&states[guard::GUARD_SCALE_BACK], 2));
    }

    #[test]
    fn the_tables_partitions_are_registered_before_the_group_is_resized() {
        let definition = with_table(plan(1, true)).definition();
        let states = &definition["States"];
        assert_eq!(states[guard::START]["Default"], "ReadTable-1");
        assert_eq!(states["ReadTable-1"]["Next"], "AddPartitions-1");
        assert_eq!(states["ReadTable-1"]["Catch"][0]["Next"], NOTIFY_FAILURE);
        assert_eq!(states["PartitionsRegistered"]["Default"], RECORD_SCALE);
    }

    #[test]
    fn steps_run_in_order_each_waited_for_and_bounded_by_the_timeout() {
        let definition = plan(3, true).definition();
        let states = &definition["States"];
        assert_eq!(states[SCALE_OUT]["Next"], "Step-1-s0");
        assert_eq!(states["Step-1-s0"]["Next"], "Step-2-s1");
        assert_eq!(states["Step-3-s2"]["Next"], SCALE_BACK);
        for index in 0..3 {
            let step = &states[step_state(index, &format!("s{index}"))];
            assert_eq!(step["Resource"], "arn:aws:states:::elasticmapreduce:addStep.sync");
            assert_eq!(step["TimeoutSeconds"], 4 * 3600);
            assert_eq!(step["Parameters"]["Step"]["HadoopJarStep"]["Jar"], "command-runner.jar");
            assert_eq!(step["Parameters"]["Step"]["HadoopJarStep"]["Args"][1], format!("s3://lake/jobs/{index}.py"));
        }
        // The execution ends at the latest the grace after the timeout (the guard comes later:
        // checked where the grace is defined).
        assert_eq!(definition["TimeoutSeconds"], 4 * 3600 + RESIZE_BACK_GRACE_SECONDS);
    }

    #[test]
    fn the_jobs_size_is_recorded_like_a_scale_and_forgotten_after_the_resize_back() {
        let definition = plan(1, true).definition();
        let states = &definition["States"];
        assert_eq!(states[guard::START]["Default"], RECORD_SCALE);
        assert_eq!(states[RECORD_SCALE]["Resource"], "arn:aws:states:::aws-sdk:emr:addTags");
        assert_eq!(
            states[RECORD_SCALE]["Parameters"],
            json!({"ResourceId": "j-1", "Tags": [{"Key": "pipectl:scale:batch", "Value": "nodes=20 baseline=2 job=spark/nightly"}]})
        );
        // The value is what `pipectl scale` writes, so plans read it the same way.
        let value = states[RECORD_SCALE]["Parameters"]["Tags"][0]["Value"].as_str().unwrap();
        assert_eq!(
            crate::resources::cluster::ScaleRecord::parse(value),
            Some(crate::resources::cluster::ScaleRecord { nodes: 20, baseline: 2, until: None })
        );
        assert_eq!(states[SCALE_BACK]["Next"], FORGET_SCALE);
        assert_eq!(
            states[FORGET_SCALE]["Parameters"],
            json!({"ResourceId": "j-1", "TagKeys": ["pipectl:scale:batch"]})
        );
        assert_eq!(states[SCALE_BACK_AFTER_FAILURE]["Next"], FORGET_SCALE_AFTER_FAILURE);
        // Bookkeeping that fails does not stop the job.
        assert_eq!(states[RECORD_SCALE]["Catch"][0]["Next"], SCALE_OUT);
    }

    #[test]
    fn the_notification_names_the_job_and_the_execution() {
        let definition = plan(1, true).definition();
        let failure = &definition["States"][NOTIFY_FAILURE]["Parameters"];
        assert_eq!(failure["Subject"], "pipectl: job spark/nightly failed");
        assert_eq!(
            failure["Message.$"],
            "States.Format('pipectl job spark/nightly of pipeline p failed. Execution {}. Error: {}', $$.Execution.Id, States.JsonToString($.failure))"
        );
        assert_eq!(failure["TopicArn"], "arn:aws:sns:eu-west-1:1:pipectl-p-alarms");
        let mut long = plan(1, true);
        long.label = format!("{}/{}", "c".repeat(40), "j".repeat(63));
        let subject =
            long.definition()["States"][NOTIFY_FAILURE]["Parameters"]["Subject"].as_str().unwrap().to_string();
        assert_eq!(subject.len(), 99, "{subject}");
        let without = plan(1, false).definition();
        assert!(without["States"].get(NOTIFY_FAILURE).is_none());
    }
}

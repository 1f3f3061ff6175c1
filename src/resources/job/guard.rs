//! What ends a job's work when its steps do not: the YARN applications its Spark steps started,
//! and its group's size after a run that could not give the nodes back itself.
//!
//! **The applications.** Step Functions cancels a step that outlives its task's timeout (and the
//! step of an execution that is stopped), and EMR cancels a running step by signalling the
//! step's own processes ("Cancel steps when you submit work to an Amazon EMR cluster", Amazon EMR
//! Management Guide); with `--deploy-mode cluster` the Spark driver runs in YARN, not in
//! `spark-submit`, so the application goes on, on a group about to shrink under it. So every
//! step submits with `--conf spark.yarn.tags=<tag>` (the job's state machine name, lower case:
//! YARN keeps tags in lower case), and the failure path adds one more step before it resizes
//! back: `command-runner.jar` running `yarn application -list -appTags <tag>` ("YARN Commands",
//! Apache Hadoop 3 documentation; EMR 6 and later ship Hadoop 3) and `yarn application -kill`
//! for each application still NEW to RUNNING. It has `KILL_TIMEOUT_SECONDS`; failing or timing
//! out, it still leads to the resize-back.
//!
//! **The guard.** The job's `guard` schedule starts the job's own state machine with the input
//! `{"guard": true}`, and the first state sends such an execution down the guard path: read the
//! cluster (DescribeCluster), and stop there — successfully — unless it is RUNNING or WAITING:
//! EMR refuses to resize any other cluster ("ValidationException: An instance group may only be
//! modified when the cluster is running or waiting", the answer hashicorp/terraform-provider-aws
//! treats as "already gone" when it deletes an instance group, `internal/service/emr/
//! instance_group.go`, and reported in hashicorp/terraform#22116). Then read the group's
//! requested count (ListInstanceGroups) and stop — removing a stale size record — when it is at
//! the baseline: what EMR answers to a ModifyInstanceGroups that asks for the group's current
//! count is not documented (the API reference lists only InternalServerError), so the guard
//! never asks. Only a group still above its baseline gets the kill step and the resize. A guard
//! that fired as a plain ModifyInstanceGroups every night, whatever the state, would depend on
//! that undocumented answer, and on a stopped cluster would dead-letter (and page) every night.

use serde_json::{json, Map, Value};

use super::definition::{catch_all_into, JobPlan};

/// How long the kill step may take before the failure path goes on without it: Step Functions
/// polls an `addStep.sync` step every 60 seconds at first, so two polls.
pub const KILL_TIMEOUT_SECONDS: u64 = 120;

/// The first state, which sends a guard's execution down the guard path.
pub const START: &str = "Start";
pub const GUARD_READ_CLUSTER: &str = "GuardReadCluster";
const GUARD_CLUSTER_ACCEPTS: &str = "GuardClusterAcceptsResizes";
const GUARD_READ_GROUP: &str = "GuardReadGroup";
const GUARD_AT_BASELINE: &str = "GuardGroupAtBaseline";
const GUARD_KILL: &str = "GuardKillApplications";
pub const GUARD_SCALE_BACK: &str = "GuardScaleBack";
const GUARD_FORGET: &str = "GuardForgetScale";
const GUARD_DONE: &str = "GuardDone";
const GUARD_NOTHING_TO_DO: &str = "GuardNothingToDo";
const GUARD_FAILED: &str = "GuardFailed";

/// The input the `guard` schedule starts the job's state machine with.
pub fn guard_input() -> Value {
    json!({"guard": true})
}

/// Whether an execution's input is a guard's (`guard_input`).
pub fn is_guard_input(input: Option<&Value>) -> bool {
    input.is_some_and(|input| input["guard"] == json!(true))
}

/// The YARN tag of a job's applications: its state machine's name in lower case.
pub fn yarn_tag(state_machine: &str) -> String {
    state_machine.to_lowercase()
}

/// `spark-submit`'s option that tags the application.
pub fn tag_option(tag: &str) -> [String; 2] {
    ["--conf".to_string(), format!("spark.yarn.tags={tag}")]
}

/// `command-runner.jar`'s arguments that kill the YARN applications tagged `tag` that have not
/// ended; the listing failing fails the step (`pipefail`).
pub fn kill_command(tag: &str) -> Vec<String> {
    let script = format!(
        "set -o pipefail; yarn application -list -appStates NEW,NEW_SAVING,SUBMITTED,ACCEPTED,RUNNING -appTags {tag} \
         | awk '$1 ~ /^application_/ {{print $1}}' | xargs -r -n 1 yarn application -kill"
    );
    vec!["bash".to_string(), "-c".to_string(), script]
}

impl JobPlan {
    /// The step that kills the job's YARN applications, then `next` whatever its outcome.
    pub(super) fn kill_applications(&self, next: &str) -> Value {
        json!({
            "Type": "Task",
            "Resource": self.integration("elasticmapreduce:addStep.sync"),
            "Parameters": {
                "ClusterId": self.cluster_id,
                "Step": {
                    "Name": format!("pipectl: kill the YARN applications of job {}", self.label),
                    "ActionOnFailure": "CONTINUE",
                    "HadoopJarStep": {"Jar": "command-runner.jar", "Args": kill_command(&self.yarn_tag)}
                }
            },
            "TimeoutSeconds": KILL_TIMEOUT_SECONDS,
            "ResultPath": null,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.kill_failure", "Next": next}],
            "Next": next
        })
    }

    /// The first state: a guard's execution (`guard_input`) to the guard path, any other to `job`.
    pub(super) fn start(&self, job: &str) -> Value {
        json!({
            "Type": "Choice",
            "Choices": [{"Variable": "$.guard", "IsPresent": true, "Next": GUARD_READ_CLUSTER}],
            "Default": job
        })
    }

    /// The guard path (see the module's header).
    pub(super) fn guard_states(&self) -> Map<String, Value> {
        let mut states = Map::new();
        let failed =
            json!([{"ErrorEquals": ["States.ALL"], "Output": "{% $states.errorOutput %}", "Next": GUARD_FAILED}]);
        states.insert(
            GUARD_READ_CLUSTER.to_string(),
            json!({
                "Type": "Task",
                "QueryLanguage": "JSONata",
                "Resource": self.integration("aws-sdk:emr:describeCluster"),
                "Arguments": {"ClusterId": self.cluster_id},
                "Output": "{% {\"state\": $states.result.Cluster.Status.State} %}",
                "Retry": super::definition::retry(),
                "Catch": failed,
                "Next": GUARD_CLUSTER_ACCEPTS
            }),
        );
        states.insert(
            GUARD_CLUSTER_ACCEPTS.to_string(),
            json!({
                "Type": "Choice",
                "QueryLanguage": "JSONata",
                "Choices": [{"Condition": "{% $states.input.state in [\"RUNNING\", \"WAITING\"] %}", "Next": GUARD_READ_GROUP}],
                "Default": GUARD_NOTHING_TO_DO
            }),
        );
        let group = Value::String(self.group.clone());
        states.insert(
            GUARD_READ_GROUP.to_string(),
            json!({
                "Type": "Task",
                "QueryLanguage": "JSONata",
                "Resource": self.integration("aws-sdk:emr:listInstanceGroups"),
                "Arguments": {"ClusterId": self.cluster_id},
                "Output": format!("{{% {{\"requested\": $states.result.InstanceGroups[Name = {group}].RequestedInstanceCount}} %}}"),
                "Retry": super::definition::retry(),
                "Catch": failed,
                "Next": GUARD_AT_BASELINE
            }),
        );
        states.insert(
            GUARD_AT_BASELINE.to_string(),
            json!({
                "Type": "Choice",
                "QueryLanguage": "JSONata",
                "Choices": [{"Condition": format!("{{% $states.input.requested = {} %}}", self.baseline), "Next": GUARD_FORGET}],
                "Default": GUARD_KILL
            }),
        );
        states.insert(GUARD_KILL.to_string(), self.kill_applications(GUARD_SCALE_BACK));
        let mut scale_back = self.resize(self.baseline);
        scale_back["Catch"] = catch_all_into(GUARD_FAILED);
        scale_back["Next"] = json!(GUARD_FORGET);
        states.insert(GUARD_SCALE_BACK.to_string(), scale_back);
        states.insert(GUARD_FORGET.to_string(), self.record(None, GUARD_DONE));
        states.insert(GUARD_DONE.to_string(), json!({"Type": "Succeed"}));
        states.insert(
            GUARD_NOTHING_TO_DO.to_string(),
            json!({"Type": "Succeed", "Comment": "the cluster is not RUNNING or WAITING: EMR resizes no other"}),
        );
        states.insert(
            GUARD_FAILED.to_string(),
            json!({"Type": "Fail", "Error": "GuardFailed", "Cause": format!("the guard of job {} could not return group {} to {} nodes: the execution's events say why", self.label, self.group, self.baseline)}),
        );
        states
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kill_step_lists_the_tagged_applications_that_have_not_ended_and_kills_each() {
        let command = kill_command("pipectl-p-spark-nightly");
        assert_eq!(&command[..2], ["bash", "-c"]);
        assert_eq!(
            command[2],
            "set -o pipefail; yarn application -list -appStates NEW,NEW_SAVING,SUBMITTED,ACCEPTED,RUNNING -appTags pipectl-p-spark-nightly | awk '$1 ~ /^application_/ {print $1}' | xargs -r -n 1 yarn application -kill"
        );
        assert_eq!(yarn_tag("pipectl-P-Spark-nightly"), "pipectl-p-spark-nightly");
        assert_eq!(tag_option("t"), ["--conf", "spark.yarn.tags=t"]);
    }

    #[test]
    fn a_guards_execution_is_told_from_a_run_by_its_input() {
        assert!(is_guard_input(Some(&guard_input())));
        // What the start schedule and `pipectl run` send, and an execution without input.
        assert!(!is_guard_input(Some(&json!({}))));
        assert!(!is_guard_input(None));
    }
}

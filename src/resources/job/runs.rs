//! A job's executions, as `pipectl run` and `pipectl runs` see them: whose its state machine is,
//! starting one, following it (its status and the states it enters), listing recent ones, and
//! stopping the running ones the way the job's own failure path would end them (`stop`).
//! A state machine or execution AWS does not know is "none", not an error, where the caller
//! asks whether one exists.

use aws_sdk_sfn::types::ExecutionStatus;

use serde_json::Value;

use super::GroupReturned;
use crate::aws::{aws_error, AwsError, Clients};
use crate::model::{ResourceId, Tags, PIPELINE_TAG};
use crate::progress::Progress;
use crate::resources::kit::wait::{wait_until, Poll, WaitOptions};

/// Where an execution is, as DescribeExecution says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionState {
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`, …
    pub status: String,
    /// `error: cause`, when AWS gives either.
    pub error: Option<String>,
}

/// What a person following a run is told about an event of its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionEvent {
    /// A state was entered (its name).
    Entered(String),
    /// A task failed (`error: cause`).
    TaskFailed(String),
}

/// One past (or running) execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastExecution {
    pub arn: String,
    pub name: String,
    pub status: String,
    /// Unix seconds.
    pub started: i64,
    pub stopped: Option<i64>,
}

/// The `pipectl:pipeline` tag of the state machine `machine`: `None` when there is no such state
/// machine, `Some(None)` when it carries no such tag.
pub async fn owner(clients: &Clients, what: &str, machine: &str) -> Result<Option<Option<String>>, AwsError> {
    match clients.sfn.list_tags_for_resource().resource_arn(machine).send().await {
        Ok(output) => {
            let tags: Tags = output
                .tags()
                .iter()
                .filter_map(|tag| Some((tag.key()?.to_string(), tag.value()?.to_string())))
                .collect();
            Ok(Some(tags.get(PIPELINE_TAG).cloned()))
        }
        Err(error) => aws_error(what, "ListTagsForResource", error).unless_not_found(None),
    }
}

/// The ARN of a running execution of `machine`, if one runs (none for a state machine AWS does
/// not know).
pub async fn running_execution(clients: &Clients, what: &str, machine: &str) -> Result<Option<String>, AwsError> {
    let listed = clients
        .sfn
        .list_executions()
        .state_machine_arn(machine)
        .status_filter(ExecutionStatus::Running)
        .max_results(1)
        .send()
        .await;
    match listed {
        Ok(output) => Ok(output.executions().first().map(|execution| execution.execution_arn().to_string())),
        Err(error) => aws_error(what, "ListExecutions", error).unless_not_found(None),
    }
}

/// Starts an execution of `machine` with an empty input; returns its ARN.
pub async fn start_execution(clients: &Clients, what: &str, machine: &str) -> Result<String, AwsError> {
    let output = clients
        .sfn
        .start_execution()
        .state_machine_arn(machine)
        .input("{}")
        .send()
        .await
        .map_err(|error| aws_error(what, "StartExecution", error))?;
    Ok(output.execution_arn().to_string())
}

/// Where `execution` is now.
pub async fn execution_state(clients: &Clients, what: &str, execution: &str) -> Result<ExecutionState, AwsError> {
    let described = clients
        .sfn
        .describe_execution()
        .execution_arn(execution)
        .send()
        .await
        .map_err(|error| aws_error(what, "DescribeExecution", error))?;
    let error = [described.error(), described.cause()].into_iter().flatten().collect::<Vec<_>>().join(": ");
    Ok(ExecutionState { status: described.status().as_str().to_string(), error: (!error.is_empty()).then_some(error) })
}

/// The events of `execution`'s history so far that a person following it is told about, each
/// with its position in the history (from 0), and how many events the history held (all pages).
pub async fn execution_events(
    clients: &Clients,
    what: &str,
    execution: &str,
) -> Result<(Vec<(usize, ExecutionEvent)>, usize), AwsError> {
    let mut events = Vec::new();
    let mut count = 0;
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .sfn
            .get_execution_history()
            .execution_arn(execution)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|error| aws_error(what, "GetExecutionHistory", error))?;
        for event in page.events() {
            if let Some(entered) = event.state_entered_event_details() {
                events.push((count, ExecutionEvent::Entered(entered.name().to_string())));
            }
            if let Some(failed) = event.task_failed_event_details() {
                let why = [failed.error(), failed.cause()].into_iter().flatten().collect::<Vec<_>>().join(": ");
                events.push((count, ExecutionEvent::TaskFailed(why)));
            }
            count += 1;
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok((events, count))
}

/// The most recent runs of `machine`, at most `limit`, newest first (none for a state machine AWS
/// does not know: a job not applied yet has no runs). The executions its `guard` schedule starts
/// (input `{"guard": true}`, see `guard`) are not runs of the job and are left out: ListExecutions
/// does not give an execution's input, so each listed one is described.
pub async fn recent_executions(
    clients: &Clients,
    what: &str,
    machine: &str,
    limit: i32,
) -> Result<Vec<PastExecution>, AwsError> {
    let listed = match clients.sfn.list_executions().state_machine_arn(machine).max_results(limit).send().await {
        Ok(output) => output,
        Err(error) => return aws_error(what, "ListExecutions", error).unless_not_found(Vec::new()),
    };
    let inputs = futures::future::try_join_all(listed.executions().iter().map(|execution| async move {
        let described = clients.sfn.describe_execution().execution_arn(execution.execution_arn()).send().await;
        match described {
            Ok(described) => Ok(described.input().and_then(|input| serde_json::from_str(input).ok())),
            Err(error) => aws_error(what, "DescribeExecution", error).unless_not_found(None),
        }
    }))
    .await?;
    Ok(listed
        .executions()
        .iter()
        .zip(inputs)
        .filter(|(_, input)| !super::guard::is_guard_input(input.as_ref()))
        .map(|(execution, _)| PastExecution {
            arn: execution.execution_arn().to_string(),
            name: execution.name().to_string(),
            status: execution.status().as_str().to_string(),
            started: execution.start_date().secs(),
            stopped: execution.stop_date().map(|date| date.secs()),
        })
        .collect())
}

/// What `stop` did: the executions it stopped, and the group it returned to its baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedRuns {
    /// Each stopped execution's ARN with the status it had once it left RUNNING (`ABORTED`).
    pub executions: Vec<(String, String)>,
    pub returned: Option<GroupReturned>,
}

/// Stops the running executions of job `id`'s state machine `machine` and then does what their
/// own end would have: StopExecution alone skips the definition's kill and resize-back states,
/// so the step that kills the run's YARN applications is added, the group returned to its
/// baseline and the job's size record removed — the path the job's removal takes
/// (`return_group`), read from the live definition. The group is returned only once each stopped
/// execution has left RUNNING (within `wait`): StopExecution's answer does not say it has, and a
/// task still under way (LocalStack's keeps retrying its call for a while) could resize the group
/// after the return. With nothing running it still returns a group the job's record says a run
/// left scaled out (one stopped outside pipectl).
pub async fn stop(
    clients: &Clients,
    progress: &Progress,
    wait: WaitOptions,
    id: &ResourceId,
    machine: &str,
) -> Result<StoppedRuns, AwsError> {
    let stopped = super::stop_running(&clients.sfn, id, machine, "pipectl run --stop").await?;
    let mut executions = Vec::new();
    for execution in stopped {
        // The status the wait last read is the one the execution ended with.
        let last_status = std::cell::RefCell::new(String::new());
        wait_until(id, "stopped", wait, progress, || {
            let (execution, last_status) = (&execution, &last_status);
            async move {
                let state = execution_state(clients, &id.to_string(), execution).await?;
                let running = state.status == "RUNNING";
                *last_status.borrow_mut() = state.status;
                Ok(if running { Poll::Pending(format!("{execution} RUNNING")) } else { Poll::Ready })
            }
        })
        .await?;
        executions.push((execution, last_status.into_inner()));
    }
    let described = clients.sfn.describe_state_machine().state_machine_arn(machine).send().await;
    let definition = match described {
        Ok(described) => serde_json::from_str(described.definition()).unwrap_or(Value::Null),
        Err(error) => aws_error(id, "DescribeStateMachine", error).unless_not_found(Value::Null)?,
    };
    let returned = super::return_group(clients, progress, id, &definition).await?;
    Ok(StoppedRuns { executions, returned })
}

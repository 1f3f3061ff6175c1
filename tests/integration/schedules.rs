//! Schedules that cannot fail silently, on both stacks (Scheduler on moto; SQS on moto, or on
//! LocalStack for the LocalStack stack): the pipeline's dead-letter queue as SQS holds it (tags,
//! 14 days' retention, SSE-SQS, the TLS-only policy), every schedule's retry policy and
//! dead-letter queue (the window pair and the scale-back of `pipectl scale --for`), drift on
//! both brought back by apply, a queue holding failed invocations refused to destroy without
//! `--allow-destroy`, and destroy leaving no queue. The emulators never invoke targets, so what
//! reaches the queue is sent here by hand.

use std::collections::HashMap;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{json, Value};

use crate::support::{changed_fields, found, not_found, pipectl, runtime, unique, Scratch, Stack};

/// The test spec; its window starts twelve hours from now, so that the test's `scale --for 2h`
/// never reaches into it (it would be refused, rightly).
fn spec(pipeline: &str) -> String {
    use chrono::Timelike;
    format!(
        "version: 1\npipeline: {pipeline}\nregion: us-east-1\ntags: {{team: data}}\nnetwork:\n  vpc: {{cidr: 10.61.0.0/16}}\n  subnets: [{{name: private-a, cidr: 10.61.1.0/24, availability_zone: us-east-1a}}]\n  endpoints: [s3]\nbuckets: [{{name: {pipeline}-lake}}]\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: private-a\n    logs: {{bucket: {pipeline}-lake}}\n    master: {{type: m5.xlarge}}\n    core: {{type: m5.xlarge, nodes: 2}}\n    task_groups: [{{name: batch, type: m5.xlarge, nodes: 0}}]\n    schedules:\n      - {{name: night, cron: '0 {hour} * * *', timezone: UTC, group: batch, nodes: 8, for: 30m}}\n",
        hour = (chrono::Utc::now().hour() + 12) % 24
    )
}

/// The queue as SQS holds it: its URL, attributes and tags; None when SQS says there is none
/// (`QueueDoesNotExist`).
async fn held_queue(
    stack: Stack,
    pipeline: &str,
) -> Option<(String, HashMap<QueueAttributeName, String>, HashMap<String, String>)> {
    let sqs = stack.clients().await.sqs;
    let name = format!("{pipeline}-schedules-dlq");
    let read = sqs.get_queue_url().queue_name(&name).send().await;
    let url = found(&format!("queue {name}"), read, not_found::QUEUE)?.queue_url().expect("a queue URL").to_string();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("queue attributes")
        .attributes()
        .cloned()
        .unwrap_or_default();
    let tags =
        sqs.list_queue_tags().queue_url(&url).send().await.expect("queue tags").tags().cloned().unwrap_or_default();
    Some((url, attributes, tags))
}

/// A schedule's retry policy (maximum event age, maximum attempts) and dead-letter queue ARN.
async fn held_retry(stack: Stack, name: &str) -> (Option<(i32, i32)>, Option<String>) {
    let schedule = stack.clients().await.scheduler.get_schedule().name(name).send().await.expect("the schedule");
    let target = schedule.target().expect("a target");
    let retry = target
        .retry_policy()
        .map(|p| (p.maximum_event_age_in_seconds().unwrap_or(-1), p.maximum_retry_attempts().unwrap_or(-1)));
    (retry, target.dead_letter_config().and_then(|d| d.arn()).map(str::to_string))
}

fn schedules_cannot_fail_silently(stack: Stack) {
    require!(stack);
    let runtime = runtime();
    let scratch = Scratch::new(&format!("schedules-{}", stack.tag()));
    let p = unique("dlq", stack);
    let file = scratch.write("spec.yaml", &spec(&p));

    // Apply: the queue exists with its tags, 14 days, SSE-SQS and the TLS-only policy.
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let (url, attributes, tags) = runtime.block_on(held_queue(stack, &p)).expect("the dead-letter queue");
    let attribute = |name: QueueAttributeName| attributes.get(&name).cloned().unwrap_or_default();
    let queue_arn = attribute(QueueAttributeName::QueueArn);
    assert!(queue_arn.ends_with(&format!(":{p}-schedules-dlq")), "{queue_arn}");
    assert_eq!(tags.get("pipectl:pipeline"), Some(&p));
    assert_eq!(tags.get("pipectl:resource").map(String::as_str), Some("queue/schedules-dlq"));
    assert_eq!(tags.get("team").map(String::as_str), Some("data"));
    assert_eq!(attribute(QueueAttributeName::MessageRetentionPeriod), "1209600");
    assert_eq!(attribute(QueueAttributeName::SqsManagedSseEnabled), "true");
    let policy: Value = serde_json::from_str(&attribute(QueueAttributeName::Policy)).expect("a JSON policy");
    let statement = &policy["Statement"][0];
    assert_eq!((&statement["Effect"], &statement["Resource"]), (&json!("Deny"), &json!([queue_arn])), "{policy}");
    assert_eq!(statement["Condition"]["Bool"]["aws:SecureTransport"], json!(["false"]), "{policy}");

    // Both edges of the window retry for at most the 30-minute window, then go to the queue.
    for edge in ["up", "down"] {
        let (retry, dead_letter) = runtime.block_on(held_retry(stack, &format!("pipectl-{p}-spark-night-{edge}")));
        let age = if edge == "up" { 1800 } else { 3600 };
        assert_eq!(retry, Some((age, 10)), "{edge}");
        assert_eq!(dead_letter.as_deref(), Some(queue_arn.as_str()), "{edge}");
    }
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // Drift: a shorter retention and a schedule stripped of its retry policy and queue (as
    // schedules made before pipectl had a queue) are planned as updates and brought back.
    let up = format!("pipectl-{p}-spark-night-up");
    runtime.block_on(async {
        let clients = stack.clients().await;
        clients
            .sqs
            .set_queue_attributes()
            .queue_url(&url)
            .attributes(QueueAttributeName::MessageRetentionPeriod, "345600")
            .send()
            .await
            .expect("shorten retention");
        let schedule = clients.scheduler.get_schedule().name(&up).send().await.expect("up");
        let target = schedule.target().expect("target");
        let bare = aws_sdk_scheduler::types::Target::builder()
            .arn(target.arn())
            .role_arn(target.role_arn())
            .set_input(target.input().map(str::to_string))
            .build()
            .expect("target");
        clients
            .scheduler
            .update_schedule()
            .name(&up)
            .schedule_expression(schedule.schedule_expression().unwrap_or_default())
            .set_schedule_expression_timezone(schedule.schedule_expression_timezone().map(str::to_string))
            .set_description(schedule.description().map(str::to_string))
            .set_flexible_time_window(schedule.flexible_time_window().cloned())
            .target(bare)
            .send()
            .await
            .expect("strip the schedule");
    });
    let plan = pipectl(stack, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
    // moto also drops the queue policy when another attribute is set (see localstack/README.md).
    let expected: &[&str] =
        if stack == Stack::Moto { &["policy", "retention_seconds"] } else { &["retention_seconds"] };
    assert_eq!(changed_fields(&plan, "queue/schedules-dlq"), expected, "{plan}");
    let mut fields = changed_fields(&plan, "schedule/spark-night-up");
    fields.sort();
    assert_eq!(fields, ["dead_letter_queue", "retry"], "{plan}");
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let (_, attributes, _) = runtime.block_on(held_queue(stack, &p)).expect("the queue");
    assert_eq!(attributes.get(&QueueAttributeName::MessageRetentionPeriod).map(String::as_str), Some("1209600"));
    assert_eq!(runtime.block_on(held_retry(stack, &up)), (Some((1800, 10)), Some(queue_arn.clone())));
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // The one-time scale-back of `scale --for` retries and goes to the same queue.
    pipectl(stack, &["scale", "--nodes", "4", "--for", "2h", "-f", &file]).expect(0);
    let (retry, dead_letter) = runtime.block_on(held_retry(stack, &format!("pipectl-{p}-spark-batch-scale-back")));
    assert_eq!(retry, Some((3600, 10)));
    // `scale` builds the ARN from the cluster's account: on AWS the queue's, on the LocalStack
    // stack moto's (EMR is on moto there, SQS on LocalStack; see localstack/README.md).
    let dead_letter = dead_letter.expect("a dead-letter queue");
    match stack {
        Stack::Moto => assert_eq!(dead_letter, queue_arn),
        Stack::LocalStack => assert!(dead_letter.ends_with(&format!(":{p}-schedules-dlq")), "{dead_letter}"),
    }
    pipectl(stack, &["scale", "--reset", "-f", &file]).expect(0);

    // A failed invocation in the queue is data: destroy refuses without --allow-destroy.
    runtime.block_on(async {
        let sqs = stack.clients().await.sqs;
        sqs.send_message().queue_url(&url).message_body("{}").send().await.expect("a dead-letter event");
    });
    let refused = pipectl(stack, &["destroy", "-f", &file, "--auto-approve"]).expect(1);
    assert!(refused.stderr.contains("failed schedule invocation"), "{}", refused.stderr);
    assert!(runtime.block_on(held_queue(stack, &p)).is_some(), "the queue must survive a refused destroy");
    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    assert!(runtime.block_on(held_queue(stack, &p)).is_none(), "destroy leaves no queue");
}

on_both_stacks!(schedules_cannot_fail_silently);

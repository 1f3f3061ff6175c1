//! Alarms on a real emulator (CloudWatch and SNS on LocalStack and on moto): the alarms derived
//! for a stream and a delivery, read back with the SDK (metric, namespace, dimension,
//! threshold in the metric's own unit, period, SNS action), the pipeline's topic with its
//! subscriptions; a threshold edit is an in-place update; plan converges; destroy leaves
//! neither alarms nor topic. A cluster with a batch window gets the `IsIdle` alarm as metric
//! math restricted to the window's UTC minutes of the week (EMR on moto in both stacks,
//! CloudWatch on each stack's own), read back from DescribeAlarms' `Metrics`.

use crate::support::{changed_fields, pipectl, plan_actions, runtime, unique, Scratch, Stack};

fn spec(pipeline: &str, queue_arn: &str, iterator_age: &str) -> String {
    format!(
        "version: 1
pipeline: {pipeline}
region: us-east-1
buckets: [{{name: {pipeline}-lake}}]
streams: [{{name: {pipeline}-events, retention_hours: 24}}]
deliveries:
  - name: {pipeline}-d
    from: {pipeline}-events
    to: {{bucket: {pipeline}-lake, prefix: raw/}}
    buffer: {{interval_seconds: 300}}
alarms:
  notify:
    - {{protocol: email, endpoint: oncall@example.com}}
    - {{protocol: sqs, endpoint: '{queue_arn}'}}
  streams:
    {pipeline}-events: {{iterator_age: {iterator_age}}}
  tags: {{team: data}}
"
    )
}

/// (name, namespace, metric, dimensions `name=value`, statistic, threshold, period, actions).
type AlarmView = (String, String, String, Vec<String>, String, f64, i32, Vec<String>);

async fn alarms(clients: &pipectl::aws::Clients, pipeline: &str) -> Vec<AlarmView> {
    let output = clients
        .cloudwatch
        .describe_alarms()
        .alarm_name_prefix(format!("pipectl-{pipeline}-"))
        .send()
        .await
        .expect("DescribeAlarms");
    let mut found: Vec<AlarmView> = output
        .metric_alarms()
        .iter()
        .map(|a| {
            (
                a.alarm_name().unwrap_or_default().to_string(),
                a.namespace().unwrap_or_default().to_string(),
                a.metric_name().unwrap_or_default().to_string(),
                a.dimensions()
                    .iter()
                    .map(|d| format!("{}={}", d.name().unwrap_or_default(), d.value().unwrap_or_default()))
                    .collect(),
                a.statistic().map(|s| s.as_str().to_string()).unwrap_or_default(),
                a.threshold().unwrap_or_default(),
                a.period().unwrap_or_default(),
                a.alarm_actions().to_vec(),
            )
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// The topic's ARN, if it exists.
async fn topic(clients: &pipectl::aws::Clients, pipeline: &str) -> Option<String> {
    let topics = clients.sns.list_topics().send().await.expect("ListTopics");
    let suffix = format!(":pipectl-{pipeline}-alarms");
    topics.topics().iter().filter_map(|t| t.topic_arn()).find(|arn| arn.ends_with(&suffix)).map(str::to_string)
}

fn alarms_lifecycle(stack: Stack) {
    require!(stack);
    let pipeline = unique("alarms", stack);
    let scratch = Scratch::new(&format!("alarms-{}", stack.tag()));
    let queue_arn = runtime().block_on(async {
        let clients = stack.clients().await;
        let url = clients.sqs.create_queue().queue_name(format!("{pipeline}-pager")).send().await.expect("CreateQueue");
        let url = url.queue_url().expect("QueueUrl").to_string();
        let attributes = clients
            .sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("GetQueueAttributes");
        attributes
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .cloned()
            .expect("QueueArn")
    });
    let file = scratch.write("alarms.yaml", &spec(&pipeline, &queue_arn, "5m"));
    let plan = pipectl(stack, &["plan", "-f", &file]).expect(0);
    assert!(
        plan.stdout.contains(
            "Maximum of GetRecords.IteratorAgeMilliseconds > 300000 milliseconds (5 minutes) for 1 period of 5 minutes"
        ),
        "the plan states the condition in words:\n{}",
        plan.stdout
    );
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);

    let (found, topic_arn, subscriptions, tags) = runtime().block_on(async {
        let clients = stack.clients().await;
        let arn = topic(&clients, &pipeline).await.expect("the alarm topic exists");
        let subscriptions =
            clients.sns.list_subscriptions_by_topic().topic_arn(&arn).send().await.expect("ListSubscriptionsByTopic");
        let mut subscriptions: Vec<String> = subscriptions
            .subscriptions()
            .iter()
            .map(|s| format!("{}:{}", s.protocol().unwrap_or_default(), s.endpoint().unwrap_or_default()))
            .collect();
        subscriptions.sort();
        let tags = clients.sns.list_tags_for_resource().resource_arn(&arn).send().await.expect("ListTagsForResource");
        let tags: Vec<String> = tags.tags().iter().map(|t| format!("{}={}", t.key(), t.value())).collect();
        (alarms(&clients, &pipeline).await, arn, subscriptions, tags)
    });
    assert_eq!(subscriptions, ["email:oncall@example.com".to_string(), format!("sqs:{queue_arn}")]);
    assert!(
        tags.contains(&format!("pipectl:pipeline={pipeline}")) && tags.contains(&"team=data".to_string()),
        "{tags:?}"
    );
    let stream = format!("{pipeline}-events");
    let delivery = format!("{pipeline}-d");
    let expected: Vec<AlarmView> = vec![
        (
            format!("pipectl-{pipeline}-{delivery}-data-freshness"),
            "AWS/Firehose".into(),
            "DeliveryToS3.DataFreshness".into(),
            vec![format!("DeliveryStreamName={delivery}")],
            "Maximum".into(),
            900.0,
            300,
            vec![topic_arn.clone()],
        ),
        (
            format!("pipectl-{pipeline}-{delivery}-delivery-success"),
            "AWS/Firehose".into(),
            "DeliveryToS3.Success".into(),
            vec![format!("DeliveryStreamName={delivery}")],
            "Minimum".into(),
            1.0,
            300,
            vec![topic_arn.clone()],
        ),
        (
            format!("pipectl-{pipeline}-{stream}-iterator-age"),
            "AWS/Kinesis".into(),
            "GetRecords.IteratorAgeMilliseconds".into(),
            vec![format!("StreamName={stream}")],
            "Maximum".into(),
            300_000.0,
            300,
            vec![topic_arn.clone()],
        ),
        (
            format!("pipectl-{pipeline}-{stream}-write-throttled"),
            "AWS/Kinesis".into(),
            "WriteProvisionedThroughputExceeded".into(),
            vec![format!("StreamName={stream}")],
            "Sum".into(),
            0.0,
            300,
            vec![topic_arn.clone()],
        ),
    ];
    assert_eq!(found, expected);
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // A threshold edit is an in-place PutMetricAlarm, stated in the metric's unit.
    let file = scratch.write("alarms.yaml", &spec(&pipeline, &queue_arn, "10m"));
    let plan = pipectl(stack, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
    let id = format!("alarm/{stream}-iterator-age");
    assert_eq!(plan_actions(&plan), [(id.clone(), "update".to_string())]);
    assert_eq!(changed_fields(&plan, &id), ["condition"]);
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let found = runtime().block_on(async { alarms(&stack.clients().await, &pipeline).await });
    let age = found.iter().find(|a| a.0.ends_with("-iterator-age")).expect("the iterator age alarm");
    assert_eq!(age.5, 600_000.0, "10m is 600000 milliseconds");
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    let (left, topic_left) = runtime().block_on(async {
        let clients = stack.clients().await;
        (alarms(&clients, &pipeline).await, topic(&clients, &pipeline).await)
    });
    assert!(left.is_empty() && topic_left.is_none(), "destroy leaves nothing: {left:?} {topic_left:?}");
    // The pager queue is the test's own, not the pipeline's: it goes first.
    runtime().block_on(async {
        let sqs = stack.clients().await.sqs;
        let url = sqs.get_queue_url().queue_name(format!("{pipeline}-pager")).send().await.expect("GetQueueUrl");
        sqs.delete_queue().queue_url(url.queue_url().expect("QueueUrl")).send().await.expect("DeleteQueue");
    });
    let remains = runtime().block_on(crate::remains::remains(stack, &pipeline, &[]));
    assert!(remains.is_empty(), "destroy leaves nothing of {pipeline} (every list paged): {remains:#?}");
}

on_both_stacks!(alarms_lifecycle);

fn idle_spec(pipeline: &str, idle: &str) -> String {
    format!(
        "version: 1\npipeline: {pipeline}\nregion: us-east-1\nnetwork:\n  vpc: {{cidr: 10.62.0.0/16}}\n  subnets: [{{name: private-a, cidr: 10.62.1.0/24, availability_zone: us-east-1a}}]\n  endpoints: [s3]\nbuckets: [{{name: {pipeline}-lake}}]\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: private-a\n    logs: {{bucket: {pipeline}-lake}}\n    master: {{type: m5.xlarge}}\n    core: {{type: m5.xlarge, nodes: 2}}\n    task_groups: [{{name: batch, type: m5.xlarge, nodes: 0}}]\n    schedules:\n      - {{name: night, cron: '0 2 * * MON-FRI', timezone: Asia/Seoul, group: batch, nodes: 8, for: 3h}}\nalarms:\n  clusters:\n    spark: {{idle_in_window: {idle}}}\n"
    )
}

/// The idle alarm's metric math as DescribeAlarms returns it: (id, expression or the metric as
/// `namespace metric dimension stat period`, returned), its evaluation periods and actions.
async fn idle_alarm(
    clients: &pipectl::aws::Clients,
    pipeline: &str,
) -> Option<(Vec<(String, String, bool)>, i32, usize)> {
    let output = clients
        .cloudwatch
        .describe_alarms()
        .alarm_names(format!("pipectl-{pipeline}-spark-idle-in-window"))
        .send()
        .await
        .expect("DescribeAlarms");
    let alarm = output.metric_alarms().first()?;
    let queries = alarm
        .metrics()
        .iter()
        .map(|q| {
            let what = match (q.expression(), q.metric_stat()) {
                (Some(expression), _) => expression.to_string(),
                (None, Some(stat)) => {
                    let metric = stat.metric().expect("the metric");
                    let dimensions: Vec<String> = metric
                        .dimensions()
                        .iter()
                        .map(|d| format!("{}={}", d.name().unwrap_or_default(), d.value().unwrap_or_default()))
                        .collect();
                    format!(
                        "{} {} {} {} {}",
                        metric.namespace().unwrap_or_default(),
                        metric.metric_name().unwrap_or_default(),
                        dimensions.join(","),
                        stat.stat().unwrap_or_default(),
                        stat.period().unwrap_or_default()
                    )
                }
                (None, None) => String::new(),
            };
            (q.id().unwrap_or_default().to_string(), what, q.return_data().unwrap_or(true))
        })
        .collect();
    Some((queries, alarm.evaluation_periods().unwrap_or_default(), alarm.alarm_actions().len()))
}

fn idle_alarm_watches_only_the_batch_window(stack: Stack) {
    require!(stack);
    let pipeline = unique("idle", stack);
    let scratch = Scratch::new(&format!("idle-{}", stack.tag()));
    let file = scratch.write("idle.yaml", &idle_spec(&pipeline, "30m"));
    let plan = pipectl(stack, &["plan", "-f", &file]).expect(0);
    // 02:00-05:00 in Seoul (UTC+9, no daylight saving) on weekdays is 17:00-20:00 UTC the day before.
    assert!(
        plan.stdout.contains("Minimum of IsIdle > 0 (1 when idle) for 6 periods in a row of 5 minutes, only inside the batch windows (Mon,Tue,Wed,Thu,Sun 17:00-20:00 UTC)"),
        "the plan states the window in words:\n{}",
        plan.stdout
    );
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let (queries, periods, actions) =
        runtime().block_on(async { idle_alarm(&stack.clients().await, &pipeline).await }).expect("the idle alarm");
    let cluster_id = queries[0].1.split(' ').nth(2).unwrap_or_default().trim_start_matches("JobFlowId=").to_string();
    assert!(cluster_id.starts_with("j-"), "the dimension is the cluster's id: {queries:?}");
    let day = |d: u32| d * 1440 + 17 * 60;
    let windows: Vec<String> = [day(0), day(1), day(2), day(3), day(6)]
        .iter()
        .map(|s| format!("(minute_of_week>={s} AND minute_of_week<{})", s + 180))
        .collect();
    assert_eq!(
        queries,
        [
            ("idle".to_string(), format!("AWS/ElasticMapReduce IsIdle JobFlowId={cluster_id} Minimum 300"), false),
            ("minute_of_week".to_string(), "(DAY(idle)-1)*1440+HOUR(idle)*60+MINUTE(idle)".to_string(), false),
            ("idle_in_window".to_string(), format!("IF({}, idle)", windows.join(" OR ")), true),
        ]
    );
    assert_eq!((periods, actions), (6, 1), "30m of 5-minute periods, notifying the topic");
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // A new idle threshold is an in-place PutMetricAlarm.
    let file = scratch.write("idle.yaml", &idle_spec(&pipeline, "1h"));
    let plan = pipectl(stack, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
    assert_eq!(plan_actions(&plan), [("alarm/spark-idle-in-window".to_string(), "update".to_string())]);
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let (_, periods, _) =
        runtime().block_on(async { idle_alarm(&stack.clients().await, &pipeline).await }).expect("the idle alarm");
    assert_eq!(periods, 12);
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    let left = runtime().block_on(async { idle_alarm(&stack.clients().await, &pipeline).await });
    assert!(left.is_none(), "destroy leaves no idle alarm: {left:?}");
    let remains = runtime().block_on(crate::remains::remains(stack, &pipeline, &[]));
    assert!(remains.is_empty(), "destroy leaves nothing of {pipeline} (every list paged): {remains:#?}");
}

on_both_stacks!(idle_alarm_watches_only_the_batch_window);

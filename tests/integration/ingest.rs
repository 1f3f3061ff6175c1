//! The ingest API as a user runs it: `examples/front-door.yaml` (renamed per run) applies on
//! both stacks, and what the emulator then holds is read back with the SDK — the REST API with
//! the pipeline's tag, its Kinesis integrations writing as the derived role, the role allowed
//! to put records into that one stream and nothing else, the stage's throttle — the next plan is
//! empty, a change of key and throttle redeploys and plans empty again, and destroy leaves
//! neither API nor role. On LocalStack, which executes API Gateway integrations, an HTTP POST
//! puts a record the test then reads from the stream; a body the schema refuses gets 400 and
//! writes nothing. moto does not execute integrations (localstack/README.md, "The ingest API").

use aws_sdk_apigateway::types::RestApi;

use crate::support::{pipectl, repo_path, runtime, unique, Scratch, Stack};

/// The front door example as pipeline `pipeline`: its names made unique to this run.
pub fn front_door(pipeline: &str) -> String {
    let text = std::fs::read_to_string(repo_path("examples/front-door.yaml")).expect("the example");
    text.replace("front-door", pipeline).replace("clicks", &format!("{pipeline}-clicks"))
}

async fn api_named(stack: Stack, name: &str) -> Option<RestApi> {
    let clients = stack.clients().await;
    let apis = clients.apigateway.get_rest_apis().limit(500).send().await.expect("GetRestApis");
    apis.items().iter().find(|api| api.name() == Some(name)).cloned()
}

/// The resource id of `path` (`/events/x`) in the API.
async fn resource_id(stack: Stack, api: &str, path: &str) -> String {
    let clients = stack.clients().await;
    let resources = clients.apigateway.get_resources().rest_api_id(api).limit(500).send().await.expect("GetResources");
    let found = resources.items().iter().find(|resource| resource.path() == Some(path));
    found.and_then(|resource| resource.id()).unwrap_or_else(|| panic!("no resource {path}")).to_string()
}

/// The stage's whole-stage throttle (`*/*`).
async fn stage_throttle(stack: Stack, api: &str) -> (f64, i32) {
    let clients = stack.clients().await;
    let stage = clients.apigateway.get_stage().rest_api_id(api).stage_name("live").send().await.expect("GetStage");
    let all = stage.method_settings().and_then(|settings| settings.get("*/*")).expect("a */* method setting");
    (all.throttling_rate_limit(), all.throttling_burst_limit())
}

/// The example with another partition key and throttle, and access logs.
fn changed_text(pipeline: &str) -> String {
    let text = front_door(pipeline)
        .replace("rate: 100 ", "rate: 50 ")
        .replace("{ field: user_id }", "{ header: X-Device-Id }");
    text.replace("  routes:", "  access_logs: {retention_days: 14}\n  routes:")
}

/// Access logs need API Gateway's CloudWatch Logs role of the account, an account-wide setting
/// pipectl never makes: where the emulator has none (moto), apply says so and changes nothing of
/// the stage's logs; then the test sets it, as an administrator would.
fn the_account_logging_role_is_set(stack: Stack, file: &str) {
    let client = runtime().block_on(stack.clients()).apigateway;
    let account = runtime().block_on(client.get_account().send()).expect("GetAccount");
    if account.cloudwatch_role_arn().is_none_or(str::is_empty) {
        let refused = pipectl(stack, &["apply", "-f", file, "--auto-approve"]).expect(1);
        assert!(refused.stderr.contains("access logs need API Gateway's CloudWatch Logs role"), "{}", refused.stderr);
    }
    the_account_logging_role_is_set_by_an_administrator(stack);
}

/// Sets the region's API Gateway logging role of the emulator's account, if it has none.
pub fn the_account_logging_role_is_set_by_an_administrator(stack: Stack) {
    let runtime = runtime();
    let client = runtime.block_on(stack.clients()).apigateway;
    let account = runtime.block_on(client.get_account().send()).expect("GetAccount");
    if account.cloudwatch_role_arn().is_some_and(|arn| !arn.is_empty()) {
        return;
    }
    let role = aws_sdk_apigateway::types::PatchOperation::builder()
        .op(aws_sdk_apigateway::types::Op::Replace)
        .path("/cloudwatchRoleArn")
        .value("arn:aws:iam::123456789012:role/api-gateway-cloudwatch")
        .build();
    runtime.block_on(client.update_account().patch_operations(role).send()).expect("UpdateAccount");
}

async fn access_logs_group_gone(stack: Stack, group: &str) -> bool {
    let logs = stack.clients().await.logs;
    let groups = logs.describe_log_groups().log_group_name_prefix(group).send().await.expect("DescribeLogGroups");
    groups.log_groups().is_empty()
}

/// The stage's access log destination, and the log group's retention.
async fn access_logs(stack: Stack, api: &str, group: &str) -> (Option<String>, Option<i32>) {
    let clients = stack.clients().await;
    let stage = clients.apigateway.get_stage().rest_api_id(api).stage_name("live").send().await.expect("GetStage");
    let destination = stage.access_log_settings().and_then(|settings| settings.destination_arn()).map(str::to_string);
    let groups =
        clients.logs.describe_log_groups().log_group_name_prefix(group).send().await.expect("DescribeLogGroups");
    let retention = groups
        .log_groups()
        .iter()
        .find(|found| found.log_group_name() == Some(group))
        .and_then(|found| found.retention_in_days());
    (destination, retention)
}

/// The usage plan named `name`, and the value of the key attached to it.
async fn usage_plan(stack: Stack, name: &str) -> Option<(aws_sdk_apigateway::types::UsagePlan, String)> {
    let client = stack.clients().await.apigateway;
    let plans = client.get_usage_plans().limit(500).send().await.expect("GetUsagePlans");
    let plan = plans.items().iter().find(|plan| plan.name() == Some(name))?.clone();
    let keys = client.get_usage_plan_keys().usage_plan_id(plan.id()?).send().await.expect("GetUsagePlanKeys");
    let key = keys.items().first().and_then(|key| key.id()).expect("a key on the plan").to_string();
    let key = client.get_api_key().api_key(key).include_value(true).send().await.expect("GetApiKey");
    Some((plan, key.value().unwrap_or_default().to_string()))
}

/// POSTs `body` to the stage on LocalStack (its path-style route, which needs no DNS), with
/// `headers` besides its content type.
fn post(stack: Stack, api: &str, path: &str, body: &str, headers: &[String]) -> (u16, String) {
    let url = format!("{}/_aws/execute-api/{api}/live/{path}", stack.endpoint());
    let mut args = vec!["-s", "-o", "-", "-w", "\n%{http_code}", "-X", "POST", &url];
    args.extend(["-H", "Content-Type: application/json", "-d", body]);
    for header in headers {
        args.extend(["-H", header.as_str()]);
    }
    let output = std::process::Command::new("curl").args(&args).output().expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').expect("a status line");
    (status.trim().parse().expect("an HTTP status"), body.to_string())
}

/// Every record in the stream's one shard, as (partition key, data).
async fn records(stack: Stack, stream: &str) -> Vec<(String, String)> {
    let kinesis = stack.clients().await.kinesis;
    let shards = kinesis.list_shards().stream_name(stream).send().await.expect("ListShards");
    let shard = shards.shards().first().expect("one shard").shard_id().to_string();
    let iterator = kinesis
        .get_shard_iterator()
        .stream_name(stream)
        .shard_id(shard)
        .shard_iterator_type(aws_sdk_kinesis::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .expect("GetShardIterator");
    let got = kinesis.get_records().shard_iterator(iterator.shard_iterator().unwrap_or_default()).send().await;
    got.expect("GetRecords")
        .records()
        .iter()
        .map(|record| {
            (
                record.partition_key().unwrap_or_default().to_string(),
                String::from_utf8_lossy(record.data().as_ref()).into_owned(),
            )
        })
        .collect()
}

fn the_front_door_applies_serves_plans_clean_and_destroys(stack: Stack) {
    let runtime = runtime();
    let pipeline = unique("fd", stack);
    let stream = format!("{pipeline}-clicks");
    let scratch = Scratch::new(&pipeline);
    let file = scratch.write("front-door.yaml", &front_door(&pipeline));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);

    let api = runtime.block_on(api_named(stack, &format!("{pipeline}-ingest"))).expect("the ingest API exists");
    let api_id = api.id().expect("an id").to_string();
    let tags = api.tags().cloned().unwrap_or_default();
    assert_eq!(tags.get("pipectl:pipeline"), Some(&pipeline), "{tags:?}");
    let role = format!("{pipeline}-ingest-apigateway-use1");
    for (path, action) in
        [(format!("/events/{stream}"), "PutRecord"), (format!("/events/{stream}/batch"), "PutRecords")]
    {
        let resource = runtime.block_on(resource_id(stack, &api_id, &path));
        let clients = runtime.block_on(stack.clients());
        let integration =
            clients.apigateway.get_integration().rest_api_id(&api_id).resource_id(resource).http_method("POST");
        let integration = runtime.block_on(integration.send()).expect("GetIntegration");
        assert!(
            integration.uri().unwrap_or_default().ends_with(&format!(":kinesis:action/{action}")),
            "{integration:?}"
        );
        assert!(integration.credentials().unwrap_or_default().ends_with(&format!("/{role}")), "{integration:?}");
    }
    assert_eq!(runtime.block_on(stage_throttle(stack, &api_id)), (100.0, 200));
    let clients = runtime.block_on(stack.clients());
    let policy = runtime.block_on(clients.iam.get_role_policy().role_name(&role).policy_name("pipectl").send());
    let policy = pipectl::iam::parse_document(policy.expect("GetRolePolicy").policy_document()).expect("JSON");
    let statement = &policy["Statement"][0];
    assert_eq!(statement["Action"], serde_json::json!(["kinesis:PutRecord", "kinesis:PutRecords"]), "{policy}");
    let resources = statement["Resource"].as_array().expect("resources");
    assert!(
        resources.len() == 1 && resources[0].as_str().unwrap_or_default().ends_with(&format!(":stream/{stream}")),
        "{policy}"
    );
    let alarms = runtime.block_on(
        clients.cloudwatch.describe_alarms().alarm_name_prefix(format!("pipectl-{pipeline}-{pipeline}-ingest")).send(),
    );
    let mut alarms: Vec<(String, String, f64)> = alarms
        .expect("DescribeAlarms")
        .metric_alarms()
        .iter()
        .map(|alarm| {
            let dimension = alarm
                .dimensions()
                .first()
                .map(|d| format!("{}={}", d.name().unwrap_or_default(), d.value().unwrap_or_default()));
            (
                alarm.metric_name().unwrap_or_default().to_string(),
                dimension.unwrap_or_default(),
                alarm.threshold().unwrap_or_default(),
            )
        })
        .collect();
    alarms.sort_by(|a, b| a.0.cmp(&b.0));
    let api_name = format!("ApiName={pipeline}-ingest");
    assert_eq!(
        alarms,
        [
            ("4XXError".to_string(), api_name.clone(), 50.0),
            ("5XXError".to_string(), api_name.clone(), 0.0),
            ("Latency".to_string(), api_name, 2000.0)
        ],
        "the API's alarms, by metric"
    );
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    if stack == Stack::LocalStack {
        let event = r#"{"event_id": "e1", "user_id": "u-42", "event_type": "click"}"#;
        let (status, answer) = post(stack, &api_id, &format!("events/{stream}"), event, &[]);
        assert_eq!(status, 200, "{answer}");
        let (status, answer) = post(stack, &api_id, &format!("events/{stream}"), r#"{"event_id": "e2"}"#, &[]);
        assert_eq!(status, 400, "the schema requires user_id and event_type: {answer}");
        let batch = r#"{"records": [{"event_id": "e3", "user_id": "u-7", "event_type": "view"}]}"#;
        let (status, answer) = post(stack, &api_id, &format!("events/{stream}/batch"), batch, &[]);
        assert!(status == 200 && answer.contains("\"FailedRecordCount\": 0"), "{status} {answer}");
        let held = runtime.block_on(records(stack, &stream));
        let keys: Vec<&str> = held.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, ["u-42", "u-7"], "the refused event wrote nothing: {held:?}");
        let first: serde_json::Value = serde_json::from_str(&held[0].1).expect("the record is the event");
        assert_eq!(first["event_id"], "e1");
        // `pipectl verify` puts its canary through the API (TestInvokeMethod, which LocalStack
        // runs): it lands in the stream with the canary's id as its user_id, the route's key.
        // Nobody delivers it to the lake here, so verify ends unconfirmed.
        let verify = pipectl(stack, &["verify", "-f", &file, "--timeout", "2s", "--poll", "1s"]).expect(1);
        let through = format!("through the ingest API's POST /events/{stream}");
        assert!(
            verify.stderr.contains(&through) || verify.stdout.contains(&through),
            "{}\n{}",
            verify.stdout,
            verify.stderr
        );
        let canary =
            runtime.block_on(records(stack, &stream)).into_iter().find(|(_, data)| data.contains("pipectl_canary"));
        let (key, data) = canary.expect("the canary is in the stream");
        let canary: serde_json::Value = serde_json::from_str(data.trim()).expect("the canary is JSON");
        assert_eq!(
            (canary["user_id"].as_str(), canary["pipectl_canary"].as_str()),
            (Some(key.as_str()), Some(key.as_str()))
        );
    }

    // A new key and throttle: the routes are redeployed, the stage re-throttled, and the
    // next plan is empty again.
    let changed = scratch.write("front-door.yaml", &changed_text(&pipeline));
    let plan = pipectl(stack, &["plan", "-f", &changed]).expect(0);
    assert!(plan.stdout.contains("a new deployment replaces what the stage serves"), "{}", plan.stdout);
    the_account_logging_role_is_set(stack, &changed);
    pipectl(stack, &["apply", "-f", &changed, "--auto-approve"]).expect(0);
    assert_eq!(runtime.block_on(stage_throttle(stack, &api_id)), (50.0, 200));
    let group = format!("/pipectl/{pipeline}/ingest-access");
    let (destination, retention) = runtime.block_on(access_logs(stack, &api_id, &group));
    assert!(
        destination.is_some_and(|arn| arn.ends_with(&format!(":log-group:{group}"))),
        "the stage logs to the group"
    );
    assert_eq!(retention, Some(14));
    pipectl(stack, &["plan", "-f", &changed, "--detailed-exitcode"]).expect(0);

    api_keys_come_and_go(stack, &scratch, &pipeline, &api_id, &changed);

    pipectl(stack, &["destroy", "-f", &changed, "--auto-approve", "--allow-destroy"]).expect(0);
    assert!(runtime.block_on(api_named(stack, &format!("{pipeline}-ingest"))).is_none(), "the API is gone");
    let role_read = runtime.block_on(clients.iam.get_role().role_name(&role).send());
    assert!(role_read.is_err(), "the role is gone");
    assert!(runtime.block_on(access_logs_group_gone(stack, &group)), "the log group is gone");
}

#[test]
fn front_door_on_localstack() {
    require!(Stack::LocalStack);
    the_front_door_applies_serves_plans_clean_and_destroys(Stack::LocalStack);
}

#[test]
fn front_door_on_moto() {
    require!(Stack::Moto);
    the_front_door_applies_serves_plans_clean_and_destroys(Stack::Moto);
}

/// Through the fidelity proxy, which refuses an AWS integration without a role as AWS does (and
/// makes new roles unusable for a while): the front door still applies, plans empty and
/// destroys, so every integration pipectl puts names its role.
#[test]
fn front_door_through_the_fidelity_proxy() {
    let stack = Stack::LocalStack;
    require!(stack);
    let pipeline = unique("fdp", stack);
    let scratch = Scratch::new(&pipeline);
    let file = scratch.write("front-door.yaml", &front_door(&pipeline));
    let proxy = crate::proxy::StackProxy::start(stack, &["--fidelity-rules", "apigateway-integration-role,fresh-iam"]);
    let run = proxy.pipectl(&["apply", "-f", &file, "--auto-approve"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let refused = proxy.stats()["fidelity"]["apigateway-integration-role apigateway:PutIntegration"].as_u64();
    assert_eq!(refused.unwrap_or(0), 0, "{}", proxy.stats());
    proxy.pipectl(&["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    proxy.pipectl(&["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

/// API keys: a usage plan on the stage with the quota, the key attached; on LocalStack a
/// request without the key is refused (403) and one with it is written; without `api_keys`
/// again (`changed`), the plan and the key are gone.
fn api_keys_come_and_go(stack: Stack, scratch: &Scratch, pipeline: &str, api_id: &str, changed: &str) {
    let runtime = runtime();
    let stream = format!("{pipeline}-clicks");
    let keyed =
        changed_text(pipeline).replace("  routes:", "  api_keys:\n    quota: {limit: 1000, period: day}\n  routes:");
    let keyed = scratch.write("keyed.yaml", &keyed);
    pipectl(stack, &["apply", "-f", &keyed, "--auto-approve"]).expect(0);
    let (plan, key) = runtime.block_on(usage_plan(stack, &format!("{pipeline}-ingest"))).expect("a usage plan");
    assert_eq!((plan.quota().map(|q| q.limit()), plan.api_stages().len()), (Some(1000), 1), "{plan:?}");
    assert_eq!(plan.api_stages()[0].api_id(), Some(api_id));
    pipectl(stack, &["plan", "-f", &keyed, "--detailed-exitcode"]).expect(0);
    if stack == Stack::LocalStack {
        let event = r#"{"event_id": "e9", "user_id": "u-9", "event_type": "click"}"#;
        let device = "X-Device-Id: d-1".to_string();
        let (status, _) = post(stack, api_id, &format!("events/{stream}"), event, std::slice::from_ref(&device));
        assert_eq!(status, 403, "no key, no entry");
        let (status, answer) =
            post(stack, api_id, &format!("events/{stream}"), event, &[format!("x-api-key: {key}"), device.clone()]);
        assert_eq!(status, 200, "{answer}");
    }
    pipectl(stack, &["apply", "-f", changed, "--auto-approve"]).expect(0);
    assert!(runtime.block_on(usage_plan(stack, &format!("{pipeline}-ingest"))).is_none(), "the usage plan is gone");
    pipectl(stack, &["plan", "-f", changed, "--detailed-exitcode"]).expect(0);
}

/// The domain name with its certificate, and what its root mapping serves (API id, stage).
async fn domain(stack: Stack, name: &str) -> Option<(Option<String>, Vec<(String, String)>)> {
    let client = stack.clients().await.apigateway;
    let domain = client.get_domain_name().domain_name(name).send().await.ok()?;
    let mappings = client.get_base_path_mappings().domain_name(name).send().await.expect("GetBasePathMappings");
    let mappings = mappings
        .items()
        .iter()
        .map(|m| (m.rest_api_id().unwrap_or_default().to_string(), m.stage().unwrap_or_default().to_string()))
        .collect();
    Some((domain.regional_certificate_arn().map(str::to_string), mappings))
}

/// A custom domain: created with the certificate, the stage mapped at its root, an empty plan; a
/// new stage name maps the new stage; destroy removes the domain. (A new certificate is
/// `UpdateDomainName`, which neither emulator implements: AWS's alone.)
fn the_front_door_has_a_domain(stack: Stack) {
    require!(stack);
    let runtime = runtime();
    let pipeline = unique("fm", stack);
    let scratch = Scratch::new(&pipeline);
    let name = format!("{pipeline}.example.com");
    let certificate = "arn:aws:acm:us-east-1:123456789012:certificate/1234abcd-12ab-34cd-56ef-1234567890ab";
    let with_domain = |stage: &str| {
        let text: String = front_door(&pipeline)
            .lines()
            .filter(|line| !line.starts_with("  stage:"))
            .map(|line| format!("{line}\n"))
            .collect();
        let domain =
            format!("  stage: {stage}\n  domain: {{name: {name}, certificate_arn: '{certificate}'}}\n  routes:");
        text.replace("  routes:", &domain)
    };
    let file = scratch.write("front-door.yaml", &with_domain("live"));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let api = runtime.block_on(api_named(stack, &format!("{pipeline}-ingest"))).expect("the API");
    let api_id = api.id().unwrap_or_default().to_string();
    let held = runtime.block_on(domain(stack, &name)).expect("the domain exists");
    assert_eq!(held, (Some(certificate.to_string()), vec![(api_id.clone(), "live".to_string())]));
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    let output = pipectl(stack, &["output", "-f", &file, &format!("api_domain/{name}"), "--value", "url"]).expect(0);
    assert_eq!(output.stdout.trim(), format!("https://{name}"));
    let file = scratch.write("front-door.yaml", &with_domain("v2"));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let held = runtime.block_on(domain(stack, &name)).expect("the domain exists");
    assert_eq!(held.1, vec![(api_id, "v2".to_string())], "the new stage is served");
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    assert!(runtime.block_on(domain(stack, &name)).is_none(), "the domain is gone");
}

on_both_stacks!(the_front_door_has_a_domain);

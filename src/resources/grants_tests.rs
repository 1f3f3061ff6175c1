//! The deployer policy with the real kinds' grants (`deployer_grants`): what the kinds declare
//! together, folded as `pipectl permissions` prints it. (The fold's own unit tests use hand-made
//! grants; each kind tests its own grants in its module.)

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use super::{deployer_grants, KINDS};
use crate::iam::deployer::{allows, policy, GrantContext, Purpose};
use crate::spec::{Spec, SpecBuilder};

fn policy_for(spec: &Spec, region: &str, account: &str, purpose: Purpose) -> Value {
    policy(deployer_grants(&GrantContext::new(spec, region, account)), purpose)
}

fn statement<'a>(policy: &'a Value, sid: &str) -> &'a Value {
    crate::resources::test_support::statement(policy, sid)
}

/// The reference example, with every section but a bucket of another kind.
fn example() -> Spec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/clickstream.yaml");
    crate::spec::load_file(&path).expect("the reference example loads").spec
}

#[test]
fn streams_and_deliveries_the_spec_dropped_are_reached_by_the_pipelines_tag_only() {
    let spec = SpecBuilder::new().bucket("lake").build();
    for (purpose, deletes) in [(Purpose::Plan, false), (Purpose::Everything, true)] {
        let policy = policy_for(&spec, "eu-west-1", "123456789012", purpose);
        for (sid, arn, delete) in [
            ("OwnStreamsTheSpecDropped", "arn:aws:kinesis:eu-west-1:123456789012:stream/*", "kinesis:DeleteStream"),
            (
                "OwnDeliveriesTheSpecDropped",
                "arn:aws:firehose:eu-west-1:123456789012:deliverystream/*",
                "firehose:DeleteDeliveryStream",
            ),
        ] {
            let statement = statement(&policy, sid);
            assert_eq!(statement["Resource"], json!([arn]));
            assert_eq!(statement["Condition"]["StringEquals"]["aws:ResourceTag/pipectl:pipeline"], "p");
            let actions = statement["Action"].as_array().expect("actions");
            assert_eq!(actions.contains(&json!(delete)), deletes, "{sid} {purpose:?}");
        }
    }
}

#[test]
fn roles_are_reached_under_the_specs_iam_path() {
    let mut spec = SpecBuilder::new().stream("events", 1).build();
    spec.iam = Some(crate::spec::Iam { path: Some("/teams/data/".to_string()), ..Default::default() });
    let policy = policy_for(&spec, "eu-west-1", "123456789012", Purpose::Everything);
    for sid in ["ReadRoles", "ChangeRoles", "PassOwnRolesToTheirServices"] {
        assert_eq!(
            statement(&policy, sid)["Resource"][0],
            "arn:aws:iam::123456789012:role/teams/data/pipectl/p/eu-west-1/*",
            "{sid}"
        );
    }
}

#[test]
fn the_plan_policy_only_reads_and_is_scoped_to_the_specs_names() {
    let spec = SpecBuilder::new().stream("events", 1).bucket("lake").build();
    let read = policy_for(&spec, "eu-west-1", "123456789012", Purpose::Plan);
    assert!(allows(&read, "kinesis:DescribeStreamSummary") && !allows(&read, "kinesis:CreateStream"));
    assert!(!allows(&read, "dynamodb:PutItem"), "plan takes no lock");
    assert!(allows(&read, "tag:GetResources"), "plan finds the pipeline's resources by the tag index");
    let text = read.to_string();
    assert!(text.contains("arn:aws:kinesis:eu-west-1:123456789012:stream/events"), "{text}");
    let all = policy_for(&spec, "cn-north-1", "*", Purpose::Everything);
    assert!(allows(&all, "kinesis:CreateStream") && allows(&all, "dynamodb:PutItem"));
    assert!(all.to_string().contains("arn:aws-cn:s3:::lake"), "the partition follows the region");
    assert_eq!(
        statement(&all, "HoldTheLock")["Resource"],
        json!(["arn:aws-cn:dynamodb:cn-north-1:*:table/pipectl-locks"])
    );
}

/// One pipeline's deployer reaches only its own lease: every item action is conditioned on the
/// partition key (the pipeline's name), and the table-level statement holds no item action.
#[test]
fn the_lock_grant_reaches_only_the_pipelines_own_item() {
    let spec = SpecBuilder::new().stream("events", 1).build();
    let all = policy_for(&spec, "eu-west-1", "123456789012", Purpose::Everything);
    for action in ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"] {
        assert_eq!(crate::resources::test_support::sids_allowing(&all, action), ["HoldThePipelinesLease"], "{action}");
    }
    let item = statement(&all, "HoldThePipelinesLease");
    assert_eq!(item["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"], json!([spec.pipeline]));
    assert_eq!(item["Condition"]["Null"]["dynamodb:LeadingKeys"], json!("false"));
    assert!(statement(&all, "HoldTheLock")["Condition"].is_null());
}

#[test]
fn reads_come_first_and_the_unscoped_ones_in_one_statement() {
    let policy = policy_for(&example(), "us-east-1", "123456789012", Purpose::Everything);
    let statements = policy["Statement"].as_array().expect("statements");
    assert_eq!(statements[0]["Sid"], "ReadWhatCannotBeScoped");
    assert_eq!(statements[0]["Resource"], json!(["*"]));
    let unscoped = statements[0]["Action"].as_array().expect("actions");
    for action in ["tag:GetResources", "ec2:DescribeVpcs", "s3:ListAllMyBuckets", "glue:GetCrawlers", "iam:ListRoles"] {
        assert!(unscoped.contains(&json!(action)), "{action}");
    }
    let sids_of = |policy: &Value| -> Vec<String> {
        let statements = policy["Statement"].as_array().expect("statements");
        statements.iter().filter_map(|s| s["Sid"].as_str()).map(str::to_string).collect()
    };
    let plan = sids_of(&policy_for(&example(), "us-east-1", "123456789012", Purpose::Plan));
    let sids = sids_of(&policy);
    assert_eq!(sids[..plan.len()], plan[..], "the plan's statements lead, in the same order");
    let mut unique = sids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), sids.len(), "one statement per Sid: {sids:?}");
}

#[test]
fn every_service_a_kind_passes_a_role_to_is_named_in_one_statement() {
    let policy = policy_for(&example(), "us-east-1", "123456789012", Purpose::Everything);
    let pass = statement(&policy, "PassOwnRolesToTheirServices");
    assert_eq!(pass["Action"], json!(["iam:PassRole"]));
    let mut services: Vec<&str> = pass["Condition"]["StringEquals"]["iam:PassedToService"]
        .as_array()
        .expect("services")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    services.sort_unstable();
    assert_eq!(
        services,
        [
            "ec2.amazonaws.com",
            "elasticmapreduce.amazonaws.com",
            "firehose.amazonaws.com",
            "glue.amazonaws.com",
            "scheduler.amazonaws.com",
            "states.amazonaws.com"
        ]
    );
}

/// The fold unites grants that share a Sid; that is only what each grant asked for when they
/// agree on the scope of their conditions (the same operators and keys).
#[test]
fn grants_that_share_a_sid_agree_on_their_conditions_keys() {
    let mut spec = example();
    spec.iam = Some(crate::spec::Iam { path: Some("/teams/data/".to_string()), ..Default::default() });
    let grants = deployer_grants(&GrantContext::new(&spec, "us-east-1", "*"));
    let mut shapes: BTreeMap<&str, Vec<(String, Vec<String>)>> = BTreeMap::new();
    for grant in &grants {
        let shape: Vec<(String, Vec<String>)> = grant
            .condition
            .as_ref()
            .and_then(Value::as_object)
            .map(|operators| {
                operators
                    .iter()
                    .map(|(operator, keys)| {
                        (operator.clone(), keys.as_object().map(|k| k.keys().cloned().collect()).unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let first = shapes.entry(grant.sid).or_insert_with(|| shape.clone());
        assert_eq!(*first, shape, "{}: the grants of one Sid differ in their conditions", grant.sid);
    }
}

#[test]
fn every_kind_says_what_it_needs() {
    let spec = example();
    let ctx = GrantContext::new(&spec, "us-east-1", "123456789012");
    for kind in KINDS {
        let grants = kind.grants(&ctx);
        assert!(grants.iter().any(|grant| !grant.resources.is_empty()), "{} grants nothing", kind.name());
    }
}

//! The deployer policy with the real kinds' grants (`deployer_grants`): what the kinds declare
//! together, folded as `pipectl permissions` prints it. (The fold's own unit tests use hand-made
//! grants; each kind tests its own grants in its module.)

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use super::{deployer_grants, KINDS};
use crate::iam::deployer::{policy, GrantContext, Purpose};
use crate::iam::evaluate::{allowed, Request};
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
    for sid in ["ReadRoles", "ChangeRoles", "WriteRolesWithinTheBoundary", "ChangeOwnRoleTrust"] {
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
    let stream = |name: &str| format!("arn:aws:kinesis:eu-west-1:123456789012:stream/{name}");
    let on = |action: &str, arn: &str| Request::new(action, arn);
    assert!(allowed(&read, &on("kinesis:DescribeStreamSummary", &stream("events"))));
    assert!(!allowed(&read, &on("kinesis:DescribeStreamSummary", &stream("other"))), "another stream, untagged");
    let tagged = |arn: &str, pipeline: &str| {
        on("kinesis:DescribeStreamSummary", arn).with("aws:ResourceTag/pipectl:pipeline", &[pipeline])
    };
    assert!(allowed(&read, &tagged(&stream("dropped"), "p")), "a stream the spec dropped, by its tag");
    assert!(!allowed(&read, &tagged(&stream("theirs"), "p-b")), "another pipeline's stream");
    let creating = on("kinesis:CreateStream", &stream("events")).with("aws:RequestTag/pipectl:pipeline", &["p"]);
    assert!(!allowed(&read, &creating));
    let lock = "arn:aws:dynamodb:eu-west-1:123456789012:table/pipectl-locks";
    assert!(!allowed(&read, &on("dynamodb:PutItem", lock).with("dynamodb:LeadingKeys", &["p"])), "plan takes no lock");
    assert!(allowed(&read, &on("tag:GetResources", "*")), "plan finds the pipeline's resources by the tag index");
    let all = policy_for(&spec, "cn-north-1", "*", Purpose::Everything);
    let china = "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/events";
    assert!(allowed(&all, &on("kinesis:CreateStream", china).with("aws:RequestTag/pipectl:pipeline", &["p"])));
    let china_lock = "arn:aws-cn:dynamodb:cn-north-1:123456789012:table/pipectl-locks";
    assert!(allowed(&all, &on("dynamodb:PutItem", china_lock).with("dynamodb:LeadingKeys", &["p"])));
    assert!(allowed(&all, &on("s3:GetBucketTagging", "arn:aws-cn:s3:::lake")), "the partition follows the region");
    assert!(!allowed(&all, &on("s3:GetBucketTagging", "arn:aws:s3:::lake")), "not the other partition's");
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
fn each_role_is_passed_to_its_one_service_in_that_services_own_statement_in_every_partition() {
    for (region, partition, emr, ec2) in [
        ("us-east-1", "aws", "elasticmapreduce.amazonaws.com", "ec2.amazonaws.com"),
        ("cn-north-1", "aws-cn", "elasticmapreduce.amazonaws.com.cn", "ec2.amazonaws.com.cn"),
        ("us-gov-west-1", "aws-us-gov", "elasticmapreduce.amazonaws.com", "ec2.amazonaws.com"),
    ] {
        let policy = policy_for(&example(), region, "123456789012", Purpose::Everything);
        let statements = policy["Statement"].as_array().expect("statements");
        let passing: Vec<&Value> = statements
            .iter()
            .filter(|s| s["Action"].as_array().is_some_and(|a| a.contains(&json!("iam:PassRole"))))
            .collect();
        let mut services: Vec<&str> = Vec::new();
        for statement in &passing {
            assert_eq!(statement["Action"], json!(["iam:PassRole"]), "{statement}");
            // One service, as a single value: never a list a role could be passed to.
            let service = statement["Condition"]["StringEquals"]["iam:PassedToService"].as_str();
            let service = service.unwrap_or_else(|| panic!("one service in {statement}"));
            assert!(!services.contains(&service), "{service} in two statements");
            services.push(service);
            // Named roles, none by wildcard.
            for role in statement["Resource"].as_array().expect("roles") {
                let role = role.as_str().expect("an ARN");
                assert!(role.starts_with(&format!(
                    "arn:{partition}:iam::123456789012:role/pipectl/clickstream/{region}/clickstream-"
                )));
                assert!(!role.contains('*'), "{role}");
            }
        }
        services.sort_unstable();
        let mut expected = [emr, ec2, "firehose.amazonaws.com", "scheduler.amazonaws.com", "states.amazonaws.com"];
        expected.sort_unstable();
        assert_eq!(services, expected, "{region}");
    }
}

/// Whether IAM's resource pattern `pattern` (`*` any run of characters, `?` one, `${*}` and
/// `${?}` the characters themselves) matches `arn`.
fn matches(pattern: &str, arn: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Token {
        Any,
        One,
        Char(char),
    }
    let mut tokens = Vec::new();
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        let (token, skip) = match rest {
            _ if rest.starts_with("${*}") => (Token::Char('*'), 4),
            _ if rest.starts_with("${?}") => (Token::Char('?'), 4),
            _ if c == '*' => (Token::Any, 1),
            _ if c == '?' => (Token::One, 1),
            _ => (Token::Char(c), c.len_utf8()),
        };
        tokens.push(token);
        rest = &rest[skip..];
    }
    let text: Vec<char> = arn.chars().collect();
    // reachable[j]: the tokens so far can match text[..j].
    let mut reachable = vec![false; text.len() + 1];
    reachable[0] = true;
    for token in tokens {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            match token {
                Token::Any => next[j] = reachable[j] || (j > 0 && next[j - 1]),
                Token::One => next[j] = j > 0 && reachable[j - 1],
                Token::Char(c) => next[j] = j > 0 && reachable[j - 1] && text[j - 1] == c,
            }
        }
        reachable = next;
    }
    reachable[text.len()]
}

#[test]
fn iam_patterns_match_as_iam_matches_them() {
    assert!(matches("arn:aws:sqs:r:1:clk-*", "arn:aws:sqs:r:1:clk-b-schedules-dlq"));
    assert!(!matches("arn:aws:sqs:r:1:clk-schedules-dlq", "arn:aws:sqs:r:1:clk-b-schedules-dlq"));
    assert!(matches("a?c", "abc") && !matches("a?c", "ac"));
    assert!(matches("cluster/${*}", "cluster/*") && !matches("cluster/${*}", "cluster/j-1"));
}

/// The reference example as pipeline `name`: every name of the spec that carries the pipeline's
/// name carries `name` instead, so two such specs name no resource in common.
fn example_as(name: &str) -> Spec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/clickstream.yaml");
    let text = std::fs::read_to_string(path).expect("the reference example").replace("clickstream", name);
    crate::spec::load_bytes("example.yaml", text.as_bytes()).expect("the example as another pipeline")
}

/// What the test below allows to match another pipeline's names, each for its reason
/// (docs/deployer-policy.md says more): actions with no resource type, so `*` (list calls;
/// RunJobFlow and CreateCrawler, with the pipeline's tag required in the request, which create
/// and cannot reach what exists; Unsubscribe, a subscription's ARN IAM cannot scope); reads by
/// the name prefix the reads list by (they read, and change nothing); and schedules, which carry
/// no tags and must be found and deleted by prefix once the spec drops them.
const MAY_REACH_BY_PREFIX: [&str; 17] = [
    "ReadWhatCannotBeScoped",
    "FindCatalogDatabases",
    "StartTaggedClusters",
    "CreateTaggedCrawlers",
    "UnsubscribeFromTheAlarmTopic",
    "ReadClusters",
    "ReadSchedules",
    "ReadCrawlers",
    "ReadJobs",
    "ReadJobRuns",
    "ReadAlarms",
    "ChangeSchedules",
    // EMR security configurations have no resource type and no tags (docs/deployer-policy.md).
    "ChangeEmrSecurityConfiguration",
    // REST API ids are AWS's choice: the API is found among the region's by name and tag, and
    // created with the tag in the request (its changes are conditioned on the tag).
    "FindIngestApis",
    "CreateTaggedIngestApi",
    "FindIngestDomains",
    "CreateTaggedIngestDomain",
];

#[test]
fn with_a_boundary_the_reference_policy_writes_roles_only_within_it_and_reaches_no_other_pipeline() {
    let boundary = "arn:aws:iam::123456789012:policy/data-pipelines-boundary";
    let with_boundary = |name: &str| {
        let mut spec = example_as(name);
        spec.iam = Some(crate::spec::Iam { permissions_boundary: Some(boundary.to_string()), ..Default::default() });
        spec
    };
    let policy = policy_for(&with_boundary("clk"), "us-east-1", "123456789012", Purpose::Everything);
    let statements = policy["Statement"].as_array().expect("statements");
    let actions = |statement: &Value| -> Vec<String> {
        statement["Action"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
    };
    // Every action for which the Service Authorization Reference lists iam:PermissionsBoundary.
    let role_writes = [
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PutRolePermissionsBoundary",
        "iam:DeleteRolePermissionsBoundary",
    ];
    for statement in statements {
        let writes: Vec<String> =
            actions(statement).into_iter().filter(|a| role_writes.contains(&a.as_str())).collect();
        if writes.is_empty() {
            continue;
        }
        assert_eq!(
            statement["Condition"]["StringEquals"]["iam:PermissionsBoundary"], boundary,
            "{writes:?} without the boundary: {statement}"
        );
        assert!(!writes.iter().any(|a| a == "iam:DeleteRolePermissionsBoundary"), "{statement}");
    }
    let own_role = "arn:aws:iam::123456789012:role/pipectl/clk/us-east-1/clk-spark-emr-ec2-use1";
    let remove = crate::iam::evaluate::Request::new("iam:DeleteRolePermissionsBoundary", own_role)
        .with("iam:PermissionsBoundary", &[boundary])
        .with("aws:ResourceTag/pipectl:pipeline", &["clk"]);
    assert!(!crate::iam::evaluate::allowed(&policy, &remove), "nothing removes the boundary");
    // Pipeline `clk-b`'s names: those its own policy names exactly, and the derived ones its
    // reads find by prefix.
    let other = policy_for(&with_boundary("clk-b"), "us-east-1", "123456789012", Purpose::Everything);
    let mut names: Vec<String> = other["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .flat_map(|statement| statement["Resource"].as_array().cloned().unwrap_or_default())
        .filter_map(|arn| arn.as_str().map(str::to_string))
        .filter(|arn| !arn.contains('*'))
        // What every pipeline of the account shares: the Glue Data Catalog, which every catalog
        // call names, and the lock table (its items are the lock's business).
        .filter(|arn| !arn.ends_with(":catalog") && !arn.ends_with(":table/pipectl-locks"))
        .collect();
    let region = "arn:aws:{}:us-east-1:123456789012";
    names.extend(
        [
            ("scheduler", "schedule/default/pipectl-clk-b-spark-nightly-start"),
            ("glue", "crawler/pipectl-clk-b-raw"),
            ("states", "execution:pipectl-clk-b-spark-nightly:night-1"),
            ("cloudwatch", "alarm:pipectl-clk-b-spark-apps-failed"),
            ("sqs", "clk-b-schedules-dlq"),
        ]
        .map(|(service, resource)| format!("{}:{resource}", region.replace("{}", service))),
    );
    names.push("arn:aws:iam::123456789012:role/pipectl/clk-b/us-east-1/clk-b-spark-emr-ec2-use1".to_string());
    names.push(
        "arn:aws:iam::123456789012:instance-profile/pipectl/clk-b/us-east-1/clk-b-spark-emr-ec2-use1".to_string(),
    );
    assert!(names.len() > 20, "{names:?}");
    for statement in statements {
        let sid = statement["Sid"].as_str().unwrap_or_default();
        // Only the pipeline's own tagged resources: `clk-b`'s carry `pipectl:pipeline=clk-b`.
        let by_tag = statement["Condition"]["StringEquals"]["aws:ResourceTag/pipectl:pipeline"] == "clk";
        if by_tag || MAY_REACH_BY_PREFIX.contains(&sid) {
            continue;
        }
        for pattern in statement["Resource"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            if let Some(name) = names.iter().find(|name| matches(pattern, name)) {
                panic!("{sid}'s {pattern} reaches pipeline clk-b's {name}");
            }
        }
    }
}

#[test]
fn every_derived_roles_trust_names_the_account_where_its_service_documents_a_key() {
    for region in ["us-east-1", "cn-north-1", "us-gov-west-1"] {
        let arns = crate::iam::Arns::new("123456789012", region);
        let graph = super::graph_in(&example(), &arns, chrono::Utc::now());
        let mut trusts = 0;
        for node in graph.iter().filter(|node| node.id.kind == super::role::KIND) {
            let trust = node.attributes()["trust_policy"].to_string();
            // EC2 documents no confused-deputy key for an instance profile's role.
            if trust.contains("ec2.amazonaws.com") {
                assert!(!trust.contains("Condition"), "{trust}");
                continue;
            }
            assert!(trust.contains("\"123456789012\""), "{}: {trust}", node.id);
            assert!(trust.contains("aws:SourceAccount") || trust.contains("sts:ExternalId"), "{}: {trust}", node.id);
            trusts += 1;
        }
        // The delivery's, EMR's service role, the scheduler's and the job's.
        assert_eq!(trusts, 4, "{region}");
    }
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

/// The role kind's grants with a boundary (here, as role.rs is at its size limit).
#[test]
fn with_a_boundary_every_role_write_iam_can_condition_requires_it_and_none_removes_it() {
    use crate::iam::deployer::Purpose;
    use crate::resources::test_support::{granted, sids_allowing, statement};
    let boundary = "arn:aws:iam::123456789012:policy/pipeline-boundary";
    let mut spec = crate::spec::SpecBuilder::new()
        .item(
            "roles",
            "{name: reader, trust: firehose.amazonaws.com, managed_policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}"
                .to_string(),
        )
        .build();
    spec.iam = Some(crate::spec::Iam { permissions_boundary: Some(boundary.to_string()), ..Default::default() });
    let all = granted(&super::role::Role, &spec, Purpose::Everything);
    let within = statement(&all, "WriteRolesWithinTheBoundary");
    assert_eq!(within["Condition"], serde_json::json!({"StringEquals": {"iam:PermissionsBoundary": boundary}}));
    // Every action for which the Service Authorization Reference lists iam:PermissionsBoundary.
    for action in [
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PutRolePermissionsBoundary",
    ] {
        assert_eq!(sids_allowing(&all, action), ["WriteRolesWithinTheBoundary"], "{action}");
    }
    // AttachRolePolicy: the boundary and only the managed policies the spec names, on the
    // declared role only.
    let attach = statement(&all, "AttachOnlyTheSpecsManagedPolicies");
    assert_eq!(
        attach["Condition"],
        serde_json::json!({"StringEquals": {"iam:PermissionsBoundary": boundary},
            "ArnEquals": {"iam:PolicyARN": ["arn:aws:iam::aws:policy/ReadOnlyAccess"]}})
    );
    assert_eq!(
        attach["Resource"],
        serde_json::json!(["arn:aws:iam::123456789012:role/pipectl/p/eu-west-1/p-reader-euw1"])
    );
    assert!(sids_allowing(&all, "iam:DeleteRolePermissionsBoundary").is_empty());
    // The trust of a role IAM takes no boundary key for: only the pipeline's tagged roles.
    assert_eq!(
        statement(&all, "ChangeOwnRoleTrust")["Condition"],
        serde_json::json!({"StringEquals": {"aws:ResourceTag/pipectl:pipeline": "p"}})
    );
    // Without managed policies in the spec, no AttachRolePolicy at all.
    spec.roles[0].managed_policies.clear();
    assert!(sids_allowing(&granted(&super::role::Role, &spec, Purpose::Everything), "iam:AttachRolePolicy").is_empty());
}

#[test]
fn the_verify_policy_puts_canaries_into_the_fed_streams_and_reads_only_the_deliveries_prefixes() {
    let spec = example();
    let verify = policy_for(&spec, "us-east-1", "123456789012", Purpose::Verify);
    let sids: Vec<&str> = verify["Statement"].as_array().unwrap().iter().map(|s| s["Sid"].as_str().unwrap()).collect();
    // The streams use the AWS managed key: no KMS grant.
    assert_eq!(sids, ["PutCanaries", "ReadDeliveriesToVerify", "ReadCanariesInTheLake", "ListCanaryPrefixes"]);
    // Only the stream a delivery reads gets canaries (not clickstream-marketing).
    assert_eq!(
        statement(&verify, "PutCanaries")["Resource"],
        json!(["arn:aws:kinesis:us-east-1:123456789012:stream/clickstream-events"])
    );
    let lake = "arn:aws:s3:::clickstream-lake-example";
    assert_eq!(
        statement(&verify, "ReadCanariesInTheLake")["Resource"],
        json!([format!("{lake}/raw/events/*/*"), format!("{lake}/errors/events/*/*/*")])
    );
    let list = statement(&verify, "ListCanaryPrefixes");
    assert_eq!(list["Resource"], json!([lake]));
    assert_eq!(list["Condition"], json!({"StringLike": {"s3:prefix": ["raw/events/*", "errors/events/*"]}}));
    let reads = |policy: &Value, key: &str| allowed(policy, &Request::new("s3:GetObject", &format!("{lake}/{key}")));
    assert!(reads(&verify, "raw/events/2026/12/07/x.parquet"));
    assert!(!reads(&verify, "tmp/scratch"));
    // Nothing else: no write but the canary, no read of the rest of the account.
    assert!(!allowed(&verify, &Request::new("kinesis:CreateStream", "*")));
    // The deployer's policy holds no canary grant, and the plan policy none either.
    for purpose in [Purpose::Everything, Purpose::Plan] {
        let deployer = policy_for(&spec, "us-east-1", "123456789012", purpose);
        let stream = "arn:aws:kinesis:us-east-1:123456789012:stream/clickstream-events";
        assert!(!allowed(&deployer, &Request::new("kinesis:PutRecord", stream)), "{purpose:?}");
    }
}

#[test]
fn canaries_into_a_stream_with_a_customer_key_may_use_that_key() {
    let mut spec = example();
    spec.streams[0].kms_key = Some("arn:aws:kms:us-east-1:123456789012:key/abc".to_string());
    let verify = policy_for(&spec, "us-east-1", "123456789012", Purpose::Verify);
    let encrypt = statement(&verify, "EncryptCanaries");
    assert_eq!(encrypt["Action"], json!(["kms:GenerateDataKey"]));
    assert_eq!(encrypt["Resource"], json!(["arn:aws:kms:us-east-1:123456789012:key/abc"]));
}

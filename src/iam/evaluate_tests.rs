//! One test per rule of `evaluate` (the IAM User Guide pages its header names).

use serde_json::{json, Value};

use super::*;

fn allow(statement: Value) -> Value {
    let mut statement = statement;
    statement["Effect"] = json!("Allow");
    json!({"Version": "2012-10-17", "Statement": [statement]})
}

const STREAM: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/clk-events";

#[test]
fn nothing_allows_what_no_statement_names() {
    let policy = allow(json!({"Action": "kinesis:CreateStream", "Resource": STREAM}));
    assert_eq!(evaluate(&policy, &Request::new("kinesis:DeleteStream", STREAM)), Decision::ImplicitlyDenied);
    assert_eq!(evaluate(&policy, &Request::new("kinesis:CreateStream", STREAM)), Decision::Allowed);
    assert_eq!(
        evaluate(&json!({"Statement": []}), &Request::new("kinesis:CreateStream", STREAM)),
        Decision::ImplicitlyDenied
    );
    // One statement, not in a list.
    let single = json!({"Statement": {"Effect": "Allow", "Action": "kinesis:CreateStream", "Resource": "*"}});
    assert!(allowed(&single, &Request::new("kinesis:CreateStream", STREAM)));
}

#[test]
fn an_explicit_deny_wins_over_any_allow() {
    let policy = json!({"Statement": [
        {"Effect": "Allow", "Action": "kinesis:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "kinesis:DeleteStream", "Resource": STREAM},
    ]});
    assert_eq!(evaluate(&policy, &Request::new("kinesis:DeleteStream", STREAM)), Decision::ExplicitlyDenied);
    assert_eq!(evaluate(&policy, &Request::new("kinesis:CreateStream", STREAM)), Decision::Allowed);
    let other = "arn:aws:kinesis:us-east-1:123456789012:stream/other";
    assert_eq!(evaluate(&policy, &Request::new("kinesis:DeleteStream", other)), Decision::Allowed);
}

#[test]
fn actions_match_case_insensitively_with_wildcards() {
    let policy = allow(json!({"Action": ["s3:Get*", "kinesis:Describe?tream"], "Resource": "*"}));
    assert!(allowed(&policy, &Request::new("s3:GetBucketTagging", "*")));
    assert!(allowed(&policy, &Request::new("S3:getbuckettagging", "*")), "actions are case-insensitive");
    assert!(allowed(&policy, &Request::new("kinesis:DescribeStream", "*")));
    assert!(!allowed(&policy, &Request::new("kinesis:DescribeStreamSummary", "*")), "? is one character");
    assert!(!allowed(&policy, &Request::new("s3:PutObject", "*")));
    assert!(!allowed(&policy, &Request::new("sqs:GetQueueUrl", "*")), "the prefix is part of the pattern");
}

#[test]
fn not_action_matches_every_action_it_does_not_list() {
    let policy = allow(json!({"NotAction": ["iam:*"], "Resource": "*"}));
    assert!(allowed(&policy, &Request::new("kinesis:CreateStream", STREAM)));
    assert!(!allowed(&policy, &Request::new("iam:CreateRole", "*")));
    assert!(!allowed(&allow(json!({"Resource": "*"})), &Request::new("kinesis:CreateStream", STREAM)), "no action");
}

#[test]
fn resources_match_case_sensitively_part_by_part() {
    let policy = allow(json!({"Action": "kinesis:*", "Resource": "arn:aws:kinesis:*:123456789012:stream/clk-*"}));
    assert!(allowed(&policy, &Request::new("kinesis:DeleteStream", STREAM)));
    let upper = "arn:aws:kinesis:us-east-1:123456789012:stream/CLK-events";
    assert!(!allowed(&policy, &Request::new("kinesis:DeleteStream", upper)), "ARNs are case-sensitive");
    let other_account = "arn:aws:kinesis:us-east-1:210987654321:stream/clk-events";
    assert!(!allowed(&policy, &Request::new("kinesis:DeleteStream", other_account)));
    // A `*` in one part does not reach into the next: the region's `*` cannot eat the account.
    let spanning = allow(json!({"Action": "kinesis:*", "Resource": "arn:aws:kinesis:*:stream/clk-events"}));
    assert!(!allowed(&spanning, &Request::new("kinesis:DeleteStream", STREAM)));
    // The sixth part is the rest of the ARN, colons and slashes included.
    let log = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/x:*";
    let logs = allow(json!({"Action": "logs:*", "Resource": "arn:aws:logs:us-east-1:123456789012:log-group:*"}));
    assert!(allowed(&logs, &Request::new("logs:PutLogEvents", log)));
    assert!(allowed(&allow(json!({"Action": "s3:*", "Resource": "*"})), &Request::new("s3:ListAllMyBuckets", "*")));
    let bucket = allow(json!({"Action": "s3:*", "Resource": "arn:aws:s3:::lake"}));
    assert!(!allowed(&bucket, &Request::new("s3:ListAllMyBuckets", "*")), "a scoped statement does not cover `*`");
    let question = allow(json!({"Action": "s3:*", "Resource": "arn:aws:s3:::lak?"}));
    assert!(allowed(&question, &Request::new("s3:ListBucket", "arn:aws:s3:::lake")));
    assert!(!allowed(&question, &Request::new("s3:ListBucket", "arn:aws:s3:::lakes")));
}

#[test]
fn not_resource_matches_every_resource_it_does_not_list() {
    let policy = allow(json!({"Action": "s3:*", "NotResource": "arn:aws:s3:::secret*"}));
    assert!(allowed(&policy, &Request::new("s3:GetObject", "arn:aws:s3:::lake/key")));
    assert!(!allowed(&policy, &Request::new("s3:GetObject", "arn:aws:s3:::secret/key")));
}

#[test]
fn a_key_the_request_lacks_fails_a_positive_operator() {
    let policy = allow(json!({"Action": "ec2:CreateTags", "Resource": "*",
        "Condition": {"StringEquals": {"aws:RequestTag/pipectl:pipeline": "clk"}}}));
    assert!(!allowed(&policy, &Request::new("ec2:CreateTags", "*")));
    assert!(allowed(&policy, &Request::new("ec2:CreateTags", "*").with("aws:RequestTag/pipectl:pipeline", &["clk"])));
    assert!(!allowed(
        &policy,
        &Request::new("ec2:CreateTags", "*").with("aws:RequestTag/pipectl:pipeline", &["clk-b"])
    ));
    assert!(!allowed(&policy, &Request::new("ec2:CreateTags", "*").with("aws:RequestTag/pipectl:pipeline", &["CLK"])));
    // Condition key names are case-insensitive.
    assert!(allowed(&policy, &Request::new("ec2:CreateTags", "*").with("AWS:requesttag/pipectl:pipeline", &["clk"])));
}

#[test]
fn a_key_the_request_lacks_satisfies_a_negated_operator_and_if_exists() {
    let negated = allow(json!({"Action": "s3:*", "Resource": "*",
        "Condition": {"StringNotEquals": {"s3:x-amz-acl": "public-read"}}}));
    assert!(allowed(&negated, &Request::new("s3:PutObject", "*")));
    assert!(!allowed(&negated, &Request::new("s3:PutObject", "*").with("s3:x-amz-acl", &["public-read"])));
    assert!(allowed(&negated, &Request::new("s3:PutObject", "*").with("s3:x-amz-acl", &["private"])));
    let if_exists = allow(json!({"Action": "iam:CreateRole", "Resource": "*",
        "Condition": {"StringEqualsIfExists": {"iam:PermissionsBoundary": "arn:aws:iam::1:policy/b"}}}));
    assert!(allowed(&if_exists, &Request::new("iam:CreateRole", "*")));
    assert!(allowed(
        &if_exists,
        &Request::new("iam:CreateRole", "*").with("iam:PermissionsBoundary", &["arn:aws:iam::1:policy/b"])
    ));
    assert!(!allowed(
        &if_exists,
        &Request::new("iam:CreateRole", "*").with("iam:PermissionsBoundary", &["arn:aws:iam::1:policy/c"])
    ));
}

#[test]
fn null_tests_whether_the_key_is_present() {
    let absent =
        allow(json!({"Action": "ec2:*", "Resource": "*", "Condition": {"Null": {"aws:RequestTag/x": "true"}}}));
    assert!(allowed(&absent, &Request::new("ec2:RunInstances", "*")));
    assert!(!allowed(&absent, &Request::new("ec2:RunInstances", "*").with("aws:RequestTag/x", &["1"])));
    let present =
        allow(json!({"Action": "ec2:*", "Resource": "*", "Condition": {"Null": {"aws:RequestTag/x": false}}}));
    assert!(!allowed(&present, &Request::new("ec2:RunInstances", "*")));
    assert!(allowed(&present, &Request::new("ec2:RunInstances", "*").with("aws:RequestTag/x", &["1"])));
}

#[test]
fn several_values_are_alternatives_and_several_keys_and_operators_must_all_hold() {
    let policy = allow(json!({"Action": "iam:PassRole", "Resource": "*", "Condition": {
        "StringEquals": {"iam:PassedToService": ["firehose.amazonaws.com", "glue.amazonaws.com"],
                         "aws:ResourceTag/pipectl:pipeline": "clk"},
        "Bool": {"aws:SecureTransport": "true"}}}));
    let request = |service: &str, tag: &str, tls: &str| {
        Request::new("iam:PassRole", "*")
            .with("iam:PassedToService", &[service])
            .with("aws:ResourceTag/pipectl:pipeline", &[tag])
            .with("aws:SecureTransport", &[tls])
    };
    assert!(allowed(&policy, &request("firehose.amazonaws.com", "clk", "true")));
    assert!(allowed(&policy, &request("glue.amazonaws.com", "clk", "TRUE")), "Bool ignores case");
    assert!(!allowed(&policy, &request("ec2.amazonaws.com", "clk", "true")), "no listed value");
    assert!(!allowed(&policy, &request("glue.amazonaws.com", "clk-b", "true")), "the second key fails");
    assert!(!allowed(&policy, &request("glue.amazonaws.com", "clk", "false")), "the second operator fails");
}

#[test]
fn string_like_and_arn_like_take_wildcards_and_equals_does_not() {
    let like = allow(json!({"Action": "iam:AttachRolePolicy", "Resource": "*",
        "Condition": {"ArnLike": {"iam:PolicyARN": "arn:aws:iam::aws:policy/service-role/*"}}}));
    let attach = |arn: &str| Request::new("iam:AttachRolePolicy", "*").with("iam:PolicyARN", &[arn]);
    assert!(allowed(&like, &attach("arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2")));
    assert!(!allowed(&like, &attach("arn:aws:iam::aws:policy/AdministratorAccess")));
    let equals = allow(json!({"Action": "iam:AttachRolePolicy", "Resource": "*",
        "Condition": {"StringEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/service-role/*"}}}));
    assert!(!allowed(&equals, &attach("arn:aws:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2")));
    let string_like = allow(json!({"Action": "ec2:CreateTags", "Resource": "*",
        "Condition": {"StringLike": {"ec2:CreateAction": "Create*"}}}));
    let tag = |action: &str| Request::new("ec2:CreateTags", "*").with("ec2:CreateAction", &[action]);
    assert!(allowed(&string_like, &tag("CreateVpc")) && !allowed(&string_like, &tag("RunInstances")));
    let arn_not = allow(json!({"Action": "iam:*", "Resource": "*",
        "Condition": {"ArnNotLike": {"iam:PolicyARN": "arn:aws:iam::aws:policy/Admin*"}}}));
    assert!(!allowed(&arn_not, &attach("arn:aws:iam::aws:policy/AdministratorAccess")));
    assert!(allowed(&arn_not, &attach("arn:aws:iam::aws:policy/ReadOnlyAccess")));
    assert!(allowed(&arn_not, &Request::new("iam:GetRole", "*")), "absent: a negated operator holds");
}

#[test]
fn set_operators_qualify_multivalued_keys() {
    let all = allow(json!({"Action": "ec2:CreateTags", "Resource": "*",
        "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["pipectl:pipeline", "team"]}}}));
    let tags = |keys: &[&str]| Request::new("ec2:CreateTags", "*").with("aws:TagKeys", keys);
    assert!(allowed(&all, &tags(&["team", "pipectl:pipeline"])));
    assert!(!allowed(&all, &tags(&["team", "owner"])), "every value must match");
    assert!(allowed(&all, &Request::new("ec2:CreateTags", "*")), "ForAllValues holds when the key is absent");
    let any = allow(json!({"Action": "ec2:CreateTags", "Resource": "*",
        "Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": "pipectl:*"}}}));
    assert!(allowed(&any, &tags(&["team", "pipectl:pipeline"])));
    assert!(!allowed(&any, &tags(&["team"])));
    assert!(!allowed(&any, &Request::new("ec2:CreateTags", "*")), "ForAnyValue fails when the key is absent");
    let none = allow(json!({"Action": "ec2:CreateTags", "Resource": "*",
        "Condition": {"ForAllValues:StringNotLike": {"aws:TagKeys": "aws:*"}}}));
    assert!(allowed(&none, &tags(&["team"])) && !allowed(&none, &tags(&["team", "aws:x"])));
}

#[test]
fn leading_keys_and_unknown_operators() {
    let lock = allow(json!({"Action": "dynamodb:PutItem", "Resource": "arn:aws:dynamodb:*:*:table/pipectl-locks",
        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["clk/us-east-1"]}}}));
    let table = "arn:aws:dynamodb:us-east-1:123456789012:table/pipectl-locks";
    let put = |key: &str| Request::new("dynamodb:PutItem", table).with("dynamodb:LeadingKeys", &[key]);
    assert!(allowed(&lock, &put("clk/us-east-1")) && !allowed(&lock, &put("clk-b/us-east-1")));
    // An operator this evaluator does not know never holds: a check built on it fails, never passes.
    let unknown = allow(
        json!({"Action": "s3:*", "Resource": "*", "Condition": {"DateLessThan": {"aws:CurrentTime": "2100-01-01"}}}),
    );
    assert!(!allowed(&unknown, &Request::new("s3:GetObject", "*").with("aws:CurrentTime", &["2026-01-01"])));
}

#[test]
fn an_escaped_asterisk_matches_only_an_asterisk() {
    let pattern = "arn:aws:elasticmapreduce:us-east-1:1:cluster/${*}";
    assert!(arn_matches(pattern, "arn:aws:elasticmapreduce:us-east-1:1:cluster/*"));
    assert!(!arn_matches(pattern, "arn:aws:elasticmapreduce:us-east-1:1:cluster/j-ABC"));
    assert!(glob("a${?}b", "a?b") && !glob("a${?}b", "axb") && glob("${$}x*", "$xyz"));
}

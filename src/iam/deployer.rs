//! The deployer's own least-privilege IAM policy: what a CI principal needs to plan, apply, scale
//! and destroy one spec, scoped to the pipeline's names, ARNs and tags wherever AWS supports it
//! (`pipectl permissions`). Offline: it reads the spec, never AWS.
//!
//! Three parts: `action_for`, AWS's mapping from each API operation pipectl calls to the IAM
//! action that authorises it (mostly the same name; S3 renames several), which the integration
//! tests check against every operation pipectl made in a full lifecycle; `Grant`, a statement (or
//! a part of one) that the calls of one kind need, which each kind declares in its own module
//! (`resources::deployer_grants` collects them); and `policy`, the fold of those grants into the
//! document for one purpose. This module knows no kind.

use serde_json::{json, Map, Value};

use crate::iam::Arns;
use crate::names::{iam_role_name, PIPELINE_TAG};
use crate::spec::Spec;

/// What the policy is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// plan, apply, scale, destroy, unlock.
    Everything,
    /// plan only: reads, nothing that changes AWS (the lock is not taken by plan); also what
    /// `output`, `runs` and `status` read.
    Plan,
    /// `pipectl verify` only: put canaries into the streams and read them back from the lake.
    Verify,
}

impl Purpose {
    /// Whether the policy for this purpose holds the grants needed for `scope`: the deployer's
    /// policy holds no canary grant (a principal that may also write records into the streams is
    /// a choice, made by attaching the verify policy too), the verify policy nothing else.
    fn includes(self, scope: Scope) -> bool {
        match self {
            Purpose::Everything => scope != Scope::Verify,
            Purpose::Plan => scope == Scope::Plan,
            Purpose::Verify => scope == Scope::Verify,
        }
    }
}

/// What a grant is needed for; the policy lists statements in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Reads that a plan makes (every command that changes AWS plans first).
    Plan,
    /// Creates and changes in place (apply, scale, run), and holding the lock.
    Apply,
    /// Deletes, and emptying what is deleted.
    Destroy,
    /// What `pipectl verify` needs: write a canary record into a stream, read the lake back.
    Verify,
}

/// An IAM statement, or a part of one, that the calls of one kind (or of the kit, or of the
/// lock) need. Grants that share a Sid become one statement: the union of their actions, of their
/// resources and of their condition values (so a grant's actions are allowed on every resource
/// of the grants it shares its Sid with; grants that share a Sid must agree on the operators and
/// keys of their conditions, which a test of the registry checks).
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub sid: &'static str,
    pub scope: Scope,
    pub actions: Vec<&'static str>,
    /// ARNs (`*` where AWS supports no resource-level permission); a grant with none grants
    /// nothing (e.g. the buckets' when the spec has no bucket).
    pub resources: Vec<String>,
    /// The `Condition` element, e.g. `{"StringEquals": {"aws:ResourceTag/…": "…"}}`.
    pub condition: Option<Value>,
}

impl Grant {
    pub fn new(sid: &'static str, scope: Scope, actions: &[&'static str], resources: Vec<String>) -> Grant {
        Grant { sid, scope, actions: actions.to_vec(), resources, condition: None }
    }

    /// Reads that AWS cannot scope to a resource (list and describe calls): one statement on `*`.
    pub fn unscoped_reads(actions: &[&'static str]) -> Grant {
        Grant::new("ReadWhatCannotBeScoped", Scope::Plan, actions, vec!["*".to_string()])
    }

    /// The grant, allowed only when `condition` holds.
    pub fn when(self, condition: Value) -> Grant {
        Grant { condition: Some(condition), ..self }
    }

    /// Takes in `other`, which has the same Sid.
    fn absorb(&mut self, other: Grant) {
        self.scope = self.scope.min(other.scope);
        union(&mut self.actions, other.actions);
        union(&mut self.resources, other.resources);
        self.condition = match (self.condition.take(), other.condition) {
            (Some(mut mine), Some(theirs)) => {
                merge_condition(&mut mine, theirs);
                Some(mine)
            }
            (mine, theirs) => mine.or(theirs),
        };
    }

    fn statement(self) -> Value {
        let mut statement =
            json!({"Sid": self.sid, "Effect": "Allow", "Action": self.actions, "Resource": self.resources});
        if let (Some(condition), Some(object)) = (self.condition, statement.as_object_mut()) {
            object.insert("Condition".to_string(), condition);
        }
        statement
    }
}

/// Appends what `more` holds that `items` lacks, in order.
fn union<T: PartialEq>(items: &mut Vec<T>, more: Vec<T>) {
    for item in more {
        if !items.contains(&item) {
            items.push(item);
        }
    }
}

/// Unites the values of `theirs` into `mine` under the same operator and key: a key's values
/// become a list when they differ or either was one.
fn merge_condition(mine: &mut Value, theirs: Value) {
    let (Some(mine), Value::Object(theirs)) = (mine.as_object_mut(), theirs) else { return };
    for (operator, keys) in theirs {
        let Value::Object(keys) = keys else { continue };
        let Some(into) = mine.entry(operator).or_insert_with(|| Value::Object(Map::new())).as_object_mut() else {
            continue;
        };
        for (key, value) in keys {
            let merged = match into.remove(&key) {
                None => value,
                Some(existing) => {
                    let listed = existing.is_array() || value.is_array();
                    let mut values = values_of(existing);
                    union(&mut values, values_of(value));
                    if values.len() == 1 && !listed {
                        values.remove(0)
                    } else {
                        Value::Array(values)
                    }
                }
            };
            into.insert(key, merged);
        }
    }
}

fn values_of(value: Value) -> Vec<Value> {
    match value {
        Value::Array(values) => values,
        other => vec![other],
    }
}

/// What several kinds need to say which resources their grants are on.
pub struct GrantContext<'a> {
    pub spec: &'a Spec,
    /// The region's ARNs, with the account id or `*`.
    pub arns: Arns,
    /// The IAM path of the pipeline's roles and instance profiles of this region only
    /// (`Spec::role_path`): the path carries the region.
    pub roles_path: String,
}

impl<'a> GrantContext<'a> {
    /// For `spec` in `region`; `account` is the account id, or `*`.
    pub fn new(spec: &'a Spec, region: &str, account: &str) -> GrantContext<'a> {
        GrantContext { spec, arns: Arns::new(account, region), roles_path: spec.role_path(region) }
    }

    /// `arn:<partition>:<service>:<region>:<account>:<resource>`.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        let Arns { partition, account_id, region } = &self.arns;
        format!("arn:{partition}:{service}:{region}:{account_id}:{resource}")
    }

    /// Every role of the pipeline in this region.
    pub fn roles(&self) -> String {
        self.arns.role(&self.roles_path, "*")
    }

    /// The condition that the resource carries the pipeline's tag.
    pub fn tagged(&self) -> Value {
        json!({"StringEquals": {format!("aws:ResourceTag/{PIPELINE_TAG}"): self.spec.pipeline}})
    }

    /// The condition that the request tags what it creates with the pipeline's tag.
    pub fn tagging(&self) -> Value {
        json!({"StringEquals": {format!("aws:RequestTag/{PIPELINE_TAG}"): self.spec.pipeline}})
    }

    /// The ARN of the pipeline's role `name` (its spec name: declared, or derived by a kind) in
    /// this region.
    pub fn role(&self, name: &str) -> String {
        self.arns.role(&self.roles_path, &iam_role_name(&self.spec.pipeline, name, &self.arns.region))
    }

    /// Passing the pipeline's roles `roles` (spec names) to one service (its short name,
    /// `firehose`, or global principal): `iam:PassRole` on exactly those roles, with
    /// `iam:PassedToService` the service's principal as this partition spells it
    /// (`Arns::service_principal`: `ec2.amazonaws.com.cn` in China). Each service has its own
    /// Sid, so a role passed to one service is never passable to another ("Grant a user
    /// permissions to pass a role to an AWS service", IAM User Guide; `iam:PassedToService`,
    /// "IAM and AWS STS condition context keys").
    pub fn pass_roles(&self, service: &str, roles: &[String]) -> Grant {
        let principal = self.arns.service_principal(service);
        let sid = match principal.split('.').next().unwrap_or_default() {
            "firehose" => "PassDeliveryRolesToFirehose",
            "elasticmapreduce" => "PassClusterRolesToEmr",
            "ec2" => "PassInstanceRolesToEc2",
            "scheduler" => "PassScheduleRolesToScheduler",
            "glue" => "PassCrawlerRolesToGlue",
            "states" => "PassJobRolesToStepFunctions",
            _ => "PassRolesToOtherServices",
        };
        let roles = roles.iter().map(|role| self.role(role)).collect();
        Grant::new(sid, Scope::Apply, &["iam:PassRole"], roles)
            .when(json!({"StringEquals": {"iam:PassedToService": principal}}))
    }

    /// The spec's `iam.permissions_boundary`, if it sets one.
    pub fn boundary(&self) -> Option<&str> {
        self.spec.permissions_boundary()
    }

    /// The condition a role-writing action needs: with a permissions boundary, that the role
    /// has (or, for `CreateRole` and `PutRolePermissionsBoundary`, is given) exactly that
    /// boundary (`iam:PermissionsBoundary`, "Permissions boundaries for IAM entities",
    /// IAM User Guide: delegating responsibility with a boundary). None without a boundary.
    pub fn within_boundary(&self) -> Option<Value> {
        self.boundary().map(|boundary| json!({"StringEquals": {"iam:PermissionsBoundary": boundary}}))
    }

    /// Attaching the AWS managed policies `policies` to the pipeline's roles `roles` (spec
    /// names), and nothing else: `iam:PolicyARN` lists them (an ARN-typed key, so `ArnEquals`;
    /// "IAM and AWS STS condition context keys"), and with a boundary the role must carry it.
    /// The kinds that attach a managed policy each add theirs; no grant is made for none.
    pub fn attach_managed(&self, policies: &[String], roles: &[String]) -> Vec<Grant> {
        if policies.is_empty() || roles.is_empty() {
            return Vec::new();
        }
        let roles = roles.iter().map(|role| self.role(role)).collect();
        let mut condition = self.within_boundary().unwrap_or_else(|| json!({}));
        condition["ArnEquals"] = json!({"iam:PolicyARN": policies});
        vec![Grant::new("AttachOnlyTheSpecsManagedPolicies", Scope::Apply, &["iam:AttachRolePolicy"], roles)
            .when(condition)]
    }
}

/// What `pipectl permissions` says on stderr about a policy for a spec without
/// `iam.permissions_boundary`: what the role-writing statements then allow, and that a boundary
/// closes it. None with a boundary.
pub fn boundary_warning(spec: &Spec, region: &str) -> Option<String> {
    if spec.permissions_boundary().is_some() {
        return None;
    }
    Some(format!(
        "warning: the spec sets no iam.permissions_boundary, so this policy lets its holder create roles under \
         the pipeline's IAM path ({}) with any inline policy and pass them to the pipeline's services: whoever \
         holds it can give such a role any permission in the account. Set iam.permissions_boundary to a managed \
         policy that caps what the pipeline's roles may do: every role-writing statement then requires that \
         boundary (docs/deployer-policy.md).",
        spec.role_path(region)
    ))
}

/// The IAM actions that authorise `operation` of `service` (as the request counter names them,
/// e.g. `s3` and `ListObjectVersions`); empty for calls that need no permission; None for an
/// operation this table does not know (a test fails on those).
pub fn action_for(service: &str, operation: &str) -> Option<Vec<String>> {
    let prefix = match service {
        "emr" => "elasticmapreduce",
        "sfn" => "states",
        "sts" if operation == "GetCallerIdentity" => return Some(Vec::new()),
        other => other,
    };
    let s3 = |actions: &[&str]| Some(actions.iter().map(|a| format!("s3:{a}")).collect());
    if prefix == "s3" {
        // The S3 operations whose IAM action has another name (S3 User Guide, "Amazon S3 API
        // operations and the permissions they require").
        return match operation {
            "ListBuckets" => s3(&["ListAllMyBuckets"]),
            "GetBucketLifecycleConfiguration" => s3(&["GetLifecycleConfiguration"]),
            "PutBucketLifecycleConfiguration" | "DeleteBucketLifecycle" => s3(&["PutLifecycleConfiguration"]),
            "GetBucketEncryption" => s3(&["GetEncryptionConfiguration"]),
            "PutBucketEncryption" => s3(&["PutEncryptionConfiguration"]),
            "GetPublicAccessBlock" => s3(&["GetBucketPublicAccessBlock"]),
            "PutPublicAccessBlock" | "DeletePublicAccessBlock" => s3(&["PutBucketPublicAccessBlock"]),
            "ListObjectVersions" => s3(&["ListBucketVersions"]),
            "DeleteObjects" => s3(&["DeleteObject", "DeleteObjectVersion"]),
            "HeadBucket" | "ListObjectsV2" => s3(&["ListBucket"]),
            // Tags given at creation are authorised by s3:TagResource as well.
            "CreateBucket" => s3(&["CreateBucket", "TagResource"]),
            "GetBucketTagging"
            | "PutBucketTagging"
            | "DeleteBucket"
            | "GetBucketVersioning"
            | "PutBucketVersioning"
            | "GetBucketLocation"
            | "GetBucketPolicy"
            | "PutBucketPolicy"
            | "GetBucketOwnershipControls"
            | "PutBucketOwnershipControls"
            | "PutObject" => s3(&[operation]),
            _ => None,
        };
    }
    if prefix == "apigateway" {
        return Some(vec![apigateway_action(operation)?.to_string()]);
    }
    let known =
        ["ec2", "kinesis", "firehose", "iam", "elasticmapreduce", "scheduler", "dynamodb", "sqs", "tag", "glue"]
            .iter()
            .chain(&["cloudwatch", "sns"])
            .chain(&["athena", "states", "logs", "pricing"])
            .chain(&["redshift", "redshift-data", "secretsmanager"])
            .copied()
            .collect::<Vec<_>>();
    if !known.contains(&prefix) {
        return None;
    }
    let mut actions = vec![format!("{prefix}:{operation}")];
    // Creates that carry tags need the tagging action too.
    match (prefix, operation) {
        ("kinesis", "CreateStream") => actions.push("kinesis:AddTagsToStream".to_string()),
        ("firehose", "CreateDeliveryStream") => actions.push("firehose:TagDeliveryStream".to_string()),
        ("sqs", "CreateQueue") => actions.push("sqs:TagQueue".to_string()),
        ("dynamodb", "CreateTable") => actions.push("dynamodb:TagResource".to_string()),
        ("elasticmapreduce", "RunJobFlow") => actions.push("elasticmapreduce:AddTags".to_string()),
        ("glue", "CreateDatabase" | "CreateCrawler") => actions.push("glue:TagResource".to_string()),
        ("athena", "CreateWorkGroup") => actions.push("athena:TagResource".to_string()),
        // PutMetricAlarm's Tags and CreateTopic's Tags are authorised by TagResource as well.
        ("cloudwatch", "PutMetricAlarm") => actions.push("cloudwatch:TagResource".to_string()),
        ("sns", "CreateTopic") => actions.push("sns:TagResource".to_string()),
        ("states", "CreateStateMachine") => actions.push("states:TagResource".to_string()),
        ("logs", "CreateLogGroup") => actions.push("logs:TagResource".to_string()),
        ("redshift", "CreateCluster" | "CreateClusterSubnetGroup") => actions.push("redshift:CreateTags".to_string()),
        ("secretsmanager", "CreateSecret") => actions.push("secretsmanager:TagResource".to_string()),
        _ => {}
    }
    Some(actions)
}

/// API Gateway's REST API (V1) authorises each operation by the HTTP verb of its request
/// ("Control access for invoking an API", API Gateway Developer Guide: `apigateway:GET`,
/// `POST`, `PUT`, `PATCH`, `DELETE`): reads are GET, creates POST, puts PUT, updates PATCH,
/// deletes DELETE; tagging is PUT and DELETE on `/tags/…`.
fn apigateway_action(operation: &str) -> Option<&'static str> {
    let verb = match operation {
        "TagResource" => "apigateway:PUT",
        "UntagResource" => "apigateway:DELETE",
        "TestInvokeMethod" => "apigateway:POST",
        _ if operation.starts_with("Get") => "apigateway:GET",
        _ if operation.starts_with("Create") => "apigateway:POST",
        _ if operation.starts_with("Put") => "apigateway:PUT",
        _ if operation.starts_with("Update") => "apigateway:PATCH",
        _ if operation.starts_with("Delete") => "apigateway:DELETE",
        _ => return None,
    };
    Some(verb)
}

/// The policy for `purpose` from the grants of the registry: the grants of the purpose's scopes
/// that name a resource, those that share a Sid merged into one statement, Plan's statements
/// first, then Apply's, then Destroy's (a merged statement counts as its earliest scope), each in
/// the order the grants first name it.
pub fn policy(grants: impl IntoIterator<Item = Grant>, purpose: Purpose) -> Value {
    let mut merged: Vec<Grant> = Vec::new();
    for grant in grants.into_iter().filter(|grant| purpose.includes(grant.scope) && !grant.resources.is_empty()) {
        match merged.iter_mut().find(|statement| statement.sid == grant.sid) {
            Some(statement) => statement.absorb(grant),
            None => merged.push(grant),
        }
    }
    merged.sort_by_key(|statement| statement.scope);
    let statements: Vec<Value> = merged.into_iter().map(Grant::statement).collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::evaluate::{allowed, Request};

    /// Whether `policy` allows `action` on bucket `a` (the resource of the grants below).
    fn allows(policy: &Value, action: &str) -> bool {
        allowed(policy, &Request::new(action, "arn:aws:s3:::a"))
    }

    #[test]
    fn s3_operations_map_to_their_iam_actions() {
        assert_eq!(action_for("s3", "ListObjectVersions"), Some(vec!["s3:ListBucketVersions".to_string()]));
        assert_eq!(
            action_for("emr", "RunJobFlow").map(|a| a[0].clone()),
            Some("elasticmapreduce:RunJobFlow".to_string())
        );
        assert_eq!(action_for("sts", "GetCallerIdentity"), Some(Vec::new()));
        assert_eq!(action_for("s3", "SelectObjectContent"), None);
        assert_eq!(action_for("lambda", "Invoke"), None);
        assert_eq!(action_for("tag", "GetResources"), Some(vec!["tag:GetResources".to_string()]));
    }

    fn arns(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| format!("arn:aws:s3:::{name}")).collect()
    }

    #[test]
    fn grants_with_one_sid_become_one_statement_of_their_unions() {
        let policy = policy(
            [
                Grant::new("Read", Scope::Plan, &["s3:GetA", "s3:GetB"], arns(&["a"])),
                Grant::unscoped_reads(&["s3:ListAllMyBuckets"]),
                Grant::new("Read", Scope::Plan, &["s3:GetB", "s3:GetC"], arns(&["b", "a"])),
                Grant::unscoped_reads(&["kinesis:ListStreams", "s3:ListAllMyBuckets"]),
            ],
            Purpose::Plan,
        );
        assert_eq!(
            policy["Statement"],
            json!([
                {"Sid": "Read", "Effect": "Allow", "Action": ["s3:GetA", "s3:GetB", "s3:GetC"],
                 "Resource": ["arn:aws:s3:::a", "arn:aws:s3:::b"]},
                {"Sid": "ReadWhatCannotBeScoped", "Effect": "Allow",
                 "Action": ["s3:ListAllMyBuckets", "kinesis:ListStreams"], "Resource": ["*"]},
            ])
        );
        assert_eq!(policy["Version"], "2012-10-17");
    }

    #[test]
    fn condition_values_under_one_operator_and_key_are_united() {
        let spec = crate::spec::SpecBuilder::new().build();
        let ctx = GrantContext::new(&spec, "eu-west-1", "123456789012");
        let tagged = |actions: &[&'static str]| {
            Grant::new("ChangeOwn", Scope::Apply, actions, vec!["*".to_string()]).when(ctx.tagged())
        };
        let policy = policy(
            [
                ctx.pass_roles("firehose", &["a-firehose".to_string()]),
                tagged(&["ec2:CreateRoute"]),
                ctx.pass_roles("firehose.amazonaws.com", &["b-firehose".to_string()]),
                tagged(&["ec2:DeleteRoute"]),
                ctx.pass_roles("elasticmapreduce", &["c-emr-service".to_string()]),
            ],
            Purpose::Everything,
        );
        let statements = policy["Statement"].as_array().expect("statements");
        assert_eq!(statements.len(), 3);
        let role = |name: &str| format!("arn:aws:iam::123456789012:role/pipectl/p/eu-west-1/p-{name}-euw1");
        // One service a statement, naming each role passed to it.
        assert_eq!(statements[0]["Resource"], json!([role("a-firehose"), role("b-firehose")]));
        assert_eq!(
            statements[0]["Condition"],
            json!({"StringEquals": {"iam:PassedToService": "firehose.amazonaws.com"}})
        );
        assert_eq!(statements[2]["Resource"], json!([role("c-emr-service")]));
        assert_eq!(
            statements[2]["Condition"],
            json!({"StringEquals": {"iam:PassedToService": "elasticmapreduce.amazonaws.com"}})
        );
        let pass = |name: &str, service: &str| {
            Request::new("iam:PassRole", &role(name)).with("iam:PassedToService", &[service])
        };
        assert!(allowed(&policy, &pass("a-firehose", "firehose.amazonaws.com")));
        assert!(!allowed(&policy, &pass("a-firehose", "elasticmapreduce.amazonaws.com")), "only to its service");
        assert!(!allowed(&policy, &pass("c-emr-service", "firehose.amazonaws.com")), "no role to another's");
        // The same single value stays a single value.
        assert_eq!(statements[1]["Condition"], json!({"StringEquals": {"aws:ResourceTag/pipectl:pipeline": "p"}}));
        assert_eq!(statements[1]["Action"], json!(["ec2:CreateRoute", "ec2:DeleteRoute"]));
        let mut differing = json!({"StringEquals": {"k": "a"}});
        merge_condition(&mut differing, json!({"StringEquals": {"k": "b", "j": "c"}, "Bool": {"x": "true"}}));
        assert_eq!(differing, json!({"StringEquals": {"k": ["a", "b"], "j": "c"}, "Bool": {"x": "true"}}));
    }

    #[test]
    fn the_plan_keeps_only_plan_grants_and_statements_come_in_scope_order() {
        let grants = vec![
            Grant::new("Delete", Scope::Destroy, &["s3:DeleteBucket"], arns(&["a"])),
            Grant::new("Change", Scope::Apply, &["s3:PutBucketTagging"], arns(&["a"])),
            Grant::new("Own", Scope::Destroy, &["kinesis:DeleteStream"], arns(&["a"])),
            Grant::new("Read", Scope::Plan, &["s3:GetBucketTagging"], arns(&["a"])),
            Grant::new("Own", Scope::Plan, &["kinesis:DescribeStreamSummary"], arns(&["a"])),
        ];
        let sids = |policy: &Value| -> Vec<String> {
            policy["Statement"].as_array().expect("statements").iter().map(|s| s["Sid"].to_string()).collect()
        };
        let plan = policy(grants.clone(), Purpose::Plan);
        assert_eq!(sids(&plan), ["\"Read\"", "\"Own\""]);
        assert!(allows(&plan, "kinesis:DescribeStreamSummary") && !allows(&plan, "kinesis:DeleteStream"));
        let all = policy(grants, Purpose::Everything);
        // `Own` counts as a Plan statement: one of its grants is.
        assert_eq!(sids(&all), ["\"Own\"", "\"Read\"", "\"Change\"", "\"Delete\""]);
        assert!(allows(&all, "kinesis:DeleteStream") && allows(&all, "s3:DeleteBucket"));
    }

    #[test]
    fn grants_without_resources_grant_nothing() {
        let policy = policy(
            [
                Grant::new("ReadBuckets", Scope::Plan, &["s3:GetBucketTagging"], Vec::new()),
                Grant::new("Catalog", Scope::Plan, &["glue:GetTables"], arns(&["a"])),
                // Not even the actions of a grant of the same Sid that has resources.
                Grant::new("Catalog", Scope::Plan, &["glue:DeleteTable"], Vec::new()),
            ],
            Purpose::Everything,
        );
        assert_eq!(policy["Statement"].as_array().map(Vec::len), Some(1));
        assert!(!allows(&policy, "s3:GetBucketTagging") && !allows(&policy, "glue:DeleteTable"));
        assert!(allows(&policy, "glue:GetTables"));
    }

    #[test]
    fn the_folded_policy_allows_a_call_only_as_scoped() {
        let grants = [
            Grant::new("S", Scope::Plan, &["s3:Get*", "kinesis:ListStreams"], arns(&["a"])),
            Grant::new("T", Scope::Apply, &["s3:PutBucketTagging"], arns(&["a"]))
                .when(json!({"StringEquals": {"aws:ResourceTag/pipectl:pipeline": "p"}})),
        ];
        let policy = policy(grants, Purpose::Everything);
        assert!(allows(&policy, "s3:GetBucketTagging") && allows(&policy, "kinesis:ListStreams"));
        assert!(!allows(&policy, "kinesis:ListStreamConsumers") && !allows(&policy, "s3:PutObject"));
        assert!(!allowed(&policy, &Request::new("s3:GetBucketTagging", "arn:aws:s3:::b")), "another bucket");
        let tagging = Request::new("s3:PutBucketTagging", "arn:aws:s3:::a");
        assert!(!allowed(&policy, &tagging), "the tag condition is not met by a request without the tag");
        assert!(allowed(&policy, &tagging.clone().with("aws:ResourceTag/pipectl:pipeline", &["p"])));
        assert!(!allowed(&policy, &tagging.with("aws:ResourceTag/pipectl:pipeline", &["p-b"])));
    }

    #[test]
    fn without_a_boundary_the_policy_says_what_it_allows_and_that_a_boundary_closes_it() {
        let mut spec = crate::spec::SpecBuilder::new().build();
        let warning = boundary_warning(&spec, "eu-west-1").expect("a warning without a boundary");
        assert!(warning.contains("/pipectl/p/eu-west-1/") && warning.contains("any permission"), "{warning}");
        assert!(warning.contains("iam.permissions_boundary") && warning.contains("docs/deployer-policy.md"));
        spec.iam = Some(crate::spec::Iam {
            permissions_boundary: Some("arn:aws:iam::1:policy/b".to_string()),
            ..Default::default()
        });
        assert_eq!(boundary_warning(&spec, "eu-west-1"), None);
        // The boundary goes into every role-writing condition, with any other key.
        let ctx = GrantContext::new(&spec, "eu-west-1", "1");
        assert_eq!(
            ctx.attach_managed(&["x".to_string()], &["r".to_string()])[0].condition,
            Some(json!({"StringEquals": {"iam:PermissionsBoundary": "arn:aws:iam::1:policy/b"},
                "ArnEquals": {"iam:PolicyARN": ["x"]}}))
        );
        assert!(ctx.attach_managed(&[], &["r".to_string()]).is_empty(), "nothing to attach, no grant");
    }

    #[test]
    fn the_context_names_the_region_account_and_roles_path() {
        let mut spec = crate::spec::SpecBuilder::new().build();
        spec.iam = Some(crate::spec::Iam { path: Some("/teams/data/".to_string()), ..Default::default() });
        let ctx = GrantContext::new(&spec, "cn-north-1", "*");
        assert_eq!(ctx.arn("sqs", "p-*"), "arn:aws-cn:sqs:cn-north-1:*:p-*");
        assert_eq!(ctx.roles(), "arn:aws-cn:iam::*:role/teams/data/pipectl/p/cn-north-1/*");
        assert_eq!(ctx.tagging(), json!({"StringEquals": {"aws:RequestTag/pipectl:pipeline": "p"}}));
    }
}

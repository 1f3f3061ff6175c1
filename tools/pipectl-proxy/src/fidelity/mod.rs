//! Fidelity mode: the rules by which the proxy answers like AWS where the emulators are lenient
//! (each one's source is in the crate documentation, `main.rs`). `refuse` answers a request
//! instead of the emulator; `observe` learns from a response what later rules need and rewrites
//! it where AWS answers differently. The eventual-consistency family is `consistency`, the
//! limits AWS checks on a request `limits`.

mod consistency;
mod limits;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::call::Call;
use crate::http::{decoded_body, replace_body, Message};

/// One real-AWS behaviour of fidelity mode (see the crate documentation for each one's source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    LogUriScheme,
    FreshIam,
    FreshProfileAuthorize,
    DependencyViolation,
    BucketRedirect,
    FreshEc2Ids,
    FreshTable,
    TagIndexLag,
    DeletedListed,
    KinesisTagLimit,
    RolePath,
    EmrGroupMinimums,
    ApiIntegrationRole,
}

impl Rule {
    pub const ALL: [Rule; 13] = [
        Rule::LogUriScheme,
        Rule::FreshIam,
        Rule::FreshProfileAuthorize,
        Rule::DependencyViolation,
        Rule::BucketRedirect,
        Rule::FreshEc2Ids,
        Rule::FreshTable,
        Rule::TagIndexLag,
        Rule::DeletedListed,
        Rule::KinesisTagLimit,
        Rule::RolePath,
        Rule::EmrGroupMinimums,
        Rule::ApiIntegrationRole,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Rule::LogUriScheme => "log-uri-s3n",
            Rule::FreshIam => "fresh-iam",
            Rule::FreshProfileAuthorize => "fresh-profile-authorize",
            Rule::DependencyViolation => "dependency-violation",
            Rule::BucketRedirect => "bucket-region-redirect",
            Rule::FreshEc2Ids => "fresh-ec2-ids",
            Rule::FreshTable => "fresh-table",
            Rule::TagIndexLag => "tag-index-lag",
            Rule::DeletedListed => "deleted-still-listed",
            Rule::KinesisTagLimit => "kinesis-tag-limit",
            Rule::RolePath => "role-path",
            Rule::EmrGroupMinimums => "emr-group-minimums",
            Rule::ApiIntegrationRole => "apigateway-integration-role",
        }
    }

    pub fn parse(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.name() == name)
    }
}

pub struct FidelityOptions {
    pub rules: Vec<Rule>,
    /// How long a new role or instance profile stays unusable.
    pub iam_propagation: Duration,
    /// How long after a cluster terminates its VPC's security groups, subnets and VPC stay in use.
    pub dependency: Duration,
    /// How long the eventual-consistency family lasts after the call that causes it.
    pub consistency: Duration,
    /// How long the tag index lags behind a tagging or a delete (`tag-index-lag`,
    /// `deleted-still-listed`).
    pub index_lag: Duration,
}

impl Default for FidelityOptions {
    fn default() -> FidelityOptions {
        FidelityOptions {
            rules: Vec::new(),
            iam_propagation: Duration::from_secs(5),
            dependency: Duration::from_secs(10),
            consistency: Duration::from_secs(2),
            index_lag: Duration::from_secs(10),
        }
    }
}

/// What fidelity mode has seen pass by.
#[derive(Default)]
struct FidelityState {
    /// Roles and instance profiles by name: when they were created or given their role.
    fresh: HashMap<String, Instant>,
    /// When an EMR cluster was last terminated, or a Redshift cluster deleted.
    terminated: Option<Instant>,
    /// Redshift clusters created through the proxy and not deleted: their subnet group.
    redshift_groups: HashMap<String, String>,
    /// Buckets created through the proxy: their region.
    bucket_regions: HashMap<String, String>,
    /// Roles created under a path: their path, by name.
    role_paths: HashMap<String, String>,
    /// How often `RunJobFlow` was refused for each fresh instance profile.
    profile_refusals: HashMap<String, u32>,
    /// What the eventual-consistency family has seen.
    consistency: consistency::ConsistencyState,
}

/// An answer the proxy gives instead of the emulator.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Refusal {
    /// An error of the JSON 1.1 protocol (EMR, Firehose).
    fn json(code: &str, message: &str) -> Refusal {
        Refusal {
            status: "400 Bad Request",
            headers: vec![("Content-Type", "application/x-amz-json-1.1".to_string())],
            body: serde_json::json!({"__type": code, "message": message}).to_string(),
        }
    }

    /// An error of the REST-JSON protocol (EventBridge Scheduler).
    fn rest_json(code: &str, message: &str) -> Refusal {
        Refusal {
            status: "400 Bad Request",
            headers: vec![("Content-Type", "application/json".to_string()), ("x-amzn-ErrorType", code.to_string())],
            body: serde_json::json!({"Message": message}).to_string(),
        }
    }

    /// An error of the AWS query protocol (Redshift, IAM, SNS).
    fn query(code: &str, message: &str) -> Refusal {
        Refusal {
            status: "400 Bad Request",
            headers: vec![("Content-Type", "text/xml".to_string())],
            body: format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>pipectl-proxy-fidelity</RequestId></ErrorResponse>",
                xml_escape(message)
            ),
        }
    }

    /// An error of the EC2 query protocol.
    fn ec2(code: &str, message: &str) -> Refusal {
        Refusal {
            status: "400 Bad Request",
            headers: vec![("Content-Type", "text/xml;charset=UTF-8".to_string())],
            body: format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>{}</Message></Error></Errors><RequestID>pipectl-proxy-fidelity</RequestID></Response>",
                xml_escape(message)
            ),
        }
    }

    pub fn render(&self) -> String {
        let headers: String = self.headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
        format!("HTTP/1.1 {}\r\n{headers}Content-Length: {}\r\n\r\n{}", self.status, self.body.len(), self.body)
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\'', "&apos;")
}

/// The last part of an ARN's resource path (`arn:aws:iam::1:role/pipectl/p/r` is `r`), or the
/// name itself.
fn name_of(arn_or_name: &str) -> &str {
    arn_or_name.rsplit('/').next().unwrap_or(arn_or_name)
}

/// Every string under a key named `key`, at any depth.
fn values_at<'a>(value: &'a Value, key: &str, found: &mut Vec<&'a str>) {
    match value {
        Value::Object(object) => {
            for (name, inner) in object {
                match inner {
                    Value::String(text) if name == key => found.push(text),
                    _ => values_at(inner, key, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| values_at(item, key, found)),
        _ => {}
    }
}

/// Fidelity mode: the rules, and what they have seen.
pub struct Fidelity {
    options: FidelityOptions,
    state: Mutex<FidelityState>,
}

impl Fidelity {
    pub fn new(options: FidelityOptions) -> Fidelity {
        Fidelity { options, state: Mutex::new(FidelityState::default()) }
    }

    fn enabled(&self, rule: Rule) -> bool {
        self.options.rules.contains(&rule)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FidelityState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How long ago the role or instance profile `name` was created (or given its role), while
    /// it is still propagating.
    fn fresh_for(&self, name: &str, now: Instant) -> Option<Duration> {
        let age = now.saturating_duration_since(*self.state().fresh.get(name_of(name))?);
        (age < self.options.iam_propagation).then_some(age)
    }

    fn is_fresh(&self, name: &str, now: Instant) -> bool {
        self.fresh_for(name, now).is_some()
    }

    /// The answer AWS would give instead of the emulator's, if any rule says so.
    pub fn refuse(&self, call: &Call, now: Instant) -> Option<(Rule, Refusal)> {
        if let Some(refusal) = self.fresh_profile_authorize(call, now) {
            return Some((Rule::FreshProfileAuthorize, refusal));
        }
        if self.enabled(Rule::FreshIam) {
            if let Some(refusal) = self.fresh_iam(call, now) {
                return Some((Rule::FreshIam, refusal));
            }
        }
        if let Some(refused) = self.refuse_consistency(call, now).or_else(|| self.refuse_limits(call)) {
            return Some(refused);
        }
        if self.enabled(Rule::DependencyViolation) && call.service == "ec2" {
            let in_use =
                self.state().terminated.is_some_and(|at| now.saturating_duration_since(at) < self.options.dependency);
            let message = match call.operation.as_str() {
                "DeleteSecurityGroup" => format!("resource {} has a dependent object", call.param("GroupId")),
                "DeleteSubnet" => {
                    format!("The subnet '{}' has dependencies and cannot be deleted.", call.param("SubnetId"))
                }
                "DeleteVpc" => format!("The vpc '{}' has dependencies and cannot be deleted.", call.param("VpcId")),
                _ => String::new(),
            };
            if in_use && !message.is_empty() {
                return Some((Rule::DependencyViolation, Refusal::ec2("DependencyViolation", &message)));
            }
        }
        if self.enabled(Rule::DependencyViolation)
            && (call.service.as_str(), call.operation.as_str()) == ("redshift", "DeleteClusterSubnetGroup")
        {
            let group = call.param("ClusterSubnetGroupName").to_string();
            if self.state().redshift_groups.values().any(|used| *used == group) {
                let message = "The cluster subnet group cannot be deleted because it is in use.";
                return Some((
                    Rule::DependencyViolation,
                    Refusal::query("InvalidClusterSubnetGroupStateFault", message),
                ));
            }
        }
        if self.enabled(Rule::BucketRedirect) && call.service == "s3" && call.operation == "GetBucketTagging" {
            let bucket = call.bucket.clone().unwrap_or_default();
            let region = self.state().bucket_regions.get(&bucket).cloned();
            if let Some(region) = region.filter(|region| *region != call.region && !call.region.is_empty()) {
                let endpoint = format!("{bucket}.s3.{region}.amazonaws.com");
                let body = format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.</Message><Endpoint>{}</Endpoint><Bucket>{}</Bucket><RequestId>pipectl-proxy-fidelity</RequestId><HostId>pipectl-proxy</HostId></Error>",
                    xml_escape(&endpoint),
                    xml_escape(&bucket)
                );
                let refusal = Refusal {
                    status: "301 Moved Permanently",
                    headers: vec![("Content-Type", "application/xml".to_string()), ("x-amz-bucket-region", region)],
                    body,
                };
                return Some((Rule::BucketRedirect, refusal));
            }
        }
        None
    }

    /// The consistency family's refusals: fresh EC2 ids, a fresh table.
    fn refuse_consistency(&self, call: &Call, now: Instant) -> Option<(Rule, Refusal)> {
        let window = self.options.consistency;
        let state = self.state();
        let ec2 = self.enabled(Rule::FreshEc2Ids).then(|| state.consistency.fresh_ec2_id(call, now, window));
        if let Some(refusal) = ec2.flatten() {
            return Some((Rule::FreshEc2Ids, refusal));
        }
        let table = self.enabled(Rule::FreshTable).then(|| state.consistency.fresh_table(call, now, window));
        table.flatten().map(|refusal| (Rule::FreshTable, refusal))
    }

    /// The limits AWS checks on a request.
    fn refuse_limits(&self, call: &Call) -> Option<(Rule, Refusal)> {
        let kinesis = self.enabled(Rule::KinesisTagLimit).then(|| limits::kinesis_tags(call)).flatten();
        if let Some(refusal) = kinesis {
            return Some((Rule::KinesisTagLimit, refusal));
        }
        let role = self.enabled(Rule::RolePath).then(|| limits::bare_role(call, &self.state().role_paths)).flatten();
        if let Some(refusal) = role {
            return Some((Rule::RolePath, refusal));
        }
        let groups = self.enabled(Rule::EmrGroupMinimums).then(|| limits::group_minimums(call)).flatten();
        if let Some(refusal) = groups {
            return Some((Rule::EmrGroupMinimums, refusal));
        }
        let integration = self.enabled(Rule::ApiIntegrationRole).then(|| limits::integration_role(call)).flatten();
        integration.map(|refusal| (Rule::ApiIntegrationRole, refusal))
    }

    /// `fresh-profile-authorize`: EMR's other answer for a fresh instance profile, to every
    /// `RunJobFlow` but the first while it propagates (the first answers `fresh-iam`'s "Invalid
    /// InstanceProfile").
    fn fresh_profile_authorize(&self, call: &Call, now: Instant) -> Option<Refusal> {
        if !self.enabled(Rule::FreshProfileAuthorize)
            || (call.service.as_str(), call.operation.as_str()) != ("elasticmapreduce", "RunJobFlow")
        {
            return None;
        }
        let profile = call.json["JobFlowRole"].as_str()?;
        self.fresh_for(profile, now)?;
        let refused_before = {
            let mut state = self.state();
            let count = state.profile_refusals.entry(name_of(profile).to_string()).or_default();
            *count += 1;
            *count > 1
        };
        (!self.enabled(Rule::FreshIam) || refused_before).then(|| {
            Refusal::json(
                "AccessDeniedException",
                &format!("Failed to authorize instance profile arn:aws:iam::000000000000:instance-profile/{profile}"),
            )
        })
    }

    fn fresh_iam(&self, call: &Call, now: Instant) -> Option<Refusal> {
        match (call.service.as_str(), call.operation.as_str()) {
            ("firehose", "CreateDeliveryStream") => {
                let mut roles = Vec::new();
                values_at(&call.json, "RoleARN", &mut roles);
                roles.into_iter().find(|arn| self.is_fresh(arn, now)).map(|arn| {
                    Refusal::json(
                        "InvalidArgumentException",
                        &format!("Firehose is unable to assume role {arn}. Please check the role provided."),
                    )
                })
            }
            ("elasticmapreduce", "RunJobFlow") => {
                let profile = call.json["JobFlowRole"].as_str().filter(|profile| self.is_fresh(profile, now))?;
                Some(Refusal::json("ValidationException", &format!("Invalid InstanceProfile: {profile}.")))
            }
            ("scheduler", "CreateSchedule" | "UpdateSchedule") => {
                call.json["Target"]["RoleArn"].as_str().filter(|role| self.is_fresh(role, now))?;
                Some(Refusal::rest_json(
                    "ValidationException",
                    "The execution role you provide must allow AWS EventBridge Scheduler to assume the role.",
                ))
            }
            // hashicorp/terraform-provider-aws#7893: Step Functions checks that it may assume the
            // role when the state machine is created or changed.
            ("states", "CreateStateMachine" | "UpdateStateMachine") => {
                call.json["roleArn"].as_str().filter(|role| self.is_fresh(role, now))?;
                Some(Refusal::json(
                    "AccessDeniedException",
                    "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.",
                ))
            }
            _ => None,
        }
    }

    /// Learns from a response what later rules need, and rewrites it where AWS answers
    /// differently from the emulator. Returns the rules that rewrote it.
    pub fn observe(&self, call: &Call, response: &mut Message, now: Instant) -> Vec<Rule> {
        let succeeded = response.head.split_whitespace().nth(1).is_some_and(|status| status.starts_with('2'));
        if !succeeded {
            return Vec::new();
        }
        let fresh_iam = self.enabled(Rule::FreshIam) || self.enabled(Rule::FreshProfileAuthorize);
        let family = [Rule::FreshEc2Ids, Rule::FreshTable, Rule::TagIndexLag, Rule::DeletedListed];
        if family.into_iter().any(|rule| self.enabled(rule)) {
            let body = String::from_utf8_lossy(&decoded_body(response)).into_owned();
            self.state().consistency.learn(call, &body, now);
        }
        match (call.service.as_str(), call.operation.as_str()) {
            ("iam", "CreateRole") => {
                if fresh_iam {
                    self.state().fresh.insert(call.param("RoleName").to_string(), now);
                }
                if let Some((role, path)) = limits::role_path(call).filter(|_| self.enabled(Rule::RolePath)) {
                    self.state().role_paths.insert(role, path);
                }
            }
            ("iam", "CreateInstanceProfile" | "AddRoleToInstanceProfile") if fresh_iam => {
                self.state().fresh.insert(call.param("InstanceProfileName").to_string(), now);
            }
            ("tagging", "GetResources") => {
                let state = self.state();
                let rules = state.consistency.rewrite_index(call, response, now, self.options.index_lag);
                return rules.into_iter().filter(|rule| self.enabled(*rule)).collect();
            }
            ("elasticmapreduce", "TerminateJobFlows") if self.enabled(Rule::DependencyViolation) => {
                self.state().terminated = Some(now);
            }
            ("redshift", "CreateCluster") if self.enabled(Rule::DependencyViolation) => {
                let (cluster, group) = (call.param("ClusterIdentifier"), call.param("ClusterSubnetGroupName"));
                self.state().redshift_groups.insert(cluster.to_string(), group.to_string());
            }
            ("redshift", "DeleteCluster") if self.enabled(Rule::DependencyViolation) => {
                let mut state = self.state();
                state.redshift_groups.remove(call.param("ClusterIdentifier"));
                state.terminated = Some(now);
            }
            ("s3", "CreateBucket") if self.enabled(Rule::BucketRedirect) => {
                let body = String::from_utf8_lossy(&call.body);
                let region = body
                    .split("<LocationConstraint>")
                    .nth(1)
                    .and_then(|rest| rest.split("</LocationConstraint>").next())
                    .filter(|region| !region.trim().is_empty())
                    .unwrap_or("us-east-1")
                    .trim()
                    .to_string();
                if let Some(bucket) = &call.bucket {
                    self.state().bucket_regions.insert(bucket.clone(), region);
                }
            }
            ("elasticmapreduce", "DescribeCluster")
                if self.enabled(Rule::LogUriScheme) && response.header("content-encoding").is_none() =>
            {
                let Ok(mut answer) = serde_json::from_slice::<Value>(&decoded_body(response)) else {
                    return Vec::new();
                };
                let Some(bare) = answer["Cluster"]["LogUri"].as_str().and_then(|uri| uri.strip_prefix("s3://")) else {
                    return Vec::new();
                };
                answer["Cluster"]["LogUri"] = Value::String(format!("s3n://{bare}"));
                replace_body(response, answer.to_string().into_bytes());
                return vec![Rule::LogUriScheme];
            }
            _ => {}
        }
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{json, message, ok, query, rest};

    fn all_rules() -> Fidelity {
        Fidelity::new(FidelityOptions { rules: Rule::ALL.to_vec(), ..FidelityOptions::default() })
    }

    fn firehose_create(role: &str) -> Call {
        json(
            "firehose",
            "Firehose_20150804.CreateDeliveryStream",
            &serde_json::json!({
                "DeliveryStreamName": "p-d",
                "KinesisStreamSourceConfiguration": {"KinesisStreamARN": "arn:aws:kinesis:us-east-1:1:stream/s", "RoleARN": role},
                "ExtendedS3DestinationConfiguration": {"RoleARN": role, "BucketARN": "arn:aws:s3:::b"}
            }),
        )
    }

    #[test]
    fn a_fresh_role_is_refused_by_firehose_until_it_propagates() {
        let fidelity = all_rules();
        let t0 = Instant::now();
        let role = "arn:aws:iam::000000000000:role/pipectl/p/p-d-firehose";
        assert_eq!(fidelity.refuse(&firehose_create(role), t0), None, "unknown roles are usable");
        let create = query("iam", "Action=CreateRole&RoleName=p-d-firehose");
        assert_eq!(fidelity.observe(&create, &mut ok("<CreateRoleResponse/>"), t0), Vec::<Rule>::new());
        let (rule, refusal) = fidelity.refuse(&firehose_create(role), t0 + Duration::from_secs(1)).expect("refused");
        assert_eq!(rule, Rule::FreshIam);
        assert_eq!(refusal.status, "400 Bad Request");
        let body: Value = serde_json::from_str(&refusal.body).unwrap();
        assert_eq!(body["__type"], "InvalidArgumentException");
        assert_eq!(
            body["message"],
            format!("Firehose is unable to assume role {role}. Please check the role provided.")
        );
        assert!(refusal
            .render()
            .starts_with("HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\n"));
        assert_eq!(fidelity.refuse(&firehose_create(role), t0 + Duration::from_secs(5)), None, "propagated after N s");
        // A CreateRole that failed created nothing.
        let failed = query("iam", "Action=CreateRole&RoleName=other");
        let mut conflict = message("HTTP/1.1 409 Conflict", &[], "<ErrorResponse/>");
        fidelity.observe(&failed, &mut conflict, t0);
        assert!(!fidelity.is_fresh("other", t0));
    }

    #[test]
    fn a_fresh_instance_profile_is_refused_by_emr() {
        let fidelity = all_rules();
        let t0 = Instant::now();
        let run = json(
            "elasticmapreduce",
            "ElasticMapReduce.RunJobFlow",
            &serde_json::json!({"Name": "p-spark", "JobFlowRole": "p-spark-emr-ec2", "ServiceRole": "p-spark-emr"}),
        );
        fidelity.observe(
            &query("iam", "Action=CreateInstanceProfile&InstanceProfileName=p-spark-emr-ec2"),
            &mut ok(""),
            t0,
        );
        let (_, refusal) = fidelity.refuse(&run, t0 + Duration::from_secs(2)).expect("refused");
        assert_eq!(
            serde_json::from_str::<Value>(&refusal.body).unwrap(),
            serde_json::json!({"__type": "ValidationException", "message": "Invalid InstanceProfile: p-spark-emr-ec2."})
        );
        assert!(fidelity.refuse(&run, t0 + Duration::from_secs(6)).is_none());
        // Adding the role to the profile starts the wait again.
        let add = "Action=AddRoleToInstanceProfile&InstanceProfileName=p-spark-emr-ec2&RoleName=p-spark-emr-ec2";
        fidelity.observe(&query("iam", add), &mut ok(""), t0 + Duration::from_secs(6));
        assert!(fidelity.refuse(&run, t0 + Duration::from_secs(7)).is_some());
    }

    #[test]
    fn emr_then_fails_to_authorize_a_fresh_instance_profile() {
        let fidelity = all_rules();
        let t0 = Instant::now();
        let run = json(
            "elasticmapreduce",
            "ElasticMapReduce.RunJobFlow",
            &serde_json::json!({"Name": "p-spark", "JobFlowRole": "p-spark-emr-ec2"}),
        );
        fidelity.observe(
            &query("iam", "Action=CreateInstanceProfile&InstanceProfileName=p-spark-emr-ec2"),
            &mut ok(""),
            t0,
        );
        let (first, _) = fidelity.refuse(&run, t0 + Duration::from_secs(1)).expect("refused");
        assert_eq!(first, Rule::FreshIam, "the first refusal says Invalid InstanceProfile");
        let (second, refusal) = fidelity.refuse(&run, t0 + Duration::from_secs(2)).expect("refused");
        assert_eq!(second, Rule::FreshProfileAuthorize);
        let body: Value = serde_json::from_str(&refusal.body).unwrap();
        assert_eq!(body["__type"], "AccessDeniedException");
        assert_eq!(
            body["message"],
            "Failed to authorize instance profile arn:aws:iam::000000000000:instance-profile/p-spark-emr-ec2"
        );
        assert!(fidelity.refuse(&run, t0 + Duration::from_secs(5)).is_none());
        let alone =
            Fidelity::new(FidelityOptions { rules: vec![Rule::FreshProfileAuthorize], ..FidelityOptions::default() });
        alone.observe(
            &query("iam", "Action=CreateInstanceProfile&InstanceProfileName=p-spark-emr-ec2"),
            &mut ok(""),
            t0,
        );
        assert_eq!(
            alone.refuse(&run, t0).map(|(rule, _)| rule),
            Some(Rule::FreshProfileAuthorize),
            "alone, the whole window"
        );
    }

    #[test]
    fn a_fresh_role_is_refused_by_eventbridge_scheduler() {
        let fidelity = all_rules();
        let t0 = Instant::now();
        fidelity.observe(&query("iam", "Action=CreateRole&RoleName=p-spark-scheduler"), &mut ok(""), t0);
        let body = serde_json::json!({"Target": {"Arn": "arn:aws:scheduler:::aws-sdk:emr:modifyInstanceGroups", "RoleArn": "arn:aws:iam::1:role/pipectl/p/p-spark-scheduler"}});
        for line in ["POST /schedules/pipectl-p-up HTTP/1.1", "PUT /schedules/pipectl-p-up HTTP/1.1"] {
            let call = rest("scheduler", "us-east-1", line, &body.to_string());
            let (_, refusal) = fidelity.refuse(&call, t0).expect("refused");
            assert!(refusal.headers.contains(&("x-amzn-ErrorType", "ValidationException".to_string())));
            assert_eq!(
                serde_json::from_str::<Value>(&refusal.body).unwrap()["Message"],
                "The execution role you provide must allow AWS EventBridge Scheduler to assume the role."
            );
        }
        let get = rest("scheduler", "us-east-1", "GET /schedules/pipectl-p-up HTTP/1.1", "");
        assert!(fidelity.refuse(&get, t0).is_none());
    }

    #[test]
    fn network_deletes_meet_dependencies_after_a_cluster_terminates() {
        let fidelity = all_rules();
        let t0 = Instant::now();
        let deletes = [
            ("Action=DeleteSecurityGroup&GroupId=sg-1", "resource sg-1 has a dependent object"),
            ("Action=DeleteSubnet&SubnetId=subnet-1", "The subnet 'subnet-1' has dependencies and cannot be deleted."),
            ("Action=DeleteVpc&VpcId=vpc-1", "The vpc 'vpc-1' has dependencies and cannot be deleted."),
        ];
        for (body, _) in deletes {
            assert!(fidelity.refuse(&query("ec2", body), t0).is_none(), "no cluster terminated yet");
        }
        let terminate =
            json("elasticmapreduce", "ElasticMapReduce.TerminateJobFlows", &serde_json::json!({"JobFlowIds": ["j-1"]}));
        fidelity.observe(&terminate, &mut ok("{}"), t0);
        for (body, expected) in deletes {
            let (rule, refusal) = fidelity.refuse(&query("ec2", body), t0 + Duration::from_secs(3)).expect("refused");
            assert_eq!(rule, Rule::DependencyViolation);
            assert!(refusal.body.contains("<Code>DependencyViolation</Code>"), "{}", refusal.body);
            assert!(refusal.body.contains(&format!("<Message>{}</Message>", xml_escape(expected))), "{}", refusal.body);
            assert!(fidelity.refuse(&query("ec2", body), t0 + Duration::from_secs(10)).is_none());
        }
        assert!(fidelity.refuse(&query("ec2", "Action=DeleteInternetGateway&InternetGatewayId=igw-1"), t0).is_none());
    }

    #[test]
    fn a_redshift_subnet_group_is_in_use_until_its_cluster_is_deleted() {
        let fidelity = all_rules();
        let t0 = Instant::now();
        let delete_group = query("redshift", "Action=DeleteClusterSubnetGroup&ClusterSubnetGroupName=wh");
        let create = query("redshift", "Action=CreateCluster&ClusterIdentifier=wh&ClusterSubnetGroupName=wh");
        fidelity.observe(&create, &mut ok("<CreateClusterResponse/>"), t0);
        let (rule, refusal) = fidelity.refuse(&delete_group, t0).expect("in use");
        assert_eq!(rule, Rule::DependencyViolation);
        assert!(refusal.body.contains("<Code>InvalidClusterSubnetGroupStateFault</Code>"), "{}", refusal.body);
        let other = query("redshift", "Action=DeleteClusterSubnetGroup&ClusterSubnetGroupName=other");
        assert!(fidelity.refuse(&other, t0).is_none(), "no cluster uses it");
        let delete_cluster =
            query("redshift", "Action=DeleteCluster&ClusterIdentifier=wh&SkipFinalClusterSnapshot=true");
        fidelity.observe(&delete_cluster, &mut ok("<DeleteClusterResponse/>"), t0);
        assert!(fidelity.refuse(&delete_group, t0).is_none(), "the cluster is gone");
        // Its network interfaces go after it: the VPC's groups are in use for a while.
        let group = query("ec2", "Action=DeleteSecurityGroup&GroupId=sg-1");
        assert!(fidelity.refuse(&group, t0 + Duration::from_secs(3)).is_some());
    }

    #[test]
    fn a_bucket_of_another_region_redirects() {
        let fidelity = all_rules();
        let t0 = Instant::now();
        let config = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>";
        fidelity.observe(&rest("s3", "eu-west-1", "PUT /far HTTP/1.1", config), &mut ok(""), t0);
        fidelity.observe(&rest("s3", "us-east-1", "PUT /near HTTP/1.1", ""), &mut ok(""), t0);
        let (rule, refusal) =
            fidelity.refuse(&rest("s3", "us-east-1", "GET /far?tagging HTTP/1.1", ""), t0).expect("redirected");
        assert_eq!(rule, Rule::BucketRedirect);
        assert_eq!(refusal.status, "301 Moved Permanently");
        assert!(refusal.headers.contains(&("x-amz-bucket-region", "eu-west-1".to_string())));
        assert!(refusal.body.contains("<Code>PermanentRedirect</Code>"));
        assert!(refusal.body.contains("<Endpoint>far.s3.eu-west-1.amazonaws.com</Endpoint>"));
        assert!(fidelity.refuse(&rest("s3", "eu-west-1", "GET /far?tagging HTTP/1.1", ""), t0).is_none());
        assert!(fidelity.refuse(&rest("s3", "us-east-1", "GET /near?tagging HTTP/1.1", ""), t0).is_none());
        assert!(fidelity.refuse(&rest("s3", "us-east-1", "GET /unknown?tagging HTTP/1.1", ""), t0).is_none());
    }

    #[test]
    fn emr_answers_log_uris_with_the_s3n_scheme() {
        let fidelity = all_rules();
        let describe =
            json("elasticmapreduce", "ElasticMapReduce.DescribeCluster", &serde_json::json!({"ClusterId": "j-1"}));
        let answer = serde_json::json!({"Cluster": {"Id": "j-1", "LogUri": "s3://lake/emr-logs/", "Name": "p-spark"}});
        let mut response =
            message("HTTP/1.1 200 OK", &[("Content-Type", "application/x-amz-json-1.1")], &answer.to_string());
        assert_eq!(fidelity.observe(&describe, &mut response, Instant::now()), vec![Rule::LogUriScheme]);
        let rewritten: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(rewritten["Cluster"]["LogUri"], "s3n://lake/emr-logs/");
        assert_eq!(rewritten["Cluster"]["Name"], "p-spark");
        assert_eq!(response.header("content-length"), Some(response.body.len().to_string().as_str()));
        // Already s3n, no LogUri, or an error: left as it is.
        assert_eq!(fidelity.observe(&describe, &mut response, Instant::now()), Vec::<Rule>::new());
        let mut bare = message("HTTP/1.1 200 OK", &[], "{\"Cluster\":{\"Id\":\"j-1\"}}");
        assert_eq!(fidelity.observe(&describe, &mut bare, Instant::now()), Vec::<Rule>::new());
        let mut error = message("HTTP/1.1 400 Bad Request", &[], "{\"__type\":\"InvalidRequestException\"}");
        assert_eq!(fidelity.observe(&describe, &mut error, Instant::now()), Vec::<Rule>::new());
    }

    #[test]
    fn rules_apply_only_when_chosen() {
        let fidelity =
            Fidelity::new(FidelityOptions { rules: vec![Rule::BucketRedirect], ..FidelityOptions::default() });
        let t0 = Instant::now();
        fidelity.observe(&query("iam", "Action=CreateRole&RoleName=r"), &mut ok(""), t0);
        assert!(fidelity.refuse(&firehose_create("arn:aws:iam::1:role/r"), t0).is_none());
        let describe = json("elasticmapreduce", "ElasticMapReduce.DescribeCluster", &serde_json::json!({}));
        let mut response = message("HTTP/1.1 200 OK", &[], "{\"Cluster\":{\"LogUri\":\"s3://b/\"}}");
        assert_eq!(fidelity.observe(&describe, &mut response, t0), Vec::<Rule>::new());
        assert_eq!(Rule::parse("fresh-iam"), Some(Rule::FreshIam));
        assert_eq!(Rule::parse("nope"), None);
    }
}

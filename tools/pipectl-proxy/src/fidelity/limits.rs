//! Limits AWS enforces on a request that the emulators let through (each rule's source is in the
//! crate documentation, `main.rs`):
//!
//! - `kinesis-tag-limit`: at most 10 tags in one `AddTagsToStream` (and 10 keys in one
//!   `RemoveTagsFromStream`);
//! - `role-path`: EMR's `RunJobFlow` names its service role by the bare name of a role that has
//!   a path;
//! - `emr-group-minimums`: `RunJobFlow` with a core group of no instances, or a primary group of
//!   other than 1 or 3;
//! - `apigateway-integration-role`: an API Gateway AWS service integration without the role API
//!   Gateway calls the service as.

use std::collections::HashMap;

use super::Refusal;
use crate::call::Call;

/// The most tags (or tag keys) one Kinesis tagging call takes.
const KINESIS_TAGS_PER_CALL: usize = 10;

/// `kinesis-tag-limit`: a Kinesis tagging call with more than ten tags, refused the way AWS
/// validates it (hashicorp/terraform-provider-aws#4574 quotes the answer).
pub fn kinesis_tags(call: &Call) -> Option<Refusal> {
    let (field, tags) = match (call.service.as_str(), call.operation.as_str()) {
        ("kinesis", "AddTagsToStream") => ("tags", call.json["Tags"].as_object()?.len()),
        ("kinesis", "RemoveTagsFromStream") => ("tagKeys", call.json["TagKeys"].as_array()?.len()),
        _ => return None,
    };
    (tags > KINESIS_TAGS_PER_CALL).then(|| {
        Refusal::json(
            "ValidationException",
            &format!(
                "1 validation error detected: Value with {tags} entries at '{field}' failed to satisfy constraint: Member must have length less than or equal to {KINESIS_TAGS_PER_CALL}"
            ),
        )
    })
}

/// `role-path`: RunJobFlow's `ServiceRole` (or `AutoScalingRole`) given as the bare name of a
/// role created under a path (`paths`: role name → path, from `CreateRole`).
pub fn bare_role(call: &Call, paths: &HashMap<String, String>) -> Option<Refusal> {
    if (call.service.as_str(), call.operation.as_str()) != ("elasticmapreduce", "RunJobFlow") {
        return None;
    }
    ["ServiceRole", "AutoScalingRole"].into_iter().find_map(|field| {
        let name = call.json[field].as_str().filter(|name| !name.starts_with("arn:"))?;
        let path = paths.get(name).filter(|path| path.as_str() != "/")?;
        Some(Refusal::json(
            "ValidationException",
            &format!("Invalid {field}: {name}. The role has the path {path}; name it with its path, by its ARN."),
        ))
    })
}

/// `apigateway-integration-role`: `PutIntegration` of type `AWS` without `credentials`, refused
/// as AWS refuses it (hashicorp/terraform-provider-aws#7916 quotes the answer).
pub fn integration_role(call: &Call) -> Option<Refusal> {
    if (call.service.as_str(), call.operation.as_str()) != ("apigateway", "PutIntegration") {
        return None;
    }
    let aws = call.json["type"].as_str() == Some("AWS");
    let role = call.json["credentials"].as_str().is_some_and(|role| !role.is_empty());
    (aws && !role).then(|| Refusal::rest_json("BadRequestException", "Role ARN must be specified for AWS integrations"))
}

/// `emr-group-minimums`: RunJobFlow's instance groups below what EMR takes at launch.
pub fn group_minimums(call: &Call) -> Option<Refusal> {
    if (call.service.as_str(), call.operation.as_str()) != ("elasticmapreduce", "RunJobFlow") {
        return None;
    }
    let groups = call.json["Instances"]["InstanceGroups"].as_array()?;
    groups.iter().find_map(|group| {
        let count = group["InstanceCount"].as_i64().unwrap_or(0);
        let message = match group["InstanceRole"].as_str() {
            Some("CORE") if count < 1 => "A core instance group needs at least one instance at launch.",
            Some("MASTER") if count != 1 && count != 3 => "A primary instance group has 1 or 3 instances.",
            _ => return None,
        };
        Some(Refusal::json("ValidationException", message))
    })
}

/// The role a `CreateRole` made and its path, if it has one.
pub fn role_path(call: &Call) -> Option<(String, String)> {
    let path = call.params.get("Path").filter(|path| path.as_str() != "/")?;
    Some((call.param("RoleName").to_string(), path.clone()))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use serde_json::Value;

    use super::super::{Fidelity, FidelityOptions, Rule};
    use crate::testing::{json, ok, query};

    fn all_rules() -> Fidelity {
        Fidelity::new(FidelityOptions { rules: Rule::ALL.to_vec(), ..FidelityOptions::default() })
    }

    #[test]
    fn more_than_ten_tags_in_one_kinesis_call_are_refused() {
        let fidelity = all_rules();
        let tags = |n: usize| -> Value { (0..n).map(|i| (format!("k{i}"), Value::from("v"))).collect() };
        let add = |n: usize| {
            json(
                "kinesis",
                "Kinesis_20131202.AddTagsToStream",
                &serde_json::json!({"StreamName": "s", "Tags": tags(n)}),
            )
        };
        assert!(fidelity.refuse(&add(10), Instant::now()).is_none(), "ten pass");
        let (rule, refusal) = fidelity.refuse(&add(12), Instant::now()).expect("twelve refused");
        assert_eq!(rule, Rule::KinesisTagLimit);
        let body: Value = serde_json::from_str(&refusal.body).unwrap();
        assert_eq!(body["__type"], "ValidationException");
        assert!(body["message"].as_str().unwrap().contains("less than or equal to 10"), "{body}");
        let keys: Vec<String> = (0..11).map(|i| format!("k{i}")).collect();
        let remove = json(
            "kinesis",
            "Kinesis_20131202.RemoveTagsFromStream",
            &serde_json::json!({"StreamName": "s", "TagKeys": keys}),
        );
        assert!(fidelity.refuse(&remove, Instant::now()).is_some());
        let create =
            json("kinesis", "Kinesis_20131202.CreateStream", &serde_json::json!({"StreamName": "s", "Tags": tags(12)}));
        assert!(fidelity.refuse(&create, Instant::now()).is_none(), "CreateStream takes up to 50");
    }

    #[test]
    fn emr_refuses_a_bare_service_role_name_of_a_role_with_a_path() {
        let fidelity = all_rules();
        let t0 = Instant::now();
        let create = query("iam", "Action=CreateRole&RoleName=p-spark-emr&Path=%2Fpipectl%2Fp%2Fuse1%2F");
        fidelity.observe(&create, &mut ok(""), t0);
        fidelity.observe(&query("iam", "Action=CreateRole&RoleName=plain"), &mut ok(""), t0);
        let run = |role: &str| {
            json(
                "elasticmapreduce",
                "ElasticMapReduce.RunJobFlow",
                &serde_json::json!({"Name": "c", "ServiceRole": role}),
            )
        };
        let later = t0 + std::time::Duration::from_secs(60);
        let (rule, refusal) = fidelity.refuse(&run("p-spark-emr"), later).expect("bare name refused");
        assert_eq!(rule, Rule::RolePath);
        assert!(refusal.body.contains("Invalid ServiceRole: p-spark-emr"), "{}", refusal.body);
        let arn = "arn:aws:iam::123456789012:role/pipectl/p/use1/p-spark-emr";
        assert!(fidelity.refuse(&run(arn), later).is_none(), "the ARN with its path passes");
        assert!(fidelity.refuse(&run("plain"), later).is_none(), "a role without a path may go by name");
    }

    #[test]
    fn an_aws_integration_without_a_role_is_refused() {
        let fidelity = all_rules();
        let put = |body: Value| {
            let line = "PUT /restapis/a1/resources/r1/methods/POST/integration HTTP/1.1";
            crate::testing::rest("apigateway", "us-east-1", line, &body.to_string())
        };
        let kinesis = "arn:aws:apigateway:us-east-1:kinesis:action/PutRecord";
        let (rule, refusal) = fidelity
            .refuse(&put(serde_json::json!({"type": "AWS", "uri": kinesis})), Instant::now())
            .expect("no role refused");
        assert_eq!(rule, Rule::ApiIntegrationRole);
        assert!(refusal.body.contains("Role ARN must be specified"), "{}", refusal.body);
        let with_role = serde_json::json!({"type": "AWS", "uri": kinesis, "credentials": "arn:aws:iam::1:role/r"});
        assert!(fidelity.refuse(&put(with_role), Instant::now()).is_none());
        assert!(
            fidelity.refuse(&put(serde_json::json!({"type": "MOCK"})), Instant::now()).is_none(),
            "a MOCK needs none"
        );
    }

    #[test]
    fn emr_refuses_a_core_group_of_no_instances_at_launch() {
        let fidelity = all_rules();
        let run = |groups: Value| {
            json(
                "elasticmapreduce",
                "ElasticMapReduce.RunJobFlow",
                &serde_json::json!({"Name": "c", "Instances": {"InstanceGroups": groups}}),
            )
        };
        let group = |role: &str, count: i64| serde_json::json!({"InstanceRole": role, "InstanceCount": count});
        let fine = run(serde_json::json!([group("MASTER", 1), group("CORE", 1), group("TASK", 0)]));
        assert!(fidelity.refuse(&fine, Instant::now()).is_none(), "a task group of 0 is an open question: passed");
        let (rule, refusal) = fidelity
            .refuse(&run(serde_json::json!([group("MASTER", 1), group("CORE", 0)])), Instant::now())
            .expect("core 0 refused");
        assert_eq!(rule, Rule::EmrGroupMinimums);
        assert!(refusal.body.contains("core instance group"), "{}", refusal.body);
        assert!(fidelity
            .refuse(&run(serde_json::json!([group("MASTER", 2), group("CORE", 1)])), Instant::now())
            .is_some());
    }
}

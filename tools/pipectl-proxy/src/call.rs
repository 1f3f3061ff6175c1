//! A request as the fidelity rules read it: the service and region of its SigV4 scope, the API
//! operation in each protocol's shape (JSON `X-Amz-Target`, query `Action=`, S3 and Scheduler
//! REST paths), and its decoded parameters or JSON body.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::http::{decoded_body, form_decode, Message};

/// The part of a request the fidelity rules look at.
#[derive(Debug, Default)]
pub struct Call {
    /// SigV4's signing name: `iam`, `ec2`, `s3`, `elasticmapreduce`, `firehose`, `scheduler`, …
    pub service: String,
    /// The region the request is signed for.
    pub region: String,
    /// The API operation, e.g. `CreateRole`, `RunJobFlow`, `CreateSchedule`, `GetBucketTagging`.
    pub operation: String,
    /// The parameters of a query-protocol request (IAM, EC2), decoded.
    pub params: BTreeMap<String, String>,
    /// The body of a JSON request (EMR, Firehose, Scheduler), or Null.
    pub json: Value,
    /// The bucket of a path-style S3 request.
    pub bucket: Option<String>,
    /// The body as it was sent, without chunked framing.
    pub body: Vec<u8>,
}

impl Call {
    pub fn parse(request: &Message) -> Call {
        let scope: Vec<&str> = request
            .header("authorization")
            .and_then(|auth| auth.split("Credential=").nth(1))
            .map(|credential| credential.split(',').next().unwrap_or_default().split('/').collect())
            .unwrap_or_default();
        let mut call = Call {
            service: scope.get(3).copied().unwrap_or("unknown").to_string(),
            region: scope.get(2).copied().unwrap_or_default().to_string(),
            body: decoded_body(request),
            ..Call::default()
        };
        let mut request_line = request.head.split_whitespace();
        let method = request_line.next().unwrap_or_default().to_string();
        let target = request_line.next().unwrap_or("/");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let query: Vec<&str> = query.split('&').filter(|pair| !pair.is_empty() && !pair.starts_with("x-id=")).collect();
        let text = String::from_utf8_lossy(&call.body).into_owned();
        if let Some(amz_target) = request.header("x-amz-target") {
            call.operation = amz_target.rsplit('.').next().unwrap_or(amz_target).to_string();
            call.json = serde_json::from_str(&text).unwrap_or(Value::Null);
        } else if text.split('&').any(|pair| pair.starts_with("Action=")) {
            call.params = text
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(key, value)| (form_decode(key), form_decode(value)))
                .collect();
            call.operation = call.params.get("Action").cloned().unwrap_or_default();
        } else if call.service == "s3" {
            let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
            call.bucket = segments.first().map(|bucket| form_decode(bucket));
            call.operation = match (method.as_str(), segments.len(), query.as_slice()) {
                ("PUT", 1, []) => "CreateBucket".to_string(),
                ("GET", 1, [first, ..]) if first.split('=').next() == Some("tagging") => "GetBucketTagging".to_string(),
                ("PUT", 1, [first, ..]) if first.split('=').next() == Some("tagging") => "PutBucketTagging".to_string(),
                ("DELETE", 1, []) => "DeleteBucket".to_string(),
                _ => format!("{method} {path}"),
            };
        } else if call.service == "apigateway" {
            // Only the operations a rule reads are named; the rest keep `METHOD path`.
            let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
            call.operation = match (method.as_str(), segments.as_slice()) {
                ("PUT", ["restapis", _, "resources", _, "methods", _, "integration"]) => "PutIntegration".to_string(),
                _ => format!("{method} {path}"),
            };
            call.json = serde_json::from_str(&text).unwrap_or(Value::Null);
        } else if call.service == "scheduler" && path.starts_with("/schedules/") {
            call.operation = match method.as_str() {
                "POST" => "CreateSchedule",
                "PUT" => "UpdateSchedule",
                "GET" => "GetSchedule",
                "DELETE" => "DeleteSchedule",
                _ => "",
            }
            .to_string();
            call.json = serde_json::from_str(&text).unwrap_or(Value::Null);
        }
        call
    }

    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{json, query, rest};

    #[test]
    fn calls_are_read_in_each_protocols_shape() {
        let create_role =
            query("iam", "Action=CreateRole&Version=2010-05-08&RoleName=p-d-firehose&Path=%2Fpipectl%2Fp%2F");
        assert_eq!((create_role.service.as_str(), create_role.operation.as_str()), ("iam", "CreateRole"));
        assert_eq!(create_role.param("Path"), "/pipectl/p/");
        assert_eq!(create_role.region, "us-east-1");
        let run = json("elasticmapreduce", "ElasticMapReduce.RunJobFlow", &serde_json::json!({"JobFlowRole": "x"}));
        assert_eq!(run.operation, "RunJobFlow");
        assert_eq!(run.json["JobFlowRole"], "x");
        let schedule = rest("scheduler", "us-east-1", "POST /schedules/pipectl-p-up HTTP/1.1", "{\"Target\":{}}");
        assert_eq!(schedule.operation, "CreateSchedule");
        assert_eq!(rest("scheduler", "us-east-1", "PUT /schedules/x HTTP/1.1", "{}").operation, "UpdateSchedule");
        let integration = "PUT /restapis/a1/resources/r1/methods/POST/integration HTTP/1.1";
        let put = rest("apigateway", "us-east-1", integration, "{\"type\":\"AWS\"}");
        assert_eq!((put.operation.as_str(), put.json["type"].as_str()), ("PutIntegration", Some("AWS")));
        let bucket = rest("s3", "eu-west-1", "PUT /lake HTTP/1.1", "");
        assert_eq!((bucket.operation.as_str(), bucket.bucket.as_deref()), ("CreateBucket", Some("lake")));
        let tagging = rest("s3", "us-east-1", "GET /lake?tagging HTTP/1.1", "");
        assert_eq!(tagging.operation, "GetBucketTagging");
        assert_eq!(
            rest("s3", "us-east-1", "PUT /lake/key.json?x-id=PutObject HTTP/1.1", "").operation,
            "PUT /lake/key.json"
        );
        assert_eq!(rest("s3", "us-east-1", "PUT /lake?tagging HTTP/1.1", "").operation, "PutBucketTagging");
        assert_eq!(rest("s3", "us-east-1", "DELETE /lake HTTP/1.1", "").operation, "DeleteBucket");
        assert_eq!(rest("s3", "us-east-1", "PUT /lake?versioning HTTP/1.1", "").operation, "PUT /lake");
    }
}

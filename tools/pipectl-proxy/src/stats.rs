//! What the proxy counts — requests, injected faults, time upstream and fidelity answers, by
//! `service:Operation` — and the `/__proxy/stats` and `/__proxy/reset` endpoints that return it.

use std::collections::BTreeMap;

use crate::http::Message;

/// The counts `GET /__proxy/stats` returns.
#[derive(Default)]
pub struct Stats {
    /// Requests by `service:Operation`.
    pub requests: BTreeMap<String, u64>,
    /// Injected faults by `fault service:Operation`.
    pub faults: BTreeMap<String, u64>,
    /// Time the upstream took to answer, in milliseconds, summed per operation.
    pub upstream_ms: BTreeMap<String, u64>,
    /// How often each fidelity rule answered or rewrote, as `rule service:Operation`.
    pub fidelity: BTreeMap<String, u64>,
}

fn stats_json(stats: &Stats) -> String {
    let object =
        |map: &BTreeMap<String, u64>| map.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(",");
    let total: u64 = stats.requests.values().sum();
    let faults: u64 = stats.faults.values().sum();
    format!(
        r#"{{"total":{total},"faults_total":{faults},"requests":{{{}}},"faults":{{{}}},"upstream_ms":{{{}}},"fidelity":{{{}}}}}"#,
        object(&stats.requests),
        object(&stats.faults),
        object(&stats.upstream_ms),
        object(&stats.fidelity)
    )
}

/// The answer to `GET /__proxy/stats`, and to `POST /__proxy/reset`, which zeroes the counts first.
pub fn control_response(stats: &mut Stats, path: &str) -> String {
    if path.starts_with("/__proxy/reset") {
        *stats = Stats::default();
    }
    let body = stats_json(stats);
    format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

/// `service:Operation` from SigV4's credential scope and the protocol's operation marker.
pub fn operation(request: &Message) -> String {
    let service = request
        .header("authorization")
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|credential| credential.split('/').nth(3))
        .unwrap_or("unknown")
        .to_string();
    let name = if let Some(target) = request.header("x-amz-target") {
        target.rsplit('.').next().unwrap_or(target).to_string()
    } else if let Some(action) =
        String::from_utf8_lossy(&request.body).split('&').find_map(|pair| pair.strip_prefix("Action="))
    {
        action.to_string()
    } else {
        let mut parts = request.head.split_whitespace();
        let method = parts.next().unwrap_or("?");
        let path = parts.next().unwrap_or("/");
        let query = path
            .split_once('?')
            .map(|(_, q)| q.split('&').next().unwrap_or("").split('=').next().unwrap_or(""))
            .unwrap_or("");
        // API Gateway's REST paths name what a call is about by their first segment
        // (`/restapis`, `/domainnames`, `/usageplans`); other services' paths hold names.
        let what = match service.as_str() {
            "apigateway" => path.trim_start_matches('/').split(['/', '?']).next().unwrap_or(""),
            _ => "",
        };
        match (what.is_empty(), query.is_empty()) {
            (false, _) => format!("{method} /{what}"),
            (true, true) => method.to_string(),
            (true, false) => format!("{method} ?{query}"),
        }
    };
    format!("{service}:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{auth, message};

    #[test]
    fn requests_are_counted_by_service_and_operation_and_reset_zeroes_them() {
        let sts = auth("sts", "us-east-1");
        let query =
            message("POST / HTTP/1.1", &[("Authorization", &sts)], "Action=GetCallerIdentity&Version=2011-06-15");
        assert_eq!(operation(&query), "sts:GetCallerIdentity");
        let kinesis = auth("kinesis", "us-east-1");
        let json = message(
            "POST / HTTP/1.1",
            &[("Authorization", &kinesis), ("X-Amz-Target", "Kinesis_20131202.ListStreams")],
            "{}",
        );
        assert_eq!(operation(&json), "kinesis:ListStreams");
        let s3 = auth("s3", "us-east-1");
        assert_eq!(operation(&message("GET /lake?tagging HTTP/1.1", &[("Authorization", &s3)], "")), "s3:GET ?tagging");
        assert_eq!(operation(&message("PUT /lake HTTP/1.1", &[], "")), "unknown:PUT");
        let apigateway = crate::testing::auth("apigateway", "us-east-1");
        let list = message("GET /domainnames?limit=500 HTTP/1.1", &[("Authorization", &apigateway)], "");
        assert_eq!(operation(&list), "apigateway:GET /domainnames");
        let mut stats = Stats::default();
        stats.requests.insert("sts:GetCallerIdentity".to_string(), 2);
        stats.faults.insert("throttle sts:GetCallerIdentity".to_string(), 1);
        let answer = control_response(&mut stats, "/__proxy/stats");
        let body: serde_json::Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["total"], 2);
        assert_eq!(body["faults_total"], 1);
        assert_eq!(body["requests"]["sts:GetCallerIdentity"], 2);
        let reset = control_response(&mut stats, "/__proxy/reset");
        assert!(
            reset.ends_with(r#"{"total":0,"faults_total":0,"requests":{},"faults":{},"upstream_ms":{},"fidelity":{}}"#)
        );
        assert!(stats.requests.is_empty());
    }
}

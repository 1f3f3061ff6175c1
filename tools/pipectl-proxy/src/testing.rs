//! Builders of requests and responses for the unit tests: a message with headers, a SigV4
//! `Authorization` header for a service and region, and calls in each protocol's shape.

use serde_json::Value;

use crate::call::Call;
use crate::http::Message;

pub fn message(head_line: &str, headers: &[(&str, &str)], body: &str) -> Message {
    let mut head = format!("{head_line}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    Message { head, body: body.as_bytes().to_vec() }
}

pub fn auth(service: &str, region: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0"
    )
}

pub fn query(service: &str, body: &str) -> Call {
    let auth = auth(service, "us-east-1");
    Call::parse(&message("POST / HTTP/1.1", &[("Authorization", &auth)], body))
}

pub fn json(service: &str, target: &str, body: &Value) -> Call {
    let auth = auth(service, "us-east-1");
    Call::parse(&message("POST / HTTP/1.1", &[("Authorization", &auth), ("X-Amz-Target", target)], &body.to_string()))
}

pub fn rest(service: &str, region: &str, line: &str, body: &str) -> Call {
    let auth = auth(service, region);
    Call::parse(&message(line, &[("Authorization", &auth)], body))
}

pub fn ok(body: &str) -> Message {
    message("HTTP/1.1 200 OK", &[("Content-Type", "text/xml")], body)
}

//! Injected failures: the seeded draw of `--fault-rate`, the shapes AWS fails in (HTTP 500 and
//! 503, throttling errors in each protocol's own shape, dropped connections), and the permission
//! fault of `--deny-create-bucket-tags`.

use crate::http::{decoded_body, plain_response, Message};

/// A failure `--faults` may inject into a `--fault-rate` share of the requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Internal,
    Unavailable,
    Throttle,
    Drop,
}

impl Fault {
    pub fn parse(name: &str) -> Option<Fault> {
        match name {
            "500" => Some(Fault::Internal),
            "503" => Some(Fault::Unavailable),
            "throttle" => Some(Fault::Throttle),
            "drop" => Some(Fault::Drop),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Fault::Internal => "500",
            Fault::Unavailable => "503",
            Fault::Throttle => "throttle",
            Fault::Drop => "drop",
        }
    }
}

/// A small deterministic generator (xorshift64*), so a seed reproduces a run's faults.
pub struct Random(pub u64);

impl Random {
    pub fn next(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Draws whether a request fails, and how. It takes two numbers of the generator per request
/// whatever the outcome, so a seed reproduces the same faults on the same requests.
pub fn draw(random: &mut Random, rate: f64, faults: &[Fault]) -> Option<Fault> {
    let roll = random.next();
    let pick = random.next();
    (roll < rate && !faults.is_empty()).then(|| faults[(pick * faults.len() as f64) as usize % faults.len()])
}

/// What the client reads for an injected fault; None when the connection is dropped instead.
pub fn fault_response(fault: Fault, request: &Message, service: &str) -> Option<String> {
    match fault {
        Fault::Drop => None,
        Fault::Internal => Some(plain_response("500 Internal Server Error", "injected by pipectl-proxy")),
        Fault::Unavailable => Some(plain_response("503 Service Unavailable", "injected by pipectl-proxy")),
        Fault::Throttle => Some(throttle_response(request, service)),
    }
}

/// Whether a request is an S3 `CreateBucket` that tags the bucket: a `PUT` on a bucket (no key,
/// no subresource query) whose `CreateBucketConfiguration` has `<Tags>`.
pub fn is_create_bucket_with_tags(request: &Message, service: &str) -> bool {
    let mut parts = request.head.split_whitespace();
    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or("/"));
    let on_bucket = !target.contains('?') && !target.trim_matches('/').contains('/');
    if service != "s3" || method != "PUT" || !on_bucket {
        return false;
    }
    let body = String::from_utf8_lossy(&decoded_body(request)).into_owned();
    body.contains("<CreateBucketConfiguration") && body.contains("<Tags>")
}

/// S3's answer to a request the caller has no permission for ("Error responses", Amazon S3 API
/// Reference: `AccessDenied`, HTTP 403).
pub fn access_denied_response() -> String {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>pipectl-proxy</RequestId><HostId>pipectl-proxy</HostId></Error>";
    format!("HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}", body.len())
}

/// A throttling error in the shape the request's protocol uses.
fn throttle_response(request: &Message, service: &str) -> String {
    let (status, content_type, body) = if request.header("x-amz-target").is_some() {
        let code = if service == "kinesis" || service == "firehose" {
            "LimitExceededException"
        } else {
            "ThrottlingException"
        };
        ("400 Bad Request", "application/x-amz-json-1.1", format!(r#"{{"__type":"{code}","message":"Rate exceeded"}}"#))
    } else if service == "ec2" {
        ("503 Service Unavailable", "text/xml", "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>proxy</RequestID></Response>".to_string())
    } else if service == "s3" {
        (
            "503 Slow Down",
            "application/xml",
            "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".to_string(),
        )
    } else if String::from_utf8_lossy(&request.body).contains("Action=") {
        ("400 Bad Request", "text/xml", "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>proxy</RequestId></ErrorResponse>".to_string())
    } else {
        ("429 Too Many Requests", "application/json", r#"{"message":"Rate exceeded"}"#.to_string())
    };
    let extra = if status.starts_with("429") { "x-amzn-ErrorType: ThrottlingException\r\n" } else { "" };
    format!("HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\n\r\n{body}", body.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{auth, message};

    #[test]
    fn only_create_bucket_with_tags_is_denied() {
        let tagged = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>eu-west-1</LocationConstraint><Tags><Tag><Key>k</Key><Value>v</Value></Tag></Tags></CreateBucketConfiguration>";
        let untagged =
            "<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>";
        let s3 = auth("s3", "eu-west-1");
        let put =
            |target: &str, body: &str| message(&format!("PUT {target} HTTP/1.1"), &[("Authorization", &s3)], body);
        assert!(is_create_bucket_with_tags(&put("/lake", tagged), "s3"));
        assert!(is_create_bucket_with_tags(&put("/lake/", tagged), "s3"));
        assert!(!is_create_bucket_with_tags(&put("/lake", untagged), "s3"));
        assert!(!is_create_bucket_with_tags(&put("/lake", ""), "s3"));
        assert!(!is_create_bucket_with_tags(&put("/lake?tagging", tagged), "s3"), "PutBucketTagging passes");
        assert!(!is_create_bucket_with_tags(&put("/lake/key", tagged), "s3"), "PutObject passes");
        assert!(!is_create_bucket_with_tags(&put("/lake", tagged), "kinesis"));
        let chunked = format!("{:x}\r\n{tagged}\r\n0\r\n\r\n", tagged.len());
        let mut request = put("/lake", &chunked);
        request.head = request.head.replace("Content-Length", "Transfer-Encoding: chunked\r\nX-Length");
        assert!(is_create_bucket_with_tags(&request, "s3"));
        let response = access_denied_response();
        assert!(response.starts_with("HTTP/1.1 403 Forbidden\r\n"));
        assert!(response.contains("<Code>AccessDenied</Code>"));
    }
}

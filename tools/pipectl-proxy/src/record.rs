//! `--record FILE`: one JSON line per request that passed through the proxy, for tests that check
//! what pipectl called independently of pipectl's own account of it (the permissions test maps
//! each line to the IAM actions, resource ARN and condition keys of the call).
//!
//! A line holds what identifies the call and what names its resource: the SigV4 signing name and
//! region, the method, path and query, the `Host` and `X-Amz-Target` headers, the query-protocol
//! parameters decoded (`params`), the JSON body (`json`), a text body otherwise (`body`, S3's XML),
//! the answer's status and its body (`response`: a create's answer holds the id the later calls
//! name, e.g. EC2's `vpcId`). Bodies are cut at `MAX_BODY` bytes; object uploads are not bodies
//! a test reads.

use std::io::Write;
use std::sync::{Mutex, PoisonError};

use serde_json::{json, Value};

use crate::call::Call;
use crate::http::{decoded_body, Message};

/// The longest body a line keeps, in bytes.
const MAX_BODY: usize = 64 * 1024;

/// The file lines go to (`--record`), written one whole line at a time.
pub struct Recorder(Mutex<std::fs::File>);

impl Recorder {
    /// Creates (or truncates) `path`.
    pub fn create(path: &str) -> Result<Recorder, String> {
        std::fs::File::create(path)
            .map(|file| Recorder(Mutex::new(file)))
            .map_err(|error| format!("--record {path}: {error}"))
    }

    /// Appends the line for `request` and the status and body the client got (`None` when the
    /// connection was dropped).
    pub fn record(&self, request: &Message, answer: Option<(&str, &[u8])>) {
        let mut line = line(request, answer).to_string();
        line.push('\n');
        let mut file = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = file.write_all(line.as_bytes());
    }
}

/// Text of a body, cut at `MAX_BODY`.
fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(MAX_BODY)]).into_owned()
}

/// The JSON line of one request and its answer (`head` and body of the response).
fn line(request: &Message, answer: Option<(&str, &[u8])>) -> Value {
    let call = Call::parse(request);
    let mut request_line = request.head.split_whitespace();
    let method = request_line.next().unwrap_or_default();
    let target = request_line.next().unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let body = if call.json.is_null() && call.params.is_empty() { text(&call.body) } else { String::new() };
    let (status, response) = answer.map_or((0, String::new()), |(head, body)| {
        (head.split_whitespace().nth(1).and_then(|code| code.parse::<u16>().ok()).unwrap_or(0), text(body))
    });
    json!({
        "service": call.service,
        "region": call.region,
        "operation": call.operation,
        "method": method,
        "path": path,
        "query": query,
        "host": request.header("host").unwrap_or_default(),
        "target": request.header("x-amz-target"),
        "params": call.params,
        "json": call.json,
        "body": body,
        "status": status,
        "response": response,
    })
}

/// The status line and the decoded body of an upstream answer, as `Recorder::record` takes them.
pub fn upstream_answer(response: &Message) -> (String, Vec<u8>) {
    (response.head.lines().next().unwrap_or_default().to_string(), decoded_body(response))
}

/// The status line and body of an answer the proxy wrote itself.
pub fn own_answer(response: &str) -> (String, Vec<u8>) {
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
    (head.lines().next().unwrap_or_default().to_string(), body.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{auth, message};

    #[test]
    fn a_line_holds_what_names_the_call_and_its_answer() {
        let iam = auth("iam", "us-east-1");
        let request = message(
            "POST / HTTP/1.1",
            &[("Authorization", &iam), ("Host", "127.0.0.1:5000")],
            "Action=CreateRole&RoleName=r&Path=%2Fpipectl%2Fp%2F",
        );
        let (head, body) = own_answer("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n<ok>");
        let line = line(&request, Some((&head, &body)));
        assert_eq!(line["service"], "iam");
        assert_eq!(line["operation"], "CreateRole");
        assert_eq!(line["params"]["Path"], "/pipectl/p/");
        assert_eq!((line["status"].as_u64(), line["response"].as_str()), (Some(200), Some("<ok>")));
        assert_eq!(line["host"], "127.0.0.1:5000");
        let s3 = auth("s3", "eu-west-1");
        let put = message("PUT /lake?tagging HTTP/1.1", &[("Authorization", &s3)], "<Tagging/>");
        let line = super::line(&put, None);
        assert_eq!(
            (line["method"].as_str(), line["path"].as_str(), line["query"].as_str()),
            (Some("PUT"), Some("/lake"), Some("tagging"))
        );
        assert_eq!((line["body"].as_str(), line["status"].as_u64()), (Some("<Tagging/>"), Some(0)));
        let path = std::env::temp_dir().join(format!("pipectl-proxy-record-{}.jsonl", std::process::id()));
        let recorder = Recorder::create(&path.display().to_string()).expect("file");
        recorder.record(&put, Some(("HTTP/1.1 204 No Content", b"")));
        recorder.record(&request, None);
        let written = std::fs::read_to_string(&path).expect("read");
        let _ = std::fs::remove_file(&path);
        let lines: Vec<Value> = written.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["status"], 204);
    }
}

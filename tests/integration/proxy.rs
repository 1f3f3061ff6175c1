//! pipectl-proxy in front of a whole emulator stack, for tests that need what it counts: the
//! requests it forwarded, by `service:Operation` (`GET /__proxy/stats`), an independent count
//! of what pipectl sent (not pipectl's own `-v` summary or `api_calls`), and what its fidelity
//! rules did (`fidelity.rs`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::support::{run_with_env, Run, Stack, REGION};

/// Starts the proxy `command` describes and waits for its `listening on ADDRESS` line: the
/// running proxy and its URL.
pub fn spawn(command: &mut Command) -> (Child, String) {
    let mut child = command.stdout(Stdio::piped()).spawn().expect("proxy starts");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("stdout")).read_line(&mut line).expect("proxy address");
    let url = format!("http://{}", line.trim().rsplit(' ').next().unwrap_or_default());
    (child, url)
}

/// The SigV4 signing name of the service behind `AWS_ENDPOINT_URL_<SUFFIX>`.
fn signing_name(suffix: &str) -> &'static str {
    match suffix {
        "EMR" => "elasticmapreduce",
        "FIREHOSE" => "firehose",
        "SCHEDULER" => "scheduler",
        "DYNAMODB" => "dynamodb",
        "GLUE" => "glue",
        "ATHENA" => "athena",
        "REDSHIFT_DATA" => "redshift-data",
        "SQS" => "sqs",
        "KINESIS" => "kinesis",
        "S3" => "s3",
        "EC2" => "ec2",
        "IAM" => "iam",
        "STS" => "sts",
        other => panic!("proxy.rs does not know the signing name of AWS_ENDPOINT_URL_{other}: add it"),
    }
}

/// pipectl-proxy in front of a whole stack, stopped on drop.
pub struct StackProxy {
    child: Child,
    pub url: String,
}

impl StackProxy {
    /// One proxy for the stack, with `args`, routing each service where `Stack::env` sends it, so
    /// that it sees (and counts) every call (IAM on LocalStack, EMR, Firehose and Scheduler on moto).
    pub fn start(stack: Stack, args: &[&str]) -> StackProxy {
        let mut command = Command::new(crate::support::proxy_binary());
        command.args(["--upstream", &stack.endpoint()]).args(args);
        for (key, value) in stack.env() {
            if let Some(suffix) = key.strip_prefix("AWS_ENDPOINT_URL_") {
                command.args(["--route", &format!("{}={value}", signing_name(suffix))]);
            }
        }
        let (child, url) = spawn(&mut command);
        StackProxy { child, url }
    }

    /// pipectl's environment: everything through the proxy.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ENDPOINT_URL", self.url.clone()),
        ]
    }

    /// Runs pipectl through the proxy.
    pub fn pipectl(&self, args: &[&str]) -> Run {
        run_with_env(args, &self.env())
    }

    /// Everything it counted (`GET /__proxy/stats`): `total`, `requests`, `faults`, `fidelity`.
    pub fn stats(&self) -> serde_json::Value {
        let address = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("proxy stats");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        write!(stream, "GET /__proxy/stats HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").expect("ask");
        let mut reader = BufReader::new(stream);
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).expect("stats head") == 0 || line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("stats body");
        serde_json::from_slice(&body).unwrap_or_else(|error| panic!("stats are not JSON ({error})"))
    }

    /// The requests it forwarded since it started (or since `reset`), by `service:Operation` as
    /// the proxy names them (the SigV4 signing name; S3's method and first query key).
    pub fn requests(&self) -> BTreeMap<String, u64> {
        serde_json::from_value(self.stats()["requests"].clone()).expect("requests by operation")
    }

    /// Zeroes its counts (`POST /__proxy/reset`).
    pub fn reset(&self) {
        let address = self.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).expect("proxy reset");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
        write!(
            stream,
            "POST /__proxy/reset HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .expect("reset");
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "the proxy did not reset: {answer}");
    }
}

impl Drop for StackProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

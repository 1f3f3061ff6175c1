//! pipectl-proxy: a loopback HTTP proxy between pipectl and an emulator, for benchmarks and
//! fault tests. It adds a fixed delay to every request, counts requests by service and
//! operation, and can fail a seeded, reproducible share of them the way AWS does: HTTP 500 and
//! 503, throttling errors in each protocol's own shape, and dropped connections.
//!
//!   pipectl-proxy --upstream http://127.0.0.1:5000 [--listen 127.0.0.1:0] [--delay-ms 50]
//!                 [--fault-rate 0.1 --seed 7 --faults 500,503,throttle,drop]
//!                 [--route elasticmapreduce=http://127.0.0.1:5000 …]
//!                 [--fidelity [--fidelity-rules log-uri-s3n,fresh-iam,…]
//!                  [--iam-propagation-secs 5] [--dependency-secs 10]]
//!                 [--deny-create-bucket-tags]
//!
//! It prints `listening on ADDRESS` once ready. `GET /__proxy/stats` returns the counts as
//! JSON (with `fidelity`: how often each rule below answered or rewrote, by operation);
//! `POST /__proxy/reset` zeroes them. `--route SERVICE=URL` sends the requests signed for one
//! service (SigV4's signing name: `elasticmapreduce`, `firehose`, `scheduler`, …) to another
//! upstream, so that one proxy sees a whole emulator stack (LocalStack with EMR on moto).
//!
//! ## Fidelity mode
//!
//! The emulators are lenient where AWS is not. `--fidelity` makes the proxy behave like AWS in
//! these documented ways, each a rule applied between pipectl and the emulator
//! (`--fidelity-rules` picks some; `localstack/README.md` lists them with the tests that use them):
//!
//! - `log-uri-s3n` — EMR `DescribeCluster` answers the `LogUri` of a cluster created with
//!   `s3://bucket/prefix/` as `s3n://bucket/prefix/` (hashicorp/terraform-provider-aws#1356,
//!   "aws_emr_cluster.log_uri forces new resource", and its diff-suppress in #1374; the
//!   "Cluster" data type of the Amazon EMR API Reference promises only "the path to Amazon S3
//!   where logs for this cluster are stored"). The emulators echo `s3://`.
//! - `fresh-iam` — a role or instance profile created (or given its role) less than
//!   `--iam-propagation-secs` ago (default 5) cannot be used yet: IAM is eventually consistent
//!   ("Troubleshoot IAM", IAM User Guide: "Changes that I make are not always immediately
//!   visible"). AWS refuses it with each service's own error, which the proxy answers instead
//!   of the emulator: Firehose `CreateDeliveryStream` — `InvalidArgumentException` "Firehose is
//!   unable to assume role ARN. Please check the role provided."; EMR `RunJobFlow` —
//!   `ValidationException` "Invalid InstanceProfile: NAME."; EventBridge Scheduler
//!   `CreateSchedule`/`UpdateSchedule` — `ValidationException` "The execution role you provide
//!   must allow AWS EventBridge Scheduler to assume the role."; Step Functions
//!   `CreateStateMachine`/`UpdateStateMachine` — `AccessDeniedException` "Neither the global
//!   service principal states.amazonaws.com, nor the regional one is authorized to assume the
//!   provided role." (the codes are in each operation's API reference; the messages are the ones
//!   the AWS Terraform provider retries on for these operations). The proxy learns names and times from the `CreateRole`,
//!   `CreateInstanceProfile` and `AddRoleToInstanceProfile` calls that pass through it.
//! - `dependency-violation` — for `--dependency-secs` (default 10) after an EMR
//!   `TerminateJobFlows`, EC2 `DeleteSecurityGroup`, `DeleteSubnet` and `DeleteVpc` answer
//!   `DependencyViolation` ("Error codes for the Amazon EC2 API"), as AWS does while the
//!   terminated instances' network interfaces are released and while EMR's managed security
//!   groups still reference each other ("Working with Amazon EMR-managed security groups").
//!   Simplified: the proxy does not track which VPC the cluster was in; any terminate counts.
//! - `bucket-region-redirect` — `GetBucketTagging` on a bucket created (through this proxy) in
//!   another region than the request is signed for answers `301 PermanentRedirect` with
//!   `x-amz-bucket-region` ("Error responses", Amazon S3 API Reference). `ListBuckets` lists
//!   the buckets of every region, so pipectl meets such buckets on every plan.
//!
//! ## Permission faults
//!
//! `--deny-create-bucket-tags` answers every S3 `CreateBucket` whose `CreateBucketConfiguration`
//! carries `<Tags>` with `403 AccessDenied`, as AWS does for a principal that has
//! `s3:CreateBucket` but not `s3:TagResource` (tags at creation need both: "CreateBucket",
//! Amazon S3 API Reference). The same request without tags passes. Counted in `faults` as
//! `deny-create-bucket-tags s3:PUT`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Internal,
    Unavailable,
    Throttle,
    Drop,
}

impl Fault {
    fn parse(name: &str) -> Option<Fault> {
        match name {
            "500" => Some(Fault::Internal),
            "503" => Some(Fault::Unavailable),
            "throttle" => Some(Fault::Throttle),
            "drop" => Some(Fault::Drop),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Fault::Internal => "500",
            Fault::Unavailable => "503",
            Fault::Throttle => "throttle",
            Fault::Drop => "drop",
        }
    }
}

struct Options {
    listen: String,
    upstream: String,
    /// Upstreams by SigV4 signing name, for the services that do not go to `upstream`.
    routes: BTreeMap<String, String>,
    delay: Duration,
    fault_rate: f64,
    faults: Vec<Fault>,
    seed: u64,
    /// The fidelity rules to apply (none unless `--fidelity` or `--fidelity-rules`).
    fidelity: FidelityOptions,
    /// Refuse CreateBucket with tags as AccessDenied (`--deny-create-bucket-tags`).
    deny_create_bucket_tags: bool,
}

impl Options {
    /// Where a request signed for `service` goes.
    fn upstream_for(&self, service: &str) -> &str {
        self.routes.get(service).map_or(self.upstream.as_str(), String::as_str)
    }
}

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://").trim_end_matches('/').to_string()
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        listen: "127.0.0.1:0".to_string(),
        upstream: String::new(),
        routes: BTreeMap::new(),
        delay: Duration::ZERO,
        fault_rate: 0.0,
        faults: vec![Fault::Internal, Fault::Unavailable, Fault::Throttle, Fault::Drop],
        seed: 1,
        fidelity: FidelityOptions::default(),
        deny_create_bucket_tags: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => options.listen = value()?,
            "--upstream" => options.upstream = host_port(&value()?),
            "--route" => {
                let route = value()?;
                let (service, url) =
                    route.split_once('=').ok_or_else(|| format!("--route takes SERVICE=URL, not `{route}`"))?;
                options.routes.insert(service.to_string(), host_port(url));
            }
            "--fidelity" => options.fidelity.rules = Rule::ALL.to_vec(),
            "--deny-create-bucket-tags" => options.deny_create_bucket_tags = true,
            "--fidelity-rules" => {
                options.fidelity.rules = value()?
                    .split(',')
                    .map(|name| {
                        Rule::parse(name).ok_or_else(|| {
                            let known: Vec<&str> = Rule::ALL.iter().map(|rule| rule.name()).collect();
                            format!("unknown fidelity rule `{name}` ({})", known.join(", "))
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
            "--iam-propagation-secs" => {
                options.fidelity.iam_propagation =
                    Duration::from_secs(value()?.parse().map_err(|_| "--iam-propagation-secs takes seconds")?)
            }
            "--dependency-secs" => {
                options.fidelity.dependency =
                    Duration::from_secs(value()?.parse().map_err(|_| "--dependency-secs takes seconds")?)
            }
            "--delay-ms" => {
                options.delay = Duration::from_millis(value()?.parse().map_err(|_| "--delay-ms takes milliseconds")?)
            }
            "--fault-rate" => {
                options.fault_rate = value()?.parse().map_err(|_| "--fault-rate takes a number between 0 and 1")?
            }
            "--seed" => options.seed = value()?.parse().map_err(|_| "--seed takes a number")?,
            "--faults" => {
                options.faults = value()?
                    .split(',')
                    .map(|name| {
                        Fault::parse(name).ok_or_else(|| format!("unknown fault `{name}` (500, 503, throttle, drop)"))
                    })
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if options.upstream.is_empty() {
        return Err("--upstream http://HOST:PORT is required".to_string());
    }
    Ok(options)
}

/// One real-AWS behaviour of fidelity mode (see the module documentation for each one's source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    LogUriScheme,
    FreshIam,
    DependencyViolation,
    BucketRedirect,
}

impl Rule {
    const ALL: [Rule; 4] = [Rule::LogUriScheme, Rule::FreshIam, Rule::DependencyViolation, Rule::BucketRedirect];

    fn name(self) -> &'static str {
        match self {
            Rule::LogUriScheme => "log-uri-s3n",
            Rule::FreshIam => "fresh-iam",
            Rule::DependencyViolation => "dependency-violation",
            Rule::BucketRedirect => "bucket-region-redirect",
        }
    }

    fn parse(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|rule| rule.name() == name)
    }
}

struct FidelityOptions {
    rules: Vec<Rule>,
    /// How long a new role or instance profile stays unusable.
    iam_propagation: Duration,
    /// How long after a cluster terminates its VPC's security groups, subnets and VPC stay in use.
    dependency: Duration,
}

impl Default for FidelityOptions {
    fn default() -> FidelityOptions {
        FidelityOptions {
            rules: Vec::new(),
            iam_propagation: Duration::from_secs(5),
            dependency: Duration::from_secs(10),
        }
    }
}

/// What fidelity mode has seen pass by.
#[derive(Default)]
struct FidelityState {
    /// Roles and instance profiles by name: when they were created or given their role.
    fresh: HashMap<String, Instant>,
    /// When an EMR cluster was last terminated.
    terminated: Option<Instant>,
    /// Buckets created through the proxy: their region.
    bucket_regions: HashMap<String, String>,
}

/// The part of a request the fidelity rules look at.
#[derive(Debug, Default)]
struct Call {
    /// SigV4's signing name: `iam`, `ec2`, `s3`, `elasticmapreduce`, `firehose`, `scheduler`, …
    service: String,
    /// The region the request is signed for.
    region: String,
    /// The API operation, e.g. `CreateRole`, `RunJobFlow`, `CreateSchedule`, `GetBucketTagging`.
    operation: String,
    /// The parameters of a query-protocol request (IAM, EC2), decoded.
    params: BTreeMap<String, String>,
    /// The body of a JSON request (EMR, Firehose, Scheduler), or Null.
    json: Value,
    /// The bucket of a path-style S3 request.
    bucket: Option<String>,
    /// The body as it was sent, without chunked framing.
    body: Vec<u8>,
}

/// A message's body without chunked transfer framing.
fn decoded_body(message: &Message) -> Vec<u8> {
    if !message.header("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked")) {
        return message.body.clone();
    }
    let mut out = Vec::new();
    let mut rest = message.body.as_slice();
    while let Some(end) = rest.windows(2).position(|pair| pair == b"\r\n") {
        let size_line = String::from_utf8_lossy(&rest[..end]).to_string();
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        rest = &rest[end + 2..];
        if size == 0 || rest.len() < size {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
    out
}

/// Replaces a message's body, framed by Content-Length.
fn replace_body(message: &mut Message, body: Vec<u8>) {
    let mut head: Vec<&str> = message
        .head
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|line| {
            let name = line.split(':').next().unwrap_or_default().trim();
            !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("transfer-encoding")
        })
        .collect();
    let length = format!("Content-Length: {}", body.len());
    head.push(&length);
    message.head = format!("{}\r\n\r\n", head.join("\r\n"));
    message.body = body;
}

impl Call {
    fn parse(request: &Message) -> Call {
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
                .map(|(key, value)| (pipectl::policy::percent_decode(key), pipectl::policy::percent_decode(value)))
                .collect();
            call.operation = call.params.get("Action").cloned().unwrap_or_default();
        } else if call.service == "s3" {
            let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
            call.bucket = segments.first().map(|bucket| pipectl::policy::percent_decode(bucket));
            call.operation = match (method.as_str(), segments.len(), query.as_slice()) {
                ("PUT", 1, []) => "CreateBucket".to_string(),
                ("GET", 1, [first, ..]) if first.split('=').next() == Some("tagging") => "GetBucketTagging".to_string(),
                _ => format!("{method} {path}"),
            };
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

    fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }
}

/// An answer the proxy gives instead of the emulator.
#[derive(Debug, PartialEq, Eq)]
struct Refusal {
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

    fn render(&self) -> String {
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
struct Fidelity {
    options: FidelityOptions,
    state: Mutex<FidelityState>,
}

impl Fidelity {
    fn new(options: FidelityOptions) -> Fidelity {
        Fidelity { options, state: Mutex::new(FidelityState::default()) }
    }

    fn enabled(&self, rule: Rule) -> bool {
        self.options.rules.contains(&rule)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FidelityState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_fresh(&self, name: &str, now: Instant) -> bool {
        self.state()
            .fresh
            .get(name_of(name))
            .is_some_and(|created| now.saturating_duration_since(*created) < self.options.iam_propagation)
    }

    /// The answer AWS would give instead of the emulator's, if any rule says so.
    fn refuse(&self, call: &Call, now: Instant) -> Option<(Rule, Refusal)> {
        if self.enabled(Rule::FreshIam) {
            if let Some(refusal) = self.fresh_iam(call, now) {
                return Some((Rule::FreshIam, refusal));
            }
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
    /// differently from the emulator. Returns the rule that rewrote it.
    fn observe(&self, call: &Call, response: &mut Message, now: Instant) -> Option<Rule> {
        let succeeded = response.head.split_whitespace().nth(1).is_some_and(|status| status.starts_with('2'));
        if !succeeded {
            return None;
        }
        match (call.service.as_str(), call.operation.as_str()) {
            ("iam", "CreateRole") if self.enabled(Rule::FreshIam) => {
                self.state().fresh.insert(call.param("RoleName").to_string(), now);
            }
            ("iam", "CreateInstanceProfile" | "AddRoleToInstanceProfile") if self.enabled(Rule::FreshIam) => {
                self.state().fresh.insert(call.param("InstanceProfileName").to_string(), now);
            }
            ("elasticmapreduce", "TerminateJobFlows") if self.enabled(Rule::DependencyViolation) => {
                self.state().terminated = Some(now);
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
                let mut answer: Value = serde_json::from_slice(&decoded_body(response)).ok()?;
                let log_uri = answer["Cluster"]["LogUri"].as_str()?;
                let rewritten = format!("s3n://{}", log_uri.strip_prefix("s3://")?);
                answer["Cluster"]["LogUri"] = Value::String(rewritten);
                replace_body(response, answer.to_string().into_bytes());
                return Some(Rule::LogUriScheme);
            }
            _ => {}
        }
        None
    }
}

/// A small deterministic generator (xorshift64*), so a seed reproduces a run's faults.
struct Random(u64);

impl Random {
    fn next(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Default)]
struct Stats {
    requests: BTreeMap<String, u64>,
    faults: BTreeMap<String, u64>,
    /// Time the upstream took to answer, in milliseconds, summed per operation.
    upstream_ms: BTreeMap<String, u64>,
    /// How often each fidelity rule answered or rewrote, as `rule service:Operation`.
    fidelity: BTreeMap<String, u64>,
}

struct Shared {
    options: Options,
    random: Mutex<Random>,
    stats: Mutex<Stats>,
    /// Fidelity mode, when any rule is on.
    fidelity: Option<Fidelity>,
}

/// One HTTP/1.1 message head and body.
struct Message {
    head: String,
    body: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Reads a head and a body framed by Content-Length or chunked encoding; None at a clean EOF.
async fn read_message<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    response_to_head: bool,
) -> std::io::Result<Option<Message>> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return if head.is_empty() { Ok(None) } else { Err(std::io::ErrorKind::UnexpectedEof.into()) };
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut message = Message { head, body: Vec::new() };
    let status_without_body = message.head.split_whitespace().nth(1).is_some_and(|code| code == "204" || code == "304");
    if response_to_head || status_without_body {
        return Ok(Some(message));
    }
    if let Some(length) = message.header("content-length").and_then(|value| value.parse::<usize>().ok()) {
        message.body = vec![0; length];
        reader.read_exact(&mut message.body).await?;
    } else if message.header("transfer-encoding").is_some_and(|value| value.eq_ignore_ascii_case("chunked")) {
        // Keep the chunked framing as it is: the client decodes it.
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line).await?;
            message.body.extend_from_slice(size_line.as_bytes());
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await?;
            message.body.extend_from_slice(&chunk);
            if size == 0 {
                break;
            }
        }
    } else if message.head.starts_with("HTTP/") {
        reader.read_to_end(&mut message.body).await?;
    }
    Ok(Some(message))
}

/// `service:Operation` from SigV4's credential scope and the protocol's operation marker.
fn operation(request: &Message) -> String {
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
        if query.is_empty() {
            method.to_string()
        } else {
            format!("{method} ?{query}")
        }
    };
    format!("{service}:{name}")
}

/// Whether a request is an S3 `CreateBucket` that tags the bucket: a `PUT` on a bucket (no key,
/// no subresource query) whose `CreateBucketConfiguration` has `<Tags>`.
fn is_create_bucket_with_tags(request: &Message, service: &str) -> bool {
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
fn access_denied_response() -> String {
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

fn plain_response(status: &str, body: &str) -> String {
    format!("HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len())
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

async fn serve(client: TcpStream, shared: Arc<Shared>) -> std::io::Result<()> {
    let (read_half, mut write_half) = client.into_split();
    let mut reader = BufReader::new(read_half);
    // One kept-alive connection per upstream (requests of several services share a client
    // connection, and `--route` may send them to different emulators).
    let mut upstreams: HashMap<String, (BufReader<tokio::net::tcp::OwnedReadHalf>, tokio::net::tcp::OwnedWriteHalf)> =
        HashMap::new();
    while let Some(request) = read_message(&mut reader, false).await? {
        // A client that asks to close after this request reads its answer to the end.
        let close = request.header("connection").is_some_and(|value| value.eq_ignore_ascii_case("close"));
        let path = request.head.split_whitespace().nth(1).unwrap_or("/").to_string();
        if path.starts_with("/__proxy/") {
            let body = {
                let mut stats = shared.stats.lock().unwrap_or_else(PoisonError::into_inner);
                if path.starts_with("/__proxy/reset") {
                    *stats = Stats::default();
                }
                stats_json(&stats)
            };
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            write_half.write_all(response.as_bytes()).await?;
            if close {
                return Ok(());
            }
            continue;
        }
        let operation = operation(&request);
        let service = operation.split(':').next().unwrap_or("").to_string();
        *shared.stats.lock().unwrap_or_else(PoisonError::into_inner).requests.entry(operation.clone()).or_default() +=
            1;
        tokio::time::sleep(shared.options.delay).await;
        let fault = {
            let mut random = shared.random.lock().unwrap_or_else(PoisonError::into_inner);
            let roll = random.next();
            let pick = random.next();
            (roll < shared.options.fault_rate && !shared.options.faults.is_empty()).then(|| {
                shared.options.faults
                    [(pick * shared.options.faults.len() as f64) as usize % shared.options.faults.len()]
            })
        };
        if let Some(fault) = fault {
            *shared
                .stats
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .faults
                .entry(format!("{} {operation}", fault.name()))
                .or_default() += 1;
            match fault {
                Fault::Drop => return Ok(()),
                Fault::Internal => {
                    write_half
                        .write_all(plain_response("500 Internal Server Error", "injected by pipectl-proxy").as_bytes())
                        .await?
                }
                Fault::Unavailable => {
                    write_half
                        .write_all(plain_response("503 Service Unavailable", "injected by pipectl-proxy").as_bytes())
                        .await?
                }
                Fault::Throttle => write_half.write_all(throttle_response(&request, &service).as_bytes()).await?,
            }
            if close {
                return Ok(());
            }
            continue;
        }
        if shared.options.deny_create_bucket_tags && is_create_bucket_with_tags(&request, &service) {
            *shared
                .stats
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .faults
                .entry(format!("deny-create-bucket-tags {operation}"))
                .or_default() += 1;
            write_half.write_all(access_denied_response().as_bytes()).await?;
            if close {
                return Ok(());
            }
            continue;
        }
        let call = shared.fidelity.as_ref().map(|_| Call::parse(&request));
        if let (Some(fidelity), Some(call)) = (&shared.fidelity, &call) {
            if let Some((rule, refusal)) = fidelity.refuse(call, Instant::now()) {
                count_fidelity(&shared, rule, call);
                write_half.write_all(refusal.render().as_bytes()).await?;
                if close {
                    return Ok(());
                }
                continue;
            }
        }
        // A kept-alive upstream connection may have been closed by the emulator: on an IO
        // error, forward once more over a fresh connection, then answer 502.
        let address = shared.options.upstream_for(&service).to_string();
        let started = std::time::Instant::now();
        let mut response = None;
        for _ in 0..2 {
            if !upstreams.contains_key(&address) {
                if let Ok(stream) = TcpStream::connect(&address).await {
                    let (read, write) = stream.into_split();
                    upstreams.insert(address.clone(), (BufReader::new(read), write));
                }
            }
            let Some((upstream_reader, upstream_writer)) = upstreams.get_mut(&address) else { continue };
            let is_head = request.head.starts_with("HEAD ");
            let attempt = async {
                upstream_writer.write_all(request.head.as_bytes()).await?;
                upstream_writer.write_all(&request.body).await?;
                read_message(upstream_reader, is_head).await
            };
            match attempt.await {
                Ok(Some(answer)) => {
                    response = Some(answer);
                    break;
                }
                _ => {
                    upstreams.remove(&address);
                }
            }
        }
        let Some(mut response) = response else {
            write_half
                .write_all(plain_response("502 Bad Gateway", "pipectl-proxy: the upstream did not answer").as_bytes())
                .await?;
            if close {
                return Ok(());
            }
            continue;
        };
        let took = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        *shared
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .upstream_ms
            .entry(operation.clone())
            .or_default() += took;
        if let (Some(fidelity), Some(call)) = (&shared.fidelity, &call) {
            if let Some(rule) = fidelity.observe(call, &mut response, Instant::now()) {
                count_fidelity(&shared, rule, call);
            }
        }
        write_half.write_all(response.head.as_bytes()).await?;
        write_half.write_all(&response.body).await?;
        if response.header("connection").is_some_and(|value| value.eq_ignore_ascii_case("close")) {
            upstreams.remove(&address);
        }
        if close {
            return Ok(());
        }
    }
    Ok(())
}

/// Counts a rule's answer or rewrite as `rule service:Operation`, e.g.
/// `fresh-iam scheduler:CreateSchedule`.
fn count_fidelity(shared: &Shared, rule: Rule, call: &Call) {
    *shared
        .stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .fidelity
        .entry(format!("{} {}:{}", rule.name(), call.service, call.operation))
        .or_default() += 1;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("pipectl-proxy: {message}");
            std::process::exit(1);
        }
    };
    let listener = match TcpListener::bind(&options.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("pipectl-proxy: cannot listen on {}: {error}", options.listen);
            std::process::exit(1);
        }
    };
    let address: Option<SocketAddr> = listener.local_addr().ok();
    println!("listening on {}", address.map_or_else(|| options.listen.clone(), |a| a.to_string()));
    let seed = options.seed.max(1);
    let fidelity = (!options.fidelity.rules.is_empty()).then(|| {
        Fidelity::new(FidelityOptions {
            rules: options.fidelity.rules.clone(),
            iam_propagation: options.fidelity.iam_propagation,
            dependency: options.fidelity.dependency,
        })
    });
    let shared =
        Arc::new(Shared { options, random: Mutex::new(Random(seed)), stats: Mutex::new(Stats::default()), fidelity });
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = serve(client, shared).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(head_line: &str, headers: &[(&str, &str)], body: &str) -> Message {
        let mut head = format!("{head_line}\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        Message { head, body: body.as_bytes().to_vec() }
    }

    fn auth(service: &str, region: &str) -> String {
        format!("AWS4-HMAC-SHA256 Credential=AKID/20260101/{region}/{service}/aws4_request, SignedHeaders=host, Signature=0")
    }

    fn query(service: &str, body: &str) -> Call {
        let auth = auth(service, "us-east-1");
        Call::parse(&message("POST / HTTP/1.1", &[("Authorization", &auth)], body))
    }

    fn json(service: &str, target: &str, body: &Value) -> Call {
        let auth = auth(service, "us-east-1");
        Call::parse(&message(
            "POST / HTTP/1.1",
            &[("Authorization", &auth), ("X-Amz-Target", target)],
            &body.to_string(),
        ))
    }

    fn rest(service: &str, region: &str, line: &str, body: &str) -> Call {
        let auth = auth(service, region);
        Call::parse(&message(line, &[("Authorization", &auth)], body))
    }

    fn ok(body: &str) -> Message {
        message("HTTP/1.1 200 OK", &[("Content-Type", "text/xml")], body)
    }

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
        let bucket = rest("s3", "eu-west-1", "PUT /lake HTTP/1.1", "");
        assert_eq!((bucket.operation.as_str(), bucket.bucket.as_deref()), ("CreateBucket", Some("lake")));
        let tagging = rest("s3", "us-east-1", "GET /lake?tagging HTTP/1.1", "");
        assert_eq!(tagging.operation, "GetBucketTagging");
        assert_eq!(
            rest("s3", "us-east-1", "PUT /lake/key.json?x-id=PutObject HTTP/1.1", "").operation,
            "PUT /lake/key.json"
        );
        assert_eq!(rest("s3", "us-east-1", "PUT /lake?tagging HTTP/1.1", "").operation, "PUT /lake");
    }

    #[test]
    fn chunked_bodies_are_read_and_rewritten() {
        let chunked = Message {
            head: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: x\r\n\r\n".to_string(),
            body: b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".to_vec(),
        };
        assert_eq!(decoded_body(&chunked), b"hello world");
        let mut rewritten = chunked;
        replace_body(&mut rewritten, b"bye".to_vec());
        assert_eq!(rewritten.head, "HTTP/1.1 200 OK\r\nContent-Type: x\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(rewritten.body, b"bye");
        assert_eq!(pipectl::policy::percent_decode("a%2Fb+c"), "a/b c");
    }

    #[test]
    fn a_fresh_role_is_refused_by_firehose_until_it_propagates() {
        let fidelity = all_rules();
        let t0 = Instant::now();
        let role = "arn:aws:iam::000000000000:role/pipectl/p/p-d-firehose";
        assert_eq!(fidelity.refuse(&firehose_create(role), t0), None, "unknown roles are usable");
        let create = query("iam", "Action=CreateRole&RoleName=p-d-firehose");
        assert_eq!(fidelity.observe(&create, &mut ok("<CreateRoleResponse/>"), t0), None);
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
        assert_eq!(fidelity.observe(&describe, &mut response, Instant::now()), Some(Rule::LogUriScheme));
        let rewritten: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(rewritten["Cluster"]["LogUri"], "s3n://lake/emr-logs/");
        assert_eq!(rewritten["Cluster"]["Name"], "p-spark");
        assert_eq!(response.header("content-length"), Some(response.body.len().to_string().as_str()));
        // Already s3n, no LogUri, or an error: left as it is.
        assert_eq!(fidelity.observe(&describe, &mut response, Instant::now()), None);
        let mut bare = message("HTTP/1.1 200 OK", &[], "{\"Cluster\":{\"Id\":\"j-1\"}}");
        assert_eq!(fidelity.observe(&describe, &mut bare, Instant::now()), None);
        let mut error = message("HTTP/1.1 400 Bad Request", &[], "{\"__type\":\"InvalidRequestException\"}");
        assert_eq!(fidelity.observe(&describe, &mut error, Instant::now()), None);
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
        assert_eq!(fidelity.observe(&describe, &mut response, t0), None);
        assert_eq!(Rule::parse("fresh-iam"), Some(Rule::FreshIam));
        assert_eq!(Rule::parse("nope"), None);
    }

    #[test]
    fn routes_send_a_service_to_its_own_upstream() {
        let mut options = Options {
            listen: String::new(),
            upstream: host_port("http://127.0.0.1:4566/"),
            routes: BTreeMap::new(),
            delay: Duration::ZERO,
            fault_rate: 0.0,
            faults: Vec::new(),
            seed: 1,
            fidelity: FidelityOptions::default(),
            deny_create_bucket_tags: false,
        };
        options.routes.insert("elasticmapreduce".to_string(), host_port("http://127.0.0.1:5000"));
        assert_eq!(options.upstream_for("elasticmapreduce"), "127.0.0.1:5000");
        assert_eq!(options.upstream_for("ec2"), "127.0.0.1:4566");
    }

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

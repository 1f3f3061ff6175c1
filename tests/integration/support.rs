//! Helpers shared by the integration tests: which emulator stack (and skipping the tests that need
//! one when none runs, outside tests/run.sh), running the binaries, unique names, the test spec,
//! and SDK clients that read back what the emulator holds.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Once, OnceLock};
use std::time::Duration;

use pipectl::aws::Clients;
use pipectl::aws::{clients, AwsOptions};

pub const REGION: &str = "us-east-1";

/// An emulator stack as users run it: moto alone, or LocalStack with EMR and Firehose on moto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stack {
    Moto,
    LocalStack,
}

fn port(variable: &str, default: u16) -> u16 {
    std::env::var(variable).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

impl Stack {
    pub fn endpoint(self) -> String {
        match self {
            Stack::Moto => format!("http://127.0.0.1:{}", port("PIPECTL_MOTO_PORT", 5000)),
            Stack::LocalStack => {
                format!("http://127.0.0.1:{}", port("PIPECTL_LOCALSTACK_PORT", 4566))
            }
        }
    }

    /// The environment `localstack/env.sh` prints for this stack.
    pub fn env(self) -> Vec<(&'static str, String)> {
        let moto = Stack::Moto.endpoint();
        let mut env = vec![
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
        ];
        if self == Stack::LocalStack {
            env.push(("AWS_ENDPOINT_URL_EMR", moto.clone()));
            env.push(("AWS_ENDPOINT_URL_SCHEDULER", moto.clone()));
            env.push(("AWS_ENDPOINT_URL_DYNAMODB", moto.clone()));
            env.push(("AWS_ENDPOINT_URL_GLUE", moto.clone()));
            env.push(("AWS_ENDPOINT_URL_ATHENA", moto.clone()));
            env.push(("AWS_ENDPOINT_URL_REDSHIFT_DATA", moto.clone()));
            env.push(("AWS_ENDPOINT_URL_FIREHOSE", moto));
        }
        env
    }

    /// The endpoints this stack needs: moto's; LocalStack's and moto's for LocalStack (EMR,
    /// Firehose, Scheduler, DynamoDB, Glue, Athena and the Redshift Data API run on moto, as
    /// `env()` routes them).
    fn endpoints(self) -> Vec<String> {
        match self {
            Stack::Moto => vec![Stack::Moto.endpoint()],
            Stack::LocalStack => vec![Stack::LocalStack.endpoint(), Stack::Moto.endpoint()],
        }
    }

    /// Whether this stack's emulators are running; use `require!(stack)`. When they are not, a
    /// run that must have them (`PIPECTL_REQUIRE_EMULATORS=1`: tests/run.sh, and so CI) fails the
    /// test with instructions; a bare `cargo test` skips it, saying so once (`skipped`).
    pub fn available(self) -> bool {
        let missing: Vec<String> = self.endpoints().into_iter().filter(|endpoint| !reachable(endpoint)).collect();
        if missing.is_empty() {
            return true;
        }
        assert!(
            !must_run(),
            "the {self:?} stack is not running (nothing answers at {}): run `localstack/start.sh` (or use tests/run.sh)",
            missing.join(" and ")
        );
        skipped();
        false
    }

    pub fn tag(self) -> &'static str {
        match self {
            Stack::Moto => "moto",
            Stack::LocalStack => "ls",
        }
    }

    /// SDK clients pointed at this stack, for reading back what the emulator holds (with
    /// Firehose, EMR and Scheduler on moto for the LocalStack stack, as `env()` routes them).
    pub async fn clients(self) -> Clients {
        let mut clients = clients_at(self.endpoint()).await;
        if self == Stack::LocalStack {
            let moto = clients_at(Stack::Moto.endpoint()).await;
            clients.firehose = moto.firehose;
            clients.emr = moto.emr;
            clients.scheduler = moto.scheduler;
            clients.dynamodb = moto.dynamodb;
            clients.glue = moto.glue;
            clients.athena = moto.athena;
            clients.redshift_data = moto.redshift_data;
        }
        clients
    }
}

async fn clients_at(endpoint: String) -> Clients {
    let options = AwsOptions {
        profile: None,
        region: REGION.to_string(),
        endpoint_url: Some(endpoint),
        localstack: true,
        connect_timeout: Duration::from_secs(3),
        read_timeout: Duration::from_secs(30),
        max_attempts: 3,
        max_in_flight: 64,
    };
    clients(&options, &pipectl::aws::calls::CallCounter::default()).await
}

/// Whether an `http://HOST:PORT` endpoint accepts connections.
fn reachable(endpoint: &str) -> bool {
    let address = endpoint.trim_start_matches("http://");
    address.parse().ok().and_then(|address| TcpStream::connect_timeout(&address, Duration::from_secs(2)).ok()).is_some()
}

/// Whether the tests that need the emulators (or the tools tests/run.sh installs) must run:
/// tests/run.sh sets `PIPECTL_REQUIRE_EMULATORS=1`, so that under it and in CI nothing skips.
pub fn must_run() -> bool {
    std::env::var("PIPECTL_REQUIRE_EMULATORS").is_ok_and(|value| !value.is_empty() && value != "0")
}

/// Notes that a test is skipped for want of what tests/run.sh provides. The first skip of the run
/// writes the one line that says so; it goes to stderr directly, not through `eprintln!`, which
/// the test harness would capture.
pub fn skipped() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let endpoints: Vec<String> =
            [Stack::Moto, Stack::LocalStack].map(Stack::endpoint).into_iter().filter(|e| !reachable(e)).collect();
        let mut missing = Vec::new();
        if !endpoints.is_empty() {
            missing.push(format!("no emulators at {}", endpoints.join(" / ")));
        }
        if std::env::var_os("PIPECTL_PARLIAMENT").is_none() {
            missing.push("no parliament (PIPECTL_PARLIAMENT)".to_string());
        }
        let line = format!(
            "integration tests skipped: {} — run tests/run.sh, which installs and starts them\n",
            missing.join(", ")
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
    });
}

/// Returns from the test unless `$stack`'s emulators are running (`Stack::available`): a bare
/// `cargo test` skips the test, tests/run.sh fails it.
macro_rules! require {
    ($stack:expr) => {
        if !$stack.available() {
            return;
        }
    };
}

/// The pipectl-proxy binary (its own crate of the workspace, `tools/pipectl-proxy`, so it has no
/// `CARGO_BIN_EXE_` here): `PIPECTL_PROXY_BIN` when set (tests/run.sh builds it up front), else
/// built once per test process by the cargo running the tests, in the test executable's target
/// directory and profile.
pub fn proxy_binary() -> PathBuf {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let binary = BINARY.get_or_init(|| match std::env::var_os("PIPECTL_PROXY_BIN") {
        Some(path) => Ok(PathBuf::from(path)),
        None => build_proxy(),
    });
    binary.clone().unwrap_or_else(|error| panic!("{error}"))
}

fn build_proxy() -> Result<PathBuf, String> {
    // The test executable is <target dir>/<profile dir>/deps/<test>-<hash>.
    let exe = std::env::current_exe().map_err(|error| format!("cannot find the test executable: {error}"))?;
    let profile_dir =
        exe.parent().and_then(Path::parent).ok_or_else(|| format!("{} has no profile dir", exe.display()))?;
    let target_dir = profile_dir.parent().ok_or_else(|| format!("{} has no target dir", profile_dir.display()))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(["build", "--locked", "--quiet", "-p", "pipectl-proxy", "--target-dir"]).arg(target_dir);
    match profile_dir.file_name().and_then(|name| name.to_str()) {
        Some("debug") => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(profile) => {
            command.args(["--profile", profile]);
        }
        None => return Err(format!("{} is not a profile dir", profile_dir.display())),
    }
    let output = command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("cannot run cargo to build pipectl-proxy: {error}"))?;
    if !output.status.success() {
        return Err(format!("cargo build -p pipectl-proxy failed:\n{}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(profile_dir.join(format!("pipectl-proxy{}", std::env::consts::EXE_SUFFIX)))
}

/// A name no other test (or earlier run) uses: `<prefix>-<stack>-<pid><nanos><counter>`.
pub fn unique(prefix: &str, stack: Stack) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 1_000)
        .unwrap_or(0);
    // Always 9 digits: names derived from the pipeline's (IAM role names, at most 64 characters)
    // must not fit on one machine and overflow on another whose process ids are longer.
    format!("{prefix}-{}-{:04}{nanos:03}{:02}", stack.tag(), std::process::id() % 10_000, n % 100)
}

/// The result of one pipectl run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics with the full output unless the exit code is `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| panic!("not JSON ({error}):\n{}", self.stdout))
    }
}

pub fn pipectl_path() -> &'static str {
    env!("CARGO_BIN_EXE_pipectl")
}

/// The operations the emulator stacks are known not to implement, on which stack, and why: pipectl
/// then warns "the endpoint does not implement OPERATION" and does not compare what it would read
/// (nor, since it cannot read it, write it: no update is attempted). Any other such warning in a run fails the test: a gap that appears
/// silently shrinks what the suite checks (localstack/README.md lists what covers these).
pub const EMULATOR_GAPS: &[(&str, &[Stack], &str)] = &[
    (
        "emr:GetManagedScalingPolicy",
        &[Stack::Moto, Stack::LocalStack],
        "moto (EMR on both stacks) does not implement managed scaling: limits are not compared",
    ),
    (
        "emr:GetAutoTerminationPolicy",
        &[Stack::Moto, Stack::LocalStack],
        "moto (EMR on both stacks) does not implement auto-termination: idle_timeout is not compared",
    ),
    (
        "redshift-data:ExecuteStatement",
        &[Stack::Moto, Stack::LocalStack],
        "moto's Data API (on both stacks) answers timestamps as text, which the AWS SDK for Rust cannot read: a warehouse's table is not created there (replayed with the SDK's mock client in warehouse::table)",
    ),
];

/// The operations a run's stderr says the endpoint does not implement.
pub fn unimplemented_operations(stderr: &str) -> Vec<String> {
    stderr
        .split("the endpoint does not implement ")
        .skip(1)
        .map(|rest| rest.split(|c: char| c == ';' || c.is_whitespace()).next().unwrap_or_default().to_string())
        .collect()
}

/// Fails unless every "does not implement" warning of `run` is an expected gap of `stack` (of
/// any stack, when it is not known).
#[track_caller]
fn assert_known_gaps(run: &Run, stack: Option<Stack>) {
    for operation in unimplemented_operations(&run.stderr) {
        let known = EMULATOR_GAPS
            .iter()
            .any(|(gap, stacks, _)| *gap == operation && stack.is_none_or(|stack| stacks.contains(&stack)));
        assert!(
            known,
            "an unexpected emulator gap on {stack:?}: the endpoint does not implement {operation} (add it to \
             EMULATOR_GAPS with the reason, or fix what stopped working)\n--- stderr\n{}",
            run.stderr
        );
    }
}

/// Runs pipectl with only the given environment (plus PATH and HOME), stdin closed.
pub fn run_with_env(args: &[&str], env: &[(&str, String)]) -> Run {
    let mut command = Command::new(pipectl_path());
    command.args(args).env_clear().stdin(Stdio::null());
    for key in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    command.env("NO_COLOR", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    let run = Run::from(command.output().expect("pipectl runs"));
    assert_known_gaps(&run, None);
    run
}

/// Runs pipectl against `stack`.
pub fn pipectl(stack: Stack, args: &[&str]) -> Run {
    let run = run_with_env(args, &stack.env());
    assert_known_gaps(&run, Some(stack));
    run
}

/// A scratch directory for spec files, removed at the end of the test.
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    /// A directory of its own even when tests running at once (the two stacks of one scenario)
    /// pass the same `name`.
    pub fn new(name: &str) -> Scratch {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let serial = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("pipectl-test-{name}-{}-{serial}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch { dir }
    }

    pub fn write(&self, file: &str, text: &str) -> String {
        let path = self.dir.join(file);
        std::fs::write(&path, text).expect("write spec");
        path.display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The knobs of the test pipeline that the tests turn.
#[derive(Debug, Clone)]
pub struct TestPipeline {
    pub pipeline: String,
    pub bucket: String,
    pub stream: String,
    pub shards: u32,
    pub retention_hours: u32,
    pub scratch_expiration_days: u32,
    pub extra_subnet: bool,
    pub extra_rule: bool,
    pub with_bucket: bool,
}

impl TestPipeline {
    pub fn new(stack: Stack, name: &str) -> TestPipeline {
        let pipeline = unique(name, stack);
        TestPipeline {
            bucket: format!("{pipeline}-lake"),
            stream: format!("{pipeline}-events"),
            pipeline,
            shards: 2,
            retention_hours: 24,
            scratch_expiration_days: 7,
            extra_subnet: false,
            extra_rule: false,
            with_bucket: true,
        }
    }

    pub fn yaml(&self) -> String {
        let mut text = format!(
            "version: 1\npipeline: {pipeline}\nregion: {REGION}\ntags:\n  team: test\nnetwork:\n  vpc:\n    cidr: 10.42.0.0/16\n  subnets:\n    - {{name: public-a, cidr: 10.42.0.0/24, availability_zone: us-east-1a, public: true}}\n    - {{name: private-a, cidr: 10.42.10.0/24, availability_zone: us-east-1a}}\n",
            pipeline = self.pipeline
        );
        if self.extra_subnet {
            text.push_str("    - {name: private-b, cidr: 10.42.11.0/24, availability_zone: us-east-1b}\n");
        }
        text.push_str("  security_groups:\n    - name: spark\n      description: Spark nodes\n      ingress:\n        - {protocol: all, group: self}\n        - {ports: 22, cidr: 10.42.0.0/16}\n");
        if self.extra_rule {
            text.push_str("        - {ports: 4040, cidr: 10.0.0.0/8}\n");
        }
        if self.with_bucket {
            text.push_str(&format!(
                "buckets:\n  - name: {bucket}\n    versioning: true\n    lifecycle:\n      - {{id: raw, prefix: raw/, transitions: [{{days: 30, storage_class: STANDARD_IA}}], expiration_days: 365}}\n      - {{id: scratch, prefix: tmp/, expiration_days: {days}}}\n",
                bucket = self.bucket,
                days = self.scratch_expiration_days
            ));
        }
        text.push_str(&format!(
            "streams:\n  - name: {stream}\n    shards: {shards}\n    retention_hours: {hours}\n",
            stream = self.stream,
            shards = self.shards,
            hours = self.retention_hours
        ));
        text
    }

    pub fn write(&self, scratch: &Scratch) -> String {
        scratch.write(&format!("{}.yaml", self.pipeline), &self.yaml())
    }
}

/// The (resource, action) pairs of a JSON plan, sorted.
pub fn plan_actions(plan: &serde_json::Value) -> Vec<(String, String)> {
    let mut actions: Vec<(String, String)> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|change| {
            (
                change["resource"].as_str().unwrap_or_default().to_string(),
                change["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    actions.sort();
    actions
}

/// Lets the tests' plain-HTTP object requests into a pipeline bucket on moto: moto refuses object
/// requests under pipectl's TLS-only deny statement (as AWS would over plain HTTP; it ignores the
/// condition, localstack/README.md), so on moto the bucket policy is removed. It stands for the
/// HTTPS requests a client makes on AWS; the next plan shows `tls_only` as drift. pipectl's own
/// emptying on destroy needs this too on moto.
pub async fn admit_plain_http(stack: Stack, s3: &aws_sdk_s3::Client, bucket: &str) {
    if stack == Stack::Moto {
        s3.delete_bucket_policy().bucket(bucket).send().await.expect("DeleteBucketPolicy");
    }
}

/// The changed field paths of one resource in a JSON plan.
pub fn changed_fields(plan: &serde_json::Value, resource: &str) -> Vec<String> {
    plan["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|change| change["resource"] == resource)
        .flat_map(|change| change["fields"].as_array().cloned().unwrap_or_default())
        .map(|field| field["path"].as_str().unwrap_or_default().to_string())
        .collect()
}

pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Runs the scenario `fn $scenario(stack: Stack)` as two tests, `$scenario::on_moto` and
/// `$scenario::on_localstack`, so every scenario runs on both emulator stacks.
macro_rules! on_both_stacks {
    ($scenario:ident) => {
        mod $scenario {
            #[test]
            fn on_moto() {
                super::$scenario($crate::support::Stack::Moto);
            }

            #[test]
            fn on_localstack() {
                super::$scenario($crate::support::Stack::LocalStack);
            }
        }
    };
}

/// The tags the emulator holds on `bucket`, sorted.
pub async fn bucket_tags(stack: Stack, bucket: &str) -> Vec<(String, String)> {
    let clients = stack.clients().await;
    let tagging = clients.s3.get_bucket_tagging().bucket(bucket).send().await.expect("bucket tags");
    let mut tags: Vec<(String, String)> =
        tagging.tag_set().iter().map(|tag| (tag.key().to_string(), tag.value().to_string())).collect();
    tags.sort();
    tags
}

/// A schedule as the emulator holds it: expression, time zone, target ARN and input; `None`
/// when Scheduler says there is none of that name (`ResourceNotFoundException`, `found`).
pub async fn held_schedule(stack: Stack, name: &str) -> Option<(String, String, String, serde_json::Value)> {
    let clients = stack.clients().await;
    let read = clients.scheduler.get_schedule().name(name).send().await;
    let schedule = found(&format!("schedule {name}"), read, not_found::RESOURCE)?;
    let target = schedule.target().unwrap_or_else(|| panic!("schedule {name} has no target"));
    let input = target.input().unwrap_or_else(|| panic!("schedule {name} has no input"));
    Some((
        schedule.schedule_expression().unwrap_or_else(|| panic!("schedule {name} has no expression")).to_string(),
        schedule.schedule_expression_timezone().unwrap_or("UTC").to_string(),
        target.arn().to_string(),
        serde_json::from_str(input).unwrap_or_else(|error| panic!("schedule {name}: input is not JSON ({error})")),
    ))
}

/// The error codes each read answers for something that does not exist, as its service's API
/// reference documents them (and as the emulators answer, where they differ: noted). `found` and
/// `assert_gone` take one of these; any other error (a wrong endpoint, a throttle, a 5xx, an
/// access denied) fails the test instead of passing for "deleted".
pub mod not_found {
    /// IAM GetRole, GetRolePolicy, GetInstanceProfile: `NoSuchEntity` (404), IAM API Reference.
    pub const IAM: &[&str] = &["NoSuchEntity"];
    /// S3 GetBucket*: `NoSuchBucket`, Amazon S3 API Reference ("Error responses"); HeadBucket
    /// has no body, so its 404 reaches the SDK as `NotFound` (HeadBucket: "404 Not Found").
    pub const S3_BUCKET: &[&str] = &["NoSuchBucket", "NotFound"];
    /// Kinesis DescribeStreamSummary, Firehose DescribeDeliveryStream, EventBridge Scheduler
    /// GetSchedule, DynamoDB: `ResourceNotFoundException`, their API references.
    pub const RESOURCE: &[&str] = &["ResourceNotFoundException"];
    /// Step Functions DescribeStateMachine: `StateMachineDoesNotExist`, ListTagsForResource:
    /// `ResourceNotFound` (AWS Step Functions API Reference).
    pub const STATE_MACHINE: &[&str] = &["StateMachineDoesNotExist", "ResourceNotFound"];
    /// SQS GetQueueUrl: `QueueDoesNotExist` (Amazon SQS API Reference); over the query-compatible
    /// JSON protocol the SDK may carry its query code, `AWS.SimpleQueueService.NonExistentQueue`.
    pub const QUEUE: &[&str] = &["QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"];
    /// Glue GetDatabase, GetTable, GetCrawler: `EntityNotFoundException` (AWS Glue API).
    pub const GLUE: &[&str] = &["EntityNotFoundException"];
    /// Athena GetWorkGroup documents only `InvalidRequestException` ("WorkGroup … is not found"
    /// on AWS; moto answers with no workgroup instead, which `found` returns as such).
    pub const WORKGROUP: &[&str] = &["InvalidRequestException"];
    /// EMR DescribeSecurityConfiguration documents only `InvalidRequestException` (Amazon EMR
    /// API Reference); moto answers `ResourceNotFound`.
    pub const EMR_SECURITY_CONFIGURATION: &[&str] = &["InvalidRequestException", "ResourceNotFound"];
}

/// What a read found: `Some` when it answered, `None` when the service said that `what` does not
/// exist with one of `codes` (`not_found`). Any other error fails the test, naming it.
#[track_caller]
pub fn found<T, E>(what: &str, result: Result<T, E>, codes: &[&str]) -> Option<T>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::fmt::Debug,
{
    match result {
        Ok(value) => Some(value),
        Err(error) if error.code().is_some_and(|code| codes.contains(&code)) => None,
        Err(error) => {
            panic!("reading {what} failed with {:?}, not a documented not-found ({codes:?}): {error:?}", error.code())
        }
    }
}

/// Fails the test unless the read says that `what` does not exist (`found`): it answered, or
/// failed in another way than a documented not-found.
#[track_caller]
pub fn assert_gone<T, E>(what: &str, result: Result<T, E>, codes: &[&str])
where
    T: std::fmt::Debug,
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::fmt::Debug,
{
    if let Some(value) = found(what, result, codes) {
        panic!("{what} is still there: {value:?}");
    }
}

/// Fails unless EMR holds cluster `id` as terminated. A cluster is never "not found" after it is
/// deleted: EMR keeps describing it, in `TERMINATED` or `TERMINATED_WITH_ERRORS`, for two months
/// ("DescribeCluster", Amazon EMR API Reference; "View cluster status", Amazon EMR Management
/// Guide). Any error reading it fails the test too.
pub async fn assert_cluster_terminated(stack: Stack, id: &str) {
    use aws_sdk_emr::types::ClusterState;
    let clients = stack.clients().await;
    let output = clients.emr.describe_cluster().cluster_id(id).send().await;
    let output = output.unwrap_or_else(|error| panic!("DescribeCluster {id}: {error:?}"));
    let state = output.cluster().and_then(|cluster| cluster.status()).and_then(|status| status.state());
    assert!(
        matches!(state, Some(ClusterState::Terminated | ClusterState::TerminatedWithErrors)),
        "cluster {id} is {state:?}, not terminated"
    );
}

/// The spec files of the examples and templates.
pub fn spec_files() -> Vec<std::path::PathBuf> {
    let folders = ["examples", "templates"].map(|dir| std::fs::read_dir(repo_path(dir)).expect("spec folder"));
    let mut files: Vec<std::path::PathBuf> = folders
        .into_iter()
        .flatten()
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

/// The reference example with its `nightly` job starting 12 hours from now (UTC), so that
/// `pipectl run nightly` never meets the job's own window, whenever the test runs.
pub fn nightly_away_from_now(example: &str) -> String {
    let hour = {
        use chrono::Timelike;
        (chrono::Utc::now().hour() + 12) % 24
    };
    example.replace(
        "cron: \"0 2 * * *\"\n        timezone: Asia/Seoul",
        &format!("cron: \"0 {hour} * * *\"\n        timezone: UTC"),
    )
}

//! Reliability: apply converges through injected faults and after being killed at random
//! points, Ctrl-C stops cleanly, and credentials never appear in any output. Runs against moto
//! through pipectl-proxy, the same proxy the benchmarks use.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{pipectl, repo_path, run_with_env, runtime, Run, Scratch, Stack};

/// pipectl-proxy in front of moto, stopped on drop.
struct Proxy {
    child: std::process::Child,
    url: String,
}

impl Proxy {
    fn start(args: &[&str]) -> Proxy {
        let (child, url) = crate::proxy::spawn(
            Command::new(crate::support::proxy_binary()).args(["--upstream", &Stack::Moto.endpoint()]).args(args),
        );
        Proxy { child, url }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ENDPOINT_URL", self.url.clone()),
        ]
    }

    fn stats(&self) -> serde_json::Value {
        let output =
            Command::new("curl").args(["-fsS", &format!("{}/__proxy/stats", self.url)]).output().expect("curl");
        serde_json::from_slice(&output.stdout).expect("stats JSON")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The reference example with every name made unique to this test.
fn reference_spec(scratch: &Scratch, name: &str) -> (String, String) {
    let example = std::fs::read_to_string(repo_path("examples/clickstream.yaml")).expect("example");
    let pipeline = crate::support::unique(name, Stack::Moto).replace('-', "");
    let pipeline = pipeline.chars().take(14).collect::<String>();
    (scratch.write(&format!("{pipeline}.yaml"), &example.replace("clickstream", &pipeline)), pipeline)
}

/// How many of each kind of resource the emulator holds for the pipeline.
async fn census(pipeline: &str) -> Vec<(&'static str, usize)> {
    let clients = Stack::Moto.clients().await;
    let tag = || aws_sdk_ec2::types::Filter::builder().name("tag:pipectl:pipeline").values(pipeline).build();
    let ec2 = &clients.ec2;
    let vpcs = ec2.describe_vpcs().filters(tag()).send().await.expect("vpcs").vpcs().len();
    let subnets = ec2.describe_subnets().filters(tag()).send().await.expect("subnets").subnets().len();
    let gateways =
        ec2.describe_internet_gateways().filters(tag()).send().await.expect("igws").internet_gateways().len();
    let tables = ec2.describe_route_tables().filters(tag()).send().await.expect("rtbs").route_tables().len();
    let endpoints = ec2.describe_vpc_endpoints().filters(tag()).send().await.expect("endpoints").vpc_endpoints().len();
    let groups = ec2.describe_security_groups().filters(tag()).send().await.expect("sgs").security_groups().len();
    let prefix = format!("{pipeline}-");
    let buckets = clients
        .s3
        .list_buckets()
        .send()
        .await
        .expect("buckets")
        .buckets()
        .iter()
        .filter(|b| b.name().is_some_and(|n| n.starts_with(&prefix)))
        .count();
    let mut streams = 0;
    let mut start: Option<String> = None;
    loop {
        let page =
            clients.kinesis.list_streams().set_exclusive_start_stream_name(start.take()).send().await.expect("streams");
        streams += page.stream_names().iter().filter(|n| n.starts_with(&prefix)).count();
        if !page.has_more_streams() || page.stream_names().is_empty() {
            break;
        }
        start = page.stream_names().last().cloned();
    }
    let roles = clients
        .iam
        .list_roles()
        .path_prefix(format!("/pipectl/{pipeline}/"))
        .send()
        .await
        .expect("roles")
        .roles()
        .iter()
        .filter(|r| !r.path().ends_with("lock/"))
        .count();
    let deliveries = clients
        .firehose
        .list_delivery_streams()
        .send()
        .await
        .expect("deliveries")
        .delivery_stream_names()
        .iter()
        .filter(|n| n.starts_with(&prefix))
        .count();
    let clusters = pipectl::resources::cluster::list_active(&clients.emr, &prefix).await.expect("clusters").len();
    let schedules = clients
        .scheduler
        .list_schedules()
        .name_prefix(format!("pipectl-{pipeline}-"))
        .send()
        .await
        .expect("schedules")
        .schedules()
        .len();
    let machine_prefix = format!("pipectl-{pipeline}-");
    let machines = clients
        .sfn
        .list_state_machines()
        .send()
        .await
        .expect("state machines")
        .state_machines()
        .iter()
        .filter(|m| m.name().starts_with(&machine_prefix))
        .count();
    vec![
        ("vpc", vpcs),
        ("subnet", subnets),
        ("internet_gateway", gateways),
        ("route_table", tables),
        ("vpc_endpoint", endpoints),
        ("security_group", groups),
        ("bucket", buckets),
        ("stream", streams),
        ("role", roles),
        ("delivery", deliveries),
        ("cluster", clusters),
        ("schedule", schedules),
        ("job", machines),
    ]
}

/// Exactly one of each resource of the reference example, and nothing else.
const REFERENCE_CENSUS: [(&str, usize); 13] = [
    ("vpc", 1),
    ("subnet", 3),
    ("internet_gateway", 1),
    ("route_table", 3),
    // The S3 gateway endpoint and the Glue interface endpoint (the cluster is on the Glue catalog).
    ("vpc_endpoint", 2),
    // The spec's two, EMR's three, and the interface endpoints' `vpc-endpoints`.
    ("security_group", 6),
    ("bucket", 1),
    ("stream", 2),
    // The delivery's, EMR's service and instance roles, the scheduler's, the job's.
    ("role", 5),
    ("delivery", 1),
    ("cluster", 1),
    // The job's `start` and `guard`.
    ("schedule", 2),
    ("job", 1),
];

fn converged(file: &str, pipeline: &str) {
    pipectl(Stack::Moto, &["plan", "-f", file, "--detailed-exitcode"]).expect(0);
    assert_eq!(runtime().block_on(census(pipeline)), REFERENCE_CENSUS, "duplicates or orphans for {pipeline}");
}

#[test]
fn apply_converges_through_injected_faults() {
    require!(Stack::Moto);
    let scratch = Scratch::new("faults");
    let (file, pipeline) = reference_spec(&scratch, "flt");
    let proxy = Proxy::start(&["--fault-rate", "0.1", "--seed", "7", "--faults", "500,503,throttle,drop"]);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let run = run_with_env(&["apply", "-f", &file, "--auto-approve"], &proxy.env());
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
        if run.code == 0 {
            break;
        }
        assert!(attempts < 4, "apply did not converge in 3 runs through faults:\n{}\n{}", run.stdout, run.stderr);
    }
    let stats = proxy.stats();
    let faults = stats["faults_total"].as_u64().unwrap_or(0);
    eprintln!("faults injected: {faults} of {} requests, survived in {attempts} apply run(s)", stats["total"]);
    assert!(faults > 0, "the proxy injected no faults: {stats}");
    converged(&file, &pipeline);
    pipectl(Stack::Moto, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

/// Kill points are spread over the apply's duration by a seeded generator.
fn kill_points(count: usize, seed: u64, span: Duration) -> Vec<Duration> {
    let mut state = seed.max(1);
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            span.mul_f64((state % 10_000) as f64 / 10_000.0)
        })
        .collect()
}

#[test]
fn apply_killed_at_random_points_converges_on_rerun() {
    require!(Stack::Moto);
    let long = std::env::var_os("PIPECTL_LONG_CRASH_SWEEP").is_some();
    let points = kill_points(if long { 20 } else { 4 }, 20261122, Duration::from_millis(2500));
    let proxy = Proxy::start(&["--delay-ms", "20"]);
    let scratch = Scratch::new("crash");
    for (index, point) in points.iter().enumerate() {
        let (file, pipeline) = reference_spec(&scratch, &format!("crash{index}"));
        let mut child = Command::new(crate::support::pipectl_path())
            .args(["apply", "-f", &file, "--auto-approve", "--lock-lease", "3s"])
            .env_clear()
            .envs(proxy.env())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .stdin(Stdio::null())
            .spawn()
            .expect("apply starts");
        std::thread::sleep(*point);
        let _ = child.kill();
        let _ = child.wait();
        // The killed run ran on this host and is gone: the rerun takes its lease at once. The
        // rerun holds a lease of the default length: a 3 s lease, renewed every second, can run
        // out on a loaded machine, and a run whose lease runs out rightly stops.
        let rerun = run_with_env(&["apply", "-f", &file, "--auto-approve", "--lock-timeout", "30s"], &proxy.env());
        assert_eq!(rerun.code, 0, "rerun after a kill at {point:?} failed:\n{}\n{}", rerun.stdout, rerun.stderr);
        converged(&file, &pipeline);
        pipectl(Stack::Moto, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    }
    eprintln!("{} kill points tried: {points:?}", points.len());
}

#[test]
fn ctrl_c_finishes_what_is_in_flight_and_reports() {
    require!(Stack::Moto);
    let scratch = Scratch::new("sigint");
    let (file, pipeline) = reference_spec(&scratch, "int");
    let proxy = Proxy::start(&["--delay-ms", "150"]);
    let mut child = Command::new(crate::support::pipectl_path())
        .args(["apply", "-f", &file, "--auto-approve"])
        .env_clear()
        .envs(proxy.env())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("apply starts");
    // The plan on stdout is read meanwhile: a plan larger than the pipe's buffer (64 KiB) would
    // otherwise block apply before it creates anything.
    let mut stdout = child.stdout.take().expect("stdout");
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).expect("stdout");
        text
    });
    // Wait until the first resources are being created, then press Ctrl-C.
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    while !seen.contains("creating…") {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut stderr, &mut line).expect("read stderr") == 0 {
            break;
        }
        seen.push_str(&line);
    }
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill -INT");
    let started = Instant::now();
    std::io::Read::read_to_string(&mut stderr, &mut seen).expect("rest of stderr");
    let status = child.wait().expect("apply ends");
    let run = Run { code: status.code().unwrap_or(-1), stdout: stdout.join().expect("stdout read"), stderr: seen };
    assert!(started.elapsed() < Duration::from_secs(30), "Ctrl-C must not hang");
    assert_ne!(run.code, 0, "an interrupted apply exits non-zero");
    assert!(run.stderr.contains("interrupted: finishing the calls in flight"), "{}", run.stderr);
    assert!(run.stdout.contains("Apply interrupted:"), "{}", run.stdout);
    assert!(run.stdout.contains("not started"), "what was not done is listed:\n{}", run.stdout);
    pipectl(Stack::Moto, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    converged(&file, &pipeline);
    pipectl(Stack::Moto, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

#[test]
fn credentials_never_appear_in_any_output() {
    require!(Stack::Moto);
    let scratch = Scratch::new("secrets");
    let (file, _) = reference_spec(&scratch, "sec");
    let key = "AKIAPIPECTLKEYID0000";
    let secret = "pipectl-test-secret-DO-NOT-PRINT-9f8e7d";
    let token = "pipectl-test-session-token-DO-NOT-PRINT-1a2b3c";
    let env = |endpoint: String| {
        vec![
            ("AWS_ACCESS_KEY_ID", key.to_string()),
            ("AWS_SECRET_ACCESS_KEY", secret.to_string()),
            ("AWS_SESSION_TOKEN", token.to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ENDPOINT_URL", endpoint),
        ]
    };
    let moto = env(Stack::Moto.endpoint());
    let refused = env("http://127.0.0.1:9".to_string());
    let runs = [
        run_with_env(&["plan", "-vv", "-f", &file], &moto),
        run_with_env(&["apply", "-vv", "-f", &file, "--auto-approve"], &moto),
        run_with_env(&["plan", "-vv", "-f", &file, "--output", "json"], &moto),
        run_with_env(&["scale", "-vv", "--nodes", "3", "-f", &file], &moto),
        run_with_env(&["destroy", "-vv", "-f", &file, "--auto-approve", "--allow-destroy"], &moto),
        run_with_env(&["plan", "-vv", "-f", &file], &refused),
    ];
    for run in &runs {
        for (what, value) in [("access key id", key), ("secret key", secret), ("session token", token)] {
            assert!(!run.stdout.contains(value) && !run.stderr.contains(value), "the {what} appeared in output");
        }
    }
    assert_eq!(runs[1].code, 0, "{}", runs[1].stderr);
    assert!(runs[0].stderr.contains("AWS request"), "-vv logs every request:\n{}", runs[0].stderr);
}

#[test]
fn two_applies_at_once_do_not_both_create() {
    require!(Stack::Moto);
    let scratch = Scratch::new("concurrent");
    let (file, pipeline) = reference_spec(&scratch, "two");
    let proxy = Proxy::start(&["--delay-ms", "20"]);
    let spawn = || {
        Command::new(crate::support::pipectl_path())
            .args(["apply", "-f", &file, "--auto-approve"])
            .env_clear()
            .envs(proxy.env())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("apply starts")
    };
    let (first, second) = (spawn(), spawn());
    let outputs = [first.wait_with_output().expect("first"), second.wait_with_output().expect("second")];
    let mut codes: Vec<i32> = outputs.iter().map(|o| o.status.code().unwrap_or(-1)).collect();
    codes.sort_unstable();
    assert_eq!(codes, [0, 1], "one apply wins the lock, the other refuses");
    let loser = outputs
        .iter()
        .find(|o| o.status.code() != Some(0))
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_default();
    assert!(loser.contains(&format!("pipeline `{pipeline}` is locked by")), "{loser}");
    converged(&file, &pipeline);

    // A lock held elsewhere (another machine, lease still running) is refused until broken
    // deliberately or until its lease expires.
    runtime().block_on(put_lease(&pipeline, "someone-else", "build-agent-7:4242", 3600));
    let refused = pipectl(Stack::Moto, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(1);
    assert!(
        refused.stderr.contains("is locked by build-agent-7:4242 (running `apply` since 2026-11-22T02:00:00Z;"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("pipectl unlock -f"), "{}", refused.stderr);
    let unlocked = pipectl(Stack::Moto, &["unlock", "-f", &file]).expect(0);
    assert!(unlocked.stdout.contains("Broke the lock"), "{}", unlocked.stdout);
    pipectl(Stack::Moto, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

/// Writes a lease of `pipeline` held by `owner` that expires `expires_in` seconds from now
/// (negative: already expired), as another run of pipectl would have.
async fn put_lease(pipeline: &str, owner: &str, holder: &str, expires_in: i64) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let clients = Stack::Moto.clients().await;
    // Taking and giving back any lock creates the lock table if this emulator has none yet.
    let warmup = pipectl::aws::lock::LockRequest {
        pipeline: "table-warmup",
        command: "test",
        file: "-",
        wait: Duration::from_secs(10),
        lease: Duration::from_secs(10),
    };
    let progress = pipectl::progress::Progress::new(false);
    pipectl::aws::lock::acquire(&clients, &warmup, &progress)
        .await
        .expect("lock table")
        .release()
        .await
        .expect("release");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    clients
        .dynamodb
        .put_item()
        .table_name(pipectl::names::LOCK_TABLE)
        .item("pipeline", AttributeValue::S(pipeline.to_string()))
        .item("owner", AttributeValue::S(owner.to_string()))
        .item("holder", AttributeValue::S(holder.to_string()))
        .item("command", AttributeValue::S("apply".to_string()))
        .item("since", AttributeValue::S("2026-11-22T02:00:00Z".to_string()))
        .item("expires", AttributeValue::N((now + expires_in).to_string()))
        .item("creating", AttributeValue::Ss(vec!["bucket/left-behind".to_string()]))
        .send()
        .await
        .expect("lease written");
}

/// A holder killed with SIGKILL stops renewing its lease; the next run waits for the lease to
/// expire and takes over without `pipectl unlock`.
#[test]
fn a_killed_holder_is_taken_over_when_its_lease_expires() {
    require!(Stack::Moto);
    let scratch = Scratch::new("killed-holder");
    let (file, pipeline) = reference_spec(&scratch, "kill");
    // Slow requests keep the first apply busy long after it took the lock.
    let proxy = Proxy::start(&["--delay-ms", "150"]);
    let mut holder = Command::new(crate::support::pipectl_path())
        .args(["apply", "-f", &file, "--auto-approve", "--lock-lease", "3s"])
        .env_clear()
        .envs(proxy.env())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .expect("apply starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while runtime().block_on(lease_owner(&pipeline)).is_none() {
        assert!(Instant::now() < deadline, "the first apply never took the lock");
        std::thread::sleep(Duration::from_millis(100));
    }
    holder.kill().expect("SIGKILL");
    let _ = holder.wait();
    let started = Instant::now();
    let next = pipectl(Stack::Moto, &["apply", "-f", &file, "--auto-approve", "--lock-timeout", "30s"]);
    assert_eq!(next.code, 0, "{}", next.stderr);
    // The killed holder ran on this host: its process is gone, so the lease is taken at once.
    assert!(next.stderr.contains("took over the lock of") && next.stderr.contains("is gone"), "{}", next.stderr);
    assert!(started.elapsed() < Duration::from_secs(30), "waited {:?}", started.elapsed());
    assert!(runtime().block_on(lease_owner(&pipeline)).is_none(), "the lock is released after the run");
    converged(&file, &pipeline);
    pipectl(Stack::Moto, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

/// Two runs racing to take over one expired lease: exactly one wins, every time.
#[test]
fn racing_takeovers_of_an_expired_lease_never_both_win() {
    require!(Stack::Moto);
    runtime().block_on(async {
        let clients = Stack::Moto.clients().await;
        let progress = pipectl::progress::Progress::new(false);
        for round in 0..20 {
            let pipeline = crate::support::unique(&format!("race{round}"), Stack::Moto);
            // Expired by more than the clock-skew allowance.
            put_lease(&pipeline, "dead-run", "gone:1", -60).await;
            let request = |command| pipectl::aws::lock::LockRequest {
                pipeline: &pipeline,
                command,
                file: "race.yaml",
                wait: Duration::ZERO,
                lease: Duration::from_secs(60),
            };
            let (first, second) = (request("apply"), request("destroy"));
            let (a, b) = tokio::join!(
                pipectl::aws::lock::acquire(&clients, &first, &progress),
                pipectl::aws::lock::acquire(&clients, &second, &progress)
            );
            let (mut winners, mut losers) = (Vec::new(), Vec::new());
            for (command, result) in [("apply", a), ("destroy", b)] {
                match result {
                    Ok(lock) => winners.push((command, lock)),
                    Err(error) => losers.push(error),
                }
            }
            assert_eq!(winners.len(), 1, "round {round}: exactly one run takes over the expired lease");
            // The loser is refused because the winner holds the lease — not by an error of its own.
            let winner = winners[0].0;
            for loser in &losers {
                let text = loser.to_string();
                match loser {
                    pipectl::aws::lock::LockError::Held { pipeline: held, command, .. } => {
                        assert_eq!(
                            (held.as_str(), command.as_str()),
                            (pipeline.as_str(), winner),
                            "round {round}: {text}"
                        );
                    }
                    other => panic!("round {round}: the loser failed with {other:?}, not the winner's lease"),
                }
                assert!(text.contains(&format!("pipeline `{pipeline}` is locked by")), "round {round}: {text}");
            }
            let winners: Vec<_> = winners.into_iter().map(|(_, lock)| lock).collect();
            assert_eq!(winners[0].adoptable(), ["bucket/left-behind".to_string()], "the winner adopts the journal");
            for winner in winners {
                winner.release().await.expect("release");
            }
            assert!(lease_owner(&pipeline).await.is_none(), "round {round}: released");
        }
    });
}

/// The owner token of the pipeline's lease, if one is held.
async fn lease_owner(pipeline: &str) -> Option<String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let clients = Stack::Moto.clients().await;
    let output = clients
        .dynamodb
        .get_item()
        .table_name(pipectl::names::LOCK_TABLE)
        .key("pipeline", AttributeValue::S(pipeline.to_string()))
        .consistent_read(true)
        .send()
        .await;
    // No lock table yet (`ResourceNotFoundException`) is no lease; any other error fails the test.
    let output = crate::support::found("the lock table", output, crate::support::not_found::RESOURCE)?;
    let owner = output.item()?.get("owner").expect("a lease names its owner");
    Some(owner.as_s().expect("the owner is a string").clone())
}

//! The command line as a new user meets it: init, validate of every example, confirmation
//! rules, and clear one-line failures for unreachable endpoints and region mismatches.

use std::time::Instant;

use crate::support::{pipectl, repo_path, run_with_env, Scratch, Stack, TestPipeline};

#[test]
fn init_writes_templates_and_never_overwrites() {
    let scratch = Scratch::new("init");
    for template in ["minimal", "stream-to-lake", "queryable-lake", "clickstream"] {
        let file = scratch.dir.join(format!("{template}.yaml")).display().to_string();
        let run = run_with_env(&["init", "--template", template, &file], &[]).expect(0);
        assert!(run.stdout.contains("Wrote the"), "{}", run.stdout);
        run_with_env(&["validate", "-f", &file], &[]).expect(0);
        let again = run_with_env(&["init", "--template", template, &file], &[]).expect(1);
        assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    }
    let unknown =
        run_with_env(&["init", "--template", "nope", &scratch.dir.join("x.yaml").display().to_string()], &[]).expect(1);
    assert!(unknown.stderr.contains("minimal, stream-to-lake, queryable-lake, clickstream"), "{}", unknown.stderr);
}

#[test]
fn every_example_validates_and_plans() {
    require!(Stack::Moto);
    let examples = std::fs::read_dir(repo_path("examples")).expect("examples");
    let mut count = 0;
    // Specs only: `examples/ci/` holds CI recipes, checked by ci_recipes.rs.
    let specs = examples.filter_map(Result::ok).map(|entry| entry.path()).filter(|path| path.is_file());
    for path in specs {
        let file = path.display().to_string();
        run_with_env(&["validate", "-f", &file], &[]).expect(0);
        let plan = pipectl(Stack::Moto, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
        assert!(plan["summary"]["add"].as_u64().is_some(), "{plan}");
        count += 1;
    }
    assert!(count >= 1);
}

/// `-v` lines read as pipectl's own output: a line per AWS request, with no `DEBUG` label and no
/// time in front (`-vv` keeps both, for debugging).
#[test]
fn verbose_lines_are_pipectls_output_not_debug_logs() {
    require!(Stack::Moto);
    let scratch = Scratch::new("verbose");
    let file = TestPipeline::new(Stack::Moto, "messages-verbose").write(&scratch);
    let run = pipectl(Stack::Moto, &["plan", "-f", &file, "-v"]).expect(0);
    let requests: Vec<&str> = run.stderr.lines().filter(|line| line.starts_with("AWS request ")).collect();
    assert!(requests.iter().any(|line| line.starts_with("AWS request s3:")), "{}", run.stderr);
    assert!(!run.stderr.contains("DEBUG"), "{}", run.stderr);
}

#[test]
fn apply_without_a_terminal_needs_auto_approve() {
    require!(Stack::Moto);
    let scratch = Scratch::new("tty");
    let file = scratch.write(
        "spec.yaml",
        "version: 1\npipeline: tty-check\nregion: us-east-1\nstreams:\n  - {name: tty-check-never-created}\n",
    );
    let run = pipectl(Stack::Moto, &["apply", "-f", &file]).expect(1);
    assert!(run.stderr.contains("re-run with --auto-approve"), "{}", run.stderr);
    let plan = pipectl(Stack::Moto, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
    assert_eq!(plan["summary"]["add"], 1, "nothing may have been created");
}

#[test]
fn unreachable_endpoint_fails_fast_with_one_clear_line() {
    let scratch = Scratch::new("unreachable");
    let file =
        scratch.write("spec.yaml", "version: 1\npipeline: nowhere\nregion: us-east-1\nstreams:\n  - {name: s}\n");
    // Bind and drop a listener to get a port that refuses connections.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("port");
    let started = Instant::now();
    let env = [("AWS_ACCESS_KEY_ID", "test".to_string()), ("AWS_SECRET_ACCESS_KEY", "test".to_string())];
    let url = format!("http://127.0.0.1:{port}");
    let run = run_with_env(&["plan", "-f", &file, "--endpoint-url", &url], &env).expect(1);
    assert!(started.elapsed().as_secs() < 30, "took {:?}", started.elapsed());
    assert!(
        run.stderr.contains(&format!("cannot connect to {url} (connection refused): is it running?")),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn region_flag_that_contradicts_the_zones_is_refused() {
    let scratch = Scratch::new("region");
    let example = repo_path("examples/clickstream.yaml").display().to_string();
    let _ = &scratch;
    let run = run_with_env(&["plan", "-f", &example, "--region", "eu-west-1"], &[]).expect(1);
    assert!(run.stderr.contains("--region eu-west-1 does not match the spec's region us-east-1"), "{}", run.stderr);
}

#[test]
fn bad_flags_exit_1_not_2() {
    // clap exits 2 for usage errors by default, which would read as "changes present".
    let run = run_with_env(&["plan", "--no-such-flag"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let run = run_with_env(&["plan", "--parallelism", "0"], &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
}

#[test]
fn the_docs_show_the_reference_example_as_it_is() {
    let page = std::fs::read_to_string(repo_path("docs/example.md")).expect("docs/example.md");
    let example = std::fs::read_to_string(repo_path("examples/clickstream.yaml")).expect("example");
    let body = &example[example.find("version: 1").expect("spec body")..];
    assert!(
        page.contains(&format!("```yaml\n{body}```")),
        "docs/example.md's full example differs from examples/clickstream.yaml"
    );
}

#[test]
fn missing_credentials_fail_fast_with_what_to_do() {
    let scratch = Scratch::new("nocreds");
    let file =
        scratch.write("spec.yaml", "version: 1\npipeline: nocreds\nregion: us-east-1\nstreams:\n  - {name: s}\n");
    let home = scratch.dir.display().to_string();
    let started = Instant::now();
    let run = run_with_env(&["plan", "-f", &file, "--endpoint-url", "http://127.0.0.1:9"], &[("HOME", home)]).expect(1);
    assert!(started.elapsed().as_secs() < 30, "took {:?}", started.elapsed());
    assert!(run.stderr.contains("no valid AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
}

#[test]
fn an_endpoint_that_answers_garbage_is_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buffer = [0u8; 65536];
                while let Ok(read) = std::io::Read::read(&mut stream, &mut buffer) {
                    if read == 0
                        || std::io::Write::write_all(
                            &mut stream,
                            b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\ngarbage",
                        )
                        .is_err()
                    {
                        break;
                    }
                }
            });
        }
    });
    let scratch = Scratch::new("garbage");
    let file =
        scratch.write("spec.yaml", "version: 1\npipeline: garbage\nregion: us-east-1\nstreams:\n  - {name: s}\n");
    let env = [("AWS_ACCESS_KEY_ID", "test".to_string()), ("AWS_SECRET_ACCESS_KEY", "test".to_string())];
    let run = run_with_env(&["plan", "-f", &file, "--endpoint-url", &url], &env).expect(1);
    assert!(
        run.stderr.contains("with something that is not an AWS response: is the endpoint right?"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn the_committed_schema_is_current_and_every_example_validates() {
    let run = run_with_env(&["schema"], &[]).expect(0);
    let committed = std::fs::read_to_string(repo_path("schema/pipectl.schema.json")).expect("committed schema");
    assert!(
        run.stdout == committed,
        "schema/pipectl.schema.json is stale: run `pipectl schema > schema/pipectl.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).expect("JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let mut checked = 0;
    for folder in ["examples", "templates"] {
        for entry in std::fs::read_dir(repo_path(folder)).expect("folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|ext| ext != "yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            assert!(
                text.starts_with("# yaml-language-server: $schema=../schema/pipectl.schema.json\n"),
                "{} must start with the schema comment",
                path.display()
            );
            let document: serde_json::Value = serde_saphyr::from_str(&text).expect("YAML");
            let errors: Vec<String> = validator.iter_errors(&document).map(|error| error.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 3, "{checked} files checked");
}

#[test]
fn init_writes_the_schema_beside_the_spec() {
    let scratch = Scratch::new("init-schema");
    let file = scratch.dir.join("pipeline.yaml").display().to_string();
    run_with_env(&["init", &file], &[]).expect(0);
    let spec = std::fs::read_to_string(&file).expect("spec");
    assert!(spec.starts_with("# yaml-language-server: $schema=pipectl.schema.json\n"), "{spec}");
    let schema = std::fs::read_to_string(scratch.dir.join("pipectl.schema.json")).expect("schema beside it");
    assert_eq!(schema, run_with_env(&["schema"], &[]).expect(0).stdout);
    // A second spec in the same folder keeps the schema file.
    let other = scratch.dir.join("other.yaml").display().to_string();
    let run = run_with_env(&["init", &other], &[]).expect(0);
    assert!(run.stdout.contains("Kept"), "{}", run.stdout);
    // `-f` names where to write, as the help says, when no FILE is given.
    let named = scratch.dir.join("named.yaml").display().to_string();
    run_with_env(&["init", "-f", &named, "--template", "stream-to-lake"], &[]).expect(0);
    assert!(std::fs::read_to_string(&named).expect("written to the -f file").contains("deliveries:"));
}

#[test]
fn completions_and_man_page_are_generated() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = run_with_env(&["completions", shell], &[]).expect(0);
        assert!(run.stdout.contains("apply") && run.stdout.contains("detailed-exitcode"), "{shell}: {}", run.stdout);
    }
    let bash = run_with_env(&["completions", "bash"], &[]).expect(0);
    assert!(bash.stdout.contains("complete -F _pipectl"), "{}", bash.stdout);
    let man = run_with_env(&["man"], &[]).expect(0);
    assert!(man.stdout.contains("\n.TH pipectl 1"), "{}", man.stdout);
    assert!(man.stdout.contains("completions") && man.stdout.contains("schema"), "{}", man.stdout);
    run_with_env(&["completions", "tcsh"], &[]).expect(1);
}

/// Runs pipectl with its stdout a pipe whose reading end is already closed, as `pipectl … | true`
/// ends up once `true` has exited: every write fails with a broken pipe.
fn run_into_closed_pipe(args: &[&str]) -> crate::support::Run {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut command = std::process::Command::new(crate::support::pipectl_path());
    command.args(args).env_clear().stdin(std::process::Stdio::null()).stdout(writer);
    for key in ["PATH", "HOME"] {
        if let Some(value) = std::env::var_os(key) {
            command.env(key, value);
        }
    }
    let output = command.env("NO_COLOR", "1").output().expect("pipectl runs");
    crate::support::Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn a_reader_that_went_away_is_no_panic() {
    let example = repo_path("examples/clickstream.yaml").display().to_string();
    for args in [
        vec!["validate", "-f", &example],
        vec!["permissions", "-f", &example],
        vec!["graph", "-f", &example],
        vec!["schema"],
        vec!["completions", "bash"],
    ] {
        let run = run_into_closed_pipe(&args);
        assert!(!run.stderr.contains("panicked"), "{args:?}:\n{}", run.stderr);
        assert_eq!(run.code, 0, "{args:?}:\n{}", run.stderr);
    }
}

#[test]
fn an_endless_spec_is_cut_at_the_size_limit() {
    let started = Instant::now();
    let run = run_with_env(&["validate", "-f", "/dev/zero"], &[]).expect(1);
    assert!(started.elapsed().as_secs() < 30, "took {:?}", started.elapsed());
    assert!(
        run.stderr.contains(
            "/dev/zero: cannot read the spec: it is more than 4194304 bytes; specs are limited to 4194304 bytes"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn plain_http_to_another_host_and_real_credentials_for_localstack_are_warned_about() {
    let scratch = Scratch::new("transport");
    let file =
        scratch.write("spec.yaml", "version: 1\npipeline: transport\nregion: us-east-1\nstreams:\n  - {name: s}\n");
    let test_keys = [("AWS_ACCESS_KEY_ID", "test".to_string()), ("AWS_SECRET_ACCESS_KEY", "test".to_string())];
    // 0.0.0.0 is not a loopback address, yet a connection to it is refused at once on Linux.
    let run = run_with_env(&["plan", "-f", &file, "--endpoint-url", "http://0.0.0.0:9"], &test_keys).expect(1);
    assert!(
        run.stderr.contains("warning: --endpoint-url http://0.0.0.0:9 is plain HTTP to a host that is not this machine: the access key id, the request signatures and every answer travel unencrypted"),
        "{}",
        run.stderr
    );
    let quiet = run_with_env(&["plan", "-f", &file, "--endpoint-url", "http://127.0.0.1:9"], &test_keys).expect(1);
    assert!(!quiet.stderr.contains("warning:"), "{}", quiet.stderr);
    let real = [
        ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_string()),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_string()),
    ];
    let run = run_with_env(&["plan", "-f", &file, "--localstack"], &real).expect(1);
    assert!(
        run.stderr.contains("warning: --localstack: credentials are configured, so the requests to the emulator are signed with the access key AKIA…MPLE (AWS_ACCESS_KEY_ID)"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("AKIAIOSFODNN7EXAMPLE"), "the whole key id is not printed: {}", run.stderr);
}

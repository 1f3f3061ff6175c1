//! A corpus of broken and invalid specs (`tests/bad-specs/`, plus a few generated here): each must
//! be rejected with exit 1, a message that points at the problem, no panic, and no connection
//! to AWS at all (the endpoint is a listener that counts connections).

use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::support::{repo_path, run_with_env, Run, Scratch};

/// A loopback listener standing in for AWS: it only counts who connects.
struct CountingEndpoint {
    url: String,
    connections: Arc<AtomicUsize>,
}

impl CountingEndpoint {
    fn start() -> CountingEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                counter.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        CountingEndpoint { url, connections }
    }

    fn run(&self, args: &[&str]) -> Run {
        let env = [
            ("AWS_ENDPOINT_URL", self.url.clone()),
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "secret".to_string()),
        ];
        run_with_env(args, &env)
    }
}

/// How many files `tests/bad-specs/` holds, exactly: a file lost (or added without being counted
/// here) fails the corpus test. Whoever adds a bad spec adds one here.
const CORPUS_FILES: usize = 242;

/// How many of them are structural (well-formed YAML that serde rejects), exactly.
const STRUCTURAL_FILES: usize = 24;

/// The problems a run reports about `file`: each stderr line that starts `error: FILE:` or `FILE:`,
/// with the file, its `LINE:COL:` and the leading `error: ` taken off (the closing count, `N
/// problems found`, is one of them). The echoed source lines and the carets under them are not
/// diagnostics, and the file's own path is not part of one: an expectation they alone satisfy
/// does not pass.
fn diagnostics(stderr: &str, file: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix("error: ").unwrap_or(line).strip_prefix(file)?.strip_prefix(':'))
        .map(|rest| {
            let mut rest = rest.trim_start();
            for _ in 0..2 {
                match rest.split_once(':') {
                    Some((number, after)) if number.parse::<usize>().is_ok() => rest = after.trim_start(),
                    _ => break,
                }
            }
            rest.to_string()
        })
        .collect()
}

/// The expectation on a corpus file's first line, `# expect: TEXT`; a file without one (or with
/// an empty one, which every message would satisfy) fails the test.
fn expectation(path: &std::path::Path, text: &str) -> String {
    let expect = text.lines().next().and_then(|line| line.strip_prefix("# expect:")).map(str::trim);
    match expect {
        Some(expect) if !expect.is_empty() => expect.to_string(),
        _ => panic!("{}: the first line must be `# expect: <part of the message>`", path.display()),
    }
}

/// The commands that read a spec; each must refuse a bad one the same way.
const COMMANDS: [&[&str]; 4] =
    [&["validate"], &["plan"], &["apply", "--auto-approve"], &["destroy", "--auto-approve", "--allow-destroy"]];

fn check_rejected(endpoint: &CountingEndpoint, file: &str, expect: &str) -> usize {
    let mut checked = 0;
    for command in COMMANDS {
        let mut args: Vec<&str> = command.to_vec();
        args.extend(["-f", file]);
        let run = endpoint.run(&args);
        assert_eq!(run.code, 1, "{file} with {command:?}: exit code\n{}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{file}: panic\n{}", run.stderr);
        assert!(run.stderr.starts_with("error: "), "{file}: {}", run.stderr);
        let located = run.stderr.contains(&format!("{file}:")) || run.stderr.contains(file);
        assert!(located, "{file}: the message must name the file\n{}", run.stderr);
        assert!(!expect.is_empty(), "{file}: an empty expectation matches anything");
        let found = diagnostics(&run.stderr, file);
        assert!(
            found.iter().any(|message| message.contains(expect)),
            "{file}: expected {expect:?} in a diagnostic, found {found:#?} in\n{}",
            run.stderr
        );
        checked += 1;
    }
    checked
}

#[test]
fn every_bad_spec_is_rejected_before_any_aws_call() {
    let endpoint = CountingEndpoint::start();
    let mut files: Vec<_> = std::fs::read_dir(repo_path("tests/bad-specs"))
        .expect("corpus")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    assert_eq!(files.len(), CORPUS_FILES, "the corpus is not the size CORPUS_FILES says: {files:#?}");
    let mut runs = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read corpus file");
        let expect = expectation(path, &text);
        let file = path.display().to_string();
        runs += check_rejected(&endpoint, &file, &expect);
        // Anything the YAML layer or validator found carries a line and column.
        let run = endpoint.run(&["validate", "-f", &file]);
        let has_position = run.stderr.lines().any(|line| {
            line.strip_prefix(&format!("error: {file}:"))
                .or_else(|| line.strip_prefix(&format!("{file}:")))
                .is_some_and(|rest| rest.split(':').take(2).all(|n| n.parse::<usize>().is_ok()))
        });
        assert!(has_position, "{file}: no file:line:column in\n{}", run.stderr);
    }
    assert_eq!(endpoint.connections.load(Ordering::SeqCst), 0, "a bad spec reached the network");
    assert_eq!(runs, CORPUS_FILES * COMMANDS.len());
    eprintln!("{} bad specs rejected by {runs} runs with no API call", files.len());
}

#[test]
fn pathological_inputs_are_rejected_cleanly() {
    let endpoint = CountingEndpoint::start();
    let scratch = Scratch::new("pathological");
    let write_bytes = |name: &str, bytes: &[u8]| {
        let path = scratch.dir.join(name);
        std::fs::File::create(&path).and_then(|mut f| f.write_all(bytes)).expect("write");
        path.display().to_string()
    };
    let deep =
        format!("version: 1\npipeline: p\nregion: us-east-1\ntags: {}{}\n", "[".repeat(50_000), "]".repeat(50_000));
    let laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
    let huge = format!("version: 1\npipeline: p\nregion: us-east-1\n# {}\n", "x".repeat(5 * 1024 * 1024));
    let cases: Vec<(String, &str)> = vec![
        (write_bytes("empty.yaml", b""), "the spec is empty"),
        (write_bytes("comments-only.yaml", b"# nothing here\n---\n"), "the spec is empty"),
        (write_bytes("latin1.yaml", b"version: 1\npipeline: caf\xe9\nregion: us-east-1\n"), "not valid UTF-8"),
        (write_bytes("binary.yaml", &[0u8, 159, 146, 150, 255, 0, 1]), "the file is not valid UTF-8 text"),
        (write_bytes("deep.yaml", deep.as_bytes()), "expected a mapping of `key: value` pairs here"),
        // The aliases are not expanded: the first unknown key is reported, and the missing ones.
        (write_bytes("laughs.yaml", laughs.as_bytes()), "a: unknown field `a`"),
        (write_bytes("huge.yaml", huge.as_bytes()), "specs are limited to"),
        (scratch.dir.display().to_string(), "it is a directory"),
        (scratch.dir.join("missing.yaml").display().to_string(), "no such file"),
    ];
    for (file, expect) in &cases {
        check_rejected(&endpoint, file, expect);
    }
    assert_eq!(endpoint.connections.load(Ordering::SeqCst), 0, "a bad spec reached the network");
}

#[test]
fn structural_and_semantic_mistakes_are_all_reported_in_one_run() {
    let file = repo_path("tests/bad-specs/ten-mistakes-at-once.yaml").display().to_string();
    let run = run_with_env(&["validate", "-f", &file], &[("NO_COLOR", "1".to_string())]).expect(1);
    let firsts: Vec<&str> = run
        .stderr
        .lines()
        .filter_map(|line| line.strip_prefix("error: ").or(Some(line)))
        .filter(|line| {
            line.strip_prefix(&format!("{file}:"))
                .is_some_and(|rest| rest.split(':').take(2).all(|n| n.parse::<usize>().is_ok()))
        })
        .collect();
    let expected = [
        ":10:8: network.nat: unknown variant `per-zone`",
        ":13:13: network.subnets[0].cidr: 10.31.0.0/24 is not inside the VPC block",
        ":16:11: buckets[0].name: `Ten_Mistakes_Lake` is not a valid S3 bucket name",
        ":17:17: buckets[0].versioning: expected true or false here",
        ":19:17: buckets[1].encryption: unknown variant `sse-c`",
        ":22:13: streams[0].shards: must be between 1 and 500",
        ":23:5: streams[0].retention_hour: unknown field `retention_hour`",
        ":25:13: streams[1].shards: expected a whole number here",
        ":26:22: streams[1].retention_hours: must be between 24 and 8760",
        ":29:11: deliveries[0].from: no stream named `evnts`",
    ];
    assert_eq!(firsts.len(), expected.len(), "{}", run.stderr);
    for (line, expect) in firsts.iter().zip(expected) {
        assert!(line.starts_with(&format!("{file}{expect}")), "{line}\nexpected {expect}\n{}", run.stderr);
    }
    // For people: the offending line, and a caret under the span, with no color codes.
    assert!(run.stderr.contains("23 |     retention_hour: 48"), "{}", run.stderr);
    assert!(run.stderr.contains("   |     ^^^^^^^^^^^^^^\n"), "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}'), "NO_COLOR set but colored:\n{}", run.stderr);
    assert!(run.stderr.ends_with("10 problems found; nothing was sent to AWS\n"), "{}", run.stderr);
}

/// The committed JSON Schema, checked by an independent validator (the `jsonschema` crate):
/// every structural case of the corpus (serde rejects it, but it is well-formed YAML) fails it.
#[test]
fn structural_bad_specs_fail_the_json_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_path("schema/pipectl.schema.json")).expect("schema"))
            .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let mut structural = Vec::new();
    for entry in std::fs::read_dir(repo_path("tests/bad-specs")).expect("corpus") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        if serde_saphyr::from_str::<pipectl::spec::Spec>(&text).is_ok() {
            continue; // a semantic case: its shape is right
        }
        let Ok(document) = serde_saphyr::from_str::<serde_json::Value>(&text) else {
            continue; // not YAML at all (syntax, duplicate keys): no document to check
        };
        assert!(!validator.is_valid(&document), "{} passes the schema but serde rejects it", path.display());
        structural.push(path);
    }
    assert_eq!(structural.len(), STRUCTURAL_FILES, "structural cases: {structural:#?}");
}

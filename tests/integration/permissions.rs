//! `pipectl permissions` against what pipectl really calls: a whole lifecycle of the reference
//! example (apply, plan, scale out and back, a job run and its listing, destroy) with `-v`, which prints every AWS operation
//! made; each one must map to IAM actions that the printed policy allows.

use crate::support::{must_run, pipectl, repo_path, run_with_env, skipped, unique, Scratch, Stack};

/// `service:Operation` of every request a run made, from its `-v` summary line.
fn operations(stderr: &str) -> Vec<(String, String)> {
    let Some(line) = stderr.lines().find(|line| line.contains(" AWS requests: ")) else { return Vec::new() };
    let list = line.split(" AWS requests: ").nth(1).unwrap_or_default();
    list.split(", ")
        .filter_map(|entry| entry.rsplit_once(' ').map(|(name, _count)| name))
        .filter_map(|name| name.split_once(':'))
        .map(|(service, operation)| (service.to_string(), operation.to_string()))
        .collect()
}

#[test]
fn the_printed_policy_allows_every_call_of_a_lifecycle() {
    let stack = Stack::Moto;
    require!(stack);
    let scratch = Scratch::new("permissions");
    let pipeline = unique("perm", stack).replace('-', "").chars().take(14).collect::<String>();
    let example = std::fs::read_to_string(repo_path("examples/clickstream.yaml")).expect("example");
    // The job runs twelve hours from now, so that `run` now does not collide with its window.
    let hour = {
        use chrono::Timelike;
        (chrono::Utc::now().hour() + 12) % 24
    };
    let example = example.replace("clickstream", &pipeline).replace(
        "cron: \"0 2 * * *\"\n        timezone: Asia/Seoul",
        &format!("cron: \"0 {hour} * * *\"\n        timezone: UTC"),
    );
    let file = scratch.write("perm.yaml", &example);
    let runs = [
        vec!["apply", "-f", &file, "--auto-approve", "-v"],
        vec!["plan", "-f", &file, "-v"],
        vec!["scale", "--nodes", "3", "-f", &file, "-v"],
        vec!["scale", "--reset", "-f", &file, "-v"],
        vec!["run", "nightly", "-f", &file, "-v"],
        vec!["runs", "-f", &file, "-v"],
        vec!["destroy", "-f", &file, "--auto-approve", "--allow-destroy", "-v"],
    ];
    let mut seen = std::collections::BTreeSet::new();
    for args in &runs {
        let run = pipectl(stack, args).expect(0);
        seen.extend(operations(&run.stderr));
    }
    assert!(seen.len() > 30, "the lifecycle made too few kinds of calls to prove anything: {seen:?}");
    let policy: serde_json::Value =
        serde_json::from_str(&pipectl(stack, &["permissions", "-f", &file]).expect(0).stdout).expect("policy JSON");
    let mut missing = Vec::new();
    for (service, operation) in &seen {
        match pipectl::iam::deployer::action_for(service, operation) {
            None => missing.push(format!("{service}:{operation} (no known IAM action)")),
            Some(actions) => missing.extend(
                actions
                    .into_iter()
                    .filter(|action| !pipectl::iam::deployer::allows(&policy, action))
                    .map(|action| format!("{service}:{operation} needs {action}")),
            ),
        }
    }
    assert!(missing.is_empty(), "the policy misses:\n{}", missing.join("\n"));
    let plan_only: serde_json::Value =
        serde_json::from_str(&pipectl(stack, &["permissions", "-f", &file, "--for", "plan"]).expect(0).stdout)
            .expect("plan policy JSON");
    assert!(!pipectl::iam::deployer::allows(&plan_only, "kinesis:CreateStream"), "the plan policy only reads");
}

/// Findings parliament 1.6.4 raises from its own outdated action table, each with the reason it
/// is wrong today; every other finding fails the test.
const KNOWN_LINTER_ERRORS: &[(&str, &[&str], &str)] = &[
    (
        "RESOURCE_MISMATCH",
        &["kinesis:UpdateShardCount", "kinesis:UpdateStreamMode"],
        "its table lists no resource type for these two actions; AWS's Service Authorization Reference \
         (Amazon Kinesis Data Streams) gives both the `stream` resource type, and the policy scopes \
         them to the spec's streams",
    ),
    (
        "RESOURCE_MISMATCH",
        &["athena:TagResource", "athena:UntagResource", "athena:ListTagsForResource"],
        "its table lists only capacity reservations and data catalogs for Athena's tagging actions; \
         Athena tags workgroups (\"TagResource\", Athena API Reference: \"categorize Athena \
         workgroups, data catalogs, or capacity reservations\"; \"Configure access to workgroups \
         and tags\", Athena User Guide), and the policy scopes them to the pipeline's workgroup",
    ),
    (
        "RESOURCE_MISMATCH",
        &["states:ListExecutions", "states:DescribeExecution"],
        "its table gives ListExecutions only the Map Run resource type and DescribeExecution only the \
         Express execution one; AWS's Service Authorization Reference (AWS Step Functions) gives them \
         the `stateMachine` and the standard `execution` resource types too, which is what a job's \
         state machine and its runs are, and the policy scopes them to the pipeline's",
    ),
    (
        "RESOURCE_MISMATCH",
        &["glue:CreateCrawler"],
        "its table lists no resource type for CreateCrawler; AWS's Service Authorization Reference \
         (AWS Glue) gives it the `crawler` resource type, and the policy scopes it to the pipeline's \
         crawlers by name prefix",
    ),
];

/// The policies `pipectl permissions` prints for every example and template, both for everything and `--for
/// plan`, lint clean with parliament (an independent IAM linter from PyPI that tests/run.sh
/// installs; `PIPECTL_PARLIAMENT` is its path).
#[test]
fn the_printed_policies_lint_clean_with_parliament() {
    let Ok(parliament) = std::env::var("PIPECTL_PARLIAMENT") else {
        assert!(
            !must_run(),
            "PIPECTL_PARLIAMENT is not set: run the suite with tests/run.sh, which installs parliament"
        );
        return skipped();
    };
    let specs = ["examples", "templates"].map(|dir| std::fs::read_dir(repo_path(dir)).expect("spec folder"));
    let mut files: Vec<_> = specs
        .into_iter()
        .flatten()
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "specs to lint: {files:?}");
    let mut findings = Vec::new();
    for file in &files {
        let file = file.display().to_string();
        for purpose in ["all", "plan"] {
            let policy = run_with_env(&["permissions", "-f", &file, "--for", purpose], &[]).expect(0).stdout;
            let output = std::process::Command::new(&parliament)
                .args(["--json", "--string", &policy])
                .env("PYTHONWARNINGS", "ignore")
                .stdin(std::process::Stdio::null())
                .output()
                .expect("parliament runs");
            let stdout = String::from_utf8_lossy(&output.stdout);
            for line in stdout.lines().filter(|line| !line.trim().is_empty()) {
                let finding: serde_json::Value = serde_json::from_str(line).expect("a JSON finding per line");
                let actions: Vec<&str> = finding["detail"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|detail| detail["action"].as_str())
                    .collect();
                let known = KNOWN_LINTER_ERRORS.iter().any(|(issue, known_actions, _why)| {
                    finding["issue"] == *issue
                        && !actions.is_empty()
                        && actions.iter().all(|action| known_actions.contains(action))
                });
                if !known {
                    findings.push(format!("{file} --for {purpose}: {finding}"));
                }
            }
        }
    }
    assert!(findings.is_empty(), "parliament findings:\n{}", findings.join("\n"));
}

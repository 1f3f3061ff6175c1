//! `pipectl permissions` against what pipectl really calls: a whole lifecycle of the reference
//! example (apply, plan, scale out and back, destroy) with `-v`, which prints every AWS operation
//! made; each one must map to IAM actions that the printed policy allows.

use crate::support::{pipectl, repo_path, unique, Scratch, Stack};

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
    stack.require();
    let scratch = Scratch::new("permissions");
    let pipeline = unique("perm", stack).replace('-', "").chars().take(14).collect::<String>();
    let example = std::fs::read_to_string(repo_path("examples/clickstream.yaml")).expect("example");
    let file = scratch.write("perm.yaml", &example.replace("clickstream", &pipeline));
    let runs = [
        vec!["apply", "-f", &file, "--auto-approve", "-v"],
        vec!["plan", "-f", &file, "-v"],
        vec!["scale", "--nodes", "3", "-f", &file, "-v"],
        vec!["scale", "--reset", "-f", &file, "-v"],
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
        match pipectl::permissions::action_for(service, operation) {
            None => missing.push(format!("{service}:{operation} (no known IAM action)")),
            Some(actions) => missing.extend(
                actions
                    .into_iter()
                    .filter(|action| !pipectl::permissions::allows(&policy, action))
                    .map(|action| format!("{service}:{operation} needs {action}")),
            ),
        }
    }
    assert!(missing.is_empty(), "the policy misses:\n{}", missing.join("\n"));
    let plan_only: serde_json::Value =
        serde_json::from_str(&pipectl(stack, &["permissions", "-f", &file, "--for", "plan"]).expect(0).stdout)
            .expect("plan policy JSON");
    assert!(!pipectl::permissions::allows(&plan_only, "kinesis:CreateStream"), "the plan policy only reads");
}

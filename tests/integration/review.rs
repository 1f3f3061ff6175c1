//! A plan people can review: the reference example's first plan fits a line budget with its
//! policies and state machine summarised, `--full` prints them whole, JSON and the saved plan keep
//! them whole; and an update of a role's live inline policy (read back from IAM) shows the
//! statement's added and removed grants, not the document.

use crate::support::{pipectl, repo_path, runtime, unique, Scratch, Stack};

/// The reference example's first plan was 1,825 lines (its state machine alone 600, each role's
/// policies about 100); summarised, it is 579.
const FIRST_PLAN_BUDGET: usize = 650;

fn reference_spec(scratch: &Scratch, stack: Stack) -> (String, String) {
    let example = std::fs::read_to_string(repo_path("examples/clickstream.yaml")).expect("example");
    let pipeline = unique("rvw", stack).replace('-', "").chars().take(14).collect::<String>();
    (scratch.write(&format!("{pipeline}.yaml"), &example.replace("clickstream", &pipeline)), pipeline)
}

fn the_first_plan_fits_a_review(stack: Stack) {
    require!(stack);
    let scratch = Scratch::new(&format!("review-{}", stack.tag()));
    let (file, _) = reference_spec(&scratch, stack);
    let plan = pipectl(stack, &["plan", "-f", &file]).expect(0);
    let lines = plan.stdout.lines().count();
    assert!(lines <= FIRST_PLAN_BUDGET, "the first plan is {lines} lines, over {FIRST_PLAN_BUDGET}:\n{}", plan.stdout);
    assert!(plan.stdout.contains("      + definition = (state machine: 28 states ("), "{}", plan.stdout);
    assert!(
        plan.stdout.contains(
            "      + trust_policy = (policy: 1 statement, sts:AssumeRole for firehose.amazonaws.com, 1 with a condition)"
        ),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("\"StartAt\""), "{}", plan.stdout);
    assert!(plan.stdout.contains("`--full` shows them whole"), "{}", plan.stdout);

    let full = pipectl(stack, &["plan", "-f", &file, "--full"]).expect(0);
    assert!(full.stdout.lines().count() > 3 * lines, "{}", full.stdout);
    assert!(full.stdout.contains("            \"StartAt\": \"Start\",\n"), "{}", full.stdout);
    assert!(full.stdout.contains("\"sts:AssumeRole\""), "{}", full.stdout);

    let markdown = pipectl(stack, &["plan", "-f", &file, "--output", "markdown"]).expect(0);
    assert!(markdown.stdout.contains("      + definition = (state machine: 28 states ("), "{}", markdown.stdout);
    assert!(!markdown.stdout.contains("\"StartAt\""), "{}", markdown.stdout);

    // Machines get the documents whole: the JSON plan and the saved plan.
    let saved = scratch.dir.join("plan.json").display().to_string();
    let json = pipectl(stack, &["plan", "-f", &file, "--output", "json", "--out", &saved]).expect(0);
    for text in [json.stdout, std::fs::read_to_string(&saved).expect("plan file")] {
        let value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let changes = value["changes"].as_array().or(value["plan"]["changes"].as_array()).expect("changes").clone();
        let job = changes.iter().find(|change| change["resource"] == "job/spark-nightly").expect("job");
        let definition = job["fields"].as_array().expect("fields").iter().find(|f| f["path"] == "definition");
        assert_eq!(definition.expect("definition")["after"]["StartAt"], "Start");
    }
}

on_both_stacks!(the_first_plan_fits_a_review);

fn role_spec(pipeline: &str, actions: &str, resource: &str) -> String {
    format!(
        "version: 1\npipeline: {pipeline}\nregion: us-east-1\nroles:\n  - name: reader\n    trust: firehose.amazonaws.com\n    statements:\n      - sid: ReadLake\n        actions: [{actions}]\n        resources: [\"{resource}\"]\n"
    )
}

fn a_policy_update_shows_what_changed_in_it(stack: Stack) {
    require!(stack);
    let scratch = Scratch::new(&format!("review-role-{}", stack.tag()));
    let pipeline = unique("rvwrole", stack);
    let file = scratch.write("role.yaml", &role_spec(&pipeline, "s3:GetObject", "arn:aws:s3:::old-lake/*"));
    let apply = pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    assert!(
        apply.stdout.contains("      + inline_policy = (policy: 1 statement, s3:GetObject on 1 resource)\n"),
        "{}",
        apply.stdout
    );

    // The live policy, as IAM holds it, is what the plan compares.
    let runtime = runtime();
    let live = runtime.block_on(async {
        let clients = stack.clients().await;
        let role = format!("{pipeline}-reader-use1");
        let names = clients.iam.list_role_policies().role_name(&role).send().await.expect("ListRolePolicies");
        let name = names.policy_names().first().expect("an inline policy").clone();
        let policy = clients.iam.get_role_policy().role_name(&role).policy_name(name).send().await.expect("policy");
        pipectl::iam::percent_decode(policy.policy_document())
    });
    assert!(live.contains("arn:aws:s3:::old-lake/*"), "{live}");

    std::fs::write(&file, role_spec(&pipeline, "s3:GetObject, s3:ListBucket", "arn:aws:s3:::new-lake/*"))
        .expect("spec");
    let plan = pipectl(stack, &["plan", "-f", &file]).expect(0);
    let expected = "      ~ inline_policy (policy: 1 statement, 1 -> 2 actions, 1 resource)\n          ~ statement \"ReadLake\"\n              + action s3:ListBucket\n              - resource arn:aws:s3:::old-lake/*\n              + resource arn:aws:s3:::new-lake/*\n";
    assert!(plan.stdout.contains(expected), "{}", plan.stdout);
    let full = pipectl(stack, &["plan", "-f", &file, "--full"]).expect(0);
    assert!(full.stdout.contains("\"arn:aws:s3:::new-lake/*\""), "{}", full.stdout);
    let destroy = pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--full"]).expect(0);
    assert!(destroy.stdout.contains("      - inline_policy = {\n"), "{}", destroy.stdout);
}

on_both_stacks!(a_policy_update_shows_what_changed_in_it);

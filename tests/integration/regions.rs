//! One pipeline, two regions: IAM is global, so the roles of the same spec applied with
//! `--region us-east-1` and `--region eu-west-1` must be two sets (names carry the region code,
//! paths the region), and destroying one region must leave the other's roles intact.

use crate::support::{pipectl, run_with_env, runtime, unique, Scratch, Stack};

const BOUNDARY: &str = "arn:aws:iam::aws:policy/PowerUserAccess";
const IAM_PATH: &str = "/teams/data/";

/// A stream and a declared role with a permissions boundary and an IAM path of the
/// organisation's: no bucket (bucket names are global) and no network (`--region` must not
/// contradict the subnets' zones).
fn spec(pipeline: &str) -> String {
    format!(
        "version: 1\npipeline: {pipeline}\nregion: us-east-1\niam: {{permissions_boundary: '{BOUNDARY}', path: {IAM_PATH}}}\nstreams:\n  - {{name: {pipeline}-events, shards: 1}}\nroles:\n  - name: writer\n    trust: firehose.amazonaws.com\n    statements:\n      - {{actions: ['kinesis:DescribeStream'], resources: ['*']}}\n"
    )
}

/// The roles IAM holds under the pipeline's path: (name, path, permissions boundary), sorted.
fn held_roles(stack: Stack, pipeline: &str) -> Vec<(String, String, Option<String>)> {
    runtime().block_on(async {
        let clients = stack.clients().await;
        let listed =
            clients.iam.list_roles().path_prefix(format!("{IAM_PATH}pipectl/{pipeline}/")).send().await.expect("roles");
        let mut roles = Vec::new();
        for role in listed.roles().iter().filter(|role| !role.path().ends_with("lock/")) {
            let got = clients.iam.get_role().role_name(role.role_name()).send().await.expect("get role");
            let boundary = got
                .role()
                .and_then(|role| role.permissions_boundary())
                .and_then(|boundary| boundary.permissions_boundary_arn())
                .map(str::to_string);
            roles.push((role.role_name().to_string(), role.path().to_string(), boundary));
        }
        roles.sort();
        roles
    })
}

fn one_pipeline_in_two_regions(stack: Stack) {
    require!(stack);
    let scratch = Scratch::new(&format!("regions-{}", stack.tag()));
    let pipeline = unique("rgn", stack);
    let file = scratch.write("spec.yaml", &spec(&pipeline));
    let run = |region: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["-f", &file, "--region", region]);
        pipectl(stack, &all)
    };
    let virginia = (format!("{pipeline}-writer-use1"), format!("{IAM_PATH}pipectl/{pipeline}/us-east-1/"));
    let ireland = (format!("{pipeline}-writer-euw1"), format!("{IAM_PATH}pipectl/{pipeline}/eu-west-1/"));

    for (region, (name, path)) in [("us-east-1", &virginia), ("eu-west-1", &ireland)] {
        let plan = run(region, &["plan"]).expect(0);
        assert!(plan.stdout.contains(&format!("name = \"{name}\"")), "the plan names the role\n{}", plan.stdout);
        assert!(plan.stdout.contains(path.as_str()), "{}", plan.stdout);
        run(region, &["apply", "--auto-approve"]).expect(0);
    }
    for region in ["us-east-1", "eu-west-1"] {
        let plan = run(region, &["plan"]).expect(0);
        assert!(
            plan.stdout.contains("No changes"),
            "{region}: applying the other region changed nothing here\n{}",
            plan.stdout
        );
    }
    let boundary = Some(BOUNDARY.to_string());
    assert_eq!(
        held_roles(stack, &pipeline),
        [
            (ireland.0.clone(), ireland.1.clone(), boundary.clone()),
            (virginia.0.clone(), virginia.1.clone(), boundary.clone())
        ]
    );

    run("eu-west-1", &["destroy", "--auto-approve", "--allow-destroy"]).expect(0);
    assert_eq!(held_roles(stack, &pipeline), [(virginia.0.clone(), virginia.1.clone(), boundary)]);
    let plan = run("us-east-1", &["plan"]).expect(0);
    assert!(plan.stdout.contains("No changes"), "us-east-1 is intact\n{}", plan.stdout);

    run("us-east-1", &["destroy", "--auto-approve", "--allow-destroy"]).expect(0);
    assert_eq!(held_roles(stack, &pipeline), []);
}

on_both_stacks!(one_pipeline_in_two_regions);

/// A role name that fits IAM's 64 characters with the spec region's code (`use1`) but not with a
/// longer one (`us-isob-east-1` → `usisobe1`): `--region` re-validates the spec for the region
/// it names, so the run is refused before any AWS call, naming the role.
#[test]
fn a_region_whose_code_makes_a_role_name_too_long_is_refused_before_any_call() {
    let scratch = Scratch::new("region-code");
    let pipeline = "a".repeat(40);
    let file = scratch.write(
        "long.yaml",
        &format!(
            "version: 1\npipeline: {pipeline}\nregion: us-east-1\nroles:\n  - name: writer-of-events\n    trust: firehose.amazonaws.com\n    statements:\n      - {{actions: ['kinesis:DescribeStream'], resources: ['*']}}\n"
        ),
    );
    // An endpoint where nothing listens: any AWS call would fail with "cannot connect".
    let env = [
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_string()),
    ];
    run_with_env(&["validate", "-f", &file], &env).expect(0);
    let refused = run_with_env(&["plan", "-f", &file, "--region", "us-isob-east-1"], &env).expect(1);
    assert!(
        refused.stderr.contains("--region us-isob-east-1 does not match the spec's region us-east-1"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("roles[0]"), "names the role: {}", refused.stderr);
    assert!(refused.stderr.contains("66 characters"), "{}", refused.stderr);
    assert!(!refused.stderr.contains("cannot connect"), "no AWS call: {}", refused.stderr);
}

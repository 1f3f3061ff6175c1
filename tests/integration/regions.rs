//! One pipeline, two regions: IAM is global, so the roles of the same spec applied with
//! `--region us-east-1` and `--region eu-west-1` must be two sets (names carry the region code,
//! paths the region), and destroying one region must leave the other's roles intact.

use crate::support::{pipectl, runtime, unique, Scratch, Stack};

const BOUNDARY: &str = "arn:aws:iam::aws:policy/PowerUserAccess";

/// A stream and a declared role with a permissions boundary: no bucket (bucket names are
/// global) and no network (`--region` must not contradict the subnets' zones).
fn spec(pipeline: &str) -> String {
    format!(
        "version: 1\npipeline: {pipeline}\nregion: us-east-1\niam: {{permissions_boundary: '{BOUNDARY}'}}\nstreams:\n  - {{name: {pipeline}-events, shards: 1}}\nroles:\n  - name: writer\n    trust: firehose.amazonaws.com\n    statements:\n      - {{actions: ['kinesis:DescribeStream'], resources: ['*']}}\n"
    )
}

/// The roles IAM holds under the pipeline's path: (name, path, permissions boundary), sorted.
fn held_roles(stack: Stack, pipeline: &str) -> Vec<(String, String, Option<String>)> {
    runtime().block_on(async {
        let clients = stack.clients().await;
        let listed = clients.iam.list_roles().path_prefix(format!("/pipectl/{pipeline}/")).send().await.expect("roles");
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
    stack.require();
    let scratch = Scratch::new(&format!("regions-{}", stack.tag()));
    let pipeline = unique("rgn", stack);
    let file = scratch.write("spec.yaml", &spec(&pipeline));
    let run = |region: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["-f", &file, "--region", region]);
        pipectl(stack, &all)
    };
    let virginia = (format!("{pipeline}-writer-use1"), format!("/pipectl/{pipeline}/us-east-1/"));
    let ireland = (format!("{pipeline}-writer-euw1"), format!("/pipectl/{pipeline}/eu-west-1/"));

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

mod one_pipeline_in_two_regions {
    #[test]
    fn on_moto() {
        super::one_pipeline_in_two_regions(crate::support::Stack::Moto);
    }
}

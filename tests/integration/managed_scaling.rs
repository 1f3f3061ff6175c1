//! A cluster with managed scaling, on both stacks (EMR on moto): its core and task groups are
//! EMR's to size. After EMR grows them (simulated here with ModifyInstanceGroups through the
//! SDK, as EMR's own scaling would), the plan is empty and says why, apply resizes nothing, and
//! `pipectl scale` refuses the cluster before any resize (terraform-aws-modules/terraform-aws-emr#41
//! is the drift fight this avoids).

use crate::support::{pipectl, runtime, unique, Scratch, Stack};

fn spec(pipeline: &str) -> String {
    format!(
        "version: 1\npipeline: {pipeline}\nregion: us-east-1\nnetwork:\n  vpc: {{cidr: 10.63.0.0/16}}\n  subnets: [{{name: private-a, cidr: 10.63.1.0/24, availability_zone: us-east-1a}}]\n  endpoints: [s3]\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: private-a\n    master: {{type: m5.xlarge}}\n    core: {{type: m5.xlarge, nodes: 2}}\n    task_groups: [{{name: batch, type: m5.xlarge, nodes: 0}}]\n    managed_scaling: {{min: 2, max: 20}}\n"
    )
}

/// The cluster's groups as EMR holds them: (id, requested count) of core and `batch`.
async fn groups(stack: Stack, pipeline: &str) -> (String, [(String, i32); 2]) {
    let emr = stack.clients().await.emr;
    let listed = emr
        .list_clusters()
        .cluster_states(aws_sdk_emr::types::ClusterState::Waiting)
        .cluster_states(aws_sdk_emr::types::ClusterState::Running)
        .send()
        .await
        .expect("clusters");
    let name = format!("{pipeline}-spark");
    let cluster = listed.clusters().iter().find(|c| c.name() == Some(name.as_str())).expect("the cluster");
    let cluster_id = cluster.id().expect("an id").to_string();
    let groups = emr.list_instance_groups().cluster_id(&cluster_id).send().await.expect("groups");
    let find = |name: &str, role: aws_sdk_emr::types::InstanceGroupType| {
        let group = groups
            .instance_groups()
            .iter()
            .find(|g| {
                g.instance_group_type() == Some(&role)
                    && (role != aws_sdk_emr::types::InstanceGroupType::Task || g.name() == Some(name))
            })
            .expect("the group");
        (group.id().unwrap_or_default().to_string(), group.requested_instance_count().unwrap_or(-1))
    };
    let core = find("core", aws_sdk_emr::types::InstanceGroupType::Core);
    let batch = find("batch", aws_sdk_emr::types::InstanceGroupType::Task);
    (cluster_id, [core, batch])
}

fn managed_scaling_is_not_fought(stack: Stack) {
    require!(stack);
    let runtime = runtime();
    let scratch = Scratch::new(&format!("managed-{}", stack.tag()));
    let p = unique("msc", stack);
    let file = scratch.write("spec.yaml", &spec(&p));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);

    // EMR grows the cluster for the work: core 2 → 5, batch 0 → 7.
    let (cluster_id, [(core_id, _), (batch_id, _)]) = runtime.block_on(groups(stack, &p));
    runtime.block_on(async {
        let emr = stack.clients().await.emr;
        let resize = |id: &str, count: i32| {
            aws_sdk_emr::types::InstanceGroupModifyConfig::builder().instance_group_id(id).instance_count(count).build()
        };
        emr.modify_instance_groups()
            .cluster_id(&cluster_id)
            .instance_groups(resize(&core_id, 5))
            .instance_groups(resize(&batch_id, 7))
            .send()
            .await
            .expect("EMR's own resize");
    });

    // The plan is empty and says that EMR sized the groups; apply resizes nothing.
    let plan = pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    assert!(
        plan.stdout.contains(
            "managed scaling has sized the core group at 5 (baseline 2), task group 'batch' at 7 (baseline 0)"
        ),
        "{}",
        plan.stdout
    );
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let (_, [(_, core), (_, batch)]) = runtime.block_on(groups(stack, &p));
    assert_eq!((core, batch), (5, 7), "apply resized a group EMR sizes");

    // `scale` refuses the cluster, before any resize.
    let refused = pipectl(stack, &["scale", "--nodes", "3", "-f", &file]).expect(1);
    assert!(
        refused.stderr.contains("cluster 'spark' has managed_scaling: EMR sizes its core and task groups"),
        "{}",
        refused.stderr
    );
    assert_eq!(runtime.block_on(groups(stack, &p)).1.map(|(_, count)| count), [5, 7]);

    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

on_both_stacks!(managed_scaling_is_not_fought);

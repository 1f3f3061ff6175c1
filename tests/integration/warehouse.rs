//! A warehouse as a user runs it: `examples/warehouse.yaml` (renamed per run) applies on both
//! stacks, and what the emulators then hold is read back with the SDK — the Redshift cluster
//! with the pipeline's tag, public, encrypted, in its subnet group; the admin secret with a
//! generated password for the admin user; the delivery's Redshift destination naming the
//! cluster's JDBC URL, the catalog's columns and that secret; the delivery's role reading that
//! one secret — the next plan is empty, a resize applies in place and plans empty again, destroy
//! without `--allow-destroy` refuses to delete the data, and with it leaves no cluster, subnet
//! group or secret. Redshift and Secrets Manager are LocalStack's on its stack, Firehose and the
//! Redshift Data API moto's on both (localstack/README.md, "Warehouses").

use crate::support::{pipectl, repo_path, runtime, unique, Scratch, Stack};

/// The warehouse example as pipeline `pipeline`: its names made unique to this run.
pub fn warehouse_example(pipeline: &str) -> String {
    let text = std::fs::read_to_string(repo_path("examples/warehouse.yaml")).expect("the example");
    text.replace("pipeline: orders", &format!("pipeline: {pipeline}"))
        .replace("orders-analytics", pipeline)
        .replace("orders-lake-example", &format!("{pipeline}-lake"))
        .replace("orders-to-lake", &format!("{pipeline}-to-lake"))
        .replace("orders-to-warehouse", &format!("{pipeline}-wh"))
        .replace("from: orders", &format!("from: {pipeline}-orders"))
        .replace("  - name: orders\n    shards", &format!("  - name: {pipeline}-orders\n    shards"))
}

fn the_warehouse_applies_loads_through_its_secret_resizes_and_destroys(stack: Stack) {
    let runtime = runtime();
    let pipeline = unique("wh", stack);
    let scratch = Scratch::new(&pipeline);
    let file = scratch.write("warehouse.yaml", &warehouse_example(&pipeline));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let clients = runtime.block_on(stack.clients());

    let clusters = runtime.block_on(clients.redshift.describe_clusters().cluster_identifier(&pipeline).send());
    let clusters = clusters.expect("DescribeClusters");
    let cluster = clusters.clusters().first().expect("the cluster exists");
    let tags: Vec<(&str, &str)> =
        cluster.tags().iter().map(|tag| (tag.key().unwrap_or_default(), tag.value().unwrap_or_default())).collect();
    assert!(tags.contains(&("pipectl:pipeline", pipeline.as_str())), "{tags:?}");
    assert_eq!(
        (cluster.node_type(), cluster.db_name(), cluster.master_username()),
        (Some("ra3.large"), Some("orders"), Some("pipectl_admin"))
    );
    assert_eq!((cluster.publicly_accessible(), cluster.encrypted()), (Some(true), Some(true)));
    let subnet_group = format!("{pipeline}-subnets");
    assert_eq!(cluster.cluster_subnet_group_name(), Some(subnet_group.as_str()));

    let secret_name = format!("pipectl/{pipeline}/{pipeline}/admin");
    let value = runtime.block_on(clients.secrets.get_secret_value().secret_id(&secret_name).send());
    let value: serde_json::Value =
        serde_json::from_str(value.expect("GetSecretValue").secret_string().unwrap_or_default()).expect("JSON");
    assert_eq!(value["username"], "pipectl_admin");
    let password = value["password"].as_str().expect("a password");
    assert_eq!(password.len(), 32, "a generated password");
    let secret = runtime.block_on(clients.secrets.describe_secret().secret_id(&secret_name).send());
    let secret = secret.expect("DescribeSecret");
    assert!(secret.tags().iter().any(|tag| tag.value() == Some(pipeline.as_str())), "{secret:?}");

    let delivery = format!("{pipeline}-wh");
    let described =
        runtime.block_on(clients.firehose.describe_delivery_stream().delivery_stream_name(&delivery).send());
    let described = described.expect("DescribeDeliveryStream");
    let destination = described.delivery_stream_description().and_then(|d| d.destinations().first()).expect("one");
    let redshift = destination.redshift_destination_description().expect("a Redshift destination");
    assert!(redshift.cluster_jdbcurl().starts_with(&format!("jdbc:redshift://{pipeline}.")), "{redshift:?}");
    assert!(redshift.cluster_jdbcurl().ends_with(":5439/orders"), "{redshift:?}");
    let copy = redshift.copy_command().expect("a COPY command");
    assert_eq!(
        (copy.data_table_name(), copy.data_table_columns(), copy.copy_options()),
        ("orders", Some("order_id,customer_id,amount,ordered_at"), Some("JSON 'auto' GZIP"))
    );
    let secrets = redshift.secrets_manager_configuration().expect("the secret signs in");
    assert_eq!((secrets.enabled(), secrets.secret_arn()), (true, secret.arn()));
    let staging = redshift.s3_destination_description().expect("the staging location");
    assert_eq!(staging.prefix(), Some("staging/orders/"));

    let role = format!("{pipeline}-{delivery}-firehose-use1");
    let policy = runtime.block_on(clients.iam.get_role_policy().role_name(&role).policy_name("pipectl").send());
    let policy = pipectl::iam::parse_document(policy.expect("GetRolePolicy").policy_document()).expect("JSON");
    let reads_secret =
        policy["Statement"].as_array().expect("statements").iter().find(|s| s["Sid"] == "ReadWarehouseSecret");
    let resource =
        reads_secret.expect("the role reads the secret")["Resource"][0].as_str().unwrap_or_default().to_string();
    assert!(resource.ends_with(&format!(":secret:{secret_name}-??????")), "{resource}");
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // Two nodes: an elastic resize in place, and an empty plan after it.
    let resized = scratch.write("warehouse.yaml", &warehouse_example(&pipeline).replace("nodes: 1", "nodes: 2"));
    let plan = pipectl(stack, &["plan", "-f", &resized]).expect(0);
    assert!(plan.stdout.contains("an elastic resize"), "{}", plan.stdout);
    pipectl(stack, &["apply", "-f", &resized, "--auto-approve"]).expect(0);
    let clusters = runtime.block_on(clients.redshift.describe_clusters().cluster_identifier(&pipeline).send());
    assert_eq!(clusters.expect("DescribeClusters").clusters()[0].number_of_nodes(), Some(2));
    pipectl(stack, &["plan", "-f", &resized, "--detailed-exitcode"]).expect(0);

    // Deleting the warehouse deletes its tables: refused without --allow-destroy.
    let refused = pipectl(stack, &["destroy", "-f", &resized, "--auto-approve"]).expect(1);
    let said = format!("{}{}", refused.stdout, refused.stderr);
    assert!(said.contains("every table in the warehouse"), "{said}");
    pipectl(stack, &["destroy", "-f", &resized, "--auto-approve", "--allow-destroy"]).expect(0);
    let gone = runtime.block_on(clients.redshift.describe_clusters().cluster_identifier(&pipeline).send());
    assert!(gone.is_err(), "the cluster is gone");
    let groups = runtime
        .block_on(clients.redshift.describe_cluster_subnet_groups().cluster_subnet_group_name(&subnet_group).send());
    assert!(groups.map_or(true, |groups| groups.cluster_subnet_groups().is_empty()), "the subnet group is gone");
    let secret = runtime.block_on(clients.secrets.describe_secret().secret_id(&secret_name).send());
    assert!(secret.is_err() || secret.is_ok_and(|s| s.deleted_date().is_some()), "the secret is gone");
}

#[test]
fn warehouse_on_localstack() {
    require!(Stack::LocalStack);
    the_warehouse_applies_loads_through_its_secret_resizes_and_destroys(Stack::LocalStack);
}

#[test]
fn warehouse_on_moto() {
    require!(Stack::Moto);
    the_warehouse_applies_loads_through_its_secret_resizes_and_destroys(Stack::Moto);
}

/// Through the fidelity proxy, which makes new roles unusable for a while (`fresh-iam`: Firehose
/// refuses to assume the delivery's role at first) and keeps the network in use after a cluster
/// is deleted, refusing to delete a subnet group a cluster still uses (`dependency-violation`):
/// the warehouse still applies, plans empty and destroys, so pipectl retries the one and orders
/// the other as AWS needs.
#[test]
fn warehouse_through_the_fidelity_proxy() {
    let stack = Stack::LocalStack;
    require!(stack);
    let pipeline = unique("whp", stack);
    let scratch = Scratch::new(&pipeline);
    let file = scratch.write("warehouse.yaml", &warehouse_example(&pipeline));
    let proxy = crate::proxy::StackProxy::start(stack, &["--fidelity-rules", "fresh-iam,dependency-violation"]);
    let run = proxy.pipectl(&["apply", "-f", &file, "--auto-approve"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let refused = proxy.stats()["fidelity"]["fresh-iam firehose:CreateDeliveryStream"].as_u64();
    assert!(refused.unwrap_or(0) > 0, "the fresh role was never refused: {}", proxy.stats());
    proxy.pipectl(&["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    proxy.pipectl(&["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    let refused = proxy.stats()["fidelity"]["dependency-violation redshift:DeleteClusterSubnetGroup"].as_u64();
    assert_eq!(refused.unwrap_or(0), 0, "the subnet group was deleted before its cluster: {}", proxy.stats());
}

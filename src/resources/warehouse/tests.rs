//! Unit tests of the warehouse kinds: the nodes a warehouse derives, the deployer's grants for
//! them and their secret, and the role of a delivery that loads into one.

use std::path::Path;

use chrono::TimeZone;
use serde_json::{json, Value};

use super::*;
use crate::iam::deployer::{policy, GrantContext, Purpose};
use crate::iam::evaluate::{allowed, Request};
use crate::resources::test_support::statement;

/// The warehouse example.
fn example() -> spec::Spec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/warehouse.yaml");
    crate::spec::load_file(&path).expect("the warehouse example loads").spec
}

fn deployer(spec: &spec::Spec, purpose: Purpose) -> Value {
    policy(crate::resources::deployer_grants(&GrantContext::new(spec, "us-east-1", "123456789012")), purpose)
}

#[test]
fn a_warehouse_derives_its_secret_subnet_group_and_alarms_and_the_load_waits_for_them() {
    let spec = example();
    let now = chrono::Utc.with_ymd_and_hms(2026, 12, 8, 0, 0, 0).unwrap();
    let graph = crate::resources::desired_graph(&spec, "us-east-1", now);
    let ids: Vec<String> = graph.iter().map(|node| node.id.to_string()).collect();
    for wanted in [
        "secret/pipectl/orders/orders-analytics/admin",
        "warehouse_subnet_group/orders-analytics-subnets",
        "warehouse/orders-analytics",
        "alarm/orders-analytics-health",
        "alarm/orders-analytics-disk-used",
        "alarm/orders-to-warehouse-load-success",
    ] {
        assert!(ids.contains(&wanted.to_string()), "{wanted} in {ids:?}");
    }
    let node = |id: &str| graph.iter().find(|node| node.id.to_string() == id).expect(id);
    let warehouse = node("warehouse/orders-analytics");
    let needs: Vec<String> = warehouse.depends_on.iter().map(ToString::to_string).collect();
    assert!(needs.contains(&"secret/pipectl/orders/orders-analytics/admin".to_string()), "{needs:?}");
    assert!(needs.contains(&"security_group/warehouse".to_string()), "{needs:?}");
    let load = node("delivery/orders-to-warehouse");
    let needs: Vec<String> = load.depends_on.iter().map(ToString::to_string).collect();
    assert!(needs.contains(&"warehouse/orders-analytics".to_string()), "{needs:?}");
    let attributes = load.config.attributes();
    assert_eq!(attributes["table"], json!("orders"));
    assert_eq!(attributes["columns"], json!("order_id,customer_id,amount,ordered_at"));
    // The lake delivery loads nothing.
    assert_eq!(node("delivery/orders-to-lake").config.attributes()["warehouse"], Value::Null);
}

#[test]
fn the_loading_deliverys_role_reads_its_one_secret_and_its_staged_objects() {
    let spec = example();
    let now = chrono::Utc.with_ymd_and_hms(2026, 12, 8, 0, 0, 0).unwrap();
    let graph = crate::resources::graph_in(&spec, &Arns::new("123456789012", "us-east-1"), now);
    let role =
        graph.iter().find(|node| node.id.to_string() == "role/orders-to-warehouse-firehose").expect("derived role");
    let document = &role.config.attributes()["inline_policy"];
    let secret = statement(document, "ReadWarehouseSecret");
    assert_eq!(secret["Action"], json!(["secretsmanager:GetSecretValue"]));
    assert_eq!(
        secret["Resource"],
        json!(["arn:aws:secretsmanager:us-east-1:123456789012:secret:pipectl/orders/orders-analytics/admin-??????"])
    );
    assert_eq!(
        statement(document, "ReadStagedObjects")["Resource"],
        json!(["arn:aws:s3:::orders-lake-example/staging/orders/*"])
    );
    // The lake delivery's role reads no secret.
    let lake = graph.iter().find(|node| node.id.to_string() == "role/orders-to-lake-firehose").expect("lake role");
    let statements = lake.config.attributes()["inline_policy"]["Statement"].clone();
    assert!(!statements.to_string().contains("secretsmanager"), "{statements}");
}

#[test]
fn the_deployer_creates_tags_and_deletes_only_the_specs_warehouses_and_secrets() {
    let spec = example();
    let everything = deployer(&spec, Purpose::Everything);
    let cluster = "arn:aws:redshift:us-east-1:123456789012:cluster:orders-analytics";
    let create = statement(&everything, "CreateWarehouses");
    assert_eq!(create["Resource"], json!([cluster]));
    assert_eq!(create["Condition"]["StringEquals"]["aws:RequestTag/pipectl:pipeline"], "orders");
    let delete = statement(&everything, "DeleteOwnWarehouses");
    assert_eq!(delete["Condition"]["StringEquals"]["aws:ResourceTag/pipectl:pipeline"], "orders");
    let ask = |action: &str, resource: &str, pipeline: Option<&str>| {
        let request = Request::new(action, resource);
        let request = match pipeline {
            Some(pipeline) => request.with("aws:ResourceTag/pipectl:pipeline", &[pipeline]),
            None => request,
        };
        allowed(&everything, &request)
    };
    assert!(ask("redshift:DeleteCluster", cluster, Some("orders")));
    assert!(!ask("redshift:DeleteCluster", cluster, Some("other")));
    // Another cluster only where it carries the pipeline's tag (one the spec dropped).
    let elses = "arn:aws:redshift:us-east-1:123456789012:cluster:someone-elses";
    assert!(!ask("redshift:DeleteCluster", elses, None));
    assert!(!ask("redshift:ModifyCluster", elses, Some("orders")));
    let secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:pipectl/orders/orders-analytics/admin-AbCdEf";
    assert!(ask("secretsmanager:GetSecretValue", secret, Some("orders")));
    let others = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf";
    assert!(!ask("secretsmanager:GetSecretValue", others, Some("orders")));
    assert!(!ask("secretsmanager:DeleteSecret", secret, None));
    // Plans read; they never read a secret's value or create anything.
    let plan = deployer(&spec, Purpose::Plan).to_string();
    for write in ["secretsmanager:GetSecretValue", "redshift:CreateCluster", "redshift-data:ExecuteStatement"] {
        assert!(!plan.contains(write), "{write} in a plan's policy");
    }
    // A spec without warehouses creates and reads none; it still finds and deletes the
    // pipeline's own that a spec dropped, by their tag.
    let none = deployer(&crate::spec::SpecBuilder::new().bucket("lake").build(), Purpose::Everything);
    for create in ["redshift:CreateCluster", "secretsmanager:CreateSecret", "secretsmanager:GetSecretValue"] {
        assert!(!none.to_string().contains(create), "{create} without warehouses");
    }
    let dropped = statement(&none, "DeleteOwnWarehouses");
    assert_eq!(dropped["Resource"], json!(["arn:aws:redshift:us-east-1:123456789012:cluster:*"]));
    assert_eq!(dropped["Condition"]["StringEquals"]["aws:ResourceTag/pipectl:pipeline"], "p");
}

/// DescribeClusters and DeleteCluster as AWS documents them, replayed by the SDK's mock client:
/// a cluster still `creating` (an interrupted apply) is waited for before DeleteCluster, which
/// AWS would refuse (`InvalidClusterStateFault`), and the delete waits until `ClusterNotFound`.
#[tokio::test]
async fn a_cluster_being_created_is_waited_for_before_it_is_deleted() {
    use aws_sdk_redshift::operation::delete_cluster::DeleteClusterOutput;
    use aws_sdk_redshift::operation::describe_clusters::DescribeClustersOutput;
    use aws_sdk_redshift::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    let cluster = |status: &'static str| {
        mock!(Client::describe_clusters).then_output(move || {
            DescribeClustersOutput::builder()
                .clusters(Cluster::builder().cluster_identifier("analytics").cluster_status(status).build())
                .build()
        })
    };
    let (creating, available) = (cluster("creating"), cluster("available"));
    let delete = mock!(Client::delete_cluster)
        .match_requests(|request| request.skip_final_cluster_snapshot() == Some(true))
        .then_output(|| DeleteClusterOutput::builder().build());
    let deleting = cluster("deleting");
    // AWS's answer for a cluster that is gone: the query protocol's error document, code
    // `ClusterNotFound` (the fault's wire code), HTTP 404.
    let gone = mock!(Client::describe_clusters).then_http_response(|| {
        let body = "<ErrorResponse><Error><Type>Sender</Type><Code>ClusterNotFound</Code><Message>Cluster analytics not found.</Message></Error><RequestId>r</RequestId></ErrorResponse>";
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(404).unwrap(),
            aws_smithy_types::body::SdkBody::from(body),
        )
    });
    let mut clients = crate::resources::test_support::clients();
    clients.redshift =
        mock_client!(aws_sdk_redshift, RuleMode::Sequential, [&creating, &available, &delete, &deleting, &gone]);
    let live_state = crate::model::LiveState::default();
    let ctx = crate::resources::test_support::context(clients, std::time::Duration::from_secs(5), &live_state);
    let detail = Live {
        node_type: "ra3.large".into(),
        nodes: 1,
        database: "dev".into(),
        admin_user: "pipectl_admin".into(),
        subnet_group: "analytics-subnets".into(),
        security_group_ids: Vec::new(),
        publicly_accessible: true,
        kms_key: None,
        status: "creating".into(),
        endpoint: None,
    };
    let live = LiveResource::new(id("analytics"), "analytics", Tags::new(), detail.clone());
    Warehouse.delete(&ctx, &live, &detail).await.expect("deleted once it was available");
    assert_eq!((creating.num_calls(), available.num_calls(), delete.num_calls(), gone.num_calls()), (1, 1, 1, 1));
}

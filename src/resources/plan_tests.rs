//! The planner with the real kinds' rules: which fields replace, what a replaced VPC takes along,
//! which deletions destroy data. (The planner's own unit tests use test kinds; these check that
//! the kinds and the planner agree.)

use serde_json::json;

use super::{graph_in, stream, subnet, vpc};
use crate::model::{Action, DesiredResource, LiveResource, LiveState, ResourceId, Tags, PIPELINE_TAG, RESOURCE_TAG};
use crate::plan::build_plan;
use crate::spec::{Spec, SpecBuilder};

/// A VPC with one public subnet `a`, and a stream of two shards.
fn spec() -> Spec {
    SpecBuilder::new().subnet("a", "10.0.0.0/24", true).stream("events", 2).build()
}

#[test]
fn everything_is_created_from_nothing() {
    let graph = graph_in(&spec(), &crate::iam::Arns::new("123456789012", "eu-west-1"), chrono::Utc::now());
    let plan = build_plan("p", &graph, &LiveState::default(), false);
    let actions: Vec<(String, Action)> = plan.changes.iter().map(|c| (c.resource.to_string(), c.action)).collect();
    assert_eq!(
        actions,
        [
            ("vpc/p".to_string(), Action::Create),
            ("internet_gateway/p".to_string(), Action::Create),
            ("subnet/a".to_string(), Action::Create),
            ("route_table/public".to_string(), Action::Create),
            ("stream/events".to_string(), Action::Create),
        ]
    );
    assert_eq!((plan.summary.add, plan.summary.destroy), (5, 0));
}

/// Live state that matches `graph` exactly except where `edit` changes it.
fn live_from(graph: &[DesiredResource], edit: impl Fn(&mut LiveResource)) -> LiveState {
    let mut state = LiveState::default();
    for resource in graph {
        let detail = vpc::Live { cidr: "unused".to_string() };
        let mut live =
            LiveResource::new(resource.id.clone(), format!("phys-{}", resource.id.name), resource.tags.clone(), detail);
        live.attributes = resource.attributes();
        edit(&mut live);
        state.resources.insert(resource.id.clone(), live);
    }
    state
}

#[test]
fn no_changes_when_live_matches() {
    let graph = graph_in(&spec(), &crate::iam::Arns::new("123456789012", "eu-west-1"), chrono::Utc::now());
    let plan = build_plan("p", &graph, &live_from(&graph, |_| {}), false);
    assert!(plan.is_empty(), "{plan:#?}");
}

#[test]
fn a_new_subnet_cidr_replaces_it_and_relinks_the_route_table() {
    let graph = graph_in(&spec(), &crate::iam::Arns::new("123456789012", "eu-west-1"), chrono::Utc::now());
    let live = live_from(&graph, |live| {
        if live.id.kind == subnet::KIND {
            live.attributes.insert("cidr".to_string(), json!("10.0.9.0/24"));
        }
    });
    let plan = build_plan("p", &graph, &live, false);
    let actions: Vec<(String, Action)> = plan.changes.iter().map(|c| (c.resource.to_string(), c.action)).collect();
    assert_eq!(
        actions,
        [("subnet/a".to_string(), Action::Replace), ("route_table/public".to_string(), Action::Update)]
    );
    assert!(plan.changes[0].fields[0].forces_replacement);
}

#[test]
fn a_replaced_vpc_replaces_what_lives_in_it() {
    let graph = graph_in(&spec(), &crate::iam::Arns::new("123456789012", "eu-west-1"), chrono::Utc::now());
    let live = live_from(&graph, |live| {
        if live.id.kind == vpc::KIND {
            live.attributes.insert("cidr".to_string(), json!("10.9.0.0/16"));
        }
    });
    let plan = build_plan("p", &graph, &live, false);
    assert_eq!((plan.summary.replace, plan.summary.change), (4, 0), "{plan:#?}");
}

#[test]
fn removed_stream_is_a_data_destroying_delete() {
    let graph = graph_in(&spec(), &crate::iam::Arns::new("123456789012", "eu-west-1"), chrono::Utc::now());
    let mut live = live_from(&graph, |_| {});
    let stream = stream_resource("old", "p");
    live.resources.insert(stream.id.clone(), stream);
    describe_live_stream_only(&mut live);
    let plan = build_plan("p", &graph, &live, false);
    assert_eq!(plan.changes.len(), 1);
    let change = &plan.changes[0];
    assert_eq!(
        (change.resource.to_string(), change.action, change.destroys_data),
        ("stream/old".to_string(), Action::Delete, true)
    );
}

fn describe_live_stream_only(state: &mut LiveState) {
    let mut streams = LiveState::default();
    let ids: Vec<ResourceId> =
        state.resources.keys().filter(|id| id.kind == stream::KIND && id.name == "old").cloned().collect();
    for id in ids {
        if let Some(resource) = state.resources.remove(&id) {
            streams.resources.insert(id, resource);
        }
    }
    streams.describe();
    state.resources.extend(streams.resources);
}

/// A provisioned one-shard stream owned by `pipeline`.
fn stream_resource(name: &str, pipeline: &str) -> LiveResource {
    let tags = Tags::from([
        (PIPELINE_TAG.to_string(), pipeline.to_string()),
        (RESOURCE_TAG.to_string(), format!("stream/{name}")),
    ]);
    let live = stream::Live {
        arn: format!("arn:aws:kinesis:eu-west-1:000000000000:stream/{name}"),
        on_demand: false,
        open_shards: 1,
        retention_hours: 24,
        kms_key: None,
    };
    LiveResource::new(ResourceId::new(stream::KIND, name), name, tags, live)
}

/// A cluster whose task group `batch` is 0 nodes but 20 in the schedule `night`'s window.
fn cluster_graph(window_open: bool) -> Vec<DesiredResource> {
    let spec: Spec = serde_saphyr::from_str("version: 1\npipeline: p\nregion: eu-west-1\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets: [{name: a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a, public: true}]\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 4}\n    task_groups: [{name: batch, type: m5.xlarge, nodes: 0}]\n    schedules: [{name: night, cron: '0 2 * * *', group: batch, nodes: 20, for: 4h}]\n").unwrap();
    let graph = graph_in(&spec, &crate::iam::Arns::new("123456789012", "eu-west-1"), chrono::Utc::now());
    graph
        .into_iter()
        .map(|node| match node.config::<super::cluster::ClusterConfig>() {
            Some(config) => {
                let mut config = config.clone();
                config.open_windows = if window_open {
                    vec![(super::cluster::Group::parse("batch"), 20, "night".to_string())]
                } else {
                    vec![]
                };
                DesiredResource { config: std::sync::Arc::new(config), ..node }
            }
            None => node,
        })
        .collect()
}

#[test]
fn a_group_at_its_windows_size_while_the_window_is_open_is_not_drift() {
    let at = |graph: &[DesiredResource], nodes: i64| {
        live_from(graph, |live| {
            if live.id.kind == super::cluster::KIND {
                live.attributes.insert("task.batch.nodes".to_string(), json!(nodes));
            }
        })
    };
    // 03:00, the window open: 20 nodes is what the spec wants now; a CI apply leaves them.
    let open = cluster_graph(true);
    let plan = build_plan("p", &open, &at(&open, 20), false);
    assert!(plan.is_empty(), "{plan:#?}");
    assert!(
        plan.notices
            .iter()
            .any(|n| n.contains("task group 'batch' is at 20 nodes inside the window of schedule 'night'")),
        "{:?}",
        plan.notices
    );
    // Any other size is still drift back to the baseline.
    assert_eq!(build_plan("p", &open, &at(&open, 7), false).changes.len(), 1);
    // Outside the window, 20 nodes is drift.
    let closed = cluster_graph(false);
    assert_eq!(build_plan("p", &closed, &at(&closed, 20), false).changes.len(), 1);
}

//! The desired graph is built once, before the read, with `${pipectl:account}` in its ARNs and
//! `${kind/name}` for the ids of other resources, and bound after the read: bound, it must be
//! exactly the graph built for that account from the start, with no placeholder left for
//! anything that exists.

use std::collections::BTreeMap;

use super::{bind, desired_graph, graph_in};
use crate::iam::Arns;
use crate::model::{LiveResource, LiveState, ResourceId, Tags, ACCOUNT_PLACEHOLDER};

/// What the shipped specs leave out: customer keys, a crawler, a cluster's schedule windows.
const MORE: &str = "version: 1\npipeline: p\nregion: eu-west-1\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets:\n    - {name: a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a, public: true}\n    - {name: b, cidr: 10.0.1.0/24, availability_zone: eu-west-1a}\n  nat: none\n  endpoints: [s3]\nbuckets: [{name: lake, encryption: sse-kms, kms_key: 1234abcd-12ab-34cd-56ef-1234567890ab}]\nstreams: [{name: s, encryption: kms, kms_key: alias/streams}]\ndeliveries: [{name: d, from: s, to: {bucket: lake, prefix: 'raw/!{timestamp:yyyy/MM/dd}/', error_prefix: 'errors/!{firehose:error-output-type}/'}}]\ncatalog:\n  crawlers: [{name: raw, delivery: d, cron: '0 2 * * *'}]\nalarms: {notify: [{protocol: email, endpoint: a@example.com}]}\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: b\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 2}\n    task_groups: [{name: batch, type: m5.xlarge, nodes: 0}]\n    schedules: [{name: night, group: batch, cron: '0 1 * * *', for: 2h, nodes: 8}]\n";

/// The specs the project ships, and one with what they leave out.
fn specs() -> Vec<(&'static str, crate::spec::Spec)> {
    let example = include_str!("../../examples/clickstream.yaml");
    let minimal = include_str!("../../templates/minimal.yaml");
    [("examples/clickstream.yaml", example), ("templates/minimal.yaml", minimal), ("more", MORE)]
        .into_iter()
        .map(|(name, text)| (name, crate::spec::load_bytes(name, text.as_bytes()).expect("a valid spec")))
        .collect()
}

/// Live state in `account` in which every resource of `graph` exists, with made-up AWS ids.
fn everything_exists(graph: &[crate::model::DesiredResource], account: &str) -> LiveState {
    let mut live = LiveState { account_id: account.to_string(), ..LiveState::default() };
    for (n, resource) in graph.iter().enumerate() {
        let detail = super::vpc::Live { cidr: String::new() };
        let physical = format!("id-{n}");
        live.resources
            .insert(resource.id.clone(), LiveResource::new(resource.id.clone(), physical, Tags::new(), detail));
    }
    live
}

#[test]
fn bound_after_the_read_the_graph_is_the_one_built_for_the_account() {
    let now = chrono::Utc::now();
    let mut waiting = 0;
    for (name, spec) in specs() {
        let unbound = desired_graph(&spec, &spec.region, now);
        waiting += unbound.iter().filter(|node| format!("{:?}", node.config).contains(ACCOUNT_PLACEHOLDER)).count();
        for existing in [false, true] {
            let direct = graph_in(&spec, &Arns::new("123456789012", &spec.region), now);
            let live = if existing {
                everything_exists(&direct, "123456789012")
            } else {
                LiveState { account_id: "123456789012".to_string(), ..LiveState::default() }
            };
            let (bound, expected) = (bind(&unbound, &live), bind(&direct, &live));
            assert_eq!(bound.len(), expected.len());
            for (bound, expected) in bound.iter().zip(&expected) {
                let (got, want) = (format!("{bound:?}"), format!("{expected:?}"));
                assert_eq!(got, want, "{name}: {} differs once bound", bound.id);
                assert!(!got.contains(ACCOUNT_PLACEHOLDER), "{name}: {} keeps `${{pipectl:account}}`", bound.id);
            }
            if existing {
                let ids: BTreeMap<ResourceId, String> = live.physical_ids();
                for node in &bound {
                    let text = format!("{:?}", node.config);
                    let left = ids.keys().find(|id| text.contains(&crate::model::placeholder(id)));
                    assert!(left.is_none(), "{name}: {} keeps a placeholder for {left:?}, which exists", node.id);
                }
            }
        }
    }
    assert!(waiting > 10, "the reference example's roles, queue, schedules, alarms and jobs wait for the account");
}

#[test]
fn a_node_several_kinds_derive_is_the_same_node_from_each() {
    let mut repeated = 0;
    for (name, spec) in specs() {
        let arns = Arns::new("123456789012", &spec.region);
        let graph = crate::model::GraphContext { spec: &spec, arns: &arns, now: chrono::Utc::now() };
        let mut seen: std::collections::HashMap<ResourceId, String> = std::collections::HashMap::new();
        for node in super::KINDS.iter().flat_map(|kind| kind.desired(&graph)) {
            let text = format!("{node:?}");
            if let Some(first) = seen.insert(node.id.clone(), text.clone()) {
                assert_eq!(first, text, "{name}: {} differs between the kinds that derive it", node.id);
                repeated += 1;
            }
        }
        assert_eq!(graph_in(&spec, &arns, chrono::Utc::now()).len(), seen.len(), "{name}: kept once each");
    }
    assert!(repeated > 0, "the cluster, its windows and its jobs all derive the dead-letter queue");
}

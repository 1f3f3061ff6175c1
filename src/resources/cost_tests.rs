//! What a plan costs, priced by the real kinds: each kind's lines for what the plan creates, and
//! nothing for what exists already. (The arithmetic's own unit tests are in `pricing`.)

use super::{estimate, graph_in};
use crate::iam::Arns;
use crate::model::{LiveState, Tags};
use crate::plan::build_plan;
use crate::pricing::PriceTable;
use crate::spec::Spec;

const TABLE: &str = "retrieved: 2026-11-30\nhours_per_month: 730\nregions:\n  us-east-1:\n    ec2:\n      m5.xlarge: {usd: 0.2, source: 'https://example.test/ec2', as_of: 2026-01}\n      r5.xlarge: {usd: 0.25, source: 'https://example.test/ec2', as_of: 2026-01}\n    emr:\n      m5.xlarge: {usd: 0.05, source: 'https://example.test/emr', as_of: 2026-01}\n    kinesis_shard_hour: {usd: 0.015, source: 'https://example.test/kds', as_of: undated}\n    nat_gateway_hour: {usd: 0.045, source: 'https://example.test/vpc', as_of: '2026'}\n    s3_gb_month:\n      STANDARD: {usd: 0.023, source: 'https://example.test/s3', as_of: 2026-03}\n";

const SPEC: &str = "version: 1\npipeline: p\nregion: us-east-1\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets:\n    - {name: pub, cidr: 10.0.0.0/24, availability_zone: us-east-1a, public: true}\n    - {name: priv, cidr: 10.0.1.0/24, availability_zone: us-east-1a}\n  nat: single\n  endpoints: [s3]\nbuckets:\n  - name: lake\n    lifecycle: [{id: raw, prefix: raw/, transitions: [{days: 30, storage_class: STANDARD_IA}]}]\nstreams:\n  - {name: events, shards: 2}\n  - {name: bursty, mode: on-demand}\ndeliveries:\n  - {name: d, from: events, to: {bucket: lake, prefix: raw/}}\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: priv\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 2}\n    task_groups: [{name: batch, type: r5.xlarge, nodes: 3}]\n    jobs:\n      - {name: nightly, cron: '0 2 * * *', group: batch, nodes: 7, timeout: 2h, steps: [{name: s, script: 's3://lake/job.py'}]}\n";

fn spec() -> Spec {
    crate::spec::load_bytes("cost.yaml", SPEC.as_bytes()).expect("a valid spec")
}

#[test]
fn a_plan_from_nothing_prices_every_kind_that_has_a_price() {
    let (table, spec) = (PriceTable::parse(TABLE).unwrap(), spec());
    let graph = graph_in(&spec, &Arns::new("123456789012", "us-east-1"), chrono::Utc::now());
    let plan = build_plan("p", &graph, &LiveState::default(), false);
    let estimate = estimate(&table, "us-east-1", &plan, &graph);
    // The lines follow the plan: kind by kind, by name within a kind.
    let fixed: Vec<(String, String, Option<f64>)> =
        estimate.fixed.iter().map(|line| (line.resource.clone(), line.item.clone(), line.hourly_usd)).collect();
    let line = |resource: &str, item: &str, hourly: Option<f64>| (resource.to_string(), item.to_string(), hourly);
    let rounded: Vec<(String, String, Option<f64>)> = fixed
        .iter()
        .map(|(resource, item, hourly)| line(resource, item, hourly.map(|usd| (usd * 1e6).round() / 1e6)))
        .collect();
    assert_eq!(
        rounded,
        [
            line("stream/events", "2 shards (provisioned)", Some(0.03)),
            line("cluster/spark", "master: 1 × m5.xlarge (EC2 + EMR)", Some(0.25)),
            line("cluster/spark", "core: 2 × m5.xlarge (EC2 + EMR)", Some(0.5)),
            // r5.xlarge has an EC2 price but no EMR charge in the table: the node has no price.
            line("cluster/spark", "task group 'batch': 3 × r5.xlarge (EC2 + EMR)", None),
            line("nat_gateway/pub", "NAT gateway (plus data processed)", Some(0.045)),
        ]
    );
    assert_eq!(estimate.unpriced, 1);
    assert!((estimate.hourly_usd - 0.825).abs() < 1e-9, "{}", estimate.hourly_usd);
    let rates: Vec<(String, Option<f64>)> =
        estimate.rates.iter().map(|line| (format!("{} per {}", line.item, line.unit), line.usd)).collect();
    assert_eq!(
        rates,
        [
            ("S3 STANDARD storage per GB-month".to_string(), Some(0.023)),
            ("S3 STANDARD_IA storage per GB-month".to_string(), None),
            ("on-demand stream (plus data in and out) per stream-hour".to_string(), None),
            ("Firehose ingestion per GB ingested".to_string(), None),
        ]
    );
    let nights: Vec<(String, String, f64)> =
        estimate.nights.iter().map(|line| (line.resource.clone(), line.item.clone(), line.node_hours)).collect();
    assert_eq!(
        nights,
        [("job/spark-nightly".to_string(), "one run: 4 extra × r5.xlarge for at most 2h".to_string(), 8.0)]
    );
}

#[test]
fn what_exists_already_costs_nothing_new_and_an_unknown_region_has_no_prices() {
    let (table, spec) = (PriceTable::parse(TABLE).unwrap(), spec());
    let graph = graph_in(&spec, &Arns::new("123456789012", "us-east-1"), chrono::Utc::now());
    // The stream exists: only what the plan creates is priced.
    let mut live = LiveState::default();
    let stream = graph.iter().find(|resource| resource.id.to_string() == "stream/events").unwrap();
    let detail = super::vpc::Live { cidr: String::new() };
    live.resources
        .insert(stream.id.clone(), crate::model::LiveResource::new(stream.id.clone(), "events", Tags::new(), detail));
    let plan = build_plan("p", &graph, &live, false);
    let priced = estimate(&table, "us-east-1", &plan, &graph);
    assert!(priced.fixed.iter().all(|line| line.resource != "stream/events"), "{:?}", priced.fixed);
    let elsewhere = estimate(&table, "eu-west-1", &build_plan("p", &graph, &LiveState::default(), false), &graph);
    assert!(elsewhere.fixed.iter().all(|line| line.hourly_usd.is_none() || line.quantity == 0));
    assert_eq!((elsewhere.hourly_usd, elsewhere.unpriced), (0.0, 5));
}

/// An interface endpoint is billed for every hour in each zone it sits in, a gateway endpoint
/// never: the Glue-catalog reference cluster's choice against a NAT gateway shows in the plan.
#[test]
fn an_interface_endpoint_costs_an_hour_per_zone_and_a_gateway_endpoint_nothing() {
    let table = format!("{TABLE}    vpc_interface_endpoint_zone_hour: {{usd: 0.01, source: 'https://example.test/privatelink', as_of: '2026'}}\n");
    let table = PriceTable::parse(&table).unwrap();
    let spec = SPEC
        .replace("  nat: single\n  endpoints: [s3]\n", "  endpoints: [s3, glue]\n")
        .replace("    - {name: priv, cidr: 10.0.1.0/24, availability_zone: us-east-1a}\n", "    - {name: priv, cidr: 10.0.1.0/24, availability_zone: us-east-1a}\n    - {name: priv-b, cidr: 10.0.2.0/24, availability_zone: us-east-1b}\n");
    let spec = crate::spec::load_bytes("cost.yaml", spec.as_bytes()).expect("a valid spec");
    let graph = graph_in(&spec, &Arns::new("123456789012", "us-east-1"), chrono::Utc::now());
    let estimate = estimate(&table, "us-east-1", &build_plan("p", &graph, &LiveState::default(), false), &graph);
    let endpoints: Vec<(&str, &str, i64, Option<f64>)> = estimate
        .fixed
        .iter()
        .filter(|line| line.resource.starts_with("vpc_endpoint/"))
        .map(|line| (line.resource.as_str(), line.item.as_str(), line.quantity, line.hourly_usd))
        .collect();
    assert_eq!(
        endpoints,
        [("vpc_endpoint/glue", "interface endpoint in 2 zones (plus data processed)", 2, Some(0.02))]
    );
}

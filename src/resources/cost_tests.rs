//! What a plan costs, priced by the real kinds: each kind's lines for what the plan creates, and
//! nothing for what exists already. (The arithmetic's own unit tests are in `pricing`.)

use super::{estimate, graph_in, registered};
use crate::iam::Arns;
use crate::model::{LiveResource, LiveState, Tags};
use crate::plan::{build_plan, FieldChange};
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
            // The table has no on-demand stream-hour: no price, and not in the total.
            line("stream/bursty", "on-demand stream", None),
            line("stream/events", "2 shards (provisioned)", Some(0.03)),
            line("cluster/spark", "master: 1 × m5.xlarge (EC2 + EMR)", Some(0.25)),
            line("cluster/spark", "core: 2 × m5.xlarge (EC2 + EMR)", Some(0.5)),
            // r5.xlarge has an EC2 price but no EMR charge in the table: the node has no price.
            line("cluster/spark", "task group 'batch': 3 × r5.xlarge (EC2 + EMR)", None),
            line("nat_gateway/pub", "NAT gateway (plus data processed)", Some(0.045)),
        ]
    );
    assert_eq!(estimate.unpriced, 2);
    assert!((estimate.hourly_usd - 0.825).abs() < 1e-9, "{}", estimate.hourly_usd);
    let rates: Vec<(String, Option<f64>)> =
        estimate.rates.iter().map(|line| (format!("{} per {}", line.item, line.unit), line.usd)).collect();
    assert_eq!(
        rates,
        [
            ("S3 STANDARD storage per GB-month".to_string(), Some(0.023)),
            ("S3 STANDARD_IA storage per GB-month".to_string(), None),
            ("on-demand data in per GB".to_string(), None),
            ("PUT payload units (25 KB each) per million units".to_string(), None),
            ("Firehose ingestion per GB ingested".to_string(), None),
            // The job's start and its guard (the scale-back) are schedules of their own.
            ("EventBridge Scheduler invocations per million".to_string(), None),
            ("EventBridge Scheduler invocations per million".to_string(), None),
            ("NAT data processed per GB".to_string(), None),
            ("Step Functions state transitions per 1,000".to_string(), None),
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
    assert_eq!((elsewhere.hourly_usd, elsewhere.priced, elsewhere.unpriced), (0.0, 0, 6));
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

/// The live state of `spec`'s graph with its streams as AWS would report them: `events` with
/// `events_shards` open shards, `bursty` provisioned with 2.
fn live_streams(graph: &[crate::model::DesiredResource], events_shards: i64) -> LiveState {
    let mut live = LiveState::default();
    for (name, shards) in [("events", events_shards), ("bursty", 2)] {
        let resource = graph.iter().find(|resource| resource.id.to_string() == format!("stream/{name}")).unwrap();
        let detail = super::stream::Live {
            arn: format!("arn:aws:kinesis:us-east-1:123456789012:stream/p-{name}"),
            on_demand: false,
            open_shards: shards,
            retention_hours: 24,
            kms_key: None,
        };
        let stream = LiveResource::new(resource.id.clone(), format!("p-{name}"), resource.tags.clone(), detail);
        live.resources.insert(resource.id.clone(), stream);
    }
    live.describe();
    live
}

/// A reshard from 4 to 6 shards adds two shard-hours (+$0.03/h at $0.015); a stream turned
/// on-demand trades its shards for the stream-hour: each change in place says what it does to
/// the fixed cost, in the plan's estimate.
#[test]
fn a_reshard_and_a_new_mode_say_what_they_change_the_cost_by() {
    let table = format!(
        "{TABLE}    kinesis_on_demand_stream_hour: {{usd: 0.04, source: 'https://example.test/kds', as_of: undated}}\n"
    );
    let table = PriceTable::parse(&table).unwrap();
    let spec = SPEC.replace("{name: events, shards: 2}", "{name: events, shards: 6}");
    let spec = crate::spec::load_bytes("cost.yaml", spec.as_bytes()).expect("a valid spec");
    let graph = graph_in(&spec, &Arns::new("123456789012", "us-east-1"), chrono::Utc::now());
    let plan = build_plan("p", &graph, &live_streams(&graph, 4), false);
    let estimate = estimate(&table, "us-east-1", &plan, &graph);
    let changes: Vec<(&str, String, Option<f64>, Option<f64>)> = estimate
        .changes
        .iter()
        .map(|line| {
            let round = |usd: Option<f64>| usd.map(|usd| (usd * 1e6).round() / 1e6);
            let text = format!("{} → {}", line.before.join(", "), line.after.join(", "));
            (line.resource.as_str(), text, round(line.hourly_usd), round(line.monthly_usd))
        })
        .collect();
    assert_eq!(
        changes,
        [
            (
                "stream/bursty",
                "2 shards (provisioned) ($0.0300 per hour) → on-demand stream ($0.0400 per hour)".to_string(),
                Some(0.01),
                Some(7.3)
            ),
            (
                "stream/events",
                "4 shards (provisioned) ($0.0600 per hour) → 6 shards (provisioned) ($0.0900 per hour)".to_string(),
                Some(0.03),
                Some(21.9)
            ),
        ]
    );
    // The streams exist: they are not priced again as created.
    assert!(estimate.fixed.iter().all(|line| !line.resource.starts_with("stream/")), "{:?}", estimate.fixed);
}

/// A core group grown from 2 to 4 nodes costs two more nodes; a spot task group grown has no
/// price (spot varies); a field that prices nothing (the release) changes no cost.
#[test]
fn a_resized_group_costs_its_new_nodes_and_spot_stays_unpriced() {
    let table = PriceTable::parse(TABLE).unwrap();
    let spec = SPEC
        .replace("core: {type: m5.xlarge, nodes: 2}", "core: {type: m5.xlarge, nodes: 4}")
        .replace("{name: batch, type: r5.xlarge, nodes: 3}", "{name: batch, type: m5.xlarge, nodes: 3, market: spot}");
    let spec = crate::spec::load_bytes("cost.yaml", spec.as_bytes()).expect("a valid spec");
    let graph = graph_in(&spec, &Arns::new("123456789012", "us-east-1"), chrono::Utc::now());
    let cluster = graph.iter().find(|resource| resource.id.to_string() == "cluster/spark").unwrap();
    let kind = registered(cluster.id.kind).unwrap();
    let prices = table.prices("us-east-1");
    let field = |path: &str, before: serde_json::Value, after: serde_json::Value| FieldChange {
        path: path.to_string(),
        before: Some(before),
        after: Some(after),
        forces_replacement: false,
    };
    let delta = |fields: &[FieldChange]| {
        let (before, after) = kind.cost_change(cluster, fields, &prices)?;
        crate::pricing::DeltaLine::between("cluster/spark", before, after, 730.0)
    };
    let grown = delta(&[field("core.nodes", 2.into(), 4.into())]).unwrap();
    assert_eq!(
        (grown.before.as_slice(), grown.after.as_slice()),
        (
            ["core: 2 × m5.xlarge (EC2 + EMR) ($0.5000 per hour)".to_string()].as_slice(),
            ["core: 4 × m5.xlarge (EC2 + EMR) ($1.00 per hour)".to_string()].as_slice()
        )
    );
    assert!((grown.hourly_usd.unwrap() - 0.5).abs() < 1e-9, "{grown:?}");
    let spot = delta(&[field("task.batch.nodes", 0.into(), 3.into())]).unwrap();
    assert_eq!(spot.before, Vec::<String>::new(), "a group of 0 nodes is no line");
    assert_eq!(spot.after, ["task group 'batch': 3 × m5.xlarge (EC2 + EMR, spot) (spot: not priced (varies))"]);
    assert_eq!(spot.hourly_usd, None);
    assert_eq!(delta(&[field("release", "emr-7.1.0".into(), "emr-7.2.0".into())]), None);
}

/// The reference example in Seoul, where the shipped table has no EC2 or EMR figure: the plan
/// reads the two figures of m5.xlarge from the Price List API (replayed here with the SDK's
/// mock client, in the shape GetProducts documents, as no emulator serves a price list) and
/// prices the master and core nodes; the spot task group stays unpriced.
#[tokio::test]
async fn a_plan_in_seoul_prices_the_nodes_from_the_price_list() {
    use super::test_support::mock_sdk_client;
    use crate::aws::PriceList;
    use crate::pricing::live::{priced, tests::entry};
    use aws_smithy_mocks::{mock, RuleMode};
    let text = std::fs::read_to_string("examples/clickstream.yaml").unwrap();
    let text = text.replace("us-east-1", "ap-northeast-2");
    let spec = crate::spec::load_bytes("clickstream.yaml", text.as_bytes()).expect("a valid spec");
    let graph = graph_in(&spec, &Arns::new("123456789012", "ap-northeast-2"), chrono::Utc::now());
    let plan = build_plan(&spec.pipeline, &graph, &LiveState::default(), false);
    let asked = |service: &'static str| {
        move |input: &aws_sdk_pricing::operation::get_products::GetProductsInput| {
            let filter =
                |field: &str| input.filters().iter().find(|f| f.field() == field).map(|f| f.value().to_string());
            input.service_code() == Some(service)
                && filter("regionCode").as_deref() == Some("ap-northeast-2")
                && filter("instanceType").as_deref() == Some("m5.xlarge")
        }
    };
    let answer = |usd: &'static str| {
        move || {
            aws_sdk_pricing::operation::get_products::GetProductsOutput::builder()
                .price_list(entry("SKU1", usd, "0.1"))
                .build()
        }
    };
    let ec2 = mock!(aws_sdk_pricing::Client::get_products)
        .match_requests(asked("AmazonEC2"))
        .then_output(answer("0.2360000000"));
    let emr = mock!(aws_sdk_pricing::Client::get_products)
        .match_requests(asked("ElasticMapReduce"))
        .then_output(answer("0.0590000000"));
    let client = PriceList::new(mock_sdk_client!(aws_sdk_pricing, "ap-south-1", RuleMode::MatchAny, [&ec2, &emr]));
    let region = "ap-northeast-2";
    let (offline, _) = priced(None, region, |table| estimate(table, region, &plan, &graph)).await;
    let (cost, warning) = priced(Some(&client), region, |table| estimate(table, region, &plan, &graph)).await;
    assert_eq!(warning, None);
    let node_lines = |estimate: &crate::pricing::Estimate| -> Vec<(String, Option<f64>)> {
        let lines = estimate.fixed.iter().filter(|line| line.resource == "cluster/spark");
        lines.map(|line| (line.item.clone(), line.hourly_usd.map(|usd| (usd * 1e4).round() / 1e4))).collect()
    };
    assert_eq!(
        node_lines(&cost),
        [
            ("master: 1 × m5.xlarge (EC2 + EMR)".to_string(), Some(0.295)),
            ("core: 4 × m5.xlarge (EC2 + EMR)".to_string(), Some(1.18)),
        ]
    );
    assert!(node_lines(&offline).iter().all(|(_, usd)| usd.is_none()), "the shipped table has no Seoul node price");
    assert_eq!(cost.table, "pricing/prices.yaml, read 2026-11-30, and the AWS Price List API (2 figures read now)");
    assert_eq!((ec2.num_calls(), emr.num_calls()), (1, 1), "one request per missing figure");
    // A lookup that fails leaves the offline figures, and says why.
    let denied = mock!(aws_sdk_pricing::Client::get_products).then_error(|| {
        aws_sdk_pricing::operation::get_products::GetProductsError::AccessDeniedException(
            aws_sdk_pricing::types::error::AccessDeniedException::builder().message("not allowed").build(),
        )
    });
    let client = PriceList::new(mock_sdk_client!(aws_sdk_pricing, "ap-south-1", RuleMode::MatchAny, [&denied]));
    let (cost, warning) = priced(Some(&client), region, |table| estimate(table, region, &plan, &graph)).await;
    assert!(node_lines(&cost).iter().all(|(_, usd)| usd.is_none()));
    assert!(warning.is_some_and(|warning| warning.contains("AccessDenied")), "the warning names the error");
}

//! What the pipeline costs, from an offline, dated price table (`pricing/prices.yaml`, embedded
//! at build time): the fixed hourly cost of EMR nodes, provisioned shards and NAT gateways and a
//! monthly estimate, and the usage-based rates (Firehose per GB, S3 per GB-month, on-demand
//! streams) listed as rates, never as guessed totals. A price the table lacks is "no price":
//! nothing here estimates, interpolates or borrows another region's figure.
//!
//! Pure data and arithmetic over the spec, so that `plan`, `scale` and their renderers share one
//! definition of a price.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::spec::{Cluster, Spec, StreamMode, TableFormat};

/// The table shipped with pipectl.
const EMBEDDED: &str = include_str!("../pricing/prices.yaml");

/// Where the table lives in the repository, for messages.
pub const TABLE_FILE: &str = "pricing/prices.yaml";

/// One price: the figure, where it was read and the date that source gives for it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    pub usd: f64,
    pub source: String,
    pub as_of: String,
}

/// The prices of one region; every entry is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionPrices {
    #[serde(default)]
    pub ec2: BTreeMap<String, Figure>,
    #[serde(default)]
    pub emr: BTreeMap<String, Figure>,
    #[serde(default)]
    pub kinesis_shard_hour: Option<Figure>,
    #[serde(default)]
    pub kinesis_on_demand_stream_hour: Option<Figure>,
    #[serde(default)]
    pub firehose_ingested_gb: Option<Figure>,
    #[serde(default)]
    pub firehose_format_conversion_gb: Option<Figure>,
    #[serde(default)]
    pub s3_gb_month: BTreeMap<String, Figure>,
    #[serde(default)]
    pub nat_gateway_hour: Option<Figure>,
}

/// The price table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    /// When the figures were read.
    pub retrieved: String,
    pub hours_per_month: f64,
    #[serde(default)]
    pub regions: BTreeMap<String, RegionPrices>,
}

/// The hourly price of one EMR node: EC2 plus the EMR charge, both needed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodePrice {
    pub ec2: Figure,
    pub emr: Figure,
}

impl NodePrice {
    pub fn hourly(&self) -> f64 {
        self.ec2.usd + self.emr.usd
    }
}

impl PriceTable {
    /// Parses a table (the embedded one, or a test's).
    pub fn parse(text: &str) -> Result<PriceTable, String> {
        serde_saphyr::from_str(text).map_err(|error| format!("{TABLE_FILE}: {error}"))
    }

    /// The table built into this binary. Its text is checked by a unit test, so this fails only
    /// for a table edited without running the tests; a broken table then prices nothing.
    pub fn embedded() -> PriceTable {
        PriceTable::parse(EMBEDDED).unwrap_or_else(|_| PriceTable {
            retrieved: "unreadable table".to_string(),
            hours_per_month: 730.0,
            regions: BTreeMap::new(),
        })
    }

    fn region(&self, region: &str) -> Option<&RegionPrices> {
        self.regions.get(region)
    }

    /// EC2 + EMR per node-hour of `instance_type` in `region`, when the table has both.
    pub fn node(&self, region: &str, instance_type: &str) -> Option<NodePrice> {
        let prices = self.region(region)?;
        Some(NodePrice { ec2: prices.ec2.get(instance_type)?.clone(), emr: prices.emr.get(instance_type)?.clone() })
    }
}

/// What a cost line is about, so the caller can name it as its plan does and keep only what
/// the plan creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Cluster(String),
    Stream(String),
    /// A NAT gateway, by the public subnet it sits in.
    NatGateway(String),
    Delivery(String),
    Bucket(String),
    /// A cluster's job, by cluster and job name.
    Job(String, String),
}

/// What one run of a job costs at most: the nodes it adds above the group's baseline for its
/// whole timeout (a run that finishes sooner gives them back sooner).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NightLine {
    pub resource: String,
    pub item: String,
    /// Extra nodes × the timeout in hours.
    pub node_hours: f64,
    pub usd: Option<f64>,
    pub figures: Vec<Figure>,
}

/// A fixed hourly cost: `quantity` units at `unit_usd` each, or no price.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FixedLine {
    /// The resource as the plan names it, e.g. `cluster/spark`.
    pub resource: String,
    /// What is counted, e.g. `core: 2 × m5.xlarge (EC2 + EMR)`.
    pub item: String,
    pub quantity: i64,
    /// Per unit and hour; `None` is "no price".
    pub unit_usd: Option<f64>,
    /// `quantity × unit_usd`; `None` is "no price".
    pub hourly_usd: Option<f64>,
    /// The figures used, with their sources and dates.
    pub figures: Vec<Figure>,
}

/// A usage-based price, shown as a rate: it depends on volumes the spec does not know.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateLine {
    pub resource: String,
    pub item: String,
    /// e.g. `GB ingested`, `GB-month`, `stream-hour`.
    pub unit: String,
    /// `None` is "no price".
    pub usd: Option<f64>,
    pub figure: Option<Figure>,
}

/// The cost of a set of resources.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub region: String,
    pub table: &'static str,
    pub retrieved: String,
    pub hours_per_month: f64,
    pub fixed: Vec<FixedLine>,
    /// The sum of the fixed lines that have a price.
    pub hourly_usd: f64,
    /// `hourly_usd × hours_per_month`.
    pub monthly_usd: f64,
    /// How many fixed lines have no price (and are not in the totals).
    pub unpriced: usize,
    pub rates: Vec<RateLine>,
    /// One run of each job the plan creates.
    pub nights: Vec<NightLine>,
}

impl Estimate {
    pub fn is_empty(&self) -> bool {
        self.fixed.is_empty() && self.rates.is_empty() && self.nights.is_empty()
    }
}

/// One group's nodes as a fixed line.
fn node_line(table: &PriceTable, region: &str, resource: &str, group: &str, count: i64, kind: &str) -> FixedLine {
    let price = table.node(region, kind);
    let unit = price.as_ref().map(NodePrice::hourly);
    FixedLine {
        resource: resource.to_string(),
        item: format!("{group}: {count} × {kind} (EC2 + EMR)"),
        quantity: count,
        unit_usd: unit,
        // No nodes cost nothing, whatever their type's price.
        hourly_usd: if count == 0 { Some(0.0) } else { unit.map(|unit| unit * count as f64) },
        figures: price.map(|price| vec![price.ec2, price.emr]).unwrap_or_default(),
    }
}

/// The nodes of a cluster at its baseline: master, core and each task group.
pub fn cluster_lines(table: &PriceTable, region: &str, resource: &str, cluster: &Cluster) -> Vec<FixedLine> {
    let mut lines = vec![
        node_line(table, region, resource, "master", cluster.master.count, &cluster.master.instance_type),
        node_line(table, region, resource, "core", cluster.core.nodes, &cluster.core.instance_type),
    ];
    for group in &cluster.task_groups {
        let label = format!("task group '{}'", group.name);
        lines.push(node_line(table, region, resource, &label, group.nodes, &group.instance_type));
    }
    lines
}

fn fixed(resource: &str, item: String, quantity: i64, figure: Option<&Figure>) -> FixedLine {
    FixedLine {
        resource: resource.to_string(),
        item,
        quantity,
        unit_usd: figure.map(|figure| figure.usd),
        hourly_usd: figure.map(|figure| figure.usd * quantity as f64),
        figures: figure.cloned().into_iter().collect(),
    }
}

fn rate(resource: &str, item: &str, unit: &str, figure: Option<&Figure>) -> RateLine {
    RateLine {
        resource: resource.to_string(),
        item: item.to_string(),
        unit: unit.to_string(),
        usd: figure.map(|figure| figure.usd),
        figure: figure.cloned(),
    }
}

/// The cost of the resources of `spec` that `name` names (it returns the plan's name of a
/// subject, or `None` to leave it out: `plan` prices what it creates), in `region`.
pub fn estimate(table: &PriceTable, spec: &Spec, region: &str, name: impl Fn(&Subject) -> Option<String>) -> Estimate {
    let empty = RegionPrices::default();
    let prices = table.region(region).unwrap_or(&empty);
    let mut fixed_lines = Vec::new();
    let mut rates = Vec::new();
    for cluster in &spec.clusters {
        if let Some(resource) = name(&Subject::Cluster(cluster.name.clone())) {
            fixed_lines.extend(cluster_lines(table, region, &resource, cluster));
        }
    }
    let mut nights = Vec::new();
    for cluster in &spec.clusters {
        for job in &cluster.jobs {
            let Some(resource) = name(&Subject::Job(cluster.name.clone(), job.name.clone())) else { continue };
            let group = crate::spec::Group::parse(&job.group);
            let (Some(kind), Some(baseline), Some(node_hours)) =
                (group.instance_type(cluster), group.baseline(cluster), job.extra_node_hours(cluster))
            else {
                continue;
            };
            let price = table.node(region, kind);
            nights.push(NightLine {
                resource,
                item: format!("one run: {} extra × {kind} for at most {}", (job.nodes - baseline).max(0), job.timeout),
                node_hours,
                usd: price.as_ref().map(|price| price.hourly() * node_hours),
                figures: price.map(|price| vec![price.ec2, price.emr]).unwrap_or_default(),
            });
        }
    }
    for stream in &spec.streams {
        let Some(resource) = name(&Subject::Stream(stream.name.clone())) else { continue };
        match stream.mode {
            StreamMode::Provisioned => {
                let shards = stream.shards.unwrap_or(1);
                let item = format!("{shards} shard{} (provisioned)", if shards == 1 { "" } else { "s" });
                fixed_lines.push(fixed(&resource, item, shards, prices.kinesis_shard_hour.as_ref()));
            }
            StreamMode::OnDemand => rates.push(rate(
                &resource,
                "on-demand stream (plus data in and out)",
                "stream-hour",
                prices.kinesis_on_demand_stream_hour.as_ref(),
            )),
        }
    }
    if let Some(network) = &spec.network {
        for subnet in network.nat_subnets() {
            if let Some(resource) = name(&Subject::NatGateway(subnet.name.clone())) {
                let item = "NAT gateway (plus data processed)".to_string();
                fixed_lines.push(fixed(&resource, item, 1, prices.nat_gateway_hour.as_ref()));
            }
        }
    }
    for delivery in &spec.deliveries {
        let Some(resource) = name(&Subject::Delivery(delivery.name.clone())) else { continue };
        rates.push(rate(&resource, "Firehose ingestion", "GB ingested", prices.firehose_ingested_gb.as_ref()));
        if delivery.format == TableFormat::Parquet {
            let conversion = prices.firehose_format_conversion_gb.as_ref();
            rates.push(rate(&resource, "Firehose conversion to Parquet", "GB converted", conversion));
        }
    }
    for bucket in &spec.buckets {
        let Some(resource) = name(&Subject::Bucket(bucket.name.clone())) else { continue };
        let mut classes = vec!["STANDARD".to_string()];
        for transition in bucket.lifecycle.iter().flat_map(|rule| &rule.transitions) {
            if !classes.contains(&transition.storage_class) {
                classes.push(transition.storage_class.clone());
            }
        }
        for class in classes {
            let figure = prices.s3_gb_month.get(&class);
            rates.push(rate(&resource, &format!("S3 {class} storage"), "GB-month", figure));
        }
    }
    let hourly: f64 = fixed_lines.iter().filter_map(|line| line.hourly_usd).sum();
    Estimate {
        region: region.to_string(),
        table: TABLE_FILE,
        retrieved: table.retrieved.clone(),
        hours_per_month: table.hours_per_month,
        unpriced: fixed_lines.iter().filter(|line| line.hourly_usd.is_none()).count(),
        hourly_usd: hourly,
        monthly_usd: hourly * table.hours_per_month,
        fixed: fixed_lines,
        rates,
        nights,
    }
}

/// `$0.0300` for small amounts, `$1,234.56` style for large ones (cents).
pub fn usd(amount: f64) -> String {
    if amount.abs() < 1.0 {
        format!("${amount:.4}")
    } else {
        format!("${amount:.2}")
    }
}

/// A price or "no price".
pub fn usd_or_none(amount: Option<f64>) -> String {
    amount.map_or_else(|| "no price".to_string(), usd)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "retrieved: 2026-11-30\nhours_per_month: 730\nregions:\n  us-east-1:\n    ec2:\n      m5.xlarge: {usd: 0.2, source: 'https://example.test/ec2', as_of: 2026-01}\n      r5.xlarge: {usd: 0.25, source: 'https://example.test/ec2', as_of: 2026-01}\n    emr:\n      m5.xlarge: {usd: 0.05, source: 'https://example.test/emr', as_of: 2026-01}\n    kinesis_shard_hour: {usd: 0.015, source: 'https://example.test/kds', as_of: undated}\n    nat_gateway_hour: {usd: 0.045, source: 'https://example.test/vpc', as_of: '2026'}\n    s3_gb_month:\n      STANDARD: {usd: 0.023, source: 'https://example.test/s3', as_of: 2026-03}\n";

    const SPEC: &str = "version: 1\npipeline: p\nregion: us-east-1\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets:\n    - {name: pub, cidr: 10.0.0.0/24, availability_zone: us-east-1a, public: true}\n    - {name: priv, cidr: 10.0.1.0/24, availability_zone: us-east-1a}\n  nat: single\nbuckets:\n  - name: lake\n    lifecycle: [{id: raw, prefix: raw/, transitions: [{days: 30, storage_class: STANDARD_IA}]}]\nstreams:\n  - {name: events, shards: 2}\n  - {name: bursty, mode: on-demand}\ndeliveries:\n  - {name: d, from: events, to: {bucket: lake, prefix: raw/}}\nclusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: priv\n    master: {type: m5.xlarge}\n    core: {type: m5.xlarge, nodes: 2}\n    task_groups: [{name: batch, type: r5.xlarge, nodes: 3}]\n";

    fn all(subject: &Subject) -> Option<String> {
        Some(format!("{subject:?}"))
    }

    #[test]
    fn the_embedded_table_parses_and_every_figure_is_sourced_and_dated() {
        let table = PriceTable::parse(EMBEDDED).unwrap();
        assert_eq!(table.hours_per_month, 730.0);
        for region in ["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-2"] {
            assert!(table.regions.contains_key(region), "{region} is listed (even when empty)");
        }
        let mut figures = 0;
        for prices in table.regions.values() {
            let singles = [
                &prices.kinesis_shard_hour,
                &prices.kinesis_on_demand_stream_hour,
                &prices.firehose_ingested_gb,
                &prices.firehose_format_conversion_gb,
                &prices.nat_gateway_hour,
            ];
            let all = prices
                .ec2
                .values()
                .chain(prices.emr.values())
                .chain(prices.s3_gb_month.values())
                .chain(singles.into_iter().flatten());
            for figure in all {
                figures += 1;
                assert!(figure.source.starts_with("https://"), "{figure:?}");
                assert!(!figure.as_of.is_empty() && figure.usd > 0.0, "{figure:?}");
            }
        }
        assert!(figures > 0);
    }

    #[test]
    fn fixed_costs_add_up_and_a_missing_price_is_no_price_not_a_guess() {
        let table = PriceTable::parse(TABLE).unwrap();
        let spec: Spec = serde_saphyr::from_str(SPEC).unwrap();
        let estimate = estimate(&table, &spec, "us-east-1", all);
        let hourly: Vec<(String, Option<f64>)> =
            estimate.fixed.iter().map(|line| (line.item.clone(), line.hourly_usd)).collect();
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        assert_eq!(hourly.len(), 5, "{hourly:?}");
        assert!(close(hourly[0].1, 0.25), "master 1 × (0.2 + 0.05): {hourly:?}");
        assert!(close(hourly[1].1, 0.5), "core 2 × 0.25: {hourly:?}");
        // r5.xlarge has an EC2 price but no EMR charge in the table: the node has no price.
        assert_eq!(hourly[2], ("task group 'batch': 3 × r5.xlarge (EC2 + EMR)".to_string(), None));
        assert!(close(hourly[3].1, 0.03), "2 shards × 0.015: {hourly:?}");
        assert!(close(hourly[4].1, 0.045), "one NAT gateway: {hourly:?}");
        let idle = spec.clusters[0].task_groups[0].clone();
        let idle = crate::spec::TaskGroup { nodes: 0, instance_type: "x9.huge".into(), ..idle };
        let idle_cluster = Cluster { task_groups: vec![idle], ..spec.clusters[0].clone() };
        let lines = cluster_lines(&table, "us-east-1", "cluster/spark", &idle_cluster);
        assert_eq!(lines[2].hourly_usd, Some(0.0), "0 nodes of an unpriced type cost nothing: {lines:?}");
        assert_eq!(estimate.unpriced, 1);
        assert!((estimate.hourly_usd - 0.825).abs() < 1e-9, "{}", estimate.hourly_usd);
        assert!((estimate.monthly_usd - 0.825 * 730.0).abs() < 1e-6);
        // Usage-based prices are rates; classes the table lacks say so.
        let rates: Vec<(String, Option<f64>)> =
            estimate.rates.iter().map(|line| (format!("{} per {}", line.item, line.unit), line.usd)).collect();
        assert_eq!(
            rates,
            vec![
                ("on-demand stream (plus data in and out) per stream-hour".to_string(), None),
                ("Firehose ingestion per GB ingested".to_string(), None),
                ("S3 STANDARD storage per GB-month".to_string(), Some(0.023)),
                ("S3 STANDARD_IA storage per GB-month".to_string(), None),
            ]
        );
    }

    #[test]
    fn an_unknown_region_prices_nothing_and_only_named_subjects_count() {
        let table = PriceTable::parse(TABLE).unwrap();
        let spec: Spec = serde_saphyr::from_str(SPEC).unwrap();
        let elsewhere = estimate(&table, &spec, "eu-west-1", all);
        assert!(elsewhere.fixed.iter().all(|line| line.hourly_usd.is_none() && line.figures.is_empty()));
        assert_eq!((elsewhere.hourly_usd, elsewhere.unpriced), (0.0, 5));
        let streams_only = estimate(&table, &spec, "us-east-1", |s| {
            matches!(s, Subject::Stream(n) if n == "events").then(|| "s".into())
        });
        assert_eq!(streams_only.fixed.len(), 1);
        assert!(streams_only.rates.is_empty());
        assert!(estimate(&table, &spec, "us-east-1", |_| None).is_empty());
    }

    #[test]
    fn node_prices_need_both_ec2_and_emr() {
        let table = PriceTable::parse(TABLE).unwrap();
        assert!((table.node("us-east-1", "m5.xlarge").unwrap().hourly() - 0.25).abs() < 1e-9);
        assert_eq!(table.node("us-east-1", "r5.xlarge"), None);
        assert_eq!(table.node("us-east-1", "m6g.xlarge"), None);
        assert_eq!(table.node("mars-1", "m5.xlarge"), None);
        assert_eq!(usd_or_none(None), "no price");
        assert_eq!(usd(0.03), "$0.0300");
        assert_eq!(usd(602.25), "$602.25");
    }
}

//! What the pipeline costs, from an offline, dated price table (`pricing/prices.yaml`, embedded
//! at build time): the table, the lines a cost is told in — fixed hourly costs with a monthly
//! estimate, usage-based rates listed as rates (never guessed totals), and what one run of a job
//! costs at most — and their sum. A price the table lacks is "no price": nothing here estimates,
//! interpolates or borrows another region's figure.
//!
//! Which lines a resource costs is its kind's to say (`ResourceKind::cost`), asking the table by
//! the keys of its own service (`kinesis_shard_hour`, `ec2.<type>`, …); this module only holds
//! the table and does the arithmetic, so `plan`, `scale` and their renderers share one definition
//! of a price.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub mod live;

/// The table shipped with pipectl.
const EMBEDDED: &str = include_str!("../../pricing/prices.yaml");

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

/// One entry of a region: a single figure (`kinesis_shard_hour`), or one per type
/// (`ec2.<instance type>`, `s3_gb_month.<storage class>`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Entry {
    One(Figure),
    ByType(BTreeMap<String, Figure>),
}

/// The price table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceTable {
    /// When the figures were read.
    pub retrieved: String,
    pub hours_per_month: f64,
    /// Region → key → entry; every key is optional.
    #[serde(default)]
    pub regions: BTreeMap<String, BTreeMap<String, Entry>>,
    /// The figures asked for by type and not found, as (region, key, type): what `live` may
    /// read.
    #[serde(skip)]
    misses: RefCell<BTreeSet<(String, String, String)>>,
    /// How many figures `live` added from the AWS Price List API.
    #[serde(skip)]
    pub live_figures: usize,
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
            misses: RefCell::default(),
            live_figures: 0,
        })
    }

    /// The prices of `region`.
    pub fn prices<'a>(&'a self, region: &'a str) -> Prices<'a> {
        Prices { table: self, region }
    }

    /// EC2 + EMR per node-hour of `instance_type` in `region`, when the table has both.
    pub fn node(&self, region: &str, instance_type: &str) -> Option<NodePrice> {
        self.prices(region).node(instance_type)
    }

    /// The figures of `region` asked for by type and not found, as (key, type).
    pub fn misses(&self, region: &str) -> Vec<(String, String)> {
        let misses = self.misses.borrow();
        misses.iter().filter(|(of, _, _)| of == region).map(|(_, key, kind)| (key.clone(), kind.clone())).collect()
    }

    /// Adds a figure of one type (one `live` read), which later lookups then find.
    pub fn insert(&mut self, region: &str, key: &str, kind: &str, figure: Figure) {
        let entries = self.regions.entry(region.to_string()).or_default();
        if let Entry::ByType(figures) = entries.entry(key.to_string()).or_insert_with(|| Entry::ByType(BTreeMap::new()))
        {
            figures.insert(kind.to_string(), figure);
            self.misses.get_mut().remove(&(region.to_string(), key.to_string(), kind.to_string()));
            self.live_figures += 1;
        }
    }

    /// Every figure of the table, with its region and key (`ec2.m5.xlarge`).
    pub fn figures(&self) -> impl Iterator<Item = (&str, String, &Figure)> {
        self.regions.iter().flat_map(|(region, entries)| {
            entries.iter().flat_map(move |(key, entry)| -> Vec<(&str, String, &Figure)> {
                match entry {
                    Entry::One(figure) => vec![(region.as_str(), key.clone(), figure)],
                    Entry::ByType(figures) => figures
                        .iter()
                        .map(|(kind, figure)| (region.as_str(), format!("{key}.{kind}"), figure))
                        .collect(),
                }
            })
        })
    }
}

/// The prices of one region, asked by key.
#[derive(Clone, Copy)]
pub struct Prices<'a> {
    table: &'a PriceTable,
    pub region: &'a str,
}

impl Prices<'_> {
    fn entry(&self, key: &str) -> Option<&Entry> {
        self.table.regions.get(self.region)?.get(key)
    }

    /// A single figure (`kinesis_shard_hour`).
    pub fn figure(&self, key: &str) -> Option<&Figure> {
        match self.entry(key)? {
            Entry::One(figure) => Some(figure),
            Entry::ByType(_) => None,
        }
    }

    /// The figure of one type (`ec2`, `m5.xlarge`); one not found is noted as a miss.
    pub fn of_type(&self, key: &str, kind: &str) -> Option<&Figure> {
        let figure = match self.entry(key) {
            Some(Entry::ByType(figures)) => figures.get(kind),
            _ => None,
        };
        if figure.is_none() {
            let miss = (self.region.to_string(), key.to_string(), kind.to_string());
            self.table.misses.borrow_mut().insert(miss);
        }
        figure
    }

    /// EC2 + EMR per node-hour of `instance_type`, when the table has both (both are looked
    /// up, so that both misses are noted).
    pub fn node(&self, instance_type: &str) -> Option<NodePrice> {
        let (ec2, emr) = (self.of_type("ec2", instance_type), self.of_type("emr", instance_type));
        Some(NodePrice { ec2: ec2?.clone(), emr: emr?.clone() })
    }
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
    /// Spot nodes: never priced at the on-demand figure, as their price varies.
    pub spot: bool,
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
    /// Spot nodes: never priced at the on-demand figure, as their price varies.
    pub spot: bool,
    /// The figures used, with their sources and dates.
    pub figures: Vec<Figure>,
}

impl FixedLine {
    /// `cluster/spark core: 2 × m5.xlarge (EC2 + EMR)`: the line as a total's exclusions name it.
    pub fn label(&self) -> String {
        format!("{} {}", self.resource, self.item)
    }

    /// What it costs per hour, or why it has no price.
    pub fn price(&self) -> String {
        match (self.hourly_usd, self.spot) {
            (Some(hourly), _) => format!("{} per hour", usd(hourly)),
            (None, true) => SPOT.to_string(),
            (None, false) => "no price".to_string(),
        }
    }
}

/// What a spot line shows instead of a price.
pub const SPOT: &str = "spot: not priced (varies)";

/// What a change in place does to a resource's fixed cost: the lines it replaces, the lines that
/// replace them, and the difference per hour (`None` when either side has a line with no price).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeltaLine {
    pub resource: String,
    pub before: Vec<String>,
    pub after: Vec<String>,
    /// After minus before, per hour; `None` is "no price".
    pub hourly_usd: Option<f64>,
    /// `hourly_usd × hours_per_month`.
    pub monthly_usd: Option<f64>,
}

impl DeltaLine {
    /// The difference between `before` and `after` (a kind's lines before and after a change),
    /// over the fixed lines that differ; `None` when none differ (the change costs nothing new).
    pub fn between(
        resource: &str,
        before: Vec<CostLine>,
        after: Vec<CostLine>,
        hours_per_month: f64,
    ) -> Option<DeltaLine> {
        let fixed = |lines: Vec<CostLine>| -> Vec<FixedLine> {
            lines
                .into_iter()
                .filter_map(|line| match line {
                    CostLine::Fixed(line) => Some(line),
                    _ => None,
                })
                .collect()
        };
        let (before, after) = (fixed(before), fixed(after));
        let removed: Vec<&FixedLine> = before.iter().filter(|line| !after.contains(line)).collect();
        let added: Vec<&FixedLine> = after.iter().filter(|line| !before.contains(line)).collect();
        if removed.is_empty() && added.is_empty() {
            return None;
        }
        let sum = |lines: &[&FixedLine]| lines.iter().map(|line| line.hourly_usd).sum::<Option<f64>>();
        let hourly = sum(&added).zip(sum(&removed)).map(|(added, removed)| added - removed);
        let items =
            |lines: &[&FixedLine]| lines.iter().map(|line| format!("{} ({})", line.item, line.price())).collect();
        Some(DeltaLine {
            resource: resource.to_string(),
            before: items(&removed),
            after: items(&added),
            hourly_usd: hourly,
            monthly_usd: hourly.map(|hourly| hourly * hours_per_month),
        })
    }
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

/// One line of a cost, as a kind tells it.
#[derive(Debug, Clone, PartialEq)]
pub enum CostLine {
    Fixed(FixedLine),
    Rate(RateLine),
    Night(NightLine),
}

/// The cost of a set of resources.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    pub region: String,
    /// Where the figures come from: the table, and the Price List API when `live` read any.
    pub table: String,
    pub retrieved: String,
    pub hours_per_month: f64,
    pub fixed: Vec<FixedLine>,
    /// The sum of the fixed lines that have a price.
    pub hourly_usd: f64,
    /// `hourly_usd × hours_per_month`.
    pub monthly_usd: f64,
    /// How many fixed lines have a price (and are in the totals).
    pub priced: usize,
    /// How many fixed lines have no price (and are not in the totals).
    pub unpriced: usize,
    /// Those lines, by `FixedLine::label`, for the totals to name.
    pub unpriced_items: Vec<String>,
    pub rates: Vec<RateLine>,
    /// One run of each job the plan creates.
    pub nights: Vec<NightLine>,
    /// What the plan's changes in place do to the fixed cost of what exists.
    pub changes: Vec<DeltaLine>,
}

impl Estimate {
    /// The sum of `lines` in `region`, with `changes` to what exists.
    pub fn of(
        table: &PriceTable,
        region: &str,
        lines: impl IntoIterator<Item = CostLine>,
        changes: Vec<DeltaLine>,
    ) -> Estimate {
        let (mut fixed, mut rates, mut nights) = (Vec::new(), Vec::new(), Vec::new());
        for line in lines {
            match line {
                CostLine::Fixed(line) => fixed.push(line),
                CostLine::Rate(line) => rates.push(line),
                CostLine::Night(line) => nights.push(line),
            }
        }
        // From 0.0: an empty `sum` of floats is -0.0.
        let hourly = fixed.iter().filter_map(|line: &FixedLine| line.hourly_usd).fold(0.0, |sum, usd| sum + usd);
        Estimate {
            region: region.to_string(),
            table: match table.live_figures {
                0 => format!("{TABLE_FILE}, read {}", table.retrieved),
                n => format!(
                    "{TABLE_FILE}, read {}, and the AWS Price List API ({n} figure{} read now)",
                    table.retrieved,
                    if n == 1 { "" } else { "s" }
                ),
            },
            retrieved: table.retrieved.clone(),
            hours_per_month: table.hours_per_month,
            priced: fixed.iter().filter(|line| line.hourly_usd.is_some()).count(),
            unpriced: fixed.iter().filter(|line| line.hourly_usd.is_none()).count(),
            unpriced_items: fixed.iter().filter(|line| line.hourly_usd.is_none()).map(FixedLine::label).collect(),
            hourly_usd: hourly,
            monthly_usd: hourly * table.hours_per_month,
            fixed,
            rates,
            nights,
            changes,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fixed.is_empty() && self.rates.is_empty() && self.nights.is_empty() && self.changes.is_empty()
    }
}

/// `quantity` units of something priced per hour by `figure`.
pub fn fixed(resource: &str, item: String, quantity: i64, figure: Option<&Figure>) -> CostLine {
    CostLine::Fixed(FixedLine {
        resource: resource.to_string(),
        item,
        quantity,
        unit_usd: figure.map(|figure| figure.usd),
        hourly_usd: figure.map(|figure| figure.usd * quantity as f64),
        spot: false,
        figures: figure.cloned().into_iter().collect(),
    })
}

/// A usage-based rate: so much per `unit`.
pub fn rate(resource: &str, item: &str, unit: &str, figure: Option<&Figure>) -> CostLine {
    CostLine::Rate(RateLine {
        resource: resource.to_string(),
        item: item.to_string(),
        unit: unit.to_string(),
        usd: figure.map(|figure| figure.usd),
        figure: figure.cloned(),
    })
}

/// One EMR group's `count` nodes of `instance_type` as a fixed line (`group` says which): none
/// for no nodes (a group of 0 costs nothing, whatever its type's price), and no price for spot
/// nodes, whose price varies.
pub fn nodes(
    prices: &Prices,
    resource: &str,
    group: &str,
    count: i64,
    instance_type: &str,
    spot: bool,
) -> Vec<CostLine> {
    if count == 0 {
        return Vec::new();
    }
    let price = if spot { None } else { prices.node(instance_type) };
    let unit = price.as_ref().map(NodePrice::hourly);
    let market = if spot { ", spot" } else { "" };
    vec![CostLine::Fixed(FixedLine {
        resource: resource.to_string(),
        item: format!("{group}: {count} × {instance_type} (EC2 + EMR{market})"),
        quantity: count,
        unit_usd: unit,
        hourly_usd: unit.map(|unit| unit * count as f64),
        spot,
        figures: price.map(|price| vec![price.ec2, price.emr]).unwrap_or_default(),
    })]
}

/// `$0.0300` for small amounts, `$1,234.56` style for large ones (cents).
pub fn usd(amount: f64) -> String {
    if amount.abs() < 1.0 {
        format!("${amount:.4}")
    } else {
        format!("${amount:.2}")
    }
}

/// `+$0.0300` or `-$0.0300`: a change in cost.
pub fn signed_usd(amount: f64) -> String {
    let sign = if amount < 0.0 { "-" } else { "+" };
    format!("{sign}{}", usd(amount.abs()))
}

/// A price or "no price".
pub fn usd_or_none(amount: Option<f64>) -> String {
    amount.map_or_else(|| "no price".to_string(), usd)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "retrieved: 2026-11-30\nhours_per_month: 730\nregions:\n  us-east-1:\n    ec2:\n      m5.xlarge: {usd: 0.2, source: 'https://example.test/ec2', as_of: 2026-01}\n      r5.xlarge: {usd: 0.25, source: 'https://example.test/ec2', as_of: 2026-01}\n    emr:\n      m5.xlarge: {usd: 0.05, source: 'https://example.test/emr', as_of: 2026-01}\n    kinesis_shard_hour: {usd: 0.015, source: 'https://example.test/kds', as_of: undated}\n";

    #[test]
    fn the_embedded_table_parses_and_every_figure_is_sourced_and_dated() {
        let table = PriceTable::parse(EMBEDDED).unwrap();
        assert_eq!(table.hours_per_month, 730.0);
        for region in ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-northeast-1", "ap-northeast-2"] {
            assert!(table.regions.contains_key(region), "{region} is listed (even when empty)");
        }
        let mut figures = 0;
        for (region, key, figure) in table.figures() {
            figures += 1;
            assert!(figure.source.starts_with("https://"), "{region} {key}: {figure:?}");
            assert!(!figure.as_of.is_empty() && figure.usd > 0.0, "{region} {key}: {figure:?}");
        }
        assert!(figures > 0);
    }

    #[test]
    fn lines_add_up_and_a_missing_price_is_no_price_not_a_guess() {
        let table = PriceTable::parse(TABLE).unwrap();
        let prices = table.prices("us-east-1");
        let mut lines = nodes(&prices, "cluster/spark", "core", 2, "m5.xlarge", false);
        // r5.xlarge has an EC2 price but no EMR charge in the table: the node has no price.
        lines.extend(nodes(&prices, "cluster/spark", "task group 'batch'", 3, "r5.xlarge", false));
        lines.push(fixed("stream/events", "2 shards (provisioned)".into(), 2, prices.figure("kinesis_shard_hour")));
        lines.push(rate("bucket/lake", "S3 STANDARD storage", "GB-month", prices.of_type("s3_gb_month", "STANDARD")));
        let estimate = Estimate::of(&table, "us-east-1", lines, Vec::new());
        let hourly: Vec<Option<f64>> = estimate.fixed.iter().map(|line| line.hourly_usd).collect();
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-9);
        assert!(close(hourly[0], 0.5), "core 2 × (0.2 + 0.05): {hourly:?}");
        assert_eq!(hourly[1], None);
        assert!(close(hourly[2], 0.03), "2 shards × 0.015: {hourly:?}");
        assert_eq!((estimate.priced, estimate.unpriced), (2, 1));
        assert_eq!(estimate.unpriced_items, ["cluster/spark task group 'batch': 3 × r5.xlarge (EC2 + EMR)"]);
        assert!((estimate.hourly_usd - 0.53).abs() < 1e-9, "{}", estimate.hourly_usd);
        assert!((estimate.monthly_usd - 0.53 * 730.0).abs() < 1e-6);
        assert_eq!((estimate.rates.len(), estimate.rates[0].usd), (1, None), "the table has no S3 price");
    }

    /// A group of no nodes is no line at all (never "$0.0000"), and spot nodes are marked and
    /// never priced at the on-demand figure, though the table has one for their type.
    #[test]
    fn no_nodes_cost_no_line_and_spot_nodes_are_not_priced_as_on_demand() {
        let table = PriceTable::parse(TABLE).unwrap();
        let prices = table.prices("us-east-1");
        assert_eq!(nodes(&prices, "cluster/spark", "task group 'idle'", 0, "m5.xlarge", false), Vec::new());
        let spot = nodes(&prices, "cluster/spark", "task group 'batch'", 4, "m5.xlarge", true);
        let [CostLine::Fixed(line)] = spot.as_slice() else { panic!("one fixed line: {spot:?}") };
        assert_eq!((line.hourly_usd, line.spot, line.figures.len()), (None, true, 0));
        assert_eq!(line.item, "task group 'batch': 4 × m5.xlarge (EC2 + EMR, spot)");
        assert_eq!(line.price(), "spot: not priced (varies)");
        let estimate = Estimate::of(&table, "us-east-1", spot, Vec::new());
        assert_eq!((estimate.priced, estimate.unpriced), (0, 1));
    }

    /// A change in place is priced by the lines that differ: a reshard from 4 to 6 shards costs
    /// two more shard-hours; a change with an unpriced side has no price; no difference, no line.
    #[test]
    fn a_change_costs_the_difference_of_the_lines_it_changes() {
        let table = PriceTable::parse(TABLE).unwrap();
        let prices = table.prices("us-east-1");
        let shards =
            |n: i64| vec![fixed("stream/events", format!("{n} shards"), n, prices.figure("kinesis_shard_hour"))];
        let reshard = DeltaLine::between("stream/events", shards(4), shards(6), 730.0).unwrap();
        assert_eq!(
            (reshard.before.clone(), reshard.after.clone()),
            (vec!["4 shards ($0.0600 per hour)".to_string()], vec!["6 shards ($0.0900 per hour)".to_string()])
        );
        assert!((reshard.hourly_usd.unwrap() - 0.03).abs() < 1e-9, "{reshard:?}");
        assert!((reshard.monthly_usd.unwrap() - 21.9).abs() < 1e-9, "{reshard:?}");
        assert_eq!(DeltaLine::between("stream/events", shards(4), shards(4), 730.0), None);
        let mut before = nodes(&prices, "cluster/spark", "core", 2, "m5.xlarge", false);
        before.extend(nodes(&prices, "cluster/spark", "task group 'batch'", 3, "r5.xlarge", false));
        let mut after = nodes(&prices, "cluster/spark", "core", 4, "m5.xlarge", false);
        after.extend(nodes(&prices, "cluster/spark", "task group 'batch'", 3, "r5.xlarge", false));
        // The unpriced task group is on both sides: it cancels out, and the core's change is priced.
        let grown = DeltaLine::between("cluster/spark", before.clone(), after, 730.0).unwrap();
        assert!((grown.hourly_usd.unwrap() - 0.5).abs() < 1e-9, "2 more × 0.25: {grown:?}");
        let mut unpriced = nodes(&prices, "cluster/spark", "core", 2, "m5.xlarge", false);
        unpriced.extend(nodes(&prices, "cluster/spark", "task group 'batch'", 5, "r5.xlarge", false));
        let unknown = DeltaLine::between("cluster/spark", before, unpriced, 730.0).unwrap();
        assert_eq!((unknown.hourly_usd, unknown.monthly_usd), (None, None));
        assert_eq!((signed_usd(0.03), signed_usd(-21.9)), ("+$0.0300".to_string(), "-$21.90".to_string()));
    }

    #[test]
    fn an_unknown_region_prices_nothing() {
        let table = PriceTable::parse(TABLE).unwrap();
        let prices = table.prices("eu-west-1");
        assert_eq!(prices.figure("kinesis_shard_hour"), None);
        assert_eq!(prices.node("m5.xlarge"), None);
        assert!(Estimate::of(&table, "eu-west-1", Vec::new(), Vec::new()).is_empty());
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

//! The cost section of a plan, for people and for pull requests: the fixed hourly cost of what
//! the plan creates with a monthly estimate (naming every item it could not price), what its
//! changes in place add or save, then the usage-based rates. Nothing here prices
//! anything: the figures come from the kinds' prices (`resources::estimate`), and go to
//! `--output json` as they are.

use std::fmt::Write;

use crate::pricing::{signed_usd, usd, usd_or_none, DeltaLine, Estimate, NightLine, SPOT};

fn heading(estimate: &Estimate) -> String {
    format!(
        "Cost of what this plan creates{} in {} (on-demand list prices from {}; \"no price\" where none is known)",
        if estimate.changes.is_empty() { "" } else { " and changes" },
        estimate.region,
        estimate.table
    )
}

/// The fixed total, never over unpriced items: a total with some names what it excludes, and
/// one with no priced item at all gives no figure (a `$0` there would read as free).
fn totals(estimate: &Estimate) -> String {
    let count = |n: usize| format!("{n} item{}", if n == 1 { "" } else { "s" });
    let list = estimate.unpriced_items.join("; ");
    if estimate.priced == 0 {
        return format!("Fixed: no total: none of the {} has a price ({list})", count(estimate.unpriced));
    }
    let mut text = format!(
        "Fixed: {} per hour, about {} per month ({} h)",
        usd(estimate.hourly_usd),
        usd(estimate.monthly_usd),
        estimate.hours_per_month
    );
    if estimate.unpriced > 0 {
        let _ = write!(text, ", excluding {} with no price: {list}", count(estimate.unpriced));
    }
    text
}

/// `+$0.0300 per hour, about +$21.90 per month`, or "no price".
fn change(line: &DeltaLine) -> String {
    match line.hourly_usd.zip(line.monthly_usd) {
        Some((hourly, monthly)) => format!("{} per hour, about {} per month", signed_usd(hourly), signed_usd(monthly)),
        None => "no price".to_string(),
    }
}

/// `3 shards (provisioned) ($0.0450 per hour) → 6 shards (…)`; "nothing" for a side with no lines.
fn before_after(line: &DeltaLine) -> String {
    let side = |items: &[String]| if items.is_empty() { "nothing".to_string() } else { items.join(", ") };
    format!("{} → {}", side(&line.before), side(&line.after))
}

/// One run's cost, "no price", or the spot mark.
fn night_price(line: &NightLine) -> String {
    if line.spot {
        SPOT.to_string()
    } else {
        usd_or_none(line.usd)
    }
}

/// The cost section of the human plan; empty when the plan creates nothing with a price list.
pub fn render_cost(estimate: &Estimate) -> String {
    let mut out = String::new();
    if estimate.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\n{}:", heading(estimate));
    let width = estimate.fixed.iter().map(|l| l.resource.len()).chain(estimate.rates.iter().map(|l| l.resource.len()));
    let width = width.chain(estimate.nights.iter().map(|l| l.resource.len()));
    let width = width.chain(estimate.changes.iter().map(|l| l.resource.len())).max().unwrap_or(0);
    for line in &estimate.fixed {
        let _ = writeln!(out, "  {:width$}  {}: {}", line.resource, line.item, line.price());
    }
    if !estimate.fixed.is_empty() {
        let _ = writeln!(out, "  {}", totals(estimate));
    }
    if !estimate.nights.is_empty() {
        let _ = writeln!(out, "  Jobs (each run, at most):");
        for line in &estimate.nights {
            let _ = writeln!(
                out,
                "  {:width$}  {}: {:.1} node-hours, {}",
                line.resource,
                line.item,
                line.node_hours,
                night_price(line)
            );
        }
    }
    if !estimate.changes.is_empty() {
        let _ = writeln!(out, "  Changes to what exists (fixed cost):");
        for line in &estimate.changes {
            let _ = writeln!(out, "  {:width$}  {}: {}", line.resource, before_after(line), change(line));
        }
    }
    if !estimate.rates.is_empty() {
        let _ = writeln!(out, "  Usage-based (rates, not totals: they depend on your volumes):");
        for line in &estimate.rates {
            let _ =
                writeln!(out, "  {:width$}  {}: {} per {}", line.resource, line.item, usd_or_none(line.usd), line.unit);
        }
    }
    out
}

/// The cost section of the Markdown plan.
pub fn render_cost_markdown(estimate: &Estimate) -> String {
    let mut out = String::new();
    if estimate.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\n#### {}\n", heading(estimate));
    if !estimate.fixed.is_empty() {
        let _ = writeln!(out, "| resource | item | per hour |\n|---|---|---|");
        for line in &estimate.fixed {
            let price = if line.spot { SPOT.to_string() } else { usd_or_none(line.hourly_usd) };
            let _ = writeln!(out, "| `{}` | {} | {price} |", line.resource, line.item);
        }
        let _ = writeln!(out, "\n**{}.**", totals(estimate));
    }
    if !estimate.nights.is_empty() {
        let _ = writeln!(out, "\n| job | each run, at most | node-hours | cost |\n|---|---|---|---|");
        for line in &estimate.nights {
            let _ = writeln!(
                out,
                "| `{}` | {} | {:.1} | {} |",
                line.resource,
                line.item,
                line.node_hours,
                night_price(line)
            );
        }
    }
    if !estimate.changes.is_empty() {
        let _ = writeln!(out, "\n| resource | change | fixed cost |\n|---|---|---|");
        for line in &estimate.changes {
            let _ = writeln!(out, "| `{}` | {} | {} |", line.resource, before_after(line), change(line));
        }
    }
    if !estimate.rates.is_empty() {
        let _ = writeln!(out, "\n| resource | usage-based item | rate |\n|---|---|---|");
        for line in &estimate.rates {
            let _ =
                writeln!(out, "| `{}` | {} | {} per {} |", line.resource, line.item, usd_or_none(line.usd), line.unit);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pricing::{FixedLine, RateLine};

    fn line(resource: &str, item: &str, hourly: Option<f64>, spot: bool) -> FixedLine {
        FixedLine {
            resource: resource.into(),
            item: item.into(),
            quantity: 2,
            unit_usd: hourly.map(|hourly| hourly / 2.0),
            hourly_usd: hourly,
            spot,
            figures: vec![],
        }
    }

    fn sample() -> Estimate {
        Estimate {
            region: "us-east-1".into(),
            table: "pricing/prices.yaml, read 2026-11-30".into(),
            retrieved: "2026-11-30".into(),
            hours_per_month: 730.0,
            nights: vec![NightLine {
                resource: "job/spark-nightly".into(),
                item: "one run: 18 extra × m5.2xlarge for at most 3h".into(),
                node_hours: 54.0,
                usd: None,
                spot: false,
                figures: vec![],
            }],
            fixed: vec![
                line("cluster/spark", "core: 2 × m5.xlarge (EC2 + EMR)", None, false),
                line("cluster/spark", "task group 'batch': 2 × m5.xlarge (EC2 + EMR, spot)", None, true),
                line("stream/events", "2 shards (provisioned)", Some(0.03), false),
            ],
            hourly_usd: 0.03,
            monthly_usd: 21.9,
            priced: 1,
            unpriced: 2,
            unpriced_items: vec![
                "cluster/spark core: 2 × m5.xlarge (EC2 + EMR)".into(),
                "cluster/spark task group 'batch': 2 × m5.xlarge (EC2 + EMR, spot)".into(),
            ],
            rates: vec![RateLine {
                resource: "bucket/lake".into(),
                item: "S3 STANDARD storage".into(),
                unit: "GB-month".into(),
                usd: Some(0.023),
                figure: None,
            }],
            changes: vec![DeltaLine {
                resource: "stream/clicks".into(),
                before: vec!["4 shards (provisioned) ($0.0600 per hour)".into()],
                after: vec!["6 shards (provisioned) ($0.0900 per hour)".into()],
                hourly_usd: Some(0.03),
                monthly_usd: Some(21.9),
            }],
        }
    }

    #[test]
    fn golden_human_cost() {
        let expected = "
Cost of what this plan creates and changes in us-east-1 (on-demand list prices from pricing/prices.yaml, read 2026-11-30; \"no price\" where none is known):
  cluster/spark      core: 2 × m5.xlarge (EC2 + EMR): no price
  cluster/spark      task group 'batch': 2 × m5.xlarge (EC2 + EMR, spot): spot: not priced (varies)
  stream/events      2 shards (provisioned): $0.0300 per hour
  Fixed: $0.0300 per hour, about $21.90 per month (730 h), excluding 2 items with no price: cluster/spark core: 2 × m5.xlarge (EC2 + EMR); cluster/spark task group 'batch': 2 × m5.xlarge (EC2 + EMR, spot)
  Jobs (each run, at most):
  job/spark-nightly  one run: 18 extra × m5.2xlarge for at most 3h: 54.0 node-hours, no price
  Changes to what exists (fixed cost):
  stream/clicks      4 shards (provisioned) ($0.0600 per hour) → 6 shards (provisioned) ($0.0900 per hour): +$0.0300 per hour, about +$21.90 per month
  Usage-based (rates, not totals: they depend on your volumes):
  bucket/lake        S3 STANDARD storage: $0.0230 per GB-month
";
        assert_eq!(render_cost(&sample()), expected);
    }

    /// Only unpriced items: no `$0.0000` total, which would read as free.
    #[test]
    fn a_total_of_unpriced_items_only_gives_no_figure() {
        let fixed = vec![line("cluster/spark", "core: 2 × m5.xlarge (EC2 + EMR)", None, false)];
        let items = vec!["cluster/spark core: 2 × m5.xlarge (EC2 + EMR)".to_string()];
        let estimate = Estimate {
            fixed,
            priced: 0,
            unpriced: 1,
            unpriced_items: items,
            hourly_usd: 0.0,
            monthly_usd: 0.0,
            ..sample()
        };
        let (human, markdown) = (render_cost(&estimate), render_cost_markdown(&estimate));
        let total = "Fixed: no total: none of the 1 item has a price (cluster/spark core: 2 × m5.xlarge (EC2 + EMR))";
        assert!(human.contains(total) && markdown.contains(total), "{human}\n{markdown}");
        assert!(!human.contains("$0.0000") && !markdown.contains("$0.0000"), "{human}\n{markdown}");
    }

    #[test]
    fn markdown_has_the_same_figures_and_nothing_for_nothing() {
        let text = render_cost_markdown(&sample());
        assert!(text.contains("| `cluster/spark` | core: 2 × m5.xlarge (EC2 + EMR) | no price |\n"), "{text}");
        assert!(
            text.contains("| task group 'batch': 2 × m5.xlarge (EC2 + EMR, spot) | spot: not priced (varies) |\n"),
            "{text}"
        );
        assert!(text.contains("| `stream/events` | 2 shards (provisioned) | $0.0300 |\n"), "{text}");
        assert!(
            text.contains("**Fixed: $0.0300 per hour, about $21.90 per month (730 h), excluding 2 items"),
            "{text}"
        );
        assert!(text.contains("| `bucket/lake` | S3 STANDARD storage | $0.0230 per GB-month |\n"), "{text}");
        assert!(text.contains("| `stream/clicks` | 4 shards (provisioned) ($0.0600 per hour) → 6 shards (provisioned) ($0.0900 per hour) | +$0.0300 per hour, about +$21.90 per month |\n"), "{text}");
        assert!(
            text.contains(
                "| `job/spark-nightly` | one run: 18 extra × m5.2xlarge for at most 3h | 54.0 | no price |\n"
            ),
            "{text}"
        );
        // Changes only: no empty table of created resources.
        let changes_only = render_cost_markdown(&Estimate { fixed: vec![], rates: vec![], nights: vec![], ..sample() });
        assert!(!changes_only.contains("| resource | item | per hour |") && changes_only.contains("`stream/clicks`"));
        let empty = Estimate { fixed: vec![], rates: vec![], nights: vec![], changes: vec![], ..sample() };
        assert_eq!((render_cost(&empty), render_cost_markdown(&empty)), (String::new(), String::new()));
    }
}

//! The cost section of a plan, for people and for pull requests: the fixed hourly cost of what
//! the plan creates with a monthly estimate, then the usage-based rates. Nothing here prices
//! anything: the figures come from the kinds' prices (`resources::estimate`), and go to
//! `--output json` as they are.

use std::fmt::Write;

use crate::pricing::{usd, usd_or_none, Estimate};

fn heading(estimate: &Estimate) -> String {
    format!(
        "Cost of what this plan creates in {} (on-demand list prices from {}, read {}; \"no price\" where the table has none)",
        estimate.region, estimate.table, estimate.retrieved
    )
}

fn totals(estimate: &Estimate) -> String {
    let mut text = format!(
        "Fixed: {} per hour, about {} per month ({} h)",
        usd(estimate.hourly_usd),
        usd(estimate.monthly_usd),
        estimate.hours_per_month
    );
    if estimate.unpriced > 0 {
        let _ = write!(
            text,
            "; {} item{} with no price not included",
            estimate.unpriced,
            if estimate.unpriced == 1 { "" } else { "s" }
        );
    }
    text
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
    let width = width.max().unwrap_or(0);
    for line in &estimate.fixed {
        let price =
            line.hourly_usd.map_or_else(|| "no price".to_string(), |hourly| format!("{} per hour", usd(hourly)));
        let _ = writeln!(out, "  {:width$}  {}: {price}", line.resource, line.item);
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
                usd_or_none(line.usd)
            );
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
    let _ = writeln!(out, "| resource | item | per hour |\n|---|---|---|");
    for line in &estimate.fixed {
        let _ = writeln!(out, "| `{}` | {} | {} |", line.resource, line.item, usd_or_none(line.hourly_usd));
    }
    if !estimate.fixed.is_empty() {
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
                usd_or_none(line.usd)
            );
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
    use crate::pricing::{FixedLine, NightLine, RateLine};

    fn sample() -> Estimate {
        Estimate {
            region: "us-east-1".into(),
            table: "pricing/prices.yaml",
            retrieved: "2026-11-30".into(),
            hours_per_month: 730.0,
            nights: vec![NightLine {
                resource: "job/spark-nightly".into(),
                item: "one run: 18 extra × m5.2xlarge for at most 3h".into(),
                node_hours: 54.0,
                usd: None,
                figures: vec![],
            }],
            fixed: vec![
                FixedLine {
                    resource: "cluster/spark".into(),
                    item: "core: 2 × m5.xlarge (EC2 + EMR)".into(),
                    quantity: 2,
                    unit_usd: None,
                    hourly_usd: None,
                    figures: vec![],
                },
                FixedLine {
                    resource: "stream/events".into(),
                    item: "2 shards (provisioned)".into(),
                    quantity: 2,
                    unit_usd: Some(0.015),
                    hourly_usd: Some(0.03),
                    figures: vec![],
                },
            ],
            hourly_usd: 0.03,
            monthly_usd: 21.9,
            unpriced: 1,
            rates: vec![RateLine {
                resource: "bucket/lake".into(),
                item: "S3 STANDARD storage".into(),
                unit: "GB-month".into(),
                usd: Some(0.023),
                figure: None,
            }],
        }
    }

    #[test]
    fn golden_human_cost() {
        let expected = "
Cost of what this plan creates in us-east-1 (on-demand list prices from pricing/prices.yaml, read 2026-11-30; \"no price\" where the table has none):
  cluster/spark      core: 2 × m5.xlarge (EC2 + EMR): no price
  stream/events      2 shards (provisioned): $0.0300 per hour
  Fixed: $0.0300 per hour, about $21.90 per month (730 h); 1 item with no price not included
  Jobs (each run, at most):
  job/spark-nightly  one run: 18 extra × m5.2xlarge for at most 3h: 54.0 node-hours, no price
  Usage-based (rates, not totals: they depend on your volumes):
  bucket/lake        S3 STANDARD storage: $0.0230 per GB-month
";
        assert_eq!(render_cost(&sample()), expected);
    }

    #[test]
    fn markdown_has_the_same_figures_and_nothing_for_nothing() {
        let text = render_cost_markdown(&sample());
        assert!(text.contains("| `cluster/spark` | core: 2 × m5.xlarge (EC2 + EMR) | no price |\n"), "{text}");
        assert!(text.contains("| `stream/events` | 2 shards (provisioned) | $0.0300 |\n"), "{text}");
        assert!(text.contains("**Fixed: $0.0300 per hour, about $21.90 per month (730 h); 1 item"), "{text}");
        assert!(text.contains("| `bucket/lake` | S3 STANDARD storage | $0.0230 per GB-month |\n"), "{text}");
        assert!(
            text.contains(
                "| `job/spark-nightly` | one run: 18 extra × m5.2xlarge for at most 3h | 54.0 | no price |\n"
            ),
            "{text}"
        );
        let empty = Estimate { fixed: vec![], rates: vec![], nights: vec![], ..sample() };
        assert_eq!((render_cost(&empty), render_cost_markdown(&empty)), (String::new(), String::new()));
    }
}

//! Prices the offline table lacks, read from the AWS Price List Query API when a plan or a
//! resize talks to AWS itself: the on-demand Linux price of an EC2 instance type and the Amazon
//! EMR charge for it, in the pipeline's region (`pricing:GetProducts`). Only the figures a
//! lookup asked the table for in vain are read (`PriceTable::misses`), at most one request per
//! figure, all at once. Nothing is guessed: a product list that gives no hourly USD price, or
//! several different ones, leaves the figure "no price".
//!
//! The API answers from three endpoints, whichever region is priced (`aws::price_list_region`
//! picks the nearest). Its quota is a bucket of 10 GetProducts, refilled at 5 per second,
//! per account and endpoint: a plan asks for two figures per instance type.

use futures::future::join_all;
use serde_json::Value;

use super::{Figure, PriceTable};
use crate::aws::PriceList;

/// The one action the lookup needs; AWS cannot scope it to a resource.
pub const ACTION: &str = "pricing:GetProducts";

/// One missing figure (`ec2` or `emr` of an instance type) as a Price List query.
#[derive(Debug, PartialEq)]
struct Query {
    key: String,
    instance_type: String,
    service: &'static str,
    /// TERM_MATCH filters, field and value.
    filters: Vec<(&'static str, String)>,
}

/// The Price List query for one missing figure: `ec2.<type>` and `emr.<type>` are the keys it
/// can read; any other key stays as the table has it.
fn query(key: &str, instance_type: &str, region: &str) -> Option<Query> {
    let (service, extra): (&'static str, &[(&'static str, &str)]) = match key {
        // The Linux on-demand price of a shared-tenancy instance (the EMR node's EC2 part).
        "ec2" => (
            "AmazonEC2",
            &[
                ("operatingSystem", "Linux"),
                ("tenancy", "Shared"),
                ("preInstalledSw", "NA"),
                ("capacitystatus", "Used"),
            ],
        ),
        // The EMR charge per instance-hour of EMR on EC2 (not EMR on EKS, not Serverless).
        "emr" => ("ElasticMapReduce", &[("productFamily", "Elastic Map Reduce Instance"), ("softwareType", "EMR")]),
        _ => return None,
    };
    let common = [("regionCode", region), ("instanceType", instance_type)];
    let filters = common.iter().chain(extra).map(|(field, value)| (*field, value.to_string())).collect();
    Some(Query { key: key.to_string(), instance_type: instance_type.to_string(), service, filters })
}

/// The hourly on-demand USD price one Price List entry (a JSON document, as GetProducts returns
/// each) states, with its SKU and the date its terms took effect; `None` when it states none.
fn hourly_price(entry: &str) -> Result<Option<(f64, String, String)>, String> {
    let document: Value =
        serde_json::from_str(entry).map_err(|error| format!("a price list entry is not JSON: {error}"))?;
    let sku = document["product"]["sku"].as_str().unwrap_or("unknown SKU").to_string();
    let Some(terms) = document["terms"]["OnDemand"].as_object() else { return Ok(None) };
    let mut prices = Vec::new();
    for term in terms.values() {
        let effective = term["effectiveDate"].as_str().unwrap_or("undated");
        let dimensions = term["priceDimensions"].as_object().into_iter().flat_map(|map| map.values());
        for dimension in dimensions.filter(|dimension| dimension["unit"].as_str() == Some("Hrs")) {
            let usd = dimension["pricePerUnit"]["USD"].as_str().and_then(|text| text.parse::<f64>().ok());
            if let Some(usd) = usd.filter(|usd| *usd > 0.0) {
                prices.push((usd, sku.clone(), effective.get(..10).unwrap_or(effective).to_string()));
            }
        }
    }
    Ok(agreed(prices))
}

/// The one price all of `prices` state, or `None` (none, or several that differ).
fn agreed(prices: Vec<(f64, String, String)>) -> Option<(f64, String, String)> {
    let first = prices.first()?.clone();
    prices.iter().all(|(usd, _, _)| (usd - first.0).abs() < 1e-12).then_some(first)
}

/// Reads one figure; `Ok(None)` when the Price List has no single price for it.
async fn read_figure(client: &PriceList, query: &Query) -> Result<Option<Figure>, String> {
    let mut prices = Vec::new();
    for entry in client.products(query.service, &query.filters).await? {
        prices.extend(hourly_price(&entry)?);
    }
    Ok(agreed(prices).map(|(usd, sku, as_of)| Figure {
        usd,
        source: format!("AWS Price List API (GetProducts {}, SKU {sku})", query.service),
        as_of,
    }))
}

/// Reads every figure `table` was asked for in vain in `region` and this module can read, and
/// adds those found to it. Returns how many it added, or why it could not read them (the
/// table is then as it was, and those items stay "no price").
pub async fn fill(table: &mut PriceTable, client: &PriceList, region: &str) -> Result<usize, String> {
    let wanted: Vec<Query> =
        table.misses(region).into_iter().filter_map(|(key, kind)| query(&key, &kind, region)).collect();
    let figures = join_all(wanted.iter().map(|query| read_figure(client, query))).await;
    let mut added = 0;
    for (query, figure) in wanted.iter().zip(figures) {
        if let Some(figure) = figure? {
            table.insert(region, &query.key, &query.instance_type, figure);
            added += 1;
        }
    }
    Ok(added)
}

/// `compute` over the embedded table, and when it asked the table for figures it lacks and
/// `client` is given (AWS itself, not `--offline-prices`), over the table completed from the
/// Price List API. The second value says why the API could not be read, if so.
pub async fn priced<T>(
    client: Option<&PriceList>,
    region: &str,
    compute: impl Fn(&PriceTable) -> T,
) -> (T, Option<String>) {
    let mut table = PriceTable::embedded();
    let first = compute(&table);
    let Some(client) = client else { return (first, None) };
    if table.misses(region).is_empty() {
        return (first, None);
    }
    match fill(&mut table, client, region).await {
        Ok(0) => (first, None),
        Ok(_) => (compute(&table), None),
        Err(error) => {
            let warning = format!(
                "prices the table lacks were not read from the AWS Price List API ({error}); they show \"no price\" (--offline-prices skips the lookup)"
            );
            (first, Some(warning))
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A GetProducts entry in the shape the Price List API documents (trimmed to what is read).
    pub fn entry(sku: &str, usd: &str, reserved_usd: &str) -> String {
        serde_json::json!({
            "product": {"productFamily": "Compute Instance", "sku": sku, "attributes": {"regionCode": "ap-northeast-2"}},
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {format!("{sku}.JRTCKXETXF"): {
                    "effectiveDate": "2026-11-01T00:00:00Z",
                    "priceDimensions": {format!("{sku}.JRTCKXETXF.6YS6EN2CT7"): {
                        "unit": "Hrs", "pricePerUnit": {"USD": usd}, "description": "per On Demand Linux Instance Hour"
                    }}
                }},
                "Reserved": {format!("{sku}.4NA7Y494T4"): {"priceDimensions": {"x": {"unit": "Hrs", "pricePerUnit": {"USD": reserved_usd}}}}}
            },
            "publicationDate": "2026-11-20T18:00:00Z"
        })
        .to_string()
    }

    #[test]
    fn an_entry_gives_its_on_demand_hourly_price_never_a_reserved_one() {
        let (usd, sku, as_of) = hourly_price(&entry("ABC", "0.2360000000", "0.1500000000")).unwrap().unwrap();
        assert_eq!((usd, sku.as_str(), as_of.as_str()), (0.236, "ABC", "2026-11-01"));
        // A zero price (AWS lists some unused products at $0) is no price.
        assert_eq!(hourly_price(&entry("ABC", "0.0000000000", "0.15")).unwrap(), None);
        assert!(hourly_price("{not json").is_err());
    }

    #[test]
    fn entries_that_disagree_give_no_price() {
        let one = |usd: f64| (usd, "S".to_string(), "2026-11-01".to_string());
        assert_eq!(agreed(vec![one(0.236), one(0.236)]), Some(one(0.236)));
        assert_eq!(agreed(vec![one(0.236), one(0.5)]), None);
        assert_eq!(agreed(Vec::new()), None);
    }

    #[test]
    fn only_ec2_and_emr_figures_are_read() {
        let emr = query("emr", "m5.xlarge", "ap-northeast-2").unwrap();
        assert_eq!(emr.service, "ElasticMapReduce");
        assert!(emr.filters.contains(&("softwareType", "EMR".to_string())), "{emr:?}");
        assert!(emr.filters.contains(&("regionCode", "ap-northeast-2".to_string())), "{emr:?}");
        assert_eq!(query("ec2", "m5.xlarge", "eu-west-1").unwrap().service, "AmazonEC2");
        assert_eq!(query("kinesis_shard_hour", "", "eu-west-1"), None);
    }
}

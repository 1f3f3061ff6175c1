//! The crawlers of `catalog:`: Glue crawlers over a delivery's or a location's folder, for those
//! who want Glue to infer the schema (and add partitions) instead of declaring columns; the
//! folder they read, their Glue schedule, and every rule they meet, checked here.

use std::collections::HashSet;

use schemars::JsonSchema;
use serde::Deserialize;

use super::buckets::check_bucket_reference;
use super::catalog::{Catalog, TableLocation};
use super::checks::{check_reference, check_resource_name, Problems};
use super::iam::check_iam_name;
use super::pipeline::Spec;
use crate::names::derived_crawler_role;

/// A Glue crawler over a delivery's or a location's folder, for those who want Glue to infer
/// the schema (and add partitions) instead of declaring columns: it runs on a schedule and
/// writes the tables it finds into the pipeline's database.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Crawler {
    pub name: String,
    /// A delivery of the spec: the crawler reads the folder its prefix writes under.
    #[serde(default)]
    pub delivery: Option<String>,
    /// Instead of `delivery`: a prefix of a bucket of the spec.
    #[serde(default)]
    pub location: Option<TableLocation>,
    /// When it runs: five-field cron (`minute hour day-of-month month day-of-week`) with fixed
    /// minute and hour, in UTC (Glue schedules are UTC).
    pub cron: String,
    /// Prepended to the name of every table the crawler creates, so they cannot take the
    /// names of the spec's own tables.
    #[serde(default)]
    pub table_prefix: Option<String>,
}

/// The bucket and folder a crawler of a validated spec reads: the static part of the prefix,
/// up to its last `/` before the first `!{` expression (Glue crawls an S3 path and all below).
pub fn crawler_folder<'a>(spec: &'a Spec, crawler: &'a Crawler) -> Option<(&'a str, String)> {
    let (bucket, prefix) = match (&crawler.delivery, &crawler.location) {
        (Some(name), _) => {
            let delivery = spec.deliveries.iter().find(|delivery| &delivery.name == name)?;
            (delivery.to.bucket.as_str(), delivery.to.prefix.as_str())
        }
        (None, Some(location)) => (location.bucket.as_str(), location.prefix.as_str()),
        (None, None) => return None,
    };
    let fixed = &prefix[..prefix.find("!{").unwrap_or(prefix.len())];
    Some((bucket, fixed[..fixed.rfind('/').map_or(0, |slash| slash + 1)].to_string()))
}

/// The crawler's schedule in Glue's form, `cron(M H D M W *)` ("Time-based schedules for jobs
/// and crawlers", AWS Glue Developer Guide: the same six fields, `?` and day numbering as
/// EventBridge), or why the spec's cron is not one.
pub fn crawler_schedule(crawler: &Crawler) -> Result<String, String> {
    crate::calendar::parse_cron(&crawler.cron).map(|cron| cron.to_eventbridge())
}

/// The rules of `catalog.crawlers`: unique names, the derived role, the schedule, what the
/// crawler reads, the table prefix; then each crawler's name and its derived role's IAM name.
pub(super) fn check(catalog: &Catalog, spec: &Spec, problems: &mut Problems) {
    let mut names = HashSet::new();
    for (index, crawler) in catalog.crawlers.iter().enumerate() {
        let path = format!("catalog.crawlers[{index}]");
        if !names.insert(crawler.name.as_str()) {
            problems.add(format!("{path}.name"), format!("duplicate crawler `{}`", crawler.name));
        }
        let derived = derived_crawler_role(&crawler.name);
        if spec.roles.iter().any(|role| role.name == derived) {
            problems.add(
                format!("{path}.name"),
                format!("the derived role `{derived}` clashes with a role of `roles`; rename one"),
            );
        }
        if let Err(message) = crawler_schedule(crawler) {
            problems.add(format!("{path}.cron"), message);
        }
        match (&crawler.delivery, &crawler.location) {
            (Some(_), Some(_)) => problems.add(path.clone(), "give `delivery` or `location`, not both".to_string()),
            (None, None) => problems.add(
                path.clone(),
                "a crawler needs `delivery` (a delivery of the spec) or `location` (`bucket` and `prefix`)".to_string(),
            ),
            (Some(name), None) => {
                let deliveries: Vec<&str> = spec.deliveries.iter().map(|delivery| delivery.name.as_str()).collect();
                check_reference(&format!("{path}.delivery"), "delivery", name, &deliveries, problems);
            }
            (None, Some(location)) => {
                check_bucket_reference(&format!("{path}.location.bucket"), &location.bucket, spec, problems);
            }
        }
        if let Some(prefix) = &crawler.table_prefix {
            // Glue names the tables `<prefix><folder>`: the prefix must keep them valid names.
            let valid = prefix.len() <= 128
                && !prefix.starts_with('_')
                && prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                problems.add(
                    format!("{path}.table_prefix"),
                    format!("`{prefix}` is not a valid table name prefix: use up to 128 lowercase letters, digits and `_`, not starting with `_`"),
                );
            }
        }
    }
    for (index, crawler) in catalog.crawlers.iter().enumerate() {
        let path = format!("catalog.crawlers[{index}].name");
        check_resource_name(&path, &crawler.name, problems);
        check_iam_name(&path, spec, &derived_crawler_role(&crawler.name), problems);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crawler_reads_the_static_folder_on_a_glue_schedule() {
        let spec: Spec = serde_saphyr::from_str(
            "version: 1\npipeline: p\nregion: us-east-1\nbuckets: [{name: lake}]\nstreams: [{name: s}]\ndeliveries: [{name: d, from: s, to: {bucket: lake, prefix: 'raw/ev!{timestamp:yyyy}/', error_prefix: e/}}]\ncatalog:\n  crawlers:\n    - {name: c, delivery: d, cron: '30 2 * * MON-FRI'}\n    - {name: c, location: {bucket: lake, prefix: 'curated/x/'}, cron: '0 2 * *', table_prefix: Bad}\n",
        )
        .unwrap();
        let catalog = spec.catalog.as_ref().unwrap();
        assert_eq!(crawler_folder(&spec, &catalog.crawlers[0]), Some(("lake", "raw/".to_string())));
        assert_eq!(crawler_folder(&spec, &catalog.crawlers[1]), Some(("lake", "curated/x/".to_string())));
        assert_eq!(crawler_schedule(&catalog.crawlers[0]).unwrap(), "cron(30 2 ? * MON-FRI *)");
        let mut problems = Problems::default();
        check(catalog, &spec, &mut problems);
        let problems = problems.into_vec();
        let paths: Vec<&str> = problems.iter().map(|problem| problem.path.as_str()).collect();
        assert_eq!(paths, ["catalog.crawlers[1].name", "catalog.crawlers[1].cron", "catalog.crawlers[1].table_prefix"]);
    }
}

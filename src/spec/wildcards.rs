//! No wildcard in a value that pipectl puts into an ARN or an IAM condition.
//!
//! In a policy's `Resource` and in `StringLike`/`ArnLike` conditions, `*` matches any run of
//! characters and `?` any one ("IAM JSON policy elements: Resource" and "Condition operators",
//! IAM User Guide). A spec value with either in it would silently widen the policies pipectl
//! writes: a delivery prefix `*` grants Firehose the whole bucket, an `iam.path` of `/*/` lets
//! the deployer write roles under every path, a script `s3://lake/*` lets the cluster read
//! everything. So every such value is refused here, in one place, whatever else its own section
//! checks; values whose section already allows only letters, digits and a few punctuation marks
//! (bucket, stream, role and resource names, the pipeline name, the Glue database) are not
//! repeated here. KMS keys are `kms`'s, role trusts `iam`'s.

use super::checks::Problems;
use super::pipeline::Spec;

/// Every value of `spec` that reaches an ARN or a condition, with its field path.
fn values(spec: &Spec) -> Vec<(String, &str)> {
    let mut values: Vec<(String, &str)> = Vec::new();
    if let Some(iam) = &spec.iam {
        values.extend(iam.path.as_deref().map(|path| ("iam.path".to_string(), path)));
        values.extend(iam.permissions_boundary.as_deref().map(|arn| ("iam.permissions_boundary".to_string(), arn)));
    }
    for (index, role) in spec.roles.iter().enumerate() {
        for (p_index, policy) in role.managed_policies.iter().enumerate() {
            values.push((format!("roles[{index}].managed_policies[{p_index}]"), policy));
        }
    }
    for (index, delivery) in spec.deliveries.iter().enumerate() {
        values.push((format!("deliveries[{index}].to.prefix"), &delivery.to.prefix));
        if let Some(error_prefix) = &delivery.to.error_prefix {
            values.push((format!("deliveries[{index}].to.error_prefix"), error_prefix));
        }
    }
    for (index, cluster) in spec.clusters.iter().enumerate() {
        let path = format!("clusters[{index}]");
        if let Some(logs) = &cluster.logs {
            values.push((format!("{path}.logs.prefix"), &logs.prefix));
        }
        for (b_index, action) in cluster.bootstrap.iter().enumerate() {
            values.push((format!("{path}.bootstrap[{b_index}].path"), &action.path));
        }
        for (j_index, job) in cluster.jobs.iter().enumerate() {
            for (s_index, step) in job.steps.iter().enumerate() {
                values.push((format!("{path}.jobs[{j_index}].steps[{s_index}].script"), &step.script));
            }
        }
    }
    if let Some(catalog) = &spec.catalog {
        for (index, table) in catalog.tables.iter().enumerate() {
            if let Some(location) = &table.location {
                values.push((format!("catalog.tables[{index}].location.prefix"), &location.prefix));
            }
        }
        for (index, crawler) in catalog.crawlers.iter().enumerate() {
            if let Some(prefix) = &crawler.table_prefix {
                values.push((format!("catalog.crawlers[{index}].table_prefix"), prefix));
            }
        }
    }
    if let Some(prefix) = spec.query.as_ref().and_then(|query| query.results_prefix.as_deref()) {
        values.push(("query.results_prefix".to_string(), prefix));
    }
    values
}

/// A problem for each value that holds `*` or `?`.
pub(super) fn check(spec: &Spec, problems: &mut Problems) {
    for (path, value) in values(spec) {
        if let Some(wildcard) = value.chars().find(|c| ['*', '?'].contains(c)) {
            problems.add(
                path,
                format!("`{value}` contains `{wildcard}`: pipectl puts this value into IAM policy ARNs and conditions, where `*` and `?` are wildcards that would widen them; name it exactly"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::checks::testing::{messages, paths, HEAD};

    #[test]
    fn wildcards_are_refused_wherever_they_would_reach_a_policy() {
        let yaml = format!("{HEAD}iam: {{path: '/*/', permissions_boundary: 'arn:aws:iam::123456789012:policy/team/*/b'}}\nbuckets: [{{name: demo-lake}}]\nstreams: [{{name: events}}]\ndeliveries:\n  - name: d\n    from: events\n    to: {{bucket: demo-lake, prefix: 'raw/*', error_prefix: 'err/?/'}}\nroles:\n  - {{name: custom, trust: firehose.amazonaws.com, managed_policies: ['arn:aws:iam::aws:policy/*']}}\nquery: {{bucket: demo-lake, results_prefix: 'results/*/'}}\n");
        assert_eq!(
            paths(&yaml),
            vec![
                "iam.path",
                "iam.permissions_boundary",
                "roles[0].managed_policies[0]",
                "deliveries[0].to.prefix",
                "deliveries[0].to.error_prefix",
                "query.results_prefix",
            ]
        );
        assert!(messages(&yaml)[0].contains("`/*/` contains `*`: pipectl puts this value into IAM policy ARNs"));
    }

    #[test]
    fn cluster_paths_and_catalog_prefixes_are_checked_too() {
        let cluster = super::super::checks::testing::cluster_spec(
            "",
            "buckets: [{name: demo-lake}]\n",
            "    logs: {bucket: demo-lake, prefix: 'logs*/'}\n    bootstrap: [{name: b, path: 's3://demo-lake/boot?.sh'}]\n    jobs: [{name: j, cron: '0 1 * * *', group: batch, nodes: 4, timeout: 1h, steps: [{name: s, script: 's3://demo-lake/*'}]}]\n",
        );
        let found: Vec<String> = paths(&cluster)
            .into_iter()
            .filter(|path| path.starts_with("clusters") && path != "clusters[0].subnet")
            .collect();
        assert_eq!(
            found,
            vec!["clusters[0].logs.prefix", "clusters[0].bootstrap[0].path", "clusters[0].jobs[0].steps[0].script"]
        );
    }
}

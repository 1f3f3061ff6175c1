//! Semantic validation of a parsed spec: everything AWS would reject, and everything that would
//! make a plan fail halfway, found before the first API call. Every problem is collected (not just
//! the first) and carries the field path it is about. Each section checks itself in its own file;
//! this one only runs them, in document order, and collects what they find.

use super::checks::{Problem, Problems};
use super::derived;
use super::pipeline::Spec;
use super::{
    alarms, buckets, catalog, clusters, crawlers, deliveries, iam, ingest, network, pipeline, query, reach, schedules,
    streams, tag_limits, warehouses, wildcards,
};

/// Every problem in `spec`, in document order; empty when the spec is valid.
pub fn validate(spec: &Spec) -> Vec<Problem> {
    let mut problems = Problems::default();
    pipeline::check(spec, &mut problems);
    if let Some(network) = &spec.network {
        network::check(network, &spec.region, &mut problems);
    }
    buckets::check(spec, &mut problems);
    streams::check(spec, &mut problems);
    iam::check(spec, &mut problems);
    clusters::check(spec, &mut problems);
    reach::check(spec, &mut problems);
    schedules::check_derived_batch_names(spec, &mut problems);
    derived::check(spec, &mut problems);
    deliveries::check(spec, &mut problems);
    warehouses::check(spec, &mut problems);
    if let Some(catalog) = &spec.catalog {
        catalog::check(catalog, spec, &mut problems);
        crawlers::check(catalog, spec, &mut problems);
    }
    catalog::check_uses(spec, &mut problems);
    if let Some(query) = &spec.query {
        query::check(query, spec, &mut problems);
    }
    if let Some(alarms) = &spec.alarms {
        alarms::check(alarms, spec, &mut problems);
    }
    if let Some(ingest) = &spec.ingest {
        ingest::check(ingest, spec, &mut problems);
    }
    wildcards::check(spec, &mut problems);
    tag_limits::check(spec, &mut problems);
    problems.into_vec()
}

#[cfg(test)]
mod tests {
    use super::super::checks::testing::{paths, problems, HEAD};

    #[test]
    fn a_good_spec_has_no_problems() {
        let yaml = format!("{HEAD}network:\n  vpc: {{cidr: 10.0.0.0/16}}\n  subnets:\n    - {{name: a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a, public: true}}\n  security_groups:\n    - name: web\n      ingress: [{{ports: 443, cidr: 0.0.0.0/0}}, {{ports: \"8000-8100\", group: self}}]\nbuckets:\n  - name: demo-lake\n    lifecycle: [{{prefix: raw/, transitions: [{{days: 30, storage_class: STANDARD_IA}}], expiration_days: 365}}]\nstreams:\n  - {{name: events, shards: 2}}\n");
        assert_eq!(problems(&yaml), vec![]);
    }

    #[test]
    fn stream_and_lifecycle_limits() {
        let yaml = format!("{HEAD}buckets:\n  - name: demo-lake\n    kms_key: k\n    lifecycle:\n      - prefix: raw/\n        transitions: [{{days: 10, storage_class: STANDARD_IA}}, {{days: 90, storage_class: GLACEIR}}]\n        expiration_days: 60\nstreams:\n  - {{name: s, shards: 0, retention_hours: 9000}}\n  - {{name: t, mode: on-demand, shards: 2}}\n  - {{name: s, retention_hours: 23}}\n");
        assert_eq!(
            paths(&yaml),
            vec![
                "buckets[0].kms_key",
                "buckets[0].lifecycle[0].transitions[0].days",
                "buckets[0].lifecycle[0].transitions[1].storage_class",
                "buckets[0].lifecycle[0].expiration_days",
                "streams[2].name",
                "streams[0].shards",
                "streams[0].retention_hours",
                "streams[1].shards",
                "streams[2].retention_hours",
            ]
        );
    }
}

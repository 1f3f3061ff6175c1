//! The tags each resource will carry, checked as AWS checks them: the spec's `tags:`, the
//! resource's own `tags:` and the tags pipectl adds (its two ownership tags, `Name` on EC2
//! resources, `for-use-with-amazon-emr-managed-policies` on a cluster and on the network it uses,
//! a cluster's scale records, one per resizable group, and its launch replication) are one set per resource, which may hold
//! at most 50 tags, and whose keys and values each service limits to its own characters. Each map
//! alone is checked where it is written (`checks::check_tags`); this is the merged set.
//!
//! The services' rules (each service's API reference, "Tag" data type, or its tagging guide):
//!
//! - S3 ("Categorizing your storage using tags", Amazon S3 User Guide), EMR ("Tag restrictions",
//!   Amazon EMR Management Guide) and IAM (the `Tag` data type, IAM API Reference, pattern
//!   `[\p{L}\p{Z}\p{N}_.:/=+\-@]+`): Unicode letters, digits, white space and `_ . : / = + - @`;
//! - Kinesis Data Streams ("Tag your Amazon Kinesis Data Streams resources") and Firehose (the
//!   `Tag` data type, Amazon Data Firehose API Reference, pattern
//!   `^[\p{L}\p{Z}\p{N}_.:\/=+\-@%]*$`): the same and `%`;
//! - Redshift ("Tagging resources in Amazon Redshift", Amazon Redshift Management Guide) and
//!   Secrets Manager (the `Tag` data type, AWS Secrets Manager API Reference): letters, digits,
//!   white space and `_ . : / = + - @`, as S3, which a warehouse's tags (on its cluster, subnet
//!   group and secret) are checked as;
//! - EC2 and the other services pipectl tags: any characters.
//!
//! Every one of them allows 50 tags per resource.

use std::collections::{BTreeMap, BTreeSet};

use super::checks::Problems;
use super::pipeline::Spec;

/// The most tags AWS allows on one resource, pipectl's included.
pub const MAX_TAGS_PER_RESOURCE: usize = 50;

/// What a service allows in tag keys and values besides Unicode letters, digits and white space
/// (None: anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Service {
    S3,
    Kinesis,
    Firehose,
    Emr,
    Iam,
    Redshift,
    Ec2,
}

impl Service {
    fn name(self) -> &'static str {
        match self {
            Service::S3 => "S3",
            Service::Kinesis => "Kinesis",
            Service::Firehose => "Firehose",
            Service::Emr => "EMR",
            Service::Iam => "IAM",
            Service::Redshift => "Redshift",
            Service::Ec2 => "EC2",
        }
    }

    fn punctuation(self) -> Option<&'static str> {
        match self {
            Service::S3 | Service::Emr | Service::Iam | Service::Redshift => Some("_.:/=+-@"),
            Service::Kinesis | Service::Firehose => Some("_.:/=+-@%"),
            Service::Ec2 => None,
        }
    }

    /// The characters of `text` the service refuses.
    fn refused(self, text: &str) -> BTreeSet<char> {
        let Some(punctuation) = self.punctuation() else { return BTreeSet::new() };
        text.chars().filter(|c| !(c.is_alphanumeric() || c.is_whitespace() || punctuation.contains(*c))).collect()
    }
}

/// One resource pipectl will tag: what it is called in messages, where its own tags are written
/// (None: it has none of its own), its service, and the keys pipectl adds.
struct Tagged<'a> {
    what: String,
    path: Option<String>,
    own: Option<&'a BTreeMap<String, String>>,
    service: Service,
    pipectl: Vec<String>,
}

/// The keys pipectl adds to every resource (ownership), and to EC2 resources (`Name`).
fn pipectl_keys(ec2: bool, emr: bool) -> Vec<String> {
    let mut keys = vec![crate::names::PIPELINE_TAG.to_string(), crate::names::RESOURCE_TAG.to_string()];
    if ec2 {
        keys.push("Name".to_string());
    }
    if emr {
        keys.push(crate::names::EMR_MANAGED_TAG.0.to_string());
    }
    keys
}

/// Every resource of the spec whose tags a service limits, or that carries the most tags pipectl
/// adds (the network, a cluster).
fn tagged(spec: &Spec) -> Vec<Tagged<'_>> {
    type Section<'a> = (&'static str, &'static str, Service, Vec<(&'a String, &'a BTreeMap<String, String>)>);
    let sections: [Section<'_>; 5] = [
        ("buckets", "bucket", Service::S3, spec.buckets.iter().map(|b| (&b.name, &b.tags)).collect()),
        ("streams", "stream", Service::Kinesis, spec.streams.iter().map(|s| (&s.name, &s.tags)).collect()),
        ("deliveries", "delivery", Service::Firehose, spec.deliveries.iter().map(|d| (&d.name, &d.tags)).collect()),
        ("roles", "role", Service::Iam, spec.roles.iter().map(|r| (&r.name, &r.tags)).collect()),
        ("warehouses", "warehouse", Service::Redshift, spec.warehouses.iter().map(|w| (&w.name, &w.tags)).collect()),
    ];
    let mut resources = Vec::new();
    let own = |what: String, path: String, tags, service, pipectl| Tagged {
        what,
        path: Some(path),
        own: Some(tags),
        service,
        pipectl,
    };
    for (section, noun, service, items) in sections {
        for (index, (name, tags)) in items.into_iter().enumerate() {
            let path = format!("{section}[{index}].tags");
            resources.push(own(format!("{noun} `{name}`"), path, tags, service, pipectl_keys(false, false)));
        }
    }
    for (index, cluster) in spec.clusters.iter().enumerate() {
        let mut keys = pipectl_keys(false, true);
        // A scale record per group `scale`, a schedule or a job may resize, and the HDFS
        // replication recorded at launch.
        keys.push(crate::names::HDFS_REPLICATION_TAG.to_string());
        keys.push(crate::names::scale_tag("core"));
        keys.extend(cluster.task_groups.iter().map(|group| crate::names::scale_tag(&group.name)));
        let path = format!("clusters[{index}].tags");
        resources.push(own(format!("cluster `{}`", cluster.name), path, &cluster.tags, Service::Emr, keys));
    }
    // Roles pipectl derives (for deliveries, clusters, jobs) carry the spec's tags only.
    if !spec.deliveries.is_empty() || !spec.clusters.is_empty() {
        let keys = pipectl_keys(false, false);
        resources.push(Tagged {
            what: "the roles pipectl derives".into(),
            path: None,
            own: None,
            service: Service::Iam,
            pipectl: keys,
        });
    }
    if spec.network.is_some() {
        let keys = pipectl_keys(true, !spec.clusters.is_empty());
        resources.push(Tagged {
            what: "the network".into(),
            path: None,
            own: None,
            service: Service::Ec2,
            pipectl: keys,
        });
    }
    resources
}

/// The merged tags of every resource: at most 50, and only characters its service takes. A
/// problem of the spec's `tags:` is reported once, naming every service that refuses it.
pub(super) fn check(spec: &Spec, problems: &mut Problems) {
    // Path of a tag → the services that refuse it, the characters they refuse, and the value.
    let mut refused: BTreeMap<String, (BTreeSet<Service>, BTreeSet<char>, String)> = BTreeMap::new();
    for resource in tagged(spec) {
        let mut keys: BTreeSet<&str> = spec.tags.keys().map(String::as_str).collect();
        keys.extend(resource.own.into_iter().flat_map(|tags| tags.keys().map(String::as_str)));
        keys.extend(resource.pipectl.iter().map(String::as_str));
        if keys.len() > MAX_TAGS_PER_RESOURCE {
            let own = resource.own.map_or(0, BTreeMap::len);
            problems.add(
                resource.path.clone().unwrap_or_else(|| "tags".to_string()),
                format!(
                    "{} would carry {} tags (the spec's `tags:` {}, its own {own}, pipectl's {}: {}); {} allows {MAX_TAGS_PER_RESOURCE} per resource",
                    resource.what,
                    keys.len(),
                    spec.tags.len(),
                    resource.pipectl.len(),
                    resource.pipectl.join(", "),
                    resource.service.name()
                ),
            );
        }
        let spec_tags = spec.tags.iter().map(|tag| ("tags".to_string(), tag));
        let own_path = resource.path.clone().unwrap_or_default();
        let own_tags = resource.own.into_iter().flatten().map(|tag| (own_path.clone(), tag));
        for (path, (key, value)) in spec_tags.chain(own_tags) {
            let bad: BTreeSet<char> =
                resource.service.refused(key).union(&resource.service.refused(value)).copied().collect();
            if !bad.is_empty() {
                let entry = refused
                    .entry(format!("{path}.{key}"))
                    .or_insert_with(|| (BTreeSet::new(), BTreeSet::new(), value.clone()));
                entry.0.insert(resource.service);
                entry.1.extend(bad);
            }
        }
    }
    for (path, (services, characters, value)) in refused {
        let characters: Vec<String> = characters.iter().map(|c| format!("`{c}`")).collect();
        let services: Vec<&str> = services.into_iter().map(Service::name).collect();
        problems.add(
            path,
            format!(
                "`{value}` holds {} that {} refuse{} in tags (allowed: letters, digits, spaces and _ . : / = + - @, and % for Kinesis and Firehose)",
                characters.join(", "),
                services.join(", "),
                if services.len() == 1 { "s" } else { "" }
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::checks::testing::{paths, problems, HEAD};

    #[test]
    fn a_tag_value_s3_kinesis_and_emr_refuse_is_reported_once_with_every_service() {
        let yaml = format!(
            "{HEAD}tags:\n  owner: \"Data Platform (Jane, #data)\"\n  team: data\nbuckets:\n  - name: demo-lake\nstreams:\n  - {{name: events}}\n"
        );
        let found = problems(&yaml);
        assert_eq!(paths(&yaml), ["tags.owner"], "{found:?}");
        let message = &found[0].message;
        assert!(message.contains("holds `#`, `(`, `)`, `,` that"), "{message}");
        assert!(message.contains("S3, Kinesis refuse"), "{message}");
    }

    #[test]
    fn a_percent_sign_is_refused_by_s3_but_not_by_kinesis() {
        let yaml = format!(
            "{HEAD}buckets:\n  - name: demo-lake\n    tags: {{share: \"10%\"}}\nstreams:\n  - name: events\n    tags: {{share: \"10%\"}}\n"
        );
        assert_eq!(paths(&yaml), ["buckets[0].tags.share"]);
    }

    #[test]
    fn the_spec_tags_and_a_resources_own_tags_count_together_with_pipectls() {
        let spec_tags: String = (0..30).map(|i| format!("  s{i:02}: v\n")).collect();
        let own_tags: String = (0..19).map(|i| format!("      o{i:02}: v\n")).collect();
        let yaml = format!("{HEAD}tags:\n{spec_tags}streams:\n  - name: events\n    tags:\n{own_tags}");
        let found = problems(&yaml);
        assert_eq!(paths(&yaml), ["streams[0].tags"], "{found:?}");
        assert!(
            found[0].message.contains("would carry 51 tags (the spec's `tags:` 30, its own 19, pipectl's 2"),
            "{found:?}"
        );
        let fewer: String = (0..18).map(|i| format!("      o{i:02}: v\n")).collect();
        assert!(problems(&format!("{HEAD}tags:\n{spec_tags}streams:\n  - name: events\n    tags:\n{fewer}")).is_empty());
    }
}

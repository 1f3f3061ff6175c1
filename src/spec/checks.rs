//! What every section's checks share: the problem they report, the list that collects them in
//! document order, and the rules that are the same everywhere — tags, unique names, resource
//! names and references to another section's names.

use std::collections::{BTreeMap, HashSet};

use super::suggest::did_you_mean;

/// AWS allows 50 tags per resource; pipectl uses 2 of them.
pub const MAX_USER_TAGS: usize = 48;

/// One problem found in a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

/// The problems found so far, in the order the checks ran (`load` sorts them by place and keeps
/// that order among problems at one place).
#[derive(Default)]
pub(super) struct Problems(Vec<Problem>);

impl Problems {
    pub(super) fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem { path: path.into(), message: message.into() });
    }

    pub(super) fn into_vec(self) -> Vec<Problem> {
        self.0
    }
}

/// A resource's tags (`path` is the map's): how many, their keys and their values.
pub(super) fn check_tags(path: &str, tags: &BTreeMap<String, String>, problems: &mut Problems) {
    if tags.len() > MAX_USER_TAGS {
        problems.add(path, format!("{} tags; AWS allows {MAX_USER_TAGS} besides pipectl's own", tags.len()));
    }
    for (key, value) in tags {
        let key_path = format!("{path}.{key}");
        if key.is_empty() || key.chars().count() > 128 {
            problems.add(&key_path, "tag keys must be 1-128 characters");
        }
        if key.starts_with("aws:") || key.starts_with("pipectl:") {
            problems.add(&key_path, "the `aws:` and `pipectl:` tag prefixes are reserved");
        }
        if value.chars().count() > 256 {
            problems.add(&key_path, "tag values must be at most 256 characters");
        }
    }
}

/// Names of one list (`path` is the list's) that are taken by an earlier item.
pub(super) fn check_unique<'a>(path: &str, names: impl Iterator<Item = &'a str>, problems: &mut Problems) {
    let mut seen = HashSet::new();
    for (index, name) in names.enumerate() {
        if !seen.insert(name) {
            problems.add(format!("{path}[{index}].name"), format!("duplicate name `{name}`"));
        }
    }
}

/// A name pipectl puts into the names it derives: letters, digits, `-` and `_`.
pub(super) fn check_resource_name(path: &str, name: &str, problems: &mut Problems) {
    let valid = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        problems.add(
            path,
            format!(
                "`{name}` is not a valid name: use 1-63 letters, digits, `-` and `_`, starting with a letter or digit"
            ),
        );
    }
}

/// A reference to a `kind` of the spec by `name`, which must be one of `known`.
pub(super) fn check_reference(path: &str, kind: &str, name: &str, known: &[&str], problems: &mut Problems) {
    if !known.contains(&name) {
        let hint =
            did_you_mean(name, known.iter().copied()).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
        problems.add(path, format!("no {kind} named `{name}` in this spec{hint}"));
    }
}

/// Helpers for the sections' tests: validate a spec written as YAML and look at what it says.
#[cfg(test)]
pub(super) mod testing {
    use super::Problem;
    use crate::spec::Spec;

    /// The head of every test spec: pipeline `demo` in `eu-west-1`.
    pub const HEAD: &str = "version: 1\npipeline: demo\nregion: eu-west-1\n";

    pub fn problems(yaml: &str) -> Vec<Problem> {
        let spec: Spec = serde_saphyr::from_str(yaml).expect("test YAML parses");
        crate::spec::validate(&spec)
    }

    pub fn paths(yaml: &str) -> Vec<String> {
        problems(yaml).into_iter().map(|problem| problem.path).collect()
    }

    pub fn messages(yaml: &str) -> Vec<String> {
        problems(yaml).into_iter().map(|p| format!("{}: {}", p.path, p.message)).collect()
    }

    /// A spec with one cluster in subnet `a`: `network` extra keys and `cluster` extra keys.
    pub fn cluster_spec(subnet: &str, network: &str, cluster: &str) -> String {
        format!("{HEAD}network:\n  vpc: {{cidr: 10.0.0.0/16}}\n  subnets:\n    - {{name: a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a{subnet}}}\n{network}clusters:\n  - name: spark\n    release: emr-7.2.0\n    applications: [Spark]\n    subnet: a\n    master: {{type: m5.xlarge}}\n    core: {{type: m5.xlarge, nodes: 2}}\n    task_groups: [{{name: batch, type: m5.xlarge, nodes: 0}}]\n{cluster}")
    }
}

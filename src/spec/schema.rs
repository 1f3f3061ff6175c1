//! The JSON Schema of the spec, generated from the serde types of the section files (`pipeline.rs`
//! and the sections below it; their doc comments become descriptions), so editors can complete
//! and check a spec as it is typed.
//!
//! It is the one description of the spec's shape: `pipectl schema` prints it, the repository
//! commits it (`schema/pipectl.schema.json`, checked current by a test), and `structure.rs`
//! walks a document against it to report every structural mistake at once.
//!
//! Draft 7, because it is the newest draft every common YAML editor integration
//! (yaml-language-server, IntelliJ) understands fully.

use schemars::generate::SchemaSettings;
use serde_json::Value;

use super::buckets::{BUCKET_NAME_PATTERN, MAX_LIFECYCLE_DAYS, STORAGE_CLASSES};
use super::clusters::{MAX_EBS_GIB, MAX_GROUP_NODES};
use super::ingest::MAX_BURST;
use super::pipeline::Spec;
use super::streams::{MAX_RETENTION_HOURS, MAX_SHARDS, MIN_RETENTION_HOURS};
use crate::calendar::CRON_PATTERN;

/// The file name `pipectl init` writes the schema to, beside the spec.
pub const SCHEMA_FILE: &str = "pipectl.schema.json";
/// The first line of templates/ and examples/: the schema committed in this repository.
pub const SCHEMA_COMMENT_IN_REPOSITORY: &str = "# yaml-language-server: $schema=../schema/pipectl.schema.json";
/// What `pipectl init` puts there instead: the schema file it writes beside the spec.
pub const SCHEMA_COMMENT_BESIDE_SPEC: &str = "# yaml-language-server: $schema=pipectl.schema.json";

/// The schema of a version-1 spec.
pub fn spec_schema() -> Value {
    let settings = SchemaSettings::draft07().for_deserialize();
    let mut schema = settings.into_generator().into_root_schema_for::<Spec>().to_value();
    if let Some(object) = schema.as_object_mut() {
        object.insert("title".to_string(), Value::String("pipectl pipeline spec (version 1)".to_string()));
    }
    for (definition, property, rule) in &LIMITS {
        let field = schema.pointer_mut(&format!("/definitions/{definition}/properties/{property}"));
        if let Some(Value::Object(field)) = field {
            rule.state(field);
        }
    }
    bound_int64(&mut schema);
    sort_keys(&mut schema);
    schema
}

/// A rule validation enforces on a value that a JSON Schema can state.
enum Rule {
    /// Whole numbers from one bound to the other, both included.
    Range(i64, i64),
    /// Text that matches (ECMA-262, as JSON Schema reads it).
    Pattern(&'static str),
    /// One of these words.
    OneOf(&'static [&'static str]),
}

impl Rule {
    fn state(&self, field: &mut serde_json::Map<String, Value>) {
        match self {
            Rule::Range(minimum, maximum) => {
                field.insert("minimum".to_string(), Value::from(*minimum));
                field.insert("maximum".to_string(), Value::from(*maximum));
            }
            Rule::Pattern(pattern) => {
                field.insert("pattern".to_string(), Value::from(*pattern));
            }
            Rule::OneOf(words) => {
                field.insert("enum".to_string(), Value::from(words.to_vec()));
            }
        }
    }
}

/// What validation enforces that the schema states too, so that an editor refuses `shards: 0`
/// as pipectl does: by definition and property, from the constants validation checks against
/// (the one source of each bound). A bound that depends on another field (a transition to an
/// `_IA` class waits 30 days) is stated at its loosest; a pattern is what a name or cron must at
/// least look like, and validation says the rest.
const LIMITS: [(&str, &str, Rule); 14] = [
    ("Stream", "shards", Rule::Range(1, MAX_SHARDS)),
    ("Stream", "retention_hours", Rule::Range(MIN_RETENTION_HOURS, MAX_RETENTION_HOURS)),
    ("Bucket", "name", Rule::Pattern(BUCKET_NAME_PATTERN)),
    ("Bucket", "abort_incomplete_uploads_days", Rule::Range(0, MAX_LIFECYCLE_DAYS)),
    ("Bucket", "noncurrent_versions_expire_days", Rule::Range(0, MAX_LIFECYCLE_DAYS)),
    ("LifecycleRule", "expiration_days", Rule::Range(1, MAX_LIFECYCLE_DAYS)),
    ("Transition", "days", Rule::Range(0, MAX_LIFECYCLE_DAYS)),
    ("Transition", "storage_class", Rule::OneOf(&STORAGE_CLASSES)),
    ("CoreGroup", "nodes", Rule::Range(1, MAX_GROUP_NODES)),
    ("CoreGroup", "ebs_gib", Rule::Range(1, MAX_EBS_GIB)),
    ("TaskGroup", "nodes", Rule::Range(0, MAX_GROUP_NODES)),
    ("Schedule", "cron", Rule::Pattern(CRON_PATTERN)),
    ("Job", "cron", Rule::Pattern(CRON_PATTERN)),
    ("Throttle", "burst", Rule::Range(1, MAX_BURST as i64)),
];

/// Keys in sorted order, whatever serde_json's `preserve_order` feature (which other crates
/// may switch on) makes of maps: the committed file must not depend on the build.
fn sort_keys(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            object.sort_keys();
            object.values_mut().for_each(sort_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// `format: int64` is only an annotation to validators: say the range serde reads as bounds.
fn bound_int64(schema: &mut Value) {
    match schema {
        Value::Object(object) => {
            if object.get("format").and_then(Value::as_str) == Some("int64") {
                object.entry("minimum").or_insert(Value::from(i64::MIN));
                object.entry("maximum").or_insert(Value::from(i64::MAX));
            }
            object.values_mut().for_each(bound_int64);
        }
        Value::Array(items) => items.iter_mut().for_each(bound_int64),
        _ => {}
    }
}

/// The schema as `pipectl schema` prints it and the repository commits it.
pub fn spec_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&spec_schema()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::checks::testing::{cluster_spec, paths, HEAD};

    #[test]
    fn every_limit_is_in_the_schema() {
        let schema = spec_schema();
        for (definition, property, _) in &LIMITS {
            let field = schema.pointer(&format!("/definitions/{definition}/properties/{property}"));
            let stated =
                field.is_some_and(|field| ["minimum", "pattern", "enum"].iter().any(|k| field.get(k).is_some()));
            assert!(stated, "{definition}.{property}: no such field in the schema, or no limit on it");
        }
        let shards = schema.pointer("/definitions/Stream/properties/shards").expect("shards");
        assert_eq!((shards["minimum"].as_i64(), shards["maximum"].as_i64()), (Some(1), Some(MAX_SHARDS)));
    }

    /// A spec with `value` in the field `definition.property`, and the path validation reports
    /// a problem with it at.
    fn sample(definition: &str, property: &str, value: i64) -> (String, String) {
        let lake = "buckets:\n  - name: sample-lake\n";
        match (definition, property) {
            ("Stream", _) => (format!("{HEAD}streams:\n  - name: s\n    {property}: {value}\n"), format!("streams[0].{property}")),
            ("Bucket", _) => (format!("{HEAD}{lake}    {property}: {value}\n"), format!("buckets[0].{property}")),
            ("LifecycleRule", _) => (
                format!("{HEAD}{lake}    lifecycle: [{{prefix: raw/, {property}: {value}}}]\n"),
                format!("buckets[0].lifecycle[0].{property}"),
            ),
            ("Transition", _) => (
                format!("{HEAD}{lake}    lifecycle: [{{prefix: raw/, transitions: [{{storage_class: GLACIER, {property}: {value}}}]}}]\n"),
                format!("buckets[0].lifecycle[0].transitions[0].{property}"),
            ),
            ("CoreGroup", _) => {
                let spec = cluster_spec("", "", "").replace("core: {type: m5.xlarge, nodes: 2}", &format!("core: {{type: m5.xlarge, nodes: 2, {property}: {value}}}"));
                let spec = if property == "nodes" { spec.replace("nodes: 2, nodes:", "nodes:") } else { spec };
                (spec, format!("clusters[0].core.{property}"))
            }
            ("TaskGroup", _) => (
                cluster_spec("", "", "").replace("nodes: 0}", &format!("nodes: {value}}}")),
                format!("clusters[0].task_groups[0].{property}"),
            ),
            ("Throttle", _) => (
                format!("{HEAD}streams: [{{name: s}}]\ningest:\n  throttle: {{rate: 1, {property}: {value}}}\n  routes: [{{stream: s}}]\n"),
                format!("ingest.throttle.{property}"),
            ),
            _ => panic!("no sample spec for {definition}.{property}"),
        }
    }

    /// The schema's bounds are the ones validation enforces: each bound is accepted, and one
    /// past it refused at that field.
    #[test]
    fn the_schema_bounds_are_the_bounds_validation_enforces() {
        for (definition, property, rule) in &LIMITS {
            let Rule::Range(minimum, maximum) = rule else { continue };
            for (value, refused) in [(minimum - 1, true), (*minimum, false), (*maximum, false), (maximum + 1, true)] {
                let (spec, path) = sample(definition, property, value);
                let found = paths(&spec);
                assert_eq!(found.contains(&path), refused, "{definition}.{property} = {value}: {found:?}");
            }
        }
    }

    /// An independent validator (what an editor runs) refuses what pipectl refuses.
    #[test]
    fn an_editor_refuses_out_of_range_values_and_aws_cron() {
        let validator = jsonschema::validator_for(&spec_schema()).expect("a valid JSON Schema");
        let document = |yaml: &str| serde_saphyr::from_str::<Value>(yaml).expect("YAML");
        let stream = |shards: i64| document(&format!("{HEAD}streams:\n  - name: s\n    shards: {shards}\n"));
        assert!(validator.is_valid(&stream(1)));
        assert!(!validator.is_valid(&stream(0)));
        assert!(!validator.is_valid(&stream(MAX_SHARDS + 1)));
        let bucket = |name: &str| document(&format!("{HEAD}buckets:\n  - name: {name}\n"));
        assert!(validator.is_valid(&bucket("acme-lake")));
        assert!(!validator.is_valid(&bucket("Acme-Lake")));
        let cluster = |cron: &str| {
            let spec = cluster_spec(
                "",
                "",
                &format!("    schedules:\n      - {{name: night, cron: '{cron}', group: batch, nodes: 4, for: 4h}}\n"),
            );
            document(&spec)
        };
        assert!(validator.is_valid(&cluster("0 22 * * MON-FRI")));
        for aws in ["cron(0 22 ? * 2-6 *)", "0 22 ? * 2-6 *", "rate(1 day)", "*/5 22 * * *"] {
            assert!(!validator.is_valid(&cluster(aws)), "{aws}");
            assert!(crate::calendar::parse_cron(aws).is_err(), "{aws}");
        }
    }
}

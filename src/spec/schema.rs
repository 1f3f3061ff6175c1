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

use super::pipeline::Spec;

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
    bound_int64(&mut schema);
    sort_keys(&mut schema);
    schema
}

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

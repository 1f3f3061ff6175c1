//! The pipeline spec: the YAML model, loading with source positions, and validation.
//!
//! Callers use `load_file`; everything it returns has passed validation, so later stages can rely
//! on names being unique, references resolving and numbers being in range.

mod alarms;
#[cfg(test)]
mod builder;
mod catalog;
mod cidr;
mod group;
mod load;
mod query;
mod schema;
mod source;
mod structure;
mod suggest;
mod types;
mod validate;

pub use alarms::{condition_words, derived_alarms, AlarmSpec, Alarms, Subscription, Watched};
#[cfg(test)]
pub use builder::SpecBuilder;
pub use catalog::{
    canonical_type, cluster_configurations, conversion_table, database_name, projection_range, table_compression,
    table_layout, DatePartition, Layout, GLUE_METASTORE_CLASSIFICATIONS, GLUE_METASTORE_FACTORY,
};
pub use group::{Cap, CapSource, Group, DEFAULT_CAP_FACTOR, DEFAULT_CAP_FLOOR};
pub use load::{load_bytes, load_file, Diagnostic, LoadedSpec, SpecError};
pub use query::{
    bytes_scanned_cutoff, marked_description, query_database, results_bucket, results_encryption, results_location,
    unmarked_description, with_derived_rules,
};
pub use schema::{spec_schema_text, SCHEMA_COMMENT_BESIDE_SPEC, SCHEMA_COMMENT_IN_REPOSITORY, SCHEMA_FILE};
pub use types::*;
pub use validate::{port_range, validate, Problem};

//! The pipeline spec: the YAML model, loading with source positions, and validation.
//!
//! Callers use `load_file`; everything it returns has passed validation, so later stages can rely
//! on names being unique, references resolving and numbers being in range.

mod alarm_windows;
mod alarms;
#[cfg(test)]
mod builder;
mod catalog;
mod cidr;
mod group;
mod jobs;
mod load;
mod query;
mod schema;
mod source;
mod structure;
mod suggest;
mod types;
mod validate;

pub use alarm_windows::{
    expression as window_expression, parse_expression as parse_window_expression, Span, METRIC_ID, MINUTE_OF_WEEK,
    MINUTE_OF_WEEK_ID, WATCHED_ID,
};
pub use alarms::{condition_words, derived_alarms, during_words, AlarmSpec, Alarms, Subscription, Watched};
#[cfg(test)]
pub use builder::SpecBuilder;
pub use catalog::{
    canonical_type, cluster_configurations, conversion_table, crawler_folder, crawler_schedule, database_name,
    projection_range, table_compression, table_layout, Crawler, DatePartition, Layout, GLUE_METASTORE_CLASSIFICATIONS,
    GLUE_METASTORE_FACTORY,
};
pub use group::{Cap, CapSource, Group, DEFAULT_CAP_FACTOR, DEFAULT_CAP_FLOOR};
pub use jobs::{script_location, spark_submit_args, ActionOnFailure, Job, JobStep, GUARD_DELAY_SECONDS};
pub use load::{load_bytes, load_file, Diagnostic, LoadedSpec, SpecError};
pub use query::{
    bytes_scanned_cutoff, engine_version, marked_description, query_database, results_bucket, results_encryption,
    results_location, unmarked_description, with_derived_rules, ENGINE_VERSIONS,
};
pub use schema::{spec_schema_text, SCHEMA_COMMENT_BESIDE_SPEC, SCHEMA_COMMENT_IN_REPOSITORY, SCHEMA_FILE};
pub use types::*;
pub use validate::{open_schedule_windows, port_range, validate, windows_overlapping, Problem};

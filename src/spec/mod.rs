//! The pipeline spec: the YAML model, loading with source positions, and validation.
//!
//! Callers use `load_file`; everything it returns has passed validation, so later stages can rely
//! on names being unique, references resolving and numbers being in range.
//!
//! One file per section holds its serde types, their defaults and derived values, and its checks
//! (`pipeline` is the root; `network`, `buckets`, `streams`, `deliveries`, `iam`, `clusters` with
//! `group`, `schedules` and `jobs`, `catalog` with `crawlers`, `query`, `alarms`); `validate` runs
//! the checks and `checks` holds what they share. Every struct denies unknown fields so that a typo
//! is an error with a location, not a silently ignored setting. Numbers that AWS bounds are read as
//! wide integers and range-checked by the checks, so that an out-of-range value gets a message that
//! names the limit. Defaults fill only what the user left unset. Time (cron, windows, clock
//! changes) is the `calendar`'s.

mod alarms;
mod buckets;
#[cfg(test)]
mod builder;
mod catalog;
mod checks;
mod cidr;
mod clusters;
mod crawlers;
mod deliveries;
mod derived;
mod group;
mod iam;
mod ingest;
mod jobs;
mod kms;
mod load;
mod network;
mod partitioning;
mod pipeline;
mod query;
mod reach;
mod schedules;
mod schema;
mod source;
mod streams;
mod structure;
mod suggest;
mod tag_limits;
mod validate;
mod warehouses;
mod wildcards;

pub use alarms::{
    cluster_alarms, condition_words, dead_letter_alarm, delivery_alarms, derived_alarms, during_words, enabled_alarms,
    ingest_alarms, job_alarms, stream_alarms, warehouse_alarms, AlarmSpec, Alarms, IngestAlarms, Subscription, Watched,
};
pub use buckets::{Bucket, BucketEncryption, LifecycleRule, Transition};
#[cfg(test)]
pub use builder::SpecBuilder;
pub use catalog::{
    canonical_type, cluster_configurations, conversion_table, database_name, projection_ranges, table_compression,
    table_layout, Catalog, CatalogTable, Column, TableFormat, TableLocation, GLUE_METASTORE_CLASSIFICATIONS,
    GLUE_METASTORE_FACTORY,
};
pub use checks::Problem;
pub use clusters::{
    managed_scaling_refusal, open_schedule_windows, replication_floor, windows_overlapping, write_location,
    BootstrapAction, Cluster, ClusterLogs, Configuration, CoreGroup, ManagedScaling, Market, MasterGroup, TaskGroup,
};
pub use crawlers::{crawler_folder, crawler_schedule, Crawler};
pub use deliveries::{
    static_part, Buffer, Compression, Delivery, DeliveryEncryption, DeliveryTarget, ParquetCompression, WarehouseTarget,
};
pub use group::{Cap, CapSource, Group, DEFAULT_CAP_FACTOR, DEFAULT_CAP_FLOOR};
pub use iam::{Effect, Iam, Role, Statement};
pub use ingest::{
    AccessLogs, ApiKeys, Cors, Domain, Ingest, PartitionKeySource, Quota, QuotaPeriod, Route, Throttle,
    LOG_RETENTION_DAYS,
};
pub use jobs::{script_location, spark_submit_args, ActionOnFailure, Job, JobStep, GUARD_DELAY_SECONDS};
pub use load::{load_bytes, load_file, Diagnostic, LoadedSpec, SpecError};
pub use network::{port_range, Nat, Network, Ports, Rule, SecurityGroup, Subnet, Vpc};
pub use partitioning::{layout, DatePartition, Layout, PartitionKey, Projection};
pub use pipeline::Spec;
pub use query::{
    bytes_scanned_cutoff, engine_version, marked_description, query_database, results_bucket, results_encryption,
    results_location, unmarked_description, with_derived_rules, NamedQuery, Query, Size, ENGINE_VERSIONS,
};
pub use schedules::Schedule;
pub use schema::{spec_schema_text, SCHEMA_COMMENT_BESIDE_SPEC, SCHEMA_COMMENT_IN_REPOSITORY, SCHEMA_FILE};
pub use streams::{Stream, StreamEncryption, StreamMode};
pub use validate::validate;
pub use warehouses::{firehose_cidr, Warehouse, WAREHOUSE_PORT};

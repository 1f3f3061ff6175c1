//! Integration tests: the real `pipectl` binary against real emulators (LocalStack and moto's
//! server, started by `localstack/start.sh`), checking what the emulator holds afterwards.
//! `tests/run.sh` starts the emulators and runs these; a bare `cargo test` without emulators skips
//! the tests that need them and says so in one line (`require!`); see `support` for the helpers.

#[macro_use]
mod support;

mod action_table;
mod adopt;
mod alarms;
mod bad_specs;
mod bucket_policy;
mod bucket_safety;
mod catalog;
mod ci_recipes;
mod cli;
mod cluster;
mod consistency;
mod crawler;
mod delivery;
mod discovery;
mod fidelity;
mod graph;
mod guardrails;
mod ingest;
mod jobs;
mod lake;
mod lifecycle;
mod locks;
mod managed_scaling;
mod network;
mod output;
mod ownership;
mod parquet;
mod permissions;
mod planfile;
mod proxy;
mod query;
mod regions;
mod reliability;
mod remains;
mod requests;
mod review;
mod schedules;
mod status;
mod tagging;
mod templates;
mod verify;
mod warehouse;

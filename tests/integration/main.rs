//! Integration tests: the real `pipectl` binary against real emulators (LocalStack and moto's
//! server, started by `localstack/start.sh`), checking what the emulator holds afterwards.
//! `tests/run.sh` starts the emulators and runs these; see `support` for the helpers.

#[macro_use]
mod support;

mod bad_specs;
mod cli;
mod cluster;
mod delivery;
mod fidelity;
mod lake;
mod lifecycle;
mod network;
mod ownership;
mod permissions;
mod regions;
mod reliability;
mod schedules;
mod tagging;

//! pipectl as a library: the binary in `main.rs` is a thin shell over `cli::run`. Being a
//! library lets fuzz targets and benchmarks reach the spec loader and planner directly.

pub mod aws;
pub mod calendar;
pub mod cli;
pub mod commands;
pub mod execute;
pub mod iam;
pub mod model;
pub mod names;
pub mod plan;
pub mod pricing;
pub mod progress;
pub mod render;
pub mod resources;
pub mod spec;

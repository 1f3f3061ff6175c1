//! pipectl as a library: the binary in `main.rs` is a thin shell over `app::run`. Being a library
//! lets fuzz targets and benchmarks reach the spec loader and planner directly.

pub mod adopt;
pub mod app;
pub mod apply;
pub mod aws;
pub mod calls;
pub mod cli;
pub mod cron;
pub mod duration;
pub mod http;
pub mod lock;
pub mod model;
pub mod names;
pub mod permissions;
pub mod plan;
pub mod planfile;
pub mod policy;
pub mod pricing;
pub mod progress;
pub mod render;
pub mod resources;
pub mod run;
pub mod scale;
pub mod shell;
pub mod spec;
pub mod templates;

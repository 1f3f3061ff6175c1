//! `pipectl validate`: load and check the spec, with no AWS call; every problem at once, with
//! `file:line:column`, exit 1.

use super::{CommandError, GlobalArgs, Status};
use crate::resources::desired_graph;
use crate::spec::load_file;

pub fn exec(global: &GlobalArgs) -> Result<Status, CommandError> {
    let loaded = load_file(&global.file)?;
    let graph = desired_graph(&loaded.spec, &loaded.spec.region, chrono::Utc::now());
    println!(
        "{}: pipeline \"{}\" is valid ({} resources in {}).",
        loaded.file.display(),
        loaded.spec.pipeline,
        graph.len(),
        loaded.spec.region
    );
    Ok(Status::Success)
}

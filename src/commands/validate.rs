//! `pipectl validate`: load and check the spec, with no AWS call; every problem at once, with
//! `file:line:column`, exit 1.

use super::{emit, CommandError, GlobalArgs, Status};
use crate::resources::desired_graph;
use crate::spec::load_file;

pub fn exec(global: &GlobalArgs) -> Result<Status, CommandError> {
    let loaded = load_file(global.spec_file())?;
    let graph = desired_graph(&loaded.spec, &loaded.spec.region, chrono::Utc::now());
    let line = format!(
        "{}: pipeline \"{}\" is valid ({} resources in {}).\n",
        loaded.file.display(),
        loaded.spec.pipeline,
        graph.len(),
        loaded.spec.region
    );
    emit(line.as_bytes())
}

//! `pipectl schema`: the JSON Schema of the spec, generated from the spec's own types, for
//! editors (yaml-language-server, IntelliJ).

use super::{emit, CommandError, Status};

pub fn exec() -> Result<Status, CommandError> {
    emit(crate::spec::spec_schema_text().as_bytes())
}

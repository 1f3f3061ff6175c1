//! The machine-readable plan and apply report (`--output json`). The format is documented in
//! docs/commands.md; `format_version` changes if a field changes meaning.

use serde_json::{json, Value};

use crate::plan::{ApplyReport, Plan};

pub const FORMAT_VERSION: u32 = 1;

pub fn plan_json(plan: &Plan) -> Value {
    let mut value = json!({ "format_version": FORMAT_VERSION });
    if let (Some(object), Ok(Value::Object(plan))) = (value.as_object_mut(), serde_json::to_value(plan)) {
        object.extend(plan);
    }
    value
}

pub fn report_json(plan: &Plan, report: &ApplyReport) -> Value {
    json!({
        "format_version": FORMAT_VERSION,
        "pipeline": plan.pipeline,
        "succeeded": report.succeeded(),
        "interrupted": report.interrupted,
        "stopped": report.stopped,
        "results": report.results,
    })
}

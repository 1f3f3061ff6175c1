//! Time as the spec speaks it: durations (`90m`, `2h`), cron expressions and their EventBridge
//! form, time zones. The one place validation, schedules, jobs, scale, run and alarms ask.

mod cron;
mod duration;

pub use cron::{parse_cron, parse_timezone, replication_floor, Cron};
pub use duration::parse_duration;

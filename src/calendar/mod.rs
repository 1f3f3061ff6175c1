//! Time as the spec speaks it: durations (`90m`, `2h`), cron expressions and their EventBridge
//! form, time zones and their clock changes, recurring windows placed on the real clock, and the
//! parts of the week an alarm watches. The one place validation, schedules, jobs, scale, run and
//! alarms ask. It knows no spec type: callers hand it cron text, zone names, lengths in seconds
//! and Unix times.

mod aws_form;
mod cron;
mod duration;
mod horizon;
mod spans;
mod windows;
mod zone;

pub use cron::{parse_cron, Cron, CRON_PATTERN};
pub use duration::{compact_duration, parse_duration};
pub use horizon::{horizon_start, HORIZON_DAYS};
pub use spans::{
    expression as window_expression, parse_expression as parse_window_expression, spans, words as span_words, Span,
    EXPRESSION_LIMIT, METRIC_ID, MINUTE_OF_WEEK, MINUTE_OF_WEEK_ID, WATCHED_ID, WEEK,
};
pub use windows::{
    first_overlap, is_open, longest_gap, overlapping, window_times, window_times_from, Labelled, Window,
};
pub use zone::{
    first_clock_change_at, observes_daylight_saving, offsets_in_year, parse_timezone, unix_time, ClockChange,
    LARGEST_CLOCK_CHANGE_SECONDS,
};

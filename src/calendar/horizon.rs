//! The stretch of time the calendar checks windows and clock changes over: two fixed years, so
//! that validation says the same every day.

use chrono::NaiveDate;

/// How many days from `horizon_start` windows are placed over: two years, so that every day of
/// the week, month and both clock changes of a year occur (twice).
pub const HORIZON_DAYS: usize = 731;

/// The first day of the horizon: a fixed date, so that validation says the same every day.
pub fn horizon_start() -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(2026, 1, 1)
}

//! AWS's published request rates for the reads pipectl repeats per resource, so that a plan on
//! an account of hundreds of streams paces itself instead of throttling itself (and every other
//! tool of the account). `--max-in-flight` bounds concurrency; this bounds the rate of each
//! operation that AWS limits per account, as its API reference states. Throttling that still
//! happens (another tool using the same quota) is retried with backoff by the SDK's standard
//! retry, which classifies `LimitExceededException` and `ThrottlingException` as throttling.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use std::time::Instant;

/// `service:Operation` → transactions per second per account, as documented:
/// - Kinesis API Reference: ListTagsForStream and ListStreams "a limit of five transactions per
///   second per account"; DescribeStreamSummary "a limit of 20 transactions per second per account".
/// - Firehose API Reference: ListTagsForDeliveryStream "a limit of five transactions per second
///   per account"; the Firehose quotas page gives DescribeDeliveryStream and ListDeliveryStreams
///   5 transactions per second each.
/// - API Gateway: every control-plane operation of an account together, 10 requests per second
///   (API Gateway Developer Guide, "Amazon API Gateway quotas": "total operations"), one key
///   for all of them.
const RATES: &[(&str, u32)] = &[
    ("kinesis:ListTagsForStream", 5),
    ("kinesis:ListStreams", 5),
    ("kinesis:DescribeStreamSummary", 20),
    ("firehose:ListTagsForDeliveryStream", 5),
    ("firehose:DescribeDeliveryStream", 5),
    ("firehose:ListDeliveryStreams", 5),
    ("apigateway:ControlPlane", 10),
];

/// The documented rate of `operation`, if AWS limits it.
pub fn documented_rate(operation: &str) -> Option<u32> {
    RATES.iter().find(|(name, _)| *name == operation).map(|&(_, rate)| rate)
}

/// Paces requests per operation: up to a second's worth at once, then one every 1/rate seconds
/// (a generic cell rate algorithm: `next` is when the next request is due).
#[derive(Debug, Default)]
pub struct Limiter {
    /// False against an emulator, which has no such limits.
    enabled: bool,
    next: Mutex<HashMap<&'static str, Instant>>,
}

impl Limiter {
    pub fn new(enabled: bool) -> Limiter {
        Limiter { enabled, next: Mutex::default() }
    }

    /// Waits until `operation` may be sent without exceeding its documented rate.
    pub async fn pace(&self, operation: &'static str) {
        if let Some(start) = self.slot(operation, Instant::now()) {
            tokio::time::sleep_until(start.into()).await;
        }
    }

    /// When a request of `operation` asked for at `now` may start (None: at once, unlimited).
    fn slot(&self, operation: &'static str, now: Instant) -> Option<Instant> {
        let rate = documented_rate(operation).filter(|_| self.enabled)?;
        let interval = Duration::from_secs(1) / rate;
        let burst = interval * (rate - 1);
        let mut next = self.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let due = next.get(operation).copied().unwrap_or(now).max(now);
        next.insert(operation, due + interval);
        Some(due.checked_sub(burst).unwrap_or(now).max(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The start times, from `now`, of requests asked for at `asked` (offsets from `now`).
    fn starts(limiter: &Limiter, operation: &'static str, now: Instant, asked: &[u64]) -> Vec<u64> {
        asked
            .iter()
            .map(|&ms| {
                let at = now + Duration::from_millis(ms);
                limiter.slot(operation, at).map_or(ms, |start| (start - now).as_millis() as u64)
            })
            .collect()
    }

    #[test]
    fn a_second_of_requests_at_once_then_the_documented_rate() {
        let limiter = Limiter::new(true);
        let now = Instant::now();
        // 8 tag reads asked for at once at 5 per second: 5 now, then one every 200 ms.
        assert_eq!(starts(&limiter, "kinesis:ListTagsForStream", now, &[0; 8]), [0, 0, 0, 0, 0, 200, 400, 600]);
        // After a quiet spell the burst is available again.
        assert_eq!(starts(&limiter, "kinesis:ListTagsForStream", now, &[5000, 5000]), [5000, 5000]);
        // DescribeStreamSummary is allowed 20 per second, paced on its own.
        assert_eq!(starts(&limiter, "kinesis:DescribeStreamSummary", now, &[0; 21])[20], 50);
    }

    #[test]
    fn only_operations_aws_limits_and_only_against_aws() {
        let now = Instant::now();
        assert_eq!(Limiter::new(true).slot("s3:GetBucketTagging", now), None);
        assert_eq!(starts(&Limiter::new(false), "firehose:ListTagsForDeliveryStream", now, &[0; 30])[29], 0);
        assert_eq!(documented_rate("firehose:ListTagsForDeliveryStream"), Some(5));
    }
}

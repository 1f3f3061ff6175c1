//! Waiting for AWS to finish something (a stream becoming ACTIVE, a reshard), with a deadline,
//! short polls that grow, and progress on stderr.

use std::future::Future;
use std::time::{Duration, Instant};

use super::AwsError;
use crate::model::ResourceId;
use crate::progress::Progress;

#[derive(Debug, Clone, Copy)]
pub struct WaitOptions {
    /// How long one resource may take to become ready.
    pub timeout: Duration,
    /// The first poll interval; each later one is 1.5 times longer, up to `max_interval`.
    pub first_interval: Duration,
    pub max_interval: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            timeout: Duration::from_secs(600),
            first_interval: Duration::from_millis(100),
            max_interval: Duration::from_secs(5),
        }
    }
}

/// What one poll saw.
pub enum Poll {
    Ready,
    /// Not yet; the text says what state it is in.
    Pending(String),
    /// It will never get there; the text says why.
    Failed(String),
}

/// Polls `check` until it is ready, fails, or the deadline passes.
pub async fn wait_until<F, Fut>(
    id: &ResourceId,
    goal: &str,
    options: WaitOptions,
    progress: &Progress,
    mut check: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Poll, AwsError>>,
{
    let started = Instant::now();
    let mut interval = options.first_interval;
    let mut last_report = Instant::now();
    loop {
        match check().await? {
            Poll::Ready => return Ok(()),
            Poll::Failed(reason) => return Err(AwsError::new(id, "wait", format!("did not become {goal}: {reason}"))),
            Poll::Pending(state) => {
                let elapsed = started.elapsed();
                if elapsed >= options.timeout {
                    return Err(AwsError::new(
                        id,
                        "wait",
                        format!(
                            "still {state} after {}s, not {goal} (raise --timeout to wait longer)",
                            elapsed.as_secs()
                        ),
                    ));
                }
                if last_report.elapsed() >= Duration::from_secs(5) {
                    progress.line(&format!("{id}: still {state}, waiting for {goal} ({}s elapsed)", elapsed.as_secs()));
                    last_report = Instant::now();
                }
            }
        }
        tokio::time::sleep(interval).await;
        interval = interval.mul_f64(1.5).min(options.max_interval);
    }
}

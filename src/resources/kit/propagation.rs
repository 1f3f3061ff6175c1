//! IAM is eventually consistent: a role or instance profile created seconds ago may not be
//! usable yet by the service it is passed to. Each service says so with its own error, which the
//! kind that passes the role recognises (its `role_not_ready`); this is the one place that
//! retries them, with a bounded, visible backoff.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::aws::AwsError;
use crate::progress::Progress;

/// How long a fresh role may take to be visible everywhere before the error is final.
const ROLE_PROPAGATION: Duration = Duration::from_secs(120);

/// Runs `call` until it succeeds, fails with anything but "role not ready", or the roles have
/// had `ROLE_PROPAGATION` to appear; says on `progress` why it waits.
pub async fn retry_while_role_propagates<T, F, Fut>(
    role_not_ready: fn(&AwsError) -> bool,
    what: &str,
    progress: &Progress,
    call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let started = Instant::now();
    let transient = |error: &AwsError| {
        (role_not_ready(error) && started.elapsed() < ROLE_PROPAGATION)
            .then(|| format!("{what}: the new role is not usable yet (IAM is eventually consistent)"))
    };
    retry_while(progress, (Duration::from_millis(500), Duration::from_secs(10)), transient, call).await
}

/// Runs `call` until it succeeds or fails with an error `transient` does not excuse. Each
/// excused error is said on `progress` with the reason `transient` gives, and waited out with a
/// pause that starts at `first` and doubles up to `longest`; `transient` bounds the whole.
pub(super) async fn retry_while<T, F, Fut>(
    progress: &Progress,
    (first, longest): (Duration, Duration),
    mut transient: impl FnMut(&AwsError) -> Option<String>,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let mut pause = first;
    loop {
        match call().await {
            Err(error) => {
                let Some(reason) = transient(&error) else { return Err(error) };
                progress.line(&format!("{reason}, retrying in {:.1}s", pause.as_secs_f64()));
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(longest);
            }
            done => return done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let not_ready = |error: &AwsError| error.message.contains("not yet");
        let mut calls = 0;
        let result: Result<(), AwsError> =
            retry_while_role_propagates(not_ready, "cluster/x", &Progress::new(false), || {
                calls += 1;
                async { Err(AwsError::new("x", "Op", "Invalid release label")) }
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn the_not_ready_error_is_retried_until_the_call_succeeds() {
        let not_ready = |error: &AwsError| error.message.contains("not yet");
        let mut calls = 0;
        let result = retry_while_role_propagates(not_ready, "cluster/x", &Progress::new(false), || {
            calls += 1;
            let attempt = calls;
            async move {
                if attempt < 2 {
                    Err(AwsError::new("x", "Op", "role not yet usable"))
                } else {
                    Ok(attempt)
                }
            }
        })
        .await;
        assert_eq!(result.unwrap(), 2, "one retry, half a second later");
    }
}

//! IAM is eventually consistent: a role or instance profile created seconds ago may not be
//! usable yet by the service it is passed to. Each service says so with its own error; this is
//! the one place that knows those errors and retries them with a bounded, visible backoff.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::aws::AwsError;
use crate::progress::Progress;

/// How long a fresh role may take to be visible everywhere before the error is final.
const ROLE_PROPAGATION: Duration = Duration::from_secs(120);

/// The service a fresh role is passed to: each reports "not yet" in its own words.
#[derive(Debug, Clone, Copy)]
pub enum RoleUser {
    /// Firehose: `InvalidArgumentException` saying the role cannot be assumed.
    Firehose,
    /// EMR `RunJobFlow`: `ValidationException` about the role or instance profile.
    Emr,
    /// EventBridge Scheduler: `ValidationException` saying the role cannot be assumed.
    Scheduler,
    /// Step Functions `CreateStateMachine`/`UpdateStateMachine`: `AccessDeniedException`
    /// "Neither the global service principal states.amazonaws.com, nor the regional one is
    /// authorized to assume the provided role" (the Terraform provider retries the same,
    /// hashicorp/terraform-provider-aws#7893).
    StepFunctions,
    /// Glue `CreateCrawler`/`UpdateCrawler`: `InvalidInputException` "Service is unable to
    /// assume provided role. Please verify role's TrustPolicy" (the Terraform provider retries
    /// the same, hashicorp/terraform-provider-aws#30371).
    Glue,
}

impl RoleUser {
    /// True for the error this service gives while a new role has not propagated.
    pub fn role_not_ready(self, error: &AwsError) -> bool {
        let message = error.message.to_lowercase();
        match self {
            RoleUser::Firehose => {
                error.has_code("InvalidArgumentException") && (message.contains("role") || message.contains("assume"))
            }
            RoleUser::Emr => {
                error.has_code("ValidationException")
                    && (message.contains("role")
                        || message.contains("instance profile")
                        || message.contains("instanceprofile"))
            }
            RoleUser::Scheduler => {
                error.has_code("ValidationException") && (message.contains("role") || message.contains("assume"))
            }
            RoleUser::StepFunctions => {
                error.has_code("AccessDeniedException") && message.contains("assume the provided role")
            }
            RoleUser::Glue => error.has_code("InvalidInputException") && message.contains("unable to assume"),
        }
    }
}

/// Runs `call` until it succeeds, fails with anything but "role not ready", or the roles have
/// had `ROLE_PROPAGATION` to appear; says on `progress` why it waits.
pub async fn retry_while_role_propagates<T, F, Fut>(
    user: RoleUser,
    what: &str,
    progress: &Progress,
    mut call: F,
) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(500);
    loop {
        match call().await {
            Err(error) if user.role_not_ready(&error) && started.elapsed() < ROLE_PROPAGATION => {
                progress.line(&format!(
                    "{what}: the new role is not usable yet (IAM is eventually consistent), retrying in {:.1}s",
                    pause.as_secs_f64()
                ));
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: &str, message: &str) -> AwsError {
        AwsError { code: Some(code.to_string()), ..AwsError::new("x", "Op", message) }
    }

    #[test]
    fn each_service_has_its_own_not_ready_error() {
        let firehose = error("InvalidArgumentException", "Firehose is unable to assume role arn:aws:iam::1:role/r");
        assert!(RoleUser::Firehose.role_not_ready(&firehose));
        assert!(!RoleUser::Emr.role_not_ready(&firehose));
        let emr = error("ValidationException", "Invalid InstanceProfile: p-spark-emr-ec2.");
        assert!(RoleUser::Emr.role_not_ready(&emr));
        assert!(!RoleUser::Emr.role_not_ready(&error("ValidationException", "Invalid release label")));
        let glue = error(
            "InvalidInputException",
            "Service is unable to assume provided role. Please verify role's TrustPolicy",
        );
        assert!(RoleUser::Glue.role_not_ready(&glue));
        assert!(!RoleUser::Glue.role_not_ready(&error("InvalidInputException", "Invalid schedule expression")));
        let states = error(
            "AccessDeniedException",
            "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.",
        );
        assert!(RoleUser::StepFunctions.role_not_ready(&states));
        // The caller lacking a permission is not a role that has yet to propagate.
        let denied = error(
            "AccessDeniedException",
            "User: arn:aws:sts::1:assumed-role/ci is not authorized to perform: states:CreateStateMachine",
        );
        assert!(!RoleUser::StepFunctions.role_not_ready(&denied));
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let mut calls = 0;
        let result: Result<(), AwsError> =
            retry_while_role_propagates(RoleUser::Emr, "cluster/x", &Progress::new(false), || {
                calls += 1;
                async { Err(error("ValidationException", "Invalid release label")) }
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls, 1);
    }
}

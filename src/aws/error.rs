//! What a failed AWS call is: the resource and operation it was for, AWS's error code, and the
//! class of failure (refused by the service, no connection, timed out, no credentials, an answer
//! that is not AWS's) decided once here, so that advice for users keys on the class, not on text.

use std::fmt;
use std::sync::Arc;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// The class of a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// AWS answered with an error (the code says which).
    Service,
    /// Nothing listens at the endpoint, or the connection broke.
    Connection,
    /// The endpoint did not answer in time.
    Timeout,
    /// No credentials could be loaded, or AWS rejected them.
    Credentials,
    /// The endpoint answered with something that is not an AWS response.
    NotAws,
    /// pipectl could not build the request, or found a state it cannot act on.
    Request,
}

/// A failed AWS call, naming the resource and the operation.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{resource}: {operation} failed: {message}")]
pub struct AwsError {
    pub resource: String,
    pub operation: &'static str,
    pub failure: Failure,
    pub code: Option<String>,
    pub message: String,
    #[source]
    pub source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

/// AWS error codes that mean the credentials are missing, wrong or expired.
const CREDENTIAL_CODES: [&str; 6] = [
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "AuthFailure",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
];

impl AwsError {
    /// A failure pipectl itself determined (a state it cannot act on, a missing field).
    pub fn new(resource: impl fmt::Display, operation: &'static str, message: impl Into<String>) -> Self {
        AwsError {
            resource: resource.to_string(),
            operation,
            failure: Failure::Request,
            code: None,
            message: message.into(),
            source: None,
        }
    }

    /// AWS answered, but without a field pipectl needs: the response is unusable.
    pub fn missing(resource: impl fmt::Display, operation: &'static str, field: &str) -> Self {
        AwsError {
            failure: Failure::NotAws,
            ..AwsError::new(resource, operation, format!("the response has no {field}"))
        }
    }

    /// True when AWS said the thing does not exist (for reads: absent; for deletes: done).
    pub fn is_not_found(&self) -> bool {
        self.code.as_deref().is_some_and(|code| {
            // Step Functions says `StateMachineDoesNotExist`, `ExecutionDoesNotExist`; SQS
            // `QueueDoesNotExist`.
            code.contains("NotFound") || code.starts_with("NoSuch") || code.ends_with("DoesNotExist")
        })
    }

    pub fn has_code(&self, wanted: &str) -> bool {
        self.code.as_deref() == Some(wanted)
    }

    /// `Ok(value)` when AWS answered `code`, which for this call means "nothing there".
    pub fn unless<T>(self, code: &str, value: T) -> Result<T, AwsError> {
        if self.has_code(code) {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// `Ok(value)` when AWS said the thing does not exist.
    pub fn unless_not_found<T>(self, value: T) -> Result<T, AwsError> {
        if self.is_not_found() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

/// Converts an SDK error into an `AwsError`: the AWS code kept for matching, the failure
/// classified, the SDK error kept as the source.
pub fn aws_error<E, R>(resource: impl fmt::Display, operation: &'static str, error: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let code = error.code().map(str::to_string);
    let chain = error_chain(&error);
    let (failure, message) = match (&error, error.message()) {
        (SdkError::ServiceError(_), _) if code.as_deref().is_some_and(|c| CREDENTIAL_CODES.contains(&c)) => (
            Failure::Credentials,
            format!("{} ({})", code.as_deref().unwrap_or_default(), error.message().unwrap_or("")),
        ),
        (SdkError::ServiceError(_), Some(text)) => {
            (Failure::Service, format!("{} ({text})", code.as_deref().unwrap_or("error")))
        }
        (SdkError::ServiceError(_), None) => match &code {
            Some(code) => (Failure::Service, code.clone()),
            // An answer with no AWS error code in it: a web page, a proxy's error, garbage.
            None => (Failure::NotAws, "unknown service error".to_string()),
        },
        (SdkError::TimeoutError(_), _) => {
            (Failure::Timeout, "timed out waiting for AWS (see --read-timeout)".to_string())
        }
        (SdkError::DispatchFailure(failure), _) if failure.is_timeout() => (Failure::Timeout, chain.clone()),
        (SdkError::DispatchFailure(failure), _) if failure.is_io() => (Failure::Connection, chain.clone()),
        (SdkError::ResponseError(_), _) => (Failure::NotAws, chain.clone()),
        _ if mentions_credentials(&chain) => (Failure::Credentials, chain.clone()),
        _ => (Failure::Request, chain.clone()),
    };
    AwsError { resource: resource.to_string(), operation, failure, code, message, source: Some(Arc::new(error)) }
}

/// Credential providers report through the SDK's dispatch path with no structured kind of their
/// own; their messages are the only sign.
fn mentions_credentials(chain: &str) -> bool {
    let lower = chain.to_lowercase();
    lower.contains("credentials")
}

/// The messages of an error and its sources, joined on one line (without the debug dump the
/// SDK's own context printer appends).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let text = error.to_string();
        if !text.is_empty() && parts.last() != Some(&text) && !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = error.source();
    }
    parts.join(": ")
}

/// Converts an SDK builder error (a required field missing) into an `AwsError`.
pub fn build_error(resource: impl fmt::Display, operation: &'static str, error: impl fmt::Display) -> AwsError {
    AwsError::new(resource, operation, format!("invalid request: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_services_word_for_absent_is_not_found() {
        let with_code = |code: &str| AwsError { code: Some(code.to_string()), ..AwsError::new("r", "Op", "m") };
        for code in [
            "ResourceNotFoundException",
            "NoSuchBucket",
            "NoSuchEntity",
            "StateMachineDoesNotExist",
            "ExecutionDoesNotExist",
            "ResourceNotFound",
            "QueueDoesNotExist",
        ] {
            assert!(with_code(code).is_not_found(), "{code}");
        }
        for code in ["AccessDeniedException", "StateMachineDeleting", "ValidationException"] {
            assert!(!with_code(code).is_not_found(), "{code}");
        }
    }
}

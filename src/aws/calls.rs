//! Counts the AWS requests a command sends, by service and operation (retries included, so the
//! figure matches what a proxy sees). Shown with `-v` and in JSON output, and used by benchmarks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// A shared tally of requests; cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl CallCounter {
    /// `service:Operation` → requests sent.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    /// One line: `12 AWS requests: ec2:DescribeVpcs 1, s3:ListBuckets 1, …`.
    pub fn summary(&self) -> String {
        let counts = self.snapshot();
        let parts: Vec<String> = counts.iter().map(|(name, count)| format!("{name} {count}")).collect();
        format!("{} AWS requests: {}", self.total(), parts.join(", "))
    }
}

/// The service as IAM's action prefix names it: the SDK's name, lowercased, except where the
/// two differ (the Resource Groups Tagging API's actions are `tag:…`, API Gateway's
/// `apigateway:…`, CloudWatch Logs' `logs:…`, the
/// Redshift Data API's `redshift-data:…`, Secrets Manager's `secretsmanager:…`).
fn service_name(sdk: &str) -> String {
    match sdk {
        "Resource Groups Tagging API" => "tag".to_string(),
        "API Gateway" => "apigateway".to_string(),
        "CloudWatch Logs" => "logs".to_string(),
        "Redshift Data" => "redshift-data".to_string(),
        "Secrets Manager" => "secretsmanager".to_string(),
        other => other.to_lowercase(),
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "pipectl-call-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(metadata) = cfg.load::<Metadata>() {
            let key = format!("{}:{}", service_name(metadata.service()), metadata.name());
            tracing::debug!("AWS request {key}");
            *self.counts.lock().unwrap_or_else(PoisonError::into_inner).entry(key).or_default() += 1;
        }
        Ok(())
    }
}

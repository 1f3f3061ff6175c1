//! One AWS configuration for every client: the standard credential and region chain, endpoint
//! overrides (flag, `AWS_ENDPOINT_URL`, per-service `AWS_ENDPOINT_URL_<SERVICE>`), `--localstack`,
//! bounded timeouts and retries, a rustls/ring HTTPS client, and path-style S3 for emulators;
//! and what every AWS call shares: the clients, the error type, the warnings of an emulator;
//! the warnings about where requests and credentials travel (`transport`); below them, the request
//! counter (`calls`), the bounded HTTP client (`http`), AWS's documented
//! rate limits (`limits`) and the pipeline's lease lock (`lock`).
//!
//! The layer every call to AWS goes through: of pipectl it uses only the names and progress
//! lines below it.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use std::sync::Mutex;

use calls::CallCounter;
use http::BoundedClient;

pub mod calls;
mod error;
pub mod http;
mod limits;
pub mod lock;
mod price_list;
mod transport;

pub use error::{aws_error, build_error, AwsError, Failure};
pub use limits::{documented_rate, Limiter};
pub use price_list::PriceList;
pub use transport::transport_warnings;

/// The AWS clients every kind uses, built once from one `SdkConfig`.
#[derive(Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub s3: aws_sdk_s3::Client,
    pub kinesis: aws_sdk_kinesis::Client,
    pub iam: aws_sdk_iam::Client,
    pub firehose: aws_sdk_firehose::Client,
    pub sts: aws_sdk_sts::Client,
    pub emr: aws_sdk_emr::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    /// The dead-letter queue of the pipeline's schedules (see `resources::queue`).
    pub sqs: aws_sdk_sqs::Client,
    /// The pipeline lock's table (see `lock`).
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// The Resource Groups Tagging API: how the pipeline's resources are found (see `resources::kit::tag_index`).
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    /// The Glue Data Catalog: the pipeline's database and tables (see `resources::catalog_database`).
    pub glue: aws_sdk_glue::Client,
    /// CloudWatch alarms on the pipeline's resources (see `resources::alarm`).
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// The SNS topic the alarms notify (see `resources::topic`).
    pub sns: aws_sdk_sns::Client,
    /// Athena: the pipeline's query workgroup and its named queries (see `resources::workgroup`).
    pub athena: aws_sdk_athena::Client,
    /// Step Functions: the state machines of the clusters' jobs (see `resources::job`, `commands::run`).
    pub sfn: aws_sdk_sfn::Client,
    /// API Gateway: the pipeline's ingest API (see `resources::ingest_api`).
    pub apigateway: aws_sdk_apigateway::Client,
    /// CloudWatch Logs: the pipeline's log groups (see `resources::log_group`).
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// Amazon Redshift: the pipeline's warehouses and their subnet groups (see `resources::warehouse`).
    pub redshift: aws_sdk_redshift::Client,
    /// The Redshift Data API: the tables deliveries load into, created in a warehouse.
    pub redshift_data: aws_sdk_redshiftdata::Client,
    /// Secrets Manager: the warehouses' admin credentials (see `resources::secret`).
    pub secrets: aws_sdk_secretsmanager::Client,
    /// The AWS Price List Query API, at the endpoint nearest the region (see `pricing::live`).
    pub pricing: PriceList,
    /// AWS's documented per-operation request rates, shared by every clone of these clients.
    pub limits: std::sync::Arc<Limiter>,
    pub region: String,
    /// True when requests go to an emulator or proxy rather than AWS itself: an operation the
    /// endpoint does not implement is then a warning, not a failure.
    pub emulated: bool,
}

/// What the endpoint could not serve (operations, or kinds its tag index does not list), each
/// reported once.
#[derive(Debug, Default)]
pub struct Warnings(Mutex<std::collections::BTreeSet<String>>);

impl Warnings {
    /// `operation` is not implemented by the endpoint.
    pub fn add(&self, operation: &str) {
        self.note(&format!("the endpoint does not implement {operation}; the fields it reads are not compared"));
    }

    /// Any other message about the endpoint, reported once however often it is noted.
    pub fn note(&self, message: &str) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(message.to_string());
    }

    pub fn messages(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().cloned().collect()
    }
}

/// The account moto's ARNs carry unless told otherwise: on the emulator stacks, Glue and Athena
/// (served by moto) name it while LocalStack's STS names another.
pub const MOTO_ACCOUNT: &str = "123456789012";

/// The LocalStack endpoint `--localstack` points at.
pub const LOCALSTACK_ENDPOINT: &str = "http://localhost:4566";

#[derive(Debug, Clone)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: String,
    pub endpoint_url: Option<String>,
    pub localstack: bool,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub max_attempts: u32,
    /// AWS requests in flight at once (see `http`).
    pub max_in_flight: usize,
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|value| !value.is_empty())
}

/// The endpoint to use for every service, if one is forced from the command line.
pub fn endpoint_override(options: &AwsOptions) -> Option<String> {
    match (&options.endpoint_url, options.localstack) {
        (Some(url), _) => Some(url.clone()),
        (None, true) if !env_set("AWS_ENDPOINT_URL") => Some(LOCALSTACK_ENDPOINT.to_string()),
        _ => None,
    }
}

/// True when requests go to something other than AWS itself (an emulator or a proxy).
pub fn uses_custom_endpoint(options: &AwsOptions) -> bool {
    endpoint_override(options).is_some() || env_set("AWS_ENDPOINT_URL") || env_set("AWS_ENDPOINT_URL_S3")
}

impl Clients {
    /// The Price List client when prices may be read live: `wanted` (no `--offline-prices`) and
    /// requests go to AWS itself, since no emulator serves a price list.
    pub fn price_list(&self, wanted: bool) -> Option<&PriceList> {
        (wanted && !self.emulated).then_some(&self.pricing)
    }
}

/// The Price List Query API's endpoint nearest `region`: it answers from us-east-1,
/// eu-central-1 and ap-south-1 only, with the same figures for every region (Billing User
/// Guide, "Using the AWS Price List Query API").
pub fn price_list_region(region: &str) -> &'static str {
    match region.split('-').next() {
        Some("eu" | "me" | "af" | "il") => "eu-central-1",
        Some("ap") => "ap-south-1",
        _ => "us-east-1",
    }
}

/// Builds the clients, each counting its requests into `counter`. Nothing is sent here:
/// credentials are resolved on the first call.
pub async fn clients(options: &AwsOptions, counter: &CallCounter) -> Clients {
    let https =
        aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https();
    let http_client = BoundedClient::new(https, options.max_in_flight);
    let timeouts =
        TimeoutConfig::builder().connect_timeout(options.connect_timeout).read_timeout(options.read_timeout).build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .region(Region::new(options.region.clone()))
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(options.max_attempts));
    if let Some(profile) = &options.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(endpoint) = endpoint_override(options) {
        loader = loader.endpoint_url(endpoint);
    }
    let has_credentials = env_set("AWS_ACCESS_KEY_ID") || env_set("AWS_PROFILE") || options.profile.is_some();
    if options.localstack && !has_credentials {
        loader = loader.credentials_provider(Credentials::new("test", "test", None, None, "pipectl-localstack"));
    }
    let config = loader.load().await;
    let s3_config = aws_sdk_s3::config::Builder::from(&config)
        .force_path_style(uses_custom_endpoint(options))
        .interceptor(counter.clone())
        .build();
    let ec2_config = aws_sdk_ec2::config::Builder::from(&config).interceptor(counter.clone()).build();
    let kinesis_config = aws_sdk_kinesis::config::Builder::from(&config).interceptor(counter.clone()).build();
    let iam_config = aws_sdk_iam::config::Builder::from(&config).interceptor(counter.clone()).build();
    let firehose_config = aws_sdk_firehose::config::Builder::from(&config).interceptor(counter.clone()).build();
    let sts_config = aws_sdk_sts::config::Builder::from(&config).interceptor(counter.clone()).build();
    let emr_config = aws_sdk_emr::config::Builder::from(&config).interceptor(counter.clone()).build();
    let scheduler_config = aws_sdk_scheduler::config::Builder::from(&config).interceptor(counter.clone()).build();
    let sqs_config = aws_sdk_sqs::config::Builder::from(&config).interceptor(counter.clone()).build();
    let dynamodb_config = aws_sdk_dynamodb::config::Builder::from(&config).interceptor(counter.clone()).build();
    let tagging_config =
        aws_sdk_resourcegroupstagging::config::Builder::from(&config).interceptor(counter.clone()).build();
    let glue_config = aws_sdk_glue::config::Builder::from(&config).interceptor(counter.clone()).build();
    let cloudwatch_config = aws_sdk_cloudwatch::config::Builder::from(&config).interceptor(counter.clone()).build();
    let sns_config = aws_sdk_sns::config::Builder::from(&config).interceptor(counter.clone()).build();
    let athena_config = aws_sdk_athena::config::Builder::from(&config).interceptor(counter.clone()).build();
    let sfn_config = aws_sdk_sfn::config::Builder::from(&config).interceptor(counter.clone()).build();
    let apigateway_config = aws_sdk_apigateway::config::Builder::from(&config).interceptor(counter.clone()).build();
    let logs_config = aws_sdk_cloudwatchlogs::config::Builder::from(&config).interceptor(counter.clone()).build();
    let redshift_config = aws_sdk_redshift::config::Builder::from(&config).interceptor(counter.clone()).build();
    let redshift_data_config =
        aws_sdk_redshiftdata::config::Builder::from(&config).interceptor(counter.clone()).build();
    let secrets_config = aws_sdk_secretsmanager::config::Builder::from(&config).interceptor(counter.clone()).build();
    let pricing_config = aws_sdk_pricing::config::Builder::from(&config)
        .region(Region::new(price_list_region(&options.region)))
        .interceptor(counter.clone())
        .build();
    let emulated = uses_custom_endpoint(options) || std::env::var_os("AWS_ENDPOINT_URL_EMR").is_some();
    Clients {
        ec2: aws_sdk_ec2::Client::from_conf(ec2_config),
        s3: aws_sdk_s3::Client::from_conf(s3_config),
        kinesis: aws_sdk_kinesis::Client::from_conf(kinesis_config),
        iam: aws_sdk_iam::Client::from_conf(iam_config),
        firehose: aws_sdk_firehose::Client::from_conf(firehose_config),
        sts: aws_sdk_sts::Client::from_conf(sts_config),
        emr: aws_sdk_emr::Client::from_conf(emr_config),
        scheduler: aws_sdk_scheduler::Client::from_conf(scheduler_config),
        sqs: aws_sdk_sqs::Client::from_conf(sqs_config),
        dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb_config),
        tagging: aws_sdk_resourcegroupstagging::Client::from_conf(tagging_config),
        glue: aws_sdk_glue::Client::from_conf(glue_config),
        cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cloudwatch_config),
        sns: aws_sdk_sns::Client::from_conf(sns_config),
        athena: aws_sdk_athena::Client::from_conf(athena_config),
        sfn: aws_sdk_sfn::Client::from_conf(sfn_config),
        apigateway: aws_sdk_apigateway::Client::from_conf(apigateway_config),
        logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs_config),
        redshift: aws_sdk_redshift::Client::from_conf(redshift_config),
        redshift_data: aws_sdk_redshiftdata::Client::from_conf(redshift_data_config),
        secrets: aws_sdk_secretsmanager::Client::from_conf(secrets_config),
        pricing: PriceList::new(aws_sdk_pricing::Client::from_conf(pricing_config)),
        limits: std::sync::Arc::new(Limiter::new(!emulated)),
        region: options.region.clone(),
        emulated,
    }
}

/// Clients that reach nothing but the given EMR client (a mock, in unit tests).
#[cfg(test)]
pub fn test_clients_with_emr(emr: aws_sdk_emr::Client, emulated: bool) -> Clients {
    let config = aws_types::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .build();
    Clients {
        ec2: aws_sdk_ec2::Client::new(&config),
        s3: aws_sdk_s3::Client::new(&config),
        kinesis: aws_sdk_kinesis::Client::new(&config),
        iam: aws_sdk_iam::Client::new(&config),
        firehose: aws_sdk_firehose::Client::new(&config),
        sts: aws_sdk_sts::Client::new(&config),
        emr,
        scheduler: aws_sdk_scheduler::Client::new(&config),
        sqs: aws_sdk_sqs::Client::new(&config),
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        tagging: aws_sdk_resourcegroupstagging::Client::new(&config),
        glue: aws_sdk_glue::Client::new(&config),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
        sns: aws_sdk_sns::Client::new(&config),
        athena: aws_sdk_athena::Client::new(&config),
        sfn: aws_sdk_sfn::Client::new(&config),
        apigateway: aws_sdk_apigateway::Client::new(&config),
        logs: aws_sdk_cloudwatchlogs::Client::new(&config),
        redshift: aws_sdk_redshift::Client::new(&config),
        redshift_data: aws_sdk_redshiftdata::Client::new(&config),
        secrets: aws_sdk_secretsmanager::Client::new(&config),
        pricing: PriceList::new(aws_sdk_pricing::Client::new(&config)),
        limits: std::sync::Arc::new(Limiter::new(false)),
        region: "us-east-1".to_string(),
        emulated,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_price_list_is_asked_at_its_endpoint_nearest_the_region() {
        let regions = ["ap-northeast-2", "eu-west-1", "me-south-1", "us-west-2", "sa-east-1", "ca-central-1"];
        let endpoints = ["ap-south-1", "eu-central-1", "eu-central-1", "us-east-1", "us-east-1", "us-east-1"];
        assert_eq!(regions.map(super::price_list_region), endpoints);
    }
}

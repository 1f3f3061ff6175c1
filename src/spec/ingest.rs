//! The `ingest:` section: an HTTPS front door for web and app clients that hold no AWS
//! credentials. Each route is `POST /<path>` for one event (Kinesis `PutRecord`) and
//! `POST /<path>/batch` for `{"records": [...]}` (Kinesis `PutRecords`, at most 500), both into
//! one stream of the spec, through an API Gateway REST API (see `resources::ingest_api` for why
//! REST rather than HTTP API). Throttling is always set; browsers get CORS for the origins the
//! spec lists, and `*` only when it says so.
//!
//! The partition key decides ordering: Kinesis keeps the order of records with one key (they go
//! to one shard); `random` (the request id) spreads the load and keeps no order.

use std::collections::{BTreeMap, HashSet};

use schemars::JsonSchema;
use serde::Deserialize;

use super::checks::{check_reference, check_tags, Problems};
use super::iam::check_derived_role;
use super::pipeline::Spec;
use crate::names::DERIVED_INGEST_ROLE;

/// The most requests per second a stage may be set to: the account's default for a region
/// (10,000, with a burst of 5,000; API Gateway Developer Guide, "Amazon API Gateway quotas").
pub const MAX_RATE: f64 = 10_000.0;
/// The largest burst the account's token bucket holds.
pub const MAX_BURST: i32 = 5_000;

/// Retentions CloudWatch Logs takes, in days (PutRetentionPolicy, Amazon CloudWatch Logs API
/// Reference).
pub const LOG_RETENTION_DAYS: [i32; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// The ingest API: routes that put what clients POST into the pipeline's streams.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ingest {
    /// The stage the API is served at: the first segment of the invoke URL's path (default
    /// `live`).
    #[serde(default = "default_stage")]
    pub stage: String,
    /// How many requests the stage accepts: `rate` per second, steady, and `burst` at once.
    /// Required: an endpoint open to the internet without a limit bills every request it gets.
    pub throttle: Throttle,
    /// Browser clients: the origins allowed to POST (CORS). `["*"]` allows every origin.
    #[serde(default)]
    pub cors: Option<Cors>,
    /// API keys: every request must carry one (`x-api-key`) or gets 403; with a usage plan that
    /// limits each key to the stage's throttle and, optionally, a quota.
    #[serde(default)]
    pub api_keys: Option<ApiKeys>,
    /// Access logs: one JSON line per request into a log group of the pipeline, kept
    /// `retention_days`. Needs the region's API Gateway CloudWatch Logs role, an account-wide
    /// setting pipectl checks but does not make (docs/ingest.md).
    #[serde(default)]
    pub access_logs: Option<AccessLogs>,
    /// A custom domain serving the stage at its root, with an ACM certificate of the region.
    #[serde(default)]
    pub domain: Option<Domain>,
    /// One per stream clients write to.
    pub routes: Vec<Route>,
    /// Tags on the API and its stage.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn default_stage() -> String {
    "live".to_string()
}

/// Requests per second, steady and in a burst.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Requests per second, steady (above 0, at most 10000).
    pub rate: f64,
    /// Requests accepted at once above the rate (1 to 5000).
    pub burst: i32,
}

/// Cross-origin requests from browsers.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    /// `https://…` origins (an `http://localhost…` one for development), or `*` alone.
    pub origins: Vec<String>,
}

/// A custom domain name of the API (a regional endpoint).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    /// The name clients call, e.g. `events.example.com`; its DNS points at the regional domain
    /// name `pipectl output` gives.
    pub name: String,
    /// An ACM certificate for the name, in the pipeline's region.
    pub certificate_arn: String,
}

/// Where the stage's access logs go, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessLogs {
    /// Days the log group keeps them: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545,
    /// 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653.
    pub retention_days: i32,
}

/// The API key pipectl makes (one) and its usage plan.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeys {
    /// How many requests a key may make in a period; none: no quota.
    #[serde(default)]
    pub quota: Option<Quota>,
}

/// Requests per day, week or month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Requests in one period (at least 1).
    pub limit: i32,
    pub period: QuotaPeriod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum QuotaPeriod {
    Day,
    Week,
    Month,
}

impl QuotaPeriod {
    /// As API Gateway spells it.
    pub fn as_aws(self) -> &'static str {
        match self {
            QuotaPeriod::Day => "DAY",
            QuotaPeriod::Week => "WEEK",
            QuotaPeriod::Month => "MONTH",
        }
    }
}

/// One stream's route: `POST /<path>` and `POST /<path>/batch`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// The stream of the spec the records go to.
    pub stream: String,
    /// The URL path, without the stage (default `events/<stream>`): segments of letters,
    /// digits, `.`, `_` and `-`, separated by `/`.
    #[serde(default)]
    pub path: Option<String>,
    /// Where each record's partition key comes from (default `random`).
    #[serde(default)]
    pub partition_key: PartitionKeySource,
    /// A JSON Schema (draft 4) each event must match; a request that does not gets 400 before
    /// anything is written. For a batch, each record is not checked, only that the body has
    /// `records`.
    #[serde(default)]
    pub schema: Option<serde_json::Value>,
}

/// Where a record's partition key comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum PartitionKeySource {
    /// A top-level field of the event (`{field: user_id}`): records with one value keep their
    /// order. A request without it is refused by Kinesis (400).
    Field(String),
    /// A request header (`{header: X-Device-Id}`), the same for every record of a batch.
    Header(String),
    /// The request id (a batch's records get `<id>-<index>`): spread evenly, no order kept.
    #[default]
    Random,
}

impl Route {
    /// The route's path, without a leading `/`.
    pub fn path(&self) -> String {
        self.path.clone().unwrap_or_else(|| format!("events/{}", self.stream))
    }
}

/// The rules of `ingest`: the stage, the throttle, the origins, each route's stream, path, key
/// and schema, the tags, and the derived role's name.
pub(super) fn check(ingest: &Ingest, spec: &Spec, problems: &mut Problems) {
    let stage_ok = (1..=128).contains(&ingest.stage.len())
        && ingest.stage.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !stage_ok {
        problems.add(
            "ingest.stage",
            format!("`{}` is not a valid stage name: use 1 to 128 letters, digits, `-` and `_`", ingest.stage),
        );
    }
    let Throttle { rate, burst } = ingest.throttle;
    if !(rate > 0.0 && rate <= MAX_RATE) {
        problems.add("ingest.throttle.rate", format!("rate {rate} is out of range: above 0 and at most {MAX_RATE} requests per second (the account's default limit per region)"));
    }
    if !(1..=MAX_BURST).contains(&burst) {
        problems.add(
            "ingest.throttle.burst",
            format!("burst {burst} is out of range: 1 to {MAX_BURST} (the account's token bucket)"),
        );
    }
    if let Some(cors) = &ingest.cors {
        check_origins(&cors.origins, problems);
    }
    if let Some(logs) = ingest.access_logs.filter(|logs| !LOG_RETENTION_DAYS.contains(&logs.retention_days)) {
        let days: Vec<String> = LOG_RETENTION_DAYS.iter().map(ToString::to_string).collect();
        problems.add(
            "ingest.access_logs.retention_days",
            format!("CloudWatch Logs keeps logs {} days, not {}", days.join(", "), logs.retention_days),
        );
    }
    if let Some(domain) = &ingest.domain {
        check_domain(domain, &spec.region, problems);
    }
    if let Some(quota) = ingest.api_keys.as_ref().and_then(|keys| keys.quota) {
        if quota.limit < 1 {
            problems.add(
                "ingest.api_keys.quota.limit",
                format!("a quota of {} requests lets no request through: at least 1", quota.limit),
            );
        }
    }
    if ingest.routes.is_empty() {
        problems.add("ingest.routes", "an ingest API needs at least one route");
    }
    let streams: Vec<&str> = spec.streams.iter().map(|stream| stream.name.as_str()).collect();
    let mut paths = HashSet::new();
    for (index, route) in ingest.routes.iter().enumerate() {
        let path = format!("ingest.routes[{index}]");
        check_reference(&format!("{path}.stream"), "stream", &route.stream, &streams, problems);
        let url_path = route.path();
        if !valid_path(&url_path) {
            problems.add(format!("{path}.path"), format!("`{url_path}` is not a valid path: segments of letters, digits, `.`, `_` and `-`, separated by `/`, with no `/` at either end"));
        } else if !paths.insert(url_path.clone()) || !paths.insert(format!("{url_path}/batch")) {
            problems.add(format!("{path}.path"), format!("`{url_path}` is used by another route (or its `/batch`)"));
        }
        match &route.partition_key {
            PartitionKeySource::Field(field) if !valid_field(field) => problems.add(
                format!("{path}.partition_key.field"),
                format!("`{field}` is not a top-level field name: use letters, digits and `_`"),
            ),
            PartitionKeySource::Header(header) if !valid_header(header) => problems.add(
                format!("{path}.partition_key.header"),
                format!("`{header}` is not a header name: use letters, digits and `-`"),
            ),
            _ => {}
        }
        if route.schema.as_ref().is_some_and(|schema| !schema.is_object()) {
            problems.add(
                format!("{path}.schema"),
                "a schema is a mapping (a JSON Schema, draft 4, e.g. `{type: object, required: [user_id]}`)",
            );
        }
    }
    check_tags("ingest.tags", &ingest.tags, problems);
    check_derived_role("ingest", spec, DERIVED_INGEST_ROLE, problems);
}

/// A DNS name of two labels or more, and a certificate ARN of ACM in the spec's region (a
/// regional endpoint takes a certificate of its own region: "Set up a Regional custom domain
/// name in API Gateway", API Gateway Developer Guide).
fn check_domain(domain: &Domain, region: &str, problems: &mut Problems) {
    let labels: Vec<&str> = domain.name.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if labels.len() < 2 || domain.name.len() > 253 || !labels.iter().all(label_ok) {
        problems.add(
            "ingest.domain.name",
            format!(
                "`{}` is not a domain name: lowercase labels of letters, digits and `-`, separated by `.`",
                domain.name
            ),
        );
    }
    let parts: Vec<&str> = domain.certificate_arn.splitn(6, ':').collect();
    let arn_ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "acm"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5].starts_with("certificate/");
    if !arn_ok {
        problems.add(
            "ingest.domain.certificate_arn",
            format!(
                "`{}` is not an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID)",
                domain.certificate_arn
            ),
        );
    } else if parts[3] != region {
        problems.add("ingest.domain.certificate_arn", format!("the certificate is in {}, the pipeline in {region}: a regional domain name takes a certificate of its own region", parts[3]));
    }
}

fn check_origins(origins: &[String], problems: &mut Problems) {
    if origins.is_empty() {
        problems.add("ingest.cors.origins", "list at least one origin, or leave `cors` out");
    }
    if origins.iter().any(|origin| origin == "*") && origins.len() > 1 {
        problems.add("ingest.cors.origins", "`*` allows every origin: give it alone, or list origins without it");
    }
    for (index, origin) in origins.iter().enumerate() {
        let localhost = origin.starts_with("http://localhost") || origin.starts_with("http://127.0.0.1");
        let https = origin.strip_prefix("https://").is_some_and(|host| !host.is_empty() && !host.contains('/'));
        if origin != "*" && !https && !localhost {
            problems.add(
                format!("ingest.cors.origins[{index}]"),
                format!("`{origin}` is not an origin: `https://host[:port]` with no path (or `http://localhost…`)"),
            );
        }
    }
}

fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|segment| {
            !segment.is_empty() && segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        })
}

fn valid_field(field: &str) -> bool {
    !field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn valid_header(header: &str) -> bool {
    !header.is_empty() && header.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::super::checks::testing::{messages, paths, problems, HEAD};

    const STREAMS: &str = "streams: [{name: clicks}]\n";

    #[test]
    fn a_good_ingest_section_has_no_problems() {
        let yaml = format!("{HEAD}{STREAMS}ingest:\n  throttle: {{rate: 100, burst: 200}}\n  cors: {{origins: ['https://shop.example.com', 'http://localhost:3000']}}\n  routes:\n    - {{stream: clicks, partition_key: {{field: user_id}}, schema: {{type: object, required: [user_id]}}}}\n    - {{stream: clicks, path: v2/clicks, partition_key: {{header: X-Device-Id}}}}\n");
        assert_eq!(problems(&yaml), vec![]);
    }

    #[test]
    fn a_domain_needs_a_dns_name_and_a_certificate_of_the_region() {
        let yaml = |name: &str, arn: &str| {
            format!("{HEAD}{STREAMS}ingest:\n  throttle: {{rate: 1, burst: 1}}\n  domain: {{name: '{name}', certificate_arn: '{arn}'}}\n  routes: [{{stream: clicks}}]\n")
        };
        let good = "arn:aws:acm:eu-west-1:123456789012:certificate/1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(problems(&yaml("events.example.com", good)), vec![]);
        assert_eq!(paths(&yaml("Events_example", good)), ["ingest.domain.name"]);
        let elsewhere = good.replace("eu-west-1", "us-east-1");
        let said = messages(&yaml("events.example.com", &elsewhere)).join("\n");
        assert!(said.contains("the certificate is in us-east-1, the pipeline in eu-west-1"), "{said}");
        assert_eq!(
            paths(&yaml("events.example.com", "arn:aws:iam::123456789012:role/x")),
            ["ingest.domain.certificate_arn"]
        );
    }

    #[test]
    fn a_quota_lets_a_request_through_and_logs_are_kept_as_cloudwatch_keeps_them() {
        let yaml = format!("{HEAD}{STREAMS}ingest:\n  throttle: {{rate: 1, burst: 1}}\n  access_logs: {{retention_days: 10}}\n  api_keys: {{quota: {{limit: 0, period: week}}}}\n  routes: [{{stream: clicks}}]\n");
        assert_eq!(paths(&yaml), ["ingest.access_logs.retention_days", "ingest.api_keys.quota.limit"]);
        let fine = yaml.replace("limit: 0", "limit: 1").replace("retention_days: 10", "retention_days: 14");
        assert_eq!(problems(&fine), vec![]);
    }

    #[test]
    fn every_problem_of_the_section_is_reported_at_its_field() {
        let yaml = format!("{HEAD}{STREAMS}ingest:\n  stage: 'v 1'\n  throttle: {{rate: 0, burst: 9000}}\n  cors: {{origins: ['*', 'shop.example.com']}}\n  routes:\n    - {{stream: clics, partition_key: {{field: 'user.id'}}}}\n    - {{stream: clicks, path: '/events/clicks'}}\n    - {{stream: clicks, path: events/clicks/batch, schema: [1]}}\n    - {{stream: clicks, partition_key: {{header: 'X Id'}}}}\n");
        assert_eq!(
            paths(&yaml),
            vec![
                "ingest.stage",
                "ingest.throttle.rate",
                "ingest.throttle.burst",
                "ingest.cors.origins",
                "ingest.cors.origins[1]",
                "ingest.routes[0].stream",
                "ingest.routes[0].partition_key.field",
                "ingest.routes[1].path",
                "ingest.routes[2].schema",
                "ingest.routes[3].path",
                "ingest.routes[3].partition_key.header",
            ]
        );
        let said = messages(&yaml).join("\n");
        assert!(said.contains("no stream named `clics` in this spec (did you mean `clicks`?)"), "{said}");
        assert!(said.contains("`events/clicks` is used by another route (or its `/batch`)"), "{said}");
    }
}

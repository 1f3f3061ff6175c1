//! What the ingest API serves, as data: its routes with their Kinesis mapping templates, the
//! CORS responses, the request models; and the one-line fingerprint and summary its deployment
//! carries, which is how a read tells what the stage serves without walking every method.
//!
//! The templates are Velocity (VTL), as API Gateway renders them. A single event's body is
//! the record (`$util.base64Encode($input.body)`); a batch is `{"records": [...]}`, each element
//! written as its own JSON text (`$input.json("$.records[i]")`). Both were run on LocalStack,
//! which renders and executes them (`tests/integration/ingest.rs`).

use serde_json::{json, Value};

use crate::plan::file::fingerprint;
use crate::spec::PartitionKeySource;

/// Kinesis takes at most 500 records in one PutRecords (Kinesis API Reference, "PutRecords").
pub const MAX_BATCH: usize = 500;

/// One route of the spec, resolved: its path and the stream its records go to.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteDefinition {
    /// Without a leading `/`.
    pub path: String,
    pub stream: String,
    pub partition_key: PartitionKeySource,
    /// The JSON Schema each single event must match, if any.
    pub schema: Option<Value>,
}

/// Everything a deployment of the API freezes.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub routes: Vec<RouteDefinition>,
    /// CORS origins; empty: no CORS.
    pub cors: Vec<String>,
    /// Every POST needs an API key (`ingest.api_keys`).
    pub api_key_required: bool,
    /// The IAM name of the role API Gateway writes to Kinesis with (its ARN, which holds the
    /// account, is known when applying: `Api::role_arn`).
    pub role: String,
    pub region: String,
}

/// One method the API serves: `POST /events/clicks` and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Method {
    pub path: String,
    /// `PutRecord` or `PutRecords`.
    pub action: &'static str,
    pub template: String,
    /// The model (and validator) of its body, if the route has a schema.
    pub model: Option<(String, Value)>,
}

impl Definition {
    /// The POST methods: each route's single and batch method.
    pub fn methods(&self) -> Vec<Method> {
        self.routes
            .iter()
            .flat_map(|route| {
                let model = route.schema.clone().map(|schema| (model_name(&route.path), schema));
                [
                    Method { path: route.path.clone(), action: "PutRecord", template: single_template(route), model },
                    Method {
                        path: format!("{}/batch", route.path),
                        action: "PutRecords",
                        template: batch_template(route),
                        model: Some((format!("{}Batch", model_name(&route.path)), batch_schema())),
                    },
                ]
            })
            .collect()
    }

    /// `POST /events/clicks → clicks (PutRecord, key: field user_id)` for each method.
    pub fn summary(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .routes
            .iter()
            .flat_map(|route| {
                let key = match &route.partition_key {
                    PartitionKeySource::Field(field) => format!("field {field}"),
                    PartitionKeySource::Header(header) => format!("header {header}"),
                    PartitionKeySource::Random => "random".to_string(),
                };
                let checked = if route.schema.is_some() { ", schema" } else { "" };
                [
                    format!("POST /{} → {} (PutRecord, key: {key}{checked})", route.path, route.stream),
                    format!("POST /{}/batch → {} (PutRecords, key: {key})", route.path, route.stream),
                ]
            })
            .collect();
        if !self.cors.is_empty() {
            lines.push(format!("CORS: {}", self.cors.join(" ")));
        }
        if self.api_key_required {
            lines.push("API key required".to_string());
        }
        lines
    }

    /// The first 16 hex digits of the fingerprint of everything deployed.
    pub fn fingerprint(&self) -> String {
        let routes: Vec<Value> = self
            .methods()
            .into_iter()
            .map(|method| json!({"path": method.path, "action": method.action, "template": method.template, "model": method.model}))
            .collect();
        let whole = json!({"routes": routes, "cors": self.cors, "role": self.role, "region": self.region, "cors_template": cors_template(&self.cors), "api_key_required": self.api_key_required});
        fingerprint(&whole)[..16].to_string()
    }

    /// The deployment's description: `pipectl <fingerprint> | <summary; …>`.
    pub fn description(&self) -> String {
        format!("{DEPLOYMENT_MARK} {} | {}", self.fingerprint(), self.summary().join("; "))
    }

    /// The Kinesis action's integration URI.
    pub fn integration_uri(&self, action: &str) -> String {
        format!("arn:aws:apigateway:{}:kinesis:action/{action}", self.region)
    }
}

/// What every description of a deployment pipectl made starts with.
pub const DEPLOYMENT_MARK: &str = "pipectl";

/// The fingerprint and summary lines a deployment's description holds; `None` for one pipectl
/// did not make.
pub fn parse_description(description: &str) -> Option<(String, Vec<String>)> {
    let rest = description.strip_prefix(DEPLOYMENT_MARK)?.strip_prefix(' ')?;
    let (fingerprint, summary) = rest.split_once(" | ")?;
    let lines = summary.split("; ").filter(|line| !line.is_empty()).map(str::to_string).collect();
    Some((fingerprint.to_string(), lines))
}

/// A model name API Gateway accepts (letters and digits): `EventsClicks` for `events/clicks`.
pub fn model_name(path: &str) -> String {
    path.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// A batch body: `records`, an array of 1 to 500 items.
fn batch_schema() -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "required": ["records"],
        "properties": {"records": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH}}
    })
}

/// The partition key of a single event, as VTL.
fn single_key(key: &PartitionKeySource) -> String {
    match key {
        PartitionKeySource::Field(field) => format!("$input.path('$.{field}')"),
        PartitionKeySource::Header(header) => format!("$input.params().header.get('{header}')"),
        PartitionKeySource::Random => "$context.requestId".to_string(),
    }
}

/// PutRecord: the body is the record.
pub fn single_template(route: &RouteDefinition) -> String {
    format!(
        "{{\"StreamName\": \"{}\", \"Data\": \"$util.base64Encode($input.body)\", \"PartitionKey\": \"{}\"}}",
        route.stream,
        single_key(&route.partition_key)
    )
}

/// PutRecords: each element of `records` is a record of its own.
pub fn batch_template(route: &RouteDefinition) -> String {
    let key = match &route.partition_key {
        PartitionKeySource::Field(field) => format!("$input.path(\"$.records[$foreach.index].{field}\")"),
        PartitionKeySource::Header(header) => format!("$input.params().header.get('{header}')"),
        PartitionKeySource::Random => "$context.requestId-$foreach.index".to_string(),
    };
    format!(
        "{{\"StreamName\": \"{}\", \"Records\": [\n#foreach($record in $input.path('$.records'))\n{{\"Data\": \"$util.base64Encode($input.json(\"$.records[$foreach.index]\"))\", \"PartitionKey\": \"{key}\"}}#if($foreach.hasNext),#end\n#end\n]}}",
        route.stream
    )
}

/// The integration responses' template that allows the request's origin when it is one of
/// `origins` (`Access-Control-Allow-Origin` can hold one origin, so it is chosen per request);
/// `None` without CORS or with `*` (a static header then).
pub fn cors_template(origins: &[String]) -> Option<String> {
    if origins.is_empty() || origins.iter().any(|origin| origin == "*") {
        return None;
    }
    let test = origins.iter().map(|origin| format!("$origin == \"{origin}\"")).collect::<Vec<_>>().join(" || ");
    Some(format!(
        "#set($origin = $input.params().header.get('Origin'))\n#if({test})\n#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)\n#end\n$input.body"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition(key: PartitionKeySource, cors: &[&str]) -> Definition {
        Definition {
            routes: vec![RouteDefinition {
                path: "events/clicks".into(),
                stream: "p-clicks".into(),
                partition_key: key,
                schema: Some(json!({"type": "object", "required": ["user_id"]})),
            }],
            cors: cors.iter().map(|origin| origin.to_string()).collect(),
            api_key_required: false,
            role: "p-ingest-apigateway-use1".into(),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn each_route_is_a_single_and_a_batch_method_with_its_templates() {
        let methods = definition(PartitionKeySource::Field("user_id".into()), &[]).methods();
        let paths: Vec<(&str, &str)> = methods.iter().map(|m| (m.path.as_str(), m.action)).collect();
        assert_eq!(paths, [("events/clicks", "PutRecord"), ("events/clicks/batch", "PutRecords")]);
        assert_eq!(
            methods[0].template,
            r#"{"StreamName": "p-clicks", "Data": "$util.base64Encode($input.body)", "PartitionKey": "$input.path('$.user_id')"}"#
        );
        assert!(methods[1].template.contains(r#""PartitionKey": "$input.path("$.records[$foreach.index].user_id")""#));
        assert_eq!(methods[0].model.as_ref().map(|(name, _)| name.as_str()), Some("EventsClicks"));
        assert_eq!(
            methods[1].model.as_ref().map(|(name, m)| (name.as_str(), m["properties"]["records"]["maxItems"].clone())),
            Some(("EventsClicksBatch", json!(500)))
        );
        let random = definition(PartitionKeySource::Random, &[]).methods();
        assert!(random[1].template.contains(r#""PartitionKey": "$context.requestId-$foreach.index""#));
    }

    #[test]
    fn the_description_round_trips_and_changes_with_what_is_deployed() {
        let one = definition(PartitionKeySource::Header("X-Device-Id".into()), &["https://a.example"]);
        let (fingerprint, summary) = parse_description(&one.description()).unwrap();
        assert_eq!(fingerprint, one.fingerprint());
        assert_eq!(
            summary,
            [
                "POST /events/clicks → p-clicks (PutRecord, key: header X-Device-Id, schema)",
                "POST /events/clicks/batch → p-clicks (PutRecords, key: header X-Device-Id)",
                "CORS: https://a.example",
            ]
        );
        let other = definition(PartitionKeySource::Header("X-Device-Id".into()), &["https://b.example"]);
        assert_ne!(one.fingerprint(), other.fingerprint());
        assert_eq!(parse_description("deployed by hand"), None);
    }

    #[test]
    fn cors_allows_only_the_listed_origins_and_star_is_static() {
        let template = cors_template(&["https://a.example".into(), "http://localhost:3000".into()]).unwrap();
        assert!(
            template.contains(r#"#if($origin == "https://a.example" || $origin == "http://localhost:3000")"#),
            "{template}"
        );
        assert_eq!(cors_template(&["*".into()]), None);
        assert_eq!(cors_template(&[]), None);
        assert_eq!(model_name("v2/click-events"), "V2ClickEvents");
    }
}

//! The ingest API (`ingest:`): an API Gateway REST API named `<pipeline>-ingest` whose routes
//! put what web and app clients POST into the spec's streams, with the role API Gateway writes
//! with (derived here: `kinesis:PutRecord` and `PutRecords` on exactly the routed streams).
//!
//! Why a REST API and not an HTTP API: a REST API has request validation against a model, API
//! keys and usage plans, and mapping templates, so one request can carry a batch for
//! `PutRecords`; an HTTP API's Kinesis integration is `PutRecord` only, one record per request.
//! And LocalStack community executes REST API integrations (an HTTP API is LocalStack Pro),
//! so a test can POST and read the record from the stream.
//!
//! What a stage serves is its deployment, a snapshot: a change to the routes must produce a new
//! deployment, and nothing else must. The deployment's description carries the fingerprint and
//! summary of what pipectl deployed (`definition`), so a read compares the two with one call
//! instead of walking every method, and a deployment someone made by hand shows as drift. The
//! stage's throttling is a stage setting, changed in place without a redeploy.
//!
//! Tags are set when the API and its stage are created and read from GetRestApi (the
//! emulators keep tags changed later elsewhere: localstack/README.md, "The ingest API").

mod build;
pub mod definition;
mod usage;

use std::collections::HashMap;

use aws_sdk_apigateway::types::{EndpointConfiguration, EndpointType, Op, PatchOperation, RestApi, Stage};
use serde_json::json;

use super::kit::named::SharedReads;
use super::kit::{
    aws_error, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, Output, Ownership, ReadContext,
    ResourceKind, Scope, Tags,
};
use super::{log_group, role};
use crate::iam::{derived_trust_policy, key_grant, key_statement, Arns};
use crate::model::{
    Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::names::{iam_role_name, ingest_api_name, DERIVED_INGEST_ROLE};
use crate::pricing::{self, CostLine, Prices};
use crate::spec::{Ingest, StreamEncryption, Throttle};
use build::Api;
pub use build::CONTROL_PLANE;
use definition::{parse_description, Definition, RouteDefinition};
use usage::{LiveUsage, Usage};

pub struct IngestApi;
pub const KIND: Kind = Kind::of(&IngestApi);

/// The ingest API is named in plans by its API Gateway name.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// What the spec asks of the API.
#[derive(Debug, Clone)]
pub struct IngestApiConfig {
    pub name: String,
    pub stage: String,
    pub throttle: Throttle,
    pub definition: Definition,
    /// The API key and its usage plan (`ingest.api_keys`).
    pub usage: Option<Usage>,
    /// The log group of the stage's access logs (`ingest.access_logs`).
    pub access_logs: Option<String>,
}

impl DesiredConfig for IngestApiConfig {
    fn attributes(&self) -> Attributes {
        Attributes::from([
            ("stage".to_string(), json!(self.stage)),
            ("throttle_rate".to_string(), json!(self.throttle.rate)),
            ("throttle_burst".to_string(), json!(self.throttle.burst)),
            ("routes".to_string(), json!(self.definition.summary())),
            ("deployed".to_string(), json!(self.definition.fingerprint())),
            ("api_key".to_string(), json!(self.usage.as_ref().map(Usage::words))),
            ("access_logs".to_string(), json!(self.access_logs)),
        ])
    }
}

/// The stage as a read found it.
#[derive(Debug, Clone)]
pub struct LiveStage {
    pub name: String,
    /// The fingerprint and summary of the deployment it serves, when pipectl made it.
    pub deployed: Option<(String, Vec<String>)>,
    /// `*/*` method settings: what the whole stage is throttled to.
    pub rate: Option<f64>,
    pub burst: Option<i32>,
    /// The log group its access logs go to, by name.
    pub access_logs: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Live {
    pub api_id: String,
    /// pipectl serves one stage; others (made by hand) are left alone and not compared.
    pub stage: Option<LiveStage>,
    /// The usage plan named after the API, with the pipeline's tag.
    pub usage: Option<LiveUsage>,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, _names: &Names) -> (Attributes, Vec<ResourceId>) {
        let stage = self.stage.as_ref();
        let deployed = stage.and_then(|stage| stage.deployed.clone());
        let (fingerprint, summary) = match deployed {
            Some((fingerprint, summary)) => (json!(fingerprint), json!(summary)),
            None => (json!("(not deployed by pipectl)"), json!([])),
        };
        let attributes = Attributes::from([
            ("stage".to_string(), json!(stage.map(|stage| &stage.name))),
            ("throttle_rate".to_string(), json!(stage.and_then(|stage| stage.rate))),
            ("throttle_burst".to_string(), json!(stage.and_then(|stage| stage.burst))),
            ("routes".to_string(), summary),
            ("deployed".to_string(), fingerprint),
            ("api_key".to_string(), json!(self.usage.as_ref().map(LiveUsage::words))),
            ("access_logs".to_string(), json!(stage.and_then(|stage| stage.access_logs.clone()))),
        ]);
        (attributes, Vec::new())
    }
}

impl KindRules for IngestApi {
    fn name(&self) -> &'static str {
        "ingest_api"
    }
    fn rank(&self) -> u8 {
        75
    }
    fn change_notes(
        &self,
        _action: crate::model::Action,
        before: Option<&Attributes>,
        after: Option<&Attributes>,
    ) -> Vec<String> {
        let deployed = |attributes: Option<&Attributes>| attributes.and_then(|a| a.get("deployed")).cloned();
        match (before, after) {
            (Some(_), Some(_)) if deployed(before) != deployed(after) => {
                vec!["the routes change: a new deployment replaces what the stage serves".to_string()]
            }
            _ => Vec::new(),
        }
    }
}

/// The API's definition for `ingest`: each route's stream and key, the role's ARN.
fn definition(graph: &GraphContext, ingest: &Ingest) -> Definition {
    let spec = graph.spec;
    let role_name = iam_role_name(&spec.pipeline, DERIVED_INGEST_ROLE, &graph.arns.region);
    Definition {
        routes: ingest
            .routes
            .iter()
            .map(|route| RouteDefinition {
                path: route.path(),
                stream: route.stream.clone(),
                partition_key: route.partition_key.clone(),
                schema: route.schema.clone(),
            })
            .collect(),
        cors: ingest.cors.as_ref().map(|cors| cors.origins.clone()).unwrap_or_default(),
        api_key_required: ingest.api_keys.is_some(),
        role: role_name,
        region: graph.arns.region.clone(),
    }
}

/// The role API Gateway writes with: PutRecord and PutRecords on the routed streams, and the
/// data keys of those encrypted with a customer key ("Permissions to use user-generated KMS
/// keys", Kinesis Data Streams Developer Guide: producers need `kms:GenerateDataKey`).
fn role_policy(graph: &GraphContext, ingest: &Ingest) -> serde_json::Value {
    let mut names: Vec<&str> = ingest.routes.iter().map(|route| route.stream.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let streams: Vec<String> = names.iter().map(|name| graph.arns.stream(name)).collect();
    let mut statements = vec![json!({
        "Sid": "PutIngestedRecords",
        "Effect": "Allow",
        "Action": ["kinesis:PutRecord", "kinesis:PutRecords"],
        "Resource": streams,
    })];
    for stream in graph.spec.streams.iter().filter(|stream| names.contains(&stream.name.as_str())) {
        let key = match stream.encryption {
            StreamEncryption::Kms => stream.kms_key.as_deref().and_then(|key| key_grant(key, graph.arns)),
            StreamEncryption::None => None,
        };
        if let Some(grant) = key {
            let context = [graph.arns.stream(&stream.name)];
            let sid = format!("EncryptIngestedRecords{}", definition::model_name(&stream.name));
            let context = ("kms:EncryptionContext:aws:kinesis:arn", &context[..]);
            statements.push(key_statement(&sid, &["kms:GenerateDataKey"], &grant, graph.arns, "kinesis", context));
        }
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

impl ResourceKind for IngestApi {
    type Desired = IngestApiConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let spec = graph.spec;
        let Some(ingest) = &spec.ingest else { return Vec::new() };
        let trust = derived_trust_policy(graph.arns, "apigateway", None);
        let role_config = role::config(graph, DERIVED_INGEST_ROLE, trust, Some(role_policy(graph, ingest)), &[]);
        let name = ingest_api_name(&spec.pipeline);
        let access_logs = ingest.access_logs.map(|logs| (access_log_group(&spec.pipeline), logs.retention_days));
        let config = IngestApiConfig {
            name: name.clone(),
            stage: ingest.stage.clone(),
            throttle: ingest.throttle,
            definition: definition(graph, ingest),
            usage: ingest.api_keys.as_ref().map(|keys| Usage {
                name: name.clone(),
                throttle: ingest.throttle,
                quota: keys.quota,
            }),
            access_logs: access_logs.as_ref().map(|(group, _)| group.clone()),
        };
        let mut depends_on = vec![role::id(DERIVED_INGEST_ROLE)];
        depends_on.extend(access_logs.iter().map(|(group, _)| log_group::id(group)));
        depends_on.extend(ingest.routes.iter().map(|route| super::stream::id(&route.stream)));
        depends_on.sort_by_key(ToString::to_string);
        depends_on.dedup();
        let mut nodes = vec![
            graph.node(role::id(DERIVED_INGEST_ROLE), &ingest.tags, Vec::new(), role_config),
            graph.node(id(&name), &ingest.tags, depends_on, config),
        ];
        if let Some((group, days)) = &access_logs {
            nodes.push(log_group::node(graph, group, *days, &ingest.tags));
        }
        if let Some(alarms) = crate::spec::enabled_alarms(spec) {
            nodes.extend(super::alarm::nodes(
                graph,
                crate::spec::ingest_alarms(alarms, &name),
                &id(&name),
                &name,
                &name,
            ));
        }
        nodes
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        let client = &read.clients.apigateway;
        let derived = ingest_api_name(read.pipeline);
        let apis = SharedReads::default();
        let apis = &apis;
        let pipeline = read.pipeline;
        read.named(KIND, " (aws apigateway tag-resource)")
            .read(
                async move { Ok(vec![derived]) },
                |name| async move {
                    let found = apis.get("", || rest_apis(client)).await?;
                    Ok(match ours(&found, &name, pipeline) {
                        Some(api) => Ownership::Tagged(tags_of(api)),
                        None => Ownership::Absent,
                    })
                },
                |name, _| async move {
                    let found = apis.get("", || rest_apis(client)).await?;
                    match ours(&found, &name, pipeline).and_then(RestApi::id) {
                        Some(api_id) => describe(client, &name, api_id, pipeline).await.map(Some),
                        None => Ok(None),
                    }
                },
            )
            .await
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &IngestApiConfig,
    ) -> Result<String, AwsError> {
        let id = &resource.id;
        let client = &ctx.clients.apigateway;
        ctx.clients.limits.pace(build::CONTROL_PLANE).await;
        let regional = EndpointConfiguration::builder().types(EndpointType::Regional).build();
        let created = client
            .create_rest_api()
            .name(&desired.name)
            .description(format!("Ingest API of pipectl pipeline {}", ctx.pipeline))
            .endpoint_configuration(regional)
            .set_tags(Some(resource.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|error| aws_error(id, "CreateRestApi", error))?;
        let api_id = created.id().ok_or_else(|| AwsError::missing(id, "CreateRestApi", "id"))?.to_string();
        let role_arn = ctx.arns.role(&ctx.roles_path, &desired.definition.role);
        let api = Api { client, id, api_id: &api_id, limits: &ctx.clients.limits, role_arn };
        api.build(&desired.definition).await?;
        let deployment = api.deploy(&desired.definition).await?;
        ctx.clients.limits.pace(build::CONTROL_PLANE).await;
        client
            .create_stage()
            .rest_api_id(&api_id)
            .stage_name(&desired.stage)
            .deployment_id(&deployment)
            .set_tags(Some(resource.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|error| aws_error(id, "CreateStage", error))?;
        throttle(&api, &desired.stage, desired.throttle).await?;
        if let Some(group) = &desired.access_logs {
            log_to(&api, ctx, &desired.stage, Some(group)).await?;
        }
        if let Some(usage) = &desired.usage {
            usage::create(&api, &desired.stage, usage, &resource.tags).await?;
        }
        Ok(api_id)
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &IngestApiConfig,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        let id = &resource.id;
        let client = &ctx.clients.apigateway;
        let role_arn = ctx.arns.role(&ctx.roles_path, &desired.definition.role);
        let api = Api { client, id, api_id: &detail.api_id, limits: &ctx.clients.limits, role_arn };
        let stage = detail.stage.as_ref().filter(|stage| stage.name == desired.stage);
        let fingerprint = desired.definition.fingerprint();
        let current =
            stage.and_then(|stage| stage.deployed.as_ref()).is_some_and(|(deployed, _)| *deployed == fingerprint);
        if !current {
            api.clear().await?;
            api.build(&desired.definition).await?;
            let deployment = api.deploy(&desired.definition).await?;
            match stage {
                Some(_) => patch_stage(&api, &desired.stage, vec![replace("/deploymentId", deployment)]).await?,
                None => {
                    ctx.clients.limits.pace(build::CONTROL_PLANE).await;
                    let create = client.create_stage().rest_api_id(&detail.api_id).stage_name(&desired.stage);
                    let create =
                        create.deployment_id(deployment).set_tags(Some(resource.tags.clone().into_iter().collect()));
                    create.send().await.map_err(|error| aws_error(id, "CreateStage", error))?;
                }
            }
        }
        let throttled = stage.is_some_and(|stage| {
            stage.rate == Some(desired.throttle.rate) && stage.burst == Some(desired.throttle.burst)
        });
        if !throttled {
            throttle(&api, &desired.stage, desired.throttle).await?;
        }
        let logged = stage.and_then(|stage| stage.access_logs.as_ref());
        if logged != desired.access_logs.as_ref() {
            log_to(&api, ctx, &desired.stage, desired.access_logs.as_deref()).await?;
        }
        match (&desired.usage, &detail.usage) {
            (Some(usage), None) => usage::create(&api, &desired.stage, usage, &resource.tags).await?,
            (Some(usage), Some(live_usage)) => {
                let stage = format!("{}:{}", detail.api_id, desired.stage);
                if live_usage.words() != usage.words() || live_usage.stages != [stage] {
                    usage::update(&api, live_usage, &desired.stage, usage).await?;
                }
            }
            (None, Some(live_usage)) => {
                usage::remove(client, &ctx.clients.limits, id, live_usage, &desired.name).await?;
            }
            (None, None) => {}
        }
        // A renamed stage: the usage plan has moved above, the domains' mappings move here, and
        // only then is the old stage deleted (AWS refuses to delete a stage a base path mapping
        // serves: hashicorp/terraform-provider-aws#28774).
        if let Some(old) = detail.stage.as_ref().filter(|stage| stage.name != desired.stage) {
            move_mappings(ctx, id, &detail.api_id, &old.name, &desired.stage).await?;
            ctx.clients.limits.pace(build::CONTROL_PLANE).await;
            let delete = client.delete_stage().rest_api_id(&detail.api_id).stage_name(&old.name);
            delete.send().await.map_err(|error| aws_error(id, "DeleteStage", error))?;
        }
        retag(ctx, id, &detail.api_id, &live.tags, &resource.tags).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
        if let Some(usage) = &detail.usage {
            usage::remove(&ctx.clients.apigateway, &ctx.clients.limits, &live.id, usage, &live.physical_id).await?;
        }
        // AWS allows one DeleteRestApi per 30 seconds per account (API Gateway Developer Guide,
        // "Amazon API Gateway quotas"): a refusal is retried once after that long.
        for attempt in 0..2 {
            ctx.clients.limits.pace(build::CONTROL_PLANE).await;
            let deleted = ctx.clients.apigateway.delete_rest_api().rest_api_id(&detail.api_id).send().await;
            let error = match deleted {
                Ok(_) => return Ok(()),
                Err(error) => aws_error(&live.id, "DeleteRestApi", error),
            };
            if !error.has_code("TooManyRequestsException") || attempt == 1 {
                return error.unless_not_found(());
            }
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        }
        Ok(())
    }

    fn outputs(&self, live: &LiveResource, detail: &Live, arns: &Arns) -> Vec<Output> {
        let mut outputs = vec![Output::new("name", &live.physical_id), Output::new("id", &detail.api_id)];
        if let Some(stage) = &detail.stage {
            let url =
                format!("https://{}.execute-api.{}.{}/{}", detail.api_id, arns.region, arns.dns_suffix(), stage.name);
            outputs.push(Output::new("invoke_url", url));
            if let Some((_, routes)) = &stage.deployed {
                outputs.push(Output::new("routes", routes.join("; ")));
            }
        }
        if let Some(key) = detail.usage.as_ref().and_then(|usage| usage.own_key(&live.physical_id)) {
            // The key's value is a secret: `aws apigateway get-api-key --api-key ID --include-value`.
            outputs.push(Output::new("api_key_id", key));
        }
        outputs
    }

    /// Requests bill per million (and data out per GB); the API itself is free.
    fn cost(&self, resource: &DesiredResource, _desired: &IngestApiConfig, prices: &Prices) -> Vec<CostLine> {
        let name = resource.id.to_string();
        vec![pricing::rate(
            &name,
            "API Gateway REST requests",
            "million",
            prices.figure("apigateway_rest_requests_million"),
        )]
    }

    /// API Gateway authorises its control plane by HTTP verb on resource paths; the REST API's
    /// id is AWS's choice, so the grants name `/restapis/*` and condition changes on the
    /// pipeline's tag, which an API's methods, integrations, models, deployments and stages
    /// inherit for access control ("API Gateway resources that can be tagged", API Gateway
    /// Developer Guide); so do a usage plan's keys from the plan, and API keys carry their own.
    /// Creating any of them needs the tag in the request. `GET /account` reads whether the
    /// region's logging role is set (access logs), which pipectl never changes.
    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let (region, partition) = (&ctx.arns.region, &ctx.arns.partition);
        let path = |path: &str| format!("arn:{partition}:apigateway:{region}::/{path}");
        let keys = ctx.spec.ingest.as_ref().is_some_and(|ingest| ingest.api_keys.is_some());
        let mut created = Vec::new();
        if ctx.spec.ingest.is_some() {
            created.push(path("restapis"));
        }
        if keys {
            created.extend([path("usageplans"), path("apikeys")]);
        }
        // The lists that find the pipeline's API and usage plan (and the account's logging role);
        // what is under them only where it carries the pipeline's tag.
        let lists: Vec<String> = ["restapis", "usageplans", "account"].into_iter().map(path).collect();
        let under: Vec<String> = ["restapis/*", "usageplans/*"].into_iter().map(path).collect();
        let owned: Vec<String> = ["restapis/*", "usageplans/*", "apikeys/*", "tags/*"].into_iter().map(path).collect();
        let change = ["apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"];
        let mut grants = vec![
            Grant::new("FindIngestApis", Scope::Plan, &["apigateway:GET"], lists),
            Grant::new("ReadOwnIngestApis", Scope::Plan, &["apigateway:GET"], under).when(ctx.tagged()),
            Grant::new("CreateTaggedIngestApi", Scope::Apply, &["apigateway:POST"], created).when(ctx.tagging()),
            Grant::new("ChangeOwnIngestApi", Scope::Apply, &change, owned.clone()).when(ctx.tagged()),
            Grant::new("DeleteOwnIngestApi", Scope::Destroy, &["apigateway:DELETE"], owned).when(ctx.tagged()),
        ];
        if ctx.spec.ingest.is_some() {
            grants.push(ctx.pass_roles("apigateway", &[DERIVED_INGEST_ROLE.to_string()]));
        }
        grants.extend(verify_grants(ctx));
        grants
    }
}

/// What `pipectl verify` got from putting its canary through the ingest API.
pub enum Invoked {
    /// No ingest API of the pipeline (or no such route) exists.
    Missing,
    /// API Gateway's status and body (Kinesis's answer, on success).
    Answered(i32, String),
}

/// Sends `body` to `POST /<path>` of the pipeline's ingest API with `TestInvokeMethod`: API
/// Gateway runs the method's request validation, mapping template and Kinesis integration with
/// its role, as for a client's request (throttling, API keys and CORS, which are the front of
/// the stage, are not part of it). `pipectl verify` uses it to put its canary through the API.
pub async fn invoke(
    clients: &super::Clients,
    pipeline: &str,
    path: &str,
    body: &str,
    headers: &[(String, String)],
) -> Result<Invoked, AwsError> {
    let client = &clients.apigateway;
    let Some(api_id) = api_id(clients, pipeline).await? else { return Ok(Invoked::Missing) };
    let api_id = api_id.as_str();
    let id = id(&ingest_api_name(pipeline));
    let resources = client.get_resources().rest_api_id(api_id).limit(500).send().await;
    let resources = resources.map_err(|error| aws_error(&id, "GetResources", error))?;
    let wanted = format!("/{path}");
    let Some(resource) =
        resources.items().iter().find(|resource| resource.path() == Some(wanted.as_str())).and_then(|r| r.id())
    else {
        return Ok(Invoked::Missing);
    };
    let mut request =
        client.test_invoke_method().rest_api_id(api_id).resource_id(resource).http_method("POST").body(body);
    for (header, value) in headers {
        request = request.headers(header, value);
    }
    let answer = request.send().await.map_err(|error| aws_error(&id, "TestInvokeMethod", error))?;
    Ok(Invoked::Answered(answer.status(), answer.body().unwrap_or_default().to_string()))
}

/// The id of the pipeline's ingest API, if it exists (found by its name and tag).
pub async fn api_id(clients: &super::Clients, pipeline: &str) -> Result<Option<String>, AwsError> {
    let apis = rest_apis(&clients.apigateway).await?;
    Ok(ours(&apis, &ingest_api_name(pipeline), pipeline).and_then(RestApi::id).map(str::to_string))
}

/// What `pipectl verify` needs of the ingest API: finding it and invoking its POST methods
/// (`TestInvokeMethod` is `apigateway:POST` on the method), on the pipeline's tagged API only.
pub fn verify_grants(ctx: &GrantContext) -> Vec<Grant> {
    if ctx.spec.ingest.is_none() {
        return Vec::new();
    }
    let (region, partition) = (&ctx.arns.region, &ctx.arns.partition);
    let apis = format!("arn:{partition}:apigateway:{region}::/restapis");
    let methods = format!("{apis}/*/resources/*/methods/POST");
    vec![
        Grant::new("FindTheIngestApi", Scope::Verify, &["apigateway:GET"], vec![apis.clone()]),
        Grant::new("ReadTheIngestApi", Scope::Verify, &["apigateway:GET"], vec![format!("{apis}/*")])
            .when(ctx.tagged()),
        Grant::new("PutCanariesThroughTheIngestApi", Scope::Verify, &["apigateway:POST"], vec![methods])
            .when(ctx.tagged()),
    ]
}

/// Every REST API of the account in the region (GetRestApis, 500 a page).
async fn rest_apis(client: &aws_sdk_apigateway::Client) -> Result<Vec<RestApi>, AwsError> {
    super::kit::all_pages(|position| async move {
        let page = client.get_rest_apis().limit(500).set_position(position).send().await;
        let page = page.map_err(|error| aws_error("ingest_api", "GetRestApis", error))?;
        Ok((page.items().to_vec(), page.position().map(str::to_string)))
    })
    .await
}

/// The API named `name` that carries the pipeline's tag: API Gateway names are not unique, so
/// an API of that name without the tag is someone else's and in nobody's way.
fn ours<'a>(apis: &'a [RestApi], name: &str, pipeline: &str) -> Option<&'a RestApi> {
    apis.iter().find(|api| api.name() == Some(name) && super::kit::owned_by(&tags_of(api), pipeline))
}

fn tags_of(api: &RestApi) -> Tags {
    super::kit::tags_of_map(api.tags())
}

/// The API's stages, the first one's deployment (pipectl makes one stage), its usage plan.
async fn describe(
    client: &aws_sdk_apigateway::Client,
    name: &str,
    api_id: &str,
    pipeline: &str,
) -> Result<Live, AwsError> {
    let id = id(name);
    let stages = client.get_stages().rest_api_id(api_id).send().await;
    let stages = stages.map_err(|error| aws_error(&id, "GetStages", error))?;
    let usage = usage::read(client, &id, name, pipeline).await?;
    let Some(stage) = stages.item().first() else { return Ok(Live { api_id: api_id.to_string(), stage: None, usage }) };
    let deployed = match stage.deployment_id() {
        Some(deployment) => {
            let read = client.get_deployment().rest_api_id(api_id).deployment_id(deployment).send().await;
            let read = read.map_err(|error| aws_error(&id, "GetDeployment", error))?;
            read.description().and_then(parse_description)
        }
        None => None,
    };
    Ok(Live { api_id: api_id.to_string(), stage: Some(live_stage(stage, deployed)), usage })
}

fn live_stage(stage: &Stage, deployed: Option<(String, Vec<String>)>) -> LiveStage {
    let all: Option<&aws_sdk_apigateway::types::MethodSetting> =
        stage.method_settings().and_then(|settings: &HashMap<String, _>| settings.get("*/*"));
    LiveStage {
        name: stage.stage_name().unwrap_or_default().to_string(),
        deployed,
        rate: all.map(|setting| setting.throttling_rate_limit()),
        burst: all.map(|setting| setting.throttling_burst_limit()),
        access_logs: stage
            .access_log_settings()
            .and_then(|settings| settings.destination_arn())
            .and_then(|arn| arn.split_once(":log-group:"))
            .map(|(_, group)| group.trim_end_matches(":*").to_string()),
    }
}

fn replace(path: &str, value: impl Into<String>) -> PatchOperation {
    PatchOperation::builder().op(Op::Replace).path(path).value(value).build()
}

async fn patch_stage(api: &Api<'_>, stage: &str, operations: Vec<PatchOperation>) -> Result<(), AwsError> {
    api.limits.pace(build::CONTROL_PLANE).await;
    let update = api.client.update_stage().rest_api_id(api.api_id).stage_name(stage);
    update
        .set_patch_operations(Some(operations))
        .send()
        .await
        .map_err(|error| aws_error(api.id, "UpdateStage", error))?;
    Ok(())
}

/// The whole stage's throttle (`*/*`): `replace` is the one operation both emulators take for
/// method settings, and AWS creates the setting when it does not exist.
async fn throttle(api: &Api<'_>, stage: &str, throttle: Throttle) -> Result<(), AwsError> {
    let operations = vec![
        replace("/*/*/throttling/rateLimit", throttle.rate.to_string()),
        replace("/*/*/throttling/burstLimit", throttle.burst.to_string()),
    ];
    patch_stage(api, stage, operations).await
}

/// The log group of the ingest API's access logs.
fn access_log_group(pipeline: &str) -> String {
    format!("{}ingest-access", log_group::prefix(pipeline))
}

/// One JSON line per request: who, when, what, and how it ended (the format must hold
/// `$context.requestId`: "Set up CloudWatch logging for REST APIs", API Gateway Developer Guide).
const ACCESS_LOG_FORMAT: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","time":"$context.requestTime","method":"$context.httpMethod","path":"$context.resourcePath","status":"$context.status","length":"$context.responseLength","latencyMs":"$context.responseLatency","error":"$context.integrationErrorMessage"}"#;

/// Points the stage's access logs at `group`, or turns them off. Access logging needs the
/// region's API Gateway CloudWatch Logs role of the account (`UpdateAccount`), which every API
/// of the account in the region shares: pipectl checks it and never sets it.
async fn log_to(api: &Api<'_>, ctx: &Context, stage: &str, group: Option<&str>) -> Result<(), AwsError> {
    let Some(group) = group else {
        let off = PatchOperation::builder().op(Op::Remove).path("/accessLogSettings").build();
        return patch_stage(api, stage, vec![off]).await;
    };
    api.limits.pace(build::CONTROL_PLANE).await;
    let account = api.client.get_account().send().await.map_err(|error| aws_error(api.id, "GetAccount", error))?;
    if account.cloudwatch_role_arn().is_none_or(str::is_empty) {
        return Err(AwsError::new(api.id, "GetAccount", format!(
            "access logs need API Gateway's CloudWatch Logs role for the account in {}, which is not set; an administrator sets it once per region (aws apigateway update-account --patch-operations op=replace,path=/cloudwatchRoleArn,value=ROLE_ARN, a role API Gateway may assume with the managed policy AmazonAPIGatewayPushToCloudWatchLogs). pipectl does not change this account-wide setting; without it, leave `access_logs` out",
            ctx.arns.region
        )));
    }
    let operations = vec![
        replace("/accessLogSettings/destinationArn", log_group::arn(&ctx.arns, group)),
        replace("/accessLogSettings/format", ACCESS_LOG_FORMAT),
    ];
    patch_stage(api, stage, operations).await
}

/// Points the mappings of the pipeline's own domains that serve the API's stage `old` at `new`
/// (UpdateBasePathMapping), for the update to delete `old` after: AWS refuses to delete a stage
/// a base path mapping serves (hashicorp/terraform-provider-aws#28774). Here rather than in
/// `api_domain`, which depends on this kind (kinds name each other without a cycle).
async fn move_mappings(ctx: &Context, id: &ResourceId, api_id: &str, old: &str, new: &str) -> Result<(), AwsError> {
    let client = &ctx.clients.apigateway;
    ctx.clients.limits.pace(build::CONTROL_PLANE).await;
    let domains = super::kit::all_pages(|position| async move {
        let page = client.get_domain_names().limit(500).set_position(position).send().await;
        let page = page.map_err(|error| aws_error(id, "GetDomainNames", error))?;
        Ok((page.items().to_vec(), page.position().map(str::to_string)))
    })
    .await?;
    let ours =
        domains.iter().filter(|domain| super::kit::owned_by(&super::kit::tags_of_map(domain.tags()), &ctx.pipeline));
    for name in ours.filter_map(|domain| domain.domain_name()) {
        ctx.clients.limits.pace(build::CONTROL_PLANE).await;
        let mappings = client.get_base_path_mappings().domain_name(name).limit(500).send().await;
        let mappings = mappings.map_err(|error| aws_error(id, "GetBasePathMappings", error))?;
        let serving = mappings.items().iter().filter(|m| m.rest_api_id() == Some(api_id) && m.stage() == Some(old));
        for path in serving.map(|mapping| mapping.base_path().unwrap_or("(none)")) {
            ctx.clients.limits.pace(build::CONTROL_PLANE).await;
            let update = client.update_base_path_mapping().domain_name(name).base_path(path);
            let update = update.patch_operations(replace("/stage", new));
            update.send().await.map_err(|error| aws_error(id, "UpdateBasePathMapping", error))?;
        }
    }
    Ok(())
}

/// Makes the API's tags `desired` (TagResource and UntagResource on its ARN).
async fn retag(ctx: &Context, id: &ResourceId, api_id: &str, live: &Tags, desired: &Tags) -> Result<(), AwsError> {
    let client = &ctx.clients.apigateway;
    let arn = format!("arn:{}:apigateway:{}::/restapis/{api_id}", ctx.arns.partition, ctx.arns.region);
    let arn = &arn;
    let untag = |stale: Vec<String>| async move {
        let request = client.untag_resource().resource_arn(arn).set_tag_keys(Some(stale));
        request.send().await.map(drop).map_err(|error| aws_error(id, "UntagResource", error))
    };
    let tag = |changed: Tags| async move {
        let request = client.tag_resource().resource_arn(arn).set_tags(Some(changed.into_iter().collect()));
        request.send().await.map(drop).map_err(|error| aws_error(id, "TagResource", error))
    };
    super::kit::retag::retag(live, desired, untag, tag).await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{deployer_grants, graph_in};
    use super::*;
    use crate::iam::deployer::{policy, Purpose};
    use crate::iam::evaluate::{allowed, Request};
    use crate::spec::Spec;

    fn spec(extra: &str) -> Spec {
        let yaml = format!("version: 1\npipeline: p\nregion: us-east-1\nstreams:\n  - {{name: clicks}}\n  - {{name: orders, encryption: kms, kms_key: 'arn:aws:kms:us-east-1:123456789012:key/k1'}}\n  - {{name: other}}\ningest:\n  throttle: {{rate: 10, burst: 20}}\n  routes:\n    - {{stream: clicks}}\n    - {{stream: orders, path: v1/orders}}\n{extra}");
        crate::spec::load_bytes("ingest.yaml", yaml.as_bytes()).expect("a valid spec")
    }

    #[test]
    fn the_role_puts_into_the_routed_streams_only_and_encrypts_with_their_keys() {
        let spec = spec("");
        let graph = graph_in(&spec, &Arns::new("123456789012", "us-east-1"), chrono::Utc::now());
        let role = graph.iter().find(|node| node.id == role::id(DERIVED_INGEST_ROLE)).expect("the derived role");
        let config = role.config::<role::RoleConfig>().expect("a role");
        let inline = config.inline.clone().expect("an inline policy");
        let stream = |name: &str| format!("arn:aws:kinesis:us-east-1:123456789012:stream/{name}");
        let put = |name: &str| Request::new("kinesis:PutRecords", &stream(name));
        assert!(allowed(&inline, &put("clicks")) && allowed(&inline, &put("orders")));
        assert!(!allowed(&inline, &put("other")), "a stream no route names");
        assert!(!allowed(&inline, &Request::new("kinesis:GetRecords", &stream("clicks"))), "it only writes");
        let key = "arn:aws:kms:us-east-1:123456789012:key/k1";
        let encrypt = Request::new("kms:GenerateDataKey", key)
            .with("kms:ViaService", &["kinesis.us-east-1.amazonaws.com"])
            .with("kms:EncryptionContext:aws:kinesis:arn", &[&stream("orders")]);
        assert!(allowed(&inline, &encrypt), "{inline}");
        let elsewhere = Request::new("kms:GenerateDataKey", key)
            .with("kms:ViaService", &["kinesis.us-east-1.amazonaws.com"])
            .with("kms:EncryptionContext:aws:kinesis:arn", &[&stream("other")]);
        assert!(!allowed(&inline, &elsewhere), "the key only for the routed stream");
        assert_eq!(config.trust["Statement"][0]["Principal"], json!({"Service": ["apigateway.amazonaws.com"]}));
        let api = graph.iter().find(|node| node.id.kind == KIND).expect("the API");
        let depends: Vec<String> = api.depends_on.iter().map(ToString::to_string).collect();
        assert_eq!(depends, ["role/ingest-apigateway", "stream/clicks", "stream/orders"]);
    }

    #[test]
    fn the_deployer_changes_only_apis_tagged_for_the_pipeline_and_passes_the_role_to_api_gateway() {
        let spec = spec("");
        let grants = deployer_grants(&GrantContext::new(&spec, "us-east-1", "123456789012"));
        let deployer = policy(grants, Purpose::Everything);
        let api = "arn:aws:apigateway:us-east-1::/restapis/a1b2c3/resources/r1/methods/POST/integration";
        let tagged =
            |pipeline: &str| Request::new("apigateway:PUT", api).with("aws:ResourceTag/pipectl:pipeline", &[pipeline]);
        assert!(allowed(&deployer, &tagged("p")));
        assert!(!allowed(&deployer, &tagged("p-other")), "another pipeline's API");
        let delete = Request::new("apigateway:DELETE", "arn:aws:apigateway:us-east-1::/restapis/x9");
        assert!(!allowed(&deployer, &delete), "an untagged API");
        let create = |pipeline: &str| {
            Request::new("apigateway:POST", "arn:aws:apigateway:us-east-1::/restapis")
                .with("aws:RequestTag/pipectl:pipeline", &[pipeline])
        };
        assert!(allowed(&deployer, &create("p")) && !allowed(&deployer, &create("q")));
        let role = "arn:aws:iam::123456789012:role/pipectl/p/us-east-1/p-ingest-apigateway-use1";
        let pass = |service: &str| Request::new("iam:PassRole", role).with("iam:PassedToService", &[service]);
        assert!(allowed(&deployer, &pass("apigateway.amazonaws.com")));
        assert!(!allowed(&deployer, &pass("firehose.amazonaws.com")));
        // Without `ingest:`, the API is still looked up (one the spec dropped is deleted), but
        // nothing is created or passed.
        let plain =
            crate::spec::load_bytes("p.yaml", b"version: 1\npipeline: p\nregion: us-east-1\nstreams: [{name: s}]\n")
                .unwrap();
        let without =
            policy(deployer_grants(&GrantContext::new(&plain, "us-east-1", "123456789012")), Purpose::Everything);
        assert!(!allowed(&without, &create("p")));
        assert!(!allowed(&without, &pass("apigateway.amazonaws.com")));
        assert!(allowed(&without, &Request::new("apigateway:GET", "arn:aws:apigateway:us-east-1::/restapis")));
    }
}

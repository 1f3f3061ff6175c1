//! The ingest API's custom domain (`ingest.domain`): an API Gateway regional domain name with
//! its ACM certificate, and the base path mapping that serves the API's stage at the domain's
//! root. Clients then call `https://<domain>/<path>`; the domain's DNS (a CNAME or alias to the
//! regional domain name `pipectl output` gives) is the user's, in whatever zone holds it.
//!
//! A domain name is found by its name and owned by its tags, like every kind. LocalStack
//! community keeps the tags of `CreateDomainName` nowhere it answers (`GetDomainName`,
//! `GetTags`) but keeps those of `TagResource` for `GetTags`: against an emulator, a domain
//! listed without tags is read once more through `GetTags`, and a new domain that answers without its tags is tagged
//! once more with `TagResource` (localstack/README.md, "The ingest API").
//!
//! A new certificate is `UpdateDomainName` (in place: the regional domain name, and so the DNS,
//! stays); another stage or API is the mapping deleted and created again. Deleting the domain
//! loses no data.

use aws_sdk_apigateway::types::{DomainName, EndpointConfiguration, EndpointType, Op, PatchOperation, SecurityPolicy};
use serde_json::json;

use super::ingest_api;
use super::kit::named::SharedReads;
use super::kit::{
    aws_error, tags_of_map, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, Output, Ownership,
    ReadContext, ResourceKind, Scope, Tags,
};
use crate::iam::Arns;
use crate::model::{
    Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::names::ingest_api_name;

pub struct ApiDomain;
pub const KIND: Kind = Kind::of(&ApiDomain);

/// The base path of a mapping at the domain's root, as API Gateway names it.
const ROOT: &str = "(none)";

pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// The domain name's ARN, as tagging names it.
fn arn(arns: &Arns, name: &str) -> String {
    format!("arn:{}:apigateway:{}::/domainnames/{name}", arns.partition, arns.region)
}

/// What the spec asks: the certificate, and the API and stage served at the root.
#[derive(Debug, Clone)]
pub struct ApiDomainConfig {
    pub certificate_arn: String,
    pub api_name: String,
    pub stage: String,
}

impl DesiredConfig for ApiDomainConfig {
    fn attributes(&self) -> Attributes {
        Attributes::from([
            ("certificate_arn".to_string(), json!(self.certificate_arn)),
            ("serves".to_string(), json!(format!("{}/{}", self.api_name, self.stage))),
        ])
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub certificate_arn: Option<String>,
    pub regional_domain_name: Option<String>,
    pub regional_hosted_zone_id: Option<String>,
    /// What the root mapping serves, as `api name/stage`, if there is one.
    pub serves: Option<String>,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, _names: &Names) -> (Attributes, Vec<ResourceId>) {
        let attributes = Attributes::from([
            ("certificate_arn".to_string(), json!(self.certificate_arn)),
            ("serves".to_string(), json!(self.serves)),
        ]);
        (attributes, Vec::new())
    }
}

impl KindRules for ApiDomain {
    fn name(&self) -> &'static str {
        "api_domain"
    }
    fn rank(&self) -> u8 {
        77
    }
}

impl ResourceKind for ApiDomain {
    type Desired = ApiDomainConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let spec = graph.spec;
        let Some(ingest) = &spec.ingest else { return Vec::new() };
        let Some(domain) = &ingest.domain else { return Vec::new() };
        let api_name = ingest_api_name(&spec.pipeline);
        let config = ApiDomainConfig {
            certificate_arn: domain.certificate_arn.clone(),
            api_name: api_name.clone(),
            stage: ingest.stage.clone(),
        };
        vec![graph.node(id(&domain.name), &ingest.tags, vec![ingest_api::id(&api_name)], config)]
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        let client = &read.clients.apigateway;
        let arns = Arns::new(read.account_id().await?, &read.clients.region);
        let arns = &arns;
        let emulated = read.clients.emulated;
        // One listing answers which domains exist and their tags, so no other pipeline's domain
        // is read one by one.
        let listed = SharedReads::default();
        let listed = &listed;
        let domains = || async move { listed.get("", || domain_names(client)).await };
        read.named(KIND, " (aws apigateway tag-resource)")
            .read(
                async move { Ok(domains().await?.iter().filter_map(|d| d.domain_name().map(str::to_string)).collect()) },
                |name| async move {
                    let found = domains().await?;
                    let domain = found.iter().find(|domain| domain.domain_name() == Some(name.as_str()));
                    match domain {
                        Some(domain) => ownership(client, arns, domain, emulated).await,
                        None => Ok(Ownership::Absent),
                    }
                },
                |name, _| async move {
                    // Only a listed domain is read (a GET of one that does not exist would need
                    // a grant on a name no tag protects).
                    let listed = domains().await?.iter().any(|domain| domain.domain_name() == Some(name.as_str()));
                    if !listed {
                        return Ok(None);
                    }
                    describe(client, &name).await
                },
            )
            .await
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &ApiDomainConfig,
    ) -> Result<String, AwsError> {
        let (client, id, name) = (&ctx.clients.apigateway, &resource.id, &resource.id.name);
        let regional = EndpointConfiguration::builder().types(EndpointType::Regional).build();
        ctx.clients.limits.pace(ingest_api::CONTROL_PLANE).await;
        client
            .create_domain_name()
            .domain_name(name)
            .regional_certificate_arn(&desired.certificate_arn)
            .endpoint_configuration(regional)
            .security_policy(SecurityPolicy::Tls12)
            .set_tags(Some(resource.tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|error| aws_error(id, "CreateDomainName", error))?;
        // A domain that answers without the tags it was created with (LocalStack) is tagged once
        // more, where its GetTags finds them (the module's header).
        ctx.clients.limits.pace(ingest_api::CONTROL_PLANE).await;
        let created = client.get_domain_name().domain_name(name).send().await;
        let created = created.map_err(|error| aws_error(id, "GetDomainName", error))?;
        if created.tags().is_none_or(|tags| tags.is_empty()) && !resource.tags.is_empty() {
            ctx.clients.limits.pace(ingest_api::CONTROL_PLANE).await;
            let tag = client.tag_resource().resource_arn(arn(&ctx.arns, name));
            let tag = tag.set_tags(Some(resource.tags.clone().into_iter().collect()));
            tag.send().await.map_err(|error| aws_error(id, "TagResource", error))?;
        }
        map(ctx, id, name, desired).await?;
        Ok(name.clone())
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &ApiDomainConfig,
        _live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        let (client, id, name) = (&ctx.clients.apigateway, &resource.id, &resource.id.name);
        if detail.certificate_arn.as_deref() != Some(desired.certificate_arn.as_str()) {
            let certificate = PatchOperation::builder()
                .op(Op::Replace)
                .path("/regionalCertificateArn")
                .value(&desired.certificate_arn)
                .build();
            ctx.clients.limits.pace(ingest_api::CONTROL_PLANE).await;
            let update = client.update_domain_name().domain_name(name).patch_operations(certificate);
            update.send().await.map_err(|error| aws_error(id, "UpdateDomainName", error))?;
        }
        let serves = format!("{}/{}", desired.api_name, desired.stage);
        if detail.serves.as_deref() != Some(serves.as_str()) {
            unmap(ctx, id, name).await?;
            map(ctx, id, name, desired).await?;
        }
        Ok(())
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        unmap(ctx, &live.id, &live.physical_id).await?;
        ctx.clients.limits.pace(ingest_api::CONTROL_PLANE).await;
        let delete = ctx.clients.apigateway.delete_domain_name().domain_name(&live.physical_id).send().await;
        delete.map(drop).or_else(|error| aws_error(&live.id, "DeleteDomainName", error).unless_not_found(()))
    }

    fn outputs(&self, live: &LiveResource, detail: &Live, _arns: &Arns) -> Vec<Output> {
        let mut outputs = vec![Output::new("url", format!("https://{}", live.physical_id))];
        if let Some(target) = &detail.regional_domain_name {
            outputs.push(Output::new("dns_target", target));
        }
        if let Some(zone) = &detail.regional_hosted_zone_id {
            outputs.push(Output::new("hosted_zone_id", zone));
        }
        outputs
    }

    /// The list finds the domain; under `/domainnames/*` (the domain and its base path
    /// mappings, which inherit its tags) only with the pipeline's tag; creating it needs the
    /// tag in the request.
    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let (region, partition) = (&ctx.arns.region, &ctx.arns.partition);
        let list = format!("arn:{partition}:apigateway:{region}::/domainnames");
        let under = vec![format!("{list}/*")];
        let created = if ctx.spec.ingest.as_ref().is_some_and(|ingest| ingest.domain.is_some()) {
            vec![list.clone()]
        } else {
            Vec::new()
        };
        let change = ["apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"];
        vec![
            Grant::new("FindIngestDomains", Scope::Plan, &["apigateway:GET"], vec![list]),
            Grant::new("ReadOwnIngestDomains", Scope::Plan, &["apigateway:GET"], under.clone()).when(ctx.tagged()),
            Grant::new("CreateTaggedIngestDomain", Scope::Apply, &["apigateway:POST"], created).when(ctx.tagging()),
            Grant::new("ChangeOwnIngestDomains", Scope::Apply, &change, under.clone()).when(ctx.tagged()),
            Grant::new("DeleteOwnIngestDomains", Scope::Destroy, &["apigateway:DELETE"], under).when(ctx.tagged()),
        ]
    }
}

/// Maps the API's stage at the domain's root.
async fn map(ctx: &Context, id: &ResourceId, name: &str, desired: &ApiDomainConfig) -> Result<(), AwsError> {
    let Some(api_id) = ingest_api::api_id(&ctx.clients, &ctx.pipeline).await? else {
        return Err(AwsError::new(
            id,
            "CreateBasePathMapping",
            format!("the ingest API {} does not exist", desired.api_name),
        ));
    };
    ctx.clients.limits.pace(ingest_api::CONTROL_PLANE).await;
    let request =
        ctx.clients.apigateway.create_base_path_mapping().domain_name(name).rest_api_id(api_id).stage(&desired.stage);
    request.send().await.map_err(|error| aws_error(id, "CreateBasePathMapping", error))?;
    Ok(())
}

/// Removes the root mapping (none is fine).
async fn unmap(ctx: &Context, id: &ResourceId, name: &str) -> Result<(), AwsError> {
    ctx.clients.limits.pace(ingest_api::CONTROL_PLANE).await;
    let request = ctx.clients.apigateway.delete_base_path_mapping().domain_name(name).base_path(ROOT);
    request.send().await.map(drop).or_else(|error| aws_error(id, "DeleteBasePathMapping", error).unless_not_found(()))
}

/// Every domain name of the account in the region (GetDomainNames, 500 a page).
async fn domain_names(client: &aws_sdk_apigateway::Client) -> Result<Vec<DomainName>, AwsError> {
    super::kit::all_pages(|position| async move {
        let page = client.get_domain_names().limit(500).set_position(position).send().await;
        let page = page.map_err(|error| aws_error("api_domain", "GetDomainNames", error))?;
        Ok((page.items().to_vec(), page.position().map(str::to_string)))
    })
    .await
}

/// Whose `domain` (as the listing answered it) is: its tags, or on an emulator that answers
/// none there, those of GetTags (LocalStack keeps them only there; the module's header).
async fn ownership(
    client: &aws_sdk_apigateway::Client,
    arns: &Arns,
    domain: &DomainName,
    emulated: bool,
) -> Result<Ownership, AwsError> {
    let name = domain.domain_name().unwrap_or_default();
    let mut tags: Tags = tags_of_map(domain.tags());
    if tags.is_empty() && emulated {
        // moto serves no GetTags for a domain name (and keeps its tags on the domain).
        if let Ok(found) = client.get_tags().resource_arn(arn(arns, name)).send().await {
            tags.extend(found.tags().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    Ok(Ownership::Tagged(tags))
}

/// The domain's certificate and DNS target, and what its root mapping serves.
async fn describe(client: &aws_sdk_apigateway::Client, name: &str) -> Result<Option<Live>, AwsError> {
    let domain = match client.get_domain_name().domain_name(name).send().await {
        Ok(domain) => domain,
        Err(error) => return aws_error(id(name), "GetDomainName", error).unless_not_found(None),
    };
    let mappings = client.get_base_path_mappings().domain_name(name).limit(500).send().await;
    let mappings = mappings.map_err(|error| aws_error(id(name), "GetBasePathMappings", error))?;
    let root =
        mappings.items().iter().find(|mapping| mapping.base_path().is_none_or(|path| path == ROOT || path.is_empty()));
    let serves = match root.and_then(|mapping| Some((mapping.rest_api_id()?, mapping.stage().unwrap_or_default()))) {
        Some((api_id, stage)) => {
            let api = client.get_rest_api().rest_api_id(api_id).send().await;
            let api = api.map_err(|error| aws_error(id(name), "GetRestApi", error))?;
            Some(format!("{}/{stage}", api.name().unwrap_or(api_id)))
        }
        None => None,
    };
    Ok(Some(Live {
        certificate_arn: domain.regional_certificate_arn().map(str::to_string),
        regional_domain_name: domain.regional_domain_name().map(str::to_string),
        regional_hosted_zone_id: domain.regional_hosted_zone_id().map(str::to_string),
        serves,
    }))
}

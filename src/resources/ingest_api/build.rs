//! The API Gateway calls that put a `Definition` into a REST API and take it out again: the
//! resource tree, each POST method with its Kinesis integration and responses, the OPTIONS
//! methods of CORS, the request models and validator; and deploying it.
//!
//! Every call is paced to API Gateway's account-wide control-plane rate (10 requests per
//! second; `aws::documented_rate`), since one API takes a few dozen of them. A redeploy is
//! `CreateDeployment` without a stage, then `UpdateStage` to point the stage at it: creating a
//! deployment *for* an existing stage replaces the stage on both emulators, losing its
//! throttling and tags (localstack/README.md, "The ingest API").

use std::collections::BTreeMap;

use aws_sdk_apigateway::types::IntegrationType;
use aws_sdk_apigateway::Client;

use super::definition::{cors_template, Definition, Method};
use crate::aws::{aws_error, AwsError, Limiter};
use crate::model::ResourceId;
use crate::spec::PartitionKeySource;

/// The pace every API Gateway control-plane call keeps (`aws::limits`).
pub const CONTROL_PLANE: &str = "apigateway:ControlPlane";

/// The header Kinesis's JSON protocol needs, as a static integration request parameter.
const KINESIS_CONTENT_TYPE: (&str, &str) = ("integration.request.header.Content-Type", "'application/x-amz-json-1.1'");
const ALLOW_ORIGIN: &str = "method.response.header.Access-Control-Allow-Origin";
const ALLOW_METHODS: &str = "method.response.header.Access-Control-Allow-Methods";
const ALLOW_HEADERS: &str = "method.response.header.Access-Control-Allow-Headers";
/// The name of the one request validator pipectl creates: the body against the method's model.
const VALIDATOR: &str = "pipectl-body";

/// One REST API being changed: the client, the plan's id for errors, the API's id, the pace,
/// and the ARN of the role its integrations write with.
pub struct Api<'a> {
    pub client: &'a Client,
    pub id: &'a ResourceId,
    pub api_id: &'a str,
    pub limits: &'a Limiter,
    pub role_arn: String,
}

impl Api<'_> {
    async fn paced(&self) {
        self.limits.pace(CONTROL_PLANE).await;
    }

    /// `/` and every resource below it, by path.
    async fn resources(&self) -> Result<BTreeMap<String, String>, AwsError> {
        let resources = super::super::kit::all_pages(|position| async move {
            self.paced().await;
            let page =
                self.client.get_resources().rest_api_id(self.api_id).limit(500).set_position(position).send().await;
            let page = page.map_err(|error| aws_error(self.id, "GetResources", error))?;
            Ok((page.items().to_vec(), page.position().map(str::to_string)))
        })
        .await?;
        let paths =
            resources.iter().filter_map(|resource| Some((resource.path()?.to_string(), resource.id()?.to_string())));
        Ok(paths.collect())
    }

    /// The resource of `path` (`events/clicks`), creating it and its parents as needed.
    async fn resource(&self, tree: &mut BTreeMap<String, String>, path: &str) -> Result<String, AwsError> {
        let mut parent = tree
            .get("/")
            .cloned()
            .ok_or_else(|| AwsError::new(self.id, "GetResources", "the API has no root resource"))?;
        let mut at = String::new();
        for part in path.split('/') {
            at = format!("{at}/{part}");
            parent = match tree.get(&at) {
                Some(existing) => existing.clone(),
                None => {
                    self.paced().await;
                    let created = self
                        .client
                        .create_resource()
                        .rest_api_id(self.api_id)
                        .parent_id(&parent)
                        .path_part(part)
                        .send()
                        .await
                        .map_err(|error| aws_error(self.id, "CreateResource", error))?;
                    let created = created.id().unwrap_or_default().to_string();
                    tree.insert(at.clone(), created.clone());
                    created
                }
            };
        }
        Ok(parent)
    }

    /// Builds everything `definition` serves into an API that holds none of it.
    pub async fn build(&self, definition: &Definition) -> Result<(), AwsError> {
        let mut tree = self.resources().await?;
        let validator = self.validator().await?;
        for method in definition.methods() {
            let resource = self.resource(&mut tree, &method.path).await?;
            if let Some((name, schema)) = &method.model {
                self.model(name, schema).await?;
            }
            self.post(definition, &method, &resource, &validator).await?;
            if !definition.cors.is_empty() {
                self.options(definition, &resource).await?;
            }
        }
        Ok(())
    }

    async fn validator(&self) -> Result<String, AwsError> {
        self.paced().await;
        let created = self
            .client
            .create_request_validator()
            .rest_api_id(self.api_id)
            .name(VALIDATOR)
            .validate_request_body(true)
            .validate_request_parameters(false)
            .send()
            .await
            .map_err(|error| aws_error(self.id, "CreateRequestValidator", error))?;
        Ok(created.id().unwrap_or_default().to_string())
    }

    async fn model(&self, name: &str, schema: &serde_json::Value) -> Result<(), AwsError> {
        self.paced().await;
        self.client
            .create_model()
            .rest_api_id(self.api_id)
            .name(name)
            .content_type("application/json")
            .schema(schema.to_string())
            .send()
            .await
            .map_err(|error| aws_error(self.id, "CreateModel", error))?;
        Ok(())
    }

    /// `POST` on `resource`: the Kinesis integration as `method` says, answering 200, and 400
    /// or 500 when Kinesis does (without those patterns Kinesis's errors would pass as 200).
    async fn post(
        &self,
        definition: &Definition,
        method: &Method,
        resource: &str,
        validator: &str,
    ) -> Result<(), AwsError> {
        self.paced().await;
        let mut put = self
            .client
            .put_method()
            .rest_api_id(self.api_id)
            .resource_id(resource)
            .http_method("POST")
            .authorization_type("NONE")
            .api_key_required(definition.api_key_required);
        if let Some((model, _)) = &method.model {
            put = put.request_validator_id(validator).request_models("application/json", model);
        }
        put.send().await.map_err(|error| aws_error(self.id, "PutMethod", error))?;
        self.paced().await;
        self.client
            .put_integration()
            .rest_api_id(self.api_id)
            .resource_id(resource)
            .http_method("POST")
            .r#type(IntegrationType::Aws)
            .integration_http_method("POST")
            .uri(definition.integration_uri(method.action))
            .credentials(&self.role_arn)
            .request_parameters(KINESIS_CONTENT_TYPE.0, KINESIS_CONTENT_TYPE.1)
            .request_templates("application/json", &method.template)
            .passthrough_behavior("NEVER")
            .send()
            .await
            .map_err(|error| aws_error(self.id, "PutIntegration", error))?;
        for (status, pattern) in [("200", ""), ("400", "4\\d{2}"), ("500", "5\\d{2}")] {
            self.respond(definition, resource, "POST", status, pattern, &[]).await?;
        }
        Ok(())
    }

    /// `OPTIONS` on `resource`: the CORS preflight, answered by API Gateway itself (MOCK).
    async fn options(&self, definition: &Definition, resource: &str) -> Result<(), AwsError> {
        self.paced().await;
        let put = self.client.put_method().rest_api_id(self.api_id).resource_id(resource).http_method("OPTIONS");
        put.authorization_type("NONE").send().await.map_err(|error| aws_error(self.id, "PutMethod", error))?;
        self.paced().await;
        self.client
            .put_integration()
            .rest_api_id(self.api_id)
            .resource_id(resource)
            .http_method("OPTIONS")
            .r#type(IntegrationType::Mock)
            .request_templates("application/json", "{\"statusCode\": 200}")
            .send()
            .await
            .map_err(|error| aws_error(self.id, "PutIntegration", error))?;
        let mut allowed = vec!["Content-Type".to_string()];
        allowed.extend(definition.routes.iter().filter_map(|route| match &route.partition_key {
            PartitionKeySource::Header(header) => Some(header.clone()),
            _ => None,
        }));
        if definition.api_key_required {
            allowed.push("X-Api-Key".to_string());
        }
        allowed.dedup();
        let preflight =
            [(ALLOW_METHODS, "'POST,OPTIONS'".to_string()), (ALLOW_HEADERS, format!("'{}'", allowed.join(",")))];
        self.respond(definition, resource, "OPTIONS", "200", "", &preflight).await
    }

    /// One method response and its integration response, with the CORS origin header when the
    /// API has CORS (static for `*`, chosen per request by template for listed origins).
    async fn respond(
        &self,
        definition: &Definition,
        resource: &str,
        method: &str,
        status: &str,
        pattern: &str,
        headers: &[(&str, String)],
    ) -> Result<(), AwsError> {
        let cors = !definition.cors.is_empty();
        let mut headers: Vec<(&str, String)> = headers.to_vec();
        if definition.cors.iter().any(|origin| origin == "*") {
            headers.push((ALLOW_ORIGIN, "'*'".to_string()));
        }
        self.paced().await;
        let mut response = self
            .client
            .put_method_response()
            .rest_api_id(self.api_id)
            .resource_id(resource)
            .http_method(method)
            .status_code(status);
        for (header, _) in &headers {
            response = response.response_parameters(*header, false);
        }
        if cors {
            response = response.response_parameters(ALLOW_ORIGIN, false);
        }
        response.send().await.map_err(|error| aws_error(self.id, "PutMethodResponse", error))?;
        self.paced().await;
        let mut integration = self
            .client
            .put_integration_response()
            .rest_api_id(self.api_id)
            .resource_id(resource)
            .http_method(method)
            .status_code(status)
            .selection_pattern(pattern);
        for (header, value) in &headers {
            integration = integration.response_parameters(*header, value);
        }
        if let Some(template) = cors_template(&definition.cors) {
            integration = integration.response_templates("application/json", template);
        }
        integration.send().await.map_err(|error| aws_error(self.id, "PutIntegrationResponse", error))?;
        Ok(())
    }

    /// Removes every route, model and validator pipectl built, so that `build` starts afresh
    /// (the stage keeps serving its deployment meanwhile: deployments are snapshots).
    pub async fn clear(&self) -> Result<(), AwsError> {
        let tree = self.resources().await?;
        // Deepest first: AWS deletes a resource with its children, but moto leaves the children
        // behind, pointing at a parent that is gone (and GetResources then fails).
        let mut below_root: Vec<(&String, &String)> = tree.iter().filter(|(path, _)| *path != "/").collect();
        below_root.sort_by_key(|(path, _)| std::cmp::Reverse(path.matches('/').count()));
        for (_, resource) in below_root {
            self.paced().await;
            let request = self.client.delete_resource().rest_api_id(self.api_id).resource_id(resource);
            request.send().await.map_err(|error| aws_error(self.id, "DeleteResource", error))?;
        }
        self.paced().await;
        let models = self.client.get_models().rest_api_id(self.api_id).limit(500).send().await;
        let models = models.map_err(|error| aws_error(self.id, "GetModels", error))?;
        // `Empty` and `Error` are API Gateway's own models of every API.
        for name in
            models.items().iter().filter_map(|model| model.name()).filter(|name| !matches!(*name, "Empty" | "Error"))
        {
            self.paced().await;
            let request = self.client.delete_model().rest_api_id(self.api_id).model_name(name);
            request.send().await.map_err(|error| aws_error(self.id, "DeleteModel", error))?;
        }
        self.paced().await;
        let validators = self.client.get_request_validators().rest_api_id(self.api_id).limit(500).send().await;
        let validators = validators.map_err(|error| aws_error(self.id, "GetRequestValidators", error))?;
        for validator in validators.items().iter().filter_map(|validator| validator.id()) {
            self.paced().await;
            let request =
                self.client.delete_request_validator().rest_api_id(self.api_id).request_validator_id(validator);
            request.send().await.map_err(|error| aws_error(self.id, "DeleteRequestValidator", error))?;
        }
        Ok(())
    }

    /// A deployment of what the API holds now, described as `definition` (no stage: see the
    /// module's header).
    pub async fn deploy(&self, definition: &Definition) -> Result<String, AwsError> {
        self.paced().await;
        let deployment = self
            .client
            .create_deployment()
            .rest_api_id(self.api_id)
            .description(definition.description())
            .send()
            .await
            .map_err(|error| aws_error(self.id, "CreateDeployment", error))?;
        Ok(deployment.id().unwrap_or_default().to_string())
    }
}

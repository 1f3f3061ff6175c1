//! The EMR security configuration every cluster of the pipeline launches with,
//! `pipectl-<pipeline>-emr` (`names::emr_security_configuration_name`): it requires IMDSv2 on the
//! cluster's instances, so that a process tricked into fetching a URL (SSRF) cannot read the
//! instance role's credentials from the metadata service without a session token.
//!
//! The setting is EMR's own: a security configuration's `InstanceMetadataServiceConfiguration`
//! with `MinimumInstanceMetadataServiceVersion: 2` and `HttpPutResponseHopLimit` ("Create a
//! security configuration with the Amazon EMR console or with the AWS CLI", Amazon EMR Management
//! Guide, "Configure Instance Metadata Service (IMDS)"; EMR 5.23.1, 5.27.1, 5.32+ and 6.2+ use
//! IMDSv2 themselves). The hop limit stays 1 (EMR's default): the tokens never leave the instance.
//! RunJobFlow names the configuration (`SecurityConfiguration`), which EMR reads at launch, so
//! it exists before any cluster (the cluster depends on it) and outlives them.
//!
//! EMR security configurations cannot be tagged, and moto (the emulator that serves EMR) has no
//! ListSecurityConfigurations: the configuration is found by its exact name
//! (DescribeSecurityConfiguration), which is why there is one per pipeline rather than one per
//! cluster — a destroy, whose spec may name no cluster, still knows it. Its content is the same
//! for every cluster. A configuration of that name is taken as the pipeline's (the `pipectl-`
//! prefix and the pipeline's name, unique in a region, are its ownership). A configuration is
//! immutable: a different content replaces it (delete, then create), which EMR refuses while a
//! running cluster uses it; clusters launched before keep the settings they launched with.

use serde_json::{json, Value};

use super::kit::{
    aws_error, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, ReadContext, ResourceKind, Scope,
};
use crate::model::{
    Action, Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::names::{emr_security_configuration_name, Tags};

pub struct SecurityConfiguration;
pub const KIND: Kind = Kind::of(&SecurityConfiguration);

/// The pipeline's one configuration: `security_configuration/emr`.
pub fn id() -> ResourceId {
    ResourceId::new(KIND, "emr")
}

/// The settings every cluster launches with.
pub fn content() -> Value {
    json!({
        "InstanceMetadataServiceConfiguration": {
            "MinimumInstanceMetadataServiceVersion": 2,
            "HttpPutResponseHopLimit": 1
        }
    })
}

/// The node, for a spec with clusters (each cluster pushes it and depends on it).
pub fn node(graph: &GraphContext) -> DesiredResource {
    let config = SecurityConfigurationConfig {
        name: emr_security_configuration_name(&graph.spec.pipeline),
        configuration: content(),
    };
    graph.node(id(), &Tags::new(), Vec::new(), config)
}

#[derive(Debug, Clone)]
pub struct SecurityConfigurationConfig {
    pub name: String,
    pub configuration: Value,
}

impl DesiredConfig for SecurityConfigurationConfig {
    fn attributes(&self) -> Attributes {
        Attributes::from([("configuration".to_string(), self.configuration.clone())])
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    /// The configuration as EMR returns it, parsed (`null` when it is not JSON).
    pub configuration: Value,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, _names: &Names) -> (Attributes, Vec<ResourceId>) {
        (Attributes::from([("configuration".to_string(), self.configuration.clone())]), Vec::new())
    }
}

impl KindRules for SecurityConfiguration {
    fn name(&self) -> &'static str {
        "security_configuration"
    }
    fn rank(&self) -> u8 {
        85
    }
    /// EMR has no call that changes a security configuration.
    fn forces_replacement(&self, field: &str) -> bool {
        field == "configuration"
    }
    /// EMR cannot tag security configurations: no tags are compared.
    fn compared_tags(&self, _tags: &Tags) -> Tags {
        Tags::new()
    }
    fn change_notes(&self, action: Action, _before: Option<&Attributes>, _after: Option<&Attributes>) -> Vec<String> {
        match action {
            Action::Replace => vec!["EMR cannot change a security configuration: it is deleted and created again (EMR refuses the delete while a running cluster uses it; clusters keep the settings they launched with)".to_string()],
            Action::Create => vec!["the pipeline's clusters launch with it: IMDSv2 required on every instance".to_string()],
            _ => Vec::new(),
        }
    }
}

impl ResourceKind for SecurityConfiguration {
    type Desired = SecurityConfigurationConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        // Each cluster pushes it too; the registry keeps one node.
        if graph.spec.clusters.is_empty() {
            Vec::new()
        } else {
            vec![node(graph)]
        }
    }

    /// By its exact name, also for a destroy or a spec without clusters (to delete it).
    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        let name = emr_security_configuration_name(read.pipeline);
        let id = id();
        let answer = read.clients.emr.describe_security_configuration().name(&name).send().await;
        let output = match answer.map_err(|error| aws_error(&id, "DescribeSecurityConfiguration", error)) {
            Ok(output) => output,
            Err(error) if missing(&error) => return Ok(NamedRead::default()),
            Err(error) => return Err(error),
        };
        let configuration =
            output.security_configuration().and_then(|text| serde_json::from_str(text).ok()).unwrap_or(Value::Null);
        Ok(NamedRead::found(vec![LiveResource::new(id, name, Tags::new(), Live { configuration })]))
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &SecurityConfigurationConfig,
    ) -> Result<String, AwsError> {
        let id = &resource.id;
        let answer = ctx
            .clients
            .emr
            .create_security_configuration()
            .name(&desired.name)
            .security_configuration(desired.configuration.to_string())
            .send()
            .await
            .map_err(|error| aws_error(id, "CreateSecurityConfiguration", error));
        match answer {
            // A re-run after an interrupted apply: the name is taken by the one it created.
            Err(error) if error.has_code("InvalidRequestException") && error.to_string().contains("already exists") => {
            }
            other => {
                other?;
            }
        }
        Ok(desired.name.clone())
    }

    async fn update(
        &self,
        _ctx: &Context,
        _resource: &DesiredResource,
        _desired: &SecurityConfigurationConfig,
        _live: &LiveResource,
        _detail: &Live,
    ) -> Result<(), AwsError> {
        // Its only field forces replacement and it has no tags: nothing changes in place.
        Ok(())
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        let answer = ctx.clients.emr.delete_security_configuration().name(&live.physical_id).send().await.map(drop);
        match answer.map_err(|error| aws_error(&live.id, "DeleteSecurityConfiguration", error)) {
            Err(error) if missing(&error) => Ok(()),
            other => other,
        }
    }

    /// The security configuration actions take no resource (Service Authorization Reference,
    /// Amazon EMR: CreateSecurityConfiguration, DescribeSecurityConfiguration and
    /// DeleteSecurityConfiguration list no resource type), so they are granted on `*`; passing
    /// one to RunJobFlow needs nothing more than RunJobFlow.
    fn grants(&self, _ctx: &GrantContext) -> Vec<Grant> {
        let all = || vec!["*".to_string()];
        vec![
            Grant::unscoped_reads(&["elasticmapreduce:DescribeSecurityConfiguration"]),
            Grant::new(
                "ChangeEmrSecurityConfiguration",
                Scope::Apply,
                &["elasticmapreduce:CreateSecurityConfiguration"],
                all(),
            ),
            Grant::new(
                "ChangeEmrSecurityConfiguration",
                Scope::Destroy,
                &["elasticmapreduce:DeleteSecurityConfiguration"],
                all(),
            ),
        ]
    }
}

/// EMR answers a missing configuration with `InvalidRequestException` ("… does not exist"),
/// moto with `ResourceNotFound`.
fn missing(error: &AwsError) -> bool {
    error.is_not_found() || (error.has_code("InvalidRequestException") && error.to_string().contains("does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::test_support::assert_granted;

    const CLUSTER: &str = "version: 1\npipeline: p\nregion: eu-west-1\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  subnets: [{name: a, cidr: 10.0.0.0/24, availability_zone: eu-west-1a, public: true}]\nclusters:\n  - {name: spark, release: emr-7.2.0, applications: [Spark], subnet: a, master: {type: m5.xlarge}, core: {type: m5.xlarge, nodes: 2}}\n";

    fn graph(yaml: &str) -> Vec<DesiredResource> {
        let spec = crate::spec::load_bytes("test.yaml", yaml.as_bytes()).expect("valid spec");
        crate::resources::desired_graph(&spec, "eu-west-1", chrono::Utc::now())
    }

    #[test]
    fn the_configuration_requires_imdsv2() {
        let content = content();
        assert_eq!(content["InstanceMetadataServiceConfiguration"]["MinimumInstanceMetadataServiceVersion"], 2);
        assert_eq!(content["InstanceMetadataServiceConfiguration"]["HttpPutResponseHopLimit"], 1);
    }

    #[test]
    fn a_pipeline_with_clusters_has_one_and_the_clusters_depend_on_it() {
        let graph = graph(CLUSTER);
        let configurations: Vec<&DesiredResource> = graph.iter().filter(|r| r.id.kind == KIND).collect();
        assert_eq!(configurations.len(), 1);
        assert_eq!(configurations[0].config.attributes()["configuration"], content());
        let cluster = graph.iter().find(|r| r.id.to_string() == "cluster/spark").expect("cluster");
        assert!(cluster.depends_on.contains(&id()), "{:?}", cluster.depends_on);
        let streams = "version: 1\npipeline: p\nregion: eu-west-1\nstreams: [{name: s}]\n";
        assert!(self::graph(streams).iter().all(|r| r.id.kind != KIND));
    }

    #[test]
    fn its_calls_are_granted() {
        let spec = crate::spec::load_bytes("test.yaml", CLUSTER.as_bytes()).expect("valid spec");
        assert_granted(
            &SecurityConfiguration,
            &spec,
            &[
                ("elasticmapreduce:DescribeSecurityConfiguration", &["ReadWhatCannotBeScoped"]),
                ("elasticmapreduce:CreateSecurityConfiguration", &["ChangeEmrSecurityConfiguration"]),
                ("elasticmapreduce:DeleteSecurityConfiguration", &["ChangeEmrSecurityConfiguration"]),
            ],
        );
    }
}

//! The pipeline's Athena workgroup, named after the pipeline, and the named queries the spec
//! saves in it. Its settings are enforced on every query run in it: results go to the lake
//! bucket's results prefix (which a lifecycle rule on the bucket expires), encrypted as the
//! bucket encrypts, and a query that would scan more than the cutoff is cancelled.
//!
//! Named queries are part of the workgroup rather than a kind of their own: they carry no tags
//! and no ARN of their own (IAM authorises them on the workgroup), they are addressed by UUIDs
//! only the workgroup's list reveals, and they go with it (`DeleteWorkGroup` with
//! `RecursiveDeleteOption`). pipectl marks the description of those it saves
//! (`names::NAMED_QUERY_MARKER`); queries people saved in the workgroup are never changed, but
//! deleting the workgroup deletes them too, so that deletion is marked as data loss and needs
//! `--allow-destroy`.
//!
//! The engine version is the one the workgroup selects (`EngineVersion.SelectedEngineVersion`,
//! `AUTO` unless the spec names one); GetWorkGroup also returns the effective version Athena
//! chose for `AUTO`, which is not compared, since it changes when Athena upgrades.
//!
//! Everything is changed in place (`UpdateWorkGroup`, `UpdateNamedQuery`), except a named query's
//! database, which `UpdateNamedQuery` cannot change ("The database or workgroup cannot be
//! updated", Athena API Reference): that query is deleted and saved again.

use std::collections::BTreeMap;

use aws_sdk_athena::types::{
    EncryptionConfiguration, EncryptionOption, EngineVersion, ResultConfiguration, ResultConfigurationUpdates, Tag,
    WorkGroup, WorkGroupConfiguration, WorkGroupConfigurationUpdates,
};
use serde_json::json;

use super::kit::named::SharedReads;
use super::kit::Output;
use super::kit::{
    aws_error, build_error, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, Ownership, ReadContext,
    ResourceKind, Scope,
};
use crate::iam::Arns;
use crate::model::{
    Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::names::{athena_workgroup_name, Tags};
use crate::pricing::{self, CostLine, Prices};
use crate::spec;

pub struct Workgroup;
pub const KIND: Kind = Kind::of(&Workgroup);

/// A workgroup is named in plans by its Athena name.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// A saved query as the spec defines it and as the workgroup holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedQuery {
    pub database: String,
    pub query: String,
    /// The spec's description, without pipectl's marker.
    pub description: Option<String>,
}

/// The workgroup's settings: what the spec asks, and what a read finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub output_location: Option<String>,
    /// `SSE_S3` or `SSE_KMS` (or none, read from a workgroup someone changed).
    pub encryption: Option<String>,
    pub kms_key: Option<String>,
    pub enforce: bool,
    pub publish_metrics: bool,
    pub bytes_scanned_cutoff: Option<i64>,
    /// The selected engine version (`AUTO` or a version name).
    pub engine_version: String,
}

impl Settings {
    fn attributes(&self) -> Attributes {
        Attributes::from([
            ("results_location".to_string(), json!(self.output_location)),
            ("encryption".to_string(), json!(self.encryption)),
            ("kms_key".to_string(), json!(self.kms_key)),
            ("enforce".to_string(), json!(self.enforce)),
            ("publish_metrics".to_string(), json!(self.publish_metrics)),
            ("bytes_scanned_cutoff".to_string(), json!(self.bytes_scanned_cutoff)),
            ("engine_version".to_string(), json!(self.engine_version)),
        ])
    }
}

fn queries_value(queries: &BTreeMap<String, SavedQuery>) -> serde_json::Value {
    queries
        .iter()
        .map(|(name, saved)| {
            (name.clone(), json!({"database": saved.database, "query": saved.query, "description": saved.description}))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// What the spec asks of the workgroup.
#[derive(Debug, Clone)]
pub struct WorkgroupConfig {
    pub name: String,
    pub description: String,
    pub settings: Settings,
    pub named_queries: BTreeMap<String, SavedQuery>,
}

impl DesiredConfig for WorkgroupConfig {
    fn attributes(&self) -> Attributes {
        let mut attributes = self.settings.attributes();
        attributes.insert("named_queries".to_string(), queries_value(&self.named_queries));
        attributes
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub description: Option<String>,
    pub settings: Settings,
    /// The named queries pipectl saved, by name, with their ids.
    pub managed: BTreeMap<String, (String, SavedQuery)>,
    /// Names of the named queries people saved in the workgroup.
    pub foreign: Vec<String>,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let mut attributes = self.settings.attributes();
        let managed = self.managed.iter().map(|(name, (_, saved))| (name.clone(), saved.clone())).collect();
        attributes.insert("named_queries".to_string(), queries_value(&managed));
        let bucket = self
            .settings
            .output_location
            .as_deref()
            .and_then(|location| location.strip_prefix("s3://"))
            .and_then(|rest| rest.split('/').next());
        (attributes, bucket.and_then(|bucket| names.id(bucket)).cloned().into_iter().collect())
    }

    fn holds_data(&self) -> Option<String> {
        (!self.foreign.is_empty()).then(|| {
            format!(
                "its {} saved quer{} not managed by pipectl ({}) are deleted with it",
                self.foreign.len(),
                if self.foreign.len() == 1 { "y" } else { "ies" },
                self.foreign.join(", ")
            )
        })
    }
}

impl KindRules for Workgroup {
    fn name(&self) -> &'static str {
        "workgroup"
    }
    fn rank(&self) -> u8 {
        160
    }
}

impl ResourceKind for Workgroup {
    type Desired = WorkgroupConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let spec = graph.spec;
        let Some(query) = &spec.query else { return Vec::new() };
        let name = athena_workgroup_name(&spec.pipeline);
        let (encryption, kms_key) = spec::results_encryption(spec, query);
        let settings = Settings {
            output_location: spec::results_location(spec, query),
            encryption: Some(encryption.to_string()),
            kms_key,
            enforce: query.enforce,
            publish_metrics: query.publish_metrics,
            bytes_scanned_cutoff: spec::bytes_scanned_cutoff(query),
            engine_version: spec::engine_version(query).to_string(),
        };
        let named_queries = query
            .named_queries
            .iter()
            .map(|named| {
                let saved = SavedQuery {
                    database: spec::query_database(spec, named).unwrap_or_default(),
                    query: named.query.clone(),
                    description: named.description.clone(),
                };
                (named.name.clone(), saved)
            })
            .collect();
        let mut depends_on: Vec<ResourceId> =
            spec::results_bucket(spec, query).map(|bucket| super::bucket::id(&bucket.name)).into_iter().collect();
        if let Some(catalog) = &spec.catalog {
            depends_on.push(super::catalog_database::id(&spec::database_name(spec, catalog)));
        }
        let config =
            WorkgroupConfig { name: name.clone(), description: description(&spec.pipeline), settings, named_queries };
        vec![graph.node(id(&name), &query.tags, depends_on, config)]
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        let athena = &read.clients.athena;
        // The workgroup's name follows from the pipeline's, so one read finds it whether or not
        // the spec still has a `query:` section; ownership and configuration share that read.
        let derived = athena_workgroup_name(read.pipeline);
        let work_groups = SharedReads::default();
        let work_groups = &work_groups;
        read.named(KIND, " (aws athena tag-resource)")
            .read(
                async move { Ok(vec![derived]) },
                |name| async move {
                    let found = work_groups.get(&name, || get_work_group(athena, &name)).await?;
                    ownership(read, &name, found.is_some()).await
                },
                |name, _| async move {
                    let found = work_groups.get(&name, || get_work_group(athena, &name)).await?;
                    describe(athena, &name, found).await
                },
            )
            .await
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &WorkgroupConfig,
    ) -> Result<String, AwsError> {
        let id = &resource.id;
        let athena = &ctx.clients.athena;
        athena
            .create_work_group()
            .name(&desired.name)
            .description(&desired.description)
            .configuration(configuration(id, &desired.settings)?)
            .set_tags(Some(tags(&resource.tags)))
            .send()
            .await
            .map_err(|error| aws_error(id, "CreateWorkGroup", error))?;
        for (name, saved) in &desired.named_queries {
            save_query(athena, id, &desired.name, name, saved).await?;
        }
        Ok(desired.name.clone())
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &WorkgroupConfig,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        let id = &resource.id;
        let athena = &ctx.clients.athena;
        if detail.settings != desired.settings || detail.description.as_deref() != Some(desired.description.as_str()) {
            athena
                .update_work_group()
                .work_group(&desired.name)
                .description(&desired.description)
                .configuration_updates(configuration_updates(id, &desired.settings)?)
                .send()
                .await
                .map_err(|error| aws_error(id, "UpdateWorkGroup", error))?;
        }
        retag(athena, id, &ctx.arns.athena_workgroup(&desired.name), &live.tags, &resource.tags).await?;
        for (name, (query_id, saved)) in &detail.managed {
            match desired.named_queries.get(name) {
                Some(wanted) if wanted == saved => {}
                Some(wanted) if wanted.database == saved.database => {
                    athena
                        .update_named_query()
                        .named_query_id(query_id)
                        .name(name)
                        .query_string(&wanted.query)
                        .description(spec::marked_description(&as_spec(name, wanted)))
                        .send()
                        .await
                        .map_err(|error| aws_error(id, "UpdateNamedQuery", error))?;
                }
                _ => {
                    athena
                        .delete_named_query()
                        .named_query_id(query_id)
                        .send()
                        .await
                        .map_err(|error| aws_error(id, "DeleteNamedQuery", error))?;
                }
            }
        }
        for (name, wanted) in &desired.named_queries {
            let kept = detail.managed.get(name).is_some_and(|(_, saved)| saved.database == wanted.database);
            if !kept {
                save_query(athena, id, &desired.name, name, wanted).await?;
            }
        }
        Ok(())
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        // Without the recursive option AWS refuses a workgroup that holds named queries, and
        // pipectl's own are there ("DeleteWorkGroup", Athena API Reference).
        ctx.clients
            .athena
            .delete_work_group()
            .work_group(&live.physical_id)
            .recursive_delete_option(true)
            .send()
            .await
            .map_err(|error| aws_error(&live.id, "DeleteWorkGroup", error))?;
        Ok(())
    }

    fn outputs(&self, live: &LiveResource, _detail: &Live, arns: &Arns) -> Vec<Output> {
        vec![Output::new("name", &live.physical_id), Output::new("arn", arns.athena_workgroup(&live.physical_id))]
    }

    /// Every plan looks up the workgroup named after the pipeline, whether or not the spec has a
    /// `query:` section (one that left the spec is found and deleted); named query actions are
    /// authorised on their workgroup (Service Authorization Reference, "Amazon Athena": resource
    /// type workgroup).
    /// Queries bill the data they scan (a rate); the workgroup itself is free.
    fn cost(&self, resource: &DesiredResource, _desired: &WorkgroupConfig, prices: &Prices) -> Vec<CostLine> {
        vec![pricing::rate(&resource.id.to_string(), "Athena data scanned", "TB", prices.figure("athena_tb_scanned"))]
    }

    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let workgroup = vec![ctx.arns.athena_workgroup(&athena_workgroup_name(&ctx.spec.pipeline))];
        let read =
            ["athena:GetWorkGroup", "athena:ListTagsForResource", "athena:ListNamedQueries", "athena:GetNamedQuery"];
        let change = [
            "athena:CreateWorkGroup",
            "athena:UpdateWorkGroup",
            "athena:TagResource",
            "athena:UntagResource",
            "athena:CreateNamedQuery",
            "athena:UpdateNamedQuery",
            "athena:DeleteNamedQuery",
        ];
        vec![
            Grant::new("ReadWorkgroup", Scope::Plan, &read, workgroup.clone()),
            Grant::new("ChangeWorkgroup", Scope::Apply, &change, workgroup.clone()),
            Grant::new("ChangeWorkgroup", Scope::Destroy, &["athena:DeleteWorkGroup"], workgroup),
        ]
    }
}

/// The workgroup's description: who made it, for a person browsing Athena.
fn description(pipeline: &str) -> String {
    format!("Queries over the lake of pipectl pipeline {pipeline}")
}

/// A saved query as the spec type, for its marked description.
fn as_spec(name: &str, saved: &SavedQuery) -> spec::NamedQuery {
    spec::NamedQuery {
        name: name.to_string(),
        query: saved.query.clone(),
        database: Some(saved.database.clone()),
        description: saved.description.clone(),
    }
}

async fn save_query(
    athena: &aws_sdk_athena::Client,
    id: &ResourceId,
    workgroup: &str,
    name: &str,
    saved: &SavedQuery,
) -> Result<(), AwsError> {
    athena
        .create_named_query()
        .work_group(workgroup)
        .name(name)
        .database(&saved.database)
        .query_string(&saved.query)
        .description(spec::marked_description(&as_spec(name, saved)))
        .send()
        .await
        .map_err(|error| aws_error(id, "CreateNamedQuery", error))?;
    Ok(())
}

fn encryption(id: &ResourceId, settings: &Settings) -> Result<Option<EncryptionConfiguration>, AwsError> {
    settings
        .encryption
        .as_deref()
        .map(|option| {
            EncryptionConfiguration::builder()
                .encryption_option(EncryptionOption::from(option))
                .set_kms_key(settings.kms_key.clone())
                .build()
                .map_err(|error| build_error(id, "EncryptionConfiguration", error))
        })
        .transpose()
}

fn configuration(id: &ResourceId, settings: &Settings) -> Result<WorkGroupConfiguration, AwsError> {
    let results = ResultConfiguration::builder()
        .set_output_location(settings.output_location.clone())
        .set_encryption_configuration(encryption(id, settings)?)
        .build();
    Ok(WorkGroupConfiguration::builder()
        .result_configuration(results)
        .enforce_work_group_configuration(settings.enforce)
        .publish_cloud_watch_metrics_enabled(settings.publish_metrics)
        .set_bytes_scanned_cutoff_per_query(settings.bytes_scanned_cutoff)
        .engine_version(engine_version(settings))
        .build())
}

/// The engine version to select; Athena ignores `EffectiveEngineVersion` in a request.
fn engine_version(settings: &Settings) -> EngineVersion {
    EngineVersion::builder().selected_engine_version(&settings.engine_version).build()
}

/// The whole desired configuration as an update: a cutoff the spec dropped is removed with
/// `RemoveBytesScannedCutoffPerQuery` (an absent field leaves it as it is).
fn configuration_updates(id: &ResourceId, settings: &Settings) -> Result<WorkGroupConfigurationUpdates, AwsError> {
    let results = ResultConfigurationUpdates::builder()
        .set_output_location(settings.output_location.clone())
        .set_remove_output_location(settings.output_location.is_none().then_some(true))
        .set_encryption_configuration(encryption(id, settings)?)
        .set_remove_encryption_configuration(settings.encryption.is_none().then_some(true))
        .build();
    Ok(WorkGroupConfigurationUpdates::builder()
        .result_configuration_updates(results)
        .enforce_work_group_configuration(settings.enforce)
        .publish_cloud_watch_metrics_enabled(settings.publish_metrics)
        .set_bytes_scanned_cutoff_per_query(settings.bytes_scanned_cutoff)
        .set_remove_bytes_scanned_cutoff_per_query(settings.bytes_scanned_cutoff.is_none().then_some(true))
        .engine_version(engine_version(settings))
        .build())
}

fn tags(tags: &Tags) -> Vec<Tag> {
    tags.iter().map(|(key, value)| Tag::builder().key(key).value(value).build()).collect()
}

/// Makes the workgroup's tags `desired`: stale keys removed, the rest set.
async fn retag(
    athena: &aws_sdk_athena::Client,
    id: &ResourceId,
    arn: &str,
    live: &Tags,
    desired: &Tags,
) -> Result<(), AwsError> {
    let untag = |stale| async move {
        let request = athena.untag_resource().resource_arn(arn).set_tag_keys(Some(stale));
        request.send().await.map(drop).map_err(|error| aws_error(id, "UntagResource", error))
    };
    let tag = |changed: Tags| async move {
        let request = athena.tag_resource().resource_arn(arn).set_tags(Some(tags(&changed)));
        request.send().await.map(drop).map_err(|error| aws_error(id, "TagResource", error))
    };
    super::kit::retag::retag(live, desired, untag, tag).await
}

/// `GetWorkGroup`: the workgroup, or None when there is none of that name. AWS answers a missing
/// workgroup with `InvalidRequestException` ("WorkGroup … is not found"); moto with no workgroup.
async fn get_work_group(athena: &aws_sdk_athena::Client, name: &str) -> Result<Option<WorkGroup>, AwsError> {
    match athena.get_work_group().work_group(name).send().await {
        Ok(output) => Ok(output.work_group().cloned()),
        Err(error) => {
            let error = aws_error(id(name), "GetWorkGroup", error);
            if error.has_code("InvalidRequestException") && error.message.contains("not found") {
                Ok(None)
            } else {
                error.unless_not_found(None)
            }
        }
    }
}

/// Whose the workgroup (which `exists`, as GetWorkGroup said) is: its tags, read with
/// `ListTagsForResource` on its ARN (which needs the account id: `GetWorkGroup` returns no ARN),
/// the account being the one the plan resolved (`ReadContext::account_id`, no STS call of its own).
///
/// The emulator stacks serve Athena from moto, whose ARNs carry its own account (123456789012)
/// while the LocalStack stack's STS names another (localstack/README.md, "Two accounts on the
/// LocalStack stack"): on an emulator, a workgroup that exists but is unknown under STS's account
/// is looked up once more under moto's.
async fn ownership(read: &ReadContext<'_>, name: &str, exists: bool) -> Result<Ownership, AwsError> {
    if !exists {
        return Ok(Ownership::Absent);
    }
    let clients = read.clients;
    let account = read.account_id().await?;
    let tags = match tags_of(clients, name, account).await? {
        None if clients.emulated => tags_of(clients, name, crate::aws::MOTO_ACCOUNT).await?,
        tags => tags,
    };
    // It exists (GetWorkGroup said so): tags that cannot be read make it nobody's, never absent.
    Ok(Ownership::Tagged(tags.unwrap_or_default()))
}

/// The workgroup's tags under `account`'s ARN, or None when Athena knows no such ARN (AWS and
/// moto answer `InvalidRequestException`, "… Does Not Exist").
async fn tags_of(clients: &super::Clients, name: &str, account: &str) -> Result<Option<Tags>, AwsError> {
    let arn = Arns::new(account, &clients.region).athena_workgroup(name);
    let mut found = Tags::new();
    let mut token: Option<String> = None;
    loop {
        let page = match clients.athena.list_tags_for_resource().resource_arn(&arn).set_next_token(token).send().await {
            Ok(page) => page,
            Err(error) => {
                let error = aws_error(id(name), "ListTagsForResource", error);
                if error.has_code("InvalidRequestException") && error.message.contains("Does Not Exist") {
                    return Ok(None);
                }
                return error.unless_not_found(None);
            }
        };
        found.extend(
            page.tags()
                .iter()
                .map(|tag| (tag.key().unwrap_or_default().to_string(), tag.value().unwrap_or_default().to_string())),
        );
        token = page.next_token().filter(|next| !next.is_empty()).map(str::to_string);
        if token.is_none() {
            return Ok(Some(found));
        }
    }
}

/// The settings a read found.
fn settings(work_group: &WorkGroup) -> Settings {
    let configuration = work_group.configuration();
    let results = configuration.and_then(WorkGroupConfiguration::result_configuration);
    let encryption = results.and_then(ResultConfiguration::encryption_configuration);
    Settings {
        output_location: results.and_then(ResultConfiguration::output_location).map(str::to_string),
        encryption: encryption.map(|encryption| encryption.encryption_option().as_str().to_string()),
        kms_key: encryption.and_then(EncryptionConfiguration::kms_key).map(str::to_string),
        enforce: configuration.and_then(WorkGroupConfiguration::enforce_work_group_configuration).unwrap_or(false),
        publish_metrics: configuration
            .and_then(WorkGroupConfiguration::publish_cloud_watch_metrics_enabled)
            .unwrap_or(false),
        bytes_scanned_cutoff: configuration.and_then(WorkGroupConfiguration::bytes_scanned_cutoff_per_query),
        // A workgroup that never selected a version runs on AUTO, Athena's default.
        engine_version: configuration
            .and_then(WorkGroupConfiguration::engine_version)
            .and_then(EngineVersion::selected_engine_version)
            .unwrap_or(spec::ENGINE_VERSIONS[0])
            .to_string(),
    }
}

/// The workgroup (as GetWorkGroup found it) and its named queries: their ids from
/// `ListNamedQueries`, each read with `GetNamedQuery` (one call per saved query; moto 5.1.22 does
/// not serve `BatchGetNamedQuery`).
async fn describe(
    athena: &aws_sdk_athena::Client,
    name: &str,
    work_group: Option<WorkGroup>,
) -> Result<Option<Live>, AwsError> {
    let Some(work_group) = work_group else { return Ok(None) };
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = athena
            .list_named_queries()
            .work_group(name)
            .set_next_token(token)
            .send()
            .await
            .map_err(|error| aws_error(id(name), "ListNamedQueries", error))?;
        ids.extend(page.named_query_ids().iter().cloned());
        token = page.next_token().filter(|next| !next.is_empty()).map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let queries = futures::future::try_join_all(ids.iter().map(|query_id| async move {
        match athena.get_named_query().named_query_id(query_id).send().await {
            Ok(output) => Ok(output.named_query().cloned()),
            Err(error) => aws_error(id(name), "GetNamedQuery", error).unless_not_found(None),
        }
    }))
    .await?;
    let mut managed = BTreeMap::new();
    let mut foreign = Vec::new();
    for query in queries.into_iter().flatten() {
        let query_id = query.named_query_id().unwrap_or_default().to_string();
        match query.description().and_then(spec::unmarked_description) {
            Some(description) => {
                let saved = SavedQuery {
                    database: query.database().to_string(),
                    query: query.query_string().to_string(),
                    description,
                };
                managed.entry(query.name().to_string()).or_insert((query_id, saved));
            }
            None => foreign.push(query.name().to_string()),
        }
    }
    foreign.sort();
    Ok(Some(Live {
        description: work_group.description().map(str::to_string),
        settings: settings(&work_group),
        managed,
        foreign,
    }))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_athena::operation::create_named_query::CreateNamedQueryOutput;
    use aws_sdk_athena::operation::delete_named_query::DeleteNamedQueryOutput;
    use aws_sdk_athena::operation::update_named_query::UpdateNamedQueryOutput;
    use aws_sdk_athena::operation::update_work_group::UpdateWorkGroupOutput;
    use aws_smithy_mocks::{mock, Rule, RuleMode};

    use super::*;
    use crate::model::LiveState;

    /// An Athena client answering from `rules`, in any order.
    fn athena_client(rules: &[&Rule]) -> aws_sdk_athena::Client {
        crate::resources::test_support::mock_sdk_client!(aws_sdk_athena, "us-east-1", RuleMode::MatchAny, rules)
    }

    fn saved(database: &str, query: &str) -> SavedQuery {
        SavedQuery { database: database.to_string(), query: query.to_string(), description: None }
    }

    fn settings(cutoff: Option<i64>) -> Settings {
        Settings {
            output_location: Some("s3://lake/athena-results/".to_string()),
            encryption: Some("SSE_S3".to_string()),
            kms_key: None,
            enforce: true,
            publish_metrics: true,
            bytes_scanned_cutoff: cutoff,
            engine_version: "Athena engine version 3".to_string(),
        }
    }

    /// The update path moto cannot serve (it has no UpdateWorkGroup, UpdateNamedQuery or
    /// DeleteNamedQuery), replayed with AWS's documented empty responses: a dropped cutoff is
    /// removed with `RemoveBytesScannedCutoffPerQuery`, a changed query text is an
    /// `UpdateNamedQuery`, a changed database a delete and a new save, a query that left the spec
    /// is deleted, and a query people saved is left alone.
    #[tokio::test]
    async fn an_update_changes_settings_and_queries_in_place_and_leaves_foreign_queries_alone() {
        let update = mock!(aws_sdk_athena::Client::update_work_group)
            .match_requests(|request| {
                let updates = request.configuration_updates();
                request.work_group() == Some("demo")
                    && updates.and_then(|u| u.remove_bytes_scanned_cutoff_per_query()) == Some(true)
                    && updates.and_then(|u| u.bytes_scanned_cutoff_per_query()).is_none()
                    && updates.and_then(|u| u.enforce_work_group_configuration()) == Some(true)
                    && updates.and_then(|u| u.engine_version()).and_then(|e| e.selected_engine_version())
                        == Some("Athena engine version 3")
            })
            .then_output(|| UpdateWorkGroupOutput::builder().build());
        let text = mock!(aws_sdk_athena::Client::update_named_query)
            .match_requests(|request| {
                request.named_query_id() == Some("id-top")
                    && request.query_string() == Some("SELECT page FROM events")
                    && request.description() == Some(crate::names::NAMED_QUERY_MARKER)
            })
            .then_output(|| UpdateNamedQueryOutput::builder().build());
        let deleted = mock!(aws_sdk_athena::Client::delete_named_query)
            .match_requests(|request| matches!(request.named_query_id(), Some("id-daily" | "id-gone")))
            .then_output(|| DeleteNamedQueryOutput::builder().build());
        let created = mock!(aws_sdk_athena::Client::create_named_query)
            .match_requests(|request| {
                request.name() == Some("daily")
                    && request.database() == Some("new")
                    && request.work_group() == Some("demo")
            })
            .then_output(|| CreateNamedQueryOutput::builder().named_query_id("id-new").build());
        let mut clients = crate::resources::test_support::clients();
        clients.athena = athena_client(&[&update, &text, &deleted, &created]);
        let ctx = crate::resources::test_support::context(clients, Duration::from_secs(5), &LiveState::default());

        let desired = WorkgroupConfig {
            name: "demo".to_string(),
            description: description("demo"),
            settings: settings(None),
            named_queries: BTreeMap::from([
                ("daily".to_string(), saved("new", "SELECT 1")),
                ("top".to_string(), saved("db", "SELECT page FROM events")),
            ]),
        };
        let live_detail = Live {
            description: Some(description("demo")),
            settings: settings(Some(10_000_000_000)),
            managed: BTreeMap::from([
                ("daily".to_string(), ("id-daily".to_string(), saved("old", "SELECT 1"))),
                ("top".to_string(), ("id-top".to_string(), saved("db", "SELECT * FROM events"))),
                ("gone".to_string(), ("id-gone".to_string(), saved("db", "SELECT 2"))),
            ]),
            foreign: vec!["someones-query".to_string()],
        };
        let resource = DesiredResource {
            id: id("demo"),
            tags: Tags::new(),
            depends_on: Vec::new(),
            config: std::sync::Arc::new(desired.clone()),
        };
        let live = LiveResource::new(id("demo"), "demo", Tags::new(), live_detail.clone());
        Workgroup.update(&ctx, &resource, &desired, &live, &live_detail).await.expect("update");
        assert_eq!((update.num_calls(), text.num_calls(), deleted.num_calls(), created.num_calls()), (1, 1, 2, 1));
    }

    /// AWS answers `GetWorkGroup` for a name it does not know with `InvalidRequestException`
    /// ("WorkGroup is not found"), not a not-found code: that reads as absent, and another
    /// invalid request stays an error.
    #[tokio::test]
    async fn a_workgroup_aws_does_not_know_reads_as_absent() {
        let answer = |message: &'static str| {
            move || {
                let body = format!("{{\"__type\":\"InvalidRequestException\",\"Message\":\"{message}\"}}");
                aws_smithy_runtime_api::http::Response::new(
                    aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
                    aws_smithy_types::body::SdkBody::from(body),
                )
            }
        };
        let missing = mock!(aws_sdk_athena::Client::get_work_group)
            .match_requests(|request| request.work_group() == Some("demo"))
            .then_http_response(answer("WorkGroup demo is not found."));
        let invalid = mock!(aws_sdk_athena::Client::get_work_group)
            .match_requests(|request| request.work_group() == Some("bad name"))
            .then_http_response(answer("1 validation error detected"));
        let athena = athena_client(&[&missing, &invalid]);
        assert!(get_work_group(&athena, "demo").await.expect("absent, not an error").is_none());
        let error = get_work_group(&athena, "bad name").await.expect_err("a real error");
        assert!(error.has_code("InvalidRequestException"), "{error}");
    }

    #[test]
    fn deleting_a_workgroup_with_queries_people_saved_destroys_data() {
        let mut live = Live {
            description: None,
            settings: settings(None),
            managed: BTreeMap::from([("daily".to_string(), ("id".to_string(), saved("db", "SELECT 1")))]),
            foreign: Vec::new(),
        };
        assert_eq!(live.holds_data(), None, "pipectl's own queries are in the spec");
        live.foreign = vec!["adhoc".to_string()];
        let loss = live.holds_data().expect("a person's saved query is data");
        assert!(loss.contains("adhoc"), "{loss}");
    }

    #[test]
    fn a_read_compares_what_the_spec_sets_and_an_absent_cutoff_as_none() {
        let live = Live { description: None, settings: settings(None), managed: BTreeMap::new(), foreign: Vec::new() };
        let (attributes, _) = live.describe("demo", &Names::default());
        assert_eq!(attributes["results_location"], json!("s3://lake/athena-results/"));
        assert_eq!(attributes["bytes_scanned_cutoff"], json!(null));
    }

    /// GetWorkGroup returns the selected version and, for AUTO, the one Athena chose
    /// (EngineVersion, Athena API Reference): only the selected one is compared, and a
    /// workgroup that selected none runs on AUTO.
    #[test]
    fn the_selected_engine_version_is_read_and_the_effective_one_ignored() {
        let read = |engine: Option<EngineVersion>| {
            let configuration = WorkGroupConfiguration::builder().set_engine_version(engine).build();
            let work_group = WorkGroup::builder().name("demo").configuration(configuration).build().unwrap();
            super::settings(&work_group).engine_version
        };
        let auto = EngineVersion::builder()
            .selected_engine_version("AUTO")
            .effective_engine_version("Athena engine version 3")
            .build();
        assert_eq!(read(Some(auto)), "AUTO");
        let pinned = EngineVersion::builder().selected_engine_version("Athena engine version 3").build();
        assert_eq!(read(Some(pinned)), "Athena engine version 3");
        assert_eq!(read(None), "AUTO");
    }

    #[test]
    fn the_workgroup_and_its_named_queries_are_reached_by_the_pipelines_name() {
        use crate::iam::deployer::Purpose;
        use crate::resources::test_support::{assert_granted, granted, sids_allowing, statement};
        let spec = crate::spec::SpecBuilder::new().build();
        assert_granted(
            &super::Workgroup,
            &spec,
            &[
                ("athena:GetNamedQuery", &["ReadWorkgroup"]),
                ("athena:DeleteNamedQuery", &["ChangeWorkgroup"]),
                ("athena:DeleteWorkGroup", &["ChangeWorkgroup"]),
            ],
        );
        let all = granted(&super::Workgroup, &spec, Purpose::Everything);
        let workgroup = serde_json::json!(["arn:aws:athena:eu-west-1:123456789012:workgroup/p"]);
        assert_eq!(statement(&all, "ChangeWorkgroup")["Resource"], workgroup);
        assert!(sids_allowing(&all, "athena:StartQueryExecution").is_empty(), "pipectl runs no query");
    }
}

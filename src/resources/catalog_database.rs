//! The pipeline's Glue database, the home of its catalog tables. Glue tags databases but not
//! tables ("AWS tags in AWS Glue" lists connections, databases, crawlers, jobs, … and no
//! tables), so the database carries the pipeline's tags and the tables' ownership follows from
//! it: the database's read also reads its tables, once, and `catalog_table` takes them from
//! there (`pipeline_databases`, shared by the two reads).
//! Databases that left the spec are found by a marker parameter (`pipectl:pipeline`) that
//! `GetDatabases` returns with every database, so finding them costs one paginated list, not a
//! `GetTags` per database of the account; their tags, read directly, still decide.
//!
//! Deleting a database drops every table in it ("DeleteDatabase": Glue deletes its tables,
//! versions and partitions). The tables pipectl manages go first, in their own steps; tables
//! it does not manage (made by a crawler or Athena DDL in the pipeline's database) would go with
//! the database, so that deletion is marked as data loss and needs `--allow-destroy`.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_glue::types::{Database, DatabaseInput, Table};
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
use crate::names::{Tags, PIPELINE_TAG};
use crate::spec;

pub struct CatalogDatabase;
pub const KIND: Kind = Kind::of(&CatalogDatabase);

/// A database is named in plans by its Glue name.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// What the spec asks of the database.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub name: String,
    pub description: String,
}

impl DesiredConfig for DatabaseConfig {
    fn attributes(&self) -> Attributes {
        Attributes::from([("description".to_string(), json!(self.description))])
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    /// The account whose catalog holds it (the ARN's account).
    pub catalog_id: String,
    pub description: Option<String>,
    pub parameters: HashMap<String, String>,
    /// Every table in it, as `GetTables` returned them.
    pub tables: Vec<Table>,
    /// The tables pipectl did not make for this pipeline (no `pipectl:pipeline` parameter naming
    /// it): dropped with the database.
    pub foreign_tables: Vec<String>,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, _names: &Names) -> (Attributes, Vec<ResourceId>) {
        (Attributes::from([("description".to_string(), json!(self.description))]), Vec::new())
    }

    fn holds_data(&self) -> Option<String> {
        let foreign = &self.foreign_tables;
        (!foreign.is_empty()).then(|| {
            format!(
                "its {} table(s) not managed by pipectl ({}) are dropped with it (their S3 objects stay)",
                foreign.len(),
                foreign.join(", ")
            )
        })
    }
}

impl KindRules for CatalogDatabase {
    fn name(&self) -> &'static str {
        "catalog_database"
    }
    fn rank(&self) -> u8 {
        140
    }
}

/// The database's description: who made it, for a person browsing the catalog.
fn description(pipeline: &str) -> String {
    format!("The lake of pipectl pipeline {pipeline}: tables over what its deliveries write")
}

impl ResourceKind for CatalogDatabase {
    type Desired = DatabaseConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let Some(catalog) = &graph.spec.catalog else { return Vec::new() };
        let name = spec::database_name(graph.spec, catalog);
        let config = DatabaseConfig { name: name.clone(), description: description(&graph.spec.pipeline) };
        vec![graph.node(id(&name), &catalog.tags, Vec::new(), config)]
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        Ok(NamedRead::clone(&*pipeline_databases(read).await?))
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &DatabaseConfig,
    ) -> Result<String, AwsError> {
        let id = &resource.id;
        let input = database_input(id, desired, &HashMap::new(), &ctx.pipeline)?;
        let tags: HashMap<String, String> = resource.tags.clone().into_iter().collect();
        ctx.clients
            .glue
            .create_database()
            .database_input(input)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|error| aws_error(id, "CreateDatabase", error))?;
        Ok(desired.name.clone())
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &DatabaseConfig,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        let id = &resource.id;
        let glue = &ctx.clients.glue;
        if detail.description.as_deref() != Some(desired.description.as_str())
            || !marked(&detail.parameters, &ctx.pipeline)
        {
            glue.update_database()
                .name(&desired.name)
                .database_input(database_input(id, desired, &detail.parameters, &ctx.pipeline)?)
                .send()
                .await
                .map_err(|error| aws_error(id, "UpdateDatabase", error))?;
        }
        let arn = database_arn(&ctx.arns, &detail.catalog_id, &desired.name);
        retag(glue, id, &arn, &live.tags, &resource.tags).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        ctx.clients
            .glue
            .delete_database()
            .name(&live.physical_id)
            .send()
            .await
            .map_err(|error| aws_error(&live.id, "DeleteDatabase", error))?;
        Ok(())
    }

    fn outputs(&self, live: &LiveResource, _detail: &Live, arns: &Arns) -> Vec<Output> {
        vec![Output::new("name", &live.physical_id), Output::new("arn", arns.glue_database(&live.physical_id))]
    }

    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let mut catalog = table_arns(ctx);
        if let Some(catalog_section) = &ctx.spec.catalog {
            let database = spec::database_name(ctx.spec, catalog_section);
            catalog.push(ctx.arn("glue", &format!("userDefinedFunction/{database}/*")));
        }
        let change = ["glue:CreateDatabase", "glue:UpdateDatabase", "glue:TagResource", "glue:UntagResource"];
        vec![
            // Every plan lists the catalog's databases to find the pipeline's by their marker.
            Grant::new(
                "FindCatalogDatabases",
                Scope::Plan,
                &["glue:GetDatabases"],
                vec![ctx.arns.glue_catalog(), ctx.arns.glue_database("*")],
            ),
            // GetTags on a database also needs glue:GetDatabase (AWS Glue API, "TagResource").
            Grant::new(
                "ReadCatalog",
                Scope::Plan,
                &["glue:GetDatabase", "glue:GetTags", "glue:GetTables"],
                catalog.clone(),
            ),
            Grant::new("ChangeCatalog", Scope::Apply, &change, catalog.clone()),
            Grant::new("ChangeCatalog", Scope::Destroy, &["glue:DeleteDatabase"], catalog),
        ]
    }
}

/// The pipeline's databases, each with every table in it: read once for this kind and for
/// `catalog_table`, whose tables Glue lists only through their database.
pub async fn pipeline_databases(read: &ReadContext<'_>) -> Result<Arc<NamedRead>, AwsError> {
    read.shared(KIND.as_str(), read_databases(read)).await
}

async fn read_databases(read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
    let glue = &read.clients.glue;
    let pipeline = read.pipeline;
    // Ownership and configuration both start from GetDatabase: one request serves both.
    let databases = SharedReads::default();
    let databases = &databases;
    read.named(KIND, " (aws glue tag-resource)")
        .read(
            marked_databases(glue, pipeline),
            |name| async move {
                let database = databases.get(&name, || get_database(glue, &name)).await?;
                ownership(glue, &name, database).await
            },
            |name, _| async move {
                let database = databases.get(&name, || get_database(glue, &name)).await?;
                describe(glue, &name, database, pipeline).await
            },
        )
        .await
}

/// The database's ARN in the account that holds it.
/// What Glue authorises a call on the pipeline's tables on: the catalog, the database and the
/// table ("Specifying AWS Glue resource ARNs", AWS Glue Developer Guide; a database call needs the
/// first two, and DeleteDatabase also every table and function in the database). None without a
/// `catalog:` section.
pub fn table_arns(ctx: &GrantContext) -> Vec<String> {
    let Some(catalog) = &ctx.spec.catalog else { return Vec::new() };
    let database = spec::database_name(ctx.spec, catalog);
    vec![ctx.arns.glue_catalog(), ctx.arns.glue_database(&database), ctx.arns.glue_table(&database, "*")]
}

fn database_arn(arns: &Arns, catalog_id: &str, name: &str) -> String {
    Arns { account_id: catalog_id.to_string(), ..arns.clone() }.glue_database(name)
}

/// True when the database's parameters carry this pipeline's marker.
fn marked(parameters: &HashMap<String, String>, pipeline: &str) -> bool {
    parameters.get(PIPELINE_TAG).map(String::as_str) == Some(pipeline)
}

/// The database as the spec wants it; parameters others set (`live`) are kept.
fn database_input(
    id: &ResourceId,
    desired: &DatabaseConfig,
    live: &HashMap<String, String>,
    pipeline: &str,
) -> Result<DatabaseInput, AwsError> {
    let mut parameters = live.clone();
    parameters.insert(PIPELINE_TAG.to_string(), pipeline.to_string());
    DatabaseInput::builder()
        .name(&desired.name)
        .description(&desired.description)
        .set_parameters(Some(parameters))
        .build()
        .map_err(|error| build_error(id, "DatabaseInput", error))
}

/// Makes the tags of a Glue resource (`arn`: a database, a crawler) `desired`: stale keys
/// removed, the rest set.
pub(super) async fn retag(
    glue: &aws_sdk_glue::Client,
    id: &ResourceId,
    arn: &str,
    live: &Tags,
    desired: &Tags,
) -> Result<(), AwsError> {
    let untag = |stale| async move {
        let request = glue.untag_resource().resource_arn(arn).set_tags_to_remove(Some(stale));
        request.send().await.map(drop).map_err(|error| aws_error(id, "UntagResource", error))
    };
    let tag = |changed: Tags| async move {
        let request = glue.tag_resource().resource_arn(arn).set_tags_to_add(Some(changed.into_iter().collect()));
        request.send().await.map(drop).map_err(|error| aws_error(id, "TagResource", error))
    };
    super::kit::retag::retag(live, desired, untag, tag).await
}

/// `GetDatabase`: the database, or None when there is none of that name.
async fn get_database(glue: &aws_sdk_glue::Client, name: &str) -> Result<Option<Database>, AwsError> {
    match glue.get_database().name(name).send().await {
        Ok(output) => Ok(output.database().cloned()),
        Err(error) => aws_error(id(name), "GetDatabase", error).unless_not_found(None),
    }
}

/// Whose the database (as GetDatabase found it) is: its tags, read with `GetTags` on its ARN
/// (the account is the database's `CatalogId`, so the read needs no STS call).
async fn ownership(glue: &aws_sdk_glue::Client, name: &str, database: Option<Database>) -> Result<Ownership, AwsError> {
    let Some(database) = database else { return Ok(Ownership::Absent) };
    let Some(catalog_id) = database.catalog_id() else {
        return Err(AwsError::missing(id(name), "GetDatabase", "CatalogId"));
    };
    let region = glue.config().region().map(ToString::to_string).unwrap_or_default();
    let arn = database_arn(&Arns::new(catalog_id, &region), catalog_id, name);
    match glue.get_tags().resource_arn(&arn).send().await {
        Ok(output) => {
            Ok(Ownership::Tagged(output.tags().map(|tags| tags.clone().into_iter().collect()).unwrap_or_default()))
        }
        Err(error) => aws_error(id(name), "GetTags", error).unless_not_found(Ownership::Absent),
    }
}

/// The database (as GetDatabase found it) and every table in it.
async fn describe(
    glue: &aws_sdk_glue::Client,
    name: &str,
    database: Option<Database>,
    pipeline: &str,
) -> Result<Option<Live>, AwsError> {
    let Some(database) = database else { return Ok(None) };
    let mut tables = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = match glue.get_tables().database_name(name).set_next_token(token.clone()).send().await {
            Ok(page) => page,
            Err(error) => return aws_error(id(name), "GetTables", error).unless_not_found(None),
        };
        tables.extend(page.table_list().iter().cloned());
        token = page.next_token().filter(|next| !next.is_empty()).map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let foreign_tables = tables
        .iter()
        .filter(|table| !table.parameters().is_some_and(|parameters| marked(parameters, pipeline)))
        .map(|table| table.name().to_string())
        .collect();
    Ok(Some(Live {
        foreign_tables,
        catalog_id: database.catalog_id().unwrap_or_default().to_string(),
        description: database.description().map(str::to_string),
        parameters: database.parameters().cloned().unwrap_or_default(),
        tables,
    }))
}

/// The names of the account's databases that carry this pipeline's marker.
async fn marked_databases(glue: &aws_sdk_glue::Client, pipeline: &str) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = glue
            .get_databases()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|error| aws_error("catalog_database", "GetDatabases", error))?;
        names.extend(
            page.database_list()
                .iter()
                .filter(|database| database.parameters().is_some_and(|parameters| marked(parameters, pipeline)))
                .map(|database| database.name().to_string()),
        );
        token = page.next_token().filter(|next| !next.is_empty()).map(str::to_string);
        if token.is_none() {
            return Ok(names);
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_database_is_found_by_listing_and_changed_with_what_glue_authorises_a_database_call_on() {
        use crate::iam::deployer::Purpose;
        use crate::resources::test_support::{assert_granted, granted, sids_allowing, statement};
        let spec = crate::spec::SpecBuilder::new().build();
        let mut with_catalog = spec.clone();
        with_catalog.catalog = Some(crate::spec::Catalog { database: Some("lake".to_string()), ..Default::default() });
        assert_granted(
            &super::CatalogDatabase,
            &with_catalog,
            &[
                ("glue:GetDatabases", &["FindCatalogDatabases"]),
                ("glue:GetTables", &["ReadCatalog"]),
                ("glue:DeleteDatabase", &["ChangeCatalog"]),
                ("glue:CreateTable", &[]),
            ],
        );
        let all = granted(&super::CatalogDatabase, &with_catalog, Purpose::Everything);
        let glue = |resource: &str| format!("arn:aws:glue:eu-west-1:123456789012:{resource}");
        assert_eq!(
            statement(&all, "ChangeCatalog")["Resource"],
            serde_json::json!([
                glue("catalog"),
                glue("database/lake"),
                glue("table/lake/*"),
                glue("userDefinedFunction/lake/*")
            ])
        );
        // Without a catalog, a plan still lists the databases to find one an earlier spec made.
        let none = granted(&super::CatalogDatabase, &spec, Purpose::Everything);
        assert_eq!(sids_allowing(&none, "glue:GetDatabases"), ["FindCatalogDatabases"]);
        assert!(sids_allowing(&none, "glue:DeleteDatabase").is_empty());
    }
}

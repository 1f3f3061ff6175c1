//! Glue tables over the lake: the columns the spec declares, the storage format (JSON lines or
//! Parquet), the location and the partition projection derived from the prefix (see
//! `spec::catalog`), so that Athena and Spark can query new date folders with no crawler.
//!
//! Glue cannot tag tables, so a table is the pipeline's when it is in the pipeline's database
//! (which is tagged) and carries pipectl's marker in its parameters (`pipectl:resource`); the
//! database's read reads its tables and builds them here (`found`). A table of the spec's name
//! without the marker was made by someone else (a crawler, Athena DDL) and is a conflict.
//! Everything but the database changes in place with `UpdateTable`, which replaces the whole
//! definition: parameters others added (Athena's, a crawler's) are carried over, and only
//! pipectl's own are compared. A table holds no data (its objects stay in S3), so deleting one
//! is not data loss. A later Parquet delivery reads its schema from `TableConfig`.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_glue::types::{Column, SerDeInfo, StorageDescriptor, Table, TableInput};
use serde_json::{json, Value};

use super::kit::Output;
use super::kit::{
    aws_error, build_error, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, ReadContext, ResourceKind,
    Scope,
};
use crate::iam::Arns;
use crate::model::{
    Action, Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::names::{Tags, PIPELINE_TAG, RESOURCE_TAG};
use crate::spec::{self, Compression, DatePartition, Projection, TableFormat};

pub struct CatalogTable;
pub const KIND: Kind = Kind::of(&CatalogTable);

/// A table is named in plans by its Glue name.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// Glue's "table type" of a table over S3 objects that dropping the table leaves in place.
const EXTERNAL_TABLE: &str = "EXTERNAL_TABLE";

/// The SerDe and the input and output formats of each storage format, as Athena's own DDL
/// writes them ("JSON SerDe libraries", "Parquet SerDe", Amazon Athena User Guide).
fn storage(format: TableFormat) -> (&'static str, &'static str, &'static str) {
    match format {
        TableFormat::Json => (
            "org.openx.data.jsonserde.JsonSerDe",
            "org.apache.hadoop.mapred.TextInputFormat",
            "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        ),
        TableFormat::Parquet => (
            "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        ),
    }
}

/// What the spec asks of a table; a Parquet delivery's conversion names `database` and `name`.
#[derive(Debug, Clone)]
pub struct TableConfig {
    pub database: String,
    pub name: String,
    pub description: Option<String>,
    /// `s3://bucket/prefix/`.
    pub location: String,
    pub format: TableFormat,
    /// The compression of the objects (text formats: Athena reads it by the file extension).
    pub compression: Compression,
    /// Columns with their types in Glue's canonical spelling.
    pub columns: Vec<spec::Column>,
    pub partition: Option<DatePartition>,
    /// `projection.<key>.range` of each partition key, in order.
    pub ranges: Vec<String>,
}

impl TableConfig {
    fn compressed(&self) -> bool {
        self.format == TableFormat::Json && self.compression != Compression::None
    }

    /// The table parameters pipectl owns and compares: the format, and partition projection
    /// ("Setting up partition projection": `projection.enabled`, `storage.location.template`
    /// with every key, and per key ("Supported types for partition projection") a `date` with
    /// `.format`, `.range`, `.interval` and `.interval.unit`, or an `integer` with `.range` and
    /// `.digits`, two as Firehose writes `MM`, `dd` and `HH`).
    fn parameters(&self) -> BTreeMap<String, String> {
        let mut parameters = BTreeMap::from([
            ("classification".to_string(), self.format.as_str().to_string()),
            ("EXTERNAL".to_string(), "TRUE".to_string()),
        ]);
        if self.compressed() {
            parameters.insert("compressionType".to_string(), self.compression.as_str().to_string());
        }
        let Some(partition) = &self.partition else { return parameters };
        parameters.extend([
            ("projection.enabled".to_string(), "true".to_string()),
            ("storage.location.template".to_string(), partition.template.clone()),
        ]);
        for (key, range) in partition.keys.iter().zip(&self.ranges) {
            let name = &key.name;
            parameters.insert(format!("projection.{name}.range"), range.clone());
            match key.projection {
                Projection::Date { unit } => parameters.extend([
                    (format!("projection.{name}.type"), "date".to_string()),
                    (format!("projection.{name}.format"), key.format.clone()),
                    (format!("projection.{name}.interval"), "1".to_string()),
                    (format!("projection.{name}.interval.unit"), unit.to_string()),
                ]),
                Projection::Integer { .. } => parameters.extend([
                    (format!("projection.{name}.type"), "integer".to_string()),
                    (format!("projection.{name}.digits"), "2".to_string()),
                ]),
            }
        }
        parameters
    }
}

/// True for a parameter `TableConfig::parameters` may set.
fn owned_parameter(key: &str) -> bool {
    ["classification", "EXTERNAL", "compressionType", "storage.location.template"].contains(&key)
        || key.starts_with("projection.")
}

fn columns_value<'a>(columns: impl Iterator<Item = (&'a str, &'a str, Option<&'a str>)>) -> Value {
    json!(columns
        .map(|(name, data_type, comment)| json!({"name": name, "type": data_type, "comment": comment}))
        .collect::<Vec<_>>())
}

impl DesiredConfig for TableConfig {
    fn attributes(&self) -> Attributes {
        let columns = self.columns.iter().map(|c| (c.name.as_str(), c.data_type.as_str(), c.comment.as_deref()));
        let partition_keys = self.partition.iter().flat_map(|p| &p.keys).map(|key| (key.name.as_str(), "string", None));
        Attributes::from([
            ("database".to_string(), json!(self.database)),
            ("description".to_string(), json!(self.description)),
            ("table_type".to_string(), json!(EXTERNAL_TABLE)),
            ("location".to_string(), json!(self.location)),
            ("format".to_string(), json!(self.format.as_str())),
            ("compressed".to_string(), json!(self.compressed())),
            ("columns".to_string(), columns_value(columns)),
            ("partition_keys".to_string(), columns_value(partition_keys)),
            ("parameters".to_string(), json!(self.parameters())),
        ])
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub database: String,
    pub table: Table,
}

impl Live {
    /// The parameters pipectl neither owns nor uses as its marker: kept on every update.
    fn others(&self) -> HashMap<String, String> {
        let parameters = self.table.parameters().cloned().unwrap_or_default();
        parameters
            .into_iter()
            .filter(|(key, _)| !owned_parameter(key) && key != PIPELINE_TAG && key != RESOURCE_TAG)
            .collect()
    }
}

/// `json` or `parquet` when the SerDe and both formats are that format's; otherwise all three.
fn format_of(descriptor: Option<&StorageDescriptor>) -> String {
    let serde = descriptor.and_then(StorageDescriptor::serde_info).and_then(SerDeInfo::serialization_library);
    let found = (
        serde.unwrap_or_default(),
        descriptor.and_then(StorageDescriptor::input_format).unwrap_or_default(),
        descriptor.and_then(StorageDescriptor::output_format).unwrap_or_default(),
    );
    [TableFormat::Json, TableFormat::Parquet]
        .into_iter()
        .find(|format| storage(*format) == found)
        .map_or_else(|| format!("{} ({} / {})", found.0, found.1, found.2), |format| format.as_str().to_string())
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, _names: &Names) -> (Attributes, Vec<ResourceId>) {
        let table = &self.table;
        let descriptor = table.storage_descriptor();
        let glue_columns = |columns: &[Column]| {
            columns_value(columns.iter().map(|c| (c.name(), c.r#type().unwrap_or_default(), c.comment())))
        };
        let parameters: BTreeMap<&String, &String> = table
            .parameters()
            .map(|parameters| parameters.iter().filter(|(key, _)| owned_parameter(key)).collect())
            .unwrap_or_default();
        let attributes = Attributes::from([
            ("database".to_string(), json!(self.database)),
            ("description".to_string(), json!(table.description())),
            ("table_type".to_string(), json!(table.table_type())),
            ("location".to_string(), json!(descriptor.and_then(StorageDescriptor::location))),
            ("format".to_string(), json!(format_of(descriptor))),
            ("compressed".to_string(), json!(descriptor.is_some_and(StorageDescriptor::compressed))),
            ("columns".to_string(), glue_columns(descriptor.map(StorageDescriptor::columns).unwrap_or_default())),
            ("partition_keys".to_string(), glue_columns(table.partition_keys())),
            ("parameters".to_string(), json!(parameters)),
        ]);
        (attributes, vec![super::catalog_database::id(&self.database)])
    }
}

impl KindRules for CatalogTable {
    fn name(&self) -> &'static str {
        "catalog_table"
    }
    fn rank(&self) -> u8 {
        150
    }
    /// Glue has no `RenameTable` or move: a table in another database is a new table.
    fn forces_replacement(&self, field: &str) -> bool {
        field == "database"
    }
    /// Glue cannot tag tables: their ownership is the database's, and no tags are compared.
    fn compared_tags(&self, _tags: &Tags) -> Tags {
        Tags::new()
    }
    fn change_notes(&self, action: Action, _before: Option<&Attributes>, _after: Option<&Attributes>) -> Vec<String> {
        match action {
            Action::Replace => vec![
                "Glue cannot move a table to another database: it is dropped there and created in the new one (its S3 objects stay)"
                    .to_string(),
            ],
            _ => Vec::new(),
        }
    }
}

/// True when pipectl created `table` (its marker names it).
fn is_managed(table: &Table) -> bool {
    let marker = table.parameters().and_then(|parameters| parameters.get(RESOURCE_TAG));
    marker == Some(&id(table.name()).to_string())
}

/// The tables of a database of the pipeline: those pipectl made, and a conflict for every other
/// one that has a name the spec uses.
fn found(database: &str, tables: &[Table], desired: &[String]) -> (Vec<LiveResource>, Vec<String>) {
    let mut live = Vec::new();
    let mut conflicts = Vec::new();
    for table in tables {
        let id = id(table.name());
        if is_managed(table) {
            let detail = Live { database: database.to_string(), table: table.clone() };
            live.push(LiveResource::new(id, format!("{database}.{}", table.name()), Tags::new(), detail));
        } else if desired.iter().any(|name| name == table.name()) {
            conflicts.push(format!(
                "{id} already exists in Glue database `{database}` but pipectl did not create it (a crawler or Athena DDL did; Glue cannot tag tables, so pipectl marks its own with the table parameter {RESOURCE_TAG}); pipectl never modifies it. Rename the table in the spec, or drop it (aws glue delete-table --database-name {database} --name {})",
                table.name()
            ));
        }
    }
    (live, conflicts)
}

/// The table input for `config`, keeping `others` (parameters someone else set).
fn table_input(
    id: &ResourceId,
    config: &TableConfig,
    pipeline: &str,
    others: HashMap<String, String>,
) -> Result<TableInput, AwsError> {
    let column = |name: &str, data_type: &str, comment: Option<&String>| {
        Column::builder()
            .name(name)
            .r#type(data_type)
            .set_comment(comment.cloned())
            .build()
            .map_err(|error| build_error(id, "Column", error))
    };
    let columns = config
        .columns
        .iter()
        .map(|c| column(&c.name, &c.data_type, c.comment.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    // "When you create a table used by Amazon Athena, and you do not specify any
    // partitionKeys, you must at least set the value of partitionKeys to an empty list"
    // (AWS Glue API, TableInput): the list is always sent.
    let partition_keys = config
        .partition
        .iter()
        .flat_map(|p| &p.keys)
        .map(|key| column(&key.name, "string", None))
        .collect::<Result<Vec<_>, _>>()?;
    let (serde, input, output) = storage(config.format);
    let mut serde_info = SerDeInfo::builder().serialization_library(serde);
    if config.format == TableFormat::Parquet {
        serde_info = serde_info.parameters("serialization.format", "1");
    }
    let descriptor = StorageDescriptor::builder()
        .set_columns(Some(columns))
        .location(&config.location)
        .input_format(input)
        .output_format(output)
        .compressed(config.compressed())
        .serde_info(serde_info.build())
        .build();
    let mut parameters = others;
    parameters.extend(config.parameters());
    parameters.insert(PIPELINE_TAG.to_string(), pipeline.to_string());
    parameters.insert(RESOURCE_TAG.to_string(), id.to_string());
    TableInput::builder()
        .name(&config.name)
        .set_description(config.description.clone())
        .table_type(EXTERNAL_TABLE)
        .set_parameters(Some(parameters))
        .set_partition_keys(Some(partition_keys))
        .storage_descriptor(descriptor)
        .build()
        .map_err(|error| build_error(id, "TableInput", error))
}

impl ResourceKind for CatalogTable {
    type Desired = TableConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let spec = graph.spec;
        let Some(catalog) = &spec.catalog else { return Vec::new() };
        let database = spec::database_name(spec, catalog);
        let mut nodes = Vec::new();
        for table in &catalog.tables {
            let Some(layout) = spec::table_layout(spec, table) else { continue };
            let ranges = layout
                .partition
                .as_ref()
                .map(|partition| spec::projection_ranges(table, partition))
                .unwrap_or_default();
            let columns = table
                .columns
                .iter()
                .map(|c| spec::Column { data_type: spec::canonical_type(&c.data_type), ..c.clone() })
                .collect();
            let config = TableConfig {
                database: database.clone(),
                name: table.name.clone(),
                description: table.description.clone(),
                location: layout.location,
                format: table.format,
                compression: spec::table_compression(spec, table),
                columns,
                partition: layout.partition,
                ranges,
            };
            let depends_on = vec![super::catalog_database::id(&database)];
            nodes.push(graph.node(id(&table.name), &Tags::new(), depends_on, config));
        }
        nodes
    }

    /// Read with their database (`catalog_database`), the only place their ownership shows.
    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        let databases = super::catalog_database::pipeline_databases(read).await?;
        let desired = read.names(KIND);
        let mut tables = NamedRead::default();
        for database in &databases.found {
            if let Some(live) = database.detail::<super::catalog_database::Live>() {
                let (found, conflicts) = found(&database.id.name, &live.tables, &desired);
                tables.found.extend(found);
                tables.conflicts.extend(conflicts);
            }
        }
        Ok(tables)
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &TableConfig,
    ) -> Result<String, AwsError> {
        let id = &resource.id;
        ctx.clients
            .glue
            .create_table()
            .database_name(&desired.database)
            .table_input(table_input(id, desired, &ctx.pipeline, HashMap::new())?)
            .send()
            .await
            .map_err(|error| aws_error(id, "CreateTable", error))?;
        Ok(format!("{}.{}", desired.database, desired.name))
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &TableConfig,
        _live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        let id = &resource.id;
        ctx.clients
            .glue
            .update_table()
            .database_name(&desired.database)
            .table_input(table_input(id, desired, &ctx.pipeline, detail.others())?)
            .send()
            .await
            .map_err(|error| aws_error(id, "UpdateTable", error))?;
        Ok(())
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
        ctx.clients
            .glue
            .delete_table()
            .database_name(&detail.database)
            .name(detail.table.name())
            .send()
            .await
            .map_err(|error| aws_error(&live.id, "DeleteTable", error))?;
        Ok(())
    }

    fn outputs(&self, _live: &LiveResource, detail: &Live, _arns: &Arns) -> Vec<Output> {
        vec![Output::new("database", &detail.database), Output::new("table", detail.table.name())]
    }

    /// Tables are read with their database (`catalog_database`), which grants those reads.
    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let tables = super::catalog_database::table_arns(ctx);
        vec![
            Grant::new("ChangeCatalog", Scope::Apply, &["glue:CreateTable", "glue:UpdateTable"], tables.clone()),
            Grant::new("ChangeCatalog", Scope::Destroy, &["glue:DeleteTable"], tables),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::diff_attributes;
    use crate::spec::Spec;

    fn config(extra: &str) -> TableConfig {
        config_over("raw/!{timestamp:yyyy/MM/dd}/", extra)
    }

    fn config_over(prefix: &str, extra: &str) -> TableConfig {
        let yaml = format!(
            "version: 1\npipeline: p\nregion: eu-west-1\nbuckets: [{{name: lake}}]\nstreams: [{{name: s}}]\ndeliveries: [{{name: d, from: s, to: {{bucket: lake, prefix: '{prefix}', error_prefix: errors/}}}}]\ncatalog:\n  tables:\n    - name: events\n      delivery: d\n      columns: [{{name: id, type: BIGINT}}, {{name: tags, type: 'array< string >', comment: labels}}{extra}]\n"
        );
        let spec: Spec = serde_saphyr::from_str(&yaml).unwrap();
        let graph =
            GraphContext { spec: &spec, arns: &crate::iam::Arns::new("1", "eu-west-1"), now: chrono::Utc::now() };
        let nodes = ResourceKind::desired(&CatalogTable, &graph);
        nodes[0].config::<TableConfig>().unwrap().clone()
    }

    /// The table Glue returns for what `table_input` sent, with what Glue and Athena add.
    fn as_glue_returns(config: &TableConfig, extra_parameter: (&str, &str)) -> Table {
        let input = table_input(&id("events"), config, "p", HashMap::new()).unwrap();
        let mut parameters = input.parameters().cloned().unwrap_or_default();
        parameters.insert(extra_parameter.0.to_string(), extra_parameter.1.to_string());
        Table::builder()
            .name(input.name())
            .database_name(&config.database)
            .set_description(input.description().map(str::to_string))
            .set_table_type(input.table_type().map(str::to_string))
            .set_storage_descriptor(input.storage_descriptor().cloned())
            .set_partition_keys(Some(input.partition_keys().to_vec()))
            .set_parameters(Some(parameters))
            .catalog_id("123456789012")
            .build()
            .unwrap()
    }

    #[test]
    fn a_table_reads_back_as_it_was_written_and_foreign_parameters_are_not_compared() {
        let desired = config("");
        assert_eq!(desired.columns[0].data_type, "bigint");
        assert_eq!(desired.columns[1].data_type, "array<string>");
        let table = as_glue_returns(&desired, ("transient_lastDdlTime", "1700000000"));
        let (found, conflicts) = found("p", &[table], &["events".to_string()]);
        assert!(conflicts.is_empty());
        let live = found[0].detail::<Live>().unwrap();
        let (attributes, depends_on) = live.describe(&found[0].physical_id, &Names::default());
        assert_eq!(depends_on, [super::super::catalog_database::id("p")]);
        assert!(diff_attributes(&attributes, &desired.attributes(), |_| false).is_empty(), "{attributes:?}");
        assert_eq!(live.others().get("transient_lastDdlTime").map(String::as_str), Some("1700000000"));
        assert_eq!(attributes["parameters"]["projection.dt.range"], "NOW-3YEARS,NOW");
        assert_eq!(attributes["parameters"]["storage.location.template"], "s3://lake/raw/${dt}/");
    }

    #[test]
    fn a_hive_style_prefix_is_a_projected_key_per_folder() {
        let desired = config_over("events/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/", "");
        let table = as_glue_returns(&desired, ("k", "v"));
        let keys: Vec<&str> = table.partition_keys().iter().map(|key| key.name()).collect();
        assert_eq!(keys, ["dt", "hour"]);
        let parameters = table.parameters().cloned().unwrap_or_default();
        let projection: BTreeMap<&str, &str> = parameters
            .iter()
            .filter(|(key, _)| owned_parameter(key) && key.starts_with("projection.") || key.starts_with("storage."))
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        assert_eq!(
            projection,
            BTreeMap::from([
                ("projection.enabled", "true"),
                ("projection.dt.type", "date"),
                ("projection.dt.format", "yyyy-MM-dd"),
                ("projection.dt.range", "NOW-3YEARS,NOW"),
                ("projection.dt.interval", "1"),
                ("projection.dt.interval.unit", "DAYS"),
                ("projection.hour.type", "integer"),
                ("projection.hour.range", "0,23"),
                ("projection.hour.digits", "2"),
                ("storage.location.template", "s3://lake/events/dt=${dt}/hour=${hour}/"),
            ])
        );
        let (found, _) = found("p", &[table], &[]);
        let (attributes, _) = found[0].detail::<Live>().unwrap().describe("p.events", &Names::default());
        assert!(diff_attributes(&attributes, &desired.attributes(), |_| false).is_empty(), "{attributes:?}");
    }

    #[test]
    fn a_new_column_is_an_update_and_another_database_a_replacement() {
        let before = config("");
        let after = config(", {name: country, type: string}");
        let table = as_glue_returns(&before, ("k", "v"));
        let (found, _) = found("p", &[table], &[]);
        let (attributes, _) = found[0].detail::<Live>().unwrap().describe("p.events", &Names::default());
        let changes = diff_attributes(&attributes, &after.attributes(), |field| KIND.forces_replacement(field));
        let fields: Vec<(&str, bool)> = changes.iter().map(|c| (c.path.as_str(), c.forces_replacement)).collect();
        assert_eq!(fields, [("columns", false)]);
        let moved = TableConfig { database: "other".to_string(), ..before };
        let changes = diff_attributes(&attributes, &moved.attributes(), |field| KIND.forces_replacement(field));
        assert!(!changes.is_empty(), "moving the table to another database changes nothing");
        assert!(changes.iter().all(|c| c.path == "database" && c.forces_replacement), "{changes:?}");
    }

    #[test]
    fn a_table_pipectl_did_not_make_is_a_conflict_only_when_the_spec_names_it() {
        let crawled = Table::builder().name("events").build().unwrap();
        let (found_live, conflicts) = found("p", std::slice::from_ref(&crawled), &["events".to_string()]);
        assert!(found_live.is_empty() && conflicts.len() == 1 && conflicts[0].contains("did not create it"));
        let (found_live, conflicts) = found("p", &[crawled], &[]);
        assert!(found_live.is_empty() && conflicts.is_empty());
    }

    #[test]
    fn tables_are_changed_on_the_catalog_the_database_and_its_tables() {
        use crate::iam::deployer::Purpose;
        use crate::resources::test_support::{assert_granted, granted, sids_allowing, statement};
        let mut spec = crate::spec::SpecBuilder::new().build();
        assert!(granted(&super::CatalogTable, &spec, Purpose::Everything)["Statement"]
            .as_array()
            .is_some_and(Vec::is_empty));
        spec.catalog = Some(crate::spec::Catalog::default());
        assert_granted(
            &super::CatalogTable,
            &spec,
            &[
                ("glue:CreateTable", &["ChangeCatalog"]),
                ("glue:DeleteTable", &["ChangeCatalog"]),
                ("glue:GetTables", &[]),
            ],
        );
        let all = granted(&super::CatalogTable, &spec, Purpose::Everything);
        let glue = |resource: &str| format!("arn:aws:glue:eu-west-1:123456789012:{resource}");
        // The database defaults to the pipeline's name.
        assert_eq!(
            statement(&all, "ChangeCatalog")["Resource"],
            serde_json::json!([glue("catalog"), glue("database/p"), glue("table/p/*")])
        );
        assert!(sids_allowing(&all, "glue:DeleteDatabase").is_empty());
    }
}

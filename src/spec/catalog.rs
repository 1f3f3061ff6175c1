//! The `catalog:` section: the Glue database and its tables (crawlers are in `crawlers`), what
//! a catalog table is derived from, and the rules it must meet before any API call. A
//! table over a delivery gets its location and partition layout from the delivery's prefix
//! (`partitioning`: the location, and a projected partition column per Hive-style date folder or
//! one for unnamed date folders), so new folders are queryable without a crawler or
//! `MSCK REPAIR TABLE`. The same rules serve the resource kinds (`catalog_database`,
//! `catalog_table`) and validation, so what validation accepts is exactly what apply can build.

use std::collections::{BTreeMap, HashSet};

use schemars::JsonSchema;
use serde::Deserialize;

use super::buckets::check_bucket_reference;
use super::checks::{check_tags, Problems};
use super::clusters::{Cluster, Configuration};
use super::crawlers::Crawler;
use super::deliveries::{Compression, Delivery};
use super::partitioning::{format_date, layout, parse_date, DatePartition, Layout, Projection};
use super::pipeline::Spec;
use super::suggest::did_you_mean;
use crate::names::{glue_database_name, DEFAULT_PARTITION_KEY};

/// The pipeline's Glue Data Catalog: one database, and a table over what a delivery writes (or
/// over a prefix of a bucket of the spec), so that the lake can be found and queried.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// The Glue database (lowercase letters, digits and `_`); default: the pipeline name with
    /// `_` for `-`.
    #[serde(default)]
    pub database: Option<String>,
    #[serde(default)]
    pub tables: Vec<CatalogTable>,
    /// Tags on the database (Glue tags databases; it cannot tag tables) and on the crawlers.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Glue crawlers that infer tables on a schedule, for folders whose columns are not declared.
    #[serde(default)]
    pub crawlers: Vec<Crawler>,
}

/// A Glue table: its columns are declared, its location and partitions derived.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogTable {
    pub name: String,
    /// A delivery of the spec: the table reads what it writes, its location and partition
    /// layout derived from the delivery's prefix.
    #[serde(default)]
    pub delivery: Option<String>,
    /// Instead of `delivery`: a prefix of a bucket of the spec that something else writes.
    #[serde(default)]
    pub location: Option<TableLocation>,
    /// How the objects are stored: `json` (JSON lines, the default) or `parquet`.
    #[serde(default)]
    pub format: TableFormat,
    /// The table's columns (partition columns are derived, not listed here).
    pub columns: Vec<Column>,
    /// The partition column the prefix's unnamed `!{timestamp:…}` folders fill (default `dt`);
    /// Hive-style folders (`dt=…/hour=…/`) name their own columns.
    #[serde(default)]
    pub partition_key: Option<String>,
    /// The first day partition projection offers, `YYYY-MM-DD`; default three years back.
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Where a table's objects are when no delivery of the spec writes them.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TableLocation {
    /// A bucket of the spec.
    pub bucket: String,
    /// The key prefix; may use `!{timestamp:…}` folders, as a delivery's prefix does.
    #[serde(default)]
    pub prefix: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum TableFormat {
    #[default]
    #[serde(rename = "json")]
    Json,
    #[serde(rename = "parquet")]
    Parquet,
}

impl TableFormat {
    /// The spelling used in the spec and in plans.
    pub fn as_str(self) -> &'static str {
        match self {
            TableFormat::Json => "json",
            TableFormat::Parquet => "parquet",
        }
    }
}

/// A column: a name and a Glue/Hive type (`string`, `bigint`, `decimal(10,2)`, `array<string>`, …).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    #[serde(default)]
    pub comment: Option<String>,
}

/// The prefix Firehose writes under when a delivery names none: "Firehose adds a default time
/// prefix in the format YYYY/MM/dd/HH" (Amazon Data Firehose Developer Guide, "Configure Amazon
/// S3 object name format").
const FIREHOSE_DEFAULT_PREFIX: &str = "!{timestamp:yyyy/MM/dd/HH}/";
/// Glue and Athena names: "should be in lower case … not … more than 255 bytes long" (Amazon
/// Athena User Guide, "Name databases, tables, and columns").
const MAX_NAME: usize = 255;
/// Without `since`, how far back partition projection offers dates.
pub const DEFAULT_RANGE_START: &str = "NOW-3YEARS";
/// "Record format conversion … requires a buffer size of at least 64 MiB" (Amazon Data Firehose
/// Developer Guide, "Converting input data format"): Firehose rejects a smaller `SizeInMBs`.
pub const CONVERSION_MIN_BUFFER_MIB: i64 = 64;
/// The property that makes Hive and Spark SQL use the Glue Data Catalog as their metastore, and
/// the classifications it goes in ("Use the AWS Glue Data Catalog as the metastore for Spark SQL"
/// and "… for Hive", Amazon EMR Release Guide).
pub const GLUE_METASTORE_FACTORY: (&str, &str) =
    ("hive.metastore.client.factory.class", "com.amazonaws.glue.catalog.metastore.AWSGlueDataCatalogHiveClientFactory");
pub const GLUE_METASTORE_CLASSIFICATIONS: [&str; 2] = ["hive-site", "spark-hive-site"];

/// The database name: the spec's, or the pipeline's with `_` for `-`.
pub fn database_name(spec: &Spec, catalog: &Catalog) -> String {
    catalog.database.clone().unwrap_or_else(|| glue_database_name(&spec.pipeline))
}

/// The bucket, prefix and compression a table reads: its delivery's, or its location's.
fn source<'a>(spec: &'a Spec, table: &'a CatalogTable) -> Option<(&'a str, &'a str, Compression)> {
    if let Some(name) = &table.delivery {
        let delivery = spec.deliveries.iter().find(|delivery| &delivery.name == name)?;
        let prefix = if delivery.to.prefix.is_empty() { FIREHOSE_DEFAULT_PREFIX } else { &delivery.to.prefix };
        return Some((&delivery.to.bucket, prefix, delivery.compression));
    }
    table.location.as_ref().map(|location| (location.bucket.as_str(), location.prefix.as_str(), Compression::None))
}

/// The compression of the objects a table reads (`none` for a location table, whose writer
/// pipectl does not know; Athena reads compressed text by its file extension either way).
pub fn table_compression(spec: &Spec, table: &CatalogTable) -> Compression {
    source(spec, table).map_or(Compression::None, |(_, _, compression)| compression)
}

/// The layout of a table of a validated spec.
pub fn table_layout(spec: &Spec, table: &CatalogTable) -> Option<Layout> {
    let (bucket, prefix, _) = source(spec, table)?;
    layout(bucket, prefix, table.partition_key.as_deref().unwrap_or(DEFAULT_PARTITION_KEY)).ok()
}

/// The `projection.<key>.range` of each partition column, in order: for the date column, from
/// `since` (formatted with its pattern, as Athena requires of fixed bounds) or three years back,
/// to now; for an integer column, its bounds (`0,23`).
pub fn projection_ranges(table: &CatalogTable, partition: &DatePartition) -> Vec<String> {
    let since = table.since.as_deref().and_then(parse_date);
    let date_range = |format: &str| {
        let start = since.map_or_else(|| DEFAULT_RANGE_START.to_string(), |date| format_date(format, date));
        format!("{start},NOW")
    };
    partition
        .keys
        .iter()
        .map(|key| match key.projection {
            Projection::Date { .. } => date_range(&key.format),
            Projection::Integer { min, max } => format!("{min},{max}"),
        })
        .collect()
}

/// A Glue/Hive type as Glue stores and Athena reports it: lower case, no spaces.
pub fn canonical_type(data_type: &str) -> String {
    data_type.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_lowercase()
}

/// A Glue name Athena can use: lowercase letters, digits and `_`, not starting with `_`
/// (which Athena needs quoted), 1-255 characters.
fn name_problem(what: &str, name: &str) -> Option<String> {
    let valid = (1..=MAX_NAME).contains(&name.len())
        && !name.starts_with('_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    (!valid).then(|| {
        let hint = name.to_lowercase().replace(['-', ' ', '.'], "_");
        format!("`{name}` is not a valid {what} name: use 1-255 lowercase letters, digits and `_` (Athena's rule), e.g. `{hint}`")
    })
}

/// Primitive Glue/Hive types ("Data types in Amazon Athena"); `decimal`, `char` and `varchar`
/// take parameters and are checked apart.
const PRIMITIVES: [&str; 11] =
    ["string", "boolean", "tinyint", "smallint", "int", "integer", "bigint", "float", "double", "date", "timestamp"];

/// Why `data_type` (canonical) is not a Glue/Hive type, if it is not.
fn type_problem(data_type: &str) -> Option<String> {
    match parse_type(data_type) {
        Ok("") => None,
        Ok(rest) => Some(format!("unexpected `{rest}` after the type")),
        Err(message) => Some(message),
    }
}

/// Parses one type at the start of `text`; returns what follows it.
fn parse_type(text: &str) -> Result<&str, String> {
    let word_end = text.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(text.len());
    let (word, rest) = text.split_at(word_end);
    match word {
        _ if PRIMITIVES.contains(&word) || word == "binary" => Ok(rest),
        "decimal" => match rest.strip_prefix('(') {
            None => Ok(rest),
            Some(inner) => {
                let end = inner.find(')').ok_or("`decimal(` is not closed")?;
                let mut numbers = inner[..end].split(',').map(str::parse::<u32>);
                let precision = numbers.next().and_then(Result::ok).ok_or("decimal precision must be a number")?;
                let scale = match numbers.next() {
                    None => 0,
                    Some(scale) => scale.map_err(|_| "decimal scale must be a number")?,
                };
                if numbers.next().is_some() || !(1..=38).contains(&precision) || scale > precision {
                    return Err("decimal(p,s) needs a precision of 1-38 and a scale of at most the precision".into());
                }
                Ok(&inner[end + 1..])
            }
        },
        "char" | "varchar" => {
            let inner = rest.strip_prefix('(').ok_or(format!("`{word}` needs a length, e.g. `{word}(10)`"))?;
            let end = inner.find(')').ok_or(format!("`{word}(` is not closed"))?;
            let max = if word == "char" { 255 } else { 65535 };
            match inner[..end].parse::<u32>() {
                Ok(length) if (1..=max).contains(&length) => Ok(&inner[end + 1..]),
                _ => Err(format!("`{word}` takes a length of 1-{max}")),
            }
        }
        "array" => {
            let inner = rest.strip_prefix('<').ok_or("`array` needs an element type: `array<string>`")?;
            close(parse_type(inner)?)
        }
        "map" => {
            let inner = rest.strip_prefix('<').ok_or("`map` needs key and value types: `map<string,int>`")?;
            let key_end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
            if !PRIMITIVES.contains(&&inner[..key_end]) && !inner.starts_with("decimal") {
                return Err("a map's key must be a primitive type such as `string`".into());
            }
            let after_key = parse_type(inner)?;
            let value = after_key.strip_prefix(',').ok_or("`map` needs key and value types: `map<string,int>`")?;
            close(parse_type(value)?)
        }
        "struct" => {
            let mut inner = rest.strip_prefix('<').ok_or("`struct` needs fields: `struct<name:string>`")?;
            loop {
                let colon = inner.find(':').ok_or("a struct field is `name:type`")?;
                let field = &inner[..colon];
                if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("`{field}` is not a struct field name"));
                }
                let after = parse_type(&inner[colon + 1..])?;
                match after.strip_prefix(',') {
                    Some(next) => inner = next,
                    None => return close(after),
                }
            }
        }
        "" => Err(format!("`{text}` is not a type")),
        other => {
            let hint = did_you_mean(other, PRIMITIVES.iter().copied().chain(["decimal", "array", "map", "struct"]))
                .map(|name| format!(" (did you mean `{name}`?)"))
                .unwrap_or_default();
            Err(format!("`{other}` is not a Glue/Hive type{hint}"))
        }
    }
}

fn close(rest: &str) -> Result<&str, String> {
    rest.strip_prefix('>').ok_or_else(|| "a `<` is not closed with `>`".to_string())
}

/// Every problem of the catalog section but its crawlers' (`crawlers`): its tags, its database
/// and its tables.
pub(super) fn check(catalog: &Catalog, spec: &Spec, problems: &mut Problems) {
    check_tags("catalog.tags", &catalog.tags, problems);
    if let Some(message) = name_problem("Glue database", &database_name(spec, catalog)) {
        problems.add("catalog.database".to_string(), message);
    }
    let mut names = HashSet::new();
    for (index, table) in catalog.tables.iter().enumerate() {
        let path = format!("catalog.tables[{index}]");
        if let Some(message) = name_problem("Glue table", &table.name) {
            problems.add(format!("{path}.name"), message);
        }
        if !names.insert(table.name.as_str()) {
            problems.add(format!("{path}.name"), format!("duplicate name `{}`", table.name));
        }
        let layout = check_source(&path, table, spec, problems);
        let key = table.partition_key.as_deref().unwrap_or(DEFAULT_PARTITION_KEY);
        if let Some(message) = name_problem("partition column", key) {
            problems.add(format!("{path}.partition_key"), message);
        }
        if table.columns.is_empty() {
            problems.add(format!("{path}.columns"), "a table needs at least one column".to_string());
        }
        let partition = layout.as_ref().and_then(|layout| layout.partition.as_ref());
        let keys = partition.map(DatePartition::names).unwrap_or_default();
        // Hive-style folders name their own columns; `partition_key` names unnamed ones.
        let named = !keys.is_empty() && keys != [key];
        if named && table.partition_key.is_some() {
            problems.add(
                format!("{path}.partition_key"),
                format!("the prefix names its partition columns with `key=` folders (`{}`); `partition_key` names the column of unnamed date folders: remove it", keys.join("`, `")),
            );
        }
        let mut columns = HashSet::new();
        for (column_index, column) in table.columns.iter().enumerate() {
            let column_path = format!("{path}.columns[{column_index}]");
            if let Some(message) = name_problem("column", &column.name) {
                problems.add(format!("{column_path}.name"), message);
            }
            if !columns.insert(column.name.as_str()) {
                problems.add(format!("{column_path}.name"), format!("duplicate column `{}`", column.name));
            }
            if keys.contains(&column.name.as_str()) {
                let hint = if named {
                    "rename the column, or the prefix's `key=` folder"
                } else {
                    "rename the column, or set `partition_key`"
                };
                problems.add(
                    format!("{column_path}.name"),
                    format!("`{}` is a partition column the prefix's date folders fill; it is not listed among the columns ({hint})", column.name),
                );
            }
            if let Some(message) = type_problem(&canonical_type(&column.data_type)) {
                problems.add(format!("{column_path}.type"), format!("`{}`: {message}", column.data_type));
            }
            if column.comment.as_ref().is_some_and(|comment| comment.chars().count() > 255) {
                problems.add(format!("{column_path}.comment"), "must be at most 255 characters".to_string());
            }
        }
        if let Some(since) = &table.since {
            if parse_date(since).is_none() {
                problems.add(format!("{path}.since"), format!("`{since}` is not a date `YYYY-MM-DD`"));
            } else if layout.as_ref().is_some_and(|layout| layout.partition.is_none()) {
                problems.add(
                    format!("{path}.since"),
                    "`since` bounds the date partitions; this table's prefix has no `!{timestamp:…}` folder"
                        .to_string(),
                );
            }
        }
        if table.description.as_ref().is_some_and(|text| text.chars().count() > 2048) {
            problems.add(format!("{path}.description"), "must be at most 2048 characters".to_string());
        }
    }
}

/// The problems of a prefix's layout at `field`, each `what` says, and of the names of its
/// partition columns; the layout when the prefix has one.
fn checked_layout(
    field: &str,
    what: &str,
    derived: Result<Layout, Vec<String>>,
    problems: &mut Problems,
) -> Option<Layout> {
    let messages = match &derived {
        Err(messages) => messages.clone(),
        Ok(layout) => layout
            .partition
            .iter()
            .flat_map(|partition| &partition.keys)
            .filter_map(|key| name_problem("partition column", &key.name))
            .collect(),
    };
    for message in messages {
        problems.add(field.to_string(), format!("{what}{message}"));
    }
    derived.ok()
}

/// The table's delivery or location: exactly one, existing, and a prefix a table can read;
/// returns its layout when it is all that.
fn check_source(path: &str, table: &CatalogTable, spec: &Spec, problems: &mut Problems) -> Option<Layout> {
    let key = table.partition_key.as_deref().unwrap_or(DEFAULT_PARTITION_KEY);
    match (&table.delivery, &table.location) {
        (Some(_), Some(_)) => {
            problems.add(path.to_string(), "give `delivery` or `location`, not both".to_string());
            None
        }
        (None, None) => {
            problems.add(
                path.to_string(),
                "a table needs `delivery` (a delivery of the spec) or `location` (`bucket` and `prefix`)".to_string(),
            );
            None
        }
        (Some(name), None) => {
            let Some(delivery) = spec.deliveries.iter().find(|delivery| &delivery.name == name) else {
                let hint = did_you_mean(name, spec.deliveries.iter().map(|d| d.name.as_str()))
                    .map(|d| format!(" (did you mean `{d}`?)"))
                    .unwrap_or_default();
                problems.add(format!("{path}.delivery"), format!("no delivery named `{name}` in this spec{hint}"));
                return None;
            };
            let prefix = if delivery.to.prefix.is_empty() { FIREHOSE_DEFAULT_PREFIX } else { &delivery.to.prefix };
            let derived = layout(&delivery.to.bucket, prefix, key);
            let what = "the delivery's prefix cannot be cataloged: ";
            let layout = checked_layout(&format!("{path}.delivery"), what, derived, problems);
            if let Some(layout) = &layout {
                let errors = delivery.to.error_prefix.as_deref().unwrap_or_default();
                let errors = &errors[..errors.find("!{").unwrap_or(errors.len())];
                let under = format!("s3://{}/{errors}", delivery.to.bucket);
                if !errors.is_empty() && under.starts_with(&layout.location) {
                    problems.add(
                        format!("{path}.delivery"),
                        format!("the delivery's error_prefix `{errors}` is inside the table's location {}: failed records would be read as rows; move it out", layout.location),
                    );
                }
            }
            match (table.format, delivery.format) {
                (TableFormat::Parquet, TableFormat::Json) => problems.add(
                    format!("{path}.format"),
                    format!("delivery `{name}` writes the records as they arrive (JSON lines), not Parquet: set `format: parquet` on the delivery to have Firehose convert them, or use `format: json` here"),
                ),
                (TableFormat::Json, TableFormat::Parquet) => problems.add(
                    format!("{path}.format"),
                    format!("delivery `{name}` converts the records to Parquet (`format: parquet`): use `format: parquet` here"),
                ),
                _ => {}
            }
            if delivery.compression == Compression::Zip {
                problems.add(
                    format!("{path}.delivery"),
                    format!("delivery `{name}` writes ZIP files, which Athena cannot read (\"Use compression in Athena\"): use `compression: gzip`"),
                );
            }
            layout
        }
        (None, Some(location)) => {
            check_bucket_reference(&format!("{path}.location.bucket"), &location.bucket, spec, problems);
            let derived = layout(&location.bucket, &location.prefix, key);
            checked_layout(&format!("{path}.location.prefix"), "", derived, problems)
        }
    }
}

/// The database and catalog table a `format: parquet` delivery converts with: the Parquet table
/// whose `delivery` names it. None for a JSON delivery.
pub fn conversion_table<'a>(spec: &'a Spec, delivery: &Delivery) -> Option<(String, &'a CatalogTable)> {
    if delivery.format != TableFormat::Parquet {
        return None;
    }
    let catalog = spec.catalog.as_ref()?;
    let table = catalog.tables.iter().find(|table| {
        table.delivery.as_deref() == Some(delivery.name.as_str()) && table.format == TableFormat::Parquet
    })?;
    Some((database_name(spec, catalog), table))
}

/// The configurations EMR gets for `cluster`: the spec's, with the Glue metastore factory added
/// to `hive-site` and `spark-hive-site` when the cluster uses the Glue catalog (into the spec's
/// own classification when it has one). Validation refuses a spec that sets the key otherwise.
pub fn cluster_configurations(cluster: &Cluster) -> Vec<Configuration> {
    let mut configurations = cluster.configurations.clone();
    if cluster.use_glue_catalog {
        let (key, value) = GLUE_METASTORE_FACTORY;
        for classification in GLUE_METASTORE_CLASSIFICATIONS {
            match configurations.iter_mut().find(|c| c.classification == classification) {
                Some(configuration) => {
                    configuration.properties.entry(key.to_string()).or_insert_with(|| value.to_string());
                }
                None => configurations.push(Configuration {
                    classification: classification.to_string(),
                    properties: [(key.to_string(), value.to_string())].into(),
                }),
            }
        }
    }
    configurations
}

/// The rules of what uses the catalog: Firehose record format conversion on `format: parquet`
/// deliveries, and clusters with `use_glue_catalog`.
pub(super) fn check_uses(spec: &Spec, problems: &mut Problems) {
    for (index, delivery) in spec.deliveries.iter().enumerate() {
        let path = format!("deliveries[{index}]");
        if delivery.format == TableFormat::Json {
            if delivery.parquet_compression.is_some() {
                problems.add(format!("{path}.parquet_compression"), "applies to `format: parquet` only".to_string());
            }
            continue;
        }
        if delivery.compression != Compression::None {
            problems.add(
                format!("{path}.compression"),
                format!("record format conversion needs `compression: none` at the Firehose level (Firehose refuses `{}`; `compression` defaults to `gzip`): Parquet compresses itself, choose how with `parquet_compression` (`snappy`, the default, `gzip` or `uncompressed`)", delivery.compression.as_str()),
            );
        }
        if delivery.buffer.size_mib < CONVERSION_MIN_BUFFER_MIB {
            problems.add(
                format!("{path}.buffer.size_mib"),
                format!("record format conversion needs a buffer of at least {CONVERSION_MIN_BUFFER_MIB} MiB (Firehose refuses {}): set `buffer: {{size_mib: 128}}`, Firehose's default when it converts", delivery.buffer.size_mib),
            );
        }
        let tables: Vec<&str> = spec
            .catalog
            .iter()
            .flat_map(|catalog| &catalog.tables)
            .filter(|table| table.delivery.as_deref() == Some(delivery.name.as_str()))
            .map(|table| table.name.as_str())
            .collect();
        match tables.as_slice() {
            [] => problems.add(
                format!("{path}.format"),
                format!("`format: parquet` converts with the columns of a catalog table: add one to `catalog.tables` with `delivery: {}` and `format: parquet`", delivery.name),
            ),
            [_] => {}
            several => problems.add(
                format!("{path}.format"),
                format!("tables `{}` all read this delivery; Firehose converts with one table's columns: keep one", several.join("`, `")),
            ),
        }
    }
    for (index, cluster) in spec.clusters.iter().enumerate() {
        let path = format!("clusters[{index}]");
        if !cluster.use_glue_catalog {
            continue;
        }
        if spec.catalog.is_none() {
            problems.add(
                format!("{path}.use_glue_catalog"),
                "needs a `catalog` section: the cluster is granted the pipeline's Glue database, which `catalog` creates".to_string(),
            );
        }
        if !cluster.applications.iter().any(|application| application == "Spark" || application == "Hive") {
            problems.add(
                format!("{path}.use_glue_catalog"),
                "only Spark and Hive use a metastore: add `Spark` or `Hive` to `applications`".to_string(),
            );
        }
        let (key, value) = GLUE_METASTORE_FACTORY;
        for (position, configuration) in cluster.configurations.iter().enumerate() {
            let set = configuration.properties.get(key);
            if GLUE_METASTORE_CLASSIFICATIONS.contains(&configuration.classification.as_str())
                && set.is_some_and(|set| set != value)
            {
                problems.add(
                    format!("{path}.configurations[{position}].properties"),
                    format!("`{key}` is `{}`, but `use_glue_catalog: true` sets it to `{value}` in `{}`: remove it, or drop `use_glue_catalog`", set.map_or("", String::as_str), configuration.classification),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glue_and_hive_types_are_parsed() {
        for good in [
            "string",
            "BIGINT",
            "decimal(10, 2)",
            "array<struct<id:int,tags:map<string,array<string>>>>",
            "varchar(20)",
            "timestamp",
        ] {
            assert_eq!(type_problem(&canonical_type(good)), None, "{good}");
        }
        for (bad, expect) in [
            ("strng", "did you mean `string`"),
            ("decimal(40,2)", "precision of 1-38"),
            ("array<string", "not closed"),
            ("map<array<int>,string>", "primitive"),
            ("struct<>", "name:type"),
            ("varchar", "needs a length"),
        ] {
            let problem = type_problem(&canonical_type(bad)).unwrap_or_default();
            assert!(problem.contains(expect), "{bad}: {problem}");
        }
    }

    #[test]
    fn a_refused_prefix_is_said_once_and_hive_folders_name_their_columns() {
        use super::super::checks::testing::{messages, HEAD};
        let spec = |prefix: &str, table: &str| {
            format!("{HEAD}buckets: [{{name: lake}}]\ncatalog:\n  tables:\n    - {{name: events, location: {{bucket: lake, prefix: '{prefix}'}}, columns: [{{name: a, type: string}}]{table}}}\n")
        };
        // A refused prefix says what is wrong with it, every problem, and nothing about `since`.
        let refused =
            messages(&spec("raw/!{firehose:random-string}/!{timestamp:yyyy}/!{timestamp:MM}", ", since: 2024-01-01"));
        assert_eq!(refused.len(), 2, "{refused:#?}");
        assert!(refused.iter().all(|m| m.starts_with("catalog.tables[0].location.prefix: ")), "{refused:#?}");
        // Hive-style folders name the columns: `partition_key` has no say, a column may not
        // take a key's name, and a key must be a Glue name.
        let hive = "raw/dt=!{timestamp:yyyy-MM-dd}/Hour=!{timestamp:HH}/";
        let named = messages(&spec(hive, ", partition_key: day").replace("name: a,", "name: dt,"));
        assert_eq!(named.len(), 3, "{named:#?}");
        assert!(named[0].contains("location.prefix: `Hour` is not a valid partition column name"), "{named:#?}");
        assert!(
            named.iter().any(|m| m.contains("partition_key: the prefix names its partition columns")),
            "{named:#?}"
        );
        assert!(named.iter().any(|m| m.contains("columns[0].name: `dt` is a partition column")), "{named:#?}");
        assert!(
            messages(&spec("raw/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/", ", since: 2024-01-01")).is_empty()
        );
    }
}

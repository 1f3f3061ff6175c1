//! `pipectl verify`: does data flow? For each path of the spec — a stream, the delivery that
//! reads it, the bucket it writes to — put a canary record into the stream (`canary`), wait up
//! to the delivery's buffer interval plus a margin, and look for it in the lake under the
//! delivery's prefix (`objects` reads gzip, JSON and Parquet), in the partition folder the table
//! that reads the delivery expects; records under the error prefix are reported instead. Exit 0
//! when every path is confirmed; 1 naming each path that is not and what was found instead.
//!
//! Athena is not queried: the lake is read directly, which needs no query engine, no results
//! location and no scan cost; the report gives the query that finds the canary through the table.

mod canary;
mod objects;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;

use super::session::Session;
use super::{CommandError, GlobalArgs, OutputFormat, Status};
use crate::aws::calls::CallCounter;
use crate::aws::{AwsError, Clients};
use crate::calendar::parse_duration;
use crate::progress::Progress;
use crate::resources::bucket::lake::{object_bytes, objects_since};
use crate::resources::ingest_api::{self, Invoked};
use crate::resources::{delivery, stream};
use crate::spec::{
    database_name, table_layout, CatalogTable, Compression, DatePartition, Delivery, Route, Spec, TableFormat,
};

pub use canary::{CANARY_FIELD, CANARY_PREFIX};

/// Firehose's prefix when a delivery gives none: "Firehose adds a default time prefix in the
/// format YYYY/MM/dd/HH" (Amazon Data Firehose Developer Guide, "Configure Amazon S3 object name
/// format").
const DEFAULT_PREFIX: &str = "!{timestamp:yyyy/MM/dd/HH}/";
/// How long past the buffer interval a canary is waited for by default.
const MARGIN: Duration = Duration::from_secs(120);
/// Objects modified this long before the canary was put still count (clocks differ).
const CLOCK_SKEW_SECONDS: i64 = 60;

/// The arguments of `pipectl verify` (its help line is `cli::Command`'s). The wait is the global
/// `--timeout`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Only this delivery (repeatable; `--path` is the same); default: every delivery of the spec.
    #[arg(long = "delivery", visible_alias = "path", value_name = "NAME")]
    pub deliveries: Vec<String>,
    /// How often to look in the lake while waiting.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION", default_value = "5s")]
    pub poll: Duration,
    /// How to print what each canary found: for people, or JSON for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

/// One path to verify: a delivery with its stream and bucket, the table that reads it, and the
/// ingest route that writes into its stream, if one does (the canary then goes through it).
struct Path<'a> {
    pipeline: &'a str,
    route: Option<&'a Route>,
    delivery: &'a Delivery,
    table: Option<TableOf<'a>>,
    /// For a delivery into a warehouse: the catalog table whose columns its Redshift table has.
    loads: Option<&'a CatalogTable>,
    timeout: Duration,
}

/// The catalog table that reads a delivery, with its database and its date partition.
struct TableOf<'a> {
    database: String,
    table: &'a CatalogTable,
    partition: Option<DatePartition>,
}

/// What verify found for one path.
#[derive(Debug, Clone, Serialize)]
pub struct PathReport {
    pub delivery: String,
    pub stream: String,
    pub bucket: String,
    pub canary: String,
    pub confirmed: bool,
    /// From the put to the answer.
    pub seconds: u64,
    /// Where the canary landed: `s3://bucket/key`.
    pub object: Option<String>,
    /// `Parquet`, `gzip JSON`, …
    pub format: Option<String>,
    /// The table partition the object is in: `dt=2026/12/07 of clickstream.events`.
    pub partition: Option<String>,
    /// One line: what was confirmed, or what was found instead.
    pub summary: String,
    /// The Athena query that finds the canary through the table, for a person to run.
    pub athena_query: Option<String>,
    /// For a delivery into a warehouse: the SQL that finds the canary's row in its Redshift
    /// table once Firehose's `COPY` ran, for a person to run (the staged object is what verify
    /// confirms).
    pub warehouse_query: Option<String>,
}

/// `pipectl verify`.
pub async fn exec(global: &GlobalArgs, args: &VerifyArgs, counter: &CallCounter) -> Result<Status, CommandError> {
    let session = Session::open(global, counter).await?;
    let spec = &session.loaded.spec;
    let paths = paths(spec, &args.deliveries, global.timeout).map_err(CommandError::Refused)?;
    let reports = futures::future::join_all(
        paths.iter().map(|path| verify_path(&session.clients, path, args.poll, &session.progress)),
    )
    .await;
    let mut done = Vec::new();
    for (path, report) in paths.iter().zip(reports) {
        match report {
            Ok(report) => done.push(report),
            Err(error) => {
                session.progress.warn(&format!("delivery {}: {error}", path.delivery.name));
                return Err(session.explain(error));
            }
        }
    }
    print(&done, args.output);
    let failed: Vec<String> =
        done.iter().filter(|report| !report.confirmed).map(|r| format!("{} ({})", r.delivery, r.summary)).collect();
    if failed.is_empty() {
        return Ok(Status::Success);
    }
    Err(CommandError::Failed(format!(
        "{} of {} path{} not confirmed: {}",
        failed.len(),
        done.len(),
        if done.len() == 1 { "" } else { "s" },
        failed.join("; ")
    )))
}

/// The paths `only` selects (every delivery when empty), before any AWS call.
fn paths<'a>(spec: &'a Spec, only: &[String], timeout: Option<Duration>) -> Result<Vec<Path<'a>>, String> {
    let names: Vec<&str> = spec.deliveries.iter().map(|delivery| delivery.name.as_str()).collect();
    if names.is_empty() {
        return Err("the spec declares no deliveries, so there is no path to verify (add `deliveries:`)".to_string());
    }
    let unknown: Vec<&str> = only.iter().map(String::as_str).filter(|name| !names.contains(name)).collect();
    if !unknown.is_empty() {
        return Err(format!(
            "no delivery {} in the spec; its deliveries are: {}",
            unknown.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", "),
            names.join(", ")
        ));
    }
    let selected = spec.deliveries.iter().filter(|delivery| only.is_empty() || only.contains(&delivery.name));
    Ok(selected
        .map(|delivery| {
            let table = spec.catalog.as_ref().and_then(|catalog| {
                let table = catalog.tables.iter().find(|table| table.delivery.as_ref() == Some(&delivery.name))?;
                let partition = table_layout(spec, table).and_then(|layout| layout.partition);
                Some(TableOf { database: database_name(spec, catalog), table, partition })
            });
            let interval = Duration::from_secs(u64::try_from(delivery.buffer.interval_seconds).unwrap_or(0));
            let route =
                spec.ingest.iter().flat_map(|ingest| &ingest.routes).find(|route| route.stream == delivery.from);
            let loads = delivery.to.warehouse.as_ref().and_then(|target| {
                spec.catalog.iter().flat_map(|catalog| &catalog.tables).find(|table| table.name == target.table)
            });
            let timeout = timeout.unwrap_or(interval + MARGIN);
            Path { pipeline: &spec.pipeline, route, delivery, table, loads, timeout }
        })
        .collect())
}

/// The prefix Firehose writes the delivery's data under.
fn data_prefix(delivery: &Delivery) -> &str {
    if delivery.to.prefix.is_empty() {
        DEFAULT_PREFIX
    } else {
        &delivery.to.prefix
    }
}

/// A path's report before anything landed: not confirmed, with `summary`.
fn report(path: &Path, canary: &str, seconds: u64, summary: String) -> PathReport {
    let delivery = path.delivery;
    PathReport {
        delivery: delivery.name.clone(),
        stream: delivery.from.clone(),
        bucket: delivery.to.bucket.clone(),
        canary: canary.to_string(),
        confirmed: false,
        seconds,
        object: None,
        format: None,
        partition: None,
        summary,
        athena_query: None,
        warehouse_query: None,
    }
}

/// Puts a canary into the path's stream and waits for it in the lake.
async fn verify_path(
    clients: &Clients,
    path: &Path<'_>,
    poll: Duration,
    progress: &Progress,
) -> Result<PathReport, AwsError> {
    let delivery = path.delivery;
    match delivery::status(clients, &delivery.name).await? {
        None => {
            return Ok(report(
                path,
                "",
                0,
                format!("the delivery stream {} does not exist: run `pipectl apply`; no canary was put", delivery.name),
            ));
        }
        Some(status) if status != "ACTIVE" => {
            return Ok(report(path, "", 0, format!("the delivery stream is {status}, not ACTIVE; no canary was put")));
        }
        Some(_) => {}
    }
    if !matches!(delivery.compression, Compression::Gzip | Compression::None) {
        let compression = delivery.compression.as_str();
        let why = format!("verify reads gzip and uncompressed objects, and this delivery writes `compression: {compression}`; no canary was put");
        return Ok(report(path, "", 0, why));
    }
    // A load's canary fills the warehouse table's columns, which `COPY … JSON 'auto'` reads by name.
    let columns = match (&path.table, path.loads) {
        (Some(of), _) => of.table.columns.as_slice(),
        (None, Some(table)) => table.columns.as_slice(),
        (None, None) => &[],
    };
    if delivery.format == TableFormat::Parquet && !canary::carries_id(columns) {
        return Ok(report(path, "", 0, "the table converting this delivery to Parquet has no string column to carry the canary's id (conversion keeps only the table's columns); no canary was put".to_string()));
    }
    let put_at = Utc::now();
    let id = canary::new_id(put_at);
    let mut record = canary::record(&id, columns, put_at);
    let shard = match put_canary(clients, path, &id, &mut record, progress).await? {
        Ok(shard) => shard,
        Err(refused) => return Ok(report(path, &id, 0, refused)),
    };
    progress.line(&format!(
        "Put canary {id} into stream {} ({shard}); waiting up to {}s for delivery {} to write it to s3://{}/{}",
        delivery.from,
        path.timeout.as_secs(),
        delivery.name,
        delivery.to.bucket,
        canary::listing_prefix(data_prefix(delivery), put_at)
    ));
    let mut search = Search::new(path, id.clone(), put_at);
    let started = Instant::now();
    loop {
        if let Some(found) = search.look(clients).await? {
            return Ok(search.finish(found, started.elapsed().as_secs()));
        }
        if started.elapsed() >= path.timeout {
            let summary = search.nothing(path.timeout);
            return Ok(report(path, &id, started.elapsed().as_secs(), summary));
        }
        tokio::time::sleep(poll.min(path.timeout.saturating_sub(started.elapsed())).max(Duration::from_millis(100)))
            .await;
    }
}

/// Puts the canary into the path's stream: through its ingest route when one writes there (as
/// a client's request would go, `ingest_api::invoke`), else with PutRecord. The shard and how it
/// went in, or why the API refused it (a finding of its own: the front door does not work).
/// An emulator that does not serve TestInvokeMethod gets the PutRecord, with a warning.
async fn put_canary(
    clients: &Clients,
    path: &Path<'_>,
    id: &str,
    record: &mut serde_json::Value,
    progress: &Progress,
) -> Result<Result<String, String>, AwsError> {
    let stream_name = &path.delivery.from;
    if let Some(route) = path.route {
        let headers = canary::for_route(record, route, id);
        let url_path = route.path();
        let answer = ingest_api::invoke(clients, path.pipeline, &url_path, &format!("{record}\n"), &headers).await;
        match answer {
            Ok(Invoked::Answered(200, body)) => {
                let answer: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let shard = answer["ShardId"].as_str().unwrap_or("a shard");
                return Ok(Ok(format!("{shard}, through the ingest API's POST /{url_path}")));
            }
            Ok(Invoked::Answered(status, body)) => {
                return Ok(Err(format!("the ingest API's POST /{url_path} answered {status} to the canary: {body}")));
            }
            Ok(Invoked::Missing) => {
                return Ok(Err(format!(
                    "the ingest API has no POST /{url_path}: run `pipectl apply`; no canary was put"
                )));
            }
            Err(error) if clients.emulated && !error.has_code("AccessDenied") => {
                progress.warn(&format!("the endpoint does not run TestInvokeMethod ({error}); the canary goes into stream {stream_name} directly"));
            }
            Err(error) => return Err(error),
        }
    }
    let shard = stream::put_record(clients, stream_name, id, format!("{record}\n").into_bytes()).await?;
    Ok(Ok(shard))
}

/// Where a canary was found: the object, or the failed record that is the canary.
enum Found {
    Landed { key: String, format: String, records: usize },
    Failed { key: String, code: String, message: String },
}

/// The state of one path's search: which objects were read already, and what they were.
struct Search<'a> {
    path: &'a Path<'a>,
    id: String,
    put_at: DateTime<Utc>,
    seen: BTreeSet<String>,
    /// Objects of the data prefix written since the put that do not hold the canary.
    others: Vec<String>,
    /// Failed records (of other records) under the error prefix: `code (key)`.
    errors: Vec<String>,
}

impl<'a> Search<'a> {
    fn new(path: &'a Path<'a>, id: String, put_at: DateTime<Utc>) -> Search<'a> {
        Search { path, id, put_at, seen: BTreeSet::new(), others: Vec::new(), errors: Vec::new() }
    }

    /// The moments whose folders may hold the canary: the oldest record of its object may have
    /// arrived up to a buffer interval before it, and the object is written up to now.
    fn moments(&self) -> Vec<DateTime<Utc>> {
        let interval = chrono::Duration::seconds(self.path.delivery.buffer.interval_seconds);
        vec![self.put_at - interval, self.put_at, Utc::now()]
    }

    /// The distinct listing prefixes of `prefix` over the moments.
    fn prefixes(&self, prefix: &str) -> BTreeSet<String> {
        self.moments().into_iter().map(|at| canary::listing_prefix(prefix, at)).collect()
    }

    /// One look at the data prefix, then the error prefix.
    async fn look(&mut self, clients: &Clients) -> Result<Option<Found>, AwsError> {
        let bucket = self.path.delivery.to.bucket.clone();
        let since = self.put_at.timestamp() - CLOCK_SKEW_SECONDS;
        for prefix in self.prefixes(data_prefix(self.path.delivery)) {
            for object in objects_since(clients, &bucket, &prefix, since).await? {
                if !self.seen.insert(object.key.clone()) {
                    continue;
                }
                let bytes = object_bytes(clients, &bucket, &object.key).await?;
                match objects::examine(&bytes, &self.id) {
                    Ok(examined) if examined.holds_canary => {
                        return Ok(Some(Found::Landed {
                            key: object.key,
                            format: examined.format,
                            records: examined.records,
                        }))
                    }
                    Ok(examined) => {
                        self.others.push(format!("{} ({}, {})", object.key, examined.format, records(examined.records)))
                    }
                    Err(why) => self.others.push(format!("{} ({why})", object.key)),
                }
            }
        }
        let Some(error_prefix) = self.path.delivery.to.error_prefix.clone() else { return Ok(None) };
        for prefix in self.prefixes(&error_prefix) {
            for object in objects_since(clients, &bucket, &prefix, since).await? {
                if !self.seen.insert(object.key.clone()) {
                    continue;
                }
                let bytes = object_bytes(clients, &bucket, &object.key).await?;
                let records = objects::failed_records(&bytes, &self.id).unwrap_or_default();
                if let Some(canary) = records.iter().find(|record| record.is_canary) {
                    let (code, message) = (canary.code.clone(), canary.message.clone());
                    return Ok(Some(Found::Failed { key: object.key, code, message }));
                }
                self.errors.extend(records.iter().map(|record| format!("{} ({})", record.code, object.key)));
            }
        }
        Ok(None)
    }

    /// The report of a canary found after `seconds`.
    fn finish(&self, found: Found, seconds: u64) -> PathReport {
        let path = self.path;
        let bucket = &path.delivery.to.bucket;
        let mut report = report(path, &self.id, seconds, String::new());
        match found {
            Found::Failed { key, code, message } => {
                report.summary = format!(
                    "the canary went to the error prefix after {seconds}s: {code}: {message} (s3://{bucket}/{key})"
                );
            }
            Found::Landed { key, format, records: count } => {
                let partition = self.partition_of(&key);
                report.object = Some(format!("s3://{bucket}/{key}"));
                report.format = Some(format.clone());
                report.confirmed = partition.as_ref().is_none_or(Result::is_ok);
                report.summary = match &partition {
                    None => format!("landed after {seconds}s in s3://{bucket}/{key} ({format}, {})", records(count)),
                    Some(Ok(partition)) => format!(
                        "landed after {seconds}s in s3://{bucket}/{key} ({format}, {}), partition {partition}",
                        records(count)
                    ),
                    Some(Err(expected)) => format!(
                        "landed after {seconds}s in s3://{bucket}/{key}, outside the partition folder the table reads ({expected}): queries will not see it"
                    ),
                };
                let value = self
                    .partition_folders()
                    .into_iter()
                    .find(|(folder, _)| key.starts_with(folder.as_str()))
                    .map(|(_, value)| value);
                report.partition = partition.and_then(Result::ok);
                report.athena_query = self.athena_query(value.as_deref());
                report.warehouse_query = self.warehouse_query();
                if let (Some(target), Some(_)) = (&path.delivery.to.warehouse, &report.warehouse_query) {
                    report.summary =
                        format!("{}; staged for Firehose's COPY into {}.{}", report.summary, target.name, target.table);
                }
            }
        }
        report
    }

    /// For a delivery a partitioned table reads: the partition `key` is in (`dt=… of db.table`),
    /// or the folders it should have been in.
    fn partition_of(&self, key: &str) -> Option<Result<String, String>> {
        let of = self.path.table.as_ref()?;
        let partition = of.partition.as_ref()?;
        let folders = self.partition_folders();
        Some(match folders.iter().find(|(folder, _)| key.starts_with(folder.as_str())) {
            Some((_, values)) => {
                let pairs: Vec<String> =
                    partition.keys.iter().zip(values).map(|(key, value)| format!("{}={value}", key.name)).collect();
                Ok(format!("{} of {}.{}", pairs.join(", "), of.database, of.table.name))
            }
            None => Err(folders
                .iter()
                .map(|(folder, _)| format!("s3://{}/{folder}", self.path.delivery.to.bucket))
                .collect::<Vec<_>>()
                .join(" or ")),
        })
    }

    /// The folders (and the values of the partition keys) of the table's date partition over the
    /// moments, as keys of the bucket.
    fn partition_folders(&self) -> Vec<(String, Vec<String>)> {
        let Some(partition) = self.path.table.as_ref().and_then(|of| of.partition.as_ref()) else { return Vec::new() };
        let bucket_root = format!("s3://{}/", self.path.delivery.to.bucket);
        let folder = |at| {
            let values: Vec<String> =
                partition.keys.iter().map(|key| canary::java_format(&key.format, at)).collect::<Option<_>>()?;
            let folder = partition.keys.iter().zip(&values).fold(partition.template.clone(), |folder, (key, value)| {
                folder.replace(&DatePartition::placeholder(&key.name), value)
            });
            Some((folder.replacen(&bucket_root, "", 1), values))
        };
        let mut folders: Vec<(String, Vec<String>)> = self.moments().into_iter().filter_map(folder).collect();
        folders.dedup();
        folders
    }

    /// The Athena query that finds this canary through the table (in the partition it landed
    /// in, so that it scans one folder).
    fn athena_query(&self, partition: Option<&[String]>) -> Option<String> {
        let of = self.path.table.as_ref()?;
        let column = of.table.columns.iter().find(|column| canary::carries_id(std::slice::from_ref(*column)))?;
        let filter: String = match (partition, &of.partition) {
            (Some(values), Some(date)) => {
                date.keys.iter().zip(values).map(|(key, value)| format!("\"{}\" = '{value}' AND ", key.name)).collect()
            }
            _ => String::new(),
        };
        Some(format!(
            "SELECT count(*) FROM \"{}\".\"{}\" WHERE {filter}\"{}\" = '{}'",
            of.database, of.table.name, column.name, self.id
        ))
    }

    /// The Redshift SQL that finds this canary's row in the warehouse table, by a string column.
    fn warehouse_query(&self) -> Option<String> {
        let table = self.path.loads?;
        let column = table.columns.iter().find(|column| canary::carries_id(std::slice::from_ref(*column)))?;
        Some(format!("SELECT count(*) FROM \"{}\" WHERE \"{}\" = '{}'", table.name, column.name, self.id))
    }

    /// Why nothing was confirmed within `timeout`.
    fn nothing(&self, timeout: Duration) -> String {
        let bucket = &self.path.delivery.to.bucket;
        let prefixes: Vec<String> =
            self.prefixes(data_prefix(self.path.delivery)).into_iter().map(|p| format!("s3://{bucket}/{p}")).collect();
        let mut summary = if self.others.is_empty() {
            format!(
                "nothing delivered within {}s: no object under {} was written after the canary was put",
                timeout.as_secs(),
                prefixes.join(" or ")
            )
        } else {
            format!(
                "the canary did not land within {}s; {} object(s) written since do not hold it: {}",
                timeout.as_secs(),
                self.others.len(),
                self.others.join(", ")
            )
        };
        if !self.errors.is_empty() {
            summary.push_str(&format!(
                "; failed records of other data under the error prefix: {}",
                self.errors.join(", ")
            ));
        }
        summary
    }
}

/// `1 record`, `3 records`.
fn records(count: usize) -> String {
    format!("{count} record{}", if count == 1 { "" } else { "s" })
}

/// Prints the reports: one JSON document, or a block per path.
fn print(reports: &[PathReport], output: OutputFormat) {
    match output {
        OutputFormat::Json => outln!("{}", serde_json::json!({ "paths": reports })),
        OutputFormat::Human => {
            for report in reports {
                let verdict = if report.confirmed { "confirmed" } else { "NOT confirmed" };
                outln!(
                    "{} → {} → s3://{}: {verdict}: {}",
                    report.stream,
                    report.delivery,
                    report.bucket,
                    report.summary
                );
                if !report.canary.is_empty() {
                    outln!("  canary: {}", report.canary);
                }
                if let Some(query) = &report.athena_query {
                    outln!("  through Athena (not run by verify): {query}");
                }
                if let Some(query) = &report.warehouse_query {
                    outln!("  in the warehouse once COPY ran (not run by verify): {query}");
                }
            }
            outln!(
                "Canaries stay in the lake: leave them out of queries with `WHERE <any string column> NOT LIKE '{CANARY_PREFIX}%'`."
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(deliveries: &str) -> Spec {
        let yaml = format!(
            "version: 1\npipeline: p\nregion: us-east-1\nbuckets: [{{name: lake}}]\nstreams: [{{name: events}}]\n{deliveries}catalog:\n  tables:\n    - {{name: events, delivery: d, columns: [{{name: id, type: string}}]}}\n"
        );
        serde_saphyr::from_str(&yaml).unwrap()
    }

    const TWO: &str = "deliveries:\n  - {name: d, from: events, to: {bucket: lake, prefix: 'raw/!{timestamp:yyyy/MM/dd}/', error_prefix: 'err/'}, buffer: {interval_seconds: 60}}\n  - {name: e, from: events, to: {bucket: lake, prefix: 'other/'}}\n";

    #[test]
    fn paths_are_every_delivery_or_those_named_and_unknown_names_are_refused() {
        let spec = spec(TWO);
        let all = paths(&spec, &[], None).unwrap();
        let names: Vec<&str> = all.iter().map(|path| path.delivery.name.as_str()).collect();
        assert_eq!(names, ["d", "e"]);
        // The buffer interval plus the margin, unless --timeout says otherwise.
        assert_eq!(all[0].timeout, Duration::from_secs(180));
        assert_eq!(all[1].timeout, Duration::from_secs(420));
        assert!(all[0].table.as_ref().is_some_and(|of| of.partition.is_some()) && all[1].table.is_none());
        let one = paths(&spec, &["e".to_string()], Some(Duration::from_secs(3))).unwrap();
        assert_eq!((one.len(), one[0].timeout), (1, Duration::from_secs(3)));
        let unknown = paths(&spec, &["x".to_string()], None).err().unwrap();
        assert_eq!(unknown, "no delivery `x` in the spec; its deliveries are: d, e");
        assert!(paths(&self::spec(""), &[], None).err().unwrap().starts_with("the spec declares no deliveries"));
    }

    #[test]
    fn a_load_into_a_warehouse_is_confirmed_staged_with_the_sql_that_finds_its_row() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/warehouse.yaml");
        let spec = crate::spec::load_file(&path).expect("the warehouse example").spec;
        let all = paths(&spec, &["orders-to-warehouse".to_string()], None).unwrap();
        let loads = all[0].loads.expect("the warehouse table");
        let put_at = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z").unwrap().with_timezone(&Utc);
        // The canary fills the Redshift table's columns, which COPY reads by name.
        let record = canary::record("pipectl-canary-1-ab", &loads.columns, put_at);
        assert_eq!(record["order_id"], "pipectl-canary-1-ab");
        let search = Search::new(&all[0], "pipectl-canary-1-ab".to_string(), put_at);
        let landed =
            Found::Landed { key: "staging/orders/x.gz".to_string(), format: "gzip JSON".to_string(), records: 1 };
        let report = search.finish(landed, 3);
        assert!(report.confirmed, "{report:?}");
        assert!(
            report.summary.ends_with("; staged for Firehose's COPY into orders-analytics.orders"),
            "{}",
            report.summary
        );
        assert_eq!(
            report.warehouse_query.as_deref(),
            Some("SELECT count(*) FROM \"orders\" WHERE \"order_id\" = 'pipectl-canary-1-ab'")
        );
        // The lake delivery has none.
        let lake = paths(&spec, &["orders-to-lake".to_string()], None).unwrap();
        assert!(lake[0].loads.is_none());
    }

    #[test]
    fn a_canary_outside_the_tables_partition_folder_is_not_confirmed() {
        let spec = spec(TWO);
        let all = paths(&spec, &[], None).unwrap();
        let put_at = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z").unwrap().with_timezone(&Utc);
        let search = Search::new(&all[0], "pipectl-canary-1-ab".to_string(), put_at);
        let landed = |key: &str| Found::Landed { key: key.to_string(), format: "gzip JSON".to_string(), records: 1 };
        let inside = search.finish(landed("raw/2026/12/07/d-1-x.gz"), 4);
        assert!(inside.confirmed, "{inside:?}");
        assert_eq!(inside.partition.as_deref(), Some("dt=2026/12/07 of p.events"));
        assert_eq!(inside.summary, "landed after 4s in s3://lake/raw/2026/12/07/d-1-x.gz (gzip JSON, 1 record), partition dt=2026/12/07 of p.events");
        let outside = search.finish(landed("raw/d-1-x.gz"), 4);
        assert!(!outside.confirmed);
        assert!(
            outside.summary.contains("outside the partition folder the table reads (s3://lake/raw/2026/12/07/"),
            "{}",
            outside.summary
        );
        // Without a table, landing under the prefix is enough.
        let plain = Search::new(&all[1], "pipectl-canary-1-ab".to_string(), put_at);
        assert!(plain.finish(landed("other/2026/12/07/10/e-1-x.gz"), 2).confirmed);
        let failed =
            Found::Failed { key: "err/x".to_string(), code: "S3.AccessDenied".to_string(), message: "no".to_string() };
        let failed = search.finish(failed, 9);
        assert!(!failed.confirmed);
        assert_eq!(
            failed.summary,
            "the canary went to the error prefix after 9s: S3.AccessDenied: no (s3://lake/err/x)"
        );
    }
}

//! The pipeline lock: two applies of one pipeline must not create the same resources. There is
//! no state file to lock, so the lock is a lease: one item per pipeline in the DynamoDB table
//! `pipectl-locks` of the pipeline's region (created on first use).
//!
//! - Acquired atomically: a conditional PutItem succeeds only when no item exists or the one
//!   there has expired. DynamoDB documents conditional writes as atomic, so of two runs racing
//!   for a free or expired lease exactly one wins.
//! - Held with an owner token and an expiry that the holder renews while it works; a holder that
//!   dies (SIGKILL, a lost CI runner) stops renewing, and once the lease has expired, plus
//!   `MAX_CLOCK_SKEW` for the clocks of two machines, anyone may take it over. A holder on this
//!   very host (same host name, boot and process namespace) whose process is gone may be taken
//!   over at once.
//! - A holder that loses its lease (another run took it over, or it could not renew it before
//!   it expired) is told (`Lock::lost`), and the executor starts no further change.
//! - Released only by its owner (a DeleteItem conditioned on the token); `pipectl unlock`
//!   deletes it deliberately.
//! - The journal: creates that leave a resource untagged for a moment are noted on the item
//!   first, so a run that takes over a dead holder's lease adopts exactly those resources.
//!
//! Regional by construction (a DynamoDB table lives in one region), and it works for a
//! pipeline with no bucket and no roles. Expiry is judged by the clock of the run that reads it,
//! with `MAX_CLOCK_SKEW` of tolerance: machines whose clocks are further apart than that can both
//! believe they hold the lock.
//!
//! Each pipeline's lease is its own item, keyed by the pipeline's name (the partition key
//! `pipeline`), so the deployer's grant can be limited to that item with `dynamodb:LeadingKeys`
//! ("Using IAM policy conditions for fine-grained access control", Amazon DynamoDB Developer
//! Guide): one pipeline's CI cannot read, take, break or forge another pipeline's lease.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus, Tag,
};

use super::{aws_error, build_error, AwsError, Clients};
use crate::names::{LOCK_TABLE, PIPELINE_TAG};
use crate::progress::Progress;

/// How long a lease lasts unless renewed; renewed every third of it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// How far apart the clocks of two machines running pipectl may be: a lease counts as expired
/// only this long after the expiry its holder wrote, by the reader's clock. The holder stops
/// before its own clock reaches that expiry, so the two never overlap while the clocks differ
/// by less than this.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(10);

/// The IAM actions on the lock table itself (created once with its tag). DynamoDB sends no
/// `dynamodb:LeadingKeys` with them (Service Authorization Reference, "Actions, resources, and
/// condition keys for Amazon DynamoDB"), so they are granted on the table alone.
pub const TABLE_ACTIONS: &[&str] = &["dynamodb:DescribeTable", "dynamodb:CreateTable", "dynamodb:TagResource"];

/// The IAM actions on the pipeline's own item: each names one partition key, which
/// `item_condition` limits to the pipeline's.
pub const ITEM_ACTIONS: &[&str] =
    &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"];

/// The condition that limits `ITEM_ACTIONS` to the item of `pipeline`, whose partition key
/// value is the pipeline's name. `dynamodb:LeadingKeys` is multivalued, so the Developer Guide
/// uses `ForAllValues:StringEquals`; a request with no key at all would satisfy that vacuously,
/// hence the `Null` test that the key is there.
pub fn item_condition(pipeline: &str) -> serde_json::Value {
    serde_json::json!({
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [pipeline]},
        "Null": {"dynamodb:LeadingKeys": "false"},
    })
}

/// The ARN of the lock table of `region`, in `account` (or `*`) of `partition`.
pub fn table_arn(partition: &str, region: &str, account: &str) -> String {
    format!("arn:{partition}:dynamodb:{region}:{account}:table/{LOCK_TABLE}")
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("pipeline `{pipeline}` is locked by {holder} (running `{command}` since {since}; the lease runs until {until} unless renewed); wait for it to finish (or pass --lock-timeout), or if that run died, wait for the lease to expire or break the lock with `pipectl unlock -f {file}`")]
    Held { pipeline: String, holder: String, command: String, since: String, until: String, file: String },
    #[error("{operation} of the lock: {source}")]
    Aws {
        operation: &'static str,
        #[source]
        source: AwsError,
    },
}

impl From<AwsError> for LockError {
    fn from(source: AwsError) -> LockError {
        LockError::Aws { operation: source.operation, source }
    }
}

/// Who holds a lease, as the item says.
#[derive(Debug, Clone, PartialEq)]
struct Lease {
    owner: String,
    holder: String,
    command: String,
    since: String,
    /// Unix seconds.
    expires: u64,
    /// `kind/name` of each create under way.
    creating: Vec<String>,
    /// The holder's machine (`host_identity`) and process, when it could tell.
    host: Option<String>,
    pid: Option<u32>,
}

impl Lease {
    fn from_item(item: &HashMap<String, AttributeValue>) -> Lease {
        let text = |key: &str| item.get(key).and_then(|value| value.as_s().ok()).cloned();
        let number = |key: &str| item.get(key).and_then(|value| value.as_n().ok()).and_then(|n| n.parse().ok());
        Lease {
            owner: text("owner").unwrap_or_else(|| "?".into()),
            holder: text("holder").unwrap_or_else(|| "?".into()),
            command: text("command").unwrap_or_else(|| "?".into()),
            since: text("since").unwrap_or_else(|| "?".into()),
            expires: number("expires").unwrap_or(0),
            creating: item.get("creating").and_then(|value| value.as_ss().ok()).cloned().unwrap_or_default(),
            host: text("host"),
            pid: number("pid").and_then(|pid: u64| u32::try_from(pid).ok()),
        }
    }

    /// Expired by the clock of a reader at `now`, allowing for `MAX_CLOCK_SKEW`.
    fn expired(&self, now: u64) -> bool {
        self.expires.saturating_add(MAX_CLOCK_SKEW.as_secs()) < now
    }
}

/// What a run that wants the lock may do about the lease it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// No lease: take it if still absent.
    Free,
    /// Its lease ran out (plus the skew allowance): take it over if unchanged.
    Expired,
    /// Held by a process of this host that no longer runs: take it over if unchanged.
    HolderGone,
    /// Someone holds it.
    Held,
}

/// Judges `current` at `now` for a run on the host `here` (None: this host cannot tell its
/// processes apart from other hosts'), asking `alive` whether a process of this host runs.
fn verdict(current: Option<&Lease>, now: u64, here: Option<&str>, alive: impl Fn(u32) -> Option<bool>) -> Verdict {
    let Some(lease) = current else { return Verdict::Free };
    if lease.expired(now) {
        return Verdict::Expired;
    }
    match (here, lease.host.as_deref(), lease.pid) {
        (Some(here), Some(host), Some(pid)) if here == host && alive(pid) == Some(false) => Verdict::HolderGone,
        _ => Verdict::Held,
    }
}

/// This host, as far as process ids go: its name, its boot and its process-id namespace (two
/// containers with one host name have different namespaces, a reboot a new boot id). None where
/// these cannot be read (not Linux): leases are then only taken over once expired.
fn host_identity() -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let namespace = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let name = std::fs::read_to_string("/etc/hostname").ok().map(|name| name.trim().to_string()).unwrap_or_default();
    Some(format!("{name}/{}/{}", boot.trim(), namespace.display()))
}

/// Whether process `pid` of this host runs (a zombie counts as running); None if this host
/// cannot say.
fn process_alive(pid: u32) -> Option<bool> {
    let proc = std::path::Path::new("/proc");
    proc.join("self").exists().then(|| proc.join(pid.to_string()).exists())
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

fn rfc3339(unix: u64) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(unix).unwrap_or(i64::MAX), 0)
        .map_or_else(|| unix.to_string(), |time| time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A random token naming this run as the lease's owner.
fn owner_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_nanos()));
    hasher.write_u32(std::process::id());
    let first = hasher.finish();
    hasher.write_u64(first);
    format!("{first:016x}{:016x}", hasher.finish())
}

/// How people recognise the holder: user and host if known, and the process id.
fn holder_label() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "someone".into());
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|host| host.trim().to_string())
        .filter(|host| !host.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "a machine".into());
    format!("{user}@{host} (pid {})", std::process::id())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The item of `pipeline` holding `lease` (its journal starts empty).
fn lease_item(pipeline: &str, lease: &Lease) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("pipeline".to_string(), s(pipeline)),
        ("owner".to_string(), s(&lease.owner)),
        ("holder".to_string(), s(&lease.holder)),
        ("command".to_string(), s(&lease.command)),
        ("since".to_string(), s(&lease.since)),
        ("expires".to_string(), n(lease.expires)),
    ]);
    if let (Some(host), Some(pid)) = (&lease.host, lease.pid) {
        item.insert("host".to_string(), s(host));
        item.insert("pid".to_string(), n(u64::from(pid)));
    }
    item
}

fn is_condition_failure(error: &AwsError) -> bool {
    error.has_code("ConditionalCheckFailedException")
}

/// The lock table's one client and the pipeline whose item it holds.
#[derive(Debug, Clone)]
struct Table {
    dynamodb: aws_sdk_dynamodb::Client,
    pipeline: String,
}

impl Table {
    fn key(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([("pipeline".to_string(), s(&self.pipeline))])
    }

    /// The current lease, if any (a strongly consistent read).
    async fn current(&self) -> Result<Option<Lease>, AwsError> {
        let result = self
            .dynamodb
            .get_item()
            .table_name(LOCK_TABLE)
            .set_key(Some(self.key()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| aws_error("lock", "GetItem", error));
        match result {
            Ok(output) => Ok(output.item().map(Lease::from_item)),
            Err(error) if error.has_code("ResourceNotFoundException") => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Writes `lease` if the item is absent (`Verdict::Free`), or if it is still exactly the
    /// lease `replacing` of that owner and still expired (`Verdict::Expired`, judged again by
    /// DynamoDB against the same cut-off) or of a gone process (`Verdict::HolderGone`). False
    /// when another run got there first.
    async fn put(&self, lease: &Lease, replacing: Option<(&Lease, Verdict)>, now: u64) -> Result<bool, AwsError> {
        let mut request =
            self.dynamodb.put_item().table_name(LOCK_TABLE).set_item(Some(lease_item(&self.pipeline, lease)));
        request = match replacing {
            None => request
                .condition_expression("attribute_not_exists(#pipeline)")
                .expression_attribute_names("#pipeline", "pipeline"),
            Some((old, Verdict::HolderGone)) => request
                .condition_expression("#owner = :old_owner")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":old_owner", s(&old.owner)),
            Some((old, _)) => request
                .condition_expression("#owner = :old_owner AND #expires < :cutoff")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_names("#expires", "expires")
                .expression_attribute_values(":old_owner", s(&old.owner))
                .expression_attribute_values(":cutoff", n(now.saturating_sub(MAX_CLOCK_SKEW.as_secs()))),
        };
        match request.send().await.map_err(|error| aws_error("lock", "PutItem", error)) {
            Ok(_) => Ok(true),
            Err(error) if is_condition_failure(&error) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Runs an UpdateItem conditioned on `owner` still holding the lease.
    async fn update_owned(
        &self,
        operation: &'static str,
        owner: &str,
        expression: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool, AwsError> {
        let mut request = self
            .dynamodb
            .update_item()
            .table_name(LOCK_TABLE)
            .set_key(Some(self.key()))
            .update_expression(expression)
            .condition_expression("#owner = :me")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":me", s(owner));
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await.map_err(|error| aws_error("lock", operation, error)) {
            Ok(_) => Ok(true),
            Err(error) if is_condition_failure(&error) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Creates the lock table on first use and waits until it is ACTIVE.
    ///
    /// Right after `CreateTable`, `DescribeTable` may answer `ResourceNotFoundException`
    /// ("DescribeTable", Amazon DynamoDB API Reference: "If you issue a DescribeTable request
    /// immediately after a CreateTable request, DynamoDB might return a
    /// ResourceNotFoundException ... Wait for a few seconds, and then try the DescribeTable
    /// request again"): after a create, and only then, that answer is waited out within the same
    /// bound as the table's status, with a line saying so.
    async fn ensure(&self, progress: &Progress) -> Result<(), AwsError> {
        let described = self.dynamodb.describe_table().table_name(LOCK_TABLE).send().await;
        let status = match described.map_err(|error| aws_error("lock", "DescribeTable", error)) {
            Ok(output) => output.table().and_then(|table| table.table_status()).cloned(),
            Err(error) if error.has_code("ResourceNotFoundException") => {
                progress.line(&format!("creating the lock table {LOCK_TABLE} (once per account and region)"));
                self.create().await?;
                None
            }
            Err(error) => return Err(error),
        };
        if status == Some(TableStatus::Active) {
            return Ok(());
        }
        let created = status.is_none();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut said = false;
        loop {
            let described = self.dynamodb.describe_table().table_name(LOCK_TABLE).send().await;
            match described.map_err(|error| aws_error("lock", "DescribeTable", error)) {
                Ok(output) if output.table().and_then(|table| table.table_status()) == Some(&TableStatus::Active) => {
                    return Ok(())
                }
                Ok(_) => {}
                Err(error) if created && error.has_code("ResourceNotFoundException") && Instant::now() < deadline => {
                    if !said {
                        progress.line(&format!(
                            "{LOCK_TABLE}: DynamoDB does not list the new table yet (DescribeTable is eventually consistent), waiting for it"
                        ));
                        said = true;
                    }
                }
                Err(error) => return Err(error),
            }
            if Instant::now() >= deadline {
                return Err(AwsError::new(
                    "lock",
                    "DescribeTable",
                    format!("{LOCK_TABLE} did not become ACTIVE in 120s"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn create(&self) -> Result<(), AwsError> {
        let op = "CreateTable";
        let key = KeySchemaElement::builder()
            .attribute_name("pipeline")
            .key_type(KeyType::Hash)
            .build()
            .map_err(|e| build_error("lock", op, e))?;
        let attribute = AttributeDefinition::builder()
            .attribute_name("pipeline")
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| build_error("lock", op, e))?;
        let tag = Tag::builder()
            .key("pipectl:purpose")
            .value("pipeline locks")
            .build()
            .map_err(|e| build_error("lock", op, e))?;
        let result = self
            .dynamodb
            .create_table()
            .table_name(LOCK_TABLE)
            .key_schema(key)
            .attribute_definitions(attribute)
            .billing_mode(BillingMode::PayPerRequest)
            .tags(tag)
            .send()
            .await
            .map_err(|error| aws_error("lock", op, error));
        match result {
            // Another run created it at the same moment.
            Err(error) if error.has_code("ResourceInUseException") => Ok(()),
            other => other.map(drop),
        }
    }
}

/// A held lock: renewed in the background until `release`.
pub struct Lock {
    table: Table,
    owner: String,
    adoptable: Vec<String>,
    renewer: tokio::task::JoinHandle<()>,
    held: Arc<Held>,
}

/// What the holder knows of its lease while it works: until when it runs, and once lost, why.
#[derive(Debug)]
struct Held {
    /// Unix seconds, as last written.
    expires: AtomicU64,
    lost: Mutex<Option<String>>,
}

impl Held {
    fn new(expires: u64) -> Held {
        Held { expires: AtomicU64::new(expires), lost: Mutex::new(None) }
    }

    fn lose(&self, reason: String) {
        self.lost.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert(reason);
    }

    /// Why this run no longer holds the lease at `now`, if it does not: taken over, broken, or
    /// run out (by this run's own clock, with no allowance: the others wait `MAX_CLOCK_SKEW`
    /// longer before taking it).
    fn lost_at(&self, now: u64) -> Option<String> {
        let expires = self.expires.load(Ordering::SeqCst);
        if now >= expires {
            self.lose(format!("its lease ran out at {} without being renewed", rfc3339(expires)));
        }
        self.lost.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// The journal on a held lock: creates that leave a resource untagged for a moment (S3 and
/// Kinesis on endpoints that ignore tags at creation) are noted here first, so that after a
/// crash the next run adopts exactly those resources and nothing else.
#[derive(Debug, Clone)]
pub struct Journal {
    table: Table,
    owner: String,
    held: Arc<Held>,
}

impl Journal {
    /// Why this run no longer holds the pipeline's lock, if it does not: the executor starts no
    /// change once this says so.
    pub fn lost(&self) -> Option<String> {
        self.held.lost_at(now_secs())
    }

    /// Notes that `resource` (`kind/name`) is being created.
    pub async fn intend(&self, resource: &str) -> Result<(), AwsError> {
        let set = AttributeValue::Ss(vec![resource.to_string()]);
        self.note(resource, "ADD #creating :entry", set).await
    }

    /// `resource` carries its tags now.
    pub async fn done(&self, resource: &str) -> Result<(), AwsError> {
        let set = AttributeValue::Ss(vec![resource.to_string()]);
        self.note(resource, "DELETE #creating :entry", set).await
    }

    async fn note(&self, resource: &str, expression: &str, entry: AttributeValue) -> Result<(), AwsError> {
        let result = self
            .table
            .dynamodb
            .update_item()
            .table_name(LOCK_TABLE)
            .set_key(Some(self.table.key()))
            .update_expression(expression)
            .condition_expression("#owner = :me")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#creating", "creating")
            .expression_attribute_values(":me", s(&self.owner))
            .expression_attribute_values(":entry", entry)
            .send()
            .await
            .map_err(|error| aws_error(resource, "UpdateItem", error));
        match result {
            Err(error) if is_condition_failure(&error) => {
                let reason = "another run took it over, or `pipectl unlock` broke it";
                self.held.lose(reason.to_string());
                Err(AwsError::new(
                    resource,
                    "UpdateItem",
                    format!("this run no longer holds the pipeline's lock: {reason}"),
                ))
            }
            other => other.map(drop),
        }
    }
}

/// How to take the lock.
pub struct LockRequest<'a> {
    pub pipeline: &'a str,
    /// `apply` or `destroy`, shown to whoever waits.
    pub command: &'a str,
    /// The spec file, for the `pipectl unlock -f FILE` hint.
    pub file: &'a str,
    /// How long to wait for another run's lease.
    pub wait: Duration,
    pub lease: Duration,
}

/// Takes the pipeline's lock, waiting up to `request.wait` for another run to release it or
/// for its lease to expire.
pub async fn acquire(clients: &Clients, request: &LockRequest<'_>, progress: &Progress) -> Result<Lock, LockError> {
    let table = Table { dynamodb: clients.dynamodb.clone(), pipeline: request.pipeline.to_string() };
    table.ensure(progress).await?;
    let owner = owner_token();
    let lease_secs = request.lease.as_secs().max(3);
    let here = host_identity();
    let started = Instant::now();
    loop {
        let now = now_secs();
        let mine = Lease {
            owner: owner.clone(),
            holder: holder_label(),
            command: request.command.to_string(),
            since: rfc3339(now),
            expires: now + lease_secs,
            creating: Vec::new(),
            host: here.clone(),
            pid: Some(std::process::id()),
        };
        let current = table.current().await?;
        let verdict = verdict(current.as_ref(), now, here.as_deref(), process_alive);
        let taken = match (verdict, &current) {
            (Verdict::Free, _) => table.put(&mine, None, now).await?,
            (Verdict::Expired | Verdict::HolderGone, Some(other)) => {
                table.put(&mine, Some((other, verdict)), now).await?
            }
            _ => false,
        };
        if taken {
            let mut adoptable = Vec::new();
            if let Some(other) = current {
                let why = match verdict {
                    Verdict::HolderGone => format!("its process {} on this host is gone", other.pid.unwrap_or(0)),
                    _ => format!("its lease ran out at {}", rfc3339(other.expires)),
                };
                progress.warn(&format!(
                    "took over the lock of {} (`{}` since {}): {why}",
                    other.holder, other.command, other.since
                ));
                adoptable = other.creating;
            }
            let held = Arc::new(Held::new(mine.expires));
            let renewer = tokio::spawn(renew(table.clone(), owner.clone(), lease_secs, held.clone(), progress.clone()));
            return Ok(Lock { table, owner, adoptable, renewer, held });
        }
        // Read again: the lease may have changed hands since the read above.
        let holder = match table.current().await? {
            Some(holder) if verdict_now(&holder, here.as_deref()) == Verdict::Held => holder,
            _ => continue,
        };
        if started.elapsed() >= request.wait {
            return Err(LockError::Held {
                pipeline: request.pipeline.to_string(),
                holder: holder.holder,
                command: holder.command,
                since: holder.since,
                until: rfc3339(holder.expires),
                file: request.file.to_string(),
            });
        }
        progress.line(&format!(
            "waiting for the lock held by {} (`{}` since {}, lease until {})",
            holder.holder,
            holder.command,
            holder.since,
            rfc3339(holder.expires)
        ));
        let left = request.wait.saturating_sub(started.elapsed());
        tokio::time::sleep(Duration::from_secs(2).min(left).max(Duration::from_millis(200))).await;
    }
}

fn verdict_now(lease: &Lease, here: Option<&str>) -> Verdict {
    verdict(Some(lease), now_secs(), here, process_alive)
}

/// Renews the lease every third of its length while the lock is held. A renewal that fails is
/// retried at the next tick (the lease outlives two misses); one refused because the item is no
/// longer this run's, or a lease that runs out meanwhile, loses the lock for good.
async fn renew(table: Table, owner: String, lease_secs: u64, held: Arc<Held>, progress: Progress) {
    let every = Duration::from_secs((lease_secs / 3).max(1));
    loop {
        tokio::time::sleep(every).await;
        let until = now_secs() + lease_secs;
        let renewed =
            table.update_owned("UpdateItem", &owner, "SET #expires = :until", vec![(":until", n(until))]).await;
        match renewed {
            Ok(true) => {
                if held.lost_at(now_secs()).is_some() {
                    return;
                }
                held.expires.store(until, Ordering::SeqCst);
            }
            Ok(false) => {
                held.lose("another run took it over, or `pipectl unlock` broke it".to_string());
                progress.warn("this run lost the pipeline's lock: another run took it over, or `pipectl unlock` broke it; no further change is started");
                return;
            }
            Err(error) => {
                if let Some(reason) = held.lost_at(now_secs()) {
                    progress.warn(&format!(
                        "this run lost the pipeline's lock: {reason} ({error}); no further change is started"
                    ));
                    return;
                }
                progress.warn(&format!("could not renew the pipeline's lock ({error}); retrying"));
            }
        }
    }
}

impl Lock {
    /// Gives the lease back; only this run's own lease is deleted (the delete is conditioned on
    /// the owner token, so a lease another run took over is left alone).
    pub async fn release(self) -> Result<(), AwsError> {
        self.renewer.abort();
        let result = self
            .table
            .dynamodb
            .delete_item()
            .table_name(LOCK_TABLE)
            .set_key(Some(self.table.key()))
            .condition_expression("#owner = :me")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":me", s(&self.owner))
            .send()
            .await
            .map_err(|error| aws_error("lock", "DeleteItem", error));
        match result {
            // Someone else holds it now: theirs is not ours to delete.
            Err(error) if is_condition_failure(&error) => Ok(()),
            other => other.map(drop),
        }
    }

    pub fn journal(&self) -> Journal {
        Journal { table: self.table.clone(), owner: self.owner.clone(), held: self.held.clone() }
    }

    /// Why this run no longer holds the lock, if it does not (see `Journal::lost`).
    pub fn lost(&self) -> Option<String> {
        self.held.lost_at(now_secs())
    }

    /// Resources (`kind/name`) a dead holder was creating when it died: this run may adopt them.
    pub fn adoptable(&self) -> &[String] {
        &self.adoptable
    }
}

/// Breaks the lock whoever holds it; returns who held it.
pub async fn break_lock(clients: &Clients, pipeline: &str) -> Result<Option<String>, AwsError> {
    let table = Table { dynamodb: clients.dynamodb.clone(), pipeline: pipeline.to_string() };
    let Some(held) = table.current().await? else { return Ok(None) };
    clients
        .dynamodb
        .delete_item()
        .table_name(LOCK_TABLE)
        .set_key(Some(table.key()))
        .send()
        .await
        .map_err(|error| aws_error("lock", "DeleteItem", error))?;
    let mut text =
        format!("{} (`{}` since {}, lease until {})", held.holder, held.command, held.since, rfc3339(held.expires));
    if !held.creating.is_empty() {
        text.push_str(&format!(
            "; it was creating {}, which may exist untagged: tag them {PIPELINE_TAG}={pipeline} to adopt them",
            held.creating.join(", ")
        ));
    }
    Ok(Some(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A DynamoDB client answering from `rules` in order.
    fn dynamodb(rules: &[&aws_smithy_mocks::Rule]) -> aws_sdk_dynamodb::Client {
        let mut interceptor =
            aws_smithy_mocks::MockResponseInterceptor::new().rule_mode(aws_smithy_mocks::RuleMode::Sequential);
        for rule in rules {
            interceptor = interceptor.with_rule(rule);
        }
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("akid", "secret", None, None, "test"))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    fn not_found() -> aws_smithy_runtime_api::http::Response {
        let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#;
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(body),
        )
    }

    #[tokio::test]
    async fn a_new_lock_table_that_describe_table_does_not_find_yet_is_waited_for() {
        use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
        use aws_sdk_dynamodb::types::TableDescription;
        use aws_smithy_mocks::mock;
        let absent = mock!(aws_sdk_dynamodb::Client::describe_table).then_http_response(not_found);
        let create = mock!(aws_sdk_dynamodb::Client::create_table)
            .then_output(|| aws_sdk_dynamodb::operation::create_table::CreateTableOutput::builder().build());
        let not_yet = mock!(aws_sdk_dynamodb::Client::describe_table).then_http_response(not_found);
        let active = mock!(aws_sdk_dynamodb::Client::describe_table).then_output(|| {
            DescribeTableOutput::builder()
                .table(TableDescription::builder().table_status(TableStatus::Active).build())
                .build()
        });
        let table = Table { dynamodb: dynamodb(&[&absent, &create, &not_yet, &active]), pipeline: "p".into() };
        table.ensure(&Progress::new(false)).await.expect("the not-found right after CreateTable is waited out");
        assert_eq!((absent.num_calls(), create.num_calls(), not_yet.num_calls(), active.num_calls()), (1, 1, 1, 1));
    }

    #[tokio::test]
    async fn a_lock_table_that_vanishes_without_a_create_is_an_error() {
        use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
        use aws_sdk_dynamodb::types::TableDescription;
        use aws_smithy_mocks::mock;
        let creating = mock!(aws_sdk_dynamodb::Client::describe_table).then_output(|| {
            DescribeTableOutput::builder()
                .table(TableDescription::builder().table_status(TableStatus::Creating).build())
                .build()
        });
        let gone = mock!(aws_sdk_dynamodb::Client::describe_table).then_http_response(not_found);
        let table = Table { dynamodb: dynamodb(&[&creating, &gone]), pipeline: "p".into() };
        let error = table.ensure(&Progress::new(false)).await.expect_err("not a table this run created");
        assert!(error.has_code("ResourceNotFoundException"), "{error}");
    }

    #[test]
    fn a_lease_is_read_back_from_its_item() {
        let item = HashMap::from([
            ("owner".to_string(), s("abc")),
            ("holder".to_string(), s("ci@runner (pid 7)")),
            ("command".to_string(), s("apply")),
            ("since".to_string(), s("2026-11-22T02:00:00Z")),
            ("expires".to_string(), n(100)),
            ("creating".to_string(), AttributeValue::Ss(vec!["bucket/lake".to_string()])),
        ]);
        let lease = Lease::from_item(&item);
        assert_eq!((lease.owner.as_str(), lease.expires, lease.creating.len()), ("abc", 100, 1));
        let skew = MAX_CLOCK_SKEW.as_secs();
        assert!(lease.expired(101 + skew) && !lease.expired(100 + skew));
    }

    fn lease(expires: u64, host: Option<&str>, pid: Option<u32>) -> Lease {
        Lease {
            owner: "o".into(),
            holder: "ci@runner (pid 7)".into(),
            command: "apply".into(),
            since: "2026-11-22T02:00:00Z".into(),
            expires,
            creating: Vec::new(),
            host: host.map(str::to_string),
            pid,
        }
    }

    #[test]
    fn a_lease_is_taken_over_only_once_expired_by_more_than_the_clock_skew() {
        let skew = MAX_CLOCK_SKEW.as_secs();
        let running = |_| Some(true);
        assert_eq!(verdict(None, 1000, None, running), Verdict::Free);
        let held = lease(1000, None, None);
        assert_eq!(verdict(Some(&held), 1000, None, running), Verdict::Held);
        assert_eq!(verdict(Some(&held), 1000 + skew, None, running), Verdict::Held, "within the skew allowance");
        assert_eq!(verdict(Some(&held), 1001 + skew, None, running), Verdict::Expired);
    }

    #[test]
    fn a_lease_of_a_gone_process_of_this_host_is_taken_over_at_once_and_no_other() {
        let here = Some("build-7/boot-1/pid:[4026531836]");
        let gone = |_| Some(false);
        let mine = lease(5000, here, Some(42));
        assert_eq!(verdict(Some(&mine), 1000, here, gone), Verdict::HolderGone);
        // Its process still runs, or this host cannot tell: it waits for the lease.
        assert_eq!(verdict(Some(&mine), 1000, here, |_| Some(true)), Verdict::Held);
        assert_eq!(verdict(Some(&mine), 1000, here, |_| None), Verdict::Held);
        // Another host (or another boot, another process namespace), or no host written.
        assert_eq!(verdict(Some(&mine), 1000, Some("build-7/boot-2/pid:[4026531836]"), gone), Verdict::Held);
        assert_eq!(verdict(Some(&mine), 1000, None, gone), Verdict::Held);
        assert_eq!(verdict(Some(&lease(5000, None, Some(42))), 1000, here, gone), Verdict::Held);
    }

    #[test]
    fn a_holder_loses_its_lease_when_it_runs_out_by_its_own_clock_or_is_taken() {
        let held = Held::new(1000);
        assert_eq!(held.lost_at(999), None);
        assert!(held.lost_at(1000).is_some_and(|reason| reason.contains("ran out at")));
        let taken = Held::new(1000);
        taken.lose("another run took it over".to_string());
        taken.lose("later reason".to_string());
        assert_eq!(taken.lost_at(10).as_deref(), Some("another run took it over"), "the first reason stays");
    }

    #[test]
    fn the_item_carries_host_and_pid_and_the_grant_condition_names_the_pipelines_key() {
        let written = lease(100, Some("h/b/ns"), Some(42));
        let read = Lease::from_item(&lease_item("clk", &written));
        assert_eq!(read, written);
        assert_eq!(lease_item("clk", &written)["pipeline"], s("clk"));
        let condition = item_condition("clk");
        assert_eq!(condition["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"], serde_json::json!(["clk"]));
        assert_eq!(condition["Null"]["dynamodb:LeadingKeys"], "false");
    }

    #[test]
    fn the_lock_table_is_named_in_the_regions_partition() {
        assert_eq!(table_arn("aws-cn", "cn-north-1", "*"), "arn:aws-cn:dynamodb:cn-north-1:*:table/pipectl-locks");
    }

    #[test]
    fn owner_tokens_differ_and_times_read_as_rfc3339() {
        assert_ne!(owner_token(), owner_token());
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}

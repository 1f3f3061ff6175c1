//! The pipeline lock: two applies of one pipeline must not create the same resources. There is
//! no state file to lock, so the lock is a lease: one item per pipeline in the DynamoDB table
//! `pipectl-locks` of the pipeline's region (created on first use).
//!
//! - Acquired atomically: a conditional PutItem succeeds only when no item exists or the one
//!   there has expired. DynamoDB documents conditional writes as atomic, so of two runs racing
//!   for a free or expired lease exactly one wins.
//! - Held with an owner token and an expiry that the holder renews while it works; a holder that
//!   dies (SIGKILL, a lost CI runner) stops renewing, and once the lease has expired anyone may
//!   take it over — no host names or process ids are consulted.
//! - Released only by its owner (a DeleteItem conditioned on the token); `pipectl unlock`
//!   deletes it deliberately.
//! - The journal: creates that leave a resource untagged for a moment are noted on the item
//!   first, so a run that takes over a dead holder's lease adopts exactly those resources.
//!
//! Regional by construction (a DynamoDB table lives in one region), and it works for a
//! pipeline with no bucket and no roles. Expiry is judged by the clock of the run that reads it:
//! keep machines' clocks synchronised (the lease is a minute by default, far above usual skew).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus, Tag,
};

use super::{aws_error, build_error, AwsError, Clients};
use crate::names::{LOCK_TABLE, PIPELINE_TAG};
use crate::progress::Progress;

/// How long a lease lasts unless renewed; renewed every third of it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// The IAM actions of the lock's calls (the table created once with its tag, and the item's
/// reads and writes), which the deployer needs on `table_arn` to apply or destroy.
pub const ACTIONS: &[&str] = &[
    "dynamodb:DescribeTable",
    "dynamodb:CreateTable",
    "dynamodb:TagResource",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
];

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
}

impl Lease {
    fn from_item(item: &HashMap<String, AttributeValue>) -> Lease {
        let text = |key: &str| item.get(key).and_then(|value| value.as_s().ok()).cloned().unwrap_or_else(|| "?".into());
        Lease {
            owner: text("owner"),
            holder: text("holder"),
            command: text("command"),
            since: text("since"),
            expires: item.get("expires").and_then(|value| value.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0),
            creating: item.get("creating").and_then(|value| value.as_ss().ok()).cloned().unwrap_or_default(),
        }
    }

    fn expired(&self, now: u64) -> bool {
        self.expires < now
    }
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

    /// Writes `lease` if the item is absent, or (with `replacing`) if it is still exactly the
    /// expired lease of that owner. False when another run got there first.
    async fn put(&self, lease: &Lease, replacing: Option<&Lease>) -> Result<bool, AwsError> {
        let mut request = self
            .dynamodb
            .put_item()
            .table_name(LOCK_TABLE)
            .item("pipeline", s(&self.pipeline))
            .item("owner", s(&lease.owner))
            .item("holder", s(&lease.holder))
            .item("command", s(&lease.command))
            .item("since", s(&lease.since))
            .item("expires", n(lease.expires));
        request = match replacing {
            None => request.condition_expression("attribute_not_exists(#pipeline)"),
            Some(old) => request
                .condition_expression("#owner = :old_owner AND #expires < :now")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_names("#expires", "expires")
                .expression_attribute_values(":old_owner", s(&old.owner))
                .expression_attribute_values(":now", n(now_secs())),
        };
        if replacing.is_none() {
            request = request.expression_attribute_names("#pipeline", "pipeline");
        }
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
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let output = self
                .dynamodb
                .describe_table()
                .table_name(LOCK_TABLE)
                .send()
                .await
                .map_err(|error| aws_error("lock", "DescribeTable", error))?;
            if output.table().and_then(|table| table.table_status()) == Some(&TableStatus::Active) {
                return Ok(());
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
    lost: Arc<AtomicBool>,
}

/// The journal on a held lock: creates that leave a resource untagged for a moment (S3 and
/// Kinesis on endpoints that ignore tags at creation) are noted here first, so that after a
/// crash the next run adopts exactly those resources and nothing else.
#[derive(Debug, Clone)]
pub struct Journal {
    table: Table,
    owner: String,
}

impl Journal {
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
            Err(error) if is_condition_failure(&error) => Err(AwsError::new(
                resource,
                "UpdateItem",
                "this run no longer holds the pipeline's lock (its lease expired and another run took it)",
            )),
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
    let started = Instant::now();
    let mut adoptable = Vec::new();
    loop {
        let now = now_secs();
        let mine = Lease {
            owner: owner.clone(),
            holder: holder_label(),
            command: request.command.to_string(),
            since: rfc3339(now),
            expires: now + lease_secs,
            creating: Vec::new(),
        };
        let current = table.current().await?;
        let taken = match &current {
            None => table.put(&mine, None).await?,
            Some(other) if other.expired(now) => {
                let taken = table.put(&mine, Some(other)).await?;
                if taken {
                    progress.warn(&format!(
                        "took over the expired lock of {} (`{}` since {}; its lease ran out at {})",
                        other.holder,
                        other.command,
                        other.since,
                        rfc3339(other.expires)
                    ));
                    adoptable = other.creating.clone();
                }
                taken
            }
            Some(_) => false,
        };
        if taken {
            let lost = Arc::new(AtomicBool::new(false));
            let renewer = tokio::spawn(renew(table.clone(), owner.clone(), lease_secs, lost.clone(), progress.clone()));
            return Ok(Lock { table, owner, adoptable, renewer, lost });
        }
        // Read again: the lease may have changed hands since the read above.
        let holder = match table.current().await? {
            Some(holder) if !holder.expired(now_secs()) => holder,
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

/// Renews the lease every third of its length while the lock is held.
async fn renew(table: Table, owner: String, lease_secs: u64, lost: Arc<AtomicBool>, progress: Progress) {
    let every = Duration::from_secs((lease_secs / 3).max(1));
    loop {
        tokio::time::sleep(every).await;
        let renewed = table
            .update_owned("UpdateItem", &owner, "SET #expires = :until", vec![(":until", n(now_secs() + lease_secs))])
            .await;
        let renewed = match renewed {
            Ok(renewed) => renewed,
            // A failed renewal is retried at the next tick; the lease outlives two misses.
            Err(error) => {
                progress.warn(&format!("could not renew the pipeline's lock ({error}); retrying"));
                continue;
            }
        };
        if !renewed {
            lost.store(true, Ordering::SeqCst);
            progress.warn("the pipeline's lock was taken over by another run after its lease expired; this run no longer holds it");
            return;
        }
    }
}

impl Lock {
    /// Gives the lease back; only this run's own lease is deleted.
    pub async fn release(self) -> Result<(), AwsError> {
        self.renewer.abort();
        if self.lost.load(Ordering::SeqCst) {
            return Ok(());
        }
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
        Journal { table: self.table.clone(), owner: self.owner.clone() }
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
        assert!(lease.expired(101) && !lease.expired(100));
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

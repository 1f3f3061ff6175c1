//! The pipeline lock: two applies of one pipeline must not create the same resources. There is
//! no state file to lock, so the lock lives with the pipeline's resources: an IAM role named
//! `pipectl-lock-<pipeline>` under the pipeline's IAM path, which no one can assume. IAM role
//! names are unique, so CreateRole either takes the lock or says who holds it. A lock left by a
//! crashed run on this machine (its process is gone) is broken automatically; any other stale
//! lock is broken deliberately with `pipectl unlock`.

use std::time::{Duration, Instant};

use aws_sdk_iam::types::Tag;

use crate::aws::{aws_error, build_error, AwsError, Clients};
use crate::names::{role_path, PIPELINE_TAG};
use crate::progress::Progress;

const HOLDER_TAG: &str = "pipectl:lock-holder";
const SINCE_TAG: &str = "pipectl:lock-since";
const COMMAND_TAG: &str = "pipectl:lock-command";
/// Journal entries: `pipectl:creating:<kind>/<name>` on the lock while such a create is under way.
const CREATING_PREFIX: &str = "pipectl:creating:";

/// A trust policy that lets nobody assume the lock role.
const NOBODY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("pipeline `{pipeline}` is locked by {holder} (running `{command}` since {since}); wait for it to finish (or pass --lock-timeout), or if that run died, break the lock with `pipectl unlock -f {file}`")]
    Held { pipeline: String, holder: String, command: String, since: String, file: String },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// A held lock; `release` gives it back.
pub struct Lock {
    iam: aws_sdk_iam::Client,
    name: String,
    adoptable: Vec<String>,
}

/// The journal on a held lock: creates that leave a resource untagged for a moment (S3 and
/// Kinesis on endpoints that ignore tags at creation) are noted here first, so that after a
/// crash the next run adopts exactly those resources and nothing else.
#[derive(Debug, Clone)]
pub struct Journal {
    iam: aws_sdk_iam::Client,
    name: String,
}

impl Journal {
    /// Notes that `resource` (`kind/name`) is being created.
    pub async fn intend(&self, resource: &str) -> Result<(), AwsError> {
        let tag = Tag::builder()
            .key(format!("{CREATING_PREFIX}{resource}"))
            .value("1")
            .build()
            .map_err(|e| build_error(resource, "TagRole", e))?;
        self.iam
            .tag_role()
            .role_name(&self.name)
            .tags(tag)
            .send()
            .await
            .map_err(|error| aws_error(resource, "TagRole", error))?;
        Ok(())
    }

    /// `resource` carries its tags now.
    pub async fn done(&self, resource: &str) -> Result<(), AwsError> {
        self.iam
            .untag_role()
            .role_name(&self.name)
            .tag_keys(format!("{CREATING_PREFIX}{resource}"))
            .send()
            .await
            .map_err(|error| aws_error(resource, "UntagRole", error))?;
        Ok(())
    }
}

fn lock_name(pipeline: &str) -> String {
    format!("pipectl-lock-{pipeline}")
}

/// `host:pid` of this process.
fn holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".to_string());
    format!("{host}:{}", std::process::id())
}

/// True when the holder ran on this machine and its process is gone.
fn holder_is_dead(holder: &str) -> bool {
    let Some((host, pid)) = holder.rsplit_once(':') else { return false };
    let this_host = self::holder().rsplit_once(':').map(|(h, _)| h.to_string()).unwrap_or_default();
    host == this_host && pid.parse::<u32>().is_ok_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
}

/// Who holds the lock, and the creates it had under way.
struct Holder {
    holder: String,
    command: String,
    since: String,
    /// `kind/name` of each create under way.
    creating: Vec<String>,
}

/// Who holds the lock, or None when it is free.
async fn current(iam: &aws_sdk_iam::Client, name: &str) -> Result<Option<Holder>, AwsError> {
    match iam.get_role().role_name(name).send().await {
        Ok(output) => {
            let tags = output.role().map(|role| role.tags()).unwrap_or_default();
            let tag = |key: &str| {
                tags.iter().find(|t| t.key() == key).map_or_else(|| "?".to_string(), |t| t.value().to_string())
            };
            let creating =
                tags.iter().filter_map(|t| t.key().strip_prefix(CREATING_PREFIX)).map(str::to_string).collect();
            Ok(Some(Holder { holder: tag(HOLDER_TAG), command: tag(COMMAND_TAG), since: tag(SINCE_TAG), creating }))
        }
        Err(error) => aws_error("lock", "GetRole", error).unless("NoSuchEntity", None),
    }
}

async fn delete(iam: &aws_sdk_iam::Client, name: &str) -> Result<(), AwsError> {
    match iam.delete_role().role_name(name).send().await.map_err(|error| aws_error("lock", "DeleteRole", error)) {
        Err(error) if !error.has_code("NoSuchEntity") => Err(error),
        _ => Ok(()),
    }
}

/// Takes the pipeline's lock, waiting up to `wait` for another run to release it.
pub async fn acquire(
    clients: &Clients,
    pipeline: &str,
    command: &str,
    file: &str,
    wait: Duration,
    progress: &Progress,
) -> Result<Lock, LockError> {
    let iam = clients.iam.clone();
    let name = lock_name(pipeline);
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let tags = [
        (PIPELINE_TAG, pipeline.to_string()),
        (HOLDER_TAG, holder()),
        (COMMAND_TAG, command.to_string()),
        (SINCE_TAG, since),
    ]
    .into_iter()
    .map(|(key, value)| Tag::builder().key(key).value(value).build().map_err(|e| build_error("lock", "CreateRole", e)))
    .collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    let mut adoptable = Vec::new();
    loop {
        let created = iam
            .create_role()
            .role_name(&name)
            .path(format!("{}lock/", role_path(pipeline)))
            .assume_role_policy_document(NOBODY)
            .description("pipectl lock: a run of this pipeline is changing it")
            .set_tags(Some(tags.clone()))
            .send()
            .await
            .map_err(|error| aws_error("lock", "CreateRole", error));
        match created {
            Ok(_) => return Ok(Lock { iam, name, adoptable }),
            Err(error) if error.has_code("EntityAlreadyExists") => {}
            Err(error) => return Err(error.into()),
        }
        let Some(Holder { holder, command, since, creating }) = current(&iam, &name).await? else { continue };
        if holder_is_dead(&holder) {
            progress.warn(&format!(
                "breaking the lock of {holder}, a `{command}` run on this machine that is no longer running"
            ));
            adoptable = creating;
            delete(&iam, &name).await?;
            continue;
        }
        if started.elapsed() >= wait {
            return Err(LockError::Held {
                pipeline: pipeline.to_string(),
                holder,
                command,
                since,
                file: file.to_string(),
            });
        }
        progress.line(&format!("waiting for the lock held by {holder} (`{command}` since {since})"));
        tokio::time::sleep(
            Duration::from_secs(2).min(wait.saturating_sub(started.elapsed()).max(Duration::from_millis(100))),
        )
        .await;
    }
}

impl Lock {
    pub async fn release(self) -> Result<(), AwsError> {
        delete(&self.iam, &self.name).await
    }

    pub fn journal(&self) -> Journal {
        Journal { iam: self.iam.clone(), name: self.name.clone() }
    }

    /// Resources (`kind/name`) a crashed run was creating when it died: this run may adopt them.
    pub fn adoptable(&self) -> &[String] {
        &self.adoptable
    }
}

/// Breaks the lock whoever holds it; returns who held it.
pub async fn break_lock(clients: &Clients, pipeline: &str) -> Result<Option<String>, AwsError> {
    let name = lock_name(pipeline);
    let held = current(&clients.iam, &name).await?;
    if held.is_some() {
        delete(&clients.iam, &name).await?;
    }
    Ok(held.map(|Holder { holder, command, since, creating }| {
        let mut text = format!("{holder} (`{command}` since {since})");
        if !creating.is_empty() {
            text.push_str(&format!(
                "; it was creating {}, which may exist untagged: tag them to adopt them",
                creating.join(", ")
            ));
        }
        text
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_local_holder_is_stale_and_a_remote_one_is_not() {
        let this = holder();
        let host = this.rsplit_once(':').map(|(h, _)| h).unwrap_or_default();
        assert!(!holder_is_dead(&this), "this process is alive");
        assert!(holder_is_dead(&format!("{host}:4294967")), "no such pid");
        assert!(!holder_is_dead("some-other-host:1"), "another machine's process cannot be checked");
    }
}

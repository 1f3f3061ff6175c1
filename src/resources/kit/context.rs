//! What kinds are handed: `ReadContext` for the read phase (the clients, the pipeline, the
//! desired names, what the tag index and STS answered, shared by every kind) and `Context` for
//! apply (the clients, the AWS ids known so far, waiting and progress settings).

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::named::NamedKind;
use super::tag_index;
use super::wait::WaitOptions;
use crate::aws::{aws_error, AwsError, Clients, Warnings};
use crate::iam::Arns;
use crate::model::{DesiredResource, Kind, LiveState, ResourceId};
use crate::progress::Progress;
use crate::spec::Spec;

/// One answer several kinds' reads share, computed by whichever asks first.
type SharedAnswer = Arc<tokio::sync::OnceCell<Result<Arc<dyn Any + Send + Sync>, AwsError>>>;

/// What every kind's read needs.
pub struct ReadContext<'a> {
    pub clients: &'a Clients,
    pub pipeline: &'a str,
    /// Where the pipeline's role paths start (the spec's `iam.path`, see `names::role_path`).
    pub iam_path: &'a str,
    /// The desired graph: the names each kind looks up (empty for destroy).
    pub desired: &'a [DesiredResource],
    /// Resources a crashed run of this pipeline was creating: found untagged, they are adopted.
    pub adoptable: &'a [ResourceId],
    pub warnings: &'a Warnings,
    /// The pipeline's tagged resources as the tag index lists them, fetched once for all kinds
    /// (see `tag_index`).
    pub(super) tag_index: tokio::sync::OnceCell<Result<tag_index::TagIndex, AwsError>>,
    /// The types the tag index is asked for (each kind's that it serves).
    pub(super) indexed: &'a [&'static tag_index::Indexed],
    /// The account the plan reads in, asked of STS once for the plan and every kind whose ARNs
    /// need it (see `account_id`).
    account: tokio::sync::OnceCell<Result<String, AwsError>>,
    /// Answers that two kinds' reads share (see `shared`).
    shared: Mutex<HashMap<String, SharedAnswer>>,
}

impl<'a> ReadContext<'a> {
    /// A read of `pipeline` in which the tag index and the account are not asked for yet.
    pub fn new(
        clients: &'a Clients,
        pipeline: &'a str,
        iam_path: &'a str,
        desired: &'a [DesiredResource],
        adoptable: &'a [ResourceId],
        warnings: &'a Warnings,
    ) -> ReadContext<'a> {
        let (tag_index, account, shared) = Default::default();
        ReadContext {
            clients,
            pipeline,
            iam_path,
            desired,
            adoptable,
            warnings,
            tag_index,
            indexed: &[],
            account,
            shared,
        }
    }

    /// The same read, asking the tag index for `types`.
    pub fn with_tag_index(self, types: &'a [&'static tag_index::Indexed]) -> ReadContext<'a> {
        ReadContext { indexed: types, ..self }
    }
}

impl ReadContext<'_> {
    /// The account id (`sts:GetCallerIdentity`), read once however many kinds ask: the plan
    /// asks at its start, so a kind that builds an ARN from it waits for no extra round trip.
    pub async fn account_id(&self) -> Result<&str, AwsError> {
        match self.account.get_or_init(|| account_id(self.clients)).await {
            Ok(account) => Ok(account),
            Err(error) => Err(error.clone()),
        }
    }

    /// The answer of `fetch` under `key`, fetched once however many kinds ask: how two kinds
    /// that AWS lists in one call (a Glue database and its tables) share that call.
    pub async fn shared<T, F>(&self, key: &str, fetch: F) -> Result<Arc<T>, AwsError>
    where
        T: Any + Send + Sync,
        F: std::future::Future<Output = Result<T, AwsError>>,
    {
        let cell = {
            let mut shared = self.shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            shared.entry(key.to_string()).or_default().clone()
        };
        let answer = cell
            .get_or_init(|| async move { fetch.await.map(|value| Arc::new(value) as Arc<dyn Any + Send + Sync>) })
            .await
            .clone()?;
        answer.downcast::<T>().map_err(|_| AwsError::new(key, "read", "internal error: a shared read of another type"))
    }

    /// The desired resources of `kind`.
    pub fn desired_of(&self, kind: Kind) -> impl Iterator<Item = &DesiredResource> {
        self.desired.iter().filter(move |resource| resource.id.kind == kind)
    }

    /// The spec names of the desired resources of `kind`.
    pub fn names(&self, kind: Kind) -> Vec<String> {
        self.desired_of(kind).map(|resource| resource.id.name.clone()).collect()
    }

    /// The shared read of a kind addressed by name (see `named`).
    pub fn named(&self, kind: Kind, adopt_hint: &'static str) -> NamedKind<'_> {
        NamedKind { kind, pipeline: self.pipeline, spec_names: self.names(kind), adoptable: self.adoptable, adopt_hint }
    }
}

/// The account the credentials belong to (`sts:GetCallerIdentity`).
pub async fn account_id(clients: &Clients) -> Result<String, AwsError> {
    let output = clients
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|error| aws_error("account", "GetCallerIdentity", error))?;
    output.account().map(str::to_string).ok_or_else(|| AwsError::missing("account", "GetCallerIdentity", "Account"))
}

/// The apply context: clients, the physical ids known so far, waiting and progress settings.
pub struct Context {
    pub clients: Clients,
    pub pipeline: String,
    /// The IAM path of the pipeline's roles in this region (`Spec::role_path`), for their ARNs.
    pub roles_path: String,
    pub arns: Arns,
    pub wait: WaitOptions,
    pub progress: Progress,
    /// `apply --reset-scale`: return scaled groups to their baseline.
    pub reset_scale: bool,
    /// Where creates that cannot tag at once note what they are creating (the lock).
    pub journal: Option<crate::aws::lock::Journal>,
    physical_ids: Mutex<HashMap<ResourceId, String>>,
}

impl Context {
    pub fn new(clients: Clients, spec: &Spec, wait: WaitOptions, progress: Progress, live: &LiveState) -> Context {
        Context {
            arns: Arns::new(&live.account_id, &clients.region),
            roles_path: spec.role_path(&clients.region),
            clients,
            pipeline: spec.pipeline.clone(),
            wait,
            progress,
            reset_scale: false,
            journal: None,
            physical_ids: Mutex::new(live.physical_ids().into_iter().collect()),
        }
    }

    /// The AWS id of a resource created earlier in this run or found live.
    pub fn physical_id(&self, id: &ResourceId) -> Result<String, AwsError> {
        self.ids()
            .get(id)
            .cloned()
            .ok_or_else(|| AwsError::new(id, "resolve", "the resource does not exist yet (a dependency failed)"))
    }

    fn ids(&self) -> std::sync::MutexGuard<'_, HashMap<ResourceId, String>> {
        self.physical_ids.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes the AWS id of a resource this run created, for the resources that depend on it.
    pub fn record(&self, id: &ResourceId, physical_id: String) {
        self.ids().insert(id.clone(), physical_id);
    }

    /// Forgets a resource this run deleted.
    pub fn forget(&self, id: &ResourceId) {
        self.ids().remove(id);
    }

    /// Notes that `id` is about to be created untagged for a moment, so that a run that dies
    /// in that moment leaves something the next run can adopt.
    pub async fn intend(&self, id: &ResourceId) -> Result<(), AwsError> {
        match &self.journal {
            Some(journal) => journal.intend(&id.to_string()).await,
            None => Ok(()),
        }
    }

    /// `id` carries its tags now.
    pub async fn done(&self, id: &ResourceId) -> Result<(), AwsError> {
        match &self.journal {
            Some(journal) => journal.done(&id.to_string()).await,
            None => Ok(()),
        }
    }

    /// Replaces `${kind/name}` placeholders (ids unknown at plan time) with the AWS ids of the
    /// resources this apply has created or found.
    pub fn resolve_placeholders(&self, text: &str) -> Result<String, AwsError> {
        let ids = self.ids().iter().map(|(id, physical)| (id.to_string(), physical.clone())).collect();
        resolve(text, &ids)
    }
}

/// `text` with each `${kind/name}` that `ids` knows replaced by its AWS id; an unknown one that
/// names a resource is an error (a dependency failed), anything else is left as it is.
fn resolve(text: &str, ids: &HashMap<String, String>) -> Result<String, AwsError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let Some(end) = rest[start..].find('}') else { break };
        out.push_str(&rest[..start]);
        let inner = &rest[start + 2..start + end];
        match ids.get(inner) {
            Some(physical) => out.push_str(physical),
            None if names_a_resource(inner) => {
                return Err(AwsError::new(inner, "resolve", "the resource does not exist yet (a dependency failed)"))
            }
            None => out.push_str(&rest[start..=start + end]),
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// True for `kind/name`: a kind's name is lower-case letters and underscores, which no IAM policy
/// variable (`${aws:PrincipalTag/team}`) or other `${…}` text pipectl sends is.
fn names_a_resource(text: &str) -> bool {
    text.split_once('/').is_some_and(|(kind, name)| {
        !kind.is_empty() && !name.is_empty() && kind.chars().all(|c| c.is_ascii_lowercase() || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_resolve_to_known_ids_and_fail_for_missing_resources() {
        let ids = HashMap::from([("cluster/spark".to_string(), "j-1".to_string())]);
        assert_eq!(resolve("run on ${cluster/spark} now", &ids).unwrap(), "run on j-1 now");
        assert_eq!(resolve("${not a resource}", &ids).unwrap(), "${not a resource}");
        assert!(resolve("${cluster/other}", &ids).is_err());
        let variable = "arn:aws:s3:::lake/${aws:PrincipalTag/team}/*";
        assert_eq!(resolve(variable, &ids).unwrap(), variable, "IAM policy variables are not placeholders");
    }
}

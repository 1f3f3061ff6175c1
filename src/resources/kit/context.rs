//! What kinds are handed: `ReadContext` for the read phase (the clients, the pipeline, the
//! desired names, what the tag index and STS answered, shared by every kind) and `Context` for
//! apply (the clients, the AWS ids known so far, waiting and progress settings).

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::named::{NamedKind, Ownership};
use super::ownership::{may_take_over, ownership_conflict};
use super::tag_index;
use super::wait::WaitOptions;
use crate::aws::{aws_error, AwsError, Clients, Warnings};
use crate::iam::Arns;
use crate::model::{Binding, DesiredResource, Kind, LiveState, ResourceId};
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
    /// Resources a crashed run of this pipeline was creating (the journal of the lock this run
    /// took over, of the kinds that journal): a create that finds one of them untagged carries on.
    pub adoptable: Vec<ResourceId>,
    physical_ids: Mutex<HashMap<ResourceId, String>>,
    /// EC2 ids this run created, and when (see `fresh`).
    fresh: Mutex<HashMap<String, std::time::Instant>>,
    /// The registered kinds: a `${kind/name}` of one of them names a resource (see
    /// `resolve_placeholders`).
    kinds: Vec<Kind>,
}

impl Context {
    /// An apply of `spec` from `live`, among the registered `kinds`.
    pub fn new(
        clients: Clients,
        spec: &Spec,
        (wait, progress): (WaitOptions, Progress),
        live: &LiveState,
        kinds: Vec<Kind>,
    ) -> Context {
        Context {
            kinds,
            arns: Arns::new(&live.account_id, &clients.region),
            roles_path: spec.role_path(&clients.region),
            clients,
            pipeline: spec.pipeline.clone(),
            wait,
            progress,
            reset_scale: false,
            journal: None,
            adoptable: Vec::new(),
            physical_ids: Mutex::new(live.physical_ids().into_iter().collect()),
            fresh: Mutex::default(),
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

    pub(super) fn fresh_ids(&self) -> std::sync::MutexGuard<'_, HashMap<String, std::time::Instant>> {
        self.fresh.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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

    /// Why this run no longer holds the pipeline's lock, if it took one and lost it: the
    /// executor starts no further change then.
    pub fn lock_lost(&self) -> Option<String> {
        self.journal.as_ref().and_then(crate::aws::lock::Journal::lost)
    }

    /// `id` carries its tags now.
    pub async fn done(&self, id: &ResourceId) -> Result<(), AwsError> {
        match &self.journal {
            Some(journal) => journal.done(&id.to_string()).await,
            None => Ok(()),
        }
    }

    /// A create of `id` found its name taken (AlreadyExists, ResourceInUse and the like), and
    /// `found` is what the existing resource's tags say: it is carried on with only if it is
    /// this pipeline's, or untagged and named in the journal of a crashed run of the pipeline
    /// (`may_take_over`); anything else is refused, naming it and how to adopt it. A refused
    /// create is struck from this run's journal, so no later run adopts what it refused.
    /// `adopt_hint` says how to adopt one of the kind by hand (see `ownership_conflict`).
    pub async fn claim_existing(
        &self,
        id: &ResourceId,
        operation: &'static str,
        found: Ownership,
        adopt_hint: &str,
    ) -> Result<(), AwsError> {
        let refusal = match found {
            Ownership::Tagged(tags) if may_take_over(id, &tags, &self.pipeline, &self.adoptable) => return Ok(()),
            Ownership::Tagged(tags) => ownership_conflict(id, &tags, &self.pipeline, adopt_hint),
            Ownership::Unreadable(reason) => {
                format!("{id}: the name is taken by one pipectl cannot read ({reason}); pick another name")
            }
            Ownership::Absent => {
                format!("{id}: the name was reported taken, but nothing of that name is there now; run apply again")
            }
        };
        self.done(id).await?;
        Err(AwsError::new(id, operation, refusal))
    }

    /// Fills in the `${kind/name}` of resources unknown at plan time with the AWS ids of the
    /// resources this apply has created or found; one of a registered kind that does not exist
    /// (a dependency failed) is an error, and any other `${…}` (an IAM policy variable) is text.
    pub fn resolve_placeholders(&self, text: &str) -> Result<String, AwsError> {
        let binding = Binding::new(&self.arns.account_id, self.ids().iter());
        binding.fill(text, |inner| match inner.split_once('/') {
            Some((kind, _)) if self.kinds.iter().any(|known| known.as_str() == kind) => {
                Err(AwsError::new(inner, "resolve", "the resource does not exist yet (a dependency failed)"))
            }
            _ => Ok(()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_kinds;

    /// A create that found its name taken carries on only with the pipeline's own resource, or
    /// an untagged one the journal of a crashed run names; anything else is refused with how to
    /// adopt it.
    #[tokio::test]
    async fn a_create_carries_on_only_with_what_is_the_pipelines() {
        let live = LiveState::default();
        let mut ctx = crate::resources::test_support::context(
            crate::resources::test_support::clients(),
            std::time::Duration::from_millis(10),
            &live,
        );
        let bucket = ResourceId::new(test_kinds::named("bucket"), "lake");
        let tags = |pairs: &[(&str, &str)]| -> crate::model::Tags {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let pipeline = ctx.pipeline.clone();
        let ours = tags(&[(crate::model::PIPELINE_TAG, &pipeline), (crate::model::RESOURCE_TAG, "bucket/lake")]);
        assert!(ctx.claim_existing(&bucket, "CreateBucket", Ownership::Tagged(ours), "").await.is_ok());
        let other = tags(&[(crate::model::PIPELINE_TAG, "someone-else")]);
        let refused = ctx.claim_existing(&bucket, "CreateBucket", Ownership::Tagged(other), "").await.unwrap_err();
        assert!(refused.message.contains("belongs to pipeline `someone-else`"), "{}", refused.message);
        let mine_as_another =
            tags(&[(crate::model::PIPELINE_TAG, &pipeline), (crate::model::RESOURCE_TAG, "bucket/other")]);
        assert!(ctx.claim_existing(&bucket, "CreateBucket", Ownership::Tagged(mine_as_another), "").await.is_err());
        let untagged = ctx.claim_existing(&bucket, "CreateBucket", Ownership::Tagged(tags(&[])), " (HINT)").await;
        assert!(untagged.as_ref().is_err_and(|e| e.message.contains("not tagged") && e.message.contains("(HINT)")));
        ctx.adoptable = vec![bucket.clone()];
        assert!(ctx.claim_existing(&bucket, "CreateBucket", Ownership::Tagged(tags(&[])), "").await.is_ok());
        assert!(ctx.claim_existing(&bucket, "CreateBucket", Ownership::Unreadable("far".into()), "").await.is_err());
    }

    #[test]
    fn placeholders_resolve_to_known_ids_and_fail_for_missing_resources_of_a_registered_kind() {
        let cluster = test_kinds::named("cluster");
        let live = LiveState::default();
        let mut ctx = crate::resources::test_support::context(
            crate::resources::test_support::clients(),
            std::time::Duration::from_millis(10),
            &live,
        );
        ctx.kinds = vec![cluster];
        ctx.record(&ResourceId::new(cluster, "spark"), "j-1".to_string());
        assert_eq!(ctx.resolve_placeholders("run on ${cluster/spark} now").unwrap(), "run on j-1 now");
        assert!(ctx.resolve_placeholders("${cluster/other}").is_err());
        // Not a resource: an IAM policy variable, a kind pipectl does not have, no kind at all.
        for text in ["arn:aws:s3:::lake/${aws:PrincipalTag/team}/*", "--env ${env/prod}", "${not a resource}"] {
            assert_eq!(ctx.resolve_placeholders(text).unwrap(), text);
        }
    }
}

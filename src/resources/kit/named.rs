//! The read algorithm every kind addressed by name shares (buckets, streams, deliveries, roles,
//! clusters): look up the spec's names and sort each into found (ours, or left untagged by a
//! crashed run of ours) or conflict (someone else's); then inspect the other names a kind lists
//! (what the tag index names, see `tag_index`, or every name of the account where the endpoint
//! does not index the kind), a few at a time, keeping those whose own tags say they are ours.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use futures::stream::{self, StreamExt};
use tokio::sync::OnceCell;

use super::{adopt, owned_by, ownership_conflict, AwsError, LiveResource, Tags};
use crate::model::{Kind, LiveDetail, ResourceId};

/// What looking up a name's tags found.
pub enum Ownership {
    Absent,
    Tagged(Tags),
    /// It exists but pipectl cannot read it (another account, another region): the reason.
    Unreadable(String),
}

/// The most tags Kinesis' ListTagsForStream and Firehose's ListTagsForDeliveryStream return in
/// one answer ("Valid Range: Minimum value of 1. Maximum value of 50", `Limit`); without a
/// `Limit` an endpoint may answer fewer, and says so with `HasMoreTags`.
pub const TAGS_PER_PAGE: i32 = 50;

/// Every tag of a resource whose listing pages by key (Kinesis, Firehose): `page` is called with
/// the key to start after (`ExclusiveStartTagKey`, none at first) and answers one page of tags
/// and whether more follow (`HasMoreTags`); the next page starts after the last key returned.
/// Reading only the first page would miss tags past it, pipectl's ownership tags among them.
pub async fn tags_paged_by_key<Page, Answer>(
    resource: &str,
    operation: &'static str,
    mut page: Page,
) -> Result<Tags, AwsError>
where
    Page: FnMut(Option<String>) -> Answer,
    Answer: Future<Output = Result<(Vec<(String, String)>, bool), AwsError>>,
{
    let mut tags = Tags::new();
    let mut start: Option<String> = None;
    loop {
        let (found, more) = page(start.clone()).await?;
        let last = found.last().map(|(key, _)| key.clone());
        let before = tags.len();
        tags.extend(found);
        match (more, last) {
            // An answer that brings no new key would be asked again forever.
            (true, Some(_)) if tags.len() == before => {
                return Err(AwsError::new(
                    resource,
                    operation,
                    format!("the tag listing repeats itself after `{}`", start.unwrap_or_default()),
                ))
            }
            (true, Some(last)) => start = Some(last),
            _ => return Ok(tags),
        }
    }
}

/// What a kind's read found: its resources, and the spec's names taken by someone else.
#[derive(Default, Clone)]
pub struct NamedRead {
    pub found: Vec<LiveResource>,
    pub conflicts: Vec<String>,
}

impl NamedRead {
    /// Resources found by a pipeline tag filter, where no name can be in anyone else's way.
    pub fn found(found: Vec<LiveResource>) -> NamedRead {
        NamedRead { found, conflicts: Vec::new() }
    }
}

/// How one name-addressed kind is read.
pub struct NamedKind<'a> {
    pub kind: Kind,
    pub pipeline: &'a str,
    pub spec_names: Vec<String>,
    /// Resources a crashed run of this pipeline was creating (from its lock's journal).
    pub adoptable: &'a [ResourceId],
    /// How to adopt a resource of this kind by hand, e.g. ` (aws kinesis add-tags-to-stream)`.
    pub adopt_hint: &'a str,
}

/// How many resources the spec does not name are inspected at once (and how many tag reads of
/// a listed kind are in flight at once).
pub const AT_ONCE: usize = 16;

/// One read per name that both closures of a named read need (the resource itself: whether it
/// exists, and what it holds): the first to ask sends it, the other waits for that answer, so
/// ownership and configuration cost one request for it, not two.
pub struct SharedReads<T>(Mutex<HashMap<String, Arc<SharedRead<T>>>>);

/// The answer to one shared read, once it has come.
type SharedRead<T> = OnceCell<Result<T, AwsError>>;

impl<T> Default for SharedReads<T> {
    fn default() -> Self {
        SharedReads(Mutex::default())
    }
}

impl<T: Clone> SharedReads<T> {
    /// The answer of `read` for `name`, sent once whoever asks first.
    pub async fn get<F>(&self, name: &str, read: impl FnOnce() -> F) -> Result<T, AwsError>
    where
        F: Future<Output = Result<T, AwsError>>,
    {
        let cell = self.0.lock().unwrap_or_else(PoisonError::into_inner).entry(name.to_string()).or_default().clone();
        cell.get_or_init(read).await.clone()
    }
}

impl NamedKind<'_> {
    /// Reads the spec's names with `ownership` and `config` (both at once), and inspects the
    /// other names in `listed` with `ownership`, reading `config` only of the pipeline's own.
    /// `config(name, discovered)` returns None when the resource vanished in between.
    pub async fn read<L, O, OFut, C, CFut, LFut>(
        &self,
        listed: LFut,
        ownership: O,
        config: C,
    ) -> Result<NamedRead, AwsError>
    where
        L: LiveDetail,
        O: Fn(String) -> OFut,
        OFut: Future<Output = Result<Ownership, AwsError>>,
        C: Fn(String, bool) -> CFut,
        CFut: Future<Output = Result<Option<L>, AwsError>>,
        LFut: Future<Output = Result<Vec<String>, AwsError>>,
    {
        let named = futures::future::try_join_all(self.spec_names.iter().map(|name| {
            let (ownership, config) = (&ownership, &config);
            async move {
                let (ownership, config) = tokio::join!(ownership(name.clone()), config(name.clone(), false));
                Ok::<_, AwsError>((name, ownership?, config))
            }
        }));
        let (named, listed) = tokio::join!(named, listed);
        let mut result = NamedRead::default();
        for (name, ownership, config) in named? {
            let id = ResourceId::new(self.kind, name.as_str());
            match ownership {
                Ownership::Absent => {}
                Ownership::Unreadable(reason) => result.conflicts.push(format!(
                    "{id}: the name is taken by a {} pipectl cannot read ({reason}); pick another name",
                    self.kind.as_str()
                )),
                Ownership::Tagged(tags) if owned_by(&tags, self.pipeline) || adopt(&id, &tags, self.adoptable) => {
                    if let Some(live) = config? {
                        result.found.push(LiveResource::new(id, name.as_str(), tags, live));
                    }
                }
                Ownership::Tagged(tags) => {
                    result.conflicts.push(ownership_conflict(&id, &tags, self.pipeline, self.adopt_hint))
                }
            }
        }
        let others: Vec<String> = listed?.into_iter().filter(|name| !self.spec_names.contains(name)).collect();
        let inspected: Vec<Result<Option<LiveResource>, AwsError>> = stream::iter(others)
            .map(|name| {
                let (ownership, config) = (&ownership, &config);
                async move {
                    let id = ResourceId::new(self.kind, name.as_str());
                    match ownership(name.clone()).await? {
                        // The tags read here, not the index that named the resource, decide.
                        Ownership::Tagged(tags)
                            if owned_by(&tags, self.pipeline) || adopt(&id, &tags, self.adoptable) =>
                        {
                            Ok(config(name.clone(), true).await?.map(|live| LiveResource::new(id, name, tags, live)))
                        }
                        _ => Ok(None),
                    }
                }
            })
            .buffer_unordered(AT_ONCE)
            .collect()
            .await;
        for resource in inspected {
            result.found.extend(resource?);
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paged_tags_are_merged_and_each_page_starts_after_the_last_key() {
        let pages = Mutex::new(Vec::new());
        let tags = tags_paged_by_key("stream/s", "ListTagsForStream", |start| {
            pages.lock().unwrap_or_else(PoisonError::into_inner).push(start.clone());
            async move {
                Ok(match start.as_deref() {
                    None => (vec![("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())], true),
                    Some("b") => (vec![("c".to_string(), "3".to_string())], false),
                    Some(other) => panic!("a page started after `{other}`"),
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(tags.keys().map(String::as_str).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(*pages.lock().unwrap(), [None, Some("b".to_string())]);
    }

    #[tokio::test]
    async fn a_listing_that_repeats_itself_is_an_error_not_a_loop() {
        let answer = tags_paged_by_key("stream/s", "ListTagsForStream", |_| async {
            Ok((vec![("a".to_string(), "1".to_string())], true))
        })
        .await;
        let error = answer.expect_err("a listing that never advances");
        assert!(error.to_string().contains("stream/s"), "{error}");
    }
}

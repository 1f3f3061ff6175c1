//! Bringing a resource's tags to the spec's through its service's own untag and tag calls. Glue,
//! Athena, CloudWatch and SNS take the same two steps — remove the keys the spec no longer has,
//! then set the tags that are new or changed — and differ only in the SDK call, which each kind
//! passes in.
//!
//! How many tags one call takes (issue 27): Kinesis `AddTagsToStream` and `RemoveTagsFromStream`
//! ten (`stream::TAGS_PER_CALL`, sent in `batches`); every other tag call pipectl makes —
//! Firehose `TagDeliveryStream`, EMR `AddTags`, EC2 `CreateTags`, IAM `TagRole`, SQS `TagQueue`,
//! SNS, Step Functions, Scheduler, CloudWatch, Glue and Athena `TagResource` — takes the 50 a
//! resource may carry, which validation guarantees for the merged set (`spec::tag_limits`), and
//! S3 `PutBucketTagging` replaces the whole set (the bucket kind sends it whole).

use std::future::Future;

use super::AwsError;
use crate::names::Tags;

/// Makes `live` tags `desired`: `untag` gets the stale keys (if any), then `tag` the tags that
/// are missing or have another value (if any). Neither is called when the tags already match.
pub async fn retag<Untag, Tag>(
    live: &Tags,
    desired: &Tags,
    untag: impl FnOnce(Vec<String>) -> Untag,
    tag: impl FnOnce(Tags) -> Tag,
) -> Result<(), AwsError>
where
    Untag: Future<Output = Result<(), AwsError>>,
    Tag: Future<Output = Result<(), AwsError>>,
{
    let stale: Vec<String> = live.keys().filter(|key| !desired.contains_key(*key)).cloned().collect();
    if !stale.is_empty() {
        untag(stale).await?;
    }
    let changed: Tags = desired
        .iter()
        .filter(|(key, value)| live.get(*key) != Some(*value))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !changed.is_empty() {
        tag(changed).await?;
    }
    Ok(())
}

/// `tags` in maps of at most `size` tags, for tag calls that take only so many at once
/// (Kinesis: 10). Empty tags give no batch.
pub fn batches(tags: &Tags, size: usize) -> Vec<Tags> {
    let pairs: Vec<(&String, &String)> = tags.iter().collect();
    pairs.chunks(size.max(1)).map(|chunk| chunk.iter().map(|(k, v)| ((*k).clone(), (*v).clone())).collect()).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[tokio::test]
    async fn stale_keys_go_changed_tags_are_set_and_matching_tags_cost_nothing() {
        let calls = Mutex::new(Vec::new());
        let record = |what: String| {
            calls.lock().unwrap().push(what);
            async { Ok(()) }
        };
        let live = tags(&[("keep", "1"), ("old", "x"), ("team", "a")]);
        let desired = tags(&[("keep", "1"), ("team", "b"), ("new", "y")]);
        retag(&live, &desired, |stale| record(format!("untag {stale:?}")), |set| record(format!("tag {set:?}")))
            .await
            .unwrap();
        assert_eq!(
            *calls.lock().unwrap(),
            ["untag [\"old\"]", "tag {\"new\": \"y\", \"team\": \"b\"}"],
            "only what differs"
        );
        calls.lock().unwrap().clear();
        retag(&desired, &desired, |stale| record(format!("untag {stale:?}")), |set| record(format!("tag {set:?}")))
            .await
            .unwrap();
        assert!(calls.lock().unwrap().is_empty());
    }

    #[test]
    fn twelve_tags_go_in_batches_of_ten_and_two() {
        let twelve: Tags = (0..12).map(|i| (format!("k{i:02}"), "v".to_string())).collect();
        let sizes: Vec<usize> = batches(&twelve, 10).iter().map(Tags::len).collect();
        assert_eq!(sizes, [10, 2]);
        assert_eq!(batches(&twelve, 10).into_iter().flatten().collect::<Tags>(), twelve, "every tag once");
        assert!(batches(&Tags::new(), 10).is_empty());
    }
}

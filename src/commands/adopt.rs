//! `pipectl adopt`: taking an existing resource with a name the spec uses as the pipeline's own,
//! on purpose, instead of tagging it by hand with the AWS CLI.
//!
//! Finding it reuses the read every run does: a resource named in `adoptable` and carrying no
//! `pipectl:pipeline` tag at all is read as the pipeline's (the same rule that adopts what a
//! crashed run was creating), while one tagged by another pipeline stays a conflict and is never
//! adopted. Adopting adds exactly the two ownership tags and keeps every other tag; the next
//! `plan` then shows what converging it to the spec changes.
//!
//! Only kinds read by name honour adoption (buckets, streams, deliveries and the dead-letter
//! queue); EC2 resources are found by the pipeline's tag alone and have no name to adopt by.

use crate::aws::{aws_error, build_error, AwsError, Clients};
use crate::model::{DesiredResource, LiveResource, LiveState, ResourceId, Tags, PIPELINE_TAG, RESOURCE_TAG};
use crate::resources::parse_id;

/// The kinds `adopt` can tag.
pub const ADOPTABLE_KINDS: &[&str] = &["bucket", "stream", "delivery", "queue"];

/// The ids a request names: `kind/name` of the spec, or with `None` (`--all`) every resource of
/// an adoptable kind the spec asks for.
pub fn requested(request: Option<&str>, desired: &[DesiredResource]) -> Result<Vec<ResourceId>, String> {
    let Some(text) = request else {
        return Ok(desired
            .iter()
            .map(|resource| resource.id.clone())
            .filter(|id| ADOPTABLE_KINDS.contains(&id.kind.as_str()))
            .collect());
    };
    let id = parse_id(text).ok_or_else(|| {
        format!("`{text}` is not a resource: write kind/name as plans show it, e.g. bucket/clickstream-lake")
    })?;
    if !ADOPTABLE_KINDS.contains(&id.kind.as_str()) {
        return Err(format!(
            "{id} cannot be adopted: pipectl adopt takes {} (pipectl finds the others by the pipeline's tag, so they have no name to adopt by)",
            ADOPTABLE_KINDS.join(", ")
        ));
    }
    if !desired.iter().any(|resource| resource.id == id) {
        return Err(format!("{id} is not in the spec: only a resource the spec asks for can be adopted"));
    }
    Ok(vec![id])
}

/// The conflicts of the read that concern the requested ids: a resource of another pipeline,
/// or one pipectl cannot read. Those are never adopted.
pub fn blocking<'a>(conflicts: &'a [String], requested: &[ResourceId]) -> Vec<&'a String> {
    conflicts
        .iter()
        .filter(|conflict| {
            requested.iter().any(|id| {
                let id = id.to_string();
                conflict.strip_prefix(id.as_str()).is_some_and(|rest| rest.starts_with(' ') || rest.starts_with(':'))
            })
        })
        .collect()
}

/// The requested resources the read found without the pipeline's tag: the ones to adopt.
pub fn candidates(live: &LiveState, requested: &[ResourceId]) -> Vec<ResourceId> {
    requested
        .iter()
        .filter(|id| live.resources.get(*id).is_some_and(|resource| !resource.tags.contains_key(PIPELINE_TAG)))
        .cloned()
        .collect()
}

/// The tags `live` carries once adopted: its own, plus the two ownership tags.
pub fn adopted_tags(live: &LiveResource, pipeline: &str) -> Tags {
    let mut tags = live.tags.clone();
    tags.insert(PIPELINE_TAG.to_string(), pipeline.to_string());
    tags.insert(RESOURCE_TAG.to_string(), live.id.to_string());
    tags
}

/// `live` as it will be after adopting `ids`, so that a plan built from it is the next plan.
pub fn assume_adopted(live: &mut LiveState, pipeline: &str, ids: &[ResourceId]) {
    for id in ids {
        if let Some(resource) = live.resources.get_mut(id) {
            resource.tags = adopted_tags(resource, pipeline);
        }
    }
    live.describe();
}

/// Adds the ownership tags to one resource, keeping its other tags.
pub async fn tag(clients: &Clients, live: &LiveResource, pipeline: &str) -> Result<(), AwsError> {
    let id = &live.id;
    let name = live.physical_id.as_str();
    let ownership = [(PIPELINE_TAG, pipeline.to_string()), (RESOURCE_TAG, id.to_string())];
    match id.kind.as_str() {
        "bucket" => tag_bucket(&clients.s3, live, pipeline).await?,
        "stream" => {
            // AddTagsToStream adds or overwrites the given tags only, up to 10 per call.
            let mut request = clients.kinesis.add_tags_to_stream().stream_name(name);
            for (key, value) in ownership {
                request = request.tags(key, value);
            }
            request.send().await.map_err(|error| aws_error(id, "AddTagsToStream", error))?;
        }
        "delivery" => {
            // TagDeliveryStream adds or updates the given tags only, up to 50 per call.
            let tags = ownership
                .iter()
                .map(|(key, value)| aws_sdk_firehose::types::Tag::builder().key(*key).value(value).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|error| build_error(id, "TagDeliveryStream", error))?;
            clients
                .firehose
                .tag_delivery_stream()
                .delivery_stream_name(name)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|error| aws_error(id, "TagDeliveryStream", error))?;
        }
        "queue" => {
            // TagQueue adds or overwrites the given tags only; it takes the queue's URL.
            let url = live
                .detail::<crate::resources::queue::Live>()
                .map(|queue| queue.url.clone())
                .ok_or_else(|| AwsError::new(id, "TagQueue", "internal error: the queue was read without its URL"))?;
            let mut request = clients.sqs.tag_queue().queue_url(url);
            for (key, value) in ownership {
                request = request.tags(key, value);
            }
            request.send().await.map_err(|error| aws_error(id, "TagQueue", error))?;
        }
        _ => return Err(AwsError::new(id, "adopt", "internal error: not a kind pipectl adopt can tag")),
    }
    Ok(())
}

/// PutBucketTagging "will overwrite any current tags the bucket already has" (Amazon S3 API
/// Reference, PutBucketTagging): it is sent the tags read, plus ours.
async fn tag_bucket(s3: &aws_sdk_s3::Client, live: &LiveResource, pipeline: &str) -> Result<(), AwsError> {
    let id = &live.id;
    let tag_set = adopted_tags(live, pipeline)
        .iter()
        .map(|(key, value)| aws_sdk_s3::types::Tag::builder().key(key).value(value).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| build_error(id, "PutBucketTagging", error))?;
    let tagging = aws_sdk_s3::types::Tagging::builder()
        .set_tag_set(Some(tag_set))
        .build()
        .map_err(|error| build_error(id, "PutBucketTagging", error))?;
    s3.put_bucket_tagging()
        .bucket(&live.physical_id)
        .tagging(tagging)
        .send()
        .await
        .map_err(|error| aws_error(id, "PutBucketTagging", error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_conflicts_of_the_requested_ids_block() {
        let conflicts = vec![
            "bucket/lake already exists but it belongs to pipeline `other`; …".to_string(),
            "bucket/lake-2 already exists but it is not tagged as managed by pipectl; …".to_string(),
            "queue/schedules-dlq: the SQS queue p-schedules-dlq already exists but …".to_string(),
        ];
        let lake = parse_id("bucket/lake").unwrap();
        let queue = parse_id("queue/schedules-dlq").unwrap();
        assert_eq!(blocking(&conflicts, &[lake]), [&conflicts[0]]);
        assert_eq!(blocking(&conflicts, &[queue]), [&conflicts[2]]);
    }

    #[test]
    fn a_request_must_name_an_adoptable_resource_of_the_spec() {
        let spec = crate::spec::SpecBuilder::new().subnet("a", "10.0.0.0/24", true).build();
        let graph = crate::resources::desired_graph(
            &spec,
            &crate::iam::Arns::new("123456789012", "eu-west-1"),
            &Default::default(),
        );
        let error = requested(Some("subnet/a"), &graph).unwrap_err();
        assert!(error.starts_with("subnet/a cannot be adopted: pipectl adopt takes bucket, stream"), "{error}");
        let error = requested(Some("bucket/nope"), &graph).unwrap_err();
        assert!(error.starts_with("bucket/nope is not in the spec"), "{error}");
        assert!(requested(Some("lake"), &graph).unwrap_err().starts_with("`lake` is not a resource"));
        assert!(requested(None, &graph).unwrap().iter().all(|id| ADOPTABLE_KINDS.contains(&id.kind.as_str())));
    }

    #[derive(Debug)]
    struct Found;

    impl crate::model::LiveDetail for Found {
        fn describe(&self, _: &str, _: &crate::model::Names) -> (crate::model::Attributes, Vec<ResourceId>) {
            Default::default()
        }
    }

    /// An S3 client answering from `rules` (the SDK's `test-util` feature is not enabled for S3).
    fn s3_client(rules: &[&aws_smithy_mocks::Rule]) -> aws_sdk_s3::Client {
        let mut interceptor =
            aws_smithy_mocks::MockResponseInterceptor::new().rule_mode(aws_smithy_mocks::RuleMode::MatchAny);
        for rule in rules {
            interceptor = interceptor.with_rule(rule);
        }
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new("akid", "secret", None, None, "test"))
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    #[tokio::test]
    async fn a_bucket_keeps_its_own_tags_since_put_bucket_tagging_replaces_the_set() {
        let put = aws_smithy_mocks::mock!(aws_sdk_s3::Client::put_bucket_tagging)
            .match_requests(|request| {
                let tags: Vec<(&str, &str)> = request
                    .tagging()
                    .map(|tagging| tagging.tag_set().iter().map(|tag| (tag.key(), tag.value())).collect())
                    .unwrap_or_default();
                request.bucket() == Some("lake")
                    && tags
                        == [("owner", "data-team"), ("pipectl:pipeline", "demo"), ("pipectl:resource", "bucket/lake")]
            })
            // PutBucketTagging answers 204 No Content with an empty body.
            .then_output(|| aws_sdk_s3::operation::put_bucket_tagging::PutBucketTaggingOutput::builder().build());
        let s3 = s3_client(&[&put]);
        let tags = Tags::from([("owner".to_string(), "data-team".to_string())]);
        let live = LiveResource::new(parse_id("bucket/lake").unwrap(), "lake", tags, Found);
        tag_bucket(&s3, &live, "demo").await.unwrap();
        assert_eq!(put.num_calls(), 1);
    }
}

//! How a plan finds the pipeline's resources that the spec no longer names, at the cost of the
//! pipeline rather than of the account: one paginated `tag:GetResources` per region, filtered by
//! `pipectl:pipeline=<pipeline>` and by the resource types of the kinds the index serves (each
//! declares its `Indexed` type, `ResourceKind::INDEXED`: today buckets, streams and deliveries),
//! instead of reading the tags of every resource of those kinds in the account.
//!
//! The index is eventually consistent ("Resource Groups Tagging API", GetResources: it returns
//! resources "tagged or previously tagged", and tags reach it after a delay), so it only says
//! *where to look*: every resource it names is read directly, and its tags on that read decide
//! ownership. What it may miss for a while is a resource tagged seconds ago; the spec's own names
//! are read directly whatever the index says, and so are the names a crashed run's journal holds
//! (`adoptable`), which were created untagged and which no tag index can list.
//!
//! Endpoints other than AWS index few kinds (moto serves S3 and Firehose, not Kinesis;
//! LocalStack none of the three) and answer with an empty list rather than an error for the rest.
//! There, a kind the index lists nothing of is scanned the old way, and stderr says so once.

use std::collections::BTreeMap;
use std::future::Future;

use aws_sdk_resourcegroupstagging::types::TagFilter;

use super::{aws_error, AwsError, Clients, Grant, GrantContext, ReadContext, Scope};
use crate::model::{Kind, PIPELINE_TAG};

/// A resource type the index serves on AWS, and how its ARNs carry the name pipectl uses.
pub struct Indexed {
    /// The `ResourceTypeFilters` entry (`service[:resourceType]`).
    filter: &'static str,
    /// The ARN's service and the prefix of its resource part before the name.
    service: &'static str,
    prefix: &'static str,
}

impl Indexed {
    /// A type of the index: its `ResourceTypeFilters` entry, and the service and resource prefix
    /// of its ARNs (`kinesis`, `stream/`).
    pub const fn new(filter: &'static str, service: &'static str, prefix: &'static str) -> Indexed {
        Indexed { filter, service, prefix }
    }

    /// The name in `arn` if it is an ARN of this type; another type's, or a sub-resource's
    /// (`stream/<name>/consumer/…`), is not.
    fn name_in<'a>(&self, arn: &'a str) -> Option<&'a str> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, _, service, region, account, resource] = parts.as_slice() else { return None };
        if *service != self.service || (self.prefix.is_empty() && !(region.is_empty() && account.is_empty())) {
            return None;
        }
        resource.strip_prefix(self.prefix).filter(|name| !name.is_empty() && !name.contains('/'))
    }
}

/// What the index holds of the pipeline, by type filter.
#[derive(Debug, Default)]
pub struct TagIndex(BTreeMap<&'static str, Vec<String>>);

impl TagIndex {
    fn names(&self, indexed: &Indexed) -> &[String] {
        self.0.get(indexed.filter).map(Vec::as_slice).unwrap_or_default()
    }
}

/// One paginated round of GetResources (100 resources a page, the most it allows) for every
/// indexed type at once.
pub async fn fetch(clients: &Clients, pipeline: &str, types: &[&'static Indexed]) -> Result<TagIndex, AwsError> {
    let mut index = TagIndex::default();
    let mut token: Option<String> = None;
    loop {
        let page = clients
            .tagging
            .get_resources()
            .tag_filters(TagFilter::builder().key(PIPELINE_TAG).values(pipeline).build())
            .set_resource_type_filters(Some(types.iter().map(|indexed| indexed.filter.to_string()).collect()))
            .resources_per_page(100)
            .set_pagination_token(token.take())
            .send()
            .await
            .map_err(|error| aws_error("tag index", "GetResources", error))?;
        for arn in page.resource_tag_mapping_list().iter().filter_map(|mapping| mapping.resource_arn()) {
            for indexed in types {
                if let Some(name) = indexed.name_in(arn) {
                    index.0.entry(indexed.filter).or_default().push(name.to_string());
                }
            }
        }
        // The last page's token is empty (GetResources, "PaginationToken").
        match page.pagination_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(index),
        }
    }
}

impl ReadContext<'_> {
    /// The names of `kind` to inspect besides the spec's: what the tag index lists, and what a
    /// crashed run's journal names; or, where the endpoint's index does not serve the kind,
    /// every name `scan` lists (said once on stderr).
    pub async fn discover<S>(&self, kind: Kind, indexed: &Indexed, scan: S) -> Result<Vec<String>, AwsError>
    where
        S: Future<Output = Result<Vec<String>, AwsError>>,
    {
        let index = self.tag_index.get_or_init(|| fetch(self.clients, self.pipeline, self.indexed)).await;
        let listed = match index {
            Ok(index) if !self.clients.emulated || !index.names(indexed).is_empty() => index.names(indexed),
            Ok(_) => {
                // One line for every kind it happens to: emulators index few kinds, and a new
                // pipeline has nothing indexed yet.
                self.warnings.note(
                    "the endpoint's tag index (tag:GetResources) lists nothing of this pipeline for some kinds (emulators index few): for those, the tags of every resource of the kind in the account are read instead",
                );
                return scan.await;
            }
            Err(error) if self.clients.emulated => {
                self.warnings.note(&format!(
                    "the endpoint does not serve tag:GetResources ({}): the tags of every resource of the kinds it would list are read instead",
                    error.message
                ));
                return scan.await;
            }
            Err(error) => return Err(error.clone()),
        };
        let mut names = listed.to_vec();
        let journal = self.adoptable.iter().filter(|id| id.kind == kind).map(|id| id.name.clone());
        names.extend(journal.filter(|name| !listed.contains(name)));
        Ok(names)
    }
}

/// What `fetch` needs: `tag:GetResources` supports no resource-level permissions (Service
/// Authorization Reference, "Resource Groups Tagging API"), and it returns ARNs and tags only,
/// never the resources' contents.
pub fn grants() -> Vec<Grant> {
    vec![Grant::unscoped_reads(&["tag:GetResources"])]
}

/// What a kind the index serves needs for its resources that the spec no longer names, which no
/// ARN of the spec reaches: `read` (a plan's) and `delete` on `any` resource of its type that
/// carries the pipeline's tag, as the statement `sid`. Only for a resource type whose service
/// evaluates `aws:ResourceTag/${TagKey}` for those actions (the kind cites where AWS says so).
pub fn dropped_grants(
    ctx: &GrantContext,
    sid: &'static str,
    any: String,
    read: &[&'static str],
    delete: &[&'static str],
) -> Vec<Grant> {
    vec![
        Grant::new(sid, Scope::Plan, read, vec![any.clone()]).when(ctx.tagged()),
        Grant::new(sid, Scope::Destroy, delete, vec![any]).when(ctx.tagged()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_kinds;

    /// Types as the bucket, stream and delivery kinds declare them.
    const BUCKETS: Indexed = Indexed::new("s3", "s3", "");
    const STREAMS: Indexed = Indexed::new("kinesis:stream", "kinesis", "stream/");
    const DELIVERIES: Indexed = Indexed::new("firehose", "firehose", "deliverystream/");
    const TYPES: [&Indexed; 3] = [&BUCKETS, &STREAMS, &DELIVERIES];

    #[test]
    fn names_come_from_the_arns_of_their_own_type_only() {
        assert_eq!(BUCKETS.name_in("arn:aws:s3:::lake-raw"), Some("lake-raw"));
        assert_eq!(BUCKETS.name_in("arn:aws:s3:us-east-1:123456789012:accesspoint/ap"), None);
        assert_eq!(STREAMS.name_in("arn:aws:kinesis:us-east-1:123456789012:stream/events"), Some("events"));
        assert_eq!(STREAMS.name_in("arn:aws:kinesis:us-east-1:123456789012:stream/events/consumer/c:1"), None);
        assert_eq!(
            DELIVERIES.name_in("arn:aws-cn:firehose:cn-north-1:123456789012:deliverystream/to-lake"),
            Some("to-lake")
        );
        assert_eq!(DELIVERIES.name_in("arn:aws:kinesis:us-east-1:123456789012:stream/events"), None);
    }

    use aws_sdk_emr::operation::list_clusters::ListClustersOutput;
    use aws_sdk_emr::Client as Emr;
    use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;
    use aws_sdk_resourcegroupstagging::types::{ResourceTagMapping, Tag};
    use aws_sdk_resourcegroupstagging::Client;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

    use crate::aws::Warnings;
    use crate::model::ResourceId;

    fn mapping(arn: &str) -> ResourceTagMapping {
        let tag = Tag::builder().key(PIPELINE_TAG).value("p").build().unwrap();
        ResourceTagMapping::builder().resource_arn(arn).tags(tag).build()
    }

    /// GetResources as its API reference documents it: a page with a PaginationToken, then the
    /// last page with an empty one.
    fn two_pages() -> (Rule, Rule) {
        let first = mock!(Client::get_resources)
            .match_requests(|request| request.pagination_token().is_none())
            .then_output(|| {
                GetResourcesOutput::builder()
                    .resource_tag_mapping_list(mapping("arn:aws:kinesis:us-east-1:123456789012:stream/old-events"))
                    .pagination_token("page-2")
                    .build()
            });
        let second = mock!(Client::get_resources)
            .match_requests(|request| request.pagination_token() == Some("page-2"))
            .then_output(|| {
                GetResourcesOutput::builder()
                    .resource_tag_mapping_list(mapping("arn:aws:s3:::p-old-lake"))
                    .resource_tag_mapping_list(mapping(
                        "arn:aws:firehose:us-east-1:123456789012:deliverystream/old-to-lake",
                    ))
                    .pagination_token("")
                    .build()
            });
        (first, second)
    }

    fn clients(tagging: Client, emulated: bool) -> Clients {
        let emr = mock!(Emr::list_clusters).then_output(|| ListClustersOutput::builder().build());
        let mut clients = crate::aws::test_clients_with_emr(mock_client!(aws_sdk_emr, [&emr]), emulated);
        clients.tagging = tagging;
        clients
    }

    fn context<'a>(clients: &'a Clients, warnings: &'a Warnings, adoptable: &'a [ResourceId]) -> ReadContext<'a> {
        ReadContext::new(clients, "p", crate::names::DEFAULT_IAM_PATH, &[], adoptable, warnings).with_tag_index(&TYPES)
    }

    async fn scan(names: &[&str]) -> Result<Vec<String>, AwsError> {
        Ok(names.iter().map(|name| name.to_string()).collect())
    }

    #[tokio::test]
    async fn on_aws_one_paginated_round_serves_every_kind_and_the_journal_is_read_too() {
        let (first, second) = two_pages();
        let clients =
            clients(mock_client!(aws_sdk_resourcegroupstagging, RuleMode::MatchAny, [&first, &second]), false);
        let warnings = Warnings::default();
        let adoptable = [ResourceId::new(test_kinds::named("stream"), "half-made")];
        let read = context(&clients, &warnings, &adoptable);
        let stream = test_kinds::named("stream");
        let streams = read.discover(stream, &STREAMS, scan(&["someone-elses"])).await.unwrap();
        assert_eq!(streams, ["old-events", "half-made"]);
        let buckets = read.discover(test_kinds::named("bucket"), &BUCKETS, scan(&["x"])).await.unwrap();
        let deliveries = read.discover(test_kinds::named("delivery"), &DELIVERIES, scan(&["x"])).await.unwrap();
        assert_eq!((buckets, deliveries), (vec!["p-old-lake".to_string()], vec!["old-to-lake".to_string()]));
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1), "one round for all kinds");
        assert!(warnings.messages().is_empty());
    }

    #[tokio::test]
    async fn an_emulator_that_indexes_nothing_of_a_kind_is_scanned_for_it_with_one_line_said() {
        let only_buckets = mock!(Client::get_resources).then_output(|| {
            GetResourcesOutput::builder().resource_tag_mapping_list(mapping("arn:aws:s3:::p-lake")).build()
        });
        let clients = clients(mock_client!(aws_sdk_resourcegroupstagging, [&only_buckets]), true);
        let warnings = Warnings::default();
        let read = context(&clients, &warnings, &[]);
        let stream = test_kinds::named("stream");
        assert_eq!(read.discover(stream, &STREAMS, scan(&["a", "b"])).await.unwrap(), ["a", "b"]);
        assert_eq!(read.discover(stream, &STREAMS, scan(&["a", "b"])).await.unwrap(), ["a", "b"]);
        assert_eq!(read.discover(test_kinds::named("bucket"), &BUCKETS, scan(&["x"])).await.unwrap(), ["p-lake"]);
        let messages = warnings.messages();
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert!(messages[0].contains("lists nothing of this pipeline for some kinds"), "{messages:?}");
    }

    #[tokio::test]
    async fn an_index_that_fails_is_an_error_on_aws_and_a_scan_on_an_emulator() {
        for emulated in [false, true] {
            let denied = mock!(Client::get_resources).then_http_response(|| {
                aws_smithy_runtime_api::http::Response::new(
                    aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
                    aws_smithy_types::body::SdkBody::from(
                        r#"{"__type":"AccessDeniedException","Message":"not authorized to perform: tag:GetResources"}"#,
                    ),
                )
            });
            let clients = clients(mock_client!(aws_sdk_resourcegroupstagging, [&denied]), emulated);
            let warnings = Warnings::default();
            let read = context(&clients, &warnings, &[]);
            let found = read.discover(test_kinds::named("bucket"), &BUCKETS, scan(&["a"])).await;
            match found {
                Ok(names) => assert!(emulated && names == ["a"] && warnings.messages().len() == 1),
                Err(error) => assert!(!emulated && error.to_string().contains("GetResources"), "{error}"),
            }
        }
    }
}

//! What the kinds' reads cost, replayed against the SDK's mock clients with the documented
//! responses: which requests a read sends, how often, and which ones it sends side by side (the
//! per-kind minimums of BENCHMARKS.md, "How a plan reads"). A plan's time is its longest chain
//! of dependent requests, so "side by side" is checked, not assumed: a gated client holds the
//! requests of one operation until all of them are in flight at once, and a read that sends them
//! one after another never gets past the first.

use std::sync::Arc;
use std::time::Duration;

use aws_smithy_mocks::{mock, Rule};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;

use super::kit::{Clients, ReadContext, ResourceKind, Warnings};
use super::role::{self, RoleConfig};
use super::{alarm, catalog_database, topic, workgroup, DesiredResource};
use crate::model::{PIPELINE_TAG, RESOURCE_TAG};
use crate::names::{Tags, DEFAULT_IAM_PATH};

const ACCOUNT: &str = "123456789012";

/// A client of the SDK crate `$sdk` whose requests go through `$http`, answered by `$rules` in
/// any order.
macro_rules! client {
    ($sdk:ident, $http:expr, [$($rule:expr),* $(,)?]) => {{
        let interceptor = aws_smithy_mocks::MockResponseInterceptor::new()
            .rule_mode(aws_smithy_mocks::RuleMode::MatchAny)
            $(.with_rule($rule))*;
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new("us-east-1"))
                .credentials_provider($sdk::config::Credentials::new("akid", "secret", None, None, "test"))
                // A retry would send a held request again, and two attempts could pass the gate.
                .retry_config($sdk::config::retry::RetryConfig::disabled())
                .http_client($http)
                .interceptor(interceptor)
                .build(),
        )
    }};
}

/// The mocks' own HTTP client.
fn direct() -> SharedHttpClient {
    aws_smithy_mocks::create_mock_http_client()
}

/// The mocks' HTTP client, holding each request of the Query-protocol `actions` until `count` of
/// them are in flight at once.
fn gated(actions: &'static [&'static str], count: usize) -> SharedHttpClient {
    SharedHttpClient::new(Gated { inner: direct(), actions, barrier: Arc::new(tokio::sync::Barrier::new(count)) })
}

#[derive(Debug)]
struct Gated {
    inner: SharedHttpClient,
    actions: &'static [&'static str],
    barrier: Arc<tokio::sync::Barrier>,
}

impl HttpClient for Gated {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(GatedConnector {
            inner: self.inner.http_connector(settings, components),
            actions: self.actions,
            barrier: self.barrier.clone(),
        })
    }
}

#[derive(Debug)]
struct GatedConnector {
    inner: SharedHttpConnector,
    actions: &'static [&'static str],
    barrier: Arc<tokio::sync::Barrier>,
}

impl HttpConnector for GatedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request.body().bytes().map(|bytes| String::from_utf8_lossy(bytes).into_owned()).unwrap_or_default();
        let held = self.actions.iter().any(|action| body.starts_with(&format!("Action={action}&")));
        let held = held.then(|| self.barrier.clone());
        let inner = self.inner.clone();
        HttpConnectorFuture::new(async move {
            if let Some(barrier) = held {
                barrier.wait().await;
            }
            inner.call(request).await
        })
    }
}

/// A Query-protocol error response (IAM, SNS, CloudWatch), as their API references show them.
fn query_error(status: u16, code: &str) -> Response {
    let body = format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{code}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
    );
    Response::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body))
}

fn ours(id: &str) -> Tags {
    Tags::from([(PIPELINE_TAG.to_string(), "p".to_string()), (RESOURCE_TAG.to_string(), id.to_string())])
}

/// Clients that reach nothing, but STS answering `ACCOUNT` (`sts` counts its calls).
fn clients_with_sts(sts: &Rule) -> Clients {
    let mut clients = super::test_support::clients();
    clients.sts = client!(aws_sdk_sts, direct(), [sts]);
    clients
}

fn sts_rule() -> Rule {
    use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
    mock!(aws_sdk_sts::Client::get_caller_identity)
        .then_output(|| GetCallerIdentityOutput::builder().account(ACCOUNT).build())
}

fn context<'a>(clients: &'a Clients, desired: &'a [DesiredResource], warnings: &'a Warnings) -> ReadContext<'a> {
    ReadContext::new(clients, "p", DEFAULT_IAM_PATH, desired, &[], warnings)
}

/// The workgroup and the alarm topic build ARNs from the account the plan resolves: STS is asked
/// once for all of them, the workgroup is looked up once for ownership and settings, and the
/// topic is found by its ARN (no ListTopics), its tags and subscriptions read at once.
#[tokio::test]
async fn the_account_is_asked_once_and_the_workgroup_and_topic_read_by_their_arns() {
    use aws_sdk_athena::operation::get_work_group::GetWorkGroupOutput;
    use aws_sdk_athena::operation::list_named_queries::ListNamedQueriesOutput;
    use aws_sdk_athena::operation::list_tags_for_resource::ListTagsForResourceOutput as AthenaTags;
    use aws_sdk_athena::types::{Tag as AthenaTag, WorkGroup};
    use aws_sdk_sns::operation::list_subscriptions_by_topic::ListSubscriptionsByTopicOutput;
    use aws_sdk_sns::operation::list_tags_for_resource::ListTagsForResourceOutput as SnsTags;
    use aws_sdk_sns::types::Tag as SnsTag;

    let sts = sts_rule();
    let work_group = mock!(aws_sdk_athena::Client::get_work_group)
        .match_requests(|request| request.work_group() == Some("p"))
        .then_output(|| {
            GetWorkGroupOutput::builder().work_group(WorkGroup::builder().name("p").build().unwrap()).build()
        });
    let athena_tags = mock!(aws_sdk_athena::Client::list_tags_for_resource)
        .match_requests(|request| {
            request.resource_arn() == Some(&format!("arn:aws:athena:us-east-1:{ACCOUNT}:workgroup/p"))
        })
        .then_output(|| {
            let tags = ours("workgroup/p");
            let tags = tags.iter().map(|(key, value)| AthenaTag::builder().key(key).value(value).build());
            AthenaTags::builder().set_tags(Some(tags.collect())).build()
        });
    let queries = mock!(aws_sdk_athena::Client::list_named_queries)
        .then_output(|| ListNamedQueriesOutput::builder().set_named_query_ids(Some(Vec::new())).build());
    let topic_arn = format!("arn:aws:sns:us-east-1:{ACCOUNT}:pipectl-p-alarms");
    let expected = topic_arn.clone();
    let sns_tags = mock!(aws_sdk_sns::Client::list_tags_for_resource)
        .match_requests(move |request| request.resource_arn() == Some(expected.as_str()))
        .then_output(|| {
            let tags = ours("topic/alarms");
            let tags = tags.iter().map(|(key, value)| SnsTag::builder().key(key).value(value).build().unwrap());
            SnsTags::builder().set_tags(Some(tags.collect())).build()
        });
    let subscriptions = mock!(aws_sdk_sns::Client::list_subscriptions_by_topic)
        .then_output(|| ListSubscriptionsByTopicOutput::builder().build());

    let mut clients = clients_with_sts(&sts);
    clients.athena = client!(aws_sdk_athena, direct(), [&work_group, &athena_tags, &queries]);
    clients.sns = client!(
        aws_sdk_sns,
        gated(&["ListTagsForResource", "ListSubscriptionsByTopic"], 2),
        [&sns_tags, &subscriptions]
    );
    let warnings = Warnings::default();
    let read = context(&clients, &[], &warnings);
    let reads = async { tokio::join!(read.account_id(), workgroup::Workgroup.read(&read), topic::Topic.read(&read)) };
    // The topic's two reads pass the gate only together (see `alarm_tags_are_read_side_by_side`).
    let (account, workgroup, topic) = tokio::time::timeout(Duration::from_secs(2), reads)
        .await
        .expect("the topic's reads were sent one after another");
    assert_eq!(account.unwrap(), ACCOUNT);
    let (workgroup, topic) = (workgroup.unwrap(), topic.unwrap());
    assert_eq!(workgroup.found.len(), 1, "the workgroup is the pipeline's");
    assert_eq!(topic.found[0].physical_id, topic_arn);
    assert_eq!(sts.num_calls(), 1, "one GetCallerIdentity for the plan and every kind");
    assert_eq!(work_group.num_calls(), 1, "one GetWorkGroup for ownership and settings");
    assert_eq!((sns_tags.num_calls(), subscriptions.num_calls()), (1, 1));
}

/// SNS answers ListTagsForResource and ListSubscriptionsByTopic on a topic that does not exist
/// with `ResourceNotFound` and `NotFound` (SNS API Reference); LocalStack answers the first with
/// no tags. Either way the topic is absent, and no conflict is reported for it.
#[tokio::test]
async fn a_missing_topic_is_absent_whichever_read_says_so() {
    use aws_sdk_sns::operation::list_tags_for_resource::ListTagsForResourceOutput;
    for localstack in [false, true] {
        let sts = sts_rule();
        let tags = match localstack {
            true => mock!(aws_sdk_sns::Client::list_tags_for_resource)
                .then_output(|| ListTagsForResourceOutput::builder().build()),
            false => mock!(aws_sdk_sns::Client::list_tags_for_resource)
                .then_http_response(|| query_error(404, "ResourceNotFound")),
        };
        let subscriptions =
            mock!(aws_sdk_sns::Client::list_subscriptions_by_topic).then_http_response(|| query_error(404, "NotFound"));
        let mut clients = clients_with_sts(&sts);
        clients.sns = client!(aws_sdk_sns, direct(), [&tags, &subscriptions]);
        let warnings = Warnings::default();
        let desired = [DesiredResource {
            id: topic::id(),
            tags: Tags::new(),
            depends_on: Vec::new(),
            config: Arc::new(topic::TopicConfig {
                topic_name: "pipectl-p-alarms".to_string(),
                subscriptions: Vec::new(),
            }),
        }];
        let read = topic::Topic.read(&context(&clients, &desired, &warnings)).await.unwrap();
        assert!(read.found.is_empty() && read.conflicts.is_empty(), "localstack: {localstack}");
    }
}

/// DescribeAlarms, then every alarm's tags at once: two round trips whatever the number of
/// alarms (the gate lets no tag read through until all three are in flight).
#[tokio::test]
async fn alarm_tags_are_read_side_by_side() {
    use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
    use aws_sdk_cloudwatch::operation::list_tags_for_resource::ListTagsForResourceOutput;
    use aws_sdk_cloudwatch::types::{MetricAlarm, Tag};

    let names = ["events-iterator-age", "lake-delivery-freshness", "spark-apps-failed"];
    let describe = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_output(move || {
        let alarms = names.iter().map(|name| {
            let alarm = format!("pipectl-p-{name}");
            let arn = format!("arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:{alarm}");
            MetricAlarm::builder().alarm_name(alarm).alarm_arn(arn).build()
        });
        DescribeAlarmsOutput::builder().set_metric_alarms(Some(alarms.collect())).build()
    });
    let tags = mock!(aws_sdk_cloudwatch::Client::list_tags_for_resource).then_output(|| {
        let tags = ours("alarm/x").into_iter().map(|(key, value)| Tag::builder().key(key).value(value).build());
        ListTagsForResourceOutput::builder().set_tags(Some(tags.collect())).build()
    });
    let mut clients = super::test_support::clients();
    clients.cloudwatch = client!(aws_sdk_cloudwatch, gated(&["ListTagsForResource"], names.len()), [&describe, &tags]);
    let warnings = Warnings::default();
    let read = context(&clients, &[], &warnings);
    // Held requests are let go by the SDK after some seconds (and then answered by the mock
    // anyway), so it is the read's time that tells: milliseconds when the gate opens at once.
    let found = tokio::time::timeout(Duration::from_secs(2), alarm::Alarm.read(&read))
        .await
        .expect("the tag reads were sent one after another")
        .unwrap();
    let mut found: Vec<String> = found.found.iter().map(|alarm| alarm.id.name.clone()).collect();
    found.sort();
    assert_eq!(found, names);
    assert_eq!((describe.num_calls(), tags.num_calls()), (1, 3));
}

/// The spec's role `name` with IAM name `p-<name>`, trusting `service`.
fn spec_role(name: &str, service: &str, instance_profile: bool) -> DesiredResource {
    let config = RoleConfig {
        iam_name: format!("p-{name}"),
        path: "/pipectl/p/us-east-1/".to_string(),
        permissions_boundary: None,
        trust: crate::iam::normalize(&crate::iam::trust_policy(service)),
        inline: None,
        managed: Vec::new(),
        instance_profile,
    };
    DesiredResource {
        id: role::id(name),
        tags: ours(&format!("role/{name}")),
        depends_on: Vec::new(),
        config: Arc::new(config),
    }
}

/// GetRole's answer for `p-<name>` trusting `service`, tagged as the pipeline's.
fn got_role(name: &str, service: &str) -> aws_sdk_iam::operation::get_role::GetRoleOutput {
    let tags = ours(&format!("role/{name}"))
        .into_iter()
        .map(|(key, value)| aws_sdk_iam::types::Tag::builder().key(key).value(value).build().unwrap());
    let role = aws_sdk_iam::types::Role::builder()
        .path("/pipectl/p/us-east-1/")
        .role_name(format!("p-{name}"))
        .role_id("AROAEXAMPLE")
        .arn(format!("arn:aws:iam::{ACCOUNT}:role/pipectl/p/us-east-1/p-{name}"))
        .create_date(aws_smithy_types::DateTime::from_secs(0))
        .assume_role_policy_document(crate::iam::trust_policy(service).to_string())
        .set_tags(Some(tags.collect()))
        .build()
        .unwrap();
    aws_sdk_iam::operation::get_role::GetRoleOutput::builder().role(role).build()
}

/// Instance profiles are listed only for roles whose trust names EC2 (the spec's, or the live
/// one where they differ): the delivery's role costs three reads, the cluster instances' four.
#[tokio::test]
async fn only_roles_that_trust_ec2_have_their_instance_profiles_listed() {
    use aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput;
    use aws_sdk_iam::operation::list_instance_profiles_for_role::ListInstanceProfilesForRoleOutput;
    use aws_sdk_iam::operation::list_roles::ListRolesOutput;

    let get = mock!(aws_sdk_iam::Client::get_role).then_output(|| got_role("delivery", "firehose.amazonaws.com"));
    let get_instance = mock!(aws_sdk_iam::Client::get_role)
        .match_requests(|request| request.role_name() == Some("p-instance"))
        .then_output(|| got_role("instance", "ec2.amazonaws.com"));
    let get_drifted = mock!(aws_sdk_iam::Client::get_role)
        .match_requests(|request| request.role_name() == Some("p-drifted"))
        .then_output(|| got_role("drifted", "ec2.amazonaws.com"));
    let inline = mock!(aws_sdk_iam::Client::get_role_policy).then_http_response(|| query_error(404, "NoSuchEntity"));
    let attached = mock!(aws_sdk_iam::Client::list_attached_role_policies)
        .then_output(|| ListAttachedRolePoliciesOutput::builder().build());
    let profiles = mock!(aws_sdk_iam::Client::list_instance_profiles_for_role)
        .match_requests(|request| matches!(request.role_name(), Some("p-instance" | "p-drifted")))
        .then_output(|| {
            ListInstanceProfilesForRoleOutput::builder().set_instance_profiles(Some(Vec::new())).build().unwrap()
        });
    let list = mock!(aws_sdk_iam::Client::list_roles)
        .then_output(|| ListRolesOutput::builder().set_roles(Some(Vec::new())).build().unwrap());
    let mut clients = super::test_support::clients();
    clients.iam =
        client!(aws_sdk_iam, direct(), [&get_instance, &get_drifted, &get, &inline, &attached, &profiles, &list]);
    let desired = [
        spec_role("delivery", "firehose.amazonaws.com", false),
        spec_role("instance", "ec2.amazonaws.com", true),
        // Someone made this role trust EC2: its profiles matter until the plan puts the trust back.
        spec_role("drifted", "scheduler.amazonaws.com", false),
    ];
    let warnings = Warnings::default();
    let read = role::Role.read(&context(&clients, &desired, &warnings)).await.unwrap();
    assert_eq!(read.found.len(), 3, "{:?}", read.conflicts);
    assert_eq!(profiles.num_calls(), 2, "listed for the EC2 role and the drifted one only");
    assert_eq!((get.num_calls() + get_instance.num_calls() + get_drifted.num_calls(), attached.num_calls()), (3, 3));
}

/// The read does not list the instance profiles of a role that does not trust EC2, so deleting
/// it lists them first: IAM refuses to delete a role still in a profile ("DeleteRole", IAM API
/// Reference), and one may have been added by hand.
#[tokio::test]
async fn deleting_a_role_that_does_not_trust_ec2_lists_its_profiles_first() {
    use aws_sdk_iam::operation::delete_instance_profile::DeleteInstanceProfileOutput;
    use aws_sdk_iam::operation::delete_role::DeleteRoleOutput;
    use aws_sdk_iam::operation::list_instance_profiles_for_role::ListInstanceProfilesForRoleOutput;
    use aws_sdk_iam::operation::list_role_policies::ListRolePoliciesOutput;
    use aws_sdk_iam::operation::remove_role_from_instance_profile::RemoveRoleFromInstanceProfileOutput;
    use aws_sdk_iam::types::InstanceProfile;

    let profiles = mock!(aws_sdk_iam::Client::list_instance_profiles_for_role).then_output(|| {
        let profile = InstanceProfile::builder()
            .path("/")
            .instance_profile_name("by-hand")
            .instance_profile_id("AIPAEXAMPLE")
            .arn(format!("arn:aws:iam::{ACCOUNT}:instance-profile/by-hand"))
            .create_date(aws_smithy_types::DateTime::from_secs(0))
            .set_roles(Some(Vec::new()))
            .build()
            .unwrap();
        ListInstanceProfilesForRoleOutput::builder().instance_profiles(profile).build().unwrap()
    });
    let removed = mock!(aws_sdk_iam::Client::remove_role_from_instance_profile)
        .match_requests(|request| request.instance_profile_name() == Some("by-hand"))
        .then_output(|| RemoveRoleFromInstanceProfileOutput::builder().build());
    let deleted_profile = mock!(aws_sdk_iam::Client::delete_instance_profile)
        .then_output(|| DeleteInstanceProfileOutput::builder().build());
    let policies = mock!(aws_sdk_iam::Client::list_role_policies)
        .then_output(|| ListRolePoliciesOutput::builder().set_policy_names(Some(Vec::new())).build().unwrap());
    let deleted = mock!(aws_sdk_iam::Client::delete_role).then_output(|| DeleteRoleOutput::builder().build());
    let mut clients = super::test_support::clients();
    clients.iam = client!(aws_sdk_iam, direct(), [&profiles, &removed, &deleted_profile, &policies, &deleted]);
    let ctx = super::test_support::context(clients, Duration::from_secs(5), &Default::default());
    let detail = role::Live {
        path: "/pipectl/p/us-east-1/".to_string(),
        permissions_boundary: None,
        trust: crate::iam::normalize(&crate::iam::trust_policy("firehose.amazonaws.com")),
        inline: None,
        managed: Vec::new(),
        instance_profiles: Vec::new(),
    };
    let live = super::LiveResource::new(role::id("old"), "p-old", ours("role/old"), detail.clone());
    role::Role.delete(&ctx, &live, &detail).await.unwrap();
    assert_eq!((profiles.num_calls(), removed.num_calls(), deleted_profile.num_calls()), (1, 1, 1));
    assert_eq!(deleted.num_calls(), 1);
}

/// The database's ownership (GetTags on its ARN) and settings (its tables) both start from one
/// GetDatabase.
#[tokio::test]
async fn a_database_is_looked_up_once_for_its_ownership_and_its_tables() {
    use aws_sdk_glue::operation::get_database::GetDatabaseOutput;
    use aws_sdk_glue::operation::get_databases::GetDatabasesOutput;
    use aws_sdk_glue::operation::get_tables::GetTablesOutput;
    use aws_sdk_glue::operation::get_tags::GetTagsOutput;
    use aws_sdk_glue::types::Database;

    let get = mock!(aws_sdk_glue::Client::get_database).then_output(|| {
        let database = Database::builder().name("p_lake").catalog_id(ACCOUNT).build().unwrap();
        GetDatabaseOutput::builder().database(database).build()
    });
    let tags = mock!(aws_sdk_glue::Client::get_tags)
        .match_requests(|request| {
            request.resource_arn() == Some(&format!("arn:aws:glue:us-east-1:{ACCOUNT}:database/p_lake"))
        })
        .then_output(|| {
            GetTagsOutput::builder().set_tags(Some(ours("catalog_database/p_lake").into_iter().collect())).build()
        });
    let tables = mock!(aws_sdk_glue::Client::get_tables).then_output(|| GetTablesOutput::builder().build());
    let databases = mock!(aws_sdk_glue::Client::get_databases)
        .then_output(|| GetDatabasesOutput::builder().set_database_list(Some(Vec::new())).build().unwrap());
    let mut clients = super::test_support::clients();
    clients.glue = client!(aws_sdk_glue, direct(), [&get, &tags, &tables, &databases]);
    let desired = [DesiredResource {
        id: catalog_database::id("p_lake"),
        tags: ours("catalog_database/p_lake"),
        depends_on: Vec::new(),
        config: Arc::new(catalog_database::DatabaseConfig { name: "p_lake".to_string(), description: String::new() }),
    }];
    let warnings = Warnings::default();
    let read = catalog_database::CatalogDatabase.read(&context(&clients, &desired, &warnings)).await.unwrap();
    assert_eq!((read.found.len(), read.conflicts.len()), (1, 0));
    assert_eq!((get.num_calls(), tags.num_calls(), tables.num_calls()), (1, 1, 1));
}

/// Where the endpoint's tag index lists no streams (moto), every stream of the account is
/// scanned: 100 names a page, the most ListStreams returns, not the 10 an endpoint answers when
/// no `Limit` is given.
#[tokio::test]
async fn a_stream_scan_asks_for_a_hundred_names_a_page() {
    use aws_sdk_kinesis::operation::list_streams::ListStreamsOutput;
    use aws_sdk_kinesis::operation::list_tags_for_stream::ListTagsForStreamOutput;
    use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;

    let index = mock!(aws_sdk_resourcegroupstagging::Client::get_resources)
        .then_output(|| GetResourcesOutput::builder().build());
    let list = mock!(aws_sdk_kinesis::Client::list_streams)
        .match_requests(|request| request.limit() == Some(100))
        .then_output(|| {
            ListStreamsOutput::builder().stream_names("someone-elses").has_more_streams(false).build().unwrap()
        });
    let tags = mock!(aws_sdk_kinesis::Client::list_tags_for_stream).then_output(|| {
        ListTagsForStreamOutput::builder().set_tags(Some(Vec::new())).has_more_tags(false).build().unwrap()
    });
    let mut clients = super::test_support::clients();
    clients.emulated = true;
    clients.tagging = client!(aws_sdk_resourcegroupstagging, direct(), [&index]);
    clients.kinesis = client!(aws_sdk_kinesis, direct(), [&list, &tags]);
    let warnings = Warnings::default();
    let read = super::stream::Stream.read(&context(&clients, &[], &warnings)).await.unwrap();
    assert!(read.found.is_empty());
    assert_eq!((list.num_calls(), tags.num_calls()), (1, 1));
}

/// A stream's tags are read to the last page: Kinesis answers at most `Limit` tags (50 asked
/// for) and says `HasMoreTags`; the next page starts after the last key. pipectl's ownership tags
/// may well sit on a later page.
#[tokio::test]
async fn a_streams_tags_are_read_page_after_page() {
    use aws_sdk_kinesis::operation::list_streams::ListStreamsOutput;
    use aws_sdk_kinesis::operation::list_tags_for_stream::ListTagsForStreamOutput;
    use aws_sdk_kinesis::types::Tag;
    use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesOutput;

    let tag = |key: &str, value: &str| Tag::builder().key(key).value(value).build().unwrap();
    let index = mock!(aws_sdk_resourcegroupstagging::Client::get_resources)
        .then_output(|| GetResourcesOutput::builder().build());
    let list = mock!(aws_sdk_kinesis::Client::list_streams).then_output(|| {
        ListStreamsOutput::builder().stream_names("elsewhere").has_more_streams(false).build().unwrap()
    });
    let first = mock!(aws_sdk_kinesis::Client::list_tags_for_stream)
        .match_requests(|request| request.exclusive_start_tag_key().is_none() && request.limit() == Some(50))
        .then_output(move || {
            ListTagsForStreamOutput::builder().tags(tag("a", "1")).has_more_tags(true).build().unwrap()
        });
    let second = mock!(aws_sdk_kinesis::Client::list_tags_for_stream)
        .match_requests(|request| request.exclusive_start_tag_key() == Some("a"))
        .then_output(move || {
            ListTagsForStreamOutput::builder().tags(tag(PIPELINE_TAG, "q")).has_more_tags(false).build().unwrap()
        });
    let mut clients = super::test_support::clients();
    clients.emulated = true;
    clients.tagging = client!(aws_sdk_resourcegroupstagging, direct(), [&index]);
    clients.kinesis = client!(aws_sdk_kinesis, direct(), [&list, &first, &second]);
    let warnings = Warnings::default();
    let read = super::stream::Stream.read(&context(&clients, &[], &warnings)).await.unwrap();
    // Another pipeline's stream, as its second page says: not ours.
    assert!(read.found.is_empty());
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

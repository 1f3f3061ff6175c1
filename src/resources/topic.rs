//! The SNS topic the pipeline's alarms notify, `pipectl-<pipeline>-alarms`, and its
//! subscriptions (the spec's `alarms.notify`). One per pipeline with enabled alarms.
//!
//! Read by its ARN, which follows from its derived name and the account (ListTagsForResource and
//! ListSubscriptionsByTopic at once), created with its tags in the CreateTopic call (AWS asks for
//! `sns:TagResource` as well), changed in place (TagResource, UntagResource, Subscribe,
//! Unsubscribe), deleted with DeleteTopic, which deletes its subscriptions too.
//!
//! Subscriptions to email addresses and HTTPS endpoints are `PendingConfirmation` until the
//! recipient confirms the message SNS sends; SNS deletes unconfirmed ones after three days
//! (Amazon SNS Developer Guide, "Subscribing an endpoint to an Amazon SNS topic"). A pending
//! subscription has no ARN to unsubscribe with (ListSubscriptionsByTopic shows
//! `PendingConfirmation` in its place), so one the spec dropped is left to expire. An SQS queue
//! receives only if its queue policy lets `sns.amazonaws.com` send to it for this topic; the
//! queue is not the pipeline's, so the plan says so rather than changing it.
//!
//! No topic policy is set: SNS's default policy lets the topic owner's account publish, and
//! CloudWatch alarms of the same account publish as that account (a policy naming
//! `cloudwatch.amazonaws.com` is needed only for a topic in another account).
//!
//! No server-side encryption either, on purpose: CloudWatch publishes to an encrypted topic only
//! when the key's policy lets `cloudwatch.amazonaws.com` use the key, which the AWS managed key
//! `alias/aws/sns` never does, so a topic encrypted with it drops every alarm (Amazon SNS Developer
//! Guide, "Encryption at rest", compatibility of AWS event sources with encrypted topics). Only a
//! customer managed key with that key policy would work; the spec has no field for one yet
//! (docs/spec.md, `alarms`).

use serde_json::json;

use super::kit::Output;
use super::kit::{
    adopt, aws_error, owned_by, AwsError, Context, Grant, GrantContext, LiveResource, NamedRead, ReadContext,
    ResourceKind, Scope, Tags,
};
use crate::iam::Arns;
use crate::model::{
    Action, Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
    PIPELINE_TAG, RESOURCE_TAG,
};
use crate::names::{alarm_topic_name, ALARM_TOPIC};
use crate::spec::Subscription;

pub struct Topic;
pub const KIND: Kind = Kind::of(&Topic);

/// What ListSubscriptionsByTopic shows instead of the ARN of an unconfirmed subscription.
const PENDING: &str = "PendingConfirmation";

/// The pipeline's one topic: `topic/alarms`.
pub fn id() -> ResourceId {
    ResourceId::new(KIND, ALARM_TOPIC)
}

/// The ARN of the pipeline's alarm topic (known before it exists: SNS ARNs are built from the
/// name).
pub fn arn(arns: &Arns, pipeline: &str) -> String {
    format!("arn:{}:sns:{}:{}:{}", arns.partition, arns.region, arns.account_id, alarm_topic_name(pipeline))
}

/// A subscription as plans show it: `email:oncall@example.com`.
fn label(protocol: &str, endpoint: &str) -> String {
    format!("{protocol}:{endpoint}")
}

/// The topic the spec asks for.
#[derive(Debug, Clone)]
pub struct TopicConfig {
    pub topic_name: String,
    /// Sorted, without duplicates (validation refuses those).
    pub subscriptions: Vec<Subscription>,
}

impl DesiredConfig for TopicConfig {
    fn attributes(&self) -> Attributes {
        let labels: Vec<String> = self.subscriptions.iter().map(|s| label(&s.protocol, &s.endpoint)).collect();
        Attributes::from([("subscriptions".to_string(), json!(labels))])
    }
}

/// One subscription as ListSubscriptionsByTopic returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSubscription {
    pub protocol: String,
    pub endpoint: String,
    /// The subscription's ARN, or `PendingConfirmation`.
    pub arn: String,
}

impl LiveSubscription {
    pub fn pending(&self) -> bool {
        self.arn == PENDING
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub arn: String,
    pub subscriptions: Vec<LiveSubscription>,
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, _names: &Names) -> (Attributes, Vec<ResourceId>) {
        let mut labels: Vec<String> = self.subscriptions.iter().map(|s| label(&s.protocol, &s.endpoint)).collect();
        labels.sort();
        labels.dedup();
        (Attributes::from([("subscriptions".to_string(), json!(labels))]), Vec::new())
    }
}

impl KindRules for Topic {
    fn name(&self) -> &'static str {
        "topic"
    }
    fn rank(&self) -> u8 {
        180
    }
    /// What a person must do for a new subscription to receive alarms.
    fn change_notes(&self, action: Action, before: Option<&Attributes>, after: Option<&Attributes>) -> Vec<String> {
        if action == Action::Delete {
            return Vec::new();
        }
        let labels = |attributes: Option<&Attributes>| -> Vec<String> {
            attributes
                .and_then(|a| a.get("subscriptions"))
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let old = labels(before);
        let added: Vec<String> = labels(after).into_iter().filter(|l| !old.contains(l)).collect();
        let mut notes = Vec::new();
        let confirm: Vec<&String> = added.iter().filter(|l| !l.starts_with("sqs:")).collect();
        if !confirm.is_empty() {
            notes.push(format!(
                "{} stay PendingConfirmation until the recipient confirms the message SNS sends (unconfirmed ones expire after 3 days)",
                confirm.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
        for queue in added.iter().filter(|l| l.starts_with("sqs:")) {
            notes.push(format!(
                "{queue}: the queue's policy must allow sqs:SendMessage to sns.amazonaws.com for this topic (aws:SourceArn); pipectl does not change a queue it does not own"
            ));
        }
        notes
    }
}

impl ResourceKind for Topic {
    type Desired = TopicConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let Some(alarms) = graph.spec.alarms.as_ref().filter(|alarms| alarms.enabled) else { return Vec::new() };
        let mut subscriptions = alarms.notify.clone();
        subscriptions.sort();
        subscriptions.dedup();
        let config = TopicConfig { topic_name: alarm_topic_name(&graph.spec.pipeline), subscriptions };
        vec![graph.node(id(), &alarms.tags, Vec::new(), config)]
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        let sns = &read.clients.sns;
        // The ARN follows from the name and the account the plan resolved: no ListTopics, whose
        // pages grow with the account's topics. Tags and subscriptions are read at once (one
        // round trip after the account); those of a topic that is not ours are not looked at.
        let arn = arn(&Arns::new(read.account_id().await?, &read.clients.region), read.pipeline);
        let (tags, subscriptions) = tokio::join!(tags(sns, &arn), subscriptions(sns, &arn));
        // AWS and moto answer both with not-found for a missing topic; LocalStack lists no tags
        // for it, but fails its subscriptions (localstack/README.md): either says it is absent.
        if matches!(subscriptions, Ok(None)) {
            return Ok(NamedRead::default());
        }
        let Some(tags) = tags? else { return Ok(NamedRead::default()) };
        let id = id();
        if owned_by(&tags, read.pipeline) || adopt(&id, &tags, read.adoptable) {
            let live = Live { arn: arn.clone(), subscriptions: subscriptions?.unwrap_or_default() };
            return Ok(NamedRead::found(vec![LiveResource::new(id, arn, tags, live)]));
        }
        let mut result = NamedRead::default();
        if read.desired_of(KIND).next().is_some() {
            let owner = match tags.get(PIPELINE_TAG) {
                Some(other) => format!("it belongs to pipeline `{other}`"),
                None => "it is not tagged as managed by pipectl".to_string(),
            };
            result.conflicts.push(format!(
                "{id}: the SNS topic {arn} already exists but {owner}; pipectl never modifies resources it does not own. \
                 Delete it, or adopt it deliberately by tagging it {PIPELINE_TAG}={} and {RESOURCE_TAG}={id} (aws sns tag-resource)",
                read.pipeline
            ));
        }
        Ok(result)
    }

    /// CreateTopic is idempotent for a name whose topic has the same attributes and tags (an
    /// interrupted run of ours): it returns the existing ARN.
    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &TopicConfig,
    ) -> Result<String, AwsError> {
        let id = &resource.id;
        let tags = resource
            .tags
            .iter()
            .map(|(key, value)| aws_sdk_sns::types::Tag::builder().key(key).value(value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| super::kit::build_error(id, "CreateTopic", error))?;
        let output = ctx
            .clients
            .sns
            .create_topic()
            .name(&desired.topic_name)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|error| aws_error(id, "CreateTopic", error))?;
        let arn = output.topic_arn().ok_or_else(|| AwsError::missing(id, "CreateTopic", "TopicArn"))?.to_string();
        let existing = subscriptions(&ctx.clients.sns, &arn).await?.unwrap_or_default();
        subscribe_missing(ctx, id, &arn, &desired.subscriptions, &existing).await?;
        Ok(arn)
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &TopicConfig,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        let id = &resource.id;
        let sns = &ctx.clients.sns;
        subscribe_missing(ctx, id, &detail.arn, &desired.subscriptions, &detail.subscriptions).await?;
        for extra in detail.subscriptions.iter().filter(|live| {
            !desired.subscriptions.iter().any(|s| s.protocol == live.protocol && s.endpoint == live.endpoint)
        }) {
            if extra.pending() {
                ctx.progress.line(&format!(
                    "{id}: {} is still pending confirmation and has no ARN to unsubscribe; SNS deletes it after 3 days unconfirmed",
                    label(&extra.protocol, &extra.endpoint)
                ));
                continue;
            }
            sns.unsubscribe()
                .subscription_arn(&extra.arn)
                .send()
                .await
                .map_err(|error| aws_error(id, "Unsubscribe", error))?;
        }
        retag(sns, id, &detail.arn, &live.tags, &resource.tags).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
        ctx.clients
            .sns
            .delete_topic()
            .topic_arn(&detail.arn)
            .send()
            .await
            .map_err(|error| aws_error(&live.id, "DeleteTopic", error))?;
        Ok(())
    }

    fn outputs(&self, _live: &LiveResource, detail: &Live, _arns: &Arns) -> Vec<Output> {
        vec![Output::new("arn", &detail.arn)]
    }

    /// The pipeline's alarm topic with its subscriptions (`<topic ARN>:<id>`, which Unsubscribe
    /// names). Without an enabled `alarms:` section a plan still looks for it, to delete what an
    /// earlier spec made.
    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let topic_arn = ctx.arn("sns", &alarm_topic_name(&ctx.spec.pipeline));
        let topic = vec![topic_arn.clone(), format!("{topic_arn}:*")];
        let read = ["sns:ListTagsForResource", "sns:ListSubscriptionsByTopic"];
        let change = ["sns:CreateTopic", "sns:TagResource", "sns:UntagResource", "sns:Subscribe"];
        vec![
            Grant::new("ReadAlarmTopic", Scope::Plan, &read, topic.clone()),
            // Unsubscribe names a subscription, not a topic, and has no resource-level permission
            // (Service Authorization Reference, Amazon SNS); SNS itself lets only the topic's or the
            // subscription's owner remove it.
            Grant::new("UnsubscribeFromTheAlarmTopic", Scope::Apply, &["sns:Unsubscribe"], vec!["*".to_string()]),
            Grant::new("ChangeAlarmTopic", Scope::Apply, &change, topic.clone()),
            Grant::new("ChangeAlarmTopic", Scope::Destroy, &["sns:DeleteTopic"], topic),
        ]
    }
}

/// Subscribes every endpoint of `wanted` that `existing` lacks. `ReturnSubscriptionArn` makes
/// Subscribe return the ARN even of a subscription that needs confirmation (Subscribe,
/// Amazon SNS API Reference), which pipectl does not need but logs nothing without.
async fn subscribe_missing(
    ctx: &Context,
    id: &ResourceId,
    topic_arn: &str,
    wanted: &[Subscription],
    existing: &[LiveSubscription],
) -> Result<(), AwsError> {
    for subscription in wanted {
        if existing.iter().any(|live| live.protocol == subscription.protocol && live.endpoint == subscription.endpoint)
        {
            continue;
        }
        ctx.clients
            .sns
            .subscribe()
            .topic_arn(topic_arn)
            .protocol(&subscription.protocol)
            .endpoint(&subscription.endpoint)
            .return_subscription_arn(true)
            .send()
            .await
            .map_err(|error| aws_error(id, "Subscribe", error))?;
    }
    Ok(())
}

/// Makes the topic's tags `desired`: stale keys removed, the rest set.
async fn retag(
    sns: &aws_sdk_sns::Client,
    id: &ResourceId,
    arn: &str,
    live: &Tags,
    desired: &Tags,
) -> Result<(), AwsError> {
    let untag = |stale| async move {
        let request = sns.untag_resource().resource_arn(arn).set_tag_keys(Some(stale));
        request.send().await.map(drop).map_err(|error| aws_error(id, "UntagResource", error))
    };
    let tag = |changed: Tags| async move {
        let tags = changed
            .iter()
            .map(|(key, value)| aws_sdk_sns::types::Tag::builder().key(key).value(value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| super::kit::build_error(id, "TagResource", error))?;
        let request = sns.tag_resource().resource_arn(arn).set_tags(Some(tags));
        request.send().await.map(drop).map_err(|error| aws_error(id, "TagResource", error))
    };
    super::kit::retag::retag(live, desired, untag, tag).await
}

/// The topic's tags, or None when there is no such topic (`ResourceNotFound`, SNS API Reference).
async fn tags(sns: &aws_sdk_sns::Client, arn: &str) -> Result<Option<Tags>, AwsError> {
    match sns.list_tags_for_resource().resource_arn(arn).send().await {
        Ok(output) => Ok(Some(output.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())),
        Err(error) => aws_error(id(), "ListTagsForResource", error).unless_not_found(None),
    }
}

/// The topic's subscriptions, or None when there is no such topic (`NotFound`, SNS API Reference).
async fn subscriptions(sns: &aws_sdk_sns::Client, arn: &str) -> Result<Option<Vec<LiveSubscription>>, AwsError> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = match sns.list_subscriptions_by_topic().topic_arn(arn).set_next_token(token.clone()).send().await {
            Ok(page) => page,
            Err(error) => return aws_error(id(), "ListSubscriptionsByTopic", error).unless_not_found(None),
        };
        found.extend(page.subscriptions().iter().map(|s| LiveSubscription {
            protocol: s.protocol().unwrap_or_default().to_string(),
            endpoint: s.endpoint().unwrap_or_default().to_string(),
            arn: s.subscription_arn().unwrap_or_default().to_string(),
        }));
        token = page.next_token().filter(|next| !next.is_empty()).map(str::to_string);
        if token.is_none() {
            return Ok(Some(found));
        }
    }
}

#[cfg(test)]
mod tests {
    //! Replays the documented ListSubscriptionsByTopic shape: an unconfirmed email subscription
    //! has `PendingConfirmation` where its ARN would be.
    use aws_sdk_sns::operation::list_subscriptions_by_topic::ListSubscriptionsByTopicOutput;
    use aws_sdk_sns::types::Subscription as SnsSubscription;
    use aws_sdk_sns::Client;
    use aws_smithy_mocks::{mock, Rule, RuleMode};

    use super::*;

    const ARN: &str = "arn:aws:sns:us-east-1:123456789012:pipectl-p-alarms";

    /// An SNS client answering from `rules` (built by hand: `mock_client!` needs the SDK's
    /// `test-util` feature, enabled only for the crates whose tests need more).
    fn sns_client(rules: &[&Rule]) -> Client {
        crate::resources::test_support::mock_sdk_client!(aws_sdk_sns, "us-east-1", RuleMode::Sequential, rules)
    }

    #[tokio::test]
    async fn a_pending_email_subscription_is_read_as_pending_and_listed_in_the_attributes() {
        let rule = mock!(Client::list_subscriptions_by_topic).then_output(|| {
            ListSubscriptionsByTopicOutput::builder()
                .subscriptions(
                    SnsSubscription::builder()
                        .topic_arn(ARN)
                        .protocol("email")
                        .endpoint("oncall@example.com")
                        .subscription_arn(PENDING)
                        .owner("123456789012")
                        .build(),
                )
                .build()
        });
        let sns = sns_client(&[&rule]);
        let found = subscriptions(&sns, ARN).await.unwrap().unwrap();
        assert!(found[0].pending());
        let live = Live { arn: ARN.to_string(), subscriptions: found };
        let (attributes, _) = live.describe(ARN, &Names::default());
        assert_eq!(attributes["subscriptions"], json!(["email:oncall@example.com"]));
    }

    #[test]
    fn the_plan_says_what_a_new_subscription_needs() {
        let after = Attributes::from([(
            "subscriptions".to_string(),
            json!(["email:oncall@example.com", "sqs:arn:aws:sqs:us-east-1:123456789012:q"]),
        )]);
        let notes = Topic.change_notes(Action::Create, None, Some(&after));
        assert!(notes[0].contains("email:oncall@example.com stay PendingConfirmation"), "{notes:?}");
        assert!(notes[1].contains("sns.amazonaws.com"), "{notes:?}");
    }

    #[test]
    fn the_alarm_topic_and_its_subscriptions_are_reached_by_name_even_without_alarms() {
        use crate::iam::deployer::Purpose;
        use crate::resources::test_support::{assert_granted, granted, sids_allowing, statement};
        let spec = crate::spec::SpecBuilder::new().build();
        assert_granted(
            &super::Topic,
            &spec,
            &[
                ("sns:ListSubscriptionsByTopic", &["ReadAlarmTopic"]),
                ("sns:Subscribe", &["ChangeAlarmTopic"]),
                ("sns:DeleteTopic", &["ChangeAlarmTopic"]),
                ("sns:Unsubscribe", &["UnsubscribeFromTheAlarmTopic"]),
            ],
        );
        let all = granted(&super::Topic, &spec, Purpose::Everything);
        let topic = "arn:aws:sns:eu-west-1:123456789012:pipectl-p-alarms";
        assert_eq!(statement(&all, "ChangeAlarmTopic")["Resource"], serde_json::json!([topic, format!("{topic}:*")]));
        assert_eq!(statement(&all, "UnsubscribeFromTheAlarmTopic")["Resource"], serde_json::json!(["*"]));
        assert!(sids_allowing(&granted(&super::Topic, &spec, Purpose::Plan), "sns:Unsubscribe").is_empty());
    }
}

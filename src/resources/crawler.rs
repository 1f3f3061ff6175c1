//! Optional Glue crawlers (`catalog.crawlers`): for folders whose columns the spec does not
//! declare, Glue infers the tables on a schedule and writes them into the pipeline's database.
//! Each crawler is `pipectl-<pipeline>-<name>` and runs with a role derived for it
//! (`<name>-crawler`, trusted by `glue.amazonaws.com`) whose one inline policy holds what the
//! crawl uses: the catalog calls on the pipeline's database and its tables only, its own log
//! stream, `s3:GetObject` on exactly the crawled folder's objects and `s3:ListBucket` on the
//! bucket for that prefix only. (Not the managed `AWSGlueServiceRole`: `glue:*` on every
//! database and table of the account, and objects under any `*aws-glue-*` key.)
//!
//! Read with GetCrawlers (every crawler of the region, with its configuration), then GetTags
//! on those named with the pipeline's prefix; owned by tag. Created with its tags
//! (CreateCrawler `Tags`); every field changes in place with UpdateCrawler; deleted with
//! DeleteCrawler. Glue refuses both while the crawler runs (`CrawlerRunningException`:
//! "Removes a specified crawler … unless the crawler state is RUNNING", AWS Glue API,
//! "DeleteCrawler"), so a delete stops the crawl first (StopCrawler) and retries until Glue
//! accepts, and an update waits for the crawl to end; both also wait out
//! `SchedulerTransitioningException`.

use std::collections::HashMap;

use aws_sdk_glue::types::{CrawlerTargets, S3Target};
use serde_json::{json, Value};

use super::kit::wait::{wait_until, Poll};
use super::kit::Output;
use super::kit::{
    aws_error, owned_by, ownership_conflict, retry_while_role_propagates, AwsError, Context, Grant, GrantContext,
    LiveResource, NamedRead, ReadContext, ResourceKind, Scope, Tags,
};
use super::role;
use crate::iam::{bucket_key_grant, s3_key_context, s3_key_statement, Arns};
use crate::model::ResourceId;
use crate::model::{Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names};
use crate::names::{crawler_name, crawler_prefix, derived_crawler_role, iam_role_name};
use crate::spec;

pub struct Crawler;
pub const KIND: Kind = Kind::of(&Crawler);

/// A crawler is named in plans by its spec name.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// The CloudWatch Logs group every crawler writes to, one stream per crawler named after it
/// ("Viewing crawler logs" / "Crawler prerequisites", AWS Glue Developer Guide).
const CRAWLER_LOG_GROUP: &str = "/aws-glue/crawlers";

/// The catalog calls a crawl makes on the database it writes into: read the database, read,
/// create and update its tables and their partitions, and (for the `DEPRECATE_IN_DATABASE` and
/// `UPDATE_IN_DATABASE` behaviours Glue defaults to) mark tables and partitions deprecated —
/// the table actions of the `AWSGlueServiceRole` managed policy, on one database.
const CRAWLER_CATALOG_ACTIONS: [&str; 12] = [
    "glue:BatchCreatePartition",
    "glue:BatchGetPartition",
    "glue:BatchUpdatePartition",
    "glue:CreatePartition",
    "glue:CreateTable",
    "glue:GetDatabase",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:GetTable",
    "glue:GetTables",
    "glue:UpdatePartition",
    "glue:UpdateTable",
];

/// The crawler a spec entry should be.
#[derive(Debug, Clone, PartialEq)]
pub struct CrawlerConfig {
    pub glue_name: String,
    pub database: String,
    /// The IAM name of its role.
    pub role: String,
    /// `s3://bucket/folder/`.
    pub path: String,
    /// Glue's `cron(…)` form.
    pub schedule: String,
    pub table_prefix: Option<String>,
}

fn attributes(database: &str, role: &str, path: &str, schedule: &str, table_prefix: Option<&str>) -> Attributes {
    Attributes::from([
        ("database".to_string(), json!(database)),
        ("role".to_string(), json!(role)),
        ("targets".to_string(), json!([path])),
        ("schedule".to_string(), json!(schedule)),
        ("table_prefix".to_string(), json!(table_prefix.filter(|prefix| !prefix.is_empty()))),
    ])
}

impl DesiredConfig for CrawlerConfig {
    fn attributes(&self) -> Attributes {
        attributes(&self.database, &self.role, &self.path, &self.schedule, self.table_prefix.as_deref())
    }
}

/// The crawler as GetCrawlers returned it, and the ARN its tags were read under.
#[derive(Debug, Clone)]
pub struct Live {
    pub crawler: aws_sdk_glue::types::Crawler,
    pub arn: String,
}

impl Live {
    /// The role's IAM name: Glue returns the role as it was given (a name or an ARN).
    fn role(&self) -> &str {
        self.crawler.role().unwrap_or_default().rsplit('/').next().unwrap_or_default()
    }

    fn paths(&self) -> Vec<&str> {
        let targets = self.crawler.targets().map(CrawlerTargets::s3_targets).unwrap_or_default();
        targets.iter().filter_map(S3Target::path).collect()
    }

    fn schedule(&self) -> &str {
        self.crawler.schedule().and_then(|schedule| schedule.schedule_expression()).unwrap_or_default()
    }
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, names: &Names) -> (Attributes, Vec<ResourceId>) {
        let crawler = &self.crawler;
        let database = crawler.database_name().unwrap_or_default();
        let mut attributes = attributes(database, self.role(), "", self.schedule(), crawler.table_prefix());
        attributes.insert("targets".to_string(), json!(self.paths()));
        let depends_on =
            [database, self.role()].into_iter().filter_map(|physical| names.id(physical).cloned()).collect();
        (attributes, depends_on)
    }
}

impl KindRules for Crawler {
    fn name(&self) -> &'static str {
        "crawler"
    }
    fn rank(&self) -> u8 {
        200
    }
}

/// Exactly what a crawl of `bucket`'s `folder` reads: the folder's objects, and the bucket's
/// listing under that prefix only (`s3:prefix`, "Actions, resources, and condition keys for
/// Amazon S3"); `kms:Decrypt` through S3 where the bucket encrypts with a customer managed key.
fn crawler_policy(graph: &GraphContext, crawler: &str, database: &str, (bucket, folder): (&str, &str)) -> Value {
    let arns = graph.arns;
    let bucket_arn = arns.bucket(bucket);
    let objects = vec![format!("{bucket_arn}/{folder}*")];
    let (partition, region, account) = (&arns.partition, &arns.region, &arns.account_id);
    let group = format!("arn:{partition}:logs:{region}:{account}:log-group:{CRAWLER_LOG_GROUP}");
    let stream = format!("{group}:log-stream:{}", crawler_name(&graph.spec.pipeline, crawler));
    let mut statements = vec![
        json!({"Sid": "WriteThePipelinesTables", "Effect": "Allow", "Action": CRAWLER_CATALOG_ACTIONS,
               "Resource": [arns.glue_catalog(), arns.glue_database(database), arns.glue_table(database, "*")]}),
        json!({"Sid": "CreateTheCrawlersLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogGroup"], "Resource": [group.clone(), format!("{group}:*")]}),
        json!({"Sid": "WriteItsOwnLogStream", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [stream]}),
        json!({
            "Sid": "ListCrawledFolder",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [bucket_arn],
            "Condition": {"StringLike": {"s3:prefix": [format!("{folder}*")]}}
        }),
        json!({"Sid": "ReadCrawledObjects", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": objects.clone()}),
    ];
    let spec_bucket = graph.spec.buckets.iter().find(|b| b.name == bucket);
    if let Some((spec_bucket, grant)) = spec_bucket.and_then(|b| Some((b, bucket_key_grant(b, graph.arns)?))) {
        let context = s3_key_context(spec_bucket, graph.arns, &objects);
        statements.push(s3_key_statement("DecryptCrawledObjects", &grant, graph.arns, &context));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

impl ResourceKind for Crawler {
    type Desired = CrawlerConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        let Some(catalog) = &graph.spec.catalog else { return Vec::new() };
        let pipeline = &graph.spec.pipeline;
        let database = spec::database_name(graph.spec, catalog);
        let mut nodes = Vec::new();
        for crawler in &catalog.crawlers {
            let (Some((bucket, folder)), Ok(schedule)) =
                (spec::crawler_folder(graph.spec, crawler), spec::crawler_schedule(crawler))
            else {
                continue;
            };
            let role_name = derived_crawler_role(&crawler.name);
            let role_config = role::config(
                graph,
                &role_name,
                crate::iam::derived_trust_policy(graph.arns, "glue", None),
                Some(crawler_policy(graph, &crawler.name, &database, (bucket, &folder))),
                &[],
            );
            let config = CrawlerConfig {
                glue_name: crawler_name(pipeline, &crawler.name),
                database: database.clone(),
                role: iam_role_name(pipeline, &role_name, &graph.arns.region),
                path: format!("s3://{bucket}/{folder}"),
                schedule,
                table_prefix: crawler.table_prefix.clone(),
            };
            let depends_on =
                vec![super::catalog_database::id(&database), role::id(&role_name), super::bucket::id(bucket)];
            nodes.push(graph.node(role::id(&role_name), &catalog.tags, Vec::new(), role_config));
            nodes.push(graph.node(id(&crawler.name), &catalog.tags, depends_on, config));
        }
        nodes
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        let glue = &read.clients.glue;
        let prefix = crawler_prefix(read.pipeline);
        let crawlers: Vec<_> = list(glue)
            .await?
            .into_iter()
            .filter(|crawler| crawler.name().is_some_and(|n| n.starts_with(&prefix)))
            .collect();
        if crawlers.is_empty() {
            return Ok(NamedRead::default());
        }
        let account = read.account_id().await?;
        let tagged = futures::future::try_join_all(crawlers.into_iter().map(|crawler| async move {
            let name = crawler.name().unwrap_or_default();
            let (arn, tags) = match tags_of(read.clients, name, account).await? {
                // The emulator stacks serve Glue from moto, whose ARNs carry its own account
                // while the LocalStack stack's STS names another; moto answers GetTags on an
                // ARN it does not know with no tags (see `workgroup::ownership`).
                Some((_, tags)) if tags.is_empty() && read.clients.emulated => {
                    tags_of(read.clients, name, crate::aws::MOTO_ACCOUNT).await?
                }
                found => found,
            }
            .unzip();
            Ok::<_, AwsError>(arn.zip(tags).map(|(arn, tags)| (Live { crawler, arn }, tags)))
        }))
        .await?;
        let spec_names = read.names(KIND);
        let mut result = NamedRead::default();
        for (live, tags) in tagged.into_iter().flatten() {
            let glue_name = live.crawler.name().unwrap_or_default().to_string();
            let id = id(&glue_name[prefix.len()..]);
            if owned_by(&tags, read.pipeline) && super::kit::claimed_id(&tags, KIND).as_ref() == Some(&id) {
                result.found.push(LiveResource::new(id, &glue_name, tags, live));
            } else if spec_names.contains(&id.name) {
                result.conflicts.push(ownership_conflict(&id, &tags, read.pipeline, " (aws glue tag-resource)"));
            }
        }
        Ok(result)
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &CrawlerConfig,
    ) -> Result<String, AwsError> {
        let id = &resource.id;
        let role_arn = ctx.arns.role(&ctx.roles_path, &desired.role);
        let tags: HashMap<String, String> = resource.tags.clone().into_iter().collect();
        let what = id.to_string();
        // A role created moments ago: "Service is unable to assume provided role" until IAM
        // has propagated it.
        retry_while_role_propagates(role_not_ready, &what, &ctx.progress, || {
            let request = ctx
                .clients
                .glue
                .create_crawler()
                .name(&desired.glue_name)
                .role(&role_arn)
                .database_name(&desired.database)
                .targets(targets(&desired.path))
                .schedule(&desired.schedule)
                .set_table_prefix(desired.table_prefix.clone())
                .set_tags(Some(tags.clone()));
            async move { request.send().await.map_err(|error| aws_error(id, "CreateCrawler", error)) }
        })
        .await?;
        Ok(desired.glue_name.clone())
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &CrawlerConfig,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        let id = &resource.id;
        let glue = &ctx.clients.glue;
        let (before, _) = detail.describe(&live.physical_id, &Names::default());
        let after = desired.attributes();
        if ["database", "role", "targets", "schedule", "table_prefix"]
            .iter()
            .any(|field| before[*field] != after[*field])
        {
            let role_arn = ctx.arns.role(&ctx.roles_path, &desired.role);
            let what = id.to_string();
            let update = || {
                retry_while_role_propagates(role_not_ready, &what, &ctx.progress, || {
                    let request = glue
                        .update_crawler()
                        .name(&live.physical_id)
                        .role(&role_arn)
                        .database_name(&desired.database)
                        .targets(targets(&desired.path))
                        .schedule(&desired.schedule)
                        // An empty prefix clears one set before.
                        .table_prefix(desired.table_prefix.clone().unwrap_or_default());
                    async move { request.send().await.map_err(|error| aws_error(id, "UpdateCrawler", error)) }
                })
            };
            wait_until(id, "updated", ctx.wait, &ctx.progress, || async {
                match update().await {
                    Ok(_) => Ok(Poll::Ready),
                    Err(error) if error.has_code("CrawlerRunningException") => {
                        Ok(Poll::Pending("crawling (Glue updates a crawler only between crawls)".to_string()))
                    }
                    Err(error) if error.has_code("SchedulerTransitioningException") => {
                        Ok(Poll::Pending("changing its schedule state".to_string()))
                    }
                    Err(error) => Err(error),
                }
            })
            .await?;
        }
        super::catalog_database::retag(glue, id, &detail.arn, &live.tags, &resource.tags).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        let id = &live.id;
        let glue = &ctx.clients.glue;
        let name = &live.physical_id;
        wait_until(id, "deleted", ctx.wait, &ctx.progress, || async {
            match glue.delete_crawler().name(name).send().await.map_err(|error| aws_error(id, "DeleteCrawler", error)) {
                Ok(_) => Ok(Poll::Ready),
                Err(error) if error.is_not_found() => Ok(Poll::Ready),
                Err(error) if error.has_code("CrawlerRunningException") => {
                    stop(glue, id, name).await?;
                    Ok(Poll::Pending("crawling; stopping the crawl first".to_string()))
                }
                Err(error) if error.has_code("SchedulerTransitioningException") => {
                    Ok(Poll::Pending("changing its schedule state".to_string()))
                }
                Err(error) => Err(error),
            }
        })
        .await
    }

    fn outputs(&self, live: &LiveResource, detail: &Live, _arns: &Arns) -> Vec<Output> {
        vec![Output::new("name", &live.physical_id), Output::new("arn", &detail.arn)]
    }

    /// The catalog's crawlers by their name prefix (one the spec dropped is found the same way).
    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let crawlers = vec![ctx.arns.glue_crawler(&format!("{}*", crawler_prefix(&ctx.spec.pipeline)))];
        let specs = ctx.spec.catalog.iter().flat_map(|catalog| &catalog.crawlers);
        let named: Vec<String> = specs
            .clone()
            .map(|crawler| ctx.arns.glue_crawler(&crawler_name(&ctx.spec.pipeline, &crawler.name)))
            .collect();
        let roles: Vec<String> = specs.map(|crawler| derived_crawler_role(&crawler.name)).collect();
        let create = if named.is_empty() { Vec::new() } else { vec!["*".to_string()] };
        let change = ["glue:UpdateCrawler", "glue:StopCrawler", "glue:TagResource", "glue:UntagResource"];
        vec![
            // How the pipeline's crawlers are found (by their name prefix, then their tags).
            Grant::unscoped_reads(&["glue:GetCrawlers"]),
            Grant::new("ReadCrawlers", Scope::Plan, &["glue:GetTags"], crawlers.clone()),
            // CreateCrawler has no resource type, only `aws:RequestTag` and `aws:TagKeys`
            // (Service Authorization Reference, "AWS Glue"): `*`, with the pipeline's tag
            // required; its tags are then authorised by TagResource on the crawler's name.
            Grant::new("CreateTaggedCrawlers", Scope::Apply, &["glue:CreateCrawler"], create).when(ctx.tagging()),
            Grant::new("ChangeCrawlers", Scope::Apply, &change, named.clone()),
            Grant::new("ChangeCrawlers", Scope::Destroy, &["glue:DeleteCrawler"], named),
            // A crawler the spec dropped: only while it carries the pipeline's tag (the
            // `crawler` resource type takes `aws:ResourceTag`).
            Grant::new("OwnCrawlersTheSpecDropped", Scope::Destroy, &["glue:DeleteCrawler"], crawlers)
                .when(ctx.tagged()),
            ctx.pass_roles("glue", &roles),
        ]
    }
}

/// The crawler's ARN under `account` and its tags (GetTags), or None when it is gone (deleted
/// between the listing and this read).
async fn tags_of(clients: &super::Clients, name: &str, account: &str) -> Result<Option<(String, Tags)>, AwsError> {
    let arn = Arns::new(account, &clients.region).glue_crawler(name);
    match clients.glue.get_tags().resource_arn(&arn).send().await {
        Ok(output) => Ok(Some((arn, output.tags().cloned().unwrap_or_default().into_iter().collect()))),
        Err(error) => aws_error(id(name), "GetTags", error).unless_not_found(None),
    }
}

fn targets(path: &str) -> CrawlerTargets {
    CrawlerTargets::builder().s3_targets(S3Target::builder().path(path).build()).build()
}

/// StopCrawler; one already stopping or stopped is what was asked.
async fn stop(glue: &aws_sdk_glue::Client, id: &ResourceId, name: &str) -> Result<(), AwsError> {
    match glue.stop_crawler().name(name).send().await {
        Ok(_) => Ok(()),
        Err(error) => {
            let error = aws_error(id, "StopCrawler", error);
            if error.has_code("CrawlerStoppingException") || error.has_code("CrawlerNotRunningException") {
                Ok(())
            } else {
                Err(error)
            }
        }
    }
}

/// Every crawler of the region (GetCrawlers, paginated).
async fn list(glue: &aws_sdk_glue::Client) -> Result<Vec<aws_sdk_glue::types::Crawler>, AwsError> {
    let mut crawlers = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = glue
            .get_crawlers()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|error| aws_error("crawler", "GetCrawlers", error))?;
        crawlers.extend(page.crawlers().iter().cloned());
        token = page.next_token().filter(|next| !next.is_empty()).map(str::to_string);
        if token.is_none() {
            return Ok(crawlers);
        }
    }
}

/// Glue's answer to `CreateCrawler`/`UpdateCrawler` while a role created seconds ago cannot be
/// assumed yet: `InvalidInputException` "Service is unable to assume provided role. Please verify
/// role's TrustPolicy" (the Terraform provider retries the same,
/// hashicorp/terraform-provider-aws#30371).
fn role_not_ready(error: &AwsError) -> bool {
    error.has_code("InvalidInputException") && error.message.to_lowercase().contains("unable to assume")
}

#[cfg(test)]
mod tests {
    //! The derived role and crawler from a spec, the documented GetCrawlers shape read back as
    //! the same attributes, and the update and delete paths replayed against Glue's documented
    //! answers while a crawl runs (moto has no UpdateCrawler, so this is where that path is
    //! tested).
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use aws_sdk_glue::Client;
    use aws_smithy_mocks::{mock, Rule, RuleMode};
    use aws_smithy_runtime_api::http::{Response, StatusCode};
    use aws_smithy_types::body::SdkBody;

    use super::*;

    #[test]
    fn a_fresh_role_is_recognised_by_glues_own_error() {
        let error =
            |code: &str, message: &str| AwsError { code: Some(code.to_string()), ..AwsError::new("x", "Op", message) };
        let glue = error(
            "InvalidInputException",
            "Service is unable to assume provided role. Please verify role's TrustPolicy",
        );
        assert!(role_not_ready(&glue));
        assert!(!role_not_ready(&error("InvalidInputException", "Invalid schedule expression")));
    }
    use crate::model::LiveState;

    const SPEC: &str = "version: 1\npipeline: p\nregion: eu-west-1\nbuckets: [{name: lake, encryption: sse-kms, kms_key: 1234abcd-12ab-34cd-56ef-1234567890ab}]\nstreams: [{name: s}]\ndeliveries: [{name: d, from: s, to: {bucket: lake, prefix: 'raw/events/!{timestamp:yyyy/MM/dd}/', error_prefix: errors/}}]\ncatalog:\n  tags: {team: data}\n  crawlers: [{name: raw, delivery: d, cron: '0 2 * * *', table_prefix: crawled_}]\n";

    fn nodes() -> Vec<DesiredResource> {
        let spec: spec::Spec = serde_saphyr::from_str(SPEC).unwrap();
        assert_eq!(spec::validate(&spec), []);
        let arns = Arns::new("123456789012", "eu-west-1");
        Crawler.desired(&GraphContext { spec: &spec, arns: &arns, now: chrono::Utc::now() })
    }

    #[test]
    fn a_crawler_runs_with_a_role_that_reads_exactly_its_folder() {
        let nodes = nodes();
        let ids: Vec<String> = nodes.iter().map(|node| node.id.to_string()).collect();
        assert_eq!(ids, ["role/raw-crawler", "crawler/raw"]);
        let crawler = nodes[1].config::<CrawlerConfig>().unwrap();
        assert_eq!(crawler.glue_name, "pipectl-p-raw");
        assert_eq!((crawler.database.as_str(), crawler.role.as_str()), ("p", "p-raw-crawler-euw1"));
        assert_eq!((crawler.path.as_str(), crawler.schedule.as_str()), ("s3://lake/raw/events/", "cron(0 2 * * ? *)"));
        assert_eq!(nodes[1].tags.get("team").map(String::as_str), Some("data"));
        let depends_on: Vec<String> = nodes[1].depends_on.iter().map(ToString::to_string).collect();
        assert_eq!(depends_on, ["catalog_database/p", "role/raw-crawler", "bucket/lake"]);
        let role = nodes[0].config::<role::RoleConfig>().unwrap();
        assert_eq!(role.trust["Statement"][0]["Principal"]["Service"], json!(["glue.amazonaws.com"]));
        // No managed policy (AWSGlueServiceRole is glue:* on every database): the catalog
        // actions on the pipeline's database and its tables, and its own log stream.
        assert!(role.managed.is_empty(), "{:?}", role.managed);
        let statements = role.inline.as_ref().unwrap()["Statement"].as_array().unwrap().clone();
        let sid = |sid: &str| statements.iter().find(|s| s["Sid"] == sid).cloned().unwrap_or_default();
        assert_eq!(sid("ListCrawledFolder")["Resource"], json!(["arn:aws:s3:::lake"]));
        assert_eq!(sid("ListCrawledFolder")["Condition"]["StringLike"]["s3:prefix"], json!(["raw/events/*"]));
        assert_eq!(sid("ReadCrawledObjects")["Action"], json!(["s3:GetObject"]));
        assert_eq!(sid("ReadCrawledObjects")["Resource"], json!(["arn:aws:s3:::lake/raw/events/*"]));
        // The bucket uses an S3 Bucket Key (the default for SSE-KMS): the context is its ARN.
        let decrypt = sid("DecryptCrawledObjects");
        assert_eq!(
            decrypt["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"],
            json!(["arn:aws:s3:::lake"])
        );
        let glue = "arn:aws:glue:eu-west-1:123456789012";
        let catalog = sid("WriteThePipelinesTables");
        assert_eq!(
            catalog["Resource"],
            json!([format!("{glue}:catalog"), format!("{glue}:database/p"), format!("{glue}:table/p/*")])
        );
        assert!(crate::iam::wildcard_actions(role.inline.as_ref().unwrap()).is_empty());
        let logs = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws-glue/crawlers";
        assert_eq!(sid("WriteItsOwnLogStream")["Resource"], json!([format!("{logs}:log-stream:pipectl-p-raw")]));
        assert_eq!(sid("CreateTheCrawlersLogGroup")["Resource"], json!([logs, format!("{logs}:*")]));
        assert_eq!(statements.len(), 6);
    }

    fn glue_client(mode: RuleMode, rules: &[&Rule]) -> Client {
        crate::resources::test_support::mock_sdk_client!(aws_sdk_glue, "eu-west-1", mode, rules)
    }

    /// Glue's JSON error for `code` (HTTP 400, as the API reference lists these errors).
    fn glue_error(code: &str, message: &str) -> Response {
        let body = json!({"__type": code, "Message": message}).to_string();
        Response::new(StatusCode::try_from(400).unwrap(), SdkBody::from(body))
    }

    /// GetCrawlers' documented shape of the crawler as it was created: the role as given (an
    /// ARN), the schedule with its state.
    const LISTED: &str = r#"{"Crawlers": [{"Name": "pipectl-p-raw", "Role": "arn:aws:iam::123456789012:role/pipectl/p/eu-west-1/p-raw-crawler-euw1",
        "Targets": {"S3Targets": [{"Path": "s3://lake/raw/events/", "Exclusions": []}]}, "DatabaseName": "p",
        "Schedule": {"ScheduleExpression": "cron(0 2 * * ? *)", "State": "SCHEDULED"}, "TablePrefix": "crawled_",
        "State": "RUNNING", "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "DEPRECATE_IN_DATABASE"}}]}"#;

    async fn listed() -> Live {
        let rule = mock!(Client::get_crawlers)
            .then_http_response(|| Response::new(StatusCode::try_from(200).unwrap(), SdkBody::from(LISTED)));
        let mut crawlers = list(&glue_client(RuleMode::Sequential, &[&rule])).await.unwrap();
        Live {
            crawler: crawlers.remove(0),
            arn: "arn:aws:glue:eu-west-1:123456789012:crawler/pipectl-p-raw".to_string(),
        }
    }

    #[tokio::test]
    async fn a_crawler_reads_back_as_the_attributes_it_was_created_with() {
        let nodes = nodes();
        let (attributes, _) = listed().await.describe("pipectl-p-raw", &Names::default());
        assert_eq!(attributes, nodes[1].config::<CrawlerConfig>().unwrap().attributes());
    }

    fn live(detail: Live) -> LiveResource {
        let mut tags = Tags::new();
        tags.insert(crate::names::PIPELINE_TAG.to_string(), "p".to_string());
        tags.insert(crate::names::RESOURCE_TAG.to_string(), "crawler/raw".to_string());
        tags.insert("team".to_string(), "data".to_string());
        LiveResource::new(id("raw"), "pipectl-p-raw", tags, detail)
    }

    fn context(glue: Client) -> Context {
        let mut clients = super::super::test_support::clients();
        clients.glue = glue;
        let state = LiveState { account_id: "123456789012".to_string(), ..LiveState::default() };
        super::super::test_support::context(clients, Duration::from_secs(5), &state)
    }

    #[tokio::test]
    async fn an_update_waits_for_the_crawl_to_end_and_changes_the_schedule_in_place() {
        let detail = listed().await;
        let nodes = nodes();
        let mut desired = nodes[1].config::<CrawlerConfig>().unwrap().clone();
        desired.schedule = "cron(30 3 * * ? *)".to_string();
        let running = mock!(Client::update_crawler).then_http_response(|| {
            glue_error("CrawlerRunningException", "Crawler with name pipectl-p-raw has already started")
        });
        let sent = Arc::new(AtomicUsize::new(0));
        let counted = sent.clone();
        let updated = mock!(Client::update_crawler)
            .match_requests(move |request| {
                counted.fetch_add(1, Ordering::SeqCst);
                request.name() == Some("pipectl-p-raw")
                    && request.schedule() == Some("cron(30 3 * * ? *)")
                    && request.role().is_some_and(|role| role.ends_with("/p-raw-crawler-euw1"))
                    && request.table_prefix() == Some("crawled_")
            })
            .then_output(|| aws_sdk_glue::operation::update_crawler::UpdateCrawlerOutput::builder().build());
        let ctx = context(glue_client(RuleMode::Sequential, &[&running, &updated]));
        let live = live(detail.clone());
        Crawler.update(&ctx, &nodes[1], &desired, &live, &detail).await.unwrap();
        assert_eq!((running.num_calls(), updated.num_calls(), sent.load(Ordering::SeqCst)), (1, 1, 1));
    }

    #[tokio::test]
    async fn a_running_crawler_is_stopped_before_it_is_deleted() {
        let detail = listed().await;
        let running = mock!(Client::delete_crawler)
            .then_http_response(|| glue_error("CrawlerRunningException", "Crawler with name pipectl-p-raw is running"));
        let stop = mock!(Client::stop_crawler)
            .then_output(|| aws_sdk_glue::operation::stop_crawler::StopCrawlerOutput::builder().build());
        let stopping = mock!(Client::delete_crawler).then_http_response(|| {
            glue_error("CrawlerRunningException", "Crawler with name pipectl-p-raw is stopping")
        });
        let already = mock!(Client::stop_crawler)
            .then_http_response(|| glue_error("CrawlerStoppingException", "Crawler is stopping"));
        let deleted = mock!(Client::delete_crawler)
            .then_output(|| aws_sdk_glue::operation::delete_crawler::DeleteCrawlerOutput::builder().build());
        let ctx = context(glue_client(RuleMode::Sequential, &[&running, &stop, &stopping, &already, &deleted]));
        Crawler.delete(&ctx, &live(detail.clone()), &detail).await.unwrap();
        assert_eq!((stop.num_calls(), already.num_calls(), deleted.num_calls()), (1, 1, 1));
    }

    #[test]
    fn crawlers_are_changed_by_exact_name_created_on_star_with_the_tag_and_run_with_their_role_passed_to_glue() {
        use crate::iam::deployer::Purpose;
        use crate::resources::test_support::{assert_granted, granted, sids_allowing, statement};
        let spec: spec::Spec = serde_saphyr::from_str(SPEC).unwrap();
        assert_granted(
            &super::Crawler,
            &spec,
            &[
                ("glue:GetCrawlers", &["ReadWhatCannotBeScoped"]),
                ("glue:GetTags", &["ReadCrawlers"]),
                ("glue:CreateCrawler", &["CreateTaggedCrawlers"]),
                ("glue:StopCrawler", &["ChangeCrawlers"]),
                ("glue:DeleteCrawler", &["ChangeCrawlers", "OwnCrawlersTheSpecDropped"]),
                ("iam:PassRole", &["PassCrawlerRolesToGlue"]),
            ],
        );
        let all = granted(&super::Crawler, &spec, Purpose::Everything);
        let prefix = serde_json::json!(["arn:aws:glue:eu-west-1:123456789012:crawler/pipectl-p-*"]);
        assert_eq!(statement(&all, "ReadCrawlers")["Resource"], prefix);
        // By exact name: `pipectl-p-*` would reach pipeline `p-b`'s crawlers.
        let named = serde_json::json!(["arn:aws:glue:eu-west-1:123456789012:crawler/pipectl-p-raw"]);
        assert_eq!(statement(&all, "ChangeCrawlers")["Resource"], named);
        let dropped = statement(&all, "OwnCrawlersTheSpecDropped");
        assert_eq!((&dropped["Resource"], &dropped["Action"]), (&prefix, &serde_json::json!(["glue:DeleteCrawler"])));
        assert_eq!(dropped["Condition"]["StringEquals"]["aws:ResourceTag/pipectl:pipeline"], "p");
        // CreateCrawler has no resource type (Service Authorization Reference): `*`, tag required.
        let create = statement(&all, "CreateTaggedCrawlers");
        assert_eq!(create["Resource"], serde_json::json!(["*"]));
        assert_eq!(create["Condition"]["StringEquals"]["aws:RequestTag/pipectl:pipeline"], "p");
        let pass = statement(&all, "PassCrawlerRolesToGlue");
        assert_eq!(
            pass["Resource"],
            serde_json::json!(["arn:aws:iam::123456789012:role/pipectl/p/eu-west-1/p-raw-crawler-euw1"])
        );
        assert_eq!(pass["Condition"]["StringEquals"]["iam:PassedToService"], "glue.amazonaws.com");
        assert!(sids_allowing(&all, "glue:StartCrawler").is_empty(), "Glue starts them on their schedule");
        use crate::iam::evaluate::{allowed, Request};
        let create = Request::new("glue:CreateCrawler", "*");
        assert!(allowed(&all, &create.clone().with("aws:RequestTag/pipectl:pipeline", &["p"])));
        assert!(!allowed(&all, &create.clone().with("aws:RequestTag/pipectl:pipeline", &["q"])));
        assert!(!allowed(&all, &create), "an untagged crawler");
        // A spec without crawlers creates none, and deletes an earlier one only by its tag.
        let none = granted(&super::Crawler, &crate::spec::SpecBuilder::new().build(), Purpose::Everything);
        assert!(sids_allowing(&none, "glue:CreateCrawler").is_empty());
        assert_eq!(sids_allowing(&none, "glue:DeleteCrawler"), ["OwnCrawlersTheSpecDropped"]);
    }
}

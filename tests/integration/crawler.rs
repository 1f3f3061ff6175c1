//! A catalog crawler on a real emulator (Glue on moto in both stacks): apply creates the crawler
//! tagged, over the delivery's folder, on Glue's form of the spec's cron, with the role derived
//! for it (trusted by Glue, reading exactly that folder); a second plan is empty; destroy leaves
//! neither crawler nor role. (moto has no UpdateCrawler: the update path is replayed in the
//! kind's unit tests.)

use crate::support::{assert_gone, not_found, pipectl, runtime, unique, Scratch, Stack};

fn spec(pipeline: &str) -> String {
    format!(
        "version: 1
pipeline: {pipeline}
region: us-east-1
buckets: [{{name: {pipeline}-lake}}]
streams: [{{name: {pipeline}-events}}]
deliveries:
  - name: {pipeline}-d
    from: {pipeline}-events
    to: {{bucket: {pipeline}-lake, prefix: 'raw/events/!{{timestamp:yyyy/MM/dd}}/', error_prefix: 'errors/'}}
catalog:
  tags: {{team: data}}
  crawlers:
    - {{name: raw, delivery: {pipeline}-d, cron: '30 2 * * MON-FRI', table_prefix: crawled_}}
"
    )
}

/// What GetCrawler holds: (targets, schedule, role, database, table prefix).
type CrawlerView = (Vec<String>, String, String, String, String);

fn crawler_lifecycle(stack: Stack) {
    require!(stack);
    let pipeline = unique("crawl", stack);
    let glue_name = format!("pipectl-{pipeline}-raw");
    let role_name = format!("{pipeline}-raw-crawler-use1");
    let scratch = Scratch::new(&format!("crawler-{}", stack.tag()));
    let file = scratch.write("crawler.yaml", &spec(&pipeline));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);

    let (view, tags, trust, inline) = runtime().block_on(async {
        let clients = stack.clients().await;
        let found = clients.glue.get_crawler().name(&glue_name).send().await.expect("GetCrawler");
        let crawler = found.crawler().expect("a crawler");
        let targets = crawler.targets().map(|t| t.s3_targets()).unwrap_or_default();
        let view: CrawlerView = (
            targets.iter().filter_map(|t| t.path()).map(str::to_string).collect(),
            crawler.schedule().and_then(|s| s.schedule_expression()).unwrap_or_default().to_string(),
            crawler.role().unwrap_or_default().to_string(),
            crawler.database_name().unwrap_or_default().to_string(),
            crawler.table_prefix().unwrap_or_default().to_string(),
        );
        // The account Glue's ARNs carry (moto's in both stacks): the database's catalog.
        let database = clients.glue.get_database().name(crawler.database_name().unwrap_or_default()).send().await;
        let account =
            database.expect("GetDatabase").database().and_then(|d| d.catalog_id()).expect("CatalogId").to_string();
        let arn = format!("arn:aws:glue:us-east-1:{account}:crawler/{glue_name}");
        let tags = clients.glue.get_tags().resource_arn(&arn).send().await.expect("GetTags");
        let role = clients.iam.get_role().role_name(&role_name).send().await.expect("GetRole");
        let trust = role.role().and_then(|r| r.assume_role_policy_document()).unwrap_or_default().to_string();
        let policy = clients.iam.get_role_policy().role_name(&role_name).policy_name("pipectl").send().await;
        let inline = policy.expect("GetRolePolicy").policy_document().to_string();
        (view, tags.tags().cloned().unwrap_or_default(), trust, inline)
    });
    let (targets, schedule, role, database, table_prefix) = view;
    assert_eq!(targets, [format!("s3://{pipeline}-lake/raw/events/")]);
    assert_eq!(schedule, "cron(30 2 ? * MON-FRI *)", "the spec's cron in Glue's six-field form");
    assert!(role.ends_with(&format!("/{role_name}")), "{role}");
    assert_eq!(database, pipeline.replace('-', "_"));
    assert_eq!(table_prefix, "crawled_");
    assert_eq!(tags.get("pipectl:pipeline"), Some(&pipeline), "{tags:?}");
    assert_eq!(tags.get("pipectl:resource").map(String::as_str), Some("crawler/raw"));
    assert_eq!(tags.get("team").map(String::as_str), Some("data"));
    let trust = pipectl::iam::parse_document(&trust).expect("a trust policy");
    assert_eq!(trust["Statement"][0]["Principal"]["Service"], serde_json::json!(["glue.amazonaws.com"]), "{trust}");
    let inline = pipectl::iam::parse_document(&inline).expect("an inline policy").to_string();
    assert!(inline.contains(&format!("arn:aws:s3:::{pipeline}-lake/raw/events/*")), "{inline}");

    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    // The stream and the delivery hold data: destroy needs consent for those, not the crawler.
    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    // The crawler and its role are gone, as Glue and IAM document a missing one; nothing else of
    // the pipeline remains either (every list paged).
    let (crawler, role) = runtime().block_on(async {
        let clients = stack.clients().await;
        let crawler = clients.glue.get_crawler().name(&glue_name).send().await;
        (crawler, clients.iam.get_role().role_name(&role_name).send().await)
    });
    assert_gone(&format!("crawler {glue_name}"), crawler, not_found::GLUE);
    assert_gone(&format!("role {role_name}"), role, not_found::IAM);
    let left = runtime().block_on(crate::remains::remains(stack, &pipeline, &[]));
    assert!(left.is_empty(), "destroy leaves nothing of {pipeline}: {left:#?}");
}

on_both_stacks!(crawler_lifecycle);

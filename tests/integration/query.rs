//! The query workgroup on a real emulator (Athena on moto in both stacks): the workgroup named
//! after the pipeline with its results location, encryption, enforcement and cutoff, the named
//! queries it saves (database defaulting to the catalog's), the engine version it selects, and
//! the lifecycle rule that expires results on the bucket, read back with the SDK; the plan
//! converges; a cutoff edit and an engine version edit are each planned as an in-place update (moto has no `UpdateWorkGroup`: the update itself is covered by
//! `resources::workgroup`'s replayed responses); a query someone saved in the workgroup keeps
//! it from being deleted without `--allow-destroy`; destroy leaves nothing.

use crate::support::{changed_fields, pipectl, plan_actions, runtime, unique, Scratch, Stack};

fn spec(pipeline: &str, cutoff: &str, engine: &str) -> String {
    format!(
        "version: 1
pipeline: {pipeline}
region: us-east-1
buckets: [{{name: {pipeline}-lake}}]
catalog:
  tables:
    - name: sessions
      location: {{bucket: {pipeline}-lake, prefix: curated/sessions/}}
      columns: [{{name: session_id, type: string}}]
query:
  results_expire_days: 3
  bytes_scanned_cutoff: {cutoff}
  {engine}
  tags: {{team: analysts}}
  named_queries:
    - name: session-count
      description: How many sessions
      query: SELECT count(*) FROM sessions
    - name: elsewhere
      database: other_db
      query: SELECT 1
"
    )
}

/// A named query as read back: (name, database, query, description).
type Saved = (String, String, String, String);

async fn saved_queries(athena: &aws_sdk_athena::Client, workgroup: &str) -> Vec<Saved> {
    let ids = athena.list_named_queries().work_group(workgroup).send().await.expect("ListNamedQueries");
    let mut saved = Vec::new();
    for id in ids.named_query_ids() {
        let query = athena.get_named_query().named_query_id(id).send().await.expect("GetNamedQuery");
        let query = query.named_query().expect("a named query");
        saved.push((
            query.name().to_string(),
            query.database().to_string(),
            query.query_string().to_string(),
            query.description().unwrap_or_default().to_string(),
        ));
    }
    saved.sort();
    saved
}

fn query_lifecycle(stack: Stack) {
    require!(stack);
    let pipeline = unique("query", stack);
    let database = pipeline.replace('-', "_");
    let scratch = Scratch::new(&format!("query-{}", stack.tag()));
    let pinned = "engine_version: Athena engine version 3";
    let file = scratch.write("query.yaml", &spec(&pipeline, "1GB", pinned));
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);

    let (configuration, tags, saved, rules) = runtime().block_on(async {
        let clients = stack.clients().await;
        let found = clients.athena.get_work_group().work_group(&pipeline).send().await.expect("GetWorkGroup");
        let configuration = found.work_group().and_then(|w| w.configuration()).cloned().expect("a configuration");
        // Athena is moto's in both stacks, and so is the account in its ARNs.
        let arn = format!("arn:aws:athena:us-east-1:123456789012:workgroup/{pipeline}");
        let tags = clients.athena.list_tags_for_resource().resource_arn(&arn).send().await.expect("tags");
        let tags: Vec<(String, String)> = tags
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string()))
            .collect();
        let lifecycle = clients
            .s3
            .get_bucket_lifecycle_configuration()
            .bucket(format!("{pipeline}-lake"))
            .send()
            .await
            .expect("GetBucketLifecycleConfiguration");
        (configuration, tags, saved_queries(&clients.athena, &pipeline).await, lifecycle.rules().to_vec())
    });
    let results = configuration.result_configuration().expect("a result configuration");
    assert_eq!(results.output_location(), Some(format!("s3://{pipeline}-lake/athena-results/").as_str()));
    let encryption = results.encryption_configuration().expect("encryption");
    assert_eq!((encryption.encryption_option().as_str(), encryption.kms_key()), ("SSE_S3", None));
    assert_eq!(configuration.enforce_work_group_configuration(), Some(true));
    assert_eq!(configuration.publish_cloud_watch_metrics_enabled(), Some(true));
    assert_eq!(configuration.bytes_scanned_cutoff_per_query(), Some(1_000_000_000));
    let engine = configuration.engine_version().and_then(|e| e.selected_engine_version());
    assert_eq!(engine, Some("Athena engine version 3"));
    assert!(tags.contains(&("pipectl:pipeline".to_string(), pipeline.clone())), "{tags:?}");
    assert!(tags.contains(&("team".to_string(), "analysts".to_string())), "{tags:?}");
    assert_eq!(
        saved,
        [
            ("elsewhere".into(), "other_db".into(), "SELECT 1".into(), "[saved by pipectl]".into()),
            (
                "session-count".into(),
                database.clone(),
                "SELECT count(*) FROM sessions".into(),
                "How many sessions [saved by pipectl]".into()
            ),
        ]
    );
    let expiry = rules.iter().find(|rule| rule.id() == Some("pipectl-athena-results")).expect("the results rule");
    let prefix = expiry.filter().and_then(|filter| filter.prefix());
    assert_eq!(prefix, Some("athena-results/"));
    assert_eq!(expiry.expiration().and_then(|e| e.days()), Some(3));

    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // A new cutoff is an in-place UpdateWorkGroup of that one field.
    let raised = scratch.write("raised.yaml", &spec(&pipeline, "20GB", pinned));
    let plan = pipectl(stack, &["plan", "-f", &raised, "--output", "json"]).expect(0).json();
    let workgroup = format!("workgroup/{pipeline}");
    assert_eq!(plan_actions(&plan), [(workgroup.clone(), "update".to_string())]);
    assert_eq!(changed_fields(&plan, &workgroup), ["bytes_scanned_cutoff"]);
    // Leaving the version to Athena (AUTO, the default) is an in-place update of that field.
    let auto = scratch.write("auto.yaml", &spec(&pipeline, "1GB", ""));
    let plan = pipectl(stack, &["plan", "-f", &auto, "--output", "json"]).expect(0).json();
    assert_eq!(plan_actions(&plan), [(workgroup.clone(), "update".to_string())]);
    assert_eq!(changed_fields(&plan, &workgroup), ["engine_version"]);

    // A query someone saved in the workgroup goes with it: destroy needs consent.
    runtime().block_on(async {
        let clients = stack.clients().await;
        clients
            .athena
            .create_named_query()
            .work_group(&pipeline)
            .name("analyst-adhoc")
            .database(&database)
            .query_string("SELECT 42")
            .send()
            .await
            .expect("CreateNamedQuery");
    });
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    let refused = pipectl(stack, &["destroy", "-f", &file, "--auto-approve"]).expect(1);
    assert!(refused.stderr.contains("analyst-adhoc"), "the query that would be lost is named:\n{}", refused.stderr);
    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
    let left = runtime().block_on(async {
        let clients = stack.clients().await;
        let read = clients.athena.get_work_group().work_group(&pipeline).send().await;
        let found = crate::support::found(&format!("workgroup {pipeline}"), read, crate::support::not_found::WORKGROUP);
        found.and_then(|output| output.work_group().map(|w| w.name().to_string()))
    });
    assert_eq!(left, None, "the workgroup is deleted");
}

on_both_stacks!(query_lifecycle);

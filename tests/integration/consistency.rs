//! The eventual-consistency and per-call-limit rules of pipectl-proxy that a small pipeline meets
//! on its own, each on both stacks (the reference example meets them all in `fidelity.rs`):
//!
//! - the first locked command in a region creates the lock table, and DynamoDB's `DescribeTable`
//!   does not find it for 2 s (`fresh-table`): apply waits it out and says so (issue 22, item 8);
//! - twelve new pipeline-wide tags reach a stream although Kinesis takes at most 10 tags per
//!   `AddTagsToStream` (`kinesis-tag-limit`; issue 27, item 3).

use pipectl::names::LOCK_TABLE;

use crate::fidelity::clients_through;
use crate::proxy::StackProxy;
use crate::support::{runtime, unique, Scratch, Stack};

/// A region no other test uses, so that its lock table can be deleted to be created afresh; one
/// per stack, since both stacks keep DynamoDB on moto.
fn fresh_region(stack: Stack) -> &'static str {
    match stack {
        Stack::LocalStack => "ca-central-1",
        Stack::Moto => "sa-east-1",
    }
}

fn stream_spec(pipeline: &str, tags: usize) -> String {
    let tags: String = (0..tags).map(|i| format!("  extra{i:02}: value{i:02}\n")).collect();
    let tags = if tags.is_empty() { String::new() } else { format!("tags:\n{tags}") };
    format!("version: 1\npipeline: {pipeline}\nregion: us-east-1\n{tags}streams:\n  - {{name: {pipeline}-events, shards: 1}}\n")
}

/// How often the proxy's `rule` answered or rewrote `operation`.
fn fired(proxy: &StackProxy, entry: &str) -> u64 {
    proxy.stats()["fidelity"][entry].as_u64().unwrap_or(0)
}

fn the_first_lock_waits_for_describe_table_to_find_the_new_table(stack: Stack) {
    require!(stack);
    let scratch = Scratch::new(&format!("fresh-table-{}", stack.tag()));
    let pipeline = unique("ftab", stack);
    let file = scratch.write("spec.yaml", &stream_spec(&pipeline, 0));
    let proxy = StackProxy::start(stack, &["--fidelity-rules", "fresh-table", "--consistency-secs", "2"]);
    let region = fresh_region(stack);
    runtime().block_on(async {
        let dynamodb = clients_through(&proxy, region).await.dynamodb;
        if dynamodb.delete_table().table_name(LOCK_TABLE).send().await.is_ok() {
            // Wait until it is gone, so that apply creates it again.
            for _ in 0..50 {
                if dynamodb.describe_table().table_name(LOCK_TABLE).send().await.is_err() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    });
    let run = proxy.pipectl(&["apply", "-f", &file, "--auto-approve", "--region", region]);
    assert_eq!(
        run.code, 0,
        "apply failed while DescribeTable could not find the new lock table:\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(run.stderr.contains("creating the lock table"), "{}", run.stderr);
    assert!(run.stderr.contains("does not list the new table yet"), "the wait is said: {}", run.stderr);
    assert!(fired(&proxy, "fresh-table dynamodb:DescribeTable") >= 1, "the rule never answered: {}", proxy.stats());
    proxy.pipectl(&["destroy", "-f", &file, "--auto-approve", "--allow-destroy", "--region", region]).expect(0);
}

on_both_stacks!(the_first_lock_waits_for_describe_table_to_find_the_new_table);

fn twelve_new_pipeline_tags_reach_a_stream_ten_at_a_time(stack: Stack) {
    require!(stack);
    let scratch = Scratch::new(&format!("kinesis-tags-{}", stack.tag()));
    let pipeline = unique("ktag", stack);
    let proxy = StackProxy::start(stack, &["--fidelity-rules", "kinesis-tag-limit"]);
    let file = scratch.write("spec.yaml", &stream_spec(&pipeline, 0));
    proxy.pipectl(&["apply", "-f", &file, "--auto-approve"]).expect(0);
    let file = scratch.write("spec.yaml", &stream_spec(&pipeline, 12));
    let run = proxy.pipectl(&["apply", "-f", &file, "--auto-approve"]);
    assert_eq!(run.code, 0, "twelve new tags did not reach the stream:\n{}\n{}", run.stdout, run.stderr);
    assert_eq!(fired(&proxy, "kinesis-tag-limit kinesis:AddTagsToStream"), 0, "{}", proxy.stats());
    let tags = runtime().block_on(async {
        let kinesis = stack.clients().await.kinesis;
        let listed = kinesis.list_tags_for_stream().stream_name(format!("{pipeline}-events")).limit(50).send().await;
        listed.expect("ListTagsForStream").tags().iter().map(|tag| tag.key().to_string()).collect::<Vec<_>>()
    });
    let extra = tags.iter().filter(|key| key.starts_with("extra")).count();
    assert_eq!(extra, 12, "{tags:?}");
    proxy.pipectl(&["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    proxy.pipectl(&["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

on_both_stacks!(twelve_new_pipeline_tags_reach_a_stream_ten_at_a_time);

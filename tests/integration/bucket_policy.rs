//! The TLS-only bucket-policy statement and `BucketOwnerEnforced` on a real emulator: read back
//! with the SDK after apply, no drift on the next plan, a user's statement kept when pipectl
//! restores its own, and what each emulator does with a plain-HTTP request under the statement
//! (see localstack/README.md; the requests below go to it over plain HTTP).

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ObjectOwnership, OwnershipControls, OwnershipControlsRule};
use serde_json::{json, Value};

use crate::support::{pipectl, runtime, unique, Scratch, Stack};

const SID: &str = "PipectlDenyInsecureTransport";

/// The bucket's policy and object ownership, as the SDK reads them.
fn read_back(stack: Stack, bucket: &str) -> (Value, String) {
    runtime().block_on(async {
        let s3 = stack.clients().await.s3;
        let policy = s3.get_bucket_policy().bucket(bucket).send().await.expect("GetBucketPolicy");
        let policy = serde_json::from_str(policy.policy().unwrap_or_default()).expect("a JSON policy");
        let controls = s3.get_bucket_ownership_controls().bucket(bucket).send().await.expect("ownership controls");
        let rule = controls.ownership_controls().and_then(|controls| controls.rules().first()).expect("a rule");
        (policy, rule.object_ownership().as_str().to_string())
    })
}

fn statement<'a>(policy: &'a Value, sid: &str) -> Option<&'a Value> {
    policy["Statement"].as_array()?.iter().find(|statement| statement["Sid"] == sid)
}

fn tls_only_and_owner_enforced(stack: Stack) {
    require!(stack);
    let pipeline = unique("tls", stack);
    let bucket = format!("{pipeline}-lake");
    let scratch = Scratch::new(&format!("tls-{}", stack.tag()));
    let file = scratch.write(
        "tls.yaml",
        &format!("version: 1\npipeline: {pipeline}\nregion: us-east-1\nbuckets:\n  - name: {bucket}\n"),
    );
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);

    let (policy, ownership) = read_back(stack, &bucket);
    let ours = statement(&policy, SID).unwrap_or_else(|| panic!("no {SID} in {policy}"));
    assert_eq!(ours["Effect"], "Deny", "{ours}");
    assert_eq!(ours["Condition"], json!({"Bool": {"aws:SecureTransport": "false"}}), "{ours}");
    assert_eq!(ownership, "BucketOwnerEnforced");
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);

    // The emulator is reached over plain HTTP, which the statement denies. moto refuses object
    // requests under any Deny statement (it ignores the condition: a deny on `"true"` refuses them
    // too); LocalStack does not evaluate bucket policies and serves them (localstack/README.md).
    let written = runtime().block_on(async {
        let s3 = stack.clients().await.s3;
        let body = ByteStream::from_static(b"x");
        s3.put_object().bucket(&bucket).key("probe").body(body).send().await.map(|_| ()).map_err(|e| format!("{e:?}"))
    });
    match stack {
        Stack::Moto => assert!(written.as_ref().is_err_and(|e| e.contains("403")), "{written:?}"),
        Stack::LocalStack => assert!(
            written.is_ok(),
            "LocalStack now refuses a plain-HTTP request ({written:?}): update localstack/README.md and this test"
        ),
    }
    if written.is_ok() {
        runtime().block_on(async {
            let s3 = stack.clients().await.s3;
            s3.delete_object().bucket(&bucket).key("probe").send().await.expect("DeleteObject");
        });
    }

    // Someone replaces the policy with their own statement and lets object writers own objects:
    // the plan shows an update, apply restores both and keeps their statement.
    let theirs = json!({"Sid": "TeamRead", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                        "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")});
    runtime().block_on(async {
        let s3 = stack.clients().await.s3;
        let policy = json!({"Version": "2012-10-17", "Statement": [theirs]}).to_string();
        s3.put_bucket_policy().bucket(&bucket).policy(policy).send().await.expect("PutBucketPolicy");
        let rule = OwnershipControlsRule::builder().object_ownership(ObjectOwnership::ObjectWriter).build().unwrap();
        let controls = OwnershipControls::builder().rules(rule).build().unwrap();
        s3.put_bucket_ownership_controls().bucket(&bucket).ownership_controls(controls).send().await.expect("put");
    });
    let plan = pipectl(stack, &["plan", "-f", &file, "--output", "json"]).expect(0).json();
    let change =
        plan["changes"].as_array().expect("changes").iter().find(|c| c["resource"] == format!("bucket/{bucket}"));
    assert_eq!(change.and_then(|c| c["action"].as_str()), Some("update"), "{plan}");
    pipectl(stack, &["apply", "-f", &file, "--auto-approve"]).expect(0);
    let (policy, ownership) = read_back(stack, &bucket);
    assert!(statement(&policy, SID).is_some(), "{policy}");
    assert!(statement(&policy, "TeamRead").is_some(), "the user's statement was removed: {policy}");
    assert_eq!(ownership, "BucketOwnerEnforced");
    pipectl(stack, &["plan", "-f", &file, "--detailed-exitcode"]).expect(0);
    pipectl(stack, &["destroy", "-f", &file, "--auto-approve", "--allow-destroy"]).expect(0);
}

on_both_stacks!(tls_only_and_owner_enforced);

//! pipectl-proxy: a loopback HTTP proxy between pipectl and an emulator, for benchmarks and
//! fault tests. It adds a fixed delay to every request, counts requests by service and
//! operation, and can fail a seeded, reproducible share of them the way AWS does: HTTP 500 and
//! 503, throttling errors in each protocol's own shape, and dropped connections.
//!
//!   pipectl-proxy --upstream http://127.0.0.1:5000 [--listen 127.0.0.1:0] [--delay-ms 50]
//!                 [--fault-rate 0.1 --seed 7 --faults 500,503,throttle,drop]
//!                 [--route elasticmapreduce=http://127.0.0.1:5000 …]
//!                 [--fidelity [--fidelity-rules log-uri-s3n,fresh-iam,…]
//!                  [--iam-propagation-secs 5] [--dependency-secs 10] [--consistency-secs 2]
//!                  [--index-lag-secs 10]]
//!                 [--deny-create-bucket-tags] [--record FILE]
//!
//! It prints `listening on ADDRESS` once ready. `GET /__proxy/stats` returns the counts as
//! JSON (with `fidelity`: how often each rule below answered or rewrote, by operation);
//! `POST /__proxy/reset` zeroes them. `--route SERVICE=URL` sends the requests signed for one
//! service (SigV4's signing name: `elasticmapreduce`, `firehose`, `scheduler`, …) to another
//! upstream, so that one proxy sees a whole emulator stack (LocalStack with EMR on moto).
//!
//! ## Fidelity mode
//!
//! The emulators are lenient where AWS is not. `--fidelity` makes the proxy behave like AWS in
//! these documented ways, each a rule applied between pipectl and the emulator
//! (`--fidelity-rules` picks some; `localstack/README.md` lists them with the tests that use them):
//!
//! - `log-uri-s3n` — EMR `DescribeCluster` answers the `LogUri` of a cluster created with
//!   `s3://bucket/prefix/` as `s3n://bucket/prefix/` (hashicorp/terraform-provider-aws#1356,
//!   "aws_emr_cluster.log_uri forces new resource", and its diff-suppress in #1374; the
//!   "Cluster" data type of the Amazon EMR API Reference promises only "the path to Amazon S3
//!   where logs for this cluster are stored"). The emulators echo `s3://`.
//! - `fresh-iam` — a role or instance profile created (or given its role) less than
//!   `--iam-propagation-secs` ago (default 5) cannot be used yet: IAM is eventually consistent
//!   ("Troubleshoot IAM", IAM User Guide: "Changes that I make are not always immediately
//!   visible"). AWS refuses it with each service's own error, which the proxy answers instead
//!   of the emulator: Firehose `CreateDeliveryStream` — `InvalidArgumentException` "Firehose is
//!   unable to assume role ARN. Please check the role provided."; EMR `RunJobFlow` —
//!   `ValidationException` "Invalid InstanceProfile: NAME."; EventBridge Scheduler
//!   `CreateSchedule`/`UpdateSchedule` — `ValidationException` "The execution role you provide
//!   must allow AWS EventBridge Scheduler to assume the role."; Step Functions
//!   `CreateStateMachine`/`UpdateStateMachine` — `AccessDeniedException` "Neither the global
//!   service principal states.amazonaws.com, nor the regional one is authorized to assume the
//!   provided role." (the codes are in each operation's API reference; the messages are the ones
//!   the AWS Terraform provider retries on for these operations). The proxy learns names and times from the `CreateRole`,
//!   `CreateInstanceProfile` and `AddRoleToInstanceProfile` calls that pass through it.
//! - `fresh-profile-authorize` — EMR's other answer for a fresh instance profile: while it
//!   propagates, every `RunJobFlow` with it but the first (which answers `fresh-iam`'s "Invalid
//!   InstanceProfile") answers `AccessDeniedException` "Failed to authorize instance profile ARN" (hashicorp/terraform-provider-aws#3050, "resource/aws_emr_cluster:
//!   Retry creation on AccessDeniedException", quotes it from AWS and retries it).
//!
//! The eventual-consistency family (`fidelity/consistency.rs`); each lasts `--consistency-secs`
//! (default 2) after the call that causes it, the tag index's two `--index-lag-secs` (default 10):
//!
//! - `fresh-ec2-ids` — an id that `CreateVpc`, `CreateSubnet`, `CreateSecurityGroup`,
//!   `CreateRouteTable`, `CreateInternetGateway`, `CreateNatGateway` or `CreateVpcEndpoint`
//!   returned is answered with its type's not-found error (`InvalidVpcID.NotFound`,
//!   `InvalidSubnetID.NotFound`, `InvalidGroup.NotFound`, `InvalidRouteTableID.NotFound`,
//!   `InvalidInternetGatewayID.NotFound`, `NatGatewayNotFound`, `InvalidVpcEndpointId.NotFound`)
//!   by any EC2 call that names it outside a filter ("Eventual consistency in the Amazon EC2
//!   API", Amazon EC2 Developer Guide: "if you run a command to modify or describe the resource
//!   that you just created, its ID might not have propagated throughout the system, and you will
//!   get an error responding that the resource does not exist"). A filter on an unknown id
//!   matches nothing rather than failing, so filters pass.
//! - `fresh-table` — DynamoDB `DescribeTable` of a table `CreateTable` just made answers
//!   `ResourceNotFoundException` (DescribeTable, Amazon DynamoDB API Reference: "If you issue a
//!   DescribeTable request immediately after a CreateTable request, DynamoDB might return a
//!   ResourceNotFoundException").
//! - `tag-index-lag` — `tag:GetResources` leaves out a bucket, stream or delivery stream tagged
//!   (or created with tags) moments ago: the Resource Groups Tagging API is an index that
//!   catches up with the services' own tags ("GetResources", Resource Groups Tagging API
//!   Reference, returns "tagged or previously tagged resources").
//! - `deleted-still-listed` — `tag:GetResources` still lists, with the tags it had, a bucket,
//!   stream or delivery stream deleted moments ago (the same "previously tagged"), on the last
//!   page and where the request's filters match it. The proxy builds the ARN from the account
//!   STS `GetCallerIdentity` answered.
//!
//! Limits AWS checks on a request (`fidelity/limits.rs`):
//!
//! - `kinesis-tag-limit` — `AddTagsToStream` with more than 10 tags (and
//!   `RemoveTagsFromStream` with more than 10 keys) answers `ValidationException` "… failed to
//!   satisfy constraint: Member must have length less than or equal to 10" (AddTagsToStream,
//!   Amazon Kinesis Data Streams API Reference: "A set of up to 10 key-value pairs";
//!   hashicorp/terraform-provider-aws#4562 and its fix #4574 quote AWS's answer).
//! - `role-path` — `RunJobFlow` whose `ServiceRole` (or `AutoScalingRole`) is the bare name of a
//!   role created (through the proxy) under a path answers `ValidationException` (RunJobFlow,
//!   Amazon EMR API Reference, `ServiceRole`: "If you've created a custom service role path, you
//!   must specify it for the service role when you launch your cluster"). AWS's own wording, and
//!   whether it refuses at once or fails the cluster later, are not documented; the proxy
//!   refuses at once.
//! - `emr-group-minimums` — `RunJobFlow` with a `CORE` instance group of 0 instances, or a
//!   `MASTER` group of other than 1 or 3 ("Plan and configure primary nodes", Amazon EMR
//!   Management Guide: one primary node, or three with multiple primary nodes), answers
//!   `ValidationException`. Whether a `TASK` group of 0 is accepted at launch is not documented;
//!   the proxy accepts it (an open question for `tests/real-aws/`).
//! - `apigateway-integration-role` — API Gateway `PutIntegration` of type `AWS` (a service
//!   integration, such as Kinesis `PutRecord`) without `credentials` answers `BadRequestException`
//!   "Role ARN must be specified for AWS integrations" (hashicorp/terraform-provider-aws#7916
//!   quotes AWS's answer); LocalStack and moto accept it, and LocalStack then writes with no
//!   role at all.
//! - `dependency-violation` — for `--dependency-secs` (default 10) after an EMR
//!   `TerminateJobFlows`, EC2 `DeleteSecurityGroup`, `DeleteSubnet` and `DeleteVpc` answer
//!   `DependencyViolation` ("Error codes for the Amazon EC2 API"), as AWS does while the
//!   terminated instances' network interfaces are released and while EMR's managed security
//!   groups still reference each other ("Working with Amazon EMR-managed security groups").
//!   Simplified: the proxy does not track which VPC the cluster was in; any terminate counts.
//!   A Redshift `DeleteCluster` counts as well (its network interfaces are released after it),
//!   and Redshift `DeleteClusterSubnetGroup` of a group that a cluster created through the proxy
//!   and not deleted still uses answers `InvalidClusterSubnetGroupStateFault` "The cluster subnet
//!   group cannot be deleted because it is in use." (DeleteClusterSubnetGroup, Amazon Redshift
//!   API Reference; both emulators delete it).
//! - `bucket-region-redirect` — `GetBucketTagging` on a bucket created (through this proxy) in
//!   another region than the request is signed for answers `301 PermanentRedirect` with
//!   `x-amz-bucket-region` ("Error responses", Amazon S3 API Reference). `ListBuckets` lists
//!   the buckets of every region, so pipectl meets such buckets on every plan.
//!
//! ## Permission faults
//!
//! `--deny-create-bucket-tags` answers every S3 `CreateBucket` whose `CreateBucketConfiguration`
//! carries `<Tags>` with `403 AccessDenied`, as AWS does for a principal that has
//! `s3:CreateBucket` but not `s3:TagResource` (tags at creation need both: "CreateBucket",
//! Amazon S3 API Reference). The same request without tags passes. Counted in `faults` as
//! `deny-create-bucket-tags s3:PUT`.
//!
//! ## Recording
//!
//! `--record FILE` writes one JSON line per request (not the proxy's own endpoints) with what
//! names the call and its resource, and the answer's status and body (`record.rs`). The
//! permissions test reads it to check each call against the printed policy as IAM would.
//!
//! ## Layout
//!
//! A crate of the pipectl workspace, never installed with pipectl: `tests/run.sh`, the
//! integration tests (`proxy_binary()` in `tests/integration/support.rs`) and `benches/run.sh`
//! build it. `options` reads the flags above, `serve` is the loop every connection runs, `http`
//! reads and rewrites messages, `faults` injects failures, `call` and `fidelity` are fidelity
//! mode, `stats` the counts. By hand: `cargo run -p pipectl-proxy -- --upstream URL …`; its unit
//! tests: `cargo test -p pipectl-proxy`.

mod call;
mod faults;
mod fidelity;
mod http;
mod options;
mod record;
mod serve;
mod stats;
#[cfg(test)]
mod testing;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;

use crate::faults::Random;
use crate::fidelity::{Fidelity, FidelityOptions};
use crate::options::parse_options;
use crate::record::Recorder;
use crate::serve::{serve, Shared};
use crate::stats::Stats;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("pipectl-proxy: {message}");
            std::process::exit(1);
        }
    };
    let listener = match TcpListener::bind(&options.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("pipectl-proxy: cannot listen on {}: {error}", options.listen);
            std::process::exit(1);
        }
    };
    let address: Option<SocketAddr> = listener.local_addr().ok();
    println!("listening on {}", address.map_or_else(|| options.listen.clone(), |a| a.to_string()));
    let seed = options.seed.max(1);
    let fidelity = (!options.fidelity.rules.is_empty()).then(|| {
        Fidelity::new(FidelityOptions {
            rules: options.fidelity.rules.clone(),
            iam_propagation: options.fidelity.iam_propagation,
            dependency: options.fidelity.dependency,
            consistency: options.fidelity.consistency,
            index_lag: options.fidelity.index_lag,
        })
    });
    let recorder = match options.record.as_deref().map(Recorder::create).transpose() {
        Ok(recorder) => recorder,
        Err(message) => {
            eprintln!("pipectl-proxy: {message}");
            std::process::exit(1);
        }
    };
    let shared = Arc::new(Shared {
        options,
        random: Mutex::new(Random(seed)),
        stats: Mutex::new(Stats::default()),
        fidelity,
        recorder,
    });
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _ = serve(client, shared).await;
        });
    }
}

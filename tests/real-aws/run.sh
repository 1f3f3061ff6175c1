#!/usr/bin/env bash
# The opt-in real-AWS suite: apply a small pipeline to a real AWS account, check that the plan is
# then empty, destroy it, and check that nothing tagged with it remains.
#
#   PIPECTL_REAL_AWS=1 tests/real-aws/run.sh                          # network, bucket, stream, delivery
#   PIPECTL_REAL_AWS=1 PIPECTL_REAL_AWS_EMR=1 tests/real-aws/run.sh   # … and a one-core-node EMR cluster
#
# Without PIPECTL_REAL_AWS=1 it prints why it is skipped and exits 0. Asked for (PIPECTL_REAL_AWS=1)
# without usable credentials it fails (exit 1): a run someone asked for must not pass by not running.
# It needs the AWS CLI v2 (to check the account and what remains) and cargo (to build pipectl,
# unless PIPECTL_BIN points at a binary). It creates billable resources: see README.md here.
#
# Environment:
#   PIPECTL_REAL_AWS=1            run at all
#   PIPECTL_REAL_AWS_EMR=1        also create an EMR cluster (1 master + 1 core node)
#   PIPECTL_REAL_AWS_EMR_TYPE     its instance type (default m5.xlarge)
#   PIPECTL_REAL_AWS_JOB=1        with EMR: also a job (Step Functions) that grows a task group to 1
#                                 node, runs a one-line Spark step and gives it back; `pipectl run
#                                 --wait` must exit 0 and `pipectl runs` list it SUCCEEDED
#   PIPECTL_REAL_AWS_REGION       region (default: AWS_REGION, the CLI's configured region, us-east-1)
#   PIPECTL_REAL_AWS_YES=1        do not pause 15 s after printing the cost estimate
#   PIPECTL_REAL_AWS_KEEP=1       do not destroy on failure (to investigate; destroy by hand after)
#   PIPECTL_BIN                   the pipectl binary to test (default: cargo build, debug)
#   AWS_PROFILE and the rest of the standard credential chain choose the account.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

say() { printf 'real-aws: %s\n' "$*" >&2; }
skip() { say "SKIPPED: $*"; exit 0; }
fail() { say "FAILED: $*"; exit 1; }

[ "${PIPECTL_REAL_AWS:-}" = 1 ] || skip "set PIPECTL_REAL_AWS=1 (and AWS credentials) to run the real-AWS suite; it creates billable resources"
command -v aws >/dev/null || fail "the AWS CLI (v2) is needed to check the account and what remains"
for variable in $(env | sed -n 's/^\(AWS_ENDPOINT_URL[A-Z_]*\)=.*/\1/p'); do
  fail "$variable is set: this suite is for real AWS, not an emulator (unset it)"
done

region="${PIPECTL_REAL_AWS_REGION:-${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region 2>/dev/null || true)}}}"
region="${region:-us-east-1}"
export AWS_REGION="$region"
account="$(aws sts get-caller-identity --query Account --output text 2>/dev/null)" \
  || fail "PIPECTL_REAL_AWS=1 but no usable AWS credentials (aws sts get-caller-identity failed): configure a profile or AWS_* variables, or unset PIPECTL_REAL_AWS to skip"

if [ -n "${PIPECTL_BIN:-}" ]; then
  pipectl="$PIPECTL_BIN"
else
  say "building pipectl"
  (cd "$repo" && cargo build --quiet --bin pipectl)
  pipectl="${CARGO_TARGET_DIR:-$repo/target}/debug/pipectl"
fi
[ -x "$pipectl" ] || fail "no pipectl binary at $pipectl"

# A name of its own for every run: rt + time + random, within IAM's and S3's name limits.
pipeline="rt$(date -u +%m%d%H%M)$(printf '%04x' $((RANDOM % 65536)))"
bucket="$pipeline-lake-$account"
az="$(aws ec2 describe-availability-zones --region "$region" --filters Name=state,Values=available \
  --query 'AvailabilityZones[0].ZoneName' --output text)"
emr="${PIPECTL_REAL_AWS_EMR:-0}"
emr_type="${PIPECTL_REAL_AWS_EMR_TYPE:-m5.xlarge}"
job="${PIPECTL_REAL_AWS_JOB:-0}"
# The job's own schedule is twelve hours away, so that the run by hand does not collide with it.
job_hour=$(( ($(date -u +%-H) + 12) % 24 ))

work="$(mktemp -d)"
spec="$work/$pipeline.yaml"
{
  cat "$here/pipeline.yaml"
  if [ "$emr" = 1 ] && [ "$job" = 1 ]; then grep -v '^    idle_timeout:' "$here/cluster.yaml"; cat "$here/job.yaml"
  elif [ "$emr" = 1 ]; then cat "$here/cluster.yaml"; fi
} | sed -e "s/@PIPELINE@/$pipeline/g" -e "s/@BUCKET@/$bucket/g" -e "s/@REGION@/$region/g" \
        -e "s/@AZ@/$az/g" -e "s/@EMR_TYPE@/$emr_type/g" -e "s/@JOB_HOUR@/$job_hour/g" >"$spec"

# The cost estimate, before anything is created (on-demand list prices of us-east-1; other
# regions cost a little more). Everything is destroyed at the end, and on failure.
say "account $account, region $region, pipeline $pipeline (spec: $spec)"
say "estimated cost of this run:"
say "  VPC, subnets, security group, S3 gateway endpoint, empty bucket: free"
say "  Kinesis stream, 1 provisioned shard: about \$0.015 per hour (a run takes minutes)"
say "  Firehose delivery: \$0.029 per GB ingested (the suite sends nothing)"
if [ "$emr" = 1 ]; then
  say "  EMR cluster, 2 x $emr_type (master + 1 core), in us-east-1 for m5.xlarge about"
  say "  2 x (\$0.192 EC2 + \$0.048 EMR) = \$0.48 per hour, billed per second, plus their EBS volumes;"
  say "  a run takes 20-30 minutes (EMR starts in ~10 and terminates in ~5): expect about \$0.25-0.50"
  say "  (check https://aws.amazon.com/emr/pricing/ for $emr_type in $region)"
else
  say "  no EMR cluster (set PIPECTL_REAL_AWS_EMR=1 to include one): expect well under \$0.05"
fi
if [ "${PIPECTL_REAL_AWS_YES:-}" != 1 ]; then
  say "starting in 15 seconds; Ctrl-C to stop (PIPECTL_REAL_AWS_YES=1 skips this pause)"
  sleep 15
fi

run() { say "\$ pipectl $*"; "$pipectl" "$@"; }
applied=0
finish() {
  local code=$?
  if [ "$applied" = 1 ] && [ "$code" != 0 ] && [ "${PIPECTL_REAL_AWS_KEEP:-}" != 1 ]; then
    say "cleaning up after the failure"
    "$pipectl" destroy -f "$spec" --auto-approve --allow-destroy || say "destroy failed too: remove pipeline $pipeline by hand"
  fi
  rm -rf "$work"
  exit "$code"
}
trap finish EXIT

run validate -f "$spec"
applied=1
run apply -f "$spec" --auto-approve
# What AWS returns, compared the way AWS returns it: an unchanged spec plans empty.
run plan -f "$spec" --detailed-exitcode || fail "the plan right after apply is not empty (exit $?): pipectl compares something the way AWS does not return it"
# Data flows: a canary put into the stream lands in the lake under the delivery's prefix (the
# delivery buffers up to its interval, 300 s by default, so this waits up to 7 minutes).
run verify -f "$spec" || fail "the canary did not reach the lake (exit $?): see what pipectl verify found instead"
if [ "$emr" = 1 ] && [ "$job" = 1 ]; then
  # The job for real: Step Functions resizes the group, runs the step with addStep.sync (its
  # EventBridge rule, its role's permissions) and resizes back; the run must succeed.
  printf 'print("pipectl real-aws job probe")\n' | aws s3 cp - "s3://$bucket/jobs/hello.py" >/dev/null
  run run probe --wait --poll 30s -f "$spec" || fail "the job's run did not succeed: see the states and errors above"
  run runs probe -f "$spec"
  aws s3 rm "s3://$bucket/jobs/hello.py" >/dev/null
fi
run destroy -f "$spec" --auto-approve --allow-destroy

# Nothing tagged with the pipeline remains. Deleted resources may stay visible for a while
# (the Resource Groups Tagging API and EC2's describe calls are eventually consistent), so
# look again for up to 5 minutes.
# Each check prints what it finds; a check that cannot run counts as a leftover, so that a
# missing permission is not mistaken for a clean account.
check() {
  local what="$1"
  shift
  "$@" 2>/dev/null || echo "could-not-check:$what"
}
leftovers() {
  local tag="Name=tag:pipectl:pipeline,Values=$pipeline"
  check tagging aws resourcegroupstaggingapi get-resources --tag-filters "Key=pipectl:pipeline,Values=$pipeline" \
    --query 'ResourceTagMappingList[].ResourceARN' --output text
  check vpcs aws ec2 describe-vpcs --filters "$tag" --query 'Vpcs[].VpcId' --output text
  check subnets aws ec2 describe-subnets --filters "$tag" --query 'Subnets[].SubnetId' --output text
  check security-groups aws ec2 describe-security-groups --filters "$tag" --query 'SecurityGroups[].GroupId' --output text
  check route-tables aws ec2 describe-route-tables --filters "$tag" --query 'RouteTables[].RouteTableId' --output text
  check internet-gateways aws ec2 describe-internet-gateways --filters "$tag" \
    --query 'InternetGateways[].InternetGatewayId' --output text
  check nat-gateways aws ec2 describe-nat-gateways --filter "$tag" \
    --query "NatGateways[?State!='deleted'].NatGatewayId" --output text
  check vpc-endpoints aws ec2 describe-vpc-endpoints --filters "$tag" \
    --query "VpcEndpoints[?State!='deleted' && State!='Deleted'].VpcEndpointId" --output text
  check addresses aws ec2 describe-addresses --filters "$tag" --query 'Addresses[].AllocationId' --output text
  check roles aws iam list-roles --path-prefix "/pipectl/$pipeline/" --query 'Roles[].RoleName' --output text
  check instance-profiles aws iam list-instance-profiles --path-prefix "/pipectl/$pipeline/" \
    --query 'InstanceProfiles[].InstanceProfileName' --output text
  check schedules aws scheduler list-schedules --name-prefix "pipectl-$pipeline-" --query 'Schedules[].Name' --output text
  check clusters aws emr list-clusters --active --query "Clusters[?starts_with(Name, '$pipeline-')].Id" --output text
  check streams aws kinesis list-streams --query "StreamNames[?starts_with(@, '$pipeline-')]" --output text
  check deliveries aws firehose list-delivery-streams \
    --query "DeliveryStreamNames[?starts_with(@, '$pipeline-')]" --output text
  check queues aws sqs list-queues --queue-name-prefix "$pipeline-" --query 'QueueUrls' --output text
  if aws s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then echo "s3://$bucket"; fi
}
for attempt in $(seq 1 10); do
  left="$(leftovers | tr -s '\t\n ' '\n' | grep -v -e '^$' -e '^None$' || true)"
  [ -z "$left" ] && break
  say "still visible after destroy (attempt $attempt of 10), looking again in 30 s:"
  # shellcheck disable=SC2086 # one line per leftover
  printf '  %s\n' $left >&2
  sleep 30
done
[ -z "$left" ] || fail "destroy left resources of $pipeline behind: $left"
say "PASSED: $pipeline applied, planned empty, destroyed; nothing tagged with it remains"

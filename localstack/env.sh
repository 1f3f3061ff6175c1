#!/usr/bin/env bash
# Prints the environment that points pipectl (and the AWS CLI/SDKs) at the emulators:
#   eval "$(localstack/env.sh localstack)"   or   eval "$(localstack/env.sh moto)"
# LocalStack's community edition has no EMR and its Firehose cannot read Kinesis offline, so the
# LocalStack stack routes those two services to moto, with EventBridge Scheduler and DynamoDB (the
# lock table: LocalStack's DynamoDB needs DynamoDB Local, a download this offline setup cannot make)
# and Glue and Athena (the catalog and the query workgroup: both are in LocalStack Pro only), and
# the Redshift Data API (Pro only too; LocalStack's community Redshift serves the clusters).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=common.sh
source "$here/common.sh"

which="${1:-localstack}"
[ "$which" = all ] && which=localstack
echo "export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=\${AWS_REGION:-us-east-1}"
case "$which" in
  localstack)
    echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$LOCALSTACK_PORT"
    echo "export AWS_ENDPOINT_URL_EMR=http://127.0.0.1:$MOTO_PORT AWS_ENDPOINT_URL_FIREHOSE=http://127.0.0.1:$MOTO_PORT AWS_ENDPOINT_URL_SCHEDULER=http://127.0.0.1:$MOTO_PORT AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$MOTO_PORT AWS_ENDPOINT_URL_GLUE=http://127.0.0.1:$MOTO_PORT AWS_ENDPOINT_URL_ATHENA=http://127.0.0.1:$MOTO_PORT AWS_ENDPOINT_URL_REDSHIFT_DATA=http://127.0.0.1:$MOTO_PORT"
    ;;
  moto)
    echo "export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT"
    ;;
  *) die "usage: env.sh [localstack|moto]" ;;
esac

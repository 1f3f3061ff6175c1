//! The inline policy of a delivery's derived role: read its one stream, write its one bucket
//! under its prefixes, and use KMS only where encryption with a customer managed key asks for it.

use serde_json::{json, Value};

use crate::iam::{bucket_key_grant, key_grant, key_statement, s3_key_context, s3_key_statement, Arns};
use crate::spec::{Bucket, Delivery, DeliveryEncryption, Stream, StreamEncryption};

/// The object ARN pattern a prefix may write to: the prefix with each `!{…}` expression (a value
/// Firehose fills in at delivery, "Custom Prefixes for Amazon S3 Objects", Amazon Data Firehose
/// Developer Guide) as `*`, then `*` for the object's name. So the literal part before the first
/// expression always bounds it, and a prefix that starts with an expression
/// (`!{timestamp:yyyy}/events/`) still reaches only keys of its shape (`*/events/*`), never the
/// whole bucket; only an empty prefix, which the spec writes to say "the whole bucket", gives
/// `<bucket>/*`.
pub(super) fn object_arn(bucket_arn: &str, prefix: &str) -> String {
    let mut pattern = String::new();
    let mut rest = prefix;
    while let Some(start) = rest.find("!{") {
        pattern.push_str(&rest[..start]);
        pattern.push('*');
        rest = rest[start..].find('}').map_or("", |end| &rest[start + end + 1..]);
    }
    pattern.push_str(rest);
    if !pattern.ends_with('*') {
        pattern.push('*');
    }
    format!("{bucket_arn}/{pattern}")
}

/// The inline policy of a delivery's derived role: read that one stream, write that one bucket
/// under its prefixes, and KMS only where encryption with a customer managed key asks for it:
/// the key Firehose asks S3 to encrypt with (the delivery's own `kms_key`) or else the bucket's
/// default key, and the source stream's key ("Grant Firehose access to an Amazon S3
/// destination" and "Grant Firehose access to a Kinesis Data Streams source", Amazon Data
/// Firehose Developer Guide). `bucket` is the target bucket, when the spec declares it.
pub fn role_policy(delivery: &Delivery, source: &Stream, bucket: Option<&Bucket>, arns: &Arns) -> Value {
    let stream_arn = arns.stream(&delivery.from);
    let bucket_arn = arns.bucket(&delivery.to.bucket);
    let mut objects = vec![object_arn(&bucket_arn, &delivery.to.prefix)];
    if let Some(error_prefix) = &delivery.to.error_prefix {
        objects.push(object_arn(&bucket_arn, error_prefix));
    }
    objects.sort();
    objects.dedup();
    let mut statements = vec![
        json!({
            "Sid": "ReadSourceStream",
            "Effect": "Allow",
            "Action": ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"],
            "Resource": [stream_arn.clone()],
        }),
        json!({
            "Sid": "ListLakeBucket",
            "Effect": "Allow",
            "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            "Resource": [bucket_arn],
        }),
        json!({
            "Sid": "WriteLakeObjects",
            "Effect": "Allow",
            "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
            "Resource": objects.clone(),
        }),
    ];
    // An explicit SSE-KMS key in Firehose's PutObject overrides the bucket's default encryption;
    // the bucket's S3 Bucket Key setting still applies to a write that does not ask otherwise, so
    // its encryption context may then be the bucket's ARN as well as the object's.
    let (object_key, context) = match (delivery.encryption, &delivery.kms_key) {
        (DeliveryEncryption::Kms, Some(key)) => {
            let mut context = objects.clone();
            if bucket.is_some_and(Bucket::bucket_key_enabled) {
                context.push(bucket_arn.clone());
            }
            (key_grant(key, arns), context)
        }
        _ => match bucket {
            Some(bucket) => (bucket_key_grant(bucket, arns), s3_key_context(bucket, arns, &objects)),
            None => (None, Vec::new()),
        },
    };
    if let Some(grant) = object_key {
        statements.push(s3_key_statement("EncryptLakeObjects", &grant, arns, &context));
    }
    let stream_key = match source.encryption {
        StreamEncryption::Kms => source.kms_key.as_deref().and_then(|key| key_grant(key, arns)),
        StreamEncryption::None => None,
    };
    if let Some(grant) = stream_key {
        // Consumers need kms:Decrypt; Kinesis's encryption context is the stream ARN
        // ("Permissions to use user-generated KMS keys", Kinesis Data Streams Developer Guide).
        let context = [stream_arn.clone()];
        statements.push(key_statement(
            "DecryptSourceStream",
            &["kms:Decrypt"],
            &grant,
            arns,
            "kinesis",
            ("kms:EncryptionContext:aws:kinesis:arn", &context),
        ));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::wildcard_actions;
    use crate::spec::{BucketEncryption, Spec};

    fn spec() -> Spec {
        serde_saphyr::from_str(
            "version: 1\npipeline: p\nregion: eu-west-1\nbuckets: [{name: lake}]\nstreams: [{name: events}]\ndeliveries:\n  - name: d\n    from: events\n    to: {bucket: lake, prefix: 'raw/events/!{timestamp:yyyy/MM/dd}/', error_prefix: 'errors/!{firehose:error-output-type}/'}\n",
        )
        .unwrap()
    }

    #[test]
    fn delivery_policy_has_exactly_the_needed_statements() {
        let spec = spec();
        let arns = Arns::new("123456789012", "eu-west-1");
        let policy = role_policy(&spec.deliveries[0], &spec.streams[0], spec.buckets.first(), &arns);
        let expected = json!({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "ReadSourceStream", "Effect": "Allow",
                 "Action": ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetRecords", "kinesis:GetShardIterator", "kinesis:ListShards"],
                 "Resource": ["arn:aws:kinesis:eu-west-1:123456789012:stream/events"]},
                {"Sid": "ListLakeBucket", "Effect": "Allow",
                 "Action": ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
                 "Resource": ["arn:aws:s3:::lake"]},
                {"Sid": "WriteLakeObjects", "Effect": "Allow",
                 "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
                 "Resource": ["arn:aws:s3:::lake/errors/*/*", "arn:aws:s3:::lake/raw/events/*/*"]}
            ]
        });
        assert_eq!(policy, expected);
        assert!(wildcard_actions(&policy).is_empty());
    }

    #[test]
    fn object_arns_keep_the_shape_of_a_prefix_that_starts_with_an_expression() {
        let bucket = "arn:aws:s3:::lake";
        assert_eq!(object_arn(bucket, "raw/events/"), "arn:aws:s3:::lake/raw/events/*");
        assert_eq!(object_arn(bucket, "raw/!{timestamp:yyyy/MM/dd}/"), "arn:aws:s3:::lake/raw/*/*");
        // Not the whole bucket: only keys of the prefix's shape.
        assert_eq!(object_arn(bucket, "!{timestamp:yyyy}/events/"), "arn:aws:s3:::lake/*/events/*");
        assert_eq!(object_arn(bucket, "!{firehose:error-output-type}-!{timestamp:yyyy}/x"), "arn:aws:s3:::lake/*-*/x*");
        // An empty prefix is the spec saying "the whole bucket".
        assert_eq!(object_arn(bucket, ""), "arn:aws:s3:::lake/*");
    }

    #[test]
    fn kms_statements_only_when_encryption_asks() {
        let mut spec = spec();
        spec.deliveries[0].encryption = DeliveryEncryption::Kms;
        spec.deliveries[0].kms_key = Some("arn:aws:kms:eu-west-1:123456789012:key/abc".to_string());
        spec.streams[0].encryption = StreamEncryption::Kms;
        let arns = Arns::new("123456789012", "eu-west-1");
        let sids = |policy: &Value| -> Vec<String> {
            policy["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| s["Sid"].as_str().map(str::to_string))
                .collect()
        };
        // The stream uses the AWS managed key: its key policy suffices.
        let policy = role_policy(&spec.deliveries[0], &spec.streams[0], spec.buckets.first(), &arns);
        assert_eq!(sids(&policy), ["ReadSourceStream", "ListLakeBucket", "WriteLakeObjects", "EncryptLakeObjects"]);
        spec.streams[0].kms_key = Some("alias/aws/kinesis".to_string());
        let policy = role_policy(&spec.deliveries[0], &spec.streams[0], spec.buckets.first(), &arns);
        assert_eq!(sids(&policy).len(), 4);
        spec.streams[0].kms_key = Some("arn:aws:kms:eu-west-1:123456789012:key/def".to_string());
        let policy = role_policy(&spec.deliveries[0], &spec.streams[0], spec.buckets.first(), &arns);
        assert_eq!(
            sids(&policy),
            ["ReadSourceStream", "ListLakeBucket", "WriteLakeObjects", "EncryptLakeObjects", "DecryptSourceStream"]
        );
        assert_eq!(policy["Statement"][3]["Resource"], json!(["arn:aws:kms:eu-west-1:123456789012:key/abc"]));
    }

    #[test]
    fn kms_conditions_name_the_partitions_endpoints() {
        let mut spec = spec();
        spec.deliveries[0].encryption = DeliveryEncryption::Kms;
        spec.deliveries[0].kms_key = Some("arn:aws-cn:kms:cn-north-1:123456789012:key/abc".to_string());
        spec.streams[0].encryption = StreamEncryption::Kms;
        spec.streams[0].kms_key = Some("stream-key".to_string());
        for (region, s3, kinesis) in [
            ("cn-north-1", "s3.cn-north-1.amazonaws.com.cn", "kinesis.cn-north-1.amazonaws.com.cn"),
            ("us-gov-west-1", "s3.us-gov-west-1.amazonaws.com", "kinesis.us-gov-west-1.amazonaws.com"),
            ("eu-west-1", "s3.eu-west-1.amazonaws.com", "kinesis.eu-west-1.amazonaws.com"),
        ] {
            let arns = Arns::new("123456789012", region);
            let policy = role_policy(&spec.deliveries[0], &spec.streams[0], spec.buckets.first(), &arns);
            assert_eq!(policy["Statement"][3]["Condition"]["StringEquals"]["kms:ViaService"], json!(s3));
            assert_eq!(policy["Statement"][4]["Condition"]["StringEquals"]["kms:ViaService"], json!(kinesis));
            assert_eq!(policy["Statement"][0]["Resource"][0], json!(arns.stream("events")));
        }
    }

    /// The customer-key statements for a lake bucket and a source stream, in every partition.
    #[test]
    fn customer_keys_get_exactly_the_documented_grants() {
        for (region, partition, suffix) in [
            ("eu-west-1", "aws", "amazonaws.com"),
            ("cn-north-1", "aws-cn", "amazonaws.com.cn"),
            ("us-gov-west-1", "aws-us-gov", "amazonaws.com"),
        ] {
            let arns = Arns::new("123456789012", region);
            let key_prefix = format!("arn:{partition}:kms:{region}:123456789012");
            let objects = json!([
                format!("arn:{partition}:s3:::lake/errors/*/*"),
                format!("arn:{partition}:s3:::lake/raw/events/*/*")
            ]);
            let s3_via = format!("s3.{region}.{suffix}");
            let mut spec = spec();
            spec.buckets[0].encryption = BucketEncryption::SseKms;
            // Without an S3 Bucket Key, S3's encryption context is the object's ARN.
            spec.buckets[0].bucket_key = Some(false);
            spec.streams[0].encryption = StreamEncryption::Kms;
            let policy_with =
                |spec: &Spec| role_policy(&spec.deliveries[0], &spec.streams[0], spec.buckets.first(), &arns);

            // A key ID, a key ARN (even of another account): the key itself.
            for (key, resource) in [
                (
                    "1234abcd-12ab-34cd-56ef-1234567890ab".to_string(),
                    format!("{key_prefix}:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
                ),
                (
                    format!("arn:{partition}:kms:{region}:210987654321:key/k1"),
                    format!("arn:{partition}:kms:{region}:210987654321:key/k1"),
                ),
            ] {
                spec.buckets[0].kms_key = Some(key);
                spec.streams[0].kms_key = Some(format!("{key_prefix}:key/stream-key"));
                let policy = policy_with(&spec);
                let statements = policy["Statement"].as_array().unwrap();
                assert_eq!(statements.len(), 5, "{region}");
                assert_eq!(
                    statements[3],
                    json!({"Sid": "EncryptLakeObjects", "Effect": "Allow",
                           "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                           "Resource": [resource],
                           "Condition": {"StringEquals": {"kms:ViaService": s3_via},
                                         "StringLike": {"kms:EncryptionContext:aws:s3:arn": objects}}})
                );
                assert_eq!(
                    statements[4],
                    json!({"Sid": "DecryptSourceStream", "Effect": "Allow",
                           "Action": ["kms:Decrypt"],
                           "Resource": [format!("{key_prefix}:key/stream-key")],
                           "Condition": {"StringEquals": {"kms:ViaService": format!("kinesis.{region}.{suffix}")},
                                         "StringLike": {"kms:EncryptionContext:aws:kinesis:arn": [arns.stream("events")]}}})
                );
            }

            // An alias name or alias ARN: the account's keys in the region that carry the alias.
            for key in ["alias/lake".to_string(), format!("{key_prefix}:alias/lake")] {
                spec.buckets[0].kms_key = Some(key);
                spec.streams[0].kms_key = Some("alias/stream".to_string());
                let policy = policy_with(&spec);
                assert_eq!(
                    policy["Statement"][3],
                    json!({"Sid": "EncryptLakeObjects", "Effect": "Allow",
                           "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                           "Resource": [format!("{key_prefix}:key/*")],
                           "Condition": {"StringEquals": {"kms:ViaService": s3_via},
                                         "StringLike": {"kms:EncryptionContext:aws:s3:arn": objects},
                                         "ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/lake"}}})
                );
                assert_eq!(policy["Statement"][4]["Resource"], json!([format!("{key_prefix}:key/*")]));
                assert_eq!(
                    policy["Statement"][4]["Condition"]["ForAnyValue:StringEquals"],
                    json!({"kms:ResourceAliases": "alias/stream"})
                );
            }

            // The AWS managed keys, or no key at all (the managed key): no grant.
            for (bucket_key, stream_key) in [
                (Some("alias/aws/s3".to_string()), Some("alias/aws/kinesis".to_string())),
                (Some(format!("{key_prefix}:alias/aws/s3")), Some(format!("{key_prefix}:alias/aws/kinesis"))),
                (None, None),
            ] {
                spec.buckets[0].kms_key = bucket_key;
                spec.streams[0].kms_key = stream_key;
                assert_eq!(policy_with(&spec)["Statement"].as_array().unwrap().len(), 3, "{region}");
            }

            // SSE-S3 buckets need no key.
            spec.buckets[0].encryption = BucketEncryption::SseS3;
            assert_eq!(policy_with(&spec)["Statement"].as_array().unwrap().len(), 3);

            // The delivery's own key overrides the bucket's default key.
            spec.buckets[0].encryption = BucketEncryption::SseKms;
            spec.buckets[0].kms_key = Some("alias/lake".to_string());
            spec.deliveries[0].encryption = DeliveryEncryption::Kms;
            spec.deliveries[0].kms_key = Some(format!("{key_prefix}:key/delivery"));
            let policy = policy_with(&spec);
            assert_eq!(policy["Statement"].as_array().unwrap().len(), 4);
            assert_eq!(policy["Statement"][3]["Resource"], json!([format!("{key_prefix}:key/delivery")]));
            assert_eq!(policy["Statement"][3]["Condition"].get("ForAnyValue:StringEquals"), None);
            assert_eq!(
                policy["Statement"][3]["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"],
                json!(objects)
            );

            // With an S3 Bucket Key (the default), S3's encryption context is the bucket's ARN:
            // for the bucket's key, only that; for the delivery's own key, either.
            spec.buckets[0].bucket_key = None;
            let context = |policy: &Value| {
                policy["Statement"][3]["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"].clone()
            };
            let mut either = objects.as_array().unwrap().clone();
            either.push(json!(arns.bucket("lake")));
            assert_eq!(context(&policy_with(&spec)), json!(either));
            spec.deliveries[0].encryption = DeliveryEncryption::None;
            spec.deliveries[0].kms_key = None;
            assert_eq!(context(&policy_with(&spec)), json!([arns.bucket("lake")]));
        }
    }
}

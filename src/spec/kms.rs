//! The KMS keys a spec names (`kms_key` of buckets, streams, deliveries, the alarm topic, a
//! cluster's encryption): their shape, the pipeline's partition and region, and no wildcard.
//!
//! A key goes into the roles' policies (`iam::documents::key_grant`: the key's ARN, or
//! `key/*` with a `kms:ResourceAliases` condition for an alias), so `*` or `?` in it would widen
//! them to every key. And a KMS key is a resource of one region: "AWS KMS keys are Regional"
//! (AWS KMS Developer Guide, "Multi-Region keys in AWS KMS": a key can be used only in the region
//! it was created in; a multi-Region key's replicas are keys with ARNs of their own regions), and
//! the services pipectl configures encrypt with a key of the resource's region — S3 says so for
//! SSE-KMS ("Specifying server-side encryption with AWS KMS (SSE-KMS)", S3 User Guide), Kinesis
//! Data Streams, Firehose, SNS and EMR call KMS in their own region. A key ARN of another region
//! would fail at the first write, after part of the pipeline exists, so validation refuses it.

use super::checks::Problems;
use crate::names::partition_of;

/// Where a key may be named: some fields take only an ARN (Firehose's
/// `KMSEncryptionConfig.AWSKMSKeyARN`), others any of KMS's four forms.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyForm {
    /// A key id, a key ARN, an alias name (`alias/…`) or an alias ARN.
    Any,
    /// A key or alias ARN (`arn:<partition>:kms:<region>:<account>:key/<id>`).
    Arn,
}

/// The problems of the key `key` at `path` for a pipeline in `region`.
pub(super) fn check_key(path: &str, key: &str, form: KeyForm, region: &str, problems: &mut Problems) {
    if key.contains(['*', '?']) {
        problems.add(
            path,
            format!("`{key}` contains a wildcard (`*` or `?`): pipectl grants the roles this key by ARN, where a wildcard would match every key; name one key"),
        );
        return;
    }
    let partition = partition_of(region);
    let resource = match key.strip_prefix("arn:") {
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let [arn_partition, service, key_region, account, resource] = parts[..] else {
                problems.add(path, not_a_key(key, form, partition, region));
                return;
            };
            if arn_partition != partition || service != "kms" || !is_account(account) {
                problems.add(path, not_a_key(key, form, partition, region));
                return;
            }
            if key_region != region {
                problems.add(
                    path,
                    format!("`{key}` is a key of region `{key_region}`; the pipeline is in `{region}`, and S3, Kinesis, Firehose, SNS and EMR encrypt only with a key of their own region"),
                );
                return;
            }
            resource
        }
        None if form == KeyForm::Arn => {
            problems.add(path, not_a_key(key, form, partition, region));
            return;
        }
        None => key,
    };
    let valid = match resource.strip_prefix("alias/") {
        Some(alias) => {
            !alias.is_empty()
                && alias.len() <= 250
                && alias.chars().all(|c| c.is_ascii_alphanumeric() || "/_-".contains(c))
        }
        None => {
            let id = if key.starts_with("arn:") { resource.strip_prefix("key/") } else { Some(resource) };
            id.is_some_and(|id| {
                (1..=2048).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
        }
    };
    if !valid {
        problems.add(path, not_a_key(key, form, partition, region));
    }
}

fn is_account(account: &str) -> bool {
    account.len() == 12 && account.chars().all(|c| c.is_ascii_digit())
}

fn not_a_key(key: &str, form: KeyForm, partition: &str, region: &str) -> String {
    let arn = format!("arn:{partition}:kms:{region}:<account>:key/<id>");
    match form {
        KeyForm::Arn => format!("`{key}` is not a key ARN ({arn}, or an alias ARN)"),
        KeyForm::Any => format!("`{key}` is not a KMS key: use a key id, `alias/<name>`, or an ARN ({arn})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(key: &str, form: KeyForm) -> Vec<String> {
        let mut problems = Problems::default();
        check_key("k", key, form, "eu-west-1", &mut problems);
        problems.into_vec().into_iter().map(|problem| problem.message).collect()
    }

    #[test]
    fn the_four_forms_of_a_key_in_the_pipeline_region_are_accepted() {
        for key in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "alias/team/lake",
            "alias/aws/kinesis",
            "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:123456789012:alias/lake",
        ] {
            assert_eq!(messages(key, KeyForm::Any), Vec::<String>::new(), "{key}");
        }
        for key in ["arn:aws:kms:eu-west-1:123456789012:key/abc", "arn:aws:kms:eu-west-1:123456789012:alias/lake"] {
            assert_eq!(messages(key, KeyForm::Arn), Vec::<String>::new(), "{key}");
        }
    }

    #[test]
    fn wildcards_other_regions_and_other_shapes_are_refused() {
        for (key, form, expected) in [
            ("*", KeyForm::Any, "contains a wildcard"),
            ("alias/lake*", KeyForm::Any, "contains a wildcard"),
            ("arn:aws:kms:eu-west-1:123456789012:key/*", KeyForm::Arn, "contains a wildcard"),
            ("arn:aws:kms:eu-west-1:123456789012:key/ab?d", KeyForm::Arn, "contains a wildcard"),
            ("arn:aws:kms:us-east-1:123456789012:key/abc", KeyForm::Any, "is a key of region `us-east-1`"),
            ("arn:aws-cn:kms:eu-west-1:123456789012:key/abc", KeyForm::Any, "is not a KMS key"),
            ("arn:aws:s3:eu-west-1:123456789012:key/abc", KeyForm::Any, "is not a KMS key"),
            ("arn:aws:kms:eu-west-1:1234:key/abc", KeyForm::Any, "is not a KMS key"),
            ("alias/lake", KeyForm::Arn, "is not a key ARN"),
            ("my key", KeyForm::Any, "is not a KMS key"),
            ("alias/", KeyForm::Any, "is not a KMS key"),
        ] {
            let found = messages(key, form);
            assert_eq!(found.len(), 1, "{key}: {found:?}");
            assert!(found[0].contains(expected), "{key}: {found:?}");
        }
    }
}

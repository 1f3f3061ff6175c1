//! S3 buckets of the data lake: versioning, default encryption, public access block, lifecycle
//! rules and tags. Buckets are found by name (the spec's) and, for deletions, by their tags.
//! Deleting a bucket that holds objects empties it first, which only happens with consent.
//! Every bucket also gets a TLS-only policy statement and `BucketOwnerEnforced` (`policy`).

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus,
    CreateBucketConfiguration, Delete, ExpirationStatus, LifecycleExpiration, LifecycleRule as S3LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, ObjectIdentifier, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, Transition as S3Transition, TransitionStorageClass, VersioningConfiguration,
};
use serde_json::{json, Value};

use super::kit::tag_index::Indexed;
use super::kit::Output;
use super::kit::{
    aws_error, build_error, AwsError, Clients, Context, Grant, GrantContext, LiveResource, NamedRead, Ownership,
    ReadContext, ResourceKind, Scope, Tags, WITH_PIPECTL_ADOPT,
};
use crate::iam::arns::Arns;
use crate::model::{
    Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::pricing::{self, CostLine, Prices};
use crate::spec::{self, BucketEncryption, LifecycleRule};

pub struct Bucket;
pub const KIND: Kind = Kind::of(&Bucket);

/// How the tag index lists buckets: `arn:aws:s3:::<name>`; moto answers the service filter `s3`
/// (and `s3:bucket`).
const INDEXED: Indexed = Indexed::new("s3", "s3", "");

/// A bucket is named in the spec by its S3 name.
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

#[derive(Debug, Clone)]
pub struct Live {
    pub versioning: bool,
    /// `sse-s3`, `sse-kms` or `none`.
    pub encryption: String,
    pub kms_key: Option<String>,
    /// The default encryption rule's `BucketKeyEnabled` (absent reads as off).
    pub bucket_key: bool,
    pub block_public_access: bool,
    pub lifecycle: Vec<Value>,
    /// From pipectl's housekeeping rule: incomplete uploads aborted after, old versions expire after.
    pub abort_incomplete_after: Option<i64>,
    pub noncurrent_expire_after: Option<i64>,
    pub holds_objects: bool,
    /// The bucket policy as read (the user's statements are written back with pipectl's).
    pub policy: Option<Value>,
    /// Whether the policy holds pipectl's TLS-only statement as it should be.
    pub tls_only: bool,
    /// The ownership controls' object ownership, None without any.
    pub object_ownership: Option<String>,
}

fn lifecycle_value(id: &str, prefix: &str, transitions: Vec<(i64, String)>, expiration_days: Option<i64>) -> Value {
    json!({
        "id": id,
        "prefix": prefix,
        "transitions": transitions.into_iter().map(|(days, class)| json!({"days": days, "storage_class": class})).collect::<Vec<_>>(),
        "expiration_days": expiration_days,
    })
}

fn rule_id(rule: &LifecycleRule) -> String {
    rule.id.clone().unwrap_or_else(|| rule.prefix.clone())
}

fn sorted_by_id(mut rules: Vec<Value>) -> Value {
    rules.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Value::Array(rules)
}

impl DesiredConfig for spec::Bucket {
    fn attributes(&self) -> Attributes {
        let lifecycle = self
            .lifecycle
            .iter()
            .map(|rule| {
                let transitions = rule.transitions.iter().map(|t| (t.days, t.storage_class.clone())).collect();
                lifecycle_value(&rule_id(rule), &rule.prefix, transitions, rule.expiration_days)
            })
            .collect();
        let encryption = match self.encryption {
            BucketEncryption::SseS3 => "sse-s3",
            BucketEncryption::SseKms => "sse-kms",
        };
        Attributes::from([
            ("versioning".to_string(), json!(self.versioning)),
            ("encryption".to_string(), json!(encryption)),
            ("kms_key".to_string(), json!(self.kms_key)),
            ("bucket_key".to_string(), bucket_key_attribute(encryption, self.bucket_key_enabled())),
            ("block_public_access".to_string(), json!(self.block_public_access)),
            ("lifecycle".to_string(), sorted_by_id(lifecycle)),
            ("abort_incomplete_uploads_days".to_string(), json!(self.abort_incomplete_after())),
            ("noncurrent_versions_expire_days".to_string(), json!(self.noncurrent_expire_after())),
            ("tls_only".to_string(), json!(true)),
            ("object_ownership".to_string(), json!(policy::OWNER_ENFORCED)),
        ])
    }
}

/// An S3 Bucket Key only means something for SSE-KMS: for other encryption the plan shows none
/// (S3 may report `BucketKeyEnabled` either way for SSE-S3, and it changes nothing there).
fn bucket_key_attribute(encryption: &str, enabled: bool) -> Value {
    if encryption == "sse-kms" {
        json!(enabled)
    } else {
        Value::Null
    }
}

fn live_attributes(live: &Live) -> Attributes {
    Attributes::from([
        ("versioning".to_string(), json!(live.versioning)),
        ("encryption".to_string(), json!(live.encryption)),
        ("kms_key".to_string(), json!(live.kms_key)),
        ("bucket_key".to_string(), bucket_key_attribute(&live.encryption, live.bucket_key)),
        ("block_public_access".to_string(), json!(live.block_public_access)),
        ("lifecycle".to_string(), sorted_by_id(live.lifecycle.clone())),
        ("abort_incomplete_uploads_days".to_string(), json!(live.abort_incomplete_after)),
        ("noncurrent_versions_expire_days".to_string(), json!(live.noncurrent_expire_after)),
        ("tls_only".to_string(), json!(live.tls_only)),
        ("object_ownership".to_string(), json!(live.object_ownership)),
    ])
}

impl LiveDetail for Live {
    fn describe(&self, _physical_id: &str, _names: &Names) -> (Attributes, Vec<ResourceId>) {
        (live_attributes(self), Vec::new())
    }

    fn holds_data(&self) -> Option<String> {
        self.holds_objects.then(|| "the bucket holds objects, which are deleted with it".to_string())
    }
}

impl KindRules for Bucket {
    fn name(&self) -> &'static str {
        "bucket"
    }
    fn rank(&self) -> u8 {
        50
    }
}

impl ResourceKind for Bucket {
    type Desired = spec::Bucket;
    type Live = Live;
    const KIND: Kind = KIND;
    const INDEXED: Option<&'static Indexed> = Some(&INDEXED);

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        graph
            .spec
            .buckets
            .iter()
            // With the rule that expires query results on the results bucket (`spec::query`).
            .map(|bucket| {
                graph.node(id(&bucket.name), &bucket.tags, vec![], spec::with_derived_rules(graph.spec, bucket))
            })
            .collect()
    }

    async fn read(&self, read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
        self::read(read).await
    }

    async fn create(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &spec::Bucket,
    ) -> Result<String, AwsError> {
        create(ctx, resource, desired).await
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &spec::Bucket,
        _live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        update(ctx, resource, desired, detail).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, _detail: &Live) -> Result<(), AwsError> {
        delete(ctx, live).await
    }

    const ADOPTABLE: bool = true;
    /// Endpoints that ignore tags on CreateBucket leave it untagged until PutBucketTagging.
    const JOURNALED: bool = true;

    /// PutBucketTagging "will overwrite any current tags the bucket already has" (Amazon S3 API
    /// Reference, PutBucketTagging): it is sent the tags read, plus the ownership tags.
    async fn adopt(
        &self,
        clients: &Clients,
        live: &LiveResource,
        _detail: &Live,
        ownership: &Tags,
    ) -> Result<(), AwsError> {
        let id = &live.id;
        let mut tags = live.tags.clone();
        tags.extend(ownership.clone());
        let tag_set = tags
            .iter()
            .map(|(key, value)| aws_sdk_s3::types::Tag::builder().key(key).value(value).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| build_error(id, "PutBucketTagging", error))?;
        let tagging = aws_sdk_s3::types::Tagging::builder()
            .set_tag_set(Some(tag_set))
            .build()
            .map_err(|error| build_error(id, "PutBucketTagging", error))?;
        clients
            .s3
            .put_bucket_tagging()
            .bucket(&live.physical_id)
            .tagging(tagging)
            .send()
            .await
            .map_err(|error| aws_error(id, "PutBucketTagging", error))?;
        Ok(())
    }

    /// Storage per GB-month in each class its lifecycle moves objects to (a rate: it depends on
    /// what is stored).
    fn cost(&self, resource: &DesiredResource, bucket: &spec::Bucket, prices: &Prices) -> Vec<CostLine> {
        let mut classes = vec!["STANDARD".to_string()];
        for transition in bucket.lifecycle.iter().flat_map(|rule| &rule.transitions) {
            if !classes.contains(&transition.storage_class) {
                classes.push(transition.storage_class.clone());
            }
        }
        let name = resource.id.to_string();
        classes
            .iter()
            .map(|class| {
                let figure = prices.of_type("s3_gb_month", class);
                pricing::rate(&name, &format!("S3 {class} storage"), "GB-month", figure)
            })
            .collect()
    }

    fn outputs(&self, live: &LiveResource, _detail: &Live, arns: &Arns) -> Vec<Output> {
        vec![Output::new("name", &live.physical_id), Output::new("arn", arns.bucket(&live.physical_id))]
    }

    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let buckets: Vec<String> = ctx.spec.buckets.iter().map(|bucket| ctx.arns.bucket(&bucket.name)).collect();
        let objects = buckets.iter().map(|bucket| format!("{bucket}/*")).collect();
        let read = [
            "s3:GetBucketLocation",
            "s3:GetBucketTagging",
            "s3:GetBucketVersioning",
            "s3:GetEncryptionConfiguration",
            "s3:GetBucketPublicAccessBlock",
            "s3:GetLifecycleConfiguration",
            "s3:GetBucketPolicy",
            "s3:GetBucketOwnershipControls",
            "s3:ListBucketVersions",
            "s3:ListBucket",
        ];
        let change = [
            "s3:CreateBucket",
            "s3:TagResource",
            "s3:PutBucketTagging",
            "s3:PutBucketVersioning",
            "s3:PutEncryptionConfiguration",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutLifecycleConfiguration",
            "s3:PutBucketPolicy",
            "s3:PutBucketOwnershipControls",
        ];
        vec![
            Grant::unscoped_reads(&["s3:ListAllMyBuckets"]),
            Grant::new("ReadBuckets", Scope::Plan, &read, buckets.clone()),
            Grant::new("ChangeBuckets", Scope::Apply, &change, buckets.clone()),
            Grant::new("ChangeBuckets", Scope::Destroy, &["s3:DeleteBucket"], buckets),
            Grant::new(
                "EmptyBucketsOnDestroy",
                Scope::Destroy,
                &["s3:DeleteObject", "s3:DeleteObjectVersion"],
                objects,
            ),
        ]
    }
}

/// The region a bucket lives in (GetBucketLocation: no constraint is us-east-1, `EU` the old
/// name of eu-west-1, "GetBucketLocation", Amazon S3 API Reference), or None if there is none.
async fn location(s3: &aws_sdk_s3::Client, name: &str) -> Result<Option<String>, AwsError> {
    match s3.get_bucket_location().bucket(name).send().await {
        Ok(output) => Ok(Some(match output.location_constraint().map(|constraint| constraint.as_str()) {
            None | Some("") => "us-east-1".to_string(),
            Some("EU") => "eu-west-1".to_string(),
            Some(region) => region.to_string(),
        })),
        Err(error) => aws_error(format!("bucket/{name}"), "GetBucketLocation", error).unless("NoSuchBucket", None),
    }
}

/// Whose a bucket name is in `region`. Bucket names are global, but a bucket lives in one
/// region: one of another region is never this region's pipeline's, even with its tags (the same
/// pipeline applied in two regions), so it is neither read nor changed nor deleted from here. AWS
/// would answer a 301 to the tagging read; emulators answer it, so the region is asked first
/// (at the same time as the tags).
async fn ownership(s3: &aws_sdk_s3::Client, name: &str) -> Result<Ownership, AwsError> {
    let region = s3.config().region().map(ToString::to_string).unwrap_or_default();
    let (located, tags) = tokio::join!(location(s3, name), tags(s3, name));
    match located {
        Ok(Some(elsewhere)) if !region.is_empty() && elsewhere != region => {
            Ok(Ownership::Unreadable(format!("the bucket lives in {elsewhere}, not in {region}")))
        }
        Ok(None) => Ok(Ownership::Absent),
        Ok(Some(_)) => tags,
        // A principal without s3:GetBucketLocation on a bucket of someone else's.
        Err(error) if error.has_code("AccessDenied") => Ok(Ownership::Unreadable(error.message)),
        Err(error) => Err(error),
    }
}

/// What GetBucketTagging says about a bucket name.
async fn tags(s3: &aws_sdk_s3::Client, name: &str) -> Result<Ownership, AwsError> {
    match s3.get_bucket_tagging().bucket(name).send().await {
        Ok(output) => Ok(Ownership::Tagged(
            output.tag_set().iter().map(|tag| (tag.key().to_string(), tag.value().to_string())).collect(),
        )),
        Err(error) => {
            let error = aws_error(format!("bucket/{name}"), "GetBucketTagging", error);
            match error.code.as_deref() {
                Some("NoSuchBucket") => Ok(Ownership::Absent),
                Some("NoSuchTagSet") | Some("NoSuchTagSetError") => Ok(Ownership::Tagged(Tags::new())),
                Some("AccessDenied") | Some("PermanentRedirect") | Some("AuthorizationHeaderMalformed") => {
                    Ok(Ownership::Unreadable(error.message))
                }
                _ => Err(error),
            }
        }
    }
}

/// Reads the configuration of a bucket known to be ours.
async fn read_config(s3: &aws_sdk_s3::Client, name: &str, check_objects: bool) -> Result<Live, AwsError> {
    let id = format!("bucket/{name}");
    let versioning = async {
        let output = s3
            .get_bucket_versioning()
            .bucket(name)
            .send()
            .await
            .map_err(|e| aws_error(&id, "GetBucketVersioning", e))?;
        Ok::<_, AwsError>(output.status() == Some(&BucketVersioningStatus::Enabled))
    };
    let encryption = async {
        match s3.get_bucket_encryption().bucket(name).send().await {
            Ok(output) => {
                let rule = output.server_side_encryption_configuration().and_then(|config| config.rules().first());
                let bucket_key = rule.and_then(|rule| rule.bucket_key_enabled()).unwrap_or(false);
                Ok(match rule.and_then(|rule| rule.apply_server_side_encryption_by_default()) {
                    Some(default) if *default.sse_algorithm() == ServerSideEncryption::AwsKms => {
                        ("sse-kms".to_string(), default.kms_master_key_id().map(str::to_string), bucket_key)
                    }
                    Some(_) => ("sse-s3".to_string(), None, bucket_key),
                    None => ("none".to_string(), None, false),
                })
            }
            Err(error) => aws_error(&id, "GetBucketEncryption", error)
                .unless("ServerSideEncryptionConfigurationNotFoundError", ("none".to_string(), None, false)),
        }
    };
    let public_access = async {
        match s3.get_public_access_block().bucket(name).send().await {
            Ok(output) => Ok(output.public_access_block_configuration().is_some_and(|config| {
                config.block_public_acls() == Some(true)
                    && config.ignore_public_acls() == Some(true)
                    && config.block_public_policy() == Some(true)
                    && config.restrict_public_buckets() == Some(true)
            })),
            Err(error) => {
                aws_error(&id, "GetPublicAccessBlock", error).unless("NoSuchPublicAccessBlockConfiguration", false)
            }
        }
    };
    let lifecycle = async {
        match s3.get_bucket_lifecycle_configuration().bucket(name).send().await {
            Ok(output) => Ok(read_lifecycle(output.rules())),
            Err(error) => aws_error(&id, "GetBucketLifecycleConfiguration", error)
                .unless("NoSuchLifecycleConfiguration", ReadLifecycle::default()),
        }
    };
    let objects = async {
        if !check_objects {
            return Ok(false);
        }
        let output = s3
            .list_object_versions()
            .bucket(name)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| aws_error(&id, "ListObjectVersions", e))?;
        Ok(!output.versions().is_empty() || !output.delete_markers().is_empty())
    };
    let (
        versioning,
        (encryption, kms_key, bucket_key),
        block_public_access,
        lifecycle,
        holds_objects,
        (policy, object_ownership),
    ) = tokio::try_join!(versioning, encryption, public_access, lifecycle, objects, policy::read(s3, &id, name))?;
    // A bucket ARN names no account, only the partition of the region pipectl talks to.
    let region = s3.config().region().map(ToString::to_string).unwrap_or_default();
    let tls_only = policy::holds(policy.as_ref(), &policy::statement(&Arns::new("", &region), name));
    Ok(Live {
        versioning,
        encryption,
        kms_key,
        bucket_key,
        block_public_access,
        lifecycle: lifecycle.rules,
        abort_incomplete_after: lifecycle.abort_incomplete_after,
        noncurrent_expire_after: lifecycle.noncurrent_expire_after,
        holds_objects,
        policy,
        tls_only,
        object_ownership,
    })
}

/// The id of the rule pipectl adds to every bucket for its housekeeping: aborting incomplete
/// multipart uploads and expiring old versions.
const HOUSEKEEPING_RULE: &str = "pipectl-housekeeping";

/// A bucket's lifecycle as read back: the spec's rules, and pipectl's housekeeping.
#[derive(Default)]
struct ReadLifecycle {
    rules: Vec<Value>,
    abort_incomplete_after: Option<i64>,
    noncurrent_expire_after: Option<i64>,
}

fn read_lifecycle(rules: &[S3LifecycleRule]) -> ReadLifecycle {
    let mut read = ReadLifecycle::default();
    for rule in rules {
        if rule.id() == Some(HOUSEKEEPING_RULE) {
            read.abort_incomplete_after =
                rule.abort_incomplete_multipart_upload().and_then(|a| a.days_after_initiation()).map(i64::from);
            read.noncurrent_expire_after =
                rule.noncurrent_version_expiration().and_then(|e| e.noncurrent_days()).map(i64::from);
            continue;
        }
        let prefix = rule.filter().and_then(|filter| filter.prefix()).unwrap_or_default();
        let transitions = rule
            .transitions()
            .iter()
            .map(|t| {
                (
                    i64::from(t.days().unwrap_or(0)),
                    t.storage_class().map(|c| c.as_str().to_string()).unwrap_or_default(),
                )
            })
            .collect();
        let expiration = rule.expiration().and_then(|e| e.days()).map(i64::from);
        read.rules.push(lifecycle_value(rule.id().unwrap_or_default(), prefix, transitions, expiration));
    }
    read
}

/// Reads the spec's buckets by name, and finds the pipeline's others by the tag index. Only
/// the buckets the spec no longer names (deleted by the plan) are checked for objects.
async fn read(read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
    let s3 = &read.clients.s3;
    let listed = read.discover(KIND, &INDEXED, list_bucket_names(s3));
    read.named(KIND, WITH_PIPECTL_ADOPT)
        .read(
            listed,
            |name| async move { ownership(s3, &name).await },
            |name, discovered| async move { read_config(s3, &name, discovered).await.map(Some) },
        )
        .await
}

/// Every bucket name of the account, a page of 1,000 at a time (ListBuckets without a page size
/// is refused for accounts whose bucket quota is above 10,000).
async fn list_bucket_names(s3: &aws_sdk_s3::Client) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = s3
            .list_buckets()
            .max_buckets(1000)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|error| aws_error("bucket", "ListBuckets", error))?;
        names.extend(page.buckets().iter().filter_map(|bucket| bucket.name()).map(str::to_string));
        match page.continuation_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => return Ok(names),
        }
    }
}

fn s3_tags(id: &ResourceId, tags: &Tags) -> Result<Tagging, AwsError> {
    let tag_set = tags
        .iter()
        .map(|(key, value)| Tag::builder().key(key).value(value).build())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| build_error(id, "PutBucketTagging", error))?;
    Tagging::builder().set_tag_set(Some(tag_set)).build().map_err(|error| build_error(id, "PutBucketTagging", error))
}

async fn put_tags(ctx: &Context, id: &ResourceId, name: &str, tags: &Tags) -> Result<(), AwsError> {
    ctx.clients
        .s3
        .put_bucket_tagging()
        .bucket(name)
        .tagging(s3_tags(id, tags)?)
        .send()
        .await
        .map_err(|error| aws_error(id, "PutBucketTagging", error))?;
    Ok(())
}

async fn put_versioning(ctx: &Context, id: &ResourceId, name: &str, enabled: bool) -> Result<(), AwsError> {
    let status = if enabled { BucketVersioningStatus::Enabled } else { BucketVersioningStatus::Suspended };
    ctx.clients
        .s3
        .put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .map_err(|error| aws_error(id, "PutBucketVersioning", error))?;
    Ok(())
}

async fn put_encryption(ctx: &Context, id: &ResourceId, bucket: &spec::Bucket) -> Result<(), AwsError> {
    let op = "PutBucketEncryption";
    let algorithm = match bucket.encryption {
        BucketEncryption::SseS3 => ServerSideEncryption::Aes256,
        BucketEncryption::SseKms => ServerSideEncryption::AwsKms,
    };
    let default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(algorithm)
        .set_kms_master_key_id(bucket.kms_key.clone())
        .build()
        .map_err(|error| build_error(id, op, error))?;
    // "Reducing the cost of SSE-KMS with Amazon S3 Bucket Keys" (Amazon S3 User Guide): set on
    // the default encryption rule, it applies to the objects written from then on.
    let bucket_key = (bucket.encryption == BucketEncryption::SseKms).then(|| bucket.bucket_key_enabled());
    let rule = ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default);
    let config = ServerSideEncryptionConfiguration::builder()
        .rules(rule.set_bucket_key_enabled(bucket_key).build())
        .build()
        .map_err(|error| build_error(id, op, error))?;
    ctx.clients
        .s3
        .put_bucket_encryption()
        .bucket(&bucket.name)
        .server_side_encryption_configuration(config)
        .send()
        .await
        .map_err(|error| aws_error(id, op, error))?;
    Ok(())
}

async fn put_public_access_block(ctx: &Context, id: &ResourceId, name: &str, block: bool) -> Result<(), AwsError> {
    let s3 = &ctx.clients.s3;
    if block {
        let config = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        s3.put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(config)
            .send()
            .await
            .map_err(|error| aws_error(id, "PutPublicAccessBlock", error))?;
    } else {
        s3.delete_public_access_block()
            .bucket(name)
            .send()
            .await
            .map_err(|error| aws_error(id, "DeletePublicAccessBlock", error))?;
    }
    Ok(())
}

async fn put_lifecycle(ctx: &Context, id: &ResourceId, bucket: &spec::Bucket) -> Result<(), AwsError> {
    let op = "PutBucketLifecycleConfiguration";
    let s3 = &ctx.clients.s3;
    let mut rules = Vec::new();
    for rule in &bucket.lifecycle {
        let transitions = rule
            .transitions
            .iter()
            .map(|t| {
                S3Transition::builder()
                    .days(i32::try_from(t.days).unwrap_or(i32::MAX))
                    .storage_class(TransitionStorageClass::from(t.storage_class.as_str()))
                    .build()
            })
            .collect();
        let expiration = rule
            .expiration_days
            .map(|days| LifecycleExpiration::builder().days(i32::try_from(days).unwrap_or(i32::MAX)).build());
        let built = S3LifecycleRule::builder()
            .id(rule_id(rule))
            .filter(LifecycleRuleFilter::builder().prefix(&rule.prefix).build())
            .status(ExpirationStatus::Enabled)
            .set_transitions(Some(transitions))
            .set_expiration(expiration)
            .build()
            .map_err(|error| build_error(id, op, error))?;
        rules.push(built);
    }
    let days = |days: i64| i32::try_from(days).unwrap_or(i32::MAX);
    let abort = bucket.abort_incomplete_after();
    let noncurrent = bucket.noncurrent_expire_after();
    if abort.is_some() || noncurrent.is_some() {
        let housekeeping = S3LifecycleRule::builder()
            .id(HOUSEKEEPING_RULE)
            .filter(LifecycleRuleFilter::builder().prefix("").build())
            .status(ExpirationStatus::Enabled)
            .set_abort_incomplete_multipart_upload(
                abort.map(|d| AbortIncompleteMultipartUpload::builder().days_after_initiation(days(d)).build()),
            )
            .set_noncurrent_version_expiration(
                noncurrent.map(|d| NoncurrentVersionExpiration::builder().noncurrent_days(days(d)).build()),
            )
            .build()
            .map_err(|error| build_error(id, op, error))?;
        rules.push(housekeeping);
    }
    if rules.is_empty() {
        s3.delete_bucket_lifecycle()
            .bucket(&bucket.name)
            .send()
            .await
            .map_err(|error| aws_error(id, "DeleteBucketLifecycle", error))?;
        return Ok(());
    }
    let config = BucketLifecycleConfiguration::builder()
        .set_rules(Some(rules))
        .build()
        .map_err(|error| build_error(id, op, error))?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(&bucket.name)
        .lifecycle_configuration(config)
        .send()
        .await
        .map_err(|error| aws_error(id, op, error))?;
    Ok(())
}

async fn create(ctx: &Context, resource: &DesiredResource, bucket: &spec::Bucket) -> Result<String, AwsError> {
    let id = &resource.id;
    // Tags at creation make the bucket recognisably ours from its first moment on AWS; emulators
    // that ignore them are covered by the journal and the PutBucketTagging below.
    let tags = s3_tags(id, &resource.tags)?.tag_set().to_vec();
    let location =
        (ctx.clients.region != "us-east-1").then(|| BucketLocationConstraint::from(ctx.clients.region.as_str()));
    let create = |tags: Option<Vec<Tag>>| {
        let configuration =
            CreateBucketConfiguration::builder().set_location_constraint(location.clone()).set_tags(tags).build();
        ctx.clients.s3.create_bucket().bucket(&bucket.name).create_bucket_configuration(configuration).send()
    };
    ctx.intend(id).await?;
    let mut result = create(Some(tags)).await.map_err(|error| aws_error(id, "CreateBucket", error));
    if result.as_ref().is_err_and(|error| error.has_code("AccessDenied")) {
        // Tags at creation need s3:TagResource besides s3:CreateBucket; a principal without it
        // creates the bucket untagged (the journal covers that moment) and tags it below.
        ctx.progress.line(&format!(
            "{id}: CreateBucket with tags was denied (no s3:TagResource?); creating it untagged, then tagging it"
        ));
        result = create(None).await.map_err(|error| aws_error(id, "CreateBucket", error));
    }
    match result {
        Ok(_) => {}
        // A re-run after an interrupted apply: the bucket is ours already if its tags say so (or
        // it is untagged and the journal of the run that died names it); anyone else's in this
        // account is refused before it is touched.
        Err(error) if error.has_code("BucketAlreadyOwnedByYou") => {
            let found = ownership(&ctx.clients.s3, &bucket.name).await?;
            ctx.claim_existing(id, "CreateBucket", found, WITH_PIPECTL_ADOPT).await?;
        }
        Err(error) if error.has_code("BucketAlreadyExists") => {
            return Err(AwsError::new(
                id,
                "CreateBucket",
                "the name is taken by another AWS account; bucket names are global, pick another",
            ))
        }
        Err(error) => return Err(error),
    }
    // Tag first, so that an interrupted apply leaves a bucket the next run recognises as ours.
    put_tags(ctx, id, &bucket.name, &resource.tags).await?;
    ctx.done(id).await?;
    if bucket.versioning {
        put_versioning(ctx, id, &bucket.name, true).await?;
    }
    put_encryption(ctx, id, bucket).await?;
    if bucket.block_public_access {
        put_public_access_block(ctx, id, &bucket.name, true).await?;
    }
    if !bucket.lifecycle.is_empty()
        || bucket.abort_incomplete_after().is_some()
        || bucket.noncurrent_expire_after().is_some()
    {
        put_lifecycle(ctx, id, bucket).await?;
    }
    // A new bucket has no policy yet (a re-run's bucket holds at most pipectl's own statement).
    policy::put_ownership(ctx, id, &bucket.name).await?;
    policy::put_policy(ctx, id, &bucket.name, None).await?;
    Ok(bucket.name.clone())
}

async fn update(ctx: &Context, resource: &DesiredResource, bucket: &spec::Bucket, live: &Live) -> Result<(), AwsError> {
    let id = &resource.id;
    let desired = bucket.attributes();
    let current = live_attributes(live);
    let changed = |field: &str| desired.get(field) != current.get(field);
    if changed("versioning") {
        put_versioning(ctx, id, &bucket.name, bucket.versioning).await?;
    }
    if changed("encryption") || changed("kms_key") || changed("bucket_key") {
        put_encryption(ctx, id, bucket).await?;
    }
    if changed("block_public_access") {
        put_public_access_block(ctx, id, &bucket.name, bucket.block_public_access).await?;
    }
    if changed("lifecycle") || changed("abort_incomplete_uploads_days") || changed("noncurrent_versions_expire_days") {
        put_lifecycle(ctx, id, bucket).await?;
    }
    if changed("object_ownership") {
        policy::put_ownership(ctx, id, &bucket.name).await?;
    }
    if changed("tls_only") {
        policy::put_policy(ctx, id, &bucket.name, live.policy.as_ref()).await?;
    }
    put_tags(ctx, id, &bucket.name, &resource.tags).await
}

/// Empties the bucket (every object version and delete marker), then deletes it.
async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    let s3 = &ctx.clients.s3;
    let id = &live.id;
    let name = &live.physical_id;
    let mut deleted = 0usize;
    // Each round deletes up to 1,000 versions (DeleteObjects' limit) or stops with the reasons:
    // a version that cannot be deleted would otherwise be listed again forever.
    loop {
        let listing = s3
            .list_object_versions()
            .bucket(name)
            .max_keys(1000)
            .send()
            .await
            .map_err(|e| aws_error(id, "ListObjectVersions", e))?;
        let versions = listing.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = listing.delete_markers().iter().map(|m| (m.key(), m.version_id()));
        let objects = versions
            .chain(markers)
            .filter_map(|(key, version)| {
                ObjectIdentifier::builder().key(key?).set_version_id(version.map(str::to_string)).build().ok()
            })
            .collect::<Vec<_>>();
        if objects.is_empty() {
            break;
        }
        let count = objects.len();
        let batch = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| build_error(id, "DeleteObjects", e))?;
        let output = s3
            .delete_objects()
            .bucket(name)
            .delete(batch)
            .send()
            .await
            .map_err(|e| aws_error(id, "DeleteObjects", e))?;
        if !output.errors().is_empty() {
            return Err(undeletable(id, deleted, output.errors()));
        }
        deleted += count;
        ctx.progress.line(&format!("{id}: emptying the bucket, {deleted} object versions deleted so far"));
    }
    s3.delete_bucket().bucket(name).send().await.map_err(|error| aws_error(id, "DeleteBucket", error))?;
    Ok(())
}

/// The error for versions DeleteObjects refused: how many, and the first few with AWS's reasons.
fn undeletable(id: &ResourceId, deleted: usize, errors: &[aws_sdk_s3::types::Error]) -> AwsError {
    let shown: Vec<String> = errors
        .iter()
        .take(10)
        .map(|error| {
            format!(
                "{} ({}: {})",
                error.key().unwrap_or("?"),
                error.code().unwrap_or("error"),
                error.message().unwrap_or("no message")
            )
        })
        .collect();
    let more = errors.len().saturating_sub(shown.len());
    AwsError::new(
        id,
        "DeleteObjects",
        format!(
            "{} object versions could not be deleted ({deleted} were): {}{}",
            errors.len(),
            shown.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        ),
    )
}

pub mod lake;
mod policy;

#[cfg(test)]
mod tests;

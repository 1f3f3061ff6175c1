//! S3 buckets of the data lake: versioning, default encryption, public access block, lifecycle
//! rules and tags. Buckets are found by name (the spec's) and, for deletions, by their tags.
//! Deleting a bucket that holds objects empties it first, which only happens with consent.

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, Delete,
    ExpirationStatus, LifecycleExpiration, LifecycleRule as S3LifecycleRule, LifecycleRuleFilter, ObjectIdentifier,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging, Transition as S3Transition,
    TransitionStorageClass, VersioningConfiguration,
};
use serde_json::{json, Value};

use super::{
    aws_error, build_error, AwsError, Context, LiveResource, NamedRead, Ownership, ReadContext, ResourceKind, Tags,
};
use crate::model::{
    Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::spec::{self, BucketEncryption, LifecycleRule};

pub struct Bucket;
pub const KIND: Kind = Kind::of(&Bucket);

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
    pub block_public_access: bool,
    pub lifecycle: Vec<Value>,
    pub holds_objects: bool,
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
            ("block_public_access".to_string(), json!(self.block_public_access)),
            ("lifecycle".to_string(), sorted_by_id(lifecycle)),
        ])
    }
}

fn live_attributes(live: &Live) -> Attributes {
    Attributes::from([
        ("versioning".to_string(), json!(live.versioning)),
        ("encryption".to_string(), json!(live.encryption)),
        ("kms_key".to_string(), json!(live.kms_key)),
        ("block_public_access".to_string(), json!(live.block_public_access)),
        ("lifecycle".to_string(), sorted_by_id(live.lifecycle.clone())),
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
        5
    }
}

impl ResourceKind for Bucket {
    type Desired = spec::Bucket;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        graph
            .spec
            .buckets
            .iter()
            .map(|bucket| graph.node(id(&bucket.name), &bucket.tags, vec![], bucket.clone()))
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
}

/// What GetBucketTagging says about a bucket name.
async fn ownership(s3: &aws_sdk_s3::Client, name: &str) -> Result<Ownership, AwsError> {
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
                let default = output
                    .server_side_encryption_configuration()
                    .and_then(|config| config.rules().first())
                    .and_then(|rule| rule.apply_server_side_encryption_by_default());
                Ok(match default {
                    Some(default) if *default.sse_algorithm() == ServerSideEncryption::AwsKms => {
                        ("sse-kms".to_string(), default.kms_master_key_id().map(str::to_string))
                    }
                    Some(_) => ("sse-s3".to_string(), None),
                    None => ("none".to_string(), None),
                })
            }
            Err(error) => aws_error(&id, "GetBucketEncryption", error)
                .unless("ServerSideEncryptionConfigurationNotFoundError", ("none".to_string(), None)),
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
            Ok(output) => Ok(output
                .rules()
                .iter()
                .map(|rule| {
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
                    lifecycle_value(rule.id().unwrap_or_default(), prefix, transitions, expiration)
                })
                .collect()),
            Err(error) => aws_error(&id, "GetBucketLifecycleConfiguration", error)
                .unless("NoSuchLifecycleConfiguration", Vec::new()),
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
    let (versioning, (encryption, kms_key), block_public_access, lifecycle, holds_objects) =
        tokio::try_join!(versioning, encryption, public_access, lifecycle, objects)?;
    Ok(Live { versioning, encryption, kms_key, block_public_access, lifecycle, holds_objects })
}

/// Reads the spec's buckets by name, and finds any other bucket tagged with this pipeline. Only
/// the buckets the spec no longer names (deleted by the plan) are checked for objects.
async fn read(read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
    let s3 = &read.clients.s3;
    let listed = async {
        let listed = s3.list_buckets().send().await.map_err(|error| aws_error("bucket", "ListBuckets", error))?;
        Ok(listed.buckets().iter().filter_map(|bucket| bucket.name()).map(str::to_string).collect())
    };
    read.named(KIND, " (aws s3api put-bucket-tagging)")
        .read(
            listed,
            |name| async move { ownership(s3, &name).await },
            |name, discovered| async move { read_config(s3, &name, discovered).await.map(Some) },
        )
        .await
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
    let config = ServerSideEncryptionConfiguration::builder()
        .rules(ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(default).build())
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
    if bucket.lifecycle.is_empty() {
        s3.delete_bucket_lifecycle()
            .bucket(&bucket.name)
            .send()
            .await
            .map_err(|error| aws_error(id, "DeleteBucketLifecycle", error))?;
        return Ok(());
    }
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
    let configuration =
        CreateBucketConfiguration::builder().set_location_constraint(location).set_tags(Some(tags)).build();
    ctx.intend(id).await?;
    let request = ctx.clients.s3.create_bucket().bucket(&bucket.name).create_bucket_configuration(configuration);
    match request.send().await.map_err(|error| aws_error(id, "CreateBucket", error)) {
        Ok(_) => {}
        // A re-run after an interrupted apply: the bucket is ours already.
        Err(error) if error.has_code("BucketAlreadyOwnedByYou") => {}
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
    if !bucket.lifecycle.is_empty() {
        put_lifecycle(ctx, id, bucket).await?;
    }
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
    if changed("encryption") || changed("kms_key") {
        put_encryption(ctx, id, bucket).await?;
    }
    if changed("block_public_access") {
        put_public_access_block(ctx, id, &bucket.name, bucket.block_public_access).await?;
    }
    if changed("lifecycle") {
        put_lifecycle(ctx, id, bucket).await?;
    }
    put_tags(ctx, id, &bucket.name, &resource.tags).await
}

/// Empties the bucket (every object version and delete marker), then deletes it.
async fn delete(ctx: &Context, live: &LiveResource) -> Result<(), AwsError> {
    let s3 = &ctx.clients.s3;
    let id = &live.id;
    let name = &live.physical_id;
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
        ctx.progress.line(&format!("{id}: deleting {} object versions", objects.len()));
        let batch = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| build_error(id, "DeleteObjects", e))?;
        s3.delete_objects().bucket(name).delete(batch).send().await.map_err(|e| aws_error(id, "DeleteObjects", e))?;
    }
    s3.delete_bucket().bucket(name).send().await.map_err(|error| aws_error(id, "DeleteBucket", error))?;
    Ok(())
}

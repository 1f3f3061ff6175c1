//! IAM roles: the ones pipectl derives (one per delivery, three per cluster, least privilege)
//! and the ones declared in `roles`. Roles live under the IAM path `/pipectl/<pipeline>/`, so the
//! pipeline's roles are listed with one call; policies are compared in normalised form so plans
//! stay stable. The kinds that derive roles build their nodes with `config` and `id`.

use aws_sdk_iam::types::Tag;
use serde_json::{json, Value};

use super::{
    aws_error, build_error, claimed_id, owned_by, ownership_conflict, AwsError, Context, LiveResource, NamedKind,
    NamedRead, Ownership, ReadContext, ResourceKind, Tags,
};
use crate::model::{
    Attributes, DesiredConfig, DesiredResource, GraphContext, Kind, KindRules, LiveDetail, Names, ResourceId,
};
use crate::names::{iam_role_name, role_path};
use crate::policy::{normalize, parse_document, statements_policy};

pub struct Role;
pub const KIND: Kind = Kind::of(&Role);

/// The role named `name` in the spec (declared, or derived for a delivery or cluster).
pub fn id(name: &str) -> ResourceId {
    ResourceId::new(KIND, name)
}

/// The name of the inline policy pipectl writes on each role.
const INLINE_POLICY: &str = "pipectl";

/// An IAM role as pipectl manages it: derived for a delivery or a cluster, or declared in `roles`.
#[derive(Debug, Clone)]
pub struct RoleConfig {
    /// The IAM role name, `<pipeline>-<role>`.
    pub iam_name: String,
    /// The IAM path, `/pipectl/<pipeline>/`.
    pub path: String,
    /// Trust and inline policies, normalised.
    pub trust: Value,
    pub inline: Option<Value>,
    /// Managed policy ARNs, sorted.
    pub managed: Vec<String>,
    /// Whether the role also has an instance profile of the same name (for EC2 instances).
    pub instance_profile: bool,
}

impl DesiredConfig for RoleConfig {
    fn attributes(&self) -> Attributes {
        attributes(&self.path, &self.trust, &self.inline, &self.managed, self.instance_profile)
    }
}

/// The desired state of the pipeline's role `name`: its IAM name and path, the documents
/// normalised, the managed policies sorted, and no instance profile.
pub fn config(graph: &GraphContext, name: &str, trust: Value, inline: Option<Value>, managed: &[String]) -> RoleConfig {
    let mut managed = managed.to_vec();
    managed.sort();
    RoleConfig {
        iam_name: iam_role_name(&graph.spec.pipeline, name),
        path: role_path(&graph.spec.pipeline),
        trust: normalize(&trust),
        inline: inline.map(|policy| normalize(&policy)),
        managed,
        instance_profile: false,
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub path: String,
    pub trust: Value,
    pub inline: Option<Value>,
    pub managed: Vec<String>,
    /// Names of the instance profiles the role is in.
    pub instance_profiles: Vec<String>,
}

impl LiveDetail for Live {
    /// `physical_id` is the IAM name: the role has its instance profile when one is named so.
    fn describe(&self, physical_id: &str, _names: &Names) -> (Attributes, Vec<ResourceId>) {
        let has_profile = self.instance_profiles.iter().any(|profile| profile == physical_id);
        (attributes(&self.path, &self.trust, &self.inline, &self.managed, has_profile), Vec::new())
    }
}

fn attributes(
    path: &str,
    trust: &Value,
    inline: &Option<Value>,
    managed: &[String],
    instance_profile: bool,
) -> Attributes {
    Attributes::from([
        ("path".to_string(), json!(path)),
        ("trust_policy".to_string(), trust.clone()),
        ("inline_policy".to_string(), inline.clone().unwrap_or(Value::Null)),
        ("managed_policies".to_string(), json!(managed)),
        ("instance_profile".to_string(), json!(instance_profile)),
    ])
}

impl KindRules for Role {
    fn name(&self) -> &'static str {
        "role"
    }
    fn rank(&self) -> u8 {
        7
    }
    fn forces_replacement(&self, field: &str) -> bool {
        field == "path"
    }
}

impl ResourceKind for Role {
    type Desired = RoleConfig;
    type Live = Live;
    const KIND: Kind = KIND;

    fn desired(&self, graph: &GraphContext) -> Vec<DesiredResource> {
        graph
            .spec
            .roles
            .iter()
            .map(|declared| {
                let inline = (!declared.statements.is_empty()).then(|| statements_policy(&declared.statements));
                let trust = graph.arns.trust_policy(&declared.trust);
                let config = config(graph, &declared.name, trust, inline, &declared.managed_policies);
                graph.node(id(&declared.name), &declared.tags, vec![], config)
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
        desired: &RoleConfig,
    ) -> Result<String, AwsError> {
        create(ctx, resource, desired).await
    }

    async fn update(
        &self,
        ctx: &Context,
        resource: &DesiredResource,
        desired: &RoleConfig,
        live: &LiveResource,
        detail: &Live,
    ) -> Result<(), AwsError> {
        update(ctx, resource, desired, live, detail).await
    }

    async fn delete(&self, ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
        delete(ctx, live, detail).await
    }
}

/// A role as GetRole showed it: absent, or present with its tags, path and trust policy.
async fn get_role(iam: &aws_sdk_iam::Client, name: &str) -> Result<Option<(Tags, String, Value)>, AwsError> {
    match iam.get_role().role_name(name).send().await {
        Ok(output) => {
            let Some(role) = output.role() else { return Ok(None) };
            let tags = role.tags().iter().map(|tag| (tag.key().to_string(), tag.value().to_string())).collect();
            let trust = role
                .assume_role_policy_document()
                .and_then(parse_document)
                .map(|doc| normalize(&doc))
                .unwrap_or(Value::Null);
            Ok(Some((tags, role.path().to_string(), trust)))
        }
        Err(error) => aws_error(format!("role/{name}"), "GetRole", error).unless("NoSuchEntity", None),
    }
}

/// The inline policy, the attached managed policies and the instance profiles of a role.
async fn policies(
    iam: &aws_sdk_iam::Client,
    name: &str,
) -> Result<(Option<Value>, Vec<String>, Vec<String>), AwsError> {
    let id = format!("role/{name}");
    let inline = async {
        match iam.get_role_policy().role_name(name).policy_name(INLINE_POLICY).send().await {
            Ok(output) => Ok(parse_document(output.policy_document()).map(|doc| normalize(&doc))),
            Err(error) => aws_error(&id, "GetRolePolicy", error).unless("NoSuchEntity", None),
        }
    };
    let managed = async {
        let output = iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .map_err(|e| aws_error(&id, "ListAttachedRolePolicies", e))?;
        let mut arns: Vec<String> =
            output.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_string)).collect();
        arns.sort();
        Ok(arns)
    };
    let profiles = async {
        match iam.list_instance_profiles_for_role().role_name(name).send().await {
            Ok(output) => {
                Ok(output.instance_profiles().iter().map(|p| p.instance_profile_name().to_string()).collect())
            }
            Err(error) => aws_error(&id, "ListInstanceProfilesForRole", error).unless("NoSuchEntity", Vec::new()),
        }
    };
    tokio::try_join!(inline, managed, profiles)
}

fn live(
    path: String,
    trust: Value,
    (inline, managed, instance_profiles): (Option<Value>, Vec<String>, Vec<String>),
) -> Live {
    Live { path, trust, inline, managed, instance_profiles }
}

/// Reads the spec's roles by IAM name, and finds the pipeline's other roles under its IAM path.
///
/// IAM names are not spec names (`<pipeline>-<role>`), so the spec's roles are looked up here,
/// where a conflict can name the role as the spec does; the others go through the shared named
/// read, and the id each found role claims in its tags names it.
/// The names of every role under `path`, page by page (ListRoles returns at most 100 a call
/// unless asked for up to 1,000, and says when there are more).
async fn list_role_names(iam: &aws_sdk_iam::Client, path: &str) -> Result<Vec<String>, AwsError> {
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = iam
            .list_roles()
            .path_prefix(path)
            .max_items(1000)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|error| aws_error("role", "ListRoles", error))?;
        names.extend(page.roles().iter().map(|role| role.role_name().to_string()));
        match page.marker() {
            Some(next) if page.is_truncated() => marker = Some(next.to_string()),
            _ => return Ok(names),
        }
    }
}

async fn read(read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
    let iam = &read.clients.iam;
    let pipeline = read.pipeline;
    let path = role_path(pipeline);
    let spec_roles: Vec<(&ResourceId, &str)> = read
        .desired_of(KIND)
        .filter_map(|resource| Some((&resource.id, resource.config::<RoleConfig>()?.iam_name.as_str())))
        .collect();
    let named = futures::future::try_join_all(spec_roles.iter().map(|&(id, name)| async move {
        let (role, policies) = tokio::join!(get_role(iam, name), policies(iam, name));
        Ok::<_, AwsError>((id, name, role?, policies))
    }));
    let listed = async {
        let names = list_role_names(iam, &path).await?;
        Ok(names.into_iter().filter(|name| !spec_roles.iter().any(|(_, spec)| spec == name)).collect())
    };
    let others = NamedKind { kind: KIND, pipeline, spec_names: Vec::new(), adoptable: &[], adopt_hint: "" };
    let discovered = others.read(
        listed,
        |name| async move {
            Ok(match get_role(iam, &name).await? {
                Some((tags, _, _)) => Ownership::Tagged(tags),
                None => Ownership::Absent,
            })
        },
        |name, _| async move {
            let Some((_, role_path, trust)) = get_role(iam, &name).await? else { return Ok(None) };
            Ok(Some(live(role_path, trust, policies(iam, &name).await?)))
        },
    );
    let (named, discovered) = tokio::join!(named, discovered);
    let mut result = NamedRead::default();
    for (id, name, role, policies) in named? {
        let Some((tags, role_path, trust)) = role else { continue };
        if !owned_by(&tags, pipeline) {
            let hint = format!(" (aws iam tag-role --role-name {name})");
            result.conflicts.push(ownership_conflict(id, &tags, pipeline, &hint));
            continue;
        }
        let Some(id) = claimed_id(&tags, KIND) else { continue };
        result.found.push(LiveResource::new(id, name, tags, live(role_path, trust, policies?)));
    }
    result.found.extend(discovered?.found.into_iter().filter_map(|mut found| {
        found.id = claimed_id(&found.tags, KIND)?;
        Some(found)
    }));
    Ok(result)
}

fn iam_tags(id: &ResourceId, tags: &Tags) -> Result<Vec<Tag>, AwsError> {
    tags.iter()
        .map(|(key, value)| {
            Tag::builder().key(key).value(value).build().map_err(|error| build_error(id, "TagRole", error))
        })
        .collect()
}

async fn put_inline(ctx: &Context, id: &ResourceId, name: &str, inline: &Option<Value>) -> Result<(), AwsError> {
    let iam = &ctx.clients.iam;
    match inline {
        Some(document) => {
            iam.put_role_policy()
                .role_name(name)
                .policy_name(INLINE_POLICY)
                .policy_document(super::resolve_placeholders(ctx, &document.to_string())?)
                .send()
                .await
                .map_err(|error| aws_error(id, "PutRolePolicy", error))?;
        }
        None => {
            let result = iam.delete_role_policy().role_name(name).policy_name(INLINE_POLICY).send().await;
            if let Err(error) = result.map_err(|error| aws_error(id, "DeleteRolePolicy", error)) {
                if !error.has_code("NoSuchEntity") {
                    return Err(error);
                }
            }
        }
    }
    Ok(())
}

async fn sync_managed(
    ctx: &Context,
    id: &ResourceId,
    name: &str,
    live: &[String],
    wanted: &[String],
) -> Result<(), AwsError> {
    let iam = &ctx.clients.iam;
    for arn in live.iter().filter(|arn| !wanted.contains(arn)) {
        iam.detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error(id, "DetachRolePolicy", e))?;
    }
    for arn in wanted.iter().filter(|arn| !live.contains(arn)) {
        iam.attach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error(id, "AttachRolePolicy", e))?;
    }
    Ok(())
}

async fn create(ctx: &Context, resource: &DesiredResource, role: &RoleConfig) -> Result<String, AwsError> {
    let id = &resource.id;
    let iam = &ctx.clients.iam;
    let result = iam
        .create_role()
        .role_name(&role.iam_name)
        .path(&role.path)
        .assume_role_policy_document(role.trust.to_string())
        .set_tags(Some(iam_tags(id, &resource.tags)?))
        .send()
        .await
        .map_err(|error| aws_error(id, "CreateRole", error));
    let mut existing_managed = Vec::new();
    match result {
        Ok(_) => {}
        // A re-run after an interrupted apply: the role is there, tagged as ours at creation.
        Err(error) if error.has_code("EntityAlreadyExists") => {
            iam.update_assume_role_policy()
                .role_name(&role.iam_name)
                .policy_document(role.trust.to_string())
                .send()
                .await
                .map_err(|error| aws_error(id, "UpdateAssumeRolePolicy", error))?;
            existing_managed = policies(iam, &role.iam_name).await?.1;
        }
        Err(error) => return Err(error),
    }
    put_inline(ctx, id, &role.iam_name, &role.inline).await?;
    sync_managed(ctx, id, &role.iam_name, &existing_managed, &role.managed).await?;
    if role.instance_profile {
        add_instance_profile(ctx, id, role).await?;
    }
    Ok(role.iam_name.clone())
}

/// Creates the instance profile of the same name and puts the role in it (both idempotent).
async fn add_instance_profile(ctx: &Context, id: &ResourceId, role: &RoleConfig) -> Result<(), AwsError> {
    let iam = &ctx.clients.iam;
    let created = iam.create_instance_profile().instance_profile_name(&role.iam_name).path(&role.path).send().await;
    match created.map_err(|error| aws_error(id, "CreateInstanceProfile", error)) {
        Err(error) if !error.has_code("EntityAlreadyExists") => return Err(error),
        _ => {}
    }
    let added =
        iam.add_role_to_instance_profile().instance_profile_name(&role.iam_name).role_name(&role.iam_name).send().await;
    match added.map_err(|error| aws_error(id, "AddRoleToInstanceProfile", error)) {
        // The profile holds its one role already.
        Err(error) if !error.has_code("LimitExceeded") && !error.has_code("EntityAlreadyExists") => Err(error),
        _ => Ok(()),
    }
}

/// Takes the role out of its instance profiles and deletes them.
async fn remove_instance_profiles(
    ctx: &Context,
    id: &ResourceId,
    name: &str,
    profiles: &[String],
) -> Result<(), AwsError> {
    let iam = &ctx.clients.iam;
    for profile in profiles {
        let removed =
            iam.remove_role_from_instance_profile().instance_profile_name(profile).role_name(name).send().await;
        if let Err(error) = removed.map_err(|error| aws_error(id, "RemoveRoleFromInstanceProfile", error)) {
            if !error.is_not_found() {
                return Err(error);
            }
        }
        let deleted = iam.delete_instance_profile().instance_profile_name(profile).send().await;
        if let Err(error) = deleted.map_err(|error| aws_error(id, "DeleteInstanceProfile", error)) {
            if !error.is_not_found() {
                return Err(error);
            }
        }
    }
    Ok(())
}

async fn update(
    ctx: &Context,
    resource: &DesiredResource,
    role: &RoleConfig,
    live: &LiveResource,
    detail: &Live,
) -> Result<(), AwsError> {
    let id = &resource.id;
    let iam = &ctx.clients.iam;
    if detail.trust != role.trust {
        iam.update_assume_role_policy()
            .role_name(&role.iam_name)
            .policy_document(role.trust.to_string())
            .send()
            .await
            .map_err(|error| aws_error(id, "UpdateAssumeRolePolicy", error))?;
    }
    if live.attributes.get("inline_policy") != role.attributes().get("inline_policy") {
        put_inline(ctx, id, &role.iam_name, &role.inline).await?;
    }
    let has_profile = detail.instance_profiles.contains(&role.iam_name);
    if role.instance_profile && !has_profile {
        add_instance_profile(ctx, id, role).await?;
    } else if !role.instance_profile && has_profile {
        remove_instance_profiles(ctx, id, &role.iam_name, std::slice::from_ref(&role.iam_name)).await?;
    }
    sync_managed(ctx, id, &role.iam_name, &detail.managed, &role.managed).await?;
    let stale: Vec<String> = live.tags.keys().filter(|key| !resource.tags.contains_key(*key)).cloned().collect();
    if !stale.is_empty() {
        iam.untag_role()
            .role_name(&role.iam_name)
            .set_tag_keys(Some(stale))
            .send()
            .await
            .map_err(|e| aws_error(id, "UntagRole", e))?;
    }
    if live.tags != resource.tags {
        iam.tag_role()
            .role_name(&role.iam_name)
            .set_tags(Some(iam_tags(id, &resource.tags)?))
            .send()
            .await
            .map_err(|e| aws_error(id, "TagRole", e))?;
    }
    Ok(())
}

/// Detaches and deletes every policy of the role, then the role.
async fn delete(ctx: &Context, live: &LiveResource, detail: &Live) -> Result<(), AwsError> {
    let iam = &ctx.clients.iam;
    let id = &live.id;
    let name = &live.physical_id;
    remove_instance_profiles(ctx, id, name, &detail.instance_profiles).await?;
    sync_managed(ctx, id, name, &detail.managed, &[]).await?;
    let inline =
        iam.list_role_policies().role_name(name).send().await.map_err(|e| aws_error(id, "ListRolePolicies", e))?;
    for policy in inline.policy_names() {
        iam.delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(|e| aws_error(id, "DeleteRolePolicy", e))?;
    }
    iam.delete_role().role_name(name).send().await.map_err(|error| aws_error(id, "DeleteRole", error))?;
    Ok(())
}

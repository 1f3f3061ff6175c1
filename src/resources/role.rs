//! IAM roles: the ones pipectl derives (one per delivery, three per cluster, least privilege)
//! and the ones declared in `roles`. IAM is global but a pipeline is regional, so a role is named
//! `<pipeline>-<role>-<region code>` and lives under the IAM path `/pipectl/<pipeline>/<region>/`:
//! the pipeline's roles in one region are listed by that path, and the same pipeline in another
//! region neither sees nor rewrites nor destroys them. Policies are compared in normalised form so
//! plans stay stable. The spec's `iam.permissions_boundary` is set on every role. The kinds that
//! derive roles build their nodes with `config` and `id`.

use std::sync::Arc;

use aws_sdk_iam::types::Tag;
use serde_json::{json, Value};

use super::kit::named::SharedReads;
use super::kit::{
    aws_error, build_error, claimed_id, owned_by, ownership_conflict, AwsError, Context, Grant, GrantContext,
    LiveResource, NamedKind, NamedRead, Output, Ownership, ReadContext, ResourceKind, Scope, Tags,
};
use crate::iam::{normalize, parse_document, statements_policy, Arns};
use crate::model::{
    Attributes, Binding, DesiredConfig, DesiredResource, Document, GraphContext, Kind, KindRules, LiveDetail, Names,
    ResourceId,
};
use crate::names::{iam_role_name, legacy_role_path, role_path, roles_prefix};

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
    /// The IAM role name, `<pipeline>-<role>-<region code>`.
    pub iam_name: String,
    /// The IAM path, `/pipectl/<pipeline>/<region>/`.
    pub path: String,
    /// The ARN of the managed policy that is the role's permissions boundary (`iam.permissions_boundary`).
    pub permissions_boundary: Option<String>,
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
        let shape = Shape { name: &self.iam_name, path: &self.path, boundary: &self.permissions_boundary };
        attributes(shape, &self.trust, &self.inline, &self.managed, self.instance_profile)
    }

    /// The policies name the pipeline's resources by ARN (normalised again: the account can
    /// change how ARNs sort).
    fn bind(&self, binding: &Binding) -> Option<Arc<dyn DesiredConfig>> {
        Some(Arc::new(RoleConfig {
            trust: normalize(&binding.value(&self.trust)),
            inline: self.inline.as_ref().map(|policy| normalize(&binding.value(policy))),
            ..self.clone()
        }))
    }
}

/// The desired state of the pipeline's role `name` in the graph's (effective) region: its IAM
/// name and path, the spec's permissions boundary, the documents normalised, the managed
/// policies sorted, and no instance profile.
pub fn config(graph: &GraphContext, name: &str, trust: Value, inline: Option<Value>, managed: &[String]) -> RoleConfig {
    let mut managed = managed.to_vec();
    managed.sort();
    RoleConfig {
        iam_name: iam_role_name(&graph.spec.pipeline, name, &graph.arns.region),
        path: graph.spec.role_path(&graph.arns.region),
        permissions_boundary: graph.spec.permissions_boundary().map(str::to_string),
        trust: normalize(&trust),
        inline: inline.map(|policy| normalize(&policy)),
        managed,
        instance_profile: false,
    }
}

#[derive(Debug, Clone)]
pub struct Live {
    pub path: String,
    /// GetRole's `PermissionsBoundary.PermissionsBoundaryArn` (ListRoles does not return it).
    pub permissions_boundary: Option<String>,
    pub trust: Value,
    pub inline: Option<Value>,
    pub managed: Vec<String>,
    /// Names of the instance profiles the role is in, listed only for a role whose trust policy
    /// (live, or the spec's) names EC2 (`trusts_ec2`); empty for any other, whose delete lists
    /// them itself.
    pub instance_profiles: Vec<String>,
}

impl LiveDetail for Live {
    /// `physical_id` is the IAM name: the role has its instance profile when one is named so.
    fn describe(&self, physical_id: &str, _names: &Names) -> (Attributes, Vec<ResourceId>) {
        let has_profile = self.instance_profiles.iter().any(|profile| profile == physical_id);
        let shape = Shape { name: physical_id, path: &self.path, boundary: &self.permissions_boundary };
        (attributes(shape, &self.trust, &self.inline, &self.managed, has_profile), Vec::new())
    }
}

/// What identifies a role in IAM, as the plan shows it: its name, path and permissions boundary.
struct Shape<'a> {
    name: &'a str,
    path: &'a str,
    boundary: &'a Option<String>,
}

fn attributes(
    shape: Shape,
    trust: &Value,
    inline: &Option<Value>,
    managed: &[String],
    instance_profile: bool,
) -> Attributes {
    Attributes::from([
        ("name".to_string(), json!(shape.name)),
        ("path".to_string(), json!(shape.path)),
        ("permissions_boundary".to_string(), json!(shape.boundary)),
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
        70
    }
    /// IAM renames no role and moves none to another path.
    fn forces_replacement(&self, field: &str) -> bool {
        field == "name" || field == "path"
    }
    /// Both policies are derived from the spec's grants and run to a hundred lines each.
    fn document(&self, field: &str) -> Option<Document> {
        matches!(field, "trust_policy" | "inline_policy").then_some(Document::Policy)
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
                let trust = crate::iam::service_trust_policy(graph.arns, &declared.trust);
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

    fn outputs(&self, live: &LiveResource, detail: &Live, arns: &Arns) -> Vec<Output> {
        vec![Output::new("name", &live.physical_id), Output::new("arn", arns.role(&detail.path, &live.physical_id))]
    }

    /// The pipeline's roles and instance profiles of this region only: their path carries it.
    /// Passing a role is granted by the kinds whose resources run with one, attaching a managed
    /// policy by the kinds that attach one (`GrantContext::attach_managed`; the declared roles'
    /// here).
    ///
    /// With `iam.permissions_boundary`, every action for which the Service Authorization
    /// Reference ("Actions, resources, and condition keys for AWS Identity and Access
    /// Management") lists `iam:PermissionsBoundary` requires that boundary (`WriteRolesWithinTheBoundary`):
    /// a role can only be created with it and its policies changed only while it has it, so no
    /// role under the path exceeds it. `DeleteRolePermissionsBoundary` is never granted: a
    /// boundary is changed, not removed (a spec that drops its boundary needs an administrator to
    /// remove it). The other role writes have no such key: `UpdateAssumeRolePolicy` is allowed
    /// only on a role tagged as the pipeline's (`aws:ResourceTag`, which the `role` resource
    /// type takes), tagging and instance profiles on the path.
    fn grants(&self, ctx: &GrantContext) -> Vec<Grant> {
        let (partition, account) = (&ctx.arns.partition, &ctx.arns.account_id);
        let profiles = format!("arn:{partition}:iam::{account}:instance-profile{}*", ctx.roles_path);
        let roles = vec![ctx.roles(), profiles.clone()];
        let read = [
            "iam:GetRole",
            "iam:GetRolePolicy",
            "iam:ListRolePolicies",
            "iam:ListAttachedRolePolicies",
            "iam:ListInstanceProfilesForRole",
        ];
        let bounded = [
            "iam:CreateRole",
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:DetachRolePolicy",
            "iam:PutRolePermissionsBoundary",
        ];
        let within = Grant::new("WriteRolesWithinTheBoundary", Scope::Apply, &bounded, vec![ctx.roles()]);
        let within = match ctx.within_boundary() {
            Some(condition) => within.when(condition),
            None => within,
        };
        let change = ["iam:TagRole", "iam:UntagRole", "iam:CreateInstanceProfile", "iam:AddRoleToInstanceProfile"];
        let delete = ["iam:DeleteRole", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile"];
        let mut grants = vec![
            Grant::unscoped_reads(&["iam:ListRoles"]),
            Grant::new("ReadRoles", Scope::Plan, &read, roles.clone()),
            within,
            Grant::new("ChangeOwnRoleTrust", Scope::Apply, &["iam:UpdateAssumeRolePolicy"], vec![ctx.roles()])
                .when(ctx.tagged()),
            Grant::new("ChangeRoles", Scope::Apply, &change, roles.clone()),
            Grant::new("ChangeRoles", Scope::Destroy, &delete, roles),
        ];
        for declared in &ctx.spec.roles {
            grants.extend(ctx.attach_managed(&declared.managed_policies, std::slice::from_ref(&declared.name)));
        }
        grants
    }
}

/// A role as GetRole shows it.
#[derive(Clone)]
struct GotRole {
    tags: Tags,
    path: String,
    trust: Value,
    boundary: Option<String>,
}

/// A role as GetRole showed it: absent, or present with its tags, path, trust policy and
/// permissions boundary (GetRole returns `PermissionsBoundary` with its `PermissionsBoundaryArn`
/// when one is set; ListRoles does not, "ListRoles", IAM API Reference).
async fn get_role(iam: &aws_sdk_iam::Client, name: &str) -> Result<Option<GotRole>, AwsError> {
    match iam.get_role().role_name(name).send().await {
        Ok(output) => Ok(output.role().map(got_role)),
        Err(error) => aws_error(format!("role/{name}"), "GetRole", error).unless("NoSuchEntity", None),
    }
}

fn got_role(role: &aws_sdk_iam::types::Role) -> GotRole {
    let tags = role.tags().iter().map(|tag| (tag.key().to_string(), tag.value().to_string())).collect();
    let trust =
        role.assume_role_policy_document().and_then(parse_document).map(|doc| normalize(&doc)).unwrap_or(Value::Null);
    let boundary =
        role.permissions_boundary().and_then(|boundary| boundary.permissions_boundary_arn()).map(str::to_string);
    GotRole { tags, path: role.path().to_string(), trust, boundary }
}

/// True when `trust` lets EC2 assume the role (`ec2.amazonaws.com`, `ec2.amazonaws.com.cn` in
/// China). Only such a role can be used through an instance profile: EC2 assumes the role of the
/// profile an instance is launched with ("Use an IAM role to grant permissions to applications
/// running on Amazon EC2 instances", IAM User Guide, which requires the role to trust EC2), so
/// for any other role a profile is inert and not worth a `ListInstanceProfilesForRole` per plan.
fn trusts_ec2(trust: &Value) -> bool {
    let statements = match trust.get("Statement") {
        Some(Value::Array(statements)) => statements.iter().collect(),
        Some(single) => vec![single],
        None => Vec::new(),
    };
    statements.into_iter().filter_map(|statement| statement.pointer("/Principal/Service")).any(|services| {
        let is_ec2 = |service: &Value| matches!(service.as_str(), Some("ec2.amazonaws.com" | "ec2.amazonaws.com.cn"));
        match services {
            Value::Array(services) => services.iter().any(is_ec2),
            service => is_ec2(service),
        }
    })
}

/// The names of the instance profiles the role is in.
async fn instance_profiles(iam: &aws_sdk_iam::Client, name: &str) -> Result<Vec<String>, AwsError> {
    match iam.list_instance_profiles_for_role().role_name(name).send().await {
        Ok(output) => Ok(output.instance_profiles().iter().map(|p| p.instance_profile_name().to_string()).collect()),
        Err(error) => {
            aws_error(format!("role/{name}"), "ListInstanceProfilesForRole", error).unless("NoSuchEntity", Vec::new())
        }
    }
}

/// The inline policy, the attached managed policies and, with `profiles` (see `trusts_ec2`), the
/// instance profiles of a role; all at once.
async fn policies(
    iam: &aws_sdk_iam::Client,
    name: &str,
    profiles: bool,
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
        match profiles {
            true => instance_profiles(iam, name).await,
            false => Ok(Vec::new()),
        }
    };
    tokio::try_join!(inline, managed, profiles)
}

fn live(role: GotRole, (inline, managed, instance_profiles): (Option<Value>, Vec<String>, Vec<String>)) -> Live {
    Live { path: role.path, permissions_boundary: role.boundary, trust: role.trust, inline, managed, instance_profiles }
}

/// The names of the pipeline's roles of `region`: those whose path is the region's, and those
/// at the path pipectl used before names carried the region (`legacy_role_path`: the plan
/// replaces them by the region's own). Listed page by page under the pipeline's path (ListRoles
/// returns at most 100 a call unless asked for up to 1,000, and says when there are more), which
/// starts at the spec's `iam.path` (`base`); the
/// path is compared exactly, so another region's roles (`/pipectl/<pipeline>/<other region>/`)
/// are never returned.
async fn list_role_names(
    iam: &aws_sdk_iam::Client,
    base: &str,
    pipeline: &str,
    region: &str,
) -> Result<Vec<String>, AwsError> {
    let (path, legacy) = (role_path(base, pipeline, region), legacy_role_path(pipeline));
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = iam
            .list_roles()
            .path_prefix(roles_prefix(base, pipeline))
            .max_items(1000)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|error| aws_error("role", "ListRoles", error))?;
        let ours = page.roles().iter().filter(|role| role.path() == path || role.path() == legacy);
        names.extend(ours.map(|role| role.role_name().to_string()));
        match page.marker() {
            Some(next) if page.is_truncated() => marker = Some(next.to_string()),
            _ => return Ok(names),
        }
    }
}

/// Reads the spec's roles by IAM name, and finds the pipeline's other roles of the region.
///
/// IAM names are not spec names (`<pipeline>-<role>-<region code>`), so the spec's roles are
/// looked up here, where a conflict can name the role as the spec does; the others go through the
/// shared named read, and the id each found role claims in its tags names it.
async fn read(read: &ReadContext<'_>) -> Result<NamedRead, AwsError> {
    let iam = &read.clients.iam;
    let pipeline = read.pipeline;
    let region = read.clients.region.as_str();
    let spec_roles: Vec<(&ResourceId, &RoleConfig)> =
        read.desired_of(KIND).filter_map(|resource| Some((&resource.id, resource.config::<RoleConfig>()?))).collect();
    let named = futures::future::try_join_all(spec_roles.iter().map(|&(id, config)| async move {
        let name = config.iam_name.as_str();
        // The spec's trust says whether the profiles matter, so they are read with the rest;
        // a live trust that names EC2 where the spec's does not (drift) costs one more round.
        let profiles = config.instance_profile || trusts_ec2(&config.trust);
        let (role, policies) = tokio::join!(get_role(iam, name), policies(iam, name, profiles));
        let role = role?;
        let policies = match (policies, &role) {
            (Ok((inline, managed, _)), Some(role)) if !profiles && trusts_ec2(&role.trust) => {
                Ok((inline, managed, instance_profiles(iam, name).await?))
            }
            (policies, _) => policies,
        };
        Ok::<_, AwsError>((id, name, role, policies))
    }));
    let listed = async {
        let names = list_role_names(iam, read.iam_path, pipeline, region).await?;
        Ok(names.into_iter().filter(|name| !spec_roles.iter().any(|(_, spec)| spec.iam_name == *name)).collect())
    };
    let others = NamedKind { kind: KIND, pipeline, spec_names: Vec::new(), adoptable: &[], adopt_hint: "" };
    // Ownership and configuration of a role found by its path both start from GetRole: one
    // request serves both.
    let roles = SharedReads::default();
    let roles = &roles;
    let discovered = others.read(
        listed,
        |name| async move {
            Ok(match roles.get(&name, || get_role(iam, &name)).await? {
                Some(role) => Ownership::Tagged(role.tags),
                None => Ownership::Absent,
            })
        },
        |name, _| async move {
            let Some(role) = roles.get(&name, || get_role(iam, &name)).await? else { return Ok(None) };
            let profiles = trusts_ec2(&role.trust);
            Ok(Some(live(role, policies(iam, &name, profiles).await?)))
        },
    );
    let (named, discovered) = tokio::join!(named, discovered);
    let mut result = NamedRead::default();
    for (id, name, role, policies) in named? {
        let Some(role) = role else { continue };
        let tags = role.tags.clone();
        if !owned_by(&tags, pipeline) {
            let hint = format!(" (aws iam tag-role --role-name {name})");
            result.conflicts.push(ownership_conflict(id, &tags, pipeline, &hint));
            continue;
        }
        let Some(id) = claimed_id(&tags, KIND) else { continue };
        result.found.push(LiveResource::new(id, name, tags, live(role, policies?)));
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
                .policy_document(ctx.resolve_placeholders(&document.to_string())?)
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
        .set_permissions_boundary(role.permissions_boundary.clone())
        .set_tags(Some(iam_tags(id, &resource.tags)?))
        .send()
        .await
        .map_err(|error| aws_error(id, "CreateRole", error));
    let mut existing_managed = Vec::new();
    match result {
        Ok(_) => {}
        // A re-run after an interrupted apply: the role is there, tagged as ours at creation.
        // Anyone else's role of the name is refused before it is touched.
        Err(error) if error.has_code("EntityAlreadyExists") => {
            let found = match get_role(iam, &role.iam_name).await? {
                Some(existing) => Ownership::Tagged(existing.tags),
                None => Ownership::Absent,
            };
            ctx.claim_existing(id, "CreateRole", found, " (aws iam tag-role)").await?;
            iam.update_assume_role_policy()
                .role_name(&role.iam_name)
                .policy_document(role.trust.to_string())
                .send()
                .await
                .map_err(|error| aws_error(id, "UpdateAssumeRolePolicy", error))?;
            let boundary = get_role(iam, &role.iam_name).await?.and_then(|existing| existing.boundary);
            sync_boundary(ctx, id, &role.iam_name, &boundary, &role.permissions_boundary).await?;
            existing_managed = policies(iam, &role.iam_name, false).await?.1;
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

/// Sets, changes or removes the role's permissions boundary in place (PutRolePermissionsBoundary
/// replaces any boundary; DeleteRolePermissionsBoundary removes it, "Permissions boundaries for
/// IAM entities", IAM User Guide). A role whose boundary is already gone is what we want.
async fn sync_boundary(
    ctx: &Context,
    id: &ResourceId,
    name: &str,
    live: &Option<String>,
    wanted: &Option<String>,
) -> Result<(), AwsError> {
    let iam = &ctx.clients.iam;
    match wanted {
        _ if live == wanted => {}
        Some(arn) => {
            iam.put_role_permissions_boundary()
                .role_name(name)
                .permissions_boundary(arn)
                .send()
                .await
                .map_err(|error| aws_error(id, "PutRolePermissionsBoundary", error))?;
        }
        None => {
            let result = iam.delete_role_permissions_boundary().role_name(name).send().await;
            if let Err(error) = result.map_err(|error| aws_error(id, "DeleteRolePermissionsBoundary", error)) {
                if !error.has_code("NoSuchEntity") {
                    return Err(error);
                }
            }
        }
    }
    Ok(())
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
    sync_boundary(ctx, id, &role.iam_name, &detail.permissions_boundary, &role.permissions_boundary).await?;
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
    // The read listed the profiles of a role that trusts EC2 only; AWS refuses to delete a role
    // still in a profile ("DeleteRole", IAM API Reference), so any other role's are listed here.
    let profiles = match trusts_ec2(&detail.trust) {
        true => detail.instance_profiles.clone(),
        false => instance_profiles(iam, name).await?,
    };
    remove_instance_profiles(ctx, id, name, &profiles).await?;
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_iam::operation::delete_role_permissions_boundary::DeleteRolePermissionsBoundaryOutput;
    use aws_sdk_iam::operation::get_role::GetRoleOutput;
    use aws_sdk_iam::operation::put_role_permissions_boundary::PutRolePermissionsBoundaryOutput;
    use aws_sdk_iam::types::{AttachedPermissionsBoundary, PermissionsBoundaryAttachmentType};
    use aws_sdk_iam::Client;
    use aws_smithy_mocks::{mock, Rule, RuleMode};

    use super::*;
    use crate::iam::Arns;
    use crate::model::LiveState;
    use crate::resources::graph_in;
    use crate::spec::Spec;

    const BOUNDARY: &str = "arn:aws:iam::123456789012:policy/ci/boundary";

    fn spec(iam: &str) -> Spec {
        let yaml = format!("version: 1\npipeline: p\nregion: eu-west-1\n{iam}roles:\n  - {{name: mine, trust: firehose.amazonaws.com, managed_policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]}}\n");
        serde_saphyr::from_str(&yaml).unwrap()
    }

    fn role_in(spec: &Spec, region: &str) -> (DesiredResource, RoleConfig) {
        let graph = graph_in(spec, &Arns::new("123456789012", region), chrono::Utc::now());
        let node = graph.into_iter().find(|node| node.id == id("mine")).unwrap();
        let config = node.config::<RoleConfig>().unwrap().clone();
        (node, config)
    }

    #[test]
    fn the_name_path_and_boundary_follow_the_region_and_show_in_the_plan() {
        let spec = spec(&format!("iam: {{permissions_boundary: '{BOUNDARY}'}}\n"));
        let (_, ireland) = role_in(&spec, "eu-west-1");
        let (_, virginia) = role_in(&spec, "us-east-1");
        assert_eq!((ireland.iam_name.as_str(), ireland.path.as_str()), ("p-mine-euw1", "/pipectl/p/eu-west-1/"));
        assert_eq!((virginia.iam_name.as_str(), virginia.path.as_str()), ("p-mine-use1", "/pipectl/p/us-east-1/"));
        let attributes = ireland.attributes();
        assert_eq!(attributes["name"], json!("p-mine-euw1"));
        assert_eq!(attributes["path"], json!("/pipectl/p/eu-west-1/"));
        assert_eq!(attributes["permissions_boundary"], json!(BOUNDARY));
        let (_, plain) = role_in(&self::tests::spec(""), "eu-west-1");
        assert_eq!(plain.attributes()["permissions_boundary"], Value::Null);
        assert!(Role.forces_replacement("name") && Role.forces_replacement("path"));
        assert!(!Role.forces_replacement("permissions_boundary"), "a boundary changes in place");
    }

    #[test]
    fn only_a_trust_that_names_ec2_makes_instance_profiles_matter() {
        assert!(trusts_ec2(&normalize(&crate::iam::service_trust_policy(
            &Arns::new("1", "eu-west-1"),
            "ec2.amazonaws.com"
        ))));
        assert!(
            trusts_ec2(&crate::iam::service_trust_policy(&Arns::new("1", "cn-north-1"), "ec2")),
            "China's principal"
        );
        let both = json!({"Statement": {"Effect": "Allow", "Principal": {"Service": ["ssm.amazonaws.com", "ec2.amazonaws.com"]}, "Action": "sts:AssumeRole"}});
        assert!(trusts_ec2(&both), "a single statement naming several services");
        assert!(!trusts_ec2(&crate::iam::service_trust_policy(&Arns::new("1", "eu-west-1"), "firehose.amazonaws.com")));
        assert!(!trusts_ec2(&Value::Null));
    }

    #[test]
    fn a_role_reads_back_as_it_was_written() {
        let (_, config) = role_in(&spec(&format!("iam: {{permissions_boundary: '{BOUNDARY}'}}\n")), "eu-west-1");
        // GetRole's shape: the boundary under PermissionsBoundary.PermissionsBoundaryArn.
        let aws = aws_sdk_iam::types::Role::builder()
            .path("/pipectl/p/eu-west-1/")
            .role_name("p-mine-euw1")
            .role_id("AROAEXAMPLE")
            .arn("arn:aws:iam::123456789012:role/pipectl/p/eu-west-1/p-mine-euw1")
            .create_date(aws_smithy_types::DateTime::from_secs(0))
            .assume_role_policy_document(urlencoding_trust(&config.trust))
            .permissions_boundary(
                AttachedPermissionsBoundary::builder()
                    .permissions_boundary_type(PermissionsBoundaryAttachmentType::Policy)
                    .permissions_boundary_arn(BOUNDARY)
                    .build(),
            )
            .build()
            .unwrap();
        let live = live(got_role(&aws), (None, config.managed.clone(), Vec::new()));
        let (attributes, _) = live.describe("p-mine-euw1", &Names::default());
        assert_eq!(attributes, config.attributes());
    }

    /// IAM returns policy documents URL-encoded; `parse_document` decodes them.
    fn urlencoding_trust(trust: &Value) -> String {
        trust
            .to_string()
            .replace('%', "%25")
            .replace('"', "%22")
            .replace(' ', "%20")
            .replace('{', "%7B")
            .replace('}', "%7D")
    }

    fn iam_context(rules: &[&Rule]) -> Context {
        let mut clients = crate::resources::test_support::clients();
        clients.iam =
            crate::resources::test_support::mock_sdk_client!(aws_sdk_iam, "us-east-1", RuleMode::MatchAny, rules);
        crate::resources::test_support::context(clients, Duration::from_secs(5), &LiveState::default())
    }

    /// The live role as `config` describes it, with `boundary` as its permissions boundary.
    fn live_role(resource: &DesiredResource, config: &RoleConfig, boundary: Option<&str>) -> (LiveResource, Live) {
        let detail = Live {
            path: config.path.clone(),
            permissions_boundary: boundary.map(str::to_string),
            trust: config.trust.clone(),
            inline: config.inline.clone(),
            managed: config.managed.clone(),
            instance_profiles: Vec::new(),
        };
        let mut live = LiveResource::new(resource.id.clone(), &config.iam_name, resource.tags.clone(), detail.clone());
        live.attributes = detail.describe(&config.iam_name, &Names::default()).0;
        (live, detail)
    }

    #[tokio::test]
    async fn a_boundary_is_set_changed_and_removed_in_place() {
        let put = mock!(Client::put_role_permissions_boundary)
            .match_requests(|request| {
                request.role_name() == Some("p-mine-euw1") && request.permissions_boundary() == Some(BOUNDARY)
            })
            .then_output(|| PutRolePermissionsBoundaryOutput::builder().build());
        let delete = mock!(Client::delete_role_permissions_boundary)
            .match_requests(|request| request.role_name() == Some("p-mine-euw1"))
            .then_output(|| DeleteRolePermissionsBoundaryOutput::builder().build());
        let get = mock!(Client::get_role).then_output(|| GetRoleOutput::builder().build());
        let ctx = iam_context(&[&put, &delete, &get]);

        let (resource, bounded) =
            role_in(&spec(&format!("iam: {{permissions_boundary: '{BOUNDARY}'}}\n")), "eu-west-1");
        let (live, detail) = live_role(&resource, &bounded, Some("arn:aws:iam::123456789012:policy/old"));
        update(&ctx, &resource, &bounded, &live, &detail).await.unwrap();
        let (live, detail) = live_role(&resource, &bounded, Some(BOUNDARY));
        update(&ctx, &resource, &bounded, &live, &detail).await.unwrap();
        assert_eq!((put.num_calls(), delete.num_calls()), (1, 0), "changed once, then left alone");

        let (resource, unbounded) = role_in(&spec(""), "eu-west-1");
        let (live, detail) = live_role(&resource, &unbounded, Some(BOUNDARY));
        update(&ctx, &resource, &unbounded, &live, &detail).await.unwrap();
        assert_eq!((put.num_calls(), delete.num_calls()), (1, 1), "removed when the spec drops it");
    }

    #[test]
    fn roles_and_instance_profiles_are_reached_under_the_specs_iam_path_in_this_region() {
        use crate::iam::deployer::Purpose;
        use crate::resources::test_support::{assert_granted, granted, sids_allowing, statement};
        let mut spec = crate::spec::SpecBuilder::new().build();
        spec.iam = Some(crate::spec::Iam { path: Some("/teams/data/".to_string()), ..Default::default() });
        assert_granted(
            &super::Role,
            &spec,
            &[
                ("iam:ListRoles", &["ReadWhatCannotBeScoped"]),
                ("iam:GetRole", &["ReadRoles"]),
                ("iam:PutRolePolicy", &["WriteRolesWithinTheBoundary"]),
                ("iam:UpdateAssumeRolePolicy", &["ChangeOwnRoleTrust"]),
                ("iam:DeleteInstanceProfile", &["ChangeRoles"]),
                // Passed by the kinds that run with a role, each to its own service.
                ("iam:PassRole", &[]),
                ("iam:DeleteRolePermissionsBoundary", &[]),
            ],
        );
        let all = granted(&super::Role, &spec, Purpose::Everything);
        assert_eq!(
            statement(&all, "WriteRolesWithinTheBoundary")["Resource"],
            serde_json::json!(["arn:aws:iam::123456789012:role/teams/data/pipectl/p/eu-west-1/*"])
        );
        for sid in ["ReadRoles", "ChangeRoles"] {
            assert_eq!(
                statement(&all, sid)["Resource"],
                serde_json::json!([
                    "arn:aws:iam::123456789012:role/teams/data/pipectl/p/eu-west-1/*",
                    "arn:aws:iam::123456789012:instance-profile/teams/data/pipectl/p/eu-west-1/*"
                ]),
                "{sid}"
            );
        }
        assert!(sids_allowing(&granted(&super::Role, &spec, Purpose::Plan), "iam:CreateRole").is_empty());
    }
}

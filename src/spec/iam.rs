//! The `iam:` section (what applies to every role pipectl creates) and the `roles:` the spec
//! declares itself; the rules of IAM names, paths and ARNs every section's derived roles meet.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

use super::checks::{check_tags, check_unique, Problems};
use super::pipeline::Spec;
use crate::names::region_code;

/// Settings for every IAM role of the pipeline, for organisations that require them.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Iam {
    /// The ARN of a managed policy set as the permissions boundary of every role pipectl creates
    /// (`arn:<partition>:iam::<account>:policy/<name>`, or an AWS managed policy).
    #[serde(default)]
    pub permissions_boundary: Option<String>,
    /// The IAM path under which pipectl puts the pipeline's roles and instance profiles, for
    /// organisations whose policies match role ARNs by path (`/teams/data/` gives
    /// `/teams/data/pipectl/<pipeline>/<region>/`). Default `/`. Changing it replaces the roles.
    #[serde(default)]
    pub path: Option<String>,
}

impl Spec {
    /// The permissions boundary every role gets, if the spec sets one.
    pub fn permissions_boundary(&self) -> Option<&str> {
        self.iam.as_ref().and_then(|iam| iam.permissions_boundary.as_deref())
    }

    /// Where the pipeline's role paths start: `iam.path`, or `/`.
    pub fn iam_path(&self) -> &str {
        self.iam.as_ref().and_then(|iam| iam.path.as_deref()).unwrap_or(crate::names::DEFAULT_IAM_PATH)
    }

    /// The IAM path of the pipeline's roles in `region` (`names::role_path`).
    pub fn role_path(&self, region: &str) -> String {
        crate::names::role_path(self.iam_path(), &self.pipeline, region)
    }
}

/// An IAM role declared explicitly, for users who want to write the policy themselves.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub name: String,
    /// The service that may assume the role, e.g. `firehose.amazonaws.com`.
    pub trust: String,
    #[serde(default)]
    pub managed_policies: Vec<String>,
    /// Inline policy statements.
    #[serde(default)]
    pub statements: Vec<Statement>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub effect: Effect,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Effect {
    #[default]
    Allow,
    Deny,
}

/// A role's IAM name is `<pipeline>-<role>-<region code>` (`names::iam_role_name`), checked with
/// the spec region's code. (`--region` into a region with a longer code — at most
/// `names::REGION_CODE_MAX` characters — can take a name this close to the limit past it; CreateRole
/// then refuses it, naming the role.)
/// A role pipectl derives for something of the spec (`derived`): it must not take the name of a
/// role the spec declares — both would be the node `role/<name>` — and its IAM name must fit.
pub(super) fn check_derived_role(path: &str, spec: &Spec, derived: &str, problems: &mut Problems) {
    if spec.roles.iter().any(|role| role.name == derived) {
        problems.add(path, format!("the derived role `{derived}` clashes with a role of `roles`; rename one"));
    }
    check_iam_name(path, spec, derived, problems);
}

pub(super) fn check_iam_name(path: &str, spec: &Spec, role: &str, problems: &mut Problems) {
    let code = region_code(&spec.region).len();
    let base = format!("{}-{role}", spec.pipeline);
    let length = base.len() + 1 + code;
    // IAM allows role names of at most 64 characters (`names::NAME_LIMITS`).
    let max_iam_role_name = crate::names::name_limit(crate::names::NameKind::Role).1;
    if !base.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)) {
        problems.add(path, format!("the IAM role name `{base}-…` may only hold letters, digits and `+=,.@_-`"));
    } else if length > max_iam_role_name {
        problems.add(
            path,
            format!(
                "the IAM role name `{base}-<region code>` would be {length} characters with a {code}-character region code; IAM allows at most {max_iam_role_name}: shorten the pipeline or role name by {}",
                length - max_iam_role_name
            ),
        );
    }
}

/// `iam.permissions_boundary` is the ARN of a managed policy in the region's partition:
/// `arn:<partition>:iam::<12-digit account or aws>:policy/<path/><name>` ("IAM identifiers",
/// IAM User Guide; PermissionsBoundary in CreateRole must be a policy ARN).
fn check_iam(iam: &Iam, region: &str, problems: &mut Problems) {
    if let Some(path) = &iam.path {
        check_iam_path(path, problems);
    }
    let Some(arn) = &iam.permissions_boundary else { return };
    let partition = crate::names::partition_of(region);
    let name_ok = |name: &str| {
        (1..=128).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
    };
    let valid = arn.strip_prefix(&format!("arn:{partition}:iam::")).is_some_and(|rest| {
        rest.split_once(":policy/").is_some_and(|(account, policy)| {
            let account_ok = account == "aws" || (account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()));
            let parts: Vec<&str> = policy.split('/').collect();
            account_ok
                && parts.last().is_some_and(|name| name_ok(name))
                && parts[..parts.len() - 1]
                    .iter()
                    .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_graphic()))
        })
    });
    if !valid {
        problems.add(
            "iam.permissions_boundary",
            format!("`{arn}` is not an IAM policy ARN of partition `{partition}` (arn:{partition}:iam::<account>:policy/<name>)"),
        );
    }
}

/// An IAM path is `/` or `/<printable ASCII>/`, at most 512 characters ("IAM identifiers", IAM
/// User Guide; CreateRole `Path`); pipectl adds `pipectl/<pipeline>/<region>/` (at most 70
/// characters) under it.
fn check_iam_path(path: &str, problems: &mut Problems) {
    const MAX_BASE: usize = 512 - 70;
    let printable = path.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c));
    let shaped =
        path == "/" || (path.len() > 2 && path.starts_with('/') && path.ends_with('/') && !path.contains("//"));
    if !printable || !shaped {
        problems.add(
            "iam.path",
            format!("`{path}` is not an IAM path: `/`, or `/` + printable characters + `/`, such as `/teams/data/`"),
        );
    } else if path.len() > MAX_BASE {
        problems.add(
            "iam.path",
            format!("is {} characters; IAM paths hold at most 512 and pipectl adds up to 70", path.len()),
        );
    }
}

/// The declared roles (unique names, and each one's own rules), then the `iam:` section.
pub(super) fn check(spec: &Spec, problems: &mut Problems) {
    check_unique("roles", spec.roles.iter().map(|role| role.name.as_str()), problems);
    for (index, role) in spec.roles.iter().enumerate() {
        check_role(&format!("roles[{index}]"), role, spec, problems);
    }
    if let Some(iam) = &spec.iam {
        check_iam(iam, &spec.region, problems);
    }
}

/// A trust names one service principal (`<service>.amazonaws.com`). A wildcard (`*.amazonaws.com`)
/// is refused: in a trust policy's `Principal` IAM matches it against every service ("AWS JSON
/// policy elements: Principal", IAM User Guide: service principals are named exactly), so the role
/// would be offered to whatever service the wildcard matches, or the trust rejected by IAM.
fn check_trust(path: &str, trust: &str, problems: &mut Problems) {
    let service = trust.strip_suffix(".amazonaws.com").unwrap_or_default();
    if trust.contains(['*', '?']) {
        problems.add(
            path,
            format!("`{trust}` is a wildcard principal: a role trusts one service, named exactly, such as `firehose.amazonaws.com`"),
        );
    } else if service.is_empty()
        || service.starts_with(['.', '-'])
        || !service.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-".contains(c))
    {
        problems.add(path, format!("`{trust}` is not a service principal such as `firehose.amazonaws.com`"));
    }
}

fn check_role(path: &str, role: &Role, spec: &Spec, problems: &mut Problems) {
    check_iam_name(&format!("{path}.name"), spec, &role.name, problems);
    check_trust(&format!("{path}.trust"), &role.trust, problems);
    for (index, arn) in role.managed_policies.iter().enumerate() {
        let valid = arn.starts_with("arn:aws") && arn.contains(":iam::") && arn.contains(":policy/");
        if !valid {
            problems.add(
                format!("{path}.managed_policies[{index}]"),
                format!("`{arn}` is not a managed policy ARN (arn:aws:iam::…:policy/…)"),
            );
        }
    }
    if role.statements.is_empty() && role.managed_policies.is_empty() {
        problems.add(path, "a role needs `statements` or `managed_policies`");
    }
    for (index, statement) in role.statements.iter().enumerate() {
        let statement_path = format!("{path}.statements[{index}]");
        if statement.actions.is_empty() {
            problems.add(format!("{statement_path}.actions"), "a statement needs at least one action");
        }
        for (a_index, action) in statement.actions.iter().enumerate() {
            let valid = action.split_once(':').is_some_and(|(service, name)| !service.is_empty() && !name.is_empty());
            if !valid {
                problems.add(
                    format!("{statement_path}.actions[{a_index}]"),
                    format!("`{action}` is not an action such as `s3:PutObject`"),
                );
            }
        }
        if statement.resources.is_empty() {
            problems.add(format!("{statement_path}.resources"), "a statement needs at least one resource (an ARN)");
        }
        for (r_index, resource) in statement.resources.iter().enumerate() {
            if resource != "*" && !resource.starts_with("arn:") {
                problems.add(format!("{statement_path}.resources[{r_index}]"), format!("`{resource}` is not an ARN"));
            }
        }
    }
    check_tags(&format!("{path}.tags"), &role.tags, problems);
}

#[cfg(test)]
mod tests {
    use super::super::checks::testing::{paths, HEAD};

    #[test]
    fn explicit_roles_are_checked() {
        let yaml = format!("{HEAD}roles:\n  - name: custom\n    trust: firehose\n    managed_policies: [not-an-arn]\n    statements: [{{actions: [PutObject], resources: [bucket]}}]\n  - name: empty\n    trust: firehose.amazonaws.com\n");
        assert_eq!(
            paths(&yaml),
            vec![
                "roles[0].trust",
                "roles[0].managed_policies[0]",
                "roles[0].statements[0].actions[0]",
                "roles[0].statements[0].resources[0]",
                "roles[1]",
            ]
        );
    }
}

//! Deleting EC2 resources that AWS still sees as in use. `DeleteSecurityGroup`, `DeleteSubnet`
//! and `DeleteVpc` fail with `DependencyViolation` while anything uses the resource ("If you
//! attempt to delete a security group that is associated with an instance or network interface,
//! is referenced by another security group in the same VPC, or has a VPC association, the
//! operation fails with DependencyViolation" — EC2 API Reference, DeleteSecurityGroup; DeleteSubnet
//! and DeleteVpc likewise need everything in them gone). Some of those users go away on their own,
//! minutes after what created them: the network interfaces of terminated instances, such as the
//! nodes of an EMR cluster that reached TERMINATED and the interface EMR attaches to its primary
//! node ("Launch clusters into a VPC", Amazon EMR Management Guide).
//!
//! This is the one place that retries that error: bounded by `--timeout`, with a progress line
//! that says what AWS still sees (the network interfaces, and for a VPC the security groups,
//! that remain), and a final error that says the same.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::Filter;

use super::{aws_error, AwsError, Context, Grant};
use crate::model::ResourceId;

/// The AWS error code of a resource that is still in use.
pub const DEPENDENCY_VIOLATION: &str = "DependencyViolation";

/// How often, at most, a progress line repeats what is still in the way.
const REPORT_EVERY: Duration = Duration::from_secs(15);

/// The most users a message lists.
const LISTED: usize = 5;

/// What is being deleted, for finding what still uses it.
#[derive(Debug, Clone, Copy)]
pub enum InUse<'a> {
    SecurityGroup(&'a str),
    Subnet(&'a str),
    Vpc(&'a str),
}

/// Runs `delete` until it succeeds, fails with anything but `DependencyViolation`, or
/// `ctx.wait.timeout` has passed; says on the progress stream why it waits.
pub async fn delete_when_unused<F, Fut>(
    ctx: &Context,
    id: &ResourceId,
    resource: InUse<'_>,
    mut delete: F,
) -> Result<(), AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), AwsError>>,
{
    let started = Instant::now();
    let mut interval = ctx.wait.first_interval;
    let mut reported: Option<Instant> = None;
    loop {
        let error = match delete().await {
            Ok(()) => {
                if reported.is_some() {
                    ctx.progress.line(&format!("{id}: deleted after {}s", started.elapsed().as_secs()));
                }
                return Ok(());
            }
            Err(error) if error.has_code(DEPENDENCY_VIOLATION) => error,
            Err(error) => return Err(error),
        };
        let elapsed = started.elapsed();
        if elapsed >= ctx.wait.timeout {
            let users = users(&ctx.clients.ec2, resource).await;
            return Err(AwsError {
                message: format!(
                    "{}; still in use after {}s{users}. Raise --timeout to wait longer, or delete what uses it",
                    error.message,
                    elapsed.as_secs()
                ),
                ..error
            });
        }
        if reported.is_none_or(|at| at.elapsed() >= REPORT_EVERY) {
            let users = users(&ctx.clients.ec2, resource).await;
            ctx.progress.line(&format!(
                "{id}: AWS still sees it in use{users}; network interfaces of terminated instances take minutes to go, retrying for up to {}s ({}s so far)",
                ctx.wait.timeout.as_secs(),
                elapsed.as_secs()
            ));
            reported = Some(Instant::now());
        }
        tokio::time::sleep(interval).await;
        interval = interval.mul_f64(1.5).min(ctx.wait.max_interval);
    }
}

/// What still uses the resource, as `: network interfaces eni-… (in-use, "…"); …`, or nothing
/// when AWS lists nothing or cannot be asked (this is only advice).
async fn users(ec2: &aws_sdk_ec2::Client, resource: InUse<'_>) -> String {
    let (filter, value) = match resource {
        InUse::SecurityGroup(group) => ("group-id", group),
        InUse::Subnet(subnet) => ("subnet-id", subnet),
        InUse::Vpc(vpc) => ("vpc-id", vpc),
    };
    let by = |name: &str| Filter::builder().name(name).values(value).build();
    let mut parts = Vec::new();
    if let Ok(output) = ec2.describe_network_interfaces().filters(by(filter)).send().await {
        let interfaces: Vec<String> = output
            .network_interfaces()
            .iter()
            .map(|eni| {
                let status = eni.status().map(|s| s.as_str().to_string()).unwrap_or_default();
                match eni.description().filter(|d| !d.is_empty()) {
                    Some(description) => {
                        format!("{} ({status}, \"{description}\")", eni.network_interface_id().unwrap_or("?"))
                    }
                    None => format!("{} ({status})", eni.network_interface_id().unwrap_or("?")),
                }
            })
            .collect();
        if !interfaces.is_empty() {
            parts.push(format!("network interfaces {}", listed(&interfaces)));
        }
    }
    if let InUse::Vpc(_) = resource {
        // Groups that someone else created in the VPC (EMR creates `ElasticMapReduce-*` ones when a
        // cluster is not given its own); `default` goes with the VPC.
        if let Ok(output) = ec2.describe_security_groups().filters(by("vpc-id")).send().await {
            let groups: Vec<String> = output
                .security_groups()
                .iter()
                .filter(|group| group.group_name() != Some("default"))
                .map(|group| {
                    format!("{} ({})", group.group_id().unwrap_or("?"), group.group_name().unwrap_or_default())
                })
                .collect();
            if !groups.is_empty() {
                parts.push(format!("security groups {}", listed(&groups)));
            }
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join("; "))
    }
}

/// What `delete` needs besides the delete itself (which the kind grants): the describe calls
/// that say what still uses the resource.
pub fn grants() -> Vec<Grant> {
    vec![Grant::unscoped_reads(&["ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups"])]
}

fn listed(items: &[String]) -> String {
    let mut text = items.iter().take(LISTED).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > LISTED {
        text.push_str(&format!(" and {} more", items.len() - LISTED));
    }
    text
}

/// `DeleteSecurityGroup`, `DeleteSubnet` or `DeleteVpc` as one call that `delete_when_unused`
/// can repeat.
pub async fn delete_once(ctx: &Context, id: &ResourceId, resource: InUse<'_>) -> Result<(), AwsError> {
    let ec2 = &ctx.clients.ec2;
    match resource {
        InUse::SecurityGroup(group) => ec2
            .delete_security_group()
            .group_id(group)
            .send()
            .await
            .map(drop)
            .map_err(|error| aws_error(id, "DeleteSecurityGroup", error)),
        InUse::Subnet(subnet) => ec2
            .delete_subnet()
            .subnet_id(subnet)
            .send()
            .await
            .map(drop)
            .map_err(|error| aws_error(id, "DeleteSubnet", error)),
        InUse::Vpc(vpc) => {
            ec2.delete_vpc().vpc_id(vpc).send().await.map(drop).map_err(|error| aws_error(id, "DeleteVpc", error))
        }
    }
}

/// Deletes a security group, subnet or VPC, waiting while AWS still sees it in use.
pub async fn delete(ctx: &Context, id: &ResourceId, resource: InUse<'_>) -> Result<(), AwsError> {
    delete_when_unused(ctx, id, resource, || delete_once(ctx, id, resource)).await
}

#[cfg(test)]
mod tests {
    //! Replays the answers EC2 documents: `DependencyViolation` (HTTP 400, EC2's XML error
    //! shape) while a terminated instance's interface lingers, then success.
    use super::*;
    use crate::model::test_kinds;
    use aws_sdk_ec2::operation::delete_subnet::DeleteSubnetOutput;
    use aws_sdk_ec2::operation::describe_network_interfaces::DescribeNetworkInterfacesOutput;
    use aws_sdk_ec2::types::{NetworkInterface, NetworkInterfaceStatus};
    use aws_sdk_ec2::Client;
    use aws_smithy_mocks::{mock, Rule, RuleMode};

    use crate::resources::test_support::{ec2_client, ec2_context as context, ec2_error};

    fn lingering_interface() -> Rule {
        mock!(Client::describe_network_interfaces).then_output(|| {
            let eni = NetworkInterface::builder()
                .network_interface_id("eni-1")
                .status(NetworkInterfaceStatus::InUse)
                .description("ElasticMapReduce primary node")
                .build();
            DescribeNetworkInterfacesOutput::builder().network_interfaces(eni).build()
        })
    }

    #[tokio::test]
    async fn a_dependency_violation_is_retried_until_the_interfaces_are_gone() {
        let rule = mock!(Client::delete_subnet)
            .sequence()
            .http_response(|| {
                ec2_error("DependencyViolation", "The subnet 'subnet-1' has dependencies and cannot be deleted.")
            })
            .times(2)
            .output(|| DeleteSubnetOutput::builder().build())
            .build();
        let interfaces = lingering_interface();
        let ec2 = ec2_client(RuleMode::MatchAny, &[&rule, &interfaces]);
        let ctx = context(ec2, Duration::from_secs(30));
        let id = ResourceId::new(test_kinds::named("subnet"), "private-a");
        delete(&ctx, &id, InUse::Subnet("subnet-1")).await.unwrap();
        assert_eq!(rule.num_calls(), 3);
        assert!(interfaces.num_calls() >= 1, "the progress line names what is in the way");
    }

    #[tokio::test]
    async fn the_wait_is_bounded_and_names_what_is_in_the_way() {
        let rule = mock!(Client::delete_subnet).then_http_response(|| {
            ec2_error("DependencyViolation", "The subnet 'subnet-1' has dependencies and cannot be deleted.")
        });
        let interfaces = lingering_interface();
        let ec2 = ec2_client(RuleMode::MatchAny, &[&rule, &interfaces]);
        let ctx = context(ec2, Duration::from_millis(30));
        let id = ResourceId::new(test_kinds::named("subnet"), "private-a");
        let error = delete(&ctx, &id, InUse::Subnet("subnet-1")).await.unwrap_err();
        assert!(error.has_code(DEPENDENCY_VIOLATION), "{error}");
        assert!(error.message.contains("still in use after"), "{error}");
        assert!(
            error.message.contains("network interfaces eni-1 (in-use, \"ElasticMapReduce primary node\")"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let rule = mock!(Client::delete_subnet).then_http_response(|| {
            ec2_error("UnauthorizedOperation", "You are not authorized to perform this operation.")
        });
        let ec2 = ec2_client(RuleMode::MatchAny, &[&rule]);
        let ctx = context(ec2, Duration::from_secs(30));
        let id = ResourceId::new(test_kinds::named("subnet"), "private-a");
        let error = delete(&ctx, &id, InUse::Subnet("subnet-1")).await.unwrap_err();
        assert!(error.has_code("UnauthorizedOperation"), "{error}");
        assert_eq!(rule.num_calls(), 1);
    }
}

//! What the security group kind's calls need of the deployer's policy (`ResourceKind::grants`).

use super::super::kit::ec2_delete;
use super::super::kit::ec2_tags::{self, Ec2Calls};
use super::super::kit::{Grant, GrantContext};

pub fn grants(ctx: &GrantContext) -> Vec<Grant> {
    let calls = Ec2Calls {
        describe: &["ec2:DescribeSecurityGroups"],
        create: &["ec2:CreateSecurityGroup"],
        // In the pipeline's VPC, with rules that name its groups.
        change: &[
            "ec2:CreateSecurityGroup",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress",
            "ec2:RevokeSecurityGroupIngress",
            "ec2:RevokeSecurityGroupEgress",
        ],
        delete: &["ec2:DeleteSecurityGroup"],
    };
    [ec2_tags::grants(ctx, &calls), ec2_delete::grants()].concat()
}

#[cfg(test)]
mod tests {
    use super::super::SecurityGroup;

    #[test]
    fn a_group_is_created_tagged_in_the_pipelines_vpc_and_its_rules_changed_only_when_it_is_the_pipelines() {
        let spec = crate::spec::SpecBuilder::new().build();
        crate::resources::test_support::assert_granted(
            &SecurityGroup,
            &spec,
            &[
                ("ec2:DescribeSecurityGroups", &["ReadWhatCannotBeScoped"]),
                ("ec2:CreateSecurityGroup", &["CreateTaggedNetwork", "ChangeOwnNetwork"]),
                ("ec2:RevokeSecurityGroupEgress", &["ChangeOwnNetwork"]),
                ("ec2:DeleteSecurityGroup", &["ChangeOwnNetwork"]),
            ],
        );
    }
}

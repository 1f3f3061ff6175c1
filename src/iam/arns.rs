//! ARNs of the pipeline's resources in the account and region pipectl talks to, the partition a
//! region belongs to, and how each partition spells service principals and endpoints.

use crate::names::partition_of;

/// What ARNs are made of in the account pipectl talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arns {
    pub partition: String,
    pub account_id: String,
    pub region: String,
}

/// The partition an ARN names (`arn:aws-cn:iam::…` is `aws-cn`), if it is an ARN.
pub fn partition_of_arn(arn: &str) -> Option<&str> {
    arn.strip_prefix("arn:")?.split(':').next().filter(|partition| !partition.is_empty())
}

impl Arns {
    pub fn new(account_id: &str, region: &str) -> Arns {
        Arns {
            partition: partition_of(region).to_string(),
            account_id: account_id.to_string(),
            region: region.to_string(),
        }
    }

    pub fn stream(&self, name: &str) -> String {
        format!("arn:{}:kinesis:{}:{}:stream/{name}", self.partition, self.region, self.account_id)
    }

    pub fn bucket(&self, name: &str) -> String {
        format!("arn:{}:s3:::{name}", self.partition)
    }

    /// The account's Glue Data Catalog, which every Glue database and table call also names
    /// ("Specifying AWS Glue resource ARNs", AWS Glue Developer Guide).
    pub fn glue_catalog(&self) -> String {
        format!("arn:{}:glue:{}:{}:catalog", self.partition, self.region, self.account_id)
    }

    /// A Glue database (what Glue tags and `GetTags` reads).
    pub fn glue_database(&self, name: &str) -> String {
        format!("arn:{}:glue:{}:{}:database/{name}", self.partition, self.region, self.account_id)
    }

    /// A Glue crawler (what Glue tags and `GetTags` reads).
    pub fn glue_crawler(&self, name: &str) -> String {
        format!("arn:{}:glue:{}:{}:crawler/{name}", self.partition, self.region, self.account_id)
    }

    /// An Athena workgroup ("Configure access to workgroups and tags", Amazon Athena User Guide).
    pub fn athena_workgroup(&self, name: &str) -> String {
        format!("arn:{}:athena:{}:{}:workgroup/{name}", self.partition, self.region, self.account_id)
    }

    /// A Glue table, or with `*` every table of the database.
    pub fn glue_table(&self, database: &str, table: &str) -> String {
        format!("arn:{}:glue:{}:{}:table/{database}/{table}", self.partition, self.region, self.account_id)
    }

    /// A Step Functions state machine ("Resource types defined by AWS Step Functions", Service
    /// Authorization Reference).
    pub fn state_machine(&self, name: &str) -> String {
        format!("arn:{}:states:{}:{}:stateMachine:{name}", self.partition, self.region, self.account_id)
    }

    /// The EventBridge rule Step Functions manages in the account to learn when an EMR step
    /// it runs with `addStep.sync` ends ("IAM policies for Amazon EMR", Step Functions Developer
    /// Guide): the job's role must be allowed to create and read it.
    pub fn emr_step_events_rule(&self) -> String {
        format!(
            "arn:{}:events:{}:{}:rule/StepFunctionsGetEventForEMRAddJobFlowStepsRule",
            self.partition, self.region, self.account_id
        )
    }

    /// Roles of a pipeline live under the IAM path `/pipectl/<pipeline>/`.
    pub fn role(&self, path: &str, name: &str) -> String {
        format!("arn:{}:iam::{}:role{path}{name}", self.partition, self.account_id)
    }

    /// An AWS managed policy, e.g. `service-role/AmazonEMRServicePolicy_v2`.
    pub fn managed_policy(&self, name: &str) -> String {
        format!("arn:{}:iam::aws:policy/{name}", self.partition)
    }

    /// The domain of the partition's endpoints: `amazonaws.com.cn` in China ("Endpoints and
    /// ARNs for Amazon Web Services China"), `amazonaws.com` elsewhere, GovCloud included.
    pub fn dns_suffix(&self) -> &'static str {
        if self.partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        }
    }

    /// The principal that stands for an AWS service in this partition's policies. `service` is
    /// its short name (`ec2`) or its global principal (`ec2.amazonaws.com`).
    ///
    /// Service principals are `<service>.amazonaws.com` in every partition ("AWS JSON policy
    /// elements: Principal", IAM User Guide) — Firehose and EventBridge Scheduler among them —
    /// except a few in the China regions, which IAM knows only as `<service>.amazonaws.com.cn`:
    /// EC2 (the China IAM guide's EC2 trust policy example; IAM answers `MalformedPolicyDocument:
    /// Invalid principal` to `ec2.amazonaws.com` there) and EMR (EMR clusters whose service role
    /// trusts `elasticmapreduce.amazonaws.com` fail in the China regions), as the AWS CDK
    /// (`region-info`) and the Terraform provider (`aws_service_principal`) also encode. A
    /// principal that is not of the form `<service>.amazonaws.com` is kept as it is.
    pub fn service_principal(&self, service: &str) -> String {
        let name = service.strip_suffix(".amazonaws.com.cn").or_else(|| service.strip_suffix(".amazonaws.com"));
        let name = match name {
            Some(name) => name,
            None if !service.contains('.') => service,
            None => return service.to_string(),
        };
        match (self.partition.as_str(), name) {
            ("aws-cn", "ec2" | "elasticmapreduce") => format!("{name}.amazonaws.com.cn"),
            _ => format!("{name}.amazonaws.com"),
        }
    }

    /// An EventBridge Scheduler universal target: the SDK action `action` of `service`,
    /// `arn:<partition>:scheduler:::aws-sdk:<service>:<action>` ("Using universal targets in
    /// EventBridge Scheduler"; the China guide spells it `arn:aws-cn:scheduler:::aws-sdk:…`).
    pub fn scheduler_target(&self, service: &str, action: &str) -> String {
        scheduler_target(&self.partition, service, action)
    }
}

/// `Arns::scheduler_target` for a partition known only by name.
pub fn scheduler_target(partition: &str, service: &str, action: &str) -> String {
    format!("arn:{partition}:scheduler:::aws-sdk:{service}:{action}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_arn_is_built_from_the_regions_partition() {
        let expected = [
            ("us-east-1", "aws", "amazonaws.com"),
            ("cn-north-1", "aws-cn", "amazonaws.com.cn"),
            ("cn-northwest-1", "aws-cn", "amazonaws.com.cn"),
            ("us-gov-west-1", "aws-us-gov", "amazonaws.com"),
        ];
        for (region, partition, suffix) in expected {
            let arns = Arns::new("123456789012", region);
            assert_eq!(arns.partition, partition);
            assert_eq!(arns.dns_suffix(), suffix);
            assert_eq!(arns.stream("s"), format!("arn:{partition}:kinesis:{region}:123456789012:stream/s"));
            assert_eq!(arns.bucket("b"), format!("arn:{partition}:s3:::b"));
            assert_eq!(arns.role("/pipectl/p/", "r"), format!("arn:{partition}:iam::123456789012:role/pipectl/p/r"));
            assert_eq!(
                arns.managed_policy("service-role/AmazonEMRServicePolicy_v2"),
                format!("arn:{partition}:iam::aws:policy/service-role/AmazonEMRServicePolicy_v2")
            );
            assert_eq!(
                arns.scheduler_target("emr", "modifyInstanceGroups"),
                format!("arn:{partition}:scheduler:::aws-sdk:emr:modifyInstanceGroups")
            );
            assert_eq!(partition_of_arn(&arns.role("/", "r")), Some(partition));
        }
        assert_eq!(partition_of_arn("not-an-arn"), None);
        assert_eq!(partition_of_arn("arn::iam"), None);
    }

    #[test]
    fn service_principals_follow_the_partition() {
        let principal = |region: &str, service: &str| Arns::new("1", region).service_principal(service);
        for service in ["firehose", "scheduler", "ec2", "elasticmapreduce"] {
            let global = format!("{service}.amazonaws.com");
            assert_eq!(principal("eu-west-1", service), global);
            assert_eq!(principal("eu-west-1", &global), global);
            assert_eq!(principal("us-gov-east-1", &global), global, "GovCloud uses the global principals");
        }
        // China: EC2 and EMR have their own principals; Firehose and Scheduler keep the global one.
        assert_eq!(principal("cn-north-1", "ec2.amazonaws.com"), "ec2.amazonaws.com.cn");
        assert_eq!(principal("cn-north-1", "ec2"), "ec2.amazonaws.com.cn");
        assert_eq!(principal("cn-northwest-1", "elasticmapreduce.amazonaws.com"), "elasticmapreduce.amazonaws.com.cn");
        assert_eq!(principal("cn-north-1", "firehose.amazonaws.com"), "firehose.amazonaws.com");
        assert_eq!(principal("cn-north-1", "scheduler.amazonaws.com"), "scheduler.amazonaws.com");
        assert_eq!(principal("eu-west-1", "ec2.amazonaws.com.cn"), "ec2.amazonaws.com");
        // Anything else is kept as written.
        assert_eq!(principal("cn-north-1", "states.cn-north-1.amazonaws.com"), "states.cn-north-1.amazonaws.com");
    }
}

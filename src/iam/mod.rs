//! IAM: ARNs and policy documents for the roles kinds derive, and the deployer's own
//! least-privilege policy (`pipectl permissions`).

pub mod arns;
pub mod deployer;
pub mod documents;
pub mod evaluate;

pub use arns::{partition_of_arn, scheduler_target, Arns};
pub use documents::{
    bucket_key_grant, derived_trust_policy, key_grant, key_statement, normalize, parse_document, percent_decode,
    s3_key_context, s3_key_statement, service_trust_policy, statements_policy, trust_policy, wildcard_actions,
    KeyGrant,
};

//! What every kind uses and no kind owns: the kind interface, the read and apply contexts,
//! ownership by tag, the named-read algorithm, retagging, EC2 tags and deletes, the tag index,
//! IAM propagation retries and waits, retries of fresh EC2 ids, and the deployer grants these need. Nothing here names a
//! kind (`tests/layers.rs` checks it).

mod context;
pub mod ec2_delete;
pub mod ec2_tags;
mod fresh;
pub mod health;
mod kind;
pub mod named;
mod ownership;
mod pages;
mod propagation;
pub mod retag;
pub mod tag_index;
pub mod wait;

pub use crate::aws::{aws_error, build_error, AwsError, Clients, Limiter, Warnings};
pub use crate::iam::deployer::{Grant, GrantContext, Scope};
pub use crate::model::{LiveResource, LiveState, Names, Tags};
pub use context::{account_id, Context, ReadContext};
pub use health::{Fact, Health, Metric, Output, Statistic};
pub use kind::{DynKind, ResourceKind};
pub use named::{NamedKind, NamedRead, Ownership};
pub use ownership::{adopt, claimed_id, may_take_over, owned_by, ownership_conflict, tags_of_map, WITH_PIPECTL_ADOPT};
pub use pages::all_pages;
pub use propagation::retry_while_role_propagates;
pub use wait::WaitOptions;

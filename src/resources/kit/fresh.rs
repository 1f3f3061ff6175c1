//! EC2 is eventually consistent: an id a create has just returned may be "not found" by the next
//! call that names it ("Eventual consistency in the Amazon EC2 API", Amazon EC2 Developer Guide:
//! "if you run a command to modify or describe the resource that you just created, its ID might
//! not have propagated throughout the system, and you will get an error responding that the
//! resource does not exist"). Each EC2 create notes the id it got (`Context::created`), and the
//! calls that name ids pass through `Context::while_fresh`, the one place that retries: only the
//! documented not-found codes of the network kinds, only when the error names an id this run
//! created less than `FRESH_FOR` ago, with a line on stderr each time. Any other error, and a
//! not-found of anything older, fails at once.

use std::future::Future;
use std::time::{Duration, Instant};

use super::propagation::retry_while;
use super::{AwsError, Context};
use crate::model::ResourceId;

/// The not-found codes EC2 answers for an id of a kind pipectl creates (a VPC, subnet,
/// security group, route table, internet or NAT gateway, VPC endpoint), "Error codes for the
/// Amazon EC2 API".
const NOT_YET_VISIBLE: [&str; 7] = [
    "InvalidVpcID.NotFound",
    "InvalidSubnetID.NotFound",
    "InvalidGroup.NotFound",
    "InvalidRouteTableID.NotFound",
    "InvalidInternetGatewayID.NotFound",
    "NatGatewayNotFound",
    "InvalidVpcEndpointId.NotFound",
];

/// How long after its create an id's not-found is taken for propagation, not absence.
const FRESH_FOR: Duration = Duration::from_secs(60);

/// The longest pause between two tries.
const MAX_PAUSE: Duration = Duration::from_secs(5);

impl Context {
    /// Notes an id EC2 has just returned from a create.
    pub fn created(&self, physical_id: &str) {
        self.fresh_ids().insert(physical_id.to_string(), Instant::now());
    }

    /// The fresh id `error` says EC2 does not know yet, if it is one of those.
    fn not_yet_visible(&self, error: &AwsError) -> Option<String> {
        if !NOT_YET_VISIBLE.iter().any(|code| error.has_code(code)) {
            return None;
        }
        let fresh = self.fresh_ids();
        let mut named = fresh.iter().filter(|(id, at)| at.elapsed() < FRESH_FOR && error.message.contains(id.as_str()));
        named.next().map(|(id, _)| id.clone())
    }

    /// Runs `call` (an EC2 call for `id` that names ids) until it succeeds, or fails with
    /// anything but the not-found of an id created moments ago (see the module documentation).
    pub async fn while_fresh<T, F, Fut>(&self, id: &ResourceId, call: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        let transient = |error: &AwsError| {
            self.not_yet_visible(error).map(|fresh| {
                format!("{id}: EC2 does not know {fresh} yet, created moments ago (EC2 is eventually consistent)")
            })
        };
        retry_while(&self.progress, (Duration::from_millis(250), MAX_PAUSE), transient, call).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::model::{test_kinds, LiveState};

    fn not_found(code: &str, id: &str) -> AwsError {
        AwsError {
            code: Some(code.to_string()),
            ..AwsError::new("x", "Op", format!("{code} (The ID '{id}' does not exist)"))
        }
    }

    #[tokio::test]
    async fn only_the_not_found_of_an_id_this_run_just_created_is_retried() {
        let live = LiveState::default();
        let ctx = crate::resources::test_support::context(
            crate::resources::test_support::clients(),
            Duration::from_millis(10),
            &live,
        );
        let id = ResourceId::new(test_kinds::named("subnet"), "a");
        ctx.created("vpc-new");
        let calls = AtomicUsize::new(0);
        let result = ctx
            .while_fresh(&id, || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 | 1 => Err(not_found("InvalidVpcID.NotFound", "vpc-new")),
                    attempt => Ok(attempt),
                }
            })
            .await;
        assert_eq!(result.unwrap(), 2, "retried twice, then through");
        for (code, named) in [("InvalidVpcID.NotFound", "vpc-old"), ("InvalidParameterValue", "vpc-new")] {
            let calls = AtomicUsize::new(0);
            let result: Result<(), AwsError> = ctx
                .while_fresh(&id, || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(not_found(code, named))
                })
                .await;
            assert!(result.is_err());
            assert_eq!(calls.load(Ordering::SeqCst), 1, "{code} naming {named} is not retried");
        }
    }
}

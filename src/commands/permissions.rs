//! `pipectl permissions`: the least-privilege IAM policy a principal needs to run pipectl on
//! this spec, from the spec alone (no AWS call).

use clap::{Args, ValueEnum};

use super::{emit, CommandError, GlobalArgs, Status};
use crate::iam::deployer::{boundary_warning, policy, GrantContext, Purpose};
use crate::resources::deployer_grants;
use crate::spec::load_file;

/// What `pipectl permissions` prints a policy for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PermissionsFor {
    All,
    Plan,
    Verify,
}

/// The arguments of `pipectl permissions` (its help line is `cli::Command`'s).
#[derive(Debug, Args)]
pub struct PermissionsArgs {
    /// `all` (plan, apply, scale, destroy), `plan` (read-only: also `output`, `runs`, `status`) or
    /// `verify` (`pipectl verify` alone: put canaries into the streams, read the lake under the
    /// deliveries' prefixes).
    #[arg(long = "for", value_enum, default_value_t = PermissionsFor::All)]
    pub purpose: PermissionsFor,
    /// The account id to put in ARNs (default `*`).
    #[arg(long, value_name = "ID", default_value = "*")]
    pub account_id: String,
}

pub fn exec(global: &GlobalArgs, args: &PermissionsArgs) -> Result<Status, CommandError> {
    let loaded = load_file(global.spec_file())?;
    let region = global.region.clone().unwrap_or_else(|| loaded.spec.region.clone());
    let purpose = match args.purpose {
        PermissionsFor::All => Purpose::Everything,
        PermissionsFor::Plan => Purpose::Plan,
        PermissionsFor::Verify => Purpose::Verify,
    };
    let ctx = GrantContext::new(&loaded.spec, &region, &args.account_id);
    let policy = policy(deployer_grants(&ctx), purpose);
    // The plan policy writes no role: only the full one needs the boundary.
    if let Some(warning) = boundary_warning(&loaded.spec, &region).filter(|_| purpose == Purpose::Everything) {
        eprintln!("{warning}");
    }
    emit(format!("{}\n", serde_json::to_string_pretty(&policy).unwrap_or_default()).as_bytes())
}

//! `pipectl plan`: read live state, diff it against the spec, print the plan (human, JSON or
//! Markdown) with its cost; `--out` saves it for `pipectl apply PLANFILE`.

use std::path::PathBuf;

use clap::Args;

use super::session::{print_plan, Session};
use super::{CommandError, GlobalArgs, PlanOutput, Status};
use crate::aws::calls::CallCounter;

/// The arguments of `pipectl plan` (its help line is `cli::Command`'s).
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// How to print the plan: for people, for scripts, or for a pull-request comment.
    #[arg(long, value_enum, default_value_t = PlanOutput::Human)]
    pub output: PlanOutput,
    /// Print policies and state machines whole instead of summarised with what changed in them
    /// (JSON and the saved plan always hold them whole).
    #[arg(long)]
    pub full: bool,
    /// Plan scaled EMR groups back to their baseline instead of leaving them be.
    #[arg(long)]
    pub reset_scale: bool,
    /// Also save the plan, with fingerprints of the spec and of the live state it was
    /// computed from, for `pipectl apply PLANFILE`.
    #[arg(long, value_name = "PLANFILE")]
    pub out: Option<PathBuf>,
}

pub async fn exec(global: &GlobalArgs, args: &PlanArgs, counter: &CallCounter) -> Result<Status, CommandError> {
    let session = Session::open(global, counter).await?;
    let run = session.plan(false, args.reset_scale, &[]).await?;
    let style = crate::render::Style { full: args.full, ..global.style() };
    print_plan(&run, args.output, style, Some(counter));
    if let Some(path) = &args.out {
        session.save_plan(&run, path)?;
    }
    Ok(if args.detailed_exitcode && !run.plan.is_empty() { Status::Changes } else { Status::Success })
}

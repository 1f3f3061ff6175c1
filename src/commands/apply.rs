//! `pipectl apply` and `pipectl destroy`: take the pipeline's lock, plan, show the plan, refuse
//! what must not happen (a refusal, data loss without `--allow-destroy`, a saved plan that no
//! longer matches), confirm, carry the plan out through the executor, report, unlock.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use clap::Args;

use super::session::{print_plan, PlannedRun, Session};
use super::{confirm, CommandError, GlobalArgs, OutputFormat, Status, INTERRUPTED};
use crate::aws::calls::CallCounter;
use crate::execute::apply;
use crate::plan::file::PlanFile;
use crate::render::{render_report, report_json, Style};
use crate::resources::kinds;
use crate::resources::kit::Context;

/// The arguments of `pipectl apply` (its help line is `cli::Command`'s).
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Consent to changes that destroy data (deleting a stream, a bucket that holds objects).
    #[arg(long)]
    pub allow_destroy: bool,
    /// How to print the plan and what was done: for people, or JSON for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
    /// Print the plan's policies and state machines whole instead of summarised.
    #[arg(long)]
    pub full: bool,
    /// Return EMR groups moved by `pipectl scale` to their baseline.
    #[arg(long, conflicts_with = "plan_file")]
    pub reset_scale: bool,
    /// A plan saved by `pipectl plan --out`: apply exactly it, or refuse, changing nothing,
    /// if the spec or the live state changed since.
    #[arg(value_name = "PLANFILE")]
    pub plan_file: Option<PathBuf>,
}

/// The arguments of `pipectl destroy` (its help line is `cli::Command`'s).
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    pub auto_approve: bool,
    /// Consent to destroying data (streams, buckets that hold objects).
    #[arg(long)]
    pub allow_destroy: bool,
    /// How to print the plan and what was deleted: for people, or JSON for scripts.
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
    /// Print the plan's policies and state machines whole instead of summarised.
    #[arg(long)]
    pub full: bool,
}

/// How apply or destroy carries a plan out, from the command line.
#[derive(Clone, Copy)]
struct Execution {
    /// `Apply` or `Destroy`, for messages.
    command: &'static str,
    auto_approve: bool,
    allow_destroy: bool,
    output: OutputFormat,
    style: Style,
}

pub async fn exec_apply(global: &GlobalArgs, args: &ApplyArgs, counter: &CallCounter) -> Result<Status, CommandError> {
    let how = Execution {
        command: "Apply",
        auto_approve: args.auto_approve,
        allow_destroy: args.allow_destroy,
        output: args.output,
        style: Style { full: args.full, ..global.style() },
    };
    let saved = args.plan_file.as_deref().map(read_plan_file).transpose()?;
    let reset_scale = saved.as_ref().map_or(args.reset_scale, |saved| saved.reset_scale);
    // `apply PLANFILE` reads the spec the plan was made from, unless `-f` names one; either way
    // the spec must still be the one planned (its fingerprint), or nothing is changed.
    let with_planned_spec;
    let global = match (&saved, &global.file) {
        (Some(saved), None) => {
            with_planned_spec = GlobalArgs { file: Some(PathBuf::from(&saved.spec_file)), ..global.clone() };
            &with_planned_spec
        }
        _ => global,
    };
    change(global, counter, &how, false, reset_scale, saved.as_ref()).await
}

pub async fn exec_destroy(
    global: &GlobalArgs,
    args: &DestroyArgs,
    counter: &CallCounter,
) -> Result<Status, CommandError> {
    let how = Execution {
        command: "Destroy",
        auto_approve: args.auto_approve,
        allow_destroy: args.allow_destroy,
        output: args.output,
        style: Style { full: args.full, ..global.style() },
    };
    change(global, counter, &how, true, false, None).await
}

/// apply (or, with `destroy`, destroy): lock, plan, confirm, carry out, unlock. With a `saved`
/// plan, the plan made now under the lock must be exactly that one, or nothing is changed.
async fn change(
    global: &GlobalArgs,
    counter: &CallCounter,
    how: &Execution,
    destroy: bool,
    reset_scale: bool,
    saved: Option<&PlanFile>,
) -> Result<Status, CommandError> {
    let session = Session::open(global, counter).await?;
    let lock = session.lock(&how.command.to_lowercase(), global).await?;
    let result = async {
        let plan = session.plan(destroy, reset_scale, lock.adoptable()).await?;
        if let Some(saved) = saved {
            let differences = saved.differences(&session.plan_file(&plan));
            if !differences.is_empty() {
                return Err(CommandError::Refused(format!(
                    "refusing to apply the saved plan:\n  {}\nNothing was changed. Run `pipectl plan --out` again and review the new plan.",
                    differences.join("\n  ")
                )));
            }
        }
        execute(&session, plan, how, &lock).await
    }
    .await;
    session.unlock(lock, result).await
}

fn read_plan_file(path: &Path) -> Result<PlanFile, CommandError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| CommandError::Failed(format!("cannot read the plan file {}: {error}", path.display())))?;
    PlanFile::parse(&text).map_err(|error| CommandError::Refused(format!("{}: {error}", path.display())))
}

/// Shows the plan, refuses what must not happen, confirms, and carries it out.
async fn execute(
    session: &Session,
    run: PlannedRun,
    how: &Execution,
    lock: &crate::aws::lock::Lock,
) -> Result<Status, CommandError> {
    let Execution { command, auto_approve, allow_destroy, output, style } = *how;
    print_plan(&run, output.into(), style, None);
    if run.plan.is_empty() {
        return Ok(Status::Success);
    }
    let losses: Vec<String> =
        run.plan.data_loss().map(|change| format!("  {}: {}", change.resource, change.notes.join("; "))).collect();
    if !run.plan.refusals.is_empty() {
        return Err(CommandError::Refused(format!("{}\nNothing was changed.", run.plan.refusals.join("\n"))));
    }
    if !losses.is_empty() && !allow_destroy {
        return Err(CommandError::Refused(format!(
            "refusing to destroy data without --allow-destroy (--auto-approve only answers the prompt):\n{}\nNothing was changed.",
            losses.join("\n")
        )));
    }
    if !auto_approve {
        confirm()?;
    }
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(CommandError::Refused("interrupted before any change was made; nothing was changed".to_string()));
    }
    let mut ctx = Context::new(
        session.clients.clone(),
        &session.loaded.spec,
        (session.wait, session.progress.clone()),
        &run.live,
        kinds(),
    );
    ctx.reset_scale = run.reset_scale;
    ctx.journal = Some(lock.journal());
    ctx.adoptable = run.adoptable.clone();
    let report = apply(Arc::new(ctx), &run.plan, &run.desired, &run.live, session.parallelism, &INTERRUPTED).await;
    match output {
        OutputFormat::Human => out!("\n{}", render_report(&report, command, style)),
        OutputFormat::Json => outln!("{}", report_json(&run.plan, &report)),
    }
    match (report.succeeded(), &report.stopped) {
        (true, _) => Ok(Status::Success),
        (false, Some(reason)) => Err(CommandError::Failed(format!("{} stopped: {reason}", command.to_lowercase()))),
        (false, None) => Err(CommandError::Failed(format!("{} did not complete; see above", command.to_lowercase()))),
    }
}

//! The command line: the root parser (the global flags and one subcommand, each command's
//! arguments defined beside its execution in `commands`), the dispatch to it, the examples each
//! command's help ends with (`examples`), and the shell completions and man page generated from
//! the same definitions (`shell`).

mod examples;
pub mod shell;

use clap::{Parser, Subcommand};

use crate::aws::calls::CallCounter;
use crate::commands::{
    self, adopt, apply, emit, graph, init, output, permissions, plan, scale, schema, status, unlock, validate, verify,
    CommandError, GlobalArgs, Status,
};

/// Declarative provisioning for AWS data pipelines: VPC, S3 data lake, Kinesis and more.
///
/// pipectl reads a pipeline spec (YAML), compares it with what runs in AWS (found by the
/// pipectl:pipeline tag; there is no state file), shows a plan, and applies it.
#[derive(Debug, Parser)]
#[command(name = "pipectl", version, about, long_about, propagate_version = true, after_help = examples::PIPECTL)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec without calling AWS.
    #[command(after_help = examples::VALIDATE)]
    Validate,
    /// Show what apply would change.
    #[command(after_help = examples::PLAN)]
    Plan(plan::PlanArgs),
    /// Plan, ask for confirmation, and make AWS match the spec.
    #[command(after_help = examples::APPLY)]
    Apply(apply::ApplyArgs),
    /// Delete everything that belongs to the pipeline, in reverse dependency order.
    #[command(after_help = examples::DESTROY)]
    Destroy(apply::DestroyArgs),
    /// Resize an EMR instance group now (and optionally back later), without it counting as drift.
    #[command(after_help = examples::SCALE)]
    Scale(scale::ScaleArgs),
    /// Start a cluster's job now (the state machine its schedule starts), or follow or stop its run.
    #[command(after_help = examples::RUN)]
    Run(commands::run::RunArgs),
    /// List recent runs of the spec's jobs: start, duration, node-hours, outcome.
    #[command(after_help = examples::RUNS)]
    Runs(commands::run::RunsArgs),
    /// Print the ids, ARNs, names and endpoints of what the pipeline created, read from AWS.
    #[command(after_help = examples::OUTPUT)]
    Output(output::OutputArgs),
    /// One screen of live health from AWS: streams, deliveries, clusters, jobs, alarms firing.
    #[command(after_help = examples::STATUS)]
    Status(status::StatusArgs),
    /// Put a canary record into each delivery's stream and wait for it in the lake: does data flow?
    #[command(after_help = examples::VERIFY)]
    Verify(verify::VerifyArgs),
    /// Print the dependency graph of the spec (Graphviz dot or Mermaid).
    #[command(after_help = examples::GRAPH)]
    Graph(graph::GraphArgs),
    /// Take an existing, untagged resource with a name the spec uses as the pipeline's own.
    #[command(after_help = examples::ADOPT)]
    Adopt(adopt::AdoptArgs),
    /// Break the pipeline's lock, left by a run that died (see `apply`); says who held it.
    #[command(after_help = examples::UNLOCK)]
    Unlock,
    /// Print the least-privilege IAM policy a principal needs to run pipectl on this spec.
    #[command(after_help = examples::PERMISSIONS)]
    Permissions(permissions::PermissionsArgs),
    /// Print the JSON Schema of the spec, for editors (yaml-language-server, IntelliJ).
    #[command(after_help = examples::SCHEMA)]
    Schema,
    /// Print a shell completion script (bash, zsh, fish, PowerShell or Elvish).
    #[command(after_help = examples::COMPLETIONS)]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page pipectl(1), in roff.
    #[command(after_help = examples::MAN)]
    Man,
    /// Write a commented starter spec from a template (`--template`).
    #[command(after_help = examples::INIT)]
    Init(init::InitArgs),
}

/// Runs the command the line names; with `-v`, says how many AWS requests it made, by operation.
pub async fn run(cli: Cli) -> Result<Status, CommandError> {
    commands::watch_interrupts();
    let counter = CallCounter::default();
    let result = match dispatch(&cli, &counter).await {
        // Spec errors show the offending lines; styled only for a terminal that wants color.
        Err(CommandError::Spec(error)) => Err(CommandError::Spec(error.with_color(cli.global.stderr_color()))),
        other => other,
    };
    if cli.global.verbose > 0 && counter.total() > 0 {
        eprintln!("{}", counter.summary());
    }
    result
}

async fn dispatch(cli: &Cli, counter: &CallCounter) -> Result<Status, CommandError> {
    let global = &cli.global;
    match &cli.command {
        Command::Validate => validate::exec(global),
        Command::Plan(args) => plan::exec(global, args, counter).await,
        Command::Apply(args) => apply::exec_apply(global, args, counter).await,
        Command::Destroy(args) => apply::exec_destroy(global, args, counter).await,
        Command::Scale(args) => scale::exec(global, args, counter).await,
        Command::Run(args) => commands::run::exec_run(global, args, counter).await,
        Command::Runs(args) => commands::run::exec_runs(global, args, counter).await,
        Command::Output(args) => output::exec(global, args, counter).await,
        Command::Status(args) => status::exec(global, args, counter).await,
        Command::Verify(args) => verify::exec(global, args, counter).await,
        Command::Graph(args) => graph::exec(global, args, counter).await,
        Command::Adopt(args) => adopt::exec(global, args, counter).await,
        Command::Unlock => unlock::exec(global, counter).await,
        Command::Permissions(args) => permissions::exec(global, args),
        Command::Schema => schema::exec(),
        Command::Completions { shell } => emit(&shell::completions(*shell)),
        Command::Man => emit(&shell::man_page().map_err(|error| CommandError::Failed(error.to_string()))?),
        Command::Init(args) => init::exec(global, args),
    }
}

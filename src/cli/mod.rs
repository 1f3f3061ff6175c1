//! The command line: the root parser (the global flags and one subcommand, each command's
//! arguments defined beside its execution in `commands`), the dispatch to it, and the shell
//! completions and man page generated from the same definitions (`shell`).

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
#[command(name = "pipectl", version, about, long_about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec without calling AWS.
    Validate,
    /// Show what apply would change.
    Plan(plan::PlanArgs),
    /// Plan, ask for confirmation, and make AWS match the spec.
    Apply(apply::ApplyArgs),
    /// Delete everything that belongs to the pipeline, in reverse dependency order.
    Destroy(apply::DestroyArgs),
    /// Resize an EMR instance group now (and optionally back later), without it counting as drift.
    Scale(scale::ScaleArgs),
    /// Start a cluster's job now (the state machine its schedule starts), and optionally follow it.
    Run(commands::run::RunArgs),
    /// List recent runs of the spec's jobs: start, duration, node-hours, outcome.
    Runs(commands::run::RunsArgs),
    /// Print the ids, ARNs, names and endpoints of what the pipeline created, read from AWS.
    Output(output::OutputArgs),
    /// One screen of live health from AWS: streams, deliveries, clusters, jobs, alarms firing.
    Status(status::StatusArgs),
    /// Put a canary record into each delivery's stream and wait for it in the lake: does data flow?
    Verify(verify::VerifyArgs),
    /// Print the dependency graph of the spec (Graphviz dot or Mermaid).
    Graph(graph::GraphArgs),
    /// Take an existing, untagged resource with a name the spec uses as the pipeline's own.
    Adopt(adopt::AdoptArgs),
    /// Break the pipeline's lock, left by a run that died (see `apply`); says who held it.
    Unlock,
    /// Print the least-privilege IAM policy a principal needs to run pipectl on this spec.
    Permissions(permissions::PermissionsArgs),
    /// Print the JSON Schema of the spec, for editors (yaml-language-server, IntelliJ).
    Schema,
    /// Print a shell completion script (e.g. `pipectl completions bash > /etc/bash_completion.d/pipectl`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page pipectl(1), in roff (e.g. `pipectl man > ~/.local/share/man/man1/pipectl.1`).
    Man,
    /// Write a commented starter spec.
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

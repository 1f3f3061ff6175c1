//! Command-line definitions (clap derive) and nothing else.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub mod shell;

use crate::calendar::parse_duration;

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

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The pipeline spec to read.
    #[arg(short = 'f', long = "file", global = true, default_value = "pipeline.yaml", value_name = "FILE")]
    pub file: PathBuf,
    /// AWS profile from ~/.aws/config (default: the standard chain, e.g. AWS_PROFILE).
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region (default: the spec's `region`).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
    /// Send every AWS request to this endpoint (an emulator or proxy).
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Use LocalStack: http://localhost:4566 unless AWS_ENDPOINT_URL is set, test credentials
    /// if none are configured, path-style S3.
    #[arg(long, global = true)]
    pub localstack: bool,
    /// How many resources apply changes at once.
    #[arg(long, global = true, default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=100))]
    pub parallelism: u16,
    /// AWS requests in flight at once; reads fan out up to this (writes are further bounded by
    /// --parallelism).
    #[arg(long, global = true, default_value_t = 64, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=512))]
    pub max_in_flight: u16,
    /// How long one resource may take to become ready (e.g. a stream ACTIVE).
    #[arg(long, global = true, default_value = "10m", value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Duration,
    /// How long apply and destroy wait for another run of the pipeline to finish.
    #[arg(long, global = true, default_value = "0s", value_parser = parse_duration, value_name = "DURATION")]
    pub lock_timeout: Duration,
    /// How long the lock's lease lasts unless renewed (the holder renews it every third of
    /// that); a run that dies keeps the pipeline locked at most this long.
    #[arg(long, global = true, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub lock_lease: Duration,
    /// Connect timeout of each AWS request.
    #[arg(long, global = true, default_value = "3s", value_parser = parse_duration, value_name = "DURATION")]
    pub connect_timeout: Duration,
    /// Read timeout of each AWS request.
    #[arg(long, global = true, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub read_timeout: Duration,
    /// More logging on stderr (-v: AWS calls made; -vv: debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// No colors (also when NO_COLOR is set or output is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

/// How `pipectl plan` prints the plan: `markdown` is for a pull-request comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanOutput {
    Human,
    Json,
    Markdown,
}

impl From<OutputFormat> for PlanOutput {
    fn from(format: OutputFormat) -> PlanOutput {
        match format {
            OutputFormat::Human => PlanOutput::Human,
            OutputFormat::Json => PlanOutput::Json,
        }
    }
}

/// The language `pipectl graph` draws in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

/// What `pipectl permissions` prints a policy for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PermissionsFor {
    All,
    Plan,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec without calling AWS.
    Validate,
    /// Show what apply would change.
    Plan {
        /// Exit 0 when there are no changes, 2 when there are, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        #[arg(long, value_enum, default_value_t = PlanOutput::Human)]
        output: PlanOutput,
        /// Plan scaled EMR groups back to their baseline instead of leaving them be.
        #[arg(long)]
        reset_scale: bool,
        /// Also save the plan, with fingerprints of the spec and of the live state it was
        /// computed from, for `pipectl apply PLANFILE`.
        #[arg(long, value_name = "PLANFILE")]
        out: Option<PathBuf>,
    },
    /// Plan, ask for confirmation, and make AWS match the spec.
    Apply {
        /// Do not ask for confirmation (needed when stdin is not a terminal).
        #[arg(long)]
        auto_approve: bool,
        /// Consent to changes that destroy data (deleting a stream, a bucket that holds objects).
        #[arg(long)]
        allow_destroy: bool,
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        output: OutputFormat,
        /// Return EMR groups moved by `pipectl scale` to their baseline.
        #[arg(long, conflicts_with = "plan_file")]
        reset_scale: bool,
        /// A plan saved by `pipectl plan --out`: apply exactly it, or refuse, changing nothing,
        /// if the spec or the live state changed since.
        #[arg(value_name = "PLANFILE")]
        plan_file: Option<PathBuf>,
    },
    /// Delete everything that belongs to the pipeline, in reverse dependency order.
    Destroy {
        /// Do not ask for confirmation (needed when stdin is not a terminal).
        #[arg(long)]
        auto_approve: bool,
        /// Consent to destroying data (streams, buckets that hold objects).
        #[arg(long)]
        allow_destroy: bool,
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        output: OutputFormat,
    },
    /// Resize an EMR instance group now (and optionally back later), without it counting as drift.
    Scale(ScaleArgs),
    /// Start a cluster's job now (the state machine its schedule starts), and optionally follow it.
    Run {
        /// The job: `cluster/job`, or `job` when only one cluster has a job of that name.
        job: String,
        /// Follow the run until it ends; the exit code is 0 only if it succeeded.
        #[arg(long)]
        wait: bool,
        /// How often --wait checks the run.
        #[arg(long, value_parser = parse_duration, value_name = "DURATION", default_value = "10s")]
        poll: Duration,
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        output: OutputFormat,
    },
    /// List recent runs of the spec's jobs: start, duration, node-hours, outcome.
    Runs {
        /// Only this job (`cluster/job` or `job`).
        job: Option<String>,
        /// The most runs to list per job.
        #[arg(long, default_value_t = 20)]
        limit: i32,
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        output: OutputFormat,
    },
    /// Print the dependency graph of the spec (Graphviz dot or Mermaid).
    Graph {
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
        /// Read live state and colour each resource by the plan's action.
        #[arg(long)]
        live: bool,
    },
    /// Take an existing, untagged resource with a name the spec uses as the pipeline's own.
    Adopt {
        /// The resource, `kind/name` as in plans (e.g. `bucket/clickstream-lake`).
        #[arg(value_name = "KIND/NAME", required_unless_present = "all", conflicts_with = "all")]
        resource: Option<String>,
        /// Every untagged resource with a name the spec uses.
        #[arg(long)]
        all: bool,
        /// Do not ask for confirmation (needed when stdin is not a terminal).
        #[arg(long)]
        auto_approve: bool,
    },
    /// Break the pipeline's lock, left by a run that died (see `apply`); says who held it.
    Unlock,
    /// Print the least-privilege IAM policy a principal needs to run pipectl on this spec.
    Permissions {
        /// `all` (plan, apply, scale, destroy) or `plan` (read-only).
        #[arg(long = "for", value_enum, default_value_t = PermissionsFor::All)]
        purpose: PermissionsFor,
        /// The account id to put in ARNs (default `*`).
        #[arg(long, value_name = "ID", default_value = "*")]
        account_id: String,
    },
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
    Init {
        /// Which starter: `minimal` or `clickstream`.
        #[arg(long, default_value = "minimal", value_name = "NAME")]
        template: String,
        /// Where to write it (default: the -f file, pipeline.yaml).
        file: Option<PathBuf>,
    },
}

/// `pipectl scale [CLUSTER] --nodes N [--group GROUP] [--for DURATION | --until TIME] [--reset] [--wait]`
///
/// Without --group, the first task group is resized (the core group when there is none). Large
/// swings belong on task groups: they hold no HDFS data, so shrinking them loses nothing, while
/// core nodes can never drop below the HDFS replication floor.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// The cluster of the spec (may be omitted when the spec has one).
    pub cluster: Option<String>,
    /// The new number of nodes.
    #[arg(long, required_unless_present = "reset", conflicts_with = "reset")]
    pub nodes: Option<i64>,
    /// `core` or a task group name (default: the first task group).
    #[arg(long)]
    pub group: Option<String>,
    /// Return to the baseline after this long (e.g. 4h), by a one-time EventBridge schedule.
    #[arg(long = "for", value_parser = parse_duration, value_name = "DURATION", conflicts_with = "until")]
    pub duration: Option<Duration>,
    /// Return to the baseline at this time: HH:MM (next occurrence in --timezone) or RFC 3339.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// The time zone of --until HH:MM.
    #[arg(long, default_value = "UTC", value_name = "ZONE")]
    pub timezone: String,
    /// Return the group to the spec's baseline and cancel any pending scale-back.
    #[arg(long)]
    pub reset: bool,
    /// Follow the group until the running count reaches N (bounded by --timeout).
    #[arg(long)]
    pub wait: bool,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,
}

//! The flags every command takes (`-f`, `--region`, `--endpoint-url`, timeouts, …) and the
//! output formats several share, with what they decide for all: colour on stdout and stderr.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::calendar::parse_duration;

/// The spec a command reads when `-f` names none (and no saved plan names one).
pub const DEFAULT_SPEC_FILE: &str = "pipeline.yaml";

/// Listed under their own heading in every command's help, after the command's own flags.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The pipeline spec to read (default: pipeline.yaml; for `apply PLANFILE`, the spec the
    /// plan was made from).
    #[arg(short = 'f', long = "file", global = true, value_name = "FILE")]
    pub file: Option<PathBuf>,
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
    /// How long one resource may take to become ready (e.g. a stream ACTIVE; default 10m); for
    /// `verify`, how long to wait for each canary (default: its delivery's buffer interval plus
    /// 2 minutes).
    #[arg(long, global = true, value_parser = parse_duration, value_name = "DURATION")]
    pub timeout: Option<Duration>,
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
    /// Price plans and resizes from the offline table only. Without it, against AWS itself,
    /// what the table lacks (EC2 and EMR prices of an instance type in a region) is read from
    /// the AWS Price List API (pricing:GetProducts).
    #[arg(long, global = true)]
    pub offline_prices: bool,
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

/// How long one resource may take to become ready when `--timeout` is not given.
const READY_TIMEOUT: Duration = Duration::from_secs(600);

impl GlobalArgs {
    /// The spec file: `-f`, or `pipeline.yaml`.
    pub fn spec_file(&self) -> &Path {
        self.file.as_deref().unwrap_or(Path::new(DEFAULT_SPEC_FILE))
    }

    /// `--timeout` for commands that wait for resources: given, or 10 minutes.
    pub fn ready_timeout(&self) -> Duration {
        self.timeout.unwrap_or(READY_TIMEOUT)
    }

    /// Neither `--no-color` nor `NO_COLOR`.
    fn color_wanted(&self) -> bool {
        !self.no_color && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
    }

    /// Colour for what goes to stdout: wanted, and stdout is a terminal.
    pub fn stdout_color(&self) -> bool {
        self.color_wanted() && std::io::stdout().is_terminal()
    }

    /// Colour for what goes to stderr: wanted, and stderr is a terminal.
    pub fn stderr_color(&self) -> bool {
        self.color_wanted() && std::io::stderr().is_terminal()
    }

    /// How rendered output is styled on stdout.
    pub fn style(&self) -> crate::render::Style {
        crate::render::Style { color: self.stdout_color(), full: false }
    }
}

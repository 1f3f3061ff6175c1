//! pipectl: declarative provisioning of AWS data pipelines. Parses arguments, sets up logging,
//! runs the command and maps the result to an exit code (0 ok, 1 error, 2 changes present with
//! `plan --detailed-exitcode`).

use std::process::ExitCode;

use clap::Parser;
use pipectl::{cli, commands};

fn main() -> ExitCode {
    // Usage errors exit 1 (clap's default of 2 would read as "changes present").
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    init_logging(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(commands::Status::Success) => ExitCode::SUCCESS,
        Ok(commands::Status::Changes | commands::Status::Unhealthy) => ExitCode::from(2),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(1)
        }
    }
}

/// Logs go to stderr; `-v` shows pipectl's own debug lines, `-vv` the SDK's too. Up to `-v` the
/// lines are pipectl's own output (`AWS request s3:CreateBucket`), with no level or time:
/// only a library's warning or error says what it is. `-vv` is for debugging, and keeps both.
fn init_logging(verbose: u8) {
    let filter = match verbose {
        0 => "warn,aws_config=error,aws_smithy_runtime=error",
        1 => "pipectl=debug,warn",
        // The SDK's own debug lines print request properties that include the access key id.
        _ => "debug,aws_smithy_runtime=info,aws_smithy_runtime_api=info,aws_sigv4=info,aws_credential_types=info,aws_config=info,aws_runtime=info,aws_sdk_s3=info,aws_sdk_ec2=info,aws_sdk_kinesis=info,aws_sdk_firehose=info,aws_sdk_iam=info,aws_sdk_emr=info,aws_sdk_scheduler=info,aws_sdk_sts=info,aws_sdk_dynamodb=info,aws_sdk_sqs=info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("PIPECTL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if verbose >= 2 {
        logs.with_target(false).with_ansi(ansi).init();
    } else {
        logs.event_format(Plain).init();
    }
}

/// `-v`'s lines: the message and its fields, as pipectl prints its other output; a warning or
/// an error (from a library, which is all pipectl logs at those levels) is labelled as pipectl
/// labels its own (`warning: `, `error: `).
struct Plain;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Plain
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        match *event.metadata().level() {
            tracing::Level::ERROR => write!(writer, "error: ")?,
            tracing::Level::WARN => write!(writer, "warning: ")?,
            _ => {}
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

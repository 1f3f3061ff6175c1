//! One module per command, each with its arguments (clap) and its execution, in the manner of
//! cargo's `src/bin/cargo/commands/*.rs`: `plan`, `apply` (and `destroy`), `scale`, `run` (and
//! `runs`), `adopt`, `permissions`, `unlock`, `graph`, `init`, `validate`, `schema`, `verify`,
//! `output`, `status`. What several
//! share lives beside them: the global flags (`global`), a loaded spec with its clients and its
//! plan (`session`), and the exit status and error report here. Commands reach AWS through the
//! kinds (`resources`) and the AWS layer (the clients, the lock), never an SDK crate directly.
//! Results go to stdout, everything else to stderr.

/// `print!` for results: a reader that stopped early (`| true`, `| head`) is no panic (`print!`
/// panics on the closed pipe, exit 101); the rest of the output is dropped and the command goes on.
macro_rules! out {
    ($($arg:tt)*) => { $crate::commands::write_stdout(format_args!($($arg)*)) };
}

/// `println!` for results, as `out!`.
macro_rules! outln {
    () => { out!("\n") };
    ($($arg:tt)*) => { out!("{}\n", format_args!($($arg)*)) };
}

pub mod adopt;
pub mod apply;
mod global;
pub mod graph;
pub mod init;
pub mod output;
pub mod permissions;
pub mod plan;
pub mod run;
pub mod scale;
pub mod schema;
mod session;
pub mod status;
pub mod unlock;
pub mod validate;
pub mod verify;

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

pub use global::{GlobalArgs, OutputFormat, PlanOutput};

use crate::aws::AwsError;
use crate::spec::SpecError;

/// How a successful command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    /// `plan --detailed-exitcode` found changes.
    Changes,
    /// `status` found something that needs attention (an alarm firing, a failed delivery, …).
    Unhealthy,
}

/// Why a command failed: the report at the edge, printed as one `error:` line (or a few).
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// An AWS call failed; `advice` says it for people (what to check, what to run).
    #[error("{advice}")]
    Aws {
        advice: String,
        #[source]
        error: Box<AwsError>,
    },
    #[error(transparent)]
    Lock(Box<crate::aws::lock::LockError>),
    #[error(transparent)]
    Scale(Box<scale::ScaleError>),
    /// pipectl would not do it (a conflict, data loss without consent, a cancelled prompt).
    #[error("{0}")]
    Refused(String),
    /// It was tried and did not complete; the details were printed above.
    #[error("{0}")]
    Failed(String),
}

/// Set by Ctrl-C: apply starts nothing new, and a run that has not changed anything yet stops.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Notes Ctrl-C for the rest of the process (see `INTERRUPTED`).
pub fn watch_interrupts() {
    tokio::spawn(async {
        if tokio::signal::ctrl_c().await.is_ok() {
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("warning: interrupted: finishing the calls in flight, starting nothing new");
        }
    });
}

/// Prints generated text (schema, completions, man page) to stdout.
pub fn emit(bytes: &[u8]) -> Result<Status, CommandError> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        // A reader that stops early (`| head`) is not an error.
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CommandError::Failed(format!("cannot write to stdout: {error}")))
        }
        _ => Ok(Status::Success),
    }
}

/// Writes to stdout for `out!`: a closed pipe is the reader's choice; any other failure is warned
/// about once per write, on stderr.
pub fn write_stdout(args: std::fmt::Arguments) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("warning: cannot write to stdout: {error}");
        }
    }
}

/// Asks on the terminal; only `yes` goes on.
fn confirm() -> Result<(), CommandError> {
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::Refused("stdin is not a terminal, so pipectl cannot ask for confirmation: re-run with --auto-approve. Nothing was changed.".to_string()));
    }
    eprint!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|error| CommandError::Failed(format!("cannot read the answer: {error}")))?;
    if answer.trim() == "yes" {
        Ok(())
    } else {
        Err(CommandError::Refused("cancelled; nothing was changed".to_string()))
    }
}

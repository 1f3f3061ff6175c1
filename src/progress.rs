//! Progress and warnings on stderr, so that stdout carries only the plan and results.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Writes timestamped progress lines to stderr.
#[derive(Debug, Clone)]
pub struct Progress {
    started: Instant,
    color: bool,
}

impl Progress {
    pub fn new(color: bool) -> Progress {
        Progress { started: Instant::now(), color: color && std::io::stderr().is_terminal() }
    }

    pub fn line(&self, text: &str) {
        let elapsed = self.started.elapsed().as_secs_f64();
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "[{elapsed:>6.1}s] {text}");
    }

    pub fn warn(&self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let label = if self.color { "\x1b[33mwarning\x1b[0m" } else { "warning" };
        let _ = writeln!(stderr, "{label}: {text}");
    }
}

//! What the shell and `man` get from pipectl: completion scripts (clap_complete) and the man page
//! (clap_mangen), both generated from the clap definitions (`cli` and `commands`), so they never fall behind a
//! new command or flag.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "pipectl", &mut out);
    out
}

/// The man page pipectl(1), in roff; subcommands are listed in it.
pub fn man_page() -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_and_man_page_know_the_commands() {
        let bash = String::from_utf8_lossy(&completions(Shell::Bash)).to_string();
        assert!(bash.contains("apply") && bash.contains("--detailed-exitcode"), "{bash}");
        let man = String::from_utf8_lossy(&man_page().expect("render")).to_string();
        assert!(man.contains(".TH pipectl 1") && man.contains("apply"), "{man}");
    }
}

//! The `Examples:` at the end of each command's help, one place for all of them so that the test
//! below can run every example line through the parser: an example that names a flag pipectl no
//! longer has fails `cargo test`, not a new user.

/// `pipectl --help`: the first hour, from a template to a pipeline on LocalStack.
pub const PIPECTL: &str = "\
Examples:
  # Start from a template, check it, and try it on LocalStack
  pipectl init --template stream-to-lake
  pipectl validate
  pipectl plan --localstack
  pipectl apply --localstack

`pipectl help COMMAND` shows a command's flags and examples; docs/commands.md has them all.";

pub const VALIDATE: &str = "\
Examples:
  pipectl validate
  pipectl validate -f examples/clickstream.yaml";

pub const PLAN: &str = "\
Examples:
  # In CI: exit 2 when AWS differs from the spec
  pipectl plan --detailed-exitcode
  # A Markdown plan for the pull request, saved for `pipectl apply plan.json` after review
  pipectl plan --output markdown --out plan.json > plan.md";

pub const APPLY: &str = "\
Examples:
  # Show the plan, ask, then apply it
  pipectl apply -f pipeline.yaml
  # After merge, in CI: exactly the reviewed plan, or nothing if anything moved since
  pipectl apply --auto-approve plan.json";

pub const DESTROY: &str = "\
Examples:
  pipectl destroy
  # Without a prompt, also deleting streams and buckets that hold data
  pipectl destroy --auto-approve --allow-destroy";

pub const SCALE: &str = "\
Examples:
  # 20 nodes in the task group `batch` for 4 hours, then back to the spec's baseline
  pipectl scale spark --group batch --nodes 20 --for 4h --wait
  # Back to the baseline now, cancelling a pending scale-back
  pipectl scale spark --group batch --reset";

pub const RUN: &str = "\
Examples:
  # Start the job `nightly` now and follow it to the end
  pipectl run nightly --wait
  # Follow the run already going, or stop it and give its nodes back
  pipectl run nightly --attach
  pipectl run spark/nightly --stop --auto-approve";

pub const RUNS: &str = "\
Examples:
  pipectl runs
  pipectl runs spark/nightly --limit 5 --output json";

pub const OUTPUT: &str = "\
Examples:
  # Everything the pipeline created, for people or for scripts
  pipectl output
  pipectl output --kind stream --output json
  # One raw value, e.g. for a producer's configuration
  pipectl output cluster/spark --value id";

pub const STATUS: &str = "\
Examples:
  # Exit 0 when healthy, 2 when something needs attention
  pipectl status
  pipectl status --minutes 60 --output json";

pub const VERIFY: &str = "\
Examples:
  # A canary record through every delivery: does data reach the lake?
  pipectl verify
  pipectl verify --delivery clickstream-events-to-lake --timeout 10m";

pub const GRAPH: &str = "\
Examples:
  pipectl graph | dot -Tsvg > pipeline.svg
  # Mermaid, each resource coloured by what apply would do to it
  pipectl graph --format mermaid --live";

pub const ADOPT: &str = "\
Examples:
  pipectl adopt bucket/clickstream-lake-example
  # Every untagged resource with a name the spec uses, without a prompt
  pipectl adopt --all --auto-approve";

pub const UNLOCK: &str = "\
Examples:
  pipectl unlock -f examples/clickstream.yaml";

pub const PERMISSIONS: &str = "\
Examples:
  # The deployer policy of a CI principal, with this account's id in its ARNs
  pipectl permissions --account-id 123456789012 > deployer-policy.json
  # Read-only, for a principal that only plans
  pipectl permissions --for plan";

pub const SCHEMA: &str = "\
Examples:
  pipectl schema > pipectl.schema.json";

pub const COMPLETIONS: &str = "\
Examples:
  pipectl completions bash > /etc/bash_completion.d/pipectl
  pipectl completions zsh > ~/.zfunc/_pipectl";

pub const MAN: &str = "\
Examples:
  pipectl man > ~/.local/share/man/man1/pipectl.1";

pub const INIT: &str = "\
Examples:
  # One bucket and one stream, in pipeline.yaml
  pipectl init
  # A stream delivered to the lake, in events.yaml
  pipectl init --template stream-to-lake events.yaml";

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use crate::cli::Cli;

    /// The example command lines of a help text: its lines that start with `pipectl`, each cut
    /// at the first shell operator (`|`, `>`) and split into words (examples use no quotes).
    fn example_lines(help: &str) -> Vec<Vec<String>> {
        help.lines()
            .map(str::trim)
            .filter(|line| line.starts_with("pipectl "))
            .map(|line| {
                let command = line.split(['|', '>']).next().unwrap_or(line);
                command.split_whitespace().map(str::to_string).collect()
            })
            .collect()
    }

    /// Every command (and pipectl itself) shows examples, and each example parses as a command
    /// line of the command whose help shows it.
    #[test]
    fn every_command_has_examples_that_parse() {
        let root = Cli::command();
        let mut helps = vec![(None, root.get_after_help().map(ToString::to_string))];
        for command in root.get_subcommands() {
            helps.push((Some(command.get_name().to_string()), command.get_after_help().map(ToString::to_string)));
        }
        let mut checked = 0;
        for (command, help) in helps {
            let shown = command.as_deref().unwrap_or("pipectl");
            let help = help.unwrap_or_else(|| panic!("`{shown} --help` has no examples"));
            assert!(help.starts_with("Examples:\n"), "`{shown} --help` ends without `Examples:`: {help}");
            let lines = example_lines(&help);
            assert!(!lines.is_empty(), "`{shown} --help` has no example line: {help}");
            for words in lines {
                let example = words.join(" ");
                let matches = Cli::command()
                    .try_get_matches_from(&words)
                    .and_then(|matches| Cli::from_arg_matches(&matches).map(|_| matches))
                    .unwrap_or_else(|error| panic!("the example `{example}` does not parse:\n{error}"));
                if command.is_some() {
                    assert_eq!(matches.subcommand_name(), command.as_deref(), "`{example}` in `{shown} --help`");
                }
                checked += 1;
            }
        }
        assert!(checked > 20, "only {checked} examples checked");
    }
}

//! The CI recipes in `examples/ci/` parse as YAML and call only pipectl subcommands and flags
//! that exist: every `pipectl …` command line in their scripts goes through the real clap parser.

use clap::Parser;
use pipectl::cli::Cli;

use crate::support::repo_path;

/// Every string in a YAML document (scripts are strings, wherever the CI system puts them).
fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) => out.push(text.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|item| strings(item, out)),
        serde_json::Value::Object(map) => map.values().for_each(|item| strings(item, out)),
        _ => {}
    }
}

/// A shell command's words, quotes removed, up to the first redirection.
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let (mut word, mut quote, mut started) = (String::new(), None, false);
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (None, c) => word.push(c),
        }
    }
    if started || !word.is_empty() {
        words.push(word);
    }
    words.into_iter().take_while(|word| !word.starts_with('>') && !word.starts_with("2>") && word != "<").collect()
}

/// The `pipectl …` commands of a script: each command of each line (split at `&&`, `||`, `;`,
/// `|`, `$(`) that starts with `pipectl`.
fn pipectl_commands(script: &str) -> Vec<Vec<String>> {
    script
        .lines()
        .flat_map(|line| {
            line.split("&&")
                .flat_map(|part| part.split("||"))
                .flat_map(|part| part.split(';'))
                .flat_map(|part| part.split('|'))
                .flat_map(|part| part.split("$("))
                .map(|part| part.trim().trim_start_matches("then ").trim_start_matches("if ").trim().to_string())
                .collect::<Vec<_>>()
        })
        .filter(|command| command.starts_with("pipectl "))
        .map(|command| words(command.trim_end_matches(')')))
        .collect()
}

#[test]
fn ci_recipes_parse_and_call_only_real_commands() {
    for file in ["examples/ci/github-actions.yml", "examples/ci/gitlab-ci.yml"] {
        let text = std::fs::read_to_string(repo_path(file)).expect("recipe exists");
        let document: serde_json::Value =
            serde_saphyr::from_str(&text).unwrap_or_else(|error| panic!("{file} is not YAML: {error}"));
        let mut scripts = Vec::new();
        strings(&document, &mut scripts);
        let commands: Vec<Vec<String>> = scripts.iter().flat_map(|script| pipectl_commands(script)).collect();
        for command in &commands {
            if let Err(error) = Cli::try_parse_from(command) {
                panic!("{file}: `{}` is not a pipectl command:\n{error}", command.join(" "));
            }
        }
        let has =
            |words: &[&str]| commands.iter().any(|command| words.iter().all(|word| command.iter().any(|w| w == word)));
        assert!(has(&["validate"]), "{file}: no `pipectl validate` in {commands:?}");
        assert!(has(&["plan", "--detailed-exitcode", "--out"]), "{file}: no saved plan in {commands:?}");
        assert!(has(&["plan", "--output", "markdown"]), "{file}: no markdown plan in {commands:?}");
        assert!(has(&["apply", "plan.json"]), "{file}: the saved plan is not applied in {commands:?}");
        assert!(
            text.contains("localstack/start.sh"),
            "{file}: the emulators are not started with the project's script"
        );
    }
}

#[test]
fn the_command_finder_sees_commands_inside_scripts() {
    let script = "eval \"$(localstack/env.sh localstack)\"\ncode=0; pipectl plan -f \"$SPEC\" --out plan.json > plan.md || code=$?\nif x; then pipectl apply plan.json; fi";
    assert_eq!(
        pipectl_commands(script),
        [vec!["pipectl", "plan", "-f", "$SPEC", "--out", "plan.json"], vec!["pipectl", "apply", "plan.json"]]
    );
    // And a flag that does not exist is caught by the parser.
    assert!(Cli::try_parse_from(["pipectl", "plan", "--no-such-flag"]).is_err());
}

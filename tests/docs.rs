//! The documentation stays true: every whole spec shown in the README and in `docs/` passes
//! `pipectl validate`, every relative link in them resolves (with its `#anchor`, also within the
//! page), every command and
//! flag of the binary is documented in `docs/commands.md`, and the README stays a front door.
//! No emulator, no network: the real binary is run only for `validate` and `--help`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The README must stay a front door: the reference lives in `docs/`.
const README_MAX_LINES: usize = 350;

/// Written on the line before a ```yaml fence whose block looks like a spec but must not be
/// validated (a deliberately invalid example).
const NOT_A_SPEC: &str = "<!-- not-a-spec -->";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// `README.md` and every `docs/*.md`: the pages whose example specs must validate.
fn spec_pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let docs = std::fs::read_dir(root().join("docs")).expect("docs/ exists");
    let mut found: Vec<PathBuf> = docs
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .collect();
    assert!(!found.is_empty(), "docs/ holds no .md page");
    found.sort();
    pages.extend(found);
    pages
}

/// The pages whose relative links must resolve.
fn linking_pages() -> Vec<PathBuf> {
    let mut pages = spec_pages();
    pages.push(root().join("ARCHITECTURE.md"));
    pages.push(root().join("localstack/README.md"));
    for page in &pages {
        assert!(page.is_file(), "{} is missing", page.display());
    }
    pages
}

/// `path` relative to the repository, for messages.
fn shown(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

/// A fenced code block: its info string, the line of its opening fence (from 1), its text with the
/// fence's indentation removed, and whether the line before the fence opts it out.
struct Block {
    info: String,
    line: usize,
    text: String,
    opted_out: bool,
}

/// A fence line: its indentation and what follows the backticks, or None.
fn fence(line: &str) -> Option<(usize, &str)> {
    let indent = line.len() - line.trim_start().len();
    line.trim_start().strip_prefix("```").map(|info| (indent, info.trim()))
}

/// Splits a Markdown page into its fenced code blocks and, for every other line, the line itself
/// (with its number), so that links and headings are only looked for outside code.
fn parse(markdown: &str) -> (Vec<Block>, Vec<(usize, &str)>) {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut blocks = Vec::new();
    let mut prose = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let Some((indent, info)) = fence(lines[index]) else {
            prose.push((index + 1, lines[index]));
            index += 1;
            continue;
        };
        let opened = index;
        let opted_out = opened > 0 && lines[opened - 1].trim() == NOT_A_SPEC;
        let mut text = String::new();
        index += 1;
        while index < lines.len() && fence(lines[index]).is_none_or(|(_, info)| !info.is_empty()) {
            let line = lines[index];
            let cut = line.len() - line.trim_start().len();
            text.push_str(&line[cut.min(indent)..]);
            text.push('\n');
            index += 1;
        }
        assert!(index < lines.len(), "line {}: a ``` fence is never closed", opened + 1);
        index += 1;
        blocks.push(Block { info: info.to_string(), line: opened + 1, text, opted_out });
    }
    (blocks, prose)
}

/// A whole spec, not a fragment of one: a top-level `version: 1` and `pipeline:`.
fn is_spec(block: &Block) -> bool {
    matches!(block.info.as_str(), "yaml" | "yml")
        && block.text.lines().any(|line| line.starts_with("version: 1"))
        && block.text.lines().any(|line| line.starts_with("pipeline:"))
}

#[test]
fn every_spec_in_the_readme_and_the_docs_validates() {
    let scratch = std::env::temp_dir().join(format!("pipectl-docs-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let mut checked = 0;
    let mut readme_specs = 0;
    let mut failures = Vec::new();
    for page in spec_pages() {
        let (blocks, _) = parse(&read(&page));
        for block in blocks.iter().filter(|block| is_spec(block) && !block.opted_out) {
            let stem = page.file_stem().and_then(|stem| stem.to_str()).unwrap_or("page");
            let file = scratch.join(format!("{stem}-{}.yaml", block.line));
            std::fs::write(&file, &block.text).expect("write the spec");
            let output = Command::new(env!("CARGO_BIN_EXE_pipectl"))
                .args(["validate", "-f"])
                .arg(&file)
                .env("NO_COLOR", "1")
                .output()
                .expect("run pipectl");
            if !output.status.success() {
                failures.push(format!(
                    "{}:{}: `pipectl validate` exited {:?}:\n{}",
                    shown(&page),
                    block.line,
                    output.status.code(),
                    String::from_utf8_lossy(&output.stderr)
                ));
            }
            checked += 1;
            if page.ends_with("README.md") && page.parent() == Some(root().as_path()) {
                readme_specs += 1;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!("validated {checked} example specs ({readme_specs} in README.md)");
    assert!(checked > 0, "found no ```yaml block with `version: 1` and `pipeline:`: this test would check nothing");
    assert!(readme_specs > 0, "README.md shows no whole spec: the front door needs a first spec");
    assert!(
        failures.is_empty(),
        "{} of {checked} example specs do not validate:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Drops inline code spans (`` `…` ``), where brackets are text, not links.
fn without_code_spans(line: &str) -> String {
    let mut kept = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        kept.push_str(&rest[..start]);
        let ticks = rest[start..].chars().take_while(|c| *c == '`').count();
        let after = &rest[start + ticks..];
        match after.find(&"`".repeat(ticks)) {
            Some(end) => rest = &after[end + ticks..],
            None => {
                kept.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    kept.push_str(rest);
    kept
}

/// The targets of the inline links (`[text](target)`, images too) and reference definitions
/// (`[label]: target`) of one line of prose.
fn link_targets(line: &str) -> Vec<String> {
    let line = without_code_spans(line);
    let mut targets = Vec::new();
    let mut rest = line.as_str();
    while let Some(open) = rest.find("](") {
        let after = &rest[open + 2..];
        let mut depth = 0;
        let end = after.char_indices().find(|(_, c)| match c {
            '(' => {
                depth += 1;
                false
            }
            ')' if depth == 0 => true,
            ')' => {
                depth -= 1;
                false
            }
            _ => false,
        });
        let Some((end, _)) = end else { break };
        let target = after[..end].trim().trim_start_matches('<').trim_end_matches('>');
        targets.push(target.split_whitespace().next().unwrap_or("").to_string());
        rest = &after[end..];
    }
    let trimmed = line.trim_start();
    if let (true, Some(close)) = (trimmed.starts_with('['), trimmed.find("]:")) {
        if let Some(target) = trimmed[close + 2..].split_whitespace().next() {
            targets.push(target.to_string());
        }
    }
    targets
}

/// The anchors GitHub gives the headings of a page: lower case, spaces to `-`, punctuation other
/// than `-` and `_` dropped, and `-1`, `-2`, … for repeated headings.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let (_, prose) = parse(markdown);
    let mut found = BTreeSet::new();
    for (_, line) in prose {
        let trimmed = line.trim_start();
        let level = trimmed.chars().take_while(|c| *c == '#').count();
        if level == 0 || level > 6 || !trimmed[level..].starts_with(' ') {
            continue;
        }
        let text = trimmed[level..].trim().trim_end_matches('#').trim();
        let slug: String = text
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        let mut candidate = slug.clone();
        let mut repeat = 0;
        while !found.insert(candidate.clone()) {
            repeat += 1;
            candidate = format!("{slug}-{repeat}");
        }
    }
    found
}

/// Why the relative link `target` of `page` does not resolve, if it does not. A bare `#anchor`
/// names a heading of `page` itself.
fn broken(page: &Path, target: &str) -> Option<String> {
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let path = path.replace("%20", " ");
    let resolved =
        if path.is_empty() { page.to_path_buf() } else { page.parent().expect("a page is in a directory").join(&path) };
    let Ok(canonical) = resolved.canonicalize() else {
        return Some(format!("{} does not exist", shown(&resolved)));
    };
    let repository = root().canonicalize().expect("the repository");
    if !canonical.starts_with(&repository) {
        return Some("points outside the repository".to_string());
    }
    let anchor = anchor.filter(|anchor| !anchor.is_empty())?;
    if canonical.extension().is_none_or(|extension| extension != "md") {
        return None;
    }
    let known = anchors(&read(&canonical));
    (!known.contains(anchor)).then(|| format!("{} has no heading with the anchor #{anchor}", shown(&canonical)))
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for page in linking_pages() {
        let markdown = read(&page);
        let (_, prose) = parse(&markdown);
        for (line, text) in prose {
            for target in link_targets(text) {
                let external = ["http://", "https://", "mailto:"].iter().any(|scheme| target.starts_with(scheme));
                if external || target.is_empty() {
                    continue;
                }
                checked += 1;
                if let Some(why) = broken(&page, &target) {
                    failures.push(format!("{}:{line}: ({target}): {why}", shown(&page)));
                }
            }
        }
    }
    println!("checked {checked} relative links");
    assert!(
        checked > 0,
        "found no relative link in the README, ARCHITECTURE.md or docs/: this test would check nothing"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} relative links do not resolve:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_readme_stays_a_front_door() {
    let lines = read(&root().join("README.md")).lines().count();
    assert!(
        lines < README_MAX_LINES,
        "README.md has {lines} lines; keep it under {README_MAX_LINES} and move reference material to docs/"
    );
}

/// `pipectl ARGS --help`, as text.
fn help(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_pipectl")).args(args).arg("--help").output().expect("run pipectl");
    assert!(output.status.success(), "pipectl {} --help failed", args.join(" "));
    String::from_utf8(output.stdout).expect("help is UTF-8")
}

/// The lines of the help section that starts with `title` (`Commands:`, `Options:`, `Global
/// options:`), up to the next heading (`--help` puts blank lines between long entries).
fn section<'a>(help: &'a str, title: &str) -> Vec<&'a str> {
    help.lines()
        .skip_while(|line| line.trim() != title)
        .skip(1)
        .take_while(|line| line.is_empty() || line.starts_with(' '))
        .filter(|line| !line.trim().is_empty())
        .collect()
}

#[test]
fn every_command_and_flag_is_in_the_commands_page() {
    let page = read(&root().join("docs/commands.md"));
    let documented = |word: &str| {
        page.match_indices(word).any(|(at, _)| {
            !page[at + word.len()..].starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
    };
    let commands: Vec<String> = section(&help(&[]), "Commands:")
        .iter()
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect();
    assert!(commands.len() > 5, "found only {commands:?} in `pipectl --help`");
    let mut missing = Vec::new();
    // Each flag missing from the page, with the commands that take it (global flags: all).
    let mut missing_flags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut flags = 0;
    for command in &commands {
        if !documented(&format!("pipectl {command}")) {
            missing.push(format!("the command `pipectl {command}`"));
        }
        let help = help(&[command]);
        let global = section(&help, "Global options:");
        assert!(global.len() > 10, "`pipectl {command} --help` lists no global options under their heading");
        for line in section(&help, "Options:").into_iter().chain(global) {
            // An option's own line (`  -f, --file <FILE>`, `      --wait`), not a wrapped
            // description that mentions one.
            let indent = line.len() - line.trim_start().len();
            if indent > 6 || !line.trim_start().starts_with('-') {
                continue;
            }
            let Some(flag) = line.split_whitespace().find(|word| word.starts_with("--")) else { continue };
            let flag = flag.split([',', '=', '<', '[', '.']).next().unwrap_or(flag);
            if flag == "--help" || flag == "--version" {
                continue;
            }
            flags += 1;
            if !documented(flag) {
                missing_flags.entry(flag.to_string()).or_default().push(command.clone());
            }
        }
    }
    assert!(flags > 10, "found only {flags} flags in the commands' --help: the parsing is wrong");
    for (flag, takers) in missing_flags {
        missing.push(format!("the flag `{flag}` (of {})", takers.join(", ")));
    }
    assert!(missing.is_empty(), "docs/commands.md does not document:\n{}", missing.join("\n"));
}

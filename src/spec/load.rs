//! Reads a spec file and turns it into a validated `Spec`, or into every problem found, each
//! pointing at `file:line:column` (or the field path where the file has no position for it).
//!
//! This is the only place that knows which YAML crate we use: swap it here and nothing else moves.
//!
//! When serde rejects the file, `structure` finds every structural problem (not only serde's
//! first) and repairs a copy, and the semantic checks run on that copy, so one run reports
//! everything. For people, each problem is followed by its line with a caret under the span.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use super::pipeline::Spec;
use super::schema::spec_schema;
use super::source::{Position, SourceMap};
use super::structure;
use super::suggest::did_you_mean;
use super::validate::validate;

/// Specs larger than this are refused before parsing: a pipeline is a few hundred lines.
pub const MAX_SPEC_BYTES: u64 = 4 * 1024 * 1024;

/// One problem in a spec, with the place it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Field path such as `network.subnets[1].cidr`; empty for the whole document.
    pub path: String,
    pub position: Option<Position>,
    pub message: String,
    /// Byte range of the spec text to underline.
    pub span: Option<Range<usize>>,
}

/// Why a spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{file}: cannot read the spec: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{file}: the spec is empty; run `pipectl init` to write a starter spec")]
    Empty { file: String },
    /// `text` is the spec, for showing the offending lines; `color` styles them.
    #[error("{}", render_diagnostics(.file, .diagnostics, .text.as_deref(), *.color))]
    Invalid { file: String, diagnostics: Vec<Diagnostic>, text: Option<String>, color: bool },
}

impl SpecError {
    /// The same error, its snippets styled for a terminal or not (`--no-color`, `NO_COLOR`).
    pub fn with_color(self, color: bool) -> SpecError {
        match self {
            SpecError::Invalid { file, diagnostics, text, .. } => SpecError::Invalid { file, diagnostics, text, color },
            other => other,
        }
    }
}

fn render_diagnostics(file: &str, diagnostics: &[Diagnostic], source: Option<&str>, color: bool) -> String {
    let renderer = if color { Renderer::styled() } else { Renderer::plain() };
    let mut out = String::new();
    for diagnostic in diagnostics {
        out.push_str(&diagnostic.render(file));
        out.push('\n');
        if let Some(snippet) = source.and_then(|source| diagnostic.snippet(source, &renderer)) {
            out.push_str(&snippet);
            out.push('\n');
        }
    }
    let count = diagnostics.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    format!("{out}{file}: {count} {noun} found; nothing was sent to AWS")
}

impl Diagnostic {
    pub fn render(&self, file: &str) -> String {
        let location = match self.position {
            Some(position) => format!("{file}:{}:{}", position.line, position.column),
            None => file.to_string(),
        };
        if self.path.is_empty() {
            format!("{location}: {}", self.message)
        } else {
            format!("{location}: {}: {}", self.path, self.message)
        }
    }
}

impl Diagnostic {
    /// The diagnostic's line with a caret under its span (the first line of a longer span), as
    /// a compiler shows it; the `file:line:col` line above it is `render`'s.
    fn snippet(&self, source: &str, renderer: &Renderer) -> Option<String> {
        let position = self.position?;
        let span = self.span.clone()?;
        let line_start = source.get(..span.start)?.rfind('\n').map_or(0, |index| index + 1);
        let line_end = source.get(line_start..)?.find('\n').map_or(source.len(), |index| line_start + index);
        let line = source.get(line_start..line_end)?;
        let start = span.start - line_start;
        let end = span.end.clamp(span.start, line_end) - line_start;
        // An empty span (a missing value) still gets one caret.
        let end = if end > start { end } else { (start + 1).min(line.len()).max(start) };
        let group = Group::with_level(Level::ERROR).element(
            Snippet::source(line).line_start(position.line).annotation(AnnotationKind::Primary.span(start..end)),
        );
        let text = renderer.render(&[group]);
        Some(text.trim_end().to_string())
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render("<spec>"))
    }
}

/// A loaded and validated spec, with the file it came from.
#[derive(Debug)]
pub struct LoadedSpec {
    pub spec: Spec,
    pub file: PathBuf,
}

/// Reads, parses and validates the spec at `path`.
pub fn load_file(path: &Path) -> Result<LoadedSpec, SpecError> {
    let file = path.display().to_string();
    let unreadable = |reason: String| SpecError::Unreadable { file: file.clone(), reason };
    let metadata = std::fs::metadata(path).map_err(|error| unreadable(io_reason(&error)))?;
    if metadata.is_dir() {
        return Err(unreadable("it is a directory, not a file".to_string()));
    }
    let too_large =
        |size: String| unreadable(format!("it is {size} bytes; specs are limited to {MAX_SPEC_BYTES} bytes"));
    if metadata.len() > MAX_SPEC_BYTES {
        return Err(too_large(metadata.len().to_string()));
    }
    // The metadata says nothing of a device or a pipe (`/dev/zero`, `<(…)`): the read itself stops
    // one byte past the limit.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_SPEC_BYTES + 1), &mut bytes))
        .map_err(|error| unreadable(io_reason(&error)))?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(too_large(format!("more than {MAX_SPEC_BYTES}")));
    }
    let spec = load_bytes(&file, &bytes)?;
    Ok(LoadedSpec { spec, file: path.to_path_buf() })
}

fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file (pass -f FILE, or run `pipectl init` to write one)".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => error.to_string(),
    }
}

/// Parses and validates spec text; `file` names it in messages.
pub fn load_bytes(file: &str, bytes: &[u8]) -> Result<Spec, SpecError> {
    let text = std::str::from_utf8(bytes).map_err(|error| {
        let valid = &bytes[..error.valid_up_to()];
        let line = valid.iter().filter(|&&byte| byte == b'\n').count() + 1;
        let column = valid.len() - valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) + 1;
        SpecError::Invalid {
            file: file.to_string(),
            diagnostics: vec![Diagnostic {
                path: String::new(),
                position: Some(Position { line, column }),
                message: "the file is not valid UTF-8 text".to_string(),
                span: None,
            }],
            text: None,
            color: false,
        }
    })?;
    if text.trim().is_empty()
        || text.lines().all(|line| {
            let line = line.trim();
            line.is_empty() || line.starts_with('#') || line == "---"
        })
    {
        return Err(SpecError::Empty { file: file.to_string() });
    }
    let mut diagnostics = match serde_saphyr::from_str::<Spec>(text) {
        Ok(spec) => {
            let diagnostics = semantic_diagnostics(text, &spec, &[]);
            if diagnostics.is_empty() {
                return Ok(spec);
            }
            diagnostics
        }
        Err(error) => {
            let first = parse_diagnostic(text, &error);
            tab_indentation(text, &first).unwrap_or_else(|| structural_diagnostics(text, first))
        }
    };
    // In document order, as a person reads the file.
    diagnostics.sort_by_key(|diagnostic| diagnostic.position.map(|p| (p.line, p.column)));
    Err(SpecError::Invalid { file: file.to_string(), diagnostics, text: Some(text.to_string()), color: false })
}

/// The semantic problems of `spec`, located in `text`, leaving out those about the structurally
/// broken paths `broken` (see `misled`).
fn semantic_diagnostics(text: &str, spec: &Spec, broken: &[String]) -> Vec<Diagnostic> {
    let source = SourceMap::build(text);
    validate(spec)
        .into_iter()
        .filter(|problem| !broken.iter().any(|path| misled(&problem.path, &problem.message, path)))
        .map(|problem| {
            let located = source.locate(&problem.path);
            Diagnostic {
                position: located.as_ref().map(|(position, _)| *position),
                span: located.map(|(_, span)| span),
                path: problem.path,
                message: problem.message,
            }
        })
        .collect()
}

/// Every structural problem (serde's `first` among them), and the semantic problems of the
/// repaired text when there is one.
fn structural_diagnostics(text: &str, first: Diagnostic) -> Vec<Diagnostic> {
    let Some(found) = structure::check(text, &spec_schema()).filter(|found| !found.problems.is_empty()) else {
        return vec![first];
    };
    let mut diagnostics: Vec<Diagnostic> = found
        .problems
        .iter()
        .map(|problem| Diagnostic {
            path: problem.path.clone(),
            position: Some(problem.position),
            message: problem.message.clone(),
            span: Some(problem.span.clone()),
        })
        .collect();
    // The walk should have found serde's problem too; if it is on no reported line, and no
    // reported problem says it (a missing field is placed at its mapping, serde's after it), keep it.
    let first_line = first.position.map(|position| position.line);
    let said = diagnostics.iter().any(|diagnostic| {
        diagnostic.position.map(|position| position.line) == first_line || diagnostic.message == first.message
    });
    if !said {
        diagnostics.push(first);
    }
    drop_misspelt_missing(&mut diagnostics);
    // A broken root leaves only placeholders to check (a version 0 nobody wrote).
    if found.broken_root_field || found.problems.iter().any(|problem| problem.path.is_empty()) {
        return diagnostics;
    }
    let repaired = found.repaired.as_deref().and_then(|repaired| serde_saphyr::from_str::<Spec>(repaired).ok());
    if let Some(spec) = repaired {
        let broken: Vec<String> = found.problems.into_iter().map(|problem| problem.path).collect();
        diagnostics.extend(semantic_diagnostics(text, &spec, &broken));
    }
    diagnostics
}

/// A field reported missing beside an unknown one that is its misspelling (`availability_zon`,
/// "did you mean `availability_zone`?") is one mistake: the missing field is dropped.
fn drop_misspelt_missing(diagnostics: &mut Vec<Diagnostic>) {
    let misspelt: Vec<String> = diagnostics
        .iter()
        .filter_map(|diagnostic| {
            let meant = diagnostic.message.split("(did you mean `").nth(1)?.split('`').next()?;
            let parent = diagnostic.path.rsplit_once('.').map_or("", |(parent, _)| parent);
            Some(if parent.is_empty() { meant.to_string() } else { format!("{parent}.{meant}") })
        })
        .collect();
    diagnostics.retain(|diagnostic| {
        !(diagnostic.message.starts_with("missing field `") && misspelt.contains(&diagnostic.path))
    });
}

/// Whether a semantic problem (at `path`, saying `message`) may come from the placeholder or
/// default that stands in for the broken value at `broken`: it is about that value or inside
/// it, or it is in the same object and names the broken field (`` `encryption ``…).
fn misled(path: &str, message: &str, broken: &str) -> bool {
    let within =
        |outer: &str| path.strip_prefix(outer).is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']));
    let (parent, field) = match broken.rfind('.') {
        Some(index) => (&broken[..index], &broken[index + 1..]),
        None => ("", broken),
    };
    within(broken) || ((parent.is_empty() || within(parent)) && message.contains(&format!("`{field}")))
}

/// Turns a YAML or type error into a diagnostic with its position, adding a suggestion for
/// misspelled field names; its span is the text at that position (up to the next blank), so a
/// syntax error is shown with its line and a caret like any other problem.
fn parse_diagnostic(text: &str, error: &serde_saphyr::Error) -> Diagnostic {
    let plain = error.without_snippet();
    let position = plain.location().and_then(|location| {
        let line = usize::try_from(location.line()).ok()?;
        let column = usize::try_from(location.column()).ok()?;
        (line > 0).then_some(Position { line, column })
    });
    let mut message = plain_words(&first_line(&plain.to_string()));
    if let Some(suggestion) = unknown_name_suggestion(&message) {
        message.push_str(&suggestion);
    }
    let span = position.and_then(|position| span_at(text, position));
    Diagnostic { path: String::new(), position, message, span }
}

/// The bytes of the token at a 1-based line and column (in characters): up to the next blank or
/// the end of the line, at least where it starts.
fn span_at(text: &str, position: Position) -> Option<Range<usize>> {
    let line_start = if position.line == 1 {
        0
    } else {
        text.match_indices('\n').nth(position.line - 2).map(|(index, _)| index + 1)?
    };
    let line = text[line_start..].split('\n').next().unwrap_or_default();
    let start = line.char_indices().nth(position.column.saturating_sub(1)).map_or(line.len(), |(index, _)| index);
    let end = line[start..].find(char::is_whitespace).map_or(line.len(), |index| start + index);
    Some(line_start + start..line_start + end)
}

/// When the YAML parser stopped at a tab, every line indented with one, each at its tab: the
/// parser reports the place it noticed (often the end of the line before), in its own words.
/// YAML forbids tabs in indentation; a tab after the indentation (in a value or a block
/// scalar's text) is not one of these.
fn tab_indentation(text: &str, first: &Diagnostic) -> Option<Vec<Diagnostic>> {
    if !first.message.to_lowercase().contains("tab") {
        return None;
    }
    let mut offset = 0;
    let mut found = Vec::new();
    for (index, line) in text.split('\n').enumerate() {
        let content = line.trim_start_matches([' ', '\t']);
        let indentation = &line[..line.len() - content.len()];
        let is_text = !content.trim().is_empty() && !content.starts_with('#');
        if let Some(tab) = indentation.find('\t').filter(|_| is_text) {
            found.push(Diagnostic {
                path: String::new(),
                position: Some(Position { line: index + 1, column: tab + 1 }),
                message: "a tab in the indentation, which YAML does not allow: indent with spaces, not tabs"
                    .to_string(),
                span: Some(offset + tab..offset + indentation.len()),
            });
        }
        offset += line.len() + 1;
    }
    (!found.is_empty()).then_some(found)
}

/// The message without the "at line X column Y" tail the YAML crate appends (we print our own).
fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message).trim();
    let line = match line.rfind(" at line ") {
        Some(index) => &line[..index],
        None => line,
    };
    line.trim_end_matches(['.', ',']).to_string()
}

/// The YAML crate's terse messages, in words a spec author understands.
fn plain_words(message: &str) -> String {
    const PLAIN: [(&str, &str); 5] = [
        ("invalid i64", "expected a whole number here"),
        ("invalid u64", "expected a whole number here"),
        ("invalid boolean", "expected true or false here"),
        ("expected mapping start", "expected a mapping of `key: value` pairs here"),
        ("expected sequence start", "expected a list (`- item` lines or `[a, b]`) here"),
    ];
    if let Some((_, plain)) = PLAIN.iter().find(|(terse, _)| message == *terse) {
        return plain.to_string();
    }
    if let Some(key) = message.strip_prefix("duplicate mapping key: ") {
        let key = key.split(", set DuplicateKeyPolicy").next().unwrap_or(key);
        return format!("duplicate key `{key}`: each key may appear once per mapping");
    }
    message.to_string()
}

/// For serde's "unknown field `x`, expected one of a, b" (or "unknown variant"), a
/// " (did you mean `a`?)" hint.
fn unknown_name_suggestion(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1).or_else(|| message.split("unknown variant `").nth(1))?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest.split("expected one of ").nth(1)?;
    let candidates: Vec<&str> = expected.split(", ").map(|name| name.trim().trim_matches('`')).collect();
    did_you_mean(field, candidates.iter().copied()).map(|name| format!(" (did you mean `{name}`?)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        match load_bytes("spec.yaml", text.as_bytes()) {
            Ok(_) => vec![],
            Err(SpecError::Invalid { diagnostics, .. }) => {
                diagnostics.iter().map(|diagnostic| diagnostic.render("spec.yaml")).collect()
            }
            Err(other) => vec![other.to_string()],
        }
    }

    #[test]
    fn unknown_field_names_the_place_and_a_suggestion() {
        let found =
            errors("version: 1\npipeline: p\nregion: us-east-1\nstreams:\n  - name: s\n    retention_hour: 48\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("spec.yaml:6:"), "{found:?}");
        assert!(found[0].contains("did you mean `retention_hours`?"), "{found:?}");
    }

    #[test]
    fn wrong_type_points_at_the_value() {
        let found = errors("version: 1\npipeline: p\nregion: us-east-1\nstreams:\n  - name: s\n    shards: many\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("spec.yaml:6:"), "{found:?}");
    }

    #[test]
    fn non_utf8_and_empty_files_are_refused() {
        let found = match load_bytes("spec.yaml", b"version: 1\npipeline: \xff\n") {
            Err(error) => error.to_string(),
            Ok(_) => String::new(),
        };
        assert!(found.contains("spec.yaml:2:11: the file is not valid UTF-8"), "{found}");
        assert!(matches!(load_bytes("spec.yaml", b"# nothing\n"), Err(SpecError::Empty { .. })));
    }

    #[test]
    fn a_tab_in_the_indentation_is_shown_at_its_line_with_the_fix() {
        let text = "version: 1\npipeline: p\nregion: us-east-1\nstreams:\n  - name: s\n\tshards: 1\n";
        let Err(error) = load_bytes("spec.yaml", text.as_bytes()) else { panic!("a tab must be refused") };
        let shown = error.to_string();
        let first = shown.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            "spec.yaml:6:1: a tab in the indentation, which YAML does not allow: indent with spaces, not tabs"
        );
        // The line itself (the tab shown as four columns), and carets under the tab.
        assert!(shown.contains("6 |     shards: 1\n  | ^^^^\n"), "{shown}");
        assert!(shown.ends_with("1 problem found; nothing was sent to AWS"), "{shown}");
    }

    #[test]
    fn a_syntax_error_is_shown_with_its_line_and_a_caret() {
        let text = "version: 1\npipeline: [unclosed\nregion: us-east-1\n";
        let Err(error) = load_bytes("spec.yaml", text.as_bytes()) else { panic!("broken YAML must be refused") };
        let shown = error.to_string();
        assert!(shown.contains("2 | pipeline: [unclosed"), "{shown}");
        assert!(shown.lines().any(|line| line.trim_end().ends_with('^')), "{shown}");
    }

    #[test]
    fn one_structural_mistake_is_one_problem() {
        // A misspelt required field: the unknown one, not also the missing one.
        let misspelt = errors("version: 1\npipeline: p\nregion: us-east-1\nstreams:\n  - nme: s\n");
        assert_eq!(misspelt.len(), 1, "{misspelt:?}");
        assert!(misspelt[0].contains("unknown field `nme`"), "{misspelt:?}");
        // A missing top-level field, once.
        assert_eq!(errors("version: 1\npipeline: p\n").len(), 1);
        // A root that is not a mapping: no checks of the placeholder standing in for it.
        let list = errors("- version: 1\n");
        assert_eq!(list.len(), 1, "{list:?}");
    }

    #[test]
    fn broken_yaml_is_a_located_error() {
        let found = errors("version: 1\npipeline: [unclosed\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("spec.yaml:"), "{found:?}");
    }
}

//! Reads a spec file and turns it into a validated `Spec`, or into every problem found, each
//! pointing at `file:line:column` (or the field path where the file has no position for it).
//!
//! This is the only place that knows which YAML crate we use: swap it here and nothing else moves.

use std::fmt;
use std::path::{Path, PathBuf};

use super::source::{Position, SourceMap};
use super::suggest::did_you_mean;
use super::types::Spec;
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
}

/// Why a spec could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{file}: cannot read the spec: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{file}: the spec is empty; run `pipectl init` to write a starter spec")]
    Empty { file: String },
    #[error("{}", render_diagnostics(.file, .diagnostics))]
    Invalid { file: String, diagnostics: Vec<Diagnostic> },
}

fn render_diagnostics(file: &str, diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(|diagnostic| diagnostic.render(file)).collect();
    let count = diagnostics.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    format!("{}\n{file}: {count} {noun} found; nothing was sent to AWS", lines.join("\n"))
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
    if metadata.len() > MAX_SPEC_BYTES {
        return Err(unreadable(format!("it is {} bytes; specs are limited to {MAX_SPEC_BYTES} bytes", metadata.len())));
    }
    let bytes = std::fs::read(path).map_err(|error| unreadable(io_reason(&error)))?;
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
            }],
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
    let invalid = |diagnostics| SpecError::Invalid { file: file.to_string(), diagnostics };
    let spec: Spec = serde_saphyr::from_str(text).map_err(|error| invalid(vec![parse_diagnostic(&error)]))?;
    let source = SourceMap::build(text);
    let mut diagnostics: Vec<Diagnostic> = validate(&spec)
        .into_iter()
        .map(|problem| Diagnostic {
            position: source.position(&problem.path),
            path: problem.path,
            message: problem.message,
        })
        .collect();
    // In document order, as a person reads the file.
    diagnostics.sort_by_key(|diagnostic| diagnostic.position.map(|p| (p.line, p.column)));
    if diagnostics.is_empty() {
        Ok(spec)
    } else {
        Err(invalid(diagnostics))
    }
}

/// Turns a YAML or type error into a diagnostic with its position, adding a suggestion for
/// misspelled field names.
fn parse_diagnostic(error: &serde_saphyr::Error) -> Diagnostic {
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
    Diagnostic { path: String::new(), position, message }
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
    fn broken_yaml_is_a_located_error() {
        let found = errors("version: 1\npipeline: [unclosed\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("spec.yaml:"), "{found:?}");
    }
}

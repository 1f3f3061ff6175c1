//! The shape of the code, checked: no Rust file of the project (its sources, the test proxy's,
//! the tests) is longer than `MAX_FILE_LINES`, and no function longer than `MAX_FN_LINES`. A file
//! or function that grows past them is split where its concerns part, not exempted here.

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 900;
const MAX_FN_LINES: usize = 150;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The project's Rust files.
fn project_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "tools", "benches"] {
        rust_files(&root.join(dir), &mut files);
    }
    files.sort();
    files
}

/// `text` with the contents of comments, strings and character literals blanked (newlines kept),
/// so that braces inside them do not count.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let keep_lines = |out: &mut String, from: &[char]| out.extend(from.iter().filter(|c| **c == '\n'));
    while i < chars.len() {
        let rest = &chars[i..];
        if rest.starts_with(&['/', '/']) {
            let end = rest.iter().position(|c| *c == '\n').unwrap_or(rest.len());
            i += end;
        } else if rest[0] == 'r' && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')) && {
            let hashes = rest[1..].iter().take_while(|c| **c == '#').count();
            rest.get(1 + hashes) == Some(&'"')
        } {
            let hashes = rest[1..].iter().take_while(|c| **c == '#').count();
            let open = 2 + hashes;
            let close: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            let end =
                (open..rest.len()).find(|at| rest[*at..].starts_with(&close)).map_or(rest.len(), |at| at + close.len());
            keep_lines(&mut out, &rest[..end]);
            i += end;
        } else if rest[0] == '"' {
            let mut end = 1;
            while end < rest.len() && rest[end] != '"' {
                end += if rest[end] == '\\' { 2 } else { 1 };
            }
            let end = (end + 1).min(rest.len());
            keep_lines(&mut out, &rest[..end]);
            i += end;
        } else if rest[0] == '\''
            && (rest.get(2) == Some(&'\'') || (rest.get(1) == Some(&'\\') && rest.get(3) == Some(&'\'')))
        {
            i += if rest.get(1) == Some(&'\\') { 4 } else { 3 };
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    out
}

/// Every function of `text` longer than `limit` lines, as (name, first line, lines).
fn long_functions(text: &str, limit: usize) -> Vec<(String, usize, usize)> {
    let code = code_only(text);
    let lines: Vec<&str> = code.lines().collect();
    let mut long = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let signature = ["pub(crate) ", "pub(super) ", "pub ", "async ", "const ", "unsafe "]
            .iter()
            .fold(trimmed, |text, prefix| text.strip_prefix(prefix).unwrap_or(text));
        let signature = signature.strip_prefix("async ").unwrap_or(signature);
        let Some(after) = signature.strip_prefix("fn ") else { continue };
        let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let (mut depth, mut opened) = (0i64, false);
        for (end, body) in lines.iter().enumerate().skip(start) {
            for c in body.chars() {
                match c {
                    '{' => (depth, opened) = (depth + 1, true),
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            if !opened && body.contains(';') {
                break; // a declaration without a body
            }
            if opened && depth <= 0 {
                let length = end - start + 1;
                if length > limit {
                    long.push((name.clone(), start + 1, length));
                }
                break;
            }
        }
    }
    long
}

#[test]
fn no_file_is_longer_than_the_limit() {
    let files = project_files();
    assert!(files.len() > 100, "the sources were not found: {}", files.len());
    let long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let lines = std::fs::read_to_string(file).expect("read").lines().count();
            (lines > MAX_FILE_LINES).then(|| format!("{}: {lines} lines", file.display()))
        })
        .collect();
    assert!(long.is_empty(), "files over {MAX_FILE_LINES} lines:\n{}", long.join("\n"));
}

#[test]
fn no_function_is_longer_than_the_limit() {
    let mut long = Vec::new();
    for file in project_files() {
        let text = std::fs::read_to_string(&file).expect("read");
        for (name, line, length) in long_functions(&text, MAX_FN_LINES) {
            long.push(format!("{}:{line}: fn {name} is {length} lines", file.display()));
        }
    }
    assert!(long.is_empty(), "functions over {MAX_FN_LINES} lines:\n{}", long.join("\n"));
}

#[test]
fn the_measure_sees_bodies_and_not_braces_in_text() {
    let text =
        "fn short() {\n    let s = \"{{{\";\n    let c = '{';\n    // }\n}\nfn long() {\n    a();\n    b();\n}\n";
    // `short` is 5 lines: the braces in its string, character and comment do not end it early.
    assert_eq!(long_functions(text, 4), [("short".to_string(), 1, 5)]);
    assert_eq!(long_functions(text, 3), [("short".to_string(), 1, 5), ("long".to_string(), 6, 4)]);
    assert!(long_functions(text, 5).is_empty());
    let raw = "pub async fn raw() {\n    let r = r#\"}\"#;\n    x();\n}\n";
    assert_eq!(long_functions(raw, 3), [("raw".to_string(), 1, 4)]);
}

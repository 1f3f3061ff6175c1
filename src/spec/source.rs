//! Maps field paths (`network.subnets[1].cidr`) to the line and column where they are written.
//!
//! serde gives us typed values without positions; validation works on typed values and reports
//! field paths. This map, built from the YAML parser's event stream, turns those paths back into
//! `file:line:column` for the user. The walk is iterative, so a deeply nested file cannot overflow
//! the stack.

use std::collections::HashMap;
use std::ops::Range;

use serde_saphyr::granit_parser::{Event, Parser};

/// A 1-based line and column in the spec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Positions (and byte spans, for underlining) of every node of the first YAML document, by
/// field path. A collection's span is its first character.
#[derive(Debug, Default)]
pub struct SourceMap {
    positions: HashMap<String, (Position, Range<usize>)>,
}

enum Frame {
    Mapping {
        path: String,
        key: Option<String>,
    },
    Sequence {
        path: String,
        next_index: usize,
    },
    /// A complex (non-scalar) mapping key: its contents have no field path.
    ComplexKey {
        depth: usize,
    },
}

impl SourceMap {
    /// Builds the map from YAML text. A syntax error simply ends the walk: the deserializer
    /// reports syntax errors itself, with their own position.
    pub fn build(text: &str) -> SourceMap {
        let mut positions = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut started = false;
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let position = Position { line: span.start.line(), column: span.start.col() + 1 };
            let bytes = span.byte_range().unwrap_or_default();
            let width = text.get(bytes.start..).and_then(|rest| rest.chars().next()).map_or(0, char::len_utf8);
            let first = bytes.start..bytes.start + width;
            match event {
                Event::DocumentStart(..) if started => break,
                Event::DocumentStart(..) => started = true,
                Event::Scalar(value, ..) => {
                    if let Some(path) = value_path(&mut stack, Some(value.as_ref())) {
                        positions.entry(path).or_insert((position, bytes));
                    }
                }
                Event::Alias(_) => {
                    if let Some(path) = value_path(&mut stack, None) {
                        positions.entry(path).or_insert((position, bytes));
                    }
                }
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let is_mapping = matches!(event, Event::MappingStart(..));
                    if let Some(Frame::ComplexKey { depth }) = stack.last_mut() {
                        *depth += 1;
                        continue;
                    }
                    let in_key_position = matches!(stack.last(), Some(Frame::Mapping { key: None, .. }));
                    if in_key_position {
                        stack.push(Frame::ComplexKey { depth: 1 });
                        continue;
                    }
                    let path = value_path(&mut stack, None).unwrap_or_default();
                    positions.entry(path.clone()).or_insert((position, first));
                    stack.push(if is_mapping {
                        Frame::Mapping { path, key: None }
                    } else {
                        Frame::Sequence { path, next_index: 0 }
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    if let Some(Frame::ComplexKey { depth }) = stack.last_mut() {
                        *depth -= 1;
                        if *depth == 0 {
                            stack.pop();
                            // The complex key is done; its value gets an opaque key.
                            if let Some(Frame::Mapping { key, .. }) = stack.last_mut() {
                                *key = Some("?".to_string());
                            }
                        }
                        continue;
                    }
                    stack.pop();
                }
                _ => {}
            }
        }
        SourceMap { positions }
    }

    /// The position and byte span of `path`, or of its nearest ancestor that has them.
    pub fn locate(&self, path: &str) -> Option<(Position, Range<usize>)> {
        let mut current = path;
        loop {
            if let Some(found) = self.positions.get(current) {
                return Some(found.clone());
            }
            if current.is_empty() {
                return None;
            }
            current = parent_path(current);
        }
    }
}

/// Consumes the current slot of the innermost container and returns the path of the value that
/// fills it; a scalar in key position only records the key (values are what errors point at).
fn value_path(stack: &mut [Frame], scalar: Option<&str>) -> Option<String> {
    match stack.last_mut() {
        None => Some(String::new()),
        Some(Frame::ComplexKey { .. }) => None,
        Some(Frame::Sequence { path, next_index }) => {
            let child = format!("{path}[{next_index}]");
            *next_index += 1;
            Some(child)
        }
        Some(Frame::Mapping { path, key }) => match key.take() {
            Some(key) => Some(join(path, &key)),
            None => {
                *key = Some(scalar.unwrap_or("?").to_string());
                None
            }
        },
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `a.b[2].c` → `a.b[2]` → `a.b` → `a` → ``.
fn parent_path(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(index) => &path[..index],
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl SourceMap {
        fn position(&self, path: &str) -> Option<Position> {
            self.locate(path).map(|(position, _)| position)
        }
    }

    const YAML: &str = "version: 1\nnetwork:\n  vpc:\n    cidr: 10.0.0.0/16\n  subnets:\n    - name: a\n      cidr: 10.0.1.0/24\n    - {name: b, cidr: 10.0.2.0/24}\n";

    #[test]
    fn finds_nested_values() {
        let map = SourceMap::build(YAML);
        assert_eq!(map.position("version"), Some(Position { line: 1, column: 10 }));
        assert_eq!(map.position("network.vpc.cidr"), Some(Position { line: 4, column: 11 }));
        assert_eq!(map.position("network.subnets[0].cidr"), Some(Position { line: 7, column: 13 }));
        assert_eq!(map.position("network.subnets[1].name"), Some(Position { line: 8, column: 14 }));
    }

    #[test]
    fn falls_back_to_the_nearest_ancestor() {
        let map = SourceMap::build(YAML);
        assert_eq!(map.position("network.subnets[0].public"), map.position("network.subnets[0]"));
        assert_eq!(map.position("nothing.here"), map.position(""));
    }

    #[test]
    fn survives_deep_nesting_and_garbage() {
        let deep = "[".repeat(100_000);
        let _ = SourceMap::build(&deep);
        let _ = SourceMap::build("? [a, b]\n: c\nd: {e: [1, 2]}\n");
    }
}

//! Every structural mistake of a spec at once: unknown fields, unknown enum values, wrong types,
//! missing and duplicate keys, each with its field path and place.
//!
//! serde stops at the first mistake. When it fails, this module reads the document again as a
//! plain YAML tree (from the parser's events, with byte spans) and walks it against the JSON
//! Schema generated from the spec types (`schema.rs`): one description of the shape, the same one
//! editors check against, so the walk cannot drift from the types. Whether a scalar fits a
//! primitive type is decided by serde-saphyr itself (the scalar's own source text is
//! deserialized as that type), so quoting and YAML 1.1 spellings are judged exactly as the real
//! load judges them. Re-running serde with each offending node removed would find the same set,
//! but once per mistake and with no way to point at a missing field; the walk is one pass.
//!
//! The walk also writes a repaired copy of the text, with each offending node removed (an
//! optional field: its default then applies) or replaced by a placeholder of the right type (a
//! required value, a list item), and missing fields added. Paths and list indexes are unchanged,
//! so the semantic checks can run on the repaired copy and still point into the original file.
//! A placeholder can mislead them about its surroundings, so `load` drops semantic problems in
//! the same unit (list item or top-level field) as a structural one, and runs none when a
//! required top-level field was broken: every other check depends on `pipeline` and `region`.
//! Documents that use aliases get no repaired copy (an edit inside an anchor would change every
//! use of it), and neither do documents this walk cannot follow (complex keys, nesting deeper
//! than `MAX_DEPTH`, more than `MAX_NODES` nodes after alias expansion): for them the caller
//! keeps serde's one error.

use std::collections::HashMap;
use std::ops::Range;
use std::rc::Rc;

use serde_json::Value;
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, StructureStyle};

use super::source::Position;
use super::suggest::did_you_mean;

/// Deeper documents are left to serde's own error (which has its own limits).
const MAX_DEPTH: usize = 128;
/// Nodes visited, aliases expanded; bounds the work on "billion laughs" documents.
const MAX_NODES: usize = 200_000;

/// One structural problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: String,
    pub position: Position,
    /// Byte range in the text that the caret underlines.
    pub span: Range<usize>,
    pub message: String,
}

/// What the walk found, and the text with every problem repaired (see the module header).
#[derive(Debug)]
pub struct Structure {
    pub problems: Vec<Found>,
    pub repaired: Option<String>,
    /// True when a required top-level field was broken or missing.
    pub broken_root_field: bool,
}

#[derive(Debug)]
struct Node {
    span: Range<usize>,
    position: Position,
    body: Rc<Body>,
}

#[derive(Debug)]
enum Body {
    /// The scalar's source range (for judging it with serde) and whether it is a plain null.
    Scalar {
        source: Range<usize>,
        null: bool,
    },
    Sequence(Vec<Node>),
    Mapping {
        entries: Vec<Entry>,
        flow: bool,
    },
}

#[derive(Debug)]
struct Entry {
    key: String,
    key_span: Range<usize>,
    key_position: Position,
    value: Node,
}

/// Reads the first document into a tree; `None` when the walk cannot follow it.
fn parse_tree(text: &str) -> Option<(Node, bool)> {
    enum Frame {
        Sequence { start: (Range<usize>, Position), anchor: usize, items: Vec<Node> },
        Mapping { start: (Range<usize>, Position), anchor: usize, flow: bool, entries: Vec<Entry>, key: Option<Node> },
    }
    let mut anchors: HashMap<usize, Rc<Body>> = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut uses_aliases = false;
    let mut started = false;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.ok()?;
        let bytes = span.byte_range()?;
        let position = Position { line: span.start.line(), column: span.start.col() + 1 };
        let (node, anchor) = match event {
            Event::DocumentStart(..) if started => break,
            Event::DocumentStart(..) => {
                started = true;
                continue;
            }
            Event::Scalar(value, style, anchor, _) => {
                let null = style == ScalarStyle::Plain && matches!(value.as_ref(), "" | "~" | "null" | "Null" | "NULL");
                (Node { span: bytes.clone(), position, body: Rc::new(Body::Scalar { source: bytes, null }) }, anchor)
            }
            Event::Alias(id) => {
                uses_aliases = true;
                (Node { span: bytes, position, body: anchors.get(&id)?.clone() }, 0)
            }
            Event::SequenceStart(_, anchor, _) => {
                stack.push(Frame::Sequence { start: (bytes, position), anchor, items: Vec::new() });
                if stack.len() > MAX_DEPTH {
                    return None;
                }
                continue;
            }
            Event::MappingStart(style, anchor, _) => {
                let flow = style == StructureStyle::Flow;
                stack.push(Frame::Mapping { start: (bytes, position), anchor, flow, entries: Vec::new(), key: None });
                if stack.len() > MAX_DEPTH {
                    return None;
                }
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                // A flow collection ends after its closing bracket (the end event may be empty).
                let closing = text.get(bytes.start..).is_some_and(|rest| rest.starts_with([']', '}']));
                let flow_end = if closing { bytes.start + 1 } else { bytes.end };
                let (start, anchor, body, last_end) = match stack.pop()? {
                    Frame::Sequence { start, anchor, items } => {
                        let last = items.last().map(|item| item.span.end);
                        (start, anchor, Body::Sequence(items), if closing { Some(flow_end) } else { last })
                    }
                    Frame::Mapping { start, anchor, flow, entries, key } => {
                        if key.is_some() {
                            return None;
                        }
                        let last = entries.last().map(|entry| entry.value.span.end.max(entry.key_span.end));
                        let end = if flow && closing { Some(flow_end) } else { last };
                        (start, anchor, Body::Mapping { entries: merge_keys(entries)?, flow }, end)
                    }
                };
                let (start_span, start_position) = start;
                let end = last_end.unwrap_or(start_span.end).max(start_span.start);
                (Node { span: start_span.start..end, position: start_position, body: Rc::new(body) }, anchor)
            }
            _ => continue,
        };
        if anchor != 0 {
            anchors.insert(anchor, node.body.clone());
        }
        match stack.last_mut() {
            None => return Some((node, uses_aliases)),
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(key_node) => {
                    // Only scalar keys have a field name; a complex key is left to serde.
                    let Body::Scalar { source, .. } = key_node.body.as_ref() else { return None };
                    let name = scalar_text(text, source)?;
                    entries.push(Entry {
                        key: name,
                        key_span: key_node.span,
                        key_position: key_node.position,
                        value: node,
                    });
                }
            },
        }
    }
    None
}

/// The decoded text of a scalar, as serde-saphyr reads it.
fn scalar_text(text: &str, source: &Range<usize>) -> Option<String> {
    let raw = text.get(source.clone())?;
    if raw.is_empty() {
        return Some(String::new());
    }
    serde_saphyr::from_str::<String>(raw).ok()
}

/// Applies YAML merge keys (`<<: *base`, `<<: [*a, *b]`): the merged entries fill in keys the
/// mapping does not set itself, as serde-saphyr does.
fn merge_keys(entries: Vec<Entry>) -> Option<Vec<Entry>> {
    if !entries.iter().any(|entry| entry.key == "<<") {
        return Some(entries);
    }
    let (merges, mut own): (Vec<Entry>, Vec<Entry>) = entries.into_iter().partition(|entry| entry.key == "<<");
    for merge in merges {
        let sources: Vec<Rc<Body>> = match merge.value.body.as_ref() {
            Body::Mapping { .. } => vec![merge.value.body.clone()],
            Body::Sequence(items) => items.iter().map(|item| item.body.clone()).collect(),
            Body::Scalar { .. } => return None,
        };
        for source in sources {
            let Body::Mapping { entries, .. } = source.as_ref() else { return None };
            for entry in entries {
                if !own.iter().any(|existing| existing.key == entry.key) {
                    own.push(Entry {
                        key: entry.key.clone(),
                        key_span: entry.key_span.clone(),
                        key_position: entry.key_position,
                        value: Node {
                            span: entry.value.span.clone(),
                            position: entry.value.position,
                            body: entry.value.body.clone(),
                        },
                    });
                }
            }
        }
    }
    Some(own)
}

/// How an offending node is taken out of the repaired text.
#[derive(Debug, Clone)]
enum Slot {
    /// An optional mapping entry: remove key and value (the default applies).
    Optional { entry: Range<usize>, flow: bool },
    /// Anything else: replace the value with a placeholder of the right type.
    Required,
}

/// A text edit on the repaired copy.
#[derive(Debug)]
enum Edit {
    Blank { range: Range<usize>, flow: bool },
    Replace { range: Range<usize>, with: String },
    Insert { at: usize, with: String },
}

struct Walker<'a> {
    text: &'a str,
    schema: &'a Value,
    problems: Vec<Found>,
    edits: Vec<Edit>,
    visited: usize,
    gave_up: bool,
}

/// Walks `text` against `schema`; `None` when the document cannot be followed (see the header).
pub fn check(text: &str, schema: &Value) -> Option<Structure> {
    let (root, uses_aliases) = parse_tree(text)?;
    let mut walker = Walker { text, schema, problems: Vec::new(), edits: Vec::new(), visited: 0, gave_up: false };
    walker.walk(&root, schema, "", &Slot::Required);
    if walker.gave_up {
        return None;
    }
    let required_root: Vec<&str> = walker.required(schema);
    let broken_root_field = walker.problems.iter().any(|found| required_root.contains(&found.path.as_str()));
    let repaired = (!uses_aliases).then(|| apply_edits(text, walker.edits));
    walker.problems.sort_by_key(|found| (found.position.line, found.position.column));
    Some(Structure { problems: walker.problems, repaired, broken_root_field })
}

impl<'a> Walker<'a> {
    /// Follows `$ref` (and a lone `allOf` wrapper) to the schema that describes a value.
    fn resolve(&self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..16 {
            if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
                match reference.strip_prefix('#').and_then(|pointer| self.schema.pointer(pointer)) {
                    Some(target) => schema = target,
                    None => return schema,
                }
            } else if let Some([only]) = schema.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
                schema = only;
            } else {
                break;
            }
        }
        schema
    }

    fn required(&self, schema: &'a Value) -> Vec<&'a str> {
        let schema = self.resolve(schema);
        schema
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    fn report(&mut self, node: &Node, path: &str, slot: &Slot, schema: &'a Value, message: String) {
        self.problems.push(Found { path: path.to_string(), position: node.position, span: node.span.clone(), message });
        self.take_out(node, slot, schema);
    }

    fn take_out(&mut self, node: &Node, slot: &Slot, schema: &'a Value) {
        match slot {
            Slot::Optional { entry, flow } => self.edits.push(Edit::Blank { range: entry.clone(), flow: *flow }),
            Slot::Required => {
                let with = self.placeholder(schema, 0);
                self.edits.push(Edit::Replace { range: node.span.clone(), with });
            }
        }
    }

    /// Whether `node` fits `schema` with no problem at all (for choosing among alternatives).
    fn fits(&mut self, node: &Node, schema: &'a Value, path: &str) -> bool {
        let mut trial = Walker {
            text: self.text,
            schema: self.schema,
            problems: Vec::new(),
            edits: Vec::new(),
            visited: self.visited,
            gave_up: false,
        };
        trial.walk(node, schema, path, &Slot::Required);
        self.visited = trial.visited;
        self.gave_up |= trial.gave_up;
        trial.problems.is_empty()
    }

    fn walk(&mut self, node: &Node, schema: &'a Value, path: &str, slot: &Slot) {
        self.visited += 1;
        if self.visited > MAX_NODES {
            self.gave_up = true;
        }
        if self.gave_up {
            return;
        }
        let schema = self.resolve(schema);
        if let Some(alternatives) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
            return self.walk_alternatives(node, schema, alternatives, path, slot);
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            return self.walk_enum(node, schema, values, path, slot);
        }
        let types = types_of(schema);
        let null = matches!(node.body.as_ref(), Body::Scalar { null: true, .. });
        if null && types.contains(&"null") {
            return;
        }
        match node.body.as_ref() {
            Body::Mapping { entries, flow } if types.contains(&"object") => {
                self.walk_mapping(node, entries, *flow, schema, path);
            }
            Body::Sequence(items) if types.contains(&"array") => {
                let item_schema = schema.get("items").unwrap_or(&Value::Bool(true));
                for (index, item) in items.iter().enumerate() {
                    self.walk(item, item_schema, &format!("{path}[{index}]"), &Slot::Required);
                }
            }
            Body::Scalar { source, null } if !null || types.is_empty() => {
                let raw = self.text.get(source.clone()).unwrap_or_default();
                if !types.is_empty() && !types.iter().any(|kind| scalar_fits(raw, kind)) {
                    let message = expected_message(&types);
                    self.report(node, path, slot, schema, message);
                }
            }
            _ if types.is_empty() => {}
            _ => {
                let message = if null {
                    format!("{} (the value is empty or null)", expected_message(&types))
                } else {
                    expected_message(&types)
                };
                self.report(node, path, slot, schema, message);
            }
        }
    }

    fn walk_alternatives(
        &mut self,
        node: &Node,
        schema: &'a Value,
        alternatives: &'a [Value],
        path: &str,
        slot: &Slot,
    ) {
        let null = matches!(node.body.as_ref(), Body::Scalar { null: true, .. });
        let candidates: Vec<&'a Value> =
            alternatives.iter().filter(|alternative| null || types_of(self.resolve(alternative)) != ["null"]).collect();
        if let [only] = candidates.as_slice() {
            return self.walk(node, only, path, slot);
        }
        if candidates.iter().any(|alternative| self.fits(node, alternative, path)) {
            return;
        }
        let kinds: Vec<&str> = candidates.iter().flat_map(|alternative| types_of(self.resolve(alternative))).collect();
        let message = expected_message(&kinds);
        self.report(node, path, slot, schema, message);
    }

    fn walk_enum(&mut self, node: &Node, schema: &'a Value, values: &'a [Value], path: &str, slot: &Slot) {
        let names: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
        let given = match node.body.as_ref() {
            Body::Scalar { source, null: false } => scalar_text(self.text, source),
            _ => None,
        };
        match given {
            Some(given) if names.contains(&given.as_str()) => {}
            Some(given) => {
                let mut message = format!("unknown variant `{given}`, expected {}", one_of(&names));
                if let Some(suggestion) = did_you_mean(&given, names.iter().copied()) {
                    message.push_str(&format!(" (did you mean `{suggestion}`?)"));
                }
                self.report(node, path, slot, schema, message);
            }
            None => {
                let message = format!("expected {} here", one_of(&names));
                self.report(node, path, slot, schema, message);
            }
        }
    }

    fn walk_mapping(&mut self, node: &Node, entries: &[Entry], flow: bool, schema: &'a Value, path: &str) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        let mut seen: Vec<&str> = Vec::new();
        for entry in entries {
            let child = join(path, &entry.key);
            let entry_range = entry.key_span.start..entry.value.span.end.max(entry.key_span.end);
            let entry_slot = Slot::Optional { entry: entry_range.clone(), flow };
            if seen.contains(&entry.key.as_str()) {
                self.problems.push(Found {
                    path: child,
                    position: entry.key_position,
                    span: entry.key_span.clone(),
                    message: format!("duplicate key `{}`: each key may appear once per mapping", entry.key),
                });
                self.edits.push(Edit::Blank { range: entry_range, flow });
                continue;
            }
            seen.push(&entry.key);
            let field_schema = properties.and_then(|properties| properties.get(&entry.key));
            let required = self.required(schema).contains(&entry.key.as_str());
            match (field_schema, additional) {
                (Some(field_schema), _) => {
                    let field_slot = if required { Slot::Required } else { entry_slot };
                    self.walk(&entry.value, field_schema, &child, &field_slot);
                }
                (None, Some(Value::Bool(false))) => {
                    let names: Vec<&str> = properties
                        .map(|properties| properties.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    let mut message = format!("unknown field `{}`, expected {}", entry.key, one_of(&names));
                    if let Some(suggestion) = did_you_mean(&entry.key, names.iter().copied()) {
                        message.push_str(&format!(" (did you mean `{suggestion}`?)"));
                    }
                    self.problems.push(Found {
                        path: child,
                        position: entry.key_position,
                        span: entry.key_span.clone(),
                        message,
                    });
                    self.edits.push(Edit::Blank { range: entry_range, flow });
                }
                (None, Some(value_schema)) => self.walk(&entry.value, value_schema, &child, &Slot::Required),
                (None, None) => {}
            }
        }
        let missing: Vec<&str> =
            self.required(schema).into_iter().filter(|name| !entries.iter().any(|entry| entry.key == *name)).collect();
        for name in missing {
            self.problems.push(Found {
                path: join(path, name),
                position: node.position,
                span: node.span.start..node.span.start + 1,
                message: format!("missing field `{name}`"),
            });
            let value = properties.and_then(|properties| properties.get(name)).unwrap_or(&Value::Null);
            let value = self.placeholder(value, 0);
            let (at, with) = if flow {
                (node.span.start + 1, format!("{name}: {value}, "))
            } else {
                (node.span.start, format!("{name}: {value}\n{}", " ".repeat(node.position.column - 1)))
            };
            self.edits.push(Edit::Insert { at, with });
        }
    }

    /// The smallest value of `schema` serde accepts, in YAML flow syntax.
    fn placeholder(&self, schema: &'a Value, depth: usize) -> String {
        let schema = self.resolve(schema);
        if depth > 16 {
            return "~".to_string();
        }
        if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|values| values.first()) {
            return first.to_string();
        }
        if let Some(first) =
            schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array).and_then(|all| all.first())
        {
            return self.placeholder(first, depth + 1);
        }
        let types = types_of(schema);
        match types.first().copied() {
            Some("null") => "~".to_string(),
            Some("integer") | Some("number") => "0".to_string(),
            Some("boolean") => "false".to_string(),
            Some("array") => "[]".to_string(),
            Some("object") => {
                let fields: Vec<String> = self
                    .required(schema)
                    .into_iter()
                    .map(|name| {
                        let field = schema.get("properties").and_then(|properties| properties.get(name));
                        format!("{name}: {}", self.placeholder(field.unwrap_or(&Value::Null), depth + 1))
                    })
                    .collect();
                format!("{{{}}}", fields.join(", "))
            }
            _ => "\"\"".to_string(),
        }
    }
}

/// The JSON types a schema allows (`type: "string"` or `type: ["string", "null"]`).
fn types_of(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(kind)) => vec![kind.as_str()],
        Some(Value::Array(kinds)) => kinds.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Whether serde-saphyr reads the scalar source `raw` as a value of JSON type `kind`.
fn scalar_fits(raw: &str, kind: &str) -> bool {
    match kind {
        "string" => true,
        "integer" => serde_saphyr::from_str::<i64>(raw).is_ok(),
        "number" => serde_saphyr::from_str::<f64>(raw).is_ok(),
        "boolean" => serde_saphyr::from_str::<bool>(raw).is_ok(),
        _ => false,
    }
}

/// "expected a whole number here", in the words `load` uses for serde's errors.
fn expected_message(types: &[&str]) -> String {
    let words: Vec<&str> = types
        .iter()
        .filter(|kind| **kind != "null")
        .map(|kind| match *kind {
            "integer" => "a whole number",
            "number" => "a number",
            "boolean" => "true or false",
            "string" => "a text value",
            "object" => "a mapping of `key: value` pairs",
            "array" => "a list (`- item` lines or `[a, b]`)",
            _ => "a value",
        })
        .collect();
    format!("expected {} here", words.join(" or "))
}

fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    match quoted.as_slice() {
        [only] => only.clone(),
        _ => format!("one of {}", quoted.join(", ")),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Applies the edits to a copy of `text`. Removed text becomes spaces (line breaks stay), so a
/// block structure keeps its indentation; a removed flow entry takes its following comma along.
fn apply_edits(text: &str, mut edits: Vec<Edit>) -> String {
    let start_of = |edit: &Edit| match edit {
        Edit::Blank { range, .. } | Edit::Replace { range, .. } => range.start,
        Edit::Insert { at, .. } => *at,
    };
    // From the end, so earlier offsets stay valid; nested edits inside a replaced range are dropped.
    edits.sort_by_key(|edit| std::cmp::Reverse(start_of(edit)));
    let mut out = text.to_string();
    let mut floor = usize::MAX;
    for edit in edits {
        match edit {
            Edit::Blank { range, flow } if range.end <= floor => {
                let mut end = range.end;
                if flow {
                    let rest = &out[end..];
                    let skipped = rest.len() - rest.trim_start().len();
                    if rest.trim_start().starts_with(',') {
                        end += skipped + 1;
                    }
                }
                let blank: String = out[range.start..end].chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect();
                out.replace_range(range.start..end, &blank);
                floor = range.start;
            }
            Edit::Replace { range, with } if range.end <= floor => {
                let rest: String = out[range.clone()].chars().filter(|c| *c == '\n').collect::<String>();
                out.replace_range(range.clone(), &format!("{with}{rest}"));
                floor = range.start;
            }
            Edit::Insert { at, with } if at <= floor => {
                out.insert_str(at, &with);
                floor = at;
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::schema::spec_schema;

    fn problems(text: &str) -> Vec<String> {
        let structure = check(text, &spec_schema()).expect("followed");
        structure
            .problems
            .iter()
            .map(|found| format!("{}:{} {}: {}", found.position.line, found.position.column, found.path, found.message))
            .collect()
    }

    #[test]
    fn finds_every_kind_of_structural_mistake_in_one_walk() {
        let text = "version: 1\npipeline: p\nregion: us-east-1\nstreams:\n  - name: s\n    retention_hour: 48\n    mode: serverless\n  - name: t\n    shards: many\nbuckets:\n  - versioning: yes\n    name: b\n    name: c\n";
        let found = problems(text);
        assert_eq!(found.len(), 4, "{found:#?}");
        assert!(found[0].starts_with("6:5 streams[0].retention_hour: unknown field"), "{found:#?}");
        assert!(found[0].contains("(did you mean `retention_hours`?)"), "{found:#?}");
        assert!(found[1].starts_with("7:11 streams[0].mode: unknown variant `serverless`"), "{found:#?}");
        assert!(found[2].starts_with("9:13 streams[1].shards: expected a whole number here"), "{found:#?}");
        assert!(found[3].starts_with("13:5 buckets[0].name: duplicate key `name`"), "{found:#?}");
    }

    #[test]
    fn serde_leniency_is_not_a_problem() {
        // Quoted numbers and booleans, numbers as names, null optional fields, per_az alias.
        let text = "version: '1'\npipeline: 123\nregion: us-east-1\nnetwork:\n  vpc: {cidr: 10.0.0.0/16}\n  nat: per_az\nstreams:\n  - {name: s, shards: '2', kms_key: ~}\nbuckets:\n  - name: b\n    versioning: 'true'\n    tags: {n: 1}\n";
        assert_eq!(problems(text), Vec::<String>::new());
    }

    #[test]
    fn missing_fields_are_named_and_the_repair_deserializes() {
        let text = "version: 1\npipeline: p\nregion: us-east-1\nstreams:\n  - shards: 2\n    colour: red\n  - {name: t, mode: nope, extra: 1}\n";
        let structure = check(text, &spec_schema()).expect("followed");
        let messages: Vec<&str> = structure.problems.iter().map(|found| found.message.as_str()).collect();
        assert_eq!(messages.len(), 4, "{messages:#?}");
        assert!(messages.contains(&"missing field `name`"), "{messages:#?}");
        let repaired = structure.repaired.expect("no aliases");
        let spec: Result<crate::spec::Spec, _> = serde_saphyr::from_str(&repaired);
        assert!(spec.is_ok(), "{repaired}\n{spec:?}");
        assert!(!structure.broken_root_field);
    }

    #[test]
    fn wrong_types_of_required_and_nested_values_are_replaced() {
        let text = "version: 1\npipeline: [p]\nregion: us-east-1\nclusters:\n  - name: c\n    release: emr-7.2.0\n    applications: Spark\n    subnet: a\n    master: 5\n    core:\n      - type: m5.xlarge\n";
        let structure = check(text, &spec_schema()).expect("followed");
        assert_eq!(structure.problems.len(), 4, "{:#?}", structure.problems);
        assert!(structure.broken_root_field);
        let repaired = structure.repaired.expect("no aliases");
        let spec: Result<crate::spec::Spec, _> = serde_saphyr::from_str(&repaired);
        assert!(spec.is_ok(), "{repaired}\n{spec:?}");
    }

    #[test]
    fn gives_up_on_what_it_cannot_follow() {
        assert!(check("a: [unclosed\n", &spec_schema()).is_none());
        assert!(check(&"[".repeat(10_000), &spec_schema()).is_none());
        let laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
        // Unknown top-level fields are reported without walking into them; no blow-up either way.
        let _ = check(laughs, &spec_schema());
    }
}

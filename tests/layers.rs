//! The architecture, checked (ARCHITECTURE.md draws the same table):
//!
//! - every top-level module of `src/` has a layer, and a module may refer (`crate::other`) only
//!   to modules of a lower layer, so there is no cycle anywhere and the pure planner never reaches
//!   code that talks to AWS;
//! - the commands sit above everything but the command line;
//! - only the AWS layer and the resource kinds name an AWS SDK crate, and the commands hand the
//!   clients to the kinds whole rather than reach for one service's client;
//! - the kit under `src/resources/kit/` names no kind, and the kinds that name other kinds form no
//!   cycle (a kind uses only kinds below it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layer of each top-level module; higher layers may use lower ones, never the reverse.
const LAYERS: [(&str, u8); 15] = [
    // Leaves: no pipectl dependencies.
    ("names", 0),
    ("progress", 0),
    ("calendar", 1),
    // The spec and the AWS plumbing.
    ("spec", 2),
    ("aws", 2),
    ("iam", 3),
    ("pricing", 3),
    // The pure planning stack.
    ("model", 4),
    ("plan", 5),
    ("render", 6),
    // The kinds (pure rules + AWS calls), then what drives them.
    ("resources", 6),
    ("execute", 7),
    ("commands", 8),
    ("cli", 9),
    ("lib", 10),
];

/// Where the SDK crates may be named: the AWS layer and the kinds.
const SDK_USERS: [&str; 2] = ["aws", "resources"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    files.sort();
    files.into_iter().map(|file| (file.clone(), std::fs::read_to_string(&file).expect("read source"))).collect()
}

/// The first path component of `file` below `dir` (`src/resources/cluster/read.rs` → resources).
fn module_of(dir: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(dir).expect("under the directory");
    let first = relative.components().next().expect("a component").as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

/// Every name that follows `prefix` in `text` (`crate::` → the modules it refers to), and the
/// names of `prefix{a, b::c}` groups.
fn references_after(text: &str, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        rest = &rest[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group: String = group.chars().take_while(|c| *c != '}').collect();
            found.extend(group.split(',').filter_map(|part| part.trim().split("::").next().map(str::to_string)));
            continue;
        }
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    found
}

/// Every `crate::<module>` a source text refers to.
fn references(text: &str) -> Vec<String> {
    references_after(text, "crate::")
}

#[test]
fn modules_only_use_lower_layers() {
    let src = src();
    let layers: BTreeMap<&str, u8> = LAYERS.into_iter().collect();
    let mut violations = Vec::new();
    for (file, text) in sources(&src) {
        let module = module_of(&src, &file);
        if module == "main" {
            continue; // the binary sits on top of the library
        }
        let Some(&layer) = layers.get(module.as_str()) else {
            violations.push(format!("{}: module `{module}` has no layer in tests/layers.rs", file.display()));
            continue;
        };
        for used in references(&text) {
            if used == module {
                continue;
            }
            match layers.get(used.as_str()) {
                Some(&other) if other < layer => {}
                Some(&other) => violations.push(format!(
                    "{}: `{module}` (layer {layer}) uses `{used}` (layer {other}); a module may only use lower layers",
                    file.display()
                )),
                None => violations.push(format!("{}: uses `crate::{used}`, which has no layer", file.display())),
            }
        }
    }
    assert!(violations.is_empty(), "layering violations:\n{}", violations.join("\n"));
}

#[test]
fn the_commands_sit_above_everything_but_the_command_line() {
    let layers: BTreeMap<&str, u8> = LAYERS.into_iter().collect();
    let commands = layers["commands"];
    let above: Vec<&str> = layers.iter().filter(|(_, layer)| **layer >= commands).map(|(name, _)| *name).collect();
    assert_eq!(above, ["cli", "commands", "lib"]);
}

#[test]
fn only_the_aws_layer_and_the_kinds_name_an_sdk_crate() {
    let src = src();
    let mut naming = BTreeSet::new();
    for (file, text) in sources(&src) {
        let module = module_of(&src, &file);
        for crate_name in references_after(&text, "aws_sdk_") {
            if !SDK_USERS.contains(&module.as_str()) && text.contains(&format!("aws_sdk_{crate_name}::")) {
                naming.insert(format!("{} names aws_sdk_{crate_name}", file.display()));
            }
        }
    }
    assert!(naming.is_empty(), "only src/aws and src/resources may call AWS:\n{naming:#?}");
}

/// The fields of `aws::Clients` that hold an SDK client (`pub sqs: aws_sdk_sqs::Client,`).
fn sdk_client_fields() -> Vec<String> {
    let text = std::fs::read_to_string(src().join("aws").join("mod.rs")).expect("read src/aws/mod.rs");
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("pub "))
        .filter_map(|field| field.split_once(": aws_sdk_"))
        .map(|(name, _)| name.to_string())
        .collect()
}

#[test]
fn the_commands_hand_the_clients_to_the_kinds_whole() {
    let fields = sdk_client_fields();
    assert!(fields.len() > 10 && fields.contains(&"emr".to_string()), "{fields:?}");
    let commands = src().join("commands");
    let mut reaching = Vec::new();
    for (file, text) in sources(&commands) {
        for field in &fields {
            let needle = format!("clients.{field}");
            let whole_field = text
                .match_indices(&needle)
                .any(|(at, _)| !text[at + needle.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_'));
            if whole_field {
                reaching.push(format!("{} reaches for `clients.{field}`", file.display()));
            }
        }
    }
    assert!(reaching.is_empty(), "a command calls AWS through a kind:\n{}", reaching.join("\n"));
}

/// The kinds: the modules of `src/resources/` other than the kit and the registry's own files.
fn kinds() -> BTreeSet<String> {
    let resources = src().join("resources");
    std::fs::read_dir(&resources)
        .expect("read src/resources")
        .map(|entry| entry.expect("dir entry").path())
        .map(|path| path.file_name().expect("a name").to_string_lossy().trim_end_matches(".rs").to_string())
        .filter(|name| !["kit", "mod", "test_support"].contains(&name.as_str()) && !name.ends_with("_tests"))
        .collect()
}

/// The kinds a source text of `src/resources/` names (`super::vpc::id`, `resources::bucket`).
fn kinds_named(text: &str, kinds: &BTreeSet<String>) -> BTreeSet<String> {
    ["super::", "super::super::", "resources::"]
        .iter()
        .flat_map(|prefix| references_after(text, prefix))
        .filter(|name| kinds.contains(name))
        .collect()
}

#[test]
fn the_kit_names_no_kind() {
    let kinds = kinds();
    assert!(kinds.len() > 15 && kinds.contains("cluster") && kinds.contains("vpc"), "{kinds:?}");
    let kit = src().join("resources").join("kit");
    let mut naming = Vec::new();
    for (file, text) in sources(&kit) {
        for kind in kinds_named(&text, &kinds) {
            naming.push(format!("{} names the kind `{kind}`", file.display()));
        }
    }
    assert!(naming.is_empty(), "the kit is what kinds share and must not depend on one:\n{}", naming.join("\n"));
}

#[test]
fn the_kinds_that_name_each_other_form_no_cycle() {
    let kinds = kinds();
    let resources = src().join("resources");
    let mut uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (file, text) in sources(&resources) {
        let kind = module_of(&resources, &file);
        if kinds.contains(&kind) {
            let named: Vec<String> = kinds_named(&text, &kinds).into_iter().filter(|other| *other != kind).collect();
            uses.entry(kind).or_default().extend(named);
        }
    }
    assert!(uses.values().any(|named| !named.is_empty()), "kinds use kinds below them (a job its cluster)");
    if let Some(cycle) = find_cycle(&uses) {
        panic!("kinds that name each other in a circle (one must go below the others): {}", cycle.join(" -> "));
    }
}

/// A cycle of `uses` (a → b: a names b), as the kinds along it, if there is one.
fn find_cycle(uses: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        uses: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|on_path| on_path == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in uses.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, uses, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    uses.keys().find_map(|start| visit(start, uses, &mut Vec::new(), &mut done))
}

#[test]
fn the_reference_finder_sees_paths_and_groups() {
    let text =
        "use crate::model::{Kind, ResourceId};\nuse crate::{aws, names::Tags};\nlet x = crate::plan::build_plan;";
    let found = references(text);
    for module in ["model", "aws", "names", "plan"] {
        assert!(found.iter().any(|m| m == module), "{module} not found in {found:?}");
    }
    let kinds: BTreeSet<String> = ["vpc", "subnet"].map(String::from).into();
    let named = kinds_named("use super::{subnet, kit::wait};\nlet id = super::super::vpc::id(p);", &kinds);
    assert_eq!(named, kinds);
    let edge = |a: &str, b: &str| (a.to_string(), BTreeSet::from([b.to_string()]));
    let line: BTreeMap<String, BTreeSet<String>> = [edge("a", "b"), edge("b", "c")].into();
    assert_eq!(find_cycle(&line), None);
    let circle: BTreeMap<String, BTreeSet<String>> = [edge("a", "b"), edge("b", "c"), edge("c", "a")].into();
    assert_eq!(find_cycle(&circle).map(|cycle| cycle.len()), Some(4), "a -> b -> c -> a");
}

//! The architecture, checked: every top-level module of `src/` has a layer, and a module may
//! refer (`crate::other`) only to modules of a lower layer. So there is no cycle anywhere, the
//! pure planner never reaches code that talks to AWS, and the lock never reaches the kinds.
//! ARCHITECTURE.md shows the same table.

use std::collections::BTreeMap;
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
    // Kinds (pure rules + AWS calls), then what drives them.
    ("resources", 6),
    ("execute", 7),
    ("commands", 8),
    ("cli", 9),
    ("lib", 10),
];

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

/// The top-level module a file of `src/` belongs to (`src/resources/cluster/read.rs` → resources).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).expect("under src");
    let first = relative.components().next().expect("a component").as_os_str().to_string_lossy().to_string();
    first.trim_end_matches(".rs").to_string()
}

/// Every `crate::<module>` a source text refers to.
fn references(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    // `use crate::{a, b}` groups.
    let mut rest = text;
    while let Some(at) = rest.find("crate::{") {
        rest = &rest[at + "crate::{".len()..];
        let group: String = rest.chars().take_while(|c| *c != '}').collect();
        found.extend(group.split(',').filter_map(|part| part.trim().split("::").next().map(str::to_string)));
    }
    found
}

#[test]
fn modules_only_use_lower_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let layers: BTreeMap<&str, u8> = LAYERS.into_iter().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in files {
        let module = module_of(&src, &file);
        if module == "main" || module == "bin" {
            continue; // binaries sit on top of the library
        }
        let Some(&layer) = layers.get(module.as_str()) else {
            violations.push(format!("{}: module `{module}` has no layer in tests/layers.rs", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("read source");
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
fn the_reference_finder_sees_paths_and_groups() {
    let text =
        "use crate::model::{Kind, ResourceId};\nuse crate::{aws, names::Tags};\nlet x = crate::plan::build_plan;";
    let found = references(text);
    for module in ["model", "aws", "names", "plan"] {
        assert!(found.iter().any(|m| m == module), "{module} not found in {found:?}");
    }
}

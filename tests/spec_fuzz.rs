//! A mutation fuzzer for the spec loader, validator and planner: starting from the examples and
//! the bad-spec corpus, it flips bytes, splices lines and inserts YAML tokens, and checks that
//! every input ends in a valid spec or a located error, never a panic. Most of those inputs are
//! invalid, so the valid space has a fuzzer of its own: the valid seeds (examples, templates)
//! changed in ways that keep a spec valid (new tags, longer retention, other shard counts, lists
//! in another order, written as YAML, block or flow, or JSON), every one of which must load and
//! plan; a third of the byte mutator's inputs start from one of those. By default it tries a
//! fixed set of `INPUTS` inputs, each made from a seed of its own, so that every run (in CI, on a
//! busy machine) tries the same ones and a failure names the input that reproduces it;
//! `PIPECTL_FUZZ_SECONDS=300 cargo test --release --test spec_fuzz -- --nocapture` instead runs
//! a long session of that many seconds and prints how many inputs it tried.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};

use pipectl::model::LiveState;
use pipectl::plan::build_plan;
use pipectl::resources::desired_graph;
use pipectl::spec::{load_bytes, SpecError};

const TOKENS: [&str; 24] = [
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!binary ",
    "\t",
    "\n",
    "'",
    "\"",
    "#",
    "---\n",
    "? ",
    "|\n",
    ">-\n",
    "99999999999999999999",
    "-1",
    "é",
    "\u{feff}",
    "\0",
];

/// How many inputs a default run tries: more than there are seed files, in a few seconds of a
/// debug build (two on an idle machine).
const INPUTS: u64 = 300;

/// How many inputs of the valid space a default run tries (`valid_input`): each must load.
const VALID_INPUTS: u64 = 120;

/// How many seed files are valid specs (examples and templates), exactly.
const VALID_SEEDS: usize = 7;

/// The seed input `index` is made from.
fn input_seed(index: u64) -> u64 {
    // splitmix64 of the index: neighbouring inputs get unrelated seeds, and never 0 (a xorshift
    // state of 0 stays 0).
    let mut z = index.wrapping_add(0x5eed_2026_1122).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) | 1
}

struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The seed files, in a fixed order (a directory lists its files in no particular one).
fn seeds() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    for folder in ["examples", "templates", "tests/bad-specs"] {
        // Spec files only: examples/ci/ holds CI recipes.
        let entries = std::fs::read_dir(root.join(folder)).expect("seed folder").flatten();
        paths.extend(entries.map(|entry| entry.path()).filter(|path| path.is_file()));
    }
    paths.sort();
    paths.iter().map(|path| std::fs::read(path).expect("seed file")).collect()
}

/// The seed files that are valid specs, parsed: every one of `seeds()` that loads.
fn valid_seeds(seeds: &[Vec<u8>]) -> Vec<serde_json::Value> {
    seeds
        .iter()
        .filter(|bytes| load_bytes("seed.yaml", bytes).is_ok())
        .map(|bytes| serde_saphyr::from_str(std::str::from_utf8(bytes).expect("UTF-8")).expect("a valid seed is YAML"))
        .collect()
}

/// Changes `spec` in ways no check of the spec refuses: tags added, streams kept longer (never
/// shorter: an alarm may watch the iterator age up to the retention), provisioned streams given
/// other shard counts, the lists of streams, buckets and subnets in another order.
fn keep_valid(spec: &mut serde_json::Value, random: &mut Random) {
    for _ in 0..=random.below(3) {
        match random.below(4) {
            0 => {
                let tags =
                    spec.as_object_mut().expect("a mapping").entry("tags").or_insert_with(|| serde_json::json!({}));
                let key = format!("fuzz-{}", random.below(1000));
                tags[key.as_str()] = serde_json::json!(format!("v{}", random.next() % 100_000));
            }
            1 | 2 => {
                let Some(streams) = spec.get_mut("streams").and_then(serde_json::Value::as_array_mut) else { continue };
                let count = streams.len();
                let Some(stream) = streams.get_mut(random.below(count)) else { continue };
                if random.below(2) == 0 {
                    let hours = stream["retention_hours"].as_u64().unwrap_or(24);
                    stream["retention_hours"] = serde_json::json!((hours + random.below(2000) as u64).min(8760));
                } else if stream["shards"].is_u64() {
                    stream["shards"] = serde_json::json!(1 + random.below(16));
                }
            }
            _ => {
                for section in ["streams", "buckets"] {
                    if let Some(items) = spec.get_mut(section).and_then(serde_json::Value::as_array_mut) {
                        items.reverse();
                    }
                }
                let subnets = spec.get_mut("network").and_then(|network| network.get_mut("subnets"));
                if let Some(subnets) = subnets.and_then(serde_json::Value::as_array_mut) {
                    let by = random.below(subnets.len().max(1));
                    subnets.rotate_left(by);
                }
            }
        }
    }
}

/// Valid input `index`: a valid seed changed by `keep_valid`, written as block YAML, pretty JSON
/// or one line of JSON (both are YAML), after a comment or a document start or neither.
fn valid_input(seeds: &[serde_json::Value], index: u64) -> Vec<u8> {
    let mut random = Random(input_seed(index ^ 0x7a11d));
    let mut spec = seeds[random.below(seeds.len())].clone();
    keep_valid(&mut spec, &mut random);
    let text = match random.below(3) {
        0 => serde_saphyr::to_string(&spec).expect("YAML"),
        1 => serde_json::to_string_pretty(&spec).expect("JSON"),
        _ => serde_json::to_string(&spec).expect("JSON"),
    };
    let head = ["", "# changed by the fuzzer\n", "---\n"][random.below(3)];
    format!("{head}{text}\n").into_bytes()
}

fn mutate(input: &[u8], other: &[u8], random: &mut Random) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for _ in 0..=random.below(4) {
        let at = random.below(bytes.len() + 1);
        match random.below(6) {
            0 if !bytes.is_empty() => {
                let index = random.below(bytes.len());
                bytes[index] ^= 1 << random.below(8);
            }
            1 => {
                let token = TOKENS[random.below(TOKENS.len())].as_bytes();
                bytes.splice(at..at, token.iter().copied());
            }
            2 if !bytes.is_empty() => {
                let end = (at + random.below(40)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            3 => {
                let start = random.below(other.len());
                let end = (start + random.below(200)).min(other.len());
                bytes.splice(at..at, other[start..end].iter().copied());
            }
            4 => {
                let end = (at + random.below(80)).min(bytes.len());
                let copy = bytes[at.min(end)..end].to_vec();
                bytes.splice(at..at, copy);
            }
            _ => {
                let digit = b'0' + random.below(10) as u8;
                bytes.insert(at.min(bytes.len()), digit);
            }
        }
    }
    bytes
}

/// Loads, validates and plans one input; panics only on a defect.
fn exercise(bytes: &[u8]) {
    match load_bytes("fuzz.yaml", bytes) {
        Ok(spec) => {
            let graph = desired_graph(&spec, &spec.region, chrono::Utc::now());
            let plan = build_plan(&spec.pipeline, &graph, &LiveState::default(), false);
            assert_eq!(plan.summary.add, graph.len());
        }
        Err(SpecError::Invalid { diagnostics, .. }) => {
            assert!(!diagnostics.is_empty());
            for diagnostic in &diagnostics {
                assert!(!diagnostic.message.is_empty());
                assert!(
                    diagnostic.position.is_some() || !diagnostic.path.is_empty(),
                    "an error with no location: {diagnostic:?}"
                );
            }
        }
        Err(other) => assert!(!other.to_string().is_empty()),
    }
}

/// Input `index`: a seed file (or two) mutated with the input's own seed; every third starts from
/// a valid input instead, so that the mutations also land near the valid space.
fn input(seeds: &[Vec<u8>], valid: &[serde_json::Value], index: u64) -> Vec<u8> {
    let mut random = Random(input_seed(index));
    let start =
        if index.is_multiple_of(3) { valid_input(valid, index) } else { seeds[random.below(seeds.len())].clone() };
    let other = &seeds[random.below(seeds.len())];
    mutate(&start, other, &mut random)
}

#[test]
fn valid_specs_changed_in_ways_that_keep_them_valid_load_and_plan() {
    let valid = valid_seeds(&seeds());
    assert_eq!(valid.len(), VALID_SEEDS, "the valid seeds (examples and templates)");
    let mut loaded = 0;
    for index in 0..VALID_INPUTS {
        let bytes = valid_input(&valid, index);
        if let Err(error) = load_bytes("fuzz.yaml", &bytes) {
            panic!("valid input {index} does not load: {error}\n{}", String::from_utf8_lossy(&bytes));
        }
        exercise(&bytes);
        loaded += 1;
    }
    assert_eq!(loaded, VALID_INPUTS);
}

#[test]
fn the_loader_never_panics_on_mutated_specs() {
    // By hand: as many inputs as fit in that many seconds.
    let budget = std::env::var("PIPECTL_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).map(Duration::from_secs);
    let seeds = seeds();
    let valid_seeds = valid_seeds(&seeds);
    let started = Instant::now();
    let (mut tried, mut valid) = (0u64, 0u64);
    while budget.map_or(tried < INPUTS, |budget| started.elapsed() < budget) {
        let mutated = input(&seeds, &valid_seeds, tried);
        let outcome = catch_unwind(AssertUnwindSafe(|| exercise(&mutated)));
        if outcome.is_err() {
            let path = std::env::temp_dir().join("pipectl-fuzz-crash.yaml");
            let _ = std::fs::write(&path, &mutated);
            panic!("input {tried} (seed {:#x}) panicked; saved to {}", input_seed(tried), path.display());
        }
        valid += u64::from(load_bytes("fuzz.yaml", &mutated).is_ok());
        tried += 1;
    }
    eprintln!("spec fuzz: {tried} inputs in {:.1}s ({valid} valid), no panic", started.elapsed().as_secs_f64());
    if budget.is_none() {
        assert_eq!(tried, INPUTS);
    }
}

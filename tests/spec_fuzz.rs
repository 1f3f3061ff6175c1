//! A mutation fuzzer for the spec loader, validator and planner: starting from the examples and
//! the bad-spec corpus, it flips bytes, splices lines and inserts YAML tokens, and checks that
//! every input ends in a valid spec or a located error, never a panic. In CI it runs for a few
//! seconds; `PIPECTL_FUZZ_SECONDS=300 cargo test --release --test spec_fuzz -- --nocapture`
//! runs a long session and prints how many inputs it tried.

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

fn seeds() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = Vec::new();
    for folder in ["examples", "templates", "tests/bad-specs"] {
        // Spec files only: examples/ci/ holds CI recipes.
        for entry in std::fs::read_dir(root.join(folder)).expect("seed folder").flatten().filter(|e| e.path().is_file())
        {
            seeds.push(std::fs::read(entry.path()).expect("seed file"));
        }
    }
    seeds
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

#[test]
fn the_loader_never_panics_on_mutated_specs() {
    let budget = std::env::var("PIPECTL_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(3), Duration::from_secs);
    let seeds = seeds();
    let mut random = Random(0x5eed_2026_1122);
    let started = Instant::now();
    let (mut tried, mut valid) = (0u64, 0u64);
    while started.elapsed() < budget {
        let input = &seeds[random.below(seeds.len())];
        let other = &seeds[random.below(seeds.len())];
        let mutated = mutate(input, other, &mut random);
        let outcome = catch_unwind(AssertUnwindSafe(|| exercise(&mutated)));
        if outcome.is_err() {
            let path = std::env::temp_dir().join("pipectl-fuzz-crash.yaml");
            let _ = std::fs::write(&path, &mutated);
            panic!("input {tried} panicked; saved to {}", path.display());
        }
        valid += u64::from(load_bytes("fuzz.yaml", &mutated).is_ok());
        tried += 1;
    }
    eprintln!("spec fuzz: {tried} inputs in {:.1}s ({valid} valid), no panic", started.elapsed().as_secs_f64());
    assert!(tried > 100);
}

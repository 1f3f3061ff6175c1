//! The emulators and the test suite's linters install from lock files (`localstack/requirements/`):
//! every Python package at an exact version with its hashes, kinesis-mock through `npm ci` from its
//! package-lock, and the versions the scripts name are the versions the locks hold. A lock that
//! loses a hash, a version that drifts from `common.sh`, or an install line that bypasses the locks
//! fails here, without installing anything.

use std::collections::BTreeMap;

use crate::support::repo_path;

const PYTHON_LOCKS: [&str; 4] = ["localstack", "moto", "parliament", "policy-sentry"];

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_path(relative)).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

/// `NAME="value"` assignments of `localstack/common.sh`.
fn pinned_versions() -> BTreeMap<String, String> {
    read("localstack/common.sh")
        .lines()
        .filter_map(|line| line.split_once("_VERSION=\""))
        .filter(|(name, _)| !name.contains(' ') && !name.contains('$'))
        .map(|(name, rest)| (name.to_string(), rest.trim_end_matches('"').to_string()))
        .collect()
}

/// A compiled lock's packages: normalised name → (version, hash count). Fails on a package line
/// without an exact version.
fn packages(lock: &str) -> BTreeMap<String, (String, usize)> {
    let mut packages: BTreeMap<String, (String, usize)> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in lock.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(hash) = line.strip_prefix("--hash=sha256:") {
            let name = current.as_ref().expect("a hash line follows a package line");
            assert_eq!(hash.trim_end_matches(" \\").len(), 64, "{name}: not a SHA-256 hash: {line}");
            packages.get_mut(name).expect("package recorded").1 += 1;
            continue;
        }
        let requirement = line.trim_end_matches('\\').trim();
        let (name, version) =
            requirement.split_once("==").unwrap_or_else(|| panic!("a package line without an exact version: {line}"));
        let name = name.to_lowercase().replace(['_', '.'], "-");
        packages.insert(name.clone(), (version.to_string(), 0));
        current = Some(name);
    }
    packages
}

#[test]
fn every_locked_python_package_has_an_exact_version_and_its_hashes() {
    for name in PYTHON_LOCKS {
        let packages = packages(&read(&format!("localstack/requirements/{name}.txt")));
        assert!(packages.len() > 5, "{name}.txt locks only {} packages", packages.len());
        let unhashed: Vec<&String> = packages.iter().filter(|(_, (_, hashes))| *hashes == 0).map(|(n, _)| n).collect();
        assert!(unhashed.is_empty(), "{name}.txt: packages without a hash: {unhashed:?}");
    }
}

#[test]
fn the_locks_hold_the_versions_the_scripts_name() {
    let versions = pinned_versions();
    let expect = [
        ("localstack", "localstack-core", "LOCALSTACK"),
        ("moto", "moto", "MOTO"),
        ("parliament", "parliament", "PARLIAMENT"),
        ("policy-sentry", "policy-sentry", "POLICY_SENTRY"),
    ];
    for (lock, package, variable) in expect {
        let packages = packages(&read(&format!("localstack/requirements/{lock}.txt")));
        let locked = &packages.get(package).unwrap_or_else(|| panic!("{lock}.txt lacks {package}")).0;
        assert_eq!(
            Some(locked),
            versions.get(variable),
            "{lock}.txt locks {package} {locked}, common.sh names {variable}_VERSION {:?}",
            versions.get(variable)
        );
    }
    let kinesis_mock = &versions["KINESIS_MOCK"];
    let package_lock: serde_json::Value =
        serde_json::from_str(&read("localstack/requirements/kinesis-mock/package-lock.json"))
            .expect("package-lock.json");
    let locked = &package_lock["packages"]["node_modules/kinesis-local"];
    assert_eq!(locked["version"], kinesis_mock.as_str(), "package-lock.json locks another kinesis-mock");
    assert!(
        locked["integrity"].as_str().is_some_and(|hash| hash.starts_with("sha512-")),
        "kinesis-mock without its integrity hash"
    );
    let package: serde_json::Value =
        serde_json::from_str(&read("localstack/requirements/kinesis-mock/package.json")).expect("package.json");
    assert_eq!(
        package["dependencies"]["kinesis-local"],
        kinesis_mock.as_str(),
        "package.json pins another kinesis-mock"
    );
}

#[test]
fn the_scripts_install_python_packages_only_from_the_locks() {
    for script in ["localstack/install.sh", "tests/run.sh", "localstack/common.sh"] {
        for line in read(script).lines().filter(|line| line.contains("pip\" install") || line.contains("pip install")) {
            assert!(line.contains("--require-hashes"), "{script}: an install that bypasses the locks: {line}");
        }
    }
    let install = read("localstack/install.sh");
    assert!(
        install.contains("install_locked \"$LOCALSTACK_VENV\" localstack")
            && install.contains("install_locked \"$MOTO_VENV\" moto")
    );
    assert!(install.contains("npm ci"), "kinesis-mock is not installed from its package-lock");
}

//! Test support for sealwatch: where the shared fixtures live, throwaway local registries that
//! tests start and stop by PID (`registry`), a loopback HTTP file server (`http`), the Sigstore
//! stand-in (`standin`) and a loopback stand-in for the Kubernetes API (`kube_api`).

use std::path::PathBuf;

pub mod http;
#[cfg(feature = "kube-api")]
pub mod kube_api;
#[cfg(feature = "oci")]
pub mod push;
pub mod registry;
pub mod standin;

/// The `shared/` folder with fixtures and conformance data.
///
/// `SEALWATCH_SHARED` overrides the default, which is `../shared` beside the workspace root.
/// Returns `None` when it is missing; see [`require_shared`] for what tests should do then.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("SEALWATCH_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    dir.join("DESIGN.md")
        .is_file()
        .then(|| dir.canonicalize().unwrap_or(dir))
}

/// The path of `rel` under `shared/`, for a conformance or fixture test.
///
/// When the data is missing: with `CI` set the test fails (CI must never silently skip a conformance
/// check); otherwise it returns `None` and prints why, so a developer without `shared/` can still run
/// the rest of the suite.
pub fn require_shared(rel: &str) -> Option<PathBuf> {
    let found = shared_dir().map(|d| d.join(rel)).filter(|p| p.exists());
    if found.is_none() {
        let msg = format!(
            "shared data `{rel}` not found (set SEALWATCH_SHARED or put shared/ beside the repo)"
        );
        if std::env::var_os("CI").is_some() {
            panic!("{msg}; CI is set, so this is a failure, not a skip");
        }
        eprintln!("skipping: {msg}");
    }
    found
}

//! Verifications per second once the signature material is in memory (a cached signature
//! manifest): a key-signed simple-signing payload (signature + claims), and a keyless Sigstore
//! bundle (sigstore-conformance `happy-path-v0.3` against the embedded production root: chain,
//! SCT, SET, inclusion proof, checkpoint). Run with `cargo bench -p sealwatch-trust`.

use std::time::{Duration, Instant};

use sealwatch_trust::bundle::{verify_bundle, Artifact, BundlePolicy, Matcher, TrustedRoot};
use sealwatch_trust::verify::{check_payload_claims, verify_signature};
use sealwatch_trust::{Digest, KeyType, PrivateKey, SimpleSigningPayload};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Run `op` for about `budget`, report operations per second and the mean.
fn measure(name: &str, budget: Duration, mut op: impl FnMut()) {
    for _ in 0..10 {
        op();
    }
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < budget {
        op();
        count += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "{name}: {:.0} verifications/s ({:.1} µs each, {count} runs)",
        count as f64 / elapsed,
        elapsed / count as f64 * 1e6
    );
}

fn main() {
    let budget = Duration::from_secs(2);
    let key = PrivateKey::generate(KeyType::EcdsaP256, &mut rand_core::OsRng)
        .unwrap_or_else(|e| panic!("{e}"));
    let digest =
        Digest::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap_or_else(|e| panic!("{e}"));
    let payload = SimpleSigningPayload::new("127.0.0.1:5000/app", &digest).to_json();
    let signature = key.sign(&payload).unwrap_or_else(|e| panic!("{e}"));
    let public = key.public_key();
    measure(
        "keyed simple-signing payload (ECDSA P-256 + claims)",
        budget,
        || {
            let verified =
                verify_signature(&public, &payload, &signature).unwrap_or_else(|e| panic!("{e}"));
            check_payload_claims(verified.payload(), &digest, Some("127.0.0.1:5000/app"))
                .unwrap_or_else(|e| panic!("{e}"));
        },
    );

    let Some(dir) =
        sealwatch_test::require_shared("conformance/sigstore/assets/bundle-verify/happy-path-v0.3")
    else {
        return;
    };
    let bundle =
        std::fs::read_to_string(dir.join("bundle.sigstore.json")).unwrap_or_else(|e| panic!("{e}"));
    let artifact_path = dir.join("../a.txt");
    let artifact = std::fs::read(&artifact_path)
        .unwrap_or_else(|e| panic!("{}: {e}", artifact_path.display()));
    let root = TrustedRoot::production().unwrap_or_else(|e| panic!("{e}"));
    let policy = BundlePolicy::Keyless {
        identity: Matcher::Exact(IDENTITY.into()),
        issuer: Matcher::Exact(ISSUER.into()),
    };
    measure(
        "keyless bundle v0.3 (chain, SCT, SET, inclusion proof)",
        budget,
        || {
            verify_bundle(&bundle, Artifact::Bytes(&artifact), &policy, &root)
                .unwrap_or_else(|e| panic!("{e}"));
        },
    );
}

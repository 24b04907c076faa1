//! Library-level Sigstore bundle verification on sigstore-conformance cases (offline).

use sealwatch_trust::bundle::{verify_bundle, Artifact, BundlePolicy, Matcher, TrustedRoot};
use sealwatch_trust::{Digest, Error, PublicKey};

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn keyless(identity: Matcher, issuer: Matcher) -> BundlePolicy {
    BundlePolicy::Keyless { identity, issuer }
}

#[test]
fn embedded_production_root_loads() {
    TrustedRoot::production().expect("embedded root is usable");
    assert!(matches!(
        TrustedRoot::from_json("{}"),
        Err(Error::InvalidTrustedRoot { .. })
    ));
}

#[test]
fn keyless_bundle_by_bytes_and_digest() {
    let Some(dir) = sealwatch_test::require_shared("conformance/sigstore/assets/bundle-verify")
    else {
        return;
    };
    let bundle =
        std::fs::read_to_string(dir.join("happy-path-v0.3/bundle.sigstore.json")).expect("bundle");
    let artifact = std::fs::read(dir.join("a.txt")).expect("artifact");
    let digest = Digest::sha256_of(&artifact);
    let root = TrustedRoot::production().expect("root");
    let exact = keyless(
        Matcher::Exact(IDENTITY.into()),
        Matcher::Exact(ISSUER.into()),
    );

    for input in [Artifact::Bytes(&artifact), Artifact::Digest(&digest)] {
        let verified = verify_bundle(&bundle, input, &exact, &root).expect("verifies");
        assert_eq!(verified.identity(), Some(IDENTITY));
        assert_eq!(verified.issuer(), Some(ISSUER));
    }

    let regex = keyless(
        Matcher::regex("identity", "^https://github\\.com/sigstore-conformance/").expect("regex"),
        Matcher::regex("issuer", "githubusercontent").expect("regex"),
    );
    verify_bundle(&bundle, Artifact::Bytes(&artifact), &regex, &root)
        .expect("regex policy verifies");

    let wrong_regex = keyless(
        Matcher::regex("identity", "^mailto:").expect("regex"),
        Matcher::Exact(ISSUER.into()),
    );
    let err = verify_bundle(&bundle, Artifact::Bytes(&artifact), &wrong_regex, &root)
        .expect_err("must fail");
    assert!(
        matches!(
            err,
            Error::IdentityRegexMismatch {
                what: "identity",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_not_verified());

    let mut tampered = artifact.clone();
    tampered.push(b'\n');
    let err =
        verify_bundle(&bundle, Artifact::Bytes(&tampered), &exact, &root).expect_err("must fail");
    assert!(matches!(err, Error::BundleRejected { .. }), "{err}");

    let err = verify_bundle("{not json", Artifact::Bytes(&artifact), &exact, &root)
        .expect_err("must fail");
    assert!(matches!(err, Error::MalformedBundle { .. }), "{err}");
}

#[test]
fn managed_key_bundle() {
    let Some(dir) = sealwatch_test::require_shared(
        "conformance/sigstore/assets/bundle-verify/managed-key-happy-path",
    ) else {
        return;
    };
    let bundle = std::fs::read_to_string(dir.join("bundle.sigstore.json")).expect("bundle");
    let key = PublicKey::from_pem(&std::fs::read_to_string(dir.join("key.pub")).expect("key"))
        .expect("key parses");
    let root = match std::fs::read_to_string(dir.join("trusted_root.json")) {
        Ok(json) => TrustedRoot::from_json(&json).expect("root"),
        Err(_) => TrustedRoot::production().expect("root"),
    };
    let artifact_path = if dir.join("artifact").exists() {
        dir.join("artifact")
    } else {
        dir.join("../a.txt")
    };
    let artifact = std::fs::read(artifact_path).expect("artifact");
    verify_bundle(
        &bundle,
        Artifact::Bytes(&artifact),
        &BundlePolicy::PublicKey(key),
        &root,
    )
    .expect("verifies");

    // Another key of the same type must not verify it.
    let other = sealwatch_trust::PrivateKey::generate(
        sealwatch_trust::KeyType::EcdsaP256,
        &mut rand_core::OsRng,
    )
    .expect("key")
    .public_key();
    let err = verify_bundle(
        &bundle,
        Artifact::Bytes(&artifact),
        &BundlePolicy::PublicKey(other),
        &root,
    )
    .expect_err("wrong key accepted");
    assert!(err.is_not_verified(), "{err}");
}

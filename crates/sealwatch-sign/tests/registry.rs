//! The library API against a real local registry: results and error kinds the admission webhook
//! relies on, the referrers tag-schema discovery path, and the repository check.

use std::sync::Arc;

use base64::Engine as _;
use sealwatch_oci::registry::{BlobContent, RegistryClient, RegistryOptions};
use sealwatch_oci::{Digest, Reference};
use sealwatch_sign::{PrivateKey, SignError, SignOptions, SimpleSigningPayload, VerifyOptions};
use sealwatch_test::registry::TestRegistry;
use serde_json::{json, Value};

struct Env {
    _registry: TestRegistry,
    client: RegistryClient,
    reference: Reference,
    digest: Digest,
    key: PrivateKey,
}

fn setup(repo: &str) -> Option<Env> {
    let layout = sealwatch_test::require_shared("fixtures/images/alpine-3.20")?;
    let key_path = sealwatch_test::require_shared("conformance/cosign-keys/ecdsa_private.key")?;
    let registry = TestRegistry::start_plain()?;
    let client = RegistryClient::new(RegistryOptions::default()).expect("client");
    let reference: Reference = format!("{}/test/{repo}:v1", registry.host())
        .parse()
        .expect("reference");
    let digest =
        sealwatch_test::push::push_oci_layout(&client, &layout, &reference).expect("push image");
    let pem = std::fs::read_to_string(key_path).expect("key");
    let key = PrivateKey::from_pem(&pem, b"").expect("unencrypted key");
    Some(Env {
        _registry: registry,
        client,
        reference,
        digest,
        key,
    })
}

impl Env {
    fn options(&self, check_reference: bool) -> VerifyOptions {
        VerifyOptions {
            keys: vec![self.key.public_key()],
            keyless: None,
            check_reference,
        }
    }

    fn push_blob(&self, bytes: &[u8]) -> Value {
        let digest = Digest::sha256_of(bytes);
        self.client
            .push_blob(
                &self.reference,
                &digest,
                &BlobContent::Bytes(Arc::from(bytes.to_vec())),
            )
            .expect("push blob");
        json!({"digest": digest.to_string(), "size": bytes.len()})
    }

    /// A signature manifest with one simple-signing layer for `payload`, signed with our key.
    fn signature_manifest(&self, payload: &[u8], layer_media_type: &str) -> Vec<u8> {
        let blob = self.push_blob(payload);
        let config = self.push_blob(b"{}");
        let signature = self.key.sign(payload).expect("sign");
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config["digest"], "size": config["size"]},
            "layers": [{
                "mediaType": layer_media_type,
                "digest": blob["digest"],
                "size": blob["size"],
                "annotations": {"dev.cosignproject.cosign/signature": base64::engine::general_purpose::STANDARD.encode(signature)},
            }],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": self.digest.to_string(), "size": 0},
        });
        serde_json::to_vec(&manifest).expect("json")
    }

    fn trust_digest(&self) -> sealwatch_trust::Digest {
        sealwatch_trust::Digest::parse(&self.digest.to_string()).expect("digest")
    }
}

#[test]
fn sign_and_verify_through_the_api() {
    let Some(env) = setup("api") else { return };
    assert_eq!(
        sealwatch_sign::resolve_digest(&env.client, &env.reference).expect("resolves"),
        env.digest
    );

    let err = sealwatch_sign::verify_image(&env.client, &env.reference, &env.options(true))
        .expect_err("nothing signed yet");
    assert!(err.is_not_verified(), "{err}");
    assert!(matches!(err, SignError::NoSignatures { .. }), "{err}");

    let signed = sealwatch_sign::sign_image(
        &env.client,
        &env.reference,
        &env.key,
        &SignOptions::default(),
    )
    .expect("sign");
    assert!(signed.created);
    assert_eq!(signed.layer_count, 1);
    assert_eq!(signed.digest, env.digest);
    assert_eq!(
        signed.location.tag(),
        Some(format!("sha256-{}.sig", env.digest.hex()).as_str())
    );

    let verified = sealwatch_sign::verify_image(&env.client, &env.reference, &env.options(true))
        .expect("verifies");
    assert_eq!(verified.digest, env.digest);
    assert_eq!(verified.signatures.len(), 1);
    let signature = &verified.signatures[0];
    match &signature.signer {
        sealwatch_sign::SignedBy::Key { index, key_id } => {
            assert_eq!(*index, 0);
            assert!(key_id.starts_with("sha256:"));
        }
        other => panic!("signed by {other:?}"),
    }
    assert_eq!(signature.payload_bytes, signed.blob);
    assert_eq!(
        signature
            .payload
            .as_ref()
            .map(|p| p.manifest_digest.clone()),
        Some(env.digest.to_string())
    );
    assert!(verified.rejections.is_empty());

    // Another key: signatures exist but none verifies.
    let other_path = sealwatch_test::require_shared(
        "conformance/cosign-keys/cosign_generated_encrypted_empty_private.key",
    )
    .expect("key present");
    let other = PrivateKey::from_pem(&std::fs::read_to_string(other_path).expect("read"), b"")
        .expect("other key");
    let options = VerifyOptions {
        keys: vec![other.public_key()],
        keyless: None,
        check_reference: true,
    };
    let err =
        sealwatch_sign::verify_image(&env.client, &env.reference, &options).expect_err("wrong key");
    match &err {
        SignError::NotVerified { rejections, .. } => {
            assert_eq!(rejections.len(), 1);
            assert_eq!(
                rejections[0].reason,
                "signature does not verify with the given key"
            );
        }
        other => panic!("expected NotVerified, got {other}"),
    }

    // An unknown image is a tool error, not "not verified".
    let unknown = env.reference.with_tag("nope").expect("tag");
    let err = sealwatch_sign::verify_image(&env.client, &unknown, &env.options(true))
        .expect_err("unknown");
    assert!(matches!(err, SignError::ImageNotFound { .. }), "{err}");
    assert!(!err.is_not_verified());
}

#[test]
fn referrers_tag_schema_is_discovered() {
    let Some(env) = setup("referrers") else {
        return;
    };
    let payload = SimpleSigningPayload::new(env.reference.name(), &env.trust_digest()).to_json();
    let good = env.signature_manifest(&payload, "application/vnd.dev.cosign.simplesigning.v1+json");
    let bundle = env.signature_manifest(b"{}", "application/vnd.dev.sigstore.bundle.v0.3+json");
    let mut entries = Vec::new();
    for manifest in [&good, &bundle] {
        let digest = Digest::sha256_of(manifest);
        // By digest only: `with_digest` keeps the tag, and pushing would move `v1`.
        let by_digest = Reference::from_parts(
            env.reference.registry(),
            env.reference.repository(),
            None,
            Some(digest.clone()),
        )
        .expect("reference");
        env.client
            .push_manifest(
                &by_digest,
                manifest,
                "application/vnd.oci.image.manifest.v1+json",
            )
            .expect("push referrer");
        entries.push(json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": digest.to_string(),
            "size": manifest.len(),
            "artifactType": "application/vnd.oci.empty.v1+json",
        }));
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    });
    let schema_tag = env
        .reference
        .with_tag(&format!("sha256-{}", env.digest.hex()))
        .expect("tag");
    env.client
        .push_manifest(
            &schema_tag,
            &serde_json::to_vec(&index).expect("json"),
            "application/vnd.oci.image.index.v1+json",
        )
        .unwrap_or_else(|e| panic!("push index: {e}\n{}", env._registry.log()));

    // No `.sig` tag exists: the signature is found only through the referrers index.
    let verified = sealwatch_sign::verify_image(&env.client, &env.reference, &env.options(true))
        .expect("verifies through referrers");
    assert_eq!(verified.signatures.len(), 1);
    assert!(
        verified.signatures[0].location.contains("(referrer)"),
        "{}",
        verified.signatures[0].location
    );
    assert_eq!(verified.signatures[0].payload_bytes, payload);
    // The broken bundle referrer is reported, not silently ignored (and not filtered by
    // artifactType).
    assert_eq!(verified.rejections.len(), 1);
    assert!(
        verified.rejections[0]
            .reason
            .contains("neither `dsseEnvelope` nor `messageSignature`"),
        "{}",
        verified.rejections[0].reason
    );
}

#[test]
fn repository_claim_is_checked_unless_skipped() {
    let Some(env) = setup("claims") else { return };
    // A valid signature of this digest, but for another repository.
    let payload =
        SimpleSigningPayload::new("other.example/elsewhere", &env.trust_digest()).to_json();
    let manifest =
        env.signature_manifest(&payload, "application/vnd.dev.cosign.simplesigning.v1+json");
    let sig_tag = env
        .reference
        .with_tag(&format!("sha256-{}.sig", env.digest.hex()))
        .expect("tag");
    env.client
        .push_manifest(
            &sig_tag,
            &manifest,
            "application/vnd.oci.image.manifest.v1+json",
        )
        .expect("push");

    let err = sealwatch_sign::verify_image(&env.client, &env.reference, &env.options(true))
        .expect_err("repository differs");
    let SignError::NotVerified { rejections, .. } = &err else {
        panic!("expected NotVerified, got {err}");
    };
    assert!(
        rejections[0]
            .reason
            .starts_with("payload docker-reference other.example/elsewhere != image repository"),
        "{}",
        rejections[0].reason
    );
    let verified = sealwatch_sign::verify_image(&env.client, &env.reference, &env.options(false))
        .expect("verifies without the repository check");
    assert_eq!(
        verified.signatures[0]
            .payload
            .as_ref()
            .map(|p| p.docker_reference.as_str()),
        Some("other.example/elsewhere")
    );
}

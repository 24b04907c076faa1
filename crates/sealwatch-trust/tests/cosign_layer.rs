//! A legacy cosign `.sig` layer (payload + signature / certificate / Rekor-bundle annotations) is
//! restated as a Sigstore bundle and verified. The layer is assembled from the parts of the
//! sigstore-conformance case `happy-path-v0.1` (a keyless signature over `a.txt` with a Rekor v1
//! entry and SET), written in cosign's annotation formats.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use sealwatch_trust::bundle::{
    verify_cosign_layer, BundlePolicy, CosignLayer, Matcher, TrustedRoot,
};
use sealwatch_trust::Error;

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

struct Parts {
    payload: Vec<u8>,
    signature: String,
    certificate: String,
    rekor_bundle: serde_json::Value,
}

fn parts() -> Option<Parts> {
    let dir = sealwatch_test::require_shared("conformance/sigstore/assets/bundle-verify")?;
    let bundle: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("happy-path-v0.1/bundle.sigstore.json")).expect("bundle"),
    )
    .expect("json");
    let material = &bundle["verificationMaterial"];
    let der = BASE64
        .decode(
            material["x509CertificateChain"]["certificates"][0]["rawBytes"]
                .as_str()
                .expect("cert"),
        )
        .expect("b64");
    let certificate =
        pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &der).expect("pem");
    let entry = &material["tlogEntries"][0];
    let log_id = BASE64
        .decode(entry["logId"]["keyId"].as_str().expect("keyId"))
        .expect("b64");
    // cosign's `dev.sigstore.cosign/bundle` annotation layout.
    let rekor_bundle = serde_json::json!({
        "SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
        "Payload": {
            "body": entry["canonicalizedBody"],
            "integratedTime": entry["integratedTime"].as_str().expect("time").parse::<i64>().expect("int"),
            "logIndex": entry["logIndex"].as_str().expect("index").parse::<i64>().expect("int"),
            "logID": hex::encode(log_id),
        }
    });
    Some(Parts {
        payload: std::fs::read(dir.join("a.txt")).expect("a.txt"),
        signature: bundle["messageSignature"]["signature"]
            .as_str()
            .expect("sig")
            .to_string(),
        certificate,
        rekor_bundle,
    })
}

fn policy() -> BundlePolicy {
    BundlePolicy::Keyless {
        identity: Matcher::Exact(IDENTITY.into()),
        issuer: Matcher::Exact(ISSUER.into()),
    }
}

#[test]
fn keyless_layer_verifies_and_tampering_is_caught() {
    let Some(parts) = parts() else { return };
    let root = TrustedRoot::production().expect("root");
    let rekor = parts.rekor_bundle.to_string();
    let layer = CosignLayer {
        payload: &parts.payload,
        signature: &parts.signature,
        certificate: Some(&parts.certificate),
        rekor_bundle: Some(&rekor),
    };
    let verified = verify_cosign_layer(&layer, &policy(), &root).expect("layer verifies");
    assert_eq!(verified.identity(), Some(IDENTITY));

    // Another payload under the same signature.
    let mut payload = parts.payload.clone();
    payload.push(b'!');
    let err = verify_cosign_layer(
        &CosignLayer {
            payload: &payload,
            ..layer
        },
        &policy(),
        &root,
    )
    .expect_err("tampered");
    assert!(err.is_not_verified(), "{err}");

    // A forged integrated time breaks the SET.
    let mut forged = parts.rekor_bundle.clone();
    forged["Payload"]["integratedTime"] = serde_json::json!(1_689_177_397);
    let forged = forged.to_string();
    let err = verify_cosign_layer(
        &CosignLayer {
            rekor_bundle: Some(&forged),
            ..layer
        },
        &policy(),
        &root,
    )
    .expect_err("forged SET time");
    assert!(matches!(err, Error::BundleRejected { .. }), "{err}");

    // The wrong signer.
    let other = BundlePolicy::Keyless {
        identity: Matcher::Exact("someone@example.com".into()),
        issuer: Matcher::Exact(ISSUER.into()),
    };
    assert!(verify_cosign_layer(&layer, &other, &root).is_err());

    // No Rekor bundle: cannot be restated.
    let err = verify_cosign_layer(
        &CosignLayer {
            rekor_bundle: None,
            ..layer
        },
        &policy(),
        &root,
    )
    .expect_err("no SET");
    assert!(matches!(err, Error::MalformedBundle { .. }), "{err}");
}

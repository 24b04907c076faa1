//! Every parser gets truncated and bit-flipped versions of valid input: each must return a value
//! or an error, never panic. (A panic fails the test.)

use sealwatch_trust::dsse::{Envelope, Statement, Subject, IN_TOTO_PAYLOAD_TYPE};
use sealwatch_trust::{Digest, KeyType, PrivateKey, PublicKey, SimpleSigningPayload};

/// All truncations of `valid`, and one bit flip at each byte (the bit rotates with the position;
/// all eight would cost eight times as much in a debug build for little more coverage).
fn mutations(valid: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    let truncations = (0..valid.len()).map(|len| valid[..len].to_vec());
    let flips = (0..valid.len()).map(move |i| {
        let mut v = valid.to_vec();
        v[i] ^= 1 << (i % 8);
        v
    });
    truncations.chain(flips)
}

#[test]
fn key_decoders_survive_mutations() {
    for key_type in [KeyType::EcdsaP256, KeyType::EcdsaP384, KeyType::Ed25519] {
        let key = PrivateKey::generate(key_type, &mut rand_core::OsRng).expect("key");
        let pkcs8 = key.to_pkcs8_der().expect("der");
        let spki = key.public_key().to_spki_der().expect("spki");
        let mut accepted = 0usize;
        for bad in mutations(&pkcs8) {
            accepted += usize::from(PrivateKey::from_pkcs8_der(&bad).is_ok());
            let _ = PrivateKey::from_sec1_der(&bad);
            let _ = PrivateKey::from_pkcs1_der(&bad);
        }
        // Most mutations of structure bytes must be refused (a flip inside the secret scalar
        // may still give a valid key, so not all).
        assert!(
            accepted < pkcs8.len() * 9 / 2,
            "{key_type}: {accepted} mutated keys accepted"
        );
        let sig = key.sign(b"m").expect("signs");
        for bad in mutations(&spki) {
            if let Ok(public) = PublicKey::from_spki_der(&bad) {
                // A mutated key that still parses must not verify the original key's signature.
                if public != key.public_key() {
                    assert!(sealwatch_trust::verify_signature(&public, b"m", &sig).is_err());
                }
            }
        }
        let pem = key.public_key().to_pem().expect("pem");
        for bad in mutations(pem.as_bytes()) {
            if let Ok(text) = std::str::from_utf8(&bad) {
                let _ = PublicKey::from_pem(text);
                let _ = PrivateKey::from_pem(text, b"");
            }
        }
    }
}

#[test]
fn signature_verification_survives_arbitrary_signatures() {
    for key_type in [KeyType::EcdsaP256, KeyType::Ed25519] {
        let key = PrivateKey::generate(key_type, &mut rand_core::OsRng).expect("key");
        let sig = key.sign(b"message").expect("signs");
        for bad in mutations(&sig) {
            if bad != sig {
                let result = sealwatch_trust::verify_signature(&key.public_key(), b"message", &bad);
                assert!(result.is_err(), "{key_type}: a mutated signature verified");
            }
        }
    }
}

#[test]
fn json_parsers_survive_mutations() {
    let digest = Digest::sha256_of(b"image");
    let payload = SimpleSigningPayload::new("ghcr.io/org/app", &digest)
        .with_annotation("k", "v")
        .to_json();
    for bad in mutations(&payload) {
        let _ = SimpleSigningPayload::parse(&bad);
    }
    let key = PrivateKey::generate(KeyType::EcdsaP256, &mut rand_core::OsRng).expect("key");
    let statement = Statement::new(
        Subject::new("app", &digest),
        "https://example.com/p",
        serde_json::json!({"a": [1, 2]}),
    );
    let envelope = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, statement.to_json(), &key)
        .expect("signs")
        .to_json();
    for bad in mutations(&envelope) {
        if let Ok(parsed) = Envelope::from_json(&bad) {
            let _ = sealwatch_trust::verify_envelope(&key.public_key(), &parsed);
        }
    }
    for bad in mutations(&statement.to_json()) {
        let _ = Statement::from_json(&bad);
    }
}

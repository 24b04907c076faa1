//! The cosign-format keys in shared/conformance/cosign-keys: each decrypts with its password, is
//! refused with a wrong one, and signs data that verifies with the derived public key.

use sealwatch_trust::{verify_signature, Error, KeyType, PrivateKey};

fn check(file: &str, password: &[u8], expect_type: KeyType, encrypted: bool) {
    let Some(path) = sealwatch_test::require_shared(&format!("conformance/cosign-keys/{file}"))
    else {
        return;
    };
    let pem = std::fs::read_to_string(&path).expect("readable key file");
    assert_eq!(
        sealwatch_trust::keys::pem_needs_password(&pem),
        encrypted,
        "{file}"
    );

    let key = PrivateKey::from_pem(&pem, password).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(key.key_type(), expect_type, "{file}");

    let message = format!("signed by {file}").into_bytes();
    let signature = key.sign(&message).expect("signing works");
    let public = key.public_key();
    verify_signature(&public, &message, &signature).unwrap_or_else(|e| panic!("{file}: {e}"));
    // The public key survives a PEM round trip and still verifies.
    let reread = sealwatch_trust::PublicKey::from_pem(&public.to_pem().expect("PEM"))
        .expect("own PEM parses");
    verify_signature(&reread, &message, &signature).unwrap_or_else(|e| panic!("{file}: {e}"));
    // One flipped byte of the message is caught.
    let mut tampered = message.clone();
    tampered[0] ^= 1;
    assert!(
        matches!(
            verify_signature(&public, &tampered, &signature),
            Err(Error::SignatureMismatch { .. })
        ),
        "{file}: tampered message accepted"
    );

    if encrypted {
        let mut wrong = password.to_vec();
        wrong.extend_from_slice(b"x");
        assert!(
            matches!(
                PrivateKey::from_pem(&pem, &wrong),
                Err(Error::WrongPassword)
            ),
            "{file}: wrong password not reported as such"
        );
    }
}

#[test]
fn cosign_generated_empty_password() {
    check(
        "cosign_generated_encrypted_empty_private.key",
        b"",
        KeyType::EcdsaP256,
        true,
    );
}

#[test]
fn legacy_label_ecdsa() {
    check(
        "ecdsa_encrypted_private.key",
        b"123",
        KeyType::EcdsaP256,
        true,
    );
}

#[test]
fn ed25519() {
    check(
        "ed25519_encrypted_private.key",
        b"123",
        KeyType::Ed25519,
        true,
    );
}

#[test]
fn rsa() {
    let Some(path) =
        sealwatch_test::require_shared("conformance/cosign-keys/rsa_encrypted_private.key")
    else {
        return;
    };
    // The RSA size is a property of the fixture; read it from the key rather than assuming it.
    let pem = std::fs::read_to_string(path).expect("readable");
    let bits = match PrivateKey::from_pem(&pem, b"123")
        .expect("decrypts")
        .key_type()
    {
        KeyType::Rsa { bits } => bits,
        other => panic!("expected RSA, got {other}"),
    };
    check(
        "rsa_encrypted_private.key",
        b"123",
        KeyType::Rsa { bits },
        true,
    );
}

#[test]
fn unencrypted_pkcs8() {
    check("ecdsa_private.key", b"", KeyType::EcdsaP256, false);
}

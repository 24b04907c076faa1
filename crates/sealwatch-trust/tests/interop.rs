//! A signature made by another cosign implementation, checked with our key reader, payload parser
//! and verifier. Vector: an RSA cosign signature of a SUSE image (signed by OBS), published as test
//! data in sigstore/sigstore-rs `src/crypto/verification_key.rs` (`verify_rsa_signature`).

use sealwatch_trust::verify::verify_signature_annotation;
use sealwatch_trust::{Digest, Error, KeyType, PublicKey};

const PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAvM/dHoi6nSy7hbKHLYUr
Xy6Bv35JbdoIzny5vSFiRXApr0KS56U8PugdGmh+vd7H8YNlx2YOJxzv02Blsrcm
WDZcXjE3Xpsi/IHFfRZLOdwwR+u8MNFxwRUVzxyIzKGtbREVVfXPfb2Xc6FL5/tE
vQtUKuR6XdzSaav2RnV5IybCB09s0Np0AUbdi5EfSe4INuqgY+VFYLjvM5onbAQL
N3bFLS4Quk66Dhv93Zi6NwopwL1F07UPC5uadkyePStP3PA0OAOemj9vZADOWx5a
dsGCKISs8iphNC5mDVoLy8Ry49Ms3eQXRjVQOMco3YNf8AhsIdxDNBVN8VTDKVkE
DwIDAQAB
-----END PUBLIC KEY-----
";

const SIGNATURE: &str = "umasnfYJyLbYPjiq1wIy086Ns+CrgiMoQUSGqPqlUmtWsY0hbngJ73hPfJFrppviPKdBeuUiiwgKagBKIXLEXjwxQp4eE3szwqkKoAnR/lByb7ahLgVQ4MB6xDQaHD53MYtj7aOvd4O7FqJltVVjEn7nM/Du2tL5y3jf6lD7VfHZE8uRocRlyppt8SfTc5L12mVlZ0YlfKYkd334A4y/reCy3Yws0j356Wj7GLScMU5uR11Y2y41rSyYm5uXhTerwNFXsRcPMAmenMarCdCmt4Lf4wpcJBCU172xiK+rIhbMgkLjjA772+auSYf1E8CySVah5CD0Td5YC3y8vIIYaA==";

const PAYLOAD: &str = r#"{"critical":{"identity":{"docker-reference":"registry.suse.com/suse/sle-micro/5.0/toolbox"},"image":{"docker-manifest-digest":"sha256:356631f7603526a0af827741f5fe005acf19b7ef7705a34241a91c2d47a6db5e"},"type":"cosign container image signature"},"optional":{"creator":"OBS"}}"#;

const IMAGE: &str = "sha256:356631f7603526a0af827741f5fe005acf19b7ef7705a34241a91c2d47a6db5e";

#[test]
fn rsa_cosign_signature_from_another_implementation() {
    let key = PublicKey::from_pem(PUBLIC_KEY).expect("public key");
    assert_eq!(key.key_type(), KeyType::Rsa { bits: 2048 });

    let verified =
        verify_signature_annotation(&key, PAYLOAD.as_bytes(), SIGNATURE).expect("verifies");
    let image = Digest::parse(IMAGE).expect("digest");
    let claims = verified
        .check_image(
            &image,
            Some("registry.suse.com/suse/sle-micro/5.0/toolbox:latest"),
        )
        .expect("claims hold");
    assert_eq!(
        claims.optional.as_ref().and_then(|o| o.get("creator")),
        Some(&serde_json::json!("OBS"))
    );
    // Our serialisation of the parsed payload gives back the signed bytes.
    assert_eq!(claims.to_json(), PAYLOAD.as_bytes());

    // The annotation wrapped over lines (cosign accepts that) still verifies.
    let wrapped = format!("{}\n{}\n", &SIGNATURE[..44], &SIGNATURE[44..]);
    verify_signature_annotation(&key, PAYLOAD.as_bytes(), &wrapped)
        .expect("wrapped base64 verifies");

    // The same signature over a payload for another digest does not verify.
    let other = PAYLOAD.replace("356631f7", "356631f8");
    assert!(matches!(
        verify_signature_annotation(&key, other.as_bytes(), SIGNATURE),
        Err(Error::SignatureMismatch { .. })
    ));
}

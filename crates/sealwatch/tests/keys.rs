//! `sealwatch keygen`: cosign-format files, password handling, no overwrite, atomic writes; and
//! `sealwatch verify-blob --key --signature` over a signature made with a generated key.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use sealwatch_trust::{PrivateKey, PublicKey};

fn sealwatch(args: &[&str], dir: &Path, envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sealwatch"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("COSIGN_PASSWORD")
        .env_remove("SEALWATCH_PASSWORD")
        .stdin(Stdio::null());
    for (key, value) in envs {
        command.env(key, value);
    }
    command.output().expect("sealwatch runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The private key file read as cosign would: PEM label, then the JSON envelope with plain serde_json.
fn assert_cosign_envelope(pem: &str) {
    let mut lines = pem.lines();
    assert_eq!(
        lines.next(),
        Some("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    );
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    assert!(
        pem.lines().all(|l| l.len() <= 64),
        "PEM lines are wrapped at 64 like Go's encoder"
    );
    assert!(pem
        .trim_end()
        .ends_with("-----END ENCRYPTED SIGSTORE PRIVATE KEY-----"));
    let json_bytes = base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("base64 body");
    let json: serde_json::Value = serde_json::from_slice(&json_bytes).expect("JSON envelope");
    assert_eq!(json["kdf"]["name"], "scrypt");
    assert_eq!(
        json["kdf"]["params"],
        serde_json::json!({"N": 65536, "r": 8, "p": 1})
    );
    assert_eq!(json["cipher"]["name"], "nacl/secretbox");
    for field in [
        &json["kdf"]["salt"],
        &json["cipher"]["nonce"],
        &json["ciphertext"],
    ] {
        let text = field.as_str().expect("base64 string field");
        assert!(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .is_ok(),
            "{text}"
        );
    }
}

#[test]
fn keygen_writes_cosign_key_pairs_of_each_type() {
    for (type_arg, expect) in [
        (None, "ECDSA P-256"),
        (Some("ecdsa-p384"), "ECDSA P-384"),
        (Some("ed25519"), "Ed25519"),
        (Some("rsa-2048"), "RSA-2048"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args = vec!["keygen"];
        if let Some(t) = type_arg {
            args.extend(["--type", t]);
        }
        let output = sealwatch(&args, dir.path(), &[("COSIGN_PASSWORD", "hunter2")]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(
            !stderr(&output).contains("hunter2"),
            "the password is never printed"
        );

        let private_pem =
            std::fs::read_to_string(dir.path().join("cosign.key")).expect("cosign.key");
        let public_pem =
            std::fs::read_to_string(dir.path().join("cosign.pub")).expect("cosign.pub");
        assert_cosign_envelope(&private_pem);
        assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));

        let key =
            PrivateKey::from_pem(&private_pem, b"hunter2").expect("decrypts with the password");
        assert_eq!(key.key_type().to_string(), expect);
        assert_eq!(
            key.public_key(),
            PublicKey::from_pem(&public_pem).expect("public key")
        );
        assert!(matches!(
            PrivateKey::from_pem(&private_pem, b"hunter3"),
            Err(sealwatch_trust::Error::WrongPassword)
        ));

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join("cosign.key"))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "private key is readable by its owner only");
        }
        // Only the two key files: no temporary file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 2);
    }
}

#[test]
fn keygen_prefix_and_sealwatch_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("keys")).expect("mkdir");
    let output = sealwatch(
        &["keygen", "--output-key-prefix", "keys/release"],
        dir.path(),
        &[
            ("SEALWATCH_PASSWORD", "from-sealwatch"),
            ("COSIGN_PASSWORD", "from-cosign"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let pem = std::fs::read_to_string(dir.path().join("keys/release.key")).expect("release.key");
    assert!(dir.path().join("keys/release.pub").is_file());
    // SEALWATCH_PASSWORD takes precedence over COSIGN_PASSWORD.
    assert!(PrivateKey::from_pem(&pem, b"from-sealwatch").is_ok());
}

#[test]
fn keygen_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [("COSIGN_PASSWORD", "")];
    assert_eq!(
        sealwatch(&["keygen"], dir.path(), &env).status.code(),
        Some(0)
    );
    let before = std::fs::read(dir.path().join("cosign.key")).expect("key");

    let output = sealwatch(&["keygen"], dir.path(), &env);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("refusing to overwrite"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        std::fs::read(dir.path().join("cosign.key")).expect("key"),
        before,
        "key untouched"
    );

    // Only the public key exists: still refused, and no private key is written.
    let dir2 = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir2.path().join("cosign.pub"), "keep me").expect("write");
    assert_eq!(
        sealwatch(&["keygen"], dir2.path(), &env).status.code(),
        Some(2)
    );
    assert!(!dir2.path().join("cosign.key").exists());

    let output = sealwatch(&["keygen", "--force"], dir.path(), &env);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let after = std::fs::read(dir.path().join("cosign.key")).expect("key");
    assert_ne!(after, before, "--force replaces the key");
    // An empty password is allowed, as in cosign.
    assert!(PrivateKey::from_pem(&String::from_utf8_lossy(&after), b"").is_ok());
}

#[test]
fn keygen_without_password_source_fails_cleanly() {
    // With a controlling terminal the command would prompt; only run where there is none (CI).
    if std::fs::File::open("/dev/tty").is_ok() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let output = sealwatch(&["keygen"], dir.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        0,
        "nothing written"
    );
}

#[test]
fn verify_blob_with_key_and_raw_signature() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [("COSIGN_PASSWORD", "pw")];
    assert_eq!(
        sealwatch(&["keygen"], dir.path(), &env).status.code(),
        Some(0)
    );
    let key = PrivateKey::from_pem(
        &std::fs::read_to_string(dir.path().join("cosign.key")).expect("key"),
        b"pw",
    )
    .expect("decrypts");

    let artifact = b"release tarball bytes";
    std::fs::write(dir.path().join("artifact"), artifact).expect("write");
    let signature = key.sign(artifact).expect("signs");
    std::fs::write(
        dir.path().join("artifact.sig"),
        base64::engine::general_purpose::STANDARD.encode(&signature),
    )
    .expect("write");
    let args = [
        "verify-blob",
        "--key",
        "cosign.pub",
        "--signature",
        "artifact.sig",
        "artifact",
    ];

    let output = sealwatch(&args, dir.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("Verified OK"));

    // One changed byte of the artifact: not verified, exit 1, with the reason.
    std::fs::write(dir.path().join("artifact"), b"release tarball bytez").expect("write");
    let output = sealwatch(&args, dir.path(), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("does not verify over the payload"),
        "{}",
        stderr(&output)
    );

    // A signature file in raw binary form is accepted too.
    std::fs::write(dir.path().join("artifact"), artifact).expect("write");
    std::fs::write(dir.path().join("artifact.sig"), &signature).expect("write");
    assert_eq!(sealwatch(&args, dir.path(), &[]).status.code(), Some(0));

    // A malformed public key is a usage error, not "not verified".
    std::fs::write(
        dir.path().join("cosign.pub"),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .expect("write");
    let output = sealwatch(&args, dir.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

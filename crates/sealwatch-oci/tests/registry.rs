//! The registry client against a real registry (Debian's `docker-registry`, started per test on a
//! free loopback port by `sealwatch_test::registry::TestRegistry`), with the fixture images.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sealwatch_oci::registry::{Credentials, RegistryClient, RegistryOptions, RegistrySource};
use sealwatch_oci::{
    BlobCache, BlobSource, Digest, Error, Image, OpenOptions, Platform, Reference,
};
use sealwatch_test::push::{push_oci_layout, skopeo_push_layout};
use sealwatch_test::registry::TestRegistry;

/// One OCI-layout image of `fixtures/images/MANIFEST.json`.
struct Fixture {
    name: String,
    path: PathBuf,
    tag: String,
    manifest_digest: Digest,
    config_digest: Digest,
    layers: Vec<(Digest, u64)>,
}

fn fixtures() -> Option<Vec<Fixture>> {
    let index = sealwatch_test::require_shared("fixtures/images/MANIFEST.json")?;
    let shared = sealwatch_test::shared_dir()?;
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index).expect("read MANIFEST.json"))
            .expect("MANIFEST.json is JSON");
    let images = json["images"].as_array().expect("images array");
    let digest = |v: &serde_json::Value| {
        v.as_str()
            .expect("digest string")
            .parse::<Digest>()
            .expect("digest")
    };
    Some(
        images
            .iter()
            .filter(|i| i["format"] == "oci-layout")
            .map(|i| Fixture {
                name: i["name"].as_str().expect("name").to_owned(),
                path: shared.join(i["path"].as_str().expect("path")),
                tag: i["reference"].as_str().expect("reference").to_owned(),
                manifest_digest: digest(&i["manifest_digest"]),
                config_digest: digest(&i["config_digest"]),
                layers: i["layers"]
                    .as_array()
                    .expect("layers")
                    .iter()
                    .map(|l| (digest(&l["digest"]), l["size"].as_u64().expect("size")))
                    .collect(),
            })
            .collect(),
    )
}

fn fixture(name: &str) -> Option<Fixture> {
    fixtures()?.into_iter().find(|f| f.name == name)
}

fn reference(registry: &TestRegistry, repo_and_tag: &str) -> Reference {
    format!("{}/{repo_and_tag}", registry.host())
        .parse()
        .expect("valid reference")
}

fn client(options: RegistryOptions) -> RegistryClient {
    RegistryClient::new(options).expect("client")
}

/// A writer that only counts (blob contents are checked by the client's verification).
struct Counter(u64);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn config_size(layout: &Path, manifest: &Digest) -> u64 {
    let bytes =
        std::fs::read(layout.join("blobs/sha256").join(manifest.hex())).expect("manifest blob");
    let json: serde_json::Value = serde_json::from_slice(&bytes).expect("manifest JSON");
    json["config"]["size"].as_u64().expect("config size")
}

#[test]
fn every_fixture_round_trips_through_a_plain_registry() {
    let Some(fixtures) = fixtures() else { return };
    let Some(registry) = TestRegistry::start_plain() else {
        return;
    };
    let client = client(RegistryOptions::default());
    assert!(fixtures.len() >= 3, "expected the three OCI layouts");
    for f in &fixtures {
        let target = reference(&registry, &format!("fixtures/{}:{}", f.name, f.tag));
        let pushed = push_oci_layout(&client, &f.path, &target).expect("push");
        assert_eq!(pushed, f.manifest_digest, "{}: pushed digest", f.name);

        let fetched = client.fetch_manifest(&target).expect("fetch by tag");
        assert_eq!(
            fetched.digest, f.manifest_digest,
            "{}: digest of the manifest served for the tag",
            f.name
        );
        assert_eq!(
            fetched.media_type.as_deref(),
            Some("application/vnd.oci.image.manifest.v1+json")
        );
        let head = client.head_manifest(&target).expect("head");
        assert_eq!(head.digest, f.manifest_digest);
        assert_eq!(head.size, Some(fetched.bytes.len() as u64));
        let by_digest = client
            .fetch_manifest(&target.with_digest(f.manifest_digest.clone()))
            .expect("by digest");
        assert_eq!(by_digest.bytes, fetched.bytes);

        let config = (
            f.config_digest.clone(),
            config_size(&f.path, &f.manifest_digest),
        );
        for (digest, size) in std::iter::once(&config).chain(&f.layers) {
            let mut out = Counter(0);
            let n = client
                .pull_blob(&target, digest, *size, &mut out)
                .expect("pull blob");
            assert_eq!((n, out.0), (*size, *size), "{}: blob {digest}", f.name);
        }
        assert_eq!(
            client.list_tags(&target).expect("tags"),
            vec![f.tag.clone()]
        );
        // Pushing again uploads nothing: every blob is found by HEAD first.
        for (digest, _) in &f.layers {
            assert!(client.blob_exists(&target, digest).expect("head blob"));
        }
    }
}

#[test]
fn image_opens_from_the_registry_through_the_blob_cache() {
    let Some(f) = fixture("distroless-base") else {
        return;
    };
    let Some(registry) = TestRegistry::start_plain() else {
        return;
    };
    let client = Arc::new(client(RegistryOptions::default()));
    let target = reference(&registry, &format!("fixtures/distroless:{}", f.tag));
    push_oci_layout(&client, &f.path, &target).expect("push");

    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache = BlobCache::new(cache_dir.path()).expect("cache");
    let source =
        RegistrySource::new(Arc::clone(&client), target.clone()).into_blob_source(Some(cache));
    let image = Image::from_source(source, &OpenOptions::default()).expect("open image");
    assert_eq!(image.manifest_digest(), Some(&f.manifest_digest));
    assert_eq!(image.config_digest(), Some(&f.config_digest));
    // The config went through the cache, verified and under its digest.
    let cached = BlobCache::new(cache_dir.path())
        .expect("cache")
        .blob_path(&f.config_digest);
    assert!(cached.is_file(), "{} not cached", cached.display());
    assert_eq!(
        Digest::sha256_of(&std::fs::read(&cached).expect("read cached")),
        f.config_digest
    );
}

#[test]
fn multi_arch_index_resolves_by_platform() {
    let (Some(alpine), Some(distroless)) = (fixture("alpine-3.20"), fixture("distroless-base"))
    else {
        return;
    };
    let Some(registry) = TestRegistry::start_plain() else {
        return;
    };
    let client = Arc::new(client(RegistryOptions::default()));
    let target = reference(&registry, "fixtures/multi:both");
    let mut entries = Vec::new();
    // Both fixtures are amd64; the index labels distroless as arm64 so that selection is visible.
    for (f, arch) in [(&alpine, "amd64"), (&distroless, "arm64")] {
        let tagged = reference(&registry, &format!("fixtures/multi:{arch}"));
        assert_eq!(
            push_oci_layout(&client, &f.path, &tagged).expect("push child"),
            f.manifest_digest
        );
        let size = client
            .fetch_manifest_by_digest(&target, &f.manifest_digest, None)
            .expect("child")
            .bytes
            .len();
        entries.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": f.manifest_digest.to_string(),
            "size": size,
            "platform": {"os": "linux", "architecture": arch},
        }));
    }
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    }))
    .expect("index JSON");
    let index_digest = client
        .push_manifest(&target, &index, "application/vnd.oci.image.index.v1+json")
        .expect("push index");
    assert_eq!(index_digest, Digest::sha256_of(&index));

    for (arch, want) in [("arm64", &distroless), ("amd64", &alpine)] {
        let options = OpenOptions {
            platform: Some(Platform::new("linux", arch, None)),
            ..Default::default()
        };
        let source = RegistrySource::new(Arc::clone(&client), target.clone());
        assert_eq!(
            source.root_manifest().expect("root").digest.as_ref(),
            Some(&index_digest)
        );
        let image = Image::from_source(Arc::new(source), &options).expect("open");
        assert_eq!(
            image.manifest_digest(),
            Some(&want.manifest_digest),
            "platform linux/{arch}"
        );
    }
    let options = OpenOptions {
        platform: Some(Platform::new("linux", "s390x", None)),
        ..Default::default()
    };
    let source = RegistrySource::new(Arc::clone(&client), target);
    assert!(
        Image::from_source(Arc::new(source), &options).is_err(),
        "no s390x entry"
    );
}

#[test]
fn tls_registry_with_htpasswd() {
    let Some(f) = fixture("alpine-3.20") else {
        return;
    };
    let Some(registry) = TestRegistry::start_tls_htpasswd("sealwatch", "right-pass") else {
        return;
    };
    let ca = registry
        .ca_cert_path()
        .expect("TLS registry has a CA")
        .to_owned();
    let target = reference(&registry, &format!("team/alpine:{}", f.tag));

    let good = client(RegistryOptions {
        credentials: Some(Credentials::new("sealwatch", "right-pass")),
        ca_files: vec![ca.clone()],
        ..Default::default()
    });
    assert_eq!(
        push_oci_layout(&good, &f.path, &target).expect("push with credentials"),
        f.manifest_digest
    );
    assert_eq!(
        good.fetch_manifest(&target).expect("pull").digest,
        f.manifest_digest
    );

    // Wrong password: a 401 error that names the registry and repository.
    let wrong = client(RegistryOptions {
        credentials: Some(Credentials::new("sealwatch", "wrong-pass")),
        ca_files: vec![ca.clone()],
        ..Default::default()
    });
    let err = wrong.fetch_manifest(&target).expect_err("wrong password");
    assert!(matches!(err, Error::AuthenticationFailed { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "authentication failed for {}/team/alpine",
            registry.host()
        )),
        "{msg}"
    );
    assert!(!msg.contains("wrong-pass"), "secret in message: {msg}");

    // No credentials at all.
    let anonymous = client(RegistryOptions {
        ca_files: vec![ca.clone()],
        ..Default::default()
    });
    let err = anonymous.fetch_manifest(&target).expect_err("anonymous");
    assert!(matches!(err, Error::AuthenticationFailed { .. }), "{err:?}");

    // Credentials from a docker config.json (`auth` form) work too.
    let docker_dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        r#"{{"auths":{{"https://{}":{{"auth":"c2VhbHdhdGNoOnJpZ2h0LXBhc3M="}}}}}}"#,
        registry.host()
    );
    std::fs::write(docker_dir.path().join("config.json"), config).expect("write config.json");
    let from_config = client(RegistryOptions {
        docker_config_dir: Some(docker_dir.path().to_owned()),
        ca_files: vec![ca],
        ..Default::default()
    });
    assert_eq!(
        from_config.head_manifest(&target).expect("head").digest,
        f.manifest_digest
    );

    // Without the CA the certificate is not trusted: an error, not a fallback to plain HTTP.
    let untrusting = client(RegistryOptions {
        credentials: Some(Credentials::new("sealwatch", "right-pass")),
        ..Default::default()
    });
    let err = untrusting
        .fetch_manifest(&target)
        .expect_err("untrusted certificate");
    let chain = error_chain(&err);
    assert!(chain.to_lowercase().contains("certificate"), "{chain}");
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

#[test]
fn missing_tag_and_repository_are_named() {
    let Some(f) = fixture("alpine-3.20") else {
        return;
    };
    let Some(registry) = TestRegistry::start_plain() else {
        return;
    };
    let client = client(RegistryOptions::default());
    push_oci_layout(
        &client,
        &f.path,
        &reference(&registry, "fixtures/alpine:3.20.3"),
    )
    .expect("push");

    let err = client
        .fetch_manifest(&reference(&registry, "fixtures/alpine:nope"))
        .expect_err("missing tag");
    assert_eq!(
        err.to_string(),
        format!("manifest unknown: {}/fixtures/alpine:nope", registry.host())
    );
    let err = client
        .head_manifest(&reference(&registry, "fixtures/alpine:nope"))
        .expect_err("missing tag (HEAD)");
    assert!(matches!(err, Error::ManifestUnknown { .. }), "{err:?}");

    let err = client
        .fetch_manifest(&reference(&registry, "fixtures/absent:1"))
        .expect_err("missing repository");
    assert!(
        matches!(
            err,
            Error::NameUnknown { .. } | Error::ManifestUnknown { .. }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("fixtures/absent"), "{err}");

    let missing_blob = Digest::sha256_of(b"not in the registry");
    let err = client
        .pull_blob(
            &reference(&registry, "fixtures/alpine:3.20.3"),
            &missing_blob,
            19,
            &mut Counter(0),
        )
        .expect_err("missing blob");
    assert!(matches!(err, Error::BlobUnknown { .. }), "{err:?}");
}

#[test]
fn corrupted_blob_and_manifest_in_storage_are_detected() {
    let Some(f) = fixture("alpine-3.20") else {
        return;
    };
    let Some(registry) = TestRegistry::start_plain() else {
        return;
    };
    let client = client(RegistryOptions::default());
    let target = reference(&registry, "fixtures/alpine:3.20.3");
    push_oci_layout(&client, &f.path, &target).expect("push");

    // Flip one byte of the layer in the registry's storage: same size, different content.
    let (layer, size) = f.layers.first().expect("one layer").clone();
    let data = registry.blob_data_path("sha256", layer.hex());
    let mut bytes = std::fs::read(&data).expect("stored layer");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&data, &bytes).expect("corrupt layer");
    let err = client
        .pull_blob(&target, &layer, size, &mut Counter(0))
        .expect_err("corrupted layer");
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
    // A descriptor with the wrong size is caught too (the registry does not check sizes).
    let config_size = config_size(&f.path, &f.manifest_digest);
    let err = client
        .pull_blob(&target, &f.config_digest, config_size + 1, &mut Counter(0))
        .expect_err("size");
    assert!(matches!(err, Error::SizeMismatch { .. }), "{err:?}");

    // The manifest too: the registry serves what it stores; the client checks it against the digest.
    let manifest_data = registry.blob_data_path("sha256", f.manifest_digest.hex());
    let mut manifest = std::fs::read(&manifest_data).expect("stored manifest");
    manifest.push(b'\n');
    std::fs::write(&manifest_data, &manifest).expect("corrupt manifest");
    let err = client
        .fetch_manifest(&target.with_digest(f.manifest_digest.clone()))
        .expect_err("by digest");
    assert!(
        matches!(err, Error::ManifestDigestMismatch { .. }),
        "{err:?}"
    );
}

#[test]
fn manifest_over_the_size_limit_is_refused() {
    let Some(f) = fixture("distroless-base") else {
        return;
    };
    let Some(registry) = TestRegistry::start_plain() else {
        return;
    };
    let target = reference(&registry, "fixtures/distroless:base-debian12");
    push_oci_layout(&client(RegistryOptions::default()), &f.path, &target).expect("push");
    // The distroless manifest is 2,093 bytes.
    let small = client(RegistryOptions {
        max_manifest_size: 2092,
        ..Default::default()
    });
    let err = small.fetch_manifest(&target).expect_err("too large");
    assert!(
        matches!(err, Error::ManifestTooLarge { limit: 2092, .. }),
        "{err:?}"
    );
    let exact = client(RegistryOptions {
        max_manifest_size: 2093,
        ..Default::default()
    });
    assert_eq!(
        exact.fetch_manifest(&target).expect("at the limit").digest,
        f.manifest_digest
    );
}

#[test]
fn delete_tags_and_referrers() {
    let Some(f) = fixture("alpine-3.20") else {
        return;
    };
    let Some(registry) = TestRegistry::start_plain() else {
        return;
    };
    let client = client(RegistryOptions::default());
    let target = reference(&registry, "fixtures/alpine:3.20.3");
    push_oci_layout(&client, &f.path, &target).expect("push");
    // A second tag on the same manifest.
    let manifest = client.fetch_manifest(&target).expect("fetch");
    let other = target.with_tag("latest").expect("tag");
    let media_type = manifest.media_type.as_deref().expect("media type");
    assert_eq!(
        client
            .push_manifest(&other, &manifest.bytes, media_type)
            .expect("retag"),
        f.manifest_digest
    );
    let mut tags = client.list_tags(&target).expect("tags");
    tags.sort();
    assert_eq!(tags, vec!["3.20.3".to_owned(), "latest".to_owned()]);

    // Debian's registry has no referrers API: that is `None`, not an error and not "no referrers".
    assert_eq!(
        client
            .referrers(&target, &f.manifest_digest, None)
            .expect("referrers"),
        None
    );

    client
        .delete_manifest(&target, &f.manifest_digest)
        .expect("delete");
    let err = client.fetch_manifest(&target).expect_err("deleted");
    assert!(matches!(err, Error::ManifestUnknown { .. }), "{err:?}");
}

#[test]
fn skopeo_push_is_read_back_with_the_same_digests() {
    let Some(f) = fixture("alpine-3.20") else {
        return;
    };
    let Some(registry) = TestRegistry::start_plain() else {
        return;
    };
    if !Path::new("/usr/bin/skopeo").is_file() {
        eprintln!("skipping: skopeo not installed");
        return;
    }
    skopeo_push_layout(&f.path, &registry, "crosscheck/alpine:3.20.3").expect("skopeo copy");
    let plain_client = client(RegistryOptions::default());
    let target = reference(&registry, "crosscheck/alpine:3.20.3");
    assert_eq!(
        plain_client.fetch_manifest(&target).expect("fetch").digest,
        f.manifest_digest
    );
    let (layer, size) = f.layers.first().expect("layer");
    assert_eq!(
        plain_client
            .pull_blob(&target, layer, *size, &mut Counter(0))
            .expect("pull"),
        *size
    );

    // The same through TLS and basic auth: skopeo pushes, sealwatch reads with the CA and password.
    let Some(tls) = TestRegistry::start_tls_htpasswd("cross", "check-pass") else {
        return;
    };
    skopeo_push_layout(&f.path, &tls, "crosscheck/alpine:3.20.3").expect("skopeo copy over TLS");
    let tls_client = client(RegistryOptions {
        credentials: Some(Credentials::new("cross", "check-pass")),
        ca_files: vec![tls.ca_cert_path().expect("ca").to_owned()],
        ..Default::default()
    });
    let tls_target = reference(&tls, "crosscheck/alpine:3.20.3");
    assert_eq!(
        tls_client
            .fetch_manifest(&tls_target)
            .expect("fetch over TLS")
            .digest,
        f.manifest_digest
    );
}

/// Not a test: prints how long pushing and pulling the 48 MB Debian layer takes against a local
/// registry (run with `cargo test --release -p sealwatch-oci --test registry -- --ignored --nocapture`).
#[test]
#[ignore = "measurement, run by hand"]
fn measure_debian_layer_push_and_pull() {
    let Some(f) = fixture("debian-bookworm-minbase") else {
        return;
    };
    let Some(registry) = TestRegistry::start_plain() else {
        return;
    };
    let client = client(RegistryOptions::default());
    let target = reference(&registry, "fixtures/debian:bookworm-minbase");
    let started = std::time::Instant::now();
    push_oci_layout(&client, &f.path, &target).expect("push");
    let pushed = started.elapsed();
    let (layer, size) = f.layers.first().expect("layer").clone();
    let started = std::time::Instant::now();
    client
        .pull_blob(&target, &layer, size, &mut Counter(0))
        .expect("pull");
    let pulled = started.elapsed();
    let mib = size as f64 / (1024.0 * 1024.0);
    eprintln!(
        "debian layer {mib:.1} MiB: push {pushed:?}, pull+verify {pulled:?} ({:.0} MiB/s)",
        mib / pulled.as_secs_f64()
    );
}

//! The shared fixture images open, and their digests, layers and package files match MANIFEST.json.

use std::path::PathBuf;

use sealwatch_oci::{FileRequest, Image, ImageSpec, OpenOptions};
use serde_json::Value;

struct Fixture {
    name: String,
    path: PathBuf,
    format: String,
    reference: Option<String>,
    json: Value,
}

fn fixtures() -> Option<Vec<Fixture>> {
    let dir = sealwatch_test::require_shared("fixtures/images/MANIFEST.json")?;
    let shared = sealwatch_test::shared_dir()?;
    let text = std::fs::read_to_string(dir).expect("read MANIFEST.json");
    let manifest: Value = serde_json::from_str(&text).expect("parse MANIFEST.json");
    let images = manifest["images"].as_array().expect("images array");
    Some(
        images
            .iter()
            .map(|img| Fixture {
                name: img["name"].as_str().expect("name").to_owned(),
                path: shared.join(img["path"].as_str().expect("path")),
                format: img["format"].as_str().expect("format").to_owned(),
                reference: img["reference"].as_str().map(str::to_owned),
                json: img.clone(),
            })
            .collect(),
    )
}

fn spec_of(f: &Fixture) -> ImageSpec {
    match f.format.as_str() {
        "oci-layout" => ImageSpec::OciLayout {
            path: f.path.clone(),
            reference: f.reference.clone(),
        },
        _ => ImageSpec::DockerArchive {
            path: f.path.clone(),
            reference: None,
        },
    }
}

fn quiet() -> OpenOptions {
    OpenOptions {
        quiet: true,
        ..OpenOptions::default()
    }
}

#[test]
fn every_fixture_opens_with_the_recorded_digests() {
    let Some(fixtures) = fixtures() else { return };
    assert_eq!(fixtures.len(), 5);
    for f in &fixtures {
        // Detection by content must agree with the recorded format.
        let detected = ImageSpec::detect(&f.path).expect("detect");
        let expected_kind = match f.format.as_str() {
            "oci-layout" => matches!(detected, ImageSpec::OciLayout { .. }),
            _ => matches!(detected, ImageSpec::DockerArchive { .. }),
        };
        assert!(expected_kind, "{}: detected {detected:?}", f.name);

        let image =
            Image::open(&spec_of(f), &quiet()).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        let digest = |v: &Value| v.as_str().map(str::to_owned);
        assert_eq!(
            image.manifest_digest().map(|d| d.to_string()),
            digest(&f.json["manifest_digest"]),
            "{}",
            f.name
        );
        assert_eq!(
            image.config_digest().map(|d| d.to_string()),
            digest(&f.json["config_digest"]),
            "{}",
            f.name
        );
        assert_eq!(image.platform().os, f.json["os"].as_str().expect("os"));
        assert_eq!(
            image.platform().architecture,
            f.json["architecture"].as_str().expect("arch")
        );
        if let Some(mt) = f.json["manifest_media_type"].as_str() {
            assert_eq!(image.manifest_media_type(), Some(mt), "{}", f.name);
        }
        let layers = f.json["layers"].as_array().expect("layers");
        assert_eq!(image.layers().len(), layers.len(), "{}", f.name);
        for (got, want) in image.layers().iter().zip(layers) {
            assert_eq!(
                got.diff_id.as_ref().map(|d| d.to_string()),
                digest(&want["diff_id"]),
                "{}",
                f.name
            );
            if f.format == "oci-layout" {
                assert_eq!(
                    Some(got.digest.to_string()),
                    digest(&want["digest"]),
                    "{}",
                    f.name
                );
                assert_eq!(Some(got.size), want["size"].as_u64(), "{}", f.name);
            } else {
                // docker save layers are stored uncompressed: the blob digest is the diff_id.
                assert_eq!(got.diff_id.as_ref(), Some(&got.digest), "{}", f.name);
            }
        }
    }
}

#[test]
fn squashed_view_finds_package_databases_and_os_release() {
    let Some(fixtures) = fixtures() else { return };
    let request = FileRequest::new()
        .path("etc/os-release")
        .path("/lib/apk/db/installed")
        .path("var/lib/dpkg/status")
        .glob("var/lib/dpkg/status.d/*")
        .expect("glob");
    for f in &fixtures {
        let image =
            Image::open(&spec_of(f), &quiet()).unwrap_or_else(|e| panic!("{}: {e}", f.name));
        let fs = image
            .read_files(&request)
            .unwrap_or_else(|e| panic!("{}: {e}", f.name));
        let os_release = fs
            .read("etc/os-release")
            .expect("resolvable")
            .expect("os-release present");
        let os_release = String::from_utf8_lossy(os_release);
        let id = f.json["os_release"]["id"].as_str().expect("id");
        assert!(
            os_release.contains(&format!("ID={id}")),
            "{}: {os_release}",
            f.name
        );

        let db = &f.json["os_package_db"];
        let packages = db["packages"].as_u64().expect("packages") as usize;
        let count = match db["type"].as_str().expect("type") {
            "apk" => count_stanzas(
                fs.read("lib/apk/db/installed")
                    .expect("ok")
                    .expect("apk db"),
                "P:",
            ),
            "dpkg" => count_stanzas(
                fs.read("var/lib/dpkg/status")
                    .expect("ok")
                    .expect("dpkg status"),
                "Package:",
            ),
            "dpkg-status.d" => fs
                .files_with_content()
                .filter(|(p, _)| {
                    p.starts_with("var/lib/dpkg/status.d/") && !p.ends_with(".md5sums")
                })
                .count(),
            other => panic!("unknown db type {other}"),
        };
        assert_eq!(count, packages, "{}", f.name);

        // Metadata is kept for every entry, content only for what was asked.
        assert!(fs.len() > 50, "{}: only {} entries", f.name, fs.len());
        let bin_sh = fs.entries().filter(|e| e.content().is_some()).count();
        assert!(bin_sh < 30, "{}: kept {bin_sh} files", f.name);
        for layer in image.layers() {
            assert!(
                layer.uncompressed_size().is_some_and(|n| n > 0),
                "{}",
                f.name
            );
        }
    }
}

fn count_stanzas(db: &[u8], field: &str) -> usize {
    String::from_utf8_lossy(db)
        .lines()
        .filter(|l| l.starts_with(field))
        .count()
}

#[test]
fn distroless_symlinks_resolve_inside_the_image() {
    let Some(dir) = sealwatch_test::require_shared("fixtures/images/distroless-base") else {
        return;
    };
    let image = Image::open(
        &ImageSpec::OciLayout {
            path: dir,
            reference: None,
        },
        &quiet(),
    )
    .expect("open");
    let fs = image
        .read_files(&FileRequest::new().path("etc/passwd"))
        .expect("read");
    // The absolute symlink resolves relative to the image root, through the /lib -> usr/lib link.
    let ld = fs
        .resolve("usr/lib64/ld-linux-x86-64.so.2")
        .expect("no loop")
        .expect("exists");
    assert!(
        ld.path
            .starts_with("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so"),
        "{}",
        ld.path
    );
    let tmp = fs.entry("tmp").expect("tmp");
    assert_eq!(tmp.mode, 0o1777);
    assert!(fs
        .read("etc/passwd")
        .expect("ok")
        .is_some_and(|p| p.windows(7).any(|w| w == b"nonroot")));
    // Not requested: an error that says so, not silently empty.
    let err = fs.read("etc/group").expect_err("must fail");
    assert!(err.to_string().contains("not requested"), "{err}");
}

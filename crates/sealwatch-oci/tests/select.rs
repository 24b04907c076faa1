//! Choosing an image: platform selection from an index, and `oci:PATH:REF` among several manifests.

use std::path::Path;

use sealwatch_oci::manifest::{media_type, Compression, ImageIndex};
use sealwatch_oci::{
    Descriptor, Error, FileRequest, Image, ImageSpec, OciLayoutWriter, OpenOptions, Platform,
};

fn tar_with(path: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(content.len() as u64);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, path, content).expect("append");
    b.into_inner().expect("tar")
}

/// One image per platform, tagged `multi` through an index; plus a standalone image tagged `solo`.
fn build(dir: &Path) {
    let mut w = OciLayoutWriter::create(dir).expect("layout");
    let mut children = Vec::new();
    for (os, arch, variant) in [
        ("linux", "amd64", None),
        ("linux", "arm64", Some("v8")),
        ("linux", "arm", Some("v7")),
    ] {
        let layer = w
            .write_layer(&tar_with("etc/arch", arch.as_bytes()), Compression::Gzip)
            .expect("layer");
        let config = serde_json::json!({"os": os, "architecture": arch, "variant": variant});
        let mut desc = w.write_image(config, &[layer], None).expect("image");
        desc.platform = Some(Platform::new(os, arch, variant));
        children.push(desc);
    }
    let layer = w
        .write_layer(&tar_with("etc/arch", b"solo"), Compression::None)
        .expect("layer");
    let solo = w
        .write_image(
            serde_json::json!({"os": "linux", "architecture": "amd64"}),
            &[layer],
            Some("solo"),
        )
        .expect("solo");
    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(media_type::OCI_INDEX.into()),
        manifests: children,
        annotations: Default::default(),
    };
    let bytes = serde_json::to_vec(&index).expect("json");
    let mut index_desc: Descriptor = w.write_blob(media_type::OCI_INDEX, &bytes).expect("index");
    index_desc
        .annotations
        .insert("org.opencontainers.image.ref.name".into(), "multi".into());
    // The writer already listed every image manifest in index.json; keep only `solo` and `multi`.
    let dir = w.dir().to_owned();
    w.finish().expect("finish");
    let top = ImageIndex {
        schema_version: 2,
        media_type: Some(media_type::OCI_INDEX.into()),
        manifests: vec![solo, index_desc],
        annotations: Default::default(),
    };
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&top).expect("json"),
    )
    .expect("write");
}

fn arch_of(dir: &Path, reference: &str, platform: Option<&str>) -> sealwatch_oci::Result<String> {
    let options = OpenOptions {
        quiet: true,
        platform: platform.map(|p| p.parse().expect("platform")),
        ..Default::default()
    };
    let spec = ImageSpec::OciLayout {
        path: dir.to_owned(),
        reference: Some(reference.into()),
    };
    let image = Image::open(&spec, &options)?;
    let fs = image.read_files(&FileRequest::new().path("etc/arch"))?;
    let content = fs.read("etc/arch")?.unwrap_or_default();
    assert_eq!(
        image.platform().architecture.as_bytes(),
        if reference == "solo" {
            &b"amd64"[..]
        } else {
            content
        }
    );
    Ok(String::from_utf8_lossy(content).into_owned())
}

#[test]
fn selects_platform_and_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    build(dir.path());
    let check = |reference: &str, platform: Option<&str>, expect: &str| {
        let got = arch_of(dir.path(), reference, platform)
            .unwrap_or_else(|e| panic!("{reference} {platform:?}: {e}"));
        assert_eq!(got, expect, "{reference} {platform:?}");
    };
    check("solo", None, "solo");
    check("multi", Some("linux/arm64"), "arm64");
    check("multi", Some("linux/arm64/v8"), "arm64");
    check("multi", Some("linux/arm/v7"), "arm");
    check("multi", Some("linux/amd64"), "amd64");
    if Platform::host() == Platform::new("linux", "amd64", None) {
        check("multi", None, "amd64");
    }

    let err = arch_of(dir.path(), "multi", Some("linux/s390x")).expect_err("no such platform");
    assert!(matches!(err, Error::NoMatchingPlatform { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("linux/s390x") && msg.contains("linux/arm64/v8"),
        "{msg}"
    );

    let err = arch_of(dir.path(), "nope", None).expect_err("no such ref");
    assert!(
        err.to_string().contains("\"nope\"") && err.to_string().contains("solo"),
        "{err}"
    );
}

#[test]
fn several_named_images_need_a_reference() {
    let dir = tempfile::tempdir().expect("tempdir");
    build(dir.path());
    // Without a reference, several named images are ambiguous: the error lists their names.
    let spec = ImageSpec::OciLayout {
        path: dir.path().to_owned(),
        reference: None,
    };
    let err = Image::open(
        &spec,
        &OpenOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .expect_err("ambiguous");
    let msg = err.to_string();
    assert!(
        msg.contains("solo") && msg.contains("multi") && msg.contains("oci:PATH:REF"),
        "{msg}"
    );
}

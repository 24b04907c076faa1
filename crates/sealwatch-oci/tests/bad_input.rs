//! Hostile and broken images, built in temp dirs: each must give a clear error naming what is
//! wrong (or, for symlinks, stay inside the image), never a panic.

use std::path::Path;

use sealwatch_oci::manifest::{media_type, Compression, ImageManifest};
use sealwatch_oci::{Error, FileRequest, Image, ImageSpec, Limits, OciLayoutWriter, OpenOptions};

/// One tar entry for [`tar_of`].
enum Item<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    /// Written with the raw name bytes, bypassing the tar crate's path checks.
    RawFile(&'a str, &'a [u8]),
}

fn tar_of(items: &[Item<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for item in items {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(0);
        match item {
            Item::File(path, data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                b.append_data(&mut h, path, *data).expect("append file");
            }
            Item::Dir(path) => {
                h.set_mode(0o755);
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Directory);
                b.append_data(&mut h, path, &[][..]).expect("append dir");
            }
            Item::Symlink(path, target) => {
                h.set_size(0);
                h.set_entry_type(tar::EntryType::Symlink);
                b.append_link(&mut h, path, target).expect("append link");
            }
            Item::RawFile(path, data) => {
                h.set_size(data.len() as u64);
                h.set_entry_type(tar::EntryType::Regular);
                let name = &mut h.as_old_mut().name;
                name[..path.len()].copy_from_slice(path.as_bytes());
                h.set_cksum();
                b.append(&h, *data).expect("append raw");
            }
        }
    }
    b.into_inner().expect("finish tar")
}

fn config() -> serde_json::Value {
    serde_json::json!({"architecture": "amd64", "os": "linux", "config": {"User": "1000"}})
}

/// A one-image layout with the given layer tars.
fn layout_with(dir: &Path, tars: &[Vec<u8>], compression: Compression) -> OciLayoutWriter {
    let mut w = OciLayoutWriter::create(dir).expect("create layout");
    let layers: Vec<_> = tars
        .iter()
        .map(|t| w.write_layer(t, compression).expect("layer"))
        .collect();
    w.write_image(config(), &layers, Some("test"))
        .expect("image");
    w
}

fn open(dir: &Path) -> sealwatch_oci::Result<Image> {
    Image::open(
        &ImageSpec::OciLayout {
            path: dir.to_owned(),
            reference: None,
        },
        &quiet(),
    )
}

fn quiet() -> OpenOptions {
    OpenOptions {
        quiet: true,
        ..OpenOptions::default()
    }
}

fn read_all(dir: &Path) -> sealwatch_oci::Result<sealwatch_oci::SquashedFs> {
    open(dir)?.read_files(&FileRequest::new().prefix("etc/"))
}

fn assert_err_contains(err: &Error, needles: &[&str]) {
    let msg = err.to_string();
    eprintln!("error as the user sees it: {msg}");
    for n in needles {
        assert!(msg.contains(n), "error {msg:?} should mention {n:?}");
    }
}

#[test]
fn good_image_reads_back() {
    // The baseline the broken variants differ from.
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = tar_of(&[Item::Dir("etc"), Item::File("etc/hostname", b"box\n")]);
    layout_with(dir.path(), &[tar], Compression::Gzip)
        .finish()
        .expect("finish");
    let fs = read_all(dir.path()).expect("reads");
    assert_eq!(fs.read("/etc/hostname").expect("ok"), Some(&b"box\n"[..]));
}

#[test]
fn truncated_tar() {
    let dir = tempfile::tempdir().expect("tempdir");
    let full = tar_of(&[
        Item::File("etc/big", &[7u8; 4000]),
        Item::File("etc/after", b"x"),
    ]);
    // Cut in the middle of etc/big's body; the layer digest and diff_id describe the cut bytes,
    // so only the tar reader can notice.
    let cut = full[..512 + 1500].to_vec();
    let w = layout_with(dir.path(), &[cut], Compression::None);
    w.finish().expect("finish");
    let err = read_all(dir.path()).expect_err("must fail");
    let layer = open(dir.path()).expect("opens").layers()[0]
        .digest
        .to_string();
    assert_err_contains(&err, &[&layer, "etc/big", "truncated"]);
    // Also when the cut entry's body is skipped rather than kept.
    let err = open(dir.path())
        .expect("opens")
        .read_files(&FileRequest::new())
        .expect_err("must fail");
    assert_err_contains(&err, &[&layer]);
}

#[test]
fn truncated_gzip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = tar_of(&[
        Item::File("etc/a", &[1u8; 20000]),
        Item::File("etc/b", b"b"),
    ]);
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &tar).expect("gzip");
    let gz = enc.finish().expect("gzip");
    let cut = &gz[..gz.len() / 2];
    let mut w = OciLayoutWriter::create(dir.path()).expect("layout");
    let layer = w.write_blob(media_type::OCI_LAYER_GZIP, cut).expect("blob");
    w.write_image(
        config(),
        &[(layer.clone(), sealwatch_oci::Digest::sha256_of(&tar))],
        None,
    )
    .expect("image");
    w.finish().expect("finish");
    let err = read_all(dir.path()).expect_err("must fail");
    assert_err_contains(&err, &[&layer.digest.to_string()]);
    assert!(matches!(err, Error::LayerRead { .. }), "{err:?}");
}

#[test]
fn wrong_blob_digest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = tar_of(&[Item::File("etc/a", b"original")]);
    let image = layout_with(dir.path(), &[tar], Compression::None)
        .finish()
        .expect("finish");
    let layer = open(&image).expect("opens").layers()[0].digest.clone();
    // Same size, other bytes, under the expected name.
    let path = image.join("blobs/sha256").join(layer.hex());
    let mut bytes = std::fs::read(&path).expect("read blob");
    let pos = bytes
        .windows(8)
        .position(|w| w == b"original")
        .expect("content in tar");
    bytes[pos] = b'O';
    std::fs::write(&path, &bytes).expect("tamper");
    let err = read_all(&image).expect_err("must fail");
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err:?}");
    assert_err_contains(&err, &[&layer.to_string(), "hashes to"]);
}

#[test]
fn wrong_blob_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = tar_of(&[Item::File("etc/a", b"a")]);
    let mut w = OciLayoutWriter::create(dir.path()).expect("layout");
    let (mut layer, diff_id) = w.write_layer(&tar, Compression::Gzip).expect("layer");
    layer.size += 1; // the registry accepts such descriptors; we must not
    w.write_image(config(), &[(layer.clone(), diff_id)], None)
        .expect("image");
    w.finish().expect("finish");
    let err = read_all(dir.path()).expect_err("must fail");
    assert!(matches!(err, Error::SizeMismatch { .. }), "{err:?}");
    assert_err_contains(
        &err,
        &[
            &layer.digest.to_string(),
            &format!("descriptor says {} bytes", layer.size),
        ],
    );
}

#[test]
fn manifest_over_the_size_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = tar_of(&[Item::File("etc/a", b"a")]);
    let mut w = OciLayoutWriter::create(dir.path()).expect("layout");
    let layer = w.write_layer(&tar, Compression::Gzip).expect("layer");
    let config_desc = w.write_blob(media_type::OCI_CONFIG, b"{}").expect("config");
    let mut manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.into()),
        config: config_desc,
        layers: vec![layer.0],
        annotations: Default::default(),
    };
    manifest
        .annotations
        .insert("padding".into(), "x".repeat(5 << 20));
    let desc = w.add_manifest(&manifest, None).expect("manifest");
    w.finish().expect("finish");
    let err = open(dir.path()).expect_err("must fail");
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert_err_contains(&err, &[&desc.digest.to_string(), "over the limit"]);
}

#[test]
fn layer_entry_climbing_out_of_the_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = tar_of(&[
        Item::Dir("etc"),
        Item::RawFile("../../etc/passwd", b"root::0:0::/:/bin/sh\n"),
    ]);
    layout_with(dir.path(), &[tar], Compression::Gzip)
        .finish()
        .expect("finish");
    let layer = open(dir.path()).expect("opens").layers()[0]
        .digest
        .to_string();
    let err = read_all(dir.path()).expect_err("must fail");
    assert!(matches!(err, Error::UnsafeLayerPath { .. }), "{err:?}");
    assert_err_contains(
        &err,
        &[&layer, "../../etc/passwd", "escapes the image root"],
    );
}

#[test]
fn absolute_symlink_stays_inside_the_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = tar_of(&[
        Item::Dir("etc"),
        Item::File("etc/shadow", b"image-shadow"),
        Item::Symlink("etc/abs", "/etc/shadow"),
        Item::Symlink("etc/climb", "../../../../../../etc/shadow"),
        Item::Symlink("etc/host-only", "/root/.ssh/id_rsa"),
    ]);
    layout_with(dir.path(), &[tar], Compression::Gzip)
        .finish()
        .expect("finish");
    let image = open(dir.path()).expect("opens");
    let fs = image
        .read_files(
            &FileRequest::new()
                .path("etc/abs")
                .path("etc/climb")
                .path("etc/host-only"),
        )
        .expect("reads");
    assert_eq!(fs.read("etc/abs").expect("ok"), Some(&b"image-shadow"[..]));
    assert_eq!(
        fs.read("etc/climb").expect("ok"),
        Some(&b"image-shadow"[..])
    );
    assert_eq!(
        fs.resolve_path("etc/climb").expect("ok").as_deref(),
        Some("etc/shadow")
    );
    // Exists on many hosts, never in this image: not found, not read from the host.
    assert_eq!(fs.read("etc/host-only").expect("ok"), None);
}

#[test]
fn symlink_loop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = tar_of(&[
        Item::Dir("etc"),
        Item::Symlink("etc/a", "b"),
        Item::Symlink("etc/b", "/etc/a"),
    ]);
    layout_with(dir.path(), &[tar], Compression::Gzip)
        .finish()
        .expect("finish");
    // Reading the image works; resolving the loop is an error that names the path.
    let fs = open(dir.path())
        .expect("opens")
        .read_files(&FileRequest::new().path("etc/a"))
        .expect("reads");
    let err = fs.read("etc/a").expect_err("must fail");
    assert!(
        matches!(&err, Error::SymlinkLoop { path } if path == "etc/a"),
        "{err:?}"
    );
    assert_err_contains(&err, &["etc/a", "too many symbolic links"]);
}

#[test]
fn unknown_layer_media_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut w = OciLayoutWriter::create(dir.path()).expect("layout");
    let tar = tar_of(&[Item::File("etc/a", b"a")]);
    let diff_id = sealwatch_oci::Digest::sha256_of(&tar);
    let layer = w
        .write_blob("application/vnd.example.weird.layer", &tar)
        .expect("blob");
    w.write_image(config(), &[(layer.clone(), diff_id)], None)
        .expect("image");
    w.finish().expect("finish");
    let err = open(dir.path()).expect_err("must fail");
    assert!(matches!(err, Error::UnsupportedMediaType { .. }), "{err:?}");
    assert_err_contains(
        &err,
        &[
            &layer.digest.to_string(),
            "application/vnd.example.weird.layer",
        ],
    );
}

#[test]
fn decompressed_size_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = tar_of(&[Item::File("etc/zeros", &vec![0u8; 1 << 20])]);
    layout_with(dir.path(), &[tar], Compression::Gzip)
        .finish()
        .expect("finish");
    let options = OpenOptions {
        quiet: true,
        limits: Limits {
            max_total_bytes: 64 << 10,
            ..Limits::default()
        },
        ..Default::default()
    };
    let image = Image::open(
        &ImageSpec::OciLayout {
            path: dir.path().to_owned(),
            reference: None,
        },
        &options,
    )
    .expect("opens");
    let err = image
        .read_files(&FileRequest::new())
        .expect_err("must fail");
    assert!(matches!(err, Error::DecompressedTooLarge { .. }), "{err:?}");
}

#[test]
fn diff_id_mismatch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tar = tar_of(&[Item::File("etc/a", b"a")]);
    let mut w = OciLayoutWriter::create(dir.path()).expect("layout");
    let (layer, _) = w.write_layer(&tar, Compression::Gzip).expect("layer");
    let wrong = sealwatch_oci::Digest::sha256_of(b"not the tar");
    w.write_image(config(), &[(layer, wrong.clone())], None)
        .expect("image");
    w.finish().expect("finish");
    let err = read_all(dir.path()).expect_err("must fail");
    assert!(matches!(err, Error::DiffIdMismatch { .. }), "{err:?}");
    assert_err_contains(&err, &[&wrong.to_string()]);
}

#[test]
fn whiteouts_zstd_and_cross_layer_symlinks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lower = tar_of(&[
        Item::Dir("etc"),
        Item::File("etc/gone", b"g"),
        Item::Dir("opt"),
        Item::File("opt/old", b"o"),
        Item::Dir("usr"),
        Item::Dir("usr/lib"),
        Item::File("usr/lib/os-release", b"ID=test\n"),
    ]);
    let upper = tar_of(&[
        Item::Dir("etc"),
        Item::File("etc/.wh.gone", b""),
        Item::Symlink("etc/os-release", "../usr/lib/os-release"),
        Item::Dir("opt"),
        Item::File("opt/.wh..wh..opq", b""),
        Item::File("opt/new", b"n"),
    ]);
    layout_with(dir.path(), &[lower, upper], Compression::Zstd)
        .finish()
        .expect("finish");
    let fs = open(dir.path())
        .expect("opens")
        .read_files(&FileRequest::new().path("etc/os-release"))
        .expect("reads");
    let paths: Vec<&str> = fs.entries().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "etc",
            "etc/os-release",
            "opt",
            "opt/new",
            "usr",
            "usr/lib",
            "usr/lib/os-release"
        ]
    );
    // The target is in the lower layer: the second pass fetched it.
    assert_eq!(
        fs.read("etc/os-release").expect("ok"),
        Some(&b"ID=test\n"[..])
    );
    assert_eq!(fs.second_pass_layers(), 1);
}

#[test]
fn hard_link_to_an_unrequested_file_gets_its_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o4755);
    h.set_size(6);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "usr/bin/su", &b"binary"[..])
        .expect("file");
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o4755);
    h.set_size(0);
    h.set_entry_type(tar::EntryType::Link);
    b.append_link(&mut h, "bin/su", "usr/bin/su")
        .expect("hard link");
    let tar = b.into_inner().expect("tar");
    layout_with(dir.path(), &[tar], Compression::Gzip)
        .finish()
        .expect("finish");
    let fs = open(dir.path())
        .expect("opens")
        .read_files(&FileRequest::new().path("bin/su"))
        .expect("reads");
    let link = fs.entry("bin/su").expect("entry");
    assert_eq!(link.kind, sealwatch_oci::EntryKind::HardLink);
    assert!(link.is_setuid());
    assert_eq!(fs.read("bin/su").expect("ok"), Some(&b"binary"[..]));
    assert_eq!(fs.second_pass_layers(), 1);
}

#[test]
fn mangled_layers_never_panic() {
    // What the `tar_layer` fuzz target does, on a fixed set of mutations of a real tar: every
    // outcome is an error or a view whose paths stay inside the root.
    use sealwatch_oci::squash::read_layer;
    let base = tar_of(&[
        Item::Dir("etc"),
        Item::File("etc/os-release", b"ID=x\n"),
        Item::Symlink("etc/link", "../../../etc/os-release"),
        Item::File("etc/.wh.gone", b""),
    ]);
    let limits = Limits {
        max_total_bytes: 1 << 20,
        ..Limits::default()
    };
    let request = FileRequest::new().prefix("etc/");
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut outcomes = (0, 0);
    for round in 0..400 {
        let mut data = base.clone();
        for _ in 0..(1 + round % 8) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let pos = (seed % data.len() as u64) as usize;
            data[pos] = (seed >> 32) as u8;
        }
        data.truncate(data.len() - (round % 3) * 300);
        for compression in [Compression::None, Compression::Gzip] {
            match read_layer(&data[..], compression, &request, &limits) {
                Ok(fs) => {
                    outcomes.0 += 1;
                    for e in fs.entries() {
                        assert!(
                            !e.path.split('/').any(|c| c == ".." || c.is_empty()),
                            "{}",
                            e.path
                        );
                        let _ = fs.read(&e.path);
                    }
                }
                Err(_) => outcomes.1 += 1,
            }
        }
    }
    // Both kinds of outcome happened, so the mutations exercised the walker, not just the gzip
    // header check.
    assert!(outcomes.0 > 0 && outcomes.1 > 0, "{outcomes:?}");
}

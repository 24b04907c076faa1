//! The same image in every format sealwatch reads gives the same file view: fixtures are converted
//! with skopeo (docker-archive, oci-archive, gzip'd variants) and, for a one-layer image, unpacked
//! into a folder read as `rootfs:`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sealwatch_oci::{EntryKind, FileRequest, Image, ImageSpec, OpenOptions, SquashedFs};

fn tool_available(name: &str) -> bool {
    let ok = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let msg = format!("{name} not installed");
        if std::env::var_os("CI").is_some() {
            panic!("{msg}; CI is set, so this is a failure, not a skip");
        }
        eprintln!("skipping: {msg}");
    }
    ok
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn gzip(src: &Path, dest: &Path) {
    let input = std::fs::File::open(src).expect("open");
    let output = std::fs::File::create(dest).expect("create");
    let mut enc = flate2::write::GzEncoder::new(output, flate2::Compression::fast());
    std::io::copy(&mut std::io::BufReader::new(input), &mut enc).expect("gzip");
    enc.finish().expect("gzip finish");
}

fn request() -> FileRequest {
    FileRequest::new()
        .path("etc/os-release")
        .path("etc/passwd")
        .path("lib/apk/db/installed")
        .glob("var/lib/dpkg/status.d/*")
        .expect("glob")
}

fn view(spec: &ImageSpec) -> (Option<String>, SquashedFs) {
    let image = Image::open(
        spec,
        &OpenOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{spec}: {e}"));
    let fs = image
        .read_files(&request())
        .unwrap_or_else(|e| panic!("{spec}: {e}"));
    (image.config_digest().map(|d| d.to_string()), fs)
}

/// What must agree between formats: the entry list with metadata, and the requested contents.
fn summary(fs: &SquashedFs, with_owner: bool) -> Vec<String> {
    fs.entries()
        .map(|e| {
            let kind = match e.kind {
                // A tar hard link and the file it names are the same file once unpacked.
                EntryKind::HardLink => EntryKind::File,
                k => k,
            };
            let owner = if with_owner {
                format!("{}:{}", e.uid, e.gid)
            } else {
                String::new()
            };
            let content = fs
                .read(&e.path)
                .ok()
                .flatten()
                .map(|c| format!("{:x?}", &c[..c.len().min(64)]));
            format!(
                "{} {kind:?} {:o} {owner} {} {:?} {content:?}",
                e.path, e.mode, e.size, e.link_target
            )
        })
        .collect()
}

fn fixture(name: &str) -> Option<PathBuf> {
    sealwatch_test::require_shared(&format!("fixtures/images/{name}"))
}

fn assert_same(label: &str, a: &[String], b: &[String]) {
    let only_a: Vec<&String> = a.iter().filter(|x| !b.contains(x)).take(5).collect();
    let only_b: Vec<&String> = b.iter().filter(|x| !a.contains(x)).take(5).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty() && a.len() == b.len(),
        "{label}: differ\n  only in reference: {only_a:#?}\n  only here: {only_b:#?}"
    );
}

#[test]
fn formats_agree() {
    if !tool_available("skopeo") {
        return;
    }
    for (name, tag) in [
        ("alpine-3.20", "3.20.3"),
        ("distroless-base", "base-debian12"),
    ] {
        let Some(layout) = fixture(name) else { return };
        let tmp = tempfile::tempdir().expect("tempdir");
        let docker = tmp.path().join("docker.tar");
        let oci_archive = tmp.path().join("oci.tar");
        let src = format!("oci:{}:{tag}", layout.display());
        run(Command::new("skopeo").args([
            "copy",
            "--quiet",
            &src,
            &format!("docker-archive:{}:test/{name}:v1", docker.display()),
        ]));
        run(Command::new("skopeo").args([
            "copy",
            "--quiet",
            &src,
            &format!("oci-archive:{}:{tag}", oci_archive.display()),
        ]));
        let docker_gz = tmp.path().join("docker.tar.gz");
        let oci_gz = tmp.path().join("oci.tar.gz");
        gzip(&docker, &docker_gz);
        gzip(&oci_archive, &oci_gz);

        let (config, reference) = view(&ImageSpec::OciLayout {
            path: layout.clone(),
            reference: Some(tag.into()),
        });
        let reference = summary(&reference, true);
        assert!(
            reference.iter().any(|l| l.starts_with("etc/os-release ")),
            "{name}: os-release listed"
        );

        let specs = [
            ImageSpec::detect(&docker).expect("detect"),
            ImageSpec::detect(&docker_gz).expect("detect"),
            ImageSpec::detect(&oci_archive).expect("detect"),
            ImageSpec::detect(&oci_gz).expect("detect"),
            format!("docker-archive:{}:test/{name}:v1", docker.display())
                .parse()
                .expect("spec"),
            format!("oci-archive:{}:{tag}", oci_gz.display())
                .parse()
                .expect("spec"),
        ];
        assert!(
            matches!(specs[0], ImageSpec::DockerArchive { .. }),
            "{:?}",
            specs[0]
        );
        assert!(
            matches!(specs[1], ImageSpec::DockerArchive { .. }),
            "{:?}",
            specs[1]
        );
        assert!(
            matches!(specs[2], ImageSpec::OciArchive { .. }),
            "{:?}",
            specs[2]
        );
        assert!(
            matches!(specs[3], ImageSpec::OciArchive { .. }),
            "{:?}",
            specs[3]
        );
        // Alpine (entries prefixed `./`) once through the gzip'd docker archive is enough; the
        // 11-layer distroless image goes through every format.
        let specs: Vec<&ImageSpec> = if name == "alpine-3.20" {
            specs.iter().skip(1).take(1).collect()
        } else {
            specs.iter().collect()
        };
        for spec in specs {
            let (cfg, fs) = view(spec);
            assert_eq!(cfg, config, "{name} {spec}: config digest");
            assert_same(&format!("{name} {spec}"), &reference, &summary(&fs, true));
        }
    }
}

#[test]
fn unpacked_rootfs_agrees_with_the_image() {
    if !tool_available("tar") {
        return;
    }
    let Some(layout) = fixture("alpine-3.20") else {
        return;
    };
    let image = Image::open(
        &ImageSpec::OciLayout {
            path: layout.clone(),
            reference: None,
        },
        &OpenOptions {
            quiet: true,
            ..Default::default()
        },
    )
    .expect("open");
    let layer = &image.layers()[0];
    let blob = layout.join("blobs/sha256").join(layer.digest.hex());
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).expect("mkdir");
    // Unpacking as a non-root user would change owners; compare owners only when we are root.
    run(Command::new("tar")
        .args(["-xzf"])
        .arg(&blob)
        .arg("-C")
        .arg(&root)
        .args(["--same-permissions", "--same-owner"]));
    let as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let reference = summary(&image.read_files(&request()).expect("read"), as_root);
    for spec in [
        format!("rootfs:{}", root.display()),
        format!("dir:{}", root.display()),
    ] {
        let spec: ImageSpec = spec.parse().expect("spec");
        let (cfg, fs) = view(&spec);
        assert_eq!(cfg, None);
        // Directory modes on disk are what tar restored; the root dir itself is not an entry.
        assert_same(&spec.to_string(), &reference, &summary(&fs, as_root));
    }
    assert!(matches!(
        ImageSpec::detect(&root).expect("detect"),
        ImageSpec::RootFs { .. }
    ));
}

#[test]
fn docker_25_archive_with_compressed_blobs() {
    // Docker 25+ (containerd image store) saves an OCI layout plus a manifest.json whose layer
    // paths are the stored, compressed blobs. Both readings of such an archive must agree.
    use sealwatch_oci::manifest::Compression;
    use sealwatch_oci::OciLayoutWriter;
    let tmp = tempfile::tempdir().expect("tempdir");
    let layout = tmp.path().join("layout");
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(5);
    tar.append_data(&mut h, "etc/os-release", &b"ID=z\n"[..])
        .expect("append");
    let layer_tar = tar.into_inner().expect("tar");
    let mut w = OciLayoutWriter::create(&layout).expect("layout");
    let layer = w.write_layer(&layer_tar, Compression::Gzip).expect("layer");
    let config = serde_json::json!({"os": "linux", "architecture": "amd64"});
    let manifest_desc = w
        .write_image(config, std::slice::from_ref(&layer), Some("v1"))
        .expect("image");
    w.finish().expect("finish");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(layout.join("blobs/sha256").join(manifest_desc.digest.hex()))
            .expect("manifest"),
    )
    .expect("json");
    let config_hex = manifest["config"]["digest"]
        .as_str()
        .expect("config digest")
        .trim_start_matches("sha256:")
        .to_owned();
    let docker_manifest = serde_json::json!([{
        "Config": format!("blobs/sha256/{config_hex}"),
        "RepoTags": ["example/z:v1"],
        "Layers": [format!("blobs/sha256/{}", layer.0.digest.hex())],
    }]);
    std::fs::write(
        layout.join("manifest.json"),
        serde_json::to_vec(&docker_manifest).expect("json"),
    )
    .expect("write");
    let archive = tmp.path().join("saved.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&archive).expect("create"));
    b.append_dir_all(".", &layout).expect("tar layout");
    b.finish().expect("finish");

    let detected = ImageSpec::detect(&archive).expect("detect");
    assert!(
        matches!(detected, ImageSpec::OciArchive { .. }),
        "{detected:?}"
    );
    let as_docker = ImageSpec::DockerArchive {
        path: archive.clone(),
        reference: Some("example/z:v1".into()),
    };
    let (oci_config, oci_fs) = view(&detected);
    let (docker_config, docker_fs) = view(&as_docker);
    assert_eq!(oci_config, docker_config);
    assert_eq!(
        docker_fs.read("etc/os-release").expect("ok"),
        Some(&b"ID=z\n"[..])
    );
    assert_same(
        "docker 25 archive",
        &summary(&oci_fs, true),
        &summary(&docker_fs, true),
    );
}

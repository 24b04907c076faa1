//! The catalog over the real fixture images (`shared/fixtures/images`), read the way the image layer will:
//! stream each layer once, keep only the files [`path_request`] wants, apply whiteouts, tag every file with
//! its layer's diff_id. Expected values come from the fixtures' `MANIFEST.json`.

use std::io::Read;
use std::path::Path;

use sealwatch_catalog::{catalog, path_request, MemoryTree, PackageKind};
use serde_json::Value;

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

fn blob(layout: &Path, digest: &str) -> std::path::PathBuf {
    layout.join("blobs").join(digest.replace(':', "/"))
}

/// Squashes an OCI layout into a tree of the requested files.
fn squash(layout: &Path, layers: &[Value]) -> (MemoryTree, usize) {
    let request = path_request().expect("patterns");
    let mut tree = MemoryTree::new();
    let mut entries_seen = 0;
    for layer in layers {
        let digest = layer["digest"].as_str().expect("digest");
        let diff_id = layer["diff_id"].as_str().expect("diff_id");
        let file = std::fs::File::open(blob(layout, digest)).expect("layer blob");
        let mut archive =
            tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
        for entry in archive.entries().expect("tar") {
            let mut entry = entry.expect("entry");
            entries_seen += 1;
            let path = entry.path().expect("path").to_string_lossy().into_owned();
            let (dir, name) = path
                .trim_end_matches('/')
                .rsplit_once('/')
                .unwrap_or(("", &path));
            if name == ".wh..wh..opq" {
                tree.clear_dir(dir);
                continue;
            }
            if let Some(hidden) = name.strip_prefix(".wh.") {
                tree.remove(&format!("{dir}/{hidden}"));
                continue;
            }
            let mode = entry.header().mode().unwrap_or(0);
            if entry.header().entry_type().is_file() && request.wants(&path, mode) {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).expect("read entry");
                tree.insert_with(&path, bytes, mode, Some(diff_id));
            }
        }
    }
    (tree, entries_seen)
}

/// Catalogs the OCI-layout fixture images whose name passes `wanted`; returns how many were checked.
fn check_oci_images(wanted: impl Fn(&str) -> bool) -> usize {
    let Some(images) = sealwatch_test::require_shared("fixtures/images") else {
        return 0;
    };
    let Some(shared) = images.parent().and_then(Path::parent) else {
        return 0;
    };
    let manifest = read_json(&images.join("MANIFEST.json"));
    let mut checked = 0;
    for image in manifest["images"].as_array().expect("images") {
        if image["format"] != "oci-layout" || !image["name"].as_str().is_some_and(&wanted) {
            continue;
        }
        let name = image["name"].as_str().expect("name");
        let layout = shared.join(image["path"].as_str().expect("path"));
        let layers = image["layers"].as_array().expect("layers");
        let (tree, entries) = squash(&layout, layers);
        let started = std::time::Instant::now();
        let result = catalog(&tree);
        eprintln!(
            "{name}: kept {} of {entries} tar entries; catalog took {:?}",
            tree.len(),
            started.elapsed()
        );
        assert!(
            result.diagnostics.is_empty(),
            "{name}: {:?}",
            result.diagnostics
        );

        let expect_count = image["os_package_db"]["packages"].as_u64().expect("count") as usize;
        let os_packages: Vec<_> = result.packages.iter().filter(|p| p.kind.is_os()).collect();
        assert_eq!(os_packages.len(), expect_count, "{name}");
        let os = result.os.as_ref().expect("os");
        assert_eq!(
            Some(os.id.as_str()),
            image["os_release"]["id"].as_str(),
            "{name}"
        );
        assert_eq!(
            os.version.as_deref(),
            image["os_release"]["version"].as_str(),
            "{name}"
        );
        let distroless = image["os_package_db"]["type"] == "dpkg-status.d";
        assert_eq!(os.distroless, distroless, "{name}");

        let diff_ids: Vec<&str> = layers
            .iter()
            .filter_map(|l| l["diff_id"].as_str())
            .collect();
        for pkg in &os_packages {
            let layer = pkg.location.layer.as_deref().expect("layer recorded");
            assert!(
                diff_ids.contains(&layer),
                "{name}: {} from unknown layer {layer}",
                pkg.name
            );
            let release = &image["os_release"];
            let version_id = release["version_id"]
                .as_str()
                .or(release["version"].as_str())
                .expect("version");
            let distro = format!("distro={}-{version_id}", os.id);
            assert!(pkg.purl.ends_with(&distro), "{}", pkg.purl);
            let ty = if pkg.kind == PackageKind::Apk {
                "apk"
            } else {
                "deb"
            };
            assert!(
                pkg.purl.starts_with(&format!("pkg:{ty}/{}/", os.id)),
                "{}",
                pkg.purl
            );
        }
        if distroless {
            // One layer per package: every package is attributed to a different layer.
            let mut layers_used: Vec<&str> = os_packages
                .iter()
                .filter_map(|p| p.location.layer.as_deref())
                .collect();
            layers_used.sort_unstable();
            layers_used.dedup();
            assert_eq!(layers_used.len(), expect_count, "{name}");
        }
        checked += 1;
    }
    checked
}

#[test]
fn alpine_and_distroless_images() {
    let checked = check_oci_images(|name| name != "debian-bookworm-minbase");
    assert!(
        checked == 2 || sealwatch_test::shared_dir().is_none(),
        "{checked}"
    );
}

/// One 48 MB gzip layer: the workspace builds zlib-rs optimised in the test profile too, so this takes
/// about half a second.
#[test]
fn debian_minbase_image() {
    let checked = check_oci_images(|name| name == "debian-bookworm-minbase");
    assert!(
        checked == 1 || sealwatch_test::shared_dir().is_none(),
        "{checked}"
    );
}

//! `sealwatch inspect` end to end: the real fixture images from `../shared`, read from every source kind
//! (OCI layout, docker-archive, a real local registry), checked against `MANIFEST.json`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn sealwatch() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sealwatch"));
    // Tests never touch the user's cache.
    cmd.env(
        "SEALWATCH_CACHE_DIR",
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sealwatch-cache"),
    );
    // Keep the user's cache out of it: every test gets a fresh one unless it says otherwise.
    cmd.env_remove("SEALWATCH_USERNAME")
        .env_remove("SEALWATCH_PASSWORD");
    cmd
}

fn run(args: &[&str]) -> Output {
    sealwatch()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run sealwatch")
}

fn inspect_json(image: &str, extra: &[&str]) -> Value {
    let mut args = vec!["inspect", "-q", "--format", "json"];
    args.extend_from_slice(extra);
    if !image.is_empty() {
        args.push(image);
    }
    let out = run(&args);
    assert!(
        out.status.success(),
        "inspect {image} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("inspect prints JSON")
}

fn manifest_entry(name: &str) -> Option<(PathBuf, Value)> {
    let images = sealwatch_test::require_shared("fixtures/images")?;
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(images.join("MANIFEST.json")).expect("read MANIFEST.json"),
    )
    .expect("MANIFEST.json is JSON");
    // A missing entry is a broken fixture set, not a reason to skip.
    let images_list = manifest["images"]
        .as_array()
        .expect("MANIFEST.json lists images");
    let entry = images_list
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("{name} not in MANIFEST.json"))
        .clone();
    let shared = images.parent()?.parent()?.to_owned();
    Some((shared.join(entry["path"].as_str().expect("path")), entry))
}

/// The image facts that do not depend on how the image was reached.
fn assert_matches_manifest(report: &Value, entry: &Value) {
    assert_eq!(
        report["config_digest"], entry["config_digest"],
        "config digest"
    );
    if !entry["manifest_digest"].is_null() {
        assert_eq!(
            report["manifest"]["digest"], entry["manifest_digest"],
            "manifest digest"
        );
    }
    assert_eq!(
        report["platform"],
        format!(
            "{}/{}",
            entry["os"].as_str().unwrap_or(""),
            entry["architecture"].as_str().unwrap_or("")
        )
    );
    let layers = report["layers"].as_array().expect("layers");
    let want = entry["layers"].as_array().expect("manifest layers");
    assert_eq!(layers.len(), want.len(), "layer count");
    for (got, want) in layers.iter().zip(want) {
        assert_eq!(got["diff_id"], want["diff_id"]);
        if !entry["manifest_digest"].is_null() {
            assert_eq!(got["digest"], want["digest"]);
            assert_eq!(got["size"], want["size"]);
        }
    }
    assert_eq!(report["os"]["id"], entry["os_release"]["id"]);
    assert_eq!(report["os"]["version"], entry["os_release"]["version"]);
}

fn shell_names(report: &Value) -> Vec<String> {
    report["shells"]
        .as_array()
        .expect("shells")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn manager_names(report: &Value) -> Vec<String> {
    report["package_managers"]
        .as_array()
        .expect("package managers")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn oci_layouts_match_their_manifest() {
    for name in ["alpine-3.20", "distroless-base", "debian-bookworm-minbase"] {
        let Some((path, entry)) = manifest_entry(name) else {
            return;
        };
        let report = inspect_json(&format!("oci:{}", path.display()), &[]);
        assert_matches_manifest(&report, &entry);
        assert_eq!(
            report["manifest"]["media_type"],
            entry["manifest_media_type"]
        );
    }
}

#[test]
fn docker_archives_match_their_manifest_and_are_detected_by_content() {
    for name in [
        "alpine-3.9.4.docker-archive.tar.gz",
        "alpine-3.10.2.docker-archive.tar.gz",
    ] {
        let Some((path, entry)) = manifest_entry(name) else {
            return;
        };
        let report = inspect_json(&format!("docker-archive:{}", path.display()), &[]);
        assert_matches_manifest(&report, &entry);
        assert!(
            report["manifest"]["digest"].is_null(),
            "a docker save archive has no registry manifest"
        );
        let detected = inspect_json("", &["--input", path.to_str().expect("utf-8 path")]);
        assert_eq!(detected["config_digest"], report["config_digest"]);
        assert_eq!(detected["layers"], report["layers"]);
    }
}

#[test]
fn base_image_facts_tell_alpine_distroless_and_debian_apart() {
    let Some((alpine, _)) = manifest_entry("alpine-3.20") else {
        return;
    };
    let Some((distroless, _)) = manifest_entry("distroless-base") else {
        return;
    };
    let Some((debian, _)) = manifest_entry("debian-bookworm-minbase") else {
        return;
    };

    let alpine = inspect_json(&format!("oci:{}", alpine.display()), &[]);
    let shells = shell_names(&alpine);
    assert!(
        shells.contains(&"sh".to_owned()),
        "alpine has a busybox sh: {shells:?}"
    );
    assert!(alpine["shells"]
        .as_array()
        .expect("shells")
        .iter()
        .all(|s| s["busybox_applet"] == true));
    assert!(alpine["busybox_applets"].as_u64().expect("applet count") > 100);
    assert_eq!(manager_names(&alpine), ["apk"]);
    assert_eq!(alpine["run_as"]["root"], true);

    let distroless = inspect_json(&format!("oci:{}", distroless.display()), &[]);
    assert!(
        shell_names(&distroless).is_empty(),
        "distroless has no shell"
    );
    assert_eq!(manager_names(&distroless), ["dpkg"]);
    assert!(
        distroless["package_managers"][0]["program"].is_null(),
        "only dpkg's database, no dpkg program"
    );
    assert_eq!(distroless["os"]["distroless"], true);
    // /tmp is 1777 in distroless: world-writable, but sticky, and nothing else is.
    for w in distroless["world_writable"]
        .as_array()
        .expect("world writable")
    {
        assert_eq!(w["sticky"], true, "{w}");
    }

    let debian = inspect_json(&format!("oci:{}", debian.display()), &[]);
    let shells = shell_names(&debian);
    for shell in ["bash", "dash", "sh"] {
        assert!(
            shells.contains(&shell.to_owned()),
            "debian has {shell}: {shells:?}"
        );
    }
    let managers = manager_names(&debian);
    assert!(
        managers.contains(&"dpkg".to_owned()) && managers.contains(&"apt".to_owned()),
        "{managers:?}"
    );
    let setuid = debian["setuid"].as_array().expect("setuid");
    assert!(
        setuid.iter().any(|s| s["path"] == "/usr/bin/su"),
        "su is setuid root in debian: {setuid:?}"
    );
    for s in setuid {
        assert!(s["mode"].as_str().expect("mode").starts_with('4'), "{s}");
    }
}

#[test]
fn table_output_names_the_facts() {
    let Some((alpine, _)) = manifest_entry("alpine-3.20") else {
        return;
    };
    let out = run(&["inspect", "-q", &format!("oci:{}", alpine.display())]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "sha256:256b0065",
        "Alpine Linux",
        "3.20.3",
        "/bin/sh (busybox)",
        "apk (/sbin/apk)",
        "runs as root: yes",
    ] {
        assert!(text.contains(needle), "table lacks {needle:?}:\n{text}");
    }
}

#[test]
fn registry_image_reads_the_same_as_its_layout() {
    let Some((path, entry)) = manifest_entry("alpine-3.20") else {
        return;
    };
    let Some(registry) = sealwatch_test::registry::TestRegistry::start_plain() else {
        return;
    };
    let client = sealwatch_oci::registry::RegistryClient::new(Default::default()).expect("client");
    let target: sealwatch_oci::Reference = format!("{}/fixtures/alpine:3.20.3", registry.host())
        .parse()
        .expect("reference");
    sealwatch_test::push::push_oci_layout(&client, &path, &target).expect("push fixture");

    let cache = tempfile::tempdir().expect("tempdir");
    let cache_dir = cache.path().to_str().expect("utf-8");
    let from_registry = inspect_json(&target.to_string(), &["--cache-dir", cache_dir]);
    assert_matches_manifest(&from_registry, &entry);
    let from_layout = inspect_json(&format!("oci:{}", path.display()), &[]);
    for key in [
        "shells",
        "package_managers",
        "setuid",
        "world_writable",
        "files",
        "symlinks",
        "os",
    ] {
        assert_eq!(
            from_registry[key], from_layout[key],
            "{key} differs between registry and layout"
        );
    }
    // Second run reads the layer from the blob cache: same answer.
    let cached = inspect_json(&target.to_string(), &["--cache-dir", cache_dir]);
    assert_eq!(cached["layers"], from_registry["layers"]);
    assert!(
        cache.path().join("blobs").exists(),
        "blobs were cached under --cache-dir"
    );
}

#[test]
fn tls_registry_with_password_stdin_and_ca_file() {
    let Some((path, entry)) = manifest_entry("alpine-3.20") else {
        return;
    };
    let Some(registry) =
        sealwatch_test::registry::TestRegistry::start_tls_htpasswd("fixture", "fixture-pass")
    else {
        return;
    };
    let ca = registry
        .ca_cert_path()
        .expect("TLS registry has a CA")
        .to_owned();
    let options = sealwatch_oci::registry::RegistryOptions {
        credentials: Some(sealwatch_oci::registry::Credentials::new(
            "fixture",
            "fixture-pass",
        )),
        ca_files: vec![ca.clone()],
        ..Default::default()
    };
    let client = sealwatch_oci::registry::RegistryClient::new(options).expect("client");
    let target: sealwatch_oci::Reference = format!("{}/fixtures/alpine:3.20.3", registry.host())
        .parse()
        .expect("reference");
    sealwatch_test::push::push_oci_layout(&client, &path, &target).expect("push fixture");

    let inspect = |password: &str| {
        let mut child = sealwatch()
            .args([
                "inspect",
                "-q",
                "--no-cache",
                "--format",
                "json",
                "--username",
                "fixture",
                "--password-stdin",
            ])
            .arg("--ca-file")
            .arg(&ca)
            .arg(target.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("write password");
        child.wait_with_output().expect("wait")
    };
    let good = inspect("fixture-pass");
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let report: Value = serde_json::from_slice(&good.stdout).expect("json");
    assert_matches_manifest(&report, &entry);

    let bad = inspect("wrong");
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains(&registry.host()),
        "the error names the registry: {err}"
    );
    assert!(
        err.to_lowercase().contains("auth"),
        "the error says authentication failed: {err}"
    );
}

fn assert_tool_error(out: &Output, needles: &[&str]) {
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit code 2; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in needles {
        assert!(
            err.contains(needle),
            "error should mention {needle:?}: {err}"
        );
    }
    assert!(!err.contains("panicked"), "no panic: {err}");
    assert!(out.stdout.is_empty(), "nothing half-written on stdout");
}

#[test]
fn bad_input_is_a_clear_error_with_exit_code_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope");
    assert_tool_error(
        &run(&["inspect", &format!("oci:{}", missing.display())]),
        &["nope"],
    );

    // A layout whose only layer blob was changed after the manifest was written.
    let Some((alpine, entry)) = manifest_entry("alpine-3.20") else {
        return;
    };
    let copy = dir.path().join("alpine");
    copy_dir(&alpine, &copy);
    let layer = entry["layers"][0]["digest"].as_str().expect("layer digest");
    let blob = copy
        .join("blobs/sha256")
        .join(layer.trim_start_matches("sha256:"));
    let mut bytes = std::fs::read(&blob).expect("read blob");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, bytes).expect("write blob");
    // --no-cache: a layer result cached from the genuine blob is trusted by its digest; this is about
    // verifying the bytes.
    assert_tool_error(
        &run(&[
            "inspect",
            "-q",
            "--no-cache",
            &format!("oci:{}", copy.display()),
        ]),
        &[layer],
    );

    // Not an image at all.
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, b"this is not a tar archive, not gzip, not anything")
        .expect("write junk");
    assert_tool_error(
        &run(&["inspect", "--input", junk.to_str().expect("utf-8")]),
        &["junk.tar"],
    );

    // Nonsense platform.
    assert_tool_error(
        &run(&["inspect", "--platform", "linux", "oci:/x"]),
        &["--platform"],
    );
}

#[test]
fn missing_tag_in_a_real_registry_is_a_clear_error() {
    let Some(registry) = sealwatch_test::registry::TestRegistry::start_plain() else {
        return;
    };
    let image = format!("{}/fixtures/nothing:here", registry.host());
    let out = run(&["inspect", "-q", "--no-cache", &image]);
    assert_tool_error(&out, &["fixtures/nothing"]);
}

#[test]
fn rootfs_folder_is_read_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("bin")).expect("mkdir");
    std::fs::create_dir_all(root.join("etc")).expect("mkdir");
    std::fs::write(root.join("bin/bash"), b"#!fake").expect("write");
    std::fs::write(
        root.join("etc/os-release"),
        b"ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
    )
    .expect("write");
    std::fs::write(root.join("etc/debian_version"), b"12.15\n").expect("write");
    let suid = root.join("bin/su");
    std::fs::write(&suid, b"#!fake").expect("write");
    set_mode(&suid, 0o4755);
    set_mode(&root.join("bin/bash"), 0o755);

    let report = inspect_json(&format!("rootfs:{}", root.display()), &[]);
    assert_eq!(report["os"]["id"], "debian");
    assert_eq!(report["os"]["version"], "12.15");
    assert_eq!(shell_names(&report), ["bash"]);
    let setuid = report["setuid"].as_array().expect("setuid");
    assert_eq!(setuid.len(), 1);
    assert_eq!(setuid[0]["path"], "/bin/su");
    assert!(report["layers"].as_array().expect("layers").is_empty());
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

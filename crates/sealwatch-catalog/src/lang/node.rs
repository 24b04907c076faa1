//! npm packages installed in `node_modules`: each package's `package.json`.

use serde_json::Value;

use crate::{Diagnostic, Location, Package, PackageKind};

pub fn parse(location: &Location, bytes: &[u8], diagnostics: &mut Vec<Diagnostic>) -> Vec<Package> {
    let json: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            diagnostics.push(super::json_diagnostic(&location.path, &e));
            return Vec::new();
        }
    };
    // Files named package.json inside a package (test fixtures, sub-folders) often lack a name or
    // version; they are not packages.
    let (Some(name), Some(version)) = (
        json.get("name").and_then(Value::as_str),
        json.get("version").and_then(Value::as_str),
    ) else {
        return Vec::new();
    };
    if name.is_empty() || version.is_empty() {
        return Vec::new();
    }
    let mut pkg = Package::new(PackageKind::Npm, name, version, location.clone());
    pkg.license_declared = match json.get("license") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => o.get("type").and_then(Value::as_str).map(str::to_owned),
        _ => json.get("licenses").and_then(Value::as_array).map(|list| {
            list.iter()
                .filter_map(|l| l.get("type").and_then(Value::as_str).or_else(|| l.as_str()))
                .collect::<Vec<_>>()
                .join(" OR ")
        }),
    }
    .filter(|l| !l.is_empty());
    if let Some(deps) = json.get("dependencies").and_then(Value::as_object) {
        pkg.depends = deps.keys().map(|k| vec![k.clone()]).collect();
    }
    vec![pkg]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Option<(&str, &str, Option<&str>)>, diag_line: Option<usize>) {
        let loc = Location {
            path: "app/node_modules/x/package.json".into(),
            layer: None,
        };
        let mut d = Vec::new();
        let got = parse(&loc, input.as_bytes(), &mut d);
        let got = got.first().map(|p| {
            (
                p.name.as_str(),
                p.version.as_str(),
                p.license_declared.as_deref(),
            )
        });
        assert_eq!(got, expect);
        assert_eq!(d.first().and_then(|d| d.line), diag_line, "{d:?}");
    }

    #[test]
    fn package_json() {
        check(
            r#"{"name":"@babel/core","version":"7.0.0","license":"MIT"}"#,
            Some(("@babel/core", "7.0.0", Some("MIT"))),
            None,
        );
        check(
            r#"{"name":"old","version":"1.0.0","licenses":[{"type":"MIT"},{"type":"Apache-2.0"}]}"#,
            Some(("old", "1.0.0", Some("MIT OR Apache-2.0"))),
            None,
        );
        check(r#"{"name":"x","license":{"type":"ISC"}}"#, None, None);
        check("{\n\"name\": \"x\",\n oops", None, Some(3));
    }
}

//! Composer's `vendor/composer/installed.json`: a list of packages (Composer 1) or `{"packages": [...]}`
//! (Composer 2).

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
    let list = match &json {
        Value::Array(list) => list,
        Value::Object(o) => match o.get("packages").and_then(Value::as_array) {
            Some(list) => list,
            None => {
                diagnostics.push(Diagnostic::new(&location.path, None, "no `packages` list"));
                return Vec::new();
            }
        },
        _ => {
            diagnostics.push(Diagnostic::new(
                &location.path,
                None,
                "expected a list or an object",
            ));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let (Some(name), Some(version)) = (
            entry.get("name").and_then(Value::as_str),
            entry.get("version").and_then(Value::as_str),
        ) else {
            diagnostics.push(Diagnostic::new(
                &location.path,
                None,
                format!("package {i} without name or version"),
            ));
            continue;
        };
        let mut pkg = Package::new(PackageKind::Composer, name, version, location.clone());
        pkg.license_declared = entry
            .get("license")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" OR ")
            })
            .filter(|l| !l.is_empty());
        if let Some(require) = entry.get("require").and_then(Value::as_object) {
            // `php` and `ext-*` are platform requirements, not packages.
            pkg.depends = require
                .keys()
                .filter(|k| k.contains('/'))
                .map(|k| vec![k.clone()])
                .collect();
        }
        out.push(pkg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_composer_layouts() {
        let loc = Location {
            path: "vendor/composer/installed.json".into(),
            layer: None,
        };
        for (input, expect, diags) in [
            (
                r#"[{"name":"monolog/monolog","version":"2.9.1","license":["MIT"]}]"#,
                vec!["monolog/monolog@2.9.1"],
                0,
            ),
            (
                r#"{"packages":[{"name":"a/b","version":"v1.0.0"},{"name":"c/d"}],"dev":true}"#,
                vec!["a/b@v1.0.0"],
                1,
            ),
            ("42", vec![], 1),
            ("{", vec![], 1),
        ] {
            let mut d = Vec::new();
            let got: Vec<String> = parse(&loc, input.as_bytes(), &mut d)
                .iter()
                .map(|p| format!("{}@{}", p.name, p.version))
                .collect();
            assert_eq!(got, expect, "{input}");
            assert_eq!(d.len(), diags, "{input} {d:?}");
        }
    }
}

//! .NET `*.deps.json`: the runtime's dependency manifest; `libraries` keys are `Name/Version`.

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
    let Some(libraries) = json.get("libraries").and_then(Value::as_object) else {
        diagnostics.push(Diagnostic::new(
            &location.path,
            None,
            "no `libraries` object",
        ));
        return Vec::new();
    };
    libraries
        .iter()
        // `project` entries are the application itself; only NuGet packages have advisories.
        .filter(|(_, lib)| lib.get("type").and_then(Value::as_str) == Some("package"))
        .filter_map(|(key, _)| {
            let (name, version) = key.split_once('/')?;
            Some(Package::new(
                PackageKind::Nuget,
                name,
                version,
                location.clone(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deps_json_libraries() {
        let loc = Location {
            path: "app/app.deps.json".into(),
            layer: None,
        };
        let input = r#"{"libraries":{"app/1.0.0":{"type":"project"},"Newtonsoft.Json/13.0.1":{"type":"package"},"bad":{"type":"package"}}}"#;
        let mut d = Vec::new();
        let got: Vec<String> = parse(&loc, input.as_bytes(), &mut d)
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect();
        assert_eq!(got, ["Newtonsoft.Json@13.0.1"]);
        assert!(d.is_empty());
        assert!(parse(&loc, b"{}", &mut d).is_empty());
        assert_eq!(d.len(), 1);
    }
}

//! Python installed distributions: `*.dist-info/METADATA` (wheels) and `*.egg-info/PKG-INFO` (eggs).
//! Both are RFC 822 headers (core metadata spec); the body after the first blank line is ignored.

use crate::text::stanzas;
use crate::{Diagnostic, Location, Package, PackageKind};

pub fn parse(location: &Location, bytes: &[u8], diagnostics: &mut Vec<Diagnostic>) -> Vec<Package> {
    let path = location.path.as_str();
    let Some(headers) = stanzas(path, bytes, true, diagnostics).into_iter().next() else {
        diagnostics.push(Diagnostic::new(path, None, "empty metadata file"));
        return Vec::new();
    };
    let (Some(name), Some(version)) = (headers.get("Name"), headers.get("Version")) else {
        diagnostics.push(Diagnostic::new(
            path,
            Some(headers.line),
            "metadata without Name or Version",
        ));
        return Vec::new();
    };
    let mut pkg = Package::new(PackageKind::Python, name, version, location.clone());
    // Newest first: License-Expression (PEP 639), a short License, then the license classifier.
    pkg.license_declared = headers
        .get("License-Expression")
        .or_else(|| {
            headers
                .get("License")
                .filter(|l| !l.is_empty() && l.len() < 100 && !l.contains('\n'))
        })
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get_all("Classifier")
                .filter_map(|c| c.strip_prefix("License :: "))
                .map(|c| c.rsplit(" :: ").next().unwrap_or(c).to_owned())
                .next()
        });
    pkg.supplier = headers.get("Author").map(str::to_owned);
    vec![pkg]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: Option<(&str, &str, Option<&str>)>, diags: usize) {
        let loc = Location {
            path: "site-packages/x.dist-info/METADATA".into(),
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
        assert_eq!(d.len(), diags, "{d:?}");
    }

    #[test]
    fn metadata_headers() {
        check(
            "Metadata-Version: 2.1\nName: requests\nVersion: 2.31.0\nLicense: Apache 2.0\n\nLicense: body text\n",
            Some(("requests", "2.31.0", Some("Apache 2.0"))),
            0,
        );
        check(
            "Name: six\nVersion: 1.16.0\nClassifier: License :: OSI Approved :: MIT License\n",
            Some(("six", "1.16.0", Some("MIT License"))),
            0,
        );
        check("Name: x\n", None, 1);
        check("", None, 1);
    }
}

//! RubyGems installed specifications (`specifications/*.gemspec`), as `gem install` writes them:
//! generated Ruby with one assignment per line (`s.name = "rake".freeze`). The file is not evaluated;
//! only the literal assignments are read.

use crate::text::lines;
use crate::{Diagnostic, Location, Package, PackageKind};

pub fn parse(location: &Location, bytes: &[u8], diagnostics: &mut Vec<Diagnostic>) -> Vec<Package> {
    let path = location.path.as_str();
    let (mut name, mut version, mut licenses) = (None, None, Vec::new());
    for (_, line) in lines(path, bytes, diagnostics) {
        let line = line.trim();
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        let field = lhs.trim().rsplit('.').next().unwrap_or("");
        match field {
            "name" if name.is_none() => name = quoted(rhs).into_iter().next(),
            "version" if version.is_none() => version = quoted(rhs).into_iter().next(),
            "licenses" | "license" => licenses.extend(quoted(rhs)),
            _ => {}
        }
    }
    let (Some(name), Some(version)) = (name, version) else {
        diagnostics.push(Diagnostic::new(
            path,
            None,
            "gemspec without a literal name or version",
        ));
        return Vec::new();
    };
    let mut pkg = Package::new(PackageKind::Gem, name, version, location.clone());
    pkg.license_declared = (!licenses.is_empty()).then(|| licenses.join(" OR "));
    vec![pkg]
}

/// The double- or single-quoted literals on the right of an assignment.
fn quoted(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(['"', '\'']) {
        let quote = rest.as_bytes().get(start).copied().unwrap_or(b'"') as char;
        let after = rest.get(start + 1..).unwrap_or("");
        let Some(end) = after.find(quote) else { break };
        out.push(after.get(..end).unwrap_or("").to_owned());
        rest = after.get(end + 1..).unwrap_or("");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemspec_literals() {
        let loc = Location {
            path: "usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec".into(),
            layer: None,
        };
        let input = "# -*- encoding: utf-8 -*-\nGem::Specification.new do |s|\n  s.name = \"rake\".freeze\n  s.version = \"13.0.6\"\n  s.licenses = [\"MIT\".freeze, 'Ruby']\nend\n";
        let mut d = Vec::new();
        let got = parse(&loc, input.as_bytes(), &mut d);
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].name.as_str(), got[0].version.as_str()),
            ("rake", "13.0.6")
        );
        assert_eq!(got[0].license_declared.as_deref(), Some("MIT OR Ruby"));
        assert!(parse(&loc, b"s.name = foo\n", &mut d).is_empty());
        assert_eq!(d.len(), 1);
    }
}

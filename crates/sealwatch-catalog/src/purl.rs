//! Package URL encoding (<https://github.com/package-url/purl-spec>, "How to build purl string").
//!
//! Written by hand rather than with the `packageurl` crate: the encoding is a page of rules, and owning it
//! keeps per-type normalisation (PyPI, npm scopes, Go module paths) in one place next to its tests.

use std::fmt::Write as _;

/// Builder for one PURL.
#[derive(Debug, Clone)]
pub struct Purl<'a> {
    ty: &'a str,
    namespace: Option<String>,
    name: String,
    version: Option<&'a str>,
    qualifiers: Vec<(&'a str, String)>,
}

impl<'a> Purl<'a> {
    pub fn new(ty: &'a str, name: &str) -> Self {
        Self {
            ty,
            namespace: None,
            name: name.to_owned(),
            version: None,
            qualifiers: Vec::new(),
        }
    }

    pub fn namespace(mut self, namespace: &str) -> Self {
        if !namespace.is_empty() {
            self.namespace = Some(namespace.to_owned());
        }
        self
    }

    pub fn version(mut self, version: &'a str) -> Self {
        if !version.is_empty() {
            self.version = Some(version);
        }
        self
    }

    /// Adds a qualifier; empty values are dropped as the spec requires.
    pub fn qualifier(mut self, key: &'a str, value: Option<impl Into<String>>) -> Self {
        if let Some(value) = value.map(Into::into).filter(|v| !v.is_empty()) {
            self.qualifiers.push((key, value));
        }
        self
    }

    /// The canonical string: type lower-case, each namespace segment, the name, version and qualifier
    /// values percent-encoded, qualifiers sorted by key.
    pub fn build(mut self) -> String {
        let mut out = String::from("pkg:");
        out.push_str(&self.ty.to_ascii_lowercase());
        out.push('/');
        if let Some(ns) = &self.namespace {
            for segment in ns.split('/').filter(|s| !s.is_empty()) {
                encode_into(&mut out, segment);
                out.push('/');
            }
        }
        encode_into(&mut out, &self.name);
        if let Some(v) = self.version {
            out.push('@');
            encode_into(&mut out, v);
        }
        self.qualifiers.sort_by(|a, b| a.0.cmp(b.0));
        for (i, (key, value)) in self.qualifiers.iter().enumerate() {
            out.push(if i == 0 { '?' } else { '&' });
            out.push_str(&key.to_ascii_lowercase());
            out.push('=');
            encode_into(&mut out, value);
        }
        out
    }
}

/// Percent-encodes everything but unreserved characters and `:` (which the spec says need not be
/// encoded and which every peer leaves alone in epochs like `1:2.3-4`).
fn encode_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'~' | b':') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// PEP 503 name normalisation, which the `pypi` PURL type requires.
pub fn pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last_dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !last_dash {
                out.push('-');
            }
            last_dash = true;
        } else {
            out.extend(c.to_lowercase());
            last_dash = false;
        }
    }
    out
}

/// Splits `a/b/c` into (`a/b`, `c`): Go module paths, npm scopes, composer vendors.
pub fn split_last(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some((ns, name)) => (ns, name),
        None => ("", path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(purl: Purl<'_>, expect: &str) {
        assert_eq!(purl.build(), expect);
    }

    #[test]
    fn builds_canonical_purls() {
        check(
            Purl::new("apk", "musl")
                .namespace("alpine")
                .version("1.2.5-r0")
                .qualifier("distro", Some("alpine-3.20.3"))
                .qualifier("arch", Some("x86_64")),
            "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3",
        );
        check(
            Purl::new("deb", "base-files")
                .namespace("debian")
                .version("12.4+deb12u15")
                .qualifier("arch", Some("amd64"))
                .qualifier("distro", Some("debian-12")),
            "pkg:deb/debian/base-files@12.4%2Bdeb12u15?arch=amd64&distro=debian-12",
        );
        check(
            Purl::new("deb", "libgcrypt20")
                .namespace("debian")
                .version("1:1.10.1-3"),
            "pkg:deb/debian/libgcrypt20@1:1.10.1-3",
        );
        check(
            Purl::new("npm", "core")
                .namespace("@babel")
                .version("7.0.0"),
            "pkg:npm/%40babel/core@7.0.0",
        );
        check(
            Purl::new("golang", "net")
                .namespace("golang.org/x")
                .version("v0.1.0"),
            "pkg:golang/golang.org/x/net@v0.1.0",
        );
        check(
            Purl::new("maven", "a b")
                .namespace("org.x")
                .qualifier("type", None::<String>),
            "pkg:maven/org.x/a%20b",
        );
    }

    #[test]
    fn normalises_pypi_names() {
        for (input, expect) in [
            ("Django", "django"),
            ("zope.interface", "zope-interface"),
            ("a__b-_c", "a-b-c"),
        ] {
            assert_eq!(pypi_name(input), expect);
        }
    }
}

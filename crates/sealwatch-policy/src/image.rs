//! Image references as Kyverno sees them, and `imageReferences` wildcard matching.
//!
//! Kyverno matches patterns against `ImageInfo.String()`: `registry/path:tag`, or
//! `registry/path@digest` when a digest is present (the tag is dropped). `docker.io` is added
//! when the first path segment is not a registry host, the tag defaults to `latest`, and no
//! `library/` is inserted.

use serde::Serialize;
use wildmatch::WildMatch;

use crate::Error;

/// Kyverno's default registry.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ImageReference {
    /// The reference exactly as written in the resource.
    pub original: String,
    /// Registry host (with port), `docker.io` when none was given.
    pub registry: String,
    /// Repository path below the registry.
    pub path: String,
    /// The tag; `latest` when neither tag nor digest was given.
    pub tag: Option<String>,
    /// `algorithm:hex`.
    pub digest: Option<String>,
}

fn invalid(reference: &str, reason: &str) -> Error {
    Error::InvalidImageReference {
        reference: reference.to_owned(),
        reason: reason.to_owned(),
    }
}

fn is_path_component(text: &str) -> bool {
    // [a-z0-9]+ separated by '.', '_', '__' or runs of '-'.
    let bytes = text.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut previous_separator: Option<u8> = None;
    let mut run = 0;
    for b in bytes {
        if alnum(b) {
            previous_separator = None;
            run = 0;
            continue;
        }
        run += 1;
        let ok = match (b, previous_separator) {
            (b'-', None | Some(b'-')) => true,
            (b'.', None) => true,
            (b'_', None) => true,
            (b'_', Some(b'_')) => run == 2,
            _ => false,
        };
        if !ok {
            return false;
        }
        previous_separator = Some(*b);
    }
    true
}

fn is_registry_host(text: &str) -> bool {
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    let bracketed_ipv6 = host.starts_with('[') && host.ends_with(']');
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (host_ok || bracketed_ipv6) && port_ok
}

fn is_tag(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && bytes
            .first()
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn is_digest(text: &str) -> bool {
    let Some((algorithm, encoded)) = text.split_once(':') else {
        return false;
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'.' | b'_' | b'-')
        });
    let encoded_ok = match algorithm {
        "sha256" => {
            encoded.len() == 64
                && encoded
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }
        "sha512" => {
            encoded.len() == 128
                && encoded
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }
        _ => {
            encoded.len() >= 32
                && encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
        }
    };
    algorithm_ok && encoded_ok
}

impl ImageReference {
    /// Parses and normalises an image reference as written in a container spec.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text.is_empty() {
            return Err(invalid(text, "empty image reference"));
        }
        if text.len() > 4096 {
            return Err(invalid(text, "longer than 4096 bytes"));
        }
        let (name_and_tag, digest) = match text.split_once('@') {
            Some((name, digest)) => {
                if !is_digest(digest) {
                    return Err(invalid(text, "invalid digest"));
                }
                (name, Some(digest.to_owned()))
            }
            None => (text, None),
        };
        // A tag follows the last ':' after the last '/' (a ':' before it is a registry port).
        let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_and_tag
            .get(last_slash..)
            .and_then(|tail| tail.rfind(':'))
        {
            Some(colon) => {
                let split = last_slash + colon;
                let name = name_and_tag.get(..split).unwrap_or_default();
                let tag = name_and_tag.get(split + 1..).unwrap_or_default();
                if !is_tag(tag) {
                    return Err(invalid(text, "invalid tag"));
                }
                (name, Some(tag.to_owned()))
            }
            None => (name_and_tag, None),
        };
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                if !is_registry_host(first) {
                    return Err(invalid(text, "invalid registry host"));
                }
                (first.to_owned(), rest.to_owned())
            }
            _ => (DEFAULT_REGISTRY.to_owned(), name.to_owned()),
        };
        if path.is_empty() || !path.split('/').all(is_path_component) {
            return Err(invalid(
                text,
                "invalid repository path (lower-case letters, digits and . _ - separators)",
            ));
        }
        if registry.len() + 1 + path.len() > 255 {
            return Err(invalid(text, "repository name longer than 255 characters"));
        }
        let tag = match (&tag, &digest) {
            (None, None) => Some("latest".to_owned()),
            _ => tag,
        };
        Ok(ImageReference {
            original: text.to_owned(),
            registry,
            path,
            tag,
            digest,
        })
    }

    /// `registry/path`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.registry, self.path)
    }

    /// The string Kyverno matches patterns against: `registry/path@digest` when a digest is
    /// present, else `registry/path:tag`.
    pub fn normalized(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => format!("{}@{digest}", self.repository()),
            (None, Some(tag)) => format!("{}:{tag}", self.repository()),
            (None, None) => self.repository(),
        }
    }

    /// The image pinned to `digest`, keeping the tag: `registry/path:tag@digest`.
    pub fn pinned(&self, digest: &str) -> String {
        match &self.tag {
            Some(tag) => format!("{}:{tag}@{digest}", self.repository()),
            None => format!("{}@{digest}", self.repository()),
        }
    }
}

/// Kyverno's wildcard match: `*` any run (also across `/` and `:`), `?` one character, the
/// whole string must match, nothing else is special.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    WildMatch::new(pattern).matches(text)
}

/// True if `image` (normalised) matches any of `patterns`.
pub fn matches_any(patterns: &[String], image: &str) -> bool {
    patterns
        .iter()
        .any(|pattern| wildcard_match(pattern, image))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn check(input: &str, expect: Result<&str, ()>) {
        let got = ImageReference::parse(input).map(|r| r.normalized());
        match expect {
            Ok(normalized) => assert_eq!(got.ok().as_deref(), Some(normalized), "{input}"),
            Err(()) => assert!(got.is_err(), "{input} should be rejected, got {got:?}"),
        }
    }

    #[test]
    fn normalisation() {
        check("nginx", Ok("docker.io/nginx:latest"));
        check(
            "jmalloc/echo-server",
            Ok("docker.io/jmalloc/echo-server:latest"),
        );
        check("library/nginx:1.27", Ok("docker.io/library/nginx:1.27"));
        check("ghcr.io/org/app:v1", Ok("ghcr.io/org/app:v1"));
        check("localhost/app", Ok("localhost/app:latest"));
        check("localhost:5000/app:dev", Ok("localhost:5000/app:dev"));
        check(
            "registry:5000/team/app",
            Ok("registry:5000/team/app:latest"),
        );
        check(
            &format!("ghcr.io/org/app:v1@{DIGEST}"),
            Ok(&format!("ghcr.io/org/app@{DIGEST}")),
        );
        check(
            &format!("nginx@{DIGEST}"),
            Ok(&format!("docker.io/nginx@{DIGEST}")),
        );
        check("", Err(()));
        check("UPPER/case", Err(()));
        check("nginx:", Err(()));
        check("nginx@sha256:abc", Err(()));
        check("a//b", Err(()));
        check("ghcr.io/org/app:bad/tag", Err(()));
        check("-leading/dash", Err(()));
    }

    #[test]
    fn pinning_keeps_the_tag() {
        let image = ImageReference::parse("jmalloc/echo-server").ok();
        assert_eq!(
            image.map(|i| i.pinned(DIGEST)),
            Some(format!("docker.io/jmalloc/echo-server:latest@{DIGEST}"))
        );
    }

    /// The statements of admission.md §1.2, as a table.
    #[test]
    fn kyverno_wildcard_semantics() {
        let cases: &[(&str, &str, bool)] = &[
            ("ghcr.io/your-org/*", "ghcr.io/your-org/app:v1", true),
            // `*` crosses `/` and `:`.
            ("ghcr.io/your-org/*", "ghcr.io/your-org/team/app:v1", true),
            ("ghcr.io/*:v1", "ghcr.io/org/app:v1", true),
            ("*", "docker.io/nginx:latest", true),
            // `*` matches the empty string.
            ("ghcr.io/org/app:v1*", "ghcr.io/org/app:v1", true),
            // `?` matches exactly one character.
            ("ghcr.io/org/app:v?", "ghcr.io/org/app:v1", true),
            ("ghcr.io/org/app:v?", "ghcr.io/org/app:v10", false),
            ("ghcr.io/org/app:v?", "ghcr.io/org/app:v", false),
            // The empty pattern matches only the empty string.
            ("", "", true),
            ("", "docker.io/nginx:latest", false),
            // Whole-string match, no implicit prefix.
            ("ghcr.io/your-org", "ghcr.io/your-org/app:v1", false),
            ("your-org/*", "ghcr.io/your-org/app:v1", false),
            // No character classes or braces: they are literal.
            ("ghcr.io/org/app:v[12]", "ghcr.io/org/app:v1", false),
            ("ghcr.io/org/app:v[12]", "ghcr.io/org/app:v[12]", true),
            ("ghcr.io/org/{a,b}:v1", "ghcr.io/org/a:v1", false),
        ];
        for (pattern, text, expect) in cases {
            assert_eq!(
                wildcard_match(pattern, text),
                *expect,
                "{pattern:?} vs {text:?}"
            );
        }
    }

    #[test]
    fn patterns_see_the_normalised_reference() {
        let cases: &[(&str, &str, bool)] = &[
            // docker.io is prepended, tag latest added, no library/ inserted.
            ("docker.io/nginx:latest", "nginx", true),
            ("docker.io/library/nginx:*", "nginx", false),
            ("nginx*", "nginx", false),
            ("docker.io/jmalloc/*", "jmalloc/echo-server", true),
            ("ghcr.io/your-org/*", "jmalloc/echo-server", false),
            // The tag is dropped when a digest is present.
            (
                "ghcr.io/org/app:v1*",
                &format!("ghcr.io/org/app:v1@{DIGEST}"),
                false,
            ),
            (
                "ghcr.io/org/app@sha256:*",
                &format!("ghcr.io/org/app:v1@{DIGEST}"),
                true,
            ),
            (
                "ghcr.io/org/*",
                &format!("ghcr.io/org/app:v1@{DIGEST}"),
                true,
            ),
        ];
        for (pattern, image, expect) in cases {
            let normalized = ImageReference::parse(image)
                .map(|i| i.normalized())
                .unwrap_or_default();
            assert_eq!(
                matches_any(&[pattern.to_string()], &normalized),
                *expect,
                "{pattern:?} vs {image:?} ({normalized})"
            );
        }
    }
}

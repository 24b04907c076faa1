//! Image references (`alpine`, `ghcr.io/org/app:1.2`, `host:5000/x@sha256:…`), normalised the way the
//! docker CLI does it, and validated against the grammar of the OCI distribution spec.
//!
//! Normalisation rules (docker's `ParseNormalizedNamed`):
//! - the first `/`-separated component names a registry when it contains `.` or `:`, is `localhost`,
//!   or contains an uppercase letter; otherwise the registry is `docker.io`;
//! - `index.docker.io` is spelled `docker.io`; on `docker.io` a one-component repository gets the
//!   `library/` prefix;
//! - with neither tag nor digest the tag is `latest`; with a digest and no tag, no tag is added; with
//!   both, both are kept (and the digest is what gets pulled).

use std::fmt;
use std::str::FromStr;

use crate::{Digest, Error};

/// The registry of references without a registry component.
pub const DOCKER_HUB: &str = "docker.io";
/// Where `docker.io`'s distribution API actually lives.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";
const DEFAULT_TAG: &str = "latest";
/// The distribution spec (and docker) limit the full name, registry included, to 255 characters.
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A parsed, normalised image reference.
///
/// Invariants: `registry` and `repository` are valid and non-empty; at least one of `tag` and
/// `digest` is present.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// The registry host (with `:port` if any), e.g. `docker.io`, `127.0.0.1:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path, e.g. `library/alpine`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The host to send distribution API requests to: `docker.io` is served by
    /// `registry-1.docker.io`, every other registry by itself.
    pub fn registry_api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API_HOST
        } else {
            &self.registry
        }
    }

    /// What goes after `/manifests/` in a request: the digest when known, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            // Unreachable by the invariant; `latest` is the same default the parser applies.
            (None, None) => DEFAULT_TAG.to_owned(),
        }
    }

    /// The same repository, pinned to `digest` (the tag is kept, as docker does).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The same repository at `tag`, with no digest.
    pub fn with_tag(&self, tag: &str) -> Result<Reference, Error> {
        check_tag(tag).map_err(|reason| invalid(tag, reason))?;
        Ok(Reference {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        })
    }

    /// Build a reference from parts (each validated).
    pub fn from_parts(
        registry: &str,
        repository: &str,
        tag: Option<&str>,
        digest: Option<Digest>,
    ) -> Result<Reference, Error> {
        let whole = format!("{registry}/{repository}");
        check_registry(registry).map_err(|reason| invalid(&whole, reason))?;
        check_repository(repository).map_err(|reason| invalid(&whole, reason))?;
        if whole.len() > MAX_NAME_LEN {
            return Err(invalid(
                &whole,
                "name longer than 255 characters".to_owned(),
            ));
        }
        if let Some(tag) = tag {
            check_tag(tag).map_err(|reason| invalid(&whole, reason))?;
        }
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (t, _) => t.map(str::to_owned),
        };
        Ok(Reference {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag,
            digest,
        })
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let fail = |reason: &str| invalid(s, reason.to_owned());
        if s.is_empty() {
            return Err(fail("empty reference"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, d)) => {
                let digest = d
                    .parse::<Digest>()
                    .map_err(|e| invalid(s, format!("bad digest: {e}")))?;
                (rest, Some(digest))
            }
            None => (s, None),
        };
        // The tag is after the last `:` that follows the last `/` (a `:` before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest.get(last_slash..).and_then(|tail| tail.rfind(':')) {
            Some(i) => {
                let colon = last_slash + i;
                (rest.get(..colon).unwrap_or_default(), rest.get(colon + 1..))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(fail("empty repository name"));
        }
        let (registry, repository) = split_registry(name);
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_owned()
        };
        if let Some(tag) = tag {
            check_tag(tag).map_err(|reason| invalid(s, reason))?;
        }
        check_registry(&registry).map_err(|reason| invalid(s, reason))?;
        check_repository(&repository).map_err(|reason| invalid(s, reason))?;
        if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
            return Err(fail("name longer than 255 characters"));
        }
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (t, _) => t.map(str::to_owned),
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

fn invalid(reference: &str, reason: String) -> Error {
    Error::InvalidReference {
        reference: reference.to_owned(),
        reason,
    }
}

/// Split `name` into registry and repository by docker's rule for the first component.
fn split_registry(name: &str) -> (String, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            let registry = if first == "index.docker.io" {
                DOCKER_HUB
            } else {
                first
            };
            (registry.to_owned(), rest)
        }
        _ => (DOCKER_HUB.to_owned(), name),
    }
}

/// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
fn check_tag(tag: &str) -> Result<(), String> {
    let mut bytes = tag.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !first_ok
        || tag.len() > MAX_TAG_LEN
        || !bytes.all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        return Err(format!(
            "invalid tag {tag:?} (1 to 128 of [A-Za-z0-9_.-], not starting with `.` or `-`)"
        ));
    }
    Ok(())
}

/// Each component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
fn check_repository(repository: &str) -> Result<(), String> {
    if repository.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(format!("repository name {repository:?} must be lowercase"));
    }
    for component in repository.split('/') {
        if !valid_path_component(component) {
            return Err(format!(
                "invalid repository component {component:?} (lowercase letters and digits, \
                 joined by `.`, `_`, `__` or dashes)"
            ));
        }
    }
    Ok(())
}

fn valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    let mut expect_alnum = true;
    while i < bytes.len() {
        let b = bytes.get(i).copied().unwrap_or_default();
        if alnum(b) {
            expect_alnum = false;
            i += 1;
            continue;
        }
        if expect_alnum {
            return false;
        }
        // A separator: `.`, `_`, `__`, or one or more `-`.
        let start = i;
        match b {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if bytes.get(i) == Some(&b'_') {
                    i += 1;
                }
            }
            b'-' => {
                while bytes.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        debug_assert!(i > start);
        expect_alnum = true;
    }
    !bytes.is_empty() && !expect_alnum
}

/// `host[:port]` where host is DNS labels, an IPv4 address, or `[IPv6]`.
fn check_registry(registry: &str) -> Result<(), String> {
    let bad = || format!("invalid registry host {registry:?}");
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or_else(bad)?;
        if inside.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad());
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(bad)?),
        };
        (None, port)
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(registry), None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
    }
    if let Some(host) = host {
        let label_ok = |l: &str| {
            let b = l.as_bytes();
            !b.is_empty()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                && b.first() != Some(&b'-')
                && b.last() != Some(&b'-')
        };
        if host.is_empty() || !host.split('.').all(label_ok) {
            return Err(bad());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:256b0065328fcc3d0e07603b61bd417843ffa8add4911e16b248592ca4d5bd64";

    /// `expect` is the canonical form, or `Err(fragment of the message)`.
    fn check(input: &str, expect: Result<&str, &str>) {
        match (input.parse::<Reference>(), expect) {
            (Ok(r), Ok(want)) => {
                assert_eq!(r.to_string(), want, "input {input:?}");
                // Canonical form parses back to the same reference.
                assert_eq!(
                    r.to_string().parse::<Reference>().ok(),
                    Some(r.clone()),
                    "round trip of {input:?}"
                );
            }
            (Err(e), Err(fragment)) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(fragment),
                    "input {input:?}: message {msg:?} lacks {fragment:?}"
                );
            }
            (got, want) => panic!("input {input:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn normalises_like_docker() {
        let with_digest = format!("alpine@{D}");
        let with_digest_want = format!("docker.io/library/alpine@{D}");
        let both = format!("ghcr.io/org/app:v1@{D}");
        let host_digest = format!("127.0.0.1:5000/fixtures/alpine@{D}");
        let cases: Vec<(&str, Result<&str, &str>)> = vec![
            ("alpine", Ok("docker.io/library/alpine:latest")),
            ("alpine:3.20", Ok("docker.io/library/alpine:3.20")),
            ("library/alpine", Ok("docker.io/library/alpine:latest")),
            ("bitnami/redis:7", Ok("docker.io/bitnami/redis:7")),
            ("docker.io/alpine", Ok("docker.io/library/alpine:latest")),
            ("index.docker.io/alpine:3", Ok("docker.io/library/alpine:3")),
            ("host:5000/team/app:1.2", Ok("host:5000/team/app:1.2")),
            ("localhost/x", Ok("localhost/x:latest")),
            ("localhost:5000/x", Ok("localhost:5000/x:latest")),
            ("Registry/x", Ok("Registry/x:latest")),
            (
                "127.0.0.1:5000/fixtures/alpine:3.20.3",
                Ok("127.0.0.1:5000/fixtures/alpine:3.20.3"),
            ),
            ("[::1]:5000/a/b:c", Ok("[::1]:5000/a/b:c")),
            ("a.b/c__d/e-f.g_h---i", Ok("a.b/c__d/e-f.g_h---i:latest")),
            ("ghcr.io/x:_under", Ok("ghcr.io/x:_under")),
            (&with_digest, Ok(&with_digest_want)),
            (&both, Ok(&both)),
            (&host_digest, Ok(&host_digest)),
        ];
        for (input, expect) in cases {
            check(input, expect);
        }
    }

    #[test]
    fn rejects_bad_grammar() {
        let long_tag = format!("alpine:{}", "t".repeat(129));
        let long_name = format!("r.io/{}", "a".repeat(251));
        let cases: Vec<(&str, Result<&str, &str>)> = vec![
            ("", Err("empty reference")),
            (":tag", Err("empty repository")),
            ("Alpine", Err("must be lowercase")),
            ("docker.io/Alpine", Err("must be lowercase")),
            ("alpine:", Err("invalid tag")),
            ("alpine:-x", Err("invalid tag")),
            ("alpine:.x", Err("invalid tag")),
            ("alpine:a+b", Err("invalid tag")),
            (&long_tag, Err("invalid tag")),
            ("alpine@sha256:abc", Err("bad digest")),
            ("alpine@", Err("bad digest")),
            ("a//b", Err("invalid repository component")),
            ("r.io/a/", Err("invalid repository component")),
            ("r.io/-a", Err("invalid repository component")),
            ("r.io/a-", Err("invalid repository component")),
            ("r.io/a___b", Err("invalid repository component")),
            ("r.io/a..b", Err("invalid repository component")),
            ("r.io/a b", Err("invalid repository component")),
            ("host:port/x", Err("invalid registry host")),
            ("-h.io/x", Err("invalid registry host")),
            ("h..io/x", Err("invalid registry host")),
            ("[zz]:5/x", Err("invalid registry host")),
            ("h.io:/x", Err("invalid registry host")),
            (&long_name, Err("longer than 255")),
        ];
        for (input, expect) in cases {
            check(input, expect);
        }
    }

    #[test]
    fn parts_and_api_host() {
        let r: Reference = "alpine:3.20".parse().expect("valid");
        assert_eq!(
            (r.registry(), r.repository(), r.tag(), r.digest()),
            ("docker.io", "library/alpine", Some("3.20"), None)
        );
        assert_eq!(r.registry_api_host(), "registry-1.docker.io");
        assert_eq!(r.manifest_reference(), "3.20");
        let d: Digest = D.parse().expect("digest");
        let pinned = r.with_digest(d.clone());
        assert_eq!(pinned.manifest_reference(), D);
        assert_eq!(
            pinned.to_string(),
            format!("docker.io/library/alpine:3.20@{D}")
        );
        let local: Reference = "127.0.0.1:5000/x/y".parse().expect("valid");
        assert_eq!(local.registry_api_host(), "127.0.0.1:5000");
        assert_eq!(local.name(), "127.0.0.1:5000/x/y");
        assert!(local.with_tag("bad tag").is_err());
        assert_eq!(
            local.with_tag("v2").expect("tag").to_string(),
            "127.0.0.1:5000/x/y:v2"
        );
        let built = Reference::from_parts("r.io", "a/b", None, Some(d)).expect("parts");
        assert_eq!(built.tag(), None);
        assert!(Reference::from_parts("r.io", "A", None, None).is_err());
    }

    /// A cheap stand-in for the fuzz target: many generated strings over the grammar's alphabet
    /// never panic, and whatever parses round-trips through its canonical form.
    #[test]
    fn generated_inputs_round_trip() {
        const ALPHABET: &[u8] = b"aZ09._-_/:@[]lsha256:localhost.io";
        let mut state: u64 = 0x5eed;
        let mut accepted = 0;
        for _ in 0..50_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (state >> 59) as usize + 1;
            let mut text = String::new();
            for _ in 0..len {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let i = (state >> 33) as usize % ALPHABET.len();
                text.push(char::from(ALPHABET[i]));
            }
            if let Ok(r) = text.parse::<Reference>() {
                accepted += 1;
                let canonical = r.to_string();
                assert_eq!(
                    canonical.parse::<Reference>().ok(),
                    Some(r),
                    "round trip of {text:?}"
                );
            }
        }
        // The generator must exercise the accepting path, not only rejections.
        assert!(accepted > 100, "only {accepted} generated inputs parsed");
    }
}

//! Credentials and the registry auth handshake: docker `config.json`, `WWW-Authenticate` challenges,
//! bearer tokens.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

use crate::Error;

/// A user name and password (or token) for basic auth and token requests.
///
/// `Debug` never prints the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    password: String,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The value of an `Authorization: Basic …` header.
    pub(crate) fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The `auths` entries of a docker `config.json`, keyed by normalised registry host.
///
/// Credential helpers (`credsStore`, `credHelpers`) and `identitytoken` are not supported: they would
/// mean running external programs or an OAuth2 refresh flow.
#[derive(Clone, Default)]
pub struct DockerConfig {
    auths: BTreeMap<String, Credentials>,
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerConfig")
            .field("registries", &self.auths.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    auths: BTreeMap<String, RawAuth>,
}

#[derive(Deserialize)]
struct RawAuth {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

impl DockerConfig {
    /// Read `DIR/config.json`; a missing file is an empty config.
    pub fn load(dir: &Path) -> Result<DockerConfig, Error> {
        let path = dir.join("config.json");
        match std::fs::read(&path) {
            Ok(bytes) => DockerConfig::parse(&bytes, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(DockerConfig::default()),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    /// Parse the bytes of a `config.json` (`path` only names it in errors).
    pub fn parse(bytes: &[u8], path: &Path) -> Result<DockerConfig, Error> {
        let bad = |reason: String| Error::DockerConfig {
            path: path.to_owned(),
            reason,
        };
        let raw: RawConfig = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        let mut auths = BTreeMap::new();
        for (key, entry) in raw.auths {
            let creds = match (
                entry.auth.as_deref().filter(|a| !a.is_empty()),
                entry.username,
                entry.password,
            ) {
                (Some(encoded), _, _) => {
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(encoded.trim())
                        .map_err(|_| bad(format!("auths.{key:?}.auth is not base64")))?;
                    let text = String::from_utf8(decoded)
                        .map_err(|_| bad(format!("auths.{key:?}.auth is not UTF-8")))?;
                    let (user, pass) = text
                        .split_once(':')
                        .ok_or_else(|| bad(format!("auths.{key:?}.auth is not `user:password`")))?;
                    Credentials::new(user, pass)
                }
                (None, Some(user), Some(pass)) => Credentials::new(user, pass),
                // An entry with neither (e.g. only `identitytoken`) gives no usable credentials.
                _ => continue,
            };
            auths.insert(normalise_config_key(&key), creds);
        }
        Ok(DockerConfig { auths })
    }

    /// Credentials for `registry` (as written in references, e.g. `docker.io`, `host:5000`).
    pub fn credentials_for(&self, registry: &str) -> Option<&Credentials> {
        let wanted = registry.to_ascii_lowercase();
        if wanted == crate::reference::DOCKER_HUB {
            // docker login writes `https://index.docker.io/v1/` for Docker Hub.
            return ["index.docker.io", "docker.io", "registry-1.docker.io"]
                .iter()
                .find_map(|k| self.auths.get(*k));
        }
        self.auths.get(&wanted)
    }
}

/// `https://host:5000/v1/` -> `host:5000`.
fn normalise_config_key(key: &str) -> String {
    let no_scheme = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = no_scheme.split('/').next().unwrap_or(no_scheme);
    host.to_ascii_lowercase()
}

/// Default folder of the docker client config: `$DOCKER_CONFIG`, else `~/.docker`.
pub fn default_docker_config_dir() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => dirs::home_dir().map(|h| h.join(".docker")),
    }
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parse `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let params = parse_auth_params(rest);
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    Some(Challenge::Bearer {
        realm: get("realm")?,
        service: get("service"),
        scope: get("scope"),
    })
}

/// `k="v", k2=v2` with quoted strings that may contain commas and `\"` escapes.
fn parse_auth_params(input: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            continue;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => {
                        if let Some(escaped) = chars.next() {
                            value.push(escaped);
                        }
                    }
                    c => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        out.push((key.trim().to_owned(), value.trim().to_owned()));
    }
    out
}

/// The body of a token endpoint's answer (docker token auth spec; `access_token` is the OAuth2 name).
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub token: Option<String>,
    pub access_token: Option<String>,
    pub expires_in: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let cases: Vec<(&str, Option<Challenge>)> = vec![
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
                Some(Challenge::Bearer {
                    realm: "https://auth.docker.io/token".into(),
                    service: Some("registry.docker.io".into()),
                    scope: Some("repository:library/alpine:pull".into()),
                }),
            ),
            (
                r#"bearer realm="https://r/t", scope="repository:a/b:pull,push""#,
                Some(Challenge::Bearer {
                    realm: "https://r/t".into(),
                    service: None,
                    scope: Some("repository:a/b:pull,push".into()),
                }),
            ),
            (
                r#"Bearer service=plain,realm="https://r/t\"q""#,
                Some(Challenge::Bearer {
                    realm: "https://r/t\"q".into(),
                    service: Some("plain".into()),
                    scope: None,
                }),
            ),
            (r#"Basic realm="fixtures""#, Some(Challenge::Basic)),
            (r#"Bearer service="x""#, None),
            ("Negotiate abc", None),
            ("", None),
        ];
        for (header, want) in cases {
            assert_eq!(parse_challenge(header), want, "header {header:?}");
        }
    }

    #[test]
    fn reads_docker_config() {
        let json = br#"{"auths":{
            "https://index.docker.io/v1/":{"auth":"aHViOmh1YnBhc3M="},
            "127.0.0.1:5001":{"username":"fixture","password":"fixture-pass"},
            "https://Ghcr.io":{"auth":"Z2g6dG9rOmVu"},
            "only-token.io":{"identitytoken":"x"}
        },"credsStore":"desktop"}"#;
        let cfg = DockerConfig::parse(json, Path::new("config.json")).expect("parses");
        let get = |r: &str| {
            cfg.credentials_for(r)
                .map(|c| (c.username.clone(), c.password().to_owned()))
        };
        assert_eq!(get("docker.io"), Some(("hub".into(), "hubpass".into())));
        assert_eq!(
            get("127.0.0.1:5001"),
            Some(("fixture".into(), "fixture-pass".into()))
        );
        // The password may itself contain `:`.
        assert_eq!(get("ghcr.io"), Some(("gh".into(), "tok:en".into())));
        assert_eq!(get("only-token.io"), None);
        assert_eq!(get("127.0.0.1:5000"), None);
    }

    #[test]
    fn rejects_bad_docker_config_and_redacts() {
        for bad in [
            &br#"{"auths":{"h":{"auth":"!!"}}}"#[..],
            br#"{"auths":{"h":{"auth":"bm9jb2xvbg=="}}}"#,
            b"{",
        ] {
            let err = DockerConfig::parse(bad, Path::new("/x/config.json")).expect_err("error");
            assert!(err.to_string().contains("/x/config.json"), "{err}");
        }
        let creds = Credentials::new("u", "s3cret");
        assert!(!format!("{creds:?}").contains("s3cret"));
        assert_eq!(creds.basic_header(), "Basic dTpzM2NyZXQ=");
    }
}

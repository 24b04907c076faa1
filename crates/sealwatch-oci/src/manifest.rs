//! Manifests, indexes, image configs and platforms: OCI image spec v1 and Docker image manifest v2
//! schema 2 (which is the same shape with other media types).
//!
//! # Why our own serde types and not `oci-spec`
//!
//! `oci-spec` (0.8 in the workspace; 0.10.0 is the latest, same design) models the OCI types
//! well, but we need three things it makes awkward:
//! (1) one set of types for *both* OCI and Docker schema 2 documents, with media types kept as the
//! exact strings the source sent so that an unknown one becomes an error naming the digest and the
//! media type (rather than a silent `MediaType::Other`); (2) lenient parsing of fields that real
//! images omit or fill oddly (`null` lists in Docker configs, missing `mediaType` in OCI manifests,
//! configs with extra Docker-only fields), while the fields we rely on (digest, size) stay strict:
//! digests are parsed into our [`Digest`] which rejects anything but lowercase sha256/sha512;
//! (3) no builder/getter layer between the bytes and the checks. The types below are small, read
//! only what sealwatch uses, and ignore unknown fields as the OCI spec asks of consumers.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use crate::{Digest, Error, Result};

/// Media types sealwatch knows.
pub mod media_type {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
    pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
    pub const OCI_LAYER_ND_TAR: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
    pub const OCI_LAYER_ND_GZIP: &str =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
    pub const OCI_LAYER_ND_ZSTD: &str =
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    pub const DOCKER_LAYER_FOREIGN_GZIP: &str =
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
    /// Uncompressed Docker layer; used for the layers of a `docker save` archive.
    pub const DOCKER_LAYER_TAR: &str = "application/vnd.docker.image.rootfs.diff.tar";
}

/// How a layer blob is compressed, derived from its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// The compression of a layer media type, or `None` when sealwatch does not know the media type.
    pub fn of_layer_media_type(media_type: &str) -> Option<Compression> {
        use media_type::*;
        match media_type {
            OCI_LAYER_TAR | OCI_LAYER_ND_TAR | DOCKER_LAYER_TAR => Some(Compression::None),
            OCI_LAYER_GZIP | OCI_LAYER_ND_GZIP | DOCKER_LAYER_GZIP | DOCKER_LAYER_FOREIGN_GZIP => {
                Some(Compression::Gzip)
            }
            OCI_LAYER_ZSTD | OCI_LAYER_ND_ZSTD => Some(Compression::Zstd),
            _ => None,
        }
    }
}

/// A content descriptor: what a manifest or index says about a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub urls: Vec<String>,
}

impl Descriptor {
    /// A descriptor with just media type, digest and size.
    pub fn new(media_type: impl Into<String>, digest: Digest, size: u64) -> Self {
        Descriptor {
            media_type: media_type.into(),
            digest,
            size,
            platform: None,
            annotations: BTreeMap::new(),
            urls: Vec::new(),
        }
    }

    /// The `org.opencontainers.image.ref.name` annotation (the tag in an OCI layout's index.json).
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations
            .get(REF_NAME_ANNOTATION)
            .map(String::as_str)
    }
}

/// The annotation an OCI layout uses to name the manifests in its `index.json`.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

/// `os/arch[/variant]`, as in `--platform linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Platform {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
            os_version: None,
        }
    }

    /// The platform of the machine sealwatch runs on, in Go's (and so OCI's) names: linux/amd64 on
    /// x86_64, linux/arm64 on aarch64.
    pub fn host() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        Platform::new("linux", arch, None)
    }

    /// Whether an index entry's platform satisfies this requested platform. An unset requested
    /// variant accepts any variant; `arm64` treats a missing variant as `v8` (as containerd does).
    pub fn matches(&self, candidate: &Platform) -> bool {
        if self.os != candidate.os || self.architecture != candidate.architecture {
            return false;
        }
        match &self.variant {
            None => true,
            Some(want) => {
                let normalize = |v: Option<&str>| match (self.architecture.as_str(), v) {
                    ("arm64", None) => Some("v8".to_owned()),
                    (_, v) => v.map(str::to_owned),
                };
                normalize(Some(want)) == normalize(candidate.variant.as_deref())
            }
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split('/').collect();
        let bad = || Error::InvalidPlatform {
            platform: s.to_owned(),
        };
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform::new(os, arch, None)),
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
                Ok(Platform::new(os, arch, Some(variant)))
            }
            _ => Err(bad()),
        }
    }
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    #[serde(default, deserialize_with = "null_default")]
    pub layers: Vec<Descriptor>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
}

/// An image index or Docker manifest list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub manifests: Vec<Descriptor>,
    #[serde(
        default,
        deserialize_with = "null_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
}

/// A parsed manifest-or-index document.
#[derive(Debug, Clone)]
pub enum Manifest {
    Image(Box<ImageManifest>),
    Index(ImageIndex),
}

/// Only the fields we need to tell a manifest from an index when neither header nor descriptor
/// names the media type.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
    #[serde(default)]
    config: Option<serde_json::Value>,
}

impl Manifest {
    /// Parse a manifest or index. `media_type` is what the descriptor or registry said (if
    /// anything); `name` (a digest or path) goes into error messages.
    ///
    /// The media type comes from, in order: the caller, the document's `mediaType` field, the
    /// document's shape (`manifests` = index, `config` = manifest) as the OCI spec allows.
    pub fn parse(bytes: &[u8], media_type: Option<&str>, name: &str) -> Result<Manifest> {
        use media_type::*;
        let bad_json = |what, source| Error::BadJson {
            what,
            digest: name.to_owned(),
            source,
        };
        let probe: Probe = serde_json::from_slice(bytes).map_err(|e| bad_json("manifest", e))?;
        let declared = media_type
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .or(probe.media_type.clone());
        let kind = match declared.as_deref() {
            Some(OCI_MANIFEST | DOCKER_MANIFEST) => false,
            Some(OCI_INDEX | DOCKER_LIST) => true,
            Some(other) => {
                return Err(Error::UnsupportedMediaType {
                    what: "manifest",
                    digest: name.to_owned(),
                    media_type: other.to_owned(),
                })
            }
            None if probe.manifests.is_some() => true,
            None if probe.config.is_some() => false,
            None => {
                return Err(Error::InvalidImage {
                    source_name: name.to_owned(),
                    reason: "document has no mediaType and is neither a manifest nor an index"
                        .into(),
                })
            }
        };
        // A document whose own mediaType contradicts the descriptor is a confusion attack
        // (the OCI spec requires them to agree).
        if let (Some(outer), Some(inner)) = (
            media_type.filter(|m| !m.is_empty()),
            probe.media_type.as_deref(),
        ) {
            if outer != inner {
                return Err(Error::InvalidImage {
                    source_name: name.to_owned(),
                    reason: format!(
                        "descriptor media type {outer:?} differs from document mediaType {inner:?}"
                    ),
                });
            }
        }
        if kind {
            let index: ImageIndex =
                serde_json::from_slice(bytes).map_err(|e| bad_json("index", e))?;
            Ok(Manifest::Index(index))
        } else {
            let manifest: ImageManifest =
                serde_json::from_slice(bytes).map_err(|e| bad_json("manifest", e))?;
            if !matches!(
                manifest.config.media_type.as_str(),
                OCI_CONFIG | DOCKER_CONFIG
            ) {
                return Err(Error::UnsupportedMediaType {
                    what: "config",
                    digest: manifest.config.digest.to_string(),
                    media_type: manifest.config.media_type.clone(),
                });
            }
            for layer in &manifest.layers {
                if Compression::of_layer_media_type(&layer.media_type).is_none() {
                    return Err(Error::UnsupportedMediaType {
                        what: "layer",
                        digest: layer.digest.to_string(),
                        media_type: layer.media_type.clone(),
                    });
                }
            }
            Ok(Manifest::Image(Box::new(manifest)))
        }
    }
}

impl ImageIndex {
    /// The manifest for `platform`: the first entry whose platform matches. Entries without a
    /// platform are skipped, so are attestation manifests (platform `unknown/unknown`).
    pub fn select(&self, platform: &Platform, index_name: &str) -> Result<&Descriptor> {
        self.manifests
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
            .ok_or_else(|| Error::NoMatchingPlatform {
                platform: platform.to_string(),
                index: index_name.to_owned(),
                available: {
                    let list: Vec<String> = self
                        .manifests
                        .iter()
                        .filter_map(|d| d.platform.as_ref().map(|p| p.to_string()))
                        .collect();
                    if list.is_empty() {
                        "none".to_owned()
                    } else {
                        list.join(", ")
                    }
                },
            })
    }
}

/// The parts of an image config sealwatch reads (OCI `config.v1` and Docker `container.image.v1`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub author: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub config: RuntimeConfig,
    pub rootfs: RootFs,
    #[serde(default, deserialize_with = "null_default")]
    pub history: Vec<History>,
}

/// The `config` section: how a container of this image runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RuntimeConfig {
    #[serde(rename = "User", default)]
    pub user: Option<String>,
    #[serde(rename = "ExposedPorts", default, deserialize_with = "null_default")]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    #[serde(rename = "Env", default, deserialize_with = "null_default")]
    pub env: Vec<String>,
    #[serde(rename = "Entrypoint", default, deserialize_with = "null_default")]
    pub entrypoint: Vec<String>,
    #[serde(rename = "Cmd", default, deserialize_with = "null_default")]
    pub cmd: Vec<String>,
    #[serde(rename = "WorkingDir", default)]
    pub working_dir: Option<String>,
    #[serde(rename = "Labels", default, deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(rename = "StopSignal", default)]
    pub stop_signal: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, deserialize_with = "null_default")]
    pub diff_ids: Vec<Digest>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct History {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub empty_layer: bool,
}

impl ImageConfig {
    pub fn parse(bytes: &[u8], name: &str) -> Result<ImageConfig> {
        serde_json::from_slice(bytes).map_err(|source| Error::BadJson {
            what: "image config",
            digest: name.to_owned(),
            source,
        })
    }

    /// The image's platform as its config records it.
    pub fn platform(&self) -> Platform {
        Platform::new(&self.os, &self.architecture, self.variant.as_deref())
    }
}

/// Docker writes `null` for empty lists and maps; treat it as empty.
fn null_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn manifest_json(config_mt: &str, layer_mt: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{config_mt}","digest":"{}","size":1}},
               "layers":[{{"mediaType":"{layer_mt}","digest":"{}","size":2}}]}}"#,
            media_type::OCI_MANIFEST,
            digest('a'),
            digest('b')
        )
    }

    #[test]
    fn platform_parse_and_match() {
        let check = |want: &str, have: Platform, expect: bool| {
            let want: Platform = want.parse().expect("valid platform");
            assert_eq!(want.matches(&have), expect, "{want} vs {have}");
        };
        check("linux/amd64", Platform::new("linux", "amd64", None), true);
        check(
            "linux/arm64",
            Platform::new("linux", "arm64", Some("v8")),
            true,
        );
        check(
            "linux/arm64/v8",
            Platform::new("linux", "arm64", None),
            true,
        );
        check(
            "linux/arm/v7",
            Platform::new("linux", "arm", Some("v6")),
            false,
        );
        check("linux/amd64", Platform::new("linux", "arm64", None), false);
        check(
            "linux/amd64",
            Platform::new("windows", "amd64", None),
            false,
        );
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", ""] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
    }

    #[test]
    fn media_types_are_checked() {
        use media_type::*;
        let check = |config_mt: &str, layer_mt: &str, expect_err: Option<&str>| {
            let got = Manifest::parse(manifest_json(config_mt, layer_mt).as_bytes(), None, "test");
            match (got, expect_err) {
                (Ok(Manifest::Image(m)), None) => assert_eq!(m.layers.len(), 1),
                (Err(e), Some(needle)) => assert!(e.to_string().contains(needle), "{e}"),
                (other, _) => panic!("unexpected {other:?} for {config_mt} {layer_mt}"),
            }
        };
        check(OCI_CONFIG, OCI_LAYER_GZIP, None);
        check(DOCKER_CONFIG, DOCKER_LAYER_GZIP, None);
        check(OCI_CONFIG, OCI_LAYER_ZSTD, None);
        check(
            OCI_CONFIG,
            "application/x-helm-chart",
            Some("layer sha256:bbbb"),
        );
        check(
            "application/vnd.cncf.helm.config.v1+json",
            OCI_LAYER_GZIP,
            Some("config sha256:aaaa"),
        );
    }

    #[test]
    fn manifest_kind_from_shape_and_mismatch() {
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{}","size":3}}]}}"#,
            media_type::OCI_MANIFEST,
            digest('c')
        );
        assert!(matches!(
            Manifest::parse(index.as_bytes(), None, "x"),
            Ok(Manifest::Index(_))
        ));
        let err = Manifest::parse(index.as_bytes(), Some("application/vnd.foo"), "sha256:x")
            .expect_err("must fail");
        assert!(err.to_string().contains("application/vnd.foo"), "{err}");
        let m = manifest_json(media_type::OCI_CONFIG, media_type::OCI_LAYER_TAR);
        let err = Manifest::parse(m.as_bytes(), Some(media_type::DOCKER_MANIFEST), "d")
            .expect_err("must fail");
        assert!(err.to_string().contains("differs"), "{err}");
        assert!(Manifest::parse(b"{not json", None, "d").is_err());
    }

    #[test]
    fn docker_config_with_nulls() {
        let cfg = br#"{"architecture":"amd64","os":"linux","config":{"Env":null,"Cmd":["/bin/sh"],"Labels":null,"User":""},
            "rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]},"history":null}"#;
        let c = ImageConfig::parse(cfg, "c").expect("parses");
        assert_eq!(c.config.cmd, ["/bin/sh"]);
        assert!(c.config.env.is_empty());
        assert_eq!(c.rootfs.diff_ids.len(), 1);
        assert_eq!(c.platform().to_string(), "linux/amd64");
    }
}

//! What the user named: `docker-archive:PATH`, `oci:PATH[:REF]`, `oci-archive:PATH[:REF]`,
//! `rootfs:PATH` / `dir:PATH`, or a registry reference.

use std::fmt;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::archive::{archive_key, is_gzip};
use crate::reference::Reference;
use crate::{Error, Result};

/// An image the user named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSpec {
    /// A `docker save` tar (plain or gzip); `reference` is a `repo:tag` from its `RepoTags`.
    DockerArchive {
        path: PathBuf,
        reference: Option<String>,
    },
    /// An OCI image layout folder; `reference` matches `org.opencontainers.image.ref.name`.
    OciLayout {
        path: PathBuf,
        reference: Option<String>,
    },
    /// A tar (plain or gzip) of an OCI image layout.
    OciArchive {
        path: PathBuf,
        reference: Option<String>,
    },
    /// A plain folder on the host, e.g. `rootfs:/`: the folder itself is the one file view.
    RootFs { path: PathBuf },
    /// An image in a registry.
    Registry(Reference),
}

impl ImageSpec {
    /// Detect the format of `--input PATH` by content: a folder with `oci-layout` is an OCI layout,
    /// any other folder a rootfs; a file (plain tar or gzip) holding `oci-layout` is an
    /// oci-archive, one holding `manifest.json` a docker-archive.
    pub fn detect(path: &Path) -> Result<ImageSpec> {
        let meta = std::fs::metadata(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        if meta.is_dir() {
            return Ok(if path.join("oci-layout").is_file() {
                ImageSpec::OciLayout {
                    path: path.to_owned(),
                    reference: None,
                }
            } else {
                ImageSpec::RootFs {
                    path: path.to_owned(),
                }
            });
        }
        let io_err = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io_err)?;
        let reader: Box<dyn Read> = if is_gzip(path)? {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                1 << 20,
                file,
            )))
        } else {
            Box::new(BufReader::with_capacity(1 << 20, file))
        };
        let mut archive = tar::Archive::new(reader);
        let mut has_docker_manifest = false;
        let not_image = |reason: String| Error::InvalidImage {
            source_name: path.display().to_string(),
            reason,
        };
        let entries = archive
            .entries()
            .map_err(|e| not_image(format!("not a tar archive: {e}")))?;
        for entry in entries {
            let entry = entry
                .map_err(|e| not_image(format!("not a tar archive, or a damaged one: {e}")))?;
            let name = entry.path().map_err(io_err)?.to_string_lossy().into_owned();
            match archive_key(&name).as_deref() {
                // A layout wins over manifest.json (newer `docker save` writes both), because it
                // gives the image a manifest digest.
                Some("oci-layout") => {
                    return Ok(ImageSpec::OciArchive {
                        path: path.to_owned(),
                        reference: None,
                    })
                }
                Some("manifest.json") => has_docker_manifest = true,
                _ => {}
            }
        }
        if has_docker_manifest {
            Ok(ImageSpec::DockerArchive {
                path: path.to_owned(),
                reference: None,
            })
        } else {
            Err(not_image(
                "archive has neither oci-layout nor manifest.json".into(),
            ))
        }
    }
}

/// Split `PATH[:REF]`: the longest prefix ending before a `:` that exists on disk is the path.
fn split_path_ref(rest: &str) -> (PathBuf, Option<String>) {
    if rest.is_empty() || Path::new(rest).exists() {
        return (PathBuf::from(rest), None);
    }
    for (i, _) in rest.match_indices(':') {
        let (path, reference) = (&rest[..i], &rest[i + 1..]);
        if Path::new(path).exists() {
            return (
                PathBuf::from(path),
                Some(reference.to_owned()).filter(|r| !r.is_empty()),
            );
        }
    }
    (PathBuf::from(rest), None)
}

impl FromStr for ImageSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let empty = || Error::InvalidReference {
            reference: s.to_owned(),
            reason: "empty path".into(),
        };
        if let Some((transport, rest)) = s.split_once(':') {
            let spec = match transport {
                "docker-archive" => {
                    let (path, reference) = split_path_ref(rest);
                    ImageSpec::DockerArchive { path, reference }
                }
                "oci" => {
                    let (path, reference) = split_path_ref(rest);
                    ImageSpec::OciLayout { path, reference }
                }
                "oci-archive" => {
                    let (path, reference) = split_path_ref(rest);
                    ImageSpec::OciArchive { path, reference }
                }
                "rootfs" | "dir" => ImageSpec::RootFs {
                    path: PathBuf::from(rest),
                },
                _ => return Ok(ImageSpec::Registry(s.parse()?)),
            };
            let path_is_empty = match &spec {
                ImageSpec::DockerArchive { path, .. }
                | ImageSpec::OciLayout { path, .. }
                | ImageSpec::OciArchive { path, .. }
                | ImageSpec::RootFs { path } => path.as_os_str().is_empty(),
                ImageSpec::Registry(_) => false,
            };
            if path_is_empty {
                return Err(empty());
            }
            return Ok(spec);
        }
        Ok(ImageSpec::Registry(s.parse()?))
    }
}

impl fmt::Display for ImageSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with_ref = |f: &mut fmt::Formatter<'_>, t: &str, p: &Path, r: &Option<String>| match r {
            Some(r) => write!(f, "{t}:{}:{r}", p.display()),
            None => write!(f, "{t}:{}", p.display()),
        };
        match self {
            ImageSpec::DockerArchive { path, reference } => {
                with_ref(f, "docker-archive", path, reference)
            }
            ImageSpec::OciLayout { path, reference } => with_ref(f, "oci", path, reference),
            ImageSpec::OciArchive { path, reference } => {
                with_ref(f, "oci-archive", path, reference)
            }
            ImageSpec::RootFs { path } => write!(f, "rootfs:{}", path.display()),
            ImageSpec::Registry(r) => write!(f, "{r}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_transports() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display().to_string();
        let check = |input: String, expect: ImageSpec| {
            assert_eq!(
                input.parse::<ImageSpec>().expect("parses"),
                expect,
                "{input}"
            );
        };
        check(
            format!("oci:{d}"),
            ImageSpec::OciLayout {
                path: dir.path().into(),
                reference: None,
            },
        );
        check(
            format!("oci:{d}:v1"),
            ImageSpec::OciLayout {
                path: dir.path().into(),
                reference: Some("v1".into()),
            },
        );
        check(
            format!("docker-archive:{d}:repo/x:tag"),
            ImageSpec::DockerArchive {
                path: dir.path().into(),
                reference: Some("repo/x:tag".into()),
            },
        );
        check(
            format!("oci-archive:{d}"),
            ImageSpec::OciArchive {
                path: dir.path().into(),
                reference: None,
            },
        );
        check("rootfs:/".into(), ImageSpec::RootFs { path: "/".into() });
        check(
            "dir:/srv".into(),
            ImageSpec::RootFs {
                path: "/srv".into(),
            },
        );
        assert!("oci:".parse::<ImageSpec>().is_err());
        assert!(matches!(
            "alpine:3.20".parse::<ImageSpec>(),
            Ok(ImageSpec::Registry(_))
        ));
    }

    #[test]
    fn detect_rejects_what_is_not_an_image() {
        let dir = tempfile::tempdir().expect("tempdir");
        let junk = dir.path().join("junk");
        std::fs::write(&junk, vec![0x5a; 2048]).expect("write");
        let mut empty_tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        empty_tar
            .append_data(&mut h, "hello.txt", &b"hi"[..])
            .expect("append");
        let plain = dir.path().join("plain.tar");
        std::fs::write(&plain, empty_tar.into_inner().expect("tar")).expect("write");
        for (path, needle) in [
            (&junk, "not a tar"),
            (&plain, "neither oci-layout nor manifest.json"),
        ] {
            let err = ImageSpec::detect(path).expect_err("not an image");
            assert!(err.to_string().contains(needle), "{err}");
        }
        assert!(ImageSpec::detect(&dir.path().join("missing")).is_err());
        assert_eq!(
            ImageSpec::detect(dir.path()).expect("a folder"),
            ImageSpec::RootFs {
                path: dir.path().to_owned()
            }
        );
    }
}

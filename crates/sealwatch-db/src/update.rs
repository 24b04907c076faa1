//! `db update`: download OSV's per-ecosystem `all.zip` archives over HTTP and rebuild the database.
//!
//! The flow, and why:
//! 1. For each source, a conditional `GET` (`If-None-Match` / `If-Modified-Since` from the last update) so an
//!    unchanged archive costs one round trip. A `304` reuses the archive kept from last time.
//! 2. A changed archive streams to a temporary file beside the database while its sha256 is computed:
//!    memory stays at one buffer whatever the archive's size.
//! 3. When nothing changed, nothing is written (only the time of the check, in a small side file).
//!    Otherwise a new database is built from every source's archive (plus the local imports that still
//!    exist) and swapped in atomically by [`DbWriter::commit`]; until then the old one stays in use, and a
//!    kill, a full disk or a damaged archive leaves it as it was.
//! 4. Downloaded archives are kept, content-addressed, in `<database>.archives/`, so a later update that
//!    finds one source changed can rebuild without downloading the others again.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::StatusCode;
use sealwatch_version::Ecosystem;
use sha2::{Digest as _, Sha256};

use crate::{now_rfc3339, AdvisoryDb, DbError, DbWriter, ImportDiagnostic, Result, SourceInfo};

/// OSV's public bucket; `<base>/<Ecosystem>/all.zip` is one ecosystem's archive.
pub const DEFAULT_BASE_URL: &str = "https://osv-vulnerabilities.storage.googleapis.com";

/// The ecosystems `db update` fetches unless told otherwise (OSV's folder names).
pub const DEFAULT_ECOSYSTEMS: &[&str] = &[
    "Alpine",
    "Debian",
    "Ubuntu",
    "Red Hat",
    "Rocky Linux",
    "AlmaLinux",
    "SUSE",
    "PyPI",
    "npm",
    "Go",
    "crates.io",
    "Maven",
    "RubyGems",
    "NuGet",
    "Packagist",
];

/// Name of the side file (in the archive folder) holding the time of the last successful check.
const CHECKED_FILE: &str = "last-check";

/// One archive to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateSource {
    pub ecosystem: String,
    pub url: String,
}

/// The sources for `ecosystems` under `base` (`<base>/<Ecosystem>/all.zip`), with `overrides`
/// (`(ecosystem, url)`) replacing or adding single sources. Ecosystem names are checked.
pub fn sources(
    base: &str,
    ecosystems: &[String],
    overrides: &[(String, String)],
) -> Result<Vec<UpdateSource>> {
    let base = base.trim_end_matches('/');
    let mut out: Vec<UpdateSource> = Vec::new();
    for name in ecosystems {
        check_ecosystem(name)?;
        out.push(UpdateSource {
            ecosystem: name.clone(),
            url: format!("{base}/{}/all.zip", name.replace(' ', "%20")),
        });
    }
    for (name, url) in overrides {
        check_ecosystem(name)?;
        check_url(url)?;
        match out.iter_mut().find(|s| &s.ecosystem == name) {
            Some(s) => s.url = url.clone(),
            None => out.push(UpdateSource {
                ecosystem: name.clone(),
                url: url.clone(),
            }),
        }
    }
    for s in &out {
        check_url(&s.url)?;
    }
    Ok(out)
}

fn check_ecosystem(name: &str) -> Result<()> {
    if Ecosystem::from_name(name).is_some() {
        return Ok(());
    }
    Err(DbError::UnknownEcosystem {
        name: name.to_owned(),
        known: Ecosystem::ALL
            .iter()
            .map(|e| e.name())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

fn check_url(url: &str) -> Result<()> {
    let parsed = reqwest::Url::parse(url).map_err(|e| DbError::BadUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(DbError::BadUrl {
            url: url.to_owned(),
            reason: "only http and https are supported".into(),
        });
    }
    Ok(())
}

/// The URL sources a database was last updated from (what an automatic refresh fetches again).
pub fn recorded_sources(status: &crate::DbStatus) -> Vec<UpdateSource> {
    status
        .sources
        .iter()
        .filter(|s| is_url(&s.location))
        .map(|s| UpdateSource {
            ecosystem: s.ecosystem.clone().unwrap_or_default(),
            url: s.location.clone(),
        })
        .collect()
}

fn is_url(location: &str) -> bool {
    location.starts_with("http://") || location.starts_with("https://")
}

/// Told about downloads as they happen (the binary draws a progress bar on a terminal).
pub trait Progress {
    /// A download starts; `total` is the announced size.
    fn start(&self, url: &str, total: Option<u64>);
    fn advance(&self, bytes: u64);
    /// The download (or the check) of `url` ended with `outcome` (`downloaded`, `not modified`, …).
    fn finish(&self, url: &str, outcome: &str);
}

/// No progress output.
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _url: &str, _total: Option<u64>) {}
    fn advance(&self, _bytes: u64) {}
    fn finish(&self, _url: &str, _outcome: &str) {}
}

/// What an update did.
#[derive(Debug)]
pub struct UpdateReport {
    /// Sources whose content changed (downloaded anew).
    pub changed: Vec<String>,
    /// Sources the server said were not modified.
    pub unchanged: Vec<String>,
    /// Whether a new database was written.
    pub rebuilt: bool,
    /// Records skipped during the rebuild, and local sources that could not be imported again.
    pub diagnostics: Vec<ImportDiagnostic>,
}

/// The folder holding downloaded archives for the database at `db_path`.
pub fn archive_dir(db_path: &Path) -> PathBuf {
    let name = db_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "advisories.redb".into());
    db_path.with_file_name(format!("{name}.archives"))
}

/// When the database was last brought up to date: the later of its build time and the last check that
/// found every source unchanged. `None` when unknown.
pub fn last_refreshed(db_path: &Path, status: &crate::DbStatus) -> Option<time::OffsetDateTime> {
    let parse = |s: &str| {
        time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339).ok()
    };
    let built = status.updated_at.as_deref().and_then(parse);
    let checked = std::fs::read_to_string(archive_dir(db_path).join(CHECKED_FILE))
        .ok()
        .and_then(|s| parse(&s));
    built.max(checked)
}

/// Download what changed and, if anything did, rebuild the database at `db_path` atomically.
pub fn update(
    db_path: &Path,
    sources: &[UpdateSource],
    progress: &dyn Progress,
) -> Result<UpdateReport> {
    let http = reqwest::blocking::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        // A whole archive must arrive within this; OSV's largest are a few hundred MB.
        .timeout(Duration::from_secs(3600))
        .user_agent(concat!("sealwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DbError::Download {
            url: String::new(),
            source: Box::new(e),
        })?;

    // The previous state. A database that cannot be read is rebuilt from scratch; one from a newer
    // sealwatch is left alone (an older binary must not downgrade it).
    let previous: Vec<SourceInfo> = if db_path.is_file() {
        match AdvisoryDb::open(db_path) {
            Ok(db) => db.status()?.sources,
            Err(e @ DbError::NewerSchema { .. }) => return Err(e),
            Err(_) => Vec::new(),
        }
    } else {
        Vec::new()
    };
    let archives = archive_dir(db_path);
    std::fs::create_dir_all(&archives).map_err(|source| DbError::Io {
        path: archives.clone(),
        source,
    })?;

    // One update at a time per database; the lock goes with the process, so a killed update never
    // leaves it held. With it held, downloads a killed update left behind can go.
    let lock_path = archives.join(".lock");
    let lock = File::create(&lock_path).map_err(|source| DbError::Io {
        path: lock_path.clone(),
        source,
    })?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(DbError::Io {
                path: lock_path,
                source: std::io::Error::other("another `db update` of this database is running"),
            })
        }
        Err(std::fs::TryLockError::Error(source)) => {
            return Err(DbError::Io {
                path: lock_path,
                source,
            })
        }
    }
    remove_files(&archives, |name| {
        name.starts_with(".download-") && name.ends_with(".tmp")
    });

    let mut fetched = Vec::new();
    for source in sources {
        let prev = previous.iter().find(|p| p.location == source.url);
        let cached = prev
            .and_then(|p| p.archive.as_deref())
            .map(|a| archives.join(a))
            .filter(|p| p.is_file());
        let mut got = fetch(&http, source, prev, cached.clone(), &archives, progress)?;
        // A server without validators sends the whole archive again: same bytes, same database.
        if let (Some(prev), Some(_), Some(_)) = (prev, &cached, &got.download) {
            if prev.sha256 == got.info.sha256 {
                got = Fetched {
                    info: prev.clone(),
                    download: None,
                };
            }
        }
        fetched.push(got);
    }

    let same_sources = previous
        .iter()
        .filter(|p| is_url(&p.location))
        .map(|p| p.location.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        == sources
            .iter()
            .map(|s| s.url.as_str())
            .collect::<std::collections::BTreeSet<_>>();
    let unchanged: Vec<String> = fetched
        .iter()
        .filter(|f| f.download.is_none())
        .map(|f| f.info.location.clone())
        .collect();
    let changed: Vec<String> = fetched
        .iter()
        .filter(|f| f.download.is_some())
        .map(|f| f.info.location.clone())
        .collect();
    if changed.is_empty() && same_sources && db_path.is_file() {
        write_checked(&archives)?;
        return Ok(UpdateReport {
            changed,
            unchanged,
            rebuilt: false,
            diagnostics: Vec::new(),
        });
    }

    let mut writer = DbWriter::begin(db_path, true)?;
    let mut diagnostics = Vec::new();
    for f in &fetched {
        let path = match &f.download {
            Some(temp) => temp.to_path_buf(),
            None => archives.join(f.info.archive.as_deref().unwrap_or_default()),
        };
        progress.start(&format!("importing {}", f.info.location), None);
        diagnostics.extend(writer.import_download(&path, f.info.clone())?);
        progress.finish(&f.info.location, "imported");
    }
    // Keep what the user imported from local files, as long as it is still there.
    for local in previous.iter().filter(|p| !is_url(&p.location)) {
        let path = Path::new(&local.location);
        let result = if path.exists() {
            writer.import(path).map(|d| diagnostics.extend(d))
        } else {
            Err(DbError::Io {
                path: path.to_owned(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            })
        };
        if let Err(e) = result {
            diagnostics.push(ImportDiagnostic {
                file: local.location.clone(),
                id: None,
                message: format!("previously imported source dropped: {e}"),
            });
        }
    }
    let keep: Vec<String> = writer
        .sources()
        .iter()
        .filter_map(|s| s.archive.clone())
        .collect();
    writer.commit()?;

    // The new database names these archives: move the downloads into place. If this is interrupted the
    // database names a missing archive, and the next update downloads that one unconditionally.
    for f in fetched {
        if let (Some(temp), Some(name)) = (f.download, f.info.archive) {
            let target = archives.join(&name);
            temp.persist(&target).map_err(|e| DbError::Io {
                path: target,
                source: e.error,
            })?;
        }
    }
    remove_files(&archives, |name| {
        name.ends_with(".zip") && !keep.iter().any(|k| k == name)
    });
    write_checked(&archives)?;
    Ok(UpdateReport {
        changed,
        unchanged,
        rebuilt: true,
        diagnostics,
    })
}

struct Fetched {
    /// What the database will record for this source.
    info: SourceInfo,
    /// The new archive, when the content changed.
    download: Option<tempfile::TempPath>,
}

fn fetch(
    http: &reqwest::blocking::Client,
    source: &UpdateSource,
    prev: Option<&SourceInfo>,
    cached: Option<PathBuf>,
    archives: &Path,
    progress: &dyn Progress,
) -> Result<Fetched> {
    let url = &source.url;
    let mut request = http.get(url);
    // Validators only help when the archive they describe is still here.
    if let (Some(prev), Some(_)) = (prev, &cached) {
        if let Some(etag) = &prev.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(lm) = &prev.last_modified {
            request = request.header(IF_MODIFIED_SINCE, lm);
        }
    }
    let download_err = |e: reqwest::Error| DbError::Download {
        url: url.clone(),
        source: Box::new(e),
    };
    let mut response = request.send().map_err(download_err)?;
    let status = response.status();
    if status == StatusCode::NOT_MODIFIED {
        if let (Some(prev), Some(_)) = (prev, cached) {
            progress.finish(url, "not modified");
            return Ok(Fetched {
                info: prev.clone(),
                download: None,
            });
        }
    }
    if status != StatusCode::OK {
        return Err(DbError::HttpStatus {
            url: url.clone(),
            status: status.as_u16(),
        });
    }
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let etag = header(ETAG);
    let last_modified = header(LAST_MODIFIED);

    let temp = tempfile::Builder::new()
        .prefix(".download-")
        .suffix(".zip.tmp")
        .tempfile_in(archives)
        .map_err(|source| DbError::Io {
            path: archives.to_owned(),
            source,
        })?;
    let (file, temp_path) = temp.into_parts();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    progress.start(url, response.content_length());
    let write_err = |source| DbError::Io {
        path: temp_path.to_path_buf(),
        source,
    };
    loop {
        let n = match response.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(DbError::Source {
                    url: url.clone(),
                    source: Box::new(DbError::Io {
                        path: temp_path.to_path_buf(),
                        source: e,
                    }),
                })
            }
        };
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        out.write_all(chunk).map_err(write_err)?;
        progress.advance(n as u64);
    }
    let file: File = out.into_inner().map_err(|e| write_err(e.into_error()))?;
    file.sync_all().map_err(write_err)?;
    drop(file);
    let sha256 = hex::encode(hasher.finalize());
    progress.finish(url, "downloaded");
    let archive = format!(
        "{}-{}.zip",
        source
            .ecosystem
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_"),
        sha256.get(..16).unwrap_or(&sha256)
    );
    Ok(Fetched {
        info: SourceInfo {
            location: url.clone(),
            kind: "osv-zip".into(),
            imported_at: String::new(),
            sha256,
            records: 0,
            skipped: 0,
            etag,
            last_modified,
            fetched_at: Some(now_rfc3339()),
            ecosystem: Some(source.ecosystem.clone()),
            archive: Some(archive),
        },
        download: Some(temp_path),
    })
}

fn write_checked(archives: &Path) -> Result<()> {
    let path = archives.join(CHECKED_FILE);
    let io = |source| DbError::Io {
        path: path.clone(),
        source,
    };
    let mut temp = tempfile::NamedTempFile::new_in(archives).map_err(io)?;
    temp.write_all(now_rfc3339().as_bytes()).map_err(io)?;
    temp.persist(&path).map_err(|e| io(e.error))?;
    Ok(())
}

/// Remove the files of `dir` whose names `doomed` picks (best effort: a leftover only costs disk).
fn remove_files(dir: &Path, doomed: impl Fn(&str) -> bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if doomed(&entry.file_name().to_string_lossy()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

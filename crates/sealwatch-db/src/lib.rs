//! The vulnerability database: OSV advisories in an embedded store, indexed by (ecosystem, package name);
//! downloads ([`update`]) and OCI distribution ([`artifact`]).
//!
//! The store is one [`redb`] file. redb over SQLite: pure Rust (no C toolchain in the build), ACID with
//! copy-on-write commits, and a reader never sees a half-written transaction; the whole file is still
//! replaced atomically on import (write a copy beside it, fsync, rename), so a killed import or a full disk
//! leaves the previous database untouched and a scan running meanwhile keeps its open file.
//!
//! Layout (schema version [`SCHEMA_VERSION`]):
//! - `meta`: `schema_version`, `sources` (JSON list of [`SourceInfo`]), `updated_at`;
//! - `vulns`: record id -> OSV JSON, zstd-compressed (schema 1: plain JSON, still read);
//! - `by_package`: `"<Ecosystem>\0<normalised name>"` -> JSON list of record ids.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use redb::{
    Database, ReadOnlyDatabase, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    TableDefinition,
};
use sealwatch_advisory::matching::normalize_name;
use sealwatch_advisory::osv::Vulnerability;
use sealwatch_version::Ecosystem;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub mod artifact;
pub mod update;

/// Bumped whenever the layout changes; a database from a newer sealwatch is refused, not misread.
/// Version 2 stores records zstd-compressed; version 1 files (plain JSON) are still read.
pub const SCHEMA_VERSION: u32 = 2;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const VULNS: TableDefinition<&str, &[u8]> = TableDefinition::new("vulns");
const BY_PACKAGE: TableDefinition<&str, &[u8]> = TableDefinition::new("by_package");

/// Page cache of the database being built.
const WRITER_CACHE_BYTES: usize = 64 << 20;

/// Largest single OSV record accepted (the biggest real ones are a few hundred KiB).
const MAX_RECORD_BYTES: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    #[error("no vulnerability database at {path}; run `sealwatch db import PATH` (offline) or `sealwatch db update`")]
    Missing { path: PathBuf },

    #[error("{path}: the database has schema version {found}, this sealwatch reads version {SCHEMA_VERSION}; upgrade sealwatch or rebuild the database")]
    NewerSchema { path: PathBuf, found: u32 },

    #[error("{path}: not a sealwatch vulnerability database ({reason})")]
    NotADatabase { path: PathBuf, reason: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: database error: {source}")]
    Store {
        path: PathBuf,
        #[source]
        source: Box<redb::Error>,
    },

    #[error("{path}: not a readable zip archive: {source}")]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },

    #[error("{path}: {source}")]
    Advisory {
        path: PathBuf,
        #[source]
        source: Box<sealwatch_advisory::AdvisoryError>,
    },

    #[error("{path}: nothing to import (expected an OSV zip, a folder of OSV JSON files, or Alpine secdb YAML)")]
    NothingToImport { path: PathBuf },

    /// Something went wrong with what a download source served.
    #[error("{url}: {source}")]
    Source {
        url: String,
        #[source]
        source: Box<DbError>,
    },

    #[error("{url}: download failed: {source}")]
    Download {
        url: String,
        #[source]
        source: Box<reqwest::Error>,
    },

    #[error("{url}: the server answered HTTP {status}")]
    HttpStatus { url: String, status: u16 },

    #[error("{url}: not a usable download URL ({reason})")]
    BadUrl { url: String, reason: String },

    #[error("unknown OSV ecosystem {name:?} (known: {known})")]
    UnknownEcosystem { name: String, known: String },

    #[error("{reference}: {source}")]
    Registry {
        reference: String,
        #[source]
        source: Box<sealwatch_oci::Error>,
    },

    #[error("{reference}: not a sealwatch database artifact ({reason})")]
    NotAnArtifact { reference: String, reason: String },
}

type Result<T, E = DbError> = std::result::Result<T, E>;

fn store_err(path: &Path) -> impl Fn(redb::Error) -> DbError + '_ {
    move |e| DbError::Store {
        path: path.to_owned(),
        source: Box::new(e),
    }
}

/// Where one import came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// What the user imported (a path or URL).
    pub location: String,
    /// `osv-zip`, `osv-dir`, `alpine-secdb`.
    pub kind: String,
    /// RFC 3339 time of the import.
    pub imported_at: String,
    /// sha256 of the imported bytes (for a folder: of the sorted file list and contents).
    pub sha256: String,
    pub records: u64,
    pub skipped: u64,
    /// HTTP validators of a downloaded source, sent back on the next update (`If-None-Match`,
    /// `If-Modified-Since`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// RFC 3339 time this content was downloaded (kept while the server answers "not modified").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_at: Option<String>,
    /// The OSV ecosystem a downloaded source holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem: Option<String>,
    /// File name of the downloaded archive in the database's archive folder (see [`update`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
}

/// A record or file an import skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportDiagnostic {
    /// The file (or zip member) the problem is in.
    pub file: String,
    /// The record's id, when readable.
    pub id: Option<String>,
    pub message: String,
}

impl std::fmt::Display for ImportDiagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.id {
            Some(id) => write!(f, "{}: {id}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// What `sealwatch db status` shows.
#[derive(Debug, Clone, Serialize)]
pub struct DbStatus {
    pub path: PathBuf,
    pub schema_version: u32,
    pub updated_at: Option<String>,
    pub records: u64,
    pub packages: u64,
    pub sources: Vec<SourceInfo>,
}

/// The default database file: `<user cache>/sealwatch/db/advisories.redb`.
pub fn default_path() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|c| c.join("sealwatch/db/advisories.redb"))
}

/// The index key of a package: the OSV ecosystem without its release suffix, and the name normalised the
/// way that ecosystem compares names. `None` for an ecosystem sealwatch cannot order.
pub fn package_key(ecosystem: &str, name: &str) -> Option<String> {
    let base = ecosystem.split(':').next().unwrap_or(ecosystem);
    let eco = Ecosystem::from_name(base)?;
    Some(format!("{}\0{}", eco.name(), normalize_name(eco, name)))
}

/// An open database, for reading.
pub struct AdvisoryDb {
    path: PathBuf,
    /// Read-only: a scan never writes to the file (so concurrent scans, `db push` and an update's
    /// "nothing changed" check leave it byte for byte as it was).
    db: ReadOnlyDatabase,
    /// Advisories already read, by package key: an image has many binary packages per source package
    /// (`libc6`, `libc-bin`, … all look up `glibc`), and each record is parsed once.
    memo: std::sync::Mutex<std::collections::HashMap<String, Vec<Vulnerability>>>,
}

impl AdvisoryDb {
    pub fn open(path: &Path) -> Result<AdvisoryDb> {
        if !path.is_file() {
            return Err(DbError::Missing {
                path: path.to_owned(),
            });
        }
        let db = ReadOnlyDatabase::open(path).map_err(|e| DbError::NotADatabase {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        let this = AdvisoryDb {
            path: path.to_owned(),
            db,
            memo: Default::default(),
        };
        let found = this.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(DbError::NewerSchema {
                path: path.to_owned(),
                found,
            });
        }
        Ok(this)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let err = store_err(&self.path);
        let txn = self.db.begin_read().map_err(|e| err(e.into()))?;
        let table = txn.open_table(META).map_err(|e| DbError::NotADatabase {
            path: self.path.clone(),
            reason: format!("no metadata table ({e})"),
        })?;
        let value = table.get(key).map_err(|e| err(e.into()))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn schema_version(&self) -> Result<u32> {
        let raw = self
            .meta("schema_version")?
            .ok_or_else(|| DbError::NotADatabase {
                path: self.path.clone(),
                reason: "no schema version".into(),
            })?;
        serde_json::from_slice(&raw).map_err(|e| DbError::NotADatabase {
            path: self.path.clone(),
            reason: format!("bad schema version: {e}"),
        })
    }

    /// Every advisory that names this package (in any release of its ecosystem).
    pub fn lookup(&self, ecosystem: &str, name: &str) -> Result<Vec<Vulnerability>> {
        let Some(key) = package_key(ecosystem, name) else {
            return Ok(Vec::new());
        };
        if let Some(found) = self.memo().get(&key) {
            return Ok(found.clone());
        }
        let found = self.read_package(&key)?;
        self.memo().insert(key, found.clone());
        Ok(found)
    }

    fn memo(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Vec<Vulnerability>>> {
        self.memo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read_package(&self, key: &str) -> Result<Vec<Vulnerability>> {
        let err = store_err(&self.path);
        let txn = self.db.begin_read().map_err(|e| err(e.into()))?;
        let index = txn.open_table(BY_PACKAGE).map_err(|e| err(e.into()))?;
        let Some(ids) = index.get(key).map_err(|e| err(e.into()))? else {
            return Ok(Vec::new());
        };
        let ids: Vec<String> =
            serde_json::from_slice(ids.value()).map_err(|e| DbError::NotADatabase {
                path: self.path.clone(),
                reason: format!("bad index entry: {e}"),
            })?;
        let vulns = txn.open_table(VULNS).map_err(|e| err(e.into()))?;
        let mut decompressor = zstd::bulk::Decompressor::new().map_err(|source| DbError::Io {
            path: self.path.clone(),
            source,
        })?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(raw) = vulns.get(id.as_str()).map_err(|e| err(e.into()))? {
                let json = decode_record_with(&mut decompressor, raw.value()).map_err(|e| {
                    DbError::NotADatabase {
                        path: self.path.clone(),
                        reason: format!("record {id}: {e}"),
                    }
                })?;
                let vuln = Vulnerability::from_json(&json).map_err(|source| DbError::Advisory {
                    path: self.path.clone(),
                    source: Box::new(source),
                })?;
                out.push(vuln);
            }
        }
        Ok(out)
    }

    pub fn status(&self) -> Result<DbStatus> {
        let err = store_err(&self.path);
        let sources: Vec<SourceInfo> = match self.meta("sources")? {
            Some(raw) => serde_json::from_slice(&raw).map_err(|e| DbError::NotADatabase {
                path: self.path.clone(),
                reason: format!("bad sources list: {e}"),
            })?,
            None => Vec::new(),
        };
        let updated_at = self
            .meta("updated_at")?
            .and_then(|raw| serde_json::from_slice(&raw).ok());
        let txn = self.db.begin_read().map_err(|e| err(e.into()))?;
        let records = txn
            .open_table(VULNS)
            .map_err(|e| err(e.into()))?
            .len()
            .map_err(|e| err(e.into()))?;
        let packages = txn
            .open_table(BY_PACKAGE)
            .map_err(|e| err(e.into()))?
            .len()
            .map_err(|e| err(e.into()))?;
        Ok(DbStatus {
            path: self.path.clone(),
            schema_version: self.schema_version()?,
            updated_at,
            records,
            packages,
            sources,
        })
    }
}

/// Builds a new version of the database next to the live one and swaps it in on [`DbWriter::commit`].
///
/// Dropping a writer without committing (or a crash, a kill, a full disk) removes the half-built copy
/// and leaves the live database as it was.
pub struct DbWriter {
    target: PathBuf,
    temp: tempfile::TempPath,
    db: Database,
    sources: Vec<SourceInfo>,
}

impl DbWriter {
    /// Start from the current database at `target` (if any), or from nothing with `fresh`.
    pub fn begin(target: &Path, fresh: bool) -> Result<DbWriter> {
        let dir = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|source| DbError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let temp = tempfile::Builder::new()
            .prefix(".advisories-")
            .suffix(".redb.tmp")
            .tempfile_in(dir)
            .map_err(|source| DbError::Io {
                path: dir.to_owned(),
                source,
            })?
            .into_temp_path();
        let mut sources = Vec::new();
        if target.is_file() && !fresh {
            // Validate the old one first: never build on top of a newer schema or a foreign file.
            let old = AdvisoryDb::open(target)?;
            sources = old.status()?.sources;
            drop(old);
            std::fs::copy(target, &temp).map_err(|source| DbError::Io {
                path: temp.to_path_buf(),
                source,
            })?;
        } else {
            std::fs::remove_file(&temp).map_err(|source| DbError::Io {
                path: temp.to_path_buf(),
                source,
            })?;
        }
        // A bounded page cache keeps an import of any size within a fixed memory budget (redb's default
        // cache grows to 1 GiB).
        let db = redb::Builder::new()
            .set_cache_size(WRITER_CACHE_BYTES)
            .create(&temp)
            .map_err(|e| store_err(&temp)(e.into()))?;
        let writer = DbWriter {
            target: target.to_owned(),
            temp,
            db,
            sources,
        };
        writer.put_meta("schema_version", &SCHEMA_VERSION)?;
        Ok(writer)
    }

    fn put_meta<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let err = store_err(&self.temp);
        let bytes = serde_json::to_vec(value).map_err(|e| DbError::NotADatabase {
            path: self.temp.to_path_buf(),
            reason: e.to_string(),
        })?;
        let txn = self.db.begin_write().map_err(|e| err(e.into()))?;
        {
            let mut table = txn.open_table(META).map_err(|e| err(e.into()))?;
            table
                .insert(key, bytes.as_slice())
                .map_err(|e| err(e.into()))?;
        }
        txn.commit().map_err(|e| err(e.into()))?;
        Ok(())
    }

    /// Store records (replacing records with the same id) and index them by package.
    fn store(&self, records: &[(Vulnerability, Vec<u8>)]) -> Result<()> {
        let err = store_err(&self.temp);
        let mut txn = self.db.begin_write().map_err(|e| err(e.into()))?;
        // Batches need not reach the disk one by one: `commit` writes the metadata durably, fsyncs the
        // whole file and only then renames it into place.
        txn.set_durability(redb::Durability::None)
            .map_err(|e| DbError::NotADatabase {
                path: self.temp.to_path_buf(),
                reason: e.to_string(),
            })?;
        {
            let mut vulns = txn.open_table(VULNS).map_err(|e| err(e.into()))?;
            let mut index = txn.open_table(BY_PACKAGE).map_err(|e| err(e.into()))?;
            let mut additions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for (vuln, raw) in records {
                // The same id can arrive from several sources (Alpine's secdb names a CVE once per release
                // branch): keep every `affected` entry, so one source never hides another's ranges.
                let existing = vulns
                    .get(vuln.id.as_str())
                    .map_err(|e| err(e.into()))?
                    .map(|v| v.value().to_vec());
                let merged = existing
                    .and_then(|old| {
                        decode_record(&old)
                            .ok()
                            .and_then(|json| Vulnerability::from_json(&json).ok())
                    })
                    .map(|mut old| {
                        for affected in &vuln.affected {
                            if !old.affected.contains(affected) {
                                old.affected.push(affected.clone());
                            }
                        }
                        old
                    });
                let json = match merged {
                    Some(merged) => serde_json::to_vec(&merged).unwrap_or_else(|_| raw.clone()),
                    None => raw.clone(),
                };
                let stored = encode_record(&json).map_err(|source| DbError::Io {
                    path: self.temp.to_path_buf(),
                    source,
                })?;
                vulns
                    .insert(vuln.id.as_str(), stored.as_slice())
                    .map_err(|e| err(e.into()))?;
                for affected in &vuln.affected {
                    let Some(pkg) = &affected.package else {
                        continue;
                    };
                    if let Some(key) = package_key(&pkg.ecosystem, &pkg.name) {
                        additions.entry(key).or_default().insert(vuln.id.clone());
                    }
                }
            }
            for (key, ids) in additions {
                let mut all: BTreeSet<String> = match index
                    .get(key.as_str())
                    .map_err(|e| err(e.into()))?
                {
                    Some(existing) => serde_json::from_slice(existing.value()).unwrap_or_default(),
                    None => BTreeSet::new(),
                };
                all.extend(ids);
                let bytes = serde_json::to_vec(&all).unwrap_or_default();
                index
                    .insert(key.as_str(), bytes.as_slice())
                    .map_err(|e| err(e.into()))?;
            }
        }
        txn.commit().map_err(|e| err(e.into()))?;
        Ok(())
    }

    /// Import an OSV zip (`all.zip`), a folder of OSV JSON files, or Alpine secdb YAML (a file or a
    /// folder of them). Records that cannot be read are skipped with a diagnostic; the rest import.
    pub fn import(&mut self, path: &Path) -> Result<Vec<ImportDiagnostic>> {
        let read = self.read_and_store(path)?;
        let location = path
            .canonicalize()
            .unwrap_or_else(|_| path.to_owned())
            .display()
            .to_string();
        self.record_source(SourceInfo {
            location,
            kind: read.kind.into(),
            imported_at: now_rfc3339(),
            sha256: read.sha256,
            records: read.records,
            skipped: read.diagnostics.len() as u64,
            etag: None,
            last_modified: None,
            fetched_at: None,
            ecosystem: None,
            archive: None,
        });
        Ok(read.diagnostics)
    }

    /// Import a downloaded OSV zip as the source `origin` describes (its URL, HTTP validators and content
    /// hash); `origin.records`, `skipped` and `imported_at` are filled in here.
    pub fn import_download(
        &mut self,
        archive: &Path,
        mut origin: SourceInfo,
    ) -> Result<Vec<ImportDiagnostic>> {
        let read = self
            .read_and_store(archive)
            .map_err(|source| DbError::Source {
                url: origin.location.clone(),
                source: Box::new(source),
            })?;
        origin.kind = "osv-zip".into();
        origin.imported_at = now_rfc3339();
        origin.records = read.records;
        origin.skipped = read.diagnostics.len() as u64;
        self.record_source(origin);
        Ok(read.diagnostics)
    }

    fn record_source(&mut self, info: SourceInfo) {
        self.sources.retain(|s| s.location != info.location);
        self.sources.push(info);
    }

    /// The sources the database will list once committed.
    pub fn sources(&self) -> &[SourceInfo] {
        &self.sources
    }

    /// Read every record of `path` and store them in batches, so memory stays bounded by the batch, not by
    /// the size of the archive.
    fn read_and_store(&self, path: &Path) -> Result<ReadSummary> {
        let io = |source| DbError::Io {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(io)?;
        let mut batch = Batch {
            writer: self,
            records: Vec::new(),
            diagnostics: Vec::new(),
            stored: 0,
        };
        let mut hasher = Sha256::new();
        let kind;
        if meta.is_dir() {
            let mut files = Vec::new();
            collect_files(path, &mut files).map_err(io)?;
            files.sort();
            let secdb: Vec<_> = files
                .iter()
                .filter(|f| has_ext(f, &["yaml", "yml"]))
                .cloned()
                .collect();
            let json: Vec<_> = files
                .iter()
                .filter(|f| has_ext(f, &["json"]))
                .cloned()
                .collect();
            if json.is_empty() && secdb.is_empty() {
                return Err(DbError::NothingToImport {
                    path: path.to_owned(),
                });
            }
            kind = if json.is_empty() {
                "alpine-secdb"
            } else {
                "osv-dir"
            };
            for file in json {
                let bytes = read_bounded(&file)?;
                hasher.update(file.to_string_lossy().as_bytes());
                hasher.update(&bytes);
                batch.push(&file.display().to_string(), bytes)?;
            }
            for file in secdb {
                let bytes = read_bounded(&file)?;
                hasher.update(&bytes);
                import_secdb(&file, &bytes, &mut batch.records, &mut batch.diagnostics)?;
                batch.flush_if_full()?;
            }
        } else if has_ext(path, &["yaml", "yml"]) {
            kind = "alpine-secdb";
            let bytes = read_bounded(path)?;
            hasher.update(&bytes);
            import_secdb(path, &bytes, &mut batch.records, &mut batch.diagnostics)?;
        } else {
            kind = "osv-zip";
            let file = std::fs::File::open(path).map_err(io)?;
            let mut archive =
                zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|source| {
                    DbError::Zip {
                        path: path.to_owned(),
                        source,
                    }
                })?;
            for i in 0..archive.len() {
                let mut member = archive.by_index(i).map_err(|source| DbError::Zip {
                    path: path.to_owned(),
                    source,
                })?;
                let member_name = member.name().map(|n| n.into_owned()).unwrap_or_default();
                if !member.is_file() || !member_name.ends_with(".json") {
                    continue;
                }
                let name = format!("{}!{member_name}", path.display());
                if member.size() > MAX_RECORD_BYTES {
                    batch.diagnostics.push(ImportDiagnostic {
                        file: name,
                        id: None,
                        message: "record too large".into(),
                    });
                    continue;
                }
                let mut bytes = Vec::with_capacity(member.size() as usize);
                if let Err(e) = (&mut member).take(MAX_RECORD_BYTES).read_to_end(&mut bytes) {
                    // A corrupt member (bad CRC, truncated) fails the whole import: the archive is damaged.
                    return Err(DbError::Io {
                        path: PathBuf::from(name),
                        source: e,
                    });
                }
                hasher.update(&bytes);
                batch.push(&name, bytes)?;
            }
        }
        batch.flush()?;
        Ok(ReadSummary {
            kind,
            sha256: hex::encode(hasher.finalize()),
            records: batch.stored,
            diagnostics: batch.diagnostics,
        })
    }

    /// Make the new database the live one: fsync, then rename over the old file.
    pub fn commit(self) -> Result<PathBuf> {
        self.put_meta("sources", &self.sources)?;
        self.put_meta("updated_at", &now_rfc3339())?;
        let DbWriter {
            target, temp, db, ..
        } = self;
        drop(db);
        let file = std::fs::File::open(&temp).map_err(|source| DbError::Io {
            path: temp.to_path_buf(),
            source,
        })?;
        file.sync_all().map_err(|source| DbError::Io {
            path: temp.to_path_buf(),
            source,
        })?;
        temp.persist(&target).map_err(|e| DbError::Io {
            path: target.clone(),
            source: e.error,
        })?;
        Ok(target)
    }
}

/// zstd frames start with this; stored JSON (schema 1) starts with `{`.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Records are stored zstd-compressed (schema 2): OSV JSON shrinks about 3x, and decompressing a record is
/// cheaper than parsing it.
fn encode_record(json: &[u8]) -> std::io::Result<Vec<u8>> {
    zstd::bulk::compress(json, 3)
}

fn decode_record(stored: &[u8]) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
    decode_record_with(&mut zstd::bulk::Decompressor::new()?, stored)
}

/// Decode with a reusable decompression context; the output buffer is sized from the frame header
/// (bounded by [`MAX_RECORD_BYTES`]), not allocated at the maximum for every record.
fn decode_record_with<'a>(
    decompressor: &mut zstd::bulk::Decompressor<'_>,
    stored: &'a [u8],
) -> std::io::Result<std::borrow::Cow<'a, [u8]>> {
    if !stored.starts_with(&ZSTD_MAGIC) {
        return Ok(std::borrow::Cow::Borrowed(stored));
    }
    let size = zstd::zstd_safe::get_frame_content_size(stored)
        .ok()
        .flatten()
        .filter(|&n| n <= MAX_RECORD_BYTES)
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "compressed record without a valid content size",
            )
        })?;
    decompressor
        .decompress(stored, size as usize)
        .map(std::borrow::Cow::Owned)
}

/// Records read but not yet stored: at most [`BATCH_RECORDS`] of them are held in memory.
const BATCH_RECORDS: usize = 2_000;

struct ReadSummary {
    kind: &'static str,
    sha256: String,
    records: u64,
    diagnostics: Vec<ImportDiagnostic>,
}

struct Batch<'w> {
    writer: &'w DbWriter,
    records: Vec<(Vulnerability, Vec<u8>)>,
    diagnostics: Vec<ImportDiagnostic>,
    stored: u64,
}

impl Batch<'_> {
    fn push(&mut self, file: &str, bytes: Vec<u8>) -> Result<()> {
        push_record(file, bytes, &mut self.records, &mut self.diagnostics);
        self.flush_if_full()
    }

    fn flush_if_full(&mut self) -> Result<()> {
        if self.records.len() >= BATCH_RECORDS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if !self.records.is_empty() {
            self.writer.store(&self.records)?;
            self.stored += self.records.len() as u64;
            self.records.clear();
        }
        Ok(())
    }
}

fn push_record(
    file: &str,
    bytes: Vec<u8>,
    records: &mut Vec<(Vulnerability, Vec<u8>)>,
    diagnostics: &mut Vec<ImportDiagnostic>,
) {
    match Vulnerability::from_json(&bytes) {
        Ok(vuln) if vuln.is_withdrawn() => diagnostics.push(ImportDiagnostic {
            file: file.into(),
            id: Some(vuln.id),
            message: "withdrawn; skipped".into(),
        }),
        Ok(vuln) => records.push((vuln, bytes)),
        Err(e) => {
            let id = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_owned));
            diagnostics.push(ImportDiagnostic {
                file: file.into(),
                id,
                message: format!("malformed OSV record: {e}"),
            });
        }
    }
}

fn import_secdb(
    path: &Path,
    bytes: &[u8],
    records: &mut Vec<(Vulnerability, Vec<u8>)>,
    diagnostics: &mut Vec<ImportDiagnostic>,
) -> Result<()> {
    let text = String::from_utf8_lossy(bytes);
    let origin = path.display().to_string();
    let (secdb, notes) =
        sealwatch_advisory::secdb::parse(&origin, &text).map_err(|source| DbError::Advisory {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
    for note in notes {
        diagnostics.push(ImportDiagnostic {
            file: format!("{}:{}:{}", origin, note.line, note.column),
            id: None,
            message: note.message,
        });
    }
    for vuln in secdb.to_osv() {
        let raw = serde_json::to_vec(&vuln).unwrap_or_default();
        records.push((vuln, raw));
    }
    Ok(())
}

fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    let io = |source| DbError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_RECORD_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_RECORD_BYTES {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "file larger than 16 MiB",
        )));
    }
    Ok(bytes)
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            collect_files(&entry.path(), out)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

fn has_ext(path: &Path, exts: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

pub(crate) fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn osv(id: &str, eco: &str, name: &str, fixed: &str) -> String {
        format!(
            r#"{{"id":"{id}","modified":"2024-01-01T00:00:00Z","affected":[{{"package":{{"ecosystem":"{eco}","name":"{name}"}},"ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#
        )
    }

    #[test]
    fn imports_a_folder_skipping_bad_records_and_looks_up_by_package() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("osv");
        std::fs::create_dir_all(&src).expect("mkdir");
        std::fs::write(
            src.join("a.json"),
            osv("PYSEC-1", "PyPI", "Django", "4.2.1"),
        )
        .expect("write");
        std::fs::write(
            src.join("b.json"),
            osv("GHSA-x", "npm", "lodash", "4.17.21"),
        )
        .expect("write");
        std::fs::write(
            src.join("bad.json"),
            r#"{"id":"BROKEN-1","affected":"nope"}"#,
        )
        .expect("write");
        let db_path = dir.path().join("db/advisories.redb");

        let mut writer = DbWriter::begin(&db_path, false).expect("begin");
        let diags = writer.import(&src).expect("import");
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].id.as_deref(), Some("BROKEN-1"));
        assert!(diags[0].file.ends_with("bad.json"));
        writer.commit().expect("commit");

        let db = AdvisoryDb::open(&db_path).expect("open");
        // PyPI names compare normalised (PEP 503).
        let found = db.lookup("PyPI", "django").expect("lookup");
        assert_eq!(
            found.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
            ["PYSEC-1"]
        );
        assert!(
            db.lookup("npm", "Lodash").expect("lookup").is_empty(),
            "npm names are case-sensitive"
        );
        assert_eq!(db.lookup("npm", "lodash").expect("lookup").len(), 1);
        let status = db.status().expect("status");
        assert_eq!((status.records, status.sources.len()), (2, 1));
        assert_eq!(status.sources[0].skipped, 1);
    }

    #[test]
    fn a_dropped_writer_leaves_the_live_database_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("one.json");
        std::fs::write(&src, osv("A-1", "Go", "example.com/m", "1.2.3")).expect("write");
        let dir_src = dir.path().join("src");
        std::fs::create_dir_all(&dir_src).expect("mkdir");
        std::fs::rename(&src, dir_src.join("one.json")).expect("move");
        let db_path = dir.path().join("advisories.redb");
        let mut w = DbWriter::begin(&db_path, false).expect("begin");
        w.import(&dir_src).expect("import");
        w.commit().expect("commit");
        let before = AdvisoryDb::open(&db_path)
            .expect("open")
            .status()
            .expect("status");

        std::fs::write(
            dir_src.join("two.json"),
            osv("A-2", "Go", "example.com/m", "1.3.0"),
        )
        .expect("write");
        let mut w = DbWriter::begin(&db_path, false).expect("begin");
        w.import(&dir_src).expect("import");
        drop(w); // killed before commit
                 // (redb rewrites its header when a file is opened, so compare contents, not bytes.)
        let after = AdvisoryDb::open(&db_path)
            .expect("open")
            .status()
            .expect("status");
        assert_eq!(
            (after.records, after.updated_at, after.sources),
            (before.records, before.updated_at, before.sources)
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("read_dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary copy removed");
        assert_eq!(
            AdvisoryDb::open(&db_path)
                .expect("open")
                .lookup("Go", "example.com/m")
                .expect("lookup")
                .len(),
            1
        );
    }

    #[test]
    fn refuses_a_newer_schema_and_foreign_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db_path = dir.path().join("advisories.redb");
        let w = DbWriter::begin(&db_path, false).expect("begin");
        w.put_meta("schema_version", &(SCHEMA_VERSION + 1))
            .expect("meta");
        w.commit().expect("commit");
        let err = AdvisoryDb::open(&db_path).err().expect("refused");
        assert!(
            matches!(err, DbError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1),
            "{err}"
        );

        let junk = dir.path().join("junk.redb");
        std::fs::write(&junk, b"not a database at all").expect("write");
        assert!(matches!(
            AdvisoryDb::open(&junk),
            Err(DbError::NotADatabase { .. })
        ));
        assert!(matches!(
            AdvisoryDb::open(&dir.path().join("none.redb")),
            Err(DbError::Missing { .. })
        ));
    }

    #[test]
    fn records_are_stored_compressed_and_schema_1_plain_records_still_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let src = dir.path().join("osv");
        std::fs::create_dir_all(&src).expect("mkdir");
        let json = osv("GHSA-z", "npm", "lodash", "4.17.21");
        std::fs::write(src.join("a.json"), &json).expect("write");
        let new_db = dir.path().join("new.redb");
        let mut w = DbWriter::begin(&new_db, false).expect("begin");
        w.import(&src).expect("import");
        w.commit().expect("commit");
        let stored = {
            let db = ReadOnlyDatabase::open(&new_db).expect("open");
            let txn = db.begin_read().expect("txn");
            let table = txn.open_table(VULNS).expect("table");
            let value = table.get("GHSA-z").expect("get").expect("present");
            value.value().to_vec()
        };
        assert!(stored.starts_with(&ZSTD_MAGIC), "stored compressed");

        // A schema 1 database: the same record as plain JSON.
        let old_db = dir.path().join("old.redb");
        {
            let db = Database::create(&old_db).expect("create");
            let txn = db.begin_write().expect("txn");
            {
                let mut meta = txn.open_table(META).expect("meta");
                meta.insert("schema_version", b"1".as_slice())
                    .expect("insert");
                let mut vulns = txn.open_table(VULNS).expect("vulns");
                vulns.insert("GHSA-z", json.as_bytes()).expect("insert");
                let mut index = txn.open_table(BY_PACKAGE).expect("index");
                index
                    .insert("npm\0lodash", br#"["GHSA-z"]"#.as_slice())
                    .expect("insert");
            }
            txn.commit().expect("commit");
        }
        for path in [&new_db, &old_db] {
            let found = AdvisoryDb::open(path)
                .expect("open")
                .lookup("npm", "lodash")
                .expect("lookup");
            assert_eq!(found.len(), 1, "{}", path.display());
            assert_eq!(found[0].id, "GHSA-z");
        }
    }

    #[test]
    fn a_corrupt_zip_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let zip_path = dir.path().join("all.zip");
        std::fs::write(&zip_path, b"PK\x03\x04 this is not really a zip").expect("write");
        let mut w = DbWriter::begin(&dir.path().join("db.redb"), false).expect("begin");
        let err = w.import(&zip_path).expect_err("corrupt zip refused");
        assert!(err.to_string().contains("all.zip"), "{err}");
    }

    #[test]
    fn imports_the_real_alpine_secdb() {
        let Some(secdb) = sealwatch_test::require_shared("fixtures/advisories/alpine-secdb/v3.10")
        else {
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let db_path = dir.path().join("advisories.redb");
        let mut w = DbWriter::begin(&db_path, false).expect("begin");
        w.import(&secdb).expect("import secdb");
        w.commit().expect("commit");
        let db = AdvisoryDb::open(&db_path).expect("open");
        let status = db.status().expect("status");
        assert!(status.records > 100, "{status:?}");
        assert_eq!(status.sources[0].kind, "alpine-secdb");
        // musl is in main.yaml of every Alpine release of the time.
        assert!(!db
            .lookup("Alpine:v3.10", "musl")
            .expect("lookup")
            .is_empty());
    }
}

//! `sealwatch db update|import|status|push|pull`: manage the vulnerability database.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sealwatch_db::update::{self, UpdateSource};
use sealwatch_db::{AdvisoryDb, DbWriter};
use sealwatch_oci::Reference;

use crate::image::RegistryArgs;

#[derive(Debug, Args)]
pub struct DbArgs {
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Debug, Subcommand)]
enum DbCommand {
    /// Download OSV's per-ecosystem `all.zip` archives and rebuild the database from them. Conditional
    /// requests: an unchanged archive is not downloaded again, and when nothing changed nothing is
    /// rewritten. The new database replaces the old one atomically once complete.
    Update {
        #[command(flatten)]
        sources: SourceArgs,
        #[command(flatten)]
        db: DbPath,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Publish the database as an OCI artifact (`application/vnd.sealwatch.db.v1`) at REGISTRY/REPO:TAG.
    Push {
        /// Where to publish, e.g. `registry.example.com/security/sealwatch-db:latest`.
        reference: String,
        #[command(flatten)]
        db: DbPath,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Fetch a database published with `db push`, verify it and install it atomically.
    Pull {
        /// The artifact, e.g. `registry.example.com/security/sealwatch-db:latest`.
        reference: String,
        #[command(flatten)]
        db: DbPath,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Import advisories: an OSV zip (e.g. an ecosystem's `all.zip`), a folder of OSV JSON records, or Alpine
    /// secdb YAML (a file or a folder). Unreadable records are skipped and reported; the rest import.
    /// The database is replaced atomically: until the import completes the old one stays in use.
    Import {
        /// Files or folders to import, in order.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        db: DbPath,
        /// Start from an empty database instead of adding to the current one.
        #[arg(long)]
        fresh: bool,
    },
    /// Show the database's sources, record counts and ages.
    Status {
        #[command(flatten)]
        db: DbPath,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Where `db update` (and a scan's first download) fetch from.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Base URL of an OSV mirror: `<URL>/<Ecosystem>/all.zip` is fetched for each ecosystem.
    #[arg(long, value_name = "URL", env = "SEALWATCH_DB_BASE_URL", default_value = update::DEFAULT_BASE_URL)]
    pub base_url: String,
    /// Ecosystems to fetch, comma-separated OSV names (default: Alpine, Debian, Ubuntu, Red Hat, Rocky
    /// Linux, AlmaLinux, SUSE, PyPI, npm, Go, crates.io, Maven, RubyGems, NuGet, Packagist).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        env = "SEALWATCH_DB_ECOSYSTEMS"
    )]
    pub ecosystems: Vec<String>,
    /// Fetch one ecosystem from its own URL (repeatable), e.g. `--source Debian=https://mirror/debian.zip`.
    #[arg(long = "source", value_name = "ECOSYSTEM=URL")]
    pub sources: Vec<String>,
}

impl SourceArgs {
    pub fn resolve(&self) -> anyhow::Result<Vec<UpdateSource>> {
        let ecosystems: Vec<String> = if self.ecosystems.is_empty() {
            update::DEFAULT_ECOSYSTEMS
                .iter()
                .map(|e| (*e).to_owned())
                .collect()
        } else {
            self.ecosystems
                .iter()
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty())
                .collect()
        };
        let overrides = self
            .sources
            .iter()
            .map(|s| match s.split_once('=') {
                Some((eco, url)) if !eco.is_empty() && !url.is_empty() => {
                    Ok((eco.to_owned(), url.to_owned()))
                }
                _ => bail!("--source {s:?}: expected ECOSYSTEM=URL"),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(update::sources(&self.base_url, &ecosystems, &overrides)?)
    }
}

/// Where the database lives.
#[derive(Debug, Args)]
pub struct DbPath {
    /// Database file (default: ~/.cache/sealwatch/db/advisories.redb).
    #[arg(long = "db", value_name = "PATH", env = "SEALWATCH_DB")]
    pub path: Option<PathBuf>,
}

impl DbPath {
    pub fn resolve(&self) -> anyhow::Result<PathBuf> {
        match &self.path {
            Some(p) => Ok(p.clone()),
            None => {
                sealwatch_db::default_path().context("no cache folder (HOME unset); give --db PATH")
            }
        }
    }
}

pub fn run(args: DbArgs) -> anyhow::Result<u8> {
    match args.command {
        DbCommand::Update { sources, db, quiet } => {
            let target = db.resolve()?;
            let sources = sources.resolve()?;
            run_update(&target, &sources, quiet)?;
            Ok(0)
        }
        DbCommand::Push {
            reference,
            db,
            registry,
        } => {
            let reference: Reference = reference.parse()?;
            let client = registry.client()?;
            let published = sealwatch_db::artifact::push(&client, &db.resolve()?, &reference)?;
            println!(
                "pushed {} ({} bytes, schema {}) as {}@{}",
                published.layer_digest,
                published.size,
                published.schema_version,
                published.reference,
                published.manifest_digest
            );
            Ok(0)
        }
        DbCommand::Pull {
            reference,
            db,
            registry,
        } => {
            let reference: Reference = reference.parse()?;
            let client = registry.client()?;
            let target = db.resolve()?;
            let pulled = sealwatch_db::artifact::pull(&client, &reference, &target)?;
            let status = AdvisoryDb::open(&target)?.status()?;
            println!(
                "pulled {}@{} into {}: {} advisories, built {}",
                pulled.reference,
                pulled.manifest_digest,
                target.display(),
                status.records,
                pulled.created.as_deref().unwrap_or("-")
            );
            Ok(0)
        }
        DbCommand::Import { paths, db, fresh } => {
            let target = db.resolve()?;
            let mut writer = DbWriter::begin(&target, fresh)?;
            for path in &paths {
                let diagnostics = writer.import(path)?;
                for d in &diagnostics {
                    eprintln!("warning: {d}");
                }
                eprintln!(
                    "imported {} ({} skipped)",
                    path.display(),
                    diagnostics.len()
                );
            }
            let target = writer.commit()?;
            let status = AdvisoryDb::open(&target)?.status()?;
            println!(
                "{}: {} advisories for {} packages",
                target.display(),
                status.records,
                status.packages
            );
            Ok(0)
        }
        DbCommand::Status { db, json } => {
            let status = AdvisoryDb::open(&db.resolve()?)?.status()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                println!("Database:  {}", status.path.display());
                println!("Schema:    {}", status.schema_version);
                println!("Updated:   {}", status.updated_at.as_deref().unwrap_or("-"));
                println!(
                    "Records:   {} advisories, {} package keys",
                    status.records, status.packages
                );
                let db_path = status.path.clone();
                if let Some(when) = update::last_refreshed(&db_path, &status) {
                    println!("Refreshed: {} ({} ago)", rfc3339(when), human_age(when));
                }
                for s in &status.sources {
                    println!(
                        "Source:    {} ({}) imported {} — {} records, {} skipped, sha256 {}",
                        s.location, s.kind, s.imported_at, s.records, s.skipped, s.sha256
                    );
                    if let Some(fetched) = &s.fetched_at {
                        println!(
                            "           downloaded {fetched}; ETag {}, Last-Modified {}",
                            s.etag.as_deref().unwrap_or("-"),
                            s.last_modified.as_deref().unwrap_or("-")
                        );
                    }
                }
            }
            Ok(0)
        }
    }
}

/// Run an update with progress output on standard error, and report what it did.
pub fn run_update(target: &Path, sources: &[UpdateSource], quiet: bool) -> anyhow::Result<()> {
    let progress = BarProgress::new(quiet);
    let report = update::update(target, sources, &progress)
        .with_context(|| format!("updating the vulnerability database {}", target.display()))?;
    for d in &report.diagnostics {
        eprintln!("warning: {d}");
    }
    if !quiet {
        if report.rebuilt {
            let status = AdvisoryDb::open(target)?.status()?;
            eprintln!(
                "{}: {} advisories for {} packages ({} sources changed, {} unchanged)",
                target.display(),
                status.records,
                status.packages,
                report.changed.len(),
                report.unchanged.len()
            );
        } else {
            eprintln!(
                "{}: up to date ({} sources not modified)",
                target.display(),
                report.unchanged.len()
            );
        }
    }
    Ok(())
}

/// A progress bar on a terminal; one line per source otherwise; nothing with `--quiet`.
struct BarProgress {
    quiet: bool,
    terminal: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl BarProgress {
    fn new(quiet: bool) -> Self {
        BarProgress {
            quiet,
            terminal: std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }

    fn bar(&self) -> std::sync::MutexGuard<'_, Option<ProgressBar>> {
        self.bar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl update::Progress for BarProgress {
    fn start(&self, url: &str, total: Option<u64>) {
        if self.quiet || !self.terminal {
            return;
        }
        let bar = match total {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr())
                .with_style(
                    ProgressStyle::with_template(
                        "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{spinner} {msg} {bytes} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        bar.set_message(url.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        if let Some(old) = self.bar().replace(bar) {
            old.finish_and_clear();
        }
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = self.bar().as_ref() {
            bar.inc(bytes);
        }
    }

    fn finish(&self, url: &str, outcome: &str) {
        if let Some(bar) = self.bar().take() {
            bar.finish_and_clear();
        }
        if !self.quiet {
            eprintln!("{outcome}: {url}");
        }
    }
}

/// Make sure a scan has a database: download one when there is none (unless offline), refresh one older
/// than `max_age` from the sources it was built from (offline: warn only).
pub fn prepare_for_scan(
    db_path: &Path,
    offline: bool,
    max_age: Duration,
    quiet: bool,
) -> anyhow::Result<()> {
    if !db_path.exists() {
        if offline {
            bail!(
                "no vulnerability database at {} and --offline forbids downloading one. Get one with \
                 `sealwatch db update` (from OSV or a mirror, on a connected machine), `sealwatch db pull \
                 REGISTRY/REPO:TAG` (a database published with `db push`), or `sealwatch db import PATH` \
                 (an OSV all.zip, a folder of OSV records, or Alpine secdb files)",
                db_path.display()
            );
        }
        let sources = SourceArgs {
            base_url: std::env::var("SEALWATCH_DB_BASE_URL")
                .unwrap_or_else(|_| update::DEFAULT_BASE_URL.to_owned()),
            ecosystems: std::env::var("SEALWATCH_DB_ECOSYSTEMS")
                .map(|v| v.split(',').map(str::to_owned).collect())
                .unwrap_or_default(),
            sources: Vec::new(),
        }
        .resolve()?;
        if !quiet {
            eprintln!(
                "no vulnerability database at {}: downloading it ({} sources)",
                db_path.display(),
                sources.len()
            );
        }
        return run_update(db_path, &sources, quiet);
    }
    // An unreadable database is reported by the scan itself when it opens it.
    let Ok(status) = AdvisoryDb::open(db_path).and_then(|db| db.status()) else {
        return Ok(());
    };
    let Some(refreshed) = update::last_refreshed(db_path, &status) else {
        return Ok(());
    };
    let age = time::OffsetDateTime::now_utc() - refreshed;
    if age <= time::Duration::try_from(max_age).unwrap_or(time::Duration::MAX) {
        return Ok(());
    }
    let sources = update::recorded_sources(&status);
    if offline {
        eprintln!(
            "warning: the vulnerability database {} is {} old (more than --db-max-age); --offline, so it \
             is used as it is. Refresh it with `sealwatch db update` or `sealwatch db pull`",
            db_path.display(),
            human_age(refreshed)
        );
    } else if sources.is_empty() {
        eprintln!(
            "warning: the vulnerability database {} is {} old and was built from local imports, which \
             sealwatch cannot refresh by itself; import newer data or run `sealwatch db update`",
            db_path.display(),
            human_age(refreshed)
        );
    } else if let Err(e) = run_update(db_path, &sources, quiet) {
        // The old database is intact and readable: scan with it, but say so.
        eprintln!(
            "warning: {e:#}; scanning with the database from {}",
            rfc3339(refreshed)
        );
    }
    Ok(())
}

/// Parse an age like `24h`, `90m`, `7d`, `3600s` (a bare number is seconds).
pub fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number with s, m, h or d, e.g. 24h"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use s, m, h or d)"
            ))
        }
    };
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

fn rfc3339(when: time::OffsetDateTime) -> String {
    when.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn human_age(when: time::OffsetDateTime) -> String {
    let secs = (time::OffsetDateTime::now_utc() - when)
        .whole_seconds()
        .max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse_with_units() {
        let check = |text: &str, secs: Option<u64>| {
            assert_eq!(parse_age(text).ok().map(|d| d.as_secs()), secs, "{text}");
        };
        check("24h", Some(86_400));
        check("90m", Some(5_400));
        check("7d", Some(604_800));
        check("30", Some(30));
        check("0s", Some(0));
        check("h", None);
        check("5w", None);
        check("-1h", None);
    }
}
